"""Fixtures shared by the AppTest and browser tests: the pack's IRIS of the default view."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

PACK = Path(__file__).resolve().parents[1] / "geodata" / "pack"
METRO = "200040715"  # Grenoble-Alpes-Métropole, the app's default view


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    return pd.read_parquet(PACK / "zones_iris.parquet", columns=["code", "name", "code_commune", "code_epci", "population"])


@pytest.fixture(scope="module")
def metro_iris(iris) -> pd.DataFrame:
    return iris[iris["code_epci"] == METRO]
