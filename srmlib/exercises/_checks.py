"""What every exercise check shares: argument checks, comparison hints and failure messages.

A check calls the learner's function, compares with a reference, and on a mismatch raises
``AssertionError`` saying which input failed, what was expected, what came back and, when the
mistake is a common one, what probably went wrong (:func:`fail`, :func:`hint`).
"""

from __future__ import annotations

import math

import numpy as np

TWO_PI = 2.0 * math.pi


def check_callable(fn, name: str) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be a function, got {type(fn).__name__}")


def as_array(value, where: str, shape: tuple) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{where} returned {type(value).__name__}, not numbers") from None
    if arr.shape != shape:
        if shape == () and arr.size == 1:
            return arr.reshape(())
        raise AssertionError(f"{where} returned shape {arr.shape}, expected shape {shape}")
    if not np.all(np.isfinite(arr)):
        raise AssertionError(f"{where} returned NaN or infinite values: {fmt(arr)}")
    return arr


def hint(got: np.ndarray, hints, atol: float = 1e-8) -> str | None:
    for wrong, message in hints:
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == got.shape and np.all(np.isfinite(wrong)) and np.allclose(
                got, wrong, atol=atol, rtol=0 if atol == 0 else 1e-6):
            return message
    return None


def fail(where: str, expected, got, hint: str | None) -> None:
    message = f"{where}:\n  expected {fmt(expected)}\n  got      {fmt(got)}"
    if hint:
        message += f"\n  hint: {hint}"
    raise AssertionError(message)


def fmt(value) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    return np.array2string(arr, precision=4, suppress_small=True, threshold=8, edgeitems=3,
                           separator=", ", max_line_width=100)


class Prediction:
    """A predict-before-you-run question: a few labelled choices, one right, a hint per wrong one.

    A chapter asks the learner to write down a choice *before* running an experiment, checks it
    with a chapter's ``check_*_prediction(answer)`` (which calls :meth:`check`), and then runs
    the experiment and asserts that the measured outcome is :attr:`correct` (so the key is
    evidence-backed, not only written down here).

    Parameters
    ----------
    name : str
        The public check's name, printed as ``"<name> passed"``.
    choices : dict of str to str
        Choice label (``"a"``, ``"b"``, ...) to its text.
    correct : str
        The label of the right choice.
    why : str
        One sentence printed on a right answer: why it is right.
    hints : dict of str to str
        A hint for each wrong label: what that prediction overlooks.
    """

    def __init__(self, name: str, choices: dict, correct: str, why: str, hints: dict):
        if correct not in choices:
            raise ValueError(f"correct must be one of the choices {sorted(choices)}, "
                             f"got {correct!r}")
        if set(hints) != set(choices) - {correct}:
            raise ValueError("hints must give one hint for each wrong choice")
        self.name, self.choices, self.correct = name, dict(choices), correct
        self.why, self.hints = why, dict(hints)

    def check(self, answer) -> None:
        """Print ``"<name> passed: ..."`` if ``answer`` is the right label, else raise with a hint.

        Raises
        ------
        AssertionError
            If ``answer`` is not one of the labels, or is a wrong one (with that choice's hint).
        """
        labels = ", ".join(repr(label) for label in self.choices)
        if not isinstance(answer, str) or answer.strip().lower() not in self.choices:
            raise AssertionError(f"answer with one of the labels {labels}, as a string; "
                                 f"got {answer!r}")
        answer = answer.strip().lower()
        if answer != self.correct:
            raise AssertionError(f"you predicted ({answer}) {self.choices[answer]}\n"
                                 f"  hint: {self.hints[answer]}")
        print(f"{self.name} passed: ({answer}) {self.choices[answer]}. {self.why}")
