"""Cached calls of the Implantation page into ``planning``, and what the page shows of them.

Kept out of the page script: a function defined there would tie the page's globals — frames,
the map — in a reference cycle that outlives the run until Python's next full collection.

- :func:`timed_plan`: the plan (cached) with the wall time the user waited for, and whether it
  came from the cache;
- labels, the sentence that explains a result (:func:`outcome_sentence`), the exports of the
  proposed sites (coordinates rounded: :func:`sites_csv`, :func:`sites_geojson`);
- the saved scenarios side by side (:func:`comparison_table`, :func:`french_datetime`);
- the last plan in the page's link (:func:`plan_from_query` / :func:`plan_to_query`): its
  settings travel in three allow-listed query parameters of their own (``plan``, ``plan_pts``,
  ``plan_edits``, see :class:`PlanLink`), validated like the view's (``ui.state``), so that a
  reload or a shared link recomputes the same plan (from the cache when the server has it).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import pandas as pd
import streamlit as st
from markupsafe import Markup

from indicators import Config
from planning.scenarios import ScenarioStore, comparison_rows, rounded_site, site_points
from planning.workflow import PlanOutcome, apply_edits, plan
from ui import data
from ui.folium_map import PointLayer, format_fr
from ui.safe_text import escape_md, shorten

MODEL_LABELS = {
    "mclp": "Couverture maximale (MCLP) : p nouveaux lieux, le plus de personnes à portée",
    "pmedian": "p-médiane : p nouveaux lieux, le moins de temps de trajet cumulé",
    "lscp": "Couverture totale (LSCP) : le moins de lieux pour que toutes les zones soient à portée",
    "mclp_capacity": "Couverture avec capacité : chaque lieu accompagne un nombre limité de personnes",
}
MODEL_SHORT = {k: v.split(" :")[0] for k, v in MODEL_LABELS.items()}
#: the model picker's help: each model with what it looks for
MODELS_HELP = "\n".join(f"- **{MODEL_SHORT[k]}** : {v.split(' : ', 1)[1]}" for k, v in MODEL_LABELS.items())
METHOD_LABELS = {"exact": "Optimum exact (CBC)", "greedy": "Heuristique gloutonne (grands territoires)"}
#: what each model looks for, in a sentence (:func:`outcome_sentence`)
MODEL_AIMS = {
    "mclp": "mettre le plus de personnes en besoin à portée",
    "pmedian": "réduire le temps de trajet cumulé des personnes en besoin jusqu'au lieu le plus proche",
    "lscp": "mettre toutes les zones à portée avec le moins de lieux possible",
    "mclp_capacity": "accompagner le plus de personnes en besoin à portée, chaque lieu dans la limite de sa capacité",
}
#: solver statuses (``planning.models``) as the page shows them
STATUS_LABELS = {
    "optimal": "optimum prouvé",
    "feasible": "solution réalisable (limite de temps atteinte)",
    "heuristic": "heuristique",
    "heuristic_time_limit": "heuristique (limite de temps atteinte)",
    "no_solution": "pas de solution",
}
#: candidate kinds (``planning.candidates.KINDS``) as the page shows them
CANDIDATE_KIND_LABELS = {
    "commune_centre": "Centre de la commune",
    "qpv": "Quartier prioritaire (QPV)",
    "place": "Lieu existant sans aide numérique",
    "point": "Point cliqué sur la carte",
}
#: colours of the compared scenarios' sites (at most 4 scenarios; none red: the map is in reds)
SCENARIO_COLORS = ("#2563eb", "#16a34a", "#9333ea", "#d97706")
#: scenarios compared at most (one colour each)
MAX_COMPARED = 4
#: counsellors per new site offered by the form (a slider: 0,5 to 10 by 0,5)
STAFF_OPTIONS = tuple(x / 2 for x in range(1, 21))
MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


@st.cache_resource
def scenario_store() -> ScenarioStore:
    """The scenario workspace (SQLite; ``$INCLUSION_WORKSPACE`` or the user's data folder)."""
    return ScenarioStore()


# -- running a plan ----------------------------------------------------------------------------------

#: set by :func:`_run_plan` when it really runs (a cache miss), in the thread that called it
_ran = threading.local()


@st.cache_data(show_spinner="Optimisation en cours…", max_entries=16)
def _run_plan(
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
) -> tuple[PlanOutcome, float]:
    """(:func:`planning.workflow.plan` on the territory, seconds it took), with this session's
    uploaded places and what-if edits (``edits_json``), cached on every argument."""
    t0 = time.perf_counter()
    zl = data.pack()[level].drop(columns=["geometry", "geometry_display"])
    kind, code = territory_key.split(":", 1)
    m = zl.index.isin(data.zones_in(kind, code, level).index)
    pl = data.pack()["places"].drop(columns="geometry")
    if user_places is not None:
        pl = pd.concat([pl, user_places], ignore_index=True)
    pl = apply_edits(pl, json.loads(edits_json))
    outcome = plan(
        zl, m, pl, Config.from_json(config_json), model=model, p=p, service_time=service_time, method=method,
        qpv=data.pack()["qpv"] if use_qpv else None, user_points=list(points) or None,
        new_site_hours=hours, new_site_staff=staff, site_capacity_people=cap_people, tables=data.pack_tables(),
    )
    seconds = time.perf_counter() - t0
    _ran.seconds = seconds
    return outcome, seconds


@dataclass(frozen=True)
class PlanTiming:
    """``wall``: seconds the call took (what the user waited for); ``cached``: the result came
    from the cache; ``computed``: seconds the computation took when it ran (this call or the
    earlier one whose result was cached)."""

    wall: float
    cached: bool
    computed: float


def timed_plan(*args) -> tuple[PlanOutcome, PlanTiming]:
    """:func:`_run_plan` (same arguments) with its :class:`PlanTiming`."""
    _ran.seconds = None
    t0 = time.perf_counter()
    outcome, computed = _run_plan(*args)
    wall = time.perf_counter() - t0
    return outcome, PlanTiming(wall, _ran.seconds is None, computed)


def run_plan(*args) -> PlanOutcome:
    """The plan of :func:`timed_plan`, without its timing."""
    return timed_plan(*args)[0]


def seconds_fr(seconds: float) -> str:
    """« 3,4 s », « < 0,1 s »."""
    return "< 0,1 s" if seconds < 0.05 else f"{format_fr(seconds, 1)} s"


def timing_text(timing: PlanTiming, solver_seconds: float) -> str:
    """How long the user waited, in French: the wall time of the whole computation, or « résultat
    déjà calculé » when it came from the cache; the optimisation's own share beside it."""
    solver = f"dont {seconds_fr(solver_seconds)} d'optimisation" if math.isfinite(solver_seconds) else ""
    if timing.cached:
        return f"résultat déjà calculé (le calcul avait pris {seconds_fr(timing.computed)}{', ' + solver if solver else ''})"
    return f"calculé en {seconds_fr(timing.wall)}" + (f" ({solver})" if solver else "")


# -- what the page shows of a result -----------------------------------------------------------------


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


def _people(n: float) -> str:
    n = round(n)
    return f"{format_fr(n, 0)} personne{'s' if abs(n) >= 2 else ''}"


def outcome_sentence(outcome: PlanOutcome, service_time: float, hours: float, staff: float) -> str:
    """One French sentence: what the model looks for, who comes within reach (within
    ``service_time`` minutes of an open site) and why the unmet need falls by less (it counts
    the need beyond what the reachable hours can serve, against the target T: a new site only
    adds its capacity, ``hours`` × ``staff``; :mod:`indicators.unmet`)."""
    r, sm = outcome.result, outcome.summary
    n = len(outcome.sites)
    newly = r.covered_after - r.covered_before
    drop = sm["unmet_need_before"] - sm["unmet_need_after"]
    sites = f"{n} nouveau{'x' if n > 1 else ''} lieu{'x' if n > 1 else ''}"
    reach = (f"mettent {_people(newly)} en besoin de plus à portée" if round(newly) > 0 else "ne mettent personne de plus à portée")
    within = f"à moins de {format_fr(service_time, 0)} min d'un lieu ouvert"
    if r.model == "mclp_capacity":
        within += " qui peut les accompagner"
    unmet = (f"ne baisse que de {_people(drop)}" if round(drop) > 0 else "ne change pas")
    return (
        f"Le modèle cherche à {MODEL_AIMS[r.model]} : les {sites} {reach}, c'est-à-dire {within} ; "
        f"le besoin non couvert, lui, {unmet}, car il compte les personnes en besoin au-delà de ce que "
        "l'offre accessible peut accompagner par rapport à la cible (l'accès médian de la référence), "
        f"et un nouveau lieu n'y ajoute que sa capacité ({format_fr(hours, 0)} h par semaine × "
        f"{format_fr(staff, 1)} conseiller)."
    )


def sites_table(sites: pd.DataFrame) -> pd.DataFrame:
    """The proposed sites as the page lists them (French headers, type labels, whole people)."""
    return pd.DataFrame({
        "Rang": sites["rank"].astype(int),
        "Emplacement": sites["name"].astype(str),
        "Type": sites["kind"].astype(str).map(lambda k: CANDIDATE_KIND_LABELS.get(k, "Autre")),
        "Personnes nouvellement à portée": sites["newly_covered"].round(0),
        "Gain marginal": sites["marginal_gain"].round(0),
    })


def _site_records(sites: pd.DataFrame) -> list[dict]:
    """The proposed sites as plain records, coordinates rounded as a saved scenario keeps them
    (:func:`planning.scenarios.rounded_site`), the candidate kind's label beside its code."""
    out = []
    for rec in pd.DataFrame(sites.drop(columns=[c for c in ("geometry",) if c in sites])).to_dict("records"):
        row = {}
        for k, v in rounded_site({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}).items():
            row[k] = v
            if k == "kind":
                row["type"] = CANDIDATE_KIND_LABELS.get(str(v), "Autre")
        out.append(row)
    return out


def sites_csv(sites: pd.DataFrame) -> bytes:
    """The proposed sites as CSV (UTF-8 with BOM), coordinates rounded: lon/lat to 10⁻⁶ degree
    (≈ 0,1 m), Lambert-93 x/y to 0,1 m."""
    return pd.DataFrame(_site_records(sites)).to_csv(index=False).encode("utf-8-sig")


def sites_geojson(sites: pd.DataFrame) -> bytes:
    """The proposed sites as a GeoJSON FeatureCollection (WGS84, RFC 7946), rounded as in :func:`sites_csv`."""
    feats = []
    for rec in _site_records(sites):
        lon, lat = rec.pop("lon", None), rec.pop("lat", None)
        props = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}
        geom = {"type": "Point", "coordinates": [lon, lat]} if lon == lon and lat == lat and lon is not None else None
        feats.append({"type": "Feature", "geometry": geom, "properties": props})
    return json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False, allow_nan=False).encode("utf-8")


