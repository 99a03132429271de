"""Alignment metrics between two representations of the same stimuli.

Chapter 6 ("Superposition hides alignment") explains every metric here and uses them all.

A representation is an ``(n_stimuli, n_units)`` array: row ``s`` is the response of every unit
(neuron, SAE latent, voxel) to stimulus ``s``, column ``u`` is unit ``u``'s tuning curve. Both
arrays must hold the same stimuli in the same order; their numbers of units may differ.
Asymmetric metrics are read "**source predicts target**".

Mapping metrics, fitted on training folds and scored on held-out stimuli (higher is better, 1
is perfect):

- :func:`semi_matching`: each target unit takes its best-correlated source unit;
- :func:`soft_matching`: an optimal transport plan between units (Khosla et al., 2024);
- :func:`linear_predictivity`: ridge regression from all source units to each target unit.

Fit-free comparisons, computed once on all stimuli:

- :func:`soft_matching_distance` (Khosla & Williams, 2023), a metric on tuning curves (0 is identical);
- :func:`procrustes_distance`, angular or Euclidean shape distance (Williams et al., 2021);
- :func:`cka`, linear centred kernel alignment, biased or unbiased (Kornblith et al., 2019);
- :func:`rsa`, correlation-distance RDMs compared by Spearman or Pearson (Kriegeskorte et al., 2008).

Shared handling, by every metric:

- **constant units** (identical on every stimulus, such as a dead ReLU neuron) carry no
  information and make correlations undefined: they are dropped first and reported in
  :attr:`AlignmentResult.dropped_source` and :attr:`AlignmentResult.dropped_target`;
- **cross-validation**: ``n_folds``-fold splits of the stimuli, shuffled with ``seed``
  (scikit-learn's ``KFold``); ``n_folds=1`` fits and scores on all stimuli (in-sample);
- **z-scoring inside folds**: each unit is centred and scaled with its training-fold mean and
  standard deviation, and the same transform is applied to the held-out fold;
- a unit that is constant within a fold (a rarely active latent) correlates 0 there;
- results are :class:`AlignmentResult` objects with one score per fold, their mean and SEM.

References
----------
Kriegeskorte, N., Mur, M. & Bandettini, P. (2008). Representational similarity analysis.
*Frontiers in Systems Neuroscience* 2:4.
Song, L. et al. (2012). Feature selection via dependence maximization. *JMLR* 13 (unbiased HSIC).
Kornblith, S. et al. (2019). Similarity of neural network representations revisited. *ICML*.
Williams, A. H. et al. (2021). Generalized shape metrics on neural representations. *NeurIPS*.
Khosla, M. & Williams, A. H. (2023). Soft matching distance: a metric on neural
representations that captures single-neuron tuning. *UniReps workshop*, arXiv:2311.09466.
Khosla, M. et al. (2024). Privileged representational axes in biological and artificial
neural networks. bioRxiv 2024.06.20.599957 (semi- and soft-matching scores).
Longon, A., Klindt, D. & Khosla, M. (2025). Superposition disentanglement of neural
representations reveals hidden alignment. arXiv:2510.03186.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import ot
from scipy import stats as scipy_stats
from scipy.spatial.distance import pdist
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

from ._threads import single_thread
from ._validation import as_float_tensor, check_choice, check_int

__all__ = [
    "DEFAULT_ALPHAS",
    "METRICS",
    "AlignmentResult",
    "compare",
    "cka",
    "correlation_matrix",
    "linear_predictivity",
    "procrustes_distance",
    "rdm",
    "rsa",
    "semi_matching",
    "soft_matching",
    "soft_matching_distance",
    "transport_plan",
]

#: Ridge penalties searched by :func:`linear_predictivity` (a log grid, 1e-3 to 1e5, one per decade).
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 5, 9))

#: Iterations allowed to POT's network simplex (its own default, 100,000, is too few for a
#: few hundred units); :func:`transport_plan` raises if even these are not enough.
MAX_ITER = 10_000_000


@dataclass(frozen=True)
class AlignmentResult:
    """One metric's comparison of a source and a target representation.

    Attributes
    ----------
    metric : str
        The metric's name, as in :data:`METRICS` (``"cka"`` carries ``unbiased`` in its name).
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


