"""Names and options refused clearly (issue 15, category 3, and category 5's devices and
``rotation_test``'s default basis): one rule each in ``srmlib._validation``, used by every
public function, with example tests for the cases the issue found and property-based tests
(hypothesis) for the rules themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srmlib
from srmlib import _validation as v
from srmlib import sae, stats, toy
from srmlib.srm import isotropic_expectation

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
X = np.random.default_rng(0).standard_normal((40, 4))

# Anything that is not a seed: text, floats, booleans, containers, None where not allowed.
NOT_INTS = st.one_of(st.text(max_size=5), st.floats(allow_nan=True), st.booleans(),
                     st.lists(st.integers(0, 9), max_size=2), st.just(b"1"))


# --------------------------------------------------------------------------- names


def test_toy_hidden_activation_is_case_insensitive_and_trains_a_relu_model():
    """Old code: "ReLU" passed validation, was stored as given and trained a linear model."""
    config = toy.ToyConfig(n_features=3, n_hidden=2, n_instances=1, hidden_activation="ReLU")
    assert config.hidden_activation == "relu"
    model = toy.ToyModel(config, seed=0)
    x = torch.rand(16, 1, 3)
    assert (model.hidden(x) >= 0).all()  # ReLU on the hidden layer
    reference = toy.ToyModel(toy.ToyConfig(n_features=3, n_hidden=2, n_instances=1,
                                           hidden_activation="relu"), seed=0)
    assert torch.equal(model(x), reference(x))


def test_toy_bad_hidden_activation_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"hidden_activation must be one of \('linear', 'relu'\)"):
        toy.ToyConfig(hidden_activation="gelu")
    with pytest.raises(TypeError, match="hidden_activation"):
        toy.ToyConfig(hidden_activation=None)


def test_toy_correlation_is_case_insensitive():
    assert toy.ToyConfig(n_features=4, correlation="Correlated").correlation == "correlated"
    with pytest.raises(ValueError, match="correlation must be one of"):
        toy.ToyConfig(n_features=4, correlation="both")


@FAST
@given(name=st.sampled_from(toy.HIDDEN_ACTIVATIONS), flips=st.lists(st.booleans(), min_size=6,
                                                                     max_size=6))
def test_every_spelling_of_a_valid_name_is_that_name(name, flips):
    spelled = "".join(c.upper() if f else c for c, f in zip(name, flips + [False] * len(name)))
    assert v.check_choice(spelled, "hidden_activation", toy.HIDDEN_ACTIVATIONS) == name
    assert toy.ToyConfig(hidden_activation=spelled).hidden_activation == name


@FAST
@given(name=st.text(max_size=8).filter(lambda s: s.lower() not in toy.HIDDEN_ACTIVATIONS))
def test_every_other_name_is_refused_with_the_list(name):
    with pytest.raises(ValueError, match=r"hidden_activation must be one of"):
        toy.ToyConfig(hidden_activation=name)


def test_sae_option_of_another_architecture_is_refused_by_name():
    """Old code: ``aux_k`` for a ReLU SAE raised Python's bare "unexpected keyword"."""
    with pytest.raises(TypeError, match=r"\['aux_k'\] do not apply to ReLUSAE.*l1_coefficient"):
        sae.create_sae("relu", 4, 8, aux_k=3)
    with pytest.raises(TypeError, match=r"\['k'\] do not apply to JumpReLUSAE"):
        sae.create_sae("jumprelu", 4, 8, k=2)
    assert sae.create_sae("topk", 4, 8, k=2, aux_k=3).aux_k == 3  # TopK uses it
    assert sae.create_sae("batchtopk", 4, 8, k=2, aux_k=3).aux_k == 3


def test_sae_kind_is_case_insensitive():
    assert isinstance(sae.create_sae("ReLU", 4, 8), sae.ReLUSAE)
    assert isinstance(sae.create_sae("TopK", 4, 8, k=2), sae.TopKSAE)
    with pytest.raises(ValueError, match="kind must be one of"):
        sae.create_sae("relu6", 4, 8)


# --------------------------------------------------------------------------- progress


@pytest.mark.parametrize("bad", ["no", "False", 0, 1, "yes", [], 0.0])
def test_toy_training_refuses_a_progress_that_is_not_a_bool(bad):
    """Old code: ``bool(progress)``, so "no" switched the bar on."""
    model = toy.ToyModel(toy.ToyConfig(n_instances=1), seed=0)
    with pytest.raises(TypeError, match="progress must be True or False"):
        toy.train_toy_model(model, steps=1, progress=bad)


@FAST
@given(bad=st.one_of(st.text(max_size=4), st.integers(), st.floats(allow_nan=False)))
def test_progress_rule_accepts_only_booleans_and_none(bad):
    assert v.check_progress(None, default=True) is True
    assert v.check_progress(np.bool_(False), default=True) is False
    with pytest.raises(TypeError, match="progress must be True or False"):
        v.check_progress(bad, default=False)


