"""The book builds from scratch with every chapter executed at its default parameters.

The build runs with --warningiserror, so an error in any cell, a broken reference or a missing
figure fails it. The rendered pages are then checked the way a reader would notice problems:
every page in the table of contents exists, every image it shows is there, chapters have
rendered math and no error output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.book


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


class PageParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.classes: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        self.classes += (attrs.get("class") or "").split()


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(out),
         "--warningiserror", "--keep-going"],
        capture_output=True, text=True, timeout=1800,
    )
    assert result.returncode == 0, f"book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return out / "_build" / "html"


def test_every_toc_page_is_built(built_site):
    missing = [f for f in toc_files() if not (built_site / f"{f}.html").is_file()]
    assert not missing, f"pages in _toc.yml that were not built: {missing}"


@pytest.mark.parametrize("page", [f for f in toc_files() if f.startswith("notebooks/")])
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
