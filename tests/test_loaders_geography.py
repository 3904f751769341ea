"""Tests of loaders.geography on the real raw files (skipped without them) and small synthetic cases."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

import loaders
import loaders.download
from loaders import geography as geo
from loaders.errors import LoaderError

RAW = Path(loaders.RAW_DIR)


@pytest.fixture(scope="module")
def raw_dir() -> Path:
    if not (RAW / "geo").is_dir():
        pytest.skip(f"raw data directory absent: {RAW}")
    return RAW


@pytest.fixture(scope="module")
def communes(raw_dir):
    return geo.load_commune_polygons(raw_dir)


@pytest.fixture(scope="module")
def targets(communes):
    return communes["code_commune"]


# ---------------------------------------------------------------------------------------------
# polygons


@pytest.mark.raw
def test_commune_polygons(communes):
    assert len(communes) == 4027
    assert list(communes.columns) == ["code_commune", "name", "geometry"]
    assert communes.crs.to_epsg() == 4326
    assert communes["code_commune"].str.startswith("38").sum() == 512
    assert communes["code_commune"].str.fullmatch(r"\d{5}").all()  # no "com" prefix, no Corsica in AURA
    assert communes["code_commune"].is_unique
    assert "69123" in set(communes["code_commune"]) and not communes["code_commune"].str.startswith("6938").any()
    assert "69152" not in set(communes["code_commune"])  # Pierre-Bénite merged 1 Jan 2024
    grenoble = communes.set_index("code_commune").loc["38185"]
    assert grenoble["name"] == "Grenoble"
    c = gpd.GeoSeries([grenoble.geometry], crs=4326).to_crs(2154).centroid.to_crs(4326).iloc[0]
    assert c.y == pytest.approx(45.182, abs=0.003) and c.x == pytest.approx(5.721, abs=0.003)


@pytest.mark.raw
def test_iris_polygons(raw_dir, communes):
    iris = geo.load_iris_polygons(raw_dir)
    assert len(iris) == 5223
    assert list(iris.columns) == ["code_iris", "name", "code_commune", "geometry"]
    assert iris["code_iris"].str.len().eq(9).all() and iris["code_iris"].is_unique
    assert (iris["code_commune"] == iris["code_iris"].str[:5]).all()
    assert (iris["code_commune"] == "38185").sum() == 70
    assert iris["code_commune"].str.startswith("38").sum() == 728
    # IRIS geography 2023: Pierre-Bénite still separate; Lyon has no IRIS in this extract
    assert set(iris["code_commune"]) - set(communes["code_commune"]) == {"69152"}
    assert set(communes["code_commune"]) - set(iris["code_commune"]) == {"69123"}
    assert iris.set_index("code_iris").loc["010790000", "name"] == "Champagne-en-Valromey (commune non irisée)"


@pytest.mark.raw
def test_departement_and_region_polygons(raw_dir):
    dep = geo.load_departement_polygons(raw_dir)
    assert dep["code"].tolist() == ["01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"]
    assert dep.set_index("code").loc["38", "name"] == "Isère"
    reg = geo.load_region_polygons(raw_dir)  # a single Feature, not a FeatureCollection
    assert reg[["code", "name"]].values.tolist() == [["84", "Auvergne-Rhône-Alpes"]]
    assert reg.crs.to_epsg() == 4326


# ---------------------------------------------------------------------------------------------
# COG referential


@pytest.mark.raw
def test_cog_communes(raw_dir):
    cog = geo.load_cog_communes(raw_dir)
    assert len(cog) == 34969 and set(cog["type"]) == {"commune-actuelle"}
    g = cog.set_index("code_commune")
    assert g.loc["38185", "population_municipale"] == 156140
    assert g.loc["38185", "siren_commune"] == "213801855"
    assert g.loc["38185", "code_departement"] == "38" and g.loc["38185", "code_region"] == "84"
    assert g.loc["69123", "former_codes"] == ["69232"]
    assert g.loc["69114", "former_codes"] == ["69101", "69159"]
    assert g.loc["2A004", "code_departement"] == "2A"
    assert (cog["code_region"] == "84").sum() == 4025 and cog["code_commune"].str.startswith("38").sum() == 512
    arr = geo.load_cog_communes(raw_dir, types=["arrondissement-municipal"])
    assert len(arr) == 45
    assert sorted(arr.loc[arr["code_parent"] == "69123", "code_commune"]) == [f"6938{i}" for i in range(1, 10)]
    assert arr["siren_commune"].isna().all()


@pytest.mark.raw
def test_cog_epci_membership(raw_dir, targets):
    for vintage in (2024, 2025):
        epci = geo.load_cog_epci(raw_dir, vintage=vintage)
        metro = epci[epci["code_epci"] == "200040715"]
        assert len(metro) == 49, vintage
        assert set(metro["epci_type"]) == {"METRO"}
        assert "38185" in set(metro["code_commune"])
    e24 = geo.load_cog_epci(raw_dir, vintage=2024)
    assert set(targets) <= set(e24["code_commune"])  # every COG 2024 polygon has a 2024 EPCI
    assert e24.loc[e24["code_commune"].isin(targets), "code_epci"].nunique() == 172
    with pytest.raises(ValueError, match="2024 or 2025"):
        geo.load_cog_epci(raw_dir, vintage=2019)


@pytest.mark.raw
def test_cog_departements_regions(raw_dir):
    dep = geo.load_cog_departements(raw_dir)
    assert len(dep) == 109
    assert dep.set_index("code").loc["38"].tolist() == ["Isère", "84"]
    assert {"2A", "2B", "971"} <= set(dep["code"])
    reg = geo.load_cog_regions(raw_dir)
    assert len(reg) == 26 and reg.set_index("code").loc["84", "name"] == "Auvergne-Rhône-Alpes"


# ---------------------------------------------------------------------------------------------
# successions


@pytest.mark.raw
def test_cog_2024_2025_differences(raw_dir, targets):
    cur = geo.load_cog_communes(raw_dir)
    ara25 = set(cur.loc[cur["code_region"] == "84", "code_commune"])
    assert sorted(ara25 - set(targets)) == ["15031", "15035", "15047", "15171", "69114"]
    assert sorted(set(targets) - ara25) == ["01330", "26371", "42072", "42109", "42252", "63330", "69159"]


@pytest.mark.raw
def test_successor_map_real_cases(raw_dir, targets):
    codes = ["38185", "69152", "69114", "69101", "15031", "69381", "01176", "01330", "75056", "bad", "1001"]
    m = geo.commune_successor_map(raw_dir, targets, codes).set_index("old_code")
    assert m.loc["38185", ["code_commune", "status"]].tolist() == ["38185", "same"]
    assert m.loc["69152", ["code_commune", "status"]].tolist() == ["69149", "successor"]  # merged 2024
    assert m.loc["69114", ["code_commune", "status"]].tolist() == ["69159", "successor"]  # 2025 code of a 2024 commune
    assert m.loc["69101", "code_commune"] == "69159"
    assert m.loc["69114", "n_merged"] == 2  # 69114 and 69101 of the input land in 69159
    assert m.loc["15031", ["code_commune", "status"]].tolist() == ["15141", "restored_2025"]
    assert m.loc["69381", ["code_commune", "status"]].tolist() == ["69123", "arrondissement"]
    assert m.loc["01330", "status"] == "same"  # merged only in 2025: still a 2024 commune
    assert m.loc["01176", "status"] == "ambiguous" and m.loc["01176", "candidates"] == ["01187", "01330"]
    assert m.loc["75056", "status"] == "unmapped"  # Paris is not a target commune
    assert m.loc["bad", "status"] == "invalid_code"
    assert m.loc["01001", "code_commune"] == "01001"  # "1001" zero-padded
    assert set(geo.unmapped_codes(m.reset_index())["old_code"]) == {"01176", "75056", "bad"}


@pytest.mark.raw
def test_successor_map_universe(raw_dir, targets):
    m = geo.commune_successor_map(raw_dir, targets)
    counts = m["status"].value_counts().to_dict()
    assert counts == {"same": 4027, "successor": 335, "arrondissement": 9, "restored_2025": 4, "ambiguous": 3}
    assert m.loc[m["status"] == "ambiguous", "old_code"].tolist() == ["01176", "01292", "01409"]
    # every 2024-only code maps to itself; every 2025-only code maps into the COG 2024 set
    only25 = m.set_index("old_code").loc[["15031", "15035", "15047", "15171", "69114"], "code_commune"]
    assert only25.tolist() == ["15141", "15141", "15141", "15141", "69159"]
    assert m.set_index("old_code").loc["69123", "n_merged"] == 11  # itself, 69232, 9 arrondissements


@pytest.mark.raw
def test_commune_2025_to_2024(raw_dir, targets):
    r = geo.commune_2025_to_2024(raw_dir, targets)
    aura = r[r["relation"] != "outside"]
    assert len(aura) == 4025
    assert aura["relation"].value_counts().to_dict() == {
        "same": 4014,
        "merged_2025": 5,
        "restored_2025": 5,
        "code_changed": 1,
    }
    rr = r.set_index("code_commune_2025")
    assert rr.loc["42084", "codes_2024"] == ["42084", "42109", "42252"]
    assert rr.loc["69114", "codes_2024"] == ["69159"]
    covered = {c for cs in aura["codes_2024"] for c in cs}
    assert covered == set(targets)  # every 2024 commune is covered by a 2025 commune


def _write_cog(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_successor_map_synthetic(tmp_path):
    """A hand-checkable history: 99002 merged into 99001 (2019); 99004 into 99003 (2019), then
    99003 + 99005 merged in 2025 as 99005; 99006 restored from nowhere; arrondissement 99101."""
    recs = [
        {
            "code": "99001",
            "nom": "A",
            "type": "commune-actuelle",
            "departement": "99",
            "region": "99",
            "anciensCodes": ["99002"],
        },
        {
            "code": "99005",
            "nom": "C",
            "type": "commune-actuelle",
            "departement": "99",
            "region": "99",
            "anciensCodes": ["99003", "99004"],
        },
        {
            "code": "99003",
            "nom": "B",
            "type": "commune-deleguee",
            "departement": "99",
            "region": "99",
            "chefLieu": "99005",
        },
        {
            "code": "99101",
            "nom": "A 1er",
            "type": "arrondissement-municipal",
            "departement": "99",
            "region": "99",
            "commune": "99001",
        },
    ]
    cog = _write_cog(tmp_path / "communes.json", recs)
    targets = ["99001", "99003", "99005"]  # the 2024 layer: A, B, C
    m = geo.commune_successor_map(
        tmp_path, targets, ["99002", "99004", "99003", "99101", "99777"], cog_path=cog
    ).set_index("old_code")
    assert m.loc["99002", ["code_commune", "status"]].tolist() == ["99001", "successor"]
    assert m.loc["99004", "status"] == "ambiguous" and m.loc["99004", "candidates"] == ["99003", "99005"]
    assert m.loc["99003", "status"] == "same"
    assert m.loc["99101", ["code_commune", "status"]].tolist() == ["99001", "arrondissement"]
    assert m.loc["99777", "status"] == "unmapped"
    assert m.loc["99002", "n_merged"] == 2 and m.loc["99777", "n_merged"] == 0
    with pytest.raises(ValueError, match="target_codes is empty"):
        geo.commune_successor_map(tmp_path, [], cog_path=cog)


# ---------------------------------------------------------------------------------------------
# topology-preserving simplification


def _neighbour_pairs(geoms: np.ndarray) -> dict[tuple[int, int], float]:
    """{(i, j): length of the shared border} for polygons sharing a border of positive length."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    shared = shapely.length(
        shapely.intersection(shapely.boundary(geoms[left[keep]]), shapely.boundary(geoms[right[keep]]))
    )
    return {(int(i), int(j)): float(s) for i, j, s in zip(left[keep], right[keep], shared, strict=True) if s > 0}


