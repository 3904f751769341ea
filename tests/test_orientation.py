"""Orientation of one person (indicators.orientation) and its rendering (ui.orientation): slots,
freshness, travel time, relaxations, phone numbers, escaping, the fiche (PDF / HTML) and the CSV.

Hand cases use synthetic places on a line east of the origin (0, 0), walking: t = d × 1.3 / 75
minutes (4.5 km/h = 75 m/min, detour 1.3, rates.toml [travel]). Real-data checks run on the pack
(Échirolles, 38151) against a brute-force reading of the pack's hours and services.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.orientation import (
    MIN_MATCHES,
    Need,
    OrientationError,
    PlaceIndex,
    age_months,
    count_matches,
    freshness,
    listing,
    matching_intervals,
    normalise_phone,
    orient,
    parse_updated,
    stale_share,
    travel_minutes,
)
from ui import orientation as ou

TODAY = date(2026, 11, 30)
REPO_DIR = Path(__file__).resolve().parents[1]
PACK = REPO_DIR / "geodata" / "pack"
SCREENSHOTS = REPO_DIR / "tests" / "e2e" / "screenshots"
HOSTILE = "<img src=x onerror=alert(1)> *gras* $x$ & [lien](javascript:alert(1))"
M_PER_MIN_WALK = 4.5 * 1000 / 60  # 75 m/min
DETOUR = 1.3


def _walk_min(d_m: float) -> float:
    return d_m * DETOUR / M_PER_MIN_WALK


def _place(pid, x, services, hours, *, type_="association", digital=True, mobile=False, updated="2026-10-01", **kw):
    return {"place_id": pid, "name": f"Lieu {pid}", "type": type_, "services": services, "x": float(x), "y": 0.0,
            "hours_json": None if hours is None else json.dumps(hours), "offers_digital_help": digital, "mobile": mobile,
            "updated": updated, "phone": kw.get("phone"), "address": f"{pid} rue de la Paix", "postcode": "38000",
            "code_commune": "38185", "lon": 5.7, "lat": 45.18, "sources": "hinaura", "email": None, "website": None}


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    """A: 300 m (5,2 min), demarches, open Mon and Sat 9–12 · B: 600 m (10,4 min), competences_base,
    Sat 9–12 · C: 1 500 m (26 min), demarches, Mon 14–17 · G: 900 m (15,6 min), demarches, hours
    unknown · D: library 150 m (2,6 min), equipement · E: bus 100 m · F: closed every day 200 m ·
    H: 2 000 m (34,7 min), out of a 30-minute reach."""
    return pd.DataFrame([
        _place("A", 300, "demarches;autres", {"mo": [[540, 720]], "sa": [[540, 720]]}, phone="+33476000001"),
        _place("B", 600, "competences_base", {"sa": [[540, 720]]}),
        _place("C", 1500, "demarches", {"mo": [[840, 1020]]}),
        _place("G", 900, "demarches", None),
        _place("D", 150, "equipement", {"we": [[600, 1080]]}, type_="bibliotheque", digital=False, updated="2020"),
        _place("E", 100, "demarches", {"mo": [[540, 720]]}, type_="france_services", mobile=True),
        _place("F", 200, "demarches", {"mo": [], "sa": []}),
        _place("H", 2000, "demarches", {"sa": [[540, 720]]}),
    ])


@pytest.fixture(scope="module")
def index(toy) -> PlaceIndex:
    return PlaceIndex.from_places(toy, today=TODAY)


def names(o) -> list[str]:
    return o.matches["place_id"].tolist()


# ---------------------------------------------------------------------------------------------
# freshness
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("updated", "today", "months"),
    [
        ("2026-05-30", date(2026, 11, 29), 5),  # the 6th month completes on the 30th
        ("2026-05-30", date(2026, 11, 30), 6),
        ("2026-05-31", date(2026, 11, 30), 6),  # November has no 31st: its last day completes it
        ("2025", date(2026, 11, 30), 11),  # a year counts from 31 December 2025
        ("2025-06", date(2026, 11, 30), 17),  # a month counts from its last day, 30 June 2025
        ("2026-12-01", date(2026, 11, 30), np.nan),  # after today: an error of the data → unknown
        ("n'importe", date(2026, 11, 30), np.nan),
        (None, date(2026, 11, 30), np.nan),
    ],
)
def test_age_in_whole_calendar_months(updated, today, months):
    assert age_months(updated, today) == pytest.approx(months, nan_ok=True)


@pytest.mark.parametrize(
    ("updated", "key"),
    [("2026-06-01", "fresh"), ("2026-05-30", "watch"), ("2025-12-01", "watch"), ("2025-11-30", "check"),
     ("2025-06-01", "check"), ("2025-05-30", "stale"), ("2020", "stale"), (None, "stale"), ("", "stale")],
)
def test_freshness_thresholds_6_12_18_months(updated, key):
    # ages on 2026-11-30: 5, 6, 11, 12, 17, 18 months, 71 months, unknown, unknown
    assert freshness(updated, TODAY) == key


def test_stale_share_counts_old_and_unknown_dates():
    places = pd.DataFrame({"updated": ["2026-10-01", "2025-11-30", "2025-05-30", None]})  # 1, 12, 18 months, unknown
    assert stale_share(places, TODAY) == pytest.approx(2 / 4)
    assert stale_share(places, TODAY, months=12) == pytest.approx(3 / 4)
    assert np.isnan(stale_share(places.iloc[:0], TODAY))
    with pytest.raises(OrientationError, match="no 'updated' column"):
        stale_share(pd.DataFrame({"name": ["x"]}), TODAY)
    with pytest.raises(OrientationError, match="months must be > 0"):
        stale_share(places, TODAY, months=0)


def test_parse_updated_partial_dates_count_from_the_end_of_their_period():
    assert parse_updated("2020") == date(2020, 12, 31)
    assert parse_updated("2024-02") == date(2024, 2, 29)
    assert parse_updated("2022-06-23T10:00:00") == date(2022, 6, 23)
    assert parse_updated("2022-13-01") is None


# ---------------------------------------------------------------------------------------------
# slots
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "slot", "matches"),
    [
        ((690, 750), "morning", True),  # 11:30–12:30 overlaps 08–12 by 30 min
        ((690, 750), "afternoon", True),  # … and 12–18 by 30 min
        ((700, 760), "morning", False),  # 11:40–12:40: 20 min of morning only
        ((700, 760), "afternoon", True),
        ((960, 1050), "evening", True),  # 16:00–17:30: 30 min after 17:00
        ((960, 1040), "evening", False),  # 16:00–17:20: 20 min
        ((450, 490), None, True),  # no slot: the whole day, 40 min open
        ((450, 470), None, False),  # 20 min open in the day: below the 30-minute rule
    ],
)
def test_slot_rule_overlap_of_at_least_30_minutes(interval, slot, matches):
    assert bool(matching_intervals({"sa": [list(interval)]}, "sa", slot)) is matches


def test_bad_needs_say_what_was_expected():
    with pytest.raises(OrientationError, match="unknown services"):
        Need(services=("cafe",))
    with pytest.raises(OrientationError, match="unknown day 'samedi'"):
        Need(day="samedi")
    with pytest.raises(OrientationError, match="unknown slot 'nuit'"):
        Need(slot="nuit")
    with pytest.raises(OrientationError, match="unknown travel mode 'bus'"):
        Need(mode="bus")
    with pytest.raises(OrientationError, match="max_minutes must be a positive"):
        Need(max_minutes=0)
    with pytest.raises(OrientationError, match="lacks columns"):
        PlaceIndex.from_places(pd.DataFrame({"name": ["x"]}), today=TODAY)


# ---------------------------------------------------------------------------------------------
# eligibility, order, funnel (hand case)
# ---------------------------------------------------------------------------------------------


def test_index_keeps_reception_points_and_libraries_only(index):
    # E is itinerant (out), F closed every day (out); D, a library, is kept for equipement only
    assert sorted(index.places["place_id"]) == ["A", "B", "C", "D", "G", "H"]
    assert index.report["removed_mobile"] == 1 and index.report["removed_closed_every_day"] == 1


def test_nothing_chosen_lists_every_reception_point_in_reach_nearest_first(index):
    o = orient(index, 0.0, 0.0, Need())
    # A 5,2 min < B 10,4 < G 15,6 < C 26,0 ≤ 30; H 34,7 > 30; D is a library (no equipement asked)
    assert names(o) == ["A", "B", "G", "C"]
    assert o.matches["minutes"].tolist() == pytest.approx([_walk_min(d) for d in (300, 600, 900, 1500)])
    assert o.matches["rank"].tolist() == [1, 2, 3, 4]
    assert o.funnel.within_reach == 4 and o.relaxations == ()


def test_saturday_morning_procedures(index):
    o = orient(index, 0.0, 0.0, Need(("demarches",), "sa", "morning"))
    assert names(o) == ["A"]  # C opens on Monday afternoon only, G publishes no hours, B no démarches
    f = o.funnel
    assert (f.within_reach, f.with_services, f.open_then, f.hours_unknown) == (4, 3, 1, 1)
    assert f.within_reach >= f.with_services >= f.open_then  # invariant of the funnel
    # one match < 3: the relaxations are offered. Another slot or day adds nothing; 45 min brings
    # H (34,7 min) in, 60 min nothing more (not offered); by car H is 2,4 min away; without the
    # service, B (Saturday 9–12) comes in
    got = [(r.kind, r.need.max_minutes, r.need.mode, r.need.services, r.count) for r in o.relaxations]
    assert got == [("reach", 45.0, "walk", ("demarches",), 2), ("mode", 30.0, "car", ("demarches",), 2),
                   ("service", 30.0, "walk", (), 2)]


def test_empty_case_offers_the_nearest_other_days(index):
    o = orient(index, 0.0, 0.0, Need(("demarches",), "su", "morning"))
    assert o.matches.empty and o.funnel.open_then == 0
    # Sunday afternoon / evening give nothing; the next days with a morning: Monday (A), Saturday (A)
    assert [(r.kind, r.need.day, r.need.slot, r.count) for r in o.relaxations] == [("day", "mo", "morning", 1), ("day", "sa", "morning", 1)]
    assert o.relaxations[0].nearest_minutes == pytest.approx(_walk_min(300))


def test_farther_is_offered_with_the_smallest_reach_that_helps(index):
    o = orient(index, 0.0, 0.0, Need(("demarches",), "sa", "morning", max_minutes=5))
    assert o.matches.empty  # A is 5,2 min away
    reach = [(r.need.max_minutes, r.count) for r in o.relaxations if r.kind == "reach"]
    assert reach == [(15.0, 1), (45.0, 2)]  # 15 min brings A in (20 and 30 nothing more), 45 min H
    assert any(r.kind == "mode" and r.need.mode == "car" and r.count == 2 for r in o.relaxations)  # by car: A and H


def test_reach_is_inclusive_at_exactly_max_minutes():
    d = 30.0 * M_PER_MIN_WALK / DETOUR  # 1 730,77 m: exactly 30 min on foot
    idx = PlaceIndex.from_places(pd.DataFrame([_place("X", d, "demarches", None)]), today=TODAY)
    assert count_matches(idx, 0.0, 0.0, Need())[0] == 1
    assert count_matches(idx, 0.0, 0.0, Need(max_minutes=29.9))[0] == 0


def test_libraries_only_for_free_internet_access(index):
    o = orient(index, 0.0, 0.0, Need(("equipement",)))
    assert names(o) == ["D"] and o.matches["minutes"].iloc[0] == pytest.approx(_walk_min(150))
    assert "D" not in names(orient(index, 0.0, 0.0, Need(("demarches",))))


def test_listing_has_no_reach_limit_and_keeps_libraries(index):
    out = listing(index, Need(), origin=(0.0, 0.0))
    assert sorted(out["place_id"]) == ["A", "B", "C", "D", "G", "H"]
    assert ou.sort_places(out, "distance")["place_id"].tolist() == ["D", "A", "B", "G", "C", "H"]
    assert ou.sort_places(out, "freshness")["place_id"].iloc[0] == "D"  # updated "2020": the oldest
    with pytest.raises(ValueError, match="unknown sort"):
        ou.sort_places(out, "couleur")


def test_origin_must_be_finite(index):
    with pytest.raises(OrientationError, match="finite Lambert-93"):
        orient(index, np.nan, 0.0, Need())


def test_travel_minutes_formula():
    # 1 km by car at 50 km/h with a 1,3 detour: 1 000 × 1,3 / (50 000 / 60) = 1,56 min
    assert travel_minutes(1000.0, "car") == pytest.approx(1.56)
    assert travel_minutes(750.0, "walk") == pytest.approx(13.0)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("+33476233676", "04 76 23 36 76"), ("'+33 4 76 09 45 21", "04 76 09 45 21"), ("04.76.23.36.72", "04 76 23 36 72"),
     ("476401048", "04 76 40 10 48"), ("0033 4 76 00 00 01", "04 76 00 00 01"),
     ("04 26 99 72 60 / 06 42 45 30 25", "04 26 99 72 60 / 06 42 45 30 25"), ("3939", "3939"), (None, "")],
)
def test_normalise_phone(raw, shown):
    assert normalise_phone(raw) == shown


# ---------------------------------------------------------------------------------------------
# real data: Échirolles
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pack_places() -> pd.DataFrame:
    return pd.read_parquet(PACK / "places.parquet").drop(columns="geometry")


@pytest.fixture(scope="module")
def echirolles() -> pd.Series:
    c = pd.read_parquet(PACK / "zones_commune.parquet", columns=["code", "name", "rep_x", "rep_y"])
    return c[c["code"] == "38151"].iloc[0]


def brute_force(places: pd.DataFrame, x: float, y: float, service: str | None, day: str | None, window, max_min: float,
                speed_kmh: float = 4.5) -> list[str]:
    """Independent reading of the rule: reception point, not itinerant, service listed, an interval
    of that day overlapping the window by ≥ 30 min, straight line × 1,3 ÷ speed ≤ max_min."""
    out = []
    for r in places.itertuples():
        if not r.offers_digital_help or r.mobile:
            continue
        if service and (not isinstance(r.services, str) or service not in r.services.split(";")):
            continue
        if day:
            if not isinstance(r.hours_json, str):
                continue
            ivs = json.loads(r.hours_json).get(day) or []
            if not any(min(b, window[1]) - max(a, window[0]) >= 30 for a, b in ivs):
                continue
        t = np.hypot(r.x - x, r.y - y) * DETOUR / (speed_kmh * 1000 / 60)
        if t <= max_min:
            out.append((t, r.place_id))
    return [pid for _, pid in sorted(out)]


def test_mme_x_saturday_morning_procedures_in_echirolles(pack_places, echirolles):
    idx = PlaceIndex.from_places(pack_places, today=TODAY)
    o = orient(idx, echirolles["rep_x"], echirolles["rep_y"], Need(("demarches",), "sa", "morning", "walk", 30.0))
    expected = brute_force(pack_places, echirolles["rep_x"], echirolles["rep_y"], "demarches", "sa", (480, 720), 30.0)
    assert names(o) == expected
    assert len(expected) == 2  # Bibliothèque Pablo-Neruda (19 min), France services Pont-de-Claix (23 min)
    assert o.matches["name"].tolist() == ["Bibliothèque Pablo-Neruda", "France services Pimms Médiation Isère - Pont de Claix"]
    assert len(o.matches) < MIN_MATCHES and o.relaxations  # fewer than 3: wider searches are offered
    by_car = orient(idx, echirolles["rep_x"], echirolles["rep_y"], Need(("demarches",), "sa", "morning", "car", 30.0))
    assert names(by_car) == brute_force(pack_places, echirolles["rep_x"], echirolles["rep_y"], "demarches", "sa", (480, 720), 30.0, 50.0)


def test_default_list_of_echirolles_is_every_reception_point_within_30_min(pack_places, echirolles):
    idx = PlaceIndex.from_places(pack_places, today=TODAY)
    o = orient(idx, echirolles["rep_x"], echirolles["rep_y"], Need())
    expected = brute_force(pack_places, echirolles["rep_x"], echirolles["rep_y"], None, None, None, 30.0)
    # the brute force keeps places closed every day; the orientation does not
    assert names(o) == [p for p in expected if p in set(idx.places["place_id"])]
    assert len(o.matches) >= 3 and o.matches["minutes"].is_monotonic_increasing


def test_stale_share_of_the_pack(pack_places):
    # the most recent date of the pack is 2024-08-01 (ANCT France services list): on 2026-11-30
    # every place is 18 months old or more; on 2024-12-31 those 325 places are 4 months old
    assert pack_places["updated"].max() == "2024-08-01"
    assert stale_share(pack_places, TODAY) == 1.0
    recent = int((pack_places["updated"] == "2024-08-01").sum())
    assert recent == 325
    assert stale_share(pack_places, date(2024, 12, 31)) == pytest.approx(1 - recent / len(pack_places))


# ---------------------------------------------------------------------------------------------
# rendering: escaping, hours, table, fiche
# ---------------------------------------------------------------------------------------------


def test_esc_neutralises_html_and_markdown():
    out = ou.esc(HOSTILE)
    assert "<" not in out and "*" not in out and "$" not in out and "[" not in out
    assert "&lt;img" in out and "&amp;" in out


def test_place_card_escapes_every_data_string(index):
    o = orient(index, 0.0, 0.0, Need(("demarches",), "sa", "morning"))
    row = o.matches.iloc[0].copy()
    row["name"], row["address"], row["sources"] = HOSTILE, HOSTILE, "hinaura;<b>x</b>"
    row["website"], row["email"] = "javascript:alert(1)", "x@y.fr\"><script>"
    html = ou.place_card_html(row, o.need, {})
    assert "<img" not in html and "<script" not in html and "href=\"javascript" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Tél. 04 76 00 00 01" in html
    assert "<mark style='background:#fde68a'><b>9h00–12h00</b></mark>" in html  # Saturday morning highlighted
    assert "lun. 9h00–12h00" in html  # Monday, not asked, not highlighted


def test_hours_parts_highlight_the_asked_day_and_slot():
    hours = json.dumps({"mo": [[540, 720], [840, 1020]], "sa": [[600, 750]]})
    assert ou.hours_parts(hours, "sa", "morning") == [("lun.", [("9h00–12h00", False), ("14h00–17h00", False)]),
                                                      ("sam.", [("10h00–12h30", True)])]
    # a slot without a day: every day's matching intervals
    assert ou.hours_parts(hours, None, "afternoon") == [("lun.", [("9h00–12h00", False), ("14h00–17h00", True)]),
                                                        ("sam.", [("10h00–12h30", True)])]
    assert ou.hours_parts(None, "sa", None) is None


def test_texts_of_the_empty_case(index):
    need = Need(("demarches",), "su", "morning")
    o = orient(index, 0.0, 0.0, need)
    assert ou.empty_text(need, "Échirolles") == ("Aucun lieu proposant « Démarches administratives » ouvert le dimanche "
                                                 "matin à moins de 30 min à pied depuis Échirolles.")
    assert ou.funnel_text(o.funnel, need).startswith("À moins de 30 min à pied : 4 lieux d'accueil ; 3 proposant")
    assert ou.relaxation_text(o.relaxations[0], need) == "Le lundi matin : 1 lieu (le plus proche à 5 min)"


def test_places_table_has_french_columns_and_csv(index):
    table = ou.places_table(listing(index, Need(), origin=(0.0, 0.0)), {"38185": "Grenoble"})
    assert tuple(table.columns) == ou.TABLE_COLUMNS
    assert "Bibliothèque" in set(table["Type"]) and "bibliotheque" not in set(table["Type"])  # labels, never codes
    csv = ou.table_csv(table).decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("Lieu;Type;Adresse;Temps de trajet (min)")
    assert "5,0" in csv  # decimal comma (A: 5,2 min rounded to 5)


def _fiche(pack_places, echirolles, name_of_first: str | None = None) -> ou.Fiche:
    import geopandas as gpd

    idx = PlaceIndex.from_places(pack_places, today=TODAY)
    o = orient(idx, echirolles["rep_x"], echirolles["rep_y"], Need(("demarches",), "sa", "morning", "car", 30.0))
    if name_of_first:
        o.matches.loc[0, "name"] = name_of_first
    communes = pd.read_parquet(PACK / "zones_commune.parquet", columns=["code", "name", "rep_x", "rep_y"])
    fiche = ou.fiche_from(o, "Échirolles", (echirolles["rep_x"], echirolles["rep_y"]), TODAY,
                          dict(zip(communes["code"], communes["name"], strict=True)))
    iris = gpd.read_parquet(PACK / "zones_iris.parquet", columns=["code", "geometry"])
    return ou.fiche_background(fiche, iris, communes)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_fiche_pdf_is_one_a4_page_with_the_3_places(pack_places, echirolles, tmp_path):
    fiche = _fiche(pack_places, echirolles)
    assert len(fiche.places) == 3 and fiche.background
    pdf = tmp_path / "fiche.pdf"
    pdf.write_bytes(ou.fiche_pdf(fiche))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           1" in info and "595.276 x 841.89" in info  # one A4 page
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "DejaVuSans" in fonts and "DejaVuSans-Bold" in fonts
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for p in fiche.places:
        assert p.name.split(" - ")[0] in text and p.phone in text
    assert "« Démarches administratives »" in text and "samedi matin" in text and "10h00–12h30" in text
    assert "à actualiser" in text
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf), str(tmp_path / "fiche")], check=True)
    png = tmp_path / "fiche.png"
    assert png.stat().st_size > 20_000
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(png, SCREENSHOTS / "fiche_orientation.png")  # looked at by the developer


def test_fiche_pdf_and_html_escape_hostile_names(pack_places, echirolles, tmp_path):
    fiche = _fiche(pack_places, echirolles, name_of_first=HOSTILE + " & <b>gras</b>")
    pdf = tmp_path / "f.pdf"
    pdf.write_bytes(ou.fiche_pdf(fiche))  # ReportLab would fail on a raw "<img"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "<img src=x" in " ".join(text.split())  # shown as text
    page = ou.fiche_html(fiche)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "data:image/png;base64," in page


def test_fiche_without_places_says_why(pack_places, echirolles):
    idx = PlaceIndex.from_places(pack_places, today=TODAY)
    need = Need(("demarches",), "su", "evening", "walk", 10.0)
    o = orient(idx, echirolles["rep_x"], echirolles["rep_y"], need)
    fiche = ou.fiche_from(o, "Échirolles", (echirolles["rep_x"], echirolles["rep_y"]), TODAY, {})
    assert fiche.places == ()
    from dataclasses import replace

    fiche = replace(fiche, note=ou.empty_text(need, "Échirolles"))
    assert "Aucun lieu proposant" in ou.fiche_html(fiche)
    assert ou.fiche_pdf(fiche).startswith(b"%PDF")
