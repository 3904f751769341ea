"""Benchmark of the real app in headless Chromium: map drawing time, payload, rerun, server memory.

    /work/venv/bin/python benchmarks/bench_app.py [--repeat 3] [--no-profile]

Needs /usr/bin/chromium (or INCLUSION_CHROMIUM) and the vendored Leaflet (.ci/install_frontend.sh).
Two Streamlit servers are started on 127.0.0.1 (the app and, as the reference, the offline demo
map of tests/e2e/demo_map_app.py: 30 synthetic squares); every non-local request is aborted.

Measured (targets of the issue, 2-core machine):

- navigation → map drawn, each time in a new browser profile (empty cache: a first visit):
  every zone styled in the streamlit-folium iframe and two animation frames passed
  (``data-inc-drawn`` on the Leaflet container, see ``ui.folium_map.ZoneStyle``), for
  Grenoble-Alpes-Métropole at IRIS level (201 zones, target ≤ 1.5 s) and all AURA communes
  (``?t=reg:84&lvl=commune``, 4 027 zones, target ≤ 3 s). "cold" = first session of a fresh
  server (pack load + indicators), "warm" = later sessions (median of ``--repeat``; the warm
  visits of the demo, the Métropole and AURA are interleaved, round after round).
- payload: bytes received on the Streamlit websocket until the map is drawn (Playwright frames:
  what the browser actually got) and, inside it, the st_folium component arguments (the map
  script, the zone styles, Leaflet's URLs or inlined files; target ≤ 2 MB for AURA).
- the same in one browser profile whose cache already holds the front-end files: switching from
  the Diagnostic page to the Carte page in the app's navigation, and the map's URL opened in a
  new tab (``returning_visits``).
- issue #15's ratios, all from this run: the cold visit (first session after the server start:
  the server warms the default view's caches at start, ``ui.warmup``) against the warm one, the
  Carte page's first visit against the bare streamlit-folium page (the demo map), the Diagnostic
  page's URL opened in a new profile (title shown, script finished) against the Carte page, and
  the page switch Diagnostic → Carte (target ≤ 0.7 s).
- rerun after changing the displayed layer (selectbox "Couche" → "Accessibilité"): from the option
  click to the redrawn map with the new legend (target ≤ 0.5 s).
- peak RSS of the server process tree (psutil, sampled every 50 ms; target ≤ 600 MB), over the
  map loads and reruns, and over the whole run (which also opens the Diagnostic page; Streamlit
  keeps each disconnected session for 2 minutes, so ~20 sessions are alive at the end).
- profile (``AppTest`` in this process, same page code, minus AppTest's own cost measured on a
  one-line app): time of the script run split into indicators (``ui.compute.results``), map build
  (``build_choropleth``) and serialisation to the component (``show_map`` → st_folium), to say
  where the time goes when a target is missed.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

import psutil  # noqa: E402

_spec = importlib.util.spec_from_file_location("e2e_harness", REPO_DIR / "tests" / "e2e" / "conftest.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

FOLIUM_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
ZONE_CLASS = "inc-zone"
METRO_URL, METRO_ZONES = "/", 201
AURA_URL, AURA_ZONES = "/?t=reg:84&lvl=commune", 4027
DEMO_ZONES = 30
TARGETS = {"metro": 1.5, "aura": 3.0, "aura_payload_mb": 2.0, "rerun": 0.5, "rss_mb": 600.0}

# "drawn": ui.folium_map.ZoneStyle marks the map container with data-inc-drawn="<zones styled>"
# two animation frames after styling the zones (SVG paths or canvas, whichever the map uses).
_DRAWN = """const f = document.querySelector('iframe[title="streamlit_folium.st_folium"]');
    const d = f && f.contentDocument; const box = d && d.querySelector('.leaflet-container');
    const drawn = !!box && Number(box.dataset.incDrawn || 0) >= n;"""
_COUNT_JS = "n => { " + _DRAWN + " return drawn; }"
_LEGEND_JS = (
    "([n, text]) => { "
    + _DRAWN
    + " const l = drawn && d.querySelector('.inc-legend'); return !!l && l.textContent.startsWith(text); }"
)


class RssSampler(threading.Thread):
    """Peak resident memory of a process and its children, sampled in the background."""

    def __init__(self, pid: int, every: float = 0.05):
        super().__init__(daemon=True)
        self.proc, self.every, self.peak, self._halt = psutil.Process(pid), every, 0, threading.Event()

    def rss(self) -> int:
        procs = [self.proc] + self.proc.children(recursive=True)
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.peak = max(self.peak, self.rss())
            except psutil.NoSuchProcess:
                return
            time.sleep(self.every)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def _map_message(frames: list[tuple[float, bytes]]) -> tuple[float | None, int]:
    """(arrival time, size of the JSON arguments) of the last st_folium element in the frames."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    found: tuple[float | None, int] = (None, 0)
    for t, raw in frames:
        if len(raw) < 1000:  # the map message is large; skip the small ones quickly
            continue
        msg = ForwardMsg()
        try:
            msg.ParseFromString(raw)
        except Exception:  # noqa: BLE001 - not a ForwardMsg: skip
            continue
        if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
            continue
        el = msg.delta.new_element
        if el.WhichOneof("type") == "component_instance" and el.component_instance.component_name.endswith("st_folium"):
            found = (t, len(el.component_instance.json_args.encode()))
    return found


