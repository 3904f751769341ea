"""Key figures of a territory and export files (ui.exports), on the committed pack and small frames."""

from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import box

import geodata
from indicators import CATALOGUE, Config
from indicators.definitions import indicator_table
from indicators.levels import compute_level
from ui import exports

GAM = "200040715"  # Grenoble-Alpes-Métropole


@pytest.fixture(scope="module")
def pack():
    return geodata.load_pack()


@pytest.fixture(scope="module")
def commune_results(pack):
    """compute_level on every AURA commune (what ui.compute.results('commune', …) caches)."""
    z = pack["commune"]
    places = pack["places"].drop(columns="geometry").reset_index(drop=True)
    tables = {lv: pd.DataFrame(pack[lv].drop(columns=["geometry", "geometry_display"])) for lv in geodata.LEVELS}
    res = compute_level(tables, "commune", places, Config(need_model="precarity", decay="step30"))
    table = indicator_table(z, [k for k in CATALOGUE if k != "places_per_10k"]).add_prefix("ind_")
    return pd.concat([res.zones, table], axis=1), res.places


def _figures(pack, commune_results, kind, code, level, column):
    res, caps = commune_results
    own = pack[level][pack[level]["code"] == code]
    communes = pack["commune"][pack["commune"][column] == code]
    places = pd.DataFrame(pack["places"].drop(columns="geometry"))
    figs = exports.territory_figures(kind, own.iloc[0], communes, res, places, caps, pack["manifest"],
                                     need_source="test", all_communes=pack["commune"])
    return figs.set_index("key"), communes, res, caps


# -- key figures on the real pack ------------------------------------------------------------------


def test_metropole_figures_from_summed_counts(pack, commune_results):
    figs, communes, res, caps = _figures(pack, commune_results, "epci", GAM, "epci", "code_epci")
    assert len(communes) == 49
    # population: RP2022 of the 49 communes (INSEE comparator: 449 509)
    assert figs.at["population", "value"] == 449509 == communes["population"].sum()
    assert "RP2022" in figs.at["population", "note"]
    # poverty: Σ poor / Σ fiscal persons over all 49 communes, not a mean of rates; the 29 secret
    # communes are estimated (calibrated on the EPCI's published 15,0 %) and their share is said
    assert communes[["poor_persons", "fiscal_persons"]].notna().all().all()
    expected = 100 * communes["poor_persons"].sum() / communes["fiscal_persons"].sum()
    assert figs.at["poverty", "value"] == pytest.approx(expected) == pytest.approx(15.0, abs=1e-3)
    assert figs.at["poverty", "value"] != pytest.approx(communes["poverty_rate"].mean(), abs=0.1)
    secret = communes["poverty_status"] == "estimated"
    assert figs.at["poverty", "estimated_share"] == pytest.approx(communes.loc[secret, "poor_persons"].sum() / communes["poor_persons"].sum())
    assert "2,2 % estimé" in figs.at["poverty", "note"] and "secret statistique" in figs.at["poverty", "note"]
    # the EPCI's published rate beside the sum, with the explanation of their agreement
    assert figs.at["poverty_published", "value"] == 15.0
    assert "secret statistique" in figs.at["poverty_published", "note"]
    # 65+ and low diploma among people 15+ (RP2022 counts of the Métropole), THD 2019, FttH 2018
    assert figs.at["age65", "value"] == pytest.approx(100 * communes["pop15p_65p"].sum() / communes["pop15p"].sum())
    assert 20 < figs.at["age65", "value"] < 24 and "RP2022" in figs.at["age65", "note"]
    assert figs.at["low_diploma", "value"] == pytest.approx(100 * communes["pop15p_lowdip"].sum() / communes["pop15p_dipl"].sum())
    assert figs.at["ftth", "value"] == pytest.approx(100 * 130361 / 240122)
    assert figs.at["thd", "value"] == pytest.approx(100 * communes["thd_premises"].sum() / communes["premises_2019"].sum())
    assert figs.at["unemployment", "value"] == pytest.approx(11.18, abs=0.01)  # INSEE publishes 11.2 %
    # places: the 6 France services sites of the Métropole (ANCT list, Aug. 2024)
    pl = pack["places"]
    here = pl[pl["code_commune"].isin(set(communes["code"]))]
    assert figs.at["places", "value"] == len(here) == 173  # 139 reception points + 34 public libraries
    assert figs.at["france_services", "value"] == (here["type"] == "france_services").sum() == 6
    # hours per 1 000 people in need = 1000 × Σ capacity of the territory's places ÷ Σ need
    need = res.loc[communes.index, "need"].sum()
    assert figs.at["need", "value"] == pytest.approx(need)
    cap = caps.set_index("place_id")["capacity"].reindex(here["place_id"]).sum()
    assert figs.at["hours_per_1000", "value"] == pytest.approx(1000 * cap / need)
    # residents beyond 15 / 30 min: summed over the IRIS (each at its own demand point)
    assert figs.at["pop_beyond_30", "value"] == pytest.approx(res.loc[communes.index, "pop_beyond_30"].sum())
    assert 0 < figs.at["pop_beyond_30", "value"] < figs.at["pop_beyond_15", "value"] < 0.1 * 449509
    # sources and vintages come from the manifest
    assert pack["manifest"]["indicators"]["ftth"]["vintage"] in figs.at["ftth", "source"]
    assert pack["manifest"]["sources"]["france_services"]["vintage"] in figs.at["france_services", "source"]


