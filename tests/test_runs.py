"""srmlib.runs: parameter validation, record(), runs and sweeps (local processes and Dask),
resuming an interrupted sweep, the command line, the sweep figure, and the package's layout.

Most tests execute the tiny chapter tests/data/fixture_chapter.md; one sweeps the real
chapter 01 in quick mode.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch

from srmlib import runs
from srmlib.plotting.runs import plot_sweep
from srmlib.runs import record, sweeps
from srmlib.runs import run as one_run
from tests.figure_checks import assert_labelled

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "fixture_chapter.md"
CHAPTER_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

```{code-cell} ipython3
:tags: [parameters]

"""


def expected_fixture_results(seed=0, n=50, scale=1.0, mode="normal", **_) -> dict:
    """What the fixture chapter computes, computed here independently."""
    rng = np.random.default_rng(seed)
    draws = rng.normal(0, scale, n) if mode == "normal" else rng.uniform(-scale, scale, n)
    return {"first": float(draws[0]), "draws": draws[:3].tolist(), "mean": float(draws.mean()),
            "n_draws": n, "mode": mode, "scaled": scale * 10}


def assert_results(actual: dict, expected: dict):
    """The recorded values equal the expected ones (floats to rounding)."""
    assert {k: actual[k] for k in expected if not isinstance(expected[k], list)} == pytest.approx(
        {k: v for k, v in expected.items() if not isinstance(v, list)})
    for k, v in expected.items():
        if isinstance(v, list):
            np.testing.assert_allclose(actual[k], v)


def write_chapter(tmp_path: Path, parameters_cell: str) -> Path:
    path = tmp_path / "made_up.md"
    path.write_text(CHAPTER_HEADER + parameters_cell + "\n```\n")
    return path


@pytest.fixture(scope="module")
def chapter():
    return runs.load_chapter(FIXTURE)


# --------------------------------------------------------------------------- parameters


def test_parameters_cell_gives_types_defaults_ranges_and_help(chapter):
    p = chapter.parameters
    assert list(p) == ["quick", "seed", "n", "scale", "mode", "fail", "sleep_s"]
    assert (p["quick"].type, p["quick"].default) == ("bool", False)
    assert p["quick"].help == "unused here (every chapter has it)"
    assert (p["seed"].type, p["seed"].low, p["seed"].high) == ("int", 0, None)
    assert (p["n"].low, p["n"].high, p["n"].low_open, p["n"].high_open) == (1, 1000, False, False)
    assert (p["scale"].type, p["scale"].low, p["scale"].low_open) == ("float", 0, True)
    assert p["mode"].choices == ("normal", "uniform")
    assert p["mode"].help == "their distribution"
    assert p["n"].describe() == "n (int, in [1, 1000])"
    assert p["scale"].describe() == "scale (float, in (0, inf))"
    assert runs.chapter_parameters(FIXTURE) == p


def test_chapters_by_short_name_and_path():
    assert runs.resolve_chapter("01") == ROOT / "notebooks" / "01_spotlight_resonance.md"
    assert runs.resolve_chapter("01_spotlight_resonance") == runs.resolve_chapter("01")
    assert runs.resolve_chapter(str(FIXTURE)) == FIXTURE
    with pytest.raises(ValueError, match="not found; chapters: 01_spotlight_resonance"):
        runs.resolve_chapter("99")
    with pytest.raises(ValueError, match="no such file"):
        runs.resolve_chapter("notebooks/missing.md")
    with pytest.raises(TypeError, match="chapter"):
        runs.resolve_chapter(1)


def test_the_books_chapters_are_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no notebooks/ here: the checkout's own are used
    assert runs.resolve_chapter("08") == ROOT / "notebooks" / "08_running_experiments.md"
    assert runs.resolve_chapter("07") == ROOT / "notebooks" / "07_real_networks.md"


