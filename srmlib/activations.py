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
(a trained network and the same network untrained; Adam and SGD), and :func:`class_selectivity` scores basis directions as "grandmother neurons".
:func:`pppm_density` and :func:`quantisation` look at PPPM's angular density (are
representations gathered onto discrete directions? Bird, 2025b, arXiv:2507.12070), and
:func:`quantisation_test` compares the latter with randomly rotated bases. The isotropic
ones follow Bird (2025), "The Spotlight Resonance Method", arXiv:2505.13471, but are written to
be finite, with finite gradients, at and near ``x = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._random import stream
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
    "PPPMDensity",
    "QUANTISATION_HARMONICS",
    "RotatedActivation",
    "angular_power",
    "axis_harmonic",
    "basis_preference",
    "class_selectivity",
    "cone_cosines",
    "empty_sector",
    "make_activation",
    "pppm_density",
    "preference_change",
    "privileged_basis",
    "quantisation",
    "quantisation_test",
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


# --------------------------------------------------------------------------- quantisation


def _plane_angles(activations, basis, epsilon: float):
    """In-plane angles and plane cosines of the samples near each plane, and the plane of each.

    The frame of :func:`srmlib.pppm` (``u = b_i/|b_i|``, ``v`` the unit part of ``b_j``
    orthogonal to ``u``), planes ``(i, j)`` with ``i < j`` in :func:`numpy.triu_indices` order;
    a sample is kept in a plane when its plane cosine is at least ``epsilon``. Zero rows are
    never kept. Returns the angles, the plane cosines, the planes (``(m,)`` each) and the
    number of planes.
    """
    x = as_float_tensor(activations, "activations", ndim=2).cpu().numpy().astype(np.float64)
    b = np.eye(x.shape[1]) if basis is None else as_float_tensor(
        basis, "basis", ndim=2).cpu().numpy().astype(np.float64)
    if b.shape[1] != x.shape[1] or len(b) < 2:
        raise ValueError(f"basis must have shape (k >= 2, {x.shape[1]}) to match activations "
                         f"of shape {x.shape}, got {b.shape}")
    epsilon = check_real_in(epsilon, "epsilon", 0, 1, low_open=True, high_open=True)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    lengths = np.linalg.norm(b, axis=1)
    if np.any(lengths == 0):
        raise ValueError("basis has a zero vector")
    i, j = np.triu_indices(len(b), k=1)
    g = (b @ b.T)[i, j] / lengths[i]  # b_j . u
    s = np.sqrt(np.maximum(lengths[j] ** 2 - g**2, 0.0))  # |part of b_j orthogonal to u|
    if np.any(s <= 1e-9 * lengths[j]):
        raise ValueError("basis has two parallel vectors: they span no plane")
    y = unit @ b.T
    along_u = y[:, i] / lengths[i]
    along_v = (y[:, j] - g * along_u) / s
    r2 = along_u**2 + along_v**2
    sample, plane = np.nonzero(r2 >= epsilon**2)
    phi = np.arctan2(along_v[sample, plane], along_u[sample, plane])
    return phi, np.sqrt(np.minimum(r2[sample, plane], 1.0)), plane, len(i)


def angular_power(activations, basis=None, *, epsilon: float, max_harmonic: int = 12) -> np.ndarray:
    """How far PPPM's angular density is from isotropic, harmonic by harmonic.

    In each plane ``(b_i, b_j)`` (all pairs ``i < j``) the samples within ``arccos(epsilon)``
    of the plane (:func:`srmlib.pppm`) have in-plane angles ``phi``. Isotropic data give them a
    uniform density, ``1 / (2 pi)``, so the density divided by that (the *normalised* density,
    1 where there is no structure) is ``1 + 2 sum_k |c_k| cos(k phi - arg c_k)`` with
    ``c_k = E[exp(i k phi)]``. This returns, for ``k = 1 .. max_harmonic``, an unbiased
    estimate of ``|c_k|^2`` pooled over planes: the mean of ``cos(k (phi_s - phi_t))`` over all
    pairs ``s != t`` of samples kept in the same plane,
    ``sum_planes (|sum_s exp(i k phi_s)|^2 - n) / sum_planes n (n - 1)``. Its expectation is
    exactly 0 for isotropic data whatever the number of samples (a U-statistic; a plug-in
    ``|mean exp(i k phi)|^2`` would be biased by ``1/n``), and ``2 sum_k`` of it is the
    variance of the normalised density (Parseval). It depends on the angles only through their
    differences, so it does not care *where* in a plane the density peaks, only how sharply.
    Chapter 3 ("Quantised representations").

    Parameters
    ----------
    activations : array_like or torch.Tensor, shape (n, d)
        Zero rows are left out.
    basis : array_like, shape (k, d), optional
        Default the neurons. Any basis of non-parallel vectors; the planes are all pairs.
    epsilon : float
        In ``(0, 1)``: the smallest plane cosine (``|proj(x)| / |x|``) of a kept sample.
    max_harmonic : int
        The highest harmonic ``k``.

    Returns
    -------
    ndarray, shape (max_harmonic,)
        ``|c_k|^2`` for ``k = 1 .. max_harmonic``; NaN if no plane keeps two samples.
    """
    max_harmonic = check_int(max_harmonic, "max_harmonic", minimum=1)
    with single_thread():
        phi, _, plane, n_planes = _plane_angles(activations, basis, epsilon)
        n = np.bincount(plane, minlength=n_planes).astype(np.float64)
        pairs = float((n * (n - 1)).sum())
        power = np.empty(max_harmonic)
        turn = np.exp(1j * phi)
        term = np.ones_like(turn)
        for k in range(max_harmonic):
            term *= turn  # exp(i (k + 1) phi)
            re = np.bincount(plane, term.real, minlength=n_planes)
            im = np.bincount(plane, term.imag, minlength=n_planes)
            power[k] = float((re**2 + im**2 - n).sum())
    return power / pairs if pairs > 0 else np.full(max_harmonic, np.nan)


