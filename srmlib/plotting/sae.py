"""Figures for chapter 5: sparse autoencoders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from matplotlib.axes import Axes

from ..sae import FeatureMatch, MatchingNull
from ._style import OKABE_ITO, PALETTE, _new_axes, _styled

# --------------------------------------------------------------------------- chapter 5: SAEs


@_styled
def plot_feature_recovery(match, ax: Axes | None = None, *, title: str | None = None) -> Axes:
    """``|cos|`` between every true feature and every decoder atom, atoms in matched order.

    Rows are the true features; the first columns are the atoms matched to them (feature ``i``'s
    atom in column ``i``), then the unmatched atoms. A perfect recovery is a bright diagonal.

    Parameters
    ----------
    match : srmlib.sae.FeatureMatch
        From :func:`srmlib.sae.match_features` (or ``evaluate_sae(...).match``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title : str, optional
        Defaults to the matching score and the number of features found.

    Returns
    -------
    matplotlib.axes.Axes
        One image of shape ``(n_features, n_atoms)`` with a colour bar.
    """

    if not isinstance(match, FeatureMatch):
        raise TypeError(f"match must be a FeatureMatch, got {type(match).__name__}")
    matched = [int(a) for a in match.atom_index if a >= 0]
    order = matched + [a for a in range(match.similarity.shape[1]) if a not in set(matched)]
    ax = _new_axes(ax)
    image = ax.imshow(match.similarity[:, order], vmin=0.0, vmax=1.0, cmap="viridis",
                      aspect="auto", interpolation="nearest")
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, label=r"$|\cos|$ (dimensionless)")
    ax.set_xlabel("decoder atom (matched ones first)")
    ax.set_ylabel("true feature")
    ax.set_title(title if title is not None else
                 f"Feature recovery: score {match.score:.3f}, "
                 f"{match.n_found}/{len(match.cosines)} found at |cos| >= {match.threshold:g}")
    return ax


@_styled
def plot_sparsity_tradeoff(
    curves: Mapping[str, tuple[Iterable[float], Iterable[float]]],
    ax: Axes | None = None,
    *,
    labels: Mapping[str, Iterable[str]] | None = None,
    title: str | None = None,
) -> Axes:
    """Reconstruction against sparsity: FVU against L0, one line per family of SAEs.

    Parameters
    ----------
    curves : mapping of str to (l0, fvu)
        For each family (say ``"ReLU + L1"``, ``"TopK"``), the L0 and the fraction of variance
        unexplained of its SAEs, in the order of the swept parameter.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    labels : mapping of str to iterable of str, optional
        A text label per point (the L1 coefficient or ``k``), by family.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line with markers per family; the y axis is logarithmic.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping of name to (l0, fvu)")
    labels = {} if labels is None else labels
    ax = _new_axes(ax)
    for n, (name, (l0, fvu)) in enumerate(curves.items()):
        l0, fvu = np.asarray(l0, dtype=float), np.asarray(fvu, dtype=float)
        if l0.shape != fvu.shape or l0.ndim != 1:
            raise ValueError(f"curve {name!r}: l0 and fvu must be 1-D of the same length")
        color = PALETTE[n % len(PALETTE)]
        ax.plot(l0, fvu, marker="o", color=color, linewidth=2.0, label=name)
        for x, y, text in zip(l0, fvu, labels.get(name, ())):
            ax.annotate(str(text), (x, y), textcoords="offset points", xytext=(4, 4),
                        fontsize="small", color=color)
    ax.set_yscale("log")
    ax.set_xlabel("L0: mean number of active latents per input")
    ax.set_ylabel("fraction of variance unexplained")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(title if title is not None else "Sparsity against reconstruction")
    return ax



@_styled
def plot_matching_null(null, scores: Mapping[str, float], ax: Axes | None = None, *,
                       title: str | None = None) -> Axes:
    """Matching scores of random dictionaries (a histogram) against the scores of given SAEs.

    Parameters
    ----------
    null : srmlib.sae.MatchingNull
        From :func:`srmlib.sae.matching_null`.
    scores : mapping of str to float
        A matching score per SAE (say ``{"untrained": 0.94, "TopK": 1.0}``), each drawn as a
        vertical line labelled with its p-value against the null.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when ``None``.
    title : str, optional
        Defaults to the number of random dictionaries and their atoms.

    Returns
    -------
    matplotlib.axes.Axes
        One histogram and one vertical line per score, in the order given.
    """
    if not isinstance(null, MatchingNull):
        raise TypeError(f"null must be a MatchingNull, got {type(null).__name__}")
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("scores must be a non-empty mapping of name to matching score")
    ax = _new_axes(ax)
    ax.hist(null.scores, bins=30, color=OKABE_ITO["sky_blue"], alpha=0.8,
            label=f"{len(null.scores)} random dictionaries")
    for n, (name, score) in enumerate(scores.items()):
        score = float(score)
        color = PALETTE[(n + 1) % len(PALETTE)]
        ax.axvline(score, color=color, linewidth=2.0,
                   label=f"{name}: {score:.3f} (p = {null.p_value(score):.3g})")
    values = np.concatenate([null.scores, [float(v) for v in scores.values()]])
    pad = 0.04 * max(float(values.max() - values.min()), 1e-3)
    ax.set_xlim(values.min() - pad, values.max() + pad)  # no line on the frame
    ax.set_xlabel("matching score (mean |cos| of matched pairs)")
    ax.set_ylabel("number of random dictionaries")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(title if title is not None else
                 f"Matching score against {len(null.scores)} random dictionaries of "
                 f"{null.n_atoms} atoms")
    return ax
