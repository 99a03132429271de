"""The chapters' reference solutions pass their checks; subtly wrong answers fail with a hint.

The reference solutions live in one place: the chapters, in the code cells between a
``{solution-start}`` and its ``{solution-end}``. This file reads them from every chapter
(jupytext), runs each chapter's solutions in order after its parameters cell (with
``quick = True``, as the notebook tests run) and its setup cell, the cell that imports what the
chapter uses, and checks that each solution that calls an ``exercises.check_*`` passes it. A
solution may use only what that setup cell imports and what earlier solutions define. Solutions
that call no check (open questions that use the chapter's trained models) run with the chapter
itself, in the notebook tests.

Only the *wrong* answers are written here, most as small changes to the chapter's reference
(``reference("01")["probe"]``), each of which its check must reject with the hint meant for it.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import numpy as np
import pytest
import torch
from scipy import special

from srmlib import exercises

TWO_PI = 2 * np.pi
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MARKER = re.compile(r"^```\{(solution-start|solution-end)\}[ \t]*(\S*)", re.M)
CHECK_CALL = re.compile(r"\bexercises\.(check_\w+)\(")


# --------------------------------------------------------------------------- reading the chapters


@dataclass
class Solution:
    label: str
    code: list[str] = field(default_factory=list)

    @property
    def checks(self) -> list[str]:
        return CHECK_CALL.findall("\n".join(self.code))


@dataclass
class Chapter:
    path: Path
    setup: list[str]
    solutions: list[Solution]


def read_chapter(path: Path) -> Chapter:
    """The parameters and setup cells, and the code of every solution block, in order."""
    cells = jupytext.read(path).cells
    first = [k for k, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(first) == 1, f"{path.name}: expected one parameters cell, found {len(first)}"
    setup_cell = next(c for c in cells[first[0] + 1:] if c.cell_type == "code")
    setup = [cells[first[0]].source, "quick = True  # as the notebook tests run it",
             setup_cell.source]
    solutions, current = [], None
    for cell in cells:
        if cell.cell_type == "code":
            if current is not None:
                current.code.append(cell.source)
            continue
        for kind, label in MARKER.findall(cell.source):
            if kind == "solution-start":
                assert current is None, f"{path.name}: solution {label} opens inside another"
                current = Solution(label)
            else:
                assert current is not None, f"{path.name}: a solution-end with no start"
                solutions.append(current)
                current = None
    assert current is None, f"{path.name}: solution {current.label} is never closed"
    return Chapter(path, setup, solutions)


CHAPTERS = {path.stem: read_chapter(path) for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))}
CHECKED = [(stem, solution) for stem, chapter in CHAPTERS.items()
           for solution in chapter.solutions if solution.checks]


class ChapterRun:
    """One chapter's setup and its checked solutions, executed in order in one namespace."""

    def __init__(self, chapter: Chapter):
        self.chapter = chapter
        self.namespace: dict = {"__name__": f"chapter_{chapter.path.stem}"}
        self.outputs: dict[str, str] = {}
        self.errors: dict[str, BaseException] = {}
        with contextlib.redirect_stdout(io.StringIO()):
            for k, source in enumerate(chapter.setup):
                exec(compile(source, f"{chapter.path.name}, setup {k}", "exec"), self.namespace)
        self.pending = [s for s in chapter.solutions if s.checks]

    def run_until(self, label: str) -> str:
        """Run the solutions up to ``label``; its printed output (re-raising its error)."""
        while label not in self.outputs and label not in self.errors:
            solution = self.pending.pop(0)
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    for source in solution.code:
                        exec(compile(source, f"{self.chapter.path.name}, {solution.label}",
                                     "exec"), self.namespace)
            except Exception as err:  # noqa: BLE001 - reported by the test of that solution
                self.errors[solution.label] = err
            else:
                self.outputs[solution.label] = out.getvalue()
        if label in self.errors:
            raise self.errors[label]
        return self.outputs[label]


