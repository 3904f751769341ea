"""Printable maps (PNG) from the pack's geometries: matplotlib and geopandas, Lambert-93, offline.

Every map has a legend with French numbers, a scale bar, a north arrow and its source line; it is
drawn at its printed size (:data:`MAP_SIZE_CM`), so that 8-point text stays 8 points on paper.

- :func:`choropleth_png`: class i when ``bins[i] <= v < bins[i+1]`` (the last class also holds
  ``bins[-1]``), missing values hatched grey; zones flagged as estimated (the app's paler zones:
  ≥ 10 % of the value on estimated inputs) are overlaid with a dark hatch, named in the legend.
- :func:`bivariate_png`: the 3 × 3 need × access classes with a 3 × 3 legend; the « fragilité forte ·
  accès faible » class also gets a thick black outline, so that it stays visible in black and white.
- :func:`places_png`: reception points by family of type, each with its own marker shape.
- :func:`map_png`: the stand-alone PNG of the Diagnostic page (title, legend, source).
"""

from __future__ import annotations

import io
import math
import textwrap
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from reports.labels import TERCILES_F
from ui.folium_map import format_fr

CM_PER_INCH = 2.54
#: printed size of a report map (width, height), cm: the text width of an A4 page with 2 cm margins
MAP_SIZE_CM = (17.0, 12.0)
#: heights a report map may take (cm), and the map's part of the figure (left, bottom, width, height)
MAP_HEIGHT_RANGE_CM = (8.0, 14.0)
MAP_AXES = (0.01, 0.06, 0.63, 0.92)
MAP_DPI = 200
MISSING_COLOR, MISSING_EDGE = "#e6e6e6", "#8a8a8a"
ESTIMATED_HATCH, ESTIMATED_EDGE = "///", "#404040"
#: line width of the hatches (points): a light texture that leaves the class colour readable
HATCH_LW = 0.3
#: nice scale-bar lengths, km
_SCALE_STEPS_KM = (0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200)
FONT_PT = 8
#: left edge of the legend (fraction of the figure's width) and its line length (characters)
LEGEND_X, LEGEND_WRAP = 0.655, 30
#: above this many zones, estimated zones are drawn paler instead of hatched (as the app's regional maps)
LARGE_MAP = 1000
PALER = 0.55


@dataclass(frozen=True)
class PointSet:
    """Points to draw on a map (Lambert-93 metres), with their legend entry."""

    x: np.ndarray
    y: np.ndarray
    label: str
    marker: str = "o"
    size: float = 22.0
    facecolor: str = "#1f2937"
    edgecolor: str = "white"


@dataclass
class MapFrame:
    """What surrounds the zones: territory outline, inner boundaries, points, source line."""

    source: str
    outline: gpd.GeoSeries | None = None
    boundaries: gpd.GeoSeries | None = None
    points: Sequence[PointSet] = field(default_factory=tuple)
    title: str | None = None


def fit_size(bounds, width_cm: float = MAP_SIZE_CM[0]) -> tuple[float, float]:
    """Printed size of a map of ``bounds`` (minx, miny, maxx, maxy): the text width, and the
    height that lets the zones fill their part of the width (tall territories get taller maps),
    within :data:`MAP_HEIGHT_RANGE_CM`."""
    minx, miny, maxx, maxy = bounds
    aspect = (maxy - miny) / (maxx - minx) if maxx > minx else 1.0
    lo, hi = MAP_HEIGHT_RANGE_CM
    return width_cm, float(np.clip(MAP_AXES[2] * width_cm * aspect / MAP_AXES[3], lo, hi))


def _figure(size_cm: tuple[float, float] = MAP_SIZE_CM, dpi: int = MAP_DPI) -> tuple[Figure, object]:
    fig = Figure(figsize=(size_cm[0] / CM_PER_INCH, size_cm[1] / CM_PER_INCH), dpi=dpi)
    ax = fig.add_axes(MAP_AXES)
    ax.set_axis_off()
    ax.set_aspect("equal")
    return fig, ax


def _l93(gdf: gpd.GeoDataFrame | gpd.GeoSeries):
    if gdf.crs is None or gdf.crs.to_epsg() != 2154:
        return gdf.to_crs("EPSG:2154")
    return gdf


