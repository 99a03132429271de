"""Activation functions: invariances both ways, slow twins, gradients at and near 0, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import srmlib
from srmlib import activations

D = 6


@pytest.fixture()
def x():
    return torch.randn(200, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def rotation(seed=1):
    return torch.from_numpy(srmlib.random_rotation(D, seed))


def permutation(seed=1):
    order = torch.randperm(D, generator=torch.Generator().manual_seed(seed))
    return torch.eye(D, dtype=torch.float64)[order]


def slow_isotropic_tanh(x):
    out = np.zeros_like(x)
    for i, row in enumerate(x):
        r = np.sqrt(sum(v * v for v in row))
        out[i] = row if r == 0 else np.tanh(r) * row / r
    return out


def slow_isotropic_relu(x, radius):
    out = np.zeros_like(x)
    for i, row in enumerate(x):
        r = np.sqrt(sum(v * v for v in row))
        if r > radius:
            out[i] = (r - radius) * row / r
    return out


def test_isotropic_functions_match_their_slow_twins(x):
    x = x * 2.0
    np.testing.assert_allclose(activations.IsotropicTanh()(x).numpy(),
                               slow_isotropic_tanh(x.numpy()), atol=1e-12)
    np.testing.assert_allclose(activations.IsotropicReLU(1.5)(x).numpy(),
                               slow_isotropic_relu(x.numpy(), 1.5), atol=1e-12)


def test_rotated_activation_matches_its_definition(x):
    f = activations.make_activation("rotated_tanh", D, seed=3).double()
    r = srmlib.random_rotation(D, 3)
    expected = np.array([r.T @ np.tanh(r @ row) for row in x.numpy()])
    np.testing.assert_allclose(f(x).numpy(), expected, atol=1e-6)  # rotation stored in float32
    np.testing.assert_allclose(f.basis, r, atol=1e-6)


@pytest.mark.parametrize("name", ["isotropic_tanh", "isotropic_relu", "identity"])
def test_isotropic_activations_commute_with_orthogonal_maps(x, name):
    f = activations.make_activation(name)
    for q in (rotation(1), rotation(2), permutation(1), -torch.eye(D, dtype=torch.float64)):
        torch.testing.assert_close(f(x @ q), f(x) @ q, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("name", ["tanh", "relu", "leaky_relu"])
def test_elementwise_activations_commute_with_permutations_not_rotations(x, name):
    f = activations.make_activation(name)
    p = permutation(1)
    torch.testing.assert_close(f(x @ p), f(x) @ p, atol=0, rtol=0)
    q = rotation(1)
    assert (f(x @ q) - f(x) @ q).abs().max() > 0.1


@pytest.mark.parametrize("name", ["rotated_tanh", "rotated_relu", "rotated_leaky_relu"])
def test_rotated_activations_commute_with_permutations_of_their_own_basis(x, name):
    f = activations.make_activation(name, D, seed=5).double()
    r = torch.from_numpy(srmlib.random_rotation(D, 5))
    p = permutation(2)
    conjugated = r.T @ p @ r  # permutes the rows of R
    torch.testing.assert_close(f(x @ conjugated), f(x) @ conjugated, atol=1e-6, rtol=1e-6)
    assert (f(x @ p) - f(x) @ p).abs().max() > 0.1
    assert (f(x @ rotation(1)) - f(x) @ rotation(1)).abs().max() > 0.1


@pytest.mark.parametrize("module", [activations.IsotropicTanh(), activations.IsotropicReLU(0.5),
                                    activations.IsotropicReLU(0.0)])
def test_gradients_are_finite_at_and_near_zero(module):
    for scale in (0.0, 1e-30, 1e-8, 1e-4):
        x = (scale * torch.ones(3, D, dtype=torch.float64)).requires_grad_()
        module(x).sum().backward()
        assert torch.isfinite(x.grad).all(), scale
    for scale in (0.0, 1e-30, 1e-8):
        x = (scale * torch.ones(3, D, dtype=torch.float32)).requires_grad_()
        y = module(x)
        y.sum().backward()
        assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()


def test_isotropic_tanh_is_the_identity_at_zero():
    x = torch.zeros(1, D, dtype=torch.float64, requires_grad=True)
    jacobian = torch.autograd.functional.jacobian(activations.IsotropicTanh(), x)
    torch.testing.assert_close(jacobian.reshape(D, D), torch.eye(D, dtype=torch.float64))
    small = 1e-7 * torch.ones(1, D, dtype=torch.float64)  # the Taylor branch
    torch.testing.assert_close(activations.IsotropicTanh()(small),
                               torch.from_numpy(slow_isotropic_tanh(small.numpy())))


def test_gradcheck_away_from_the_kink():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, D, dtype=torch.float64, generator=g)
    x = x / x.norm(dim=1, keepdim=True) * torch.linspace(0.1, 3.0, 8, dtype=torch.float64)[:, None]
    radius = 1.05  # no row has norm within 0.05 of it
    assert ((x.norm(dim=1) - radius).abs() > 0.04).all()
    for module in (activations.IsotropicTanh(), activations.IsotropicReLU(radius)):
        assert torch.autograd.gradcheck(module, (x.clone().requires_grad_(),))
    tiny = (1e-8 * torch.randn(4, D, dtype=torch.float64, generator=g)).requires_grad_()
    assert torch.autograd.gradcheck(activations.IsotropicTanh(), (tiny,))


def test_isotropic_relu_zero_inside_the_ball_and_identity_without_one(x):
    small = 0.1 * x / x.norm(dim=1, keepdim=True)
    assert torch.equal(activations.IsotropicReLU(0.5)(small), torch.zeros_like(small))
    torch.testing.assert_close(activations.IsotropicReLU(0.0)(x), x)


def test_factory_names_and_privileged_bases():
    for name in activations.ACTIVATION_NAMES:
        module = activations.make_activation(name, D, seed=0)
        assert isinstance(module, nn.Module)
        basis = activations.privileged_basis(module, D)
        if name.startswith("rotated"):
            np.testing.assert_allclose(basis, srmlib.random_rotation(D, 0), atol=1e-6)
        elif name in ("tanh", "relu", "leaky_relu"):
            np.testing.assert_array_equal(basis, np.eye(D))
        else:
            assert basis is None
    assert activations.make_activation("leaky_relu", negative_slope=0.3).negative_slope == 0.3


@pytest.mark.parametrize("call, error, match", [
    (lambda: activations.make_activation("gelu"), ValueError, "name"),
    (lambda: activations.make_activation(3), TypeError, "name"),
    (lambda: activations.make_activation("rotated_tanh"), ValueError, "n_dims"),
    (lambda: activations.make_activation("rotated_tanh", 1), ValueError, "n_dims"),
    (lambda: activations.IsotropicReLU(-1.0), ValueError, "radius"),
    (lambda: activations.RotatedActivation(nn.Tanh(), np.ones((3, 3))), ValueError, "orthogonal"),
    (lambda: activations.RotatedActivation(nn.Tanh(), np.ones((3, 2))), ValueError, "square"),
    (lambda: activations.RotatedActivation(np.tanh, np.eye(3)), TypeError, "activation"),
    (lambda: activations.privileged_basis(nn.GELU(), 3), TypeError, "activation"),
])
def test_bad_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_statistics_on_known_geometry():
    d, n = 4, 20_000
    eps = srmlib.epsilon_for_isotropic_fraction(d, 0.05)
    tanh = srmlib.spotlight_resonance(srmlib.data.tanh_gaussian(n, d, 0, gain=3.0), epsilon=eps,
                                      resolution=72)
    iso = srmlib.spotlight_resonance(srmlib.data.isotropic_gaussian(n, d, 0), epsilon=eps,
                                     resolution=72)
    assert activations.axis_harmonic(tanh) > 5 * activations.axis_harmonic(iso)
    ratio = tanh.resonance_ratio()
    slow = np.mean([abs(np.mean([r * np.cos(4 * a) for r, a in zip(row, tanh.angles)]))
                    for row in ratio])
    assert activations.axis_harmonic(tanh) == pytest.approx(slow)
    relu = srmlib.spotlight_resonance(srmlib.data.relu_gaussian(n, d, 0), epsilon=eps,
                                      resolution=72)
    assert activations.empty_sector(relu) == pytest.approx(1.0)
    assert activations.empty_sector(iso) < 0.3


def test_class_selectivity_against_a_slow_count():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 3))
    labels = rng.integers(0, 3, 300)
    x[labels == 1] += np.array([3.0, 0, 0])  # class 1 points along +b0
    selectivity, counts = activations.class_selectivity(x, labels, epsilon=0.8, min_samples=5)
    for k in range(6):
        axis, sign = divmod(k, 2)
        u = np.eye(3)[axis] * (1 - 2 * sign)
        inside = [i for i in range(300) if x[i] @ u / np.linalg.norm(x[i]) >= 0.8]
        assert counts[k] == len(inside)
        if len(inside) >= 5:
            assert selectivity[k] == pytest.approx(np.bincount(labels[inside]).max() / len(inside))
        else:
            assert np.isnan(selectivity[k])
    assert selectivity[0] > 0.7 and selectivity[0] == np.nanmax(selectivity)
    with pytest.raises(ValueError, match="labels"):
        activations.class_selectivity(x, labels[:5])
    with pytest.raises(ValueError, match="epsilon"):
        activations.class_selectivity(x, labels, epsilon=0.0)


def test_basis_preference_finds_the_basis_of_a_rotated_tanh():
    d = 6
    rotation = srmlib.random_rotation(d, 3)
    x = srmlib.data.tanh_gaussian(3000, d, 0, gain=3.0) @ rotation  # tanh in the rows of R
    x[:5] = 0  # zero rows are left out
    eps = srmlib.epsilon_for_isotropic_fraction(d, 0.05)
    tests = activations.basis_preference(
        x, {"standard": np.eye(d), "rotated": rotation}, statistic=activations.axis_harmonic,
        epsilon=eps, resolution=36, n_rotations=19, seed=1)
    assert list(tests) == ["standard", "rotated"]
    assert tests["rotated"].p_value == tests["rotated"].min_p_value
    assert tests["rotated"].z_score > 5 and abs(tests["standard"].z_score) < 4
    assert tests["rotated"].n_samples == 2995
    direct = srmlib.stats.rotation_test(x[5:], rotation, statistic=activations.axis_harmonic,
                                        epsilon=eps, resolution=36, n_rotations=19, seed=1)
    np.testing.assert_allclose(tests["rotated"].null, direct.null)
    with pytest.raises(TypeError, match="bases"):
        activations.basis_preference(x, [np.eye(d)])


def _harmonic_test(x, seed=1, n_rotations=19, **kwargs):
    d = x.shape[1]
    return srmlib.stats.rotation_test(
        x, np.eye(d), statistic=activations.axis_harmonic,
        epsilon=srmlib.epsilon_for_isotropic_fraction(d, 0.05), resolution=36,
        n_rotations=n_rotations, seed=seed, **kwargs)


def test_preference_change_pairs_the_random_bases():
    d, n = 8, 3000
    before = _harmonic_test(srmlib.data.tanh_gaussian(n, d, 0, gain=0.3))
    after = _harmonic_test(srmlib.data.tanh_gaussian(n, d, 1, gain=3.0))
    change = activations.preference_change(after, before)
    # slow twin: difference basis by basis, and the p-value counted by hand
    assert change.observed == pytest.approx(after.observed - before.observed)
    for k in range(19):
        assert change.null[k] == pytest.approx(after.null[k] - before.null[k])
    assert change.p_value == pytest.approx(
        (1 + sum(v >= change.observed for v in change.null)) / 20)
    assert change.statistic == "change of axis_harmonic" and change.n_rotations == 19
    # saturating tanh units add a ripple locked to the neurons: far beyond every random basis
    assert change.p_value == change.min_p_value and change.z_score > 5


def test_preference_change_ignores_a_change_towards_another_basis():
    d, n = 8, 3000
    rotation = srmlib.random_rotation(d, 3)
    before = _harmonic_test(srmlib.data.tanh_gaussian(n, d, 0, gain=0.3))
    elsewhere = _harmonic_test(srmlib.data.tanh_gaussian(n, d, 1, gain=3.0) @ rotation)
    assert abs(activations.preference_change(elsewhere, before).z_score) < 4


def test_preference_change_rejects_tests_that_cannot_be_paired():
    x = srmlib.data.tanh_gaussian(500, 4, 0, gain=2.0)
    test = _harmonic_test(x)
    with pytest.raises(TypeError, match="reference"):
        activations.preference_change(test, 1.0)
    with pytest.raises(ValueError, match="seed"):
        activations.preference_change(test, _harmonic_test(x, seed=2))
    with pytest.raises(ValueError, match="n_rotations"):
        activations.preference_change(test, _harmonic_test(x, n_rotations=9))
    with pytest.raises(ValueError, match="integer seed"):
        activations.preference_change(test, _harmonic_test(x, seed=np.random.default_rng(1)))
    with pytest.raises(ValueError, match="planes"):
        activations.preference_change(_harmonic_test(x, max_planes=3),
                                      _harmonic_test(x[::-1].copy(), max_planes=4))