@pytest.mark.parametrize("values, error, match", [
    ({"sed": 1}, ValueError, "unknown parameter.*'sed'"),
    ({"n": 2.5}, TypeError, "n must be int, got float"),
    ({"quick": 1}, TypeError, "quick must be bool"),
    ({"mode": 3}, TypeError, "mode must be str"),
    ({"n": 0}, ValueError, r"n must be in \[1, 1000\], got 0"),
    ({"n": 1001}, ValueError, r"n must be in \[1, 1000\]"),
    ({"scale": 0.0}, ValueError, r"scale must be in \(0, inf\)"),
    ({"scale": float("nan")}, ValueError, "NaN"),
    ({"seed": -1}, ValueError, r"seed must be in \[0, inf\)"),
    ({"mode": "cauchy"}, ValueError, "mode must be in {'normal', 'uniform'}"),
])
def test_bad_parameters_are_refused_before_anything_starts(chapter, tmp_path, monkeypatch,
                                                           values, error, match):
    def must_not_run(task):
        raise AssertionError("a run started")

    monkeypatch.setattr(one_run, "execute", must_not_run)
    with pytest.raises(error, match=match) as caught:
        runs.run_chapter(chapter, values, out=tmp_path / "out")
    assert "valid parameters of fixture_chapter: quick (bool), seed (int, in [0, inf))" in str(
        caught.value)
    grid = {"grid": {"fail": [False, True]}, "fixed": values}
    with pytest.raises(error, match=match):
        runs.sweep(chapter, grid, out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_valid_parameters_are_converted_and_ordered(chapter):
    checked = runs.validate_parameters(chapter, {"scale": 2, "seed": 3, "quick": True})
    assert checked == {"quick": True, "seed": 3, "scale": 2.0}
    assert list(checked) == ["quick", "seed", "scale"]
    assert isinstance(checked["scale"], float)


@pytest.mark.parametrize("cell, match", [
    ("n: int = 3  # n >= 1: draws", "papermill cannot read parameter.*n"),
    ("n: int = 3  # in [1, lots]: draws", r"cannot read the range \[1, lots\] of n"),
    ("n: int = 0  # in [1, 10]: draws", "the default of n does not fit"),
    ("n: complex = 3  # draws", "has type 'complex'"),
])
def test_malformed_parameters_cells_are_refused(tmp_path, cell, match):
    with pytest.raises(ValueError, match=match):
        runs.load_chapter(write_chapter(tmp_path, cell))


def test_untyped_parameters_take_the_type_of_their_default(tmp_path):
    path = write_chapter(tmp_path, 'n = 3  # draws\nname = "a"\nlimit = None  # anything goes')
    params = runs.chapter_parameters(path)
    assert [(p.type, p.default) for p in params.values()] == [("int", 3), ("str", "a"),
                                                               (None, None)]
    with pytest.raises(TypeError, match="n must be int"):
        runs.validate_parameters(path, {"n": "three"})


def test_run_names_are_stable_safe_and_distinct():
    assert runs.run_name({}) == "defaults"
    assert runs.run_name({"quick": True, "seed": 1}) == "quick=True_seed=1"
    assert runs.run_name({"scale": 0.1, "xs": [1, 2]}) == "scale=0.1_xs=1,2"
    odd = runs.run_name({"path": "data/my file.npy"})
    assert odd.startswith("path=data-my-file.npy-") and "/" not in odd
    assert runs.run_name({"path": "data-my-file.npy"}) != odd
    assert runs.run_name({"path": "data/my file.npy"}) == odd  # stable
    long = runs.run_name({f"parameter_{k}": k for k in range(20)})
    assert len(long) <= 80
    assert long != runs.run_name({f"parameter_{k}": k + 1 for k in range(20)})


# --------------------------------------------------------------------------- record


def test_record_converts_numpy_and_torch_and_prints_outside_ipython(capsys):
    values = record(ratio=np.float32(1.5), count=np.int64(3), flag=np.bool_(True), name="x",
                    curve=np.array([0.5, 1.0]), loss=torch.tensor(0.25), pair=(1, 2.5))
    assert values == {"ratio": 1.5, "count": 3, "flag": True, "name": "x", "curve": [0.5, 1.0],
                      "loss": 0.25, "pair": [1, 2.5]}
    assert [type(values[k]) for k in ("ratio", "count", "flag")] == [float, int, bool]
    json.dumps(values)
    printed = capsys.readouterr().out
    assert "ratio  1.5" in printed and "curve  [0.5, 1]" in printed


@pytest.mark.parametrize("values, error, match", [
    ({"ratio": float("nan")}, ValueError, "ratio is NaN"),
    ({"ratio": np.float64("inf")}, ValueError, "ratio is infinite"),
    ({"curve": [1.0, float("nan")]}, ValueError, r"curve\[1\] is NaN"),
    ({"table": {"a": 1}}, TypeError, "table must be a bool, int, float, str"),
    ({"status": 1}, ValueError, "reserved"),
    ({"grid": np.zeros((2, 2))}, ValueError, "shape"),
    ({"many": list(range(101))}, ValueError, "at most 100"),
    ({}, ValueError, "at least one"),
])
def test_record_refuses_what_a_table_cannot_hold(values, error, match):
    with pytest.raises(error, match=match):
        record(**values)


def test_record_refuses_names_that_are_not_identifiers():
    with pytest.raises(ValueError, match="not a valid name"):
        record(**{"two words": 1})
    with pytest.raises(ValueError, match="not a valid name"):
        record(**{"class": 1})


def test_records_are_read_from_a_notebooks_outputs():
    def display(values):
        return nbformat.v4.new_output("display_data",
                                      data={runs.RESULTS_MIME: values, "text/plain": "table"})

    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(outputs=[display({"a": 1, "b": 2.0})]),
        nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output("stream", text="a 5")]),
        nbformat.v4.new_code_cell(outputs=[display({"b": 3.0})]),
    ])
    assert runs.collect_records(notebook) == {"a": 1, "b": 3.0}
    assert runs.collect_records(nbformat.writes(notebook)) == {"a": 1, "b": 3.0}


