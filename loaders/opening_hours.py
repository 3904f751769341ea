"""Opening hours as published → weekly slots in minutes, and the figures derived from them.

The one internal format is a dict ``{"mo": [(540, 720), (810, 1020)], "tu": [], …, "su": []}``:
for each day ``mo`` … ``su`` the list of open slots ``(start, end)`` in minutes since midnight,
sorted, non-overlapping, with ``0 <= start < end <= 1440`` (an empty list = closed that day).
A whole week is either such a dict or ``None`` (unknown) — never a week of zeros by default.

Published formats handled (pure functions, no I/O):

- :func:`parse_day` — one day of free text as typed into the France Services list and the Hinaura
  hub: ``"09:00 - 12:00 / 13:30 - 17:00"``, ``"9h à 12h et 14h à 17h"``, ``"9h-12h, 14h-17h30"``,
  ``"8h30/12h30 - 13h30/17h"``, ``"de 9h à 12h"``, ``"Fermé"`` (→ ``[]``), ``""`` / ``"sur
  rendez-vous"`` / ``"une semaine sur deux"`` (→ ``None``: unknown or irregular, not closed).
- :func:`parse_osm` — OpenStreetMap ``opening_hours`` strings as used by the national
  "lieux de médiation numérique" schema (data·inclusion, CnFS): ``"Mo-Fr 09:00-12:00,14:00-17:00;
  Sa 09:00-12:00"``, ``"Tu,Th 14:00-18:00"``, ``"We off"``, ``"PH off"``; anything it cannot read
  exactly (week numbers, months, free text…) gives ``None`` without raising.
- :func:`parse_week` / :func:`parse_hinaura` / :func:`parse_france_services` — a week from one text
  per day (Hinaura fields ``Lundi`` … ``Dimanche``; France Services ``h_lundi`` … ``h_samedi``).

Derived figures: :func:`weekly_hours` (Σ over days and slots of (end − start) / 60),
:func:`open_evening` (a Monday–Friday slot ends after 18:00), :func:`open_saturday`, and the JSON
form of the pack (:func:`to_json` / :func:`from_json`).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping

DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
WEEKDAYS = DAYS[:5]
EVENING_MIN = 18 * 60  # "open in the evening" = a weekday slot ending after 18:00
DAY_MIN = 24 * 60

Slot = tuple[int, int]
Hours = dict[str, list[Slot]]

#: French day names (accents removed, lower case) → day key, for the per-day source fields.
FRENCH_DAYS = {"lundi": "mo", "mardi": "tu", "mercredi": "we", "jeudi": "th", "vendredi": "fr", "samedi": "sa", "dimanche": "su"}
#: Hinaura hub fields, one free-text value per day.
HINAURA_DAY_FIELDS = {"mo": "Lundi", "tu": "Mardi", "we": "Mercredi", "th": "Jeudi", "fr": "Vendredi", "sa": "Samedi", "su": "Dimanche"}
#: France Services list fields (no Sunday column: Sunday is closed).
FRANCE_SERVICES_DAY_FIELDS = {"mo": "h_lundi", "tu": "h_mardi", "we": "h_mercredi", "th": "h_jeudi", "fr": "h_vendredi", "sa": "h_samedi"}


# --------------------------------------------------------------------------------------------
# slots


def normalise_slots(slots: Iterable[Iterable[int]]) -> list[Slot]:
    """Validate and merge one day's slots: sorted, overlapping or touching slots merged.

    Raises ValueError for a slot that is inverted (end <= start), out of 0–1440 or not integers:
    a wrong slot is rejected, never turned into negative or silently clipped hours.
    """
    clean: list[Slot] = []
    for slot in slots:
        pair = list(slot)
        if len(pair) != 2:
            raise ValueError(f"a slot is [start, end] in minutes, got {slot!r}")
        start, end = pair
        if isinstance(start, bool) or isinstance(end, bool) or not all(isinstance(v, (int, float)) and float(v).is_integer() for v in (start, end)):
            raise ValueError(f"slot bounds must be whole minutes, got {slot!r}")
        start, end = int(start), int(end)
        if not 0 <= start < end <= DAY_MIN:
            raise ValueError(f"slot {slot!r} is inverted or outside 0–1440 minutes (expected 0 <= start < end <= 1440)")
        clean.append((start, end))
    clean.sort()
    merged: list[Slot] = []
    for start, end in clean:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def normalise_hours(hours: Mapping[str, Iterable[Iterable[int]]]) -> Hours:
    """A full week dict (all seven keys, missing days closed) with validated, merged slots."""
    unknown = set(hours) - set(DAYS)
    if unknown:
        raise ValueError(f"unknown day keys {sorted(unknown)} (expected {', '.join(DAYS)})")
    return {d: normalise_slots(hours.get(d, ())) for d in DAYS}


# --------------------------------------------------------------------------------------------
# one day of free text (France Services, Hinaura)


def _fold(text: str) -> str:
    """Lower case, accents removed, HTML ampersand and typographic dashes/spaces normalised."""
    t = unicodedata.normalize("NFKD", text.replace("&amp;", "&"))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = re.sub(r"[\u2010-\u2015\u2212]", "-", t).replace("\u2019", "'")
    t = re.sub(r"[\u00a0\u202f\s]+", " ", t)
    return t.strip()


# Closed for the whole day (after folding, surrounding punctuation removed).
_CLOSED = re.compile(
    r"ferme(e|s|es)?( toute la journee| au public)?|closed|non( ouvert au public)?|conge|"
    r"pas d'accueil|reserve au travail interne"
)
# Irregular schedules: not a weekly pattern, so the week's hours are unknown.
_IRREGULAR = re.compile(
    r"semaines? (paire|impaire)|semaine sur|\bsur (deux|2)\b|\bpar mois\b|/ ?mois\b|\bx par\b|fois par|"
    r"15 jours|quinzaine|\b\d+ ?(er|ere|eme|e|nd|nde)\b|premiers?\b|dernier|\b1 semaine ?/ ?2\b"
)
# Side remarks that do not change the regular pattern: "(sauf 1er lundi du mois)", "(+14h-17h le 1er samedi)".
_EXCEPTION = re.compile(r"\(?\s*(sauf|\+)[^)]*\)?")
_PARENTHESIS = re.compile(r"\([^)]*\)?")
_APPOINTMENT = re.compile(r"\brdv\b|rendez")
# A time: "9h", "9h30", "9 h 30", "09:00", "17 heures", "8h3" (minutes typed with one digit = tens);
# "1730" (4 digits); or a bare hour ("9-12h", "14-19"), accepted only next to a range separator.
_TIME = re.compile(
    r"(?<!\d)(?:"
    r"(?P<h>[01]?\d|2[0-4])\s*(?:heures?|h|:)(?:\s*(?P<m>[0-5]\d?)(?![\d:h]))?"
    r"|(?P<h4>[01]\d|2[0-3])(?P<m4>[0-5]\d)(?!\d)"
    r"|(?P<hb>[01]?\d|2[0-4])(?![\d:h])"
    r")"
)
_RANGE_AFTER = re.compile(r"\s*(-|a|/)\s*\d")
_RANGE_SEPARATORS = frozenset({"-", "a", "/"})


def _time_tokens(t: str) -> list[int] | None:
    """Minutes of every time written in ``t``, in reading order (lone bare numbers skipped); None if past 24:00."""
    tokens: list[tuple[int, int, int, bool]] = []  # (minutes, start, end, bare)
    for m in _TIME.finditer(t):
        if m.group("h") is not None:
            hour = int(m.group("h"))
            mins = m.group("m") or "0"
            minute = int(mins) * (10 if len(mins) == 1 else 1)
            bare = False
        elif m.group("h4") is not None:
            hour, minute, bare = int(m.group("h4")), int(m.group("m4")), False
        else:
            hour, minute, bare = int(m.group("hb")), 0, True
        tokens.append((hour * 60 + minute, m.start(), m.end(), bare))
    out: list[int] = []
    for i, (value, start, end, bare) in enumerate(tokens):
        if bare:
            starts_range = _RANGE_AFTER.match(t, end) is not None
            ends_range = i > 0 and t[tokens[i - 1][2]:start].strip() in _RANGE_SEPARATORS
            if not (starts_range or ends_range):
                continue  # a lone number ("1 x par mois", "salle 3") is not a time
        if value > DAY_MIN:
            return None
        out.append(value)
    return out


def parse_day(text: str | None) -> list[Slot] | None:
    """Slots of one day from free text; ``[]`` if explicitly closed, ``None`` if unknown.

    Times are read in order and paired (1st–2nd, 3rd–4th…), whatever the separators
    (``-``, ``à``, ``/``, ``et``, ``,``, ``|``); overlapping slots are merged. Unknown (``None``):
    empty text, text without times ("Itinérance", "sur rendez-vous"), irregular schedules
    ("une semaine sur deux", "1er samedi du mois"), an odd number of times or an inverted slot.
    Zero-length slots ("00:00 - 00:00", used as placeholders) are dropped.
    Appointment-only hours that state times ("sur rdv 8h30 à 12h") count as open.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    t = _fold(str(text))
    bare = t.strip(" :|*-/.;,_")
    if not bare:
        return None
    if _CLOSED.fullmatch(bare):
        return []
    t = _EXCEPTION.sub(" ", t)
    if _IRREGULAR.search(t):
        return None
    t = _PARENTHESIS.sub(" ", t)
    times = _time_tokens(t)
    if not times:
        # "Fermé le matin", "fermé l'après-midi" without times are still "closed"
        return [] if re.match(r"ferm", bare) and not _APPOINTMENT.search(bare) else None
    if len(times) % 2:
        return None
    pairs = list(zip(times[::2], times[1::2], strict=True))
    if any(end < start for start, end in pairs):
        return None
    # zero-length placeholders ("00:00 - 00:00") carry no opening time
    return normalise_slots([(start, end) for start, end in pairs if end > start])


