"""Tests of loaders.arcep and loaders.qpv on the real raw files (skipped without them) and synthetic cases.

Reference values: shared/data/SOURCES-connectivity-places.md §1 and SOURCES-census-qpv.md §B1.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

import loaders
from loaders import arcep, geography, qpv
from loaders.errors import LoaderError

RAW = Path(loaders.RAW_DIR)
raw = pytest.mark.raw


def _need(*rel: str) -> None:
    for r in rel:
        if not (RAW / r).exists():
            pytest.skip(f"raw file {r} absent")


def _src(mod, key: str) -> Path:
    return RAW / mod.SOURCES[key].raw_path


@pytest.fixture(scope="module")
def ftth():
    _need(arcep.SOURCES["arcep_ftth_communes_2018t1"].raw_path)
    return arcep.load_ftth_communes(RAW)


@pytest.fixture(scope="module")
def arcep_communes():
    _need(arcep.SOURCES["arcep_communes_2018t1"].raw_path)
    return arcep.load_arcep_communes(RAW)


@pytest.fixture(scope="module")
def targets():
    _need(geography.SOURCES["communes_ara_cog2024"].raw_path, geography.SOURCES["cog2025_communes"].raw_path)
    return geography.load_commune_polygons(RAW)["code_commune"]


@pytest.fixture(scope="module")
def ftth_2024(targets, arcep_communes):
    return arcep.ftth_by_commune_2024(RAW, targets)


@pytest.fixture(scope="module")
def sites():
    _need(arcep.SOURCES["arcep_mobile_sites_2018_01"].raw_path)
    return arcep.load_mobile_sites(RAW)


@pytest.fixture(scope="module")
def qpv_communes():
    _need(qpv.SOURCES["qpv2024_communes"].raw_path)
    return qpv.load_qpv_communes(RAW)


# ---------------------------------------------------------------------------------------------
# ARCEP fixed broadband, real data


@raw
def test_ftth_communes(ftth):
    assert len(ftth) == 35361
    assert list(ftth.columns) == [
        "code_commune_2018",
        "ftth_premises_t3_2017",
        "ftth_premises_t4_2017",
        "ftth_premises_t1_2018",
        "ftth_category_t1_2018",
    ]
    g = ftth.set_index("code_commune_2018").loc["38185"]
    assert g.tolist() == [77040, 79258, 81794, 50]
    assert ftth.set_index("code_commune_2018").loc["2A004", "ftth_premises_t1_2018"] == 31486  # Corsica code kept
    assert ftth.set_index("code_commune_2018").loc["01001", "ftth_premises_t1_2018"] == 0  # leading zero kept
    assert ftth["ftth_category_t1_2018"].value_counts().to_dict() == {
        0: 32011,
        80: 1499,
        50: 535,
        5: 525,
        25: 490,
        10: 301,
    }


@raw
def test_arcep_communes(arcep_communes):
    a = arcep_communes.set_index("code_commune_2018")
    assert len(a) == 35361
    g = a.loc["38185"]
    assert (g["logements"], g["etablissements"], g["premises_total"]) == (96773, 5803, 102576)
    assert g["name"] == "Grenoble" and g["siren_epci"] == "200040715" and g["code_departement"] == "38"
    assert bool(g["zone_tres_dense"]) and not bool(g["commune_rurale"]) and g["commune_montagne"] == 0
    assert g["oi_2018_t1"] == "FRTE-SFR0-UPCF" and pd.isna(g["engagement_l3313"])
    # "-" is 0 in ARCEP's format: Aast has "-" établissements
    assert (a.loc["64001", "logements"], a.loc["64001", "etablissements"]) == (81, 0)
    assert a.loc["2A004", "code_departement"] == "2A" and a.loc["2A004", "premises_total"] == 33108 + 2622
    assert a["siren_epci"].isna().sum() == 8  # island communes outside any EPCI (Île-de-Bréhat…)
    assert int(a["zone_tres_dense"].sum()) == 106 and int(a["commune_rurale"].sum()) == 28131
    assert a["commune_montagne"].value_counts().to_dict() == {0: 29185, 1: 6172, 2: 2, 3: 2}
    # Paris / Lyon / Marseille are whole communes here (arrondissements are in another file)
    assert {"75056", "69123", "13055"} <= set(a.index) and not a.index.str.startswith("6938").any()
    assert (a["code_region"] == "84").sum() == 4092 and (a["code_departement"] == "38").sum() == 521


@raw
def test_ftth_mapping_2018_to_2024(ftth_2024, arcep_communes, ftth, targets):
    m = ftth_2024.attrs["mapping"]
    # all 4 092 AURA communes of 2018 land in a COG 2024 commune; 65 of them through a successor code
    assert m == {
        "n_2018_in_scope": 4092,
        "n_2018_same": 4027,
        "n_2018_mapped": 65,
        "n_2018_unmapped": 0,
        "unmapped_2018": [],
        "n_targets_mapped": 42,
        "n_targets_not_covered": 0,
    }
    assert len(ftth_2024) == 4027 and set(ftth_2024["code_commune"]) == set(targets)
    assert ftth_2024["status"].value_counts().to_dict() == {"ok": 3985, "mapped": 42}
    g = ftth_2024.set_index("code_commune").loc["38185"]
    assert (g["premises_total"], g["ftth_premises"], g["n_2018_communes"], g["status"]) == (102576, 81794, 1, "ok")
    # totals are preserved: nothing lost, nothing counted twice
    aura18 = arcep_communes[arcep_communes["code_region"] == "84"]
    assert ftth_2024["premises_total"].sum() == aura18["premises_total"].sum() == 4522672
    f18 = ftth.set_index("code_commune_2018").loc[aura18["code_commune_2018"], "ftth_premises_t1_2018"]
    assert ftth_2024["ftth_premises"].sum() == f18.sum() == 1322588
    # a merger checked by hand: 01033 Valserhône (2019) = 01033 + 01091 + 01205 of 2018
    v = ftth_2024.set_index("code_commune").loc["01033"]
    assert v["codes_2018"] == ["01033", "01091", "01205"] and v["status"] == "mapped"
    a = arcep_communes.set_index("code_commune_2018")
    assert v["premises_total"] == a.loc[["01033", "01091", "01205"], "premises_total"].sum() == 8225
    # Isère: 521 communes in 2018 → 512 in 2024
    isere = ftth_2024[ftth_2024["code_commune"].str.startswith("38")]
    assert len(isere) == 512 and isere["n_2018_communes"].sum() == 521


@raw
def test_map_arcep_2018_communes(targets, arcep_communes):
    m = arcep.map_arcep_2018_communes(RAW, targets, communes=arcep_communes)
    assert len(m) == 4092 and m["code_commune"].notna().all()
    assert m["status"].value_counts().to_dict() == {"same": 4027, "successor": 65}
    assert (
        m.set_index("code_commune_2018").loc["69152", "code_commune"] == "69149"
    )  # Pierre-Bénite → Oullins-Pierre-Bénite


# ---------------------------------------------------------------------------------------------
# ARCEP mobile sites


@raw
def test_mobile_sites(sites):
    assert len(sites) == 77148
    assert sites.crs.to_epsg() == 2154
    assert sites["operator"].value_counts().to_dict() == {
        "Orange": 24612,
        "SFR": 21449,
        "Bouygues Telecom": 18816,
        "Free Mobile": 12271,
    }
    assert (int(sites["has_2g"].sum()), int(sites["has_3g"].sum()), int(sites["has_4g"].sum())) == (57565, 72338, 50772)
    assert int(sites.geometry.isna().sum()) == 1  # the "#N/A" site
    first = sites.iloc[0]
    assert (first["operator_code"], first.geometry.x, first.geometry.y) == ("20801", 102980, 6847973)


@raw
def test_nearest_4g_distance_real(sites):
    s4 = sites[sites["has_4g"] & sites.geometry.notna()]
    xy = np.column_stack([s4.geometry.x.to_numpy()[:5], s4.geometry.y.to_numpy()[:5]])
    assert np.allclose(arcep.nearest_4g_distance(xy, sites), 0.0)
    only2g = sites[~sites["has_4g"] & sites.geometry.notna()].geometry.iloc[0]
    d = arcep.nearest_4g_distance(np.array([[only2g.x, only2g.y], [np.nan, 1.0]]), sites)
    assert d[0] > 0 and np.isnan(d[1])


def test_nearest_4g_distance_synthetic():
    sites = gpd.GeoDataFrame(
        {"has_4g": [True, True, False]}, geometry=[Point(0, 0), Point(1000, 0), Point(3, 4)], crs=2154
    )
    d = arcep.nearest_4g_distance(np.array([[3.0, 4.0], [1000.0, 10.0], [600.0, 0.0]]), sites)
    assert d.tolist() == pytest.approx([5.0, 10.0, 400.0])  # the 2G-only site at (3, 4) is ignored
    wgs = sites.to_crs(4326)  # reprojected back to Lambert-93 inside
    assert arcep.nearest_4g_distance(np.array([[3.0, 4.0]]), wgs) == pytest.approx([5.0], abs=1e-3)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        arcep.nearest_4g_distance(np.zeros(3), sites)


# ---------------------------------------------------------------------------------------------
# QPV


@raw
def test_qpv_communes(qpv_communes):
    q = qpv_communes
    assert len(q) == 824 and q.crs.to_epsg() == 4326
    assert set(q.geom_type) == {"Point"}  # commune centroids, not perimeters
    assert len({c for cs in q["qpv_codes"] for c in cs}) == 1493
    isere = q[q["code_commune"].str.startswith("38")]
    assert len(isere) == 14
    isere_codes = sorted({c for cs in isere["qpv_codes"] for c in cs})
    assert [c[:7] for c in isere_codes] == [f"QN038{i:02d}" for i in range(1, 25)]  # 24 QPV QN03801…QN03824
    assert isere["qpv_count"].sum() == 27  # 3 QPV straddle two communes
    g = q.set_index("code_commune").loc["38185"]
    assert g["qpv_codes"] == ["QN03806M", "QN03807M", "QN03808M", "QN03809M"] and g["qpv_count"] == 4
    assert g["qpv_names"][0] == "Mistral Lys Rouge Camine" and g["qpv_names"][3] == "Alma - Très Cloîtres - Chenoise"
    assert g.geometry.y == pytest.approx(45.182, abs=0.003) and g.geometry.x == pytest.approx(5.721, abs=0.003)
    assert q.set_index("code_commune").loc["38151", "qpv_codes"] == ["QN03801M", "QN03803M", "QN03804I"]  # Échirolles
    assert q.set_index("code_commune").loc["2A004", "qpv_count"] == 2  # Ajaccio, Corsica code kept
    assert "69123" in set(q["code_commune"])  # Lyon as a whole commune


def _qpv_fc(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _qpv_feature(com, name, codes, names, xy=(5.0, 45.0)):
    return {
        "type": "Feature",
        "properties": {"insee_com": com, "lib_com": name, "code_qp": codes, "lib_qp": names},
        "geometry": {"type": "Point", "coordinates": list(xy)},
    }


def test_qpv_synthetic(tmp_path):
    p = tmp_path / "qpv.geojson"
    p.write_text(
        json.dumps(
            _qpv_fc(
                [
                    _qpv_feature("1004", "Ambérieu", "QN00103M", "Les Courbes"),
                    _qpv_feature("38185", "Grenoble", "QN03806M, QN03807M", "A, B"),
                ]
            )
        ),
        encoding="utf-8",
    )
    q = qpv.load_qpv_communes(path=p)
    assert q["code_commune"].tolist() == ["01004", "38185"]  # zero-padded
    assert q["qpv_count"].tolist() == [1, 2] and q.loc[1, "qpv_names"] == ["A", "B"]
    p.write_text(
        json.dumps(_qpv_fc([_qpv_feature("38185", "Grenoble", "QN03806M, QN03807M", "A, with comma, B")])),
        encoding="utf-8",
    )
    with pytest.warns(UserWarning, match="2 QPV codes but 3 names"):
        q = qpv.load_qpv_communes(path=p)
    assert q.loc[0, "qpv_names"] == ["A, with comma, B"]


def test_qpv_bad_input(tmp_path):
    p = tmp_path / "qpv_bad.geojson"
    p.write_text(json.dumps(_qpv_fc([_qpv_feature("38185", "Grenoble", "Q-6, QN03807M", "A, B")])), encoding="utf-8")
    with pytest.raises(LoaderError, match="qpv_bad.geojson.*QN03806M"):
        qpv.load_qpv_communes(path=p)
    f = _qpv_feature("38185", "Grenoble", "QN03806M", "A")
    del f["properties"]["code_qp"]
    p.write_text(json.dumps(_qpv_fc([f])), encoding="utf-8")
    with pytest.raises(LoaderError) as err:
        qpv.load_qpv_communes(path=p)
    assert "qpv_bad.geojson" in str(err.value) and "insee_com, lib_com, code_qp, lib_qp" in str(err.value)


@raw
def test_qpv_truncated(tmp_path):
    _need(qpv.SOURCES["qpv2024_communes"].raw_path)
    p = tmp_path / "qpv_truncated.geojson"
    p.write_bytes(_src(qpv, "qpv2024_communes").read_bytes()[:50_000])
    with pytest.raises(LoaderError, match="qpv_truncated.geojson.*truncated"):
        qpv.load_qpv_communes(path=p)


# ---------------------------------------------------------------------------------------------
# bad ARCEP input, written into tmp_path from an extract of the real files


def _extract(path: Path, n_rows: int, extra: tuple[str, ...] = ()) -> str:
    """Banner + header + the first ``n_rows`` data lines + the lines starting with ``extra`` codes."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    head = lines[: 5 + n_rows]
    more = [line for line in lines[5 + n_rows :] if line.startswith(extra)] if extra else []
    return "".join(head + more)


