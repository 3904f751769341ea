"""Build the embedded pack (``geodata/pack``) from the published files.

    python -m loaders.build_pack [--raw-dir DIR] [--out DIR] [--download]

Reads the raw directory (default ``../shared/data/raw``; with ``--download`` the official files
that have a download URL are fetched into the user cache first and used instead), assembles the
zone tables (IRIS, commune, EPCI, département, région), the unified places and the QPV list, and
writes GeoParquet files plus ``manifest.json`` into a temporary directory that replaces the pack
only when everything succeeded, in one atomic step (:func:`write_pack`): a failed or killed build
never leaves a half-written pack, nor a moment without one. Every raw file is checked against the
checksum declared in its loader's ``SOURCES`` before the build starts (:func:`verify_sources`).
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import hashlib
import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from indicators.aggregate import ESTIMATED_STATUSES
from indicators.aggregate import aggregate as aggregate_counts
from loaders import RAW_DIR, activity, arcep, assemble, geography, insee, places, qpv, secret_poverty
from loaders import download as dl
from loaders.errors import LoaderError
from loaders.reference_france import national_reference
from loaders.sources import sha256

PACK_DIR = Path(__file__).resolve().parents[1] / "geodata" / "pack"
L93, WGS84 = "EPSG:2154", "EPSG:4326"
REGION = "84"
#: display simplification tolerance in metres (Lambert-93), per level
#: (GEOS coverage simplification: ≈ square root of the area of the triangles removed)
DISPLAY_TOLERANCE = {"iris": 15.0, "commune": 400.0, "epci": 500.0, "departement": 800.0, "region": 1000.0}
SOURCE_MODULES = (geography, insee, arcep, places, qpv)


def _display_geometry(geom_l93: gpd.GeoSeries, tolerance: float) -> gpd.GeoSeries:
    """Topology-preserving simplification (shared borders stay shared), then WGS84, 5 decimals."""
    simplified = geography.topology_simplify(gpd.GeoDataFrame(geometry=geom_l93), tolerance).geometry
    return simplified.to_crs(WGS84).set_precision(1e-5)


def _rep_points(geom_l93: gpd.GeoSeries) -> pd.DataFrame:
    pts = geom_l93.representative_point()
    lonlat = pts.to_crs(WGS84)
    return pd.DataFrame({"rep_x": pts.x, "rep_y": pts.y, "lon": lonlat.x.round(6), "lat": lonlat.y.round(6)}, index=geom_l93.index)


def _finish(df: pd.DataFrame, geom_l93: gpd.GeoSeries, level: str) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(df, geometry=geom_l93.values, crs=L93)
    gdf["geometry_display"] = _display_geometry(gdf.geometry, DISPLAY_TOLERANCE[level]).values
    gdf["area_km2"] = (gdf.geometry.area / 1e6).round(4)
    gdf.insert(2, "level", level)
    return gdf.sort_values("code").reset_index(drop=True)


AURA_DEPARTEMENTS = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")
#: source key of the public libraries in the places' ``sources`` (distance to the nearest library)
LIBRARY_SOURCE = "culture_bibliotheques_2020"


def _communes(raw_dir: Path) -> tuple[pd.DataFrame, gpd.GeoSeries, pd.DataFrame]:
    """Commune frame (code, name, parent codes), its Lambert-93 polygons, the COG 2024 EPCI members."""
    # the per-département extracts overlap along département borders: make them a clean coverage
    com_poly = geography.clean_coverage(geography.load_commune_polygons(raw_dir).to_crs(L93))
    epci_members = geography.load_cog_epci(raw_dir, vintage=2024)
    com = pd.DataFrame({"code": com_poly["code_commune"].values, "name": com_poly["name"].values})
    com["code_departement"] = com["code"].str[:2]
    com["code_region"] = REGION
    members = epci_members.drop_duplicates("code_commune").set_index("code_commune")
    com["code_epci"] = com["code"].map(members["code_epci"])
    com["epci_name"] = com["code"].map(members["epci_name"])
    return com, gpd.GeoSeries(com_poly.geometry.values, crs=L93), epci_members


def _poverty_estimates(raw_dir: Path, filosofi: pd.DataFrame, comparateur: pd.DataFrame, rp2022: pd.DataFrame,
                       epci_members: pd.DataFrame) -> pd.DataFrame:
    """Published and estimated poor people of every commune of France (:mod:`loaders.secret_poverty`)."""
    comp = assemble.with_municipal_arrondissements_summed(comparateur).drop_duplicates("code_commune")
    population = comp.set_index("code_commune")["population_2021"]
    members = geography.load_cog_epci(raw_dir, vintage=2024) if epci_members is None else epci_members
    published = rp2022[rp2022["territory_type"] == "epci"].set_index("code")["poverty_rate_2021"].dropna().to_dict()
    return secret_poverty.estimate(filosofi, population, members, published)


def _commune_inputs(raw_dir: Path, codes: set[str], epci_members: pd.DataFrame, rp2016: pd.DataFrame) -> assemble.CommuneInputs:
    comparateur = insee.load_comparateur_communes(raw_dir)
    rp2022 = insee.load_comparateur_rp2022(raw_dir)
    filosofi = insee.load_filosofi_communes(raw_dir)
    poverty = _poverty_estimates(raw_dir, filosofi, comparateur, rp2022, epci_members)
    return assemble.CommuneInputs(
        comparateur=comparateur, rp2022=rp2022, filosofi=filosofi, poverty=poverty,
        age=insee.load_population_by_age(raw_dir, year=2022), diplomas=insee.load_diplomas(raw_dir, year=2022),
        households=insee.load_household_types(raw_dir), rp2017=insee.rp2017_rates_by_commune_2024(raw_dir, codes),
        share_15p=assemble.commune_share_15p(rp2016), ftth=arcep.ftth_by_commune_2024(raw_dir, codes),
        thd=arcep.thd_by_commune_2024(raw_dir, codes), mobile=arcep.mobile_coverage_by_commune_2024(raw_dir, codes),
    )


def _activity(raw_dir: Path, codes: pd.Series) -> pd.DataFrame:
    """Activity columns of the commune table (:mod:`loaders.activity`), aligned on ``codes``."""
    cnfs = activity.cnfs_by_commune(raw_dir, codes).set_index("code_commune")
    ac = activity.aidants_connect_by_commune(raw_dir, codes).set_index("code_commune")
    out = pd.concat([cnfs, ac], axis=1).reindex(codes.to_numpy())
    out["activity_status"] = np.where(out.pop("activity_split").astype(bool), "split", "ok")
    out.attrs["report"] = {"cnfs": cnfs.attrs.get("report", {}), "aidants_connect": ac.attrs.get("report", {})}
    return out.reset_index(drop=True).set_axis(codes.index)


def _iris_polygons(raw_dir: Path, com: pd.DataFrame, geom_com: gpd.GeoSeries) -> gpd.GeoDataFrame:
    """IRIS 2023 polygons attached to their COG 2024 commune, plus one whole-commune row
    (``<commune>0000``) for each commune without IRIS in the geometry (Lyon), so that the IRIS
    level covers every commune."""
    iris_poly = geography.load_iris_polygons(raw_dir).to_crs(L93)
    # IRIS 2023 carry arrondissement codes (Lyon 6938x) and pre-2024 communes (Pierre-Bénite
    # 69152): attach each IRIS to its COG 2024 commune
    succ = geography.commune_successor_map(raw_dir, set(com["code"]), codes=sorted(set(iris_poly["code_commune"]) - set(com["code"])))
    remap = succ.dropna(subset=["code_commune"]).set_index("old_code")["code_commune"]
    iris_poly["code_commune"] = iris_poly["code_commune"].map(lambda c: remap.get(c, c))
    orphans = sorted(set(iris_poly["code_commune"]) - set(com["code"]))
    if orphans:
        raise LoaderError("iris polygons", f"IRIS of communes absent from COG 2024: {orphans[:10]}", "every IRIS in a commune of the commune layer")
    missing = ~com["code"].isin(set(iris_poly["code_commune"]))
    whole = gpd.GeoDataFrame(
        {"code_iris": com.loc[missing, "code"] + "0000", "code_commune": com.loc[missing, "code"],
         "name": com.loc[missing, "name"] + " (commune entière : IRIS absents des données)"},
        geometry=geom_com[missing.to_numpy()].values, crs=L93)
    return pd.concat([iris_poly[["code_iris", "code_commune", "name", "geometry"]], whole], ignore_index=True)


def _iris_table(iris_poly: gpd.GeoDataFrame, com: pd.DataFrame, inputs: assemble.IrisInputs) -> tuple[pd.DataFrame, gpd.GeoSeries]:
    iris = pd.DataFrame({"code": iris_poly["code_iris"].values, "name": iris_poly["name"].values, "code_commune": iris_poly["code_commune"].values})
    cidx = com.set_index("code")
    iris["commune_name"] = iris["code_commune"].map(cidx["name"])
    for c in ("code_epci", "epci_name", "code_departement", "code_region"):
        iris[c] = iris["code_commune"].map(cidx[c])
    geom_iris = gpd.GeoSeries(iris_poly.geometry.values, crs=L93)
    iris["area_km2"] = (geom_iris.area / 1e6).round(4).values
    iris = pd.concat([iris, assemble.iris_indicators(iris, cidx, inputs)], axis=1).drop(columns="area_km2")
    return pd.concat([iris, _rep_points(geom_iris)], axis=1), geom_iris


def _commune_demand_points(com: pd.DataFrame, iris: pd.DataFrame, geom_com: gpd.GeoSeries) -> pd.DataFrame:
    """Commune demand point = population-weighted mean of its IRIS points, when inside the polygon."""
    com = pd.concat([com, _rep_points(geom_com)], axis=1)
    w = iris["population"].fillna(0.0)
    wx = (iris["rep_x"] * w).groupby(iris["code_commune"]).sum()
    wy = (iris["rep_y"] * w).groupby(iris["code_commune"]).sum()
    ws = w.groupby(iris["code_commune"]).sum()
    cand_x, cand_y = com["code"].map(wx / ws), com["code"].map(wy / ws)
    ok = cand_x.notna() & shapely.contains_xy(geom_com.values, cand_x.fillna(0).values, cand_y.fillna(0).values)
    com.loc[ok, "rep_x"], com.loc[ok, "rep_y"] = cand_x[ok], cand_y[ok]
    ll = gpd.GeoSeries(gpd.points_from_xy(com["rep_x"], com["rep_y"]), crs=L93).to_crs(WGS84)
    com["lon"], com["lat"] = ll.x.round(6).values, ll.y.round(6).values
    return com


def _distances(df: pd.DataFrame, sites: gpd.GeoDataFrame, libraries: np.ndarray) -> None:
    """Distance from the demand point to the nearest 4G site (proxy) and to the nearest library (m)."""
    xy = df[["rep_x", "rep_y"]].to_numpy()
    df["dist_4g_m"] = arcep.nearest_4g_distance(xy, sites).round(1)
    df["mobile_status"] = pd.Series("ok", index=df.index, dtype="string")
    dist = np.full(len(df), np.nan)
    if len(libraries):
        dist, _ = cKDTree(libraries).query(xy)
    df["dist_library_m"] = np.round(dist, 1)
    df["libraries_status"] = pd.Series(np.where(np.isfinite(dist), "ok", "not_covered"), index=df.index, dtype="string")


#: distance bins (m) of the 4G-coverage fallback (:func:`_mobile_fallback`)
_FALLBACK_BINS_M = (0.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, np.inf)


def _mobile_fallback(com: pd.DataFrame, iris: pd.DataFrame) -> None:
    """Communes without a 4G coverage share (Lyon is absent from the 2019 file) get the mean
    share of the communes whose demand point lies at a similar distance from the nearest 4G site
    (bins :data:`_FALLBACK_BINS_M`), flagged ``estimated``; their IRIS follow."""
    bins = pd.cut(com["dist_4g_m"], _FALLBACK_BINS_M, right=False)
    known = com["cov4g_best"].notna()
    means = com[known].groupby(bins[known], observed=False)[["cov4g_best", "cov4g_worst"]].mean()
    todo = ~known & bins.notna()
    for col in ("cov4g_best", "cov4g_worst"):
        com.loc[todo, col] = bins[todo].map(means[col]).astype(float)
    com.loc[todo & com["cov4g_best"].notna(), "mobile4g_status"] = "estimated"
    cidx = com.set_index("code")
    fill = iris["cov4g_best"].isna() & iris["code_commune"].map(cidx["cov4g_best"]).notna()
    for col in ("cov4g_best", "cov4g_worst"):
        iris.loc[fill, col] = iris.loc[fill, "code_commune"].map(cidx[col])
    iris.loc[fill, "mobile4g_status"] = "estimated"


def _qpv(raw_dir: Path, com: pd.DataFrame) -> gpd.GeoDataFrame:
    qpv_tab = qpv.load_qpv_communes(raw_dir)
    qpv_aura = qpv_tab[qpv_tab["code_commune"].isin(set(com["code"]))].copy()
    qc = qpv_aura.set_index("code_commune")
    com["qpv_count"] = com["code"].map(qc["qpv_count"]).fillna(0).astype(int)
    com["qpv_codes"] = com["code"].map(qc["qpv_codes"].map(lambda v: ", ".join(v))).astype("string")
    qpv_aura = qpv_aura.to_crs(L93)
    qpv_aura["qpv_codes"] = qpv_aura["qpv_codes"].map(lambda v: ", ".join(v))
    qpv_aura["qpv_names"] = qpv_aura["qpv_names"].map(lambda v: " | ".join(v))
    return qpv_aura.sort_values("code_commune").reset_index(drop=True)


def _higher_levels(raw_dir: Path, com: pd.DataFrame, geom_com: gpd.GeoSeries, rp2022: pd.DataFrame) -> dict[str, gpd.GeoDataFrame]:
    """EPCI, départements, région: sums of the commune counts, with the EPCI's published figures beside."""
    deps, regions = geography.load_cog_departements(raw_dir), geography.load_cog_regions(raw_dir)
    com_g = gpd.GeoDataFrame(com, geometry=geom_com.values, crs=L93)
    # figures INSEE publishes for the EPCI itself (comparator export), kept beside the sums of communes
    pub = rp2022[rp2022["territory_type"] == "epci"].set_index("code")
    provided = {"epci": pd.DataFrame({"median_income": pub["median_income_2021"], "poverty_rate_published": pub["poverty_rate_2021"],
                                      "unemployment_rate_published": pub["unemployment_rate_1564_2022"]})}
    tables = {}
    for level, key, names in (
        ("epci", "code_epci", com.drop_duplicates("code_epci").set_index("code_epci")["epci_name"]),
        ("departement", "code_departement", deps.set_index("code")["name"]),
        ("region", "code_region", regions.set_index("code")["name"]),
    ):
        agg = aggregate_counts(com.drop(columns=["rep_x", "rep_y", "lon", "lat"]), level, provided.get(level))
        agg = agg.drop(columns=["level", "name"], errors="ignore")
        agg.insert(1, "name", agg["code"].map(names))
        if level == "epci":
            agg["code_departement"] = agg["code"].map(com.groupby("code_epci")["code_departement"].agg(lambda s: s.mode().iat[0]))
        if level != "region":
            agg["code_region"] = REGION
        # demand point: a point inside the dissolved polygon (a weighted centre can fall outside)
        shapes = com_g[[key, "geometry"]].dissolve(by=key).geometry
        geom = gpd.GeoSeries(shapes.reindex(agg["code"]).values, crs=L93)
        agg = pd.concat([agg.drop(columns=["rep_x", "rep_y", "lon", "lat"], errors="ignore"), _rep_points(geom)], axis=1)
        tables[level] = _finish(agg, geom, level)
    return tables


