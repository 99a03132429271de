"""Chapter 6's exercise checks reject the mistakes students really make, each with its hint.

The reference solutions are read from the chapter and run by ``tests/test_exercises.py``; this
file holds only wrong answers, most as small changes to those references.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special
from scipy import stats as scipy_stats
from scipy.optimize import linear_sum_assignment

from srmlib import exercises
from srmlib.exercises import ch06
from tests.test_exercises import reference


def _correlations(source, target, *, centre=True):
    if centre:
        source, target = source - source.mean(axis=0), target - target.mean(axis=0)
    return ((source / np.linalg.norm(source, axis=0)).T
            @ (target / np.linalg.norm(target, axis=0)))


def _hungarian(source, target):
    r = _correlations(source, target)
    rows, cols = linear_sum_assignment(r, maximize=True)
    return r[rows, cols].mean()


@pytest.mark.parametrize("mistake, hint", [
    ("|r|", "signed correlation"),
    ("reversed", "direction is reversed"),
    ("hungarian", "one-to-one"),
    ("uncentred", "centre each unit"),
])
def test_semi_matching_check_explains_each_mistake(mistake, hint):
    wrong = {
        "|r|": lambda s, t: np.abs(_correlations(s, t)).max(axis=0).mean(),
        "reversed": lambda s, t: _correlations(s, t).max(axis=1).mean(),
        "hungarian": _hungarian,
        "uncentred": lambda s, t: _correlations(s, t, centre=False).max(axis=0).mean(),
    }[mistake]
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_semi_matching(wrong)
    assert "expected" in str(info.value) and "source of shape" in str(info.value)


def test_semi_matching_check_accepts_the_library_and_rejects_cross_validation():
    from srmlib import metrics

    exercises.check_semi_matching(lambda s, t: metrics.semi_matching(s, t, n_folds=1).mean)
    with pytest.raises(AssertionError, match="expected"):  # held out: a different number
        exercises.check_semi_matching(lambda s, t: metrics.semi_matching(s, t).mean)


def _cka(x, y, *, centre=True, scale=False, square=True, root=False):
    if centre:
        x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    if scale:
        x, y = x / x.std(axis=0), y / y.std(axis=0)
    cross = np.linalg.norm(y.T @ x)
    norms = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return cross / np.sqrt(norms) if not square else cross**2 / (np.sqrt(norms) if root else norms)


@pytest.mark.parametrize("mistake, hint", [
    (dict(centre=False), "centre every unit"),
    (dict(scale=True), "do not z-score"),
    (dict(square=False), "square root of CKA"),
    (dict(root=True), "not its square root"),
])
def test_cka_check_explains_each_mistake(mistake, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_cka(lambda x, y: _cka(x, y, **mistake))


def test_cka_check_rejects_the_unbiased_estimator_and_accepts_the_chapter_solution():
    from srmlib import metrics

    exercises.check_cka(reference("06")["linear_cka"])
    with pytest.raises(AssertionError, match="expected"):
        exercises.check_cka(lambda x, y: metrics.cka(x, y, unbiased=True).mean)


def _paired(values, baseline, confidence, *, ddof=1, sem=True, quantile="t", df=-1,
            unpaired=False, sign=1):
    d = sign * (np.asarray(values) - np.asarray(baseline))
    n = len(d)
    spread = (np.sqrt((np.var(values, ddof=1) + np.var(baseline, ddof=1)) / n) if unpaired
              else d.std(ddof=ddof) / (np.sqrt(n) if sem else 1.0))
    z = {"t": scipy_stats.t.ppf(confidence, n + df),
         "two-sided": scipy_stats.t.ppf(0.5 + confidence / 2, n + df),
         "normal": special.ndtri(confidence)}[quantile]
    return d.mean(), spread, d.mean() - z * spread


@pytest.mark.parametrize("mistake, hint", [
    (dict(ddof=0), r"std\(ddof=1\)"),
    (dict(sem=False), "not the standard deviation itself"),
    (dict(quantile="two-sided"), "one-sided"),
    (dict(quantile="normal"), "not the normal one"),
    (dict(df=0), "n_pairs - 1 degrees of freedom, not n_pairs"),
    (dict(unpaired=True), "per-pair differences"),
    (dict(sign=-1), "values - baseline"),
])
def test_paired_difference_check_explains_each_mistake(mistake, hint):
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_paired_difference(lambda v, b, c: _paired(v, b, c, **mistake))
    assert "confidence=" in str(info.value)


@pytest.mark.parametrize("answer, hint", [
    ("a", "SIGNED correlation"), ("c", "Gram matrices"), ("d", "they may be negative"),
])
def test_sign_flip_prediction_rejects_each_wrong_choice_with_its_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_sign_flip_prediction(answer)
    with pytest.raises(AssertionError, match="one of the labels"):
        exercises.check_sign_flip_prediction("e")
    assert ch06.SIGN_FLIP.correct == "b"  # the chapter measures it and asserts this key
