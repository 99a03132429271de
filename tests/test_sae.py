"""srmlib.sae: sparse autoencoders on planted sparse features in superposition."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import srmlib
from srmlib._random import stream, torch_seed
from srmlib import data
from srmlib.sae import (
    SparseAutoencoder,
    evaluate_sae,
    match_features,
    matching_null,
    train_sae,
)

N_FEATURES, N_DIMS = 12, 6  # more features than dimensions: superposition


@pytest.fixture(scope="module")
def planted():
    """Sparse non-negative combinations of 12 spread-out unit directions in 6 dimensions."""
    features = srmlib.overcomplete_basis(N_FEATURES, N_DIMS, seed=0)
    train = data.sparse_features(20_000, features, seed=1, density=0.05)
    test = data.sparse_features(4_000, features, seed=2, density=0.05)
    return features, train, test


@pytest.fixture(scope="module")
def trained_relu(planted):
    features, train, _ = planted
    sae = SparseAutoencoder(N_DIMS, N_FEATURES, seed=0)
    log = train_sae(sae, train, steps=3000, l1_coefficient=0.5, seed=0)
    return sae, log


@pytest.fixture(scope="module")
def trained_topk(planted):
    features, train, _ = planted
    # Twice as many latents as features: with exactly one latent per feature a TopK SAE often
    # settles with latents split between features (3 of 8 seeds recovered all 12), with two
    # per feature it recovers all 12 for every seed tried (0-7, score >= 0.97).
    sae = SparseAutoencoder(N_DIMS, 2 * N_FEATURES, kind="topk", k=1, seed=0)
    log = train_sae(sae, train, steps=3000, seed=0)
    return sae, log


@pytest.mark.parametrize("kind, k", [("relu", None), ("topk", 3)])
def test_forward_is_decode_of_encode(kind, k):
    sae = SparseAutoencoder(5, 11, kind=kind, k=k, seed=3)
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sae(x), sae.decode(sae.encode(x)))
    z = sae.encode(x)
    assert z.shape == (64, 11) and bool((z >= 0).all())
    torch.testing.assert_close(sae.decode(z), z @ sae.W_dec + sae.b_dec)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_topk_keeps_exactly_k_latents(planted, k):
    _, train, _ = planted
    sae = SparseAutoencoder(N_DIMS, N_FEATURES, kind="topk", k=k, seed=0)
    train_sae(sae, train, steps=200, seed=0)
    x = torch.as_tensor(train[:2000], dtype=torch.float32)
    with torch.no_grad():
        pre, z = sae.pre_activations(x), sae.encode(x)
    active = (z != 0).sum(dim=1)
    kth = pre.topk(k, dim=1).values[:, -1]
    assert bool((active <= k).all())
    # exactly k wherever the k-th largest pre-activation is positive (the ReLU zeroes the rest)
    assert bool((active[kth > 0] == k).all()) and int((kth > 0).sum()) > 1000
    # and the kept latents are the k largest pre-activations
    kept = torch.where(z != 0, pre, torch.tensor(float("inf")))
    dropped = torch.where(z == 0, pre, torch.tensor(float("-inf")))
    assert bool((kept.min(dim=1).values >= dropped.max(dim=1).values).all())


@pytest.mark.parametrize("kind, k", [("relu", None), ("topk", 2)])
def test_decoder_has_unit_norm_after_each_step(planted, kind, k):
    _, train, _ = planted
    sae = SparseAutoencoder(N_DIMS, N_FEATURES, kind=kind, k=k, seed=1)
    for steps in (1, 2, 7):
        train_sae(sae, train, steps=steps, lr=0.05, l1_coefficient=0.3, seed=steps)
        norms = sae.W_dec.detach().norm(dim=1)
        torch.testing.assert_close(norms, torch.ones(N_FEATURES))


def test_penalty_weighted_decoder_is_free_and_penalised(planted):
    _, train, _ = planted
    sae = SparseAutoencoder(N_DIMS, N_FEATURES, decoder_norm="penalty", seed=0)
    train_sae(sae, train, steps=300, lr=0.01, l1_coefficient=0.3, seed=0)
    norms = sae.W_dec.detach().norm(dim=1)
    assert not torch.allclose(norms, torch.ones(N_FEATURES), atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(sae.atoms, axis=1), 1.0)


def test_relu_sae_recovers_planted_features(planted, trained_relu):
    features, _, test = planted
    sae, log = trained_relu
    ev = evaluate_sae(sae, test, features)
    assert ev.match.score > 0.95 and ev.match.n_found == N_FEATURES
    assert ev.l0 < 2 and ev.fvu < 0.2 and ev.n_dead == 0
    assert log.mse[-1] < log.mse[0]


def test_topk_sae_recovers_planted_features(planted, trained_topk):
    features, _, test = planted
    sae, _ = trained_topk
    ev = evaluate_sae(sae, test, features)
    assert ev.match.score > 0.95 and ev.match.n_found == N_FEATURES
    assert ev.l0 == pytest.approx(1.0) and ev.fvu < 0.2


def test_matching_score_grows_with_training(planted):
    features, train, test = planted
    scores = []
    for steps in (1, 3000):
        sae = SparseAutoencoder(N_DIMS, N_FEATURES, seed=0)
        train_sae(sae, train, steps=steps, l1_coefficient=0.5, seed=0)
        scores.append(evaluate_sae(sae, test, features).match.score)
    assert scores[0] < 0.8 < 0.95 < scores[1]


def test_training_is_seeded(planted):
    _, train, _ = planted
    weights = []
    for _ in range(2):
        sae = SparseAutoencoder(N_DIMS, N_FEATURES, kind="topk", k=2, seed=4)
        train_sae(sae, train, steps=50, seed=5)
        weights.append(sae.W_dec.detach().clone())
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    assert torch.get_num_threads() >= 1


def test_evaluation_statistics_by_hand(planted, trained_relu):
    features, _, test = planted
    sae, _ = trained_relu
    ev = evaluate_sae(sae, test, batch_size=333)
    with torch.no_grad():
        x = torch.as_tensor(test, dtype=torch.float32)
        z = sae.encode(x)
        x_hat = sae.decode(z).double().numpy()
    assert ev.l0 == pytest.approx(float((z != 0).sum()) / len(test))
    fvu = ((test - x_hat) ** 2).sum() / ((test - test.mean(axis=0)) ** 2).sum()
    assert ev.fvu == pytest.approx(fvu, rel=1e-4)
    np.testing.assert_array_equal(ev.dead, (z != 0).sum(dim=0).numpy() == 0)
    assert ev.match is None


def test_per_input_values_equal_a_slow_twin(planted, trained_topk):
    """``active`` and ``squared_error``, row by row, and the summaries they give."""
    features, _, test = planted
    sae, _ = trained_topk
    ev = evaluate_sae(sae, test, batch_size=333)
    assert ev.active.shape == ev.squared_error.shape == (len(test),)
    with torch.no_grad():
        for i in range(0, len(test), 97):
            x = torch.as_tensor(test[i: i + 1], dtype=torch.float32)
            z = sae.encode(x)
            assert ev.active[i] == int((z != 0).sum())
            error = float(((x - sae.decode(z)) ** 2).sum())
            assert ev.squared_error[i] == pytest.approx(error, rel=1e-5, abs=1e-12)
    assert ev.l0 == pytest.approx(ev.active.mean())
    variance = ((test - test.mean(axis=0)) ** 2).sum()
    assert ev.fvu == pytest.approx(ev.squared_error.sum() / variance, rel=1e-6)


def test_dead_latents_are_counted():
    sae = SparseAutoencoder(3, 4, seed=0)
    with torch.no_grad():
        sae.b_enc[2:] = -100.0  # latents 2 and 3 can never fire on these inputs
    ev = evaluate_sae(sae, np.random.default_rng(0).standard_normal((500, 3)))
    assert ev.n_dead == 2 and ev.dead.tolist() == [False, False, True, True]
    assert np.all(ev.firing_rate[:2] > 0)


def test_aux_loss_revives_dead_topk_latents(planted):
    """Latents held back by a negative bias (they never win the top k) revive with the aux loss."""
    features, train, test = planted
    dead = {}
    for aux in (0.0, 1 / 32):
        sae = SparseAutoencoder(N_DIMS, N_FEATURES, kind="topk", k=1, seed=0)
        with torch.no_grad():
            sae.b_enc[:6] = -1.0
        train_sae(sae, train, steps=1500, aux_coefficient=aux, dead_steps=50, seed=0)
        dead[aux] = evaluate_sae(sae, test).n_dead
    assert dead[0.0] >= 2 and dead[1 / 32] == 0


def test_resampling_revives_dead_relu_latents(planted):
    features, train, test = planted
    results = {}
    for resample in (None, 500):
        sae = SparseAutoencoder(N_DIMS, N_FEATURES, seed=0)
        with torch.no_grad():
            sae.b_enc[:6] = -5.0
        log = train_sae(sae, train, steps=2000, l1_coefficient=0.3, resample_every=resample,
                        dead_steps=100, seed=0)
        results[resample] = (evaluate_sae(sae, test, features), log.n_resampled)
    assert results[None][0].n_dead == 6 and results[None][1] == 0
    assert results[500][1] >= 6 and results[500][0].n_dead < 6
    assert results[500][0].match.score > results[None][0].match.score


def test_match_features_hungarian():
    atoms = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, -3.0]])
    features = np.array([[1.0, 0.05], [0.0, 1.0]])
    m = match_features(atoms, features, threshold=0.99)
    assert m.atom_index.tolist()[1] == 2  # sign ignored
    assert m.cosines[1] == pytest.approx(1.0)
    assert m.n_found == 2
    # one atom cannot serve two features: the second feature gets the worse atom
    m = match_features([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.01]])
    assert sorted(m.atom_index.tolist()) == [0, 1] and m.score < 0.6
    # fewer atoms than features: the unmatched feature scores 0
    m = match_features([[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]])
    assert m.score == pytest.approx(0.5) and m.atom_index.tolist() == [0, -1]


def test_match_features_of_a_random_rotation_is_low():
    rng = np.random.default_rng(0)
    features = srmlib.overcomplete_basis(N_FEATURES, N_DIMS, seed=0)
    random_atoms = rng.standard_normal((N_FEATURES, N_DIMS))
    assert match_features(features, features).score == pytest.approx(1.0)
    assert match_features(random_atoms, features).score < 0.9


def test_matching_null_equals_a_slow_twin():
    """Each null score is match_features' score of the dictionary drawn from the same stream."""
    features = srmlib.overcomplete_basis(5, 3, seed=1)
    null = matching_null(features, 7, n_dictionaries=25, seed=3)
    rng = stream(3, "sae.matching_null")
    atoms = rng.standard_normal((25, 7, 3))
    slow = [match_features(a, features).score for a in atoms]
    np.testing.assert_allclose(null.scores, slow, rtol=1e-12)
    assert null.n_atoms == 7 and null.seed == 3