def test_isere_figures_cover_every_commune(pack, commune_results):
    figs, communes, _res, _caps = _figures(pack, commune_results, "dep", "38", "departement", "code_departement")
    # 49 Métropole communes in RP2022 + 463 others in RP2021 (not INSEE's 1 291 380 of RP2022)
    assert figs.at["population", "value"] == communes["population"].sum() == 1284969
    # 65+ among people 15+ for every commune: RP2022 (metropolises) and RP2017 rates elsewhere
    assert figs.at["age65", "value"] == pytest.approx(100 * communes["pop15p_65p"].sum() / communes["pop15p"].sum())
    assert "RP2017" in figs.at["age65", "note"] and "RP2022" in figs.at["age65", "note"]
    # poverty over the 512 communes: 85 publish, 427 estimated (13 % of the poor people)
    assert figs.at["poverty", "value"] == pytest.approx(100 * communes["poor_persons"].sum() / communes["fiscal_persons"].sum())
    assert 0.10 < figs.at["poverty", "estimated_share"] < 0.16
    assert "poverty_published" not in figs.index  # only EPCI rows carry a published rate


def test_commune_under_secrecy(pack, commune_results):
    figs, _c, _r, _p = _figures(pack, commune_results, "com", "01001", "commune", "code")
    # an estimate, said so: never missing-as-zero, never the rate of the publishing communes
    assert 0 < figs.at["poverty", "value"] < 10 and figs.at["poverty", "estimated_share"] == 1.0
    assert "secret statistique" in figs.at["poverty", "note"]
    assert figs.at["places", "value"] == 0  # no place in L'Abergement-Clémenciat: a true zero


# -- key figures on a hand-checkable territory ------------------------------------------------------


