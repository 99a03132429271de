"""Figures for chapter 4: toy models of superposition."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes

from ..toy import NEURON_KINDS, PHASES, as_directions, gram_matrix
from ._style import BASELINE_COLOR, OKABE_ITO, PALETTE, _legend_below, _new_axes, _styled

# --------------------------------------------------------------------------- chapter 4: toy models


@_styled
def plot_feature_arrangement(
    directions,
    ax: Axes | None = None,
    *,
    importance=None,
    title: str | None = None,
) -> Axes:
    """Feature directions ``W_i`` of a toy model with two hidden dimensions, as lines from 0.

    Chapter 4 ("Toy models of superposition") draws the dense orthogonal pair, antipodal pairs
    and the pentagon with it.

    Parameters
    ----------
    directions : array_like, shape (n_features, 2)
        One feature direction per row (:meth:`srmlib.toy.ToyModel.feature_directions`).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new square figure when ``None``.
    importance : array_like, shape (n_features,), optional
        Feature importances: more important features are drawn darker. Default: all equal.
    title : str, optional
        Defaults to the number of features.

    Returns
    -------
    matplotlib.axes.Axes
        One line per feature, equal aspect, limits ``[-1.5, 1.5]`` or wider.
    """
    d = as_directions(directions)
    if d.shape[1] != 2:
        raise ValueError(f"directions must have two hidden dimensions, got shape {d.shape}")
    if importance is None:
        shade = np.ones(len(d))
    else:
        imp = np.asarray(importance, dtype=float)
        if imp.shape != (len(d),):
            raise ValueError(f"importance must have shape ({len(d)},), got {imp.shape}")
        shade = imp / imp.max()
    ax = _new_axes(ax, figsize=(3.6, 3.6))
    colour = mpl.colors.to_rgb(PALETTE[0])
    for i, (w, s) in enumerate(zip(d, shade)):
        rgb = tuple(1 - (0.25 + 0.75 * s) * (1 - c) for c in colour)
        ax.plot([0, w[0]], [0, w[1]], color=rgb, linewidth=2, marker="o", markevery=[1])
        ax.annotate(str(i), w * 1.12 + 0.02, ha="center", va="center", fontsize="small")
    limit = max(1.5, 1.25 * float(np.abs(d).max()))
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("hidden dimension 0")
    ax.set_ylabel("hidden dimension 1")
    ax.set_title(title if title is not None else f"{len(d)} features in 2 dimensions")
    return ax


@_styled
def plot_gram_matrix(directions, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """Heat map of ``W^T W`` (:func:`srmlib.toy.gram_matrix`) on a symmetric colour scale.

    The diagonal is each feature's squared norm, the rest the interference between features.
    Chapter 4 ("Toy models of superposition").

    Returns
    -------
    matplotlib.axes.Axes
        One image with a colour bar.
    """

    gram = gram_matrix(directions)
    ax = _new_axes(ax, figsize=(4.4, 3.6))
    limit = max(float(np.abs(gram).max()), 1e-12)
    image = ax.imshow(gram, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label=r"$W_i \cdot W_j$")
    ax.set_xlabel("feature j")
    ax.set_ylabel("feature i")
    ax.set_title(title if title is not None else r"$W^T W$")
    return ax


@_styled
def plot_feature_dimensionality(
    feature_probability,
    dimensionalities,
    ax: Axes | None = None,
    *,
    fractions=(1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8),
    title: str | None = None,
) -> Axes:
    """Feature dimensionality ``D_i`` of every feature against ``1 / p`` of its instance.

    Chapter 4 ("Toy models of superposition"); the reference lines mark the fractions that
    Elhage et al. (2022) found features stick to.

    Parameters
    ----------
    feature_probability : array_like, shape (n_instances,)
        Each instance's feature probability ``p`` (the x axis is ``1/p = 1/(1 - S)``, log scale).
    dimensionalities : array_like, shape (n_instances, n_features)
        :func:`srmlib.toy.feature_dimensionality` of each instance.
    fractions : sequence of float
        Where to draw dashed reference lines.

    Returns
    -------
    matplotlib.axes.Axes
        One scatter (all features) and one dashed line per fraction.
    """
    p = np.asarray(feature_probability, dtype=float)
    dims = np.asarray(dimensionalities, dtype=float)
    if p.ndim != 1 or dims.ndim != 2 or dims.shape[0] != p.shape[0]:
        raise ValueError(f"dimensionalities must have shape (n_instances, n_features) with "
                         f"n_instances = {p.shape}, got {dims.shape}")
    if not np.all((p > 0) & (p <= 1)):
        raise ValueError("feature_probability must lie in (0, 1]")
    ax = _new_axes(ax)
    x = np.repeat(1 / p, dims.shape[1])
    rng = np.random.default_rng(0)  # a little horizontal jitter, for overlapping points
    ax.scatter(x * np.exp(0.03 * rng.standard_normal(x.size)), dims.ravel(), s=10,
               alpha=0.5, color=PALETTE[0], label="features")
    for f in fractions:
        ax.axhline(f, color=BASELINE_COLOR, linestyle="--", linewidth=0.8, alpha=0.6)
        ax.annotate(f"{f:.3g}" if f in (0.0, 1.0) else _fraction_label(f), (1.0, f),
                    xycoords=("axes fraction", "data"), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="small")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel(r"$1/p = 1/(1 - S)$ (sparsity, log scale)")
    ax.set_ylabel(r"feature dimensionality $D_i$ (hidden dimensions)")
    ax.set_title(title if title is not None else "Feature dimensionality against sparsity")
    return ax


def _fraction_label(value: float) -> str:
    from fractions import Fraction

    return str(Fraction(value).limit_denominator(12))




#: Colours of the phases of :func:`plot_phase_diagram` (``"other"`` last).
_PHASE_COLOURS = (OKABE_ITO["yellow"], OKABE_ITO["vermillion"], OKABE_ITO["blue"], "#bbbbbb")


@_styled
def plot_phase_diagram(
    density,
    relative_importance,
    phases,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """The phase of the extra feature on a grid of feature density and relative importance.

    Chapter 4 ("The phase diagram") draws the trained and the theoretical diagram of Elhage et
    al. (2022) for two features in one hidden dimension with it.

    Parameters
    ----------
    density : array_like, shape (n_density,)
        Feature densities ``p = 1 - S`` of the grid's columns, in ``(0, 1]`` (log x axis).
    relative_importance : array_like, shape (n_importance,)
        Importance of the extra feature relative to the other, of the grid's rows (log y axis).
    phases : array_like of str, shape (n_importance, n_density)
        One of :data:`srmlib.toy.PHASES` (or ``"other"``) per cell
        (:func:`srmlib.toy.two_feature_phase`).
    legend : bool
        Draw a legend of the phases below the axes.

    Returns
    -------
    matplotlib.axes.Axes
        One coloured mesh, cells centred on the grid's values.
    """
    p = np.asarray(density, dtype=float)
    r = np.asarray(relative_importance, dtype=float)
    grid = np.asarray(phases, dtype=object)
    if p.ndim != 1 or r.ndim != 1 or len(p) < 2 or len(r) < 2:
        raise ValueError("density and relative_importance must each hold at least two values")
    if grid.shape != (len(r), len(p)):
        raise ValueError(f"phases must have shape (n_importance, n_density) = "
                         f"({len(r)}, {len(p)}), got {grid.shape}")
    if not (np.all((p > 0) & (p <= 1)) and np.all(r > 0)):
        raise ValueError("density must lie in (0, 1] and relative_importance be positive")
    names = (*PHASES, "other")
    unknown = set(grid.ravel()) - set(names)
    if unknown:
        raise ValueError(f"phases must be among {names}, got {sorted(map(str, unknown))}")
    codes = np.vectorize(names.index, otypes=[int])(grid)
    ax = _new_axes(ax, figsize=(4.6, 4.2))
    cmap = mpl.colors.ListedColormap(_PHASE_COLOURS)
    ax.pcolormesh(_edges(p), _edges(r), codes, cmap=cmap, vmin=-0.5, vmax=3.5,
                  edgecolors="white", linewidth=0.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(False)
    ax.set_xlabel(r"feature density $p = 1 - S$ (log scale)")
    ax.set_ylabel("relative importance of the extra feature (log scale)")
    ax.set_title(title if title is not None else "Phase of the extra feature")
    if legend:
        shown = [k for k in range(len(names)) if np.any(codes == k) or k < len(PHASES)]
        handles = [mpl.patches.Patch(color=_PHASE_COLOURS[k], label=names[k]) for k in shown]
        _legend_below(ax, handles=handles)
    return ax


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges halfway (geometrically) between log-spaced centres, and beyond the ends."""
    logs = np.log(centres)
    inner = (logs[1:] + logs[:-1]) / 2
    return np.exp(np.concatenate([[2 * logs[0] - inner[0]], inner,
                                  [2 * logs[-1] - inner[-1]]]))


