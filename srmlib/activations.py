"""Activation functions that privilege a basis, and ones that privilege none.

Chapter 3 ("Activation functions make the privileged basis") trains the same autoencoder with
each of them and shows that the representation aligns with the basis the activation privileges.

=============================  ==============================================================
module                         privileged basis
=============================  ==============================================================
``nn.Tanh``, ``nn.ReLU`` ...   elementwise: the standard basis (the neurons). It commutes with
                               permutations of the neurons, not with rotations.
:class:`RotatedActivation`     an elementwise activation in a rotated basis,
                               ``R^T sigma(R x)``: the rows of ``R``
:class:`IsotropicTanh`         none: ``tanh(|x|) x / |x|`` commutes with every orthogonal map
:class:`IsotropicReLU`         none: ``max(|x| - r, 0) x / |x|``, a radial shrinkage
``nn.Identity``                none
=============================  ==============================================================

Every module acts on the last dimension of its input, ``(..., n_dims)``; :func:`make_activation`
builds one by name. :func:`axis_harmonic` and :func:`empty_sector` are statistics of an SRM
result for :func:`srmlib.stats.rotation_test` (does a representation prefer this basis?),
:func:`basis_preference` runs that test in several bases at once,
:func:`preference_change` asks whether that preference changed between two representations
(a trained network and the same network untrained; Adam and SGD), and :func:`class_selectivity` scores basis directions as "grandmother neurons". The isotropic
ones follow Bird (2025), "The Spotlight Resonance Method", arXiv:2505.13471, but are written to
be finite, with finite gradients, at and near ``x = 0``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._validation import (as_float_tensor, check_choice, check_int, check_real, check_real_in,
                          check_seed)
from ._threads import single_thread, torch_threads
from .bases import random_rotation
from .stats import RotationTest, rotation_test

__all__ = [
    "ACTIVATION_NAMES",
    "ELEMENTWISE",
    "IsotropicReLU",
    "IsotropicTanh",
    "RotatedActivation",
    "axis_harmonic",
    "basis_preference",
    "class_selectivity",
    "cone_cosines",
    "empty_sector",
    "make_activation",
    "preference_change",
    "privileged_basis",
]

#: Elementwise activations by name; each also exists in a rotated basis as ``"rotated_<name>"``.
ELEMENTWISE = {"tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}

#: Every name :func:`make_activation` accepts.
ACTIVATION_NAMES = ("identity", *ELEMENTWISE, *(f"rotated_{name}" for name in ELEMENTWISE),
                    "isotropic_tanh", "isotropic_relu")

# Below this squared norm the isotropic functions use their Taylor expansion around 0.
_SMALL_SQUARED_NORM = 1e-12


def _squared_norm(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(dim=-1, keepdim=True)


def _safe_norm(squared: torch.Tensor, small: torch.Tensor) -> torch.Tensor:
    """``sqrt(squared)`` where not ``small``, and 1 there (so neither value nor gradient is NaN)."""
    return torch.sqrt(torch.where(small, torch.ones_like(squared), squared))


class IsotropicTanh(nn.Module):
    """``f(x) = tanh(|x|) x / |x|``: squashes the length, keeps the direction.

    It commutes with every orthogonal map ``Q`` (``f(x Q) = f(x) Q``), so it privileges no
    basis. Near ``x = 0`` it is the identity to second order, ``f(x) = x (1 - |x|^2 / 3 + ...)``,
    and that expansion is used below ``|x| = 1e-6``: value and gradient are finite everywhere,
    and ``f(0) = 0`` with Jacobian ``I``.

    Shape: ``(..., n_dims)`` in and out; the norm is taken over the last dimension.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squared = _squared_norm(x)
        small = squared < _SMALL_SQUARED_NORM
        norm = _safe_norm(squared, small)
        scale = torch.where(small, 1.0 - squared / 3.0, torch.tanh(norm) / norm)
        return scale * x


