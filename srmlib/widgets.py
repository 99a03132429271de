"""Interactive explorers for SRM and PPPM (JupyterLab), and their kernel-free fallbacks.

Chapter 2 ("SRM in practice: choosing the resolution") explains these widgets and uses them to
choose ``epsilon``.

* :class:`SRMExplorer`: sliders and menus for ``epsilon``, the number of probe angles, signed
  SRM, the planes and the basis, redrawing a linear and a polar view of the result.
* :class:`PPPMExplorer`: the same for the Privileged Plane Projective Method in one plane.
* :func:`epsilon_animation` and :func:`pppm_animation`: the same pictures for a sweep of
  ``epsilon``, as a self-contained HTML player (a range slider over embedded frames) that needs
  no running kernel, for the book's website.

The activations are projected onto the basis once (:func:`srmlib.project`) per choice of basis,
rotation seed and planes; moving ``epsilon``, the resolution, ``signed`` or the view only
recounts from those projections, which on ``n = 5000`` samples in ``d = 16`` dimensions redraws in
well under 0.3 s (see ``python -m benchmarks``). Figures are rendered to PNG images shown in an
``ipywidgets.Image``, so the widgets work with the default inline backend (no ``ipympl``).

The widgets build on :mod:`srmlib.plotting` and add only controls and caching: the figures are
:class:`srmlib.plotting.SRMFigure` and :class:`srmlib.plotting.PPPMFigure`, and the players come
from :func:`srmlib.plotting.animate`.

This module needs ``ipywidgets`` (the ``book`` extra) and is imported explicitly:
``from srmlib import widgets``.
"""

from __future__ import annotations

import io
import math
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np
from matplotlib.figure import Figure
from tqdm.auto import tqdm

try:
    import ipywidgets
    from IPython.display import HTML, display
except ImportError as err:  # pragma: no cover - the book extra installs both
    raise ImportError(
        "srmlib.widgets needs ipywidgets and IPython: pip install 'srmlib[book]'"
    ) from err

from ._validation import (
    as_float_tensor,
    check_bool,
    check_choice,
    check_plane,
    check_epsilon,
    check_int,
    check_real_in,
    check_seed,
)
from .bases import PAIRS, random_rotation
from .plotting import PPPMFigure, SRMFigure, animate
from .plotting.explorer import VIEWS
from .srm import PROGRESS_WORK, PPPMResult, ProjectedActivations, SRMResult, project

__all__ = ["PPPMExplorer", "SRMExplorer", "epsilon_animation", "pppm_animation"]

BASIS_CHOICES = ("standard", "rotated", "custom")
KINDS = ("scatter", "hexbin")

# Planes listed in a menu; more would make the menu unusable (use max_planes to pick a subset).
_MAX_PLANE_OPTIONS = 500
# Projections kept per explorer, one per (basis, rotation seed, pairs) visited.
_CACHE_SIZE = 8
_SLIDER_EPSILON = (-0.99, 1.0, 0.005)
_SLIDER_RESOLUTION = (8, 720)
_SEED_MAX = 2**32 - 1

# Figure sizes (inches) and resolutions (dots per inch) of the explorers and the animations.
_SRM_FIGSIZE = (10.0, 4.0)
_PPPM_FIGSIZE = (5.6, 5.0)
_WIDGET_DPI = 90
_ANIMATION_SRM_FIGSIZE = (8.4, 3.8)
_ANIMATION_PPPM_FIGSIZE = (4.8, 4.4)
_ANIMATION_DPI = 72
_ANIMATION_FRAMES = 18
_ANIMATION_FPS = 3


# --------------------------------------------------------------------------- SRM explorer


