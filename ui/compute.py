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

import mapclassify
import numpy as np
import pandas as pd
import streamlit as st

from indicators import CATALOGUE, Config
from indicators.definitions import estimated_fraction, indicator_table
from indicators.levels import compute_level
from ui import data, session_places
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
NEED_LABELS = {"precarity": "Précarité (40 % des personnes pauvres)", "illectronisme": "Illectronisme (taux INSEE par âge)"}
STATUS_LABELS = {
    "ok": "valeur publiée",
    "secret": "secret statistique (INSEE)",
    "not_covered": "aucune source ne couvre cette zone",
    "from_commune": "valeur de la commune (imputée, signalée)",
    "rescaled": "structure RP2016 remise à l'échelle",
    "mapped": "commune 2018 rattachée à la commune 2024",
    "derived": "calculé à partir des taux publiés",
    "partial": "somme partielle (données absentes pour une partie des communes)",
    "estimated": "estimation (donnée non publiée : voir Données & méthode)",
    "no_residents": "zone sans habitants recensés (zone d'activités, équipement…)",
    "capped": "source incohérente (plus de locaux éligibles que de locaux), ramenée à 100 %",
    "derived_rp2017": "taux publié du RP2017 × population de 15 ans ou plus estimée",
}
#: class c = 3 × (need tercile − 1) + access tercile: rows need low→high, columns access low→high
#: (Stevens palette: red = high need, blue = good access; c = 7 "high need, low access" is red)
BIVARIATE_COLORS = ["#e8e8e8", "#b0d5df", "#64acbe", "#e4acac", "#ad9ea5", "#627f8c", "#c85a5a", "#985356", "#574249"]


def bivariate_legend(layer_key: str) -> tuple[list[float], list[str], list[str]]:
    """(bins, colours, labels) of a 3 × 3 layer: class c = 3 × (need tercile − 1) + other tercile."""
    other = ("activité", "faible moyenne forte".split()) if layer_key == "bivariate_activity" else ("accès", "faible moyen bon".split())
    labels = [f"besoin {'faible moyen fort'.split()[(c - 1) // 3]} · {other[0]} {other[1][(c - 1) % 3]}" for c in range(1, 10)]
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
    except ValueError as exc:
        st.error(f"Paramètres invalides : {exc}")
        if before_stop is not None:
            before_stop()
        st.stop()


def layers(config: Config) -> dict[str, Layer]:
    """Every layer the map can show, in menu order."""
    out = {
        "fragility": Layer("fragility", "Indice de fragilité numérique", "score", "note /10", 1, None, "YlOrRd"),
        "need": Layer("need", "Personnes en besoin d'accompagnement", "need", "personnes", 0, "poverty", "Oranges"),
        "access": Layer("access", "Accessibilité (E2SFCA)", "access", "h / sem. pour 1 000 pers.", 2, None, "YlGnBu_r"),
        "unmet": Layer("unmet", "Besoin non couvert", "unmet", "personnes", 0, "poverty", "Reds"),
        "bivariate": Layer("bivariate", "Besoin × accessibilité (3 × 3)", "bivariate_num", "classe", 0, None, "bivariate"),
        "nearest": Layer("nearest", "Temps jusqu'au lieu le plus proche", "nearest_time_min", "min", 0, None, "PuRd"),
        "activity": Layer("activity", "Personnes accompagnées par les conseillers numériques pour 1 000 personnes en besoin",
                          "accompanied_per_1000", "pour 1 000", 0, "activity", "YlGnBu"),
        "activity_ac": Layer("activity_ac", "Usagers Aidants Connect pour 1 000 personnes en besoin", "ac_users_per_1000",
                             "pour 1 000", 1, "activity", "YlGnBu"),
        "bivariate_activity": Layer("bivariate_activity", "Besoin × activité observée (3 × 3)", "bivariate_activity_num",
                                    "classe", 0, None, "bivariate"),
    }
    for key, ind in CATALOGUE.items():
        if key == "places_per_10k":
            continue
        out[f"ind:{key}"] = Layer(f"ind:{key}", ind.label, f"ind_{key}", ind.unit, 1 if ind.unit == "%" else 0, ind.group, "YlOrRd" if ind.higher_is_more_fragile else "YlOrRd_r")
    return out


#: a zone is drawn as estimated when at least this share of its value rests on estimated inputs
ESTIMATED_THRESHOLD = 0.10
#: layer key → column of the estimated share (0–1) in the results
ESTIMATED_COLUMNS = {"fragility": "est_fragility", "need": "need_estimated", "access": "access_estimated",
                     "unmet": "est_unmet", "bivariate": "est_bivariate"}


