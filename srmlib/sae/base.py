"""What every SAE architecture shares, and the registry that names the architectures.

:class:`SparseAutoencoder` holds the decoder, the encoder's linear part, decoder normalisation,
the atoms, ``encode``/``decode``/``forward`` and the loss's reconstruction term. An architecture
is a subclass that defines two things, its encoder's non-linearity (:meth:`activate`) and its
own term of the loss (:meth:`penalty`), and registers itself under a name with
:func:`register`; :func:`create_sae` builds one by name and :func:`srmlib.sae.train_sae`
trains any of them. Chapter 5 ("Disentangling superposition with sparse autoencoders") writes
the encoder, decoder, loss and training step out by hand before it uses this code, and its
exercise adds an architecture.
"""

from __future__ import annotations

import inspect
from typing import ClassVar, NamedTuple

import numpy as np
import torch
from torch import nn

from .._random import torch_seed
from .._validation import as_float_tensor, cast_checked, check_choice, check_int, check_seed

__all__ = ["SAE_CLASSES", "SAELoss", "SparseAutoencoder", "create_sae", "register"]

DECODER_NORMS = ("unit", "penalty")

#: The registered architectures: name -> class (filled by :func:`register`).
SAE_CLASSES: dict[str, type[SparseAutoencoder]] = {}


class SAELoss(NamedTuple):
    """One batch's loss, as :meth:`SparseAutoencoder.loss` returns it.

    Attributes
    ----------
    total : torch.Tensor, shape ()
        What the optimiser minimises: ``mse + penalty``.
    mse : torch.Tensor, shape ()
        Squared reconstruction error ``|x - x_hat|^2`` per input (summed over dimensions),
        averaged over the batch.
    penalty : torch.Tensor, shape ()
        The architecture's own term, coefficient included (L1, auxiliary loss, L0, ...).
    z : torch.Tensor, shape (batch, n_latents)
        The batch's latents.
    fired : torch.Tensor of bool, shape (n_latents,)
        The latents non-zero on at least one input of the batch.
    """

    total: torch.Tensor
    mse: torch.Tensor
    penalty: torch.Tensor
    z: torch.Tensor
    fired: torch.Tensor


