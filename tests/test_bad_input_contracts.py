"""The bad-input contract of every public entry point (issue 15).

Bad input to a public function must raise ``ValueError`` or ``TypeError`` whose message names
the argument: never a silent NaN, never an error from deep inside numpy or torch. One table,
:data:`ENTRIES`, lists each entry point with a cheap valid call and the kind of each argument
(an array, an int with its minimum, a real with its interval, a name among choices, a seed, a
flag, a device, a path...). From the kind come

- *examples*: a fixed set of bad values of every kind (NaN/inf, wrong ndim, wrong width,
  empty, str, None, a list of str, complex, bad names, bad seeds, bool where int, negative
  sizes, values beyond float32 where the computation is float32), one test each;
- *properties* (``hypothesis``): random bad values of the same kinds (a NaN or inf at a random
  place, any int below the minimum, any real outside the interval, any string that is not a
  name, any seed that breaks the seed rule), drawn across all entry points.

Every valid call is run too (``test_valid_call``), so a bad input is refused for being bad,
not because the call could never work. ``python -m tests.test_bad_input_contracts`` prints how
many bad inputs each entry point gets.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srmlib import (activations, alignment, bases, cache, data, metrics, models, networks, sae,
                    srm, stats, toy)
from srmlib.runs import cli

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 3))  # activations: 40 samples of 3 units
B = np.eye(3)  # a basis: 3 vectors in 3 dimensions
FEATURES = np.eye(3)[:2]  # 2 known feature directions
INPUTS = RNG.random((24, 4)).astype(np.float32)  # a model's inputs: 24 of width 4
LABELS = np.arange(24) % 2
F32_MAX = float(np.finfo(np.float32).max)


# ------------------------------------------------------------------------- kinds of argument


@dataclass(frozen=True)
class Array:
    """An array argument: ``ndim`` dimensions; ``width``: its columns must match something;
    ``float32``: computed in float32 (values beyond its range have no answer); ``optional``:
    None is valid."""

    ndim: int = 2
    width: bool = False
    any_ndim: bool = False  # an array of any shape is valid (no wrong-ndim cases)
    float32: bool = False
    optional: bool = False
    min_rows: int = 1


@dataclass(frozen=True)
class Int:
    minimum: int
    optional: bool = False


@dataclass(frozen=True)
class Real:
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Choice:
    choices: tuple[str, ...]


@dataclass(frozen=True)
class Seed:
    pass


@dataclass(frozen=True)
class Flag:
    optional: bool = False  # None means "the default" (progress bars)


@dataclass(frozen=True)
class Device:
    pass


@dataclass(frozen=True)
class Other:
    """An argument with bad values of its own (given in full)."""

    values: dict


@dataclass
class Entry:
    """A public entry point: ``call(**valid)`` works; ``args`` say what each argument is."""

    name: str
    call: Callable[..., Any]
    valid: dict
    args: dict
    extra: dict = field(default_factory=dict)  # {argument: {label: value}} beyond its kind


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def mnist_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    images = RNG.integers(0, 255, (12, 4, 4), dtype=np.uint8)
    return _npz(folder / "mnist.npz", x_train=images, y_train=np.arange(12) % 3,
                x_test=images, y_test=np.arange(12) % 3)


def _sae(kind="topk"):
    return sae.create_sae(kind, 3, 6, seed=0, **({"k": 1} if kind == "topk" else {}))


def _classifier():
    return models.MLPClassifier(4, 3, 2, seed=0)


def _autoencoder():
    return models.MLPAutoencoder(4, 6, 2, activation="relu", seed=0)


def _toy_model():
    return toy.ToyModel(toy.ToyConfig(n_features=4, n_hidden=2, n_instances=2), seed=0)


def _task():
    return networks.load_task("digits", seed=0)


ENTRIES = [
    Entry("srm.spotlight_resonance", srm.spotlight_resonance,
          dict(activations=X, basis=B, resolution=8),
          dict(activations=Array(width=True), basis=Array(width=True, optional=True),
               epsilon=Real(-1, 1, low_open=True), resolution=Int(1),
               pairs=Choice(("comb", "perm")), signed=Flag(), max_planes=Int(1, optional=True),
               seed=Seed(), progress=Flag(optional=True), device=Device())),
    Entry("srm.pppm", srm.pppm, dict(activations=X, basis=B),
          dict(activations=Array(width=True), basis=Array(width=True, optional=True),
               epsilon=Real(-1, 1, low_open=True), pairs=Choice(("comb", "perm")),
               max_planes=Int(1, optional=True), seed=Seed(), device=Device())),
    Entry("srm.project", srm.project, dict(activations=X, basis=B),
          dict(activations=Array(width=True), basis=Array(width=True, optional=True),
               pairs=Choice(("comb", "perm")), max_planes=Int(1, optional=True), seed=Seed(),
               device=Device())),
    Entry("srm.isotropic_expectation", srm.isotropic_expectation, dict(n_dims=3, epsilon=0.5),
          dict(n_dims=Int(2), epsilon=Real(-1, 1))),
    Entry("srm.epsilon_for_isotropic_fraction", srm.epsilon_for_isotropic_fraction,
          dict(n_dims=3, fraction=0.1),
          dict(n_dims=Int(2), fraction=Real(0, 1, low_open=True, high_open=True))),
    Entry("stats.rotation_test", stats.rotation_test,
          dict(activations=X, basis=B, resolution=8, n_rotations=3),
          dict(activations=Array(width=True), basis=Array(width=True, optional=True),
               epsilon=Real(-1, 1, low_open=True), resolution=Int(1),
               statistic=Choice(tuple(stats.STATISTICS)), n_rotations=Int(1), seed=Seed(),
               pairs=Choice(("comb", "perm")), max_planes=Int(1, optional=True),
               progress=Flag(optional=True))),
    Entry("stats.wilson_interval", stats.wilson_interval,
          dict(result=[0.0, 0.3, 1.0], n_samples=100),
          dict(result=Array(ndim=1, any_ndim=True), n_samples=Int(1),
               confidence=Real(0, 1, low_open=True, high_open=True)),
          extra=dict(result={"fraction above 1": [0.3, 1.5], "negative": [-0.1]})),
    Entry("stats.standard_error", stats.standard_error, dict(result=[0.3], n_samples=100),
          dict(result=Array(ndim=1, any_ndim=True), n_samples=Int(1)),
          extra=dict(result={"fraction above 1": [1.5]})),
    Entry("stats.axis_alignment", stats.axis_alignment, dict(activations=X, basis=B, epsilon=0.8),
          dict(activations=Array(width=True), basis=Array(width=True, optional=True),
               epsilon=Real(-1, 1, low_open=True))),
    Entry("bases.standard_basis", bases.standard_basis, dict(n_dims=3), dict(n_dims=Int(2))),
    Entry("bases.random_rotation", bases.random_rotation, dict(n_dims=3, seed=0),
          dict(n_dims=Int(2), seed=Seed())),
    Entry("bases.overcomplete_basis", bases.overcomplete_basis,
          dict(n_vectors=4, n_dims=3, seed=0, steps=2),
          dict(n_vectors=Int(2), n_dims=Int(2), seed=Seed(), steps=Int(0))),
    Entry("bases.enumerate_planes", bases.enumerate_planes, dict(n_vectors=4),
          dict(n_vectors=Int(2), pairs=Choice(("comb", "perm")), max_planes=Int(1, optional=True),
               seed=Seed())),
    Entry("bases.plane_frame", bases.plane_frame, dict(b_i=[1.0, 0.0, 0.0], b_j=[0.0, 1.0, 0.0]),
          dict(b_i=Array(ndim=1, width=True), b_j=Array(ndim=1, width=True)),
          extra=dict(b_i={"zero vector": [0.0, 0.0, 0.0]}, b_j={"parallel": [2.0, 0.0, 0.0]})),
    Entry("sae.create_sae", sae.create_sae, dict(kind="topk", n_inputs=3, n_latents=6, k=1),
          dict(kind=Choice(tuple(sae.SAE_CLASSES)), n_inputs=Int(1), n_latents=Int(1), k=Int(1),
               decoder_norm=Choice(("unit", "penalty")), seed=Seed()),
          extra=dict(k={"k above n_latents": 7})),
    Entry("sae.train_sae", lambda sae_=None, **kw: sae.train_sae(sae_ or _sae(), **kw),
          dict(activations=X, steps=2, batch_size=8),
          dict(activations=Array(width=True, float32=True), steps=Int(1), batch_size=Int(1),
               lr=Real(0, low_open=True), dead_steps=Int(1), resample_every=Int(1, optional=True),
               log_every=Int(1), centre=Flag(), seed=Seed(), progress=Flag(optional=True),
               device=Device(), num_threads=Int(1, optional=True)),
          extra=dict(sae_={"not an SAE": "topk", "a torch module": torch.nn.Linear(3, 3)},
                     lr={"diverging (1e30)": 1e30})),
    Entry("sae.evaluate_sae", lambda sae_=None, **kw: sae.evaluate_sae(sae_ or _sae(), **kw),
          dict(activations=X, true_features=FEATURES),
          dict(activations=Array(width=True, float32=True),
               true_features=Array(width=True, optional=True),
               threshold=Real(0, 1, low_open=True), batch_size=Int(1)),
          extra=dict(activations={"one row": X[:1], "constant rows": np.ones((10, 3))},
                     sae_={"not an SAE": "topk"})),
    Entry("sae.match_features", sae.match_features, dict(atoms=B, true_features=FEATURES),
          dict(atoms=Array(width=True), true_features=Array(width=True),
               threshold=Real(0, 1, low_open=True)),
          extra=dict(atoms={"zero atom": np.zeros((2, 3))})),
    Entry("sae.matching_null", sae.matching_null,
          dict(true_features=FEATURES, n_atoms=3, n_dictionaries=5),
          dict(true_features=Array(), n_atoms=Int(1), n_dictionaries=Int(1), seed=Seed())),
    Entry("metrics.compare", metrics.compare,
          dict(source=X, target=X[:, ::-1], metric="semi-matching", n_folds=2, seed=0),
          dict(source=Array(width=False, min_rows=4), target=Array(width=False, min_rows=4),
               metric=Choice(tuple(metrics.METRICS)), n_folds=Int(1), seed=Seed()),
          extra=dict(target={"other stimuli": X[:-1]})),
    Entry("metrics.rsa", metrics.rsa, dict(source=X, target=X[:, ::-1]),
          dict(source=Array(), target=Array(), method=Choice(("spearman", "pearson"))),
          extra=dict(source={"one unit": X[:, :1]}, target={"one unit": X[:, :1]})),
    Entry("toy.ToyConfig", toy.ToyConfig, dict(n_features=4, n_hidden=2, n_instances=2),
          dict(n_features=Int(1), n_hidden=Int(1), n_instances=Int(1),
               feature_probability=Real(0, 1, low_open=True),
               importance_decay=Real(0, low_open=True), hidden_activation=Choice(("linear", "relu")))),
    Entry("toy.ToyModel", toy.ToyModel,
          dict(config=toy.ToyConfig(n_features=4, n_hidden=2, n_instances=2), seed=0),
          dict(seed=Seed(), init_std=Real(0, low_open=True, optional=True)),
          extra=dict(config={"a dict": {"n_features": 4}, "None": None})),
    Entry("toy.train_toy_model",
          lambda model=None, **kw: toy.train_toy_model(model or _toy_model(), **kw),
          dict(steps=2, batch_size=8),
          dict(steps=Int(1), batch_size=Int(1), lr=Real(0, low_open=True),
               weight_decay=Real(0), seed=Seed(), progress=Flag(optional=True),
               log_every=Int(1, optional=True), num_threads=Int(1, optional=True),
               lr_schedule=Choice(toy.LR_SCHEDULES), optimizer=Choice(toy.OPTIMIZERS),
               momentum=Real(0, 1, high_open=True)),
          extra=dict(model={"not a ToyModel": torch.nn.Linear(2, 2)},
                     lr={"diverging (1e30, SGD)": 1e30})),
    Entry("toy.feature_dimensionality", toy.feature_dimensionality,
          dict(directions=RNG.standard_normal((5, 3))),
          dict(directions=Array())),  # tiny: the "scale" branch's (issue 15, category 1)
    Entry("models.capture_activations",
          lambda model=None, **kw: models.capture_activations(model or _classifier(), **kw),
          dict(layer="activation", inputs=INPUTS),
          dict(inputs=Array(width=True, float32=True), batch_size=Int(1), device=Device(),
               progress=Flag(optional=True)),
          extra=dict(layer={"no such layer": "nonsense", "an int": 3, "None": None},
                     model={"not a module": "mlp"})),
    Entry("models.train_classifier",
          lambda model=None, **kw: models.train_classifier(model or _classifier(), **kw),
          dict(inputs=INPUTS, labels=LABELS, epochs=1),
          dict(inputs=Array(width=True, float32=True), epochs=Int(1), batch_size=Int(1),
               lr=Real(0, low_open=True), weight_decay=Real(0), seed=Seed(),
               progress=Flag(optional=True), num_threads=Int(1, optional=True)),
          extra=dict(labels={"floats": LABELS + 0.5, "wrong length": LABELS[:-1],
                             "str": "abc", "None": None},
                     test={"wrong width": (INPUTS[:, :3], LABELS),
                           "NaN": (np.full_like(INPUTS, np.nan), LABELS)})),
    Entry("models.train_autoencoder",
          lambda model=None, **kw: models.train_autoencoder(model or _autoencoder(), **kw),
          dict(inputs=INPUTS, epochs=1, optimizer="sgd"),
          dict(inputs=Array(width=True, float32=True), epochs=Int(1), batch_size=Int(1),
               lr=Real(0, low_open=True), weight_decay=Real(0),
               optimizer=Choice(("adam", "sgd")), momentum=Real(0, 1, high_open=True),
               seed=Seed(), progress=Flag(optional=True), num_threads=Int(1, optional=True)),
          extra=dict(test={"wrong width": INPUTS[:, :3], "NaN": np.full_like(INPUTS, np.nan)},
                     snapshot_epochs={"beyond epochs": [5], "str": "1"},
                     lr={"diverging (1e30, SGD)": 1e30})),
    Entry("models.fit_autoencoder", models.fit_autoencoder,
          dict(inputs=INPUTS, activation="relu", n_hidden=4, n_bottleneck=2, epochs=1),
          dict(inputs=Array(float32=True), activation=Choice(activations.ACTIVATION_NAMES),
               n_hidden=Int(1), n_bottleneck=Int(1), epochs=Int(1), batch_size=Int(1),
               lr=Real(0, low_open=True), optimizer=Choice(("adam", "sgd")), seed=Seed())),
    Entry("models.MLPClassifier", models.MLPClassifier, dict(n_inputs=4, n_hidden=3, n_classes=2),
          dict(n_inputs=Int(1), n_hidden=Int(1), n_classes=Int(2),
               activation=Choice(activations.ACTIVATION_NAMES), seed=Seed())),
    Entry("networks.load_task", networks.load_task, dict(name="digits"),
          dict(name=Choice(networks.TASKS), seed=Seed())),
    Entry("networks.train_networks",
          lambda task=None, **kw: networks.train_networks(task or _task(), **kw),
          dict(arch="mlp", n_networks=1, epochs=1),
          dict(arch=Choice(networks.ARCHITECTURES), n_networks=Int(1), seed=Seed(),
               epochs=Int(1), batch_size=Int(1), lr=Real(0, low_open=True)),
          extra=dict(task={"not a Task": "digits"})),
    Entry("networks.layer_saes", networks.layer_saes,
          dict(samples=X, n_latents=4, k=1, steps=2, batch_size=8),
          dict(samples=Array(float32=True), n_latents=Int(1), k=Int(1), steps=Int(1),
               batch_size=Int(1), lr=Real(0, low_open=True), seed=Seed())),
    Entry("networks.select_atoms",
          lambda sae_=None, **kw: networks.select_atoms(sae_ or _sae(), **kw),
          dict(samples=X, n_atoms=2),
          dict(samples=Array(width=True, float32=True), n_atoms=Int(1),
               max_cosine=Real(0, 1))),
    Entry("data.load_mnist", data.load_mnist, dict(path=None),  # path: the fixture's file
          dict(split=Choice(("train", "test")), scale=Flag(), limit=Int(1, optional=True)),
          extra=dict(path={"an int": 3, "None": None, "a folder": "/"})),
    Entry("data.isotropic_gaussian", data.isotropic_gaussian, dict(n_samples=5, n_dims=3, seed=0),
          dict(n_samples=Int(1), n_dims=Int(1), seed=Seed(), scale=Real(0, low_open=True))),
    Entry("data.sparse_features", data.sparse_features, dict(n_samples=5, basis=B, seed=0),
          dict(n_samples=Int(1), basis=Array(), seed=Seed(),
               density=Real(0, 1, low_open=True), noise=Real(0))),
    Entry("cache.cached_state", cache.cached_state,
          dict(params={"a": 1}, train_fn=lambda: {"w": torch.zeros(2)}, enabled=False),
          dict(enabled=Flag()),
          extra=dict(train_fn={"not callable": 3}, name={"a path": "../x", "an int": 3},
                     params={"a list": [1, 2], "a str": "abc"})),
    Entry("activations.make_activation", activations.make_activation,
          dict(name="rotated_relu", n_dims=3, seed=0),
          dict(name=Choice(activations.ACTIVATION_NAMES), n_dims=Int(2), seed=Seed())),
    Entry("alignment.feature_importance", alignment.feature_importance,
          dict(kind="uniform", n_features=4),
          dict(kind=Choice(alignment.IMPORTANCES), n_features=Int(1))),
    Entry("alignment.paired_difference", alignment.paired_difference,
          dict(values=[1.0, 2.0, 3.0], baseline=[0.5, 1.0, 1.0]),
          dict(values=Array(ndim=1, width=True), baseline=Array(ndim=1, width=True),
               confidence=Real(0, 1, low_open=True, high_open=True))),
    Entry("alignment.run_alignment_experiment", alignment.run_alignment_experiment,
          None,  # too slow to run in this file; its bad arguments are refused before any work
          dict(n_features=Int(1), feature_probability=Real(0, 1, low_open=True),
               importance=Choice(alignment.IMPORTANCES), k=Int(1), n_pairs=Int(1),
               toy_steps=Int(1), sae_steps=Int(1), n_folds=Int(1), seed=Seed(),
               progress=Flag())),
]

MNIST = "<the fixture's .npz>"  # stands for a valid MNIST file in a valid call
ENTRIES[[e.name for e in ENTRIES].index("data.load_mnist")].valid["path"] = MNIST
# run_alignment_experiment is not run to the end here: small sizes keep a wrongly accepted value
# cheap, and test_valid_call skips it (tests/test_alignment.py runs it).
ALIGNMENT_SMALL = dict(widths=(4,), n_features=6, n_pairs=2, toy_steps=2, sae_steps=2,
                       n_train=64, n_stimuli=40, n_folds=2, progress=False)


# ------------------------------------------------------------------------- bad values by kind


def _with(array, index, value):
    out = np.array(array, dtype=np.float64)
    out[index] = value
    return out


def _bad_array(kind: Array, valid) -> dict:
    v = np.asarray(valid, dtype=np.float64)
    bad = {"NaN": _with(v, (0,) * v.ndim, np.nan), "-inf": _with(v, (-1,) * v.ndim, -np.inf),
           "empty": v[:0], "str": "abc", "list of str": np.full(v.shape, "a").tolist(),
           "complex": v + 1j}
    if not kind.any_ndim:
        bad[f"{v.ndim + 1}-D"] = v[None]
    if v.ndim > 1 and not kind.any_ndim:
        bad[f"{v.ndim - 1}-D"] = v[0]
    if not kind.optional:
        bad["None"] = None
    if kind.width:
        bad["wrong width"] = np.concatenate([v, v[..., :1]], axis=-1)
    if kind.float32:
        bad["beyond float32 (1e39)"] = v * 1e39
    return bad


def _bad_int(kind: Int) -> dict:
    bad = {"bool": True, "float": 1.5, "str": "3", "complex": 1 + 0j,
           "below the minimum": kind.minimum - 1, "negative": -3}
    if not kind.optional:
        bad["None"] = None
    return bad


def _bad_real(kind: Real) -> dict:
    bad = {"NaN": math.nan, "inf": math.inf, "str": "0.5", "bool": True, "complex": 0.5 + 1j,
           "list of str": ["0.5"]} | ({} if kind.optional else {"None": None})
    if kind.low is not None:
        bad["below the interval"] = kind.low - 1.0 if not kind.low_open else kind.low
    if kind.high is not None:
        bad["above the interval"] = kind.high + 1.0 if not kind.high_open else kind.high
    return bad


def _bad_values(kind, valid) -> dict:
    if isinstance(kind, Array):
        return _bad_array(kind, valid)
    if isinstance(kind, Int):
        return _bad_int(kind)
    if isinstance(kind, Real):
        return _bad_real(kind)
    if isinstance(kind, Choice):
        return {"unknown name": "nonsense", "empty name": "", "an int": 3, "None": None,
                "a list of names": list(kind.choices[:1])}
    if isinstance(kind, Seed):
        return {"str": "abc", "negative": -5, "float": 1.5, "bool": True}
    if isinstance(kind, Flag):
        return {"str 'no'": "no", "int": 1, "float": 0.0} | ({} if kind.optional else
                                                           {"None": None})
    if isinstance(kind, Device):
        return {"unknown name": "gpu", "no data device": "meta", "absent index": "cuda:99"}
    raise AssertionError(kind)


def _examples():
    for entry in ENTRIES:
        valid = entry.valid if entry.valid is not None else ALIGNMENT_SMALL
        for arg, kind in entry.args.items():
            for label, value in _bad_values(kind, valid.get(arg)).items():
                yield entry, arg, label, value
        for arg, values in entry.extra.items():
            for label, value in values.items():
                yield entry, arg, label, value


EXAMPLES = list(_examples())


def _call(entry: Entry, mnist_file, **overrides):
    kwargs = {**(entry.valid if entry.valid is not None else ALIGNMENT_SMALL), **overrides}
    kwargs = {k: (mnist_file if v is MNIST else v) for k, v in kwargs.items()}
    return entry.call(**kwargs)


def _refused(entry: Entry, arg: str, value, mnist_file, errors=(ValueError, TypeError)):
    name = arg.rstrip("_")  # sae_ stands for the positional sae
    with pytest.raises(errors, match=re.escape(name)):
        _call(entry, mnist_file, **{arg: value})


# ------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.valid is not None],
                         ids=lambda e: e.name)
def test_valid_call(entry, mnist_file):
    """The call every bad input is a variation of works: a refusal is the bad value's doing."""
    _call(entry, mnist_file)


@pytest.mark.parametrize(("entry", "arg", "label", "value"), EXAMPLES,
                         ids=[f"{e.name}-{a}-{label}" for e, a, label, _ in EXAMPLES])
def test_bad_example_is_refused_by_name(entry, arg, label, value, mnist_file):
    _refused(entry, arg, value, mnist_file)


def _args(kind_type, predicate=lambda kind: True):
    return [pytest.param(e, a, k, id=f"{e.name}-{a}") for e in ENTRIES
            for a, k in e.args.items() if isinstance(k, kind_type) and predicate(k)]


PROPERTY = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Array))
@PROPERTY
@given(data=st.data())
def test_a_non_finite_value_anywhere(entry, arg, kind, mnist_file, data):
    v = np.array((entry.valid or ALIGNMENT_SMALL)[arg], dtype=np.float64)
    index = tuple(data.draw(st.integers(0, n - 1), label="index") for n in v.shape)
    value = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), label="value")
    _refused(entry, arg, _with(v, index, value), mnist_file, ValueError)


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Array, lambda k: k.width))
@PROPERTY
@given(data=st.data())
def test_any_wrong_width(entry, arg, kind, mnist_file, data):
    v = np.asarray((entry.valid or ALIGNMENT_SMALL)[arg], dtype=np.float64)
    width = data.draw(st.integers(1, 7).filter(lambda w: w != v.shape[-1]), label="width")
    wrong = np.resize(v, (*v.shape[:-1], width)) + 0.25  # keep it non-zero and finite
    _refused(entry, arg, wrong, mnist_file, ValueError)


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Array, lambda k: k.float32))
@PROPERTY
@given(scale=st.floats(1e39, 1e300))
def test_beyond_float32_is_refused_not_nan(entry, arg, kind, mnist_file, scale):
    v = np.asarray((entry.valid or ALIGNMENT_SMALL)[arg], dtype=np.float64)
    _refused(entry, arg, v * scale, mnist_file, ValueError)


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Int))
@PROPERTY
@given(data=st.data())
def test_any_int_below_the_minimum(entry, arg, kind, mnist_file, data):
    value = data.draw(st.integers(max_value=kind.minimum - 1), label="value")
    _refused(entry, arg, value, mnist_file, ValueError)


