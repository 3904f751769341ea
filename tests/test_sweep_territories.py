"""Every view opens: the région, every département and every EPCI, at both levels of the map, on
Carte, Diagnostic, Implantation and Orienter, without an exception nor an error message (AppTest, no
browser). One AppTest per page and level; the territory is changed through the sidebar's search,
as a user would (so a change of territory, not only a fresh session, is exercised)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PACK = Path(__file__).resolve().parents[1] / "geodata" / "pack"


def _territories() -> list[str]:
    keys = ["reg:84"]
    for kind, level in (("dep", "departement"), ("epci", "epci")):
        codes = pd.read_parquet(PACK / f"zones_{level}.parquet", columns=["code"])["code"]
        keys += [f"{kind}:{c}" for c in sorted(codes)]
    return keys


TERRITORIES = _territories()


@pytest.mark.parametrize("level", ["iris", "commune"])
@pytest.mark.parametrize("page", ["carte", "diagnostic", "implantation", "orienter"])
def test_every_territory_opens(page: str, level: str):
    assert len(TERRITORIES) == 1 + 12 + 172
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update({"t": TERRITORIES[0], "lvl": level})
    at.switch_page(f"pages/{page}.py")
    at.run()
    failures = []
    for key in TERRITORIES:
        if at.selectbox(key="picker_territory").value != key:
            at.selectbox(key="picker_territory").set_value(key).run()
        problems = [e.value for e in at.exception] + [e.value for e in at.error]
        if problems or not at.title or "—" not in at.title[0].value:
            failures.append((key, problems[:2]))
        # the sidebar is always there to get out (a traceback used to remove it)
        assert at.selectbox(key="picker_territory").value == key, key
    assert not failures, failures[:5]
