"""Rendering of the Orienter page: French labels, place cards, the places table, the fiche (HTML, PDF).

The logic lives in :mod:`indicators.orientation`; this module turns its results into text for a
social worker. Every string that comes from the data (names, addresses, contacts, sources) goes
through :func:`esc` before it enters HTML or Markdown. Nothing about the person is kept: the fiche
holds the need, the starting zone and the places, never a name (there is no name field).

The fiche (« fiche d'orientation ») is one A4 page: the need, the 3 nearest matching places with
their hours (the asked slot highlighted), address, phone and travel time, and a small map drawn
with matplotlib (no tiles, works offline). The PDF is built with ReportLab using matplotlib's
bundled DejaVu Sans (so « », €, ≥ and the narrow no-break space render), the HTML is standalone.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache, partial
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import streamlit as st
from markupsafe import Markup

from indicators.access import zone_speeds
from indicators.orientation import (
    MIN_OVERLAP_MIN,
    REACH_STEPS_MIN,
    SERVICES,
    SLOT_WINDOWS_MIN,
    Funnel,
    Need,
    Orientation,
    PlaceIndex,
    Relaxation,
    listing,
    matching_intervals,
    normalise_phone,
    parse_updated,
    read_hours,
)
from indicators.supply import DAYS
from ui import data
from ui.folium_map import format_fr
from ui.labels import PLACE_TYPE_LABELS, SERVICE_LABELS

DAY_LABELS = {"mo": "lundi", "tu": "mardi", "we": "mercredi", "th": "jeudi", "fr": "vendredi", "sa": "samedi", "su": "dimanche"}
DAY_SHORT = {"mo": "lun.", "tu": "mar.", "we": "mer.", "th": "jeu.", "fr": "ven.", "sa": "sam.", "su": "dim."}
SLOT_LABELS = {"morning": "matin", "afternoon": "après-midi", "evening": "soir (après 17 h)"}
#: the needs as the worker says them (the pack's service categories)
NEED_LABELS = {
    "demarches": "Démarches administratives",
    "competences_base": "Compétences de base",
    "equipement": "Matériel, accès libre à internet",
    "autres": "Autres services",
}
MODE_LABELS = {"walk": "à pied", "car": "en voiture"}
FRESHNESS_LABELS = {"fresh": "à jour", "watch": "à surveiller", "check": "à vérifier", "stale": "à actualiser"}
#: (background, text) colours of the badge; the label is always written (never colour alone)
FRESHNESS_COLORS = {"fresh": ("#dcfce7", "#166534"), "watch": ("#fef9c3", "#854d0e"),
                    "check": ("#ffedd5", "#9a3412"), "stale": ("#fee2e2", "#991b1b")}
FRESHNESS_DOTS = {"fresh": "🟢", "watch": "🟡", "check": "🟠", "stale": "🔴"}
FRESHNESS_RULE = ("Fraîcheur de la fiche (règle du tableau de bord national « Mon Inclusion Numérique ») : mise à jour "
                  "il y a moins de 6 mois « à jour », de 6 à 12 mois « à surveiller », de 12 à 18 mois « à vérifier », "
                  "18 mois ou plus, ou date inconnue, « à actualiser ».")
#: the places' sources (pack keys) by the name a social worker knows
SOURCE_LABELS = {
    "hinaura": "Hinaura", "data_inclusion": "data·inclusion", "france_services": "ANCT (France services)",
    "cnfs_places": "Conseillers numériques (lieux)", "cnfs_structures": "Conseillers numériques (structures)",
    "aidants_connect": "Aidants Connect", "culture_bibliotheques_2020": "Ministère de la Culture (bibliothèques, 2020)",
    "import_utilisateur": "lieux importés",
}
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")
HIGHLIGHT = "#fde68a"
#: characters turned into entities in one pass: HTML's (as html.escape) and Markdown's
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "*": "&#42;", "_": "&#95;",
             "`": "&#96;", "[": "&#91;", "]": "&#93;", "\\": "&#92;", "~": "&#126;", "|": "&#124;", "$": "&#36;",
             "#": "&#35;", "{": "&#123;", "}": "&#125;"}
_ENTITY_RE = re.compile("[" + re.escape("".join(_ENTITIES)) + "]")
_EMAIL_RE = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[A-Za-z]{2,}$")


# ----------------------------------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------------------------------


def esc(value) -> str:
    """HTML-escaped text that Markdown cannot reinterpret either (``*``, ``_``, ``$``… as entities,
    whitespace runs and line breaks collapsed); missing → ''."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = " ".join(str(value).split())
    return _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(0)], text)


def pdf_esc(value) -> str:
    """Text for a ReportLab paragraph: ``&``, ``<``, ``>`` escaped (ReportLab reads no numeric
    entities such as ``&#x27;``), whitespace collapsed; missing → ''."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return html.escape(" ".join(str(value).split()), quote=False)


def hm(minutes: int) -> str:
    """540 → '9h00'."""
    return f"{minutes // 60}h{minutes % 60:02d}"


def date_fr(d: date) -> str:
    """date(2026, 11, 30) → '30 novembre 2026'."""
    return f"{d.day} {MONTHS_FR[d.month - 1]} {d.year}"


def updated_text(value) -> str:
    """A published ``updated`` value in French: '23/06/2022', '05/2021' or '2020'; 'inconnue'."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "inconnue"
    text = str(value).strip()
    if parse_updated(text) is None:
        return "inconnue"
    if re.fullmatch(r"\d{4}", text):
        return text
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return f"{text[5:7]}/{text[:4]}"
    return f"{text[8:10]}/{text[5:7]}/{text[:4]}"