_RUNS: dict[str, ChapterRun] = {}


def chapter_run(stem: str) -> ChapterRun:
    if stem not in _RUNS:
        _RUNS[stem] = ChapterRun(CHAPTERS[stem])
    return _RUNS[stem]


def reference(number: str) -> dict:
    """The namespace of chapter ``number`` ("01") after all its checked solutions ran."""
    (stem,) = [s for s in CHAPTERS if s.startswith(f"{number}_")]
    run = chapter_run(stem)
    for solution in CHAPTERS[stem].solutions:
        if solution.checks:
            run.run_until(solution.label)
    return run.namespace


# --------------------------------------------------------------------------- reference solutions


@pytest.mark.parametrize("stem, solution", CHECKED,
                         ids=[f"{stem[:2]}-{s.label}" for stem, s in CHECKED])
def test_each_reference_solution_passes_its_check(stem, solution):
    output = chapter_run(stem).run_until(solution.label)
    for check in solution.checks:
        assert f"{check} passed" in output, f"{solution.label}: {check} printed {output!r}"


def test_every_check_has_a_reference_solution_in_a_chapter():
    solved = {check for _, solution in CHECKED for check in solution.checks}
    checks = {name for name in exercises.__all__ if name.startswith("check_")}
    assert checks <= solved, f"checks with no reference solution: {sorted(checks - solved)}"


FIXTURE = """# A chapter with two exercises (jupytext recognises MyST without a header)

```{code-cell} ipython3
:tags: [parameters]

quick: bool = False
```

```{code-cell} ipython3
import numpy as np

from srmlib import exercises

n_null = 9 if quick else 99
```

```{exercise}
:label: ex-one

Write `p_value`.
```

```{solution-start} ex-one
:class: dropdown
```

Some text.

```{code-cell} ipython3
def p_value(observed, null):
    return (1 + np.count_nonzero(np.asarray(null) >= observed)) / (1 + len(null))
```

```{code-cell} ipython3
exercises.check_rotation_p_value(p_value)
```

```{solution-end}
```

```{solution-start} ex-two
```

```{code-cell} ipython3
print(p_value(0.0, np.zeros(n_null)))
```

```{solution-end}
```
"""


def test_solution_blocks_are_read_from_any_chapter_and_run_after_its_setup(tmp_path):
    """Any number of blocks, text around them, and a block that calls no check."""
    path = tmp_path / "99_fixture.md"
    path.write_text(FIXTURE)
    chapter = read_chapter(path)
    assert [s.label for s in chapter.solutions] == ["ex-one", "ex-two"]
    assert len(chapter.solutions[0].code) == 2 and "def p_value" in chapter.solutions[0].code[0]
    assert [s.checks for s in chapter.solutions] == [["check_rotation_p_value"], []]
    run = ChapterRun(chapter)
    assert run.namespace["n_null"] == 9  # run as the notebook tests run it: quick
    assert "check_rotation_p_value passed" in run.run_until("ex-one")
    assert [s.label for s in run.pending] == []  # a block with no check is not run here
    path.write_text(FIXTURE.replace("```{solution-end}\n```\n\n```{solution-start} ex-two",
                                    "```{solution-start} ex-two"))
    with pytest.raises(AssertionError, match="opens inside another"):
        read_chapter(path)
    path.write_text(FIXTURE.replace("```{solution-start} ex-two\n```", ""))
    with pytest.raises(AssertionError, match="solution-end with no start"):
        read_chapter(path)


# --------------------------------------------------------------------------- chapter 1


def test_probe_check_accepts_other_correct_forms():
    from scipy.linalg import expm

    probe = reference("01")["probe"]

    def via_expm(b_i, b_j, theta):
        u, v = probe(b_i, b_j, 0.0), probe(b_i, b_j, np.pi / 2)
        return expm(theta * (np.outer(v, u) - np.outer(u, v))) @ u

    exercises.check_probe(via_expm)
    exercises.check_probe(lambda b_i, b_j, theta: list(probe(b_i, b_j, theta)))


