"""Aggregation across levels: IRIS → commune → EPCI → département → région — METHOD.md §7.

Counts (numerators and denominators) are summed by the parent code column of the target level
(``code_commune``, ``code_epci``, ``code_departement``, ``code_region``); rates are then recomputed
from the sums by :mod:`indicators.definitions` — never as a mean of rates. Each level is
aggregated directly from the given table (EPCI and départements are not nested).

Per indicator group (SCHEMA.md ``<group>_status``), only the children that have all of the group's
columns are summed, so that numerator and denominator cover the same people (columns missing in
every child of a parent, e.g. 65+ at IRIS, stay NaN). ``<group>_coverage`` is the share of the
parent's population (or of its children when population is unknown) in those children, and
``<group>_status`` is "ok" (all children), "partial" or "not_covered" (none).

Non-additive values: ``median_income`` is NaN at the higher level unless provided (the published
value of that level, passed in ``provided``); ``dist_4g_m`` and ``dist_library_m`` become the
population-weighted mean distance (a mean over residents, not a rate). ``<group>_estimated_share``
is the share of the group's numerator that comes from children whose value is an estimate
(:data:`ESTIMATED_STATUSES`), so that a figure can say how much of it is estimated. ``rep_x``/``rep_y`` are population-weighted means
of the children's points; ``lon``/``lat`` are their WGS84 projection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .definitions import ESTIMATED_STATUSES

#: Count columns per status group (SCHEMA.md).
GROUPS: dict[str, tuple[str, ...]] = {
    "population": ("population",),
    "households": ("households",),
    "unemployment": ("unemployed_1564", "active_1564"),
    "poverty": ("fiscal_persons", "poor_persons"),
    "age": ("pop_age_total", "pop_15_29", "pop_30_44", "pop_45_59", "pop_60_74", "pop_60p", "pop_65p", "pop_75p"),
    "age15p": ("pop15p", "pop15p_65p"),
    "diploma15p": ("pop15p_dipl", "pop15p_lowdip"),
    "diploma": ("nscol15p", "nscol15p_diplmin"),
    "household_types": ("hh_total_detailed", "hh_one_person", "hh_single_parent"),
    "ftth": ("premises_total", "ftth_premises"),
    "thd": ("premises_2019", "thd_premises"),
    "mobile4g": ("area_cov_km2", "area_4g_km2"),
    "activity": ("cnfs_age_0_11", "cnfs_age_12_17", "cnfs_age_18_34", "cnfs_age_35_59", "cnfs_age_60p", "cnfs_students",
                 "cnfs_job_seekers", "cnfs_employed", "cnfs_retired", "cnfs_mixed_groups", "ac_structures", "ac_users",
                 "ac_procedures", "cnfs_accompanied"),
    "qpv": ("qpv_count",),
    "places": ("places_count",),
}
LEVEL_PARENT = {
    "commune": "code_commune",
    "epci": "code_epci",
    "departement": "code_departement",
    "region": "code_region",
}
LEVEL_NAME = {"commune": "commune_name", "epci": "epci_name"}
_ORDER = ("iris", "commune", "epci", "departement", "region")


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    return pd.to_numeric(df[col], errors="coerce").to_numpy(float, na_value=np.nan)


#: non-additive distances: population-weighted means of the children
WEIGHTED_DISTANCES = ("dist_4g_m", "dist_library_m")


def _sum_groups(zones: pd.DataFrame, codes: np.ndarray, G: int, out: dict, pop: np.ndarray) -> None:
    """Σ of each group's counts over the children that have all of them; coverage, status and the
    share of the group's numerator that rests on estimated children."""
    n_children = out["n_children"]
    pop_known_all = np.bincount(codes, weights=~np.isfinite(pop), minlength=G) == 0
    wpop = np.where(np.isfinite(pop), pop, 0.0)
    tot_pop = np.bincount(codes, weights=wpop, minlength=G)
    for group, cols in GROUPS.items():
        cols = [c for c in cols if c in zones.columns]
        if not cols:
            continue
        P = np.column_stack([np.isfinite(_num(zones, c)) for c in cols])
        any_in_parent = np.column_stack([np.bincount(codes, weights=P[:, k], minlength=G) > 0 for k in range(len(cols))])
        complete = np.all(P | ~any_in_parent[codes], axis=1) & P.any(axis=1)
        n_complete = np.bincount(codes, weights=complete, minlength=G)
        for k, c in enumerate(cols):
            s = np.bincount(codes, weights=np.where(complete, np.nan_to_num(_num(zones, c)), 0.0), minlength=G)
            out[c] = np.where((n_complete > 0) & any_in_parent[:, k], s, np.nan)
        cov_pop = np.bincount(codes, weights=np.where(complete, wpop, 0.0), minlength=G)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{group}_coverage"] = np.where(pop_known_all & (tot_pop > 0), cov_pop / tot_pop, n_complete / n_children)
        out[f"{group}_status"] = np.where(n_complete == 0, "not_covered",
                                          np.where(n_complete == n_children, "ok", "partial")).astype(object)
        status_col = f"{group}_status"
        if status_col in zones.columns:
            out[f"{group}_estimated_share"] = _estimated_share(zones, codes, G, complete, cols[-1], status_col, wpop)


