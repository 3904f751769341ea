"""Map layers that do not depend on the indicator shown, serialised once and cached.

The Carte page rebuilds its folium map at every rerun (a new indicator, a click…). The zone
outlines, the commune boundaries and the places with their popups only change with the
territory, the level or the place filters, so their GeoJSON text is computed once per argument
set (``st.cache_data``: a cached string is copied, not recomputed) and handed to
:func:`ui.folium_map.build_choropleth` as :class:`ui.folium_map.PreparedFeatures`.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import streamlit as st
from markupsafe import Markup

from reports.figures import places_in
from ui import data, explain
from ui.folium_map import PreparedFeatures, prepare_outlines, prepare_points, prepare_zones
from ui.labels import PLACE_TYPE_LABELS, SERVICE_LABELS

#: above this many places in view, they carry their name only (keeps a regional map light)
MAX_POPUPS = 400
#: margin (m, Lambert-93) around the territory's bounding box for the places shown
PLACES_MARGIN_M = 2000


def zones_for_map(kind: str, code: str, level: str) -> gpd.GeoDataFrame:
    """Zones of the territory with the geometry the map draws (WGS84; overview for large maps)."""
    zones = data.zones_in(kind, code, level)
    return gpd.GeoDataFrame(zones[["code"]], geometry=data.display_geometry(zones).values, crs="EPSG:4326")


@st.cache_data(show_spinner=False, max_entries=32)
def zone_outlines(kind: str, code: str, level: str) -> PreparedFeatures:
    """Outlines of the territory's zones, carrying their code (same order as ``data.zones_in``)."""
    return prepare_zones(zones_for_map(kind, code, level))


def dissolve_by(geoms: gpd.GeoSeries, keys) -> gpd.GeoSeries:
    """Union of ``geoms`` per value of ``keys`` (same order as the first occurrence of each key).

    A key with one geometry keeps it as is (no union: the outline is then the very same
    coordinates as the zone); others are merged with ``shapely.union_all``, so that the borders
    shared inside a group vanish and the group's outline follows its zones' edges exactly.
    """
    keys = pd.Series(np.asarray(keys, dtype=object), index=geoms.index)
    if keys.isna().any():
        raise ValueError(f"keys: {int(keys.isna().sum())} zone(s) without a group code")
    out = {key: (g.iloc[0] if len(g) == 1 else shapely.union_all(g.to_numpy()))
           for key, g in geoms.groupby(keys.to_numpy(), sort=False)}
    return gpd.GeoSeries(list(out.values()), index=list(out.keys()), crs=geoms.crs)


@st.cache_data(show_spinner=False, max_entries=32)
def commune_boundaries(kind: str, code: str) -> PreparedFeatures:
    """Outlines of the communes of the territory's IRIS, drawn over an IRIS map.

    They are the union, commune by commune, of the very IRIS geometry the map fills
    (:func:`zones_for_map`: detailed, or the regional overview above ``data.OVERVIEW_MIN_ZONES``
    zones): one geometry per zone for fill and outline at each scale, so that a commune's outline
    follows its IRIS' edges (the communes' own display geometry, simplified on its own, crossed
    them on small territories such as Salers or Échirolles)."""
    iris = data.zones_in(kind, code, "iris")
    drawn = zones_for_map(kind, code, "iris")
    return prepare_outlines(gpd.GeoDataFrame(geometry=dissolve_by(drawn.geometry, iris["code_commune"].to_numpy())))


def _qpv_popup(row: pd.Series) -> Markup:
    return Markup("<b>Quartiers prioritaires</b><br>{}<br><i>{}</i>").format(
        row["qpv_codes"], "point placé au centre de la commune"
    )


@st.cache_data(show_spinner=False, max_entries=32)
def qpv_points(kind: str, code: str, level: str) -> PreparedFeatures:
    """QPV markers of the communes of the territory (one point per commune, at its centre: the
    raw data has no QPV perimeters)."""
    zones = data.zones_in(kind, code, level)
    qpv = data.pack()["qpv"]
    here = qpv[qpv["code_commune"].isin(set(zones.get("code_commune", zones["code"])))].to_crs("EPSG:4326")
    here["label"] = "QPV : " + here["qpv_names"].astype(str)
    return prepare_points(here, "label", _qpv_popup)


def _place_popup(row: pd.Series, today: date | None = None) -> Markup:
    """A place's popup with the freshness badge of its data against ``today``."""
    return explain.place_popup(row, PLACE_TYPE_LABELS, SERVICE_LABELS, today)


def places_near(
    all_places: gpd.GeoDataFrame, kind: str, code: str, level: str, types: tuple[str, ...], services: tuple[str, ...]
) -> gpd.GeoDataFrame:
    """Places within :data:`PLACES_MARGIN_M` of the territory's bounding box, filtered by type
    and by service (a place offering any of ``services``)."""
    minx, miny, maxx, maxy = data.zones_in(kind, code, level).geometry.total_bounds
    m = PLACES_MARGIN_M
    near = all_places.cx[minx - m : maxx + m, miny - m : maxy + m]
    if types:
        near = near[near["type"].isin(types)]
    if services:
        wanted = set(services)
        near = near[near["services"].fillna("").map(lambda s: bool(wanted & set(s.split(";"))))]
    return near


def count_in_territory(places: pd.DataFrame, kind: str, code: str) -> int:
    """How many of ``places`` are the territory's (:func:`reports.figures.places_in`): the
    Diagnostic's « Lieux d'accueil », so that the map's caption and the key figure agree."""
    return len(places_in(places, data.zones_in(kind, code, "commune")["code"]))


def place_points(
    kind: str,
    code: str,
    level: str,
    types: tuple[str, ...],
    services: tuple[str, ...],
    user_places: pd.DataFrame | None,
) -> PreparedFeatures:
    """The places drawn on the map (popups up to :data:`MAX_POPUPS` places).

    ``user_places``: this session's uploads (a DataFrame with ``x``/``y`` in Lambert-93, hashed
    by content by the cache, so sessions with the same uploads share the entry). The popups'
    freshness badges are computed against today's date, which is part of the cache key."""
    return _place_points(kind, code, level, types, services, user_places, date.today().isoformat())


@st.cache_data(show_spinner=False, max_entries=64)
def _place_points(
    kind: str,
    code: str,
    level: str,
    types: tuple[str, ...],
    services: tuple[str, ...],
    user_places: pd.DataFrame | None,
    today_iso: str,
) -> PreparedFeatures:
    pack_places = data.pack()["places"]
    if user_places is not None and len(user_places):
        user = gpd.GeoDataFrame(
            user_places, geometry=gpd.points_from_xy(user_places["x"], user_places["y"]), crs=pack_places.crs
        )
        places = gpd.GeoDataFrame(pd.concat([pack_places, user], ignore_index=True), geometry="geometry", crs=pack_places.crs)
    else:
        places = pack_places
    near = places_near(places, kind, code, level, types, services).to_crs("EPSG:4326")
    popups = partial(_place_popup, today=date.fromisoformat(today_iso)) if len(near) <= MAX_POPUPS else None
    return prepare_points(near, "name", popups, "place_id")
