"""srmlib.sae: SAE architectures as torch modules, their training loop, and their evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import srmlib
from srmlib._random import stream, torch_seed
from srmlib import data, sae
from srmlib.sae import (
    BatchTopKSAE,
    JumpReLUSAE,
    ReLUSAE,
    SparseAutoencoder,
    TopKSAE,
    create_sae,
    evaluate_sae,
    match_features,
    matching_null,
    train_sae,
)

N_FEATURES, N_DIMS = 12, 6  # more features than dimensions: superposition

#: One small instance of every registered architecture (n_inputs=5, n_latents=11).
EXAMPLES = {
    "relu": dict(l1_coefficient=0.3),
    "topk": dict(k=3),
    "batchtopk": dict(k=3),
    "jumprelu": dict(l0_coefficient=0.1, threshold=0.2),
}


def example(kind, seed=0, **options):
    return create_sae(kind, 5, 11, seed=seed, **{**EXAMPLES[kind], **options})


@pytest.fixture(scope="module")
def planted():
    """Sparse non-negative combinations of 12 spread-out unit directions in 6 dimensions.

    In 6 dimensions random atoms are far from these features: 999 random dictionaries of 24
    atoms score at most about 0.87 (99th percentile about 0.85), so a score of 0.95 is far
    beyond chance.
    """
    features = srmlib.overcomplete_basis(N_FEATURES, N_DIMS, seed=0)
    train = data.sparse_features(20_000, features, seed=1, density=0.05)
    test = data.sparse_features(4_000, features, seed=2, density=0.05)
    return features, train, test


# --------------------------------------------------------------------------- the architectures


def test_every_architecture_is_registered():
    assert set(sae.SAE_CLASSES) >= {"relu", "topk", "batchtopk", "jumprelu"}
    for kind, cls in sae.SAE_CLASSES.items():
        assert cls.kind == kind and issubclass(cls, SparseAutoencoder)
    assert type(example("batchtopk")) is BatchTopKSAE


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_forward_is_decode_of_encode(kind):
    model = example(kind, seed=3).eval()
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(x), model.decode(model.encode(x)))
        z = model.encode(x)
        assert z.shape == (64, 11) and bool((z >= 0).all())
        torch.testing.assert_close(model.decode(z), z @ model.W_dec + model.b_dec)
        pre = (x - model.b_dec) @ model.W_enc + model.b_enc
        torch.testing.assert_close(model.pre_activations(x), pre)


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_loss_is_reconstruction_plus_penalty(kind):
    model = example(kind, seed=1).train()
    x = torch.randn(32, 5, generator=torch.Generator().manual_seed(1))
    silent = torch.ones(11, dtype=torch.bool)
    loss = model.loss(x, silent)
    with torch.no_grad():
        x_hat = model.decode(loss.z)
    torch.testing.assert_close(loss.mse, ((x - x_hat) ** 2).sum(dim=1).mean())
    torch.testing.assert_close(loss.total, loss.mse + loss.penalty)
    torch.testing.assert_close(loss.fired, (loss.z != 0).any(dim=0))


def test_relu_penalty_is_the_l1_norm_weighted_by_atom_norms():
    x = torch.randn(40, 5, generator=torch.Generator().manual_seed(2))
    for decoder_norm in ("unit", "penalty"):
        model = ReLUSAE(5, 11, l1_coefficient=0.3, decoder_norm=decoder_norm, seed=0)
        with torch.no_grad():
            model.W_dec.mul_(torch.linspace(0.5, 2.0, 11)[:, None])
            z = model.encode(x)
            weights = model.W_dec.norm(dim=1) if decoder_norm == "penalty" else torch.ones(11)
            expected = 0.3 * (z * weights).sum(dim=1).mean()
            torch.testing.assert_close(model.loss(x).penalty, expected)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_topk_keeps_the_k_largest_latents(planted, k):
    _, train, _ = planted
    model = TopKSAE(N_DIMS, N_FEATURES, k=k, seed=0)
    train_sae(model, train, steps=200, seed=0)
    x = torch.as_tensor(train[:2000], dtype=torch.float32)
    with torch.no_grad():
        pre, z = model.pre_activations(x), model.encode(x)
    active = (z != 0).sum(dim=1)
    kth = pre.topk(k, dim=1).values[:, -1]
    assert bool((active <= k).all())
    # exactly k wherever the k-th largest pre-activation is positive (the ReLU zeroes the rest)
    assert bool((active[kth > 0] == k).all()) and int((kth > 0).sum()) > 1000
    kept = torch.where(z != 0, pre, torch.tensor(float("inf")))
    dropped = torch.where(z == 0, pre, torch.tensor(float("-inf")))
    assert bool((kept.min(dim=1).values >= dropped.max(dim=1).values).all())


def test_batchtopk_keeps_k_per_input_on_average_over_the_batch():
    model = BatchTopKSAE(5, 11, k=3, seed=0).train()
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        pre, z = model.pre_activations(x), model.encode(x)
    active = (z != 0).sum(dim=1)
    assert int(active.sum()) == 3 * 64  # exactly k * batch in the batch
    assert int(active.min()) < 3 < int(active.max())  # but not k per input
    kept = torch.relu(pre)[z != 0]
    assert float(kept.min()) >= float(torch.relu(pre)[z == 0].max())  # the largest ones
    torch.testing.assert_close(z[z != 0], kept)


def test_batchtopk_threshold_is_a_moving_average_of_the_smallest_kept_latent():
    model = BatchTopKSAE(5, 11, k=2, threshold_decay=0.9, seed=0).train()
    gen = torch.Generator().manual_seed(3)
    expected = None
    with torch.no_grad():
        for _ in range(5):
            x = torch.randn(16, 5, generator=gen)
            z = model.encode(x)
            smallest = float(z[z != 0].min())
            expected = smallest if expected is None else 0.9 * expected + 0.1 * smallest
            assert float(model.threshold) == pytest.approx(expected, rel=1e-5)
    assert int(model.threshold_updates) == 5


def test_batchtopk_uses_its_threshold_at_inference():
    model = BatchTopKSAE(5, 11, k=2, seed=0)
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        model.train()
        model.encode(x)  # estimates the threshold
        model.eval()
        threshold = float(model.threshold)
        assert threshold > 0
        z, pre = model.encode(x), model.pre_activations(x)
        torch.testing.assert_close(z, torch.where(pre > threshold, pre, 0.0))
        # each input on its own: the same latents as in a batch of one
        torch.testing.assert_close(model.encode(x[:1]), z[:1])
        assert float(model.threshold) == threshold  # evaluation does not move it


def _rectangle(u):
    return ((u > -0.5) & (u < 0.5)).double()


def test_jumprelu_threshold_gradients_are_the_straight_through_pseudo_derivatives():
    """d/dt of x H(x - t) and of H(x - t): -(t / eps) K((x - t) / eps) and -(1 / eps) K(...)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(50, 4, generator=gen, dtype=torch.float64).requires_grad_()
    t = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64, requires_grad=True)
    weights = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    eps = 0.3
    kernel = _rectangle((x.detach() - t.detach()) / eps)
    assert 0 < int(kernel.sum()) < kernel.numel()  # some inputs in the window, some out

    (sae.jump_relu(x, t, eps) * weights).sum().backward()
    expected = (-(t.detach() / eps) * kernel * weights).sum(dim=0)
    torch.testing.assert_close(t.grad, expected)
    torch.testing.assert_close(x.grad, (x.detach() > t.detach()) * weights)  # plain gradient

    t.grad, x.grad = None, None
    out = sae.step(x, t, eps)
    torch.testing.assert_close(out, (x.detach() > t.detach()).double())
    (out * weights).sum().backward()
    torch.testing.assert_close(t.grad, (-(1 / eps) * kernel * weights).sum(dim=0))
    assert x.grad is None  # the step passes no gradient to its input


