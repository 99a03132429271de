"""Every parameter file in notebooks/params fits its chapter's parameters cell.

A file ``notebooks/params/NN_name.yaml`` is run as ``python -m srmlib.runs run NN --params FILE``;
it must name only parameters of chapter ``NN``, with values of their types and in their ranges.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from srmlib import runs

PARAMS = sorted((Path(__file__).resolve().parents[1] / "notebooks" / "params").glob("*.yaml"))


@pytest.mark.parametrize("path", PARAMS, ids=[p.name for p in PARAMS])
def test_parameter_file_fits_its_chapter(path):
    values = yaml.safe_load(path.read_text())
    assert isinstance(values, dict) and values
    checked = runs.validate_parameters(path.name[:2], values)
    assert set(checked) == set(values)


def test_chapter_4_paper_setup_uses_the_paper_notebooks_initialisation():
    """Xavier-normal on the (instances, features, hidden) tensor of the paper's notebook."""
    values = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "notebooks" / "params" / "04_elhage2022.yaml")
        .read_text())
    f, h, n = values["large_features"], values["large_hidden"], values["large_instances"]
    assert math.isclose(values["large_init_std"], math.sqrt(2 / (h * (f + n))), rel_tol=1e-8)
