"""The committed pack, checked against published reference values (issue #2)."""

from __future__ import annotations

import numpy as np
import pytest

import geodata
from loaders import RAW_DIR, geography
from loaders.quality import quality_rows, render

METROPOLE = "200040715"


@pytest.fixture(scope="module")
def pack():
    return geodata.load_pack()


def test_commune_counts_and_epci(pack):
    com = pack["commune"]
    assert len(com) == 4027
    assert (com["code_departement"] == "38").sum() == 512
    assert (com["code_epci"] == METROPOLE).sum() == 49
    assert com["code_epci"].notna().all(), "every AURA commune has an EPCI"
    assert com["code"].str.fullmatch(r"\d{5}|2[AB]\d{3}").all()
    assert com["code"].is_unique


@pytest.mark.raw
def test_every_cog2024_commune_in_pack(pack):
    polygons = geography.load_commune_polygons(RAW_DIR)
    assert set(polygons["code_commune"]) == set(pack["commune"]["code"])


def test_grenoble_reference_values(pack):
    g = pack["commune"].set_index("code").loc["38185"]
    assert g["median_income"] == 22140
    assert g["poverty_rate"] == 21.0
    assert g["population"] == 156389 and g["population_vintage"] == "RP2022"
    assert g["households"] == 83825
    assert g["ftth_premises"] == 81794
    assert g["premises_total"] == 102576  # 96 773 logements + 5 803 établissements
    assert g["qpv_count"] == 4


def test_grenoble_france_services(pack):
    pl = pack["places"]
    fs = pl[(pl["type"] == "france_services") & (pl["code_commune"] == "38185")]
    assert len(fs) == 3  # one fixed site (Pimms, Arlequin) + two bus entries (ANCT list, Aug 2024)


def test_metropole_population_sum_and_own_row_agree(pack):
    com = pack["commune"]
    members = com[com["code_epci"] == METROPOLE]
    assert members["population"].sum() == 449509  # sum of its communes (RP2022)
    epci = pack["epci"].set_index("code").loc[METROPOLE]
    assert epci["population"] == 449509  # its own row: sum of counts
    assert (members["population_vintage"] == "RP2022").all()


def test_metropole_unemployment_matches_published_rate(pack):
    """RP2022 counts rebuilt from the communes' published rates sum to the EPCI's published 11.2 %."""
    epci = pack["epci"].set_index("code").loc[METROPOLE]
    rate = 100 * epci["unemployed_1564"] / epci["active_1564"]
    assert epci["unemployment_rate_published"] == 11.2
    assert abs(rate - 11.2) < 0.05


def test_metropole_poverty_gap_is_statistical_secrecy(pack):
    """Sum over communes with a published TP60 = 16.4 %; INSEE publishes 15 % for the whole EPCI.

    The communes under secrecy (about 10 % of the population) are small, richer suburbs: the rate
    they must have for the totals to agree, (15 % × all fiscal persons − poor persons counted) /
    their fiscal persons, must be a plausible rate between 0 and 15 %.
    """
    from loaders import insee

    epci = pack["epci"].set_index("code").loc[METROPOLE]
    assert epci["poverty_rate_published"] == 15.0
    assert round(epci["poverty_rate"], 1) == 16.4
    assert 0.85 < epci["poverty_coverage"] < 0.95
    filo = insee.load_filosofi_communes(RAW_DIR).set_index("code_commune")
    members = pack["commune"].loc[pack["commune"]["code_epci"] == METROPOLE, "code"]
    all_fiscal = filo.loc[members, "fiscal_persons"].sum()
    secret_fiscal = all_fiscal - epci["fiscal_persons"]
    implied = (0.15 * all_fiscal - epci["poor_persons"]) / secret_fiscal
    assert 0 <= implied < 0.15


def test_missing_is_nan_with_reason(pack):
    com = pack["commune"]
    isere = com[com["code_departement"] == "38"]
    assert isere["poverty_rate"].notna().sum() == 85  # TP60 published for 85 of 512 Isère communes
    secret = isere[isere["poverty_status"] == "secret"]
    assert len(secret) > 400 and secret["poverty_rate"].isna().all() and secret["poor_persons"].isna().all()
    outside = com[com["code_epci"] != METROPOLE]
    assert outside["nscol15p"].isna().all() and (outside["diploma_status"] == "not_covered").all()


def test_iris_counts_and_flags(pack):
    iris = pack["iris"]
    assert len(iris) == 5223
    assert iris["code"].str.len().eq(9).all()
    gre = iris[iris["code_commune"] == "38185"]
    assert len(gre) == 70
    # RP2016 structure rescaled to the RP2022 commune total: IRIS sum back to the commune
    assert gre["population"].sum() == pytest.approx(156389, abs=1)
    assert set(gre["population_status"].dropna()) <= {"rescaled", "not_covered"}
    # commune-only data given to IRIS is flagged, never silently 'ok'
    assert (gre.loc[gre["nscol15p"].notna(), "diploma_status"] == "from_commune").all()


def test_geometries_are_lambert93_and_display_wgs84(pack):
    for level in geodata.LEVELS:
        z = pack[level]
        assert z.crs.to_epsg() == 2154
        assert z["geometry_display"].crs.to_epsg() == 4326
        assert z.geometry.is_valid.all()
        assert z["geometry_display"].is_valid.all()
        assert np.isfinite(z[["rep_x", "rep_y"]]).all().all()


def test_display_geometry_keeps_shared_borders(pack):
    """Simplified Isère communes: no overlaps and no gaps between neighbours (a clean coverage)."""
    import shapely

    isere = pack["commune"][pack["commune"]["code_departement"] == "38"]
    disp = isere["geometry_display"].to_crs(2154)
    assert bool(shapely.coverage_is_valid(disp.values))
    union = shapely.union_all(disp.values)
    assert abs(union.area - disp.area.sum()) / disp.area.sum() < 1e-4


def test_demand_points_inside_their_zone(pack):
    import shapely

    for level in ("iris", "commune"):
        z = pack[level]
        inside = shapely.contains_xy(z.geometry.values, z["rep_x"].to_numpy(), z["rep_y"].to_numpy())
        assert inside.all(), level


def test_manifest_provenance_and_quality(pack):
    m = pack["manifest"]
    assert {"sources", "tables", "indicators", "coverage"} <= set(m)
    for key, src in m["sources"].items():
        assert src["producer"] and src["vintage"] and src["licence"], key
    assert m["tables"]["commune"]["rows"] == 4027
    rows = quality_rows(m)
    pov = next(r for r in rows if r["group"] == "poverty" and r["level"] == "commune")
    assert pov["with_value_pct"] == pytest.approx(100 * pack["commune"]["poverty_rate"].notna().mean(), abs=0.05)
    assert "Filosofi 2021" in pov["vintage"]
    assert "| indicator |" in render(rows, markdown=True)
