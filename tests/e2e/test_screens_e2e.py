"""Every screen reads right at 1 440 px (issue #15): each page of the app, for the Métropole and for
the région, in headless Chromium at 1 440 × 900.

For every page × territory: wait until the script run is over (and the map drawn), save a full-page
screenshot ``screenshots/<page>_<metropole|region>.png``, then fail on

* an element wider than its container (``scrollWidth > clientWidth + 1``) in the watched parts of
  the page (:data:`WATCHED`: Carte's zone explanation and priority table, Diagnostic's priority
  table, Comparer's comparison table, Implantation's scenario comparison, every data grid's
  scroll container — a horizontal scrollbar in a grid means columns out of sight);
* an English Streamlit message or a Python missing value (« None », « nan ») in the visible text;
* a raw code (``france_services``, ``qpv``, ``epci``…) or a decimal point (« 26.6 ») in the visible
  text of a table (the data grids' cells included).

On Carte, the zone explanation is opened too (« Zone à expliquer » selectbox) and checked at 1 440
and 1 280 px: ``screenshots/zone_<metropole|region>_<width>.png``.

The server has a scenario workspace of its own (``INCLUSION_WORKSPACE``), seeded with three saved
scenarios so that Implantation shows its comparison table.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import _require_browser, guarded_page, served_app

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("vendored_leaflet")]

SCREENSHOT_DIR = Path(__file__).with_name("screenshots")
FOLIUM_IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: the zones drawn: SVG paths, or one canvas above ui.folium_map.LARGE_MAP zones (the région)
ZONES_DRAWN = "path.inc-zone, .leaflet-overlay-pane canvas"
COLD_TIMEOUT = 180_000  # ms: the first page of the server loads the pack; the région's map is large
RUN_TIMEOUT = 120_000
WIDTH, HEIGHT = 1440, 900

TERRITORIES = {"metropole": "epci:200040715", "region": "reg:84"}
#: page name → URL path, and what shows that the page has drawn (besides the script run being over)
PAGES = {
    "carte": ("/", "map"),
    "orienter": ("/orienter", "text=Où habite la personne"),
    "diagnostic": ("/diagnostic", "text=Zones prioritaires"),
    "comparer": ("/comparer", "h1"),
    "implantation": ("/implantation", "map"),
    "donnees_methode": ("/donnees_methode", '[data-testid="stDataFrame"]'),
}
#: more in the link: the région alone has nothing to compare with (the Comparer needs 2 to 4
#: territories): the widest case, 4 territories with long names
EXTRA_QUERY = {("comparer", "region"): "&cmp=reg:84,dep:38,dep:69,epci:200040715"}
#: the zone the explanation is opened on: the longest name of the territory's zones
ZONES = {"metropole": "Le Bourg-Les Chenevières-Chantavot-Zone Industrielle", "region": "Saint-Laurent-les-Bains-Laval-d'Aurelle"}

#: the parts of the pages whose content must fit their box: (CSS selector, description, whole
#: subtree?) — with ``True`` every element inside is checked too (the deepest offenders reported)
ZONE_PANEL = [
    (".inc-key-figures", "zone explanation: key figures (.inc-key-figures)", True),
    (".inc-contributions", "zone explanation: contributions (.inc-contributions)", True),
    (".inc-nearest", "zone explanation: nearest places (.inc-nearest)", True),
]
WATCHED = {
    "carte": [
        ('[data-testid="stMain"] [data-testid="stColumn"]:nth-of-type(2)', "Carte's right column (zone explanation, priority table)", True),
        *ZONE_PANEL,
        ("table.inc-priority", "Carte's priority table (table.inc-priority)", True),
    ],
    "diagnostic": [],  # the priority table is a data grid: GRIDS below
    "comparer": [('[data-testid="stTable"]', "Comparer: table (st.table)", True)],
    "implantation": [('[data-testid="stTable"]', "Implantation: scenario comparison (st.table)", True)],
    "orienter": [],
    "donnees_methode": [],
}
#: on every page: the main area never scrolls sideways, and each data grid shows all its columns
COMMON = [
    ('[data-testid="stMain"]', "the page's main area", False),
    ('[data-testid="stMainBlockContainer"]', "the page's main block", False),
    ('[data-testid="stDataFrame"] .dvn-scroller', "data grid (st.dataframe): horizontal scroll, columns out of sight", False),
    ('[data-testid="stTable"]', "table (st.table)", True),
]

OVERFLOW_JS = """
([targets, slack]) => {
  const describe = (e) => {
    let d = e.tagName.toLowerCase();
    const tid = e.getAttribute('data-testid');
    if (tid) d += `[data-testid=${tid}]`;
    const cls = (typeof e.className === 'string' ? e.className : '').trim().split(/\\s+/)
      .filter(c => c && !/^(st-emotion-cache|e[0-9a-z]{6,}|css-)/.test(c)).slice(0, 3);
    if (cls.length) d += '.' + cls.join('.');
    const text = (e.value || e.innerText || '').replace(/\\s+/g, ' ').trim();
    if (text) d += ` « ${text.length > 70 ? text.slice(0, 70) + '…' : text} »`;
    return d;
  };
  const overflows = (e) => e instanceof HTMLElement && e.clientWidth > 0
    && getComputedStyle(e).display !== 'inline' && e.scrollWidth > e.clientWidth + slack;
  const visible = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const out = [];
  for (const [selector, what, deep] of targets) {
    document.querySelectorAll(selector).forEach((root, i) => {
      if (!visible(root)) return;
      const where = `${what} #${i + 1}`;
      if (overflows(root))
        out.push(`${where}: content ${root.scrollWidth} px wide in ${root.clientWidth} px — ${describe(root)}`);
      if (!deep) return;
      // the deepest offenders inside (an overflowing child makes all its ancestors overflow too)
      // a selectbox's chosen value may end with « … » (the widget's design: the open list shows
      // every option whole), so its inside is not checked
      const inner = Array.from(root.querySelectorAll('*'))
        .filter(e => overflows(e) && visible(e) && !e.closest('[data-testid="stSelectbox"], [data-baseweb="select"]'));
      const deepest = inner.filter(e => !inner.some(o => o !== e && e.contains(o)));
      deepest.slice(0, 6).forEach(e => out.push(
        `${where}: inner element ${e.scrollWidth} px wide in ${e.clientWidth} px`
        + (getComputedStyle(e).textOverflow === 'ellipsis' ? ' (text cut with …)' : '') + ` — ${describe(e)}`));
      if (deepest.length > 6) out.push(`${where}: … and ${deepest.length - 6} more inner elements`);
    });
  }
  return out;
}
"""

#: English left by Streamlit (or by a widget without a French placeholder) in the visible text
ENGLISH = [
    "Page not found", "You can only select", "No results", "Running...", "Running…", "Choose an option",
    "Drag and drop file here", "Limit 200MB", "Browse files", "Please wait", "Connecting", "Select all",
    "Press Enter to apply", "Show/hide columns", "Search",
]
MISSING = re.compile(r"(?<![\w-])(None|nan|NaN|NaT|<NA>|null|undefined)(?![\w-])")
#: codes of the data shown as such (case-sensitive: « QPV », « EPCI », « IRIS » are the French acronyms)
RAW_CODES = re.compile(r"(?<![\w./-])(france_services|epn_tiers_lieu|commune_centre|qpv|epci|departement|region|iris|[a-z]+_[a-z_]+)(?![\w-])")
#: a number with a decimal point in a table (French: a decimal comma, « 26,6 »)
#: (not a version: « Licence Ouverte / Etalab 2.0 »)
DECIMAL_POINT = re.compile(r"(?<![\w.:/-])(?<!Etalab )(?<!Ouverte )(?<!version )\d+\.\d+(?![\w.:/-])")
URL_OR_FILE = re.compile(r"https?://\S+|\S+@\S+|\b[\w-]+\.(?:parquet|json|csv|xlsx|gpkg|geojson|pdf|zip|sqlite)\b")

VISIBLE_TEXT_JS = """
() => {
  // the text a reader sees: innerText skips what is hidden (closed tabs, collapsed expanders)
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const side = document.querySelector('[data-testid="stSidebar"]');
  const tables = Array.from(document.querySelectorAll(
      '[data-testid="stMain"] table, [data-testid="stSidebar"] table'))
    .filter(t => t.getBoundingClientRect().width > 0)
    .map(t => t.innerText);
  // the data grids are canvases: their cells are in an accessibility table (the rows drawn)
  const grids = Array.from(document.querySelectorAll('[data-testid="stDataFrame"] table[role="grid"]'))
    .map(t => Array.from(t.querySelectorAll('th, td')).map(c => c.textContent).join('\\t'));
  return {text: main.innerText + '\\n' + (side ? side.innerText : ''), tables: tables.concat(grids)};
}
"""


# -- fixtures -------------------------------------------------------------------------------------


def _site(rank: int, name: str, lon: float, lat: float, gain: float) -> dict:
    return {"candidate_id": f"seed-{rank}-{lon}", "kind": "existing", "name": name, "lon": lon, "lat": lat,
            "code_commune": "38185", "rank": rank, "marginal_gain": gain, "newly_covered": gain, "capacity": 40}


SEEDED = [
    ("Référence 15 min — deux lieux", "mclp", 15, [("Bibliothèque Pablo-Neruda", 5.7271, 45.1468, 812),
                                                   ("Maison des habitants Teisseire-Malherbe", 5.7409, 45.1695, 455)]),
    ("Variante couverture totale au sud de l'agglomération grenobloise", "lscp", 20,
     [("France services Pimms Médiation Isère - Pont de Claix", 5.6984, 45.1228, 1304),
      ("Centre communal d'action sociale de Saint-Martin-d'Hères", 5.7652, 45.1672, 690),
      ("Médiathèque Paul-Éluard de Fontaine", 5.6861, 45.1925, 402)]),
    ("Capacité limitée", "mclp_capacity", 15, [("Espace public numérique du Village Olympique", 5.7372, 45.1686, 377)]),
]


@pytest.fixture(scope="module")
def screens_server(tmp_path_factory):
    """The app, once for the module, with a scenario workspace holding three saved scenarios."""
    _require_browser()
    from planning.scenarios import ScenarioStore

    tmp = tmp_path_factory.mktemp("screens")
    store = ScenarioStore(tmp / "scenarios.sqlite")
    for name, model, minutes, sites in SEEDED:
        gains = [s[3] for s in sites]
        store.save(name, {
            "territory": {"level": "epci", "code": "200040715", "name": "Grenoble-Alpes-Métropole"},
            "level": "iris", "model": model, "p": len(sites), "service_time": minutes,
            "results": {"model": model, "covered_before": 61234.0, "covered_after": 61234.0 + sum(gains),
                        "total_need": 98765.0, "unmet_need_before": 12345.0, "unmet_need_after": 12345.0 - 0.6 * sum(gains),
                        "n_sites": len(sites), "p_requested": len(sites)},
            "chosen_sites": [_site(k, *s) for k, s in enumerate(sites, 1)],
        })
    with served_app(tmp / "streamlit.log", env={"INCLUSION_WORKSPACE": str(tmp / "scenarios.sqlite")}) as server:
        yield server


@pytest.fixture
def screen(browser):
    """A fresh 1 440 × 900 page; non-local requests aborted and recorded (``external_requests``)."""
    with guarded_page(browser, width=WIDTH, height=HEIGHT) as pg:
        yield pg


# -- helpers --------------------------------------------------------------------------------------


def wait_idle(page, timeout: float = RUN_TIMEOUT) -> None:
    """Wait until no script run is going on (twice in a row, 0.4 s apart: a rerun may follow),
    every map iframe has its zones drawn, then let the grids and charts paint."""
    idle = "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')"
    for _ in range(2):
        page.wait_for_function(idle, timeout=timeout)
        time.sleep(0.4)
    drawn = f"() => document.querySelector('{ZONES_DRAWN}') && window.map && window.map._loaded && !window.map._animatingZoom"
    deadline = time.monotonic() + timeout / 1000
    while True:  # the iframes are looked up again on each attempt: a rerun may replace one
        try:
            for handle in page.locator(FOLIUM_IFRAME).element_handles():
                frame = handle.content_frame()
                if frame is not None:
                    frame.wait_for_function(drawn, timeout=15_000)
            break
        except PlaywrightError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    page.wait_for_function(idle, timeout=timeout)
    time.sleep(0.8)


def open_page(page, url: str, ready: str) -> None:
    page.goto(url)
    page.locator('[data-testid="stMain"]').wait_for(timeout=COLD_TIMEOUT)
    if ready == "map":
        page.frame_locator(FOLIUM_IFRAME).first.locator(ZONES_DRAWN).first.wait_for(state="attached", timeout=COLD_TIMEOUT)
    else:
        page.locator(ready).first.wait_for(state="attached", timeout=COLD_TIMEOUT)
    wait_idle(page)


def full_screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls its main area, not the document, so the viewport is made
    as tall as the content for the shot, then set back."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return Math.max(m ? m.scrollHeight : 0, document.documentElement.scrollHeight); }"
    )
    page.mouse.move(size["width"] - 5, 5)  # no map tooltip under the pointer
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 20, 12_000)})
        time.sleep(0.8)
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if height > size["height"]:
            page.set_viewport_size(size)
            time.sleep(0.4)


def overflow_problems(page, targets) -> list[str]:
    return page.evaluate(OVERFLOW_JS, [[list(t) for t in targets], 1])


def text_problems(page) -> list[str]:
    seen = page.evaluate(VISIBLE_TEXT_JS)
    texts = [("page", seen["text"])]
    for handle in page.locator(FOLIUM_IFRAME).element_handles():  # the map's legend and controls
        frame = handle.content_frame()
        if frame is not None:
            texts.append(("map", frame.evaluate("() => document.body.innerText")))
    problems = []
    for where, text in texts:
        for phrase in ENGLISH:
            if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text):
                problems.append(f"{where}: English « {phrase} » in {_around(text, phrase)}")
        for m in MISSING.finditer(text):
            problems.append(f"{where}: missing value « {m.group(1)} » in {_around(text, m.group(0), m.start())}")
    for k, table in enumerate(seen["tables"], 1):  # one line per table and kind, with an example
        clean = URL_OR_FILE.sub(" ", table)
        codes = list(RAW_CODES.finditer(clean))
        if codes:
            names = sorted({m.group(1) for m in codes})
            problems.append(f"table #{k}: raw code(s) {', '.join(f'« {n} »' for n in names)} ({len(codes)} cells), "
                            f"e.g. {_around(clean, codes[0].group(0), codes[0].start())}")
        points = list(DECIMAL_POINT.finditer(clean))
        if points:
            problems.append(f"table #{k}: {len(points)} number(s) with a decimal point (« {points[0].group(0)} », "
                            f"not « {points[0].group(0).replace('.', ',')} »), e.g. {_around(clean, points[0].group(0), points[0].start())}")
    return sorted(set(problems))


def _around(text: str, what: str, start: int | None = None) -> str:
    i = text.find(what) if start is None else start
    return "« …" + " ".join(text[max(0, i - 50) : i + len(what) + 50].split()) + "… »"


def report(title: str, problems: list[str]) -> str:
    return f"{title} ({len(problems)}):\n  - " + "\n  - ".join(problems)


def pick_zone(page, name: str) -> None:
    """Choose ``name`` in Carte's « Zone à expliquer » selectbox, wait for its explanation."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Zone à expliquer")
    box.locator("input").first.click()
    box.locator("input").first.fill(name[:30])
    page.locator('[role="option"]').filter(has_text=name).first.click()
    page.get_by_text("Pourquoi cette note").first.wait_for(timeout=RUN_TIMEOUT)
    page.locator(".inc-nearest, .inc-key-figures").first.wait_for(timeout=RUN_TIMEOUT)
    wait_idle(page)


