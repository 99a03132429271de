"""Chapter 3 figures: labelled, white, drawing what they are given; errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import srmlib
from srmlib.plotting.activations import (
    alignment_animation,
    plot_alignment_over_training,
    plot_basis_preference,
    plot_digit_grid,
)
from tests.figure_checks import assert_labelled


def test_basis_preference_bars():
    z = {"tanh": {"standard": 8.0, "rotated": 0.5}, "identity": {"standard": -0.3, "rotated": 1.0}}
    ax = plot_basis_preference(z, threshold=4)
    assert_labelled(ax, angle_axis=False)
    heights = sorted(p.get_height() for p in ax.patches if p.get_width() < 1)
    assert heights == sorted([8.0, 0.5, -0.3, 1.0])
    with pytest.raises(ValueError, match="same bases"):
        plot_basis_preference({"a": {"x": 1}, "b": {"y": 2}})
    with pytest.raises(TypeError):
        plot_basis_preference({})


def test_alignment_over_training_lines():
    ax = plot_alignment_over_training([0, 5, 10], {"a": [1, 2, 3], "b": [1, 1, 1]})
    assert_labelled(ax, angle_axis=False)
    assert len(ax.lines) == 2
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [1, 2, 3])
    with pytest.raises(ValueError, match="shape"):
        plot_alignment_over_training([0, 5], {"a": [1, 2, 3]})


def test_alignment_over_training_threshold_band():
    ax = plot_alignment_over_training([0, 5], {"a": [-1, 6]}, threshold=4)
    band = [p for p in ax.patches if p.get_label() == "|z| < 4"]
    assert len(band) == 1
    extent = band[0].get_extents().transformed(ax.transData.inverted())
    assert extent.y0 == pytest.approx(-4) and extent.y1 == pytest.approx(4)
    with pytest.raises(ValueError, match="threshold"):
        plot_alignment_over_training([0, 5], {"a": [1, 2]}, threshold=0)


def test_digit_grid_places_every_image():
    images = np.eye(4)[:3].reshape(3, 4)  # 2x2 images, one lit pixel each
    ax = plot_digit_grid(images, (2, 2), n_columns=2)
    assert_labelled(ax, angle_axis=False)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * 3 + 1, 2 * 3 + 1) and canvas.sum() == 3
    with pytest.raises(ValueError, match="shape"):
        plot_digit_grid(images, (3, 3))


def test_alignment_animation_is_an_offline_player():
    x = srmlib.data.tanh_gaussian(500, 4, 0)
    frames = [{"tanh": srmlib.spotlight_resonance(x * s, epsilon=0.8, resolution=16)}
              for s in (0.5, 1.0)]
    html = alignment_animation(frames, [0, 10]).data
    assert "<img" in html and "font-awesome" not in html
    with pytest.raises(ValueError, match="frames"):
        alignment_animation(frames, [0])
    with pytest.raises(TypeError):
        alignment_animation([{"a": 1}], [0])