# --------------------------------------------------------------------------- runs


def test_run_chapter_writes_the_notebook_and_its_results(chapter, tmp_path):
    result = runs.run_chapter(chapter, {"seed": 3, "mode": "uniform"}, out=tmp_path)
    assert result.ok and result.error is None
    assert result.folder == tmp_path / "seed=3_mode=uniform"
    expected = expected_fixture_results(seed=3, mode="uniform")
    assert_results(result.results, expected)
    assert runs.read_run(result.folder) == result
    notebook = nbformat.read(result.folder / "notebook.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in notebook.cells)
    assert runs.collect_records(notebook) == result.results
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["seed=3_mode=uniform", "notebook.ipynb", "results.json"])  # no temporary files left


@pytest.fixture(scope="module")
def failing_sweep(chapter, tmp_path_factory):
    """A 4-run sweep on 2 local processes where the runs with fail=True raise."""
    out = tmp_path_factory.mktemp("sweep")
    grid = out / "grid.yaml"
    grid.write_text("grid:\n  seed: [0, 1]\n  fail: [false, true]\nfixed:\n  quick: true\n"
                    "figure:\n  x: seed\n  y: first\n")
    return runs.sweep(chapter, grid, out=out, jobs=2, progress=False)


def test_a_failing_run_is_recorded_while_the_others_finish(failing_sweep):
    rows = {(row["seed"], row["fail"]): row for row in failing_sweep.rows}
    assert len(rows) == 4 and failing_sweep.complete and failing_sweep.reused == []
    for seed in (0, 1):
        ok, failed = rows[seed, False], rows[seed, True]
        expected = expected_fixture_results(seed=seed)
        assert ok["status"] == "ok" and ok["error"] is None
        assert_results(ok, expected)
        assert failed["status"] == "failed"
        assert failed["error"].startswith("RuntimeError: failing on purpose")
        assert failed["error"].endswith('raise RuntimeError("failing on purpose"))')  # the line
        assert failed["first"] == pytest.approx(expected["first"])  # recorded before the error
        assert failed["mean"] is None
        notebook = nbformat.read(failing_sweep.out / failed["run"] / "notebook.ipynb",
                                 as_version=4)
        errors = [o for c in notebook.cells for o in c.get("outputs", [])
                  if o["output_type"] == "error"]
        assert [e["ename"] for e in errors] == ["RuntimeError"]  # the partial notebook


