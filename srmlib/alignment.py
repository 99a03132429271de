"""Does superposition hide alignment? Toy-model pairs, their SAEs, and every alignment metric.

Chapter 6 ("Superposition hides alignment") runs this experiment, a CPU-sized reproduction of
the toy-model experiment of Longon, Klindt & Khosla (2025):

1. for each hidden width, ``2 * n_pairs`` toy models of superposition with a ReLU hidden layer
   (:mod:`srmlib.toy`) are trained side by side, on the same feature distribution, from
   different seeds; instances ``2q`` and ``2q + 1`` form pair ``q``;
2. a TopK sparse autoencoder (:mod:`srmlib.sae`) is trained on each model's hidden layer, and
   an untrained one with the same shape is kept as a control;
3. on held-out stimuli shown to both models of a pair, every metric of :mod:`srmlib.metrics`
   compares model A's representation (the source) with model B's (the target) in four ways,
   :data:`COMPARISONS`: neurons to neurons, SAE latents to neurons, SAE latents to SAE
   latents, and random-SAE latents to random-SAE latents;
4. diagnostics: how well each model's neurons, SAE latents and random-SAE latents match the
   ground-truth features, and how many features both models of a pair represent.

Results come back as plain lists of dicts (one per score, one per model, one per pair) in an
:class:`AlignmentExperiment`, whose :meth:`~AlignmentExperiment.table` prints them.

References
----------
Longon, A., Klindt, D. & Khosla, M. (2025). Superposition disentanglement of neural
representations reveals hidden alignment. arXiv:2510.03186.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from . import metrics as _metrics
from . import sae as _sae
from . import toy as _toy
from ._threads import single_thread, torch_threads
from ._random import torch_seed
from ._validation import check_bool, check_int, check_real

__all__ = [
    "COMPARISONS",
    "DEFAULT_METRICS",
    "AlignmentExperiment",
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
}

# A feature counts as represented by a toy model when its column W_i is at least this long.
REPRESENTED_NORM = 0.5


@dataclass(frozen=True)
class AlignmentExperiment:
    """Scores and diagnostics of :func:`run_alignment_experiment`.

    Attributes
    ----------
    scores : list of dict
        One per (width, pair, comparison, metric): keys ``width``, ``pair``, ``comparison``,
        ``metric``, ``mean`` and ``sem`` (over folds; NaN for fit-free metrics), ``scores``
        (per fold) and ``higher_is_better``.
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

    def summary(self, metric: str, comparison: str, width: int) -> tuple[float, float]:
        """Mean over pairs, and its error: the SEM over pairs, or over folds for one pair.

        Returns
        -------
        (mean, error) : tuple of float
            ``error`` is NaN for a fit-free metric with a single pair.
        """
        rows = [r for r in self.scores if r["metric"] == metric and r["comparison"] == comparison
                and r["width"] == width]
        if not rows:
            raise ValueError(f"no score for metric={metric!r}, comparison={comparison!r}, "
                             f"width={width!r}")
        means = np.array([r["mean"] for r in rows])
        if len(rows) == 1:
            return float(means[0]), float(rows[0]["sem"])
        return float(means.mean()), float(means.std(ddof=1) / np.sqrt(len(means)))

    def bars(self, metric: str) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        """``(means, errors)`` of one metric: comparison -> one value per width."""
        means = {c: [self.summary(metric, c, w)[0] for w in self.widths] for c in COMPARISONS}
        errors = {c: [self.summary(metric, c, w)[1] for w in self.widths] for c in COMPARISONS}
        return means, errors

    def model_summary(self, key: str, width: int) -> float:
        """Mean over the models of one width of a key of :attr:`models`."""
        return float(np.mean([m[key] for m in self.models if m["width"] == width]))

    def table(self, metric: str | None = None) -> str:
        """The scores as text: one row per metric and comparison, one column per width.

        Each cell is the mean over pairs with its error (:meth:`summary`); distances are
        marked ``(lower is better)``.
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


def run_alignment_experiment(
    *,
    widths: Sequence[int] = (8, 16, 32),
    n_features: int = 64,
    feature_probability: float = 0.02,
    k: int = 2,
    n_latents: int | None = None,
    n_pairs: int = 1,
    toy_steps: int = 3_000,
    toy_batch_size: int = 1_024,
    sae_steps: int = 2_000,
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
        Features ``F`` of every toy model (each with importance 1).
    feature_probability : float
        Probability that a feature is present, in ``(0, 1]``.
    k : int
        Active latents of each TopK SAE.
    n_latents : int, optional
        Latents of each SAE; default ``n_features``.
    n_pairs : int
        Pairs of models per width (more pairs: error bars over pairs).
    toy_steps, sae_steps : int
        Training steps of the toy models (lr 3e-3) and of each SAE (batch 256).
    toy_batch_size : int
        Feature vectors per toy model per training step.
    n_train : int
        Stimuli (inputs with at least one feature) the SAEs train on.
    n_stimuli : int
        Held-out stimuli the metrics compare on.
    n_folds : int
        Folds of the mapping metrics' cross-validation.
    metrics : dict, optional
        Display name -> (metric name, options); default :data:`DEFAULT_METRICS`.
    seed : int
        Seeds the models (as :func:`srmlib.toy.instance_seeds`), the data, the SAEs and the folds.
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
    n_latents = n_features if n_latents is None else check_int(n_latents, "n_latents", minimum=1)
    k = check_int(k, "k", minimum=1)
    if k > n_latents:
        raise ValueError(f"k must be at most n_latents={n_latents}, got {k}")
    n_pairs = check_int(n_pairs, "n_pairs", minimum=1)
    toy_steps = check_int(toy_steps, "toy_steps", minimum=1)
    toy_batch_size = check_int(toy_batch_size, "toy_batch_size", minimum=1)
    sae_steps = check_int(sae_steps, "sae_steps", minimum=1)
    n_train = check_int(n_train, "n_train", minimum=1)
    n_stimuli = check_int(n_stimuli, "n_stimuli", minimum=4 * n_folds)
    n_folds = check_int(n_folds, "n_folds", minimum=1)
    metrics = dict(DEFAULT_METRICS if metrics is None else metrics)
    for name, (metric, options) in metrics.items():
        if metric not in _metrics.METRICS or not isinstance(options, dict):
            raise ValueError(f"metrics[{name!r}] must be (a name in srmlib.metrics.METRICS, "
                             f"a dict of options), got {(metric, options)!r}")
    seed = check_int(seed, "seed", minimum=0)
    progress = check_bool(progress, "progress")
    parameters = dict(widths=widths, n_features=n_features, feature_probability=p, k=k,
                      n_latents=n_latents, n_pairs=n_pairs, toy_steps=toy_steps,
                      toy_batch_size=toy_batch_size, sae_steps=sae_steps, n_train=n_train,
                      n_stimuli=n_stimuli, n_folds=n_folds, metrics=metrics, seed=seed)

    features = _stimuli(n_features, p, n_train + n_stimuli, seed)
    train, test = features[:n_train], features[n_train:]
    scores, models, pairs = [], [], []
    bar = tqdm(total=len(widths) * (1 + 3 * n_pairs), desc="alignment experiment", unit="step",
               disable=not progress)
    # Every array here is small: extra BLAS or torch threads only wait for each other (the
    # numpy SAE loop ran 8 times slower on two BLAS threads on a loaded machine).
    with single_thread():
        for width in widths:
            bar.set_postfix_str(f"H={width}: toy models")
            model = _train_toy_models(width, n_features, p, 2 * n_pairs, toy_steps,
                                      toy_batch_size, seed)
            bar.update(1)
            for pair in range(n_pairs):
                reps = {}
                for side, instance in (("A", 2 * pair), ("B", 2 * pair + 1)):
                    bar.set_postfix_str(f"H={width}: SAE of model {side}{pair}")
                    sae_seed = torch_seed(seed, "alignment.sae", width, instance)
                    rep, diagnostics = _model_representations(
                        model, instance, train, test, n_latents, k, sae_steps, sae_seed,
                        n_folds)
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


def _train_toy_models(width, n_features, p, n_instances, steps, batch_size,
                      seed) -> _toy.ToyModel:
    config = _toy.ToyConfig(n_features=n_features, n_hidden=width, n_instances=n_instances,
                            feature_probability=p, hidden_activation="relu")
    model = _toy.ToyModel(config, seed=seed)
    _toy.train_toy_model(model, steps=steps, batch_size=batch_size, lr=3e-3, seed=seed,
                         progress=False)
    return model


def _hidden(model: _toy.ToyModel, instance: int, x: np.ndarray) -> np.ndarray:
    """Hidden activations of one instance on the features ``x``, shape ``(n, n_hidden)``."""
    inputs = torch.as_tensor(x, dtype=torch.float32)[:, None, :].expand(
        -1, model.config.n_instances, -1)
    with torch.no_grad(), torch_threads(1):
        return model.hidden(inputs)[:, instance].numpy().astype(np.float64)


def _encode(autoencoder: _sae.SparseAutoencoder, x: np.ndarray) -> np.ndarray:
    with torch.no_grad(), torch_threads(1):
        return autoencoder.encode(torch.as_tensor(x, dtype=torch.float32)).numpy().astype(
            np.float64)


def _model_representations(model, instance, train, test, n_latents, k, sae_steps, sae_seed,
                           n_folds):
    """The three representations of one model on ``test``, and its diagnostics."""
    width = model.config.n_hidden
    hidden_train, hidden_test = _hidden(model, instance, train), _hidden(model, instance, test)
    trained = _sae.SparseAutoencoder(width, n_latents, kind="topk", k=k, seed=sae_seed)
    _sae.train_sae(trained, hidden_train, steps=sae_steps, centre=False, seed=sae_seed,
                   progress=False)
    untrained = _sae.SparseAutoencoder(width, n_latents, kind="topk", k=k,
                                       seed=torch_seed(sae_seed, "alignment.random_sae"))
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


def _score_pair(a, b, metrics, n_folds, seed, width, pair) -> list[dict]:
    rows = []
    for comparison in COMPARISONS:
        source, target = comparison.split("->")
        for name, (metric, options) in metrics.items():
            if metric in ("semi-matching", "soft-matching", "linear predictivity"):
                options = {"n_folds": n_folds, "seed": seed, **options}
            result = _metrics.compare(a[source], b[target], metric, **options)
            rows.append(dict(width=width, pair=pair, comparison=comparison, metric=name,
                             mean=result.mean, sem=result.sem, scores=result.scores,
                             higher_is_better=result.higher_is_better))
    return rows
