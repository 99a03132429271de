"""Spotlight Resonance by direct vectorised evaluation: every probe against every sample.

For each plane ``(b_i, b_j)`` the ``A`` probes ``p(theta) = cos(theta) u + sin(theta) v`` (the
same convention as srmlib: ``u = b_i/|b_i|``, ``v`` the unit part of ``b_j`` orthogonal to ``u``,
from :func:`srmlib.bases.plane_frame`)
are stacked into a matrix of shape ``(A, d)``, the unit samples ``(n, d)`` are multiplied by its
transpose in one BLAS call to give all ``n x A`` cosines, and those ``>= epsilon`` are counted.
Cost ``O(n A d)`` per plane: what a careful numpy user would write without srmlib's arc counting.
"""

from __future__ import annotations

import numpy as np

from srmlib.bases import plane_frame

from .reference_srm import count_planes, unit_samples


def probes(u: np.ndarray, v: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Probe directions ``cos(theta) u + sin(theta) v``: shape ``(A, d)``."""
    return np.cos(angles)[:, None] * u[None, :] + np.sin(angles)[:, None] * v[None, :]


def plane_counts(unit_x: np.ndarray, b_i: np.ndarray, b_j: np.ndarray, angles: np.ndarray,
                 epsilon: float) -> np.ndarray:
    """Samples (rows of ``unit_x``, shape ``(n, d)``) inside each probe's cone: int ``(A,)``."""
    u, v = plane_frame(b_i, b_j)
    cosines = unit_x @ probes(u, v, angles).T  # (n, A)
    return (cosines >= epsilon).sum(axis=0)


def direct_counts(activations, basis, planes, angles, epsilon: float) -> np.ndarray:
    """Counts ``(P, A)`` by direct evaluation (see :func:`reference_srm.count_planes`)."""
    return count_planes(plane_counts, activations, basis, planes, angles, epsilon)


def direct_srm(activations, basis, planes, angles, epsilon: float) -> np.ndarray:
    """Spotlight resonance values (fractions of non-zero samples), shape ``(P, A)``."""
    n_valid = unit_samples(activations).shape[0]
    return direct_counts(activations, basis, planes, angles, epsilon) / n_valid
