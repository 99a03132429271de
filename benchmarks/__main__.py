"""Speed and memory of srmlib's Spotlight Resonance against the issue's bars, in one table.

Run from the repository root::

    make bench            # or: .venv/bin/python -m benchmarks

It takes a few minutes on two quiet cores (much longer under load) and exits with status 1 if
any bar is missed.
All data are seeded (see :mod:`benchmarks.workloads`); times are ``time.perf_counter`` wall
times, so they move with the machine's load.

Workloads (ReLU-like activations ``max(z - t, 0)``, ``z`` standard normal, all-zero rows redrawn):

* ``S``: d=64, n=4,000, A=100 angles, all 4,032 ordered ("perm") planes of the standard basis,
  epsilon=0.9, float64.
* ``L``: d=256, n=10,000, A=360 angles, all 32,640 unordered ("comb") planes of the standard
  basis, epsilon=0.9, float64 (float32 in one informational row).
* ``W``: the ``L`` data in a Haar-random rotated basis at epsilon=0: every (sample, plane) pair
  needs an arc, so srmlib's filter saves nothing. srmlib's worst case.

Rows:

* (a) srmlib on all of ``S`` (best of several runs) against :mod:`benchmarks.reference_srm`, the
  author's algorithm, timed on a few planes and scaled linearly to 4,032 (its cost per plane does
  not depend on the plane). Bar: at least 10,000x faster.
* (b) srmlib on all of ``L`` against :mod:`benchmarks.direct_srm` (all n x A inner products per
  plane), timed on some planes and scaled to 32,640. Bar: at least 20x faster.
* (c) srmlib on all of ``L`` in a fresh subprocess: wall time (bar: under 15 s) and peak resident
  memory of that whole process (bar: under 2 GB = 1,907 MiB), with the increase over the peak
  after importing srmlib and creating the data.
* (d) :class:`srmlib.widgets.SRMExplorer` on d=16, n=5,000 (120 planes, 180 angles): median
  redraw time after moving the epsilon slider, the resolution, the view and signed (see
  :mod:`benchmarks.widgets`). Bar: every median under 0.3 s. Skipped without ipywidgets.
* (e) one optimiser step of chapter 4's 5x2 toy sweep (bar: under 1 ms of CPU time), of its
  50x10 model (bar: under 4 ms of CPU time) and of chapter 5's SAEs (bar: under 0.5 ms), from
  :mod:`benchmarks.training`; the paper's 200x20 toy setup (and on CUDA, where present) are
  info rows.
* (W) srmlib on ``W`` (best of two runs on every 16th plane in a fresh subprocess, scaled to
  32,640)
  against the direct evaluation of row (b) (its cost per plane is the same for any basis and
  epsilon). Bar: at least 100x faster. The CPU times of both are shown too: wall times move with
  the load of a shared machine, CPU times much less.
* info: ``L`` in float32; ``X``, a layer-sized input: n=100,000, d=1,024, float32, ReLU with
  threshold 0 (half the units active), 2,000 random comb planes of a Haar-random rotated basis,
  epsilon=0 (the dense worst case), in a fresh subprocess: time, CPU time and peak memory.
* (m) the alignment metrics on n=100,000 stimuli by d=1,024 units (:mod:`benchmarks.metrics`):
  time, and the increase in peak memory over the data's (bar: under 1 GiB); info rows for the
  nearest-neighbour metrics and linear predictivity at smaller sizes. They add several minutes.

Under the table: the fraction of (sample, plane) pairs inside the epsilon filter for each
workload, and whether the twins agreed with srmlib on the planes they were timed on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import srmlib

from . import direct_srm, reference_srm
from .metrics import bench_metrics, table_rows
from .training import bench_training
from .widgets import REDRAW_LIMIT_S, bench_widgets
from .workloads import LARGE, ROTATED_BASIS_SEED, SMALL, arc_fraction, relu_activations

ROOT = Path(__file__).resolve().parent.parent

SPEEDUP_VS_REFERENCE = 10_000
SPEEDUP_VS_DIRECT = 20
SPEEDUP_WORST_CASE = 100
TIME_LIMIT_S = 15.0
MEMORY_LIMIT_MIB = 2e9 / 2**20  # 2 GB

SRMLIB_REPEATS_SMALL = 5
REFERENCE_PLANES = 3
DIRECT_PLANES = 40
LARGE_REPEATS = 2
WORST_CASE_STRIDE = 16
SCALE = dict(n=100_000, d=1024, threshold=0.0, max_planes=2000, epsilon=0.0)


def _run_workload(*args: str) -> dict:
    """Run :mod:`benchmarks._workload` in a fresh interpreter; return its JSON report."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._workload", *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks._workload {' '.join(args)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _even_rows(n_rows: int, count: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_rows - 1, count).round().astype(int))


