"""Exercises of chapter 3, "Activation functions make the privileged basis".

:func:`check_isotropic_tanh`, :func:`check_angular_power` and the predict-first question
:func:`check_untrained_quantisation_prediction` (its key, :data:`UNTRAINED_QUANTISATION`, is
measured by the chapter).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..activations import IsotropicTanh
from ..bases import random_rotation
from ._checks import Prediction, as_array, check_callable, fail, hint


def _isotropic_cases(seed: int):
    rng = np.random.default_rng(seed)
    mixed = rng.standard_normal((6, 5))
    mixed[2] = 0.0  # a zero row
    mixed[4] *= 1e-9  # a tiny one
    return [
        ("random inputs, 50 x 8", rng.standard_normal((50, 8))),
        ("one row of norm 3 in 2 dimensions", np.array([[3.0, 0.0]])),
        ("rows of very different norms, one of them zero", mixed),
        ("large inputs (norm about 1000)", 300 * rng.standard_normal((10, 12))),
    ]


def check_isotropic_tanh(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(x)``: isotropic tanh, ``tanh(|x|) x / |x|`` row by row, and 0 at ``x = 0``.

    The reference is :class:`srmlib.activations.IsotropicTanh`, on random inputs, a zero row, a
    tiny row and large inputs, all as float64 torch tensors of shape ``(n, d)``; then the check
    that ``fn`` commutes with a random rotation, ``fn(x Q) = fn(x) Q``. Chapter 3.

    Parameters
    ----------
    fn : callable
        ``fn(x)`` with a torch tensor ``(n, d)``; returns a tensor (or array) ``(n, d)``.
    seed : int
        Seed of the random inputs and the rotation.

    Raises
    ------
    AssertionError
        On the first wrong output, naming the input.
    """
    check_callable(fn, "fn")
    reference = IsotropicTanh().double()
    for label, x in _isotropic_cases(seed):
        where = f"fn(x) for {label}"
        xt = torch.from_numpy(x)
        expected = reference(xt).detach().numpy()
        raw = _numpy(fn(xt.clone()))
        zero_rows = np.linalg.norm(x, axis=1) == 0
        if (np.shape(raw) == x.shape and np.issubdtype(np.asarray(raw).dtype, np.number)
                and not np.all(np.isfinite(raw))):
            bad = ~np.all(np.isfinite(raw), axis=1)
            fail(where, expected, raw,
                 "a zero row gives 0/0: return 0 there (tanh(r)/r -> 1 as r -> 0)"
                 if np.array_equal(bad, zero_rows) else None)
        got = as_array(raw, where, x.shape)
        if np.allclose(got, expected, rtol=1e-7, atol=1e-9):
            continue
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            hints = [
                (np.tanh(x), "that is the elementwise tanh, one coordinate at a time; isotropic "
                             "tanh squashes the length |x| and keeps the direction x / |x|"),
                (np.tanh(norms) * x, "you kept x instead of its direction: divide by |x|"),
                (np.tanh(np.linalg.norm(x, axis=0, keepdims=True)) * x
                 / np.linalg.norm(x, axis=0, keepdims=True),
                 "|x| is the norm of each row (dim=-1, keepdim=True), not of each column"),
                (np.tanh(np.linalg.norm(x)) * x / np.linalg.norm(x),
                 "|x| is the norm of each row, not of the whole batch"),
            ]
        fail(where, expected, got, hint(got, hints))
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((20, 6)))
    q = torch.from_numpy(random_rotation(6, seed))
    gap = float(np.abs(_numpy(fn(x @ q)) - _numpy(fn(x)) @ q.numpy()).max())
    if gap > 1e-9:
        raise AssertionError(f"fn(x Q) differs from fn(x) Q by {gap:.3g} for a random rotation "
                             "Q: an isotropic activation must commute with every rotation")
    print("check_isotropic_tanh passed: matches IsotropicTanh on random, zero, tiny and large "
          f"rows, and commutes with a random rotation (largest gap {gap:.1e}).")


def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def reference_angular_power(angles, k: int) -> float:
    """The unbiased pooled ``|c_k|^2`` of angles grouped by plane (see :func:`check_angular_power`)."""
    total, pairs = 0.0, 0.0
    for phi in angles:
        phi = np.asarray(phi, dtype=np.float64)
        n = len(phi)
        total += abs(np.exp(1j * k * phi).sum()) ** 2 - n
        pairs += n * (n - 1)
    return total / pairs


