"""The Spotlight Resonance Method (Bird, arXiv 2505.13471), exact and fast.

Chapter 1 ("Spotlight Resonance from first principles") derives everything here.

Conventions
-----------
In the plane of basis vectors ``(b_i, b_j)`` let ``u = b_i/|b_i|`` and ``v`` the unit part of
``b_j`` orthogonal to ``u`` (:func:`srmlib.bases.plane_frame`; the code below computes the same
coordinates for all planes at once from the Gram matrix of the basis). The spotlight probe at angle ``theta`` is
``p(theta) = cos(theta) u + sin(theta) v``: it turns from ``b_i`` towards ``+b_j``. (The
author's reference code turns towards ``-b_j``; its value at ``theta`` is ours at
``2*pi - theta``.) A sample ``x`` is inside the cone when ``cos(x, p(theta)) >= epsilon``.

Algorithm
---------
With ``(a, b)`` the in-plane coordinates of the unit vector ``x/|x|`` and
``r = sqrt(a^2 + b^2)``, ``phi = atan2(b, a)``, the cone test is ``r cos(theta - phi) >= epsilon``:
each sample covers one arc of angles ``[phi - alpha, phi + alpha]``, ``alpha = arccos(epsilon / r)``
(all angles if ``r <= -epsilon``; none if ``r < epsilon``). Counting arcs with a difference array
over the sorted angles costs ``O(n + A)`` per plane on the default evenly spaced angles
(``O(n log A + A)`` for explicit ones), instead of the ``O(n A d^2)`` of rotating by ``A``
matrices, and it is exact: no angle is ever approximated (the tests compare every count with a
slow twin written from the definition, including samples exactly on a cone's boundary).

Scale
-----
The projections onto the basis are computed once, a block of samples at a time, and stored
basis-major (``k x n``). The counting then visits (plane, sample) pairs in blocks of at most
``2**17``, so its memory does not grow with ``n`` or the number of planes: the peak is the
input plus the ``n x k`` projections plus a few MiB. On the CPU the blocks are shared among as
many Python threads as torch has, each on one torch thread; given a CUDA tensor (or ``device=``)
everything runs on that device.

For an orthonormal basis and ``epsilon > 0`` most planes need not be visited at all: a sample's
``r^2`` in the plane ``(i, j)`` is the sum of its squared coordinates ``Q_i + Q_j``, so it can only
reach the cone in planes through one of its at most ``2 / epsilon^2`` coordinates with
``Q >= epsilon^2 / 2``. Only those (sample, plane) pairs are visited (see ``_sparse_filter``).
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from scipy import special
from tqdm.auto import tqdm

from ._threads import torch_threads
from ._validation import (
    as_float_tensor,
    check_bool,
    check_epsilon,
    check_int,
    check_progress,
    check_real_array,
    check_real_in,
    check_seed,
    row_scale_exponents,
    times_power_of_two,
)
from .bases import MIN_PLANE_SINE, enumerate_planes

TWO_PI = 2.0 * math.pi

# Elements of one (n_samples, planes-in-chunk) work array of PPPM and of the sparse route:
# bounds memory at a few hundred MB.
_CHUNK_ELEMENTS = 2**22
# Elements of one (planes, samples) block of the dense counting. About ten work arrays of this
# size are alive at once (2**17 float64 elements are 1 MiB each): small enough to stay in cache,
# large enough that per-operation overheads vanish (2**16 to 2**18 ran at the same speed).
_BLOCK_ELEMENTS = 2**17
# The same on a GPU, where each operation costs a kernel launch: larger blocks (about 30 work
# arrays of this size, 8 bytes each at most: 2 GiB), still bounded.
_DEVICE_BLOCK_ELEMENTS = 2**23
# Input elements (samples x dims) projected onto the basis at a time (see _project).
_PROJECT_ELEMENTS = 2**22
# The largest arc half-width: strictly below pi, so rounding never wraps an arc over a turn.
_MAX_HALF_WIDTH = math.pi * (1 - 1e-12)
# The dense route compacts the pairs that need an arc when at most this fraction of them do.
_COMPACT_FRACTION = 0.25
#: Work (samples x planes, summed over the evaluations of one call) from which SRM and PPPM
#: show a progress bar by default; the explorers' animations use the same rule for their frames.
PROGRESS_WORK = 2 * 10**8
# Work (samples x planes) below which counting runs on one thread (see _threads_for).
_SINGLE_THREAD_WORK = 10**7
# Input elements (samples x dims) below which projecting runs on one thread (see _prepare).
_SINGLE_THREAD_INPUT = 10**6
# A basis whose Gram matrix is this close to the identity takes the sparse route (_sparse_filter),
# whose pre-filter is loosened by this relative margin so it never drops a pair the exact test keeps.
_ORTHONORMAL_TOLERANCE = 1e-5
_SPARSE_MARGIN = 1e-3
# The sparse route is taken when it visits this many times fewer pairs than the dense one.
_SPARSE_ADVANTAGE = 4


@dataclass(frozen=True)
class SRMResult:
    """Spotlight resonance values with the parameters that produced them.

    Attributes
    ----------
    angles : ndarray, shape (A,)
        Probe angles in radians, in the order of the columns of ``values``.
    values : ndarray, shape (P, A)
        Fraction of samples inside the cone (signed: inside minus inside the opposite cone).
    planes : ndarray of int, shape (P, 2)
        Basis index pairs ``(i, j)`` in the row order of ``values``.
    epsilon : float
        Cosine of the cone half-angle.
    signed : bool
        Whether this is signed SRM.
    pairs : str
        ``"comb"``, ``"perm"``, or ``"custom"`` for an explicit list of planes.
    n_samples : int
        Samples counted in the fractions (non-zero rows).
    n_excluded : int
        Zero rows left out (they have no direction).
    n_dims : int
        Dimension of the activations, which sets the isotropic baseline.
    basis_size : int
        Number of basis vectors ``k``.
    seed : int or None
        Seed passed for drawing a random subset of planes.
    """

    angles: np.ndarray
    values: np.ndarray
    planes: np.ndarray
    epsilon: float
    signed: bool
    pairs: str
    n_samples: int
    n_excluded: int
    n_dims: int
    basis_size: int
    seed: int | None = None

    @property
    def cone_half_angle(self) -> float:
        """Half-angle of the spotlight cone, ``arccos(epsilon)``, in radians."""
        return math.acos(self.epsilon)

    @property
    def isotropic_baseline(self) -> float:
        """The value SRM takes for directions uniform on the sphere (0 for signed SRM)."""
        if self.signed:
            return 0.0
        return float(isotropic_expectation(self.n_dims, self.epsilon))

    def resonance_ratio(self) -> np.ndarray:
        """``values / isotropic_baseline``, shape ``(P, A)``: 1 means "as isotropic data would be"."""
        if self.signed:
            raise ValueError("resonance_ratio is defined for unsigned SRM; the signed baseline is 0")
        baseline = self.isotropic_baseline
        if baseline == 0.0:
            raise ValueError(
                f"the isotropic baseline is 0 at epsilon={self.epsilon} in {self.n_dims} dimensions; "
                "choose a smaller epsilon to form a ratio"
            )
        return self.values / baseline

    def mean(self) -> np.ndarray:
        """Mean over planes, shape ``(A,)``."""
        return self.values.mean(axis=0)

    def std(self) -> np.ndarray:
        """Standard deviation over planes, shape ``(A,)``."""
        return self.values.std(axis=0)

    def plane(self, i: int, j: int) -> np.ndarray:
        """Values for the plane ``(i, j)``, shape ``(A,)``."""
        return self.values[_plane_row(self.planes, i, j)]


@dataclass(frozen=True)
class PPPMResult:
    """In-plane projections of the samples lying within ``arccos(epsilon)`` of each plane.

    Attributes
    ----------
    coords : ndarray, shape (m, 2)
        Coordinates ``(x . u, x . v)`` of the raw (unnormalised) activations in each plane's
        ``(u, v)`` frame.
    plane_index : ndarray of int, shape (m,)
        Row of ``planes`` each projection belongs to.
    sample_index : ndarray of int, shape (m,)
        Row of the input activations each projection comes from.
    plane_cosine : ndarray, shape (m,)
        Cosine of the angle between each sample and its plane (``>= epsilon``).
    planes : ndarray of int, shape (P, 2)
        Basis index pairs.
    epsilon : float
        Threshold on ``plane_cosine``.
    n_samples, n_excluded : int
        Non-zero rows considered, and zero rows left out.
    """

    coords: np.ndarray
    plane_index: np.ndarray
    sample_index: np.ndarray
    plane_cosine: np.ndarray
    planes: np.ndarray
    epsilon: float
    n_samples: int
    n_excluded: int

    def in_plane(self, i: int, j: int, *, unit: bool = False) -> np.ndarray:
        """Coordinates of the projections into the plane ``(i, j)``, shape ``(m_ij, 2)``.

        With ``unit`` those of the unit directions ``x / |x|`` instead of the raw activations:
        each point's length is then its ``plane_cosine``, between ``epsilon`` and 1.
        """
        rows = self.plane_index == _plane_row(self.planes, i, j)
        coords = self.coords[rows]
        if not check_bool(unit, "unit"):
            return coords
        lengths = np.linalg.norm(coords, axis=1, keepdims=True)
        directions = np.divide(coords, lengths, out=np.zeros_like(coords), where=lengths > 0)
        return directions * self.plane_cosine[rows][:, None]


def spotlight_resonance(
    activations,
    basis=None,
    *,
    epsilon: float = 0.9,
    resolution: int = 360,
    angles=None,
    pairs: str = "comb",
    signed: bool = False,
    max_planes: int | None = None,
    seed: int | None = None,
    planes=None,
    progress: bool | None = None,
    device=None,
) -> SRMResult:
    """Spotlight resonance of ``activations`` in every plane of a privileged ``basis``.

    For each plane ``(b_i, b_j)`` and each probe angle ``theta``, the fraction of samples whose
    direction lies within the cone ``cos(x, p(theta)) >= epsilon`` around the probe
    ``p(theta) = cos(theta) u + sin(theta) v`` (see the module docstring for ``u``, ``v``).

    Parameters
    ----------
    activations : array_like or torch.Tensor, shape (n, d)
        One sample per row, of any finite magnitude (rows of 1e-300 and 1e300 both count: a
        row whose squares would overflow or underflow is counted as itself times a power of
        two, exactly). Zero rows have no direction: they are left out of the fractions,
        counted in ``n_excluded``, and a warning says how many.
    basis : array_like, shape (k, d), optional
        Privileged basis vectors, one per row; any lengths, need not be orthogonal, ``k > d``
        allowed. Default: the standard (neuron) basis.
    epsilon : float
        Cosine of the cone half-angle, ``-1 < epsilon <= 1``.
    resolution : int
        Number of probe angles, evenly spaced on ``[0, 2*pi)`` (endpoint excluded).
    angles : array_like, shape (A,), optional
        Explicit probe angles in radians; overrides ``resolution``.
    pairs : {"comb", "perm"}
        Unordered planes ``i < j`` or all ordered pairs ``i != j``.
    signed : bool
        Signed SRM: a sample counts +1 inside the cone and -1 inside the opposite cone, so
        ``signed(theta) = SRM(theta) - SRM(theta + pi)``.
    max_planes : int, optional
        Evaluate a random subset of this many planes, drawn with ``seed``.
    seed : int or numpy.random.Generator, optional
        Seed for the subset of planes (an int ``>= 0``; checked even when ``max_planes`` is
        not given and nothing is drawn).
    planes : array_like of int, shape (P, 2), optional
        Explicit ``(i, j)`` basis index pairs; overrides ``pairs`` and ``max_planes``.
    progress : bool, optional
        Show a progress bar over planes; by default only for large workloads.
    device : str or torch.device, optional
        Where to compute. Default: the device of ``activations`` if it is a tensor (a CUDA
        tensor is counted on its GPU), else CPU. A device this machine does not have is a
        ``ValueError``.

    Returns
    -------
    SRMResult
        ``values`` of shape ``(P, A)`` with the angles, planes and parameters.

    Notes
    -----
    Memory: the input, its ``n x k`` projections onto the basis, and a few MiB of work arrays
    per thread, whatever ``n`` and the number of planes (100,000 float32 samples of 1,024 units
    in a rotated basis: the projections are 400 MB; ``make bench`` reports the peak). Time:
    about 20 to 30 ns of one core per (sample, plane) pair that needs an arc (every pair for
    ``epsilon <= 0`` or a non-orthonormal basis);
    for an orthonormal basis and ``epsilon > 0`` only the pairs that can reach the cone are
    visited. Use ``max_planes`` to sample planes when ``n k^2 / 2`` pairs are too many.

    Examples
    --------
    >>> import numpy as np, srmlib
    >>> x = np.maximum(np.random.default_rng(0).standard_normal((1000, 4)), 0)
    >>> x = x[x.any(axis=1)]  # an all-zero row has no direction (it would be left out, with a warning)
    >>> res = srmlib.spotlight_resonance(x, epsilon=0.9, resolution=8)
    >>> res.values.shape
    (6, 8)
    """
    problem = _prepare(activations, basis, pairs, max_planes, seed, planes, device)
    return problem.spotlight_resonance(epsilon=epsilon, resolution=resolution, angles=angles,
                                       signed=signed, progress=progress)


def pppm(
    activations,
    basis=None,
    *,
    epsilon: float = 0.9,
    pairs: str = "comb",
    max_planes: int | None = None,
    seed: int | None = None,
    planes=None,
    device=None,
) -> PPPMResult:
    """Privileged Plane Projective Method: project the samples near each plane into it.

    A sample ``x`` is kept for the plane ``(b_i, b_j)`` when the cosine of its angle to the plane,
    ``|proj(x)| / |x|``, is at least ``epsilon`` (within ``arccos(epsilon)`` of the plane); its
    coordinates ``(x . u, x . v)`` in the plane's ``(u, v)`` frame are returned. This is SRM's
    zero-width limit: the full in-plane picture instead of counts through a cone.

    Parameters are those of :func:`spotlight_resonance`. The number of projections can reach
    ``n * P``; use ``planes`` or ``max_planes`` to keep it small.

    Returns
    -------
    PPPMResult
    """
    problem = _prepare(activations, basis, pairs, max_planes, seed, planes, device)
    return problem.pppm(epsilon=epsilon)


def isotropic_expectation(n_dims: int, epsilon):
    """SRM value for directions drawn uniformly on the sphere in ``n_dims`` dimensions.

    The fraction of the sphere inside a cone of half-angle ``arccos(epsilon)``:
    ``0.5 * I_{1-epsilon^2}((n_dims-1)/2, 1/2)`` for ``epsilon >= 0`` (``I`` the regularised
    incomplete beta function) and one minus the value at ``-epsilon`` for ``epsilon < 0``.

    Parameters
    ----------
    n_dims : int
        Dimension ``d >= 2``.
    epsilon : float or array_like
        Cosine(s) of the cone half-angle, in ``[-1, 1]``.

    Returns
    -------
    float or ndarray
        Same shape as ``epsilon``.

    Examples
    --------
    >>> round(float(isotropic_expectation(2, 0.0)), 6)   # a half-circle of the circle
    0.5
    """
    n_dims = check_int(n_dims, "n_dims", minimum=2)
    eps = check_real_array(epsilon, "epsilon")  # refuses "0.5" and True
    if np.any(np.abs(eps) > 1):
        raise ValueError(f"epsilon must lie in [-1, 1], got {epsilon}")
    cap = 0.5 * special.betainc((n_dims - 1) / 2.0, 0.5, 1.0 - eps**2)
    value = np.where(eps >= 0, cap, 1.0 - cap)
    return float(value) if value.ndim == 0 else value


def epsilon_for_isotropic_fraction(n_dims: int, fraction: float) -> float:
    """The ``epsilon`` at which isotropic data fill ``fraction`` of the spotlight, in ``n_dims``.

    The inverse of :func:`isotropic_expectation` in ``epsilon``: a way to choose a resolution
    that means the same thing in every dimension (for instance 1% of random directions).
    """
    n_dims = check_int(n_dims, "n_dims", minimum=2)
    fraction = check_real_in(fraction, "fraction", 0, 1, low_open=True, high_open=True)
    tail = min(fraction, 1.0 - fraction)
    eps = math.sqrt(max(0.0, 1.0 - special.betaincinv((n_dims - 1) / 2.0, 0.5, 2.0 * tail)))
    return eps if fraction <= 0.5 else -eps


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class ProjectedActivations:
    """Activations projected once onto a basis, ready for SRM and PPPM at any settings.

    Made by :func:`project`. Everything that depends only on the data, the basis and the planes
    is computed here once; :meth:`spotlight_resonance` and :meth:`pppm` then cost only the
    counting, so exploring epsilon, the resolution or signed SRM (as the widgets do) never
    repeats the projection.

    Attributes
    ----------
    projections : torch.Tensor, shape (n_samples, k)
        Cosines of the non-zero samples with the unit basis vectors (stored basis-major: its
        transpose is contiguous, one basis vector's cosines per row).
    gram : torch.Tensor, shape (k, k)
        Cosines between basis vectors.
    norms : torch.Tensor, shape (n_samples,)
        Lengths of the non-zero samples (times ``2**-norm_exponents`` where those are given).
    valid_rows : torch.Tensor, shape (n_samples,)
        Row of each kept sample in the input.
    planes : ndarray of int, shape (P, 2)
        Basis index pairs, in the row order of results.
    pairs : str
        ``"comb"``, ``"perm"`` or ``"custom"``.
    n_excluded, n_dims, basis_size : int
        Zero rows left out, the activations' dimension, and ``k``.
    orthonormal : bool
        Whether the basis vectors are orthonormal (to within ``1e-5``), which enables the sparse
        route of the counting.
    seed : int or None
        Seed used for a random subset of planes.
    norm_exponents : torch.Tensor of int64, shape (n_samples,), or None
        ``None`` for ordinary inputs. For an input with rows beyond about ``2**+-256`` in
        magnitude (float32: ``2**+-32``), whose squares would overflow or underflow, each row was
        counted as itself times ``2**-e`` (exact), and the true length of a sample is
        ``norms * 2**norm_exponents``.
    """

    projections: torch.Tensor
    gram: torch.Tensor
    norms: torch.Tensor
    valid_rows: torch.Tensor
    planes: np.ndarray
    pairs: str
    n_excluded: int
    n_dims: int
    basis_size: int
    orthonormal: bool
    seed: int | None = None
    norm_exponents: torch.Tensor | None = None

    @property
    def n_samples(self) -> int:
        """Samples that have a direction (non-zero rows)."""
        return int(self.projections.shape[0])

    def spotlight_resonance(
        self,
        *,
        epsilon: float = 0.9,
        resolution: int = 360,
        angles=None,
        signed: bool = False,
        progress: bool | None = None,
    ) -> SRMResult:
        """Spotlight resonance of these projections; see :func:`srmlib.spotlight_resonance`."""
        epsilon = check_epsilon(epsilon)
        signed = check_bool(signed, "signed")
        angle_values = _check_angles(angles, resolution)

        grid = _AngleGrid.build(angle_values, uniform=angles is None, like=self.projections,
                                turns=4 if signed else 3)
        n_planes, n_angles = len(self.planes), len(angle_values)
        counts = np.empty((n_planes, n_angles), dtype=np.int64)
        bar = _progress_bar(progress, self, "spotlight resonance")
        with _threads_for(self):
            sparse = _sparse_filter(self, epsilon)
            if sparse is None:
                _dense_counts(self, epsilon, signed, grid, counts, bar)
            else:
                _sparse_counts(self, epsilon, signed, grid, sparse, counts, bar)
        bar.close()

        values = np.empty((n_planes, n_angles), dtype=np.float64)
        values[:, grid.order] = counts / self.n_samples
        return SRMResult(
            angles=angle_values,
            values=values,
            planes=self.planes,
            epsilon=epsilon,
            signed=signed,
            pairs=self.pairs,
            n_samples=self.n_samples,
            n_excluded=self.n_excluded,
            n_dims=self.n_dims,
            basis_size=self.basis_size,
            seed=self.seed,
        )

    def pppm(self, *, epsilon: float = 0.9) -> PPPMResult:
        """In-plane projections of the samples near each plane; see :func:`srmlib.pppm`."""
        epsilon = check_epsilon(epsilon)
        pieces = []
        plane_chunk = _CHUNK_ELEMENTS // self.n_samples
        with _threads_for(self):
            for sel in _selections(self, epsilon, plane_chunk=plane_chunk):
                norm = self.norms[sel.sample]
                if self.norm_exponents is None:
                    coords = torch.stack([sel.a * norm, sel.b * norm], dim=1)
                else:  # true coordinates, in float64 (those of a float32 input may exceed it)
                    norm = norm.double()
                    coords = times_power_of_two(
                        torch.stack([sel.a.double() * norm, sel.b.double() * norm], dim=1),
                        self.norm_exponents[sel.sample, None])
                pieces.append((
                    coords,
                    sel.plane + sel.start,
                    self.valid_rows[sel.sample],
                    torch.sqrt(sel.r2),
                ))
        coords, plane_index, sample_index, plane_cosine = (
            torch.cat(parts).cpu().numpy() for parts in zip(*pieces)
        )
        order = np.lexsort((sample_index, plane_index))  # by plane, then sample: one order always
        coords, plane_index, sample_index, plane_cosine = (
            coords[order], plane_index[order], sample_index[order], plane_cosine[order]
        )
        return PPPMResult(
            coords=coords.astype(np.float64),
            plane_index=plane_index,
            sample_index=sample_index,
            plane_cosine=plane_cosine.astype(np.float64),
            planes=self.planes,
            epsilon=epsilon,
            n_samples=self.n_samples,
            n_excluded=self.n_excluded,
        )


def project(activations, basis=None, *, pairs: str = "comb", max_planes: int | None = None,
            seed: int | None = None, planes=None, device=None) -> ProjectedActivations:
    """Project ``activations`` onto a basis once, for repeated SRM and PPPM at other settings.

    Takes the arguments of :func:`spotlight_resonance` that fix the data, the basis and the
    planes, validates them the same way, and returns a :class:`ProjectedActivations`.

    Examples
    --------
    >>> import numpy as np, srmlib
    >>> x = np.random.default_rng(0).standard_normal((500, 4))
    >>> projected = srmlib.project(x)
    >>> [projected.spotlight_resonance(epsilon=e, resolution=8).values.shape for e in (0.5, 0.9)]
    [(6, 8), (6, 8)]
    """
    return _prepare(activations, basis, pairs, max_planes, seed, planes, device)


def _prepare(activations, basis, pairs, max_planes, seed, planes, device) -> ProjectedActivations:
    # Converting and projecting a small input is faster on one thread than waiting for a busy
    # second core (as_float_tensor of a few thousand rows took 90 ms on two threads, 0.3 ms on one).
    shape = getattr(activations, "shape", None)
    small = shape is not None and len(shape) == 2 and shape[0] * shape[1] < _SINGLE_THREAD_INPUT
    with torch_threads(1 if small else None):
        return _project(activations, basis, pairs, max_planes, seed, planes, device)


def _project(activations, basis, pairs, max_planes, seed, planes, device) -> ProjectedActivations:
    # Checked even when no plane subset is drawn: a bad seed is a mistake either way.
    seed = check_seed(seed, "seed", none=True, generator=True)
    x = as_float_tensor(activations, "activations", ndim=2, device=device)
    n_dims = x.shape[1]
    if basis is None:
        if n_dims < 2:
            raise ValueError("activations need at least 2 columns (dimensions) to span a plane")
        unit_basis = torch.eye(n_dims, dtype=x.dtype, device=x.device)
    else:
        bt = as_float_tensor(basis, "basis", ndim=2, device=x.device).to(x.dtype)
        if bt.shape[1] != n_dims:
            raise ValueError(
                f"basis has vectors of dimension {bt.shape[1]} but activations have {n_dims} "
                "columns; basis must have shape (n_vectors, n_dims)"
            )
        if bt.shape[0] < 2:
            raise ValueError(f"basis needs at least 2 vectors to span a plane, got {bt.shape[0]}")
        # exact directions at any length (a power of two per vector first, where needed)
        scale = row_scale_exponents(bt)
        if scale is not None:
            bt = times_power_of_two(bt, -scale[:, None])
        basis_norms = bt.norm(dim=1)
        zero = torch.nonzero(basis_norms == 0).flatten().tolist()
        if zero:
            raise ValueError(f"basis vectors {zero} have zero length and no direction")
        unit_basis = bt / basis_norms[:, None]
    basis_size = unit_basis.shape[0]

    if planes is None:
        plane_array = enumerate_planes(basis_size, pairs, max_planes, seed)
        pairs = pairs.lower()
    else:
        plane_array = _check_planes(planes, basis_size)
        pairs = "custom"

    gram = unit_basis @ unit_basis.T
    cos = gram[plane_array[:, 0], plane_array[:, 1]].cpu().numpy()
    degenerate = np.flatnonzero(np.sqrt(np.clip(1.0 - cos**2, 0.0, None)) < MIN_PLANE_SINE)
    if degenerate.size:
        i, j = plane_array[degenerate[0]]
        kind = "parallel" if cos[degenerate[0]] > 0 else "antiparallel"
        raise ValueError(
            f"basis vectors {i} and {j} are {kind} (cosine {cos[degenerate[0]]:+.12f}), so they "
            f"span no plane; {degenerate.size} plane(s) are degenerate. Remove duplicate basis "
            "vectors or pass explicit planes="
        )

    # A row's direction does not depend on its length: rows of largest magnitude beyond
    # SAFE_EXPONENT binary orders of 1 (their squares would overflow or underflow) are counted
    # as that row times a power of two, exactly; ``norms`` are then the lengths of the rows so
    # rescaled, and ``norm_exponents`` the powers that give the true ones.
    scale = row_scale_exponents(x)
    norms = _row_norms(x, scale)
    nonzero = norms > 0
    n_excluded = int((~nonzero).sum())
    if n_excluded == x.shape[0]:
        raise ValueError("activations: every row is the zero vector, so no sample has a direction")
    if n_excluded:
        warnings.warn(
            f"{n_excluded} of {x.shape[0]} activation rows are zero vectors with no direction; "
            "they are left out of the fractions (see n_excluded)",
            stacklevel=4,
        )
    valid_rows = torch.nonzero(nonzero).flatten()
    norms = norms[valid_rows]
    if scale is not None:
        scale = scale[valid_rows]
    return ProjectedActivations(
        projections=_unit_projections(x, valid_rows if n_excluded else None, norms, unit_basis,
                                      scale),
        gram=gram,
        norms=norms,
        valid_rows=valid_rows,
        planes=plane_array,
        pairs=pairs,
        n_excluded=n_excluded,
        n_dims=n_dims,
        basis_size=basis_size,
        orthonormal=bool(
            (gram - torch.eye(basis_size, dtype=gram.dtype, device=gram.device)).abs().max()
            <= _ORTHONORMAL_TOLERANCE
        ),
        seed=seed,
        norm_exponents=scale,
    )


def _row_norms(x: torch.Tensor, scale) -> torch.Tensor:
    """Lengths of the rows of ``x``, or with ``scale`` (see :func:`row_scale_exponents`) those of
    the rows times ``2**-scale``, a block at a time (never a rescaled copy of ``x``)."""
    if scale is None:
        return x.norm(dim=1)
    block = max(1, _PROJECT_ELEMENTS // x.shape[1])
    return torch.cat([times_power_of_two(x[lo:lo + block], -scale[lo:lo + block, None])
                      .norm(dim=1) for lo in range(0, len(x), block)])


def _unit_projections(x: torch.Tensor, rows, norms: torch.Tensor,
                      unit_basis: torch.Tensor, scale=None) -> torch.Tensor:
    """Cosines of the rows ``rows`` of ``x`` (all if ``None``) with the unit basis vectors.

    ``norms`` are the lengths of those rows, or with ``scale`` (int64 per row) of the rows times
    ``2**-scale``, which is how they are then divided.

    Shape ``(n_samples, k)``, stored basis-major (its transpose is contiguous) so that the
    counting reads one basis vector's cosines as one contiguous row. Computed a block of samples
    at a time: besides the result, only one block of unit samples is ever held.
    """
    n = len(norms)
    by_basis = torch.empty((unit_basis.shape[0], n), dtype=x.dtype, device=x.device)
    block = max(1, _PROJECT_ELEMENTS // max(x.shape[1], unit_basis.shape[0]))
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        part = x[lo:hi] if rows is None else x[rows[lo:hi]]
        if scale is not None:
            part = times_power_of_two(part, -scale[lo:hi, None])
        unit = part / norms[lo:hi, None]
        by_basis[:, lo:hi] = unit_basis @ unit.T
    return by_basis.T


@dataclass(frozen=True)
class _Selection:
    """The (sample, plane) pairs of the planes ``planes[start:stop]`` that need an arc.

    ``sample`` indexes the rows of the projections and ``plane`` the planes from ``start``; ``a``
    and ``b`` are the unit sample's coordinates along ``u`` and ``v``, ``r2 = a^2 + b^2``: all of
    shape ``(m,)``.
    """

    start: int
    stop: int
    sample: torch.Tensor
    plane: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    r2: torch.Tensor


def _sparse_filter(problem: ProjectedActivations, min_cosine: float) -> torch.Tensor | None:
    """The coordinates that can put a sample within ``min_cosine`` of a plane, or ``None``.

    For an orthonormal basis, ``r^2 = Q_i + Q_j`` with ``Q`` the squared projections, so a sample
    can only reach ``r >= min_cosine > 0`` in planes through a coordinate with
    ``Q >= min_cosine^2 / 2``, and since ``sum(Q) <= 1`` it has at most ``2 / min_cosine^2`` of
    them. Returns the boolean ``(n_samples, k)`` mask of those coordinates when visiting only
    their planes (the sparse route) is worth it, ``None`` when every pair is to be looked at (the
    dense route: ``min_cosine <= 0``, a basis that is not orthonormal, or too many candidates).
    """
    if min_cosine <= 0 or not problem.orthonormal:
        return None
    # a margin keeps the test a superset of the exact one, whatever the rounding
    big = problem.projections**2 >= (1 - _SPARSE_MARGIN) * min_cosine**2 / 2
    candidates = int(big.sum()) * problem.basis_size
    if _SPARSE_ADVANTAGE * candidates < problem.n_samples * len(problem.planes):
        return big
    return None


def _selections(problem: ProjectedActivations, min_cosine: float, *, plane_chunk: int):
    """Yield a :class:`_Selection` of the pairs with ``r >= min_cosine`` (all pairs if
    ``min_cosine <= 0``) for each chunk of at most ``plane_chunk`` planes.

    Two routes give identical selections: the dense one looks at every (sample, plane) pair, the
    sparse one only at the planes :func:`_sparse_filter` leaves.
    """
    plane_chunk = max(1, plane_chunk)
    big = _sparse_filter(problem, min_cosine)
    if big is not None:
        yield from _sparse_selections(problem, min_cosine, big, plane_chunk)
    else:
        yield from _dense_selections(problem, min_cosine, plane_chunk)


def _in_plane_v(a: torch.Tensor, along_b_j: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
    """Coordinate along ``v = (b_j - cos u) / sin`` from those along ``u`` and ``b_j``.

    Exactly ``along_b_j`` wherever ``cos == 0``, so either route computes the same numbers.
    """
    if bool((cos != 0).any()):
        return (along_b_j - cos * a) / torch.sqrt(1.0 - cos * cos)
    return along_b_j


def _in_plane(along_b_i: torch.Tensor, along_b_j: torch.Tensor, cos: torch.Tensor):
    """``(a, b, r2)``: a unit sample's coordinates along ``u`` and ``v``, and ``a^2 + b^2``.

    Elementwise (``cos`` broadcast), so every route computes the same numbers for a pair.
    """
    b = _in_plane_v(along_b_i, along_b_j, cos)
    return along_b_i, b, along_b_i * along_b_i + b * b


def _by_basis(problem: ProjectedActivations) -> torch.Tensor:
    """The projections as ``(k, n_samples)``: one basis vector's cosines per (contiguous) row."""
    return problem.projections.T


def _plane_blocks(problem: ProjectedActivations, width: int):
    """``(start, stop, i, j, cos)`` for blocks of planes: basis indices and their cosines."""
    device = problem.projections.device
    index = torch.as_tensor(problem.planes, device=device)
    cosines = problem.gram[index[:, 0], index[:, 1]]
    for start in range(0, len(index), width):
        stop = min(start + width, len(index))
        yield (start, stop, index[start:stop, 0], index[start:stop, 1],
               cosines[start:stop, None])


def _dense_selections(problem: ProjectedActivations, min_cosine, plane_chunk):
    by_basis, n = _by_basis(problem), problem.n_samples
    width = max(1, min(plane_chunk, _CHUNK_ELEMENTS // n))
    bound = min_cosine * min_cosine
    for start, stop, i, j, cos in _plane_blocks(problem, width):
        a, b, r2 = _in_plane(by_basis[i], by_basis[j], cos)  # (planes, n)
        if min_cosine > 0:
            flat = torch.nonzero((r2 >= bound).reshape(-1)).squeeze(1)
            a, b, r2 = a.reshape(-1)[flat], b.reshape(-1)[flat], r2.reshape(-1)[flat]
        else:
            flat = torch.arange(r2.numel(), device=r2.device)
            a, b, r2 = a.reshape(-1), b.reshape(-1), r2.reshape(-1)
        yield _Selection(start, stop, flat % n, flat // n, a, b, r2)


def _dense_counts(problem: ProjectedActivations, epsilon: float, signed: bool,
                  grid: _AngleGrid, counts: np.ndarray, bar) -> None:
    """Count every (sample, plane) pair, in blocks of planes and samples; fill ``counts``.

    A block holds at most ``_BLOCK_ELEMENTS`` pairs, so the memory this needs does not grow
    with the number of samples or planes. Where few pairs need an arc (``epsilon > 0``), those
    are gathered first so the arc geometry is computed for them only.

    On the CPU the blocks are shared among as many Python threads as torch has threads, each
    running torch on one thread (torch releases the GIL inside an operation). A block's
    operations are too small to split well: splitting each one over two threads cost 30 times
    the CPU time of one thread on a loaded two-core machine, as the threads waited for each other.
    """
    by_basis, n = _by_basis(problem), problem.n_samples
    on_cpu = by_basis.device.type == "cpu"
    budget = _BLOCK_ELEMENTS if on_cpu else _DEVICE_BLOCK_ELEMENTS
    samples = min(n, budget)
    width = max(1, min(budget // samples, budget // grid.stride))
    bound = epsilon * epsilon

    def count_block(block):
        start, stop, i, j, cos = block
        n_planes = stop - start
        offset = (torch.arange(n_planes, dtype=torch.int32, device=by_basis.device)
                  * grid.stride)[:, None]
        total = None
        for lo in range(0, n, samples):
            hi = min(lo + samples, n)
            a, b, r2 = _in_plane(by_basis[i, lo:hi], by_basis[j, lo:hi], cos)
            where = offset
            if epsilon > 0:
                keep = r2 >= bound
                if int(keep.sum()) <= _COMPACT_FRACTION * keep.numel():
                    flat = torch.nonzero(keep.reshape(-1)).squeeze(1)
                    a, b, r2 = a.reshape(-1)[flat], b.reshape(-1)[flat], r2.reshape(-1)[flat]
                    where = ((flat // (hi - lo)) * grid.stride).to(torch.int32)
            part = _count_arcs(a, b, r2, where, n_planes, epsilon, signed, grid)
            total = part if total is None else total + part
        return start, stop, total.cpu().numpy()

    blocks = _plane_blocks(problem, width)
    workers = torch.get_num_threads() if on_cpu else 1
    if workers <= 1:
        results = map(count_block, blocks)
        for start, stop, block_counts in results:
            counts[start:stop] = block_counts
            bar.update(stop - start)
        return
    with torch_threads(1), ThreadPoolExecutor(workers) as pool:
        for start, stop, block_counts in pool.map(count_block, blocks):
            counts[start:stop] = block_counts
            bar.update(stop - start)


def _sparse_counts(problem: ProjectedActivations, epsilon: float, signed: bool, grid: _AngleGrid,
                   big: torch.Tensor, counts: np.ndarray, bar) -> None:
    """Count the pairs the sparse route selects; fill ``counts``.

    On one torch thread: the route's operations are cheap and many, and splitting each over two
    threads made the issue's L workload take 4 times the CPU time and 5 times the wall time of
    one thread on a loaded two-core machine (0.9 s of CPU on one thread).
    """
    # a chunk's work arrays hold (selected pairs) and (planes x stride) elements
    plane_chunk = max(1, _CHUNK_ELEMENTS // max(problem.n_samples, grid.stride))
    with torch_threads(1 if problem.projections.device.type == "cpu" else None):
        for sel in _sparse_selections(problem, epsilon, big, plane_chunk):
            chunk = _count_arcs(sel.a, sel.b, sel.r2, (sel.plane * grid.stride).to(torch.int32),
                                sel.stop - sel.start, epsilon, signed, grid)
            counts[sel.start : sel.stop] = chunk.cpu().numpy()
            bar.update(sel.stop - sel.start)


def _sparse_selections(problem: ProjectedActivations, min_cosine, big, plane_chunk):
    proj, gram = problem.projections, problem.gram
    k, n_planes, device = problem.basis_size, len(problem.planes), proj.device
    index = torch.as_tensor(problem.planes, device=device)
    row_of = torch.full((k, k), -1, dtype=torch.long, device=device)  # plane row of (i, j)
    row_of[index[:, 0], index[:, 1]] = torch.arange(n_planes, device=device)
    big_sample, big_axis = torch.nonzero(big, as_tuple=True)
    partner = torch.arange(k, device=device)[None, :]
    bound = min_cosine * min_cosine
    none = torch.empty(0, dtype=torch.long, device=device)
    found = [(none, none, proj.new_empty(0), proj.new_empty(0), proj.new_empty(0))]
    block = max(1, _CHUNK_ELEMENTS // k)
    for lo in range(0, len(big_sample), block):
        sample, axis = big_sample[lo : lo + block, None], big_axis[lo : lo + block, None]
        # each unordered pair once: from its big end, or from the lower index if both are big
        keep = (partner != axis) & ~(big[sample, partner] & (partner < axis))
        pair, other = torch.nonzero(keep, as_tuple=True)
        sample, axis = sample[pair, 0], axis[pair, 0]
        for i, j in ((axis, other), (other, axis)):  # both orientations, if evaluated
            row = row_of[i, j]
            ok = row >= 0
            s, i, j, row = sample[ok], i[ok], j[ok], row[ok]
            a, b, r2 = _in_plane(proj[s, i], proj[s, j], gram[i, j])
            inside = r2 >= bound
            found.append((row[inside], s[inside], a[inside], b[inside], r2[inside]))
    row, sample, a, b, r2 = (torch.cat(parts) for parts in zip(*found))
    order = torch.argsort(row * problem.n_samples + sample)
    row, sample, a, b, r2 = row[order], sample[order], a[order], b[order], r2[order]
    starts = torch.arange(0, n_planes, plane_chunk, device=device)
    bounds = torch.searchsorted(row, torch.cat([starts, torch.tensor([n_planes], device=device)]))
    for c, start in enumerate(starts.tolist()):
        stop = min(start + plane_chunk, n_planes)
        part = slice(int(bounds[c]), int(bounds[c + 1]))
        yield _Selection(start, stop, sample[part], row[part] - start, a[part], b[part],
                         r2[part])


@dataclass(frozen=True)
class _AngleGrid:
    """The probe angles, sorted on one turn, and how to find arc ends among them.

    Arcs are placed on ``turns`` copies of the sorted angles, the first shifted by ``-2 pi``
    (position ``m`` is ``sorted[m % A] + 2 pi (m // A - 1)``), so that every arc, wherever it
    starts and however it wraps, is one contiguous run of positions; folding the turns back
    onto one gives the counts. On the default uniform grid ``theta_m = m * step`` positions are
    found by arithmetic; explicit angles use a binary search in ``extended``.
    """

    extended: torch.Tensor | None  # (turns * A,) explicit angles only
    order: np.ndarray  # column of each sorted angle in the caller's order
    step: float | None  # spacing of a uniform grid from 0, else None
    turns: int

    @classmethod
    def build(cls, angles: np.ndarray, uniform: bool, like: torch.Tensor,
              turns: int) -> "_AngleGrid":
        wrapped = np.mod(angles, TWO_PI)
        order = np.argsort(wrapped, kind="stable")
        if uniform:
            return cls(None, order, TWO_PI / len(angles), turns)
        extended = np.concatenate([wrapped[order] + TWO_PI * (t - 1) for t in range(turns)])
        return cls(torch.as_tensor(extended, dtype=like.dtype, device=like.device), order, None,
                   turns)

    @property
    def n_angles(self) -> int:
        return len(self.order)

    @property
    def stride(self) -> int:
        """Length of one plane's difference array: every position plus one past the last."""
        return self.turns * self.n_angles + 1

    def arc_ends(self, phi: torch.Tensor, alpha: torch.Tensor, shift: float,
                 offset: torch.Tensor):
        """Positions ``(first, after_last)`` of the arcs ``phi + shift +- alpha``.

        ``first`` is the first position whose angle is ``>= lo``, ``after_last`` the first whose
        angle is ``> hi``: the arc holds the positions ``first <= m < after_last``. ``phi`` lies
        in ``[-pi, pi]``, ``0 <= alpha < pi`` and ``shift`` is 0 or ``pi``, so every end lies
        within the ``turns`` (3, or 4 with a shift) turns from ``-2 pi``. Both are int32 with
        ``offset`` (each pair's plane times :attr:`stride`) added.
        """
        if self.step is None:
            centre = phi + shift if shift else phi
            lo, hi = centre - alpha, centre + alpha
            return (torch.searchsorted(self.extended, lo, out_int32=True).add_(offset),
                    torch.searchsorted(self.extended, hi, right=True, out_int32=True).add_(offset))
        # In units of the step (a division, not a product with 1/step, so that an end lying
        # exactly on a probe angle, as the axes do on grids of 4 or 8 angles, stays on it); pi
        # is A/2 steps, and the turn offset A is added to the integers, exactly.
        lo = torch.sub(phi, alpha).div_(self.step)
        hi = torch.add(phi, alpha).div_(self.step)
        if shift:
            lo.add_(self.n_angles / 2)
            hi.add_(self.n_angles / 2)
        first = lo.ceil_().to(torch.int32).add_(offset + self.n_angles)
        after_last = hi.floor_().to(torch.int32).add_(offset + (self.n_angles + 1))
        return first, after_last


def _arc_geometry(a: torch.Tensor, b: torch.Tensor, r2: torch.Tensor, epsilon: float):
    """Centre ``phi`` and half-width ``alpha`` of each sample's arc, and who needs none.

    Returns ``(phi, alpha, empty, full)``: ``empty`` is int32, 0 for samples in no cone
    (``r < epsilon``, ``epsilon > 0``) and 1 elsewhere, ``full`` 0 for those in every cone
    (``r <= -epsilon``, ``epsilon <= 0``); either is ``None`` when no sample is so marked.
    Elementwise, so any shape; ``alpha`` is meaningless where a mark is 0.

    The half-width solves ``r cos(alpha) = epsilon``: ``alpha = atan2(sqrt(r^2 - epsilon^2),
    epsilon)``, which is exact at ``r = epsilon`` (0) and ``epsilon = 0`` (pi/2), accurate where
    ``arccos(epsilon / r)`` is not (near 0), and faster.
    """
    bound = epsilon * epsilon
    empty = full = None
    if epsilon > 0:
        keep = r2 >= bound
        empty = None if bool(keep.all()) else keep.to(torch.int32)
    else:
        keep = r2 > bound
        full = None if bool(keep.all()) else keep.to(torch.int32)
    phi = torch.atan2(b, a)
    # clamped first: the square root of a negative number (a marked pair) took 7 times as long
    alpha = torch.sub(r2, bound).clamp_(min=0.0).sqrt_()
    alpha = torch.atan2(alpha, torch.full((), epsilon, dtype=alpha.dtype, device=alpha.device),
                        out=alpha)
    if epsilon < 0:  # only then can alpha exceed pi / 2; strictly below pi, so that rounding
        alpha = alpha.clamp_(max=_MAX_HALF_WIDTH)  # never wraps an arc over a whole turn
    return phi, alpha, empty, full


def _count_arcs(a, b, r2, offset, n_planes: int, epsilon: float, signed: bool,
                grid: _AngleGrid) -> torch.Tensor:
    """Samples inside the cone per plane and sorted angle: int64 ``(n_planes, A)``.

    ``a``, ``b``, ``r2`` hold the in-plane coordinates of (sample, plane) pairs, any shape, and
    ``offset`` (int32, broadcastable to them) is each pair's plane times ``grid.stride``. Each arc
    adds +1 at its first position and -1 after its last in its plane's difference array; the
    running sum, folded back onto one turn, is the count. Signed SRM subtracts the arcs of the
    opposite cone, ``phi + pi``; a sample in every cone is then in every opposite cone too and
    adds 0.
    """
    phi, alpha, empty, full = _arc_geometry(a, b, r2, epsilon)
    size = n_planes * grid.stride
    diff = None
    for shift in ((0.0, math.pi) if signed else (0.0,)):
        first, after_last = grid.arc_ends(phi, alpha, shift, offset)
        # Replacing the ends of marked pairs by x -> (x - y) * keep + y, with keep 0 where marked
        # and 1 elsewhere: integer arithmetic, seven times faster than torch.where on a mask.
        if empty is not None:  # an empty run: +1 and -1 at the same position
            after_last = after_last.sub_(first).mul_(empty).add_(first)
        if full is not None:  # exactly one turn (or nothing, for signed SRM)
            turn = offset + grid.n_angles
            first = first.sub_(turn).mul_(full).add_(turn)
            turn = turn + (0 if signed else grid.n_angles)
            after_last = after_last.sub_(turn).mul_(full).add_(turn)
        ends = torch.bincount(first.reshape(-1), minlength=size)
        ends -= torch.bincount(after_last.reshape(-1), minlength=size)
        diff = ends if diff is None else (diff - ends if shift else diff + ends)
    running = torch.cumsum(diff.reshape(n_planes, grid.stride), dim=1)
    n = grid.n_angles
    return running[:, : grid.turns * n].reshape(n_planes, grid.turns, n).sum(dim=1)


def _check_angles(angles, resolution) -> np.ndarray:
    if angles is None:
        resolution = check_int(resolution, "resolution", minimum=1)
        return np.linspace(0.0, TWO_PI, resolution, endpoint=False)
    values = as_float_tensor(angles, "angles", ndim=1).cpu().numpy().astype(np.float64)
    return values


def _check_planes(planes, basis_size) -> np.ndarray:
    arr = np.asarray(planes)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f"planes must have shape (n_planes, 2), got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"planes must hold integer basis indices, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= basis_size:
        raise ValueError(f"planes must index basis vectors 0..{basis_size - 1}, got {arr.min()}..{arr.max()}")
    same = np.flatnonzero(arr[:, 0] == arr[:, 1])
    if same.size:
        raise ValueError(f"planes row {same[0]} pairs basis vector {arr[same[0], 0]} with itself")
    return arr.astype(np.int64)


def _plane_row(planes: np.ndarray, i: int, j: int) -> int:
    rows = np.flatnonzero((planes[:, 0] == i) & (planes[:, 1] == j))
    if rows.size == 0:
        raise ValueError(f"plane ({i}, {j}) is not among the evaluated planes")
    return int(rows[0])


def _threads_for(projected: ProjectedActivations):
    """One thread for small workloads (see :func:`srmlib._threads.torch_threads`)."""
    small = projected.n_samples * len(projected.planes) < _SINGLE_THREAD_WORK
    return torch_threads(1 if small else None)


def _progress_bar(progress, problem: ProjectedActivations, label: str):
    work = problem.n_samples * len(problem.planes)
    show = check_progress(progress, default=work >= PROGRESS_WORK)
    return tqdm(total=len(problem.planes), desc=label, unit="plane", disable=not show)
