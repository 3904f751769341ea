"""Supply: capacity of reception points, service and time-slot filters — METHOD.md §3 and §5.

Capacity (``mode="hours_staff"``): S_j = weekly opening hours × staff, in hours of support per week.
Hours come from ``weekly_hours`` (or ``hours_json``); where unknown, the default of the place type
in rates.toml [supply.default_weekly_hours] is used (flag "default_hours"). Staff comes from
``staff``; where unknown, [supply.default_staff] of the type, else of "autre" (flag
"default_staff"). A staff of 0 (no post recorded) counts as unknown. A France Services' ``staff``
holds only its conseiller numérique posts (0,07–1,25): its staff is the charter's agents
([supply] france_services_agents, 2) **plus** those posts (flag "charter_staff"), never the posts alone. ``mode="count"`` gives the plain count
S_j = 1 per place (the fallback).

``hours_json`` (SCHEMA.md): ``{"mo": [[540, 720], [810, 1020]], ...}`` — minutes since midnight per
day (mo tu we th fr sa su), intervals [start, end) with 0 ≤ start < end ≤ 1440; null = unknown.
Time slots: ``evening`` = open after 18:00 on a weekday (an interval on mo–fr ending after 1080);
``saturday`` = any interval on sa.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from .need import load_rates

DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
WEEKDAYS = ("mo", "tu", "we", "th", "fr")
EVENING_MIN = 18 * 60


def parse_hours(value) -> dict[str, list[tuple[int, int]]] | None:
    """Parse one ``hours_json`` value (str or dict) → {day: [(start, end), ...]}; None if unknown.

    Raises ValueError naming the problem for a malformed value (unknown day, interval not
    [start, end] minutes with 0 ≤ start < end ≤ 1440).
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str):
        if not value.strip() or value.strip() == "null":
            return None
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"hours_json is not valid JSON ({exc}); expected {{\"mo\": [[540, 720]], ...}}") from None
        if value is None:
            return None
    if not isinstance(value, dict):
        raise ValueError(f"hours_json must be an object of days, got {type(value).__name__}")
    out: dict[str, list[tuple[int, int]]] = {}
    for day, intervals in value.items():
        if day not in DAYS:
            raise ValueError(f"hours_json has unknown day {day!r}; expected one of {DAYS}")
        if not isinstance(intervals, list):
            raise ValueError(f"hours_json[{day!r}] must be a list of [start, end] pairs")
        parsed = []
        for iv in intervals:
            if not (isinstance(iv, (list, tuple)) and len(iv) == 2):
                raise ValueError(f"hours_json[{day!r}] interval {iv!r} is not a [start, end] pair")
            a, b = float(iv[0]), float(iv[1])
            if not (0 <= a < b <= 1440):
                raise ValueError(f"hours_json[{day!r}] interval {iv!r}: expected minutes 0 ≤ start < end ≤ 1440")
            parsed.append((int(a), int(b)))
        out[day] = sorted(parsed)
    return out


def weekly_hours(hours: dict | None) -> float:
    """Hours open per week (overlapping intervals of a day are merged); NaN if unknown."""
    if hours is None:
        return np.nan
    total = 0
    for intervals in hours.values():
        end = -1
        for a, b in sorted(intervals):
            a = max(a, end)
            if b > a:
                total += b - a
            end = max(end, b)
    return total / 60.0


def slot_hours(hours: dict | None, slot: str) -> float:
    """Hours open per week within the slot (evening: weekday minutes after 18:00; saturday: sa)."""
    if hours is None:
        return np.nan
    if slot == "evening":
        clipped = {d: [(max(a, EVENING_MIN), b) for a, b in hours.get(d, []) if b > EVENING_MIN] for d in WEEKDAYS}
        return weekly_hours(clipped)
    if slot == "saturday":
        return weekly_hours({"sa": hours.get("sa", [])})
    raise ValueError(f"unknown time slot {slot!r}; expected 'evening' or 'saturday'")


def open_in_slot(hours: dict | None, slot: str):
    """True/False if the place is open in the slot, pd.NA if its hours are unknown."""
    if hours is None:
        return pd.NA
    return bool(slot_hours(hours, slot) > 0)


def _safe_parse(value):
    try:
        return parse_hours(value), False
    except ValueError:
        return None, True