class SRMExplorer:
    """Spotlight Resonance with sliders: move ``epsilon`` and watch the curves change.

    Chapter 2 ("SRM in practice: choosing the resolution") uses it.

    Parameters
    ----------
    activations : array_like or torch.Tensor, shape (n, d)
        One sample per row.
    basis : array_like, shape (k, d), optional
        A custom privileged basis (one vector per row), offered as the ``"custom"`` basis.
    epsilon : float
        Initial cosine of the cone half-angle, ``-1 < epsilon <= 1``.
    resolution : int
        Initial number of probe angles on ``[0, 2 pi)``.
    signed : bool
        Start with signed SRM.
    pairs : {"comb", "perm"}
        Unordered or ordered planes.
    view : "mean", "ensemble" or (int, int)
        The mean over planes with a +-1 standard deviation band, every plane as a thin line, or
        one plane ``(i, j)`` (one of the evaluated planes). The menu lists the first 500 planes
        and the starting one.
    basis_choice : {"standard", "rotated", "custom"}, optional
        Initial basis: the neurons, a Haar-random rotation (:func:`srmlib.random_rotation` with
        ``rotation_seed``), or ``basis``. Default: ``"custom"`` if ``basis`` is given, else
        ``"standard"``.
    rotation_seed : int
        Initial seed of the rotated basis (the ``"seed"`` control).
    max_planes : int, optional
        Evaluate a random subset of this many planes (drawn with ``seed``), for large ``k``.
    seed : int, optional
        Seed of the subset of planes.

    Attributes
    ----------
    controls : dict of str to ipywidgets widget
        ``"epsilon"`` (FloatSlider), ``"resolution"`` (IntSlider), ``"view"`` (Dropdown),
        ``"signed"`` (Checkbox), ``"pairs"`` (ToggleButtons), ``"basis"`` (Dropdown) and
        ``"seed"`` (BoundedIntText, the rotation seed). Setting a value redraws.
    epsilon_label : ipywidgets.Label
        Beside the slider: the cone half-angle ``arccos(epsilon)`` in degrees.
    result : SRMResult
        For the current settings, equal to :func:`srmlib.spotlight_resonance` with them.
    figure : matplotlib.figure.Figure
        That of a :class:`srmlib.plotting.SRMFigure`: the linear view (angle on the horizontal
        axis) beside the polar view (the curve around the plane, with the spotlight cone drawn at
        the curve's peak); both show the isotropic baseline (zero for signed SRM).
    widget : ipywidgets.VBox
        The controls above the rendered figure.
    last_redraw_seconds : float
        Wall time of the last update: recount, artists and PNG rendering.

    Examples
    --------
    >>> import numpy as np
    >>> from srmlib import widgets
    >>> x = np.abs(np.random.default_rng(0).standard_normal((500, 4)))
    >>> ex = widgets.SRMExplorer(x, epsilon=0.8, resolution=36)
    >>> ex.controls["epsilon"].value = 0.5
    >>> ex.result.epsilon
    0.5
    """

    def __init__(
        self,
        activations,
        basis=None,
        *,
        epsilon: float = 0.9,
        resolution: int = 180,
        signed: bool = False,
        pairs: str = "comb",
        view="mean",
        basis_choice: str | None = None,
        rotation_seed: int = 0,
        max_planes: int | None = None,
        seed: int | None = 0,
    ):
        self._activations = as_float_tensor(activations, "activations", ndim=2)
        self._n_dims = int(self._activations.shape[1])
        if self._n_dims < 2:
            raise ValueError("activations need at least 2 columns (dimensions) to span a plane")
        self._basis = basis
        epsilon = check_epsilon(epsilon)
        resolution = check_int(resolution, "resolution", minimum=1)
        signed = check_bool(signed, "signed")
        pairs = check_choice(pairs, "pairs", PAIRS)
        choices = BASIS_CHOICES if basis is not None else BASIS_CHOICES[:2]
        if basis_choice is None:
            basis_choice = "custom" if basis is not None else "standard"
        if basis_choice == "custom" and basis is None:
            raise ValueError("basis_choice='custom' needs a basis")
        basis_choice = check_choice(basis_choice, "basis_choice", choices)
        rotation_seed = check_seed(rotation_seed, "rotation_seed")
        if rotation_seed > _SEED_MAX:
            raise ValueError(f"rotation_seed must be at most {_SEED_MAX}, got {rotation_seed}")
        self._max_planes = None if max_planes is None else check_int(max_planes, "max_planes",
                                                                     minimum=1)
        self._seed = None if seed is None else check_seed(seed, "seed")
        self._projections = _Projections(self._activations)
        if basis is not None:  # validate the custom basis now, whichever basis is shown first
            self._projected("custom", rotation_seed, pairs)
        projected = self._projected(basis_choice, rotation_seed, pairs)
        view = _check_view(view, projected.planes)

        eps_min, eps_max, eps_step = _SLIDER_EPSILON
        self.controls = {
            "epsilon": ipywidgets.FloatSlider(
                value=epsilon, min=min(eps_min, epsilon), max=eps_max, step=eps_step,
                description="epsilon", readout_format=".3f", continuous_update=False,
                style={"description_width": "initial"},
                layout=ipywidgets.Layout(width="420px")),
            "resolution": ipywidgets.IntSlider(
                value=resolution, min=min(_SLIDER_RESOLUTION[0], resolution),
                max=max(_SLIDER_RESOLUTION[1], resolution), description="probe angles",
                continuous_update=False, style={"description_width": "initial"}),
            "view": ipywidgets.Dropdown(options=_view_options(projected.planes, view),
                                        value=view, description="view"),
            "signed": ipywidgets.Checkbox(value=signed, description="signed SRM", indent=False),
            "pairs": ipywidgets.ToggleButtons(
                options=[("comb (i < j)", "comb"), ("perm (i != j)", "perm")], value=pairs,
                description="planes", style={"button_width": "110px"}),
            "basis": ipywidgets.Dropdown(
                options=[(_BASIS_LABELS[c], c) for c in choices], value=basis_choice,
                description="basis"),
            "seed": ipywidgets.BoundedIntText(
                value=rotation_seed, min=0, max=_SEED_MAX, description="rotation seed",
                disabled=basis_choice != "rotated", style={"description_width": "initial"},
                layout=ipywidgets.Layout(width="200px")),
        }
        self.epsilon_label = ipywidgets.Label()
        self._progress = ipywidgets.Output()
        self._image = ipywidgets.Image(format="png")
        self._drawing = SRMFigure(figsize=_SRM_FIGSIZE, dpi=_WIDGET_DPI)
        self.figure = self._drawing.figure
        c = self.controls
        self.widget = ipywidgets.VBox([
            ipywidgets.HBox([c["epsilon"], self.epsilon_label]),
            ipywidgets.HBox([c["resolution"], c["signed"]]),
            ipywidgets.HBox([c["view"], c["basis"], c["seed"]]),
            c["pairs"],
            self._progress,
            self._image,
        ])
        self._quiet = False
        for name in ("epsilon", "resolution", "view", "signed"):
            c[name].observe(self._on_count_change, names="value")
        for name in ("pairs", "basis", "seed"):
            c[name].observe(self._on_projection_change, names="value")
        self.last_redraw_seconds = math.nan
        self._redraw()

    @property
    def result(self) -> SRMResult:
        """The :class:`~srmlib.SRMResult` for the current settings."""
        return self._result

    def _ipython_display_(self):
        display(self.widget)

    def _projected(self, choice: str, rotation_seed: int, pairs: str) -> ProjectedActivations:
        """The projections for a basis choice, from the cache or computed (and cached)."""
        key = (choice, rotation_seed if choice == "rotated" else None, pairs)

        def basis():
            if choice == "rotated":
                return random_rotation(self._n_dims, rotation_seed)
            return self._basis if choice == "custom" else None

        return self._projections.get(key, basis, pairs=pairs, max_planes=self._max_planes,
                                     seed=self._seed)

    def _on_count_change(self, change):
        if not self._quiet:
            self._redraw()

    def _on_projection_change(self, change):
        c = self.controls
        c["seed"].disabled = c["basis"].value != "rotated"
        if change["owner"] is c["seed"] and c["basis"].value != "rotated":
            return  # the seed only matters for the rotated basis
        projected = self._projected(c["basis"].value, c["seed"].value, c["pairs"].value)
        view = c["view"].value
        if not isinstance(view, str) and not _has_plane(projected.planes, view):
            view = "mean"
        self._quiet = True
        try:
            c["view"].options = _view_options(projected.planes, view)
            c["view"].value = view
        finally:
            self._quiet = False
        self._redraw()

    def _redraw(self):
        start = time.perf_counter()
        c = self.controls
        projected = self._projected(c["basis"].value, c["seed"].value, c["pairs"].value)
        with self._progress:  # tqdm.auto shows here for large work
            self._result = projected.spotlight_resonance(
                epsilon=c["epsilon"].value, resolution=c["resolution"].value,
                signed=c["signed"].value)
        if self._progress.outputs:
            self._progress.clear_output()
        self.epsilon_label.value = f"cone half-angle {_degrees(self._result.epsilon):.1f}°"
        self._drawing.update(self._result, c["view"].value, basis=c["basis"].value)
        self._image.value = _png(self.figure)
        self.last_redraw_seconds = time.perf_counter() - start


