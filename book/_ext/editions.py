"""Sphinx extension for the book's two editions, its execution cache, and the exercise list.

- **Two editions.** ``make book`` builds the full edition. ``make book-student`` sets
  ``SRMLIB_EDITION=student`` and builds the student edition: every exercise stays, every
  solution goes, from the page, from its search index, and from both downloads (the page's
  ``.md`` source and its executed ``.ipynb``). sphinx-exercise's own ``hide_solutions`` option
  is not enough: it drops only the ``solution-start`` marker of a *gated* solution (the form the
  chapters use), so the solution's prose and code cells would stay on the page, unfolded. The
  solutions still run when the chapter is executed (later cells may use what they define); the
  student edition only leaves them out of what it shows.
- **Execution cache.** ``execute_notebooks: cache`` (``_config.yml``) keeps each chapter's
  outputs in a jupyter-cache database, keyed by the chapter's code cells, so a rebuild after a
  prose edit executes nothing and a code edit re-executes that chapter only. A code cell that
  calls srmlib gives other outputs when srmlib changes, which the chapter's code cannot show:
  so the cache lives in ``_build/.jupyter_cache/srmlib-<hash>`` beside the sources, one per
  state of ``srmlib/`` and ``constraints.txt``, and any change there starts an empty one (the
  others are removed). A chapter that runs another through ``srmlib.runs`` (chapter 8 runs
  chapter 1) depends on that chapter's code too, so the code cells of every chapter run that way
  are part of the key as well (their prose is not). Both editions built from the same sources
  share the cache.
- **The exercise list.** The directive ``{exercise-list}`` lists every chapter's exercises,
  read from the chapters' sources at build time, with a link to each, its kind (predict first,
  self-checking, or open) and where it suits a course (in class, homework, discussion), so the
  teachers' page never lists an exercise that is gone or misses a new one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import nbformat
import yaml
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.transforms import SphinxTransform
from sphinx.util.docutils import SphinxDirective
from sphinx_exercise.nodes import solution_end_node, solution_node, solution_start_node

EDITIONS = ("full", "student")
CACHE_INPUTS = ("srmlib", "constraints.txt")  # what the chapters' outputs depend on besides their code
RUNS_A_CHAPTER = re.compile(r"\bruns\.\w+\(\s*[\"'](\d\d)[\"']")  # runs.sweep("01", ...)
USE = {"self-checking": "homework", "predict first": "in class", "open": "discussion or written homework"}
SOLUTION_START = re.compile(r"^(`{3,}|:{3,})\{solution-start\}")
SOLUTION_END = re.compile(r"^(`{3,}|:{3,})\{solution-end\}")
EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)


# --- the student edition ---------------------------------------------------------------------

def edition_from_environment() -> str:
    edition = os.environ.get("SRMLIB_EDITION", "full")
    if edition not in EDITIONS:
        raise ConfigError(f"SRMLIB_EDITION must be one of {EDITIONS}, not {edition!r}")
    return edition


def strip_solutions(text: str, inside: bool = False) -> tuple[str, bool]:
    """Remove every gated solution (``solution-start`` ... ``solution-end``) from MyST text.

    ``inside`` says whether ``text`` begins inside a solution (a notebook's cells are stripped
    one after the other); returns the stripped text and whether it ends inside one.
    """
    kept, closing_fence = [], None
    for line in text.splitlines(keepends=True):
        if closing_fence is not None:  # the solution-end directive's own closing fence
            if line.strip() == closing_fence:
                closing_fence = None
            continue
        if SOLUTION_START.match(line):
            inside = True
        elif inside and (end := SOLUTION_END.match(line)):
            inside, closing_fence = False, end.group(1)
        elif not inside:
            kept.append(line)
    return "".join(kept), inside


def strip_notebook_solutions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without its solutions: their markdown and every code cell between."""
    cells, inside = [], False
    for cell in notebook.cells:
        if cell.cell_type == "code":
            if not inside:
                cells.append(cell)
            continue
        source, inside = strip_solutions(cell.source, inside)
        if source.strip():
            cell.source = source.strip("\n")
            cells.append(cell)
    notebook.cells = cells
    return notebook