@pytest.mark.raw
def test_topology_simplify_isere_keeps_shared_borders(communes):
    isere = communes[communes["code_commune"].str.startswith("38")].to_crs(2154).reset_index(drop=True)
    before = np.asarray(isere.geometry.values, dtype=object)
    out = geo.topology_simplify(isere, 300)
    after = np.asarray(out.geometry.values, dtype=object)
    assert list(out.columns) == list(isere.columns) and out["code_commune"].equals(isere["code_commune"])
    assert shapely.get_num_coordinates(after).sum() < 0.8 * shapely.get_num_coordinates(before).sum()
    assert shapely.is_valid(after).all() and shapely.coverage_is_valid(after)
    # no overlaps: the union has the area of the sum; no gaps: union area ≈ the original union area
    sum_area = shapely.area(after).sum()
    union_area = shapely.union_all(after).area
    assert abs(sum_area - union_area) < 1.0  # m², i.e. no overlap beyond rounding
    assert union_area == pytest.approx(shapely.union_all(before).area, rel=1e-3)
    u = shapely.union_all(after)
    holes = [r for p in shapely.get_parts(u) for r in p.interiors]
    assert len(holes) == len([r for p in shapely.get_parts(shapely.union_all(before)) for r in p.interiors])
    # every pair of neighbours still shares a border of positive length
    nb_before, nb_after = _neighbour_pairs(before), _neighbour_pairs(after)
    assert set(nb_before) == set(nb_after) and len(nb_before) > 1200
    # each commune moved by less than a few tolerances
    assert shapely.hausdorff_distance(before, after).max() < 1500


