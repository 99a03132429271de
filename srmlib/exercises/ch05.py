"""Exercises of chapter 5, "Disentangling superposition with sparse autoencoders".

:func:`check_matching_score`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..sae import match_features
from ._checks import as_array, check_callable, fail, hint


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
