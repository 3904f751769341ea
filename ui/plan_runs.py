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
