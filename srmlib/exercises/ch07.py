"""Exercises of chapter 7, "Real networks".

:func:`check_capture`, :func:`check_channel_vectors` and the predict-first question
:func:`check_convergence_prediction` (its key, :data:`CONVERGENCE`, is measured in the chapter).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .._random import stream, torch_seed
from ..models import Captured, capture_activations, channel_vectors
from ._checks import Prediction, as_array, check_callable, fail, hint


def _result(value, where: str, shape: tuple) -> np.ndarray:
    """The learner's array as float64, with a hint for a tensor that still tracks gradients."""
    if isinstance(value, torch.Tensor):
        if value.requires_grad:
            raise AssertionError(f"{where} returned a tensor that requires grad. Hint: capture "
                                 "under torch.no_grad() (or keep output.detach()): activations "
                                 "are data, and a graph kept for every batch wastes memory")
        value = value.cpu().numpy()
    return as_array(value, where, shape)


def _call(fn: Callable, where: str, *args):
    """Call the learner's function; an exception becomes an AssertionError with a hint."""
    try:
        return fn(*args)
    except AssertionError:
        raise
    except Exception as err:  # noqa: BLE001 - reported to the learner, with a hint
        text = f"{where} raised {type(err).__name__}: {err}"
        if "requires grad" in str(err):
            text += ("\n  hint: run the forward pass under torch.no_grad(): activations are "
                     "data, and no graph should be built for them")
        elif "dtype" in str(err) or "Double" in str(err):
            text += ("\n  hint: the inputs are float64 numpy arrays and the model's weights are "
                     "float32: convert with torch.as_tensor(inputs, dtype=torch.float32)")
        raise AssertionError(text) from None


def _mlp(seed: int) -> nn.Sequential:
    with torch.random.fork_rng():  # the weights' own stream; the global one is left as it was
        torch.manual_seed(torch_seed(seed, "exercises.capture.mlp"))
        return nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Dropout(0.5), nn.Linear(9, 4),
                             nn.ReLU(), nn.Linear(4, 3))


def _cnn(seed: int) -> nn.Sequential:
    with torch.random.fork_rng():
        torch.manual_seed(torch_seed(seed, "exercises.capture.cnn"))
        return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(12, 2))


