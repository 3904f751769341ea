"""From a territory to a plan: what-if edits, candidate sites, a location model, before/after.

:func:`apply_edits` turns the places table into a what-if version (places added, removed, hours /
staff / services edited). :func:`plan` then

1. estimates the people in need N_i of every zone of the level (``indicators.compute_all``),
2. builds candidates (commune centres, QPV, structures that are not yet reception points, points
   clicked by the user) inside the territory,
3. builds the travel-time matrix zone → site (straight line × detour ÷ speed of the zone's mode,
   the same cost model as the access indicator) for the existing places (fixed open) and the
   candidates,
4. solves the chosen model (MCLP, p-median, LSCP, capacity-aware MCLP; exact CBC or greedy),
5. recomputes access and unmet need with the chosen sites opened (capacity: hours × staff given
   by the user), so that the page shows before / after on the same indicators.

No Streamlit, no I/O: the page caches and displays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
from scipy import sparse

from indicators import Config, compute_all, load_rates
from indicators.access import straight_line_pairs, zone_speeds
from indicators.levels import compute_level
from indicators.supply import capacity, select_places
from indicators.unmet import unmet_need
from planning import candidates as cand
from planning import models

DEFAULT_NEW_SITE = {"weekly_hours": 24.0, "staff": 1.0}
PMEDIAN_HORIZON = 120.0  # minutes: cost charged to a zone with no open site within this time
STOP_FEW_CANDIDATES = "too_few_candidates"  # summary["stopped_reason"]: p > number of candidates


@dataclass
class PlanOutcome:
    """A solved plan: chosen sites (ordered by marginal gain), model result, before/after."""

    result: models.PlanResult
    sites: pd.DataFrame  # chosen candidates with rank, marginal_gain, newly_covered
    before: pd.DataFrame  # zone results (need, access, unmet) with the existing places
    after: pd.DataFrame  # same with the chosen sites opened
    n_candidates: int
    n_existing: int
    summary: dict = field(default_factory=dict)


def apply_edits(places: pd.DataFrame, edits: dict | None) -> pd.DataFrame:
    """The places table after what-if edits ``{"added": [...], "removed": [ids], "edited": [...]}``.

    Edited fields replace the place's values (``weekly_hours``, ``staff``, ``services``,
    ``hours_json``…); an edited ``hours_json`` also resets ``weekly_hours`` unless given.
    Unknown place ids raise ValueError (an edit never silently does nothing).
    """
    if not edits:
        return places
    out = places.copy()
    ids = out["place_id"].astype(str)
    removed = set(edits.get("removed", []))
    unknown = removed - set(ids)
    if unknown:
        raise ValueError(f"cannot remove unknown places {sorted(unknown)[:5]}")
    out = out[~ids.isin(removed)]
    for e in edits.get("edited", []):
        pos = np.flatnonzero(out["place_id"].astype(str).to_numpy() == e["place_id"])
        if not len(pos):
            raise ValueError(f"cannot edit unknown place {e['place_id']!r}")
        for k, v in e.items():
            if k == "place_id":
                continue
            if k == "hours_json" and isinstance(v, dict):
                v = json.dumps(v, sort_keys=True)
            out.loc[out.index[pos[0]], k] = v
    added = edits.get("added", [])
    if added:
        new = pd.DataFrame(added)
        for k, v in DEFAULT_NEW_SITE.items():
            if k not in new:
                new[k] = v
        if "offers_digital_help" not in new:
            new["offers_digital_help"] = True
        out = pd.concat([out, new], ignore_index=True)
    return out.reset_index(drop=True)


def site_places(sites: pd.DataFrame, weekly_hours: float, staff: float) -> pd.DataFrame:
    """Chosen candidates as places (for the after-state access computation)."""
    return pd.DataFrame(
        {
            "place_id": "new:" + sites["candidate_id"].astype(str),
            "name": "Nouveau lieu — " + sites["name"].astype(str),
            "type": "autre",
            "x": sites["x"].to_numpy(float),
            "y": sites["y"].to_numpy(float),
            "lon": sites["lon"].to_numpy(float),
            "lat": sites["lat"].to_numpy(float),
            "code_commune": sites["code_commune"],
            "weekly_hours": float(weekly_hours),
            "staff": float(staff),
            "services": "demarches;competences_base;equipement",
            "offers_digital_help": True,
            "sources": "scenario",
        }
    )


def travel_minutes(zones: pd.DataFrame, sites_xy: np.ndarray, config: Config, service_time: float) -> sparse.csr_matrix:
    """Zone → site minutes within ``service_time`` (sparse), each zone at its own travel speed."""
    rates = load_rates()
    detour = float(config.detour or rates["travel"]["detour"])
    speeds, _modes = zone_speeds(zones, config.travel_mode, config.walk_kmh, config.car_kmh, config.dense_per_km2, rates)
    # the access indicator's own pair builder: one cost model for access and for siting
    pairs = straight_line_pairs(zones[["rep_x", "rep_y"]].to_numpy(float), sites_xy, speeds, service_time, detour)
    return sparse.csr_matrix((pairs.cost, (pairs.rows, pairs.cols)), shape=(len(zones), len(sites_xy)))


def _zone_results(zones_level: pd.DataFrame, places: pd.DataFrame, *, config: Config,
                  tables: Mapping[str, pd.DataFrame] | None, level: str | None) -> pd.DataFrame:
    """Zone results of the level: one value per territory with the pack's tables, else on the
    level's zones alone (synthetic tables of the tests)."""
    if tables is not None and level is not None:
        return compute_level(tables, level, places, config).zones.reset_index(drop=True)
    return compute_all(zones_level, places, config).zones


