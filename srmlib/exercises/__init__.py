"""Self-checking exercises, one module per chapter.

Each ``check_*`` function calls the learner's function on several inputs (random ones and edge
cases), compares with srmlib's reference, and either prints a one-line success message or
raises ``AssertionError`` saying which input failed, what was expected, what came back, and,
when the mistake is a common one, what probably went wrong. The reference solutions live in one
place, the chapters, folded away under each exercise (``{solution-start}``/``{solution-end}``);
``tests/test_exercises.py`` reads them from the chapters and runs each through its check, and
holds only wrong answers, each of which its check must reject with a hint.

===============================================  =======  =========================================
check                                            chapter  the learner writes
===============================================  =======  =========================================
:func:`check_probe`                              1        ``probe(b_i, b_j, theta) -> (d,)``
:func:`check_isotropic_expectation`              1        ``fn(n_dims, epsilon) -> float``
:func:`check_spotlight_resonance`                1        one plane's SRM, ``fn(acts, basis, ...)``
:func:`check_arc_counts`                         1        ``fn(lo, width, n_angles) -> counts``
:func:`check_dense_relu_prediction`              1        a choice
:func:`check_wilson_interval`                    2        ``fn(p, n, confidence) -> (low, high)``
:func:`check_rotation_p_value`                   2        ``fn(observed, null) -> float``
:func:`check_epsilon_for_fraction`               2        ``fn(n_dims, fraction) -> float``
:func:`check_sample_size_prediction`             2        a choice
:func:`check_isotropic_tanh`                     3        ``fn(x) -> (n, d)`` (torch)
:func:`check_angular_power`                      3        ``fn(angles, k) -> float``
:func:`check_untrained_quantisation_prediction`  3        a choice
:func:`check_feature_dimensionality`             4        ``fn(directions) -> (n_features,)``
:func:`check_interference`                       4        ``fn(directions) -> (n_features,)``
:func:`check_neuron_top_share`                   4        ``fn(weights) -> (n_neurons,)``
:func:`check_phase_prediction`                   4        a choice
:func:`check_matching_score`                     5        ``fn(atoms, features) -> float``
:func:`check_sae_scores`                         5        ``fn(x, x_hat, z) -> (l0, fvu, n_dead)``
:func:`check_chance_width_prediction`            5        a choice
:func:`check_threshold_sae`                      5        a fixed-threshold ``sae.ReLUSAE`` class
:func:`check_semi_matching`                      6        ``fn(source, target)``, in-sample
:func:`check_cka`                                6        ``fn(source, target)``, linear CKA
:func:`check_paired_difference`                  6        ``fn(values, baseline, confidence)``
:func:`check_sign_flip_prediction`               6        a choice
:func:`check_capture`                            7        ``fn(model, layer, inputs) -> (n, k)``
:func:`check_channel_vectors`                    7        ``fn(maps) -> (n, channels)``
:func:`check_convergence_prediction`             7        a choice
:func:`check_grid_points`                        8        ``fn(grid, fixed) -> list of dict``
:func:`check_seed_summary`                       8        ``fn(rows, name) -> (mean, sem)``
:func:`check_parameters_prediction`              8        a choice
===============================================  =======  =========================================

A check named ``*_prediction`` takes the learner's choice, a label such as ``"a"``, made
before running an experiment; the chapter then measures the outcome and asserts that it agrees
with the key.
"""

from .ch01 import (
    check_arc_counts,
    check_dense_relu_prediction,
    check_isotropic_expectation,
    check_probe,
    check_spotlight_resonance,
)
from .ch02 import (
    check_epsilon_for_fraction,
    check_rotation_p_value,
    check_sample_size_prediction,
    check_wilson_interval,
)
from .ch03 import (
    check_angular_power,
    check_isotropic_tanh,
    check_untrained_quantisation_prediction,
)
from .ch04 import (
    check_feature_dimensionality,
    check_interference,
    check_neuron_top_share,
    check_phase_prediction,
)
from .ch05 import (
    check_chance_width_prediction,
    check_matching_score,
    check_sae_scores,
    check_threshold_sae,
)
from .ch06 import (
    check_cka,
    check_paired_difference,
    check_semi_matching,
    check_sign_flip_prediction,
)
from .ch07 import check_capture, check_channel_vectors, check_convergence_prediction
from .ch08 import check_grid_points, check_parameters_prediction, check_seed_summary

__all__ = [
    "check_angular_power",
    "check_arc_counts",
    "check_capture",
    "check_chance_width_prediction",
    "check_channel_vectors",
    "check_cka",
    "check_convergence_prediction",
    "check_dense_relu_prediction",
    "check_epsilon_for_fraction",
    "check_feature_dimensionality",
    "check_grid_points",
    "check_interference",
    "check_isotropic_expectation",
    "check_isotropic_tanh",
    "check_matching_score",
    "check_neuron_top_share",
    "check_paired_difference",
    "check_parameters_prediction",
    "check_phase_prediction",
    "check_probe",
    "check_rotation_p_value",
    "check_sae_scores",
    "check_sample_size_prediction",
    "check_seed_summary",
    "check_semi_matching",
    "check_sign_flip_prediction",
    "check_spotlight_resonance",
    "check_threshold_sae",
    "check_untrained_quantisation_prediction",
    "check_wilson_interval",
]
