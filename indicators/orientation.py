"""Orientation of one person to the right reception point, now — issue #12. Pure logic: no Streamlit, no I/O.

A social worker gives where the person lives (a point in Lambert-93, m), what they need (service
categories of the pack) and when / how they can come. :func:`orient` returns the places that
meet every criterion, nearest first, with why there are none and what would give some.

**Eligible places** (:meth:`PlaceIndex.from_places`)
    - reception points as the supply counts them: :func:`indicators.supply.select_places`
      (``offers_digital_help`` True, itinerant places — buses, whose address is the operator's — out);
    - public libraries that are not reception points (``type == "bibliotheque"``,
      ``offers_digital_help`` False, not itinerant) only when the need includes ``equipement``
      (free access to a computer and the internet): they give access, not help with procedures;
    - a place whose hours are known and open 0 h a week is out (closed every day); a place whose
      hours are unknown stays in while no day or slot is asked, and is counted apart when one is.

**Services**: a place matches when its ``services`` list holds *every* service asked (the person
needs all of them at one place); a place without a published list never matches a service.

**Time slots** (minutes since midnight, windows [start, end)): ``morning`` (« matin ») 08:00–12:00,
``afternoon`` (« après-midi ») 12:00–18:00, ``evening`` (« soir », « après 17 h ») 17:00–24:00.
A place is open in slot s on day d when one of its intervals [a, b) of d overlaps the window by
at least :data:`MIN_OVERLAP_MIN` (30 min): min(b, end) − max(a, start) ≥ 30, the time of a short
visit. No slot = the whole day (00:00–24:00, same 30 min rule); no day = at least one day of the
week. Note: the supply's « evening » filter (indicators.supply) is stricter (after 18:00).

**Travel time** (as the access indicator, METHOD.md §4): t = d × detour ÷ v, with d the straight
line (Lambert-93 m), detour and v (walk or car, km/h) from rates.toml [travel]; public transport
is not modelled. Candidates within reach are found with a cKDTree ball query of radius
r = t_max × v ÷ detour (``indicators.access.straight_line_pairs`` does the same); a place at
exactly t_max is in (≤).

**Freshness** of a place's ``updated`` date (rule of the national « Mon Inclusion Numérique »
dashboard, as quoted in issue #12): age in whole calendar months against ``today``;
< 6 → ``fresh`` (« à jour »), 6–11 → ``watch`` (« à surveiller »), 12–17 → ``check``
(« à vérifier »), ≥ 18 or unknown → ``stale`` (« à actualiser »). A date published as a year or
a month only (``2020``, ``2021-05``) counts from the *last* day of that period, so the age is
never overstated; a date after ``today`` is an error in the data and counts as unknown.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .need import load_rates
from .supply import DAYS, has_service, select_places

logger = logging.getLogger(__name__)

SERVICES = ("demarches", "competences_base", "equipement", "autres")
#: slot → window [start, end) in minutes since midnight
SLOT_WINDOWS_MIN = {"morning": (480, 720), "afternoon": (720, 1080), "evening": (1020, 1440)}
SLOTS = tuple(SLOT_WINDOWS_MIN)
WHOLE_DAY_MIN = (0, 1440)
#: an interval must overlap the slot's window by at least this many minutes
MIN_OVERLAP_MIN = 30
MODES = ("walk", "car")
#: freshness classes: (key, upper bound of the age in months, exclusive); beyond → "stale"
FRESHNESS_BOUNDS_MONTHS = (("fresh", 6), ("watch", 12), ("check", 18))
FRESHNESS_KEYS = ("fresh", "watch", "check", "stale")
STALE_MONTHS = 18
#: the wider reaches offered when too few places match (minutes)
REACH_STEPS_MIN = (15.0, 20.0, 30.0, 45.0, 60.0, 90.0)
#: below this many matches, the relaxations are offered (the fiche shows 3 places)
MIN_MATCHES = 3
LIBRARY_TYPE = "bibliotheque"
_WINDOWS = (*SLOTS, "day")  # columns of PlaceIndex.open_cube


class OrientationError(ValueError):
    """An argument of the orientation is not what it should be (the message says what was expected)."""


# ----------------------------------------------------------------------------------------------
# Freshness
# ----------------------------------------------------------------------------------------------


def parse_updated(value) -> date | None:
    """The date a source published for a place, as a :class:`date` (None if missing or unreadable).

    ``YYYY-MM-DD`` (a time after it is ignored) → that day; ``YYYY-MM`` → the last day of the month;
    ``YYYY`` → 31 December (a partial date counts from the end of its period).
    """
    if value is None or (not isinstance(value, (str, date)) and pd.isna(value)):
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            return date(int(text), 12, 31)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            y, m = int(text[:4]), int(text[5:7])
            return date(y, m, calendar.monthrange(y, m)[1])
        if re.match(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text[:10])
    except ValueError:
        return None
    return None


def age_months(updated, today: date) -> float:
    """Whole calendar months from ``updated`` to ``today`` (NaN if unknown or after ``today``).

    A month is complete on the same day of a later month, or on that month's last day when it is
    shorter: 2026-05-30 → 2026-11-29: 5, → 2026-11-30: 6; 2026-05-31 → 2026-11-30: 6.
    """
    d = parse_updated(updated)
    if d is None or d > today:
        return np.nan
    months = (today.year - d.year) * 12 + (today.month - d.month)
    anniversary = min(d.day, calendar.monthrange(today.year, today.month)[1])
    if today.day < anniversary:  # the last month is not complete yet
        months -= 1
    return float(months)


def freshness_key(age: float) -> str:
    """Freshness class of an age in months (:data:`FRESHNESS_BOUNDS_MONTHS`); NaN → ``stale``."""
    if age is None or not np.isfinite(age):
        return "stale"
    for key, bound in FRESHNESS_BOUNDS_MONTHS:
        if age < bound:
            return key
    return "stale"


def freshness(updated, today: date) -> str:
    """Freshness class of one ``updated`` value against ``today`` (see the module docstring)."""
    return freshness_key(age_months(updated, today))


def stale_share(places: pd.DataFrame, today: date, months: int = STALE_MONTHS) -> float:
    """Share (0–1) of ``places`` whose ``updated`` date is ``months`` or more months old, or unknown.

    For the Diagnostic (« part des lieux dont la fiche date de 18 mois ou plus »). An empty table
    gives NaN. Raises :class:`OrientationError` without an ``updated`` column or with months ≤ 0.
    """
    if "updated" not in places:
        raise OrientationError(f"places has no 'updated' column (columns: {list(places.columns)[:10]}); expected the pack's places")
    if not months > 0:
        raise OrientationError(f"months must be > 0, got {months}")
    if len(places) == 0:
        return float("nan")
    ages = np.array([age_months(v, today) for v in places["updated"]], dtype=float)
    stale = ~np.isfinite(ages) | (ages >= months)
    return float(stale.mean())


# ----------------------------------------------------------------------------------------------
# Opening hours
# ----------------------------------------------------------------------------------------------


def read_hours(value) -> dict | None:
    """``hours_json`` → {day: [[a, b], …]}; None if unknown or unreadable (counted as unknown)."""
    if value is None or (not isinstance(value, (str, dict)) and pd.isna(value)):
        return None
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def window_for(slot: str | None) -> tuple[int, int]:
    """The window [start, end) of a slot in minutes; None → the whole day."""
    if slot is None:
        return WHOLE_DAY_MIN
    if slot not in SLOT_WINDOWS_MIN:
        raise OrientationError(f"unknown slot {slot!r}; expected one of {SLOTS} or None")
    return SLOT_WINDOWS_MIN[slot]


def matching_intervals(hours: dict | None, day: str, slot: str | None) -> list[tuple[int, int]]:
    """Intervals of ``day`` that overlap the slot's window by at least :data:`MIN_OVERLAP_MIN`."""
    if not hours:
        return []
    start, end = window_for(slot)
    out = []
    for iv in hours.get(day) or []:
        a, b = int(iv[0]), int(iv[1])
        if min(b, end) - max(a, start) >= MIN_OVERLAP_MIN:
            out.append((a, b))
    return out


