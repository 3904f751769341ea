"""Candidate sites for the location models, and straight-line travel times to them.

A candidate is a point where a new reception point could open. Four sources:

- **places** that exist but are not reception points (``offers_digital_help`` is False): by
  default CCAS, médiathèques, centres sociaux, mairies and France Services without digital help;
- **commune centres**: the zone demand point (``rep_x``, ``rep_y``) of each commune;
- **QPV points**: one point per commune with a QPV (the pack only has commune centroids, not QPV
  perimeters);
- **points clicked** by the user, in WGS84 longitude / latitude, projected to Lambert-93.

Every builder returns a DataFrame with the columns of :data:`CANDIDATE_COLUMNS`:
``candidate_id`` (stable: ``place:<place_id>``, ``commune:<code>``, ``qpv:<code_commune>``,
``point:<lon>,<lat>``), ``kind``, ``name``, ``x``, ``y`` (Lambert-93 m), ``lon``, ``lat`` (WGS84),
``code_commune`` (str, or NA when unknown).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import sparse
from scipy.spatial import cKDTree

__all__ = [
    "CANDIDATE_COLUMNS",
    "CANDIDATE_PLACE_TYPES",
    "KINDS",
    "to_lambert93",
    "to_wgs84",
    "from_places",
    "from_zone_centres",
    "from_qpv",
    "from_points",
    "build_candidates",
    "straight_line_minutes",
]

CANDIDATE_COLUMNS = ["candidate_id", "kind", "name", "x", "y", "lon", "lat", "code_commune"]
#: Place types that can host a new reception point when they do not offer digital help yet.
CANDIDATE_PLACE_TYPES = ("ccas", "mediatheque", "centre_social", "mairie", "france_services")
KINDS = ("place", "commune_centre", "qpv", "point")

# Area of use of EPSG:2154 (metropolitan France), WGS84 degrees.
_L93_LON = (-9.86, 10.38)
_L93_LAT = (41.15, 51.56)

_TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
_TO_WGS = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def to_lambert93(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (degrees) -> Lambert-93 x/y (metres)."""
    x, y = _TO_L93.transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x, float), np.asarray(y, float)


