"""`make lab` opens the chapters' MyST Markdown as notebooks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lab_overrides_open_markdown_as_jupytext_notebooks():
    overrides = json.loads((ROOT / ".jupyter" / "lab-overrides.json").read_text())
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers == {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    assert "cp .jupyter/lab-overrides.json" in (ROOT / "Makefile").read_text()


def test_jupytext_lab_extension_is_installed_and_enabled():
    jupyter = Path(sys.executable).with_name("jupyter")
    listing = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True,
                             text=True, timeout=120)
    lines = (listing.stdout + listing.stderr).splitlines()
    jupytext = [line for line in lines if "jupyterlab-jupytext" in line]
    assert jupytext and "enabled" in jupytext[0], "\n".join(lines)
