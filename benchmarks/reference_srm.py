"""The author's Spotlight Resonance algorithm, reimplemented: rotation matrices from eigenvectors.

This follows the reference code of Bird's Spotlight Resonance Method (GeorgeBird1/
Spotlight-Resonance-Method, ``SpotlightResonanceMethod.py``) step by step, so that timing it
measures the cost of that algorithm. For each plane ``(b_i, b_j)``:

1. the generator ``G = (u w^T - w u^T) / 2`` from the unit vectors ``u = b_i/|b_i|`` and
   ``w = b_j/|b_j|`` (shape ``(d, d)``);
2. ``G = V diag(lambda) V^{-1}`` by ``np.linalg.eig``; the eigenvalues are made purely imaginary
   and scaled so the largest has modulus 1 (a unit-speed rotation);
3. ``A`` matrices ``R(theta) = Re(V diag(exp(theta lambda)) V^H)`` (shape ``(A, d, d)``), with the
   conjugate transpose ``V^H`` in place of ``V^{-1}``, as in the reference;
4. every unit sample's inner product with every rotated probe ``R(theta) b_i``, as one
   three-operand ``np.einsum`` (shape ``(n, A)``), counted against ``epsilon``.

Differences from the reference code, none of which changes its cost: the probe is the unit vector
``u`` (the reference uses ``b_i`` as given, the same for a unit basis), zero rows are left out as
srmlib does (the reference counts them as samples with cosine 0), and the caller chooses the angles
and planes (the reference uses ``np.linspace(0, 2 pi, A)`` with the endpoint, in shuffled order).

Direction: ``G u = -(sin / 2) v`` with ``v`` the unit part of ``b_j`` orthogonal to ``u``, so the
probe turns from ``b_i`` towards ``-b_j``: ``R(theta) u = cos(theta) u - sin(theta) v``. The value
here at ``theta`` is srmlib's at ``2 pi - theta``.

On the eigenvectors: ``G`` has the pair ``+-i sin/2`` and ``d - 2`` zero eigenvalues.
``np.linalg.eig`` returns orthonormal eigenvectors for the pair (distinct eigenvalues of a normal
matrix) but, for a basis that is not the standard one, generally non-orthogonal ones for the
repeated zero eigenvalue, so ``R(theta)`` is then *not* a rotation matrix (``R^T R != I``). The
zero-eigenvalue eigenvectors span the orthogonal complement of the plane, to which ``u`` is
orthogonal, so ``R(theta) u`` (the only thing the method uses) is still the rotated probe, up to
rounding. We build the matrices exactly as the reference does and rely on that; the tests check
``R(theta) u``, not ``R``.
"""

from __future__ import annotations

import numpy as np


def unit_samples(activations: np.ndarray) -> np.ndarray:
    """Non-zero rows of ``activations`` (shape ``(n, d)``) scaled to length 1: ``(n_valid, d)``."""
    x = np.asarray(activations, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1)
    keep = norms > 0
    return x[keep] / norms[keep, None]


def rotation_matrices(b_i: np.ndarray, b_j: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """The reference's matrices ``Re(V exp(theta Lambda) V^H)`` for one plane: ``(A, d, d)``.

    ``b_i``, ``b_j`` have shape ``(d,)``; ``angles`` shape ``(A,)``. See the module docstring for
    why these need not be orthogonal matrices while ``R(theta) b_i`` is still right.
    """
    u = b_i / np.linalg.norm(b_i)
    w = b_j / np.linalg.norm(b_j)
    generator = 0.5 * (np.outer(u, w) - np.outer(w, u))  # (d, d), antisymmetric
    eigenvalues, eigenvectors = np.linalg.eig(generator)  # (d,), (d, d) complex
    eigenvalues = 1j * eigenvalues.imag
    eigenvalues = eigenvalues / np.abs(eigenvalues).max()  # unit angular speed
    phases = np.exp(np.asarray(angles, dtype=np.float64)[:, None] * eigenvalues[None, :])  # (A, d)
    # R[a] = V diag(phases[a]) V^H, summed over the eigen-index j in one einsum, as the reference
    matrices = np.einsum("ij,aj,jk->aik", eigenvectors, phases, eigenvectors.conj().T)
    return matrices.real


def plane_counts(unit_x: np.ndarray, b_i: np.ndarray, b_j: np.ndarray, angles: np.ndarray,
                 epsilon: float) -> np.ndarray:
    """Samples inside the cone around ``R(theta) u`` for each angle, one plane: int ``(A,)``.

    ``unit_x`` has shape ``(n, d)`` with unit rows. The inner products are formed as the reference
    forms them: ``einsum("bi,j,aij->ba", x, probe, R)``, shape ``(n, A)``.
    """
    matrices = rotation_matrices(b_i, b_j, angles)
    probe = b_i / np.linalg.norm(b_i)
    inner = np.einsum("bi,j,aij->ba", unit_x, probe, matrices)  # (n, A)
    return (inner >= epsilon).sum(axis=0)


def count_planes(one_plane, activations, basis, planes, angles, epsilon: float) -> np.ndarray:
    """Run a one-plane counter ``one_plane(unit_x, b_i, b_j, angles, epsilon)`` on every plane.

    ``activations`` ``(n, d)``, ``basis`` ``(k, d)`` (one vector per row), ``planes`` ``(P, 2)``,
    ``angles`` ``(A,)``. Returns int counts ``(P, A)``; row ``p`` is plane ``planes[p] = (i, j)``.
    """
    unit_x = unit_samples(activations)
    basis = np.asarray(basis, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64)
    return np.stack([one_plane(unit_x, basis[i], basis[j], angles, epsilon)
                     for i, j in np.asarray(planes)])


def reference_counts(activations, basis, planes, angles, epsilon: float) -> np.ndarray:
    """Counts ``(P, A)`` by the reference algorithm; the probe turns towards ``-b_j``."""
    return count_planes(plane_counts, activations, basis, planes, angles, epsilon)


def reference_srm(activations, basis, planes, angles, epsilon: float) -> np.ndarray:
    """Spotlight resonance values (fractions of non-zero samples), shape ``(P, A)``."""
    n_valid = unit_samples(activations).shape[0]
    return reference_counts(activations, basis, planes, angles, epsilon) / n_valid
