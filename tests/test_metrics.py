"""srmlib.metrics: invariances both ways, known values, slow twins, scipy closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.optimize import linear_sum_assignment
from scipy.spatial import procrustes as scipy_procrustes
from scipy.stats import pearsonr, spearmanr
from threadpoolctl import threadpool_info

from srmlib import metrics
from srmlib.metrics import _core
from srmlib.metrics import (
    cka,
    correlation_matrix,
    linear_predictivity,
    procrustes_distance,
    rdm,
    rsa,
    semi_matching,
    soft_matching,
    soft_matching_distance,
    transport_plan,
)

MAPPING = [semi_matching, soft_matching, linear_predictivity]


def rng(seed=0):
    return np.random.default_rng(seed)


def rotation(n, seed=0):
    q, r = np.linalg.qr(rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def mixed(n_stimuli=300, n_units=6, seed=0):
    """Units that are noisy mixtures of a few shared sources: partly aligned representations."""
    g = rng(seed)
    z = g.standard_normal((n_stimuli, n_units))
    x = z + 0.5 * g.standard_normal((n_stimuli, n_units))
    y = z @ rotation(n_units, seed + 1)[:, : n_units - 1] + 0.5 * g.standard_normal(
        (n_stimuli, n_units - 1))
    return x, y


# --------------------------------------------------------------------------- slow twins


def slow_corr(a, b):
    out = np.zeros((a.shape[1], b.shape[1]))
    for i in range(a.shape[1]):
        for j in range(b.shape[1]):
            if np.ptp(a[:, i]) > 0 and np.ptp(b[:, j]) > 0:
                out[i, j] = np.corrcoef(a[:, i], b[:, j])[0, 1]
    return out


def slow_semi_matching(x, y, folds):
    scores = []
    for train, test in folds:
        held_out = []
        for j in range(y.shape[1]):
            train_r = [np.corrcoef(x[train, i], y[train, j])[0, 1] for i in range(x.shape[1])]
            best = int(np.argmax(train_r))
            held_out.append(np.corrcoef(x[test, best], y[test, j])[0, 1])
        scores.append(np.mean(held_out))
    return np.array(scores)


def slow_transport_cost(cost):
    """Uniform OT by Birkhoff: replicate rows and columns to a square, then Hungarian."""
    n, m = cost.shape
    size = math.lcm(n, m)
    square = np.repeat(np.repeat(cost, size // n, axis=0), size // m, axis=1)
    rows, cols = linear_sum_assignment(square)
    return square[rows, cols].mean()


def slow_soft_matching(x, y, folds):
    """Plan-weighted held-out correlation, the plan by Birkhoff replication and Hungarian."""
    scores = []
    for train, test in folds:
        cost = 1.0 - slow_corr(x[train], y[train])
        held_out = slow_corr(x[test], y[test])
        n, m = cost.shape
        size = math.lcm(n, m)
        rows, cols = linear_sum_assignment(np.repeat(np.repeat(cost, size // n, 0), size // m, 1))
        scores.append(np.mean(held_out[rows // (size // n), cols // (size // m)]))
    return np.array(scores)


def slow_soft_matching_distance(x, y):
    """Root-mean-square distance of the best one-to-one matching (equal unit counts), by brute force."""
    xs = (x - x.mean(0)) / x.std(0) / np.sqrt(len(x))
    ys = (y - y.mean(0)) / y.std(0) / np.sqrt(len(y))
    n = xs.shape[1]
    return min(np.sqrt(np.mean([np.sum((xs[:, i] - ys[:, p[i]]) ** 2) for i in range(n)]))
               for p in itertools.permutations(range(n)))


def slow_hsic_unbiased(k, l):
    """The U-statistic of Song et al. (2012) over ordered quadruples of distinct stimuli."""
    n = len(k)
    total = 0.0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += k[i, j] * l[i, j] + k[i, j] * l[q, r] - 2.0 * k[i, j] * l[i, q]
    return total / math.perm(n, 4)


def slow_cka_biased(x, y):
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l = x @ x.T, y @ y.T

    def hsic(a, b):
        return np.trace(a @ h @ b @ h)

    return hsic(k, l) / np.sqrt(hsic(k, k) * hsic(l, l))


def slow_rdm(x):
    n = len(x)
    return np.array([1.0 - np.corrcoef(x[s], x[t])[0, 1] for s in range(n) for t in range(s + 1, n)])


def slow_ridge_predictivity(x, y, folds, alphas):
    """Per fold and target: exact leave-one-out refits for every alpha, then refit and correlate."""
    def fit(a, b, alpha):  # ridge with an unpenalised intercept
        a1 = np.c_[a, np.ones(len(a))]
        penalty = alpha * np.eye(a1.shape[1])
        penalty[-1, -1] = 0.0
        return np.linalg.solve(a1.T @ a1 + penalty, a1.T @ b)

    def predict(w, a):
        return np.c_[a, np.ones(len(a))] @ w

    scores = []
    for train, test in folds:
        mx, sx = x[train].mean(0), x[train].std(0)
        my, sy = y[train].mean(0), y[train].std(0)
        xt, yt = (x[train] - mx) / sx, (y[train] - my) / sy
        xv, yv = (x[test] - mx) / sx, (y[test] - my) / sy
        rs = []
        for j in range(y.shape[1]):
            loo = []
            for alpha in alphas:
                errors = [(predict(fit(np.delete(xt, s, 0), np.delete(yt[:, j], s), alpha),
                                   xt[s: s + 1])[0] - yt[s, j]) ** 2 for s in range(len(xt))]
                loo.append(np.mean(errors))
            w = fit(xt, yt[:, j], alphas[int(np.argmin(loo))])
            rs.append(np.corrcoef(predict(w, xv), yv[:, j])[0, 1])
        scores.append(np.mean(rs))
    return np.array(scores)


def kfold(n, n_folds, seed):
    return _core.folds(n, n_folds, seed)


# --------------------------------------------------------------------------- building blocks


def test_correlation_matrix_matches_numpy_and_zeroes_constant_units():
    x, y = mixed(50)
    np.testing.assert_allclose(correlation_matrix(x, y), slow_corr(x, y), atol=1e-12)
    x[:, 2] = 3.0
    c = correlation_matrix(x, y)
    assert np.all(c[2] == 0.0)
    np.testing.assert_allclose(c, slow_corr(x, y), atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 5), (4, 6), (7, 3)])
def test_transport_plan_is_optimal_with_uniform_marginals(shape):
    for seed in range(5):
        cost = rng(seed).random(shape)
        plan = transport_plan(cost)
        np.testing.assert_allclose(plan.sum(axis=1), 1.0 / shape[0])
        np.testing.assert_allclose(plan.sum(axis=0), 1.0 / shape[1])
        assert np.sum(plan * cost) == pytest.approx(slow_transport_cost(cost), abs=1e-12)


def test_square_uniform_transport_equals_the_hungarian_assignment():
    for seed in range(10):
        cost = rng(seed).random((8, 8))
        rows, cols = linear_sum_assignment(cost)
        hungarian = np.zeros((8, 8))
        hungarian[rows, cols] = 1.0 / 8
        np.testing.assert_allclose(transport_plan(cost), hungarian, atol=1e-12)


def test_transport_plan_fails_loudly_when_the_solver_stops_early():
    with pytest.raises(RuntimeError, match="max_iter"):
        transport_plan(rng(0).random((40, 40)), max_iter=3)


def test_rdm_matches_pairwise_correlations():
    x = rng(1).standard_normal((12, 5))
    np.testing.assert_allclose(rdm(x), slow_rdm(x), atol=1e-12)
    with pytest.raises(ValueError, match="vary across units"):
        rdm(np.r_[x, np.ones((1, 5))])


# --------------------------------------------------------------------------- mapping metrics


@pytest.mark.parametrize("metric", MAPPING)
def test_a_permuted_copy_scores_one(metric):
    x = rng(2).standard_normal((200, 7))
    result = metric(x, x[:, rng(3).permutation(7)])
    np.testing.assert_allclose(result.scores, 1.0, atol=1e-9)
    assert result.n_folds == 5 and len(result.scores) == 5 and result.higher_is_better


@pytest.mark.parametrize("metric", MAPPING)
def test_mapping_metrics_are_invariant_to_permutation_scaling_and_shifts(metric):
    x, y = mixed(seed=4)
    base = metric(x, y, seed=1)
    g = rng(5)
    scale_x, scale_y = g.uniform(0.5, 3.0, x.shape[1]), g.uniform(0.5, 3.0, y.shape[1])
    shifted = metric(x[:, ::-1] * scale_x + 4.0, y[:, g.permutation(y.shape[1])] * scale_y - 1.0,
                     seed=1)
    assert shifted.mean == pytest.approx(base.mean, abs=1e-9)
    assert 0.2 < base.mean < 0.95  # partly aligned data: not a trivial value


@pytest.mark.parametrize("metric", [semi_matching, soft_matching])
def test_matching_metrics_are_not_invariant_to_rotations(metric):
    x = rng(6).standard_normal((300, 6))
    assert metric(x, x).mean == pytest.approx(1.0)
    assert metric(x, x @ rotation(6, 7)).mean < 0.8


def test_linear_predictivity_forgives_rotations_but_not_missing_information():
    x = rng(8).standard_normal((300, 6))
    assert linear_predictivity(x, x @ rotation(6, 9)).mean > 0.99
    assert linear_predictivity(x[:, :3], x @ rotation(6, 9)).mean < 0.8


def test_semi_matching_matches_its_slow_twin():
    for seed in range(3):
        x, y = mixed(60, 4, seed=seed)
        folds = kfold(60, 3, seed)
        np.testing.assert_allclose(semi_matching(x, y, n_folds=3, seed=seed).scores,
                                   slow_semi_matching(x, y, folds), atol=1e-12)


def test_soft_matching_matches_its_slow_twin_and_never_beats_semi_matching():
    for seed in range(5):
        x, y = mixed(80, 5, seed=seed)
        x = x[:, : 3 + seed % 3]
        for n_folds in (1, 4):
            soft = soft_matching(x, y, n_folds=n_folds, seed=seed)
            semi = semi_matching(x, y, n_folds=n_folds, seed=seed)
            if n_folds == 1:  # the same stimuli: the plan's constraint can only cost
                assert soft.mean <= semi.mean + 1e-12
            np.testing.assert_allclose(soft.scores,
                                       slow_soft_matching(x, y, kfold(80, n_folds, seed)),
                                       atol=1e-12)


def test_soft_matching_at_most_semi_matching_in_sample_on_random_shapes():
    for seed in range(10):
        g = rng(seed)
        x = g.standard_normal((40, g.integers(2, 9)))
        y = x[:, :1] * g.standard_normal((1, g.integers(2, 9))) + g.standard_normal(
            (40, 1)) * 0.5
        assert (soft_matching(x, y, n_folds=1).mean
                <= semi_matching(x, y, n_folds=1).mean + 1e-12)


def test_linear_predictivity_matches_its_slow_twin():
    alphas = (0.01, 1.0, 30.0)
    for seed in range(2):
        x, y = mixed(36, 3, seed=seed)
        folds = kfold(36, 3, seed)
        np.testing.assert_allclose(
            linear_predictivity(x, y, n_folds=3, seed=seed, alphas=alphas).scores,
            slow_ridge_predictivity(x, y, folds, alphas), atol=1e-8)


def test_cross_validation_is_seeded():
    x, y = mixed(seed=10)
    a = semi_matching(x, y, seed=3)
    np.testing.assert_array_equal(a.scores, semi_matching(x, y, seed=3).scores)
    assert not np.array_equal(a.scores, semi_matching(x, y, seed=4).scores)
    assert a.sem == pytest.approx(np.std(a.scores, ddof=1) / np.sqrt(5))
    assert np.isnan(semi_matching(x, y, n_folds=1).sem)


def test_constant_units_are_dropped_and_reported():
    x, y = mixed(seed=11)
    x_const = np.c_[x[:, :2], np.zeros(len(x)), x[:, 2:]]
    y_const = np.c_[np.full(len(y), 2.0), y]
    for metric in MAPPING:
        result = metric(x_const, y_const)
        assert result.dropped_source.tolist() == [2] and result.dropped_target.tolist() == [0]
        assert result.n_source == x.shape[1] and result.n_target == y.shape[1]
        assert result.mean == pytest.approx(metric(x, y).mean, abs=1e-12)
    with pytest.raises(ValueError, match="every unit of target is constant"):
        semi_matching(x, np.ones((len(x), 3)))


def test_a_unit_constant_within_a_fold_correlates_zero_there():
    x = rng(12).standard_normal((40, 3))
    y = np.c_[x[:, 0], np.zeros(40)]
    y[0, 1] = 1.0  # active on one stimulus only: constant on folds without it
    result = semi_matching(x, y, n_folds=4, seed=0)
    assert np.all(np.isfinite(result.scores))


# --------------------------------------------------------------------------- fit-free metrics


def test_soft_matching_distance_zero_for_permuted_copies_and_matches_its_twins():
    for seed in range(4):
        x, y = mixed(50, 5, seed=seed)
        x = x[:, :4]
        d = soft_matching_distance(x, y)
        assert not d.higher_is_better
        assert d.mean == pytest.approx(slow_soft_matching_distance(x, y), abs=1e-9)
        in_sample = soft_matching(x, y, n_folds=1).mean
        assert d.mean == pytest.approx(np.sqrt(2.0 * (1.0 - in_sample)), abs=1e-9)
        assert soft_matching_distance(x, x[:, rng(seed).permutation(4)] * 3 + 1).mean == (
            pytest.approx(0.0, abs=1e-7))
    x = rng(0).standard_normal((100, 4))
    assert soft_matching_distance(x, x @ rotation(4, 1)).mean > 0.3


def test_soft_matching_distance_is_symmetric_and_obeys_the_triangle_inequality():
    g = rng(13)
    for standardize in (True, False):
        for _ in range(30):
            a, b, c = (g.standard_normal((25, g.integers(2, 7))) for _ in range(3))
            d_ab = soft_matching_distance(a, b, standardize=standardize).mean
            d_bc = soft_matching_distance(b, c, standardize=standardize).mean
            d_ac = soft_matching_distance(a, c, standardize=standardize).mean
            assert d_ac <= d_ab + d_bc + 1e-9
            assert d_ab == pytest.approx(
                soft_matching_distance(b, a, standardize=standardize).mean, abs=1e-9)


def test_raw_soft_matching_distance_sees_scale():
    x = rng(14).standard_normal((60, 3))
    assert soft_matching_distance(x, 2 * x).mean == pytest.approx(0.0, abs=1e-7)
    assert soft_matching_distance(x, 2 * x, standardize=False).mean > 0.5


def test_procrustes_agrees_with_scipy():
    for seed in range(5):
        g = rng(seed)
        x, y = g.standard_normal((30, 4)), g.standard_normal((30, 4))
        _, _, disparity = scipy_procrustes(x, y)
        angular = procrustes_distance(x, y).mean
        assert np.cos(angular) == pytest.approx(np.sqrt(1.0 - disparity), abs=1e-10)
        xs = (x - x.mean(0)) / np.linalg.norm(x - x.mean(0))
        ys = (y - y.mean(0)) / np.linalg.norm(y - y.mean(0))
        q, _ = orthogonal_procrustes(ys, xs)
        euclidean = procrustes_distance(x, y, kind="euclidean").mean
        assert euclidean == pytest.approx(np.linalg.norm(xs - ys @ q), abs=1e-10)
        assert euclidean == pytest.approx(np.sqrt(2 - 2 * np.cos(angular)), abs=1e-10)


def test_procrustes_invariances_both_ways():
    x = rng(15).standard_normal((80, 5))
    for kind in ("angular", "euclidean"):
        moved = 3.0 * x @ rotation(5, 16) + 7.0
        assert procrustes_distance(x, moved, kind=kind).mean == pytest.approx(0.0, abs=1e-6)
        assert procrustes_distance(x, x @ np.diag([1, 1, 1, 5, 0.2]), kind=kind).mean > 0.3
    padded = procrustes_distance(x[:, :3], x @ rotation(5, 17)).mean
    assert 0.1 < padded < np.pi / 2
    assert procrustes_distance(x, x[:, :3]).mean == pytest.approx(
        procrustes_distance(x[:, :3], x).mean)


@pytest.mark.parametrize("unbiased", [False, True])
def test_cka_invariances_both_ways(unbiased):
    x = rng(18).standard_normal((60, 5))
    assert cka(x, 2.0 * x @ rotation(5, 19) - 1.0, unbiased=unbiased).mean == pytest.approx(1.0)
    assert cka(x, x @ np.diag([1, 1, 1, 8, 0.1]), unbiased=unbiased).mean < 0.8


def test_cka_matches_its_slow_twins():
    for seed in range(3):
        g = rng(seed)
        x, y = g.standard_normal((7, 3)), g.standard_normal((7, 4))
        x[:, 0] += y[:, 0]
        assert cka(x, y).mean == pytest.approx(slow_cka_biased(x, y), abs=1e-12)
        k, l = x @ x.T, y @ y.T
        expected = slow_hsic_unbiased(k, l) / np.sqrt(slow_hsic_unbiased(k, k)
                                                      * slow_hsic_unbiased(l, l))
        assert cka(x, y, unbiased=True).mean == pytest.approx(expected, abs=1e-10)


def test_unbiased_cka_is_near_zero_on_independent_high_dimensional_data():
    g = rng(20)
    x, y = g.standard_normal((50, 2000)), g.standard_normal((50, 2000))
    assert cka(x, y).mean > 0.9
    assert abs(cka(x, y, unbiased=True).mean) < 0.05
    with pytest.raises(ValueError, match="at least 4 stimuli"):
        cka(x[:3], y[:3], unbiased=True)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_rsa_agrees_with_scipy(method):
    x, y = mixed(40, 5, seed=21)
    a, b = slow_rdm(x), slow_rdm(y)
    expected = spearmanr(a, b).statistic if method == "spearman" else pearsonr(a, b).statistic
    assert rsa(x, y, method=method).mean == pytest.approx(expected, abs=1e-12)


def test_rsa_invariances_both_ways_and_flat_stimuli():
    x = rng(22).standard_normal((40, 6))
    assert rsa(x, 3.0 * x[:, ::-1] + 2.0).mean == pytest.approx(1.0)
    assert rsa(x, x @ rotation(6, 23)).mean < 0.95
    assert rsa(x, x * np.array([1, 1, 1, 1, 10, 10])).mean < 0.95
    with_flat = np.r_[x, np.zeros((2, 6))]
    result = rsa(with_flat, with_flat)
    assert result.n_stimuli == 40 and result.mean == pytest.approx(1.0)


# --------------------------------------------------------------------------- interface


def test_compare_dispatches_and_rejects_unknown_metrics():
    x, y = mixed(seed=24)
    for name, function in metrics.METRICS.items():
        assert metrics.compare(x, y, name).mean == function(x, y).mean
    assert metrics.compare(x, y, "cka", unbiased=True).metric == "cka (unbiased)"
    with pytest.raises(ValueError, match="metric must be one of"):
        metrics.compare(x, y, "cca (made up)")


def test_bad_input_names_the_argument():
    x = rng(25).standard_normal((20, 3))
    with pytest.raises(ValueError, match="same stimuli"):
        semi_matching(x, x[:10])
    with pytest.raises(ValueError, match="source must be 2-dimensional"):
        cka(x[:, 0], x)
    with pytest.raises(ValueError, match="target contains"):
        rsa(x, np.where(x > 1, np.nan, x))
    with pytest.raises(TypeError, match="n_folds"):
        semi_matching(x, x, n_folds=2.5)
    with pytest.raises(ValueError, match="n_folds"):
        semi_matching(x, x, n_folds=15)
    with pytest.raises(ValueError, match="alphas"):
        linear_predictivity(x, x, alphas=[0.0, 1.0])
    with pytest.raises(ValueError, match="kind"):
        procrustes_distance(x, x, kind="cosine")
    with pytest.raises(ValueError, match="method"):
        rsa(x, x, method="kendall")
    with pytest.raises(TypeError, match="unbiased"):
        cka(x, x, unbiased="yes")
    with pytest.raises(TypeError, match="standardize"):
        soft_matching_distance(x, x, standardize=1)


def test_result_reports_its_parameters():
    x, y = mixed(seed=26)
    result = semi_matching(x, y, n_folds=3, seed=7)
    assert (result.metric, result.n_folds, result.seed, result.n_stimuli) == (
        "semi-matching", 3, 7, len(x))
    assert "semi-matching" in str(result) and "3 fold(s)" in str(result)


def test_metrics_run_on_one_thread_and_restore_the_settings():
    seen = []

    @_core.one_thread
    def probe():
        seen.append(([lib["num_threads"] for lib in threadpool_info()],
                     torch.get_num_threads()))

    blas_before = [lib["num_threads"] for lib in threadpool_info()]
    torch_before = torch.get_num_threads()
    probe()
    assert seen == [([1] * len(blas_before), 1)]
    assert [lib["num_threads"] for lib in threadpool_info()] == blas_before
    assert torch.get_num_threads() == torch_before


def test_seeds_beyond_32_bits_are_accepted_by_the_cross_validated_metrics():
    # numpy's legacy RandomState (inside scikit-learn's KFold) refuses seeds >= 2**32;
    # srmlib's seeds are any int >= 0 (srmlib._validation.check_seed).
    x = np.random.default_rng(0).standard_normal((40, 3))
    big = linear_predictivity(x, x[:, ::-1], seed=2**40)
    small = linear_predictivity(x, x[:, ::-1], seed=7)
    assert np.isfinite(big.mean) and np.isfinite(small.mean)