def scale_bar(ax) -> float:
    """Draw a two-tone scale bar at the bottom left of a Lambert-93 map; returns its length (km)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width_km = (x1 - x0) / 1000.0
    length = max([s for s in _SCALE_STEPS_KM if s <= width_km / 3.0] or [_SCALE_STEPS_KM[0]])
    m = length * 1000.0
    bx, by, h = x0 + 0.03 * (x1 - x0), y0 + 0.045 * (y1 - y0), 0.012 * (y1 - y0)
    for i, color in enumerate(("black", "white")):
        ax.add_patch(Rectangle((bx + i * m / 2, by), m / 2, h, facecolor=color, edgecolor="black", linewidth=0.6, zorder=6))
    text = format_fr(length, 0 if length >= 1 else 1) + " km"
    box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.6}
    for x, label in ((bx, "0"), (bx + m, text)):
        ax.text(x, by - 0.6 * h, label, fontsize=FONT_PT - 1, ha="center", va="top", zorder=6, bbox=box)
    return length


def north_arrow(ax) -> None:
    """A small « N » arrow at the top right (Lambert-93: north is up, within a degree here)."""
    ax.annotate("N", xy=(0.96, 0.97), xytext=(0.96, 0.87), xycoords="axes fraction", ha="center", va="center",
                fontsize=FONT_PT, fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.0}, zorder=6)


def _finish(fig: Figure, ax, frame: MapFrame, handles: list, legend_title: str) -> bytes:
    """Outline, boundaries, points, legend, scale bar, north arrow, source line → PNG bytes."""
    if frame.boundaries is not None and len(frame.boundaries):
        _l93(frame.boundaries).boundary.plot(ax=ax, color="#4d4d4d", linewidth=0.45, zorder=3)
    if frame.outline is not None and len(frame.outline):
        _l93(frame.outline).boundary.plot(ax=ax, color="black", linewidth=1.1, zorder=4)
    for p in frame.points:
        ax.scatter(p.x, p.y, s=p.size, marker=p.marker, facecolor=p.facecolor, edgecolor=p.edgecolor, linewidth=0.6, zorder=5)
        handles.append(Line2D([], [], linestyle="none", marker=p.marker, markersize=math.sqrt(p.size), markerfacecolor=p.facecolor,
                              markeredgecolor=p.edgecolor if p.edgecolor != "white" else "#555555", label=p.label))
    for h in handles:
        h.set_label("\n".join(textwrap.wrap(h.get_label(), LEGEND_WRAP)) or h.get_label())
    if handles:  # in figure coordinates: the same place whatever the territory's shape
        fig.legend(handles=handles, title="\n".join(textwrap.wrap(legend_title, LEGEND_WRAP)) or None, loc="upper left",
                   bbox_to_anchor=(LEGEND_X, 0.97), fontsize=FONT_PT, title_fontsize=FONT_PT + 0.5, frameon=False,
                   alignment="left", handlelength=1.6)
    scale_bar(ax)
    north_arrow(ax)
    if frame.title:
        fig.suptitle(frame.title, fontsize=FONT_PT + 3, y=0.99, va="top")
    if frame.source:
        source = "\n".join(textwrap.wrap(f"Source : {frame.source}", int(fig.get_figwidth() * 2.54 * 7.5)))
        fig.text(0.01, 0.01, source, fontsize=FONT_PT - 1.5, color="#333333", va="bottom")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
    return buf.getvalue()


def classify(values, scheme: str = "quantiles", k: int = 5) -> tuple[list[float], int]:
    """Class edges (k + 1 values), as the app's maps (``ui.compute.classify``); fewer classes
    when there are few distinct values.

    Natural breaks: ``mapclassify.NaturalBreaks``. Quantiles and equal intervals are mapclassify's
    own definitions written with numpy (:func:`_mapclassify_bins`), so that the map server does
    not import mapclassify for the default classes: its import pulls scikit-learn, scipy.stats
    and matplotlib.pyplot (≈ 1,1 s and ≈ 100 MB of server memory on the first map);
    ``tests/test_map_classes.py`` checks they equal mapclassify's bins on every layer."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(float)
    if v.size == 0:
        return [0.0, 1.0], 1
    distinct = np.unique(v)
    k = int(max(1, min(k, distinct.size)))
    if k == 1:
        lo, hi = float(distinct[0]), float(distinct[-1])
        return [lo, hi if hi > lo else lo + 1.0], 1
    if scheme == "natural_breaks":
        import mapclassify

        with warnings.catch_warnings():  # « not enough unique values »: fewer classes, as the edges below say
            warnings.simplefilter("ignore", UserWarning)
            bins = mapclassify.NaturalBreaks(v, k=k).bins
    else:
        bins = _mapclassify_bins(v, scheme, k)
    edges = sorted({float(v.min()), *(float(b) for b in bins)})
    if len(edges) < 2:
        edges = [edges[0], edges[0] + 1.0]
    edges[-1] = max(edges[-1], float(v.max()))
    return edges, len(edges) - 1


