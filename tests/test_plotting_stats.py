"""Chapter 2 figures: error bars, the rotation test's null distribution, relative error."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import srmlib
from srmlib import plotting, stats
from tests.figure_checks import assert_labelled



@pytest.fixture(scope="module")
def result():
    x = np.maximum(np.random.default_rng(0).standard_normal((2000, 4)) - 0.5, 0)
    return srmlib.spotlight_resonance(x[x.any(axis=1)], epsilon=0.7, resolution=24)


@pytest.fixture(scope="module")
def rotation():
    x = np.tanh(2 * np.random.default_rng(1).standard_normal((500, 4)))
    return stats.rotation_test(x, epsilon=0.5, resolution=16, n_rotations=9, seed=0)



def test_error_bars_of_one_plane(result):
    ax = plotting.plot_srm_error_bars(result, (0, 1))
    assert_labelled(ax)
    curve, baseline = ax.lines
    np.testing.assert_allclose(curve.get_ydata()[:-1], result.plane(0, 1))
    np.testing.assert_allclose(baseline.get_ydata(), result.isotropic_baseline)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    low, high = stats.wilson_interval(result.plane(0, 1), result.n_samples)
    assert band.min() == pytest.approx(low.min()) and band.max() == pytest.approx(high.max())
    assert "Wilson" in ax.get_legend().get_texts()[0].get_text()


def test_error_bars_of_the_mean_as_a_ratio(result):
    fig, ax = plt.subplots()
    assert plotting.plot_srm_error_bars(result, ax=ax, ratio=True, title="mine") is ax
    assert ax.get_title() == "mine"
    curve, baseline = ax.lines
    np.testing.assert_allclose(curve.get_ydata()[:-1],
                               result.mean() / result.isotropic_baseline)
    np.testing.assert_allclose(baseline.get_ydata(), 1.0)
    assert "ratio" in ax.get_ylabel()


def test_error_bars_reject_bad_input(result):
    signed = srmlib.spotlight_resonance(np.eye(3) + 0.1, epsilon=0.5, resolution=8, signed=True)
    with pytest.raises(ValueError):
        plotting.plot_srm_error_bars(signed)
    with pytest.raises(TypeError):
        plotting.plot_srm_error_bars(result.values)
    with pytest.raises(TypeError):
        plotting.plot_srm_error_bars(result, plane=(0,))
    with pytest.raises(ValueError):
        plotting.plot_srm_error_bars(result, plane=(0, 9))
    with pytest.raises(ValueError):
        plotting.plot_srm_error_bars(result, confidence=2.0)


def test_null_distribution(rotation):
    ax = plotting.plot_null_distribution(rotation)
    assert_labelled(ax, angle_axis=False)
    assert sum(p.get_height() for p in ax.patches) == rotation.n_rotations
    (observed,) = ax.lines
    np.testing.assert_allclose(observed.get_xdata(), rotation.observed)
    assert f"{rotation.p_value:.3g}" in ax.get_title()
    with pytest.raises(TypeError):
        plotting.plot_null_distribution(rotation.null)
    with pytest.raises(ValueError):
        plotting.plot_null_distribution(rotation, bins=0)


def test_null_distributions_of_several_tests(rotation):
    x = np.random.default_rng(2).standard_normal((500, 4))
    other = stats.rotation_test(x, epsilon=0.5, resolution=16, n_rotations=9, seed=0)
    ax = plotting.plot_null_distribution({"tanh": rotation, "isotropic": other})
    assert_labelled(ax, angle_axis=False)
    observed = [line.get_xdata()[0] for line in ax.lines]
    np.testing.assert_allclose(observed, [rotation.observed, other.observed])
    assert ax.lines[0].get_color() != ax.lines[1].get_color()
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0].startswith("tanh") and texts[1].startswith("isotropic")
    assert f"p = {rotation.p_value:.3g}" in texts[2]
    counts = [patch.get_path().vertices for patch in ax.patches]
    assert len(counts) == 2  # one outlined histogram per test
    alignment = stats.rotation_test(x, epsilon=0.5, statistic="alignment", n_rotations=3)
    with pytest.raises(ValueError, match="share a statistic"):
        plotting.plot_null_distribution({"a": rotation, "b": alignment})
    with pytest.raises(ValueError, match="at least one"):
        plotting.plot_null_distribution({})
    with pytest.raises(TypeError, match="labels"):
        plotting.plot_null_distribution({"a": rotation.null})


def test_relative_error(result):
    ax = plotting.plot_relative_error([2, 8, 64], 1000)
    assert_labelled(ax, angle_axis=False)
    assert len(ax.lines) == 3 and ax.get_yscale() == "log"
    eps = ax.lines[1].get_xdata()
    np.testing.assert_allclose(ax.lines[1].get_ydata(),
                               stats.baseline_relative_error(8, eps, 1000))
    with pytest.raises(ValueError):
        plotting.plot_relative_error([], 1000)
    with pytest.raises(ValueError):
        plotting.plot_relative_error([1], 1000)
    with pytest.raises(ValueError):
        plotting.plot_relative_error([8], 0)


@pytest.mark.parametrize("plane", [(0,), (0.0, 1), (True, 1), "01"])
def test_error_bars_reject_a_plane_that_is_not_two_indices(result, plane):
    with pytest.raises(TypeError, match="plane must be a pair of basis indices"):
        plotting.plot_srm_error_bars(result, plane)
