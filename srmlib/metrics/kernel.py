"""Comparisons of the stimuli's geometry: CKA (kernels) and RSA (dissimilarity matrices)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats as scipy_stats
from scipy.spatial.distance import pdist

from .._validation import check_choice
from ._core import (
    AlignmentResult,
    as_array,
    block_rows,
    check_flag,
    one_thread,
    prepare,
    streamed,
)

__all__ = ["cka", "rdm", "rsa"]


@one_thread
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

    Both are computed in feature space, streaming over blocks of stimuli (no ``n x n`` kernel
    is formed; a CUDA tensor is reduced on its GPU): memory beyond the inputs is
    ``O(d_x^2 + d_y^2 + d_x d_y)``.

    Symmetric. Invariances: rotations and reflections of either side's units, isotropic
    scaling, translations. Not invariant to non-isotropic scaling or other invertible linear
    maps.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    unbiased : bool

    Returns
    -------
    AlignmentResult
        A similarity, one value on all stimuli.
    """
    unbiased = check_flag(unbiased, "unbiased")
    data = streamed(source, target, min_stimuli=4 if unbiased else 2)
    c = data.moments().covariance()
    if not unbiased:
        value = np.sum(c.xy ** 2) / np.sqrt(np.sum(c.xx ** 2) * np.sum(c.yy ** 2))
    else:
        value = _unbiased_cka(data, c)
    return data.result("cka (unbiased)" if unbiased else "cka", [value], higher_is_better=True)


def _unbiased_cka(data, c) -> float:
    """Song et al.'s unbiased HSIC of the linear kernels, from feature-space sums.

    With ``K~`` the kernel with a zero diagonal, ``HSIC = [tr(K~ L~) + 1'K~1 1'L~1 / ((n-1)(n-2))
    - 2 1'K~L~1 / (n-2)] / (n (n-3))``, and for ``K = X X^T`` (rows ``x_i``, ``s = sum_i x_i``):
    ``tr(K~ L~) = |X^T Y|_F^2 - sum_i |x_i|^2 |y_i|^2``, ``1'K~1 = |s|^2 - sum_i |x_i|^2`` and
    ``(K~ 1)_i = x_i . s - |x_i|^2``. The estimator is unchanged by translations (a U-statistic
    of a translation-invariant quantity), so the data are centred first, for accuracy.
    """
    n = data.n
    x_mean = torch.as_tensor(c.mean_x, device=data.x.device)
    y_mean = torch.as_tensor(c.mean_y, device=data.y.device)
    ix = torch.as_tensor(data.keep_x, device=data.x.device)
    iy = torch.as_tensor(data.keep_y, device=data.y.device)
    # After centring on the exact means, s = 0 up to rounding: (K~ 1)_i = -|x_i|^2.
    sums = dict(nx=0.0, ny=0.0, nxny=0.0, nx2=0.0, ny2=0.0)
    for rows in block_rows(n, len(ix) + len(iy), data.x.device):
        bx = data.x.index_select(0, rows).index_select(1, ix).double() - x_mean
        by = data.y.index_select(0, rows).index_select(1, iy).double() - y_mean
        nx, ny = (bx * bx).sum(1), (by * by).sum(1)
        sums["nx"] += float(nx.sum())
        sums["ny"] += float(ny.sum())
        sums["nxny"] += float((nx * ny).sum())
        sums["nx2"] += float((nx * nx).sum())
        sums["ny2"] += float((ny * ny).sum())
    # Centred second moments: X^T Y = n * c.xy and so on.
    cross = {"xy": n**2 * np.sum(c.xy ** 2), "xx": n**2 * np.sum(c.xx ** 2),
             "yy": n**2 * np.sum(c.yy ** 2)}

    def hsic(gram_sq, na, nb, nanb):
        trace = gram_sq - nanb
        ones_k, ones_l = -na, -nb
        ones_kl = nanb  # sum_i (-|x_i|^2)(-|y_i|^2)
        return (trace + ones_k * ones_l / ((n - 1) * (n - 2)) - 2.0 * ones_kl / (n - 2)) / (
            n * (n - 3))

    kl = hsic(cross["xy"], sums["nx"], sums["ny"], sums["nxny"])
    kk = hsic(cross["xx"], sums["nx"], sums["nx"], sums["nx2"])
    ll = hsic(cross["yy"], sums["ny"], sums["ny"], sums["ny2"])
    return float(kl / np.sqrt(kk * ll))


