"""Build the embedded pack (``geodata/pack``) from the published files.

    python -m loaders.build_pack [--raw-dir DIR] [--out DIR] [--download]

Reads the raw directory (default ``../shared/data/raw``; with ``--download`` the official files
that have a download URL are fetched into the user cache first and used instead), assembles the
zone tables (IRIS, commune, EPCI, département, région), the unified places and the QPV list, and
writes GeoParquet files plus ``manifest.json`` into a temporary directory that replaces the pack
only when everything succeeded: a failed build never leaves a half-written pack.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from indicators.aggregate import aggregate as aggregate_counts
from loaders import RAW_DIR, arcep, assemble, geography, insee, places, qpv
from loaders.errors import LoaderError
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


def build_tables(raw_dir: Path, progress: Callable[[str], None] = print) -> dict[str, gpd.GeoDataFrame]:
    """All pack tables from the raw directory (no writing)."""
    t0 = time.perf_counter()

    def step(msg: str) -> None:
        progress(f"[{time.perf_counter() - t0:6.1f}s] {msg}")

    step("communes: polygons COG 2024, EPCI membership, référentiel COG 2025")
    # the per-département extracts overlap along département borders: make them a clean coverage
    com_poly = geography.clean_coverage(geography.load_commune_polygons(raw_dir).to_crs(L93))
    epci_members = geography.load_cog_epci(raw_dir, vintage=2024)
    deps = geography.load_cog_departements(raw_dir)
    regions = geography.load_cog_regions(raw_dir)
    com = pd.DataFrame({"code": com_poly["code_commune"].values, "name": com_poly["name"].values})
    com["code_departement"] = com["code"].str[:2]
    com["code_region"] = REGION
    members = epci_members.drop_duplicates("code_commune").set_index("code_commune")
    com["code_epci"] = com["code"].map(members["code_epci"])
    com["epci_name"] = com["code"].map(members["epci_name"])
    geom_com = gpd.GeoSeries(com_poly.geometry.values, crs=L93)

    step("INSEE: comparateur RP2021/RP2022, Filosofi 2021, âges, diplômes, ménages")
    comparateur = insee.load_comparateur_communes(raw_dir)
    rp2022 = insee.load_comparateur_rp2022(raw_dir)
    filosofi = insee.load_filosofi_communes(raw_dir)
    age = insee.load_population_by_age(raw_dir, year=2022)
    diplomas = insee.load_diplomas(raw_dir, year=2022)
    households = insee.load_household_types(raw_dir)

    step("ARCEP: FttH T1 2018 (communes 2018 → COG 2024), sites mobiles")
    ftth = arcep.ftth_by_commune_2024(raw_dir, set(com["code"]))
    sites = arcep.load_mobile_sites(raw_dir)

    step("IRIS: polygons 2023, RP2016, Filosofi IRIS")
    iris_poly = geography.load_iris_polygons(raw_dir).to_crs(L93)
    # IRIS 2023 carry arrondissement codes (Lyon 6938x) and pre-2024 communes (Pierre-Bénite
    # 69152): attach each IRIS to its COG 2024 commune
    succ = geography.commune_successor_map(raw_dir, set(com["code"]), codes=sorted(set(iris_poly["code_commune"]) - set(com["code"])))
    remap = succ.dropna(subset=["code_commune"]).set_index("old_code")["code_commune"]
    iris_poly["code_commune"] = iris_poly["code_commune"].map(lambda c: remap.get(c, c))
    orphans = sorted(set(iris_poly["code_commune"]) - set(com["code"]))
    if orphans:
        raise LoaderError("iris polygons", f"IRIS of communes absent from COG 2024: {orphans[:10]}", "every IRIS in a commune of the commune layer")
    rp2016 = insee.load_rp2016_iris(raw_dir)
    disp2019 = insee.load_filosofi_iris_disp2019(raw_dir)
    dec2021 = insee.load_filosofi_iris_dec(raw_dir)

    step("communes: indicators")
    com = pd.concat([com, assemble.commune_indicators(com, comparateur, rp2022, filosofi, age, diplomas, households, ftth)], axis=1)

    step("IRIS: indicators (RP2016 rescaled, Filosofi 2019, commune values flagged)")
    iris = pd.DataFrame({"code": iris_poly["code_iris"].values, "name": iris_poly["name"].values, "code_commune": iris_poly["code_commune"].values})
    cidx = com.set_index("code")
    iris["commune_name"] = iris["code_commune"].map(cidx["name"])
    for c in ("code_epci", "epci_name", "code_departement", "code_region"):
        iris[c] = iris["code_commune"].map(cidx[c])
    geom_iris = gpd.GeoSeries(iris_poly.geometry.values, crs=L93)
    iris = pd.concat([iris, assemble.iris_indicators(iris, cidx, rp2016, disp2019, dec2021)], axis=1)
    iris = pd.concat([iris, _rep_points(geom_iris)], axis=1)

    step("demand points: communes = population-weighted IRIS points, inside the polygon")
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

    step("mobile: distance to the nearest 4G site (proxy)")
    for df in (com, iris):
        df["dist_4g_m"] = arcep.nearest_4g_distance(df[["rep_x", "rep_y"]].to_numpy(), sites).round(1)
        df["mobile_status"] = pd.Series("ok", index=df.index, dtype="string")

    step("QPV 2024 (list by commune)")
    qpv_tab = qpv.load_qpv_communes(raw_dir)
    qpv_aura = qpv_tab[qpv_tab["code_commune"].isin(set(com["code"]))].copy()
    qc = qpv_aura.set_index("code_commune")
    com["qpv_count"] = com["code"].map(qc["qpv_count"]).fillna(0).astype(int)
    com["qpv_codes"] = com["code"].map(qc["qpv_codes"].map(lambda v: ", ".join(v))).astype("string")
    qpv_aura = qpv_aura.to_crs(L93)
    qpv_aura["qpv_codes"] = qpv_aura["qpv_codes"].map(lambda v: ", ".join(v))
    qpv_aura["qpv_names"] = qpv_aura["qpv_names"].map(lambda v: " | ".join(v))

    step("higher levels: EPCI, départements, région (sums of commune counts)")
    tables: dict[str, gpd.GeoDataFrame] = {}
    tables["commune"] = _finish(com, geom_com, "commune")
    iris_out = _finish(iris, geom_iris, "iris")
    tables["iris"] = iris_out
    com_g = gpd.GeoDataFrame(com, geometry=geom_com.values, crs=L93)
    dep_names = deps.set_index("code")["name"]
    reg_names = regions.set_index("code")["name"]
    # figures INSEE publishes for the EPCI itself (comparator export), kept beside the sums of
    # communes (which miss the communes under statistical secrecy)
    pub = rp2022[rp2022["territory_type"] == "epci"].set_index("code")
    provided = {
        "epci": pd.DataFrame(
            {
                "median_income": pub["median_income_2021"],
                "poverty_rate_published": pub["poverty_rate_2021"],
                "unemployment_rate_published": pub["unemployment_rate_1564_2022"],
            }
        )
    }
    for level, key, names in (
        ("epci", "code_epci", com.drop_duplicates("code_epci").set_index("code_epci")["epci_name"]),
        ("departement", "code_departement", dep_names),
        ("region", "code_region", reg_names),
    ):
        agg = aggregate_counts(com.drop(columns=["rep_x", "rep_y", "lon", "lat"]), level, provided.get(level))
        agg = agg.drop(columns=["level", "name"], errors="ignore")
        agg.insert(1, "name", agg["code"].map(names))
        if level == "epci":
            agg["code_departement"] = agg["code"].map(com.groupby("code_epci")["code_departement"].agg(lambda s: s.mode().iat[0]))
        if level != "region":
            agg["code_region"] = REGION
        # demand point: a point inside the dissolved polygon (a population-weighted centre can
        # fall outside a concave territory)
        shapes = com_g[[key, "geometry"]].dissolve(by=key).geometry
        geom = gpd.GeoSeries(shapes.reindex(agg["code"]).values, crs=L93)
        agg = pd.concat([agg, _rep_points(geom)], axis=1)
        tables[level] = _finish(agg, geom, level)

    step("places: France Services, médiation numérique (national schema, Hinaura), CnFS, Aidants Connect")
    com_wgs = gpd.GeoDataFrame({"code_commune": com["code"]}, geometry=geom_com.values, crs=L93).to_crs(WGS84)
    tables["places"] = places.unify_places(raw_dir, communes=com_wgs)
    tables["qpv"] = qpv_aura.sort_values("code_commune").reset_index(drop=True)
    step(f"tables ready: {', '.join(f'{k} {len(v)}' for k, v in tables.items())}")
    return tables


def _coverage(tables: dict[str, gpd.GeoDataFrame]) -> dict:
    """Per indicator group and level: zones, % with a value, % imputed, statuses."""
    cov: dict = {}
    for level in ("iris", "commune", "epci", "departement", "region"):
        df = tables[level]
        for group, cols in assemble.GROUPS.items():
            col = cols[-1]
            if col not in df or f"{group}_status" not in df:
                continue
            status = df[f"{group}_status"].astype("string").fillna("not_covered")
            n = len(df)
            pop = df["population"].fillna(0.0)
            if f"{group}_coverage" in df:  # aggregated levels: share of member communes' population
                covered = float((pop * df[f"{group}_coverage"].fillna(0.0)).sum())
            else:
                covered = float(pop[df[col].notna()].sum())
            cov.setdefault(group, {})[level] = {
                "zones": n,
                "population_covered_pct": round(100.0 * covered / float(pop.sum()), 1) if pop.sum() else None,
                "with_value_pct": round(100.0 * df[col].notna().sum() / n, 1),
                "imputed_pct": round(100.0 * status.isin(["from_commune", "rescaled"]).sum() / n, 1),
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
    }


def _indicator_meta() -> dict:
    """Sources and vintages per indicator group (shown by the UI next to every figure)."""
    return {
        "population": {"label": "Population", "sources": ["comparateur_rp2022_gam", "comparateur_communes_2021", "rp2016_iris_population"], "vintage": "RP2022 (Métropole) / RP2021 ; IRIS : structure RP2016"},
        "households": {"label": "Ménages", "sources": ["comparateur_rp2022_gam", "comparateur_communes_2021"], "vintage": "RP2022 / RP2021"},
        "unemployment": {"label": "Chômage 15-64 ans", "sources": ["comparateur_communes_2021", "comparateur_rp2022_gam", "pop_age_5metropoles"], "vintage": "RP2022 (Métropole, taux publiés × population 15-64 ans) / RP2021"},
        "poverty": {"label": "Pauvreté (seuil 60 %)", "sources": ["filosofi_com_2021", "filosofi_iris_disp_2019"], "vintage": "Filosofi 2021 (communes) ; Filosofi 2019 (IRIS)"},
        "income": {"label": "Revenu médian disponible par UC", "sources": ["filosofi_com_2021"], "vintage": "Filosofi 2021"},
        "age": {"label": "Âge (15-29, 60+, 65+, 75+)", "sources": ["pop_age_5metropoles", "rp2016_iris_population"], "vintage": "RP2022 (communes de la Métropole) ; RP2016 (IRIS)"},
        "diploma": {"label": "Non-scolarisés 15+ sans diplôme ou CEP", "sources": ["diplomas_gam"], "vintage": "RP2022 (communes de la Métropole)"},
        "household_types": {"label": "Personnes seules, familles monoparentales", "sources": ["household_types_5metropoles"], "vintage": "RP2022 (communes de la Métropole)"},
        "ftth": {"label": "Locaux raccordables FttH", "sources": ["arcep_ftth_communes_2018t1", "arcep_communes_2018t1"], "vintage": "ARCEP T1 2018"},
        "mobile": {"label": "Distance au site 4G le plus proche (proxy)", "sources": ["arcep_mobile_sites_2018_01"], "vintage": "ARCEP janvier 2018"},
    }


def write_pack(tables: dict[str, gpd.GeoDataFrame], out_dir: Path, raw_dir: Path, downloaded: dict[str, Path] | None = None) -> dict:
    """Write tables + manifest into a temporary sibling directory, then swap it in place of ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pack-build-", dir=out_dir.parent))
    try:
        files: dict[str, Path] = {}
        for name, df in tables.items():
            fname = f"zones_{name}.parquet" if name in ("iris", "commune", "epci", "departement", "region") else f"{name}.parquet"
            path = tmp / fname
            df.to_parquet(path, index=False, compression="zstd", write_covering_bbox=False)
            files[name] = path
        manifest = _manifest(tables, files, raw_dir, downloaded or {})
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
        old = out_dir.with_name(out_dir.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
        return manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def download_sources(progress: Callable[[str], None] = print) -> dict[str, Path]:
    """Fetch every source that has an official URL; returns {source key: local path}."""
    got: dict[str, Path] = {}
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
    downloaded = download_sources() if args.download else {}
    if downloaded:
        print(
            f"note: {len(downloaded)} official files downloaded into {downloaded[next(iter(downloaded))].parent}; "
            "the tables below are parsed from the raw directory (the manifest records both checksums)"
        )
    try:
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
