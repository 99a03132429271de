"""How fast srmlib trains its small models: toy models of superposition and sparse autoencoders.

Chapters 4 and 5 train dozens of these, so the cost of one optimiser step decides how long the
chapters take. Each row times one training run (best of a few, in seconds) on one torch thread:

* ``toy 5x2``: chapter 4's sweep, 10 instances of 5 features in 2 dimensions, batch 512;
* ``toy 50x10``: chapter 4's larger model, 16 instances of 50 features in 10 dimensions,
  batch 256, cosine learning rate;
* ``SAE relu`` / ``SAE topk``: chapter 5's SAEs, 16 latents on 3-dimensional activations,
  batch 256.

Bars, so that a chapter's quick run stays within seconds: an SAE step under 0.5 ms (autograd
and ``torch.optim.Adam`` took about 0.8 ms; the hand-written numpy step about 0.15-0.3 ms), a
step of the 5x2 sweep under 1 ms (about 0.4-0.6 ms on two quiet cores). Times are wall times
and grow with the machine's load.

Run alone with ``.venv/bin/python -m benchmarks.training``; :func:`bench_training` returns the
rows for a combined table.
"""

from __future__ import annotations

import sys
import time

import numpy as np

SAE_STEP_LIMIT_MS = 0.5
TOY_STEP_LIMIT_MS = 1.0
REPEATS = 3


def _best_of(run, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_training() -> list[dict]:
    """One dict per workload: name, steps, seconds (best of a few), ms per step, bar or None."""
    import torch

    from srmlib import sae, toy

    rows = []

    def toy_run(n_features, n_hidden, probabilities, batch_size, steps, schedule):
        config = toy.ToyConfig(n_features=n_features, n_hidden=n_hidden,
                               n_instances=len(probabilities), feature_probability=probabilities)
        model = toy.ToyModel(config, seed=0)
        toy.train_toy_model(model, steps=steps, batch_size=batch_size, lr=5e-3, seed=0,
                            lr_schedule=schedule, progress=False)

    workloads = {
        "toy 5x2": (lambda: toy_run(5, 2, np.geomspace(1.0, 0.02, 10), 512, 1000, "constant"),
                    1000, TOY_STEP_LIMIT_MS),
        "toy 50x10": (lambda: toy_run(50, 10, np.geomspace(0.6, 0.12, 16), 256, 300, "cosine"),
                      300, None),
    }
    activations = torch.randn(20_000, 3, generator=torch.Generator().manual_seed(0))
    for kind, options in (("relu", {}), ("topk", dict(k=1))):
        def sae_run(kind=kind, options=options):
            autoencoder = sae.create_sae(kind, 3, 16, seed=0, **options)
            sae.train_sae(autoencoder, activations, steps=1000, seed=0, progress=False)
        workloads[f"SAE {kind}"] = (sae_run, 1000, SAE_STEP_LIMIT_MS)
    for name, (run, steps, limit) in workloads.items():
        run()  # warm up: imports, allocations
        seconds = _best_of(run)
        rows.append({"name": name, "steps": steps, "seconds": seconds,
                     "ms_per_step": 1e3 * seconds / steps, "limit_ms": limit})
    return rows


def main() -> int:
    rows = bench_training()
    print(f"{'workload':12s} {'steps':>6s} {'seconds':>8s} {'ms/step':>8s}  bar")
    failed = False
    for row in rows:
        limit = row["limit_ms"]
        ok = limit is None or row["ms_per_step"] < limit
        failed |= not ok
        bar = "-" if limit is None else f"< {limit} ms {'ok' if ok else 'MISSED'}"
        print(f"{row['name']:12s} {row['steps']:6d} {row['seconds']:8.2f} "
              f"{row['ms_per_step']:8.3f}  {bar}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
