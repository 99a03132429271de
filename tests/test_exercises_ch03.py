"""Chapter 3's exercises: wrong answers a student really writes, each rejected with its hint.

The reference solutions are in the chapter (``reference("03")``) and pass their checks in
``tests/test_exercises.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srmlib import exercises
from tests.test_exercises import reference


def test_reference_isotropic_tanh_passes(capsys):
    exercises.check_isotropic_tanh(reference("03")["iso_tanh"])
    assert "check_isotropic_tanh passed" in capsys.readouterr().out


def _over_rows(x):
    return x.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("wrong, match", [
    (torch.tanh, "elementwise tanh"),
    (lambda x: torch.tanh(_over_rows(x)) * x, "divide by \\|x\\|"),
    (lambda x: torch.tanh(x.norm(dim=0, keepdim=True)) * x / x.norm(dim=0, keepdim=True),
     "not of each column"),
    (lambda x: torch.tanh(x.norm()) * x / x.norm(), "not of the whole batch"),
    (lambda x: torch.tanh(_over_rows(x)) * x / _over_rows(x), "zero row gives 0/0"),
])
def test_wrong_isotropic_tanh_is_rejected_with_its_hint(wrong, match):
    with pytest.raises(AssertionError, match=match):
        exercises.check_isotropic_tanh(wrong)


def test_a_function_that_breaks_rotation_symmetry_only_off_the_checked_inputs_is_caught():
    iso_tanh = reference("03")["iso_tanh"]

    def cheat(x):  # right on the checked shapes, elementwise on the rotation test's (20, 6)
        return torch.tanh(x) if x.shape == (20, 6) else iso_tanh(x)

    with pytest.raises(AssertionError, match="commute with every rotation"):
        exercises.check_isotropic_tanh(cheat)


def test_reference_angular_power_passes(capsys):
    exercises.check_angular_power(reference("03")["angular_power"])
    assert "check_angular_power passed" in capsys.readouterr().out


def plug_in(angles, k):
    return sum(abs(np.exp(1j * k * a).sum()) ** 2 for a in angles) / sum(len(a) ** 2 for a in angles)


def plane_by_plane(angles, k):
    return np.mean([(abs(np.exp(1j * k * a).sum()) ** 2 - len(a)) / (len(a) * (len(a) - 1))
                    for a in angles if len(a) > 1])


def first_harmonic(angles, k):
    return reference("03")["angular_power"](angles, 1)


def all_planes_together(angles, k):
    return reference("03")["angular_power"]([np.concatenate(angles)], k)


@pytest.mark.parametrize("wrong, match", [
    (plug_in, "paired with itself"),
    (plane_by_plane, "not averaged plane by plane"),
    (first_harmonic, "use the harmonic k"),
    (all_planes_together, "pairs must lie in the same plane"),
])
def test_wrong_angular_power_is_rejected_with_its_hint(wrong, match):
    with pytest.raises(AssertionError, match=match):
        exercises.check_angular_power(wrong)


@pytest.mark.parametrize("answer, match", [
    ("b", "already applies tanh coordinate by coordinate"),
    ("c", "does not spread them out"),
    ("yes", "answer with one of the labels"),
    (1, "answer with one of the labels"),
])
def test_wrong_untrained_quantisation_predictions_are_rejected(answer, match):
    with pytest.raises(AssertionError, match=match):
        exercises.check_untrained_quantisation_prediction(answer)

