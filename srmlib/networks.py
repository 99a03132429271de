"""Real trained networks: the experiments of chapter 7 ("Real networks").

Chapter 7 carries the book's methods from toy models to small networks trained here on real
data: scikit-learn's handwritten digits, MNIST-1D and (through a parameter) your own MNIST
files. This module holds the experiment's steps, each a short function the chapter calls:

=========================  ===========================================================
name                       what it does
=========================  ===========================================================
:func:`load_task`          a task's training and held-out data (digits, mnist1d, mnist)
:func:`build_network`      an MLP or a small CNN for a task
:func:`train_networks`     several seeds of one architecture, trained through the cache,
                           each with its untrained twin (the same initial weights)
:func:`layer_samples`      one layer's samples: an input for a dense layer, an input at a
                           position for a convolutional one (its channel vector there)
:func:`layer_alignment`    the SRM verdict of one layer over seeds: the alignment statistic
                           against the rotation null and against the untrained network
:func:`spotlight`          the inputs inside a direction's spotlight cone
:func:`class_selectivity`  how class-pure the inputs nearest each direction are
:func:`layer_saes`         a TopK SAE of a layer and an untrained SAE of the same shape
:func:`pair_scores`        LKK's DNN->DNN comparison of two networks' layers, through neurons,
                           SAE latents and random-SAE latents
:func:`select_atoms`       a rule for choosing SAE atoms as a basis, usable on any network
=========================  ===========================================================

References
----------
Bird, J. (2025). The Spotlight Resonance Method. arXiv:2505.13471.
Longon, A., Klindt, D. & Khosla, M. (2025). Superposition disentanglement of neural
representations reveals hidden alignment. arXiv:2510.03186.
Greydanus, S. (2020). Scaling down deep learning (MNIST-1D). arXiv:2011.14439.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import data as _data
from . import metrics as _metrics
from . import models as _models
from . import sae as _sae
from . import stats as _stats
from ._random import stream, torch_seed
from ._threads import torch_threads
from ._validation import (as_float_tensor, cast_checked, check_choice, check_int, check_real_in,
                          check_seed)
from .alignment import PairedDifference, paired_difference
from .srm import epsilon_for_isotropic_fraction

__all__ = [
    "ARCHITECTURES",
    "COMPARISONS",
    "TASKS",
    "LayerAlignment",
    "Task",
    "TrainedNetwork",
    "build_network",
    "class_selectivity",
    "encode",
    "layer_alignment",
    "layer_saes",
    "layer_samples",
    "load_task",
    "pair_scores",
    "select_atoms",
    "spotlight",
    "train_networks",
]

#: Tasks :func:`load_task` knows.
TASKS = ("digits", "mnist1d", "mnist")
#: Architectures :func:`build_network` builds.
ARCHITECTURES = ("mlp", "cnn")
#: What :func:`pair_scores` compares, source -> target (network A's representation predicts B's).
COMPARISONS = ("Neuron->Neuron", "SAE->SAE", "RandomSAE->RandomSAE")


@dataclass(frozen=True)
class Task:
    """A classification task: training and held-out data, and the shape of one input.

    Attributes
    ----------
    name : str
    train, test : srmlib.data.ImageData
    input_shape : tuple of int
        ``(height, width)`` for images, ``(length,)`` for 1-D signals: what a CNN convolves.
    """

    name: str
    train: _data.ImageData
    test: _data.ImageData
    input_shape: tuple[int, ...]


def load_task(name: str, *, mnist_path=None, mnist_limit: int | None = None,
              seed: int = 0) -> Task:
    """Training and held-out data of one task; nothing is downloaded.

    Parameters
    ----------
    name : {"digits", "mnist1d", "mnist"}
        ``"digits"``: scikit-learn's 1797 8x8 digits, split 1400 / 397 at random (``seed``).
        ``"mnist1d"``: the MNIST-1D data set of the paper (:func:`srmlib.data.load_mnist1d`:
        4000 / 1000 signals of 40 samples). ``"mnist"``: your own MNIST files
        (:func:`srmlib.data.load_mnist`), a keras-layout ``.npz`` with both splits or the IDX
        training images (then the last sixth is held out).
    mnist_path : path, optional
        The MNIST file, for ``"mnist"``.
    mnist_limit : int, optional
        Keep the first ``mnist_limit`` images of each split (for a CPU).
    seed : int
        Seed of the digits' split.

    Returns
    -------
    Task
    """
    name = check_choice(name, "name", TASKS)
    seed = check_seed(seed, "seed")
    if name == "digits":
        digits = _data.load_digits()
        order = stream(seed, "networks.split").permutation(len(digits))
        train, test = (_subset(digits, order[:1400]), _subset(digits, order[1400:]))
        return Task(name, train, test, digits.image_shape)
    if name == "mnist1d":
        train, test = _data.load_mnist1d()
        return Task(name, train, test, (train.image_shape[1],))
    if mnist_path is None:
        raise ValueError("mnist_path is needed for the task 'mnist' (a local file; nothing is "
                         "downloaded)")
    train = _data.load_mnist(mnist_path, split="train", limit=mnist_limit)
    try:
        test = _data.load_mnist(mnist_path, split="test", limit=mnist_limit)
        same = test.images.shape == train.images.shape and np.array_equal(test.images,
                                                                          train.images)
    except (ValueError, FileNotFoundError):
        test, same = None, True
    if test is None or same:  # one split only: hold out its last sixth
        cut = len(train) - max(1, len(train) // 6)
        train, test = _subset(train, np.arange(cut)), _subset(train, np.arange(cut, len(train)))
    return Task(name, train, test, train.image_shape)


def build_network(arch: str, task: Task, *, seed: int = 0) -> nn.Module:
    """An MLP (:class:`srmlib.models.DeepMLP`, hidden widths 64 and 32) or a small CNN
    (:class:`srmlib.models.SmallCNN`: 8 and 16 channels, a dense layer of 32; kernel 3 for
    images, 5 for 1-D signals) for ``task``, with initial weights from ``seed``."""
    arch = check_choice(arch, "arch", ARCHITECTURES)
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task, got {type(task).__name__}")
    n_classes = int(max(task.train.labels.max(), task.test.labels.max())) + 1
    if arch == "mlp":
        return _models.DeepMLP(task.train.images.shape[1], (64, 32), n_classes, seed=seed)
    return _models.SmallCNN(task.input_shape, n_classes, channels=(8, 16), n_hidden=32,
                            kernel_size=3 if len(task.input_shape) == 2 else 5, seed=seed)


@dataclass
class TrainedNetwork:
    """One trained network, its untrained twin and how it trained.

    Attributes
    ----------
    arch : str
    index : int
        Its place among the networks of :func:`train_networks` (pairs are ``2q, 2q + 1``).
    seed : int
        Seed of its initial weights and, from another stream, of its minibatches.
    model, untrained : torch.nn.Module
        The trained network, and the same network before its first step.
    fit : srmlib.models.ClassifierFit
    """

    arch: str
    index: int
    seed: int
    model: nn.Module
    untrained: nn.Module
    fit: _models.ClassifierFit


def train_networks(task: Task, arch: str, n_networks: int, *, seed: int = 0, epochs: int = 20,
                   batch_size: int = 64, lr: float = 3e-3, snapshot_epochs=None,
                   snapshot_layers=(), snapshot_inputs=None, device=None, cache: bool = False,
                   cache_dir=None) -> list[TrainedNetwork]:
    """``n_networks`` networks of one architecture, each from its own seed.

    Network ``i`` takes the seed ``torch_seed(seed, "networks.<arch>", i) % 2**31`` for its
    initial weights and its minibatches (independent streams of that seed), so the networks
    differ in both. Training goes through :func:`srmlib.models.fit_classifier` (and its cache)
    on ``device`` (default CUDA when present).

    Returns
    -------
    list of TrainedNetwork
    """
    arch = check_choice(arch, "arch", ARCHITECTURES)
    n_networks = check_int(n_networks, "n_networks", minimum=1)
    seed = check_seed(seed, "seed")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    networks = []
    for i in range(n_networks):
        own = torch_seed(seed, f"networks.{arch}", i) % 2**31
        model = build_network(arch, task, seed=own).to(device)
        untrained = copy.deepcopy(model).eval()
        fit = _models.fit_classifier(
            model, task.train.images, task.train.labels, (task.test.images, task.test.labels),
            epochs=epochs, batch_size=batch_size, lr=lr, seed=own,
            snapshot_epochs=snapshot_epochs, snapshot_layers=snapshot_layers,
            snapshot_inputs=snapshot_inputs, cache=cache, cache_dir=cache_dir)
        networks.append(TrainedNetwork(arch, i, own, model, untrained, fit))
    return networks


def layer_samples(model: nn.Module, layer: str, inputs) -> tuple[np.ndarray, np.ndarray]:
    """One layer's samples: ``(samples, input index)``.

    A dense layer gives one sample per input. A convolutional layer gives one sample per input
    *and position*: the vector of its channels there (:func:`srmlib.models.channel_vectors`),
    because its neurons are its channels (the same filter everywhere), so the basis SRM asks
    about is the channel basis. The input index says where each sample comes from: samples of
    one input are not independent, inputs are.

    Returns
    -------
    samples : ndarray of float64, shape (n_samples, n_units)
    inputs : ndarray of int, shape (n_samples,)
    """
    captured = _models.capture_activations(model, layer, inputs, batch_size=4096,
                                           progress=False)
    samples, index = _models.channel_vectors(captured)
    return samples.astype(np.float64), index


@dataclass(frozen=True)
class LayerAlignment:
    """The SRM verdict of one layer over several networks (:func:`layer_alignment`).

    Attributes
    ----------
    layer : str
    n_units : int
    epsilon : float
        Cosine of the cone half-angle (isotropic fraction ``fraction`` in ``n_units`` dims).
    trained, untrained : ndarray, shape (n_networks,)
        The alignment statistic (:func:`srmlib.stats.axis_alignment`: 1 for isotropic data and
        for the positive orthant alone, above 1 near the neuron axes, below 1 away from them).
    null_mean, null_low, null_high : ndarray, shape (n_networks,)
        Mean, smallest and largest statistic over each trained network's randomly rotated
        bases.
    p_values : ndarray, shape (n_networks,)
        Rotation-test p-value of each trained network (one-sided, "more aligned").
    excess : srmlib.alignment.PairedDifference
        ``trained - null_mean`` over networks: how much more aligned the neurons are than a
        random basis, networks being the independent units.
    change : srmlib.alignment.PairedDifference
        ``trained - untrained`` over networks.
    verdict : str
        ``"aligned"`` / ``"anti-aligned"`` (the one-sided 95% bound of ``excess`` over
        networks is above / below 0) or ``"not distinguished"``, followed by what training
        did: ``"training raised it"`` / ``"training lowered it"`` (the same for ``change``)
        or ``"no change shown"``.
    """

    layer: str
    n_units: int
    epsilon: float
    trained: np.ndarray
    untrained: np.ndarray
    null_mean: np.ndarray
    null_low: np.ndarray
    null_high: np.ndarray
    p_values: np.ndarray
    excess: PairedDifference
    change: PairedDifference
    verdict: str

    @property
    def against_null(self) -> str:
        """``"aligned"``, ``"anti-aligned"`` or ``"not distinguished"``."""
        return self.verdict.split(";")[0]

    @property
    def by_training(self) -> str:
        """``"training raised it"``, ``"training lowered it"`` or ``"no change shown"``."""
        return self.verdict.split("; ")[1]


def layer_alignment(networks, layer: str, inputs, *, fraction: float = 0.1,
                    n_rotations: int = 19, max_samples: int = 2000,
                    seed: int = 0) -> LayerAlignment:
    """Is ``layer`` aligned with its neurons, against the rotation null and the untrained net?

    For each network the layer's samples on ``inputs`` (:func:`layer_samples`; zero rows, which
    have no direction, left out; at most ``max_samples``, drawn at random) are scored by the
    orthant-neutral alignment statistic at the cone that holds ``fraction`` of isotropic
    directions, in the neuron basis and in ``n_rotations`` random rotations of it
    (:func:`srmlib.stats.rotation_test`), and the same for the untrained network on the same
    inputs. Networks are the independent units of the change.

    Parameters
    ----------
    networks : sequence of TrainedNetwork
        At least 2, of one architecture.
    layer : str
    inputs : array_like, shape (n_inputs, n_features)
    fraction : float
        Isotropic fraction of the cone, in ``(0, 0.5)``.
    n_rotations : int
    max_samples : int
    seed : int
        Seed of the subsampling and the rotations.

    Returns
    -------
    LayerAlignment
    """
    if len(networks) < 2:
        raise ValueError(f"networks must hold at least 2 networks, got {len(networks)}")
    fraction = check_real_in(fraction, "fraction", 0, 0.5, low_open=True, high_open=True)
    n_rotations = check_int(n_rotations, "n_rotations", minimum=1)
    max_samples = check_int(max_samples, "max_samples", minimum=10)
    rows = {}
    trained, untrained, mean, low, high, p = [], [], [], [], [], []
    for net in networks:
        for state, model in (("trained", net.model), ("untrained", net.untrained)):
            x, _ = layer_samples(model, layer, inputs)
            x = x[np.any(x != 0, axis=1)]
            if len(x) > max_samples:
                pick = stream(seed, "networks.layer_alignment", net.index)
                x = x[np.sort(pick.choice(len(x), max_samples, replace=False))]
            rows[state] = x
        n_units = rows["trained"].shape[1]
        epsilon = epsilon_for_isotropic_fraction(n_units, fraction)
        test = _stats.rotation_test(rows["trained"], statistic="alignment", epsilon=epsilon,
                                    n_rotations=n_rotations, seed=seed)
        trained.append(test.observed)
        untrained.append(_stats.axis_alignment(rows["untrained"], epsilon=epsilon).value)
        mean.append(test.null.mean())
        low.append(test.null.min())
        high.append(test.null.max())
        p.append(test.p_value)
    trained, untrained = np.array(trained), np.array(untrained)
    mean, low, high, p = np.array(mean), np.array(low), np.array(high), np.array(p)
    excess = paired_difference(trained, mean)
    change = paired_difference(trained, untrained)
    against = ("aligned" if excess.lower > 0 else
               "anti-aligned" if excess.upper < 0 else "not distinguished")
    by_training = ("training raised it" if change.lower > 0 else
                   "training lowered it" if change.upper < 0 else "no change shown")
    return LayerAlignment(layer=layer, n_units=n_units, epsilon=epsilon, trained=trained,
                          untrained=untrained, null_mean=mean, null_low=low, null_high=high,
                          p_values=p, excess=excess, change=change,
                          verdict=f"{against}; {by_training}")


def spotlight(activations, direction, *, epsilon: float) -> np.ndarray:
    """Rows of ``activations`` inside the spotlight cone of ``direction``, nearest first.

    A row is inside when its cosine with ``direction`` is at least ``epsilon`` (the cone of
    half-angle ``arccos(epsilon)`` that SRM counts). Zero rows have no direction and are never
    inside.

    Parameters
    ----------
    activations : array_like, shape (n, d)
    direction : array_like, shape (d,)
    epsilon : float
        In ``[-1, 1]``.

    Returns
    -------
    ndarray of int
        Row indices, by decreasing cosine.
    """
    cosines = _cosines(activations, np.asarray(direction, dtype=np.float64)[None, :])[:, 0]
    epsilon = check_real_in(epsilon, "epsilon", -1, 1)
    inside = np.flatnonzero(cosines >= epsilon)
    return inside[np.argsort(-cosines[inside], kind="stable")]


def class_selectivity(activations, labels, directions, *, n_nearest: int = 20) -> np.ndarray:
    """Class purity of each direction's ``n_nearest`` inputs (by cosine).

    For each direction the ``n_nearest`` rows with the largest cosine to it are its spotlight,
    narrowed (or widened) to hold the same number of inputs for every direction, so that a
    sparsely visited direction is not purer by chance alone. Its selectivity is the fraction of
    them in their most common class: 1 for a "grandmother" direction that sees one class only,
    about ``1 / n_classes`` for one that sees all alike.

    Parameters
    ----------
    activations : array_like, shape (n, d)
    labels : array_like of int, shape (n,)
    directions : array_like, shape (k, d)
    n_nearest : int

    Returns
    -------
    ndarray, shape (k,)
    """
    labels = np.asarray(labels)
    cosines = _cosines(activations, directions)
    n_nearest = check_int(n_nearest, "n_nearest", minimum=1)
    if labels.shape != (cosines.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {cosines.shape[0]} integers, got shape {labels.shape}")
    if n_nearest > len(labels):
        raise ValueError(f"n_nearest must be at most the {len(labels)} inputs, got {n_nearest}")
    nearest = np.argsort(-cosines, axis=0, kind="stable")[:n_nearest]  # (n_nearest, k)
    classes = labels[nearest]
    counts = np.stack([np.bincount(column, minlength=labels.max() + 1) for column in classes.T])
    return counts.max(axis=1) / n_nearest


def layer_saes(samples, *, n_latents: int, k: int, steps: int = 1000, batch_size: int = 256,
               lr: float = 3e-3, seed: int = 0):
    """A TopK SAE trained on a layer's samples, and an untrained one of the same shape.

    The untrained SAE (random unit atoms, its encoder their transpose, ``b_dec`` at the data's
    mean like the trained one's start) is LKK's control: a sparse code of the same size that
    learned nothing about the layer.

    Returns
    -------
    trained, random : srmlib.sae.SparseAutoencoder
    """
    samples = _float32(samples, "samples")
    n_inputs = samples.shape[1]
    trained = _sae.TopKSAE(n_inputs, n_latents, k=k, seed=torch_seed(seed, "networks.sae"))
    _sae.train_sae(trained, samples, steps=steps, batch_size=batch_size, lr=lr,
                   seed=torch_seed(seed, "networks.sae_training"), progress=False)
    random = _sae.TopKSAE(n_inputs, n_latents, k=k, seed=torch_seed(seed, "networks.random_sae"))
    with torch.no_grad():
        random.b_dec.copy_(torch.as_tensor(samples.mean(axis=0)))
    return trained, random


def encode(sae, samples) -> np.ndarray:
    """An SAE's latents of ``samples``, float64 numpy ``(n, n_latents)``."""
    with torch.no_grad(), torch_threads(1):
        z = sae.encode(torch.from_numpy(_float32(samples, "samples", sae)))
    return z.numpy().astype(np.float64)


def pair_scores(a: dict, b: dict, *, metrics=("semi-matching", "linear predictivity"),
                comparisons=COMPARISONS, n_folds: int = 5, seed: int = 0) -> dict:
    """LKK's DNN->DNN comparison of one layer of two networks on the same stimuli.

    Parameters
    ----------
    a, b : dict of str to ndarray, shape (n_stimuli, n_units)
        Each network's representations by name (``"Neuron"``, ``"SAE"``, ``"RandomSAE"``),
        row ``i`` of every one the same stimulus.
    metrics : sequence of str
        Names in :data:`srmlib.metrics.METRICS`.
    comparisons : sequence of str
        ``"source->target"``: network A's ``source`` predicts network B's ``target``.
    n_folds : int
        Folds of the cross-validated metrics.
    seed : int
        Seed of the folds.

    Returns
    -------
    dict of (str, str) to float
        ``(comparison, metric) -> score``.
    """
    scores = {}
    for comparison in comparisons:
        source, target = comparison.split("->")
        for metric in metrics:
            options = ({"n_folds": n_folds, "seed": seed}
                       if metric in ("semi-matching", "soft-matching", "linear predictivity")
                       else {})
            scores[comparison, metric] = _metrics.compare(a[source], b[target], metric,
                                                          **options).mean
    return scores


def select_atoms(sae, samples, n_atoms: int, *, max_cosine: float = 0.9) -> np.ndarray:
    """Choose ``n_atoms`` of an SAE's atoms as a basis, by a rule any network allows.

    The rule needs no ground truth: rank the atoms by how often their latent fires on
    ``samples`` (dead ones never qualify), and walk down the ranking keeping an atom unless its
    ``|cosine|`` with one already kept exceeds ``max_cosine`` (a near-duplicate). Fewer than
    ``n_atoms`` come back when fewer qualify.

    Returns
    -------
    ndarray of int
        Indices of the chosen atoms (rows of ``sae.atoms``), most used first.
    """
    n_atoms = check_int(n_atoms, "n_atoms", minimum=1)
    max_cosine = check_real_in(max_cosine, "max_cosine", 0, 1)
    rate = _sae.evaluate_sae(sae, _float32(samples, "samples", sae)).firing_rate
    atoms = sae.atoms
    kept: list[int] = []
    for index in np.argsort(-rate, kind="stable"):
        if rate[index] == 0 or len(kept) == n_atoms:
            break
        if not kept or np.abs(atoms[kept] @ atoms[index]).max() <= max_cosine:
            kept.append(int(index))
    return np.array(kept, dtype=np.int64)


# --------------------------------------------------------------------------- internals


def _float32(samples, name: str, sae=None) -> np.ndarray:
    """``samples`` as a finite 2-D float32 array (with ``sae``: of its width); values float32
    cannot hold are refused by name (a plain cast would make them inf)."""
    x = as_float_tensor(samples, name, ndim=2).cpu()
    if sae is not None and x.shape[1] != sae.n_inputs:
        raise ValueError(f"{name} must have {sae.n_inputs} columns (the SAE's n_inputs), got "
                         f"shape {tuple(x.shape)}")
    return cast_checked(x, torch.float32, name, user="the SAE").numpy()


def _subset(images: _data.ImageData, rows) -> _data.ImageData:
    return _data.ImageData(images=images.images[rows], labels=images.labels[rows],
                           image_shape=images.image_shape, source=images.source)


def _cosines(activations, directions) -> np.ndarray:
    """Cosine of every row with every direction, ``(n, k)``; 0 for zero rows."""
    x = np.asarray(activations, dtype=np.float64)
    d = np.asarray(directions, dtype=np.float64)
    if x.ndim != 2 or d.ndim != 2 or x.shape[1] != d.shape[1]:
        raise ValueError(f"activations (n, d) and directions (k, d) must agree, got shapes "
                         f"{x.shape} and {d.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    d_norms = np.linalg.norm(d, axis=1, keepdims=True)
    if np.any(d_norms == 0):
        raise ValueError("directions must be non-zero")
    return unit @ (d / d_norms).T
