"""Exercises of chapter 1, "Spotlight Resonance from first principles".

:func:`check_probe`, :func:`check_isotropic_expectation`, :func:`check_spotlight_resonance`,
:func:`check_arc_counts` and the prediction :func:`check_dense_relu_prediction`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.linalg import expm

from ..bases import plane_frame, random_rotation
from ..srm import isotropic_expectation, spotlight_resonance
from ._checks import TWO_PI, Prediction, as_array, check_callable, fail, fmt, hint


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
    check_callable(probe, "probe")
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
        u, v = plane_frame(b_i, b_j)
        generator = np.outer(v, u) - np.outer(u, v)
        for theta in thetas:
            expected = expm(theta * generator) @ u
            where = f"probe(b_i={fmt(b_i)}, b_j={fmt(b_j)}, theta={theta:.4f}) [{name}]"
            got = as_array(probe(b_i.copy(), b_j.copy(), theta), where, expected.shape)
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
                fail(where, expected, got, hint(got, hints) or _norm_hint(got))
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
    check_callable(fn, "fn")
    n_checked = 0
    for n_dims in (2, 3, 4, 7, 16, 64, 300):
        for eps in (0.0, 0.2, 0.5, 0.9, 1.0, -0.1, -0.5, -0.95):
            expected = isotropic_expectation(n_dims, eps)
            where = f"fn(n_dims={n_dims}, epsilon={eps})"
            got = as_array(fn(n_dims, eps), where, ())
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
                fail(where, expected, got, hint(got, hints, atol=1e-8))
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
    check_callable(fn, "fn")
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
        got = as_array(fn(x.copy(), basis.copy(), i, j, eps, angles.copy()), where, angles.shape)
        if np.allclose(got, expected, atol=0.5 / n):
            continue
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        u, v = plane_frame(basis[i], basis[j])
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
        fail(f"{where} at angle index {bad} (theta={angles[bad]:.4f})", expected[bad], got[bad],
              hint(got, hints, atol=0.5 / n))
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
    check_callable(fn, "fn")
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
        where = f"fn(lo={fmt(lo)}, width={fmt(width)}, n_angles={n_angles}) [{name}]"
        got = as_array(fn(lo.copy(), width.copy(), n_angles), where, expected.shape)
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
        fail(f"{where} at angle index {bad} (theta={grid[bad]:.4f})", expected[bad], got[bad],
              hint(got, hints, atol=0))
    print(f"check_arc_counts passed: {len(cases)} cases (wrapping, empty, nearly full and "
          "out-of-range arcs).")


# --------------------------------------------------------------------------- internals


def _norm_hint(got: np.ndarray) -> str | None:
    norm = float(np.linalg.norm(got))
    if not math.isclose(norm, 1.0, rel_tol=1e-6):
        return f"the probe should have unit length, but |p| = {norm:.6f}"
    return None


# --------------------------------------------------------------------------- predictions

#: Where dense ReLU data resonate under the narrow spotlight. Chapter 1 measures it after the
#: exercise and asserts that the outcome is :attr:`Prediction.correct`.
DENSE_RELU_PREDICTION = Prediction(
    "check_dense_relu_prediction",
    {"a": "at the positive axes, as for the chapter's sparse ReLU data: a ReLU aligns its "
          "layer with the neurons",
     "b": "at the diagonal, as for directions that are merely non-negative",
     "c": "nowhere in particular: axes and diagonal equal within the noise"},
    correct="b",
    why=("A sample sits on an axis only when a single neuron fires; with bias +1 each neuron "
         "fires 84% of the time, so the data are nearly the positive orthant's directions, "
         "which put 4 p0 at the diagonal and 2 p0 at an axis: the axes need sparsity."),
    hints={
        "a": "the sparse ReLU data peak at the axes because many samples have a single active "
             "neuron. With bias +1, how often does a sample of 8 neurons have only one?",
        "c": "non-negativity alone is not neutral: the chapter's orthant control puts 2 p0 at "
             "an axis and 4 p0 at the diagonal of a cone narrower than pi/4. What do dense "
             "ReLU data look like?",
    },
)


def check_dense_relu_prediction(answer: str) -> None:
    """Check a prediction: where dense ReLU data (bias +1) peak under a narrow spotlight.

    Parameters
    ----------
    answer : str
        ``"a"``, ``"b"`` or ``"c"``, one of :data:`DENSE_RELU_PREDICTION`'s choices.

    Raises
    ------
    AssertionError
        For a wrong or unknown label, with a hint.
    """
    DENSE_RELU_PREDICTION.check(answer)
