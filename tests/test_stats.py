"""Binomial error bars and the rotation test: closed forms, Monte Carlo, exactness, validation."""

from __future__ import annotations

import numpy as np
import pytest

import srmlib
from srmlib import data, stats


@pytest.fixture(scope="module")
def relu_result():
    x = data.relu_gaussian(3000, 6, seed=0, bias=-1.0)
    return srmlib.spotlight_resonance(x, epsilon=0.7, resolution=24)


# --------------------------------------------------------------------------- error bars


def test_standard_error_closed_form_and_shape(relu_result):
    se = stats.standard_error(relu_result)
    assert se.shape == relu_result.values.shape
    p, n = relu_result.values, relu_result.n_samples
    np.testing.assert_allclose(se, np.sqrt(p * (1 - p) / n))
    assert np.all(se[p == 0] == 0)
    np.testing.assert_allclose(stats.standard_error([0.5, 0.1], n_samples=100), [0.05, 0.03])


def test_difference_margin_is_z_standard_errors_of_each_side():
    a, b = np.array([0.5, 0.2, 0.0]), 0.1
    expected = 3.0 * (np.sqrt(a * (1 - a) / 50) + np.sqrt(b * (1 - b) / 50))
    np.testing.assert_allclose(stats.difference_margin(a, b, 50, z=3.0), expected)
    assert stats.difference_margin(0.5, 0.1, 100) == pytest.approx(4 * (0.05 + 0.03))
    assert stats.difference_margin(1.0, 0.0, 10) == 0.0


def test_difference_margin_covers_correlated_fractions():
    """Two overlapping cones of the same samples: their difference varies within the margin."""
    rng = np.random.default_rng(2)
    n, eps, angles = 300, 0.5, [0.0, 0.4]
    draws = np.array([
        srmlib.spotlight_resonance(rng.standard_normal((n, 3)), epsilon=eps, angles=angles,
                                   planes=[(0, 1)]).values[0]
        for _ in range(400)])
    spread = (draws[:, 0] - draws[:, 1]).std()
    p0 = srmlib.isotropic_expectation(3, eps)
    assert spread < stats.difference_margin(p0, p0, n, z=1.0)  # SE(a - b) <= SE(a) + SE(b)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((1.5, 0.1, 10), {}, ValueError, "a must hold fractions"),
    ((0.5, -0.1, 10), {}, ValueError, "b must hold fractions"),
    ((0.5, 0.1, 0), {}, ValueError, "n_samples must be at least 1"),
    ((0.5, 0.1, 10), {"z": 0.0}, ValueError, "z must be positive"),
])
def test_difference_margin_rejects_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        stats.difference_margin(*args, **kwargs)


def test_standard_error_matches_monte_carlo():
    """The spread of SRM values over independent data sets is the binomial standard error."""
    rng = np.random.default_rng(1)
    n, eps = 400, 0.6
    values = np.array([
        srmlib.spotlight_resonance(rng.standard_normal((n, 4)), epsilon=eps,
                                   angles=[0.0], planes=[(0, 1)]).values[0, 0]
        for _ in range(600)])
    p0 = srmlib.isotropic_expectation(4, eps)
    expected = stats.standard_error(p0, n_samples=n)
    # the sample std of 600 draws is within ~3% of the truth; allow 12%
    assert values.std() == pytest.approx(expected, rel=0.12)
    assert values.mean() == pytest.approx(p0, abs=4 * expected / np.sqrt(600))


def test_wilson_interval_closed_form_and_properties(relu_result):
    low, high = stats.wilson_interval(relu_result)
    p = relu_result.values
    assert low.shape == high.shape == p.shape
    assert np.all((0 <= low) & (low <= p) & (p <= high) & (high <= 1))
    assert np.all(high[p == 0] > 0)  # not empty where nothing was counted
    # the textbook example: 0 of 10 at 95% gives (0, 0.2775)
    lo, hi = stats.wilson_interval(0.0, 10)
    assert float(lo) == 0.0 and float(hi) == pytest.approx(0.27753, abs=1e-5)
    # and it narrows to p +- z SE for large n
    lo, hi = stats.wilson_interval(0.3, 10**7)
    half = 1.959964 * np.sqrt(0.3 * 0.7 / 10**7)
    assert float(hi - lo) == pytest.approx(2 * half, rel=1e-3)