def _seconds(t: float) -> str:
    return f"{t:,.0f} s" if t >= 100 else f"{t:.2f} s"


def _mib(kib: int) -> float:
    return kib / 1024


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def bench_small() -> dict:
    """Bar (a): srmlib on all of ``S`` against the reference on a few planes."""
    x = relu_activations(SMALL["n"], SMALL["d"], SMALL["threshold"], SMALL["seed"])
    times = []
    for _ in range(SRMLIB_REPEATS_SMALL):
        start = time.perf_counter()
        result = srmlib.spotlight_resonance(
            x, epsilon=SMALL["epsilon"], resolution=SMALL["resolution"], pairs=SMALL["pairs"],
            progress=False,
        )
        times.append(time.perf_counter() - start)

    rows = _even_rows(len(result.planes), REFERENCE_PLANES)
    unit_x, basis = reference_srm.unit_samples(x), np.eye(SMALL["d"])
    counts, ref_times = [], []
    for i, j in result.planes[rows]:
        start = time.perf_counter()
        counts.append(reference_srm.plane_counts(unit_x, basis[i], basis[j], result.angles,
                                                 SMALL["epsilon"]))
        ref_times.append(time.perf_counter() - start)
    # The reference turns the other way: its angle theta_k is srmlib's theta_{-k} on this grid.
    mirrored = np.rint(result.values[rows] * result.n_samples).astype(int)
    mirrored = mirrored[:, (-np.arange(len(result.angles))) % len(result.angles)]
    return {
        "srmlib_s": min(times),
        "per_plane_s": float(np.mean(ref_times)),
        "timed_planes": len(rows),
        "n_planes": len(result.planes),
        "max_diff": int(np.abs(np.stack(counts) - mirrored).max()),
        "arc_fraction": arc_fraction(x, np.eye(SMALL["d"]), SMALL["epsilon"]),
    }


def bench_direct(x: np.ndarray) -> dict:
    """The direct evaluation on a few planes of ``L`` (cost per plane independent of the plane)."""
    planes = srmlib.enumerate_planes(LARGE["d"], LARGE["pairs"])
    rows = _even_rows(len(planes), DIRECT_PLANES)
    angles = np.linspace(0.0, 2 * np.pi, LARGE["resolution"], endpoint=False)
    unit_x, basis = reference_srm.unit_samples(x), np.eye(LARGE["d"])
    start, cpu_start = time.perf_counter(), time.process_time()
    counts = np.stack([direct_srm.plane_counts(unit_x, basis[i], basis[j], angles, LARGE["epsilon"])
                       for i, j in planes[rows]])
    per_plane = (time.perf_counter() - start) / len(rows)
    cpu_per_plane = (time.process_time() - cpu_start) / len(rows)
    check = srmlib.spotlight_resonance(x, epsilon=LARGE["epsilon"], angles=angles,
                                       planes=planes[rows], progress=False)
    return {
        "per_plane_s": per_plane,
        "cpu_per_plane_s": cpu_per_plane,
        "timed_planes": len(rows),
        "n_planes": len(planes),
        "max_diff": int(np.abs(counts - np.rint(check.values * check.n_samples)).max()),
    }


