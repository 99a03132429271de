"""What every exercise check shares: argument checks, comparison hints and failure messages.

A check calls the learner's function, compares with a reference, and on a mismatch raises
``AssertionError`` saying which input failed, what was expected, what came back and, when the
mistake is a common one, what probably went wrong (:func:`fail`, :func:`hint`).
"""

from __future__ import annotations

import math

import numpy as np

TWO_PI = 2.0 * math.pi


def check_callable(fn, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be a function, got {type(fn).__name__}")


def as_array(value, where: str, shape: tuple) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{where} returned {type(value).__name__}, not numbers") from None
    if arr.shape != shape:
        if shape == () and arr.size == 1:
            return arr.reshape(())
        raise AssertionError(f"{where} returned shape {arr.shape}, expected shape {shape}")
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{where} returned NaN or infinite values: {fmt(arr)}")
    return arr


def hint(got: np.ndarray, hints, atol: float = 1e-8) -> str | None:
    for wrong, message in hints:
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == got.shape and np.all(np.isfinite(wrong)) and np.allclose(
                got, wrong, atol=atol, rtol=0 if atol == 0 else 1e-6):
            return message
    return None


def fail(where: str, expected, got, hint: str | None) -> None:
    message = f"{where}:\n  expected {fmt(expected)}\n  got      {fmt(got)}"
    if hint:
        message += f"\n  hint: {hint}"
    raise AssertionError(message)


def fmt(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    return np.array2string(arr, precision=4, suppress_small=True, threshold=8, edgeitems=3,
                           separator=", ", max_line_width=100)
