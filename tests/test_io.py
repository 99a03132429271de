"""srmlib._io: atomic writes (old file or new file, never half of one; no temporary left), and
the only home of the write-then-rename pattern in srmlib."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from srmlib import _io
from srmlib._io import atomic_write, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


def test_text_and_binary_writes_replace_the_file(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "first\n")
    atomic_write_text(path, "second ü\n")
    assert path.read_text(encoding="utf-8") == "second ü\n"
    with atomic_write(tmp_path / "out.bin", binary=True) as handle:
        handle.write(bytes(range(256)))
    assert (tmp_path / "out.bin").read_bytes() == bytes(range(256))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "out.txt"]


def test_readers_see_the_old_file_until_the_block_ends(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old\n")
    with atomic_write(path, newline="") as handle:
        handle.write("new,\r\n")
        handle.flush()
        assert path.read_text() == "old\n"
        [temporary] = [p for p in tmp_path.iterdir() if p != path]
        assert temporary.name.startswith(".table.csv.") and temporary.suffix == ".tmp"
    assert path.read_bytes() == b"new,\r\n"  # newline="" writes line ends as given
    assert list(tmp_path.iterdir()) == [path]


def test_an_error_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="while writing"):
        with atomic_write(path) as handle:
            handle.write("half of the new")
            raise RuntimeError("while writing")
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_a_failed_rename_removes_the_temporary(tmp_path):
    target = tmp_path / "folder"
    target.mkdir()
    (target / "inside").write_text("kept")
    with pytest.raises(OSError):
        atomic_write_text(target, "a file cannot replace a non-empty folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
    assert (target / "inside").read_text() == "kept"


def test_the_bytes_are_synced_before_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(_io.os, "fsync", lambda fd: calls.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(_io.os, "replace",
                        lambda a, b: calls.append("replace") or real_replace(a, b))
    atomic_write_text(tmp_path / "a.txt", "x")
    assert calls == ["fsync", "replace"]


def test_a_killed_writer_leaves_the_old_file(tmp_path):
    path = tmp_path / "notebook.ipynb"
    path.write_text("old")
    code = ("import os, sys; from srmlib._io import atomic_write\n"
            "with atomic_write(sys.argv[1]) as handle:\n"
            "    handle.write('half'); handle.flush(); os._exit(9)\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT)
    assert done.returncode == 9
    assert path.read_text() == "old"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_permissions_are_those_open_gives(tmp_path):
    old_mask = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "atomic", "x")
        (tmp_path / "plain").write_text("x")
    finally:
        os.umask(old_mask)
    mode = (tmp_path / "atomic").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777 == 0o640


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(TypeError, match="path must be a path"):
        atomic_write_text(3, "x")
    with pytest.raises(TypeError, match="text must be a str"):
        atomic_write_text(tmp_path / "a", b"x")
    with pytest.raises(TypeError, match="binary must be a bool"):
        with atomic_write(tmp_path / "a", binary="yes"):
            pass
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "missing" / "a", "x")
    assert list(tmp_path.iterdir()) == []


def test_atomic_writes_have_one_home():
    """No other module of srmlib writes a temporary file and renames it: they use _io."""
    pattern = re.compile(r"os\.(replace|rename)\(|mkstemp\(|NamedTemporaryFile\(")
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in sorted((ROOT / "srmlib").rglob("*.py")) if path.name != "_io.py"
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []
