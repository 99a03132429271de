"""srmlib.metrics, the families added for issue 14: CCA, shape metrics, neighbours, R^2.

Each metric against an independent implementation (scikit-learn's CCA, rsatoolbox, POT, or a
slow twin written from the paper's formula), its invariances both ways, the triangle
inequality for the true metrics, torch and CUDA inputs, and streaming in small blocks.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.cross_decomposition import CCA

from srmlib import metrics
from srmlib.metrics import (
    canonical_correlations,
    cka,
    cknna,
    linear_predictivity,
    mean_cca,
    mutual_knn,
    permutation_distance,
    procrustes_distance,
    pwcca,
    shape_distance,
    svcca,
)
from srmlib.metrics import _core


def rng(seed=0):
    return np.random.default_rng(seed)


def rotation(n, seed=0):
    q, r = np.linalg.qr(rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def related(n=300, dx=5, dy=4, noise=0.7, seed=0):
    """Two noisy linear views of shared latents, with unequal canonical correlations."""
    g = rng(seed)
    z = g.standard_normal((n, max(dx, dy)))
    x = z[:, :dx] @ g.standard_normal((dx, dx)) + noise * g.standard_normal((n, dx))
    y = (z[:, :dy] * np.linspace(1.0, 0.2, dy)) @ g.standard_normal((dy, dy)) + \
        noise * g.standard_normal((n, dy))
    return x, y


# --------------------------------------------------------------------------- slow twins


def centred(x):
    return x - x.mean(0)


def slow_canonical_correlations(x, y):
    """Classical CCA by QR: the singular values of Q_x^T Q_y (Björck & Golub, 1973)."""
    qx, _ = np.linalg.qr(centred(x))
    qy, _ = np.linalg.qr(centred(y))
    return np.linalg.svd(qx.T @ qy, compute_uv=False)[:min(x.shape[1], y.shape[1])]


def slow_svcca(x, y, variance=0.99):
    """Raghu et al.: SVD of each centred side, keep 99% of the variance, then CCA."""
    def reduce(a):
        u, s, _ = np.linalg.svd(centred(a), full_matrices=False)
        explained = np.cumsum(s**2) / np.sum(s**2)
        keep = int(np.argmax(explained >= variance - 1e-12)) + 1
        return u[:, :keep] * s[:keep]

    return float(np.mean(slow_canonical_correlations(reduce(x), reduce(y))))


def slow_pwcca(x, y):
    """Morcos et al. (2018): canonical variates h_i of x, weights sum_j |<h_i/|h_i|, x_j>|."""
    xc, yc = centred(x), centred(y)
    qx, rx = np.linalg.qr(xc)
    qy, _ = np.linalg.qr(yc)
    u, rho, _ = np.linalg.svd(qx.T @ qy)
    r = min(x.shape[1], y.shape[1])
    variates = qx @ u[:, :r]  # unit-length canonical variates of x
    weights = np.abs(variates.T @ xc).sum(axis=1)
    return float(np.sum(weights * rho[:r]) / weights.sum())


def slow_shape_distance(x, y, alpha):
    """Williams et al. (2021): partially whiten, pad, align by orthogonal Procrustes, angle."""
    def whiten(a):
        a = centred(a)
        a = a / np.sqrt(np.sum(a**2) / len(a))  # unit total variance
        lam, v = np.linalg.eigh(a.T @ a / len(a))
        inv = np.where(lam > 1e-10 * lam.max(), 1.0 / np.sqrt(np.maximum(lam, 1e-300)), 0.0)
        return a @ (alpha * np.eye(len(lam)) + (1 - alpha) * (v * inv) @ v.T)

    a, b = whiten(x), whiten(y)
    width = max(a.shape[1], b.shape[1])
    a = np.c_[a, np.zeros((len(a), width - a.shape[1]))]
    b = np.c_[b, np.zeros((len(b), width - b.shape[1]))]
    u, _, vt = np.linalg.svd(b.T @ a)
    q = u @ vt  # the rotation of b closest to a
    cosine = np.sum(a * (b @ q)) / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.arccos(min(cosine, 1.0)))


def slow_permutation_distance(x, y):
    """Every permutation of the (zero-padded) units, the best angle."""
    a, b = centred(x), centred(y)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    width = max(a.shape[1], b.shape[1])
    a = np.c_[a, np.zeros((len(a), width - a.shape[1]))]
    b = np.c_[b, np.zeros((len(b), width - b.shape[1]))]
    best = max(np.sum(a * b[:, list(p)]) for p in itertools.permutations(range(width)))
    return float(np.arccos(min(best, 1.0)))


def slow_neighbours(x, k):
    f = x / np.linalg.norm(x, axis=1, keepdims=True)
    out = []
    for i in range(len(f)):
        sims = [(f[i] @ f[j], j) for j in range(len(f)) if j != i]
        out.append({j for _, j in sorted(sims, reverse=True)[:k]})
    return out


def slow_mutual_knn(x, y, k):
    nx, ny = slow_neighbours(x, k), slow_neighbours(y, k)
    return float(np.mean([len(a & b) / k for a, b in zip(nx, ny)]))


def platonic_cknna(x, y, k):
    """A line-by-line numpy transcription of platonic-rep's ``cknna`` (without its +1e-6)."""
    fa = x / np.linalg.norm(x, axis=1, keepdims=True)
    fb = y / np.linalg.norm(y, axis=1, keepdims=True)
    n = len(fa)
    big_k, big_l = fa @ fa.T, fb @ fb.T

    def hsic_unbiased(kk, ll):
        kt, lt = kk.copy(), ll.copy()
        np.fill_diagonal(kt, 0)
        np.fill_diagonal(lt, 0)
        value = (np.sum(kt * lt.T) + np.sum(kt) * np.sum(lt) / ((n - 1) * (n - 2))
                 - 2 * np.sum(kt @ lt) / (n - 2))
        return value / (n * (n - 3))

    def similarity(kk, ll):
        k_hat, l_hat = kk.copy(), ll.copy()
        np.fill_diagonal(k_hat, -np.inf)
        np.fill_diagonal(l_hat, -np.inf)
        mask_k = np.zeros((n, n))
        mask_l = np.zeros((n, n))
        np.put_along_axis(mask_k, np.argsort(-k_hat, axis=1)[:, :k], 1, axis=1)
        np.put_along_axis(mask_l, np.argsort(-l_hat, axis=1)[:, :k], 1, axis=1)
        mask = mask_k * mask_l
        return hsic_unbiased(mask * kk, mask * ll)

    return similarity(big_k, big_l) / math.sqrt(similarity(big_k, big_k)
                                                * similarity(big_l, big_l))


