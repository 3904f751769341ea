"""Page URLs opened directly and the server's start (issue #15), in headless Chromium.

A page's URL (``/diagnostic``) is served with the server's root written in it
(``ui.navigation.page_routes``): the front end no longer probes ``/diagnostic/_stcore/health``
and ``/diagnostic/_stcore/host-config`` (two 404s in the console). ``/donnees-methode`` opens
Données & méthode and an unknown URL is redirected to Carte, never Streamlit's English
« Page not found ». Each test uses the module's server (``app_server``: a fresh process, whose
caches the warm-up of ``ui.warmup`` fills at start).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("vendored_leaflet")]

COLD_TIMEOUT = 120_000  # ms


def _record_errors(page) -> list[tuple[int, str]]:
    """HTTP responses of status ≥ 400 of this page (filled as they arrive)."""
    bad: list[tuple[int, str]] = []
    page.on("response", lambda r: bad.append((r.status, r.url)) if r.status >= 400 else None)
    return bad


def _wait_idle(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')", timeout=COLD_TIMEOUT
    )


def test_page_url_opened_directly_logs_no_404(page, app_server):
    bad = _record_errors(page)
    page.goto(f"{app_server.url}/diagnostic")
    page.locator("h1", has_text="Diagnostic").first.wait_for(timeout=COLD_TIMEOUT)
    _wait_idle(page)
    assert bad == []
    assert not [e for e in page.console_errors if "404" in e]
    assert page.url.split("?")[0].endswith("/diagnostic")
    assert page.external_requests == []


def test_hyphenated_url_opens_donnees_methode(page, app_server):
    bad = _record_errors(page)
    page.goto(f"{app_server.url}/donnees-methode")
    page.locator("h1", has_text="Données & méthode").first.wait_for(timeout=COLD_TIMEOUT)
    _wait_idle(page)
    assert page.locator("h1").first.inner_text() == "Données & méthode"
    assert page.get_by_text("Page not found").count() == 0
    assert bad == []


def test_unknown_url_opens_carte_without_english(page, app_server):
    """An unknown one-segment URL is redirected to the root, query kept (ui.navigation.UnknownPageRedirect):
    no « Page not found » dialog (Streamlit's front end decides it, in English), no 404."""
    bad = _record_errors(page)
    page.goto(f"{app_server.url}/nulle-part?t=dep:38")
    page.locator("h1", has_text="Carte").first.wait_for(timeout=COLD_TIMEOUT)
    _wait_idle(page)
    assert "Isère" in page.locator("h1").first.inner_text()
    assert page.get_by_text("not found", exact=False).count() == 0
    # the redirect says which page was asked for, once: the parameter leaves the address
    assert page.get_by_text("La page « nulle-part » n'existe pas dans l'outil").count() == 1
    url = urlsplit(page.url)
    assert url.path == "/" and parse_qs(url.query) == {"t": ["dep:38"]}
    assert bad == []


def test_old_underscore_url_still_opens_donnees_methode(page, app_server):
    page.goto(f"{app_server.url}/donnees_methode")
    page.locator("h1", has_text="Données & méthode").first.wait_for(timeout=COLD_TIMEOUT)
    assert page.get_by_text("Page not found").count() == 0


def test_the_servers_first_visit_runs_the_page_once(page, streamlit_app):
    """A fresh server's first visit used to run ``app.py`` twice: Streamlit starts in its legacy
    ``pages/`` mode, and ``use_app_navigation`` left it with a rerun. The server now leaves that
    mode at start (``ui.navigation.navigation_from_server_start``): one session, one script run."""
    runs: list[str] = []

    def on_frame(payload) -> None:
        msg = ForwardMsg()
        try:
            msg.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
        except Exception:  # noqa: BLE001 - not a ForwardMsg
            return
        if msg.WhichOneof("type") == "new_session":
            runs.append(msg.new_session.page_script_hash)

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    server = streamlit_app(Path(__file__).resolve().parents[2] / "app.py")
    page.goto(server.url)
    page.locator("h1", has_text="Carte").first.wait_for(timeout=COLD_TIMEOUT)
    _wait_idle(page)
    assert len(runs) == 1, runs
