"""Linear predictivity: cross-validated ridge regression, scored by Pearson r or R^2.

Computed from second moments streamed over blocks of stimuli (see :mod:`._core`), exactly as
scikit-learn's ``RidgeCV(alphas, alpha_per_target=True)`` on the z-scored folds would (the tests
compare the two), in memory bounded by a block of stimuli and a few ``d x d`` matrices.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .._validation import check_choice
from ._core import (
    AlignmentResult,
    Covariance,
    _blocks,
    check_folds,
    folds,
    one_thread,
    streamed,
)

__all__ = ["DEFAULT_ALPHAS", "linear_predictivity"]

#: Ridge penalties searched by :func:`linear_predictivity` (a log grid, 1e-3 to 1e5, one per decade).
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 9))

SCORES = ("pearson", "r2")
DIRECTIONS = ("forward", "backward", "both")


def _swap(c: Covariance) -> Covariance:
    """The same moments with the two sides exchanged (for ``direction="backward"``)."""
    return dataclasses.replace(c, mean_x=c.mean_y, mean_y=c.mean_x, xx=c.yy, yy=c.xx, xy=c.xy.T,
                               flat_x=c.flat_y, flat_y=c.flat_x)


@one_thread
def linear_predictivity(source, target, *, n_folds: int = 5, seed: int = 0,
                        alphas=DEFAULT_ALPHAS, score: str = "pearson",
                        direction: str = "forward") -> AlignmentResult:
    """Linear predictivity: cross-validated ridge regression from all source units to each target.

    On each training fold both sides are z-scored; per target unit, the penalty in ``alphas``
    with the smallest (efficient) leave-one-out squared error is chosen and the weights are
    fitted with an unpenalised intercept: what scikit-learn's
    ``RidgeCV(alphas, alpha_per_target=True)`` does (the tests compare the two). The fold's
    score is the mean over target units of

    - ``score="pearson"`` (default): the Pearson correlation between prediction and response on
      the held-out stimuli (0 for a unit whose prediction or response is constant there);
    - ``score="r2"``: the coefficient of determination ``1 - SS_res / SS_tot`` on the held-out
      stimuli (as ``sklearn.metrics.r2_score``, ``SS_tot`` about the held-out mean; 0 for a unit
      constant there), which also charges a prediction for its scale and offset; at most 1,
      negative when the prediction is worse than the held-out mean.

    Direction: ``"forward"`` (default), source predicts target; ``"backward"``, target predicts
    source; ``"both"``, the mean of the two on each fold (the same split), a symmetric score.
    Normalisation: z-scored units: 1 when every predicted unit is an affine function of the
    predicting units.
    Invariances: permutations of either side's units, scaling and shifts of any unit (exactly,
    through z-scoring); nearly invariant to any invertible linear map of the predicting side
    when the chosen penalty is small. Not invariant to mixing of the predicted units (each is
    scored separately), nor to information the predicting side lacks.
    Memory and device: computed from second moments, streamed over blocks of stimuli on the
    inputs' device (a CUDA tensor is processed on its GPU) in float64: one pass for the
    moments of every fold, then per fold and direction one pass over its training stimuli (the
    leave-one-out errors of every penalty, from an eigendecomposition of the training Gram
    matrix) and one over its held-out stimuli (the scores). Memory beyond the inputs is a few
    ``d x d`` matrices and one block of stimuli, whatever the number of stimuli (no copy of
    the inputs). Time grows as ``n_stimuli * d_predicting * (d_predicting + len(alphas) *
    d_predicted)`` per fold.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    n_folds : int
        Folds of cross-validation (1: fit and score on all stimuli).
    seed : int
        Seed of the shuffled fold split.
    alphas : sequence of float
        Positive ridge penalties to choose from (default: :data:`DEFAULT_ALPHAS`).
    score : {"pearson", "r2"}
    direction : {"forward", "backward", "both"}

    Returns
    -------
    AlignmentResult
        ``metric`` is ``"linear predictivity"`` for the defaults, else it names the score
        and the direction.

    Examples
    --------
    A linear mix of the source is predicted perfectly; one unit cannot predict two:

    >>> x = np.random.default_rng(0).standard_normal((200, 4))
    >>> round(linear_predictivity(x, x @ np.random.default_rng(1).standard_normal((4, 3))).mean, 3)
    1.0
    >>> linear_predictivity(x[:, :1], x[:, :2]).mean < 0.8
    True
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas) & (alphas > 0)):
        raise ValueError("alphas must be a non-empty sequence of positive, finite penalties")
    score = check_choice(score, "score", SCORES)
    direction = check_choice(direction, "direction", DIRECTIONS)
    n_folds, seed = check_folds(n_folds, seed)
    # z-scored inside folds: invariant to each unit's scale, which may then differ wildly
    data = streamed(source, target, min_stimuli=4 if n_folds > 1 else 2, per_unit=True)
    split, fold_moments = _fold_moments(data, n_folds, seed)

    forward_side = (data.x, data.keep_x, data.y, data.keep_y)
    backward_side = (data.y, data.keep_y, data.x, data.keep_x)
    scores = []
    for (train, test), (fit, held) in zip(split, fold_moments):
        fold = []
        if direction in ("forward", "both"):
            fold.append(_predictivity(*forward_side, train, test, fit, held, alphas, score))
        if direction in ("backward", "both"):
            fold.append(_predictivity(*backward_side, train, test, _swap(fit),
                                      _swap(held), alphas, score))
        scores.append(np.mean(fold))
    name = ("linear predictivity" if (score, direction) == ("pearson", "forward")
            else f"linear predictivity ({score}, {direction})")
    return data.result(name, scores, higher_is_better=True, n_folds=n_folds, seed=seed)


