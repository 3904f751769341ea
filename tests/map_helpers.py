"""Read what the ``st_folium`` component of a page receives (``AppTest`` element tree).

The map script (``args["script"]``) holds the Leaflet layers that depend on the territory only:
zone outlines (codes only) and commune boundaries, each an ``L.geoJson`` filled by
``<layer>.addData(<GeoJSON>)``.  What the user switches without leaving the territory travels
apart, in ``args["feature_group"]``: the indicator shown (class, tooltip and popup of each
zone, legend: ``ui.folium_map.ZoneStyle``) and the point layers (places, QPV, proposed sites).
"""

from __future__ import annotations

import json
import re

from streamlit.testing.v1 import AppTest

from ui.folium_map import ZONE_STYLE_MARKER


def map_args(at: AppTest) -> dict:
    """JSON arguments of the (single) st_folium component on the page."""
    comps = [c for c in at.get("component_instance") if c.proto.component_name.endswith("st_folium")]
    assert len(comps) == 1, f"expected one st_folium component, got {len(comps)}"
    return json.loads(comps[0].proto.json_args)


def layer_features(script: str, class_name: str) -> list[dict]:
    """Features added to every ``L.geoJson`` layer of ``class_name`` in a map script."""
    feats: list[dict] = []
    for m in re.finditer(r"var (\w+) = L\.geoJson\(null, \{\s*className: " + re.escape(json.dumps(class_name)), script):
        start = script.index(f"{m.group(1)}.addData(") + len(f"{m.group(1)}.addData(")
        feats += json.JSONDecoder().raw_decode(script, start)[0]["features"]  # \u003c escapes are valid JSON
    return feats


def point_features(args: dict, class_name: str) -> list[dict]:
    """Features of the point layers of ``class_name``, wherever they travel (map script or
    feature group)."""
    return layer_features(args["script"], class_name) + layer_features(args.get("feature_group") or "", class_name)


def zone_style(args: dict) -> dict:
    """The ZoneStyle data sent with the map: ``{"styles", "zones": {code: [k, tip, pop]}, "legend"}``,
    each tooltip joined back from its shared lines as the browser does (``tipText``); the lines
    as sent are under ``"lines"``."""
    text = args.get("feature_group") or ""
    start = text.find(ZONE_STYLE_MARKER)
    assert start >= 0, "no zone style in the component's feature group"
    data = json.JSONDecoder().raw_decode(text, start + len(ZONE_STYLE_MARKER))[0]
    lines = data.get("lines", [])

    def tip(t):
        return t if t is None or isinstance(t, str) else "<br>".join(lines[p] if isinstance(p, int) else p for p in t)

    data["zones"] = {code: [z[0], tip(z[1]), *z[2:]] for code, z in data["zones"].items()}
    return data
