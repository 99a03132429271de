"""Figures for chapter 8: a sweep's headline result against a swept parameter."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from ._style import PALETTE, _new_axes, _styled

# --------------------------------------------------------------------------- chapter 8: sweeps


@_styled
def plot_sweep(
    rows: Iterable[Mapping],
    x: str,
    y: str,
    ax: Axes | None = None,
    *,
    seed: str = "seed",
    by: Sequence[str] = (),
    yscale: str = "linear",
    xlabel: str | None = None,
    ylabel: str | None = None,
    title: str | None = None,
) -> Axes:
    """One recorded result against one swept parameter, with seeds as error bars.

    Rows that share a value of ``x`` (and of every parameter in ``by``) are one point: the mean
    over their seeds, with an error bar of one standard deviation over seeds (none for a single
    seed), and each seed's own value as a small dot. Each combination of the ``by`` parameters
    is a line of its own colour. Only rows with ``status == "ok"`` (or no status) are drawn.
    Chapter 8 ("Running the book as experiments") draws a sweep's headline figure with it;
    :func:`srmlib.runs.sweep` saves it as ``sweep.png``.

    Parameters
    ----------
    rows : iterable of mapping
        A sweep's tidy table (:attr:`srmlib.runs.SweepResult.rows`): one mapping per run, with
        the parameters, the recorded results and ``status``.
    x : str
        The parameter on the horizontal axis: numbers are placed by value, anything else
        (strings, booleans) as equally spaced categories.
    y : str
        The recorded result on the vertical axis (a number in every drawn row).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    seed : str
        The parameter whose values are repetitions (averaged into error bars).
    by : sequence of str
        Other swept parameters: one line per combination of their values.
    yscale : {"linear", "log"}
        The vertical axis' scale.
    xlabel, ylabel : str, optional
        Axis labels with units; default the parameter's and the result's names.
    title : str, optional
        Defaults to ``"y against x"`` and the number of seeds.

    Returns
    -------
    matplotlib.axes.Axes
        One errorbar container per line, and a legend when there is more than one line.
    """
    by = [by] if isinstance(by, str) else list(by)
    if yscale not in ("linear", "log"):
        raise ValueError(f"yscale must be 'linear' or 'log', got {yscale!r}")
    for name, value in (("x", x), ("y", y), ("seed", seed), *(("by", b) for b in by)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a column name, got {type(value).__name__}")
    rows = [dict(row) for row in rows]
    drawn = [row for row in rows if row.get("status", "ok") == "ok"]
    if not drawn:
        raise ValueError("rows holds no successful run to draw")
    for row in drawn:
        for name in (x, *by):
            if name not in row:
                raise ValueError(f"{name!r} is not a column of the table "
                                 f"(columns: {', '.join(row)})")
        value = row.get(y)
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not math.isfinite(value)):
            raise ValueError(f"y={y!r} must be a finite number in every successful run, got "
                             f"{value!r} in run {row.get('run', '?')}")
    x_values = list(dict.fromkeys(row[x] for row in drawn))
    numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in x_values)
    position = ({v: float(v) for v in x_values} if numeric
                else {v: float(k) for k, v in enumerate(x_values)})
    lines: dict[tuple, list[dict]] = {}
    for row in drawn:
        lines.setdefault(tuple(row[k] for k in by), []).append(row)

    ax = _new_axes(ax)
    n_seeds = max(len({r.get(seed) for r in group if r[x] == v})
                  for group in lines.values() for v in x_values)
    for k, (key, group) in enumerate(lines.items()):
        colour = PALETTE[k % len(PALETTE)]
        xs = [v for v in x_values if any(r[x] == v for r in group)]
        per_x = [[float(r[y]) for r in group if r[x] == v] for v in xs]
        mean = np.array([np.mean(values) for values in per_x])
        spread = np.array([np.std(values, ddof=1) if len(values) > 1 else 0.0
                           for values in per_x])
        label = ", ".join(f"{name}={value}" for name, value in zip(by, key)) or None
        ax.errorbar([position[v] for v in xs], mean, yerr=spread, color=colour, marker="o",
                    capsize=4, linewidth=1.8, label=label)
        for v, values in zip(xs, per_x):
            ax.scatter(np.full(len(values), position[v]), values, color=colour, s=12,
                       alpha=0.45, zorder=3)
    if not numeric or len(x_values) <= 12:  # a tick at every swept value
        ax.set_xticks(list(position.values()), [str(v) for v in x_values])
    if len(lines) > 1:
        ax.legend(fontsize="small")
    ax.set_xlabel(xlabel if xlabel is not None else x)
    ax.set_ylabel(ylabel if ylabel is not None else y)
    ax.set_yscale(yscale)
    bars = (f"mean and standard deviation over {n_seeds} seeds" if n_seeds > 1
            else "one seed per point")
    ax.set_title(title if title is not None else f"{y} against {x}\n({bars})")
    return ax

