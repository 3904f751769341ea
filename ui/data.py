"""Cached access to the pack and the territory list for the pages (Streamlit caching lives here).

The core (``geodata``, ``indicators``, ``planning``) is plain Python; these wrappers cache its
results across reruns and sessions: the pack once per process (``st.cache_resource``, read-only),
derived tables per argument set (``st.cache_data``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import geodata

KIND_LABELS = {"reg": "Région", "dep": "Département", "epci": "EPCI", "com": "Commune"}
KIND_LEVEL = {"reg": "region", "dep": "departement", "epci": "epci", "com": "commune"}
LEVEL_COLUMN = {"reg": "code_region", "dep": "code_departement", "epci": "code_epci", "com": "code_commune"}


@st.cache_resource(show_spinner="Chargement des données…")
def pack() -> dict:
    """The whole pack, loaded once per server process (treat as read-only)."""
    return geodata.load_pack()


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


def territory_label(key: str) -> str:
    t = territories().set_index("key")
    return t.at[key, "label"] if key in t.index else key


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