def scenario_sites(outcome: PlanOutcome) -> list[dict]:
    """The proposed sites as a saved scenario holds them (plain values, coordinates rounded)."""
    keep = ("candidate_id", "kind", "name", "x", "y", "lon", "lat", "code_commune", "rank", "marginal_gain", "newly_covered")
    return [{k: v for k, v in rec.items() if k in keep} for rec in _site_records(outcome.sites)]


# -- saved scenarios side by side --------------------------------------------------------------------


def french_datetime(iso: object) -> str:
    """« 30 nov. 2026, 6 h 01 » (heure de Paris) from a stored ISO 8601 time; « — » if unreadable."""
    try:
        when = datetime.fromisoformat(str(iso))
    except ValueError:
        return "—"
    if when.tzinfo is not None:
        try:
            from zoneinfo import ZoneInfo

            when = when.astimezone(ZoneInfo("Europe/Paris"))
        except (ImportError, KeyError, OSError):  # no time-zone database: the stored (UTC) time
            pass
    return f"{when.day} {MONTHS_FR[when.month - 1]} {when.year}, {when.hour} h {when.minute:02d}"


def _fr(v: float | None, decimals: int = 0) -> str:
    return "n.d." if v is None else format_fr(v, decimals)


def comparison_table(records: list[dict]) -> pd.DataFrame:
    """Saved scenarios side by side: one column per scenario, one row per figure, in French
    (numbers formatted, model labels, dates), text escaped for ``st.table`` (it renders Markdown)."""
    rows = comparison_rows(records)
    figures = {
        "Territoire": lambda r: escape_md(r["territory"] or "—", 80),
        "Modèle": lambda r: MODEL_SHORT.get(r["model"], "Modèle inconnu"),
        "Temps d'accès visé": lambda r: "n.d." if r["service_time"] is None else f"{format_fr(r['service_time'], 0)} min",
        "Nouveaux lieux": lambda r: format_fr(r["n_sites"], 0),
        "Personnes en besoin à portée avant": lambda r: _fr(r["covered_before"]),
        "Personnes en besoin à portée après": lambda r: _fr(r["covered_after"]),
        "Nouvellement à portée": lambda r: "n.d." if r["newly_covered"] is None else "+" + format_fr(r["newly_covered"], 0),
        "Besoin non couvert avant": lambda r: _fr(r["unmet_before"]),
        "Besoin non couvert après": lambda r: _fr(r["unmet_after"]),
        "Lieux proposés": lambda r: escape_md(" ; ".join(f"{k}. {s}" for k, s in enumerate(r["sites"], 1)) or "aucun", 600),
        "Enregistré le": lambda r: french_datetime(r["updated"]),
    }
    names = _unique([escape_md(r["name"] or "Sans nom", 80) for r in rows])
    table = pd.DataFrame({name: [fn(r) for fn in figures.values()] for name, r in zip(names, rows, strict=True)}, index=list(figures))
    table.index.name = "Scénario"
    return table


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (two scenarios may share a name): « Plan », « Plan (2) »."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _scenario_popup(row: pd.Series) -> Markup:
    return Markup("<b>{}</b><br>{}. {}<br>+{} personnes à portée").format(
        row["scenario_name"], row["rank"], row["name"], format_fr(row["newly_covered"], 0)
    )


