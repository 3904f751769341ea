"""Implantation page with AppTest: run a scenario, see the chosen sites, save it, reopen it."""

from __future__ import annotations

from pathlib import Path

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
    assert len(sites) == 3  # p = 3 by default
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
