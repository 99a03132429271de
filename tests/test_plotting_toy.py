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


def test_phase_diagram_colours_each_cell_and_labels_the_phases():
    density, importance = np.array([1.0, 0.1, 0.01]), np.array([0.5, 2.0])
    phases = [["not represented", "superposition", "superposition"],
              ["dedicated dimension", "other", "superposition"]]
    ax = plotting.plot_phase_diagram(density, importance, phases)
    assert_labelled(ax, angle_axis=False)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    mesh = ax.collections[0]
    np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(2, 3),
                                  [[0, 2, 2], [1, 3, 2]])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["not represented", "dedicated dimension", "superposition", "other"]
    plt.close("all")


def test_phase_diagram_errors():
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_phase_diagram([1.0, 0.1], [1.0, 2.0], [["superposition"] * 3] * 2)
    with pytest.raises(ValueError, match="phases must be among"):
        plotting.plot_phase_diagram([1.0, 0.1], [1.0, 2.0], [["kept", "superposition"]] * 2)
    with pytest.raises(ValueError, match="density"):
        plotting.plot_phase_diagram([2.0, 0.1], [1.0, 2.0], [["superposition"] * 2] * 2)
    plt.close("all")


def test_neuron_kinds_plots_the_share_of_each_kind_per_density():
    p = np.array([1.0, 1.0, 0.1, 0.1])
    kinds = np.array([["monosemantic", "monosemantic"], ["monosemantic", "polysemantic"],
                      ["polysemantic", "dead"], ["polysemantic", "polysemantic"]])
    control = np.full(kinds.shape, "polysemantic")
    ax = plotting.plot_neuron_kinds(p, kinds, reference=control)
    assert_labelled(ax, angle_axis=False)
    assert len(ax.lines) == 4  # three kinds and the control
    np.testing.assert_allclose(ax.lines[0].get_xydata(), [[1.0, 0.75], [10.0, 0.0]])
    np.testing.assert_allclose(ax.lines[2].get_xydata()[:, 1], [0.0, 0.25])
    with pytest.raises(ValueError, match="kinds must have shape"):
        plotting.plot_neuron_kinds(p[:2], kinds)
    with pytest.raises(ValueError, match="kinds must be among"):
        plotting.plot_neuron_kinds(p, np.full(kinds.shape, "mixed"))
    with pytest.raises(ValueError, match="reference"):
        plotting.plot_neuron_kinds(p, kinds, reference=control[:2])
    plt.close("all")
