"""Key figures of a territory and the export files of the Diagnostic / Comparer pages.

The builders are plain functions (no Streamlit call; the tests call them as is); the last section
holds the cached wrappers both pages use (:func:`key_figures`).

Key figures (:func:`territory_figures`) come from **summed counts**, never from a mean of rates:

- rates = 100 × Σ numerator / Σ denominator, read from the territory's own row of the pack
  (``zones_epci`` …, whose counts are sums over the communes that publish *both* columns, with
  ``<group>_coverage`` = share of the population in those communes). Below
  :data:`MIN_COVERAGE` the rate would describe another population: it is shown as missing;
- people in need N = Σ need of the territory's communes (``indicators.compute_all``);
- hours per 1 000 people in need = 1 000 × Σ_j S_j / N over the places j whose commune is in the
  territory (S_j = weekly hours × staff, ``indicators.supply.capacity``): a plain ratio of the
  territory's own supply to its own need, without catchment (the map's E2SFCA access is per zone);
- population beyond t minutes = Σ population of the communes whose nearest place is more than t
  minutes away (straight line × detour ÷ speed, ``indicators.access.nearest_place``).

Missing values stay NaN with a French reason; they are never 0.

Files: CSV (UTF-8, comma separator, dot decimals), XLSX (xlsxwriter, with an « À propos » sheet
of sources and vintages from the manifest), GeoPackage and GeoJSON (WGS84 display geometry, plain
columns), PNG map (matplotlib through geopandas, Lambert-93, no network).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from indicators import CATALOGUE, Config
from indicators.definitions import ESTIMATED_STATUSES
from ui import data, session_places
from ui.compute import NEED_LABELS, STATUS_LABELS, results
from ui.folium_map import NOT_AVAILABLE, format_fr
from ui.labels import PLACE_TYPE_LABELS

#: a rate is shown only when the communes that publish it hold at least this share of the population
MIN_COVERAGE = 0.5

TERCILES = ("faible", "moyen", "fort")
#: French number format for Vega-Lite charts (``chart.configure(locale=…)``): decimal comma, narrow no-break space
VEGA_FR_LOCALE = {"number": {"decimal": ",", "thousands": "\u202f", "grouping": [3], "currency": ["", "\u00a0€"]}}

#: rate figures: key → (label, numerator, denominator, status group, complement?)
RATE_FIGURES = {
    "poverty": ("Taux de pauvreté (seuil 60 %)", "poor_persons", "fiscal_persons", "poverty", False),
    "unemployment": ("Taux de chômage des 15–64 ans", "unemployed_1564", "active_1564", "unemployment", False),
    "age65": ("Part des 65 ans ou plus parmi les 15 ans ou plus", "pop15p_65p", "pop15p", "age15p", False),
    "low_diploma": ("Peu ou pas diplômés (au plus CAP-BEP) parmi les 15 ans ou plus", "pop15p_lowdip", "pop15p_dipl", "diploma15p", False),
    "thd": ("Locaux éligibles au très haut débit (≥ 30 Mbit/s)", "thd_premises", "premises_2019", "thd", False),
    "ftth": ("Locaux raccordables à la fibre (FttH)", "ftth_premises", "premises_total", "ftth", False),
}
#: order and labels of every key figure (the Comparer shows the same list)
FIGURE_LABELS = {
    "population": "Population",
    "need": "Personnes en besoin d'accompagnement",
    **{k: v[0] for k, v in RATE_FIGURES.items()},
    "poverty_published": "Taux de pauvreté publié pour l'EPCI",
    "places": "Lieux d'accueil et structures",
    "france_services": "Sites France Services",
    "hours_per_1000": "Heures d'accompagnement par semaine pour 1 000 personnes en besoin",
    "pop_beyond_15": "Population à plus de 15 min du lieu le plus proche",
    "pop_beyond_30": "Population à plus de 30 min du lieu le plus proche",
}
FIGURE_COLUMNS = ["key", "label", "value", "unit", "decimals", "source", "note", "estimated_share"]
#: how the estimated part of a figure was made, per status group (shown in the figure's note)
ESTIMATE_NOTES = {
    "poverty": "communes sous secret statistique : taux estimé par un modèle du revenu médian, calé sur le taux publié de l'EPCI quand il existe",
    "age15p": "IRIS : structure RP2016",
    "diploma15p": "IRIS : taux de la commune",
    "thd": "IRIS : taux de la commune",
    "ftth": "IRIS : taux de la commune",
}


# ---------------------------------------------------------------------------------------------
# Sources (from the manifest, never hard-coded)
# ---------------------------------------------------------------------------------------------


def _source_entries(manifest: Mapping, keys: Sequence[str]) -> list[dict]:
    """Manifest sources for ``keys``: exact key, else the sources whose key starts with it."""
    sources = manifest.get("sources", {})
    out = []
    for k in keys:
        if k in sources:
            out.append(sources[k])
        else:
            out.extend(v for s, v in sorted(sources.items()) if s.startswith(k))
    return out


def source_line(manifest: Mapping, group: str) -> str:
    """'producer(s) — vintage' of an indicator group of the manifest ('' if the group is unknown)."""
    meta = manifest.get("indicators", {}).get(group)
    if not meta:
        return ""
    producers = ", ".join(dict.fromkeys(s["producer"] for s in _source_entries(manifest, meta.get("sources", []))))
    return f"{producers} — {meta['vintage']}" if producers else meta["vintage"]


def places_source(manifest: Mapping, places: pd.DataFrame) -> str:
    """'ANCT (juillet 2022, 1er août 2024) ; Hinaura (…)': producers (without their parenthesised
    detail) and vintages of the manifest sources that list at least one of ``places``."""
    keys = sorted({k for v in places.get("sources", pd.Series(dtype=object)).dropna() for k in str(v).split(";") if k})
    srcs = manifest.get("sources", {})
    by_producer: dict[str, list[str]] = {}
    for k in keys:
        if k in srcs:
            producer = re.sub(r"\s*\([^)]*\)", "", srcs[k]["producer"]).strip() or srcs[k]["producer"]
            by_producer.setdefault(producer, []).append(srcs[k]["vintage"])
    parts = [f"{p} ({', '.join(dict.fromkeys(v))})" for p, v in sorted(by_producer.items())]
    if any(k not in srcs for k in keys):
        parts.append("lieux importés dans cette session")
    return " ; ".join(parts) or "aucun lieu"


# ---------------------------------------------------------------------------------------------
# Key figures
# ---------------------------------------------------------------------------------------------


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(float, na_value=np.nan)


def _value(row: pd.Series | None, col: str) -> float:
    if row is None or col not in row.index:
        return np.nan
    v = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
    return float(v) if pd.notna(v) else np.nan


def _pct(x: float) -> str:
    return format_fr(100.0 * x, 0 if x >= 0.1 else 1) + " %"


def _missing_communes(communes: pd.DataFrame, group: str, cols: Sequence[str]) -> str:
    """'secret statistique (INSEE) : 12 communes, …' for the communes lacking one of ``cols``."""
    present = [c for c in cols if c in communes.columns]
    if not present:
        return "colonnes absentes du jeu de données"
    miss = communes[present].isna().any(axis=1)
    if not miss.any():
        return ""
    status_col = f"{group}_status"
    statuses = communes.loc[miss, status_col].astype("object").fillna("absent") if status_col in communes else pd.Series("absent", index=communes.index[miss])
    counts = statuses.value_counts()
    parts = []
    for status, n in counts.items():
        label = STATUS_LABELS.get(status, "donnée absente" if status == "absent" else status)
        names = communes.loc[statuses.index[statuses == status], "name"].astype(str).tolist()
        who = f" : {', '.join(names)}" if n <= 3 else ""
        parts.append(f"{label}{who}" if len(counts) == 1 else f"{label} : {n}{who}")
    n_miss = int(miss.sum())
    return f"{n_miss} commune{'s' if n_miss > 1 else ''} sur {len(communes)} sans valeur ({' ; '.join(parts)})"


def _scope(all_communes: pd.DataFrame | None, column: str) -> str:
    """Names of the EPCI whose communes carry ``column`` in the pack (age and diploma counts exist
    for a few metropolises only)."""
    if all_communes is None or column not in all_communes or "epci_name" not in all_communes:
        return ""
    names = sorted(all_communes.loc[all_communes[column].notna(), "epci_name"].dropna().astype(str).unique())
    return ", ".join(names)


def _estimated_share(row: pd.Series | None, communes: pd.DataFrame, group: str, num: str) -> float:
    """Share (0–1) of a figure's numerator that rests on estimates: the aggregated row's
    ``<group>_estimated_share``, else the communes' statuses weighted by their numerator."""
    share = _value(row, f"{group}_estimated_share")
    if np.isfinite(share):
        return share
    status = f"{group}_status"
    if status not in communes or num not in communes:
        return 0.0
    v = np.nan_to_num(_num(communes, num))
    est = communes[status].astype("object").isin(ESTIMATED_STATUSES).to_numpy()
    return float(v[est].sum() / v.sum()) if v.sum() > 0 else 0.0


