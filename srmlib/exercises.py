"""Self-checking exercises: run a learner's function against srmlib's reference.

Each ``check_*`` function calls the learner's function on several inputs (random ones and edge
cases), compares with a reference, and either prints a one-line success message or raises
``AssertionError`` saying which input failed, what was expected, what came back, and, when the
mistake is a common one, what probably went wrong. Chapter 1 ("Spotlight Resonance from first
principles") ends with these exercises.

=================================  ==========================================================
check                              the learner writes
=================================  ==========================================================
:func:`check_probe`                ``probe(b_i, b_j, theta) -> (d,)`` the spotlight direction
:func:`check_isotropic_expectation` ``fn(n_dims, epsilon) -> float`` the isotropic baseline
:func:`check_spotlight_resonance`  ``fn(activations, basis, i, j, epsilon, angles) -> (A,)``
:func:`check_arc_counts`           ``fn(lo, width, n_angles) -> (n_angles,)`` arcs per angle
:func:`check_wilson_interval`      ``fn(p, n, confidence) -> (low, high)`` binomial error bars
:func:`check_rotation_p_value`     ``fn(observed, null) -> float`` the rotation test's p-value
=================================  ==========================================================

Chapter 2 ("SRM in practice: choosing the resolution") ends with the last two.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.linalg import expm

from .bases import random_rotation
from .sae import match_features
from .srm import isotropic_expectation, spotlight_resonance
from .stats import wilson_interval
from .toy import feature_dimensionality, interference

__all__ = [
    "check_arc_counts",
    "check_feature_dimensionality",
    "check_interference",
    "check_isotropic_expectation",
    "check_matching_score",
    "check_probe",
    "check_rotation_p_value",
    "check_spotlight_resonance",
    "check_wilson_interval",
]

TWO_PI = 2.0 * math.pi


def check_probe(probe: Callable, *, seed: int = 0) -> None:
    """Check ``probe(b_i, b_j, theta)``: the unit spotlight direction at angle ``theta``.

    The expected value is ``exp(theta G) u`` with ``u = b_i/|b_i|``, ``v`` the unit part of
    ``b_j`` orthogonal to ``u`` and ``G = v u^T - u v^T``, computed with ``scipy.linalg.expm``:
    the probe turns from ``b_i`` towards ``+b_j``. Basis vectors need not be orthogonal or of
    unit length.

    Parameters
    ----------
    probe : callable
        ``probe(b_i, b_j, theta)`` with ``b_i``, ``b_j`` arrays of shape ``(d,)`` and ``theta``
        a float in radians; returns an array of shape ``(d,)``.
    seed : int
        Seed for the random test vectors.

    Raises
    ------
    AssertionError
        On the first wrong answer, naming the input, the expected and the returned vector.
    """
    _check_callable(probe, "probe")
    rng = np.random.default_rng(seed)
    rotation = random_rotation(5, seed=rng)
    cases = [
        ("orthonormal standard pair", np.eye(3)[0], np.eye(3)[1]),
        ("orthonormal rotated pair", rotation[2], rotation[4]),
        ("non-orthogonal, non-unit pair", 2.0 * np.array([1.0, 0.3, -0.2, 0.0]),
         np.array([0.6, 1.1, 0.4, -0.7])),
        ("random pair in 6 dimensions", rng.standard_normal(6), rng.standard_normal(6)),
    ]
    thetas = [0.0, math.pi / 6, math.pi / 2, 2.0, math.pi, 5.0, -math.pi / 4, TWO_PI + 0.3]
    n_checked = 0
    for name, b_i, b_j in cases:
        u, v = _plane_frame(b_i, b_j)
        generator = np.outer(v, u) - np.outer(u, v)
        for theta in thetas:
            expected = expm(theta * generator) @ u
            where = f"probe(b_i={_fmt(b_i)}, b_j={_fmt(b_j)}, theta={theta:.4f}) [{name}]"
            got = _as_array(probe(b_i.copy(), b_j.copy(), theta), where, expected.shape)
            if not np.allclose(got, expected, atol=1e-8):
                hints = [
                    (math.cos(theta) * u - math.sin(theta) * v,
                     "it turns from b_i towards -b_j (the orientation of the author's reference "
                     "code, whose value at theta is ours at 2*pi - theta); the book's probe turns "
                     "towards +b_j"),
                    (math.cos(theta) * u + math.sin(theta) * b_j / np.linalg.norm(b_j),
                     "it uses b_j/|b_j| directly: b_j must first be orthogonalised against b_i "
                     "(v = unit part of b_j - (b_j . u) u)"),
                    (math.cos(theta) * b_i + math.sin(theta) * b_j,
                     "it uses b_i and b_j unnormalised and non-orthogonalised"),
                ]
                _fail(where, expected, got, _hint(got, hints) or _norm_hint(got))
            n_checked += 1
    print(f"check_probe passed: {n_checked} probes (orthonormal, rotated, non-orthogonal and "
          "non-unit basis pairs; angles beyond [0, 2*pi)).")


def check_isotropic_expectation(fn: Callable) -> None:
    """Check ``fn(n_dims, epsilon)``: the fraction of uniform random directions in the cone.

    The reference is :func:`srmlib.isotropic_expectation`, tested from 2 to 300 dimensions and
    for ``epsilon`` from -0.95 to 1 (negative ``epsilon``: a cone wider than a hemisphere).

    Parameters
    ----------
    fn : callable
        ``fn(n_dims, epsilon)`` with an int and a float; returns a float.

    Raises
    ------
    AssertionError
        On the first wrong value, naming ``n_dims`` and ``epsilon``.
    """
    _check_callable(fn, "fn")
    n_checked = 0
    for n_dims in (2, 3, 4, 7, 16, 64, 300):
        for eps in (0.0, 0.2, 0.5, 0.9, 1.0, -0.1, -0.5, -0.95):
            expected = isotropic_expectation(n_dims, eps)
            where = f"fn(n_dims={n_dims}, epsilon={eps})"
            got = _as_array(fn(n_dims, eps), where, ())
            if not np.isclose(got, expected, rtol=1e-6, atol=1e-10):
                mirror = isotropic_expectation(n_dims, abs(eps))
                hints = [
                    (mirror, "for epsilon < 0 the cone is larger than a hemisphere: the fraction "
                             "is 1 minus the fraction at -epsilon"),
                    (1.0 - mirror, "check which side of the hemisphere you are on: for "
                                   "epsilon >= 0 the cone is the smaller cap"),
                    (2.0 * expected, "the cap is half of I_{1-eps^2}((d-1)/2, 1/2): the "
                                     "incomplete beta function counts both opposite caps"),
                    (isotropic_expectation(n_dims + 1, eps) if eps >= 0 else np.nan,
                     "the first beta parameter is (n_dims - 1)/2, not n_dims/2"),
                    (isotropic_expectation(max(n_dims - 1, 2), eps) if eps >= 0 and n_dims > 2
                     else np.nan, "the first beta parameter is (n_dims - 1)/2, not "
                                  "(n_dims - 2)/2"),
                ]
                _fail(where, expected, got, _hint(got, hints, atol=1e-8))
            n_checked += 1
    print(f"check_isotropic_expectation passed: {n_checked} values (2 to 300 dimensions, "
          "epsilon from -0.95 to 1).")


def check_spotlight_resonance(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(activations, basis, i, j, epsilon, angles)``: SRM of one plane.

    The reference is :func:`srmlib.spotlight_resonance` restricted to the plane ``(i, j)``:
    for each angle, the fraction of samples ``x`` with ``cos(x, p(theta)) >= epsilon``. The
    test activations have no zero rows, so every sample has a direction.

    Parameters
    ----------
    fn : callable
        ``fn(activations, basis, i, j, epsilon, angles)`` with activations ``(n, d)``, basis
        ``(k, d)`` (one vector per row, any lengths, not necessarily orthogonal), ints ``i != j``,
        a float ``epsilon`` and angles ``(A,)`` in radians; returns fractions of shape ``(A,)``.
    seed : int
        Seed for the random test data.

    Raises
    ------
    AssertionError
        On the first wrong curve, naming the case and the first wrong angle.
    """
    _check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    grid = np.linspace(0.0, TWO_PI, 24, endpoint=False)
    skewed = np.eye(4) + 0.4 * rng.standard_normal((4, 4))
    skewed *= rng.uniform(0.3, 3.0, (4, 1))
    cases = [
        ("Gaussian data, standard basis", rng.standard_normal((300, 3)), np.eye(3), 0, 1, 0.8,
         grid),
        ("ReLU data, rotated basis, i > j", np.abs(rng.standard_normal((300, 5))),
         random_rotation(5, seed=rng), 3, 1, 0.5, grid),
        ("skewed (non-orthogonal, non-unit) basis", rng.standard_normal((300, 4)), skewed, 0, 2,
         0.3, grid),
        ("negative epsilon, unsorted angles", rng.standard_normal((200, 4)), np.eye(4), 2, 3,
         -0.2, rng.uniform(-4.0, 10.0, 17)),
    ]
    for name, x, basis, i, j, eps, angles in cases:
        n = len(x)
        where = (f"fn(activations of shape {x.shape}, basis of shape {basis.shape}, i={i}, j={j}, "
                 f"epsilon={eps}, angles of shape {angles.shape}) [{name}]")

        def reference(plane, probe_angles):
            return spotlight_resonance(x, basis, epsilon=eps, angles=probe_angles,
                                       planes=[plane]).values[0]

        expected = reference((i, j), angles)
        got = _as_array(fn(x.copy(), basis.copy(), i, j, eps, angles.copy()), where, angles.shape)
        if np.allclose(got, expected, atol=0.5 / n):
            continue
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        u, v = _plane_frame(basis[i], basis[j])
        probes = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
        hints = [
            (reference((i, j), -angles),
             "the probe turns towards -b_j; the book's turns from b_i towards +b_j "
             "(ours at theta = reference's at 2*pi - theta)"),
            (reference((j, i), angles), "the roles of i and j are swapped: theta = 0 must point "
                                        "along b_i"),
            (expected * n, "it returns counts; SRM is the fraction of samples (divide by n)"),
            (((x @ probes.T) >= eps).mean(axis=0), "the samples are not normalised: the cone "
                                                   "test is on the cosine x.p/|x| >= epsilon"),
            (((unit @ (np.cos(angles)[:, None] * u + np.sin(angles)[:, None]
                       * basis[j] / np.linalg.norm(basis[j])).T) >= eps).mean(axis=0),
             "b_j is not orthogonalised against b_i before building the probe"),
            (((unit @ probes.T) >= eps).mean(axis=0) - ((unit @ probes.T) <= -eps).mean(axis=0),
             "this looks like signed SRM; this exercise asks for the unsigned fraction"),
        ]
        bad = int(np.flatnonzero(~np.isclose(got, expected, atol=0.5 / n))[0])
        _fail(f"{where} at angle index {bad} (theta={angles[bad]:.4f})", expected[bad], got[bad],
              _hint(got, hints, atol=0.5 / n))
    print(f"check_spotlight_resonance passed: {len(cases)} planes (standard, rotated and skewed "
          "bases; negative epsilon; unsorted angles).")


