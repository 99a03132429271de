"""Recording a chapter's headline numbers, and reading them back from an executed notebook.

A chapter calls :func:`record` near its end; :func:`collect_records` finds what it recorded in
the notebook a run leaves behind. :func:`format_value` and :func:`text_table` are the plain-text
forms that :mod:`srmlib.runs.cli` prints and :mod:`srmlib.runs.sweeps` puts in its tables.
"""

from __future__ import annotations

import contextlib
import html
import json
import keyword
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["RESULTS_MIME", "collect_records", "record"]

#: The mime type of :func:`record`'s output in a notebook: a JSON object of name -> value.
RESULTS_MIME = "application/vnd.srmlib.results+json"

_RESERVED = frozenset({"run", "status", "error", "seconds"})  # a sweep's table's own columns
_MAX_LIST = 100


def record(**values) -> dict[str, Any]:
    """Record a chapter's headline numbers, so that a run's results can be read back.

    Call it once (or a few times: later values of a name replace earlier ones) near the end of
    a chapter, for example ``record(resonance_ratio=1.8, p_value=0.02)``. In Jupyter it shows a
    small table of the values; under :func:`srmlib.runs.run_chapter` and
    :func:`srmlib.runs.sweep` the values also land in the run's ``results.json`` and in the
    sweep's table.

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
    bundle = {RESULTS_MIME: clean, "text/plain": text_table(clean),
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
            text = Path(notebook).read_text(encoding="utf-8")
        notebook = json.loads(text)
    found: dict[str, Any] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if RESULTS_MIME in data:
                values = data[RESULTS_MIME]
                found.update(json.loads(values) if isinstance(values, str) else values)
    return found


def format_value(value) -> str:
    """A recorded value as text: floats to 6 significant digits, lists in brackets."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def text_table(values: Mapping) -> str:
    """Recorded values as aligned ``name  value`` lines."""
    width = max(len(name) for name in values)
    return "\n".join(f"{name:<{width}}  {format_value(v)}" for name, v in values.items())


def _html_table(values: Mapping, caption: str = "Recorded results") -> str:
    rows = "".join(f"<tr><td><code>{html.escape(name)}</code></td>"
                   f"<td>{html.escape(format_value(v))}</td></tr>" for name, v in values.items())
    return f"<table><caption>{caption}</caption><tbody>{rows}</tbody></table>"


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
