"""srmlib.alignment: the experiment driver's structure, reproducibility and validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from srmlib import alignment, metrics, toy

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