def wrong_probes():
    probe = reference("01")["probe"]
    return [
        ("turns towards -b_j", lambda b_i, b_j, t: probe(b_i, b_j, -t), "towards -b_j"),
        ("no Gram-Schmidt", lambda b_i, b_j, t: np.cos(t) * b_i / np.linalg.norm(b_i)
         + np.sin(t) * b_j / np.linalg.norm(b_j), "orthogonalised"),
        ("not normalised", lambda b_i, b_j, t: 2 * probe(b_i, b_j, t), "unit length"),
        ("degrees", lambda b_i, b_j, t: probe(b_i, b_j, np.deg2rad(t)), "expected"),
    ]


@pytest.mark.parametrize("case", range(4), ids=["minus b_j", "no Gram-Schmidt", "not unit",
                                                 "degrees"])
def test_probe_check_fails_wrong_answers(case):
    name, wrong, hint = wrong_probes()[case]
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_probe(wrong)
    assert "expected" in str(info.value) and "got" in str(info.value)
    assert "theta=" in str(info.value)  # names the input


def test_isotropic_check_fails_wrong_baseline_for_negative_epsilon():
    def no_mirror(n_dims, epsilon):
        return 0.5 * special.betainc((n_dims - 1) / 2, 0.5, 1 - epsilon**2)

    with pytest.raises(AssertionError, match=r"epsilon=-0.1\).*\n.*\n.*\n  hint: for epsilon < 0"):
        exercises.check_isotropic_expectation(no_mirror)


@pytest.mark.parametrize("mistake, hint", [
    ("both caps", "both opposite caps"),
    ("n_dims / 2", r"\(n_dims - 1\)/2, not n_dims/2"),
    ("two values", "shape"),
])
def test_isotropic_check_fails_other_mistakes(mistake, hint):
    isotropic = reference("01")["isotropic"]
    wrong = {
        "both caps": lambda d, e: 2 * isotropic(d, e) if e >= 0 else isotropic(d, e),
        "n_dims / 2": lambda d, e: (0.5 * special.betainc(d / 2, 0.5, 1 - e**2) if e >= 0
                                    else isotropic(d, e)),
        "two values": lambda d, e: np.array([isotropic(d, e), 0.0]),
    }[mistake]
    with pytest.raises(AssertionError, match=hint):
        exercises.check_isotropic_expectation(wrong)


@pytest.mark.parametrize("mistake, hint", [
    ("minus angles", "towards -b_j"), ("swapped", "swapped"), ("counts", "counts"),
    ("short", "shape"),
])
def test_srm_check_fails_wrong_answers(mistake, hint):
    srm_plane = reference("01")["srm_plane"]
    wrong = {
        "minus angles": lambda x, B, i, j, e, a: srm_plane(x, B, i, j, e, -a),
        "swapped": lambda x, B, i, j, e, a: srm_plane(x, B, j, i, e, a),
        "counts": lambda x, B, i, j, e, a: srm_plane(x, B, i, j, e, a) * len(x),
        "short": lambda x, B, i, j, e, a: srm_plane(x, B, i, j, e, a)[:-1],
    }[mistake]
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
    probe = reference("01")["probe"]

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


# --------------------------------------------------------------------------- chapter 2


def test_wilson_check_explains_the_normal_interval_and_a_one_sided_quantile():
    from scipy.special import ndtri

    def wald(p, n, confidence):
        half = ndtri(0.5 + confidence / 2) * np.sqrt(p * (1 - p) / n)
        return p - half, p + half

    def one_sided(p, n, confidence):
        z = ndtri(confidence)
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        return centre - half, centre + half

    with pytest.raises(AssertionError, match="Wald"):
        exercises.check_wilson_interval(wald)
    with pytest.raises(AssertionError, match="two-sided quantile"):
        exercises.check_wilson_interval(one_sided)


