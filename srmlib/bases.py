"""Privileged bases, the planes they span, and the orthonormal frame of each plane.

A basis is an array of shape ``(n_vectors, n_dims)`` with one vector per row. Chapter 1
("Spotlight Resonance from first principles") explains why a basis can be privileged and derives
the in-plane frame (:func:`plane_frame`).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import special_ortho_group

from ._random import make_rng
from ._validation import as_float_tensor, check_choice, check_int, check_seed

PAIRS = ("comb", "perm")

#: Two basis vectors whose angle has a smaller sine are (anti)parallel: they span no plane.
MIN_PLANE_SINE = 1e-6


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
    """``n_vectors`` unit vectors in ``n_dims`` dimensions whose axes are spread far apart.

    A basis vector and its negative span the same axis (and together no plane), so the vectors
    repel each other *and* each other's negatives: starting from random Gaussian directions,
    ``steps`` of projected gradient descent on the Coulomb energy of the ``2 n_vectors`` points
    ``+-b_i`` (``sum_{i<j} 1/|b_i - b_j| + 1/|b_i + b_j|``), with step sizes shrinking
    geometrically. No two vectors end close to parallel or antiparallel.

    Returns an array of shape ``(n_vectors, n_dims)`` with unit rows.
    """
    n_vectors = check_int(n_vectors, "n_vectors", minimum=2)
    n_dims = check_int(n_dims, "n_dims", minimum=2)
    steps = check_int(steps, "steps", minimum=0)
    b = make_rng(seed).standard_normal((n_vectors, n_dims))
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    for step_size in np.geomspace(0.1, 0.001, steps):
        force = np.zeros_like(b)
        for sign in (1.0, -1.0):
            diff = b[:, None, :] - sign * b[None, :, :]  # (k, k, d): b_i -+ b_j
            dist = np.linalg.norm(diff, axis=2)
            np.fill_diagonal(dist, np.inf)  # no self-repulsion (b_i + b_i is not a pair either)
            force += (diff / dist[:, :, None] ** 3).sum(axis=1)
        force -= (force * b).sum(axis=1, keepdims=True) * b  # move along the sphere
        b += step_size * force / np.linalg.norm(force, axis=1).max()
        b /= np.linalg.norm(b, axis=1, keepdims=True)
    return b


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
    seed = check_seed(seed, "seed", none=True, generator=True)  # even where nothing is drawn
    i, j = np.meshgrid(np.arange(n_vectors), np.arange(n_vectors), indexing="ij")
    keep = (i < j) if pairs == "comb" else (i != j)
    planes = np.stack([i[keep], j[keep]], axis=1).astype(np.int64)
    if max_planes is not None:
        max_planes = check_int(max_planes, "max_planes", minimum=1)
        if max_planes < len(planes):
            chosen = make_rng(seed).choice(len(planes), size=max_planes, replace=False)
            planes = planes[np.sort(chosen)]
    return planes


def plane_frame(b_i, b_j) -> tuple[np.ndarray, np.ndarray]:
    """The orthonormal frame ``(u, v)`` of the plane of two basis vectors, ``u`` along ``b_i``.

    ``u = b_i / |b_i|`` and ``v`` is the unit part of ``b_j`` orthogonal to ``u`` (one
    Gram-Schmidt step: ``w = b_j - (b_j . u) u``, ``v = w / |w|``), so ``v . b_j > 0``. The
    spotlight probe at angle ``theta`` is ``cos(theta) u + sin(theta) v``: it turns from ``b_i``
    towards ``+b_j``. Chapter 1 ("Planes, bivectors and rotations") derives it.

    Parameters
    ----------
    b_i, b_j : array_like or torch.Tensor, shape (d,)
        Two basis vectors of any non-zero lengths, not necessarily orthogonal, ``d >= 2``.

    Returns
    -------
    u, v : numpy.ndarray of float64, shape (d,)
        Orthonormal, spanning the same plane as ``b_i`` and ``b_j``.

    Raises
    ------
    ValueError
        If a vector is zero, the shapes differ, or ``b_i`` and ``b_j`` are parallel or
        antiparallel (the sine of their angle below :data:`MIN_PLANE_SINE`): they span no plane.

    Examples
    --------
    >>> u, v = plane_frame([2.0, 0.0, 0.0], [1.0, 1.0, 0.0])
    >>> u.tolist(), v.tolist()
    ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    """
    u = _unit_vector(b_i, "b_i")
    unit_j = _unit_vector(b_j, "b_j")
    if unit_j.shape != u.shape:
        raise ValueError(f"b_i and b_j must have the same shape, got {u.shape} and {unit_j.shape}")
    w = unit_j - (unit_j @ u) * u
    sine = float(np.linalg.norm(w))  # the sine of the angle between b_i and b_j
    if sine < MIN_PLANE_SINE:
        kind = "parallel" if unit_j @ u > 0 else "antiparallel"
        raise ValueError(f"b_i and b_j are {kind} (sine of their angle {sine:.3g}), so they span "
                         "no plane")
    return u, w / sine


def _unit_vector(vector, name: str) -> np.ndarray:
    """``vector / |vector|`` as float64, scaled first so that no finite input overflows."""
    b = as_float_tensor(vector, name, ndim=1).cpu().numpy().astype(np.float64)
    if len(b) < 2:
        raise ValueError(f"{name} must have at least 2 entries to lie in a plane, got {len(b)}")
    largest = np.abs(b).max()
    if largest == 0:
        raise ValueError(f"{name} is the zero vector, which has no direction")
    b = b / largest
    return b / np.linalg.norm(b)