def test_matching_null_has_the_chance_distribution():
    """One feature and one random atom in 2-D: |cos| of a uniform angle, mean 2 / pi."""
    null = matching_null([[1.0, 0.0]], 1, n_dictionaries=4000, seed=0)
    spread = np.sqrt(0.5 - 4 / np.pi**2) / np.sqrt(4000)
    assert abs(null.scores.mean() - 2 / np.pi) < 4 * spread
    # an untrained SAE draws its atoms the same way: their scores share the null's mean
    features = srmlib.overcomplete_basis(6, 3, seed=0)
    null = matching_null(features, 8, n_dictionaries=2000, seed=1)
    untrained = [match_features(SparseAutoencoder(3, 8, seed=s).atoms, features).score
                 for s in range(300)]
    spread = np.hypot(np.std(untrained) / np.sqrt(300), null.scores.std() / np.sqrt(2000))
    assert abs(np.mean(untrained) - null.scores.mean()) < 4 * spread


def test_matching_null_p_values_and_seeds():
    null = matching_null(np.eye(3), 4, n_dictionaries=9, seed=0)
    ranked = np.sort(null.scores)
    assert null.p_value(2.0) == null.min_p_value == pytest.approx(0.1)
    assert null.p_value(-1.0) == pytest.approx(1.0)
    assert null.p_value(ranked[4]) == pytest.approx((1 + 5) / 10)
    np.testing.assert_array_equal(null.scores, matching_null(np.eye(3), 4, n_dictionaries=9,
                                                             seed=0).scores)
    assert not np.array_equal(null.scores, matching_null(np.eye(3), 4, n_dictionaries=9,
                                                         seed=1).scores)
    assert matching_null(np.eye(3), 4, n_dictionaries=3, seed=np.random.default_rng(0)).seed is None
    with pytest.raises(ValueError, match="n_atoms"):
        matching_null(np.eye(3), 0)
    with pytest.raises(ValueError, match="n_dictionaries"):
        matching_null(np.eye(3), 2, n_dictionaries=0)
    with pytest.raises(ValueError, match="zero rows"):
        matching_null(np.zeros((2, 3)), 2)
    with pytest.raises(TypeError, match="score"):
        null.p_value("high")


