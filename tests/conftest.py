"""Shared test setup: figures drawn off-screen and closed after each test, and one fresh build
of the whole book in each edition (full, and the student edition without solutions), shared by
the page checks (test_book.py) and the browser checks (test_website.py).

It is built the way `make book` builds it: the browser assets are vendored first
(tools/vendor_assets.py, a no-op when they are already there), then `jupyter-book build` with
the same flags as the Makefile's `book` and `book-student` recipes (test_book.py checks they
stay the same), from a temporary copy of the sources into a temporary directory, so that a
reader's `_build/` and its execution cache are neither used nor disturbed. The student edition
reuses the outputs the full build cached, so it adds a build without execution.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before any test imports pyplot

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BOOK_BUILD_FLAGS = ["--warningiserror", "--keep-going"]


@pytest.fixture(autouse=True)
def close_figures():
    """Close every matplotlib figure a test leaves open."""
    yield
    plt.close("all")


def toc_files() -> list[str]:
    """Every page of _toc.yml (sections included), in reading order, as paths without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())

    def pages(entries) -> list[str]:
        return [page for entry in entries for page in [entry["file"], *pages(entry.get("sections", []))]]

    return [toc["root"], *(page for part in toc["parts"] for page in pages(part["chapters"]))]


def chapter_pages() -> list[str]:
    return [f for f in toc_files() if f.startswith("notebooks/")]


QUICK_DEFAULT = "\nquick: bool = False"


def _quick_book_sources(folder: Path) -> Path:
    """A copy of the book's sources whose chapters default to ``quick: bool = True``.

    The website checks need every page built the way ``make book`` builds it, not the
    full-size experiments: those run in ``make book``, and every claim is also asserted in quick
    mode by the notebook tests. Building quick pages keeps ``make test`` minutes shorter.
    """
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, folder / name)
    shutil.copytree(ROOT / "book", folder / "book")
    (folder / "notebooks").mkdir()
    for chapter in (ROOT / "notebooks").glob("*.md"):
        text = chapter.read_text()
        assert text.count(QUICK_DEFAULT) == 1, (
            f"{chapter.name}: its parameters cell needs exactly one line 'quick: bool = False'")
        (folder / "notebooks" / chapter.name).write_text(text.replace(QUICK_DEFAULT,
                                                                      "\nquick: bool = True"))
    return folder


@pytest.fixture(scope="session")
def book_sources(tmp_path_factory) -> Path:
    """The quick-mode copy of the book's sources that both editions are built from."""
    vendor = subprocess.run([sys.executable, str(ROOT / "tools" / "vendor_assets.py")],
                            capture_output=True, text=True, timeout=600)
    assert vendor.returncode == 0, f"vendoring the website's assets failed:\n{vendor.stderr}"
    return _quick_book_sources(tmp_path_factory.mktemp("book-sources"))


def _build_book(sources: Path, out: Path, edition: str) -> str:
    """``jupyter-book build`` as the Makefile runs it (``make book``, ``make book-student``);
    returns its log."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(sources), "--path-output", str(out), *BOOK_BUILD_FLAGS],
        capture_output=True, text=True, timeout=1800, env={**os.environ, "SRMLIB_EDITION": edition},
    )
    assert result.returncode == 0, f"book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def built_site(book_sources, tmp_path_factory) -> Path:
    """The HTML output directory of a fresh build of the book, chapters in quick mode.

    Chapters execute through the execution cache (``_config.yml``), which lives beside the
    sources: these are a fresh copy, so the cache starts empty and every chapter is executed
    here, never taken from a reader's earlier build.
    """
    assert not (book_sources / "_build").exists(), "the test build must start from an empty cache"
    out = tmp_path_factory.mktemp("book")
    log = _build_book(book_sources, out, "full")
    not_executed = [page for page in chapter_pages()
                    if f"{page}.md: Executed notebook in" not in log]
    assert not not_executed, f"chapters the test build did not execute: {not_executed}"
    return out / "_build" / "html"


@pytest.fixture(scope="session")
def built_student_site(built_site, book_sources, tmp_path_factory) -> Path:
    """The student edition (``make book-student``) of the same sources: it reuses the outputs
    the full build cached, so it executes nothing."""
    out = tmp_path_factory.mktemp("book-student")
    log = _build_book(book_sources, out, "student")
    executed = [page for page in chapter_pages() if f"{page}.md: Executing notebook" in log]
    assert not executed, f"the student edition re-executed {executed} instead of using the cache"
    return out / "_build" / "html"