def _one_thread(function):
    """Run a metric on one BLAS and one torch thread.

    Its matrices are small: on a shared machine, extra threads only wait for each other (a
    ridge fit on 500 x 64 took 0.8 s with two BLAS threads under load, 0.05 s with one).
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with single_thread():
            return function(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- building blocks


@_one_thread
def correlation_matrix(source, target) -> np.ndarray:
    """Pearson correlation of every source unit with every target unit.

    Parameters
    ----------
    source : array_like, shape (n_stimuli, n_source)
    target : array_like, shape (n_stimuli, n_target)

    Returns
    -------
    ndarray, shape (n_source, n_target)
        Entries in ``[-1, 1]``; 0 for a unit that is constant on these stimuli (its correlation
        is undefined, and it predicts nothing).

    Examples
    --------
    >>> correlation_matrix([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]], [[0.0], [2.0], [4.0]]).round(6).tolist()
    [[1.0], [0.0]]
    """
    x = _array(source, "source")
    y = _array(target, "target")
    _same_stimuli(x, y)
    return _standardize(x).T @ _standardize(y) / len(x)


@_one_thread
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
    m = _array(cost, "cost")
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


@_one_thread
def rdm(representation) -> np.ndarray:
    """Representational dissimilarity matrix: correlation distance between stimuli.

    Entry ``(s, t)`` is ``1 - r`` with ``r`` the Pearson correlation, across units, of the
    responses to stimuli ``s`` and ``t`` (``scipy.spatial.distance.pdist(metric="correlation")``).

    Parameters
    ----------
    representation : array_like, shape (n_stimuli, n_units)
        At least two units; no stimulus may have the same response on every unit.

    Returns
    -------
    ndarray, shape (n_stimuli * (n_stimuli - 1) / 2,)
        The upper triangle, condensed as ``pdist`` returns it (``squareform`` expands it).
    """
    x = _array(representation, "representation")
    flat = np.all(x == x[:, :1], axis=1)
    if x.shape[1] < 2 or np.any(flat):
        raise ValueError(f"representation needs stimuli whose responses vary across units; "
                         f"{int(flat.sum())} of {len(x)} do not")
    return pdist(x, metric="correlation")


# --------------------------------------------------------------------------- mapping metrics


@_one_thread
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
    source : array_like, shape (n_stimuli, n_source)
    target : array_like, shape (n_stimuli, n_target)
    n_folds : int
        Folds of cross-validation (1: choose and score on all stimuli).
    seed : int
        Seed of the shuffled fold split.

    Returns
    -------
    AlignmentResult
    """
    def fold_score(x_train, y_train, x_test, y_test):
        best = np.argmax(_corr(x_train, y_train), axis=0)
        held_out = _corr(x_test, y_test)
        return float(held_out[best, np.arange(held_out.shape[1])].mean())

    return _cross_validated("semi-matching", source, target, n_folds, seed, fold_score)


@_one_thread
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
    source, target : array_like, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    n_folds, seed : int
        As in :func:`semi_matching`.
    max_iter : int
        Iteration limit of the transport solver (:func:`transport_plan` raises if it is hit).

    Returns
    -------
    AlignmentResult
    """
    def fold_score(x_train, y_train, x_test, y_test):
        plan = transport_plan(1.0 - _corr(x_train, y_train), max_iter=max_iter)
        return float(np.sum(plan * _corr(x_test, y_test)))

    return _cross_validated("soft-matching", source, target, n_folds, seed, fold_score)


@_one_thread
def linear_predictivity(source, target, *, n_folds: int = 5, seed: int = 0,
                        alphas=DEFAULT_ALPHAS) -> AlignmentResult:
    """Linear predictivity: cross-validated ridge regression from all source units to each target.

    On each training fold both sides are z-scored; scikit-learn's ``RidgeCV`` picks, per target
    unit, the penalty in ``alphas`` with the smallest (efficient) leave-one-out squared error
    and fits the weights with an intercept. The fold's score is the mean over target units of
    the Pearson correlation between prediction and response on the held-out stimuli (0 for a
    unit whose prediction or response is constant there).

    Direction: source predicts target.
    Normalisation: z-scored units and correlations: 1 when every target unit is an affine
    function of the source units.
    Invariances: permutations of either side's units, scaling and shifts of any unit (exactly,
    through z-scoring); nearly invariant to any invertible linear map of the source when the
    chosen penalty is small. Not invariant to mixing of the target units (each is scored
    separately), nor to information the source lacks.

    Parameters
    ----------
    source, target : array_like, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    n_folds, seed : int
        As in :func:`semi_matching`.
    alphas : sequence of float
        Positive ridge penalties to choose from (default: :data:`DEFAULT_ALPHAS`).

    Returns
    -------
    AlignmentResult
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0 or not np.all(np.isfinite(alphas) & (alphas > 0)):
        raise ValueError("alphas must be a non-empty sequence of positive, finite penalties")

    def fold_score(x_train, y_train, x_test, y_test):
        mean_x, std_x = _moments(x_train)
        mean_y, std_y = _moments(y_train)
        model = RidgeCV(alphas=alphas, alpha_per_target=True)
        model.fit((x_train - mean_x) / std_x, (y_train - mean_y) / std_y)
        predicted = model.predict((x_test - mean_x) / std_x).reshape(len(x_test), -1)
        return float(np.mean(_paired_corr(predicted, (y_test - mean_y) / std_y)))

    return _cross_validated("linear predictivity", source, target, n_folds, seed, fold_score)


