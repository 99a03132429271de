"""Exercises of chapter 8, "Running the book as experiments".

:func:`check_grid_points`, :func:`check_seed_summary` and the prediction
:func:`check_parameters_prediction`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._checks import Prediction, as_array, check_callable, fail, hint


def check_grid_points(fn: Callable) -> None:
    """Check ``fn(grid, fixed)``: the parameters of every run a sweep makes, in its order.

    The reference is ``srmlib.runs.load_grid({"grid": grid, "fixed": fixed}).points()``: one
    run per combination of the grid's values (their product, the first parameter varying
    slowest), each carrying the fixed values too.

    Parameters
    ----------
    fn : callable
        ``fn(grid, fixed)`` with ``grid`` a dict of parameter name to a list of values and
        ``fixed`` a dict of parameter name to a value; returns a list of dicts, one per run.

    Raises
    ------
    AssertionError
        On the first wrong list of runs, naming the grid and, for common mistakes, what went
        wrong.
    """
    from ..runs import load_grid  # here, not at the top: `import srmlib` stays free of runs

    check_callable(fn, "fn")
    cases = [
        ({"n_dims": [4, 8], "seed": [0, 1, 2]}, {"quick": True}),
        ({"seed": [3]}, {}),
        ({"kind": ["relu", "topk"], "l1": [0.1, 0.3, 1.0], "quick": [True, False]},
         {"seed": 0, "n_hidden": 3}),
        ({"n_dims": [16, 4, 8]}, {"quick": True, "seed": 5}),
    ]
    for grid, fixed in cases:
        expected = load_grid({"grid": grid, "fixed": fixed}).points()
        where = f"fn(grid={grid}, fixed={fixed})"
        got = fn({k: list(v) for k, v in grid.items()}, dict(fixed))
        try:
            got = [dict(run) for run in got]
        except (TypeError, ValueError):
            raise AssertionError(f"{where} returned {type(got).__name__}; return a list with "
                                 "one dict of parameters per run") from None
        if got == expected:
            continue
        message = (f"{where}:\n  expected {len(expected)} runs {expected}\n"
                   f"  got      {len(got)} runs {got}")
        n_zipped = min(len(values) for values in grid.values())
        if sorted(map(_key, got)) == sorted(map(_key, expected)):
            advice = ("the runs are right but in another order: the first parameter of the "
                      "grid varies slowest, as in nested loops over the lists in order "
                      "(itertools.product)")
        elif any(name not in run for run in got for name in fixed):
            advice = "every run also carries the fixed values"
        elif len(got) == n_zipped != len(expected):
            advice = ("one run per combination of the values (their product, "
                      f"{' x '.join(str(len(v)) for v in grid.values())} = {len(expected)} "
                      "runs), not one per position in the lists (zip)")
        else:
            advice = None
        raise AssertionError(message + (f"\n  hint: {advice}" if advice else ""))
    print(f"check_grid_points passed: {len(cases)} grids (one to three swept parameters, "
          "fixed values, an unsorted list).")


def _key(run: dict) -> str:
    """A run's parameters as text that does not depend on their order."""
    return repr(sorted(run.items(), key=lambda item: str(item[0])))


