"""Invariants over every zone of every level of the committed pack (not samples).

- shares of every rate indicator in [0, 100], counts ≥ 0, numerator ≤ denominator;
- children's counts sum to their parent's: IRIS → commune, commune → EPCI / département / région;
- one truth: population, poor people, people in need and unmet need of a territory are the same
  whatever the level they are computed at (indicators.levels.compute_level);
- a simplified geometry is never empty (pack display geometry and the regional overview).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

import geodata
from indicators import CATALOGUE, Config
from indicators.aggregate import GROUPS as AGG_GROUPS
from indicators.definitions import indicator_values
from indicators.levels import compute_level
from loaders.assemble import GROUPS

LEVELS = geodata.LEVELS
PARENT = {"commune": "code_commune", "epci": "code_epci", "departement": "code_departement", "region": "code_region"}
#: (numerator, denominator) pairs of the pack
PAIRS = [
    ("poor_persons", "fiscal_persons"), ("unemployed_1564", "active_1564"), ("ftth_premises", "premises_total"),
    ("thd_premises", "premises_2019"), ("pop15p_65p", "pop15p"), ("pop15p_lowdip", "pop15p_dipl"),
    ("area_4g_km2", "area_cov_km2"), ("nscol15p_diplmin", "nscol15p"), ("hh_one_person", "hh_total_detailed"),
    ("hh_single_parent", "hh_total_detailed"), ("pop_65p", "pop_age_total"), ("pop_75p", "pop_60p"),
    ("pop_60p", "pop_age_total"), ("pop_15_29", "pop_age_total"), ("pop_65p", "pop_60p"),
]
COUNTS = sorted({c for g in AGG_GROUPS.values() for c in g if c != "places_count"})


@pytest.fixture(scope="module")
def pack():
    return geodata.load_pack()


@pytest.fixture(scope="module")
def tables(pack):
    t = {lv: pd.DataFrame(pack[lv].drop(columns=["geometry", "geometry_display"])) for lv in LEVELS}
    t["reference_france"] = pack["reference_france"]
    return t


@pytest.mark.parametrize("level", LEVELS)
def test_shares_in_0_100_counts_positive_numerator_below_denominator(tables, level):
    z = tables[level]
    for key, ind in CATALOGUE.items():
        if ind.unit != "%" or key == "places_per_10k":
            continue
        v, _ = indicator_values(z, ind)
        v = v[np.isfinite(v)]
        assert ((v >= -1e-9) & (v <= 100 + 1e-9)).all(), (level, key, v.min(), v.max())
    for col in COUNTS:
        if col in z:
            x = pd.to_numeric(z[col], errors="coerce")
            assert (x.dropna() >= 0).all(), (level, col)
    for num, den in PAIRS:
        if num in z and den in z:
            both = z[[num, den]].dropna()
            assert (both[num] <= both[den] * (1 + 1e-9) + 1e-9).all(), (level, num, den, both[both[num] > both[den]].head())


@pytest.mark.parametrize("child,parent", [("iris", "commune"), ("commune", "epci"), ("commune", "departement"), ("commune", "region")])
def test_children_sum_to_their_parent(tables, child, parent):
    c, p = tables[child], tables[parent].set_index("code")
    key = PARENT[parent]
    cols = [col for col in COUNTS if col in c and col in p]
    assert {"population", "poor_persons", "fiscal_persons", "thd_premises", "pop15p_65p"} <= set(cols)
    sums = c.groupby(key)[cols].sum(min_count=1).reindex(p.index)
    for col in cols:
        has = p[col].notna()
        np.testing.assert_allclose(sums.loc[has, col], p.loc[has, col], rtol=1e-9, err_msg=f"{child}→{parent} {col}")
    # every commune and every IRIS belongs to its parent: nothing dropped on the way
    assert set(c[key]) == set(p.index)


def test_poverty_and_age_exist_for_every_commune(tables):
    com = tables["commune"]
    assert com[["poor_persons", "fiscal_persons", "pop15p_65p", "pop15p_lowdip", "thd_premises"]].notna().all().all()
    assert com["cov4g_best"].notna().all()  # Lyon (absent from the 2019 file) estimated, flagged
    assert com.loc[com["code"] == "69123", "mobile4g_status"].item() == "estimated"


@pytest.fixture(scope="module")
def results(tables, pack):
    places = pd.DataFrame(pack["places"].drop(columns="geometry"))
    return {lv: compute_level(tables, lv, places, Config()).zones for lv in LEVELS}


def test_one_value_per_territory_at_every_level(tables, results):
    """People in need and unmet need of every commune, EPCI, département and the région: the sum of
    the finer zones equals the coarser zone's own value, for every zone of the pack."""
    for child, parent in (("iris", "commune"), ("commune", "epci"), ("commune", "departement"), ("epci", "region"),
                          ("departement", "region")):
        key = PARENT[parent]
        c = results[child].assign(_p=tables[child][key].to_numpy())
        p = results[parent].set_index(tables[parent]["code"].to_numpy())
        for col in ("need", "unmet", "pop_beyond_15", "pop_beyond_30") if child != "iris" else ("need", "unmet"):
            sums = c.groupby("_p")[col].sum(min_count=1).reindex(p.index)
            np.testing.assert_allclose(sums, p[col], rtol=1e-9, err_msg=f"{child}→{parent} {col}")
    # precarity model: 0,40 × poor people, whatever the level
    for lv in LEVELS:
        np.testing.assert_allclose(results[lv]["need"], 0.40 * tables[lv]["poor_persons"], rtol=1e-9, err_msg=lv)


