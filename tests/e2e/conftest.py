"""End-to-end harness: a Streamlit server in a subprocess + headless Debian Chromium (Playwright).

Browser tests are marked ``e2e``.  They are skipped when ``/usr/bin/chromium`` is absent, unless
``INCLUSION_REQUIRE_E2E=1`` (CI), which turns the missing browser into a failure.  Install it with
``apt-get update && apt-get install -y chromium`` (or ``.ci/install_frontend.sh --with-browser``).

Every request of the browser context is recorded; requests to any host other than
127.0.0.1/localhost are aborted (so the tests never reach the internet) and listed in
``page.external_requests`` for the tests to assert on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
SCREENSHOT_DIR = E2E_DIR / "screenshots"
CHROMIUM = Path(os.environ.get("INCLUSION_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
LOCAL_SCHEMES = {"data", "blob", "about"}
SERVER_START_TIMEOUT = 60.0


def is_local_url(url: str) -> bool:
    """True for data:/blob:/about: URLs and http(s)/ws(s) URLs on 127.0.0.1 or localhost."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname in LOCAL_HOSTS


def _skip_or_fail(reason: str) -> None:
    """Skip, or fail when CI requires the e2e tests (``INCLUSION_REQUIRE_E2E=1``)."""
    if os.environ.get("INCLUSION_REQUIRE_E2E") == "1":
        pytest.fail(reason + " [INCLUSION_REQUIRE_E2E=1]", pytrace=False)
    pytest.skip(reason)


def _require_browser() -> None:
    if not CHROMIUM.exists():
        _skip_or_fail(
            f"{CHROMIUM} not found: install it with `apt-get update && apt-get install -y "
            "chromium` (or .ci/install_frontend.sh --with-browser)"
        )


@pytest.fixture(scope="session")
def vendored_leaflet():
    """The vendored Leaflet files (skip, or fail under INCLUSION_REQUIRE_E2E=1, if absent)."""
    from ui.offline_assets import MissingAssetError, check_assets

    try:
        return check_assets()
    except MissingAssetError as exc:
        _skip_or_fail(str(exc))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """``python -m streamlit run <app>`` on a free port of 127.0.0.1; stopped by :meth:`stop`."""

    def __init__(self, app: Path, log_path: Path, env: dict[str, str] | None = None):
        self.port = _free_port()
        base = (env or {}).get("STREAMLIT_SERVER_BASE_URL_PATH", "").strip("/")
        self.url = f"http://127.0.0.1:{self.port}" + (f"/{base}" if base else "")
        self.log_path = log_path
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.enableStaticServing",
            "true",
            "--server.fileWatcherType",
            "none",
            "--server.runOnSave",
            "false",
        ]
        full_env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(REPO_DIR), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        )
        full_env.update(env or {})
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=app.parent, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"streamlit did not answer on {self.url} in {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def streamlit_app(tmp_path):
    """Factory: ``streamlit_app(app_path, env=None, static_dir=None)`` → started server.

    With ``static_dir``, the app is copied into a temporary folder beside a ``static`` link to
    ``static_dir`` (Streamlit serves ``<app folder>/static`` at ``/app/static``).
    """
    servers: list[StreamlitServer] = []

    def start(app: Path, env: dict[str, str] | None = None, static_dir: Path | None = None) -> StreamlitServer:
        app = Path(app)
        if static_dir is not None:
            run_dir = tmp_path / f"app{len(servers)}"
            run_dir.mkdir()
            shutil.copy(app, run_dir / app.name)
            (run_dir / "static").symlink_to(Path(static_dir).resolve(), target_is_directory=True)
            app = run_dir / app.name
        server = StreamlitServer(app, tmp_path / f"streamlit{len(servers)}.log", env)
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page whose context blocks and records every non-local request.

    Attributes added: ``requests`` (all URLs), ``external_requests`` (non-local URLs, aborted),
    ``dialogs`` (alert/confirm messages — an injected script would show up here),
    ``console_errors``.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", service_workers="block")
    pg = context.new_page()
    pg.requests, pg.external_requests, pg.dialogs, pg.console_errors = [], [], [], []

    def on_request(request):
        pg.requests.append(request.url)
        if not is_local_url(request.url):
            pg.external_requests.append(request.url)

    def route(route_):
        if is_local_url(route_.request.url):
            route_.continue_()
        else:
            route_.abort()

    def on_dialog(dialog):
        pg.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_websocket(ws):
        pg.requests.append(ws.url)
        if not is_local_url(ws.url):
            pg.external_requests.append(ws.url)

    context.on("request", on_request)
    context.route("**/*", route)
    pg.on("websocket", on_websocket)
    pg.on("dialog", on_dialog)
    pg.on("console", lambda msg: pg.console_errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """The real app (``app.py``) served once per test module, so its caches stay warm between tests.

    Skips (or fails under ``INCLUSION_REQUIRE_E2E=1``) before starting when Chromium is absent.
    """
    _require_browser()
    with served_app(tmp_path_factory.mktemp("app") / "streamlit.log") as server:
        yield server


@contextlib.contextmanager
def served_app(log_path: Path, env: dict[str, str] | None = None):
    """The real app (``app.py``) in a server process while the block runs, stopped after it."""
    server = StreamlitServer(REPO_DIR / "app.py", log_path, env=env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def wide_page(browser):
    """Like :func:`page` at 1440 × 900 (a desk screen), downloads accepted; records and aborts
    every non-local request (``external_requests``) and records dialogs."""
    with guarded_page(browser, width=1440, height=900, accept_downloads=True) as pg:
        yield pg


@contextlib.contextmanager
def guarded_page(browser, *, width: int, height: int, **context_options):
    """A page in a fresh French context of ``width`` × ``height``: every non-local request is
    aborted and recorded (``external_requests``), dialogs are recorded and dismissed."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR", service_workers="block",
                                  **context_options)
    pg = context.new_page()
    pg.external_requests, pg.dialogs = [], []
    context.on("request", lambda r: None if is_local_url(r.url) else pg.external_requests.append(r.url))
    context.route("**/*", lambda route_: route_.continue_() if is_local_url(route_.request.url) else route_.abort())
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    try:
        yield pg
    finally:
        context.close()