def _fold_moments(data, n_folds: int, seed: int):
    """The folds' ``(train, test)`` indices and their ``(train, test)`` :class:`Covariance` pairs.

    The pairs are made one fold at a time (a generator): a few ``d x d`` matrices at a time.
    """
    split = folds(data.n, n_folds, seed)
    if n_folds == 1:
        everything = data.moments(float64=True).covariance()
        return split, iter([(everything, everything)])
    sums = data.moments([test for _, test in split], float64=True)
    return split, ((sums.covariance([g for g in range(n_folds) if g != f]), sums.covariance([f]))
                   for f in range(n_folds))


def _predictivity(a, keep_a, b, keep_b, train, test, fit: Covariance, held: Covariance,
                  alphas: np.ndarray, score: str, chosen: list | None = None) -> float:
    """One fold, one direction: ridge from the units ``keep_a`` of ``a`` to those of ``b``.

    ``fit`` and ``held`` are the moments of the training and held-out stimuli (``x``: the
    predicting side ``a``). The ridge is RidgeCV's: on the z-scored training fold ``Z``, ``T``,
    with the Gram ``Z^T Z = V diag(s) V^T``, the weights for a penalty ``alpha`` are
    ``V diag(1 / (s + alpha)) V^T Z^T T`` and the intercept is the training mean of ``T`` (0);
    the leverage of stimulus ``i`` is ``h_i = 1/n + sum_k (z_i^T v_k)^2 / (s_k + alpha)`` (the
    first term is the unpenalised intercept's), and its leave-one-out residual
    ``(t_i - z_i^T W) / (1 - h_i)``. ``chosen``, if given, receives each target's penalty.
    """
    device = a.device
    n = fit.n
    std_a = np.sqrt(np.where(fit.flat_x, 1.0, np.maximum(np.diag(fit.xx), 0.0)))
    std_b = np.sqrt(np.where(fit.flat_y, 1.0, np.maximum(np.diag(fit.yy), 0.0)))
    std_a[std_a == 0] = 1.0
    std_b[std_b == 0] = 1.0
    gram = n * fit.xx / np.outer(std_a, std_a)  # Z^T Z
    cross = n * fit.xy / np.outer(std_a, std_b)  # Z^T T
    gram[fit.flat_x, :] = gram[:, fit.flat_x] = 0.0  # z-scoring makes them exactly 0
    cross[fit.flat_x, :] = cross[:, fit.flat_y] = 0.0
    s, v = np.linalg.eigh((gram + gram.T) / 2)
    s = np.maximum(s, 0.0)
    shrink = 1.0 / (s[None, :] + alphas[:, None])  # (n_alphas, d_a)

    def tensor(value):
        return torch.as_tensor(np.ascontiguousarray(value), dtype=torch.float64, device=device)

    mean_a, std_a_t = tensor(fit.mean_x), tensor(std_a)
    mean_b, std_b_t = tensor(fit.mean_y), tensor(std_b)
    ia = torch.as_tensor(keep_a, device=device)
    ib = torch.as_tensor(keep_b, device=device)

    def zscored(rows):
        za = (a.index_select(0, rows).index_select(1, ia).double() - mean_a) / std_a_t
        zb = (b.index_select(0, rows).index_select(1, ib).double() - mean_b) / std_b_t
        return za, zb

    v_t, shrink_t = tensor(v), tensor(shrink)
    q = tensor(v.T @ cross)  # V^T Z^T T, (d_a, d_b)
    width = len(keep_a) + len(keep_b)
    # Leave-one-out squared errors of every penalty and target, over the training stimuli.
    loo = torch.zeros(len(alphas), len(keep_b), dtype=torch.float64, device=device)
    for rows in _blocks(torch.as_tensor(np.asarray(train), device=device), width):
        za, zb = zscored(rows)
        p = za @ v_t
        leverage = 1.0 / n + (p * p) @ shrink_t.T  # (block, n_alphas)
        for k in range(len(alphas)):
            residual = zb - (p * shrink_t[k]) @ q
            loo[k] += ((residual / (1.0 - leverage[:, k:k + 1])) ** 2).sum(0)
    best = loo.argmin(0).cpu().numpy()  # the first of equal errors, as RidgeCV
    if chosen is not None:
        chosen.append(alphas[best])
    weights_np = v @ (shrink[best].T * (v.T @ cross))  # (d_a, d_b), each target's penalty
    weights = tensor(weights_np)

    # Held-out scores from sums centred on the held-out means (known from the moments).
    centre_p = tensor(((held.mean_x - fit.mean_x) / std_a) @ weights_np)
    centre_t = tensor((held.mean_y - fit.mean_y) / std_b)
    d_b = len(keep_b)
    zeros = lambda: torch.zeros(d_b, dtype=torch.float64, device=device)  # noqa: E731
    pp, tt, pt, res = zeros(), zeros(), zeros(), zeros()
    low = torch.full((d_b,), np.inf, dtype=torch.float64, device=device)
    high = torch.full((d_b,), -np.inf, dtype=torch.float64, device=device)
    for rows in _blocks(torch.as_tensor(np.asarray(test), device=device), width):
        za, truth = zscored(rows)
        predicted = za @ weights
        low = torch.minimum(low, predicted.amin(0))
        high = torch.maximum(high, predicted.amax(0))
        res += ((truth - predicted) ** 2).sum(0)
        predicted, truth = predicted - centre_p, truth - centre_t
        pp += (predicted * predicted).sum(0)
        tt += (truth * truth).sum(0)
        pt += (predicted * truth).sum(0)
    pp, tt, pt, res = (t.cpu().numpy() for t in (pp, tt, pt, res))
    flat_truth = held.flat_y
    if score == "pearson":
        flat = flat_truth | (low == high).cpu().numpy() | (pp <= 0) | (tt <= 0)
        r = np.where(flat, 0.0, pt / np.sqrt(np.where(flat, 1.0, pp * tt)))
        return float(np.mean(np.clip(r, -1.0, 1.0)))
    # A unit constant on the held-out stimuli has no variance to explain: 0, as for r.
    r2 = np.where(flat_truth, 0.0, 1.0 - res / np.where(flat_truth, 1.0, tt))
    return float(np.sum(r2) / d_b)
