"""The weight cache: hits and misses, keys, corrupt files, safe loading, no stray files."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from srmlib import cache


def trainer(calls, value=1.0):
    def train():
        calls.append(1)
        return {"weight": torch.full((2, 3), value), "epochs": 5, "note": "x",
                "snapshots": [torch.arange(4.0)]}

    return train


def assert_same_state(a, b):
    assert set(a) == set(b)
    assert torch.equal(a["weight"], b["weight"])
    assert torch.equal(a["snapshots"][0], b["snapshots"][0])
    assert a["epochs"] == b["epochs"] and a["note"] == b["note"]


def test_miss_then_hit_returns_the_same_state(tmp_path):
    calls = []
    first = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path)
    second = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path)
    assert (first.hit, second.hit) == (False, True)
    assert len(calls) == 1
    assert first.path == second.path and second.path.parent == tmp_path
    assert_same_state(first.state, second.state)
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary left



def test_empty_and_scalar_tensors_round_trip(tmp_path):
    state = {"empty": torch.from_numpy(np.array([], dtype=np.int64)),  # stride 0
             "scalar": torch.tensor(2.5),
             "none": None}
    first = cache.cached_state({"seed": 1}, lambda: state, cache_dir=tmp_path)
    second = cache.cached_state({"seed": 1}, lambda: state, cache_dir=tmp_path)
    assert second.hit and second.state["none"] is None
    assert second.state["empty"].shape == (0,) and second.state["empty"].dtype == torch.int64
    assert torch.equal(second.state["scalar"], first.state["scalar"])


def test_state_dict_round_trip_loads_into_a_model(tmp_path):
    model = torch.nn.Linear(3, 2)
    stored = cache.cached_state({"m": 1}, model.state_dict, cache_dir=tmp_path)
    loaded = cache.cached_state({"m": 1}, lambda: pytest.fail("must not train"),
                                cache_dir=tmp_path)
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(loaded.state)
    assert torch.equal(fresh.weight, model.weight) and loaded.hit and not stored.hit


@pytest.mark.parametrize("change", [
    {"seed": 1}, {"lr": 0.0100001}, {"layers": [4, 3]}, {"extra": None}, {"name": "tanh "},
    {"nested": {"a": 2}},
])
def test_the_key_changes_when_any_parameter_changes(change):
    base = {"seed": 0, "lr": 0.01, "layers": [4, 2], "name": "tanh", "nested": {"a": 1}}
    assert cache.cache_key({**base, **change}) != cache.cache_key(base)


def test_the_key_is_canonical_and_includes_the_version(monkeypatch):
    a = cache.cache_key({"b": 1, "a": [1.5, "x"], "c": np.int64(3)})
    assert a == cache.cache_key({"a": (1.5, "x"), "c": 3, "b": 1})
    assert len(a) == 64 and int(a, 16) >= 0
    import srmlib

    monkeypatch.setattr(srmlib, "__version__", "999")
    assert cache.cache_key({"b": 1, "a": [1.5, "x"], "c": 3}) != a


def test_the_key_matches_a_hand_made_hash():
    import hashlib
    import json

    import srmlib

    text = json.dumps({"params": {"a": 1}, "srmlib": srmlib.__version__}, sort_keys=True,
                      separators=(",", ":"))
    assert cache.cache_key({"a": 1}) == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("params, error", [
    ([1, 2], TypeError), ({1: 2}, TypeError), ({"a": object()}, TypeError),
    ({"a": float("nan")}, ValueError), ({"a": {"b": torch.zeros(1)}}, TypeError),
])
def test_bad_parameters_raise(params, error):
    with pytest.raises(error, match="params"):
        cache.cache_key(params)


def test_different_parameters_are_different_entries(tmp_path):
    calls = []
    a = cache.cached_state({"seed": 0}, trainer(calls, 1.0), cache_dir=tmp_path)
    b = cache.cached_state({"seed": 1}, trainer(calls, 2.0), cache_dir=tmp_path)
    assert not a.hit and not b.hit and a.path != b.path and len(calls) == 2


@pytest.mark.parametrize("corrupt", [
    lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
    lambda p: p.write_bytes(b"not a torch file at all"),
    lambda p: p.write_bytes(b""),
])
def test_a_corrupt_file_is_detected_and_retrained(tmp_path, corrupt):
    calls = []
    first = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path)
    corrupt(first.path)
    with pytest.warns(UserWarning, match="ignoring the cache file"):
        again = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path)
    assert not again.hit and len(calls) == 2
    assert_same_state(again.state, first.state)
    assert cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path).hit  # repaired


def test_tampered_tensors_fail_the_checksum(tmp_path):
    calls = []
    first = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path)
    stored = torch.load(first.path, weights_only=True)
    stored["state"]["weight"][0, 0] = 42.0
    torch.save(stored, first.path)
    with pytest.warns(UserWarning, match="checksum"):
        again = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path)
    assert not again.hit and again.state["weight"][0, 0] == 1.0


def test_a_file_under_another_key_is_not_trusted(tmp_path):
    calls = []
    a = cache.cached_state({"seed": 0}, trainer(calls, 1.0), cache_dir=tmp_path)
    b = cache.cached_state({"seed": 1}, trainer(calls, 2.0), cache_dir=tmp_path)
    b.path.write_bytes(a.path.read_bytes())
    with pytest.warns(UserWarning, match="another key"):
        again = cache.cached_state({"seed": 1}, trainer(calls, 2.0), cache_dir=tmp_path)
    assert again.state["weight"][0, 0] == 2.0


class Evil:
    def __reduce__(self):
        return (print, ("code from a cache file ran",))


def test_loading_is_weights_only(tmp_path, capsys):
    calls = []
    first = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path)
    with open(first.path, "wb") as file:
        pickle.dump({"key": first.key, "checksum": "", "state": Evil()}, file)
    torch.save({"key": first.key, "checksum": "", "state": Evil()}, first.path)
    with pytest.warns(UserWarning, match="does not load safely"):
        again = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path)
    assert "code from a cache file ran" not in capsys.readouterr().out
    assert not again.hit


def test_disabled_cache_trains_and_writes_nothing(tmp_path):
    calls = []
    result = cache.cached_state({"seed": 0}, trainer(calls), cache_dir=tmp_path, enabled=False)
    assert result.path is None and not result.hit and calls == [1]
    assert list(tmp_path.iterdir()) == []


def test_cache_directory_from_argument_environment_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SRMLIB_CACHE_DIR", str(tmp_path / "env"))
    assert cache.default_cache_dir() == tmp_path / "env"
    assert cache.default_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    result = cache.cached_state({"seed": 0}, trainer([]))
    assert result.path.parent == tmp_path / "env"
    monkeypatch.delenv("SRMLIB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_dir() == tmp_path / "xdg" / "srmlib"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.default_cache_dir() == tmp_path / "home" / ".cache" / "srmlib"


def test_bad_states_and_arguments_raise(tmp_path):
    with pytest.raises(TypeError, match="state"):
        cache.cached_state({"a": 1}, lambda: {"w": np.zeros(2)}, cache_dir=tmp_path)
    with pytest.raises(TypeError, match="train_fn"):
        cache.cached_state({"a": 1}, 3, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="name"):
        cache.cached_state({"a": 1}, trainer([]), cache_dir=tmp_path, name="../x")
    with pytest.raises(TypeError, match="cache_dir"):
        cache.cached_state({"a": 1}, trainer([]), cache_dir=3)
    with pytest.raises(TypeError, match="enabled"):
        cache.cached_state({"a": 1}, trainer([]), cache_dir=tmp_path, enabled="yes")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ nothing lost (issue 15)


def read_only_store(path, *, binary):
    raise PermissionError(13, "Permission denied", str(path))


def test_a_store_that_fails_after_training_keeps_the_result(tmp_path, monkeypatch):
    """A read-only directory or a full disk: the trained state is returned, with a warning."""
    monkeypatch.setattr(cache, "atomic_write", read_only_store)
    calls = []
    with pytest.warns(UserWarning, match="could not store.*PermissionError.*not cached"):
        result = cache.cached_state({"a": 1}, trainer(calls), cache_dir=tmp_path)
    assert calls == [1] and not result.hit
    assert torch.equal(result.state["weight"], torch.full((2, 3), 1.0))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="POSIX permissions, which root ignores")
def test_a_read_only_directory_keeps_the_result(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.warns(UserWarning, match="could not store"):
            result = cache.cached_state({"a": 1}, trainer([]), cache_dir=folder)
    finally:
        folder.chmod(0o700)
    assert torch.equal(result.state["weight"], torch.full((2, 3), 1.0))


@pytest.mark.parametrize("below", [False, True])
def test_a_cache_directory_that_is_a_file_is_named_before_training(tmp_path, below):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    folder = blocker / "sub" if below else blocker
    calls = []

    def train():
        # the warning came before the (possibly long) training, so the user can stop and fix it
        assert len(caught) == 1
        return trainer(calls)()

    with pytest.warns(UserWarning) as caught:
        result = cache.cached_state({"a": 1}, train, cache_dir=folder)
    message = str(caught[0].message)
    assert f"{blocker} is a file" in message and "training without the cache" in message
    assert calls == [1] and torch.equal(result.state["weight"], torch.full((2, 3), 1.0))
    assert blocker.read_text() == "x"


def test_a_cache_file_path_that_is_a_directory_is_named(tmp_path):
    key = cache.cache_key({"a": 1})
    (tmp_path / f"state-{key}.pt").mkdir()
    calls = []
    with pytest.warns(UserWarning) as caught:
        result = cache.cached_state({"a": 1}, trainer(calls), cache_dir=tmp_path)
    assert len(caught) == 1
    assert f"state-{key}.pt is a directory" in str(caught[0].message)
    assert calls == [1] and torch.equal(result.state["weight"], torch.full((2, 3), 1.0))
