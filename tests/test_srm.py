"""The fast Spotlight Resonance against its slow twin, its exact identities, and its errors."""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import pytest
import torch

import srmlib
from srmlib import srm as srm_module
from srmlib.bases import plane_frame
from tests import slow_srm


def sample_activations(n=240, d=5, seed=0, n_zero=3):
    """Mixed data with structure: ReLU-sparse rows, dense Gaussian rows, and a few zero rows."""
    rng = np.random.default_rng(seed)
    relu = np.maximum(rng.standard_normal((n // 2, d)) - 0.5, 0.0)
    silent = ~relu.any(axis=1)
    relu[silent] = np.abs(rng.standard_normal((silent.sum(), d)))
    dense = rng.standard_normal((n - n // 2, d))
    x = np.concatenate([relu, dense, np.zeros((n_zero, d))])
    return x[rng.permutation(len(x))]


def make_basis(kind: str, d: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "standard":
        return np.eye(d)
    if kind == "rotated":
        return srmlib.random_rotation(d, seed=seed)
    if kind == "overcomplete":
        return rng.standard_normal((d + 3, d))
    if kind == "skewed":  # non-orthogonal, non-unit
        return (np.eye(d) + 0.4 * rng.standard_normal((d, d))) * rng.uniform(0.2, 5.0, (d, 1))
    raise ValueError(kind)


def assert_matches_slow(x, basis, res):
    """Every count of the fast result lies within the slow reference's boundary bounds."""
    counts = np.rint(res.values * res.n_samples).astype(np.int64)
    assert np.allclose(counts, res.values * res.n_samples)
    for row, (i, j) in enumerate(res.planes):
        cos = slow_srm.cosines(x, basis, i, j, res.angles)
        low, high = slow_srm.count_bounds(cos, res.epsilon, res.signed)
        bad = np.flatnonzero((counts[row] < low) | (counts[row] > high))
        assert bad.size == 0, (
            f"plane ({i}, {j}) angle {res.angles[bad[0]]:.4f}: fast {counts[row, bad[0]]}, "
            f"slow in [{low[bad[0]]}, {high[bad[0]]}]"
        )


@pytest.mark.parametrize("basis_kind", ["standard", "rotated", "overcomplete", "skewed"])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("pairs", ["comb", "perm"])
@pytest.mark.parametrize("epsilon", [0.6, 0.97, -0.3])
def test_fast_srm_matches_slow_reference(basis_kind, signed, pairs, epsilon):
    x = sample_activations()
    basis = make_basis(basis_kind, x.shape[1])
    with pytest.warns(UserWarning, match="zero vectors"):
        res = srmlib.spotlight_resonance(
            x, basis, epsilon=epsilon, resolution=24, pairs=pairs, signed=signed
        )
    assert res.values.shape == (len(res.planes), 24)
    assert np.abs(res.values).sum() > 0, "degenerate test: nothing inside any cone"
    assert_matches_slow(x, basis, res)


def test_explicit_unsorted_angles_match_slow_reference():
    x = sample_activations(n_zero=0)
    basis = make_basis("skewed", x.shape[1])
    angles = np.random.default_rng(5).uniform(-7.0, 13.0, size=31)  # unsorted, beyond one turn
    res = srmlib.spotlight_resonance(x, basis, epsilon=0.7, angles=angles, signed=True)
    np.testing.assert_array_equal(res.angles, angles)
    assert_matches_slow(x, basis, res)


@pytest.mark.parametrize("signed", [False, True])
def test_uniform_grid_arithmetic_agrees_with_binary_search(signed):
    """resolution= finds arc ends by arithmetic, angles= by binary search: same counts."""
    x = sample_activations(n=2000, d=6, n_zero=0)
    basis = make_basis("rotated", 6)
    grid = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    uniform = srmlib.spotlight_resonance(x, basis, epsilon=0.2, resolution=90, signed=signed)
    searched = srmlib.spotlight_resonance(x, basis, epsilon=0.2, angles=grid, signed=signed)
    np.testing.assert_array_equal(uniform.angles, grid)
    np.testing.assert_array_equal(uniform.values, searched.values)


@pytest.fixture(params=["sparse", "dense"])
def route(request, monkeypatch):
    """Force the sparse (orthonormal pre-filter) or the dense route (see _sparse_filter)."""
    monkeypatch.setattr(srm_module, "_SPARSE_ADVANTAGE", 0 if request.param == "sparse" else 1e30)
    return request.param


def both_routes(monkeypatch, call):
    """Run ``call`` once on each route and return (sparse, dense)."""
    results = []
    for advantage in (0, 1e30):
        monkeypatch.setattr(srm_module, "_SPARSE_ADVANTAGE", advantage)
        results.append(call())
    return results


@pytest.mark.parametrize("basis_kind", ["standard", "rotated"])
@pytest.mark.parametrize("epsilon", [0.3, 0.75, 0.97])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("planes", [{"pairs": "comb"}, {"pairs": "perm", "max_planes": 13, "seed": 2},
                                    {"planes": [(3, 1), (0, 4), (1, 3), (2, 0)]}])
def test_sparse_route_gives_the_dense_route_values_bit_for_bit(monkeypatch, basis_kind, epsilon,
                                                               signed, planes):
    x = sample_activations(n=600, d=6, n_zero=0)
    basis = make_basis(basis_kind, 6)
    sparse, dense = both_routes(monkeypatch, lambda: srmlib.spotlight_resonance(
        x, basis, epsilon=epsilon, resolution=36, signed=signed, **planes))
    np.testing.assert_array_equal(sparse.values, dense.values)
    np.testing.assert_array_equal(sparse.planes, dense.planes)
    assert np.abs(sparse.values).sum() > 0


def test_sparse_route_across_chunk_boundaries_and_in_float32(monkeypatch):
    x = sample_activations(n=500, d=9, n_zero=0)
    basis = make_basis("rotated", 9)
    monkeypatch.setattr(srm_module, "_CHUNK_ELEMENTS", 5 * 500)  # five planes per chunk
    for data in (x, x.astype(np.float32)):
        sparse, dense = both_routes(monkeypatch, lambda: srmlib.spotlight_resonance(
            data, basis, epsilon=0.6, resolution=24, pairs="perm"))
        np.testing.assert_array_equal(sparse.values, dense.values)


def test_sparse_route_matches_slow_reference(route):
    x = sample_activations(n=300, d=7, n_zero=0)
    basis = make_basis("rotated", 7)
    res = srmlib.spotlight_resonance(x, basis, epsilon=0.7, resolution=30, pairs="perm")
    assert_matches_slow(x, basis, res)


def test_non_orthonormal_basis_never_takes_the_sparse_route(monkeypatch):
    monkeypatch.setattr(srm_module, "_SPARSE_ADVANTAGE", 0)
    monkeypatch.setattr(srm_module, "_sparse_selections", None)  # calling it would fail
    x = sample_activations(n_zero=0)
    srmlib.spotlight_resonance(x, make_basis("skewed", 5), epsilon=0.9, resolution=8)
    srmlib.spotlight_resonance(x, epsilon=-0.2, resolution=8)  # nor does epsilon <= 0


def test_nothing_in_any_cone_on_either_route(route):
    """Isotropic data in 64 dimensions never come within arccos(0.99) of a neuron plane."""
    x = np.random.default_rng(0).standard_normal((2000, 64))
    res = srmlib.spotlight_resonance(x, epsilon=0.99, resolution=12, max_planes=50, seed=0)
    np.testing.assert_array_equal(res.values, 0.0)
    projections = srmlib.pppm(x, epsilon=0.99, max_planes=50, seed=0)
    assert projections.coords.shape == (0, 2) and projections.sample_index.shape == (0,)


@pytest.mark.parametrize("epsilon", [0.5, 0.9])
def test_pppm_is_the_same_on_both_routes(monkeypatch, epsilon):
    x = sample_activations(n=400, d=6, n_zero=0)
    basis = make_basis("rotated", 6)
    sparse, dense = both_routes(monkeypatch, lambda: srmlib.pppm(x, basis, epsilon=epsilon,
                                                                 pairs="perm"))
    for field in ("coords", "plane_index", "sample_index", "plane_cosine"):
        np.testing.assert_array_equal(getattr(sparse, field), getattr(dense, field))
    assert len(sparse.coords) > 0


def _axis_expectation(psi_steps, A, epsilon, signed):
    """Exact counts for one unit sample at in-plane angle ``psi_steps * 2 pi / A`` (A = 4 or 8):
    inside at the probe ``m`` iff ``cos(2 pi (m - psi_steps) / A) >= epsilon``, with the cosines
    0, +-1/sqrt(2), +-1 rounded so that 0 is exactly 0."""
    m = np.arange(A)
    inside = lambda shift: np.round(np.cos(2 * np.pi * (m - psi_steps + shift) / A), 12) >= epsilon
    return inside(0).astype(int) - (inside(A // 2).astype(int) if signed else 0)


@pytest.mark.parametrize("A", [4, 8])
@pytest.mark.parametrize("epsilon", [0.0, 1.0])
@pytest.mark.parametrize("signed", [False, True])
def test_samples_exactly_on_the_cone_boundary_are_inside(monkeypatch, route, A, epsilon, signed):
    """Samples along the axes lie exactly on a cone's boundary at probe angles of the grid when
    epsilon is 0 or 1; a sample with no component in the plane has cosine 0 with every probe.
    The cone is closed (``cos >= epsilon``), so all of them count, on either route and in blocks
    of any size: exact counts, not the slow twin's bracket."""
    d = 3
    e = np.eye(d)
    x = np.stack([e[0], 2.5 * e[1], -e[0], -0.5 * e[1], 3 * e[2]])  # lengths do not matter
    psi = [0, A // 4, A // 2, 3 * A // 4]  # in-plane angles of the first four, in steps
    expected = sum(_axis_expectation(p, A, epsilon, signed) for p in psi)
    if epsilon <= 0 and not signed:  # e_2: r = 0 <= -epsilon, inside at every angle
        expected = expected + 1
    for block in (2**17, 2, 7):
        monkeypatch.setattr(srm_module, "_BLOCK_ELEMENTS", block)
        res = srmlib.spotlight_resonance(x, epsilon=epsilon, resolution=A, signed=signed,
                                         planes=[(0, 1)])
        np.testing.assert_array_equal(np.rint(res.values[0] * len(x)).astype(int), expected)


@pytest.mark.parametrize("epsilon", [0.0, 1.0, 0.5, -0.6, -0.999])
@pytest.mark.parametrize("signed", [False, True])
def test_dense_blocks_threads_and_compaction_change_nothing(monkeypatch, epsilon, signed):
    """Blocks of a few samples and planes, counting on two Python threads, and gathering the
    pairs that need an arc or not: the same counts, within the slow twin's bracket."""
    x = sample_activations(n=300, d=5, n_zero=0)
    x[:5] = 0.0
    x[:5, 2] = 1.0  # no component in the planes of the neurons that avoid neuron 2
    basis = make_basis("skewed", 5)
    basis[:2] = np.eye(5)[:2]  # so that plane (0, 1) is one of them
    call = lambda: srmlib.spotlight_resonance(x, basis, epsilon=epsilon, resolution=30,
                                              signed=signed)
    whole = call()
    assert_matches_slow(x, basis, whole)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(srm_module, "_SINGLE_THREAD_WORK", 0)
        for block, compact in [(70, 0.0), (70, 1.0), (1000, 1.0), (10**6, 0.0)]:
            monkeypatch.setattr(srm_module, "_BLOCK_ELEMENTS", block)
            monkeypatch.setattr(srm_module, "_COMPACT_FRACTION", compact)
            np.testing.assert_array_equal(call().values, whole.values)
    finally:
        torch.set_num_threads(before)


def test_explicit_angles_over_several_turns_signed_and_unsigned():
    """Explicit angles place arcs by binary search over three or four turns: they agree with
    the slow twin for negative epsilon (arcs wider than a half-turn) and near-full arcs."""
    x = sample_activations(n=200, d=4, n_zero=0)
    basis = make_basis("rotated", 4)
    angles = np.random.default_rng(7).uniform(-9.0, 9.0, size=25)
    for epsilon in (-0.9, -0.2, 0.0, 0.4):
        for signed in (False, True):
            res = srmlib.spotlight_resonance(x, basis, epsilon=epsilon, angles=angles,
                                             signed=signed)
            assert_matches_slow(x, basis, res)


def test_probe_closed_form_equals_matrix_exponential():
    basis = make_basis("skewed", 6)
    u, v = plane_frame(basis[2], basis[4])
    angles = np.linspace(0, 2 * np.pi, 17)
    closed = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
    np.testing.assert_allclose(slow_srm.probes(basis, 2, 4, angles), closed, atol=1e-12)


def test_chunking_does_not_change_values(monkeypatch):
    x = sample_activations(n=400, d=7, n_zero=0)
    whole = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=36, pairs="perm")
    monkeypatch.setattr(srm_module, "_CHUNK_ELEMENTS", 3 * 400)  # three planes per chunk
    chunked = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=36, pairs="perm")
    np.testing.assert_array_equal(whole.values, chunked.values)


# --------------------------------------------------------------------------- exact identities


@pytest.mark.parametrize("epsilon", [0.8, 0.2, -0.4])
def test_signed_is_difference_with_opposite_probe(epsilon):
    x = sample_activations(n_zero=0)
    basis = make_basis("overcomplete", x.shape[1])
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    signed = srmlib.spotlight_resonance(x, basis, epsilon=epsilon, angles=angles, signed=True)
    here = srmlib.spotlight_resonance(x, basis, epsilon=epsilon, angles=angles)
    opposite = srmlib.spotlight_resonance(x, basis, epsilon=epsilon, angles=angles + np.pi)
    np.testing.assert_allclose(signed.values, here.values - opposite.values, atol=1e-15)
    assert np.abs(signed.values).max() > 0


def test_perm_plane_ji_is_plane_ij_mirrored_for_orthonormal_basis():
    x = sample_activations(n_zero=0)
    basis = make_basis("rotated", x.shape[1])
    n_angles = 48  # a multiple of 4 puts pi/2 - theta on the grid
    res = srmlib.spotlight_resonance(x, basis, epsilon=0.6, resolution=n_angles, pairs="perm")
    mirror = (n_angles // 4 - np.arange(n_angles)) % n_angles  # index of pi/2 - theta
    for i, j in res.planes:
        np.testing.assert_array_equal(res.plane(j, i), res.plane(i, j)[mirror])


def test_comb_rows_are_the_perm_rows_with_i_less_than_j():
    x = sample_activations(n_zero=0)
    comb = srmlib.spotlight_resonance(x, epsilon=0.7, resolution=20, pairs="comb")
    perm = srmlib.spotlight_resonance(x, epsilon=0.7, resolution=20, pairs="perm")
    assert len(perm.planes) == 2 * len(comb.planes)
    for i, j in comb.planes:
        np.testing.assert_array_equal(comb.plane(i, j), perm.plane(i, j))


@pytest.mark.parametrize("d, epsilon", [(3, 0.5), (6, 0.75), (10, -0.2)])
def test_uniform_directions_converge_to_isotropic_expectation(d, epsilon):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((100_000, d))
    res = srmlib.spotlight_resonance(x, epsilon=epsilon, resolution=12)
    p = srmlib.isotropic_expectation(d, epsilon)
    sigma = math.sqrt(p * (1 - p) / res.n_samples)
    assert np.abs(res.values - p).max() < 5 * sigma
    assert abs(res.values.mean() - p) < 2 * sigma
    np.testing.assert_allclose(res.resonance_ratio(), res.values / p)


def test_rotating_data_and_basis_together_changes_nothing():
    x = sample_activations(n_zero=0)
    basis = make_basis("overcomplete", x.shape[1])
    rotation = srmlib.random_rotation(x.shape[1], seed=3)
    before = srmlib.spotlight_resonance(x, basis, epsilon=0.6, resolution=30, signed=True)
    after = srmlib.spotlight_resonance(x @ rotation.T, basis @ rotation.T, epsilon=0.6,
                                       resolution=30, signed=True)
    np.testing.assert_allclose(before.values, after.values, atol=1.5 / before.n_samples)


def test_lengths_of_samples_and_basis_vectors_do_not_matter():
    x = sample_activations(n_zero=0)
    rng = np.random.default_rng(2)
    basis = make_basis("skewed", x.shape[1])
    plain = srmlib.spotlight_resonance(x, basis, epsilon=0.6, resolution=30)
    scaled = srmlib.spotlight_resonance(x * rng.uniform(0.1, 10, (len(x), 1)),
                                        basis * rng.uniform(0.1, 10, (len(basis), 1)),
                                        epsilon=0.6, resolution=30)
    np.testing.assert_allclose(plain.values, scaled.values, atol=1.5 / plain.n_samples)


def test_the_rotation_of_the_basis_matters():
    """Sensitivity: sparse ReLU data crowd around the neurons, not around rotated directions."""
    x = np.maximum(np.random.default_rng(0).standard_normal((3000, 8)) - 0.8, 0)
    x = x[x.any(axis=1)]
    neurons = srmlib.spotlight_resonance(x, epsilon=0.9, resolution=36)
    rotated = srmlib.spotlight_resonance(x, srmlib.random_rotation(8, seed=0), epsilon=0.9,
                                         resolution=36)
    at_basis_vector = 0  # theta = 0 points the spotlight at b_i
    assert neurons.values[:, at_basis_vector].mean() > 10 * rotated.values[:, at_basis_vector].mean()


# --------------------------------------------------------------------------- inputs and outputs


def test_zero_rows_are_excluded_and_reported():
    x = sample_activations(n_zero=4)
    with pytest.warns(UserWarning, match="4 of .* zero vectors"):
        res = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=12)
    clean = srmlib.spotlight_resonance(x[np.linalg.norm(x, axis=1) > 0], epsilon=0.5,
                                       resolution=12)
    assert (res.n_excluded, res.n_samples) == (4, len(x) - 4)
    np.testing.assert_array_equal(res.values, clean.values)


def test_torch_and_float32_inputs():
    x = sample_activations(n_zero=0)
    reference = srmlib.spotlight_resonance(x, epsilon=0.6, resolution=24)
    from_torch = srmlib.spotlight_resonance(torch.from_numpy(x), epsilon=0.6, resolution=24)
    np.testing.assert_array_equal(reference.values, from_torch.values)
    single = srmlib.spotlight_resonance(torch.from_numpy(x).float(), epsilon=0.6, resolution=24)
    assert np.abs(single.values - reference.values).max() <= 2 / reference.n_samples
    assert isinstance(single.values, np.ndarray)
    half = srmlib.spotlight_resonance(torch.from_numpy(x).half(), epsilon=0.6, resolution=24)
    assert np.abs(half.values - reference.values).max() <= 0.05
    with pytest.warns(UserWarning, match="zero vectors"):  # rounding zeroes some small rows
        integers = srmlib.spotlight_resonance(np.rint(3 * x).astype(int), epsilon=0.6,
                                              resolution=24)
    assert integers.values.shape == reference.values.shape


def test_srm_pppm_and_rotation_test_take_torch_tensors():
    """A float64 tensor gives exactly the numpy result, for SRM, PPPM and the rotation test."""
    x = sample_activations(n=300, d=6, n_zero=0)
    basis = make_basis("rotated", 6)
    for epsilon in (0.0, 0.7):
        from_numpy = srmlib.spotlight_resonance(x, basis, epsilon=epsilon, resolution=36)
        from_torch = srmlib.spotlight_resonance(torch.from_numpy(x), torch.from_numpy(basis),
                                                epsilon=epsilon, resolution=36)
        np.testing.assert_array_equal(from_torch.values, from_numpy.values)
    np.testing.assert_array_equal(srmlib.pppm(torch.from_numpy(x), epsilon=0.8).coords,
                                  srmlib.pppm(x, epsilon=0.8).coords)
    for statistic in ("contrast", "alignment"):
        tested = [srmlib.stats.rotation_test(data, epsilon=0.7, resolution=24, n_rotations=9,
                                             seed=0, statistic=statistic)
                  for data in (x, torch.from_numpy(x))]
        np.testing.assert_array_equal(tested[0].null, tested[1].null)
        assert tested[0].observed == tested[1].observed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    """On CUDA the counts agree with the CPU's up to samples on a cone's boundary (the GPU's
    transcendental functions round differently), on both routes, and for PPPM and the rotation test."""
    x = sample_activations(n=4000, d=16, n_zero=0)
    basis = make_basis("rotated", 16)
    for kwargs in ({"epsilon": 0.4, "signed": True}, {"epsilon": 0.0}, {"epsilon": 0.9},
                   {"epsilon": -0.3, "basis": basis}):
        cpu = srmlib.spotlight_resonance(x, resolution=90, **kwargs)
        gpu = srmlib.spotlight_resonance(torch.from_numpy(x).cuda(), resolution=90, **kwargs)
        assert np.abs(gpu.values - cpu.values).max() <= 2 / cpu.n_samples
    cpu_pppm = srmlib.pppm(x, epsilon=0.9)
    gpu_pppm = srmlib.pppm(torch.from_numpy(x).cuda(), epsilon=0.9)
    np.testing.assert_allclose(gpu_pppm.coords, cpu_pppm.coords, atol=1e-12)
    tested = [srmlib.stats.rotation_test(data, epsilon=0.7, resolution=24, n_rotations=9, seed=0)
              for data in (x, torch.from_numpy(x).cuda())]
    np.testing.assert_allclose(tested[0].null, tested[1].null, rtol=1e-6, atol=1e-6)


def test_max_planes_is_a_reproducible_subset():
    x = sample_activations(n_zero=0)
    full = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=12, pairs="perm")
    a = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=12, pairs="perm", max_planes=7, seed=4)
    b = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=12, pairs="perm", max_planes=7, seed=4)
    c = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=12, pairs="perm", max_planes=7, seed=5)
    np.testing.assert_array_equal(a.planes, b.planes)
    assert len(a.planes) == 7 and not np.array_equal(a.planes, c.planes)
    for i, j in a.planes:
        np.testing.assert_array_equal(a.plane(i, j), full.plane(i, j))


def test_explicit_planes_and_result_parameters():
    x = sample_activations(n_zero=0)
    res = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=10, planes=[(3, 1), (0, 4)])
    assert res.pairs == "custom" and res.planes.tolist() == [[3, 1], [0, 4]]
    assert res.cone_half_angle == pytest.approx(math.acos(0.5))
    assert res.isotropic_baseline == pytest.approx(srmlib.isotropic_expectation(5, 0.5))
    np.testing.assert_allclose(res.angles, np.arange(10) * 2 * np.pi / 10)
    with pytest.raises(ValueError, match=r"plane \(1, 3\)"):
        res.plane(1, 3)


def test_mean_and_std_over_planes():
    res = srmlib.spotlight_resonance(sample_activations(n_zero=0), epsilon=0.6, resolution=8)
    np.testing.assert_allclose(res.mean(), res.values.mean(axis=0))
    np.testing.assert_allclose(res.std(), res.values.std(axis=0))


BAD_INPUTS = [
    ({"activations": np.array([[1.0, np.nan], [0.0, 1.0]])}, ValueError, "activations.*NaN"),
    ({"activations": np.array([[1.0, np.inf], [0.0, 1.0]])}, ValueError, "activations.*infinite"),
    ({"activations": np.ones(5)}, ValueError, "activations must be 2-dimensional"),
    ({"activations": np.ones((0, 3))}, ValueError, "activations is empty"),
    ({"activations": np.zeros((4, 3))}, ValueError, "activations: every row"),
    ({"activations": np.array([["a", "b"]])}, TypeError, "activations"),
    ({"activations": np.ones((4, 1))}, ValueError, "at least 2 columns"),
    ({"basis": np.eye(4)}, ValueError, "basis has vectors of dimension 4"),
    ({"basis": np.ones((1, 3))}, ValueError, "basis needs at least 2 vectors"),
    ({"basis": np.array([[1.0, 0, 0], [0, 0, 0], [0, 1, 0]])}, ValueError, r"basis vectors \[1\] have zero length"),
    ({"basis": np.array([[1.0, 0, 0], [0, 1, 0], [2, 0, 0]])}, ValueError, "basis vectors 0 and 2 are parallel"),
    ({"basis": np.array([[1.0, 0, 0], [0, 1, 0], [0, -3, 0]])}, ValueError, "basis vectors 1 and 2 are antiparallel"),
    ({"epsilon": 1.5}, ValueError, "epsilon must satisfy"),
    ({"epsilon": -1.0}, ValueError, "epsilon must satisfy"),
    ({"epsilon": float("nan")}, ValueError, "epsilon must be finite"),
    ({"epsilon": "0.9"}, TypeError, "epsilon must be a real number"),
    ({"resolution": 0}, ValueError, "resolution must be at least 1"),
    ({"resolution": 3.5}, TypeError, "resolution must be an integer"),
    ({"angles": np.ones((2, 2))}, ValueError, "angles must be 1-dimensional"),
    ({"angles": [0.0, np.nan]}, ValueError, "angles contains"),
    ({"pairs": "both"}, ValueError, "pairs must be one of"),
    ({"signed": "yes"}, TypeError, "signed must be True or False"),
    ({"max_planes": 0}, ValueError, "max_planes must be at least 1"),
    ({"planes": [(0, 0)]}, ValueError, "pairs basis vector 0 with itself"),
    ({"planes": [(0, 7)]}, ValueError, "planes must index basis vectors"),
    ({"planes": [0, 1]}, ValueError, r"planes must have shape \(n_planes, 2\)"),
]


@pytest.mark.parametrize("change, error, message", BAD_INPUTS)
def test_bad_input_raises_a_clear_error(change, error, message):
    kwargs = {"activations": np.random.default_rng(0).standard_normal((20, 3))} | change
    with pytest.raises(error, match=message):
        srmlib.spotlight_resonance(**kwargs)


def test_non_finite_values_are_found_in_any_block_of_rows(monkeypatch):
    """Finiteness is checked a block of rows at a time (bounded memory); a NaN or inf in the
    first, a middle or the last block is still reported, and counted."""
    from srmlib import _validation

    monkeypatch.setattr(_validation, "_FINITE_BLOCK_ELEMENTS", 12)  # two rows of 5 at a time
    for row in (0, 7, 10):
        x = sample_activations(n=11, d=5, n_zero=0)
        x[row, 3] = np.inf if row % 2 else np.nan
        x[10, 0] = np.nan
        with pytest.raises(ValueError, match="activations contains 2 NaN"):
            srmlib.spotlight_resonance(x, resolution=4)
    assert srmlib.spotlight_resonance(sample_activations(n=11, d=5, n_zero=0),
                                      resolution=4).values.shape == (10, 4)


def test_pppm_rejects_bad_epsilon_and_shapes():
    with pytest.raises(ValueError, match="epsilon"):
        srmlib.pppm(np.ones((3, 3)), epsilon=2.0)
    with pytest.raises(ValueError, match="basis has vectors"):
        srmlib.pppm(np.ones((3, 3)), np.eye(2))


# --------------------------------------------------------------------------- PPPM


@pytest.mark.parametrize("basis_kind", ["standard", "skewed", "overcomplete"])
def test_pppm_matches_direct_projection(basis_kind):
    x = sample_activations(n_zero=2)
    basis = make_basis(basis_kind, x.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = srmlib.pppm(x, basis, epsilon=0.8)
    assert len(res.coords) > 0
    for row, (i, j) in enumerate(res.planes):
        u, v = plane_frame(basis[i], basis[j])
        inplane = np.stack([x @ u, x @ v], axis=1)
        norms = np.linalg.norm(x, axis=1)
        cosine = np.divide(np.linalg.norm(inplane, axis=1), norms, out=np.zeros(len(x)),
                           where=norms > 0)
        expected = np.flatnonzero((cosine >= 0.8) & (norms > 0))
        got = res.sample_index[res.plane_index == row]
        np.testing.assert_array_equal(np.sort(got), expected)
        order = np.argsort(got)
        np.testing.assert_allclose(res.in_plane(i, j)[order], inplane[expected], atol=1e-12)
        np.testing.assert_allclose(res.plane_cosine[res.plane_index == row][order],
                                   cosine[expected], atol=1e-12)
        directions = inplane[expected] / norms[expected, None]  # of the unit samples x / |x|
        np.testing.assert_allclose(res.in_plane(i, j, unit=True)[order], directions, atol=1e-12)


# --------------------------------------------------------------------------- isotropic baseline


def test_isotropic_expectation_closed_forms():
    eps = np.linspace(-1, 1, 41)
    np.testing.assert_allclose(srmlib.isotropic_expectation(2, eps), np.arccos(eps) / np.pi,
                               atol=1e-12)
    # Archimedes: on the 2-sphere a cap's area is proportional to its height
    np.testing.assert_allclose(srmlib.isotropic_expectation(3, eps), (1 - eps) / 2, atol=1e-12)


def test_isotropic_expectation_against_monte_carlo():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400_000, 12))
    cos = x[:, 0] / np.linalg.norm(x, axis=1)
    for eps in (-0.5, 0.1, 0.4):
        p = srmlib.isotropic_expectation(12, eps)
        assert abs((cos >= eps).mean() - p) < 5 * math.sqrt(p * (1 - p) / len(x))


@pytest.mark.parametrize("d", [2, 3, 16, 256])
@pytest.mark.parametrize("fraction", [0.001, 0.05, 0.5, 0.8])
def test_epsilon_for_isotropic_fraction_inverts_the_expectation(d, fraction):
    eps = srmlib.epsilon_for_isotropic_fraction(d, fraction)
    assert srmlib.isotropic_expectation(d, eps) == pytest.approx(fraction, rel=1e-9)


def test_isotropic_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="n_dims must be at least 2"):
        srmlib.isotropic_expectation(1, 0.5)
    with pytest.raises(ValueError, match="epsilon must lie in"):
        srmlib.isotropic_expectation(4, 1.2)
    with pytest.raises(ValueError, match=r"fraction must lie in \(0, 1\)"):
        srmlib.epsilon_for_isotropic_fraction(4, 1.0)
    with pytest.raises(ValueError, match="isotropic baseline is 0"):
        srmlib.spotlight_resonance(np.eye(3), epsilon=1.0, resolution=4).resonance_ratio()
    with pytest.raises(ValueError, match="unsigned"):
        srmlib.spotlight_resonance(np.eye(3), epsilon=0.5, resolution=4,
                                   signed=True).resonance_ratio()