def test_metropole_need_is_one_number(tables, results):
    gam = "200040715"
    values = {
        "iris": results["iris"].loc[tables["iris"]["code_epci"] == gam, "need"].sum(),
        "commune": results["commune"].loc[tables["commune"]["code_epci"] == gam, "need"].sum(),
        "epci": results["epci"].loc[tables["epci"]["code"] == gam, "need"].item(),
    }
    assert max(values.values()) - min(values.values()) < 1e-6, values
    assert values["epci"] == pytest.approx(0.40 * 0.150 * tables["epci"].set_index("code").loc[gam, "fiscal_persons"], rel=1e-3)


def test_every_level_works_with_the_default_settings(results):
    for lv in LEVELS:
        r = results[lv]
        assert r["score"].notna().sum() > 0, lv
    assert (results["departement"]["reference"] == "region").all()
    assert (results["region"]["reference"] == "all").all()
    assert (results["commune"]["reference"] == "departement").all()


def test_uninhabited_zones_are_not_scored(tables, results):
    empty = tables["iris"]["population"].eq(0)
    assert empty.sum() == 90
    assert results["iris"].loc[empty, "score"].isna().all() and (results["iris"].loc[empty, "need"] == 0).all()


@pytest.mark.parametrize("level", LEVELS)
def test_simplified_geometries_are_never_empty(pack, level):
    z = pack[level]
    assert not (z["geometry_display"].is_empty | z["geometry_display"].isna()).any()
    assert not (z.geometry.is_empty | z.geometry.isna()).any()


def test_regional_overview_keeps_every_zone():
    """The overview simplification of the région's IRIS map (ui.data) used to empty Parilly Sud
    (Bron), which crashed ?t=reg:84&lvl=iris."""
    from ui import data

    geoms = data.overview_geometry("iris")
    assert len(geoms) == 5224 and not (geoms.is_empty | geoms.isna()).any()
    assert bool(shapely.is_valid(geoms.values).all())


def test_groups_of_the_pack_and_of_the_aggregation_agree():
    """The count groups the build writes are the ones the aggregation sums (one list of truths)."""
    for group, cols in AGG_GROUPS.items():
        if group in GROUPS:
            assert set(GROUPS[group]) == set(cols), group


def test_implantation_before_is_the_other_pages_figures(tables, pack, results):
    """Implantation's « avant » (people in need, unmet need) is what the Carte and Diagnostic show
    for the same territory and settings; « à portée » never exceeds the people in need."""
    from planning.workflow import plan

    gam = "200040715"
    zl = tables["iris"]
    mask = (zl["code_epci"] == gam).to_numpy()
    out = plan(zl, mask, pd.DataFrame(pack["places"].drop(columns="geometry")), Config(), model="mclp", p=3,
               service_time=15, qpv=pack["qpv"], tables=tables)
    need = results["epci"].loc[tables["epci"]["code"] == gam, "need"].item()
    unmet = results["epci"].loc[tables["epci"]["code"] == gam, "unmet"].item()
    assert out.summary["total_need"] == pytest.approx(need, rel=1e-9)
    assert out.summary["unmet_need_before"] == pytest.approx(unmet, rel=1e-9)
    assert out.summary["covered_before"] <= out.summary["covered_after"] <= need


def test_cli_runs_at_the_level_of_its_own_reference():
    """`python -m indicators.cli --territory dep:38 --level departement` used to fail with the
    default settings (« no 'code_departement' column »): the reference moves up to the région."""
    from indicators import cli

    table = cli.run("dep:38", "departement", Config())
    assert len(table) == 1 and table["reference"].item() == "region" and np.isfinite(table["score"].item())
    communes = cli.run("dep:38", "commune", Config())
    assert table["need"].item() == pytest.approx(communes["need"].sum(), rel=1e-9)
