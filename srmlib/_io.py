"""Atomic file writes: a reader finds the old file or the new one, never half of one.

Every file srmlib writes to be read again goes through :func:`atomic_write`: the cache's trained
weights (:mod:`srmlib.cache`), a run's ``notebook.ipynb`` and ``results.json``, a sweep's
``sweep.csv`` and ``sweep.png`` (:mod:`srmlib.runs`). A process killed in the middle of a write,
a full disk, or an error in the code that produces the bytes leaves the previous file (or no
file) in place, and no temporary file behind. That is what lets an interrupted sweep resume by
trusting every ``results.json`` it finds.

How: the bytes go to a temporary file in the same directory as the target (a rename is atomic
only within one file system), are flushed and fsynced (on disk before the name points at them),
and the temporary file is renamed over the target with :func:`os.replace` (atomic on POSIX and
Windows). The temporary file is created with the permissions :func:`open` would give the target
(``0o666`` less the umask), not the owner-only ones of :func:`tempfile.mkstemp`, so that
atomically written results are as readable as any other file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_write_text"]

_TEMPORARY_SUFFIX = ".tmp"
_ATTEMPTS = 100


@contextlib.contextmanager
def atomic_write(path, *, binary: bool = False, encoding: str = "utf-8",
                 newline: str | None = None) -> Iterator[IO]:
    """Open ``path`` for writing so that it changes all at once, when the block ends.

    Inside the ``with`` block the handle writes to a temporary file ``.<name>.<random>.tmp``
    beside ``path``. When the block ends normally the file is flushed, fsynced and renamed onto
    ``path``, replacing any previous file. When it raises (or the process dies), ``path`` is left
    as it was and the temporary file is removed (a killed process can leave one behind; it is
    never mistaken for ``path``).

    Parameters
    ----------
    path : str or path-like
        The file to write. Its directory must exist.
    binary : bool
        Open in binary mode (``"wb"``), e.g. for :func:`torch.save` or ``savefig``; else text.
    encoding, newline : str, optional
        Text mode only, as for :func:`open` (``newline=""`` for the :mod:`csv` module).

    Yields
    ------
    file object
        Open for writing, in binary or text mode.

    Examples
    --------
    >>> with atomic_write(folder / "table.csv", newline="") as handle:  # doctest: +SKIP
    ...     csv.writer(handle).writerows([["a", "b"], [1, 2]])
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a path, got {type(path).__name__}")
    if not isinstance(binary, bool):
        raise TypeError(f"binary must be a bool, got {type(binary).__name__}")
    path = Path(path)
    descriptor, temporary = _create_temporary(path)
    try:
        options = {} if binary else {"encoding": encoding, "newline": newline}
        with os.fdopen(descriptor, "wb" if binary else "w", **options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def atomic_write_text(path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    with atomic_write(path, encoding=encoding) as handle:
        handle.write(text)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new file beside ``path``, opened for writing: its descriptor and its path.

    ``O_EXCL`` makes the creation fail rather than reuse a file of the same name (as
    :func:`tempfile.mkstemp` does), and mode ``0o666`` lets the umask set the permissions.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_ATTEMPTS):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}{_TEMPORARY_SUFFIX}")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path} "
                          f"({_ATTEMPTS} names taken)")