def test_wilson_interval_covers_at_the_nominal_rate():
    rng = np.random.default_rng(2)
    p, n, trials = 0.08, 200, 4000
    fractions = rng.binomial(n, p, trials) / n
    low, high = stats.wilson_interval(fractions, n, confidence=0.9)
    coverage = np.mean((low <= p) & (p <= high))
    assert abs(coverage - 0.9) < 0.03  # ~6 standard errors of the coverage estimate


def test_baseline_relative_error():
    eps = np.array([0.2, 0.5, 0.8])
    rel = stats.baseline_relative_error(8, eps, 1000)
    p0 = srmlib.isotropic_expectation(8, eps)
    np.testing.assert_allclose(rel, np.sqrt((1 - p0) / (1000 * p0)))
    assert np.all(np.diff(rel) > 0)  # narrower cones are noisier
    assert stats.baseline_relative_error(64, 0.5, 1000) > 10 * stats.baseline_relative_error(
        8, 0.5, 1000)  # and higher dimensions at a fixed epsilon
    assert stats.baseline_relative_error(8, 1.0, 10) == np.inf


@pytest.mark.parametrize("bad, error", [
    (dict(result=[0.5, 1.2], n_samples=10), ValueError),
    (dict(result=[0.5], n_samples=None), ValueError),
    (dict(result=[0.5], n_samples=0), ValueError),
    (dict(result=[np.nan], n_samples=10), ValueError),
    (dict(result=[0.5], n_samples=2.5), TypeError),
])
def test_error_bars_reject_bad_input(bad, error):
    with pytest.raises(error):
        stats.standard_error(**bad)


def test_error_bars_reject_signed_results_and_doubled_n(relu_result):
    signed = srmlib.spotlight_resonance(np.eye(3) + 0.1, epsilon=0.5, resolution=8, signed=True)
    with pytest.raises(ValueError, match="unsigned"):
        stats.standard_error(signed)
    with pytest.raises(ValueError, match="n_samples"):
        stats.wilson_interval(relu_result, 100)
    with pytest.raises(ValueError, match="confidence"):
        stats.wilson_interval(relu_result, confidence=1.0)


# --------------------------------------------------------------------------- rotation test


def test_relu_data_are_unusual_in_the_neuron_basis():
    x = data.relu_gaussian(3000, 6, seed=3, bias=-1.0)
    for statistic in ("contrast", "alignment"):
        test = stats.rotation_test(x, epsilon=0.7, resolution=24, n_rotations=19, seed=0,
                                   statistic=statistic)
        assert test.p_value == test.min_p_value == 0.05
        assert test.observed > test.null.max()
        assert test.null.shape == (19,)
        assert test.z_score > 2


def test_rotated_tanh_is_unusual_in_its_own_basis_not_in_the_neurons():
    rotation = srmlib.random_rotation(6, seed=4)
    x = data.rotated_tanh(3000, 6, seed=5, gain=2.0, rotation=rotation)
    eps = srmlib.epsilon_for_isotropic_fraction(6, 0.1)
    own = stats.rotation_test(x, rotation, epsilon=eps, resolution=24, n_rotations=19, seed=0)
    neurons = stats.rotation_test(x, epsilon=eps, resolution=24, n_rotations=19, seed=0)
    assert own.p_value == own.min_p_value
    assert own.z_score > 10
    assert abs(neurons.z_score) < 4
    assert neurons.p_value > own.p_value


