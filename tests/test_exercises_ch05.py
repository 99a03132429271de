"""Chapter 5's new exercises: subtly wrong answers are rejected with the hint meant for them.

The reference solutions run in tests/test_exercises.py (read from the chapter).
"""

from __future__ import annotations

import numpy as np
import pytest

from srmlib import exercises


def _scores(x, x_hat, z, *, l0=None, fvu=None, n_dead=None):
    """The right triple, with one of its parts replaceable by a mistake."""
    active = z != 0
    error = ((x - x_hat) ** 2).sum()
    right = (active.sum(axis=1).mean(), error / ((x - x.mean(axis=0)) ** 2).sum(),
             int((~active.any(axis=0)).sum()))
    mistakes = (l0, fvu, n_dead)
    return tuple(m(x, x_hat, z) if m is not None else r for r, m in zip(right, mistakes))


def test_the_right_scores_pass():
    exercises.check_sae_scores(_scores)


MISTAKES = {
    "FVU over sum |x|^2": (dict(fvu=lambda x, xh, z: ((x - xh) ** 2).sum() / (x**2).sum()),
                           "centre the inputs"),
    "FVU centred by the mean of all entries": (
        dict(fvu=lambda x, xh, z: ((x - xh) ** 2).sum() / ((x - x.mean()) ** 2).sum()),
        "its own mean"),
    "FVU per coordinate, averaged": (
        dict(fvu=lambda x, xh, z: np.mean(((x - xh) ** 2).sum(axis=0)
                                          / ((x - x.mean(axis=0)) ** 2).sum(axis=0))),
        "one ratio of totals"),
    "explained variance": (
        dict(fvu=lambda x, xh, z: 1 - ((x - xh) ** 2).sum() / ((x - x.mean(axis=0)) ** 2).sum()),
        "fraction of variance explained"),
    "mean squared error": (dict(fvu=lambda x, xh, z: ((x - xh) ** 2).mean()),
                           "mean squared error"),
    "L0 as a fraction of latents": (dict(l0=lambda x, xh, z: (z != 0).mean()),
                                    "not the fraction of latents"),
    "L0 summed over inputs": (dict(l0=lambda x, xh, z: (z != 0).sum()), "mean over inputs"),
    "dead inputs instead of dead latents": (
        dict(n_dead=lambda x, xh, z: int((~(z != 0).any(axis=1)).sum())), "columns of z"),
    "live latents": (dict(n_dead=lambda x, xh, z: int((z != 0).any(axis=0).sum())),
                     "live latents"),
    "fraction of dead latents": (dict(n_dead=lambda x, xh, z: (~(z != 0).any(axis=0)).mean()),
                                 "not a fraction"),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_sae_scores_check_explains_each_mistake(mistake):
    options, hint = MISTAKES[mistake]
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_sae_scores(lambda x, x_hat, z: _scores(x, x_hat, z, **options))
    assert "expected" in str(info.value) and "[ReLU SAE" in str(info.value)


def test_sae_scores_check_catches_a_dead_latent_threshold():
    """A latent that fires rarely is alive: a firing-rate cut-off miscounts the dead."""
    def rare_is_dead(x, x_hat, z):
        return _scores(x, x_hat, z, n_dead=lambda x, xh, z: int(((z != 0).mean(axis=0)
                                                                 < 0.01).sum()))

    with pytest.raises(AssertionError, match="n_dead"):
        exercises.check_sae_scores(rare_is_dead)


def test_sae_scores_check_rejects_wrong_shapes_and_non_functions():
    with pytest.raises(TypeError, match="must be a function"):
        exercises.check_sae_scores("l0")
    with pytest.raises(AssertionError, match=r"shape \(2,\), expected shape \(3,\)"):
        exercises.check_sae_scores(lambda x, x_hat, z: _scores(x, x_hat, z)[:2])
    with pytest.raises(AssertionError, match="NaN"):
        exercises.check_sae_scores(lambda x, x_hat, z: (np.nan, 0.0, 0))


@pytest.mark.parametrize("answer, hint", [("a", "best of more random draws"),
                                          ("c", "never make it worse")])
def test_chance_width_prediction_rejects_wrong_choices_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_chance_width_prediction(answer)