_BASIS_LABELS = {
    "standard": "standard (neurons)",
    "rotated": "rotated (random, seed)",
    "custom": "custom (given)",
}


# --------------------------------------------------------------------------- PPPM explorer


class PPPMExplorer:
    """PPPM with sliders: the samples near one plane, projected into it, as ``epsilon`` moves.

    Chapter 2 ("SRM in practice: choosing the resolution") uses it.

    Parameters
    ----------
    activations : array_like or torch.Tensor, shape (n, d)
        One sample per row.
    basis : array_like, shape (k, d), optional
        Privileged basis, one vector per row. Default: the standard (neuron) basis.
    epsilon : float
        Initial threshold: samples within ``arccos(epsilon)`` of the plane are shown.
    plane : (int, int)
        Initial basis index pair ``(i, j)``, ``i != j``.
    kind : {"scatter", "hexbin"}
        One dot per sample, or counts per hexagonal bin.

    Attributes
    ----------
    controls : dict of str to ipywidgets widget
        ``"epsilon"`` (FloatSlider), ``"plane"`` (Dropdown of the first 500 planes ``i < j``
        and the starting one) and ``"kind"`` (ToggleButtons).
    epsilon_label : ipywidgets.Label
        The angular distance ``arccos(epsilon)`` in degrees.
    result : PPPMResult
        For the shown plane only (``planes`` is ``[(i, j)]``); its ``in_plane(i, j)`` equals that
        of :func:`srmlib.pppm` over all planes.
    figure : matplotlib.figure.Figure
        That of a :class:`srmlib.plotting.PPPMFigure` (:func:`srmlib.plotting.plot_pppm`).
    widget : ipywidgets.VBox
    last_redraw_seconds : float
    """

    def __init__(self, activations, basis=None, *, epsilon: float = 0.9, plane=(0, 1),
                 kind: str = "scatter"):
        self._activations = as_float_tensor(activations, "activations", ndim=2)
        self._basis = basis
        epsilon = check_epsilon(epsilon)
        kind = check_choice(kind, "kind", KINDS)
        plane = check_plane(plane)
        self._projections = _Projections(self._activations)
        projected = self._projected(plane)  # validates the activations, basis and plane
        all_planes = np.array([(i, j) for i in range(projected.basis_size)
                               for j in range(i + 1, projected.basis_size)], dtype=np.int64)
        eps_min, eps_max, eps_step = _SLIDER_EPSILON
        self.controls = {
            "epsilon": ipywidgets.FloatSlider(
                value=epsilon, min=min(eps_min, epsilon), max=eps_max, step=eps_step,
                description="epsilon", readout_format=".3f", continuous_update=False,
                layout=ipywidgets.Layout(width="420px")),
            "plane": ipywidgets.Dropdown(options=_plane_options(all_planes, plane), value=plane,
                                         description="plane"),
            "kind": ipywidgets.ToggleButtons(options=list(KINDS), value=kind, description="kind"),
        }
        self.epsilon_label = ipywidgets.Label()
        self._image = ipywidgets.Image(format="png")
        self._drawing = PPPMFigure(figsize=_PPPM_FIGSIZE, dpi=_WIDGET_DPI)
        self.figure = self._drawing.figure
        c = self.controls
        self.widget = ipywidgets.VBox([ipywidgets.HBox([c["epsilon"], self.epsilon_label]),
                                       ipywidgets.HBox([c["plane"], c["kind"]]), self._image])
        for control in c.values():
            control.observe(self._redraw, names="value")
        self.last_redraw_seconds = math.nan
        self._redraw()

    @property
    def result(self) -> PPPMResult:
        """The :class:`~srmlib.PPPMResult` of the shown plane at the current ``epsilon``."""
        return self._result

    def _ipython_display_(self):
        display(self.widget)

    def _projected(self, plane) -> ProjectedActivations:
        return self._projections.get(plane, lambda: self._basis, planes=[plane])

    def _redraw(self, change=None):
        start = time.perf_counter()
        c = self.controls
        plane = c["plane"].value
        projected = self._projected(plane)
        self._result = projected.pppm(epsilon=c["epsilon"].value)
        self.epsilon_label.value = (f"within {_degrees(self._result.epsilon):.1f}° of the plane "
                                    f"({len(self._result.coords)} samples)")
        self._drawing.update(self._result, plane, kind=c["kind"].value,
                             basis_angle=_basis_angle(projected, plane))
        self._image.value = _png(self.figure)
        self.last_redraw_seconds = time.perf_counter() - start


