"""Each exercise check passes a correct answer and fails a subtly wrong one, saying why."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from srmlib import exercises

TWO_PI = 2 * np.pi


# --------------------------------------------------------------------------- correct answers


def probe(b_i, b_j, theta):
    u = b_i / np.linalg.norm(b_i)
    w = b_j - (b_j @ u) * u
    return np.cos(theta) * u + np.sin(theta) * w / np.linalg.norm(w)


def isotropic(n_dims, epsilon):
    cap = 0.5 * special.betainc((n_dims - 1) / 2, 0.5, 1 - epsilon**2)
    return cap if epsilon >= 0 else 1 - cap


def srm_plane(activations, basis, i, j, epsilon, angles):
    unit = activations / np.linalg.norm(activations, axis=1, keepdims=True)
    probes = np.stack([probe(basis[i], basis[j], t) for t in angles])
    return (unit @ probes.T >= epsilon).mean(axis=0)


def arc_counts(lo, width, n_angles):
    grid = TWO_PI * np.arange(n_angles) / n_angles
    two_turns = np.concatenate([grid, grid + TWO_PI])
    start = np.mod(lo, TWO_PI)
    diff = np.zeros(2 * n_angles + 1, dtype=int)
    np.add.at(diff, np.searchsorted(two_turns, start, side="left"), 1)
    np.add.at(diff, np.searchsorted(two_turns, start + width, side="right"), -1)
    running = np.cumsum(diff)
    return running[:n_angles] + running[n_angles:2 * n_angles]


def test_correct_answers_pass_and_say_so(capsys):
    exercises.check_probe(probe)
    exercises.check_isotropic_expectation(isotropic)
    exercises.check_spotlight_resonance(srm_plane)
    exercises.check_arc_counts(arc_counts)
    out = capsys.readouterr().out
    for name in ("check_probe", "check_isotropic_expectation", "check_spotlight_resonance",
                 "check_arc_counts"):
        assert f"{name} passed" in out


def test_probe_check_accepts_other_correct_forms():
    from scipy.linalg import expm

    def via_expm(b_i, b_j, theta):
        u = b_i / np.linalg.norm(b_i)
        v = probe(b_i, b_j, np.pi / 2)
        return expm(theta * (np.outer(v, u) - np.outer(u, v))) @ u

    exercises.check_probe(via_expm)
    exercises.check_probe(lambda b_i, b_j, theta: list(probe(b_i, b_j, theta)))


# --------------------------------------------------------------------------- subtly wrong answers


WRONG_PROBES = [
    ("turns towards -b_j", lambda b_i, b_j, t: probe(b_i, b_j, -t), "towards -b_j"),
    ("no Gram-Schmidt", lambda b_i, b_j, t: np.cos(t) * b_i / np.linalg.norm(b_i)
     + np.sin(t) * b_j / np.linalg.norm(b_j), "orthogonalised"),
    ("not normalised", lambda b_i, b_j, t: 2 * probe(b_i, b_j, t), "unit length"),
    ("degrees", lambda b_i, b_j, t: probe(b_i, b_j, np.deg2rad(t)), "expected"),
]


@pytest.mark.parametrize("name, wrong, hint", WRONG_PROBES, ids=[w[0] for w in WRONG_PROBES])
def test_probe_check_fails_wrong_answers(name, wrong, hint):
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_probe(wrong)
    assert "expected" in str(info.value) and "got" in str(info.value)
    assert "theta=" in str(info.value)  # names the input


def test_isotropic_check_fails_wrong_baseline_for_negative_epsilon():
    def no_mirror(n_dims, epsilon):
        return 0.5 * special.betainc((n_dims - 1) / 2, 0.5, 1 - epsilon**2)

    with pytest.raises(AssertionError, match=r"epsilon=-0.1\).*\n.*\n.*\n  hint: for epsilon < 0"):
        exercises.check_isotropic_expectation(no_mirror)


@pytest.mark.parametrize("wrong, hint", [
    (lambda d, e: 2 * isotropic(d, e) if e >= 0 else isotropic(d, e), "both opposite caps"),
    (lambda d, e: 0.5 * special.betainc(d / 2, 0.5, 1 - e**2) if e >= 0 else isotropic(d, e),
     r"\(n_dims - 1\)/2, not n_dims/2"),
    (lambda d, e: np.array([isotropic(d, e), 0.0]), "shape"),
])
def test_isotropic_check_fails_other_mistakes(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_isotropic_expectation(wrong)


@pytest.mark.parametrize("wrong, hint", [
    (lambda x, B, i, j, e, a: srm_plane(x, B, i, j, e, -a), "towards -b_j"),
    (lambda x, B, i, j, e, a: srm_plane(x, B, j, i, e, a), "swapped"),
    (lambda x, B, i, j, e, a: srm_plane(x, B, i, j, e, a) * len(x), "counts"),
    (lambda x, B, i, j, e, a: srm_plane(x, B, i, j, e, a)[:-1], "shape"),
])
def test_srm_check_fails_wrong_answers(wrong, hint):
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_spotlight_resonance(wrong)
    assert "expected" in str(info.value) and "i=0, j=1" in str(info.value)


def test_srm_check_catches_missing_orthogonalisation_on_the_skewed_basis():
    def unorthogonalised(x, B, i, j, e, a):
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        u, w = B[i] / np.linalg.norm(B[i]), B[j] / np.linalg.norm(B[j])
        probes = np.cos(a)[:, None] * u + np.sin(a)[:, None] * w
        return (unit @ probes.T >= e).mean(axis=0)

    with pytest.raises(AssertionError, match=r"skewed.*\n(.*\n)*.*not orthogonalised"):
        exercises.check_spotlight_resonance(unorthogonalised)


def test_srm_check_catches_unnormalised_samples():
    def unnormalised(x, B, i, j, e, a):
        probes = np.stack([probe(B[i], B[j], t) for t in a])
        return (x @ probes.T >= e).mean(axis=0)

    with pytest.raises(AssertionError, match="not normalised"):
        exercises.check_spotlight_resonance(unnormalised)


def test_arc_check_fails_when_arcs_do_not_wrap():
    def no_wrap(lo, width, n_angles):
        grid = TWO_PI * np.arange(n_angles) / n_angles
        start = np.mod(lo, TWO_PI)
        return ((grid >= start[:, None]) & (grid <= (start + width)[:, None])).sum(axis=0)

    with pytest.raises(AssertionError, match="wrap around") as info:
        exercises.check_arc_counts(no_wrap)
    assert "angle index 0" in str(info.value)


def test_arc_check_fails_half_open_arcs_off_by_one():
    def strict_end(lo, width, n_angles):
        grid = TWO_PI * np.arange(n_angles) / n_angles
        return (np.mod(grid - lo[:, None], TWO_PI) < width[:, None] * 0.999).sum(axis=0)

    with pytest.raises(AssertionError, match="expected"):
        exercises.check_arc_counts(strict_end)


@pytest.mark.parametrize("check", [exercises.check_probe, exercises.check_isotropic_expectation,
                                   exercises.check_spotlight_resonance,
                                   exercises.check_arc_counts])
def test_checks_reject_non_functions_and_report_non_numbers(check):
    with pytest.raises(TypeError, match="must be a function"):
        check(42)
    with pytest.raises(AssertionError, match="returned"):
        check(lambda *args: "not a number")
    with pytest.raises(AssertionError, match="NaN"):
        check(lambda *args: np.full(np.shape(_answer_shape(check, args)), np.nan))


def _answer_shape(check, args):
    if check is exercises.check_probe:
        return args[0]
    if check is exercises.check_isotropic_expectation:
        return 0.0
    if check is exercises.check_spotlight_resonance:
        return args[-1]
    return np.zeros(args[-1])
