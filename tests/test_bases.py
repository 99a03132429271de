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
