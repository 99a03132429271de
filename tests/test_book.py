"""The book builds from scratch with every chapter executed at its default parameters.

The build runs with --warningiserror, so an error in any cell, a broken reference or a missing
figure fails it. The rendered pages are then checked the way a reader would notice problems:
every page in the table of contents exists, every image it shows is there, chapters have
rendered math and no error output.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import io
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml
from PIL import Image

from .conftest import BOOK_BUILD_FLAGS, ROOT, chapter_pages, toc_files

pytestmark = pytest.mark.book


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.classes: list[str] = []
        self.assets: list[str] = []  # what the browser fetches by itself: scripts, styles, images
        self.links: dict[str, str] = {}  # link class -> href
        self.hrefs: list[str] = []  # every link's target
        self.scripts: list[str] = []  # inline script bodies
        self._in_script = False
        self.admonition_titles: list[str] = []
        self._in_admonition_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "img" and attrs.get("src"):  # a to_jshtml animation's <img> gets its src from JS
            self.images.append(attrs["src"])
        if tag in ("img", "script", "iframe", "source", "video", "audio") and attrs.get("src"):
            self.assets.append(attrs["src"])
        if tag == "link" and attrs.get("rel") not in ("next", "prev", "index", "search", "canonical", "alternate"):
            self.assets.append(attrs.get("href", ""))
        if tag == "a":
            self.links.update({c: attrs.get("href", "") for c in classes})
            self.hrefs.append(attrs.get("href", ""))
        self._in_script = tag == "script" and not attrs.get("src")
        self._in_admonition_title = tag == "p" and "admonition-title" in classes
        self.classes += classes

    def handle_endtag(self, tag):
        self._in_script = self._in_admonition_title = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)
        if self._in_admonition_title:
            self.admonition_titles.append(data.strip())


def parse(html_path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(html_path.read_text())
    return parser


def test_every_toc_page_is_built(built_site):
    missing = [f for f in toc_files() if not (built_site / f"{f}.html").is_file()]
    assert not missing, f"pages in _toc.yml that were not built: {missing}"


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_renders_figures_and_math_without_errors(built_site, page):
    html_path = built_site / f"{page}.html"
    html = html_path.read_text()
    parser = PageParser()
    parser.feed(html)
    assert parser.images, f"{page}: no figures rendered"
    for src in parser.images:
        if not src.startswith("data:"):
            assert (html_path.parent / src).resolve().is_file(), f"{page}: missing image {src}"
    assert "math notranslate" in html, f"{page}: no rendered math"
    assert "Traceback" not in html and "output error" not in " ".join(parser.classes)
    assert not re.search(r"\bError\b: ", _text_outputs(html)), f"{page}: an error was printed"


def _text_outputs(html: str) -> str:
    return " ".join(re.findall(r'<div class="output [^"]*">(.*?)</div>', html, flags=re.S))


def test_source_files_are_not_left_out(built_site):
    """only_build_toc_files: chapters not in the toc would silently vanish from the site."""
    chapters = sorted(p.stem for p in (ROOT / "notebooks").glob("*.md"))
    in_toc = sorted(Path(f).name for f in toc_files() if f.startswith("notebooks/"))
    assert chapters == in_toc


@pytest.mark.parametrize("page", toc_files())
def test_pages_fetch_nothing_from_outside(built_site, page):
    """The site works offline: scripts, styles, fonts and images are all local files.

    (Hyperlinks to papers are fine; they are followed only when a reader clicks them.)
    test_website.py checks the same in a browser, with the network blocked.
    """
    html_path = built_site / f"{page}.html"
    parser = parse(html_path)
    outside = [a for a in parser.assets if re.match(r"([a-z]+:)?//", a) and not a.startswith("data:")]
    assert not outside, f"{page} loads {outside} from outside the site"
    for asset in parser.assets:
        if not re.match(r"[a-z]+:", asset):
            local = (html_path.parent / asset.split("?")[0].split("#")[0]).resolve()
            assert local.is_file(), f"{page}: {asset} is not in the built site"
    urls = [u for body in parser.scripts for u in re.findall(r"https?://[^\s\"']+", body)
            if not u.startswith("http://www.w3.org/")]  # XML namespaces are names, not requests
    assert not urls, f"{page}: inline scripts name outside URLs {urls}"


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_states_what_you_will_learn(built_site, page):
    titles = parse(built_site / f"{page}.html").admonition_titles
    assert "What you will learn" in titles, (
        f"{page}: no 'What you will learn' admonition near the top (found admonitions {titles})")


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_offers_its_executed_notebook(built_site, page):
    """The download menu's .ipynb is the notebook as executed for the website, outputs included."""
    html_path = built_site / f"{page}.html"
    href = parse(html_path).links.get("btn-download-notebook-button")
    assert href, f"{page}: no .ipynb in the download menu"
    notebook_path = (html_path.parent / href).resolve()
    assert notebook_path.is_file(), f"{page}: the .ipynb link {href} leads nowhere"
    notebook = nbformat.read(notebook_path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code), f"{page}: the download is not executed"
    images = [o for cell in code for o in cell.outputs if "image/png" in o.get("data", {})]
    assert images, f"{page}: the downloaded notebook has no figure outputs"


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_figures_are_opaque(built_site, page):
    """Figures stay readable on the dark theme: no transparent pixels that would show the page.

    Checks every image the page shows and every PNG embedded in it (e.g. the frames of a
    matplotlib to_jshtml animation).
    """
    html_path = built_site / f"{page}.html"
    html = html_path.read_text()
    figures = {}
    for src in parse(html_path).images:
        if not src.startswith("data:"):
            figures[src] = (html_path.parent / src).read_bytes()
    for i, data in enumerate(re.findall(r"data:image/(?:png|jpeg|webp);base64,([A-Za-z0-9+/=\\\n]+)", html)):
        figures[f"embedded image {i}"] = base64.b64decode(re.sub(r"[\\\n]", "", data))
    assert figures, f"{page}: no figures"
    for name, data in figures.items():
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except Exception as error:  # noqa: BLE001 - any unreadable figure fails the same way
            pytest.fail(f"{page}: {name} is not a raster image PIL can read ({error}); "
                        "figures must be PNGs with an opaque background")
        alpha_min, _ = image.convert("RGBA").getchannel("A").getextrema()
        assert alpha_min == 255, (
            f"{page}: {name} has transparent pixels (alpha down to {alpha_min}); figures need an "
            "opaque background to be readable in the dark theme (srmlib.plotting sets white)")