def check_capture(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(model, layer, inputs)``: one layer's outputs, captured with a forward hook.

    The reference is ``srmlib.models.capture_activations(model, layer, inputs).activations``:
    the model runs in evaluation mode (its own mode restored afterwards) without gradients, a
    forward hook on the submodule named ``layer`` keeps its output, each input's output is
    flattened to one row (row-major: a convolution's ``(channels, height, width)`` becomes one
    unit per channel and position), and the hook is removed at the end.

    Parameters
    ----------
    fn : callable
        ``fn(model, layer, inputs)`` with a ``torch.nn.Module``, the dotted name of one of its
        submodules (as in ``model.named_modules()``) and a float64 numpy array of inputs, one
        per row; returns an array (or tensor) of shape ``(n_inputs, n_units)``.
    seed : int
        Seed of the models' weights and of the inputs.

    Raises
    ------
    AssertionError
        On the first wrong capture, naming the model and layer and, for common mistakes, what
        went wrong.
    """
    check_callable(fn, "fn")
    rng = stream(seed, "exercises.capture.inputs")
    mlp, cnn = _mlp(seed), _cnn(seed)
    vectors, images = rng.standard_normal((40, 6)), rng.standard_normal((5, 1, 6, 6))
    cases = [  # (name, model, layer, inputs, the model's mode when fn is called)
        ("an MLP in evaluation mode, its first ReLU", mlp, "1", vectors, False),
        ("an MLP in evaluation mode, its second ReLU", mlp, "4", vectors, False),
        ("an MLP left in TRAINING mode, the Dropout after its first ReLU", mlp, "2", vectors,
         True),
        ("a CNN, the ReLU after its convolution (3 channels, 4 x 4 positions)", cnn, "1", images,
         False),
    ]
    for name, model, layer, inputs, was_training in cases:
        model.train(was_training)
        expected = capture_activations(model, layer, inputs).activations.astype(np.float64)
        where = f"fn(model, {layer!r}, inputs of shape {inputs.shape}) [{name}]"
        value = _call(fn, where, model, layer, inputs.copy())
        module = dict(model.named_modules())
        left = [key for key, m in module.items() if m._forward_hooks]
        if left:
            raise AssertionError(f"{where} left a forward hook on the module {left[0]!r}. Hint: "
                                 "keep the handle that register_forward_hook returns and call "
                                 "handle.remove() when the capture ends (in a finally: block, "
                                 "so that it goes even when the forward pass raises)")
        if np.ndim(value) > 2 and len(value) == len(inputs):
            raise AssertionError(f"{where} returned shape {tuple(np.shape(value))}, expected "
                                 f"shape {expected.shape}. Hint: flatten each input's output "
                                 "to one row, output.reshape(len(output), -1)")
        got = _result(value, where, expected.shape)
        if model.training != was_training:
            raise AssertionError(f"{where} left the model in "
                                 f"{'training' if model.training else 'evaluation'} mode. Hint: "
                                 "remember model.training before calling model.eval() and "
                                 "restore it afterwards (model.train(was_training))")
        if np.allclose(got, expected, rtol=1e-5, atol=1e-6):
            continue
        with torch.no_grad():
            was = model.training
            model.eval()
            received = _layer_input(model, layer, torch.as_tensor(inputs, dtype=torch.float32))
            model.train(was)
        message = hint(got, [(received, "these are the layer's INPUTS: the hook is called as "
                                        "hook(module, inputs, output); keep its third "
                                        "argument")], atol=1e-6)
        if message is None and np.mean(got == 0) > np.mean(expected == 0) + 0.1:
            message = ("some outputs were zeroed and the others doubled: the Dropout ran in "
                       "training mode. Call model.eval() before the forward pass (and restore "
                       "the model's mode afterwards)")
        row = int(np.argmax(np.any(~np.isclose(got, expected, rtol=1e-5, atol=1e-6), axis=1)))
        fail(f"{where}, input {row}", expected[row], got[row], message)
    print(f"check_capture passed: {len(cases)} captures (dense and convolutional layers, a model "
          "left in training mode with Dropout; no hook left behind, the mode restored).")


def _layer_input(model: nn.Module, layer: str, x: torch.Tensor) -> np.ndarray:
    """What ``layer`` receives (the hint's candidate for 'kept the input, not the output')."""
    kept = []
    handle = dict(model.named_modules())[layer].register_forward_hook(
        lambda _m, args, _out: kept.append(args[0].reshape(len(args[0]), -1)))
    try:
        model(x)
    finally:
        handle.remove()
    return kept[0].double().numpy()


def check_channel_vectors(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(feature_maps)``: a convolutional layer's channel vector at every position.

    ``feature_maps`` has shape ``(n_inputs, channels, *positions)`` (one or two spatial
    dimensions); the answer has one row per input and position, ``n_inputs * n_positions``
    rows of ``channels`` values, row ``i * n_positions + p`` being input ``i`` at position
    ``p`` (positions in row-major order). The reference is :func:`srmlib.models.channel_vectors`.

    Parameters
    ----------
    fn : callable
        ``fn(feature_maps)`` with a float array; returns an array of shape
        ``(n_inputs * n_positions, channels)``.
    seed : int
        Seed of the random feature maps.

    Raises
    ------
    AssertionError
        On the first wrong answer, naming the case and, for common mistakes, what went wrong.
    """
    check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    cases = [
        ("2 images, 3 channels, 4 x 5 positions", rng.standard_normal((2, 3, 4, 5))),
        ("3 signals, 4 channels, 7 positions (a 1-D convolution)",
         rng.standard_normal((3, 4, 7))),
        ("1 image, 2 channels, 3 x 3 positions", rng.standard_normal((1, 2, 3, 3))),
    ]
    for name, maps in cases:
        n, channels, shape = len(maps), maps.shape[1], maps.shape[1:]
        captured = Captured(maps.reshape(n, -1), np.arange(n), "layer", shape)
        expected = channel_vectors(captured)[0]
        where = f"fn(feature maps of shape {maps.shape}) [{name}]"
        value = _call(fn, where, maps.copy())
        got_shape = np.shape(value)
        if got_shape == (n, int(np.prod(shape))):
            raise AssertionError(f"{where} returned shape {got_shape}, expected "
                                 f"{expected.shape}. Hint: this is the whole feature map "
                                 "flattened, one row per input; a sample is one input at one "
                                 "position, with one coordinate per channel")
        got = _result(value, where, expected.shape)
        if np.allclose(got, expected, rtol=0, atol=1e-12):
            continue
        hints = [
            (maps.reshape(-1, channels), "reshape alone mixes channels and positions: move the "
                                         "channel axis last first, maps.transpose(0, 2, 3, 1) "
                                         "(or moveaxis(maps, 1, -1)), then reshape(-1, channels)"),
            (maps.transpose(0, 3, 2, 1).reshape(-1, channels) if maps.ndim == 4 else
             np.full(expected.shape, np.nan),
             "the positions are in column-major order: keep height before width "
             "(transpose(0, 2, 3, 1), not (0, 3, 2, 1))"),
            (np.moveaxis(maps, 0, -1).reshape(channels, -1).T if maps.ndim > 2 else
             np.full(expected.shape, np.nan),
             "the rows are ordered position first: row i * n_positions + p must be input i at "
             "position p (move the channel axis last, keep the input axis first)"),
        ]
        row = int(np.argmax(np.any(~np.isclose(got, expected, rtol=0, atol=1e-12), axis=1)))
        message = hint(got, hints, atol=1e-12)
        fail(f"{where}, row {row}", expected[row], got[row], message)
    print(f"check_channel_vectors passed: {len(cases)} cases (2-D and 1-D feature maps, one and "
          "several inputs).")


#: Chapter 7's predict-first question; the chapter measures the outcome and asserts the key.
CONVERGENCE = Prediction(
    "check_convergence_prediction",
    {"a": "the untrained pair: two networks drawn from the same random initialisation "
          "agree more before training pulls them apart",
     "b": "the trained pair: training on the same task makes the two networks' neurons agree",
     "c": "about the same: each target neuron takes its best partner among 32 either way"},
    correct="b",
    why=("Training from different seeds drives both networks towards units that respond to "
         "the same inputs (convergent learning): each neuron of one trained network has a "
         "close partner in the other, which random weights do not give."),
    hints={
        "a": "two random initialisations are independent: their neurons are unrelated random "
             "projections of the input, and nothing makes neuron k of one resemble any neuron "
             "of the other",
        "c": "a best partner among 32 helps little when the units are random projections; "
             "training is what makes units respond to the same things (classes, strokes)",
    },
)


def check_convergence_prediction(answer: str) -> None:
    """Check a prediction: do two networks' neurons match better before or after training?

    Chapter 7 asks, before measuring it: "which pair of MLPs has the higher Neuron->Neuron
    semi-matching at the last hidden layer, two trained from different seeds, or the same two
    before training?" The key, :data:`CONVERGENCE`, is asserted against the measurement in the
    chapter.

    Parameters
    ----------
    answer : str
        One of the labels ``"a"``, ``"b"``, ``"c"``.

    Raises
    ------
    AssertionError
        If the answer is not a label, or is wrong (with a hint on what it overlooks).
    """
    CONVERGENCE.check(answer)