@pytest.mark.raw
def test_topology_simplify_repairs_aura_coverage(communes):
    aura = communes.to_crs(2154)
    geoms = np.asarray(aura.geometry.values, dtype=object)
    assert not shapely.coverage_is_valid(geoms)  # per-département extracts: borders do not match
    out = np.asarray(geo.topology_simplify(aura, 100).geometry.values, dtype=object)
    assert shapely.coverage_is_valid(out) and shapely.is_valid(out).all() and not shapely.is_empty(out).any()
    assert abs(shapely.area(out).sum() - shapely.union_all(out).area) < 10.0
    # only the Enclave des Papes (Vaucluse, inside Drôme) remains as a hole, the slivers are gone
    holes = [Polygon(r) for p in shapely.get_parts(shapely.union_all(out)) for r in p.interiors]
    assert len(holes) == 1 and holes[0].area / 1e6 == pytest.approx(127, abs=5)


def test_topology_simplify_synthetic():
    zigzag = [(10, y) for y in range(0, 11)]
    zigzag = [(10 + (0.2 if k % 2 else 0), y) for k, (_, y) in enumerate(zigzag)]
    left = Polygon([(0, 0), *zigzag, (0, 10)])
    right = Polygon([(20, 0), (20, 10), *reversed(zigzag)])
    gdf = gpd.GeoDataFrame({"code": ["L", "R"]}, geometry=[left, right], crs=2154)
    out = geo.topology_simplify(gdf, 1.0)
    a, b = out.geometry.values
    assert shapely.get_num_coordinates(a) < shapely.get_num_coordinates(left)
    assert a.area + b.area == pytest.approx(200.0)  # total preserved: no gap, no overlap
    assert a.intersection(b).area == pytest.approx(0.0, abs=1e-9)
    assert a.intersection(b).length >= 10.0  # they still share the whole border
    with pytest.raises(ValueError, match="Polygon"):
        geo.topology_simplify(gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs=2154), 1.0)


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.raw
def test_truncated_geojson(tmp_path, raw_dir):
    src = raw_dir / geo.SOURCES["communes_ara_cog2024"].raw_path
    bad = tmp_path / "communes_truncated.geojson"
    bad.write_bytes(src.read_bytes()[:200_000])
    with pytest.raises(LoaderError, match="communes_truncated.geojson.*truncated"):
        geo.load_commune_polygons(path=bad)