def comparison_layers(records: list[dict]) -> list[PointLayer]:
    """One point layer per compared scenario (its chosen sites, a colour each, legend « Scénario
    « nom » »; names escaped in the legend and popups by :mod:`ui.folium_map`)."""
    pts = pd.DataFrame(site_points(records))
    layers = []
    for k, rec in enumerate(records):
        mine = pts[pts["scenario"] == k] if len(pts) else pts
        if not len(mine):
            continue
        gdf = gpd.GeoDataFrame(mine.reset_index(drop=True), geometry=gpd.points_from_xy(mine["lon"], mine["lat"]), crs="EPSG:4326")
        gdf["label"] = gdf["rank"].map(lambda r: f"{r}. " if r is not None and r == r else "") + gdf["name"].astype(str)
        name = shorten(rec.get("name") or "Sans nom", 40)
        layers.append(PointLayer(gdf, "label", f"Scénario « {name} »", SCENARIO_COLORS[k % len(SCENARIO_COLORS)], _scenario_popup, None, 8))
    return layers


def saved_list(saved: list[dict]) -> pd.DataFrame:
    """The saved scenarios as the page lists them: name, territory, model, French date."""
    df = pd.DataFrame(saved)
    return pd.DataFrame({
        "Nom": df["name"].map(shorten),
        "Territoire": df.get("territory", pd.Series([None] * len(df))).map(lambda t: shorten(t) if t else "—"),
        "Modèle": df.get("model", pd.Series([None] * len(df))).map(lambda m: MODEL_SHORT.get(m, "—")),
        "Mis à jour": df["updated"].map(french_datetime),
    })