def check_arc_counts(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(lo, width, n_angles)``: how many arcs contain each grid angle.

    The grid is ``theta_k = 2 pi k / n_angles``, ``k = 0..n_angles-1``; arc ``m`` is the set of
    angles ``lo[m] + t`` for ``0 <= t <= width[m]``, taken modulo ``2 pi`` (so arcs may wrap past
    ``2 pi``, and ``lo`` may be negative or beyond ``2 pi``). This is the counting step of the
    fast Spotlight Resonance algorithm, where sample ``m`` is seen from
    ``[phi_m - alpha_m, phi_m + alpha_m]``.

    Parameters
    ----------
    fn : callable
        ``fn(lo, width, n_angles)`` with arrays ``lo``, ``width`` of shape ``(m,)``
        (``0 <= width < 2 pi``) and an int; returns integer counts of shape ``(n_angles,)``.
    seed : int
        Seed for the random arcs.

    Raises
    ------
    AssertionError
        On the first wrong count, naming the case and the angle.
    """
    _check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    cases = [
        ("three arcs, one wrapping past 2*pi", np.array([0.1, 2.5, 5.9]),
         np.array([1.0, 0.3, 1.2]), 12),
        ("empty and nearly full arcs", np.array([1.234, 4.0]), np.array([0.0, TWO_PI - 0.1]), 16),
        ("starts below 0 and beyond 2*pi", np.array([-0.7, 7.1, -3.0]),
         np.array([1.5, 0.5, 2.0]), 20),
        ("1000 random arcs", rng.uniform(-TWO_PI, 2 * TWO_PI, 1000),
         rng.uniform(0.0, TWO_PI - 1e-3, 1000), 90),
    ]
    for name, lo, width, n_angles in cases:
        grid = TWO_PI * np.arange(n_angles) / n_angles
        inside = np.mod(grid[None, :] - lo[:, None], TWO_PI) <= width[:, None]
        expected = inside.sum(axis=0)
        where = f"fn(lo={_fmt(lo)}, width={_fmt(width)}, n_angles={n_angles}) [{name}]"
        got = _as_array(fn(lo.copy(), width.copy(), n_angles), where, expected.shape)
        if np.array_equal(got, expected):
            continue
        start = np.mod(lo, TWO_PI)
        no_wrap = ((grid[None, :] >= start[:, None])
                   & (grid[None, :] <= start[:, None] + width[:, None])).sum(axis=0)
        raw = ((grid[None, :] >= lo[:, None]) & (grid[None, :] <= lo[:, None] + width[:, None]))
        hints = [
            (no_wrap, "arcs that run past 2*pi must wrap around and also count the angles "
                      "near 0"),
            (raw.sum(axis=0), "reduce lo modulo 2*pi first, and let arcs wrap past 2*pi"),
        ]
        bad = int(np.flatnonzero(got != expected)[0])
        _fail(f"{where} at angle index {bad} (theta={grid[bad]:.4f})", expected[bad], got[bad],
              _hint(got, hints, atol=0))
    print(f"check_arc_counts passed: {len(cases)} cases (wrapping, empty, nearly full and "
          "out-of-range arcs).")


# --------------------------------------------------------------------------- internals


def _check_callable(fn, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be a function, got {type(fn).__name__}")


def _plane_frame(b_i: np.ndarray, b_j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u = b_i / np.linalg.norm(b_i)
    w = b_j - (b_j @ u) * u
    return u, w / np.linalg.norm(w)


def _as_array(value, where: str, shape: tuple) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{where} returned {type(value).__name__}, not numbers") from None
    if arr.shape != shape:
        if shape == () and arr.size == 1:
            return arr.reshape(())
        raise AssertionError(f"{where} returned shape {arr.shape}, expected shape {shape}")
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{where} returned NaN or infinite values: {_fmt(arr)}")
    return arr


def _hint(got: np.ndarray, hints, atol: float = 1e-8) -> str | None:
    for wrong, message in hints:
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == got.shape and np.all(np.isfinite(wrong)) and np.allclose(
                got, wrong, atol=atol, rtol=0 if atol == 0 else 1e-6):
            return message
    return None


def _norm_hint(got: np.ndarray) -> str | None:
    norm = float(np.linalg.norm(got))
    if not math.isclose(norm, 1.0, rel_tol=1e-6):
        return f"the probe should have unit length, but |p| = {norm:.6f}"
    return None


def _fail(where: str, expected, got, hint: str | None) -> None:
    message = f"{where}:\n  expected {_fmt(expected)}\n  got      {_fmt(got)}"
    if hint:
        message += f"\n  hint: {hint}"
    raise AssertionError(message)


def _fmt(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    return np.array2string(arr, precision=4, suppress_small=True, threshold=8, edgeitems=3,
                           separator=", ", max_line_width=100)


# --------------------------------------------------------------------------- chapter 2


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


    _check_callable(fn, "fn")
    n_checked = 0
    for n in (5, 40, 1000, 100_000):
        for p in (0.0, 1.0 / n, 0.05, 0.5, 0.93, 1.0):
            for confidence in (0.68, 0.95, 0.999):
                low, high = wilson_interval(p, n, confidence=confidence)
                expected = np.array([low, high], dtype=np.float64)
                where = f"fn(p={p:.6g}, n={n}, confidence={confidence})"
                got = _as_array(fn(p, n, confidence), where, (2,))
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
                _fail(where, expected, got, _hint(got, hints, atol=1e-9))
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
    _check_callable(fn, "fn")
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
        got = _as_array(fn(observed, values.copy()), where, ())
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
        _fail(where, expected, got, _hint(got, hints, atol=1e-12))
    print(f"check_rotation_p_value passed: {len(cases)} cases (extremes, ties, a single "
          "rotation).")


# --------------------------------------------------------------------------- chapter 4


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
    _check_callable(fn, "fn")
    for name, directions in _toy_direction_cases(seed):
        expected = reference(directions)
        where = f"fn(directions) [{name}]"
        got = _as_array(fn(directions.copy()), where, expected.shape)
        if not np.allclose(got, expected, atol=1e-8):
            _fail(where, expected, got, _hint(got, hints(directions)))


# --------------------------------------------------------------------------- chapter 5


def check_matching_score(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(atoms, features)``: the Hungarian matching score of decoder atoms.

    The reference is ``srmlib.sae.match_features(atoms, features).score``: the mean over
    features of ``|cos|`` with the atom matched to it one to one (maximum total ``|cos|``), 0 for
    a feature left unmatched.

    Parameters
    ----------
    fn : callable
        ``fn(atoms, features)`` with arrays of shapes ``(n_atoms, d)`` and ``(n_features, d)``
        (rows of any non-zero length); returns a float.
    seed : int
        Seed of the random cases.

    Raises
    ------
    AssertionError
        On the first wrong score, naming the case and, for common mistakes, what went wrong.
    """

    _check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((6, 4))
    cases = [
        ("atoms equal to the features", features.copy(), features),
        ("atoms are the negated, rescaled features", -3.0 * features[::-1], features),
        ("one atom close to two features", np.array([[1.0, 0.0], [0.0, 1.0]]),
         np.array([[1.0, 0.1], [1.0, 0.2]])),
        ("more atoms than features", rng.standard_normal((9, 4)), features),
        ("fewer atoms than features", rng.standard_normal((3, 4)), features),
        ("random atoms", rng.standard_normal((6, 4)), features),
    ]
    for name, atoms, feats in cases:
        expected = match_features(atoms, feats).score
        where = f"fn(atoms of shape {atoms.shape}, features of shape {feats.shape}) [{name}]"
        got = _as_array(fn(atoms.copy(), feats.copy()), where, ())
        if np.isclose(got, expected, rtol=0, atol=1e-9):
            continue
        a = atoms / np.linalg.norm(atoms, axis=1, keepdims=True)
        f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
        cos = f @ a.T
        hints = [
            (np.abs(cos).max(axis=1).mean(), "each feature took its best atom, even one already "
                                             "used: match one to one (linear_sum_assignment)"),
            (_signed_score(cos), "use |cos|: an atom and its negative span the same axis"),
            (_matched_mean(np.abs(cos)), "average over all features: an unmatched feature "
                                         "scores 0"),
        ]
        _fail(where, expected, got, _hint(got, hints, atol=1e-9))
    print(f"check_matching_score passed: {len(cases)} cases (signs, scales, shared atoms, more "
          "and fewer atoms than features).")


def _matched_mean(similarity: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return float(similarity[rows, cols].mean())


def _signed_score(cos: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cos, maximize=True)
    return float(cos[rows, cols].sum() / cos.shape[0])