@pytest.fixture(scope="module")
def communes_extract() -> str:
    _need(arcep.SOURCES["arcep_communes_2018t1"].raw_path)
    return _extract(_src(arcep, "arcep_communes_2018t1"), 50, ("38185,",))


@pytest.fixture(scope="module")
def ftth_extract() -> str:
    _need(arcep.SOURCES["arcep_ftth_communes_2018t1"].raw_path)
    return _extract(_src(arcep, "arcep_ftth_communes_2018t1"), 100, ("38185,",))


@raw
def test_extract_loads(tmp_path, communes_extract, ftth_extract):
    p = tmp_path / "communes.csv"
    p.write_text(communes_extract, encoding="utf-8")
    a = arcep.load_arcep_communes(path=p)
    assert len(a) == 51 and a.set_index("code_commune_2018").loc["38185", "premises_total"] == 102576
    f = tmp_path / "ftth.csv"
    f.write_text(ftth_extract, encoding="utf-8")
    assert (
        arcep.load_ftth_communes(path=f).set_index("code_commune_2018").loc["38185", "ftth_premises_t1_2018"] == 81794
    )


@raw
def test_arcep_truncated(tmp_path, communes_extract, ftth_extract):
    p = tmp_path / "communes_truncated.csv"
    start = communes_extract.index("38185,Grenoble")
    p.write_text(
        communes_extract[: start + len("38185,Grenoble,84,38,200040715, 96")], encoding="utf-8"
    )  # cut in Grenoble's row
    with pytest.raises(LoaderError, match=r"communes_truncated.csv: empty 'Établissements' at line 56 .*truncated"):
        arcep.load_arcep_communes(path=p)
    f = tmp_path / "ftth_truncated.csv"
    f.write_text(ftth_extract[: ftth_extract.index("38185,Catégorie")], encoding="utf-8")  # Grenoble lost its 2nd row
    with pytest.raises(LoaderError, match=r"ftth_truncated.csv.*38185 has no 'category' row"):
        arcep.load_ftth_communes(path=f)
    f.write_text(ftth_extract[: ftth_extract.index("38185,Catégorie") + 20], encoding="utf-8")  # cut mid-row
    with pytest.raises(LoaderError, match=r"ftth_truncated.csv: empty 'T1 2018' at line 107"):
        arcep.load_ftth_communes(path=f)


