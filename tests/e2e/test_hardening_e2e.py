"""Hardening in the browser (issue #14): crafted links render no link or image, the uploader
speaks French. The cases themselves are built in tests/test_hardening.py."""

from __future__ import annotations

import pytest

from tests.test_hardening import CRAFTED


@pytest.mark.e2e
def test_crafted_link_renders_no_link_or_image_in_chromium(app_server, page):
    """In the browser: the notices hold text only (no <a>, no <img>) and nothing is fetched outside."""
    from urllib.parse import urlencode

    server, pg = app_server, page
    pg.goto(f"{server.url}/comparer?" + urlencode({k: CRAFTED[k] for k in ("t", "lvl", "layer", "cls", "preset")}))
    pg.wait_for_selector('[data-testid="stAlert"]', timeout=120_000)
    pg.wait_for_timeout(1000)
    alerts = pg.locator('[data-testid="stAlert"]')
    assert alerts.count() >= 5
    for i in range(alerts.count()):
        assert alerts.nth(i).locator("a, img, iframe, script").count() == 0
    assert "Cliquez ici pour vous reconnecter](https:" in alerts.first.inner_text().replace("\u200b", "")
    assert not pg.external_requests and not pg.dialogs


@pytest.mark.e2e
def test_uploader_drop_zone_is_in_french_in_chromium(app_server, page):
    """Streamlit's « Upload » and « 200MB per file » are replaced by French text (ui.session_places)."""
    server, pg = app_server, page
    pg.goto(f"{server.url}/donnees_methode")
    pg.get_by_role("tab", name="Importer vos lieux").click()
    zone = pg.locator('[data-testid="stFileUploaderDropzone"]').first
    zone.wait_for(timeout=120_000)
    pg.wait_for_timeout(500)
    assert not pg.locator('[data-testid="stFileUploaderDropzoneInstructions"]').first.is_visible()
    button = zone.locator("button")
    assert not button.locator('[data-testid="stMarkdownContainer"]').is_visible()  # « Upload »
    after = button.locator("span[data-has-shortcut]").evaluate("e => getComputedStyle(e, '::after').content")
    assert after == '"Choisir un fichier"'
    assert "5 Mo au plus" in pg.locator('[data-testid="stFileUploader"]').first.inner_text()
