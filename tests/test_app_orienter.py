"""Orienter page, run headless with Streamlit's AppTest on the committed pack.

Expected lists come from the pack itself, read independently of ``indicators.orientation``:
reception points (``offers_digital_help``, not itinerant) within 30 min on foot of Échirolles'
demand point (straight line × 1,3 ÷ 4,5 km/h), their services and their ``hours_json``.
The freshness badge of the Carte popups and of the zone explanation is checked here too.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from indicators.orientation import normalise_phone
from ui.labels import PLACE_TYPE_LABELS
from ui.orientation import POINT_KEY

REPO_DIR = Path(__file__).resolve().parents[1]
APP = str(REPO_DIR / "app.py")
PACK = REPO_DIR / "geodata" / "pack"
ECHIROLLES = "38151"
TIMEOUT = 120
WALK_M_PER_MIN = 4.5 * 1000 / 60


def open_orienter(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.switch_page("pages/orienter.py")
    return at.run()


@pytest.fixture(scope="module")
def places() -> pd.DataFrame:
    return pd.read_parquet(PACK / "places.parquet").drop(columns="geometry")


@pytest.fixture(scope="module")
def origin() -> tuple[float, float]:
    c = pd.read_parquet(PACK / "zones_commune.parquet", columns=["code", "rep_x", "rep_y"]).set_index("code")
    return float(c.at[ECHIROLLES, "rep_x"]), float(c.at[ECHIROLLES, "rep_y"])


def reachable(places: pd.DataFrame, origin, max_min: float = 30.0) -> pd.DataFrame:
    """Reception points within ``max_min`` on foot, nearest first (independent of the page's code)."""
    p = places[places["offers_digital_help"] & ~places["mobile"]].copy()
    p["minutes"] = np.hypot(p["x"] - origin[0], p["y"] - origin[1]) * 1.3 / WALK_M_PER_MIN
    return p[p["minutes"] <= max_min].sort_values(["minutes", "place_id"])


def open_in(hours_json, day: str, start: int, end: int) -> bool:
    if not isinstance(hours_json, str):
        return False
    return any(min(b, end) - max(a, start) >= 30 for a, b in json.loads(hours_json).get(day) or [])


def cards(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("<div class='orient-card'")]


def card_name(card: str) -> str:
    return re.search(r"<b>\d+\. (.*?)</b>", card).group(1)


def card_minutes(card: str) -> int:
    return int(re.search(r"<b>(\d+) min à pied", card).group(1))


@pytest.fixture(scope="module")
def echirolles() -> AppTest:
    return open_orienter(t=f"com:{ECHIROLLES}")


def test_opens_on_echirolles_from_the_link(echirolles):
    at = echirolles
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value.startswith("Orienter — Échirolles")
    assert not at.error and not at.warning
    assert at.text_input.len == 0 and at.text_area.len == 0  # no field about the person, no name


def test_first_screen_lists_the_nearest_places_with_their_phones(echirolles, places, origin):
    shown = cards(echirolles)
    assert len(shown) >= 3
    expected = reachable(places, origin)
    # nearest first, as in the pack; the first three carry their phone number
    assert [card_name(c) for c in shown] == [n.replace("'", "&#39;") for n in expected["name"].head(len(shown))]
    minutes = [card_minutes(c) for c in shown]
    assert minutes == sorted(minutes)
    for card, phone in zip(shown[:3], expected["phone"].head(3), strict=True):
        assert isinstance(phone, str) and f"Tél. {normalise_phone(phone)}" in card
    assert "Tél. 04 76 20 63 00" in shown[0]  # Mairie d'Échirolles, 3 min on foot
    assert any(f"**{len(expected)} lieux**" in m.value for m in echirolles.markdown)


def test_saturday_morning_procedures_lists_only_places_open_then(places, origin):
    at = open_orienter(t=f"com:{ECHIROLLES}")
    at.pills(key="orient_services").set_value(["demarches"]).run()
    at.pills(key="orient_day").set_value("sa").run()
    at.pills(key="orient_slot").set_value("morning").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [card_name(c) for c in cards(at)]
    near = reachable(places, origin)
    ok = near[near["services"].fillna("").str.split(";").map(lambda s: "demarches" in s)
              & near["hours_json"].map(lambda h: open_in(h, "sa", 480, 720))]
    assert shown == ok["name"].tolist() == ["Bibliothèque Pablo-Neruda", "France services Pimms Médiation Isère - Pont de Claix"]
    # each one really offers démarches and opens on Saturday between 8 and 12 (the pack's hours)
    for name in shown:
        row = places[places["name"] == name].iloc[0]
        assert "demarches" in row["services"].split(";") and open_in(row["hours_json"], "sa", 480, 720)
    assert all("<mark" in c and "sam. " in c for c in cards(at))  # the Saturday morning hours highlighted
    # fewer than 3: wider searches are offered, with their counts
    labels = [b.label for b in at.button if b.key and b.key.startswith("orient_relax_")]
    assert "En voiture (30 min au plus) : 8 lieux (le plus proche à 2 min)" in labels


def test_empty_case_explains_itself_and_offers_relaxations():
    at = open_orienter(t=f"com:{ECHIROLLES}")
    at.pills(key="orient_services").set_value(["demarches"]).run()
    at.pills(key="orient_day").set_value("su").run()
    at.pills(key="orient_slot").set_value("morning").run()
    assert cards(at) == []
    assert at.warning[0].value == ("Aucun lieu proposant « Démarches administratives » ouvert le dimanche matin à moins "
                                   "de 30 min à pied depuis Échirolles (point central).")
    funnel = [c.value for c in at.caption if c.value.startswith("À moins de 30 min à pied")][0]
    assert re.match(r"À moins de 30 min à pied : 21 lieux d'accueil ; 5 proposant « Démarches administratives » "
                    r"\(10 lieux ne publient pas leurs services : appelez-les\) ; 0 ouverts le dimanche matin", funnel)
    buttons = [b for b in at.button if b.key and b.key.startswith("orient_relax_")]
    assert [b.label for b in buttons][:2] == ["Le lundi matin : 3 lieux (le plus proche à 18 min)",
                                               "Le mardi matin : 2 lieux (le plus proche à 21 min)"]
    buttons[0].click().run()  # the relaxation is applied to the widgets
    assert at.pills(key="orient_day").value == "mo" and len(cards(at)) == 3


def test_territory_list_in_french_with_csv(places):
    at = open_orienter(t=f"com:{ECHIROLLES}")
    assert at.expander[0].label.startswith("Tous les lieux du territoire") and at.dataframe.len == 0  # drawn when opened
    at.session_state["orient_list_open"] = True
    at.run()
    table = at.dataframe[-1].value
    assert list(table.columns[:4]) == ["Lieu", "Type", "Adresse", "Temps de trajet (min)"]
    in_commune = places[(places["code_commune"] == ECHIROLLES) & ~places["mobile"]]
    assert len(table) == len(in_commune)  # reception points and libraries of the commune, no bus
    assert set(table["Type"]) <= set(PLACE_TYPE_LABELS.values())  # labels, never codes
    assert table["Temps de trajet (min)"].is_monotonic_increasing
    at.selectbox(key="list_sort").set_value("freshness").run()
    assert at.dataframe[-1].value["Fraîcheur"].iloc[0] == "à actualiser"
    assert any(d.label == "Télécharger la liste (CSV)" for d in at.get("download_button"))


def test_default_view_metropole_runs():
    at = open_orienter()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value.startswith("Orienter — Grenoble-Alpes-Métropole")
    assert len(cards(at)) >= 3


# ---------------------------------------------------------------------------------------------
# the freshness badge elsewhere (Carte popups, zone explanation)
# ---------------------------------------------------------------------------------------------


def test_place_popup_carries_the_freshness_badge():
    from ui.explain import place_popup

    row = pd.Series({"name": "Lieu", "type": "caf", "updated": "2026-08-01", "sources": "hinaura", "phone": "+33476000000"})
    recent = str(place_popup(row, {"caf": "CAF"}, {}, date(2026, 11, 30)))  # 3 months
    assert ">à jour</span>" in recent and "Tél. :</i> 04 76 00 00 00" in recent and "Hinaura" in recent
    old = str(place_popup(row.copy().replace("2026-08-01", "2025-01-15"), {"caf": "CAF"}, {}, date(2026, 11, 30)))
    assert ">à actualiser</span>" in old and old.endswith("mise à jour 15/01/2025")


def test_nearest_places_of_a_zone_show_labels_phone_and_freshness(places):
    from ui.explain import nearest_places

    zone = pd.Series({"rep_x": 913339.66, "rep_y": 6453453.2})
    kept = places[places["offers_digital_help"] & ~places["mobile"]]
    near = nearest_places(zone, kept, k=3, today=date(2026, 11, 30))
    assert list(near.columns[-2:]) == ["Téléphone", "Fiche"]
    assert near["Lieu"].iloc[0] == "Mairie d'Echirolles" and near["Type"].iloc[0] == "Mairie"
    assert near["Téléphone"].iloc[0] == "04 76 20 63 00"
    assert near["Fiche"].iloc[0] == "🔴 à actualiser (17/08/2021)"


# ---------------------------------------------------------------------------------------------
# where from: a clicked point, the travel mode of the zone, uploaded places, every territory
# ---------------------------------------------------------------------------------------------


def test_a_point_clicked_on_the_map_becomes_the_start(monkeypatch):
    import ui.folium_map

    clicks: list = [None]
    real = ui.folium_map.show_map_with_clicks

    def spy(m, *, key, height=560):
        real(m, key=key, height=height)
        return None, clicks[-1]

    monkeypatch.setattr(ui.folium_map, "show_map_with_clicks", spy)  # the page imports it at each run
    at = open_orienter(t=f"com:{ECHIROLLES}")
    before = cards(at)
    at.selectbox(key=f"orient_origin_com:{ECHIROLLES}").set_value("point").run()
    assert any(i.value == "Cliquez sur la carte pour placer le point de départ." for i in at.info)
    clicks.append((5.7005, 45.1460))  # near the Grand'Place, north of Échirolles' centre
    at.run()  # the page reads the click, stores the point and reruns
    at.run()
    summary = [m.value for m in at.markdown if m.value.startswith("**") and "lieux**" in m.value][0]
    assert "depuis un point choisi sur la carte (" in summary and "Échirolles" in summary
    assert cards(at) and cards(at) != before


def test_travel_mode_follows_the_zone_until_chosen(places):
    c = pd.read_parquet(PACK / "zones_commune.parquet", columns=["code", "population", "area_km2"])
    sparse = c[(c["population"] / c["area_km2"]) < 100].sort_values("code")["code"].iloc[0]
    at = open_orienter(t=f"com:{sparse}")
    assert at.segmented_control(key="orient_mode").value == "car"  # a sparse commune drives (access indicator)
    at = open_orienter(t=f"com:{ECHIROLLES}")
    assert at.segmented_control(key="orient_mode").value == "walk"  # 4 650 inhabitants / km², 7,9 km²


def test_uploaded_place_with_a_hostile_name_is_escaped(origin):
    import geopandas as gpd
    from shapely.geometry import Point

    hostile = gpd.GeoDataFrame(
        {"place_id": ["import:1"], "name": ["<img src=x onerror=alert(1)> *gras*"], "type": ["association"],
         "services": ["demarches"], "x": [origin[0] + 50], "y": [origin[1]], "lon": [5.70], "lat": [45.15],
         "offers_digital_help": [True], "mobile": [False], "hours_json": [None], "phone": ["0476 <script>"],
         "sources": ["import_utilisateur"], "updated": [(date.today() - timedelta(days=20)).isoformat()], "code_commune": [ECHIROLLES]},
        geometry=[Point(origin[0] + 50, origin[1])], crs="EPSG:2154")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"t": f"com:{ECHIROLLES}"})
    at.session_state["user_places"] = hostile
    at.switch_page("pages/orienter.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    first = cards(at)[0]
    assert "&lt;img src=x onerror=alert(1)&gt; &#42;gras&#42;" in first and "<img" not in first
    assert "Tél. 0476 &lt;script&gt;" in first and "<script" not in first
    assert "à jour</span>" in first  # updated 20 days ago


@pytest.mark.parametrize("first", ["reg:84", "com:69123"])
def test_every_territory_opens(first):
    """The région, every département, every EPCI (and Lyon, a commune without IRIS): no exception."""
    keys = [first]
    if first == "reg:84":
        for kind, level in (("dep", "departement"), ("epci", "epci")):
            keys += [f"{kind}:{c}" for c in sorted(pd.read_parquet(PACK / f"zones_{level}.parquet", columns=["code"])["code"])]
        assert len(keys) == 1 + 12 + 172
    at = open_orienter(t=first)
    failures = []
    for key in keys:
        if at.selectbox(key="picker_territory").value != key:
            at.selectbox(key="picker_territory").set_value(key).run()
        problems = [e.value for e in at.exception] + [e.value for e in at.error]
        if problems or not at.title[0].value.startswith("Orienter —"):
            failures.append((key, problems[:1]))
    assert not failures, failures[:5]


def test_carte_popups_carry_the_freshness_badge():
    from tests.map_helpers import map_args, point_features
    from ui.folium_map import POINT_CLASS

    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params.update({"t": f"com:{ECHIROLLES}"})
    at.run()
    pops = [f["properties"].get("pop", "") for f in point_features(map_args(at), POINT_CLASS)]
    places = [p for p in pops if "<i>Source :</i>" in p]  # the QPV markers have their own popups
    assert len(places) >= 20 and all(">à actualiser</span>" in p for p in places)  # every date of the pack is ≥ 18 months old


@pytest.mark.parametrize("territory", ["reg:84", "dep:38"])
def test_a_departement_or_the_region_asks_for_the_persons_commune_first(territory):
    """No start at the centre of population of the région (in the Loire) or of a département: the
    page asks for the commune, then answers from it; a clicked point is also offered."""
    at = open_orienter(t=territory)
    assert not at.exception, at.exception
    box = at.selectbox(key=f"orient_origin_{territory}")
    assert box.value is None and not any("centre de population" in str(o) for o in box.options)
    assert "un point central ne dit rien de son trajet" in at.info[0].value
    assert not cards(at)
    box.set_value("commune:38151").run()  # Échirolles
    assert not at.exception, at.exception
    assert cards(at) and not any("un point central" in i.value for i in at.info)
    at.selectbox(key=f"orient_origin_{territory}").set_value(POINT_KEY).run()
    assert not at.exception, at.exception
    assert "un point central" in at.info[0].value  # the map is there to click on


def test_an_epci_still_starts_at_its_centre_of_population():
    at = open_orienter(t="epci:200040715")
    assert at.selectbox(key="orient_origin_epci:200040715").value == "epci:200040715"
    assert cards(at)


def test_on_the_region_a_clicked_point_starts_the_search(monkeypatch):
    """« Un point cliqué sur la carte » on the région: the map is drawn before any start, and a
    click there becomes the start (the page then answers from it)."""
    import ui.folium_map

    clicks: list = [None]
    drawn: list = []
    real = ui.folium_map.show_map_with_clicks

    def spy(m, *, key, height=560):
        drawn.append(key)
        real(m, key=key, height=height)
        return None, clicks[-1]

    monkeypatch.setattr(ui.folium_map, "show_map_with_clicks", spy)
    at = open_orienter(t="reg:84")
    assert not drawn and not cards(at)  # nothing to click on until the point is chosen
    at.selectbox(key="orient_origin_reg:84").set_value(POINT_KEY).run()
    assert drawn and not cards(at) and "un point central" in at.info[0].value
    clicks.append((5.7005, 45.1460))  # Échirolles
    at.run()
    at.run()
    assert not at.exception, at.exception
    summary = [m.value for m in at.markdown if m.value.startswith("**") and "lieux**" in m.value][0]
    assert "depuis un point choisi sur la carte (" in summary and cards(at)
