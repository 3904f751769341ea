"""Cached calls into the core for the pages: indicators for a level, layers, classes, sources.

The indicators are computed once per (level, configuration, uploaded places) over the **whole
level** of the pack (all AURA IRIS or communes, ~0.1 s), so that deciles use the reference
territory (département by default) and places across a territory's border count; pages then
filter to the territory they show. ``st.cache_data`` keys on the arguments, so a widget that
does not change them (the classification, the layer shown) does not recompute anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from indicators import CATALOGUE, Config
from indicators.definitions import estimated_fraction
from reports.labels import (  # noqa: F401 (re-exported)
    BIVARIATE_COLORS,
    ESTIMATED_THRESHOLD,
    LEVEL_NOUNS,
    NEED_AXIS_TERCILES,
    NEED_LABELS,
    STATUS_LABELS,
    TERCILES_F,
)
from reports.maps import MapClasses, classify, map_classes, palette  # noqa: F401 (re-exported: the report's maps use the same classes)
from reports.results import ESTIMATED_COLUMNS, level_results
from ui import data, session_places
from ui.safe_text import escape_md
from ui.state import ViewState

#: URL preset -> indicators decay name (METHOD.md §4)
PRESET_DECAY = {"apl": "apl", "pysal": "pysal", "30min": "step30"}
PRESET_LABELS = {
    "apl": "APL (DREES) : 10 / 15 / 20 min",
    "pysal": "PySAL : 10 / 20 / 30 min",
    "30min": "30 minutes (cible France Services)",
}
REFERENCE_CHOICES = {
    "departement": "Département",
    "epci": "EPCI",
    "region": "Région",
    "france": "France (communes, départements ; région sinon)",
}


def bivariate_legend(layer_key: str) -> tuple[list[float], list[str], list[str]]:
    """(bins, colours, labels) of a 3 × 3 layer: class c = 3 × (need tercile − 1) + other tercile."""
    other = ("activité", TERCILES_F) if layer_key == "bivariate_activity" else ("accès", "faible moyen bon".split())
    labels = [f"{NEED_AXIS_TERCILES['score'][(c - 1) // 3]} · {other[0]} {other[1][(c - 1) % 3]}" for c in range(1, 10)]
    return [0.5 + i for i in range(10)], list(BIVARIATE_COLORS), labels


@dataclass(frozen=True)
class Layer:
    key: str
    label: str
    column: str
    unit: str
    decimals: int
    group: str | None  # pack status group explaining missing values
    palette: str = "YlOrRd"


def config_for(state: ViewState) -> Config:
    """The indicators configuration the view state describes."""
    weights = tuple(sorted((k, int(v)) for k, v in state.weights.items() if k in CATALOGUE))
    return Config(need_model=state.need_model, decay=PRESET_DECAY[state.preset], weights=weights, reference=state.reference)


def config_or_stop(state: ViewState, before_stop: Callable[[], None] | None = None) -> Config:
    """:func:`config_for`, or an error message and the end of the page run when it is invalid
    (``before_stop``: what the page still draws then, e.g. its sidebar)."""
    try:
        return config_for(state)
    except ValueError as exc:  # the message may quote values from the link: escaped
        st.error(f"Paramètres invalides : {escape_md(exc)}. Les réglages par défaut restent disponibles dans la barre latérale.")
        if before_stop is not None:
            before_stop()
        st.stop()


def layers(config: Config) -> dict[str, Layer]:
    """Every layer the map can show, in menu order."""
    out = {
        "fragility": Layer("fragility", "Indice de fragilité numérique", "score", "note /10", 1, None, "YlOrRd"),
        "need": Layer("need", "Personnes en besoin d'accompagnement", "need", "personnes", 0, "poverty", "Oranges"),
        "access": Layer("access", "Accessibilité (E2SFCA)", "access", "h / sem. pour 1 000 pers.", 1, None, "YlGnBu_r"),
        "unmet": Layer("unmet", "Besoin non couvert", "unmet", "personnes", 0, "poverty", "Reds"),
        "bivariate": Layer("bivariate", "Fragilité × accessibilité (3 × 3)", "bivariate_num", "classe", 0, None, "bivariate"),
        "nearest": Layer("nearest", "Temps jusqu'au lieu le plus proche", "nearest_time_min", "min", 0, None, "PuRd"),
        "activity": Layer("activity", "Personnes accompagnées par les conseillers numériques pour 1 000 personnes en besoin",
                          "accompanied_per_1000", "pour 1 000", 0, "activity", "YlGnBu"),
        "activity_ac": Layer("activity_ac", "Usagers Aidants Connect pour 1 000 personnes en besoin", "ac_users_per_1000",
                             "pour 1 000", 1, "activity", "YlGnBu"),
        "bivariate_activity": Layer("bivariate_activity", "Fragilité × activité observée (3 × 3)", "bivariate_activity_num",
                                    "classe", 0, None, "bivariate"),
    }
    for key, ind in CATALOGUE.items():
        if key == "places_per_10k":
            continue
        out[f"ind:{key}"] = Layer(f"ind:{key}", ind.label, f"ind_{key}", ind.unit, 1 if ind.unit == "%" else 0, ind.group, "YlOrRd" if ind.higher_is_more_fragile else "YlOrRd_r")
    return out


@st.cache_data(show_spinner="Calcul des indicateurs…", max_entries=32)
def _compute(level: str, config_json: str, user_places: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Results of every zone of ``level`` (:func:`reports.results.level_results`: need, access and
    unmet need computed once on the IRIS and summed, so every level shows the same totals)."""
    places = data.pack()["places"].drop(columns="geometry")
    if user_places is not None and len(user_places):
        places = pd.concat([places, user_places], ignore_index=True)
    return level_results(data.pack_tables(), level, places.reset_index(drop=True), Config.from_json(config_json))


