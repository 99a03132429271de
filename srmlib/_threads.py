"""Torch's intra-op thread count, set for a block of work and restored afterwards."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def torch_threads(n_threads: int | None):
    """Run the block with ``n_threads`` torch threads (``None``: leave the setting alone).

    Small tensor operations gain nothing from several threads, and on a machine where another
    process holds a core every parallel step waits for it: srmlib counts and trains small
    workloads on one thread (a 5,000-sample SRM took 0.55 s with two threads, 0.02 s with one).
    """
    saved = torch.get_num_threads()
    if n_threads is not None and n_threads != saved:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != saved:
            torch.set_num_threads(saved)
