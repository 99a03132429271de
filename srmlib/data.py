"""Seeded synthetic activation distributions with known geometry.

Each generator returns a numpy array of shape ``(n_samples, n_dims)``, one sample per row, and
draws from ``seed`` (an int, ``None`` or a ``numpy.random.Generator``), so the same seed gives the
same array. Chapter 1 ("Spotlight Resonance from first principles") uses them to show what
Spotlight Resonance sees in data whose privileged directions are known in advance:

=====================  ======================================================================
generator              geometry
=====================  ======================================================================
`isotropic_gaussian`   no privileged direction at all: SRM is flat at the isotropic baseline
`tanh_gaussian`        saturates towards the corners of the hypercube: anti-aligned, SRM peaks
                       between the neuron axes (at the diagonals of every plane)
`relu_gaussian`        sparse and non-negative: aligned, SRM peaks on the positive neuron axes
`rotated_tanh`         the tanh geometry in a rotated basis ``R``: structured in ``R``, not in
                       the neurons
`sparse_features`      sparse non-negative combinations of given feature directions (any
                       number of them, overcomplete allowed)
=====================  ======================================================================

Real data, for chapter 3 ("Activation functions make the privileged basis") and your own work:

=====================  ======================================================================
loader                 data
=====================  ======================================================================
`load_digits`          scikit-learn's bundled 8x8 handwritten digits (1797 images; ships with
                       scikit-learn, no download), pixels scaled to ``[0, 1]``
`load_mnist`           your own local MNIST-style files: IDX (``*-idx3-ubyte``, gzipped or
                       not) or ``.npz``; nothing is downloaded
`read_idx`             one IDX file as a numpy array
`load_mnist1d`         MNIST-1D (Greydanus 2020), generated procedurally by the ``mnist1d``
                       package (its generation code, never its download), 40-sample signals
`augment_images`       seeded small shifts and rotations of images, to enlarge a stimulus set
=====================  ======================================================================

Chapter 7 ("Real networks") trains small MLPs and CNNs on the digits and on MNIST-1D.
"""

from __future__ import annotations

import gzip
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special

from ._random import make_rng, stream
from ._validation import (
    as_float_tensor, check_bool, check_choice, check_int, check_real, check_real_in, check_seed,
)
from .bases import random_rotation

__all__ = [
    "ImageData",
    "augment_images",
    "isotropic_gaussian",
    "load_digits",
    "load_mnist",
    "load_mnist1d",
    "read_idx",
    "relu_gaussian",
    "rotated_tanh",
    "sparse_features",
    "tanh_gaussian",
]

# Refuse ReLU/sparse settings where fewer than this fraction of draws has an active unit.
_MIN_ACTIVE_PROBABILITY = 1e-4


def isotropic_gaussian(n_samples: int, n_dims: int, seed=None, *, scale: float = 1.0) -> np.ndarray:
    """Standard Gaussian samples: directions uniform on the sphere, no privileged basis.

    Parameters
    ----------
    n_samples : int
        Number of rows, at least 1.
    n_dims : int
        Dimension, at least 2.
    seed : int, numpy.random.Generator or None
        Source of randomness.
    scale : float
        Standard deviation of every coordinate (> 0). Lengths do not matter to SRM.

    Returns
    -------
    ndarray, shape (n_samples, n_dims)

    Examples
    --------
    >>> isotropic_gaussian(3, 4, seed=0).shape
    (3, 4)
    """
    n_samples, n_dims = _check_shape(n_samples, n_dims)
    scale = check_real_in(scale, "scale", 0, low_open=True)
    return scale * make_rng(seed).standard_normal((n_samples, n_dims))


