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
# downloads (no network) and sources


def test_downloads_without_url_raise(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network used in a test")

    monkeypatch.setattr("loaders.download.fetch", refuse)
    monkeypatch.setattr("requests.Session.get", refuse)
    for mod in (arcep, qpv):
        for key, src in mod.SOURCES.items():
            assert src.url is None and src.key == key and src.licence
            assert "erivative" in src.notes or "original file name" in src.notes
            with pytest.raises(LoaderError, match="no official download URL"):
                mod.download(key)
        with pytest.raises(LoaderError, match="unknown source key"):
            mod.download("nope")