def check_seed_summary(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(rows, name)``: the mean and standard error over seeds of a recorded result.

    ``rows`` are the rows of one grid point of a sweep's table
    (:attr:`srmlib.runs.SweepResult.rows`), one per seed: ``run``, ``seed``, ``status`` and the
    recorded results. Only the runs with ``status == "ok"`` have results (a failed or missing
    run has ``None``). The expected value is the mean over those runs and its standard error
    ``s / sqrt(m)``, with ``s`` the standard deviation over the ``m`` seeds (``ddof=1``): seeds
    are the independent units of an experiment.

    Parameters
    ----------
    fn : callable
        ``fn(rows, name)`` with a list of dicts and the name of a result; returns
        ``(mean, sem)``.
    seed : int
        Seed of the random results.

    Raises
    ------
    AssertionError
        On the first wrong pair, naming the case.
    """
    check_callable(fn, "fn")
    rng = np.random.default_rng(seed)

    def rows(values, status=None):
        status = status or ["ok"] * len(values)
        return [{"run": f"n_dims=8_seed={s}", "n_dims": 8, "seed": s, "status": st,
                 "ratio": float(v) if st == "ok" else None, "error": None if st == "ok"
                 else "AssertionError", "seconds": 1.0} for s, (v, st)
                in enumerate(zip(values, status))]

    cases = [
        ("four seeds", rows(rng.normal(10.0, 2.0, 4))),
        ("two seeds", rows([1.0, 2.0])),
        ("ten seeds", rows(rng.lognormal(0.0, 1.0, 10))),
        ("a failed and a missing run among five", rows(rng.normal(3.0, 1.0, 5),
                                                       ["ok", "failed", "ok", "missing", "ok"])),
    ]
    for name, table in cases:
        where = f"fn(rows, 'ratio') [{name}]"
        values = np.array([row["ratio"] for row in table if row["status"] == "ok"])
        m = len(values)
        expected = np.array([values.mean(), values.std(ddof=1) / math.sqrt(m)])
        unfinished = any(row["ratio"] is None for row in table)
        advice = ("\n  hint: a failed or missing run has no results (None): keep the rows whose "
                  "status is 'ok'")
        try:
            got = as_array(fn([dict(row) for row in table], "ratio"), where, (2,))
        except (TypeError, ValueError) as err:
            if unfinished:
                raise AssertionError(f"{where} raised {type(err).__name__}: {err}"
                                     f"{advice}") from None
            raise
        except AssertionError as err:
            if unfinished and "NaN" in str(err):
                raise AssertionError(f"{err}{advice}") from None
            raise
        if np.allclose(got, expected, rtol=1e-9, atol=1e-12):
            continue
        sd = values.std(ddof=1)
        hints = [
            ([values.mean(), sd], "that is the standard deviation over seeds; the standard "
                                  "error of the mean divides it by sqrt(number of seeds)"),
            ([values.mean(), values.std() / math.sqrt(m)],
             "the standard deviation of a sample estimates the spread with ddof=1 (divide by "
             "m - 1), as numpy's std(ddof=1)"),
            ([values.mean(), sd / math.sqrt(len(table))],
             "divide by the square root of the number of successful runs, not of all rows"),
        ]
        fail(where, expected, got, hint(got, hints, atol=1e-12))
    print(f"check_seed_summary passed: {len(cases)} tables (two to ten seeds, failed and "
          "missing runs).")


#: Which parameters chapter 1 accepts. Chapter 8 measures it after the exercise (by asking
#: srmlib.runs) and asserts that the outcome is :attr:`Prediction.correct`.
PARAMETERS_PREDICTION = Prediction(
    "check_parameters_prediction",
    {"a": '{"n_dims": 8.0}', "b": '{"n_dims": 32, "seed": 7}', "c": '{"quick": "True"}',
     "d": '{"seed": -1}'},
    correct="b",
    why="A range in [a, b] includes both ends, so 32 is in [4, 32]; the others are refused "
        "before a kernel starts.",
    hints={
        "a": "8.0 is a float, and n_dims is an int: an int is accepted where a float is "
             "expected, not the reverse",
        "c": '"True" is a string. On the command line, -p quick True is read as YAML and '
             "becomes a bool; from Python, run_chapter takes the values as you give them",
        "d": "seed is in [0, inf): -1 is below its range",
    },
)

#: The parameters of each choice of :data:`PARAMETERS_PREDICTION`, for the chapter to try.
PARAMETERS_CHOICES = {"a": {"n_dims": 8.0}, "b": {"n_dims": 32, "seed": 7},
                      "c": {"quick": "True"}, "d": {"seed": -1}}


def check_parameters_prediction(answer: str) -> None:
    """Check a prediction: which of four sets of parameters chapter 1 accepts.

    Raises
    ------
    AssertionError
        For a wrong or unknown label, with a hint.
    """
    PARAMETERS_PREDICTION.check(answer)