def tanh_gaussian(n_samples: int, n_dims: int, seed=None, *, gain: float = 2.0) -> np.ndarray:
    """``tanh(gain * z)`` of standard Gaussian pre-activations ``z``, elementwise.

    With a large ``gain`` most coordinates saturate near ``+-1``, so samples crowd towards the
    ``2^d`` corners of the hypercube: in every neuron plane they point along the diagonals
    (``theta = pi/4 + k pi/2``), between the axes. This is the anti-aligned case.

    Parameters
    ----------
    n_samples, n_dims : int
        Shape of the output (``n_samples >= 1``, ``n_dims >= 2``).
    seed : int, numpy.random.Generator or None
        Source of randomness.
    gain : float
        Standard deviation of the pre-activations (> 0); larger saturates more.

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
        Values in ``(-1, 1)``.
    """
    n_samples, n_dims = _check_shape(n_samples, n_dims)
    gain = check_real_in(gain, "gain", 0, low_open=True)
    return np.tanh(gain * make_rng(seed).standard_normal((n_samples, n_dims)))


def relu_gaussian(n_samples: int, n_dims: int, seed=None, *, bias: float = 0.0) -> np.ndarray:
    """``max(z + bias, 0)`` of standard Gaussian pre-activations ``z``, with no all-zero row.

    Each neuron is active with probability ``Phi(bias)`` (``Phi`` the standard normal CDF), so a
    negative ``bias`` makes the code sparse. Many samples then have a single active neuron and
    point exactly along a positive neuron axis: the aligned case.

    Rows in which every neuron is silent have no direction; Spotlight Resonance would leave them
    out with a warning. Here they are **redrawn**, so the result is ReLU data conditioned on at
    least one active neuron and every row has a direction.

    Parameters
    ----------
    n_samples, n_dims : int
        Shape of the output (``n_samples >= 1``, ``n_dims >= 2``).
    seed : int, numpy.random.Generator or None
        Source of randomness.
    bias : float
        Added to the pre-activations before the ReLU. Values so negative that fewer than one
        draw in 10,000 has an active neuron are refused (``ValueError``).

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
        Non-negative, at least one positive entry per row.
    """
    n_samples, n_dims = _check_shape(n_samples, n_dims)
    bias = check_real(bias, "bias")
    p_active = float(special.ndtr(bias))
    p_row = -math.expm1(n_dims * math.log1p(-p_active)) if p_active < 1 else 1.0
    if p_row < _MIN_ACTIVE_PROBABILITY:
        raise ValueError(
            f"bias={bias} leaves a neuron active with probability {p_active:.2e}, so only "
            f"{p_row:.2e} of rows would have any active neuron; use a larger bias"
        )
    rng = make_rng(seed)
    return _redraw_until_nonzero(
        lambda m: np.maximum(rng.standard_normal((m, n_dims)) + bias, 0.0), n_samples, p_row
    )


def rotated_tanh(
    n_samples: int, n_dims: int, seed=None, *, gain: float = 2.0, rotation=None
) -> np.ndarray:
    """The tanh geometry in a rotated basis: rows ``x = R^T tanh(gain * R z)``, ``z ~ N(0, I)``.

    The rows ``r_k`` of the rotation ``R`` play the role of the neurons: the coordinates of ``x``
    in that basis, ``R x = tanh(gain * R z)``, are exactly :func:`tanh_gaussian` data (``R z`` is
    again standard Gaussian). Spotlight Resonance in the basis ``R`` therefore shows the
    anti-aligned tanh pattern, while in the neuron basis the structure has no fixed phase.

    Parameters
    ----------
    n_samples, n_dims : int
        Shape of the output (``n_samples >= 1``, ``n_dims >= 2``).
    seed : int, numpy.random.Generator or None
        Source of randomness. When ``rotation`` is not given it is the seed's root stream's
        rotation, ``srmlib.random_rotation(n_dims, seed)`` for an int seed; the samples ``z``
        come from a stream of their own, independent of it.
    gain : float
        Standard deviation of the pre-activations (> 0).
    rotation : array_like, shape (n_dims, n_dims), optional
        An orthogonal matrix whose rows are the privileged basis.

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
    """
    n_samples, n_dims = _check_shape(n_samples, n_dims)
    gain = check_real_in(gain, "gain", 0, low_open=True)
    if rotation is None:
        rotation = random_rotation(n_dims, make_rng(seed))
    else:
        rotation = as_float_tensor(rotation, "rotation", ndim=2).cpu().numpy().astype(np.float64)
        if rotation.shape != (n_dims, n_dims):
            raise ValueError(
                f"rotation must have shape ({n_dims}, {n_dims}) for n_dims={n_dims}, "
                f"got {rotation.shape}"
            )
        if not np.allclose(rotation @ rotation.T, np.eye(n_dims), atol=1e-8):
            raise ValueError("rotation must be orthogonal (rotation @ rotation.T == I)")
    z = stream(seed, "rotated_tanh.samples").standard_normal((n_samples, n_dims))
    return np.tanh(gain * z @ rotation.T) @ rotation