class SparseAutoencoder(nn.Module):
    """Base class of the SAE architectures: ``n_latents`` latents on ``n_inputs``-dim activations.

    .. math::

        \\text{pre} = (x - b_\\text{dec}) W_\\text{enc} + b_\\text{enc}, \\quad
        z = \\sigma(\\text{pre}), \\quad \\hat x = z W_\\text{dec} + b_\\text{dec},

    with ``W_enc`` of shape ``(n_inputs, n_latents)`` and ``W_dec`` of shape
    ``(n_latents, n_inputs)``, one **atom** per row (the package's basis convention). A subclass
    defines the non-linearity ``sigma`` (:meth:`activate`) and its term of the loss
    (:meth:`penalty`); everything else is here. Chapter 5 explains it.

    Parameters
    ----------
    n_inputs : int
        Dimension of the activations.
    n_latents : int
        Number of latents (decoder atoms); more than ``n_inputs`` for an overcomplete dictionary.
    decoder_norm : {"unit", "penalty"}
        ``"unit"``: the trainer scales every atom back to unit length after each step.
        ``"penalty"``: atoms are free (an architecture whose penalty depends on the atoms'
        scale, like the L1 of :class:`srmlib.sae.ReLUSAE`, then weights it by atom norms).
    seed : int
        Seed of the initial weights (stream ``"sae.init"``; the global torch generator is left
        untouched).

    Notes
    -----
    Initialisation: random unit atoms, the encoder their transpose (``W_enc = W_dec^T``), zero
    biases; :func:`srmlib.sae.train_sae` sets ``b_dec`` to the data's mean first (``centre``).
    """

    #: The registered name (set by :func:`register`).
    kind: ClassVar[str] = ""

    def __init__(self, n_inputs: int, n_latents: int, *, decoder_norm: str = "unit",
                 seed: int = 0):
        super().__init__()
        self.n_inputs = check_int(n_inputs, "n_inputs", minimum=1)
        self.n_latents = check_int(n_latents, "n_latents", minimum=1)
        self.decoder_norm = check_choice(decoder_norm, "decoder_norm", DECODER_NORMS)
        seed = check_seed(seed, "seed")
        generator = torch.Generator().manual_seed(torch_seed(seed, "sae.init"))
        atoms = torch.randn(self.n_latents, self.n_inputs, generator=generator)
        atoms /= atoms.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(atoms)
        self.W_enc = nn.Parameter(atoms.T.clone())
        self.b_enc = nn.Parameter(torch.zeros(self.n_latents))
        self.b_dec = nn.Parameter(torch.zeros(self.n_inputs))

    # ------------------------------------------------------------------ what a subclass defines

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        """The encoder's non-linearity: latents ``z`` from pre-activations, both
        ``(batch, n_latents)``. Every architecture defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define activate(pre)")

    def penalty(self, pre: torch.Tensor, z: torch.Tensor, residual: torch.Tensor,
                dead: torch.Tensor | None) -> torch.Tensor:
        """The architecture's term of the loss, coefficient included (a scalar tensor).

        ``pre`` and ``z`` are ``(batch, n_latents)``, ``residual = x - x_hat`` is
        ``(batch, n_inputs)`` and ``dead`` (bool, ``(n_latents,)``, or ``None``) marks the
        latents the trainer counts as dead. The base class has no penalty (0).
        """
        return pre.new_zeros(())

    # ------------------------------------------------------------------ shared

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - b_dec) W_enc + b_enc``, shape ``(batch, n_latents)``."""
        return torch.addmm(self.b_enc, x - self.b_dec, self.W_enc)  # one op: b + A @ B

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latents ``z`` of shape ``(batch, n_latents)``: ``activate(pre_activations(x))``."""
        return self.activate(self.pre_activations(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``z W_dec + b_dec`` of shape ``(batch, n_inputs)``."""
        return torch.addmm(self.b_dec, z, self.W_dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``decode(encode(x))``, shape ``(batch, n_inputs)``."""
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor, silent: torch.Tensor | None = None) -> SAELoss:
        """The training loss on a batch ``x`` of shape ``(batch, n_inputs)``.

        ``|x - x_hat|^2`` per input, averaged over the batch, plus :meth:`penalty`.
        ``silent`` (bool, ``(n_latents,)``) marks the latents that fired on none of the last
        ``dead_steps - 1`` batches before this one (all latents when ``dead_steps`` is 1); those
        that fire on none of this batch either are **dead**, and the penalty gets them (an
        auxiliary loss may use them). Without ``silent`` no latent counts as dead.
        """
        pre = self.pre_activations(x)
        z = self.activate(pre)
        residual = x - self.decode(z)
        mse = (residual ** 2).sum() / len(x)  # summed over dimensions, averaged over inputs
        fired = (z != 0).any(dim=0)
        dead = None if silent is None else silent & ~fired
        penalty = self.penalty(pre, z, residual, dead)
        return SAELoss(mse + penalty, mse, penalty, z, fired)

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        """Scale every atom (row of ``W_dec``) to unit length, in place."""
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12))

    def latent_parameters(self) -> dict[str, int]:
        """``{name: dimension}`` of every parameter with one slice per latent (the dimension
        that indexes latents). Resampling resets these slices (and their optimiser state); a
        subclass with a per-latent parameter of its own adds it."""
        return {"W_dec": 0, "W_enc": 1, "b_enc": 0}

    @torch.no_grad()
    def reset_latents(self, index: torch.Tensor, directions: torch.Tensor,
                      encoder_scale: float) -> None:
        """Point the latents ``index`` at ``directions`` (unit rows, ``(len(index), n_inputs)``):
        their atoms become the directions, their encoder rows the directions times
        ``encoder_scale``, their encoder biases 0. Used by resampling; a subclass with a
        per-latent parameter of its own resets it too."""
        self.W_dec[index] = directions
        self.W_enc[:, index] = encoder_scale * directions.T
        self.b_enc[index] = 0.0

    @property
    def atoms(self) -> np.ndarray:
        """The decoder atoms as unit vectors, a numpy basis of shape ``(n_latents, n_inputs)``."""
        atoms = self.W_dec.detach().cpu().double().numpy()
        return atoms / np.maximum(np.linalg.norm(atoms, axis=1, keepdims=True), 1e-12)

    def options(self) -> dict:
        """The architecture's own constructor options (``k``, coefficients, ...), for ``repr``."""
        return {}

    def extra_repr(self) -> str:
        options = "".join(f", {name}={value!r}" for name, value in self.options().items())
        return (f"n_inputs={self.n_inputs}, n_latents={self.n_latents}{options}, "
                f"decoder_norm={self.decoder_norm!r}")


def register(kind: str):
    """Class decorator: register an architecture under the name ``kind``.

    Sets the class's :attr:`~SparseAutoencoder.kind` and adds it to :data:`SAE_CLASSES`, so that
    :func:`create_sae` builds it by name. Registering a class of the same module and name again
    replaces it (re-running a notebook cell); another class under a taken name is an error.

    Examples
    --------
    >>> @register("shifted-relu")
    ... class ShiftedReLU(SparseAutoencoder):
    ...     def activate(self, pre):
    ...         return torch.relu(pre - 0.1)
    >>> create_sae("shifted-relu", 3, 6).kind
    'shifted-relu'
    >>> del SAE_CLASSES["shifted-relu"]
    """
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"kind must be a non-empty string, got {kind!r}")

    def decorate(cls):
        if not (isinstance(cls, type) and issubclass(cls, SparseAutoencoder)):
            raise TypeError(f"register({kind!r}) decorates a subclass of SparseAutoencoder, "
                            f"got {cls!r}")
        taken = SAE_CLASSES.get(kind)
        if taken is not None and (taken.__module__, taken.__qualname__) != (
                cls.__module__, cls.__qualname__):
            raise ValueError(f"kind {kind!r} is already registered to "
                             f"{taken.__module__}.{taken.__qualname__}")
        cls.kind = kind
        SAE_CLASSES[kind] = cls
        return cls

    return decorate


