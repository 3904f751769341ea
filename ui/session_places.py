"""Places a user uploaded in this browser session, merged with the pack's places.

Kept in ``st.session_state`` only (never written to disk, never shared between sessions).
"""

from __future__ import annotations

import hashlib

import geopandas as gpd
import pandas as pd
import streamlit as st

_KEY = "user_places"
_SEEN = "user_places_files"


def get() -> gpd.GeoDataFrame:
    """The uploaded places of this session (empty GeoDataFrame if none)."""
    return st.session_state.get(_KEY, gpd.GeoDataFrame({"name": []}, geometry=[], crs="EPSG:2154"))


def add(places: gpd.GeoDataFrame, filename: str) -> int:
    """Add validated places once per file content; returns how many were added."""
    if places.empty:
        return 0
    digest = hashlib.sha256(places.drop(columns="geometry").to_json().encode()).hexdigest()
    seen = st.session_state.setdefault(_SEEN, set())
    if digest in seen:
        return 0
    seen.add(digest)
    places = places.copy()
    places["place_id"] = f"import:{digest[:8]}:" + places["place_id"].astype(str)
    current = get()
    merged = places if current.empty else pd.concat([current, places], ignore_index=True)
    st.session_state[_KEY] = gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:2154")
    st.session_state["places_version"] = st.session_state.get("places_version", 0) + 1
    return len(places)


def clear() -> None:
    st.session_state.pop(_KEY, None)
    st.session_state.pop(_SEEN, None)
    st.session_state["places_version"] = st.session_state.get("places_version", 0) + 1


def all_places(pack_places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Pack places plus this session's uploads."""
    user = get()
    if user.empty:
        return pack_places
    return gpd.GeoDataFrame(pd.concat([pack_places, user], ignore_index=True), geometry="geometry", crs=pack_places.crs)