# --------------------------------------------------------------------------- animations


def epsilon_animation(
    activations,
    basis=None,
    *,
    epsilons=None,
    resolution: int = 180,
    view="mean",
    signed: bool = False,
    pairs: str = "comb",
    max_planes: int | None = None,
    seed: int | None = 0,
    fps: float = _ANIMATION_FPS,
    dpi: int = _ANIMATION_DPI,
) -> HTML:
    """The :class:`SRMExplorer` picture for a sweep of ``epsilon``, as a kernel-free HTML player.

    Chapter 2 ("SRM in practice: choosing the resolution") shows it where no kernel runs (the
    book's website). The frames are PNG images embedded in the HTML (about 70 kB each at the
    default size: about 1.3 MB for the 18 default frames), played by matplotlib's JavaScript
    player with a range slider and made to work offline (no icon font from a CDN); each frame's
    title states ``epsilon`` and the cone half-angle. The activations are projected once.

    Parameters
    ----------
    activations : array_like or torch.Tensor, shape (n, d)
    basis : array_like, shape (k, d), optional
        Privileged basis; default the standard basis.
    epsilons : array_like, shape (F,), optional
        One frame per value, each in ``(-1, 1]``. Default: 18 values from 0.3 to 0.98.
    resolution : int
        Number of probe angles.
    view : "mean", "ensemble" or (int, int)
        As in :class:`SRMExplorer`.
    signed : bool
        Signed SRM.
    pairs : {"comb", "perm"}
    max_planes : int, optional
        A random subset of planes, drawn with ``seed``.
    seed : int, optional
        Seed of the subset of planes.
    fps : float
        Frames per second when playing.
    dpi : int
        Dots per inch of the frames (the figure is 8.4 x 3.8 inches); size grows with its square.

    Returns
    -------
    IPython.display.HTML
        The player; no figure is left open.
    """
    values = _check_epsilons(epsilons)
    resolution = check_int(resolution, "resolution", minimum=1)
    signed = check_bool(signed, "signed")
    fps, dpi = _check_playback(fps, dpi)
    projected = project(activations, basis, pairs=pairs, max_planes=max_planes, seed=seed)
    view = _check_view(view, projected.planes)
    show = projected.n_samples * len(projected.planes) * len(values) >= PROGRESS_WORK
    results = [projected.spotlight_resonance(epsilon=e, resolution=resolution, signed=signed,
                                             progress=False)
               for e in tqdm(values, desc="epsilon frames", disable=not show)]
    drawing = SRMFigure(figsize=_ANIMATION_SRM_FIGSIZE, dpi=dpi)
    name = "custom" if basis is not None else "standard"
    return animate(drawing.figure, len(results),
                   lambda k: drawing.update(results[k], view, basis=name), fps)