def test_synthetic_territory():
    communes = pd.DataFrame(
        {
            "code": ["01001", "01002", "2A004"],
            "name": ["A", "B", "C"],
            "population": [1000.0, 500.0, 100.0],
            "population_vintage": ["RP2021", "RP2021", "RP2022"],
            "poor_persons": [200.0, np.nan, 10.0],
            "fiscal_persons": [1000.0, np.nan, 100.0],
            "poverty_status": ["ok", "secret", "ok"],
        },
        index=[10, 11, 12],
    )
    row = pd.Series({"population": 1600.0, "poor_persons": 210.0, "fiscal_persons": 1100.0, "poverty_coverage": 1100 / 1600})
    results = pd.DataFrame({"need": [80.0, 20.0, np.nan], "need_imputed": [False, True, False],
                            "nearest_time_min": [5.0, 20.0, 40.0]}, index=[10, 11, 12])
    places = pd.DataFrame({"place_id": ["p1", "p2", "p3"], "type": ["france_services", "mairie", "france_services"],
                           "code_commune": ["01001", "2A004", "99999"], "sources": ["france_services", "x", "france_services"]})
    caps = pd.DataFrame({"place_id": ["p1", "p2", "p3"], "capacity": [6.0, 4.0, 100.0], "capacity_source": ["hours×staff", "default_hours", "count"]})
    manifest = {"sources": {"france_services": {"producer": "ANCT", "vintage": "août 2024"}}, "indicators": {}}
    f = exports.territory_figures("epci", row, communes, results, places, caps, manifest).set_index("key")
    assert f.at["population", "value"] == 1600
    assert f.at["need", "value"] == 100  # 80 + 20; commune C has no estimate and is left out (said so)
    assert "1 commune(s) sans estimation" in f.at["need", "note"]
    assert f.at["poverty", "value"] == pytest.approx(100 * 210 / 1100)  # 19.09 %, not mean(20, 10) = 15
    assert "69 %" in f.at["poverty", "note"]
    assert f.at["places", "value"] == 2 and f.at["france_services", "value"] == 1  # p3 is elsewhere
    assert f.at["hours_per_1000", "value"] == pytest.approx(1000 * (6 + 4) / 100)
    assert f.at["pop_beyond_15", "value"] == 600 and f.at["pop_beyond_30", "value"] == 100
    assert "ANCT (août 2024)" in f.at["france_services", "source"]
    # below MIN_COVERAGE the rate would describe other people: n.d. with the reason
    low = row.copy()
    low["poverty_coverage"] = 0.4
    g = exports.territory_figures("epci", low, communes, results, places, caps, manifest).set_index("key")
    assert np.isnan(g.at["poverty", "value"]) and "40 %" in g.at["poverty", "note"]
    # no need at all → hours per 1 000 are n.d., not infinite or 0
    none = results.assign(need=np.nan)
    h = exports.territory_figures("epci", row, communes, none, places, caps, manifest).set_index("key")
    assert np.isnan(h.at["hours_per_1000", "value"]) and "non disponible" in h.at["hours_per_1000", "note"]


def test_labels_and_formats():
    # the need axis is the fragility index (Config.bivariate_need = "score"): never « besoin faible »
    # beside a zone that leads the unmet-need ranking
    assert exports.bivariate_label("3-1") == "fragilité forte · accès faible"
    assert exports.bivariate_label("1-2") == "fragilité faible · accès moyen"
    assert exports.bivariate_label("2-3", "need_share") == "part en besoin moyenne · accès fort"
    assert exports.bivariate_label("") == "n.d."
    assert exports.bivariate_label(np.nan) == "n.d."
    assert exports.figure_text(449509.0, "habitants", 0).replace("\u202f", " ") == "449 509"
    assert exports.figure_text(16.4455, "%", 1) == "16,4 %"
    assert exports.figure_text(np.nan, "%", 1) == "n.d."
    s = exports.places_by_type(pd.DataFrame({"code_commune": ["01001", "01001", "01002"], "type": ["mairie", "mairie", "caf"]}), ["01001"])
    assert s.to_dict() == {"Mairie": 2}


# -- export files -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layer(pack, commune_results):
    res, _caps = commune_results
    zones = pack["commune"][pack["commune"]["code_epci"] == GAM]
    return exports.zone_table(zones, res)


def test_zone_table_columns(layer):
    assert len(layer) == 49 and layer.crs.to_epsg() == 4326
    for col in ("code", "name", "population", "score", "need", "access", "unmet", "nearest_time_min", "bivariate_label", "ind_poverty", "poverty_status"):
        assert col in layer.columns
    grenoble = layer.set_index("code").loc["38185"]
    assert grenoble["population"] == 156389
    assert grenoble["ind_poverty"] == pytest.approx(21.0)