def parse_week(day_texts: Mapping[str, str | None]) -> Hours | None:
    """A week from one free-text value per day (keys ``mo`` … ``su``; missing keys = empty).

    - at least one day with slots → known week; days that are empty, closed or unreadable
      ("sur rendez-vous") count as closed (no regular opening that day);
    - otherwise, if some day is non-empty but unreadable → ``None`` (e.g. appointment only);
    - otherwise, if every day Monday–Friday says closed ("Fermé", "Pas d'accueil") → closed all
      week (weekly hours 0, a published fact);
    - otherwise (all empty, or a lone "Fermé" among empty days) → ``None``.
    """
    parsed: dict[str, list[Slot] | None] = {}
    unreadable = False
    for d in DAYS:
        raw = day_texts.get(d)
        slots = parse_day(raw)
        parsed[d] = slots
        nonempty = raw is not None and not (isinstance(raw, float) and math.isnan(raw)) and str(raw).strip() != ""
        if slots is None and nonempty:
            unreadable = True
    if any(parsed[d] for d in DAYS):
        return {d: parsed[d] or [] for d in DAYS}
    if not unreadable and all(parsed[d] == [] for d in WEEKDAYS):
        return {d: [] for d in DAYS}
    return None


def parse_hinaura(record: Mapping[str, object]) -> Hours | None:
    """Week of a Hinaura hub record from its ``Lundi`` … ``Dimanche`` free-text fields."""
    return parse_week({d: record.get(field) for d, field in HINAURA_DAY_FIELDS.items()})  # type: ignore[misc]


