"""Shared style, palette and axes helpers for every figure module."""

from __future__ import annotations

import contextlib
import functools
import math

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from ..srm import SRMResult

TWO_PI = 2.0 * math.pi

#: The Okabe-Ito colour-blind-friendly palette (Okabe & Ito, 2008).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
#: Order in which series take colours (yellow last: it is faint on white).
PALETTE = tuple(OKABE_ITO[c] for c in
                ("blue", "orange", "green", "vermillion", "purple", "sky_blue", "black", "yellow"))
BASELINE_COLOR = OKABE_ITO["black"]

# Light, opaque style applied while a figure is drawn, whatever the user's own style is.
_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "axes.edgecolor": "black",
    "axes.labelcolor": "black",
    "text.color": "black",
    "xtick.color": "black",
    "ytick.color": "black",
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.framealpha": 0.9,
    "legend.facecolor": "white",
}
_FIGSIZE = (7.0, 3.8)

_PI_TICKS = (0.0, math.pi / 2, math.pi, 1.5 * math.pi, TWO_PI)
_PI_LABELS = (r"$0$", r"$\pi/2$", r"$\pi$", r"$3\pi/2$", r"$2\pi$")
_ANGLE_LABEL = r"probe angle $\theta$ (rad)"


@contextlib.contextmanager
def _light_style():
    """Set the book's style keys for the duration of a figure function, then restore them.

    Only the keys of ``_STYLE`` are saved and restored. (``matplotlib.rc_context`` would restore
    every rcParam, including ``interactive``, which the Jupyter inline backend turns on when the
    first figure resolves the backend; resetting it stops later figures from being displayed.)
    """
    saved = {key: mpl.rcParams[key] for key in _STYLE}
    mpl.rcParams.update(_STYLE)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


def _styled(function):
    """Run a figure function inside the book's light style."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with _light_style():
            return function(*args, **kwargs)

    return wrapper


def set_angle_ticks(ax: Axes, axis: str = "x") -> Axes:
    """Put an angle axis on ``[0, 2 pi]`` with ticks at ``0, pi/2, pi, 3pi/2, 2pi``.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        A Cartesian axes (the angle on ``axis``) or a polar axes (the angular grid).
    axis : {"x", "y"}
        Which Cartesian axis holds the angle; ignored for polar axes.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _check_ax(ax)
    if ax.name == "polar":
        ax.set_xticks(_PI_TICKS[:-1], _PI_LABELS[:-1])
        return ax
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    if axis == "x":
        ax.set_xticks(_PI_TICKS, _PI_LABELS)
        ax.set_xlim(0.0, TWO_PI)
    else:
        ax.set_yticks(_PI_TICKS, _PI_LABELS)
        ax.set_ylim(0.0, TWO_PI)
    return ax


# --------------------------------------------------------------------------- internals


def _check_ax(ax) -> Axes:
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def _new_axes(ax, *, polar: bool = False, figsize=_FIGSIZE) -> Axes:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained",
                               subplot_kw={"projection": "polar"} if polar else None)
    else:
        _check_ax(ax)
        if polar and ax.name != "polar":
            raise ValueError("ax must be a polar Axes (subplot_kw={'projection': 'polar'})")
        if not polar and ax.name == "polar":
            raise ValueError("ax must be a Cartesian Axes, got a polar one")
    ax.figure.set_facecolor("white")
    ax.figure.patch.set_alpha(1.0)
    ax.set_facecolor("white")
    return ax


def _check_srm(result, name: str = "result") -> SRMResult:
    if not isinstance(result, SRMResult):
        raise TypeError(f"{name} must be an SRMResult, got {type(result).__name__}")
    return result


def _check_quantiles(spread) -> np.ndarray:
    try:
        q = np.asarray(spread, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"spread must be 'minmax' or a pair of quantiles, got {spread!r}") from None
    if q.shape != (2,) or not np.all(np.isfinite(q)) or q[0] < 0 or q[1] > 1 or q[0] >= q[1]:
        raise ValueError(f"spread quantiles must satisfy 0 <= low < high <= 1, got {spread!r}")
    return q


def _closed_curves(angles: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort angles onto ``[0, 2 pi)`` and repeat the first point at ``+2 pi`` to close the loop."""
    wrapped = np.mod(angles, TWO_PI)
    order = np.argsort(wrapped, kind="stable")
    wrapped, values = wrapped[order], values[:, order]
    return np.append(wrapped, wrapped[0] + TWO_PI), np.concatenate([values, values[:, :1]], axis=1)


def _baseline_label(result: SRMResult) -> str:
    return "zero (signed SRM)" if result.signed else "isotropic baseline"


def _baseline(ax: Axes, result: SRMResult) -> Line2D:
    return ax.axhline(result.isotropic_baseline, color=BASELINE_COLOR, linestyle="--",
                      linewidth=1.4, label=_baseline_label(result))


def _srm_ylabel(result: SRMResult) -> str:
    return ("signed SRM (fraction of samples)" if result.signed
            else "SRM (fraction of samples in the cone)")


def _srm_axes(ax: Axes, result: SRMResult) -> None:
    set_angle_ticks(ax)
    ax.set_xlabel(_ANGLE_LABEL)
    ax.set_ylabel(_srm_ylabel(result))


def _ensemble_alpha(n_lines: int) -> float:
    """Opacity of each of ``n_lines`` overlaid curves: where many agree they pile up into a dark
    band, and a lone one stays visible (from 0.8 for one line down to 0.08 from about 1000)."""
    return float(np.clip(2.5 / math.sqrt(n_lines), 0.08, 0.8))


def _ensemble_handle(color, n_lines: int) -> Line2D:
    """The legend entry of an ensemble of ``n_lines`` curves, opaque enough to be read."""
    return Line2D([], [], color=color, alpha=max(_ensemble_alpha(n_lines), 0.5), linewidth=0.8,
                  label=f"one line per plane ({n_lines})")


def _legend_below(ax: Axes, *, handles=None, offset: float = -0.2) -> None:
    """A legend under the axes, where it never hides a curve."""
    kwargs = {} if handles is None else {"handles": handles}
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, offset), ncol=2, fontsize="small",
              **kwargs)


def _describe(result: SRMResult) -> str:
    kind = "signed, " if result.signed else ""
    return rf"{kind}{len(result.planes)} planes, $\epsilon$ = {result.epsilon:.2f}"


def _arrow(ax: Axes, angle: float, label: str, color, *, width: float = 1.6,
           style: str = "solid") -> None:
    tip = np.array([math.cos(angle), math.sin(angle)])
    ax.add_patch(FancyArrowPatch((0, 0), tip, arrowstyle="-|>", mutation_scale=14, color=color,
                                 linewidth=width, linestyle=style))
    ax.annotate(label, 1.15 * tip, color=color, ha="center", va="center", fontsize="large")


