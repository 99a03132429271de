"""The benchmarks' slow twins compute what srmlib computes, so timing them against it is fair.

``benchmarks.direct_srm`` uses srmlib's convention; ``benchmarks.reference_srm`` (the author's
algorithm) turns the probe the other way, so its value at ``theta`` is srmlib's at ``2 pi - theta``.
Counts are compared exactly. That is sound because every test first checks, with the bracket of
``tests/slow_srm.count_bounds``, that no sample of its seeded data lies within 1e-9 of a cone's
boundary at any angle, where rounding alone could move a sample across; on such data any
difference of even one count is an error.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import srmlib
from benchmarks import direct_srm, reference_srm
from srmlib.bases import plane_frame
from tests import slow_srm

TWO_PI = 2 * np.pi


def sample_data(n: int, d: int, seed: int) -> np.ndarray:
    """Half ReLU-sparse rows (non-zero), half dense Gaussian rows: shape ``(n, d)``."""
    rng = np.random.default_rng(seed)
    relu = np.maximum(rng.standard_normal((n // 2, d)) - 0.5, 0.0)
    silent = ~relu.any(axis=1)
    relu[silent] = np.abs(rng.standard_normal((int(silent.sum()), d)))
    x = np.concatenate([relu, rng.standard_normal((n - n // 2, d))])
    return x[rng.permutation(n)]


def make_case(d: int, basis_kind: str, seed: int):
    """Data ``(n, d)``, basis ``(d, d)``, a few planes ``(P, 2)`` (both orders), angles ``(A,)``."""
    rng = np.random.default_rng(seed + 100)
    x = sample_data(300, d, seed)
    basis = np.eye(d) if basis_kind == "standard" else srmlib.random_rotation(d, seed=seed)
    planes = srmlib.enumerate_planes(d, "perm", max_planes=5, seed=seed)
    grid = np.linspace(0.0, TWO_PI, 36, endpoint=False)
    angles = np.concatenate([grid, rng.uniform(0.0, TWO_PI, 12)])
    return x, basis, planes, angles


def srmlib_counts(x, basis, planes, angles, epsilon) -> np.ndarray:
    res = srmlib.spotlight_resonance(x, basis, epsilon=epsilon, angles=angles, planes=planes)
    counts = np.rint(res.values * res.n_samples).astype(np.int64)
    assert np.allclose(counts, res.values * res.n_samples)
    return counts


def assert_no_boundary_samples(cosines: np.ndarray, epsilon: float) -> None:
    """``cosines`` ``(n, A)``: the bracket is tight, so every count is unambiguous."""
    low, high = slow_srm.count_bounds(cosines, epsilon, signed=False)
    assert np.array_equal(low, high), "a sample lies on a cone boundary: compare with bounds"


def assert_nontrivial(counts: np.ndarray, n: int) -> None:
    """The counts vary and are neither all 0 nor all n, so agreeing on them means something."""
    assert counts.min() < counts.max()
    assert counts.max() > 0 and counts.min() < n


# epsilon 0 in a rotated basis only: in the standard basis ReLU-sparse rows have no component in
# many planes, so their cosine with every probe is exactly 0, on the boundary.
CASES = [(d, kind, eps) for d, kind in [(5, "standard"), (6, "rotated"), (8, "standard"),
                                        (8, "rotated")] for eps in (0.6, -0.3)]
CASES += [(6, "rotated", 0.0), (8, "rotated", 0.0)]


@pytest.mark.parametrize("d, basis_kind, epsilon", CASES)
def test_direct_twin_equals_srmlib(d, basis_kind, epsilon):
    x, basis, planes, angles = make_case(d, basis_kind, seed=d)
    unit_x = reference_srm.unit_samples(x)
    for i, j in planes:
        u, v = plane_frame(basis[i], basis[j])
        assert_no_boundary_samples(unit_x @ direct_srm.probes(u, v, angles).T, epsilon)

    direct = direct_srm.direct_counts(x, basis, planes, angles, epsilon)
    fast = srmlib_counts(x, basis, planes, angles, epsilon)
    assert direct.shape == fast.shape == (len(planes), len(angles))
    assert_nontrivial(fast, len(x))
    np.testing.assert_array_equal(direct, fast)
    np.testing.assert_allclose(direct_srm.direct_srm(x, basis, planes, angles, epsilon),
                               fast / len(x))


def test_direct_twin_equals_srmlib_on_the_worst_case_in_blocks_and_threads(monkeypatch):
    """Row W's setting (a rotated basis, epsilon 0: every pair needs an arc) with srmlib's dense
    route cut into blocks of a few planes and samples and counted on two Python threads."""
    from srmlib import srm as srm_module

    x, basis, planes, angles = make_case(8, "rotated", seed=8)
    planes = srmlib.enumerate_planes(8, "comb")
    unit_x = reference_srm.unit_samples(x)
    for i, j in planes:
        u, v = plane_frame(basis[i], basis[j])
        assert_no_boundary_samples(unit_x @ direct_srm.probes(u, v, angles).T, 0.0)
    direct = direct_srm.direct_counts(x, basis, planes, angles, 0.0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(srm_module, "_SINGLE_THREAD_WORK", 0)
        monkeypatch.setattr(srm_module, "_BLOCK_ELEMENTS", 1000)  # 3 planes of 300, or 1 plane
        for uniform in (True, False):
            if uniform:  # the arithmetic route of a grid
                res = srmlib.spotlight_resonance(x, basis, epsilon=0.0, resolution=36,
                                                 planes=planes)
                grid_counts = direct_srm.direct_counts(x, basis, planes, res.angles, 0.0)
                np.testing.assert_array_equal(grid_counts, np.rint(res.values * len(x)))
            else:
                np.testing.assert_array_equal(direct, srmlib_counts(x, basis, planes, angles, 0.0))
    finally:
        torch.set_num_threads(before)
    assert_nontrivial(direct, len(x))


@pytest.mark.parametrize("d, basis_kind, epsilon", CASES)
def test_reference_twin_equals_srmlib_at_mirrored_angles(d, basis_kind, epsilon):
    x, basis, planes, angles = make_case(d, basis_kind, seed=d)
    unit_x = reference_srm.unit_samples(x)
    for i, j in planes:
        matrices = reference_srm.rotation_matrices(basis[i], basis[j], angles)
        cosines = np.einsum("bi,j,aij->ba", unit_x, basis[i] / np.linalg.norm(basis[i]), matrices)
        assert_no_boundary_samples(cosines, epsilon)

    reference = reference_srm.reference_counts(x, basis, planes, angles, epsilon)
    mirrored = srmlib_counts(x, basis, planes, np.mod(TWO_PI - angles, TWO_PI), epsilon)
    assert_nontrivial(mirrored, len(x))
    np.testing.assert_array_equal(reference, mirrored)
    np.testing.assert_allclose(reference_srm.reference_srm(x, basis, planes, angles, epsilon),
                               mirrored / len(x))
    # The mirror is needed: on this (asymmetric) data the unmirrored values differ.
    assert not np.array_equal(reference, srmlib_counts(x, basis, planes, angles, epsilon))


@pytest.mark.parametrize("basis_kind", ["standard", "rotated"])
def test_reference_matrices_turn_the_probe_towards_minus_b_j(basis_kind):
    d = 7
    basis = np.eye(d) if basis_kind == "standard" else srmlib.random_rotation(d, seed=3)
    basis = basis * np.arange(1.0, d + 1.0)[:, None]  # lengths must not matter
    angles = np.linspace(0.0, TWO_PI, 24, endpoint=False)
    for i, j in [(0, 1), (4, 2), (6, 0)]:
        u, v = plane_frame(basis[i], basis[j])
        matrices = reference_srm.rotation_matrices(basis[i], basis[j], angles)
        expected = np.cos(angles)[:, None] * u - np.sin(angles)[:, None] * v
        np.testing.assert_allclose(matrices @ u, expected, atol=1e-12)


def test_twins_leave_out_zero_rows_like_srmlib():
    x, basis, planes, angles = make_case(5, "rotated", seed=11)
    x = np.concatenate([x, np.zeros((4, 5))])
    with pytest.warns(UserWarning, match="zero vectors"):
        res = srmlib.spotlight_resonance(x, basis, epsilon=-0.3, angles=angles, planes=planes)
    np.testing.assert_allclose(direct_srm.direct_srm(x, basis, planes, angles, -0.3), res.values)
    ref = reference_srm.reference_srm(x, basis, planes, np.mod(TWO_PI - angles, TWO_PI), -0.3)
    np.testing.assert_allclose(ref, res.values)


def test_comparison_catches_a_small_error():
    """Sanity check of the test itself: a 0.02 change of epsilon changes some count."""
    x, basis, planes, angles = make_case(6, "rotated", seed=6)
    fast = srmlib_counts(x, basis, planes, angles, 0.6)
    assert not np.array_equal(direct_srm.direct_counts(x, basis, planes, angles, 0.62), fast)
    assert not np.array_equal(
        reference_srm.reference_counts(x, basis, planes, np.mod(TWO_PI - angles, TWO_PI), 0.62),
        fast)