class RemoveSolutions(SphinxTransform):
    """Student edition: drop every solution, once sphinx-exercise has gathered gated ones (10)."""

    default_priority = 11

    def apply(self, **kwargs) -> None:
        if self.config.srmlib_edition != "student":
            return
        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)
        leftovers = [n for cls in (solution_start_node, solution_end_node) for n in self.document.findall(cls)]
        if leftovers:  # an unmatched marker: its content could not be found, so it would show
            raise ConfigError(f"{self.env.docname}: unmatched solution-start/solution-end markers")


def strip_downloads(app: Sphinx, exception) -> None:
    """Student edition: the ``.md`` sources and executed ``.ipynb`` offered for download."""
    if exception or app.config.srmlib_edition != "student" or app.builder.format != "html":
        return
    for path in (Path(app.outdir) / "_sources").rglob("*"):
        if path.suffix == ".ipynb":
            notebook = strip_notebook_solutions(nbformat.read(path, as_version=4))
            nbformat.write(notebook, path)
        elif path.suffix in (".md", ".txt"):
            text = path.read_text()
            stripped, inside = strip_solutions(text)
            if inside:
                raise ConfigError(f"{path}: a solution-start without its solution-end")
            if stripped != text:
                path.write_text(stripped)


# --- the execution cache ---------------------------------------------------------------------

def sources_hash(root: Path) -> str:
    """A digest of every file under ``CACHE_INPUTS`` (names and contents), bytecode excluded."""
    digest = hashlib.sha256()
    for name in CACHE_INPUTS:
        top = root / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def chapters_run_by_chapters(confdir: Path) -> list[Path]:
    """The chapters that another chapter executes through ``srmlib.runs`` (e.g. ``"01"``)."""
    sources = sorted((confdir / "notebooks").glob("*.md"))
    numbers = {n for path in sources for n in RUNS_A_CHAPTER.findall(path.read_text())}
    return [path for path in sources if path.name[:2] in numbers]


def code_hash(chapters: list[Path]) -> str:
    """A digest of the chapters' code cells: what jupyter-cache keys a notebook on."""
    import jupytext

    digest = hashlib.sha256()
    for path in chapters:
        code = [cell.source for cell in jupytext.read(path).cells if cell.cell_type == "code"]
        digest.update(path.name.encode() + b"\0" + "\0".join(code).encode() + b"\0")
    return digest.hexdigest()[:16]


def srmlib_root(confdir: Path) -> Path:
    """The folder with srmlib's sources: the book's, or (a copy of the book's pages, as the tests
    build) that of the srmlib that is imported."""
    if (confdir / "srmlib").is_dir():
        return confdir
    import srmlib

    return Path(srmlib.__file__).resolve().parents[1]


def key_cache_on_srmlib(app: Sphinx, config) -> None:
    """Point jupyter-cache at a cache for this state of srmlib, unless a path is configured."""
    if config.nb_execution_mode != "cache" or config.nb_execution_cache_path:
        return
    confdir = Path(app.confdir)
    caches = confdir / "_build" / ".jupyter_cache"
    key = hashlib.sha256((sources_hash(srmlib_root(confdir))
                          + code_hash(chapters_run_by_chapters(confdir))).encode()).hexdigest()[:16]
    current = caches / f"srmlib-{key}"
    if caches.is_dir():
        for old in caches.iterdir():
            if old.is_dir() and old.name.startswith("srmlib-") and old != current:
                shutil.rmtree(old)
    config.nb_execution_cache_path = str(current)


# --- the exercise list -----------------------------------------------------------------------