NOT_INTEGERS = st.one_of(st.floats(), st.text(max_size=4), st.booleans(),
                         st.complex_numbers(), st.lists(st.integers(), max_size=2))


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Int))
@PROPERTY
@given(value=NOT_INTEGERS)
def test_anything_but_an_int(entry, arg, kind, mnist_file, value):
    _refused(entry, arg, value, mnist_file)


def _outside(kind: Real):
    parts = [st.sampled_from([math.nan, math.inf, -math.inf])]
    if kind.low is not None:
        parts.append(st.floats(max_value=kind.low, exclude_max=not kind.low_open,
                               allow_nan=False))
    if kind.high is not None:
        parts.append(st.floats(min_value=kind.high, exclude_min=not kind.high_open,
                               allow_nan=False))
    return st.one_of(parts)


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Real))
@PROPERTY
@given(data=st.data())
def test_any_real_outside_its_interval(entry, arg, kind, mnist_file, data):
    _refused(entry, arg, data.draw(_outside(kind), label="value"), mnist_file, ValueError)


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Real))
@PROPERTY
@given(data=st.data())
def test_anything_but_a_real(entry, arg, kind, mnist_file, data):
    value = data.draw(st.one_of(st.text(max_size=4), st.booleans(),
                                st.complex_numbers(min_magnitude=1),
                                st.lists(st.text(max_size=2), min_size=1, max_size=2),
                                *([] if kind.optional else [st.none()])), label="value")
    _refused(entry, arg, value, mnist_file, TypeError)


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Choice))
@PROPERTY
@given(data=st.data())
def test_any_other_name(entry, arg, kind, mnist_file, data):
    value = data.draw(st.one_of(st.text(max_size=12).filter(lambda s: s.lower() not in
                                                            kind.choices),
                                st.integers(), st.none()), label="value")
    _refused(entry, arg, value, mnist_file)


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Seed))
@PROPERTY
@given(value=st.one_of(st.integers(max_value=-1), st.floats(), st.text(max_size=4),
                       st.booleans()))
