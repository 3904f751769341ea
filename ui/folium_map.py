"""Choropleth maps with folium, drawn with Leaflet only and no network access.

The map is split along what changes when the user picks another indicator:

- the zone outlines: one Leaflet ``L.geoJson`` layer (:class:`GeoJsonLayer`, stored as
  ``window.incZones``) whose features carry only their ``code`` (read back from a click),
  drawn with SVG, or with one canvas above :data:`LARGE_MAP` zones; commune boundaries and
  places are further GeoJsonLayers;
- the indicator: :class:`ZoneStyle` — the class of each zone (→ fill colour), its tooltip as
  HTML (every data-derived string passed through :func:`html.escape`), an optional popup, and the
  legend.  In the app it is sent apart from the map (:func:`show_map`), so a new indicator
  restyles the drawn paths instead of reloading the whole map.

Classes: with edges ``b_0 < … < b_k``, value ``v`` falls in class ``i`` when
``b_i <= v < b_{i+1}`` (the last class also holds ``b_k``).  Missing values (NaN) are hatched
grey and the tooltip says why.  The legend is a Leaflet control filled with a small HTML block
(no d3).  Coordinates are rounded to 5 decimals (≈1 m); the GeoJSON text is built once, from
shapely's GeoJSON writer, and never goes through Jinja (see :class:`RawScript`).
"""
from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.template import Template
from markupsafe import Markup

from ui.offline_assets import make_offline, preferred_mode

#: (column, French label, formatter or None) for one tooltip line.
TooltipField = tuple[str, str, Callable[[Any], str] | None]

COORD_DECIMALS = 5
HATCH_ID = "inc-hatch"
HATCH_FILL = f"url(#{HATCH_ID}) #d0d0d0"  # SVG fill with a plain grey fallback
#: zones whose value rests on estimates: the class colour, paler, with a dashed outline
ESTIMATED_OPACITY = 0.55
ESTIMATED_DASH = "3 3"
#: zones without residents (not scored): plain light fill, no class
UNINHABITED_FILL = "#f4f4f4"
MAP_BACKGROUND = "#f4f4f1"
NOT_AVAILABLE = "n.d."
ZONE_CLASS, POINT_CLASS, BOUNDARY_CLASS = "inc-zone", "inc-point", "inc-boundary"

TILES = {
    "osm": dict(
        tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        name="OpenStreetMap",
        attr="&copy; les contributeurs d’OpenStreetMap",
        max_zoom=19,
    ),
    "ign": dict(
        tiles="https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
        "&FORMAT=image/png&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
        name="Plan IGN",
        attr="&copy; IGN – Géoplateforme",
        max_zoom=19,
    ),
}

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_CODE = re.compile(r"^[0-9A-Za-z_.:-]{1,40}$")


def _check_colors(colors: Sequence[str]) -> None:
    bad = [c for c in colors if not _HEX_COLOR.match(str(c))]
    if bad:
        raise ValueError(f"colours must be '#rrggbb', got {bad}")


def esc(value: Any) -> str:
    """HTML-escape any value (``str(value)`` first)."""
    return html.escape(str(value), quote=True)


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas NA."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_fr(value: Any, decimals: int = 1) -> str:
    """French number: ``1234.56`` → ``1 234,6`` (narrow no-break space); missing → ``n.d.``."""
    if is_missing(value):
        return NOT_AVAILABLE
    x = float(value)
    if not math.isfinite(x):
        return NOT_AVAILABLE
    return f"{x:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")


def class_index(values: np.ndarray, bins: Sequence[float]) -> np.ndarray:
    """Class of each value for edges ``bins`` (k+1 increasing numbers); NaN → -1.

    ``b_i <= v < b_{i+1}`` → ``i``; ``v == b_k`` → ``k-1``.  Raises ValueError for values outside
    ``[b_0, b_k]``.
    """
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.isfinite(edges)):
        raise ValueError(f"bins must be at least 2 finite edges, got {list(bins)!r}")
    if np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins must be strictly increasing, got {list(bins)!r}")
    v = np.asarray(values, dtype=float)
    missing = np.isnan(v)
    outside = ~missing & ((v < edges[0]) | (v > edges[-1]))
    if outside.any():
        raise ValueError(
            f"{int(outside.sum())} value(s) outside the bins [{edges[0]}, {edges[-1]}] "
            f"(e.g. {v[outside][:3].tolist()}); the edges must cover the data"
        )
    idx = np.searchsorted(edges, v, side="right") - 1
    idx = np.minimum(idx, len(edges) - 2)
    idx[missing] = -1
    return idx


def legend_labels_for(bins: Sequence[float], decimals: int = 1) -> list[str]:
    """``["0 – 5", "5 – 10"]`` style labels (French numbers) for class edges."""
    return [f"{format_fr(a, decimals)} – {format_fr(b, decimals)}" for a, b in zip(bins[:-1], bins[1:], strict=True)]


def _swatch(css: str) -> str:
    return (
        '<span style="display:inline-block;width:14px;height:12px;margin-right:6px;'
        f'vertical-align:-1px;border:1px solid #9e9e9e;{css}"></span>'
    )


