"""Toy models of superposition (Elhage et al., 2022), many instances trained at once.

Chapter 4 ("Toy models of superposition", section "The model") writes out the forward pass and
the loss that :class:`ToyModel` computes, checks on the same weights that both agree, and
explains every analysis here.

The model: ``n_features`` sparse features ``x`` in ``[0, 1]`` (each present with probability
``p``, then uniform), squeezed into ``n_hidden < n_features`` dimensions and read back::

    h  = W x                  (hidden_activation="linear")
    h  = ReLU(W x)            (hidden_activation="relu": the privileged-basis variant)
    x' = ReLU(W^T h + b)

trained to minimise the importance-weighted error ``mean_i I_i (x_i - x'_i)^2`` with
``I_i = importance_decay ** i`` (or importances given per feature, and per instance), by
autograd and ``torch.optim``'s AdamW (the paper's optimiser) or SGD with momentum (which is
rotation-equivariant: it cannot single out the neurons of a linear hidden layer). Column ``W_i``
(row ``i`` of :meth:`ToyModel.feature_directions`) is where feature ``i`` lives in the hidden
space: its **ground-truth feature direction**.

All ``n_instances`` models share one weight tensor ``W`` of shape
``(n_instances, n_hidden, n_features)``, and each can have its own feature probability, so a
sweep over sparsity is one training run. Instances never interact: the loss is a sum over
instances and both optimisers act elementwise, so each instance trains exactly as it would
alone. Each instance draws its initial weights and its data from its own generators, seeded by
:func:`instance_seeds`, so a batched run and runs of single instances with the same
per-instance seeds give the same weights. An instance's initial weights, training batches and
evaluation features come from three independent streams of its seed
(``srmlib._random.torch_seed`` keyed by purpose), so passing the same seed to the model, the
trainer and the evaluation never replays one draw in another. A model moved to a GPU
(``model.to("cuda")``) trains there, on batches drawn there by that device's generators
(seeded the same way: reproducible, but other numbers than the CPU's); evaluation features
(:func:`sample_features`, :meth:`ToyModel.hidden_activations`) always come from the CPU.

Analyses take an ``(n_features, n_hidden)`` array of feature directions (one feature per row, as
srmlib's bases, read through :func:`as_directions`): :func:`gram_matrix` (``W^T W``),
:func:`feature_norms`, :func:`interference`, :func:`feature_dimensionality`,
:func:`total_squared_norm` and, for two hidden dimensions, :func:`classify_arrangement`; for the
ReLU hidden layer, neuron by neuron, :func:`neuron_top_share` and :func:`classify_neurons`.

The phase diagram of two features in one hidden dimension (chapter 4, "The phase diagram") has
its theory here: :func:`two_feature_loss` (the expected loss, by quadrature),
:func:`two_feature_optimum` (its minimum, from the three configurations Elhage et al. compare)
and :func:`two_feature_phase` (the state of the extra feature); ``ToyConfig``'s
``feature_importance`` gives each instance its own importances, so the whole grid trains as one
model.

References
----------
Elhage, N. et al. (2022). *Toy Models of Superposition*. Transformer Circuits Thread.
https://transformer-circuits.pub/2022/toy_model/index.html
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.optim.adamw import adamw
from torch.optim.sgd import sgd
from tqdm.auto import tqdm

from ._random import torch_seed
from ._threads import torch_threads
from ._validation import (check_choice, check_int, check_optimiser, check_progress, check_real,
                          check_real_array, check_real_in, check_seed, diverged, rescaled,
                          times_power_of_two)

__all__ = [
    "NEURON_KINDS",
    "PHASES",
    "ToyConfig",
    "ToyModel",
    "ToyTrainingLog",
    "as_directions",
    "classify_arrangement",
    "classify_neurons",
    "feature_dimensionality",
    "feature_norms",
    "gram_matrix",
    "instance_seeds",
    "interference",
    "neuron_top_share",
    "sample_features",
    "total_squared_norm",
    "train_toy_model",
    "two_feature_loss",
    "two_feature_optimum",
    "two_feature_phase",
]

HIDDEN_ACTIVATIONS = ("linear", "relu")
CORRELATIONS = (None, "correlated", "anticorrelated")
LR_SCHEDULES = ("constant", "linear", "cosine")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class ToyConfig:
    """Shape and data of a batch of toy models.

    Parameters
    ----------
    n_features, n_hidden : int
        Features ``F`` and hidden dimensions ``H`` (superposition needs ``H < F``, but any
        sizes are allowed).
    n_instances : int
        Models trained side by side in one weight tensor.
    feature_probability : float or sequence of float
        Probability ``p`` that a feature is present (sparsity ``1 - p``), in ``(0, 1]``: one value
        for every instance, or one per instance (a sparsity sweep).
    importance_decay : float
        Importance of feature ``i`` is ``importance_decay ** i`` (1: all equally important).
    feature_importance : array_like, optional
        Importances given directly instead, positive: shape ``(n_features,)`` for every
        instance, or ``(n_instances, n_features)``, one row per instance (a sweep over relative
        importance, as chapter 4's phase diagram). ``importance_decay`` must then stay 1.
    hidden_activation : {"linear", "relu"}
        In any case (``"ReLU"`` is stored as ``"relu"``). ``"relu"`` puts a ReLU on the hidden layer, which privileges the neuron basis.
    correlation : {None, "correlated", "anticorrelated"}
        Pairs of features ``(0, 1), (2, 3), ...`` (``n_features`` must be even):
        ``"correlated"``: both present or both absent (the pair with probability ``p``);
        ``"anticorrelated"``: never together (the pair is active with probability ``2p``, then
        one of the two at random). Either way each feature is present with probability ``p``.

    Attributes
    ----------
    probabilities : ndarray, shape (n_instances,)
        The feature probability of each instance.
    importance : ndarray, shape (n_features,) or (n_instances, n_features)
        Feature importances: one row shared by every instance, or, when ``feature_importance``
        gives rows that differ, one row per instance.
    """

    n_features: int = 5
    n_hidden: int = 2
    n_instances: int = 8
    feature_probability: float | Sequence[float] = 0.1
    importance_decay: float = 1.0
    hidden_activation: str = "linear"
    correlation: str | None = None
    feature_importance: Sequence[float] | np.ndarray | None = field(default=None, repr=False,
                                                                     compare=False)
    probabilities: np.ndarray = field(init=False, repr=False, compare=False)
    importance: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_int(self.n_features, "n_features", minimum=1)
        check_int(self.n_hidden, "n_hidden", minimum=1)
        n = check_int(self.n_instances, "n_instances", minimum=1)
        p = self.feature_probability
        if isinstance(p, (str, bytes)) or isinstance(p, bool):
            raise TypeError(f"feature_probability must be a float or a sequence, got {p!r}")
        probs = check_real_array(p, "feature_probability")  # refuses strings and booleans
        if probs.ndim == 0:
            probs = np.full(n, float(probs))
        if probs.shape != (n,):
            raise ValueError(f"feature_probability must be a float or {n} values (one per "
                             f"instance), got shape {probs.shape}")
        if not np.all((probs > 0) & (probs <= 1)):
            raise ValueError(f"feature_probability must lie in (0, 1], got {probs}")
        decay = check_real(self.importance_decay, "importance_decay")
        if decay <= 0:
            raise ValueError(f"importance_decay must be positive, got {decay}")
        # Names are case-insensitive; the model compares the stored, lower-cased name.
        object.__setattr__(self, "hidden_activation", check_choice(
            self.hidden_activation, "hidden_activation", HIDDEN_ACTIVATIONS))
        if isinstance(self.correlation, str):
            object.__setattr__(self, "correlation", check_choice(
                self.correlation, "correlation", tuple(c for c in CORRELATIONS if c)))
        if self.correlation not in CORRELATIONS:
            raise ValueError(f"correlation must be one of {CORRELATIONS}, got "
                             f"{self.correlation!r}")
        if self.correlation is not None:
            if self.n_features % 2:
                raise ValueError(f"correlated features come in pairs: n_features must be even, "
                                 f"got {self.n_features}")
            if self.correlation == "anticorrelated" and np.any(probs > 0.5):
                raise ValueError("anticorrelated pairs need feature_probability <= 0.5")
        probs.setflags(write=False)
        importance = decay ** np.arange(self.n_features, dtype=np.float64)
        if self.feature_importance is not None:
            importance = self._given_importance(decay)
        importance.setflags(write=False)
        object.__setattr__(self, "probabilities", probs)
        object.__setattr__(self, "importance", importance)

    def _given_importance(self, decay: float) -> np.ndarray:
        """``feature_importance``, validated: ``(n_features,)``, or one row per instance."""
        if decay != 1.0:
            raise ValueError("give either importance_decay or feature_importance, not both "
                             f"(importance_decay={decay})")
        imp = check_real_array(self.feature_importance, "feature_importance")
        n, f = self.n_instances, self.n_features
        if imp.shape not in ((f,), (n, f)):
            raise ValueError(f"feature_importance must have shape ({f},) or ({n}, {f}), got "
                             f"{imp.shape}")
        if not np.all(imp > 0):
            raise ValueError("feature_importance must be positive")
        if imp.ndim == 2 and np.all(imp == imp[:1]):
            imp = imp[0]  # the same row for every instance
        return imp.copy()


def instance_seeds(seed, n_instances: int) -> list[int]:
    """Per-instance seeds: a sequence is used as given, an int ``s`` spawns ``n_instances``.

    Instance ``k`` of an int seed ``s`` gets ``SeedSequence([s, k])``'s first word, so instance
    ``k`` of a batched run can be reproduced alone with ``seed=[instance_seeds(s, n)[k]]``.
    """
    n_instances = check_int(n_instances, "n_instances", minimum=1)
    if isinstance(seed, (Sequence, np.ndarray)) and not isinstance(seed, (str, bytes)):
        seeds = [check_seed(s, "seed") for s in seed]
        if len(seeds) != n_instances:
            raise ValueError(f"seed must be an int or {n_instances} per-instance seeds, got "
                             f"{len(seeds)}")
        return seeds
    seed = check_seed(seed, "seed")
    return [int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
            for k in range(n_instances)]


def _generators(seed, n_instances: int, purpose: str) -> list[torch.Generator]:
    """One torch generator per instance for one purpose (``"init"``, ``"features"`` or
    ``"training"``): the initial weights, evaluation features and training batches of an
    instance never share draws, whatever seeds are passed to each."""
    return [_generator(s, purpose) for s in instance_seeds(seed, n_instances)]


def _generator(instance_seed: int, purpose: str, device=None) -> torch.Generator:
    return torch.Generator(device=device or "cpu").manual_seed(
        torch_seed(instance_seed, f"toy.{purpose}"))


def _sample_instance(config: ToyConfig, k: int, n: int, generator: torch.Generator,
                     dtype=torch.float32) -> torch.Tensor:
    """``(n, n_features)`` features of instance ``k``: present with probability p, U[0, 1]."""
    draws = torch.rand((2, n, config.n_features), generator=generator, dtype=dtype)
    return _features_from_draws(config, draws, float(config.probabilities[k]))


def _features_from_draws(config: ToyConfig, draws: torch.Tensor, p) -> torch.Tensor:
    """Features from uniform draws of shape ``(..., 2, n, n_features)``: values, then coins.

    ``p`` is a float or a tensor broadcasting against ``(..., n, n_features)``; the result has
    shape ``(..., n, n_features)``.
    """
    f = config.n_features
    values, coin = draws.unbind(dim=-3)
    if config.correlation is None:
        present = coin < p
    else:
        pairs = coin[..., : f // 2]
        if config.correlation == "correlated":
            present = (pairs < p).repeat_interleave(2, dim=-1)
        else:  # active pair (prob 2p), then the first or second by a second coin
            active = pairs < 2 * p
            first = coin[..., f // 2 :] < 0.5
            present = torch.stack([active & first, active & ~first], dim=-1).reshape(coin.shape)
    return values * present


def sample_features(config: ToyConfig, n_samples: int, seed=0) -> torch.Tensor:
    """Draw sparse features for every instance.

    Parameters
    ----------
    config : ToyConfig
    n_samples : int
    seed : int or sequence of int
        As in :func:`instance_seeds`: instance ``k`` draws from its own generator.

    Returns
    -------
    torch.Tensor, shape (n_samples, n_instances, n_features)
        float32; each feature is 0 with probability ``1 - p`` and uniform on ``[0, 1]`` otherwise.
    """
    _check_config(config)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    gens = _generators(seed, config.n_instances, "features")
    return torch.stack([_sample_instance(config, k, n_samples, g) for k, g in enumerate(gens)],
                       dim=1)


class ToyModel(nn.Module):
    """``n_instances`` toy models of superposition in one module (see the module docstring).

    Chapter 4 ("Toy models of superposition", section "The model") writes out the forward pass
    and the loss of one model, ``toy_forward`` and ``toy_loss``; this class computes the same
    for every instance at once, with one batched matrix product per layer (the chapter and the
    tests check that the two agree on the same weights).

    Parameters
    ----------
    config : ToyConfig
    seed : int or sequence of int
        Initial weights of instance ``k`` come from a generator seeded with
        ``instance_seeds(seed, n_instances)[k]``: ``W`` normal, ``b`` zero.
    init_std : float, optional
        Standard deviation of the initial ``W``. Default: Xavier-normal for one instance,
        ``sqrt(2 / (n_hidden + n_features))``. (The paper's notebook applies Xavier-normal to
        the whole ``(n_instances, n_features, n_hidden)`` tensor, which gives
        ``sqrt(2 / (n_hidden * (n_features + n_instances)))``; pass that to reproduce it.)

    Attributes
    ----------
    W : torch.nn.Parameter, shape (n_instances, n_hidden, n_features)
    b : torch.nn.Parameter, shape (n_instances, n_features)
    importance : torch.Tensor, shape (n_features,) or (n_instances, n_features)
        As ``config.importance``.
    """

    def __init__(self, config: ToyConfig, seed=0, *, init_std: float | None = None):
        super().__init__()
        self.config = _check_config(config)
        n, h, f = config.n_instances, config.n_hidden, config.n_features
        if init_std is None:
            std = (2.0 / (h + f)) ** 0.5
        else:
            std = check_real(init_std, "init_std")
            if not std > 0:
                raise ValueError(f"init_std must be positive, got {init_std}")
        weights = [torch.randn((h, f), generator=g) * std for g in _generators(seed, n, "init")]
        self.W = nn.Parameter(torch.stack(weights))
        self.b = nn.Parameter(torch.zeros(n, f))
        self.register_buffer("importance", torch.tensor(config.importance,
                                                           dtype=torch.float32))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """``h = W x`` of every instance (``ReLU(W x)`` for ``hidden_activation="relu"``).

        ``x`` has shape ``(batch, n_instances, n_features)``; returns
        ``(batch, n_instances, n_hidden)``.
        """
        return self._hidden(x.transpose(0, 1)).transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``x' = ReLU(W^T h + b)``, shape ``(batch, n_instances, n_features)``."""
        return self._reconstruct(x.transpose(0, 1)).transpose(0, 1)

    def loss_per_instance(self, x: torch.Tensor) -> torch.Tensor:
        """``mean over batch and features of I_i (x_i - x'_i)^2``, shape ``(n_instances,)``."""
        x = x.transpose(0, 1)  # (instance, batch, feature)
        weights = self.importance if self.importance.ndim == 1 else self.importance[:, None]
        return (weights * (x - self._reconstruct(x)) ** 2).mean(dim=(1, 2))

    # The computations on (instance, batch, feature) tensors: per instance, chapter 4's
    # ``h = x @ W.T`` and ``ReLU(h @ W + b)`` (one sample per row), as one batched matrix
    # product per layer; every elementwise step, forward and backward, sees tensors of one
    # layout (a batch-first layout here costs autograd extra copies).
    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.bmm(x, self.W.transpose(1, 2))  # (instance, batch, hidden)
        return torch.relu(h) if self.config.hidden_activation == "relu" else h

    def _reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.baddbmm(self.b.unsqueeze(1), self._hidden(x), self.W)  # b + h @ W
        return torch.relu(out)  # (instance, batch, feature)

    def feature_directions(self, instance: int) -> np.ndarray:
        """Row ``i`` is column ``W_i`` of instance ``instance``: shape ``(n_features, n_hidden)``."""
        k = self._instance(instance)
        return self.W[k].detach().T.cpu().numpy().astype(np.float64)

    def hidden_activations(self, instance: int, n_samples: int,
                           seed=0) -> tuple[np.ndarray, np.ndarray]:
        """Hidden activations of one instance on fresh features.

        The features are ``sample_features(config, n_samples, seed)[:, instance]``. Samples with
        no feature present have ``h = 0`` (no direction; SRM leaves them out with a warning, so
        drop them with ``features.any(axis=1)`` first).

        Returns
        -------
        activations : ndarray, shape (n_samples, n_hidden)
        features : ndarray, shape (n_samples, n_features)
        """
        k = self._instance(instance)
        n_samples = check_int(n_samples, "n_samples", minimum=1)
        gen = _generator(instance_seeds(seed, self.config.n_instances)[k], "features")
        x = _sample_instance(self.config, k, n_samples, gen)
        with torch.no_grad():
            h = x.to(self.W.device) @ self.W[k].T  # h = W x, one sample per row
            if self.config.hidden_activation == "relu":
                h = torch.relu(h)
        return h.cpu().numpy().astype(np.float64), x.numpy().astype(np.float64)

    def _instance(self, instance) -> int:
        k = check_int(instance, "instance", minimum=0)
        if k >= self.config.n_instances:
            raise ValueError(f"instance must be below n_instances={self.config.n_instances}, "
                             f"got {k}")
        return k


@dataclass(frozen=True)
class ToyTrainingLog:
    """Losses of :func:`train_toy_model`.

    Attributes
    ----------
    steps : ndarray of int, shape (n_logged,)
        Steps at which the loss was recorded (after that step's update).
    losses : ndarray, shape (n_logged, n_instances)
        Each instance's loss on that step's batch.
    """

    steps: np.ndarray
    losses: np.ndarray

    @property
    def final_loss(self) -> np.ndarray:
        """Last recorded loss of each instance, shape ``(n_instances,)``."""
        return self.losses[-1]


def train_toy_model(
    model: ToyModel,
    *,
    steps: int = 5_000,
    batch_size: int = 1_024,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed=0,
    progress: bool | None = None,
    log_every: int | None = None,
    num_threads: int | None = 1,
    lr_schedule: str = "constant",
    optimizer: str = "adam",
    momentum: float = 0.9,
) -> ToyTrainingLog:
    """Train every instance of a toy model in place with AdamW (or SGD) on fresh batches.

    Each step draws a new batch of ``batch_size`` feature vectors per instance (instance ``k``
    from its own generator, seeded as in :func:`instance_seeds`), computes the sum over
    instances of :meth:`ToyModel.loss_per_instance` (chapter 4 writes out this loss for one
    model), its gradient by autograd, and one ``torch.optim`` step. The instances are
    independent, so training ``N`` at once gives the weights each would reach alone with the
    same per-instance seeds. The model trains on its device (``model.to("cuda")`` for a GPU).

    Parameters
    ----------
    model : ToyModel
    steps, batch_size : int
        Optimiser steps, and samples per instance per step.
    lr, weight_decay : float
        The learning rate, and the weight decay: AdamW's decoupled decay (0: plain Adam), or
        SGD's L2 penalty added to the gradient (as ``torch.optim.SGD``).
    seed : int or sequence of int
        Seeds of the data (as in :func:`instance_seeds`); the weights' seeds were the model's.
    progress : bool, optional
        Show a progress bar over steps; by default for more than 2,000 steps.
    log_every : int, optional
        Record the losses every this many steps (default: ``steps // 100``, at least 1), and
        always at the last step.
    num_threads : int or None
        Torch threads while training (1 is fastest for models this small; ``None``: unchanged).
    lr_schedule : {"constant", "linear", "cosine"}
        The learning rate at step ``t`` (1 to ``steps``) is ``lr`` times 1, ``1 - (t - 1) / steps``
        or ``(1 + cos(pi (t - 1) / steps)) / 2``: a decay to 0 lets a short run settle.
    optimizer : {"adam", "sgd"}
        AdamW (``torch.optim.AdamW`` with its defaults but ``lr`` and ``weight_decay``, fused),
        or SGD with ``momentum`` (``torch.optim.SGD``, fused). Adam scales each weight's step by
        that weight's own gradient history, so it is not rotation-equivariant; SGD is: trained
        from a rotation-invariant initialisation on a rotation-invariant loss (the linear hidden
        layer), its hidden basis is one more random basis.
    momentum : float
        SGD's momentum, in ``[0, 1)`` (not used by Adam).

    Returns
    -------
    ToyTrainingLog
    """
    if not isinstance(model, ToyModel):
        raise TypeError(f"model must be a ToyModel, got {type(model).__name__}")
    steps = check_int(steps, "steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr, weight_decay = check_optimiser(lr, weight_decay)
    log_every = max(1, steps // 100) if log_every is None else check_int(
        log_every, "log_every", minimum=1)
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    lr_schedule = check_choice(lr_schedule, "lr_schedule", LR_SCHEDULES)
    optimizer = check_choice(optimizer, "optimizer", OPTIMIZERS)
    momentum = check_real(momentum, "momentum")
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
    config = model.config
    device = model.W.device
    # Instances with the same data seed train on the same batches: each distinct seed draws
    # once, and its batches are copied to its instances (the same numbers, drawn faster). The
    # batches are drawn where the model is (a GPU's own generators draw other numbers).
    seeds = instance_seeds(seed, config.n_instances)
    distinct = list(dict.fromkeys(seeds))
    gens = [_generator(s, "training", device) for s in distinct]
    owner = torch.tensor([distinct.index(s) for s in seeds], device=device)
    show = check_progress(progress, default=steps > 2_000)
    params = [model.W, model.b]
    optimiser = _TorchOptimiser(params, optimizer, weight_decay=weight_decay, momentum=momentum)
    n, f = config.n_instances, config.n_features
    probs = torch.tensor(config.probabilities, dtype=torch.float32, device=device)
    probs = probs.reshape(n, 1, 1, 1)
    # Each instance's generator draws, per step, exactly what _sample_instance would draw; a
    # block of steps is drawn at once (the same numbers, as torch.rand fills in order).
    block = max(1, min(steps, _DRAWS_PER_BLOCK // (2 * batch_size * f)))
    logged_steps, losses = [], []
    model.train()
    with torch_threads(num_threads), torch.enable_grad():
        bar = tqdm(total=steps, desc="training toy models", unit="step", disable=not show,
                   mininterval=0.5)
        step = 0
        while step < steps:
            m = min(block, steps - step)
            # (seed, step, 2, batch, feature)
            draws = torch.empty((len(gens), m, 2, batch_size, f), device=device)
            for k, g in enumerate(gens):
                draws[k].uniform_(generator=g)
            if len(gens) < n:
                draws = draws[owner]  # (instance, step, 2, batch, feature)
            xs = _features_from_draws(config, draws, probs)  # (instance, step, batch, feature)
            for j in range(m):
                loss = model.loss_per_instance(xs[:, j].transpose(0, 1))  # (batch, instance, f)
                # the sum over instances: each instance's weights get its own loss's gradient
                grads = torch.autograd.grad(loss.sum(), params)
                optimiser.step(grads, lr * _lr_factor(lr_schedule, step, steps))
                step += 1
                if step % log_every == 0 or step == steps:
                    logged_steps.append(step)
                    losses.append(loss.detach().cpu().numpy())
                    if not (np.isfinite(losses[-1]).all()
                            and all(bool(torch.isfinite(p).all()) for p in params)):
                        raise diverged(step, lr, "toy model training", "features")
            bar.update(m)
        bar.close()
    model.eval()
    return ToyTrainingLog(steps=np.array(logged_steps), losses=np.array(losses))


_DRAWS_PER_BLOCK = 1 << 17  # random numbers per instance drawn at once while training


class _TorchOptimiser:
    """``torch.optim.AdamW`` or ``torch.optim.SGD`` (fused kernels), for :func:`train_toy_model`.

    It keeps the state that the classes keep (AdamW's moments and step counts, SGD's momentum
    buffers) and steps through torch's documented functional forms, ``torch.optim.adamw.adamw``
    and ``torch.optim.sgd.sgd``: the functions the classes' ``step()`` calls, so the update is
    the same arithmetic (the tests check it against the classes). Why not the classes
    themselves: constructing any ``torch.optim.Optimizer`` imports ``torch._dynamo``
    (``Optimizer.add_param_group`` and ``step`` are wrapped for ``torch.compile``), about 1 s
    of CPU time, 3-4 s on a loaded machine, in every process that trains; the functional forms
    import nothing. ``grads`` come from ``torch.autograd.grad``, so nothing is kept in ``.grad``.
    """

    def __init__(self, params, optimizer: str, *, weight_decay: float, momentum: float):
        self.params = list(params)
        self.optimizer, self.weight_decay, self.momentum = optimizer, weight_decay, momentum
        if optimizer == "adam":
            self.exp_avgs = [torch.zeros_like(p) for p in self.params]
            self.exp_avg_sqs = [torch.zeros_like(p) for p in self.params]
            self.state_steps = [torch.zeros((), device=p.device) for p in self.params]
        else:
            self.momentum_buffers: list[torch.Tensor | None] = [None] * len(self.params)

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor], lr: float) -> None:
        """One update of every parameter from its gradient in ``grads``, at learning rate ``lr``."""
        if self.optimizer == "adam":  # torch.optim.AdamW(params, lr, weight_decay=..., fused=True)
            adamw(
                self.params, list(grads), self.exp_avgs, self.exp_avg_sqs, [], self.state_steps,
                fused=True, amsgrad=False, beta1=0.9, beta2=0.999, lr=lr,
                weight_decay=self.weight_decay, eps=1e-8, maximize=False)
        else:  # torch.optim.SGD(params, lr, momentum, weight_decay=..., fused=True)
            sgd(
                self.params, list(grads), self.momentum_buffers, fused=True,
                momentum=self.momentum, weight_decay=self.weight_decay, lr=lr, dampening=0.0,
                nesterov=False, maximize=False)


def _lr_factor(schedule: str, done: int, steps: int) -> float:
    """Multiplier of the learning rate after ``done`` of ``steps`` steps."""
    if schedule == "linear":
        return 1.0 - done / steps
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * done / steps))
    return 1.0


