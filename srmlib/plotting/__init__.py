"""Matplotlib figures for the book's chapters, one function per figure type.

Every function takes an optional ``ax`` (a new figure is made when it is ``None``), returns the
:class:`matplotlib.axes.Axes` it drew on, and gives the figure a title, axis labels with units
and an opaque white background, so figures read the same in the website's light and dark themes.
Colours come from the Okabe-Ito palette, which stays distinguishable with the common forms of
colour blindness. Angle axes are in radians with ticks at multiples of ``pi/2``.

One submodule per chapter group (``srm`` for chapters 1-2, ``activations`` for 3, ``toy`` for 4,
``sae`` for 5, ``metrics`` for 6, ``networks`` for 7, ``runs`` for 8); every
figure function is re-exported here, so chapters call ``srmlib.plotting.plot_...``. Beside them,
``explorer`` holds the figures that chapter 2's explorers redraw in place (:class:`SRMFigure`,
:class:`PPPMFigure`) and ``animation`` turns any redrawn figure into a kernel-free player
(:func:`animate`). Nothing here imports :mod:`srmlib.widgets`, which builds on this package.
"""

from __future__ import annotations

from ._style import OKABE_ITO, PALETTE, set_angle_ticks
from .animation import animate
from .activations import (
    alignment_animation,
    plot_alignment_over_training,
    plot_basis_preference,
    plot_digit_grid,
    plot_pppm_density,
)
from .explorer import PPPMFigure, SRMFigure
from .metrics import plot_alignment_bars, plot_correlation_matrix
from .networks import plot_layer_alignment
from .runs import plot_sweep
from .sae import plot_feature_recovery, plot_matching_null, plot_sparsity_tradeoff
from .srm import (
    plot_cone_geometry,
    plot_isotropic_expectation,
    plot_null_distribution,
    plot_pppm,
    plot_relative_error,
    plot_srm_comparison,
    plot_srm_ensemble,
    plot_srm_error_bars,
    plot_srm_polar,
    plot_srm_statistics,
)
from .toy import (
    plot_feature_arrangement,
    plot_feature_dimensionality,
    plot_gram_matrix,
    plot_neuron_kinds,
    plot_phase_diagram,
)

__all__ = [
    "PPPMFigure",
    "SRMFigure",
    "alignment_animation",
    "animate",
    "plot_alignment_bars",
    "plot_alignment_over_training",
    "plot_basis_preference",
    "plot_correlation_matrix",
    "plot_digit_grid",
    "plot_pppm_density",
    "plot_sweep",
    "OKABE_ITO",
    "PALETTE",
    "plot_cone_geometry",
    "plot_feature_recovery",
    "plot_layer_alignment",
    "plot_matching_null",
    "plot_neuron_kinds",
    "plot_phase_diagram",
    "plot_feature_arrangement",
    "plot_feature_dimensionality",
    "plot_gram_matrix",
    "plot_isotropic_expectation",
    "plot_null_distribution",
    "plot_pppm",
    "plot_relative_error",
    "plot_sparsity_tradeoff",
    "plot_srm_comparison",
    "plot_srm_ensemble",
    "plot_srm_error_bars",
    "plot_srm_polar",
    "plot_srm_statistics",
    "set_angle_ticks",
]