def when_text(day: str | None, slot: str | None) -> str:
    """« le samedi matin », « le samedi », « le matin, n'importe quel jour », or '' (any time)."""
    if day and slot:
        return f"le {DAY_LABELS[day]} {SLOT_LABELS[slot]}"
    if day:
        return f"le {DAY_LABELS[day]}"
    if slot:
        return f"le {SLOT_LABELS[slot]}, n'importe quel jour"
    return ""


def slot_rule_text() -> str:
    """The slot definitions, for the page and the fiche."""
    parts = [f"{SLOT_LABELS[s].split(' (')[0]} = ouvert au moins {MIN_OVERLAP_MIN} min entre {hm(a).replace('h00', ' h')} "
             f"et {hm(b).replace('h00', ' h').replace('24 h', 'minuit')}" for s, (a, b) in SLOT_WINDOWS_MIN.items()]
    return "Créneaux : " + " ; ".join(parts) + "."


def services_text(services: tuple[str, ...]) -> str:
    return " et ".join(f"« {NEED_LABELS[s]} »" for s in services)


def need_text(need: Need, origin_label: str) -> str:
    """One line: what, when, how, from where (French; ``origin_label`` is escaped by the caller's renderer)."""
    parts = [services_text(need.services) if need.services else "tout accompagnement numérique"]
    when = when_text(need.day, need.slot)
    parts.append(when if when else "n'importe quel jour")
    parts.append(f"{MODE_LABELS[need.mode]}, {format_fr(need.max_minutes, 0)} min au plus")
    parts.append(f"depuis {origin_label}")
    return " · ".join(parts)


def _n_places(n: int) -> str:
    return f"{n} lieu" if n == 1 else f"{n} lieux"


def empty_text(need: Need, origin_label: str) -> str:
    """Why nothing is listed, in one sentence: « Aucun lieu ouvert le samedi matin … à moins de 30 min … »."""
    what = f" proposant {services_text(need.services)}" if need.services else ""
    when = when_text(need.day, need.slot)
    return (f"Aucun lieu{what}{' ouvert ' + when if when else ''} à moins de {format_fr(need.max_minutes, 0)} min "
            f"{MODE_LABELS[need.mode]} depuis {origin_label}.")


def funnel_text(f: Funnel, need: Need) -> str:
    """How many places each criterion leaves, within reach (French)."""
    out = f"À moins de {format_fr(need.max_minutes, 0)} min {MODE_LABELS[need.mode]} : {_n_places(f.within_reach)} d'accueil"
    if need.services:
        out += f" ; {f.with_services} proposant {services_text(need.services)}"
        if f.services_unknown:
            out += f" ({_n_places(f.services_unknown)} ne publient pas leurs services : appelez-les)"
    when = when_text(need.day, need.slot)
    if when:
        out += f" ; {f.open_then} ouverts {when}"
        if f.hours_unknown:
            out += f" ({_n_places(f.hours_unknown)} sans horaires publiés)"
    return out + "."


def relaxation_text(r: Relaxation, base: Need) -> str:
    """« le samedi après-midi : 3 lieux (le plus proche à 16 min) » and the like."""
    n = r.need
    if r.kind == "slot" and n.slot is None and n.day is not None:
        head = f"le {DAY_LABELS[n.day]}, à toute heure"
    elif r.kind in ("slot", "day"):
        head = when_text(n.day, n.slot) or "n'importe quand"
    elif r.kind == "reach":
        head = f"à moins de {format_fr(n.max_minutes, 0)} min {MODE_LABELS[n.mode]}"
    elif r.kind == "mode":
        head = f"{MODE_LABELS[n.mode]} ({format_fr(n.max_minutes, 0)} min au plus)"
    else:
        dropped = [s for s in base.services if s not in n.services]
        head = f"sans « {NEED_LABELS[dropped[0]]} »" if n.services else "sans préciser de service"
    return f"{head[0].upper() + head[1:]} : {_n_places(r.count)} (le plus proche à {format_fr(r.nearest_minutes, 0)} min)"


# ----------------------------------------------------------------------------------------------
# Hours and badges
# ----------------------------------------------------------------------------------------------


def _hours_dict(hours_json) -> dict | None:
    from indicators.orientation import _parse_hours

    return _parse_hours(hours_json)


def hours_parts(hours_json, day: str | None, slot: str | None, *, closed_days: bool = False) -> list[tuple[str, list[tuple[str, bool]]]] | None:
    """Opening hours by day as ``[(day short label, [(« 9h00–12h00 », highlighted), …]), …]``.

    Highlighted: the intervals that match the asked day and slot (30-minute rule); with no day,
    the matching intervals of every day; with neither, none. None when the hours are unknown.
    ``closed_days``: the days without hours are listed too, as « fermé » (the fiche).
    """
    hours = read_hours(hours_json)
    if hours is None:
        return None
    out = []
    for d in DAYS:
        intervals = [(int(a), int(b)) for a, b in (hours.get(d) or [])]
        if not intervals:
            if closed_days:
                out.append((DAY_SHORT[d], [("fermé", False)]))
            continue
        asked = (day is None or day == d) and (day is not None or slot is not None)
        hits = set(matching_intervals(hours, d, slot)) if asked else set()
        out.append((DAY_SHORT[d], [(f"{hm(a)}–{hm(b)}", (a, b) in hits) for a, b in intervals]))
    return out


def hours_html(hours_json, day: str | None, slot: str | None) -> str:
    """Hours as HTML with the matching intervals in ``<mark>``; « horaires non publiés » if unknown."""
    parts = hours_parts(hours_json, day, slot)
    if parts is None:
        return "<i>horaires non publiés : appelez avant</i>"
    if not parts:
        return "fermé toute la semaine"
    return " · ".join(
        f"{d} " + ", ".join(f"<mark style='background:{HIGHLIGHT}'><b>{t}</b></mark>" if hit else t for t, hit in ivs)
        for d, ivs in parts
    )


