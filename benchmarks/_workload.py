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
    args = parser.parse_args()

    import numpy as np

    import srmlib

    from .workloads import LARGE, ROTATED_BASIS_SEED, relu_activations

    x = relu_activations(LARGE["n"], LARGE["d"], LARGE["threshold"], LARGE["seed"])
    x = x.astype(args.dtype)
    basis = None
    if args.basis == "rotated":
        basis = srmlib.random_rotation(LARGE["d"], seed=ROTATED_BASIS_SEED).astype(args.dtype)
    # Every comb plane through the public default path, or an even subset given explicitly.
    planes = None
    n_planes = LARGE["d"] * (LARGE["d"] - 1) // 2
    if args.plane_stride > 1:
        planes = srmlib.enumerate_planes(LARGE["d"], LARGE["pairs"])[:: args.plane_stride]
        n_planes = len(planes)
    epsilon = LARGE["epsilon"] if args.epsilon is None else args.epsilon
    baseline_peak, baseline_rss = _peak_kib(), _rss_now_kib()

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = srmlib.spotlight_resonance(
            x, basis, epsilon=epsilon, resolution=LARGE["resolution"], pairs=LARGE["pairs"],
            planes=planes, progress=False,
        )
        times.append(time.perf_counter() - start)
        assert result.values.shape == (n_planes, LARGE["resolution"])
        assert np.isfinite(result.values).all() and result.values.any()
        del result
    print(json.dumps({
        "times_s": times,
        "n_planes": n_planes,
        "baseline_peak_kib": baseline_peak,
        "baseline_rss_kib": baseline_rss,
        "peak_kib": _peak_kib(),
    }))


if __name__ == "__main__":
    main()
