"""A private fast path: the training step of a ReLU or TopK SAE in numpy, gradients by hand.

:func:`srmlib.sae.train_sae` trains every SAE with autograd and ``torch.optim.Adam``; that is the
code to read. For a small SAE on the CPU most of an autograd step is per-operation overhead
(about 50 small tensor operations, forward, backward and optimiser), and the book trains many
small SAEs: with autograd alone chapters 5 and 6 took about twice the CPU time at full size
(seed 0, measured on a loaded 2-core machine: chapter 5 25 s -> 49 s, chapter 6 85 s -> 184 s,
together far more than 20% of the whole book's ~253 s) and chapter 6 would break its 2-minute
budget. So for the
two architectures those chapters train, :class:`~srmlib.sae.ReLUSAE` and
:class:`~srmlib.sae.TopKSAE` (exactly those classes, never a subclass, which may change the
encoder or the loss), on the CPU in float32, the trainer takes this step instead: the same loss,
its gradient written out, and the same Adam update, in numpy on views of the parameters. The
tests check it against the autograd step (same weights after training, every option).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import SAELoss, SparseAutoencoder
from .relu import ReLUSAE
from .topk import TopKSAE

# The SAE's parameters, in the order of sae.parameters() for both classes.
_PARAMETERS = ("W_dec", "W_enc", "b_enc", "b_dec")


def applies(sae: SparseAutoencoder, x: torch.Tensor) -> bool:
    """Whether :class:`NumpyStep` can train ``sae`` on ``x`` (a built-in ReLU or TopK SAE and
    its data, all float32 on the CPU)."""
    return (type(sae) in (ReLUSAE, TopKSAE) and x.device.type == "cpu"
            and x.dtype == torch.float32
            and all(p.device.type == "cpu" and p.dtype == torch.float32
                    for p in sae.parameters()))


class NumpyStep:
    """One step of :class:`~srmlib.sae.ReLUSAE` or :class:`~srmlib.sae.TopKSAE` training.

    ``step(batch, silent)`` does what the autograd step does (the loss of
    :meth:`~srmlib.sae.SparseAutoencoder.loss`, its gradient, one ``torch.optim.Adam`` step, the
    decoder normalisation) and returns the :class:`~srmlib.sae.SAELoss` (``total`` is None).
    """

    def __init__(self, sae: SparseAutoencoder, lr: float):
        self.sae = sae
        # numpy views of the parameters: updates in place reach the torch module, and what
        # resampling writes into the module is seen here.
        self.params = [getattr(sae, name).detach().numpy() for name in _PARAMETERS]
        self.adam = _Adam(self.params, lr=lr)

    def __call__(self, batch: torch.Tensor, silent: torch.Tensor) -> SAELoss:
        sae = self.sae
        forward = _forward(sae, self.params, batch.numpy())
        z = forward[2]
        fired = z.any(axis=0)
        dead = silent.numpy() & ~fired
        mse, penalty, grads = _backward(sae, self.params, forward, dead)
        self.adam.step(grads)
        if sae.decoder_norm == "unit":
            W_dec = self.params[0]
            np.divide(W_dec, np.maximum(np.linalg.norm(W_dec, axis=1, keepdims=True), 1e-12),
                      out=W_dec)
        return SAELoss(None, float(mse), float(penalty), torch.from_numpy(z),
                       torch.from_numpy(fired))

    def reset_moments(self, name: str, dim: int, index: torch.Tensor) -> None:
        """Zero the Adam moments of the latents ``index`` of parameter ``name``."""
        rows = (slice(None),) * dim + (index.numpy(),)
        for moment in self.adam.state[_PARAMETERS.index(name)].values():
            moment[rows] = 0.0


def _forward(sae, params, x):
    """``(x - b_dec, pre-activations, latents z, residual x - x_hat)`` of the numpy batch ``x``:
    what :meth:`~srmlib.sae.SparseAutoencoder.loss` computes."""
    W_dec, W_enc, b_enc, b_dec = params
    centred = x - b_dec
    pre = centred @ W_enc
    pre += b_enc
    if isinstance(sae, TopKSAE):
        z = np.zeros_like(pre)
        index = _top(pre, sae.k)
        np.put_along_axis(z, index, np.maximum(np.take_along_axis(pre, index, axis=1), 0), axis=1)
    else:
        z = np.maximum(pre, 0)
    residual = z @ W_dec
    residual += b_dec
    np.subtract(x, residual, out=residual)
    return centred, pre, z, residual


def _top(values, k):
    """Column indices of the ``k`` largest entries of each row, shape ``(n_rows, k)``."""
    if k == 1:
        return values.argmax(axis=1)[:, None]
    return np.argpartition(values, -k, axis=1)[:, -k:]


def _backward(sae, params, forward, dead):
    """The loss's value and gradient on one batch, by hand: ``(mse, penalty, grads)`` with the
    penalty's coefficient included and ``grads`` in the order of ``_PARAMETERS``."""
    W_dec, W_enc, _, _ = params
    centred, pre, z, residual = forward
    n = len(z)
    mse = np.vdot(residual, residual) / n
    d_out = residual * (-2.0 / n)  # d loss / d x_hat
    grad_dec = z.T @ d_out
    d_pre = d_out @ W_dec.T  # d loss / d z, then d loss / d pre-activations
    if isinstance(sae, TopKSAE):
        d_pre *= z > 0
        penalty = _aux_loss_and_gradients(sae, pre, residual, dead, W_dec, grad_dec, d_pre)
    else:
        c = sae.l1_coefficient
        if sae.decoder_norm == "penalty":
            norms = np.linalg.norm(W_dec, axis=1)
            totals = z.sum(axis=0)
            penalty = c * (totals @ norms) / n
            d_pre += (c / n) * norms
            grad_dec += ((c / n) * totals / np.maximum(norms, 1e-12))[:, None] * W_dec
        else:
            penalty = c * z.sum() / n
            d_pre += c / n
        d_pre *= z > 0
    grad_b_enc = d_pre.sum(axis=0)
    return mse, penalty, [grad_dec, centred.T @ d_pre, grad_b_enc,
                          d_out.sum(axis=0) - W_enc @ grad_b_enc]


