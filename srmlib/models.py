"""Small torch models for the book's chapters, and activation capture from any layer.

Chapter 2 ("SRM in practice: choosing the resolution") captures the hidden layer of a small
classifier trained on scikit-learn's bundled digits and tests whether it is aligned with its
neurons.

=========================  ===========================================================
name                       what it is
=========================  ===========================================================
:func:`capture_activations`  any layer's outputs from any ``torch.nn.Module``, through a
                           forward hook, batched and without gradients
:class:`Captured`          the captured ``(n_inputs, n_units)`` array and input indices
:class:`MLPClassifier`     a one-hidden-layer classifier with a choice of activation
:func:`train_classifier`   seeded minibatch training with Adam and cross-entropy
=========================  ===========================================================

Models here are plain ``torch.nn.Module`` subclasses with named submodules (``hidden``,
``activation``, ``readout``), so a layer can be named by a dotted path such as ``"activation"``.
New model families (autoencoders, for instance) belong here next to these, each with its own
constructor and training function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._threads import torch_threads
from ._validation import as_float_tensor, check_choice, check_int, check_real

__all__ = [
    "ACTIVATIONS",
    "Captured",
    "MLPClassifier",
    "TrainingLog",
    "capture_activations",
    "train_classifier",
]

#: Elementwise activations available to :class:`MLPClassifier`, by name.
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "identity": nn.Identity}


@dataclass(frozen=True)
class Captured:
    """Activations of one layer, one row per input.

    Attributes
    ----------
    activations : ndarray, shape (n_inputs, n_units)
        The layer's outputs, flattened to one row per input (see :func:`capture_activations`).
    indices : ndarray of int, shape (n_inputs,)
        Row of ``inputs`` each activation row comes from (``0 .. n_inputs - 1`` in order).
    layer : str
        Dotted name of the layer in the model.
    shape : tuple of int
        Shape of one input's output before flattening (``(n_units,)`` for a linear layer).
    """

    activations: np.ndarray
    indices: np.ndarray
    layer: str
    shape: tuple[int, ...]


def capture_activations(
    model: nn.Module,
    layer,
    inputs,
    *,
    batch_size: int = 256,
    device=None,
    progress: bool | None = None,
) -> Captured:
    """Run ``inputs`` through ``model`` and keep the outputs of ``layer``, via a forward hook.

    The model is run in evaluation mode (restored afterwards) under ``torch.no_grad()``, in
    batches of ``batch_size`` inputs. The hook is removed when the capture ends, also when the
    forward pass raises.

    A layer's output of shape ``(batch, *shape)`` is flattened to ``(batch, prod(shape))`` in
    row-major (C) order: a convolution's ``(channels, height, width)`` becomes one unit per
    channel and position. A layer that returns a tuple (as recurrent layers do) contributes its
    first element.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; it is called as ``model(batch)``.
    layer : torch.nn.Module or str
        A submodule of ``model``, or its dotted name as in ``model.named_modules()``
        (``"features.3"``, ``"activation"``).
    inputs : array_like or torch.Tensor, shape (n_inputs, ...)
        One input per row; converted to a floating tensor of the model's parameter dtype.
    batch_size : int
        Inputs per forward pass.
    device : str or torch.device, optional
        Where to run; default the device of the model's first parameter (CPU if none).
    progress : bool, optional
        Show a progress bar over batches; by default only for more than 20 batches.

    Returns
    -------
    Captured
        ``activations`` of shape ``(n_inputs, n_units)`` as a float numpy array, with the input
        ``indices``.

    Raises
    ------
    ValueError
        If ``layer`` names no submodule, is a module that is not part of ``model``, or does not
        run exactly once per forward pass.
    TypeError
        If ``model`` is not a module or ``layer`` neither a module nor a string.

    Examples
    --------
    >>> model = MLPClassifier(4, 3, 2, seed=0)
    >>> captured = capture_activations(model, "activation", np.zeros((5, 4)))
    >>> captured.activations.shape, captured.indices.tolist()
    ((5, 3), [0, 1, 2, 3, 4])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    name, module = _resolve_layer(model, layer)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    if device is None:
        device = parameter.device if parameter is not None else torch.device("cpu")
    x = _as_inputs(inputs, dtype)
    n_inputs = x.shape[0]

    outputs: list[torch.Tensor] = []
    unit_shape: list[tuple[int, ...]] = []

    def hook(_module, _args, output):
        if isinstance(output, (tuple, list)):
            output = output[0]
        unit_shape.append(tuple(output.shape[1:]))
        outputs.append(output.detach().reshape(output.shape[0], -1).cpu())

    n_batches = -(-n_inputs // batch_size)
    show = n_batches > 20 if progress is None else bool(progress)
    was_training = model.training
    handle = module.register_forward_hook(hook)
    try:
        model.eval()
        with torch.no_grad():
            for start in tqdm(range(0, n_inputs, batch_size), desc=f"capture {name}",
                              unit="batch", disable=not show):
                before = len(outputs)
                model(x[start : start + batch_size].to(device))
                if len(outputs) != before + 1:
                    raise ValueError(
                        f"layer {name!r} ran {len(outputs) - before} times in one forward pass; "
                        "capture needs a layer that runs exactly once per call"
                    )
    finally:
        handle.remove()
        model.train(was_training)
    return Captured(activations=torch.cat(outputs).numpy(), indices=np.arange(n_inputs),
                    layer=name, shape=unit_shape[0])


class MLPClassifier(nn.Module):
    """``readout(activation(hidden(x)))``: one hidden layer of ``n_hidden`` neurons.

    Parameters
    ----------
    n_inputs, n_hidden, n_classes : int
        Layer sizes.
    activation : {"relu", "tanh", "identity"}
        Elementwise activation of the hidden layer. ``"identity"`` gives a linear layer, which
        has no privileged basis.
    seed : int
        Seed for the initial weights (``torch.manual_seed`` semantics, but without touching the
        global generator).

    Attributes
    ----------
    hidden : torch.nn.Linear
        Pre-activations of the hidden layer.
    activation : torch.nn.Module
        The elementwise activation; capture ``"activation"`` for the hidden layer's outputs.
    readout : torch.nn.Linear
        Class logits.
    """

    def __init__(self, n_inputs: int, n_hidden: int, n_classes: int, *,
                 activation: str = "relu", seed: int = 0):
        super().__init__()
        n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
        n_hidden = check_int(n_hidden, "n_hidden", minimum=1)
        n_classes = check_int(n_classes, "n_classes", minimum=2)
        activation = check_choice(activation, "activation", tuple(ACTIVATIONS))
        seed = check_int(seed, "seed", minimum=0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.hidden = nn.Linear(n_inputs, n_hidden)
            self.activation = ACTIVATIONS[activation]()
            self.readout = nn.Linear(n_hidden, n_classes)
        self.activation_name = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.activation(self.hidden(x)))


@dataclass(frozen=True)
class TrainingLog:
    """Loss per epoch and final accuracies of :func:`train_classifier`."""

    losses: np.ndarray
    train_accuracy: float
    test_accuracy: float | None


def train_classifier(
    model: nn.Module,
    inputs,
    labels,
    *,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-2,
    weight_decay: float = 0.0,
    seed: int = 0,
    test=None,
    progress: bool = False,
    num_threads: int | None = 1,
) -> TrainingLog:
    """Train a classifier in place with Adam and cross-entropy on seeded minibatches.

    The shuffling uses its own ``torch.Generator`` seeded with ``seed``, and the global torch
    generator is left untouched, so the same model, data and seed give the same weights. (On
    the CPU torch's kernels are deterministic for these layers.)

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(batch, n_features)`` inputs to ``(batch, n_classes)`` logits.
    inputs : array_like, shape (n, n_features)
        Training inputs.
    labels : array_like of int, shape (n,)
        Class indices ``0 .. n_classes - 1``.
    epochs, batch_size : int
        Passes over the data, and inputs per step.
    lr, weight_decay : float
        Adam's learning rate and L2 weight decay.
    seed : int
        Seed of the shuffling.
    test : (inputs, labels), optional
        Held-out data on which to report the accuracy.
    progress : bool
        Show a progress bar over epochs.
    num_threads : int or None
        Torch's intra-op threads while training (restored afterwards). The default, 1, is the
        fastest for small models, whose operations are too small to share out; ``None`` keeps
        torch's setting.

    Returns
    -------
    TrainingLog
        Mean loss per epoch, and the accuracies after training.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_real(lr, "lr")
    weight_decay = check_real(weight_decay, "weight_decay")
    if lr <= 0 or weight_decay < 0:
        raise ValueError(f"lr must be positive and weight_decay non-negative, got {lr}, "
                         f"{weight_decay}")
    seed = check_int(seed, "seed", minimum=0)
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    dtype = next(model.parameters()).dtype
    x = _as_inputs(inputs, dtype)
    y = _as_labels(labels, len(x), "labels")
    with torch_threads(num_threads):
        losses = _train(model, x, y, epochs, batch_size, lr, weight_decay, seed, progress)
    test_accuracy = None
    if test is not None:
        test_x, test_y = test
        test_x = _as_inputs(test_x, dtype)
        test_accuracy = _accuracy(model, test_x, _as_labels(test_y, len(test_x), "test labels"))
    return TrainingLog(losses=np.array(losses), train_accuracy=_accuracy(model, x, y),
                       test_accuracy=test_accuracy)


# --------------------------------------------------------------------------- internals


def _train(model, x, y, epochs, batch_size, lr, weight_decay, seed, progress) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    for _ in tqdm(range(epochs), desc="training", unit="epoch", disable=not progress):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        losses.append(total / len(x))
    model.eval()
    return losses


def _resolve_layer(model: nn.Module, layer) -> tuple[str, nn.Module]:
    if isinstance(layer, str):
        modules = dict(model.named_modules())
        if layer not in modules:
            names = [n for n in modules if n]
            raise ValueError(f"layer {layer!r} is not a submodule of the model; its layers are "
                             f"{names}")
        return layer, modules[layer]
    if isinstance(layer, nn.Module):
        for name, module in model.named_modules():
            if module is layer:
                return name, module
        raise ValueError("layer is a module that is not part of model")
    raise TypeError(f"layer must be a torch.nn.Module or its dotted name, got "
                    f"{type(layer).__name__}")


def _as_inputs(inputs, dtype) -> torch.Tensor:
    if isinstance(inputs, torch.Tensor):
        x = inputs.detach()
        if x.ndim < 2:
            raise ValueError(f"inputs must have one input per row (at least 2-D), got shape "
                             f"{tuple(x.shape)}")
        x = as_float_tensor(x.reshape(x.shape[0], -1), "inputs", ndim=2).reshape(x.shape)
    else:
        arr = np.asarray(inputs)
        if arr.ndim < 2:
            raise ValueError(f"inputs must have one input per row (at least 2-D), got shape "
                             f"{arr.shape}")
        x = as_float_tensor(arr.reshape(arr.shape[0], -1), "inputs", ndim=2).reshape(arr.shape)
    return x.to(dtype)


def _as_labels(labels, n: int, name: str) -> torch.Tensor:
    y = np.asarray(labels)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be {n} integer class indices, got shape {y.shape} and "
                         f"dtype {y.dtype}")
    return torch.as_tensor(y, dtype=torch.long)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())