class IsotropicReLU(nn.Module):
    """``f(x) = max(|x| - radius, 0) x / |x|``: radial shrinkage towards 0.

    The isotropic counterpart of a ReLU with bias ``-radius``: inputs inside the ball of radius
    ``radius`` give 0 (and zero gradient), the others keep their direction and lose ``radius``
    of their length. It commutes with every orthogonal map. With ``radius = 0`` it is the
    identity. The function is continuous, and differentiable except on the sphere
    ``|x| = radius`` (the kink); at and near 0 its gradient is finite (0 for ``radius > 0``).

    Parameters
    ----------
    radius : float
        Radius of the dead ball, ``>= 0``.

    Shape: ``(..., n_dims)`` in and out.
    """

    def __init__(self, radius: float = 0.5):
        super().__init__()
        self.radius = check_real_in(radius, "radius", 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.radius == 0.0:
            return x * 1.0
        squared = _squared_norm(x)
        small = squared < _SMALL_SQUARED_NORM
        norm = _safe_norm(squared, small)
        scale = torch.where(small, torch.zeros_like(squared), torch.relu(1.0 - self.radius / norm))
        return scale * x

    def extra_repr(self) -> str:
        return f"radius={self.radius}"


class RotatedActivation(nn.Module):
    """An elementwise activation applied in a rotated basis: ``f(x) = R^T sigma(R x)``.

    For a row vector ``x`` this is ``sigma(x R^T) R``. The coordinates of ``x`` along the rows
    ``r_k`` of the orthogonal matrix ``R`` play the role of the neurons, so the rows of ``R``
    are the basis this activation privileges (:attr:`basis`); it commutes with the maps
    ``R^T P R`` for permutations ``P``, not with the neurons' permutations.

    Parameters
    ----------
    activation : torch.nn.Module
        The elementwise activation ``sigma``.
    rotation : array_like, shape (n_dims, n_dims)
        An orthogonal matrix (``R R^T = I`` to within ``1e-6``); see :func:`make_activation` for
        a seeded random one (:func:`srmlib.random_rotation`).
    """

    def __init__(self, activation: nn.Module, rotation):
        super().__init__()
        if not isinstance(activation, nn.Module):
            raise TypeError(f"activation must be a torch.nn.Module, got "
                            f"{type(activation).__name__}")
        r = as_float_tensor(rotation, "rotation", ndim=2).cpu().to(torch.float64)
        if r.shape[0] != r.shape[1]:
            raise ValueError(f"rotation must be square, got shape {tuple(r.shape)}")
        if not torch.allclose(r @ r.T, torch.eye(len(r), dtype=torch.float64), atol=1e-6):
            raise ValueError("rotation must be orthogonal (rotation @ rotation.T == I)")
        self.activation = activation
        self.register_buffer("rotation", r.to(torch.get_default_dtype()))

    @property
    def basis(self) -> np.ndarray:
        """The privileged basis, ``(n_dims, n_dims)``, one vector per row (the rows of ``R``)."""
        return self.rotation.detach().cpu().numpy().astype(np.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.rotation.to(x.dtype)
        return self.activation(x @ r.T) @ r


def make_activation(name: str, n_dims: int | None = None, *, seed: int = 0,
                    radius: float = 0.5, negative_slope: float = 0.1) -> nn.Module:
    """Build an activation module by name.

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATION_NAMES`: ``"identity"``, ``"tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"rotated_tanh"``, ``"rotated_relu"``, ``"rotated_leaky_relu"``,
        ``"isotropic_tanh"``, ``"isotropic_relu"``.
    n_dims : int, optional
        Width of the layer; needed only by the rotated activations.
    seed : int
        Seed of the rotation of the rotated activations: ``R = srmlib.random_rotation(n_dims,
        seed)``.
    radius : float
        Dead-ball radius of ``"isotropic_relu"``.
    negative_slope : float
        Slope of ``"leaky_relu"`` for negative inputs.

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> make_activation("rotated_tanh", 4, seed=1).basis.shape
    (4, 4)
    """
    name = check_choice(name, "name", ACTIVATION_NAMES)
    if name == "identity":
        return nn.Identity()
    if name == "isotropic_tanh":
        return IsotropicTanh()
    if name == "isotropic_relu":
        return IsotropicReLU(radius)
    base = name.removeprefix("rotated_")
    if base == "leaky_relu":
        elementwise = nn.LeakyReLU(check_real(negative_slope, "negative_slope"))
    else:
        elementwise = ELEMENTWISE[base]()
    if base == name:
        return elementwise
    if n_dims is None:
        raise ValueError(f"n_dims is needed for the rotated activation {name!r}")
    n_dims = check_int(n_dims, "n_dims", minimum=2)
    seed = check_seed(seed, "seed")
    return RotatedActivation(elementwise, random_rotation(n_dims, seed))


def privileged_basis(activation: nn.Module, n_dims: int) -> np.ndarray | None:
    """The basis an activation module privileges, ``(n_dims, n_dims)``, or ``None`` for none.

    The standard basis for the elementwise activations of :data:`ELEMENTWISE`, the rows of
    ``R`` for a :class:`RotatedActivation`, ``None`` for the isotropic ones and the identity.
    """
    n_dims = check_int(n_dims, "n_dims", minimum=2)
    if isinstance(activation, RotatedActivation):
        return activation.basis
    if isinstance(activation, tuple(ELEMENTWISE.values())):
        return np.eye(n_dims)
    if isinstance(activation, (IsotropicTanh, IsotropicReLU, nn.Identity)):
        return None
    raise TypeError(f"activation: no known privileged basis for {type(activation).__name__}")


# --------------------------------------------------------------------------- which basis?


def axis_harmonic(result) -> float:
    """Mean over planes of the size of each plane's four-fold ripple, measured from the axes.

    For each plane ``p`` of an unsigned SRM result, ``c_p = mean over angles of
    ratio_p(theta) cos(4 theta)`` is the four-fold Fourier component of the resonance ratio in
    phase with the plane's basis vectors: positive when samples crowd onto the axes, negative
    when they crowd between them (towards the corners of the hypercube, as saturated tanh
    units do). The statistic is ``mean_p |c_p|``. A ripple locked to the basis counts in full;
    in a basis unrelated to the data each plane's ripple has its own phase and only its cosine
    part counts (``2 / pi`` of it on average), so the value is smaller. Taking ``|c_p|`` plane
    by plane keeps planes of opposite sign (some on the axes, some between) from cancelling. A
    statistic for :func:`srmlib.stats.rotation_test` and :func:`basis_preference` (chapter 3).
    """
    ratio = result.resonance_ratio()
    return float(np.abs((ratio * np.cos(4.0 * result.angles)).mean(axis=1)).mean())


def basis_preference(activations, bases, *, seed: int = 0, **kwargs) -> dict:
    """Run :func:`srmlib.stats.rotation_test` of ``activations`` in each of several bases.

    Every basis is tested against the same random rotations (they come from ``seed``), on one
    torch thread (the fastest for these small workloads). Zero rows are left out first, as a
    ReLU layer has some.

    Parameters
    ----------
    activations : array_like, shape (n, d)
    bases : dict of str to array_like, shape (k, d)
        The bases to test, by name.
    seed : int
        Seed of the random rotations (and of the planes, with ``max_planes``).
    **kwargs
        Passed to :func:`~srmlib.stats.rotation_test` (``epsilon``, ``resolution``,
        ``statistic``, ``n_rotations``, ``max_planes``, ...).

    Returns
    -------
    dict of str to RotationTest
        One per basis, in the order of ``bases``.
    """
    x = as_float_tensor(activations, "activations", ndim=2).cpu().numpy()
    if not isinstance(bases, dict) or not bases:
        raise TypeError("bases must be a non-empty dict of basis names to bases")
    x = x[np.any(x != 0, axis=1)]
    with torch_threads(1):
        return {name: rotation_test(x, basis, seed=seed, **kwargs)
                for name, basis in bases.items()}


def preference_change(test, reference) -> RotationTest:
    """Did the preference for a basis change between two representations? A paired rotation test.

    ``test`` and ``reference`` are rotation tests (:func:`srmlib.stats.rotation_test`,
    :func:`basis_preference`) of two representations of the same inputs in the same basis, with
    the same seed, statistic, ``epsilon`` and number of rotations: a trained network and the
    same network at initialisation, or one trained with Adam and one with SGD. Drawn from one
    seed, their ``k``-th random bases are the same rotation of the basis, so the statistic can
    be differenced basis by basis: the change ``test - reference`` in the given basis is
    compared with the changes in the random bases. If the change had nothing to do with the
    basis (training sharpened or blurred the representation in every direction alike), the
    given basis would be one more random basis. A change far beyond every random basis means
    the representation moved towards (or away from) this basis in particular. (Chapter 3.)

    The difference is the book's, not Bird's (2025): a paired version of the rotation null.

    Parameters
    ----------
    test, reference : RotationTest
        The two tests; ``reference`` is the baseline (the untrained network, say). They must
        have been run in the same basis, which a test does not record: that is the caller's to
        ensure.

    Returns
    -------
    RotationTest
        ``observed = test.observed - reference.observed``, ``null = test.null -
        reference.null`` (one value per random basis), its p-value
        ``(1 + #{null >= observed}) / (1 + n_rotations)`` and ``z_score``; ``result`` is
        ``test.result`` and ``statistic`` is ``"change of <statistic>"``.

    Raises
    ------
    TypeError
        If either is not a :class:`~srmlib.stats.RotationTest`.
    ValueError
        If their random bases cannot be paired: another seed (or none), statistic, epsilon,
        number of rotations, dimension or set of planes.

    Examples
    --------
    >>> x = np.tanh(3 * np.random.default_rng(0).standard_normal((500, 4)))
    >>> before = rotation_test(0.1 * x, statistic=axis_harmonic, epsilon=0.8, n_rotations=19)
    >>> after = rotation_test(x, statistic=axis_harmonic, epsilon=0.8, n_rotations=19)
    >>> change = preference_change(after, before)
    >>> change.observed == after.observed - before.observed
    True
    """
    for name, value in (("test", test), ("reference", reference)):
        if not isinstance(value, RotationTest):
            raise TypeError(f"{name} must be a RotationTest, got {type(value).__name__}")
    if test.seed is None or reference.seed is None:
        raise ValueError("test and reference must come from an integer seed (a Generator or "
                         "None draws other random bases each time, which cannot be paired)")
    for field in ("seed", "statistic", "epsilon", "n_rotations", "n_dims"):
        if getattr(test, field) != getattr(reference, field):
            raise ValueError(f"test and reference differ in {field} ({getattr(test, field)!r} "
                             f"and {getattr(reference, field)!r}); their random bases cannot "
                             "be paired")
    if (test.result is not None and reference.result is not None
            and not np.array_equal(test.result.planes, reference.result.planes)):
        raise ValueError("test and reference were computed on different planes")
    observed = test.observed - reference.observed
    null = np.asarray(test.null, dtype=float) - np.asarray(reference.null, dtype=float)
    p_value = (1 + int(np.count_nonzero(null >= observed))) / (1 + test.n_rotations)
    return RotationTest(
        observed=float(observed), null=null, p_value=p_value,
        statistic=f"change of {test.statistic}", result=test.result, epsilon=test.epsilon,
        n_rotations=test.n_rotations, seed=test.seed, n_samples=test.n_samples,
        n_dims=test.n_dims)


def empty_sector(result) -> float:
    """``1 - min over angles of the mean-over-planes resonance ratio`` of an unsigned result.

    Near 1 when, in every plane, some sector is empty: a non-negative code (ReLU) has no sample
    in the negative quadrant of its own basis, whatever the data. A statistic for
    :func:`srmlib.stats.rotation_test` (chapter 3).
    """
    return 1.0 - float(result.resonance_ratio().mean(axis=0).min())


def class_selectivity(activations, labels, basis=None, *, epsilon: float = 0.8,
                      min_samples: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """How much each basis direction is a "grandmother neuron": class purity inside its cone.

    For each signed basis direction ``+b_k`` and ``-b_k``, the samples whose direction lies
    within ``arccos(epsilon)`` of it (cosine ``>= epsilon``) are collected; the direction's
    selectivity is the fraction of them that belong to their most common class (1: a single
    class; ``1 / n_classes`` or so: no preference). Chapter 3.

    Parameters
    ----------
    activations : array_like, shape (n, d)
    labels : array_like of int, shape (n,)
    basis : array_like, shape (k, d), optional
        Default the neurons.
    epsilon : float
        Cosine of the cone half-angle, in ``(0, 1]``.
    min_samples : int
        Directions whose cone holds fewer samples get selectivity NaN.

    Returns
    -------
    selectivity : ndarray, shape (2k,)
        For ``+b_0, -b_0, +b_1, -b_1, ...``.
    counts : ndarray of int, shape (2k,)
        Samples in each cone.
    """
    with single_thread():  # small arrays: a second thread only waits (see srmlib._threads)
        return _class_selectivity(activations, labels, basis, epsilon, min_samples)


def _class_selectivity(activations, labels, basis, epsilon, min_samples):
    x = as_float_tensor(activations, "activations", ndim=2).cpu().numpy().astype(np.float64)
    y = np.asarray(labels)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be {len(x)} integers, got shape {y.shape}")
    b = np.eye(x.shape[1]) if basis is None else as_float_tensor(
        basis, "basis", ndim=2).cpu().numpy().astype(np.float64)
    epsilon = check_real_in(epsilon, "epsilon", 0, 1, low_open=True)
    min_samples = check_int(min_samples, "min_samples", minimum=1)
    cosines = cone_cosines(x, b)
    signed = np.stack([cosines, -cosines], axis=2).reshape(len(x), -1)  # +b0, -b0, +b1, ...
    inside = signed >= epsilon
    counts = inside.sum(axis=0)
    selectivity = np.full(len(counts), np.nan)
    for k in np.flatnonzero(counts >= min_samples):
        selectivity[k] = np.bincount(y[inside[:, k]]).max() / counts[k]
    return selectivity, counts


def cone_cosines(activations, basis) -> np.ndarray:
    """Cosines between each sample and each basis vector, ``(n, k)`` (0 for zero samples)."""
    x = np.asarray(activations, dtype=np.float64)
    b = np.asarray(basis, dtype=np.float64)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x @ b.T, norms, out=np.zeros((len(x), len(b))), where=norms > 0)