def capacity(places: pd.DataFrame, mode: str = "hours_staff", rates: dict | None = None) -> pd.DataFrame:
    """Capacity S_j per place: columns ``capacity``, ``hours_used``, ``staff_used``, ``capacity_source``.

    ``capacity_source`` is "<hours>+<staff>" with hours "hours×" (known) or "default_hours+" and
    staff "staff" (known), "default_staff" or "charter_staff" (France Services), or "count".
    A malformed ``hours_json`` counts as unknown hours.
    """
    n = len(places)
    if mode == "count":
        return pd.DataFrame({"capacity": np.ones(n), "hours_used": np.nan, "staff_used": np.nan,
                             "capacity_source": "count"}, index=places.index)
    if mode != "hours_staff":
        raise ValueError(f"unknown capacity mode {mode!r}; expected 'hours_staff' or 'count'")
    rates = rates or load_rates()
    dh = rates["supply"]["default_weekly_hours"]
    ds = rates["supply"]["default_staff"]
    types = places["type"].astype("object").fillna("autre").to_numpy() if "type" in places else np.full(n, "autre", dtype=object)
    if "weekly_hours" in places:
        hours = pd.to_numeric(places["weekly_hours"], errors="coerce").to_numpy(float, na_value=np.nan)
    elif "hours_json" in places:
        hours = np.array([weekly_hours(_safe_parse(v)[0]) for v in places["hours_json"]], dtype=float)
    else:
        hours = np.full(n, np.nan)
    staff = (pd.to_numeric(places["staff"], errors="coerce").to_numpy(float, na_value=np.nan)
             if "staff" in places else np.full(n, np.nan))
    if np.any(hours < 0) or np.any(staff < 0):
        raise ValueError("places have negative weekly_hours or staff; expected values ≥ 0 (NaN if unknown)")
    h_default = np.array([float(dh.get(t, dh["autre"])) for t in types])
    s_default = np.array([float(ds.get(t, ds.get("autre", 1.0))) for t in types])
    no_h = ~np.isfinite(hours)
    no_s = ~np.isfinite(staff) | (staff == 0)
    h = np.where(no_h, h_default, hours)
    s = np.where(no_s, s_default, staff)
    fs = types == "france_services"
    agents = float(rates["supply"].get("france_services_agents", ds.get("france_services", 2.0)))
    s = np.where(fs, agents + np.where(no_s, 0.0, np.nan_to_num(staff)), s)
    staff_flag = np.where(fs, "charter_staff", np.where(no_s, "default_staff", "staff"))
    source = np.where(no_h, np.char.add("default_hours+", staff_flag.astype(str)), np.char.add("hours×", staff_flag.astype(str)))
    return pd.DataFrame({"capacity": h * s, "hours_used": h, "staff_used": s,
                         "capacity_source": source}, index=places.index)


def has_service(services: pd.Series, service: str) -> np.ndarray:
    """True where the ``;``-joined ``services`` list contains `service` (missing list → False)."""
    pattern = rf"(?:^|;)\s*{re.escape(service)}\s*(?:;|$)"
    return services.astype("string").str.contains(pattern, regex=True).fillna(False).to_numpy(bool)


def slot_mask(places: pd.DataFrame, slot: str) -> pd.Series:
    """Open in the slot per place (boolean with NA for unknown), from open_evening / open_saturday
    when present, else from hours_json."""
    col = {"evening": "open_evening", "saturday": "open_saturday"}.get(slot)
    if col is None:
        raise ValueError(f"unknown time slot {slot!r}; expected 'evening' or 'saturday'")
    if col in places:
        return places[col].astype("boolean")
    if "hours_json" in places:
        return pd.Series([open_in_slot(_safe_parse(v)[0], slot) for v in places["hours_json"]],
                         index=places.index, dtype="boolean")
    return pd.Series(pd.NA, index=places.index, dtype="boolean")


def select_places(places: pd.DataFrame, service: str | None = None, time_slot: str | None = None,
                  digital_help_only: bool = True) -> tuple[pd.DataFrame, dict]:
    """Places kept for the supply, and a report of how many each filter removed.

    - ``digital_help_only``: keep ``offers_digital_help`` True (reception points), when the column
      exists (unknown = not kept: the one rule for the access indicator and for planning);
    - itinerant places (``mobile`` True, e.g. bus France Services) are never kept: their address is
      the operator's, not where people are received (counted in ``removed_mobile``);
    - ``service``: keep places whose ``services`` list contains it (missing list = not kept);
    - ``time_slot``: keep places open in the slot; unknown hours are not kept (counted apart).
    """
    keep = np.ones(len(places), dtype=bool)
    report = {"places_in": int(len(places))}
    if "mobile" in places:
        m = places["mobile"].astype("boolean").fillna(False).to_numpy(bool)
        report["removed_mobile"] = int(m.sum())
        keep &= ~m
    if digital_help_only and "offers_digital_help" in places:
        m = places["offers_digital_help"].astype("boolean").fillna(False).to_numpy(bool)
        report["removed_not_digital_help"] = int((keep & ~m).sum())
        keep &= m
    if service is not None:
        if "services" not in places:
            raise ValueError("places table has no 'services' column; cannot filter by service")
        m = has_service(places["services"], service)
        report["removed_service"] = int((keep & ~m).sum())
        keep &= m
    if time_slot is not None:
        om = slot_mask(places, time_slot)
        unknown = om.isna().to_numpy()
        m = om.fillna(False).to_numpy(bool)
        report["removed_slot_closed"] = int((keep & ~m & ~unknown).sum())
        report["removed_slot_unknown_hours"] = int((keep & unknown).sum())
        keep &= m
    report["places_kept"] = int(keep.sum())
    return places[keep], report


__all__ = [
    "DAYS", "parse_hours", "weekly_hours", "slot_hours", "open_in_slot", "capacity", "slot_mask", "has_service",
    "select_places",
]