def new_page(browser):
    """A fresh browser context (= a new Streamlit session). Requests are only recorded, not
    routed: routing every request through Playwright would add its own latency to the timings."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", service_workers="block")
    external: list[str] = []
    ctx.on("request", lambda r: None if harness.is_local_url(r.url) else external.append(r.url))
    page = ctx.new_page()
    page.external = external
    frames: list[tuple[float, bytes]] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived", lambda p: frames.append((time.perf_counter(), p if isinstance(p, bytes) else p.encode()))
        ),
    )
    page.ws_frames = frames
    return ctx, page


#: in the app's pages: records (performance.now(), ms from the navigation's start) when the
#: sidebar's first selectbox (the territory picker) is first drawn, whatever the map does
_CONTROLS_INIT = """(function poll() {
    const s = document.querySelector('[data-testid="stSidebar"] [data-testid="stSelectbox"]');
    if (s && s.getBoundingClientRect().height > 0) { window.__incControlsAt = performance.now(); return; }
    requestAnimationFrame(poll);
})();"""


def load(browser, url: str, n_zones: int, controls: bool = False) -> dict:
    """Open ``url`` in a fresh context; time until ``n_zones`` zone paths are drawn.

    ``map_phase``: from the arrival of the st_folium message to the drawn map (component iframe,
    script parsing, Leaflet drawing), i.e. the browser's share for the map itself. ``controls``
    (app pages): also the time from the navigation's start until the sidebar's territory picker
    is drawn (``ui.map_controls.map_headstart`` sends it after the map on a first visit).
    """
    ctx, page = new_page(browser)
    try:
        if controls:
            page.add_init_script(_CONTROLS_INIT)
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_function(_COUNT_JS, arg=n_zones, polling="raf", timeout=300_000)
        t1 = time.perf_counter()
        shown = None
        if controls:
            page.wait_for_function("() => window.__incControlsAt !== undefined", timeout=120_000)
            shown = page.evaluate("() => window.__incControlsAt") / 1000
        got = [(t, p) for t, p in page.ws_frames if t <= t1]
        t_map, map_bytes = _map_message(got)
        return {
            "controls": shown,
            "time": t1 - t0,
            "to_map_message": (t_map - t0) if t_map else float("nan"),
            "map_phase": (t1 - t_map) if t_map else float("nan"),
            "ws_bytes": sum(len(p) for _, p in got),
            "map_bytes": map_bytes,
            "external": list(page.external),
        }
    finally:
        ctx.close()


def returning_visits(browser, url: str, n_zones: int, repeat: int) -> dict:
    """Two other ways of arriving on the map, in one browser profile (HTTP cache warm):

    ``switch``: from the Diagnostic page of the app, click « Carte » in the sidebar → map drawn
    (Streamlit already loaded: the in-app navigation of a user working on a territory);
    ``reopen``: open the map's URL in a new tab of the same browser (the front-end files come
    from the browser cache).  Medians of ``repeat``.
    """
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR", service_workers="block")
    external: list[str] = []
    ctx.on("request", lambda r: None if harness.is_local_url(r.url) else external.append(r.url))
    switch, reopen = [], []
    try:
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_function(_COUNT_JS, arg=n_zones, polling="raf", timeout=300_000)
        for _ in range(repeat):
            page.locator('[data-testid="stSidebarNav"] a', has_text="Diagnostic").click()
            page.locator("h1", has_text="Diagnostic").first.wait_for(timeout=120_000)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')", timeout=120_000
            )
            t0 = time.perf_counter()
            page.locator('[data-testid="stSidebarNav"] a', has_text="Carte").click()
            page.wait_for_function(_COUNT_JS, arg=n_zones, polling="raf", timeout=300_000)
            switch.append(time.perf_counter() - t0)
        page.close()
        for _ in range(repeat):
            tab = ctx.new_page()
            t0 = time.perf_counter()
            tab.goto(url)
            tab.wait_for_function(_COUNT_JS, arg=n_zones, polling="raf", timeout=300_000)
            reopen.append(time.perf_counter() - t0)
            tab.close()
    finally:
        ctx.close()
    return {"switch": statistics.median(switch), "reopen": statistics.median(reopen), "external": external}


def load_diagnostic(browser, url: str, repeat: int) -> list[float]:
    """Open the Diagnostic page's URL in a fresh context each time (a shared link, first visit):
    seconds until its title is shown and the script has finished (no running indicator)."""
    times = []
    for _ in range(repeat):
        ctx, page = new_page(browser)
        try:
            t0 = time.perf_counter()
            page.goto(url)
            page.locator("h1", has_text="Diagnostic").first.wait_for(timeout=300_000)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')", timeout=300_000
            )
            times.append(time.perf_counter() - t0)
        finally:
            ctx.close()
    return times


def rerun_layer(browser, url: str, n_zones: int, option: str = "Accessibilité (E2SFCA)") -> dict:
    """Time from choosing ``option`` in the "Couche" selectbox to the map redrawn with its legend;
    ``to_map_message``: part until the new st_folium message arrived (round trip + script)."""
    ctx, page = new_page(browser)
    try:
        page.goto(url)
        page.wait_for_function(_COUNT_JS, arg=n_zones, polling="raf", timeout=300_000)
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')", timeout=60_000
        )
        box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Couche")
        box.locator('[role="combobox"], input').first.click()
        opt = page.locator('[role="option"]').filter(has_text=option).first
        opt.wait_for()
        t0 = time.perf_counter()
        opt.click()
        page.wait_for_function(_LEGEND_JS, arg=[n_zones, option], polling="raf", timeout=60_000)
        t1 = time.perf_counter()
        t_map, _ = _map_message([(t, p) for t, p in page.ws_frames if t0 <= t <= t1])
        return {"time": t1 - t0, "to_map_message": (t_map - t0) if t_map else float("nan")}
    finally:
        ctx.close()


def profile_server_side(repeat: int) -> dict[str, dict[str, float]]:
    """Split the page's script run (AppTest, this process) into indicators / map build / component."""
    from streamlit.testing.v1 import AppTest

    import ui.compute
    import ui.folium_map

    spent: dict[str, float] = {}

    def timed(name, fn):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

        return wrapper

    originals = (ui.compute.results, ui.folium_map.build_choropleth, ui.folium_map.show_map)
    ui.compute.results = timed("indicators", originals[0])
    ui.folium_map.build_choropleth = timed("map build", originals[1])
    ui.folium_map.show_map = timed("component (render + JSON)", originals[2])

    def overhead() -> float:
        """AppTest's own cost per run (component discovery, element tree), from a one-line app."""
        times = []
        for _ in range(repeat):
            at = AppTest.from_string("import streamlit as st\nst.write('x')", default_timeout=60)
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    out = {}
    try:
        base = overhead()
        for label, query in (("Métropole IRIS", {}), ("AURA communes", {"t": "reg:84", "lvl": "commune"})):
            runs = []
            for _ in range(repeat + 1):  # the first run is cold (pack, indicators)
                spent.clear()
                at = AppTest.from_file(str(REPO_DIR / "app.py"), default_timeout=600)
                at.query_params.update(query)
                t0 = time.perf_counter()
                at.run()
                total = time.perf_counter() - t0
                if at.exception:
                    raise RuntimeError(f"{label}: {at.exception[0].value}")
                runs.append(dict(spent, total=total))
            warm = runs[1:]
            out[label] = {"cold total": runs[0]["total"], "apptest": base} | {
                k: statistics.median(r.get(k, 0.0) for r in warm) for k in warm[0]
            }
    finally:
        ui.compute.results, ui.folium_map.build_choropleth, ui.folium_map.show_map = originals
    return out


