"""The ReLU SAE with an L1 penalty (Bricken et al., 2023), as chapter 5 writes it out.

References
----------
Bricken et al. (2023), *Towards Monosemanticity: Decomposing Language Models With Dictionary
Learning*, transformer-circuits.pub.
"""

from __future__ import annotations

import torch

from .._validation import check_real_in
from .base import SparseAutoencoder, register

__all__ = ["ReLUSAE"]


@register("relu")
class ReLUSAE(SparseAutoencoder):
    """ReLU SAE: ``z = relu(pre)``, made sparse by an L1 penalty on ``z``.

    Penalty per input: ``l1_coefficient * sum_i z_i w_i`` with ``w_i = 1`` when the atoms are
    kept at unit length (``decoder_norm="unit"``) or ``w_i = |d_i|`` when they are free
    (``"penalty"``), which makes growing an atom and shrinking its latent useless. Chapter 5
    explains it and shows where its reconstruction error comes from (shrinkage).

    Parameters
    ----------
    n_inputs, n_latents, decoder_norm, seed
        As :class:`~srmlib.sae.SparseAutoencoder`.
    l1_coefficient : float
        Weight of the L1 penalty; larger is sparser. Activations on another scale need another
        coefficient: the penalty grows with ``|x|``, the error with ``|x|^2``.

    Examples
    --------
    >>> sae = ReLUSAE(4, 8, l1_coefficient=0.1, seed=0)
    >>> x = torch.randn(5, 4)
    >>> torch.equal(sae(x), sae.decode(sae.encode(x)))
    True
    """

    def __init__(self, n_inputs: int, n_latents: int, *, l1_coefficient: float = 0.01,
                 decoder_norm: str = "unit", seed: int = 0):
        super().__init__(n_inputs, n_latents, decoder_norm=decoder_norm, seed=seed)
        self.l1_coefficient = check_real_in(l1_coefficient, "l1_coefficient", 0)

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.relu(pre)

    def penalty(self, pre, z, residual, dead) -> torch.Tensor:
        if self.decoder_norm == "penalty":
            l1 = z @ self.W_dec.norm(dim=1)
        else:
            l1 = z.sum(dim=1)
        return self.l1_coefficient * l1.mean()

    def options(self) -> dict:
        return {"l1_coefficient": self.l1_coefficient}
