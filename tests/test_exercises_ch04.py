"""Chapter 4's newer exercises: subtly wrong answers, each rejected by its check with its hint.

The reference solutions are the chapter's (``reference("04")``); the wrong answers of the
first two exercises (feature dimensionality, interference) stay in ``tests/test_exercises.py``.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from srmlib import exercises, toy
from tests.test_exercises import reference


def test_the_chapter_reference_for_neuron_shares_passes():
    top_share = reference("04")["top_share"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exercises.check_neuron_top_share(top_share)
    assert "check_neuron_top_share passed" in out.getvalue()


def test_neuron_share_with_negative_weights_counted_is_rejected():
    def all_weights(directions):  # squares every weight: a negative one counts as driving
        squared = directions**2
        return squared.max(axis=0) / squared.sum(axis=0)

    with pytest.raises(AssertionError, match="count only positive weights"):
        exercises.check_neuron_top_share(all_weights)


def test_neuron_share_over_the_whole_column_norm_is_rejected():
    def whole_norm(directions):  # the right numerator, the wrong denominator
        positive = np.maximum(directions, 0.0) ** 2
        return positive.max(axis=0) / (directions**2).sum(axis=0)

    with pytest.raises(AssertionError, match="positive weights' squared norm too"):
        exercises.check_neuron_top_share(whole_norm)


def test_neuron_share_per_feature_is_rejected():
    def per_feature(directions):  # rows are features, not neurons
        positive = np.maximum(directions, 0.0) ** 2
        total = positive.sum(axis=1)
        return np.where(total > 0, positive.max(axis=1) / np.where(total > 0, total, 1), 0)

    with pytest.raises(AssertionError, match="a column of directions"):
        exercises.check_neuron_top_share(per_feature)


def test_neuron_share_of_unsquared_weights_is_rejected():
    def norms_not_squares(directions):  # the share of the root of the squared weights
        positive = np.maximum(directions, 0.0) ** 2
        total = positive.sum(axis=0)
        safe = np.where(total > 0, total, 1.0)
        return np.where(total > 0, np.sqrt(positive.max(axis=0) / safe), 0.0)

    with pytest.raises(AssertionError, match="no square root"):
        exercises.check_neuron_top_share(norms_not_squares)


def test_neuron_share_that_forgets_dead_neurons_is_rejected():
    def no_dead(directions):  # 0 / 0 for a neuron without positive weights
        positive = np.maximum(directions, 0.0) ** 2
        with np.errstate(invalid="ignore"):
            return positive.max(axis=0) / positive.sum(axis=0)

    with pytest.raises(AssertionError, match=r"dead neuron.*NaN"):
        exercises.check_neuron_top_share(no_dead)


def test_neuron_share_check_rejects_non_functions_and_non_numbers():
    with pytest.raises(TypeError, match="must be a function"):
        exercises.check_neuron_top_share(42)
    with pytest.raises(AssertionError, match="returned"):
        exercises.check_neuron_top_share(lambda d: "not a number")
    with pytest.raises(AssertionError, match="shape"):
        exercises.check_neuron_top_share(lambda d: np.zeros(7))


@pytest.mark.parametrize("answer, hint", [
    ("a", "dropping a feature costs its whole variance"),
    ("b", "nothing makes feature 1 the one to keep"),
    ("d", "opposite directions let the ReLU cut the other one off"),
])
def test_phase_prediction_rejects_each_wrong_choice_with_its_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_phase_prediction(answer)


def test_phase_prediction_accepts_its_key_and_refuses_unreadable_answers():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exercises.check_phase_prediction(" C ")
    assert "check_phase_prediction passed: (c)" in out.getvalue()
    for bad in ("superposition", 3, None):
        with pytest.raises(AssertionError, match="one of the labels"):
            exercises.check_phase_prediction(bad)


def test_the_prediction_key_is_the_theory_of_its_cell():
    """The key agrees with the theory (the chapter also asserts it against training)."""
    w, _, _ = toy.two_feature_optimum(0.1, 1.0)
    assert toy.two_feature_phase(w) == "superposition"
    assert exercises.ch04.PHASE_PREDICTION.correct == "c"