def _rate_figure(key: str, row: pd.Series | None, communes: pd.DataFrame, manifest: Mapping,
                 all_communes: pd.DataFrame | None) -> dict:
    label, num, den, group, _ = RATE_FIGURES[key]
    n, d = _value(row, num), _value(row, den)
    source = source_line(manifest, group)
    notes = []
    vint_col = {"unemployment": "unemployment_vintage", "age65": "age15p_vintage", "low_diploma": "diploma15p_vintage"}.get(key)
    if vint_col and vint_col in communes:
        vint = sorted({v for s in communes[vint_col].dropna().astype(str) for v in s.split(";") if v})
        if vint:
            notes.append(f"millésime ici : {', '.join(vint)}")
    missing = _missing_communes(communes, group, (num, den))
    cov = _value(row, f"{group}_coverage")
    if not np.isfinite(cov):  # commune rows have no coverage column: all or nothing
        cov = 1.0 if np.isfinite(n) and np.isfinite(d) else 0.0
    value, est = np.nan, np.nan
    if np.isfinite(n) and np.isfinite(d) and d > 0 and cov >= MIN_COVERAGE:
        value = 100.0 * n / d
        est = _estimated_share(row, communes, group, num)
        if est > 0.0005:
            notes.append(f"dont {_pct(est)} estimé ({ESTIMATE_NOTES.get(group, 'voir Données & méthode')})")
        if cov < 0.9995 or missing:
            notes.append(f"calculé sur les communes qui ont la donnée ({_pct(cov)} de la population) ; {missing}")
    else:
        reason = (f"non disponible : les communes qui ont la donnée ne font que {_pct(cov)} de la population"
                  if np.isfinite(n) and np.isfinite(d) and d > 0 else "non disponible")
        notes.append(reason + (f" ; {missing}" if missing else ""))
        if group in ("age", "diploma"):
            scope = _scope(all_communes, num)
            if scope:
                notes.append(f"le jeu de données n'a ces comptes que pour : {scope}")
    return {"key": key, "label": label, "value": value, "unit": "%", "decimals": 1, "source": source,
            "note": " ; ".join(notes), "estimated_share": est}