def results(level: str, config: Config) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(zone results for the whole level, place capacities, report), cached."""
    user = session_places.get()
    user_df = None if user.empty else pd.DataFrame(user.drop(columns="geometry"))
    return _compute(level, config.to_json(), user_df)


def vintage_note(group: str | None) -> str:
    """'source, millésime' of an indicator group, read from the manifest."""
    if group is None:
        return "calcul du projet (voir Données & méthode)"
    meta = data.manifest().get("indicators", {}).get(group)
    if not meta:
        return "source : voir Données & méthode"
    titles = [data.manifest()["sources"][s]["producer"] for s in meta["sources"] if s in data.manifest()["sources"]]
    producers = ", ".join(dict.fromkeys(titles)) or "?"
    return f"{producers} — {meta['vintage']}"


def vintage_short(group: str | None) -> str:
    """The vintage alone (tooltips: short text repeated on every zone)."""
    if group is None:
        return "calcul du projet"
    return data.manifest().get("indicators", {}).get(group, {}).get("vintage", "?")


#: caveat of the observed-activity layers (tooltips, captions, explanation)
ACTIVITY_CAVEAT = (
    "comptes rendus d'activité des conseillers numériques, cumulés jusqu'en juillet 2023 (début non précisé par la source), "
    "par code postal du lieu d'activité, répartis entre les communes du code postal selon leur population ; une personne "
    "vue plusieurs fois peut compter plusieurs fois ; les usagers Aidants Connect sont montrés à part, jamais ajoutés"
)


def missing_reason(zones: pd.DataFrame, layer: Layer) -> pd.Series:
    """Why a zone has no value for the layer, in French."""
    if layer.key.startswith(("activity", "bivariate_activity")) and "level" in zones and (zones["level"] == "iris").any():
        return pd.Series("activité observée connue par commune : choisissez la maille « Communes »", index=zones.index)
    if layer.group and f"{layer.group}_status" in zones.columns:
        return zones[f"{layer.group}_status"].astype("string").map(lambda s: STATUS_LABELS.get(s, s) if isinstance(s, str) else "donnée absente")
    return pd.Series("donnée absente du calcul (population ou pauvreté manquante)", index=zones.index)


def config_json(config: Config) -> str:
    return json.dumps(config.to_dict(), sort_keys=True)


#: why an input is estimated, per zone status (short, for tooltips and captions)
ESTIMATE_REASONS = {
    "estimated": "estimé (donnée non publiée)",
    "from_commune": "valeur de la commune",
    "rescaled": "structure RP2016 remise à l'échelle",
}


def _input_estimates(zones: pd.DataFrame, config: Config) -> dict[str, pd.Series]:
    """{indicator key: per-zone reason its value is estimated ('' when measured)} for the index."""
    out = {}
    for key in config.indicator_keys:
        if config.weight_map.get(key, 1) == 0 or key == "places_per_10k":
            continue
        ind = CATALOGUE[key]
        reason = pd.Series("", index=zones.index, dtype=object)
        share = estimated_fraction(zones, ind)
        status = zones.get(f"{ind.group}_status")
        if status is not None and f"{ind.group}_estimated_share" not in zones:
            reason = status.astype("object").map(ESTIMATE_REASONS).fillna("")
        else:
            reason = pd.Series(np.where(share >= ESTIMATED_THRESHOLD, [f"estimé pour {format_pct(v)}" for v in share], ""), index=zones.index)
        imputed = zones.get(f"imputed_{key}")
        if imputed is not None:
            reason = reason.where(~imputed.fillna(False).astype(bool), "manquant, remplacé par la médiane de la référence")
        out[key] = reason
    return out


def format_pct(share: float) -> str:
    return f"{100.0 * share:.0f} %".replace(".", ",")


def estimate_view(view: pd.DataFrame, zones: pd.DataFrame, layer: Layer, config: Config) -> tuple[pd.Series, pd.Series, list[str]]:
    """(estimated flag, tooltip note, caption counts) of the zones of ``view`` for ``layer``.

    A zone is estimated when at least :data:`ESTIMATED_THRESHOLD` of its value rests on
    estimated inputs; the note names them (« taux de pauvreté : estimé (donnée non publiée) »);
    the counts say how many zones have each input estimated (« 3 504 communes : taux de
    pauvreté estimé »)."""
    col = ESTIMATED_COLUMNS.get(layer.key, f"est_{layer.column}" if layer.column.startswith("ind_") else None)
    share = pd.to_numeric(view[col], errors="coerce").fillna(0.0) if col and col in view else pd.Series(0.0, index=view.index)
    flag = (share >= ESTIMATED_THRESHOLD) & view["value"].notna()
    z = zones.join(view[[c for c in view.columns if c.startswith("imputed_")]], how="left") if layer.key in ("fragility", "bivariate") else zones
    keys = config.indicator_keys if layer.key in ("fragility", "bivariate") else ()
    if layer.key in ("need", "unmet"):
        keys = ("poverty",) if config.need_model == "precarity" else ("age65_all",)
    if layer.column.startswith("ind_"):
        keys = (layer.column[4:],)
    reasons = _input_estimates(z, config.replace(indicators=tuple(keys), weights=())) if keys else {}
    notes = pd.Series("", index=view.index, dtype=object)
    counts = []
    nouns = LEVEL_NOUNS.get(str(zones["level"].iloc[0]) if "level" in zones and len(zones) else "", ("zone", "zones"))
    for key, reason in reasons.items():
        reason = reason.reindex(view.index).fillna("")
        label = CATALOGUE[key].label
        notes = notes.where(reason.eq(""), notes.where(notes.eq(""), notes + " ; ") + label + " : " + reason)
        for why, n in reason[reason.ne("")].value_counts().items():
            counts.append(f"{format_count(n)} {nouns[n > 1]} : {label[0].lower() + label[1:]} — {why}")
    if layer.key in ("access", "unmet", "bivariate"):
        acc = pd.to_numeric(view.get("access_estimated"), errors="coerce").fillna(0.0) >= ESTIMATED_THRESHOLD
        notes = notes.where(~acc, notes.where(notes.eq(""), notes + " ; ") + "accessibilité : horaires d'ouverture inconnus (valeur par défaut) ou besoin estimé")
        n = int(acc.sum())
        if n:
            counts.append(f"{format_count(n)} {nouns[n > 1]} : accessibilité reposant sur des horaires par défaut ou un besoin estimé")
    return flag, notes.where(flag, ""), counts


def format_count(n: int) -> str:
    """'3 504' with a narrow no-break space."""
    return f"{n:,}".replace(",", "\u202f")


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """« 0 zone », « 1 zone », « 3 504 zones » (French: 0 and 1 take the singular)."""
    return f"{format_count(n)} {singular if abs(n) < 2 else (plural_form or singular + 's')}"


def _agree(n: int, singular: str, plural_form: str) -> str:
    return singular if abs(n) < 2 else plural_form


def zones_caption(n_zones: int, n_missing: int, n_estimated: int, n_uninhabited: int, *, large: bool) -> str:
    """The counts that open the map's caption, singular or plural as the numbers say:
    « 201 zones · 0 sans valeur · 161 dont la valeur repose en partie sur des estimations (pâles,
    contour pointillé) · 17 sans habitants (non notées) » (« 1 zone · … »)."""
    missing = f" ({_agree(n_missing, 'hachurée', 'hachurées')})" if n_missing else ""
    look = "couleur pâle" if large else _agree(n_estimated, "pâle, contour pointillé", "pâles, contour pointillé")
    parts = [plural(n_zones, "zone"), f"{format_count(n_missing)} sans valeur{missing}",
             f"{format_count(n_estimated)} dont la valeur repose en partie sur des estimations ({look})"]
    if n_uninhabited:
        parts.append(f"{format_count(n_uninhabited)} sans habitants ({_agree(n_uninhabited, 'non notée', 'non notées')})")
    return " · ".join(parts)