def slow_r2_predictivity(x, y, folds, alpha):
    """Ridge with an unpenalised intercept at one penalty, R^2 per target on held-out folds."""
    scores = []
    for train, test in folds:
        mx, sx = x[train].mean(0), x[train].std(0)
        my, sy = y[train].mean(0), y[train].std(0)
        a = np.c_[(x[train] - mx) / sx, np.ones(len(train))]
        penalty = alpha * np.eye(a.shape[1])
        penalty[-1, -1] = 0.0
        w = np.linalg.solve(a.T @ a + penalty, a.T @ ((y[train] - my) / sy))
        predicted = np.c_[(x[test] - mx) / sx, np.ones(len(test))] @ w
        truth = (y[test] - my) / sy
        r2 = 1 - np.sum((truth - predicted) ** 2, 0) / np.sum((truth - truth.mean(0)) ** 2, 0)
        scores.append(r2.mean())
    return np.array(scores)


def ridgecv_predictivity(x, y, folds, alphas, score="pearson"):
    """The twin of linear_predictivity: scikit-learn's RidgeCV on float64 copies of each fold.

    Returns the per-fold scores and, per fold, the penalty RidgeCV chose for every target unit.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x, y = x[:, np.ptp(x, axis=0) > 0], y[:, np.ptp(y, axis=0) > 0]
    scores, chosen = [], []
    for train, test in folds:
        mx, sx = x[train].mean(0), x[train].std(0)
        my, sy = y[train].mean(0), y[train].std(0)
        sx, sy = np.where(sx > 0, sx, 1.0), np.where(sy > 0, sy, 1.0)
        model = RidgeCV(alphas=alphas, alpha_per_target=True)
        model.fit((x[train] - mx) / sx, (y[train] - my) / sy)
        chosen.append(np.broadcast_to(model.alpha_, (y.shape[1],)))
        predicted = model.predict((x[test] - mx) / sx).reshape(len(test), -1)
        truth = (y[test] - my) / sy
        if score == "pearson":
            p, t = predicted - predicted.mean(0), truth - truth.mean(0)
            denominator = np.sqrt((p * p).sum(0) * (t * t).sum(0))
            r = np.where(denominator > 0, (p * t).sum(0) / np.where(denominator > 0,
                                                                      denominator, 1.0), 0.0)
            scores.append(np.mean(r))
        else:
            flat = np.all(y[test] == y[test][:1], axis=0)
            r2 = r2_score(truth[:, ~flat], predicted[:, ~flat], multioutput="raw_values")
            scores.append(np.sum(r2) / y.shape[1])
    return np.array(scores), chosen


# --------------------------------------------------------------------------- CCA family


def test_canonical_correlations_agree_with_scikit_learn_and_the_qr_twin():
    for seed in range(3):
        x, y = related(400, 4, 3, seed=seed)
        rho = canonical_correlations(x, y)
        np.testing.assert_allclose(rho, slow_canonical_correlations(x, y), atol=1e-10)
        model = CCA(n_components=3, max_iter=20_000, tol=1e-14).fit(x, y)
        sx, sy = model.transform(x, y)
        sklearn_rho = [abs(np.corrcoef(sx[:, i], sy[:, i])[0, 1]) for i in range(3)]
        np.testing.assert_allclose(np.sort(sklearn_rho)[::-1], rho, atol=1e-6)
        assert mean_cca(x, y).mean == pytest.approx(rho.mean(), abs=1e-12)


def test_mean_cca_invariant_to_invertible_maps_but_not_to_nonlinear_ones():
    x, y = related(500, 4, 4, seed=3)
    base = mean_cca(x, y).mean
    assert 0.3 < base < 0.95
    mixing = rng(4).standard_normal((4, 4))
    assert mean_cca(x @ mixing + 5.0, 3.0 * y @ rotation(4, 5) - 2.0).mean == pytest.approx(
        base, abs=1e-9)
    z = rng(6).standard_normal((500, 3))
    assert mean_cca(z, z @ mixing[:3, :3]).mean == pytest.approx(1.0, abs=1e-9)
    assert mean_cca(z, z**2).mean < 0.3  # a non-monotone map: nothing linear survives


def test_svcca_agrees_with_its_twin_and_its_invariances_both_ways():
    for seed in range(3):
        x, y = related(300, 6, 5, noise=0.3, seed=seed)
        x = x * np.array([1, 1, 1, 1, 0.05, 0.02])  # two weak directions for SVD to drop
        assert svcca(x, y).mean == pytest.approx(slow_svcca(x, y), abs=1e-9)
        assert svcca(x, y, variance=0.9).mean == pytest.approx(slow_svcca(x, y, 0.9), abs=1e-9)
    x = x[:, :5]
    moved = 4.0 * x @ rotation(5, 7) + 1.0
    assert svcca(x, moved).mean == pytest.approx(1.0, abs=1e-9)
    # a per-unit scaling changes which directions explain 90% of the variance: x keeps its
    # first three units, the stretched copy only its fourth
    z = rng(35).standard_normal((400, 4)) * np.sqrt([4.0, 3.0, 2.0, 1.0])
    stretched = z * np.array([1.0, 1.0, 1.0, 10.0])
    assert svcca(z, stretched, variance=0.9).mean < 0.2
    assert mean_cca(z, stretched).mean == pytest.approx(1.0, abs=1e-9)


def test_pwcca_agrees_with_its_twin_and_weighs_with_the_source():
    for seed in range(3):
        x, y = related(300, 5, 4, seed=seed)
        assert pwcca(x, y).mean == pytest.approx(slow_pwcca(x, y), abs=1e-9)
        assert pwcca(y, x).mean == pytest.approx(slow_pwcca(y, x), abs=1e-9)
    base = pwcca(x, y).mean
    # invariant: permutations, isotropic scaling and shifts of the source, any invertible map
    # of the target
    assert pwcca(2.0 * x[:, ::-1] + 3.0, y @ rng(9).standard_normal((4, 4))).mean == (
        pytest.approx(base, abs=1e-9))
    # sensitive: per-unit scaling or a rotation of the source changes the weights (an L1 sum
    # over its units), though not the canonical correlations
    assert abs(pwcca(x * np.array([10, 1, 1, 1, 0.1]), y).mean - base) > 1e-2
    assert abs(pwcca(x @ rotation(5, 8), y).mean - base) > 1e-2
    assert pwcca(x, x[:, ::-1]).mean == pytest.approx(1.0, abs=1e-9)


# --------------------------------------------------------------------------- shape metrics


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_shape_distance_matches_its_twin(alpha):
    for seed in range(3):
        x, y = related(200, 4, 3, seed=seed)
        assert shape_distance(x, y, alpha=alpha).mean == pytest.approx(
            slow_shape_distance(x, y, alpha), abs=1e-8)


def test_shape_distance_ends_are_procrustes_and_cca():
    x, y = related(300, 4, 4, seed=10)
    assert shape_distance(x, y, alpha=1.0).mean == pytest.approx(
        procrustes_distance(x, y).mean, abs=1e-10)
    assert shape_distance(x, y, alpha=0.0).mean == pytest.approx(
        np.arccos(mean_cca(x, y).mean), abs=1e-10)
    assert shape_distance(x, y, alpha=1.0, kind="euclidean").mean == pytest.approx(
        procrustes_distance(x, y, kind="euclidean").mean, abs=1e-10)


def test_shape_distance_invariances_both_ways():
    x = rng(11).standard_normal((300, 4)) @ rng(12).standard_normal((4, 4))
    stretched = x @ np.diag([1.0, 4.0, 0.3, 2.0])
    moved = 3.0 * x @ rotation(4, 13) - 2.0
    for alpha in (0.0, 0.5, 1.0):
        assert shape_distance(x, moved, alpha=alpha).mean == pytest.approx(0.0, abs=1e-6)
    assert shape_distance(x, stretched, alpha=0.0).mean == pytest.approx(0.0, abs=1e-6)
    assert shape_distance(x, stretched, alpha=0.5).mean > 0.05
    assert shape_distance(x, stretched, alpha=1.0).mean > shape_distance(
        x, stretched, alpha=0.5).mean


def triples(seed, count=25):
    g = rng(seed)
    for _ in range(count):
        base = g.standard_normal((40, 4))
        yield tuple(base @ g.standard_normal((4, g.integers(2, 6)))
                    + g.uniform(0.2, 2.0) * g.standard_normal((40, 1)) for _ in range(3))


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_shape_distance_is_a_metric(alpha):
    for a, b, c in triples(14):
        ab = shape_distance(a, b, alpha=alpha).mean
        assert ab == pytest.approx(shape_distance(b, a, alpha=alpha).mean, abs=1e-9)
        assert shape_distance(a, c, alpha=alpha).mean <= (
            ab + shape_distance(b, c, alpha=alpha).mean + 1e-9)


def test_permutation_distance_matches_brute_force_and_is_a_metric():
    for seed in range(4):
        x, y = related(60, 4, 3, seed=seed)
        assert permutation_distance(x, y).mean == pytest.approx(
            slow_permutation_distance(x, y), abs=1e-10)
    for a, b, c in triples(15):
        ab = permutation_distance(a, b).mean
        assert ab == pytest.approx(permutation_distance(b, a).mean, abs=1e-9)
        assert permutation_distance(a, c).mean <= ab + permutation_distance(b, c).mean + 1e-9


def test_permutation_distance_invariances_both_ways():
    x = rng(16).standard_normal((200, 5))
    assert permutation_distance(x, 2.5 * x[:, [3, 0, 4, 1, 2]] + 7.0).mean == pytest.approx(
        0.0, abs=1e-6)
    assert permutation_distance(x, x @ rotation(5, 17)).mean > 0.3
    assert permutation_distance(x, x * np.array([1, 1, 1, 5, 0.2])).mean > 0.3
    assert procrustes_distance(x, x @ rotation(5, 17)).mean == pytest.approx(0.0, abs=1e-6)
    euclidean = permutation_distance(x, x @ rotation(5, 17), kind="euclidean").mean
    assert euclidean == pytest.approx(
        np.sqrt(2 - 2 * np.cos(permutation_distance(x, x @ rotation(5, 17)).mean)))


# --------------------------------------------------------------------------- neighbours


def test_mutual_knn_matches_its_twin_and_invariances_both_ways():
    for seed in range(3):
        x, y = related(60, 5, 4, seed=seed)
        assert mutual_knn(x, y, k=5).mean == pytest.approx(slow_mutual_knn(x, y, 5), abs=1e-12)
    x = rng(18).standard_normal((150, 6))
    assert mutual_knn(x, 3.0 * x @ rotation(6, 19)).mean == pytest.approx(1.0)
    assert mutual_knn(x, x * np.array([1, 1, 1, 1, 6, 0.1])).mean < 0.8
    assert mutual_knn(x, x + 3.0).mean < 0.8
    unrelated = mutual_knn(x, rng(20).standard_normal((150, 6)), k=10).mean
    assert unrelated < 0.2  # chance level is k / (n - 1) = 0.067
    assert mutual_knn(x, y := rng(21).standard_normal((150, 3))).mean == pytest.approx(
        mutual_knn(y, x).mean)


def test_cknna_matches_the_platonic_rep_transcription():
    for seed in range(3):
        x, y = related(50, 5, 4, seed=seed)
        for k in (3, 10):
            assert cknna(x, y, k=k).mean == pytest.approx(platonic_cknna(x, y, k), abs=1e-10)


def test_cknna_with_every_neighbour_is_unbiased_cka_of_unit_rows():
    x, y = related(40, 5, 4, seed=22)
    unit_x = x / np.linalg.norm(x, axis=1, keepdims=True)
    unit_y = y / np.linalg.norm(y, axis=1, keepdims=True)
    assert cknna(x, y, k=39).mean == pytest.approx(cka(unit_x, unit_y, unbiased=True).mean,
                                                   abs=1e-10)


def test_cknna_invariances_both_ways():
    x = rng(23).standard_normal((120, 6))
    assert cknna(x, 2.0 * x @ rotation(6, 24)).mean == pytest.approx(1.0)
    assert cknna(x, x * np.array([1, 1, 1, 1, 6, 0.1])).mean < 0.9
    assert abs(cknna(x, rng(25).standard_normal((120, 6))).mean) < 0.3


# --------------------------------------------------------------------------- regression


def test_r2_predictivity_matches_its_twin_and_pearson_is_at_least_as_forgiving():
    for seed in range(2):
        x, y = related(80, 4, 3, seed=seed)
        folds = _core.folds(80, 4, seed)
        r2 = linear_predictivity(x, y, n_folds=4, seed=seed, alphas=[1.0], score="r2")
        np.testing.assert_allclose(r2.scores, slow_r2_predictivity(x, y, folds, 1.0),
                                   atol=1e-10)
        assert r2.metric == "linear predictivity (r2, forward)"
        pearson = linear_predictivity(x, y, n_folds=4, seed=seed, alphas=[1.0])
        assert np.all(r2.scores <= pearson.scores**2 + 1e-12)  # R^2 <= r^2 held out


def test_predictivity_in_both_directions_is_the_mean_of_the_two():
    x = rng(26).standard_normal((120, 5))
    y = x[:, :2] + 0.1 * rng(36).standard_normal((120, 2))
    for score in ("pearson", "r2"):
        forward = linear_predictivity(x, y, score=score, seed=3)
        backward = linear_predictivity(x, y, score=score, direction="backward", seed=3)
        np.testing.assert_allclose(backward.scores,
                                   linear_predictivity(y, x, score=score, seed=3).scores)
        both = linear_predictivity(x, y, score=score, direction="both", seed=3)
        np.testing.assert_allclose(both.scores, (forward.scores + backward.scores) / 2)
        assert both.mean == pytest.approx(
            linear_predictivity(y, x, score=score, direction="both", seed=3).mean)
    # two units cannot predict five: the directions differ, and "both" sits between them
    assert backward.mean < forward.mean - 0.1


@pytest.mark.parametrize("dtype", ["float64", "float32", "torch"])
def test_streamed_predictivity_matches_ridgecv(dtype):
    """Scores and each target's chosen penalty as RidgeCV's, incl. more units than stimuli."""
    from srmlib.metrics import regression

    alphas = (1e-3, 1e-1, 1.0, 10.0, 1e3)
    shapes = [(60, 5, 3, 3), (40, 30, 4, 4), (30, 4, 25, 3), (50, 8, 6, 1), (24, 40, 5, 2)]
    for case, (n, dx, dy, n_folds) in enumerate(shapes):
        for seed in range(3):
            x, y = related(n, dx, dy, noise=0.5 + 0.5 * seed, seed=10 * case + seed)
            if dtype != "float64":
                x, y = x.astype(np.float32), y.astype(np.float32)
            a, b = (torch.from_numpy(x), torch.from_numpy(y)) if dtype == "torch" else (x, y)
            split = _core.folds(n, n_folds, seed)
            for direction in ("forward", "backward"):
                for score in ("pearson", "r2"):
                    got = linear_predictivity(a, b, n_folds=n_folds, seed=seed, alphas=alphas,
                                              score=score, direction=direction)
                    u, w = (x, y) if direction == "forward" else (y, x)
                    want, chosen = ridgecv_predictivity(u, w, split, alphas, score)
                    np.testing.assert_allclose(got.scores, want, rtol=1e-6, atol=1e-9)
                # the penalties themselves, per fold and target unit
                data = _core.streamed(a, b, min_stimuli=4 if n_folds > 1 else 2)
                fold_split, moments = regression._fold_moments(data, n_folds, seed)
                side = ((data.x, data.keep_x, data.y, data.keep_y) if direction == "forward"
                        else (data.y, data.keep_y, data.x, data.keep_x))
                for f, ((train, test), (fit, held)) in enumerate(zip(fold_split, moments)):
                    if direction == "backward":
                        fit, held = regression._swap(fit), regression._swap(held)
                    picked = []
                    regression._predictivity(*side, train, test, fit, held,
                                             np.asarray(alphas), "pearson", picked)
                    np.testing.assert_array_equal(picked[0], chosen[f])


def test_streamed_predictivity_handles_units_constant_on_a_fold_as_ridgecv():
    x, y = related(40, 6, 4, seed=5)
    x[:, 1] = 0.0
    x[:5, 1] = 1.0  # varies overall, constant on every fold without these stimuli
    y[:, 2] = 3.0
    y[-3:, 2] = -1.0
    alphas = (0.01, 1.0, 100.0)
    for seed in range(3):
        split = _core.folds(40, 4, seed)
        for score in ("pearson", "r2"):
            got = linear_predictivity(x, y, n_folds=4, seed=seed, alphas=alphas, score=score)
            want, _ = ridgecv_predictivity(x, y, split, alphas, score)
            np.testing.assert_allclose(got.scores, want, rtol=1e-6, atol=1e-9)


def test_r2_sees_what_pearson_forgives():
    x = rng(27).standard_normal((200, 3))
    assert linear_predictivity(x, x @ rotation(3, 28), score="r2").mean > 0.99
    assert linear_predictivity(x[:, :1], x[:, :2], score="r2").mean < 0.6


# --------------------------------------------------------------------------- RSA vs rsatoolbox


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_rsa_agrees_with_rsatoolbox(method):
    rsatoolbox = pytest.importorskip("rsatoolbox")
    x, y = related(30, 5, 4, seed=29)
    rdms = [rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(a), method="correlation")
            for a in (x, y)]
    expected = rsatoolbox.rdm.compare(rdms[0], rdms[1],
                                      method="spearman" if method == "spearman" else "corr")
    assert metrics.rsa(x, y, method=method).mean == pytest.approx(float(expected[0, 0]),
                                                                  abs=1e-10)


# --------------------------------------------------------------------------- torch, CUDA, scale

STREAMED = ["semi-matching", "soft-matching", "soft-matching distance", "permutation",
            "procrustes", "shape", "mean cca", "svcca", "pwcca", "cka", "mutual knn", "cknna",
            "linear predictivity"]


@pytest.mark.parametrize("name", list(metrics.METRICS))
def test_every_metric_takes_torch_tensors(name):
    x, y = related(80, 4, 3, seed=30)
    expected = metrics.compare(x, y, name).scores
    np.testing.assert_allclose(metrics.compare(torch.from_numpy(x), torch.from_numpy(y),
                                               name).scores, expected, atol=1e-12)
    single = metrics.compare(torch.from_numpy(x).float(), torch.from_numpy(y).float(), name)
    np.testing.assert_allclose(single.scores, expected, atol=1e-4)


@pytest.mark.parametrize("name", STREAMED)
def test_streaming_in_small_blocks_changes_nothing(name, monkeypatch):
    x, y = related(90, 4, 3, seed=31)
    x = x + 1e4  # a large offset: the sums are centred on the means first
    expected = metrics.compare(x, y, name).scores
    monkeypatch.setattr(_core, "BLOCK_ENTRIES", 7)
    monkeypatch.setattr("srmlib.metrics.neighbors.BLOCK_ENTRIES", 7 * 90)
    np.testing.assert_allclose(metrics.compare(x, y, name).scores, expected, atol=1e-9)


def test_unbiased_cka_is_exact_far_from_the_origin():
    x, y = related(60, 4, 3, seed=32)
    np.testing.assert_allclose(cka(x + 1e6, y - 1e6, unbiased=True).scores,
                               cka(x, y, unbiased=True).scores, atol=1e-8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", STREAMED)
def test_streamed_metrics_run_on_cuda(name):
    x, y = related(500, 8, 6, seed=33)
    expected = metrics.compare(x, y, name).scores
    got = metrics.compare(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda(), name).scores
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_sides_on_different_devices_or_bad_options_are_named():
    x = rng(34).standard_normal((30, 3))
    with pytest.raises(ValueError, match="alpha"):
        shape_distance(x, x, alpha=1.5)
    with pytest.raises(ValueError, match="k must be below"):
        mutual_knn(x, x, k=30)
    with pytest.raises(TypeError, match="k"):
        cknna(x, x, k=2.5)
    with pytest.raises(ValueError, match="score"):
        linear_predictivity(x, x, score="mse")
    with pytest.raises(ValueError, match="direction"):
        linear_predictivity(x, x, direction="sideways")
    with pytest.raises(ValueError, match="variance"):
        svcca(x, x, variance=0.0)
    with pytest.raises(ValueError, match="kind"):
        permutation_distance(x, x, kind="cosine")
    with pytest.raises(TypeError, match="normalize"):
        mutual_knn(x, x, normalize="yes")
    with pytest.raises(ValueError, match="same stimuli"):
        pwcca(x, x[:20])
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="same device"):
            cka(torch.from_numpy(x), torch.from_numpy(x).cuda())


def test_soft_matching_distance_agrees_with_pot_on_unequal_unit_counts():
    ot = pytest.importorskip("ot")
    for seed in range(3):
        x, y = related(70, 5, 3, seed=seed)
        y = y + 2.0  # raw tuning curves: the offset counts
        n = len(x)
        cost = ot.dist(x.T / np.sqrt(n), y.T / np.sqrt(n))  # squared Euclidean
        expected = np.sqrt(ot.emd2(np.full(5, 1 / 5), np.full(3, 1 / 3), cost))
        assert metrics.soft_matching_distance(x, y, standardize=False).mean == pytest.approx(
            expected, abs=1e-9)


@pytest.mark.parametrize("name", STREAMED)
def test_streamed_metrics_take_strided_arrays_and_reject_non_finite_values(name, monkeypatch):
    x, y = related(60, 4, 3, seed=37)
    expected = metrics.compare(x, y, name).scores
    np.testing.assert_allclose(metrics.compare(np.asfortranarray(x), y[:, [2, 0, 1]][:, [1, 2, 0]],
                                               name).scores, expected, atol=1e-12)
    monkeypatch.setattr(_core, "BLOCK_ENTRIES", 70)  # the bad value sits in a later block
    bad = y.copy()
    bad[50, 1] = np.inf
    with pytest.raises(ValueError, match="target contains NaN or infinite"):
        metrics.compare(x, bad, name)
    with pytest.raises(ValueError, match="source contains NaN or infinite"):
        metrics.correlation_matrix(np.where(x > 2, np.nan, x), y)
