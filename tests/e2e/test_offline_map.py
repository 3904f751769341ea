"""Offline folium maps: unit checks of the map builder / asset rewriting, then the browser.

The first part needs no browser (it runs everywhere); the ``e2e`` part starts
``demo_map_app.py`` with Streamlit, opens it in headless Chromium and checks that the map is
drawn from local assets only, with escaped tooltips, a legend and the clicked code sent back to
Python.  Synthetic data: a 6 × 5 grid of square zones (see demo_map_app.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import branca.colormap
import folium
import geopandas as gpd
import numpy as np
import pytest
from markupsafe import Markup
from shapely.geometry import Polygon

from tests.e2e.demo_map_app import (
    BINS,
    COLORS,
    HOSTILE_INDEX,
    HOSTILE_NAME,
    MISSING,
    N_COLS,
    N_ROWS,
    demo_map,
    synthetic_places,
    synthetic_zones,
    zone_code,
)
from ui import offline_assets
from ui.folium_map import (
    HATCH_FILL,
    GeoJsonLayer,
    build_choropleth,
    class_index,
    clicked_zone_code,
    find_zone_style,
    format_fr,
    legend_labels_for,
    zone_properties,
)
from ui.offline_assets import MissingAssetError, make_offline

APP = Path(__file__).with_name("demo_map_app.py")
REPO_DIR = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = Path(__file__).with_name("screenshots")
N_ZONES = N_COLS * N_ROWS
_LOADED = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"', re.IGNORECASE)

needs_assets = pytest.mark.usefixtures("vendored_leaflet")


def _layers(m: folium.Map) -> dict[str, GeoJsonLayer]:
    return {c.class_name: c for c in m._children.values() if isinstance(c, GeoJsonLayer)}


def _features(layer: GeoJsonLayer) -> list[dict]:
    return json.loads(layer.features_js)["features"]  # \u003c escapes are valid JSON


def _zones(m: folium.Map) -> list[dict]:
    """Zone features as the browser ends up with them: outline + code from the geometry layer,
    class / tooltip / popup from the map's ZoneStyle."""
    props = zone_properties(m)
    out = []
    for f in _features(_layers(m)["inc-zone"]):
        extra = {k: v for k, v in props[f["properties"]["code"]].items() if v is not None}
        out.append(dict(f, properties=dict(f["properties"], **extra)))
    return out


def _square(x: float, y: float, d: float = 0.1) -> Polygon:
    return Polygon([(x, y), (x + d, y), (x + d, y + d), (x, y + d)])


def _small(values, names=None, **kw) -> folium.Map:
    n = len(values)
    gdf = gpd.GeoDataFrame(
        {"code": [f"0100{i}" for i in range(n)], "nom": names or [f"Z{i}" for i in range(n)], "v": values},
        geometry=[_square(5 + 0.1 * i, 45) for i in range(n)],
        crs="EPSG:4326",
    )
    return build_choropleth(
        gdf,
        "v",
        "nom",
        [0, 5, 10],
        ["#ffffff", "#000000"],
        tooltip_fields=[("v", "Valeur", lambda x: format_fr(x, 1))],
        asset_mode=None,
        **kw,
    )


# --- map builder (no browser, no vendored files) -------------------------------------------


def test_class_index_edges_and_missing():
    # [0,5) → 0 ; [5,10] → 1 ; NaN → -1
    got = class_index(np.array([0.0, 4.99, 5.0, 10.0, np.nan]), [0, 5, 10])
    assert got.tolist() == [0, 0, 1, 1, -1]
    with pytest.raises(ValueError, match="outside the bins"):
        class_index(np.array([10.5]), [0, 5, 10])
    with pytest.raises(ValueError, match="strictly increasing"):
        class_index(np.array([1.0]), [0, 5, 5])


def test_format_fr_and_legend_labels():
    assert format_fr(1234.56, 1) == "1\u202f234,6"
    assert format_fr(float("nan")) == "n.d."
    assert legend_labels_for([0, 2.5, 10], 1) == ["0,0 – 2,5", "2,5 – 10,0"]


def test_styles_tooltips_and_missing_reason():
    m = _small([0.0, 7.0, np.nan])
    styles = find_zone_style(m).data["styles"]
    fill = {f["properties"]["code"]: styles[f["properties"]["k"]]["fillColor"] for f in _zones(m)}
    assert fill == {"01000": "#ffffff", "01001": "#000000", "01002": HATCH_FILL}
    tips = {f["properties"]["code"]: f["properties"]["tip"] for f in _zones(m)}
    assert tips["01001"] == "<b>Z1</b><br>Valeur : 7,0"
    assert tips["01002"] == "<b>Z2</b><br>Valeur : n.d.<br><i>Données manquantes</i>"


