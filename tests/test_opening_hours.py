"""Opening-hours parsing: real strings from the published files, exact slots and weekly hours."""

from __future__ import annotations

import csv
import json
import math

import pytest

from loaders import RAW_DIR
from loaders import opening_hours as oh

PLACES = RAW_DIR / "places"
FS_FILE = PLACES / "anct_france_services_liste-fs-20240801.csv"
HINAURA_FILE = PLACES / "hinaura_lieux_mediation_numerique_aura_raw.json"
DI_FILE = PLACES / "data_inclusion_lieux_mediation_numerique_2023-02.json"

_skip_no_raw = pytest.mark.skipif(not FS_FILE.exists(), reason="raw files not present")


def needs_raw(test):
    """Marks a test that reads ../shared/data/raw (marker ``raw``), skipped when it is absent."""
    return pytest.mark.raw(_skip_no_raw(test))


def hm(h: int, m: int = 0) -> int:
    return 60 * h + m


# --------------------------------------------------------------------------------------------
# one day of free text — strings copied from the France Services list and the Hinaura hub


@pytest.mark.parametrize(
    "text, slots",
    [
        # France Services list format
        ("09:00 - 12:00 / 13:30 - 17:00", [(hm(9), hm(12)), (hm(13, 30), hm(17))]),
        ("08:45 - 12:30 / 13:30 - 17:00", [(hm(8, 45), hm(12, 30)), (hm(13, 30), hm(17))]),
        ("10:00 - 12:30", [(hm(10), hm(12, 30))]),
        # Hinaura free text
        ("9h à 12h et 14h à 17h", [(hm(9), hm(12)), (hm(14), hm(17))]),
        ("9h-12h, 14h-17h30", [(hm(9), hm(12)), (hm(14), hm(17, 30))]),
        ("09h00-12h00", [(hm(9), hm(12))]),
        ("8h30 - 12h", [(hm(8, 30), hm(12))]),
        ("de 9h à 12h", [(hm(9), hm(12))]),
        ("9h à 12h - 14h à 17h", [(hm(9), hm(12)), (hm(14), hm(17))]),
        ("8h30/12h30 - 13h30/17h", [(hm(8, 30), hm(12, 30)), (hm(13, 30), hm(17))]),
        ("9h/12h - 13h/17h", [(hm(9), hm(12)), (hm(13), hm(17))]),
        ("09:00-12:00 et 14:00-17:00", [(hm(9), hm(12)), (hm(14), hm(17))]),
        ("9-12h et 13h30-18h", [(hm(9), hm(12)), (hm(13, 30), hm(18))]),
        ("8 à 18h", [(hm(8), hm(18))]),
        ("9-12 / 14-19", [(hm(9), hm(12)), (hm(14), hm(19))]),
        ("9h12h-14h17h", [(hm(9), hm(12)), (hm(14), hm(17))]),
        ("8 h 30 à 12 h  - 14 h à 17 h", [(hm(8, 30), hm(12)), (hm(14), hm(17))]),
        ("de 9h30 à 12h30 et de 14h à 16", [(hm(9, 30), hm(12, 30)), (hm(14), hm(16))]),
        ("10h00 - 12h30 | 13h30 - 16h00", [(hm(10), hm(12, 30)), (hm(13, 30), hm(16))]),
        ("09:00–11:30, 13:30–17:00", [(hm(9), hm(11, 30)), (hm(13, 30), hm(17))]),
        ("08h30-12h00/13h30-1730", [(hm(8, 30), hm(12)), (hm(13, 30), hm(17, 30))]),
        ("8h3 - 12h / 13h30 - 17h", [(hm(8, 30), hm(12)), (hm(13, 30), hm(17))]),
        ("10h à 12h &amp; 14h à 18h30", [(hm(10), hm(12)), (hm(14), hm(18, 30))]),
        ("Sur rendez-vous 8h30 à 12h00 et de 13h00 à 16h30", [(hm(8, 30), hm(12)), (hm(13), hm(16, 30))]),
        ("9h à 12h  -  Sur RDV l'après midi", [(hm(9), hm(12))]),
        ("Fermé le matin - 13h30 à 18h", [(hm(13, 30), hm(18))]),
        ("16h - 18h (juillet-août : 10h - 12h / 16h - 19h)", [(hm(16), hm(18))]),
        ("Sans rendez-vous 9h30-12h00 (sauf 1 jeudi/mois)", [(hm(9, 30), hm(12))]),
        ("Permanences de 9h à 12h (à partir du 14/04/2022", [(hm(9), hm(12))]),
        ("Lundi de 9h/12h  14h/17h", [(hm(9), hm(12)), (hm(14), hm(17))]),
        # overlapping / touching slots are merged
        ("07:30-12:00 et 12:00-19:00", [(hm(7, 30), hm(19))]),
        ("13:30-18:00 (accueil libre) / 10:00-18:00 (sur rdv)", [(hm(10), hm(18))]),
        ("9h - 15h / 14h - 19h", [(hm(9), hm(19))]),
        # zero-length placeholder dropped (France Services row "00:00 - 00:00 / 09:00 - 12:00 / …")
        ("00:00 - 00:00 / 09:00 - 12:00 / 14:00 - 17:00", [(hm(9), hm(12)), (hm(14), hm(17))]),
    ],
)
def test_parse_day_real_strings(text, slots):
    assert oh.parse_day(text) == slots