def sparse_features(
    n_samples: int, basis, seed=None, *, density: float = 0.1, noise: float = 0.0
) -> np.ndarray:
    """Sparse non-negative combinations of feature directions, ``x = sum_f c_f b_f + noise``.

    Each feature ``f`` (a row of ``basis``) is active independently with probability
    ``density``, with a coefficient ``c_f`` uniform on ``[0.5, 1.5)``; inactive features have
    ``c_f = 0``. Rows with no active feature are **redrawn**, so every sample contains at least
    one feature. With ``k > d`` features (an overcomplete basis, as
    :func:`srmlib.overcomplete_basis` makes) this is the simplest model of superposition.

    Parameters
    ----------
    n_samples : int
        Number of rows, at least 1.
    basis : array_like, shape (n_features, n_dims)
        Feature directions, one per row (normalised to unit length here).
    seed : int, numpy.random.Generator or None
        Source of randomness.
    density : float
        Probability that a feature is active, in ``(0, 1]``.
    noise : float
        Standard deviation of isotropic Gaussian noise added to every coordinate (>= 0).

    Returns
    -------
    ndarray, shape (n_samples, n_dims)
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    features = as_float_tensor(basis, "basis", ndim=2).cpu().numpy().astype(np.float64)
    if features.shape[1] < 2:
        raise ValueError(f"basis vectors need at least 2 dimensions, got shape {features.shape}")
    lengths = np.linalg.norm(features, axis=1)
    if np.any(lengths == 0):
        raise ValueError(f"basis vectors {np.flatnonzero(lengths == 0).tolist()} have zero length")
    features = features / lengths[:, None]
    density = check_real_in(density, "density", 0, 1, low_open=True)
    noise = check_real_in(noise, "noise", 0)
    n_features = len(features)
    p_row = -math.expm1(n_features * math.log1p(-density)) if density < 1 else 1.0
    if p_row < _MIN_ACTIVE_PROBABILITY:
        raise ValueError(f"density={density} leaves almost every row without an active feature")
    rng = make_rng(seed)

    def draw(m):
        active = rng.random((m, n_features)) < density
        return active * rng.uniform(0.5, 1.5, (m, n_features))

    coefficients = _redraw_until_nonzero(draw, n_samples, p_row)
    x = coefficients @ features
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
    return x


# --------------------------------------------------------------------------- internals


def _check_shape(n_samples, n_dims) -> tuple[int, int]:
    return check_int(n_samples, "n_samples", minimum=1), check_int(n_dims, "n_dims", minimum=2)


def _redraw_until_nonzero(draw, n_samples: int, p_row: float) -> np.ndarray:
    """``n_samples`` rows of ``draw(m)`` (shape ``(m, k)``), redrawing the all-zero rows."""
    kept, have = [], 0
    while have < n_samples:
        missing = n_samples - have
        batch = draw(max(missing, int(1.2 * missing / p_row) + 16))
        batch = batch[batch.any(axis=1)][:missing]
        kept.append(batch)
        have += len(batch)
    return np.concatenate(kept)


# --------------------------------------------------------------------------- real data


@dataclass(frozen=True)
class ImageData:
    """Images flattened to one row each, with their labels.

    Attributes
    ----------
    images : ndarray of float32, shape (n, height * width)
        Pixels, row-major; in ``[0, 1]`` when scaled.
    labels : ndarray of int64, shape (n,)
        Class of each image.
    image_shape : (int, int)
        ``(height, width)``, to reshape a row back into an image.
    source : str
        Where the data came from.
    """

    images: np.ndarray
    labels: np.ndarray
    image_shape: tuple[int, int]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def load_digits(*, scale: bool = True) -> ImageData:
    """scikit-learn's bundled handwritten digits: 1797 images of 8x8 pixels, classes 0-9.

    The data ship with scikit-learn (:func:`sklearn.datasets.load_digits`), so nothing is
    downloaded. Pixels are integers 0-16; with ``scale`` they are divided by 16, to ``[0, 1]``.

    Returns
    -------
    ImageData
        ``images`` of shape ``(1797, 64)`` (float32), ``labels`` of shape ``(1797,)``.
    """
    from sklearn import datasets

    scale = check_bool(scale, "scale")
    digits = datasets.load_digits()
    images = digits.data.astype(np.float32)
    if scale:
        images /= 16.0
    return ImageData(images=images, labels=digits.target.astype(np.int64), image_shape=(8, 8),
                     source="sklearn.datasets.load_digits")


# IDX element types: code -> big-endian numpy dtype (LeCun et al.'s MNIST file format).
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzipped or not, as a numpy array.

    The header is two zero bytes, a type code (``0x08`` unsigned byte ... ``0x0E`` double), the
    number of dimensions, and each dimension as a big-endian 32-bit integer; the data follow in
    row-major order. Gzip is recognised by its magic bytes, whatever the file is called.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a well-formed IDX file (naming the path and what is wrong).
    """
    path = _existing_file(path, "path")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"path {str(path)!r} looks gzipped but does not decompress: "
                             f"{err}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"path {str(path)!r} is not an IDX file: it must start with two zero "
                         "bytes, a type code and the number of dimensions")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"path {str(path)!r}: unknown IDX type code 0x{code:02X}")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"path {str(path)!r}: IDX header with {ndim} dimensions is incomplete")
    shape = tuple(int(n) for n in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[code])
    expected = 4 + 4 * ndim + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"path {str(path)!r}: an IDX array of shape {shape} and type "
                         f"{dtype.str} needs {expected} bytes, the file has {len(raw)}")
    data = np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def load_mnist(path, labels_path=None, *, split: str = "train", scale: bool = True,
               limit: int | None = None) -> ImageData:
    """Load your own local MNIST-style data (nothing is downloaded).

    Parameters
    ----------
    path : str or path-like
        Either an IDX image file (``train-images-idx3-ubyte``, optionally ``.gz``), or an
        ``.npz`` archive holding images and labels: ``x_train``/``y_train`` and
        ``x_test``/``y_test`` (the layout of ``keras.datasets.mnist``), or ``images``/``labels``,
        or ``x``/``y``.
    labels_path : str or path-like, optional
        The IDX label file; by default ``path`` with ``images-idx3`` replaced by
        ``labels-idx1`` (the MNIST naming). Not used for ``.npz``.
    split : {"train", "test"}
        Which pair of a keras-layout ``.npz`` to read.
    scale : bool
        Divide unsigned-byte pixels by 255, to ``[0, 1]``.
    limit : int, optional
        Keep only the first ``limit`` images.

    Returns
    -------
    ImageData
        Images flattened to ``(n, height * width)`` float32.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a file is malformed, images are not ``(n, height, width)``, labels are not ``n``
        integers, or an ``.npz`` holds none of the known key pairs.
    """
    path = _existing_file(path, "path")
    split = check_choice(split, "split", ("train", "test"))
    scale = check_bool(scale, "scale")
    if limit is not None:
        limit = check_int(limit, "limit", minimum=1)
    if _is_npz(path):
        images, labels = _read_npz(path, split)
        label_source = str(path)
    else:
        if labels_path is None:
            if "images-idx3" not in path.name:
                raise ValueError(f"labels_path is needed: path {path.name!r} does not follow "
                                 "the MNIST naming ('...-images-idx3-ubyte')")
            labels_path = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
        labels_path = _existing_file(labels_path, "labels_path")
        images, labels = read_idx(path), read_idx(labels_path)
        label_source = str(labels_path)
    if images.ndim != 3:
        raise ValueError(f"path {str(path)!r}: images must have shape (n, height, width), got "
                         f"{images.shape}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{label_source!r}: labels must be {len(images)} integers (one per "
                         f"image), got shape {labels.shape} and dtype {labels.dtype}")
    if len(images) == 0:
        raise ValueError(f"path {str(path)!r} holds no images (shape {images.shape})")
    if not np.issubdtype(images.dtype, np.number) or np.iscomplexobj(images):
        raise ValueError(f"path {str(path)!r}: pixels must be real numbers, got dtype "
                         f"{images.dtype}")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    if images.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(images)))
        if bad:
            raise ValueError(f"path {str(path)!r}: {bad} pixel(s) are NaN or infinite")
        if np.abs(images).max() > np.finfo(np.float32).max:
            raise ValueError(f"path {str(path)!r}: pixels up to {np.abs(images).max():.3g} "
                             f"exceed the float32 range ({np.finfo(np.float32).max:.3g}) in "
                             "which images are returned")
    flat = images.reshape(len(images), -1).astype(np.float32)
    if scale and images.dtype == np.uint8:
        flat /= 255.0
    return ImageData(images=flat, labels=labels.astype(np.int64),
                     image_shape=(int(images.shape[1]), int(images.shape[2])), source=str(path))