def open_listbox(page, box) -> list[str]:
    """Open a multiselect's list (its « Open » button; the first click may be swallowed while the
    page settles) and return the options' texts."""
    listbox = page.locator('[role="listbox"]')
    for _ in range(4):
        box.locator('button[aria-haspopup="listbox"]').first.click()
        try:
            listbox.first.wait_for(timeout=3_000)
            break
        except Exception:
            continue
    page.locator('[role="option"]').first.wait_for(timeout=10_000)
    return page.locator('[role="option"]').all_inner_texts()


def compare_scenarios(page) -> list[str]:
    """On Implantation, choose the saved scenarios one by one in « Comparer ou exporter », as a
    user would; returns the problems met (English options in the open list, no comparison)."""
    box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Comparer ou exporter")
    if box.count() == 0:
        return ["Implantation: no « Comparer ou exporter » choice of the saved scenarios"]
    problems = []
    for name, *_ in SEEDED:
        options = open_listbox(page, box)
        problems += [f"Implantation: « Comparer ou exporter » list shows English option « {o} »"
                     for o in options if any(e.lower() in o.lower() for e in ENGLISH)]
        page.locator('[role="option"]').filter(has_text=name).first.click()
        wait_idle(page)
    page.keyboard.press("Escape")
    page.locator('[data-testid="stTable"]').first.wait_for(timeout=RUN_TIMEOUT)
    wait_idle(page)
    return sorted(set(problems))


