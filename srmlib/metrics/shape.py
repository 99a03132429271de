"""Shape metrics (Williams et al., 2021) and the CCA family, all from second moments.

They forgive rotations of the units (Procrustes) or any invertible linear map (CCA): they
compare the geometry of the stimuli, not the basis the units are expressed in.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice, check_real
from ._core import inverse_sqrt, one_thread, streamed, streamed_fit_free

__all__ = [
    "canonical_correlations",
    "mean_cca",
    "procrustes_distance",
    "pwcca",
    "shape_distance",
    "svcca",
]


def _angle(cross: np.ndarray, norm_x: float, norm_y: float, kind: str) -> float:
    nuc = float(np.linalg.svd(cross, compute_uv=False).sum() / np.sqrt(norm_x * norm_y))
    nuc = min(nuc, 1.0)
    return float(np.arccos(nuc)) if kind == "angular" else float(np.sqrt(2.0 - 2.0 * nuc))


@one_thread
def procrustes_distance(source, target, *, kind: str = "angular"):
    """Procrustes shape distance: how far apart two representations are after the best rotation.

    Each side is centred (column means removed) and scaled to unit Frobenius norm; the one with
    fewer units is padded with zero columns. With ``nuc`` the nuclear norm (sum of singular
    values) of ``X^T Y``, which equals ``max_Q tr(X^T Y Q)`` over orthogonal ``Q``:

    - ``kind="angular"``: ``arccos(nuc)``, in radians, in ``[0, pi/2]``;
    - ``kind="euclidean"``: ``min_Q |X - Y Q|_F = sqrt(2 - 2 nuc)``, in ``[0, sqrt(2)]``.

    Both are metrics (Williams et al., 2021), symmetric in the two arguments; the angular one
    is :func:`shape_distance` with ``alpha=1``. ``scipy.spatial.procrustes`` returns the
    disparity ``1 - nuc^2`` (it also fits a scale).

    Invariances: rotations and reflections of either side's units, translations, isotropic
    scaling (so permutations too). Not invariant to non-isotropic scaling or other invertible
    linear maps (which :func:`srmlib.metrics.linear_predictivity` and CCA-type metrics forgive).

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
    return streamed_fit_free(f"procrustes ({kind})", source, target,
                             lambda c: _angle(c.xy, np.trace(c.xx), np.trace(c.yy), kind),
                             higher_is_better=False, full=False)