@one_thread
def rdm(representation) -> np.ndarray:
    """Representational dissimilarity matrix: correlation distance between stimuli.

    Entry ``(s, t)`` is ``1 - r`` with ``r`` the Pearson correlation, across units, of the
    responses to stimuli ``s`` and ``t`` (``scipy.spatial.distance.pdist(metric="correlation")``).

    Parameters
    ----------
    representation : array_like or Tensor, shape (n_stimuli, n_units)
        At least two units; no stimulus may have the same response on every unit.

    Returns
    -------
    ndarray, shape (n_stimuli * (n_stimuli - 1) / 2,)
        The upper triangle, condensed as ``pdist`` returns it (``squareform`` expands it).
        Memory grows as ``n_stimuli^2`` (10,000 stimuli: 400 MB).
    """
    x = as_array(representation, "representation")
    flat = np.all(x == x[:, :1], axis=1)
    if x.shape[1] < 2 or np.any(flat):
        raise ValueError(f"representation needs stimuli whose responses vary across units; "
                         f"{int(flat.sum())} of {len(x)} do not")
    return pdist(x, metric="correlation")


@one_thread
def rsa(source, target, *, method: str = "spearman") -> AlignmentResult:
    """Representational similarity analysis: correlation of the two RDMs.

    Each representation becomes its :func:`rdm` (``1 - Pearson r`` between every pair of
    stimuli, across units); the score is the Spearman (default) or Pearson correlation of the
    two RDMs' upper triangles (``scipy.stats.spearmanr`` / ``pearsonr``). Stimuli whose
    response is the same on every unit of either side (an all-zero ReLU layer, say) have no
    correlation distance and are left out. rsatoolbox's ``compare`` with ``"corr"`` /
    ``"spearman"`` on correlation RDMs gives the same value (the tests check).

    Symmetric; in ``[-1, 1]``. Invariances: permutations of either side's units, positive
    isotropic scaling and adding one constant to every unit; with ``"spearman"``, any
    increasing transform of the dissimilarities. Not invariant to rotations (a rotation changes
    the mean across units that the correlation distance removes) or to per-unit scaling.
    Memory and time grow as ``n_stimuli^2``: subsample the stimuli of a large data set.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    method : {"spearman", "pearson"}

    Returns
    -------
    AlignmentResult
        A similarity, one value (``n_stimuli`` counts the stimuli kept).
    """
    method = check_choice(method, "method", ("spearman", "pearson"))

    x, y, dropped_x, dropped_y = prepare(source, target)
    for name, side in (("source", x), ("target", y)):
        if side.shape[1] < 2:  # correlation across units needs two of them
            raise ValueError(f"rsa correlates across units, so it needs at least 2 varying "
                             f"units on each side; {name} has {side.shape[1]}")
    keep = ~(np.all(x == x[:, :1], axis=1) | np.all(y == y[:, :1], axis=1))
    if keep.sum() < 3:
        raise ValueError("rsa needs at least 3 stimuli whose responses vary across units")
    a, b = rdm(x[keep]), rdm(y[keep])
    correlate = scipy_stats.spearmanr if method == "spearman" else scipy_stats.pearsonr
    return AlignmentResult(metric=f"rsa ({method})", scores=np.array([correlate(a, b).statistic]),
                           higher_is_better=True, n_stimuli=int(keep.sum()), n_source=x.shape[1],
                           n_target=y.shape[1], dropped_source=dropped_x,
                           dropped_target=dropped_y, n_folds=1, seed=None)
