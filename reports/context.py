"""Everything the report's sections read, gathered once for a territory (no Streamlit).

:class:`ReportContext` holds the pack, the configuration, the territory and its reference, the
level of the maps, the places (the pack's plus any uploaded in the app), the zone results of a
level (``results(level) -> (zone results, place capacities)``: :class:`reports.results.LevelResults`
on the command line, the app's cached results on the Diagnostic page), the key figures of the
territory and of its reference (:func:`reports.figures.key_figures_for`: the page's function),
and the saved planning scenarios of this territory.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from indicators import Config
from reports.figures import key_figures_for, places_in
from reports.maps import LARGE_MAP
from reports.territory import Territory, reference_of, zones_in

log = logging.getLogger(__name__)
#: simplification of the zones of a large map (m): about half a pixel of a regional map
MAP_TOLERANCE_M = 250.0
ResultsFn = Callable[[str], tuple[pd.DataFrame, pd.DataFrame]]


@dataclass
class ReportContext:
    """Inputs and shared derived tables of one report (module doc)."""

    pack: Mapping
    config: Config
    territory: Territory
    level: str
    places: pd.DataFrame
    results: ResultsFn
    today: date
    scenarios: list[dict] = field(default_factory=list)
    scenarios_problem: str = ""
    robustness_draws: int = 100
    reference: Territory | None = None
    figures: pd.DataFrame | None = None
    ref_figures: pd.DataFrame | None = None
    _map_zones: dict = field(default_factory=dict, repr=False)

    @property
    def manifest(self) -> Mapping:
        """The pack's manifest (sources, vintages, licences)."""
        return self.pack["manifest"]

    @property
    def name(self) -> str:
        """The territory's name (« Grenoble-Alpes-Métropole »)."""
        return self.territory.name

    @property
    def ref_name(self) -> str | None:
        """The reference territory's name, None for the région."""
        return self.reference.name if self.reference else None

    def zones(self, level: str | None = None) -> gpd.GeoDataFrame:
        """The territory's zones of ``level`` (default: the map level), pack rows with geometry."""
        return zones_in(self.pack, self.territory.kind, self.territory.code, level or self.level)

    def map_zones(self, level: str | None = None) -> gpd.GeoDataFrame:
        """:meth:`zones` with the geometry drawn on the maps: above :data:`reports.maps.LARGE_MAP`
        zones, simplified to :data:`MAP_TOLERANCE_M` keeping shared borders (a zone that would
        vanish keeps its own geometry), computed once per level."""
        level = level or self.level
        if level not in self._map_zones:
            zones = self.zones(level)
            if len(zones) > LARGE_MAP:
                geoms = zones.geometry.values
                simple = shapely.coverage_simplify(geoms, MAP_TOLERANCE_M)
                lost = shapely.is_empty(simple) | shapely.is_missing(simple)
                simple[lost] = geoms[lost]
                zones = zones.set_geometry(gpd.GeoSeries(simple, index=zones.index, crs=zones.crs))
            self._map_zones[level] = zones
        return self._map_zones[level]

    def zone_results(self, level: str | None = None) -> pd.DataFrame:
        """Results of the territory's zones at ``level`` (rows aligned with :meth:`zones`)."""
        zones = self.zones(level)
        return self.results(level or self.level)[0].reindex(zones.index)

    def reference_zones(self, level: str | None = None) -> pd.DataFrame:
        """The reference territory's zones of ``level`` (none for the région)."""
        if self.reference is None:
            return self.zones(level).iloc[:0]
        return zones_in(self.pack, self.reference.kind, self.reference.code, level or self.level)

    def own_row(self, t: Territory | None = None) -> pd.Series | None:
        """The pack row of the territory (or of ``t``) at its own level."""
        t = t or self.territory
        rows = zones_in(self.pack, t.kind, t.code, t.level)
        return rows.iloc[0] if len(rows) else None

    def places_here(self) -> pd.DataFrame:
        """Places whose commune is in the territory (all types, libraries included)."""
        return places_in(self.places, self.zones("commune")["code"])

    def figure(self, key: str, reference: bool = False) -> pd.Series | None:
        """One key figure (row of :data:`reports.figures.FIGURE_COLUMNS`) of the territory or its reference."""
        table = self.ref_figures if reference else self.figures
        if table is None or key not in table.index:
            return None
        return table.loc[key]

    def value(self, key: str, reference: bool = False) -> float:
        """The value of a key figure (NaN when missing)."""
        f = self.figure(key, reference)
        return float(f["value"]) if f is not None and pd.notna(f["value"]) else np.nan


def gather(pack: Mapping, territory: Territory, *, config: Config, level: str, places: pd.DataFrame,
           results: ResultsFn, today: date, scenarios: tuple[list[dict], str] | None = None,
           robustness_draws: int = 100) -> ReportContext:
    """The context of a report, key figures of the territory and its reference computed
    (``scenarios``: what :func:`load_scenarios` returns)."""
    if level not in ("iris", "commune"):
        msg = f"level {level!r}: the report's maps are drawn at 'iris' or 'commune' level"
        raise ValueError(msg)
    records, problem = scenarios or ([], "")
    ctx = ReportContext(pack, config, territory, level, places, results, today, list(records), problem, robustness_draws)
    ctx.reference = reference_of(pack, territory)
    ctx.figures = key_figures_for(pack, territory.key, config, results, places).set_index("key")
    if ctx.reference is not None:
        ctx.ref_figures = key_figures_for(pack, ctx.reference.key, config, results, places).set_index("key")
    return ctx


def load_scenarios(territory: Territory, path: str | Path | None = None) -> tuple[list[dict], str]:
    """(saved scenarios of ``territory``, problem) from the workspace ``path`` (default:
    ``$INCLUSION_WORKSPACE`` or the user's data folder, as the Implantation page): records of
    :meth:`planning.scenarios.ScenarioStore.get`, most recent first. A missing workspace holds no
    scenario (it is not created); an unreadable one gives no scenario and the reason, in French,
    which the report prints (a report is still written when the workspace is locked or damaged)."""
    from planning.scenarios import ScenarioStore, default_workspace_path

    path = Path(path) if path is not None else default_workspace_path()
    if not path.exists():
        return [], ""
    try:
        store = ScenarioStore(path)
        records = [store.get(item["id"]) for item in store.list()]
    except (OSError, sqlite3.DatabaseError, ValueError, KeyError) as exc:
        log.warning("scenario workspace %s not read: %s", path, exc)
        return [], f"l'espace de travail des scénarios n'a pas pu être lu ({type(exc).__name__})"
    out = []
    for record in records:
        terr = record["payload"].get("territory") or {}
        if terr.get("level") == territory.level and str(terr.get("code")) == territory.code:
            out.append(record)
    return out, ""


__all__ = ["ReportContext", "ResultsFn", "gather", "load_scenarios"]
