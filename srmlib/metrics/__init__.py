"""Alignment metrics between two representations of the same stimuli.

Chapter 6 ("Superposition hides alignment") explains every metric here and uses them all.

A representation is an ``(n_stimuli, n_units)`` array: row ``s`` is the response of every unit
(neuron, SAE latent, voxel) to stimulus ``s``, column ``u`` is unit ``u``'s tuning curve. Both
arrays must hold the same stimuli in the same order; their numbers of units may differ.
Asymmetric metrics are read "**source predicts target**".

Mapping metrics, fitted on training folds and scored on held-out stimuli (higher is better, 1
is perfect):

- :func:`semi_matching`: each target unit takes its best-correlated source unit;
- :func:`soft_matching`: an optimal transport plan between units (Khosla et al., 2024);
- :func:`linear_predictivity`: ridge regression from all source units to each target unit.

Fit-free comparisons, computed once on all stimuli:

- :func:`soft_matching_distance` (Khosla & Williams, 2023), a metric on tuning curves (0 is identical);
- :func:`permutation_distance`, the permutation shape metric (Williams et al., 2021);
- :func:`procrustes_distance`, angular or Euclidean shape distance (Williams et al., 2021);
- :func:`shape_distance`, the generalised shape metric with its regularisation ``alpha``
  (Williams et al., 2021: ``alpha=0`` CCA-like, ``alpha=1`` Procrustes);
- :func:`mean_cca`, :func:`svcca` (Raghu et al., 2017) and :func:`pwcca` (Morcos et al., 2018);
- :func:`cka`, linear centred kernel alignment, biased or unbiased (Kornblith et al., 2019);
- :func:`rsa`, correlation-distance RDMs compared by Spearman or Pearson (Kriegeskorte et al., 2008);
- :func:`mutual_knn` and :func:`cknna`, nearest-neighbour alignment (Huh et al., 2024).

One module per family: :mod:`~srmlib.metrics.matching` (units matched one to one),
:mod:`~srmlib.metrics.regression`, :mod:`~srmlib.metrics.shape` (shape metrics and CCA),
:mod:`~srmlib.metrics.kernel` (CKA, RSA), :mod:`~srmlib.metrics.neighbors`; one registry,
:data:`METRICS`, and :func:`compare`.

Shared handling, by every metric:

- **constant units** (identical on every stimulus, such as a dead ReLU neuron) carry no
  information and make correlations undefined: they are dropped first and reported in
  :attr:`AlignmentResult.dropped_source` and :attr:`AlignmentResult.dropped_target`;
- **cross-validation**: ``n_folds``-fold splits of the stimuli, shuffled with ``seed``
  (scikit-learn's ``KFold``); ``n_folds=1`` fits and scores on all stimuli (in-sample);
- **z-scoring inside folds**: each unit is centred and scaled with its training-fold mean and
  standard deviation, and the same transform is applied to the held-out fold;
- a unit that is constant within a fold (a rarely active latent) correlates 0 there;
- results are :class:`AlignmentResult` objects with one score per fold, their mean and SEM.

Scale and devices: every metric takes numpy arrays or torch tensors. The semi- and
soft-matching scores, the soft-matching, permutation, Procrustes and shape distances, the CCA
family, CKA and linear predictivity need only second moments of the data, which they sum over
blocks of stimuli on the input's device (a CUDA tensor is reduced on its GPU) in float64:
memory beyond the inputs is a few ``units x units`` matrices, whatever the number of stimuli
(100,000 stimuli by 1,024 units: see ``benchmarks/metrics.py`` for the times and the peak). The
nearest-neighbour metrics also stream, in blocks of stimuli, with time growing as
``n_stimuli^2``. RSA (``n_stimuli^2`` dissimilarities) works on a CPU copy.

Magnitude: every metric gives the same value for an input of any finite scale (each side may
have its own). A side whose largest value lies beyond about ``1e+-77`` (float32: ``4e+-10``),
where second moments would overflow or underflow, is first multiplied by a power of two, which
is exact (a copy of that side); the metrics invariant to each unit's scale (semi- and
soft-matching, linear predictivity, the standardised soft-matching distance, mean CCA) bring
each unit to its own scale, so units of ``1e-200`` and ``1e200`` on one side both count.

References
----------
Kriegeskorte, N., Mur, M. & Bandettini, P. (2008). Representational similarity analysis.
*Frontiers in Systems Neuroscience* 2:4.
Song, L. et al. (2012). Feature selection via dependence maximization. *JMLR* 13 (unbiased HSIC).
Kornblith, S. et al. (2019). Similarity of neural network representations revisited. *ICML*.
Raghu, M., Gilmer, J., Yosinski, J. & Sohl-Dickstein, J. (2017). SVCCA: singular vector
canonical correlation analysis for deep learning dynamics and interpretability. *NeurIPS*.
Morcos, A. S., Raghu, M. & Bengio, S. (2018). Insights on representational similarity in
neural networks with canonical correlation. *NeurIPS*.
Williams, A. H. et al. (2021). Generalized shape metrics on neural representations. *NeurIPS*.
Khosla, M. & Williams, A. H. (2023). Soft matching distance: a metric on neural
representations that captures single-neuron tuning. *UniReps workshop*, arXiv:2311.09466.
Khosla, M. et al. (2024). Privileged representational axes in biological and artificial
neural networks. bioRxiv 2024.06.20.599957 (semi- and soft-matching scores).
Huh, M., Cheung, B., Wang, T. & Isola, P. (2024). The platonic representation hypothesis.
*ICML*, arXiv:2405.07987.
Longon, A., Klindt, D. & Khosla, M. (2025). Superposition disentanglement of neural
representations reveals hidden alignment. arXiv:2510.03186.
"""