def test_the_sweep_table_is_tidy_csv(failing_sweep):
    with open(failing_sweep.csv_path, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["run", "quick", "seed", "fail", "draws", "first", "mean", "mode",
                              "n_draws", "scaled", "status", "error", "seconds"]
    assert [row["run"] for row in table] == [row["run"] for row in failing_sweep.rows]
    assert len({row["run"] for row in table}) == 4
    for row, original in zip(table, failing_sweep.rows):
        assert row["status"] == original["status"]
        if original["status"] == "ok":
            assert float(row["mean"]) == pytest.approx(original["mean"])
            assert json.loads(row["draws"]) == pytest.approx(original["draws"])
        else:
            assert row["mean"] == ""
    assert failing_sweep.column("seed") == [0, 0, 1, 1]
    assert "seed" in str(failing_sweep) and "<table>" in failing_sweep._repr_html_()
    with pytest.raises(ValueError, match="no column 'nope'"):
        failing_sweep.column("nope")


def test_the_sweep_figure_is_saved(failing_sweep):
    assert failing_sweep.figure_path == failing_sweep.out / "sweep.png"
    image = plt.imread(failing_sweep.figure_path)
    assert image.ndim == 3 and image.shape[0] > 100
    assert np.all(image[0, 0, :3] == 1.0)  # opaque white corner


def test_a_finished_sweep_is_not_run_again(failing_sweep, chapter, tmp_path, monkeypatch):
    """Only the failed runs are executed again; the finished ones are reused as they are."""
    executed = []

    def fake_runs(tasks, jobs):
        executed.extend(task["name"] for task in tasks)
        return iter(())

    monkeypatch.setattr(sweeps, "_local_runs", fake_runs)
    ok = [row["run"] for row in failing_sweep.rows if row["status"] == "ok"]
    failed = [row["run"] for row in failing_sweep.rows if row["status"] == "failed"]
    out = tmp_path / "copy"
    shutil.copytree(failing_sweep.out, out)
    again = runs.sweep(chapter, out / "grid.yaml", out=out, progress=False)
    assert sorted(executed) == sorted(failed)
    assert sorted(again.reused) == sorted(ok)
    assert again.count("missing") == 2  # the failed runs, not redone by the fake executor


def test_resume_after_a_worker_is_killed(tmp_path):
    """Kill the worker of a run in progress: the sweep stops, keeps the finished run, and a
    rerun executes only the missing one."""
    grid = tmp_path / "grid.yaml"
    grid.write_text("grid:\n  sleep_s: [0.0, 8.0]\nfixed:\n  quick: true\n")
    out = tmp_path / "out"
    fast, slow = out / "quick=True_sleep_s=0.0", out / "quick=True_sleep_s=8.0"
    process = subprocess.Popen(
        [sys.executable, "-m", "srmlib.runs", "sweep", str(FIXTURE), str(grid), "--jobs", "2",
         "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        kernel = wait_for(lambda: (fast / "results.json").exists() and kernel_of(process.pid),
                          process)
        worker = kernel.parent()
        worker.send_signal(signal.SIGKILL)
        kernel.send_signal(signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 1, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    finished = runs.read_run(fast)
    assert finished.ok and finished.results["n_draws"] == 50
    nbformat.read(fast / "notebook.ipynb", as_version=4)  # complete, readable
    assert not slow.exists() or not list(slow.iterdir())  # nothing half-written
    with open(out / "sweep.csv", newline="") as handle:
        assert [row["status"] for row in csv.DictReader(handle)] == ["ok", "missing"]
    before = (fast / "results.json").read_bytes(), (fast / "results.json").stat().st_mtime_ns

    resumed = runs.sweep(FIXTURE, grid, out=out, jobs=2, progress=False)
    assert resumed.reused == [fast.name]
    assert [row["status"] for row in resumed.rows] == ["ok", "ok"]
    assert ((fast / "results.json").read_bytes(),
            (fast / "results.json").stat().st_mtime_ns) == before
    assert runs.read_run(slow).seconds >= 8
    assert not list(out.rglob("*.tmp"))


def kernel_of(pid: int):
    """The kernel process started under ``pid`` (by one of its workers), if any."""
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if any("ipykernel" in part for part in child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def wait_for(condition, process, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_sweep_on_a_dask_cluster(chapter, tmp_path, monkeypatch):
    from distributed import LocalCluster

    def no_local_runs(*args):
        raise AssertionError("ran on local processes")

    monkeypatch.setattr(sweeps, "_local_runs", no_local_runs)
    grid = {"grid": {"seed": [0, 1]}, "fixed": {"quick": True, "scale": 2.0}}
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        result = runs.sweep(chapter, grid, out=tmp_path, scheduler=cluster.scheduler_address,
                            progress=False)
    assert [row["status"] for row in result.rows] == ["ok", "ok"]
    for row in result.rows:
        expected = expected_fixture_results(seed=row["seed"], scale=2.0)
        assert_results(row, expected)
        assert runs.read_run(tmp_path / row["run"]).ok


def test_cli_params_run_and_errors(tmp_path, capsys):
    assert runs.main(["params", str(FIXTURE)]) == 0
    listing = capsys.readouterr().out
    assert "fixture_chapter: 7 parameters" in listing
    assert "n: int = 50  in [1, 1000]" in listing and "number of draws" in listing
    assert runs.main(["run", str(FIXTURE), "-p", "n", "0", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "n must be in [1, 1000], got 0" in error
    params = tmp_path / "params.yaml"
    params.write_text("seed: 5\nmode: uniform\n")
    assert runs.main(["run", str(FIXTURE), "--params", str(params), "-p", "seed", "2",
                      "--out", str(tmp_path)]) == 0
    assert "mean" in capsys.readouterr().out
    run = runs.read_run(tmp_path / "seed=2_mode=uniform")
    assert_results(run.results, expected_fixture_results(seed=2, mode="uniform"))
    with pytest.raises(SystemExit) as caught:
        runs.main(["sweep", str(FIXTURE)])
    assert caught.value.code == 2


def test_cli_run_of_a_failing_chapter_exits_1(tmp_path, capsys, monkeypatch):
    failed = {"notebook": None, "results": {}, "status": "failed", "seconds": 0.5,
              "error": "RuntimeError: failing on purpose (cell 3)"}
    monkeypatch.setattr(one_run, "execute", lambda task: failed)
    assert runs.main(["run", str(FIXTURE), "-p", "fail", "true", "--out", str(tmp_path)]) == 1
    assert "failed: RuntimeError: failing on purpose (cell 3)" in capsys.readouterr().err
    assert runs.read_run(tmp_path / "fail=True").error == failed["error"]


def test_cli_values_are_read_as_yaml_and_typed(tmp_path, monkeypatch):
    given = []

    def fake_execute(task):
        given.append(task["parameters"])
        return {"notebook": None, "results": {}, "status": "ok", "error": None, "seconds": 0.0}

    monkeypatch.setattr(one_run, "execute", fake_execute)
    assert runs.main(["run", str(FIXTURE), "-p", "scale", "1e-3", "-p", "mode", "uniform",
                      "-p", "quick", "true", "-p", "seed", "7", "--out", str(tmp_path)]) == 0
    assert given == [{"quick": True, "seed": 7, "scale": 0.001, "mode": "uniform"}]


def test_run_chapter_inside_a_running_event_loop_uses_a_fresh_process(tmp_path, monkeypatch):
    """As in Jupyter, where papermill cannot run in the kernel's own loop."""
    import asyncio

    used = []
    outcome = {"notebook": None, "results": {}, "status": "ok", "error": None, "seconds": 0.0}
    monkeypatch.setattr(one_run, "execute", lambda task: used.append("here") or outcome)
    monkeypatch.setattr(one_run, "execute_in_new_process",
                        lambda task: used.append("fresh") or outcome)

    async def in_a_loop():
        return runs.run_chapter(FIXTURE, {"seed": 1}, out=tmp_path)

    asyncio.run(in_a_loop())
    runs.run_chapter(FIXTURE, {"seed": 1}, out=tmp_path)
    assert used == ["fresh", "here"]


def test_python_m_reports_bad_input_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "srmlib.runs", "run", str(FIXTURE), "-p", "sed",
                           "1", "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "unknown parameter(s) 'sed'" in done.stderr
    assert not (tmp_path / "out").exists()


def test_two_seeds_of_chapter_01_in_quick_mode(tmp_path):
    grid = {"grid": {"seed": [0, 1]}, "fixed": {"quick": True}}
    result = runs.sweep("01", grid, out=tmp_path, jobs=2, progress=False)
    assert [row["status"] for row in result.rows] == ["ok", "ok"], result.column("error")
    assert result.results == ["feature_resonance_ratio", "relu_axes_over_diagonal",
                              "rotated_contrast_fraction", "tanh_diagonals_over_axes"]
    assert result.column("seed") == [0, 1]
    first, second = result.column("tanh_diagonals_over_axes")
    assert first != second  # the seed reached the chapter
    assert all(ratio > 1 for ratio in result.column("relu_axes_over_diagonal"))
    assert result.figure_path is not None and result.figure_path.exists()


# --------------------------------------------------------------------------- the package


MODULES = ["recording", "parameters", "run", "sweeps", "cli"]


def test_every_public_name_and_entry_point_resolves():
    import importlib
    import tomllib

    import srmlib

    assert all(getattr(runs, name) is not None for name in runs.__all__)
    assert srmlib.record is runs.record
    exported = []
    for module in MODULES:
        submodule = importlib.import_module(f"srmlib.runs.{module}")
        for name in submodule.__all__:
            assert getattr(runs, name) is getattr(submodule, name), f"{module}.{name}"
        exported += submodule.__all__
    assert sorted(exported) == sorted(runs.__all__)
    script = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, name = script["srmlib-run"].split(":")
    assert getattr(importlib.import_module(module), name) is runs.main


def test_the_modules_import_each_other_without_a_cycle():
    """Each module imports only modules listed before it (a topological order)."""
    import ast

    for position, module in enumerate(MODULES):
        tree = ast.parse((ROOT / "srmlib" / "runs" / f"{module}.py").read_text())
        siblings = {node.module for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.level == 1}
        assert siblings <= set(MODULES[:position]), f"{module} imports {siblings}"


def test_importing_loads_no_notebook_machinery():
    """``import srmlib`` does not import srmlib.runs, and srmlib.runs loads papermill, jupytext,
    YAML and Dask only when a run needs them (a chapter imports it for ``record``)."""
    heavy = ["srmlib.runs", "papermill", "jupytext", "nbformat", "yaml", "distributed"]
    code = ("import sys; loaded = lambda: [m for m in sys.argv[1:] if m in sys.modules]; "
            "import srmlib; print(loaded()); import srmlib.runs; print(loaded())")
    done = subprocess.run([sys.executable, "-c", code, *heavy], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "['srmlib.runs']"]


# --------------------------------------------------------------------------- the figure


ROWS = [{"run": f"r{k}", "n_dims": d, "seed": s, "kind": kind, "ratio": d + s + (kind == "b"),
         "status": "ok"}
        for k, (d, s, kind) in enumerate((d, s, kind) for d in (4, 8) for s in (0, 1, 2)
                                          for kind in "ab")]


def test_plot_sweep_draws_means_with_seeds_as_error_bars():
    ax = plot_sweep(ROWS, "n_dims", "ratio", by=["kind"])
    assert_labelled(ax, angle_axis=False)
    assert "3 seeds" in ax.get_title()
    assert len(ax.containers) == 2  # one errorbar line per kind
    line = ax.containers[0].lines[0]
    np.testing.assert_allclose(np.asarray(line.get_xdata(), float), [4, 8])
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), [5, 9])  # mean of 3 seeds
    segments = ax.containers[0].lines[2][0].get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], [2, 2])  # 2 * std = 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["kind=a", "kind=b"]


def test_plot_sweep_skips_failed_runs_and_places_categories():
    rows = [{"mode": m, "seed": s, "y": float(s), "status": "ok"}
            for m in ("normal", "uniform") for s in (0, 1)]
    rows.append({"mode": "cauchy", "seed": 0, "y": None, "status": "failed"})
    fig, ax = plt.subplots()
    assert plot_sweep(rows, "mode", "y", ax, xlabel="distribution", ylabel="y (units)") is ax
    assert [t.get_text() for t in ax.get_xticklabels()] == ["normal", "uniform"]
    assert ax.get_xlabel() == "distribution" and ax.get_ylabel() == "y (units)"


def test_plot_sweep_errors():
    with pytest.raises(ValueError, match="not a column"):
        plot_sweep(ROWS, "nope", "ratio")
    with pytest.raises(ValueError, match="finite number"):
        plot_sweep([{"x": 1, "y": "a"}], "x", "y")
    with pytest.raises(ValueError, match="finite number"):
        plot_sweep([{"x": 1, "y": math.nan}], "x", "y")
    with pytest.raises(ValueError, match="no successful run"):
        plot_sweep([{"x": 1, "y": 1.0, "status": "failed"}], "x", "y")
    with pytest.raises(TypeError, match="x must be a column name"):
        plot_sweep(ROWS, 1, "ratio")


# ------------------------------------------------ the command line's bad input (issue 15, 7)


def never_execute(task):
    raise AssertionError("bad input must be refused before anything runs")


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    return captured.err


@pytest.mark.parametrize("text, expected", [
    ("seed: [1\n", "is not valid YAML"),
    ("seed: !!python/object/apply:os.system ['echo unsafe']\n", "tag srmlib does not read"),
    ("- 1\n- 2\n", "must be a mapping"),
])
def test_cli_run_refuses_a_bad_parameters_file_in_one_line(tmp_path, capsys, monkeypatch, text,
                                                          expected):
    monkeypatch.setattr(one_run, "execute", never_execute)
    params = tmp_path / "params.yaml"
    params.write_text(text)
    assert runs.main(["run", str(FIXTURE), "--params", str(params), "--out",
                      str(tmp_path / "out")]) == 2
    error = one_line_error(capsys)
    assert f"parameters file {params}" in error and expected in error
    assert not (tmp_path / "out").exists()


def test_binary_files_are_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(one_run, "execute", never_execute)
    binary = bytes(range(256)) * 4
    chapter, params, grid = (tmp_path / name for name in ("99_binary.md", "p.yaml", "g.yaml"))
    for path in (chapter, params, grid):
        path.write_bytes(binary)
    assert runs.main(["run", str(chapter), "--out", str(tmp_path / "out")]) == 2
    assert f"chapter {chapter} is not UTF-8 text" in one_line_error(capsys)
    assert runs.main(["run", str(FIXTURE), "--params", str(params)]) == 2
    assert f"parameters file {params} is not UTF-8 text" in one_line_error(capsys)
    assert runs.main(["sweep", str(FIXTURE), str(grid), "--out", str(tmp_path / "out")]) == 2
    assert f"grid file {grid} is not UTF-8 text" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("below", [False, True])
def test_sweep_and_run_refuse_an_out_that_is_a_file(tmp_path, capsys, monkeypatch, below):
    monkeypatch.setattr(one_run, "execute", never_execute)
    monkeypatch.setattr(sweeps, "_local_runs", never_execute)
    blocker = tmp_path / "results.txt"
    blocker.write_text("keep me")
    out = blocker / "runs" if below else blocker
    grid = tmp_path / "grid.yaml"
    grid.write_text("grid:\n  seed: [0, 1]\n")
    assert runs.main(["sweep", str(FIXTURE), str(grid), "--out", str(out)]) == 2
    assert f"out {out}" in one_line_error(capsys)
    assert runs.main(["run", str(FIXTURE), "--out", str(out)]) == 2
    assert f"{blocker} is a file" in one_line_error(capsys)
    assert blocker.read_text() == "keep me"


def test_an_unreachable_scheduler_is_reported_before_any_folder_is_made(tmp_path, capsys,
                                                                        monkeypatch):
    import socket

    monkeypatch.setattr(sweeps, "CONNECT_TIMEOUT", "2s")
    monkeypatch.setattr(sweeps, "_local_runs", never_execute)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    grid = tmp_path / "grid.yaml"
    grid.write_text("grid:\n  seed: [0, 1]\n")
    out = tmp_path / "out"
    address = f"tcp://127.0.0.1:{port}"
    assert runs.main(["sweep", str(FIXTURE), str(grid), "--scheduler", address,
                      "--out", str(out)]) == 2
    assert f"cannot reach the Dask scheduler '{address}'" in one_line_error(capsys)
    assert not out.exists()


@pytest.mark.parametrize("name, text", [
    ("quick", "yes"), ("quick", "on"), ("quick", "no"), ("quick", "off"), ("quick", "y"),
    ("seed", "0x10"), ("seed", "1_000"), ("seed", "010"), ("seed", "0o17"), ("seed", "+8.5"),
    ("scale", "1_000.5"), ("scale", "0x1p3"), ("scale", "inf"),
])
def test_cli_refuses_yaml_1_1_spellings(tmp_path, capsys, monkeypatch, name, text):
    """YAML 1.1 reads these as booleans or numbers the user may not have meant; the parameter
    grammar (YAML 1.2 core plain scalars) reads them as strings, which a typed parameter
    refuses, naming it."""
    monkeypatch.setattr(one_run, "execute", never_execute)
    assert runs.main(["run", str(FIXTURE), "-p", name, text, "--out", str(tmp_path)]) == 2
    assert f"parameter {name} must be" in one_line_error(capsys)
    params = tmp_path / "params.yaml"
    params.write_text(f"{name}: {text}\n")
    assert runs.main(["run", str(FIXTURE), "--params", str(params), "--out", str(tmp_path)]) == 2
    assert f"parameter {name} must be" in one_line_error(capsys)


def test_cli_accepts_the_grammars_spellings(tmp_path, monkeypatch):
    given = []

    def fake_execute(task):
        given.append(task["parameters"])
        return {"notebook": None, "results": {}, "status": "ok", "error": None, "seconds": 0.0}

    monkeypatch.setattr(one_run, "execute", fake_execute)
    for quick, seed, scale, expected in [("True", "+8", ".5", (True, 8, 0.5)),
                                         ("FALSE", "0", "2.5E+1", (False, 0, 25.0)),
                                         ("false", "-0", "3", (False, 0, 3.0))]:
        assert runs.main(["run", str(FIXTURE), "-p", "quick", quick, "-p", "seed", seed,
                          "-p", "scale", scale, "--out", str(tmp_path)]) == 0
        assert (given[-1]["quick"], given[-1]["seed"], given[-1]["scale"]) == expected
        assert type(given[-1]["scale"]) is float


DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
BOOLS = {"true", "True", "TRUE", "false", "False", "FALSE"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="01789+-_.xobeEtrufalsyonTRUEFALSYON:", max_size=8))
def test_yaml_scalars_are_bool_or_int_only_in_the_grammar(text):
    """Property: a value reads as a bool only when spelled true/false, as an int only when
    decimal digits with an optional sign, and then as the number Python reads."""
    try:
        value = runs.load_yaml(text)
    except ValueError:
        return
    if isinstance(value, bool):
        assert text in BOOLS
    elif isinstance(value, int):
        assert DECIMAL.fullmatch(text) and value == int(text, 10)
    elif isinstance(value, float) and math.isfinite(value):
        assert ("." in text or "e" in text.lower()) and "_" not in text and "x" not in text
        assert value == float(text)
    if text in BOOLS:
        assert value is (text.lower() == "true")
    if DECIMAL.fullmatch(text):
        assert value == int(text) and not isinstance(value, bool)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10**30), st.sampled_from(["", "+"]))
