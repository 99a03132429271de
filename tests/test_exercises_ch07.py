"""Chapter 7's exercise checks reject the mistakes students really make, each with its hint.

The reference solutions are read from the chapter and run by ``tests/test_exercises.py``; this
file holds only wrong answers, most as small changes to those references.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from srmlib import exercises
from srmlib.exercises import ch07
from tests.test_exercises import reference


def _capture(model, layer, inputs, *, evaluate=True, restore=True, remove=True, keep="output",
             flatten=True, no_grad=True, dtype=torch.float32):
    """Chapter 7's reference capture, with one of the common mistakes switched on."""
    kept = []

    def hook(_module, args, output):
        value = output if keep == "output" else args[0]
        kept.append(value.reshape(len(value), -1) if flatten else value)

    handle = dict(model.named_modules())[layer].register_forward_hook(hook)
    was_training = model.training
    if evaluate:
        model.eval()
    with torch.no_grad() if no_grad else torch.enable_grad():
        model(torch.as_tensor(inputs, dtype=dtype))
    if remove:
        handle.remove()
    if restore:
        model.train(was_training)
    return kept[0] if not no_grad else kept[0].numpy()


@pytest.mark.parametrize("mistake, hint", [
    (dict(evaluate=False), "Dropout ran in training mode"),
    (dict(restore=False), "left the model in evaluation mode"),
    (dict(remove=False), "left a forward hook"),
    (dict(keep="input"), "the layer's INPUTS"),
    (dict(flatten=False), "flatten each input's output"),
    (dict(no_grad=False), "requires grad"),
    (dict(dtype=None), "float32"),
])
def test_capture_check_explains_each_mistake(mistake, hint):
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_capture(lambda m, layer, x: _capture(m, layer, x, **mistake))
    assert "fn(model, " in str(info.value)  # names the case


def test_capture_check_explains_numpy_on_a_tensor_that_requires_grad():
    def with_grad(model, layer, inputs):
        return np.asarray(_capture(model, layer, inputs, no_grad=False).numpy())

    with pytest.raises(AssertionError, match=r"raised RuntimeError(.|\n)*torch.no_grad\(\)"):
        exercises.check_capture(with_grad)


def test_capture_check_accepts_the_library_and_tensors():
    from srmlib import models

    exercises.check_capture(lambda m, layer, x: models.capture_activations(m, layer, x).activations)
    exercises.check_capture(lambda m, layer, x: torch.as_tensor(reference("07")["capture"](
        m, layer, x)))


def _positions_first(maps):
    return np.moveaxis(maps, 0, -1).reshape(maps.shape[1], -1).T


@pytest.mark.parametrize("mistake, hint", [
    (lambda maps: maps.reshape(-1, maps.shape[1]), "reshape alone mixes"),
    (lambda maps: np.moveaxis(maps, 1, -1).swapaxes(1, 2).reshape(-1, maps.shape[1])
     if maps.ndim == 4 else np.moveaxis(maps, 1, -1).reshape(-1, maps.shape[1]),
     "column-major"),
    (lambda maps: maps.reshape(len(maps), -1), "whole feature map flattened"),
    (lambda maps: maps.transpose(1, *range(2, maps.ndim), 0).reshape(maps.shape[1], -1).T,
     "position first"),
])
def test_channel_vectors_check_explains_each_mistake(mistake, hint):
    with pytest.raises(AssertionError, match=hint) as info:
        exercises.check_channel_vectors(mistake)
    assert "feature maps of shape" in str(info.value)


@pytest.mark.parametrize("answer, hint", [("a", "independent"), ("c", "random projections")])
def test_convergence_prediction_rejects_each_wrong_choice_with_its_hint(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_convergence_prediction(answer)
    with pytest.raises(AssertionError, match="one of the labels"):
        exercises.check_convergence_prediction(2)
    assert ch07.CONVERGENCE.correct == "b"  # the chapter measures it and asserts this key