def main() -> int:
    started = time.perf_counter()
    print("Running the benchmarks (a few minutes)...", file=sys.stderr, flush=True)
    large = _run_workload("--repeats", str(LARGE_REPEATS))
    large32 = _run_workload("--dtype", "float32")
    worst = _run_workload("--basis", "rotated", "--epsilon", "0.0",
                          "--plane-stride", str(WORST_CASE_STRIDE), "--repeats", str(LARGE_REPEATS))
    scale = _run_workload("--basis", "rotated", "--epsilon", str(SCALE["epsilon"]),
                          "--dtype", "float32", "--n", str(SCALE["n"]), "--d", str(SCALE["d"]),
                          "--threshold", str(SCALE["threshold"]),
                          "--max-planes", str(SCALE["max_planes"]))
    small = bench_small()
    x = relu_activations(LARGE["n"], LARGE["d"], LARGE["threshold"], LARGE["seed"])
    direct = bench_direct(x)
    large_fraction = arc_fraction(x, np.eye(LARGE["d"]), LARGE["epsilon"])
    rotated = srmlib.random_rotation(LARGE["d"], seed=ROTATED_BASIS_SEED)
    worst_fraction = arc_fraction(x, rotated, 0.0)
    widget = bench_widgets()

    ref_total = small["per_plane_s"] * small["n_planes"]
    speedup_a = ref_total / small["srmlib_s"]
    large_s = min(large["times_s"])
    direct_total = direct["per_plane_s"] * direct["n_planes"]
    speedup_b = direct_total / large_s
    peak_mib = _mib(large["peak_kib"])
    increase_mib = _mib(large["peak_kib"] - large["baseline_peak_kib"])
    all_planes = LARGE["d"] * (LARGE["d"] - 1) / 2
    best_worst = int(np.argmin(worst["times_s"]))
    worst_s = worst["times_s"][best_worst] * all_planes / worst["n_planes"]
    worst_cpu_s = worst["cpu_s"][best_worst] * all_planes / worst["n_planes"]
    direct_cpu_total = direct["cpu_per_plane_s"] * direct["n_planes"]
    speedup_w = direct_total / worst_s

    met = {
        "a": speedup_a >= SPEEDUP_VS_REFERENCE,
        "b": speedup_b >= SPEEDUP_VS_DIRECT,
        "c_time": large_s < TIME_LIMIT_S,
        "c_memory": peak_mib < MEMORY_LIMIT_MIB,
        "W": speedup_w >= SPEEDUP_WORST_CASE,
    }
    if widget is None:
        widget_row = ["(d)", "widget redraw", "skipped: ipywidgets (the book extra) missing",
                      "-", "-", f"< {REDRAW_LIMIT_S} s", "-"]
    else:
        medians = widget["medians_s"]
        met["d"] = max(medians.values()) < REDRAW_LIMIT_S
        widget_row = [
            "(d)", f"widget redraw, d=16 n=5,000 ({widget['n_planes']} planes)",
            f"epsilon {medians['epsilon']:.3f} s (median of {widget['redraws']['epsilon']})",
            ", ".join(f"{name} {medians[name]:.3f} s" for name in ("resolution", "view", "signed"))
            + " (medians)",
            f"{max(medians.values()):.3f} s", f"< {REDRAW_LIMIT_S} s", "yes" if met["d"] else "NO"]
    yes = {True: "yes", False: "NO"}
    best_of_large = f"best of {len(large['times_s'])}: " + ", ".join(
        _seconds(t) for t in large["times_s"])
    rows = [
        ["bar", "workload", "srmlib", "comparison", "speed-up / value", "target", "met"],
        ["(a)", "S float64", f"{_seconds(small['srmlib_s'])} (best of {SRMLIB_REPEATS_SMALL})",
         f"reference {small['per_plane_s']:.2f} s/plane x {small['n_planes']:,} = "
         f"{_seconds(ref_total)} ({small['timed_planes']} timed)",
         f"{speedup_a:,.0f}x", f">= {SPEEDUP_VS_REFERENCE:,}x", yes[met["a"]]],
        ["(b)", "L float64", f"{_seconds(large_s)} ({best_of_large})",
         f"direct {1e3 * direct['per_plane_s']:.1f} ms/plane x {direct['n_planes']:,} = "
         f"{_seconds(direct_total)} ({direct['timed_planes']} timed)",
         f"{speedup_b:,.0f}x", f">= {SPEEDUP_VS_DIRECT}x", yes[met["b"]]],
        ["(c)", "L float64, time", f"{_seconds(large_s)}", "fresh subprocess, 2 cores",
         f"{large_s:.2f} s", f"< {TIME_LIMIT_S:.0f} s", yes[met["c_time"]]],
        ["(c)", "L float64, memory", f"peak RSS {peak_mib:,.0f} MiB",
         f"imports + data {_mib(large['baseline_peak_kib']):,.0f} MiB peak "
         f"({_mib(large['baseline_rss_kib']):,.0f} MiB RSS); srmlib +{increase_mib:,.0f} MiB",
         f"{peak_mib:,.0f} MiB", f"< {MEMORY_LIMIT_MIB:,.0f} MiB (2 GB)",
         yes[met["c_memory"]]],
        widget_row,
        ["info", "L float32", f"{_seconds(large32['times_s'][0])} (1 run)",
         f"peak RSS {_mib(large32['peak_kib']):,.0f} MiB "
         f"(+{_mib(large32['peak_kib'] - large32['baseline_peak_kib']):,.0f} MiB)",
         f"{direct_total / large32['times_s'][0]:,.0f}x vs direct", "-", "-"],
        ["(W)", "W float64 (worst case)",
         f"{_seconds(worst_s)} (best of {len(worst['times_s'])}: "
         f"{_seconds(worst['times_s'][best_worst])} on {worst['n_planes']:,} planes); "
         f"CPU {_seconds(worst_cpu_s)}",
         f"direct {_seconds(direct_total)}, CPU {_seconds(direct_cpu_total)} "
         "(same cost for any basis, epsilon)",
         f"{speedup_w:,.0f}x (CPU {direct_cpu_total / worst_cpu_s:,.0f}x)",
         f">= {SPEEDUP_WORST_CASE}x", yes[met["W"]]],
        ["info", f"X float32, n={SCALE['n']:,} d={SCALE['d']:,}",
         f"{_seconds(scale['times_s'][0])} on {scale['n_planes']:,} planes; "
         f"CPU {_seconds(scale['cpu_s'][0])}",
         f"peak RSS {_mib(scale['peak_kib']):,.0f} MiB (data and imports "
         f"{_mib(scale['baseline_peak_kib']):,.0f} MiB; srmlib "
         f"+{_mib(scale['peak_kib'] - scale['baseline_peak_kib']):,.0f} MiB)",
         f"{_mib(scale['peak_kib']):,.0f} MiB", "-", "-"],
    ]
    for row in bench_training():
        label = f"(e) {row['name']}" if row["limit_ms"] is not None else "info"
        if row["limit_ms"] is not None:
            met[label] = row["ms_per_step"] < row["limit_ms"]
        rows.append([label.split()[0], f"train {row['name']}, {row['steps']:,} steps",
                     f"{_seconds(row['seconds'])} (best of 3, {row['clock']} time)",
                     "one torch thread",
                     f"{row['ms_per_step']:.3f} ms/step",
                     "-" if row["limit_ms"] is None else f"< {row['limit_ms']} ms/step",
                     "-" if row["limit_ms"] is None else yes[met[label]]])
    metric_rows = bench_metrics()
    for row in metric_rows:
        if row["met"] is not None:
            met[f"(m) {row['name']}"] = row["met"]
    rows += table_rows(metric_rows)
    print(_table(rows))
    print()
    print(f"S: ReLU-like (threshold {SMALL['threshold']}), {small['arc_fraction']:.3%} of "
          f"(sample, plane) pairs inside the epsilon={SMALL['epsilon']} filter.")
    print(f"L: ReLU-like (threshold {LARGE['threshold']}, "
          f"{np.count_nonzero(x) / len(x):.1f} of {LARGE['d']} neurons active per row), "
          f"{large_fraction:.3%} of the {len(x) * direct['n_planes']:,} (sample, plane) pairs "
          f"inside the epsilon={LARGE['epsilon']} filter "
          f"(about {large_fraction * direct['n_planes']:.0f} planes per sample).")
    print(f"W: {worst_fraction:.3%} of (sample, plane) pairs need an arc "
          f"(epsilon=0, rotated basis); every {WORST_CASE_STRIDE}th plane timed.")
    print(f"Twins on their timed planes: reference vs srmlib (mirrored angles) max count "
          f"difference {small['max_diff']}; direct vs srmlib {direct['max_diff']}.")
    failed = [name for name, ok in met.items() if not ok]
    print(f"Total benchmark time {time.perf_counter() - started:.0f} s. "
          + ("All bars met." if not failed else f"Bars NOT met: {', '.join(failed)}."))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