def line(
    label: str, value: float, unit: str, target: float | None = None, ref: float | None = None, ref_label: str = ""
) -> str:
    s = f"{label:<48} {value:9.3f} {unit:<3}"
    if target is not None:
        s += f"  target ≤ {target:g} {unit}: {'OK  ' if value <= target else 'MISS'} ({value / target:.2f} of budget)"
    if ref:
        s += f"  ×{value / ref:.1f} vs {ref_label}"
    return s


def print_ratios(
    *, cold: float, warm: float, bare: float, controls: float, diagnostic: float, switch: float, round_ratios: list[float]
) -> None:
    """Issue #15's ratios, all from this run: cold / warm first visit of the Carte (≤ ×1.3), Carte
    / bare streamlit-folium page (≤ ×1.25; also the median of each round's own ratio,
    ``round_ratios``, the visits of a round being back to back), Diagnostic / Carte first visits
    (≤ ×1.5), page switch (≤ 0.7 s); ``controls``: when the sidebar's territory picker is drawn on
    the Carte's first visit (no target: the other side of the map's head start)."""
    print("\nratios of issue #15 (same run)")
    for label, value, ref, ref_label, target in (
        ("cold: 1st visit after server start, Métropole", cold, warm, "warm", 1.3),
        ("warm visit, Métropole (new profile)", warm, None, "", None),
        ("Carte 1st visit vs bare streamlit-folium page", warm, bare, "bare map", 1.25),
        ("Carte 1st visit: territory picker drawn", controls, None, "", None),
        ("Diagnostic page, 1st visit (new profile)", diagnostic, warm, "Carte", 1.5),
        ("page switch Diagnostic → Carte", switch, None, "", None),
    ):
        ratio = f"  ×{value / ref:.2f} vs {ref_label} (target ≤ ×{target:g}: {'OK' if value / ref <= target else 'MISS'})" if ref else ""
        print(f"{label:<48} {value:9.3f} s{ratio}")
    rounds = ", ".join(f"{x:.2f}" for x in round_ratios)
    print(f"{'Carte / bare map, median of the rounds':<48} ×{statistics.median(round_ratios):.2f} (rounds: {rounds})")
    print(line("page switch Diagnostic → Carte (target ≤ 0.7 s)", switch, "s", 0.7))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="warm measurements per case (median)")
    ap.add_argument("--no-profile", action="store_true", help="skip the in-process AppTest profile")
    args = ap.parse_args()
    if not harness.CHROMIUM.exists():
        sys.exit(
            f"{harness.CHROMIUM} not found: apt-get install -y chromium (or .ci/install_frontend.sh --with-browser)"
        )
    from ui.offline_assets import check_assets

    check_assets()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench_app_"))
    demo = harness.StreamlitServer(REPO_DIR / "tests" / "e2e" / "demo_map_app.py", tmp / "demo.log")
    app = harness.StreamlitServer(REPO_DIR / "app.py", tmp / "app.log")
    sampler = None
    r: dict[str, dict] = {}
    warm: dict[str, list[dict]] = {}
    rss: dict[str, int] = {}
    try:
        demo.wait_ready()
        app.wait_ready()
        sampler = RssSampler(app.proc.pid)
        sampler.start()
        rss["idle"] = sampler.rss()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(harness.CHROMIUM), headless=True, args=harness.CHROMIUM_ARGS
            )
            cases = (
                ("demo", demo, "/", DEMO_ZONES),
                ("metro", app, METRO_URL, METRO_ZONES),
                ("aura", app, AURA_URL, AURA_ZONES),
            )
            for name, server, url, n in cases:  # cold: the first visit of each (the app's first session: metro)
                r[name] = load(browser, server.url + url, n, controls=server is app)
                if server is app:
                    rss[name] = sampler.peak
            # warm visits interleaved (demo, metro, aura, demo, …): a slower spell of the shared
            # machine then weighs on the app and its reference alike, not on one of them
            for _ in range(args.repeat):
                for name, server, url, n in cases:
                    warm.setdefault(name, []).append(load(browser, server.url + url, n, controls=server is app))
            warm["metro rerun"] = [rerun_layer(browser, app.url + METRO_URL, METRO_ZONES) for _ in range(args.repeat)]
            warm["aura rerun"] = [rerun_layer(browser, app.url + AURA_URL, AURA_ZONES)]
            rss["maps"] = sampler.peak  # the map scenarios of the issue (loads + reruns)
            diagnostic = load_diagnostic(browser, app.url + "/diagnostic", args.repeat)
            returning = {  # these also open the Diagnostic page (key figures, charts, zone table)
                "metro": returning_visits(browser, app.url + METRO_URL, METRO_ZONES, args.repeat),
                "aura": returning_visits(browser, app.url + AURA_URL, AURA_ZONES, args.repeat),
            }
            browser.close()
    finally:
        try:
            if sampler is not None:
                sampler.stop()
        finally:
            app.stop()
            demo.stop()
    rss["peak"] = sampler.peak

    def med(case: str, key: str) -> float:
        return statistics.median(x[key] for x in warm[case])

    demo_t = med("demo", "time")
    external = sorted(
        {u for x in [*r.values(), *returning.values(), *(y for v in warm.values() for y in v)] for u in x.get("external", [])}
    )
    print(
        f"bench_app — Chromium {harness.CHROMIUM}, {args.repeat} warm runs per case (median), {psutil.cpu_count()} CPUs"
    )
    print("\nnavigation → map drawn  [of which: until the map message arrived | map message → drawn]")
    for case, label, target in (
        ("demo", "reference: demo map, 30 zones", None),
        ("metro", "Métropole IRIS, 201 zones", TARGETS["metro"]),
        ("aura", "AURA communes, 4 027 zones", TARGETS["aura"]),
    ):
        split = f"  [{med(case, 'to_map_message'):.2f} s | {med(case, 'map_phase'):.2f} s]"
        print(
            line(f"{label} (warm)", med(case, "time"), "s", target, None if case == "demo" else demo_t, "demo warm")
            + split
        )
        cold = r[case]
        print(
            line(f"{label} (cold: 1st session)", cold["time"], "s", None, med(case, "time"), "warm")
            + f"  [{cold['to_map_message']:.2f} s | {cold['map_phase']:.2f} s]"
        )
    print("\nsame browser profile (front-end files cached): page switch Diagnostic → Carte | map URL in a new tab")
    for case, label, target in (
        ("metro", "Métropole IRIS, 201 zones", TARGETS["metro"]),
        ("aura", "AURA communes, 4 027 zones", TARGETS["aura"]),
    ):
        print(line(f"{label}: page switch", returning[case]["switch"], "s", target))
        print(line(f"{label}: new tab", returning[case]["reopen"], "s", target))
    print_ratios(cold=r["metro"]["time"], warm=med("metro", "time"), bare=demo_t, controls=med("metro", "controls"), diagnostic=statistics.median(diagnostic),
                 switch=returning["metro"]["switch"],
                 round_ratios=[m["time"] / d["time"] for m, d in zip(warm["metro"], warm["demo"], strict=True)])
    print("\npayload until the map is drawn (websocket frames received; st_folium arguments)")
    demo_map = med("demo", "map_bytes") / 1e6
    print(line("reference: demo map component", demo_map, "MB"))
    for case, label, target in (
        ("metro", "Métropole IRIS", None),
        ("aura", "AURA communes", TARGETS["aura_payload_mb"]),
    ):
        print(line(f"{label}: websocket total", med(case, "ws_bytes") / 1e6, "MB"))
        print(line(f"{label}: map component", med(case, "map_bytes") / 1e6, "MB", target, demo_map, "demo map"))
    print(
        "\nrerun after changing the layer (option click → map redrawn with the new legend)  [until the map message | after]"
    )
    for case, label, target, ref in (
        ("metro rerun", "Métropole IRIS, fragility → access", TARGETS["rerun"], "metro"),
        ("aura rerun", "AURA communes, fragility → access (info)", None, "aura"),
    ):
        t, t_msg = med(case, "time"), med(case, "to_map_message")
        print(line(label, t, "s", target, med(ref, "time"), "warm load") + f"  [{t_msg:.2f} s | {t - t_msg:.2f} s]")
    print("\nserver memory (peak RSS of the streamlit process tree)")
    print(line("idle, after start", rss["idle"] / 1e6, "MB"))
    print(line("after the first Métropole IRIS visit", rss["metro"] / 1e6, "MB", None, rss["idle"] / 1e6, "idle"))
    print(line("after the first AURA communes visit", rss["aura"] / 1e6, "MB", None, rss["idle"] / 1e6, "idle"))
    print(line("peak over the map loads and reruns", rss["maps"] / 1e6, "MB", TARGETS["rss_mb"], rss["idle"] / 1e6, "idle"))
    print(line("peak over the whole run (+ Diagnostic pages)", rss["peak"] / 1e6, "MB", TARGETS["rss_mb"], rss["idle"] / 1e6, "idle"))
    print(f"\nrequests to other hosts than 127.0.0.1: {len(external)} {external[:3] if external else ''}")

    if not args.no_profile:
        print("\nprofile of the page script (AppTest in this process, warm medians; AppTest's own cost per run")
        print("measured on a one-line app is shown apart, not subtracted: it is of the same order as the script)")
        for label, parts in profile_server_side(max(1, args.repeat - 1)).items():
            total = parts["total"]
            steps = {k: v for k, v in parts.items() if k not in ("total", "cold total", "apptest")}
            detail = ", ".join(f"{k} {v:.3f} s" for k, v in steps.items())
            print(
                f"  {label:<16} run {total:.3f} s (cold {parts['cold total']:.2f} s; AppTest alone {parts['apptest']:.3f} s): "
                f"{detail}, rest of the page {max(0.0, total - parts['apptest'] - sum(steps.values())):.3f} s"
            )


if __name__ == "__main__":
    main()