#: Harmonics of :func:`quantisation`: finer than a quarter turn (k >= 4), down to 30 degrees.
QUANTISATION_HARMONICS = (4, 12)


def quantisation(activations, basis=None, *, epsilon: float,
                 harmonics: tuple[int, int] = QUANTISATION_HARMONICS) -> float:
    """Fine angular structure of PPPM's normalised density: a statistic of quantisation.

    ``2 sum_{k=lo}^{hi} |c_k|^2`` from :func:`angular_power`: the variance of the part of the
    normalised angular density (1 for isotropic data) made of harmonics ``lo .. hi``, pooled
    over planes. Representations gathered onto a few discrete directions in each plane have
    sharp peaks, hence power at high harmonics; a continuous spread has little. The default
    ``(4, 12)`` leaves out the broad shapes (``k <= 3``: a common mean direction of the data,
    a half-plane left empty), which are not discreteness, and stops at peaks 30 degrees apart.
    0 in expectation for isotropic data; invariant to turning the angles within a plane, and
    to rotating the data and the basis together.

    Parameters
    ----------
    activations, basis, epsilon
        As for :func:`angular_power`.
    harmonics : (int, int)
        The first and last harmonic, ``1 <= lo <= hi``.

    Returns
    -------
    float
    """
    if (not isinstance(harmonics, tuple) or len(harmonics) != 2
            or not all(isinstance(h, (int, np.integer)) for h in harmonics)
            or not 1 <= harmonics[0] <= harmonics[1]):
        raise ValueError(f"harmonics must be a pair of ints 1 <= lo <= hi, got {harmonics!r}")
    lo, hi = (int(h) for h in harmonics)
    return float(2.0 * angular_power(activations, basis, epsilon=epsilon,
                                     max_harmonic=hi)[lo - 1:].sum())


def quantisation_test(activations, bases, *, epsilon: float, n_rotations: int = 19,
                      seed: int = 0, harmonics: tuple[int, int] = QUANTISATION_HARMONICS) -> dict:
    """Is a representation quantised onto *this* basis? :func:`quantisation` against random bases.

    The statistic in each given basis is compared with the same statistic in ``n_rotations``
    randomly rotated copies of it, as :func:`srmlib.stats.rotation_test` does for SRM. A random
    rotation keeps everything about the data that does not depend on the basis, clusters of
    similar samples included, so a representation that is merely clustered scores alike in all
    bases; one gathered onto directions fixed by the basis scores higher in it. The rotations
    come from a stream of their own (``seed``, purpose ``"quantisation_test.rotations"``): the
    same for every basis and every representation given the same seed, and never the basis
    ``random_rotation(d, seed)``.

    Parameters
    ----------
    activations : array_like, shape (n, d)
    bases : dict of str to array_like, shape (k, d)
    epsilon, harmonics
        As for :func:`quantisation`.
    n_rotations : int
        Random bases, at least 1.
    seed : int

    Returns
    -------
    dict of str to RotationTest
        One per basis (``statistic="quantisation"``, ``result=None``).
    """
    x = as_float_tensor(activations, "activations", ndim=2).cpu().numpy().astype(np.float64)
    x = x[np.any(x != 0, axis=1)]
    if not isinstance(bases, dict) or not bases:
        raise TypeError("bases must be a non-empty dict of basis names to bases")
    n_rotations = check_int(n_rotations, "n_rotations", minimum=1)
    tests = {}
    for name, basis in bases.items():
        basis = as_float_tensor(basis, "basis", ndim=2).cpu().numpy().astype(np.float64)
        rotations = stream(seed, "quantisation_test.rotations")
        observed = quantisation(x, basis, epsilon=epsilon, harmonics=harmonics)
        null = np.array([quantisation(x, basis @ random_rotation(x.shape[1], rotations).T,
                                      epsilon=epsilon, harmonics=harmonics)
                         for _ in range(n_rotations)])
        p_value = (1 + int(np.count_nonzero(null >= observed))) / (1 + n_rotations)
        tests[name] = RotationTest(
            observed=observed, null=null, p_value=p_value, statistic="quantisation",
            result=None, epsilon=float(epsilon), n_rotations=n_rotations, seed=seed,
            n_samples=len(x), n_dims=x.shape[1])
    return tests


