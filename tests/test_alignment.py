"""srmlib.alignment: the experiment driver's structure, reproducibility and validation."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats
from threadpoolctl import threadpool_info

from srmlib import alignment, metrics, toy
from srmlib._random import torch_seed

SMALL = dict(widths=(3, 5), n_features=8, feature_probability=0.1, k=1, n_pairs=2,
             toy_steps=60, toy_batch_size=128, sae_steps=60, n_train=400, n_stimuli=120, n_folds=3,
             metrics={"semi-matching": ("semi-matching", {}), "cka": ("cka", {})},
             progress=False)


@pytest.fixture(scope="module")
def experiment():
    return alignment.run_alignment_experiment(seed=0, **SMALL)


def test_every_width_pair_comparison_and_metric_is_scored(experiment):
    assert experiment.widths == [3, 5] and experiment.metrics == ["semi-matching", "cka"]
    assert len(experiment.scores) == 2 * 2 * len(alignment.COMPARISONS) * 2
    assert len(experiment.models) == 2 * 2 * 2 and len(experiment.pairs) == 2 * 2
    for row in experiment.scores:
        assert np.isfinite(row["mean"])
        if row["metric"] == "semi-matching":
            assert len(row["scores"]) == 3 and row["higher_is_better"]
    for pair in experiment.pairs:
        assert 0 <= pair["shared"] <= 8
    for model in experiment.models:
        assert 0.0 <= model["sae"] <= 1.0 and model["n_represented"] == model["represented"].sum()


def test_summary_averages_pairs_and_errors_are_their_sem(experiment):
    rows = [r["mean"] for r in experiment.scores
            if (r["metric"], r["comparison"], r["width"]) == ("cka", "SAE->SAE", 5)]
    mean, error = experiment.summary("cka", "SAE->SAE", 5)
    assert mean == pytest.approx(np.mean(rows))
    assert error == pytest.approx(np.std(rows, ddof=1) / np.sqrt(2))
    means, errors = experiment.bars("cka")
    assert list(means) == list(alignment.COMPARISONS) and means["SAE->SAE"][1] == mean
    with pytest.raises(ValueError, match="no score"):
        experiment.summary("rsa", "SAE->SAE", 5)


def test_pair_and_model_scores_are_one_value_per_pair(experiment):
    scores = experiment.pair_scores("semi-matching", "SAE->SAE", 3)
    rows = {r["pair"]: r["mean"] for r in experiment.scores
            if (r["metric"], r["comparison"], r["width"]) == ("semi-matching", "SAE->SAE", 3)}
    assert experiment.n_pairs == 2 and scores.tolist() == [rows[0], rows[1]]
    per_model = {(m["pair"], m["model"]): m["sae"] for m in experiment.models if m["width"] == 3}
    expected = [(per_model[q, "A"] + per_model[q, "B"]) / 2 for q in (0, 1)]
    assert experiment.model_scores("sae", 3) == pytest.approx(expected)
    assert experiment.model_summary("sae", 3) == pytest.approx(np.mean(expected))
    with pytest.raises(ValueError, match="no model value"):
        experiment.model_scores("nothing", 3)


def test_one_pair_has_no_error_bar_folds_are_not_independent():
    one = alignment.run_alignment_experiment(seed=0, **{**SMALL, "widths": (3,), "n_pairs": 1})
    mean, error = one.summary("semi-matching", "Neuron->Neuron", 3)
    assert np.isfinite(mean) and np.isnan(error)
    assert "+-" not in one.table().splitlines()[2]


def test_table_lists_every_cell(experiment):
    text = experiment.table()
    assert "H=3" in text and "H=5" in text
    assert len(text.splitlines()) == 2 + 2 * len(alignment.COMPARISONS)
    mean, error = experiment.summary("semi-matching", "Neuron->Neuron", 3)
    assert f"{mean:.3f} +-{error:5.3f}" in text


def test_neuron_scores_match_the_metric_on_the_models_own_hidden_layers(experiment):
    """Rebuild width 3's models from the public toy API and score their neurons directly."""
    features = alignment._stimuli(8, 0.1, 400 + 120, 0)[400:]
    config = toy.ToyConfig(n_features=8, n_hidden=3, n_instances=4, feature_probability=0.1,
                           hidden_activation="relu")
    model = toy.ToyModel(config, seed=0)
    toy.train_toy_model(model, steps=60, batch_size=128, lr=3e-3, seed=0, progress=False)
    w = model.W.detach().numpy().astype(np.float64)
    a, b = np.maximum(features @ w[2].T, 0), np.maximum(features @ w[3].T, 0)
    expected = metrics.semi_matching(a, b, n_folds=3, seed=0).mean
    row = next(r for r in experiment.scores if (r["metric"], r["comparison"], r["width"], r["pair"])
               == ("semi-matching", "Neuron->Neuron", 3, 1))
    assert row["mean"] == pytest.approx(expected, abs=1e-5)
    assert np.all(features.any(axis=1))