def to_wgs84(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Lambert-93 x/y (metres) -> WGS84 lon/lat (degrees)."""
    lon, lat = _TO_WGS.transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon, float), np.asarray(lat, float)


def _require(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} table lacks column(s) {missing}; expected at least {list(columns)}")


def _frame(ids, kind, names, x, y, codes, lon=None, lat=None) -> pd.DataFrame:
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if lon is None or lat is None:
        lon, lat = to_wgs84(x, y) if len(x) else (np.zeros(0), np.zeros(0))
    out = pd.DataFrame({
        "candidate_id": pd.array(list(ids), dtype="string"),
        "kind": pd.array([kind] * len(x), dtype="string"),
        "name": pd.array(list(names), dtype="string"),
        "x": x, "y": y,
        "lon": np.asarray(lon, float), "lat": np.asarray(lat, float),
        "code_commune": pd.array(list(codes), dtype="string"),
    })
    return out[CANDIDATE_COLUMNS]


def _empty() -> pd.DataFrame:
    return _frame([], "place", [], [], [], [], [], [])


def _xy(df: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Lambert-93 coordinates from x/y columns, else from the geometry (projected if needed)."""
    if {"x", "y"} <= set(df.columns):
        return df["x"].to_numpy(float), df["y"].to_numpy(float)
    geom = getattr(df, "geometry", None) if "geometry" in df.columns else None
    if geom is not None and hasattr(geom, "to_crs"):
        if geom.crs is None:
            raise ValueError(f"{what} geometry has no CRS; expected Lambert-93 or WGS84 points")
        g = geom.to_crs(2154)
        pts = g if (g.geom_type == "Point").all() else g.representative_point()
        return pts.x.to_numpy(float), pts.y.to_numpy(float)
    if {"lon", "lat"} <= set(df.columns):
        return to_lambert93(df["lon"].to_numpy(float), df["lat"].to_numpy(float))
    raise ValueError(f"{what} table needs x/y (Lambert-93), lon/lat or a point geometry")


def _codes(series: pd.Series) -> list:
    return [pd.NA if pd.isna(v) else str(v) for v in series]


def from_places(places: pd.DataFrame, types: Iterable[str] = CANDIDATE_PLACE_TYPES) -> pd.DataFrame:
    """Places that could host a new point: ``offers_digital_help`` False and ``type`` in ``types``.

    A place whose ``offers_digital_help`` is missing (NA) is not taken (unknown status).
    """
    _require(places, ["place_id", "name", "type", "offers_digital_help"], "places")
    help_ = places["offers_digital_help"].astype("boolean")
    keep = (help_ == False).fillna(False).to_numpy(bool)  # noqa: E712 (NA-aware comparison)
    keep &= places["type"].isin(list(types)).to_numpy(bool)
    sel = places[keep]
    if sel.empty:
        return _empty()
    x, y = _xy(sel, "places")
    has_ll = {"lon", "lat"} <= set(sel.columns)
    codes = _codes(sel["code_commune"]) if "code_commune" in sel.columns else [pd.NA] * len(sel)
    return _frame(("place:" + sel["place_id"].astype(str)).tolist(), "place",
                  sel["name"].astype(str).tolist(), x, y, codes,
                  sel["lon"].to_numpy(float) if has_ll else None,
                  sel["lat"].to_numpy(float) if has_ll else None)


def from_zone_centres(zones: pd.DataFrame) -> pd.DataFrame:
    """One candidate per zone at its demand point (``rep_x``, ``rep_y``): commune centres.

    ``code_commune`` is the zone ``code`` for communes (``level`` == ``commune`` or no
    ``code_commune`` column), else the zone's ``code_commune``.
    """
    _require(zones, ["code", "name", "rep_x", "rep_y"], "zones")
    if zones.empty:
        return _empty()
    if "code_commune" in zones.columns:
        codes = _codes(zones["code_commune"])
    else:
        codes = _codes(zones["code"])
    x = zones["rep_x"].to_numpy(float)
    y = zones["rep_y"].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.all():
        bad = zones["code"].astype(str)[~ok].tolist()[:5]
        raise ValueError(f"zones without a demand point (rep_x/rep_y NaN): {bad}")
    has_ll = {"lon", "lat"} <= set(zones.columns)
    return _frame(("commune:" + zones["code"].astype(str)).tolist(), "commune_centre",
                  zones["name"].astype(str).tolist(), x, y, codes,
                  zones["lon"].to_numpy(float) if has_ll else None,
                  zones["lat"].to_numpy(float) if has_ll else None)


def from_qpv(qpv: pd.DataFrame) -> pd.DataFrame:
    """One candidate per commune with a QPV (the point is the commune centroid of the QPV list).

    Accepts the raw ANCT list (``insee_com``, ``lib_com``, ``code_qp``, ``lib_qp``, WGS84 points)
    or the pack's ``qpv`` table (``code_commune`` plus x/y, lon/lat or a geometry).
    """
    code_col = next((c for c in ("code_commune", "insee_com") if c in qpv.columns), None)
    if code_col is None:
        raise ValueError("QPV table lacks a commune code column; expected code_commune or insee_com")
    if qpv.empty:
        return _empty()
    x, y = _xy(qpv, "QPV")
    codes = _codes(qpv[code_col])
    if any(c is pd.NA for c in codes):
        raise ValueError("QPV table has rows without a commune code")
    codes = [c.zfill(5) if c.isdigit() else c for c in codes]
    name_col = next((c for c in ("lib_qp", "qpv_names", "name") if c in qpv.columns), None)
    com_col = next((c for c in ("lib_com", "commune_name") if c in qpv.columns), None)
    names = []
    for k in range(len(qpv)):
        label = str(qpv[name_col].iloc[k]) if name_col else ""
        where = str(qpv[com_col].iloc[k]) if com_col else codes[k]
        names.append(f"QPV {where}: {label}" if label else f"QPV {where}")
    return _frame([f"qpv:{c}" for c in codes], "qpv", names, x, y, codes)


def from_points(points, names: Sequence[str] | None = None, communes=None) -> pd.DataFrame:
    """Candidates at user-clicked WGS84 points ``[(lon, lat), …]`` (or a DataFrame lon/lat).

    Points outside the area of use of Lambert-93 (metropolitan France) are rejected.
    ``communes`` (optional GeoDataFrame of commune polygons with a ``code`` column) gives each
    point its ``code_commune`` by a point-in-polygon join.
    """
    if isinstance(points, pd.DataFrame):
        _require(points, ["lon", "lat"], "points")
        lon = points["lon"].to_numpy(float)
        lat = points["lat"].to_numpy(float)
    else:
        arr = np.asarray(list(points), dtype=float)
        if arr.size == 0:
            return _empty()
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"points must be (lon, lat) pairs, got shape {arr.shape}")
        lon, lat = arr[:, 0], arr[:, 1]
    if len(lon) == 0:
        return _empty()
    bad = ~(np.isfinite(lon) & np.isfinite(lat)
            & (lon >= _L93_LON[0]) & (lon <= _L93_LON[1])
            & (lat >= _L93_LAT[0]) & (lat <= _L93_LAT[1]))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"point {k} ({lon[k]}, {lat[k]}) is not a WGS84 lon/lat in metropolitan "
                         f"France (lon {_L93_LON}, lat {_L93_LAT}); expected (longitude, latitude)")
    if names is not None and len(names) != len(lon):
        raise ValueError(f"{len(names)} names given for {len(lon)} points")
    x, y = to_lambert93(lon, lat)
    codes: list = [pd.NA] * len(lon)
    if communes is not None:
        import geopandas as gpd

        _require(communes, ["code", "geometry"], "communes")
        pts = gpd.GeoDataFrame({"k": np.arange(len(x))}, geometry=gpd.points_from_xy(x, y), crs=2154)
        polys = communes[["code", "geometry"]].to_crs(2154)
        joined = gpd.sjoin(pts, polys, how="left", predicate="within").drop_duplicates("k")
        codes = _codes(joined.sort_values("k")["code"])
    ids = [f"point:{a:.5f},{b:.5f}" for a, b in zip(lon, lat, strict=True)]
    labels = list(names) if names is not None else [f"Point {a:.4f}, {b:.4f}" for a, b in zip(lon, lat, strict=True)]
    return _frame(ids, "point", labels, x, y, codes, lon, lat)


