"""Kernel-free animations: frames drawn by a function, played offline by matplotlib's player.

Chapter 2's epsilon and PPPM animations (:mod:`srmlib.widgets`) and chapter 3's alignment over
training (:func:`srmlib.plotting.alignment_animation`) are built on :func:`animate`. The player
needs no running kernel, so it works on the book's website; it makes no outside request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

from .._validation import check_int, check_real_in

if TYPE_CHECKING:  # IPython comes with the book extra, not with srmlib itself
    from IPython.display import HTML

__all__ = ["animate"]


def animate(fig: Figure, n_frames: int, draw: Callable[[int], object], fps: float) -> HTML:
    """Render ``draw(k)`` for each frame ``k`` into matplotlib's JavaScript player.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure ``draw`` redraws. Make it with :class:`~matplotlib.figure.Figure`, not
        pyplot, so the inline backend never shows it again as a static image below the player.
    n_frames : int
        Number of frames (at least 1).
    draw : callable
        ``draw(k)`` redraws ``fig`` for frame ``k`` (``0 <= k < n_frames``).
    fps : float
        Frames per second when playing (positive).

    Returns
    -------
    IPython.display.HTML
        The player with a range slider; each frame is a PNG embedded in the page, and the
        buttons' icons are characters (no icon font from a CDN).
    """
    from IPython.display import HTML

    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    n_frames = check_int(n_frames, "n_frames", minimum=1)
    if not callable(draw):
        raise TypeError(f"draw must be a function of the frame index, got {type(draw).__name__}")
    fps = check_real_in(fps, "fps", 0, low_open=True)
    animation = FuncAnimation(fig, draw, frames=n_frames, init_func=lambda: draw(0),
                              interval=1000.0 / fps, repeat=False)
    return HTML(_offline(animation.to_jshtml(default_mode="once")))


# The player's buttons take their icons from Font Awesome on a CDN; the book's website must work
# offline, so the stylesheet link goes and each icon becomes a character.
_FONT_AWESOME_LINK = re.compile(r"<link[^>]*font-awesome[^>]*>", re.S)
_ICON = re.compile(r'<i class="fa ([^"]*)"></i>')
_ICON_TEXT = {
    "fa-minus": "−", "fa-fast-backward": "⇤", "fa-step-backward": "‹",
    "fa-play fa-flip-horizontal": "◀", "fa-pause": "❚❚", "fa-play": "▶",
    "fa-step-forward": "›", "fa-fast-forward": "⇥", "fa-plus": "+",
}


def _offline(html: str) -> str:
    """``html`` from :meth:`~matplotlib.animation.Animation.to_jshtml` without outside requests."""
    html = _FONT_AWESOME_LINK.sub("", html)
    return _ICON.sub(lambda icon: _ICON_TEXT.get(icon.group(1), icon.group(0)), html)