def test_every_progress_argument_uses_the_one_rule():
    x = np.random.default_rng(0).standard_normal((30, 3))
    calls = [
        lambda: srmlib.spotlight_resonance(x, resolution=4, progress="no"),
        lambda: stats.rotation_test(x, n_rotations=1, resolution=4, progress="no"),
        lambda: sae.train_sae(sae.create_sae("relu", 3, 4), x, steps=1, progress="no"),
        lambda: toy.train_toy_model(toy.ToyModel(toy.ToyConfig(n_instances=1)), steps=1,
                                    progress="no"),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="progress must be True or False"):
            call()


# --------------------------------------------------------------------------- seeds


@pytest.mark.parametrize("seed, error", [("abc", TypeError), (-5, ValueError), (1.0, TypeError),
                                         (True, TypeError)])
def test_srm_checks_its_seed_even_when_no_plane_subset_is_drawn(seed, error):
    """Old code: without ``max_planes`` the seed was never looked at."""
    for call in (srmlib.spotlight_resonance, srmlib.pppm, srmlib.project):
        with pytest.raises(error, match="seed must be"):
            call(X, seed=seed)


@pytest.mark.parametrize("seed, error", [("abc", TypeError), (-5, ValueError)])
def test_toy_and_sae_seeds_follow_the_rule(seed, error):
    with pytest.raises(error, match="seed must be"):
        toy.ToyModel(toy.ToyConfig(), seed=seed)
    with pytest.raises(error, match="seed must be"):
        sae.create_sae("relu", 3, 4, seed=seed)


@FAST
@given(seed=st.integers(min_value=0, max_value=2**80))
def test_any_non_negative_int_is_a_seed(seed):
    assert v.check_seed(seed) == seed
    assert v.check_seed(np.uint64(seed % 2**64)) == seed % 2**64
    srmlib.spotlight_resonance(X[:, :3], resolution=4, seed=seed)  # accepted


@FAST
@given(seed=st.integers(max_value=-1))
def test_negative_seeds_are_refused(seed):
    with pytest.raises(ValueError, match="seed must be at least 0"):
        v.check_seed(seed)


@FAST
@given(bad=NOT_INTS)
def test_non_integer_seeds_are_refused_with_a_type_error(bad):
    with pytest.raises(TypeError, match="seed must be an integer >= 0"):
        v.check_seed(bad)


def test_none_and_generators_only_where_the_function_takes_them():
    rng = np.random.default_rng(0)
    assert v.check_seed(None, none=True) is None
    assert v.check_seed(rng, generator=True) is rng
    with pytest.raises(TypeError, match="seed must be an integer >= 0; got NoneType"):
        v.check_seed(None)
    with pytest.raises(TypeError, match="or a numpy.random.Generator"):
        v.check_seed("x", none=True, generator=True)


@FAST
@given(seed=st.integers(min_value=0, max_value=2**100))
def test_legacy_seed_keeps_small_seeds_and_maps_large_ones_into_32_bits(seed):
    s = v.legacy_seed(seed)
    assert 0 <= s < 2**32
    if seed < 2**32:
        assert s == seed  # results for every seed accepted before do not change
    assert v.legacy_seed(seed) == s  # reproducible


def test_legacy_seed_is_what_scikit_learn_accepts():
    """Seeds at or above 2**32 were refused by numpy inside scikit-learn's KFold."""
    from sklearn.model_selection import KFold
    with pytest.raises(ValueError):
        list(KFold(3, shuffle=True, random_state=2**40).split(np.zeros(9)))
    folds = list(KFold(3, shuffle=True, random_state=v.legacy_seed(2**40)).split(np.zeros(9)))
    assert len(folds) == 3


# --------------------------------------------------------------------------- real parameters


@pytest.mark.parametrize("epsilon", ["0.5", True, False, b"0.5", ["0.5"], [True, 0.5], None])
def test_isotropic_expectation_refuses_strings_and_booleans(epsilon):
    """Old code: ``np.asarray`` read "0.5" as 0.5 and True as 1."""
    with pytest.raises(TypeError, match="epsilon must be a real number"):
        isotropic_expectation(4, epsilon)


@FAST
@given(bad=st.one_of(st.text(max_size=5), st.booleans(),
                     st.lists(st.booleans(), min_size=1, max_size=3),
                     st.lists(st.text(max_size=3), min_size=1, max_size=3)))
def test_real_array_rule_refuses_text_and_booleans(bad):
    with pytest.raises(TypeError, match="x must be a real number"):
        v.check_real_array(bad, "x")


@FAST
@given(values=st.lists(st.floats(-1, 1), min_size=1, max_size=4))
def test_real_arrays_are_accepted_and_unchanged(values):
    assert np.array_equal(v.check_real_array(values, "x"), np.array(values))
    assert np.asarray(isotropic_expectation(3, values)).shape == (len(values),)


