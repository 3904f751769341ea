"""Tiny Streamlit app used only by the e2e tests: a synthetic choropleth shown offline.

``streamlit run tests/e2e/demo_map_app.py`` (the repository root must be importable, e.g.
``PYTHONPATH=.``).  Env ``INCLUSION_MAP_ASSETS`` = ``inline`` (default), ``static``, or ``cdn``
(folium's CDN links left in place: the negative control of the network check).
The module-level helpers build the synthetic data; the UI only runs as ``__main__``.
"""

from __future__ import annotations

import os

import geopandas as gpd
import numpy as np
import pandas as pd
from markupsafe import Markup
from shapely.geometry import Point, Polygon

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
N_COLS, N_ROWS = 6, 5
MISSING = {3: "secret statistique", 12: None}  # zone index → reason (None: no reason given)
HOSTILE_INDEX = 7
BINS = [0.0, 25.0, 50.0, 75.0, 100.0]
COLORS = ["#fee5d9", "#fcae91", "#fb6a4a", "#cb181d"]


def zone_code(i: int) -> str:
    return f"38{i + 1:03d}"


def synthetic_zones(
    n_cols: int = N_COLS,
    n_rows: int = N_ROWS,
    vertices_per_side: int = 1,
    lon0: float = 5.55,
    lat0: float = 45.05,
    step: float = 0.06,
) -> gpd.GeoDataFrame:
    """A grid of square zones in WGS84 (row-major from the south-west), codes ``38001``…

    ``vertices_per_side`` > 1 adds points along each side (to mimic real commune outlines);
    value of zone ``i`` = ``(i * 37) % 100``; zones listed in ``MISSING`` get NaN.
    """
    t = np.linspace(0.0, 1.0, vertices_per_side, endpoint=False)
    polys, codes, names, values, reasons = [], [], [], [], []
    for i in range(n_cols * n_rows):
        r, c = divmod(i, n_cols)
        x0, y0 = lon0 + c * step, lat0 + r * step
        x1, y1 = x0 + step, y0 + step
        ring = np.concatenate(
            [
                np.column_stack([x0 + t * step, np.full_like(t, y0)]),
                np.column_stack([np.full_like(t, x1), y0 + t * step]),
                np.column_stack([x1 - t * step, np.full_like(t, y1)]),
                np.column_stack([np.full_like(t, x0), y1 - t * step]),
            ]
        )
        polys.append(Polygon(np.round(ring, 6)))  # shared edges stay exactly shared
        codes.append(zone_code(i))
        names.append(HOSTILE_NAME if i == HOSTILE_INDEX else f"Commune {i + 1}")
        values.append(np.nan if i in MISSING else float((i * 37) % 100))
        reasons.append(MISSING.get(i))
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "nom": names,
            "taux": values,
            "pop": [1000 + 250 * i for i in range(len(codes))],
            "motif": pd.Series(reasons, dtype=object),
        },
        geometry=polys,
        crs="EPSG:4326",
    )


def synthetic_places() -> gpd.GeoDataFrame:
    """Three places near zone corners (off the zone centres, so hovering a centre hits a zone)."""
    return gpd.GeoDataFrame(
        {
            "id": ["p1", "p2", "p3"],
            "nom": ["Médiathèque <b>centre</b>", "Espace France Services", "Tiers-lieu & co"],
            "adresse": ["1 rue A", "2 rue B", "3 rue C"],
        },
        geometry=[Point(5.55 + 0.06 * k + 0.005, 45.05 + 0.06 * k + 0.005) for k in (1, 2, 3)],
        crs="EPSG:4326",
    )


def demo_map(asset_mode: str = "inline"):
    from ui.folium_map import build_choropleth, format_fr

    zones = synthetic_zones()
    outline = gpd.GeoDataFrame(geometry=[zones.union_all().boundary], crs="EPSG:4326")
    return build_choropleth(
        zones,
        "taux",
        "nom",
        BINS,
        COLORS,
        tooltip_fields=[
            ("taux", "Part des 75 ans et plus", lambda v: format_fr(v, 1) + " %"),
            ("pop", "Population", lambda v: format_fr(v, 0)),
        ],
        missing_label="Données manquantes",
        missing_reason_col="motif",
        legend_title="Part des 75 ans et plus (%)",
        points=synthetic_places(),
        point_label_col="nom",
        point_id_col="id",
        point_popup_fn=lambda row: Markup("<b>{}</b><br>{}").format(row["nom"], row["adresse"]),
        boundaries=outline,
        asset_mode=asset_mode,
    )


def main() -> None:
    import streamlit as st

    from ui.folium_map import show_map
    from ui.server_socket import disable_nagle

    disable_nagle()  # as app.py: the benchmark's reference runs on the same server settings
    st.set_page_config(page_title="Démo carte hors ligne", layout="wide")
    st.title("Démo carte hors ligne")
    mode = os.environ.get("INCLUSION_MAP_ASSETS", "inline")
    m = demo_map(None if mode == "cdn" else mode)  # "cdn": folium's CDN links (negative control)
    code = show_map(m, key="demo_map", height=480)
    st.text(f"Zone cliquée : {code or 'aucune'}")


if __name__ == "__main__":
    main()
