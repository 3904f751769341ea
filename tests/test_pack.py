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


def test_metropole_poverty_is_its_published_rate(pack):
    """INSEE publishes 15,0 % for the EPCI; its 20 publishing communes sum to 16,4 %. The 29 secret
    communes share what the published communes leave (15 % × all fiscal persons − their poor
    people), spread by the income model: the EPCI's sum of communes is its published rate."""
    from loaders import insee

    epci = pack["epci"].set_index("code").loc[METROPOLE]
    assert epci["poverty_rate_published"] == 15.0
    assert round(epci["poverty_rate"], 1) == 15.0 and epci["poverty_coverage"] == 1.0
    com = pack["commune"][pack["commune"]["code_epci"] == METROPOLE]
    published = com[com["poverty_status"] == "ok"]
    assert len(published) == 20 and round(100 * published["poor_persons"].sum() / published["fiscal_persons"].sum(), 1) == 16.4
    secret = com[com["poverty_status"] == "estimated"]
    # 28 from the income model calibrated on the EPCI; one (no published median nor fiscal
    # persons) at the département's mean estimated rate
    assert len(secret) == 29 and (secret["poverty_method"] == "model_epci").sum() == 28
    filo = insee.load_filosofi_communes(RAW_DIR).set_index("code_commune")
    assert filo.loc[com["code"], "fiscal_persons"].sum() == pytest.approx(epci["fiscal_persons"], rel=0.01)
    implied = (0.15 * epci["fiscal_persons"] - published["poor_persons"].sum()) / secret["fiscal_persons"].sum()
    # ≈ 3 % in the secret communes (the rate of the publishing communes would give 16 %)
    assert secret["poor_persons"].sum() / secret["fiscal_persons"].sum() == pytest.approx(implied, rel=1e-6)
    assert 0.02 < implied < 0.04
    # the estimated share of the EPCI's poor people is said beside the figure
    assert epci["poverty_estimated_share"] == pytest.approx(secret["poor_persons"].sum() / com["poor_persons"].sum())


def test_secret_communes_are_estimated_and_flagged(pack):
    com = pack["commune"]
    isere = com[com["code_departement"] == "38"]
    assert isere["poverty_rate"].notna().sum() == 85  # TP60 published for 85 of 512 Isère communes
    secret = isere[isere["poverty_status"] == "estimated"]
    # the published rate stays missing; the counts are an estimate, said so and how
    assert len(secret) == 427 and secret["poverty_rate"].isna().all() and secret["poor_persons"].notna().all()
    assert set(secret["poverty_method"]) <= {"model_kappa", "model_epci", "departement_mean+fiscal_from_population", "departement_mean"}
    # estimated rates are lower than the publishing communes' (small, richer communes)
    rate_secret = secret["poor_persons"].sum() / secret["fiscal_persons"].sum()
    pub = isere[isere["poverty_status"] == "ok"]
    assert rate_secret < 0.5 * pub["poor_persons"].sum() / pub["fiscal_persons"].sum()
    outside = com[com["code_epci"] != METROPOLE]
    assert outside["nscol15p"].isna().all() and (outside["diploma_status"] == "not_covered").all()


def test_iris_counts_and_flags(pack):
    iris = pack["iris"]
    assert len(iris) == 5224  # 5 223 IRIS 2023 + Lyon as one whole-commune row (its IRIS are absent)
    assert iris["code"].str.len().eq(9).all()
    lyon = iris[iris["code_commune"] == "69123"]
    assert lyon["code"].tolist() == ["691230000"] and "commune entière" in lyon["name"].iloc[0]
    gre = iris[iris["code_commune"] == "38185"]
    assert len(gre) == 70
    # RP2016 structure rescaled to the RP2022 commune total: IRIS sum back to the commune
    assert gre["population"].sum() == pytest.approx(156389, abs=1)
    assert set(gre["population_status"].dropna()) <= {"rescaled", "no_residents", "estimated"}
    # IRIS poor people: Filosofi 2021 IRIS rates × fiscal persons, summing to Grenoble's published
    # 21 % × 136 138 (not rate × population: fiscal persons are fewer than inhabitants)
    commune = pack["commune"].set_index("code").loc["38185"]
    assert gre["poor_persons"].sum() == pytest.approx(commune["poor_persons"], rel=1e-9)
    assert gre["fiscal_persons"].sum() == pytest.approx(commune["fiscal_persons"], rel=1e-9)
    assert commune["fiscal_persons"] < 0.9 * 156389
    vintages = gre.loc[gre["poverty_status"] == "ok", "poverty_vintage"].value_counts()
    assert vintages.to_dict() == {"Filosofi 2021 (IRIS)": 65, "Filosofi 2019 (IRIS)": 2}  # 2019 where 2021 is « ns »
    # commune-only data given to IRIS is flagged, never silently 'ok'
    assert (gre.loc[gre["nscol15p"].notna() & (gre["population"] > 0), "diploma_status"] == "from_commune").all()


def test_uninhabited_iris_have_no_residents(pack):
    """The 17 activity / miscellaneous IRIS of the Métropole (no RP2016 habitat data, no Filosofi
    rate: zones d'activités, plateforme chimique…) have 0 residents and say so."""
    iris = pack["iris"]
    met = iris[iris["code_epci"] == METROPOLE]
    empty = met[met["population_status"] == "no_residents"]
    assert len(empty) == 17 and (empty["population"] == 0).all()
    assert {"Plateforme Chimique", "Comboire", "Polygone"} <= set(empty["name"])
    # an IRIS absent from RP2016 but with a Filosofi 2021 rate is inhabited: estimated, not empty
    lacour = iris[iris["code"] == "692661801"]  # La Soie, Villeurbanne
    assert lacour["population_status"].iloc[0] == "estimated" and lacour["population"].iloc[0] > 500


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
    assert pov["with_value_pct"] == 100.0  # published or estimated: every commune has a value
    # … of which the secret communes' share of the population is estimated, and said
    est = pack["commune"]["poverty_status"].eq("estimated").mean()
    assert pov["imputed_pct"] == pytest.approx(100 * est, abs=0.05)
    assert "Filosofi 2021" in pov["vintage"]
    thd = next(r for r in rows if r["group"] == "thd" and r["level"] == "commune")
    assert thd["with_value_pct"] == 100.0 and "2019" in thd["vintage"]
    assert m["coverage"]["ftth"]["commune"]["capped_zones"] == 144  # more FttH premises than premises in 2018
    cal = m["estimates"]["poverty_secret_communes"]
    assert 0.3 < cal["kappa"] < 0.7 and set(cal["epcis"]) == {METROPOLE, "243500139"}
    assert "| indicator |" in render(rows, markdown=True)