@pytest.mark.parametrize("text", ["Fermé", "fermé", "FERMÉ", "Fermée", "Férmé", "Fermé toute la journée", "Pas d'accueil.", "Non ouvert au public", ": Fermé", "| Fermé", "non"])
def test_parse_day_closed(text):
    assert oh.parse_day(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        None,
        float("nan"),
        "sur rendez-vous",
        "Sur RDV",
        "Itinérance",
        "Présence sur les communes",
        # irregular schedules: not a weekly pattern
        "10h à 12h une semaine sur deux",
        "1 x par mois de 10h à 12h",
        "Permanence de 14h à 16h (tous les 15 jours)",
        "Le 1er samedi du mois",
        "17h-19h (semaines paires)",
        "13h45-16h45 (1 mardi sur 2)",
        # unreadable
        "15h",
        "12h3019h",
        "1Oh à 12h et 17h à 18h30",
        # inverted slot is rejected, never negative hours
        "14h-9h",
    ],
)
def test_parse_day_unknown_is_none_not_closed(text):
    assert oh.parse_day(text) is None


# --------------------------------------------------------------------------------------------
# OSM opening_hours (data·inclusion / CnFS)


def test_parse_osm_common_forms():
    week = oh.parse_osm("Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00")
    assert week["mo"] == week["fr"] == [(540, 720), (840, 1020)]
    assert week["sa"] == [(540, 720)]
    assert week["su"] == []
    assert oh.weekly_hours(week) == 5 * 6 + 3

    week = oh.parse_osm("Tu,Th 14:00-18:00")
    assert week == {"mo": [], "tu": [(840, 1080)], "we": [], "th": [(840, 1080)], "fr": [], "sa": [], "su": []}

    # real data·inclusion string (Hinaura record 10): Thursday override
    week = oh.parse_osm("Mo-Fr 08:30-12:00,13:30-17:00; Th off")
    assert week["th"] == [] and week["we"] == [(510, 720), (810, 1020)]
    assert oh.weekly_hours(week) == 4 * 7.0

    # real CnFS string
    week = oh.parse_osm("Mo,We 09:00-12:00,13:45-17:30; Tu 09:00-12:00,15:30-17:30; Th 13:45-17:30; Fr 09:00-12:00")
    assert oh.weekly_hours(week) == pytest.approx(2 * 6.75 + 5 + 3.75 + 3)