def _existing_places(places: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Existing places that :func:`plan` keeps open: the access indicator's supply places.

    One rule for siting and access: ``indicators.supply.select_places`` with
    ``config.digital_help_only`` (``offers_digital_help`` True; unknown is not kept), without the
    service / time-slot filters, minus the places whose capacity S_j is 0 (closed every day: they
    help nobody).
    """
    kept, _ = select_places(places, None, None, digital_help_only=config.digital_help_only)
    cap = capacity(kept, config.capacity, load_rates())["capacity"].to_numpy(float)
    return kept[~(cap == 0)]


def _sites_summary(res: models.PlanResult, model: str, p: int, n_sites: int) -> dict:
    """``p_requested`` (the user's p; None for the LSCP), ``n_sites`` and ``stopped_reason``:
    the model's (``"no_gain"``: the next site adds nobody) or ``"too_few_candidates"``."""
    if model == "lscp":
        return {"p_requested": None, "n_sites": n_sites, "stopped_reason": res.stopped_reason}
    reason = res.stopped_reason
    if reason is None and n_sites < p:
        reason = STOP_FEW_CANDIDATES
    return {"p_requested": int(p), "n_sites": n_sites, "stopped_reason": reason}


def plan(
    zones_level: pd.DataFrame,
    in_territory: np.ndarray,
    places: pd.DataFrame,
    config: Config,
    *,
    model: str = "mclp",
    p: int = 3,
    service_time: float = 15.0,
    method: str = "exact",
    candidates: pd.DataFrame | None = None,
    qpv: pd.DataFrame | None = None,
    user_points=None,
    new_site_hours: float = DEFAULT_NEW_SITE["weekly_hours"],
    new_site_staff: float = DEFAULT_NEW_SITE["staff"],
    site_capacity_people: float | None = None,
    time_limit: float = 60.0,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> PlanOutcome:
    """Solve a siting model for the zones of a territory (``in_territory`` mask over ``zones_level``).

    Demand = people in need of the territory's zones (NaN need counts as 0 and is reported).
    Existing reception points within reach are fixed open (the access indicator's supply places
    with a capacity, see :func:`_existing_places`); candidates default to the commune centres and
    QPV points of the territory plus ``user_points`` ([(lon, lat), …]).
    ``site_capacity_people``: people a new site can serve (capacity-aware MCLP only).
    ``p`` is an upper bound: the models return no site that adds nobody, and ``summary`` gives
    ``p_requested``, ``n_sites`` and ``stopped_reason`` ("no_gain", "too_few_candidates" or None).
    ``tables`` (the pack's tables; ``zones_level`` is then one of them): need, access and unmet
    need before and after come from :func:`indicators.levels.compute_level`, so that « avant »
    shows the figures of the other pages; the target T of each zone is the one before the new
    sites, so that U = N × max(0, 1 − A/T) before and after are comparable.
    """
    if model not in models.MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {models.MODELS}")
    zones_level = zones_level.reset_index(drop=True)
    in_territory = np.asarray(in_territory, bool)
    places = places.reset_index(drop=True)
    level = str(zones_level["level"].iloc[0]) if "level" in zones_level.columns and len(zones_level) else None
    results = partial(_zone_results, zones_level, config=config, tables=tables, level=level)
    zones = zones_level[in_territory].reset_index(drop=True)
    before = results(places)[in_territory].reset_index(drop=True)
    need = before["need"].to_numpy(float)
    need = np.where(np.isfinite(need), need, 0.0)

    if candidates is None:
        centre_src = zones
        if "code_commune" in zones:
            # commune centre = demand point of the commune's most populated zone (inside the commune)
            top = zones.sort_values("population", ascending=False).drop_duplicates("code_commune")
            centre_src = top.assign(code=top["code_commune"], name=top["commune_name"])
        q = None
        if qpv is not None and len(qpv):
            codes = set(zones["code_commune"] if "code_commune" in zones else zones["code"])
            q = qpv[qpv["code_commune"].isin(codes)]
        candidates = cand.build_candidates(zones=centre_src, qpv=q, points=user_points, min_spacing_m=150.0)
    if candidates.empty:
        raise ValueError("no candidate site in this territory")

    # existing reception points reachable from the territory (fixed open): the supply places of
    # the access indicator with a capacity
    help_places = _existing_places(places, config)
    pxy = help_places[["x", "y"]].to_numpy(float)
    ok = np.isfinite(pxy).all(axis=1)
    help_places, pxy = help_places[ok], pxy[ok]
    sites_xy = np.vstack([pxy, candidates[["x", "y"]].to_numpy(float)])
    # p-median needs the travel time to the nearest open site, whatever it is: a wide horizon,
    # beyond which a zone is charged PMEDIAN_HORIZON minutes
    horizon = PMEDIAN_HORIZON if model == "pmedian" else service_time
    cost = travel_minutes(zones, sites_xy, config, horizon)
    reach = cost.getnnz(axis=0) > 0  # stored entries include explicit zeros (coincident points)
    keep_existing = np.flatnonzero(reach[: len(pxy)])
    cols = np.concatenate([keep_existing, len(pxy) + np.arange(len(candidates))])
    cost = cost[:, cols]
    fixed = np.zeros(len(cols), bool)
    fixed[: len(keep_existing)] = True
    n_free = len(candidates)

    if model == "mclp":
        res = models.mclp(need, cost, service_time, min(p, n_free), fixed=fixed, method=method, time_limit=time_limit)
    elif model == "pmedian":
        res = models.p_median(need, cost, min(p, n_free), fixed=fixed, service_time=service_time, unreachable_cost=PMEDIAN_HORIZON, method=method, time_limit=time_limit)
    elif model == "lscp":
        res = models.lscp(need, cost, service_time, fixed=fixed, method=method, time_limit=time_limit)
    else:
        # people a site can serve, proportional to its hours × staff: a new site (new_site_hours ×
        # new_site_staff) serves site_capacity_people; existing places by their own capacity S_j
        per_hour = (site_capacity_people or 500.0) / max(new_site_hours * new_site_staff, 1e-9)
        s_exist = capacity(help_places.iloc[keep_existing], config.capacity, load_rates())["capacity"].to_numpy(float)
        cap = np.concatenate([np.nan_to_num(s_exist, nan=0.0) * per_hour, np.full(n_free, (site_capacity_people or 500.0))])
        res = models.mclp_capacity(need, cost, service_time, cap, min(p, n_free), fixed=fixed, method=method, time_limit=time_limit)

    chosen = np.asarray(res.chosen, int) - len(keep_existing)
    sites = candidates.iloc[chosen].reset_index(drop=True).copy()
    sites["rank"] = np.arange(1, len(sites) + 1)
    sites["marginal_gain"] = np.asarray(res.marginal_gains, float)
    sites["newly_covered"] = np.asarray(res.newly_covered, float)

    after_places = pd.concat([places, site_places(sites, new_site_hours, new_site_staff)], ignore_index=True)
    after = results(after_places)[in_territory].reset_index(drop=True)
    after["target"] = before["target"].to_numpy(float)
    after["unmet"] = unmet_need(before["need"].to_numpy(float), after["access"].to_numpy(float), after["target"].to_numpy(float))
    summary = res.summary()
    summary.update(_sites_summary(res, model, p, len(sites)))
    summary.update(
        {
            "unmet_need_before": float(np.nansum(before["unmet"])),
            "unmet_need_after": float(np.nansum(after["unmet"])),
            "access_before": float(np.nansum(before["access"] * need) / max(need.sum(), 1e-12)),
            "access_after": float(np.nansum(after["access"] * need) / max(need.sum(), 1e-12)),
        }
    )
    return PlanOutcome(res, sites, before, after, len(candidates), len(keep_existing), summary)