def _population_figure(row, communes: pd.DataFrame, manifest: Mapping) -> dict:
    vintages = sorted(communes.get("population_vintage", pd.Series(dtype=object)).dropna().astype(str).unique())
    miss = _missing_communes(communes, "population", ("population",))
    note = f"recensement {', '.join(vintages)} selon les communes (somme des populations communales)" if vintages else ""
    if miss:
        note = (note + " ; " if note else "") + miss
    return {"key": "population", "label": FIGURE_LABELS["population"], "value": _value(row, "population"), "unit": "habitants",
            "decimals": 0, "source": source_line(manifest, "population"), "note": note, "estimated_share": 0.0}


def _need_figure(res: pd.DataFrame, need_source: str) -> dict:
    """Σ people in need of the territory's communes (each the sum of its IRIS: one value per
    territory), with the share resting on estimates."""
    need = _num(res, "need")
    ok = np.isfinite(need)
    need_sum = float(need[ok].sum()) if ok.any() else np.nan
    notes, share = [], 0.0
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} commune(s) sans estimation (population absente), non comptée(s)")
    if "need_estimated" in res.columns and ok.any() and need_sum > 0:
        share = float((need[ok] * np.nan_to_num(_num(res, "need_estimated")[ok])).sum() / need_sum)
        if share > 0.0005:
            notes.append(f"dont {_pct(share)} repose sur des données estimées (communes sous secret statistique, "
                         "valeurs de la commune données à ses IRIS)")
    return {"key": "need", "label": FIGURE_LABELS["need"], "value": need_sum, "unit": "personnes", "decimals": 0,
            "source": need_source, "note": " ; ".join(notes), "estimated_share": share}


def _published_poverty_figure(row, summed: float, manifest: Mapping) -> dict:
    """The EPCI's own published rate beside the sum of its communes, and what the gap means."""
    pub = _value(row, "poverty_rate_published")
    src = manifest.get("sources", {}).get("comparateur_rp2022_gam", {})
    if np.isfinite(pub):
        note = (f"somme des communes : {format_fr(summed, 1)} % ; les communes sous secret statistique y sont estimées en "
                "se calant sur ce taux publié (ce qu'il laisse une fois comptées les communes qui publient le leur), "
                "d'où l'accord des deux chiffres")
    else:
        note = "non publié pour cet EPCI dans le jeu de données"
    return {"key": "poverty_published", "label": FIGURE_LABELS["poverty_published"], "value": pub, "unit": "%", "decimals": 1,
            "source": f"{src.get('producer', '')} — {src.get('vintage', '')}".strip(" —") if src else source_line(manifest, "poverty"),
            "note": note, "estimated_share": 0.0}