def create_sae(kind: str, n_inputs: int, n_latents: int, **options) -> SparseAutoencoder:
    """The registered architecture ``kind`` with ``n_latents`` latents on ``n_inputs`` dims.

    ``options`` go to its constructor (``k`` for TopK, ``l1_coefficient`` for ReLU, ``seed``,
    ``decoder_norm``, ...; see each class).

    Examples
    --------
    >>> create_sae("topk", 4, 8, k=2, seed=0)
    TopKSAE(n_inputs=4, n_latents=8, k=2, aux_coefficient=0.03125, aux_k=4, decoder_norm='unit')
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a string, one of {tuple(SAE_CLASSES)}, got "
                        f"{type(kind).__name__}")
    # Names are case-insensitive, as every option name in srmlib ("ReLU" is "relu").
    names = {name.lower(): name for name in SAE_CLASSES}
    if kind not in SAE_CLASSES and kind.lower() not in names:
        raise ValueError(f"kind must be one of {tuple(SAE_CLASSES)} (the registered "
                         f"architectures), got {kind!r}")
    cls = SAE_CLASSES[kind if kind in SAE_CLASSES else names[kind.lower()]]
    _check_options(cls, options)
    return cls(n_inputs, n_latents, **options)


def _check_options(cls: type, options: dict) -> None:
    """Refuse options that ``cls`` does not take (``aux_k`` for a ReLU SAE), naming them and
    the options it does take, before its constructor would."""
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [name for name, p in parameters.items()
                if name != "self" and p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                 inspect.Parameter.POSITIONAL_OR_KEYWORD)
                and name not in ("n_inputs", "n_latents")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"option(s) {unknown} do not apply to {cls.__name__} ({cls.kind!r}), "
                        f"which would ignore or refuse them; its options are {accepted}")


def as_activations(activations, sae: SparseAutoencoder, name: str = "activations",
                   device=None) -> torch.Tensor:
    """``activations`` as a finite tensor of the SAE's dtype with ``n_inputs`` columns, on
    ``device`` (default: its own, or the CPU for arrays)."""
    if not isinstance(sae, SparseAutoencoder):
        raise TypeError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    x = as_float_tensor(activations, name, ndim=2, device=device)
    if x.shape[1] != sae.n_inputs:
        raise ValueError(f"{name} must have {sae.n_inputs} columns (the SAE's n_inputs), "
                         f"got shape {tuple(x.shape)}")
    return cast_checked(x, sae.W_dec.dtype, name, user="the SAE")
