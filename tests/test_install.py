"""srmlib installs into a researcher's environment without replacing their torch.

The library declares version *ranges* (pyproject.toml); exact pins live only in constraints.txt,
for the book and CI. The slow test builds srmlib's wheel and installs it, without the ``book``
and ``test`` extras, into a fresh virtual environment that already holds a torch, then checks
that torch is the same one, that no book or test package came along, and that srmlib (the
installed copy, not this checkout) imports and runs :func:`srmlib.spotlight_resonance`.

How the fresh environment "already holds a torch" without downloading one (the CPU wheel is
about 200 MB, a CUDA one gigabytes): torch and the packages it needs are linked from the
environment running the tests into a folder of their own, which the new venv reads through a
``.pth`` file, as a site directory holding only torch. pip sees that torch as installed (so a
requirement that excluded its version would fail, and nothing would let pip replace it
silently), and it cannot touch it, since it lies outside the venv. The rest of srmlib's
requirements pip installs for real, from the configured index at the versions of
constraints.txt (without its torch pin, so that pyproject.toml's own range is what is
tested): in CI those are the wheels ``make test`` has just installed, served from pip's cache.
The wheel is built without build isolation, from a copy of the sources, so the build downloads
nothing and leaves no ``build/`` folder in the checkout. About a minute on two cores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirement_names(requirements) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_library_dependencies_are_ranges_not_pins():
    """Pins would replace a researcher's packages; they belong in constraints.txt only."""
    for requirement in map(Requirement, PYPROJECT["dependencies"]):
        operators = {spec.operator for spec in requirement.specifier}
        assert operators and not operators & {"==", "===", "~="}, (
            f"pyproject.toml pins {requirement}; declare the range of versions known to work "
            "and pin the exact version in constraints.txt")


def test_constraints_pin_every_library_dependency_and_torch_for_the_book():
    pins = {canonicalize_name(Requirement(line).name): Requirement(line)
            for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")}
    for requirement in map(Requirement, PYPROJECT["dependencies"]):
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"constraints.txt pins no version of {requirement.name}"
        (version,) = [spec.version for spec in pin.specifier]
        assert requirement.specifier.contains(version), (
            f"constraints.txt's {pin} is outside pyproject.toml's {requirement}")


def _dependency_closure(names) -> list[metadata.Distribution]:
    """The installed distributions of ``names`` and everything they need (no extras)."""
    environment = default_environment()
    found: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found:
            continue
        found[name] = distribution = metadata.distribution(name)
        for requirement in map(Requirement, distribution.requires or []):
            if requirement.marker is None or requirement.marker.evaluate({**environment, "extra": ""}):
                todo.append(requirement.name)
    return list(found.values())


def _link_site_directory(distributions, folder: Path) -> None:
    """A site directory that holds only these distributions, as links to their installed files."""
    folder.mkdir()
    for distribution in distributions:
        site = Path(distribution.locate_file(""))
        tops = {Path(f).parts[0] for f in distribution.files or [] if not str(f).startswith("..")}
        for top in tops:
            if (site / top).exists() and not (folder / top).exists():
                (folder / top).symlink_to(site / top)


def _run(command, cwd, env, timeout=300) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


TORCH_REPORT = "import json, torch; print(json.dumps([torch.__version__, torch.__file__]))"

RUN_SRM = textwrap.dedent("""
    import importlib.util, json
    import numpy as np
    import srmlib

    x = np.random.default_rng(0).standard_normal((4000, 6))
    result = srmlib.spotlight_resonance(x, epsilon=0.8, resolution=36)
    print(json.dumps({
        "srmlib": srmlib.__file__,
        "shape": list(result.values.shape),
        "mean": float(result.values.mean()),
        "baseline": float(result.isotropic_baseline),
        "book_or_test_modules": [m for m in ("jupytext", "papermill", "myst_nb", "pytest", "nbval",
                                             "jupyterlab", "playwright", "ipywidgets")
                                 if importlib.util.find_spec(m) is not None],
    }))
""")


@pytest.mark.install
def test_wheel_installs_beside_an_existing_torch_and_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_CONSTRAINT")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    # the wheel, from a copy of what it is built from
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "srmlib", source / "srmlib", ignore=shutil.ignore_patterns("__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
          "--wheel-dir", tmp_path / "dist", source], cwd=tmp_path, env=env)
    (wheel,) = (tmp_path / "dist").glob("srmlib-*.whl")

    # a fresh venv holding a torch (and only what torch needs)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    site_packages = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              cwd=tmp_path, env=env).strip())
    torch_site = tmp_path / "torch-site"
    torch_closure = _dependency_closure(["torch"])
    _link_site_directory(torch_closure, torch_site)
    (site_packages / "preinstalled_torch.pth").write_text(f"{torch_site}\n")
    torch_before = json.loads(_run([python, "-c", TORCH_REPORT], cwd=tmp_path, env=env))
    assert torch_before[0] == metadata.version("torch")

    # install the wheel, no extras; srmlib's other requirements at the book's versions, torch free
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("".join(line for line in (ROOT / "constraints.txt").open()
                                   if not re.match(r"torch\s*==", line)))
    log = _run([sys.executable, "-m", "pip", "--python", python, "install", "-c", constraints, wheel],
               cwd=tmp_path, env=env, timeout=600)
    assert "Uninstalling torch" not in log, log

    torch_after = json.loads(_run([python, "-c", TORCH_REPORT], cwd=tmp_path, env=env))
    assert torch_after == torch_before, f"installing srmlib replaced torch: {torch_before} -> {torch_after}"

    installed = {canonicalize_name(d.metadata["Name"])
                 for d in metadata.distributions(path=[str(site_packages)])}
    extras = set().union(*map(requirement_names, PYPROJECT["optional-dependencies"].values()))
    brought = (extras - requirement_names(PYPROJECT["dependencies"])) & installed
    assert not brought, f"installing srmlib without extras brought book/test packages: {sorted(brought)}"

    report = json.loads(_run([python, "-c", RUN_SRM], cwd=tmp_path, env=env))
    assert Path(report["srmlib"]).is_relative_to(site_packages), (
        f"imported srmlib from {report['srmlib']}, not from the installed wheel")
    assert report["book_or_test_modules"] == [], (
        f"book/test packages are importable in the fresh venv: {report['book_or_test_modules']}")
    assert report["shape"] == [15, 36]  # the 6 * 5 / 2 planes of 6 neurons, 36 angles
    # isotropic data: the mean fraction in the cone is the isotropic baseline, within 6 binomial
    # sigmas of one plane's 4,000 samples (the 540 cells average many such draws)
    sigma = (report["baseline"] * (1 - report["baseline"]) / 4000) ** 0.5
    assert abs(report["mean"] - report["baseline"]) < 6 * sigma, report
