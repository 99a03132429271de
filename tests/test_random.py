"""Seeds and purpose-keyed streams: reproducible, independent of each other and of the root."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srmlib import models, sae, toy
from srmlib._random import make_rng, purpose_key, stream, torch_seed


def _first(rng, n=64):
    return rng.standard_normal(n)


def test_streams_are_reproducible_and_independent_by_purpose_and_index():
    a = _first(stream(5, "a"))
    np.testing.assert_array_equal(a, _first(stream(5, "a")))
    others = [_first(stream(5, "b")), _first(stream(6, "a")), _first(stream(5, "a", 0)),
              _first(stream(5, "a", 1)), _first(make_rng(5))]
    for other in others:
        # independent standard normals: a correlation of 0 +- 1/8, never near 1
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.6
        assert not np.allclose(a, other)


def test_a_generator_seed_gives_a_fresh_independent_child_each_call():
    rng = np.random.default_rng(0)
    first, second = _first(stream(rng, "a")), _first(stream(rng, "a"))
    assert not np.allclose(first, second)
    assert not np.allclose(first, _first(np.random.default_rng(0)))
    # and the same generator state gives the same children
    again = np.random.default_rng(0)
    np.testing.assert_array_equal(first, _first(stream(again, "a")))


def test_torch_seeds_differ_by_purpose_and_fit_a_torch_generator():
    seeds = {torch_seed(0, purpose) for purpose in ("init", "training", "features")}
    assert len(seeds) == 3 and all(0 <= s < 2**63 for s in seeds)
    for s in seeds:
        torch.Generator().manual_seed(s)
    assert torch_seed(0, "init") == torch_seed(0, "init")
    assert purpose_key("init") == purpose_key("init") != purpose_key("training")


@pytest.mark.parametrize("seed, error", [(-1, ValueError), ("abc", TypeError), (1.5, TypeError),
                                         (True, TypeError)])
def test_bad_seeds_are_refused_by_name(seed, error):
    with pytest.raises(error, match="seed"):
        stream(seed, "a")
    with pytest.raises(error, match="seed"):
        torch_seed(seed, "a")


def test_toy_model_initial_weights_batches_and_features_never_share_draws():
    """With the same seed everywhere, the evaluation features are not the first training batch
    (as they were when both used one generator per instance)."""
    config = toy.ToyConfig(n_features=5, n_hidden=2, n_instances=2, feature_probability=0.5)
    features = toy.sample_features(config, 64, seed=3)
    first_batch = [torch.rand((2, 64, 5), generator=g)
                   for g in toy._generators(3, 2, "training")]
    for k, draws in enumerate(first_batch):
        values = draws[0] * (draws[1] < 0.5)
        assert not torch.equal(values, features[:, k])
    h, x = toy.ToyModel(config, seed=3).hidden_activations(1, 64, seed=3)
    np.testing.assert_array_equal(x, features[:, 1].numpy())


def test_models_and_saes_draw_weights_and_minibatches_from_different_streams():
    assert torch_seed(0, "models.init") != torch_seed(0, "models.minibatches")
    assert torch_seed(0, "sae.init") != torch_seed(0, "sae.training")
    a = models.MLPAutoencoder(8, 4, 2, activation="tanh", seed=0)
    b = models.MLPAutoencoder(8, 4, 2, activation="tanh", seed=0)
    assert torch.equal(a.hidden.weight, b.hidden.weight)
    s = sae.TopKSAE(4, 8, k=2, seed=0)
    reference = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(s.W_dec, reference / reference.norm(dim=1, keepdim=True))