def pppm_animation(
    activations,
    basis=None,
    *,
    epsilons=None,
    plane=(0, 1),
    kind: str = "scatter",
    fps: float = _ANIMATION_FPS,
    dpi: int = _ANIMATION_DPI,
) -> HTML:
    """The :class:`PPPMExplorer` picture for a sweep of ``epsilon``, as a kernel-free HTML player.

    Chapter 2 ("SRM in practice: choosing the resolution") shows it on the website. All frames
    share one square extent (that of the smallest ``epsilon``, which keeps the most samples), so
    the points do not jump as the frames change.

    Parameters
    ----------
    activations : array_like or torch.Tensor, shape (n, d)
    basis : array_like, shape (k, d), optional
    epsilons : array_like, shape (F,), optional
        One frame per value, each in ``(-1, 1]``. Default: 18 values from 0.3 to 0.98.
    plane : (int, int)
        Basis index pair ``(i, j)``.
    kind : {"scatter", "hexbin"}
    fps : float
        Frames per second when playing.
    dpi : int
        Dots per inch of the frames (the figure is 4.8 x 4.4 inches; about 0.5 MB in all for the
        18 default frames).

    Returns
    -------
    IPython.display.HTML
    """
    values = _check_epsilons(epsilons)
    kind = check_choice(kind, "kind", KINDS)
    plane = check_plane(plane)
    fps, dpi = _check_playback(fps, dpi)
    projected = project(activations, basis, planes=[plane])
    results = [projected.pppm(epsilon=e) for e in values]
    coords = results[int(np.argmin(values))].coords
    extent = 1.1 * float(np.abs(coords).max()) if len(coords) else 1.0
    drawing = PPPMFigure(figsize=_ANIMATION_PPPM_FIGSIZE, dpi=dpi)
    basis_angle = _basis_angle(projected, plane)
    return animate(drawing.figure, len(results),
                   lambda k: drawing.update(results[k], plane, kind=kind, basis_angle=basis_angle,
                                            extent=extent), fps)


