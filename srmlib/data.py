"""Seeded synthetic activation distributions with known geometry.

Each generator returns a numpy array of shape ``(n_samples, n_dims)``, one sample per row, and
draws from ``seed`` (an int, ``None`` or a ``numpy.random.Generator``), so the same seed gives the
same array. Chapter 1 ("Spotlight Resonance from first principles") uses them to show what
Spotlight Resonance sees in data whose privileged directions are known in advance:

=====================  ======================================================================
generator              geometry
=====================  ======================================================================
`isotropic_gaussian`   no privileged direction at all: SRM is flat at the isotropic baseline
`tanh_gaussian`        saturates towards the corners of the hypercube: anti-aligned, SRM peaks
                       between the neuron axes (at the diagonals of every plane)
`relu_gaussian`        sparse and non-negative: aligned, SRM peaks on the positive neuron axes
`rotated_tanh`         the tanh geometry in a rotated basis ``R``: structured in ``R``, not in
                       the neurons
`sparse_features`      sparse non-negative combinations of given feature directions (any
                       number of them, overcomplete allowed)
=====================  ======================================================================
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ._validation import as_float_tensor, check_int, check_real, make_rng
from .bases import random_rotation

__all__ = [
    "isotropic_gaussian",
    "relu_gaussian",
    "rotated_tanh",
    "sparse_features",
    "tanh_gaussian",
]

# Refuse ReLU/sparse settings where fewer than this fraction of draws has an active unit.
_MIN_ACTIVE_PROBABILITY = 1e-4


def isotropic_gaussian(n_samples: int, n_dims: int, seed=None, *, scale: float = 1.0) -> np.ndarray:
    """Standard Gaussian samples: directions uniform on the sphere, no privileged basis.

    Parameters
    ----------
    n_samples : int
        Number of rows, at least 1.
    n_dims : int
        Dimension, at least 2.
    seed : int, numpy.random.Generator or None
        Source of randomness.
    scale : float
        Standard deviation of every coordinate (> 0). Lengths do not matter to SRM.

    Returns
    -------
    ndarray, shape (n_samples, n_dims)

    Examples
    --------
    >>> isotropic_gaussian(3, 4, seed=0).shape
    (3, 4)
    """
    n_samples, n_dims = _check_shape(n_samples, n_dims)
    scale = _check_positive(scale, "scale")
    return scale * make_rng(seed).standard_normal((n_samples, n_dims))


def tanh_gaussian(n_samples: int, n_dims: int, seed=None, *, gain: float = 2.0) -> np.ndarray:
    """``tanh(gain * z)`` of standard Gaussian pre-activations ``z``, elementwise.

    With a large ``gain`` most coordinates saturate near ``+-1``, so samples crowd towards the
    ``2^d`` corners of the hypercube: in every neuron plane they point along the diagonals
    (``theta = pi/4 + k pi/2``), between the axes. This is the anti-aligned case.

    Parameters
    ----------
    n_samples, n_dims : int
        Shape of the output (``n_samples >= 1``, ``n_dims >= 2``).
    seed : int, numpy.random.Generator or None
        Source of randomness.
    gain : float
        Standard deviation of the pre-activations (> 0); larger saturates more.

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
        Values in ``(-1, 1)``.
    """
    n_samples, n_dims = _check_shape(n_samples, n_dims)
    gain = _check_positive(gain, "gain")
    return np.tanh(gain * make_rng(seed).standard_normal((n_samples, n_dims)))


def relu_gaussian(n_samples: int, n_dims: int, seed=None, *, bias: float = 0.0) -> np.ndarray:
    """``max(z + bias, 0)`` of standard Gaussian pre-activations ``z``, with no all-zero row.

    Each neuron is active with probability ``Phi(bias)`` (``Phi`` the standard normal CDF), so a
    negative ``bias`` makes the code sparse. Many samples then have a single active neuron and
    point exactly along a positive neuron axis: the aligned case.

    Rows in which every neuron is silent have no direction; Spotlight Resonance would leave them
    out with a warning. Here they are **redrawn**, so the result is ReLU data conditioned on at
    least one active neuron and every row has a direction.

    Parameters
    ----------
    n_samples, n_dims : int
        Shape of the output (``n_samples >= 1``, ``n_dims >= 2``).
    seed : int, numpy.random.Generator or None
        Source of randomness.
    bias : float
        Added to the pre-activations before the ReLU. Values so negative that fewer than one
        draw in 10,000 has an active neuron are refused (``ValueError``).

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
        Non-negative, at least one positive entry per row.
    """
    n_samples, n_dims = _check_shape(n_samples, n_dims)
    bias = check_real(bias, "bias")
    p_active = float(special.ndtr(bias))
    p_row = -math.expm1(n_dims * math.log1p(-p_active)) if p_active < 1 else 1.0
    if p_row < _MIN_ACTIVE_PROBABILITY:
        raise ValueError(
            f"bias={bias} leaves a neuron active with probability {p_active:.2e}, so only "
            f"{p_row:.2e} of rows would have any active neuron; use a larger bias"
        )
    rng = make_rng(seed)
    return _redraw_until_nonzero(
        lambda m: np.maximum(rng.standard_normal((m, n_dims)) + bias, 0.0), n_samples, p_row
    )


def rotated_tanh(
    n_samples: int, n_dims: int, seed=None, *, gain: float = 2.0, rotation=None
) -> np.ndarray:
    """The tanh geometry in a rotated basis: rows ``x = R^T tanh(gain * R z)``, ``z ~ N(0, I)``.

    The rows ``r_k`` of the rotation ``R`` play the role of the neurons: the coordinates of ``x``
    in that basis, ``R x = tanh(gain * R z)``, are exactly :func:`tanh_gaussian` data (``R z`` is
    again standard Gaussian). Spotlight Resonance in the basis ``R`` therefore shows the
    anti-aligned tanh pattern, while in the neuron basis the structure has no fixed phase.

    Parameters
    ----------
    n_samples, n_dims : int
        Shape of the output (``n_samples >= 1``, ``n_dims >= 2``).
    seed : int, numpy.random.Generator or None
        Source of randomness. When ``rotation`` is not given it is drawn first from the same
        generator, so with an int seed it equals ``srmlib.random_rotation(n_dims, seed)``.
    gain : float
        Standard deviation of the pre-activations (> 0).
    rotation : array_like, shape (n_dims, n_dims), optional
        An orthogonal matrix whose rows are the privileged basis.

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
    """
    n_samples, n_dims = _check_shape(n_samples, n_dims)
    gain = _check_positive(gain, "gain")
    rng = make_rng(seed)
    if rotation is None:
        rotation = random_rotation(n_dims, rng)
    else:
        rotation = as_float_tensor(rotation, "rotation", ndim=2).cpu().numpy().astype(np.float64)
        if rotation.shape != (n_dims, n_dims):
            raise ValueError(
                f"rotation must have shape ({n_dims}, {n_dims}) for n_dims={n_dims}, "
                f"got {rotation.shape}"
            )
        if not np.allclose(rotation @ rotation.T, np.eye(n_dims), atol=1e-8):
            raise ValueError("rotation must be orthogonal (rotation @ rotation.T == I)")
    z = rng.standard_normal((n_samples, n_dims))
    return np.tanh(gain * z @ rotation.T) @ rotation


def sparse_features(
    n_samples: int, basis, seed=None, *, density: float = 0.1, noise: float = 0.0
) -> np.ndarray:
    """Sparse non-negative combinations of feature directions, ``x = sum_f c_f b_f + noise``.

    Each feature ``f`` (a row of ``basis``) is active independently with probability
    ``density``, with a coefficient ``c_f`` uniform on ``[0.5, 1.5)``; inactive features have
    ``c_f = 0``. Rows with no active feature are **redrawn**, so every sample contains at least
    one feature. With ``k > d`` features (an overcomplete basis, as
    :func:`srmlib.overcomplete_basis` makes) this is the simplest model of superposition.

    Parameters
    ----------
    n_samples : int
        Number of rows, at least 1.
    basis : array_like, shape (n_features, n_dims)
        Feature directions, one per row (normalised to unit length here).
    seed : int, numpy.random.Generator or None
        Source of randomness.
    density : float
        Probability that a feature is active, in ``(0, 1]``.
    noise : float
        Standard deviation of isotropic Gaussian noise added to every coordinate (>= 0).

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    features = as_float_tensor(basis, "basis", ndim=2).cpu().numpy().astype(np.float64)
    if features.shape[1] < 2:
        raise ValueError(f"basis vectors need at least 2 dimensions, got shape {features.shape}")
    lengths = np.linalg.norm(features, axis=1)
    if np.any(lengths == 0):
        raise ValueError(f"basis vectors {np.flatnonzero(lengths == 0).tolist()} have zero length")
    features = features / lengths[:, None]
    density = check_real(density, "density")
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must lie in (0, 1], got {density}")
    noise = check_real(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be non-negative, got {noise}")
    n_features = len(features)
    p_row = -math.expm1(n_features * math.log1p(-density)) if density < 1 else 1.0
    if p_row < _MIN_ACTIVE_PROBABILITY:
        raise ValueError(f"density={density} leaves almost every row without an active feature")
    rng = make_rng(seed)

    def draw(m):
        active = rng.random((m, n_features)) < density
        return active * rng.uniform(0.5, 1.5, (m, n_features))

    coefficients = _redraw_until_nonzero(draw, n_samples, p_row)
    x = coefficients @ features
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
    return x


# --------------------------------------------------------------------------- internals


def _check_shape(n_samples, n_dims) -> tuple[int, int]:
    return check_int(n_samples, "n_samples", minimum=1), check_int(n_dims, "n_dims", minimum=2)


def _check_positive(value, name: str) -> float:
    value = check_real(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _redraw_until_nonzero(draw, n_samples: int, p_row: float) -> np.ndarray:
    """``n_samples`` rows of ``draw(m)`` (shape ``(m, k)``), redrawing the all-zero rows."""
    kept, have = [], 0
    while have < n_samples:
        missing = n_samples - have
        batch = draw(max(missing, int(1.2 * missing / p_row) + 16))
        batch = batch[batch.any(axis=1)][:missing]
        kept.append(batch)
        have += len(batch)
    return np.concatenate(kept)
