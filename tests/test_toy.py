"""srmlib.toy: batched training equals per-instance training, known geometries, validation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from srmlib import toy


def polygon(m: int) -> np.ndarray:
    angles = 2 * np.pi * np.arange(m) / m
    return np.c_[np.cos(angles), np.sin(angles)]


@pytest.mark.parametrize("hidden_activation", ["linear", "relu"])
def test_batched_training_equals_per_instance_training(hidden_activation):
    probs = [0.5, 0.1, 0.03]
    config = toy.ToyConfig(n_features=6, n_hidden=2, n_instances=3, feature_probability=probs,
                           importance_decay=0.9, hidden_activation=hidden_activation)
    batched = toy.ToyModel(config, seed=3)
    log = toy.train_toy_model(batched, steps=150, batch_size=64, lr=1e-2, seed=5,
                              weight_decay=0.01)
    weight_seeds, data_seeds = toy.instance_seeds(3, 3), toy.instance_seeds(5, 3)
    for k, p in enumerate(probs):
        alone_config = toy.ToyConfig(n_features=6, n_hidden=2, n_instances=1,
                                     feature_probability=p, importance_decay=0.9,
                                     hidden_activation=hidden_activation)
        alone = toy.ToyModel(alone_config, seed=[weight_seeds[k]])
        alone_log = toy.train_toy_model(alone, steps=150, batch_size=64, lr=1e-2,
                                        seed=[data_seeds[k]], weight_decay=0.01)
        torch.testing.assert_close(alone.W.detach()[0], batched.W.detach()[k],
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(alone.b.detach()[0], batched.b.detach()[k],
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(alone_log.losses[:, 0], log.losses[:, k], rtol=1e-4,
                                   atol=1e-6)


def test_instances_sharing_a_data_seed_train_as_each_would_alone():
    """Equal data seeds draw their batches once (a shortcut): the weights are unchanged."""
    config = toy.ToyConfig(n_features=6, n_hidden=2, n_instances=3, feature_probability=0.2,
                           hidden_activation="relu")
    batched = toy.ToyModel(config, seed=3)
    toy.train_toy_model(batched, steps=40, batch_size=32, lr=1e-2, seed=[11, 12, 11])
    weight_seeds = toy.instance_seeds(3, 3)
    for k, data_seed in enumerate([11, 12, 11]):
        alone = toy.ToyModel(toy.ToyConfig(n_features=6, n_hidden=2, n_instances=1,
                                           feature_probability=0.2, hidden_activation="relu"),
                             seed=[weight_seeds[k]])
        toy.train_toy_model(alone, steps=40, batch_size=32, lr=1e-2, seed=[data_seed])
        torch.testing.assert_close(alone.W.detach()[0], batched.W.detach()[k],
                                   rtol=1e-4, atol=1e-5)


def test_initialisation_and_data_depend_only_on_the_instance_seed():
    config = toy.ToyConfig(n_features=4, n_hidden=2, n_instances=3)
    seeds = toy.instance_seeds(7, 3)
    model = toy.ToyModel(config, seed=7)
    single = toy.ToyConfig(n_features=4, n_hidden=2, n_instances=1)
    for k in range(3):
        torch.testing.assert_close(toy.ToyModel(single, seed=[seeds[k]]).W[0], model.W[k])
    x = toy.sample_features(config, 50, seed=7)
    torch.testing.assert_close(toy.sample_features(single, 50, seed=[seeds[1]])[:, 0], x[:, 1])
    assert not torch.equal(x[:, 0], x[:, 1])
    torch.testing.assert_close(toy.ToyModel(config, seed=7).W, model.W)


def test_dimensionality_of_known_geometries():
    np.testing.assert_allclose(toy.feature_dimensionality(np.eye(4)), 1.0)
    np.testing.assert_allclose(toy.feature_dimensionality(np.eye(3) * 2.5), 1.0)
    np.testing.assert_allclose(toy.feature_dimensionality([[1.0, 0.0], [-1.0, 0.0]]), 0.5)
    np.testing.assert_allclose(toy.feature_dimensionality(polygon(3)), 2 / 3)
    np.testing.assert_allclose(toy.feature_dimensionality(polygon(5)), 2 / 5)
    tetrahedron = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    np.testing.assert_allclose(toy.feature_dimensionality(tetrahedron), 3 / 4)
    # a dropped feature gets 0 and does not change the others
    with_zero = np.vstack([polygon(5), np.zeros(2)])
    np.testing.assert_allclose(toy.feature_dimensionality(with_zero), [0.4] * 5 + [0.0])


def test_dimensionality_is_scale_invariant_and_sums_to_at_most_n_hidden():
    d = np.random.default_rng(0).standard_normal((30, 5))
    dims = toy.feature_dimensionality(d)
    np.testing.assert_allclose(toy.feature_dimensionality(3 * d), dims)
    rotation = np.linalg.qr(np.random.default_rng(1).standard_normal((5, 5)))[0]
    np.testing.assert_allclose(toy.feature_dimensionality(d @ rotation), dims)
    assert np.all((dims > 0) & (dims <= 1)) and dims.sum() <= 5 + 1e-9


def test_gram_norms_interference_and_total():
    d = polygon(5) * 2.0
    gram = toy.gram_matrix(d)
    np.testing.assert_allclose(np.diag(gram), 4.0)
    np.testing.assert_allclose(toy.feature_norms(d), 2.0)
    np.testing.assert_allclose(toy.interference(polygon(5)), 1.5)
    np.testing.assert_allclose(toy.interference(np.eye(3)), 0.0)
    assert toy.total_squared_norm(np.eye(2)) == pytest.approx(2.0)
    assert toy.total_squared_norm(polygon(5)) == pytest.approx(5.0)


@pytest.mark.parametrize("directions, name", [
    (np.eye(2), "orthogonal pair"),
    (np.array([[1.0, 0], [-1.0, 0]]), "antipodal pair"),
    (np.vstack([polygon(4), [[0.01, 0.0]]]), "two antipodal pairs"),
    (polygon(3), "triangle"),
    (polygon(5), "pentagon"),
    (np.array([[1.0, 0], [0.9, 0.3], [0, 1]]), "3 features, other"),
    (np.zeros((3, 2)), "none"),
])
def test_classify_arrangement(directions, name):
    assert toy.classify_arrangement(directions) == name


def test_sampling_sparsity_and_correlations():
    n = 20_000
    config = toy.ToyConfig(n_features=4, n_hidden=2, n_instances=2,
                           feature_probability=[0.5, 0.1])
    x = toy.sample_features(config, n, seed=0).numpy()
    assert x.shape == (n, 2, 4) and x.min() >= 0 and x.max() <= 1
    np.testing.assert_allclose((x > 0).mean(axis=(0, 2)), [0.5, 0.1], atol=0.01)
    corr = toy.sample_features(toy.ToyConfig(n_features=4, n_hidden=2, n_instances=1,
                                             feature_probability=0.2,
                                             correlation="correlated"), n).numpy()[:, 0]
    assert np.array_equal(corr[:, 0] > 0, corr[:, 1] > 0)
    assert (corr > 0).mean() == pytest.approx(0.2, abs=0.01)
    anti = toy.sample_features(toy.ToyConfig(n_features=4, n_hidden=2, n_instances=1,
                                             feature_probability=0.2,
                                             correlation="anticorrelated"), n).numpy()[:, 0]
    assert not np.any((anti[:, 0] > 0) & (anti[:, 1] > 0))
    assert (anti > 0).mean() == pytest.approx(0.2, abs=0.01)


def test_hidden_activations_and_directions():
    config = toy.ToyConfig(n_features=5, n_hidden=2, n_instances=2, hidden_activation="relu")
    model = toy.ToyModel(config, seed=0)
    acts, features = model.hidden_activations(1, 100, seed=4)
    assert acts.shape == (100, 2) and features.shape == (100, 5)
    np.testing.assert_allclose(features, toy.sample_features(config, 100, seed=4)[:, 1].numpy())
    d = model.feature_directions(1)
    np.testing.assert_allclose(acts, np.maximum(features @ d, 0), rtol=1e-5, atol=1e-6)
    assert d.shape == (5, 2)
    with pytest.raises(ValueError, match="instance"):
        model.feature_directions(2)


def test_training_reduces_the_loss_and_recovers_the_dense_solution():
    config = toy.ToyConfig(n_features=3, n_hidden=2, n_instances=1, feature_probability=1.0,
                           importance_decay=0.5)
    model = toy.ToyModel(config, seed=0)
    log = toy.train_toy_model(model, steps=1500, batch_size=256, lr=1e-2, progress=False)
    assert log.losses.shape == (len(log.steps), 1) and log.steps[-1] == 1500
    assert log.final_loss[0] < log.losses[0, 0]
    norms = toy.feature_norms(model.feature_directions(0))
    assert norms[0] > 0.9 and norms[1] > 0.9 and norms[2] < 0.2


def test_validation():
    with pytest.raises(ValueError, match="feature_probability"):
        toy.ToyConfig(n_instances=2, feature_probability=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="feature_probability"):
        toy.ToyConfig(feature_probability=0.0)
    with pytest.raises(ValueError, match="hidden_activation"):
        toy.ToyConfig(hidden_activation="tanh")
    with pytest.raises(ValueError, match="n_features must be even"):
        toy.ToyConfig(n_features=5, correlation="correlated")
    with pytest.raises(ValueError, match="correlation"):
        toy.ToyConfig(n_features=4, correlation="both")
    with pytest.raises(ValueError, match="seed"):
        toy.ToyModel(toy.ToyConfig(n_instances=2), seed=[1, 2, 3])
    with pytest.raises(TypeError, match="model"):
        toy.train_toy_model(object())
    with pytest.raises(ValueError, match="directions"):
        toy.feature_dimensionality(np.ones(3))
    with pytest.raises(ValueError, match="2-D hidden space"):
        toy.classify_arrangement(np.eye(3))


def _with_random_bias(model: toy.ToyModel, seed: int) -> toy.ToyModel:
    """The model with a nonzero bias (it starts at 0), so that checks see the bias."""
    with torch.no_grad():
        model.b.normal_(0.0, 0.3, generator=torch.Generator().manual_seed(seed))
    return model


@pytest.mark.parametrize("hidden_activation", ["linear", "relu"])
def test_batched_model_equals_one_instance_at_a_time(hidden_activation):
    """ToyModel's batched products against the formulas, instance by instance (the slow twin)."""
    config = toy.ToyConfig(n_features=6, n_hidden=3, n_instances=4, feature_probability=0.3,
                           importance_decay=0.8, hidden_activation=hidden_activation)
    model = _with_random_bias(toy.ToyModel(config, seed=1), seed=2)
    x = toy.sample_features(config, 64, seed=2)  # (batch, instance, feature)
    with torch.no_grad():
        hidden, out, loss = model.hidden(x), model(x), model.loss_per_instance(x)
    for k in range(config.n_instances):
        W, b, xk = model.W.detach()[k], model.b.detach()[k], x[:, k]
        h = xk @ W.T
        if hidden_activation == "relu":
            h = torch.relu(h)
        expected = torch.relu(h @ W + b)
        torch.testing.assert_close(hidden[:, k], h)
        torch.testing.assert_close(out[:, k], expected)
        torch.testing.assert_close(loss[k], (model.importance * (xk - expected) ** 2).mean())
    acts, features = model.hidden_activations(3, 32, seed=5)
    with torch.no_grad():
        np.testing.assert_allclose(
            acts, model.hidden(toy.sample_features(config, 32, seed=5))[:, 3].numpy(),
            rtol=1e-5, atol=1e-6)