def build_candidates(places: pd.DataFrame | None = None, zones: pd.DataFrame | None = None,
                     qpv: pd.DataFrame | None = None, points=None, *,
                     place_types: Iterable[str] = CANDIDATE_PLACE_TYPES, communes=None,
                     point_names: Sequence[str] | None = None,
                     min_spacing_m: float = 0.0) -> pd.DataFrame:
    """All candidates: user points first, then places, commune centres and QPV points.

    Duplicate ``candidate_id`` keep the first. With ``min_spacing_m`` > 0, a candidate closer than
    that to one already kept is dropped (so a commune centre next to a mairie is not a second
    candidate).
    """
    parts = []
    if points is not None:
        parts.append(from_points(points, point_names, communes))
    if places is not None:
        parts.append(from_places(places, place_types))
    if zones is not None:
        parts.append(from_zone_centres(zones))
    if qpv is not None:
        parts.append(from_qpv(qpv))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    out = out.drop_duplicates("candidate_id", keep="first").reset_index(drop=True)
    if min_spacing_m and min_spacing_m > 0 and len(out) > 1:
        xy = out[["x", "y"]].to_numpy(float)
        tree = cKDTree(xy)
        dropped = np.zeros(len(out), bool)
        for k in range(len(out)):
            if dropped[k]:
                continue
            for nb in tree.query_ball_point(xy[k], r=min_spacing_m):
                if nb > k:
                    dropped[nb] = True
        out = out[~dropped].reset_index(drop=True)
    return out


def straight_line_minutes(origins_xy, sites_xy, *, speed_kmh: float, detour: float = 1.3,
                          max_minutes: float | None = None):
    """Travel minutes = straight-line distance (Lambert-93 m) × ``detour`` ÷ ``speed_kmh``.

    Without ``max_minutes``: a dense (n_origins × n_sites) array. With it: a CSR matrix holding
    only the pairs within ``max_minutes`` (explicit zeros kept for coincident points), the sparse
    format the location models take.
    """
    o = np.asarray(origins_xy, float).reshape(-1, 2)
    s = np.asarray(sites_xy, float).reshape(-1, 2)
    if not (np.isfinite(o).all() and np.isfinite(s).all()):
        raise ValueError("coordinates must be finite Lambert-93 metres")
    if not (speed_kmh > 0 and detour >= 1):
        raise ValueError(f"expected speed_kmh > 0 and detour ≥ 1, got {speed_kmh}, {detour}")
    per_m = detour / (speed_kmh * 1000.0 / 60.0)  # minutes per straight-line metre
    if max_minutes is None:
        from scipy.spatial.distance import cdist

        return cdist(o, s) * per_m
    if not (max_minutes > 0 and math.isfinite(max_minutes)):
        raise ValueError(f"max_minutes must be finite and > 0, got {max_minutes}")
    pairs = cKDTree(o).sparse_distance_matrix(cKDTree(s), max_minutes / per_m, output_type="ndarray")
    mat = sparse.csr_matrix((pairs["v"] * per_m, (pairs["i"], pairs["j"])), shape=(len(o), len(s)))
    mat.sort_indices()
    return mat