def test_jumprelu_step_pseudo_derivative_estimates_the_density():
    """Averaged over inputs, d/dt H(x - t) is -p(t): the pseudo-derivative's estimate of it,
    -P(|x - t| < eps / 2) / eps, is close for a small window (here x ~ N(0, 1), t = 0.5)."""
    x = torch.randn(400_000, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    t = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    eps = 0.05
    sae.step(x, t, eps).mean().backward()
    density = math.exp(-0.125) / math.sqrt(2 * math.pi)
    # binomial standard error of the window's count, over eps
    se = math.sqrt(density * eps / len(x)) / eps
    assert float(t.grad) == pytest.approx(-density, abs=4 * se + 1e-4)


def test_jumprelu_sae_gradient_reaches_the_threshold_through_both_terms():
    """The SAE's loss gradient with respect to log t equals t times the sum of the
    reconstruction's and the L0 penalty's pseudo-derivatives, computed by hand."""
    torch.manual_seed(0)
    model = JumpReLUSAE(5, 11, l0_coefficient=0.2, threshold=0.3, bandwidth=0.4, seed=0)
    x = torch.randn(64, 5, generator=torch.Generator().manual_seed(5))
    loss = model.loss(x)
    loss.total.backward()
    with torch.no_grad():
        t, eps = model.threshold, 0.4
        pre = torch.relu(model.pre_activations(x))
        z = pre * (pre > t)
        residual = x - model.decode(z)
        d_z = -2 * residual @ model.W_dec.T / len(x)  # d mse / d z
        kernel = _rectangle((pre - t) / eps).float()
        d_t = (-(t / eps) * kernel * d_z).sum(dim=0) + 0.2 * (-(1 / eps) * kernel).sum(0) / len(x)
    assert int(kernel.sum()) > 0
    torch.testing.assert_close(model.log_threshold.grad, t * d_t)
    z = model.encode(x)
    assert bool(((z == 0) | (z > model.threshold)).all())
    torch.testing.assert_close(loss.penalty, 0.2 * (pre > t).sum(dim=1).float().mean())


# --------------------------------------------------------------------------- the registry


def test_a_new_architecture_is_one_small_registered_class(planted):
    """A subclass that defines only ``activate`` trains with the common loop."""
    features, train, test = planted

    @sae.register("shifted-relu-test")
    class ShiftedReLU(SparseAutoencoder):
        def activate(self, pre):
            return torch.relu(pre - 0.2)

    try:
        model = create_sae("shifted-relu-test", N_DIMS, N_FEATURES, seed=0)
        assert isinstance(model, ShiftedReLU) and model.kind == "shifted-relu-test"
        log = train_sae(model, train, steps=300, seed=0)
        assert log.mse[-1] < log.mse[0] and np.all(log.penalty == 0)
        # registering the same class again (a re-run notebook cell) replaces it
        sae.register("shifted-relu-test")(ShiftedReLU)
        with pytest.raises(ValueError, match="already registered"):
            sae.register("shifted-relu-test")(ReLUSAE)
    finally:
        del sae.SAE_CLASSES["shifted-relu-test"]
    with pytest.raises(ValueError, match="already registered"):
        sae.register("relu")(type("Other", (SparseAutoencoder,), {}))
    with pytest.raises(TypeError, match="subclass of SparseAutoencoder"):
        sae.register("not-an-sae")(dict)
    with pytest.raises(TypeError, match="kind"):
        sae.register("")
    with pytest.raises(NotImplementedError, match="activate"):
        SparseAutoencoder(3, 4).encode(torch.zeros(1, 3))


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_decoder_has_unit_norm_after_each_step(planted, kind):
    _, train, _ = planted
    model = create_sae(kind, N_DIMS, N_FEATURES, seed=1,
                       **{**EXAMPLES[kind], **({"k": 2} if "k" in EXAMPLES[kind] else {})})
    for steps in (1, 2, 7):
        train_sae(model, train, steps=steps, lr=0.05, seed=steps)
        norms = model.W_dec.detach().norm(dim=1)
        torch.testing.assert_close(norms, torch.ones(N_FEATURES))


def test_penalty_weighted_decoder_is_free_and_penalised(planted):
    _, train, _ = planted
    model = ReLUSAE(N_DIMS, N_FEATURES, l1_coefficient=0.3, decoder_norm="penalty", seed=0)
    train_sae(model, train, steps=300, lr=0.01, seed=0)
    norms = model.W_dec.detach().norm(dim=1)
    assert not torch.allclose(norms, torch.ones(N_FEATURES), atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(model.atoms, axis=1), 1.0)


# Planted recovery, one setting per architecture. Each was checked on training seeds 0-5
# (the SAE's initial weights and its batches): every seed found all 12 features and scored
# >= 0.959 (ReLU: 0.959-0.965; TopK >= 0.973; BatchTopK and JumpReLU >= 0.972); the tests run
# two of them. Settings that failed on some of the six seeds: ReLU with 12 latents (seeds 3 and 5 left two features unfound, 0.91-0.92), BatchTopK without
# resampling (seed 0, 0.94), JumpReLU with l0_coefficient=0.1 (seed 1, 0.92).
RESAMPLING = dict(resample_every=500, dead_steps=100)
RECOVERY = {
    "relu": (dict(n_latents=2 * N_FEATURES, l1_coefficient=0.5), dict(steps=3000)),
    "topk": (dict(n_latents=2 * N_FEATURES, k=1), dict(steps=3000)),
    "batchtopk": (dict(n_latents=2 * N_FEATURES, k=1), dict(steps=3000, **RESAMPLING)),
    "jumprelu": (dict(n_latents=2 * N_FEATURES, l0_coefficient=0.2, bandwidth=0.1),
                 dict(steps=3000, **RESAMPLING)),
}


@pytest.fixture(scope="module")
def chance(planted):
    """Matching scores of random dictionaries of each width: the control of recovery."""
    features, _, _ = planted
    return {n: matching_null(features, n, n_dictionaries=999, seed=0)
            for n in {options["n_latents"] for options, _ in RECOVERY.values()}}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kind", list(RECOVERY))
def test_every_architecture_recovers_planted_features(planted, chance, kind, seed):
    features, train, test = planted
    options, training = RECOVERY[kind]
    options = dict(options)
    n_latents = options.pop("n_latents")
    model = create_sae(kind, N_DIMS, n_latents, seed=seed, **options)
    log = train_sae(model, train, seed=seed, **training)
    ev = evaluate_sae(model, test, features)
    null = chance[n_latents]
    assert null.scores.max() < 0.9  # the setup: random dictionaries score well below 0.95
    assert ev.match.score >= 0.95 and ev.match.n_found == N_FEATURES
    assert null.p_value(ev.match.score) == null.min_p_value  # beats every random dictionary
    assert ev.fvu < 0.2 and log.mse[-1] < log.mse[0]
    if kind == "topk":
        assert ev.l0 == pytest.approx(1.0)


def test_matching_score_grows_with_training(planted):
    features, train, test = planted
    scores = []
    for steps in (1, 3000):
        model = ReLUSAE(N_DIMS, N_FEATURES, l1_coefficient=0.5, seed=0)
        train_sae(model, train, steps=steps, seed=0)
        scores.append(evaluate_sae(model, test, features).match.score)
    assert scores[0] < 0.8 < 0.95 < scores[1]


def test_training_is_seeded(planted):
    _, train, _ = planted
    weights = []
    for seed in (5, 5, 6):
        model = TopKSAE(N_DIMS, N_FEATURES, k=2, seed=4)
        train_sae(model, train, steps=50, seed=seed)
        weights.append(model.W_dec.detach().clone())
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    assert not torch.equal(weights[0], weights[2])


def test_training_leaves_threads_and_mode_as_documented(planted):
    _, train, _ = planted
    threads = torch.get_num_threads()
    model = BatchTopKSAE(N_DIMS, N_FEATURES, k=1, seed=0)
    log = train_sae(model, train, steps=20, log_every=7, num_threads=1)
    assert torch.get_num_threads() == threads and not model.training
    assert log.steps.tolist() == [7, 14, 20]
    assert float(model.threshold) > 0


def _plain_loss(model, x, dead):
    """train_sae's loss on one batch, written plainly for each built-in architecture."""
    pre = (x - model.b_dec) @ model.W_enc + model.b_enc
    if isinstance(model, ReLUSAE):
        z = torch.relu(pre)
        residual = x - (z @ model.W_dec + model.b_dec)
        weights = model.W_dec.norm(dim=1) if model.decoder_norm == "penalty" else 1.0
        penalty = model.l1_coefficient * (z * weights).sum(dim=1).mean()
        return (residual ** 2).sum(dim=1).mean() + penalty, z
    values, index = pre.topk(model.k, dim=1)
    z = torch.zeros_like(pre).scatter(1, index, torch.relu(values))
    residual = x - (z @ model.W_dec + model.b_dec)
    mse = (residual ** 2).sum(dim=1).mean()
    dead = dead & ~(z != 0).any(dim=0)
    if not bool(dead.any()) or model.aux_coefficient == 0:
        return mse, z
    fixed = residual.detach()
    n = min(model.aux_k, int(dead.sum()))
    values, index = pre.masked_fill(~dead, float("-inf")).topk(n, dim=1)
    z_aux = torch.zeros_like(pre).scatter(1, index, torch.relu(values))
    aux = ((fixed - z_aux @ model.W_dec) ** 2).sum(dim=1).mean() / (fixed ** 2).sum(dim=1).mean()
    return mse + model.aux_coefficient * aux, z


FAST_PATH_CASES = [
    ("relu", dict(l1_coefficient=0.2)),
    ("relu", dict(l1_coefficient=0.2, decoder_norm="penalty")),
    ("topk", dict(k=1)),
    ("topk", dict(k=2, aux_k=3, decoder_norm="penalty")),
    ("topk", dict(k=2, aux_k=12)),  # aux_k reaches every dead latent
]


@pytest.fixture(params=["numpy", "autograd"])
def path(request, monkeypatch):
    """Run a test on each training path of the built-in ReLU and TopK SAEs: the private numpy
    step (the default on the CPU) and the autograd step that every architecture takes."""
    if request.param == "autograd":
        monkeypatch.setattr(sae._numpy_step, "applies", lambda model, x: False)
    return request.param


@pytest.mark.parametrize("kind, options", FAST_PATH_CASES)
def test_training_equals_a_plain_loop(planted, path, kind, options):
    """train_sae against a plain loop: the same batches, loss, Adam steps and dead latents."""
    _, train, _ = planted
    steps, dead_steps, batch_size = 30, 5, 64
    fast, slow = (create_sae(kind, N_DIMS, N_FEATURES, seed=2, **options) for _ in range(2))
    for model in (fast, slow):
        with torch.no_grad():
            model.b_enc[:4] = -1.0  # some latents die, so the auxiliary loss takes part
    train_sae(fast, train, steps=steps, batch_size=batch_size, dead_steps=dead_steps, seed=3)
    x = torch.as_tensor(train, dtype=torch.float32)
    generator = torch.Generator().manual_seed(torch_seed(3, "sae.training"))
    batches = torch.randint(len(x), (steps, batch_size), generator=generator)
    with torch.no_grad():
        slow.b_dec.copy_(x.mean(dim=0))
        if slow.decoder_norm == "unit":
            slow.normalise_decoder()
    optimiser = torch.optim.Adam(slow.parameters(), lr=3e-3)
    since_fired = torch.zeros(N_FEATURES, dtype=torch.long)
    for rows in batches:
        loss, z = _plain_loss(slow, x[rows], since_fired >= dead_steps - 1)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if slow.decoder_norm == "unit":
            slow.normalise_decoder()
        since_fired = torch.where((z != 0).any(dim=0), 0, since_fired + 1)
    if kind == "topk":
        assert int((since_fired >= dead_steps).sum()) > 0  # the auxiliary loss took part
    for a, b in zip(fast.parameters(), slow.parameters()):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind, options", FAST_PATH_CASES)
def test_numpy_step_equals_the_autograd_step(planted, kind, options):
    """The fast path's step against autograd's, from the same state, at every step of a run
    with dead latents (so the auxiliary loss takes part), and their reset of Adam's moments.

    Step by step, because over a long run float32 rounding eventually flips a top-k choice
    between two nearly equal pre-activations and the runs part ways; from one state the two
    steps agree to rounding.
    """
    from srmlib.sae._numpy_step import NumpyStep
    from srmlib.sae.training import AutogradStep

    _, train, _ = planted
    x = torch.as_tensor(train, dtype=torch.float32)
    fast_sae, slow_sae = (create_sae(kind, N_DIMS, N_FEATURES, seed=1, **options)
                          for _ in range(2))
    for model in (fast_sae, slow_sae):
        with torch.no_grad():
            model.b_enc[:5] = -3.0
        model.train()
    fast, slow = NumpyStep(fast_sae, 3e-3), AutogradStep(slow_sae, 3e-3)
    since_fired = torch.zeros(N_FEATURES, dtype=torch.long)
    batches = torch.randint(len(x), (60, 128), generator=torch.Generator().manual_seed(0))
    n_dead = []
    for step, rows in enumerate(batches):
        silent = since_fired >= 4
        fast_loss, slow_loss = fast(x[rows], silent), slow(x[rows], silent)
        assert fast_loss.mse == pytest.approx(slow_loss.mse.item(), rel=1e-5)
        assert fast_loss.penalty == pytest.approx(slow_loss.penalty.item(), rel=1e-5, abs=1e-8)
        torch.testing.assert_close(fast_loss.z, slow_loss.z.detach())
        torch.testing.assert_close(fast_loss.fired, slow_loss.fired)
        for (name, a), b in zip(fast_sae.named_parameters(), slow_sae.parameters()):
            torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6, msg=name)
            state = slow.optimiser.state[b]
            moments = fast.adam.state[["W_dec", "W_enc", "b_enc", "b_dec"].index(name)]
            # float32 rounding of gradients that are sums of many terms: about 1e-8
            for moment, atol in (("exp_avg", 1e-7), ("exp_avg_sq", 1e-9)):
                torch.testing.assert_close(torch.from_numpy(moments[moment]), state[moment],
                                           rtol=1e-4, atol=atol,
                                           msg=lambda m, n=name, o=moment: f"{o} of {n}: {m}")
        if step == 30:  # resampling resets some latents' moments
            index = torch.tensor([1, 4, 7])
            for name, dim in fast_sae.latent_parameters().items():
                fast.reset_moments(name, dim, index)
                slow.reset_moments(name, dim, index)
            assert not fast.adam.state[0]["exp_avg"][[1, 4, 7]].any()
        with torch.no_grad():  # the same state again: rounding does not accumulate
            for a, b in zip(fast_sae.parameters(), slow_sae.parameters()):
                a.copy_(b)
        since_fired = torch.where(slow_loss.fired, 0, since_fired + 1)
        n_dead.append(int((silent & ~slow_loss.fired).sum()))
    if kind == "topk":
        assert max(n_dead) > 0  # the auxiliary loss took part


