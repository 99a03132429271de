"""Chapter 8's exercises: subtly wrong answers are rejected with the hint meant for them.

The reference solutions run in tests/test_exercises.py (read from the chapter).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from srmlib import exercises, runs
from srmlib.exercises import ch08


def test_grid_check_accepts_another_correct_form():
    def nested(grid, fixed):
        points = [dict(fixed)]
        for name, values in grid.items():  # the last parameter varies fastest
            points = [{**point, name: value} for point in points for value in values]
        return points

    exercises.check_grid_points(nested)


@pytest.mark.parametrize("mistake, hint", [
    ("zip", r"product, 2 x 3 = 6 runs\), not one per position"),
    ("no fixed values", "carries the fixed values"),
    ("last parameter slowest", "another order"),
    ("sorted values", "another order"),
])
def test_grid_check_explains_each_mistake(mistake, hint):
    wrong = {
        "zip": lambda grid, fixed: [{**fixed, **dict(zip(grid, values))}
                                    for values in zip(*grid.values())],
        "no fixed values": lambda grid, fixed: [dict(zip(grid, values))
                                                for values in itertools.product(*grid.values())],
        "last parameter slowest": lambda grid, fixed: [
            {**fixed, **dict(zip(list(grid)[::-1], values))}
            for values in itertools.product(*list(grid.values())[::-1])],
        "sorted values": lambda grid, fixed: [
            {**fixed, **dict(zip(grid, values))}
            for values in itertools.product(*(sorted(v, key=str) for v in grid.values()))],
    }[mistake]
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_grid_points(wrong)
    assert "expected" in str(info.value) and "fn(grid=" in str(info.value)


def test_grid_check_asks_for_a_list_of_dicts():
    with pytest.raises(AssertionError, match="one dict of parameters per run"):
        exercises.check_grid_points(lambda grid, fixed: {"n_dims": 4})
    with pytest.raises(TypeError, match="must be a function"):
        exercises.check_grid_points(None)


@pytest.mark.parametrize("mistake, hint", [
    ("standard deviation", "sqrt\\(number of seeds\\)"),
    ("ddof=0", "ddof=1"),
    ("all rows counted", "successful runs, not of all rows"),
])
def test_seed_summary_check_explains_each_mistake(mistake, hint):
    def summary(rows, name):
        values = np.array([row[name] for row in rows if row["status"] == "ok"])
        sd = values.std(ddof=0 if mistake == "ddof=0" else 1)
        if mistake == "standard deviation":
            return values.mean(), sd
        return values.mean(), sd / np.sqrt(len(rows if mistake == "all rows counted"
                                               else values))

    with pytest.raises(AssertionError, match=hint):
        exercises.check_seed_summary(summary)


def test_seed_summary_check_explains_failed_runs():
    def unfiltered(rows, name):
        values = np.array([row[name] for row in rows], dtype=float)
        return values.mean(), values.std(ddof=1) / np.sqrt(len(values))

    def none_in_the_mean(rows, name):
        values = [row[name] for row in rows]
        return np.mean(values), np.std(values, ddof=1) / np.sqrt(len(values))

    for wrong in (unfiltered, none_in_the_mean):  # NaN from None, or a TypeError
        with pytest.raises(AssertionError, match="status is 'ok'"):
            exercises.check_seed_summary(wrong)


@pytest.mark.parametrize("answer, hint", [
    ("a", "an int is accepted where a float is expected, not the reverse"),
    ("c", "read as YAML"), ("d", "below its range"),
])
def test_parameters_prediction_rejects_wrong_choices_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_parameters_prediction(answer)


def test_parameters_prediction_choices_are_the_parameters_it_shows():
    """The choices' text is the parameters the chapter tries (a check of the exercise)."""
    import json

    for label, given in ch08.PARAMETERS_CHOICES.items():
        assert json.loads(ch08.PARAMETERS_PREDICTION.choices[label]) == given
    refused = {label for label, given in ch08.PARAMETERS_CHOICES.items()
               if _refused(given)}
    assert refused == set(ch08.PARAMETERS_CHOICES) - {ch08.PARAMETERS_PREDICTION.correct}


def _refused(given) -> bool:
    try:
        runs.validate_parameters("01", given)
    except (TypeError, ValueError):
        return True
    return False


def test_seed_summary_check_rejects_non_functions_and_reports_non_numbers():
    with pytest.raises(TypeError, match="must be a function"):
        exercises.check_seed_summary([1.0, 0.1])
    with pytest.raises(AssertionError, match="returned NaN") as info:
        exercises.check_seed_summary(lambda rows, name: (np.nan, np.nan))
    assert "four seeds" in str(info.value) and "status is 'ok'" not in str(info.value)
    with pytest.raises(AssertionError, match=r"shape \(3,\), expected shape \(2,\)"):
        exercises.check_seed_summary(lambda rows, name: (1.0, 0.1, 4))
