"""Figures for chapter 6: alignment metrics ("Superposition hides alignment")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from ._style import BASELINE_COLOR, PALETTE, _new_axes, _styled

__all__ = ["plot_alignment_bars", "plot_correlation_matrix", "plot_metric_gains"]


@_styled
def plot_alignment_bars(
    means: Mapping[str, Sequence[float]],
    errors: Mapping[str, Sequence[float]] | None = None,
    *,
    groups: Sequence,
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "score (dimensionless)",
    xlabel: str = "hidden width H (neurons)",
    legend: bool = True,
) -> Axes:
    """Grouped bars: one group per setting (say a hidden width), one bar per series in each.

    Chapter 6 draws one panel per metric, with the comparisons (Neuron->Neuron, SAE->SAE, ...)
    as series and the hidden widths as groups, from
    :meth:`srmlib.alignment.AlignmentExperiment.bars`.

    Parameters
    ----------
    means : mapping of str to sequence of float
        Series name -> one value per group.
    errors : mapping of str to sequence of float, optional
        Half-lengths of the error bars, the same shape; NaN draws none.
    groups : sequence
        Group labels (one per value of each series).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title, ylabel, xlabel : str
    legend : bool
        Add a legend of the series.

    Returns
    -------
    matplotlib.axes.Axes
        ``len(means) * len(groups)`` bars (``ax.patches``), series by series; a line at 0.
    """
    if not isinstance(means, Mapping) or not means:
        raise ValueError("means must be a non-empty mapping of series name to values")
    groups = list(groups)
    values = {name: np.asarray(v, dtype=float) for name, v in means.items()}
    for name, v in values.items():
        if v.shape != (len(groups),):
            raise ValueError(f"means[{name!r}] must have one value per group ({len(groups)}), "
                             f"got shape {v.shape}")
    spreads = {}
    for name in values:
        spread = None if errors is None or name not in errors else np.asarray(errors[name],
                                                                             dtype=float)
        if spread is not None and spread.shape != (len(groups),):
            raise ValueError(f"errors[{name!r}] must have one value per group ({len(groups)})")
        spreads[name] = spread
    ax = _new_axes(ax)
    n = len(values)
    width = 0.8 / n
    centres = np.arange(len(groups))
    for s, (name, v) in enumerate(values.items()):
        x = centres - 0.4 + width * (s + 0.5)
        ax.bar(x, v, width=width, color=PALETTE[s % len(PALETTE)], label=name,
               edgecolor="white", linewidth=0.5)
        spread = spreads[name]
        if spread is not None and np.any(np.isfinite(spread)):
            ax.errorbar(x, v, yerr=np.where(np.isfinite(spread), spread, 0.0), fmt="none",
                        ecolor=BASELINE_COLOR, elinewidth=1.0, capsize=2)
    ax.axhline(0.0, color=BASELINE_COLOR, linewidth=0.8)
    ax.set_xticks(centres, [str(g) for g in groups])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else "Alignment by comparison")
    if legend:
        ax.legend(fontsize="small")
    return ax


@_styled
def plot_correlation_matrix(
    matrix,
    ax: Axes | None = None,
    *,
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    title: str | None = None,
    xlabel: str = "target unit",
    ylabel: str = "source unit",
) -> Axes:
    """Correlations between two sets of units, each cell annotated with its value.

    Parameters
    ----------
    matrix : array_like, shape (n_source, n_target)
        Values in ``[-1, 1]``, as from :func:`srmlib.metrics.correlation_matrix`.
    ax : matplotlib.axes.Axes, optional
    row_labels, column_labels : sequence of str, optional
        Tick labels (default: the indices).
    title, xlabel, ylabel : str

    Returns
    -------
    matplotlib.axes.Axes
        One image on ``[-1, 1]`` (a diverging colour map) with a colour bar and one text per cell.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.size == 0 or not np.all(np.isfinite(m)):
        raise ValueError(f"matrix must be a finite 2-D array, got shape {m.shape}")
    rows = [str(i) for i in range(m.shape[0])] if row_labels is None else list(row_labels)
    cols = [str(j) for j in range(m.shape[1])] if column_labels is None else list(column_labels)
    if len(rows) != m.shape[0] or len(cols) != m.shape[1]:
        raise ValueError(f"row_labels and column_labels must match the matrix shape {m.shape}")
    ax = _new_axes(ax, figsize=(1.2 * m.shape[1] + 2.5, 1.0 * m.shape[0] + 1.5))
    image = ax.imshow(m, vmin=-1.0, vmax=1.0, cmap="RdBu_r", interpolation="nearest")
    ax.grid(False)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:+.2f}", ha="center", va="center",
                    color="white" if abs(m[i, j]) > 0.6 else "black")
    ax.set_xticks(range(m.shape[1]), cols)
    ax.set_yticks(range(m.shape[0]), rows)
    ax.figure.colorbar(image, ax=ax, label="Pearson r (dimensionless)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else "Correlations between units")
    return ax


@_styled
def plot_metric_gains(
    gains: Mapping[str, float],
    errors: Mapping[str, float] | None = None,
    *,
    families: Mapping[str, str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    xlabel: str = "change towards alignment (the metric's units)",
) -> Axes:
    """One horizontal bar per metric: how far a change moved it towards alignment.

    Chapter 6 draws, for every metric, SAE->SAE minus Neuron->Neuron (a distance's sign
    flipped, so that right is always "more aligned"), with the metric families as colours.

    Parameters
    ----------
    gains : mapping of str to float
        Metric name -> change (drawn top to bottom in this order).
    errors : mapping of str to float, optional
        Half-lengths of the error bars; NaN or a missing name draws none.
    families : mapping of str to str, optional
        Metric name -> family; bars of one family share a colour, and the legend names them.
    ax : matplotlib.axes.Axes, optional
    title, xlabel : str

    Returns
    -------
    matplotlib.axes.Axes
        ``len(gains)`` bars (``ax.patches``), a line at 0.
    """
    if not isinstance(gains, Mapping) or not gains:
        raise ValueError("gains must be a non-empty mapping of metric name to value")
    names = list(gains)
    values = np.array([float(gains[n]) for n in names])
    spread = np.array([float(errors.get(n, np.nan)) if errors is not None else np.nan
                       for n in names])
    families = {} if families is None else dict(families)
    if set(families) - set(names):
        raise ValueError(f"families names metrics without a gain: "
                         f"{sorted(set(families) - set(names))}")
    order = list(dict.fromkeys(families.get(n, "other") for n in names))
    colours = {family: PALETTE[i % len(PALETTE)] for i, family in enumerate(order)}
    ax = _new_axes(ax, figsize=(7.5, 0.38 * len(names) + 1.5))
    rows = np.arange(len(names))[::-1]
    seen = set()
    for row, name, value, half in zip(rows, names, values, spread):
        family = families.get(name, "other")
        ax.barh(row, value, color=colours[family], edgecolor="white", linewidth=0.5,
                label=None if family in seen or not families else family)
        seen.add(family)
        if np.isfinite(half):
            ax.errorbar(value, row, xerr=half, fmt="none", ecolor=BASELINE_COLOR,
                        elinewidth=1.0, capsize=2)
    ax.axvline(0.0, color=BASELINE_COLOR, linewidth=0.8)
    ax.set_yticks(rows, names)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("metric")
    ax.set_title(title if title is not None else "Which metrics move with disentangling")
    if families:
        ax.legend(fontsize="small", loc="lower right")
    return ax