def test_every_decimal_seed_reads_back(seed, sign):
    param = runs.parameters.Parameter("seed", "int", 0, low=0.0)
    assert param.check(runs.load_yaml(f"{sign}{seed}")) == seed


# ------------------------------------------------------ stale temporary folders (issue 15, 7)


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(sys.platform == "win32", reason="process ids checked on POSIX")
def test_folders_of_killed_runs_are_removed_by_the_next_run(tmp_path, monkeypatch):
    import os
    import tempfile

    import papermill

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"srmlib-run-{dead_pid()}-abc123_x"
    stale_task = tmp_path / f"srmlib-task-{dead_pid()}-zz9"
    alive = tmp_path / f"srmlib-run-{os.getppid()}-live1"  # a process that still runs
    legacy_old, legacy_new = tmp_path / "srmlib-run-old12345", tmp_path / "srmlib-run-new12345"
    other = tmp_path / "someone-else-1"
    for folder in (stale, stale_task, alive, legacy_old, legacy_new, other):
        folder.mkdir()
        (folder / "source.ipynb").write_text("{}")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(legacy_old, (day_ago, day_ago))
    used = []

    def fake_execute_notebook(source, executed, **kwargs):
        used.append(Path(source).parent.name)
        raise RuntimeError("stop here")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute_notebook)
    task = one_run.make_task(runs.load_chapter(FIXTURE), {})
    assert one_run.execute(task)["status"] == "failed"
    assert used and used[0].startswith(f"srmlib-run-{os.getpid()}-")
    assert not stale.exists() and not stale_task.exists() and not legacy_old.exists()
    assert alive.exists() and legacy_new.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (alive, legacy_new, other))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_results_files_follow_the_umask(tmp_path):
    import os

    task = {"chapter": "c", "name": "defaults", "parameters": {}}
    outcome = {"notebook": "{}", "results": {}, "status": "ok", "error": None, "seconds": 0.0}
    old_mask = os.umask(0o022)
    try:
        folder = one_run.save_run(tmp_path, task, outcome).folder
    finally:
        os.umask(old_mask)
    for name in ("results.json", "notebook.ipynb"):
        assert (folder / name).stat().st_mode & 0o777 == 0o644