@pytest.mark.parametrize("mistake, hint", [
    ("no plus one", "add one"), ("strict", "ties"), ("reversed", "reversed"),
])
def test_p_value_check_explains_each_mistake(mistake, hint):
    wrong = {
        "no plus one": lambda observed, null: np.mean(null >= observed),
        "strict": lambda observed, null: (1 + np.sum(null > observed)) / (1 + len(null)),
        "reversed": lambda observed, null: (1 + np.sum(null <= observed)) / (1 + len(null)),
    }[mistake]
    with pytest.raises(AssertionError, match=hint):
        exercises.check_rotation_p_value(wrong)


# --------------------------------------------------------------------------- chapter 5


@pytest.mark.parametrize("mistake, hint", [
    ("best atom each", "one to one"), ("signed cosines", r"use \|cos\|"),
    ("mean over matches", "unmatched feature"),
])
def test_matching_check_explains_each_mistake(mistake, hint):
    from scipy.optimize import linear_sum_assignment

    def score(atoms, features, *, signed=False, best=False, over_matches=False):
        a = atoms / np.linalg.norm(atoms, axis=1, keepdims=True)
        f = features / np.linalg.norm(features, axis=1, keepdims=True)
        similarity = f @ a.T if signed else np.abs(f @ a.T)
        if best:
            return similarity.max(axis=1).mean()
        rows, cols = linear_sum_assignment(similarity, maximize=True)
        return similarity[rows, cols].sum() / (len(rows) if over_matches else len(f))

    options = {"best atom each": dict(best=True), "signed cosines": dict(signed=True),
               "mean over matches": dict(over_matches=True)}[mistake]
    with pytest.raises(AssertionError, match=hint):
        exercises.check_matching_score(lambda atoms, features: score(atoms, features, **options))


def _threshold_sae(kind, activate=None, *, init=True):
    """A variant of chapter 5's reference ThresholdReLUSAE, registered as ``kind``."""
    from srmlib import sae

    namespace = {"activate": activate} if activate is not None else {}
    if not init:  # the base class's constructor: no `threshold` option
        namespace["__init__"] = sae.ReLUSAE.__init__
    cls = type(f"Wrong_{kind.replace('-', '_')}", (reference("05")["ThresholdReLUSAE"],),
               namespace)
    return sae.register(kind)(cls)


THRESHOLD_MISTAKES = {
    "threshold subtracted": (lambda self, pre: torch.relu(pre - self.threshold),
                             "subtracting the threshold"),
    "no threshold": (lambda self, pre: torch.relu(pre), "the threshold is missing"),
    "threshold on |pre|": (lambda self, pre: torch.where(pre.abs() > self.threshold, pre, 0.0),
                           "non-negative"),
    "0/1 latents": (lambda self, pre: torch.where(pre > self.threshold, 1.0, 0.0),
                    "keep the value of pre"),
    "detached latents": (lambda self, pre: torch.where(pre > self.threshold, pre.detach(), 0.0),
                         "no gradient reaches"),
}


@pytest.mark.parametrize("mistake", list(THRESHOLD_MISTAKES))
def test_threshold_sae_check_explains_each_mistake(mistake):
    from srmlib import sae

    activate, hint = THRESHOLD_MISTAKES[mistake]
    kind = "wrong-" + mistake.replace(" ", "-").replace("/", "-").replace("|", "")
    try:
        with pytest.raises(AssertionError, match=hint):
            exercises.check_threshold_sae(_threshold_sae(kind, activate))
    finally:
        sae.SAE_CLASSES.pop(kind, None)


