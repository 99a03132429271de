"""Chapters as parameterized experiments: runs and sweeps with papermill, and their command line.

Chapter 8 ("Running the book as experiments") shows all of this at work.

A chapter (a jupytext MyST notebook, ``notebooks/NN_name.md``) is a function of its
``parameters`` cell. :func:`run_chapter` executes it with papermill for one set of parameters;
:func:`sweep` executes it over a grid, in parallel on local processes or on a Dask cluster. A
chapter reports its headline numbers with :func:`record`; each run's folder holds the executed
notebook (``notebook.ipynb``) and a JSON of what it recorded (``results.json``), and a sweep
gathers them into one tidy CSV (``sweep.csv``) and a figure (``sweep.png``).

One module per idea; the names in each module's ``__all__`` are importable from here (its
other unprefixed names, such as a run described as a task dict, are the building blocks the
modules share):

========================  =====================================================================
:mod:`.recording`          :func:`record`, :func:`collect_records`: a chapter's headline numbers
:mod:`.parameters`         the ``parameters`` cell's grammar (types, ranges, help) and the checks
:mod:`.run`                one run: :func:`run_chapter`, :func:`read_run`, :func:`run_name`
:mod:`.sweeps`             :func:`sweep` over a :func:`load_grid` grid, its :class:`SweepResult`
:mod:`.cli`                :func:`main`, the command line ``python -m srmlib.runs`` (``srmlib-run``)
========================  =====================================================================

The package imports papermill, jupytext, YAML, Dask and matplotlib only when a function needs
them, so ``from srmlib.runs import record`` in a chapter costs little.
"""

from .cli import main
from .parameters import (
    Chapter,
    Parameter,
    chapter_parameters,
    load_chapter,
    load_yaml,
    resolve_chapter,
    validate_parameters,
)
from .recording import RESULTS_MIME, collect_records, record
from .run import RunResult, read_run, run_chapter, run_name
from .sweeps import Grid, SweepResult, load_grid, sweep

__all__ = [
    "RESULTS_MIME",
    "Chapter",
    "Grid",
    "Parameter",
    "RunResult",
    "SweepResult",
    "chapter_parameters",
    "collect_records",
    "load_chapter",
    "load_grid",
    "load_yaml",
    "main",
    "read_run",
    "record",
    "resolve_chapter",
    "run_chapter",
    "run_name",
    "sweep",
    "validate_parameters",
]
