"""Benchmark of the Orienter page: time from changing the slot to the updated list, Métropole.

    .venv/bin/python benchmarks/bench_orienter.py [--repeat 5] [--no-browser]

Target of issue #12: ≤ 0,5 s from the slot change to the updated list on Grenoble-Alpes-Métropole
(``/orienter``, the default territory; the person starts from the Métropole's central point).
Each level prints a ratio against a reference measured in the same run: the bare listing (nothing
chosen but the territory), so that a slower machine shows in both.

1. core — :func:`indicators.orientation.orient` from the central point of each of the
   Métropole's 49 communes: « démarches, samedi » with the slot set to matin / après-midi / soir in
   turn (what one slot click computes, relaxations included), against ``Need()`` (bare listing);
   plus the one-off preparation of the places (:class:`PlaceIndex`, cached by the page);
2. page — ``AppTest`` of the real app in this process: the script rerun after a click on a slot
   pill (map, cards and fiche buttons rebuilt), against the rerun back to the bare listing;
3. browser — headless Chromium (1440 × 900) on a Streamlit server, timed inside the page (from the
   pointerdown on the slot pill): to the summary line naming the new slot (the list is drawn right
   under it), and to the end of the run (cards, map points and fiche buttons updated); against the
   click that returns to the bare listing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

TARGET_S = 0.5
METRO = "200040715"
SLOTS = ("morning", "afternoon", "evening")
SLOT_PILLS = {"morning": "matin", "afternoon": "après-midi", "evening": "soir"}


def _median_ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):7.1f} ms"


def _line(name: str, values: list[float], reference: list[float]) -> None:
    ratio = statistics.median(values) / statistics.median(reference)
    verdict = "OK" if max(values) <= TARGET_S else "ABOVE TARGET"
    print(f"{name:<32} median {_median_ms(values)}  max {1000 * max(values):7.1f} ms  "
          f"reference (bare listing) {_median_ms(reference)}  ratio ×{ratio:4.2f}  target ≤ {TARGET_S} s: {verdict}")


def bench_core(repeat: int) -> None:
    import pandas as pd

    from indicators.orientation import Need, PlaceIndex, orient

    places = pd.read_parquet(REPO_DIR / "geodata" / "pack" / "places.parquet").drop(columns="geometry")
    t0 = time.perf_counter()
    index = PlaceIndex.from_places(places, today=date.today())
    prep = time.perf_counter() - t0
    communes = pd.read_parquet(REPO_DIR / "geodata" / "pack" / "zones_commune.parquet", columns=["code_epci", "rep_x", "rep_y"])
    origins = communes[communes["code_epci"] == METRO][["rep_x", "rep_y"]].to_numpy(float)
    slot_times, bare_times = [], []
    for _ in range(repeat):
        for x, y in origins:
            t = time.perf_counter()
            orient(index, x, y, Need())
            bare_times.append(time.perf_counter() - t)
            for slot in SLOTS:
                t = time.perf_counter()
                orient(index, x, y, Need(("demarches",), "sa", slot))
                slot_times.append(time.perf_counter() - t)
    print(f"core: {len(index)} places prepared once in {1000 * prep:.0f} ms (cached by the page); "
          f"{len(origins)} communes × {repeat} runs")
    _line("core orient() per slot change", slot_times, bare_times)


def bench_page(repeat: int) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO_DIR / "app.py"), default_timeout=180)
    at.switch_page("pages/orienter.py")
    at.run()
    at.pills(key="orient_services").set_value(["demarches"]).run()
    at.pills(key="orient_day").set_value("sa").run()
    at.pills(key="orient_services").set_value([]).run()
    at.pills(key="orient_day").set_value(None).run()  # back to the bare listing, caches warm
    slot_times, bare_times = [], []
    for _ in range(repeat):
        for slot in SLOTS:
            t = time.perf_counter()
            at.pills(key="orient_slot").set_value(slot).run()
            slot_times.append(time.perf_counter() - t)
            assert not at.exception, [e.value for e in at.exception]
            t = time.perf_counter()
            at.pills(key="orient_slot").set_value(None).run()
            bare_times.append(time.perf_counter() - t)
    _line("page rerun (AppTest)", slot_times, bare_times)


def bench_browser(repeat: int) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("e2e_harness", REPO_DIR / "tests" / "e2e" / "conftest.py")
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    if not harness.CHROMIUM.exists():
        print(f"browser: skipped ({harness.CHROMIUM} not found)")
        return
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = harness.StreamlitServer(REPO_DIR / "app.py", Path(tmp) / "streamlit.log")
        try:
            server.wait_ready()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(harness.CHROMIUM), headless=True, args=harness.CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="fr-FR")
                page.goto(f"{server.url}/orienter")
                page.get_by_text("Où habite la personne").wait_for(timeout=180_000)
                summary = page.locator("p", has_text="tout accompagnement numérique").first
                summary.wait_for(timeout=180_000)
                slot_list, slot_done, bare_list, bare_done = _browser_rounds(page, repeat)
                browser.close()
        finally:
            server.stop()
    _line("browser click → updated list", slot_list, bare_list)
    _line("browser click → run finished", slot_done, bare_done)


#: in the page: the pointerdown on the pill starts the clock; a requestAnimationFrame loop notes when
#: the summary line names the new slot (t1) and when the run is over (no running icon) with it (t2)
_ARM_JS = """(text) => { const w = window; w.__t0 = null; w.__t1 = null; w.__t2 = null;
  document.addEventListener('pointerdown', () => { if (w.__t0 === null) w.__t0 = performance.now(); },
                            {capture: true, once: true});
  const running = () => !!document.querySelector('[data-testid="stStatusWidgetRunningIcon"]');
  const tick = () => {
    if (w.__t0 !== null) {
      if (w.__t1 === null && Array.from(document.querySelectorAll('p')).some(p => p.textContent.includes(text)))
        w.__t1 = performance.now();
      if (w.__t1 !== null && !running()) { w.__t2 = performance.now(); return; }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick); }"""


def _timed_click(page, pill, text: str) -> tuple[float, float]:
    """(seconds to the summary naming ``text``, seconds to the end of the run), measured in the page."""
    page.evaluate(_ARM_JS, text)
    pill.click()
    page.wait_for_function("() => window.__t2 !== null", timeout=30_000)
    t0, t1, t2 = page.evaluate("() => [window.__t0, window.__t1, window.__t2]")
    return (t1 - t0) / 1000.0, (t2 - t0) / 1000.0


def _browser_rounds(page, repeat: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """Click a slot pill, wait for the summary naming it; click it again, back to the bare listing."""
    from ui.orientation import when_text

    slot_list, slot_done, bare_list, bare_done = [], [], [], []
    for _ in range(repeat):
        for slot in SLOTS:
            pill = page.get_by_role("radio", name=SLOT_PILLS[slot], exact=True)
            pill.scroll_into_view_if_needed()
            a, b = _timed_click(page, pill, f"· {when_text(None, slot)} ·")
            slot_list.append(a)
            slot_done.append(b)
            a, b = _timed_click(page, pill, "numérique · n'importe quel jour ·")
            bare_list.append(a)
            bare_done.append(b)
            time.sleep(0.3)
    return slot_list, slot_done, bare_list, bare_done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    bench_core(args.repeat)
    bench_page(args.repeat)
    if not args.no_browser:
        bench_browser(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