def test_projected_activations_are_reused_with_the_same_results():
    x = sample_activations(n_zero=2)
    basis = make_basis("skewed", x.shape[1])
    with pytest.warns(UserWarning, match="zero vectors") as caught:
        projected = srmlib.project(x, basis, pairs="perm", max_planes=9, seed=3)
    assert caught[0].filename == __file__  # the warning points at the caller
    for epsilon, signed in [(0.5, False), (0.8, True), (-0.2, False)]:
        with pytest.warns(UserWarning):
            direct = srmlib.spotlight_resonance(x, basis, epsilon=epsilon, resolution=20,
                                                signed=signed, pairs="perm", max_planes=9, seed=3)
        again = projected.spotlight_resonance(epsilon=epsilon, resolution=20, signed=signed)
        np.testing.assert_array_equal(again.values, direct.values)
        assert (again.seed, again.n_excluded) == (3, 2)
    with pytest.warns(UserWarning):
        direct_pppm = srmlib.pppm(x, basis, epsilon=0.7, pairs="perm", max_planes=9, seed=3)
    np.testing.assert_array_equal(projected.pppm(epsilon=0.7).coords, direct_pppm.coords)
    with pytest.raises(ValueError, match="epsilon"):
        projected.spotlight_resonance(epsilon=3.0)