def test_geojson_missing_property(tmp_path):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "com38185"},
                "geometry": Polygon([(0, 0), (1, 0), (1, 1)]).__geo_interface__,
            }
        ],
    }
    bad = tmp_path / "wrong_props.geojson"
    bad.write_text(json.dumps(fc), encoding="utf-8")
    with pytest.raises(LoaderError) as err:
        geo.load_commune_polygons(path=bad)
    assert (
        "wrong_props.geojson" in str(err.value)
        and "code_territoire" in str(err.value)
        and "libelle_territoire" in str(err.value)
    )


def test_geojson_bad_prefix(tmp_path):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code_territoire": "38185", "libelle_territoire": "Grenoble"},
                "geometry": Polygon([(0, 0), (1, 0), (1, 1)]).__geo_interface__,
            }
        ],
    }
    bad = tmp_path / "no_prefix.geojson"
    bad.write_text(json.dumps(fc), encoding="utf-8")
    with pytest.raises(LoaderError, match="no_prefix.geojson.*'com' prefix"):
        geo.load_commune_polygons(path=bad)


def test_cog_missing_key_and_latin1(tmp_path):
    bad = _write_cog(
        tmp_path / "epci.json", [{"code": "200040715", "nom": "Grenoble-Alpes-Métropole", "type": "METRO"}]
    )
    with pytest.raises(LoaderError) as err:
        geo.load_cog_epci(tmp_path, path=bad)
    assert "epci.json" in str(err.value) and "membres" in str(err.value)
    rec = [
        {
            "code": "200040715",
            "nom": "Grenoble-Alpes-Métropole",
            "type": "METRO",
            "membres": [{"code": "38185", "nom": "Grenoble", "siren": "213801855"}],
        }
    ]
    latin = tmp_path / "epci_latin1.json"
    latin.write_bytes(json.dumps(rec, ensure_ascii=False).encode("latin-1"))
    df = geo.load_cog_epci(tmp_path, path=latin)  # re-encoded in latin-1: decoded all the same
    assert df.loc[0, "epci_name"] == "Grenoble-Alpes-Métropole" and df.loc[0, "code_commune"] == "38185"


