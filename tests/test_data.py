"""Synthetic activations: shapes, reproducibility, the geometry each generator claims, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import srmlib
from srmlib._random import stream
from srmlib import data

GENERATORS = [
    data.isotropic_gaussian,
    data.tanh_gaussian,
    data.relu_gaussian,
    data.rotated_tanh,
]


@pytest.mark.parametrize("generator", GENERATORS)
def test_shape_dtype_and_seed_reproducibility(generator):
    a = generator(50, 6, seed=3)
    b = generator(50, 6, seed=3)
    c = generator(50, 6, seed=4)
    assert a.shape == (50, 6) and a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.isfinite(a))


@pytest.mark.parametrize("generator", GENERATORS)
def test_a_generator_continues_its_stream(generator):
    rng = np.random.default_rng(0)
    first, second = generator(20, 4, rng), generator(20, 4, rng)
    assert not np.array_equal(first, second)
    rng_again = np.random.default_rng(0)
    np.testing.assert_array_equal(generator(20, 4, rng_again), first)


def test_sparse_features_shape_and_reproducibility():
    basis = srmlib.overcomplete_basis(10, 4, seed=0, steps=20)
    a = data.sparse_features(40, basis, seed=1, density=0.2, noise=0.01)
    np.testing.assert_array_equal(a, data.sparse_features(40, basis, seed=1, density=0.2,
                                                           noise=0.01))
    assert a.shape == (40, 4)
    assert not np.array_equal(a, data.sparse_features(40, basis, seed=2, density=0.2, noise=0.01))


def test_isotropic_gaussian_has_the_claimed_moments():
    x = data.isotropic_gaussian(40_000, 5, seed=0, scale=2.0)
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(np.cov(x.T), 4.0 * np.eye(5), atol=0.15)


def test_tanh_is_bounded_odd_and_saturates_with_gain():
    x = data.tanh_gaussian(20_000, 4, seed=0, gain=3.0)
    assert np.all(np.abs(x) < 1)
    assert abs(x.mean()) < 0.02
    saturated = np.mean(np.abs(x) > 0.9)
    assert saturated > 0.6
    assert np.mean(np.abs(data.tanh_gaussian(20_000, 4, seed=0, gain=0.5)) > 0.9) < 0.05


def test_relu_is_nonnegative_sparse_and_has_no_zero_rows():
    x = data.relu_gaussian(20_000, 3, seed=0, bias=-1.5)
    assert np.all(x >= 0)
    assert np.all(x.any(axis=1)), "all-zero rows must be redrawn"
    # active probability conditioned on at least one active neuron in the row
    p = special.ndtr(-1.5)
    expected = p / (1 - (1 - p) ** 3)
    assert abs(np.mean(x > 0) - expected) < 4 * np.sqrt(expected * (1 - expected) / x.size)


def test_relu_rejects_a_bias_that_silences_everything():
    with pytest.raises(ValueError, match="bias=-10.0"):
        data.relu_gaussian(10, 3, bias=-10.0)


def test_rotated_tanh_is_tanh_data_in_the_rotated_basis():
    rotation = srmlib.random_rotation(5, seed=7)
    x = data.rotated_tanh(1000, 5, seed=2, gain=2.0, rotation=rotation)
    coordinates = x @ rotation.T  # coordinates in the basis given by the rows of rotation
    assert np.all(np.abs(coordinates) < 1)
    z = stream(2, "rotated_tanh.samples").standard_normal((1000, 5))
    np.testing.assert_allclose(coordinates, np.tanh(2.0 * z @ rotation.T), atol=1e-12)


def test_rotated_tanh_default_rotation_is_random_rotation_of_the_seed():
    rotation = srmlib.random_rotation(4, seed=5)
    np.testing.assert_allclose(data.rotated_tanh(30, 4, seed=5),
                               data.rotated_tanh(30, 4, seed=5, rotation=rotation), atol=1e-12)


def test_rotated_tanh_samples_are_independent_of_its_rotation():
    """The samples z do not come from the stream that drew the rotation."""
    rotation = srmlib.random_rotation(4, seed=5)
    x = data.rotated_tanh(30, 4, seed=5)
    rng = np.random.default_rng(5)
    srmlib.random_rotation(4, rng)
    z_after = rng.standard_normal((30, 4))
    z_root = np.random.default_rng(5).standard_normal((30, 4))
    for z in (z_after, z_root):
        assert not np.allclose(x, np.tanh(2.0 * z @ rotation.T) @ rotation)


def test_srm_sees_the_claimed_geometry():
    """tanh peaks at the diagonals, sparse ReLU at the positive axes (narrow spotlight)."""
    d, n, a = 6, 20_000, 16
    eps = srmlib.epsilon_for_isotropic_fraction(d, 0.1)
    tanh = srmlib.spotlight_resonance(data.tanh_gaussian(n, d, 0), epsilon=eps, resolution=a)
    assert tanh.values[:, 2::4].mean() > 2 * tanh.values[:, 0::4].mean()
    relu = srmlib.spotlight_resonance(data.relu_gaussian(n, d, 0, bias=-1.0), epsilon=0.8,
                                      resolution=a)
    assert relu.values[:, [0, 4]].mean() > 2 * relu.values[:, 2].mean()
    assert np.all(relu.values[:, [8, 12]] == 0)


def test_sparse_features_lie_along_the_basis():
    basis = np.eye(3)[[0, 1]] * np.array([[2.0], [5.0]])  # lengths are normalised away
    x = data.sparse_features(500, np.vstack([basis, [[0.0, 0.0, 1.0]]]), seed=0, density=0.3)
    assert np.all(x >= 0) and np.all(x.any(axis=1))
    assert x.max() < 1.5 + 1e-12
    single = (x > 0).sum(axis=1) == 1
    assert single.any()


BAD = [
    (data.isotropic_gaussian, (0, 3), {}, ValueError, "n_samples must be at least 1"),
    (data.isotropic_gaussian, (10, 1), {}, ValueError, "n_dims must be at least 2"),
    (data.isotropic_gaussian, (10.0, 3), {}, TypeError, "n_samples must be an integer"),
    (data.isotropic_gaussian, (10, 3), {"scale": 0.0}, ValueError, "scale must be positive"),
    (data.isotropic_gaussian, (10, 3), {"seed": -1}, ValueError, "seed must be at least 0"),
    (data.isotropic_gaussian, (10, 3), {"seed": 1.5}, TypeError, "seed must be an integer"),
    (data.tanh_gaussian, (10, 3), {"gain": -1.0}, ValueError, "gain must be positive"),
    (data.tanh_gaussian, (10, 3), {"gain": "2"}, TypeError, "gain must be a real number"),
    (data.relu_gaussian, (10, 3), {"bias": float("nan")}, ValueError, "bias must be finite"),
    (data.rotated_tanh, (10, 3), {"rotation": np.eye(4)}, ValueError, r"rotation must have shape"),
    (data.rotated_tanh, (10, 2), {"rotation": np.ones((2, 2))}, ValueError,
     "rotation must be orthogonal"),
]


@pytest.mark.parametrize("generator, args, kwargs, error, message", BAD)
def test_bad_arguments_raise_naming_the_argument(generator, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        generator(*args, **kwargs)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"basis": np.eye(3), "density": 0.0}, ValueError, "density must lie in"),
    ({"basis": np.eye(3), "density": 1.5}, ValueError, "density must lie in"),
    ({"basis": np.eye(3), "noise": -0.1}, ValueError, "noise must be non-negative"),
    ({"basis": np.zeros((2, 3))}, ValueError, "zero length"),
    ({"basis": np.ones(3)}, ValueError, "basis must be 2-dimensional"),
    ({"basis": np.ones((3, 1))}, ValueError, "at least 2 dimensions"),
    ({"basis": [["a", "b"]]}, TypeError, "basis"),
])
def test_sparse_features_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        data.sparse_features(10, seed=0, **kwargs)


# --------------------------------------------------------------------------- real data


def test_load_digits_is_scaled_and_labelled():
    digits = data.load_digits()
    assert digits.images.shape == (1797, 64) and digits.images.dtype == np.float32
    assert digits.images.min() == 0.0 and digits.images.max() == 1.0
    assert digits.image_shape == (8, 8) and len(digits) == 1797
    np.testing.assert_array_equal(np.unique(digits.labels), np.arange(10))
    raw = data.load_digits(scale=False)
    np.testing.assert_allclose(raw.images / 16.0, digits.images)
    with pytest.raises(TypeError, match="scale"):
        data.load_digits(scale=1)


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    """An IDX file written byte by byte from the format's definition."""
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture()
def tiny_mnist():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 3, 4), dtype=np.uint8), rng.integers(0, 10, 5, dtype=np.uint8)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_from_idx_files(tmp_path, tiny_mnist, compress):
    import gzip

    images, labels = tiny_mnist
    suffix = ".gz" if compress else ""
    pack = gzip.compress if compress else (lambda b: b)
    (tmp_path / f"train-images-idx3-ubyte{suffix}").write_bytes(pack(idx_bytes(images, 0x08)))
    (tmp_path / f"train-labels-idx1-ubyte{suffix}").write_bytes(pack(idx_bytes(labels, 0x08)))
    loaded = data.load_mnist(tmp_path / f"train-images-idx3-ubyte{suffix}")
    assert loaded.image_shape == (3, 4) and loaded.images.shape == (5, 12)
    np.testing.assert_allclose(loaded.images, images.reshape(5, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(loaded.labels, labels)
    limited = data.load_mnist(tmp_path / f"train-images-idx3-ubyte{suffix}", limit=2,
                              scale=False)
    np.testing.assert_array_equal(limited.images, images[:2].reshape(2, -1))


@pytest.mark.parametrize("dtype, code", [(">i2", 0x0B), (">i4", 0x0C), (">f4", 0x0D),
                                         (">f8", 0x0E), ("i1", 0x09)])
def test_read_idx_every_type(tmp_path, dtype, code):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array, code))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "a.idx"), array)