def freshness_badge(key: str) -> Markup:
    """The freshness badge as HTML (coloured, with its label)."""
    bg, fg = FRESHNESS_COLORS[key]
    return Markup("<span style='background:{};color:{};border-radius:4px;padding:0 5px;font-size:0.85em;"
                  "font-weight:600;white-space:nowrap'>{}</span>").format(bg, fg, FRESHNESS_LABELS[key])


def freshness_cell(key: str, updated) -> str:
    """Plain text for tables: « 🔴 à actualiser (05/05/2021) »."""
    return f"{FRESHNESS_DOTS[key]} {FRESHNESS_LABELS[key]} ({updated_text(updated)})"


def type_label(value) -> str:
    return PLACE_TYPE_LABELS.get(str(value), "Autre") if isinstance(value, str) else "Autre"


def services_label(value) -> str:
    """« Démarches en ligne, Équipement et connexion » from the ``;``-joined codes; '' if none."""
    if not isinstance(value, str):
        return ""
    return ", ".join(SERVICE_LABELS.get(s, s) for s in value.split(";") if s)


# ----------------------------------------------------------------------------------------------
# Place cards (page)
# ----------------------------------------------------------------------------------------------


def _link(url) -> str:
    """A website as a link when it is http(s), else as text (escaped either way)."""
    if not isinstance(url, str) or not url.strip():
        return ""
    url = url.strip()
    if re.match(r"^https?://[^\s<>\"']+$", url, flags=re.IGNORECASE):
        return f"<a href=\"{esc(url)}\" target=\"_blank\" rel=\"noopener noreferrer\">site web</a>"
    return esc(url)


def contacts_html(row: pd.Series) -> str:
    """« Tél. 04 76 … · courriel · site web » (escaped); « pas de contact publié » when none."""
    parts = []
    phone = normalise_phone(row.get("phone"))
    if phone:
        parts.append(f"<b>Tél. {esc(phone)}</b>")
    email = row.get("email")
    if isinstance(email, str) and _EMAIL_RE.match(email.strip()):
        parts.append(f"<a href=\"mailto:{esc(email.strip())}\">{esc(email.strip())}</a>")
    link = _link(row.get("website"))
    if link:
        parts.append(link)
    return " · ".join(parts) if parts else "<i>pas de contact publié</i>"


def travel_text(row: pd.Series, mode: str) -> str:
    """« 19 min à pied · 1,5 km à vol d'oiseau »."""
    return (f"{format_fr(row['minutes'], 0)} min {MODE_LABELS[mode]} · "
            f"{format_fr(row['distance_m'] / 1000.0, 1)} km à vol d'oiseau")


def address_text(row: pd.Series, commune_names: dict[str, str]) -> str:
    commune = commune_names.get(str(row.get("code_commune")), "")
    parts = [str(row.get(c)) for c in ("address", "postcode") if isinstance(row.get(c), str) and row.get(c)]
    text = " ".join(parts)
    if commune and commune.lower() not in text.lower():
        text = f"{text}, {commune}" if text else commune
    return text or "adresse non publiée"


def place_card_html(row: pd.Series, need: Need, commune_names: dict[str, str]) -> str:
    """One place as an HTML block (no blank line: Markdown keeps it as one HTML block)."""
    lines = [
        "<div class='orient-card' style='border:1px solid #d1d5db;border-radius:8px;padding:8px 12px;margin:0 0 8px 0'>",
        "<div style='display:flex;justify-content:space-between;gap:12px;flex-wrap:wrap'>"
        f"<span><b>{int(row['rank'])}. {esc(row.get('name'))}</b> · {esc(type_label(row.get('type')))}</span>"
        f"<span><b>{esc(travel_text(row, need.mode))}</b></span></div>",
        f"<div style='color:#374151'>{esc(address_text(row, commune_names))}</div>",
        f"<div>{contacts_html(row)}</div>",
        f"<div><span style='color:#4b5563'>Horaires :</span> {hours_html(row.get('hours_json'), need.day, need.slot)}</div>",
        f"<div><span style='color:#4b5563'>Services :</span> {esc(services_label(row.get('services')) or 'non publiés')}</div>",
        f"<div style='font-size:0.85em;color:#4b5563'>{freshness_badge(row['freshness'])} Source : "
        f"{esc(sources_text(row.get('sources')))} · mise à jour {esc(updated_text(row.get('updated')))}</div>",
        "</div>",
    ]
    return "".join(lines)


# ----------------------------------------------------------------------------------------------
# Tables (list of the territory's places, CSV)
# ----------------------------------------------------------------------------------------------

TABLE_COLUMNS = ("Lieu", "Type", "Adresse", "Temps de trajet (min)", "Distance à vol d'oiseau (km)", "Services",
                 "Horaires", "Téléphone", "Courriel", "Site web", "Mise à jour", "Fraîcheur", "Sources")


def hours_plain(hours_json) -> str:
    """« lun. 9h00–12h00, 14h00–17h00 · mar. … » (as ui.explain.hours_text), or « non publiés »."""
    parts = hours_parts(hours_json, None, None)
    if parts is None:
        return "horaires non publiés"
    return " · ".join(f"{d} " + ", ".join(t for t, _ in ivs) for d, ivs in parts) or "fermé toute la semaine"


def sources_text(value) -> str:
    """The ``;``-joined source keys of a place as readable names (unknown keys kept as they are)."""
    if not isinstance(value, str) or not value:
        return "inconnue"
    return ", ".join(SOURCE_LABELS.get(k, k) for k in value.split(";") if k)