def _places_figures(communes: pd.DataFrame, places: pd.DataFrame, capacities: pd.DataFrame, manifest: Mapping,
                    need_sum: float) -> list[dict]:
    codes = set(communes["code"].astype(str))
    here = places[places["code_commune"].astype("object").isin(codes)] if "code_commune" in places else places.iloc[:0]
    psrc = places_source(manifest, here)
    figs = [{"key": "places", "label": FIGURE_LABELS["places"], "value": float(len(here)), "unit": "lieux", "decimals": 0,
             "source": psrc, "note": "lieux dont l'adresse est dans le territoire (tous types, bibliothèques comprises, après dédoublonnage)",
             "estimated_share": 0.0}]
    fs = here[here["type"].astype("object") == "france_services"]
    figs.append({"key": "france_services", "label": FIGURE_LABELS["france_services"], "value": float(len(fs)), "unit": "sites",
                 "decimals": 0, "source": places_source(manifest, fs), "estimated_share": 0.0,
                 "note": "y compris les bus France services (adresse du porteur : non comptés dans l'accessibilité)"})
    caps = capacities.drop_duplicates("place_id").set_index("place_id") if len(capacities) else pd.DataFrame(columns=["capacity"])
    cap = pd.to_numeric(caps["capacity"].reindex(here["place_id"].astype("object")), errors="coerce")
    hnotes = ["rapport simple offre du territoire ÷ besoin du territoire, sans zone de chalandise"]
    if cap.isna().any():
        hnotes.append(f"{int(cap.isna().sum())} lieu(x) sans capacité (hors accompagnement, itinérants : non retenus)")
    share = 0.0
    if "capacity_source" in caps:
        dflt = caps["capacity_source"].reindex(here["place_id"].astype("object")).astype("object").fillna("").str.contains("default_hours")
        if dflt.any():
            hnotes.append(f"horaires par défaut pour {int(dflt.sum())} lieu(x) sur {int(cap.notna().sum())}")
            share = float(cap[dflt.to_numpy()].sum() / cap.sum()) if cap.sum() > 0 else 0.0
    hours = 1000.0 * float(cap.sum()) / need_sum if np.isfinite(need_sum) and need_sum > 0 else np.nan
    if not np.isfinite(hours):
        hnotes.insert(0, "non disponible : besoin nul ou non estimé")
    figs.append({"key": "hours_per_1000", "label": FIGURE_LABELS["hours_per_1000"], "value": hours, "unit": "h / sem.",
                 "decimals": 1, "source": f"heures d'ouverture × personnel des lieux, valeurs par défaut par type sinon ; lieux : {psrc}",
                 "note": " ; ".join(hnotes), "estimated_share": share})
    return figs


def _beyond_figures(res: pd.DataFrame, communes: pd.DataFrame) -> list[dict]:
    """Residents beyond 15 / 30 minutes of the nearest place: Σ over the IRIS (``pop_beyond_<t>``
    of the level results), else from the communes' own times."""
    p = _num(communes, "population")
    total = float(np.nansum(p))
    figs = []
    for minutes in (15, 30):
        col = f"pop_beyond_{minutes}"
        if col in res.columns:
            beyond = float(np.nansum(_num(res, col))) if np.isfinite(_num(res, col)).any() else np.nan
        else:
            t = _num(res, "nearest_time_min")
            known = np.isfinite(t) & np.isfinite(p)
            beyond = float(p[known & (t > minutes)].sum()) if known.any() else np.nan
        bnote = f"{_pct(beyond / total)} de la population" if np.isfinite(beyond) and total > 0 else ""
        figs.append({"key": f"pop_beyond_{minutes}", "label": FIGURE_LABELS[f"pop_beyond_{minutes}"], "value": beyond,
                     "unit": "habitants", "decimals": 0, "estimated_share": 0.0,
                     "source": "temps estimé pour chaque IRIS : distance à vol d'oiseau × détour ÷ vitesse (à pied en zone dense, "
                               "en voiture ailleurs ; transports en commun non modélisés)",
                     "note": bnote})
    return figs