# -- observed capacity -------------------------------------------------------------------------------


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


# -- the last plan in the link -----------------------------------------------------------------------

#: query keys of the plan (none of them is a key of the view, ``ui.state``)
PLAN_KEYS = ("plan", "plan_pts", "plan_edits")
MAX_LINK_POINTS = 20
MAX_LINK_EDITS = 50
MAX_EDITS_CHARS = 4000
#: area of use of Lambert-93 (metropolitan France), degrees: clicked points must fall inside
_LON, _LAT = (-9.86, 10.38), (41.15, 51.56)
#: the form's ranges (pages/implantation.py); the capacity may come from the observed rate
_RANGES = {"p": (1, 10), "time": (5, 30), "hours": (1.0, 70.0), "staff": (0.5, 10.0), "cap": (1.0, 100_000.0)}


@dataclass(frozen=True)
class PlanLink:
    """A plan's settings as the link carries them: ``plan=<model>-<p>-<minutes>-<method>-<hours>-
    <staff>-<capacity>-<qpv 1|0>-<capacity origin h|o>``, ``plan_pts=<lon>,<lat>;…`` (clicked
    candidates) and ``plan_edits=<JSON {"removed": [ids], "edited": [{"place_id", "weekly_hours",
    "staff"}]}>`` (what-if edits of places of the pack)."""

    model: str = "mclp"
    p: int = 3
    service_time: int = 15
    method: str = "exact"
    hours: float = 24.0
    staff: float = 1.0
    cap_people: float = 500.0
    qpv: bool = True
    observed: bool = False
    points: tuple[tuple[float, float], ...] = ()
    edits: dict = field(default_factory=lambda: {"added": [], "removed": [], "edited": []})

    def args(self) -> tuple:
        """The page's ``plan_args``: (model, p, minutes, method, hours, staff, capacity, points, qpv)."""
        return (self.model, self.p, float(self.service_time), self.method, self.hours, self.staff, self.cap_people, self.points, self.qpv)

    @classmethod
    def from_args(cls, args: tuple, edits: dict, observed: bool) -> PlanLink:
        """The link of the page's ``plan_args``, what-if ``edits`` and capacity origin."""
        model, p, minutes, method, hours, staff, cap, points, qpv = args
        edits = {"added": [], "removed": list(edits.get("removed") or []), "edited": list(edits.get("edited") or [])}
        return cls(model, int(p), int(minutes), method, float(hours), float(staff), float(cap), bool(qpv), observed, tuple(points), edits)