# --------------------------------------------------------------------------- helpers


class _Projections:
    """The activations projected onto a basis (:func:`srmlib.project`), the last few kept by key.

    A warning about zero rows is shown for the first projection only, not for every new basis.
    """

    def __init__(self, activations):
        self._activations = activations
        self._cache: OrderedDict[Hashable, ProjectedActivations] = OrderedDict()

    def get(self, key: Hashable, basis: Callable, **options) -> ProjectedActivations:
        """The projection for ``key``; on a miss, onto ``basis()`` with ``options``."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        with warnings.catch_warnings():
            if self._cache:
                warnings.simplefilter("ignore")
            projected = project(self._activations, basis(), **options)
        self._cache[key] = projected
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return projected


def _degrees(epsilon: float) -> float:
    return math.degrees(math.acos(epsilon))


def _basis_angle(projected: ProjectedActivations, plane) -> float:
    """Angle between the basis vectors ``b_i`` and ``b_j`` of ``plane``, in radians."""
    i, j = plane
    return math.acos(float(np.clip(projected.gram[i, j].item(), -1.0, 1.0)))


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _has_plane(planes: np.ndarray, pair) -> bool:
    return bool(np.any((planes[:, 0] == pair[0]) & (planes[:, 1] == pair[1])))


def _check_view(view, planes: np.ndarray):
    """``"mean"``, ``"ensemble"``, or a plane ``(i, j)`` among ``planes``, as a tuple of ints."""
    if isinstance(view, str):
        return check_choice(view, "view", VIEWS)
    try:
        pair = check_plane(view, "view")
    except TypeError:
        raise TypeError(
            f"view must be 'mean', 'ensemble' or a plane (i, j), got {view!r}") from None
    if not _has_plane(planes, pair):
        raise ValueError(f"view: plane {pair} is not among the {len(planes)} evaluated planes")
    return pair


def _plane_options(planes: np.ndarray, keep) -> list:
    """Menu entries for the first planes (and ``keep`` if it is a plane beyond them)."""
    pairs = [(int(i), int(j)) for i, j in planes[:_MAX_PLANE_OPTIONS]]
    if not isinstance(keep, str) and keep not in pairs:
        pairs.append(tuple(keep))
    return [(f"plane ({i}, {j})", (i, j)) for i, j in pairs]


def _view_options(planes: np.ndarray, keep) -> list:
    return ([("mean +- std over planes", "mean"), ("every plane (ensemble)", "ensemble")]
            + _plane_options(planes, keep))


def _check_epsilons(epsilons) -> np.ndarray:
    if epsilons is None:
        return np.round(np.linspace(0.3, 0.98, _ANIMATION_FRAMES), 3)
    values = as_float_tensor(epsilons, "epsilons", ndim=1).cpu().numpy().astype(np.float64)
    bad = values[(values <= -1.0) | (values > 1.0)]
    if bad.size:
        raise ValueError(f"epsilons must each satisfy -1 < epsilon <= 1, got {bad[0]}")
    return values


def _check_playback(fps, dpi) -> tuple[float, int]:
    """Checked before any frame is computed (:func:`srmlib.plotting.animate` checks again)."""
    return check_real_in(fps, "fps", 0, low_open=True), check_int(dpi, "dpi", minimum=10)