# --------------------------------------------------------------------------- analyses


def as_directions(directions) -> np.ndarray:
    """Feature directions as a validated float64 array, one feature per row.

    Every analysis here and the toy-model figures of :mod:`srmlib.plotting` read their
    ``directions`` argument through this function.

    Parameters
    ----------
    directions : array_like or torch.Tensor, shape (n_features, n_hidden)
        Row ``i`` is the direction ``W_i`` of feature ``i`` (:meth:`ToyModel.feature_directions`).

    Returns
    -------
    ndarray of float64, shape (n_features, n_hidden)

    Raises
    ------
    TypeError
        If ``directions`` is not an array of real numbers.
    ValueError
        If it is not a non-empty 2-D array, or holds NaN or infinite values.
    """
    if isinstance(directions, torch.Tensor):
        directions = directions.detach().cpu().numpy()
    if np.iscomplexobj(directions):  # numpy would drop the imaginary part with a warning
        raise TypeError("directions must be an array of real numbers, got complex values")
    try:
        d = np.asarray(directions, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("directions must be an array of real numbers") from None
    if d.ndim != 2 or d.size == 0:
        raise ValueError(f"directions must be a non-empty (n_features, n_hidden) array, got "
                         f"shape {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("directions contains NaN or infinite values")
    return d


def gram_matrix(directions) -> np.ndarray:
    """``W^T W``: entry ``(i, j)`` is ``W_i . W_j``, shape ``(n_features, n_features)``.

    The diagonal holds the squared norms; off-diagonal entries are the interference between
    features (0 for orthogonal features, ``-|W_i||W_j|`` for an antipodal pair).
    """
    d = as_directions(directions)
    return d @ d.T


def feature_norms(directions) -> np.ndarray:
    """``|W_i|``, shape ``(n_features,)``: about 1 for a represented feature, 0 for a dropped one."""
    return np.linalg.norm(as_directions(directions), axis=1)


def _unit(d: np.ndarray, tiny: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``(d * 2**-e, unit, ok, e)``: ``d`` times a power of two (exact; ``e = 0`` for ordinary
    magnitudes, see :func:`srmlib._validation.rescaled`), its rows as unit vectors, and which
    rows are longer than ``tiny``.

    Rescaled first, so that the squares of directions beyond about 1e154 or below 1e-154 neither
    overflow nor underflow; ``tiny`` still applies to the true lengths.
    """
    tiny = check_real_in(tiny, "tiny", 0)
    d, e = rescaled(d)
    norms = np.linalg.norm(d, axis=1)
    with np.errstate(over="ignore"):  # compared in the rescaled units: nothing underflows
        ok = norms > (tiny if e == 0 else times_power_of_two(np.float64(tiny), -e))
    ok &= norms > 0  # a row over 2**1074 times shorter than the longest is zero once rescaled
    safe = np.where(ok, norms, 1.0)
    return d, d / safe[:, None], ok, e


def interference(directions, *, tiny: float = 1e-12) -> np.ndarray:
    """How much of the other features feature ``i`` picks up: ``sum_{j != i} (W_i_hat . W_j)^2``.

    Shape ``(n_features,)``; 0 for a feature orthogonal to all the others (and for a feature of
    zero norm, which has no direction). It grows as the square of the directions' scale, at any
    scale; a ``ValueError`` where that exceeds the float64 range (directions beyond about 1e154).
    """
    original = as_directions(directions)
    d, unit, ok, e = _unit(original, tiny)
    overlap = (unit @ d.T) ** 2
    np.fill_diagonal(overlap, 0.0)
    result = np.where(ok, overlap.sum(axis=1), 0.0)
    if e == 0:
        return result
    with np.errstate(over="ignore"):
        result = times_power_of_two(result, 2 * e)  # it grows as the square of the scale
    if not np.all(np.isfinite(result)):
        raise ValueError("interference exceeds the float64 range: directions are too long "
                         f"(largest magnitude {np.abs(original).max():g}); rescale them")
    return result


def feature_dimensionality(directions, *, tiny: float = 1e-12) -> np.ndarray:
    """Fraction of a hidden dimension each feature gets: ``D_i = |W_i|^2 / sum_j (W_i_hat . W_j)^2``.

    The sum runs over all ``j``, ``i`` included, so ``D_i <= 1``: 1 for a feature with a dimension
    of its own, 1/2 for an antipodal pair, 2/3 for a triangle, 2/5 for a pentagon in a plane, 3/4
    for a tetrahedron in 3-D, 0 for a feature of norm 0 (Elhage et al., 2022, "Feature
    Dimensionality"). Summed over features it is at most ``n_hidden``.

    Parameters
    ----------
    directions : array_like, shape (n_features, n_hidden)
        Feature directions, one per row (:meth:`ToyModel.feature_directions`).
    tiny : float
        Norms at or below this count as zero.

    Returns
    -------
    ndarray, shape (n_features,)

    Examples
    --------
    >>> angles = 2 * np.pi * np.arange(5) / 5
    >>> feature_dimensionality(np.c_[np.cos(angles), np.sin(angles)]).round(3)
    array([0.4, 0.4, 0.4, 0.4, 0.4])
    """
    d, unit, ok, e = _unit(as_directions(directions), tiny)  # D does not depend on the scale
    denominator = ((unit @ d.T) ** 2).sum(axis=1)
    norms2 = (d**2).sum(axis=1)
    return np.where(ok, norms2 / np.where(ok, denominator, 1.0), 0.0)


def total_squared_norm(directions) -> float:
    """``sum_i |W_i|^2``: about the number of features represented; above ``n_hidden`` only in
    superposition (``n_hidden`` orthogonal unit features give exactly ``n_hidden``)."""
    return float((as_directions(directions) ** 2).sum())


def classify_arrangement(directions, *, threshold: float = 0.5, tolerance: float = 0.25) -> str:
    """Name the geometry of features in a 2-D hidden space.

    Features with ``|W_i| > threshold`` count as represented. The names:

    - ``"orthogonal pair"``: two represented features at right angles;
    - ``"antipodal pair"``: two represented, opposite;
    - ``"two antipodal pairs"``: four represented, in two opposite pairs;
    - ``"triangle"``, ``"square"``, ``"pentagon"``, ...: ``m >= 3`` represented features,
      evenly spaced (every angular gap within ``tolerance`` radians of ``2 pi / m``), except that
      four evenly spaced features are reported as ``"two antipodal pairs"``;
    - ``"k features, other"``: anything else (``"none"`` when nothing is represented).

    Parameters
    ----------
    directions : array_like, shape (n_features, 2)
    threshold : float
        Norm above which a feature counts as represented.
    tolerance : float
        Angular tolerance in radians.

    Returns
    -------
    str
    """
    d = as_directions(directions)
    if d.shape[1] != 2:
        raise ValueError(f"classify_arrangement needs a 2-D hidden space, got shape {d.shape}")
    kept = d[np.linalg.norm(d, axis=1) > threshold]
    m = len(kept)
    if m == 0:
        return "none"
    angles = np.sort(np.mod(np.arctan2(kept[:, 1], kept[:, 0]), 2 * np.pi))
    gaps = np.diff(np.append(angles, angles[0] + 2 * np.pi))
    if m == 2:
        gap = min(gaps)
        if abs(gap - np.pi / 2) < tolerance:
            return "orthogonal pair"
        if abs(gap - np.pi) < tolerance:
            return "antipodal pair"
    if m == 4:
        opposite = angles[2:] - angles[:2]
        if np.all(np.abs(opposite - np.pi) < tolerance):
            return "two antipodal pairs"
    if m >= 3 and np.all(np.abs(gaps - 2 * np.pi / m) < tolerance):
        names = {3: "triangle", 5: "pentagon", 6: "hexagon"}
        return names.get(m, f"{m}-gon")
    return f"{m} features, other"

# --------------------------------------------------------------------------- ReLU neurons

#: What :func:`classify_neurons` calls each neuron of a privileged (ReLU) hidden layer.
NEURON_KINDS = ("monosemantic", "polysemantic", "dead")


def neuron_top_share(directions, *, tiny: float = 1e-12) -> np.ndarray:
    """Each neuron's share of its largest positive weight, ``max_i (W_ji)_+^2 / sum_i (W_ji)_+^2``.

    In the privileged-basis model, ``h_j = ReLU(sum_i W_ji x_i)`` with non-negative features: a
    feature with a negative weight never drives neuron ``j`` (it can only hold it at zero), so
    only the positive weights say which features the neuron responds to. The share is 1 when
    one feature alone drives the neuron, ``1/k`` when ``k`` drive it equally, and 0 for a neuron
    that no feature drives (no positive weight: a dead neuron).

    Parameters
    ----------
    directions : array_like, shape (n_features, n_hidden)
        Feature directions, one feature per row (:meth:`ToyModel.feature_directions`), so
        column ``j`` holds neuron ``j``'s weights.
    tiny : float
        A neuron whose positive weights have squared norm at or below this gets share 0.

    Returns
    -------
    ndarray, shape (n_hidden,)
    """
    tiny = check_real_in(tiny, "tiny", 0)
    d, e = rescaled(as_directions(directions))  # exact; squares neither overflow nor underflow
    positive2 = np.maximum(d, 0.0) ** 2  # (feature, neuron)
    total = positive2.sum(axis=0)
    with np.errstate(over="ignore"):  # compared in the rescaled units: nothing underflows
        ok = total > (tiny if e == 0 else times_power_of_two(np.float64(tiny), -2 * e))
    ok &= total > 0
    return np.where(ok, positive2.max(axis=0) / np.where(ok, total, 1.0), 0.0)


def classify_neurons(directions, *, threshold: float = 0.9, dead_norm: float = 0.1) -> np.ndarray:
    """Name each neuron of a ReLU hidden layer monosemantic, polysemantic or dead.

    ``"dead"``: no positive weight reaches ``dead_norm`` (no feature drives the neuron);
    ``"monosemantic"``: one feature carries at least ``threshold`` of the squared norm of its
    positive weights (:func:`neuron_top_share`); ``"polysemantic"``: otherwise. With the default
    0.9, any second feature drives a monosemantic neuron at most ``sqrt(0.1 / 0.9) = 1/3`` as
    strongly as its main one.

    Parameters
    ----------
    directions : array_like, shape (n_features, n_hidden)
    threshold : float
        In ``(0.5, 1]``: more than half, so that one feature is the main one.
    dead_norm : float
        Non-negative.

    Returns
    -------
    ndarray of str, shape (n_hidden,)
        One of :data:`NEURON_KINDS` per neuron.
    """
    d = as_directions(directions)
    threshold = check_real(threshold, "threshold")
    if not 0.5 < threshold <= 1:
        raise ValueError(f"threshold must lie in (0.5, 1], got {threshold}")
    dead_norm = check_real(dead_norm, "dead_norm")
    if dead_norm < 0:
        raise ValueError(f"dead_norm must be non-negative, got {dead_norm}")
    share = neuron_top_share(d)
    dead = np.maximum(d, 0.0).max(axis=0) < dead_norm
    return np.where(dead, "dead", np.where(share >= threshold, "monosemantic", "polysemantic"))


# --------------------------------------------------------------------------- two features, one dim

#: The state of the second ("extra") feature of a model with two features in one dimension
#: (:func:`two_feature_phase`), as in the phase diagram of Elhage et al. (2022).
PHASES = ("not represented", "dedicated dimension", "superposition")


def two_feature_phase(w, *, threshold: float = 0.5) -> str:
    """The phase of the extra feature of a model with ``n_features=2, n_hidden=1``.

    Parameters
    ----------
    w : array_like, shape (2,)
        The weights ``(W_0, W_1)`` of the one hidden dimension (``model.W[k, 0]``); feature 1
        is the extra feature, whose importance relative to feature 0 is varied.
    threshold : float
        A weight of absolute value above it counts as represented (as the chapter's norms).

    Returns
    -------
    str
        ``"not represented"`` (``|W_1| <= threshold``), ``"dedicated dimension"`` (feature 1
        alone: ``|W_0| <= threshold < |W_1|``), ``"superposition"`` (both represented, with
        opposite signs: an antipodal pair), or ``"other"`` (both, with the same sign).
    """
    w = check_real_array(w, "w")
    if w.shape != (2,):
        raise ValueError(f"w must hold the two weights (W_0, W_1), got shape {w.shape}")
    threshold = check_real(threshold, "threshold")
    if abs(w[1]) <= threshold:
        return PHASES[0]
    if abs(w[0]) <= threshold:
        return PHASES[1]
    return PHASES[2] if w[0] * w[1] < 0 else "other"


def _two_feature_points(density: float, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature of the two-feature input distribution: points ``(k, 2)`` and weights ``(k,)``.

    Exact over which features are present (probabilities ``(1 - p)^2``, ``p (1 - p)`` twice,
    ``p^2``), the midpoint rule with ``resolution`` points per uniform value.
    """
    u = (np.arange(resolution) + 0.5) / resolution
    zero = np.zeros_like(u)
    grid = np.stack(np.meshgrid(u, u, indexing="ij"), axis=-1).reshape(-1, 2)
    points = np.concatenate([np.zeros((1, 2)), np.c_[u, zero], np.c_[zero, u], grid])
    q = 1.0 - density
    weights = np.concatenate([[q * q], np.full(2 * resolution, density * q / resolution),
                              np.full(resolution**2, density**2 / resolution**2)])
    return points, weights


def _two_feature_loss_and_grad(params: np.ndarray, points: np.ndarray, weights: np.ndarray,
                               importance: np.ndarray) -> tuple[float, np.ndarray]:
    """Expected loss (mean over the two features) and its gradient in ``(w0, w1, b0, b1)``."""
    w, b = params[:2], params[2:]
    h = points @ w  # (k,): h = W x
    z = h[:, None] * w + b  # (k, 2): W^T h + b
    err = points - np.maximum(z, 0.0)
    loss = 0.5 * float(weights @ (err**2 @ importance))
    dz = -(err * (z > 0)) * importance * weights[:, None]  # d loss / d z, (k, 2)
    grad_w = (dz * h[:, None]).sum(axis=0) + points.T @ (dz @ w)  # via z = h w and h = x . w
    return loss, np.concatenate([grad_w, dz.sum(axis=0)])


def _check_two_feature_cell(density, relative_importance, resolution) -> tuple[float, float, int]:
    p = check_real(density, "density")
    if not 0 < p <= 1:
        raise ValueError(f"density must lie in (0, 1], got {p}")
    r = check_real(relative_importance, "relative_importance")
    if not r > 0:
        raise ValueError(f"relative_importance must be positive, got {r}")
    return p, r, check_int(resolution, "resolution", minimum=2)


def two_feature_loss(w, b, density: float, relative_importance: float, *,
                     resolution: int = 32) -> float:
    """Expected loss of one model with two features in one hidden dimension.

    The loss :meth:`ToyModel.loss_per_instance` estimates on a batch, computed from the input
    distribution instead: ``E[(I_0 (x_0 - x'_0)^2 + I_1 (x_1 - x'_1)^2) / 2]`` with importances
    ``(1, relative_importance)``, each feature present with probability ``density`` and then
    uniform on ``[0, 1]``. Exact over which features are present, the midpoint rule over their
    values (error of order ``1 / resolution**2``).

    Parameters
    ----------
    w, b : array_like, shape (2,)
        The weights ``W[0]`` (the one hidden dimension) and the bias.
    density : float
        ``p = 1 - S``, in ``(0, 1]``.
    relative_importance : float
        Importance of feature 1 relative to feature 0, positive.
    resolution : int
        Quadrature points per uniform value.

    Returns
    -------
    float
    """
    p, r, resolution = _check_two_feature_cell(density, relative_importance, resolution)
    params = np.concatenate([check_real_array(w, "w").reshape(-1),
                             check_real_array(b, "b").reshape(-1)])
    if params.shape != (4,):
        raise ValueError("w and b must each hold two numbers")
    points, weights = _two_feature_points(p, resolution)
    return _two_feature_loss_and_grad(params, points, weights, np.array([1.0, r]))[0]


def two_feature_optimum(density: float, relative_importance: float, *,
                        resolution: int = 32) -> tuple[np.ndarray, np.ndarray, float]:
    """The theory behind the phase diagram: the best model with two features in one dimension.

    Compares the three configurations Elhage et al. (2022) compare and returns the one with the
    lowest :func:`two_feature_loss`: the extra feature not represented, ``W = (1, 0)``, and
    given the dimension, ``W = (0, 1)``, each with the bias that is optimal for it (the dropped
    feature's mean, ``p / 2``: both are stationary points of the loss, so optimising from them
    would not move), and the local minimum that L-BFGS reaches over ``(W_0, W_1, b_0, b_1)``
    from an antipodal pair, ``W = (1, -1)``, ``b = 0``. Its
    :func:`two_feature_phase` is the theoretical phase of that cell; chapter 4 ("The phase
    diagram") compares it with trained models.

    Parameters
    ----------
    density, relative_importance, resolution
        As in :func:`two_feature_loss`.

    Returns
    -------
    w : ndarray, shape (2,)
    b : ndarray, shape (2,)
    loss : float
    """
    from scipy.optimize import minimize  # scipy is imported on first use only

    p, r, resolution = _check_two_feature_cell(density, relative_importance, resolution)
    points, weights = _two_feature_points(p, resolution)
    importance = np.array([1.0, r])
    mean = p / 2  # the best constant output for a feature the model does not represent
    candidates = [np.array(params) for params in ([1.0, 0.0, 0.0, mean], [0.0, 1.0, mean, 0.0])]
    candidates.append(minimize(_two_feature_loss_and_grad, np.array([1.0, -1.0, 0.0, 0.0]),
                               jac=True, args=(points, weights, importance),
                               method="L-BFGS-B").x)
    losses = [_two_feature_loss_and_grad(c, points, weights, importance)[0] for c in candidates]
    best = candidates[int(np.argmin(losses))]
    return best[:2].copy(), best[2:].copy(), float(min(losses))


def _check_config(config) -> ToyConfig:
    if not isinstance(config, ToyConfig):
        raise TypeError(f"config must be a ToyConfig, got {type(config).__name__}")
    return config