@_styled
def plot_neuron_kinds(
    feature_probability,
    kinds,
    ax: Axes | None = None,
    *,
    reference=None,
    title: str | None = None,
) -> Axes:
    """Share of monosemantic, polysemantic and dead neurons of a ReLU layer against sparsity.

    Chapter 4 ("Superposition at the level of neurons"). Instances with the same feature
    probability are pooled.

    Parameters
    ----------
    feature_probability : array_like, shape (n_instances,)
        Each instance's feature probability ``p`` (x axis ``1/p``, log scale).
    kinds : array_like of str, shape (n_instances, n_hidden)
        :func:`srmlib.toy.classify_neurons` of each instance.
    reference : array_like of str, shape (n_instances, n_hidden), optional
        The same for a control (the untrained model): its monosemantic share is drawn dashed.

    Returns
    -------
    matplotlib.axes.Axes
        One line with markers per kind (and one dashed line for the reference).
    """
    p = np.asarray(feature_probability, dtype=float)
    labels = np.asarray(kinds, dtype=object)
    if p.ndim != 1 or labels.ndim != 2 or labels.shape[0] != len(p):
        raise ValueError(f"kinds must have shape (n_instances, n_hidden) with n_instances = "
                         f"{len(p)}, got {labels.shape}")
    if not np.all((p > 0) & (p <= 1)):
        raise ValueError("feature_probability must lie in (0, 1]")
    unknown = set(labels.ravel()) - set(NEURON_KINDS)
    if unknown:
        raise ValueError(f"kinds must be among {NEURON_KINDS}, got {sorted(map(str, unknown))}")
    ax = _new_axes(ax)
    levels = np.unique(p)[::-1]
    for colour, kind in zip(PALETTE, NEURON_KINDS):
        share = [np.mean(labels[p == level] == kind) for level in levels]
        ax.plot(1 / levels, share, marker="o", color=colour, label=kind)
    if reference is not None:
        ref = np.asarray(reference, dtype=object)
        if ref.shape != labels.shape:
            raise ValueError(f"reference must have shape {labels.shape}, got {ref.shape}")
        share = [np.mean(ref[p == level] == "monosemantic") for level in levels]
        ax.plot(1 / levels, share, linestyle="--", color=BASELINE_COLOR,
                label="monosemantic, control")
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(r"$1/p = 1/(1 - S)$ (sparsity, log scale)")
    ax.set_ylabel("share of neurons")
    ax.set_title(title if title is not None else "Neurons of the ReLU layer")
    _legend_below(ax)
    return ax