def test_p_values_are_uniform_for_isotropic_data():
    """Under the null every basis is exchangeable: p is uniform on {1..N+1}/(N+1)."""
    rng = np.random.default_rng(6)
    n_sets, n_rotations = 120, 9
    p = np.array([stats.rotation_test(rng.standard_normal((200, 4)), epsilon=0.5,
                                      resolution=12, n_rotations=n_rotations,
                                      seed=rng).p_value for _ in range(n_sets)])
    grid = np.arange(1, n_rotations + 2) / (n_rotations + 1)
    assert set(np.round(p, 12)) <= set(np.round(grid, 12))
    assert abs(p.mean() - grid.mean()) < 4 * grid.std() / np.sqrt(n_sets)
    # each of the 10 possible values has probability 1/10: none is hugely over-represented
    counts = np.array([np.sum(np.isclose(p, g)) for g in grid])
    assert counts.max() < n_sets / 10 + 4 * np.sqrt(n_sets * 0.09)


def test_p_value_formula_and_custom_statistic():
    x = data.isotropic_gaussian(500, 4, seed=7)

    def first_value(result):
        return float(result.values[0, 0])

    test = stats.rotation_test(x, epsilon=0.5, resolution=8, n_rotations=30, seed=1,
                               statistic=first_value)
    expected = (1 + np.sum(test.null >= test.observed)) / 31
    assert test.p_value == expected
    assert test.statistic == "first_value"
    assert test.observed == first_value(test.result)


def test_rotation_test_is_reproducible_with_a_seed():
    x = data.tanh_gaussian(800, 5, seed=8)
    kwargs = dict(epsilon=0.5, resolution=16, n_rotations=9)
    a = stats.rotation_test(x, seed=11, **kwargs)
    b = stats.rotation_test(x, seed=11, **kwargs)
    c = stats.rotation_test(x, seed=12, **kwargs)
    np.testing.assert_array_equal(a.null, b.null)
    assert a.p_value == b.p_value and a.observed == b.observed
    assert not np.array_equal(a.null, c.null)
    assert a.observed == c.observed  # the given basis does not depend on the seed


def _null_rotations(monkeypatch, **kwargs):
    """The rotations ``Q`` that ``rotation_test(**kwargs)`` draws for its null."""
    drawn = []

    def recording(n_dims, seed=None):
        q = srmlib.random_rotation(n_dims, seed)
        drawn.append(q)
        return q

    monkeypatch.setattr(stats, "random_rotation", recording)
    stats.rotation_test(**kwargs)
    return drawn


@pytest.mark.parametrize("make_seed", [lambda: 0, lambda: 7, lambda: np.random.default_rng(0)])
def test_null_never_contains_the_basis_drawn_from_the_same_seed(monkeypatch, make_seed):
    """A basis R = random_rotation(d, seed) tested with the same seed: no null rotation Q is R.

    If one were, the null would contain the basis ``R Q^T = I``, the neurons, which is exactly
    the basis tanh data resonate with (chapter 3's rotated-basis null had that bug).
    """
    d = 6
    basis = srmlib.random_rotation(d, make_seed())
    x = data.tanh_gaussian(300, d, seed=1)
    rotations = _null_rotations(monkeypatch, activations=x, basis=basis, epsilon=0.5,
                                resolution=8, n_rotations=20, seed=make_seed())
    assert len(rotations) == 20
    for q in rotations:
        assert not np.allclose(q, basis)
        assert not np.allclose(basis @ q.T, np.eye(d), atol=1e-6)


def test_null_rotations_and_planes_come_from_independent_streams(monkeypatch):
    """The plane subset and the rotations use streams of their own: asking for a plane subset
    does not change the rotations, and the rotations are not the root stream of the seed."""
    x = data.tanh_gaussian(300, 6, seed=1)
    kwargs = dict(activations=x, epsilon=0.5, resolution=8, n_rotations=4, seed=3)
    all_planes = _null_rotations(monkeypatch, **kwargs)
    some_planes = _null_rotations(monkeypatch, max_planes=5, **kwargs)
    for a, b in zip(all_planes, some_planes):
        np.testing.assert_array_equal(a, b)
    root = np.random.default_rng(3)
    assert not any(np.allclose(q, srmlib.random_rotation(6, root)) for q in all_planes)


