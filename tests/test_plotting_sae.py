"""Chapter 5 figures: feature recovery and the sparsity / reconstruction trade-off."""

from __future__ import annotations

import numpy as np
import pytest

from srmlib import plotting
from srmlib.sae import match_features, matching_null
from tests.figure_checks import assert_labelled



def test_feature_recovery_puts_matched_atoms_on_the_diagonal():
    features = np.eye(3)
    atoms = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.1]])
    match = match_features(atoms, features)
    ax = plotting.plot_feature_recovery(match)
    assert_labelled(ax, angle_axis=False)
    image = ax.images[0].get_array()
    assert image.shape == (3, 4)
    np.testing.assert_allclose(np.diag(image), match.cosines)
    np.testing.assert_allclose(image[:, 3], match.similarity[:, 1])  # the unmatched atom last
    assert "score" in ax.get_title()


def test_feature_recovery_rejects_other_input():
    with pytest.raises(TypeError, match="FeatureMatch"):
        plotting.plot_feature_recovery(np.eye(3))


def test_sparsity_tradeoff_draws_one_line_per_family():
    curves = {"ReLU + L1": ([3.0, 2.0, 1.0], [0.01, 0.05, 0.3]), "TopK": ([1, 2], [0.2, 0.05])}
    ax = plotting.plot_sparsity_tradeoff(curves, labels={"TopK": ["k=1", "k=2"]}, title="t")
    assert_labelled(ax, angle_axis=False)
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [3.0, 2.0, 1.0])
    assert [t.get_text() for t in ax.texts] == ["k=1", "k=2"]
    with pytest.raises(ValueError, match="same length"):
        plotting.plot_sparsity_tradeoff({"a": ([1, 2], [0.1])})
    with pytest.raises(ValueError, match="non-empty"):
        plotting.plot_sparsity_tradeoff({})


def test_matching_null_draws_the_null_and_one_line_per_score():
    null = matching_null(np.eye(3), 4, n_dictionaries=50, seed=0)
    ax = plotting.plot_matching_null(null, {"untrained": 0.6, "trained": 1.0})
    assert_labelled(ax, angle_axis=False)
    assert sum(patch.get_height() for patch in ax.patches) == 50  # every dictionary counted
    assert [line.get_xdata()[0] for line in ax.lines] == [0.6, 1.0]
    assert ax.get_xlim()[1] > 1.0  # the highest score is not drawn on the frame
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[-1] == f"trained: 1.000 (p = {null.p_value(1.0):.3g})"
    with pytest.raises(TypeError, match="MatchingNull"):
        plotting.plot_matching_null(null.scores, {"a": 1.0})
    with pytest.raises(ValueError, match="non-empty"):
        plotting.plot_matching_null(null, {})
