"""srmlib: the helper package behind the book on Spotlight Resonance and privileged bases.

The book's chapters call these functions; each docstring names the chapter that explains it.
"""

import importlib

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
    "record",
    "standard_basis",
]
from . import data, exercises, plotting  # noqa: E402
from . import activations, cache, models, sae, stats, toy  # noqa: E402

# Imported on first use: `metrics` and `alignment` load POT and much of scikit-learn (0.5 s),
# which only chapter 6 needs; `runs` is only needed by chapters run as experiments and by the
# command line, and keeps `import srmlib` from loading its YAML and notebook machinery.
_LAZY_SUBMODULES = ("alignment", "metrics", "runs")


def __getattr__(name):
    if name == "record":
        from .runs import record

        return record
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'srmlib' has no attribute {name!r}")
