"""srmlib.toy: batched training equals per-instance training, known geometries, validation."""

from __future__ import annotations

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


@pytest.mark.parametrize("hidden_activation", ["linear", "relu"])
def test_hand_written_gradients_equal_autograd(hidden_activation):
    """train_toy_model's fast backward pass against autograd on the model's own loss."""
    config = toy.ToyConfig(n_features=6, n_hidden=3, n_instances=4, feature_probability=0.3,
                           importance_decay=0.8, hidden_activation=hidden_activation)
    model = toy.ToyModel(config, seed=1)
    x = toy.sample_features(config, 64, seed=2).transpose(0, 1)  # (instance, batch, feature)
    fast_loss = toy._loss_and_gradients(model, x)
    fast = (model.W.grad.clone(), model.b.grad.clone())
    model.W.grad = model.b.grad = None
    slow_loss = model.loss_per_instance(x.transpose(0, 1))
    slow_loss.sum().backward()
    torch.testing.assert_close(fast_loss, slow_loss.detach())
    torch.testing.assert_close(fast[0], model.W.grad)
    torch.testing.assert_close(fast[1], model.b.grad)


@pytest.mark.parametrize("correlation", [None, "correlated", "anticorrelated"])
def test_block_draws_give_the_features_of_step_by_step_sampling(correlation):
    config = toy.ToyConfig(n_features=6, n_hidden=2, n_instances=1, feature_probability=0.2,
                           correlation=correlation)
    step_by_step = torch.Generator().manual_seed(7)
    expected = torch.stack([toy._sample_instance(config, 0, 16, step_by_step) for _ in range(5)])
    block = torch.empty((5, 2, 16, 6)).uniform_(generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(toy._features_from_draws(config, block, 0.2), expected)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_hand_written_adamw_equals_torch(weight_decay):
    """The trainers' AdamW against torch.optim.AdamW, with a learning rate that changes."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 4, 5), (3, 5), (7,)]
    ours = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    fast = toy._AdamW(ours, lr=1e-2, weight_decay=weight_decay)
    slow = torch.optim.AdamW(theirs, lr=1e-2, weight_decay=weight_decay, foreach=False)
    for step in range(25):
        for a, b in zip(ours, theirs):
            a.grad = torch.randn(a.shape, generator=gen) * (step + 1)
            b.grad = a.grad.clone()
        fast.lr = slow.param_groups[0]["lr"] = 1e-2 / (1 + step)
        fast.step()
        slow.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    for ours_v, param in zip(fast._exp_avg_sq, theirs):
        torch.testing.assert_close(ours_v, slow.state[param]["exp_avg_sq"])


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


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.0, 0.0), (0.9, 0.0), (0.9, 0.05)])
def test_hand_written_sgd_equals_torch(momentum, weight_decay):
    """The toy trainer's SGD against torch.optim.SGD, with a learning rate that changes."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 4, 5), (3, 5)]
    ours = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    fast = toy._SGD(ours, lr=1e-1, momentum=momentum, weight_decay=weight_decay)
    slow = torch.optim.SGD(theirs, lr=1e-1, momentum=momentum, weight_decay=weight_decay,
                           foreach=False)
    for step in range(25):
        for a, b in zip(ours, theirs):
            a.grad = torch.randn(a.shape, generator=gen)
            b.grad = a.grad.clone()
        fast.lr = slow.param_groups[0]["lr"] = 1e-1 / (1 + step)
        fast.step()
        slow.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


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
