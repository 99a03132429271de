"""The BatchTopK SAE (Bussmann et al., 2024): TopK over the whole batch, a threshold after.

References
----------
Bussmann, Leask & Nanda (2024), *BatchTopK Sparse Autoencoders*, arXiv:2412.06410.
"""

from __future__ import annotations

import torch

from .._validation import check_real_in
from .base import register
from .topk import TopKSAE

__all__ = ["BatchTopKSAE"]


@register("batchtopk")
class BatchTopKSAE(TopKSAE):
    """BatchTopK SAE: a batch of ``B`` inputs keeps its ``k * B`` largest latents in all.

    In training mode the ``k * B`` largest ReLU pre-activations of the whole batch are kept,
    wherever they are, so an input with many features may use more than ``k`` latents and one
    with few fewer; the mean is ``k`` (exactly ``k * B`` non-zero latents per batch when that
    many pre-activations are positive). Each training batch also updates :attr:`threshold`, a
    moving average of the smallest latent it kept (decay ``threshold_decay``), like a batch
    norm's running statistics. In evaluation mode (``sae.eval()``, as
    :func:`~srmlib.sae.train_sae` leaves it) each input is encoded on its own:
    ``z = relu(pre)`` where ``pre > threshold``, 0 elsewhere. The auxiliary loss is
    :class:`~srmlib.sae.TopKSAE`'s. Chapter 5 introduces it.

    Parameters
    ----------
    n_inputs, n_latents, k, aux_coefficient, aux_k, decoder_norm, seed
        As :class:`~srmlib.sae.TopKSAE`.
    threshold_decay : float
        In ``[0, 1)``: the weight of the old estimate in each update (the first training batch
        sets it).

    Examples
    --------
    >>> sae = BatchTopKSAE(4, 8, k=2, seed=0).train()
    >>> int((sae.encode(torch.randn(5, 4)) != 0).sum())  # 2 * 5 in the batch, not 2 per input
    10
    """

    def __init__(self, n_inputs: int, n_latents: int, *, k: int,
                 aux_coefficient: float = 1 / 32, aux_k: int | None = None,
                 threshold_decay: float = 0.99, decoder_norm: str = "unit", seed: int = 0):
        super().__init__(n_inputs, n_latents, k=k, aux_coefficient=aux_coefficient,
                         aux_k=aux_k, decoder_norm=decoder_norm, seed=seed)
        self.threshold_decay = check_real_in(threshold_decay, "threshold_decay", 0, 1,
                                             high_open=True)
        self.register_buffer("threshold", torch.zeros(()))
        self.register_buffer("threshold_updates", torch.zeros((), dtype=torch.long))

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        z = torch.relu(pre)
        if not self.training:
            return torch.where(z > self.threshold, z, 0.0)
        flat = z.flatten()
        values, index = flat.topk(self.k * len(z))
        self._update_threshold(values)
        return torch.zeros_like(flat).scatter(0, index, values).view_as(z)

    @torch.no_grad()
    def _update_threshold(self, kept: torch.Tensor) -> None:
        positive = kept > 0
        smallest = torch.where(positive, kept, float("inf")).min()
        first = self.threshold_updates == 0
        decay = torch.where(first, 0.0, self.threshold_decay)
        updated = decay * self.threshold + (1 - decay) * smallest
        any_positive = positive.any()
        self.threshold.copy_(torch.where(any_positive, updated, self.threshold))
        self.threshold_updates.add_(any_positive.long())

    def options(self) -> dict:
        return {**super().options(), "threshold_decay": self.threshold_decay}
