"""Supply: hours_json parsing, weekly and slot hours, capacity defaults, filters, real France Services hours."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.supply import capacity, open_in_slot, parse_hours, select_places, slot_hours, weekly_hours

RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"

H = {"mo": [[540, 720], [810, 1020]], "tu": [[600, 1200]], "sa": [[540, 720]]}


def test_parse_and_weekly_hours():
    h = parse_hours(json.dumps(H))
    assert h["mo"] == [(540, 720), (810, 1020)]
    assert weekly_hours(h) == pytest.approx(3 + 3.5 + 10 + 3)
    assert weekly_hours(parse_hours({"mo": [[540, 720], [600, 780]]})) == 4.0  # overlaps merged
    assert parse_hours(None) is None and parse_hours("null") is None and parse_hours(float("nan")) is None
    assert np.isnan(weekly_hours(None))
    for bad, msg in [('{"xx": []}', "unknown day"), ('{"mo": [[720, 540]]}', "start < end"),
                     ('{"mo": [[0, 2000]]}', "1440"), ("{not json", "not valid JSON"), ('{"mo": [1, 2]}', "pair")]:
        with pytest.raises(ValueError, match=msg):
            parse_hours(bad)


def test_slots():
    h = parse_hours(H)
    assert slot_hours(h, "evening") == pytest.approx(2.0)  # Tuesday 18:00–20:00
    assert slot_hours(h, "saturday") == pytest.approx(3.0)
    assert open_in_slot(h, "evening") is True
    assert open_in_slot(parse_hours({"mo": [[540, 1080]]}), "evening") is False  # closes at 18:00 sharp
    assert open_in_slot(parse_hours({"su": [[1100, 1200]]}), "evening") is False  # Sunday is not a weekday
    assert open_in_slot(None, "saturday") is pd.NA
    with pytest.raises(ValueError, match="unknown time slot"):
        slot_hours(h, "night")


def test_capacity_defaults_and_flags():
    p = pd.DataFrame({
        "type": ["france_services", "mediatheque", "association", None],
        "weekly_hours": [30.0, np.nan, 12.0, np.nan],
        "staff": [3.0, 2.0, np.nan, np.nan],
    })
    c = capacity(p)
    # France services: 30 h × (2 agents of the charter + 3 conseiller posts) — the posts are not the
    # whole staff; médiathèque default 20 h × 2; association 12 h × default 1; unknown type → autre 10 h
    assert c["capacity"].tolist() == [150.0, 40.0, 12.0, 10.0]
    assert c["capacity_source"].tolist() == ["hours×charter_staff", "default_hours+staff", "hours×default_staff", "default_hours+default_staff"]
    fs = capacity(pd.DataFrame({"type": ["france_services"], "weekly_hours": [np.nan], "staff": [np.nan]}))
    assert fs.loc[0, "capacity"] == 24.0 * 2  # France services defaults: 24 h/week, 2 agents (rates.toml)
    assert capacity(p, mode="count")["capacity"].tolist() == [1.0] * 4
    # hours from hours_json when weekly_hours is absent; a malformed value counts as unknown
    hj = capacity(pd.DataFrame({"type": ["ccas", "ccas"], "hours_json": [json.dumps(H), '{"mo": [[9, 1]]}'], "staff": [1.0, 1.0]}))
    assert hj["capacity"].tolist() == [19.5, 20.0] and hj["capacity_source"].tolist() == ["hours×staff", "default_hours+staff"]
    with pytest.raises(ValueError, match="negative"):
        capacity(pd.DataFrame({"type": ["ccas"], "weekly_hours": [-1.0], "staff": [1.0]}))
    with pytest.raises(ValueError, match="capacity mode"):
        capacity(p, mode="seats")


def test_select_places_filters_and_report():
    p = pd.DataFrame({
        "services": ["demarches;competences_base", "equipement", None, "demarches"],
        "offers_digital_help": [True, True, True, False],
        "open_saturday": pd.array([True, False, pd.NA, True], dtype="boolean"),
    })
    kept, rep = select_places(p, service="demarches")
    assert kept.index.tolist() == [0] and rep["removed_not_digital_help"] == 1 and rep["removed_service"] == 2
    kept, rep = select_places(p, time_slot="saturday", digital_help_only=False)
    assert kept.index.tolist() == [0, 3]
    assert rep["removed_slot_closed"] == 1 and rep["removed_slot_unknown_hours"] == 1


def _fs_hours(text) -> list[list[int]]:
    """France Services 'HH:MM - HH:MM / HH:MM - HH:MM' → [[start, end], ...] minutes (test helper)."""
    if not isinstance(text, str):
        return []
    out = []
    for a, b in re.findall(r"(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})", text):
        ma = int(a[:2].rstrip(":")) * 60 + int(a[-2:])
        mb = int(b[:2].rstrip(":")) * 60 + int(b[-2:])
        out.append([ma, mb])
    return out


@pytest.mark.raw
@pytest.mark.skipif(not RAW.exists(), reason="shared/data/raw not present")
def test_real_france_services_valserhone_hours():
    fs = pd.read_csv(RAW / "places" / "anct_france_services_liste-fs-20240801.csv", dtype=str)
    row = fs[fs["id_fs"] == "1"].iloc[0]
    assert row["lib_fs"] == "France services de Valserhône"
    days = dict(zip(("mo", "tu", "we", "th", "fr", "sa"),
                    ("h_lundi", "h_mardi", "h_mercredi", "h_jeudi", "h_vendredi", "h_samedi"), strict=False))
    h = parse_hours(json.dumps({d: _fs_hours(row[c]) for d, c in days.items()}))
    # Mon 13:30–17:00, Tue–Thu 09:00–12:00 + 13:30–17:00, Fri 09:00–12:00 + 13:30–16:00
    assert weekly_hours(h) == pytest.approx(3.5 + 3 * 6.5 + 5.5)  # 28.5 h
    assert open_in_slot(h, "saturday") is False and open_in_slot(h, "evening") is False


def test_itinerant_places_are_not_supply():
    """A bus France services carries its operator's address, not where people are received: it is
    not counted in the catchment (nor fixed open by planning, which uses the same rule)."""
    p = pd.DataFrame({"type": ["france_services", "france_services", "ccas"], "offers_digital_help": [True, True, pd.NA],
                      "mobile": [False, True, False]})
    kept, report = select_places(p)
    assert kept.index.tolist() == [0] and report["removed_mobile"] == 1 and report["removed_not_digital_help"] == 1
