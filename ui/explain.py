"""Explanation of one zone (why this score, how many people, which places) and place popups."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import streamlit as st
from markupsafe import Markup
from scipy.spatial import cKDTree

from indicators import CATALOGUE, Config, load_rates
from indicators.definitions import REFERENCE_LABELS
from indicators.orientation import freshness, normalise_phone
from indicators.supply import capacity, select_places
from ui import data
from ui.compute import STATUS_LABELS
from ui.folium_map import format_fr
from ui.labels import PLACE_TYPE_LABELS
from ui.orientation import freshness_badge, freshness_cell, sources_text, updated_text

#: how the poverty of a commune under statistical secrecy was estimated (loaders.secret_poverty)
POVERTY_METHODS = {
    "model_epci": "estimé : modèle du revenu médian calé sur le taux publié de l'EPCI",
    "model_kappa": "estimé : modèle du revenu médian, corrigé sur les EPCI qui publient leur taux",
    "departement_mean": "estimé : taux moyen estimé des communes sous secret du département",
}
DAYS = {"mo": "lun.", "tu": "mar.", "we": "mer.", "th": "jeu.", "fr": "ven.", "sa": "sam.", "su": "dim."}


def hours_text(hours_json: str | None) -> str:
    """'lun. 9h00–12h00, 14h00–17h00 · mar. …' from the pack's hours_json (or 'non publiés')."""
    if not isinstance(hours_json, str) or not hours_json:
        return "horaires non publiés"
    try:
        hours = json.loads(hours_json)
    except json.JSONDecodeError:
        return "horaires illisibles"
    parts = []
    for d, label in DAYS.items():
        slots = hours.get(d) or []
        if slots:
            parts.append(label + " " + ", ".join(f"{a // 60}h{a % 60:02d}–{b // 60}h{b % 60:02d}" for a, b in slots))
    return " · ".join(parts) if parts else "fermé toute la semaine"


def _text(value) -> str:
    """A cell as text; missing (None, NaN, NA) → ''."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def place_popup(row: pd.Series, type_labels: dict, service_labels: dict, today: date | None = None) -> Markup:
    """Popup of a place; every data-derived string is escaped by Markup.format.

    Carries the freshness badge of its ``updated`` date against ``today`` (default: the current
    date; rule in :mod:`indicators.orientation`: < 6 months « à jour », 6–12 « à surveiller »,
    12–18 « à vérifier », 18 or more or unknown « à actualiser »).
    """
    services = [service_labels.get(s, s) for s in _text(row.get("services")).split(";") if s]
    key = freshness(row.get("updated"), today or date.today())
    phone = normalise_phone(row.get("phone"))
    return Markup(
        "<b>{}</b><br>{}<br>{}{}<br><i>Horaires :</i> {}<br><i>Services :</i> {}<br>{} <i>Source :</i> {} — mise à jour {}"
    ).format(
        _text(row.get("name")),
        type_labels.get(_text(row.get("type")), _text(row.get("type"))),
        " ".join(x for x in (_text(row.get("address")), _text(row.get("postcode"))) if x),
        Markup("<br><i>Tél. :</i> {}").format(phone) if phone else "",
        hours_text(row.get("hours_json")),
        ", ".join(services) or "non précisés",
        freshness_badge(key),
        sources_text(row.get("sources")),
        updated_text(row.get("updated")),
    )


def open_reception_points(places: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The places the access indicator counts (supply rule: reception points, not itinerant) and
    that open at least one hour a week: a place closed every day is never « the nearest »."""
    kept, _ = select_places(places, config.service, config.time_slot, config.digital_help_only)
    return kept[capacity(kept, config.capacity, load_rates())["capacity"].to_numpy(float) > 0]


def nearest_places(zone: pd.Series, places: pd.DataFrame, k: int = 5, speed_kmh: float = 50.0, detour: float = 1.3,
                   today: date | None = None) -> pd.DataFrame:
    """The k places nearest to the zone's demand point: straight-line distance, travel time, phone
    and the freshness of the place's data against ``today`` (default: the current date)."""
    xy = places[["x", "y"]].to_numpy(float)
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any() or not np.isfinite([zone["rep_x"], zone["rep_y"]]).all():
        return pd.DataFrame()
    tree = cKDTree(xy[ok])
    k = min(k, int(ok.sum()))
    dist, idx = tree.query([zone["rep_x"], zone["rep_y"]], k=k)
    dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
    sel = places[ok].iloc[idx]
    today = today or date.today()
    updated = sel["updated"] if "updated" in sel else pd.Series(None, index=sel.index)
    return pd.DataFrame(
        {
            "Lieu": sel["name"].to_numpy(),
            "Type": [PLACE_TYPE_LABELS.get(t, t) for t in sel["type"]],
            "Distance (km)": np.round(dist / 1000.0, 2),
            "Temps estimé (min)": np.round(dist * detour / (speed_kmh * 1000 / 60), 0),
            "Horaires (h/sem.)": sel["weekly_hours"].round(1).to_numpy(),
            "Téléphone": [normalise_phone(v) for v in sel.get("phone", pd.Series(None, index=sel.index))],
            "Fiche": [freshness_cell(freshness(u, today), u) for u in updated],
        }
    )