def _partial_whitening(cov: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha I + (1 - alpha) S^{-1/2}`` for ``S`` the covariance scaled to unit trace."""
    scaled = cov / np.trace(cov)
    return alpha * np.eye(len(cov)) + (1.0 - alpha) * inverse_sqrt(scaled)


@one_thread
def shape_distance(source, target, *, alpha: float = 1.0, kind: str = "angular"):
    """Generalised shape metric of Williams et al. (2021), with its regularisation ``alpha``.

    Each side is centred, scaled to unit total variance (``tr S = 1`` for its covariance
    ``S``) and partially whitened, ``X_alpha = X (alpha I + (1 - alpha) S^{-1/2})``
    (netrep's ``LinearMetric``, whose whitening uses ``X^T X`` as it comes); then the
    angular (or Euclidean) Procrustes distance between the two is taken, as in
    :func:`procrustes_distance`:

    - ``alpha = 1``: no whitening, the Procrustes distance itself;
    - ``alpha = 0``: full whitening, ``arccos`` of the sum of the canonical correlations over
      ``sqrt(rank_x rank_y)``: CCA-like (with equal ranks, ``arccos`` of :func:`mean_cca`);
    - in between, a family of metrics that forgive more of the linear maps as ``alpha`` falls.

    A metric for every ``alpha`` in ``[0, 1]`` (symmetric, triangle inequality); ``S^{-1/2}``
    is a pseudo-inverse on the span of the data (eigenvalues below ``1e-10`` of the largest
    are dropped), so with ``alpha < 1`` it needs more stimuli than units to mean much.

    Invariances: rotations, reflections, translations and isotropic scaling of either side;
    with ``alpha = 0`` every invertible linear map. Sensitive to non-isotropic scaling for
    ``alpha > 0``.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    alpha : float
        Regularisation in ``[0, 1]``.
    kind : {"angular", "euclidean"}

    Returns
    -------
    AlignmentResult
        A distance (``metric`` names ``alpha``), one value on all stimuli.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((200, 4))
    >>> round(shape_distance(x, x @ np.diag([1.0, 2.0, 3.0, 4.0]), alpha=0.0).mean, 6)
    0.0
    """
    alpha = check_real(alpha, "alpha")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    kind = check_choice(kind, "kind", ("angular", "euclidean"))

    def distance(c):
        wx, wy = _partial_whitening(c.xx, alpha), _partial_whitening(c.yy, alpha)
        scale = np.sqrt(np.trace(c.xx) * np.trace(c.yy))
        cross = wx @ (c.xy / scale) @ wy
        norm_x = np.trace(wx @ (c.xx / np.trace(c.xx)) @ wx)
        norm_y = np.trace(wy @ (c.yy / np.trace(c.yy)) @ wy)
        return _angle(cross, norm_x, norm_y, kind)

    return streamed_fit_free(f"shape (alpha={alpha:g}, {kind})", source, target, distance,
                             higher_is_better=False)


# --------------------------------------------------------------------------- CCA family


def _cca(xx, yy, xy):
    """Canonical correlations (descending) and the source's canonical weights ``(d_x, r)``."""
    ix, iy = inverse_sqrt(xx), inverse_sqrt(yy)
    rank = min(np.linalg.matrix_rank(ix), np.linalg.matrix_rank(iy))
    u, rho, _ = np.linalg.svd(ix @ xy @ iy)
    return np.clip(rho[:rank], 0.0, 1.0), ix @ u[:, :rank]


def _unit_variances(c):
    """``(xx, yy, xy)`` of ``c`` as correlations: each unit scaled to unit variance.

    Canonical correlations do not depend on each unit's scale, but the pseudo-inverse's cut-off
    (``inverse_sqrt``: eigenvalues below ``1e-10`` times the largest) does: on raw covariances a
    unit some 300,000 times smaller than another (a variance ratio below ``1e-10``) was cut as
    if it were no direction at all. On correlations the cut-off meets only real rank
    deficiency.
    """
    sx = np.sqrt(np.maximum(np.diag(c.xx), 0.0))
    sy = np.sqrt(np.maximum(np.diag(c.yy), 0.0))
    sx[sx == 0] = 1.0
    sy[sy == 0] = 1.0
    return c.xx / np.outer(sx, sx), c.yy / np.outer(sy, sy), c.xy / np.outer(sx, sy)


@one_thread
def canonical_correlations(source, target) -> np.ndarray:
    """Canonical correlations of two representations, in descending order.

    The singular values of ``S_x^{-1/2} S_xy S_y^{-1/2}`` (covariances ``S``; pseudo-inverses on
    the span of each side), as many as the smaller rank. In-sample: with as many units as
    stimuli they are all 1, so use many more stimuli than units.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)

    Returns
    -------
    ndarray, shape (min(rank_source, rank_target),)
    """
    c = streamed(source, target, per_unit=True).moments().covariance()
    return _cca(*_unit_variances(c))[0]


@one_thread
def mean_cca(source, target):
    """Mean canonical correlation (the CCA similarity of Raghu et al., 2017, without the SVD step).

    The mean of :func:`canonical_correlations`, in ``[0, 1]``, computed on all stimuli.
    Symmetric. Invariances: every invertible linear map of either side (rotations, per-unit
    scaling, mixing) and translations. Not invariant to nonlinear maps. In-sample: inflated
    when the number of units approaches the number of stimuli (every correlation tends to 1).

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)

    Returns
    -------
    AlignmentResult
        A similarity, one value on all stimuli.
    """
    return streamed_fit_free("mean cca", source, target,
                             lambda c: float(np.mean(_cca(*_unit_variances(c))[0])),
                             higher_is_better=True, per_unit=True)


def _top_components(cov: np.ndarray, variance: float) -> np.ndarray:
    """Eigenvectors of ``cov`` (columns) that explain a fraction ``variance`` of its trace."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    order = np.argsort(values)[::-1]
    values, vectors = np.maximum(values[order], 0.0), vectors[:, order]
    explained = np.cumsum(values) / values.sum()
    keep = int(np.searchsorted(explained, variance - 1e-12) + 1)
    return vectors[:, :min(keep, len(values))]


@one_thread
def svcca(source, target, *, variance: float = 0.99):
    """SVCCA (Raghu et al., 2017): mean canonical correlation of the top principal components.

    Each side is reduced to the principal components (of its covariance) that explain a
    fraction ``variance`` of its total variance, then :func:`mean_cca` of the two reductions.
    Dropping the low-variance directions keeps CCA from matching noise.

    Symmetric; in ``[0, 1]``. Invariances: rotations, isotropic scaling and translations of
    either side (which keep the principal subspace). Unlike :func:`mean_cca`, not invariant to
    per-unit scaling (it changes which components explain the variance).

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    variance : float
        Fraction of each side's variance to keep, in ``(0, 1]``.

    Returns
    -------
    AlignmentResult
        A similarity, one value on all stimuli.
    """
    variance = check_real(variance, "variance")
    if not 0.0 < variance <= 1.0:
        raise ValueError(f"variance must lie in (0, 1], got {variance}")

    def similarity(c):
        vx, vy = _top_components(c.xx, variance), _top_components(c.yy, variance)
        rho = _cca(vx.T @ c.xx @ vx, vy.T @ c.yy @ vy, vx.T @ c.xy @ vy)[0]
        return float(np.mean(rho))

    return streamed_fit_free("svcca", source, target, similarity, higher_is_better=True)


@one_thread
def pwcca(source, target):
    """Projection-weighted CCA (Morcos, Raghu & Bengio, 2018).

    A weighted mean of the canonical correlations ``rho_i``, each weighted by how much of the
    source's units its canonical variate ``h_i = X a_i`` accounts for:
    ``w_i = sum_j |<h_i / |h_i|, x_j>|`` over the (centred) source units ``x_j``, normalised
    to sum to 1. Directions that carry much of the source's activity count more than the
    many weak directions CCA matches by chance.

    Direction: the source's units weigh (swapping the sides changes the score; the authors'
    code weighs with the side that has fewer units). In ``[0, 1]``. Invariances: permutations,
    translations and isotropic scaling of the source; every invertible linear map of the
    target. Not invariant to rotations or per-unit scaling of the source: the canonical
    correlations do not change, but the weights (an L1 sum over the source's units) do.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)

    Returns
    -------
    AlignmentResult
        A similarity, one value on all stimuli.
    """
    def similarity(c):
        rho, weights = _cca(c.xx, c.yy, c.xy)
        # <h_i, x_j> = n (S_x a_i)_j and |h_i| = sqrt(n a_i^T S_x a_i) = sqrt(n): the weight of
        # variate i is proportional to sum_j |(S_x a_i)_j|.
        w = np.abs(c.xx @ weights).sum(axis=0)
        return float(np.sum(w * rho) / np.sum(w))

    return streamed_fit_free("pwcca", source, target, similarity, higher_is_better=True)