@raw
def test_arcep_wrong_separator(tmp_path, communes_extract, ftth_extract):
    p = tmp_path / "communes_semicolon.csv"
    p.write_text(communes_extract.replace(",", ";"), encoding="utf-8")
    with pytest.raises(LoaderError) as err:
        arcep.load_arcep_communes(path=p)
    msg = str(err.value)
    assert "communes_semicolon.csv" in msg and "';'" in msg and "Code commune" in msg and "Logements" in msg
    f = tmp_path / "ftth_semicolon.csv"
    f.write_text(ftth_extract.replace(",", ";"), encoding="utf-8")
    with pytest.raises(LoaderError, match=r"ftth_semicolon.csv.*no ',' separator.*Code commune, Champ, T3 2017"):
        arcep.load_ftth_communes(path=f)


@raw
def test_arcep_latin1_and_mojibake(tmp_path, communes_extract):
    utf8 = tmp_path / "communes_utf8.csv"
    utf8.write_text(communes_extract, encoding="utf-8")
    latin = tmp_path / "communes_latin1.csv"
    latin.write_bytes(communes_extract.encode("latin-1"))  # re-encoded by a spreadsheet: decoded as cp1252
    pd.testing.assert_frame_equal(arcep.load_arcep_communes(path=latin), arcep.load_arcep_communes(path=utf8))
    moji = tmp_path / "communes_mojibake.csv"
    moji.write_text(communes_extract.encode("utf-8").decode("latin-1"), encoding="utf-8")  # double-encoded UTF-8
    with pytest.raises(LoaderError) as err:
        arcep.load_arcep_communes(path=moji)
    assert "communes_mojibake.csv" in str(
        err.value
    ) and "missing columns ['Code région', 'Code département', 'Établissements'" in str(err.value)
    assert "expected: columns Code commune, Nom commune" in str(err.value)


