"""Small torch models for the book's chapters, and activation capture from any layer.

Chapter 2 ("SRM in practice: choosing the resolution") captures the hidden layer of a small
classifier trained on scikit-learn's bundled digits and tests whether it is aligned with its
neurons. Chapter 3 ("Activation functions make the privileged basis") trains the same
autoencoder with different activation functions and watches its bottleneck align with the basis
each activation privileges.

===========================  ===========================================================
name                         what it is
===========================  ===========================================================
:func:`capture_activations`  any layer's outputs from any ``torch.nn.Module``, through a
                             forward hook, batched and without gradients
:class:`Captured`            the captured ``(n_inputs, n_units)`` array and input indices
:class:`MLPClassifier`       a one-hidden-layer classifier with a choice of activation
:func:`train_classifier`     seeded minibatch training with Adam and cross-entropy
:class:`MLPAutoencoder`      an MLP autoencoder with a choice of activation and bottleneck width
:func:`train_autoencoder`    seeded training with Adam or SGD and squared error, with optional
                             snapshots of a layer's activations over the epochs
:func:`fit_autoencoder`      build and train one, through the on-disk weight cache
===========================  ===========================================================

Models here are plain ``torch.nn.Module`` subclasses with named submodules (``hidden``,
``activation``, ``readout``), so a layer can be named by a dotted path such as ``"activation"``.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._random import torch_seed
from ._threads import torch_threads
from ._validation import (as_float_tensor, cast_checked, check_choice, check_device,
                          check_int, check_optimiser, check_progress, check_real_in, check_seed,
                          diverged)
from .activations import ACTIVATION_NAMES, make_activation, privileged_basis
from .cache import cached_state

__all__ = [
    "AutoencoderLog",
    "Captured",
    "ClassifierFit",
    "DeepMLP",
    "MLPAutoencoder",
    "MLPClassifier",
    "SmallCNN",
    "TrainingLog",
    "capture_activations",
    "channel_vectors",
    "fit_classifier",
    "fit_autoencoder",
    "train_autoencoder",
    "train_classifier",
]

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
        If ``layer`` names no submodule, is a module that is not part of ``model``, does not
        run exactly once per forward pass, returns no row per input, or gives NaN or inf; if
        ``inputs`` hold NaN/inf, values beyond the model's dtype (float64 ``1e39`` in a
        float32 model), or, for srmlib's own models, rows of the wrong shape.
    TypeError
        If ``model`` is not a module, ``layer`` neither a module nor a string, or the layer
        returns something other than a tensor. An error the model itself raises (a torch
        shape error, for any other model) is raised as it is, with a note giving the inputs'
        shape.

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
    device = check_device(device)
    x = _as_inputs(inputs, dtype, model=model)
    n_inputs = x.shape[0]
    largest = float(x.abs().max())

    outputs: list[torch.Tensor] = []
    unit_shape: list[tuple[int, ...]] = []

    def hook(_module, args, output):
        if isinstance(output, (tuple, list)) and output:
            output = output[0]
        batch = len(args[0]) if args and isinstance(args[0], torch.Tensor) else None
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"layer {name!r} returned {type(output).__name__}, not a tensor; "
                            "capture needs a layer whose output is a tensor (or a tuple whose "
                            "first element is one)")
        if output.ndim == 0 or (batch is not None and output.shape[0] != batch):
            raise ValueError(f"layer {name!r} returned shape {tuple(output.shape)} for a batch "
                             f"of {batch} inputs; capture needs a layer whose output has one "
                             "row per input, shape (batch, ...)")
        if output.is_floating_point() and not bool(torch.isfinite(output).all()):
            raise ValueError(f"layer {name!r} gave NaN or infinite values on finite "
                             f"inputs (largest |input| {largest:.3g}); rescale inputs, or "
                             "capture another layer")
        unit_shape.append(tuple(output.shape[1:]))
        outputs.append(output.detach().reshape(output.shape[0], -1).cpu())

    n_batches = -(-n_inputs // batch_size)
    show = check_progress(progress, default=n_batches > 20)
    was_training = model.training
    handle = module.register_forward_hook(hook)
    try:
        model.eval()
        with torch.no_grad():
            for start in tqdm(range(0, n_inputs, batch_size), desc=f"capture {name}",
                              unit="batch", disable=not show):
                before = len(outputs)
                try:
                    model(x[start : start + batch_size].to(device))
                except Exception as err:
                    # Not ours to re-type (the model may fail for its own reasons), but say
                    # what it was given: torch's shape errors name neither argument.
                    err.add_note(f"capture_activations: model raised while capturing layer "
                                 f"{name!r} on inputs of shape {tuple(x.shape)}; each row of "
                                 "inputs must have the shape model's forward expects")
                    raise
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
    activation : str
        Activation of the hidden layer, a name of :data:`srmlib.activations.ACTIVATION_NAMES`
        built by :func:`srmlib.activations.make_activation` (``"relu"``, ``"tanh"``,
        ``"rotated_relu"``, ``"isotropic_tanh"``, ...). ``"identity"`` gives a linear layer,
        which has no privileged basis.
    seed : int
        Seed of the initial weights, drawn from a stream of their own (the global torch
        generator is left untouched; the same seed given to :func:`train_classifier` shuffles
        from an independent stream).
    rotation_seed : int, optional
        Seed of the rotation of a rotated activation, ``R = srmlib.random_rotation(n_hidden,
        rotation_seed)``. Default: ``seed``.

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
                 activation: str = "relu", seed: int = 0, rotation_seed: int | None = None):
        super().__init__()
        n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
        n_hidden = check_int(n_hidden, "n_hidden", minimum=1)
        n_classes = check_int(n_classes, "n_classes", minimum=2)
        activation = check_choice(activation, "activation", ACTIVATION_NAMES)
        seed = check_seed(seed, "seed")
        rotation_seed = seed if rotation_seed is None else check_seed(
            rotation_seed, "rotation_seed")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(seed, "models.init"))
            self.hidden = nn.Linear(n_inputs, n_hidden)
            self.activation = make_activation(activation, n_hidden, seed=rotation_seed)
            self.readout = nn.Linear(n_hidden, n_classes)
        self.activation_name = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.activation(self.hidden(x)))


class MLPAutoencoder(nn.Module):
    """An MLP autoencoder with the same activation after every hidden layer.

    ``x -> hidden -> act -> bottleneck -> act -> decoder_hidden -> act -> readout``: the widths
    are ``n_inputs -> n_hidden -> n_bottleneck -> n_hidden -> n_inputs``, and the readout is
    linear.

    The weights start Gaussian, ``N(0, 1/fan_in)``, and the biases at 0. Unlike torch's
    default (uniform entries), that distribution is invariant under rotations of every layer,
    so with a rotation-equivariant optimiser (:func:`train_autoencoder` with
    ``optimizer="sgd"``) nothing but the activation function can privilege a basis.

    Parameters
    ----------
    n_inputs, n_hidden, n_bottleneck : int
        Layer widths (``n_hidden``, ``n_bottleneck >= 2``).
    activation : str
        A name of :data:`srmlib.activations.ACTIVATION_NAMES` (``"tanh"``, ``"relu"``,
        ``"leaky_relu"``, ``"identity"``, ``"rotated_tanh"``, ``"isotropic_tanh"``,
        ``"isotropic_relu"``, ...), used in all three activation layers.
    seed : int
        Seed of the initial weights, drawn from a stream of their own (the global torch
        generator is left untouched; the same seed given to :func:`train_autoencoder` shuffles
        from an independent stream).
    rotation_seed : int, optional
        Seed of the rotations of a rotated activation: a layer of width ``d`` uses
        ``R = srmlib.random_rotation(d, rotation_seed)``. Default: ``seed``.
    radius : float
        Dead-ball radius of ``"isotropic_relu"``.

    Attributes
    ----------
    hidden_activation, bottleneck_activation, decoder_activation : torch.nn.Module
        The activation layers; capture ``"bottleneck_activation"`` for the code and
        ``"hidden_activation"`` for the encoder's hidden layer.
    """

    def __init__(self, n_inputs: int, n_hidden: int, n_bottleneck: int, *,
                 activation: str = "tanh", seed: int = 0, rotation_seed: int | None = None,
                 radius: float = 0.5):
        super().__init__()
        n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
        n_hidden = check_int(n_hidden, "n_hidden", minimum=2)
        n_bottleneck = check_int(n_bottleneck, "n_bottleneck", minimum=2)
        activation = check_choice(activation, "activation", ACTIVATION_NAMES)
        seed = check_seed(seed, "seed")
        rotation_seed = seed if rotation_seed is None else check_seed(
            rotation_seed, "rotation_seed")

        def act(width):
            return make_activation(activation, width, seed=rotation_seed, radius=radius)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(seed, "models.init"))
            self.hidden = nn.Linear(n_inputs, n_hidden)
            self.hidden_activation = act(n_hidden)
            self.bottleneck = nn.Linear(n_hidden, n_bottleneck)
            self.bottleneck_activation = act(n_bottleneck)
            self.decoder_hidden = nn.Linear(n_bottleneck, n_hidden)
            self.decoder_activation = act(n_hidden)
            self.readout = nn.Linear(n_hidden, n_inputs)
            for linear in (self.hidden, self.bottleneck, self.decoder_hidden, self.readout):
                nn.init.normal_(linear.weight, std=linear.in_features ** -0.5)
                nn.init.zeros_(linear.bias)
        self.activation_name = activation
        self.rotation_seed = rotation_seed

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code, ``(batch, n_bottleneck)``."""
        return self.bottleneck_activation(self.bottleneck(self.hidden_activation(self.hidden(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.decoder_activation(self.decoder_hidden(self.encode(x))))

    def privileged_basis(self, layer: str = "bottleneck_activation") -> np.ndarray | None:
        """The basis the activation of ``layer`` privileges (``None``: no basis); see
        :func:`srmlib.activations.privileged_basis`."""
        name, module = _resolve_layer(self, layer)
        width = {"hidden_activation": self.hidden.out_features,
                 "bottleneck_activation": self.bottleneck.out_features,
                 "decoder_activation": self.decoder_hidden.out_features}
        if name not in width:
            raise ValueError(f"layer must be one of {tuple(width)}, got {name!r}")
        return privileged_basis(module, width[name])


@dataclass(frozen=True)
class AutoencoderLog:
    """What :func:`train_autoencoder` records.

    Attributes
    ----------
    losses : ndarray, shape (epochs,)
        Mean squared error per input coordinate, averaged over each epoch's minibatches.
    train_loss : float
        Mean squared error on all training inputs after training.
    test_loss : float or None
        The same on the held-out inputs, if given.
    snapshot_epochs : ndarray of int, shape (S,)
        Epochs after which ``snapshots`` were taken (0: before training).
    snapshots : ndarray, shape (S, n_snapshot_inputs, n_units) or None
        The activations of ``snapshot_layer`` at each of those epochs.
    snapshot_layer : str or None
    """

    losses: np.ndarray
    train_loss: float
    test_loss: float | None
    snapshot_epochs: np.ndarray
    snapshots: np.ndarray | None
    snapshot_layer: str | None


def train_autoencoder(
    model: nn.Module,
    inputs,
    *,
    epochs: int = 100,
    batch_size: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    optimizer: str = "adam",
    momentum: float = 0.9,
    seed: int = 0,
    test=None,
    snapshot_epochs=None,
    snapshot_layer: str = "bottleneck_activation",
    snapshot_inputs=None,
    progress: bool | None = None,
    num_threads: int | None = 1,
) -> AutoencoderLog:
    """Train an autoencoder in place, on squared error and seeded minibatches.

    Deterministic for a seed, as :func:`train_classifier` is. With ``snapshot_epochs`` the
    activations of ``snapshot_layer`` are captured (:func:`capture_activations`) before training
    (epoch 0, if listed) and after each listed epoch, to watch the representation form.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(batch, n_features)`` to ``(batch, n_features)``.
    inputs : array_like, shape (n, n_features)
        Training inputs (also the targets).
    epochs, batch_size : int
    lr, weight_decay : float
        Learning rate and L2 weight decay.
    optimizer : {"adam", "sgd"}
        Adam, or stochastic gradient descent with ``momentum``. SGD's update of a weight matrix
        turns with the matrix (it is equivariant under rotations of a layer); Adam's, which
        rescales every weight by its own running gradient size, is not, and can privilege the
        standard basis by itself.
    momentum : float
        SGD's momentum, in ``[0, 1)``.
    seed : int
        Seed of the shuffling (a stream of its own, independent of the model's initial weights
        even when they were drawn with the same seed).
    test : array_like, shape (m, n_features), optional
        Held-out inputs on which to report the loss.
    snapshot_epochs : sequence of int, optional
        Epochs ``0 .. epochs`` after which to capture ``snapshot_layer``.
    snapshot_layer : str
        Dotted name of the layer to capture.
    snapshot_inputs : array_like, optional
        Inputs to capture on; default ``inputs``.
    progress : bool, optional
        Progress bar over epochs; by default for more than 200 epochs.
    num_threads : int or None
        Torch's intra-op threads while training; ``None`` keeps torch's setting.

    Returns
    -------
    AutoencoderLog
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr, weight_decay = check_optimiser(lr, weight_decay)
    optimizer = check_choice(optimizer, "optimizer", ("adam", "sgd"))
    momentum = check_real_in(momentum, "momentum", 0, 1, high_open=True)
    seed = check_seed(seed, "seed")
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    show = check_progress(progress, default=epochs > 200)
    dtype = next(model.parameters()).dtype
    x = _as_inputs(inputs, dtype, model=model)
    held_out = None if test is None else _as_inputs(test, dtype, "test", model=model)
    when = _snapshot_epochs(snapshot_epochs, epochs)
    if len(when):
        _resolve_layer(model, snapshot_layer)
    on = x if snapshot_inputs is None else _as_inputs(snapshot_inputs, dtype,
                                                      "snapshot_inputs", model=model)
    snapshots: list[np.ndarray] = []

    def snapshot(epoch):
        if epoch in when:
            snapshots.append(_capture_quietly(model, snapshot_layer, on))

    with torch_threads(num_threads):
        snapshot(0)
        losses = _train(model, x, x, nn.MSELoss(), epochs=epochs, batch_size=batch_size,
                        lr=lr, weight_decay=weight_decay, seed=seed, progress=show,
                        after_epoch=snapshot, momentum=momentum if optimizer == "sgd" else None,
                        fused=_fused(model))
        train_loss = _reconstruction_error(model, x)
        if not math.isfinite(train_loss):  # the last step overshot to weights of ~1e38
            raise diverged(epochs * -(-len(x) // batch_size), lr, "training", "inputs",
                           largest=float(x.abs().max()))
        test_loss = None if held_out is None else _reconstruction_error(model, held_out)
    return AutoencoderLog(
        losses=np.array(losses), train_loss=train_loss, test_loss=test_loss,
        snapshot_epochs=np.array(sorted(when), dtype=np.int64),
        snapshots=np.stack(snapshots) if snapshots else None,
        snapshot_layer=snapshot_layer if snapshots else None,
    )


def fit_autoencoder(
    inputs,
    activation: str,
    *,
    n_hidden: int = 32,
    n_bottleneck: int = 6,
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-2,
    optimizer: str = "adam",
    momentum: float = 0.9,
    seed: int = 0,
    test=None,
    snapshot_epochs=None,
    snapshot_layer: str = "hidden_activation",
    snapshot_inputs=None,
    cache: bool = False,
    cache_dir=None,
) -> tuple[MLPAutoencoder, AutoencoderLog, bool]:
    """Build an :class:`MLPAutoencoder` and train it with :func:`train_autoencoder`, loading
    the result from the weight cache (:func:`srmlib.cache.cached_state`) when it is there.

    The cache key holds every argument and a SHA-256 of ``inputs`` (and of ``test`` and
    ``snapshot_inputs``), so a cached model is the one this call would train: the same
    weights, bit for bit (chapter 3 checks it).

    Parameters
    ----------
    inputs : array_like, shape (n, n_features)
        Training inputs (also the targets).
    activation : str
        A name of :data:`srmlib.activations.ACTIVATION_NAMES`.
    n_hidden, n_bottleneck, epochs, batch_size : int
    lr : float
        Learning rate.
    optimizer : {"adam", "sgd"}
        Adam, or SGD with ``momentum`` (rotation-equivariant; see :func:`train_autoencoder`).
    momentum : float
        SGD's momentum (not used by Adam).
    seed : int
        Seed of the initial weights and, from an independent stream, of the minibatches.
    test : array_like, shape (m, n_features), optional
        Held-out inputs; their reconstruction error is ``log.test_loss``.
    snapshot_epochs, snapshot_layer, snapshot_inputs
        As for :func:`train_autoencoder`.
    cache : bool
        Use the on-disk cache; ``False`` trains and touches no file.
    cache_dir : path, optional
        See :func:`srmlib.cache.default_cache_dir`.

    Returns
    -------
    model : MLPAutoencoder
        Trained, in evaluation mode.
    log : AutoencoderLog
    hit : bool
        Whether it came from the cache.
    """
    dtype = torch.get_default_dtype()
    x = _as_inputs(inputs, dtype)
    if x.ndim != 2:  # an MLP autoencoder reads flat rows
        raise ValueError(f"inputs must be 2-D, (n, n_features), got shape {tuple(x.shape)}")
    optimizer = check_choice(optimizer, "optimizer", ("adam", "sgd"))
    held_out = None if test is None else _as_inputs(test, dtype, "test")
    on = (None if snapshot_inputs is None
          else _as_inputs(snapshot_inputs, dtype, "snapshot_inputs"))
    when = None if snapshot_epochs is None else [int(e) for e in snapshot_epochs]
    params = dict(model="MLPAutoencoder", n_inputs=int(x[0].numel()), n_hidden=n_hidden,
                  n_bottleneck=n_bottleneck, activation=activation, epochs=epochs,
                  batch_size=batch_size, lr=lr, seed=seed, snapshot_epochs=when,
                  snapshot_layer=snapshot_layer, dtype=str(dtype),
                  optimizer="adam (fused)" if optimizer == "adam" else f"sgd (fused), momentum {momentum}",
                  streams="purpose-keyed", data=_digest(x), test=_digest(held_out),
                  snapshot_inputs=_digest(on))
    model = MLPAutoencoder(params["n_inputs"], n_hidden, n_bottleneck, activation=activation,
                           seed=seed)

    def train():
        log = train_autoencoder(model, x, epochs=epochs, batch_size=batch_size, lr=lr,
                                optimizer=optimizer, momentum=momentum, seed=seed,
                                test=held_out, snapshot_epochs=when,
                                snapshot_layer=snapshot_layer, snapshot_inputs=on)
        return {"model": model.state_dict(), "losses": torch.from_numpy(log.losses),
                "train_loss": log.train_loss, "test_loss": log.test_loss,
                "snapshot_epochs": torch.from_numpy(log.snapshot_epochs),
                "snapshots": None if log.snapshots is None else torch.from_numpy(log.snapshots)}

    entry = cached_state(params, train, cache_dir=cache_dir, enabled=cache, name="autoencoder")
    state = entry.state
    model.load_state_dict(state["model"])
    model.eval()
    snapshots = state["snapshots"]
    test_loss = state["test_loss"]
    log = AutoencoderLog(
        losses=state["losses"].numpy(), train_loss=float(state["train_loss"]),
        test_loss=None if test_loss is None else float(test_loss),
        snapshot_epochs=state["snapshot_epochs"].numpy(),
        snapshots=None if snapshots is None else snapshots.numpy(),
        snapshot_layer=snapshot_layer if snapshots is not None else None)
    return model, log, entry.hit


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
        Seed of the shuffling (a stream of its own, independent of the model's initial weights
        even when they were drawn with the same seed).
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
    lr, weight_decay = check_optimiser(lr, weight_decay)
    seed = check_seed(seed, "seed")
    if num_threads is not None:
        num_threads = check_int(num_threads, "num_threads", minimum=1)
    dtype = next(model.parameters()).dtype
    x = _as_inputs(inputs, dtype, model=model)
    y = _as_labels(labels, len(x), "labels")
    if test is not None:
        if not isinstance(test, (tuple, list)) or len(test) != 2:
            raise TypeError(f"test must be a pair (inputs, labels), got {type(test).__name__}")
        test_x, test_y = test
        test_x = _as_inputs(test_x, dtype, "test inputs", model=model)
        test_y = _as_labels(test_y, len(test_x), "test labels")
    with torch_threads(num_threads):
        losses = _train(model, x, y, nn.CrossEntropyLoss(), epochs=epochs,
                        batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed,
                        progress=check_progress(progress, default=False))
    test_accuracy = None if test is None else _accuracy(model, test_x, test_y)
    return TrainingLog(losses=np.array(losses), train_accuracy=_accuracy(model, x, y),
                       test_accuracy=test_accuracy)


# --------------------------------------------------------------------------- internals


def _train(model, x, y, loss_fn, *, epochs, batch_size, lr, weight_decay, seed, progress,
           after_epoch=None, momentum=None, fused=None) -> list[float]:
    """Adam (or SGD with ``momentum`` when given) on seeded minibatches; ``after_epoch(epoch)``
    is called after each epoch (1, 2, ...). ``fused=True`` uses torch's fused Adam or SGD kernel (a
    third less time per step for small models; the same algorithm, rounded differently)."""
    generator = torch.Generator().manual_seed(torch_seed(seed, "models.minibatches"))
    if momentum is None:
        optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay,
                                     fused=fused)
    else:
        optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                                    weight_decay=weight_decay, fused=fused)
    losses = []
    model.train()
    step = 0
    for epoch in tqdm(range(1, epochs + 1), desc="training", unit="epoch",
                      disable=not progress):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
            step += 1
            value = float(loss.detach())
            if not math.isfinite(value):
                raise diverged(step, lr, "training", "inputs", largest=float(x.abs().max()))
            total += value * len(batch)
        losses.append(total / len(x))
        if after_epoch is not None:
            after_epoch(epoch)
            model.train()
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):  # the last step
        raise diverged(step, lr, "training", "inputs", largest=float(x.abs().max()))
    model.eval()
    return losses


def _digest(x: torch.Tensor | None) -> str | None:
    """SHA-256 of a tensor's shape and bytes (a cache key's fingerprint of data), or None."""
    if x is None:
        return None
    digest = hashlib.sha256(str(tuple(x.shape)).encode())
    digest.update(x.contiguous().numpy().tobytes())
    return digest.hexdigest()


def _fused(model: nn.Module) -> bool | None:
    """Fused Adam or SGD for a model whose parameters are all floating tensors on the CPU."""
    return True if all(p.device.type == "cpu" and p.is_floating_point()
                       for p in model.parameters()) else None


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


def _as_inputs(inputs, dtype, name: str = "inputs", *, model: nn.Module | None = None
               ) -> torch.Tensor:
    """``inputs`` (one input per row, any shape after the first axis) as a finite tensor of
    the model's ``dtype``; values that the cast would overflow are refused, not made inf. With
    ``model``, rows must have the width of srmlib's own models (:func:`_check_fits`)."""
    x = inputs.detach() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
    shape = tuple(x.shape)
    if len(shape) < 2:
        raise ValueError(f"{name} must have one input per row (at least 2-D), got shape {shape}")
    if math.prod(shape) == 0:
        raise ValueError(f"{name} is empty (shape {shape})")
    flat = as_float_tensor(x.reshape(shape[0], -1), name, ndim=2).reshape(shape)
    if model is not None:
        _check_fits(model, flat, name)
    return cast_checked(flat, dtype, name)


def _check_fits(model: nn.Module, x: torch.Tensor, name: str = "inputs") -> None:
    """For srmlib's own models, whose input width is known: ``x`` holds rows of that width.

    Without this a 3-D ``x`` would pass through a dense layer (torch applies it to the last
    axis) and give activations of the wrong shape instead of an error.
    """
    first = {MLPClassifier: "hidden", MLPAutoencoder: "hidden", DeepMLP: "fc1"}.get(type(model))
    if first is not None:
        allowed = [(getattr(model, first).in_features,)]
    elif isinstance(model, SmallCNN):  # its first layer reshapes flat rows to images
        shape = model.input_shape
        allowed = [(math.prod(shape),), shape, (1, *shape)]
    else:
        return
    if tuple(x.shape[1:]) not in allowed:
        raise ValueError(f"{name} must have shape (n, {allowed[0][0]}) for this "
                         f"{type(model).__name__} (one flat input per row), got shape "
                         f"{tuple(x.shape)}")


def _as_labels(labels, n: int, name: str) -> torch.Tensor:
    y = np.asarray(labels)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be {n} integer class indices, got shape {y.shape} and "
                         f"dtype {y.dtype}")
    return torch.as_tensor(y, dtype=torch.long)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def _snapshot_epochs(snapshot_epochs, epochs: int) -> set[int]:
    if snapshot_epochs is None:
        return set()
    when = np.asarray(snapshot_epochs)
    if when.ndim != 1 or not np.issubdtype(when.dtype, np.integer):
        raise TypeError("snapshot_epochs must be a sequence of integers")
    if np.any((when < 0) | (when > epochs)):
        raise ValueError(f"snapshot_epochs must lie in 0 .. epochs={epochs}, got "
                         f"{when.tolist()}")
    return {int(e) for e in when}