@dataclass(frozen=True)
class PPPMDensity:
    """PPPM's density, pooled over planes, divided by what isotropic data would give.

    Attributes
    ----------
    density : ndarray, shape (n_radii, n_angles)
        Observed fraction of the kept projections in each (ring, sector) bin divided by the
        isotropic fraction: 1 where there is no structure.
    angle_edges : ndarray, shape (n_angles + 1,)
        Sector edges in radians, from 0 to ``2 pi``.
    radius_edges : ndarray, shape (n_radii + 1,)
        Ring edges in plane cosine, from ``epsilon`` to 1; each ring holds the same share of
        isotropic data.
    epsilon : float
    n_points, n_planes, n_dims : int
        Projections kept (all planes together), planes, and the data's dimension.
    """

    density: np.ndarray
    angle_edges: np.ndarray
    radius_edges: np.ndarray
    epsilon: float
    n_points: int
    n_planes: int
    n_dims: int


def pppm_density(activations, basis=None, *, epsilon: float, n_angles: int = 72,
                 n_radii: int = 4) -> PPPMDensity:
    """PPPM's density in the unit disc, pooled over all planes, normalised by isotropic data.

    Each sample within ``arccos(epsilon)`` of the plane ``(b_i, b_j)`` (all ``i < j``) is the
    point of angle ``phi`` (its in-plane direction, :func:`srmlib.pppm`'s frame) and radius
    ``r``, its plane cosine in ``[epsilon, 1]``. The points of all planes are binned in
    ``n_angles`` sectors and ``n_radii`` rings, and each bin's share is divided by the share
    that directions drawn uniformly on the sphere would give it, computed exactly: their angle
    is uniform, and ``r^2`` follows ``Beta(1, (d - 2) / 2)``, so given ``r >= epsilon`` the
    ring ``[r_0, r_1]`` holds ``((1 - r_0^2)^m - (1 - r_1^2)^m) / (1 - epsilon^2)^m`` of them
    (``m = (d - 2) / 2``). The rings are chosen to hold equal isotropic shares. Bird's
    reference code divides by a Monte-Carlo picture of Gaussian data instead; the exact
    expectation needs no sampling. 1 means "as isotropic data"; the angle is measured from
    ``b_i`` towards ``b_j``, so peaks at the same angle in every plane survive the pooling and
    peaks at random angles average out.

    Parameters
    ----------
    activations : array_like, shape (n, d)
    basis : array_like, shape (k, d), optional
        Default the neurons.
    epsilon : float
        In ``(0, 1)``.
    n_angles, n_radii : int
        Sectors and rings (one ring when ``d = 2``, where every sample lies in the plane).

    Returns
    -------
    PPPMDensity
    """
    n_angles = check_int(n_angles, "n_angles", minimum=1)
    n_radii = check_int(n_radii, "n_radii", minimum=1)
    with single_thread():
        phi, r, _, n_planes = _plane_angles(activations, basis, epsilon)
    n_dims = as_float_tensor(activations, "activations", ndim=2).shape[1]
    m = (n_dims - 2) / 2
    if m == 0:
        n_radii = 1
        radius_edges = np.array([epsilon, 1.0])
    else:
        share = 1.0 - np.arange(n_radii + 1) / n_radii  # isotropic share beyond each edge
        radius_edges = np.sqrt(1.0 - (1.0 - epsilon**2) * share ** (1.0 / m))
        radius_edges[[0, -1]] = epsilon, 1.0
    angle_edges = np.linspace(0.0, 2 * np.pi, n_angles + 1)
    counts, _, _ = np.histogram2d(np.clip(r, epsilon, 1.0), np.mod(phi, 2 * np.pi),
                                  bins=[radius_edges, angle_edges])
    expected = len(phi) / (n_angles * n_radii)
    density = counts / expected if len(phi) else np.full_like(counts, np.nan)
    return PPPMDensity(density=density, angle_edges=angle_edges, radius_edges=radius_edges,
                       epsilon=float(epsilon), n_points=len(phi), n_planes=n_planes,
                       n_dims=n_dims)