@pytest.mark.parametrize("layout", [("x_train", "y_train"), ("images", "labels"), ("x", "y")])
def test_load_mnist_from_npz(tmp_path, tiny_mnist, layout):
    images, labels = tiny_mnist
    np.savez(tmp_path / "m.npz", **{layout[0]: images, layout[1]: labels})
    loaded = data.load_mnist(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.labels, labels)
    np.testing.assert_allclose(loaded.images, images.reshape(5, -1) / 255.0, rtol=1e-6)


def test_load_mnist_npz_test_split(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    np.savez(tmp_path / "m.npz", x_train=images, y_train=labels, x_test=images[:2],
             y_test=labels[:2])
    assert len(data.load_mnist(tmp_path / "m.npz", split="test")) == 2


def test_missing_files_raise_file_not_found(tmp_path, tiny_mnist):
    with pytest.raises(FileNotFoundError, match="path"):
        data.load_mnist(tmp_path / "nope-images-idx3-ubyte")
    images, _ = tiny_mnist
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(images, 0x08))
    with pytest.raises(FileNotFoundError, match="labels_path"):
        data.load_mnist(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(TypeError, match="path"):
        data.load_mnist(3)


@pytest.mark.parametrize("content, message", [
    (b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc", "two zero bytes"),
    (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "type code"),
    (b"\x00\x00\x08\x03" + (3).to_bytes(4, "big"), "incomplete"),
    (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", "needs 13 bytes"),
    (b"\x1f\x8b\x08\x00garbage", "does not decompress"),
    (b"", "not an IDX file"),
])
def test_corrupt_idx_files_raise_clear_errors(tmp_path, content, message):
    (tmp_path / "bad").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        data.read_idx(tmp_path / "bad")


def test_malformed_mnist_data_raise(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(images, 0x08))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels[:3], 0x08))
    with pytest.raises(ValueError, match="labels must be 5 integers"):
        data.load_mnist(tmp_path / "train-images-idx3-ubyte")
    (tmp_path / "flat.idx").write_bytes(idx_bytes(images.reshape(5, 12), 0x08))
    with pytest.raises(ValueError, match="height, width"):
        data.load_mnist(tmp_path / "flat.idx", tmp_path / "train-labels-idx1-ubyte")
    with pytest.raises(ValueError, match="labels_path is needed"):
        data.load_mnist(tmp_path / "flat.idx")
    np.savez(tmp_path / "other.npz", a=images)
    with pytest.raises(ValueError, match="expected x_train/y_train"):
        data.load_mnist(tmp_path / "other.npz")
    np.savez(tmp_path / "ok.npz", x=images, y=labels)
    broken = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "broken.npz").write_bytes(broken[:40] + b"\x00" * 50 + broken[90:])
    with pytest.raises(ValueError, match="broken.npz"):
        data.load_mnist(tmp_path / "broken.npz")


