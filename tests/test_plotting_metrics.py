"""Chapter 6 figures: grouped alignment bars and correlation matrices."""

from __future__ import annotations

import numpy as np
import pytest

from srmlib.plotting.metrics import plot_alignment_bars, plot_correlation_matrix, plot_metric_gains
from tests.figure_checks import assert_labelled


def test_alignment_bars_draw_one_bar_per_series_and_group():
    means = {"Neuron->Neuron": [0.2, 0.3, 0.3], "SAE->SAE": [0.4, 0.7, 0.8]}
    errors = {"Neuron->Neuron": [0.01, np.nan, 0.02], "SAE->SAE": [0.01, 0.02, 0.03]}
    ax = plot_alignment_bars(means, errors, groups=[8, 16, 32], title="semi-matching")
    assert_labelled(ax, angle_axis=False)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.2, 0.3, 0.3, 0.4, 0.7, 0.8])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "16", "32"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(means)
    lefts = [p.get_x() for p in ax.patches]
    assert lefts[0] < lefts[3] < lefts[1]  # series side by side within a group
    assert ax.get_title() == "semi-matching"


def test_alignment_bars_reject_ragged_input():
    with pytest.raises(ValueError, match="one value per group"):
        plot_alignment_bars({"a": [1.0, 2.0]}, groups=[1, 2, 3])
    with pytest.raises(ValueError, match="errors"):
        plot_alignment_bars({"a": [1.0, 2.0]}, {"a": [0.1]}, groups=[1, 2])
    with pytest.raises(ValueError, match="non-empty"):
        plot_alignment_bars({}, groups=[])


def test_correlation_matrix_shows_every_value():
    m = np.array([[0.5, -0.25, 1.0], [0.0, 0.75, -1.0]])
    ax = plot_correlation_matrix(m, row_labels=["n1", "n2"], column_labels=["a", "b", "c"])
    assert_labelled(ax, angle_axis=False)
    np.testing.assert_allclose(ax.images[0].get_array(), m)
    assert [t.get_text() for t in ax.texts] == ["+0.50", "-0.25", "+1.00", "+0.00", "+0.75",
                                                "-1.00"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["n1", "n2"]
    with pytest.raises(ValueError, match="labels"):
        plot_correlation_matrix(m, row_labels=["only one"])
    with pytest.raises(ValueError, match="finite 2-D"):
        plot_correlation_matrix([1.0, 2.0])


def test_metric_gains_draw_one_bar_per_metric_coloured_by_family():
    gains = {"semi-matching": 0.5, "procrustes": 0.4, "mutual knn": -0.05}
    families = {"semi-matching": "units", "procrustes": "geometry", "mutual knn": "neighbours"}
    ax = plot_metric_gains(gains, {"semi-matching": 0.01, "mutual knn": np.nan},
                           families=families, title="gains")
    assert_labelled(ax, angle_axis=False)
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.5, 0.4, -0.05])
    labels = {t.get_position()[1]: t.get_text() for t in ax.get_yticklabels()}
    assert [labels[y] for y in sorted(labels, reverse=True)] == list(gains)  # top to bottom
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["units", "geometry",
                                                                   "neighbours"]
    assert len({p.get_facecolor() for p in ax.patches}) == 3
    with pytest.raises(ValueError, match="non-empty"):
        plot_metric_gains({})
    with pytest.raises(ValueError, match="families"):
        plot_metric_gains({"a": 1.0}, families={"b": "x"})