def _capture_quietly(model: nn.Module, layer: str, x: torch.Tensor) -> np.ndarray:
    return capture_activations(model, layer, x, batch_size=len(x), progress=False).activations


def _reconstruction_error(model: nn.Module, x: torch.Tensor) -> float:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        error = float(nn.functional.mse_loss(model(x), x))
    model.train(was_training)
    return error


# --------------------------------------------------------------------------- chapter 7


class _Reshape(nn.Module):
    """Rows of flattened inputs back to ``(batch, 1, *shape)``, for a convolution."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], 1, *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class DeepMLP(nn.Module):
    """An MLP classifier with ReLU hidden layers named ``act1``, ``act2``, ...

    ``x -> fc1 -> act1 -> fc2 -> act2 -> ... -> readout``. Chapter 7 ("Real networks") trains
    several per task and compares them layer by layer.

    Parameters
    ----------
    n_inputs : int
        Input features (pixels of a flattened image).
    hidden : sequence of int
        Width of each hidden layer, from the input up.
    n_classes : int
        Classes (logits of the readout).
    seed : int
        Seed of the initial weights (a stream of their own; the global generator is untouched).

    Attributes
    ----------
    layers : tuple of str
        Names of the hidden layers' ReLUs in depth order (``("act1", "act2")``): what
        :func:`capture_activations` captures.
    """

    def __init__(self, n_inputs: int, hidden=(64, 32), n_classes: int = 10, *, seed: int = 0):
        super().__init__()
        n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
        hidden = _check_widths(hidden, "hidden")
        n_classes = check_int(n_classes, "n_classes", minimum=2)
        seed = check_seed(seed, "seed")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(seed, "models.init"))
            width = n_inputs
            for depth, out in enumerate(hidden, start=1):
                self.add_module(f"fc{depth}", nn.Linear(width, out))
                self.add_module(f"act{depth}", nn.ReLU())
                width = out
            self.readout = nn.Linear(width, n_classes)
        self.layers = tuple(f"act{depth}" for depth in range(1, len(hidden) + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for depth in range(1, len(self.layers) + 1):
            x = getattr(self, f"act{depth}")(getattr(self, f"fc{depth}")(x))
        return self.readout(x)


class SmallCNN(nn.Module):
    """A small convolutional classifier for 1-D signals or 2-D images given as flat rows.

    ``reshape -> conv1 -> act1 -> pool -> conv2 -> act2 -> pool -> flatten -> fc -> act3 ->
    readout``: two convolutions of ``channels`` filters (kernel ``kernel_size``, "same" padding),
    each followed by a ReLU and a max-pool of 2, then one dense ReLU layer of ``n_hidden``.
    Inputs arrive flattened, ``(batch, prod(input_shape))``, as for :class:`DeepMLP`, so the two
    architectures train and capture the same way. Chapter 7 ("Real networks") uses it.

    Parameters
    ----------
    input_shape : tuple of int
        ``(length,)`` for 1-D signals (``Conv1d``) or ``(height, width)`` for images
        (``Conv2d``); each side at least 4.
    n_classes : int
    channels : (int, int)
        Filters of the two convolutions.
    n_hidden : int
        Width of the dense layer.
    kernel_size : int
        Odd kernel size of both convolutions.
    seed : int
        Seed of the initial weights (a stream of their own).

    Attributes
    ----------
    layers : tuple of str
        ``("act1", "act2", "act3")``: the ReLUs after each convolution and after the dense
        layer. A convolutional layer's output is ``(channels, *positions)``; its neurons are
        the channels (see :func:`channel_vectors`).
    """

    def __init__(self, input_shape, n_classes: int = 10, *, channels=(8, 16), n_hidden: int = 32,
                 kernel_size: int = 3, seed: int = 0):
        super().__init__()
        if isinstance(input_shape, Integral):
            input_shape = (input_shape,)
        input_shape = tuple(check_int(s, "input_shape", minimum=4) for s in input_shape)
        if len(input_shape) not in (1, 2):
            raise ValueError(f"input_shape must be (length,) or (height, width), got "
                             f"{input_shape}")
        n_classes = check_int(n_classes, "n_classes", minimum=2)
        channels = _check_widths(channels, "channels")
        if len(channels) != 2:
            raise ValueError(f"channels must give the filters of 2 convolutions, got {channels}")
        n_hidden = check_int(n_hidden, "n_hidden", minimum=1)
        kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        seed = check_seed(seed, "seed")
        conv = nn.Conv1d if len(input_shape) == 1 else nn.Conv2d
        pool = nn.MaxPool1d if len(input_shape) == 1 else nn.MaxPool2d
        pooled = tuple(s // 4 for s in input_shape)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(seed, "models.init"))
            self.reshape = _Reshape(input_shape)
            self.conv1 = conv(1, channels[0], kernel_size, padding=kernel_size // 2)
            self.act1 = nn.ReLU()
            self.pool1 = pool(2)
            self.conv2 = conv(channels[0], channels[1], kernel_size, padding=kernel_size // 2)
            self.act2 = nn.ReLU()
            self.pool2 = pool(2)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(channels[1] * int(np.prod(pooled)), n_hidden)
            self.act3 = nn.ReLU()
            self.readout = nn.Linear(n_hidden, n_classes)
        self.input_shape = input_shape
        self.layers = ("act1", "act2", "act3")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.act1(self.conv1(self.reshape(x))))
        x = self.pool2(self.act2(self.conv2(x)))
        return self.readout(self.act3(self.fc(self.flatten(x))))


def channel_vectors(captured: Captured) -> tuple[np.ndarray, np.ndarray]:
    """A convolutional layer's channel vector at every position, one sample per row.

    A convolution applies the same filters at every position, so its neurons are its channels:
    the privileged basis SRM asks about is the channel basis, and the activation at one position
    of one input is a vector with one coordinate per channel. A dense layer (``shape`` of one
    dimension) is returned as it is, one sample per input.

    Parameters
    ----------
    captured : Captured
        From :func:`capture_activations`, with ``shape = (channels, *positions)``.

    Returns
    -------
    samples : ndarray, shape (n_inputs * n_positions, channels)
        Row ``i * n_positions + p`` is input ``i`` at position ``p`` (row-major positions).
    inputs : ndarray of int, shape (n_inputs * n_positions,)
        The input each row comes from (for error bars over inputs, which are independent;
        positions of one input are not).
    """
    if not isinstance(captured, Captured):
        raise TypeError(f"captured must be a Captured, got {type(captured).__name__}")
    x = captured.activations
    if len(captured.shape) == 1:
        return x, np.asarray(captured.indices)
    channels = captured.shape[0]
    positions = int(np.prod(captured.shape[1:]))
    samples = x.reshape(len(x), channels, positions).transpose(0, 2, 1).reshape(-1, channels)
    return np.ascontiguousarray(samples), np.repeat(np.asarray(captured.indices), positions)


@dataclass(frozen=True)
class ClassifierFit:
    """What :func:`fit_classifier` returns besides the model.

    Attributes
    ----------
    losses : ndarray, shape (epochs,)
    train_accuracy, test_accuracy : float
    snapshot_epochs : ndarray of int, shape (S,)
        Epochs after which the snapshots were taken (0: before training).
    snapshots : dict of str to ndarray, shape (S, n_snapshot_inputs, n_units)
        Each snapshot layer's activations at those epochs (empty without snapshots).
    hit : bool
        Whether the weights came from the cache.
    """

    losses: np.ndarray
    train_accuracy: float
    test_accuracy: float
    snapshot_epochs: np.ndarray
    snapshots: dict
    hit: bool


def fit_classifier(
    model: nn.Module,
    inputs,
    labels,
    test,
    *,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    snapshot_epochs=None,
    snapshot_layers=(),
    snapshot_inputs=None,
    cache: bool = False,
    cache_dir=None,
) -> ClassifierFit:
    """Train ``model`` in place with :func:`train_classifier`, through the weight cache.

    The cache key (:func:`srmlib.cache.cached_state`) holds the model's class, its initial
    weights (a SHA-256 of them), every training argument and SHA-256s of the data, so a cached
    model is the one this call would train. Training runs on the model's device (CUDA when the
    model is there); the snapshots are taken with :func:`capture_activations` after each epoch
    listed in ``snapshot_epochs`` (0: before training), to watch a layer form.

    Parameters
    ----------
    model : torch.nn.Module
        A freshly built classifier, ``(batch, n_features) -> (batch, n_classes)``.
    inputs : array_like, shape (n, n_features)
    labels : array_like of int, shape (n,)
    test : (inputs, labels)
        Held-out data for ``test_accuracy``.
    epochs, batch_size : int
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the minibatches (the model's own seed set its initial weights).
    snapshot_epochs : sequence of int, optional
        Epochs in ``0 .. epochs``.
    snapshot_layers : sequence of str
        Dotted names of the layers to capture.
    snapshot_inputs : array_like, optional
        Inputs to capture on; default ``inputs``.
    cache : bool
        Use the on-disk cache; ``False`` trains and touches no file.
    cache_dir : path, optional

    Returns
    -------
    ClassifierFit
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    parameter = next(model.parameters())
    dtype, device = parameter.dtype, parameter.device
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_real_in(lr, "lr", 0, low_open=True)
    seed = check_seed(seed, "seed")
    x = _as_inputs(inputs, dtype, model=model)
    y = _as_labels(labels, len(x), "labels")
    test_x, test_y = test
    test_x = _as_inputs(test_x, dtype, "test inputs", model=model)
    test_y = _as_labels(test_y, len(test_x), "test labels")
    when = _snapshot_epochs(snapshot_epochs, epochs)
    layers = [_resolve_layer(model, layer)[0] for layer in snapshot_layers]
    on = x if snapshot_inputs is None else _as_inputs(snapshot_inputs, dtype,
                                                      "snapshot_inputs", model=model)
    initial = hashlib.sha256()
    for name, value in model.state_dict().items():
        initial.update(name.encode())
        initial.update(value.detach().cpu().contiguous().numpy().tobytes())
    params = dict(model=type(model).__name__, structure=repr(model),
                  initial=initial.hexdigest(), epochs=epochs, batch_size=batch_size, lr=lr,
                  seed=seed, dtype=str(dtype), data=_digest(x), labels=_digest(y),
                  test=_digest(test_x), test_labels=_digest(test_y),
                  snapshot_epochs=sorted(when), snapshot_layers=layers,
                  snapshot_inputs=_digest(on) if when and layers else None)

    def train():
        snapshots = {layer: [] for layer in layers}

        def snapshot(epoch):
            if epoch in when:
                for layer in layers:
                    snapshots[layer].append(torch.from_numpy(_capture_quietly(
                        model, layer, on.to(device))))

        snapshot(0)
        x_dev, y_dev = x.to(device), y.to(device)
        losses = _train(model, x_dev, y_dev, nn.CrossEntropyLoss(), epochs=epochs,
                        batch_size=batch_size, lr=lr, weight_decay=0.0, seed=seed,
                        progress=False, after_epoch=snapshot, fused=_fused(model))
        return {"model": model.state_dict(), "losses": torch.tensor(losses),
                "snapshots": {layer: torch.stack(s) for layer, s in snapshots.items() if s}}

    with torch_threads(1):
        entry = cached_state(params, train, cache_dir=cache_dir, enabled=cache, name="classifier")
    model.load_state_dict(entry.state["model"])
    model.eval()
    return ClassifierFit(
        losses=entry.state["losses"].numpy(),
        train_accuracy=_accuracy(model, x.to(device), y.to(device)),
        test_accuracy=_accuracy(model, test_x.to(device), test_y.to(device)),
        snapshot_epochs=np.array(sorted(when), dtype=np.int64),
        snapshots={layer: s.numpy() for layer, s in entry.state["snapshots"].items()},
        hit=entry.hit)


def _check_widths(widths, name: str) -> tuple[int, ...]:
    if isinstance(widths, Integral):
        widths = (widths,)
    try:
        widths = tuple(widths)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of positive ints, got {widths!r}") from None
    if not widths:
        raise ValueError(f"{name} must name at least one layer")
    return tuple(check_int(w, name, minimum=1) for w in widths)
