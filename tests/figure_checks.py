"""Checks every srmlib figure must pass: labelled, pi ticks on angle axes, opaque white."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest

PI_LABELS = ["$0$", r"$\pi/2$", r"$\pi$", r"$3\pi/2$", r"$2\pi$"]


def assert_labelled(ax, *, angle_axis: bool = True):
    """A title and both axis labels; angle axes in radians with pi ticks over one turn."""
    assert ax.get_title(), "figure needs a title"
    assert ax.get_xlabel() and ax.get_ylabel(), "figure needs axis labels"
    if angle_axis:
        assert "rad" in ax.get_xlabel()
        assert [t.get_text() for t in ax.get_xticklabels()] == PI_LABELS
        assert ax.get_xlim() == pytest.approx((0, 2 * np.pi))
    assert mcolors.to_rgba(ax.figure.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