def places_table(places: pd.DataFrame, commune_names: dict[str, str]) -> pd.DataFrame:
    """The places with French column labels and labels for every code (for the list and its CSV)."""
    if places.empty:
        return pd.DataFrame(columns=list(TABLE_COLUMNS))
    return pd.DataFrame({
        "Lieu": places["name"].astype(str).to_numpy(),
        "Type": [type_label(t) for t in places["type"]],
        "Adresse": [address_text(r, commune_names) for _, r in places.iterrows()],
        "Temps de trajet (min)": places["minutes"].round(0).to_numpy() if "minutes" in places else np.nan,
        "Distance à vol d'oiseau (km)": (places["distance_m"] / 1000.0).round(1).to_numpy() if "distance_m" in places else np.nan,
        "Services": [services_label(s) for s in places["services"]],
        "Horaires": [hours_plain(h) for h in places.get("hours_json", pd.Series(None, index=places.index))],
        "Téléphone": [normalise_phone(p) for p in places.get("phone", pd.Series(None, index=places.index))],
        "Courriel": places.get("email", pd.Series("", index=places.index)).fillna("").astype(str).to_numpy(),
        "Site web": places.get("website", pd.Series("", index=places.index)).fillna("").astype(str).to_numpy(),
        "Mise à jour": [updated_text(u) for u in places.get("updated", pd.Series(None, index=places.index))],
        "Fraîcheur": [FRESHNESS_LABELS[k] for k in places["freshness"]],
        "Sources": [sources_text(v) for v in places.get("sources", pd.Series(None, index=places.index))],
    })


def table_csv(table: pd.DataFrame) -> bytes:
    """CSV for a spreadsheet in French: ``;`` separator, decimal comma, UTF-8 with BOM."""
    return table.to_csv(index=False, sep=";", decimal=",").encode("utf-8-sig")


# ----------------------------------------------------------------------------------------------
# The fiche: data, map, HTML, PDF
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FichePlace:
    """One place of the fiche, as text (not escaped yet)."""

    rank: int
    name: str
    type: str
    address: str
    phone: str
    travel: str
    hours: list | None  # hours_parts
    services: str
    freshness: str
    updated: str
    sources: str
    x: float
    y: float


@dataclass(frozen=True)
class Fiche:
    """What the fiche says: the need, where from, the places (≤ 3), the date, the map's background."""

    need_line: str
    rules: str
    origin_label: str
    origin_xy: tuple[float, float]
    places: tuple[FichePlace, ...]
    today: date
    background: tuple = field(default=())  # Lambert-93 polygons drawn light grey
    labels: tuple = field(default=())  # (x, y, commune name) written on the map
    note: str = ""


def fiche_from(orientation: Orientation, origin_label: str, origin_xy: tuple[float, float], today: date,
               commune_names: dict[str, str], *, n: int = 3) -> Fiche:
    """The fiche of the ``n`` nearest matches (background and labels added by the page)."""
    need = orientation.need
    places = tuple(
        FichePlace(
            rank=int(r["rank"]), name=str(r.get("name") or ""), type=type_label(r.get("type")),
            address=address_text(r, commune_names), phone=normalise_phone(r.get("phone")) or "non publié",
            travel=travel_text(r, need.mode), hours=hours_parts(r.get("hours_json"), need.day, need.slot, closed_days=True),
            services=services_label(r.get("services")) or "non publiés", freshness=str(r["freshness"]),
            updated=updated_text(r.get("updated")), sources=sources_text(r.get("sources")),
            x=float(r["x"]), y=float(r["y"]),
        )
        for _, r in orientation.matches.head(n).iterrows()
    )
    rules = (f"{slot_rule_text()} Temps de trajet estimé à vol d'oiseau × détour, {MODE_LABELS[need.mode]}, depuis "
             "le point central de la commune ou du quartier (★ sur la carte) ; les transports en commun ne sont pas "
             f"modélisés. {FRESHNESS_RULE}")
    return Fiche(need_text(need, origin_label), rules, origin_label, origin_xy, places, today)


#: size of the fiche's map (cm): the PDF draws it 85 × 65 mm
FICHE_MAP_CM = (8.5, 6.5)


def few_places_note(n: int, need: Need) -> str:
    """What the fiche says when fewer than 3 places match (empty when 3 or more)."""
    if not 0 < n < 3:
        return ""
    return (f"Seul{'s' if n > 1 else ''} {_n_places(n)} répond{'ent' if n > 1 else ''} à ce besoin à moins de "
            f"{format_fr(need.max_minutes, 0)} min {MODE_LABELS[need.mode]}.")


def _nice_length(span_m: float) -> float:
    """A round scale-bar length ≈ a quarter of the span (100 m, 200 m, 500 m, 1 km, 2 km…)."""
    target = max(span_m / 4.0, 50.0)
    base = 10 ** np.floor(np.log10(target))
    return float(max(m * base for m in (1, 2, 5) if m * base <= target))


