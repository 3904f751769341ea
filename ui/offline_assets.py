"""Make a folium map load no front-end asset from the internet.

folium 0.20 links Leaflet, jQuery, Bootstrap, awesome-markers and Font Awesome from CDNs
(``folium.Map.default_js`` / ``default_css``; each plugin has its own lists), and
streamlit-folium 0.27 loads exactly those lists inside its component iframe: it walks the map,
collects ``default_js`` / ``default_css`` of every ``JSCSSMixin`` element (plus d3 from a CDN when
it meets a branca ``ColorMap``), drops the ``<script src>`` / ``<link>`` tags from the header and
appends the collected URLs as ``<script>`` / ``<link>`` elements.  Rewriting those lists on the
map *instance* is therefore enough for both plain folium HTML and streamlit-folium.

The maps of this app use Leaflet only (GeoJson, CircleMarker, tooltips and popups bound from
feature properties, an HTML legend), so Leaflet is the only asset.  It is installed from the npm
registry by ``.ci/install_frontend.sh`` into the git-ignored ``static/vendor/`` folder.

Two ways to hand it to the browser:

``mode="inline"`` (default)
    the files are read from ``static/vendor/`` and passed as ``data:`` URLs (the CSS images are
    themselves inlined).  Works whatever the app's location, ``server.baseUrlPath`` or Streamlit
    version, and also in an exported HTML file.  Cost: ~230 kB more in each render message.
``mode="static"``
    URLs under Streamlit's static file serving (``/app/static/vendor/...``).  Needs
    ``server.enableStaticServing = true``, the app file beside ``static/``, and a Streamlit that
    serves ``.js`` / ``.css`` with their real MIME type (1.67 does; older releases served them as
    ``text/plain`` + ``nosniff``, which browsers refuse to execute).  The browser caches the
    files and each map message is ~230 kB lighter: measured 2.38 → 2.10 s from navigation to the
    drawn Métropole map in a new browser profile (``benchmarks/bench_app.py``).

:func:`preferred_mode` picks ``static`` when the running Streamlit serves this repository's
``static/`` folder (the app's ``.streamlit/config.toml`` turns it on), ``inline`` otherwise —
e.g. ``streamlit run`` started from another directory, whose config does not enable it.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import branca.colormap
import folium
import folium.elements
import folium.raster_layers
from branca.element import CssLink, Element, JavascriptLink

REPO_DIR = Path(__file__).resolve().parents[1]
#: Where ``.ci/install_frontend.sh`` puts the npm packages (git-ignored).
VENDOR_DIR = Path(os.environ.get("INCLUSION_VENDOR_DIR") or REPO_DIR / "static" / "vendor")
#: URL of ``VENDOR_DIR`` under Streamlit static serving (``<app dir>/static`` → ``/app/static``),
#: relative to the component iframe (``<base>/component/<name>/index.html``), so that it also
#: works under ``server.baseUrlPath``.
STATIC_URL = "../../app/static/vendor"
#: where the set-up step puts the files when ``$INCLUSION_VENDOR_DIR`` is not set
DEFAULT_VENDOR_DIR = REPO_DIR / "static" / "vendor"
#: The command that installs the assets (run from the repository root).
SETUP_COMMAND = ".ci/install_frontend.sh"

LEAFLET_VERSION = "1.9.4"
_LEAFLET_IMAGES = ("layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")


@dataclass(frozen=True)
class VendorFile:
    """One vendored file: folium's link name, kind, npm package/version, path in the vendor dir."""

    link_name: str
    kind: str  # "js" | "css"
    package: str
    version: str
    path: str


#: folium link name → the local file replacing the CDN URL.
VENDORED: dict[str, VendorFile] = {
    "leaflet": VendorFile("leaflet", "js", "leaflet", LEAFLET_VERSION, "leaflet/leaflet.js"),
    "leaflet_css": VendorFile("leaflet_css", "css", "leaflet", LEAFLET_VERSION, "leaflet/leaflet.css"),
}