API_PAGES = ROOT / "book" / "api"


def api_modules() -> list[str]:
    return sorted(p.stem for p in API_PAGES.glob("*.md"))


def public_names(module) -> list[str]:
    """``__all__``, or else the functions and classes the module defines itself."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items() if not name.startswith("_")
            and (inspect.isclass(value) or inspect.isfunction(value))
            and value.__module__ == module.__name__]


def test_every_public_module_has_a_reference_page_in_the_toc():
    package = ROOT / "srmlib"
    modules = sorted(p.stem for p in package.iterdir() if not p.name.startswith("_") and (
        p.suffix == ".py" or (p / "__init__.py").is_file()))
    assert api_modules() == modules, "book/api/ needs one page per public module of srmlib"
    assert {f"book/api/{m}" for m in modules} <= set(toc_files()), "every book/api page belongs in _toc.yml"


@pytest.mark.parametrize("module", api_modules())
def test_reference_page_documents_every_public_name(built_site, module):
    """autodoc rendered each public name (an anchor srmlib.<module>.<name>), its numpy sections as
    fields, and the page links to the chapters that use the module."""
    html_path = built_site / "book" / "api" / f"{module}.html"
    html = html_path.read_text()
    anchors = set(re.findall(r'id="(srmlib\.[\w.]+)"', html))
    names = public_names(importlib.import_module(f"srmlib.{module}"))
    assert names, f"srmlib.{module} has no public names"
    missing = [n for n in names if f"srmlib.{module}.{n}" not in anchors]
    assert not missing, f"book/api/{module}: not documented: {missing}"
    if any(callable(getattr(importlib.import_module(f"srmlib.{module}"), n)) for n in names):
        assert 'class="field-list' in html, f"book/api/{module}: no Parameters/Returns fields rendered"
    chapters = [href for href in parse(html_path).hrefs if "notebooks/" in href]
    assert chapters, f"book/api/{module}: links to no chapter"
    for href in chapters:
        assert (html_path.parent / href.split("#")[0]).resolve().is_file(), f"book/api/{module}: {href} leads nowhere"


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_links_into_the_reference(built_site, page):
    """Chapters name the modules they use with {mod}/{func} roles, which link to the reference."""
    html_path = built_site / f"{page}.html"
    targets = [href for href in parse(html_path).hrefs if "book/api/" in href]
    assert targets, f"{page}: links to no page of the API reference"
    for href in targets:
        target_page, _, anchor = href.partition("#")
        target = (html_path.parent / target_page).resolve()
        assert target.is_file(), f"{page}: the link {href} leads nowhere"
        assert not anchor or f'id="{anchor}"' in target.read_text(), f"{page}: the link {href} has no target"


def test_tests_build_the_book_like_make_book():
    """conftest.py builds with the flags of the Makefile's `book` recipe, so tests see that site."""
    recipe = re.search(r"^book:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    build = next(line for line in recipe.splitlines() if "jupyter-book build" in line)
    assert build.split("jupyter-book build .", 1)[1].split() == BOOK_BUILD_FLAGS
    assert "vendor" in re.search(r"^book:(.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)


def test_make_book_student_builds_like_make_book():
    """`make book-student` is `make book` with SRMLIB_EDITION=student and its own output folder."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^book-student:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "vendor" in recipe.group(1)
    build = next(line for line in recipe.group(2).splitlines() if "jupyter-book build" in line)
    assert build.split()[0] == "SRMLIB_EDITION=student"
    options = build.split("jupyter-book build .", 1)[1].split()
    assert options[:2] == ["--path-output", "_build/student"] and options[2:] == BOOK_BUILD_FLAGS


# --- the exercises, the teachers' page and the student edition ------------------------------

EXERCISE_OPTIONS = re.compile(r"^```+\{exercise\}[^\n]*\n((?::[^\n]*\n)*)", re.M)
SOLUTION = re.compile(r"^```+\{solution-start\}\s*(\S+).*?^```+\{solution-end\}[^\n]*\n```+\n", re.M | re.S)
CODE_CELL = re.compile(r"^```+\{code-cell\}[^\n]*\n(.*?)^```+\n", re.M | re.S)


def exercise_labels(page: str) -> list[str]:
    """The chapter's exercise labels, read from its source (independently of book/_ext)."""
    text = (ROOT / f"{page}.md").read_text()
    return [label.group(1) for block in EXERCISE_OPTIONS.finditer(text)
            if (label := re.search(r"^:label:\s*(\S+)", block.group(1), re.M))]


def solution_code_lines(page: str) -> dict[str, list[str]]:
    """For each solution: its code lines that appear nowhere else in the chapter's source, so
    finding one on a page means the solution is shown."""
    text = (ROOT / f"{page}.md").read_text()
    outside = SOLUTION.sub("", text)
    found = {}
    for solution in SOLUTION.finditer(text):
        code = "\n".join(cell.group(1) for cell in CODE_CELL.finditer(solution.group(0)))
        lines = [line.strip() for line in code.splitlines()]
        found[solution.group(1)] = [line for line in lines if len(line) >= 12 and line not in outside]
    return found


def page_text(html_path: Path) -> str:
    """What a reader sees: the page without its tags (highlighted code becomes plain text)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", html_path.read_text()))


def test_solutions_belong_to_exercises_and_can_be_found():
    """Every solution answers an exercise of its chapter, and the student-edition check below has
    solution code to look for in every chapter with solutions."""
    for page in chapter_pages():
        labels, solutions = exercise_labels(page), solution_code_lines(page)
        assert set(solutions) <= set(labels), f"{page}: solutions to no exercise: {set(solutions) - set(labels)}"
        assert not solutions or any(solutions.values()), f"{page}: no solution has a code line of its own"


@pytest.mark.parametrize("edition", ["full", "student"])
def test_teaching_page_lists_every_exercise(built_site, built_student_site, edition):
    """book/teaching.md's list is generated from the chapters: it links every exercise, once."""
    site = built_site if edition == "full" else built_student_site
    hrefs = parse(site / "book" / "teaching.html").hrefs
    for page in chapter_pages():
        for label in exercise_labels(page):
            assert hrefs.count(f"../{page}.html#{label}") == 1, f"teaching page: no single link to {page}#{label}"
    listed = {h.split("#")[1] for h in hrefs if h.startswith("../notebooks/") and "#" in h}
    every = {label for page in chapter_pages() for label in exercise_labels(page)}
    assert listed <= every, f"teaching page lists exercises no chapter has: {listed - every}"


@pytest.mark.parametrize("page", [p for p in chapter_pages() if solution_code_lines(p)])
def test_student_edition_keeps_exercises_and_drops_solutions(built_site, built_student_site, page):
    """The full edition shows every solution (folded); the student one keeps every exercise and
    shows no solution code: not on the page, not in the .md or .ipynb downloads."""
    full, student = built_site / f"{page}.html", built_student_site / f"{page}.html"
    full_text, student_text = page_text(full), page_text(student)
    solutions = solution_code_lines(page)
    for label in exercise_labels(page):
        assert f'id="{label}"' in full.read_text() and f'id="{label}"' in student.read_text(), (
            f"{page}: exercise {label} is missing from an edition")
    n_shown = len(re.findall(r'class="solution\b', full.read_text()))  # sphinx-exercise's admonition
    assert n_shown == len(solutions), f"{page}: the full edition shows {n_shown} of {len(solutions)} solutions"
    assert 'class="solution' not in student.read_text(), f"{page}: the student edition shows a solution"
    downloads = {kind: (built_student_site / "_sources" / f"{page}{kind}").read_text() for kind in (".md", ".ipynb")}
    for label, lines in solutions.items():
        assert not lines or any(line in full_text for line in lines), (
            f"{page}: the full edition lacks the solution to {label}")
        for where, text in [("page", student_text), *downloads.items()]:
            shown = [line for line in lines if line in text]
            assert not shown, f"{page}: the student edition's {where} shows the solution to {label}: {shown}"
    for kind, text in downloads.items():
        assert "solution-start" not in text and "solution-end" not in text, f"{page}{kind}: solution markers left"
        assert all(label in text for label in exercise_labels(page)), f"{page}{kind}: an exercise went missing"
    notebook = nbformat.reads(downloads[".ipynb"], as_version=4)
    nbformat.validate(notebook)


def editions_extension():
    """book/_ext/editions.py, the Sphinx extension behind the editions and the cache's key."""
    spec = importlib.util.spec_from_file_location("editions", ROOT / "book" / "_ext" / "editions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_execution_cache_is_keyed_on_srmlib(tmp_path):
    """A change to srmlib or constraints.txt moves the book to a new, empty execution cache, so
    no chapter shows outputs that today's library would not give; bytecode does not count."""
    editions = editions_extension()
    (tmp_path / "srmlib" / "sub").mkdir(parents=True)
    (tmp_path / "srmlib" / "a.py").write_text("x = 1\n")
    (tmp_path / "srmlib" / "sub" / "b.py").write_text("y = 2\n")
    (tmp_path / "constraints.txt").write_text("numpy==2.0\n")
    before = editions.sources_hash(tmp_path)
    (tmp_path / "srmlib" / "__pycache__").mkdir()
    (tmp_path / "srmlib" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert editions.sources_hash(tmp_path) == before
    for path, text in [("srmlib/sub/b.py", "y = 3\n"), ("constraints.txt", "numpy==2.1\n")]:
        original = (tmp_path / path).read_text()
        (tmp_path / path).write_text(text)
        assert editions.sources_hash(tmp_path) != before, f"a change to {path} kept the cache"
        (tmp_path / path).write_text(original)
    (tmp_path / "srmlib" / "a.py").rename(tmp_path / "srmlib" / "c.py")
    assert editions.sources_hash(tmp_path) != before, "a renamed module kept the cache"


def test_config_executes_through_the_keyed_cache():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    assert "cache" not in config["execute"], "an explicit cache path would bypass srmlib's key"
    assert config["sphinx"]["local_extensions"]["editions"] == "book/_ext"


def test_strip_solutions_keeps_the_exercise_around_a_solution():
    editions = editions_extension()
    text = ("Intro.\n\n```{exercise}\n:label: ex-a\n\nDo it.\n```\n\n```{solution-start} ex-a\n"
            ":class: dropdown\n```\n\nWhy.\n\n```{code-cell} ipython3\nanswer = 42\n```\n\n"
            "```{solution-end}\n```\n\nAfter.\n")
    stripped, inside = editions.strip_solutions(text)
    assert not inside
    assert stripped == "Intro.\n\n```{exercise}\n:label: ex-a\n\nDo it.\n```\n\n\nAfter.\n"
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("```{exercise}\n:label: ex-a\n\nDo it.\n```\n\n"
                                      "```{solution-start} ex-a\n:class: dropdown\n```\n\nWhy."),
        nbformat.v4.new_code_cell("answer = 42"),
        nbformat.v4.new_markdown_cell("```{solution-end}\n```\n\nAfter."),
        nbformat.v4.new_code_cell("kept = True"),
    ])
    cells = editions.strip_notebook_solutions(notebook).cells
    assert [c.source for c in cells] == ["```{exercise}\n:label: ex-a\n\nDo it.\n```", "After.", "kept = True"]


def test_execution_cache_is_keyed_on_the_code_of_chapters_that_other_chapters_run(tmp_path):
    """Chapter 8 runs chapter 1 through srmlib.runs: an edit to chapter 1's code must re-execute
    chapter 8 too, an edit to its prose must not."""
    editions = editions_extension()
    (tmp_path / "notebooks").mkdir()
    run = tmp_path / "notebooks" / "01_run.md"
    run.write_text("# One\n\nProse.\n\n```{code-cell} ipython3\nx = 1\n```\n")
    (tmp_path / "notebooks" / "08_runner.md").write_text(
        '# Eight\n\n```{code-cell} ipython3\nsweep = runs.sweep("01", grid)\n```\n')
    (tmp_path / "notebooks" / "02_other.md").write_text("# Two\n\n```{code-cell} ipython3\ny = 2\n```\n")
    assert editions.chapters_run_by_chapters(tmp_path) == [run]
    before = editions.code_hash([run])
    run.write_text(run.read_text().replace("Prose.", "Other prose."))
    assert editions.code_hash([run]) == before, "a prose edit changed the key"
    run.write_text(run.read_text().replace("x = 1", "x = 2"))
    assert editions.code_hash([run]) != before, "a code edit kept the key"
