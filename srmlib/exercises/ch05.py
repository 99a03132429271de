"""Exercises of chapter 5, "Disentangling superposition with sparse autoencoders".

:func:`check_matching_score`, :func:`check_sae_scores`, :func:`check_threshold_sae` and the
prediction :func:`check_chance_width_prediction`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..bases import overcomplete_basis
from ..data import sparse_features
from ..sae import SAE_CLASSES, ReLUSAE, SparseAutoencoder, TopKSAE, evaluate_sae, match_features
from ..sae import matching_null, train_sae
from ._checks import Prediction, as_array, check_callable, fail, hint


def check_matching_score(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(atoms, features)``: the Hungarian matching score of decoder atoms.

    The reference is ``srmlib.sae.match_features(atoms, features).score``: the mean over
    features of ``|cos|`` with the atom matched to it one to one (maximum total ``|cos|``), 0 for
    a feature left unmatched.

    Parameters
    ----------
    fn : callable
        ``fn(atoms, features)`` with arrays of shapes ``(n_atoms, d)`` and ``(n_features, d)``
        (rows of any non-zero length); returns a float.
    seed : int
        Seed of the random cases.

    Raises
    ------
    AssertionError
        On the first wrong score, naming the case and, for common mistakes, what went wrong.
    """

    check_callable(fn, "fn")
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((6, 4))
    cases = [
        ("atoms equal to the features", features.copy(), features),
        ("atoms are the negated, rescaled features", -3.0 * features[::-1], features),
        ("one atom close to two features", np.array([[1.0, 0.0], [0.0, 1.0]]),
         np.array([[1.0, 0.1], [1.0, 0.2]])),
        ("more atoms than features", rng.standard_normal((9, 4)), features),
        ("fewer atoms than features", rng.standard_normal((3, 4)), features),
        ("random atoms", rng.standard_normal((6, 4)), features),
    ]
    for name, atoms, feats in cases:
        expected = match_features(atoms, feats).score
        where = f"fn(atoms of shape {atoms.shape}, features of shape {feats.shape}) [{name}]"
        got = as_array(fn(atoms.copy(), feats.copy()), where, ())
        if np.isclose(got, expected, rtol=0, atol=1e-9):
            continue
        a = atoms / np.linalg.norm(atoms, axis=1, keepdims=True)
        f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
        cos = f @ a.T
        hints = [
            (np.abs(cos).max(axis=1).mean(), "each feature took its best atom, even one already "
                                             "used: match one to one (linear_sum_assignment)"),
            (_signed_score(cos), "use |cos|: an atom and its negative span the same axis"),
            (_matched_mean(np.abs(cos)), "average over all features: an unmatched feature "
                                         "scores 0"),
        ]
        fail(where, expected, got, hint(got, hints, atol=1e-9))
    print(f"check_matching_score passed: {len(cases)} cases (signs, scales, shared atoms, more "
          "and fewer atoms than features).")


def _matched_mean(similarity: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return float(similarity[rows, cols].mean())


def _signed_score(cos: np.ndarray) -> float:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cos, maximize=True)
    return float(cos[rows, cols].sum() / cos.shape[0])


