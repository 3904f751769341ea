"""Warm the app's caches at server start, before the first visit (issue #15).

Why: the caches of the pages are filled by the first session that needs them, so the first visit
after a server start paid for the pack (≈ 0.3 s), the first indicator run over every AURA IRIS
and the map layers of the default territory: 5.0–6.7 s to a drawn map against 1.9–2.1 s warm.

What: :func:`warm_default_view` runs once per process. It calls the very cached functions the
Carte page calls for its default view (Grenoble-Alpes-Métropole, IRIS, default configuration, no
uploaded places) with the same arguments, so it fills the same ``st.cache_data`` /
``st.cache_resource`` entries (their key is the function and its arguments). ``app.py`` serves
an ``st.App`` whose ASGI lifespan (:func:`lifespan`) imports the page's modules (:func:`preload`)
and runs the warm-up (:func:`run_now`) before the server answers, so the work is done before
anyone connects; AppTest runs of ``app.py`` do not start it. :func:`start` runs it in a daemon
thread instead (tests): a visit arriving meanwhile does not start a second computation
(Streamlit's caches hold one lock per entry while it is computed; ``tests/test_warmup.py``
checks that it runs once) and waits for it (:func:`wait`). An error is logged, never raised: the
pages compute what is missing as they always did.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections.abc import AsyncIterator

from ui.state import ViewState

_LOG = logging.getLogger(__name__)
_THREAD_NAME = "inclusion-warmup"
_CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"
_started = threading.Event()
_done = threading.Event()
_start_lock = threading.Lock()
#: seconds per warm-up step of the last run (for the logs and the tests)
timings: dict[str, float] = {}


def warm_default_view(state: ViewState | None = None) -> dict[str, float]:
    """Fill the caches the Carte page reads for ``state`` (default: its default view); returns the
    seconds spent per step. Same calls and arguments as ``pages/carte.py`` and ``ui/picker.py``.

    The modules are imported here, not at the top: ``app.py`` imports this module at server start,
    and the heavy imports (geopandas, folium, the core) then happen in the warm-up thread."""
    from ui import compute, data, map_controls, map_layers

    state = state or ViewState()
    kind, code, level = state.kind, state.code, state.level
    opts = map_controls.OPTS_DEFAULT
    types, services = tuple(opts["types"]), tuple(opts["services"])
    steps = (
        ("pack", data.pack),
        ("territories", data.territory_labels),
        ("indicators", lambda: compute._compute(level, compute.config_for(state).to_json(), None)),
        ("zone outlines", lambda: map_layers.zone_outlines(kind, code, level)),
        ("commune boundaries", lambda: map_layers.commune_boundaries(kind, code) if level == "iris" else None),
        ("places", lambda: map_layers.place_points(kind, code, level, types, services, None)),
        ("qpv", lambda: map_layers.qpv_points(kind, code, level)),
    )
    spent: dict[str, float] = {}
    for name, step in steps:
        t0 = time.perf_counter()
        step()
        spent[name] = time.perf_counter() - t0
    return spent


def _quiet_context_warnings(record: logging.LogRecord) -> bool:
    """Log filter: drop Streamlit's « missing ScriptRunContext » warning of the warm-up thread
    (expected there: no session runs it; a cached function then shows no spinner)."""
    return not (record.threadName == _THREAD_NAME and "missing ScriptRunContext" in record.getMessage())


def _run() -> None:
    """Thread body: warm the caches, log the outcome; never raises (the pages recompute anyway)."""
    t0 = time.perf_counter()
    logging.getLogger(_CONTEXT_LOGGER).addFilter(_quiet_context_warnings)
    try:
        timings.update(warm_default_view())
        _LOG.info("caches warmed in %.2f s: %s", time.perf_counter() - t0, timings)
    except Exception:  # noqa: BLE001 - a failed warm-up must not take the server down
        _LOG.exception("cache warm-up failed after %.2f s; the pages will compute on demand", time.perf_counter() - t0)
    finally:
        _done.set()


def start() -> threading.Thread | None:
    """Start the warm-up thread once per process; returns it, or None when already started."""
    with _start_lock:
        if _started.is_set():
            return None
        _started.set()
    thread = threading.Thread(target=_run, name=_THREAD_NAME, daemon=True)
    thread.start()
    return thread


def wait(timeout: float | None = None) -> bool:
    """Block until the warm-up has finished (True) or ``timeout`` passed (False); True at once
    when no warm-up was started (AppTest). A session arriving mid-warm-up waits here rather than
    computing beside it (one computation, no lock taken in two orders)."""
    return _done.wait(timeout) if _started.is_set() else True


#: the modules of the default page (Carte), imported at server start by :func:`preload`; the other
#: pages' modules are imported by their first visit
PAGE_MODULES = (
    "geopandas", "indicators", "ui.compute", "ui.data", "ui.explain", "ui.folium_map", "ui.labels", "ui.map_controls",
    "ui.map_layers", "ui.offline_assets", "ui.picker", "ui.safe_text", "ui.session_places", "ui.state",
    # imported inside functions of the page by its first run: folium's plugins (≈ 0,2 s, their
    # templates compiled; streamlit-folium itself must not be imported here: a component module
    # imported outside a session is never registered, and its iframe answers 404), the page
    # icon's emoji table (0,13 s), the classes and matplotlib for the palettes
    "folium.plugins", "streamlit.emojis", "reports.maps", "matplotlib",
)


def preload(modules: tuple[str, ...] = PAGE_MODULES) -> float:
    """Import ``modules`` in the calling thread (the server's, before it answers); returns the
    seconds it took. The first visit then finds them imported."""
    t0 = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return time.perf_counter() - t0


def run_now() -> None:
    """The warm-up in the calling thread (the server's, at start), marked as started and done."""
    with _start_lock:
        if _started.is_set():
            return
        _started.set()
    _run()


@contextlib.asynccontextmanager
async def lifespan(_app) -> AsyncIterator[None]:
    """ASGI lifespan of ``app.py``'s ``st.App``: before the server answers, import the default
    page's modules and warm its caches (≈ 3–5 s on 2 cores), so that the first visit finds what a
    warm one finds. Run in the server's own thread: nothing is served yet, so there is nothing to
    wait beside."""
    timings["imports"] = preload()
    run_now()
    yield
