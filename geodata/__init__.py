"""The embedded pack: read-only access to the tables built by ``python -m loaders.build_pack``.

Layout (see ``SCHEMA.md``): ``geodata/pack/zones_<level>.parquet`` (GeoParquet, Lambert-93
``geometry`` + WGS84 ``geometry_display``), ``places.parquet``, ``qpv.parquet`` and
``manifest.json`` (provenance, checksums, coverage). The pack directory can be overridden with the
environment variable ``INCLUSION_PACK_DIR``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pandas as pd

LEVELS = ("iris", "commune", "epci", "departement", "region")
PACK_DIR = Path(os.environ.get("INCLUSION_PACK_DIR") or Path(__file__).resolve().parent / "pack")


class PackMissingError(FileNotFoundError):
    """The pack has not been built (or is incomplete) in the given directory."""


def _path(pack_dir: Path, name: str) -> Path:
    p = Path(pack_dir) / name
    if not p.exists():
        raise PackMissingError(f"{p} is missing: build the pack with `python -m loaders.build_pack`")
    return p


def load_manifest(pack_dir: Path = PACK_DIR) -> dict:
    """The pack's manifest (sources, tables, indicator coverage)."""
    return json.loads(_path(pack_dir, "manifest.json").read_text(encoding="utf-8"))


def load_zones(level: str, pack_dir: Path = PACK_DIR) -> gpd.GeoDataFrame:
    """Zones of one level, with both geometries (``geometry`` L93 active, ``geometry_display`` WGS84)."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
    return gpd.read_parquet(_path(pack_dir, f"zones_{level}.parquet"))


def load_places(pack_dir: Path = PACK_DIR) -> gpd.GeoDataFrame:
    """Unified reception points and social structures (Lambert-93 points)."""
    return gpd.read_parquet(_path(pack_dir, "places.parquet"))


def load_qpv(pack_dir: Path = PACK_DIR) -> gpd.GeoDataFrame:
    """QPV 2024 list, one point per commune centroid (not QPV perimeters)."""
    return gpd.read_parquet(_path(pack_dir, "qpv.parquet"))


def load_reference_france(pack_dir: Path = PACK_DIR) -> pd.DataFrame:
    """National distributions of the index's indicators (``indicator, code, num, den, value,
    estimated``; :mod:`loaders.reference_france`), for the reference « France »."""
    return pd.read_parquet(_path(pack_dir, "reference_france.parquet"))


def load_pack(pack_dir: Path = PACK_DIR) -> dict:
    """Every table of the pack: ``{level: zones, "places": …, "qpv": …, "reference_france": …,
    "manifest": dict}``.

    The build swaps a new pack in place of the old one in one step (``loaders.build_pack``); a
    reader that spans a swap could mix two packs, so the folder's identity is checked before and
    after reading, and the read is done again if it changed."""
    for _ in range(3):
        before = _identity(pack_dir)
        pack: dict = {level: load_zones(level, pack_dir) for level in LEVELS}
        pack["reference_france"] = load_reference_france(pack_dir)
        pack["places"] = load_places(pack_dir)
        pack["qpv"] = load_qpv(pack_dir)
        pack["manifest"] = load_manifest(pack_dir)
        if _identity(pack_dir) == before:
            break
    return pack


def _identity(pack_dir: Path) -> tuple[int, int]:
    st = os.stat(pack_dir)
    return st.st_ino, st.st_ctime_ns
