"""Spatial access: 2SFCA / E2SFCA with distance decay — METHOD.md §4 (Luo & Wang 2003; Luo & Qi 2009).

With N_i the people in need of zone i, S_j the capacity of place j, d_ij the travel cost (minutes)
*from zone i to place j* and W the decay (0 beyond the catchment d0):

    step 1, each place j:  D_j = Σ_i W(d_ij) · N_i ,   R_j = S_j / D_j
    step 2, each zone i:   A_i = Σ_j W(d_ij) · R_j     (hours of support per person in need per week)

A place whose catchment holds no demand (D_j = 0) has an undefined R_j: it is excluded and reported
(``excluded_places``). A zone with no place in its catchment gets A_i = 0 (flag ``no_place``).
Both steps use the same zone → place cost, so an asymmetric matrix is never transposed (PySAL
access issues #18 / #26). Conventions match PySAL ``access`` 1.1: a step function gives weight w_k
to d ≤ t_k (thresholds inclusive) and 0 beyond the last one; pairs are kept when d ≤ max_cost;
2SFCA = weight 1 within the catchment; Gaussian W = exp(−d² / 2σ²); gravity W = (max(d, d_min)/s)^α.

Travel cost: straight-line Lambert-93 distance × detour ÷ speed, with a speed per zone (walking in
dense zones, car elsewhere: :func:`zone_speeds`), or a supplied zone × place cost matrix (dense array,
scipy sparse matrix whose *stored* entries are the costs, or a long DataFrame). Only pairs within the
catchment are computed (scipy cKDTree) and the two steps are sparse matrix products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial import cKDTree

from .need import load_rates

# ----------------------------------------------------------------------------------------------
# Decay functions
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepDecay:
    """W(d) = weights[k] for the first threshold with d ≤ thresholds[k]; 0 beyond the last."""

    thresholds: tuple[float, ...]
    weights: tuple[float, ...]
    name: str = "step"

    def __post_init__(self) -> None:
        if len(self.thresholds) != len(self.weights) or not self.thresholds:
            raise ValueError("step decay needs as many weights as thresholds (at least one)")
        if any(b <= a for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValueError(f"step thresholds must increase strictly, got {self.thresholds}")
        if any(w < 0 for w in self.weights):
            raise ValueError(f"step weights must be ≥ 0, got {self.weights}")

    @property
    def max_cost(self) -> float:
        return float(self.thresholds[-1])

    def __call__(self, d: np.ndarray) -> np.ndarray:
        th = np.asarray(self.thresholds, dtype=float)
        w = np.append(np.asarray(self.weights, dtype=float), 0.0)
        return w[np.searchsorted(th, np.asarray(d, dtype=float), side="left")]


@dataclass(frozen=True)
class GaussianDecay:
    """W(d) = exp(−d² / (2σ²)) for d ≤ max_cost, else 0."""

    sigma: float
    max_cost: float
    name: str = "gaussian"

    def __call__(self, d: np.ndarray) -> np.ndarray:
        d = np.asarray(d, dtype=float)
        return np.where(d <= self.max_cost, np.exp(-d * d / (2.0 * self.sigma**2)), 0.0)


@dataclass(frozen=True)
class GravityDecay:
    """W(d) = (max(d, min_cost) / scale)^alpha for d ≤ max_cost, else 0 (alpha < 0 for decay)."""

    scale: float
    alpha: float
    max_cost: float
    min_cost: float = 0.0
    name: str = "gravity"

    def __call__(self, d: np.ndarray) -> np.ndarray:
        d = np.asarray(d, dtype=float)
        with np.errstate(divide="ignore"):
            w = np.power(np.maximum(d, self.min_cost) / self.scale, self.alpha)
        return np.where(d <= self.max_cost, w, 0.0)


#: Step presets (minutes → weight).
STEP_PRESETS = {
    # DREES APL (GPs): 0–10 min → 1, 10–15 → 2/3, 15–20 → 1/3.
    "apl": ((10.0, 15.0, 20.0), (1.0, 2.0 / 3.0, 1.0 / 3.0)),
    # PySAL access default E2SFCA weights (Luo & Qi 2009): 10 → 1, 20 → 0.68, 30 → 0.22.
    "pysal": ((10.0, 20.0, 30.0), (1.0, 0.68, 0.22)),
    # 30 minutes, full weight: the France Services access target (everyone within 30 min).
    "step30": ((30.0,), (1.0,)),
}


def make_decay(name: str, max_cost: float | None = None, sigma: float = 10.0, scale: float = 1.0,
               alpha: float = -1.0, min_cost: float = 1.0):
    """Decay by preset name (apl | pysal | step30 | gaussian | gravity).

    For a step preset, ``max_cost`` (if given) truncates it (weights beyond are 0); for gaussian and
    gravity, ``max_cost`` is the catchment (default 30 minutes).
    """
    if name in STEP_PRESETS:
        th, w = STEP_PRESETS[name]
        if max_cost is not None:
            keep = [i for i, t in enumerate(th) if t <= max_cost]
            if not keep:
                raise ValueError(f"max_cost {max_cost} is below the first threshold {th[0]} of preset {name!r}")
            th, w = tuple(th[i] for i in keep), tuple(w[i] for i in keep)
        return StepDecay(th, w, name)
    mc = 30.0 if max_cost is None else float(max_cost)
    if name == "gaussian":
        return GaussianDecay(float(sigma), mc)
    if name == "gravity":
        return GravityDecay(float(scale), float(alpha), mc, float(min_cost))
    raise ValueError(f"unknown decay {name!r}; expected one of {sorted(STEP_PRESETS) + ['gaussian', 'gravity']}")


def binary_decay(max_cost: float) -> StepDecay:
    """Plain 2SFCA: weight 1 for d ≤ max_cost."""
    return StepDecay((float(max_cost),), (1.0,), "binary")


# ----------------------------------------------------------------------------------------------
# Cost pairs
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pairs:
    """Zone → place travel costs for the pairs inside the catchment (row = zone, col = place)."""

    rows: np.ndarray
    cols: np.ndarray
    cost: np.ndarray
    n_zones: int
    n_places: int

    def __len__(self) -> int:
        return int(self.rows.size)


def _check_costs(cost: np.ndarray, what: str) -> None:
    if np.isnan(cost).any():
        raise ValueError(f"{what} contains NaN travel costs ({int(np.isnan(cost).sum())}); expected "
                         "finite costs in minutes (np.inf or an absent entry for 'unreachable')")
    if (cost < 0).any():
        raise ValueError(f"{what} contains negative travel costs ({int((cost < 0).sum())}); expected costs ≥ 0")


def pairs_from_matrix(cost, max_cost: float) -> Pairs:
    """Pairs from a zone × place cost matrix: dense array (np.inf = unreachable) or scipy sparse
    (stored entries are costs, explicit zeros included; absent entries = unreachable)."""
    if sparse.issparse(cost):
        coo = sparse.coo_array(cost)
        data = np.asarray(coo.data, dtype=float)
        _check_costs(data, "cost matrix")
        keep = data <= max_cost
        return Pairs(coo.row[keep].astype(np.intp), coo.col[keep].astype(np.intp), data[keep], *coo.shape)
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cost matrix must be 2-D (zones × places), got shape {c.shape}")
    _check_costs(c, "cost matrix")
    r, k = np.nonzero(c <= max_cost)
    return Pairs(r.astype(np.intp), k.astype(np.intp), c[r, k], *c.shape)


def pairs_from_frame(df: pd.DataFrame, zone_ids, place_ids, max_cost: float, origin: str = "origin",
                     dest: str = "dest", cost: str = "cost") -> Pairs:
    """Pairs from a long table (origin = zone id, dest = place id, cost in minutes)."""
    for c in (origin, dest, cost):
        if c not in df.columns:
            raise ValueError(f"cost table has no column {c!r}; expected columns {origin!r}, {dest!r}, {cost!r}")
    zi = pd.Index(zone_ids).get_indexer(df[origin])
    pj = pd.Index(place_ids).get_indexer(df[dest])
    if (zi < 0).any() or (pj < 0).any():
        bad = list(df[origin][zi < 0].unique()[:3]) + list(df[dest][pj < 0].unique()[:3])
        raise ValueError(f"cost table refers to unknown zone or place ids, e.g. {bad}")
    c = pd.to_numeric(df[cost], errors="coerce").to_numpy(float, na_value=np.nan)
    _check_costs(c, "cost table")
    if pd.MultiIndex.from_arrays([zi, pj]).has_duplicates:
        raise ValueError("cost table has duplicated (origin, dest) pairs; expected one cost per pair")
    keep = c <= max_cost
    return Pairs(zi[keep].astype(np.intp), pj[keep].astype(np.intp), c[keep], len(zone_ids), len(place_ids))


def _xy(a, what: str) -> np.ndarray:
    xy = np.asarray(a, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"{what} coordinates must be an (n, 2) array of Lambert-93 x, y, got shape {xy.shape}")
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        raise ValueError(f"{what} coordinates missing for {int(bad.sum())} rows (first rows {np.flatnonzero(bad)[:5].tolist()}); "
                         "expected finite Lambert-93 x, y for every row (drop or flag them first)")
    return xy


def straight_line_pairs(zone_xy, place_xy, speed_kmh, max_cost: float, detour: float = 1.3) -> Pairs:
    """Pairs within ``max_cost`` minutes: cost_ij = ‖x_i − y_j‖ × detour / speed_i (Lambert-93 m).

    ``speed_kmh`` is one value or one per zone. Only pairs within each zone's radius
    r_i = max_cost × speed_i / detour are computed (cKDTree.sparse_distance_matrix, per speed).
    """
    zxy = _xy(zone_xy, "zone")
    pxy = _xy(place_xy, "place")
    n_z, n_p = len(zxy), len(pxy)
    speed = np.broadcast_to(np.asarray(speed_kmh, dtype=float), (n_z,))
    if not (np.isfinite(speed).all() and (speed > 0).all()):
        raise ValueError("speeds must be positive km/h for every zone")
    if not detour > 0:
        raise ValueError(f"detour factor must be > 0, got {detour}")
    m_per_min = speed * 1000.0 / 60.0
    if n_z == 0 or n_p == 0:
        e = np.zeros(0, dtype=np.intp)
        return Pairs(e, e, np.zeros(0), n_z, n_p)
    ptree = cKDTree(pxy)
    rows, cols, costs = [], [], []
    for v in np.unique(m_per_min):
        zi = np.flatnonzero(m_per_min == v)
        radius = max_cost * v / detour
        ztree = cKDTree(zxy[zi])
        sdm = ztree.sparse_distance_matrix(ptree, radius * (1 + 1e-9), output_type="ndarray")
        c = sdm["v"] * detour / v
        keep = c <= max_cost
        rows.append(zi[sdm["i"][keep]])
        cols.append(sdm["j"][keep].astype(np.intp))
        costs.append(c[keep])
    return Pairs(np.concatenate(rows).astype(np.intp), np.concatenate(cols), np.concatenate(costs), n_z, n_p)


# ----------------------------------------------------------------------------------------------
# Floating catchment
# ----------------------------------------------------------------------------------------------


@dataclass
class AccessResult:
    """A_i per zone, R_j per place (NaN = excluded), weighted demand D_j, and what was set aside."""

    access: np.ndarray
    ratio: np.ndarray
    weighted_demand: np.ndarray
    excluded_places: np.ndarray  # indices of places with no demand in their catchment
    no_place: np.ndarray  # bool per zone: no place with W > 0 in its catchment
    demand_missing: np.ndarray  # bool per zone: N was NaN and counted as 0 (on_missing="flag")
    n_pairs: int


def floating_catchment(demand, supply, pairs: Pairs, decay, on_missing: str = "raise") -> AccessResult:
    """2SFCA / E2SFCA on sparse pairs (see module doc). ``decay`` is a callable with ``max_cost``.

    ``demand`` N_i ≥ 0 (0 allowed); NaN raises ValueError, or with ``on_missing="flag"`` counts as 0
    in step 1 and is flagged. ``supply`` S_j must be finite and ≥ 0.
    """
    N = np.asarray(demand, dtype=float).copy()
    S = np.asarray(supply, dtype=float)
    if N.shape != (pairs.n_zones,) or S.shape != (pairs.n_places,):
        raise ValueError(f"demand/supply sizes {N.shape}/{S.shape} do not match the cost pairs "
                         f"({pairs.n_zones} zones × {pairs.n_places} places)")
    missing = np.isnan(N)
    if missing.any():
        if on_missing != "flag":
            raise ValueError(f"{int(missing.sum())} zones have no demand value (NaN); expected people in need ≥ 0 "
                             "(0 is allowed), or pass on_missing='flag'")
        N[missing] = 0.0
    if (N < 0).any() or np.isinf(N).any():
        raise ValueError("demand must be finite and ≥ 0 for every zone")
    if not np.isfinite(S).all() or (S < 0).any():
        raise ValueError("supply (capacity) must be finite and ≥ 0 for every place")
    w = decay(pairs.cost)
    w = np.where(pairs.cost <= decay.max_cost, w, 0.0)
    keep = w > 0
    W = sparse.csr_array((w[keep], (pairs.rows[keep], pairs.cols[keep])), shape=(pairs.n_zones, pairs.n_places))
    D = W.T @ N
    R = np.full(pairs.n_places, np.nan)
    ok = D > 0
    R[ok] = S[ok] / D[ok]
    A = W @ np.where(ok, R, 0.0)
    reach = np.zeros(pairs.n_zones, dtype=bool)
    reach[pairs.rows[keep]] = True
    return AccessResult(A, R, D, np.flatnonzero(~ok), ~reach, missing, len(pairs))


def fca(demand, supply, pairs: Pairs, method: str = "e2sfca", decay=None, max_cost: float | None = None,
        on_missing: str = "raise") -> AccessResult:
    """2SFCA (``method="2sfca"``: weight 1 within ``max_cost``) or E2SFCA (``decay``, default PySAL steps)."""
    if method == "2sfca":
        if max_cost is None:
            if decay is None:
                raise ValueError("2SFCA needs max_cost (the catchment, in minutes)")
            max_cost = decay.max_cost
        return floating_catchment(demand, supply, pairs, binary_decay(max_cost), on_missing)
    if method == "e2sfca":
        d = decay if decay is not None else make_decay("pysal", max_cost)
        return floating_catchment(demand, supply, pairs, d, on_missing)
    raise ValueError(f"unknown method {method!r}; expected 'e2sfca' or '2sfca'")


# ----------------------------------------------------------------------------------------------
# Travel modes, nearest place
# ----------------------------------------------------------------------------------------------


def zone_speeds(zones: pd.DataFrame, mode: str = "auto", walk_kmh: float | None = None,
                car_kmh: float | None = None, dense_per_km2: float | None = None,
                rates: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Speed (km/h) and mode ("walk"/"car") per zone. ``auto``: walk where population / area_km2 ≥
    ``dense_per_km2`` and the zone is small enough to be walked from its demand point (area ≤
    [travel] walk_max_area_km2: a whole city kept as one zone, such as Lyon without its IRIS,
    drives), car elsewhere (and where density is unknown). Defaults: rates.toml [travel]."""
    t = (rates or load_rates())["travel"]
    walk = float(walk_kmh or t["walk_kmh"])
    car = float(car_kmh or t["car_kmh"])
    thr = float(dense_per_km2 or t["dense_per_km2"])
    n = len(zones)
    if mode == "car":
        walking = np.zeros(n, dtype=bool)
    elif mode == "walk":
        walking = np.ones(n, dtype=bool)
    elif mode == "auto":
        pop = pd.to_numeric(zones.get("population", pd.Series(np.nan, index=zones.index)), errors="coerce").to_numpy(float, na_value=np.nan)
        area = pd.to_numeric(zones.get("area_km2", pd.Series(np.nan, index=zones.index)), errors="coerce").to_numpy(float, na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            dens = np.where(area > 0, pop / area, np.nan)
        walking = np.isfinite(dens) & (dens >= thr) & (area <= float(t.get("walk_max_area_km2", np.inf)))
    else:
        raise ValueError(f"unknown travel mode {mode!r}; expected 'auto', 'car' or 'walk'")
    return np.where(walking, walk, car), np.where(walking, "walk", "car").astype(object)


def nearest_place(zone_xy, place_xy, speed_kmh, detour: float = 1.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest place per zone: (index, straight-line distance m, time min = distance × detour / speed).

    With no place, index −1 and NaN distance/time.
    """
    zxy = _xy(zone_xy, "zone")
    n = len(zxy)
    if len(place_xy) == 0:
        return np.full(n, -1), np.full(n, np.nan), np.full(n, np.nan)
    pxy = _xy(place_xy, "place")
    dist, idx = cKDTree(pxy).query(zxy, k=1)
    speed = np.broadcast_to(np.asarray(speed_kmh, dtype=float), (n,))
    return idx.astype(np.intp), dist, dist * detour / (speed * 1000.0 / 60.0)


def estimated_share(pairs: Pairs, decay, demand, demand_estimated, supply_estimated, result: AccessResult) -> np.ndarray:
    """Share (0–1) of each zone's access A_i that rests on estimated inputs.

    A place's ratio R_j is estimated in the share d_j = max(s_j, Σ_i W_ij N_i e_i / D_j), with s_j
    = 1 where its capacity used a default (flag) and e_i the estimated share of zone i's need; then
    share_i = Σ_j W_ij R_j d_j / A_i (0 where A_i = 0 or undefined).
    """
    N = np.nan_to_num(np.asarray(demand, dtype=float))
    e = np.clip(np.nan_to_num(np.asarray(demand_estimated, dtype=float)), 0.0, 1.0)
    w = decay(pairs.cost)
    w = np.where(pairs.cost <= decay.max_cost, w, 0.0)
    keep = w > 0
    W = sparse.csr_array((w[keep], (pairs.rows[keep], pairs.cols[keep])), shape=(pairs.n_zones, pairs.n_places))
    D = result.weighted_demand
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.maximum(np.asarray(supply_estimated, dtype=float), np.where(D > 0, (W.T @ (N * e)) / D, 0.0))
        part = W @ np.where(np.isfinite(result.ratio), result.ratio * d, 0.0)
        return np.where(result.access > 0, np.clip(part / result.access, 0.0, 1.0), 0.0)


def nearest_from_pairs(pairs: Pairs) -> tuple[np.ndarray, np.ndarray]:
    """Nearest place per zone from cost pairs (within the catchment only): (index or −1, cost or NaN)."""
    best = np.full(pairs.n_zones, np.inf)
    np.minimum.at(best, pairs.rows, pairs.cost)
    idx = np.full(pairs.n_zones, -1, dtype=np.intp)
    if len(pairs):
        hit = pairs.cost == best[pairs.rows]
        idx[pairs.rows[hit]] = pairs.cols[hit]
    return idx, np.where(np.isfinite(best), best, np.nan)


__all__ = [
    "StepDecay", "GaussianDecay", "GravityDecay", "STEP_PRESETS", "make_decay", "binary_decay",
    "Pairs", "pairs_from_matrix", "pairs_from_frame", "straight_line_pairs", "AccessResult",
    "floating_catchment", "fca", "zone_speeds", "nearest_place", "nearest_from_pairs", "estimated_share",
]
