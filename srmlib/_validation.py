"""Input checks shared by srmlib's public functions.

Every public function validates at its boundary and raises ``ValueError`` or ``TypeError``
naming the offending argument, so that bad input never turns into a silent NaN downstream.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch


def as_float_tensor(x, name: str, *, ndim: int, device=None) -> torch.Tensor:
    """Convert a numpy array, torch tensor or nested list to a finite floating tensor.

    float32/float64 torch tensors keep their dtype and device (unless ``device`` is given), half
    precision becomes float32, and everything else becomes float64 on the CPU. Raises if the value is not numeric, has the wrong number of
    dimensions, is empty, or holds NaN/inf.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if not (t.is_floating_point() or t.dtype in _INT_DTYPES or t.dtype == torch.bool):
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {t.dtype}")
        if not t.is_floating_point():
            t = t.to(torch.float64)
        elif t.dtype not in (torch.float32, torch.float64):  # half precision: too coarse for angles
            t = t.to(torch.float32)
    else:
        try:
            arr = np.asarray(x)
        except Exception as err:  # ragged lists and the like
            raise TypeError(f"{name} must be an array of real numbers: {err}") from None
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
        if np.iscomplexobj(arr):
            raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
        arr = np.ascontiguousarray(arr, dtype=dtype)
        if any(stride < 0 for stride in arr.strides):  # an empty reversed view stays one
            arr = arr.copy()
        t = torch.from_numpy(arr)
    if device is not None:
        t = t.to(check_device(device))
    if t.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)})")
    if not _all_finite(t):
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s)")
    return t


_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
# Elements checked for NaN/inf at a time: torch.isfinite of a whole (100,000 x 1,024) float32
# array held 680 MB of temporaries at once, more than the array itself.
_FINITE_BLOCK_ELEMENTS = 2**22


def _all_finite(t: torch.Tensor) -> bool:
    """Whether every element of ``t`` is finite, a block of rows at a time."""
    if t.ndim == 0:
        return bool(torch.isfinite(t))
    rows = max(1, _FINITE_BLOCK_ELEMENTS // max(1, t[0].numel()))
    return all(bool(torch.isfinite(t[lo : lo + rows]).all()) for lo in range(0, t.shape[0], rows))


def cast_checked(t: torch.Tensor, dtype: torch.dtype, name: str, *,
                 user: str = "the model") -> torch.Tensor:
    """``t`` (finite) cast to ``dtype``; ``ValueError`` naming ``name`` and the dtype's range if
    a value overflows in the cast (float64 input of 1e39 is finite, float32 holds at most
    3.4e38). ``user`` says what computes in ``dtype``, for the message.

    Rescaling instead would change the answer of anything that is not scale-equivariant (a
    network's biases, Adam's steps of size ``lr``), so input beyond the range is refused.
    """
    if t.dtype == dtype:
        return t
    out = t.to(dtype)
    if (out.is_floating_point() and t.is_floating_point()
            and torch.finfo(t.dtype).max > torch.finfo(dtype).max and not _all_finite(out)):
        n_bad = int((~torch.isfinite(out)).sum())
        raise ValueError(
            f"{name} holds {n_bad} value(s) beyond the range of {dtype} (|x| <= "
            f"{torch.finfo(dtype).max:.3g}), in which {user} computes; largest |value| "
            f"{float(t.abs().max()):.3g}: rescale {name}")
    return out


def diverged(step: int, lr: float, what: str, data: str = "data", *,
             largest: float | None = None) -> ValueError:
    """The error a trainer raises when its loss or weights stop being finite at ``step``
    (``largest``: the largest ``|value|`` of the ``data``, for the message).

    A NaN weight never recovers, so training stops there instead of returning NaN weights.
    """
    scale = "" if largest is None else f" (largest |value| {largest:.3g})"
    return ValueError(
        f"{what} diverged: the loss or the weights became NaN or infinite by step {step}; "
        f"lr={lr:g} is too large for this problem, or the scale of the {data}{scale} too large "
        f"for the float precision: use a smaller lr or rescale the {data}")


def check_real(value, name: str) -> float:
    """Return ``value`` as a float; raise ``TypeError`` for non-real input (bools included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def in_interval(value: float, low: float | None = None, high: float | None = None, *,
                low_open: bool = False, high_open: bool = False) -> bool:
    """Whether ``value`` lies in the interval from ``low`` to ``high`` (``None``: unbounded;
    ``*_open``: the end is excluded)."""
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return not (high is not None and (value > high or (high_open and value == high)))


def interval_text(low: float | None = None, high: float | None = None, *,
                  low_open: bool = False, high_open: bool = False) -> str:
    """The interval as ``[a, b)`` notation, with ``-inf``/``inf`` for a missing end."""
    left = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
    right = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
    return f"{left}, {right}"


def check_real_in(value, name: str, low: float | None = None, high: float | None = None, *,
                  low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the interval; ``TypeError`` if not real, ``ValueError``
    naming ``name`` and the interval if outside it. ``check_real_in(x, "lr", 0, low_open=True)``
    is "positive", ``check_real_in(x, "noise", 0)`` "non-negative"."""
    value = check_real(value, name)
    if not in_interval(value, low, high, low_open=low_open, high_open=high_open):
        bounds = dict(low_open=low_open, high_open=high_open)
        if high is None and low == 0:
            kind = "positive" if low_open else "non-negative"
            raise ValueError(f"{name} must be {kind}, got {value:g}")
        raise ValueError(f"{name} must lie in {interval_text(low, high, **bounds)}, got {value:g}")
    return value


def check_optimiser(lr, weight_decay) -> tuple[float, float]:
    """Validate an optimiser's learning rate (positive) and weight decay (non-negative)."""
    return (check_real_in(lr, "lr", 0, low_open=True),
            check_real_in(weight_decay, "weight_decay", 0))


def check_real_array(value, name: str) -> np.ndarray:
    """``value`` (a real number or an array of them) as a float64 array; ``TypeError`` for
    strings, booleans and anything else that is not real, ``ValueError`` for NaN or inf.

    numpy reads ``"0.5"`` as a number and ``True`` as 1, so a real parameter passed as a string
    or a flag would otherwise be used silently; this is the one place that refuses them.
    """
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be a real number or an array of them, got "
                        f"{type(value).__name__} {value!r}")
    if isinstance(value, (list, tuple)) and _holds_flag_or_text(value):  # [True, 0.5] is floats
        raise TypeError(f"{name} must be a real number or an array of them, got {value!r}")
    try:
        arr = np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise TypeError(f"{name} must be a real number or an array of them: {err}") from None
    if arr.dtype == bool or arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a real number or an array of them, got dtype "
                        f"{arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value}")
    return arr