def test_missing_reason_column_in_tooltip():
    gdf = synthetic_zones()
    m = build_choropleth(gdf, "taux", "nom", BINS, COLORS, missing_reason_col="motif", asset_mode=None)
    tips = {f["properties"]["code"]: f["properties"]["tip"] for f in _zones(m)}
    assert tips[zone_code(3)].endswith("<i>Données manquantes : secret statistique</i>")
    assert tips[zone_code(12)].endswith("<i>Données manquantes</i>")
    assert "Données manquantes" not in tips[zone_code(0)]


def test_data_strings_are_escaped_everywhere():
    # a plain str popup is shown as text
    m = _small([1.0, 2.0], names=[HOSTILE_NAME, "A & B"], popup_html_fn=lambda row: row["nom"])
    feats = _zones(m)
    tip, pop = feats[0]["properties"]["tip"], feats[0]["properties"]["pop"]
    assert tip.startswith("<b>&lt;img src=x onerror=alert(1)&gt;</b>")
    assert pop == "&lt;img src=x onerror=alert(1)&gt;"
    assert feats[1]["properties"]["tip"].startswith("<b>A &amp; B</b>")
    html = m.get_root().render()
    assert "<img src=x" not in html and "onerror=alert(1)>" not in html


def test_markup_popup_escapes_its_arguments():
    m = _small([1.0], names=[HOSTILE_NAME], popup_html_fn=lambda row: Markup("<b>{}</b>").format(row["nom"]))
    pop = _zones(m)[0]["properties"]["pop"]
    assert pop == "<b>&lt;img src=x onerror=alert(1)&gt;</b>"


def test_payload_is_small_and_rounded():
    gdf = gpd.GeoDataFrame(
        {"code": ["01001"], "nom": ["A"], "v": [1.0], "extra": ["unused"]},
        geometry=[Polygon([(5.123456789, 45.0), (5.2, 45.0000049), (5.2, 45.1), (5.123456789, 45.1)])],
        crs="EPSG:4326",
    )
    m = build_choropleth(gdf, "v", "nom", [0, 2], ["#112233"], asset_mode=None)
    # the outline layer carries the code only; class and tooltip travel in the ZoneStyle
    assert _features(_layers(m)["inc-zone"])[0]["properties"] == {"code": "01001"}
    feat = _zones(m)[0]
    assert set(feat["properties"]) == {"code", "k", "tip"}
    ring = feat["geometry"]["coordinates"][0]
    assert ring[0] == [5.12346, 45.0] and ring[1] == [5.2, 45.0]


def test_points_and_boundaries_layers():
    m = demo_map(asset_mode=None)
    layers = _layers(m)
    assert set(layers) == {"inc-zone", "inc-boundary", "inc-point"}
    assert layers["inc-boundary"].interactive is False
    pts = _features(layers["inc-point"])
    assert pts[0]["properties"] == {
        "tip": "<b>Médiathèque &lt;b&gt;centre&lt;/b&gt;</b>",
        "place": "p1",
        "pop": "<b>Médiathèque &lt;b&gt;centre&lt;/b&gt;</b><br>1 rue A",
    }
    assert m.get_bounds() == [[45.05, 5.55], [45.35, 5.91]]


def test_the_map_opens_on_its_zones_without_a_zoom_animation():
    """The map starts at zoom 9, then fits its zones: animated, Leaflet showed the first drawing
    scaled up for 0.25 s (outlines and places twice their size, seen in Chromium screenshots
    right after the map was drawn); the fit is immediate, once, on the zones' bounds."""
    m = demo_map(asset_mode=None)
    script = m.get_root().render()
    calls = re.findall(r"\.fitBounds\(\s*(\[\[.*?\]\]),\s*(\{.*?\})\s*\)", script, flags=re.S)
    assert len(calls) == 1
    bounds, options = (json.loads(part) for part in calls[0])
    assert options == {"animate": False}
    assert bounds == m.get_bounds() == [[45.05, 5.55], [45.35, 5.91]]


def test_template_syntax_in_data_is_inert():
    """Data strings never go through Jinja: ``{{ 7*7 }}`` stays text (no 49)."""
    m = _small([1.0], names=["{{ 7*7 }} {% if 1 %}x{% endif %}"])
    assert _zones(m)[0]["properties"]["tip"].startswith("<b>&#123;&#123; 7*7 &#125;&#125; &#123;% if 1 %&#125;x")
    script = m.get_root().render().split("<script>")[-1]
    assert "&#123;&#123; 7*7 &#125;&#125;" in script and "<b>49" not in script


