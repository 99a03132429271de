"""Figures for chapter 2's explorers and animations, redrawn in place as ``epsilon`` moves.

:class:`SRMFigure` shows an :class:`~srmlib.SRMResult` in a linear and a polar view side by
side; :class:`PPPMFigure` redraws :func:`~srmlib.plotting.plot_pppm` in a figure of its own. Both
build their :class:`~matplotlib.figure.Figure` without pyplot (so the inline backend never shows
a stray static copy) and with fixed margins: a layout engine would cost a second pass over every
text per redraw. :mod:`srmlib.widgets` puts them behind sliders, and
:func:`~srmlib.plotting.animate` turns a sweep of them into a kernel-free player.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure, SubplotParams
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from matplotlib.ticker import MaxNLocator

from .._validation import check_choice, check_int, check_plane
from ..srm import PPPMResult, SRMResult
from ._style import (
    _ANGLE_LABEL,
    BASELINE_COLOR,
    OKABE_ITO,
    PALETTE,
    TWO_PI,
    _baseline_label,
    _check_srm,
    _closed_curves,
    _ensemble_alpha,
    _ensemble_handle,
    _legend_below,
    _light_style,
    _new_axes,
    _srm_ylabel,
    set_angle_ticks,
)
from .srm import plot_pppm

__all__ = ["PPPMFigure", "SRMFigure", "VIEWS"]

#: The views of :meth:`SRMFigure.update` besides a single plane ``(i, j)``.
VIEWS = ("mean", "ensemble")

# Margins (fractions of the figure): room for the titles and, in the SRM figure, the legend below.
_SRM_LAYOUT = dict(left=0.08, right=0.97, top=0.78, bottom=0.3, wspace=0.25)
_PPPM_LAYOUT = dict(left=0.15, right=0.95, top=0.86, bottom=0.12)
# Points along the rim of the spotlight cone drawn on the polar view.
_SPOTLIGHT_POINTS = 64
_SPOTLIGHT_COLOR = OKABE_ITO["orange"]


class SRMFigure:
    """The linear and polar views of an :class:`~srmlib.SRMResult`, redrawn in place.

    The linear view has the probe angle on the horizontal axis; the polar view draws the same
    curve around the plane, with the spotlight cone at the curve's peak. Both show the isotropic
    baseline (zero for signed SRM). Chapter 2 ("SRM in practice: choosing the resolution") shows
    it through :class:`srmlib.widgets.SRMExplorer` and :func:`srmlib.widgets.epsilon_animation`.

    Parameters
    ----------
    figsize : (float, float)
        Figure size in inches.
    dpi : int
        Dots per inch.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        With an Agg canvas of its own, so text measurements stay cached between redraws.
    linear, polar : matplotlib.axes.Axes
        The two views. Their artists carry a ``gid``: ``"curve"`` (the mean or one plane),
        ``"band"`` (+-1 standard deviation over planes), ``"planes"`` (a LineCollection of every
        plane), ``"baseline"`` and, on the polar axes, ``"spotlight"``. Only those the view
        needs are visible.

    Examples
    --------
    >>> import numpy as np, srmlib
    >>> x = np.maximum(np.random.default_rng(0).standard_normal((500, 4)), 0)
    >>> fig = SRMFigure()
    >>> fig.update(srmlib.spotlight_resonance(x, epsilon=0.8, resolution=36), "ensemble")
    """

    def __init__(self, *, figsize=(10.0, 4.0), dpi: int = 90):
        dpi = check_int(dpi, "dpi", minimum=10)
        with _light_style():
            fig = Figure(figsize=figsize, dpi=dpi)
            grid = fig.add_gridspec(1, 2, width_ratios=(1.6, 1.0), **_SRM_LAYOUT)
            self.linear = _new_axes(fig.add_subplot(grid[0]))
            self.polar = _new_axes(fig.add_subplot(grid[1], projection="polar"), polar=True)
            color = PALETTE[0]
            self._artists = {}
            for name, ax in (("linear", self.linear), ("polar", self.polar)):
                planes = LineCollection([], color=color, linewidth=0.8, gid="planes")
                ax.add_collection(planes, autolim=False)
                curve, = ax.plot([], [], color=color, linewidth=2.0, gid="curve")
                baseline, = ax.plot([], [], color=BASELINE_COLOR, linestyle="--",
                                    linewidth=1.4, gid="baseline")
                self._artists[name] = {"planes": planes, "curve": curve, "baseline": baseline,
                                       "band": None}
            self._spotlight = Polygon(np.zeros((3, 2)), closed=True, alpha=0.25, linewidth=0,
                                      color=_SPOTLIGHT_COLOR, gid="spotlight")
            self.polar.add_patch(self._spotlight)
            set_angle_ticks(self.linear)
            self.linear.set_xlabel(_ANGLE_LABEL)
            set_angle_ticks(self.polar)
            self.polar.set_rlabel_position(202.5)
            self.polar.yaxis.set_major_locator(MaxNLocator(3))
            self.polar.tick_params(axis="y", labelsize="small")
            self.polar.set_xlabel("radius: SRM (fraction of samples)")
            # titles at fixed heights: placing them automatically measures every tick label
            self.polar.set_title("the same around the plane", fontsize="medium", y=1.14)
            self._legend = None
            self.polar.set_autoscale_on(False)
            self.linear.set_autoscale_on(False)
        FigureCanvasAgg(fig)
        self.figure = fig

    def update(self, result: SRMResult, view="mean", *, basis: str | None = None) -> None:
        """Show ``result`` in ``view``.

        Parameters
        ----------
        result : SRMResult
        view : "mean", "ensemble" or (int, int)
            The mean over planes with a +-1 standard deviation band, every plane as a thin
            line, or one plane ``(i, j)`` of ``result.planes``.
        basis : str, optional
            Name of the basis, for the title ("standard", "rotated", ...).
        """
        result = _check_srm(result)
        if isinstance(view, str):
            view = check_choice(view, "view", VIEWS)
        else:
            view = check_plane(view, "view")
        with _light_style():
            self._update(result, view, basis)

    def _update(self, result: SRMResult, view, basis):
        angles, values = _closed_curves(result.angles, result.values)
        baseline = result.isotropic_baseline
        if view == "ensemble":
            curve, shown, what = None, values, f"every plane ({len(values)})"
        elif view == "mean":
            _, (mean, std) = _closed_curves(result.angles, np.stack([result.mean(), result.std()]))
            curve, shown, what = mean, np.stack([mean - std, mean + std]), "mean over planes"
        else:
            i, j = view
            _, (curve,) = _closed_curves(result.angles, result.plane(i, j)[None])
            shown, what = curve[None], f"plane ({i}, {j})"
        low = min(float(shown.min()), baseline)
        high = max(float(shown.max()), baseline, 1e-12)
        if result.signed:
            high = max(abs(low), high)
            limits = (-1.08 * high, 1.08 * high)
        else:
            limits = (0.0, 1.08 * high)
        segments = np.stack([np.broadcast_to(angles, values.shape), values], axis=2)
        color = PALETTE[0]
        for name, ax in (("linear", self.linear), ("polar", self.polar)):
            art = self._artists[name]
            art["planes"].set_segments(segments if view == "ensemble" else [])
            art["planes"].set_alpha(_ensemble_alpha(len(values)))
            art["planes"].set_visible(view == "ensemble")
            art["curve"].set_visible(curve is not None)
            if curve is not None:
                art["curve"].set_data(angles, curve)
            if art["band"] is not None:
                art["band"].remove()
                art["band"] = None
            if view == "mean":
                art["band"] = ax.fill_between(angles, shown[0], shown[1], color=color, alpha=0.25,
                                              linewidth=0, gid="band")
            ring = np.linspace(0.0, TWO_PI, 361) if name == "polar" else angles[[0, -1]]
            art["baseline"].set_data(ring, np.full(len(ring), baseline))
            ax.set_ylim(*limits)
        self.linear.set_ylabel(_srm_ylabel(result))
        self.linear.set_title(f"SRM against the probe angle: {what}", fontsize="medium", y=1.0)
        peak = float(angles[np.argmax(curve if curve is not None else values.mean(axis=0))])
        half = result.cone_half_angle
        arc = np.linspace(peak - half, peak + half, _SPOTLIGHT_POINTS)
        self._spotlight.set_xy(np.concatenate([
            [[peak - half, limits[0]]], np.column_stack([arc, np.full_like(arc, limits[1])]),
            [[peak + half, limits[0]]]]))
        legend = (view if isinstance(view, str) else what, result.signed, len(values))
        if legend != self._legend:  # a new legend only when its entries change
            self._legend = legend
            handles = {
                "mean": [Patch(color=color, alpha=0.25, label="mean ± 1 std over planes"),
                         Line2D([], [], color=color, linewidth=2.0, label="mean over planes")],
                "ensemble": [_ensemble_handle(color, len(values))],
            }.get(view, [Line2D([], [], color=color, linewidth=2.0, label=what)])
            handles.append(Line2D([], [], color=BASELINE_COLOR, linestyle="--",
                                  label=_baseline_label(result)))
            handles.append(Patch(color=_SPOTLIGHT_COLOR, alpha=0.25,
                                 label="spotlight cone (polar view), at the peak"))
            _legend_below(self.linear, handles=handles, offset=-0.2)
        kind = "Signed SRM" if result.signed else "SRM"
        on = f", {basis} basis" if basis is not None else ""
        # plain text (no mathtext): parsing a new formula at every epsilon costs tens of ms
        self.figure.suptitle(
            f"{kind}, {len(result.planes)} planes ({result.pairs}){on}: ε = "
            f"{result.epsilon:.3f}, cone half-angle {math.degrees(half):.1f}° "
            f"({half:.2f} rad)", y=0.985)


class PPPMFigure:
    """:func:`~srmlib.plotting.plot_pppm` in a figure of its own, redrawn for each result.

    Chapter 2 ("SRM in practice: choosing the resolution") shows it through
    :class:`srmlib.widgets.PPPMExplorer` and :func:`srmlib.widgets.pppm_animation`. A hexbin
    cannot be updated in place, so each :meth:`update` clears the figure and draws anew.

    Parameters
    ----------
    figsize : (float, float)
        Figure size in inches.
    dpi : int
        Dots per inch.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    """

    def __init__(self, *, figsize=(5.6, 5.0), dpi: int = 90):
        dpi = check_int(dpi, "dpi", minimum=10)
        with _light_style():
            self.figure = Figure(figsize=figsize, dpi=dpi,
                                 subplotpars=SubplotParams(**_PPPM_LAYOUT))
        FigureCanvasAgg(self.figure)

    def update(self, result: PPPMResult, plane, *, kind: str = "scatter",
               basis_angle: float = math.pi / 2, extent: float | None = None) -> None:
        """Draw the samples of ``result`` near ``plane``, titled with ``epsilon``.

        Parameters are those of :func:`~srmlib.plotting.plot_pppm`: ``plane`` ``(i, j)``,
        ``kind`` ("scatter" or "hexbin"), ``basis_angle`` (the angle of ``b_j`` from ``b_i`` in
        radians) and ``extent`` (half-width of the square shown; fix it to keep the points from
        jumping between frames).
        """
        i, j = check_plane(plane)
        if not isinstance(result, PPPMResult):
            raise TypeError(f"result must be a PPPMResult, got {type(result).__name__}")
        half = math.acos(result.epsilon)
        with _light_style():
            self.figure.clear()
            ax = self.figure.add_subplot()
        plot_pppm(result, (i, j), ax, kind=kind, basis_angle=basis_angle, extent=extent,
                  title=f"PPPM, plane ({i}, {j}): ε = {result.epsilon:.3f}\nsamples within "
                        f"{math.degrees(half):.1f}° ({half:.2f} rad) of the plane")
