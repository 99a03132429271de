"""Figures for chapters 1 and 2: SRM curves, PPPM, the cone, baselines and their noise."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Arc, Wedge

from .._validation import (check_bool, check_epsilon, check_int, check_plane, check_real,
                           check_real_in)
from ..srm import (
    PPPMResult,
    SRMResult,
    epsilon_for_isotropic_fraction,
    isotropic_expectation,
)
from ..stats import RotationTest, baseline_relative_error, wilson_interval
from ._style import (
    _ANGLE_LABEL,
    _PI_LABELS,
    _PI_TICKS,
    BASELINE_COLOR,
    OKABE_ITO,
    PALETTE,
    TWO_PI,
    _arrow,
    _baseline,
    _check_quantiles,
    _check_srm,
    _closed_curves,
    _describe,
    _ensemble_alpha,
    _ensemble_handle,
    _legend_below,
    _new_axes,
    _srm_axes,
    _styled,
    set_angle_ticks,
)


@_styled
def plot_srm_ensemble(
    result: SRMResult,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    color: str | None = None,
    baseline: bool = True,
) -> Axes:
    """Every plane's SRM curve as a thin translucent line, with the isotropic baseline.

    Where many planes agree the lines pile up into a dark band; a lone plane stands out as a
    faint line. The dashed black line is what uniformly random directions would give.

    Parameters
    ----------
    result : SRMResult
        From :func:`srmlib.spotlight_resonance`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title : str, optional
        Defaults to a description of the planes and ``epsilon``.
    color : str, optional
        Colour of the plane lines (default: Okabe-Ito blue).
    baseline : bool
        Draw the isotropic baseline (0 for signed SRM).

    Returns
    -------
    matplotlib.axes.Axes
        With one line per plane, plus one for the baseline.
    """
    result = _check_srm(result)
    ax = _new_axes(ax)
    angles, values = _closed_curves(result.angles, result.values)
    n_planes = len(result.values)
    color = PALETTE[0] if color is None else color
    alpha = _ensemble_alpha(n_planes)
    for row in values:
        ax.plot(angles, row, color=color, alpha=alpha, linewidth=0.8)
    handles = [_ensemble_handle(color, n_planes)]
    if check_bool(baseline, "baseline"):
        handles.append(_baseline(ax, result))
    _srm_axes(ax, result)
    _legend_below(ax, handles=handles)
    ax.set_title(title if title is not None else f"SRM of every plane ({_describe(result)})")
    return ax


@_styled
def plot_srm_statistics(
    result: SRMResult,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    color: str | None = None,
    spread: str | tuple[float, float] = "minmax",
) -> Axes:
    """SRM summarised over planes: mean, a +-1 standard deviation band, and the extremes.

    Parameters
    ----------
    result : SRMResult
        From :func:`srmlib.spotlight_resonance`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title : str, optional
        Defaults to a description of the planes and ``epsilon``.
    color : str, optional
        Colour of the mean and the band (default: Okabe-Ito blue).
    spread : "minmax" or (float, float)
        Dotted outer lines at the minimum and maximum over planes, or at these two quantiles
        (each in ``[0, 1]``), for example ``(0.05, 0.95)``.

    Returns
    -------
    matplotlib.axes.Axes
        Lines: the mean, the lower and upper extremes, and the isotropic baseline; the band is
        a filled area.
    """
    result = _check_srm(result)
    ax = _new_axes(ax)
    if isinstance(spread, str):
        if spread != "minmax":
            raise ValueError(f"spread must be 'minmax' or a pair of quantiles, got {spread!r}")
        low, high = result.values.min(axis=0), result.values.max(axis=0)
        spread_label = "min and max over planes"
    else:
        q = _check_quantiles(spread)
        low, high = np.quantile(result.values, q, axis=0)
        spread_label = f"{100 * q[0]:g}% and {100 * q[1]:g}% quantiles over planes"
    color = PALETTE[0] if color is None else color
    angles, (mean, std, low, high) = _closed_curves(
        result.angles, np.stack([result.mean(), result.std(), low, high])
    )
    ax.fill_between(angles, mean - std, mean + std, color=color, alpha=0.25, linewidth=0,
                    label=r"mean $\pm$ 1 std over planes")
    ax.plot(angles, mean, color=color, linewidth=2.0, label="mean over planes")
    ax.plot(angles, low, color=color, linestyle=":", linewidth=1.2, label=spread_label)
    ax.plot(angles, high, color=color, linestyle=":", linewidth=1.2)
    _baseline(ax, result)
    _srm_axes(ax, result)
    _legend_below(ax)
    ax.set_title(title if title is not None
                 else f"SRM statistics over planes ({_describe(result)})")
    return ax


@_styled
def plot_srm_comparison(
    results: Mapping[str, SRMResult],
    ax: Axes | None = None,
    *,
    title: str | None = None,
    ratio: bool = False,
) -> Axes:
    """Mean SRM curves of several results on one axes, each with its own baseline.

    Parameters
    ----------
    results : mapping of str to SRMResult
        Legend label -> result, for example the same data in two bases.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title : str, optional
        Defaults to "Mean SRM over planes".
    ratio : bool
        Plot the mean resonance ratio ``SRM / isotropic baseline`` (unsigned results only), so
        results at different ``epsilon`` or dimension share the reference line 1.

    Returns
    -------
    matplotlib.axes.Axes
        One line per result, plus one dashed line per distinct baseline.
    """
    if not isinstance(results, Mapping) or not results:
        raise TypeError("results must be a non-empty mapping of label -> SRMResult")
    for label, result in results.items():
        _check_srm(result, f"results[{label!r}]")
    ratio = check_bool(ratio, "ratio")
    ax = _new_axes(ax)
    baselines: dict[float, str] = {}
    for k, (label, result) in enumerate(results.items()):
        color = PALETTE[k % len(PALETTE)]
        curve = result.resonance_ratio().mean(axis=0) if ratio else result.mean()
        angles, (curve,) = _closed_curves(result.angles, curve[None])
        ax.plot(angles, curve, color=color, linewidth=2.0, label=label)
        level = 1.0 if ratio else result.isotropic_baseline
        baselines.setdefault(round(level, 12), color)
    for level, color in baselines.items():
        line_color = BASELINE_COLOR if len(baselines) == 1 else color
        ax.axhline(level, color=line_color, linestyle="--", linewidth=1.2,
                   label="isotropic baseline" if len(baselines) == 1 else None)
    set_angle_ticks(ax)
    ax.set_xlabel(_ANGLE_LABEL)
    ax.set_ylabel("resonance ratio (SRM / baseline)" if ratio
                  else "mean SRM (fraction of samples)")
    _legend_below(ax)
    ax.set_title(title if title is not None else "Mean SRM over planes")
    return ax


@_styled
def plot_srm_polar(
    result: SRMResult,
    plane: tuple[int, int] | None = None,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    color: str | None = None,
) -> Axes:
    """One plane's SRM (or the mean over planes) around the circle, with the baseline circle.

    The radius at angle ``theta`` is the fraction of samples in the spotlight pointing at
    ``theta``: a shape bulging outside the dashed circle means more samples there than
    isotropic data would put there.

    Parameters
    ----------
    result : SRMResult
        An unsigned result (radii cannot be negative).
    plane : (int, int), optional
        Basis index pair to show; the mean over planes when ``None``.
    ax : matplotlib.axes.Axes, optional
        A polar axes (``subplot_kw={"projection": "polar"}``); a new figure when ``None``.
    title : str, optional
        Defaults to the plane and ``epsilon``.
    color : str, optional
        Colour of the curve (default: Okabe-Ito blue).

    Returns
    -------
    matplotlib.axes.Axes
        A polar axes with two lines: the curve and the baseline circle.
    """
    result = _check_srm(result)
    if result.signed:
        raise ValueError("result must be unsigned SRM for a polar view (signed values can be "
                         "negative); use plot_srm_statistics for signed SRM")
    if plane is None:
        curve, what = result.mean(), "mean over planes"
    else:
        if (not isinstance(plane, (tuple, list, np.ndarray)) or len(plane) != 2
                or not all(isinstance(k, (int, np.integer)) for k in plane)):
            raise TypeError(f"plane must be a pair of basis indices (i, j), got {plane!r}")
        curve, what = result.plane(int(plane[0]), int(plane[1])), f"plane ({plane[0]}, {plane[1]})"
    ax = _new_axes(ax, polar=True, figsize=(5.6, 5.6))
    angles, (curve,) = _closed_curves(result.angles, curve[None])
    color = PALETTE[0] if color is None else color
    ax.plot(angles, curve, color=color, linewidth=2.0, label=f"SRM, {what}")
    ring = np.linspace(0.0, TWO_PI, 361)
    ax.plot(ring, np.full_like(ring, result.isotropic_baseline), color=BASELINE_COLOR,
            linestyle="--", linewidth=1.2, label="isotropic baseline")
    ax.set_ylim(0.0, 1.1 * max(float(curve.max()), result.isotropic_baseline, 1e-12))
    set_angle_ticks(ax)
    ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(4))
    ax.set_rlabel_position(202.5)  # radial labels between pi and 5pi/4, off the axes
    ax.set_xlabel(r"probe angle $\theta$ (rad); radius: fraction of samples")
    _legend_below(ax, offset=-0.16)
    ax.set_title(title if title is not None
                 else rf"SRM around the circle, {what} ($\epsilon$ = {result.epsilon:.2f})")
    return ax


@_styled
def plot_isotropic_expectation(
    n_dims: Iterable[int],
    ax: Axes | None = None,
    *,
    fraction: float | None = None,
    log: bool = True,
    title: str | None = None,
) -> Axes:
    """The isotropic baseline against ``epsilon`` for several dimensions.

    Parameters
    ----------
    n_dims : iterable of int
        Dimensions to draw (each at least 2), one curve each.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    fraction : float, optional
        Also draw this isotropic fraction as a horizontal line and mark, on each curve, the
        ``epsilon`` that gives it (:func:`srmlib.epsilon_for_isotropic_fraction`).
    log : bool
        Logarithmic vertical axis (the baseline spans many orders of magnitude).
    title : str, optional
        Defaults to "Isotropic baseline against epsilon".

    Returns
    -------
    matplotlib.axes.Axes
        One line per dimension, plus one for ``fraction`` when given. A secondary axis on top
        shows the cone half-angle ``arccos(epsilon)`` in radians.
    """
    if isinstance(n_dims, (str, bytes)) or not isinstance(n_dims, Iterable):
        raise TypeError(f"n_dims must be an iterable of integers, got {type(n_dims).__name__}")
    dims = [check_int(d, "n_dims", minimum=2) for d in n_dims]
    if not dims:
        raise ValueError("n_dims must contain at least one dimension")
    if fraction is not None:
        fraction = check_real_in(fraction, "fraction", 0, 1, low_open=True, high_open=True)
    log = check_bool(log, "log")
    ax = _new_axes(ax)
    eps = np.linspace(-1.0, 1.0, 801)
    floor = 1e-8
    for k, d in enumerate(dims):
        color = PALETTE[k % len(PALETTE)]
        ax.plot(eps, np.maximum(isotropic_expectation(d, eps), floor), color=color,
                linewidth=2.0, label=f"d = {d}")
        if fraction is not None:
            ax.plot([epsilon_for_isotropic_fraction(d, fraction)], [fraction], marker="o",
                    color=color, markeredgecolor="black", linestyle="none")
    if fraction is not None:
        ax.axhline(fraction, color=BASELINE_COLOR, linestyle="--", linewidth=1.2,
                   label=f"isotropic fraction {fraction:g}")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(1e-6, 1.5)
    else:
        ax.set_ylim(0.0, 1.02)
    ax.set_xlim(-1.0, 1.0)
    ax.set_xlabel(r"$\epsilon$, cosine of the cone half-angle (dimensionless)")
    ax.set_ylabel("fraction of random directions\nin the cone (isotropic baseline)")
    top = ax.secondary_xaxis(
        "top", functions=(lambda e: np.arccos(np.clip(e, -1.0, 1.0)), np.cos)
    )
    top.set_xticks(_PI_TICKS[:3], _PI_LABELS[:3])
    top.set_xlabel(r"cone half-angle $\arccos\epsilon$ (rad)")
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(title if title is not None else r"Isotropic baseline against $\epsilon$")
    return ax


@_styled
def plot_pppm(
    result: PPPMResult,
    plane: tuple[int, int],
    ax: Axes | None = None,
    *,
    kind: str = "scatter",
    normalise: bool = False,
    basis_angle: float = math.pi / 2,
    title: str | None = None,
    extent: float | None = None,
) -> Axes:
    """PPPM: the samples lying near one plane, projected into it.

    Parameters
    ----------
    result : PPPMResult
        From :func:`srmlib.pppm`.
    plane : (int, int)
        Basis index pair ``(i, j)`` to show.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    kind : {"scatter", "hexbin"}
        One translucent dot per sample, or a density of counts per hexagonal bin.
    normalise : bool
        Project the unit directions ``x / |x|`` instead of the raw activations: every point then
        lies between the circles of radius ``epsilon`` and 1, and only its angle and its
        closeness to the plane show.
    basis_angle : float
        Angle of ``b_j`` from ``b_i`` in radians (``pi/2`` for an orthogonal basis), to draw its
        direction.
    title : str, optional
        Defaults to the plane and the angular distance ``arccos(epsilon)`` kept.
    extent : float, optional
        Half-width of the square shown, in the units of the axes (default: 1.1 times the
        largest coordinate, or 1.1 when ``normalise``). Fix it to compare several pictures, as
        the frames of :func:`srmlib.widgets.pppm_animation` do.

    Returns
    -------
    matplotlib.axes.Axes
        Horizontal axis along ``u = b_i / |b_i|``, vertical along ``v``; equal aspect.
    """
    if not isinstance(result, PPPMResult):
        raise TypeError(f"result must be a PPPMResult, got {type(result).__name__}")
    if (not isinstance(plane, (tuple, list, np.ndarray)) or len(plane) != 2
            or not all(isinstance(k, (int, np.integer)) for k in plane)):
        raise TypeError(f"plane must be a pair of basis indices (i, j), got {plane!r}")
    if kind not in ("scatter", "hexbin"):
        raise ValueError(f"kind must be 'scatter' or 'hexbin', got {kind!r}")
    basis_angle = check_real(basis_angle, "basis_angle")
    normalise = check_bool(normalise, "normalise")
    if extent is not None:
        extent = check_real_in(extent, "extent", 0, low_open=True)
    i, j = int(plane[0]), int(plane[1])
    coords = result.in_plane(i, j, unit=normalise)
    ax = _new_axes(ax, figsize=(5.0, 4.6))
    if extent is None:
        extent = 1.1 if normalise else (1.1 * float(np.abs(coords).max()) if len(coords) else 1.0)
    if normalise:
        ring = np.linspace(0.0, TWO_PI, 361)
        for radius in (1.0, max(result.epsilon, 0.0)):
            ax.plot(radius * np.cos(ring), radius * np.sin(ring), color="0.6", linewidth=0.8)
    if kind == "scatter":
        alpha = float(np.clip(30.0 / math.sqrt(max(len(coords), 1)), 0.05, 0.8))
        ax.scatter(coords[:, 0], coords[:, 1], s=4, alpha=alpha, color=PALETTE[0],
                   linewidths=0, label=f"{len(coords)} samples")
        ax.legend(loc="upper right", fontsize="small")
    else:
        hb = ax.hexbin(coords[:, 0], coords[:, 1], gridsize=40, cmap="cividis", mincnt=1,
                       extent=(-extent, extent, -extent, extent))
        ax.figure.colorbar(hb, ax=ax, label="samples per bin")
    for angle, name in ((0.0, rf"$b_{{{i}}}$"), (basis_angle, rf"$b_{{{j}}}$")):
        end = 0.95 * extent * np.array([math.cos(angle), math.sin(angle)])
        ax.plot([0.0, end[0]], [0.0, end[1]], color=OKABE_ITO["vermillion"], linestyle="--",
                linewidth=1.2)
        ax.annotate(name, end, color=OKABE_ITO["vermillion"], fontsize="large")
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    symbol, units = (r"\hat x", "unit directions") if normalise else ("x", "activation units")
    ax.set_xlabel(rf"${symbol} \cdot u$, along $b_{{{i}}}$ ({units})")
    ax.set_ylabel(rf"${symbol} \cdot v$ ({units})")
    ax.set_title(title if title is not None else f"PPPM, plane ({i}, {j}): samples within "
                 f"{math.acos(result.epsilon):.2f} rad")
    return ax


@_styled
def plot_cone_geometry(
    epsilon: float,
    theta: float,
    ax: Axes | None = None,
    *,
    basis_angle: float = math.pi / 2,
    sample: tuple[float, float] | None = None,
    title: str | None = None,
) -> Axes:
    """The spotlight in the plane of ``(b_i, b_j)``: probe, cone, and optionally one sample's arc.

    Draws the unit circle of the plane, ``b_i`` along the horizontal axis, ``b_j`` at
    ``basis_angle`` (with the orthogonalised ``v`` when ``b_j`` is not orthogonal to ``b_i``),
    the probe ``p(theta) = cos(theta) u + sin(theta) v`` and the in-plane section of the cone of
    half-angle ``arccos(epsilon)``. Given ``sample``, the in-plane coordinates ``(a, b)`` of a
    unit sample (``a^2 + b^2 <= 1``), it also marks the arc of probe angles
    ``[phi - alpha, phi + alpha]``, ``alpha = arccos(epsilon / r)``, whose spotlight contains it.

    Parameters
    ----------
    epsilon : float
        Cosine of the cone half-angle, ``-1 < epsilon <= 1``.
    theta : float
        Probe angle in radians.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    basis_angle : float
        Angle between ``b_i`` and ``b_j`` in radians, strictly between 0 and ``pi``.
    sample : (float, float), optional
        In-plane coordinates ``(a, b)`` of a unit-length sample.
    title : str, optional
        Defaults to "The spotlight cone in the plane of b_i and b_j".

    Returns
    -------
    matplotlib.axes.Axes
    """
    epsilon = check_epsilon(epsilon)
    theta = check_real(theta, "theta")
    basis_angle = check_real(basis_angle, "basis_angle")
    if not 0.0 < basis_angle < math.pi:
        raise ValueError(f"basis_angle must lie strictly between 0 and pi, got {basis_angle}")
    if sample is not None:
        if not isinstance(sample, (tuple, list, np.ndarray)) or len(sample) != 2:
            raise TypeError(f"sample must be a pair (a, b) of in-plane coordinates, got {sample!r}")
        a, b = (check_real(c, "sample") for c in sample)
        if a * a + b * b > 1.0 + 1e-12:
            raise ValueError(f"sample must have a^2 + b^2 <= 1 (a unit sample's in-plane part), "
                             f"got {sample!r}")
    ax = _new_axes(ax, figsize=(5.2, 5.2))
    half = math.acos(epsilon)
    ring = np.linspace(0.0, TWO_PI, 361)
    ax.plot(np.cos(ring), np.sin(ring), color="0.6", linewidth=1.0)
    handles = [ax.add_patch(Wedge((0, 0), 1.0, math.degrees(theta - half),
                                  math.degrees(theta + half), color=OKABE_ITO["orange"],
                                  alpha=0.3, label=rf"cone, half-angle $\arccos\epsilon$ = "
                                                   rf"{half:.2f} rad"))]
    _arrow(ax, 0.0, r"$b_i$", OKABE_ITO["black"])
    _arrow(ax, basis_angle, r"$b_j$", OKABE_ITO["black"])
    if abs(basis_angle - math.pi / 2) > 1e-9:
        _arrow(ax, math.pi / 2, r"$v$", "0.45", style="dashed")
    _arrow(ax, theta, r"$p(\theta)$", OKABE_ITO["vermillion"], width=2.2)
    ax.add_patch(Arc((0, 0), 0.5, 0.5, theta1=min(0.0, math.degrees(theta)),
                     theta2=max(0.0, math.degrees(theta)), color=OKABE_ITO["vermillion"]))
    ax.annotate(r"$\theta$", 0.33 * np.array([math.cos(theta / 2), math.sin(theta / 2)]),
                color=OKABE_ITO["vermillion"], ha="center", va="center")
    if sample is not None:
        r, phi = math.hypot(a, b), math.atan2(b, a)
        handles.append(ax.plot([0, a], [0, b], color=OKABE_ITO["green"], linestyle=":")[0])
        handles[-1].set_label(f"sample's in-plane part (r = {r:.2f})")
        ax.plot([a], [b], marker="o", color=OKABE_ITO["green"], markeredgecolor="black")
        if r >= epsilon and r > 0:
            alpha = math.acos(min(1.0, epsilon / r))
            arc = np.linspace(phi - alpha, phi + alpha, 200)
            handles.append(ax.plot(1.08 * np.cos(arc), 1.08 * np.sin(arc), color=OKABE_ITO["green"],
                                   linewidth=4, label=r"probe angles that see it: "
                                                      r"$\phi \pm \arccos(\epsilon / r)$")[0])
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.set_xlabel(r"coordinate along $u = b_i/|b_i|$ (unit length)")
    ax.set_ylabel(r"coordinate along $v$ (unit length)")
    ax.legend(handles=handles, loc="lower left", fontsize="small")
    ax.set_title(title if title is not None else r"The spotlight cone in the plane of $b_i$, $b_j$")
    return ax



# --------------------------------------------------------------------------- chapter 2 figures
# Chapter 2 ("SRM in practice: choosing the resolution") introduces these figures.


@_styled
def plot_srm_error_bars(
    result: SRMResult,
    plane: tuple[int, int] | None = None,
    ax: Axes | None = None,
    *,
    confidence: float = 0.95,
    ratio: bool = False,
    title: str | None = None,
    color: str | None = None,
) -> Axes:
    """One plane's SRM (or the mean over planes) with a binomial confidence band.

    The band is the Wilson interval of :func:`srmlib.stats.wilson_interval`. For the mean over
    planes (``plane=None``) it is the Wilson interval of the mean value with the same ``n``:
    planes share samples, so this is conservative (the standard error of a mean of fractions
    is at most the largest of theirs), never too narrow.

    Parameters
    ----------
    result : SRMResult
        An unsigned result.
    plane : (int, int), optional
        Basis index pair to show; the mean over planes when ``None``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    confidence : float
        Coverage of the band, strictly between 0 and 1.
    ratio : bool
        Divide the curve, the band and the baseline by the isotropic baseline (resonance ratio).
    title : str, optional
        Defaults to the plane, ``epsilon`` and the confidence.
    color : str, optional
        Colour of the curve and band (default: Okabe-Ito blue).

    Returns
    -------
    matplotlib.axes.Axes
        Lines: the curve and the baseline; the band is a filled area.
    """

    result = _check_srm(result)
    if result.signed:
        raise ValueError("error bars need unsigned SRM (signed=False)")
    ratio = check_bool(ratio, "ratio")
    if plane is None:
        curve, label = result.mean(), "mean over planes"
    else:
        i, j = check_plane(plane)
        curve, label = result.plane(i, j), f"plane ({i}, {j})"
    low, high = wilson_interval(curve, result.n_samples, confidence=confidence)
    scale = result.isotropic_baseline if ratio else 1.0
    if scale == 0.0:
        raise ValueError("the isotropic baseline is 0, so no ratio can be formed")
    ax = _new_axes(ax)
    color = PALETTE[0] if color is None else color
    angles, (curve, low, high) = _closed_curves(result.angles, np.stack([curve, low, high]))
    ax.fill_between(angles, low / scale, high / scale, color=color, alpha=0.3, linewidth=0,
                    label=f"{100 * confidence:g}% Wilson interval (n = {result.n_samples})")
    ax.plot(angles, curve / scale, color=color, linewidth=1.8, label=label)
    ax.axhline(1.0 if ratio else result.isotropic_baseline, color=BASELINE_COLOR,
               linestyle="--", linewidth=1.4, label="isotropic baseline")
    set_angle_ticks(ax)
    ax.set_xlabel(_ANGLE_LABEL)
    ax.set_ylabel("resonance ratio (SRM / baseline)" if ratio
                  else "SRM (fraction of samples in the cone)")
    _legend_below(ax)
    ax.set_title(title if title is not None else
                 rf"SRM with error bars, {label}, $\epsilon$ = {result.epsilon:.2f}")
    return ax


@_styled
def plot_null_distribution(
    test,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    bins: int = 30,
) -> Axes:
    """The rotation test: a histogram of the statistic in random bases, and the observed value.

    Parameters
    ----------
    test : srmlib.stats.RotationTest or mapping of str to RotationTest
        From :func:`srmlib.stats.rotation_test`. A mapping ``{label: test}`` draws several tests
        of the same statistic on one axis, each null as an outlined histogram and each observed
        value as a vertical line in the same colour: for example one layer trained and at
        initialisation, each against its own null.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title : str, optional
        Defaults to the statistic and the p-value (of the single test).
    bins : int
        Histogram bins (shared by all tests of a mapping).

    Returns
    -------
    matplotlib.axes.Axes
        One histogram and one vertical line at the observed value per test.
    """
    bins = check_int(bins, "bins", minimum=1)
    if isinstance(test, Mapping):
        tests = dict(test)
        if not tests:
            raise ValueError("test must hold at least one RotationTest")
        for label, each in tests.items():
            if not isinstance(label, str) or not isinstance(each, RotationTest):
                raise TypeError("test must map labels (str) to RotationTest results, got "
                                f"{type(label).__name__}: {type(each).__name__}")
        statistics = {each.statistic for each in tests.values()}
        if len(statistics) > 1:
            raise ValueError(f"the tests of one axis must share a statistic, got {statistics}")
        if len(tests) > len(PALETTE):
            raise ValueError(f"at most {len(PALETTE)} tests fit on one axis, got {len(tests)}")
    elif isinstance(test, RotationTest):
        tests = None
    else:
        raise TypeError(f"test must be a RotationTest or a mapping of them, got "
                        f"{type(test).__name__}")
    ax = _new_axes(ax)
    if tests is None:
        ax.hist(test.null, bins=bins, color=PALETTE[0], alpha=0.7,
                label=f"{test.n_rotations} randomly rotated bases")
        ax.axvline(test.observed, color=OKABE_ITO["vermillion"], linewidth=2.4,
                   label=f"given basis (p = {test.p_value:.3g})")
        statistic = test.statistic
        default_title = f"Rotation test: {statistic}, p = {test.p_value:.3g}"
    else:
        values = np.concatenate([[t.observed, *t.null] for t in tests.values()])
        edges = np.histogram_bin_edges(values, bins=bins)
        nulls, observed = [], []
        for colour, (label, each) in zip(PALETTE, tests.items()):
            *_, patches = ax.hist(each.null, bins=edges, histtype="step", color=colour,
                                  linewidth=1.8, label=f"{label}: {each.n_rotations} rotated bases")
            nulls.append(patches[0])
            observed.append(ax.axvline(each.observed, color=colour, linewidth=2.4, linestyle="--",
                                       label=f"{label}: given basis (p = {each.p_value:.3g})"))
        statistic = next(iter(tests.values())).statistic
        default_title = f"Rotation tests: {statistic}"
    ax.set_xlabel(f"{statistic} statistic (dimensionless)")
    ax.set_ylabel("number of random bases")
    # a mapping's legend has one row per test: its null, then its observed value
    _legend_below(ax, handles=None if tests is None else nulls + observed)
    ax.set_title(title if title is not None else default_title)
    return ax


@_styled
def plot_relative_error(
    dims: Iterable[int],
    n_samples: int,
    ax: Axes | None = None,
    *,
    title: str | None = None,
) -> Axes:
    """Relative binomial error of SRM at the isotropic baseline against ``epsilon``.

    One curve ``sqrt((1 - p0) / (n p0))`` per dimension (see
    :func:`srmlib.stats.baseline_relative_error`), on a log scale: narrow cones and high
    dimensions leave few samples in the cone, so each value is noisier.

    Parameters
    ----------
    dims : iterable of int
        Dimensions to draw (each at least 2).
    n_samples : int
        Samples behind each SRM value.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title : str, optional
        Defaults to the number of samples.

    Returns
    -------
    matplotlib.axes.Axes
        One line per dimension.
    """

    dims = [check_int(d, "dims", minimum=2) for d in dims]
    if not dims:
        raise ValueError("dims must hold at least one dimension")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    ax = _new_axes(ax)
    eps = np.linspace(0.0, 0.995, 400)
    for k, d in enumerate(dims):
        ax.plot(eps, baseline_relative_error(d, eps, n_samples), color=PALETTE[k % len(PALETTE)],
                linewidth=2.0, label=f"d = {d}")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 10.0)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(r"$\epsilon$, cosine of the cone half-angle (dimensionless)")
    ax.set_ylabel("relative error at the baseline\n" + r"$\sqrt{(1-p_0)/(n p_0)}$")
    top = ax.secondary_xaxis("top", functions=(lambda e: np.arccos(np.clip(e, -1.0, 1.0)),
                                               np.cos))
    top.set_xticks([0.0, math.pi / 8, math.pi / 4, 3 * math.pi / 8, math.pi / 2],
                   [r"$0$", r"$\pi/8$", r"$\pi/4$", r"$3\pi/8$", r"$\pi/2$"])
    top.set_xlabel(r"cone half-angle $\arccos\epsilon$ (rad)")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title if title is not None else
                 f"Binomial noise at the isotropic baseline, n = {n_samples}")
    return ax


