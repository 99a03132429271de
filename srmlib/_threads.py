"""Thread counts (torch's intra-op threads, numpy's BLAS) set for a block and restored after."""

from __future__ import annotations

import contextlib
import functools

import torch
from threadpoolctl import ThreadpoolController


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


@functools.lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    # Found once: ``threadpool_limits`` searches the loaded libraries on every call (about 5 ms,
    # more than most small metrics take). numpy, scipy and torch are loaded by then.
    return ThreadpoolController()


@contextlib.contextmanager
def blas_threads(n_threads: int | None):
    """Run the block with ``n_threads`` BLAS and OpenMP threads (``None``: leave them alone).

    The same reason as :func:`torch_threads`: srmlib's numpy SAE loop ran 8 times slower on two
    OpenBLAS threads than on one on a loaded two-core machine.
    """
    if n_threads is None:
        yield
        return
    with _controller().limit(limits=n_threads):
        yield


@contextlib.contextmanager
def single_thread():
    """One torch thread and one BLAS thread for the block, restored afterwards."""
    with blas_threads(1), torch_threads(1):
        yield
