"""Exercises of chapter 4, "Toy models of superposition".

:func:`check_feature_dimensionality` and :func:`check_interference`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..toy import feature_dimensionality, interference
from ._checks import as_array, check_callable, fail, hint


def _toy_direction_cases(seed: int):
    rng = np.random.default_rng(seed)
    pentagon = 2 * np.pi * np.arange(5) / 5
    return [
        ("orthonormal features", np.eye(3)),
        ("an antipodal pair", np.array([[1.0, 0.0], [-1.0, 0.0]])),
        ("a pentagon", np.c_[np.cos(pentagon), np.sin(pentagon)]),
        ("features of different norms with a dropped one",
         np.array([[1.2, 0.1], [0.0, 0.0], [-0.3, 0.9], [0.5, -0.5]])),
        ("random features, 20 in 5 dimensions", rng.standard_normal((20, 5))),
    ]


def check_feature_dimensionality(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(directions)``: ``D_i = |W_i|^2 / sum_j (W_i_hat . W_j)^2`` for each feature.

    The reference is :func:`srmlib.toy.feature_dimensionality` (0 for a feature of norm 0).
    Chapter 4 ("Toy models of superposition").

    Parameters
    ----------
    fn : callable
        ``fn(directions)`` with an ``(n_features, n_hidden)`` array; returns ``(n_features,)``.
    seed : int
        Seed of the random directions.

    Raises
    ------
    AssertionError
        On the first wrong answer, naming the case.
    """

    def hints(directions):
        _, overlap = _unit_overlap(directions)
        norms2 = (directions**2).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return [
                (norms2 / (overlap.sum(axis=1) - np.diag(overlap)),
                 "the sum in the denominator must include j = i"),
                (norms2 / ((directions @ directions.T) ** 2).sum(axis=1),
                 "only W_i is normalised in the denominator: (W_i_hat . W_j), not (W_i . W_j)"),
            ]

    _check_on_toy_directions(fn, feature_dimensionality, hints, seed)
    print("check_feature_dimensionality passed: orthonormal (1), antipodal (1/2), pentagon "
          "(2/5), a dropped feature (0) and random features.")


def check_interference(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(directions)``: ``sum_{j != i} (W_i_hat . W_j)^2`` for each feature.

    The reference is :func:`srmlib.toy.interference` (0 for a feature of norm 0). Chapter 4.

    Raises
    ------
    AssertionError
        On the first wrong answer, naming the case.
    """

    def hints(directions):
        _, overlap = _unit_overlap(directions)
        gram2 = (directions @ directions.T) ** 2
        return [
            (overlap.sum(axis=1), "leave out j = i: a feature does not interfere with itself"),
            (gram2.sum(axis=1) - np.diag(gram2), "normalise W_i (but not W_j): (W_i_hat . W_j)^2"),
        ]

    _check_on_toy_directions(fn, interference, hints, seed)
    print("check_interference passed: orthonormal, antipodal, pentagon, a dropped feature and "
          "random features.")


def _unit_overlap(directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows (zero rows stay zero) and ``(W_i_hat . W_j)^2``, shape ``(F, F)``."""
    unit = directions / np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-300)
    return unit, (unit @ directions.T) ** 2


def _check_on_toy_directions(fn, reference, hints, seed) -> None:
    """Compare ``fn(directions)`` with ``reference`` on every toy-geometry case."""
    check_callable(fn, "fn")
    for name, directions in _toy_direction_cases(seed):
        expected = reference(directions)
        where = f"fn(directions) [{name}]"
        got = as_array(fn(directions.copy()), where, expected.shape)
        if not np.allclose(got, expected, atol=1e-8):
            fail(where, expected, got, hint(got, hints(directions)))
