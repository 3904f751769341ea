"""The Comparer page's builders: the app's own outputs of a territory (fragility index, access,
unmet need) beside the Diagnostic's key figures, the opening selection, the side-by-side table,
one bar chart per figure with the reference line, and the sources listed once.

The key figures come from :func:`ui.exports.key_figures` (the Diagnostic's); the outputs from the
app's cached zone results (:func:`ui.compute.results`), summed as in the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from indicators import CATALOGUE, Config
from reports.common import total, weighted_mean
from reports.figures import FIGURE_COLUMNS, figure_text, source_line
from reports.labels import LEVEL_NOUNS, REFERENCE_KIND
from ui import data
from ui.compute import results
from ui.exports import VEGA_FR_LOCALE, reference_key
from ui.safe_text import escape_md, escape_md_name

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

    - index = Σ_z pop_z · score_z / Σ_z pop_z over the scored zones: the note (1–10) of the zone
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
            row[escape_md_name(names[k])] = figure_text(f["value"], f["unit"], f["decimals"])  # st.table: Markdown
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
    bars = base.mark_bar(color=COMPARE_BAR_COLOR)
    # the values last, over a white halo: the reference line crosses them otherwise (« 9,7 % »)
    labels = [base.mark_text(align="left", dx=3, fontSize=11, stroke="white", strokeWidth=6, strokeJoin="round").encode(text="Texte:N"),
              base.mark_text(align="left", dx=3, fontSize=11).encode(text="Texte:N")]
    chart = alt.layer(bars, *labels)
    if reference is not None and np.isfinite(reference[1]):
        line = pd.DataFrame({"Valeur": [reference[1]], "Repère": [reference[0]], "Texte": [reference[2]]})
        rule = alt.Chart(line).mark_rule(strokeDash=[6, 3], strokeWidth=2).encode(
            x=x,
            color=alt.Color("Repère:N", scale=alt.Scale(range=[COMPARE_REFERENCE_COLOR]),
                            legend=alt.Legend(title=None, orient="bottom", labelLimit=500)),
            tooltip=[alt.Tooltip("Repère:N", title="Repère"), alt.Tooltip("Texte:N", title="Valeur")],
        )
        chart = alt.layer(bars, rule, *labels)
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


__all__ = ["OUTCOME_FIGURES", "outcome_rows", "outcome_figures", "compare_defaults", "region_key", "unique_names",
           "comparison_table", "axis_format", "comparison_chart", "comparison_sources"]
