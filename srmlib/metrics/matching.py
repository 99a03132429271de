"""Metrics that match units one to one: semi-, soft-matching, their distance, permutations.

They compare tuning curves unit by unit, so they see the basis the units are expressed in: a
rotation of either side's units lowers them (chapter 6: the reason superposition hides
alignment from them).
"""

from __future__ import annotations

import warnings

import numpy as np
import ot
from scipy.optimize import linear_sum_assignment

from .._validation import as_float_tensor, check_choice, check_int
from ._core import (
    AlignmentResult,
    as_pair,
    check_flag,
    checked_and_scaled,
    one_thread,
    pair_moments,
    streamed_cross_validated,
    streamed_fit_free,
)

__all__ = [
    "MAX_ITER",
    "correlation_matrix",
    "permutation_distance",
    "semi_matching",
    "soft_matching",
    "soft_matching_distance",
    "transport_plan",
]

#: Iterations allowed to POT's network simplex (its own default, 100,000, is too few for a
#: few hundred units); :func:`transport_plan` raises if even these are not enough.
MAX_ITER = 10_000_000


@one_thread
def correlation_matrix(source, target) -> np.ndarray:
    """Pearson correlation of every source unit with every target unit.

    Computed from streamed second moments (:mod:`srmlib.metrics`' notes on scale): memory
    beyond the inputs is ``O(n_source * n_target)``; a CUDA tensor is reduced on its GPU.

    Parameters
    ----------
    source : array_like or Tensor, shape (n_stimuli, n_source)
    target : array_like or Tensor, shape (n_stimuli, n_target)

    Returns
    -------
    ndarray, shape (n_source, n_target)
        Entries in ``[-1, 1]``; 0 for a unit that is constant on these stimuli (its correlation
        is undefined, and it predicts nothing).

    Examples
    --------
    >>> correlation_matrix([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]], [[0.0], [2.0], [4.0]]).tolist()
    [[1.0], [0.0]]
    """
    x, y = as_pair(source, target, streaming=True)
    x, _ = checked_and_scaled(x, "source", per_unit=True)  # checks that every value is finite
    y, _ = checked_and_scaled(y, "target", per_unit=True)
    return pair_moments(x, y, full=False).covariance().correlation()