def open_cube(hours_json: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(open, known): ``open[i, d, w]`` True when place i is open on day d (mo…su) in window w
    (morning, afternoon, evening, whole day) by the 30-minute rule; ``known[i]`` False where the
    hours are unknown (then ``open`` is False everywhere)."""
    n = len(hours_json)
    cube = np.zeros((n, len(DAYS), len(_WINDOWS)), dtype=bool)
    known = np.zeros(n, dtype=bool)
    for i, value in enumerate(hours_json.to_numpy(dtype=object)):
        hours = read_hours(value)
        if hours is None:
            continue
        known[i] = True
        for d, day in enumerate(DAYS):
            for w, slot in enumerate(_WINDOWS):
                cube[i, d, w] = bool(matching_intervals(hours, day, None if slot == "day" else slot))
    return cube, known


# ----------------------------------------------------------------------------------------------
# The request and the prepared places
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """What the person needs and can do: services (all required), day (mo…su or None = any),
    slot (morning / afternoon / evening or None = any time), travel mode, longest travel (min)."""

    services: tuple[str, ...] = ()
    day: str | None = None
    slot: str | None = None
    mode: str = "walk"
    max_minutes: float = 30.0

    def __post_init__(self) -> None:
        bad = [s for s in self.services if s not in SERVICES]
        if bad:
            raise OrientationError(f"unknown services {bad}; expected some of {SERVICES}")
        if self.day is not None and self.day not in DAYS:
            raise OrientationError(f"unknown day {self.day!r}; expected one of {DAYS} or None")
        window_for(self.slot)
        if self.mode not in MODES:
            raise OrientationError(f"unknown travel mode {self.mode!r}; expected one of {MODES}")
        if not (np.isfinite(self.max_minutes) and self.max_minutes > 0):
            raise OrientationError(f"max_minutes must be a positive number of minutes, got {self.max_minutes}")
        object.__setattr__(self, "services", tuple(dict.fromkeys(self.services)))

    def with_(self, **changes) -> Need:
        return replace(self, **changes)


@dataclass(frozen=True)
class PlaceIndex:
    """The eligible places prepared once (parsed hours, services, freshness, KD-tree).

    Build it with :meth:`from_places`; ``places`` keeps the original columns (index reset),
    the arrays are aligned with its rows.
    """

    places: pd.DataFrame
    xy: np.ndarray
    tree: cKDTree
    services: np.ndarray  # (n, len(SERVICES)) bool
    services_known: np.ndarray  # (n,) bool: a services list is published
    open: np.ndarray  # (n, 7, 4) bool, see open_cube
    hours_known: np.ndarray  # (n,) bool
    library: np.ndarray  # (n,) bool: shown only when the need includes equipement
    age_months: np.ndarray  # (n,) float, NaN unknown
    freshness: np.ndarray  # (n,) str keys
    report: dict = field(default_factory=dict)

    @classmethod
    def from_places(cls, places: pd.DataFrame, *, today: date) -> PlaceIndex:
        """Keep the eligible places (module docstring) and prepare their arrays.

        ``report`` counts what was left out: itinerant places, places that are neither reception
        points nor libraries, places closed every day, places without coordinates.
        """
        _check_places(places)
        places = pd.DataFrame(places.drop(columns=[c for c in ("geometry",) if c in places])).reset_index(drop=True)
        reception, rep = select_places(places, digital_help_only=True)
        others, _ = select_places(places, digital_help_only=False)
        libs = others[(others["type"].astype("string") == LIBRARY_TYPE) & ~others.index.isin(reception.index)]
        kept = pd.concat([reception, libs]).copy()
        kept["_library"] = kept.index.isin(libs.index)
        cube, known = open_cube(kept["hours_json"] if "hours_json" in kept else pd.Series(None, index=kept.index))
        closed = known & ~cube[:, :, -1].any(axis=1)
        xy = kept[["x", "y"]].to_numpy(float)
        located = np.isfinite(xy).all(axis=1)
        keep = ~closed & located
        report = {"places_in": int(len(places)), "removed_mobile": rep.get("removed_mobile", 0),
                  "removed_not_reception": int(len(places) - rep.get("removed_mobile", 0) - len(kept)),
                  "removed_closed_every_day": int((closed & located).sum()), "removed_no_coordinates": int((~located).sum())}
        kept = kept[keep].reset_index(drop=True)
        ages = np.array([age_months(v, today) for v in kept["updated"]], dtype=float) if "updated" in kept else np.full(len(kept), np.nan)
        services = np.column_stack([has_service(kept["services"], s) for s in SERVICES]) if len(kept) else np.zeros((0, len(SERVICES)), bool)
        report["places_kept"] = int(len(kept))
        logger.debug("orientation: %(places_kept)d of %(places_in)d places kept", report)
        return cls(
            places=kept.drop(columns="_library"), xy=xy[keep], tree=cKDTree(xy[keep] if keep.any() else np.zeros((0, 2))),
            services=services, services_known=kept["services"].notna().to_numpy(bool), open=cube[keep], hours_known=known[keep], library=kept["_library"].to_numpy(bool),
            age_months=ages, freshness=np.array([freshness_key(a) for a in ages], dtype=object), report=report,
        )

    def __len__(self) -> int:
        return len(self.places)


def _check_places(places: pd.DataFrame) -> None:
    missing = [c for c in ("x", "y", "type", "services") if c not in places]
    if missing:
        raise OrientationError(f"places lacks columns {missing}; expected the pack's places table (SCHEMA.md)")


# ----------------------------------------------------------------------------------------------
# Orienting
# ----------------------------------------------------------------------------------------------


def speed_kmh(mode: str, rates: dict | None = None) -> float:
    """Speed of a travel mode, km/h, from rates.toml [travel] (walk_kmh, car_kmh)."""
    if mode not in MODES:
        raise OrientationError(f"unknown travel mode {mode!r}; expected one of {MODES}")
    return float((rates or load_rates())["travel"][f"{mode}_kmh"])


def travel_minutes(distance_m, mode: str, rates: dict | None = None) -> np.ndarray:
    """t = d × detour ÷ v in minutes (d straight line in m, v in km/h; rates.toml [travel])."""
    rates = rates or load_rates()
    detour = float(rates["travel"]["detour"])
    return np.asarray(distance_m, dtype=float) * detour / (speed_kmh(mode, rates) * 1000.0 / 60.0)


@dataclass(frozen=True)
class Funnel:
    """Why places drop out, among the eligible places within reach (counts of places)."""

    within_reach: int  # eligible places within max_minutes (libraries only if equipement is asked)
    with_services: int  # … that offer every service asked
    services_unknown: int  # … within reach without a published services list (when services are asked)
    open_then: int  # … with the services and open on the day / in the slot asked
    hours_unknown: int  # … with the services whose hours are unknown (when a day or slot is asked)


@dataclass(frozen=True)
class Relaxation:
    """A nearby change of the need (``kind``: slot, day, reach, mode, service) and what it gives."""

    kind: str
    need: Need
    count: int
    nearest_minutes: float


@dataclass(frozen=True)
class Orientation:
    """The answer: ``matches`` (eligible places meeting every criterion, nearest first, with
    ``distance_m``, ``minutes``, ``age_months``, ``freshness``), the funnel, the relaxations
    (offered when fewer than :data:`MIN_MATCHES` places match)."""

    need: Need
    matches: pd.DataFrame
    funnel: Funnel
    relaxations: tuple[Relaxation, ...] = ()


def _masks(index: PlaceIndex, need: Need) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(allowed, services_ok, open_ok) per place of the index for ``need`` (reach not applied)."""
    allowed = ~index.library | ("equipement" in need.services)
    cols = [SERVICES.index(s) for s in need.services]
    services_ok = index.services[:, cols].all(axis=1) if cols else np.ones(len(index), bool)
    if need.day is None and need.slot is None:
        open_ok = np.ones(len(index), bool)  # closed-every-day places are already out; unknown hours stay
    else:
        w = _WINDOWS.index(need.slot) if need.slot is not None else len(_WINDOWS) - 1
        per_day = index.open[:, :, w]
        open_ok = per_day[:, DAYS.index(need.day)] if need.day is not None else per_day.any(axis=1)
    return allowed, services_ok, open_ok


def _reach(index: PlaceIndex, x: float, y: float, max_minutes: float, mode: str, rates: dict) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, minutes) of the places within ``max_minutes``, nearest first (ties by row)."""
    radius = max_minutes * speed_kmh(mode, rates) * 1000.0 / 60.0 / float(rates["travel"]["detour"])
    idx = np.asarray(index.tree.query_ball_point([x, y], r=radius * (1 + 1e-9)), dtype=np.intp)
    minutes = travel_minutes(np.hypot(index.xy[idx, 0] - x, index.xy[idx, 1] - y), mode, rates)
    inside = minutes <= max_minutes + 1e-9
    idx, minutes = idx[inside], minutes[inside]
    order = np.lexsort((idx, minutes))
    return idx[order], minutes[order]


def count_matches(index: PlaceIndex, x: float, y: float, need: Need, *, rates: dict | None = None) -> tuple[int, float]:
    """(number of places meeting ``need`` from (x, y), travel time of the nearest or NaN)."""
    rates = rates or load_rates()
    idx, minutes = _reach(index, x, y, need.max_minutes, need.mode, rates)
    allowed, services_ok, open_ok = _masks(index, need)
    ok = (allowed & services_ok & open_ok)[idx]
    return int(ok.sum()), float(minutes[ok][0]) if ok.any() else float("nan")


def orient(index: PlaceIndex, x: float, y: float, need: Need, *, rates: dict | None = None,
           relax: bool = True) -> Orientation:
    """Places meeting ``need`` from the origin (x, y) (Lambert-93 m), nearest first.

    The funnel counts, within reach, the eligible places, those with the services, those also
    open then. With fewer than :data:`MIN_MATCHES` matches and ``relax``, :func:`relaxations`.
    """
    if not (np.isfinite(x) and np.isfinite(y)):
        raise OrientationError(f"origin must be finite Lambert-93 coordinates, got ({x}, {y})")
    rates = rates or load_rates()
    idx, minutes = _reach(index, x, y, need.max_minutes, need.mode, rates)
    allowed, services_ok, open_ok = _masks(index, need)
    a, s, o = allowed[idx], services_ok[idx], open_ok[idx]
    asked_time = need.day is not None or need.slot is not None
    funnel = Funnel(
        within_reach=int(a.sum()),
        with_services=int((a & s).sum()),
        services_unknown=int((a & ~index.services_known[idx]).sum()) if need.services else 0,
        open_then=int((a & s & o).sum()),
        hours_unknown=int((a & s & ~index.hours_known[idx]).sum()) if asked_time else 0,
    )
    ok = a & s & o
    rows = idx[ok]
    matches = index.places.iloc[rows].copy()
    matches["distance_m"] = np.hypot(index.xy[rows, 0] - x, index.xy[rows, 1] - y)
    matches["minutes"] = minutes[ok]
    matches["age_months"] = index.age_months[rows]
    matches["freshness"] = index.freshness[rows]
    matches["rank"] = np.arange(1, len(rows) + 1)
    relaxed = relaxations(index, x, y, need, rates=rates) if relax and len(rows) < MIN_MATCHES else ()
    return Orientation(need, matches.reset_index(drop=True), funnel, relaxed)


def listing(index: PlaceIndex, need: Need, *, rows: np.ndarray | None = None, origin: tuple[float, float] | None = None,
            libraries: bool = True, rates: dict | None = None) -> pd.DataFrame:
    """The places of ``rows`` (positions in ``index``; None = all) that meet the services, day and
    slot of ``need``, with no limit of travel time — the list of a territory's places.

    ``libraries`` True keeps the libraries whatever the need (a directory shows them all); with
    ``origin``, ``distance_m`` and ``minutes`` (``need.mode``) are added, else they are NaN.
    """
    allowed, services_ok, open_ok = _masks(index, need)
    if libraries:
        allowed = np.ones(len(index), bool)
    ok = allowed & services_ok & open_ok
    pos = np.arange(len(index)) if rows is None else np.asarray(rows, dtype=np.intp)
    pos = pos[ok[pos]]
    out = index.places.iloc[pos].copy()
    if origin is not None:
        dist = np.hypot(index.xy[pos, 0] - origin[0], index.xy[pos, 1] - origin[1])
        out["distance_m"], out["minutes"] = dist, travel_minutes(dist, need.mode, rates or load_rates())
    else:
        out["distance_m"], out["minutes"] = np.nan, np.nan
    out["age_months"] = index.age_months[pos]
    out["freshness"] = index.freshness[pos]
    return out.reset_index(drop=True)


def _candidate_needs(need: Need) -> list[tuple[str, Need]]:
    """The nearest changes of ``need``, in the order they are offered (see :func:`relaxations`)."""
    out: list[tuple[str, Need]] = []
    if need.slot is not None:
        out += [("slot", need.with_(slot=s)) for s in SLOTS if s != need.slot]
    if need.day is not None:
        start = DAYS.index(need.day)
        out += [("day", need.with_(day=DAYS[(start + k) % 7])) for k in range(1, 7)]
    if need.day is not None and need.slot is not None:
        out.append(("day", need.with_(day=None)))
        out.append(("slot", need.with_(slot=None)))
    wider = [m for m in REACH_STEPS_MIN if m > need.max_minutes]
    out += [("reach", need.with_(max_minutes=m)) for m in wider]
    if need.mode == "walk":
        out.append(("mode", need.with_(mode="car")))
    out += [("service", need.with_(services=tuple(x for x in need.services if x != s))) for s in need.services]
    return out


def relaxations(index: PlaceIndex, x: float, y: float, need: Need, *, rates: dict | None = None,
                per_kind: int = 2) -> tuple[Relaxation, ...]:
    """The nearest relaxations of ``need`` that give more places than it, with their counts.

    Tried in this order, one criterion changed at a time: another slot the same day; the same
    slot another day (from the next day on); any day / any time; a longer reach
    (:data:`REACH_STEPS_MIN`); the car instead of walking; one service fewer. Kept: those that
    give more places than ``need``, at most ``per_kind`` per kind (the first ones in that order,
    so the reach offered is the smallest that helps; a longer reach is offered only when it gives
    more than the shorter one already offered).
    """
    rates = rates or load_rates()
    base, _ = count_matches(index, x, y, need, rates=rates)
    kept: list[Relaxation] = []
    per: dict[str, int] = {}
    best_reach = base
    for kind, candidate in _candidate_needs(need):
        if per.get(kind, 0) >= per_kind:
            continue
        n, nearest = count_matches(index, x, y, candidate, rates=rates)
        if n > (best_reach if kind == "reach" else base):
            kept.append(Relaxation(kind, candidate, n, nearest))
            per[kind] = per.get(kind, 0) + 1
            best_reach = n if kind == "reach" else best_reach
    return tuple(kept)


# ----------------------------------------------------------------------------------------------
# Contacts
# ----------------------------------------------------------------------------------------------

_PHONE_SPLIT = re.compile(r"\s*(?:/|;|,|\bou\b)\s*")


def normalise_phone(raw) -> str:
    """A French phone number as « 04 76 20 63 00 »; several numbers joined by « / »; '' if missing.

    ``+33 4 76…`` / ``0033…`` → ``04 76…``; nine digits not starting with 0 (a leading 0 lost in a
    spreadsheet: ``476401048``) → ``04 76 40 10 48``; anything else is returned stripped, as published.
    """
    if raw is None or (not isinstance(raw, str) and pd.isna(raw)):
        return ""
    out = []
    for part in _PHONE_SPLIT.split(str(raw).strip().strip("'\"")):
        digits = re.sub(r"\D", "", part)
        if part.strip().startswith("+33") or digits.startswith("0033"):
            digits = "0" + digits[(2 if part.strip().startswith("+") else 4):]
        if len(digits) == 9 and digits[0] != "0":
            digits = "0" + digits
        if len(digits) == 10 and digits[0] == "0":
            out.append(" ".join(digits[i : i + 2] for i in range(0, 10, 2)))
        elif part.strip():
            out.append(part.strip().strip("'\""))
    return " / ".join(out)


__all__ = [
    "SERVICES", "SLOTS", "SLOT_WINDOWS_MIN", "MIN_OVERLAP_MIN", "MODES", "FRESHNESS_BOUNDS_MONTHS", "FRESHNESS_KEYS",
    "STALE_MONTHS", "REACH_STEPS_MIN", "MIN_MATCHES", "OrientationError", "parse_updated", "age_months", "freshness_key",
    "freshness", "stale_share", "read_hours", "window_for", "matching_intervals", "open_cube", "Need", "PlaceIndex", "speed_kmh",
    "travel_minutes", "Funnel", "Relaxation", "Orientation", "count_matches", "orient", "listing", "relaxations", "normalise_phone",
]
