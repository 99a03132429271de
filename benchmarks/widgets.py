"""How long :class:`srmlib.widgets.SRMExplorer` takes to redraw after a control moves.

A redraw is everything between setting a control's value and the new PNG being in the widget:
the recount from the cached projections, updating the figure's artists and rendering the image
(``SRMExplorer.last_redraw_seconds``). The bar: moving the epsilon slider on ``n = 5000``
samples in ``d = 16`` dimensions (all 120 unordered planes, 180 probe angles) redraws in well
under 0.3 s. Resolution, view and signed changes are timed the same way.
"""

from __future__ import annotations

import numpy as np

from .workloads import relu_activations

WIDGET = dict(n=5000, d=16, threshold=1.0, resolution=180, epsilon=0.9, seed=3)
REDRAW_LIMIT_S = 0.3

# The values each control is moved through, one redraw per value.
MOVES = {
    "epsilon": [0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.5, 0.95, 0.9],
    "resolution": [90, 360, 240, 120, 180],
    "view": ["ensemble", (0, 1), (3, 7), "ensemble", "mean"],
    "signed": [True, False, True, False, True, False],
}


def bench_widgets() -> dict | None:
    """Median redraw time per control, or ``None`` without ipywidgets (the ``book`` extra)."""
    try:
        from srmlib import widgets
    except ImportError:
        return None
    x = relu_activations(WIDGET["n"], WIDGET["d"], WIDGET["threshold"], WIDGET["seed"])
    explorer = widgets.SRMExplorer(x, epsilon=WIDGET["epsilon"], resolution=WIDGET["resolution"])
    medians = {}
    for name, values in MOVES.items():
        times = []
        for value in values:
            explorer.controls[name].value = value
            times.append(explorer.last_redraw_seconds)
        medians[name] = float(np.median(times))
    return {"medians_s": medians, "redraws": {k: len(v) for k, v in MOVES.items()},
            "n_planes": len(explorer.result.planes)}