def test_rotation_test_keeps_the_basis_geometry():
    """A skewed basis is rotated as a whole; its planes and Gram matrix are kept."""
    rng = np.random.default_rng(9)
    basis = np.eye(4) + 0.3 * rng.standard_normal((4, 4))
    x = rng.standard_normal((400, 4))
    test = stats.rotation_test(x, basis, epsilon=0.5, resolution=8, n_rotations=5, seed=0,
                               max_planes=3)
    assert len(test.result.planes) == 3
    assert np.all(np.isfinite(test.null))


@pytest.mark.parametrize("kwargs, error", [
    (dict(statistic="nonsense"), ValueError),
    (dict(n_rotations=0), ValueError),
    (dict(n_rotations=2.5), TypeError),
    (dict(epsilon=1.5), ValueError),
    (dict(statistic="alignment", epsilon=-0.2), ValueError),
    (dict(basis=np.eye(3)), ValueError),
    (dict(resolution=0), ValueError),
])
def test_rotation_test_rejects_bad_input(kwargs, error):
    x = np.random.default_rng(0).standard_normal((50, 4))
    with pytest.raises(error):
        stats.rotation_test(x, **{"epsilon": 0.5, "n_rotations": 3, **kwargs})


def test_rotation_test_rejects_bad_activations():
    with pytest.raises(ValueError):
        stats.rotation_test(np.array([[np.nan, 1.0], [1.0, 2.0]]), n_rotations=2)
    with pytest.raises(ValueError):
        stats.rotation_test(np.ones(5), n_rotations=2)


# --------------------------------------------------------------------------- axis alignment


def _slow_axis_alignment(x, basis, epsilon):
    """The definition, one sample and one axis at a time: the twin of stats.axis_alignment."""
    d = x.shape[1]
    p0 = srmlib.isotropic_expectation(d, epsilon)
    scores = []
    for row in x:
        norm = np.linalg.norm(row)
        if norm == 0:
            continue
        inside = 0
        for b in basis:
            cosine = row @ b / (norm * np.linalg.norm(b))
            inside += (cosine >= epsilon) + (-cosine >= epsilon)
        scores.append(inside / (len(basis) * 2 * p0))
    return np.array(scores)


def test_axis_alignment_matches_its_slow_twin_and_the_rotation_statistic():
    rng = np.random.default_rng(20)
    x = np.maximum(rng.standard_normal((300, 5)) - 0.5, 0)
    x[:3] = 0  # zero rows are left out
    basis = np.eye(5) + 0.4 * rng.standard_normal((5, 5))
    basis *= rng.uniform(0.5, 3, (5, 1))  # any length
    with pytest.warns(UserWarning, match="zero vectors"):
        fast = stats.axis_alignment(x, basis, epsilon=0.55)
    slow = _slow_axis_alignment(x, basis, 0.55)
    np.testing.assert_allclose(fast.per_sample, slow)
    assert fast.value == pytest.approx(slow.mean())
    assert fast.standard_error == pytest.approx(slow.std(ddof=1) / np.sqrt(len(slow)))
    np.testing.assert_array_equal(fast.sample_index, np.flatnonzero(x.any(axis=1)))
    assert (fast.n_samples, fast.n_dims, fast.basis_size) == (len(slow), 5, 5)
    kept = x[x.any(axis=1)]
    test = stats.rotation_test(kept, basis, epsilon=0.55, statistic="alignment", n_rotations=2)
    assert test.observed == pytest.approx(fast.value)


