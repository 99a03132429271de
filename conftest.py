"""Collect every chapter (``notebooks/*.md``, jupytext MyST) as an nbval test run with ``quick=True``.

Each chapter is converted to ``.ipynb`` under ``_build/test-notebooks/`` and its ``parameters``
cell is overridden by papermill's injected-parameters cell, exactly as a papermill run would do;
nbval then executes it cell by cell (``--nbval-lax``: a cell fails on an error, outputs are not
compared, since chapters are stored without outputs).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent
CHAPTERS = ROOT / "notebooks"
TEST_NOTEBOOKS = ROOT / "_build" / "test-notebooks"
TEST_PARAMETERS = {"quick": True}


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".md" or file_path.parent != CHAPTERS:
        return None
    import jupytext
    import nbformat
    from nbval.plugin import IPyNbFile
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    TEST_NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    target = TEST_NOTEBOOKS / f"{file_path.stem}.ipynb"
    jupytext.write(jupytext.read(file_path), target)
    notebook = parameterize_notebook(load_notebook_node(str(target)), TEST_PARAMETERS)
    nbformat.write(notebook, target)
    return IPyNbFile.from_parent(parent, path=target)
