"""Run srmlib on the large workload in a fresh process; print times and peak memory as JSON.

Used by ``python -m benchmarks`` as ``python -m benchmarks._workload [options]`` so that the peak
resident set size (``ru_maxrss``, KiB on Linux) belongs to this workload alone. The baseline is the
peak after importing srmlib and creating the data; the srmlib call's own cost is the increase.
"""

from __future__ import annotations

import argparse
import json
import resource
import time


def _rss_now_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--epsilon", type=float, default=None)
    parser.add_argument("--basis", choices=["standard", "rotated"], default="standard")
    parser.add_argument("--plane-stride", type=int, default=1,
                        help="evaluate every stride-th comb plane only")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--n", type=int, default=None, help="samples (default: the L workload's)")
    parser.add_argument("--d", type=int, default=None, help="dimensions (default: L's)")
    parser.add_argument("--threshold", type=float, default=None, help="ReLU threshold (L's)")
    parser.add_argument("--max-planes", type=int, default=None,
                        help="a random subset of this many comb planes (seed 0)")
    args = parser.parse_args()

    import numpy as np

    import srmlib

    from .workloads import LARGE, ROTATED_BASIS_SEED, relu_activations

    n = LARGE["n"] if args.n is None else args.n
    d = LARGE["d"] if args.d is None else args.d
    threshold = LARGE["threshold"] if args.threshold is None else args.threshold
    x = relu_activations(n, d, threshold, LARGE["seed"], dtype=args.dtype)
    basis = None
    if args.basis == "rotated":
        basis = srmlib.random_rotation(d, seed=ROTATED_BASIS_SEED).astype(args.dtype)
    # Every comb plane through the public default path, or a subset given explicitly.
    planes = None
    n_planes = d * (d - 1) // 2
    if args.plane_stride > 1:
        planes = srmlib.enumerate_planes(d, LARGE["pairs"])[:: args.plane_stride]
        n_planes = len(planes)
    if args.max_planes is not None:
        planes = srmlib.enumerate_planes(d, LARGE["pairs"], max_planes=args.max_planes, seed=0)
        n_planes = len(planes)
    epsilon = LARGE["epsilon"] if args.epsilon is None else args.epsilon
    baseline_peak, baseline_rss = _peak_kib(), _rss_now_kib()

    times, cpu_times = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = srmlib.spotlight_resonance(
            x, basis, epsilon=epsilon, resolution=LARGE["resolution"], pairs=LARGE["pairs"],
            planes=planes, progress=False,
        )
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        assert result.values.shape == (n_planes, LARGE["resolution"])
        assert np.isfinite(result.values).all() and result.values.any()
        del result
    print(json.dumps({
        "times_s": times,
        "cpu_s": cpu_times,
        "n_planes": n_planes,
        "baseline_peak_kib": baseline_peak,
        "baseline_rss_kib": baseline_rss,
        "peak_kib": _peak_kib(),
    }))


if __name__ == "__main__":
    main()
