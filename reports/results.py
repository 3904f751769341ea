"""Zone results of a level as the pages show them, without Streamlit.

:func:`level_results` is what ``ui.compute`` caches for the pages: the results of
:func:`indicators.levels.compute_level` over the **whole level** of the pack (one value per
territory: need, access and unmet need computed once on the IRIS and summed), the indicator
values (``ind_<key>``), the share of each layer's value resting on estimated inputs
(``est_<layer>``), access and target in hours per week per 1 000 people in need, and the 3 × 3
classes as numbers (``bivariate_num`` = 3 × (need tercile − 1) + access tercile; the same for
need × observed activity, ``bivariate_activity_num``, NaN at the IRIS level).
``tests/test_reports.py`` checks that both give the same frame.

:class:`LevelResults` computes each level once per (pack, places, configuration).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

import geodata
from indicators import CATALOGUE, Config
from indicators.definitions import estimated_fraction, indicator_table
from indicators.levels import compute_level
from reports.labels import ESTIMATED_THRESHOLD

#: layer → column of the estimated share (0–1) in the results (as ``ui.compute.ESTIMATED_COLUMNS``)
ESTIMATED_COLUMNS = {"fragility": "est_fragility", "need": "need_estimated", "access": "access_estimated",
                     "unmet": "est_unmet", "bivariate": "est_bivariate"}
#: access and target are shown per 1 000 people in need (readable numbers)
ACCESS_SCALE = 1000.0


def pack_tables(pack: Mapping) -> dict[str, pd.DataFrame]:
    """The pack's zone tables without geometry, plus the national reference (core inputs)."""
    tables = {lv: pd.DataFrame(pack[lv].drop(columns=["geometry", "geometry_display"], errors="ignore"))
              for lv in geodata.LEVELS}
    tables["reference_france"] = pack.get("reference_france")
    return tables


def _estimated_columns(out: pd.DataFrame, zones: pd.DataFrame) -> None:
    """Per layer, the share (0–1) of each zone's value that rests on estimated inputs."""
    out["est_fragility"] = 1.0 - pd.to_numeric(out["measured_share"], errors="coerce").fillna(1.0)
    out["est_unmet"] = np.maximum(out["need_estimated"].fillna(0.0), out["access_estimated"].fillna(0.0))
    out["est_bivariate"] = np.maximum(out["est_fragility"], out["access_estimated"].fillna(0.0))
    for key, ind in CATALOGUE.items():
        if key != "places_per_10k":
            out[f"est_ind_{key}"] = estimated_fraction(zones, ind)


def level_results(tables: Mapping[str, pd.DataFrame], level: str, places: pd.DataFrame,
                  config: Config) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(zone results of every zone of ``level``, place capacities, report) — module doc.

    ``tables``: :func:`pack_tables`; ``places``: the pack's places (plus any uploaded ones)
    without geometry. Results are indexed like ``tables[level]``.
    """
    res = compute_level(tables, level, places.reset_index(drop=True), config)
    zones = tables[level]
    table = indicator_table(zones, [k for k in CATALOGUE if k != "places_per_10k"])
    table.columns = [f"ind_{c}" for c in table.columns]
    out = pd.concat([res.zones, table], axis=1)
    _estimated_columns(out, zones)
    out["access"] = out["access"] * ACCESS_SCALE
    out["target"] = out["target"] * ACCESS_SCALE
    nt, at = out["need_tercile"].to_numpy(float), out["access_tercile"].to_numpy(float)
    out["bivariate_num"] = np.where((nt > 0) & (at > 0), 3 * (nt - 1) + at, np.nan)
    if "activity_tercile" in out:  # observed activity (indicators.activity), levels that have it
        nt, at = out["activity_need_tercile"].to_numpy(float), out["activity_tercile"].to_numpy(float)
        out["bivariate_activity_num"] = np.where((nt > 0) & (at > 0), 3 * (nt - 1) + at, np.nan)
    else:
        out["accompanied_per_1000"] = out["ac_users_per_1000"] = out["bivariate_activity_num"] = np.nan
    return out, res.places, res.report


def estimated_flags(results: pd.DataFrame, layer: str, value_column: str) -> pd.Series:
    """True where a zone's value of ``layer`` rests on estimated inputs for at least
    :data:`ESTIMATED_THRESHOLD` of it (the zones the app draws paler), among zones with a value."""
    col = ESTIMATED_COLUMNS.get(layer, f"est_{value_column}" if value_column.startswith("ind_") else None)
    if col is None or col not in results:
        return pd.Series(False, index=results.index)
    share = pd.to_numeric(results[col], errors="coerce").fillna(0.0)
    return (share >= ESTIMATED_THRESHOLD) & pd.to_numeric(results[value_column], errors="coerce").notna()


class LevelResults:
    """:func:`level_results` per level, computed on first use (one pack, places, configuration)."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], places: pd.DataFrame, config: Config):
        self.tables, self.places, self.config = tables, places, config
        self._cache: dict[str, tuple[pd.DataFrame, pd.DataFrame, dict]] = {}

    def __call__(self, level: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(zone results, place capacities) of ``level``."""
        if level not in self._cache:
            self._cache[level] = level_results(self.tables, level, self.places, self.config)
        res, caps, _report = self._cache[level]
        return res, caps


__all__ = ["ESTIMATED_COLUMNS", "pack_tables", "level_results", "estimated_flags", "LevelResults"]
