"""The built website, opened in headless Chromium with the internet blocked.

The fresh build from conftest.py is served on 127.0.0.1; every request that leaves that origin
is aborted and counted as a failure, so the site must work offline. For every page of _toc.yml:
no failed request (including 404s for local files), no console error or uncaught exception,
every image loaded, math typeset by MathJax without errors; on chapter pages also: there is
math, the executed-notebook download works, and every matplotlib ``to_jshtml`` animation
changes its frame when its slider is moved (a chapter whose source makes an animation must
show one); widget outputs left on a page are drawn by the embedded widget manager. A full-page screenshot of each page in the light and the dark theme is saved in
``_build/screenshots/`` for a person to look at. The student edition's chapters (no solutions)
get the same checks, without screenshots.

Chromium comes from the system (Debian's ``chromium``, or the path in $CHROMIUM); Playwright's
own browser downloads are not used. Without Chromium these tests are skipped locally, and fail
when $CI is set, so CI cannot pass without them.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading

import pytest

from .conftest import ROOT, toc_files

pytestmark = pytest.mark.book

SCREENSHOTS = ROOT / "_build" / "screenshots"
# a chapter whose source contains one of these makes a to_jshtml animation for the website
ANIMATION_SOURCE = re.compile(r"to_jshtml|epsilon_animation")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000


def chromium_executable() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}. The website checks must run in CI ($CI is set); "
                    ".ci/run installs Debian's chromium before `make test`.")
    pytest.skip(f"{reason}: website checks skipped (they fail instead when $CI is set)")


@pytest.fixture(scope="module")
def browser():
    """Headless system Chromium; module-scoped so it is closed before other tests run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    executable = chromium_executable()
    if executable is None:
        unavailable("Chromium was not found (install Debian's `chromium`, or set $CHROMIUM "
                    "to a Chromium or Chrome executable)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def serve(folder):
    """Serve a folder on 127.0.0.1; yields its URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def site_url(browser, request):
    """The fresh build served on 127.0.0.1 (built after the browser check, so a skip is quick)."""
    yield from serve(request.getfixturevalue("built_site"))


@pytest.fixture(scope="module")
def student_site_url(browser, request):
    """The student edition (no solutions) of the same sources, served the same way."""
    yield from serve(request.getfixturevalue("built_student_site"))


def is_chapter(page: str) -> bool:
    return page.startswith("notebooks/")


def open_page(browser, site_url: str, page: str):
    """Open the page with outside requests blocked; returns (tab, problems seen so far)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    context.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(site_url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            problems.append(f"request outside the site (blocked): {url}")
            route.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    tab.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    tab.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
    tab.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    tab.goto(site_url + page + ".html", wait_until="load")
    return tab, problems


def wait_until(tab, condition: str, failure: str, arg=None) -> None:
    """Wait for a JavaScript condition; a timeout fails the test with `failure`."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        tab.wait_for_function(condition, arg=arg, timeout=TIMEOUT_MS / 2)
    except PlaywrightTimeout:
        raise AssertionError(f"{failure} (waited {TIMEOUT_MS / 2000:.0f} s)") from None


def check_math(tab, page: str) -> None:
    n_math = tab.locator(".math").count()
    if is_chapter(page):
        assert n_math, f"{page}: no math on a chapter page"
    if not n_math:
        return
    wait_until(tab, "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
               f"{page}: MathJax did not start")
    tab.evaluate("() => MathJax.startup.promise.then(() => true)")
    math = tab.evaluate("""() => ({
        containers: document.querySelectorAll('mjx-container').length,
        untypeset: [...document.querySelectorAll('.math')]
            .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80)),
        errors: [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
            .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80)),
    })""")
    assert math["containers"], f"{page}: MathJax typeset nothing"
    assert not math["untypeset"], f"{page}: math left as TeX: {math['untypeset'][:5]}"
    assert not math["errors"], f"{page}: MathJax errors: {math['errors'][:5]}"


def check_images(tab, page: str) -> None:
    tab.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
    wait_until(tab, "() => [...document.images].every(i => i.complete)", f"{page}: images still loading")
    broken = tab.evaluate(
        "() => [...document.images].filter(i => !i.naturalWidth).map(i => i.src.slice(0, 120))")
    assert not broken, f"{page}: images that did not load: {broken}"


def check_animations(tab, page: str) -> None:
    """Every to_jshtml animation: moving its slider from first to last frame changes the image."""
    source = ROOT / f"{page}.md"
    animations = tab.locator("div.animation")
    n_animations = animations.count()
    if source.is_file() and ANIMATION_SOURCE.search(source.read_text()):
        assert n_animations, f"{page}: its source makes an animation but the page shows none"
    for i in range(n_animations):
        animation = animations.nth(i)
        slider, image = animation.locator("input.anim-slider"), animation.locator("img").first
        animation.scroll_into_view_if_needed()
        wait_until(tab, "img => img.src && img.complete && img.naturalWidth > 0",
                   f"{page}: animation {i} shows no frame", arg=image.element_handle())
        n_frames = int(slider.get_attribute("max")) + 1
        assert n_frames > 1, f"{page}: animation {i} has a single frame"
        slider.focus()
        tab.keyboard.press("Home")
        first = image.get_attribute("src")
        tab.keyboard.press("End")
        last = image.get_attribute("src")
        assert slider.input_value() == str(n_frames - 1), f"{page}: animation {i}'s slider did not move"
        assert last != first, f"{page}: moving animation {i}'s slider did not change the frame"
        tab.keyboard.press("Home")
        assert image.get_attribute("src") == first, f"{page}: animation {i} did not return to frame 0"


def check_widgets(tab, page: str) -> None:
    """Widget outputs kept on the page are drawn by the (vendored) ipywidgets embed manager."""
    views = 'script[type="application/vnd.jupyter.widget-view+json"]'
    if not tab.locator(views).count():
        return
    wait_until(tab, f"""() => [...document.querySelectorAll('{views}')].every(s =>
        s.previousElementSibling && s.previousElementSibling.querySelector('.jupyter-widgets'))""",
               f"{page}: widgets were not drawn")


def check_notebook_download(tab, page: str) -> None:
    link = tab.locator("a.btn-download-notebook-button")
    assert link.count() == 1, f"{page}: no .ipynb in the download menu"
    n_cells = tab.evaluate("a => fetch(a.href).then(r => r.ok ? r.json() : null).then(nb => nb && nb.cells.length)",
                           link.element_handle())
    assert n_cells, f"{page}: the .ipynb download is missing or not a notebook"


def screenshot(tab, page: str, theme: str) -> None:
    tab.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    tab.emulate_media(color_scheme=theme)
    wait_until(tab, "t => document.documentElement.dataset.theme === t",
               f"{page}: the theme did not follow the {theme} color scheme", arg=theme)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=SCREENSHOTS / f"{page.replace('/', '__')}-{theme}.png", full_page=True)


def check_page(browser, site_url: str, page: str, screenshots: bool) -> None:
    tab, problems = open_page(browser, site_url, page)
    try:
        check_math(tab, page)
        check_images(tab, page)
        if is_chapter(page):
            check_notebook_download(tab, page)
        check_animations(tab, page)
        check_widgets(tab, page)
        if screenshots:
            screenshot(tab, page, "light")
            screenshot(tab, page, "dark")
        tab.wait_for_load_state("networkidle")
    except AssertionError as error:
        raise AssertionError("\n".join([str(error), *problems])) from None
    finally:
        tab.context.close()
    assert not problems, f"{site_url}{page}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", toc_files())
def test_page_works_offline_in_a_browser(browser, site_url, page):
    check_page(browser, site_url, page, screenshots=True)


@pytest.mark.parametrize("page", ["book/teaching", *(p for p in toc_files() if is_chapter(p))])
def test_student_page_works_offline_in_a_browser(browser, student_site_url, page):
    """The student edition's chapters (and the teachers' page) render as the full edition's do:
    math, figures, animations and widgets, the .ipynb download, nothing from outside."""
    check_page(browser, student_site_url, page, screenshots=False)
