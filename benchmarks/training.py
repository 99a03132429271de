"""How fast srmlib trains its small models: toy models of superposition and sparse autoencoders.

Chapters 4 and 5 train dozens of these, so the cost of one optimiser step decides how long the
chapters take. Each row times one training run (best of a few) on one torch thread:

* ``toy 5x2``: chapter 4's sweep, 10 instances of 5 features in 2 dimensions, batch 512;
* ``toy 50x10``: chapter 4's larger model, 16 instances of 50 features in 10 dimensions,
  batch 256, cosine learning rate;
* ``toy 200x20``: the paper's setup (``notebooks/params/04_elhage2022.yaml``), 20 instances of
  200 features in 20 dimensions, batch 1,024, AdamW with weight decay 0.01 (info: it tells how
  long the paper's 10,000 steps take); and ``toy 200x20 (cuda)``, the same on a GPU, where CUDA
  is present (info, wall time after synchronising: no chapter trains on a GPU);
* ``SAE relu`` / ``SAE topk``: chapter 5's SAEs, 16 latents on 3-dimensional activations,
  batch 256, as ``train_sae`` trains them on the CPU (the private numpy step); ``SAE relu
  (autograd)`` / ``SAE topk (autograd)``: the same on the autograd step that every architecture
  takes (a trivial subclass, which the numpy step never takes); ``SAE batchtopk`` / ``SAE
  jumprelu``: the other two architectures, same size; and ``SAE topk 512x4096 (cuda)``, a TopK
  SAE the size of a small real layer (4,096 latents on 512 dimensions, batch 4,096) on a GPU,
  where CUDA is present (info, wall time after synchronising).

The CPU rows time CPU time (``time.process_time``: one thread, so it is the step's own cost
and moves little with the machine's load); the CUDA rows, wall time. Toy models train by
autograd and ``torch.optim``'s fused AdamW. Bars, so that the chapters stay within their budgets:

* a step of the 5x2 sweep under 1 ms and of the 50x10 model under 4 ms of CPU time. Chapter 4's
  full run trains the equivalent of about 38,000 5x2 steps (8,000 steps of a sweep four times as
  wide, and 6,000 of its SRM models, which cost about as much) and 13,000 50x10 steps (3,000,
  and 20,000 of a model half as wide): about 90 s of CPU at the bars, which with the chapter's
  other work (about 15 s) keeps it under its 2-minute CPU budget. Measured on two quiet cores:
  about 0.45 and 2.5 ms (the hand-written backward pass and AdamW that autograd replaced: about
  0.37 and 2.1 ms of CPU, 0.41 and 2.1 ms of wall time);
* an SAE step of the built-in ReLU and TopK SAEs under 0.5 ms: chapters 5 and 6 train dozens
  of them (the hand-written numpy step took about 0.075-0.09 ms on a quiet machine). Their
  autograd step is why the numpy step stays: several times slower for SAEs this small, it made
  chapter 6 alone about 100 s of CPU slower at full size (85 s -> 184 s, seed 0, loaded
  machine);
* a step of every other row under 1.5 ms: BatchTopK and JumpReLU (and an architecture a reader
  adds) train by autograd, only in the tests and chapter 5's exercise check (2,000-3,000 steps
  each), which stay within a few seconds at the bar.

Run alone with ``.venv/bin/python -m benchmarks.training``; :func:`bench_training` returns the
rows for a combined table.
"""

from __future__ import annotations

import sys
import time

import numpy as np

SAE_STEP_LIMIT_MS = 0.5  # the built-in ReLU and TopK SAEs on the CPU (the numpy step)
SAE_AUTOGRAD_STEP_LIMIT_MS = 1.5  # any SAE on the autograd step
TOY_STEP_LIMIT_MS = 1.0  # CPU time of a step of the 5x2 sweep
TOY_LARGE_STEP_LIMIT_MS = 4.0  # CPU time of a step of the 50x10 model
REPEATS = 3