def staff_text(staff: float) -> str:
    """« 1 », « 1,5 » (a slider's French label)."""
    return format_fr(staff, 0 if float(staff).is_integer() else 1)


def nearest_staff(staff: float) -> float:
    """The slider's option nearest to ``staff`` (a link may carry any value from 0,5 to 10)."""
    return min(STAFF_OPTIONS, key=lambda option: abs(option - float(staff)))


def rounded_point(lon: float, lat: float) -> tuple[float, float]:
    """A clicked point as the plan and its link keep it (10⁻⁵ degree ≈ 1 m): the link is then
    lossless, and a reload finds the plan in the cache."""
    return (round(float(lon), 5), round(float(lat), 5))


def apply_link(link: PlanLink) -> None:
    """Make ``link`` the session's last plan and the form's values (a new session: a reload or a
    shared link)."""
    ss = st.session_state
    ss["plan_args"] = link.args()
    ss["plan_points"] = list(link.points)
    ss["plan_edits"] = json.loads(json.dumps(link.edits))
    ss["plan_capacity_used"] = (link.cap_people, "observée" if link.observed else "hypothèse")
    widgets = {"plan_model": link.model, "plan_p": link.p, "plan_time": link.service_time, "plan_method": link.method,
               "plan_hours": int(round(link.hours)), "plan_staff": nearest_staff(link.staff), "plan_qpv": link.qpv,
               "plan_cap_observed": link.observed}
    if not link.observed and 50 <= link.cap_people <= 5000 and link.cap_people.is_integer():
        widgets["plan_cap"] = int(link.cap_people)
    ss.update(widgets)


def sync_link(link: PlanLink) -> None:
    """Write ``link`` into the page's query parameters (the view's own keys are left alone)."""
    query = plan_to_query(link)
    for key in PLAN_KEYS:
        if key not in query and key in st.query_params:
            del st.query_params[key]
    for key, value in query.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def _num(raw: str, lo: float, hi: float, what: str, integer: bool = False) -> float:
    ok = raw.replace(".", "", 1).isdigit() and len(raw) <= 9
    v = float(raw) if ok else math.nan
    if not ok or not lo <= v <= hi or (integer and not v.is_integer()):
        raise ValueError(f"{what} : {'entier' if integer else 'nombre'} de {format_fr(lo, 0 if integer else 1)} à {format_fr(hi, 0 if integer else 1)} attendu, reçu {shorten(raw, 20)!r}")
    return int(v) if integer else v


def _parse_plan(raw: str) -> dict:
    parts = raw.split("-")
    if len(parts) != 9:
        raise ValueError("9 valeurs séparées par « - » attendues (modèle-p-minutes-résolution-heures-conseillers-capacité-qpv-origine)")
    model, p, minutes, method, hours, staff, cap, qpv, origin = parts
    if model not in MODEL_LABELS or method not in METHOD_LABELS or qpv not in ("0", "1") or origin not in ("h", "o"):
        raise ValueError(f"modèle, résolution, qpv ou origine inconnus dans {shorten(raw, 60)!r}")
    return {
        "model": model, "method": method, "qpv": qpv == "1", "observed": origin == "o",
        "p": _num(p, *_RANGES["p"], "p", integer=True), "service_time": _num(minutes, *_RANGES["time"], "minutes", integer=True),
        "hours": _num(hours, *_RANGES["hours"], "heures"), "staff": _num(staff, *_RANGES["staff"], "conseillers"),
        "cap_people": _num(cap, *_RANGES["cap"], "capacité"),
    }


