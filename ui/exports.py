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
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import altair as alt
import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from indicators import CATALOGUE, Config
from reports import build as report_build
from reports.common import geometry_source, total, weighted_mean
from reports.context import load_scenarios
from reports.figures import (
    ESTIMATE_NOTES,
    FIGURE_COLUMNS,
    FIGURE_LABELS,
    MIN_COVERAGE,
    RATE_FIGURES,
    bivariate_label,
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
from reports.labels import KIND_LEVEL, LEVEL_NOUNS, REFERENCE_KIND, TERCILES
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
from ui.safe_text import escape_md

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


#: the app's own outputs of a territory (the Carte layers): key → (label, unit, decimals)
OUTCOME_FIGURES = {
    "score": ("Indice de fragilité numérique (note moyenne des habitants)", "/10", 1),
    "access": ("Accessibilité aux lieux d'accompagnement (E2SFCA)", "h / sem. pour 1 000", 1),
    "unmet": ("Besoin non couvert", "personnes", 0),
}


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or NaN everywhere when the column is absent."""
    return frame[name] if name in frame.columns else pd.Series(np.nan, index=frame.index)


def outcome_rows(res: pd.DataFrame, zones: pd.DataFrame, level: str, source: str) -> pd.DataFrame:
    """Fragility index, accessibility and unmet need of a territory, as :data:`FIGURE_COLUMNS` rows.

    ``res``: the app's zone results of ``level`` (:func:`ui.compute.results`); ``zones``: the
    territory's zones of that level (pack rows, with ``population``). The same sums as the
    diagnostic report (``reports.sections_access``) and the Diagnostic page's zone table:

    - index = Σ_z pop_z · score_z / Σ_z pop_z over the scored zones: the note (0–10) of the zone
      where the average resident lives (each zone's decile against the index reference);
    - access = Σ_z N_z · A_z / Σ_z N_z (hours per week per 1 000 people in need, need-weighted:
      equal to the territory's own value, :mod:`indicators.levels`);
    - unmet need = Σ_z U_z (people).
    """
    r = res.reindex(zones.index)
    pop, need = _column(zones, "population"), _column(r, "need")
    noun = LEVEL_NOUNS.get(level, (level, level))[1]
    values = {
        "score": (weighted_mean(_column(r, "score"), pop), weighted_mean(_column(r, "est_fragility"), pop),
                  f"moyenne des notes des {noun} du territoire pondérée par leur population (note = décile sur la référence de l'indice)"),
        "access": (weighted_mean(_column(r, "access"), need), weighted_mean(_column(r, "access_estimated"), need),
                   f"moyenne des {noun} pondérée par les personnes en besoin (E2SFCA, zone de chalandise de la page Carte)"),
        "unmet": (total(_column(r, "unmet")), weighted_mean(_column(r, "est_unmet"), _column(r, "unmet")),
                  f"somme des {noun} : personnes en besoin × (1 − accès ÷ cible), cible = accès médian de la référence"),
    }
    rows = []
    for key, (label, unit, decimals) in OUTCOME_FIGURES.items():
        value, est, note = values[key]
        rows.append({"key": key, "label": label, "value": value, "unit": unit, "decimals": decimals, "source": source,
                     "note": note if np.isfinite(value) else "non disponible : aucune zone calculée", "estimated_share": est})
    return pd.DataFrame(rows, columns=FIGURE_COLUMNS)


@st.cache_data(show_spinner="Calcul de l'indice et de l'accès…", max_entries=128)
def outcome_figures(key: str, level: str, config_json: str, user_digest: str) -> pd.DataFrame:
    """:func:`outcome_rows` of territory ``key`` (``kind:code``) on the app's cached results of
    ``level`` (the map's level of detail), cached on the arguments (``user_digest``: cache key)."""
    del user_digest  # cache key only
    config = Config.from_json(config_json)
    kind, code = key.split(":", 1)
    res, _caps, _report = results(level, config)
    manifest = data.manifest()
    groups = " ; ".join(dict.fromkeys(source_line(manifest, CATALOGUE[k].group) for k in config.indicator_keys))
    return outcome_rows(res, data.zones_in(kind, code, level), level, f"calcul du projet à partir de {groups}")


# ---------------------------------------------------------------------------------------------
# Comparer: selection, reference, table, charts, sources
# ---------------------------------------------------------------------------------------------

#: bar and reference-line colours of the Comparer's charts
COMPARE_BAR_COLOR = "#c2410c"
COMPARE_REFERENCE_COLOR = "#1e3a8a"
#: room left right of the longest bar for its value (share of the axis)
_LABEL_ROOM = 0.18


def compare_defaults(territory: str) -> tuple[str, ...]:
    """The Comparer's opening selection: the sidebar's territory and its reference (2 at most)."""
    ref = reference_key(territory)
    return (territory, ref) if ref else (territory,)


def region_key(key: str) -> str | None:
    """'reg:84' for any territory of Auvergne-Rhône-Alpes (its région itself included)."""
    seen = 0
    while key is not None and not key.startswith("reg:") and seen < len(REFERENCE_KIND) + 1:
        key, seen = reference_key(key), seen + 1
    return key if key is not None and key.startswith("reg:") else None


def unique_names(keys: Sequence[str], names: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, str]:
    """Column names of the compared territories: their name, or their full label (« Grenoble
    (commune 38185) ») when two of them share a name."""
    counts: dict[str, int] = {}
    for k in keys:
        counts[names[k]] = counts.get(names[k], 0) + 1
    return {k: names[k] if counts[names[k]] == 1 else labels[k] for k in keys}


def comparison_table(figures: Mapping[str, pd.DataFrame], order: Sequence[str], names: Mapping[str, str]) -> pd.DataFrame:
    """One row per figure of ``order`` (label, unit), one column per territory (French text).

    ``figures``: territory key → key figures indexed by figure key (:data:`FIGURE_COLUMNS`)."""
    first = next(iter(figures.values()))
    rows = []
    for fk in order:
        row = {"Indicateur": first.loc[fk, "label"], "Unité": first.loc[fk, "unit"]}
        for k, figs in figures.items():
            f = figs.loc[fk]
            row[names[k]] = figure_text(f["value"], f["unit"], f["decimals"])
        rows.append(row)
    return pd.DataFrame(rows)


def axis_format(decimals: int) -> str:
    """d3 format of a chart axis with at most ``decimals`` decimals, trailing zeros dropped
    (« 0 », « 2,5 », « 1 250 » with :data:`VEGA_FR_LOCALE`; never « 0,000000 »)."""
    return f",.{max(int(decimals), 0)}~f"


def _axis_top(values: np.ndarray) -> float:
    """Upper end of the value axis: the largest value plus room for its label; 1 when every value
    is 0 or missing (a zero-width axis would repeat one tick)."""
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    return top * (1.0 + _LABEL_ROOM) if top > 0 else 1.0


def comparison_chart(values: pd.DataFrame, *, unit: str, decimals: int, reference: tuple[str, float, str] | None = None) -> alt.Chart:
    """Horizontal bars of one figure, one per territory, with the reference's value as a dashed
    line named in the legend.

    ``values``: ``Territoire``, ``Valeur`` (NaN = n.d., drawn as an empty bar), ``Texte`` (the
    French value); ``reference``: (legend label, value, French value) or None."""
    order = values["Territoire"].tolist()
    v = pd.to_numeric(values["Valeur"], errors="coerce").to_numpy(float)
    ref_v = np.array([reference[1]], float) if reference is not None else np.array([], float)
    x = alt.X("Valeur:Q", title=unit, scale=alt.Scale(domain=[0, _axis_top(np.concatenate([v, ref_v]))]),
              axis=alt.Axis(format=axis_format(decimals), tickMinStep=10.0 ** -max(int(decimals), 0), tickCount=5))
    base = alt.Chart(values.assign(Valeur=np.where(np.isfinite(v), v, 0.0))).encode(
        y=alt.Y("Territoire:N", sort=order, scale=alt.Scale(domain=order), title=None,
                 axis=alt.Axis(labelLimit=220, labelOverlap=False)),
        x=x,
        tooltip=["Territoire", alt.Tooltip("Texte:N", title="Valeur")],
    )
    chart = base.mark_bar(color=COMPARE_BAR_COLOR) + base.mark_text(align="left", dx=3, fontSize=11).encode(text="Texte:N")
    if reference is not None and np.isfinite(reference[1]):
        line = pd.DataFrame({"Valeur": [reference[1]], "Repère": [reference[0]], "Texte": [reference[2]]})
        rule = alt.Chart(line).mark_rule(strokeDash=[6, 3], strokeWidth=2).encode(
            x=x,
            color=alt.Color("Repère:N", scale=alt.Scale(range=[COMPARE_REFERENCE_COLOR]),
                            legend=alt.Legend(title=None, orient="bottom", labelLimit=500)),
            tooltip=[alt.Tooltip("Repère:N", title="Repère"), alt.Tooltip("Texte:N", title="Valeur")],
        )
        chart = chart + rule
    # the height holds the axis title and the legend too (Streamlit fits the whole chart in it)
    height = 40 * len(order) + (120 if reference is not None else 80)
    return chart.properties(height=height).configure(locale=VEGA_FR_LOCALE)


def comparison_sources(figures: Mapping[str, pd.DataFrame], order: Sequence[str]) -> str:
    """Every distinct source of the compared figures once, with the figures it serves, as a
    Markdown-safe list: « - **Population** : INSEE — RP2022 », one line per source."""
    by_source: dict[str, list[str]] = {}
    first = next(iter(figures.values()))
    for fk in order:
        for figs in figures.values():
            src = str(figs.loc[fk, "source"] or "").strip()
            if src and first.loc[fk, "label"] not in by_source.setdefault(src, []):
                by_source[src].append(first.loc[fk, "label"])
    return "\n".join(f"- **{escape_md(', '.join(labels), 600)}** : {escape_md(src, 600)}" for src, labels in by_source.items())


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
    "bivariate_label", "zone_table", "column_dictionary", "column_label", "workbook_dictionary", "key_figures_table",
    "about_table", "neutralise", "to_csv", "to_xlsx", "diagnostic_workbook", "to_gpkg", "to_geojson", "map_png", "comparison_long", "key_figures",
    "reference_key", "need_source", "user_places_digest", "zone_layer", "score_shares", "session_place_table", "progress_to",
    "diagnostic_report", "REPORT_MIME", "score_shares_note", "index_map", "index_map_png", "INDEX_MAP_SIZE_CM", "INDEX_MAP_DPI",
    "OUTCOME_FIGURES", "outcome_rows", "outcome_figures",
    "compare_defaults", "region_key", "unique_names", "comparison_table", "axis_format", "comparison_chart",
    "comparison_sources",
]