def _chapter_model_code() -> dict:
    """Run the cell of chapter 4 that writes out one toy model, and return its namespace."""
    import jupytext

    chapter = jupytext.read(Path(__file__).resolve().parents[1] / "notebooks"
                            / "04_toy_models.md")
    cells = [c.source for c in chapter.cells
             if c.cell_type == "code" and "def toy_forward(" in c.source]
    assert len(cells) == 1, "chapter 4 should define toy_forward in exactly one code cell"
    namespace = {"torch": torch, "np": np}
    exec(cells[0], namespace)
    return namespace


def test_chapter_code_computes_what_the_package_computes():
    """Chapter 4 writes the forward pass and the loss of one model; ToyModel batches them."""
    chapter = _chapter_model_code()
    config = toy.ToyConfig(n_features=7, n_hidden=3, n_instances=3, feature_probability=0.4,
                           importance_decay=0.85)
    model = _with_random_bias(toy.ToyModel(config, seed=4), seed=5)
    x = toy.sample_features(config, 128, seed=6)
    with torch.no_grad():
        out, loss = model(x), model.loss_per_instance(x)
        for k in range(config.n_instances):
            W, b, xk = model.W[k], model.b[k], x[:, k]
            torch.testing.assert_close(chapter["toy_forward"](W, b, xk), out[:, k])
            torch.testing.assert_close(chapter["toy_loss"](W, b, xk, model.importance), loss[k])


