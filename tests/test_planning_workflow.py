"""Planning on the real pack: Grenoble-Alpes-Métropole, p = 3 new sites (issue #5); which
existing places planning keeps open, on a 3-zone hand case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geodata
from indicators import Config
from indicators.supply import capacity, select_places
from planning.candidates import CANDIDATE_COLUMNS
from planning.scenarios import ScenarioStore
from planning.workflow import apply_edits, plan

METROPOLE = "200040715"


@pytest.fixture(scope="module")
def inputs():
    p = geodata.load_pack()
    iris = p["iris"].drop(columns=["geometry", "geometry_display"])
    mask = (iris["code_epci"] == METROPOLE).to_numpy()
    return iris, mask, p["places"].drop(columns="geometry"), p["qpv"]


@pytest.fixture(scope="module")
def mclp3(inputs):
    iris, mask, places, qpv = inputs
    return plan(iris, mask, places, Config(), model="mclp", p=3, service_time=10.0, qpv=qpv)


def test_p3_reports_newly_covered_with_non_increasing_gains(mclp3):
    r = mclp3.result
    assert r.status == "optimal" and len(mclp3.sites) == 3
    gains = mclp3.sites["marginal_gain"].to_numpy()
    assert (np.diff(gains) <= 1e-9).all()
    assert mclp3.sites["newly_covered"].sum() == pytest.approx(r.covered_after - r.covered_before, rel=1e-9)
    assert r.covered_after > r.covered_before > 0
    assert r.total_need > r.covered_after
    # the chosen sites are inside the Métropole's communes
    assert set(mclp3.sites["code_commune"]) <= set(geodata.load_zones("commune").query("code_epci == @METROPOLE")["code"])


def test_greedy_is_not_better_than_exact(inputs, mclp3):
    iris, mask, places, qpv = inputs
    greedy = plan(iris, mask, places, Config(), model="mclp", p=3, service_time=10.0, qpv=qpv, method="greedy")
    assert greedy.result.objective <= mclp3.result.objective + 1e-6


def test_opening_sites_does_not_increase_unmet_need(mclp3):
    s = mclp3.summary
    assert s["unmet_need_after"] <= s["unmet_need_before"]
    assert s["access_after"] >= s["access_before"]


def test_closing_places_lowers_coverage(inputs, mclp3):
    iris, mask, places, qpv = inputs
    gre = places[places["code_commune"] == "38185"]["place_id"].head(20).tolist()
    edited = apply_edits(places, {"removed": gre})
    assert len(edited) == len(places) - 20
    out = plan(iris, mask, edited, Config(), model="mclp", p=3, service_time=10.0, qpv=qpv)
    assert out.result.covered_before <= mclp3.result.covered_before
    with pytest.raises(ValueError, match="unknown"):
        apply_edits(places, {"removed": ["nope:1"]})


def _page_payload(out):
    """The scenario payload as pages/implantation.py builds it (summary without None values)."""
    return {
        "territory": {"level": "epci", "code": METROPOLE, "name": "Grenoble-Alpes-Métropole"},
        "level": "iris", "config": Config().to_dict(), "model": "mclp", "p": 3, "service_time": 10.0,
        "results": {k: v for k, v in out.summary.items() if v is not None},
    }


def test_scenario_schema_accepts_the_plan_summary(tmp_path, mclp3):
    ScenarioStore(tmp_path / "ws.sqlite").save("p3", _page_payload(mclp3))


def test_saved_scenario_reopens_identically(tmp_path, inputs, mclp3):
    path = tmp_path / "ws.sqlite"
    payload = {
        "territory": {"level": "epci", "code": METROPOLE, "name": "Grenoble-Alpes-Métropole"},
        "level": "iris",
        "config": Config().to_dict(),
        "model": "mclp",
        "p": 3,
        "service_time": 10.0,
        "results": {k: v for k, v in mclp3.summary.items() if v is not None},
        "chosen_sites": [{"candidate_id": c, "rank": int(r)} for c, r in zip(mclp3.sites["candidate_id"], mclp3.sites["rank"], strict=True)],
    }
    sid = ScenarioStore(path).save("p3", payload)
    reopened = ScenarioStore(path).load(sid)  # a new store = an app restart
    iris, mask, places, qpv = inputs
    again = plan(iris, mask, places, Config.from_dict(reopened["config"]), model=reopened["model"], p=reopened["p"], service_time=reopened["service_time"], qpv=qpv)
    assert [s["candidate_id"] for s in reopened["chosen_sites"]] == again.sites["candidate_id"].tolist()
    assert reopened["results"]["objective"] == pytest.approx(again.result.objective)


def test_p5_at_15_min_proposes_only_sites_that_add_people(inputs):
    """At 15 min the existing places already cover most of the Métropole: beyond 2 sites no
    candidate brings anyone new within reach (measured: +401 then +208 people). p = 5 must not
    pad the list with sites that add 0, and the summary says how many were asked for."""
    iris, mask, places, qpv = inputs
    for method in ("exact", "greedy"):
        out = plan(iris, mask, places, Config(), model="mclp", p=5, service_time=15.0, qpv=qpv, method=method)
        newly = out.sites["newly_covered"].to_numpy()
        assert len(out.sites) < 5 and (newly > 0).all()
        assert (out.sites["marginal_gain"].to_numpy() > 0).all()
        assert out.sites["rank"].tolist() == list(range(1, len(out.sites) + 1))
        s = out.summary
        assert s["p_requested"] == 5 and s["n_sites"] == len(out.sites) and s["stopped_reason"] == "no_gain"
        assert newly.sum() == pytest.approx(out.result.covered_after - out.result.covered_before, rel=1e-9)
        assert out.result.n_useful == len(out.sites)


# -- which existing places are fixed open ------------------------------------------------------

def _three_zones():
    """Zones A, B, C at 0, 20 and 40 km on a line (population 1000, 500, 200: need 40, 20, 8 as in
    tests/test_access.py), by car at 60 km/h with no detour: 1 km = 1 min."""
    return pd.DataFrame({
        "code": ["A", "B", "C"], "level": "commune", "code_departement": "38", "code_region": "84",
        "rep_x": [0.0, 20_000.0, 40_000.0], "rep_y": [0.0, 0.0, 0.0], "population": [1000.0, 500.0, 200.0],
        "area_km2": [10.0, 10.0, 10.0], "poor_persons": [100.0, 50.0, 20.0], "fiscal_persons": [1000.0, 500.0, 200.0],
    })


def _hand_case(p: int):
    """One place per zone with offers_digital_help True (at A), False (at B), unknown (at C), plus
    a True place at B open 0 h a week (capacity 0); candidates at B and C; MCLP within 5 min."""
    places = pd.DataFrame({
        "place_id": ["yes", "no", "unknown", "closed"], "name": "lieu", "type": "mediatheque",
        "x": [0.0, 20_000.0, 40_000.0, 20_000.0], "y": 0.0,
        "weekly_hours": [10.0, 10.0, 10.0, 0.0], "staff": 1.0, "services": "demarches",
        "offers_digital_help": pd.array([True, False, pd.NA, True], dtype="boolean"),
    })
    sites = pd.DataFrame({"candidate_id": ["commune:B", "commune:C"], "kind": "commune_centre",
                          "name": ["B", "C"], "x": [20_000.0, 40_000.0], "y": [0.0, 0.0],
                          "lon": [5.0, 5.2], "lat": [45.0, 45.0], "code_commune": ["B", "C"]})[CANDIDATE_COLUMNS]
    config = Config(decay="step30", travel_mode="car", car_kmh=60, detour=1.0)
    out = plan(_three_zones(), np.ones(3, bool), places, config, model="mclp", p=p, service_time=5.0, candidates=sites)
    return out, places, config


def test_existing_places_fixed_open_are_the_access_supply_places():
    """The access indicator keeps the True places (select_places: unknown is not kept); the one
    closed all week helps nobody. So planning keeps only the place at A open: covered before =
    need of A = 40; within 5 min, new sites at B and C bring +20 and +8 (before this rule: 3
    places fixed, covered before 68, both sites adding 0)."""
    out, places, config = _hand_case(p=2)
    supply, _ = select_places(places, None, None, digital_help_only=config.digital_help_only)
    open_ = supply[capacity(supply, config.capacity)["capacity"].to_numpy() > 0]
    assert supply["place_id"].tolist() == ["yes", "closed"] and open_["place_id"].tolist() == ["yes"]
    assert out.n_existing == len(open_) == 1
    np.testing.assert_allclose(out.before["need"], [40.0, 20.0, 8.0])
    assert out.result.covered_before == pytest.approx(40.0)  # only A is within 5 min of "yes"
    assert out.sites["candidate_id"].tolist() == ["commune:B", "commune:C"]
    np.testing.assert_allclose(out.sites["newly_covered"], [20.0, 8.0])
    assert out.result.covered_after == pytest.approx(68.0)


def test_fewer_candidates_than_p_is_reported():
    """p = 3 with 2 candidates, both useful (+20, +8): 2 sites, stopped for lack of candidates."""
    out, _, _ = _hand_case(p=3)
    assert len(out.sites) == 2 and out.result.stopped_reason is None
    s = out.summary
    assert (s["p_requested"], s["n_sites"], s["stopped_reason"]) == (3, 2, "too_few_candidates")