def test_toy_feature_probability_refuses_strings_in_a_sequence():
    with pytest.raises(TypeError, match="feature_probability must be a real number"):
        toy.ToyConfig(n_instances=2, feature_probability=["0.1", "0.2"])
    with pytest.raises(TypeError, match="feature_probability"):
        toy.ToyConfig(n_instances=2, feature_probability=[True, True])


def test_wilson_interval_refuses_strings_for_fractions():
    with pytest.raises(TypeError, match="result must be a real number"):
        stats.wilson_interval(["0.5"], 100)


# --------------------------------------------------------------------------- devices


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "not a device", "meta"])
def test_a_bad_device_is_a_value_error_naming_device(device):
    """Old code: torch's RuntimeError ("Expected one of cpu, cuda, ...")."""
    with pytest.raises(ValueError, match="device"):
        srmlib.spotlight_resonance(X, device=device)
    with pytest.raises(ValueError, match="device"):
        sae.train_sae(sae.create_sae("relu", 4, 4), X, steps=1, device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_is_a_value_error_naming_device():
    """Old code: torch's AssertionError "Torch not compiled with CUDA enabled"."""
    with pytest.raises(ValueError, match="device 'cuda' is not available on this machine"):
        srmlib.spotlight_resonance(X, device="cuda")
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        sae.train_sae(sae.create_sae("relu", 4, 4), X, steps=1, device="cuda")


def test_device_rule_types():
    assert v.check_device("cpu") == torch.device("cpu")
    assert v.check_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(TypeError, match="device must be"):
        v.check_device(1.5)
    with pytest.raises(TypeError, match="device must be"):
        v.check_device(True)


# --------------------------------------------------------------------------- rotation_test


def test_rotation_test_with_one_column_blames_the_activations_not_a_basis():
    """Old code: "basis needs at least 2 vectors" though no basis was passed."""
    with pytest.raises(ValueError, match="activations need at least 2 columns"):
        stats.rotation_test(np.arange(1.0, 11.0)[:, None], n_rotations=1)
    with pytest.raises(ValueError, match="basis needs at least 2 vectors"):  # one was passed
        stats.rotation_test(X, np.eye(4)[:1], n_rotations=1)


# --------------------------------------------------------------------------- every entry point

_X3 = np.random.default_rng(1).standard_normal((20, 3))
SEEDED = {
    "spotlight_resonance": lambda s: srmlib.spotlight_resonance(_X3, resolution=4, seed=s),
    "pppm": lambda s: srmlib.pppm(_X3, seed=s),
    "project": lambda s: srmlib.project(_X3, seed=s),
    "rotation_test": lambda s: stats.rotation_test(_X3, n_rotations=1, resolution=4, seed=s),
    "ToyModel": lambda s: toy.ToyModel(toy.ToyConfig(n_instances=1), seed=s),
    "sample_features": lambda s: toy.sample_features(toy.ToyConfig(n_instances=1), 4, seed=s),
    "train_toy_model": lambda s: toy.train_toy_model(toy.ToyModel(toy.ToyConfig(n_instances=1)),
                                                     steps=1, seed=s),
    "create_sae": lambda s: sae.create_sae("relu", 3, 4, seed=s),
    "train_sae": lambda s: sae.train_sae(sae.create_sae("relu", 3, 4), _X3, steps=1, seed=s),
    "matching_null": lambda s: sae.matching_null(np.eye(3), 3, n_dictionaries=2, seed=s),
    "MLPClassifier": lambda s: srmlib.models.MLPClassifier(3, 4, 2, seed=s),
    "MLPClassifier.rotation_seed": lambda s: srmlib.models.MLPClassifier(3, 4, 2,
                                                                         rotation_seed=s),
}


@pytest.mark.parametrize("entry", sorted(SEEDED))
@settings(max_examples=15, deadline=None)
@given(bad=st.one_of(st.integers(max_value=-1), st.text(max_size=3), st.booleans(),
                     st.floats(allow_nan=True)))
def test_every_seeded_entry_point_refuses_bad_seeds_naming_the_argument(entry, bad):
    with pytest.raises((TypeError, ValueError), match=r"seed must be"):
        SEEDED[entry](bad)


@pytest.mark.parametrize("entry", sorted(SEEDED))
def test_every_seeded_entry_point_takes_a_seed_beyond_32_bits(entry):
    SEEDED[entry](2**40)


@settings(max_examples=100, deadline=None)
@given(name=st.one_of(st.text(max_size=8), st.sampled_from(["cuda", "cuda:0", "cuda:7", "mps",
                                                            "xpu", "meta", "cpu:0", "hip"])))
def test_any_device_name_is_a_device_here_or_a_value_error_naming_device(name):
    try:
        dev = v.check_device(name)
    except ValueError as err:
        assert str(err).startswith(f"device {name!r}")
    else:
        assert dev.type in v._DATA_DEVICES
        torch.empty(1, device=dev)  # and usable
