"""An on-disk cache of trained weights, keyed by every parameter that produced them.

Chapter 3 ("Activation functions make the privileged basis") trains several autoencoders; with
the cache on, a second run loads them instead of training again. Any chapter can use it:

>>> import tempfile, torch
>>> tmp = tempfile.TemporaryDirectory()
>>> result = cached_state({"model": "toy", "seed": 0}, lambda: {"w": torch.zeros(2)},
...                       cache_dir=tmp.name)
>>> result.hit, result.state["w"]
(False, tensor([0., 0.]))
>>> cached_state({"model": "toy", "seed": 0}, lambda: {"w": torch.ones(2)}, cache_dir=tmp.name).hit
True
>>> tmp.cleanup()

**Key.** The SHA-256 of the canonical JSON (sorted keys, no whitespace) of the parameters and
the srmlib version: any change of a parameter, or of srmlib, is another entry. Parameters must
be JSON values (``None``, bools, ints, finite floats, strings, lists, dicts with string keys;
numpy scalars and arrays are converted), so the key never depends on an object's ``repr``.

**Files.** ``<cache_dir>/<name>-<key>.pt``, written with :func:`torch.save` through
:func:`srmlib._io.atomic_write` (a temporary file in the same directory, renamed into place), so
a reader never sees half a file. They are read only with ``torch.load(..., weights_only=True)``,
which refuses to run code from the file. A file that does not load, was stored under another
key, or whose tensors do not match the checksum stored with them is reported (a warning),
retrained and overwritten, never trusted.

**Nothing lost.** The cache only saves time: it never costs a trained result. A cache that
cannot be used at all (the directory, or a folder above it, is a file; the cache file's path is
a directory) is reported with a warning *before* training, which then runs without the cache
(the user can stop and fix the path, and a script left running still gets its result). A
store that fails after training (a read-only directory, a full disk) is a warning too, and the
trained state is returned.

**Where.** ``cache_dir`` if given, else the environment variable ``SRMLIB_CACHE_DIR``, else
``$XDG_CACHE_HOME/srmlib`` (``~/.cache/srmlib``). ``enabled=False`` trains and touches no file.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ._io import atomic_write
from ._validation import check_bool

__all__ = ["CachedState", "cache_key", "cached_state", "default_cache_dir"]

#: Environment variable naming the cache directory.
CACHE_ENV = "SRMLIB_CACHE_DIR"


def default_cache_dir(cache_dir=None) -> Path:
    """The cache directory: ``cache_dir``, else ``$SRMLIB_CACHE_DIR``, else the user's cache.

    The user's cache is ``$XDG_CACHE_HOME/srmlib``, or ``~/.cache/srmlib`` when that variable
    is not set. Nothing is created here.
    """
    if cache_dir is not None:
        if not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(f"cache_dir must be a path, got {type(cache_dir).__name__}")
        return Path(cache_dir).expanduser()
    from_env = os.environ.get(CACHE_ENV)
    if from_env:
        return Path(from_env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "srmlib"


def cache_key(params: Mapping) -> str:
    """The SHA-256 (hex) of the canonical JSON of ``params`` and the srmlib version.

    Raises
    ------
    TypeError
        If ``params`` is not a mapping with string keys, or holds a value that is not a JSON
        value (see the module docstring).
    ValueError
        For NaN or infinite floats.
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of parameter names to values, got "
                        f"{type(params).__name__}")
    canonical = json.dumps({"params": _canonical(params, "params"), "srmlib": _version()},
                           sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CachedState:
    """What :func:`cached_state` returns.

    Attributes
    ----------
    state
        What ``train_fn`` returned, or the same values loaded from disk.
    key : str
        :func:`cache_key` of the parameters.
    path : pathlib.Path or None
        The cache file (``None`` when the cache is disabled).
    hit : bool
        Whether the state was loaded rather than trained.
    """

    state: object
    key: str
    path: Path | None
    hit: bool


def cached_state(params: Mapping, train_fn: Callable[[], object], *, cache_dir=None,
                 enabled: bool = True, name: str = "state") -> CachedState:
    """Load the state stored under ``params``, or compute it with ``train_fn()`` and store it.

    Parameters
    ----------
    params : mapping
        Every parameter that determines the state (model sizes, activation, seeds, epochs,
        learning rate, data ...); see :func:`cache_key`.
    train_fn : callable
        ``train_fn() -> state``, called on a miss. The state is a tensor, a number, a string,
        ``None``, or a list, tuple or string-keyed dict of these (a ``state_dict()`` is one).
    cache_dir : str or path-like, optional
        See :func:`default_cache_dir`.
    enabled : bool
        ``False``: call ``train_fn`` and touch no file.
    name : str
        Prefix of the file name (letters, digits, ``-`` and ``_``).

    Returns
    -------
    CachedState
    """
    key = cache_key(params)
    enabled = check_bool(enabled, "enabled")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"name must be letters, digits, '-' and '_', got {name!r}")
    if not callable(train_fn):
        raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
    if not enabled:
        return CachedState(state=_check_state(train_fn()), key=key, path=None, hit=False)
    directory = default_cache_dir(cache_dir)
    path = directory / f"{name}-{key}.pt"
    unusable = _unusable(directory, path)
    if unusable:  # said before training, so the user can stop and fix it; nothing is lost
        warnings.warn(f"{unusable}; training without the cache (the result is returned but "
                      "not stored)", stacklevel=2)
    elif path.exists():
        state = _load(path, key)
        if state is not None:
            return CachedState(state=state, key=key, path=path, hit=True)
    state = _check_state(train_fn())
    if not unusable:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with atomic_write(path, binary=True) as handle:
                torch.save({"key": key, "checksum": _checksum(state), "state": state}, handle)
        except OSError as err:  # read-only, full disk, no permission: keep what was trained
            warnings.warn(f"could not store the trained state in the cache file {path} "
                          f"({type(err).__name__}: {err.strerror or err}); the result is "
                          "returned but not cached", stacklevel=2)
    return CachedState(state=state, key=key, path=path, hit=False)


