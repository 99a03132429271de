"""Chapters as parameterized experiments: runs and sweeps with papermill, and their command line.

Chapter 7 ("Running the book as experiments") shows all of this at work.

A chapter (a jupytext MyST notebook, ``notebooks/NN_name.md``) is a function of its
``parameters`` cell. :func:`run_chapter` executes it with papermill for one set of parameters;
:func:`sweep` executes it over a grid, in parallel on local processes or on a Dask cluster. A
chapter reports its headline numbers with :func:`record`; each run's folder holds the executed
notebook (``notebook.ipynb``) and a JSON of what it recorded (``results.json``), and a sweep
gathers them into one tidy CSV (``sweep.csv``) and a figure (``sweep.png``).

The parameters cell
-------------------
One line per parameter, typed and commented, as papermill reads it (``--help-notebook``)::

    quick: bool = False  # shrink every computation (tests, a first read)
    seed: int = 0  # in [0, inf): one seed for every random draw
    n_dims: int = 8  # in [2, 64]: dimension of the synthetic activations
    kind: str = "relu"  # in {"relu", "topk"}: which sparse autoencoder

- The annotation is the type: ``bool``, ``int``, ``float``, ``str`` or ``list[T]`` of one of
  these. Without one, the type of the default is used. An ``int`` is accepted for a ``float``;
  ``None`` only where the default is ``None``.
- The comment is the help. It may start with a range and a colon: ``in [a, b]`` (closed),
  ``in (a, b)`` (open), ``in [a, b)`` or ``in (a, b]`` (half-open), with ``inf``/``-inf`` for
  no bound, or ``in {v1, v2}`` (Python literals) for a choice. A list's range applies to each
  element.
  A range says which values the chapter is written for; its assertions still test its claims
  at every value, and a run where one fails is recorded as failed.
- No second ``=`` on the line (not even ``>=`` in the comment): papermill skips such lines, and
  :func:`chapter_parameters` refuses a chapter where it would.

Values are checked against the cell before anything runs: unknown names, wrong types and values
out of range raise ``ValueError``/``TypeError`` listing the valid parameters.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import html
import itertools
import json
import keyword
import math
import numbers
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._validation import in_interval

__all__ = [
    "RESULTS_MIME",
    "Chapter",
    "Parameter",
    "RunResult",
    "SweepResult",
    "chapter_parameters",
    "collect_records",
    "load_chapter",
    "load_grid",
    "main",
    "read_run",
    "record",
    "resolve_chapter",
    "run_chapter",
    "run_name",
    "sweep",
    "validate_parameters",
]

#: The mime type of :func:`record`'s output in a notebook: a JSON object of name -> value.
RESULTS_MIME = "application/vnd.srmlib.results+json"

RESULTS_FILE = "results.json"
NOTEBOOK_FILE = "notebook.ipynb"
_RESERVED = frozenset({"run", "status", "error", "seconds"})  # the table's own columns
_MAX_LIST = 100
_MAX_NAME = 80
_SCALARS = {"bool": bool, "int": int, "float": float, "str": str}
_CHAPTERS = Path(__file__).resolve().parents[1] / "notebooks"


# --------------------------------------------------------------------------- recording results


def record(**values) -> dict[str, Any]:
    """Record a chapter's headline numbers, so that a run's results can be read back.

    Call it once (or a few times: later values of a name replace earlier ones) near the end of
    a chapter, for example ``record(resonance_ratio=1.8, p_value=0.02)``. In Jupyter it shows a
    small table of the values; under :func:`run_chapter` and :func:`sweep` the values also land
    in the run's ``results.json`` and in the sweep's table.

    How the values travel: ``record`` displays them as an output with the mime type
    :data:`RESULTS_MIME` (next to ``text/plain`` and ``text/html`` tables, which is what
    Jupyter and the book show), and the runner reads them from the executed notebook. So the
    results are part of the notebook a run leaves behind, need no side channel (no file, no
    environment variable) and cannot get mixed up between runs executing at the same time in
    processes, threads or on the machines of a Dask cluster: each run's kernel writes only to
    its own notebook. Outside IPython the table is printed.

    Parameters
    ----------
    **values
        Names must be Python identifiers other than ``run``, ``status``, ``error`` and
        ``seconds`` (the columns a sweep's table adds). Values: ``bool``, ``int``, finite
        ``float``, ``str``, numpy scalars and 0-d arrays (converted to Python), or flat lists,
        tuples and 1-d arrays of those with at most 100 elements.

    Returns
    -------
    dict
        The recorded values, converted to plain Python (assign it, or the notebook shows it
        a second time).

    Raises
    ------
    TypeError
        For a value of another type.
    ValueError
        For no values, a bad name, NaN or infinity, or a list too long.
    """
    if not values:
        raise ValueError("record() needs at least one name=value")
    clean = {name: _clean_value(name, value) for name, value in values.items()}
    bundle = {RESULTS_MIME: clean, "text/plain": _text_table(clean),
              "text/html": _html_table(clean)}
    shell = None
    with contextlib.suppress(ImportError):
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        print(bundle["text/plain"])
    else:
        from IPython.display import display

        display(bundle, raw=True)
    return clean


def collect_records(notebook) -> dict[str, Any]:
    """Every value :func:`record` displayed in an executed notebook (later calls win).

    Parameters
    ----------
    notebook : nbformat.NotebookNode, dict, str or path
        The notebook, its JSON text, or the path of an ``.ipynb`` file.
    """
    if isinstance(notebook, (str, os.PathLike)):
        text = str(notebook)
        if not text.lstrip().startswith("{"):
            text = Path(notebook).read_text()
        notebook = json.loads(text)
    found: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if RESULTS_MIME in data:
                values = data[RESULTS_MIME]
                found.update(json.loads(values) if isinstance(values, str) else values)
    return found


def _clean_value(name: str, value):
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"record: {name!r} is not a valid name (use a Python identifier)")
    if name in _RESERVED:
        raise ValueError(f"record: {name!r} is reserved for a sweep's table; choose another name")
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if type(value).__module__ == "numpy":
        import numpy as np

        value = np.asarray(value)
        if value.ndim > 1:
            raise ValueError(f"record: {name} must be a number, a string or a flat list, "
                             f"got an array of shape {value.shape}")
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if len(value) > _MAX_LIST:
            raise ValueError(f"record: {name} has {len(value)} elements; record at most "
                             f"{_MAX_LIST} (a summary, not the data)")
        return [_clean_scalar(f"{name}[{k}]", v) for k, v in enumerate(value)]
    return _clean_scalar(name, value)


def _clean_scalar(name: str, value):
    if isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
        if math.isnan(value):
            raise ValueError(f"record: {name} is NaN; record only finite numbers")
        if math.isinf(value):
            raise ValueError(f"record: {name} is infinite; record only finite numbers")
        return value
    if isinstance(value, bool):
        return value
    raise TypeError(f"record: {name} must be a bool, int, float, str or a flat list of these, "
                    f"got {type(value).__name__}")


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


def _text_table(values: Mapping) -> str:
    width = max(len(name) for name in values)
    return "\n".join(f"{name:<{width}}  {_format(v)}" for name, v in values.items())


def _html_table(values: Mapping, caption: str = "Recorded results") -> str:
    rows = "".join(f"<tr><td><code>{html.escape(name)}</code></td>"
                   f"<td>{html.escape(_format(v))}</td></tr>" for name, v in values.items())
    return f"<table><caption>{caption}</caption><tbody>{rows}</tbody></table>"


# --------------------------------------------------------------------------- chapters, parameters


@dataclass(frozen=True)
class Parameter:
    """One parameter of a chapter, read from its ``parameters`` cell.

    Attributes
    ----------
    name, type, default, help
        ``type`` is ``"bool"``, ``"int"``, ``"float"``, ``"str"``, ``"list[T]"`` or ``None``
        (unchecked: no annotation and a default that is not a literal).
    low, high : float or None
        Range bounds; ``low_open``/``high_open`` tell whether they are excluded.
    choices : tuple or None
        The allowed values, from ``in {...}``.
    """

    name: str
    type: str | None
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None

    def describe(self) -> str:
        """``name (type, range)``: the short form used in error messages."""
        details = [self.type or "any"]
        if self.range_text():
            details.append(self.range_text())
        return f"{self.name} ({', '.join(details)})"

    def range_text(self) -> str:
        if self.choices is not None:
            return "in {" + ", ".join(repr(c) for c in self.choices) + "}"
        if self.low is None and self.high is None:
            return ""
        low = "-inf" if self.low is None else _number(self.low)
        high = "inf" if self.high is None else _number(self.high)
        return (f"in {'(' if self.low_open or self.low is None else '['}{low}, {high}"
                f"{')' if self.high_open or self.high is None else ']'}")

    def check(self, value):
        """``value`` converted to this parameter's type; ``TypeError`` or ``ValueError`` if it
        does not fit."""
        if value is None and self.default is None:
            return None
        if self.type is None:
            return value
        if self.type.startswith("list["):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"parameter {self.name} must be a {self.type}, got "
                                f"{type(value).__name__} {value!r}")
            return [self._check_scalar(v, self.type[5:-1]) for v in value]
        return self._check_scalar(value, self.type)

    def _check_scalar(self, value, kind: str):
        ok = {"bool": isinstance(value, bool),
              "int": isinstance(value, numbers.Integral) and not isinstance(value, bool),
              "float": isinstance(value, numbers.Real) and not isinstance(value, bool),
              "str": isinstance(value, str)}[kind]
        if not ok:
            raise TypeError(f"parameter {self.name} must be {kind}, got {type(value).__name__} "
                            f"{value!r}")
        value = _SCALARS[kind](value)
        if kind == "float" and math.isnan(value):
            raise ValueError(f"parameter {self.name} must not be NaN")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"parameter {self.name} must be {self.range_text()}, got {value!r}")
        if kind in ("int", "float") and not in_interval(
                value, self.low, self.high, low_open=self.low_open, high_open=self.high_open):
            raise ValueError(f"parameter {self.name} must be {self.range_text()}, got {value!r}")
        return value


@dataclass(frozen=True)
class Chapter:
    """A chapter source and its parameters, ready to run.

    Attributes
    ----------
    path : Path
        The jupytext ``.md`` (or ``.ipynb``) source.
    name : str
        Its stem, e.g. ``"01_spotlight_resonance"``.
    notebook_json : str
        The notebook, converted to ``.ipynb`` JSON.
    parameters : dict of str to Parameter
        In the order of the ``parameters`` cell.
    """

    path: Path
    name: str
    notebook_json: str = field(repr=False)
    parameters: dict[str, Parameter] = field(repr=False)

    def usage(self) -> str:
        """One line listing the valid parameters."""
        listed = ", ".join(p.describe() for p in self.parameters.values())
        return f"valid parameters of {self.name}: {listed or '(none)'}"


def resolve_chapter(chapter) -> Path:
    """The source file of ``chapter``: a path, or a short name like ``"01"`` or
    ``"01_spotlight_resonance"`` looked up in ``notebooks/`` (of the working directory, then of
    the srmlib checkout)."""
    if isinstance(chapter, Chapter):
        return chapter.path
    if not isinstance(chapter, (str, os.PathLike)):
        raise TypeError(f"chapter must be a path or a name like '01', got {type(chapter).__name__}")
    path = Path(chapter)
    if path.is_file():
        return path.resolve()
    text = str(chapter)
    if os.sep in text or path.suffix in (".md", ".ipynb"):
        raise ValueError(f"chapter {text!r}: no such file")
    folders = [Path.cwd() / "notebooks", _CHAPTERS]
    for folder in dict.fromkeys(f.resolve() for f in folders if f.is_dir()):
        found = sorted(p for p in folder.glob("*.md")
                       if p.stem == text or p.stem.split("_", 1)[0] == text)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise ValueError(f"chapter {text!r} is ambiguous: {', '.join(p.stem for p in found)}")
    available = sorted(p.stem for f in folders if f.is_dir() for p in f.glob("*.md"))
    raise ValueError(f"chapter {text!r} not found; chapters: {', '.join(available) or '(none)'}")


def load_chapter(chapter) -> Chapter:
    """Read a chapter (path or short name) and its ``parameters`` cell (see the module
    docstring)."""
    if isinstance(chapter, Chapter):
        return chapter
    import jupytext
    import nbformat
    from papermill.inspection import inspect_notebook

    path = resolve_chapter(chapter)
    notebook = jupytext.read(path)
    text = nbformat.writes(notebook)
    with tempfile.TemporaryDirectory() as tmp:
        ipynb = Path(tmp) / "chapter.ipynb"
        ipynb.write_text(text)
        inferred = inspect_notebook(ipynb)
    assigned = _assigned_names(notebook)
    unread = [name for name in assigned if name not in inferred]
    if unread:
        raise ValueError(f"chapter {path.stem}: papermill cannot read parameter(s) "
                         f"{', '.join(unread)} (one assignment per line and no other '=' on it)")
    parameters = {name: _parse_parameter(path.stem, info) for name, info in inferred.items()}
    return Chapter(path, path.stem, text, parameters)


def chapter_parameters(chapter) -> dict[str, Parameter]:
    """The parameters of a chapter (path or short name), in the order of its ``parameters`` cell."""
    return load_chapter(chapter).parameters


def validate_parameters(chapter, parameters: Mapping | None) -> dict[str, Any]:
    """Check ``parameters`` against the chapter's ``parameters`` cell, before anything runs.

    Returns
    -------
    dict
        The given parameters in the chapter's order, converted to their types.

    Raises
    ------
    ValueError
        For an unknown name or a value out of range; the message lists the valid parameters.
    TypeError
        For a value of the wrong type.
    """
    chapter = load_chapter(chapter)
    parameters = dict(parameters or {})
    unknown = [name for name in parameters if name not in chapter.parameters]
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))}; {chapter.usage()}")
    checked = {}
    for name, param in chapter.parameters.items():
        if name in parameters:
            try:
                checked[name] = param.check(parameters[name])
            except (TypeError, ValueError) as err:
                raise type(err)(f"{err}; {chapter.usage()}") from None
    return checked


def _assigned_names(notebook) -> list[str]:
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            names = []
            for node in tree.body:
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, ast.AnnAssign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    return []


def _parse_parameter(chapter: str, info: Mapping) -> Parameter:
    name, help_text = info["name"], info["help"]
    try:
        default = ast.literal_eval(info["default"])
    except (ValueError, SyntaxError):
        default = info["default"]
    kind = info["inferred_type_name"]
    if kind == "None":
        kind = type(default).__name__ if isinstance(default, (bool, int, float, str)) else None
    else:
        kind = re.sub(r"\s+", "", kind)
        inner = kind[5:-1] if kind.startswith("list[") and kind.endswith("]") else kind
        if inner not in _SCALARS:
            raise ValueError(f"chapter {chapter}: parameter {name} has type {kind!r}; use bool, "
                             f"int, float, str or list[...] of these")
    bounds: dict[str, Any] = {}
    match = re.match(r"in\s+([\[({].*?[\])}])\s*:\s*(.*)$", help_text, re.DOTALL)
    if match:
        bounds = _parse_range(chapter, name, match.group(1))
        help_text = match.group(2)
    param = Parameter(name, kind, default, help_text, **bounds)
    if default is not None and kind is not None:
        try:
            param.check(default)
        except (TypeError, ValueError) as err:
            raise ValueError(f"chapter {chapter}: the default of {name} does not fit its type "
                             f"or range ({err})") from None
    return param


def _parse_range(chapter: str, name: str, text: str) -> dict[str, Any]:
    if text.startswith("{"):
        try:
            choices = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"chapter {chapter}: cannot read the choices {text} of "
                             f"{name}") from None
        return {"choices": tuple(sorted(choices, key=repr))}
    match = re.fullmatch(r"([\[(])\s*([^,]+?)\s*,\s*([^,]+?)\s*([\])])", text)
    try:
        low, high = (float(v) for v in match.group(2, 3))
    except (AttributeError, ValueError):
        raise ValueError(f"chapter {chapter}: cannot read the range {text} of {name}; write it "
                         f"like [1, inf) or (0, 1]") from None
    return {"low": None if math.isinf(low) else low, "high": None if math.isinf(high) else high,
            "low_open": match.group(1) == "(", "high_open": match.group(4) == ")"}


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RunResult:
    """What one run left in its folder (``results.json``, see :func:`read_run`).

    Attributes
    ----------
    name : str
        The folder's name, from the parameters (:func:`run_name`).
    folder : Path
        Holds ``notebook.ipynb`` (executed, partial if it failed) and ``results.json``.
    chapter : str
    parameters : dict
        The parameters given to the run (the others kept their defaults).
    status : {"ok", "failed"}
    results : dict
        What the chapter recorded with :func:`record` (up to the failure, if any).
    error : str or None
        ``"ExceptionName: message (cell N: failing line)"`` when the run failed.
    seconds : float
        Wall time of the execution.
    """

    name: str
    folder: Path
    chapter: str
    parameters: dict
    status: str
    results: dict
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_name(parameters: Mapping) -> str:
    """A stable, filesystem-safe, readable folder name for a set of parameters.

    ``{"quick": True, "seed": 1}`` gives ``"quick=True_seed=1"``; no parameters give
    ``"defaults"``. When a value has characters outside ``[A-Za-z0-9.,+-]`` (replaced by ``-``)
    or the name is longer than 80 characters (cut), a hash of the parameters is appended so
    that different parameters never share a folder.
    """
    if not parameters:
        return "defaults"
    parts, changed = [], False
    for key, value in parameters.items():
        text = ",".join(map(_slug, value)) if isinstance(value, (list, tuple)) else _slug(value)
        safe = re.sub(r"[^A-Za-z0-9.,+-]", "-", text)
        changed |= safe != text or not text
        parts.append(f"{key}={safe}")
    name = "_".join(parts)
    if changed or len(name) > _MAX_NAME:
        digest = hashlib.sha1(json.dumps(dict(parameters), sort_keys=True, default=str)
                              .encode()).hexdigest()[:8]
        name = f"{name[:_MAX_NAME - 9]}-{digest}"
    return name


def _slug(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def read_run(folder) -> RunResult | None:
    """The run in ``folder``, or ``None`` if it has not finished (no complete ``results.json``)."""
    folder = Path(folder)
    try:
        data = json.loads((folder / RESULTS_FILE).read_text())
        return RunResult(folder.name, folder, data["chapter"], data["parameters"], data["status"],
                         data["results"], data["error"], data["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_chapter(chapter, parameters: Mapping | None = None, *, out=None) -> RunResult:
    """Execute a chapter once with ``parameters``, straight from its jupytext source.

    The parameters are validated first (:func:`validate_parameters`); nothing runs if they are
    wrong. The executed notebook and ``results.json`` land in ``out / run_name(parameters)``,
    each written atomically. A chapter that fails is recorded (status ``"failed"``, its error,
    the partial notebook), not raised.

    Parameters
    ----------
    chapter : str or path
        A path, or a short name like ``"01"``.
    parameters : dict, optional
        Parameter values; the others keep their defaults.
    out : path, optional
        Default ``_build/runs/<chapter name>``.

    Returns
    -------
    RunResult
    """
    chapter = load_chapter(chapter)
    checked = validate_parameters(chapter, parameters)
    out = _out_dir(out, chapter)
    task = _task(chapter, checked)
    return _save(out, task, _execute_isolated(task) if _loop_running() else _execute(task))


def _loop_running() -> bool:
    """Whether an asyncio loop runs in this thread (as in Jupyter), where papermill cannot."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _out_dir(out, chapter: Chapter) -> Path:
    if out is None:
        return Path("_build") / "runs" / chapter.name
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path, got {type(out).__name__}")
    return Path(out)


def _task(chapter: Chapter, parameters: dict) -> dict:
    return {"chapter": chapter.name, "name": run_name(parameters), "parameters": parameters,
            "notebook": chapter.notebook_json, "cwd": str(chapter.path.parent)}


def _execute(task: dict) -> dict:
    """Execute one run; never raises for the chapter's own errors. Runs in a worker process,
    a Dask worker, or the caller; writes nothing but temporary files."""
    import logging

    import papermill
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.ERROR)
    start = time.perf_counter()
    error = None
    with tempfile.TemporaryDirectory(prefix="srmlib-run-") as tmp:
        source, executed = Path(tmp) / "source.ipynb", Path(tmp) / "executed.ipynb"
        source.write_text(task["notebook"])
        cwd = task["cwd"] if os.path.isdir(task["cwd"]) else None
        try:
            papermill.execute_notebook(str(source), str(executed), parameters=task["parameters"],
                                       progress_bar=False, cwd=cwd,
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"])
        except PapermillExecutionError as err:
            error = _describe_error(err)
        except Exception as err:  # the kernel died, did not start, ...
            error = f"{type(err).__name__}: {err}"
        notebook = executed.read_text() if executed.exists() else None
    return {"notebook": notebook, "results": collect_records(notebook) if notebook else {},
            "status": "failed" if error else "ok", "error": error,
            "seconds": round(time.perf_counter() - start, 3)}


def _describe_error(err) -> str:
    """``"ename: evalue (cell N: the failing line)"`` from papermill's execution error."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err.traceback or []))
    lines = re.findall(r"^-+>\s*\d+\s+(.*)$", text, re.MULTILINE)
    where = f"cell {err.exec_count}" + (f": {lines[-1].strip()}" if lines else "")
    return f"{err.ename}: {err.evalue} ({where})" if err.evalue else f"{err.ename} ({where})"


def _execute_isolated(task: dict) -> dict:
    """:func:`_execute` in a fresh Python process: a Dask worker runs tasks in threads, and
    papermill's event loop can neither run in two threads of one process at once nor inside
    a running loop (a Jupyter kernel)."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="srmlib-task-") as tmp:
        task_file, outcome_file = Path(tmp) / "task.json", Path(tmp) / "outcome.json"
        task_file.write_text(json.dumps(task))
        code = ("import json, sys; from srmlib.runs import _execute; "
                "task = json.load(open(sys.argv[1])); "
                "json.dump(_execute(task), open(sys.argv[2], 'w'))")
        done = subprocess.run([sys.executable, "-c", code, str(task_file), str(outcome_file)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not outcome_file.exists():
            raise RuntimeError(f"the run's process failed ({done.returncode}): "
                               f"{done.stderr.strip()[-2000:]}")
        return json.loads(outcome_file.read_text())


def _save(out: Path, task: dict, outcome: dict) -> RunResult:
    """Write a run's notebook, then its results.json (the mark of a finished run), atomically."""
    folder = out / task["name"]
    folder.mkdir(parents=True, exist_ok=True)
    if outcome["notebook"] is not None:
        _write_atomic(folder / NOTEBOOK_FILE, outcome["notebook"])
    data = {"chapter": task["chapter"], "parameters": task["parameters"],
            "status": outcome["status"], "results": outcome["results"],
            "error": outcome["error"], "seconds": outcome["seconds"]}
    _write_atomic(folder / RESULTS_FILE, json.dumps(data, indent=2) + "\n")
    return RunResult(task["name"], folder, task["chapter"], task["parameters"],
                     outcome["status"], outcome["results"], outcome["error"], outcome["seconds"])


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- sweeps


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
    """Read a sweep's grid from a YAML file (or an equivalent mapping)::

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
        import yaml

        try:
            spec = yaml.safe_load(Path(spec).read_text())
        except OSError as err:
            raise ValueError(f"grid file {spec}: {err.strerror}") from None
        except yaml.YAMLError as err:
            raise ValueError(f"grid file {spec} is not valid YAML: {err}") from None
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
    return _format(value)


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
    out = _out_dir(out, chapter)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [_task(chapter, point) for point in points]
    done = {task["name"]: run for task in tasks if (run := _finished(out, task))}
    reused = list(done)
    todo = [task for task in tasks if task["name"] not in done]
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), initial=len(done), desc=f"sweep {chapter.name}", unit="run",
               disable=not progress)
    with bar:
        runner = _dask_runs if scheduler else _local_runs
        for task, outcome in runner(todo, jobs, scheduler):
            if outcome is not None:
                done[task["name"]] = _save(out, task, outcome)
            bar.update()
    return _gather(chapter, spec, tasks, done, reused, out)


def _finished(out: Path, task: dict) -> RunResult | None:
    run = read_run(out / task["name"])
    if (run is None or not run.ok or run.parameters != task["parameters"]
            or not (out / task["name"] / NOTEBOOK_FILE).is_file()):
        return None
    return run


def _local_runs(tasks: list[dict], jobs: int | None, scheduler=None) -> Iterable:
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
        futures = {pool.submit(_execute, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except BrokenProcessPool:
                outcome = None
            yield futures[future], outcome
        finished = True
    finally:  # interrupted: do not wait for the runs still going
        pool.shutdown(wait=finished, cancel_futures=True)


def _dask_runs(tasks: list[dict], jobs=None, scheduler: str | None = None) -> Iterable:
    """``(task, outcome)`` as runs finish on a Dask cluster; outcome ``None`` if a task was lost."""
    if not tasks:
        return
    from distributed import Client, as_completed

    with Client(scheduler, timeout="30s") as client:
        futures = {client.submit(_execute_isolated, task, pure=False,
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
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if row.get(c) is None else
                         json.dumps(row[c]) if isinstance(row.get(c), list) else row[c]
                         for c in table.columns])
    _write_atomic(table.csv_path, buffer.getvalue())


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

    from .plotting.runs import plot_sweep

    by = [name for name in spec.grid if name not in (x, "seed")]
    ax = plot_sweep(table.rows, x, y, by=by, yscale=spec.figure.get("yscale", "linear"))
    path = table.out / "sweep.png"
    fd, tmp = tempfile.mkstemp(dir=table.out, prefix=".sweep.png.", suffix=".tmp")
    os.close(fd)
    ax.figure.savefig(tmp, format="png", dpi=120)
    os.replace(tmp, path)
    plt.close(ax.figure)
    return path


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m srmlib.runs {params,run,sweep} ...`` (see ``--help``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (ValueError, TypeError) as err:
        print(f"srmlib.runs: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("srmlib.runs: interrupted; finished runs are kept, rerun to finish the rest",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        # Python's documented recipe: point stdout at devnull so the exit-time flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser():
    parser = _Parser(prog="python -m srmlib.runs",
                     description="Run the book's chapters as parameterized experiments.")
    commands = parser.add_subparsers(required=True, metavar="{params,run,sweep}")
    params = commands.add_parser("params", help="list a chapter's parameters")
    params.add_argument("chapter", help="a path, or a short name like 01")
    params.set_defaults(command=_cli_params)
    run = commands.add_parser("run", help="run a chapter once with parameters")
    run.add_argument("chapter", help="a path, or a short name like 01")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"), help="a parameter (YAML value); repeatable")
    run.add_argument("--params", metavar="FILE", help="a YAML file of parameters (-p wins)")
    run.add_argument("--out", metavar="DIR", help="default _build/runs/<chapter>")
    run.set_defaults(command=_cli_run)
    sweep_ = commands.add_parser("sweep", help="run a chapter over a grid of parameters")
    sweep_.add_argument("chapter", help="a path, or a short name like 01")
    sweep_.add_argument("grid", help="a YAML file with grid, fixed and figure")
    sweep_.add_argument("--jobs", type=int, metavar="N", help="local worker processes")
    sweep_.add_argument("--scheduler", metavar="ADDR", help="a Dask scheduler, tcp://host:port")
    sweep_.add_argument("--out", metavar="DIR", help="default _build/runs/<chapter>")
    sweep_.set_defaults(command=_cli_sweep)
    return parser


def _cli_params(args) -> int:
    chapter = load_chapter(args.chapter)
    print(f"{chapter.name}: {len(chapter.parameters)} parameters")
    for p in chapter.parameters.values():
        print(f"  {p.name}: {p.type or 'any'} = {p.default!r}  {p.range_text()}".rstrip())
        print(f"      {p.help}")
    return 0


def _cli_run(args) -> int:
    import yaml

    chapter = load_chapter(args.chapter)
    values = {}
    if args.params:
        try:
            values = yaml.safe_load(Path(args.params).read_text()) or {}
        except OSError as err:
            raise ValueError(f"parameters file {args.params}: {err.strerror}") from None
        if not isinstance(values, dict):
            raise ValueError(f"parameters file {args.params} must be a mapping of name: value")
    for name, text in args.parameter:
        param = chapter.parameters.get(name)
        values[name] = text if param is not None and param.type == "str" else _yaml_value(text)
        if param is not None and param.type == "float" and isinstance(values[name], str):
            with contextlib.suppress(ValueError):  # YAML reads 1e-3 as a string
                values[name] = float(text)
    result = run_chapter(chapter, values, out=args.out)
    if not result.ok:
        print(f"failed: {result.error}\n  partial notebook: {result.folder / NOTEBOOK_FILE}",
              file=sys.stderr)
        return 1
    print(f"ok in {result.seconds:.1f} s: {result.folder}")
    if result.results:
        print(_text_table(result.results))
    return 0


def _yaml_value(text: str):
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _cli_sweep(args) -> int:
    result = sweep(args.chapter, args.grid, out=args.out, jobs=args.jobs, scheduler=args.scheduler)
    print(result)
    print(f"\n{result.count('ok')} ok, {result.count('failed')} failed, "
          f"{result.count('missing')} missing; table {result.csv_path}"
          + (f", figure {result.figure_path}" if result.figure_path else ""))
    for row in result.rows:
        if row["status"] == "failed":
            print(f"  {row['run']} failed: {row['error']}", file=sys.stderr)
    if not result.complete:
        print("the sweep was interrupted: run the same command again to finish it", file=sys.stderr)
    return 0 if result.count("ok") == len(result.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
