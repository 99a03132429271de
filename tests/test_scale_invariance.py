"""Finite input of any scale gives the right answer, or a clear error (issue 15, category 1).

SRM, PPPM, the rotation test, feature matching, every alignment metric and the toy models'
feature dimensionality are invariant to the scale of their input (interference and PPPM's
coordinates scale in a known way). Property-based tests (hypothesis) draw a data set (from a
seed, so its directions are generic) and a scale from 1e-300 to 1e300 (float32: within its
range), and compare the scaled result with the unscaled one, which the slow twins of
``test_srm.py``, ``test_metrics*.py``, ``test_sae.py`` and ``test_toy.py`` check.

Tolerances, and why:

- a power of two ``2**k`` changes no digit of the data (the entries below are at least ``2**-10``
  and at most ``2**3`` in magnitude, so ``x * 2**k`` stays normal for ``|k| <= 1000``, float32
  ``|k| <= 100``): the scaled input *is* the input, in other units, and every result must be
  **identical**, bit for bit (SRM counts, PPPM cosines, matching) or to ``1e-12`` where a LAPACK
  routine (eigh, SVD) works on it, whose internal thresholds need not commute with the units;
- any other factor ``c`` rounds every entry (relative error ``2**-53``): continuous results may
  move by a few rounding errors amplified by the conditioning of these small problems (``1e-9``);
  a count (SRM) changes only where a sample lies within ``1e-16`` of a cone's edge, which for
  Gaussian directions happens with probability below ``1e-12`` per count, so the SRM values are
  still required to agree to one sample (``1 / n``).

The whole file runs in a few seconds: small inputs, few hypothesis examples per property.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import srmlib
from srmlib import metrics, stats, toy
from srmlib.sae import match_features, matching_null

EXAMPLES = 8  # hypothesis examples per property (each one a data set and a scale)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True)

seeds = st.integers(0, 2**32 - 1)


def exponents(limit: int, extreme: int):
    """Integers in ``[-limit, limit]``, two draws in three beyond ``+-extreme`` (hypothesis
    favours small integers, which would rarely leave the range that needs no rescaling)."""
    return st.one_of(st.integers(-limit, limit), st.integers(extreme, limit),
                     st.integers(-limit, -extreme))


powers64 = exponents(1000, 500)  # 2**k from about 1e-301 to 1e301; beyond 1e150 often
powers32 = exponents(100, 60)  # float32: 2**k * [2**-10, 2**3] stays normal
factors = st.floats(-300.0, 300.0).map(lambda u: 10.0**u)  # any factor, 1e-300 .. 1e300
# the extremes the issue names, and the ends of the range
EXTREMES = [1e154, 1e200, 1e300, 1e-160, 1e-170, 1e-300]


def generic(seed: int, shape, *, relu: bool = False) -> np.ndarray:
    """Gaussian-like data with every non-zero entry in ``[2**-10, 2**3]`` in magnitude."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x = np.sign(x) * np.clip(np.abs(x), 2.0**-10, 2.0**3)
    if relu:
        x = np.maximum(x, 0.0)
        x = x[x.any(axis=1)]
    return x


def power(x, k: int):
    """``x * 2**k`` exactly (in two halves, so that ``2**k`` itself need not be representable)."""
    half = k // 2
    return x * np.asarray(2.0**half, dtype=x.dtype) * np.asarray(2.0 ** (k - half), dtype=x.dtype)


# --------------------------------------------------------------------------- SRM


