"""Small helpers shared by the report's sections: French numbers, captions, map frames, sources."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from indicators import CATALOGUE
from reports.context import ReportContext
from reports.figures import source_entries, source_line
from reports.maps import MapFrame, PointSet
from ui.folium_map import NOT_AVAILABLE, format_fr

#: geometry sources of the maps, per level (manifest keys or key prefixes)
GEOMETRY_SOURCES = {"iris": ("iris_ara_",), "commune": ("communes_ara_",), "epci": ("cog2024_epci",),
                    "departement": ("departements_ara_",), "region": ("region_ara_",)}
#: above this many communes, IRIS maps do not draw the commune boundaries (too dense to read)
MAX_BOUNDARIES = 600


def fr(value, decimals: int = 0) -> str:
    """French number (« 449 509 », « 16,4 »); missing → « n.d. »."""
    return format_fr(value, decimals)


def pct(value, decimals: int = 1) -> str:
    """« 16,4 % » for a percentage value (0–100); missing → « n.d. »."""
    text = format_fr(value, decimals)
    return text if text == NOT_AVAILABLE else f"{text}\u202f%"


def share_pct(part: float, total: float, decimals: int = 1) -> str:
    """« 12,5 % » for part / total; « n.d. » when the total is 0 or missing."""
    if not (np.isfinite(part) and np.isfinite(total) and total > 0):
        return NOT_AVAILABLE
    return pct(100.0 * part / total, decimals)


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """« 1 zone », « 3 zones » (French numbers)."""
    word = singular if abs(n) < 2 else (plural_form or singular + "s")
    return f"{fr(n)} {word}"


class Captions:
    """Numbered captions: « Carte 2 — … », « Graphique 1 — … », « Tableau 3 — … »."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def __call__(self, kind: str, text: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"{kind} {self.counts[kind]} — {text}"


def groups_source(manifest: Mapping, groups: Iterable[str]) -> str:
    """'producer — vintage ; …' of several indicator groups of the manifest, without repeats."""
    return " ; ".join(dict.fromkeys(s for s in (source_line(manifest, g) for g in groups) if s))


def index_groups(ctx: ReportContext) -> list[str]:
    """Status groups of the index's indicators (the sources of the index)."""
    return list(dict.fromkeys(CATALOGUE[k].group for k in ctx.config.indicator_keys if k in CATALOGUE))


def producers(manifest: Mapping, group: str) -> str:
    """Producers of an indicator group's sources (manifest)."""
    meta = manifest.get("indicators", {}).get(group, {})
    return ", ".join(dict.fromkeys(e["producer"] for e in source_entries(manifest, meta.get("sources", []))))


def _l93(geoms) -> gpd.GeoSeries:
    s = gpd.GeoSeries(geoms)
    return s if s.crs is None or s.crs.to_epsg() == 2154 else s.to_crs("EPSG:2154")


def boundaries(ctx: ReportContext, level: str) -> gpd.GeoSeries | None:
    """Inner boundaries drawn over a map: communes on an IRIS map, EPCI (communes dissolved) on
    a département's commune map, départements on the région's."""
    communes = ctx.zones("commune")
    if level == "iris" and 1 < len(communes) <= MAX_BOUNDARIES:
        return gpd.GeoSeries(communes.geometry.values, crs=communes.crs)
    if level == "commune" and ctx.territory.kind == "dep":
        return gpd.GeoSeries(communes.dissolve(by="code_epci").geometry.values, crs=communes.crs)
    if level == "commune" and ctx.territory.kind == "reg":
        deps = ctx.pack["departement"]
        return gpd.GeoSeries(deps.geometry.values, crs=deps.crs)
    return None


def outline(ctx: ReportContext) -> gpd.GeoSeries:
    """The territory's own outline (its row of the pack)."""
    row = ctx.zones(ctx.territory.level)
    return gpd.GeoSeries(row.geometry.values, crs=row.crs)


def geometry_source(manifest: Mapping, level: str) -> str:
    """'producer (vintage)' of the outlines of a level, from the manifest."""
    entries = source_entries(manifest, GEOMETRY_SOURCES.get(level, ()))
    return " ; ".join(dict.fromkeys(f"{e['producer']} ({e['vintage']})" for e in entries))


def map_frame(ctx: ReportContext, level: str, points: tuple[PointSet, ...] = ()) -> MapFrame:
    """Outline, inner boundaries and points of a map of the territory (its source goes in the
    text under the map: :func:`map_source`)."""
    return MapFrame(source="", outline=outline(ctx), boundaries=boundaries(ctx, level), points=points)


def map_source(ctx: ReportContext, level: str, source: str) -> str:
    """« Source : … Contours : … » of a map of ``level`` (the data's source, then the outlines')."""
    outlines = geometry_source(ctx.manifest, level)
    return f"Source : {source}." + (f" Contours : {outlines}." if outlines else "")


def weighted_mean(values: pd.Series, weights: pd.Series) -> float:
    """Σ w v / Σ w over the rows where both are finite (NaN when no weight)."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    w = pd.to_numeric(weights, errors="coerce").to_numpy(float)
    ok = np.isfinite(v) & np.isfinite(w) & (w > 0)
    return float((v[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else np.nan


def total(values: pd.Series) -> float:
    """Σ of the finite values (NaN when there is none)."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(float)
    return float(np.nansum(v)) if np.isfinite(v).any() else np.nan


__all__ = ["fr", "pct", "share_pct", "plural", "Captions", "groups_source", "index_groups", "producers", "boundaries",
           "outline", "GEOMETRY_SOURCES", "geometry_source", "map_frame", "map_source", "weighted_mean", "total"]