@pytest.mark.parametrize("kind, options", [
    ("relu", dict(l1_coefficient=0.3)),
    ("relu", dict(l1_coefficient=0.3, decoder_norm="penalty")),
    ("topk", dict(k=2, aux_k=3)),
])
def test_numpy_and_autograd_training_with_resampling_end_at_the_same_weights(
        planted, monkeypatch, kind, options):
    """Whole runs of train_sae with dead latents and resampling, once on each path: the same
    latents are resampled at the same steps and the weights end the same (to float32
    rounding), so the fast path is the autograd loop's twin in every option the book uses."""
    _, train, _ = planted
    runs = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(sae._numpy_step, "applies", lambda model, x: False)
        model = create_sae(kind, N_DIMS, N_FEATURES, seed=0, **options)
        with torch.no_grad():
            model.b_enc[:6] = -5.0  # six latents start dead
        log = train_sae(model, train, steps=200, resample_every=50, dead_steps=20, seed=0)
        runs.append((model, log))
    (fast, fast_log), (slow, slow_log) = runs
    assert fast_log.n_resampled == slow_log.n_resampled >= 6
    np.testing.assert_array_equal(fast_log.n_dead, slow_log.n_dead)
    for (name, a), b in zip(fast.named_parameters(), slow.parameters()):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-4, atol=1e-4, msg=name)