# --------------------------------------------------------------------------- fit-free metrics


@_one_thread
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
    source, target : array_like, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    standardize : bool
        z-score every unit (constant units are dropped either way).
    max_iter : int
        Iteration limit of the transport solver.

    Returns
    -------
    AlignmentResult
        A distance (``higher_is_better`` is ``False``), one value on all stimuli.
    """
    def distance(x, y):
        if standardize:
            x, y = _standardize(x), _standardize(y)
        x, y = x / np.sqrt(len(x)), y / np.sqrt(len(y))
        cost = (np.sum(x * x, axis=0)[:, None] + np.sum(y * y, axis=0)[None, :]
                - 2.0 * x.T @ y)
        plan = transport_plan(np.maximum(cost, 0.0), max_iter=max_iter)
        return float(np.sqrt(max(np.sum(plan * cost), 0.0)))

    if not isinstance(standardize, (bool, np.bool_)):
        raise TypeError(f"standardize must be True or False, got {type(standardize).__name__}")
    return _fit_free("soft-matching distance", source, target, distance, higher_is_better=False)


@_one_thread
def procrustes_distance(source, target, *, kind: str = "angular") -> AlignmentResult:
    """Procrustes shape distance: how far apart two representations are after the best rotation.

    Each side is centred (column means removed) and scaled to unit Frobenius norm; the one with
    fewer units is padded with zero columns. With ``nuc`` the nuclear norm (sum of singular
    values) of ``X^T Y``, which equals ``max_Q tr(X^T Y Q)`` over orthogonal ``Q``:

    - ``kind="angular"``: ``arccos(nuc)``, in radians, in ``[0, pi/2]``;
    - ``kind="euclidean"``: ``min_Q |X - Y Q|_F = sqrt(2 - 2 nuc)``, in ``[0, sqrt(2)]``.

    Both are metrics (Williams et al., 2021), symmetric in the two arguments.
    ``scipy.spatial.procrustes`` returns the disparity ``1 - nuc^2`` (it also fits a scale).

    Invariances: rotations and reflections of either side's units, translations, isotropic
    scaling (so permutations too). Not invariant to non-isotropic scaling or other invertible
    linear maps (which :func:`linear_predictivity` and CCA-type metrics forgive).

    Parameters
    ----------
    source, target : array_like, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    kind : {"angular", "euclidean"}

    Returns
    -------
    AlignmentResult
        A distance, one value on all stimuli.
    """
    kind = check_choice(kind, "kind", ("angular", "euclidean"))

    def distance(x, y):
        x, y = _unit_frobenius(x), _unit_frobenius(y)
        nuc = min(float(np.linalg.svd(x.T @ y, compute_uv=False).sum()), 1.0)
        return float(np.arccos(nuc)) if kind == "angular" else float(np.sqrt(2.0 - 2.0 * nuc))

    return _fit_free(f"procrustes ({kind})", source, target, distance, higher_is_better=False)


@_one_thread
def cka(source, target, *, unbiased: bool = False) -> AlignmentResult:
    """Linear centred kernel alignment (CKA) between two representations.

    With ``K = X X^T`` and ``L = Y Y^T`` the linear kernels (Gram matrices over stimuli),
    ``CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``:

    - biased (default): ``HSIC(K, L) = tr(K H L H)`` with ``H`` the centring matrix, so that
      ``CKA = |Y_c^T X_c|_F^2 / (|X_c^T X_c|_F |Y_c^T Y_c|_F)`` for column-centred ``X_c``,
      ``Y_c`` (Kornblith et al., 2019); in ``[0, 1]``;
    - ``unbiased=True``: the unbiased HSIC estimator of Song et al. (2012), which zeroes the
      kernels' diagonals and corrects for the finite sample (needs at least 4 stimuli). The
      biased CKA of independent representations grows towards 1 as their dimension grows
      relative to the number of stimuli; the unbiased one stays near 0 (it can be negative).

    Symmetric. Invariances: rotations and reflections of either side's units, isotropic
    scaling, translations. Not invariant to non-isotropic scaling or other invertible linear
    maps.

    Parameters
    ----------
    source, target : array_like, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    unbiased : bool

    Returns
    -------
    AlignmentResult
        A similarity, one value on all stimuli.
    """
    if not isinstance(unbiased, (bool, np.bool_)):
        raise TypeError(f"unbiased must be True or False, got {type(unbiased).__name__}")

    def similarity(x, y):
        if not unbiased:
            x, y = x - x.mean(axis=0), y - y.mean(axis=0)
            cross = np.sum((y.T @ x) ** 2)
            return float(cross / np.sqrt(np.sum((x.T @ x) ** 2) * np.sum((y.T @ y) ** 2)))
        if len(x) < 4:
            raise ValueError(f"unbiased CKA needs at least 4 stimuli, got {len(x)}")
        k, l = x @ x.T, y @ y.T
        return float(_hsic_unbiased(k, l) / np.sqrt(_hsic_unbiased(k, k) * _hsic_unbiased(l, l)))

    name = "cka (unbiased)" if unbiased else "cka"
    return _fit_free(name, source, target, similarity, higher_is_better=True)


@_one_thread
def rsa(source, target, *, method: str = "spearman") -> AlignmentResult:
    """Representational similarity analysis: correlation of the two RDMs.

    Each representation becomes its :func:`rdm` (``1 - Pearson r`` between every pair of
    stimuli, across units); the score is the Spearman (default) or Pearson correlation of the
    two RDMs' upper triangles (``scipy.stats.spearmanr`` / ``pearsonr``). Stimuli whose
    response is the same on every unit of either side (an all-zero ReLU layer, say) have no
    correlation distance and are left out.

    Symmetric; in ``[-1, 1]``. Invariances: permutations of either side's units, positive
    isotropic scaling and adding one constant to every unit; with ``"spearman"``, any
    increasing transform of the dissimilarities. Not invariant to rotations (a rotation changes
    the mean across units that the correlation distance removes) or to per-unit scaling.

    Parameters
    ----------
    source, target : array_like, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    method : {"spearman", "pearson"}

    Returns
    -------
    AlignmentResult
        A similarity, one value (``n_stimuli`` counts the stimuli kept).
    """
    method = check_choice(method, "method", ("spearman", "pearson"))

    x, y, dropped_x, dropped_y = _prepare(source, target)
    keep = ~(np.all(x == x[:, :1], axis=1) | np.all(y == y[:, :1], axis=1))
    if keep.sum() < 3:
        raise ValueError("rsa needs at least 3 stimuli whose responses vary across units")
    a, b = rdm(x[keep]), rdm(y[keep])
    correlate = scipy_stats.spearmanr if method == "spearman" else scipy_stats.pearsonr
    return AlignmentResult(metric=f"rsa ({method})", scores=np.array([correlate(a, b).statistic]),
                           higher_is_better=True, n_stimuli=int(keep.sum()), n_source=x.shape[1],
                           n_target=y.shape[1], dropped_source=dropped_x,
                           dropped_target=dropped_y, n_folds=1, seed=None)


#: Every metric by name, for :func:`compare` (keyword options pass through).
METRICS = {
    "semi-matching": semi_matching,
    "soft-matching": soft_matching,
    "linear predictivity": linear_predictivity,
    "soft-matching distance": soft_matching_distance,
    "procrustes": procrustes_distance,
    "cka": cka,
    "rsa": rsa,
}


def compare(source, target, metric: str, **options) -> AlignmentResult:
    """Compare two representations with the metric named ``metric`` (a key of :data:`METRICS`).

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((100, 3))
    >>> round(compare(x, x[:, ::-1], "semi-matching").mean, 6)
    1.0
    """
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    return METRICS[metric](source, target, **options)


# --------------------------------------------------------------------------- internals


def _array(x, name: str) -> np.ndarray:
    return as_float_tensor(x, name, ndim=2).cpu().double().numpy()


def _same_stimuli(x: np.ndarray, y: np.ndarray) -> None:
    if len(x) != len(y):
        raise ValueError(f"source and target must hold the same stimuli (rows): got "
                         f"{len(x)} and {len(y)} rows")


def _varying(x: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Columns that vary across stimuli, and the indices of the constant ones."""
    constant = np.all(x == x[:1], axis=0)
    if constant.all():
        raise ValueError(f"every unit of {name} is constant across stimuli: nothing to compare")
    return x[:, ~constant], np.flatnonzero(constant)


