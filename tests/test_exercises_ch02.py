"""Chapter 2's new exercises: subtly wrong answers are rejected with the hint meant for them.

The reference solutions run in tests/test_exercises.py (read from the chapter).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaincinv, ndtri

from srmlib import exercises


def _epsilon(n_dims, fraction, *, first=None, factor=2.0, mirror=True):
    """The exact inverse, with one of its parts changeable to make a mistake."""
    first = (n_dims - 1) / 2 if first is None else first
    tail = min(fraction, 1 - fraction) if mirror else fraction
    eps = np.sqrt(max(0.0, 1 - betaincinv(first, 0.5, factor * tail)))
    return eps if (fraction <= 0.5 or not mirror) else -eps


def test_the_exact_inverse_passes():
    exercises.check_epsilon_for_fraction(_epsilon)


@pytest.mark.parametrize("mistake, hint", [
    ("both caps", "half of I"),
    ("no negative epsilon", "wider than a hemisphere"),
    ("sign reversed", "sign is reversed"),
    ("half-angle", "half-angle"),
    ("n_dims / 2", r"\(n_dims - 1\)/2, not n_dims/2"),
    ("large-d approximation", "large-dimension approximation"),
])
def test_epsilon_check_explains_each_mistake(mistake, hint):
    wrong = {
        "both caps": lambda d, f: _epsilon(d, f, factor=1.0),
        "no negative epsilon": lambda d, f: abs(_epsilon(d, f)),
        "sign reversed": lambda d, f: -_epsilon(d, f),
        "half-angle": lambda d, f: np.arccos(_epsilon(d, f)),
        "n_dims / 2": lambda d, f: _epsilon(d, f, first=d / 2),
        "large-d approximation": lambda d, f: ndtri(1 - f) / np.sqrt(d),
    }[mistake]
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_epsilon_for_fraction(wrong)
    assert "n_dims=" in str(info.value) and "fraction=" in str(info.value)


def test_epsilon_check_catches_a_loose_root_finder():
    """Bisection to 1e-4 is close, but not the inverse: no hint, just the numbers."""
    from scipy.optimize import brentq

    from srmlib import isotropic_expectation

    def loose(n_dims, fraction):
        return brentq(lambda e: isotropic_expectation(n_dims, e) - fraction, -1, 1, xtol=1e-4)

    with pytest.raises(AssertionError, match="expected"):
        exercises.check_epsilon_for_fraction(loose)


def test_epsilon_check_rejects_non_functions_and_reports_non_numbers():
    with pytest.raises(TypeError, match="must be a function"):
        exercises.check_epsilon_for_fraction(0.5)
    with pytest.raises(AssertionError, match="NaN"):
        exercises.check_epsilon_for_fraction(lambda d, f: np.nan)
    with pytest.raises(AssertionError, match="shape"):
        exercises.check_epsilon_for_fraction(lambda d, f: [0.1, 0.2])


@pytest.mark.parametrize("answer, hint", [
    ("a", "variance"), ("c", "still depends on n"),
])
def test_sample_size_prediction_rejects_wrong_choices_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_sample_size_prediction(answer)
    with pytest.raises(AssertionError, match="one of the labels"):
        exercises.check_sample_size_prediction("d")