def test_load_mnist_names_a_damaged_empty_or_non_finite_file(tmp_path, tiny_mnist):
    """Issue 15: a truncated .npz was read as an IDX file ("labels_path is needed"), an empty
    one failed in a reshape, and NaN or float32-overflowing pixels came back silently."""
    images, labels = tiny_mnist
    np.savez(tmp_path / "good.npz", x_train=images, y_train=labels)
    whole = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "truncated_end").write_bytes(whole[:-30])  # no suffix: known by its zip header
    for name in ("truncated.npz", "truncated_end"):
        with pytest.raises(ValueError, match=f"{name}.*not a readable .npz.*truncated"):
            data.load_mnist(tmp_path / name)
    np.savez(tmp_path / "empty.npz", x_train=images[:0], y_train=labels[:0])
    with pytest.raises(ValueError, match="empty.npz.*holds no images"):
        data.load_mnist(tmp_path / "empty.npz")
    pixels = images.astype(np.float64)
    pixels[1, 2, 3] = np.nan
    np.savez(tmp_path / "nan.npz", x_train=pixels, y_train=labels)
    with pytest.raises(ValueError, match="nan.npz.*1 pixel.*NaN or infinite"):
        data.load_mnist(tmp_path / "nan.npz")
    np.savez(tmp_path / "big.npz", x_train=images * 1e39, y_train=labels)
    with pytest.raises(ValueError, match="big.npz.*float32 range"):
        data.load_mnist(tmp_path / "big.npz")
    with pytest.raises(ValueError, match="path .* is a folder"):
        data.load_mnist(tmp_path)
    assert data.load_mnist(tmp_path / "good.npz").images.shape == (len(images), images[0].size)