def parse_france_services(row: Mapping[str, object]) -> Hours | None:
    """Week of a France Services row from ``h_lundi`` … ``h_samedi`` (``"09:00 - 12:00 / 13:30 - 17:00"``).

    An empty day is closed (the list leaves non-opening days blank; there is no Sunday column);
    a row with every day empty has unknown hours (``None``).
    """
    return parse_week({d: row.get(field) for d, field in FRANCE_SERVICES_DAY_FIELDS.items()})  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# OpenStreetMap opening_hours (subset used by the national schema)

_OSM_DAY = {"mo": 0, "tu": 1, "we": 2, "th": 3, "fr": 4, "sa": 5, "su": 6}
_OSM_DAYSEL = r"(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)(?:\s*-\s*(?:Mo|Tu|We|Th|Fr|Sa|Su))?"
_OSM_TIME = r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}"
_OSM_RULE = re.compile(
    rf"^(?P<days>{_OSM_DAYSEL}(?:\s*,\s*{_OSM_DAYSEL})*)?\s*"
    rf"(?P<times>off|closed|{_OSM_TIME}(?:\s*,\s*{_OSM_TIME})*)?$",
    re.IGNORECASE,
)
_OSM_ADDITIONAL = re.compile(r"(?<=\d|f)\s*,\s*(?=(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)\b)", re.IGNORECASE)


