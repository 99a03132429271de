"""Does superposition hide alignment? Toy-model pairs, their SAEs, and every alignment metric.

Chapter 6 ("Superposition hides alignment") runs this experiment twice: in a CPU regime of its
own, and in the setup of the toy-model experiment of Longon, Klindt & Khosla (2025),
:data:`LONGON2025`, whose values come from the authors' public code.

1. for each hidden width, ``2 * n_pairs`` toy models of superposition with a ReLU hidden layer
   (:mod:`srmlib.toy`) are trained side by side, on the same feature distribution, from
   different initial weights; instances ``2q`` and ``2q + 1`` form pair ``q`` (with
   ``shared_data``, as in the paper, the two models of a pair also see the same training
   batches, and pair ``q`` sees the same batches at every width);
2. a TopK sparse autoencoder (:mod:`srmlib.sae`) is trained on each model's hidden layer, and
   an untrained one with the same shape is kept as a control;
3. on held-out stimuli shown to both models of a pair, every metric of :mod:`srmlib.metrics`
   compares model A's representation (the source) with model B's (the target) in four ways,
   :data:`COMPARISONS`: neurons to neurons, SAE latents to neurons, SAE latents to SAE
   latents, and random-SAE latents to random-SAE latents;
4. diagnostics: how well each model's neurons, SAE latents and random-SAE latents match the
   ground-truth features, and how many features both models of a pair represent.

Results come back as plain lists of dicts (one per score, one per model, one per pair) in an
:class:`AlignmentExperiment`, whose :meth:`~AlignmentExperiment.table` prints them. Pairs are the
independent units: every error bar is a standard error over pairs (the folds of one pair's
cross-validation share stimuli and models, so their spread is not an error bar), and
:func:`paired_difference` compares two comparisons pair by pair.

References
----------
Longon, A., Klindt, D. & Khosla, M. (2025). Superposition disentanglement of neural
representations reveals hidden alignment. arXiv:2510.03186.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from scipy import stats as _scipy_stats

from . import metrics as _metrics
from . import sae as _sae
from . import toy as _toy
from ._threads import single_thread, torch_threads
from ._random import torch_seed
from ._validation import (check_bool, check_choice, check_int, check_real, check_real_array,
                          check_seed)

__all__ = [
    "COMPARISONS",
    "DEFAULT_METRICS",
    "IMPORTANCES",
    "LONGON2025",
    "MAPPING_METRICS",
    "AlignmentExperiment",
    "PairedDifference",
    "feature_importance",
    "paired_difference",
    "run_alignment_experiment",
]

#: What is compared with what, source -> target (A's representation predicts B's).
COMPARISONS = ("Neuron->Neuron", "SAE->Neuron", "SAE->SAE", "RandomSAE->RandomSAE")

#: Metrics run by default: display name -> (name in :data:`srmlib.metrics.METRICS`, options).
DEFAULT_METRICS = {
    "semi-matching": ("semi-matching", {}),
    "soft-matching": ("soft-matching", {}),
    "linear predictivity": ("linear predictivity", {}),
    "soft-matching distance": ("soft-matching distance", {}),
    "procrustes (angular)": ("procrustes", {"kind": "angular"}),
    "cka": ("cka", {}),
    "cka (unbiased)": ("cka", {"unbiased": True}),
    "rsa (spearman)": ("rsa", {"method": "spearman"}),
    "linear predictivity (r2)": ("linear predictivity", {"score": "r2"}),
    "permutation (angular)": ("permutation", {"kind": "angular"}),
    "shape (alpha=0.5)": ("shape", {"alpha": 0.5}),
    "mean cca": ("mean cca", {}),
    "svcca": ("svcca", {}),
    "pwcca": ("pwcca", {}),
    "mutual knn": ("mutual knn", {}),
    "cknna": ("cknna", {}),
}

#: The three cross-validated mapping metrics, the ones the paper reports for its toy models.
MAPPING_METRICS = {name: DEFAULT_METRICS[name]
                   for name in ("semi-matching", "soft-matching", "linear predictivity")}

#: Feature-importance profiles of the toy models (:func:`feature_importance`).
IMPORTANCES = ("uniform", "power-law")

#: The toy-model setup of Longon, Klindt & Khosla (2025), as their public code runs it
#: (github.com/cest-andre/align-interp, ``toy_models.py`` and ``plot_utils.py`` at the version
#: of September 2025, the paper's): 64 features present with probability 0.1, importance
#: ``(1 + 2 i / 64) ** -2`` (from 1 down to about 0.11), widths 8, 16 and 32; toy models trained
#: with AdamW (learning rate 1e-3, weight decay 0.01) for 10,000 steps of 1,024 inputs, every
#: model on the same batches, from different initial weights; TopK SAEs with k = 7 and 64
#: latents (as many as features), no input normalisation, free decoder norms, trained with
#: AdamW (1e-3) for 8,000 steps of 1,024 activations with an auxiliary loss (weight 0.1) that
#: lets every latent silent on the whole batch reconstruct the residual; the three mapping
#: metrics on held-out stimuli with 5 folds. Chapter 6 lists what srmlib does differently
#: (the SAE's auxiliary loss and initialisation, the number of stimuli, pairs and seeds).
LONGON2025 = dict(
    widths=(8, 16, 32), n_features=64, feature_probability=0.1, importance="power-law",
    k=7, n_latents=64, toy_steps=10_000, toy_batch_size=1_024, toy_lr=1e-3,
    toy_weight_decay=0.01, shared_data=True, sae_steps=8_000, sae_batch_size=1_024,
    sae_lr=1e-3, decoder_norm="penalty",
    sae_options=dict(aux_coefficient=0.1, aux_k=64, dead_steps=1),
    n_train=500_000, n_stimuli=100_000, n_folds=5, metrics=MAPPING_METRICS,
)

# Keyword arguments of the TopK SAE and of train_sae that run_alignment_experiment sets itself
# (sae_options may set the others).
_SAE_ARGUMENTS_SET_HERE = ("n_inputs", "n_latents", "k", "decoder_norm", "steps", "batch_size",
                           "lr", "centre", "seed", "progress")

# A feature counts as represented by a toy model when its column W_i is at least this long.
REPRESENTED_NORM = 0.5


@dataclass(frozen=True)
class AlignmentExperiment:
    """Scores and diagnostics of :func:`run_alignment_experiment`.

    Attributes
    ----------
    scores : list of dict
        One per (width, pair, comparison, metric): keys ``width``, ``pair``, ``comparison``,
        ``metric``, ``mean`` (over folds), ``scores`` (per fold) and ``higher_is_better``.
    models : list of dict
        One per trained model: ``width``, ``pair``, ``model`` (``"A"`` or ``"B"``), ``n_represented``
        (features with ``|W_i| >= 0.5``) and the held-out semi-matching score with the
        ground-truth features as target (each feature takes its best unit) of its
        ``neurons``, ``sae`` latents and ``random_sae`` latents; and the SAE's ``fvu``, ``l0``,
        ``n_dead``.
    pairs : list of dict
        One per (width, pair): ``width``, ``pair``, ``shared`` (features both models
        represent), ``n_features``.
    parameters : dict
        Everything the run was given.
    """

    scores: list
    models: list
    pairs: list
    parameters: dict

    @property
    def widths(self) -> list[int]:
        """Hidden widths, in the order run."""
        return list(dict.fromkeys(row["width"] for row in self.scores))

    @property
    def metrics(self) -> list[str]:
        """Metric names, in the order run."""
        return list(dict.fromkeys(row["metric"] for row in self.scores))

    @property
    def n_pairs(self) -> int:
        """Pairs of models per width."""
        return len(dict.fromkeys(row["pair"] for row in self.scores))

    def pair_scores(self, metric: str, comparison: str, width: int) -> np.ndarray:
        """One score per pair (its mean over folds), in pair order: shape ``(n_pairs,)``."""
        rows = sorted((r for r in self.scores if r["metric"] == metric
                       and r["comparison"] == comparison and r["width"] == width),
                      key=lambda r: r["pair"])
        if not rows:
            raise ValueError(f"no score for metric={metric!r}, comparison={comparison!r}, "
                             f"width={width!r}")
        return np.array([r["mean"] for r in rows])

    def summary(self, metric: str, comparison: str, width: int) -> tuple[float, float]:
        """Mean over pairs, and its standard error over pairs (NaN for a single pair).

        The pairs are the independent units; the folds of one pair are not (they share
        stimuli and models), so one pair has no error bar.

        Returns
        -------
        (mean, sem) : tuple of float
        """
        return _mean_and_sem(self.pair_scores(metric, comparison, width))

    def bars(self, metric: str) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """``(means, errors)`` of one metric: comparison -> one value per width."""
        means = {c: [self.summary(metric, c, w)[0] for w in self.widths] for c in COMPARISONS}
        errors = {c: [self.summary(metric, c, w)[1] for w in self.widths] for c in COMPARISONS}
        return means, errors

    def model_scores(self, key: str, width: int) -> np.ndarray:
        """A key of :attr:`models` per pair (the mean of its two models): shape ``(n_pairs,)``."""
        rows = [m for m in self.models if m["width"] == width]
        if not rows or key not in rows[0]:
            raise ValueError(f"no model value {key!r} at width={width!r}")
        pairs = sorted(dict.fromkeys(m["pair"] for m in rows))
        return np.array([np.mean([m[key] for m in rows if m["pair"] == q]) for q in pairs],
                        dtype=float)

    def model_summary(self, key: str, width: int) -> float:
        """Mean over the models of one width of a key of :attr:`models`."""
        return float(np.mean(self.model_scores(key, width)))

    def table(self, metric: str | None = None) -> str:
        """The scores as text: one row per metric and comparison, one column per width.

        Each cell is the mean over pairs with its standard error over pairs (:meth:`summary`;
        none for a single pair); distances are marked ``(lower is better)``.
        """
        names = self.metrics if metric is None else [metric]
        header = f"{'metric':40s} {'comparison':22s}" + "".join(f"{'H=' + str(w):>16s}"
                                                                  for w in self.widths)
        lines = [header, "-" * len(header)]
        for name in names:
            better = next(r["higher_is_better"] for r in self.scores if r["metric"] == name)
            label = name if better else f"{name} (lower is better)"
            for comparison in COMPARISONS:
                cells = []
                for w in self.widths:
                    mean, error = self.summary(name, comparison, w)
                    cells.append(f"{mean:8.3f}" + ("" if np.isnan(error) else f" +-{error:5.3f}"))
                lines.append(f"{label:40s} {comparison:22s}" + "".join(f"{c:>16s}" for c in cells))
        return "\n".join(lines)


@dataclass(frozen=True)
class PairedDifference:
    """A difference between two sets of per-pair values, pair by pair (:func:`paired_difference`).

    Attributes
    ----------
    mean : float
        Mean over pairs of ``values - baseline``.
    sem : float
        Its standard error over pairs, ``std(ddof=1) / sqrt(n_pairs)`` (NaN for one pair).
    n_pairs : int
    lower, upper : float
        One-sided confidence bounds, ``mean -+ t * sem`` with ``t`` Student's quantile at
        ``confidence`` with ``n_pairs - 1`` degrees of freedom (infinite for one pair): a claim
        "the difference exceeds ``d``" is backed when ``lower > d``, "it is below ``d``" when
        ``upper < d``, and "it lies within ``d`` of 0" when both hold for ``-d`` and ``d``
        (two one-sided tests).
    confidence : float
    """

    mean: float
    sem: float
    n_pairs: int
    lower: float
    upper: float
    confidence: float

    def __str__(self) -> str:
        return (f"{self.mean:+.3f} +- {self.sem:.3f} (SEM over {self.n_pairs} pairs; "
                f"{self.confidence:.0%} bounds {self.lower:+.3f}, {self.upper:+.3f})")


def paired_difference(values, baseline, *, confidence: float = 0.95) -> PairedDifference:
    """Compare per-pair values with a per-pair baseline: mean, SEM and lower bound over pairs.

    Parameters
    ----------
    values, baseline : array_like, shape (n_pairs,)
        One value per pair, in the same pair order (as from
        :meth:`AlignmentExperiment.pair_scores` or :meth:`AlignmentExperiment.model_scores`;
        a difference of such arrays works too).
    confidence : float
        Level of the one-sided bound, in ``(0, 1)``.

    Returns
    -------
    PairedDifference

    Examples
    --------
    >>> d = paired_difference([0.9, 0.8, 0.85], [0.5, 0.45, 0.5])
    >>> round(d.mean, 3), d.lower > 0.3
    (0.367, True)
    """
    a = check_real_array(values, "values")
    b = check_real_array(baseline, "baseline")
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"values and baseline must be 1-D, non-empty and of the same length "
                         f"(one per pair), got shapes {a.shape} and {b.shape}")
    if not np.all(np.isfinite(a) & np.isfinite(b)):
        raise ValueError("values and baseline must be finite")
    confidence = check_real(confidence, "confidence")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    mean, sem = _mean_and_sem(a - b)
    half = float(_scipy_stats.t.ppf(confidence, a.size - 1)) * sem if a.size > 1 else np.inf
    return PairedDifference(mean=mean, sem=sem, n_pairs=a.size, lower=float(mean - half),
                            upper=float(mean + half), confidence=confidence)


def feature_importance(kind: str, n_features: int) -> np.ndarray:
    """Importance of each toy-model feature, shape ``(n_features,)``.

    ``"uniform"``: every feature 1. ``"power-law"`` (Longon et al., 2025): feature ``i`` has
    importance ``(1 + 2 i / n_features) ** -2``, from 1 down to about 0.11.
    """
    kind = check_choice(kind, "kind", IMPORTANCES)
    n_features = check_int(n_features, "n_features", minimum=1)
    if kind == "uniform":
        return np.ones(n_features)
    return (1.0 + 2.0 * np.arange(n_features) / n_features) ** -2.0


def run_alignment_experiment(
    *,
    widths: Sequence[int] = (8, 16, 32),
    n_features: int = 64,
    feature_probability: float = 0.02,
    importance: str = "uniform",
    k: int = 2,
    n_latents: int | None = None,
    n_pairs: int = 3,
    toy_steps: int = 3_000,
    toy_batch_size: int = 1_024,
    toy_lr: float = 3e-3,
    toy_weight_decay: float = 0.0,
    shared_data: bool = False,
    sae_steps: int = 2_000,
    sae_batch_size: int = 256,
    sae_lr: float = 3e-3,
    decoder_norm: str = "unit",
    sae_options: dict | None = None,
    n_train: int = 20_000,
    n_stimuli: int = 1_000,
    n_folds: int = 5,
    metrics: dict | None = None,
    seed: int = 0,
    progress: bool = True,
) -> AlignmentExperiment:
    """Train toy-model pairs and their SAEs at several widths, and score every comparison.

    Parameters
    ----------
    widths : sequence of int
        Hidden widths ``H`` of the toy models.
    n_features : int
        Features ``F`` of every toy model.
    feature_probability : float
        Probability that a feature is present, in ``(0, 1]``.
    importance : {"uniform", "power-law"}
        Feature importances in the toy models' loss (:func:`feature_importance`).
    k : int
        Active latents of each TopK SAE.
    n_latents : int, optional
        Latents of each SAE; default ``n_features``.
    n_pairs : int
        Pairs of models per width, the independent units of every error bar (at least 2 for
        an error bar, 3 or more to compare).
    toy_steps, toy_batch_size : int
        Training steps of the toy models, and feature vectors per model per step.
    toy_lr, toy_weight_decay : float
        AdamW's learning rate and decoupled weight decay for the toy models (0: Adam).
    shared_data : bool
        Train the two models of a pair on the same batches (they differ only in their initial
        weights), pair ``q`` on the same batches at every width, as the paper does; otherwise
        every model draws its own batches.
    sae_steps, sae_batch_size : int
        Training steps of each SAE and activations per step (drawn with replacement from the
        ``n_train`` training stimuli).
    sae_lr : float
        Adam's learning rate for the SAEs.
    decoder_norm : {"unit", "penalty"}
        ``"unit"``: decoder atoms kept at unit length; ``"penalty"``: free atoms (a TopK SAE
        has no penalty), as in the paper (:class:`srmlib.sae.SparseAutoencoder`).
    sae_options : dict, optional
        Further keyword arguments of :class:`srmlib.sae.TopKSAE` (``aux_coefficient``,
        ``aux_k``) and of :func:`srmlib.sae.train_sae` (for example ``dead_steps``); not those
        set here (``k``, ``decoder_norm``, ``steps``, ``batch_size``, ``lr``, ``centre``,
        ``seed``, ``progress``).
    n_train : int
        Stimuli (inputs with at least one feature) the SAEs train on.
    n_stimuli : int
        Held-out stimuli the metrics compare on.
    n_folds : int
        Folds of the mapping metrics' cross-validation.
    metrics : dict, optional
        Display name -> (metric name, options); default :data:`DEFAULT_METRICS`.
    seed : int
        Seeds the models (as :func:`srmlib.toy.instance_seeds`), the data, the SAEs and the
        folds, each from its own stream.
    progress : bool
        Show a progress bar.

    Returns
    -------
    AlignmentExperiment
    """
    widths = [check_int(w, "widths", minimum=1) for w in widths]
    if not widths:
        raise ValueError("widths must name at least one hidden width")
    n_features = check_int(n_features, "n_features", minimum=2)
    p = check_real(feature_probability, "feature_probability")
    if not 0.0 < p <= 1.0:
        raise ValueError(f"feature_probability must lie in (0, 1], got {p}")
    importance = check_choice(importance, "importance", IMPORTANCES)
    n_latents = n_features if n_latents is None else check_int(n_latents, "n_latents", minimum=1)
    k = check_int(k, "k", minimum=1)
    if k > n_latents:
        raise ValueError(f"k must be at most n_latents={n_latents}, got {k}")
    n_pairs = check_int(n_pairs, "n_pairs", minimum=1)
    toy_steps = check_int(toy_steps, "toy_steps", minimum=1)
    toy_batch_size = check_int(toy_batch_size, "toy_batch_size", minimum=1)
    toy_lr = _check_rate(toy_lr, "toy_lr", positive=True)
    toy_weight_decay = _check_rate(toy_weight_decay, "toy_weight_decay")
    shared_data = check_bool(shared_data, "shared_data")
    sae_steps = check_int(sae_steps, "sae_steps", minimum=1)
    sae_batch_size = check_int(sae_batch_size, "sae_batch_size", minimum=1)
    sae_lr = _check_rate(sae_lr, "sae_lr", positive=True)
    decoder_norm = check_choice(decoder_norm, "decoder_norm", _sae.DECODER_NORMS)
    sae_options = _check_sae_options(sae_options)
    n_train = check_int(n_train, "n_train", minimum=1)
    n_folds = check_int(n_folds, "n_folds", minimum=1)
    n_stimuli = check_int(n_stimuli, "n_stimuli", minimum=4 * n_folds)
    metrics = dict(DEFAULT_METRICS if metrics is None else metrics)
    for name, (metric, options) in metrics.items():
        if metric not in _metrics.METRICS or not isinstance(options, dict):
            raise ValueError(f"metrics[{name!r}] must be (a name in srmlib.metrics.METRICS, "
                             f"a dict of options), got {(metric, options)!r}")
    seed = check_seed(seed, "seed")
    progress = check_bool(progress, "progress")
    parameters = dict(widths=widths, n_features=n_features, feature_probability=p,
                      importance=importance, k=k, n_latents=n_latents, n_pairs=n_pairs,
                      toy_steps=toy_steps, toy_batch_size=toy_batch_size, toy_lr=toy_lr,
                      toy_weight_decay=toy_weight_decay, shared_data=shared_data,
                      sae_steps=sae_steps, sae_batch_size=sae_batch_size, sae_lr=sae_lr,
                      decoder_norm=decoder_norm, sae_options=sae_options, n_train=n_train,
                      n_stimuli=n_stimuli, n_folds=n_folds, metrics=metrics, seed=seed)
    toy_training = dict(steps=toy_steps, batch_size=toy_batch_size, lr=toy_lr,
                        weight_decay=toy_weight_decay)
    sae_architecture = {key: value for key, value in sae_options.items()
                        if key in _topk_options()}
    sae_training = dict(steps=sae_steps, batch_size=sae_batch_size, lr=sae_lr,
                        **{key: value for key, value in sae_options.items()
                           if key not in sae_architecture})

    features = _stimuli(n_features, p, n_train + n_stimuli, seed)
    train, test = features[:n_train], features[n_train:]
    scores, models, pairs = [], [], []
    bar = tqdm(total=len(widths) * (1 + 3 * n_pairs), desc="alignment experiment", unit="step",
               disable=not progress)
    # Every array here is small: extra BLAS or torch threads only wait for each other (a
    # small SAE's training step ran several times slower on two threads of a loaded machine).
    with single_thread():
        for width in widths:
            bar.set_postfix_str(f"H={width}: toy models")
            model = _train_toy_models(width, n_features, p, importance, n_pairs, shared_data,
                                      toy_training, seed)
            hidden_train, hidden_test = _hidden(model, train), _hidden(model, test)
            bar.update(1)
            for pair in range(n_pairs):
                reps = {}
                for side, instance in (("A", 2 * pair), ("B", 2 * pair + 1)):
                    bar.set_postfix_str(f"H={width}: SAE of model {side}{pair}")
                    sae_seed = torch_seed(seed, "alignment.sae", width, instance)
                    rep, diagnostics = _model_representations(
                        model, instance, hidden_train[:, instance], hidden_test[:, instance],
                        test, n_latents, dict(k=k, decoder_norm=decoder_norm, **sae_architecture),
                        sae_training, sae_seed, n_folds)
                    reps[side] = rep
                    models.append(dict(width=width, pair=pair, model=side, **diagnostics))
                    bar.update(1)
                represented = [models[-2]["represented"], models[-1]["represented"]]
                pairs.append(dict(width=width, pair=pair, n_features=n_features,
                                  shared=int(np.count_nonzero(represented[0] & represented[1]))))
                bar.set_postfix_str(f"H={width}: metrics of pair {pair}")
                scores += _score_pair(reps["A"], reps["B"], metrics, n_folds, seed, width, pair)
                bar.update(1)
    bar.close()
    return AlignmentExperiment(scores=scores, models=models, pairs=pairs, parameters=parameters)


# --------------------------------------------------------------------------- internals


def _stimuli(n_features: int, p: float, n: int, seed: int) -> np.ndarray:
    """``n`` feature vectors with at least one feature present, shape ``(n, n_features)``."""
    config = _toy.ToyConfig(n_features=n_features, n_hidden=1, n_instances=1,
                            feature_probability=p)
    kept, draw = [], 0
    while sum(len(x) for x in kept) < n:
        x = _toy.sample_features(config, 2 * n,
                                 seed=[torch_seed(seed, "alignment.stimuli", draw)])
        x = x[:, 0].numpy()
        kept.append(x[x.any(axis=1)])
        draw += 1
    return np.concatenate(kept)[:n]


def _train_toy_models(width, n_features, p, importance, n_pairs, shared_data, training,
                      seed) -> _toy.ToyModel:
    """The ``2 * n_pairs`` toy models of one width, trained; pair ``q`` is instances 2q, 2q+1."""
    config = _toy.ToyConfig(n_features=n_features, n_hidden=width, n_instances=2 * n_pairs,
                            feature_probability=p, hidden_activation="relu")
    model = _toy.ToyModel(config, seed=seed)
    # ToyConfig's importances are geometric (importance_decay ** i); the loss reads the model's
    # importance buffer, which takes any other profile.
    with torch.no_grad():
        model.importance.copy_(torch.as_tensor(feature_importance(importance, n_features)))
    # Per-instance data seeds: the two models of a pair (and pair q at every width) share one.
    data_seed = ([torch_seed(seed, "alignment.toy_data", pair) for pair in range(n_pairs)
                  for _ in range(2)] if shared_data else seed)
    _toy.train_toy_model(model, seed=data_seed, progress=False, **training)
    return model


def _hidden(model: _toy.ToyModel, x: np.ndarray) -> np.ndarray:
    """Hidden activations of every instance on the features ``x``: ``(n, n_instances, H)``."""
    inputs = torch.as_tensor(x, dtype=torch.float32)[:, None, :].expand(
        -1, model.config.n_instances, -1)
    with torch.no_grad(), torch_threads(1):
        return model.hidden(inputs).numpy()


def _encode(autoencoder: _sae.SparseAutoencoder, x: np.ndarray) -> np.ndarray:
    with torch.no_grad(), torch_threads(1):
        return autoencoder.encode(torch.as_tensor(x, dtype=torch.float32)).numpy().astype(
            np.float64)


def _model_representations(model, instance, hidden_train, hidden_test, test, n_latents,
                           architecture, training, sae_seed, n_folds):
    """The three representations of one model on the test stimuli, and its diagnostics.

    ``architecture``: the :class:`srmlib.sae.TopKSAE` options (``k``, ``decoder_norm``, ...);
    ``training``: :func:`srmlib.sae.train_sae`'s.
    """
    width = model.config.n_hidden
    trained = _sae.TopKSAE(width, n_latents, seed=sae_seed, **architecture)
    _sae.train_sae(trained, hidden_train, centre=False, seed=sae_seed, progress=False,
                   **training)
    untrained = _sae.TopKSAE(width, n_latents, **architecture,
                             seed=torch_seed(sae_seed, "alignment.random_sae"))
    hidden_test = hidden_test.astype(np.float64)
    rep = {"Neuron": hidden_test, "SAE": _encode(trained, hidden_test),
           "RandomSAE": _encode(untrained, hidden_test)}
    evaluation = _sae.evaluate_sae(trained, hidden_test)
    norms = np.linalg.norm(model.feature_directions(instance), axis=1)
    diagnostics = dict(
        represented=norms >= REPRESENTED_NORM,
        n_represented=int(np.count_nonzero(norms >= REPRESENTED_NORM)),
        fvu=evaluation.fvu, l0=evaluation.l0, n_dead=evaluation.n_dead,
        **{key: _metrics.semi_matching(rep[name], test, n_folds=n_folds).mean
           for key, name in (("neurons", "Neuron"), ("sae", "SAE"),
                             ("random_sae", "RandomSAE"))})
    return rep, diagnostics


def _mean_and_sem(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error (``std(ddof=1) / sqrt(n)``; NaN for one value)."""
    if len(values) == 1:
        return float(values[0]), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def _check_rate(value, name: str, *, positive: bool = False) -> float:
    """A learning rate (positive) or weight decay (non-negative), finite."""
    value = check_real(value, name)
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'non-negative'} and "
                         f"finite, got {value}")
    return value