def _indicator_remark(key: str, z: pd.Series, r: pd.Series) -> str:
    """Why a value is what it is, in French: median-filled, estimated (how), vintage."""
    ind = CATALOGUE[key]
    flags = []
    if bool(r.get(f"imputed_{key}", False)):
        flags.append("valeur manquante remplacée par la médiane de la référence")
    status = z.get(f"{ind.group}_status")
    if isinstance(status, str) and status not in ("ok",):
        flags.append(STATUS_LABELS.get(status, status))
    share = z.get(f"{ind.group}_estimated_share")
    if isinstance(share, float) and share >= 0.0005:
        flags.append(f"{format_fr(100 * share, 0)} % de la valeur estimée")
    method = z.get("poverty_method") if key == "poverty" else None
    if isinstance(method, str) and method.startswith(("model", "departement")):
        flags.append(POVERTY_METHODS.get(method.split("+")[0], method))
    vintage = z.get({"age65": "age15p_vintage", "low_diploma": "diploma15p_vintage", "poverty": "poverty_vintage"}.get(key, ""))
    if isinstance(vintage, str) and vintage:
        flags.append(vintage)
    return ", ".join(dict.fromkeys(flags))


def _indicator_rows(z: pd.Series, r: pd.Series, columns, config: Config) -> list[dict]:
    rows = []
    for key in config.indicator_keys:
        if f"contrib_{key}" not in columns:
            continue
        ind = CATALOGUE[key]
        rows.append(
            {
                "Indicateur": ind.label,
                "Valeur": format_fr(r.get(f"value_{key}"), 1) + f" {ind.unit}",
                "Note (1–10)": r.get(f"score_{key}"),
                "Contribution": r.get(f"contrib_{key}"),
                "Remarque": _indicator_remark(key, z, r),
            }
        )
    return rows


def zone_panel(code: str, level: str, res: pd.DataFrame, config: Config, places: pd.DataFrame) -> None:
    """Draw the explanation of zone ``code``."""
    zones = data.pack()[level]
    pos = np.flatnonzero(zones["code"].to_numpy() == code)
    if not len(pos):
        st.warning(f"Zone {code} inconnue.")
        return
    i = zones.index[pos[0]]
    z, r = zones.loc[i], res.loc[i]
    title = z["name"] + (f" — {z['commune_name']}" if isinstance(z.get("commune_name"), str) and z["commune_name"] != z["name"] else "")
    st.subheader(title)
    if bool(r.get("uninhabited", False)):
        st.info("Zone sans habitants recensés (zone d'activités, équipement, espace naturel…) : elle n'est pas notée "
                "et ne compte aucune personne en besoin.")
    c1, c2, c3 = st.columns(3)
    c1.metric("Indice /10", format_fr(r["score"], 1), help="Indice de fragilité numérique (1 = peu fragile, 10 = très fragile)")
    c2.metric("En besoin", format_fr(r["need"], 0), help="Personnes en besoin d'accompagnement (modèle choisi)")
    c3.metric("Non couverts", format_fr(r["unmet"], 0), help="Besoin non couvert : personnes au-delà de ce que l'offre accessible permet d'accompagner")
    rows = _indicator_rows(z, r, res.columns, config)
    if rows:
        table = pd.DataFrame(rows)
        st.markdown("**Pourquoi cette note** (les contributions s'additionnent à l'indice)")
        st.bar_chart(table.set_index("Indicateur")["Contribution"], horizontal=True, height=180)
        st.dataframe(table, hide_index=True)
        measured = r.get("measured_share")
        if isinstance(measured, float) and np.isfinite(measured) and measured < 0.9995:
            st.caption(f"{format_fr(100 * measured, 0)} % de cette note vient de données mesurées ; le reste repose sur "
                       "les estimations indiquées en remarque.")
        ref = r.get("reference")
        if ref == "france":
            national = [k for k in str(r.get("national_keys") or "").split(";") if k]
            others = [CATALOGUE[k].label for k in config.indicator_keys if k not in national and f"contrib_{k}" in res.columns]
            st.caption("Référence France : " + ", ".join(CATALOGUE[k].label for k in national)
                       + (f" ; sans fichier national, classés dans la région : {', '.join(others)}." if others else "."))
        if isinstance(ref, str) and ref != config.reference:
            st.caption(f"Référence de l'indice : {REFERENCE_LABELS.get(ref, ref)} (à cette maille, une zone ne peut pas "
                       "être classée dans sa propre référence : la référence monte d'un niveau).")
    st.markdown(
        f"**Accessibilité** : {format_fr(r['access'], 2)} h d'accompagnement par semaine pour 1 000 personnes en besoin "
        f"(cible {format_fr(r['target'], 2)}) · lieu le plus proche à {format_fr(r.get('nearest_time_min'), 0)} min "
        f"({'à pied' if r.get('travel_mode') == 'walk' else 'en voiture'}, estimation à vol d'oiseau × détour)."
    )
    if np.isnan(r["need"]):
        st.caption("Besoin non estimé : population ou taux de pauvreté absents pour cette zone (voir Données & méthode).")
    rates = load_rates()
    speed = float(rates["travel"]["walk_kmh"] if r.get("travel_mode") == "walk" else rates["travel"]["car_kmh"])
    near = nearest_places(z, open_reception_points(places, config), speed_kmh=speed, detour=float(rates["travel"]["detour"]))
    if len(near):
        st.markdown("**Lieux les plus proches**")
        st.dataframe(near, hide_index=True)
        st.caption("Fiche : fraîcheur de la date de mise à jour publiée par la source (moins de 6 mois « à jour », "
                   "6 à 12 « à surveiller », 12 à 18 « à vérifier », 18 ou plus ou inconnue « à actualiser »).")