def test_any_seed_that_breaks_the_seed_rule(entry, arg, kind, mnist_file, value):
    _refused(entry, arg, value, mnist_file)


@pytest.mark.parametrize(("entry", "arg", "kind"), _args(Flag))
@PROPERTY
@given(value=st.one_of(st.integers(), st.floats(), st.text(max_size=4)))
def test_anything_but_a_flag(entry, arg, kind, mnist_file, value):
    _refused(entry, arg, value, mnist_file, TypeError)


@pytest.mark.parametrize("argv", [
    ["run", "01", "-p", "seed", "abc"],
    ["run", "01", "-p", "quick", "maybe"],
    ["run", "01", "-p", "no_such_parameter", "1"],
    ["run", "no_such_chapter"],
], ids=["seed", "quick", "unknown parameter", "unknown chapter"])
def test_command_line_names_the_bad_argument(argv, capsys, tmp_path):
    """The runs command line: a clean exit 2 whose message names what was wrong, before any
    chapter runs."""
    assert cli.main([*argv, "--out", str(tmp_path)]) == 2
    message = capsys.readouterr().err
    assert re.search(re.escape(argv[3] if len(argv) > 3 else argv[1]), message), message
    assert not any(tmp_path.iterdir())


def counts() -> dict[str, int]:
    """Bad inputs tried per entry point: examples, plus the property tests' draws."""
    draws = PROPERTY.max_examples
    per_kind = {Array: 1, Int: 2, Real: 2, Choice: 1, Seed: 1, Flag: 1, Device: 0}
    total = {}
    for entry in ENTRIES:
        n = sum(1 for e, *_ in EXAMPLES if e is entry)
        for kind in entry.args.values():
            n += draws * per_kind[type(kind)]
            if isinstance(kind, Array):
                n += draws * (kind.width + kind.float32)
        total[entry.name] = n
    return total


if __name__ == "__main__":
    for name, n in counts().items():
        print(f"{name:40s} {n:5d}")
    print(f"{'all':40s} {sum(counts().values()):5d}")
