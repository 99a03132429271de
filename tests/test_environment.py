"""environment.yml (conda users) and pyproject.toml (pip users) declare the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def normalised(requirements) -> dict[str, str]:
    parsed = (Requirement(r) for r in requirements)
    return {r.name.lower().replace("_", "-"): str(r.specifier) for r in parsed}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra

    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    from_conda = [r for r in pip_section if not r.startswith("-")]

    assert normalised(from_conda) == normalised(declared)
    assert "-e ." in pip_section, "environment.yml must install srmlib itself"
    assert "-c constraints.txt" in pip_section, "environment.yml must use the book's pinned versions"
    torch_index = re.search(r"^TORCH_INDEX \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert f"--extra-index-url {torch_index}" in pip_section, "conda users get torch's CPU build too"
    python = next(d for d in conda["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python == "python=3.11"