def _map_bounds(points: np.ndarray, aspect: float, min_span_m: float = 1500.0) -> tuple[float, float, float, float]:
    """Bounds around the points with a 25 % margin, at least ``min_span_m`` high, and the figure's
    ``aspect`` (width / height), so that one metre is as long across as up."""
    minx, miny = points.min(axis=0)
    maxx, maxy = points.max(axis=0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_h = max((maxy - miny), (maxx - minx) / aspect, min_span_m) / 2 * 1.25
    return cx - half_h * aspect, cy - half_h, cx + half_h * aspect, cy + half_h


def fiche_map_png(fiche: Fiche, *, width_cm: float = FICHE_MAP_CM[0], height_cm: float = FICHE_MAP_CM[1], dpi: int = 200) -> bytes:
    """The fiche's map as PNG: background outlines, commune names, the places numbered 1–3, the
    starting point (« Départ ») and a scale bar; Lambert-93, no tiles."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon as MplPolygon

    pts = np.array([fiche.origin_xy] + [(p.x, p.y) for p in fiche.places], dtype=float)
    minx, miny, maxx, maxy = _map_bounds(pts, width_cm / height_cm)
    fig = Figure(figsize=(width_cm / 2.54, height_cm / 2.54), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_facecolor("#ffffff")
    ax.set_axis_off()
    for ring in fiche.background:
        ax.add_patch(MplPolygon(np.asarray(ring), closed=True, facecolor="#f3f4f6", edgecolor="#9ca3af", linewidth=0.5))
    for x, y, name in fiche.labels:
        ax.text(x, y, name, fontsize=6, color="#6b7280", ha="center", va="center", style="italic")
    ax.plot(*fiche.origin_xy, marker="*", markersize=14, color="#111827", markeredgecolor="white", zorder=5)
    ax.annotate("Départ", fiche.origin_xy, xytext=(7, -11), textcoords="offset points", fontsize=7, weight="bold", zorder=6)
    for p in fiche.places:
        ax.plot(p.x, p.y, marker="o", markersize=13, color="#1d4ed8", markeredgecolor="white", zorder=5)
        ax.text(p.x, p.y, str(p.rank), color="white", fontsize=7, weight="bold", ha="center", va="center", zorder=6)
    _scale_bar(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def fiche_background(fiche: Fiche, zones, communes: pd.DataFrame, *, max_labels: int = 6) -> Fiche:
    """The fiche with its map's background: exterior rings of the ``zones`` (GeoDataFrame in
    Lambert-93, e.g. the IRIS) that cross the map, simplified to 10 m, and the names of the
    ``communes`` (``name``, ``rep_x``, ``rep_y``) whose demand point lies well inside the map."""
    import shapely

    pts = np.array([fiche.origin_xy] + [(p.x, p.y) for p in fiche.places], dtype=float)
    minx, miny, maxx, maxy = _map_bounds(pts, FICHE_MAP_CM[0] / FICHE_MAP_CM[1])
    hits = zones.sindex.query(shapely.box(minx, miny, maxx, maxy), predicate="intersects")
    rings = []
    for geom in shapely.simplify(zones.geometry.to_numpy()[hits], 10.0):
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type == "Polygon":
                rings.append(tuple(map(tuple, np.asarray(poly.exterior.coords))))
    mx, my = (maxx - minx) * 0.12, (maxy - miny) * 0.12
    inside = communes[communes["rep_x"].between(minx + mx, maxx - mx) & communes["rep_y"].between(miny + my, maxy - my)]
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    clear = (maxy - miny) * 0.1  # no name on a marker
    near_marker = np.array([np.hypot(pts[:, 0] - x, pts[:, 1] - y).min() < clear for x, y in zip(inside["rep_x"], inside["rep_y"], strict=True)], bool)
    inside = inside[~near_marker] if len(inside) else inside
    inside = inside.assign(_d=np.hypot(inside["rep_x"] - cx, inside["rep_y"] - cy)).nsmallest(max_labels, "_d")
    labels = tuple((float(x), float(y), str(n)) for x, y, n in zip(inside["rep_x"], inside["rep_y"], inside["name"], strict=True))
    return replace(fiche, background=tuple(rings), labels=labels)


def _scale_bar(ax) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    bx, by = x0 + 0.04 * (x1 - x0), y0 + 0.06 * (y1 - y0)
    ax.plot([bx, bx + length], [by, by], color="#111827", linewidth=2, solid_capstyle="butt")
    label = f"{format_fr(length / 1000, 1 if length % 1000 else 0)} km" if length >= 1000 else f"{int(length)} m"
    ax.text(bx + length / 2, by + 0.02 * (y1 - y0), label, fontsize=6, ha="center", va="bottom")
    ax.text(x1 - 0.04 * (x1 - x0), y1 - 0.08 * (y1 - y0), "N ↑", fontsize=7, ha="right", va="center", weight="bold")


_FOOTER = ("Horaires, services et contacts tels que publiés par les sources (date de mise à jour indiquée) : appelez le "
           "lieu avant de vous déplacer. Document établi sans aucune donnée sur la personne.")


def _hours_html_parts(parts) -> str:
    if parts is None:
        return "<i>horaires non publiés : appelez avant</i>"
    if not parts:
        return "fermé toute la semaine"
    return "<br>".join(
        f"{esc(d)} " + ", ".join(f"<mark><b>{esc(t)}</b></mark>" if hit else esc(t) for t, hit in ivs) for d, ivs in parts
    )


def fiche_html(fiche: Fiche) -> str:
    """A standalone, print-friendly HTML page (A4), the map embedded as a PNG data URL; all escaped."""
    png = base64.b64encode(fiche_map_png(fiche)).decode("ascii")
    cards = "".join(
        f"<section class='place'><h2><span class='n'>{p.rank}</span> {esc(p.name)}</h2>"
        f"<p class='meta'>{esc(p.type)} · <b>{esc(p.travel)}</b></p>"
        f"<p>{esc(p.address)}<br><b>Tél. {esc(p.phone)}</b></p>"
        f"<p class='hours'>{_hours_html_parts(p.hours)}</p>"
        f"<p class='small'>Services : {esc(p.services)}<br>{freshness_badge(p.freshness)} Source : {esc(p.sources) or 'inconnue'}"
        f" · mise à jour {esc(p.updated)}</p></section>"
        for p in fiche.places
    ) or f"<p>{esc(fiche.note or 'Aucun lieu ne correspond.')}</p>"
    if fiche.places and fiche.note:
        cards += f"<p class='small'>{esc(fiche.note)}</p>"
    return (
        "<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Fiche d'orientation</title><style>"
        "@page{size:A4;margin:14mm}body{font-family:'DejaVu Sans',Arial,sans-serif;font-size:11pt;color:#111827;"
        "max-width:182mm;margin:auto}h1{font-size:17pt;margin:0 0 2mm}h2{font-size:12.5pt;margin:0 0 1mm}"
        ".need{background:#f3f4f6;padding:3mm;border-radius:2mm}.top{display:flex;gap:4mm;align-items:flex-start}"
        ".top img{width:85mm;border:1px solid #d1d5db}.place{border:1px solid #d1d5db;border-radius:2mm;padding:2mm 3mm;"
        "margin:3mm 0;break-inside:avoid}.place p{margin:1mm 0}.n{display:inline-block;background:#1d4ed8;color:#fff;"
        "border-radius:50%;width:6mm;text-align:center}.small,.meta{font-size:9.5pt;color:#374151}"
        f"mark{{background:{HIGHLIGHT}}}footer{{font-size:8.5pt;color:#4b5563;margin-top:3mm}}</style></head><body>"
        f"<h1>Fiche d'orientation — accompagnement au numérique</h1><p class='small'>Établie le {esc(date_fr(fiche.today))}</p>"
        f"<div class='top'><div class='need'><b>Besoin</b><br>{esc(fiche.need_line)}<p class='small'>{esc(fiche.rules)}</p></div>"
        f"<img alt='Carte : le point de départ et les lieux numérotés' src='data:image/png;base64,{png}'></div>"
        f"{cards}<footer>{esc(_FOOTER)}</footer></body></html>"
    )


@lru_cache(maxsize=1)
def _register_fonts() -> tuple[str, str]:
    """Register matplotlib's DejaVu Sans (regular, bold) with ReportLab; returns their names."""
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(folder / "DejaVuSans-Bold.ttf")))
    addMapping("DejaVuSans", 0, 0, "DejaVuSans")
    addMapping("DejaVuSans", 1, 0, "DejaVuSans-Bold")
    addMapping("DejaVuSans", 0, 1, "DejaVuSans")
    addMapping("DejaVuSans", 1, 1, "DejaVuSans-Bold")
    return "DejaVuSans", "DejaVuSans-Bold"


