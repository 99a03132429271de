"""Chapter 1's prediction exercise: its wrong choices are rejected with their hints.

The reference solutions run in tests/test_exercises.py; the chapter measures the outcome and
asserts it equals the key.
"""

from __future__ import annotations

import pytest

from srmlib import exercises
from srmlib.exercises import ch01


@pytest.mark.parametrize("answer, hint", [
    ("a", "single active neuron"),
    ("c", "non-negativity alone is not neutral"),
    (" A ", "single active neuron"),
])
def test_dense_relu_prediction_rejects_wrong_choices_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_dense_relu_prediction(answer)


@pytest.mark.parametrize("answer", ["d", "", None, 2, "axes"])
def test_dense_relu_prediction_asks_for_a_label(answer):
    with pytest.raises(AssertionError, match="one of the labels 'a', 'b', 'c'"):
        exercises.check_dense_relu_prediction(answer)


def test_dense_relu_prediction_key_is_the_diagonal():
    assert ch01.DENSE_RELU_PREDICTION.correct == "b"
    assert "diagonal" in ch01.DENSE_RELU_PREDICTION.choices["b"]
