"""Toy-model figures (chapter 4): titles, labels, white backgrounds, and errors for bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from srmlib import exercises, plotting, toy
from tests.figure_checks import assert_labelled

PENTAGON = np.c_[np.cos(2 * np.pi * np.arange(5) / 5), np.sin(2 * np.pi * np.arange(5) / 5)]



def test_feature_arrangement_draws_one_line_per_feature():
    ax = plotting.plot_feature_arrangement(PENTAGON, importance=0.9 ** np.arange(5))
    assert_labelled(ax, angle_axis=False)
    assert len(ax.lines) == 5
    np.testing.assert_allclose(ax.lines[2].get_xydata()[-1], PENTAGON[2])
    assert ax.get_aspect() == 1.0
    plt.close("all")


def test_feature_arrangement_on_given_axes_and_errors():
    fig, ax = plt.subplots()
    assert plotting.plot_feature_arrangement(PENTAGON, ax, title="mine") is ax
    assert ax.get_title() == "mine"
    with pytest.raises(ValueError, match="two hidden dimensions"):
        plotting.plot_feature_arrangement(np.eye(3))
    with pytest.raises(ValueError, match="importance"):
        plotting.plot_feature_arrangement(PENTAGON, importance=[1, 2])
    plt.close("all")


def test_gram_matrix_heatmap_is_symmetric_around_zero():
    ax = plotting.plot_gram_matrix(PENTAGON)
    assert_labelled(ax, angle_axis=False)
    image = ax.images[0]
    np.testing.assert_allclose(image.get_array(), toy.gram_matrix(PENTAGON))
    low, high = image.get_clim()
    assert low == pytest.approx(-high)
    plt.close("all")


def test_dimensionality_scatter_and_reference_lines():
    p = np.array([0.5, 0.1])
    dims = np.array([[1.0, 0.5, 0.0], [0.4, 0.4, 0.4]])
    ax = plotting.plot_feature_dimensionality(p, dims, fractions=(1.0, 0.5, 0.4))
    assert_labelled(ax, angle_axis=False)
    assert ax.get_xscale() == "log"
    assert len(ax.collections[0].get_offsets()) == 6
    assert len(ax.lines) == 3
    assert "2/5" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="n_instances"):
        plotting.plot_feature_dimensionality(p, dims[:1])
    plt.close("all")


def test_exercise_checks_accept_the_reference_and_reject_mistakes():
    exercises.check_feature_dimensionality(toy.feature_dimensionality)
    exercises.check_interference(toy.interference)

    def unnormalised(d):
        return (d**2).sum(axis=1) / np.maximum(((d @ d.T) ** 2).sum(axis=1), 1e-300)

    with pytest.raises(AssertionError, match="different norms"):
        exercises.check_feature_dimensionality(unnormalised)

    def with_self(d):
        unit = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-300)
        return ((unit @ d.T) ** 2).sum(axis=1)

    with pytest.raises(AssertionError, match="leave out j = i"):
        exercises.check_interference(with_self)
