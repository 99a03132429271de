"""How sure is an SRM value? Binomial error bars, and a test against randomly rotated bases.

Chapter 2 ("SRM in practice: choosing the resolution") explains both.

**Error bars.** An unsigned SRM value is the fraction ``p`` of ``n`` samples inside a cone, so
``n p`` is binomial: its standard error is ``sqrt(p (1 - p) / n)``
(:func:`standard_error`); a difference of two such fractions is taken as real beyond
:func:`difference_margin`, ``z`` standard errors of each. :func:`wilson_interval` gives a confidence interval that stays
inside ``[0, 1]`` and is not empty where ``p`` is 0 or 1. Values at different angles or planes
share samples, so they are correlated; each error bar is right for its own value.
:func:`baseline_relative_error` is the relative error ``sqrt((1 - p0) / (n p0))`` at the
isotropic baseline ``p0``: it grows quickly as the cone narrows or the dimension grows.

**Rotation test.** Is an observed alignment with a basis unusual, or would a randomly rotated
basis show as much? :func:`rotation_test` computes a statistic of the SRM in the given basis
and in ``n_rotations`` Haar-random rotations of it (the whole basis rotated together, so the
angles between its vectors are kept) and returns the permutation-style p-value
``(1 + #{null >= observed}) / (1 + n_rotations)``. If the data's distribution is invariant
under rotations, the observed basis is just one more random basis, and the p-value is
uniformly distributed on ``{1, ..., n_rotations + 1} / (n_rotations + 1)`` (or larger, with
ties): the test is exact, not asymptotic. The null answers one question only, "is this basis
special for these data?": for non-negative data (a ReLU layer) the neuron basis always is,
because the data fill one orthant, which the ``"contrast"`` statistic rewards.

**Axis alignment.** :func:`axis_alignment` is the ``"alignment"`` statistic of the rotation
test on its own, with a standard error over samples: the fraction of samples within
``arccos(epsilon)`` of each basis axis ``+-b_k``, averaged over axes and divided by its isotropic
value. Data whose directions are uniform within the positive orthant score exactly 1 in the
neuron basis, as isotropic data do, so it measures alignment beyond the orthant.

The rotation null, the contrast and alignment statistics, and the error bars are this book's
additions to the Spotlight Resonance Method of Bird (2025), not part of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import special
from tqdm.auto import tqdm

from ._random import stream
from ._threads import torch_threads
from ._validation import (as_float_tensor, check_epsilon, check_int,
                          check_progress, check_real, check_real_array, check_real_in,
                          check_seed, row_scale_exponents, times_power_of_two)
from .bases import random_rotation
from .srm import SRMResult, isotropic_expectation, project

__all__ = [
    "STATISTICS",
    "AxisAlignment",
    "RotationTest",
    "axis_alignment",
    "baseline_relative_error",
    "difference_margin",
    "rotation_test",
    "standard_error",
    "wilson_interval",
]

#: Named statistics of :func:`rotation_test`.
STATISTICS = ("contrast", "alignment")

# Work (rotations x samples x planes) above which rotation_test shows a progress bar by default.
_PROGRESS_WORK = 10**8
# Cosines (samples x basis vectors) below which the axis counts run on one torch thread.
_SINGLE_THREAD_ELEMENTS = 10**7


def standard_error(result, n_samples: int | None = None) -> np.ndarray:
    """Binomial standard error ``sqrt(p (1 - p) / n)`` of each unsigned SRM value.

    Parameters
    ----------
    result : SRMResult or array_like
        An unsigned result (``values`` of shape ``(P, A)`` and its ``n_samples``), or fractions
        in ``[0, 1]`` of any shape together with ``n_samples``.
    n_samples : int, optional
        Number of samples behind the fractions; only with an array.

    Returns
    -------
    ndarray
        Same shape as the values, ``(P, A)`` for a result.

    Raises
    ------
    ValueError
        For a signed result (its values are differences of two fractions), fractions outside
        ``[0, 1]``, or ``n_samples`` given twice or not at all.

    Examples
    --------
    >>> standard_error([0.5, 0.1], n_samples=100).round(3).tolist()
    [0.05, 0.03]
    """
    p, n = _fractions(result, n_samples)
    return np.sqrt(p * (1.0 - p) / n)


def difference_margin(a, b, n_samples: int, *, z: float = 4.0):
    """``z`` binomial standard errors of each of two fractions: ``z (SE(a) + SE(b))``.

    A difference ``a - b`` larger than this is more than ``z`` standard errors of the
    difference, however ``a`` and ``b`` are correlated (two SRM values of the same samples, or
    two means over planes of such values): the standard error of ``a - b`` is at most
    ``SE(a) + SE(b)`` (the triangle inequality), where ``SE(p) = sqrt(p (1 - p) / n)`` is
    :func:`standard_error`. Chapters 1 and 2 accept a difference as real beyond it.

    Parameters
    ----------
    a, b : float or array_like
        Fractions in ``[0, 1]`` (arrays broadcast together).
    n_samples : int
        Samples behind each fraction.
    z : float
        Standard errors on each side (positive).

    Returns
    -------
    float or ndarray
        The broadcast shape of ``a`` and ``b``.

    Examples
    --------
    >>> round(float(difference_margin(0.5, 0.1, 100)), 3)  # 4 * (0.05 + 0.03)
    0.32
    """
    z = check_real_in(z, "z", 0, low_open=True)
    (p_a, n), (p_b, _) = _fractions(a, n_samples, "a"), _fractions(b, n_samples, "b")
    return z * (np.sqrt(p_a * (1.0 - p_a) / n) + np.sqrt(p_b * (1.0 - p_b) / n))


def wilson_interval(result, n_samples: int | None = None, *,
                    confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for each unsigned SRM value.

    With ``z`` the two-sided normal quantile of ``confidence``, the interval is
    ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``. Unlike ``p -+ z * SE`` it
    stays inside ``[0, 1]``, and it has positive width where ``p`` is 0 or 1 (Wilson, 1927;
    Brown, Cai and DasGupta, 2001).

    Parameters
    ----------
    result : SRMResult or array_like
        As for :func:`standard_error`.
    n_samples : int, optional
        Only with an array of fractions.
    confidence : float
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    (low, high) : tuple of ndarray
        Each the shape of the values, ``(P, A)`` for a result.

    Examples
    --------
    >>> low, high = wilson_interval([0.0], n_samples=100)
    >>> float(low[0]), round(float(high[0]), 4)
    (0.0, 0.037)
    """
    p, n = _fractions(result, n_samples)
    confidence = check_real_in(confidence, "confidence", 0, 1, low_open=True, high_open=True)
    # the upper (1 - confidence) / 2 quantile from its small tail: 0.5 + confidence / 2 rounds
    # to 1 (z = inf) for confidence within 1e-16 of 1
    z = -float(special.ndtri((1.0 - confidence) / 2.0))
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denominator
    # at p = 0 (1) the bound is exactly 0 (1); rounding would leave a residue of ~1e-18
    low = np.where(p == 0.0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(p == 1.0, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def baseline_relative_error(n_dims: int, epsilon, n_samples: int):
    """Relative binomial error at the isotropic baseline: ``sqrt((1 - p0) / (n p0))``.

    ``p0 = isotropic_expectation(n_dims, epsilon)`` is the SRM value of directionless data. A
    narrower cone (larger ``epsilon``) or a higher dimension makes ``p0`` smaller and the
    relative error larger; to keep it at ``r`` takes ``n = (1 - p0) / (p0 r^2)`` samples.

    Parameters
    ----------
    n_dims : int
        Dimension of the activations.
    epsilon : float or array_like
        Cosine(s) of the cone half-angle.
    n_samples : int
        Samples behind each value.

    Returns
    -------
    float or ndarray
        Same shape as ``epsilon``; ``inf`` where ``p0`` is 0.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    p0 = np.asarray(isotropic_expectation(n_dims, epsilon), dtype=np.float64)
    with np.errstate(divide="ignore"):
        value = np.sqrt((1.0 - p0) / (n_samples * p0))
    return float(value) if value.ndim == 0 else value


@dataclass(frozen=True)
class AxisAlignment:
    """Outcome of :func:`axis_alignment`.

    Attributes
    ----------
    value : float
        Mean of ``per_sample``: the mean over basis vectors of the fraction of samples within
        ``arccos(epsilon)`` of ``+b_k`` or ``-b_k``, divided by its isotropic value ``2 p0``.
        1 for isotropic data, and for data uniform in direction within the positive orthant;
        above 1 when samples crowd around the basis axes, below 1 when they avoid them.
    standard_error : float
        ``std(per_sample, ddof=1) / sqrt(n_samples)``: samples are the independent units.
    per_sample : ndarray, shape (n_samples,)
        For each sample with a direction, the number of axes whose cone holds it, divided by
        ``k * 2 p0`` (``k`` basis vectors).
    sample_index : ndarray of int, shape (n_samples,)
        Row of each of those samples in the input (zero rows are left out).
    epsilon : float
        Cosine of the cone half-angle.
    n_samples, n_dims, basis_size : int
        Samples with a direction, their dimension, and ``k``.
    """

    value: float
    standard_error: float
    per_sample: np.ndarray
    sample_index: np.ndarray
    epsilon: float
    n_samples: int
    n_dims: int
    basis_size: int

    def difference(self, other: "AxisAlignment") -> tuple[float, float]:
        """``self - other`` paired over samples, with its standard error.

        Both must come from the same inputs, row for row (for example one layer before and
        after training, on the same images). Samples that are zero rows in either are left
        out. The standard error is that of the mean of the per-sample differences.

        Returns
        -------
        (difference, standard_error) : tuple of float
        """
        if not isinstance(other, AxisAlignment):
            raise TypeError(f"other must be an AxisAlignment, got {type(other).__name__}")
        if other.epsilon != self.epsilon or other.basis_size != self.basis_size:
            raise ValueError("other must use the same epsilon and number of basis vectors, got "
                             f"({other.epsilon}, {other.basis_size}) and "
                             f"({self.epsilon}, {self.basis_size})")
        _, mine, theirs = np.intersect1d(self.sample_index, other.sample_index,
                                         assume_unique=True, return_indices=True)
        if len(mine) < 2:
            raise ValueError("fewer than 2 samples have a direction in both; they must come "
                             "from the same inputs")
        paired = self.per_sample[mine] - other.per_sample[theirs]
        return float(paired.mean()), float(paired.std(ddof=1) / math.sqrt(len(paired)))


def axis_alignment(activations, basis=None, *, epsilon: float) -> AxisAlignment:
    """How many samples lie near the basis axes ``+-b_k``, relative to random directions.

    Each basis vector gets a spotlight on its axis, a cone of half-angle ``arccos(epsilon)``
    around ``+b_k`` and one around ``-b_k``, without SRM's sweep. The statistic is the mean over
    ``k`` of the fraction of samples in those cones, divided by its value for isotropic data,
    ``2 p0`` with ``p0 = isotropic_expectation(d, epsilon)``. It is the ``"alignment"``
    statistic of :func:`rotation_test`, with a standard error over samples.

    It does not reward the positive orthant: if ``x / |x|`` is uniform on the part of the
    sphere with all coordinates ``>= 0``, each coordinate has the law of the absolute value of
    an isotropic direction's coordinate, so ``P(x_k / |x| >= epsilon) = 2 p0`` while the cone
    around ``-e_k`` is empty: the statistic is exactly 1, as for isotropic data. (The
    ``"contrast"`` statistic, in contrast, is far above random bases for any non-negative
    data.) It does reward any reason for samples to sit near an axis: sparse activity, or a few
    neurons much larger than the rest.

    Parameters
    ----------
    activations : array_like or torch.Tensor, shape (n, d)
        One sample per row; zero rows have no direction and are left out (with a warning).
    basis : array_like, shape (k, d), optional
        Basis vectors, one per row, of any length; default the neurons (``k = d``).
    epsilon : float
        Cosine of the cone half-angle, ``0 < epsilon < 1`` (the cones around ``+b_k`` and
        ``-b_k`` must not overlap).

    Returns
    -------
    AxisAlignment

    Raises
    ------
    ValueError
        For ``epsilon`` outside ``(0, 1)``, a basis of the wrong dimension, or no sample with a
        direction.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.random.default_rng(0).standard_normal((20_000, 8))
    >>> iso = axis_alignment(z, epsilon=0.6)
    >>> abs(iso.value - 1) < 4 * iso.standard_error
    True
    >>> orthant = axis_alignment(np.abs(z), epsilon=0.6)  # the orthant alone: still 1
    >>> abs(orthant.value - 1) < 4 * orthant.standard_error
    True
    >>> relu = np.maximum(z - 1, 0)
    >>> sparse = axis_alignment(relu[relu.any(axis=1)], epsilon=0.6)  # sparse: near the axes
    >>> bool(sparse.value > 1.2)
    True
    >>> corners = axis_alignment(np.tanh(3 * z), epsilon=0.6)  # saturated: between the axes
    >>> bool(corners.value < 0.1)
    True
    """
    epsilon = check_epsilon(epsilon)
    _check_alignment_epsilon(epsilon)
    projected = project(activations, basis, planes=[(0, 1)])  # the planes are not used
    per_sample = _axis_counts(projected, epsilon).cpu().numpy().astype(np.float64)
    per_sample /= projected.basis_size * 2.0 * isotropic_expectation(projected.n_dims, epsilon)
    n = len(per_sample)
    return AxisAlignment(
        value=float(per_sample.mean()),
        standard_error=float(per_sample.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf,
        per_sample=per_sample,
        sample_index=projected.valid_rows.cpu().numpy(),
        epsilon=epsilon,
        n_samples=n,
        n_dims=projected.n_dims,
        basis_size=projected.basis_size,
    )


@dataclass(frozen=True)
class RotationTest:
    """Outcome of :func:`rotation_test`.

    Attributes
    ----------
    observed : float
        The statistic in the given basis.
    null : ndarray, shape (n_rotations,)
        The statistic in each randomly rotated basis.
    p_value : float
        ``(1 + #{null >= observed}) / (1 + n_rotations)``: small when the given basis is more
        unusual than random ones; never below ``1 / (1 + n_rotations)``.
    statistic : str
        Name of the statistic (``"contrast"``, ``"alignment"`` or a function's name).
    result : SRMResult or None
        The SRM in the given basis (``None`` for ``"alignment"``, which needs no SRM).
    epsilon : float
        Cosine of the cone half-angle used.
    n_rotations : int
        Number of random bases.
    seed : int or None
        Seed of the rotations.
    n_samples, n_dims : int
        Samples with a direction, and their dimension.
    """

    observed: float
    null: np.ndarray
    p_value: float
    statistic: str
    result: SRMResult | None
    epsilon: float
    n_rotations: int
    seed: int | None
    n_samples: int
    n_dims: int

    @property
    def z_score(self) -> float:
        """``(observed - mean(null)) / std(null)``: how many null spreads above the null mean."""
        spread = float(self.null.std())
        return math.inf if spread == 0 else (self.observed - float(self.null.mean())) / spread

    @property
    def min_p_value(self) -> float:
        """The smallest p-value this many rotations can give, ``1 / (1 + n_rotations)``."""
        return 1.0 / (1 + self.n_rotations)


def rotation_test(
    activations,
    basis=None,
    *,
    epsilon: float = 0.9,
    resolution: int = 72,
    statistic: str | Callable[[SRMResult], float] = "contrast",
    n_rotations: int = 99,
    seed: int | None = 0,
    pairs: str = "comb",
    max_planes: int | None = None,
    progress: bool | None = None,
) -> RotationTest:
    """How unusual is the alignment of ``activations`` with ``basis``? A randomly-rotated null.

    The statistic is computed in the given basis and in ``n_rotations`` bases ``{Q b_k}``, each
    with its own Haar-random rotation ``Q`` (:func:`srmlib.random_rotation`). The p-value is
    ``(1 + #{null >= observed}) / (1 + n_rotations)``.

    The rotations, and the planes of ``max_planes``, come from streams of their own derived from
    ``seed`` (``numpy.random.SeedSequence`` children keyed by purpose), independent of the root
    stream ``numpy.random.default_rng(seed)``: a basis drawn as ``random_rotation(d, seed)``
    never reappears in the null of the same ``seed``, so the null never contains the rotation
    that undoes it.

    Statistics
    ----------
    ``"contrast"`` (default)
        The standard deviation over angles of the mean-over-planes resonance ratio,
        ``std_theta(mean_planes SRM(theta)) / p0`` with ``p0`` the isotropic baseline. Structure
        that every plane shows at the same angles (aligned peaks at the basis vectors, or
        anti-aligned ones between them) survives the mean over planes; structure at a random
        phase in each plane, as a basis unrelated to the data gives, averages out. It detects
        alignment and anti-alignment alike.
    ``"alignment"``
        The mean over basis vectors ``b_k`` of the fraction of samples within
        ``arccos(epsilon)`` of ``+b_k`` or ``-b_k``, divided by its isotropic value ``2 p0``:
        a spotlight on each basis axis, without the sweep. Large for aligned data only; needs
        ``epsilon > 0`` (the two cones must not overlap).
    a callable
        ``statistic(result) -> float`` of an unsigned :class:`~srmlib.SRMResult` computed at
        ``epsilon`` and ``resolution``; larger must mean "more unusual".

    Parameters
    ----------
    activations : array_like or torch.Tensor, shape (n, d)
        One sample per row; zero rows are left out (with a warning).
    basis : array_like, shape (k, d), optional
        The basis to test; default the neurons.
    epsilon : float
        Cosine of the cone half-angle.
    resolution : int
        Probe angles per plane (not used by ``"alignment"``).
    statistic : {"contrast", "alignment"} or callable
        See above.
    n_rotations : int
        Number of random bases, at least 1; the smallest possible p-value is
        ``1 / (1 + n_rotations)``.
    seed : int, numpy.random.Generator or None
        Source of the rotations and the plane subset (see above); the same seed gives the same
        random bases for every ``basis`` and ``activations``.
    pairs, max_planes
        As for :func:`srmlib.spotlight_resonance`; a random subset of planes (``max_planes``)
        is drawn once, with ``seed``, and used in every basis.
    progress : bool, optional
        Progress bar over rotations; by default only for large workloads.

    Returns
    -------
    RotationTest

    Examples
    --------
    >>> import numpy as np
    >>> x = np.maximum(np.random.default_rng(0).standard_normal((2000, 4)) - 1, 0)
    >>> x = x[x.any(axis=1)]
    >>> test = rotation_test(x, epsilon=0.8, n_rotations=19, seed=0)
    >>> test.p_value
    0.05
    """
    epsilon = check_epsilon(epsilon)
    resolution = check_int(resolution, "resolution", minimum=1)
    n_rotations = check_int(n_rotations, "n_rotations", minimum=1)
    name, compute = _statistic(statistic, epsilon, resolution)
    seed = check_seed(seed, "seed", none=True, generator=True)
    x = as_float_tensor(activations, "activations", ndim=2)
    n_dims = x.shape[1]
    if basis is None:
        if n_dims < 2:  # the default basis is the neurons: one neuron spans no plane
            raise ValueError(f"activations need at least 2 columns (neurons) to span a plane "
                             f"in the default basis, got shape {tuple(x.shape)}")
        basis = np.eye(n_dims)
    basis = as_float_tensor(basis, "basis", ndim=2).cpu().numpy().astype(np.float64)
    scale = row_scale_exponents(basis)  # rotated below: keep its products within range
    if scale is not None:
        basis = times_power_of_two(basis, -scale[:, None])
    if basis.shape[1] != n_dims:
        raise ValueError(f"basis has vectors of dimension {basis.shape[1]} but activations have "
                         f"{n_dims} columns; basis must have shape (n_vectors, n_dims)")
    # Independent streams: the planes, and the rotations (never the root stream of ``seed``,
    # from which ``random_rotation(d, seed)`` draws the basis under test).
    plane_stream = stream(seed, "rotation_test.planes")
    rotation_stream = stream(seed, "rotation_test.rotations")
    projected = project(x, basis, pairs=pairs, max_planes=max_planes, seed=plane_stream)
    planes = projected.planes
    observed, result = compute(projected)

    work = n_rotations * projected.n_samples * len(planes)
    show = check_progress(progress, default=work >= _PROGRESS_WORK)
    null = np.empty(n_rotations)
    for r in tqdm(range(n_rotations), desc="random rotations", unit="basis", disable=not show):
        rotated = basis @ random_rotation(n_dims, rotation_stream).T
        null[r], _ = compute(project(x, rotated, planes=planes))
    p_value = (1 + int(np.count_nonzero(null >= observed))) / (1 + n_rotations)
    return RotationTest(
        observed=float(observed), null=null, p_value=p_value, statistic=name, result=result,
        epsilon=epsilon, n_rotations=n_rotations,
        seed=seed if not isinstance(seed, np.random.Generator) else None,
        n_samples=projected.n_samples, n_dims=n_dims,
    )


# --------------------------------------------------------------------------- internals


def _fractions(result, n_samples, name: str = "result") -> tuple[np.ndarray, int]:
    if isinstance(result, SRMResult):
        if n_samples is not None:
            raise ValueError("n_samples is taken from the SRMResult; pass it only with an array")
        if result.signed:
            raise ValueError("binomial error bars need unsigned SRM: a signed value is the "
                             "difference of two fractions (compute signed=False instead)")
        return np.asarray(result.values, dtype=np.float64), int(result.n_samples)
    if n_samples is None:
        raise ValueError("n_samples is needed with an array of fractions")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    p = check_real_array(result, name)  # refuses strings and booleans
    if p.size == 0 or np.any((p < 0) | (p > 1)):
        raise ValueError(f"{name} must hold fractions in [0, 1]")
    return p, n_samples


def _statistic(statistic, epsilon: float, resolution: int):
    """``(name, compute)`` with ``compute(projected) -> (value, SRMResult or None)``."""
    if callable(statistic):
        def compute(projected):
            result = projected.spotlight_resonance(epsilon=epsilon, resolution=resolution)
            value = check_real(statistic(result), "statistic(result)")
            return value, result

        return getattr(statistic, "__name__", "custom"), compute
    if not isinstance(statistic, str) or statistic.lower() not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS} or a function, got {statistic!r}")
    statistic = statistic.lower()
    if statistic == "contrast":
        def compute(projected):
            result = projected.spotlight_resonance(epsilon=epsilon, resolution=resolution)
            return float(result.resonance_ratio().mean(axis=0).std()), result

        return statistic, compute
    _check_alignment_epsilon(epsilon)

    def compute(projected):
        inside = _axis_counts(projected, epsilon).double().mean() / projected.basis_size
        baseline = 2.0 * isotropic_expectation(projected.n_dims, epsilon)
        return float(inside) / baseline, None

    return statistic, compute


def _check_alignment_epsilon(epsilon: float) -> None:
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"the alignment statistic needs 0 < epsilon < 1 (the cones around +b_k "
                         f"and -b_k must not overlap), got epsilon={epsilon}")


def _axis_counts(projected, epsilon: float) -> torch.Tensor:
    """Per sample, the number of basis axes ``+-b_k`` within ``arccos(epsilon)`` of it."""
    cosines = projected.projections
    # elementwise work of this size is faster on one thread than waiting for a busy core
    with torch_threads(1 if cosines.numel() < _SINGLE_THREAD_ELEMENTS else None):
        return (torch.abs(cosines) >= epsilon).sum(dim=1)