from __future__ import annotations

import numpy as np

from ._core import AlignmentResult
from .kernel import cka, rdm, rsa
from .matching import (
    MAX_ITER,
    correlation_matrix,
    permutation_distance,
    semi_matching,
    soft_matching,
    soft_matching_distance,
    transport_plan,
)
from .neighbors import cknna, mutual_knn, nearest_neighbors
from .regression import DEFAULT_ALPHAS, linear_predictivity
from .shape import (
    canonical_correlations,
    mean_cca,
    procrustes_distance,
    pwcca,
    shape_distance,
    svcca,
)

__all__ = [
    "DEFAULT_ALPHAS",
    "MAX_ITER",
    "METRICS",
    "AlignmentResult",
    "canonical_correlations",
    "cka",
    "cknna",
    "compare",
    "correlation_matrix",
    "linear_predictivity",
    "mean_cca",
    "mutual_knn",
    "nearest_neighbors",
    "permutation_distance",
    "procrustes_distance",
    "pwcca",
    "rdm",
    "rsa",
    "semi_matching",
    "shape_distance",
    "soft_matching",
    "soft_matching_distance",
    "svcca",
    "transport_plan",
]

#: Every metric by name, for :func:`compare` (keyword options pass through).
METRICS = {
    "semi-matching": semi_matching,
    "soft-matching": soft_matching,
    "linear predictivity": linear_predictivity,
    "soft-matching distance": soft_matching_distance,
    "permutation": permutation_distance,
    "procrustes": procrustes_distance,
    "shape": shape_distance,
    "mean cca": mean_cca,
    "svcca": svcca,
    "pwcca": pwcca,
    "cka": cka,
    "rsa": rsa,
    "mutual knn": mutual_knn,
    "cknna": cknna,
}


def compare(source, target, metric: str, **options) -> AlignmentResult:
    """Compare two representations with the metric named ``metric`` (a key of :data:`METRICS`).

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal((100, 3))
    >>> compare(x, x[:, ::-1], "semi-matching").mean
    1.0
    """
    if not isinstance(metric, str) or metric not in METRICS:
        raise ValueError(f"metric must be one of {tuple(METRICS)}, got {metric!r}")
    return METRICS[metric](source, target, **options)
