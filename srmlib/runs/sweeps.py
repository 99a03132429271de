"""Sweeps: a chapter run at every point of a grid, in parallel, resumably, gathered into a table.

:func:`load_grid` reads the grid (a YAML file or a mapping), :func:`sweep` runs it on local
processes or a Dask cluster and returns a :class:`SweepResult`: one row per run, written to
``sweep.csv``, with the headline figure ``sweep.png``
(:func:`srmlib.plotting.runs.plot_sweep`). Each run is one :mod:`srmlib.runs.run`.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import numbers
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write
from .parameters import Chapter, load_chapter, read_yaml_file, validate_parameters
from .recording import format_value
from .run import (
    NOTEBOOK_FILE,
    RunResult,
    execute,
    execute_in_new_process,
    make_task,
    out_folder,
    read_run,
    save_run,
)

__all__ = ["Grid", "SweepResult", "load_grid", "sweep"]


@dataclass(frozen=True)
class Grid:
    """A sweep's grid: every combination of ``grid``'s lists, plus ``fixed`` values."""

    grid: dict[str, list]
    fixed: dict[str, Any]
    figure: dict[str, str]

    def points(self) -> list[dict]:
        names = list(self.grid)
        return [{**self.fixed, **dict(zip(names, values))}
                for values in itertools.product(*self.grid.values())]


def load_grid(spec) -> Grid:
    """Read a sweep's grid from a YAML file (or an equivalent mapping).

    A grid file::

        grid:            # every combination of these lists is one run
          n_dims: [4, 8]
          seed: [0, 1, 2]
        fixed:           # the same for every run
          quick: true
        figure:          # optional: the result (y) drawn against a parameter (x)
          x: n_dims
          y: resonance_ratio
          yscale: log    # or linear (the default)
    """
    if isinstance(spec, (str, os.PathLike)):
        spec = read_yaml_file(spec, "grid file")
    if not isinstance(spec, Mapping):
        raise TypeError(f"the grid must be a mapping with keys grid, fixed, figure; got "
                        f"{type(spec).__name__}")
    extra = set(spec) - {"grid", "fixed", "figure"}
    if extra:
        raise ValueError(f"the grid has unknown key(s) {sorted(extra)}; use grid, fixed, figure")
    grid, fixed, figure = spec.get("grid") or {}, spec.get("fixed") or {}, spec.get("figure") or {}
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("the grid needs a non-empty mapping 'grid' of parameter -> list of values")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"grid: {name} must be a non-empty list (single values go under "
                             f"'fixed'), got {values!r}")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise ValueError(f"grid: {name} lists a value twice: {values}")
    if not isinstance(fixed, Mapping):
        raise ValueError(f"fixed must be a mapping of parameter -> value, got {fixed!r}")
    both = set(grid) & set(fixed)
    if both:
        raise ValueError(f"parameter(s) {sorted(both)} are both in grid and in fixed")
    if not isinstance(figure, Mapping) or set(figure) - {"x", "y", "yscale"}:
        raise ValueError(f"figure must be a mapping with keys x, y and yscale, got {figure!r}")
    if figure.get("yscale", "linear") not in ("linear", "log"):
        raise ValueError(f"figure: yscale must be linear or log, got {figure['yscale']!r}")
    if "x" in figure and figure["x"] not in grid:
        raise ValueError(f"figure: x={figure['x']!r} must be a parameter of the grid "
                         f"({', '.join(grid)})")
    return Grid(dict(grid), dict(fixed), dict(figure))


@dataclass(repr=False)
class SweepResult:
    """A sweep's tidy table and where its files are.

    Attributes
    ----------
    chapter : str
    out : Path
        One folder per run, ``sweep.csv`` and ``sweep.png``.
    parameters, results : list of str
        The table's parameter and result columns, in order (a result named like a parameter
        gets the column ``<name>_result``).
    rows : list of dict
        One per grid point: ``run``, the parameters, the results, ``status`` (``"ok"``,
        ``"failed"``, or ``"missing"`` if the sweep was interrupted before it finished),
        ``error`` and ``seconds``.
    reused : list of str
        Runs found finished in ``out`` and not executed again.
    csv_path, figure_path : Path or None
    """

    chapter: str
    out: Path
    parameters: list[str]
    results: list[str]
    rows: list[dict]
    reused: list[str]
    csv_path: Path
    figure_path: Path | None = None

    @property
    def columns(self) -> list[str]:
        return ["run", *self.parameters, *self.results, "status", "error", "seconds"]

    def column(self, name: str) -> list:
        """The values of one column, one per row."""
        if name not in self.columns:
            raise ValueError(f"no column {name!r}; columns: {', '.join(self.columns)}")
        return [row.get(name) for row in self.rows]

    def count(self, status: str) -> int:
        return sum(row["status"] == status for row in self.rows)

    @property
    def complete(self) -> bool:
        """Every run finished (``ok`` or ``failed``)."""
        return self.count("missing") == 0

    def __repr__(self) -> str:
        return (f"SweepResult({self.chapter!r}: {len(self.rows)} runs, {self.count('ok')} ok, "
                f"{self.count('failed')} failed, {self.count('missing')} missing; {self.out})")

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>"
                                        for c in self.columns) + "</tr>" for row in self.rows)
        return (f"<table><caption>{html.escape(self.chapter)}: {len(self.rows)} runs</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def __str__(self) -> str:
        cells = [self.columns] + [[_cell(row.get(c)) for c in self.columns] for row in self.rows]
        widths = [max(len(r[k]) for r in cells) for k in range(len(self.columns))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value)
    return format_value(value)


def sweep(chapter, grid, *, out=None, jobs: int | None = None, scheduler: str | None = None,
          progress: bool = True) -> SweepResult:
    """Run a chapter at every point of a grid, in parallel, resumably; gather a tidy table.

    Every point is validated before anything starts. Runs already finished in ``out`` (a
    complete ``results.json`` with status ``ok`` and the same parameters) are reused, so an
    interrupted sweep, run again, executes only what is missing; failed runs are executed again.
    A failing run is recorded (its error and partial notebook) and the others go on. Each run's
    files are written atomically as it finishes, then the table (``sweep.csv``) and, when at
    least one run succeeded, the headline figure (``sweep.png``,
    :func:`srmlib.plotting.runs.plot_sweep`).

    Parameters
    ----------
    chapter : str or path
        A path, or a short name like ``"01"``.
    grid : path or mapping
        See :func:`load_grid`.
    out : path, optional
        Default ``_build/runs/<chapter name>``.
    jobs : int, optional
        Local worker processes (default: the number of CPUs, at most one per run).
    scheduler : str, optional
        A Dask scheduler address like ``"tcp://10.0.0.5:8786"``: run on that cluster instead
        (its workers need srmlib and the chapter's dependencies installed; files are written
        here, by this process). ``jobs`` is then ignored.
    progress : bool
        Show a progress bar over runs.

    Returns
    -------
    SweepResult
    """
    chapter = load_chapter(chapter)
    spec = load_grid(grid)
    points = [validate_parameters(chapter, point) for point in spec.points()]
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, numbers.Integral)
                             or jobs < 1):
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    if scheduler is not None and not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address string, got {type(scheduler).__name__}")
    out = out_folder(out, chapter)
    tasks = [make_task(chapter, point) for point in points]
    done = {task["name"]: run for task in tasks if (run := _finished(out, task))}
    reused = list(done)
    todo = [task for task in tasks if task["name"] not in done]
    with contextlib.ExitStack() as stack:
        if scheduler and todo:  # reached before any folder is created
            client = stack.enter_context(_connect(scheduler))
            runs = _dask_runs(todo, client)
        else:
            runs = _local_runs(todo, jobs)
        out.mkdir(parents=True, exist_ok=True)
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), initial=len(done), desc=f"sweep {chapter.name}",
                   unit="run", disable=not progress)
        with bar:
            for task, outcome in runs:
                if outcome is not None:
                    done[task["name"]] = save_run(out, task, outcome)
                bar.update()
    return _gather(chapter, spec, tasks, done, reused, out)


#: How long :func:`sweep` waits for a Dask scheduler before giving up.
CONNECT_TIMEOUT = "30s"


def _connect(scheduler: str):
    """A Dask client of ``scheduler``; ``ValueError`` naming the address if it is unreachable."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as err:
        detail = " ".join(str(err).split())[:300] or type(err).__name__
        raise ValueError(f"cannot reach the Dask scheduler {scheduler!r} within "
                         f"{CONNECT_TIMEOUT}: {detail}") from None