def _mapclassify_bins(v: np.ndarray, scheme: str, k: int) -> np.ndarray:
    """Upper bounds of the k classes as ``mapclassify.Quantiles`` / ``EqualInterval`` set them:

    - quantiles: the distinct values of the percentiles p = 100/k, 2·100/k, …, 100 (linear
      interpolation, as ``scipy.stats.scoreatpercentile``);
    - equal interval: min + i·(max − min)/k for i = 1 … k, the last one set to max."""
    if scheme == "equal_interval":
        lo, hi = float(v.min()), float(v.max())
        width = (hi - lo) / k
        cuts = np.arange(lo + width, hi + width, width)[:k]
        cuts[-1] = hi
        return cuts
    step = 100.0 / k
    pct = np.arange(step, 100.0 + step, step)
    pct[-1] = min(pct[-1], 100.0)
    return np.unique(np.percentile(v, pct))


#: a class « 0 » of its own when at least this share of the zones is exactly 0 (unmet need:
#: 57 % of the communes of the région, 50 % of its IRIS)
ZERO_CLASS_SHARE = 0.2
#: a class bound gets up to this many more decimals than asked, so that no two bounds read the
#: same and no positive bound reads « 0 »
EXTRA_DECIMALS = 3
SCHEME_NAMES = {"quantiles": "classes de même effectif (quantiles)", "natural_breaks": "seuils naturels (Jenks)",
                "equal_interval": "intervalles égaux"}


@dataclass(frozen=True)
class MapClasses:
    """Classes of a map layer: ``bins`` (k + 1 increasing edges, class i when
    ``bins[i] <= v < bins[i+1]``, the last class also holds ``bins[-1]``), one French legend
    ``labels`` per class and the ``rule`` used, in French (for a caption)."""

    bins: list[float]
    labels: list[str]
    rule: str

    @property
    def k(self) -> int:
        return len(self.labels)

    @property
    def zero_class(self) -> bool:
        return self.labels[:1] == ["0"] and self.k > 1


def _zero_class_applies(v: np.ndarray) -> bool:
    """Rule 3 of :func:`map_classes`: no negative value, at least :data:`ZERO_CLASS_SHARE` of
    zeros and at least 2 distinct positive values."""
    return bool(v.size and (v >= 0).all() and (v == 0).mean() >= ZERO_CLASS_SHARE and np.unique(v[v > 0]).size >= 2)


def edge_texts(edges: Sequence[float], decimals: int = 1) -> list[str]:
    """The class bounds in French, each with ``decimals`` decimals, or up to
    :data:`EXTRA_DECIMALS` more when it would read as its lower neighbour or, being positive, as
    « 0 » (``[0, 0.26, 3.5]`` at 0 decimals → « 0 », « 0,3 », « 4 »)."""
    out: list[str] = []
    shown: list[float] = []  # the value each text reads
    for x in edges:
        for d in range(decimals, decimals + EXTRA_DECIMALS + 1):
            read = round(float(x), d)
            if (read != 0 or x == 0) and (not shown or read != shown[-1]):
                break
        out.append(format_fr(x, d))
        shown.append(read)
    return out