def _estimated_share(zones: pd.DataFrame, codes: np.ndarray, G: int, complete: np.ndarray, num: str,
                     status_col: str, wpop: np.ndarray) -> np.ndarray:
    """Σ numerator of estimated children / Σ numerator (population shares when the numerator sums to 0)."""
    status = zones[status_col].astype("object").to_numpy()
    est = complete & np.isin(status, list(ESTIMATED_STATUSES))
    if f"{status_col[:-len('_status')]}_estimated_share" in zones.columns:  # aggregating an aggregate
        est_w = np.nan_to_num(_num(zones, f"{status_col[:-len('_status')]}_estimated_share"))
    else:
        est_w = est.astype(float)
    v = np.where(complete, np.nan_to_num(_num(zones, num)), 0.0)
    s_num = np.bincount(codes, weights=v, minlength=G)
    s_est = np.bincount(codes, weights=v * est_w, minlength=G)
    p_all = np.bincount(codes, weights=np.where(complete, wpop, 0.0), minlength=G)
    p_est = np.bincount(codes, weights=np.where(complete, wpop, 0.0) * est_w, minlength=G)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s_num > 0, s_est / s_num, np.where(p_all > 0, p_est / p_all, 0.0))


def _weighted_distances(zones: pd.DataFrame, codes: np.ndarray, G: int, out: dict, pop: np.ndarray) -> None:
    """Population-weighted mean of each non-additive distance (a mean over residents, not a rate)."""
    for col in WEIGHTED_DISTANCES:
        if col not in zones.columns:
            continue
        d = _num(zones, col)
        ok = np.isfinite(d) & np.isfinite(pop)
        sw = np.bincount(codes, weights=np.where(ok, pop, 0.0), minlength=G)
        swd = np.bincount(codes, weights=np.where(ok, pop * np.nan_to_num(d), 0.0), minlength=G)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[col] = np.where(sw > 0, swd / sw, np.nan)
        n_ok = np.bincount(codes, weights=ok, minlength=G)
        group = "mobile" if col == "dist_4g_m" else "libraries"
        out[f"{group}_status"] = np.where(n_ok == 0, "not_covered", np.where(n_ok == out["n_children"], "ok", "partial")).astype(object)


def _rep_points(zones: pd.DataFrame, codes: np.ndarray, G: int, out: dict, pop: np.ndarray) -> None:
    """Population-weighted mean of the children's demand points (plain mean where no population)."""
    x, y = _num(zones, "rep_x"), _num(zones, "rep_y")
    okxy = np.isfinite(x) & np.isfinite(y)
    w = np.where(okxy, np.where(np.isfinite(pop) & (pop > 0), pop, 0.0), 0.0)
    sw = np.bincount(codes, weights=w, minlength=G)
    cnt = np.bincount(codes, weights=okxy, minlength=G)
    use_w = sw > 0
    wx = np.where(use_w[codes], w, okxy.astype(float))
    den = np.where(use_w, sw, cnt)
    with np.errstate(invalid="ignore", divide="ignore"):
        rx = np.bincount(codes, weights=wx * np.nan_to_num(x), minlength=G) / den
        ry = np.bincount(codes, weights=wx * np.nan_to_num(y), minlength=G) / den
    rx[den == 0] = np.nan
    ry[den == 0] = np.nan
    out["rep_x"], out["rep_y"] = rx, ry
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(2154, 4326, always_xy=True).transform(rx, ry)
    out["lon"], out["lat"] = np.where(np.isfinite(rx), lon, np.nan), np.where(np.isfinite(ry), lat, np.nan)