def test_axis_alignment_comes_out_both_ways_and_ignores_the_orthant():
    """Aligned (sparse ReLU) above 1, anti-aligned (saturated tanh) below 1, and two kinds of
    data with no preferred axis at 1 within 4 standard errors: isotropic data, and data whose
    directions are uniform within the positive orthant."""
    z = np.random.default_rng(21).standard_normal((40_000, 8))
    eps = srmlib.epsilon_for_isotropic_fraction(8, 0.05)
    relu = np.maximum(z - 1, 0)
    aligned = stats.axis_alignment(relu[relu.any(axis=1)], epsilon=eps)
    anti = stats.axis_alignment(np.tanh(3 * z), epsilon=eps)
    assert aligned.value - 1 > 10 * aligned.standard_error
    assert 1 - anti.value > 10 * anti.standard_error
    for x in (z, np.abs(z)):
        neutral = stats.axis_alignment(x, epsilon=eps)
        assert abs(neutral.value - 1) < 4 * neutral.standard_error
    orthant = np.abs(z)[:3000]
    alignment = stats.rotation_test(orthant, epsilon=eps, statistic="alignment",
                                    n_rotations=9, seed=0)
    assert abs(alignment.observed - 1) < 4 * stats.axis_alignment(
        orthant, epsilon=eps).standard_error


def test_axis_alignment_is_invariant_to_relabelling_and_rescaling():
    rng = np.random.default_rng(22)
    x = np.tanh(2 * rng.standard_normal((500, 6)))
    base = stats.axis_alignment(x, epsilon=0.5)
    order = rng.permutation(6)
    signs = rng.choice([-1.0, 1.0], 6)
    moved = stats.axis_alignment((x * signs)[:, order] * rng.uniform(0.1, 10, (500, 1)),
                                 epsilon=0.5)
    np.testing.assert_allclose(moved.per_sample, base.per_sample)


def test_axis_alignment_paired_difference():
    rng = np.random.default_rng(23)
    z = rng.standard_normal((2000, 6))
    before = stats.axis_alignment(z, epsilon=0.6)
    relu = np.maximum(z - 0.5, 0)
    with pytest.warns(UserWarning):
        after = stats.axis_alignment(relu, epsilon=0.6)
    difference, se = after.difference(before)
    both = np.flatnonzero(relu.any(axis=1))
    paired = after.per_sample - before.per_sample[both]
    assert difference == pytest.approx(paired.mean())
    assert se == pytest.approx(paired.std(ddof=1) / np.sqrt(len(both)))
    assert difference > 4 * se
    assert before.difference(before) == (0.0, 0.0)
    with pytest.raises(TypeError, match="other"):
        before.difference(0.5)
    with pytest.raises(ValueError, match="epsilon"):
        before.difference(stats.axis_alignment(z, epsilon=0.5))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epsilon=0.0), ValueError, "epsilon"),
    (dict(epsilon=1.0), ValueError, "epsilon"),
    (dict(epsilon=-0.3), ValueError, "epsilon"),
    (dict(epsilon="0.5"), TypeError, "epsilon"),
    (dict(epsilon=0.5, basis=np.eye(3)), ValueError, "basis"),
    (dict(epsilon=0.5, activations=np.ones(4)), ValueError, "activations"),
    (dict(epsilon=0.5, activations=np.zeros((3, 4))), ValueError, "activations"),
])
def test_axis_alignment_rejects_bad_input(kwargs, error, match):
    kwargs = {"activations": np.random.default_rng(0).standard_normal((50, 4)), **kwargs}
    with pytest.raises(error, match=match):
        stats.axis_alignment(**kwargs)


def test_wilson_interval_near_full_confidence_is_finite_and_widens():
    """Issue 15: 0.5 + confidence / 2 rounds to 1 for confidence = 1 - 1e-16, so the quantile
    was infinite and the interval NaN; from the small tail it stays finite, and it widens."""
    widths = []
    for confidence in (0.95, 1 - 1e-6, 1 - 1e-12, 1 - 1e-16):
        low, high = stats.wilson_interval([0.3], n_samples=100, confidence=confidence)
        assert np.isfinite(low).all() and np.isfinite(high).all(), confidence
        assert 0.0 <= low[0] < 0.3 < high[0] <= 1.0, (confidence, low, high)
        widths.append(high[0] - low[0])
    assert np.all(np.diff(widths) > 0), widths
