"""One run: a chapter executed once by papermill, its notebook and results saved in a folder.

:func:`run_chapter` is the public entry point; :func:`read_run` reads a finished run back. A
run's folder, ``<out>/<run_name(parameters)>``, holds the executed notebook
(``notebook.ipynb``, partial if the chapter failed) and ``results.json``, written last: its
presence marks a finished run.

The steps are separate functions because a sweep (:mod:`srmlib.runs.sweeps`) distributes
them: :func:`make_task` describes a run as a plain dict (picklable and JSON-able, so a worker
process, a Dask worker or a fresh interpreter can take it), :func:`execute` runs it and returns
an *outcome* dict (``notebook``, ``results``, ``status``, ``error``, ``seconds``) without
writing any file, :func:`execute_in_new_process` does the same in a fresh Python process, and
:func:`save_run` writes the outcome into the run's folder in the process that owns ``out``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .._io import atomic_write_text
from .parameters import Chapter, load_chapter, validate_parameters
from .recording import collect_records

__all__ = ["RunResult", "read_run", "run_chapter", "run_name"]

RESULTS_FILE = "results.json"
NOTEBOOK_FILE = "notebook.ipynb"
_MAX_NAME = 80


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
        data = json.loads((folder / RESULTS_FILE).read_text(encoding="utf-8"))
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
    out = out_folder(out, chapter)
    task = make_task(chapter, checked)
    outcome = execute_in_new_process(task) if _loop_running() else execute(task)
    return save_run(out, task, outcome)


def _loop_running() -> bool:
    """Whether an asyncio loop runs in this thread (as in Jupyter), where papermill cannot."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def out_folder(out, chapter: Chapter) -> Path:
    """``out`` as a path; by default ``_build/runs/<chapter name>``.

    Checked before anything runs (nothing is created here): ``ValueError`` naming the path when
    it, or a folder above it, is a file, so that no run's results are lost at the end.
    """
    if out is None:
        out = Path("_build") / "runs" / chapter.name
    elif not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path, got {type(out).__name__}")
    out = Path(out)
    for folder in (out, *out.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "" if folder == out else f" ({folder} is a file)"
                raise ValueError(f"out {out} cannot be a folder{where}" if where
                                 else f"out {out} is a file, not a folder")
            break
    return out


def make_task(chapter: Chapter, parameters: dict) -> dict:
    """One run as a plain dict: the chapter's name and notebook, the checked parameters, the
    run's folder name and the directory the chapter runs in (its own)."""
    return {"chapter": chapter.name, "name": run_name(parameters), "parameters": parameters,
            "notebook": chapter.notebook_json, "cwd": str(chapter.path.parent)}


def execute(task: dict) -> dict:
    """Execute one run (a :func:`make_task` dict) and return its outcome dict; never raises for
    the chapter's own errors. Runs in a worker process, a Dask worker, or the caller; writes
    nothing but temporary files."""
    import logging

    import papermill
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.ERROR)
    start = time.perf_counter()
    error = None
    remove_stale_folders()
    with tempfile.TemporaryDirectory(prefix=f"{_TEMPORARY_PREFIX}{os.getpid()}-") as tmp:
        source, executed = Path(tmp) / "source.ipynb", Path(tmp) / "executed.ipynb"
        source.write_text(task["notebook"], encoding="utf-8")
        cwd = task["cwd"] if os.path.isdir(task["cwd"]) else None
        try:
            papermill.execute_notebook(str(source), str(executed), parameters=task["parameters"],
                                       progress_bar=False, cwd=cwd,
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"])
        except PapermillExecutionError as err:
            error = _describe_error(err)
        except Exception as err:  # the kernel died, did not start, ...
            error = f"{type(err).__name__}: {err}"
        notebook = executed.read_text(encoding="utf-8") if executed.exists() else None
    return {"notebook": notebook, "results": collect_records(notebook) if notebook else {},
            "status": "failed" if error else "ok", "error": error,
            "seconds": round(time.perf_counter() - start, 3)}


_TEMPORARY_PREFIX = "srmlib-run-"
_STALE = re.compile(r"srmlib-(?:run|task)-(?:(\d+)-)?[A-Za-z0-9_]+")
#: A temporary folder of an older srmlib (no process id in its name) is stale after this long.
_LEGACY_AGE_S = 24 * 3600


def remove_stale_folders(directory=None) -> list[Path]:
    """Remove the temporary folders of runs whose process is gone; return what was removed.

    A run works in ``<tmp>/srmlib-run-<pid>-<random>`` (a fresh process in
    ``srmlib-task-<pid>-<random>``), removed when it ends; a process killed by a signal (or a
    power cut) leaves it behind. Each run first removes the folders, in the temporary directory
    (``directory``, default :func:`tempfile.gettempdir`), whose process no longer exists and that
    belong to this user, and folders without a process id (srmlib before issue 15) older than a
    day. Folders of running processes are left alone.
    """
    folder = Path(tempfile.gettempdir() if directory is None else directory)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _STALE.fullmatch(entry.name)
        if not match:
            continue
        try:
            info = entry.lstat()
            if not entry.is_dir() or entry.is_symlink() or (
                    hasattr(os, "getuid") and info.st_uid != os.getuid()):
                continue
            pid = match.group(1)
            stale = (not _process_exists(int(pid)) if pid is not None
                     else time.time() - info.st_mtime > _LEGACY_AGE_S)
        except (OSError, ValueError, OverflowError):
            continue
        if stale:
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry)
    return removed


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # no cheap check: keep the folder
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _describe_error(err) -> str:
    """``"ename: evalue (cell N: the failing line)"`` from papermill's execution error."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err.traceback or []))
    lines = re.findall(r"^-+>\s*\d+\s+(.*)$", text, re.MULTILINE)
    where = f"cell {err.exec_count}" + (f": {lines[-1].strip()}" if lines else "")
    return f"{err.ename}: {err.evalue} ({where})" if err.evalue else f"{err.ename} ({where})"


def execute_in_new_process(task: dict) -> dict:
    """:func:`execute` in a fresh Python process: a Dask worker runs tasks in threads, and
    papermill's event loop can neither run in two threads of one process at once nor inside
    a running loop (a Jupyter kernel)."""
    import subprocess

    remove_stale_folders()
    with tempfile.TemporaryDirectory(prefix=f"srmlib-task-{os.getpid()}-") as tmp:
        task_file, outcome_file = Path(tmp) / "task.json", Path(tmp) / "outcome.json"
        task_file.write_text(json.dumps(task))
        code = ("import json, sys; from srmlib.runs.run import execute; "
                "task = json.load(open(sys.argv[1])); "
                "json.dump(execute(task), open(sys.argv[2], 'w'))")
        done = subprocess.run([sys.executable, "-c", code, str(task_file), str(outcome_file)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not outcome_file.exists():
            raise RuntimeError(f"the run's process failed ({done.returncode}): "
                               f"{done.stderr.strip()[-2000:]}")
        return json.loads(outcome_file.read_text())


def save_run(out: Path, task: dict, outcome: dict) -> RunResult:
    """Write a run's notebook, then its results.json (the mark of a finished run), atomically."""
    folder = out / task["name"]
    folder.mkdir(parents=True, exist_ok=True)
    if outcome["notebook"] is not None:
        atomic_write_text(folder / NOTEBOOK_FILE, outcome["notebook"])
    data = {"chapter": task["chapter"], "parameters": task["parameters"],
            "status": outcome["status"], "results": outcome["results"],
            "error": outcome["error"], "seconds": outcome["seconds"]}
    atomic_write_text(folder / RESULTS_FILE, json.dumps(data, indent=2) + "\n")
    return RunResult(task["name"], folder, task["chapter"], task["parameters"],
                     outcome["status"], outcome["results"], outcome["error"], outcome["seconds"])
