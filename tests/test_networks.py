"""Chapter 7's real-network pieces: models, data and the experiment steps, against slow twins."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from srmlib import data, models, networks


@pytest.fixture(scope="module")
def digits_task():
    return networks.load_task("digits", seed=0)


def test_deep_mlp_and_small_cnn_shapes_and_layers():
    mlp = models.DeepMLP(64, (16, 8), 10, seed=0)
    assert mlp.layers == ("act1", "act2")
    x = torch.randn(5, 64)
    assert mlp(x).shape == (5, 10)
    cnn2 = models.SmallCNN((8, 8), 10, seed=0)
    assert cnn2(x).shape == (5, 10) and cnn2.layers == ("act1", "act2", "act3")
    cnn1 = models.SmallCNN((40,), 10, kernel_size=5, seed=0)
    assert cnn1(torch.randn(3, 40)).shape == (3, 10)
    captured = models.capture_activations(cnn2, "act2", x)
    assert captured.shape == (16, 4, 4)
    # same seed, same weights; another seed, others
    again = models.SmallCNN((8, 8), 10, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(cnn2.parameters(), again.parameters()))
    other = models.SmallCNN((8, 8), 10, seed=1)
    assert not torch.equal(cnn2.conv1.weight, other.conv1.weight)


@pytest.mark.parametrize("bad, error", [
    (dict(input_shape=(2, 8)), ValueError), (dict(input_shape=(4, 4, 4)), ValueError),
    (dict(input_shape=(8, 8), kernel_size=4), ValueError),
    (dict(input_shape=(8, 8), channels=(8,)), ValueError)])
def test_small_cnn_rejects_bad_shapes(bad, error):
    with pytest.raises(error):
        models.SmallCNN(**bad)


def test_channel_vectors_against_a_loop():
    cnn = models.SmallCNN((8, 8), 10, seed=0)
    x = np.random.default_rng(0).random((6, 64)).astype(np.float32)
    captured = models.capture_activations(cnn, "act1", x)
    samples, inputs = models.channel_vectors(captured)
    with torch.no_grad():
        maps = torch.relu(cnn.conv1(torch.as_tensor(x).reshape(6, 1, 8, 8))).numpy()
    expected, owners = [], []
    for i in range(6):
        for r in range(8):
            for c in range(8):
                expected.append(maps[i, :, r, c])
                owners.append(i)
    np.testing.assert_allclose(samples, np.array(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(inputs, owners)
    dense = models.capture_activations(cnn, "act3", x)
    same, rows = models.channel_vectors(dense)
    assert same.shape == (6, 32) and rows.tolist() == list(range(6))
    with pytest.raises(TypeError, match="captured"):
        models.channel_vectors(np.zeros((2, 2)))


def test_fit_classifier_is_deterministic_and_cached(tmp_path, digits_task):
    task = digits_task
    args = (task.train.images[:300], task.train.labels[:300],
            (task.test.images[:100], task.test.labels[:100]))
    first = models.DeepMLP(64, (16, 8), 10, seed=3)
    fit = models.fit_classifier(first, *args, epochs=3, seed=3, cache=True, cache_dir=tmp_path,
                                snapshot_epochs=[0, 3], snapshot_layers=("act2",))
    assert not fit.hit and fit.snapshots["act2"].shape == (2, 300, 8)
    second = models.DeepMLP(64, (16, 8), 10, seed=3)
    again = models.fit_classifier(second, *args, epochs=3, seed=3, cache=True,
                                  cache_dir=tmp_path, snapshot_epochs=[0, 3],
                                  snapshot_layers=("act2",))
    assert again.hit
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))
    fresh = models.DeepMLP(64, (16, 8), 10, seed=3)
    uncached = models.fit_classifier(fresh, *args, epochs=3, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), fresh.parameters()))
    np.testing.assert_array_equal(uncached.losses, fit.losses)
    # the last snapshot is the trained layer
    final = models.capture_activations(first, "act2", args[0]).activations
    np.testing.assert_allclose(fit.snapshots["act2"][-1], final, rtol=1e-5, atol=1e-6)


def test_load_mnist1d_leaves_the_global_streams_alone():
    np.random.seed(123)
    random.seed(5)
    before_np, before_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(5)
    train, test = data.load_mnist1d(n_samples=200, seed=1)
    assert (np.random.random(), random.random()) == (before_np, before_py)
    assert train.images.shape == (160, 40) and test.images.shape == (40, 40)
    assert train.image_shape == (1, 40) and set(train.labels) <= set(range(10))
    again, _ = data.load_mnist1d(n_samples=200, seed=1)
    np.testing.assert_array_equal(train.images, again.images)


def test_augment_images_identity_and_shapes(digits_task):
    images = digits_task.train
    same = data.augment_images(images, 2, max_shift=0.0, max_degrees=0.0, seed=0)
    np.testing.assert_allclose(same.images, np.repeat(images.images, 2, axis=0), atol=1e-6)
    moved = data.augment_images(images, 1, max_shift=1.0, max_degrees=0.0, seed=0)
    assert not np.allclose(moved.images, images.images)
    np.testing.assert_array_equal(moved.labels, images.labels)
    again = data.augment_images(images, 1, max_shift=1.0, max_degrees=0.0, seed=0)
    np.testing.assert_array_equal(moved.images, again.images)
    with pytest.raises(TypeError, match="images"):
        data.augment_images(images.images, 1)
    with pytest.raises(ValueError, match="n_copies"):
        data.augment_images(images, 0)


def test_load_task_reads_a_synthetic_mnist_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 60), x_test=rng.integers(0, 256, (20, 28, 28),
                                                                   dtype=np.uint8),
             y_test=rng.integers(0, 10, 20))
    task = networks.load_task("mnist", mnist_path=str(path), mnist_limit=50)
    assert task.train.images.shape == (50, 784) and task.test.images.shape == (20, 784)
    assert task.input_shape == (28, 28)
    for arch in networks.ARCHITECTURES:
        model = networks.build_network(arch, task, seed=0)
        assert model(torch.as_tensor(task.test.images[:4])).shape == (4, 10)
    single = tmp_path / "single.npz"
    np.savez(single, images=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
             labels=rng.integers(0, 10, 60))
    held = networks.load_task("mnist", mnist_path=str(single))
    assert len(held.train) == 50 and len(held.test) == 10
    with pytest.raises(ValueError, match="mnist_path"):
        networks.load_task("mnist")
    with pytest.raises(ValueError, match="name"):
        networks.load_task("cifar")


def test_spotlight_and_selectivity_against_loops():
    rng = np.random.default_rng(1)
    x = np.abs(rng.standard_normal((200, 5)))
    x[3] = 0
    labels = rng.integers(0, 3, 200)
    direction = np.array([1.0, 0.2, 0, 0, 0])
    got = networks.spotlight(x, direction, epsilon=0.8)
    cos = [(row @ direction) / (np.linalg.norm(row) * np.linalg.norm(direction))
           if np.any(row) else 0.0 for row in x]
    inside = [i for i in range(200) if cos[i] >= 0.8]
    assert sorted(got.tolist()) == inside and 3 not in got
    assert all(cos[a] >= cos[b] for a, b in zip(got[:-1], got[1:]))
    directions = rng.standard_normal((4, 5))
    purity = networks.class_selectivity(x, labels, directions, n_nearest=10)
    for k, d in enumerate(directions):
        c = [(row @ d) / (np.linalg.norm(row) * np.linalg.norm(d)) if np.any(row) else 0.0
             for row in x]
        nearest = np.argsort(-np.array(c), kind="stable")[:10]
        assert purity[k] == np.bincount(labels[nearest]).max() / 10
    with pytest.raises(ValueError, match="n_nearest"):
        networks.class_selectivity(x, labels, directions, n_nearest=500)


def test_select_atoms_rule():
    from srmlib import sae as sae_module
    sae = sae_module.TopKSAE(4, 6, k=1, seed=0)
    with torch.no_grad():
        atoms = torch.tensor([[1.0, 0, 0, 0], [0.99, 0.141, 0, 0], [0, 1.0, 0, 0],
                              [0, 0, 1.0, 0], [0, 0, 0, 1.0], [0, 0, -1.0, 0]])
        sae.W_dec.copy_(atoms)
        sae.W_enc.copy_(atoms.T)
    x = np.concatenate([np.tile([1.0, 0, 0, 0], (5, 1)), np.tile([0.99, 0.141, 0, 0], (4, 1)),
                        np.tile([0, 1.0, 0, 0], (3, 1)), np.tile([0, 0, 1.0, 0], (2, 1))])
    chosen = networks.select_atoms(sae, x, 4)
    # atom 1 duplicates atom 0 (cos 0.99 > 0.9); atoms 4 and 5 never fire
    assert chosen.tolist() == [0, 2, 3]


def test_layer_alignment_and_pair_scores_run(digits_task):
    nets = networks.train_networks(digits_task, "mlp", 2, seed=0, epochs=2)
    verdict = networks.layer_alignment(nets, "act2", digits_task.test.images[:200],
                                       n_rotations=3, max_samples=150)
    assert verdict.trained.shape == (2,) and verdict.against_null in (
        "aligned", "anti-aligned", "not distinguished")
    assert verdict.by_training in ("training raised it", "training lowered it",
                                   "no change shown")
    x = networks.layer_samples(nets[0].model, "act2", digits_task.test.images)[0]
    y = networks.layer_samples(nets[1].model, "act2", digits_task.test.images)[0]
    scores = networks.pair_scores({"Neuron": x}, {"Neuron": y}, metrics=("cka",),
                                  comparisons=("Neuron->Neuron",))
    assert set(scores) == {("Neuron->Neuron", "cka")}
    with pytest.raises(ValueError, match="networks"):
        networks.layer_alignment(nets[:1], "act2", digits_task.test.images)


def test_plot_layer_alignment_draws_every_network():
    import matplotlib

    matplotlib.use("Agg")
    from types import SimpleNamespace

    from srmlib import plotting

    fake = SimpleNamespace(trained=np.array([1.2, 1.3]), untrained=np.array([0.9, 1.0]),
                           null_low=np.array([0.8, 0.85]), null_high=np.array([1.1, 1.05]))
    ax = plotting.plot_layer_alignment([fake, fake], ["MLP act1", "MLP act2"],
                                       title="two layers")
    assert ax.get_title() == "two layers"
    offsets = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections])
    assert sorted(offsets.tolist()) == sorted([1.2, 1.3, 0.9, 1.0] * 2)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["MLP act1", "MLP act2"]
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_layer_alignment([fake], ["a", "b"])