def test_the_numpy_step_takes_only_the_built_in_relu_and_topk_on_the_cpu():
    x = torch.zeros(1, 3)
    assert sae._numpy_step.applies(ReLUSAE(3, 4), x)
    assert sae._numpy_step.applies(TopKSAE(3, 4, k=1), x)
    assert not sae._numpy_step.applies(TopKSAE(3, 4, k=1), x.double())
    assert not sae._numpy_step.applies(BatchTopKSAE(3, 4, k=1), x)  # a subclass of TopKSAE
    assert not sae._numpy_step.applies(JumpReLUSAE(3, 4), x)

    class Shifted(ReLUSAE):
        def activate(self, pre):
            return torch.relu(pre - 1.0)

    assert not sae._numpy_step.applies(Shifted(3, 4), x)


def test_aux_loss_revives_dead_topk_latents(planted):
    """Latents held back by a negative bias (they never win the top k) revive with the aux loss."""
    _, train, test = planted
    dead = {}
    for aux in (0.0, 1 / 32):
        model = TopKSAE(N_DIMS, N_FEATURES, k=1, aux_coefficient=aux, seed=0)
        with torch.no_grad():
            model.b_enc[:6] = -1.0
        train_sae(model, train, steps=1500, dead_steps=50, seed=0)
        dead[aux] = evaluate_sae(model, test).n_dead
    assert dead[0.0] >= 2 and dead[1 / 32] == 0