def build_tables(raw_dir: Path, progress: Callable[[str], None] = print) -> dict[str, gpd.GeoDataFrame]:
    """All pack tables from the raw directory (no writing)."""
    t0 = time.perf_counter()

    def step(msg: str) -> None:
        progress(f"[{time.perf_counter() - t0:6.1f}s] {msg}")

    step("communes: polygons COG 2024, EPCI membership")
    com, geom_com, epci_members = _communes(raw_dir)
    rp2016 = insee.load_rp2016_iris(raw_dir)
    step("commune sources: INSEE (RP2021/2022, RP2017 rates, Filosofi 2021 + secret communes), ARCEP (FttH 2018, THD 2019, 4G 2019)")
    inputs = _commune_inputs(raw_dir, set(com["code"]), epci_members, rp2016)
    com = pd.concat([com, assemble.commune_indicators(com, inputs)], axis=1)
    step("observed activity: conseillers numériques (CRA by postal code), Aidants Connect")
    act = _activity(raw_dir, com["code"])
    com = pd.concat([com, act], axis=1)
    step("IRIS: polygons 2023 (+ whole communes without IRIS), counts calibrated to the communes")
    iris_inputs = assemble.IrisInputs(rp2016, insee.load_filosofi_iris_disp2021(raw_dir), insee.load_filosofi_iris_disp2019(raw_dir),
                                      insee.load_filosofi_iris_dec(raw_dir))
    iris, geom_iris = _iris_table(_iris_polygons(raw_dir, com, geom_com), com, iris_inputs)
    com = _commune_demand_points(com, iris, geom_com)
    step("places: France Services, médiation numérique, CnFS, Aidants Connect, bibliothèques")
    com_wgs = gpd.GeoDataFrame({"code_commune": com["code"]}, geometry=geom_com.values, crs=L93).to_crs(WGS84)
    places_tab = places.unify_places(raw_dir, communes=com_wgs)
    libs = places_tab[places_tab["sources"].astype("string").str.contains(LIBRARY_SOURCE, regex=False).fillna(False)]
    step("distances: nearest 4G site (proxy), nearest library")
    sites = arcep.load_mobile_sites(raw_dir)
    for df in (com, iris):
        _distances(df, sites, libs[["x", "y"]].to_numpy(float))
    _mobile_fallback(com, iris)
    qpv_aura = _qpv(raw_dir, com)
    tables: dict[str, gpd.GeoDataFrame] = {"commune": _finish(com, geom_com, "commune"), "iris": _finish(iris, geom_iris, "iris")}
    tables["commune"] = pd.concat([tables["commune"], assemble.coverage_areas(tables["commune"])], axis=1)
    tables["iris"] = pd.concat([tables["iris"], assemble.iris_coverage_areas(tables["iris"], tables["commune"])], axis=1)
    step("higher levels: EPCI, départements, région (sums of commune counts)")
    tables.update(_higher_levels(raw_dir, tables["commune"].drop(columns=["geometry", "geometry_display"]), geom_com_sorted(tables["commune"]), inputs.rp2022))
    tables["places"] = places_tab
    tables["qpv"] = qpv_aura
    step("France: national distributions of the index's indicators (reference « France »)")
    tables["reference_france"] = national_reference(raw_dir, inputs)
    tables["commune"].attrs["estimates"] = {
        "poverty_secret_communes": inputs.poverty.attrs.get("calibration", {}),
        "rp2017_to_cog2024": inputs.rp2017.attrs.get("mapping", {}),
        "thd_2019_to_cog2024": inputs.thd.attrs.get("mapping", {}),
        "mobile_2019_to_cog2024": inputs.mobile.attrs.get("mapping", {}),
        "activity": act.attrs.get("report", {}),
    }
    step(f"tables ready: {', '.join(f'{k} {len(v)}' for k, v in tables.items())}")
    return tables