def territory_figures(
    kind: str,
    row: pd.Series | None,
    communes: pd.DataFrame,
    commune_results: pd.DataFrame,
    places: pd.DataFrame,
    capacities: pd.DataFrame,
    manifest: Mapping,
    *,
    need_source: str = "",
    all_communes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Key figures of one territory (see module doc), one row per figure (:data:`FIGURE_COLUMNS`).

    ``row``: the territory's own row of its pack table (``zones_epci`` …; the commune row for a
    commune). ``communes``: its rows of ``zones_commune``; ``commune_results``: the commune-level
    results of :func:`indicators.levels.compute_level` (same index as the pack's commune table,
    columns ``need``, ``need_estimated``, ``pop_beyond_15`` …). ``places``: places with
    ``place_id``, ``type``, ``code_commune``, ``sources``; ``capacities``: ``place_id``,
    ``capacity``, ``capacity_source``. ``all_communes``: the whole commune table, to say where the
    age / diploma counts exist. ``estimated_share``: share of each figure resting on estimates.
    """
    res = commune_results.reindex(communes.index)
    figs = [_population_figure(row, communes, manifest), _need_figure(res, need_source)]
    for key in RATE_FIGURES:
        figs.append(_rate_figure(key, row, communes, manifest, all_communes))
        if key == "poverty" and kind == "epci":
            figs.append(_published_poverty_figure(row, figs[-1]["value"], manifest))
    figs += _places_figures(communes, places, capacities, manifest, figs[1]["value"])
    figs += _beyond_figures(res, communes)
    return pd.DataFrame(figs, columns=FIGURE_COLUMNS)


def figure_text(value: float, unit: str, decimals: int) -> str:
    """'449 509', '16,4 %' (French format); missing → 'n.d.'."""
    if pd.isna(value):
        return NOT_AVAILABLE
    s = format_fr(value, int(decimals))
    return f"{s} %" if unit == "%" else s


def places_by_type(places: pd.DataFrame, commune_codes, labels: Mapping[str, str] = PLACE_TYPE_LABELS) -> pd.Series:
    """Number of places per (labelled) type among those whose ``code_commune`` is in ``commune_codes``."""
    here = places[places["code_commune"].astype("object").isin(set(map(str, commune_codes)))]
    counts = here["type"].astype("object").fillna("autre").value_counts()
    counts.index = [labels.get(k, k) for k in counts.index]
    return counts.groupby(level=0).sum().sort_values(ascending=False).rename("Lieux")


def bivariate_label(c) -> str:
    """Class of the 3 × 3 need × access map, ``'n-a'`` (terciles 1–3, as ``compute_all`` gives
    it), → 'besoin fort · accès faible'; missing ('' or NaN) → 'n.d.'."""
    if not isinstance(c, str) or "-" not in c:
        return NOT_AVAILABLE
    n, _, a = c.partition("-")
    if not (n.isdigit() and a.isdigit() and 1 <= int(n) <= 3 and 1 <= int(a) <= 3):
        return NOT_AVAILABLE
    return f"besoin {TERCILES[int(n) - 1]} · accès {TERCILES[int(a) - 1]}"


# ---------------------------------------------------------------------------------------------
# Zone table for the exports
# ---------------------------------------------------------------------------------------------

ZONE_ID_COLUMNS = ("code", "name", "code_commune", "commune_name", "code_epci", "epci_name", "code_departement", "code_region")
ZONE_RESULT_COLUMNS = (
    "score", "measured_share", "reference", "uninhabited", "n_indicators", "n_imputed", "need", "need_method", "need_imputed",
    "need_estimated", "access", "access_estimated", "target", "unmet", "priority_rank", "bivariate_class",
    "nearest_time_min", "pop_beyond_15", "pop_beyond_30", "travel_mode",
)
ZONE_COLUMN_LABELS = {
    "code": "code de la zone (IRIS 9 caractères, commune 5)",
    "name": "nom de la zone",
    "population": "population (habitants)",
    "population_vintage": "millésime du recensement de la population",
    "score": "indice de fragilité numérique (note /10, plus haut = plus fragile)",
    "measured_share": "part de l'indice qui vient de données mesurées (0 à 1 ; le reste repose sur des estimations)",
    "reference": "territoire de référence de l'indice (departement, region, france, all…)",
    "uninhabited": "zone sans habitants recensés (non notée)",
    "need_estimated": "part du besoin qui repose sur des données estimées (0 à 1)",
    "access_estimated": "part de l'accessibilité qui repose sur des horaires par défaut ou un besoin estimé (0 à 1)",
    "pop_beyond_15": "habitants à plus de 15 min du lieu le plus proche (somme des IRIS)",
    "pop_beyond_30": "habitants à plus de 30 min du lieu le plus proche (somme des IRIS)",
    "n_indicators": "nombre d'indicateurs notés",
    "n_imputed": "nombre d'indicateurs imputés (médiane de la référence)",
    "need": "personnes en besoin d'accompagnement",
    "need_method": "formule du besoin (poor_persons, population_x_rate, imputed_reference_rate, age_groups…)",
    "need_imputed": "besoin estimé faute de donnée publiée (signalé)",
    "access": "accessibilité E2SFCA : heures d'accompagnement par semaine pour 1 000 personnes en besoin",
    "target": "cible d'accessibilité (même unité ; médiane de la référence)",
    "unmet": "besoin non couvert (personnes)",
    "priority_rank": "rang de priorité (1 = plus grand besoin non couvert)",
    "bivariate_class": "classe besoin × accès « n-a » (terciles 1 = faible à 3 = fort ; vide = non calculée)",
    "bivariate_label": "classe besoin × accès en clair",
    "nearest_time_min": "temps estimé jusqu'au lieu le plus proche (minutes)",
    "travel_mode": "mode de déplacement supposé (walk = à pied, car = voiture)",
}


def zone_table(zones: pd.DataFrame, results: pd.DataFrame) -> gpd.GeoDataFrame:
    """Plain-column zone layer for the exports: identifiers, population, statuses, index, need,
    access, unmet need, nearest time, indicator values (``ind_<key>``) and the per-indicator
    ``value_ / score_ / contrib_`` columns; geometry = the WGS84 display geometry.

    ``zones``: pack rows (with ``geometry_display``); ``results``: compute results indexed like them.
    """
    res = results.reindex(zones.index)
    out = pd.DataFrame(index=zones.index)
    for col in ZONE_ID_COLUMNS:
        if col in zones.columns:
            out[col] = zones[col].astype("object").where(zones[col].notna(), None)
    for col in ("population", "population_vintage"):
        if col in zones.columns:
            out[col] = zones[col]
    for col in ZONE_RESULT_COLUMNS:
        if col in res.columns:
            out[col] = res[col]
    if "bivariate_class" in out:
        out["bivariate_label"] = out["bivariate_class"].map(bivariate_label)
    for col in res.columns:
        if col.startswith(("ind_", "value_", "score_", "contrib_", "estimated_")):
            out[col] = res[col]
    for col in zones.columns:
        if col.endswith("_status"):
            out[col] = zones[col]
    out = _plain(out)
    geom = gpd.GeoSeries(zones["geometry_display"].values, crs="EPSG:4326", index=zones.index)
    return gpd.GeoDataFrame(out, geometry=geom, crs="EPSG:4326").reset_index(drop=True)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Columns as float, int, bool or str (object) only: what CSV, XLSX and GeoPackage all take."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s) and not s.isna().any():
            out[col] = s.astype(bool)
        elif pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("object").where(s.notna(), None)
        elif pd.api.types.is_numeric_dtype(s):
            out[col] = pd.to_numeric(s, errors="coerce").astype(float) if not pd.api.types.is_integer_dtype(s) or s.isna().any() else s.astype("int64")
        else:
            out[col] = s.astype("object").where(s.notna(), None).map(lambda v: v if v is None else str(v))
    return out


def column_dictionary(columns: Sequence[str]) -> pd.DataFrame:
    """Meaning of each export column (labels of the catalogue for ``ind_`` / ``value_`` … columns)."""
    rows = []
    for col in columns:
        text = ZONE_COLUMN_LABELS.get(col, "")
        for prefix, what in (("ind_", "valeur de l'indicateur"), ("value_", "valeur notée"), ("score_", "note 1–10"),
                             ("contrib_", "contribution à l'indice"), ("estimated_", "part estimée (0 à 1)")):
            if col.startswith(prefix) and col[len(prefix):] in CATALOGUE:
                ind = CATALOGUE[col[len(prefix):]]
                text = f"{what} : {ind.label}" + (f" ({ind.unit})" if prefix in ("ind_", "value_") else "")
        if col.endswith("_status"):
            text = "statut de la donnée : " + ", ".join(f"{k} = {v}" for k, v in STATUS_LABELS.items())
        rows.append({"Colonne": col, "Signification": text})
    return pd.DataFrame(rows)


def about_table(manifest: Mapping, context: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The « À propos » sheet: context lines, then every indicator group and every source of the
    manifest (title, producer, vintage, licence, address) — nothing hard-coded."""
    rows = [{"Rubrique": "Contexte", "Nom": k, "Producteur": "", "Millésime": "", "Licence": "", "Adresse": "", "Détail": v}
            for k, v in (context or {}).items()]
    for group, meta in sorted(manifest.get("indicators", {}).items()):
        entries = _source_entries(manifest, meta.get("sources", []))
        rows.append({"Rubrique": "Indicateur", "Nom": meta.get("label", group),
                     "Producteur": ", ".join(dict.fromkeys(e["producer"] for e in entries)),
                     "Millésime": meta.get("vintage", ""), "Licence": "", "Adresse": "",
                     "Détail": ", ".join(e["key"] for e in entries)})
    for key, s in sorted(manifest.get("sources", {}).items()):
        rows.append({"Rubrique": "Source", "Nom": s.get("title", key), "Producteur": s.get("producer", ""),
                     "Millésime": s.get("vintage", ""), "Licence": s.get("licence", ""),
                     "Adresse": s.get("url") or s.get("page") or "", "Détail": key})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# File builders (bytes)
