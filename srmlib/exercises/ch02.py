"""Exercises of chapter 2, "SRM in practice: choosing the resolution".

:func:`check_wilson_interval`, :func:`check_rotation_p_value`, :func:`check_epsilon_for_fraction`
and the prediction :func:`check_sample_size_prediction`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..srm import epsilon_for_isotropic_fraction
from ..stats import wilson_interval
from ._checks import Prediction, as_array, check_callable, fail, hint


def check_wilson_interval(fn: Callable) -> None:
    """Check ``fn(p, n, confidence)``: the Wilson score interval of a fraction ``p`` of ``n``.

    The reference is :func:`srmlib.stats.wilson_interval`, on scalars from ``p = 0`` to
    ``p = 1``, from 5 to 100,000 samples and at 68%, 95% and 99.9% confidence.

    Parameters
    ----------
    fn : callable
        ``fn(p, n, confidence)`` with floats ``p`` in ``[0, 1]``, ``confidence`` in ``(0, 1)``
        and an int ``n``; returns a pair ``(low, high)`` of floats.

    Raises
    ------
    AssertionError
        On the first wrong interval, naming the input.
    """
    from scipy import special


    check_callable(fn, "fn")
    n_checked = 0
    for n in (5, 40, 1000, 100_000):
        for p in (0.0, 1.0 / n, 0.05, 0.5, 0.93, 1.0):
            for confidence in (0.68, 0.95, 0.999):
                low, high = wilson_interval(p, n, confidence=confidence)
                expected = np.array([low, high], dtype=np.float64)
                where = f"fn(p={p:.6g}, n={n}, confidence={confidence})"
                got = as_array(fn(p, n, confidence), where, (2,))
                if np.allclose(got, expected, rtol=1e-6, atol=1e-9):
                    n_checked += 1
                    continue
                z = float(special.ndtri(0.5 + confidence / 2))
                half = z * math.sqrt(p * (1 - p) / n)
                z_one = float(special.ndtri(confidence))
                d1 = 1 + z_one**2 / n
                c1 = (p + z_one**2 / (2 * n)) / d1
                h1 = z_one * math.sqrt(p * (1 - p) / n + z_one**2 / (4 * n * n)) / d1
                hints = [
                    ([p - half, p + half], "this is the normal (Wald) interval p +- z SE; the "
                                           "Wilson interval is centred at (p + z^2/2n)/(1 + z^2/n)"),
                    ([max(p - half, 0.0), min(p + half, 1.0)],
                     "this is the clipped normal (Wald) interval; use the Wilson score interval"),
                    ([c1 - h1, c1 + h1], "z must be the two-sided quantile: "
                                         "ndtri(0.5 + confidence/2), not ndtri(confidence)"),
                ]
                fail(where, expected, got, hint(got, hints, atol=1e-9))
    print(f"check_wilson_interval passed: {n_checked} intervals (p from 0 to 1, n from 5 to "
          "100,000, three confidence levels).")


def check_rotation_p_value(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(observed, null)``: the p-value ``(1 + #{null >= observed}) / (1 + len(null))``.

    Parameters
    ----------
    fn : callable
        ``fn(observed, null)`` with a float and an array of shape ``(N,)``; returns a float.
    seed : int
        Seed of the random null values.

    Raises
    ------
    AssertionError
        On the first wrong p-value, naming the case.
    """
    check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    null = rng.standard_normal(99)
    cases = [
        ("observed above every null value", 10.0, null),
        ("observed below every null value", -10.0, null),
        ("observed in the middle", float(np.median(null)), null),
        ("ties with null values", 1.0, np.array([0.0, 1.0, 1.0, 2.0])),
        ("a single rotation", 0.5, np.array([0.2])),
        ("random observed", float(rng.standard_normal()), rng.standard_normal(19)),
    ]
    for name, observed, values in cases:
        expected = (1 + np.count_nonzero(values >= observed)) / (1 + len(values))
        where = f"fn(observed={observed:.4g}, null of shape {values.shape}) [{name}]"
        got = as_array(fn(observed, values.copy()), where, ())
        if np.isclose(got, expected, rtol=0, atol=1e-12):
            continue
        greater = np.count_nonzero(values > observed)
        hints = [
            (np.count_nonzero(values >= observed) / len(values),
             "add one to the count and to the number of rotations: the given basis is one of "
             "the bases, so the p-value is never 0"),
            ((1 + greater) / (1 + len(values)), "ties count against the observed value: use "
                                               "null >= observed, not >"),
            ((1 + np.count_nonzero(values <= observed)) / (1 + len(values)),
             "the comparison is reversed: count the null values at least as large as observed"),
        ]
        fail(where, expected, got, hint(got, hints, atol=1e-12))
    print(f"check_rotation_p_value passed: {len(cases)} cases (extremes, ties, a single "
          "rotation).")


