"""Self-checking exercises, one module per chapter.

Each ``check_*`` function calls the learner's function on several inputs (random ones and edge
cases), compares with srmlib's reference, and either prints a one-line success message or
raises ``AssertionError`` saying which input failed, what was expected, what came back, and,
when the mistake is a common one, what probably went wrong. The reference solutions live in one
place, the chapters, folded away under each exercise (``{solution-start}``/``{solution-end}``);
``tests/test_exercises.py`` reads them from the chapters and runs each through its check, and
holds only wrong answers, each of which its check must reject with a hint.

=====================================  =======  ==============================================
check                                  chapter  the learner writes
=====================================  =======  ==============================================
:func:`check_probe`                    1        ``probe(b_i, b_j, theta) -> (d,)``
:func:`check_isotropic_expectation`    1        ``fn(n_dims, epsilon) -> float``
:func:`check_spotlight_resonance`      1        ``fn(activations, basis, i, j, epsilon, angles)``
:func:`check_arc_counts`               1        ``fn(lo, width, n_angles) -> (n_angles,)``
:func:`check_wilson_interval`          2        ``fn(p, n, confidence) -> (low, high)``
:func:`check_rotation_p_value`         2        ``fn(observed, null) -> float``
:func:`check_feature_dimensionality`   4        ``fn(directions) -> (n_features,)``
:func:`check_interference`             4        ``fn(directions) -> (n_features,)``
:func:`check_neuron_top_share`         4        ``fn(directions) -> (n_hidden,)``
:func:`check_phase_prediction`         4        a prediction: ``"a"`` to ``"d"``
:func:`check_matching_score`           5        ``fn(atoms, features) -> float``
:func:`check_threshold_sae`            5        a registered SAE class (``sae.ReLUSAE`` with a
                                                fixed threshold)
=====================================  =======  ==============================================
"""

from .ch01 import check_arc_counts, check_isotropic_expectation, check_probe, check_spotlight_resonance
from .ch02 import check_rotation_p_value, check_wilson_interval
from .ch04 import (
    check_feature_dimensionality,
    check_interference,
    check_neuron_top_share,
    check_phase_prediction,
)
from .ch05 import check_matching_score, check_threshold_sae

__all__ = [
    "check_arc_counts",
    "check_feature_dimensionality",
    "check_interference",
    "check_isotropic_expectation",
    "check_matching_score",
    "check_neuron_top_share",
    "check_phase_prediction",
    "check_probe",
    "check_rotation_p_value",
    "check_spotlight_resonance",
    "check_threshold_sae",
    "check_wilson_interval",
]
