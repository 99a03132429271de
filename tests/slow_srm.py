"""Slow, obviously-correct Spotlight Resonance, written from the definition.

For each plane the probe is rotated by the matrix exponential of the plane's generator
(``scipy.linalg.expm``) and every sample's cosine with it is compared with epsilon. Nothing is
shared with srmlib's fast arc-counting code; the in-plane frame is
:func:`srmlib.bases.plane_frame`, tested on its own against a QR decomposition.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import expm

from srmlib.bases import plane_frame

# Cosines this close to epsilon are "on the cone's boundary": rounding may put them either side.
BOUNDARY = 1e-9


def probes(basis: np.ndarray, i: int, j: int, angles: np.ndarray) -> np.ndarray:
    """Probe directions ``exp(theta G) u`` for ``G = v u^T - u v^T``: shape ``(A, d)``."""
    u, v = plane_frame(basis[i], basis[j])
    generator = np.outer(v, u) - np.outer(u, v)
    return np.stack([expm(theta * generator) @ u for theta in angles])


def cosines(activations: np.ndarray, basis: np.ndarray, i: int, j: int, angles) -> np.ndarray:
    """Cosine of every non-zero sample with every probe: shape ``(n_valid, A)``."""
    x = activations[np.linalg.norm(activations, axis=1) > 0]
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return x @ probes(basis, i, j, angles).T


def count_bounds(cos: np.ndarray, epsilon: float, signed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest possible counts per angle, letting boundary samples fall either way."""
    surely_in, maybe_in = cos >= epsilon + BOUNDARY, cos >= epsilon - BOUNDARY
    if not signed:
        return surely_in.sum(0), maybe_in.sum(0)
    surely_out, maybe_out = cos <= -epsilon - BOUNDARY, cos <= -epsilon + BOUNDARY
    return (surely_in.sum(0) - maybe_out.sum(0)), (maybe_in.sum(0) - surely_out.sum(0))