def _holds_flag_or_text(items) -> bool:
    """Whether a nested list or tuple holds a boolean or a string anywhere."""
    return any(_holds_flag_or_text(item) if isinstance(item, (list, tuple))
               else isinstance(item, (str, bytes, bool, np.bool_)) for item in items)


def check_epsilon(epsilon) -> float:
    """Validate the spotlight threshold: the cosine of the cone half-angle, ``-1 < epsilon <= 1``."""
    epsilon = check_real(epsilon, "epsilon")
    if not -1.0 < epsilon <= 1.0:
        raise ValueError(
            f"epsilon must satisfy -1 < epsilon <= 1 (it is the cosine of the cone half-angle), "
            f"got {epsilon}"
        )
    return epsilon


def check_int(value, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int; raise ``TypeError`` for non-integers and ``ValueError`` below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


# Seeds ------------------------------------------------------------------------------------
#
# The one rule for every public ``seed`` (and ``*_seed``) argument, checked at the boundary
# even where the seed ends up unused (an SRM without ``max_planes`` draws nothing):
#
# - a non-negative Python or numpy int, of any size: numpy's ``SeedSequence``, from which every
#   srmlib stream is derived (``srmlib._random``), takes any such int, and srmlib itself derives
#   seeds up to ``2**63`` (``torch_seed``) that it passes on as ``seed``;
# - ``None`` (fresh entropy) and a ``numpy.random.Generator`` only where the function documents
#   them (``none=True``, ``generator=True``);
# - never a bool, a float or a string (``TypeError``), never a negative int (``ValueError``).
#
# A library that takes only 32-bit seeds (scikit-learn's ``random_state``, numpy's legacy
# ``RandomState``) gets :func:`legacy_seed` ``(seed)``: the seed itself below ``2**32``, so every
# result for such a seed is unchanged, and a 32-bit word of ``SeedSequence(seed)`` above.


def check_seed(seed, name: str = "seed", *, none: bool = False, generator: bool = False):
    """``seed`` checked by the seed rule above: an int ``>= 0`` (returned as a Python int), or
    ``None`` / a ``numpy.random.Generator`` (returned as is) where ``none`` / ``generator``."""
    if seed is None and none:
        return None
    if generator and isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        kinds = ["an integer >= 0"] + ["None"] * none + ["a numpy.random.Generator"] * generator
        kinds = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]
        raise TypeError(f"{name} must be {kinds}; got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"{name} must be at least 0, got {seed}")
    return seed


LEGACY_SEED_LIMIT = 2**32


def legacy_seed(seed) -> int:
    """A seed for libraries that take only ``0 <= seed < 2**32`` (scikit-learn, ``RandomState``).

    ``seed`` itself below ``2**32`` (results for those seeds do not change), else the first
    32-bit word of ``numpy.random.SeedSequence(seed)``: a larger seed is accepted, gives its own
    reproducible stream, and collides with a given smaller one with probability ``2**-32``.
    """
    seed = check_seed(seed)
    if seed < LEGACY_SEED_LIMIT:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])