def _finished(out: Path, task: dict) -> RunResult | None:
    run = read_run(out / task["name"])
    if (run is None or not run.ok or run.parameters != task["parameters"]
            or not (out / task["name"] / NOTEBOOK_FILE).is_file()):
        return None
    return run


def _local_runs(tasks: list[dict], jobs: int | None) -> Iterable:
    """``(task, outcome)`` as runs finish on local processes; outcome ``None`` if a worker died."""
    if not tasks:
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    jobs = min(jobs or os.cpu_count() or 1, len(tasks))
    context = multiprocessing.get_context("spawn")  # never fork a kernel or a threaded process
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    finished = False
    try:
        futures = {pool.submit(execute, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except BrokenProcessPool:
                outcome = None
            yield futures[future], outcome
        finished = True
    finally:  # interrupted: do not wait for the runs still going
        pool.shutdown(wait=finished, cancel_futures=True)


def _dask_runs(tasks: list[dict], client) -> Iterable:
    """``(task, outcome)`` as runs finish on a Dask cluster (``client``, see :func:`_connect`);
    outcome ``None`` if a task was lost."""
    if not tasks:
        return
    from distributed import as_completed

    futures = {client.submit(execute_in_new_process, task, pure=False,
                             key=f"srmlib-run-{task['name']}-{os.urandom(4).hex()}"): task
               for task in tasks}
    for future in as_completed(futures):
        try:
            yield futures[future], future.result()
        except Exception as err:  # a worker died (KilledWorker), a process failed, ...
            warnings.warn(f"run {futures[future]['name']} was lost on the cluster: {err}",
                          stacklevel=2)
            yield futures[future], None


def _gather(chapter: Chapter, spec: Grid, tasks: list[dict], done: dict, reused: list[str],
            out: Path) -> SweepResult:
    parameters = [name for name in chapter.parameters
                  if name in spec.grid or name in spec.fixed]
    recorded = sorted({name for run in done.values() for name in run.results})
    column = {name: f"{name}_result" if name in parameters else name for name in recorded}
    rows = []
    for task in tasks:
        run = done.get(task["name"])
        row = {"run": task["name"], **task["parameters"]}
        row.update({column[name]: None if run is None else run.results.get(name)
                    for name in recorded})
        if run is None:
            row.update(status="missing", error=None, seconds=None)
        else:
            row.update(status=run.status, error=run.error, seconds=run.seconds)
        rows.append(row)
    results = list(column.values())
    table = SweepResult(chapter.name, out, parameters, results, rows,
                        reused, csv_path=out / "sweep.csv")
    _write_csv(table)
    table.figure_path = _draw(table, spec)
    return table


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _write_csv(table: SweepResult) -> None:
    import csv

    with atomic_write(table.csv_path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow(["" if row.get(c) is None else
                             json.dumps(row[c]) if isinstance(row.get(c), list) else row[c]
                             for c in table.columns])


def _draw(table: SweepResult, spec: Grid) -> Path | None:
    x = spec.figure.get("x") or next((n for n in spec.grid if n != "seed"), next(iter(spec.grid)))
    numeric = [name for name in table.results
               if any(_is_number(row.get(name)) for row in table.rows)]
    y = spec.figure.get("y") or (numeric[0] if numeric else None)
    if y is None or table.count("ok") == 0:
        return None
    if y not in numeric:
        warnings.warn(f"no figure: the runs recorded no number named {y!r} "
                      f"(numbers: {', '.join(numeric) or 'none'})", stacklevel=3)
        return None
    import matplotlib.pyplot as plt

    from ..plotting.runs import plot_sweep

    by = [name for name in spec.grid if name not in (x, "seed")]
    ax = plot_sweep(table.rows, x, y, by=by, yscale=spec.figure.get("yscale", "linear"))
    path = table.out / "sweep.png"
    try:
        with atomic_write(path, binary=True) as handle:
            ax.figure.savefig(handle, format="png", dpi=120)
    finally:
        plt.close(ax.figure)
    return path