def _check_sae_options(options) -> dict:
    if options is None:
        return {}
    if not isinstance(options, dict) or not all(isinstance(key, str) for key in options):
        raise TypeError(f"sae_options must be a dict of TopKSAE and train_sae keyword "
                        f"arguments, got {options!r}")
    accepted = _topk_options() | (set(inspect.signature(_sae.train_sae).parameters)
                                  - {"sae", "activations"})
    unknown = sorted(set(options) - accepted)
    reserved = sorted(set(options) & set(_SAE_ARGUMENTS_SET_HERE))
    if unknown or reserved:
        raise ValueError(f"sae_options: {unknown + reserved} are not TopKSAE or train_sae "
                         f"options this experiment leaves open (it sets "
                         f"{_SAE_ARGUMENTS_SET_HERE} itself)")
    return dict(options)


def _topk_options() -> set[str]:
    """The keyword arguments of :class:`srmlib.sae.TopKSAE` (``k``, ``aux_coefficient``, ...)."""
    return set(inspect.signature(_sae.TopKSAE).parameters) - {"n_inputs", "n_latents"}


def _score_pair(a, b, metrics, n_folds, seed, width, pair) -> list[dict]:
    rows = []
    for comparison in COMPARISONS:
        source, target = comparison.split("->")
        for name, (metric, options) in metrics.items():
            if metric in ("semi-matching", "soft-matching", "linear predictivity"):
                options = {"n_folds": n_folds, "seed": seed, **options}
            result = _metrics.compare(a[source], b[target], metric, **options)
            rows.append(dict(width=width, pair=pair, comparison=comparison, metric=name,
                             mean=result.mean, scores=result.scores,
                             higher_is_better=result.higher_is_better))
    return rows