def _prepare(source, target, min_stimuli: int = 2):
    x, y = _array(source, "source"), _array(target, "target")
    _same_stimuli(x, y)
    if len(x) < min_stimuli:
        raise ValueError(f"need at least {min_stimuli} stimuli, got {len(x)}")
    x, dropped_x = _varying(x, "source")
    y, dropped_y = _varying(y, "target")
    return x, y, dropped_x, dropped_y


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations, with 1 for constant columns (which stay 0)."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def _standardize(x: np.ndarray) -> np.ndarray:
    """z-score every column (population std); constant columns become 0."""
    mean, std = _moments(x)
    return (x - mean) / std


def _corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.clip(_standardize(x).T @ _standardize(y) / len(x), -1.0, 1.0)


def _paired_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation of column ``j`` of ``x`` with column ``j`` of ``y``, shape ``(n_cols,)``."""
    return np.clip(np.mean(_standardize(x) * _standardize(y), axis=0), -1.0, 1.0)


def _folds(n_stimuli: int, n_folds: int, seed: int):
    if n_folds == 1:
        everything = np.arange(n_stimuli)
        return [(everything, everything)]
    if n_folds > n_stimuli // 2:
        raise ValueError(f"n_folds must leave at least 2 stimuli per fold: got n_folds={n_folds} "
                         f"for {n_stimuli} stimuli")
    return list(KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.zeros(n_stimuli)))


def _cross_validated(name, source, target, n_folds, seed, fold_score) -> AlignmentResult:
    n_folds = check_int(n_folds, "n_folds", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    x, y, dropped_x, dropped_y = _prepare(source, target, min_stimuli=4 if n_folds > 1 else 2)
    scores = np.array([fold_score(x[train], y[train], x[test], y[test])
                       for train, test in _folds(len(x), n_folds, seed)])
    return AlignmentResult(metric=name, scores=scores, higher_is_better=True, n_stimuli=len(x),
                           n_source=x.shape[1], n_target=y.shape[1], dropped_source=dropped_x,
                           dropped_target=dropped_y, n_folds=n_folds, seed=seed)


def _fit_free(name, source, target, compute, *, higher_is_better: bool) -> AlignmentResult:
    x, y, dropped_x, dropped_y = _prepare(source, target)
    return AlignmentResult(metric=name, scores=np.array([compute(x, y)]),
                           higher_is_better=higher_is_better, n_stimuli=len(x),
                           n_source=x.shape[1], n_target=y.shape[1], dropped_source=dropped_x,
                           dropped_target=dropped_y, n_folds=1, seed=None)


def _unit_frobenius(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    return x / np.linalg.norm(x)


def _hsic_unbiased(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al.'s (2012) unbiased HSIC of two ``(n, n)`` kernel matrices."""
    n = len(k)
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    k_sum, l_sum = k.sum(axis=0), l.sum(axis=0)
    value = (np.sum(k * l) + k_sum.sum() * l_sum.sum() / ((n - 1) * (n - 2))
             - 2.0 * (k_sum @ l_sum) / (n - 2))
    return float(value / (n * (n - 3)))