def test_parse_osm_edge_cases():
    assert oh.parse_osm("off") == {d: [] for d in oh.DAYS}
    assert oh.parse_osm("Mo-Fr 09:00-12:00; PH off")["fr"] == [(540, 720)]
    assert oh.parse_osm("PH off") is None  # no regular rule at all
    assert oh.parse_osm("24/7")["su"] == [(0, 1440)]
    wrap = oh.parse_osm("Sa-Mo 10:00-12:00")
    assert [d for d in oh.DAYS if wrap[d]] == ["mo", "sa", "su"]
    additive = oh.parse_osm("Mo-Fr 09:00-12:00, Sa 10:00-12:00")
    assert additive["sa"] == [(600, 720)] and additive["mo"] == [(540, 720)]
    assert oh.parse_osm("Tu 18:00-18:00; We 10:00-18:00")["tu"] == []  # placeholder dropped


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "week 1-53/2 Mo 10:00-12:00",
        "Jan-Mar Mo 10:00-12:00",
        "Mo-Fr 9h-12h30,13h30-17h",  # French times in an OSM field
        "Tu 08:00-13:45-16:30",  # real malformed string
        "Tu 08:30",
        "Fr 19:00-11:00",  # past midnight: not handled
        "Mo-Fr",
        "Horaires Association",
        "Lundi : 8h30-12h",
    ],
)
def test_parse_osm_unhandled_gives_none(text):
    assert oh.parse_osm(text) is None


# --------------------------------------------------------------------------------------------
# weeks, derived figures, JSON


def test_parse_week_rules():
    # empty days are closed when some day has hours
    w = oh.parse_week({"mo": "9h-12h", "tu": "", "sa": "sur rendez-vous"})
    assert w["mo"] == [(540, 720)] and w["tu"] == [] and w["sa"] == []
    # only unreadable text → unknown
    assert oh.parse_week({"mo": "sur rendez-vous", "tu": ""}) is None
    # all empty → unknown; a lone "Fermé" among empty days → unknown
    assert oh.parse_week({}) is None
    assert oh.parse_week({"th": "Fermé"}) is None
    # Monday–Friday explicitly closed → closed all week (0 h, a published fact)
    closed = oh.parse_week({d: "Pas d'accueil." for d in oh.WEEKDAYS})
    assert closed == {d: [] for d in oh.DAYS} and oh.weekly_hours(closed) == 0.0


def test_weekly_hours_evening_saturday_and_json():
    week = {"mo": [(540, 720), (810, 1140)], "sa": [(600, 720)]}
    assert oh.weekly_hours(week) == 3 + 5.5 + 2
    assert oh.open_evening(week) is True
    assert oh.open_saturday(week) is True
    assert oh.open_evening({"mo": [(540, 1080)]}) is False  # ends at 18:00 exactly: not after
    assert oh.open_evening({"sa": [(600, 1260)]}) is False  # Saturday is not a weekday
    assert math.isnan(oh.weekly_hours(None))
    assert oh.open_evening(None) is None and oh.open_saturday(None) is None
    text = oh.to_json(week)
    assert text.startswith('{"mo": [[540, 720], [810, 1140]], "tu": []')
    assert oh.from_json(text) == oh.normalise_hours(week)
    assert oh.to_json(oh.from_json(text)) == text
    assert oh.to_json(None) is None and oh.from_json(None) is None and oh.from_json("null") is None


def test_overlaps_merged_and_bad_slots_rejected():
    assert oh.normalise_slots([(600, 720), (540, 660), (720, 780)]) == [(540, 780)]
    assert oh.weekly_hours({"mo": [(540, 720), (600, 700)]}) == 3.0  # overlap counted once
    with pytest.raises(ValueError, match="inverted"):
        oh.normalise_slots([(720, 540)])
    with pytest.raises(ValueError, match="inverted"):
        oh.weekly_hours({"mo": [(540, 1500)]})
    with pytest.raises(ValueError, match="unknown day"):
        oh.normalise_hours({"monday": [(540, 720)]})
    with pytest.raises(ValueError, match="not valid JSON"):
        oh.from_json('{"mo": [[540, 720]')
    with pytest.raises(ValueError):
        oh.from_json('{"mo": [[540, "noon"]]}')