def test_sae_atoms_are_an_overcomplete_basis_for_srm(trained_topk, planted):
    sae, _ = trained_topk
    _, _, test = planted
    assert sae.atoms.shape == (2 * N_FEATURES, N_DIMS)
    result = srmlib.spotlight_resonance(test, sae.atoms, epsilon=0.9, resolution=16,
                                        max_planes=5, seed=0)
    assert result.values.shape == (5, 16)


def test_bad_input_is_rejected(planted):
    with pytest.raises(ValueError, match="k is required"):
        SparseAutoencoder(3, 4, kind="topk")
    with pytest.raises(ValueError, match="k is only used"):
        SparseAutoencoder(3, 4, k=2)
    with pytest.raises(ValueError, match="k must be at most"):
        SparseAutoencoder(3, 4, kind="topk", k=5)
    with pytest.raises(ValueError, match="kind"):
        SparseAutoencoder(3, 4, kind="gated")
    with pytest.raises(ValueError, match="decoder_norm"):
        SparseAutoencoder(3, 4, decoder_norm="none")
    sae = SparseAutoencoder(3, 4)
    with pytest.raises(ValueError, match="activations must have 3 columns"):
        train_sae(sae, np.zeros((10, 5)))
    with pytest.raises(ValueError, match="l1_coefficient"):
        train_sae(sae, np.zeros((10, 3)), l1_coefficient=-1.0)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_sae(sae, np.full((10, 3), np.nan))
    with pytest.raises(TypeError, match="sae"):
        evaluate_sae("sae", np.zeros((10, 3)))
    with pytest.raises(ValueError, match="same dimension"):
        match_features(np.eye(3), np.eye(2))
    with pytest.raises(ValueError, match="zero rows"):
        match_features(np.zeros((2, 3)), np.eye(3))


