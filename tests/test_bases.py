"""Privileged bases and plane enumeration."""

from __future__ import annotations

import numpy as np
import pytest

import srmlib


def test_standard_basis_is_identity():
    np.testing.assert_array_equal(srmlib.standard_basis(4), np.eye(4))


def test_random_rotation_is_a_seeded_rotation():
    r = srmlib.random_rotation(6, seed=3)
    np.testing.assert_allclose(r @ r.T, np.eye(6), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_array_equal(r, srmlib.random_rotation(6, seed=3))
    assert not np.allclose(r, srmlib.random_rotation(6, seed=4))


def axis_coherence(basis: np.ndarray) -> float:
    """Largest |cos| between two different vectors: 1 for parallel or antiparallel pairs."""
    return float(np.abs(basis @ basis.T - np.eye(len(basis))).max())


def test_overcomplete_basis_spreads_axes_apart():
    b = srmlib.overcomplete_basis(16, 8, seed=0)
    assert b.shape == (16, 8)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(b, srmlib.overcomplete_basis(16, 8, seed=0))
    start = srmlib.overcomplete_basis(16, 8, seed=0, steps=0)
    assert axis_coherence(b) < 0.5 < axis_coherence(start)


def test_three_axes_in_the_plane_end_sixty_degrees_apart():
    """The optimum for 3 lines through the origin of the plane: every pair at 60 degrees."""
    b = srmlib.overcomplete_basis(3, 2, seed=1)
    cosines = np.abs(b @ b.T)[np.triu_indices(3, 1)]
    np.testing.assert_allclose(cosines, 0.5, atol=0.01)


@pytest.mark.parametrize("k", [2, 3, 7])
def test_enumerate_planes_counts_and_order(k):
    comb = srmlib.enumerate_planes(k, "comb")
    perm = srmlib.enumerate_planes(k, "perm")
    assert len(comb) == k * (k - 1) // 2 and len(perm) == k * (k - 1)
    assert all(i < j for i, j in comb)
    assert sorted(map(tuple, perm)) == list(map(tuple, perm))
    assert {tuple(p) for p in perm} == {(i, j) for i in range(k) for j in range(k) if i != j}


def test_enumerate_planes_subset():
    sub = srmlib.enumerate_planes(10, "perm", max_planes=9, seed=1)
    assert len(sub) == 9 and len({tuple(p) for p in sub}) == 9
    np.testing.assert_array_equal(sub, srmlib.enumerate_planes(10, "perm", max_planes=9, seed=1))
    assert len(srmlib.enumerate_planes(4, "comb", max_planes=100)) == 6


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: srmlib.standard_basis(1), ValueError, "n_dims must be at least 2"),
        (lambda: srmlib.random_rotation(2.5), TypeError, "n_dims must be an integer"),
        (lambda: srmlib.overcomplete_basis(1, 3), ValueError, "n_vectors must be at least 2"),
        (lambda: srmlib.enumerate_planes(4, "all"), ValueError, "pairs must be one of"),
        (lambda: srmlib.enumerate_planes(4, max_planes=-1), ValueError, "max_planes"),
        (lambda: srmlib.random_rotation(3, seed=-2), ValueError, "seed must be at least 0"),
    ],
)
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- the in-plane frame


def qr_frame(b_i: np.ndarray, b_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The slow twin: Gram-Schmidt by a QR decomposition, signs fixed so u . b_i, v . b_j > 0."""
    q, r = np.linalg.qr(np.stack([b_i, b_j], axis=1))
    q = q * np.sign(np.diag(r))
    return q[:, 0], q[:, 1]


@pytest.mark.parametrize("seed", range(5))
def test_plane_frame_equals_qr_and_spans_the_plane(seed):
    rng = np.random.default_rng(seed)
    d = 2 + seed
    b_i, b_j = rng.uniform(0.1, 5.0) * rng.standard_normal(d), rng.standard_normal(d)
    u, v = srmlib.bases.plane_frame(b_i, b_j)
    want_u, want_v = qr_frame(b_i, b_j)
    np.testing.assert_allclose(u, want_u, atol=1e-12)
    np.testing.assert_allclose(v, want_v, atol=1e-12)
    assert u.dtype == v.dtype == np.float64 and u.shape == v.shape == (d,)
    np.testing.assert_allclose([u @ u, v @ v, u @ v], [1.0, 1.0, 0.0], atol=1e-12)
    coefficients = np.linalg.lstsq(np.stack([u, v], axis=1), b_j, rcond=None)[0]
    np.testing.assert_allclose(coefficients[0] * u + coefficients[1] * v, b_j, atol=1e-12)
    assert v @ b_j > 0 and u @ b_i > 0  # the probe turns from b_i towards +b_j


def test_plane_frame_is_independent_of_scale_and_input_type():
    import torch

    b_i, b_j = np.array([3.0, 1.0, -2.0]), np.array([0.5, 2.0, 1.0])
    u, v = srmlib.bases.plane_frame(b_i, b_j)
    for scale_i, scale_j in [(1e-300, 1e300), (1e300, 1.0), (7.0, 1e-200)]:
        got = srmlib.bases.plane_frame(scale_i * b_i, scale_j * b_j)
        np.testing.assert_allclose(got, (u, v), atol=1e-12)
    got = srmlib.bases.plane_frame(torch.tensor(b_i), list(b_j))
    np.testing.assert_allclose(got, (u, v), atol=1e-12)


@pytest.mark.parametrize("b_i, b_j, error, match", [
    ([1.0, 0.0], [2.0, 1e-9], ValueError, "parallel"),
    ([1.0, 0.0], [-3.0, 0.0], ValueError, "antiparallel"),
    ([0.0, 0.0], [1.0, 0.0], ValueError, "b_i is the zero vector"),
    ([1.0, 0.0], [0.0, 0.0], ValueError, "b_j is the zero vector"),
    ([1.0, 0.0], [0.0, 1.0, 0.0], ValueError, "same shape"),
    ([1.0], [1.0], ValueError, "at least 2"),
    ([[1.0, 0.0]], [0.0, 1.0], ValueError, "b_i must be 1-dimensional"),
    ([1.0, np.nan], [0.0, 1.0], ValueError, "b_i contains"),
    (["a", "b"], [0.0, 1.0], TypeError, "b_i must be an array of real numbers"),
])
def test_plane_frame_rejects_vectors_that_span_no_plane(b_i, b_j, error, match):
    with pytest.raises(error, match=match):
        srmlib.bases.plane_frame(b_i, b_j)