def legend_html(
    title: str,
    labels: Sequence[str],
    colors: Sequence[str],
    *,
    missing_label: str | None = None,
    point_legend: Sequence[tuple[str, str]] = (),
    estimated_label: str | None = None,
    uninhabited_label: str | None = None,
) -> str:
    """The legend block: escaped title, one coloured swatch per class, hatched 'missing' row,
    one dot per point layer (``point_legend`` = ``[(label, colour), …]``).

    With a title, the rows sit in an open ``<details>`` whose ``<summary>`` is the title: a click
    on the title folds the legend away from the zones it covers (no script needed)."""
    _check_colors([*colors, *(c for _, c in point_legend)])
    rows = [f"<div>{_swatch('background:' + c)}{esc(lab)}</div>" for c, lab in zip(colors, labels, strict=True)]
    if estimated_label:
        mid = colors[len(colors) // 2]
        border = "border:1.5px dashed #333;" if "pointillé" in estimated_label else ""
        rows.append(f"<div>{_swatch(f'background:{mid};opacity:{ESTIMATED_OPACITY};{border}')}{esc(estimated_label)}</div>")
    if uninhabited_label:
        rows.append(f"<div>{_swatch(f'background:{UNINHABITED_FILL}')}{esc(uninhabited_label)}</div>")
    if missing_label:
        hatch = "background:repeating-linear-gradient(45deg,#8a8a8a 0 2px,#e6e6e6 2px 5px)"
        rows.append(f"<div>{_swatch(hatch)}{esc(missing_label)}</div>")
    for points_label, point_color in point_legend:
        dot = f"background:{point_color};border-radius:50%;width:10px;height:10px;margin-left:2px;margin-right:8px"
        rows.append(f"<div>{_swatch(dot)}{esc(points_label)}</div>")
    body = "".join(rows)
    if title:
        body = (
            '<details open><summary title="Replier / déplier la légende" style="font-weight:600;'
            f'margin-bottom:4px;cursor:pointer">{esc(title)}</summary>{body}</details>'
        )
    return (
        '<div class="inc-legend" style="background:rgba(255,255,255,.92);padding:6px 9px;'
        "border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.5 system-ui,"
        f'sans-serif;color:#222;max-width:240px">{body}</div>'
    )


class RawScript(Element):
    """Already-rendered JavaScript, emitted as is.

    folium's ``MacroElement.render`` wraps each rendered script in ``Element(text)``, which makes
    Jinja *compile the output again*: slow for megabytes of GeoJSON (~0.5 s for 4 000 communes)
    and unsafe, since ``{{ … }}`` in a data string would be evaluated.  This element is not.
    """

    def __init__(self, text: str):
        super().__init__()
        self._text = text

    def render(self, **kwargs) -> str:
        return self._text


class ScriptElement(MacroElement):
    """A MacroElement with a ``script`` macro only, added to the page through :class:`RawScript`.

    streamlit-folium calls ``_template.module.script(element)`` directly, so both paths emit the
    same text.
    """

    def render(self, **kwargs):
        script = self._template.module.script(self, kwargs)
        self.get_root().script.add_child(RawScript(str(script)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class MapDecor(ScriptElement):
    """Plain background colour + the SVG hatch pattern used by missing zones."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(container) {
            container.style.background = {{ this.background|tojson }};
            container.insertAdjacentHTML("beforeend", {{ this.defs|tojson }});
        })({{ this._parent.get_name() }}.getContainer());
        {% endmacro %}
        """
    )

    def __init__(self, background: str = MAP_BACKGROUND):
        super().__init__()
        self._name = "MapDecor"
        self.background = background
        self.defs = (
            '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
            f'<pattern id="{HATCH_ID}" patternUnits="userSpaceOnUse" width="6" height="6" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#e6e6e6"/>'
            '<rect width="2" height="6" fill="#8a8a8a"/></pattern></defs></svg>'
        )


def script_safe_json(text: str) -> str:
    """JSON text made safe inside ``<script>``, escaping only what the HTML tokenizer reacts to.

    Inside a script element only ``</`` (``</script>`` closes it), ``<!--`` and ``<script`` (the
    double-escaped state) matter: ``</`` becomes the JSON escape ``<\\/``, ``<!`` and ``<s``/``<S``
    become ``\\u003c…``; U+2028/9 are escaped for older JavaScript engines. Tags such as ``<b>``
    in the (already HTML-escaped) tooltips stay as they are, which keeps regional maps light.
    """
    for seq, code in (
        ("</", "<\\/"),
        ("<!", "\\u003c!"),
        ("<s", "\\u003cs"),
        ("<S", "\\u003cS"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(seq, code)
    return text


class GeoJsonLayer(ScriptElement):
    """A Leaflet ``L.geoJson`` layer whose data is serialised once, at construction.

    ``features_json``: the FeatureCollection as JSON text.  Feature ``i`` is styled with
    ``styles[properties.k]`` (``styles[0]`` when there is no ``k``); ``tip`` / ``pop`` properties
    become a sticky tooltip / a popup.  ``point_radius``: draw Point features as CircleMarkers.
    ``global_name``: also store the layer as ``window[global_name]`` (and its map as
    ``window.incMap``) so that a later script — :class:`ZoneStyle` — can restyle it in place.
    ``canvas``: draw with Leaflet's canvas renderer (one ``<canvas>`` instead of one SVG path per
    feature: much faster above ~1 000 polygons; no per-feature CSS class then).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }}_styles = {{ this.styles|tojson }};
        var {{ this.get_name() }} = L.geoJson(null, {
            className: {{ this.class_name|tojson }},
            interactive: {{ this.interactive|tojson }},
            {%- if this.canvas %}
            renderer: L.canvas({padding: 0.5}),
            {%- endif %}
            style: function(feature) {
                var k = feature.properties.k;
                return {{ this.get_name() }}_styles[k === undefined ? 0 : k];
            },
            {%- if this.point_radius %}
            pointToLayer: function(feature, latlng) {
                return L.circleMarker(latlng, {radius: {{ this.point_radius|tojson }},
                                               className: {{ this.class_name|tojson }}});
            },
            {%- endif %}
            onEachFeature: function(feature, layer) {
                var p = feature.properties;
                if (p.tip) { layer.bindTooltip(p.tip, {sticky: true}); }
                if (p.pop) { layer.bindPopup(p.pop, {maxWidth: 320}); }
                {%- if this.highlight %}
                layer.on({
                    mouseover: function(e) { e.target.setStyle({{ this.highlight|tojson }}); },
                    mouseout: function(e) { {{ this.get_name() }}.resetStyle(e.target); }
                });
                {%- endif %}
            }
        });
        {{ this.get_name() }}.addData({{ this.features_js }});
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {%- if this.global_name %}
        window[{{ this.global_name|tojson }}] = {{ this.get_name() }};
        window.incMap = {{ this._parent.get_name() }};
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self,
        features_json: str,
        styles: Sequence[Mapping],
        *,
        class_name: str,
        bounds: Sequence[float],
        interactive: bool = True,
        highlight: Mapping | None = None,
        point_radius: float | None = None,
        name: str = "",
        global_name: str | None = None,
        canvas: bool = False,
    ):
        super().__init__()
        self._name = "GeoJsonLayer"  # JS variable prefix; the display name is layer_name
        self.layer_name = name
        self.features_js = script_safe_json(features_json)
        self.styles = [dict(s) for s in styles]
        self.class_name = class_name
        self.interactive = interactive
        self.highlight = dict(highlight) if highlight else None
        self.point_radius = point_radius
        self.global_name = global_name
        self.canvas = canvas
        minx, miny, maxx, maxy = (float(b) for b in bounds)
        self._bounds = [[miny, minx], [maxy, maxx]]

    def _get_self_bounds(self):
        return self._bounds


#: JS name of the zones layer, restyled in place by :class:`ZoneStyle`.
ZONES_GLOBAL = "incZones"
#: marker written in the script before the style data (lets tests find the JSON).
ZONE_STYLE_MARKER = "/*inc-zone-style*/"


class ZoneStyle(ScriptElement):
    """Colours, tooltips, popups and legend of the zones layer, applied to the drawn geometry.

    The zone geometry (:class:`GeoJsonLayer` registered as ``window.incZones``) depends only on
    the territory; this element carries everything that depends on the displayed indicator:
    ``styles`` (one Leaflet path style per class, the last one for missing values) and, per zone
    code, ``[class, tooltip HTML, popup HTML or null]``, plus the legend block.  Applying it
    restyles the existing paths (``setStyle`` + tooltip content) and swaps the legend, so that
    :func:`show_map` can send it alone as streamlit-folium's ``feature_group_to_add``: a change
    of indicator then updates the map in place instead of reloading Leaflet and the geometry.
    On a canvas-drawn layer the hatched "missing" fill becomes a canvas pattern (SVG patterns
    do not exist there).  When done, the map container gets ``data-inc-drawn="<n zones>"`` on
    the next animation frame (what the browser tests and the benchmark wait for).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(d) {
            var zones = window[{{ this.global_name|tojson }}];
            if (!zones) { return; }
            var styles = d.styles, n = 0;
            if (!document.getElementById("inc-tip-css")) {  // zone tooltips wrap instead of leaving the map
                var css = document.createElement("style");
                css.id = "inc-tip-css";
                css.textContent = ".leaflet-tooltip.inc-tip{white-space:normal;width:max-content;max-width:min(300px,44vw)}";
                document.head.appendChild(css);
            }
            var tipText = function(t) {  // a tooltip: HTML, or its lines (numbers: d.lines shared by zones)
                return typeof t === "string" || t === null ? t : t.map(function(p) {
                    return typeof p === "number" ? d.lines[p] : p;
                }).join("<br>");
            };
            if (zones.options.renderer instanceof L.Canvas) {
                var c = document.createElement("canvas"); c.width = 6; c.height = 6;
                var x = c.getContext("2d");
                x.fillStyle = "#e6e6e6"; x.fillRect(0, 0, 6, 6);
                x.strokeStyle = "#8a8a8a"; x.lineWidth = 1.5; x.beginPath();
                x.moveTo(-1, 1); x.lineTo(1, -1); x.moveTo(0, 6); x.lineTo(6, 0); x.moveTo(5, 7); x.lineTo(7, 5);
                x.stroke();
                var hatch = x.createPattern(c, "repeat");
                styles = styles.map(function(s) {
                    return s.fillColor && s.fillColor.indexOf("url(") === 0 ? Object.assign({}, s, {fillColor: hatch}) : s;
                });
            }
            var missing = styles.length - 1;
            zones.options.style = function(f) {
                var z = d.zones[f.properties.code];
                return styles[z ? z[0] : missing];
            };
            zones.eachLayer(function(layer) {
                var z = d.zones[layer.feature.properties.code] || [missing, "", null];
                var tip = tipText(z[1]);
                layer.setStyle(styles[z[0]]);
                if (layer.getTooltip()) { layer.setTooltipContent(tip); }
                else if (tip) { layer.bindTooltip(tip, {sticky: true, className: "inc-tip"}); }
                if (z[2]) { layer.bindPopup(z[2], {maxWidth: 320}); } else { layer.unbindPopup(); }
                n += 1;
            });
            var map = window.incMap;
            if (window.incZoneLegend) { window.incZoneLegend.remove(); }
            var legend = L.control({position: d.position});
            legend.onAdd = function() {
                var div = L.DomUtil.create("div");
                div.innerHTML = d.legend;
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo(map);
            window.incZoneLegend = legend;
            var box = map.getContainer();
            delete box.dataset.incDrawn;
            requestAnimationFrame(function() { requestAnimationFrame(function() { box.dataset.incDrawn = String(n); }); });
        })({{ this.marker }}{{ this.data_js }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        styles: Sequence[Mapping],
        zones: Mapping[str, list],
        legend: str,
        position: str = "bottomright",
        global_name: str = ZONES_GLOBAL,
    ):
        super().__init__()
        self._name = "ZoneStyle"
        self.global_name = global_name
        self.marker = ZONE_STYLE_MARKER
        self.data = {"styles": [dict(s) for s in styles], "zones": dict(zones), "legend": legend, "position": position}
        lines, compact = shared_tooltip_lines(self.data["zones"])
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self.data_js = script_safe_json(encode(self.data | {"zones": compact, "lines": lines}))


#: a tooltip line is sent once and referred to by its index when it is at least this long and
#: shared by at least two zones
SHARED_LINE_MIN_CHARS = 12


def shared_tooltip_lines(zones: Mapping[str, list]) -> tuple[list[str], dict[str, list]]:
    """The zones' ``[class, tooltip, popup]`` with each tooltip line (``<br>``-separated) that
    several zones share sent once: returns ``(lines, zones)`` where a tooltip is its HTML when
    it has no shared line, else the list of its lines, an int ``i`` standing for ``lines[i]``.

    The browser joins them back (``tipText`` in :class:`ZoneStyle`). On the région's communes,
    « Valeur estimée : Taux de pauvreté … » and « Indice … : 5,8 » repeat over thousands of
    zones: the map message loses ≈ 0,4 MB of its 2,1 MB."""
    split = {code: z[1].split("<br>") if isinstance(z[1], str) else None for code, z in zones.items()}
    counts = Counter(line for parts in split.values() if parts for line in parts if len(line) >= SHARED_LINE_MIN_CHARS)
    shared = [line for line, n in counts.items() if n >= 2]
    index = {line: i for i, line in enumerate(shared)}
    compact = {}
    for code, z in zones.items():
        parts = split[code]
        if parts and any(p in index for p in parts):
            compact[code] = [z[0], [index.get(p, p) for p in parts], *z[2:]]
        else:
            compact[code] = list(z)
    return shared, compact


def zone_properties(m: folium.Map) -> dict[str, dict]:
    """``{code: {"k": class, "tip": tooltip HTML, "pop": popup HTML or None}}`` of a map's zones,
    as the browser applies them (from the map's :class:`ZoneStyle`, wherever it is attached)."""
    style = find_zone_style(m)
    if style is None:
        raise ValueError("this map has no ZoneStyle (not built by build_choropleth)")
    return {code: {"k": z[0], "tip": z[1], "pop": z[2]} for code, z in style.data["zones"].items()}


def find_zone_style(m: folium.Map) -> ZoneStyle | None:
    """The :class:`ZoneStyle` of ``m`` (a child of the map, or of a feature group of it)."""
    for child in m._children.values():
        if isinstance(child, ZoneStyle):
            return child
        for grandchild in getattr(child, "_children", {}).values():
            if isinstance(grandchild, ZoneStyle):
                return grandchild
    return None


def _check_frame(gdf: gpd.GeoDataFrame, what: str, columns: Sequence[str]) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValueError(f"{what} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise ValueError(f"{what} must be in WGS84 (EPSG:4326), got {gdf.crs}; use .to_crs(4326)")
    _check_columns(gdf, what, columns)
    n_null = int((gdf.geometry.isna() | gdf.geometry.is_empty).sum())
    if n_null:
        raise ValueError(f"{what}: {n_null} row(s) without geometry")


def _check_columns(df: pd.DataFrame, what: str, columns: Sequence[str]) -> None:
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise ValueError(f"{what}: column(s) {absent} not found (have {list(df.columns)})")


#: above this many zones, coordinates are sent with one decimal less (≈ 10 m instead of 1 m)
LARGE_MAP = 1000


def rounded_geojson(geoms: Sequence, decimals: int = COORD_DECIMALS) -> np.ndarray:
    """GeoJSON geometry texts with coordinates rounded to ``decimals`` (vectorised in shapely)."""
    arr = shapely.transform(np.asarray(geoms, dtype=object), lambda c: np.round(c, decimals))
    return shapely.to_geojson(arr)


def zone_geometry_json(geoms: Sequence, codes: Sequence[str]) -> str:
    """FeatureCollection of zone outlines carrying only their ``code`` (what does not change with
    the displayed indicator); coordinates rounded to 5 decimals, 4 above :data:`LARGE_MAP` zones."""
    decimals = COORD_DECIMALS if len(codes) <= LARGE_MAP else COORD_DECIMALS - 1
    return _feature_collection(rounded_geojson(geoms, decimals), [{"code": c} for c in codes])


def _html_text(value: Any) -> str:
    """Escaped text, with ``{ }`` as HTML entities too (no template syntax can survive)."""
    return esc(value).replace("{", "&#123;").replace("}", "&#125;")


def _html_or_text(value: Any) -> str | None:
    """Markup → used as HTML (the caller escaped); anything else → escaped text; None → None."""
    if value is None:
        return None
    if isinstance(value, Markup):
        return str(value).replace("{", "&#123;").replace("}", "&#125;")
    return _html_text(value)


def _feature_collection(geometries: Sequence[str], props: Sequence[dict]) -> str:
    """FeatureCollection JSON text from geometry JSON texts and property dicts."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    parts = [
        f'{{"type":"Feature","properties":{dumps(p)},"geometry":{g}}}' for p, g in zip(props, geometries, strict=True)
    ]
    return '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"


def _zone_tooltips(
    gdf: gpd.GeoDataFrame,
    label_col: str,
    value_missing: np.ndarray,
    tooltip_fields: Sequence[TooltipField],
    missing_label: str,
    missing_reason_col: str | None,
    estimated: np.ndarray | None = None,
    estimate_notes: np.ndarray | None = None,
) -> list[str]:
    labels = gdf[label_col].to_numpy(dtype=object)
    columns = [(_html_text(lab), fmt, gdf[col].to_numpy(dtype=object)) for col, lab, fmt in tooltip_fields]
    reasons = (
        gdf[missing_reason_col].to_numpy(dtype=object) if missing_reason_col else np.full(len(gdf), None, dtype=object)
    )
    missing_text = _html_text(missing_label)
    tips = []
    for i in range(len(gdf)):
        lines = [f"<b>{NOT_AVAILABLE if is_missing(labels[i]) else _html_text(labels[i])}</b>"]
        for lab, fmt, values in columns:
            v = values[i]
            shown = NOT_AVAILABLE if is_missing(v) else (fmt(v) if fmt else v)
            lines.append(f"{lab} : {_html_text(shown)}")
        if value_missing[i]:
            reason = reasons[i]
            line = f"<i>{missing_text}"
            if not is_missing(reason) and str(reason).strip():
                line += f" : {_html_text(reason)}"
            lines.append(line + "</i>")
        elif estimated is not None and estimated[i]:
            note = estimate_notes[i] if estimate_notes is not None else None
            note = "" if is_missing(note) or not str(note).strip() else f" : {_html_text(note)}"
            lines.append(f"<i>Valeur estimée{note}</i>")
        tips.append("<br>".join(lines))
    return tips


def _popups(gdf: gpd.GeoDataFrame, fn: Callable[[pd.Series], Any]) -> list[str | None]:
    rows = gdf.drop(columns=gdf.geometry.name)
    return [_html_or_text(fn(row)) for _, row in rows.iterrows()]


@dataclass(frozen=True)
class PreparedFeatures:
    """A FeatureCollection already serialised: JSON text, bounds ``(minx, miny, maxx, maxy)``
    in WGS84, number of features.  Lets a page cache the layers that do not change between
    reruns (outlines, places with their popups) instead of serialising them again."""

    json: str
    bounds: tuple[float, float, float, float]
    count: int


@dataclass(frozen=True)
class PointLayer:
    """A layer of points drawn as circles: label column (tooltip), legend label, colour, popups.

    ``prepared``: the features already built by :func:`prepare_points` (then ``gdf`` may be None).
    ``changes``: the layer may change while the territory stays (places and QPV the user toggles
    or filters, proposed sites, clicked points): in the app it travels with the zone styles
    (:func:`show_map`), so that a change redraws these points only, on the same Leaflet map,
    and the view the user zoomed to stays.
    """

    gdf: gpd.GeoDataFrame | None
    label_col: str
    label: str
    color: str = "#1f2937"
    popup_fn: Callable[[pd.Series], Any] | None = None
    id_col: str | None = None
    radius: int = 6
    prepared: PreparedFeatures | None = None
    changes: bool = False


def prepare_points(
    points: gpd.GeoDataFrame,
    label_col: str,
    popup_fn: Callable[[pd.Series], Any] | None = None,
    id_col: str | None = None,
) -> PreparedFeatures:
    """Point features with an escaped ``tip`` (the label), ``place`` (id) and ``pop`` (popup)."""
    _check_frame(points, "points", [label_col] + ([id_col] if id_col else []))
    if points.empty:
        return PreparedFeatures('{"type":"FeatureCollection","features":[]}', (0.0, 0.0, 0.0, 0.0), 0)
    if not points.geometry.geom_type.eq("Point").all():
        raise ValueError("points must hold Point geometries only")
    labels = points[label_col].to_numpy(dtype=object)
    pprops: list[dict] = [{"tip": f"<b>{NOT_AVAILABLE if is_missing(lab) else _html_text(lab)}</b>"} for lab in labels]
    if id_col:
        for p, pid in zip(pprops, points[id_col].to_numpy(dtype=object), strict=True):
            p["place"] = str(pid)
    if popup_fn is not None:
        for p, pop in zip(pprops, _popups(points, popup_fn), strict=True):
            if pop:
                p["pop"] = pop
    bounds = tuple(float(b) for b in points.total_bounds)
    return PreparedFeatures(_feature_collection(rounded_geojson(points.geometry.array), pprops), bounds, len(points))


def prepare_outlines(gdf: gpd.GeoDataFrame) -> PreparedFeatures:
    """Outlines without properties (commune boundaries drawn over IRIS)."""
    _check_frame(gdf, "boundaries", [])
    return PreparedFeatures(
        _feature_collection(rounded_geojson(gdf.geometry.array), [{}] * len(gdf)),
        tuple(float(b) for b in gdf.total_bounds),
        len(gdf),
    )


def prepare_zones(gdf: gpd.GeoDataFrame, code_col: str = "code") -> PreparedFeatures:
    """Zone outlines carrying their code only (see :func:`zone_geometry_json`)."""
    _check_frame(gdf, "zones", [code_col])
    codes = gdf[code_col].tolist()
    return PreparedFeatures(
        zone_geometry_json(gdf.geometry.array, codes), tuple(float(b) for b in gdf.total_bounds), len(codes)
    )


def _add_points(m: folium.Map, layer: PointLayer) -> None:
    _check_colors([layer.color])
    prepared = layer.prepared or prepare_points(layer.gdf, layer.label_col, layer.popup_fn, layer.id_col)
    if prepared.count == 0:
        return
    drawn = GeoJsonLayer(
        prepared.json,
        [{"color": "#ffffff", "weight": 1.5, "fillColor": layer.color, "fillOpacity": 0.95}],
        class_name=POINT_CLASS,
        bounds=prepared.bounds,
        point_radius=layer.radius,
        name=layer.label,
    )
    drawn.changes = layer.changes
    drawn.add_to(m)


def build_choropleth(
    gdf_wgs84: gpd.GeoDataFrame,
    value_col: str,
    label_col: str,
    bins: Sequence[float],
    colors: Sequence[str],
    tooltip_fields: Sequence[TooltipField] = (),
    popup_html_fn: Callable[[pd.Series], Any] | None = None,
    missing_label: str = "Données manquantes",
    *,
    code_col: str = "code",
    missing_reason_col: str | None = None,
    legend_title: str = "",
    legend_labels: Sequence[str] | None = None,
    legend_decimals: int = 1,
    points: gpd.GeoDataFrame | None = None,
    point_label_col: str = "nom",
    point_popup_fn: Callable[[pd.Series], Any] | None = None,
    point_id_col: str | None = None,
    points_label: str = "Lieux",
    point_color: str = "#1f2937",
    boundaries: gpd.GeoDataFrame | PreparedFeatures | None = None,
    extra_points: Sequence[PointLayer] = (),
    tiles: str | None = None,
    asset_mode: str | None = "auto",
    zone_outlines: PreparedFeatures | None = None,
    estimated_col: str | None = None,
    estimate_note_col: str | None = None,
    uninhabited_col: str | None = None,
    estimated_label: str = "Valeur estimée (pâle, contour pointillé)",
    uninhabited_label: str = "Sans habitants (non noté)",
) -> folium.Map:
    """A folium map: zones coloured by class of ``value_col``, tooltips, legend, fitted bounds.

    ``bins`` are the k+1 class edges, ``colors`` the k fill colours (``#rrggbb``).
    ``tooltip_fields``: ``(column, French label, formatter)`` lines under the zone name (missing
    values show ``n.d.``).  ``popup_html_fn(row)`` / ``point_popup_fn(row)`` return the popup:
    a ``markupsafe.Markup`` is used as HTML (build it with ``Markup("<b>{}</b>").format(x)``,
    which escapes ``x``), any other value is shown as escaped text.  ``missing_reason_col``: per
    zone reason shown after ``missing_label`` when the value is NaN.  ``points``: places drawn as
    CircleMarkers; ``extra_points``: more point layers (:class:`PointLayer`); ``boundaries``: outlines drawn on top, not clickable
    (a GeoDataFrame or :func:`prepare_outlines`).  ``zone_outlines``: :func:`prepare_zones` of the
    same zones, cached by the caller (the codes must be those of ``gdf_wgs84``; checked by count);
    ``gdf_wgs84`` may then be a plain DataFrame of attributes (no geometry to build per rerun).  ``tiles``: None (plain
    background, no network), ``"osm"`` or ``"ign"``.  ``asset_mode``: passed to
    :func:`ui.offline_assets.make_offline` (``"inline"``/``"static"``; ``"auto"``:
    :func:`ui.offline_assets.preferred_mode`); None keeps folium's CDN links (only for tests that
    do not open a browser).  ``estimated_col`` (bool): zones whose value rests on estimated
    inputs, drawn in their class colour but paler with a dashed outline, with a legend row and
    ``estimate_note_col`` (text) in their tooltip; ``uninhabited_col`` (bool): zones without
    residents, drawn in a plain light fill with a legend row, whatever their value.
    """
    extra = [c for c in (missing_reason_col, estimated_col, estimate_note_col, uninhabited_col) if c]
    columns = [value_col, label_col, code_col] + [c for c, _, _ in tooltip_fields] + extra
    if zone_outlines is not None and not isinstance(gdf_wgs84, gpd.GeoDataFrame):
        _check_columns(gdf_wgs84, "gdf_wgs84", columns)  # attributes only: the geometry is in the outlines
    else:
        _check_frame(gdf_wgs84, "gdf_wgs84", columns)
    if len(gdf_wgs84) == 0:
        raise ValueError("gdf_wgs84 is empty: nothing to map")
    colors = list(colors)
    if len(colors) != len(bins) - 1:
        raise ValueError(f"{len(bins)} bin edges need {len(bins) - 1} colours, got {len(colors)}")
    _check_colors([*colors, point_color])
    if tiles is not None and tiles not in TILES:
        raise ValueError(f"tiles must be None or one of {sorted(TILES)}, got {tiles!r}")
    codes = gdf_wgs84[code_col].to_numpy(dtype=object)
    bad_codes = [c for c in codes if not (isinstance(c, str) and _CODE.match(c))][:5]
    if bad_codes:
        raise ValueError(
            f"{code_col} must hold code strings (letters, digits, '_.:-', e.g. '01001', '2A004'); got {bad_codes}"
        )
    if len(set(codes)) != len(codes):
        dup = pd.Series(codes)[pd.Series(codes).duplicated()].unique()[:5].tolist()
        raise ValueError(f"{code_col} must be unique; duplicated: {dup}")
    try:
        values = pd.to_numeric(gdf_wgs84[value_col], errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{value_col} must be numeric (NaN for missing)") from None

    klass = class_index(values, bins)
    k = len(colors)
    uninhabited = gdf_wgs84[uninhabited_col].fillna(False).to_numpy(bool) if uninhabited_col else np.zeros(len(codes), bool)
    missing = (klass < 0) & ~uninhabited
    estimated = gdf_wgs84[estimated_col].fillna(False).to_numpy(bool) & ~missing & ~uninhabited if estimated_col else np.zeros(len(codes), bool)
    # styles: k classes, k estimated classes, uninhabited, missing (last)
    k_prop = np.where(uninhabited, 2 * k, np.where(missing, 2 * k + 1, np.where(estimated, klass + k, klass))).tolist()
    notes = gdf_wgs84[estimate_note_col].to_numpy(dtype=object) if estimate_note_col else None
    tips = _zone_tooltips(gdf_wgs84, label_col, missing, tooltip_fields, missing_label, missing_reason_col, estimated, notes)
    pops = _popups(gdf_wgs84, popup_html_fn) if popup_html_fn is not None else [None] * len(codes)
    per_zone = {c: [k, t, p or None] for c, k, t, p in zip(codes, k_prop, tips, pops, strict=True)}

    base = {"color": "#ffffff", "weight": 0.6, "opacity": 1.0, "fillOpacity": 0.85}
    styles = [dict(base, fillColor=c) for c in colors]
    large = len(gdf_wgs84) > LARGE_MAP
    # estimated: paler; on a local map also a dashed outline (thousands of dashed outlines would
    # darken a regional map: there the paler fill alone marks them, and the legend says so)
    dashed = {} if large else {"color": "#333333", "weight": 1.0, "dashArray": ESTIMATED_DASH}
    styles += [dict(base, fillColor=c, fillOpacity=ESTIMATED_OPACITY, **dashed) for c in colors]
    styles.append(dict(base, fillColor=UNINHABITED_FILL, color="#bdbdbd", fillOpacity=1.0))
    styles.append(dict(base, fillColor=HATCH_FILL, color="#9e9e9e", fillOpacity=1.0))

    bounds = zone_outlines.bounds if zone_outlines is not None else gdf_wgs84.total_bounds
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9, tiles=None, prefer_canvas=False, zoom_snap=0.25
    )
    if tiles is not None:
        folium.TileLayer(**TILES[tiles]).add_to(m)
    MapDecor().add_to(m)

    if zone_outlines is not None and zone_outlines.count != len(codes):
        raise ValueError(f"zone_outlines has {zone_outlines.count} features for {len(codes)} zones")
    GeoJsonLayer(
        zone_outlines.json if zone_outlines is not None else zone_geometry_json(gdf_wgs84.geometry.array, codes),
        [dict(base, fillColor="#d9d9d9")],  # until ZoneStyle runs (same script, same task)
        class_name=ZONE_CLASS,
        bounds=bounds,
        name="Zones",
        highlight={"weight": 2.5, "color": "#111111"},
        global_name=ZONES_GLOBAL,
        canvas=large,
    ).add_to(m)

    if boundaries is not None:
        outlines = boundaries if isinstance(boundaries, PreparedFeatures) else prepare_outlines(boundaries)
        GeoJsonLayer(
            outlines.json,
            [{"color": "#333333", "weight": 1.8, "fill": False, "opacity": 0.9}],
            class_name=BOUNDARY_CLASS,
            bounds=outlines.bounds,
            interactive=False,
            name="Limites",
        ).add_to(m)

    point_layers = []
    if points is not None:
        point_layers.append(PointLayer(points, point_label_col, points_label, point_color, point_popup_fn, point_id_col))
    point_layers += list(extra_points)
    for layer in point_layers:
        _add_points(m, layer)

    labels = list(legend_labels) if legend_labels is not None else legend_labels_for(bins, legend_decimals)
    if len(labels) != len(colors):
        raise ValueError(f"{len(colors)} classes need {len(colors)} legend labels, got {len(labels)}")
    legend = legend_html(
        legend_title,
        labels,
        colors,
        missing_label=missing_label if missing.any() else None,
        point_legend=[(layer.label, layer.color) for layer in point_layers],
        estimated_label=(estimated_label if not large else estimated_label.split(" (")[0] + " (couleur pâle)") if estimated.any() else None,
        uninhabited_label=uninhabited_label if uninhabited.any() else None,
    )
    ZoneStyle(styles, per_zone, legend).add_to(m)
    # without animation: Leaflet would otherwise zoom from the map's starting zoom to the
    # territory in 0.25 s after the first drawing (strokes and places shown twice their size)
    fit = folium.FitBounds([[miny, minx], [maxy, maxx]])
    fit.options["animate"] = False
    fit.add_to(m)

    if asset_mode is not None:
        make_offline(m, mode=preferred_mode() if asset_mode == "auto" else asset_mode, allow_tiles=tiles is not None)
    return m


def clicked_zone_code(state: Mapping | None) -> str | None:
    """Code of the zone last clicked, from the dict ``st_folium`` returns (else None).

    streamlit-folium puts the clicked layer's ``toGeoJSON()`` in ``last_active_drawing``; zones
    carry their code in ``properties.code`` (places do not).
    """
    if not state:
        return None
    feature = state.get("last_active_drawing") or {}
    props = feature.get("properties") if isinstance(feature, Mapping) else None
    code = props.get("code") if isinstance(props, Mapping) else None
    return code if isinstance(code, str) else None


def _split_zone_style(m: folium.Map) -> folium.FeatureGroup | None:
    """Move the map's :class:`ZoneStyle` (and the point layers marked ``changes``) into a feature
    group for ``st_folium(feature_group_to_add=…)``.

    streamlit-folium keys the component on the map script: what stays in the map (geometry,
    places, boundaries) is identical from one indicator to the next, so the iframe, Leaflet and
    the drawn paths are kept, and only the feature group's script (styles, tooltips, legend,
    changing points) is evaluated again when it changes.
    """
    style = find_zone_style(m)
    if style is None or style._parent is not m:
        return None
    moving = [style] + [c for c in m._children.values() if getattr(c, "changes", False)]
    group = folium.FeatureGroup(name="Styles des zones", control=False)
    for child in moving:
        del m._children[child.get_name()]
        group.add_child(child)  # a point layer's script adds it to its parent: the group
    return group


def _st_folium(m: folium.Map, key: str, height: int, returned: list[str]) -> dict | None:
    from streamlit_folium import st_folium  # UI-only import

    return st_folium(
        m,
        key=key,
        height=height,
        use_container_width=True,
        returned_objects=returned,
        feature_group_to_add=_split_zone_style(m),
    )


def show_map(m: folium.Map, *, key: str, height: int = 560) -> str | None:
    """Show ``m`` with streamlit-folium; return the code of the last clicked zone (or None).

    Only ``last_active_drawing`` is sent back, so panning/zooming does not rerun the script.
    The zone styles travel as a feature group (see :func:`_split_zone_style`): changing the
    displayed indicator restyles the drawn map instead of reloading it.
    """
    return clicked_zone_code(_st_folium(m, key, height, ["last_active_drawing"]))


def show_map_with_clicks(m: folium.Map, *, key: str, height: int = 560) -> tuple[str | None, tuple[float, float] | None]:
    """Like :func:`show_map`, also returning the last clicked point ``(lon, lat)`` anywhere on the map."""
    state = _st_folium(m, key, height, ["last_active_drawing", "last_clicked"])
    point = None
    clicked = (state or {}).get("last_clicked")
    if isinstance(clicked, Mapping) and isinstance(clicked.get("lat"), (int, float)) and isinstance(clicked.get("lng"), (int, float)):
        point = (float(clicked["lng"]), float(clicked["lat"]))
    return clicked_zone_code(state), point
