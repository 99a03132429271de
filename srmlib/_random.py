"""Seeds, and one independent random stream per purpose.

Every srmlib function that draws takes ``seed``: ``None`` (fresh entropy), a non-negative int,
or a ``numpy.random.Generator`` (the one seed rule, :func:`srmlib._validation.check_seed`). A function that draws one thing (a rotation, a data set) draws
it from ``numpy.random.default_rng(seed)``, the *root* stream of the seed. A function that
draws several independent things (a null and the planes it is computed on; a model's initial
weights and its minibatches) takes each from :func:`stream` or :func:`torch_seed` with a name
for its purpose: a child ``numpy.random.SeedSequence(seed, spawn_key=(key(purpose), ...))``.
Children with different keys are independent of each other and of the root stream, so

- a basis drawn with ``srmlib.random_rotation(d, seed)`` never reappears among the random bases
  of a null drawn with the same ``seed`` (:func:`srmlib.stats.rotation_test`);
- a model's initial weights and the minibatches that train it never share draws, even when the
  same seed is passed to both.

A ``Generator`` passed as ``seed`` gives a fresh child (``Generator.spawn``) on every call, so
successive calls with one generator are independent too.
"""

from __future__ import annotations

import zlib

import numpy as np

from ._validation import check_int, check_seed


def make_rng(seed, name: str = "seed") -> np.random.Generator:
    """The root stream of ``seed``: ``None``, a non-negative int, or a Generator (returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(check_seed(seed, name))


def stream(seed, purpose: str, *index: int, name: str = "seed") -> np.random.Generator:
    """An independent numpy stream for one ``purpose`` (and optional ``index``) of ``seed``.

    The same ``(seed, purpose, index)`` always gives the same stream; different purposes or
    indices, and the root stream :func:`make_rng` ``(seed)``, are independent.
    """
    return np.random.default_rng(_child(seed, purpose, index, name))


def torch_seed(seed, purpose: str, *index: int, name: str = "seed") -> int:
    """An int seed (below ``2**63``) for a ``torch.Generator`` of one ``purpose`` of ``seed``.

    Torch's generators are seeded by one integer; this derives it from the same keyed child
    sequence as :func:`stream`, so two purposes never share a torch stream either.
    """
    return int(_child(seed, purpose, index, name).generate_state(1, np.uint64)[0] >> np.uint64(1))


def purpose_key(purpose: str) -> int:
    """The spawn key of a purpose: a CRC-32 of its name (the same in every process)."""
    if not isinstance(purpose, str) or not purpose:
        raise TypeError("purpose must be a non-empty string")
    return zlib.crc32(purpose.encode())


def _child(seed, purpose: str, index: tuple[int, ...], name: str) -> np.random.SeedSequence:
    key = (purpose_key(purpose), *(check_int(i, "index", minimum=0) for i in index))
    if isinstance(seed, np.random.Generator):
        # A generator has no integer seed to key; a fresh child of it is independent of its own
        # stream and of every earlier child.
        parent = seed.bit_generator.seed_seq.spawn(1)[0]
        return np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, *key))
    if seed is None:
        return np.random.SeedSequence(spawn_key=key)
    return np.random.SeedSequence(check_seed(seed, name), spawn_key=key)