@pytest.mark.parametrize("correlation", [None, "correlated", "anticorrelated"])
def test_block_draws_give_the_features_of_step_by_step_sampling(correlation):
    config = toy.ToyConfig(n_features=6, n_hidden=2, n_instances=1, feature_probability=0.2,
                           correlation=correlation)
    step_by_step = torch.Generator().manual_seed(7)
    expected = torch.stack([toy._sample_instance(config, 0, 16, step_by_step) for _ in range(5)])
    block = torch.empty((5, 2, 16, 6)).uniform_(generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(toy._features_from_draws(config, block, 0.2), expected)


def _against_torch_class(optimizer, torch_class, lr, **options):
    """Step the trainer's optimiser and ``torch_class`` (its defaults) on the same gradients,
    with a learning rate that changes, and return both sets of parameters."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 4, 5), (3, 5)]
    ours = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    fast = toy._TorchOptimiser(ours, optimizer, weight_decay=options.get("weight_decay", 0.0),
                               momentum=options.get("momentum", 0.0))
    slow = torch_class(theirs, lr=lr, **options)
    for step in range(25):
        grads = [torch.randn(s, generator=gen) * (step + 1) for s in shapes]
        for param, grad in zip(theirs, grads):
            param.grad = grad.clone()
        slow.param_groups[0]["lr"] = lr / (1 + step)
        fast.step(grads, lr / (1 + step))
        slow.step()
    return ours, theirs


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_training_optimiser_is_torch_adamw(weight_decay):
    ours, theirs = _against_torch_class("adam", torch.optim.AdamW, 1e-2,
                                        weight_decay=weight_decay)
    for a, b in zip(ours, theirs):  # float32 rounding: the fused kernel's order of operations
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.0, 0.0), (0.9, 0.0), (0.9, 0.05)])
def test_training_optimiser_is_torch_sgd(momentum, weight_decay):
    ours, theirs = _against_torch_class("sgd", torch.optim.SGD, 1e-1, momentum=momentum,
                                        weight_decay=weight_decay)
    for a, b in zip(ours, theirs):  # float32 rounding: the fused kernel's order of operations
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_training_does_not_import_torch_dynamo():
    """train_toy_model steps through torch.optim's functional forms, which need no
    torch._dynamo (constructing a torch.optim.Optimizer imports it: about a second)."""
    code = (
        "import sys\n"
        "from srmlib import toy\n"
        "model = toy.ToyModel(toy.ToyConfig(n_instances=2))\n"
        "for optimizer in ('adam', 'sgd'):\n"
        "    toy.train_toy_model(model, steps=3, batch_size=8, optimizer=optimizer)\n"
        "assert 'torch._dynamo' not in sys.modules, 'training imported torch._dynamo'\n"
        "import torch\n"
        "torch.optim.AdamW(model.parameters())\n"
        "assert 'torch._dynamo' in sys.modules, 'the control: torch.optim.AdamW imports it'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_training_on_cuda():
    """On a GPU the batches come from the GPU's generators (other numbers than the CPU's): the
    model trains there, and instances still train as each would alone."""
    probs = [0.5, 0.1, 0.03]
    config = toy.ToyConfig(n_features=6, n_hidden=2, n_instances=3, feature_probability=probs,
                           hidden_activation="relu")
    batched = toy.ToyModel(config, seed=3).to("cuda")
    log = toy.train_toy_model(batched, steps=300, batch_size=64, lr=1e-2, seed=5)
    assert batched.W.device.type == "cuda" and log.final_loss.mean() < log.losses[0].mean()
    weight_seeds, data_seeds = toy.instance_seeds(3, 3), toy.instance_seeds(5, 3)
    for k, p in enumerate(probs):
        alone = toy.ToyModel(toy.ToyConfig(n_features=6, n_hidden=2, n_instances=1,
                                           feature_probability=p, hidden_activation="relu"),
                             seed=[weight_seeds[k]]).to("cuda")
        toy.train_toy_model(alone, steps=300, batch_size=64, lr=1e-2, seed=[data_seeds[k]])
        torch.testing.assert_close(alone.W.detach()[0], batched.W.detach()[k],
                                   rtol=1e-4, atol=1e-5)
    assert batched.feature_directions(0).shape == (6, 2)
    assert batched.hidden_activations(1, 10, seed=0)[0].shape == (10, 2)


def test_lr_schedules():
    assert [toy._lr_factor("linear", t, 4) for t in range(4)] == [1.0, 0.75, 0.5, 0.25]
    np.testing.assert_allclose([toy._lr_factor("cosine", t, 4) for t in range(4)],
                               (1 + np.cos(np.pi * np.arange(4) / 4)) / 2)
    assert toy._lr_factor("constant", 3, 4) == 1.0
    config = toy.ToyConfig(n_features=4, n_hidden=2, n_instances=2)
    models = {}
    for schedule in ("constant", "cosine"):
        models[schedule] = toy.ToyModel(config, seed=0)
        toy.train_toy_model(models[schedule], steps=20, batch_size=32, lr=1e-2, seed=0,
                            lr_schedule=schedule)
    assert not torch.equal(models["constant"].W, models["cosine"].W)
    with pytest.raises(ValueError, match="lr_schedule"):
        toy.train_toy_model(models["cosine"], steps=2, lr_schedule="step")


def test_sgd_training_is_rotation_equivariant_for_the_linear_model():
    """Rotating the hidden space of the initial weights rotates the SGD-trained weights by the
    same rotation (the data are the same); Adam's per-coordinate steps do not commute with it."""
    config = toy.ToyConfig(n_features=6, n_hidden=3, n_instances=2, feature_probability=0.2)
    rotation = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)))[0]
    results = {}
    for optimizer, lr in (("sgd", 0.5), ("adam", 1e-2)):
        plain, rotated = toy.ToyModel(config, seed=0), toy.ToyModel(config, seed=0)
        with torch.no_grad():
            rotated.W.copy_(rotation @ rotated.W)
        for model in (plain, rotated):
            toy.train_toy_model(model, steps=200, batch_size=64, lr=lr, seed=3,
                                optimizer=optimizer)
        results[optimizer] = float((rotation @ plain.W - rotated.W).detach().abs().max())
    assert results["sgd"] < 1e-4
    assert results["adam"] > 1e-2