# Devices ----------------------------------------------------------------------------------

_DATA_DEVICES = ("cpu", "cuda", "mps", "xpu")


def check_device(device, name: str = "device") -> torch.device:
    """``device`` (a string such as ``"cpu"``, ``"cuda:1"``, or a ``torch.device``) as a
    ``torch.device`` that this machine has; ``ValueError`` naming ``name`` otherwise."""
    if isinstance(device, (bool, np.bool_)) or not isinstance(device, (str, torch.device, int)):
        raise TypeError(f"{name} must be a device name such as 'cpu' or 'cuda' or a "
                        f"torch.device, got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} {device!r} is not a device name; use one of "
                         f"{_DATA_DEVICES}, optionally with an index ('cuda:1')") from None
    if dev.type not in _DATA_DEVICES:
        raise ValueError(f"{name} {device!r} cannot hold data to compute on; use one of "
                         f"{_DATA_DEVICES}")
    if dev.type == "cpu":
        return dev
    try:
        torch.empty(0, device=dev)
    except Exception as err:  # not compiled with it, no such index, driver missing
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{name} {device!r} is not available on this machine ({message})"
                         ) from None
    return dev


def check_bool(value, name: str) -> bool:
    """Accept Python and numpy booleans only."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def check_progress(progress, *, default: bool) -> bool:
    """Whether to show a progress bar: ``progress`` (True or False), or ``default`` for ``None``.

    Each caller's ``default`` says when its work is long enough to be worth a bar.
    """
    return default if progress is None else check_bool(progress, "progress")


def check_choice(value, name: str, choices: tuple[str, ...]) -> str:
    """The name in ``choices`` (all lower case) that ``value`` spells, in any case.

    Names of options are case-insensitive throughout srmlib (``"ReLU"`` is ``"relu"``); the
    caller must use the returned, lower-cased name, never ``value`` itself.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}, got {type(value).__name__}")
    if value.lower() not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value.lower()


def check_plane(plane, name: str = "plane") -> tuple[int, int]:
    """A pair of basis indices ``(i, j)`` as two Python ints (booleans are not indices)."""
    if (not isinstance(plane, (tuple, list, np.ndarray)) or len(plane) != 2
            or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool)
                       for k in plane)):
        raise TypeError(f"{name} must be a pair of basis indices (i, j), got {plane!r}")
    return int(plane[0]), int(plane[1])


# Scale ------------------------------------------------------------------------------------
#
# The one rule for finite input of any magnitude. SRM, the metrics, feature matching and the
# toy-model geometry are invariant to the scale of their input (or scale in a known way), but
# their squares and sums of squares overflow beyond about 1e154 (float32: 1e19) and underflow
# below about 1e-154, and a float32 cast overflows beyond 3.4e38. Such an input is multiplied
# once by the power of two that brings its largest magnitude (per row, where the answer depends
# on each row's direction only) into [0.5, 1). A product with a power of two is exact in binary
# floating point (short of underflow), so the rescaled input is the original one, exactly, in
# other units. Inputs whose largest magnitude already lies within SAFE_EXPONENT binary orders of
# 1 are left as they are: ordinary data take the code path they always took, bit for bit.

#: Binary exponents within which an input is not rescaled, per dtype: squares and sums of
#: squares of up to 2**40 terms stay far from overflow and underflow (float64: 2**+-256 is
#: about 1e+-77; float32, whose products the metrics form in float32: 2**+-32, about 4e+-10).
SAFE_EXPONENT = {torch.float64: 256, torch.float32: 32, np.dtype(np.float64): 256,
                 np.dtype(np.float32): 32}


def magnitude_exponents(max_abs):
    """The binary exponents ``e`` with ``max_abs * 2**-e`` in ``[0.5, 1)`` (0 where ``max_abs`` is 0).

    ``max_abs``: a numpy array or torch tensor of non-negative finite magnitudes; returns int64
    of the same kind and shape.
    """
    if isinstance(max_abs, torch.Tensor):
        return torch.frexp(max_abs).exponent.to(torch.int64)
    return np.frexp(np.asarray(max_abs))[1].astype(np.int64)


