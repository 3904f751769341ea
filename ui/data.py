"""Cached access to the pack and the territory list for the pages (Streamlit caching lives here).

The core (``geodata``, ``indicators``, ``planning``) is plain Python; these wrappers cache its
results across reruns and sessions: the pack once per process (``st.cache_resource``, read-only),
derived tables per argument set (``st.cache_data``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import geopandas as gpd
import pandas as pd
import shapely
import streamlit as st

import geodata
from reports.labels import KIND_LABELS, KIND_LEVEL, LEVEL_COLUMN  # noqa: F401 (re-exported: one vocabulary, Streamlit-free)


@st.cache_resource(show_spinner="Chargement des données…")
def pack() -> dict:
    """The whole pack, loaded once per server process (treat as read-only)."""
    return geodata.load_pack()


@st.cache_resource(show_spinner=False)
def pack_tables() -> Mapping[str, pd.DataFrame]:
    """The pack's zone tables without geometry, plus the national reference (for the core's
    computations; read-only, shared by every session)."""
    p = pack()
    tables = {lv: pd.DataFrame(p[lv].drop(columns=["geometry", "geometry_display"])) for lv in geodata.LEVELS}
    tables["reference_france"] = p["reference_france"]
    return MappingProxyType(tables)


#: above this many zones a map uses the overview geometry (coarser, shared borders kept)
OVERVIEW_MIN_ZONES = 1000
OVERVIEW_TOLERANCE_M = 900.0


@st.cache_resource(show_spinner=False)
def overview_geometry(level: str):
    """WGS84 geometry of every zone of ``level`` simplified for regional maps (computed once).

    GEOS coverage simplification of the Lambert-93 geometry (tolerance ≈ √ of the triangle areas
    removed, :data:`OVERVIEW_TOLERANCE_M`), so neighbours keep a common border; the pack's
    ``geometry_display`` stays the detailed one for local maps.
    """
    z = pack()[level]
    wgs = gpd.GeoSeries(never_empty_simplify(z.geometry.values, OVERVIEW_TOLERANCE_M), index=z.index, crs=z.crs).to_crs("EPSG:4326")
    snapped = wgs.set_precision(1e-4)
    lost = snapped.is_empty | snapped.isna()  # a zone narrower than the grid (Parilly Sud, Bron) keeps finer coordinates
    snapped[lost] = wgs[lost].set_precision(1e-6)
    return snapped


def never_empty_simplify(geoms, tolerance_m: float):
    """Coverage simplification where a zone that would vanish (a small IRIS such as Parilly Sud,
    Bron, at the overview tolerance) keeps its own geometry: a simplified geometry is never empty."""
    simplified = shapely.coverage_simplify(geoms, tolerance_m)
    lost = shapely.is_empty(simplified) | shapely.is_missing(simplified) | (shapely.area(simplified) <= 0)
    simplified[lost] = geoms[lost]
    return simplified


def display_geometry(zones: pd.DataFrame) -> pd.Series:
    """The geometry to draw for these zones: detailed, or the overview for large maps."""
    if len(zones) > OVERVIEW_MIN_ZONES and "level" in zones and zones["level"].nunique() == 1:
        return overview_geometry(zones["level"].iloc[0]).loc[zones.index]
    return zones["geometry_display"]


def manifest() -> dict:
    return pack()["manifest"]


@st.cache_data(show_spinner=False)
def territories() -> pd.DataFrame:
    """Every pickable territory: ``key`` (``kind:code``), ``kind``, ``code``, ``name``, ``label``."""
    p = pack()
    frames = []
    for kind, level in KIND_LEVEL.items():
        z = p[level]
        frames.append(pd.DataFrame({"kind": kind, "code": z["code"].astype(str), "name": z["name"].astype(str)}))
    t = pd.concat(frames, ignore_index=True)
    t["key"] = t["kind"] + ":" + t["code"]
    t["label"] = t["name"] + " (" + t["kind"].map(KIND_LABELS) + " " + t["code"] + ")"
    order = {k: i for i, k in enumerate(KIND_LEVEL)}
    return t.sort_values(["kind", "name"], key=lambda s: s.map(order) if s.name == "kind" else s.str.lower()).reset_index(drop=True)


@st.cache_resource(show_spinner=False)
def territory_labels() -> Mapping[str, str]:
    """``{key: label}`` of :func:`territories`, in the picker's order; read-only and shared by
    every session (read twice per Carte rerun: no copy)."""
    t = territories()
    return MappingProxyType(dict(zip(t["key"], t["label"], strict=True)))


def territory_label(key: str) -> str:
    return territory_labels().get(key, key)


def zones_in(kind: str, code: str, level: str) -> pd.DataFrame:
    """Zones of ``level`` inside the territory ``kind:code`` (a commune at IRIS or commune level…)."""
    z = pack()[level]
    if kind == "com" and level == "commune":
        return z[z["code"] == code]
    if kind == "com":
        return z[z["code_commune"] == code]
    col = LEVEL_COLUMN[kind]
    if level == KIND_LEVEL[kind]:
        return z[z["code"] == code]
    return z[z[col] == code]