def _pdf_styles() -> dict:
    from reportlab.lib.styles import ParagraphStyle

    regular, bold = _register_fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=9.5, leading=12.5)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=bold, fontSize=16, leading=20),
        "h2": ParagraphStyle("h2", parent=body, fontName=bold, fontSize=11.5, leading=14.5),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor="#374151"),
    }


def _pdf_hours(parts) -> str:
    if parts is None:
        return "<i>horaires non publiés : appelez avant</i>"
    if not parts:
        return "fermé toute la semaine"
    return "<br/>".join(
        f"{pdf_esc(d)} " + ", ".join(f"<font backColor='{HIGHLIGHT}'><b>{pdf_esc(t)}</b></font>" if hit else pdf_esc(t) for t, hit in ivs)
        for d, ivs in parts
    )


def _pdf_place(p: FichePlace, st: dict, width: float):
    from reportlab.platypus import Paragraph, Table, TableStyle

    bg, fg = FRESHNESS_COLORS[p.freshness]
    badge = f"<font backColor='{bg}' color='{fg}'><b> {FRESHNESS_LABELS[p.freshness]} </b></font>"
    left = [Paragraph(f"{p.rank}. {pdf_esc(p.name)}", st["h2"]),
            Paragraph(f"{pdf_esc(p.type)} · <b>{pdf_esc(p.travel)}</b>", st["body"]),
            Paragraph(pdf_esc(p.address), st["body"]),
            Paragraph(f"<b>Tél. {pdf_esc(p.phone)}</b>", st["body"]),
            Paragraph(f"Services : {pdf_esc(p.services)}", st["small"]),
            Paragraph(f"{badge} Source : {pdf_esc(p.sources) or 'inconnue'} · mise à jour {pdf_esc(p.updated)}", st["small"])]
    right = [Paragraph("<b>Horaires</b>", st["small"]), Paragraph(_pdf_hours(p.hours), st["small"])]
    table = Table([[left, right]], colWidths=[width * 0.58, width * 0.42])
    table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.6, "#9ca3af"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 6), ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                               ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    return table


