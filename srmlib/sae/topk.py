"""The TopK SAE and its auxiliary loss for dead latents (Gao et al., 2024).

References
----------
Gao et al. (2024), *Scaling and evaluating sparse autoencoders*, arXiv:2406.04093.
"""

from __future__ import annotations

import torch

from .._validation import check_int, check_real_in
from .base import SparseAutoencoder, register

__all__ = ["TopKSAE"]


@register("topk")
class TopKSAE(SparseAutoencoder):
    """TopK SAE: each input keeps its ``k`` largest pre-activations (through a ReLU).

    Every other latent is 0, so at most ``k`` latents are non-zero (exactly ``k`` when the
    ``k``-th largest pre-activation is positive): sparsity by construction, no penalty on
    ``z``. The loss's second term is the **auxiliary loss** of Gao et al. (2024): the dead
    latents' ``aux_k`` largest pre-activations (ReLU) must reconstruct the residual
    ``x - x_hat`` (held fixed) through their atoms, relative to ``|residual|^2``. It gives dead
    latents a gradient towards what the live ones miss. Chapter 5 explains it.

    Parameters
    ----------
    n_inputs, n_latents, decoder_norm, seed
        As :class:`~srmlib.sae.SparseAutoencoder` (``"penalty"`` just leaves the atoms free).
    k : int
        Latents kept per input, ``1 <= k <= n_latents``.
    aux_coefficient : float
        Weight of the auxiliary loss; 0 turns it off.
    aux_k : int, optional
        Dead latents the auxiliary loss uses per input; default ``min(2 k, n_latents)``.

    Examples
    --------
    >>> sae = TopKSAE(4, 8, k=2, seed=0)
    >>> bool(((sae.encode(torch.randn(5, 4)) != 0).sum(dim=1) <= 2).all())
    True
    """

    def __init__(self, n_inputs: int, n_latents: int, *, k: int,
                 aux_coefficient: float = 1 / 32, aux_k: int | None = None,
                 decoder_norm: str = "unit", seed: int = 0):
        super().__init__(n_inputs, n_latents, decoder_norm=decoder_norm, seed=seed)
        self.k = _at_most_latents(k, "k", self.n_latents)
        self.aux_coefficient = check_real_in(aux_coefficient, "aux_coefficient", 0)
        self.aux_k = (min(2 * self.k, self.n_latents) if aux_k is None
                      else _at_most_latents(aux_k, "aux_k", self.n_latents))

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        values, index = pre.topk(self.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, index, torch.relu(values))

    def penalty(self, pre, z, residual, dead) -> torch.Tensor:
        if dead is None or self.aux_coefficient == 0:
            return pre.new_zeros(())
        return self.aux_coefficient * self.aux_loss(pre, residual, dead)

    def aux_loss(self, pre: torch.Tensor, residual: torch.Tensor,
                 dead: torch.Tensor) -> torch.Tensor:
        """Gao et al.'s auxiliary loss on a batch (before its coefficient); 0 if none is dead.

        ``pre``: ``(batch, n_latents)``; ``residual``: ``x - x_hat``, ``(batch, n_inputs)``;
        ``dead``: bool, ``(n_latents,)``.
        """
        n_dead = int(dead.sum())
        if n_dead == 0:
            return pre.new_zeros(())
        if self.aux_k >= n_dead:  # every dead latent takes part: nothing to rank
            z_aux = torch.where(dead, torch.relu(pre), 0.0)
        else:
            values, index = pre.masked_fill(~dead, float("-inf")).topk(self.aux_k, dim=-1)
            z_aux = torch.zeros_like(pre).scatter(-1, index, torch.relu(values))
        target = residual.detach()
        error = target - z_aux @ self.W_dec
        return (error ** 2).sum(dim=1).mean() / (target ** 2).sum(dim=1).mean().clamp_min(1e-12)

    def options(self) -> dict:
        return {"k": self.k, "aux_coefficient": self.aux_coefficient, "aux_k": self.aux_k}


def _at_most_latents(value, name: str, n_latents: int) -> int:
    value = check_int(value, name, minimum=1)
    if value > n_latents:
        raise ValueError(f"{name} must be at most n_latents={n_latents}, got {value}")
    return value