def _best_of(run, repeats: int = REPEATS, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        start = clock()
        run()
        times.append(clock() - start)
    return min(times)


def bench_training() -> list[dict]:
    """One dict per workload: name, steps, seconds (best of a few), ms per step, bar or None."""
    import torch

    from srmlib import sae, toy

    rows = []

    def toy_run(n_features, n_hidden, probabilities, batch_size, steps, schedule, lr=5e-3,
                weight_decay=0.0, device="cpu"):
        config = toy.ToyConfig(n_features=n_features, n_hidden=n_hidden,
                               n_instances=len(probabilities), feature_probability=probabilities)
        model = toy.ToyModel(config, seed=0).to(device)
        toy.train_toy_model(model, steps=steps, batch_size=batch_size, lr=lr, seed=0,
                            lr_schedule=schedule, weight_decay=weight_decay, progress=False)
        if device == "cuda":
            torch.cuda.synchronize()

    paper_p = 20.0 ** -np.linspace(0, 1, 20)  # the paper's sweep, from 1 down to 1/20
    cpu = time.process_time
    workloads = {  # name: (run, steps, bar in ms per step, clock)
        "toy 5x2": (lambda: toy_run(5, 2, np.geomspace(1.0, 0.02, 10), 512, 1000, "constant"),
                    1000, TOY_STEP_LIMIT_MS, cpu),
        "toy 50x10": (lambda: toy_run(50, 10, np.geomspace(0.6, 0.12, 16), 256, 300, "cosine"),
                      300, TOY_LARGE_STEP_LIMIT_MS, cpu),
        "toy 200x20": (lambda: toy_run(200, 20, paper_p, 1024, 20, "constant", lr=1e-3,
                                       weight_decay=0.01), 20, None, cpu),
    }
    if torch.cuda.is_available():
        workloads["toy 200x20 (cuda)"] = (
            lambda: toy_run(200, 20, paper_p, 1024, 200, "constant", lr=1e-3, weight_decay=0.01,
                            device="cuda"), 200, None, time.perf_counter)
    activations = torch.randn(20_000, 3, generator=torch.Generator().manual_seed(0))

    def sae_run(cls, options, data=activations, n_latents=16, steps=1000, batch_size=256):
        autoencoder = cls(data.shape[1], n_latents, seed=0, **options)
        sae.train_sae(autoencoder, data, steps=steps, batch_size=batch_size, seed=0,
                      progress=False)
        if data.device.type == "cuda":
            torch.cuda.synchronize()

    sae_rows = {  # name: (class, options, bar)
        "relu": (sae.ReLUSAE, {}, SAE_STEP_LIMIT_MS),
        "topk": (sae.TopKSAE, dict(k=1), SAE_STEP_LIMIT_MS),
        # a subclass that changes nothing: the numpy step takes only the built-in classes
        "relu (autograd)": (type("ReLUSAE", (sae.ReLUSAE,), {}), {}, SAE_AUTOGRAD_STEP_LIMIT_MS),
        "topk (autograd)": (type("TopKSAE", (sae.TopKSAE,), {}), dict(k=1),
                            SAE_AUTOGRAD_STEP_LIMIT_MS),
        "batchtopk": (sae.BatchTopKSAE, dict(k=1), SAE_AUTOGRAD_STEP_LIMIT_MS),
        "jumprelu": (sae.JumpReLUSAE, {}, SAE_AUTOGRAD_STEP_LIMIT_MS),
    }
    for name, (cls, options, limit) in sae_rows.items():
        workloads[f"SAE {name}"] = (lambda cls=cls, options=options: sae_run(cls, options),
                                    1000, limit, cpu)
    if torch.cuda.is_available():
        layer = torch.randn(100_000, 512, generator=torch.Generator().manual_seed(0)).cuda()
        workloads["SAE topk 512x4096 (cuda)"] = (
            lambda: sae_run(sae.TopKSAE, dict(k=32), data=layer, n_latents=4096, steps=200,
                            batch_size=4096), 200, None, time.perf_counter)
    for name, (run, steps, limit, clock) in workloads.items():
        run()  # warm up: imports, allocations
        seconds = _best_of(run, clock=clock)
        rows.append({"name": name, "steps": steps, "seconds": seconds,
                     "ms_per_step": 1e3 * seconds / steps, "limit_ms": limit,
                     "clock": "CPU" if clock is cpu else "wall"})
    return rows


def main() -> int:
    rows = bench_training()
    print(f"{'workload':24s} {'steps':>6s} {'seconds':>8s} {'ms/step':>8s} {'clock':>5s}  bar")
    failed = False
    for row in rows:
        limit = row["limit_ms"]
        ok = limit is None or row["ms_per_step"] < limit
        failed |= not ok
        bar = "-" if limit is None else f"< {limit} ms {'ok' if ok else 'MISSED'}"
        print(f"{row['name']:24s} {row['steps']:6d} {row['seconds']:8.2f} "
              f"{row['ms_per_step']:8.3f} {row['clock']:>5s}  {bar}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