def test_threshold_sae_check_explains_wrong_classes():
    from srmlib import sae

    reference_class = reference("05")["ThresholdReLUSAE"]
    with pytest.raises(TypeError, match="subclass of srmlib.sae.SparseAutoencoder"):
        exercises.check_threshold_sae(reference_class(3, 4))  # an instance, not the class
    with pytest.raises(TypeError, match="subclass"):
        exercises.check_threshold_sae(lambda pre: pre)
    unregistered = type("Unregistered", (reference_class,), {})
    with pytest.raises(AssertionError, match="not registered"):
        exercises.check_threshold_sae(unregistered)
    try:
        with pytest.raises(AssertionError, match="takes the keyword `threshold`"):
            exercises.check_threshold_sae(_threshold_sae("wrong-no-threshold-option",
                                                         init=False))

        class NoPenalty(sae.SparseAutoencoder):  # the threshold, but no L1 penalty
            def __init__(self, n_inputs, n_latents, *, threshold=0.1, l1_coefficient=0.0,
                         **options):
                super().__init__(n_inputs, n_latents, **options)
                self.threshold = threshold

            activate = reference_class.activate

        sae.register("wrong-no-penalty")(NoPenalty)
        with pytest.raises(AssertionError, match="no penalty"):
            exercises.check_threshold_sae(NoPenalty)
    finally:
        for kind in ("wrong-no-threshold-option", "wrong-no-penalty"):
            sae.SAE_CLASSES.pop(kind, None)


# --------------------------------------------------------------------------- every check

NAN_ANSWERS = {
    exercises.check_probe: lambda b_i, b_j, theta: np.full(np.shape(b_i), np.nan),
    exercises.check_isotropic_expectation: lambda n_dims, epsilon: np.nan,
    exercises.check_spotlight_resonance: lambda *args: np.full(np.shape(args[-1]), np.nan),
    exercises.check_arc_counts: lambda lo, width, n_angles: np.full(n_angles, np.nan),
    exercises.check_wilson_interval: lambda p, n, confidence: (np.nan, np.nan),
    exercises.check_rotation_p_value: lambda observed, null: np.nan,
    exercises.check_matching_score: lambda atoms, features: np.nan,
    exercises.check_feature_dimensionality: lambda d: np.full(len(d), np.nan),
    exercises.check_interference: lambda d: np.full(len(d), np.nan),
    exercises.check_semi_matching: lambda source, target: np.nan,
    exercises.check_cka: lambda source, target: np.nan,
    exercises.check_paired_difference: lambda values, baseline, confidence: (np.nan,) * 3,
    exercises.check_capture: lambda model, layer, inputs: np.full((len(inputs), 9), np.nan),
    exercises.check_channel_vectors: lambda maps: np.full(
        (len(maps) * int(np.prod(maps.shape[2:])), maps.shape[1]), np.nan),
}


@pytest.mark.parametrize("check", list(NAN_ANSWERS), ids=lambda check: check.__name__)
def test_checks_reject_non_functions_and_report_non_numbers(check):
    with pytest.raises(TypeError, match="must be a function"):
        check(42)
    with pytest.raises(AssertionError, match="returned|raised"):
        check(lambda *args: "not a number")
    with pytest.raises(AssertionError, match="NaN"):
        check(NAN_ANSWERS[check])


def test_a_prediction_accepts_its_key_and_rejects_the_rest_with_their_hints():
    from srmlib.exercises._checks import Prediction

    question = Prediction("check_demo_prediction", {"a": "up", "b": "down"}, "b",
                          why="because.", hints={"a": "look again"})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        question.check(" B ")
    assert "check_demo_prediction passed: (b) down" in out.getvalue()
    with pytest.raises(AssertionError, match="look again"):
        question.check("a")
    for bad in ("c", 1, None):
        with pytest.raises(AssertionError, match="one of the labels 'a', 'b'"):
            question.check(bad)
    with pytest.raises(ValueError, match="correct must be one of"):
        Prediction("x", {"a": "up"}, "z", why="", hints={})
    with pytest.raises(ValueError, match="one hint for each wrong choice"):
        Prediction("x", {"a": "up", "b": "down"}, "a", why="", hints={})