def test_resampling_revives_dead_relu_latents(planted):
    features, train, test = planted
    results = {}
    for resample in (None, 500):
        model = ReLUSAE(N_DIMS, N_FEATURES, l1_coefficient=0.3, seed=0)
        with torch.no_grad():
            model.b_enc[:6] = -5.0
        log = train_sae(model, train, steps=2000, resample_every=resample, dead_steps=100,
                        seed=0)
        results[resample] = (evaluate_sae(model, test, features), log.n_resampled)
    assert results[None][0].n_dead == 6 and results[None][1] == 0
    assert results[500][1] >= 6 and results[500][0].n_dead < 6
    assert results[500][0].match.score > results[None][0].match.score


def test_resampling_resets_a_jumprelu_threshold_and_its_adam_moments(planted):
    _, train, _ = planted
    model = JumpReLUSAE(N_DIMS, N_FEATURES, threshold=0.1, seed=0)
    with torch.no_grad():
        model.b_enc[:3] = -5.0
        model.log_threshold[:3] = 3.0
    log = train_sae(model, train, steps=120, resample_every=50, dead_steps=20, seed=0)
    assert log.n_resampled >= 3
    assert float(model.threshold[:3].max().detach()) < 1.0  # reset to 0.1, then trained a little


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("kind", list(EXAMPLES))
def test_training_on_cuda_matches_the_cpu(planted, kind):
    """The same SAE, data and seed on a GPU: the same batches, close weights, CUDA results."""
    features, train, test = planted
    options = {**EXAMPLES[kind], **({"k": 1} if "k" in EXAMPLES[kind] else {})}
    cpu, gpu = (create_sae(kind, N_DIMS, N_FEATURES, seed=0, **options) for _ in range(2))
    train_sae(cpu, train, steps=200, seed=0)
    train_sae(gpu, torch.as_tensor(train, device="cuda"), steps=200, seed=0)
    assert gpu.W_dec.device.type == "cuda"
    torch.testing.assert_close(gpu.W_dec.detach().cpu(), cpu.W_dec.detach(), rtol=1e-3,
                               atol=1e-3)
    ev_cpu, ev_gpu = evaluate_sae(cpu, test, features), evaluate_sae(gpu, test, features)
    assert ev_gpu.fvu == pytest.approx(ev_cpu.fvu, rel=1e-2)
    moved = create_sae(kind, N_DIMS, N_FEATURES, seed=0, **options)
    train_sae(moved, train, steps=5, device="cuda")
    assert moved.W_dec.device.type == "cuda"


