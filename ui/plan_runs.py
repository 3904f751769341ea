"""Cached calls of the Implantation page into ``planning`` (kept out of the page script: a
function defined there would tie the page's globals — frames, the map — in a reference cycle
that outlives the run until Python's next full collection)."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st
from markupsafe import Markup

from indicators import Config
from planning.scenarios import ScenarioStore
from planning.workflow import apply_edits, plan
from ui import data
from ui.folium_map import format_fr


@st.cache_resource
def scenario_store() -> ScenarioStore:
    """The scenario workspace (SQLite; ``$INCLUSION_WORKSPACE`` or the user's data folder)."""
    return ScenarioStore()


@st.cache_data(show_spinner="Optimisation en cours…", max_entries=16)
def run_plan(
    level: str,
    territory_key: str,
    config_json: str,
    model: str,
    p: int,
    service_time: float,
    method: str,
    hours: float,
    staff: float,
    cap_people: float,
    points: tuple,
    use_qpv: bool,
    edits_json: str,
    user_places: pd.DataFrame | None,
):
    """:func:`planning.workflow.plan` on the territory, with this session's uploaded places and
    what-if edits (``edits_json``), cached on every argument."""
    zl = data.pack()[level].drop(columns=["geometry", "geometry_display"])
    kind, code = territory_key.split(":", 1)
    m = zl.index.isin(data.zones_in(kind, code, level).index)
    pl = data.pack()["places"].drop(columns="geometry")
    if user_places is not None:
        pl = pd.concat([pl, user_places], ignore_index=True)
    pl = apply_edits(pl, json.loads(edits_json))
    return plan(
        zl, m, pl, Config.from_json(config_json), model=model, p=p, service_time=service_time, method=method,
        qpv=data.pack()["qpv"] if use_qpv else None, user_points=list(points) or None,
        new_site_hours=hours, new_site_staff=staff, site_capacity_people=cap_people, tables=data.pack_tables(),
    )


def site_popup(row: pd.Series) -> Markup:
    """Popup of a proposed site: rank and name (escaped), people newly within reach."""
    return Markup("<b>{}</b><br>+{} personnes à portée").format(row["label"], format_fr(row["newly_covered"], 0))


def stopped_note(summary: dict) -> str:
    """Why the plan holds fewer sites than asked, in French ('' when it holds them all)."""
    asked, got, reason = summary.get("p_requested"), summary.get("n_sites"), summary.get("stopped_reason")
    if not asked or got is None or got >= asked or not reason:
        return ""
    if reason == "no_gain":
        return (f"Au-delà de {got} site{'s' if got > 1 else ''}, aucun site n'ajoute de personnes à portée : "
                f"{got} proposé{'s' if got > 1 else ''} au lieu des {asked} demandés.")
    return f"Seulement {got} emplacement{'s' if got > 1 else ''} candidat{'s' if got > 1 else ''} dans ce territoire ({asked} demandés)."


@st.cache_data(show_spinner=False, max_entries=64)
def observed_rate(territory_key: str, config_json: str) -> tuple[float, float, float, int]:
    """(people accompanied, weekly hours × staff of the CnFS places, people per weekly hour, places)
    of the territory (:func:`indicators.activity.observed_rate`)."""
    from indicators.activity import observed_rate as rate
    from ui import compute

    kind, code = territory_key.split(":", 1)
    _res, caps, _report = compute.results("commune", Config.from_json(config_json))
    places = data.pack()["places"].drop(columns="geometry")
    r = rate(data.zones_in(kind, code, "commune"), places, caps)
    return r.accompanied, r.weekly_hours, r.per_weekly_hour, r.n_places


def capacity_note(territory_key: str, config_json: str, hours: float, staff: float, assumed: float) -> str:
    """The observed people per weekly hour beside the capacity assumed for a new site, in French."""
    accompanied, weekly, per_hour, n = observed_rate(territory_key, config_json)
    if not n or not per_hour == per_hour:  # no CnFS place or no hours: nothing observed
        return f"Aucune activité de conseiller numérique observée dans ce territoire : la capacité d'un nouveau lieu reste l'hypothèse de {format_fr(assumed, 0)} personnes."
    implied = per_hour * hours * staff
    return (f"Observé dans ce territoire : {format_fr(accompanied, 0)} personnes accompagnées par les conseillers numériques "
            f"(cumul jusqu'en juillet 2023) pour {format_fr(weekly, 0)} heures hebdomadaires d'accompagnement dans {n} lieux, soit "
            f"{format_fr(per_hour, 1)} personnes par heure hebdomadaire : un nouveau lieu de {format_fr(hours, 0)} h × "
            f"{format_fr(staff, 1)} conseiller en accompagnerait {format_fr(implied, 0)}, contre {format_fr(assumed, 0)} supposées.")
