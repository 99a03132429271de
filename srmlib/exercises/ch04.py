"""Exercises of chapter 4, "Toy models of superposition".

:func:`check_feature_dimensionality`, :func:`check_interference`, :func:`check_neuron_top_share`
and the predict-first :func:`check_phase_prediction` (its key,
:data:`PHASE_PREDICTION`, is what the chapter's phase diagram measures).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..toy import feature_dimensionality, interference, neuron_top_share
from ._checks import Prediction, as_array, check_callable, fail, hint


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


def check_neuron_top_share(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(directions)``: for each neuron, ``max_i (W_ji)_+^2 / sum_i (W_ji)_+^2``.

    ``directions`` has one feature per row, so neuron ``j``'s weights are column ``j``; only
    positive weights count (a feature with a negative weight never drives a ReLU neuron), and
    a neuron with no positive weight gets 0. The reference is
    :func:`srmlib.toy.neuron_top_share`. Chapter 4 ("Superposition at the level of neurons").

    Parameters
    ----------
    fn : callable
        ``fn(directions)`` with an ``(n_features, n_hidden)`` array; returns ``(n_hidden,)``.
    seed : int
        Seed of the random weights.

    Raises
    ------
    AssertionError
        On the first wrong answer, naming the case.
    """
    check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    dead = rng.standard_normal((6, 3))
    dead[:, 1] = -np.abs(dead[:, 1])
    cases = [
        ("one feature per neuron", np.eye(4)),
        ("negative weights beside one positive", np.array([[1.0, -0.5, 0.2],
                                                           [-2.0, 0.8, 0.1],
                                                           [-0.5, -0.1, 0.3]])),
        ("a neuron driven by two features equally", np.array([[1.0, 0.0], [1.0, 0.0],
                                                              [0.0, 2.0]])),
        ("a dead neuron (no positive weight)", dead),
        ("random weights, 12 features and 5 neurons", rng.standard_normal((12, 5))),
    ]
    for name, directions in cases:
        expected = neuron_top_share(directions)
        where = f"fn(directions) [{name}]"
        got = fn(directions.copy())
        if np.shape(got) == (len(directions),) != expected.shape:
            raise AssertionError(f"{where} returned one value per feature, shape "
                                 f"{np.shape(got)}; expected one per neuron, {expected.shape}\n"
                                 f"  hint: {_COLUMN_HINT}")
        got = as_array(got, where, expected.shape)
        if not np.allclose(got, expected, atol=1e-8):
            fail(where, expected, got, hint(got, _neuron_share_hints(directions)))
    print("check_neuron_top_share passed: one feature per neuron (1), shared neurons, negative "
          "weights, a dead neuron (0) and random weights.")


_COLUMN_HINT = "a neuron's weights are a column of directions (one feature per row), not a row"


def _neuron_share_hints(directions: np.ndarray) -> list[tuple[np.ndarray, str]]:
    squared = directions**2
    positive = np.maximum(directions, 0.0) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return [
            (squared.max(axis=0) / squared.sum(axis=0),
             "count only positive weights: a feature with a negative weight never drives a ReLU "
             "neuron"),
            (positive.max(axis=0) / squared.sum(axis=0),
             "divide by the positive weights' squared norm too, not by the whole column's"),
            (positive.max(axis=1) / positive.sum(axis=1), _COLUMN_HINT),
            (np.sqrt(positive.max(axis=0) / positive.sum(axis=0)),
             "the share is of squared weights: no square root"),
        ]


#: The predict-first question of chapter 4's phase diagram (:func:`check_phase_prediction`).
PHASE_PREDICTION = Prediction(
    "check_phase_prediction",
    choices={
        "a": "feature 1 is not represented: the dimension stores feature 0 alone",
        "b": "feature 1 takes the dimension alone and feature 0 is dropped",
        "c": "both are stored, in superposition, as an antipodal pair (W_1 = -W_0)",
        "d": "both are stored along the same direction (W_1 = +W_0)",
    },
    correct="c",
    why=("At density 0.1 the two features are active together in only 1% of samples; an "
         "antipodal pair lets the ReLU read each one back exactly when it is alone, and the "
         "rare collisions cost less than dropping either feature."),
    hints={
        "a": ("with equal importance nothing makes feature 0 the one to keep; and dropping a "
              "feature costs its whole variance, while storing both costs only on the 1% of "
              "samples where both are active"),
        "b": ("equally important: nothing makes feature 1 the one to keep. Ask what storing "
              "both costs when they are rarely active together"),
        "d": ("same direction: whenever one is active the other is read out as active too "
              "(the ReLU passes a positive value); opposite directions let the ReLU cut the "
              "other one off"),
    },
)


def check_phase_prediction(answer) -> None:
    """Check a prediction: two equally important features, one dimension, density 0.1.

    Chapter 4 ("The phase diagram") asks which state the trained model ends in before
    training it, then measures it and asserts that the measurement is :data:`PHASE_PREDICTION`'s
    key.

    Parameters
    ----------
    answer : str
        ``"a"``, ``"b"``, ``"c"`` or ``"d"``.

    Raises
    ------
    AssertionError
        On a wrong or unreadable answer, with a hint.
    """
    PHASE_PREDICTION.check(answer)
