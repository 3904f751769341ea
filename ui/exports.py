"""Cached Streamlit wrappers of the Diagnostic and Comparer pages, and the pure builders they use.

The builders live in the Streamlit-free package ``reports`` (key figures: ``reports.figures``;
zone table, labels and dictionary: ``reports.tables``; files: ``reports.files``; PNG map:
``reports.maps``) and are re-exported here, so that the pages, the command line and the
diagnostic report compute the same figures with the same code. This module adds the caches
(:func:`key_figures`, :func:`zone_layer`, :func:`score_shares`, :func:`index_map`), the page's map
of the fragility index (:func:`index_map_png`, the report's static map) and the report of the page
(:func:`diagnostic_report`), the only Streamlit code of the exports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial

import geopandas as gpd
import pandas as pd
import streamlit as st

from indicators import Config
from reports import build as report_build
from reports.common import geometry_source
from reports.context import load_scenarios
from reports.figures import (
    ESTIMATE_NOTES,
    FIGURE_COLUMNS,
    FIGURE_LABELS,
    MIN_COVERAGE,
    RATE_FIGURES,
    bivariate_label,
    bivariate_short,
    figure_text,
    key_figures_for,
    need_source,
    places_by_type,
    places_source,
    score_shares_note,
    source_line,
    territory_figures,
)
from reports.figures import score_shares as shares_of_scores
from reports.files import diagnostic_workbook, neutralise, to_csv, to_geojson, to_gpkg, to_xlsx
from reports.labels import KIND_LEVEL, REFERENCE_KIND, TERCILES
from reports.maps import MapFrame, choropleth_png, map_classes, map_png, palette
from reports.results import estimated_flags
from reports.sections import estimated_caption
from reports.tables import (
    ZONE_COLUMN_LABELS,
    about_table,
    column_dictionary,
    column_label,
    comparison_long,
    key_figures_table,
    workbook_dictionary,
    zone_table,
)
from reports.territory import Territory, reference_of
from reports.territory import territory as territory_of
from ui import data, session_places
from ui.compute import results
from ui.labels import PLACE_TYPE_LABELS
from ui.method import french_source_text

#: French number format for Vega-Lite charts (``chart.configure(locale=…)``): decimal comma, narrow no-break space
VEGA_FR_LOCALE = {"number": {"decimal": ",", "thousands": "\u202f", "grouping": [3], "currency": ["", "\u00a0€"]}}
#: the Diagnostic page's map: printed size (cm) and resolution (a 740 × 520 px image, drawn in under a second
#: for the 4 027 communes of the région)
INDEX_MAP_SIZE_CM, INDEX_MAP_DPI = (17.0, 12.0), 110
REPORT_MIME = {"pdf": "application/pdf", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def user_places_digest() -> str:
    """Digest of the places uploaded in this session ('' if none): a cache key that is safe to
    share between sessions (a per-session counter would not be)."""
    user = session_places.get()
    if user.empty:
        return ""
    frame = pd.DataFrame(user.drop(columns="geometry")).astype(str)
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()[:16]


def reference_key(key: str) -> str | None:
    """'dep:38' for an EPCI or a commune of Isère, 'reg:84' for a département, None for the région."""
    kind, code = key.split(":", 1)
    if kind not in REFERENCE_KIND:
        return None
    ref = reference_of(data.pack(), Territory(kind, code, ""))
    return ref.key if ref is not None else None


def _level_results(config: Config, level: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(zone results, place capacities) of ``level``: the app's cached results."""
    res, caps, _report = results(level, config)
    return res, caps


def session_place_table() -> pd.DataFrame:
    """Every place of the pack and of this session's uploads, without geometry."""
    return pd.DataFrame(session_places.all_places(data.pack()["places"]).drop(columns="geometry"))


@st.cache_data(show_spinner="Calcul des chiffres clés…", max_entries=128)
def key_figures(key: str, config_json: str, user_digest: str) -> pd.DataFrame:
    """Key figures of territory ``key`` (``kind:code``) for a configuration
    (:func:`reports.figures.key_figures_for`), cached on the arguments (``user_digest`` =
    :func:`user_places_digest`, a cache key only)."""
    del user_digest  # cache key only
    config = Config.from_json(config_json)
    return key_figures_for(data.pack(), key, config, partial(_level_results, config), session_place_table())


@st.cache_resource(show_spinner="Préparation du tableau des zones…", max_entries=8)
def zone_layer(territory: str, level: str, config_json: str, user_digest: str) -> gpd.GeoDataFrame:
    """Zone layer of the territory at ``level`` with its indicators (plain columns, WGS84), for the
    Diagnostic page (kept out of the page script: a function defined there would tie the page's
    globals in a reference cycle, freed only by Python's next full collection).

    Shared, read-only (``cache_resource``): a regional layer with its geometry is tens of MB, which
    ``cache_data`` would keep pickled and copy again at every rerun of every session."""
    del user_digest  # cache key only
    kind, code = territory.split(":", 1)
    res, _caps, _report = results(level, Config.from_json(config_json))
    return zone_table(data.zones_in(kind, code, level), res)


