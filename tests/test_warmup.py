"""The server's cache warm-up (ui/warmup.py): it fills the very cache entries the Carte page reads.

A spy replaces the core call behind the indicators cache (``ui.compute.level_results``); the cache
key is the function and its arguments, not the globals it reads, so the spy counts the real
computations of the page's entry.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ui import compute, map_layers, warmup
from ui.state import ViewState

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def spy(monkeypatch):
    """Counts the indicator computations (optionally slowed down); the page's entry is cleared."""
    calls = {"n": 0, "delay": 0.0, "started": threading.Event()}
    real = compute.level_results

    def counting(*args, **kwargs):
        calls["n"] += 1
        calls["started"].set()
        time.sleep(calls["delay"])
        return real(*args, **kwargs)

    monkeypatch.setattr(compute, "level_results", counting)
    compute._compute.clear()
    yield calls
    compute._compute.clear()  # the next tests compute with the real function


def _page_call():
    """What the Carte page asks for its default view (``compute.results`` without uploads)."""
    return compute._compute("iris", compute.config_for(ViewState()).to_json(), None)


def test_warm_up_fills_the_page_cache(spy):
    spent = warmup.warm_default_view()
    assert spy["n"] == 1
    assert {"pack", "indicators", "zone outlines", "places"} <= set(spent)
    t0 = time.perf_counter()
    res, _caps, _report = _page_call()
    assert spy["n"] == 1  # served from the warm-up's entry, not recomputed
    assert time.perf_counter() - t0 < spent["indicators"]
    assert len(res) > 5000  # every AURA IRIS


def test_map_layers_are_cached_by_the_warm_up(monkeypatch, spy):
    state = ViewState()
    map_layers.zone_outlines.clear()
    warmup.warm_default_view()
    built = []
    monkeypatch.setattr(map_layers, "prepare_zones", lambda *a, **k: built.append(1))
    assert map_layers.zone_outlines(state.kind, state.code, state.level) is not None
    assert built == []  # the page's call hits the warm-up's entry


def test_a_visit_during_the_warm_up_waits_for_the_same_computation(spy):
    spy["delay"] = 1.0
    worker = threading.Thread(target=warmup.warm_default_view)
    worker.start()
    assert spy["started"].wait(60)  # the warm-up is computing the indicators now
    _page_call()  # a user's first visit at that moment
    worker.join(60)
    assert spy["n"] == 1


def test_start_runs_once_and_a_failure_does_not_raise(monkeypatch, caplog):
    monkeypatch.setattr(warmup, "_started", threading.Event())
    monkeypatch.setattr(warmup, "_done", threading.Event())

    def broken(state=None):
        raise OSError("pack unreadable")

    monkeypatch.setattr(warmup, "warm_default_view", broken)
    thread = warmup.start()
    assert thread is not None and thread.daemon
    thread.join(10)
    assert warmup.wait(0) and not thread.is_alive()
    assert warmup.start() is None  # once per process
    assert "warm-up failed" in caplog.text


def test_preload_leaves_component_modules_to_the_sessions():
    """A Streamlit component module imported outside a session is never registered (its iframe
    then answers 404 and the map is never drawn): the server-start preload imports the page's
    heavy modules but not streamlit-folium. Run in a fresh interpreter (this one may have it)."""
    code = (
        "import sys; from ui import warmup; warmup.preload(); "
        "print(sorted(m for m in ('streamlit_folium', 'folium.plugins', 'mapclassify') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "['folium.plugins']"  # nor mapclassify (≈ 100 MB, 1 s)
