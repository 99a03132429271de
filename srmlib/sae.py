"""Sparse autoencoders (SAEs): a ReLU SAE with an L1 penalty, a TopK SAE, and their evaluation.

An SAE writes each activation ``x`` (a row of an ``(n_samples, n_inputs)`` array) as a sparse,
non-negative combination of learned directions, its **decoder atoms**:

.. math::

    z = \\sigma(W_\\text{enc}(x - b_\\text{dec}) + b_\\text{enc}), \\qquad
    \\hat x = z^\\top D + b_\\text{dec},

where ``D`` has one atom per row (``(n_latents, n_inputs)``, the package's basis convention) and
``sigma`` is a ReLU (``kind="relu"``, sparsity from an L1 penalty on ``z``) or keeps the ``k``
largest pre-activations and applies a ReLU to them (``kind="topk"``, sparsity by construction).
With more atoms than dimensions the atoms form an overcomplete basis, which
:func:`srmlib.spotlight_resonance` accepts directly.

Chapter 5 ("Disentangling superposition with sparse autoencoders") explains and uses everything
here: :class:`SparseAutoencoder`, :func:`train_sae` (seeded, batched, with a hand-written
backward pass that the tests check against autograd), :func:`evaluate_sae` (L0, fraction of
variance unexplained, dead latents), :func:`match_features` (Hungarian matching of atoms to
known features) and :func:`matching_null` (the matching scores of random dictionaries, the
chance level a trained SAE's score is compared with).

References
----------
Bricken et al. (2023), *Towards Monosemanticity*, transformer-circuits.pub (ReLU SAE, L1 penalty,
unit-norm decoder, resampling of dead latents). Gao et al. (2024), *Scaling and evaluating
sparse autoencoders*, arXiv:2406.04093 (TopK SAE, auxiliary loss for dead latents).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn
from tqdm.auto import tqdm

from ._threads import blas_threads, torch_threads
from ._random import stream, torch_seed
from ._validation import (
    as_float_tensor, check_bool, check_choice, check_int, check_real, check_real_in,
)

__all__ = [
    "FeatureMatch",
    "MatchingNull",
    "SAEEvaluation",
    "SAETrainingLog",
    "SparseAutoencoder",
    "evaluate_sae",
    "match_features",
    "matching_null",
    "train_sae",
]

KINDS = ("relu", "topk")
DECODER_NORMS = ("unit", "penalty")


class SparseAutoencoder(nn.Module):
    """A one-layer sparse autoencoder with ``n_latents`` latents on ``n_inputs``-dim activations.

    Parameters
    ----------
    n_inputs : int
        Dimension of the activations.
    n_latents : int
        Number of latents (decoder atoms); more than ``n_inputs`` for an overcomplete dictionary.
    kind : {"relu", "topk"}
        ``"relu"``: ``z = relu(pre)``, trained with an L1 penalty. ``"topk"``: the ``k`` largest
        pre-activations of each input are selected and passed through a ReLU, every other latent
        is 0 (so at most ``k`` latents are non-zero, exactly ``k`` when the ``k``-th largest
        pre-activation is positive).
    k : int, optional
        Latents kept by a TopK SAE (required for ``kind="topk"``, not allowed otherwise).
    decoder_norm : {"unit", "penalty"}
        ``"unit"``: the decoder atoms are renormalised to unit length after every training step
        (and the L1 penalty is ``sum |z_i|``). ``"penalty"``: atoms are free and a ReLU SAE's
        penalty is ``sum |z_i| |d_i|``, which makes scaling an atom up and its latent down
        useless. (A TopK SAE has no penalty; ``"penalty"`` just leaves its atoms free.)
    seed : int
        Seed of the initial weights (the global torch generator is left untouched).

    Notes
    -----
    Initialisation: random unit atoms, the encoder their transpose (``W_enc = D^T``), zero
    biases; :func:`train_sae` sets ``b_dec`` to the data's mean before training (``centre``).

    Examples
    --------
    >>> sae = SparseAutoencoder(4, 8, kind="topk", k=2, seed=0)
    >>> x = torch.randn(5, 4)
    >>> torch.equal(sae(x), sae.decode(sae.encode(x)))
    True
    """

    def __init__(self, n_inputs: int, n_latents: int, *, kind: str = "relu", k: int | None = None,
                 decoder_norm: str = "unit", seed: int = 0):
        super().__init__()
        self.n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
        self.n_latents = check_int(n_latents, "n_latents", minimum=1)
        self.kind = check_choice(kind, "kind", KINDS)
        self.decoder_norm = check_choice(decoder_norm, "decoder_norm", DECODER_NORMS)
        if self.kind == "topk":
            if k is None:
                raise ValueError("k is required for a TopK SAE (kind='topk')")
            self.k = check_int(k, "k", minimum=1)
            if self.k > self.n_latents:
                raise ValueError(f"k must be at most n_latents={self.n_latents}, got {self.k}")
        else:
            if k is not None:
                raise ValueError("k is only used by a TopK SAE (kind='topk'); got k for a ReLU SAE")
            self.k = None
        seed = check_int(seed, "seed", minimum=0)
        generator = torch.Generator().manual_seed(torch_seed(seed, "sae.init"))
        atoms = torch.randn(self.n_latents, self.n_inputs, generator=generator)
        atoms /= atoms.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(atoms)
        self.W_enc = nn.Parameter(atoms.T.clone())
        self.b_enc = nn.Parameter(torch.zeros(self.n_latents))
        self.b_dec = nn.Parameter(torch.zeros(self.n_inputs))

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """``W_enc (x - b_dec) + b_enc``, shape ``(batch, n_latents)``."""
        return (x - self.b_dec) @ self.W_enc + self.b_enc

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latents ``z`` of shape ``(batch, n_latents)``, non-negative and sparse."""
        return self._activate(self.pre_activations(x))

    def _activate(self, pre: torch.Tensor) -> torch.Tensor:
        if self.kind == "relu":
            return torch.relu(pre)
        values, index = pre.topk(self.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, index, torch.relu(values))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``z D + b_dec`` of shape ``(batch, n_inputs)``."""
        return z @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        """Scale every atom (row of ``W_dec``) to unit length."""
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @property
    def atoms(self) -> np.ndarray:
        """The decoder atoms as unit vectors, a numpy basis of shape ``(n_latents, n_inputs)``."""
        atoms = self.W_dec.detach().cpu().double().numpy()
        return atoms / np.maximum(np.linalg.norm(atoms, axis=1, keepdims=True), 1e-12)

    def extra_repr(self) -> str:
        k = f", k={self.k}" if self.k is not None else ""
        return (f"n_inputs={self.n_inputs}, n_latents={self.n_latents}, kind={self.kind!r}{k}, "
                f"decoder_norm={self.decoder_norm!r}")


@dataclass(frozen=True)
class SAETrainingLog:
    """What :func:`train_sae` did, one entry per logged step.

    Attributes
    ----------
    steps : ndarray of int
        Training steps at which the values were logged (every ``log_every`` steps).
    mse : ndarray
        Mean squared reconstruction error per input (summed over dimensions) on the batch.
    sparsity : ndarray
        The L1 penalty term (ReLU SAE) or the auxiliary loss (TopK SAE), before its coefficient.
    l0 : ndarray
        Mean number of non-zero latents per input on the batch.
    n_dead : ndarray of int
        Latents that had not fired for ``dead_steps`` steps.
    n_resampled : int
        Latents resampled in all (0 unless ``resample_every`` is set).
    """

    steps: np.ndarray
    mse: np.ndarray
    sparsity: np.ndarray
    l0: np.ndarray
    n_dead: np.ndarray
    n_resampled: int


def train_sae(
    sae: SparseAutoencoder,
    activations,
    *,
    steps: int = 3000,
    batch_size: int = 256,
    lr: float = 3e-3,
    l1_coefficient: float = 0.01,
    aux_coefficient: float = 1 / 32,
    aux_k: int | None = None,
    dead_steps: int = 200,
    resample_every: int | None = None,
    log_every: int = 50,
    centre: bool = True,
    seed: int = 0,
    progress: bool | None = None,
    num_threads: int | None = 1,
) -> SAETrainingLog:
    """Train ``sae`` in place on ``activations`` with Adam on seeded random minibatches.

    Loss per input: ``|x - x_hat|^2`` plus, for a ReLU SAE, ``l1_coefficient * sum_i |z_i| w_i``
    with ``w_i = 1`` (``decoder_norm="unit"``) or ``w_i = |d_i|`` (``"penalty"``); for a TopK SAE,
    ``aux_coefficient`` times the **auxiliary loss** of Gao et al. (2024): the dead latents'
    ``aux_k`` largest pre-activations (ReLU) must reconstruct the residual ``x - x_hat`` through
    their atoms, which gives dead latents a gradient towards what the live ones miss. A latent is
    dead when it has not fired on any input of the last ``dead_steps`` batches.
    With ``decoder_norm="unit"`` the atoms are renormalised after every step.

    ``resample_every`` (either kind) reinitialises, every that many steps, the latents dead at that
    moment (Bricken et al., 2023): each gets the direction of an input drawn with probability
    proportional to its squared reconstruction error, as its atom and (scaled to the mean norm
    of the live encoder rows) as its encoder row, a zero encoder bias and fresh Adam state.

    Parameters
    ----------
    sae : SparseAutoencoder
        Trained in place (``b_dec`` is first set to the data's mean, see ``centre``).
    activations : array_like or torch.Tensor, shape (n_samples, n_inputs)
        Training data.
    steps, batch_size : int
        Optimiser steps, and inputs per step (drawn with replacement by a seeded
        ``torch.Generator``, so the same SAE, data and seed give the same weights).
    lr : float
        Adam's learning rate.
    l1_coefficient : float
        Weight of the L1 penalty (ReLU SAE); larger is sparser. Activations on a different scale
        need a different coefficient: the penalty grows with ``|x|``, the error with ``|x|^2``.
    aux_coefficient : float
        Weight of the auxiliary loss (TopK SAE); 0 turns it off.
    aux_k : int, optional
        Dead latents used by the auxiliary loss; default ``min(2 k, n_latents)``.
    dead_steps : int
        Batches without firing after which a latent counts as dead.
    resample_every : int, optional
        Resample dead latents every this many steps (not in the last ``dead_steps`` steps).
    log_every : int
        Log the losses every this many steps.
    centre : bool
        Set ``b_dec`` to the mean of ``activations`` before training (the usual start); with
        ``False`` it keeps its value (0 for a fresh SAE), which suits data that are sparse
        non-negative combinations of directions, whose best ``b_dec`` is 0.
    seed : int
        Seed of the minibatches and of the resampling (a stream of their own, independent of
        the SAE's initial atoms even when they were drawn with the same seed).
    progress : bool, optional
        Show a progress bar; by default for 5,000 steps or more.
    num_threads : int or None
        Torch's intra-op threads and numpy's BLAS threads while training (restored
        afterwards); 1 is fastest for small SAEs. ``None`` keeps both settings. (The loop runs in numpy on views of the
        parameters, with the gradients written out by hand; torch draws the minibatches.)

    Returns
    -------
    SAETrainingLog
    """
    if not isinstance(sae, SparseAutoencoder):
        raise TypeError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    steps = check_int(steps, "steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_real_in(lr, "lr", 0, low_open=True)
    l1_coefficient = check_real_in(l1_coefficient, "l1_coefficient", 0)
    aux_coefficient = check_real_in(aux_coefficient, "aux_coefficient", 0)
    if aux_k is None:
        aux_k = min(2 * sae.k, sae.n_latents) if sae.k is not None else 0
    else:
        aux_k = check_int(aux_k, "aux_k", minimum=1)
        if aux_k > sae.n_latents:
            raise ValueError(f"aux_k must be at most n_latents={sae.n_latents}, got {aux_k}")
    dead_steps = check_int(dead_steps, "dead_steps", minimum=1)
    if resample_every is not None:
        resample_every = check_int(resample_every, "resample_every", minimum=1)
    log_every = check_int(log_every, "log_every", minimum=1)
    centre = check_bool(centre, "centre")
    seed = check_int(seed, "seed", minimum=0)
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    x = _as_activations(activations, sae)
    show = steps >= 5000 if progress is None else bool(progress)
    with torch_threads(num_threads), blas_threads(num_threads):
        return _train(sae, x, steps, batch_size, lr, l1_coefficient, aux_coefficient, aux_k,
                      dead_steps, resample_every, log_every, centre, seed, show)


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
        The SAE (not modified).
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
    """
    if not isinstance(sae, SparseAutoencoder):
        raise TypeError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    x = _as_activations(activations, sae)
    fires = torch.zeros(sae.n_latents, dtype=torch.float64)
    active, squared_error = [], []
    for start in range(0, len(x), batch_size):
        batch = x[start: start + batch_size]
        z = sae.encode(batch)
        nonzero = z != 0
        fires += nonzero.sum(dim=0, dtype=torch.float64)
        active.append(nonzero.sum(dim=1))
        squared_error.append(((batch - sae.decode(z)) ** 2).double().sum(dim=1))
    active = torch.cat(active).numpy()
    squared_error = torch.cat(squared_error).numpy()
    x64 = x.double()
    variance = float(((x64 - x64.mean(dim=0)) ** 2).sum())
    firing_rate = (fires / len(x)).numpy()
    dead = firing_rate == 0
    match = None if true_features is None else match_features(sae.atoms, true_features,
                                                              threshold=threshold)
    fvu = float(squared_error.sum()) / variance if variance > 0 else float("nan")
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


# --------------------------------------------------------------------------- internals


_PARAMETERS = ("W_dec", "W_enc", "b_enc", "b_dec")  # the order of sae.parameters()


def _train(sae, x, steps, batch_size, lr, l1_coefficient, aux_coefficient, aux_k, dead_steps,
           resample_every, log_every, centre, seed, show) -> SAETrainingLog:
    generator = torch.Generator().manual_seed(torch_seed(seed, "sae.training"))
    with torch.no_grad():
        if centre:
            sae.b_dec.copy_(x.mean(dim=0))
        if sae.decoder_norm == "unit":
            sae.normalise_decoder()
    # The loop runs in numpy on views of the parameters (numpy's per-operation overhead is a
    # fraction of torch's, and these arrays are tiny); updates in place reach the torch module.
    params = [getattr(sae, name).detach().numpy() for name in _PARAMETERS]
    W_dec = params[0]
    data = x.detach().numpy()
    optimiser = _Adam(params, lr=lr)
    since_fired = np.zeros(sae.n_latents, dtype=np.int64)
    logged: dict[str, list] = {"steps": [], "mse": [], "sparsity": [], "l0": [], "n_dead": []}
    n_resampled = 0
    sae.train()
    for step in tqdm(range(1, steps + 1), desc="training SAE", unit="step", disable=not show):
        batch = data[torch.randint(len(data), (batch_size,), generator=generator).numpy()]
        forward = _forward(sae, params, batch)
        z = forward[2]
        since_fired += 1
        since_fired[z.any(axis=0)] = 0
        dead = since_fired >= dead_steps
        mse, sparsity, grads = _backward(sae, params, forward, dead, l1_coefficient,
                                         aux_coefficient, aux_k)
        optimiser.step(grads)
        if sae.decoder_norm == "unit":
            np.divide(W_dec, np.maximum(np.linalg.norm(W_dec, axis=1, keepdims=True), 1e-12),
                      out=W_dec)
        if (resample_every is not None and step % resample_every == 0
                and step <= steps - dead_steps and dead.any()):
            n_resampled += _resample(sae, x, torch.from_numpy(dead), optimiser, generator)
            since_fired[dead] = 0
        if step % log_every == 0 or step == steps:
            logged["steps"].append(step)
            logged["mse"].append(float(mse))
            logged["sparsity"].append(float(sparsity))
            logged["l0"].append(np.count_nonzero(z) / len(z))
            logged["n_dead"].append(int(dead.sum()))
    sae.eval()
    return SAETrainingLog(steps=np.array(logged["steps"]), mse=np.array(logged["mse"]),
                          sparsity=np.array(logged["sparsity"]), l0=np.array(logged["l0"]),
                          n_dead=np.array(logged["n_dead"]), n_resampled=n_resampled)


def _forward(sae, params, x):
    """``(x - b_dec, pre-activations, latents z, residual x - x_hat)`` of the numpy batch ``x``,
    with ``params`` the numpy arrays of ``_PARAMETERS``: :meth:`SparseAutoencoder.forward`."""
    W_dec, W_enc, b_enc, b_dec = params
    centred = x - b_dec
    pre = centred @ W_enc
    pre += b_enc
    if sae.kind == "relu":
        z = np.maximum(pre, 0)
    else:
        z = np.zeros_like(pre)
        index = _top(pre, sae.k)
        np.put_along_axis(z, index, np.maximum(np.take_along_axis(pre, index, axis=1), 0), axis=1)
    residual = z @ W_dec
    residual += b_dec
    np.subtract(x, residual, out=residual)
    return centred, pre, z, residual


def _top(values, k):
    """Column indices of the ``k`` largest entries of each row, shape ``(n_rows, k)``."""
    if k == 1:
        return values.argmax(axis=1)[:, None]
    return np.argpartition(values, -k, axis=1)[:, -k:]


def _backward(sae, params, forward, dead, l1_coefficient, aux_coefficient, aux_k):
    """Gradient of :func:`train_sae`'s loss on one batch, by hand, in numpy.

    ``forward`` is :func:`_forward`'s output and ``dead`` (bool, ``(n_latents,)``) the latents
    counted dead. Returns the mean squared error, the sparsity term (L1 penalty or auxiliary
    loss, before its coefficient) and the gradients of the ``_PARAMETERS``, in that order. The
    tests check it against autograd.
    """
    W_dec, W_enc, _, _ = params
    centred, pre, z, residual = forward
    n = len(z)
    mse = np.vdot(residual, residual) / n
    d_out = residual * (-2.0 / n)  # d loss / d x_hat
    grad_dec = z.T @ d_out
    d_pre = d_out @ W_dec.T  # d loss / d z, then d loss / d pre-activations
    if sae.kind == "relu":
        if sae.decoder_norm == "penalty":
            norms = np.linalg.norm(W_dec, axis=1)
            totals = z.sum(axis=0)
            sparsity = totals @ norms / n
            d_pre += (l1_coefficient / n) * norms
            grad_dec += ((l1_coefficient / n) * totals / np.maximum(norms, 1e-12))[:, None] * W_dec
        else:
            sparsity = z.sum() / n
            d_pre += l1_coefficient / n
        d_pre *= z > 0
    else:
        d_pre *= z > 0
        sparsity = _aux_loss_and_gradients(pre, residual, dead, aux_k, W_dec, aux_coefficient,
                                           grad_dec, d_pre)
    grad_b_enc = d_pre.sum(axis=0)
    return mse, sparsity, [grad_dec, centred.T @ d_pre, grad_b_enc,
                           d_out.sum(axis=0) - W_enc @ grad_b_enc]


def _aux_loss_and_gradients(pre, residual, dead, aux_k, W_dec, coefficient, grad_dec,
                            d_pre) -> float:
    """Gao et al.'s auxiliary loss: the dead latents' ``aux_k`` largest pre-activations (ReLU)
    reconstruct the residual ``x - x_hat`` (held fixed), relative to ``|residual|^2``; 0 if no
    latent is dead. Adds ``coefficient`` times its gradient to ``grad_dec`` and ``d_pre``."""
    n_dead = int(dead.sum())
    if n_dead == 0 or aux_k == 0:
        return 0.0
    n = len(pre)
    if aux_k >= n_dead:  # every dead latent takes part: no need to rank them
        z_aux = np.where(dead, np.maximum(pre, 0), 0).astype(pre.dtype, copy=False)
    else:
        index = _top(np.where(dead, pre, -np.inf), aux_k)
        z_aux = np.zeros_like(pre)
        np.put_along_axis(z_aux, index, np.maximum(np.take_along_axis(pre, index, axis=1), 0),
                          axis=1)
    scale = max(np.vdot(residual, residual) / n, 1e-12)
    error = residual - z_aux @ W_dec
    d_aux_out = error * (-2.0 * coefficient / (n * scale))
    grad_dec += z_aux.T @ d_aux_out
    d_pre += (d_aux_out @ W_dec.T) * (z_aux > 0)
    return np.vdot(error, error) / n / scale


class _Adam:
    """Adam on numpy arrays, updated in place, as ``torch.optim.Adam`` computes it (the tests
    check it against torch). ``state[i]`` holds ``"exp_avg"`` and ``"exp_avg_sq"`` of array
    ``i``."""

    def __init__(self, params, *, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = list(params), lr, betas, eps
        self.steps = 0
        self.state = [{"exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
                      for p in self.params]

    def step(self, grads) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = self.lr / (1 - beta1 ** self.steps)
        root_correction = (1 - beta2 ** self.steps) ** 0.5
        for p, g, state in zip(self.params, grads, self.state):
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m += (1 - beta1) * (g - m)
            v *= beta2
            v += (1 - beta2) * g * g
            p -= step_size * m / (np.sqrt(v) / root_correction + self.eps)


@torch.no_grad()
def _resample(sae, x, dead, optimiser, generator) -> int:
    """Point dead latents at inputs the SAE reconstructs badly; reset their Adam state."""
    sample = x[torch.randint(len(x), (min(len(x), 4096),), generator=generator)]
    errors = ((sample - sae(sample)) ** 2).sum(dim=1)
    if float(errors.sum()) <= 0:
        return 0
    index = torch.nonzero(dead).flatten()
    chosen = torch.multinomial(errors ** 2, len(index), replacement=True, generator=generator)
    directions = sample[chosen] - sae.b_dec
    directions /= directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    alive = ~dead
    scale = float(sae.W_enc[:, alive].norm(dim=0).mean()) if bool(alive.any()) else 1.0
    sae.W_dec[index] = directions
    sae.W_enc[:, index] = scale * directions.T
    sae.b_enc[index] = 0.0
    index = index.numpy()
    for state, rows in zip(optimiser.state, ((index,), (slice(None), index), (index,))):
        for moment in state.values():  # the W_dec, W_enc and b_enc entries of _PARAMETERS
            moment[rows] = 0.0
    return len(index)


def _as_activations(activations, sae: SparseAutoencoder) -> torch.Tensor:
    x = as_float_tensor(activations, "activations", ndim=2)
    if x.shape[1] != sae.n_inputs:
        raise ValueError(f"activations must have {sae.n_inputs} columns (the SAE's n_inputs), "
                         f"got shape {tuple(x.shape)}")
    return x.to(sae.W_dec.dtype)


def _unit_rows(vectors, name: str) -> np.ndarray:
    v = as_float_tensor(vectors, name, ndim=2).cpu().double().numpy()
    lengths = np.linalg.norm(v, axis=1, keepdims=True)
    if np.any(lengths == 0):
        raise ValueError(f"{name} has zero rows: {np.flatnonzero(lengths == 0).tolist()}")
    return v / lengths