def test_bad_inputs_raise_clear_errors():
    gdf = synthetic_zones()
    with pytest.raises(ValueError, match="need 4 colours"):
        build_choropleth(gdf, "taux", "nom", BINS, COLORS[:3], asset_mode=None)
    with pytest.raises(ValueError, match="#rrggbb"):
        build_choropleth(gdf, "taux", "nom", BINS, COLORS[:3] + ["red;x"], asset_mode=None)
    with pytest.raises(ValueError, match="EPSG:4326"):
        build_choropleth(gdf.to_crs(2154), "taux", "nom", BINS, COLORS, asset_mode=None)
    with pytest.raises(ValueError, match="not found"):
        build_choropleth(gdf, "absent", "nom", BINS, COLORS, asset_mode=None)
    with pytest.raises(ValueError, match="must be unique"):
        build_choropleth(gdf.assign(code="38001"), "taux", "nom", BINS, COLORS, asset_mode=None)
    with pytest.raises(ValueError, match="must hold code strings"):
        build_choropleth(gdf.assign(code=range(len(gdf))), "taux", "nom", BINS, COLORS, asset_mode=None)
    with pytest.raises(ValueError, match="outside the bins"):
        build_choropleth(gdf.assign(taux=gdf["taux"] + 50), "taux", "nom", BINS, COLORS, asset_mode=None)
    with pytest.raises(ValueError, match="tiles must be"):
        build_choropleth(gdf, "taux", "nom", BINS, COLORS, tiles="google", asset_mode=None)


def test_clicked_zone_code():
    state = {"last_active_drawing": {"type": "Feature", "properties": {"code": "2A004", "tip": "x"}, "geometry": None}}
    assert clicked_zone_code(state) == "2A004"
    assert clicked_zone_code({"last_active_drawing": {"properties": {"place": "p1"}}}) is None
    assert clicked_zone_code({"last_active_drawing": None}) is None
    assert clicked_zone_code(None) is None


# --- offline assets ------------------------------------------------------------------------


def test_missing_assets_tell_the_setup_command(tmp_path):
    m = folium.Map(tiles=None)
    with pytest.raises(MissingAssetError, match=re.escape(".ci/install_frontend.sh")):
        make_offline(m, vendor_dir=tmp_path)
    (tmp_path / "leaflet").mkdir()
    (tmp_path / "leaflet" / "leaflet.js").write_text("x")
    (tmp_path / "leaflet" / "leaflet.css").write_text("x")
    (tmp_path / "leaflet" / "manifest.json").write_text('{"package": "leaflet", "version": "1.7.1"}')
    with pytest.raises(MissingAssetError, match="expected leaflet@1.9.4"):
        make_offline(m, vendor_dir=tmp_path)


@needs_assets
def test_inline_html_loads_nothing_from_the_network():
    m = demo_map("inline")
    html = m.get_root().render()
    loaded = _LOADED.findall(html)
    assert len(loaded) == 2 and all(u.startswith("data:") for u in loaded)
    # folium's class-level defaults are untouched (the rewrite is per map instance)
    assert folium.Map.default_js[0][1].startswith("https://")


@needs_assets
def test_make_offline_after_a_render_drops_stale_cdn_links():
    m = folium.Map(tiles=None)
    m.get_root().render()  # header now holds folium's 10 CDN links
    loaded = _LOADED.findall(make_offline(m).get_root().render())
    assert len(loaded) == 2 and all(u.startswith("data:") for u in loaded)


@needs_assets
def test_streamlit_folium_receives_only_local_links():
    """What st_folium sends to its iframe: header, script and the js/css link lists."""
    import streamlit_folium as sf

    m = demo_map("static")
    m.get_root().render()
    header, script = sf._get_header(m), sf._get_map_string(m)
    links = [
        url
        for el in offline_assets._walk(m)
        for attr in ("default_js", "default_css")
        for _, url in getattr(el, attr, [])
    ]
    # relative to the component iframe (<base>/component/<name>/index.html): baseUrlPath-proof
    assert sorted(links) == ["../../app/static/vendor/leaflet/leaflet.css", "../../app/static/vendor/leaflet/leaflet.js"]
    assert not any(isinstance(e, branca.colormap.ColorMap) for e in offline_assets._walk(m))
    assert "http://" not in header + script and "https://" not in header + script


@needs_assets
def test_cdn_only_elements_are_refused():
    def zones_map(**kw):
        return build_choropleth(synthetic_zones(), "taux", "nom", BINS, COLORS, asset_mode=None, **kw)

    m = zones_map()
    folium.Marker([45.1, 5.6], popup=folium.Popup("x")).add_to(m)
    with pytest.raises(ValueError, match="Popup builds its content with jQuery"):
        make_offline(m)
    m = zones_map()
    branca.colormap.LinearColormap(["#ffffff", "#000000"], vmin=0, vmax=1).add_to(m)
    with pytest.raises(ValueError, match="d3"):
        make_offline(m)
    m = zones_map()
    folium.Marker([45.1, 5.6], icon=folium.Icon(icon="info-sign")).add_to(m)
    with pytest.raises(ValueError, match="awesome-markers"):
        make_offline(m)
    with pytest.raises(ValueError, match="tile layer"):
        make_offline(folium.Map())  # folium's default OpenStreetMap tiles
    m = build_choropleth(synthetic_zones(), "taux", "nom", BINS, COLORS, tiles="ign")
    assert sum(isinstance(c, folium.TileLayer) for c in m._children.values()) == 1


