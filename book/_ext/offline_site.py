"""Sphinx extension for this book's website: offline assets and executed-notebook downloads.

- **Executed notebooks.** Every chapter page offers its executed ``.ipynb`` (with outputs) in the
  theme's download menu. sphinx-book-theme only does this for Markdown notebooks when a launch
  service (Binder, Colab...) is configured; here MyST-NB's executed copy from
  ``<build>/jupyter_execute/`` is copied to ``_sources/<page>.ipynb`` and the theme's
  ``.ipynb`` button points at it.
- **Nothing from outside.** MathJax, require.js and the ipywidgets embed manager are configured
  in ``_config.yml`` to load from ``_static/vendor/`` (see ``tools/vendor_assets.py``). This
  extension checks those files are there, so a build without them fails instead of producing
  pages that show raw TeX, and it leaves out sphinx-thebe's loader, which names a CDN script
  and is unused (this book has no live-code button).
- **Outputs that reach out.** matplotlib's ``to_jshtml`` animations link Font Awesome 4 from a
  CDN for their button icons; the link is dropped, since the theme serves Font Awesome itself.
- **Widgets.** On pages with ipywidgets state, the embed manager is told where its own fonts
  are (it would look beside the page otherwise), and the MathJax 2 call it makes to typeset
  labels is mapped onto MathJax 3 (``_static/widgets-mathjax3.js``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

THEBE_MARKERS = ("THEBE_JS_URL", "sphinx-thebe", "x-thebe-config", "kernelName = ")
CDN_FONT_AWESOME = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^\"']*font-awesome[^>]*>", re.S)
# The widget manager's fonts: webpack resolves them beside the AMD module that loads them, which
# require.js would place beside the page. Point that module, and the manager's documented assets
# path, at the vendored copy. embed-amd.js registers its modules as soon as it runs, so require.js
# must be configured before that: through a global `require` object that require.js reads when
# it loads (this script comes first).
WIDGETS_ASSETS_PATH = """(function () {
  var assets = new URL((document.documentElement.dataset.content_root || "") +
                       "_static/vendor/html-manager/", window.location.href).href;
  var config = {paths: {"@jupyter-widgets/html-manager/dist": assets.slice(0, -1)}};
  window.__jupyter_widgets_assets_path__ = assets;
  if (typeof window.require === "function") { window.require.config(config); }
  else { window.require = config; }
})();"""


def check_vendored_assets(app: Sphinx) -> None:
    """The local files that _config.yml points MathJax and the widget manager at must exist."""
    if app.builder.format != "html":
        return
    wanted = [app.config.mathjax_path, *app.config.nb_ipywidgets_js]
    static_dirs = [Path(app.confdir, d) for d in app.config.html_static_path]
    missing = [path for path in wanted if "://" in path
               or not any((d / path).is_file() for d in static_dirs)]
    if missing:
        raise ExtensionError(
            f"the website would load {missing} from outside or not at all: these must be local "
            "files under book/_static/ (run `python tools/vendor_assets.py`, which `make book` "
            "does for you)")


def is_notebook(app: Sphinx, pagename: str) -> bool:
    return "kernelspec" in app.env.metadata.get(pagename, {})


def offer_executed_notebook(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Copy the executed notebook next to the page's sources and show the .ipynb download."""
    if doctree is None or not is_notebook(app, pagename):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        raise ExtensionError(f"{pagename}: MyST-NB wrote no executed notebook at {executed}")
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"  # read by sphinx-book-theme's download menu


def drop_thebe_assets(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    def thebe(asset) -> bool:
        text = f"{asset.filename} {getattr(asset, 'attributes', {}).get('body', '')}"
        return any(marker in text for marker in THEBE_MARKERS)

    for key in ("script_files", "css_files"):
        if key in context:
            context[key][:] = [asset for asset in context[key] if not thebe(asset)]


def drop_thebe_config_and_cdn_fonts(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(nodes.raw)):
        text = node.astext()
        if any(marker in text for marker in THEBE_MARKERS):
            node.parent.remove(node)
        elif "html" in node.get("format", "").split() and CDN_FONT_AWESOME.search(text):
            node[:] = [nodes.Text(CDN_FONT_AWESOME.sub("", text))]


def support_widgets(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    """Pages where MyST-NB embeds ipywidgets: local widget fonts, and MathJax 3 for labels."""
    scripts = context.get("script_files", [])
    if not any(str(script.filename or "").endswith("embed-amd.js") for script in scripts):
        return
    app.add_js_file(None, body=WIDGETS_ASSETS_PATH, priority=400)  # before require.js (500)
    app.add_js_file("widgets-mathjax3.js", priority=900, defer="defer")  # after MathJax (500)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", check_vendored_assets)
    # before sphinx-book-theme builds its header buttons (priority 501)
    app.connect("html-page-context", offer_executed_notebook, priority=400)
    app.connect("html-page-context", drop_thebe_assets, priority=900)
    # after MyST-NB adds the widget scripts to the page (default priority 500)
    app.connect("html-page-context", support_widgets, priority=600)
    # after sphinx-thebe appends its configuration to each page (default priority 500)
    app.connect("doctree-resolved", drop_thebe_config_and_cdn_fonts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