def class_labels(values, bins: Sequence[float], *, decimals: int = 1) -> list[str]:
    """Legend labels of the classes ``bins`` for ``values``: « a – b » (French numbers,
    :func:`edge_texts`); a class whose values are all equal reads that value alone (« 6,0 », not
    « 6,0 – 7,0 »), a class holding 0 alone reads « 0 », and the class after it « moins de b »
    when its lowest value reads 0 at ``decimals`` (0,004 person of unmet need → « moins de 1 »)."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(float)
    texts = edge_texts(bins, decimals)
    idx = class_indices(v, bins, len(bins) - 1)
    labels = []
    for i in range(len(bins) - 1):
        here = v[idx == i]
        if here.size and here.min() == here.max():
            labels.append("0" if here[0] == 0 else edge_texts([here[0]], decimals)[0])
        elif i == 1 and labels == ["0"] and round(float(bins[1]), decimals) == 0:
            labels.append(f"moins de {texts[2]}")  # after a « 0 » class, not « 0,004 – 1 »
        else:
            labels.append(f"{texts[i]} – {texts[i + 1]}")
    return labels


def map_classes(values, scheme: str = "quantiles", k: int = 5, *, decimals: int = 1) -> MapClasses:
    """Classes of a map layer that stay readable on skewed values (the app's maps and the
    report's), in this order:

    1. no value: one class ``[0, 1]`` labelled « aucune valeur »;
    2. one distinct value ``a``: one class ``[a, a + 1]`` labelled « a »;
    3. **zero class** — values ≥ 0, at least :data:`ZERO_CLASS_SHARE` (20 %) of them exactly 0
       and at least 2 distinct positive values: class « 0 » alone (edges ``[0, p_min)``, p_min
       the smallest positive value), then k − 1 classes of the positive values with ``scheme``
       (quantiles of mostly zeros would merge into « 0 – 2 », « 2 – 14 », « 14 – 26 821 »);
    4. otherwise ``scheme`` on all values (:func:`classify`: fewer classes when values repeat).

    Labels: :func:`class_labels` (``decimals`` decimals, more where two bounds would read the
    same). ``scheme``: quantiles | natural_breaks | equal_interval; ``k`` ≥ 1 classes asked.
    """
    if scheme not in SCHEME_NAMES:
        msg = f"scheme must be one of {sorted(SCHEME_NAMES)}, got {scheme!r}"
        raise ValueError(msg)
    if int(k) < 1:
        msg = f"k must be at least 1 class, got {k!r}"
        raise ValueError(msg)
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(float)
    if v.size == 0:
        return MapClasses([0.0, 1.0], ["aucune valeur"], "aucune valeur")
    if np.unique(v).size == 1:
        return MapClasses([float(v[0]), float(v[0]) + 1.0], class_labels(v, [v[0], v[0] + 1.0], decimals=decimals),
                          "une seule valeur")
    if k >= 2 and _zero_class_applies(v):
        positive, _n = classify(v[v > 0], scheme, k - 1)
        bins = [0.0, *positive]
        share = format_fr(100.0 * (v == 0).mean(), 0)
        return MapClasses(bins, class_labels(v, bins, decimals=decimals),
                          f"une classe « 0 » ({share} % des zones), puis {SCHEME_NAMES[scheme]} des autres valeurs")
    bins, _n = classify(v, scheme, k)
    return MapClasses(bins, class_labels(v, bins, decimals=decimals), SCHEME_NAMES[scheme])


def palette(name: str, k: int) -> list[str]:
    """k hex colours from a matplotlib colormap (``_r`` reversed), as the app's maps."""
    import matplotlib

    cmap = matplotlib.colormaps[name]
    if k == 1:
        return [matplotlib.colors.to_hex(cmap(0.6))]
    return [matplotlib.colors.to_hex(cmap(0.12 + 0.8 * i / (k - 1))) for i in range(k)]


def class_indices(values, bins: Sequence[float], n_colors: int) -> np.ndarray:
    """Class of each value for the edges ``bins`` (see module doc); -1 for missing values."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    idx = np.clip(np.searchsorted(np.asarray(bins, float), v, side="right") - 1, 0, n_colors - 1)
    return np.where(np.isfinite(v), idx, -1)


def _check_bins(bins: Sequence[float], colors: Sequence[str]) -> None:
    if len(bins) != len(colors) + 1:
        msg = f"{len(colors)} colours need {len(colors) + 1} bin edges, got {len(bins)}"
        raise ValueError(msg)


def paler(color: str, amount: float = PALER) -> str:
    """``color`` mixed with white (``amount`` of white), as the app draws estimated zones."""
    rgb = np.asarray(to_rgb(color))
    return to_hex(rgb + (1.0 - rgb) * amount)


def _zones_layer(ax, g: gpd.GeoDataFrame, idx: np.ndarray, colors: Sequence[str], estimated) -> tuple[bool, bool]:
    """Fill the zones by class, hatch the missing ones and mark the estimated ones (a hatch on a
    local map; a paler fill above :data:`LARGE_MAP` zones, as the app's regional maps, where a
    hatch on most zones would hide the classes); returns (any missing, any estimated)."""
    missing = idx < 0
    large = len(g) > LARGE_MAP
    est = np.zeros(len(g), bool) if estimated is None else np.asarray(estimated, bool) & ~missing
    if (~missing).any():
        fill = np.asarray(colors, dtype=object)[np.where(missing, 0, idx)]
        if large:
            fill = np.where(est, [paler(c) for c in fill], fill)
        g[~missing].plot(ax=ax, color=fill[~missing], edgecolor="none" if large else "white", linewidth=0.3, zorder=1)
    if missing.any():
        g[missing].plot(ax=ax, facecolor=MISSING_COLOR, edgecolor=MISSING_EDGE, hatch="xxx", linewidth=0.2, zorder=1)
    if est.any() and not large:
        g[est].plot(ax=ax, facecolor="none", edgecolor=ESTIMATED_EDGE, hatch=ESTIMATED_HATCH, linewidth=0.0, zorder=2,
                    hatch_linewidth=HATCH_LW)
    return bool(missing.any()), bool(est.any())


def _extra_handles(any_missing: bool, any_estimated: bool, missing_label: str, estimated_label: str, *, large: bool = False) -> list:
    out = []
    if any_missing:
        out.append(Patch(facecolor=MISSING_COLOR, edgecolor=MISSING_EDGE, hatch="xxx", label=missing_label))
    if any_estimated and large:
        out.append(Patch(facecolor=paler("#7f7f7f"), edgecolor="#9e9e9e", label=f"teinte pâle : {estimated_label}"))
    elif any_estimated:
        out.append(Patch(facecolor="white", edgecolor=ESTIMATED_EDGE, hatch=ESTIMATED_HATCH, hatch_linewidth=HATCH_LW,
                         label=estimated_label))
    return out


def choropleth_png(zones: gpd.GeoDataFrame, values, *, bins: Sequence[float], colors: Sequence[str], legend_title: str,
                   frame: MapFrame, decimals: int = 1, estimated=None, class_labels: Sequence[str] | None = None,
                   missing_label: str = "n.d. (donnée absente)",
                   estimated_label: str = "valeur estimée pour 10 % ou plus",
                   size_cm: tuple[float, float] | None = None, dpi: int = MAP_DPI) -> bytes:
    """PNG of a choropleth of ``values`` (aligned with ``zones``) — see module doc; ``size_cm``
    default: :func:`fit_size`."""
    _check_bins(bins, colors)
    g = _l93(zones).reset_index(drop=True)
    fig, ax = _figure(size_cm or fit_size(g.total_bounds), dpi)
    idx = class_indices(values, bins, len(colors))
    any_missing, any_est = _zones_layer(ax, g, idx, colors, estimated)
    edges = np.asarray(bins, float)
    labels = class_labels or [f"{format_fr(a, decimals)} – {format_fr(b, decimals)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    handles = [Patch(facecolor=c, edgecolor="#9e9e9e", label=lab) for c, lab in zip(colors, labels, strict=True)]
    handles += _extra_handles(any_missing, any_est, missing_label, estimated_label, large=len(g) > LARGE_MAP)
    return _finish(fig, ax, frame, handles, legend_title)


#: rows need low → high, columns access low → high (class c = 3 (n − 1) + a)
BIVARIATE_HOT_CLASS = 7


def _bivariate_legend(fig: Figure, colors: Sequence[str]) -> None:
    """The 3 × 3 legend: fragility (the need axis) upwards, access to the right; the hatched class named below."""
    h = 0.17 * fig.get_figwidth() / fig.get_figheight()
    lx = fig.add_axes((0.75, 0.12, 0.17, h))
    for n in range(3):
        for a in range(3):
            c = 3 * n + a + 1
            hot = c == BIVARIATE_HOT_CLASS
            lx.add_patch(Rectangle((a, n), 1, 1, facecolor=colors[c - 1], edgecolor="black" if hot else "white",
                                   linewidth=1.6 if hot else 0.8, zorder=3 if hot else 2))
    lx.set_xlim(0, 3)
    lx.set_ylim(0, 3)
    lx.set_xticks([0.5, 1.5, 2.5], ["faible", "moyen", "fort"], fontsize=FONT_PT - 1)
    lx.set_yticks([0.5, 1.5, 2.5], list(TERCILES_F), fontsize=FONT_PT - 1)
    lx.set_xlabel("Accès →", fontsize=FONT_PT)
    lx.set_ylabel("Fragilité →", fontsize=FONT_PT)
    lx.tick_params(length=0)
    for s in lx.spines.values():
        s.set_visible(False)
    lx.set_title("Fragilité × accès\n(terciles)", fontsize=FONT_PT + 0.5, loc="left")


def bivariate_png(zones: gpd.GeoDataFrame, classes, *, colors: Sequence[str], frame: MapFrame, estimated=None,
                  size_cm: tuple[float, float] | None = None, dpi: int = MAP_DPI) -> bytes:
    """PNG of the need × access classes (1–9, NaN = not computed) with the 3 × 3 legend."""
    if len(colors) != 9:
        msg = f"the 3 × 3 map needs 9 colours, got {len(colors)}"
        raise ValueError(msg)
    g = _l93(zones).reset_index(drop=True)
    c = pd.to_numeric(pd.Series(classes), errors="coerce").to_numpy(float)
    fig, ax = _figure(size_cm or fit_size(g.total_bounds), dpi)
    idx = np.where(np.isfinite(c), c - 1, -1).astype(int)
    any_missing, any_est = _zones_layer(ax, g, idx, colors, estimated)
    hot = idx == BIVARIATE_HOT_CLASS - 1
    if hot.any():
        g[hot].plot(ax=ax, facecolor="none", edgecolor="black", linewidth=1.3, zorder=2.5)
    _bivariate_legend(fig, colors)
    handles = [Patch(facecolor=colors[BIVARIATE_HOT_CLASS - 1], edgecolor="black", linewidth=1.3,
                     label="fragilité forte · accès faible (contour épais)")]
    handles += _extra_handles(any_missing, any_est, "non calculée (population ou accès manquant)",
                              "valeur estimée pour 10 % ou plus", large=len(g) > LARGE_MAP)
    return _finish(fig, ax, frame, handles, "")


def places_png(zones: gpd.GeoDataFrame, *, frame: MapFrame, size_cm: tuple[float, float] | None = None,
               dpi: int = MAP_DPI) -> bytes:
    """PNG of the reception points (``frame.points``) over the territory's zones in light grey."""
    g = _l93(zones).reset_index(drop=True)
    fig, ax = _figure(size_cm or fit_size(g.total_bounds), dpi)
    g.plot(ax=ax, facecolor="#f1f1f1", edgecolor="#c8c8c8" if len(g) < 1500 else "none", linewidth=0.3, zorder=1)
    return _finish(fig, ax, frame, [], "Lieux d'accueil")


def locator_png(context: gpd.GeoSeries, territory: gpd.GeoSeries, *, frame: MapFrame, label: str,
                context_label: str, size_cm: tuple[float, float] = (13.0, 7.5), dpi: int = MAP_DPI) -> bytes:
    """Small map locating the territory (dark) within its reference territory (light grey)."""
    fig = Figure(figsize=(size_cm[0] / CM_PER_INCH, size_cm[1] / CM_PER_INCH), dpi=dpi)
    ax = fig.add_axes((0.01, 0.02, 0.5, 0.96))
    ax.set_axis_off()
    ax.set_aspect("equal")
    _l93(context).plot(ax=ax, facecolor="#e3e3e3", edgecolor="#9a9a9a", linewidth=0.3, zorder=1)
    _l93(territory).plot(ax=ax, facecolor="#3a3a3a", edgecolor="black", linewidth=0.6, zorder=2)
    handles = [Patch(facecolor="#3a3a3a", edgecolor="black", label=label),
               Patch(facecolor="#e3e3e3", edgecolor="#9a9a9a", label=context_label)]
    return _finish(fig, ax, frame, handles, "Situation")


def map_png(gdf: gpd.GeoDataFrame, column: str, *, title: str, legend_title: str, source: str, bins: Sequence[float],
            colors: Sequence[str], decimals: int = 1, missing_label: str = "n.d. (donnée absente)", dpi: int = 130) -> bytes:
    """Stand-alone PNG of a choropleth (the Diagnostic page's download): title, legend with French
    numbers, scale bar, source line; missing values hatched grey. Matplotlib only, no tiles."""
    _check_bins(bins, colors)
    return choropleth_png(gdf, gdf[column], bins=bins, colors=colors, legend_title=legend_title, decimals=decimals,
                          frame=MapFrame(source=source, title=title), missing_label=missing_label,
                          size_cm=(26.7, 20.3), dpi=dpi)


__all__ = ["MAP_SIZE_CM", "fit_size", "PointSet", "MapFrame", "scale_bar", "north_arrow", "classify", "palette", "class_indices",
           "ZERO_CLASS_SHARE", "MapClasses", "map_classes", "class_labels", "edge_texts",
           "choropleth_png", "bivariate_png", "places_png", "locator_png", "map_png"]