def _parse_points(raw: str) -> tuple[tuple[float, float], ...]:
    pairs = [x for x in raw.split(";") if x]
    if len(pairs) > MAX_LINK_POINTS:
        raise ValueError(f"au plus {MAX_LINK_POINTS} points")
    out = []
    for pair in pairs:
        lon_s, _, lat_s = pair.partition(",")
        try:
            lon, lat = float(lon_s), float(lat_s)
        except ValueError:
            raise ValueError(f"point {shorten(pair, 40)!r} : longitude,latitude attendues") from None
        if not (_LON[0] <= lon <= _LON[1] and _LAT[0] <= lat <= _LAT[1]):
            raise ValueError(f"point {shorten(pair, 40)!r} hors de la France métropolitaine")
        out.append((lon, lat))
    return tuple(out)


def _parse_edits(raw: str, known_places: Set[str]) -> dict:
    # flat lists of flat objects only: refuse deep nesting before parsing
    if len(raw) > MAX_EDITS_CHARS or raw.count("[") > 2 or raw.count("{") > MAX_LINK_EDITS + 1:
        raise ValueError("objet JSON {\"removed\": […], \"edited\": […]} trop long ou trop imbriqué")
    doc = json.loads(raw)
    if not isinstance(doc, dict) or set(doc) - {"removed", "edited"}:
        raise ValueError("objet JSON avec « removed » et « edited » attendu")
    removed, edited = doc.get("removed", []), doc.get("edited", [])
    if not isinstance(removed, list) or not isinstance(edited, list) or len(removed) + len(edited) > MAX_LINK_EDITS:
        raise ValueError(f"au plus {MAX_LINK_EDITS} lieux modifiés ou fermés")
    unknown = [str(x) for x in removed if not isinstance(x, str) or x not in known_places]
    out_edited = []
    for e in edited:
        if not isinstance(e, dict) or set(e) - {"place_id", "weekly_hours", "staff"} or e.get("place_id") not in known_places:
            unknown.append(str(e.get("place_id") if isinstance(e, dict) else e))
            continue
        for key, hi in (("weekly_hours", 80.0), ("staff", 20.0)):
            v = e.get(key)
            if key in e and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= hi):
                raise ValueError(f"{key} : nombre de 0 à {format_fr(hi, 0)} attendu")
        out_edited.append({k: (float(v) if k != "place_id" else v) for k, v in e.items()})
    if unknown:
        raise ValueError(f"lieu(x) inconnu(s) : {shorten(', '.join(unknown), 80)}")
    return {"added": [], "removed": sorted(set(removed)), "edited": out_edited}


def plan_from_query(params: Mapping[str, str | list[str]], known_places: Set[str]) -> tuple[PlanLink | None, list[str]]:
    """The plan a link carries (None when it carries none or an invalid one) and the French
    notices for what was ignored, Markdown-safe (the values they quote are escaped)."""
    def raw(key: str) -> str:
        v = params.get(key, "")
        return str(v[-1] if isinstance(v, list) and v else v)[:MAX_EDITS_CHARS + 1]

    if "plan" not in params:
        return None, []
    notices = []
    try:
        values = _parse_plan(raw("plan"))
    except ValueError as exc:
        return None, [f"Paramètre « plan » ignoré : {escape_md(exc)}. Lancez le calcul à nouveau."]
    for key, parse in (("plan_pts", _parse_points), ("plan_edits", lambda r: _parse_edits(r, known_places))):
        if key not in params:
            continue
        try:
            values["points" if key == "plan_pts" else "edits"] = parse(raw(key))
        except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            notices.append(f"Paramètre « {key} » ignoré : {escape_md(exc)}.")
    return PlanLink(**values), notices


def _num_text(v: float) -> str:
    return f"{v:g}" if float(v).is_integer() or abs(v) >= 1e-4 else "0"


def plan_to_query(link: PlanLink) -> dict[str, str]:
    """The query parameters of :func:`plan_from_query` for ``link`` (empty lists left out)."""
    out = {"plan": "-".join([
        link.model, str(int(link.p)), str(int(link.service_time)), link.method, _num_text(link.hours),
        _num_text(link.staff), _num_text(round(link.cap_people)), "1" if link.qpv else "0", "o" if link.observed else "h",
    ])}
    if link.points:
        out["plan_pts"] = ";".join(f"{lon:.5f},{lat:.5f}" for lon, lat in link.points)
    removed, edited = link.edits.get("removed") or [], link.edits.get("edited") or []
    if removed or edited:
        out["plan_edits"] = json.dumps({"removed": list(removed), "edited": list(edited)}, separators=(",", ":"), ensure_ascii=False)
    return out