def _text_columns(zones: pd.DataFrame, level: str, uniques, codes: np.ndarray, result: pd.DataFrame, pop: np.ndarray) -> None:
    """Name and higher-level codes (most populated child's), joined vintages and QPV codes."""
    frame = pd.DataFrame({"_code": np.asarray(uniques)[codes], "_pop": np.nan_to_num(pop)}, index=zones.index)
    first = frame.sort_values("_pop", ascending=False, kind="stable").groupby("_code").head(1)
    name_col = LEVEL_NAME.get(level)
    if name_col and name_col in zones.columns:
        result["name"] = zones.loc[first.index, name_col].set_axis(first["_code"]).reindex(result["code"]).to_numpy()
    for lv in _ORDER[_ORDER.index(level) + 1:]:
        col = LEVEL_PARENT[lv]
        if col in zones.columns:
            result[col] = zones.loc[first.index, col].set_axis(first["_code"]).reindex(result["code"]).to_numpy()
    for col in ("population_vintage", "qpv_codes", "age15p_vintage", "diploma15p_vintage", "unemployment_vintage"):
        if col in zones.columns:
            joined = (zones[col].astype("object").dropna().astype(str)
                      .groupby(frame["_code"]).agg(lambda s: ";".join(sorted({p for v in s for p in v.split(";") if p}))))
            result[col] = joined.reindex(result["code"]).to_numpy()


def _apply_provided(result: pd.DataFrame, provided: pd.DataFrame) -> None:
    prov = provided.reindex(result["code"])
    for col in prov.columns:
        vals = prov[col].to_numpy()
        result[col] = np.where(pd.notna(vals), vals, result[col].to_numpy()) if col in result.columns else vals
    if "median_income" in prov.columns:
        result["income_status"] = np.where(pd.notna(prov["median_income"].to_numpy()), "ok", "not_covered")


def aggregate(zones: pd.DataFrame, level: str, provided: pd.DataFrame | None = None) -> pd.DataFrame:
    """Aggregate a zone table to `level` by summing counts (see module doc).

    `provided`: optional values published for the target level, indexed by its code (e.g. its
    ``median_income``); they fill the columns of the same name. Returns one row per parent code,
    sorted by code, with ``code``, ``level``, ``name`` (when a name column exists), the parent
    code columns of higher levels (most populated child's value), counts, ``poverty_rate``,
    ``<group>_status``/``<group>_coverage``/``<group>_estimated_share``, ``n_children``.
    """
    if level not in LEVEL_PARENT:
        raise ValueError(f"unknown level {level!r}; expected one of {tuple(LEVEL_PARENT)}")
    key = LEVEL_PARENT[level]
    if key not in zones.columns:
        raise ValueError(f"zone table has no {key!r} column; cannot aggregate to {level}")
    if zones[key].isna().any():
        raise ValueError(f"{int(zones[key].isna().sum())} zones have no {key}; every zone needs its parent code")
    codes, uniques = pd.factorize(zones[key].astype(str), sort=True)
    G = len(uniques)
    out: dict[str, object] = {"code": np.asarray(uniques, dtype=object), "level": level}
    out["n_children"] = np.bincount(codes, minlength=G)
    pop = _num(zones, "population") if "population" in zones else np.full(len(zones), np.nan)
    _sum_groups(zones, codes, G, out, pop)
    if "poor_persons" in out and "fiscal_persons" in out:
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.asarray(out["fiscal_persons"], float)
            out["poverty_rate"] = np.where(f > 0, 100.0 * np.asarray(out["poor_persons"], float) / f, np.nan)
    if "median_income" in zones.columns:
        out["median_income"] = np.full(G, np.nan)  # non-additive: only a published value
        out["income_status"] = np.full(G, "not_covered", dtype=object)
    if "area_cov_km2" in out:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["cov4g_best"] = np.asarray(out["area_4g_km2"], float) / np.asarray(out["area_cov_km2"], float)
    _weighted_distances(zones, codes, G, out, pop)
    if "area_km2" in zones.columns:
        out["area_km2"] = np.bincount(codes, weights=np.nan_to_num(_num(zones, "area_km2")), minlength=G)
    if "rep_x" in zones.columns and "rep_y" in zones.columns:
        _rep_points(zones, codes, G, out, pop)
    result = pd.DataFrame(out)
    _text_columns(zones, level, uniques, codes, result, pop)
    if provided is not None:
        _apply_provided(result, provided)
    return result.reset_index(drop=True)


def aggregate_all(zones: pd.DataFrame, levels=("commune", "epci", "departement", "region"),
                  provided: dict[str, pd.DataFrame] | None = None) -> dict[str, pd.DataFrame]:
    """Aggregate `zones` to each level whose parent column it has (each directly from `zones`)."""
    provided = provided or {}
    return {lv: aggregate(zones, lv, provided.get(lv)) for lv in levels if LEVEL_PARENT[lv] in zones.columns}


__all__ = ["GROUPS", "LEVEL_PARENT", "ESTIMATED_STATUSES", "aggregate", "aggregate_all"]