def check_sae_scores(fn: Callable, *, seed: int = 0) -> None:
    """Check ``fn(x, x_hat, z)``: an SAE's L0, fraction of variance unexplained and dead latents.

    The reference is :func:`srmlib.sae.evaluate_sae`: ``l0`` the mean number of non-zero
    latents per input, ``fvu = sum |x - x_hat|^2 / sum |x - mean(x)|^2`` (the mean of each
    coordinate over the inputs) and ``n_dead`` the number of latents that are 0 on every input.
    The check computes ``z`` and ``x_hat`` with random ReLU and TopK SAEs, some of whose latents
    never fire, on inputs whose coordinates have different means.

    Parameters
    ----------
    fn : callable
        ``fn(x, x_hat, z)`` with arrays ``x``, ``x_hat`` of shape ``(n, d)`` and ``z`` of shape
        ``(n, L)``; returns ``(l0, fvu, n_dead)``.
    seed : int
        Seed of the random SAEs and inputs.

    Raises
    ------
    AssertionError
        On the first wrong value, naming the case and, for common mistakes, what went wrong.
    """
    check_callable(fn, "fn")
    generator = torch.Generator().manual_seed(seed)
    cases = [("ReLU SAE, 4 inputs, 10 latents, 3 never fire",
              ReLUSAE(4, 10, seed=seed), 300, [3.0, -1.0, 0.5, 2.0], slice(0, 3)),
             ("TopK SAE (k = 2), 5 inputs, 12 latents, 4 never fire",
              TopKSAE(5, 12, k=2, seed=seed + 1), 200, [0.0, 5.0, -2.0, 1.0, 0.0], slice(8, 12)),
             ("ReLU SAE whose latents never fire: x_hat is b_dec",
              ReLUSAE(3, 6, seed=seed + 2), 100, [1.0, 1.0, -4.0], slice(0, 6))]
    for name, model, n, mean, dead in cases:
        with torch.no_grad():
            model.b_dec.copy_(0.5 * torch.randn(model.b_dec.shape, generator=generator))
            model.b_enc.copy_(0.3 * torch.randn(model.b_enc.shape, generator=generator))
            model.b_enc[dead] = -1e3  # these latents never fire
            x = torch.randn(n, len(mean), generator=generator) + torch.tensor(mean)
            z = model.encode(x)
            x_hat = model.decode(z)
        expected = evaluate_sae(model, x)
        x, x_hat, z = (t.double().numpy() for t in (x, x_hat, z))
        where = f"fn(x, x_hat, z) with x of shape {x.shape}, z of shape {z.shape} [{name}]"
        got = as_array(fn(x.copy(), x_hat.copy(), z.copy()), where, (3,))
        error = ((x - x_hat) ** 2).sum(axis=0)
        silent_inputs = int((~(z != 0).any(axis=1)).sum())
        n_latents = z.shape[1]
        names = ("l0", "fvu", "n_dead")
        wanted = (expected.l0, expected.fvu, expected.n_dead)
        wrong = {
            "l0": [(expected.l0 / n_latents, "L0 counts the active latents of an input, not "
                                             "the fraction of latents that are active"),
                   (expected.l0 * n, "L0 is the mean over inputs, not the total")],
            "fvu": [(error.sum() / (x**2).sum(), "centre the inputs: divide by sum |x - "
                                                   "mean(x)|^2, not by sum |x|^2"),
                    (error.sum() / ((x - x.mean()) ** 2).sum(),
                     "centre each coordinate by its own mean (x.mean(axis=0)), not by one mean "
                     "over all entries"),
                    (np.mean(error / ((x - x.mean(axis=0)) ** 2).sum(axis=0)),
                     "FVU is one ratio of totals, not the mean of per-coordinate ratios"),
                    (1 - expected.fvu, "that is the fraction of variance explained; FVU is "
                                       "the fraction unexplained"),
                    (error.sum() / x.size, "that is the mean squared error; divide the total "
                                           "squared error by the total variance instead")],
            "n_dead": [(silent_inputs, "count the latents (columns of z) that are 0 on every "
                                       "input, not the inputs with no active latent"),
                       (n_latents - expected.n_dead, "that is the number of live latents"),
                       (expected.n_dead / n_latents, "n_dead is a count of latents, not a "
                                                     "fraction")],
        }
        for k, (quantity, value) in enumerate(zip(names, wanted)):
            if not np.isclose(got[k], value, rtol=1e-5, atol=1e-9):
                fail(f"{where}, {quantity} (item {k} of the returned triple)", value, got[k],
                     hint(got[k], [(w, text) for w, text in wrong[quantity]
                                   if not np.isclose(w, value, rtol=1e-5, atol=1e-9)],
                          atol=1e-9))
    print(f"check_sae_scores passed: {len(cases)} SAEs (ReLU and TopK, dead latents, inputs "
          "with non-zero means, an SAE that never fires).")


#: How the chance level of the matching score changes with the size of the dictionary.
#: Chapter 5 measures it after the exercise and asserts that the outcome is
#: :attr:`Prediction.correct`.
CHANCE_WIDTH_PREDICTION = Prediction(
    "check_chance_width_prediction",
    {"a": "it stays the same: random atoms know nothing about the features, however many",
     "b": "it rises: more random atoms, closer matches",
     "c": "it falls: more atoms, more chances to match a feature with the wrong one"},
    correct="b",
    why=("The best of many random directions is closer to a feature than the best of few, and "
         "the one-to-one matching lets each feature pick among all the atoms: compare an SAE's "
         "score with random dictionaries of its own width."),
    hints={
        "a": "they know nothing, but the matching picks, for each feature, the best of them: "
             "what happens to the best of more random draws?",
        "c": "the matching maximises the total |cos|: an extra atom can only be ignored or "
             "improve a match, never make it worse",
    },
)


