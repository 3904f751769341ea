"""One value per territory: need, access and unmet need at every level — METHOD.md §7.

The pack's counts already agree across levels (a commune's IRIS sum to the commune, higher levels
are sums of communes). People in need, access and unmet need are then computed **once**, on the
finest zones (the IRIS table, which covers every commune: a commune without IRIS in the geometry
is one whole-commune row), and every coarser zone z gets the sums of its IRIS i ∈ z:

- people in need: N_c of each commune from its own counts (:func:`indicators.need.people_in_need`),
  spread over its IRIS by the IRIS's own estimate: N_i = N_c · n_i / Σ_{j∈c} n_j (n = the model on
  the IRIS counts; population where it is missing), so that Σ_{i∈c} N_i = N_c exactly and the
  imputations made for communes travel to the IRIS; N_z = Σ_{i∈z} N_i;
- unmet need U_z = Σ_{i∈z} U_i (U_i from the E2SFCA access A_i of the IRIS, target T = median A
  over the IRIS of the reference territory);
- access A_z = Σ N_i A_i / Σ N_i (hours of support per person in need per week, need-weighted),
  target T_z likewise; residents beyond t minutes of the nearest place = Σ_i population_i [time_i > t];
- estimated shares are need-weighted means; the fragility index of z is computed on z's own
  aggregated counts (never a mean of IRIS scores).

The result of every level therefore gives the same people in need and unmet need for a territory
whatever the level of the map, the page or the export.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import Results, compute_all, count_places, reference_column
from .activity import activity_columns
from .aggregate import LEVEL_PARENT
from .definitions import CATALOGUE, DEFAULT_CONFIG, Config, estimated_fraction
from .fragility import fragility
from .need import load_rates, people_in_need
from .supply import select_places
from .unmet import bivariate_terciles, priority_rank

#: residents beyond these travel times (minutes) of the nearest place, summed at every level
BEYOND_MIN = (15, 30)


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(float, na_value=np.nan)


def _need_estimated(zones: pd.DataFrame, need: pd.DataFrame, model: str) -> np.ndarray:
    group = CATALOGUE["poverty"] if model == "precarity" else CATALOGUE["age65_all"]
    return np.where(need["need_imputed"].fillna(False).to_numpy(bool), 1.0, estimated_fraction(zones, group))


def base_need(communes: pd.DataFrame, iris: pd.DataFrame, config: Config = DEFAULT_CONFIG,
              rates: dict | None = None) -> pd.DataFrame:
    """People in need of every IRIS, calibrated to its commune's (module doc), indexed like `iris`.

    Columns ``need``, ``need_method`` (the commune's formula), ``need_imputed``, ``need_estimated``
    (0–1: share resting on estimates, the IRIS's own when its commune is measured).
    """
    rates = rates or load_rates()
    _, ref_col = reference_column(communes, config)
    nc = people_in_need(communes, config.need_model, rates, config.need_impute, ref_col)
    nc_est = _need_estimated(communes, nc, config.need_model)
    ni = people_in_need(iris, config.need_model, rates, config.need_impute, None)
    code = communes["code"].astype(str).to_numpy()
    by_code = pd.DataFrame({"need": nc["need"].to_numpy(float), "method": nc["need_method"].to_numpy(),
                            "imputed": nc["need_imputed"].to_numpy(bool), "est": nc_est}, index=code)
    parent = iris["code_commune"].astype(str)
    total = parent.map(by_code["need"]).to_numpy(float)
    raw = pd.Series(np.clip(np.nan_to_num(ni["need"].to_numpy(float)), 0.0, None), index=iris.index)
    pop = pd.Series(np.nan_to_num(_col(iris, "population")), index=iris.index)
    s_raw = raw.groupby(parent.to_numpy()).transform("sum").to_numpy()
    s_pop = pop.groupby(parent.to_numpy()).transform("sum").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(s_raw > 0, raw / s_raw, np.where(s_pop > 0, pop / s_pop, np.nan))
    est_iris = _need_estimated(iris, ni, config.need_model)
    est_com = parent.map(by_code["est"]).to_numpy(float)
    return pd.DataFrame({
        "need": total * share,
        "need_method": parent.map(by_code["method"]).to_numpy(),
        "need_imputed": parent.map(by_code["imputed"]).fillna(False).to_numpy(bool),
        "need_estimated": np.maximum(est_com, est_iris),
    }, index=iris.index)


def _weighted(values: np.ndarray, weights: np.ndarray, codes: np.ndarray, G: int) -> np.ndarray:
    ok = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    sw = np.bincount(codes, weights=np.where(ok, weights, 0.0), minlength=G)
    swv = np.bincount(codes, weights=np.where(ok, weights * np.nan_to_num(values), 0.0), minlength=G)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sw > 0, swv / sw, np.nan)


def _sum(values: np.ndarray, codes: np.ndarray, G: int) -> np.ndarray:
    """Σ of the finite values per group; NaN where no child has one."""
    ok = np.isfinite(values)
    s = np.bincount(codes, weights=np.where(ok, values, 0.0), minlength=G)
    return np.where(np.bincount(codes, weights=ok, minlength=G) > 0, s, np.nan)


def aggregate_results(base: pd.DataFrame, iris: pd.DataFrame, zones: pd.DataFrame, level: str) -> pd.DataFrame:
    """Need, unmet need, access, target, estimated shares, residents beyond 15 / 30 min and the
    nearest place of each zone of `level`, from the IRIS results `base` (module doc)."""
    key = LEVEL_PARENT[level]
    index = pd.Index(zones["code"].astype(str))
    codes = index.get_indexer(iris[key].astype(str))
    if (codes < 0).any():
        raise ValueError(f"{int((codes < 0).sum())} IRIS have a {key} absent from the {level} table")
    G = len(index)
    N, A, U = _col(base, "need"), _col(base, "access"), _col(base, "unmet")
    pop = _col(iris, "population")
    out = pd.DataFrame(index=zones.index)
    out["need"] = _sum(N, codes, G)
    out["unmet"] = _sum(U, codes, G)
    out["access"] = _weighted(A, N, codes, G)
    out["target"] = _weighted(_col(base, "target"), N, codes, G)
    out["need_estimated"] = _weighted(_col(base, "need_estimated"), N, codes, G)
    out["access_estimated"] = _weighted(_col(base, "access_estimated"), N, codes, G)
    out["nearest_time_min"] = _weighted(_col(base, "nearest_time_min"), pop, codes, G)
    for minutes in BEYOND_MIN:
        t = _col(base, "nearest_time_min")
        out[f"pop_beyond_{minutes}"] = _sum(np.where(np.isfinite(t), np.where(t > minutes, pop, 0.0), np.nan), codes, G)
    flags = base[["need_imputed", "no_place", "no_coordinates", "demand_missing"]].astype(bool)
    for col in flags.columns:
        agg = np.bincount(codes, weights=flags[col].to_numpy(float), minlength=G)
        out[col] = agg >= np.bincount(codes, minlength=G) if col == "no_place" else agg > 0
    top = pd.DataFrame({"code": codes, "pop": np.nan_to_num(pop), "place": base["nearest_place_id"].to_numpy(),
                        "mode": base["travel_mode"].to_numpy(), "method": base["need_method"].to_numpy()})
    first = top.sort_values("pop", ascending=False, kind="stable").drop_duplicates("code").set_index("code")
    for col, src in (("nearest_place_id", "place"), ("travel_mode", "mode"), ("need_method", "method")):
        out[col] = first[src].reindex(np.arange(G)).to_numpy()
    return out


def _iris_cover(tables: Mapping[str, pd.DataFrame], level: str) -> bool:
    """True when the IRIS table holds every zone of `level` (always so in the pack; a table built
    by hand may have no IRIS, and is then computed on its own zones)."""
    iris = tables.get("iris")
    key = LEVEL_PARENT[level]
    if iris is None or iris.empty or key not in iris.columns:
        return False
    return set(tables[level]["code"].astype(str)) <= set(iris[key].astype(str))


def compute_level(tables: Mapping[str, pd.DataFrame], level: str, places: pd.DataFrame,
                  config: Config = DEFAULT_CONFIG, *, rates: dict | None = None) -> Results:
    """Results for every zone of ``tables[level]`` with one value per territory (module doc).

    ``tables``: the pack (``iris``, ``commune`` and the level's table; ``reference_france`` if the
    reference is « France »). Returns :class:`indicators.Results` indexed like ``tables[level]``,
    ``report["computed_on"]`` saying which zones access was computed on ("iris", or the level
    itself when the IRIS table does not cover it).
    """
    rates = rates or load_rates()
    national = tables.get("reference_france")
    if level != "iris" and not _iris_cover(tables, level):
        res = compute_all(tables[level], places, config, rates=rates, national=national)
        res.report["computed_on"] = level
        return res
    iris = tables["iris"]
    need = base_need(tables["commune"], iris, config, rates)
    base = compute_all(iris, places, config, rates=rates, need=need, national=national)
    if level == "iris":
        return base
    zones = tables[level]
    zin = zones
    if "places_per_10k" in config.indicator_keys and "places_count" not in zones.columns:
        zin = zones.assign(places_count=count_places(zones, select_places(places, None, None, config.digital_help_only)[0]))
    frag = fragility(zin, config, national=national)
    agg = aggregate_results(base.zones, iris, zones, level)
    out = pd.DataFrame({c: zones[c] for c in ("code", "name", "level") if c in zones.columns}, index=zones.index)
    out = pd.concat([out, frag, agg], axis=1)
    out["priority_rank"] = priority_rank(out["unmet"].to_numpy(float))
    A = out["access"].to_numpy(float)
    if config.bivariate_need == "score":
        need_measure = out["score"].to_numpy(float)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            need_measure = out["need"].to_numpy(float) / _col(zones, "population")
    out["need_tercile"], out["access_tercile"], out["bivariate_class"] = bivariate_terciles(need_measure, A)
    out = pd.concat([out, activity_columns(zones, out["need"].to_numpy(float), need_measure)], axis=1)
    report = dict(base.report)
    report["reference"] = str(frag["reference"].iloc[0]) if len(frag) else report.get("reference")
    report["computed_on"] = "iris"
    return Results(out, base.places, report)


__all__ = ["BEYOND_MIN", "base_need", "aggregate_results", "compute_level"]
