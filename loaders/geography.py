"""Boundaries and the administrative referential (COG): polygons, membership, commune successions.

Files handled (``raw/geo/``, see ``shared/data/SOURCES-geo-insee.md`` section A):

- commune / IRIS polygons of Auvergne-Rhône-Alpes (COG 2024, IRIS 2023; third-party simplified
  GeoJSON whose ``code_territoire`` carries a ``com`` / ``iris`` prefix);
- département and région polygons (ADMIN EXPRESS 2018 derivative; the région file is a single
  GeoJSON *Feature*, not a FeatureCollection);
- the COG referential of ``@etalab/decoupage-administratif`` (communes, EPCI, départements,
  régions; 5.3.0 = COG 2025, plus the EPCI file of 4.1.0 = COG 2024).

Every polygon loader returns WGS84 (EPSG:4326) as published; reproject to Lambert-93 (EPSG:2154)
for computation. Codes are strings: commune ``01001`` / ``2A004``, IRIS 9 characters, SIREN 9
digits. :func:`commune_successor_map` carries any former commune code (ARCEP 2018, IRIS 2023,
COG 2025…) to the commune of the polygon layer, and :func:`topology_simplify` simplifies a polygon
layer while keeping shared borders shared.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from loaders import RAW_DIR
from loaders import download as dl
from loaders.errors import LoaderError
from loaders.sources import Source
from loaders.tabular import commune_code, iris_code, read_json, siren_code

WGS84 = "EPSG:4326"
LAMBERT93 = "EPSG:2154"

_NPM_BASE = "https://registry.npmjs.org/@etalab/decoupage-administratif/-/decoupage-administratif-{v}.tgz"
_NPM_PAGE = "https://www.npmjs.com/package/@etalab/decoupage-administratif"
_ETALAB = "Licence Ouverte / Etalab 2.0"
_DERIVATIVE_GEO = (
    "Derivative: simplified polygons from GitHub mathieulebasic/france-geojson (commit 72e7e73), built "
    "from a private database; upstream almost certainly IGN ADMIN EXPRESS, unverified. Official "
    "full-resolution alternative: IGN ADMIN EXPRESS COG CARTO / CONTOURS-IRIS (data.geopf.fr)."
)

#: sha1 of the npm tarballs, as recorded in SOURCES-geo-insee.md (A8, A9); checked by :func:`download`.
NPM_TARBALL_SHA1 = {
    "5.3.0": "53c1ce474b9246a169355f6c15b705c03251a615",
    "4.1.0": "a06c1fd4bf690a25b55e34846f479850cf2fcb85",
}


def _cog_source(key: str, what: str, version: str, member: str, raw_path: str, vintage: str, notes: str = "", *,
                sha256: str | None = None) -> Source:
    return Source(
        key=key,
        title=f"Découpage administratif ({what}) — @etalab/decoupage-administratif {version}",
        producer="Etalab (from INSEE COG, DGCL EPCI list, INSEE populations légales)",
        vintage=vintage,
        raw_path=raw_path,
        licence=_ETALAB,
        url=_NPM_BASE.format(v=version),
        page=_NPM_PAGE,
        notes=(
            f"Official file {member} inside the npm tarball (the URL is the tarball; download() "
            f"checks its sha1 and extracts the member). " + notes
        ).strip(),
        sha256=sha256,
    )


SOURCES: dict[str, Source] = {
    "communes_ara_cog2024": Source(
        key="communes_ara_cog2024",
        title="Communes d'Auvergne-Rhône-Alpes, contours simplifiés (COG 2024)",
        producer="IGN (via a third-party extract)",
        vintage="COG 2024",
        raw_path="geo/communes_ara_cog2024_simplifiees.geojson",
        sha256="b8d8183eee4618b2b626d604c113c5a079a85305a28665fc492427129d524295",
        licence="Licence Ouverte (IGN data); derivative's own licence unstated",
        url=None,
        page="https://github.com/mathieulebasic/france-geojson",
        notes=_DERIVATIVE_GEO + " 4 027 communes; Lyon as 69123 only (no arrondissements).",
    ),
    "iris_ara_2023": Source(
        key="iris_ara_2023",
        title="IRIS d'Auvergne-Rhône-Alpes, contours simplifiés (géographie IRIS 2023)",
        producer="IGN / INSEE (via a third-party extract)",
        vintage="IRIS 2023",
        raw_path="geo/iris_ara_simplifies.geojson",
        sha256="95f97091813a9c7beb66dfbe3a7bbb77d34d303d4aee48ac0c8a0b6a154fca41",
        licence="Licence Ouverte (IGN/INSEE data); derivative's own licence unstated",
        url=None,
        page="https://geoservices.ign.fr/contoursiris",
        notes=_DERIVATIVE_GEO + " 5 223 IRIS; Lyon (69123) has no IRIS in this file; "
        "Pierre-Bénite (69152) IRIS keep their pre-2024 commune code.",
    ),
    "departements_ara_2018": Source(
        key="departements_ara_2018",
        title="Départements d'Auvergne-Rhône-Alpes (ADMIN EXPRESS COG 2018, simplifiés)",
        producer="IGN / INSEE (via gregoiredavid/france-geojson v2.1.1)",
        vintage="ADMIN EXPRESS COG 2018",
        raw_path="geo/departements_ara_adminexpress2018.geojson",
        sha256="87e859cfcfcc75dd2c689ef06b8770f3670f4c5cc4abeb8dc37903f1c5498ab7",
        licence=_ETALAB,
        url=None,
        page="https://github.com/gregoiredavid/france-geojson",
        notes="Derivative (mapshaper, Visvalingam 25 %, 5 decimals) of IGN ADMIN EXPRESS 2018; "
        "département boundaries unchanged since 2018.",
    ),
    "region_ara_2018": Source(
        key="region_ara_2018",
        title="Région Auvergne-Rhône-Alpes (ADMIN EXPRESS COG 2018, simplifiée)",
        producer="IGN / INSEE (via gregoiredavid/france-geojson v2.1.1)",
        vintage="ADMIN EXPRESS COG 2018",
        raw_path="geo/region_ara_adminexpress2018.geojson",
        sha256="76ef7153ee5442eebc36fd57d0ef6dcbab4c3edc9336a6dfb0c2804b7f4cb7dd",
        licence=_ETALAB,
        url=None,
        page="https://github.com/gregoiredavid/france-geojson",
        notes="Derivative of IGN ADMIN EXPRESS 2018; a single GeoJSON Feature.",
    ),
    "cog2025_communes": _cog_source(
        "cog2025_communes",
        "communes",
        "5.3.0",
        "package/data/communes.json",
        "geo/cog2025_communes_decoupage-administratif-5.3.0.json",
        "COG 2025",
        "Types commune-actuelle, commune-deleguee, commune-associee, arrondissement-municipal.",
        sha256="9e715d2b08ab864980efe9945c9780d0b03cb8800a7075ab74012fb9647be360",
    ),
    "cog2025_epci": _cog_source(
        "cog2025_epci",
        "EPCI",
        "5.3.0",
        "package/data/epci.json",
        "geo/cog2025_epci_decoupage-administratif-5.3.0.json",
        "COG 2025 (DGCL epcicom2025)",
        sha256="40758ace686311837c484da81c2a8ba00a9f356bc6210f3316c6b19daa4dc967",
    ),
    "cog2025_departements": _cog_source(
        "cog2025_departements",
        "départements",
        "5.3.0",
        "package/data/departements.json",
        "geo/cog2025_departements_decoupage-administratif-5.3.0.json",
        "COG 2025",
        sha256="1ebe7e0ad0a49653c899087194344ec67f7115b728c4e1b98f741bd655b545e0",
    ),
    "cog2025_regions": _cog_source(
        "cog2025_regions",
        "régions",
        "5.3.0",
        "package/data/regions.json",
        "geo/cog2025_regions_decoupage-administratif-5.3.0.json",
        "COG 2025",
        sha256="98cb7c781d09577634b9e104dfbb92e39a0d10ae0e1c6c20978a49a474e1dba5",
    ),
    "cog2024_epci": _cog_source(
        "cog2024_epci",
        "EPCI",
        "4.1.0",
        "package/data/epci.json",
        "geo/cog2024_epci_decoupage-administratif-4.1.0.json",
        "COG 2024 (DGCL list, early 2024)",
        "Matches the COG 2024 commune polygons; exact DGCL millésime slightly uncertain.",
        sha256="380599a04b17676e536e2739256db30ea6f23259a022f937c1791969a17c925c",
    ),
}

#: npm member inside the tarball for each COG source.
_NPM_MEMBER = {
    "cog2025_communes": ("5.3.0", "package/data/communes.json"),
    "cog2025_epci": ("5.3.0", "package/data/epci.json"),
    "cog2025_departements": ("5.3.0", "package/data/departements.json"),
    "cog2025_regions": ("5.3.0", "package/data/regions.json"),
    "cog2024_epci": ("4.1.0", "package/data/epci.json"),
}

#: Communes restored ("rétablies") on 1 January 2025, which the COG 2025 file cannot link back:
#: they were delegated parts of Neussargues en Pinatelle (15141, created 2017) in COG 2024; 15141
#: itself became "Neussargues-Moissac" again. (INSEE COG 2025 events; the 2025 file lists no
#: anciensCodes for any of these five codes.)
RESTORED_2025 = {"15031": "15141", "15035": "15141", "15047": "15141", "15171": "15141"}


# --------------------------------------------------------------------------------------------
# download


def download(key: str) -> Path:
    """Download the official file of ``key`` into the user cache and return its path.

    COG files come inside the ``@etalab/decoupage-administratif`` npm tarball: the tarball is
    fetched with :func:`loaders.download.fetch`, its sha1 is checked against the one recorded in
    the SOURCES file, and the JSON member is extracted next to it (atomic rename). Sources without
    an official URL (the third-party polygon extracts) raise :class:`LoaderError`.
    """
    if key not in SOURCES:
        raise LoaderError(key, "unknown source key", f"one of {', '.join(SOURCES)}")
    src = SOURCES[key]
    if not src.url:
        raise LoaderError(src.raw_path, f"source {key!r} has no official download URL", src.notes or "a local file")
    version, member = _NPM_MEMBER[key]
    tgz = dl.fetch(src.url, f"decoupage-administratif-{version}.tgz")
    digest = hashlib.sha1(Path(tgz).read_bytes()).hexdigest()
    expected = NPM_TARBALL_SHA1.get(version)
    if expected and digest != expected:
        raise LoaderError(tgz, f"sha1 {digest} does not match the published tarball", f"sha1 {expected}")
    target = Path(tgz).with_name(Path(src.raw_path).name)
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            fh = tar.extractfile(member)
            if fh is None:
                raise KeyError(member)
            data = fh.read()
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise LoaderError(tgz, f"cannot extract {member}: {exc}", f"an npm tarball containing {member}") from exc
    part = target.with_name(target.name + ".part")
    part.write_bytes(data)
    part.replace(target)
    return target


def _path(raw_dir: Path | str, key: str, path: Path | str | None) -> Path:
    return Path(path) if path is not None else Path(raw_dir) / SOURCES[key].raw_path


# --------------------------------------------------------------------------------------------
# polygons


def _features(path: Path, required_props: Iterable[str]) -> list[dict]:
    """Features of a GeoJSON FeatureCollection or single Feature, checking their properties."""
    doc = read_json(path)
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features") or []
    elif isinstance(doc, dict) and doc.get("type") == "Feature":
        feats = [doc]
    else:
        raise LoaderError(path, "not a GeoJSON FeatureCollection or Feature", "GeoJSON with polygon features")
    if not feats:
        raise LoaderError(path, "GeoJSON has no features", "at least one feature")
    required = list(required_props)
    for i, f in enumerate(feats):
        props = f.get("properties") or {}
        missing = [k for k in required if k not in props]
        if missing or not f.get("geometry"):
            what = f"missing properties {missing}" if missing else "no geometry"
            raise LoaderError(
                path, f"feature {i}: {what}; found {sorted(props)}", f"properties {', '.join(required)} and a geometry"
            )
    return feats


def _geodataframe(path: Path, feats: list[dict]) -> gpd.GeoDataFrame:
    try:
        gdf = gpd.GeoDataFrame.from_features(feats, crs=WGS84)
    except Exception as exc:  # shapely raises several types on bad coordinates
        raise LoaderError(path, f"invalid geometry: {exc}", "GeoJSON (Multi)Polygon geometries in lon/lat") from exc
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        bad = sorted(set(gdf.geom_type) - {"Polygon", "MultiPolygon"})
        raise LoaderError(path, f"non-polygon geometries {bad}", "Polygon / MultiPolygon")
    return gdf


def _strip_prefix(path: Path, values: pd.Series, prefix: str, normalise) -> pd.Series:
    s = values.astype("string")
    ok = s.str.startswith(prefix).fillna(False)
    if not ok.all():
        raise LoaderError(
            path, f"code {s[~ok].iloc[0]!r} lacks the {prefix!r} prefix", f"code_territoire like {prefix}38185"
        )
    codes = normalise(s.str.slice(len(prefix)))
    if codes.isna().any():
        raise LoaderError(path, f"invalid code {s[codes.isna()].iloc[0]!r}", f"{prefix} + an INSEE code")
    if codes.duplicated().any():
        raise LoaderError(path, f"duplicated code {codes[codes.duplicated()].iloc[0]!r}", "one feature per code")
    return codes


def load_commune_polygons(raw_dir: Path = RAW_DIR, path: Path | None = None) -> gpd.GeoDataFrame:
    """Commune polygons, COG 2024, WGS84.

    Columns: ``code_commune`` (str, 5 chars, ``com`` prefix stripped), ``name`` (str),
    ``geometry`` (Polygon/MultiPolygon, EPSG:4326). Sorted by code. AURA file: 4 027 rows; Lyon is
    one polygon 69123 (no arrondissements).
    """
    p = _path(raw_dir, "communes_ara_cog2024", path)
    gdf = _geodataframe(p, _features(p, ["code_territoire", "libelle_territoire"]))
    out = gpd.GeoDataFrame(
        {
            "code_commune": _strip_prefix(p, gdf["code_territoire"], "com", commune_code).astype(str),
            "name": gdf["libelle_territoire"].astype(str),
        },
        geometry=gdf.geometry.values,
        crs=WGS84,
    )
    return out.sort_values("code_commune", ignore_index=True)


def load_iris_polygons(raw_dir: Path = RAW_DIR, path: Path | None = None) -> gpd.GeoDataFrame:
    """IRIS polygons (IRIS geography 2023), WGS84.

    Columns: ``code_iris`` (str, 9 chars, ``iris`` prefix stripped), ``name`` (IRIS name; a
    non-"irisée" commune is one IRIS ``XXXXX0000``), ``code_commune`` (= the first 5 characters,
    i.e. the commune of the IRIS 2023 geography: Pierre-Bénite IRIS keep 69152, merged into 69149
    in 2024 — map with :func:`commune_successor_map`), ``geometry`` (EPSG:4326). The AURA file has
    5 223 IRIS and no IRIS for Lyon (69123).
    """
    p = _path(raw_dir, "iris_ara_2023", path)
    gdf = _geodataframe(p, _features(p, ["code_territoire", "libelle_territoire"]))
    codes = _strip_prefix(p, gdf["code_territoire"], "iris", iris_code)
    out = gpd.GeoDataFrame(
        {
            "code_iris": codes.astype(str),
            "name": gdf["libelle_territoire"].astype(str),
            "code_commune": codes.str.slice(0, 5).astype(str),
        },
        geometry=gdf.geometry.values,
        crs=WGS84,
    )
    return out.sort_values("code_iris", ignore_index=True)


def _code_name_polygons(path: Path) -> gpd.GeoDataFrame:
    gdf = _geodataframe(path, _features(path, ["code", "nom"]))
    codes = gdf["code"].astype("string").str.strip().str.upper()
    if codes.isna().any() or (codes == "").any():
        raise LoaderError(path, "empty zone code", "a code per feature")
    out = gpd.GeoDataFrame(
        {"code": codes.astype(str), "name": gdf["nom"].astype(str)}, geometry=gdf.geometry.values, crs=WGS84
    )
    return out.sort_values("code", ignore_index=True)


def load_departement_polygons(raw_dir: Path = RAW_DIR, path: Path | None = None) -> gpd.GeoDataFrame:
    """Département polygons (ADMIN EXPRESS 2018 simplified): ``code`` (``01``, ``2A``), ``name``, ``geometry`` (EPSG:4326)."""
    p = _path(raw_dir, "departements_ara_2018", path)
    out = _code_name_polygons(p)
    out["code"] = out["code"].str.zfill(2)
    return out


def load_region_polygons(raw_dir: Path = RAW_DIR, path: Path | None = None) -> gpd.GeoDataFrame:
    """Région polygon(s): ``code`` (``84``), ``name``, ``geometry`` (EPSG:4326); the file may be a single Feature."""
    p = _path(raw_dir, "region_ara_2018", path)
    out = _code_name_polygons(p)
    out["code"] = out["code"].str.zfill(2)
    return out


# --------------------------------------------------------------------------------------------
# COG referential (JSON lists of objects)


def _records(path: Path, required: Iterable[str]) -> list[dict]:
    doc = read_json(path)
    required = list(required)
    if not isinstance(doc, list) or not doc or not all(isinstance(r, dict) for r in doc):
        raise LoaderError(
            path, "not a non-empty JSON list of objects", f"a list of objects with keys {', '.join(required)}"
        )
    for i, rec in enumerate(doc):
        missing = [k for k in required if k not in rec]
        if missing:
            raise LoaderError(
                path, f"object {i} misses keys {missing}; found {sorted(rec)}", f"keys {', '.join(required)}"
            )
    return doc


def load_cog_communes(
    raw_dir: Path = RAW_DIR,
    path: Path | None = None,
    types: Iterable[str] = ("commune-actuelle",),
) -> pd.DataFrame:
    """Communes of the COG 2025 (``communes.json`` of decoupage-administratif 5.3.0).

    ``types`` selects among ``commune-actuelle`` (default, 34 969 rows), ``arrondissement-municipal``
    (Paris/Lyon/Marseille, 45), ``commune-deleguee``, ``commune-associee``.

    Columns: ``code_commune`` (str), ``name``, ``type``, ``code_departement``, ``code_region``,
    ``siren_commune`` (9 digits, NA for non-current types), ``population_municipale`` (Int64, NA
    where not published), ``former_codes`` (list[str], from ``anciensCodes``, empty list when
    none), ``code_parent`` (commune of an arrondissement, chef-lieu of a delegated / associated
    commune; NA for current communes). Sorted by type then code.
    """
    p = _path(raw_dir, "cog2025_communes", path)
    recs = _records(p, ["code", "nom", "type", "departement", "region"])
    types = list(types)
    known = {"commune-actuelle", "arrondissement-municipal", "commune-deleguee", "commune-associee"}
    if set(types) - known:
        raise ValueError(f"unknown commune types {sorted(set(types) - known)}; expected some of {sorted(known)}")
    rows = [r for r in recs if r["type"] in types]
    if not rows:
        raise LoaderError(p, f"no commune of types {types}", "type values like commune-actuelle")
    df = pd.DataFrame(
        {
            "code_commune": commune_code(pd.Series([r["code"] for r in rows], dtype="string")),
            "name": pd.Series([r["nom"] for r in rows], dtype="string"),
            "type": pd.Series([r["type"] for r in rows], dtype="string"),
            "code_departement": pd.Series([r["departement"] for r in rows], dtype="string"),
            "code_region": pd.Series([r["region"] for r in rows], dtype="string"),
            "siren_commune": siren_code(pd.Series([r.get("siren") for r in rows], dtype="string")),
            "population_municipale": pd.array([r.get("population") for r in rows], dtype="Int64"),
            "former_codes": [sorted(str(c).zfill(5) for c in r.get("anciensCodes", [])) for r in rows],
            "code_parent": commune_code(
                pd.Series([r.get("commune") or r.get("chefLieu") for r in rows], dtype="string")
            ),
        }
    )
    if df["code_commune"].isna().any():
        bad = rows[int(np.flatnonzero(df["code_commune"].isna())[0])]["code"]
        raise LoaderError(p, f"invalid commune code {bad!r}", "INSEE codes like 01001 or 2A004")
    return df.sort_values(["type", "code_commune"], ignore_index=True)


def load_cog_epci(raw_dir: Path = RAW_DIR, vintage: int = 2025, path: Path | None = None) -> pd.DataFrame:
    """EPCI à fiscalité propre membership, one row per (EPCI, member commune).

    ``vintage`` 2025 reads ``epci.json`` of decoupage-administratif 5.3.0, 2024 that of 4.1.0 (the
    COG of the commune polygons). Columns: ``code_epci`` (SIREN, 9 digits), ``epci_name``,
    ``epci_type`` (CC, CA, CU, METRO, MET69), ``financing`` (FPU/FA), ``code_commune``,
    ``commune_name``, ``siren_commune``, ``population_municipale`` (Int64, of the member).
    Grenoble-Alpes-Métropole (200040715) has 49 members in both vintages.
    """
    key = {2025: "cog2025_epci", 2024: "cog2024_epci"}.get(int(vintage))
    if key is None:
        raise ValueError(f"vintage {vintage!r} not available; expected 2024 or 2025")
    p = _path(raw_dir, key, path)
    recs = _records(p, ["code", "nom", "type", "membres"])
    rows = []
    for e in recs:
        for m in e["membres"] or []:
            if "code" not in m:
                raise LoaderError(
                    p, f"a member of EPCI {e['code']} has no commune code", "membres: [{code, siren, nom, …}]"
                )
            rows.append(
                (
                    e["code"],
                    e["nom"],
                    e["type"],
                    e.get("modeFinancement"),
                    m["code"],
                    m.get("nom"),
                    m.get("siren"),
                    m.get("populationMunicipale"),
                )
            )
    if not rows:
        raise LoaderError(p, "no EPCI member listed", "EPCI objects with a membres list")
    cols = [
        "code_epci",
        "epci_name",
        "epci_type",
        "financing",
        "code_commune",
        "commune_name",
        "siren_commune",
        "population_municipale",
    ]
    raw = pd.DataFrame(rows, columns=cols)
    df = pd.DataFrame(
        {
            "code_epci": siren_code(raw["code_epci"].astype("string")),
            "epci_name": raw["epci_name"].astype("string"),
            "epci_type": raw["epci_type"].astype("string"),
            "financing": raw["financing"].astype("string"),
            "code_commune": commune_code(raw["code_commune"].astype("string")),
            "commune_name": raw["commune_name"].astype("string"),
            "siren_commune": siren_code(raw["siren_commune"].astype("string")),
            "population_municipale": pd.array(raw["population_municipale"].tolist(), dtype="Int64"),
        }
    )
    for col in ("code_epci", "code_commune"):
        if df[col].isna().any():
            raise LoaderError(
                p,
                f"invalid {col} {raw.loc[df[col].isna(), col].iloc[0]!r}",
                "SIREN of 9 digits and INSEE commune codes",
            )
    if df["code_commune"].duplicated().any():
        raise LoaderError(
            p,
            f"commune {df.loc[df['code_commune'].duplicated(), 'code_commune'].iloc[0]} in two EPCI",
            "each commune in one EPCI",
        )
    return df.sort_values(["code_epci", "code_commune"], ignore_index=True)


def load_cog_departements(raw_dir: Path = RAW_DIR, path: Path | None = None) -> pd.DataFrame:
    """Départements of the COG 2025: ``code`` (``01``, ``2A``, ``971``), ``name``, ``code_region``; 109 rows."""
    p = _path(raw_dir, "cog2025_departements", path)
    recs = _records(p, ["code", "nom", "region"])
    df = pd.DataFrame(
        {
            "code": [r["code"] for r in recs],
            "name": [r["nom"] for r in recs],
            "code_region": [r["region"] for r in recs],
        },
        dtype="string",
    )
    return df.sort_values("code", ignore_index=True)


def load_cog_regions(raw_dir: Path = RAW_DIR, path: Path | None = None) -> pd.DataFrame:
    """Régions of the COG 2025: ``code`` (``84``), ``name``; 26 rows (incl. overseas)."""
    p = _path(raw_dir, "cog2025_regions", path)
    recs = _records(p, ["code", "nom"])
    df = pd.DataFrame({"code": [r["code"] for r in recs], "name": [r["nom"] for r in recs]}, dtype="string")
    return df.sort_values("code", ignore_index=True)


# --------------------------------------------------------------------------------------------
# commune successions


def _cog_groups(raw_dir: Path, path: Path | None) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """(all COG 2025 rows, {code -> [2025 current communes whose group contains it]}).

    The *group* of a current 2025 commune C is {C} ∪ anciensCodes(C) ∪ its delegated / associated
    communes: every code that is now part of C.
    """
    cog = load_cog_communes(
        raw_dir, path, types=("commune-actuelle", "arrondissement-municipal", "commune-deleguee", "commune-associee")
    )
    member_of: dict[str, set[str]] = {}
    cur = cog[cog["type"] == "commune-actuelle"]
    for code, former in zip(cur["code_commune"], cur["former_codes"], strict=True):
        for k in (code, *former):
            member_of.setdefault(k, set()).add(code)
    parts = cog[cog["type"].isin(["commune-deleguee", "commune-associee"]) & cog["code_parent"].notna()]
    for code, parent in zip(parts["code_commune"], parts["code_parent"], strict=True):
        member_of.setdefault(code, set()).add(parent)
    return cog, {k: sorted(v) for k, v in member_of.items()}


def commune_successor_map(
    raw_dir: Path = RAW_DIR,
    target_codes: Iterable[str] = (),
    codes: Iterable[str] | None = None,
    *,
    cog_path: Path | None = None,
) -> pd.DataFrame:
    """Map former commune codes to the commune of ``target_codes`` that contains them today.

    ``target_codes`` is the commune set of the layer to map onto (typically the COG 2024 codes of
    the commune polygons). ``codes`` are the codes to map (e.g. the 2018 codes of the ARCEP files);
    when ``None`` every code known to the COG 2025 file that relates to a target commune is listed.

    Logic, with C(x) = the 2025 current communes whose group ({C} ∪ anciensCodes ∪ delegated /
    associated communes, from COG 2025) contains code x:

    1. x ∈ targets → x itself (``same``): a 2018 code still in the COG 2024 maps to itself, even
       if other communes merged into it since.
    2. x is a municipal arrondissement (Lyon 6938x, Marseille 132xx, Paris 751xx) → its commune
       (``arrondissement``) if that commune is a target.
    3. candidates = (∪ groups of C(x)) ∩ targets. One candidate → it (``successor``): a commune
       merged before 2024 (e.g. 2018 code absorbed by a commune nouvelle of 2019), or a 2025 code
       whose commune existed in 2024 under another code (69114 Porte des Pierres Dorées 2025 →
       69159 in 2024). Because a group only holds codes that are now *part of* C, a 2025 merger
       of two 2024 communes A and B (e.g. Ruffieu 01330 into Haut Valromey 01187) yields two
       candidates only for codes absorbed earlier by A or B; their 2024 owner cannot be known from
       COG 2025 → ``ambiguous`` with the candidates listed and ``code_commune`` NA.
    4. Communes restored in 2025 (15031, 15035, 15047, 15171 split from 15141) are absent from
       every 2024 group → :data:`RESTORED_2025` gives their 2024 commune (``restored_2025``).
    5. Anything else → ``unmapped`` (``code_commune`` NA), e.g. codes of other régions; an input
       code that is not a commune code at all → ``invalid_code``.

    Returns one row per old code: ``old_code``, ``code_commune`` (NA if not mapped), ``status``,
    ``candidates`` (list[str], the target codes considered), ``n_merged`` (number of rows of this
    table mapped to the same ``code_commune``: with ``codes`` given, how many input codes land in
    that commune; 0 for unmapped rows). Direction caveat: 2025 data for a 2025 merger (01187 ⊇
    01187 + 01330 of 2024) cannot be split back; see :func:`commune_2025_to_2024`.
    """
    targets = set(commune_code(pd.Series(list(target_codes), dtype="string")).dropna())
    if not targets:
        raise ValueError("target_codes is empty; expected the commune codes of the layer to map onto")
    cog, member_of = _cog_groups(raw_dir, cog_path)
    groups: dict[str, set[str]] = {}
    for k, owners in member_of.items():
        for c in owners:
            groups.setdefault(c, set()).add(k)
    arr = cog[cog["type"] == "arrondissement-municipal"].set_index("code_commune")["code_parent"].to_dict()

    rows = []
    if codes is None:
        universe = sorted(set(member_of) | set(arr) | set(RESTORED_2025) | targets)
    else:
        given = pd.Series(list(codes), dtype="string")
        normal = commune_code(given)
        for raw in given[normal.isna()].drop_duplicates():
            rows.append((raw, pd.NA, "invalid_code", []))
        universe = list(dict.fromkeys(normal.dropna()))

    for x in universe:
        if x in targets:
            rows.append((x, x, "same", [x]))
            continue
        if x in arr:
            if arr[x] in targets:
                rows.append((x, arr[x], "arrondissement", [arr[x]]))
            elif codes is not None:
                rows.append((x, pd.NA, "unmapped", []))
            continue
        cands = sorted(set().union(*(groups[c] for c in member_of.get(x, []))) & targets) if x in member_of else []
        if len(cands) == 1:
            rows.append((x, cands[0], "successor", cands))
        elif len(cands) > 1:
            rows.append((x, pd.NA, "ambiguous", cands))
        elif RESTORED_2025.get(x) in targets:
            rows.append((x, RESTORED_2025[x], "restored_2025", [RESTORED_2025[x]]))
        elif codes is not None:
            rows.append((x, pd.NA, "unmapped", []))
    df = pd.DataFrame(rows, columns=["old_code", "code_commune", "status", "candidates"])
    df["old_code"] = df["old_code"].astype("string")
    df["code_commune"] = df["code_commune"].astype("string")
    df["status"] = df["status"].astype("string")
    counts = df["code_commune"].value_counts()
    df["n_merged"] = df["code_commune"].map(counts).fillna(0).astype("int64")
    return df.sort_values("old_code", ignore_index=True)


def unmapped_codes(successors: pd.DataFrame) -> pd.DataFrame:
    """Rows of a :func:`commune_successor_map` result that did not land in a target commune."""
    return successors[successors["code_commune"].isna()].reset_index(drop=True)


def commune_2025_to_2024(
    raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = (), *, cog_path: Path | None = None
) -> pd.DataFrame:
    """For each current COG 2025 commune, the target (COG 2024) communes it covers.

    Columns: ``code_commune_2025``, ``codes_2024`` (list[str]) and ``relation``: ``same`` (one
    code, unchanged), ``code_changed`` (one 2024 commune under another code, e.g. 69114 → 69159),
    ``merged_2025`` (several 2024 communes merged in 2025: 2025 values cannot be split),
    ``restored_2025`` (part of a 2024 commune restored in 2025: several 2025 communes share one
    2024 commune, sum them), ``outside`` (no target commune). Use it to join COG 2025 data
    (populations, EPCI 2025) onto COG 2024 polygons.
    """
    targets = set(commune_code(pd.Series(list(target_codes), dtype="string")).dropna())
    if not targets:
        raise ValueError("target_codes is empty; expected the commune codes of the layer to map onto")
    cog, member_of = _cog_groups(raw_dir, cog_path)
    cur = cog[cog["type"] == "commune-actuelle"]
    groups: dict[str, set[str]] = {}
    for k, owners in member_of.items():
        for c in owners:
            groups.setdefault(c, set()).add(k)
    rows = []
    for c in cur["code_commune"]:
        covered = sorted(groups.get(c, {c}) & targets)
        if not covered and RESTORED_2025.get(c) in targets:
            rows.append((c, [RESTORED_2025[c]], "restored_2025"))
        elif not covered:
            rows.append((c, [], "outside"))
        elif len(covered) > 1:
            rows.append((c, covered, "merged_2025"))
        elif covered == [c]:
            rel = "restored_2025" if c in set(RESTORED_2025.values()) else "same"
            rows.append((c, covered, rel))
        else:
            rows.append((c, covered, "code_changed"))
    df = pd.DataFrame(rows, columns=["code_commune_2025", "codes_2024", "relation"])
    df["code_commune_2025"] = df["code_commune_2025"].astype("string")
    df["relation"] = df["relation"].astype("string")
    return df.sort_values("code_commune_2025", ignore_index=True)


# --------------------------------------------------------------------------------------------
# topology-preserving simplification


def clean_coverage(gdf: gpd.GeoDataFrame, gap_width: float = 0.0) -> gpd.GeoDataFrame:
    """Make a polygon layer a valid coverage (``shapely.coverage_clean``), without simplifying.

    Borders closer than a small snapping distance are snapped together, overlaps go to the
    neighbour with the longest common border, gaps narrower than ``gap_width`` (CRS units) are
    merged into a neighbour. The AURA commune file needs it: its per-département extracts overlap
    by ≈ 9 km² in total along département borders. Returns a copy; other columns untouched.
    """
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if not np.isin(shapely.get_type_id(geoms), [3, 6]).all():
        raise ValueError("clean_coverage expects only Polygon / MultiPolygon geometries")
    res = gdf.copy()
    res[res.geometry.name] = gpd.GeoSeries(
        shapely.coverage_clean(geoms, gap_width=gap_width), index=gdf.index, crs=gdf.crs
    )
    return res


def topology_simplify(
    gdf: gpd.GeoDataFrame,
    tolerance: float,
    *,
    clean: bool | None = None,
    gap_width: float | None = None,
    simplify_boundary: bool = True,
) -> gpd.GeoDataFrame:
    """Simplify a polygon *coverage* so that shared borders stay shared (no gaps, no slivers).

    Uses GEOS coverage simplification (``shapely.coverage_simplify``, Visvalingam–Whyatt on the
    edges of the coverage: each shared edge is simplified once, for both neighbours). ``tolerance``
    is in the units of ``gdf``'s CRS (use Lambert-93 metres; it is roughly the square root of the
    area of the triangles removed). A coverage needs edge-matched borders; when the input is not
    a valid coverage (e.g. per-département extracts whose département borders do not match),
    ``shapely.coverage_clean`` first snaps the borders, gives overlaps to the neighbour with the
    longest common border and merges gaps narrower than ``gap_width`` (default: ``tolerance``).
    ``clean=None`` cleans only when needed, ``True`` always, ``False`` never. Returns a copy with
    the geometry replaced; other columns untouched.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if gdf.empty:
        return gdf.copy()
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    types = shapely.get_type_id(geoms)
    if not np.isin(types, [3, 6]).all():  # Polygon, MultiPolygon
        raise ValueError("topology_simplify expects only Polygon / MultiPolygon geometries")
    if clean is None:
        clean = not bool(shapely.coverage_is_valid(geoms))
    if clean:
        geoms = shapely.coverage_clean(geoms, gap_width=tolerance if gap_width is None else gap_width)
    out = shapely.coverage_simplify(geoms, tolerance, simplify_boundary=simplify_boundary)
    empty = shapely.is_empty(out)
    if empty.any():
        raise ValueError(f"{int(empty.sum())} polygons vanished during simplification; lower the tolerance")
    res = gdf.copy()
    res[res.geometry.name] = gpd.GeoSeries(out, index=gdf.index, crs=gdf.crs)
    return res


__all__ = [
    "SOURCES",
    "RESTORED_2025",
    "download",
    "load_commune_polygons",
    "load_iris_polygons",
    "load_departement_polygons",
    "load_region_polygons",
    "load_cog_communes",
    "load_cog_epci",
    "load_cog_departements",
    "load_cog_regions",
    "commune_successor_map",
    "unmapped_codes",
    "commune_2025_to_2024",
    "clean_coverage",
    "topology_simplify",
]