def test_same_seed_same_numbers_and_another_seed_differs(experiment):
    again = alignment.run_alignment_experiment(seed=0, **SMALL)
    assert [r["mean"] for r in again.scores] == [r["mean"] for r in experiment.scores]
    other = alignment.run_alignment_experiment(seed=1, **SMALL)
    assert [r["mean"] for r in other.scores] != [r["mean"] for r in experiment.scores]


def test_bad_parameters_name_the_argument():
    with pytest.raises(ValueError, match="widths"):
        alignment.run_alignment_experiment(widths=())
    with pytest.raises(ValueError, match="feature_probability"):
        alignment.run_alignment_experiment(feature_probability=1.5)
    with pytest.raises(ValueError, match="k must be at most"):
        alignment.run_alignment_experiment(n_features=8, k=9)
    with pytest.raises(ValueError, match="metrics"):
        alignment.run_alignment_experiment(metrics={"x": ("cca", {})})
    with pytest.raises(TypeError, match="progress"):
        alignment.run_alignment_experiment(progress=1)
    with pytest.raises(TypeError, match="n_pairs"):
        alignment.run_alignment_experiment(n_pairs=1.0)
    with pytest.raises(ValueError, match="toy_batch_size"):
        alignment.run_alignment_experiment(toy_batch_size=0)


def test_thread_settings_are_restored():
    """The experiment runs on one BLAS and one torch thread, and gives the settings back."""
    blas_before = [lib["num_threads"] for lib in threadpool_info()]
    torch_before = torch.get_num_threads()
    alignment.run_alignment_experiment(seed=0, **{**SMALL, "widths": (3,), "n_pairs": 1})
    assert [lib["num_threads"] for lib in threadpool_info()] == blas_before
    assert torch.get_num_threads() == torch_before