def fiche_pdf(fiche: Fiche) -> bytes:
    """The fiche as a one-page A4 PDF (ReportLab, DejaVu Sans); the content shrinks to fit one page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepInFrame, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    st = _pdf_styles()
    buf = io.BytesIO()
    margin = 14 * mm
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title="Fiche d'orientation", author="Inclusion numérique — diagnostic territorial")
    width = A4[0] - 2 * margin
    map_w, map_h = FICHE_MAP_CM[0] * 10 * mm, FICHE_MAP_CM[1] * 10 * mm
    need = [Paragraph("<b>Besoin</b>", st["body"]), Paragraph(pdf_esc(fiche.need_line), st["body"]), Spacer(1, 4),
            Paragraph(pdf_esc(fiche.rules), st["small"])]
    top = Table([[need, Image(io.BytesIO(fiche_map_png(fiche)), width=map_w, height=map_h)]],
                colWidths=[width - map_w - 4 * mm, map_w + 4 * mm])
    top.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BACKGROUND", (0, 0), (0, 0), "#f3f4f6"),
                             ("LEFTPADDING", (0, 0), (-1, -1), 6), ("TOPPADDING", (0, 0), (-1, -1), 6)]))
    story = [Paragraph("Fiche d'orientation — accompagnement au numérique", st["title"]),
             Paragraph(f"Établie le {pdf_esc(date_fr(fiche.today))}", st["small"]), Spacer(1, 6), top, Spacer(1, 8)]
    for p in fiche.places:
        story += [_pdf_place(p, st, width), Spacer(1, 6)]
    if not fiche.places or fiche.note:
        story.append(Paragraph(pdf_esc(fiche.note or "Aucun lieu ne correspond."), st["body"]))
    story.append(Paragraph(pdf_esc(_FOOTER), st["small"]))
    doc.build([KeepInFrame(width, A4[1] - 2 * margin - 1, story, mode="shrink")])
    return buf.getvalue()


__all__ = [
    "DAY_LABELS", "DAY_SHORT", "SLOT_LABELS", "NEED_LABELS", "MODE_LABELS", "FRESHNESS_LABELS", "FRESHNESS_COLORS",
    "FRESHNESS_DOTS", "FRESHNESS_RULE", "SERVICES", "esc", "hm", "date_fr", "updated_text", "when_text", "slot_rule_text",
    "services_text", "need_text", "empty_text", "funnel_text", "relaxation_text", "hours_parts", "hours_html",
    "freshness_badge", "freshness_cell", "type_label", "services_label", "contacts_html", "travel_text", "address_text",
    "place_card_html", "TABLE_COLUMNS", "places_table", "table_csv", "FichePlace", "Fiche", "fiche_from", "fiche_map_png",
    "fiche_html", "fiche_pdf", "fiche_background", "FICHE_MAP_CM", "pdf_esc", "hours_plain", "sources_text",
    "SOURCE_LABELS", "POINT_KEY", "N_CARDS", "place_index", "commune_names", "Origin", "origin_options", "zone_origin",
    "point_origin", "KEYS", "MAX_MINUTES_CHOICES", "apply_need", "mode_touched", "SLOT_SHORT", "SORTS",
    "fiche_pdf_bytes", "fiche_html_bytes", "sort_places", "draw_territory_list", "few_places_note",
]


# ----------------------------------------------------------------------------------------------
# Streamlit: cached index, where the person lives (the page's building blocks)
# ----------------------------------------------------------------------------------------------

#: the origin option that takes the point clicked on the map
POINT_KEY = "point"
#: at most this many places drawn as cards (the rest in the list)
N_CARDS = 10


@st.cache_resource(show_spinner="Préparation des lieux…", max_entries=8)
def place_index(today_iso: str, user_places: pd.DataFrame | None) -> PlaceIndex:
    """The eligible places of the pack (plus this session's uploads) prepared for ``today``
    (read-only, shared by every session with the same uploads)."""
    places = data.pack()["places"]
    if user_places is not None and len(user_places):
        places = pd.concat([pd.DataFrame(places.drop(columns="geometry")), user_places], ignore_index=True)
    return PlaceIndex.from_places(places, today=date.fromisoformat(today_iso))


@st.cache_resource(show_spinner=False)
def commune_names() -> Mapping[str, str]:
    c = data.pack()["commune"]
    return MappingProxyType(dict(zip(c["code"].astype(str), c["name"].astype(str), strict=True)))


@dataclass(frozen=True)
class Origin:
    """Where the person starts: Lambert-93 point, a label (commune, quartier or clicked point) and
    the travel mode the access indicator would use there (walk in small dense zones, else car)."""

    key: str
    label: str
    x: float
    y: float
    auto_mode: str


#: territories too large for a default start: the person's commune is asked first
CHOOSE_ORIGIN_KINDS = ("reg", "dep")
CHOOSE_ORIGIN_TEXT = ("Choisissez d'abord où habite la personne : sa commune dans la liste (tapez son nom), ou « Un point "
                      "cliqué sur la carte » puis un clic sur la carte qui s'affiche. À l'échelle d'un département ou de "
                      "la région, un point central ne dit rien de son trajet.")


@st.cache_data(show_spinner=False, max_entries=64)
def origin_options(kind: str, code: str) -> dict[str, str]:
    """{key: label} of the places of residence offered for the territory: itself (a commune, or an
    EPCI's centre of population), its communes (above a commune) and its IRIS (up to an EPCI), then
    the clicked point. A département or the région is not offered as a start: its centre of
    population (the région's is in the Loire) says nothing of anyone's journey
    (:data:`CHOOSE_ORIGIN_KINDS`: the page asks for a commune first)."""
    p = data.pack()
    level = data.KIND_LEVEL[kind]
    own = p[level][p[level]["code"] == code]
    out = {}
    if len(own) and kind not in CHOOSE_ORIGIN_KINDS:
        out[f"{level}:{code}"] = f"{own['name'].iloc[0]} ({'commune entière' if kind == 'com' else 'centre de population'})"
    if kind != "com":
        coms = data.zones_in(kind, code, "commune").sort_values("name")
        out |= {f"commune:{c}": f"{n} (commune)" for c, n in zip(coms["code"], coms["name"], strict=True)}
    if kind in ("com", "epci"):
        iris = data.zones_in(kind, code, "iris").sort_values(["commune_name", "name"])
        out |= {f"iris:{c}": f"{cn} — {n} (quartier)" for c, n, cn in zip(iris["code"], iris["name"], iris["commune_name"], strict=True)
                if not c.endswith("0000")}
    out[POINT_KEY] = "Un point cliqué sur la carte"
    return out


def _zone_mode(zone: pd.DataFrame) -> str:
    return str(zone_speeds(zone, "auto")[1][0]) if len(zone) else "car"


def zone_origin(key: str, label: str) -> Origin:
    """The demand point of a zone (``level:code``) as the origin."""
    level, code = key.split(":", 1)
    z = data.pack()[level]
    row = z[z["code"] == code]
    if row.empty:
        raise ValueError(f"zone {key!r} absente du jeu de données")
    return Origin(key, label.rsplit(" (", 1)[0] + " (point central)", float(row["rep_x"].iloc[0]), float(row["rep_y"].iloc[0]), _zone_mode(row))


@lru_cache(maxsize=1)
def _to_lambert():
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)


def point_origin(lon: float, lat: float) -> Origin:
    """A clicked point (WGS84) as the origin; labelled with the quartier (IRIS) it falls in."""
    import shapely

    x, y = _to_lambert().transform(lon, lat)
    iris = data.pack()["iris"]
    hit = iris.sindex.query(shapely.Point(x, y), predicate="intersects")
    if len(hit):
        z = iris.iloc[[hit[0]]]
        where = f" ({z['name'].iloc[0]}, {z['commune_name'].iloc[0]})"
        return Origin(POINT_KEY, "un point choisi sur la carte" + where, float(x), float(y), _zone_mode(z))
    return Origin(POINT_KEY, "un point choisi sur la carte", float(x), float(y), "car")


#: widget keys of the need (the relaxation buttons write them)
KEYS = {"services": "orient_services", "day": "orient_day", "slot": "orient_slot", "mode": "orient_mode",
        "max": "orient_max", "mode_touched": "orient_mode_touched"}
#: the longest travel times offered (minutes)
MAX_MINUTES_CHOICES = (10, *[int(m) for m in REACH_STEPS_MIN])


def apply_need(need: Need) -> None:
    """Button callback: put ``need`` into the widgets (runs before they are drawn again)."""
    st.session_state[KEYS["services"]] = list(need.services)
    st.session_state[KEYS["day"]] = need.day
    st.session_state[KEYS["slot"]] = need.slot
    st.session_state[KEYS["mode"]] = need.mode
    st.session_state[KEYS["max"]] = int(need.max_minutes)
    st.session_state[KEYS["mode_touched"]] = True


def mode_touched() -> None:
    """The worker chose the travel mode: stop following the starting zone's default."""
    st.session_state[KEYS["mode_touched"]] = True


SLOT_SHORT = {"morning": "matin", "afternoon": "après-midi", "evening": "soir"}
SORTS = {"distance": "Temps de trajet", "name": "Nom", "freshness": "Fraîcheur (les plus anciennes d'abord)"}


def fiche_pdf_bytes(fiche: Fiche, zones, communes: pd.DataFrame) -> bytes:
    """The fiche as PDF with its map's background (for a deferred download button)."""
    return fiche_pdf(fiche_background(fiche, zones, communes))


def fiche_html_bytes(fiche: Fiche, zones, communes: pd.DataFrame) -> bytes:
    """The fiche as standalone HTML, UTF-8 (for a deferred download button)."""
    return fiche_html(fiche_background(fiche, zones, communes)).encode("utf-8")


def sort_places(places: pd.DataFrame, how: str) -> pd.DataFrame:
    """Sort a listing: ``distance`` (travel time, then name), ``name`` (case and accents folded by
    casefold), ``freshness`` (oldest data first, unknown dates before all)."""
    if how not in SORTS:
        raise ValueError(f"unknown sort {how!r}; expected one of {list(SORTS)}")
    key = places["name"].astype(str).str.casefold()
    if how == "distance":
        return places.assign(_k=key).sort_values(["minutes", "_k"], na_position="last").drop(columns="_k")
    if how == "name":
        return places.assign(_k=key).sort_values("_k").drop(columns="_k")
    age = places["age_months"].fillna(np.inf)
    return places.assign(_a=age, _k=key).sort_values(["_a", "_k"], ascending=[False, True]).drop(columns=["_a", "_k"])


def draw_territory_list(index: PlaceIndex, kind: str, code: str, origin: Origin, mode: str) -> None:
    """The places located in the territory: filters (type, service, day, slot), sort, table, CSV."""
    communes = set(data.zones_in(kind, code, "commune")["code"].astype(str))
    rows = np.flatnonzero(index.places["code_commune"].astype(str).isin(communes).to_numpy())
    c = st.columns(5)
    types = c[0].multiselect("Type de lieu", list(PLACE_TYPE_LABELS), format_func=PLACE_TYPE_LABELS.get, key="list_types", placeholder="Tous", select_all=False)
    services = c[1].multiselect("Service", list(SERVICES), format_func=NEED_LABELS.get, key="list_services", placeholder="Tous", select_all=False)
    day = c[2].selectbox("Ouvert le", [None, *DAYS], format_func=_ALL_DAYS.get, key="list_day")
    slot = c[3].selectbox("Créneau", [None, *SLOT_SHORT], format_func=_ALL_SLOTS.get, key="list_slot")
    how = c[4].selectbox("Trier par", list(SORTS), format_func=SORTS.get, key="list_sort")
    places = listing(index, Need(tuple(services), day, slot, mode), rows=rows, origin=(origin.x, origin.y))
    if types:
        places = places[places["type"].isin(types)]
    table = places_table(sort_places(places, how), commune_names())
    st.caption(f"{_n_places(len(table))} situés dans le territoire (lieux d'accueil et bibliothèques publiques ; lieux "
               f"itinérants et lieux fermés toute la semaine exclus) · temps {MODE_LABELS[mode]} depuis {origin.label}.")
    st.dataframe(table, hide_index=True, height=360)
    st.download_button("Télécharger la liste (CSV)", partial(table_csv, table), file_name=f"lieux_{code}.csv",
                       mime="text/csv", on_click="ignore", key="list_csv",
                       help="Séparateur point-virgule, virgule décimale, UTF-8 (s'ouvre dans un tableur en français).")


_ALL_DAYS = {None: "Tous les jours"} | DAY_LABELS
_ALL_SLOTS = {None: "Toute la journée"} | SLOT_SHORT
