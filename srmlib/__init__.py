"""srmlib: the helper package behind the book on Spotlight Resonance and privileged bases.

The book's chapters call these functions; each docstring names the chapter that explains it.
"""

from .bases import enumerate_planes, overcomplete_basis, random_rotation, standard_basis
from .srm import (
    PPPMResult,
    ProjectedActivations,
    SRMResult,
    epsilon_for_isotropic_fraction,
    isotropic_expectation,
    pppm,
    project,
    spotlight_resonance,
)

__version__ = "0.1.0"

__all__ = [
    "PPPMResult",
    "ProjectedActivations",
    "SRMResult",
    "enumerate_planes",
    "epsilon_for_isotropic_fraction",
    "isotropic_expectation",
    "overcomplete_basis",
    "pppm",
    "project",
    "random_rotation",
    "spotlight_resonance",
    "standard_basis",
]
from . import data, exercises, plotting  # noqa: E402
from . import models, sae, stats, toy  # noqa: E402