#: Links folium.Map declares by default that the app's maps never use; they are dropped,
#: and :func:`make_offline` refuses the elements that would need them (see ``_needs``).
_UNUSED_MAP_LINKS = {
    "jquery",
    "bootstrap",
    "awesome_markers",
    "bootstrap_css",
    "glyphicons_css",
    "awesome_markers_font_css",
    "awesome_markers_css",
    "awesome_rotate_css",
}
_LOCAL_URL = re.compile(r"^(data:|/(?!/)|\./|\.\./)")


class MissingAssetError(RuntimeError):
    """The vendored front-end files are absent or stale: run the set-up command."""


def missing_message(problem: str) -> str:
    return (
        f"{problem}. The offline map assets are installed from the npm registry by the set-up "
        f"step: run `{SETUP_COMMAND}` from the repository root (needs npm)."
    )


def check_assets(vendor_dir: Path | None = None) -> dict[str, Path]:
    """Check the vendored files exist and match the expected versions.

    Returns link name → absolute path; raises :class:`MissingAssetError` naming what is missing.
    """
    vendor_dir = Path(vendor_dir or VENDOR_DIR)
    found: dict[str, Path] = {}
    for name, vf in VENDORED.items():
        path = vendor_dir / vf.path
        if not path.is_file():
            raise MissingAssetError(missing_message(f"{vf.package} file {path} not found"))
        manifest = path.parent / "manifest.json"
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise MissingAssetError(missing_message(f"{manifest} missing or unreadable")) from None
        if meta.get("package") != vf.package or meta.get("version") != vf.version:
            raise MissingAssetError(
                missing_message(
                    f"{manifest} holds {meta.get('package')}@{meta.get('version')}, expected {vf.package}@{vf.version}"
                )
            )
        found[name] = path
    for image in _LEAFLET_IMAGES:
        if not (vendor_dir / "leaflet" / "images" / image).is_file():
            raise MissingAssetError(missing_message(f"leaflet image {image} not found"))
    return found


def _data_url(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


@functools.lru_cache(maxsize=4)
def _inline_urls(vendor_dir: str, stamp: tuple) -> dict[str, str]:
    """``data:`` URLs for the vendored files (cached per vendor dir and file mtimes).

    The CSS's ``url(images/x.png)`` become ``data:image/png`` URLs; the JS gets a tail that points
    ``L.Icon.Default`` at inlined marker images (Leaflet otherwise derives them from the CSS URL).
    """
    root = Path(vendor_dir)
    images = {
        name: _data_url("image/png", (root / "leaflet" / "images" / name).read_bytes()) for name in _LEAFLET_IMAGES
    }
    css = (root / VENDORED["leaflet_css"].path).read_text(encoding="utf-8")
    css = re.sub(r"url\(images/([\w.-]+\.png)\)", lambda m: f"url({images[m.group(1)]})", css)
    js = (root / VENDORED["leaflet"].path).read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    js += (
        "\n;L.Icon.Default.imagePath = '';"
        "L.Icon.Default.mergeOptions("
        + json.dumps(
            {
                "iconUrl": images["marker-icon.png"],
                "iconRetinaUrl": images["marker-icon-2x.png"],
                "shadowUrl": images["marker-shadow.png"],
            }
        )
        + ");\n"
    )
    return {
        "leaflet": _data_url("text/javascript", js.encode("utf-8")),
        "leaflet_css": _data_url("text/css", css.encode("utf-8")),
    }


def preferred_mode() -> str:
    """``"static"`` if Streamlit's static file serving is on and the vendored files are in this
    repository's ``static/vendor`` (what ``app.py`` beside it serves at ``/app/static``), else
    ``"inline"`` (works everywhere)."""
    import streamlit as st  # the UI layer; this module is only used by ui/

    try:
        serving = bool(st.get_option("server.enableStaticServing"))
    except Exception:  # noqa: BLE001 - unknown option in another Streamlit: be safe
        serving = False
    if serving and VENDOR_DIR.resolve() == DEFAULT_VENDOR_DIR.resolve():
        return "static"
    return "inline"


def asset_urls(mode: str = "inline", vendor_dir: Path | None = None, static_url: str = STATIC_URL) -> dict[str, str]:
    """Link name → URL the browser should load (``data:`` URL or static-serving path)."""
    paths = check_assets(vendor_dir)
    if mode == "inline":
        stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths.values())
        return dict(_inline_urls(str(Path(vendor_dir or VENDOR_DIR).resolve()), stamp))
    if mode == "static":
        base = static_url.rstrip("/")
        return {name: f"{base}/{vf.path}" for name, vf in VENDORED.items()}
    raise ValueError(f"mode must be 'inline' or 'static', got {mode!r}")