def check_epsilon_for_fraction(fn: Callable) -> None:
    """Check ``fn(n_dims, fraction)``: the ``epsilon`` whose cone holds ``fraction`` of random
    directions.

    The reference is :func:`srmlib.epsilon_for_isotropic_fraction`, the inverse in ``epsilon``
    of the isotropic baseline ``1/2 I_{1-eps^2}((d-1)/2, 1/2)`` (for ``fraction > 1/2`` the cone
    is wider than a hemisphere and ``epsilon`` is negative), from 2 to 4096 dimensions and for
    fractions from 0.001 to 0.99.

    Parameters
    ----------
    fn : callable
        ``fn(n_dims, fraction)`` with an int ``n_dims >= 2`` and a float ``fraction`` in
        ``(0, 1)``; returns a float in ``(-1, 1)``.

    Raises
    ------
    AssertionError
        On the first wrong value, naming ``n_dims`` and ``fraction``.
    """
    from scipy import special

    check_callable(fn, "fn")
    n_checked = 0
    for n_dims in (2, 3, 8, 64, 512, 4096):
        for fraction in (0.01, 0.001, 0.1, 0.3, 0.5, 0.7, 0.99):
            expected = epsilon_for_isotropic_fraction(n_dims, fraction)
            where = f"fn(n_dims={n_dims}, fraction={fraction})"
            got = as_array(fn(n_dims, fraction), where, ())
            if np.isclose(got, expected, rtol=1e-6, atol=1e-9):
                n_checked += 1
                continue
            tail = min(fraction, 1 - fraction)
            half_beta = math.sqrt(max(0.0, 1 - special.betaincinv(n_dims / 2, 0.5, 2 * tail)))
            hints = [
                (epsilon_for_isotropic_fraction(n_dims, fraction / 2) if fraction < 1 else np.nan,
                 "the cone holds half of I_{1-eps^2}((d-1)/2, 1/2) (the incomplete beta counts "
                 "both opposite caps): solve 1/2 I = fraction, i.e. betaincinv(..., 2 * fraction)"),
                (abs(expected), "for fraction > 1/2 the cone is wider than a hemisphere, so "
                                "epsilon is negative: eps(f) = -eps(1 - f)"),
                (-expected, "the sign is reversed: a small fraction is a narrow cone, epsilon "
                            "close to +1"),
                (math.acos(expected), "this is the cone's half-angle arccos(epsilon); return "
                                      "epsilon, the cosine"),
                (half_beta if fraction <= 0.5 else -half_beta,
                 "the first beta parameter is (n_dims - 1)/2, not n_dims/2"),
                (float(special.ndtri(1 - fraction)) / math.sqrt(n_dims),
                 "z/sqrt(d) is only the large-dimension approximation; invert the exact "
                 "baseline (scipy.special.betaincinv)"),
            ]
            fail(where, expected, got, hint(got, hints, atol=1e-9))
    print(f"check_epsilon_for_fraction passed: {n_checked} values (2 to 4096 dimensions, "
          "fractions from 0.001 to 0.99, negative epsilon above one half).")


#: How the noise of an SRM value changes with the number of samples. Chapter 2 measures it
#: after the exercise and asserts that the outcome is :attr:`Prediction.correct`.
SAMPLE_SIZE_PREDICTION = Prediction(
    "check_sample_size_prediction",
    {"a": "it falls to a quarter: four times the data, a quarter of the noise",
     "b": "it halves",
     "c": "it stays the same: the isotropic fraction p0 of the cone fixes the noise"},
    correct="b",
    why=("The standard error of a fraction is sqrt(p (1 - p) / n), so the relative error "
         "sqrt((1 - p0) / (n p0)) falls like 1/sqrt(n): four times the samples halve it."),
    hints={
        "a": "it is the variance, p (1 - p) / n, that falls to a quarter; the spread is its "
             "square root",
        "c": "p0 fixes the noise at a given n, which is why it is the same in every dimension; "
             "the relative error sqrt((1 - p0) / (n p0)) still depends on n",
    },
)


def check_sample_size_prediction(answer: str) -> None:
    """Check a prediction: how the relative noise of an SRM value at the isotropic baseline
    changes when each data set has four times as many samples (same ``epsilon``).

    Raises
    ------
    AssertionError
        For a wrong or unknown label, with a hint.
    """
    SAMPLE_SIZE_PREDICTION.check(answer)