# --- browser -------------------------------------------------------------------------------


def _folium_frame(page):
    return page.frame_locator('iframe[title="streamlit_folium.st_folium"]')


def _open_map(page, url):
    page.goto(url)
    frame = _folium_frame(page)
    frame.locator("path.inc-zone").first.wait_for(timeout=30_000)
    return frame


@pytest.mark.e2e
@needs_assets
def test_map_offline_in_streamlit_inline(page, streamlit_app):
    server = streamlit_app(APP)
    frame = _open_map(page, server.url)

    zones = frame.locator("path.inc-zone")
    assert zones.count() == N_ZONES
    assert frame.locator("path.inc-point").count() == len(synthetic_places())
    assert frame.locator("path.inc-boundary").count() == 1
    assert frame.locator("pattern#inc-hatch").count() == 1
    fills = zones.evaluate_all("ps => ps.map(p => p.getAttribute('fill'))")
    assert [i for i, f in enumerate(fills) if f == HATCH_FILL] == sorted(MISSING)
    assert fills[0] == COLORS[0]  # zone 0: value 0 → first class

    legend = frame.locator(".inc-legend")
    assert legend.is_visible()
    assert legend.inner_text().split("\n") == [
        "Part des 75 ans et plus (%)",
        "0,0 – 25,0",
        "25,0 – 50,0",
        "50,0 – 75,0",
        "75,0 – 100,0",
        "Données manquantes",
        "Lieux",
    ]

    # hover: escaped name shown as text, nothing injected
    zones.nth(HOSTILE_INDEX).hover()
    tooltip = frame.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert tooltip.inner_text().split("\n") == [
        HOSTILE_NAME,
        "Part des 75 ans et plus : 59,0 %",
        "Population : 2\u202f750",
    ]
    assert tooltip.locator("img").count() == 0
    zones.nth(3).hover()  # the previous tooltip may still be fading out: select by text
    missing_tip = frame.locator(".leaflet-tooltip").filter(has_text="Commune 4")
    assert missing_tip.inner_text().endswith("Données manquantes : secret statistique")

    # click: the code comes back to Python through st_folium's last_active_drawing
    zones.nth(10).click()
    page.get_by_text(f"Zone cliquée : {zone_code(10)}").wait_for(timeout=15_000)

    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "offline_map.png"), full_page=True)

    assert page.dialogs == []
    assert page.console_errors == []
    assert page.external_requests == [], page.external_requests
    assert any("/component/streamlit_folium" in u for u in page.requests)


@pytest.mark.e2e
@needs_assets
def test_map_offline_in_streamlit_static_serving(page, streamlit_app):
    server = streamlit_app(APP, env={"INCLUSION_MAP_ASSETS": "static"}, static_dir=REPO_DIR / "static")
    responses = {}
    page.on("response", lambda r: responses.__setitem__(r.url, r))
    frame = _open_map(page, server.url)
    assert frame.locator("path.inc-zone").count() == N_ZONES
    js = responses[f"{server.url}/app/static/vendor/leaflet/leaflet.js"]
    assert js.status == 200 and "javascript" in js.headers["content-type"]
    assert page.external_requests == [], page.external_requests


@pytest.mark.e2e
def test_harness_sees_cdn_requests(page, streamlit_app):
    """Negative control: with folium's CDN links left in place, the harness records them."""
    server = streamlit_app(APP, env={"INCLUSION_MAP_ASSETS": "cdn"})
    with page.expect_request(lambda r: "cdn.jsdelivr.net/npm/leaflet" in r.url, timeout=30_000):
        page.goto(server.url)
    assert any("cdn.jsdelivr.net" in u for u in page.external_requests)


def test_preferred_mode_static_only_when_streamlit_serves_the_vendor_dir(monkeypatch, tmp_path):
    import streamlit as st

    monkeypatch.setattr(st, "get_option", lambda name: True)
    assert offline_assets.preferred_mode() == "static"
    monkeypatch.setattr(st, "get_option", lambda name: False)  # config not loaded (run from elsewhere)
    assert offline_assets.preferred_mode() == "inline"
    monkeypatch.setattr(st, "get_option", lambda name: True)
    monkeypatch.setattr(offline_assets, "VENDOR_DIR", tmp_path)  # $INCLUSION_VENDOR_DIR elsewhere
    assert offline_assets.preferred_mode() == "inline"
