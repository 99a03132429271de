"""Nearest-neighbour alignment of Huh et al. (2024): mutual k-NN and CKNNA.

Two representations agree when the stimuli that are close in one are close in the other. Both
metrics find every stimulus's ``k`` nearest neighbours by cosine similarity (the rows are scaled
to unit length, as in the authors' code, github.com/minyoungg/platonic-rep), in blocks of
stimuli on the input's device, so no ``n x n`` matrix is stored; time grows as
``n_stimuli^2 * n_units`` (on a CPU, subsample beyond some 20,000 stimuli; a GPU takes more).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import torch

from .._validation import check_int, row_scale_exponents, times_power_of_two
from ._core import BLOCK_ENTRIES, check_flag, one_thread, streamed

__all__ = ["cknna", "mutual_knn", "nearest_neighbors"]


def _features(t: torch.Tensor, keep: np.ndarray, normalize: bool) -> torch.Tensor:
    if len(keep) < t.shape[1]:
        t = t.index_select(1, torch.as_tensor(keep, device=t.device))
    if normalize:
        # Rows to unit length at any magnitude: each row beyond SAFE_EXPONENT binary orders of 1
        # first times a power of two (exact), and no floor on the length (torch's normalize
        # divides rows shorter than 1e-12 by 1e-12). A zero row stays zero.
        scale = row_scale_exponents(t)
        if scale is not None:
            t = times_power_of_two(t, -scale[:, None])
        norm = t.norm(2, dim=1, keepdim=True)
        t = t / torch.where(norm > 0, norm, torch.ones_like(norm))
    return t


def _knn(f: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and similarities ``(n, k)`` of each row's ``k`` most similar other rows."""
    n = len(f)
    indices = torch.empty(n, k, dtype=torch.long, device=f.device)
    values = torch.empty(n, k, dtype=f.dtype, device=f.device)
    size = max(1, BLOCK_ENTRIES // n)
    for start in range(0, n, size):
        stop = min(start + size, n)
        similarity = f[start:stop] @ f.T
        similarity[torch.arange(stop - start, device=f.device),
                   torch.arange(start, stop, device=f.device)] = -torch.inf
        top = torch.topk(similarity, k, dim=1)
        indices[start:stop], values[start:stop] = top.indices, top.values
    return indices.cpu().numpy(), values.cpu().double().numpy()


@one_thread
def nearest_neighbors(representation, k: int = 10, *, normalize: bool = True) -> np.ndarray:
    """Each stimulus's ``k`` nearest other stimuli, most similar first.

    Parameters
    ----------
    representation : array_like or Tensor, shape (n_stimuli, n_units)
    k : int
        Neighbours per stimulus, below ``n_stimuli``.
    normalize : bool
        Cosine similarity (rows scaled to unit length; default) or plain inner products.

    Returns
    -------
    ndarray of int, shape (n_stimuli, k)
    """
    data = streamed(representation, representation)
    k = _check_k(k, data.n)
    return _knn(_features(data.x, data.keep_x, check_flag(normalize, "normalize")), k)[0]


def _check_k(k, n: int) -> int:
    k = check_int(k, "k", minimum=1)
    if k >= n:
        raise ValueError(f"k must be below the number of stimuli ({n}), got {k}")
    return k


@one_thread
def mutual_knn(source, target, *, k: int = 10, normalize: bool = True):
    """Mutual k-nearest-neighbour alignment (Huh et al., 2024).

    For each stimulus, the overlap of its ``k`` nearest neighbours in the source and in the
    target, ``|N_X(s) & N_Y(s)| / k``, averaged over stimuli. In ``[0, 1]``; about
    ``k / (n_stimuli - 1)`` for unrelated representations, 1 when every neighbourhood agrees.

    Symmetric. Local: only the order of the nearest stimuli matters. Invariances (with
    ``normalize``): rotations and reflections of either side's units, any positive scaling of
    each stimulus's response (so isotropic scaling), permutations. Not invariant to
    translations (cosine similarity is taken about the origin) nor to per-unit scaling.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    k : int
        Neighbours per stimulus (the authors use 10).
    normalize : bool
        Cosine similarity (default) or plain inner products.

    Returns
    -------
    AlignmentResult
        A similarity, one value on all stimuli.
    """
    normalize = check_flag(normalize, "normalize")
    data = streamed(source, target)
    k = _check_k(k, data.n)
    nx = _knn(_features(data.x, data.keep_x, normalize), k)[0]
    ny = _knn(_features(data.y, data.keep_y, normalize), k)[0]
    overlap = (nx[:, :, None] == ny[:, None, :]).any(axis=2).sum(axis=1)
    return data.result(f"mutual knn (k={k})", [overlap.mean() / k], higher_is_better=True)


def _sparse(rows, cols, values, n):
    return scipy.sparse.csr_matrix((values, (rows, cols)), shape=(n, n))


def _hsic_unbiased(a, b) -> float:
    """Song et al.'s unbiased HSIC of two ``(n, n)`` sparse kernels with zero diagonals."""
    n = a.shape[0]
    trace = a.multiply(b.T).sum()
    total = a.sum() * b.sum() / ((n - 1) * (n - 2))
    product = np.asarray(a.sum(axis=0)).ravel() @ np.asarray(b.sum(axis=1)).ravel()
    return float((trace + total - 2.0 * product / (n - 2)) / (n * (n - 3)))


@one_thread
def cknna(source, target, *, k: int = 10, normalize: bool = True):
    """Centred kernel nearest-neighbour alignment, CKNNA (Huh et al., 2024).

    CKA restricted to neighbours: with ``K``, ``L`` the cosine-similarity kernels and
    ``M_XY`` the mask of pairs ``(s, t)`` where ``t`` is among the ``k`` nearest neighbours of
    ``s`` in both representations (``M_X``, ``M_Y`` in one),

    .. math:: \\mathrm{CKNNA} = \\frac{\\mathrm{HSIC}(M_{XY} \\circ K, M_{XY} \\circ L)}
              {\\sqrt{\\mathrm{HSIC}(M_X \\circ K, M_X \\circ K)\\,
                      \\mathrm{HSIC}(M_Y \\circ L, M_Y \\circ L)}}

    with Song et al.'s unbiased HSIC, as the authors' code computes it (without the ``1e-6``
    it adds to the denominator). Where ``k`` reaches every other stimulus it is the unbiased
    :func:`cka` of the row-normalised representations; small ``k`` makes it local.

    Symmetric. Invariances as :func:`mutual_knn`'s: rotations, per-stimulus positive scaling,
    permutations; not translations or per-unit scaling. Needs at least 4 stimuli.

    Parameters
    ----------
    source, target : array_like or Tensor, shape (n_stimuli, n_source) and (n_stimuli, n_target)
    k : int
        Neighbours per stimulus (the authors use 10).
    normalize : bool
        Cosine similarity (default) or plain inner products.

    Returns
    -------
    AlignmentResult
        A similarity, one value on all stimuli.
    """
    normalize = check_flag(normalize, "normalize")
    data = streamed(source, target, min_stimuli=4)
    n = data.n
    k = _check_k(k, n)
    ix, vx = _knn(_features(data.x, data.keep_x, normalize), k)
    iy, vy = _knn(_features(data.y, data.keep_y, normalize), k)
    rows = np.repeat(np.arange(n), k)
    kernel_x = _sparse(rows, ix.ravel(), vx.ravel(), n)
    kernel_y = _sparse(rows, iy.ravel(), vy.ravel(), n)
    # Pairs that are neighbours in both: K's entry from x's list, L's from y's.
    match = ix[:, :, None] == iy[:, None, :]
    both_x = match.any(axis=2)
    where_y = match.argmax(axis=2)
    r, a = np.nonzero(both_x)
    shared_x = _sparse(r, ix[r, a], vx[r, a], n)
    shared_y = _sparse(r, ix[r, a], vy[r, where_y[r, a]], n)
    value = _hsic_unbiased(shared_x, shared_y) / np.sqrt(
        _hsic_unbiased(kernel_x, kernel_x) * _hsic_unbiased(kernel_y, kernel_y))
    return data.result(f"cknna (k={k})", [value], higher_is_better=True)