# ---------------------------------------------------------------------------------------------
# download (no network)


def _tarball(tmp_path: Path, member: str, payload: bytes) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    p = tmp_path / "decoupage-administratif-5.3.0.tgz"
    p.write_bytes(buf.getvalue())
    return p


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network used in a test")

    monkeypatch.setattr("requests.Session.get", refuse)
    monkeypatch.setattr("requests.get", refuse)


def test_download_extracts_checked_member(tmp_path, monkeypatch, no_network):
    payload = json.dumps([{"code": "84", "nom": "Auvergne-Rhône-Alpes"}]).encode()
    tgz = _tarball(tmp_path, "package/data/regions.json", payload)
    calls = []

    def fake_fetch(url, name, **kw):
        calls.append((url, name))
        return tgz

    monkeypatch.setattr(loaders.download, "fetch", fake_fetch)
    monkeypatch.setitem(geo.NPM_TARBALL_SHA1, "5.3.0", hashlib.sha1(tgz.read_bytes()).hexdigest())
    out = geo.download("cog2025_regions")
    assert calls == [(geo.SOURCES["cog2025_regions"].url, "decoupage-administratif-5.3.0.tgz")]
    assert calls[0][0].startswith("https://registry.npmjs.org/@etalab/decoupage-administratif/")
    assert out.name == "cog2025_regions_decoupage-administratif-5.3.0.json" and out.read_bytes() == payload
    assert geo.load_cog_regions(path=out)["name"].tolist() == ["Auvergne-Rhône-Alpes"]


def test_download_rejects_wrong_checksum_and_missing_url(tmp_path, monkeypatch, no_network):
    tgz = _tarball(tmp_path, "package/data/regions.json", b"[]")
    monkeypatch.setattr(loaders.download, "fetch", lambda url, name, **kw: tgz)
    with pytest.raises(LoaderError, match="sha1"):
        geo.download("cog2025_regions")  # the real published sha1 does not match this tarball
    with pytest.raises(LoaderError, match="no official download URL"):
        geo.download("communes_ara_cog2024")
    with pytest.raises(LoaderError, match="unknown source key"):
        geo.download("nope")


def test_sources_declared():
    for key, src in geo.SOURCES.items():
        assert src.key == key and src.raw_path.startswith("geo/") and src.licence
        if src.url is None:
            assert "erivative" in src.notes


def test_clean_coverage_synthetic():
    """Two squares overlapping by a 0.1-wide strip: the strip goes to one of them, none is lost."""
    a, b = shapely.box(0, 0, 1, 1), shapely.box(0.9, 0, 2, 1)
    gdf = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[a, b], crs=2154)
    assert not shapely.coverage_is_valid(np.asarray(gdf.geometry.values, dtype=object))
    out = geo.clean_coverage(gdf)
    g = np.asarray(out.geometry.values, dtype=object)
    assert shapely.coverage_is_valid(g)
    assert shapely.area(g).sum() == pytest.approx(2.0)  # = area of the union, overlap counted once
    assert out["code"].tolist() == ["A", "B"]
