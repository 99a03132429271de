"""What every metric shares: the result object, input handling, folds and streamed moments.

Private to :mod:`srmlib.metrics`; the metric modules import these names, nothing else does.

Most metrics need only second moments of the two representations: means, ``X^T X``, ``Y^T Y``
and ``X^T Y`` (centred), per fold for the cross-validated ones. :func:`pair_moments` computes
them in one streaming pass over blocks of stimuli, on the device of the input (a CUDA tensor is
summed on its GPU), in float64, so that memory beyond the inputs is a few ``d x d`` matrices and
one block, whatever the number of stimuli. Everything after that works on ``d x d`` matrices.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import KFold

from .._threads import single_thread
from .._validation import (
    as_float_tensor,
    check_int,
    check_seed,
    legacy_seed,
    rescaled,
    scale_exponent,
    scale_exponents,
    times_power_of_two,
)

#: Entries of one side's block of stimuli in a streaming pass (4M: 32 MB in float64).
BLOCK_ENTRIES = 2**22


@dataclass(frozen=True)
class AlignmentResult:
    """One metric's comparison of a source and a target representation.

    Attributes
    ----------
    metric : str
        The metric's name, as in :data:`srmlib.metrics.METRICS`, with its options where they
        change the value (``"cka (unbiased)"``, ``"shape (alpha=0.5)"``).
    scores : ndarray, shape (n_folds,)
        One value per held-out fold (mapping metrics) or a single value (fit-free ones).
    higher_is_better : bool
        ``True`` for similarity scores, ``False`` for distances.
    n_stimuli : int
        Stimuli compared.
    n_source, n_target : int
        Units used, after constant ones were dropped.
    dropped_source, dropped_target : ndarray of int
        Column indices of the constant units that were dropped.
    n_folds : int
        Folds of cross-validation (1: in-sample, or a fit-free metric).
    seed : int or None
        Seed of the fold split (``None`` for fit-free metrics).
    """

    metric: str
    scores: np.ndarray
    higher_is_better: bool
    n_stimuli: int
    n_source: int
    n_target: int
    dropped_source: np.ndarray
    dropped_target: np.ndarray
    n_folds: int
    seed: int | None

    @property
    def mean(self) -> float:
        """Mean over folds."""
        return float(np.mean(self.scores))

    @property
    def sem(self) -> float:
        """Standard error of the mean over folds, ``std(ddof=1) / sqrt(n_folds)``; NaN for one.

        Folds share training stimuli, so their scores are not independent: the SEM is a guide
        to the split-to-split spread, not a confidence interval.
        """
        if len(self.scores) < 2:
            return float("nan")
        return float(np.std(self.scores, ddof=1) / np.sqrt(len(self.scores)))

    def __str__(self) -> str:
        spread = "" if np.isnan(self.sem) else f" +- {self.sem:.3f}"
        return (f"{self.metric}: {self.mean:.3f}{spread} ({self.n_stimuli} stimuli, "
                f"{self.n_source} -> {self.n_target} units, {self.n_folds} fold(s))")


def one_thread(function):
    """Run a metric on one BLAS and one torch thread.

    Its matrices are small: on a shared machine, extra threads only wait for each other (a
    ridge fit on 500 x 64 took 0.8 s with two BLAS threads under load, 0.05 s with one).
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with single_thread():
            return function(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- inputs


def as_array(x, name: str) -> np.ndarray:
    """A 2-D float64 numpy copy of ``x`` (validated: finite, real, non-empty), times a power of
    two where its magnitude is extreme (:func:`srmlib._validation.rescaled`: exact)."""
    return rescaled(as_float_tensor(x, name, ndim=2).cpu().double().numpy())[0]


def as_streamable(x, name: str) -> torch.Tensor:
    """A 2-D float tensor that shares the memory of a float32/float64 array or tensor.

    Types, dimensions and emptiness are checked here (as :func:`as_float_tensor` does, on a
    slice); finiteness is checked block by block as the data are streamed
    (:func:`checked_and_scaled`), so that no temporary of the input's size is made. Other dtypes
    are converted (a copy) by :func:`as_float_tensor`.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            arr = np.asarray(x)
        except Exception:  # ragged lists and the like: as_float_tensor explains
            return as_float_tensor(x, name, ndim=2)
        if arr.dtype not in (np.float32, np.float64) or arr.ndim != 2 or arr.size == 0 or any(
                s <= 0 for s in arr.strides):
            return as_float_tensor(arr, name, ndim=2)
        t = torch.from_numpy(arr)
    if t.dtype not in (torch.float32, torch.float64) or t.ndim != 2 or t.numel() == 0:
        return as_float_tensor(t, name, ndim=2)
    return t


def as_pair(source, target, *, streaming: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Both representations as validated 2-D tensors (no copy of a float array), same stimuli.

    With ``streaming``, finiteness is left to the streaming pass (:func:`as_streamable`).
    """
    convert = as_streamable if streaming else (
        lambda value, name: as_float_tensor(value, name, ndim=2))
    x = convert(source, "source")
    y = convert(target, "target")
    same_stimuli(x, y)
    if x.device != y.device:
        raise ValueError(f"source and target must be on the same device, got {x.device} and "
                         f"{y.device}")
    return x, y


def same_stimuli(x, y) -> None:
    if len(x) != len(y):
        raise ValueError(f"source and target must hold the same stimuli (rows): got "
                         f"{len(x)} and {len(y)} rows")


def varying(x: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Columns that vary across stimuli, and the indices of the constant ones."""
    constant = np.all(x == x[:1], axis=0)
    if constant.all():
        raise ValueError(f"every unit of {name} is constant across stimuli: nothing to compare")
    return x[:, ~constant], np.flatnonzero(constant)


def prepare(source, target, min_stimuli: int = 2):
    """numpy float64 copies without their constant units, and the indices of those units."""
    x, y = as_array(source, "source"), as_array(target, "target")
    same_stimuli(x, y)
    if len(x) < min_stimuli:
        raise ValueError(f"need at least {min_stimuli} stimuli, got {len(x)}")
    x, dropped_x = varying(x, "source")
    y, dropped_y = varying(y, "target")
    return x, y, dropped_x, dropped_y


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations, with 1 for constant columns (which stay 0)."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def standardize(x: np.ndarray) -> np.ndarray:
    """z-score every column (population std); constant columns become 0."""
    mean, std = moments(x)
    return (x - mean) / std


def paired_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation of column ``j`` of ``x`` with column ``j`` of ``y``, shape ``(n_cols,)``."""
    return np.clip(np.mean(standardize(x) * standardize(y), axis=0), -1.0, 1.0)


def check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


# --------------------------------------------------------------------------- folds


def folds(n_stimuli: int, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index pairs: scikit-learn's shuffled ``KFold``, or everything twice."""
    if n_folds == 1:
        everything = np.arange(n_stimuli)
        return [(everything, everything)]
    if n_folds > n_stimuli // 2:
        raise ValueError(f"n_folds must leave at least 2 stimuli per fold: got n_folds={n_folds} "
                         f"for {n_stimuli} stimuli")
    return list(KFold(n_splits=n_folds, shuffle=True, random_state=legacy_seed(seed))
                .split(np.zeros(n_stimuli)))


def check_folds(n_folds, seed) -> tuple[int, int]:
    return check_int(n_folds, "n_folds", minimum=1), check_seed(seed, "seed")


def cross_validated(name, source, target, n_folds, seed, fold_score) -> AlignmentResult:
    """Score ``fold_score(x_train, y_train, x_test, y_test)`` on every fold (numpy inputs)."""
    n_folds, seed = check_folds(n_folds, seed)
    x, y, dropped_x, dropped_y = prepare(source, target, min_stimuli=4 if n_folds > 1 else 2)
    scores = np.array([fold_score(x[train], y[train], x[test], y[test])
                       for train, test in folds(len(x), n_folds, seed)])
    return AlignmentResult(metric=name, scores=scores, higher_is_better=True, n_stimuli=len(x),
                           n_source=x.shape[1], n_target=y.shape[1], dropped_source=dropped_x,
                           dropped_target=dropped_y, n_folds=n_folds, seed=seed)


def fit_free(name, source, target, compute, *, higher_is_better: bool,
             min_stimuli: int = 2) -> AlignmentResult:
    """Compute ``compute(x, y)`` once on all stimuli (numpy inputs without constant units)."""
    x, y, dropped_x, dropped_y = prepare(source, target, min_stimuli=min_stimuli)
    return AlignmentResult(metric=name, scores=np.array([compute(x, y)]),
                           higher_is_better=higher_is_better, n_stimuli=len(x),
                           n_source=x.shape[1], n_target=y.shape[1], dropped_source=dropped_x,
                           dropped_target=dropped_y, n_folds=1, seed=None)


# --------------------------------------------------------------------------- streamed moments


@dataclass(frozen=True)
class Covariance:
    """Second moments of two representations on a set of stimuli (divided by its size).

    ``xx``, ``yy``, ``xy`` are covariances (centred on these stimuli's own means); ``mean_x``,
    ``mean_y`` their means; ``flat_x``, ``flat_y`` mark units constant on these stimuli.
    """

    n: int
    mean_x: np.ndarray
    mean_y: np.ndarray
    xx: np.ndarray
    yy: np.ndarray
    xy: np.ndarray
    flat_x: np.ndarray
    flat_y: np.ndarray

    def correlation(self) -> np.ndarray:
        """Pearson correlations ``(n_x, n_y)``, 0 for a unit constant on these stimuli."""
        sx = np.sqrt(np.where(self.flat_x, 1.0, np.maximum(np.diag(self.xx), 0.0)))
        sy = np.sqrt(np.where(self.flat_y, 1.0, np.maximum(np.diag(self.yy), 0.0)))
        sx[sx == 0] = 1.0
        sy[sy == 0] = 1.0
        r = self.xy / sx[:, None] / sy[None, :]
        r[self.flat_x, :] = 0.0
        r[:, self.flat_y] = 0.0
        return np.clip(r, -1.0, 1.0)


@dataclass(frozen=True)
class PairMoments:
    """Per-group sums of two representations, centred on the overall means.

    Built by :func:`pair_moments`; :meth:`covariance` combines groups.
    """

    counts: np.ndarray  # (g,)
    mean_x: np.ndarray  # (d_x,) overall means, the centre of every sum below
    mean_y: np.ndarray
    sum_x: np.ndarray  # (g, d_x)
    sum_y: np.ndarray
    xx: np.ndarray  # (g, d_x, d_x)
    yy: np.ndarray
    xy: np.ndarray  # (g, d_x, d_y)
    min_x: np.ndarray  # (g, d_x)
    max_x: np.ndarray
    min_y: np.ndarray
    max_y: np.ndarray

    def covariance(self, groups=None) -> Covariance:
        """The :class:`Covariance` of the union of ``groups`` (default: every stimulus)."""
        g = np.arange(len(self.counts)) if groups is None else np.asarray(groups)
        n = int(self.counts[g].sum())
        sx, sy = self.sum_x[g].sum(axis=0), self.sum_y[g].sum(axis=0)
        xx = self.xx[g].sum(axis=0) / n - np.outer(sx, sx) / n**2
        yy = self.yy[g].sum(axis=0) / n - np.outer(sy, sy) / n**2
        xy = self.xy[g].sum(axis=0) / n - np.outer(sx, sy) / n**2
        flat_x = self.min_x[g].min(axis=0) == self.max_x[g].max(axis=0)
        flat_y = self.min_y[g].min(axis=0) == self.max_y[g].max(axis=0)
        return Covariance(n=n, mean_x=self.mean_x + sx / n, mean_y=self.mean_y + sy / n,
                          xx=xx, yy=yy, xy=xy, flat_x=flat_x, flat_y=flat_y)


def _blocks(rows: torch.Tensor, width: int):
    size = max(1, BLOCK_ENTRIES // max(width, 1))
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def block_rows(n: int, width: int, device):
    """Index tensors of consecutive blocks of stimuli, ``BLOCK_ENTRIES // width`` rows each."""
    yield from _blocks(torch.arange(n, device=device), width)


def pair_moments(x: torch.Tensor, y: torch.Tensor, groups=None, *, keep_x=None,
                 keep_y=None, full: bool = True, float64: bool = False) -> PairMoments:
    """Stream over blocks of stimuli and sum the moments of ``x`` and ``y`` per group.

    Parameters
    ----------
    x, y : Tensor, shape (n, d_x) and (n, d_y)
        On one device; sums run there, in float64.
    groups : list of index arrays, optional
        Disjoint sets of stimuli (the test folds); default one group of every stimulus.
    keep_x, keep_y : index arrays, optional
        Units to use (default all).
    full : bool
        Sum all of ``X^T X`` and ``Y^T Y``; with ``False`` only their diagonals (the rest stays
        0), which is all that correlations, traces and ``X^T Y`` need: one matrix product per
        block instead of three.

    float64 : bool
        Multiply blocks of float32 inputs in float64 too (for a metric whose result is
        sensitive to the last digits of the moments, as a ridge with a small penalty is).

    Blocks of float32 inputs are multiplied in float32 (after centring in float64) and summed
    in float64, unless ``float64``; float64 inputs stay in float64 throughout.
    """
    device = x.device
    n = len(x)
    groups = [np.arange(n)] if groups is None else groups
    ix = None if keep_x is None else torch.as_tensor(keep_x, device=device)
    iy = None if keep_y is None else torch.as_tensor(keep_y, device=device)
    width = x.shape[1] + y.shape[1]
    product = (torch.float32 if x.dtype == torch.float32 and y.dtype == torch.float32
               and not float64 else torch.float64)

    def gram(a, b):
        return (a.to(product).T @ b.to(product)).double()

    def block(rows):
        bx, by = x.index_select(0, rows), y.index_select(0, rows)
        if ix is not None:
            bx = bx.index_select(1, ix)
        if iy is not None:
            by = by.index_select(1, iy)
        return bx.double(), by.double()

    everything = torch.arange(n, device=device)
    mean_x = mean_y = None
    for rows in _blocks(everything, width):
        bx, by = block(rows)
        mean_x = bx.sum(0) if mean_x is None else mean_x + bx.sum(0)
        mean_y = by.sum(0) if mean_y is None else mean_y + by.sum(0)
    mean_x, mean_y = mean_x / n, mean_y / n

    out = {key: [] for key in ("counts", "sum_x", "sum_y", "xx", "yy", "xy", "min_x", "max_x",
                               "min_y", "max_y")}
    for members in groups:
        members = torch.as_tensor(np.asarray(members), device=device)
        dx, dy = len(mean_x), len(mean_y)
        acc = dict(sum_x=torch.zeros(dx, dtype=torch.float64, device=device),
                   sum_y=torch.zeros(dy, dtype=torch.float64, device=device),
                   xx=torch.zeros(dx, dx, dtype=torch.float64, device=device),
                   yy=torch.zeros(dy, dy, dtype=torch.float64, device=device),
                   xy=torch.zeros(dx, dy, dtype=torch.float64, device=device),
                   min_x=torch.full((dx,), np.inf, dtype=torch.float64, device=device),
                   max_x=torch.full((dx,), -np.inf, dtype=torch.float64, device=device),
                   min_y=torch.full((dy,), np.inf, dtype=torch.float64, device=device),
                   max_y=torch.full((dy,), -np.inf, dtype=torch.float64, device=device))
        for rows in _blocks(members, width):
            bx, by = block(rows)
            acc["min_x"] = torch.minimum(acc["min_x"], bx.amin(0))
            acc["max_x"] = torch.maximum(acc["max_x"], bx.amax(0))
            acc["min_y"] = torch.minimum(acc["min_y"], by.amin(0))
            acc["max_y"] = torch.maximum(acc["max_y"], by.amax(0))
            bx, by = bx - mean_x, by - mean_y
            acc["sum_x"] += bx.sum(0)
            acc["sum_y"] += by.sum(0)
            if full:
                acc["xx"] += gram(bx, bx)
                acc["yy"] += gram(by, by)
            else:
                acc["xx"].diagonal().add_((bx * bx).sum(0))
                acc["yy"].diagonal().add_((by * by).sum(0))
            acc["xy"] += gram(bx, by)
        out["counts"].append(len(members))
        for key, value in acc.items():
            out[key].append(value.cpu().numpy())
    return PairMoments(counts=np.array(out["counts"]), mean_x=mean_x.cpu().numpy(),
                       mean_y=mean_y.cpu().numpy(),
                       **{key: np.stack(value) for key, value in out.items() if key != "counts"})


def _extremes(x: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Column minima and maxima of ``x`` (streamed); ``ValueError`` naming ``name`` for a
    block holding NaN or infinite values."""
    low = high = None
    for rows in _blocks(torch.arange(len(x), device=x.device), x.shape[1]):
        b = x.index_select(0, rows)
        if not bool(torch.isfinite(b).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        low = b.amin(0) if low is None else torch.minimum(low, b.amin(0))
        high = b.amax(0) if high is None else torch.maximum(high, b.amax(0))
    return low, high


def checked_and_scaled(x: torch.Tensor, name: str, *,
                       per_unit: bool = False) -> tuple[torch.Tensor, np.ndarray]:
    """``x`` checked for finiteness (streamed), and its constant columns.

    Every metric here is invariant to the scale of each side (or scales with it, as a plain
    inner product does, and only its ranking is used): a side whose largest magnitude lies
    beyond :data:`srmlib._validation.SAFE_EXPONENT` binary orders of 1, where its second
    moments would overflow or underflow, is replaced by a copy times a power of two (exact);
    ordinary inputs are returned as they are, without a copy. With ``per_unit`` (a metric
    invariant to the scale of each unit: correlations, z-scored regression, CCA) each column is
    brought to its own scale, so that units of 1e-200 and 1e200 on one side both count.
    """
    low, high = _extremes(x, name)
    max_abs = torch.maximum(low.abs(), high.abs())
    if per_unit:
        e = scale_exponents(max_abs, x.dtype)
        if e is not None:
            x = times_power_of_two(x, -e)
    else:
        e = scale_exponent(float(max_abs.max()), x.dtype)
        if e:
            x = times_power_of_two(x, -e)
    return x, (low == high).cpu().numpy()


@dataclass(frozen=True)
class Streamed:
    """Validated inputs of a moments-based metric: the tensors, kept units, dropped units."""

    x: torch.Tensor
    y: torch.Tensor
    keep_x: np.ndarray
    keep_y: np.ndarray
    dropped_x: np.ndarray
    dropped_y: np.ndarray

    @property
    def n(self) -> int:
        return len(self.x)

    def moments(self, groups=None, *, full: bool = True, float64: bool = False) -> PairMoments:
        return pair_moments(self.x, self.y, groups, keep_x=self.keep_x, keep_y=self.keep_y,
                            full=full, float64=float64)

    def result(self, name, scores, *, higher_is_better, n_folds=1, seed=None) -> AlignmentResult:
        return AlignmentResult(metric=name, scores=np.asarray(scores, dtype=np.float64).ravel(),
                               higher_is_better=higher_is_better, n_stimuli=self.n,
                               n_source=len(self.keep_x), n_target=len(self.keep_y),
                               dropped_source=self.dropped_x, dropped_target=self.dropped_y,
                               n_folds=n_folds, seed=seed)


def streamed(source, target, min_stimuli: int = 2, *, per_unit: bool = False) -> Streamed:
    """Validate two representations for a moments-based metric, without copying them (unless
    their scale is extreme: :func:`checked_and_scaled`, with ``per_unit``)."""
    x, y = as_pair(source, target, streaming=True)
    if len(x) < min_stimuli:
        raise ValueError(f"need at least {min_stimuli} stimuli, got {len(x)}")
    out, sides = {}, {}
    for side, t in (("source", x), ("target", y)):
        sides[side], constant = checked_and_scaled(t, side, per_unit=per_unit)
        if constant.all():
            raise ValueError(f"every unit of {side} is constant across stimuli: nothing to "
                             f"compare")
        out[side] = (np.flatnonzero(~constant), np.flatnonzero(constant))
    x, y = sides["source"], sides["target"]
    return Streamed(x=x, y=y, keep_x=out["source"][0], keep_y=out["target"][0],
                    dropped_x=out["source"][1], dropped_y=out["target"][1])


def streamed_cross_validated(name, source, target, n_folds, seed, fold_score, *,
                             full: bool = True, per_unit: bool = False) -> AlignmentResult:
    """Cross-validate ``fold_score(train, test)`` on :class:`Covariance` objects of each fold.

    ``full=False``: the covariances hold only the variances of each side (see
    :func:`pair_moments`); ``per_unit``: see :func:`checked_and_scaled`.
    """
    n_folds, seed = check_folds(n_folds, seed)
    data = streamed(source, target, min_stimuli=4 if n_folds > 1 else 2, per_unit=per_unit)
    split = folds(data.n, n_folds, seed)
    if n_folds == 1:
        everything = data.moments(full=full).covariance()
        scores = [fold_score(everything, everything)]
    else:
        sums = data.moments([test for _, test in split], full=full)
        scores = [fold_score(sums.covariance([g for g in range(n_folds) if g != f]),
                             sums.covariance([f])) for f in range(n_folds)]
    return data.result(name, scores, higher_is_better=True, n_folds=n_folds, seed=seed)


def streamed_fit_free(name, source, target, compute, *, higher_is_better: bool,
                      min_stimuli: int = 2, full: bool = True,
                      per_unit: bool = False) -> AlignmentResult:
    """``compute(covariance)`` on all stimuli, from streamed moments (``full``, ``per_unit``:
    as above)."""
    data = streamed(source, target, min_stimuli=min_stimuli, per_unit=per_unit)
    return data.result(name, [compute(data.moments(full=full).covariance())],
                       higher_is_better=higher_is_better)


def inverse_sqrt(c: np.ndarray, *, rtol: float = 1e-10) -> np.ndarray:
    """``C^{-1/2}`` of a symmetric PSD matrix, pseudo-inverse below ``rtol * max eigenvalue``."""
    values, vectors = np.linalg.eigh((c + c.T) / 2)
    keep = values > rtol * max(values.max(), 0.0)
    inv = np.zeros_like(values)
    inv[keep] = 1.0 / np.sqrt(values[keep])
    return (vectors * inv) @ vectors.T

