"""One training loop for every SAE architecture: Adam, autograd, seeded minibatches.

The loop knows nothing about architectures: it asks the SAE for its loss
(:meth:`~srmlib.sae.SparseAutoencoder.loss`), lets autograd find the gradients and
``torch.optim.Adam`` take the step, keeps the atoms at unit length if asked, counts the latents
that stopped firing, and resamples them if asked. Chapter 5 writes the same step out by hand
before it calls :func:`train_sae`.

One step, :class:`AutogradStep`, serves every architecture. For the two the book trains by the
dozen, the built-in :class:`~srmlib.sae.ReLUSAE` and :class:`~srmlib.sae.TopKSAE` on the CPU, a
private numpy twin of it takes the step (``srmlib.sae._numpy_step``, tested against this one):
with autograd alone the book's chapters 5 and 6 ran more than 20% of the whole book slower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .._random import torch_seed
from .._threads import blas_threads, torch_threads
from .._validation import (check_bool, check_device, check_int, check_progress, check_real_in,
                           check_seed, diverged)
from . import _numpy_step
from .base import SAELoss, SparseAutoencoder, as_activations

__all__ = ["AutogradStep", "SAETrainingLog", "train_sae"]

# Minibatch indices are drawn this many at a time (fewer calls, same seeded stream).
_INDICES_PER_DRAW = 1 << 20


@dataclass(frozen=True)
class SAETrainingLog:
    """What :func:`train_sae` did, one entry per logged step.

    Attributes
    ----------
    steps : ndarray of int
        Training steps at which the values were logged (every ``log_every`` steps, and the
        last).
    mse : ndarray
        Squared reconstruction error per input (summed over dimensions) on the batch.
    penalty : ndarray
        The architecture's term of the loss on the batch, coefficient included (the L1 penalty
        of a ReLU SAE, the auxiliary loss of a TopK SAE, the L0 penalty of a JumpReLU SAE).
    l0 : ndarray
        Mean number of non-zero latents per input on the batch.
    n_dead : ndarray of int
        Latents that had not fired for ``dead_steps`` batches.
    n_resampled : int
        Latents resampled in all (0 unless ``resample_every`` is set).
    """

    steps: np.ndarray
    mse: np.ndarray
    penalty: np.ndarray
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
    dead_steps: int = 200,
    resample_every: int | None = None,
    log_every: int = 50,
    centre: bool = True,
    seed: int = 0,
    progress: bool | None = None,
    device=None,
    num_threads: int | None = 1,
) -> SAETrainingLog:
    """Train ``sae`` in place on ``activations`` with Adam on seeded random minibatches.

    Every step draws ``batch_size`` inputs (with replacement), computes the SAE's own loss
    (:meth:`~srmlib.sae.SparseAutoencoder.loss`: reconstruction plus the architecture's
    penalty), back-propagates it with autograd and takes one ``torch.optim.Adam`` step; with
    ``decoder_norm="unit"`` the atoms are then scaled back to unit length (:class:`AutogradStep`;
    for a built-in ReLU or TopK SAE on the CPU a private numpy twin of it, several times faster
    for small SAEs, computes the same step). A latent is
    **dead** when it has fired on no input of the last ``dead_steps`` batches; the loss sees
    which latents are dead (a TopK SAE's auxiliary loss uses them).

    ``resample_every`` reinitialises, every that many steps, the latents dead at that moment
    (Bricken et al., 2023): each gets the direction of an input drawn with probability
    proportional to the square of its loss ``|x - x_hat|^2``, as its atom and (scaled to the
    mean norm of the live encoder rows) as its encoder row, a zero encoder bias, and fresh
    Adam moments.

    Parameters
    ----------
    sae : SparseAutoencoder
        Any registered architecture; trained in place, on ``device``, and left in evaluation
        mode (``sae.eval()``). ``b_dec`` is first set to the data's mean (see ``centre``).
    activations : array_like or torch.Tensor, shape (n_samples, n_inputs)
        Training data.
    steps, batch_size : int
        Optimiser steps, and inputs per step (drawn by a seeded ``torch.Generator`` on the CPU,
        so the same SAE, data and seed give the same batches on every device).
    lr : float
        Adam's learning rate.
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
        Seed of the minibatches (stream ``"sae.training"``) and of the resampling
        (``"sae.resampling"``): streams of their own, independent of the SAE's initial weights
        even when they were drawn with the same seed.
    progress : bool, optional
        Show a progress bar; by default for 5,000 steps or more.
    device : str or torch.device, optional
        Where to train (``"cuda"`` for a GPU); by default the device of ``activations`` if it is
        a tensor, else the SAE's.
    num_threads : int or None
        Torch's intra-op threads and numpy's BLAS threads on the CPU while training (restored
        afterwards); 1 is fastest for small SAEs. ``None`` keeps both settings.

    Returns
    -------
    SAETrainingLog

    Raises
    ------
    ValueError
        If ``activations`` hold values beyond the SAE's dtype (float64 data of ``1e39`` for a
        float32 SAE: refused, not rescaled, because Adam's steps of size ``lr`` make the
        training depend on the data's scale), or if training diverges (a NaN or infinite
        loss or weight at a logged step: too large an ``lr``, or data whose squares overflow).

    Examples
    --------
    >>> from srmlib.sae import TopKSAE
    >>> sae = TopKSAE(3, 6, k=1, seed=0)
    >>> log = train_sae(sae, np.random.default_rng(0).standard_normal((500, 3)), steps=100)
    >>> int(log.steps[-1]), bool(log.l0[-1] <= 1)
    (100, True)
    """
    if not isinstance(sae, SparseAutoencoder):
        raise TypeError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    steps = check_int(steps, "steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_real_in(lr, "lr", 0, low_open=True)
    dead_steps = check_int(dead_steps, "dead_steps", minimum=1)
    if resample_every is not None:
        resample_every = check_int(resample_every, "resample_every", minimum=1)
    log_every = check_int(log_every, "log_every", minimum=1)
    centre = check_bool(centre, "centre")
    seed = check_seed(seed, "seed")
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    if device is None:
        device = (activations.device if isinstance(activations, torch.Tensor)
                  else sae.W_dec.device)
    device = check_device(device)
    x = as_activations(activations, sae, device=device)
    show = check_progress(progress, default=steps >= 5000)
    with torch_threads(num_threads), blas_threads(num_threads):
        return _train(sae.to(device), x, steps, batch_size, lr, dead_steps, resample_every,
                      log_every, centre, seed, show)


def _train(sae, x, steps, batch_size, lr, dead_steps, resample_every, log_every, centre, seed,
           show) -> SAETrainingLog:
    with torch.no_grad():
        if centre:
            sae.b_dec.copy_(x.mean(dim=0))
        if sae.decoder_norm == "unit":
            sae.normalise_decoder()
    train_step = (_numpy_step.NumpyStep(sae, lr) if _numpy_step.applies(sae, x)
                  else AutogradStep(sae, lr))
    batches = _minibatches(len(x), batch_size, steps, seed, x.device)
    resampling = torch.Generator().manual_seed(torch_seed(seed, "sae.resampling"))
    since_fired = torch.zeros(sae.n_latents, dtype=torch.long, device=x.device)
    logged: dict[str, list] = {"steps": [], "mse": [], "penalty": [], "l0": [], "n_dead": []}
    n_resampled = 0
    sae.train()
    for step in tqdm(range(1, steps + 1), desc="training SAE", unit="step", disable=not show):
        batch = x[next(batches)]
        loss = train_step(batch, silent=since_fired >= dead_steps - 1)
        since_fired += 1
        since_fired.masked_fill_(loss.fired, 0)
        if (resample_every is not None and step % resample_every == 0
                and step <= steps - dead_steps):
            n_resampled += _resample(sae, x, since_fired >= dead_steps, train_step, resampling)
        if step % log_every == 0 or step == steps:
            if not (np.isfinite([_number(loss.mse), _number(loss.penalty)]).all()
                    and _finite_parameters(sae)):
                raise diverged(step, lr, "SAE training", "activations",
                               largest=float(x.abs().max()))
            logged["steps"].append(step)
            logged["mse"].append(_number(loss.mse))
            logged["penalty"].append(_number(loss.penalty))
            logged["l0"].append(float((loss.z != 0).sum()) / len(batch))
            logged["n_dead"].append(int((since_fired >= dead_steps).sum()))
    sae.eval()
    return SAETrainingLog(steps=np.array(logged["steps"]), mse=np.array(logged["mse"]),
                          penalty=np.array(logged["penalty"]), l0=np.array(logged["l0"]),
                          n_dead=np.array(logged["n_dead"]), n_resampled=n_resampled)


class AutogradStep:
    """One training step of any SAE: its loss, autograd's gradients, one Adam step, and unit
    atoms again if ``decoder_norm="unit"``. Chapter 5 writes the same step out by hand.

    ``AutogradStep(sae, lr)(batch, silent)`` returns the batch's
    :class:`~srmlib.sae.SAELoss`; ``silent`` is as in :meth:`~srmlib.sae.SparseAutoencoder.loss`
    (``None``: no latent counts as dead).
    """

    def __init__(self, sae: SparseAutoencoder, lr: float):
        self.sae = sae
        self.parameters = list(sae.parameters())
        # Fused Adam: one kernel for all parameters (much less overhead for small SAEs).
        fused = True if self.parameters[0].device.type in ("cpu", "cuda") else None
        self.optimiser = torch.optim.Adam(self.parameters, lr=lr, fused=fused)

    def __call__(self, batch: torch.Tensor, silent: torch.Tensor) -> SAELoss:
        loss = self.sae.loss(batch, silent)
        # the gradients, handed to the optimiser (cheaper than zero_grad() and backward()); a
        # parameter the loss does not use gets None, which Adam skips
        grads = torch.autograd.grad(loss.total, self.parameters, allow_unused=True)
        for parameter, grad in zip(self.parameters, grads):
            parameter.grad = grad
        self.optimiser.step()
        if self.sae.decoder_norm == "unit":
            self.sae.normalise_decoder()
        return loss

    def reset_moments(self, name: str, dim: int, index: torch.Tensor) -> None:
        """Zero Adam's moments of the latents ``index`` (along ``dim``) of parameter ``name``."""
        state = self.optimiser.state.get(getattr(self.sae, name), {})
        for moment in ("exp_avg", "exp_avg_sq"):
            if moment in state:
                state[moment].index_fill_(dim, index, 0.0)