def _is_npz(path: Path) -> bool:
    """Whether ``path`` is (or was meant to be) an ``.npz`` archive: a zip file, or a file that
    starts like one or is named like one (a truncated archive is no longer a valid zip)."""
    with path.open("rb") as file:
        start = file.read(4)
    return zipfile.is_zipfile(path) or start == b"PK\x03\x04" or path.suffix.lower() == ".npz"


def _existing_file(path, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path, got {type(path).__name__}")
    path = Path(path).expanduser()
    if path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder; give the file in it")
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no file at {str(path)!r}")
    return path


_NPZ_KEYS = {"train": [("x_train", "y_train"), ("images", "labels"), ("x", "y")],
             "test": [("x_test", "y_test"), ("images", "labels"), ("x", "y")]}


def _read_npz(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            for image_key, label_key in _NPZ_KEYS[split]:
                if {image_key, label_key} <= keys:
                    return archive[image_key], archive[label_key]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"path {str(path)!r} is not a readable .npz archive (truncated or "
                         f"damaged?): {err}") from None
    pairs = " or ".join(f"{a}/{b}" for a, b in _NPZ_KEYS[split])
    raise ValueError(f"path {str(path)!r}: the .npz holds {sorted(keys)}, expected {pairs}")


def load_mnist1d(*, n_samples: int = 5000, seed: int = 42) -> tuple[ImageData, ImageData]:
    """MNIST-1D (Greydanus 2020): ten classes of 1-D signals of 40 samples, made on the spot.

    The data are generated by the ``mnist1d`` package's own procedure (templates of the ten
    digits, padded, sheared, scaled, translated, with correlated and i.i.d. noise), with its
    default settings; nothing is downloaded. With the defaults (5000 signals, seed 42) they are
    the data set of the paper. ``mnist1d`` seeds numpy's and Python's global generators; both
    are restored afterwards, so the caller's global streams are untouched.

    Parameters
    ----------
    n_samples : int
        Signals in all, at least 20; 80% for training (rounded down to a multiple of 10
        classes first, as ``mnist1d`` does).
    seed : int
        Seed of the generation.

    Returns
    -------
    train, test : ImageData
        ``images`` of shape ``(n, 40)`` (float32, standardised over the whole set as
        ``mnist1d`` does), ``image_shape = (1, 40)``.

    Raises
    ------
    ImportError
        If ``mnist1d`` is not installed (``pip install mnist1d``).
    """
    import random

    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:  # an optional dependency of the book
        raise ImportError("load_mnist1d needs the mnist1d package: pip install mnist1d") from err
    n_samples = check_int(n_samples, "n_samples", minimum=20)
    seed = check_seed(seed, "seed")
    args = get_dataset_args()
    args.num_samples, args.seed = n_samples, seed
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        made = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    source = f"mnist1d.make_dataset(num_samples={n_samples}, seed={seed})"
    return tuple(ImageData(images=np.asarray(made[x], dtype=np.float32),
                           labels=np.asarray(made[y], dtype=np.int64),
                           image_shape=(1, int(made[x].shape[1])), source=source)
                 for x, y in (("x", "y"), ("x_test", "y_test")))


def augment_images(images: ImageData, n_copies: int, *, max_shift: float = 1.0,
                   max_degrees: float = 10.0, seed=None) -> ImageData:
    """``n_copies`` randomly shifted and rotated copies of every image, seeded.

    Each copy is the image rotated about its centre by an angle uniform in
    ``[-max_degrees, max_degrees]`` and shifted by offsets uniform in ``[-max_shift,
    max_shift]`` pixels along each axis (bilinear interpolation, zeros outside), through
    :func:`scipy.ndimage.affine_transform`. Labels are kept. Copies of image ``i`` are rows
    ``i * n_copies .. (i + 1) * n_copies - 1``.

    Parameters
    ----------
    images : ImageData
        2-D images (``image_shape`` with both sides above 1).
    n_copies : int
        Copies per image (at least 1).
    max_shift : float
        Largest shift in pixels (non-negative).
    max_degrees : float
        Largest rotation in degrees (non-negative).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    ImageData
        ``n_copies * len(images)`` images.
    """
    from scipy import ndimage

    if not isinstance(images, ImageData):
        raise TypeError(f"images must be an ImageData, got {type(images).__name__}")
    if min(images.image_shape) < 2:
        raise ValueError(f"images must be 2-D images, got image_shape {images.image_shape}")
    n_copies = check_int(n_copies, "n_copies", minimum=1)
    max_shift = check_real_in(max_shift, "max_shift", 0)
    max_degrees = check_real_in(max_degrees, "max_degrees", 0)
    rng = make_rng(seed)
    shape = images.image_shape
    centre = (np.array(shape, dtype=np.float64) - 1) / 2
    n = len(images) * n_copies
    angles = np.deg2rad(rng.uniform(-max_degrees, max_degrees, n))
    shifts = rng.uniform(-max_shift, max_shift, (n, 2))
    pictures = images.images.reshape(-1, *shape).astype(np.float64)
    out = np.empty((n, *shape), dtype=np.float32)
    for row in range(n):
        c, s = np.cos(angles[row]), np.sin(angles[row])
        matrix = np.array([[c, -s], [s, c]])
        # output pixel o reads input pixel matrix @ (o - centre - shift) + centre
        offset = centre - matrix @ (centre + shifts[row])
        out[row] = ndimage.affine_transform(pictures[row // n_copies], matrix, offset=offset,
                                            order=1, mode="constant", cval=0.0)
    return ImageData(images=out.reshape(n, -1), labels=np.repeat(images.labels, n_copies),
                     image_shape=shape, source=f"{images.source}, augmented x{n_copies}")