@one_thread
def transport_plan(cost, *, max_iter: int = MAX_ITER) -> np.ndarray:
    """Exact optimal transport plan between uniform weights on the rows and the columns of ``cost``.

    Solves ``min_P sum_ij P_ij cost_ij`` subject to ``P >= 0``, row sums ``1 / n_rows`` and
    column sums ``1 / n_cols`` with POT's network simplex (``ot.emd``). For a square cost the
    optimum is a permutation matrix divided by ``n`` (Birkhoff), the Hungarian assignment.

    Parameters
    ----------
    cost : array_like, shape (n_rows, n_cols)
    max_iter : int
        Iteration limit of the solver.

    Returns
    -------
    ndarray, shape (n_rows, n_cols)
        The plan; its entries sum to 1.

    Raises
    ------
    RuntimeError
        If the solver stops before it proves the plan optimal (raise ``max_iter``).
    """
    m = as_float_tensor(cost, "cost", ndim=2).cpu().double().numpy()
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    a = np.full(m.shape[0], 1.0 / m.shape[0])
    b = np.full(m.shape[1], 1.0 / m.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # reported below, as an error
        plan, log = ot.emd(a, b, np.ascontiguousarray(m), numItermax=max_iter, log=True)
    if log.get("warning") is not None or log.get("result_code", 1) != 1:
        raise RuntimeError(f"optimal transport did not converge ({log.get('warning')}); "
                           f"raise max_iter (now {max_iter})")
    return plan


@one_thread
def semi_matching(source, target, *, n_folds: int = 5, seed: int = 0) -> AlignmentResult:
    """Semi-matching score: each target unit is predicted by its best-correlated source unit.

    On each training fold, target unit ``j`` picks ``i(j) = argmax_i r_ij`` (Pearson correlation
    with every source unit); the fold's score is ``mean_j r_{i(j) j}`` on the held-out stimuli.
    Several target units may pick the same source unit.

    Direction: source predicts target (swapping them changes the score).
    Normalisation: correlations, so each unit is z-scored; 1 when every target unit is an
    increasing affine function of some source unit, about 0 for unrelated units.
    Invariances: permutations of either side's units, positive scaling and shifts of any unit.
    Not invariant to rotations or other mixing of the units (the point of chapter 6), nor to a
    sign flip of a unit (correlations are signed).

    Parameters
    ----------
    source : array_like or Tensor, shape (n_stimuli, n_source)
    target : array_like or Tensor, shape (n_stimuli, n_target)
    n_folds : int
        Folds of cross-validation (1: choose and score on all stimuli).
    seed : int
        Seed of the shuffled fold split.

    Returns
    -------
    AlignmentResult
    """
    def fold_score(train, test):
        best = np.argmax(train.correlation(), axis=0)
        held_out = test.correlation()
        return float(held_out[best, np.arange(held_out.shape[1])].mean())

    return streamed_cross_validated("semi-matching", source, target, n_folds, seed, fold_score,
                                    full=False, per_unit=True)


@one_thread
def soft_matching(source, target, *, n_folds: int = 5, seed: int = 0,
                  max_iter: int = MAX_ITER) -> AlignmentResult:
    """Soft-matching score: units matched by an optimal transport plan on their correlations.

    On each training fold, the plan ``P`` (``n_source x n_target``, row sums ``1/n_source``,
    column sums ``1/n_target``) minimises ``sum_ij P_ij (1 - r_ij)``
    (:func:`transport_plan`); the fold's score is ``sum_ij P_ij r_ij`` on the held-out stimuli,
    a weighted mean of correlations. With equal unit counts ``P`` is a one-to-one matching;
    otherwise each unit's mass is split. Because every target unit must receive mass from the
    source units in proportion, a source unit cannot serve every target unit: on the same
    stimuli the score is never above :func:`semi_matching`'s.

    Direction: source to target, though the plan's problem is symmetric: with one fold (or the
    same split) swapping the two gives the same score.
    Normalisation: correlations; 1 when the units are the same up to permutation (and
    positive affine maps of each unit).
    Invariances: permutations of either side's units, positive scaling and shifts of any unit.
    Not invariant to rotations or sign flips.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    n_folds, seed : int
        As in :func:`semi_matching`.
    max_iter : int
        Iteration limit of the transport solver (:func:`transport_plan` raises if it is hit).

    Returns
    -------
    AlignmentResult
    """
    def fold_score(train, test):
        plan = transport_plan(1.0 - train.correlation(), max_iter=max_iter)
        return float(np.sum(plan * test.correlation()))

    return streamed_cross_validated("soft-matching", source, target, n_folds, seed, fold_score,
                                    full=False, per_unit=True)


@one_thread
def soft_matching_distance(source, target, *, standardize: bool = True,
                           max_iter: int = MAX_ITER) -> AlignmentResult:
    """Soft-matching distance of Khosla & Williams (2023): optimal transport of tuning curves.

    With ``x_i`` the tuning curve of source unit ``i`` (column ``i``, divided by
    ``sqrt(n_stimuli)`` so that squared lengths are mean squares) and ``y_j`` likewise,

    .. math:: d(X, Y) = \\min_P \\Big(\\sum_{ij} P_{ij} \\|x_i - y_j\\|^2\\Big)^{1/2},

    over plans ``P`` with row sums ``1/n_source`` and column sums ``1/n_target``: the
    2-Wasserstein distance between the two clouds of tuning curves. It is a metric (symmetric,
    zero only for equal clouds, triangle inequality) on representations with any numbers of
    units; for equal numbers it is the root-mean-square distance of the best one-to-one
    matching.

    Normalisation: with ``standardize`` (default) every unit is z-scored first, so
    ``|x_i - y_j|^2 = 2 (1 - r_ij)`` and ``d = sqrt(2 (1 - s))`` with ``s`` the in-sample
    :func:`soft_matching` score; ``d`` lies in ``[0, 2]``. With ``standardize=False`` the raw
    tuning curves are compared.
    Invariances: permutations of either side's units (0 for a permuted copy); with
    ``standardize``, also positive scaling and shifts of each unit. Not invariant to rotations.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    standardize : bool
        z-score every unit (constant units are dropped either way).
    max_iter : int
        Iteration limit of the transport solver.

    Returns
    -------
    AlignmentResult
        A distance (``higher_is_better`` is ``False``), one value on all stimuli.
    """
    standardize = check_flag(standardize, "standardize")

    def distance(c):
        if standardize:
            cost = 2.0 * (1.0 - c.correlation())
        else:
            cost = (np.diag(c.xx)[:, None] + np.diag(c.yy)[None, :] - 2.0 * c.xy
                    + (c.mean_x[:, None] - c.mean_y[None, :]) ** 2)
        plan = transport_plan(np.maximum(cost, 0.0), max_iter=max_iter)
        return float(np.sqrt(max(np.sum(plan * cost), 0.0)))

    return streamed_fit_free("soft-matching distance", source, target, distance,
                             higher_is_better=False, full=False, per_unit=standardize)


@one_thread
def permutation_distance(source, target, *, kind: str = "angular") -> AlignmentResult:
    """Permutation shape metric (Williams et al., 2021): Procrustes with permutations only.

    Each side is centred and scaled to unit Frobenius norm; the one with fewer units is padded
    with zero columns. With ``m = max_P tr(X^T Y P)`` over permutation matrices ``P`` (the
    linear assignment of :func:`scipy.optimize.linear_sum_assignment` on ``X^T Y``):

    - ``kind="angular"``: ``arccos(m)``, in radians, in ``[0, pi]``;
    - ``kind="euclidean"``: ``min_P |X - Y P|_F = sqrt(2 - 2 m)``.

    Both are metrics (the permutations are a group of isometries), symmetric in the two sides.

    Invariances: permutations of either side's units, translations and isotropic scaling.
    Not invariant to rotations (unlike :func:`procrustes_distance`) nor to per-unit scaling
    (unlike the correlation-based :func:`soft_matching_distance`).

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    kind : {"angular", "euclidean"}

    Returns
    -------
    AlignmentResult
        A distance, one value on all stimuli.
    """
    kind = check_choice(kind, "kind", ("angular", "euclidean"))

    def distance(c):
        cross = c.xy / np.sqrt(np.trace(c.xx) * np.trace(c.yy))
        rows, cols = linear_sum_assignment(cross, maximize=True)
        m = float(np.clip(cross[rows, cols].sum(), -1.0, 1.0))
        return float(np.arccos(m)) if kind == "angular" else float(np.sqrt(2.0 - 2.0 * m))

    return streamed_fit_free(f"permutation ({kind})", source, target, distance,
                             higher_is_better=False, full=False)