# --------------------------------------------------------------------------- evaluation


@pytest.fixture(scope="module")
def trained_topk(planted):
    _, train, _ = planted
    model = TopKSAE(N_DIMS, 2 * N_FEATURES, k=1, seed=0)
    train_sae(model, train, steps=1000, seed=0)
    return model


def test_evaluation_statistics_by_hand(planted, trained_topk):
    _, _, test = planted
    ev = evaluate_sae(trained_topk, test, batch_size=333)
    with torch.no_grad():
        x = torch.as_tensor(test, dtype=torch.float32)
        z = trained_topk.encode(x)
        x_hat = trained_topk.decode(z).double().numpy()
    assert ev.l0 == pytest.approx(float((z != 0).sum()) / len(test))
    fvu = ((test - x_hat) ** 2).sum() / ((test - test.mean(axis=0)) ** 2).sum()
    assert ev.fvu == pytest.approx(fvu, rel=1e-4)
    np.testing.assert_array_equal(ev.dead, (z != 0).sum(dim=0).numpy() == 0)
    assert ev.match is None


def test_per_input_values_equal_a_slow_twin(planted, trained_topk):
    """``active`` and ``squared_error``, row by row, and the summaries they give."""
    _, _, test = planted
    ev = evaluate_sae(trained_topk, test, batch_size=333)
    assert ev.active.shape == ev.squared_error.shape == (len(test),)
    with torch.no_grad():
        for i in range(0, len(test), 97):
            x = torch.as_tensor(test[i: i + 1], dtype=torch.float32)
            z = trained_topk.encode(x)
            assert ev.active[i] == int((z != 0).sum())
            error = float(((x - trained_topk.decode(z)) ** 2).sum())
            assert ev.squared_error[i] == pytest.approx(error, rel=1e-5, abs=1e-12)
    assert ev.l0 == pytest.approx(ev.active.mean())
    variance = ((test - test.mean(axis=0)) ** 2).sum()
    assert ev.fvu == pytest.approx(ev.squared_error.sum() / variance, rel=1e-6)


