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


def test_basis_preference_reference_markers_sit_on_their_bars():
    z = {"tanh": {"Adam": 8.0, "SGD": 6.0}, "identity": {"Adam": 0.5, "SGD": -1.0}}
    untrained = {"tanh": {"Adam": 4.0, "SGD": 4.0}, "identity": {"Adam": 0.1, "SGD": 0.1}}
    ax = plot_basis_preference(z, reference=untrained, group_label="optimiser")
    assert_labelled(ax, angle_axis=False)
    bars = [p for p in ax.patches if p.get_width() < 1]
    markers = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    centres = sorted((round(b.get_x() + b.get_width() / 2, 6), b.get_height()) for b in bars)
    expected = {(0.0 - 0.2, 8.0): 4.0, (0.0 + 0.2, 6.0): 4.0, (1.0 - 0.2, 0.5): 0.1,
                (1.0 + 0.2, -1.0): 0.1}
    for (x, height), (mx, my) in zip(centres, sorted(map(tuple, markers))):
        assert mx == pytest.approx(x) and my == pytest.approx(expected[round(x, 6), height])
    assert "untrained" in [t.get_text() for t in ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="reference"):
        plot_basis_preference(z, reference={"tanh": {"Adam": 1.0, "SGD": 1.0}})


def test_basis_preference_leaves_out_what_was_not_tested():
    z = {"tanh": {"standard": 8.0, "rotated": 0.5}, "relu": {"standard": 3.0, "rotated": np.nan}}
    reference = {"tanh": {"standard": 4.0, "rotated": np.nan},
                 "relu": {"standard": 2.0, "rotated": np.nan}}
    ax = plot_basis_preference(z, reference=reference, threshold=4)
    heights = [p.get_height() for p in ax.patches if p.get_width() < 1]
    assert sorted(h for h in heights if np.isfinite(h)) == [0.5, 3.0, 8.0]
    markers = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    assert sorted(float(y) for y in markers[:, 1] if np.isfinite(y)) == [2.0, 4.0]


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
    with pytest.raises(ValueError, match="title"):
        alignment_animation(frames, [0, 10], title="no placeholder")


def test_alignment_over_training_takes_an_x_label():
    ax = plot_alignment_over_training([0, 50, 100], {"a": [0, 1, 2]}, xlabel="training (%)")
    assert ax.get_xlabel() == "training (%)"


def test_pppm_density_figure():
    import matplotlib.pyplot as plt

    from srmlib.activations import pppm_density
    from srmlib.plotting.activations import plot_pppm_density

    x = np.random.default_rng(0).standard_normal((500, 4))
    ax = plot_pppm_density(pppm_density(x, epsilon=0.5), title="isotropic")
    assert ax.name == "polar" and ax.get_title() == "isotropic" and ax.get_xlabel()
    assert len(ax.collections) == 1
    with pytest.raises(TypeError, match="PPPMDensity"):
        plot_pppm_density(x)
    plt.close("all")