def test_csv_round_trip(layer):
    plain = pd.DataFrame(layer.drop(columns="geometry"))
    data = exports.to_csv(plain)
    back = pd.read_csv(io.BytesIO(data), dtype={"code": str, "code_epci": str, "code_departement": str, "code_region": str})
    assert list(back.columns) == list(plain.columns)
    assert back["code"].tolist() == plain["code"].tolist()
    for col in ("population", "score", "need", "access", "unmet", "ind_poverty"):
        np.testing.assert_allclose(back[col].to_numpy(float), plain[col].to_numpy(float), rtol=1e-12, equal_nan=True)
    # codes keep their leading zeros and letters
    small = pd.DataFrame({"code": ["01001", "2A004"], "v": [1.5, np.nan]})
    again = pd.read_csv(io.BytesIO(exports.to_csv(small)), dtype={"code": str})
    assert again["code"].tolist() == ["01001", "2A004"] and np.isnan(again["v"].iloc[1])


def test_xlsx_has_sources_sheet(pack, layer):
    about = exports.about_table(pack["manifest"], {"Territoire": "Grenoble-Alpes-Métropole"})
    plain = pd.DataFrame(layer.drop(columns="geometry"))
    data = exports.to_xlsx({"Zones": plain, "Dictionnaire": exports.column_dictionary(list(plain.columns))}, about)
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert wb.sheetnames == ["Zones", "Dictionnaire", "À propos"]
    zones = list(wb["Zones"].iter_rows(values_only=True))
    assert len(zones) == 50 and zones[0][0] == "code"
    assert "38185" in [r[0] for r in zones[1:]]  # codes stay text
    about_rows = list(wb["À propos"].iter_rows(values_only=True))
    text = " ".join(str(c) for r in about_rows for c in r if c is not None)
    fs = pack["manifest"]["sources"]["france_services"]
    assert fs["title"] in text and fs["vintage"] in text
    assert pack["manifest"]["indicators"]["ftth"]["vintage"] in text
    assert "Grenoble-Alpes-Métropole" in text


def test_geopackage_and_geojson_read_back(layer, tmp_path):
    gpkg = exports.to_gpkg(layer, "zones")
    assert gpkg[:16] == b"SQLite format 3\x00"
    path = tmp_path / "zones.gpkg"
    path.write_bytes(gpkg)
    back = gpd.read_file(path, layer="zones")
    assert len(back) == len(layer) == 49
    assert back.crs.to_epsg() == 4326
    assert sorted(back["code"]) == sorted(layer["code"])
    assert back.set_index("code").loc["38185", "population"] == 156389
    gj = json.loads(exports.to_geojson(layer))
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 49
    lon, lat = np.asarray(back.geometry.union_all().centroid.coords[0])
    assert 5.5 < lon < 6.0 and 45.0 < lat < 45.4  # around Grenoble, in degrees


def test_png_map(layer):
    bins = [float(layer["score"].min()), 4.0, 5.0, float(layer["score"].max())]
    png = exports.map_png(layer, "score", title="Indice — test", legend_title="Indice", source="test",
                          bins=bins, colors=["#ffffb2", "#fd8d3c", "#bd0026"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000
    with pytest.raises(ValueError, match="bin edges"):
        exports.map_png(layer, "score", title="t", legend_title="l", source="s", bins=[0, 1], colors=["#ffffff", "#000000"])


def test_png_with_missing_values():
    g = gpd.GeoDataFrame({"v": [1.0, np.nan, 3.0]}, geometry=[box(5, 45, 5.1, 45.1), box(5.1, 45, 5.2, 45.1), box(5.2, 45, 5.3, 45.1)], crs="EPSG:4326")
    png = exports.map_png(g, "v", title="t", legend_title="l", source="s", bins=[1.0, 2.0, 3.0], colors=["#ffffb2", "#bd0026"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_source_line_reads_manifest(pack):
    m = pack["manifest"]
    for group in ("ftth", "poverty", "population"):
        assert m["indicators"][group]["vintage"] in exports.source_line(m, group)
    assert "ARCEP" in exports.source_line(m, "ftth")
    assert exports.source_line(m, "unknown_group") == ""
