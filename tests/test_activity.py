"""Observed activity (issue « Served today »): the CnFS activity reports and Aidants Connect in the
pack, on the real raw files, and the indicator per 1 000 people in need."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geodata
import loaders
from indicators import Config
from indicators.activity import activity_columns
from indicators.levels import compute_level
from loaders import activity

RAW = Path(loaders.RAW_DIR)
raw = pytest.mark.raw
GAM = "200040715"
AURA = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")


@pytest.fixture(scope="module")
def pack():
    return geodata.load_pack()


def _raw_people() -> pd.DataFrame:
    """The CRA file read by hand: postal code (zero-padded) → people (Σ of the 5 age groups)."""
    df = pd.read_csv(RAW / "places" / "cnfs_cra_par_code_postal_2023-07-17.csv", dtype=str)
    ages = ["Somme de Moins12ans", "Somme de De12a18ans", "Somme de De18a35ans", "Somme de De35a60ans", "Somme de Plus60ans"]
    df["postcode"] = df["CodePostal"].str.strip().str.zfill(5)
    df["people"] = df[ages].apply(pd.to_numeric, errors="coerce").fillna(0).sum(axis=1)
    return df[df["postcode"].str.fullmatch(r"\d{5}")].groupby("postcode")["people"].sum()


@raw
def test_every_person_of_aura_postcodes_lands_in_a_commune(pack):
    com = pack["commune"]
    people = _raw_people()
    pc = activity.postcode_communes(RAW, com["code"])
    inside = people[people.index.isin(set(pc["postcode"]))]
    # nothing lost: Σ over the AURA communes = Σ over the postal codes that map to them (268 k people)
    assert com["cnfs_accompanied"].sum() == pytest.approx(inside.sum(), rel=1e-12)
    assert 260_000 < inside.sum() < 280_000
    # per département: the file's postal codes of the département, plus what border codes bring in,
    # minus what they take out, is the pack's total (computed here from the postal-code shares)
    pc = pc.merge(inside.rename("people"), left_on="postcode", right_index=True)
    moved = (pc["people"] * pc["share"]).groupby(pc["code_commune"].str[:2]).sum()
    for dep in AURA:
        assert com.loc[com["code_departement"] == dep, "cnfs_accompanied"].sum() == pytest.approx(moved[dep], rel=1e-9), dep
    # Isère's postal codes all stay in Isère: the file's 38xxx total is the pack's
    assert com.loc[com["code_departement"] == "38", "cnfs_accompanied"].sum() == pytest.approx(people[people.index.str.startswith("38")].sum())
    # shared postal codes are split by population and flagged
    assert (com["activity_status"] == "split").sum() > 1000


@raw
def test_grenoble_postcodes_38000_and_38100(pack):
    """SOURCES 2.7: 38000 has 602 people aged 35–60 and 304 aged 60+; Grenoble alone has the
    codes 38000 and 38100, so its counts are their sums."""
    gre = pack["commune"].set_index("code").loc["38185"]
    cog = json.loads((RAW / "geo" / "cog2025_communes_decoupage-administratif-5.3.0.json").read_text(encoding="utf-8"))
    holders = {c["code"] for c in cog if {"38000", "38100"} & set(c.get("codesPostaux") or ())}
    assert holders == {"38185"}
    act = loaders.places.load_cnfs_activity(RAW).set_index("postcode")
    assert act.loc["38000", "age_35_60"] == 602 and act.loc["38000", "age_60_plus"] == 304
    assert gre["cnfs_age_35_59"] == act.loc[["38000", "38100"], "age_35_60"].sum()
    assert gre["cnfs_age_60p"] == act.loc[["38000", "38100"], "age_60_plus"].sum()
    assert gre["activity_status"] == "ok"


@raw
def test_metropole_indicator_is_the_hand_computation(pack):
    """People accompanied per 1 000 people in need, Grenoble-Alpes-Métropole: the raw file's postal
    codes spread over their communes by the COG populations, summed over the 49 communes, over
    the pack's people in need (0,40 × poor people)."""
    cog = json.loads((RAW / "geo" / "cog2025_communes_decoupage-administratif-5.3.0.json").read_text(encoding="utf-8"))
    rows = [(cp, c["code"], c.get("population") or 0) for c in cog if c["type"] == "commune-actuelle" for cp in c.get("codesPostaux") or ()]
    pc = pd.DataFrame(rows, columns=["postcode", "code", "population"])
    pc["share"] = pc["population"] / pc.groupby("postcode")["population"].transform("sum")
    members = set(pack["commune"].loc[pack["commune"]["code_epci"] == GAM, "code"])
    people = _raw_people()
    pc = pc[pc["code"].isin(members)].merge(people.rename("people"), left_on="postcode", right_index=True)
    by_hand = float((pc["people"] * pc["share"]).sum())
    epci = pack["epci"].set_index("code").loc[GAM]
    assert epci["cnfs_accompanied"] == pytest.approx(by_hand, rel=1e-9)
    tables = {lv: pd.DataFrame(pack[lv].drop(columns=["geometry", "geometry_display"])) for lv in geodata.LEVELS}
    places = pd.DataFrame(pack["places"].drop(columns="geometry"))
    res = compute_level(tables, "epci", places, Config()).zones.set_index(tables["epci"]["code"].to_numpy()).loc[GAM]
    need = 0.40 * epci["poor_persons"]
    assert res["need"] == pytest.approx(need, rel=1e-9)
    assert res["accompanied_per_1000"] == pytest.approx(1000 * by_hand / need, rel=1e-9)
    assert 250 < res["accompanied_per_1000"] < 400
    # Aidants Connect users alongside, from the structures of the 49 communes
    assert res["ac_users_per_1000"] == pytest.approx(1000 * epci["ac_users"] / need, rel=1e-9)


