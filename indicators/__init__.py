"""Indicators: pure functions on the pack's tables (METHOD.md §1–5 and §7). No Streamlit, no I/O.

- :mod:`.definitions` — indicator catalogue (counts → rates), IFN sets, :class:`Config`;
- :mod:`.fragility` — fragility index (deciles / ratio / min–max, weights, axes, contributions);
- :mod:`.need` — people in need (precarity and illectronisme models, rates in ``rates.toml``);
- :mod:`.supply` — capacity of places, service and time-slot filters;
- :mod:`.access` — 2SFCA / E2SFCA on sparse zone → place pairs, nearest place;
- :mod:`.unmet` — unmet need, bivariate classes, priority and Monte-Carlo robustness;
- :mod:`.aggregate` — sums of counts across levels;
- :func:`compute_all` — index + need + access + unmet need for a zone table in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from . import access as _access
from .definitions import (
    CATALOGUE,
    DEFAULT_CONFIG,
    REFERENCE_COLUMNS,
    SETS,
    Config,
    effective_reference,
    estimated_fraction,
    indicator_table,
)
from .fragility import _groups, fragility
from .need import load_rates, people_in_need
from .supply import capacity, has_service, select_places
from .unmet import bivariate_terciles, priority_rank, targets, unmet_need

NEAREST_SERVICES = ("demarches", "competences_base", "equipement")


@dataclass
class Results:
    """Output of :func:`compute_all`: one row per zone, one row per kept place, and a report."""

    zones: pd.DataFrame
    places: pd.DataFrame
    report: dict = field(default_factory=dict)


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(float, na_value=np.nan)


def count_places(zones: pd.DataFrame, places: pd.DataFrame) -> np.ndarray:
    """Places per zone: by ``code_commune`` for commune tables, by point-in-polygon when `zones`
    has polygon geometries, else each place goes to the zone with the nearest demand point."""
    n = len(zones)
    if len(places) == 0:
        return np.zeros(n)
    level = zones["level"].iloc[0] if "level" in zones.columns and n else None
    if level == "commune" and "code_commune" in places.columns and "code" in zones.columns:
        counts = places["code_commune"].astype(str).value_counts()
        return zones["code"].astype(str).map(counts).fillna(0).to_numpy(float)
    geom = getattr(zones, "geometry", None)
    if geom is not None and hasattr(geom, "geom_type") and geom.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        import geopandas as gpd

        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(_num(places, "x"), _num(places, "y")), crs=zones.crs)
        joined = gpd.sjoin(pts, gpd.GeoDataFrame(geometry=geom.reset_index(drop=True), crs=zones.crs),
                           predicate="within", how="inner")
        return np.bincount(joined["index_right"].to_numpy(int), minlength=n).astype(float)
    zxy = np.column_stack([_num(zones, "rep_x"), _num(zones, "rep_y")])
    pxy = np.column_stack([_num(places, "x"), _num(places, "y")])
    okz, okp = np.isfinite(zxy).all(1), np.isfinite(pxy).all(1)
    out = np.zeros(n)
    if okz.any() and okp.any():
        _, idx = cKDTree(zxy[okz]).query(pxy[okp])
        out[np.flatnonzero(okz)] = np.bincount(idx, minlength=int(okz.sum()))
    return out


def _decay(config: Config):
    d = _access.make_decay(config.decay, config.max_cost, sigma=config.sigma, scale=config.gravity_scale,
                           alpha=config.gravity_alpha, min_cost=config.gravity_min)
    if config.method == "2sfca":
        return _access.binary_decay(config.max_cost or d.max_cost)
    return d


def _level(zones: pd.DataFrame) -> str | None:
    return str(zones["level"].iloc[0]) if "level" in zones.columns and len(zones) else None


def reference_column(zones: pd.DataFrame, config: Config) -> tuple[str, str | None]:
    """(reference used at the zones' level, its grouping column); ValueError when the column is missing."""
    reference = effective_reference(_level(zones), config.reference)
    col = REFERENCE_COLUMNS[reference]
    if col is not None and col not in zones.columns:
        raise ValueError(f"zone table has no {col!r} column for reference {reference!r}")
    return reference, col


@dataclass
class _Supply:
    """Places kept for the supply, their coordinates, capacities and positions in ``places``."""

    kept: pd.DataFrame
    xy: np.ndarray
    cap: pd.DataFrame
    pos: np.ndarray | None


def _supply(places: pd.DataFrame, config: Config, rates: dict, cost, report: dict) -> _Supply:
    kept, rep = select_places(places, config.service, config.time_slot, config.digital_help_only)
    report.update(rep)
    pos = places.index.get_indexer(kept.index) if cost is not None else None
    pxy = np.column_stack([_num(kept, "x"), _num(kept, "y")])
    has_xy = np.isfinite(pxy).all(axis=1)
    if cost is None and not has_xy.all():
        report["places_without_coordinates"] = int((~has_xy).sum())
        kept, pxy = kept[has_xy], pxy[has_xy]
    return _Supply(kept, pxy, capacity(kept, config.capacity, rates), pos)


def _pairs(zones: pd.DataFrame, places: pd.DataFrame, sup: _Supply, cost, decay, speeds, detour):
    """Zone → kept-place cost pairs (straight line, long table or matrix) and the zones they cover."""
    n = len(zones)
    zxy = np.column_stack([_num(zones, "rep_x"), _num(zones, "rep_y")])
    if cost is None:
        z_ok = np.isfinite(zxy).all(axis=1)
        return _access.straight_line_pairs(zxy[z_ok], sup.xy, speeds[z_ok], decay.max_cost, detour), z_ok
    if isinstance(cost, pd.DataFrame):
        ids = places["place_id"] if "place_id" in places.columns else places.index
        pairs = _access.pairs_from_frame(cost, zones["code"], ids, decay.max_cost)
        keep_col = np.full(len(places), -1)
        keep_col[sup.pos] = np.arange(len(sup.pos))
        m = keep_col[pairs.cols] >= 0
        return _access.Pairs(pairs.rows[m], keep_col[pairs.cols[m]], pairs.cost[m], n, len(sup.pos)), np.ones(n, dtype=bool)
    mat = cost[:, sup.pos] if not hasattr(cost, "tocsc") else cost.tocsc()[:, sup.pos]
    return _access.pairs_from_matrix(mat, decay.max_cost), np.ones(n, dtype=bool)


def _need(zones: pd.DataFrame, config: Config, rates: dict, ref_col: str | None, need: pd.DataFrame | None) -> pd.DataFrame:
    """People in need (given, or estimated here) with ``need_estimated`` (0–1, see levels)."""
    if need is not None:
        out = need.reindex(zones.index)
    else:
        out = people_in_need(zones, config.need_model, rates, config.need_impute, ref_col)
    if "need_estimated" not in out.columns:
        group = CATALOGUE["poverty"] if config.need_model == "precarity" else CATALOGUE["age65_all"]
        est = estimated_fraction(zones, group)
        out = out.assign(need_estimated=np.where(out["need_imputed"].fillna(False).to_numpy(bool), 1.0, est))
    return out


def _nearest_columns(out: pd.DataFrame, zones: pd.DataFrame, sup: _Supply, pairs, z_ok, speeds, detour, cost, config) -> None:
    """Time (and distance) to the nearest open place, overall and by service. A place closed every
    day (capacity 0) or itinerant is never a zone's nearest place."""
    n = len(zones)
    open_ = sup.cap["capacity"].to_numpy(float) > 0
    place_ids = (sup.kept["place_id"] if "place_id" in sup.kept.columns else pd.Series(sup.kept.index, index=sup.kept.index)).to_numpy()
    if cost is not None:
        m = open_[pairs.cols]
        idx, c = _access.nearest_from_pairs(_access.Pairs(pairs.rows[m], pairs.cols[m], pairs.cost[m], pairs.n_zones, pairs.n_places))
        out["nearest_time_min"] = c
        out["nearest_place_id"] = np.where(idx >= 0, place_ids[np.maximum(idx, 0)], None)
        return
    zxy = np.column_stack([_num(zones, "rep_x"), _num(zones, "rep_y")])
    subsets = {"": open_}
    if "services" in sup.kept.columns and config.service is None:
        for s in NEAREST_SERVICES:
            subsets[f"_{s}"] = open_ & has_service(sup.kept["services"], s)
    out["nearest_dist_m"], out["nearest_place_id"] = np.nan, None
    for suffix, m in subsets.items():
        t_min = np.full(n, np.nan)
        if m.any() and z_ok.any():
            idx, dist, tm = _access.nearest_place(zxy[z_ok], sup.xy[m], speeds[z_ok], detour)
            t_min[z_ok] = tm
            if suffix == "":
                d_m = np.full(n, np.nan)
                d_m[z_ok] = dist
                pid = np.full(n, None, dtype=object)
                pid[z_ok] = place_ids[np.flatnonzero(m)[idx]]
                out["nearest_dist_m"], out["nearest_place_id"] = d_m, pid
        out[f"nearest_time_min{suffix}"] = t_min


def _unmet_columns(out: pd.DataFrame, zones: pd.DataFrame, frag: pd.DataFrame, N, A, ref_col, config: Config, report: dict) -> None:
    codes, _ = _groups(zones, ref_col)
    T = targets(A, codes, config.target)
    U = unmet_need(N, A, T)
    report["zones_target_undefined"] = int(np.sum(~(T > 0)))  # median access 0 or NaN: set a target
    out["target"] = T
    out["unmet"] = U
    out["priority_rank"] = priority_rank(U)
    if config.bivariate_need == "score":
        need_measure = frag["score"].to_numpy(float)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            pop = _num(zones, "population")
            need_measure = np.where(pop > 0, N / pop, np.nan)
    out["need_tercile"], out["access_tercile"], out["bivariate_class"] = bivariate_terciles(need_measure, A)


def compute_all(zones: pd.DataFrame, places: pd.DataFrame, config: Config = DEFAULT_CONFIG, *,
                cost=None, rates: dict | None = None, need: pd.DataFrame | None = None,
                national: pd.DataFrame | None = None) -> Results:
    """Fragility index, people in need, access (2SFCA / E2SFCA), nearest place and unmet need.

    `zones`: a zone table of SCHEMA.md (``code``, ``rep_x``, ``rep_y``, counts, parent codes).
    `places`: the places table (``place_id``, ``x``, ``y``, ``type``, ``services``, hours, staff).
    `cost` (optional): zone × place travel costs in minutes for *all* rows of `places` (dense or
    scipy sparse matrix), or a long DataFrame (origin = zone ``code``, dest = ``place_id``, cost);
    default: straight line × detour ÷ speed of each zone's mode.
    `need` (optional): people in need already computed for these zones (``need``, ``need_method``,
    ``need_imputed``, ``need_estimated``; :func:`indicators.levels.base_need` gives the one value
    per territory); `national`: the pack's ``reference_france`` (reference « France »).

    The reference of the index and of the target moves up when it is the zones' own level
    (``report["reference"]``). Zones without coordinates get NaN access (flag ``no_coordinates``);
    places without coordinates are left out and counted in the report. Zones whose need is NaN
    count as 0 in the demand of step 1 (flag ``demand_missing``) and get a NaN unmet need. Where
    the median access of a reference set is 0, the target is undefined and U is NaN there
    (``report["zones_target_undefined"]``): pass ``Config(target=...)``.
    """
    rates = rates or load_rates()
    if not places.index.is_unique or not zones.index.is_unique:
        raise ValueError("zones and places must have unique indexes (reset_index() them first)")
    reference, ref_col = reference_column(zones, config)
    report: dict = {"reference": reference}
    if reference != config.reference:
        report["reference_moved_from"] = config.reference
    sup = _supply(places, config, rates, cost, report)
    zin = zones
    if "places_per_10k" in config.indicator_keys and "places_count" not in zones.columns:
        all_help, _ = select_places(places, None, None, config.digital_help_only)
        zin = zones.assign(places_count=count_places(zones, all_help))
    frag = fragility(zin, config, national=national)
    need_df = _need(zones, config, rates, ref_col, need)
    N = need_df["need"].to_numpy(float)

    decay = _decay(config)
    detour = float(config.detour or rates["travel"]["detour"])
    speeds, modes = _access.zone_speeds(zones, config.travel_mode, config.walk_kmh, config.car_kmh, config.dense_per_km2, rates)
    pairs, z_ok = _pairs(zones, places, sup, cost, decay, speeds, detour)
    res = _access.floating_catchment(N[z_ok], sup.cap["capacity"].to_numpy(float), pairs, decay, on_missing="flag")
    default_hours = sup.cap["capacity_source"].astype(str).str.contains("default_hours").to_numpy(float)
    est_share = _access.estimated_share(pairs, decay, N[z_ok], need_df["need_estimated"].to_numpy(float)[z_ok], default_hours, res)
    n = len(zones)
    A, no_place, A_est = np.full(n, np.nan), np.zeros(n, dtype=bool), np.full(n, np.nan)
    A[z_ok], no_place[z_ok], A_est[z_ok] = res.access, res.no_place, est_share
    report.update(excluded_places_no_demand=int(res.excluded_places.size), n_pairs=res.n_pairs,
                  zones_without_coordinates=int((~z_ok).sum()), zones_need_missing=int(np.isnan(N).sum()),
                  zones_no_place_in_catchment=int(no_place.sum()))

    out = pd.DataFrame(index=zones.index)
    for col in ("code", "name", "level"):
        if col in zones.columns:
            out[col] = zones[col]
    out = pd.concat([out, frag, need_df], axis=1)
    out["access"], out["access_estimated"] = A, A_est
    out["no_place"], out["no_coordinates"], out["demand_missing"] = no_place, ~z_ok, np.isnan(N)
    out["travel_mode"] = modes
    _nearest_columns(out, zones, sup, pairs, z_ok, speeds, detour, cost, config)
    _unmet_columns(out, zones, frag, N, A, ref_col, config, report)

    places_out = pd.DataFrame(index=sup.kept.index)
    if "place_id" in sup.kept.columns:
        places_out["place_id"] = sup.kept["place_id"]
    places_out = pd.concat([places_out, sup.cap], axis=1)
    places_out["ratio"] = res.ratio
    places_out["weighted_demand"] = res.weighted_demand
    places_out["excluded_no_demand"] = ~np.isfinite(res.ratio)
    return Results(out, places_out, report)


__all__ = [
    "CATALOGUE", "SETS", "Config", "DEFAULT_CONFIG", "Results", "compute_all", "count_places",
    "fragility", "people_in_need", "load_rates", "indicator_table",
]
