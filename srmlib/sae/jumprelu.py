"""The JumpReLU SAE (Rajamanoharan et al., 2024): a learned threshold per latent, an L0 penalty.

The threshold and the L0 penalty are step functions of it, with zero gradient almost
everywhere; training uses **straight-through pseudo-derivatives**: in the backward pass the
step's derivative with respect to the threshold is replaced by a rectangle kernel of width
``bandwidth`` around it. Two small :class:`torch.autograd.Function` classes hold them.

References
----------
Rajamanoharan et al. (2024), *Jumping Ahead: Improving Reconstruction Fidelity with JumpReLU
Sparse Autoencoders*, arXiv:2407.14435.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import check_real_in
from .base import SparseAutoencoder, register

__all__ = ["JumpReLUSAE", "jump_relu", "step"]


def _rectangle(u: torch.Tensor) -> torch.Tensor:
    """The rectangle kernel: 1 on ``(-1/2, 1/2)``, 0 elsewhere."""
    return ((u > -0.5) & (u < 0.5)).to(u.dtype)


class _JumpReLU(torch.autograd.Function):
    """``x * (x > threshold)``; d/dx = ``(x > threshold)``, d/dthreshold =
    ``-(threshold / bandwidth) * rectangle((x - threshold) / bandwidth)``."""

    @staticmethod
    def forward(ctx, x, threshold, bandwidth):
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth
        return x * (x > threshold)

    @staticmethod
    def backward(ctx, grad):
        x, threshold = ctx.saved_tensors
        kernel = _rectangle((x - threshold) / ctx.bandwidth)
        grad_threshold = -(threshold / ctx.bandwidth) * kernel * grad
        return (x > threshold) * grad, grad_threshold.sum(dim=0), None


class _Step(torch.autograd.Function):
    """``(x > threshold)`` as 0/1; d/dx = 0, d/dthreshold =
    ``-(1 / bandwidth) * rectangle((x - threshold) / bandwidth)``."""

    @staticmethod
    def forward(ctx, x, threshold, bandwidth):
        ctx.save_for_backward(x, threshold)
        ctx.bandwidth = bandwidth
        return (x > threshold).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, threshold = ctx.saved_tensors
        kernel = _rectangle((x - threshold) / ctx.bandwidth)
        return None, (-kernel * grad / ctx.bandwidth).sum(dim=0), None


def jump_relu(x: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """JumpReLU ``x * H(x - threshold)`` of ``x`` ``(batch, n)`` with ``threshold`` ``(n,)``,
    with the straight-through threshold gradient of kernel width ``bandwidth``."""
    return _JumpReLU.apply(x, threshold, bandwidth)


def step(x: torch.Tensor, threshold: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Heaviside step ``H(x - threshold)`` (0 or 1) with the straight-through threshold
    gradient; no gradient reaches ``x``."""
    return _Step.apply(x, threshold, bandwidth)


@register("jumprelu")
class JumpReLUSAE(SparseAutoencoder):
    """JumpReLU SAE: ``z_i = relu(pre_i)`` where it exceeds a learned threshold ``t_i``, else 0.

    Loss per input: ``|x - x_hat|^2 + l0_coefficient * #{i : relu(pre_i) > t_i}``, the L0
    norm itself. Both the JumpReLU and the count are step functions of ``t``; their
    derivatives with respect to ``t`` are the straight-through pseudo-derivatives of
    :func:`jump_relu` and :func:`step` (a rectangle kernel of width ``bandwidth``), and the
    count passes no gradient to the pre-activations. ``t = exp(log_threshold)`` stays positive.
    Chapter 5 introduces it.

    Parameters
    ----------
    n_inputs, n_latents, decoder_norm, seed
        As :class:`~srmlib.sae.SparseAutoencoder`.
    l0_coefficient : float
        Weight of the L0 penalty.
    threshold : float
        Initial threshold of every latent (positive).
    bandwidth : float
        Width of the rectangle kernel (positive), in the units of the pre-activations.

    Examples
    --------
    >>> sae = JumpReLUSAE(4, 8, threshold=0.5, seed=0)
    >>> z = sae.encode(torch.randn(5, 4))
    >>> bool(((z == 0) | (z > 0.5)).all())
    True
    """

    def __init__(self, n_inputs: int, n_latents: int, *, l0_coefficient: float = 0.01,
                 threshold: float = 0.1, bandwidth: float = 0.05, decoder_norm: str = "unit",
                 seed: int = 0):
        super().__init__(n_inputs, n_latents, decoder_norm=decoder_norm, seed=seed)
        self.l0_coefficient = check_real_in(l0_coefficient, "l0_coefficient", 0)
        self.initial_threshold = check_real_in(threshold, "threshold", 0, low_open=True)
        self.bandwidth = check_real_in(bandwidth, "bandwidth", 0, low_open=True)
        self.log_threshold = nn.Parameter(torch.full((self.n_latents,),
                                                     math.log(self.initial_threshold)))

    @property
    def threshold(self) -> torch.Tensor:
        """The per-latent thresholds ``exp(log_threshold)``, shape ``(n_latents,)``."""
        return self.log_threshold.exp()

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        return jump_relu(torch.relu(pre), self.threshold, self.bandwidth)

    def penalty(self, pre, z, residual, dead) -> torch.Tensor:
        l0 = step(torch.relu(pre), self.threshold, self.bandwidth).sum(dim=1).mean()
        return self.l0_coefficient * l0

    def latent_parameters(self) -> dict[str, int]:
        return {**super().latent_parameters(), "log_threshold": 0}

    @torch.no_grad()
    def reset_latents(self, index, directions, encoder_scale) -> None:
        super().reset_latents(index, directions, encoder_scale)
        self.log_threshold[index] = math.log(self.initial_threshold)

    def options(self) -> dict:
        return {"l0_coefficient": self.l0_coefficient, "threshold": self.initial_threshold,
                "bandwidth": self.bandwidth}
