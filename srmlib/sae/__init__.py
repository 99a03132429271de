"""Sparse autoencoders (SAEs) as torch modules: one class per architecture, one registry, one
training loop, and their evaluation.

An SAE writes each activation ``x`` (a row of an ``(n_samples, n_inputs)`` array) as a sparse,
non-negative combination of learned directions, its **decoder atoms**:

.. math::

    z = \\sigma(W_\\text{enc}(x - b_\\text{dec}) + b_\\text{enc}), \\qquad
    \\hat x = z^\\top W_\\text{dec} + b_\\text{dec},

where ``W_dec`` has one atom per row (``(n_latents, n_inputs)``, the package's basis
convention). An architecture chooses ``sigma`` and adds its own term to the loss
``|x - x_hat|^2``:

=================  =======================  ===========================================
name               class                    sparsity from
=================  =======================  ===========================================
``"relu"``         :class:`ReLUSAE`         a ReLU and an L1 penalty (Bricken et al., 2023)
``"topk"``         :class:`TopKSAE`         the ``k`` largest latents per input, an auxiliary
                                            loss for dead latents (Gao et al., 2024)
``"batchtopk"``    :class:`BatchTopKSAE`    the ``k * batch`` largest latents per batch, a
                                            threshold at inference (Bussmann et al., 2024)
``"jumprelu"``     :class:`JumpReLUSAE`     a learned threshold per latent and an L0 penalty,
                                            straight-through gradients (Rajamanoharan et al.,
                                            2024)
=================  =======================  ===========================================

Each is a small subclass of :class:`SparseAutoencoder` registered by name (:func:`register`,
:data:`SAE_CLASSES`, :func:`create_sae`); :func:`train_sae` trains any of them (Adam,
autograd, seeded minibatches, dead-latent resampling, any device). :func:`evaluate_sae`
measures L0, the fraction of variance unexplained and dead latents, :func:`match_features`
matches atoms to known features (Hungarian) and :func:`matching_null` gives the chance level
of that score. With more atoms than dimensions the atoms form an overcomplete basis, which
:func:`srmlib.spotlight_resonance` accepts directly.

Chapter 5 ("Disentangling superposition with sparse autoencoders") writes the encoder, decoder,
loss and training step out by hand, checks that they compute what this package computes, and
then uses the package; its exercise adds an architecture.

The modules: :mod:`~srmlib.sae.base` (the base class and the registry), one module per
architecture (:mod:`~srmlib.sae.relu`, :mod:`~srmlib.sae.topk`, :mod:`~srmlib.sae.batchtopk`,
:mod:`~srmlib.sae.jumprelu`), :mod:`~srmlib.sae.training` and :mod:`~srmlib.sae.evaluation`.
"""

from .base import DECODER_NORMS, SAE_CLASSES, SAELoss, SparseAutoencoder, create_sae, register
from .relu import ReLUSAE
from .topk import TopKSAE
from .batchtopk import BatchTopKSAE
from .jumprelu import JumpReLUSAE, jump_relu, step
from .training import SAETrainingLog, train_sae
from .evaluation import (
    FeatureMatch, MatchingNull, SAEEvaluation, evaluate_sae, match_features, matching_null,
)

__all__ = [
    "BatchTopKSAE",
    "FeatureMatch",
    "JumpReLUSAE",
    "MatchingNull",
    "ReLUSAE",
    "SAEEvaluation",
    "SAELoss",
    "SAETrainingLog",
    "SAE_CLASSES",
    "SparseAutoencoder",
    "TopKSAE",
    "create_sae",
    "evaluate_sae",
    "jump_relu",
    "match_features",
    "matching_null",
    "register",
    "step",
    "train_sae",
]
