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
    "record",
    "standard_basis",
]
from . import data, exercises, plotting  # noqa: E402
from . import activations, alignment, cache, metrics, models, sae, stats, toy  # noqa: E402


def __getattr__(name):
    # `record` lives in `runs`, which is also run as `python -m srmlib.runs`; importing it
    # eagerly here would make runpy warn that the module is already in sys.modules.
    if name == "record":
        from .runs import record

        return record
    raise AttributeError(f"module 'srmlib' has no attribute {name!r}")