def test_small_workloads_count_on_one_thread_and_restore_the_setting(monkeypatch):
    """Small: one torch thread in the caller's thread. Large: the blocks are shared among as
    many Python threads as torch had threads, each counting on one torch thread."""
    seen = []
    original_count = srm_module._count_arcs

    def spy(*args, **kwargs):
        seen.append((torch.get_num_threads(), threading.get_ident()))
        return original_count(*args, **kwargs)

    monkeypatch.setattr(srm_module, "_count_arcs", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = sample_activations(n_zero=0)
        small = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=12)
        assert seen and {threads for threads, _ in seen} == {1}
        assert {ident for _, ident in seen} == {threading.get_ident()}
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(srm_module, "_SINGLE_THREAD_WORK", 0)  # everything counts as large
        monkeypatch.setattr(srm_module, "_BLOCK_ELEMENTS", 2 * x.shape[0])  # two planes a block
        seen.clear()
        large = srmlib.spotlight_resonance(x, epsilon=0.5, resolution=12)
        np.testing.assert_array_equal(large.values, small.values)
        assert len(seen) == 5 and {threads for threads, _ in seen} == {1}
        assert threading.get_ident() not in {ident for _, ident in seen}
        assert torch.get_num_threads() == 2
        monkeypatch.setattr(srm_module, "_SINGLE_THREAD_WORK", 10**9)
        with pytest.raises(ValueError):
            srmlib.project(x).spotlight_resonance(epsilon=0.5, angles=[0.0, np.nan])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