def _autograd_loss(sae, x, dead, l1_coefficient, aux_coefficient, aux_k):
    """train_sae's loss on one batch, written plainly for autograd: the slow twin."""
    pre = sae.pre_activations(x)
    z = sae._activate(pre)
    residual = x - sae.decode(z)
    mse = (residual ** 2).sum(dim=1).mean()
    if sae.kind == "relu":
        weights = sae.W_dec.norm(dim=1) if sae.decoder_norm == "penalty" else 1.0
        return mse, (z * weights).sum(dim=1).mean(), l1_coefficient
    if not bool(dead.any()):
        return mse, torch.zeros(()), aux_coefficient
    fixed = residual.detach()
    values, index = pre.masked_fill(~dead, float("-inf")).topk(min(aux_k, int(dead.sum())), dim=1)
    z_aux = torch.zeros_like(pre).scatter(1, index, torch.relu(values))
    aux = ((fixed - z_aux @ sae.W_dec) ** 2).sum(dim=1).mean() / (fixed ** 2).sum(dim=1).mean()
    return mse, aux, aux_coefficient


@pytest.mark.parametrize("kind, k, decoder_norm, n_dead", [
    ("relu", None, "unit", 0), ("relu", None, "penalty", 0), ("topk", 2, "unit", 0),
    ("topk", 2, "unit", 5), ("topk", 3, "penalty", 9),
    ("topk", 2, "penalty", 3),  # aux_k (4) reaches every dead latent: the unranked shortcut
])
def test_hand_written_gradients_equal_autograd(kind, k, decoder_norm, n_dead):
    """train_sae's numpy forward and backward pass against autograd on random SAEs and inputs."""
    from srmlib.sae import _PARAMETERS, _backward, _forward

    gen = torch.Generator().manual_seed(n_dead)
    sae = SparseAutoencoder(5, 11, kind=kind, k=k, decoder_norm=decoder_norm, seed=n_dead)
    with torch.no_grad():
        sae.W_dec.mul_(torch.rand(11, 1, generator=gen) + 0.5)  # atoms of several lengths
        sae.W_enc.add_(0.3 * torch.randn(5, 11, generator=gen))
        sae.b_enc.copy_(0.5 * torch.randn(11, generator=gen))
        sae.b_dec.copy_(torch.randn(5, generator=gen))
    x = torch.randn(64, 5, generator=gen)
    dead = torch.zeros(11, dtype=torch.bool)
    dead[torch.randperm(11, generator=gen)[:n_dead]] = True
    params = [getattr(sae, name).detach().numpy() for name in _PARAMETERS]
    forward = _forward(sae, params, x.numpy())
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(forward[2]), sae.encode(x))
        torch.testing.assert_close(torch.from_numpy(forward[3]), x - sae(x))
    mse, sparsity, grads = _backward(sae, params, forward, dead.numpy(), 0.3, 0.7, 4)
    slow_mse, slow_sparsity, coefficient = _autograd_loss(sae, x, dead, 0.3, 0.7, 4)
    (slow_mse + coefficient * slow_sparsity).backward()
    assert float(mse) == pytest.approx(slow_mse.item(), rel=1e-5)
    assert float(sparsity) == pytest.approx(slow_sparsity.item(), rel=1e-5, abs=1e-7)
    assert float(sparsity) > 0 or (kind == "topk" and n_dead == 0)
    for name, grad in zip(_PARAMETERS, grads):
        torch.testing.assert_close(torch.from_numpy(np.asarray(grad)), getattr(sae, name).grad,
                                   msg=f"gradient of {name}")