def times_power_of_two(x, exponents):
    """``x * 2**exponents``, exactly (short of underflow), for numpy arrays and torch tensors.

    ``exponents`` (an int, or int64 broadcastable to ``x``) may exceed what ``2**e`` can hold in
    ``x``'s dtype: the factor is applied in two halves, each representable, so that a float64
    subnormal can be brought up by ``2**1074`` and a float32 value down by ``2**-149``.
    """
    if isinstance(x, torch.Tensor):
        e = torch.as_tensor(exponents, dtype=torch.int64, device=x.device)
        half = torch.div(e, 2, rounding_mode="floor")
        for part in (half, e - half):
            x = x * torch.exp2(part.to(torch.float64)).to(x.dtype)
        return x
    return np.ldexp(x, np.asarray(exponents, dtype=np.int64))


def _needs_rescaling(exponents, dtype) -> bool:
    limit = SAFE_EXPONENT.get(dtype, 256)
    if isinstance(exponents, torch.Tensor):
        return bool((exponents.abs() > limit).any())
    return bool(np.any(np.abs(exponents) > limit))


def scale_exponent(max_abs, dtype) -> int:
    """The exponent ``e`` to divide an input by (``x * 2**-e``), from its largest magnitude.

    0 (leave the input alone) when ``max_abs`` lies within :data:`SAFE_EXPONENT` binary orders
    of 1 for ``dtype``, or is 0; else the exponent of ``max_abs`` (:func:`magnitude_exponents`).
    """
    e = scale_exponents(np.float64(max_abs), dtype)
    return 0 if e is None else int(e)


def row_scale_exponents(x):
    """Per row of the 2-D ``x`` (numpy or torch), the exponent to divide it by, or ``None``.

    ``None`` when every row's largest magnitude lies within :data:`SAFE_EXPONENT` of 1 (the
    input is then used as it is); else the int64 exponents of every row's largest magnitude (0
    for an all-zero row), so that ``times_power_of_two(x, -e[:, None])`` has rows of largest
    magnitude in ``[0.5, 1)``. Computed a block of rows at a time (no copy of ``x``).
    """
    if isinstance(x, torch.Tensor):
        rows = max(1, _FINITE_BLOCK_ELEMENTS // max(1, x.shape[1]))
        max_abs = torch.cat([x[lo:lo + rows].abs().amax(dim=1) for lo in range(0, len(x), rows)])
    else:
        max_abs = np.abs(x).max(axis=1)
    return scale_exponents(max_abs, x.dtype)


def scale_exponents(max_abs, dtype):
    """For several parts of an input (rows, columns) with largest magnitudes ``max_abs``, the
    exponents to divide each by (:func:`magnitude_exponents`), or ``None`` when every part lies
    within :data:`SAFE_EXPONENT` of 1 for ``dtype`` (the input is then used as it is)."""
    e = magnitude_exponents(max_abs)
    return e if _needs_rescaling(e, dtype) else None


def rescaled(x):
    """``(x * 2**-e, e)`` for the whole of ``x`` (numpy or torch), ``e`` from :func:`scale_exponent`.

    ``x`` itself (no copy) and ``e = 0`` for an input within :data:`SAFE_EXPONENT`. A float32
    input that must be rescaled keeps its dtype (its values are representable at any scale).
    """
    if isinstance(x, torch.Tensor):
        max_abs = float(x.abs().max()) if x.numel() else 0.0
    else:
        max_abs = float(np.abs(x).max()) if x.size else 0.0
    e = scale_exponent(max_abs, x.dtype)
    return (x, 0) if e == 0 else (times_power_of_two(x, -e), e)


def unit_rows(x: np.ndarray, name: str) -> np.ndarray:
    """Rows of the 2-D float array ``x`` scaled to unit length, at any magnitude.

    Each row is first brought to a largest magnitude in ``[0.5, 1)`` by a power of two where
    needed (:func:`row_scale_exponents`), so its length neither overflows (beyond about 1e154)
    nor underflows (below about 1e-154); the direction is exact. Raises ``ValueError`` naming
    ``name`` and the rows that are the zero vector (no direction).
    """
    e = row_scale_exponents(x)
    if e is not None:
        x = times_power_of_two(x, -e[:, None])
    lengths = np.linalg.norm(x, axis=1, keepdims=True)
    zero = np.flatnonzero(lengths[:, 0] == 0).tolist()
    if zero:
        raise ValueError(f"{name} has zero rows (no direction): {zero}")
    return x / lengths