def _osm_days(selector: str) -> list[str] | None:
    """Day keys of an OSM weekday selector (``Mo-Fr``, ``Tu,Th``, ``Sa-Mo`` wraps); [] for ``PH``."""
    days: list[str] = []
    for part in re.split(r"\s*,\s*", selector.strip()):
        bounds = [b.strip().lower() for b in part.split("-")]
        if bounds == ["ph"]:
            continue  # public holidays: not part of the regular week
        if any(b not in _OSM_DAY for b in bounds):
            return None
        a = _OSM_DAY[bounds[0]]
        b = _OSM_DAY[bounds[-1]]
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        days.extend(DAYS[i] for i in span)
    return days


def _osm_slots(times: str) -> list[Slot] | None:
    slots = []
    for rng in re.split(r"\s*,\s*", times.strip()):
        start_s, end_s = (p.strip() for p in rng.split("-"))
        (h1, m1), (h2, m2) = (map(int, start_s.split(":")), map(int, end_s.split(":")))
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or not 0 <= start <= end <= DAY_MIN:
            return None  # inverted, past midnight or invalid: not handled
        if end > start:  # "14:00-14:00" placeholders carry no opening time
            slots.append((start, end))
    return normalise_slots(slots)


def parse_osm(text: str | None) -> Hours | None:
    """Week from an OSM ``opening_hours`` string; ``None`` if empty or not in the handled subset.

    Rules are separated by ``;`` and applied in order, a later rule replacing the days it names
    (``"Mo-Fr 09:00-17:00; We off"`` closes Wednesday); rules joined by ``,`` before a day add to
    them. A rule without days applies to every day; ``24/7`` is open all week; rules for public
    holidays (``PH``) are ignored. Days no rule names are closed.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    t = str(text).strip().replace("\u00a0", " ").replace("||", ";")
    if not t:
        return None
    if t == "24/7":
        return {d: [(0, DAY_MIN)] for d in DAYS}
    week: Hours = {d: [] for d in DAYS}
    seen_rule = False
    for rule in t.split(";"):
        rule = rule.strip()
        if not rule:
            continue
        additive = False
        for sub in _OSM_ADDITIONAL.split(rule):
            m = _OSM_RULE.match(sub.strip())
            if not m or (m.group("days") is None and m.group("times") is None):
                return None
            days = _osm_days(m.group("days")) if m.group("days") else list(DAYS)
            if days is None:
                return None
            only_ph = m.group("days") is not None and not days
            times = (m.group("times") or "").lower()
            if only_ph:
                continue
            if times in ("off", "closed"):
                slots: list[Slot] | None = []
            elif times:
                slots = _osm_slots(times)
            else:
                return None  # a day selector without times ("Mo-Fr") is open-ended: not handled
            if slots is None:
                return None
            for d in days:
                week[d] = normalise_slots([*week[d], *slots]) if additive else list(slots)
            additive = True
            seen_rule = True
    return week if seen_rule else None


# --------------------------------------------------------------------------------------------
# derived figures and JSON


def weekly_hours(hours: Mapping[str, Iterable[Iterable[int]]] | None) -> float:
    """Hours open per week: Σ_days Σ_slots (end − start) / 60 after merging overlaps; NaN if unknown."""
    if hours is None:
        return math.nan
    week = normalise_hours(hours)
    return sum(end - start for slots in week.values() for start, end in slots) / 60.0


def open_evening(hours: Mapping[str, Iterable[Iterable[int]]] | None, after_min: int = EVENING_MIN) -> bool | None:
    """True if a Monday–Friday slot ends after ``after_min`` (default 18:00); None if unknown."""
    if hours is None:
        return None
    week = normalise_hours(hours)
    return any(end > after_min for d in WEEKDAYS for _start, end in week[d])


def open_saturday(hours: Mapping[str, Iterable[Iterable[int]]] | None) -> bool | None:
    """True if open at some time on Saturday; None if unknown."""
    if hours is None:
        return None
    return bool(normalise_hours(hours)["sa"])


def to_json(hours: Mapping[str, Iterable[Iterable[int]]] | None) -> str | None:
    """Pack form: ``{"mo": [[540, 720], [810, 1020]], "tu": [], …, "su": []}``; None if unknown."""
    if hours is None:
        return None
    week = normalise_hours(hours)
    return json.dumps({d: [[s, e] for s, e in week[d]] for d in DAYS})


def from_json(text: str | None) -> Hours | None:
    """Inverse of :func:`to_json`; ``None``/``"null"``/NaN → None. Raises ValueError on bad content."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    try:
        data = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"hours_json is not valid JSON: {text!r}") from exc
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"hours_json must be an object {{day: [[start, end], …]}}, got {type(data).__name__}")
    return normalise_hours(data)