@st.cache_data(show_spinner=False, max_entries=32)
def score_shares(territory: str, level: str, config_json: str, user_digest: str) -> pd.DataFrame:
    """Share of zones (%) per unit of the fragility index (0–1, 1–2 … 9–10) in the territory."""
    del user_digest
    kind, code = territory.split(":", 1)
    res, _c, _r = results(level, Config.from_json(config_json))
    zones = data.zones_in(kind, code, level)
    return shares_of_scores(res.reindex(zones.index)["score"])


def index_map_png(zones: gpd.GeoDataFrame, zone_results: pd.DataFrame, outline: gpd.GeoSeries, *, level: str,
                  source: str, manifest) -> tuple[bytes, str]:
    """PNG of the fragility index of ``zones`` (``zone_results`` aligned with them: ``score``,
    ``est_fragility``) inside the territory's ``outline``, and its French caption: classes of
    :func:`reports.maps.map_classes` (quintiles, a « 0 » class on skewed values, single-value
    labels), zones whose note rests on estimates for 10 % or more hatched (paler above 1 000 zones),
    data ``source`` and the outlines' source from the manifest."""
    classes = map_classes(zone_results["score"], "quantiles", 5, decimals=1)
    flags = estimated_flags(zone_results, "fragility", "score")
    png = choropleth_png(
        zones, zone_results["score"], bins=classes.bins, colors=palette("YlOrRd", classes.k), class_labels=classes.labels,
        legend_title="Indice de fragilité numérique (note sur 10, plus haut = plus fragile)",
        frame=MapFrame(source="", outline=gpd.GeoSeries(outline.to_numpy(), crs=outline.crs)),
        estimated=flags.to_numpy(), missing_label="non notée (sans habitants ou donnée absente)",
        size_cm=INDEX_MAP_SIZE_CM, dpi=INDEX_MAP_DPI,
    )
    outlines = french_source_text(geometry_source(manifest, level))
    caption = (f"Classes : {classes.rule}, sur les zones du territoire. " + estimated_caption(flags, zones, level, "la note")
               + f" Source : {source}." + (f" Contours : {outlines}." if outlines else ""))
    return png, caption


@st.cache_data(show_spinner="Dessin de la carte…", max_entries=16)
def index_map(territory: str, level: str, config_json: str, user_digest: str, source: str) -> tuple[bytes, str]:
    """:func:`index_map_png` of territory ``territory`` (``kind:code``) at ``level`` from the app's
    cached results, cached on the arguments (a few hundred kB per entry)."""
    del user_digest  # cache key only
    kind, code = territory.split(":", 1)
    res, _c, _r = results(level, Config.from_json(config_json))
    zones = data.zones_in(kind, code, level)
    own = data.zones_in(kind, code, KIND_LEVEL[kind])
    return index_map_png(zones, res.reindex(zones.index), own.geometry, level=level, source=source, manifest=data.manifest())


def _to_progress_bar(bar, fraction: float, message: str) -> None:
    bar.progress(min(max(fraction, 0.0), 1.0), text=message)


def progress_to(bar) -> Callable[[float, str], None]:
    """A report progress callback that moves ``bar`` (an ``st.progress``): a partial of a
    module function, so that nothing keeps the page's globals alive."""
    return partial(_to_progress_bar, bar)


def diagnostic_report(key: str, level: str, config: Config, fmt: str, progress: Callable[[float, str], None]) -> bytes:
    """The diagnostic report of territory ``key`` as ``pdf`` or ``docx`` bytes, from the app's own
    cached results and this session's places (the figures of the page), with the scenarios saved
    for the territory in the workspace (``$INCLUSION_WORKSPACE``, as the Implantation page)."""
    pack = data.pack()
    scenarios = load_scenarios(territory_of(pack, key))
    report = report_build.build_report(pack, key, config=config, level=level, places=session_place_table(),
                                       results=partial(_level_results, config), scenarios=scenarios, progress=progress)
    return report_build.render(report, fmt, progress)


__all__ = [
    "MIN_COVERAGE", "PLACE_TYPE_LABELS", "VEGA_FR_LOCALE", "FIGURE_LABELS", "FIGURE_COLUMNS", "RATE_FIGURES", "ESTIMATE_NOTES",
    "TERCILES", "ZONE_COLUMN_LABELS", "source_line", "places_source", "territory_figures", "figure_text", "places_by_type",
    "bivariate_label", "bivariate_short", "zone_table", "column_dictionary", "column_label", "workbook_dictionary", "key_figures_table",
    "about_table", "neutralise", "to_csv", "to_xlsx", "diagnostic_workbook", "to_gpkg", "to_geojson", "map_png", "comparison_long", "key_figures",
    "reference_key", "need_source", "user_places_digest", "zone_layer", "score_shares", "session_place_table", "progress_to",
    "diagnostic_report", "REPORT_MIME", "score_shares_note", "index_map", "index_map_png", "INDEX_MAP_SIZE_CM", "INDEX_MAP_DPI",
]