def srm_values(x, basis=None, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero rows, where a test adds them
        return srmlib.spotlight_resonance(x, basis, epsilon=options.pop("epsilon", 0.8),
                                          resolution=16, **options).values


@SETTINGS
@given(seed=seeds, k=powers64, signed=st.booleans())
def test_srm_is_identical_at_every_power_of_two(seed, k, signed):
    x = generic(seed, (60, 4), relu=True)
    assert np.array_equal(srm_values(power(x, k), signed=signed), srm_values(x, signed=signed))


@SETTINGS
@given(seed=seeds, c=factors)
def test_srm_agrees_at_any_factor(seed, c):
    x = generic(seed, (60, 4))
    assert np.abs(srm_values(x * c) - srm_values(x)).max() <= 1 / len(x)


@SETTINGS
@given(seed=seeds, k=powers32)
def test_srm_float32_is_identical_at_every_power_of_two(seed, k):
    x = generic(seed, (60, 4), relu=True).astype(np.float32)
    assert np.array_equal(srm_values(power(x, k)), srm_values(x))


@SETTINGS
@given(seed=seeds, k=exponents(900, 500), rotated=st.booleans())
def test_srm_basis_of_any_length(seed, k, rotated):
    """Basis vectors of any length, mixed in one basis (``|k| <= 900``: a rotation's smallest
    entries stay normal)."""
    x = generic(seed, (60, 3))
    basis = srmlib.random_rotation(3, seed) if rotated else np.eye(3)
    lengths = np.array([k, -k, 0])
    scaled = np.stack([power(b, int(e)) for b, e in zip(basis, lengths)])
    assert np.array_equal(srm_values(x, scaled), srm_values(x, basis))


@SETTINGS
@given(seed=seeds, k=exponents(1000, 500).map(abs))
def test_srm_rows_of_mixed_scale_all_count(seed, k):
    """SRM normalises each row: rows at 2**-k and 2**k in one input both count, unchanged."""
    x = generic(seed, (60, 4))
    mixed = x.copy()
    mixed[::2] = power(x[::2], -k)
    mixed[1::2] = power(x[1::2], k)
    assert np.array_equal(srm_values(mixed), srm_values(x))


@pytest.mark.parametrize("c", EXTREMES)
def test_srm_at_the_extremes_the_issue_names(c):
    x = generic(0, (80, 4), relu=True)
    assert np.abs(srm_values(x * c) - srm_values(x)).max() <= 1 / len(x)
    assert np.abs(srm_values(x * c, signed=True) - srm_values(x, signed=True)).max() <= 2 / len(x)


@pytest.mark.parametrize("c", [np.float32(1e30), np.float32(3e38), np.float32(1e-30),
                               np.float32(1e-34)])
def test_srm_float32_near_its_limits(c):
    x = generic(1, (80, 4), relu=True).astype(np.float32)
    x = x / np.abs(x).max()  # entries in [2**-13, 1]: times 3e38 or 1e-34 stays normal
    assert np.abs(srm_values(x * c) - srm_values(x)).max() <= 1 / len(x)


def test_srm_zero_rows_among_huge_ones_are_left_out():
    x = generic(2, (40, 3))
    padded = np.concatenate([x * 1e300, np.zeros((5, 3))])
    with pytest.warns(UserWarning, match="5 of 45 activation rows are zero"):
        result = srmlib.spotlight_resonance(padded, epsilon=0.8, resolution=16)
    assert result.n_excluded == 5 and result.n_samples == 40
    assert np.abs(result.values - srm_values(x)).max() <= 1 / len(x)


def test_srm_subnormal_rows_have_a_direction():
    """A float64 row of subnormal entries (below 2.2e-308) still has a direction."""
    x = generic(3, (40, 3), relu=True)
    tiny = power(x, -1060)  # every entry a subnormal multiple of 2**-1070, exactly
    assert np.array_equal(srm_values(tiny), srm_values(x))


def test_srm_integer_inputs_of_any_size():
    x = np.random.default_rng(4).integers(-(2**62), 2**62, size=(50, 3))
    assert np.array_equal(srm_values(x), srm_values(x.astype(np.float64) * 2.0**-62))


def test_srm_all_zero_input_is_a_clear_error():
    with pytest.raises(ValueError, match="activations: every row is the zero vector"):
        srmlib.spotlight_resonance(np.zeros((5, 3)))


@SETTINGS
@given(seed=seeds, k=powers64)
def test_pppm_scales_with_the_input(seed, k):
    """The cosines and selection are unchanged; the coordinates scale with the input."""
    x = generic(seed, (40, 3))
    base, scaled = srmlib.pppm(x, epsilon=0.7), srmlib.pppm(power(x, k), epsilon=0.7)
    assert np.array_equal(scaled.plane_cosine, base.plane_cosine)
    assert np.array_equal(scaled.sample_index, base.sample_index)
    assert np.array_equal(scaled.coords, power(base.coords, k))


@SETTINGS
@given(seed=seeds, k=powers64)
def test_project_is_identical_at_every_power_of_two(seed, k):
    x = generic(seed, (40, 3))
    base, scaled = srmlib.project(x), srmlib.project(power(x, k))
    assert np.array_equal(scaled.projections.numpy(), base.projections.numpy())
    lengths = scaled.norms.numpy()
    if scaled.norm_exponents is not None:
        lengths = np.ldexp(lengths, scaled.norm_exponents.numpy())
    assert np.array_equal(lengths, power(base.norms.numpy(), k))


@SETTINGS
@given(seed=seeds, k=powers64, statistic=st.sampled_from(["contrast", "alignment"]))
def test_rotation_test_is_identical_at_every_power_of_two(seed, k, statistic):
    x = generic(seed, (50, 3), relu=True)
    options = dict(epsilon=0.8, resolution=8, n_rotations=4, seed=seed, statistic=statistic)
    base = stats.rotation_test(x, **options)
    scaled = stats.rotation_test(power(x, k), **options)
    assert scaled.observed == base.observed and scaled.p_value == base.p_value
    assert np.array_equal(scaled.null, base.null)
    longer = stats.rotation_test(x, power(np.eye(3), k), **options)  # a long basis
    assert longer.observed == base.observed and np.array_equal(longer.null, base.null)


# --------------------------------------------------------------------------- feature matching


@SETTINGS
@given(seed=seeds, k=powers64, j=powers64)
def test_match_features_at_any_lengths(seed, k, j):
    atoms = generic(seed, (6, 4))
    features = generic(seed + 1, (4, 4))
    base = match_features(atoms, features)
    scaled = match_features(power(atoms, k), power(features, j))
    assert scaled.score == base.score
    assert np.array_equal(scaled.similarity, base.similarity)
    assert np.array_equal(scaled.atom_index, base.atom_index)


@SETTINGS
@given(seed=seeds, c=factors)
def test_match_features_at_any_factor(seed, c):
    atoms, features = generic(seed, (6, 4)), generic(seed + 1, (4, 4))
    assert match_features(atoms * c, features / c).score == pytest.approx(
        match_features(atoms, features).score, rel=1e-12)


@SETTINGS
@given(seed=seeds, k=powers64)
def test_matching_null_at_any_length(seed, k):
    features = generic(seed, (4, 3))
    base = matching_null(features, 5, n_dictionaries=20, seed=seed)
    assert np.array_equal(matching_null(power(features, k), 5, n_dictionaries=20,
                                        seed=seed).scores, base.scores)


@pytest.mark.parametrize("c", EXTREMES)
def test_match_features_at_the_extremes(c):
    atoms, features = generic(5, (6, 4)), generic(6, (4, 4))
    assert match_features(atoms * c, features * c).score == pytest.approx(
        match_features(atoms, features).score, rel=1e-12)
    assert np.allclose(matching_null(features * c, 5, n_dictionaries=20).scores,
                       matching_null(features, 5, n_dictionaries=20).scores, rtol=1e-12)


def test_match_features_float32_near_its_limits():
    atoms = generic(7, (6, 4)).astype(np.float32)
    features = generic(8, (4, 4)).astype(np.float32)
    big, small = np.float32(2.0**120), np.float32(2.0**-110)  # stays normal
    assert match_features(atoms * big, features * small).score == match_features(
        atoms, features).score


def test_match_features_zero_rows_are_a_clear_error():
    with pytest.raises(ValueError, match="atoms has zero rows"):
        match_features(np.array([[1e300, 0.0], [0.0, 0.0]]), np.eye(2))


# --------------------------------------------------------------------------- metrics

# The 14 metrics, on small inputs (cross-validated ones with 2 folds).
OPTIONS = {"semi-matching": dict(n_folds=2), "soft-matching": dict(n_folds=2),
           "linear predictivity": dict(n_folds=2), "mutual knn": dict(k=3),
           "cknna": dict(k=3)}


def metric(name, x, y):
    return metrics.METRICS[name](x, y, **OPTIONS.get(name, {})).scores


def metric_pair(seed: int, dtype=np.float64):
    x = generic(seed, (24, 4))
    y = x @ np.random.default_rng(seed + 1).standard_normal((4, 3)) + generic(seed + 2, (24, 3))
    y = np.sign(y) * np.clip(np.abs(y), 2.0**-10, 2.0**3)  # entries within [2**-10, 2**3]
    return x.astype(dtype), y.astype(dtype)


def close(a, b, tolerance):
    return np.allclose(a, b, rtol=tolerance, atol=tolerance)


@SETTINGS
@given(seed=seeds, k=powers64, j=powers64)
def test_every_metric_at_every_power_of_two(seed, k, j):
    """Each side scaled by its own power of two (each metric is invariant to each side's scale)."""
    x, y = metric_pair(seed)
    for name in metrics.METRICS:
        assert close(metric(name, power(x, k), power(y, j)), metric(name, x, y), 1e-12), name


@SETTINGS
@given(seed=seeds, c=factors)
def test_every_metric_at_any_factor(seed, c):
    x, y = metric_pair(seed)
    for name in metrics.METRICS:
        assert close(metric(name, x * c, y / c), metric(name, x, y), 1e-9), name


@SETTINGS
@given(seed=seeds, k=powers32)
def test_every_metric_float32_at_every_power_of_two(seed, k):
    """float32 data (whose products the metrics form in float32) up to 2**+-100."""
    x, y = metric_pair(seed, np.float32)
    for name in metrics.METRICS:
        assert close(metric(name, power(x, k), power(y, -k)), metric(name, x, y), 1e-6), name


@pytest.mark.parametrize("c", EXTREMES)
@pytest.mark.parametrize("name", sorted(metrics.METRICS))
def test_every_metric_at_the_extremes_the_issue_names(name, c):
    x, y = metric_pair(9)
    assert close(metric(name, x * c, y * c), metric(name, x, y), 1e-9)


@pytest.mark.parametrize("c", EXTREMES)
def test_metric_helpers_at_the_extremes(c):
    x, y = metric_pair(10)
    assert close(metrics.correlation_matrix(x * c, y), metrics.correlation_matrix(x, y), 1e-12)
    assert close(metrics.rdm(x * c), metrics.rdm(x), 1e-12)
    assert close(metrics.canonical_correlations(x * c, y / c),
                 metrics.canonical_correlations(x, y), 1e-9)
    assert np.array_equal(metrics.nearest_neighbors(x * c, 3), metrics.nearest_neighbors(x, 3))


# invariant to each unit's scale (correlations, z-scored ridge, CCA), or not
PER_UNIT = ["semi-matching", "soft-matching", "linear predictivity", "soft-matching distance",
            "mean cca"]
WHOLE = ["permutation", "procrustes", "shape", "svcca", "pwcca", "cka", "mutual knn", "cknna"]


@SETTINGS
@given(seed=seeds, k=exponents(1000, 500).map(abs))
def test_units_of_mixed_scale_on_one_side(seed, k):
    """Units at ``2**-k`` and ``2**k`` on one side: a metric invariant to each unit's scale is
    unchanged. Any other metric is dominated by the largest unit: the others change it by at most
    the order of their amplitude ratio, ``2**-k``, below rounding for ``k > 53``, so from there
    on it no longer depends on ``k``: it equals its value at ``k = 100``, an input (largest
    value ``2**103``) that the metrics take as it is, without rescaling."""
    x, y = metric_pair(seed)

    def mixed(k):
        m = x.copy()
        m[:, 0], m[:, 1] = power(x[:, 0], -k), power(x[:, 1], k)
        return m

    for name in PER_UNIT:
        assert close(metric(name, mixed(k), y), metric(name, x, y), 1e-9), name
    for name in WHOLE if k > 53 else []:
        assert close(metric(name, mixed(k), y), metric(name, mixed(100), y), 1e-9), name


def test_metric_of_an_all_zero_side_is_a_clear_error():
    x, _ = metric_pair(11)
    with pytest.raises(ValueError, match="every unit of target is constant"):
        metrics.cka(x * 1e300, np.zeros((len(x), 2)))


# --------------------------------------------------------------------------- toy models


@SETTINGS
@given(seed=seeds, k=powers64)
def test_feature_dimensionality_at_every_power_of_two(seed, k):
    """Invariant to the scale of the directions (``tiny=0``: no length counts as zero)."""
    d = generic(seed, (5, 2))
    assert np.array_equal(toy.feature_dimensionality(power(d, k), tiny=0.0),
                          toy.feature_dimensionality(d, tiny=0.0))


@SETTINGS
@given(seed=seeds, k=st.one_of(st.integers(-530, 500), st.integers(-530, -505)))
def test_interference_scales_as_the_square(seed, k):
    """Grows as the square of the scale: exactly, while ``2**(2k)`` times it is representable
    (down to ``2**-530``, where the squares of the directions underflow; beyond ``2**512`` it
    overflows: the error tested below)."""
    d = generic(seed, (5, 2))
    assert np.array_equal(toy.interference(power(d, k), tiny=0.0),
                          power(toy.interference(d, tiny=0.0), 2 * k))


@pytest.mark.parametrize("c", EXTREMES)
def test_feature_dimensionality_at_the_extremes(c):
    d = generic(12, (5, 2))
    assert close(toy.feature_dimensionality(d * c, tiny=0.0), toy.feature_dimensionality(d), 1e-12)


def test_interference_beyond_float64_is_a_clear_error():
    with pytest.raises(ValueError, match="interference exceeds the float64 range"):
        toy.interference(generic(13, (5, 2)) * 1e300)


# --------------------------------------------------------------------------- the shared rule


def test_times_power_of_two_is_exact_across_the_whole_range():
    """The helper every entry point uses: a subnormal brought up by ``2**1074``, the largest
    float64 down to ``2**-1`` and a float32 subnormal up by ``2**149``, all exactly."""
    from srmlib._validation import magnitude_exponents, times_power_of_two

    assert times_power_of_two(np.array([5e-324]), 1074)[0] == 1.0
    biggest = np.finfo(np.float64).max
    assert times_power_of_two(np.array([biggest]), -1024)[0] == biggest * 2.0**-1024
    f32 = torch.tensor([1.4e-45], dtype=torch.float32)  # the smallest float32 subnormal
    assert float(times_power_of_two(f32, 149)[0]) == 1.0
    e = magnitude_exponents(torch.tensor([5e-324, 1.0, biggest, 0.0], dtype=torch.float64))
    assert e.tolist() == [-1073, 1, 1024, 0]
