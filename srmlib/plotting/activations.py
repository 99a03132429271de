"""Figures for chapter 3: activation functions make the privileged basis."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validation import check_real_in
from ..srm import SRMResult
from .animation import animate
from ._style import (
    BASELINE_COLOR,
    PALETTE,
    _ANGLE_LABEL,
    _light_style,
    _new_axes,
    _styled,
    set_angle_ticks,
)

if TYPE_CHECKING:  # IPython comes with the book extra, not with srmlib itself
    from IPython.display import HTML

__all__ = ["alignment_animation", "plot_basis_preference", "plot_alignment_over_training",
           "plot_digit_grid", "plot_pppm_density"]


@_styled
def plot_basis_preference(z_scores, ax: Axes | None = None, *, reference=None,
                          reference_label: str = "untrained", threshold: float | None = None,
                          title: str | None = None, group_label: str = "basis") -> Axes:
    """Rotation-test z-scores per activation function and group, as grouped bars.

    A group is a basis (standard, rotated) or a condition (Adam, SGD); each activation has one
    bar per group. ``reference`` marks, on each bar, the z-score of a reference network (the
    same network at initialisation, say) with a white diamond.

    Parameters
    ----------
    z_scores : dict of str -> dict of str -> float
        ``{activation: {group: z}}``; every activation must have the same groups, in order.
        NaN leaves a bar out (a basis not tested for that activation).
    reference : dict of str -> dict of str -> float, optional
        The reference z-scores, with the same keys as ``z_scores`` (NaN: no marker).
    reference_label : str
        Legend label of the reference markers.
    threshold : float, optional
        Draw the band ``|z| < threshold`` ("within the noise of random bases").
    title : str, optional
    group_label : str
        What a group is, for the legend title (``"basis"``, ``"optimiser"``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(z_scores, dict) or not z_scores:
        raise TypeError("z_scores must be a non-empty dict {activation: {group: z}}")
    names = list(z_scores)
    groups = list(z_scores[names[0]])
    if any(list(z_scores[n]) != groups for n in names):
        raise ValueError("z_scores: every activation must have the same bases (groups), in order")
    if reference is not None and (not isinstance(reference, dict) or list(reference) != names
                                  or any(list(reference[n]) != groups for n in names)):
        raise ValueError("reference must have the same activations and groups as z_scores")
    ax = _new_axes(ax, figsize=(8.0, 3.8))
    width = 0.8 / len(groups)
    positions = np.arange(len(names))
    for g, group in enumerate(groups):
        at = positions + (g - (len(groups) - 1) / 2) * width
        ax.bar(at, [float(z_scores[n][group]) for n in names], width, label=group,
               color=PALETTE[g % len(PALETTE)])
        if reference is not None:
            ax.scatter(at, [float(reference[n][group]) for n in names], marker="D", s=28,
                       facecolor="white", edgecolor=BASELINE_COLOR, linewidth=1.2, zorder=3,
                       label=reference_label if g == 0 else None)
    if threshold is not None:
        ax.axhspan(-threshold, threshold, color=BASELINE_COLOR, alpha=0.1,
                   label=f"|z| < {threshold:g}")
    ax.axhline(0.0, color=BASELINE_COLOR, linewidth=1)
    ax.set_xticks(positions, [n.replace("_", " ") for n in names], rotation=20, ha="right")
    ax.set_xlabel("activation function")
    ax.set_ylabel("z-score vs random bases (null std)")
    ax.set_title(title if title is not None else "Which basis does each representation prefer?")
    ax.legend(fontsize="small", title=group_label, title_fontsize="small", loc="upper left",
              bbox_to_anchor=(1.01, 1.0))  # beside the axes: it can hide no bar
    return ax


@_styled
def plot_alignment_over_training(epochs, curves, ax: Axes | None = None, *,
                                 ylabel: str = "statistic", xlabel: str = "epoch",
                                 title: str | None = None,
                                 threshold: float | None = None) -> Axes:
    """A statistic of the representation against training time, one line per model.

    Parameters
    ----------
    epochs : array_like, shape (S,)
        When each value was taken: epochs, or (for runs of different lengths) the percentage
        of each run's training, with ``xlabel`` saying which.
    curves : dict of str -> array_like, shape (S,)
    ylabel, xlabel : str
    title : str, optional
    threshold : float, optional
        Shade ``-threshold .. threshold`` (for z-scores: the range of random bases).

    Returns
    -------
    matplotlib.axes.Axes
    """
    epochs = np.asarray(epochs)
    if epochs.ndim != 1 or not len(epochs):
        raise ValueError("epochs must be a non-empty 1-D array")
    if not isinstance(curves, dict) or not curves:
        raise TypeError("curves must be a non-empty dict {label: values}")
    ax = _new_axes(ax)
    for k, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        if values.shape != epochs.shape:
            raise ValueError(f"curves[{label!r}] has shape {values.shape}, epochs {epochs.shape}")
        ax.plot(epochs, values, marker="o", markersize=3, label=label,
                color=PALETTE[k % len(PALETTE)])
    if threshold is not None:
        threshold = check_real_in(threshold, "threshold", 0, low_open=True)
        ax.axhspan(-threshold, threshold, color=BASELINE_COLOR, alpha=0.1,
                   label=f"|z| < {threshold:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else "Alignment during training")
    ax.legend(fontsize="small")
    return ax


@_styled
def plot_digit_grid(images, image_shape, ax: Axes | None = None, *, n_columns: int = 8,
                    title: str | None = None) -> Axes:
    """Images side by side in a grid (grey scale, dark strokes on white).

    Parameters
    ----------
    images : array_like, shape (n, height * width)
    image_shape : (int, int)
    n_columns : int
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    height, width = (int(s) for s in image_shape)
    images = np.asarray(images, dtype=float)
    if images.ndim != 2 or images.shape[1] != height * width:
        raise ValueError(f"images must have shape (n, {height * width}), got {images.shape}")
    n = len(images)
    n_columns = max(1, min(int(n_columns), max(n, 1)))
    n_rows = max(1, math.ceil(n / n_columns))
    canvas = np.zeros((n_rows * (height + 1) + 1, n_columns * (width + 1) + 1))
    for k, image in enumerate(images):
        r, c = divmod(k, n_columns)
        canvas[1 + r * (height + 1):(r + 1) * (height + 1),
               1 + c * (width + 1):(c + 1) * (width + 1)] = image.reshape(height, width)
    ax = _new_axes(ax, figsize=(0.45 * n_columns + 1, 0.45 * n_rows + 0.8))
    ax.imshow(canvas, cmap="gray_r", vmin=0.0, vmax=max(float(canvas.max()), 1e-12))
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{n} inputs, {n_columns} per row")
    ax.set_ylabel("rows of inputs")
    ax.set_title(title if title is not None else f"{n} inputs")
    return ax


def alignment_animation(results, epochs, *, title: str = "SRM after epoch {}",
                        fps: float = 3.0, dpi: int = 72) -> HTML:
    """Mean-over-planes resonance ratio at each training snapshot, as a kernel-free player.

    Parameters
    ----------
    results : sequence of dict of str -> SRMResult
        One dict per frame (snapshot), ``{curve label: unsigned SRM result}``.
    epochs : array_like of int, shape (n_frames,)
        Epoch (or other time) of each frame, for the title.
    title : str
        Title of each frame, with ``{}`` where the frame's value of ``epochs`` goes.
    fps : float
        Frames per second.
    dpi : int
        Resolution of the frames.

    Returns
    -------
    IPython.display.HTML
        matplotlib's JavaScript player with a slider, made to work offline.
    """
    epochs = np.asarray(epochs)
    if not isinstance(title, str) or "{}" not in title:
        raise ValueError(f"title must be a string with a {{}} for the frame's value, got {title!r}")
    if len(results) != len(epochs) or not len(results):
        raise ValueError(f"results has {len(results)} frames, epochs {len(epochs)}")
    for frame in results:
        if not isinstance(frame, dict) or not all(isinstance(r, SRMResult) for r in frame.values()):
            raise TypeError("each frame of results must be a dict {label: SRMResult}")
    curves = [{k: r.resonance_ratio().mean(axis=0) for k, r in frame.items()} for frame in results]
    top = 1.1 * max(float(c.max()) for frame in curves for c in frame.values())
    with _light_style():
        fig = Figure(figsize=(7.0, 3.6), dpi=dpi, layout="constrained")
        fig.set_facecolor("white")
        ax = fig.add_subplot()

    def draw(k):
        with _light_style():
            ax.clear()
            for c, (label, values) in enumerate(curves[k].items()):
                angles = results[k][label].angles
                ax.plot(np.append(angles, 2 * np.pi), np.append(values, values[0]), label=label,
                        color=PALETTE[c % len(PALETTE)])
            ax.axhline(1.0, color=BASELINE_COLOR, linestyle="--", label="isotropic baseline")
            set_angle_ticks(ax)
            ax.set_ylim(0.0, top)
            ax.set_xlabel(_ANGLE_LABEL)
            ax.set_ylabel("resonance ratio (mean over planes)")
            ax.set_title(title.format(int(epochs[k])))
            ax.legend(fontsize="small", loc="upper right")

    return animate(fig, len(results), draw, fps)


@_styled
def plot_pppm_density(density, ax: Axes | None = None, *, title: str | None = None,
                      limit: float = 8.0, colorbar: bool = True) -> Axes:
    """A :class:`srmlib.activations.PPPMDensity` as a polar image, 1 (isotropic) in white.

    The angle is the in-plane angle from ``b_i`` towards ``b_j`` (radians); the rings go from
    plane cosine ``epsilon`` (inside) to 1 (outside), drawn equally wide since each holds the
    same share of isotropic data (their edges label the radial ticks). The colour scale is logarithmic and
    symmetric about 1: red where there are more samples than isotropic data would put there,
    blue where fewer, clipped at ``limit`` times and ``1 / limit`` times.

    Parameters
    ----------
    density : srmlib.activations.PPPMDensity
    ax : matplotlib.axes.Axes, optional
        A polar Axes (``subplot_kw={"projection": "polar"}``).
    title : str, optional
    limit : float
        Ratio at which the colours saturate, above 1.
    colorbar : bool
        Draw a colour bar beside the disc.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.colors import LogNorm

    from ..activations import PPPMDensity

    if not isinstance(density, PPPMDensity):
        raise TypeError(f"density must be a PPPMDensity, got {type(density).__name__}")
    limit = check_real_in(limit, "limit", 1, math.inf, low_open=True)
    ax = _new_axes(ax, polar=True, figsize=(4.2, 4.0))
    values = np.clip(density.density, 1 / limit, limit)  # empty bins: the darkest blue
    # Rings of equal isotropic share drawn equally wide (a plane cosine near 1 is rare in many
    # dimensions, and drawn to scale the outer ring would fill the disc), labelled by cosine.
    n_rings = len(density.radius_edges) - 1
    drawn = np.linspace(0.3, 1.0, n_rings + 1)
    theta, radius = np.meshgrid(density.angle_edges, drawn)
    mesh = ax.pcolormesh(theta, radius, values, cmap="RdBu_r", norm=LogNorm(1 / limit, limit),
                         shading="flat")
    ax.set_ylim(0, 1)
    ax.set_yticks(drawn, [f"{r:.2f}" for r in density.radius_edges], fontsize="x-small")
    ax.set_xticks(np.arange(4) * np.pi / 2, ["0", r"$\pi/2$", r"$\pi$", r"$3\pi/2$"])
    ax.set_xlabel("in-plane angle (rad); rings: cosine to the plane,\n"
                  "each holding the same share of isotropic data", fontsize="small")
    ax.set_title(title if title is not None else
                 f"PPPM density / isotropic ({density.n_points} points, {density.n_planes} planes)",
                 fontsize="small")
    if colorbar:
        bar = ax.figure.colorbar(mesh, ax=ax, shrink=0.7, pad=0.12)
        bar.set_label("density / isotropic", fontsize="small")
    return ax