def test_evaluation_encodes_each_input_on_its_own(planted):
    """A BatchTopK SAE is evaluated with its threshold, whatever mode it is in."""
    _, train, test = planted
    model = BatchTopKSAE(N_DIMS, N_FEATURES, k=1, seed=0)
    train_sae(model, train, steps=200, seed=0)
    model.train()
    ev = evaluate_sae(model, test, batch_size=1000)
    assert model.training  # the mode is restored
    with torch.no_grad():
        z = model.eval().encode(torch.as_tensor(test, dtype=torch.float32))
    np.testing.assert_array_equal(ev.active, (z != 0).sum(dim=1).numpy())


def test_dead_latents_are_counted():
    model = ReLUSAE(3, 4, seed=0)
    with torch.no_grad():
        model.b_enc[2:] = -100.0  # latents 2 and 3 can never fire on these inputs
    ev = evaluate_sae(model, np.random.default_rng(0).standard_normal((500, 3)))
    assert ev.n_dead == 2 and ev.dead.tolist() == [False, False, True, True]
    assert np.all(ev.firing_rate[:2] > 0)


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
    untrained = [match_features(ReLUSAE(3, 8, seed=s).atoms, features).score
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
    _, _, test = planted
    assert trained_topk.atoms.shape == (2 * N_FEATURES, N_DIMS)
    result = srmlib.spotlight_resonance(test, trained_topk.atoms, epsilon=0.9, resolution=16,
                                        max_planes=5, seed=0)
    assert result.values.shape == (5, 16)


def test_bad_input_is_rejected():
    with pytest.raises(TypeError, match="k"):
        TopKSAE(3, 4)
    with pytest.raises(ValueError, match="k must be at most"):
        TopKSAE(3, 4, k=5)
    with pytest.raises(ValueError, match="aux_k must be at most"):
        TopKSAE(3, 4, k=1, aux_k=5)
    with pytest.raises(ValueError, match="kind"):
        create_sae("gated", 3, 4)
    with pytest.raises(TypeError, match="kind"):
        create_sae(None, 3, 4)
    with pytest.raises(ValueError, match="decoder_norm"):
        ReLUSAE(3, 4, decoder_norm="none")
    with pytest.raises(ValueError, match="l1_coefficient"):
        ReLUSAE(3, 4, l1_coefficient=-1.0)
    with pytest.raises(ValueError, match="threshold"):
        JumpReLUSAE(3, 4, threshold=0.0)
    with pytest.raises(ValueError, match="bandwidth"):
        JumpReLUSAE(3, 4, bandwidth=-1.0)
    with pytest.raises(ValueError, match="threshold_decay"):
        BatchTopKSAE(3, 4, k=1, threshold_decay=1.0)
    model = ReLUSAE(3, 4)
    with pytest.raises(ValueError, match="activations must have 3 columns"):
        train_sae(model, np.zeros((10, 5)))
    with pytest.raises(ValueError, match="lr"):
        train_sae(model, np.zeros((10, 3)), lr=0.0)
    with pytest.raises(TypeError, match="sae"):
        train_sae("sae", np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        evaluate_sae(model, np.full((10, 3), np.nan))
    with pytest.raises(TypeError, match="sae"):
        evaluate_sae("sae", np.zeros((10, 3)))
    with pytest.raises(ValueError, match="same dimension"):
        match_features(np.eye(3), np.eye(2))
    with pytest.raises(ValueError, match="zero rows"):
        match_features(np.zeros((2, 3)), np.eye(3))


# --------------------------------------------------------------------------- chapter 5's code


@pytest.fixture(scope="module")
def chapter_sae():
    """The namespace of chapter 5's cells tagged ``sae-from-scratch``: the ReLU SAE's encoder,
    decoder, loss and training step written out by hand."""
    import jupytext
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / "05_sparse_autoencoders.md"
    cells = [c.source for c in jupytext.read(path).cells
             if c.cell_type == "code" and "sae-from-scratch" in c.metadata.get("tags", [])]
    assert len(cells) >= 2
    namespace = {"torch": torch}
    for source in cells:
        exec(compile(source, f"{path.name}, sae-from-scratch", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("step_class", ["AutogradStep", "NumpyStep"])
def test_chapter_5_code_computes_what_the_package_computes(planted, chapter_sae, step_class):
    """The chapter's hand-written ReLU SAE and sae.ReLUSAE: the same latents, reconstruction and
    loss on the same weights and batch, and the same weights after a few training steps (by
    autograd, and by the numpy step train_sae takes for a ReLU SAE on the CPU)."""
    from srmlib.sae._numpy_step import NumpyStep
    from srmlib.sae.training import AutogradStep

    _, train, _ = planted
    model = ReLUSAE(N_DIMS, 2 * N_FEATURES, l1_coefficient=0.3, seed=3)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # biases that are not 0, as after training
        model.b_enc.copy_(0.2 * torch.randn(model.b_enc.shape, generator=generator))
        model.b_dec.copy_(0.2 * torch.randn(model.b_dec.shape, generator=generator))
    names = ("W_enc", "b_enc", "W_dec", "b_dec")
    parameters = [getattr(model, n).detach().clone().requires_grad_() for n in names]
    x = torch.as_tensor(train[:512], dtype=torch.float32)
    z = chapter_sae["encode"](x, *parameters[:2], parameters[3])
    assert 0 < int((z != 0).sum()) < z.numel()  # some latents fire, some do not
    torch.testing.assert_close(z, model.encode(x))
    torch.testing.assert_close(chapter_sae["decode"](z, *parameters[2:]), model(x))
    torch.testing.assert_close(chapter_sae["sae_loss"](x, *parameters, 0.3), model.loss(x).total)

    optimiser = torch.optim.Adam(parameters, lr=3e-3)
    step = {"AutogradStep": AutogradStep, "NumpyStep": NumpyStep}[step_class](model, 3e-3)
    no_dead = torch.zeros(model.n_latents, dtype=torch.bool)
    for rows in torch.randint(len(x), (5, 128), generator=generator):
        expected = chapter_sae["training_step"](parameters, optimiser, x[rows], 0.3)
        got = step(x[rows], no_dead)
        total = sum(float(torch.as_tensor(term).detach()) for term in (got.mse, got.penalty))
        assert total == pytest.approx(expected, rel=1e-5)
    for name, ours in zip(names, parameters):
        torch.testing.assert_close(ours.detach(), getattr(model, name).detach(), msg=name)


def test_sae_refuses_what_float32_cannot_hold_and_stops_when_training_diverges():
    """Issue 15: activations x 1e200 are finite in float64 and inf in the float32 SAE, and a
    learning rate that diverges left NaN weights; both were silent. An SAE is not scale-
    equivariant under Adam (its biases move by about lr per step whatever the data's scale,
    and a ReLU SAE's L1 term grows as the scale, its error as the square), so data beyond
    float32 are refused, not rescaled."""
    x = np.random.default_rng(0).standard_normal((200, 3))
    with pytest.raises(ValueError, match=r"activations holds 600 value.*beyond the range of "
                                         r"torch.float32.*rescale activations"):
        sae.train_sae(TopKSAE(3, 6, k=1, seed=0), x * 1e200, steps=5)
    with pytest.raises(ValueError, match="activations holds"):
        sae.evaluate_sae(TopKSAE(3, 6, k=1, seed=0), x * 1e200)
    for make in (lambda: TopKSAE(3, 6, k=1, seed=0), lambda: ReLUSAE(3, 6, seed=0)):
        # 1e30 fits float32, its square does not: the loss is inf from the first step
        with pytest.raises(ValueError, match=r"SAE training diverged.*by step 20; lr=0.003.*"
                                             r"largest \|value\| [0-9.]+e\+30"):
            sae.train_sae(make(), x * 1e30, steps=60, log_every=20)
        model = make()
        log = sae.train_sae(model, x, steps=60, log_every=20)  # the same, sanely: no error
        assert np.isfinite(log.mse).all()
        assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_evaluate_sae_refuses_activations_without_variance():
    """Issue 15: one row, or rows all equal, gave FVU = NaN (0/0, or error/0): the mean
    reconstructs them exactly, so no fraction of their variance means anything."""
    model = TopKSAE(3, 6, k=1, seed=0)
    for x in (np.ones((10, 3)), np.array([[0.5, -1.0, 2.0]])):
        with pytest.raises(ValueError, match=r"activations have no variance \(\d+ row"):
            sae.evaluate_sae(model, x)
    varied = np.random.default_rng(1).standard_normal((10, 3))
    assert np.isfinite(sae.evaluate_sae(model, varied).fvu)