def check_chance_width_prediction(answer: str) -> None:
    """Check a prediction: how the matching score of random dictionaries changes from as many
    atoms as features to eight times as many.

    Raises
    ------
    AssertionError
        For a wrong or unknown label, with a hint.
    """
    CHANCE_WIDTH_PREDICTION.check(answer)


# The planted setup the trained SAE must recover: 12 spread-out features in 6 dimensions, 12
# latents. Random dictionaries of 12 atoms score at most about 0.78 here (199 of them), and the
# reference solution scores 0.86-0.97 over seeds 0-3 (2,000 steps): the bar, above every random
# dictionary and at least 0.8, leaves room for both.
_N_FEATURES, _N_DIMS, _STEPS, _MIN_SCORE = 12, 6, 2000, 0.8


def check_threshold_sae(cls: type, *, seed: int = 0) -> None:
    """Check ``cls``: a ReLU SAE whose latents below a fixed threshold are 0, trained by
    :func:`srmlib.sae.train_sae`.

    The reference (chapter 5's exercise) subclasses :class:`srmlib.sae.ReLUSAE`, takes a keyword
    ``threshold`` (the other options go to the base class), encodes
    ``z_i = pre_i if pre_i > threshold else 0`` and keeps the L1 penalty ``l1_coefficient *
    sum_i z_i``, and is registered by :func:`srmlib.sae.register`. The check builds it by its
    registered name with ``create_sae(kind, 5, 11, threshold=0.3, l1_coefficient=0.2,
    seed=...)``, compares its latents and loss with the reference on random inputs, then trains
    one on planted sparse features with the common loop and asks that it recover them better
    than every one of 199 random dictionaries (matching score at least 0.8) with its latents
    still thresholded.

    Parameters
    ----------
    cls : type
        A subclass of :class:`srmlib.sae.SparseAutoencoder`.
    seed : int
        Seed of the random inputs, the SAE's weights and its training.

    Raises
    ------
    TypeError
        If ``cls`` is not a subclass of :class:`~srmlib.sae.SparseAutoencoder`.
    AssertionError
        On the first failed step, saying what was expected and, for common mistakes, what went
        wrong.
    """
    if not (isinstance(cls, type) and issubclass(cls, SparseAutoencoder)):
        raise TypeError(f"cls must be a subclass of srmlib.sae.SparseAutoencoder (a class, not "
                        f"an instance), got {cls!r}")
    name = cls.__name__
    if not cls.kind or SAE_CLASSES.get(cls.kind) is not cls:
        raise AssertionError(f"{name} is not registered: decorate the class with "
                             f"@sae.register(\"threshold-relu\") (any unused name), so that "
                             f"create_sae and train_sae find it by name")
    where = f"create_sae({cls.kind!r}, 5, 11, threshold=0.3, l1_coefficient=0.2, seed={seed})"
    try:
        model = SAE_CLASSES[cls.kind](5, 11, threshold=0.3, l1_coefficient=0.2, seed=seed)
    except TypeError as err:
        raise AssertionError(f"{where} failed: {err}. Hint: the constructor takes the keyword "
                             "`threshold` and passes the others (l1_coefficient, seed, ...) to "
                             "sae.ReLUSAE's") from None

    generator = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(256, 5, generator=generator)
    with torch.no_grad():
        for parameter in (model.b_enc, model.b_dec):  # biases that are not 0, as after training
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
        pre = model.pre_activations(x)
        expected = torch.where(pre > 0.3, pre, 0.0)
        got = model.encode(x)
    _check_latents(f"{where}.encode(x)", got, expected, pre, 0.3)
    with torch.no_grad():
        loss = model.loss(x)
    penalty = 0.2 * expected.sum(dim=1).mean()
    got_penalty = as_array(loss.penalty.detach(), f"{where}.loss(x).penalty", ())
    if not np.isclose(got_penalty, float(penalty), rtol=1e-5, atol=1e-6):
        fail(f"{where}.loss(x).penalty (the L1 penalty on the latents)", float(penalty),
             got_penalty, hint(got_penalty, [
                 (0.0, "no penalty: subclass sae.ReLUSAE, whose penalty is the L1 of the "
                       "latents, or define penalty()"),
             ], atol=1e-12))

    features = overcomplete_basis(_N_FEATURES, _N_DIMS, seed=0)
    train = sparse_features(10_000, features, seed=1, density=0.05)
    test = sparse_features(2_000, features, seed=2, density=0.05)
    where = (f"{name}({_N_DIMS}, {_N_FEATURES}, threshold=0.1, l1_coefficient=0.3, "
             f"seed={seed}) trained by sae.train_sae for {_STEPS} steps")
    model = cls(_N_DIMS, _N_FEATURES, threshold=0.1, l1_coefficient=0.3, seed=seed)
    initial_encoder = model.W_enc.detach().clone()
    log = train_sae(model, train, steps=_STEPS, seed=seed)
    encoder_moved = not torch.allclose(model.W_enc.detach(), initial_encoder, atol=1e-4)
    evaluation = evaluate_sae(model, test, features)
    x = torch.as_tensor(test, dtype=model.W_dec.dtype)
    with torch.no_grad():
        pre = model.pre_activations(x)
        _check_latents(f"{where}: encode(x)", model.encode(x), torch.where(pre > 0.1, pre, 0.0),
                       pre, 0.1)
    null = matching_null(features, _N_FEATURES, n_dictionaries=199, seed=seed)
    score, best_chance = evaluation.match.score, float(null.scores.max())
    if not (log.mse[-1] < log.mse[0] and score >= max(_MIN_SCORE, best_chance)):
        if not encoder_moved:
            advice = ("the encoder never changed: no gradient reaches it through activate(). "
                      "Build z from pre with torch operations (no .detach(), numpy or .item())")
        elif evaluation.n_dead > _N_FEATURES // 3:
            advice = (f"{evaluation.n_dead} of {_N_FEATURES} latents never fire: is the "
                      "threshold compared with the pre-activation?")
        else:
            advice = "does activate() keep the pre-activations above the threshold unchanged?"
        raise AssertionError(
            f"{where}: matching score {score:.3f} (need at least {max(_MIN_SCORE, best_chance):.3f}"
            f", the best of 199 random dictionaries scores {best_chance:.3f}), reconstruction "
            f"error {log.mse[0]:.4f} -> {log.mse[-1]:.4f}, {evaluation.n_dead} dead latents. "
            f"Hint: {advice}")
    print(f"check_threshold_sae passed: {name} encodes and penalises as the reference, and "
          f"trained by sae.train_sae it recovers {_N_FEATURES} planted features (matching "
          f"score {score:.3f}, random dictionaries at most {best_chance:.3f}; L0 "
          f"{evaluation.l0:.2f}, FVU {evaluation.fvu:.3f}).")


