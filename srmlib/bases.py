"""Privileged bases and the planes they span.

A basis is an array of shape ``(n_vectors, n_dims)`` with one vector per row. Chapter 1
("Spotlight Resonance from first principles") explains why a basis can be privileged.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import special_ortho_group

from ._validation import check_choice, check_int, make_rng

PAIRS = ("comb", "perm")


def standard_basis(n_dims: int) -> np.ndarray:
    """The neuron basis: the ``(n_dims, n_dims)`` identity, one unit vector per neuron."""
    return np.eye(check_int(n_dims, "n_dims", minimum=2))


def random_rotation(n_dims: int, seed=None) -> np.ndarray:
    """A Haar-random rotation matrix of shape ``(n_dims, n_dims)`` (orthogonal, determinant +1).

    Its rows form a randomly rotated orthonormal basis, so ``random_rotation(d, seed)`` is also
    the "rotated basis" of the book's chapters.
    """
    n_dims = check_int(n_dims, "n_dims", minimum=2)
    return special_ortho_group.rvs(n_dims, random_state=make_rng(seed))


def overcomplete_basis(n_vectors: int, n_dims: int, seed=None, steps: int = 300) -> np.ndarray:
    """``n_vectors`` unit vectors in ``n_dims`` dimensions, spread apart like charges on a sphere.

    Starts from random Gaussian directions and runs ``steps`` of projected gradient descent on the
    Thomson (Coulomb) energy ``sum_{i<j} 1/|b_i - b_j|``, so no two vectors are close to parallel.
    Returns an array of shape ``(n_vectors, n_dims)`` with unit rows.
    """
    n_vectors = check_int(n_vectors, "n_vectors", minimum=2)
    n_dims = check_int(n_dims, "n_dims", minimum=2)
    steps = check_int(steps, "steps", minimum=0)
    start = make_rng(seed).standard_normal((n_vectors, n_dims))
    b = torch.tensor(start / np.linalg.norm(start, axis=1, keepdims=True), requires_grad=True)
    optimiser = torch.optim.Adam([b], lr=0.01)
    off_diagonal = ~torch.eye(n_vectors, dtype=torch.bool)
    for _ in range(steps):
        optimiser.zero_grad()
        unit = b / b.norm(dim=1, keepdim=True)
        distances = torch.cdist(unit, unit)[off_diagonal]
        (1.0 / distances.clamp_min(1e-6)).sum().backward()
        optimiser.step()
    unit = b.detach() / b.detach().norm(dim=1, keepdim=True)
    return unit.numpy()


def enumerate_planes(n_vectors: int, pairs: str = "comb", max_planes=None, seed=None) -> np.ndarray:
    """Index pairs ``(i, j)`` of the planes spanned by basis vectors ``b_i`` and ``b_j``.

    Parameters
    ----------
    n_vectors : int
        Number of basis vectors ``k``.
    pairs : {"comb", "perm"}
        ``"comb"``: the ``k(k-1)/2`` unordered planes ``i < j``. ``"perm"``: all ``k(k-1)``
        ordered pairs ``i != j``; ``(j, i)`` is the plane ``(i, j)`` swept the other way round.
    max_planes : int, optional
        Keep a random subset of this many planes (drawn without replacement with ``seed``),
        returned in the same sorted order as the full list.

    Returns
    -------
    numpy.ndarray of int64, shape ``(n_planes, 2)``
    """
    n_vectors = check_int(n_vectors, "n_vectors", minimum=2)
    pairs = check_choice(pairs, "pairs", PAIRS)
    i, j = np.meshgrid(np.arange(n_vectors), np.arange(n_vectors), indexing="ij")
    keep = (i < j) if pairs == "comb" else (i != j)
    planes = np.stack([i[keep], j[keep]], axis=1).astype(np.int64)
    if max_planes is not None:
        max_planes = check_int(max_planes, "max_planes", minimum=1)
        if max_planes < len(planes):
            chosen = make_rng(seed).choice(len(planes), size=max_planes, replace=False)
            planes = planes[np.sort(chosen)]
    return planes
