"""The benchmark workloads: seeded ReLU-like activations, and how much of them the filter keeps."""

from __future__ import annotations

import numpy as np

# The workloads.
SMALL = dict(n=4000, d=64, threshold=1.5, resolution=100, pairs="perm", epsilon=0.9, seed=0)
LARGE = dict(n=10_000, d=256, threshold=2.0, resolution=360, pairs="comb", epsilon=0.9, seed=1)
ROTATED_BASIS_SEED = 2


def relu_activations(n: int, d: int, threshold: float, seed: int,
                     dtype: str = "float64") -> np.ndarray:
    """ReLU-like activations ``max(z - threshold, 0)``, ``z`` standard normal: ``(n, d)``.

    A threshold of 2 leaves about 2.3% of the neurons active (about 6 of 256 per row), 1.5 about
    6.7% (about 4 of 64). Rows that come out all zero are redrawn until none is left, so srmlib
    excludes no row and warns about nothing. Drawn in float64 a block of rows at a time (the same
    numbers as one draw of the whole array) and stored as ``dtype``, so that making the data
    never holds more than the result and one block.
    """
    rng = np.random.default_rng(seed)
    x = np.empty((n, d), dtype=dtype)
    block = max(1, 2**22 // d)
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        x[lo:hi] = np.maximum(rng.standard_normal((hi - lo, d)) - threshold, 0.0)
    silent = ~x.any(axis=1)
    while silent.any():
        x[silent] = np.maximum(rng.standard_normal((int(silent.sum()), d)) - threshold, 0.0)
        silent = ~x.any(axis=1)
    return x


def arc_fraction(activations: np.ndarray, basis: np.ndarray, epsilon: float) -> float:
    """Fraction of (sample, plane) pairs for which srmlib has to place an arc.

    With ``r`` the length of the unit sample's projection onto the plane, srmlib places an arc
    when ``r >= epsilon`` (``epsilon > 0``; otherwise the sample is in no cone) or ``r > -epsilon``
    (``epsilon <= 0``; otherwise it is in every cone). ``basis`` ``(k, d)`` must be orthonormal
    here, so that ``r^2 = p_i^2 + p_j^2`` with ``p`` the projections on the basis vectors. The
    fraction is over the unordered planes ``i < j`` (the ordered ones give the same fraction).
    """
    x = activations / np.linalg.norm(activations, axis=1, keepdims=True)
    p2 = (x @ np.asarray(basis, dtype=np.float64).T) ** 2  # (n, k)
    eps2 = epsilon * epsilon
    k = p2.shape[1]
    hits = 0
    for i in range(k - 1):
        r2 = p2[:, i : i + 1] + p2[:, i + 1 :]  # (n, k - i - 1)
        hits += int(np.count_nonzero(r2 >= eps2 if epsilon > 0 else r2 > eps2))
    return hits / (x.shape[0] * k * (k - 1) / 2)