def test_init_std_and_optimizer_validation():
    config = toy.ToyConfig(n_features=200, n_hidden=20, n_instances=3)
    default = toy.ToyModel(config, seed=0)
    small = toy.ToyModel(config, seed=0, init_std=0.02)
    torch.testing.assert_close(small.W, default.W * 0.02 / (2 / 220) ** 0.5)
    assert abs(float(small.W.detach().std()) - 0.02) < 0.001
    with pytest.raises(ValueError, match="init_std"):
        toy.ToyModel(config, init_std=0.0)
    with pytest.raises(ValueError, match="optimizer"):
        toy.train_toy_model(default, steps=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="momentum"):
        toy.train_toy_model(default, steps=1, optimizer="sgd", momentum=1.0)


def test_as_directions_reads_arrays_and_tensors_and_names_the_argument():
    d = toy.as_directions(torch.ones(3, 2, requires_grad=True))
    assert d.dtype == np.float64 and d.shape == (3, 2)
    np.testing.assert_array_equal(toy.as_directions([[1, 2], [3, 4]]), [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match="directions"):
        toy.as_directions([["a", "b"]])
    with pytest.raises(ValueError, match="directions"):
        toy.as_directions(np.ones(3))
    with pytest.raises(ValueError, match="directions"):
        toy.as_directions(np.ones((0, 2)))
    with pytest.raises(ValueError, match="NaN"):
        toy.as_directions([[np.nan, 0.0]])


# --------------------------------------------------------------------------- per-instance importanc


def test_per_instance_importance_trains_as_each_instance_alone():
    rows = np.array([[1.0, 0.2], [1.0, 5.0], [0.5, 1.0]])
    config = toy.ToyConfig(n_features=2, n_hidden=1, n_instances=3, feature_probability=0.3,
                           feature_importance=rows)
    assert config.importance.shape == (3, 2)
    batched = toy.ToyModel(config, seed=4)
    toy.train_toy_model(batched, steps=60, batch_size=32, lr=1e-2, seed=6)
    weight_seeds, data_seeds = toy.instance_seeds(4, 3), toy.instance_seeds(6, 3)
    for k, row in enumerate(rows):
        alone = toy.ToyModel(toy.ToyConfig(n_features=2, n_hidden=1, n_instances=1,
                                           feature_probability=0.3, feature_importance=row),
                             seed=[weight_seeds[k]])
        toy.train_toy_model(alone, steps=60, batch_size=32, lr=1e-2, seed=[data_seeds[k]])
        torch.testing.assert_close(alone.W.detach()[0], batched.W.detach()[k],
                                   rtol=1e-4, atol=1e-5)


def test_per_instance_importance_weights_each_instance_loss():
    rows = np.array([[1.0, 0.1, 2.0], [3.0, 1.0, 0.5]])
    config = toy.ToyConfig(n_features=3, n_hidden=2, n_instances=2, feature_importance=rows)
    model = toy.ToyModel(config, seed=1)
    x = toy.sample_features(config, 50, seed=2)
    loss = model.loss_per_instance(x)
    with torch.no_grad():
        out = model(x)
    for k in range(2):  # the slow twin: one instance at a time, its own importances
        expected = (torch.tensor(rows[k], dtype=torch.float32) * (x[:, k] - out[:, k]) ** 2).mean()
        torch.testing.assert_close(loss[k], expected)


def test_feature_importance_shapes_and_errors():
    shared = toy.ToyConfig(n_features=3, n_instances=2, feature_importance=[1.0, 0.5, 0.25])
    np.testing.assert_array_equal(shared.importance, [1.0, 0.5, 0.25])
    equal_rows = toy.ToyConfig(n_features=2, n_instances=2, feature_importance=[[1, 2], [1, 2]])
    assert equal_rows.importance.shape == (2,)  # the same row for every instance
    decayed = toy.ToyConfig(n_features=3, importance_decay=0.5)
    np.testing.assert_array_equal(decayed.importance, [1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="feature_importance must have shape"):
        toy.ToyConfig(n_features=3, n_instances=2, feature_importance=[1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        toy.ToyConfig(n_features=2, n_instances=1, feature_importance=[1.0, 0.0])
    with pytest.raises(ValueError, match="not both"):
        toy.ToyConfig(n_features=2, importance_decay=0.9, feature_importance=[1.0, 1.0])
    with pytest.raises(TypeError, match="feature_importance"):
        toy.ToyConfig(n_features=2, feature_importance="1, 2")
    with pytest.raises(ValueError, match="finite"):
        toy.ToyConfig(n_features=2, feature_importance=[1.0, np.nan])


# --------------------------------------------------------------------------- two features, one dim


@pytest.mark.parametrize("density, r", [(1.0, 0.5), (0.3, 2.0), (0.05, 1.0)])
def test_two_feature_loss_equals_a_monte_carlo_estimate(density, r):
    """The quadrature against the model's own loss on many samples (the slow twin)."""
    w, b = np.array([0.9, -1.1]), np.array([-0.05, 0.1])
    config = toy.ToyConfig(n_features=2, n_hidden=1, n_instances=1, feature_probability=density,
                           feature_importance=[1.0, r])
    model = toy.ToyModel(config)
    with torch.no_grad():
        model.W[0, 0] = torch.tensor(w)
        model.b[0] = torch.tensor(b)
        x = toy.sample_features(config, 400_000, seed=3).double()
        out = torch.relu(x[:, 0] @ model.W[0].double().T @ model.W[0].double()
                         + model.b[0].double())
        per_sample = ((x[:, 0] - out) ** 2 * torch.tensor([1.0, r], dtype=torch.float64)).mean(1)
    estimate, se = per_sample.mean().item(), per_sample.std().item() / np.sqrt(len(per_sample))
    exact = toy.two_feature_loss(w, b, density, r, resolution=128)
    assert abs(exact - estimate) < 4 * se + 1e-5
    assert toy.two_feature_loss(w, b, density, r) == pytest.approx(exact, rel=2e-3)


def test_two_feature_loss_of_a_dropped_feature_is_its_weighted_variance():
    """W = (1, 0) with the mean as bias: the loss is r Var(x_1) / 2, in closed form."""
    for density, r in [(1.0, 0.3), (0.2, 4.0)]:
        variance = density / 3 - density**2 / 4
        loss = toy.two_feature_loss([1.0, 0.0], [0.0, density / 2], density, r, resolution=256)
        assert loss == pytest.approx(r * variance / 2, rel=1e-4)


def test_two_feature_gradient_matches_finite_differences():
    from scipy.optimize import check_grad

    points, weights = toy._two_feature_points(0.3, 12)
    importance = np.array([1.0, 2.5])
    for params in ([0.9, -0.7, 0.05, -0.1], [1.2, 0.3, -0.2, 0.4]):
        error = check_grad(lambda q: toy._two_feature_loss_and_grad(q, points, weights,
                                                                    importance)[0],
                           lambda q: toy._two_feature_loss_and_grad(q, points, weights,
                                                                    importance)[1],
                           np.array(params), epsilon=1e-7)
        assert error < 1e-5


@pytest.mark.parametrize("density, r, phase", [
    (1.0, 0.3, "not represented"), (1.0, 3.0, "dedicated dimension"),
    (0.02, 1.0, "superposition"), (0.02, 0.2, "superposition"), (0.6, 0.15, "not represented"),
])
def test_two_feature_optimum_finds_the_paper_phases(density, r, phase):
    w, b, loss = toy.two_feature_optimum(density, r)
    assert toy.two_feature_phase(w) == phase
    assert loss == pytest.approx(toy.two_feature_loss(w, b, density, r))
    variance = density / 3 - density**2 / 4  # the configurations it starts from
    assert loss <= min(r, 1.0) * variance / 2 + 1e-9


def test_two_feature_phase_names_and_errors():
    assert toy.two_feature_phase([1.0, 0.1]) == "not represented"
    assert toy.two_feature_phase([0.2, -1.0]) == "dedicated dimension"
    assert toy.two_feature_phase([1.0, -1.0]) == "superposition"
    assert toy.two_feature_phase([1.0, 1.0]) == "other"
    assert toy.two_feature_phase([0.0, 0.0]) == "not represented"
    with pytest.raises(ValueError, match="two weights"):
        toy.two_feature_phase([1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="density"):
        toy.two_feature_loss([1, 0], [0, 0], 0.0, 1.0)
    with pytest.raises(ValueError, match="relative_importance"):
        toy.two_feature_optimum(0.5, -1.0)
    with pytest.raises(ValueError, match="w and b"):
        toy.two_feature_loss([1, 0, 0], [0, 0], 0.5, 1.0)


# --------------------------------------------------------------------------- neurons


def test_neuron_top_share_equals_a_loop_over_neurons():
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((9, 4))
    directions[:, 2] = -np.abs(directions[:, 2])  # a dead neuron: no positive weight
    share = toy.neuron_top_share(directions)
    for j in range(4):  # the slow twin
        positive = [w * w for w in directions[:, j] if w > 0]
        assert share[j] == pytest.approx(max(positive) / sum(positive) if positive else 0.0)


def test_classify_neurons_names_each_kind():
    directions = np.array([[1.0, 0.7, -1.0, 0.05],
                           [0.2, 0.7, -0.3, 0.02],
                           [-2.0, 0.0, -0.1, 0.01]])  # one feature per row, one neuron per column
    np.testing.assert_array_equal(toy.classify_neurons(directions),
                                  ["monosemantic", "polysemantic", "dead", "dead"])
    np.testing.assert_array_equal(toy.classify_neurons(directions, threshold=0.99),
                                  ["polysemantic", "polysemantic", "dead", "dead"])
    with pytest.raises(ValueError, match="threshold"):
        toy.classify_neurons(directions, threshold=0.5)
    with pytest.raises(ValueError, match="dead_norm"):
        toy.classify_neurons(directions, dead_norm=-1.0)


def test_the_single_feature_configurations_are_stationary():
    """Why two_feature_optimum evaluates them instead of optimising from them."""
    for density, r in [(1.0, 1.0), (0.3, 0.5), (0.05, 4.0)]:
        points, weights = toy._two_feature_points(density, 16)
        for params in ([1.0, 0.0, 0.0, density / 2], [0.0, 1.0, density / 2, 0.0]):
            _, grad = toy._two_feature_loss_and_grad(np.array(params), points, weights,
                                                     np.array([1.0, r]))
            np.testing.assert_allclose(grad, 0.0, atol=1e-12)


@pytest.mark.parametrize("tiny, error", [("a", TypeError), (True, TypeError),
                                         (float("nan"), ValueError), (-1.0, ValueError)])
def test_tiny_is_checked_by_name(tiny, error):
    for fn in (toy.feature_dimensionality, toy.interference, toy.neuron_top_share):
        with pytest.raises(error, match="tiny"):
            fn(np.eye(2), tiny=tiny)


def test_neuron_top_share_is_the_same_at_any_scale():
    w = np.random.default_rng(0).normal(size=(6, 4))
    expected = toy.neuron_top_share(w)
    for scale in (2.0**-900, 1e-170, 1e170, 2.0**900):
        np.testing.assert_allclose(toy.neuron_top_share(w * scale, tiny=0), expected, rtol=1e-12)