def test_ratio_hand_case_and_missing_is_not_zero():
    zones = pd.DataFrame({"cnfs_accompanied": [50.0, 0.0, 10.0, np.nan], "ac_users": [5.0, 0.0, 1.0, np.nan]})
    need = np.array([100.0, 200.0, 0.0, 50.0])
    out = activity_columns(zones, need, need_measure=np.array([1.0, 2.0, 3.0, 4.0]))
    # 1000 × 50 / 100 = 500; 0 people accompanied for 200 in need = a true 0; no need → NaN; no data → NaN
    assert out["accompanied_per_1000"].tolist()[:2] == [500.0, 0.0]
    assert np.isnan(out["accompanied_per_1000"].iloc[2]) and np.isnan(out["accompanied_per_1000"].iloc[3])
    assert out["ac_users_per_1000"].iloc[0] == 50.0
    # terciles over the zones with both values only (zones 0 and 1): zone 0 low need, higher activity
    assert out["bivariate_activity_class"].tolist() == ["2-3", "3-2", "", ""]


def test_observed_rate_hand_case():
    from indicators.activity import observed_rate

    communes = pd.DataFrame({"code": ["01001", "01002"], "cnfs_accompanied": [300.0, 100.0]})
    places = pd.DataFrame({"place_id": ["a", "b", "c", "d"], "code_commune": ["01001", "01002", "01002", "99999"],
                           "sources": ["cnfs_places", "hinaura;cnfs_structures", "hinaura", "cnfs_places"]})
    caps = pd.DataFrame({"place_id": ["a", "b", "c", "d"], "capacity": [10.0, 10.0, 50.0, 99.0]})
    r = observed_rate(communes, places, caps)
    # 400 people over the 20 weekly hours of the two CnFS places of the territory (c is not CnFS,
    # d is elsewhere): 20 people per weekly hour; a new site of 24 h × 1 → 480 people
    assert (r.accompanied, r.weekly_hours, r.n_places) == (400.0, 20.0, 2)
    assert r.per_weekly_hour == 20.0 and r.site_capacity(24.0, 1.0) == 480.0