def _power_cases(seed: int):
    rng = np.random.default_rng(seed)
    quantised = [np.pi / 2 * rng.integers(0, 4, 40) + 0.05 * rng.standard_normal(40)
                 for _ in range(3)]
    return [
        ("three planes of uniform angles (sizes 30, 5, 200), k = 1",
         [rng.uniform(0, 2 * np.pi, n) for n in (30, 5, 200)], 1),
        ("two planes of angles near the axes, k = 4", quantised[:2], 4),
        ("planes of very different sizes (2, 3, 400), k = 2",
         [rng.vonmises(1.0, 2.0, n) for n in (2, 3, 400)], 2),
        ("a plane with one sample and two with many, k = 4",
         [np.array([0.3]), *quantised[1:]], 4),
    ]


def check_angular_power(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(angles, k)``: the unbiased estimate of ``|c_k|^2`` pooled over planes.

    ``angles`` is a list with one array of in-plane angles per plane. The answer is
    ``sum_planes (|sum_s exp(i k phi_s)|^2 - n) / sum_planes n (n - 1)``: the mean of
    ``cos(k (phi_s - phi_t))`` over all pairs ``s != t`` in the same plane, as
    :func:`srmlib.activations.angular_power` computes it. Chapter 3.

    Parameters
    ----------
    fn : callable
        ``fn(angles, k)`` with a list of 1-d arrays and an int; returns a float.
    seed : int
        Seed of the random angles.

    Raises
    ------
    AssertionError
        On the first wrong value, naming the input.
    """
    check_callable(fn, "fn")
    for label, angles, k in _power_cases(seed):
        where = f"fn(angles, k={k}) for {label}"
        expected = reference_angular_power(angles, k)
        got = as_array(fn([a.copy() for a in angles], k), where, ())
        if np.isclose(got, expected, rtol=1e-9, atol=1e-12):
            continue
        every = np.concatenate(angles)
        plugin = sum(abs(np.exp(1j * k * a).sum()) ** 2 for a in angles) / sum(
            len(a) ** 2 for a in angles)
        per_plane = np.mean([(abs(np.exp(1j * k * a).sum()) ** 2 - len(a))
                             / (len(a) * (len(a) - 1)) for a in angles if len(a) > 1])
        hints = [
            (plugin, "this counts each sample paired with itself (|sum|^2 / n^2): subtract n "
                     "and divide by n (n - 1), or the value is biased upwards by about 1/n"),
            (per_plane, "the planes are pooled pair by pair (sum the numerators and the "
                        "denominators over planes), not averaged plane by plane"),
            (reference_angular_power(angles, 1), "use the harmonic k: exp(i k phi)"),
            (reference_angular_power([every], k), "pairs must lie in the same plane: angles "
                                                  "of different planes are not comparable"),
        ]
        fail(where, expected, got, hint(np.asarray(got), hints, atol=1e-9))
    print("check_angular_power passed: uniform, quantised and unequal planes, harmonics 1, 2 "
          "and 4.")


#: The predict-first question of chapter 3's section on quantisation; the chapter measures it.
UNTRAINED_QUANTISATION = Prediction(
    "check_untrained_quantisation_prediction",
    choices={
        "a": "already quantised onto the neurons, beyond every random basis",
        "b": "no more quantised in the neurons than in random bases: training does it",
        "c": "less quantised in the neurons than in random bases",
    },
    correct="a",
    why=("The activation acts from the first forward pass: tanh squashes each coordinate "
         "separately, so samples pile up where some coordinates saturate, which is a place "
         "fixed by the neurons; the weights need not have learned anything."),
    hints={
        "b": ("the untrained network already applies tanh coordinate by coordinate; ask what "
              "squashing each neuron separately does to the directions of the samples"),
        "c": ("saturating a coordinate moves samples towards directions fixed by the neurons, "
              "it does not spread them out"),
    },
)


def check_untrained_quantisation_prediction(answer) -> None:
    """Check a prediction: is the *untrained* tanh layer quantised onto the neurons?

    Parameters
    ----------
    answer : str
        ``"a"``, ``"b"`` or ``"c"`` (see :data:`UNTRAINED_QUANTISATION`).

    Raises
    ------
    AssertionError
        If the prediction is not the one the chapter measures, with a hint.
    """
    UNTRAINED_QUANTISATION.check(answer)
