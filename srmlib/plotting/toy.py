"""Figures for chapter 4: toy models of superposition."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes

from ..toy import as_directions, gram_matrix
from ._style import BASELINE_COLOR, PALETTE, _new_axes, _styled

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