# --------------------------------------------------------------------------- internals


def _version() -> str:
    import srmlib

    return srmlib.__version__


def _canonical(value, where: str):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}; cache keys need finite numbers")
        return value
    if isinstance(value, np.ndarray):
        return _canonical(value.tolist(), where)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} has a key {k!r} that is not a string")
            out[k] = _canonical(v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{where} is a {type(value).__name__}; cache keys need JSON values (None, "
                    "bool, int, float, str, list, dict)")


def _check_state(state, where: str = "state"):
    if state is None or isinstance(state, (bool, int, float, str, torch.Tensor)):
        return state
    if isinstance(state, Mapping):
        for k, v in state.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} has a key {k!r} that is not a string")
            _check_state(v, f"{where}[{k!r}]")
        return state
    if isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            _check_state(v, f"{where}[{i}]")
        return state
    raise TypeError(f"{where} is a {type(state).__name__}; a cached state holds tensors, "
                    "numbers, strings, None, lists, tuples and dicts only")


def _checksum(state) -> str:
    digest = hashlib.sha256()

    def visit(value, where):
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"{where}:{t.dtype}:{tuple(t.shape)}:".encode())
            if t.numel():  # an empty tensor has no bytes (and a stride torch cannot view)
                digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, Mapping):
            for k in sorted(value):
                visit(value[k], f"{where}/{k}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                visit(v, f"{where}/{i}")
        else:
            digest.update(f"{where}={value!r};".encode())

    visit(state, "")
    return digest.hexdigest()


def _unusable(directory: Path, path: Path) -> str | None:
    """Why the cache cannot be used at all (a message naming the path), or ``None``."""
    for parent in (directory, *directory.parents):
        if parent.exists():
            if not parent.is_dir():
                return (f"the cache directory {directory} cannot be used: {parent} is a file, "
                        "not a directory")
            break
    if path.is_dir():
        return f"the cache file {path} is a directory, not a file"
    return None


def _load(path: Path, key: str):
    """The stored state, or ``None`` (with a warning) if the file cannot be trusted."""
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or refused by weights_only
        reason = f"it does not load safely ({type(err).__name__}: {str(err)[:200]})"
    else:
        if not isinstance(stored, dict) or set(stored) != {"key", "checksum", "state"}:
            reason = "it is not a srmlib cache entry"
        elif stored["key"] != key:
            reason = "it was stored under another key"
        elif stored["checksum"] != _checksum(stored["state"]):
            reason = "its contents do not match their checksum"
        else:
            return stored["state"]
    warnings.warn(f"ignoring the cache file {path}: {reason}; training again", stacklevel=3)
    return None
