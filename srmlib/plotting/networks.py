"""Figures for chapter 7 ("Real networks"): the SRM verdict of every layer of trained networks.

The chapter's other figures reuse earlier ones: :func:`srmlib.plotting.plot_digit_grid` for the
inputs in a neuron's spotlight, :func:`srmlib.plotting.plot_alignment_bars` for the DNN->DNN
comparison and :func:`srmlib.plotting.alignment_animation` for a layer over training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from ._style import BASELINE_COLOR, PALETTE, _new_axes, _styled

__all__ = ["plot_layer_alignment"]


@_styled
def plot_layer_alignment(results: Sequence, labels: Sequence[str], ax: Axes | None = None, *,
                         title: str | None = None) -> Axes:
    """The alignment statistic of each layer, trained and untrained, with the rotation null.

    One group per layer: a dot per network for the trained layer and for the untrained one,
    and a bar spanning the range of the trained networks' randomly rotated bases. A layer whose
    trained dots sit above the bar is aligned with its neurons, below it anti-aligned.

    Parameters
    ----------
    results : sequence of srmlib.networks.LayerAlignment
    labels : sequence of str
        One label per layer (``"MLP act1"``).
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if len(results) != len(labels) or not len(results):
        raise ValueError(f"results and labels must be non-empty and of one length, got "
                         f"{len(results)} and {len(labels)}")
    ax = _new_axes(ax, figsize=(max(6.0, 1.2 * len(results) + 2), 4.0))
    for g, result in enumerate(results):
        ax.plot([g, g], [result.null_low.min(), result.null_high.max()], color=BASELINE_COLOR,
                linewidth=8, alpha=0.25, solid_capstyle="butt",
                label="rotated bases (trained)" if g == 0 else None)
        n = len(result.trained)
        offsets = np.linspace(-0.15, 0.15, n) if n > 1 else np.zeros(1)
        ax.scatter(g - 0.2 + offsets, result.untrained, color=PALETTE[1], s=18,
                   label="untrained" if g == 0 else None, zorder=3)
        ax.scatter(g + 0.2 + offsets, result.trained, color=PALETTE[0], s=18,
                   label="trained" if g == 0 else None, zorder=3)
    ax.axhline(1.0, color=BASELINE_COLOR, linestyle="--", linewidth=1,
               label="isotropic (and orthant alone)")
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels(labels, rotation=20)
    ax.set_xlabel("layer (one dot per network)")
    ax.set_ylabel("alignment statistic (1 = isotropic)")
    ax.set_title(title if title is not None else "Alignment with the neurons, layer by layer")
    ax.legend(fontsize="small")
    return ax