def _finite_parameters(sae: SparseAutoencoder) -> bool:
    """Whether every weight is finite (checked when the losses are logged: a NaN weight stays
    NaN, so a divergence is caught by the next log, at the latest at the last step)."""
    return all(bool(torch.isfinite(p).all()) for p in sae.parameters())


def _number(value) -> float:
    return value.item() if isinstance(value, torch.Tensor) else float(value)


def _minibatches(n_samples, batch_size, steps, seed, device):
    """Row indices of each step's minibatch, ``(batch_size,)`` tensors on ``device``, drawn
    with replacement from the stream ``"sae.training"`` of ``seed`` (on the CPU, so every device
    gets the same batches)."""
    generator = torch.Generator().manual_seed(torch_seed(seed, "sae.training"))
    per_draw = max(1, _INDICES_PER_DRAW // batch_size)
    for start in range(0, steps, per_draw):
        block = torch.randint(n_samples, (min(per_draw, steps - start), batch_size),
                              generator=generator)
        yield from block.to(device)


@torch.no_grad()
def _resample(sae, x, dead, train_step, generator) -> int:
    """Point the ``dead`` latents at inputs the SAE reconstructs badly; reset their Adam
    moments. Returns how many were resampled."""
    index = torch.nonzero(dead).flatten()
    if len(index) == 0:
        return 0
    sample = x[torch.randint(len(x), (min(len(x), 4096),), generator=generator).to(x.device)]
    sae.eval()  # encode each input on its own (a BatchTopK SAE uses its threshold)
    errors = ((sample - sae(sample)) ** 2).sum(dim=1)
    sae.train()
    if float(errors.sum()) <= 0:
        return 0
    chosen = torch.multinomial((errors ** 2).cpu(), len(index), replacement=True,
                               generator=generator).to(x.device)
    directions = sample[chosen] - sae.b_dec
    directions /= directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    alive = ~dead
    scale = float(sae.W_enc[:, alive].norm(dim=0).mean()) if bool(alive.any()) else 1.0
    sae.reset_latents(index, directions, scale)
    for name, dim in sae.latent_parameters().items():
        train_step.reset_moments(name, dim, index)
    return len(index)
