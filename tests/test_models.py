"""Activation capture with forward hooks, and the seeded classifier and its training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import srmlib
from srmlib import activations, models


@pytest.fixture()
def mlp():
    return models.MLPClassifier(6, 5, 3, activation="relu", seed=0)


@pytest.fixture()
def inputs():
    return np.random.default_rng(0).standard_normal((37, 6)).astype(np.float32)


def hooks_left(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_capture_equals_a_manual_forward_pass(mlp, inputs):
    captured = models.capture_activations(mlp, "activation", inputs, batch_size=8)
    with torch.no_grad():
        expected = torch.relu(mlp.hidden(torch.as_tensor(inputs))).numpy()
    np.testing.assert_allclose(captured.activations, expected, rtol=1e-5, atol=1e-6)
    assert captured.activations.shape == (37, 5)
    assert isinstance(captured.activations, np.ndarray)
    np.testing.assert_array_equal(captured.indices, np.arange(37))
    assert captured.layer == "activation" and captured.shape == (5,)
    assert hooks_left(mlp) == 0


def test_capture_by_module_and_batch_size_do_not_matter(mlp, inputs):
    by_name = models.capture_activations(mlp, "hidden", inputs, batch_size=5)
    by_module = models.capture_activations(mlp, mlp.hidden, inputs, batch_size=100)
    np.testing.assert_allclose(by_name.activations, by_module.activations, rtol=1e-5,
                               atol=1e-6)
    assert by_module.layer == "hidden"


def test_capture_dotted_names_and_flattening():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)),
    )
    x = torch.randn(10, 1, 4, 4)
    conv = models.capture_activations(model, "0", x)
    assert conv.shape == (2, 4, 4) and conv.activations.shape == (10, 32)
    with torch.no_grad():
        np.testing.assert_allclose(conv.activations, model[0](x).reshape(10, -1).numpy(),
                                   rtol=1e-5, atol=1e-6)
    inner = models.capture_activations(model, "1.2", x)
    assert inner.activations.shape == (10, 3) and inner.layer == "1.2"


def test_capture_restores_training_mode_and_needs_no_grad(mlp, inputs):
    mlp.train()
    models.capture_activations(mlp, "activation", inputs)
    assert mlp.training
    mlp.eval()
    models.capture_activations(mlp, "activation", inputs)
    assert not mlp.training


def test_hooks_are_removed_after_an_exception():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(3, 3)

        def forward(self, x):
            self.first(x)
            raise RuntimeError("boom")

    model = Broken()
    with pytest.raises(RuntimeError, match="boom"):
        models.capture_activations(model, "first", np.zeros((4, 3)))
    assert hooks_left(model) == 0


def test_a_layer_that_does_not_run_is_an_error(mlp, inputs):
    mlp.unused = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="ran 0 times"):
        models.capture_activations(mlp, "unused", inputs)
    assert hooks_left(mlp) == 0


@pytest.mark.parametrize("layer, error", [
    ("nonexistent", ValueError),
    ("hidden.weight", ValueError),
    (nn.Linear(2, 2), ValueError),
    (3, TypeError),
])
def test_bad_layers_raise(mlp, inputs, layer, error):
    with pytest.raises(error):
        models.capture_activations(mlp, layer, inputs)


def test_bad_models_and_inputs_raise(mlp):
    with pytest.raises(TypeError):
        models.capture_activations(lambda x: x, "hidden", np.zeros((2, 6)))
    with pytest.raises(ValueError):
        models.capture_activations(mlp, "hidden", np.zeros(6))
    with pytest.raises(ValueError):
        models.capture_activations(mlp, "hidden", np.full((2, 6), np.nan))
    with pytest.raises(ValueError):
        models.capture_activations(mlp, "hidden", np.zeros((2, 6)), batch_size=0)


def test_classifier_initialisation_is_seeded():
    a = models.MLPClassifier(4, 3, 2, seed=1)
    b = models.MLPClassifier(4, 3, 2, seed=1)
    c = models.MLPClassifier(4, 3, 2, seed=2)
    assert torch.equal(a.hidden.weight, b.hidden.weight)
    assert not torch.equal(a.hidden.weight, c.hidden.weight)
    assert isinstance(models.MLPClassifier(4, 3, 2, activation="tanh").activation, nn.Tanh)
    with pytest.raises(ValueError, match="activation must be one of"):
        models.MLPClassifier(4, 3, 2, activation="gelu")


@pytest.mark.parametrize("name", activations.ACTIVATION_NAMES)
def test_models_take_activations_from_the_one_registry(name):
    """Every name of srmlib.activations builds the same module in the classifier and alone."""
    classifier = models.MLPClassifier(4, 3, 2, activation=name, seed=1, rotation_seed=5)
    alone = activations.make_activation(name, 3, seed=5)
    assert type(classifier.activation) is type(alone)
    x = torch.randn(7, 3, dtype=torch.float32)
    torch.testing.assert_close(classifier.activation(x), alone(x))
    relu = models.MLPClassifier(4, 3, 2, activation="relu", seed=1)
    torch.testing.assert_close(classifier.hidden.weight, relu.hidden.weight)  # same weights


def _blobs(seed=0, n=300):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = rng.standard_normal((3, 5)) * 3
    return (centres[labels] + rng.standard_normal((n, 5))).astype(np.float32), labels


def test_training_is_reproducible_with_a_seed_and_learns():
    x, y = _blobs()
    state_before = torch.get_num_threads()
    runs = []
    for seed in (0, 0, 1):
        model = models.MLPClassifier(5, 8, 3, seed=0)
        log = models.train_classifier(model, x, y, epochs=5, batch_size=32, seed=seed,
                                      test=(x[:50], y[:50]))
        runs.append((model.hidden.weight.detach().clone(), log))
    assert torch.equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1].losses, runs[1][1].losses)
    assert not torch.equal(runs[0][0], runs[2][0])  # another shuffling seed
    log = runs[0][1]
    assert log.losses.shape == (5,) and log.losses[-1] < log.losses[0]
    assert log.train_accuracy > 0.9 and log.test_accuracy is not None
    assert torch.get_num_threads() == state_before


@pytest.mark.parametrize("kwargs, error", [
    (dict(epochs=0), ValueError),
    (dict(lr=-1.0), ValueError),
    (dict(batch_size=0), ValueError),
    (dict(num_threads=0), ValueError),
])
def test_training_rejects_bad_arguments(kwargs, error):
    x, y = _blobs(n=20)
    with pytest.raises(error):
        models.train_classifier(models.MLPClassifier(5, 4, 3), x, y, **kwargs)


def test_training_rejects_bad_labels():
    x, y = _blobs(n=20)
    with pytest.raises(ValueError, match="labels"):
        models.train_classifier(models.MLPClassifier(5, 4, 3), x, y[:10])
    with pytest.raises(ValueError, match="labels"):
        models.train_classifier(models.MLPClassifier(5, 4, 3), x, y.astype(float))


# --------------------------------------------------------------------------- autoencoder


def _images(n=120, seed=0):
    return np.random.default_rng(seed).random((n, 10)).astype(np.float32)


@pytest.mark.parametrize("activation", ["tanh", "rotated_tanh", "isotropic_relu", "identity"])
def test_autoencoder_layers_and_capture(activation):
    model = models.MLPAutoencoder(10, 8, 3, activation=activation, seed=0)
    x = _images()
    with torch.no_grad():
        code = model.encode(torch.as_tensor(x))
        assert model(torch.as_tensor(x)).shape == (120, 10)
    captured = models.capture_activations(model, "bottleneck_activation", x, batch_size=7)
    np.testing.assert_allclose(captured.activations, code.numpy(), rtol=1e-5, atol=1e-6)
    hidden = models.capture_activations(model, "hidden_activation", x)
    assert hidden.activations.shape == (120, 8)
    basis = model.privileged_basis("hidden_activation")
    if activation == "rotated_tanh":
        np.testing.assert_allclose(basis, srmlib.random_rotation(8, 0), atol=1e-6)
    elif activation == "tanh":
        np.testing.assert_array_equal(basis, np.eye(8))
    else:
        assert basis is None


def test_autoencoder_initialisation_is_seeded_and_gaussian():
    a, b = models.MLPAutoencoder(64, 32, 6, seed=1), models.MLPAutoencoder(64, 32, 6, seed=1)
    assert torch.equal(a.hidden.weight, b.hidden.weight)
    assert not torch.equal(a.hidden.weight, models.MLPAutoencoder(64, 32, 6, seed=2).hidden.weight)
    w = a.hidden.weight.detach().numpy().ravel()
    assert abs(w.std() * 8 - 1) < 0.05 and np.all(a.hidden.bias.detach().numpy() == 0)
    assert abs(np.mean(w**4) / np.mean(w**2) ** 2 - 3) < 0.3  # Gaussian kurtosis, not uniform 1.8


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_autoencoder_training_is_reproducible_learns_and_snapshots(optimizer):
    x = _images()
    runs = []
    for seed in (0, 0, 1):
        model = models.MLPAutoencoder(10, 8, 3, activation="tanh", seed=0)
        log = models.train_autoencoder(model, x, epochs=6, batch_size=32, seed=seed, lr=1e-2,
                                       optimizer=optimizer, snapshot_epochs=[0, 3, 6],
                                       snapshot_layer="bottleneck_activation", test=x[:20])
        runs.append((model, log))
    np.testing.assert_array_equal(runs[0][1].losses, runs[1][1].losses)
    np.testing.assert_array_equal(runs[0][1].snapshots, runs[1][1].snapshots)
    assert not np.array_equal(runs[0][1].losses, runs[2][1].losses)
    log = runs[0][1]
    assert log.losses[-1] < log.losses[0] and log.test_loss is not None
    assert log.snapshots.shape == (3, 120, 3) and log.snapshot_epochs.tolist() == [0, 3, 6]
    final = models.capture_activations(runs[0][0], "bottleneck_activation", x).activations
    np.testing.assert_allclose(log.snapshots[-1], final, rtol=1e-6, atol=1e-7)
    untrained = models.MLPAutoencoder(10, 8, 3, activation="tanh", seed=0)
    np.testing.assert_allclose(log.snapshots[0], models.capture_activations(
        untrained, "bottleneck_activation", x).activations, rtol=1e-6, atol=1e-7)
    with torch.no_grad():
        mse = float(((runs[0][0](torch.as_tensor(x)) - torch.as_tensor(x)) ** 2).mean())
    assert log.train_loss == pytest.approx(mse, rel=1e-5)


def test_fit_autoencoder_cache_gives_the_same_model(tmp_path):
    x = _images()
    kwargs = dict(n_hidden=8, n_bottleneck=3, epochs=3, batch_size=32, seed=0,
                  snapshot_epochs=[0, 3])
    first, log1, hit1 = models.fit_autoencoder(x, "tanh", cache=True, cache_dir=tmp_path, **kwargs)
    second, log2, hit2 = models.fit_autoencoder(x, "tanh", cache=True, cache_dir=tmp_path, **kwargs)
    fresh, log3, hit3 = models.fit_autoencoder(x, "tanh", cache=False, **kwargs)
    assert (hit1, hit2, hit3) == (False, True, False)
    for a, b, c in zip(first.state_dict().values(), second.state_dict().values(),
                       fresh.state_dict().values()):
        assert torch.equal(a, b) and torch.equal(a, c)
    np.testing.assert_array_equal(log2.snapshots, log3.snapshots)
    np.testing.assert_array_equal(log2.losses, log3.losses)
    _, _, other = models.fit_autoencoder(x + 0.01, "tanh", cache=True, cache_dir=tmp_path,
                                         **kwargs)
    assert not other  # other data, other key
    assert len(list(tmp_path.iterdir())) == 2


def test_fit_autoencoder_optimiser_and_held_out_inputs_are_part_of_the_key(tmp_path):
    x, held_out = _images(), _images(30, seed=1)
    kwargs = dict(n_hidden=8, n_bottleneck=3, epochs=3, batch_size=32, seed=0, lr=0.05,
                  cache=True, cache_dir=tmp_path)
    adam, adam_log, _ = models.fit_autoencoder(x, "tanh", **kwargs)
    sgd, sgd_log, hit = models.fit_autoencoder(x, "tanh", optimizer="sgd", test=held_out,
                                               snapshot_epochs=[0], snapshot_inputs=x[:7],
                                               **kwargs)
    assert not hit and adam_log.test_loss is None
    assert not torch.equal(adam.hidden.weight, sgd.hidden.weight)
    # the same call without the cache trains the same model, and reports the same losses
    model = models.MLPAutoencoder(10, 8, 3, activation="tanh", seed=0)
    log = models.train_autoencoder(model, x, epochs=3, batch_size=32, seed=0, lr=0.05,
                                   optimizer="sgd", test=held_out, snapshot_epochs=[0],
                                   snapshot_layer="hidden_activation", snapshot_inputs=x[:7])
    assert torch.equal(model.hidden.weight, sgd.hidden.weight)
    assert sgd_log.test_loss == log.test_loss and sgd_log.snapshots.shape == (1, 7, 8)
    _, again, hit = models.fit_autoencoder(x, "tanh", optimizer="sgd", test=held_out,
                                           snapshot_epochs=[0], snapshot_inputs=x[:7], **kwargs)
    assert hit and again.test_loss == log.test_loss
    _, _, hit = models.fit_autoencoder(x, "tanh", optimizer="sgd", test=held_out[:20],
                                       snapshot_epochs=[0], snapshot_inputs=x[:7], **kwargs)
    assert not hit  # other held-out inputs, other key
    with pytest.raises(ValueError, match="optimizer"):
        models.fit_autoencoder(x, "tanh", optimizer="adagrad")


@pytest.mark.parametrize("kwargs, error", [
    (dict(epochs=0), ValueError), (dict(optimizer="rmsprop"), ValueError),
    (dict(momentum=1.0), ValueError), (dict(snapshot_epochs=[5]), ValueError),
    (dict(snapshot_epochs=[1.5]), TypeError), (dict(snapshot_epochs=[1], snapshot_layer="x"),
                                               ValueError),
])
def test_autoencoder_training_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        models.train_autoencoder(models.MLPAutoencoder(10, 4, 2), _images(20), epochs=kwargs.pop(
            "epochs", 2), **kwargs)


def test_autoencoder_rejects_bad_sizes_and_activations():
    with pytest.raises(ValueError, match="n_bottleneck"):
        models.MLPAutoencoder(10, 4, 1)
    with pytest.raises(ValueError, match="activation"):
        models.MLPAutoencoder(10, 4, 2, activation="gelu")
    with pytest.raises(ValueError, match="layer"):
        models.MLPAutoencoder(10, 4, 2).privileged_basis("readout")


def test_progress_must_be_a_boolean_or_none(mlp):
    """``progress=None`` picks a default by the amount of work; anything but a bool is refused."""
    x = np.zeros((4, 6))
    assert models.capture_activations(mlp, "hidden", x, progress=None).activations.shape == (4, 5)
    with pytest.raises(TypeError, match="progress must be True or False"):
        models.capture_activations(mlp, "hidden", x, progress="no")
    with pytest.raises(TypeError, match="progress must be True or False"):
        models.train_classifier(mlp, x, np.array([0, 1, 2, 0]), epochs=1, progress="no")
    with pytest.raises(TypeError, match="progress must be True or False"):
        srmlib.spotlight_resonance(np.eye(3), progress=1)


def test_capture_names_a_layer_that_returns_no_tensor_and_the_inputs_a_model_rejects():
    """Issue 15: a layer returning None or a dict, and inputs of the wrong shape, ended in
    torch's or Python's errors that named neither the layer nor the argument."""

    class Returns(nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value = value

        def forward(self, x):
            return self.value

    class Model(nn.Module):
        def __init__(self, value):
            super().__init__()
            self.odd = Returns(value)
            self.linear = nn.Linear(3, 2)

        def forward(self, x):
            self.odd(x)
            return self.linear(x)

    for value, kind in ((None, "NoneType"), ({"a": torch.zeros(2)}, "dict")):
        with pytest.raises(TypeError, match=f"layer 'odd' returned {kind}, not a tensor"):
            models.capture_activations(Model(value), "odd", np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"layer 'odd' returned shape \(7,\) for a batch of 4"):
        models.capture_activations(Model(torch.zeros(7)), "odd", np.zeros((4, 3)))
    # any model: torch's own error, with a note saying what capture gave it
    with pytest.raises(RuntimeError) as err:
        models.capture_activations(Model(None), "linear", np.zeros((4, 5)))
    assert "inputs of shape (4, 5)" in "".join(err.value.__notes__)
    # srmlib's own models know their input width: a 3-D array no longer slips through the
    # dense layer (torch applies it to the last axis) as activations of the wrong shape
    mlp = models.MLPClassifier(4, 3, 2, seed=0)
    for shape in ((5, 3), (5, 2, 4)):
        with pytest.raises(ValueError, match=r"inputs must have shape \(n, 4\)"):
            models.capture_activations(mlp, "activation", np.zeros(shape))


def test_inputs_beyond_float32_are_refused_not_made_nan():
    """Issue 15: float64 inputs of 1e39 are finite, but inf (then NaN) in the float32 model."""
    mlp = models.MLPClassifier(4, 3, 2, seed=0)
    big = np.full((5, 4), 1e39)
    with pytest.raises(ValueError, match="inputs holds 20 value.*beyond the range of "
                                         "torch.float32"):
        models.capture_activations(mlp, "activation", big)
    with pytest.raises(ValueError, match="inputs holds"):
        models.train_classifier(mlp, big, np.arange(5) % 2, epochs=1)
    # the largest float32 itself is still accepted (and its activations are finite here)
    edge = np.zeros((5, 4))
    edge[0, 0] = float(np.finfo(np.float32).max)
    assert models.capture_activations(models.MLPClassifier(4, 3, 2, seed=0,
                                                           activation="tanh"),
                                      "activation", edge).activations.shape == (5, 3)


def test_a_diverging_training_stops_with_an_error_naming_lr():
    """Issue 15: a learning rate that diverges gave NaN weights and losses without a word."""
    x = np.random.default_rng(0).random((40, 4))
    ae = models.MLPAutoencoder(4, 6, 2, activation="relu", seed=0)
    with pytest.raises(ValueError, match=r"training diverged.*by step \d+; lr=1e\+30"):
        models.train_autoencoder(ae, x, epochs=3, lr=1e30, optimizer="sgd")
    ae = models.MLPAutoencoder(4, 6, 2, activation="relu", seed=0)
    log = models.train_autoencoder(ae, x, epochs=3, lr=1e-2, optimizer="sgd")
    assert np.isfinite(log.losses).all() and np.isfinite(log.train_loss)