def _aux_loss_and_gradients(sae, pre, residual, dead, W_dec, grad_dec, d_pre) -> float:
    """:meth:`~srmlib.sae.TopKSAE.aux_loss` times its coefficient (0 if no latent is dead);
    adds its gradient to ``grad_dec`` and ``d_pre``."""
    n_dead = int(dead.sum())
    coefficient = sae.aux_coefficient
    if n_dead == 0 or coefficient == 0:
        return 0.0
    n = len(pre)
    if sae.aux_k >= n_dead:  # every dead latent takes part: no need to rank them
        z_aux = np.where(dead, np.maximum(pre, 0), 0).astype(pre.dtype, copy=False)
    else:
        index = _top(np.where(dead, pre, -np.inf), sae.aux_k)
        z_aux = np.zeros_like(pre)
        np.put_along_axis(z_aux, index, np.maximum(np.take_along_axis(pre, index, axis=1), 0),
                          axis=1)
    scale = max(np.vdot(residual, residual) / n, 1e-12)
    error = residual - z_aux @ W_dec
    d_aux_out = error * (-2.0 * coefficient / (n * scale))
    grad_dec += z_aux.T @ d_aux_out
    d_pre += (d_aux_out @ W_dec.T) * (z_aux > 0)
    return coefficient * np.vdot(error, error) / n / scale


class _Adam:
    """Adam on numpy arrays, updated in place, as ``torch.optim.Adam`` computes it.
    ``state[i]`` holds ``"exp_avg"`` and ``"exp_avg_sq"`` of array ``i``."""

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