# -- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("territory", list(TERRITORIES))
@pytest.mark.parametrize("name", list(PAGES))
def test_screen_reads_right_at_1440(screen, screens_server, name, territory):
    path, ready = PAGES[name]
    try:
        open_page(screen, f"{screens_server.url}{path}?t={TERRITORIES[territory]}{EXTRA_QUERY.get((name, territory), '')}", ready)
    except Exception:
        full_screenshot(screen, SCREENSHOT_DIR / f"{name}_{territory}.png")  # what the page shows instead
        raise
    problems = []
    if name == "comparer" and screen.locator('[data-testid="stTable"]').count() == 0:
        problems.append("Comparer: no comparison table (st.table) drawn")
    if name == "implantation" and territory == "metropole":
        try:
            problems += compare_scenarios(screen)
        except Exception as exc:  # still screenshot and check what is there
            problems.append(f"Implantation: the three saved scenarios could not be compared ({type(exc).__name__}: {str(exc)[:200]})")
    full_screenshot(screen, SCREENSHOT_DIR / f"{name}_{territory}.png")
    problems += overflow_problems(screen, WATCHED[name] + COMMON)
    if name == "donnees_methode":  # each tab in turn: a closed tab's text is hidden
        tabs = screen.locator('[data-testid="stTab"]')
        for k in range(tabs.count()):
            tabs.nth(k).click()
            wait_idle(screen)
            label = tabs.nth(k).inner_text().strip()
            problems += [f"tab « {label} »: {p}" for p in overflow_problems(screen, COMMON) + text_problems(screen)]
            if k:
                full_screenshot(screen, SCREENSHOT_DIR / f"{name}_{territory}_tab{k + 1}.png")
    else:
        problems += text_problems(screen)
    assert screen.get_by_text("Page not found").count() == 0
    assert screen.external_requests == [] and screen.dialogs == []
    assert not problems, report(f"{name} ({territory}) at {WIDTH} px", sorted(set(problems)))


@pytest.mark.parametrize("width", [1440, 1280])
@pytest.mark.parametrize("territory", list(TERRITORIES))
def test_zone_explanation_fits(screen, screens_server, territory, width):
    screen.set_viewport_size({"width": width, "height": HEIGHT})
    try:
        open_page(screen, f"{screens_server.url}/?t={TERRITORIES[territory]}", "map")
        pick_zone(screen, ZONES[territory])
    except Exception:
        full_screenshot(screen, SCREENSHOT_DIR / f"zone_{territory}_{width}.png")
        raise
    subheaders = screen.locator('[data-testid="stHeadingWithActionElements"] h3').all_inner_texts()
    assert any(s.startswith(ZONES[territory][:20]) for s in subheaders), subheaders
    full_screenshot(screen, SCREENSHOT_DIR / f"zone_{territory}_{width}.png")
    problems = overflow_problems(screen, WATCHED["carte"] + COMMON) + text_problems(screen)
    for selector, what, _ in ZONE_PANEL:
        if screen.locator(selector).count() == 0:
            problems.append(f"{what}: absent from the explanation")
    assert screen.external_requests == [] and screen.dialogs == []
    assert not problems, report(f"zone explanation ({territory}) at {width} px", sorted(set(problems)))