def test_paired_difference_matches_a_paired_t_interval():
    """The lower bound is the one-sided confidence bound of scipy's paired t-test."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.6, 0.1, 5), rng.normal(0.4, 0.1, 5)
    d = alignment.paired_difference(a, b)
    differences = a - b
    assert d.mean == pytest.approx(differences.mean())
    assert d.sem == pytest.approx(scipy_stats.sem(differences))
    bound = scipy_stats.ttest_rel(a, b, alternative="greater").confidence_interval(0.95).low
    assert d.lower == pytest.approx(bound) and d.n_pairs == 5 and d.confidence == 0.95
    upper = scipy_stats.ttest_rel(a, b, alternative="less").confidence_interval(0.95).high
    assert d.upper == pytest.approx(upper)
    assert alignment.paired_difference(a, b, confidence=0.99).lower < d.lower
    assert "SEM over 5 pairs" in str(d)
    single = alignment.paired_difference([0.5], [0.2])
    assert single.mean == pytest.approx(0.3) and np.isnan(single.sem)
    assert single.lower == -np.inf and single.upper == np.inf


def test_paired_difference_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        alignment.paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        alignment.paired_difference([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="confidence"):
        alignment.paired_difference([1.0, 2.0], [0.0, 1.0], confidence=1.0)


def test_feature_importance_profiles():
    assert alignment.feature_importance("uniform", 4).tolist() == [1.0, 1.0, 1.0, 1.0]
    power = alignment.feature_importance("power-law", 64)
    # The paper's profile, written out: x_i = 1 + 2 i / 64 on [1, 3), importance x_i ** -2.
    assert power == pytest.approx([(1 + 2 * i / 64) ** -2 for i in range(64)])
    assert power[0] == 1.0 and 0.11 < power[-1] < 0.12 and np.all(np.diff(power) < 0)
    with pytest.raises(ValueError, match="kind"):
        alignment.feature_importance("exponential", 4)


def test_importance_and_shared_data_reach_the_toy_models():
    """A pair trained on shared data equals the same models trained by hand on one data seed."""
    options = dict(SMALL, widths=(3,), n_pairs=1, importance="power-law", shared_data=True,
                   toy_lr=1e-3, toy_weight_decay=0.01)
    result = alignment.run_alignment_experiment(seed=0, **options)
    features = alignment._stimuli(8, 0.1, 400 + 120, 0)[400:]
    config = toy.ToyConfig(n_features=8, n_hidden=3, n_instances=2, feature_probability=0.1,
                           hidden_activation="relu")
    model = toy.ToyModel(config, seed=0)
    model.importance.copy_(torch.as_tensor(alignment.feature_importance("power-law", 8)))
    data_seed = torch_seed(0, "alignment.toy_data", 0)
    toy.train_toy_model(model, steps=60, batch_size=128, lr=1e-3, weight_decay=0.01,
                        seed=[data_seed, data_seed], progress=False)
    w = model.W.detach().numpy().astype(np.float64)
    a, b = np.maximum(features @ w[0].T, 0), np.maximum(features @ w[1].T, 0)
    expected = metrics.semi_matching(a, b, n_folds=3, seed=0).mean
    assert result.pair_scores("semi-matching", "Neuron->Neuron", 3)[0] == pytest.approx(
        expected, abs=1e-5)
    unshared = alignment.run_alignment_experiment(seed=0, **{**options, "shared_data": False})
    assert unshared.pair_scores("semi-matching", "Neuron->Neuron", 3)[0] != pytest.approx(
        expected, abs=1e-5)


def test_sae_settings_reach_the_sae():
    """sae_options and decoder_norm change the trained SAE; the random SAE stays untrained."""
    base = dict(SMALL, widths=(3,), n_pairs=1)
    default = alignment.run_alignment_experiment(seed=0, **base)
    changed = alignment.run_alignment_experiment(
        seed=0, **base, decoder_norm="penalty", sae_lr=1e-3, sae_batch_size=64,
        sae_options=dict(aux_k=8, dead_steps=1, aux_coefficient=0.1))
    sae_sae = [e.pair_scores("semi-matching", "SAE->SAE", 3)[0] for e in (default, changed)]
    assert sae_sae[0] != sae_sae[1]
    neurons = [e.pair_scores("semi-matching", "Neuron->Neuron", 3)[0] for e in (default, changed)]
    assert neurons[0] == neurons[1]
    assert changed.parameters["sae_options"] == dict(aux_k=8, dead_steps=1, aux_coefficient=0.1)


def test_longon2025_preset_names_only_parameters_of_the_experiment():
    accepted = inspect.signature(alignment.run_alignment_experiment).parameters
    assert set(alignment.LONGON2025) <= set(accepted)
    assert alignment.LONGON2025["importance"] == "power-law"
    assert alignment.LONGON2025["k"] == 7 and alignment.LONGON2025["n_features"] == 64
    assert list(alignment.LONGON2025["metrics"]) == ["semi-matching", "soft-matching",
                                                     "linear predictivity"]


def test_bad_new_parameters_name_the_argument():
    with pytest.raises(ValueError, match="importance"):
        alignment.run_alignment_experiment(importance="linear")
    with pytest.raises(ValueError, match="toy_lr"):
        alignment.run_alignment_experiment(toy_lr=0.0)
    with pytest.raises(ValueError, match="toy_weight_decay"):
        alignment.run_alignment_experiment(toy_weight_decay=-1.0)
    with pytest.raises(TypeError, match="shared_data"):
        alignment.run_alignment_experiment(shared_data="yes")
    with pytest.raises(ValueError, match="sae_batch_size"):
        alignment.run_alignment_experiment(sae_batch_size=0)
    with pytest.raises(ValueError, match="sae_lr"):
        alignment.run_alignment_experiment(sae_lr=float("inf"))
    with pytest.raises(ValueError, match="decoder_norm"):
        alignment.run_alignment_experiment(decoder_norm="free")
    with pytest.raises(ValueError, match="sae_options"):
        alignment.run_alignment_experiment(sae_options={"steps": 10})
    with pytest.raises(ValueError, match="sae_options"):
        alignment.run_alignment_experiment(sae_options={"momentum": 0.9})
    with pytest.raises(TypeError, match="sae_options"):
        alignment.run_alignment_experiment(sae_options=[("aux_k", 2)])