@raw
def test_arcep_missing_column(tmp_path, communes_extract):
    df_lines = communes_extract.splitlines(keepends=True)
    cut = [",".join(line.split(",")[:6] + line.split(",")[7:]) for line in df_lines]  # drop "Établissements"
    p = tmp_path / "communes_no_etab.csv"
    p.write_text("".join(cut), encoding="utf-8")
    with pytest.raises(LoaderError) as err:
        arcep.load_arcep_communes(path=p)
    assert "communes_no_etab.csv" in str(err.value) and "missing columns ['Établissements']" in str(err.value)
    assert "Logements, Établissements" in str(err.value)


@raw
def test_mobile_sites_bad_input(tmp_path):
    _need(arcep.SOURCES["arcep_mobile_sites_2018_01"].raw_path)
    text = "".join(_src(arcep, "arcep_mobile_sites_2018_01").read_text().splitlines(keepends=True)[:30])
    p = tmp_path / "sites_comma.csv"
    p.write_text(text.replace(";", ","), encoding="utf-8")
    with pytest.raises(LoaderError, match=r"sites_comma.csv.*no ';' separator.*Operateur, x, y, 2G, 3G, 4G"):
        arcep.load_mobile_sites(path=p)
    p = tmp_path / "sites_truncated.csv"
    p.write_text(text[: len(text) - 6], encoding="utf-8")  # last row (line 30) cut after its x, y
    with pytest.raises(LoaderError, match=r"sites_truncated.csv: empty '2G' at line 30"):
        arcep.load_mobile_sites(path=p)
    p = tmp_path / "sites_flag.csv"
    p.write_text("Operateur;x;y;2G;3G;4G\n20801;1;2;1;oui;0\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"sites_flag.csv.*'3G'.*0 or 1"):
        arcep.load_mobile_sites(path=p)


def test_arcep_synthetic_numbers(tmp_path):
    """Banner lines, padded numbers with space thousands separators, '-' as 0, zero-padding of codes."""
    text = (
        "Réseaux en fibre optique jusqu'à l'abonné (FttH),,,,,,,,,,,,\nInformations à l'échelle de la commune,,,,,,,,,,,,\n,,,,,,,,,,,,\n,,,,,,,,,,,,\n"
        "Code commune,Nom commune,Code région,Code département,Siren EPCI,Logements,Établissements,Zones très denses,"
        "Engagements L. 33-13,Intentions privées hors engagement L. 33-13,Commune rurale,Commune de montagne,OI 2018 T1\n"
        "1001,Test,84,1,200069193, 1 234 567    , -    , -    , -    , -    , 1    , 2    ,\n"
        "2A004,Ajaccio,94,2A,242010056, 33\u00a0108    , 2\u00a0622    , -    ,FRTE , -    , -    , -    ,FRTE\n"
    )
    p = tmp_path / "c.csv"
    p.write_text(text, encoding="utf-8")
    a = arcep.load_arcep_communes(path=p).iloc[0]
    assert a["code_commune_2018"] == "01001" and a["code_departement"] == "01"
    assert (a["logements"], a["etablissements"], a["premises_total"]) == (1234567, 0, 1234567)
    assert not a["zone_tres_dense"] and a["commune_rurale"] and a["commune_montagne"] == 2
    b = arcep.load_arcep_communes(path=p).iloc[1]  # NBSP thousands separators, as in the real file
    assert (b["code_commune_2018"], b["premises_total"], b["engagement_l3313"]) == ("2A004", 35730, "FRTE")


# ---------------------------------------------------------------------------------------------
# ARCEP « Ma connexion internet » 2019 (speed classes) and « Mon réseau mobile » 2019 T3 (4G area)

AURA_DEPS = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")


@pytest.fixture(scope="module")
def thd():
    _need(arcep.SOURCES["arcep_thd_2019"].raw_path)
    return arcep.load_thd_2019(RAW)


@pytest.fixture(scope="module")
def thd_2024(targets, thd):
    return arcep.thd_by_commune_2024(RAW, targets)


@pytest.fixture(scope="module")
def coverage():
    _need(arcep.SOURCES["arcep_mobile_coverage_2019t3"].raw_path)
    return arcep.load_mobile_coverage_2019(RAW)


@pytest.fixture(scope="module")
def coverage_2024(targets, coverage):
    return arcep.mobile_coverage_by_commune_2024(RAW, targets)


@raw
def test_thd_2019(thd):
    assert len(thd) == 35359
    assert list(thd.columns) == [
        "code_commune_2019",
        "name",
        "code_departement",
        "code_region",
        "premises_2019",
        "thd_premises",
        "no_hd_premises",
        "date",
        "inconsistent",
    ]
    t = thd.set_index("code_commune_2019")
    assert (thd["code_region"] == "84").sum() == 4092 and (thd["code_departement"] == "38").sum() == 521
    g = t.loc["38185"]
    # Grenoble: 343 (30–100 Mbit/s) + 2 126 (100 Mbit/s–1 Gbit/s) + 106 471 (≥ 1 Gbit/s) = 108 940 of 117 620
    assert (g["premises_2019"], g["thd_premises"], g["no_hd_premises"]) == (117620, 108940, 0)
    assert g["thd_premises"] / g["premises_2019"] == pytest.approx(0.926, abs=0.0005)
    assert (g["name"], g["code_departement"], g["date"]) == ("Grenoble", "38", "2019-09-30")
    # Valjouffrey: 179 premises at 8–30 Mbit/s and 98 at 30–100 Mbit/s
    assert (t.loc["38522", "premises_2019"], t.loc["38522", "thd_premises"]) == (277, 98)
    # Saint-Martin: 31 261 of 33 420 premises without « bon haut débit »
    assert (t.loc["97801", "no_hd_premises"], t.loc["97801", "code_departement"]) == (31261, "978")
    assert t.loc["2A004", "thd_premises"] == 1455 + 36251 and t.loc["01001", "premises_2019"] == 379
    # the speed classes add up to nbr on every row of the file: nothing inconsistent
    assert thd.attrs["inconsistent"] == 0 and not thd["inconsistent"].any()
    assert (thd["thd_premises"] <= thd["premises_2019"]).all() and (thd["no_hd_premises"] <= thd["premises_2019"]).all()
    assert thd.attrs["zero_premises"] == 433 == (thd["premises_2019"] == 0).sum()  # gaps of the beta file


@raw
def test_thd_mapping_2019_to_2024(thd_2024, thd, targets):
    assert thd_2024.attrs["mapping"] == {
        "n_2019_in_scope": 4092,
        "n_2019_same": 4027,
        "n_2019_mapped": 65,
        "n_2019_unmapped": 0,
        "unmapped_2019": [],
        "n_targets_mapped": 42,
        "n_targets_not_covered": 0,
    }
    assert list(thd_2024.columns) == [
        "code_commune",
        "premises_2019",
        "thd_premises",
        "n_2019_communes",
        "codes_2019",
        "status",
        "inconsistent",
    ]
    assert len(thd_2024) == 4027 and set(thd_2024["code_commune"]) == set(targets)
    assert thd_2024["status"].value_counts().to_dict() == {"ok": 3985, "mapped": 42}
    # every AURA commune of the 2019 file lands in exactly one 2024 commune, none dropped or repeated
    aura19 = thd[thd["code_region"] == "84"]
    landed = [c for cs in thd_2024["codes_2019"] for c in cs]
    assert sorted(landed) == sorted(aura19["code_commune_2019"]) and thd_2024["n_2019_communes"].sum() == 4092
    # counts are conserved
    assert thd_2024["premises_2019"].sum() == aura19["premises_2019"].sum() == 5313005
    assert thd_2024["thd_premises"].sum() == aura19["thd_premises"].sum() == 2812888
    g = thd_2024.set_index("code_commune").loc["38185"]
    assert (g["premises_2019"], g["thd_premises"], g["codes_2019"], g["status"]) == (117620, 108940, ["38185"], "ok")
    # Valserhône 01033 = 01033 + 01091 + 01205: 10 085 + 361 + 66 premises
    v = thd_2024.set_index("code_commune").loc["01033"]
    assert v["codes_2019"] == ["01033", "01091", "01205"] and v["status"] == "mapped"
    t = thd.set_index("code_commune_2019")
    assert v["premises_2019"] == t.loc[["01033", "01091", "01205"], "premises_2019"].sum() == 10085 + 361 + 66
    assert v["thd_premises"] == t.loc[["01033", "01091", "01205"], "thd_premises"].sum()
    assert thd_2024.attrs["inconsistent"] == 0 and not thd_2024["inconsistent"].any()
    assert thd_2024.attrs["zero_premises"] == 50  # 2024 communes with no premises in the 2019 beta: rate undefined


@raw
def test_mobile_coverage_2019(coverage):
    c = coverage.set_index("code_commune_2020")
    assert len(coverage) == 34832 and c.index.is_unique
    assert list(coverage.columns) == [
        "code_commune_2020",
        "name",
        "cov4g_best",
        "cov4g_worst",
        "best_operator",
        "worst_operator",
        "cov4g_capped",
        "area_weight",
        "pop2016",
    ]
    assert coverage["code_commune_2020"].str[:2].isin(AURA_DEPS).sum() == 4029
    assert (c.loc["38185", "cov4g_best"], c.loc["38185", "cov4g_worst"]) == (1.0, 1.0)
    v = c.loc["38522"]  # Valjouffrey (Écrins): the values of the file
    assert (v["cov4g_best"], v["cov4g_worst"]) == (0.01634858442, 0.0001213884557)
    assert (v["best_operator"], v["worst_operator"], v["name"]) == ("Orange", "Free Mobile", "Valjouffrey")
    # overlapping polygons: 16 shares above 1, capped and flagged (Joucou 1.557 → 1; Vebret 15250 in AURA)
    assert coverage.attrs["capped"] == int(coverage["cov4g_capped"].sum()) == 16
    assert (c.loc["11177", "cov4g_best"], bool(c.loc["11177", "cov4g_capped"])) == (1.0, True)
    assert c.loc["15250", "cov4g_capped"] and c.loc["15250", "cov4g_worst"] == 0.9143243612
    assert not c.loc["38522", "cov4g_capped"]
    for col in ("cov4g_best", "cov4g_worst"):
        assert coverage[col].between(0, 1).all()
    assert (coverage["cov4g_worst"] <= coverage["cov4g_best"]).all()
    assert set(coverage["best_operator"]) == {"Orange", "SFR", "Bouygues Telecom", "Free Mobile"}
    assert not {"75056", "69123", "13055"} & set(c.index)  # Paris, Lyon, Marseille are not in the file
    assert c.loc["2A004", "area_weight"] == 0.00897102699 and c.loc["01001", "pop2016"] == 761.7278809


@raw
def test_mobile_coverage_mapping_to_2024(coverage_2024, coverage, targets):
    assert coverage_2024.attrs["mapping"] == {
        "n_old_in_scope": 4029,
        "n_old_same": 4026,
        "n_old_mapped": 3,
        "n_old_unmapped": 0,
        "unmapped_old": [],
        "n_targets_mapped": 3,
        "n_targets_not_covered": 1,
    }
    assert list(coverage_2024.columns) == [
        "code_commune",
        "cov4g_best",
        "cov4g_worst",
        "cov4g_capped",
        "n_old_communes",
        "old_codes",
        "status",
    ]
    assert len(coverage_2024) == 4027 and set(coverage_2024["code_commune"]) == set(targets)
    assert coverage_2024["status"].value_counts().to_dict() == {"ok": 4023, "mapped": 3, "not_covered": 1}
    # the only AURA commune without coverage is Lyon: the file has no row for Lyon nor its arrondissements
    lyon = coverage_2024.set_index("code_commune").loc["69123"]
    assert lyon["status"] == "not_covered" and np.isnan(lyon["cov4g_best"]) and pd.isna(lyon["cov4g_capped"])
    covered = coverage_2024[coverage_2024["status"] != "not_covered"]
    for col in ("cov4g_best", "cov4g_worst"):
        assert covered[col].between(0, 1).all()
    assert int(coverage_2024["cov4g_capped"].sum()) == 1  # Vebret 15250
    # Culoz 01138 absorbed Béon 01039: area-weighted mean, between the two parts
    c = coverage.set_index("code_commune_2020")
    m = coverage_2024.set_index("code_commune").loc["01138"]
    assert m["old_codes"] == ["01039", "01138"] and m["status"] == "mapped"
    a = c.loc[["01039", "01138"], "area_weight"]
    for col in ("cov4g_best", "cov4g_worst"):
        parts = c.loc[["01039", "01138"], col]
        assert parts.min() < m[col] < parts.max()
        assert m[col] == pytest.approx((parts * a).sum() / a.sum(), rel=1e-12)
    assert m["cov4g_best"] == pytest.approx(0.910028, abs=1e-6)
    g = coverage_2024.set_index("code_commune").loc["38185"]
    assert (g["cov4g_best"], g["cov4g_worst"], g["old_codes"], g["status"]) == (1.0, 1.0, ["38185"], "ok")


THD_HEADER = (
    "Version beta : les données sont présentées en l’état et ne sont pas toutes fiables\n"
    "code_insee;nom_com;code_dep;code_reg;nbr;type;inel_hd;elig_hd05;elig_hd3;elig_hd8;elig_thd30;elig_thd100;"
    "elig_thd1g;date\n"
)


def test_thd_synthetic(tmp_path):
    p = tmp_path / "thd.csv"
    p.write_text(
        THD_HEADER
        + "1001;A;1;84;100;logloc;10;0;5;25;20;30;10;2019-09-30\n"  # classes 10+5+25+20+30+10 = 100 = nbr; THD 60
        + "38185;B;38;84;50;logloc;0;0;0;10;0;0;40;2019-09-30\n"  # THD 0+0+40 = 40
        + "2A004;C;2A;94;10;logloc;0;0;0;0;5;5;5;2019-09-30\n",  # classes 15 > nbr 10: kept and flagged
        encoding="utf-8",
    )
    t = arcep.load_thd_2019(path=p)
    assert t["code_commune_2019"].tolist() == ["01001", "2A004", "38185"]  # zero-padded, sorted
    assert t["code_departement"].tolist() == ["01", "2A", "38"]
    assert t["thd_premises"].tolist() == [60, 15, 40] and t["premises_2019"].tolist() == [100, 10, 50]
    assert t["no_hd_premises"].tolist() == [10, 0, 0]
    assert t["inconsistent"].tolist() == [False, True, False] and t.attrs["inconsistent"] == 1
    p.write_text(THD_HEADER.split("\n", 1)[1] + "38185;B;38;84;50;logloc;0;0;0;10;0;0;40;2019-09-30\n")
    assert arcep.load_thd_2019(path=p).loc[0, "thd_premises"] == 40  # without the disclaimer line too


def test_thd_bad_input(tmp_path):
    p = tmp_path / "thd_bad.csv"
    good = "38185;B;38;84;50;logloc;0;0;0;10;0;0;40;2019-09-30\n"
    p.write_text(THD_HEADER + good + "38186;C;38;84;50;logloc;0;0;0;60;0;0;-10;2019-09-30\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"thd_bad.csv: column 'elig_thd1g': count '-10' at line 4 \(commune 38186\)"):
        arcep.load_thd_2019(path=p)
    p.write_text(THD_HEADER + good + "38186;C;38;84;50.5;logloc;0;0;0;10;0;0;40;2019-09-30\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"column 'nbr': count '50.5' at line 4 \(commune 38186\)"):
        arcep.load_thd_2019(path=p)
    p.write_text(THD_HEADER + good + good, encoding="utf-8")
    with pytest.raises(LoaderError, match="duplicated commune 38185"):
        arcep.load_thd_2019(path=p)
    p.write_text(THD_HEADER.replace(";", ",") + good.replace(";", ","), encoding="utf-8")
    with pytest.raises(LoaderError, match=r"no ';' separator.*code_insee, nom_com"):
        arcep.load_thd_2019(path=p)
    p.write_text(THD_HEADER.replace(";elig_thd100", "") + good.replace(";0;40;", ";40;"), encoding="utf-8")
    with pytest.raises(LoaderError, match=r"missing columns \['elig_thd100'\]"):
        arcep.load_thd_2019(path=p)


@raw
def test_thd_truncated(tmp_path):
    _need(arcep.SOURCES["arcep_thd_2019"].raw_path)
    lines = _src(arcep, "arcep_thd_2019").read_text(encoding="utf-8").splitlines(keepends=True)
    grenoble = next(line for line in lines if line.startswith("38185;"))
    p = tmp_path / "thd_truncated.csv"
    p.write_text(
        "".join(lines[:30]) + grenoble[: len("38185;Grenoble;38;84;117620;logloc;0;0;0;8680")], encoding="utf-8"
    )
    with pytest.raises(LoaderError, match=r"thd_truncated.csv: empty 'elig_thd30' at line 31 .*truncated"):
        arcep.load_thd_2019(path=p)


COVERAGE_HEADER = "code,tx_4G_max,best_op_4G,tx_4G_min,worst_op_4G,area,lib_com,pop2016,combo_couvertures\n"


def test_mobile_coverage_synthetic(tmp_path):
    p = tmp_path / "cov.csv"
    p.write_text(
        COVERAGE_HEADER
        + "1001,0.5,Orange,0.25,Free,0.002,A,100,\n"
        + "11177,1.557,Orange,0,Bouygues,0.0007,Joucou,39,0.6\n"  # overlapping polygons: 1.557 → 1, flagged
        + "38185,1,Bouygues,1,SFR,0.002,Grenoble,150000,1.8\n",
        encoding="utf-8",
    )
    c = arcep.load_mobile_coverage_2019(path=p)
    assert c["code_commune_2020"].tolist() == ["01001", "11177", "38185"]
    assert c["cov4g_best"].tolist() == [0.5, 1.0, 1.0] and c["cov4g_worst"].tolist() == [0.25, 0.0, 1.0]
    assert c["cov4g_capped"].tolist() == [False, True, False] and c.attrs["capped"] == 1
    assert c["best_operator"].tolist() == ["Orange", "Orange", "Bouygues Telecom"]
    assert c["worst_operator"].tolist() == ["Free Mobile", "Bouygues Telecom", "SFR"]
    assert c["area_weight"].tolist() == [0.002, 0.0007, 0.002]


def test_mobile_coverage_bad_input(tmp_path):
    p = tmp_path / "cov_bad.csv"
    good = "38185,1,Bouygues,1,SFR,0.002,Grenoble,150000,1.8\n"
    p.write_text(COVERAGE_HEADER + good + "38522,,Orange,0.0001,Free,0.014,Valjouffrey,158,\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"cov_bad.csv: column 'tx_4G_max': share '' at line 3 \(commune 38522\)"):
        arcep.load_mobile_coverage_2019(path=p)
    p.write_text(COVERAGE_HEADER + good + "38522,0.016,Orange,-0.1,Free,0.014,Valjouffrey,158,\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"column 'tx_4G_min': share '-0.1' at line 3 \(commune 38522\)"):
        arcep.load_mobile_coverage_2019(path=p)
    p.write_text(COVERAGE_HEADER + good + "38522,NA,Orange,0.0001,Free,0.014,Valjouffrey,158,\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"column 'tx_4G_max': 1 values are not numbers"):
        arcep.load_mobile_coverage_2019(path=p)
    p.write_text(COVERAGE_HEADER + good + "38522,0.01,Orange,0.02,Free,0.014,Valjouffrey,158,\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"tx_4G_min above tx_4G_max: '0.02' at line 3"):
        arcep.load_mobile_coverage_2019(path=p)
    p.write_text(COVERAGE_HEADER + good.replace("SFR", "Sosh"), encoding="utf-8")
    with pytest.raises(LoaderError, match=r"column 'worst_op_4G': operator 'Sosh' at line 2 \(commune 38185\)"):
        arcep.load_mobile_coverage_2019(path=p)
    p.write_text(COVERAGE_HEADER + good.replace("0.002", "0"), encoding="utf-8")
    with pytest.raises(LoaderError, match=r"column 'area': '0' at line 2"):
        arcep.load_mobile_coverage_2019(path=p)


def _fake_successors(mapping: dict[str, str | None]):
    """A stand-in for geography.commune_successor_map: old code → target code (None: unmapped)."""

    def successors(raw_dir, targets, codes):
        status = {c: "unmapped" if t is None else "same" if t == c else "successor" for c, t in mapping.items()}
        rows = [(c, mapping.get(c), status.get(c, "unmapped")) for c in codes]
        df = pd.DataFrame(rows, columns=["old_code", "code_commune", "status"]).astype("string")
        df["n_merged"] = df["code_commune"].map(df["code_commune"].value_counts()).fillna(0).astype("int64")
        return df

    return successors


def test_carry_to_2024_synthetic(monkeypatch):
    """Merged communes: counts summed, shares averaged by area; an uncovered target; an unmapped old code."""
    old = ["01001", "01002", "38185", "38999", "75056"]  # 75056: outside the targets' départements
    monkeypatch.setattr(
        geography,
        "commune_successor_map",
        _fake_successors({"01001": "01001", "01002": "01001", "38185": "38185", "38999": None}),
    )
    thd = pd.DataFrame(
        {
            "code_commune_2019": old,
            "premises_2019": [100, 30, 50, 7, 9],
            "thd_premises": [60, 0, 40, 7, 9],
            "inconsistent": [False, True, False, False, False],
        }
    )
    monkeypatch.setattr(arcep, "load_thd_2019", lambda raw_dir: thd)
    targets = ["01001", "38185", "38186"]
    with pytest.warns(UserWarning, match=r"1 ARCEP 2019 .* could not be mapped.*38999"):
        t = arcep.thd_by_commune_2024(RAW, targets).set_index("code_commune")
    # 01001 = 01001 + 01002: premises 100 + 30 = 130, THD 60 + 0 = 60 (rate 60/130, not the mean of 60 % and 0 %)
    assert t.loc["01001", ["premises_2019", "thd_premises"]].tolist() == [130, 60]
    assert t["status"].tolist() == ["mapped", "ok", "not_covered"] and t["n_2019_communes"].tolist() == [2, 1, 0]
    assert t.loc["01001", "inconsistent"] and pd.isna(t.loc["38186", "inconsistent"]) and t.attrs["inconsistent"] == 1
    assert np.isnan(t.loc["38186", "premises_2019"])
    assert t.attrs["mapping"]["n_2019_in_scope"] == 4 and t.attrs["mapping"]["unmapped_2019"] == ["38999"]
    cov = pd.DataFrame(
        {
            "code_commune_2020": old,
            "cov4g_best": [1.0, 0.2, 1.0, 0.5, 0.5],
            "cov4g_worst": [0.5, 0.0, 1.0, 0.5, 0.5],
            "cov4g_capped": [True, False, False, False, False],
            "area_weight": [3.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    monkeypatch.setattr(arcep, "load_mobile_coverage_2019", lambda raw_dir: cov)
    with pytest.warns(UserWarning, match="38999"):
        m = arcep.mobile_coverage_by_commune_2024(RAW, targets).set_index("code_commune")
    # 01001: best (1.0 × 3 + 0.2 × 1) / (3 + 1) = 0.8, worst (0.5 × 3 + 0 × 1) / 4 = 0.375
    assert m.loc["01001", "cov4g_best"] == pytest.approx(0.8) and m.loc["01001", "cov4g_worst"] == pytest.approx(0.375)
    assert (
        m.loc["01001", "cov4g_capped"]
        and not m.loc["38185", "cov4g_capped"]
        and pd.isna(m.loc["38186", "cov4g_capped"])
    )
    assert m["old_codes"].tolist() == [["01001", "01002"], ["38185"], []]
    assert m.attrs["mapping"]["n_targets_not_covered"] == 1
    with pytest.raises(ValueError, match="target_codes is empty"):
        arcep.mobile_coverage_by_commune_2024(RAW, ["not a code"])


# ---------------------------------------------------------------------------------------------
# downloads (no network) and sources


def test_downloads_without_url_raise(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network used in a test")

    monkeypatch.setattr("loaders.download.fetch", refuse)
    monkeypatch.setattr("requests.Session.get", refuse)
    for mod in (arcep, qpv):
        for key, src in mod.SOURCES.items():
            assert src.key == key and src.licence
            assert (src.url is None) == (key != "arcep_thd_2019")  # the only one with an official file
            assert "erivative" in src.notes or "original file name" in src.notes or "Byte copy" in src.notes
            if src.url is None:
                with pytest.raises(LoaderError, match="no official download URL"):
                    mod.download(key)
        with pytest.raises(LoaderError, match="unknown source key"):
            mod.download("nope")


def test_download_thd_fetches_the_official_file(monkeypatch, tmp_path):
    calls = []

    def fake_fetch(url, name, refresh=True):
        calls.append((url, name))
        (tmp_path / name).write_text("code_insee;nom_com;nbr\n38185;Grenoble;1\n", encoding="utf-8")
        return tmp_path / name

    monkeypatch.setattr("loaders.download.fetch", fake_fetch)
    path = arcep.download("arcep_thd_2019")
    url = "https://data.arcep.fr/fixe/maconnexioninternet/statistiques/last/commune/commune_debit_filaire.csv"
    assert calls == [(url, "arcep_commune_debit_filaire.csv")] and path == tmp_path / "arcep_commune_debit_filaire.csv"
    (tmp_path / "empty.csv").write_text("")
    monkeypatch.setattr("loaders.download.fetch", lambda url, name, refresh=True: tmp_path / "empty.csv")
    with pytest.raises(LoaderError, match="empty.csv: file is empty"):
        arcep.download("arcep_thd_2019")
