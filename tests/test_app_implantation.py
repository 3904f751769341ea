"""Implantation page with AppTest: run a scenario, see the chosen sites, save it, reopen it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planning.scenarios import ScenarioStore

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("ws") / "scenarios.sqlite"


def _page(workspace, monkeypatch) -> AppTest:
    monkeypatch.setenv("INCLUSION_WORKSPACE", str(workspace))
    app = AppTest.from_file(APP, default_timeout=120)
    app.switch_page("pages/implantation.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_run_save_and_reopen_a_scenario(workspace, monkeypatch):
    app = _page(workspace, monkeypatch)
    app.get("form_submit_button")[0].click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    sites = app.dataframe[0].value
    # p = 3 by default, but at 15 min the third site would add nobody: 2 sites, and the page says why
    assert len(sites) == 2
    assert any("Au-delà de 2 sites, aucun site n'ajoute de personnes à portée" in i.value for i in app.info)
    gains = sites["Gain marginal"].tolist()
    assert gains == sorted(gains, reverse=True)
    covered = {m.label: m.value for m in app.metric}
    assert "Personnes en besoin à portée" in covered

    app.text_input(key="scenario_name").input("Métropole p3")
    app.run()
    next(b for b in app.button if b.label == "Enregistrer le scénario").click()
    app.run()
    assert any("enregistré" in s.value for s in app.success)

    # a new app session (restart) lists the scenario and reopens the same sites
    again = _page(workspace, monkeypatch)
    store = ScenarioStore(workspace)
    saved = store.list()
    assert [s["name"] for s in saved] == ["Métropole p3"]
    payload = store.load(saved[0]["id"])
    assert [s["name"] for s in payload["chosen_sites"]] == sites["Emplacement"].tolist()
    again.multiselect(key="scenario_pick").select(saved[0]["id"])
    again.run()
    table = again.dataframe[-1].value
    assert table["Scénario"].tolist() == ["Métropole p3"]


def test_malformed_import_changes_nothing(workspace, monkeypatch, tmp_path):
    store = ScenarioStore(workspace)
    before = store.list()
    with pytest.raises(ValueError):
        store.import_json('{"format": "inclusion-numerique/scenarios", "scenarios": [{"name": 1}]}')
    assert store.list() == before


def test_what_if_inputs_show_the_chosen_place_and_leave_unknown_values_empty(workspace, monkeypatch):
    """Each place of « Et si… » shows its own hours and staff (not those of the place picked
    before), an unknown value is an empty field (not 0), and applying an edit keeps it unknown."""
    import numpy as np

    from ui import data

    app = _page(workspace, monkeypatch)
    places = data.pack()["places"].set_index("place_id")
    ids = list(app.selectbox(key="whatif_place").format_func.__self__)  # the page's {id: name}
    known = [p for p in ids if np.isfinite(places.loc[p, "weekly_hours"]) and np.isfinite(places.loc[p, "staff"])]
    a = known[0]
    b = next(p for p in known if places.loc[p, "weekly_hours"] != places.loc[a, "weekly_hours"])
    unknown = next(p for p in ids if not np.isfinite(places.loc[p, "weekly_hours"]))
    for pid in (a, b, a):
        app.selectbox(key="whatif_place").set_value(pid).run()
        assert not app.exception, [e.value for e in app.exception]
        assert app.number_input(key=f"whatif_hours_{pid}").value == places.loc[pid, "weekly_hours"]
        assert app.number_input(key=f"whatif_staff_{pid}").value == places.loc[pid, "staff"]

    app.selectbox(key="whatif_place").set_value(unknown).run()
    assert app.number_input(key=f"whatif_hours_{unknown}").value is None
    assert any("valeur par défaut du type de lieu" in c.value for c in app.caption)
    app.number_input(key=f"whatif_staff_{unknown}").set_value(2.0).run()
    next(b for b in app.button if b.label == "Appliquer").click().run()
    assert not app.exception, [e.value for e in app.exception]
    edits = app.session_state["plan_edits"]["edited"]
    assert edits == [{"place_id": unknown, "staff": 2.0}]  # hours stay unknown: the type's default applies


def test_observed_capacity_beside_the_assumption(workspace, monkeypatch):
    """The capacity of a new site (500 people assumed) is shown beside what the territory's
    conseillers numériques actually accompany per weekly hour (cumulative activity reports)."""
    import geodata
    from indicators import Config
    from indicators.activity import observed_rate
    from indicators.levels import compute_level

    app = _page(workspace, monkeypatch)
    note = next(c.value for c in app.caption if c.value.startswith("Observé dans ce territoire"))
    pack = geodata.load_pack()
    tables = {lv: pd.DataFrame(pack[lv].drop(columns=["geometry", "geometry_display"])) for lv in geodata.LEVELS}
    places = pd.DataFrame(pack["places"].drop(columns="geometry"))
    caps = compute_level(tables, "commune", places, Config(decay="step30")).places
    r = observed_rate(tables["commune"][tables["commune"]["code_epci"] == "200040715"], places, caps)
    implied = round(r.site_capacity(24.0, 1.0))
    assert f"en accompagnerait {implied:,}".replace(",", "\u202f") in note and "contre 500 supposées" in note
    assert 150 < implied < 500  # the Métropole's CnFS accompanied fewer people per hour than assumed