def chapter_files(confdir: Path, toc_path: str = "_toc.yml") -> list[Path]:
    """The toc's chapters (files under notebooks/), in reading order."""
    toc = yaml.safe_load((confdir / toc_path).read_text())

    def files(entries) -> list[str]:
        return [f for e in entries for f in [e["file"], *files(e.get("sections", []))]]

    pages = [f for part in toc.get("parts", []) for f in files(part["chapters"])]
    return [confdir / f"{page}.md" for page in pages if page.startswith("notebooks/")]


def exercises_of(text: str) -> list[dict]:
    """Each exercise of a chapter: its label, first sentence and kind (from its solution)."""
    found = []
    for match in EXERCISE.finditer(text):
        body = match.group(2)
        label = re.search(r"^:label:\s*(\S+)", body, re.M)
        if label is None:
            continue
        prose = " ".join(line.strip() for line in body.splitlines()
                         if line.strip() and not line.lstrip().startswith(":"))
        prose = re.sub(r"^\*\*[^*]+\*\*\s*", "", prose)  # "**Predict before you run.**": the kind says it
        prose = plain_references(prose, text)
        solution = re.search(r"\{solution-start\}\s*" + re.escape(label.group(1)) + r"\b(.*?)\{solution-end\}",
                             text[match.end():], re.S)
        code = solution.group(1) if solution else ""
        kind = ("predict first" if "_prediction(" in code or "_prediction(" in body
                else "self-checking" if "exercises.check_" in code else "open")
        found.append({"label": label.group(1), "summary": first_sentence(prose), "kind": kind})
    return found


def plain_references(prose: str, text: str) -> str:
    """Cross-references in an exercise's prose as plain text (the list links only exercises):
    ``{ref}`label``` becomes the title of the section it names, in quotes."""
    def title(match: re.Match) -> str:
        target = match.group(2)
        if "<" in target:  # {ref}`text <label>`
            return target.split("<")[0].strip()
        heading = re.search(r"^\(" + re.escape(target) + r"\)=\s*\n#+\s+(.+)$", text, re.M)
        return f"\"{heading.group(1).strip()}\"" if heading else "an earlier section"
    return re.sub(r"\{(ref|numref|doc)\}`([^`]+)`", title, prose)


def first_sentence(prose: str) -> str:
    sentence = re.split(r"(?<=[.?!])\s+(?=[A-Z`$(])", prose, maxsplit=1)[0]
    return sentence if sentence.count("`") % 2 == 0 and sentence.count("$") % 2 == 0 else prose


class ExerciseList(SphinxDirective):
    """``{exercise-list}``: every chapter's exercises, linked, read from the chapters' sources."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        confdir = Path(self.env.srcdir)
        lines = []
        for path in chapter_files(confdir, getattr(self.config, "external_toc_path", "_toc.yml")):
            self.env.note_dependency(str(path))
            text = path.read_text()
            title = re.search(r"^# (.+)$", text, re.M)
            exercises = exercises_of(text)
            doc = "/" + path.relative_to(confdir).with_suffix("").as_posix()
            lines.append(f"- {{doc}}`{title.group(1) if title else path.stem} <{doc}>`"
                         f" ({len(exercises)} exercise{'s' if len(exercises) != 1 else ''})")
            for exercise in exercises:
                lines.append(f"  - {{ref}}`{exercise['label']}` *({exercise['kind']}; "
                             f"{USE[exercise['kind']]})*: "
                             f"{exercise['summary']}")
        container = nodes.container(classes=["exercise-list"])
        self.state.nested_parse(lines, self.content_offset, container)  # MyST, like the page
        return [container]


def setup(app: Sphinx) -> dict:
    app.add_config_value("srmlib_edition", edition_from_environment(), "env", [str])
    app.add_transform(RemoveSolutions)
    app.connect("build-finished", strip_downloads)
    app.connect("config-inited", key_cache_on_srmlib)
    app.add_directive("exercise-list", ExerciseList)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
