"""Chapter 3's quantisation statistic and PPPM density: slow twins from srm.pppm, nulls, errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy import stats as scipy_stats

import srmlib
from srmlib import activations


def slow_angles(x, basis, epsilon):
    """In-plane angles and plane cosines per plane, straight from srmlib.pppm, plane by plane."""
    with warnings.catch_warnings():  # zero rows: left out, as angular_power leaves them
        warnings.simplefilter("ignore", UserWarning)
        result = srmlib.pppm(x, basis, epsilon=epsilon)
    out = []
    for i, j in result.planes:
        unit = result.in_plane(int(i), int(j), unit=True)
        out.append((np.arctan2(unit[:, 1], unit[:, 0]), np.linalg.norm(unit, axis=1)))
    return out


def slow_power(x, basis, epsilon, k):
    """Mean of cos(k (phi_s - phi_t)) over all pairs s != t in the same plane, by a double loop."""
    total, pairs = 0.0, 0
    for phi, _ in slow_angles(x, basis, epsilon):
        for s, t in itertools.permutations(range(len(phi)), 2):
            total += np.cos(k * (phi[s] - phi[t]))
            pairs += 1
    return total / pairs


@pytest.fixture()
def clustered():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 5))
    x[:40, :2] += 3.0  # a cluster near the plane of the first two neurons
    x[7] = 0.0  # a zero row, never kept
    return x


@pytest.mark.parametrize("basis_kind", ["neurons", "rotation", "skewed"])
def test_angular_power_matches_a_double_loop_over_pppm(clustered, basis_kind):
    rng = np.random.default_rng(1)
    basis = {"neurons": None, "rotation": srmlib.random_rotation(5, 3),
             "skewed": np.eye(5) + 0.3 * rng.standard_normal((5, 5))}[basis_kind]
    power = activations.angular_power(clustered, basis, epsilon=0.5, max_harmonic=5)
    for k in (1, 2, 5):
        assert power[k - 1] == pytest.approx(slow_power(clustered, basis, 0.5, k), abs=1e-10)
    assert activations.quantisation(clustered, basis, epsilon=0.5, harmonics=(2, 5)) == \
        pytest.approx(2 * power[1:5].sum())


def test_angular_power_is_unbiased_for_isotropic_data():
    rng = np.random.default_rng(2)
    values = np.array([activations.angular_power(rng.standard_normal((60, 6)), epsilon=0.5,
                                                 max_harmonic=8) for _ in range(200)])
    # each harmonic's mean over 200 isotropic draws is 0 within 4 standard errors
    sem = values.std(axis=0) / np.sqrt(len(values))
    assert np.all(np.abs(values.mean(axis=0)) < 4 * sem)


def test_quantisation_sees_discrete_directions_and_their_basis():
    rng = np.random.default_rng(3)
    corners = rng.choice([-1.0, 1.0], size=(2000, 8))  # on the hypercube's corners: quantised
    x = corners + 0.05 * rng.standard_normal(corners.shape)
    q = activations.quantisation(x, epsilon=0.3)
    q_iso = activations.quantisation(rng.standard_normal((2000, 8)), epsilon=0.3)
    assert q > 1.0 and abs(q_iso) < 0.1
    rotation = srmlib.random_rotation(8, 4)
    # a check of the code: the statistic of (x, basis) is that of (x Q, basis Q)
    assert activations.quantisation(x @ rotation, rotation, epsilon=0.3) == pytest.approx(q)
    tests = activations.quantisation_test(x, {"neurons": np.eye(8), "rotated": rotation},
                                          epsilon=0.3, n_rotations=9, seed=0)
    assert tests["neurons"].p_value == tests["neurons"].min_p_value
    assert tests["rotated"].p_value > 0.2
    # the same random bases for every basis and every representation with one seed
    again = activations.quantisation_test(x[:1000], {"neurons": np.eye(8)}, epsilon=0.3,
                                          n_rotations=9, seed=0)["neurons"]
    paired = activations.preference_change(tests["neurons"], again)
    assert paired.n_rotations == 9


def test_pppm_density_is_one_for_isotropic_data_and_counts_every_kept_point():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((20000, 6))
    density = activations.pppm_density(x, epsilon=0.5, n_angles=8, n_radii=3)
    angles = slow_angles(x[:2000], None, 0.5)
    assert density.n_points == sum(len(phi) for phi, _ in slow_angles(x, None, 0.5))
    assert density.density.shape == (3, 8) and density.n_planes == 15
    assert density.radius_edges[0] == 0.5 and density.radius_edges[-1] == 1.0
    # isotropic data fill every bin as expected: chi-square with 23 degrees of freedom
    counts = density.density * density.n_points / 24
    chi2 = ((counts - density.n_points / 24) ** 2 / (density.n_points / 24)).sum()
    assert scipy_stats.chi2.sf(chi2, 23) > 1e-3
    # the slow twin: each point's bin from pppm's coordinates
    phi = np.concatenate([a for a, _ in angles]) % (2 * np.pi)
    r = np.concatenate([c for _, c in angles])
    small = activations.pppm_density(x[:2000], epsilon=0.5, n_angles=8, n_radii=3)
    slow = np.zeros((3, 8))
    for a, c in zip(phi, r):
        ring = min(np.searchsorted(small.radius_edges, c, side="right") - 1, 2)
        slow[ring, min(int(a // (np.pi / 4)), 7)] += 1
    assert np.allclose(small.density, slow / (len(phi) / 24))


def test_pppm_density_in_two_dimensions_has_one_ring():
    x = np.random.default_rng(6).standard_normal((100, 2))
    density = activations.pppm_density(x, epsilon=0.5, n_angles=4, n_radii=5)
    assert density.density.shape == (1, 4) and density.n_points == 100


@pytest.mark.parametrize("call, error, match", [
    (lambda: activations.quantisation(np.ones((5, 3)), epsilon=1.0), ValueError, "epsilon"),
    (lambda: activations.quantisation(np.ones((5, 3)), epsilon=0.5, harmonics=(3, 2)),
     ValueError, "harmonics"),
    (lambda: activations.angular_power(np.ones((5, 3)), np.ones((2, 4)), epsilon=0.5),
     ValueError, "basis"),
    (lambda: activations.angular_power(np.ones((5, 3)), np.array([[1.0, 0, 0], [2.0, 0, 0]]),
                                       epsilon=0.5), ValueError, "parallel"),
    (lambda: activations.angular_power(np.ones((5, 3)), epsilon=0.5, max_harmonic=0),
     ValueError, "max_harmonic"),
    (lambda: activations.quantisation_test(np.ones((5, 3)), [np.eye(3)], epsilon=0.5),
     TypeError, "bases"),
    (lambda: activations.pppm_density(np.ones((5, 3)), epsilon=0.5, n_angles=0),
     ValueError, "n_angles"),
])
def test_bad_arguments_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()
