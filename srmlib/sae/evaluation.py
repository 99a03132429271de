"""How good an SAE is: sparsity, reconstruction, dead latents, and recovery of known features.

:func:`evaluate_sae` measures L0, the fraction of variance unexplained and dead latents;
:func:`match_features` matches atoms to known feature directions one to one (Hungarian) and
:func:`matching_null` gives the chance level of that score (random dictionaries). Chapter 5
("Better than chance?") explains why a matching score means something only against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .._random import stream
from .._validation import as_float_tensor, check_int, check_real, check_real_in, unit_rows
from .base import SparseAutoencoder, as_activations

__all__ = ["FeatureMatch", "MatchingNull", "SAEEvaluation", "evaluate_sae", "match_features",
           "matching_null"]


@dataclass(frozen=True)
class FeatureMatch:
    """One-to-one matching of decoder atoms to known feature directions.

    Attributes
    ----------
    score : float
        Mean over true features of ``|cos|`` between the feature and its matched atom (0 for a
        feature left unmatched when there are fewer atoms than features); 1 is perfect recovery.
    cosines : ndarray, shape (n_features,)
        ``|cos|`` of each true feature with its matched atom.
    atom_index : ndarray of int, shape (n_features,)
        The matched atom of each true feature (-1 when unmatched).
    n_found : int
        True features whose matched ``|cos|`` is at least ``threshold``.
    threshold : float
        The ``|cos|`` that counts a feature as found.
    similarity : ndarray, shape (n_features, n_atoms)
        ``|cos|`` of every feature with every atom.
    """

    score: float
    cosines: np.ndarray
    atom_index: np.ndarray
    n_found: int
    threshold: float
    similarity: np.ndarray


def match_features(atoms, true_features, *, threshold: float = 0.9) -> FeatureMatch:
    """Match atoms to true features one to one, maximising the total ``|cos|`` (Hungarian).

    ``scipy.optimize.linear_sum_assignment`` finds the assignment; each atom serves at most
    one feature, so a single atom between two features cannot count for both. Signs are ignored
    (``|cos|``): an atom and its negative span the same axis.

    Parameters
    ----------
    atoms : array_like, shape (n_atoms, n_dims)
        Decoder atoms, one per row (any length, none zero).
    true_features : array_like, shape (n_features, n_dims)
        Known feature directions, one per row.
    threshold : float
        ``|cos|`` at which a feature counts as found, in ``(0, 1]``.

    Returns
    -------
    FeatureMatch

    Examples
    --------
    >>> match_features(np.eye(3), [[0.0, 2.0, 0.0], [1.0, 0.0, 0.0]]).score
    1.0
    """
    a = _unit_rows(atoms, "atoms")
    f = _unit_rows(true_features, "true_features")
    if a.shape[1] != f.shape[1]:
        raise ValueError(f"atoms and true_features must have the same dimension, got "
                         f"{a.shape[1]} and {f.shape[1]}")
    threshold = check_real_in(threshold, "threshold", 0, 1, low_open=True)
    similarity = np.abs(f @ a.T)
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    atom_index = np.full(len(f), -1)
    atom_index[rows] = cols
    cosines = np.zeros(len(f))
    cosines[rows] = similarity[rows, cols]
    return FeatureMatch(score=float(cosines.mean()), cosines=cosines, atom_index=atom_index,
                        n_found=int(np.count_nonzero(cosines >= threshold)), threshold=threshold,
                        similarity=similarity)


@dataclass(frozen=True)
class SAEEvaluation:
    """Sparsity, reconstruction and dead latents of an SAE on a set of activations.

    Attributes
    ----------
    l0 : float
        Mean number of non-zero latents per input.
    fvu : float
        Fraction of variance unexplained, ``sum |x - x_hat|^2 / sum |x - mean(x)|^2``: 0 is a
        perfect reconstruction, 1 is no better than the mean.
    dead : ndarray of bool, shape (n_latents,)
        Latents that are 0 on every input.
    n_dead : int
        ``dead.sum()``.
    firing_rate : ndarray, shape (n_latents,)
        Fraction of inputs on which each latent is non-zero.
    match : FeatureMatch or None
        Matching of the atoms to ``true_features`` (see :func:`match_features`), if given. Dead
        latents take part: a dead atom found nothing, and is scored for what it points at.
    active : ndarray of int, shape (n_samples,)
        Non-zero latents of each input (``l0`` is their mean).
    squared_error : ndarray, shape (n_samples,)
        ``|x - x_hat|^2`` of each input (``fvu`` is their sum over the total variance). With
        ``active``, per-input values for standard errors and paired comparisons of two SAEs on
        the same inputs.
    """

    l0: float
    fvu: float
    dead: np.ndarray
    n_dead: int
    firing_rate: np.ndarray
    match: FeatureMatch | None
    active: np.ndarray
    squared_error: np.ndarray


@torch.no_grad()
def evaluate_sae(sae: SparseAutoencoder, activations, true_features=None, *,
                 threshold: float = 0.9, batch_size: int = 8192) -> SAEEvaluation:
    """L0, fraction of variance unexplained, dead latents and (optionally) feature recovery.

    Parameters
    ----------
    sae : SparseAutoencoder
        The SAE, evaluated on its own device in evaluation mode (its mode is restored after).
    activations : array_like or torch.Tensor, shape (n_samples, n_inputs)
        Held-out activations, ideally.
    true_features : array_like, shape (n_features, n_inputs), optional
        Known feature directions (one per row); adds :attr:`SAEEvaluation.match`.
    threshold : float
        ``|cos|`` at which a true feature counts as found.
    batch_size : int
        Inputs per forward pass.

    Returns
    -------
    SAEEvaluation

    Raises
    ------
    ValueError
        If ``activations`` have no variance (a single row, or rows all equal): the fraction of
        variance unexplained divides by it, and no convention gives it a meaning (any error is
        infinitely worse than the mean, which is exact).
    """
    if not isinstance(sae, SparseAutoencoder):
        raise TypeError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    x = as_activations(activations, sae, device=sae.W_dec.device)
    x64 = x.double()
    variance = float(((x64 - x64.mean(dim=0)) ** 2).sum())
    if variance == 0:
        raise ValueError(f"activations have no variance ({len(x)} row(s), all equal), and the "
                         "fraction of variance unexplained divides by it; evaluate on varied "
                         "activations (at least 2 distinct rows)")
    fires = torch.zeros(sae.n_latents, dtype=torch.float64, device=x.device)
    active, squared_error = [], []
    was_training = sae.training
    sae.eval()  # each input encoded on its own (a BatchTopK SAE uses its threshold)
    try:
        for start in range(0, len(x), batch_size):
            batch = x[start: start + batch_size]
            z = sae.encode(batch)
            nonzero = z != 0
            fires += nonzero.sum(dim=0, dtype=torch.float64)
            active.append(nonzero.sum(dim=1))
            squared_error.append(((batch - sae.decode(z)) ** 2).double().sum(dim=1))
    finally:
        sae.train(was_training)
    active = torch.cat(active).cpu().numpy()
    squared_error = torch.cat(squared_error).cpu().numpy()
    firing_rate = (fires / len(x)).cpu().numpy()
    dead = firing_rate == 0
    match = None if true_features is None else match_features(sae.atoms, true_features,
                                                              threshold=threshold)
    fvu = float(squared_error.sum()) / variance
    return SAEEvaluation(l0=float(active.mean()), fvu=fvu, dead=dead, n_dead=int(dead.sum()),
                         firing_rate=firing_rate, match=match, active=active,
                         squared_error=squared_error)


@dataclass(frozen=True)
class MatchingNull:
    """Matching scores of random dictionaries: the chance level of :func:`match_features`.

    Attributes
    ----------
    scores : ndarray, shape (n_dictionaries,)
        The score of each random dictionary against the true features.
    n_atoms : int
        Atoms per random dictionary.
    seed : int or None
        Seed of the dictionaries (``None`` when a Generator was given).
    """

    scores: np.ndarray
    n_atoms: int
    seed: int | None

    def p_value(self, score) -> float:
        """``(1 + #{scores >= score}) / (1 + n_dictionaries)``: how often chance does as well.

        Small when ``score`` beats most random dictionaries; never below :attr:`min_p_value`.
        """
        score = check_real(score, "score")
        return (1 + int(np.count_nonzero(self.scores >= score))) / (1 + len(self.scores))

    @property
    def min_p_value(self) -> float:
        """The smallest p-value this many dictionaries can give, ``1 / (1 + n_dictionaries)``."""
        return 1.0 / (1 + len(self.scores))


def matching_null(true_features, n_atoms: int, *, n_dictionaries: int = 999,
                  seed=0) -> MatchingNull:
    """Matching scores of ``n_dictionaries`` random dictionaries of ``n_atoms`` unit atoms.

    Each dictionary's atoms are independent uniformly random directions (Gaussian rows scaled
    to unit length), drawn exactly as :class:`SparseAutoencoder` draws its initial atoms, so an
    untrained SAE is one draw from this null. A trained SAE's
    :func:`match_features` score means something only against it: in few dimensions, many
    random atoms already lie close to every feature (16 random atoms in 3 dimensions score
    about 0.94 against 8 features).

    Parameters
    ----------
    true_features : array_like, shape (n_features, n_dims)
        Known feature directions, one per row (none zero).
    n_atoms : int
        Atoms per dictionary (the SAE's ``n_latents``).
    n_dictionaries : int
        Random dictionaries drawn; the smallest p-value is ``1 / (1 + n_dictionaries)``.
    seed : int, numpy.random.Generator or None
        Source of the dictionaries: a stream of its own (``"sae.matching_null"``), never the
        draws of an SAE's initial atoms with the same seed.

    Returns
    -------
    MatchingNull

    Examples
    --------
    >>> null = matching_null(np.eye(3), 3, n_dictionaries=99, seed=0)
    >>> null.p_value(1.0)
    0.01
    """
    f = _unit_rows(true_features, "true_features")
    n_atoms = check_int(n_atoms, "n_atoms", minimum=1)
    n_dictionaries = check_int(n_dictionaries, "n_dictionaries", minimum=1)
    rng = stream(seed, "sae.matching_null")
    atoms = rng.standard_normal((n_dictionaries, n_atoms, f.shape[1]))
    atoms /= np.linalg.norm(atoms, axis=2, keepdims=True)
    scores = np.empty(n_dictionaries)
    for i, dictionary in enumerate(atoms):
        similarity = np.abs(f @ dictionary.T)
        rows, cols = linear_sum_assignment(similarity, maximize=True)
        scores[i] = similarity[rows, cols].sum() / len(f)
    return MatchingNull(scores=scores, n_atoms=n_atoms,
                        seed=None if isinstance(seed, np.random.Generator) else seed)



def _unit_rows(vectors, name: str) -> np.ndarray:
    """Rows of ``vectors`` as float64 unit vectors, at any length (see :func:`unit_rows`)."""
    return unit_rows(as_float_tensor(vectors, name, ndim=2).cpu().double().numpy(), name)


