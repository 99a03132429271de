"""Exercises of chapter 6, "Superposition hides alignment".

:func:`check_semi_matching`, :func:`check_cka`, :func:`check_paired_difference` and the
predict-first question :func:`check_sign_flip_prediction` (its key, :data:`SIGN_FLIP`, is
measured in the chapter).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import Prediction, as_array, check_callable, fail, hint


def _correlations(source: np.ndarray, target: np.ndarray, *, centre: bool = True) -> np.ndarray:
    """Pearson correlation (or, with ``centre=False``, cosine) of every source and target unit."""
    if centre:
        source, target = source - source.mean(axis=0), target - target.mean(axis=0)
    source = source / np.linalg.norm(source, axis=0)
    target = target / np.linalg.norm(target, axis=0)
    return source.T @ target


def _mixed(rng: np.random.Generator, n: int, latent: np.ndarray, n_units: int) -> np.ndarray:
    """Units that mix the shared ``latent`` signals with signed weights, plus noise and offsets."""
    weights = rng.standard_normal((latent.shape[1], n_units))
    return (latent @ weights + 0.5 * rng.standard_normal((n, n_units))
            + rng.uniform(1.0, 4.0, n_units))


def check_semi_matching(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(source, target)``: the in-sample semi-matching score.

    Each target unit ``j`` takes the source unit whose Pearson correlation with it is largest
    (signed), and the score is the mean over target units of that correlation. The reference
    is ``srmlib.metrics.semi_matching(source, target, n_folds=1).mean`` (one fold: the units are
    chosen and scored on all stimuli).

    Parameters
    ----------
    fn : callable
        ``fn(source, target)`` with arrays of shapes ``(n_stimuli, n_source)`` and
        ``(n_stimuli, n_target)`` (no constant unit); returns a float.
    seed : int
        Seed of the random cases.

    Raises
    ------
    AssertionError
        On the first wrong score, naming the case and, for common mistakes, what went wrong.
    """
    from ..metrics import semi_matching  # here: `import srmlib` stays light (sklearn, POT)
    from scipy.optimize import linear_sum_assignment

    check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    n = 300
    latent = rng.standard_normal((n, 3))
    source = _mixed(rng, n, latent, 5)
    cases = [
        ("5 source units, 3 target units", source, _mixed(rng, n, latent, 3)),
        ("3 source units, 5 target units", _mixed(rng, n, latent, 3), source),
        ("target = the source's units permuted, rescaled and shifted", source,
         3.0 * source[:, [2, 0, 4, 1, 3]] - 7.0),
        ("target = the source's units negated", source, -source[:, :4]),
        ("unrelated units", source, rng.standard_normal((n, 4)) + 2.0),
    ]
    for name, src, tgt in cases:
        expected = semi_matching(src, tgt, n_folds=1).mean
        where = f"fn(source of shape {src.shape}, target of shape {tgt.shape}) [{name}]"
        got = as_array(fn(src.copy(), tgt.copy()), where, ())
        if np.isclose(got, expected, rtol=0, atol=1e-8):
            continue
        r = _correlations(src, tgt)
        cosines = _correlations(src, tgt, centre=False)
        rows, cols = linear_sum_assignment(r, maximize=True)
        hints = [
            (np.abs(r).max(axis=0).mean(), "use the signed correlation: semi-matching scores how "
                                          "well a source unit predicts the target unit, and a "
                                          "unit that falls when the target rises predicts it "
                                          "badly (take max r, not max |r|)"),
            (r.max(axis=1).mean(), "the direction is reversed: each TARGET unit takes its best "
                                   "source unit, and the mean is over target units (axis 0 of "
                                   "the (n_source, n_target) correlation matrix)"),
            (r[rows, cols].mean(), "this is a one-to-one (Hungarian) matching; in semi-matching "
                                   "several target units may take the same source unit (argmax "
                                   "per target unit)"),
            (r[rows, cols].sum() / r.shape[1], "this is a one-to-one (Hungarian) matching; in "
                                               "semi-matching several target units may take the "
                                               "same source unit (argmax per target unit)"),
            (cosines.max(axis=0).mean(), "centre each unit before normalising: a correlation is "
                                         "the cosine of the CENTRED tuning curves, and these "
                                         "units have non-zero means"),
        ]
        fail(where, expected, got, hint(got, hints, atol=1e-8))
    print(f"check_semi_matching passed: {len(cases)} cases (more and fewer source units, a "
          "permuted and rescaled copy, negated units, unrelated units).")


