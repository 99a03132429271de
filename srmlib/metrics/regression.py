"""Linear predictivity: cross-validated ridge regression, scored by Pearson r or R^2."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

from .._validation import check_choice
from ._core import (
    AlignmentResult,
    check_folds,
    folds,
    moments,
    one_thread,
    paired_corr,
    prepare,
)

__all__ = ["DEFAULT_ALPHAS", "linear_predictivity"]

#: Ridge penalties searched by :func:`linear_predictivity` (a log grid, 1e-3 to 1e5, one per decade).
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 9))

SCORES = ("pearson", "r2")
DIRECTIONS = ("forward", "backward", "both")


@one_thread
def linear_predictivity(source, target, *, n_folds: int = 5, seed: int = 0,
                        alphas=DEFAULT_ALPHAS, score: str = "pearson",
                        direction: str = "forward") -> AlignmentResult:
    """Linear predictivity: cross-validated ridge regression from all source units to each target.

    On each training fold both sides are z-scored; scikit-learn's ``RidgeCV`` picks, per target
    unit, the penalty in ``alphas`` with the smallest (efficient) leave-one-out squared error
    and fits the weights with an intercept. The fold's score is the mean over target units of

    - ``score="pearson"`` (default): the Pearson correlation between prediction and response on
      the held-out stimuli (0 for a unit whose prediction or response is constant there);
    - ``score="r2"``: the coefficient of determination ``1 - SS_res / SS_tot`` on the held-out
      stimuli (``sklearn.metrics.r2_score``, ``SS_tot`` about the held-out mean; 0 for a unit
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
    Memory: scikit-learn works on float64 copies of the training folds (the inputs move to the
    CPU): at 100,000 stimuli by 1,024 units, a few GB.

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
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas) & (alphas > 0)):
        raise ValueError("alphas must be a non-empty sequence of positive, finite penalties")
    score = check_choice(score, "score", SCORES)
    direction = check_choice(direction, "direction", DIRECTIONS)
    n_folds, seed = check_folds(n_folds, seed)
    x, y, dropped_x, dropped_y = prepare(source, target, min_stimuli=4 if n_folds > 1 else 2)

    def predictivity(a_train, b_train, a_test, b_test):
        mean_a, std_a = moments(a_train)
        mean_b, std_b = moments(b_train)
        model = RidgeCV(alphas=alphas, alpha_per_target=True)
        model.fit((a_train - mean_a) / std_a, (b_train - mean_b) / std_b)
        predicted = model.predict((a_test - mean_a) / std_a).reshape(len(a_test), -1)
        truth = (b_test - mean_b) / std_b
        if score == "pearson":
            return float(np.mean(paired_corr(predicted, truth)))
        # A unit constant on the held-out stimuli has no variance to explain: 0, as for r.
        flat = np.all(b_test == b_test[:1], axis=0)
        r2 = r2_score(truth[:, ~flat], predicted[:, ~flat], multioutput="raw_values")
        return float(np.sum(r2) / truth.shape[1])

    scores = []
    for train, test in folds(len(x), n_folds, seed):
        forward = backward = None
        if direction in ("forward", "both"):
            forward = predictivity(x[train], y[train], x[test], y[test])
        if direction in ("backward", "both"):
            backward = predictivity(y[train], x[train], y[test], x[test])
        scores.append(np.mean([s for s in (forward, backward) if s is not None]))
    name = ("linear predictivity" if (score, direction) == ("pearson", "forward")
            else f"linear predictivity ({score}, {direction})")
    return AlignmentResult(metric=name, scores=np.array(scores), higher_is_better=True,
                           n_stimuli=len(x), n_source=x.shape[1], n_target=y.shape[1],
                           dropped_source=dropped_x, dropped_target=dropped_y, n_folds=n_folds,
                           seed=seed)
