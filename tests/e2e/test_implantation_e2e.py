"""Implantation page in headless Chromium: run a scenario, see the chosen sites drawn, save, reload.

A server of its own with a temporary scenario workspace (``INCLUSION_WORKSPACE``), so that the
reload after a server restart reads what the first server saved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planning.scenarios import ScenarioStore
from tests.e2e.conftest import REPO_DIR, StreamlitServer, _require_browser
from ui.folium_map import POINT_CLASS, ZONE_CLASS

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("vendored_leaflet")]
SCREENSHOT_DIR = Path(__file__).with_name("screenshots")
FOLIUM_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
COLD_TIMEOUT = 120_000


def _server(tmp: Path, workspace: Path) -> StreamlitServer:
    _require_browser()
    server = StreamlitServer(REPO_DIR / "app.py", tmp / "streamlit.log", env={"INCLUSION_WORKSPACE": str(workspace)})
    server.wait_ready()
    return server


def test_run_scenario_draw_sites_save_and_reload(page, tmp_path):
    workspace = tmp_path / "scenarios.sqlite"
    server = _server(tmp_path, workspace)
    try:
        page.goto(f"{server.url}/implantation")
        page.frame_locator(FOLIUM_IFRAME).locator(f"path.{ZONE_CLASS}").first.wait_for(timeout=COLD_TIMEOUT)
        points_before = page.frame_locator(FOLIUM_IFRAME).locator(f"path.{POINT_CLASS}").count()
        page.locator(FOLIUM_IFRAME).element_handle().content_frame().evaluate("() => { window.__sameDocument = true; }")
        page.get_by_role("button", name="Calculer les meilleurs emplacements").click()
        page.get_by_text("Personnes en besoin à portée", exact=True).wait_for(timeout=COLD_TIMEOUT)
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')"
            f" && document.querySelectorAll('{FOLIUM_IFRAME}').length === 1",
            timeout=COLD_TIMEOUT,
        )
        # the proposed sites are drawn as extra points on the map: 2 at the default 15 min (a
        # third one would add nobody, and the page says so)
        frame = page.frame_locator(FOLIUM_IFRAME)
        frame.locator(f"path.{POINT_CLASS}").nth(points_before + 1).wait_for(timeout=30_000)
        assert frame.locator(f"path.{POINT_CLASS}").count() == points_before + 2
        page.get_by_text("aucun site n'ajoute de personnes à portée").wait_for()
        # the sites were added to the map in place (the same iframe document, not a reloaded map)
        assert page.locator(FOLIUM_IFRAME).element_handle().content_frame().evaluate("() => window.__sameDocument === true")
        assert frame.get_by_text("Lieux proposés").count() == 1  # legend entry
        # a click on the map adds a candidate point, drawn in place as well
        frame.locator(".leaflet-container").click(position={"x": 60, "y": 60})
        frame.get_by_text("Points candidats (clic)").wait_for(timeout=30_000)
        assert page.locator(FOLIUM_IFRAME).element_handle().content_frame().evaluate("() => window.__sameDocument === true")
        page.get_by_label("Nom du scénario").fill("Essai navigateur")
        page.get_by_label("Nom du scénario").press("Enter")
        page.get_by_role("button", name="Enregistrer le scénario").click()
        page.get_by_text("Scénario « Essai navigateur » enregistré.").wait_for(timeout=30_000)
        SCREENSHOT_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "implantation.png"), full_page=True)
        # a reload (a new session) shows the same result again: the plan travels in the link
        assert "plan=mclp-3-15-exact-24-1-500-1-h" in page.url
        page.reload()
        page.get_by_text("Personnes en besoin à portée", exact=True).wait_for(timeout=COLD_TIMEOUT)
        page.get_by_text("résultat déjà calculé", exact=False).first.wait_for(timeout=30_000)
    finally:
        server.stop()
    saved = ScenarioStore(workspace).list()
    assert [s["name"] for s in saved] == ["Essai navigateur"]

    server = _server(tmp_path, workspace)  # restart: the scenario is still listed
    try:
        page.goto(f"{server.url}/implantation")
        page.get_by_text("Scénarios enregistrés").wait_for(timeout=COLD_TIMEOUT)
        # the saved list is a data grid (canvas): its cells are in the DOM but not "visible"
        page.get_by_text("Essai navigateur").first.wait_for(state="attached", timeout=30_000)
    finally:
        server.stop()