def _estimated_columns(out: pd.DataFrame, zones: pd.DataFrame) -> None:
    """Per layer, the share (0–1) of each zone's value that rests on estimated inputs."""
    out["est_fragility"] = 1.0 - pd.to_numeric(out["measured_share"], errors="coerce").fillna(1.0)
    out["est_unmet"] = np.maximum(out["need_estimated"].fillna(0.0), out["access_estimated"].fillna(0.0))
    out["est_bivariate"] = np.maximum(out["est_fragility"], out["access_estimated"].fillna(0.0))
    for key, ind in CATALOGUE.items():
        if key != "places_per_10k":
            out[f"est_ind_{key}"] = estimated_fraction(zones, ind)


@st.cache_data(show_spinner="Calcul des indicateurs…", max_entries=32)
def _compute(level: str, config_json: str, user_places: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Results of every zone of ``level`` (:func:`indicators.levels.compute_level`: need, access
    and unmet need computed once on the IRIS and summed, so every level shows the same totals)."""
    p = data.pack()
    places = p["places"].drop(columns="geometry")
    if user_places is not None and len(user_places):
        places = pd.concat([places, user_places], ignore_index=True)
    config = Config.from_json(config_json)
    res = compute_level(data.pack_tables(), level, places.reset_index(drop=True), config)
    zones = p[level]
    table = indicator_table(zones, [k for k in CATALOGUE if k != "places_per_10k"])
    table.columns = [f"ind_{c}" for c in table.columns]
    out = pd.concat([res.zones, table], axis=1)
    _estimated_columns(out, zones)
    out["access"] = out["access"] * 1000.0  # hours per week per 1 000 people in need (readable)
    out["target"] = out["target"] * 1000.0
    nt, at = out["need_tercile"].to_numpy(float), out["access_tercile"].to_numpy(float)
    out["bivariate_num"] = np.where((nt > 0) & (at > 0), 3 * (nt - 1) + at, np.nan)
    if "activity_tercile" in out:
        nt, at = out["activity_need_tercile"].to_numpy(float), out["activity_tercile"].to_numpy(float)
        out["bivariate_activity_num"] = np.where((nt > 0) & (at > 0), 3 * (nt - 1) + at, np.nan)
    else:
        out["accompanied_per_1000"] = out["ac_users_per_1000"] = out["bivariate_activity_num"] = np.nan
    return out, res.places, res.report


def results(level: str, config: Config) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(zone results for the whole level, place capacities, report), cached."""
    user = session_places.get()
    user_df = None if user.empty else pd.DataFrame(user.drop(columns="geometry"))
    return _compute(level, config.to_json(), user_df)


def classify(values: pd.Series, scheme: str, k: int) -> tuple[list[float], int]:
    """Class edges (k+1 values) with mapclassify; fewer classes when there are few distinct values."""
    v = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    if v.size == 0:
        return [0.0, 1.0], 1
    distinct = np.unique(v)
    k = int(max(1, min(k, distinct.size)))
    if k == 1:
        lo, hi = float(distinct[0]), float(distinct[-1])
        return [lo, hi if hi > lo else lo + 1.0], 1
    if scheme == "natural_breaks":
        c = mapclassify.NaturalBreaks(v, k=k)
    elif scheme == "equal_interval":
        c = mapclassify.EqualInterval(v, k=k)
    else:
        c = mapclassify.Quantiles(v, k=k)
    edges = [float(v.min())] + [float(b) for b in c.bins]
    edges = sorted(set(edges))
    if len(edges) < 2:
        edges = [edges[0], edges[0] + 1.0]
    edges[-1] = max(edges[-1], float(v.max()))
    return edges, len(edges) - 1


def palette(name: str, k: int) -> list[str]:
    """k hex colours from a matplotlib colormap (``_r`` reversed)."""
    import matplotlib

    cmap = matplotlib.colormaps[name]
    if k == 1:
        return [matplotlib.colors.to_hex(cmap(0.6))]
    return [matplotlib.colors.to_hex(cmap(0.12 + 0.8 * i / (k - 1))) for i in range(k)]


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
LEVEL_NOUNS = {"iris": ("IRIS", "IRIS"), "commune": ("commune", "communes"), "epci": ("EPCI", "EPCI"),
               "departement": ("département", "départements"), "region": ("région", "régions")}


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