def check_cka(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(source, target)``: linear CKA, the biased estimator of Kornblith et al. (2019).

    ``CKA = |Y_c^T X_c|_F^2 / (|X_c^T X_c|_F |Y_c^T Y_c|_F)`` with ``X_c`` and ``Y_c`` the two
    representations with every unit (column) centred. The reference is
    ``srmlib.metrics.cka(source, target).mean``.

    Parameters
    ----------
    fn : callable
        ``fn(source, target)`` with arrays of shapes ``(n_stimuli, n_source)`` and
        ``(n_stimuli, n_target)``; returns a float.
    seed : int
        Seed of the random cases.

    Raises
    ------
    AssertionError
        On the first wrong value, naming the case and, for common mistakes, what went wrong.
    """
    from ..metrics import cka
    check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    n = 200
    latent = rng.standard_normal((n, 3))
    source = _mixed(rng, n, latent, 6)
    rotation = np.linalg.qr(rng.standard_normal((6, 6)))[0]
    uneven = source * np.array([10.0, 1.0, 1.0, 0.2, 1.0, 1.0])
    cases = [
        ("6 source units, 4 target units sharing 3 signals", source, _mixed(rng, n, latent, 4)),
        ("target = the source rotated, scaled by 3 and shifted", source,
         3.0 * source @ rotation + 5.0),
        ("target = the source with units rescaled unevenly", source, uneven),
        ("unrelated units", source, rng.standard_normal((n, 5)) + 1.0),
    ]
    for name, src, tgt in cases:
        expected = cka(src, tgt).mean
        where = f"fn(source of shape {src.shape}, target of shape {tgt.shape}) [{name}]"
        got = as_array(fn(src.copy(), tgt.copy()), where, ())
        if np.isclose(got, expected, rtol=0, atol=1e-8):
            continue
        hints = [
            (_cka(src, tgt, centre=False), "centre every unit first (subtract each column's "
                                           "mean): uncentred, the units' offsets dominate the "
                                           "Gram matrices"),
            (_cka(src, tgt, scale=True), "do not z-score the units: CKA centres them but keeps "
                                         "their scale, so rescaling a unit changes it (it is "
                                         "invariant to rotations and to one overall scale, not "
                                         "to per-unit scaling)"),
            (_cka(src, tgt, square=False), "this is the square root of CKA: square the "
                                           "numerator's Frobenius norm, |Y_c^T X_c|_F^2, and "
                                           "divide by |X_c^T X_c|_F |Y_c^T Y_c|_F"),
            (_cka(src, tgt, root=True), "divide by the product |X_c^T X_c|_F |Y_c^T Y_c|_F "
                                        "itself, not its square root (then CKA(X, X) = 1 and "
                                        "CKA does not depend on the overall scale)"),
        ]
        fail(where, expected, got, hint(got, hints, atol=1e-8))
    print(f"check_cka passed: {len(cases)} cases (shared signals, a rotated and rescaled copy, "
          "per-unit rescaling, unrelated units).")


def _cka(x: np.ndarray, y: np.ndarray, *, centre: bool = True, scale: bool = False,
         square: bool = True, root: bool = False) -> float:
    """Linear CKA with one of the common mistakes switched on (the hints' candidates)."""
    if centre:
        x, y = x - x.mean(axis=0), y - y.mean(axis=0)
    if scale:
        x, y = x / x.std(axis=0), y / y.std(axis=0)
    cross = np.linalg.norm(y.T @ x)
    norms = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    if not square:
        return float(cross / np.sqrt(norms))
    return float(cross**2 / (np.sqrt(norms) if root else norms))


def check_paired_difference(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(values, baseline, confidence)``: a paired difference and its one-sided bound.

    The learner returns ``(mean, sem, lower)``: the mean over pairs of ``values - baseline``, its
    standard error over pairs (``std(ddof=1) / sqrt(n_pairs)``) and the one-sided lower bound
    ``mean - t * sem``, with ``t`` Student's quantile at ``confidence`` with ``n_pairs - 1``
    degrees of freedom. The reference is :func:`srmlib.alignment.paired_difference`.

    Parameters
    ----------
    fn : callable
        ``fn(values, baseline, confidence)`` with two arrays of shape ``(n_pairs,)``
        (``n_pairs >= 2``) and a float in ``(0, 1)``; returns three floats.
    seed : int
        Seed of the random cases.

    Raises
    ------
    AssertionError
        On the first wrong triple, naming the case and, for common mistakes, what went wrong.
    """
    from ..alignment import paired_difference
    from scipy import special, stats

    check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    shared = rng.normal(0.6, 0.1, 10)  # what the two scores of a pair share (the pair's models)
    cases = [
        ("3 pairs", 0.95, shared[:3] + rng.normal(0.2, 0.03, 3), shared[:3]),
        ("2 pairs", 0.95, shared[3:5] + rng.normal(0.1, 0.05, 2), shared[3:5]),
        ("10 pairs, 90% confidence", 0.90, shared + rng.normal(0.05, 0.05, 10), shared),
        ("5 pairs, 99% confidence", 0.99, shared[:5] - rng.normal(0.1, 0.02, 5), shared[:5]),
        ("the same difference in every pair", 0.95, shared[:4] + 0.25, shared[:4]),
    ]
    for name, confidence, values, baseline in cases:
        reference = paired_difference(values, baseline, confidence=confidence)
        expected = np.array([reference.mean, reference.sem, reference.lower])
        where = (f"fn(values of shape {values.shape}, baseline of shape {baseline.shape}, "
                 f"confidence={confidence}) [{name}]")
        got = as_array(fn(values.copy(), baseline.copy(), confidence), where, (3,))
        if np.allclose(got, expected, rtol=1e-9, atol=1e-9):
            continue
        n, difference = len(values), values - baseline
        mean, sd = difference.mean(), difference.std(ddof=1)
        sem = sd / np.sqrt(n)
        t = stats.t.ppf(confidence, n - 1)
        sem0 = difference.std() / np.sqrt(n)
        unpaired = np.sqrt((values.var(ddof=1) + baseline.var(ddof=1)) / n)
        hints = [
            ([mean, sem0, mean - t * sem0], "the standard error uses the sample standard "
                                            "deviation, std(ddof=1): with 3 pairs ddof=0 "
                                            "understates it by a factor sqrt(2/3)"),
            ([mean, sd, mean - t * sd], "the standard error of the mean is std / sqrt(n_pairs), "
                                        "not the standard deviation itself"),
            ([mean, sem, mean - stats.t.ppf(0.5 + confidence / 2, n - 1) * sem],
             "the bound is one-sided: use t.ppf(confidence, n - 1), not the two-sided "
             "t.ppf(1 - (1 - confidence) / 2, n - 1)"),
            ([mean, sem, mean - float(special.ndtri(confidence)) * sem],
             "with a few pairs the quantile is Student's t with n_pairs - 1 degrees of freedom, "
             "not the normal one (1.645 at 95%): it is far wider"),
            ([mean, sem, mean - stats.t.ppf(confidence, n) * sem],
             "Student's t has n_pairs - 1 degrees of freedom, not n_pairs"),
            ([mean, unpaired, mean - t * unpaired],
             "take the SEM of the per-pair differences, not of two independent samples: the two "
             "scores of a pair share the pair's models, and pairing removes what they share"),
            ([-mean, sem, -mean - t * sem], "the difference is values - baseline"),
        ]
        fail(where, expected, got, hint(got, hints, atol=1e-9))
    print(f"check_paired_difference passed: {len(cases)} cases (2 to 10 pairs, three confidence "
          "levels, a difference with no spread).")


#: Chapter 6's predict-first question; the chapter measures the outcome and asserts the key.
SIGN_FLIP = Prediction(
    "check_sign_flip_prediction",
    {"a": "none of the three changes: a negated unit carries the same information",
     "b": "semi-matching falls; CKA and linear predictivity stay the same",
     "c": "semi-matching and CKA fall; linear predictivity stays the same",
     "d": "all three fall"},
    correct="b",
    why=("Negating units is a reflection, an orthogonal map: CKA (which forgives rotations and "
         "reflections) and regression (whose weights may be negative) do not see it, but "
         "semi-matching takes the largest signed correlation, and a negated unit now "
         "anti-correlates with its partner."),
    hints={
        "a": "the information is the same, but is the metric's score? Semi-matching takes each "
             "target unit's largest SIGNED correlation: negate a unit and its partner's "
             "correlation with it flips sign",
        "c": "CKA compares the centred Gram matrices X X^T; negating a unit is an orthogonal "
             "map (a reflection), which leaves X X^T unchanged",
        "d": "regression fits its weights, and they may be negative: negating a target unit "
             "negates its prediction's weights and leaves its correlation unchanged; CKA is "
             "unchanged by any orthogonal map, reflections included",
    },
)


def check_sign_flip_prediction(answer: str) -> None:
    """Check a prediction: negating some target units changes which of three metrics?

    Chapter 6 asks, before measuring it on its hand-built models A and B: "negate model B's
    second neuron; which of semi-matching, CKA and linear predictivity (A predicts B) change?"
    The key, :data:`SIGN_FLIP`, is asserted against the measurement in the chapter.

    Parameters
    ----------
    answer : str
        One of the labels ``"a"`` to ``"d"``.

    Raises
    ------
    AssertionError
        If the answer is not a label, or is wrong (with a hint on what it overlooks).
    """
    SIGN_FLIP.check(answer)
