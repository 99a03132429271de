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
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
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