def _check_latents(where: str, got, expected: torch.Tensor, pre: torch.Tensor,
                   threshold: float) -> None:
    """Fail with a hint unless ``got`` equals the thresholded latents ``expected``."""
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"{where} returned {type(got).__name__}, not a torch tensor")
    if got.shape != expected.shape:
        raise AssertionError(f"{where} returned shape {tuple(got.shape)}, expected "
                             f"{tuple(expected.shape)}")
    if not torch.isfinite(got).all():
        raise AssertionError(f"{where} returned NaN or infinite values")
    if torch.allclose(got, expected, rtol=1e-5, atol=1e-6):
        return
    wrong = [
        (torch.relu(pre), "the threshold is missing: latents between 0 and the threshold must "
                          "be 0"),
        (torch.relu(pre - threshold), "subtracting the threshold shrinks every latent: keep "
                                      "pre where pre > threshold, 0 elsewhere"),
        (torch.where(pre.abs() > threshold, pre, 0.0), "latents must be non-negative: compare "
                                                       "pre itself (not |pre|) with the "
                                                       "threshold"),
        (torch.where(pre > threshold, 1.0, 0.0), "keep the value of pre, not 1, where it is "
                                                 "above the threshold"),
    ]
    message = next((text for candidate, text in wrong
                    if torch.allclose(got, candidate, rtol=1e-5, atol=1e-6)), None)
    index = tuple(int(i) for i in torch.nonzero(~torch.isclose(got, expected, rtol=1e-5,
                                                               atol=1e-6))[0])
    fail(f"{where}, latent {index[1]} of input {index[0]} (pre-activation "
         f"{float(pre[index]):.4f})", float(expected[index]), float(got[index]), message)
