"""Planning on the real pack: Grenoble-Alpes-Métropole, p = 3 new sites (issue #5)."""

from __future__ import annotations

import numpy as np
import pytest

import geodata
from indicators import Config
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
