"""Explanation of one zone (why this score, how many people, which places) and place popups.

The explanation sits in the Carte page's right column (≈ 330 px wide at 1 280 px, 380 px at
1 440 px): it is drawn as small HTML blocks that wrap (key figures, one block per indicator with
its contribution as a bar, a numbered list of places, a fixed-layout priority table) rather than
data grids or charts that would cut labels or scroll sideways. French numbers and units
everywhere; every data-derived string is escaped (:func:`ui.folium_map.esc`)."""

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
from ui.folium_map import NOT_AVAILABLE, esc, format_fr, is_missing
from ui.labels import PLACE_TYPE_LABELS
from ui.orientation import freshness_badge, freshness_cell, sources_text, updated_text
from ui.safe_text import escape_md

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


def _nearest_selection(zone: pd.Series, places: pd.DataFrame, k: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The k places nearest to the zone's demand point and their straight-line distances (m)."""
    xy = places[["x", "y"]].to_numpy(float)
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any() or not np.isfinite([zone["rep_x"], zone["rep_y"]]).all():
        return places.iloc[:0], np.zeros(0)
    tree = cKDTree(xy[ok])
    dist, idx = tree.query([zone["rep_x"], zone["rep_y"]], k=min(k, int(ok.sum())))
    return places[ok].iloc[np.atleast_1d(idx)], np.atleast_1d(dist)


def _nearest_table(sel: pd.DataFrame, dist: np.ndarray, speed_kmh: float, detour: float, today: date) -> pd.DataFrame:
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


def nearest_places(zone: pd.Series, places: pd.DataFrame, k: int = 5, speed_kmh: float = 50.0, detour: float = 1.3,
                   today: date | None = None) -> pd.DataFrame:
    """The k places nearest to the zone's demand point: straight-line distance, travel time, phone
    and the freshness of the place's data against ``today`` (default: the current date)."""
    sel, dist = _nearest_selection(zone, places, k)
    if sel.empty:
        return pd.DataFrame()
    return _nearest_table(sel, dist, speed_kmh, detour, today or date.today())


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


def value_text(value, unit: str) -> str:
    """An indicator's value with its unit, French: « 45,2 % », « 1 234 m », « 21 450 €/UC/an »
    (one decimal for a percentage, none otherwise; a no-break space before the unit)."""
    text = format_fr(value, 1 if unit == "%" else 0)
    return text if text == NOT_AVAILABLE else f"{text}\u00a0{unit}"


def indicator_rows(z: pd.Series, r: pd.Series, columns, config: Config) -> list[dict]:
    """One row per indicator of the index: label, value with its unit, note (1–10), contribution
    (points of the index: note × weight share, they sum to the index) and remark, in French."""
    rows = []
    for key in config.indicator_keys:
        if f"contrib_{key}" not in columns:
            continue
        ind = CATALOGUE[key]
        rows.append(
            {
                "Indicateur": ind.label,
                "Valeur": value_text(r.get(f"value_{key}"), ind.unit),
                "Note (1–10)": r.get(f"score_{key}"),
                "Contribution": r.get(f"contrib_{key}"),
                "Remarque": _indicator_remark(key, z, r),
            }
        )
    return rows


def full_bar_points(config: Config, contributions) -> float:
    """The contribution a full bar stands for: the most an indicator can bring (note 10 × its
    weight share, 2 points for 5 equal weights), or the largest contribution shown if higher."""
    weights = [w for k, w in config.weight_map.items() if k in config.indicator_keys]
    top = 10.0 * max(weights) / sum(weights) if sum(weights) > 0 else 10.0
    shown = pd.to_numeric(pd.Series(list(contributions), dtype=object), errors="coerce").max()
    return float(max(top, shown)) if np.isfinite(shown) else top


_SMALL = "font-size:0.8rem;color:#555;overflow-wrap:anywhere"


def contributions_html(rows: list[dict], full_bar: float) -> str:
    """Why this note, one block per indicator: its full label (wrapped, never cut), its
    contribution in points of the index with a bar (``full_bar`` points = the whole width), then
    its value, note /10 and remark in small type. Every data string is escaped."""
    blocks = []
    for row in rows:
        c = pd.to_numeric(row["Contribution"], errors="coerce")
        width = 0.0 if not np.isfinite(c) or full_bar <= 0 else min(100.0, max(0.0, 100.0 * c / full_bar))
        points = format_fr(c, 1) + ("" if format_fr(c, 1) == NOT_AVAILABLE else "\u00a0pt")
        details = [f"valeur {row['Valeur']}", f"note {format_fr(row['Note (1–10)'], 0)}/10"] + ([row["Remarque"]] if row["Remarque"] else [])
        blocks.append(
            "<div style='margin:0 0 0.55rem'>"
            "<div style='display:flex;gap:0.5rem;align-items:baseline'>"
            f"<span style='flex:1;min-width:0;overflow-wrap:anywhere'>{esc(row['Indicateur'])}</span>"
            f"<b style='white-space:nowrap'>{esc(points)}</b></div>"
            f"<div title='{esc(points)} sur {esc(format_fr(full_bar, 1))} possibles' style='background:#e3e8ef;height:0.5rem;border-radius:2px'>"
            f"<div style='width:{width:.1f}%;background:#2f6db3;height:100%;border-radius:2px'></div></div>"
            f"<div style='{_SMALL}'>{esc(' · '.join(details))}</div></div>"
        )
    return "<div class='inc-contributions'>" + "".join(blocks) + "</div>"


#: (result column, label, unit, decimals, help) of the zone's key figures
KEY_FIGURES = (
    ("score", "Indice de fragilité", "/10", 1, "Indice de fragilité numérique (1 = peu fragile, 10 = très fragile)"),
    ("need", "Personnes en besoin", "personnes", 0, "Personnes en besoin d'accompagnement (modèle choisi)"),
    ("unmet", "Besoin non couvert", "personnes", 0,
     "Personnes en besoin au-delà de ce que l'offre accessible permet d'accompagner"),
)


def _with_unit(value, unit: str, decimals: int) -> str:
    """« 8,0 /10 », « 11 951 personnes », « 1 personne », « n.d. » (singular below 2)."""
    text = format_fr(value, decimals)
    if text == NOT_AVAILABLE or not unit:
        return text
    if unit == "personnes" and abs(round(float(value), decimals)) < 2:
        unit = "personne"
    return f"{text}\u00a0{unit}"


def key_figures_html(r: pd.Series) -> str:
    """The index, the people in need and the unmet need of a zone, one line each (label on the
    left, value with its unit on the right): nothing to cut or wrap at any column width; the
    help shows on hover."""
    lines = [
        f"<div title='{esc(help_text)}' style='display:flex;gap:0.5rem;align-items:baseline;border-bottom:1px solid #eee'>"
        f"<span style='flex:1;min-width:0'>{esc(label)}</span>"
        f"<b style='font-size:1.2rem;white-space:nowrap'>{esc(_with_unit(r.get(col), unit, decimals))}</b></div>"
        for col, label, unit, decimals, help_text in KEY_FIGURES
    ]
    return "<div class='inc-key-figures' style='margin:0 0 0.8rem'>" + "".join(lines) + "</div>"


def access_text(r: pd.Series) -> str:
    """The access line of a zone (Markdown, no data string in it): hours of help per week for
    1 000 people in need against the target, and the time to the nearest place."""
    target = format_fr(r.get("target"), 1)
    target = "cible non définie" if target == NOT_AVAILABLE else f"cible {target}\u00a0h, l'accès médian de la référence"
    minutes = format_fr(r.get("nearest_time_min"), 0)
    mode = "à pied" if r.get("travel_mode") == "walk" else "en voiture"
    nearest = "lieu le plus proche : n.d." if minutes == NOT_AVAILABLE else f"lieu le plus proche à {minutes}\u00a0min"
    return (
        f"**Accessibilité** : {format_fr(r.get('access'), 1)}\u00a0h d'accompagnement par semaine pour 1\u202f000 personnes "
        f"en besoin ({target}) · {nearest} ({mode}, estimation à vol d'oiseau × détour)."
    )


def _distance_text(km) -> str:
    """« 240 m » below 1 km (to 10 m), « 2,4 km » above."""
    if is_missing(km):
        return NOT_AVAILABLE
    return f"{format_fr(round(float(km) * 100) * 10, 0)}\u00a0m" if km < 1 else f"{format_fr(km, 1)}\u00a0km"


def nearest_places_html(near: pd.DataFrame, mode: str, badges: list[Markup] | None = None) -> str:
    """The nearest places (:func:`nearest_places`) as a numbered list that wraps in a narrow
    column: name and type, then distance, travel time (``mode``: « à pied » / « en voiture ») and
    weekly opening hours, then phone and the freshness of the place's data (``badges``: one
    :func:`ui.orientation.freshness_badge` per place, else the table's « Fiche » text). Every data
    string is escaped; a missing value is said in words."""
    items = []
    for i, (_, p) in enumerate(near.iterrows()):
        hours = p.get("Horaires (h/sem.)")
        hours = "horaires non publiés" if is_missing(hours) else f"ouvert {format_fr(hours, 1)}\u00a0h par semaine"
        minutes = p.get("Temps estimé (min)")
        trip = [_distance_text(p.get("Distance (km)")),
                "temps n.d." if is_missing(minutes) else f"≈\u00a0{format_fr(minutes, 0)}\u00a0min {mode}", hours]
        phone = esc(f"tél. {p['Téléphone']} · ") if isinstance(p.get("Téléphone"), str) and p["Téléphone"] else ""
        fiche = str(badges[i]) if badges is not None else esc(p.get("Fiche"))
        items.append(
            f"<li style='margin:0 0 0.45rem;overflow-wrap:anywhere'><b>{esc(_text(p.get('Lieu')) or 'Lieu sans nom')}</b> — "
            f"{esc(_text(p.get('Type')) or 'type inconnu')}<br><span style='{_SMALL}'>{esc(' · '.join(trip))}<br>"
            f"{phone}fiche {fiche}</span></li>"
        )
    return "<ol class='inc-nearest' style='padding-left:1.3rem;margin:0 0 0.5rem'>" + "".join(items) + "</ol>"


#: why the first zones of the priority table may have a low index
PRIORITY_NOTE = (
    "La priorité se lit sur le besoin non couvert (personnes en besoin au-delà de ce que l'offre accessible permet "
    "d'accompagner), pas sur la fragilité : une zone peuplée et mal desservie passe avant une zone plus fragile mais "
    "petite ou bien desservie, d'où des indices parfois bas en tête de liste."
)


#: suffix of the IRIS that stand for a whole commune (dropped from the zone picker's labels)
WHOLE_COMMUNE_SUFFIX = " (commune non irisée)"


def priority_table_html(view: pd.DataFrame, n: int = 8) -> str:
    """The ``n`` zones of ``view`` with the largest unmet need (columns ``name``, ``unmet``,
    ``need``, ``score``; ``commune_name`` at IRIS level, shown under the zone's name: « Centre
    Ville » alone does not say where) as a compact HTML table that fits a narrow column (fixed
    layout, names wrapped, French numbers); '' when no zone has an unmet need computed."""
    top = view.dropna(subset=["unmet"]).sort_values("unmet", ascending=False).head(n)
    if top.empty:
        return ""
    num = "text-align:right;white-space:nowrap;padding:0.15rem 0.3rem"
    communes = top["commune_name"] if "commune_name" in top else pd.Series(None, index=top.index, dtype=object)
    rows = "".join(
        f"<tr><td style='overflow-wrap:anywhere;padding:0.15rem 0.3rem'>{_zone_cell(name, commune)}</td><td style='{num}'>{format_fr(u, 0)}</td>"
        f"<td style='{num}'>{format_fr(d, 0)}</td><td style='{num}'>{format_fr(sc, 1)}</td></tr>"
        for name, commune, u, d, sc in zip(top["name"], communes, top["unmet"], top["need"], top["score"], strict=True)
    )
    head = "".join(
        f"<th style='text-align:{align};padding:0.15rem 0.3rem;width:{width}'>{label}</th>"
        for label, align, width in (("Zone", "left", "40%"), ("Non couverts", "right", "22%"),
                                    ("En besoin", "right", "20%"), ("Indice /10", "right", "18%"))
    )
    return (
        "<table class='inc-priority' style='width:100%;table-layout:fixed;font-size:0.8rem;border-collapse:collapse'>"
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _other_commune(name: str, commune) -> str | None:
    """The commune to name beside a zone: an IRIS's, unless the IRIS stands for the whole commune
    (« X (commune non irisée) ») or the zone is the commune itself."""
    if name.endswith(WHOLE_COMMUNE_SUFFIX) or not isinstance(commune, str) or commune == name:
        return None
    return commune


def _zone_cell(name, commune) -> str:
    """A zone's name (escaped), its commune under it in grey when it is another name (IRIS)."""
    other = _other_commune(str(name), commune)
    return esc(str(name)) + (f"<br><span style='color:#6b7280'>{esc(other)}</span>" if other else "")


def zone_title(name: str, commune) -> str:
    """« IRIS — Commune » (plain text, to be escaped by the caller); the name alone for a commune
    or an IRIS standing for a whole commune (« X (commune non irisée) », not « … — X »)."""
    other = _other_commune(str(name), commune)
    return f"{name} — {other}" if other else str(name)


def zone_choice_labels(view: pd.DataFrame) -> dict[str, str]:
    """``{code: label}`` of the zone picker: the zone's name, short enough for a narrow column
    (an IRIS standing for a whole commune reads as the commune); a name shared by several zones
    gets its commune (« Centre — Échirolles ») or, failing that, its code."""
    names = view["name"].astype(str).str.removesuffix(WHOLE_COMMUNE_SUFFIX)
    if "commune_name" in view:
        names = names.where(~names.duplicated(keep=False), names + " — " + view["commune_name"].astype(str))
    names = names.where(~names.duplicated(keep=False), names + " (" + view["code"].astype(str) + ")")
    return dict(zip(view["code"], names, strict=True))


def _html(text: str) -> None:
    st.markdown(text, unsafe_allow_html=True)


def _why_this_score(z: pd.Series, r: pd.Series, columns, config: Config) -> None:
    """The contributions of the indicators to the zone's index, with the caveats under them."""
    rows = indicator_rows(z, r, columns, config)
    if not rows or not np.isfinite(pd.to_numeric(r.get("score"), errors="coerce")):
        return
    st.markdown(f"**Pourquoi cette note** : chaque indicateur apporte des points (sa note de 1 à 10 × son poids) ; "
                f"leur somme fait l'indice, {format_fr(r['score'], 1)}\u00a0/10.")
    _html(contributions_html(rows, full_bar_points(config, [row["Contribution"] for row in rows])))
    measured = r.get("measured_share")
    if isinstance(measured, float) and np.isfinite(measured) and measured < 0.9995:
        st.caption(f"{format_fr(100 * measured, 0)} % de cette note vient de données mesurées ; le reste repose sur "
                   "les estimations indiquées sous chaque indicateur.")
    ref = r.get("reference")
    if ref == "france":
        national = [k for k in str(r.get("national_keys") or "").split(";") if k]
        others = [CATALOGUE[k].label for k in config.indicator_keys if k not in national and f"contrib_{k}" in columns]
        st.caption("Référence France : " + ", ".join(CATALOGUE[k].label for k in national)
                   + (f" ; sans fichier national, classés dans la région : {', '.join(others)}." if others else "."))
    if isinstance(ref, str) and ref != config.reference:
        st.caption(f"Référence de l'indice : {REFERENCE_LABELS.get(ref, ref)} (à cette maille, une zone ne peut pas "
                   "être classée dans sa propre référence : la référence monte d'un niveau).")


def _nearest(z: pd.Series, r: pd.Series, config: Config, places: pd.DataFrame, k: int = 5) -> None:
    """The places nearest to the zone, with their freshness badges."""
    rates = load_rates()
    walk = r.get("travel_mode") == "walk"
    speed = float(rates["travel"]["walk_kmh"] if walk else rates["travel"]["car_kmh"])
    sel, dist = _nearest_selection(z, open_reception_points(places, config), k)
    if sel.empty:
        return
    today = date.today()
    near = _nearest_table(sel, dist, speed, float(rates["travel"]["detour"]), today)
    updated = sel["updated"] if "updated" in sel else pd.Series(None, index=sel.index)
    badges = [Markup("{} ({})").format(freshness_badge(freshness(u, today)), updated_text(u)) for u in updated]
    st.markdown("**Lieux les plus proches**")
    _html(nearest_places_html(near, "à pied" if walk else "en voiture", badges))
    st.caption("Distance à vol d'oiseau ; temps estimé avec un détour. Fiche : fraîcheur de la date de mise à jour "
               "publiée par la source (moins de 6 mois « à jour », 6 à 12 « à surveiller », 12 à 18 « à vérifier », "
               "18 ou plus ou inconnue « à actualiser »).")


def zone_panel(code: str, level: str, res: pd.DataFrame, config: Config, places: pd.DataFrame) -> None:
    """Draw the explanation of zone ``code``: key figures, why this note, access, nearest places.

    Laid out for a narrow column (≈ 330 px at 1 280 px, 380 px at 1 440 px): HTML blocks that wrap
    instead of data grids and charts that cut their labels or scroll sideways."""
    zones = data.pack()[level]
    pos = np.flatnonzero(zones["code"].to_numpy() == code)
    if not len(pos):
        st.warning(f"Zone {escape_md(code)} inconnue.")
        return
    i = zones.index[pos[0]]
    z, r = zones.loc[i], res.loc[i]
    st.subheader(escape_md(zone_title(z["name"], z.get("commune_name"))))
    if bool(r.get("uninhabited", False)):
        st.info("Zone sans habitants recensés (zone d'activités, équipement, espace naturel…) : elle n'est pas notée "
                "et ne compte aucune personne en besoin.")
    _html(key_figures_html(r))
    _why_this_score(z, r, res.columns, config)
    st.markdown(access_text(r))
    if np.isnan(pd.to_numeric(r.get("need"), errors="coerce")):
        st.caption("Besoin non estimé : population ou taux de pauvreté absents pour cette zone (voir Données & méthode).")
    _nearest(z, r, config, places)
