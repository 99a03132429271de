"""Alignment metrics at the scale of a real layer: time and peak memory, one fresh process each.

Workload ``M``: two representations of n = 100,000 stimuli by d = 1,024 units, float32 (400 MB
each; float32 is what a network's activations come as): ``x`` ReLU-like (``max(z - 0.5, 0)``,
``z`` standard normal) and ``y`` a permuted, rescaled, noisy copy of it, so that the scores are
far from their chance levels. Each metric runs in a fresh interpreter
(``python -m benchmarks.metrics --one NAME``), so that the peak resident set size
(``ru_maxrss``) is that metric's alone; its *increase* over the peak after creating the data
over the resident size once the data exist is what the metric itself holds at its peak. Times are wall times (``time.perf_counter``) of one call on
one thread (the metrics pin BLAS and torch to one thread), so they move with the machine's load.

Rows ``(m)``: the metrics that need only second moments of the data (semi- and soft-matching
with 5 folds, the soft-matching, permutation, Procrustes and shape distances, mean CCA, SVCCA,
PWCCA, CKA biased and unbiased, linear predictivity with 5 folds and the default 9 penalties)
on all of ``M``. Bar: the increase in peak memory is below
``MEMORY_BAR_MIB`` (1 GiB). They stream over blocks of stimuli, so it does not grow with n:
semi-matching measured +384, +504, +439 and +479 MiB at n = 12,500, 25,000, 50,000 and 100,000
(libraries loaded on first use, a few blocks and ``d x d`` matrices), against 400 MB for one
input; an in-memory float64 copy of both inputs alone would be 1.6 GB.
Linear predictivity streams too, but its time is the largest: per fold, one pass over the
training stimuli per penalty (the leave-one-out errors), about n * d^2 * (1 + n_alphas) products.
Info rows: the nearest-neighbour metrics (time grows as n^2, so on 10,000 of the stimuli).
RSA needs all n (n - 1) / 2 dissimilarities (40 GB at n = 100,000) and has no row.

Run alone with ``.venv/bin/python -m benchmarks.metrics``; :func:`bench_metrics` returns the
rows for ``python -m benchmarks``'s table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCALE = dict(n=100_000, d=1_024, seed=3)
MEMORY_BAR_MIB = 1_024

#: name -> (metric, options, stimuli used, units used)
ROWS = {
    "semi-matching (5 folds)": ("semi-matching", {}, None, None),
    "soft-matching (5 folds)": ("soft-matching", {}, None, None),
    "soft-matching distance": ("soft-matching distance", {}, None, None),
    "permutation": ("permutation", {}, None, None),
    "procrustes": ("procrustes", {}, None, None),
    "shape (alpha=0.5)": ("shape", {"alpha": 0.5}, None, None),
    "mean cca": ("mean cca", {}, None, None),
    "svcca": ("svcca", {}, None, None),
    "pwcca": ("pwcca", {}, None, None),
    "cka": ("cka", {}, None, None),
    "cka (unbiased)": ("cka", {"unbiased": True}, None, None),
    "mutual knn (k=10)": ("mutual knn", {}, 10_000, None),
    "cknna (k=10)": ("cknna", {}, 10_000, None),
    "linear predictivity (5 folds)": ("linear predictivity", {}, None, None),
}


def workload(n: int, d: int, seed: int):
    """``(x, y)``: float32 ``(n, d)`` ReLU-like activations and a permuted noisy copy."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x -= 0.5
    np.maximum(x, 0.0, out=x)
    y = np.ascontiguousarray(x[:, rng.permutation(d)])
    y *= rng.uniform(0.5, 2.0, d).astype(np.float32)
    for start in range(0, n, 4_096):  # in blocks: no temporary of the data's size
        block = y[start:start + 4_096]
        block += 0.3 * rng.standard_normal(block.shape, dtype=np.float32)
    return x, y


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def _one(name: str) -> dict:
    """Run one row in this process (called in a fresh interpreter)."""
    from srmlib import metrics

    metric, options, n, d = ROWS[name]
    n = SCALE["n"] if n is None else n
    d = SCALE["d"] if d is None else d
    x, y = workload(n, d, SCALE["seed"])
    baseline, resident = _peak_kib(), _rss_kib()
    start = time.perf_counter()
    result = metrics.compare(x, y, metric, **options)
    seconds = time.perf_counter() - start
    return {"name": name, "n": n, "d": d, "seconds": seconds, "value": result.mean,
            "baseline_peak_kib": baseline, "baseline_rss_kib": resident,
            "peak_kib": _peak_kib()}


def bench_metrics(names=None) -> list[dict]:
    """One dict per row, each measured in a fresh interpreter."""
    rows = []
    for name in ROWS if names is None else names:
        done = subprocess.run([sys.executable, "-m", "benchmarks.metrics", "--one", name],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"benchmarks.metrics --one {name!r} failed:\n{done.stderr}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        # Over the resident size once the data exist: what the metric itself holds at its peak
        # (the peak before it may include freed temporaries of making the data).
        row["increase_mib"] = (row["peak_kib"] - row["baseline_rss_kib"]) / 1024
        row["bar"] = ROWS[name][2] is None and ROWS[name][3] is None
        row["met"] = row["increase_mib"] < MEMORY_BAR_MIB if row["bar"] else None
        rows.append(row)
    return rows


def table_rows(rows: list[dict]) -> list[list[str]]:
    """Rows for ``python -m benchmarks``'s table: bar, workload, srmlib, memory, value, target, met."""
    out = []
    for row in rows:
        out.append([
            "(m)" if row["bar"] else "info",
            f"metric {row['name']}, n={row['n']:,} d={row['d']:,} float32",
            f"{row['seconds']:.1f} s (value {row['value']:.3f})",
            f"peak RSS {row['peak_kib'] / 1024:,.0f} MiB "
            f"(with the data {row['baseline_rss_kib'] / 1024:,.0f} MiB)",
            f"+{row['increase_mib']:,.0f} MiB",
            f"< +{MEMORY_BAR_MIB} MiB" if row["bar"] else "-",
            "-" if row["met"] is None else ("yes" if row["met"] else "NO"),
        ])
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", help="run one row in this process and print JSON")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), help="run only these rows")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(_one(args.one)))
        return 0
    from .__main__ import _table

    rows = bench_metrics(args.rows)
    header = ["bar", "workload", "srmlib", "memory", "increase", "target", "met"]
    print(_table([header, *table_rows(rows)]))
    return 0 if all(row["met"] is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