@pytest.mark.parametrize("kind, k, decoder_norm", [("relu", None, "unit"),
                                                    ("relu", None, "penalty"),
                                                    ("topk", 1, "unit")])
def test_training_equals_a_plain_autograd_loop(planted, kind, k, decoder_norm):
    """train_sae (numpy, hand-written gradients and Adam) against autograd and torch's Adam."""
    _, train, _ = planted
    steps, dead_steps = 30, 5
    fast = SparseAutoencoder(N_DIMS, N_FEATURES, kind=kind, k=k, decoder_norm=decoder_norm,
                             seed=2)
    slow = SparseAutoencoder(N_DIMS, N_FEATURES, kind=kind, k=k, decoder_norm=decoder_norm,
                             seed=2)
    for sae in (fast, slow):
        with torch.no_grad():
            sae.b_enc[:4] = -1.0  # some latents die, so the auxiliary loss takes part
    train_sae(fast, train, steps=steps, l1_coefficient=0.2, dead_steps=dead_steps, seed=3)
    x = torch.as_tensor(train, dtype=torch.float32)
    generator = torch.Generator().manual_seed(torch_seed(3, "sae.training"))
    with torch.no_grad():
        slow.b_dec.copy_(x.mean(dim=0))
        if decoder_norm == "unit":
            slow.normalise_decoder()
    optimiser = torch.optim.Adam(slow.parameters(), lr=3e-3)
    since_fired = torch.zeros(N_FEATURES, dtype=torch.long)
    for _ in range(steps):
        batch = x[torch.randint(len(x), (256,), generator=generator)]
        with torch.no_grad():
            fired = (slow.encode(batch) != 0).any(dim=0)
        since_fired = torch.where(fired, 0, since_fired + 1)
        mse, sparsity, coefficient = _autograd_loss(slow, batch, since_fired >= dead_steps,
                                                    0.2, 1 / 32, 2 * (k or 0))
        optimiser.zero_grad()
        (mse + coefficient * sparsity).backward()
        optimiser.step()
        if decoder_norm == "unit":
            slow.normalise_decoder()
    for a, b in zip(fast.parameters(), slow.parameters()):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-4, atol=1e-5)


def test_numpy_adam_equals_torch():
    from srmlib.sae import _Adam

    gen = torch.Generator().manual_seed(0)
    theirs = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in [(4, 3), (3, 4), (4,)]]
    ours = [p.detach().clone().numpy() for p in theirs]
    fast, slow = _Adam(ours, lr=1e-2), torch.optim.Adam(theirs, lr=1e-2)
    for step in range(25):
        grads = [torch.randn(p.shape, generator=gen) * (step + 1) for p in theirs]
        for p, g in zip(theirs, grads):
            p.grad = g
        fast.step([g.numpy() for g in grads])
        slow.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(torch.from_numpy(a), b.detach(), rtol=1e-5, atol=1e-6)