def geom_com_sorted(communes: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Lambert-93 polygons of the (sorted) commune table."""
    return gpd.GeoSeries(communes.geometry.values, crs=L93)


def _coverage(tables: dict[str, gpd.GeoDataFrame]) -> dict:
    """Per indicator group and level: zones, % with a value, % of the population covered, % of
    zones whose value is estimated (or the estimated share of the value at aggregated levels), the
    zones whose source was inconsistent and capped, and the statuses."""
    cov: dict = {}
    for level in ("iris", "commune", "epci", "departement", "region"):
        df = tables[level]
        pop = df["population"].fillna(0.0)
        for group, cols in assemble.GROUPS.items():
            col = cols[-1]
            if col not in df or f"{group}_status" not in df:
                continue
            status = df[f"{group}_status"].astype("string").fillna("not_covered")
            n = len(df)
            if f"{group}_coverage" in df:  # aggregated levels: share of member communes' population
                covered = float((pop * df[f"{group}_coverage"].fillna(0.0)).sum())
            else:
                covered = float(pop[df[col].notna()].sum())
            if f"{group}_estimated_share" in df:
                estimated = float(100.0 * (pop * df[f"{group}_estimated_share"].fillna(0.0)).sum() / max(float(pop.sum()), 1.0))
            else:
                estimated = 100.0 * float(status.isin(list(ESTIMATED_STATUSES)).sum()) / n
            cov.setdefault(group, {})[level] = {
                "zones": n,
                "population_covered_pct": round(100.0 * covered / float(pop.sum()), 1) if pop.sum() else None,
                "with_value_pct": round(100.0 * df[col].notna().sum() / n, 1),
                "imputed_pct": round(estimated, 1),
                "capped_zones": int(status.eq("capped").sum()),
                "statuses": {k: int(v) for k, v in status.value_counts().sort_index().items()},
            }
    return cov


def _manifest(tables: dict, files: dict[str, Path], raw_dir: Path, downloaded: dict[str, Path]) -> dict:
    sources = {}
    for mod in SOURCE_MODULES:
        for key, src in getattr(mod, "SOURCES", {}).items():
            path = raw_dir / src.raw_path
            entry = src.as_dict()
            entry["sha256"] = sha256(path) if path.exists() else None
            if entry["sha256"] and src.sha256 and entry["sha256"] != src.sha256:
                src.verify(raw_dir)  # raises LoaderError naming the file that changed during the build
            if key in downloaded:
                # fetched for the user, kept in the cache; the tables are still parsed from the
                # raw directory (newer official formats are not all parsed yet)
                entry["downloaded_copy"] = {"path": str(downloaded[key]), "sha256": sha256(downloaded[key])}
            sources[key] = entry
    table_info = {}
    for name, path in files.items():
        df = tables[name]
        table_info[name] = {
            "file": path.name,
            "rows": len(df),
            "columns": [c for c in df.columns],
            "crs": str(df.crs) if hasattr(df, "crs") and df.crs else None,
            "sha256": sha256(path),
        }
    unknown = {k for meta in _indicator_meta().values() for k in meta["sources"]} - set(sources)
    if unknown:
        raise LoaderError("manifest", f"indicator sources {sorted(unknown)} are not declared by any loader", "keys of the loaders' SOURCES")
    return {
        "pack_format": 1,
        "territory": {"region": REGION, "name": "Auvergne-Rhône-Alpes", "showcase_epci": assemble.METROPOLE},
        "sources": sources,
        "tables": table_info,
        "indicators": _indicator_meta(),
        "coverage": _coverage(tables),
        "estimates": _json_safe(tables["commune"].attrs.get("estimates", {})),
    }


def _json_safe(value):
    """Plain JSON types (numpy scalars → Python, tuples → lists), recursively."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _indicator_meta() -> dict:
    """Sources and vintages per indicator group (shown by the UI next to every figure)."""
    return {
        "population": {"label": "Population", "sources": ["comparateur_rp2022_gam", "comparateur_communes_2021", "rp2016_iris_population"],
                       "vintage": "RP2022 (métropoles) / RP2021 ; IRIS : parts RP2016 × population communale"},
        "households": {"label": "Ménages", "sources": ["comparateur_rp2022_gam", "comparateur_communes_2021"], "vintage": "RP2022 / RP2021"},
        "unemployment": {"label": "Chômage 15-64 ans", "sources": ["comparateur_communes_2021", "comparateur_rp2022_gam", "pop_age_5metropoles"],
                         "vintage": "RP2022 (Métropole, taux publiés × population 15-64 ans) / RP2021"},
        "poverty": {"label": "Pauvreté (seuil 60 %)", "sources": ["filosofi_com_2021", "filosofi_iris_disp_2021", "filosofi_iris_disp_2019", "comparateur_rp2022_gam"],
                    "vintage": "Filosofi 2021 (communes publiées ; communes sous secret estimées) ; IRIS : Filosofi 2021 (2019 à défaut)"},
        "income": {"label": "Revenu médian disponible par UC", "sources": ["filosofi_com_2021", "filosofi_iris_disp_2021"], "vintage": "Filosofi 2021"},
        "age": {"label": "Âge (15-29, 60+, 65+, 75+)", "sources": ["pop_age_5metropoles", "rp2016_iris_population"], "vintage": "RP2022 (communes des métropoles) ; RP2016 (IRIS)"},
        "age15p": {"label": "65 ans ou plus parmi les 15 ans ou plus", "sources": ["pop_age_5metropoles", "rp2017_rates_d4g", "rp2016_iris_population"],
                   "vintage": "RP2022 (communes des métropoles) ; RP2017 (autres communes) ; IRIS : structure RP2016"},
        "diploma15p": {"label": "Peu ou pas diplômés (au plus CAP-BEP) parmi les 15 ans ou plus", "sources": ["diplomas_gam", "pop_age_5metropoles", "rp2017_rates_d4g"],
                       "vintage": "RP2022 (communes de la Métropole de Grenoble) ; RP2017 (autres communes)"},
        "diploma": {"label": "Non-scolarisés 15+ sans diplôme ou CEP", "sources": ["diplomas_gam"], "vintage": "RP2022 (communes de la Métropole)"},
        "household_types": {"label": "Personnes seules, familles monoparentales", "sources": ["household_types_5metropoles"], "vintage": "RP2022 (communes des métropoles)"},
        "ftth": {"label": "Locaux raccordables FttH", "sources": ["arcep_ftth_communes_2018t1", "arcep_communes_2018t1"], "vintage": "ARCEP T1 2018"},
        "thd": {"label": "Locaux éligibles au très haut débit (≥ 30 Mbit/s, toutes technologies)", "sources": ["arcep_thd_2019"], "vintage": "ARCEP Ma connexion internet, 30/09/2019"},
        "mobile4g": {"label": "Surface couverte en 4G (meilleur opérateur)", "sources": ["arcep_mobile_coverage_2019t3"], "vintage": "ARCEP, cartes de couverture 2019 T3"},
        "mobile": {"label": "Distance au site 4G le plus proche (indicateur indirect)", "sources": ["arcep_mobile_sites_2018_01"], "vintage": "ARCEP janvier 2018"},
        "activity": {"label": "Activité observée (conseillers numériques, Aidants Connect)", "sources": ["cnfs_activity", "aidants_connect", "cog2025_communes"],
                     "vintage": "comptes rendus des conseillers numériques cumulés jusqu'au 17/07/2023 (début non précisé) ; Aidants Connect au 12/02/2024"},
        "libraries": {"label": "Distance à la bibliothèque la plus proche", "sources": ["culture_bibliotheques_2020"], "vintage": "Ministère de la Culture, 2020"},
    }


#: prefix of the build's temporary folders, beside the pack (``.pack-build-<pid>-<random>``)
TMP_PREFIX = ".pack-build-"
PACK_DIR_MODE, PACK_FILE_MODE = 0o755, 0o644
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def write_pack(tables: dict[str, gpd.GeoDataFrame], out_dir: Path, raw_dir: Path, downloaded: dict[str, Path] | None = None) -> dict:
    """Write tables + manifest into a temporary sibling folder, then swap it with ``out_dir`` in one step.

    There is no moment without a complete pack at ``out_dir``: the new folder replaces the old
    one by an atomic exchange of the two directory entries (Linux ``renameat2(RENAME_EXCHANGE)``;
    see :func:`_swap_in` for the fallback), and ``out_dir`` stays a plain folder (the committed
    ``geodata/pack`` is one; readers keep using ``geodata.PACK_DIR``). A failed or killed build
    leaves the old pack as it was; its temporary folder is removed, at the latest by the next
    build (:func:`_remove_stale`). The new pack keeps the old one's folder and file modes (else
    0755 / 0644: readable by everyone, whatever the umask).
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _recover(out_dir)
    _remove_stale(out_dir.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=out_dir.parent))
    try:
        files: dict[str, Path] = {}
        for name, df in tables.items():
            fname = f"zones_{name}.parquet" if name in ("iris", "commune", "epci", "departement", "region") else f"{name}.parquet"
            path = tmp / fname
            if isinstance(df, gpd.GeoDataFrame):
                df.to_parquet(path, index=False, compression="zstd", write_covering_bbox=False)
            else:
                df.to_parquet(path, index=False, compression="zstd")
            files[name] = path
        manifest = _manifest(tables, files, raw_dir, downloaded or {})
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the pack is meant to be read by everyone
        _copy_modes(out_dir, tmp)
        _fsync_tree(tmp)
        _swap_in(tmp, out_dir)
        return manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _copy_modes(old: Path, new: Path) -> None:
    """Give ``new`` (folder and files) the modes of ``old``'s, never less than 0755 / 0644 (a pack
    made private by an earlier build or a strict umask becomes readable again)."""
    old_files = {p.name: p for p in old.iterdir()} if old.is_dir() else {}
    os.chmod(new, (stat.S_IMODE(old.stat().st_mode) if old.is_dir() else 0) | PACK_DIR_MODE)
    for f in new.iterdir():
        src = old_files.get(f.name)
        os.chmod(f, (stat.S_IMODE(src.stat().st_mode) if src is not None and src.is_file() else 0) | PACK_FILE_MODE)


def _fsync_tree(folder: Path) -> None:
    """Flush the new pack's files and folder to disk before the swap (a power cut after the swap
    must not leave empty files in place of the pack)."""
    for f in folder.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Swap the directory entries ``a`` and ``b`` atomically; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:  # glibc < 2.28, musl
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # kernel or file system without exchange
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Put the finished folder ``tmp`` at ``out_dir``, and remove the previous pack.

    Without a previous pack, one ``os.replace``. With one: an atomic exchange of the two entries
    (the old pack is then at ``tmp``, removed afterwards). Where the exchange is not available
    (not Linux, or a file system without it) the old pack is first renamed to ``<out_dir>.old``
    and the new one renamed in: a kill between the two renames leaves the old pack at
    ``<out_dir>.old``, which the next build (or :func:`_recover`) puts back.
    """
    if not out_dir.exists() and not out_dir.is_symlink():
        os.replace(tmp, out_dir)
    elif _exchange(tmp, out_dir):
        _remove(tmp)  # now the previous pack (or the symlink that stood at out_dir)
    else:
        old = out_dir.with_name(out_dir.name + ".old")
        _remove(old)
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        _remove(old)
    _fsync_dir(out_dir.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _recover(out_dir: Path) -> None:
    """Put back ``<out_dir>.old`` left by a build killed between the fallback's two renames."""
    old = out_dir.with_name(out_dir.name + ".old")
    if old.is_dir() and not out_dir.exists():
        os.replace(old, out_dir)
    _remove(old)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _remove_stale(parent: Path) -> list[Path]:
    """Remove the temporary folders of builds that no longer run (killed: no cleanup ran).

    A folder is ``.pack-build-<pid>-<random>``; it is kept while process ``<pid>`` is alive (a
    build running now). Folders of the earlier naming (``.pack-build-<random>``, no pid) are
    removed. Returns what was removed.
    """
    removed = []
    for d in parent.glob(f"{TMP_PREFIX}*"):
        pid_text = d.name[len(TMP_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and _pid_alive(int(pid_text)):
            continue
        _remove(d)
        removed.append(d)
    return removed


def verify_sources(raw_dir: Path) -> list[str]:
    """Check every declared raw file against its ``sha256`` (:meth:`loaders.sources.Source.verify`)
    before the build reads anything; returns the keys checked. Raises LoaderError naming the
    first file that is missing or does not match."""
    checked = []
    for mod in SOURCE_MODULES:
        for key, src in getattr(mod, "SOURCES", {}).items():
            src.verify(raw_dir)
            checked.append(key)
    return checked


def recorded_downloads(out_dir: Path) -> dict[str, str]:
    """``{cache file name: SHA-256}`` of the downloaded copies the pack at ``out_dir`` was built with."""
    try:
        manifest = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for entry in manifest.get("sources", {}).values():
        copy = entry.get("downloaded_copy") or {}
        if isinstance(copy, dict) and copy.get("path") and copy.get("sha256"):
            out[Path(copy["path"]).name] = copy["sha256"]
    return out


def download_sources(progress: Callable[[str], None] = print, *, recorded: dict[str, str] | None = None) -> dict[str, Path]:
    """Fetch every source that has an official URL; returns {source key: local path}.

    A cached copy used when a download fails must match ``recorded`` (file name → SHA-256, from
    :func:`recorded_downloads` of the current pack), else its own ``.sha256`` file
    (:mod:`loaders.download`).
    """
    got: dict[str, Path] = {}
    with dl.recorded_checksums(recorded or {}):
        for mod in SOURCE_MODULES:
            for key, src in getattr(mod, "SOURCES", {}).items():
                if not src.url:
                    continue
                progress(f"download {key}: {src.url}")
                try:
                    got[key] = mod.download(key)
                except LoaderError as exc:
                    progress(f"  ! {exc}; the raw file is used instead")
    return got


def pack_digest(out_dir: Path) -> str:
    """One hash over the pack's table files (for reproducibility checks)."""
    h = hashlib.sha256()
    for p in sorted(Path(out_dir).glob("*.parquet")):
        h.update(p.name.encode())
        h.update(sha256(p).encode())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m loaders.build_pack", description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw-dir", type=Path, default=RAW_DIR, help=f"directory of the published files (default {RAW_DIR})")
    ap.add_argument("--out", type=Path, default=PACK_DIR, help=f"pack directory to (re)write (default {PACK_DIR})")
    ap.add_argument("--download", action="store_true", help="download the official files first (needs network)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    downloaded = download_sources(recorded=recorded_downloads(args.out)) if args.download else {}
    if downloaded:
        print(
            f"note: {len(downloaded)} official files downloaded into {downloaded[next(iter(downloaded))].parent}; "
            "the tables below are parsed from the raw directory (the manifest records both checksums)"
        )
    try:
        verify_sources(args.raw_dir)  # a cut, re-saved or replaced raw file is refused before any work
        tables = build_tables(args.raw_dir)
        manifest = write_pack(tables, args.out, args.raw_dir, downloaded)
    except LoaderError as exc:
        print(f"build failed, the existing pack is unchanged: {exc}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"\npack written to {args.out} in {time.perf_counter() - t0:.1f}s ({size / 1e6:.1f} MB)")
    for info in manifest["tables"].values():
        print(f"  {info['file']:<28} {info['rows']:>6} rows")
    print(f"  digest {pack_digest(args.out)[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
