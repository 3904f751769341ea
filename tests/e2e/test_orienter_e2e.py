"""Orienter page in headless Chromium at 1440 × 900: the case of Mme X in at most 5 interactions.

« Mme X lives in Échirolles, has no computer, needs help with an online CAF procedure, can only
come on Saturday morning. » The worker opens the link ``/orienter?t=com:38151``, picks
« Démarches administratives », « sam. », « matin » and downloads the fiche (PDF). Expected places
(from the pack: reception points offering démarches, open on Saturday between 8 and 12 for at
least 30 min, within 30 min on foot of Échirolles' central point): Bibliothèque Pablo-Neruda and
France services Pimms Médiation Isère - Pont de Claix. Screenshot: ``screenshots/orienter.png``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("vendored_leaflet")]

SCREENSHOT_DIR = Path(__file__).with_name("screenshots")
FOLIUM_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
COLD_TIMEOUT = 120_000
MAX_INTERACTIONS = 5
EXPECTED = ["Bibliothèque Pablo-Neruda", "France services Pimms Médiation Isère - Pont de Claix"]


def wait_idle(page, timeout: float = 30_000) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')", timeout=timeout)
    time.sleep(0.4)


def test_mme_x_saturday_morning_in_five_interactions(wide_page, app_server, tmp_path):
    page, done = wide_page, []

    def interact(what: str) -> None:
        done.append(what)
        assert len(done) <= MAX_INTERACTIONS, done

    interact("open the link")
    page.goto(f"{app_server.url}/orienter?t=com:38151")
    page.get_by_text("Où habite la personne").wait_for(timeout=COLD_TIMEOUT)
    page.get_by_text("21 lieux").first.wait_for(timeout=COLD_TIMEOUT)  # the first screen already lists places
    wait_idle(page)

    interact("Démarches administratives")
    page.get_by_role("button", name="Démarches administratives", exact=True).click()
    wait_idle(page)
    interact("samedi")
    page.get_by_role("radio", name="sam.", exact=True).click()
    wait_idle(page)
    interact("matin")
    page.get_by_role("radio", name="matin", exact=True).click()
    summary = page.get_by_text("2 lieux", exact=True)
    summary.wait_for(timeout=30_000)
    wait_idle(page)
    cards = page.locator("div.orient-card")
    assert cards.count() == 2
    for card, name in zip(cards.all(), EXPECTED, strict=True):
        text = card.inner_text()
        assert name in text and "Tél. 04" in text and "sam." in text
    assert page.locator("mark").count() >= 2  # the Saturday morning hours highlighted
    page.frame_locator(FOLIUM_IFRAME).locator("path.inc-point").first.wait_for(timeout=30_000)
    # the picks and the answer on one screen: scroll to the need's pills
    page.get_by_text("Besoin (un ou plusieurs)").evaluate(
        """e => { e.scrollIntoView({block: 'start'});
                  let p = e.parentElement;  // then 70 px back down, from under the app's header
                  while (p && p.scrollHeight <= p.clientHeight) p = p.parentElement;
                  if (p) p.scrollBy(0, -70); }""")
    page.mouse.move(5, 890)  # no map tooltip under the pointer
    time.sleep(1.0)
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "orienter.png"))

    interact("download the fiche")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Fiche d'orientation (PDF)").click()
    pdf = tmp_path / "fiche.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        assert "Pages:           1" in subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
        text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split())
        assert "Bibliothèque Pablo-Neruda" in text and "samedi matin" in text and "Tél. 04 76 20 64 51" in text
    assert len(done) <= MAX_INTERACTIONS
    assert page.external_requests == [] and page.dialogs == []


def test_list_of_the_territory_opens_and_downloads_as_csv(wide_page, app_server, tmp_path):
    page = wide_page
    page.goto(f"{app_server.url}/orienter?t=com:38151")
    page.get_by_text("21 lieux").first.wait_for(timeout=COLD_TIMEOUT)
    wait_idle(page)
    page.get_by_text("Tous les lieux du territoire").click()  # drawn when opened (lazy expander)
    button = page.get_by_role("button", name="Télécharger la liste (CSV)")
    button.wait_for(timeout=30_000)
    wait_idle(page)
    with page.expect_download(timeout=60_000) as info:
        button.click()
    csv = tmp_path / "lieux.csv"
    info.value.save_as(csv)
    lines = csv.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Lieu;Type;Adresse;Temps de trajet (min);Distance à vol d'oiseau (km)")
    assert len(lines) == 1 + 17 and any(line.startswith("Mairie d'Echirolles;Mairie;") for line in lines)
    assert page.external_requests == [] and page.dialogs == []
