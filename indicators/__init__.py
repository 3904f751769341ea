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
from .definitions import CATALOGUE, DEFAULT_CONFIG, SETS, Config, indicator_table
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


def compute_all(zones: pd.DataFrame, places: pd.DataFrame, config: Config = DEFAULT_CONFIG, *,
                cost=None, rates: dict | None = None) -> Results:
    """Fragility index, people in need, access (2SFCA / E2SFCA), nearest place and unmet need.

    `zones`: a zone table of SCHEMA.md (``code``, ``rep_x``, ``rep_y``, counts, parent codes).
    `places`: the places table (``place_id``, ``x``, ``y``, ``type``, ``services``, hours, staff).
    `cost` (optional): zone × place travel costs in minutes for *all* rows of `places` (dense or
    scipy sparse matrix), or a long DataFrame (origin = zone ``code``, dest = ``place_id``, cost);
    default: straight line × detour ÷ speed of each zone's mode.

    Zones without coordinates get NaN access (flag ``no_coordinates``); places without
    coordinates are left out and counted in the report. Zones whose need is NaN count as 0 in
    the demand of step 1 (flag ``demand_missing``) and get a NaN unmet need. Where the median
    access of a reference set is 0 (most zones reach no place), the target is undefined and U is
    NaN there (``report["zones_target_undefined"]``): pass ``Config(target=...)``.
    """
    rates = rates or load_rates()
    report: dict = {}
    n = len(zones)
    if not places.index.is_unique or not zones.index.is_unique:
        raise ValueError("zones and places must have unique indexes (reset_index() them first)")
    ref_col = config.reference_column if (config.reference_column is None or config.reference_column in zones.columns) else None
    if ref_col != config.reference_column:
        raise ValueError(f"zone table has no {config.reference_column!r} column for reference {config.reference!r}")

    # supply -----------------------------------------------------------------------------------
    kept, rep = select_places(places, config.service, config.time_slot, config.digital_help_only)
    report.update(rep)
    pos = places.index.get_indexer(kept.index) if cost is not None else None
    pxy = np.column_stack([_num(kept, "x"), _num(kept, "y")])
    has_xy = np.isfinite(pxy).all(axis=1)
    if cost is None and not has_xy.all():
        report["places_without_coordinates"] = int((~has_xy).sum())
        kept, pxy = kept[has_xy], pxy[has_xy]
    cap = capacity(kept, config.capacity, rates)

    # fragility and need -------------------------------------------------------------------------
    zin = zones
    if "places_per_10k" in config.indicator_keys and "places_count" not in zones.columns:
        all_help, _ = select_places(places, None, None, config.digital_help_only)
        zin = zones.assign(places_count=count_places(zones, all_help))
    frag = fragility(zin, config)
    need = people_in_need(zones, config.need_model, rates, config.need_impute, ref_col)
    N = need["need"].to_numpy(float)

    # access -------------------------------------------------------------------------------------
    decay = _decay(config)
    t = rates["travel"]
    detour = float(config.detour or t["detour"])
    speeds, modes = _access.zone_speeds(zones, config.travel_mode, config.walk_kmh, config.car_kmh,
                                        config.dense_per_km2, rates)
    zxy = np.column_stack([_num(zones, "rep_x"), _num(zones, "rep_y")])
    z_ok = np.isfinite(zxy).all(axis=1) if cost is None else np.ones(n, dtype=bool)
    if cost is None:
        pairs = _access.straight_line_pairs(zxy[z_ok], pxy, speeds[z_ok], decay.max_cost, detour)
    elif isinstance(cost, pd.DataFrame):
        ids = places["place_id"] if "place_id" in places.columns else places.index
        pairs = _access.pairs_from_frame(cost, zones["code"], ids, decay.max_cost)
        keep_col = np.full(len(places), -1)
        keep_col[pos] = np.arange(len(pos))
        m = keep_col[pairs.cols] >= 0
        pairs = _access.Pairs(pairs.rows[m], keep_col[pairs.cols[m]], pairs.cost[m], n, len(pos))
    else:
        mat = cost[:, pos] if not hasattr(cost, "tocsc") else cost.tocsc()[:, pos]
        pairs = _access.pairs_from_matrix(mat, decay.max_cost)
    res = _access.floating_catchment(np.where(z_ok, N, np.nan)[z_ok] if cost is None else N,
                                     cap["capacity"].to_numpy(float), pairs, decay, on_missing="flag")
    A = np.full(n, np.nan)
    A[z_ok] = res.access
    no_place = np.zeros(n, dtype=bool)
    no_place[z_ok] = res.no_place
    report["excluded_places_no_demand"] = int(res.excluded_places.size)
    report["n_pairs"] = res.n_pairs
    report["zones_without_coordinates"] = int((~z_ok).sum())
    report["zones_need_missing"] = int(np.isnan(N).sum())
    report["zones_no_place_in_catchment"] = int(no_place.sum())

    out = pd.DataFrame(index=zones.index)
    for col in ("code", "name", "level"):
        if col in zones.columns:
            out[col] = zones[col]
    out = pd.concat([out, frag, need], axis=1)
    out["access"] = A
    out["no_place"] = no_place
    out["no_coordinates"] = ~z_ok
    out["demand_missing"] = np.isnan(N)
    out["travel_mode"] = modes

    # nearest place (all kept places, then by service) -------------------------------------------
    place_ids = (kept["place_id"] if "place_id" in kept.columns else pd.Series(kept.index, index=kept.index)).to_numpy()
    if cost is None:
        subsets = {"": np.ones(len(kept), dtype=bool)}
        if "services" in kept.columns and config.service is None:
            for s in NEAREST_SERVICES:
                subsets[f"_{s}"] = has_service(kept["services"], s)
        for suffix, m in subsets.items():
            t_min = np.full(n, np.nan)
            if m.any() and z_ok.any():
                idx, dist, tm = _access.nearest_place(zxy[z_ok], pxy[m], speeds[z_ok], detour)
                t_min[z_ok] = tm
                if suffix == "":
                    d_m = np.full(n, np.nan)
                    d_m[z_ok] = dist
                    pid = np.full(n, None, dtype=object)
                    pid[z_ok] = place_ids[np.flatnonzero(m)[idx]]
                    out["nearest_dist_m"], out["nearest_place_id"] = d_m, pid
            elif suffix == "":
                out["nearest_dist_m"], out["nearest_place_id"] = np.nan, None
            out[f"nearest_time_min{suffix}"] = t_min
    else:
        idx, c = _access.nearest_from_pairs(pairs)
        out["nearest_time_min"] = c
        out["nearest_place_id"] = np.where(idx >= 0, place_ids[np.maximum(idx, 0)], None)

    # unmet need -----------------------------------------------------------------------------------
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

    places_out = pd.DataFrame(index=kept.index)
    if "place_id" in kept.columns:
        places_out["place_id"] = kept["place_id"]
    places_out = pd.concat([places_out, cap], axis=1)
    places_out["ratio"] = res.ratio
    places_out["weighted_demand"] = res.weighted_demand
    places_out["excluded_no_demand"] = ~np.isfinite(res.ratio)
    return Results(out, places_out, report)


__all__ = [
    "CATALOGUE", "SETS", "Config", "DEFAULT_CONFIG", "Results", "compute_all", "count_places",
    "fragility", "people_in_need", "load_rates", "indicator_table",
]