def _walk(element: Element):
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


def _needs(element: Element, allow_tiles: bool) -> str | None:
    """Why ``element`` cannot be shown offline by this module, or None."""
    if isinstance(element, branca.colormap.ColorMap):
        return "a branca ColorMap legend needs d3 from a CDN; use the HTML legend of ui.folium_map"
    if isinstance(element, folium.Popup):
        return (
            "folium.Popup builds its content with jQuery (and inside a JS template literal); "
            "bind popups from feature properties instead (ui.folium_map)"
        )
    if isinstance(element, folium.Icon):
        return "folium.Icon needs awesome-markers, Bootstrap and Font Awesome; use CircleMarker"
    if isinstance(element, folium.GeoJson) and not element.embed:
        return "GeoJson(embed=False) fetches its data with jQuery; embed the data"
    if isinstance(element, folium.Map) and element.objects_to_stay_in_front:
        return "Map.keep_in_front uses jQuery"
    if isinstance(element, folium.raster_layers.TileLayer) and not allow_tiles:
        return (
            "a tile layer loads its tiles from the internet; pass allow_tiles=True only when "
            "the user enabled the background map"
        )
    return None


def make_offline(
    m: folium.Map,
    *,
    mode: str = "inline",
    vendor_dir: Path | None = None,
    static_url: str = STATIC_URL,
    allow_tiles: bool = False,
) -> folium.Map:
    """Point every JS/CSS link of ``m`` and its children at the vendored files; return ``m``.

    Leaflet's CDN links become local URLs (see :func:`asset_urls`); the other folium.Map defaults
    (jQuery, Bootstrap, awesome-markers, Font Awesome) are dropped.  Raises ``ValueError`` if the
    map holds an element that would need a CDN asset anyway (``Popup``, ``Icon``, ``ColorMap``,
    a plugin with its own CDN links, a tile layer unless ``allow_tiles``), and
    :class:`MissingAssetError` if the set-up step was not run.
    """
    if not isinstance(m, folium.Map):
        raise ValueError(f"make_offline expects a folium.Map, got {type(m).__name__}")
    urls = asset_urls(mode, vendor_dir, static_url)
    problems: list[str] = []
    for element in _walk(m):
        reason = _needs(element, allow_tiles)
        if reason:
            problems.append(f"{type(element).__name__}: {reason}")
        if not isinstance(element, folium.elements.JSCSSMixin):
            continue
        for attr in ("default_js", "default_css"):
            links = []
            for name, url in getattr(element, attr):
                if name in urls:
                    links.append((name, urls[name]))
                elif isinstance(element, folium.Map) and name in _UNUSED_MAP_LINKS:
                    continue
                elif _LOCAL_URL.match(url):
                    links.append((name, url))
                else:
                    problems.append(f"{type(element).__name__}: {name} is loaded from {url}, which is not vendored")
            setattr(element, attr, links)  # instance attribute: folium's class lists stay intact
    if problems:
        raise ValueError("map cannot be shown offline:\n- " + "\n- ".join(problems))

    # Links added to the figure header by an earlier render() would still point at the CDNs.
    figure = m.get_root()
    header = getattr(figure, "header", None)
    if header is not None:
        for name, child in list(header._children.items()):
            if isinstance(child, (JavascriptLink, CssLink)) and not _LOCAL_URL.match(child.url):
                del header._children[name]
    return m
