"""QPV 2024 (quartiers prioritaires de la politique de la ville), listed per commune.

File handled (``raw/geo/``, see ``shared/data/SOURCES-census-qpv.md`` §B1): an ANCT cartography
team GeoJSON with **one Point per commune — the commune centroid, not a QPV perimeter nor a QPV
location** — carrying the QPV of the commune as comma-separated lists: ``insee_com``, ``lib_com``,
``code_qp`` (``"QN03806M, QN03807M"``), ``lib_qp`` (names in the same order). Paris, Lyon and
Marseille are whole communes (75056, 69123, 13055). A QPV spanning several communes is listed in
each of them.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd

from loaders import RAW_DIR
from loaders.errors import LoaderError
from loaders.sources import Source
from loaders.tabular import commune_code, read_json

SOURCES: dict[str, Source] = {
    "qpv2024_communes": Source(
        key="qpv2024_communes",
        title="Quartiers prioritaires 2024 — liste par commune (centroïdes des communes)",
        producer="ANCT",
        vintage="QPV 2024",
        raw_path="geo/anct_qpv2024_liste_par_commune_centroides.geojson",
        sha256="b4aa296353dd1b714b32da990e698e0332e709b4bac4d0a0a7df8fd07e7bffe4",
        licence="Licence Ouverte (ANCT)",
        url=None,
        page="https://www.data.gouv.fr/fr/datasets/5a561801c751df42d7fca9b6/",
        notes=(
            "Derivative by the ANCT cartography team (GitHub anct-carto/superposeur-V2, "
            "data/admin/centroide-4326_qpv.geojson, commit 3f2b0c0): the official QPV list "
            "(data.gouv resource 4c6bb7f3-97b6-4834-8a3a-f5f8b3e6735b, another format) aggregated "
            "per commune and placed at the commune centroid. Points are commune centroids, NOT QPV "
            "perimeters. 824 communes, 1 493 distinct QPV (the national 2024 list has ≈ 1 584)."
        ),
    ),
}

_QPV_CODE = re.compile(r"QN[0-9A-Z]{6}")


def download(key: str) -> Path:
    """The QPV-per-commune file is a derivative without an official URL: always raises LoaderError."""
    if key not in SOURCES:
        raise LoaderError(key, "unknown source key", f"one of {', '.join(SOURCES)}")
    src = SOURCES[key]
    raise LoaderError(
        src.raw_path,
        f"source {key!r} has no official download URL",
        f"the derivative file; official list at {src.page}",
    )


def _split(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [v.strip() for v in str(value).split(",") if v.strip()]


def load_qpv_communes(raw_dir: Path = RAW_DIR, path: Path | None = None) -> gpd.GeoDataFrame:
    """QPV 2024 per commune, one row per commune having at least one QPV.

    Columns: ``code_commune`` (str), ``commune_name``, ``qpv_codes`` (list[str], e.g.
    ``["QN03806M", …]``), ``qpv_names`` (list[str], same order; a name containing a comma would
    break the published list: then the names are kept as one string and a warning is raised),
    ``qpv_count`` (int, len(qpv_codes)), ``geometry`` (the **commune centroid** Point, EPSG:4326 —
    not a QPV perimeter). Isère: 24 QPV in 14 communes; Grenoble 38185: QN03806M…QN03809M.
    """
    p = Path(path) if path is not None else Path(raw_dir) / SOURCES["qpv2024_communes"].raw_path
    doc = read_json(p)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not doc.get("features"):
        raise LoaderError(p, "not a non-empty GeoJSON FeatureCollection", "a FeatureCollection of commune points")
    required = ["insee_com", "lib_com", "code_qp", "lib_qp"]
    rows, points = [], []
    for i, f in enumerate(doc["features"]):
        props = f.get("properties") or {}
        missing = [k for k in required if k not in props]
        if missing:
            raise LoaderError(
                p,
                f"feature {i} misses properties {missing}; found {sorted(props)}",
                f"properties {', '.join(required)}",
            )
        geom = f.get("geometry") or {}
        coords = geom.get("coordinates") or []
        if geom.get("type") != "Point" or len(coords) < 2:
            raise LoaderError(
                p, f"feature {i} ({props['insee_com']}): geometry {geom.get('type')!r}", "a Point (commune centroid)"
            )
        codes = _split(props["code_qp"])
        bad = [c for c in codes if not _QPV_CODE.fullmatch(c)]
        if not codes or bad:
            raise LoaderError(
                p,
                f"feature {i} ({props['insee_com']}): QPV codes {bad or props['code_qp']!r}",
                "comma-separated codes like QN03806M",
            )
        names = _split(props["lib_qp"])
        if len(names) != len(codes):
            warnings.warn(
                f"{p}: commune {props['insee_com']}: {len(codes)} QPV codes but {len(names)} names; names kept as one string",
                stacklevel=2,
            )
            names = [str(props["lib_qp"]).strip()]
        rows.append((props["insee_com"], props["lib_com"], codes, names))
        points.append((float(coords[0]), float(coords[1])))
    df = pd.DataFrame(rows, columns=["code_commune", "commune_name", "qpv_codes", "qpv_names"])
    df["code_commune"] = commune_code(df["code_commune"].astype("string"))
    if df["code_commune"].isna().any():
        raise LoaderError(
            p,
            f"invalid commune code {rows[int(df['code_commune'].isna().to_numpy().argmax())][0]!r}",
            "INSEE codes like 01001 or 2A004",
        )
    if df["code_commune"].duplicated().any():
        raise LoaderError(
            p,
            f"commune {df.loc[df['code_commune'].duplicated(), 'code_commune'].iloc[0]} listed twice",
            "one feature per commune",
        )
    df["commune_name"] = df["commune_name"].astype("string")
    df["qpv_count"] = df["qpv_codes"].map(len).astype("int64")
    lon, lat = zip(*points, strict=True)
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    return gdf.sort_values("code_commune", ignore_index=True)