# --------------------------------------------------------------------------------------------
# real files


def _fs_rows(dep: str) -> list[dict]:
    with open(FS_FILE, encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["insee_dep"] == dep]


@needs_raw
def test_france_services_isere_weekly_hours():
    rows = {r["id_fs"]: r for r in _fs_rows("38")}
    assert len(rows) == 28
    hours = {i: oh.weekly_hours(oh.parse_france_services(r)) for i, r in rows.items()}
    unknown = sorted(i for i, h in hours.items() if math.isnan(h))
    # two sites publish no hours at all (every day empty): unknown, not zero
    assert unknown == ["2139", "2748"]
    assert all(0 < h < 80 for i, h in hours.items() if i not in unknown)
    # by hand from the raw rows:
    # 234 Grenoble: Mo,Tu,We,Fr 09-12 + 13-17 = 7 h ×4, Th 09-12 + 14-17 = 6 h, Sa 10:00-12:30 = 2.5 h
    assert hours["234"] == 36.5
    # 235 Saint-Marcellin: Mo,Tu,We,Fr 08:30-12:00 + 13:30-16:30 = 6.5 h ×4, Th 08:30-12:00 = 3.5 h
    assert hours["235"] == 29.5
    # 236 Pont-de-Beauvoisin: Mo-We 09-12:30 + 13:30-17 = 7 h ×3, Th 09-12:30 + 13:30-18:30 = 8.5 h, Fr 3.5 h
    assert hours["236"] == 33.0
    # 1917 Bus Grenoble QPV: We 09-12, Th 09-12 + 14-17
    assert hours["1917"] == 9.0
    w236 = oh.parse_france_services(rows["236"])
    assert oh.open_evening(w236) is True and oh.open_saturday(w236) is False
    w234 = oh.parse_france_services(rows["234"])
    assert oh.open_evening(w234) is False and oh.open_saturday(w234) is True
    assert w234["th"] == [(540, 720), (840, 1020)] and w234["su"] == []


@needs_raw
def test_france_services_national_all_parse():
    with open(FS_FILE, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2845
    hours = [oh.weekly_hours(oh.parse_france_services(r)) for r in rows]
    known = [h for h in hours if not math.isnan(h)]
    assert len(rows) - len(known) == 48  # rows whose six day fields are all empty
    assert all(0 < h <= 60 for h in known)


@needs_raw
def test_hinaura_records():
    recs = json.loads(HINAURA_FILE.read_text(encoding="utf-8"))
    # record 0, Abondance: Lundi "Fermé", Mardi–Vendredi "9h à 12h et 14h à 17h", Samedi "9h-12h", Dimanche "Fermé"
    w = oh.parse_hinaura(recs[0])
    assert w["mo"] == [] and w["tu"] == [(540, 720), (840, 1020)] and w["sa"] == [(540, 720)]
    assert oh.weekly_hours(w) == 4 * 6 + 3
    # record 453, Pimms Médiation Grenoble: "9h/12h - 13h/17h" Mo–Fr, Sa "10h00-12h30 (relais La Poste)"
    w = oh.parse_hinaura(recs[453])
    assert w["sa"] == [(600, 750)] and oh.weekly_hours(w) == 5 * 7 + 2.5


@needs_raw
def test_hinaura_agrees_with_data_inclusion_conversion():
    """data·inclusion republished 568 Hinaura records with hours converted to OSM by ANCT's tool;
    where both sides are readable, our parse of the hub text matches theirs for ≥ 95 %."""
    hub = json.loads(HINAURA_FILE.read_text(encoding="utf-8"))
    di = json.loads(DI_FILE.read_text(encoding="utf-8"))
    both = agree = 0
    for r in di:
        if r["source"] != "Hinaura":
            continue
        a, b = oh.parse_hinaura(hub[int(r["id"])]), oh.parse_osm(r.get("horaires"))
        if a is not None and b is not None:
            both += 1
            agree += a == b
    assert both > 450
    assert agree / both >= 0.95