# ---------------------------------------------------------------------------------------------


def to_csv(df: pd.DataFrame) -> bytes:
    """CSV, UTF-8, comma separator, dot decimals, no index; geometry columns dropped."""
    plain = df.drop(columns=[c for c in df.columns if isinstance(df[c].dtype, gpd.array.GeometryDtype)])
    return plain.to_csv(index=False).encode("utf-8")


def to_xlsx(sheets: Mapping[str, pd.DataFrame], about: pd.DataFrame) -> bytes:
    """Workbook with one sheet per frame (geometry dropped) and the « À propos » sheet last."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter") as writer:
        for name, df in [*sheets.items(), ("À propos", about)]:
            plain = pd.DataFrame(df.drop(columns=[c for c in df.columns if isinstance(df[c].dtype, gpd.array.GeometryDtype)]))
            plain = _plain(plain)
            sheet = name[:31]
            plain.to_excel(writer, sheet_name=sheet, index=False)
            ws = writer.sheets[sheet]
            ws.freeze_panes(1, 0)
            for i, col in enumerate(plain.columns):
                width = max([len(str(col))] + [len(str(v)) for v in plain[col].head(200).tolist()])
                ws.set_column(i, i, min(max(width + 2, 8), 60))
    return buf.getvalue()


def to_gpkg(gdf: gpd.GeoDataFrame, layer: str = "zones") -> bytes:
    """GeoPackage bytes, written through a temporary file with pyogrio."""
    fd, path = tempfile.mkstemp(suffix=".gpkg")
    os.close(fd)
    os.remove(path)  # the driver creates the file
    try:
        gdf.to_file(path, driver="GPKG", layer=layer, engine="pyogrio")
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        for p in (path, path + "-wal", path + "-shm", path + "-journal"):
            if os.path.exists(p):
                os.remove(p)


def to_geojson(gdf: gpd.GeoDataFrame) -> bytes:
    """GeoJSON (RFC 7946, WGS84) bytes; NaN → null."""
    g = gdf.to_crs("EPSG:4326") if gdf.crs is not None and gdf.crs.to_epsg() != 4326 else gdf
    return g.to_json(na="null", drop_id=True, ensure_ascii=False).encode("utf-8")


def map_png(
    gdf: gpd.GeoDataFrame,
    column: str,
    *,
    title: str,
    legend_title: str,
    source: str,
    bins: Sequence[float],
    colors: Sequence[str],
    decimals: int = 1,
    missing_label: str = "n.d. (donnée absente)",
    dpi: int = 130,
) -> bytes:
    """PNG of a choropleth (Lambert-93): class i when bins[i] <= v < bins[i+1] (last class closed),
    missing hatched grey; legend with French numbers, title, source line. Matplotlib only, no tiles."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if len(bins) != len(colors) + 1:
        raise ValueError(f"map_png: {len(colors)} colours need {len(colors) + 1} bin edges, got {len(bins)}")
    g = gdf.to_crs("EPSG:2154")
    v = pd.to_numeric(g[column], errors="coerce").to_numpy(float)
    edges = np.asarray(bins, float)
    idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(colors) - 1)
    missing = ~np.isfinite(v)
    fig = Figure(figsize=(10.5, 8.0), dpi=dpi)
    ax = fig.add_axes((0.02, 0.08, 0.68, 0.82))
    if (~missing).any():
        g[~missing].plot(ax=ax, color=np.asarray(colors, dtype=object)[idx[~missing]], edgecolor="white", linewidth=0.3)
    if missing.any():
        g[missing].plot(ax=ax, facecolor="#e6e6e6", edgecolor="#8a8a8a", hatch="////", linewidth=0.3)
    ax.set_axis_off()
    ax.set_aspect("equal")
    handles = [Patch(facecolor=c, edgecolor="#9e9e9e", label=f"{format_fr(a, decimals)} – {format_fr(b, decimals)}")
               for c, a, b in zip(colors, edges[:-1], edges[1:], strict=True)]
    if missing.any():
        handles.append(Patch(facecolor="#e6e6e6", edgecolor="#8a8a8a", hatch="////", label=missing_label))
    ax.legend(handles=handles, title=legend_title, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9,
              title_fontsize=10, frameon=False)
    fig.suptitle(title, fontsize=13, y=0.96)
    fig.text(0.02, 0.02, f"Source : {source}", fontsize=7.5, color="#444444", wrap=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def comparison_long(figures: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> pd.DataFrame:
    """Tidy table of the Comparer: one row per (territory, figure) with value, unit, source, note."""
    frames = []
    for key, figs in figures.items():
        f = figs.copy()
        f.insert(0, "territoire", labels.get(key, key))
        f.insert(1, "cle_territoire", key)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["territoire", "cle_territoire", *FIGURE_COLUMNS])
    return out.rename(columns={"key": "indicateur_cle", "label": "indicateur", "value": "valeur", "unit": "unite",
                               "decimals": "decimales", "note": "remarque"})


# ---------------------------------------------------------------------------------------------
# Cached wrappers used by the Diagnostic and Comparer pages (the only Streamlit code here)
# ---------------------------------------------------------------------------------------------

REFERENCE_KIND = {"epci": "dep", "com": "dep", "dep": "reg"}  # région: no reference


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
    rows = data.zones_in(kind, code, data.KIND_LEVEL[kind])
    if rows.empty:
        return None
    col = "code_departement" if REFERENCE_KIND[kind] == "dep" else "code_region"
    value = rows.iloc[0].get(col)
    return f"{REFERENCE_KIND[kind]}:{value}" if isinstance(value, str) and value else None


def need_source(manifest: Mapping, need_model: str) -> str:
    """Source line of the people-in-need estimate for a need model."""
    group = "poverty" if need_model == "precarity" else "age"
    return f"{NEED_LABELS.get(need_model, need_model)} ; {source_line(manifest, group)}"


@st.cache_data(show_spinner="Calcul des chiffres clés…", max_entries=128)
def key_figures(key: str, config_json: str, user_digest: str) -> pd.DataFrame:
    """Key figures of territory ``key`` (``kind:code``) for a configuration, cached on the
    arguments (``user_digest`` = :func:`user_places_digest`, a cache key only)."""
    kind, code = key.split(":", 1)
    config = Config.from_json(config_json)
    res, caps, _ = results("commune", config)
    pack = data.pack()
    own = data.zones_in(kind, code, data.KIND_LEVEL[kind])
    communes = data.zones_in(kind, code, "commune")
    places = pd.DataFrame(session_places.all_places(pack["places"]).drop(columns="geometry"))
    return territory_figures(
        kind, own.iloc[0] if len(own) else None, communes, res, places, caps, data.manifest(),
        need_source=need_source(data.manifest(), config.need_model), all_communes=pack["commune"],
    )


__all__ = [
    "MIN_COVERAGE", "PLACE_TYPE_LABELS", "VEGA_FR_LOCALE", "FIGURE_LABELS", "source_line", "places_source", "territory_figures",
    "figure_text", "places_by_type", "bivariate_label", "zone_table", "column_dictionary", "about_table",
    "to_csv", "to_xlsx", "to_gpkg", "to_geojson", "map_png", "comparison_long", "key_figures", "reference_key",
    "need_source", "user_places_digest", "zone_layer", "score_shares",
]


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
    score = pd.to_numeric(res.reindex(zones.index)["score"], errors="coerce").dropna()
    if score.empty:
        return pd.DataFrame(columns=["classe", "part", "zones"])
    bins = np.clip(np.floor(score.to_numpy()), 0, 9).astype(int)
    counts = np.bincount(bins, minlength=10)
    return pd.DataFrame({"classe": [f"{i}–{i + 1}" for i in range(10)], "part": 100.0 * counts / counts.sum(), "zones": counts})
