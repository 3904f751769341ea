"""Implantation page with AppTest: run a scenario, see the chosen sites, save it, reopen it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planning.scenarios import ScenarioStore
from ui import plan_runs

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("ws") / "scenarios.sqlite"


def _page(workspace, monkeypatch, query: dict | None = None) -> AppTest:
    """The Implantation page run once in a new session (``query``: its link's parameters)."""
    monkeypatch.setenv("INCLUSION_WORKSPACE", str(workspace))
    app = AppTest.from_file(APP, default_timeout=120)
    app.switch_page("pages/implantation.py")
    app.query_params.update(query or {})
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _result_line(app: AppTest) -> str:
    return next(m.value for m in app.markdown if m.value.startswith("**Résultat**"))


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
    # French labels, never the candidates' codes
    assert set(sites["Type"]) <= set(plan_runs.CANDIDATE_KIND_LABELS.values())
    assert not set(sites["Type"]) & {"qpv", "commune_centre", "place", "point"}
    # the wall time of the whole computation (not the solver's < 0,01 s), and it stays on a rerun
    line = _result_line(app)
    assert re.search(r"calculé en \d+,\d s \(dont .+ d'optimisation\)", line), line
    assert "optimum prouvé" in line
    app.run()
    assert _result_line(app) == line
    # one sentence explains « à portée » and why the unmet need falls by less
    sentence = next(m.value for m in app.markdown if m.value.startswith("Le modèle cherche à"))
    newly = int(round(app.session_state["plan_timing"][0] and sum(sites["Personnes nouvellement à portée"])))
    assert f"mettent {newly:,} personnes en besoin de plus à portée".replace(",", "\u202f") in sentence
    assert "c'est-à-dire à moins de 15 min d'un lieu ouvert" in sentence and "ne baisse que de" in sentence
    # the plan is in the link (its own allow-listed keys), so that a reload recomputes it
    assert app.query_params["plan"] == "mclp-3-15-exact-24-1-500-1-h"

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
    for site in payload["chosen_sites"]:  # coordinates rounded: 10⁻⁶ degree, 0,1 m
        assert site["lon"] == round(site["lon"], 6) and site["lat"] == round(site["lat"], 6)
        assert site["x"] == round(site["x"], 1)
    listed = again.dataframe[0].value
    assert listed["Modèle"].tolist() == ["Couverture maximale (MCLP)"]
    assert re.fullmatch(r"\d{1,2} \S+ 20\d\d, \d{1,2} h \d\d", listed["Mis à jour"].iloc[0])
    again.multiselect(key="scenario_pick").select(saved[0]["id"])
    again.run()
    assert not again.exception, [e.value for e in again.exception]
    table = again.table[-1].value
    assert list(table.columns) == ["Métropole p3"]
    col = table["Métropole p3"]
    assert col["Modèle"] == "Couverture maximale (MCLP)" and col["Temps d'accès visé"] == "15 min"
    assert col["Nouvellement à portée"] == "+" + f"{newly:,}".replace(",", "\u202f")
    assert "." not in col["Besoin non couvert après"] and re.fullmatch(r"[\d\u202f]+", col["Besoin non couvert après"])
    assert re.fullmatch(r"\d{1,2} \S+ 20\d\d, \d{1,2} h \d\d", col["Enregistré le"])
    # the scenarios' sites on a map of their own (one layer per scenario)
    maps = [json.loads(c.proto.json_args) for c in again.get("component_instance") if c.proto.component_name.endswith("st_folium")]
    assert len(maps) == 2  # the planning map and the comparison's
    cmp = maps[1]["script"] + (maps[1].get("feature_group") or "")
    assert "Scénario « Métropole p3 »" in cmp and all(name in cmp for name in sites["Emplacement"])
    assert any("une couleur par scénario" in c.value for c in again.caption)


def test_a_reload_recomputes_the_plan_of_its_link(workspace, monkeypatch):
    """The link of a computed plan (its query parameters) opens a new session on the same plan,
    from the cache, and says so; the form shows the plan's settings."""
    first = _page(workspace, monkeypatch)
    first.slider(key="plan_time").set_value(20)
    first.get("form_submit_button")[0].click()
    first.run()
    assert not first.exception, [e.value for e in first.exception]
    sites = first.dataframe[0].value
    query = dict(first.query_params)
    assert query["plan"] == "mclp-3-20-exact-24-1-500-1-h"

    again = _page(workspace, monkeypatch, query)
    assert again.dataframe[0].value.equals(sites)
    assert "résultat déjà calculé (le calcul avait pris" in _result_line(again)
    assert again.slider(key="plan_time").value == 20


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ({"plan": "mclp-3-15-exact-24-1-500-1"}, "Paramètre « plan » ignoré : 9 valeurs"),
        ({"plan": "mclp-99-15-exact-24-1-500-1-h"}, "Paramètre « plan » ignoré : p : entier de 1 à 10 attendu"),
        ({"plan": "mclp-3-15-exact-24-1-500-1-h", "plan_pts": "[x](https://example.org)"}, "Paramètre « plan_pts » ignoré : point"),
    ],
)
def test_a_bad_plan_link_is_ignored_with_a_french_notice(workspace, monkeypatch, query, notice):
    app = _page(workspace, monkeypatch, query)
    warnings = [w.value for w in app.warning]
    assert any(notice in _as_shown(w) for w in warnings), warnings
    assert not any("](" in w or "https://" in w for w in warnings)  # quoted values escaped


def _as_shown(markdown: str) -> str:
    """The text a Markdown notice shows: backslash escapes resolved, zero-width spaces removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u200b", "")


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


def test_the_region_map_shares_the_carte_classes_and_keeps_its_zones_visible(workspace, monkeypatch):
    """Unmet need over the région is skewed (most communes 0): the Implantation map reads it with
    the Carte page's classes (a « 0 » class, not « 0 – 1 »), and its 4 137 places are small dots
    that leave the zones visible."""
    from tests.map_helpers import map_args, zone_style

    query = {"t": "reg:84", "level": "commune"}
    args = map_args(_page(workspace, monkeypatch, query))
    plan = zone_style(args)
    assert "L.circleMarker(latlng, {radius: 2," in args["script"] + (args.get("feature_group") or "")
    carte = AppTest.from_file(APP, default_timeout=180)
    carte.query_params.update(query | {"layer": "unmet"})
    carte.run()
    assert not carte.exception
    legend = zone_style(map_args(carte))["legend"]
    classes = re.findall(r"<span[^>]*></span>\s*([^<]+)<", legend)
    assert classes and classes[0].strip() == "0"  # the zero class, first
    assert classes[:5] == re.findall(r"<span[^>]*></span>\s*([^<]+)<", plan["legend"])[:5]  # the 5 classes
    assert "Lieux existants (4\u202f137)" in plan["legend"]
