"""Access (2SFCA / E2SFCA): hand cases, equality with PySAL `access`, bad inputs, real Isère data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from indicators import Config, compute_all
from indicators import access as acc

access_pkg = pytest.importorskip("access")
from access import Access, weights  # noqa: E402

logging.getLogger("access").setLevel(logging.WARNING)
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"


def pysal_fca(N, S, pairs: acc.Pairs, method="e2sfca", weight_fn=None, max_cost=None) -> np.ndarray:
    """PySAL access on the same inputs: one cost row per pair (origin = zone, dest = place)."""
    dem = pd.DataFrame({"geoid": np.arange(pairs.n_zones), "pop": np.asarray(N, float)})
    sup = pd.DataFrame({"geoid": np.arange(pairs.n_places), "cap": np.asarray(S, float)})
    cost = pd.DataFrame({"origin": pairs.rows, "dest": pairs.cols, "cost": pairs.cost})
    a = Access(demand_df=dem, demand_index="geoid", demand_value="pop", supply_df=sup, supply_index="geoid",
               supply_value="cap", cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost")
    if method == "2sfca":
        r = a.two_stage_fca(name="x", max_cost=max_cost)
    else:
        r = a.enhanced_two_stage_fca(name="x", max_cost=max_cost, weight_fn=weight_fn)
    return r["x_cap"].reindex(range(pairs.n_zones)).to_numpy(float)


def random_case(nz=400, npl=90, seed=1):
    rng = np.random.default_rng(seed)
    zxy = rng.uniform(0, 60_000, (nz, 2))
    pxy = rng.uniform(0, 60_000, (npl, 2))
    N = rng.integers(1, 5000, nz).astype(float)
    S = rng.uniform(5, 80, npl)
    speed = np.where(rng.random(nz) < 0.3, 4.5, 50.0)
    return zxy, pxy, N, S, speed


# -- decay functions ----------------------------------------------------------------------------

def test_step_presets_match_pysal_step_fn_at_and_around_thresholds():
    grid = np.array([0, 5, 9.999, 10, 10.0001, 15, 19.99, 20, 20.5, 29.9, 30, 30.0001, 45])
    for name, (th, w) in acc.STEP_PRESETS.items():
        ours = acc.make_decay(name)(grid)
        ref = np.array([weights.step_fn(dict(zip(th, w, strict=False)))(v) for v in grid], dtype=float)
        np.testing.assert_array_equal(ours, ref, err_msg=name)
    apl = acc.make_decay("apl")
    assert apl(np.array([10.0]))[0] == 1.0 and apl(np.array([15.0]))[0] == pytest.approx(2 / 3)
    assert apl(np.array([20.0]))[0] == pytest.approx(1 / 3) and apl(np.array([20.01]))[0] == 0.0
    pys = acc.make_decay("pysal")
    np.testing.assert_array_equal(pys(np.array([10, 20, 30, 31.0])), [1.0, 0.68, 0.22, 0.0])


def test_gaussian_and_gravity_match_pysal_weights():
    d = np.array([0.0, 0.5, 1, 7.5, 20, 29.99])
    g = acc.make_decay("gaussian", max_cost=30, sigma=12)
    np.testing.assert_allclose(g(d), [weights.gaussian(12)(v) for v in d], rtol=0, atol=1e-15)
    gr = acc.make_decay("gravity", max_cost=30, scale=5, alpha=-1.5, min_cost=1)
    np.testing.assert_allclose(gr(d), [weights.gravity(5, -1.5, 1)(v) for v in d], rtol=1e-15)
    assert g(np.array([30.5]))[0] == 0.0 and gr(np.array([31.0]))[0] == 0.0


# -- hand-checkable cases -----------------------------------------------------------------------

def test_two_zones_one_place_by_hand():
    # zone 0 at 5 min (weight 1), zone 1 at 15 min (weight 0.68) of the place; S = 20 h/week.
    pairs = acc.pairs_from_matrix(np.array([[5.0], [15.0]]), 30)
    r = acc.fca([100.0, 300.0], [20.0], pairs, "e2sfca", acc.make_decay("pysal"))
    D = 100 * 1 + 300 * 0.68  # 304
    assert r.weighted_demand[0] == pytest.approx(D)
    assert r.ratio[0] == pytest.approx(20 / 304)
    np.testing.assert_allclose(r.access, [20 / 304, 0.68 * 20 / 304], rtol=1e-14)
    # 2SFCA with a 10-minute catchment: only zone 0 is served, zone 1 gets 0 and is flagged.
    r2 = acc.fca([100.0, 300.0], [20.0], acc.pairs_from_matrix(np.array([[5.0], [15.0]]), 10), "2sfca", max_cost=10)
    np.testing.assert_allclose(r2.access, [0.2, 0.0])
    assert r2.no_place.tolist() == [False, True]


def test_unbounded_catchment_gives_total_supply_over_total_demand():
    zxy, pxy, N, S, _ = random_case(60, 15, seed=3)
    dist = np.linalg.norm(zxy[:, None, :] - pxy[None, :, :], axis=2) / 1000
    pairs = acc.pairs_from_matrix(dist, 1e9)
    r = acc.fca(N, S, pairs, "2sfca", max_cost=1e9)
    np.testing.assert_allclose(r.access, S.sum() / N.sum(), rtol=1e-12)
    # the supply is fully distributed: Σ_i N_i A_i = Σ_j S_j
    assert (N * r.access).sum() == pytest.approx(S.sum(), rel=1e-12)


def test_pysal_issue_18_asymmetric_example_by_hand():
    # the 3-location example of pysal/access #18: pop (100, 50, 10), doctors (1, 1, 100)
    C = np.array([[1, 120, 60], [120, 1, 60], [20, 20, 1]], dtype=float)  # C[zone, place]
    pairs = acc.pairs_from_matrix(C, 61)
    r = acc.fca([100.0, 50.0, 10.0], [1.0, 1.0, 100.0], pairs, "2sfca", max_cost=61)
    R = np.array([1 / 110, 1 / 60, 100 / 160])  # place 1: zones 1, 3; place 2: zones 2, 3; place 3: all
    np.testing.assert_allclose(r.access, [R[0] + R[2], R[1] + R[2], R.sum()], rtol=1e-14)
    np.testing.assert_allclose(r.access, pysal_fca([100, 50, 10], [1, 1, 100], pairs, "2sfca", max_cost=61), atol=1e-12)
    # with a 30-minute catchment, zone 3 reaches places 1 and 2 (20 min) but not the reverse:
    # the zone → place direction matters, and PySAL agrees with the un-transposed matrix
    N, S = [100.0, 50.0, 10.0], [1.0, 1.0, 100.0]
    r30 = acc.fca(N, S, acc.pairs_from_matrix(C, 30), "2sfca", max_cost=30)
    np.testing.assert_allclose(r30.access, [1 / 110, 1 / 60, 1 / 110 + 1 / 60 + 100 / 10], rtol=1e-14)
    np.testing.assert_allclose(r30.access, pysal_fca(N, S, acc.pairs_from_matrix(C, 30), "2sfca", max_cost=30), atol=1e-12)
    rt = acc.fca(N, S, acc.pairs_from_matrix(C.T, 30), "2sfca", max_cost=30)
    assert not np.allclose(rt.access, r30.access)


# -- equality with PySAL access -----------------------------------------------------------------

@pytest.mark.parametrize("decay_name", ["pysal", "apl", "step30"])
def test_e2sfca_equals_pysal_on_straight_line_pairs(decay_name):
    zxy, pxy, N, S, speed = random_case()
    decay = acc.make_decay(decay_name)
    pairs = acc.straight_line_pairs(zxy, pxy, speed, decay.max_cost, detour=1.3)
    ours = acc.fca(N, S, pairs, "e2sfca", decay)
    th, w = acc.STEP_PRESETS[decay_name]
    ref = pysal_fca(N, S, pairs, weight_fn=weights.step_fn(dict(zip(th, w, strict=False))))
    seen = np.isfinite(ref)
    assert seen.sum() > 250  # most zones reach a place
    assert np.max(np.abs(ours.access[seen] - ref[seen])) <= 1e-9
    # zones PySAL leaves out (no pair) have access 0 here, flagged
    assert np.all(ours.access[~seen] == 0) and np.all(ours.no_place[~seen])


def test_2sfca_and_continuous_decays_equal_pysal():
    zxy, pxy, N, S, speed = random_case(seed=7)
    pairs = acc.straight_line_pairs(zxy, pxy, speed, 25.0, detour=1.3)
    cases = [
        ("2sfca", None, acc.binary_decay(25.0), None),
        ("e2sfca", weights.gaussian(9), acc.make_decay("gaussian", 25.0, sigma=9), 25.0),
        ("e2sfca", weights.gravity(2, -1.2, 1), acc.make_decay("gravity", 25.0, scale=2, alpha=-1.2, min_cost=1), 25.0),
    ]
    for method, wfn, decay, mc in cases:
        ours = acc.floating_catchment(N, S, pairs, decay)
        ref = pysal_fca(N, S, pairs, method, weight_fn=wfn, max_cost=25.0 if method == "2sfca" else mc)
        seen = np.isfinite(ref)
        assert np.max(np.abs(ours.access[seen] - ref[seen])) <= 1e-9, method


def test_asymmetric_matrix_with_shared_ids_equals_pysal():
    # zones and places share locations (ids); cost i → j differs from j → i, integer costs hit thresholds
    rng = np.random.default_rng(11)
    n = 40
    base = rng.integers(0, 25, (n, n)).astype(float)
    C = base + rng.integers(0, 12, (n, n))  # not symmetric
    np.fill_diagonal(C, 0.0)
    assert not np.allclose(C, C.T) and np.isin(C, [10.0, 20.0, 30.0]).any()
    N = rng.integers(0, 900, n).astype(float)
    N[N == 0] = 1
    S = rng.uniform(1, 10, n)
    pairs = acc.pairs_from_matrix(C, 30)
    for method, wfn in (("e2sfca", weights.step_fn({10: 1, 20: 0.68, 30: 0.22})), ("2sfca", None)):
        ours = acc.fca(N, S, pairs, method, acc.make_decay("pysal"), max_cost=30)
        ref = pysal_fca(N, S, pairs, method, weight_fn=wfn, max_cost=30)
        assert np.max(np.abs(ours.access - ref)) <= 1e-9
    # the same through a long DataFrame with string ids, and through a sparse matrix
    ids = [f"Z{i:02d}" for i in range(n)]
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    frame = pd.DataFrame({"origin": np.array(ids)[i.ravel()], "dest": np.array(ids)[j.ravel()], "cost": C.ravel()})
    p2 = acc.pairs_from_frame(frame, ids, ids, 30)
    np.testing.assert_allclose(acc.fca(N, S, p2).access, acc.fca(N, S, pairs).access, atol=1e-15)
    sp = sparse.coo_array((C[C <= 30], np.nonzero(C <= 30)), shape=C.shape)  # explicit zeros on the diagonal
    np.testing.assert_allclose(acc.fca(N, S, acc.pairs_from_matrix(sp, 30)).access, acc.fca(N, S, pairs).access, atol=1e-15)


def test_straight_line_pairs_match_brute_force_per_zone_speed():
    zxy, pxy, _, _, speed = random_case(200, 60, seed=5)
    pairs = acc.straight_line_pairs(zxy, pxy, speed, 20.0, detour=1.25)
    dist = np.linalg.norm(zxy[:, None, :] - pxy[None, :, :], axis=2)
    cost = dist * 1.25 / (speed[:, None] * 1000 / 60)
    r, c = np.nonzero(cost <= 20.0)
    got = sorted(zip(pairs.rows.tolist(), pairs.cols.tolist(), strict=False))
    assert got == sorted(zip(r.tolist(), c.tolist(), strict=False))
    order = np.lexsort((pairs.cols, pairs.rows))
    np.testing.assert_allclose(pairs.cost[order], cost[r, c], rtol=1e-12)


# -- bad inputs ---------------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="NaN travel costs"):
        acc.pairs_from_matrix(np.array([[1.0, np.nan]]), 30)
    with pytest.raises(ValueError, match="negative travel costs"):
        acc.pairs_from_matrix(np.array([[1.0, -2.0]]), 30)
    with pytest.raises(ValueError, match="negative travel costs"):
        acc.pairs_from_matrix(sparse.csr_array(np.array([[0.0, -2.0]])), 30)
    pairs = acc.pairs_from_matrix(np.array([[1.0], [2.0]]), 30)
    with pytest.raises(ValueError, match="no demand value"):
        acc.fca([np.nan, 5.0], [1.0], pairs)
    with pytest.raises(ValueError, match="≥ 0"):
        acc.fca([-1.0, 5.0], [1.0], pairs)
    with pytest.raises(ValueError, match="supply"):
        acc.fca([1.0, 5.0], [np.nan], pairs)
    with pytest.raises(ValueError, match="place coordinates missing for 1 rows"):
        acc.straight_line_pairs(np.zeros((2, 2)), np.array([[0.0, 0.0], [np.nan, 1.0]]), 50, 30)
    with pytest.raises(ValueError, match="unknown zone or place ids"):
        acc.pairs_from_frame(pd.DataFrame({"origin": ["a"], "dest": ["x"], "cost": [1.0]}), ["b"], ["x"], 30)
    with pytest.raises(ValueError, match="duplicated"):
        acc.pairs_from_frame(pd.DataFrame({"origin": ["a", "a"], "dest": ["x", "x"], "cost": [1.0, 2.0]}), ["a"], ["x"], 30)
    with pytest.raises(ValueError, match="unknown decay"):
        acc.make_decay("linear")


def test_missing_demand_flagged_zero_demand_allowed_and_place_without_demand_excluded():
    C = np.array([[1.0, 50.0, 5.0], [2.0, 50.0, 50.0], [50.0, 3.0, 50.0]])
    pairs = acc.pairs_from_matrix(C, 30)
    # zone 2 has 0 people: place 1 (only reachable from zone 2) has no demand → excluded
    r = acc.fca([np.nan, 10.0, 0.0], [4.0, 9.0, 6.0], pairs, "2sfca", max_cost=30, on_missing="flag")
    assert r.demand_missing.tolist() == [True, False, False]
    assert r.excluded_places.tolist() == [1, 2]  # place 2 is only reached by the NaN-demand zone
    np.testing.assert_allclose(r.access, [0.4, 0.4, 0.0])  # place 0: 4 h / 10 people
    assert np.isnan(r.ratio[1])


# -- compute_all: time slot, nearest, bad places -------------------------------------------------

def _tables():
    zones = pd.DataFrame({
        "code": ["A", "B", "C"], "level": "commune", "code_departement": "38", "code_region": "84",
        "rep_x": [0.0, 3000.0, 40_000.0], "rep_y": [0.0, 0.0, 0.0], "population": [1000.0, 500.0, 200.0],
        "area_km2": [10.0, 10.0, 10.0], "poor_persons": [100.0, 50.0, 20.0], "fiscal_persons": [1000.0, 500.0, 200.0],
    })
    sat = json.dumps({"mo": [[540, 720]], "sa": [[540, 720]]})
    eve = json.dumps({"tu": [[900, 1200]]})
    places = pd.DataFrame({
        "place_id": ["p1", "p2", "p3", "p4"], "x": [500.0, 2500.0, 39_000.0, np.nan], "y": [0.0, 0.0, 0.0, 0.0],
        "type": ["france_services", "mediatheque", "autre", "autre"],
        "services": ["demarches", "competences_base;equipement", "demarches", "demarches"],
        "hours_json": [sat, eve, None, sat], "weekly_hours": [6.0, 5.0, np.nan, 6.0], "staff": [2.0, np.nan, np.nan, 1.0],
        "offers_digital_help": [True, True, True, True],
    })
    return zones, places


def test_compute_all_time_slot_nearest_and_places_without_coordinates():
    zones, places = _tables()
    cfg = Config(decay="step30", travel_mode="car", car_kmh=60, detour=1.0)
    res = compute_all(zones, places, cfg)
    assert res.report["places_without_coordinates"] == 1
    # capacities: p1 (France services) 6 h × (2 agents of the charter + 2 conseiller posts),
    # p2 5 h × default staff 1, p3 default hours of "autre" (10) × 1
    assert res.places.set_index("place_id")["capacity"].to_dict() == {"p1": 24.0, "p2": 5.0, "p3": 10.0}
    z = res.zones.set_index("code")
    # 60 km/h, detour 1: 1 km = 1 min; A and B reach p1, p2 (≤ 30 min), C reaches p3 only
    nA, nB, nC = 40.0, 20.0, 8.0
    assert z.loc["A", "access"] == pytest.approx(24 / (nA + nB) + 5 / (nA + nB))
    assert z.loc["C", "access"] == pytest.approx(10 / nC)
    assert z.loc["A", "nearest_place_id"] == "p1" and z.loc["A", "nearest_time_min"] == pytest.approx(0.5)
    assert z.loc["A", "nearest_time_min_competences_base"] == pytest.approx(2.5)
    assert z.loc["C", "nearest_time_min_equipement"] == pytest.approx(37.5)
    # Saturday: only p1 (p2 closed Saturday, p3 unknown hours, p4 no coordinates)
    sat = compute_all(zones, places, cfg.replace(time_slot="saturday"))
    assert sat.report["removed_slot_closed"] == 1 and sat.report["removed_slot_unknown_hours"] == 1
    zs = sat.zones.set_index("code")
    assert zs.loc["A", "access"] == pytest.approx(24 / (nA + nB))
    assert zs.loc["C", "access"] == 0.0 and bool(zs.loc["C", "no_place"])
    # evening: only p2 (open until 20:00 on Tuesday)
    eve = compute_all(zones, places, cfg.replace(time_slot="evening")).zones.set_index("code")
    assert eve.loc["B", "access"] == pytest.approx(5 / (nA + nB))


def test_compute_all_with_supplied_asymmetric_cost_frame():
    zones, places = _tables()
    cost = pd.DataFrame({"origin": ["A", "B", "C", "A"], "dest": ["p1", "p1", "p3", "p3"], "cost": [5.0, 25.0, 1.0, 29.0]})
    res = compute_all(zones, places, Config(decay="pysal", capacity="count"), cost=cost)
    z = res.zones.set_index("code")
    D1 = 40 * 1 + 20 * 0.22
    D3 = 8 * 1 + 40 * 0.22
    assert z.loc["A", "access"] == pytest.approx(1 / D1 + 0.22 / D3)
    assert z.loc["B", "access"] == pytest.approx(0.22 / D1)
    assert z.loc["C", "access"] == pytest.approx(1 / D3)
    assert z.loc["C", "nearest_place_id"] == "p3" and z.loc["C", "nearest_time_min"] == 1.0
    # the same costs as a dense matrix (np.inf = unreachable) and as a sparse matrix
    dense = np.full((3, 4), np.inf)
    dense[0, 0], dense[1, 0], dense[2, 2], dense[0, 2] = 5.0, 25.0, 1.0, 29.0
    for c in (dense, sparse.csr_array(np.where(np.isinf(dense), 0.0, dense))):
        r2 = compute_all(zones, places, Config(decay="pysal", capacity="count"), cost=c).zones
        np.testing.assert_allclose(r2["access"], res.zones["access"], rtol=1e-12)
    with pytest.raises(ValueError, match="NaN travel costs"):
        compute_all(zones, places, Config(), cost=np.full((3, 4), np.nan))


# -- real data: Isère communes × France Services ------------------------------------------------

@pytest.mark.raw
@pytest.mark.skipif(not RAW.exists(), reason="shared/data/raw not present")
def test_real_isere_france_services_e2sfca_equals_pysal():
    from pyproj import Transformer

    com = pd.read_csv(RAW / "insee" / "communes_comparateur2024_datasfun_derive.csv",
                      dtype={"insee_com": str, "insee_dep": str}).drop_duplicates("insee_com")
    com = com[com["insee_dep"] == "38"].reset_index(drop=True)
    fs = pd.read_csv(RAW / "places" / "anct_france_services_liste-fs-20240801.csv", dtype={"insee_dep": str, "insee_com": str})
    fs = fs[fs["insee_dep"] == "38"].reset_index(drop=True)
    assert len(com) == 512 and len(fs) == 28
    assert int(com.loc[com["insee_com"] == "38185", "population_2021"].iloc[0]) == 157_477
    assert (fs["insee_com"] == "38185").sum() == 3  # Grenoble: 3 France Services entries (SOURCES doc)
    tr = Transformer.from_crs(4326, 2154, always_xy=True)
    zxy = np.column_stack(tr.transform(com["lng"].to_numpy(), com["lat"].to_numpy()))
    pxy = np.column_stack(tr.transform(fs["longitude"].to_numpy(), fs["latitude"].to_numpy()))
    N = com["population_2021"].to_numpy(float)
    S = np.ones(len(fs))
    pairs = acc.straight_line_pairs(zxy, pxy, 50.0, 30.0, detour=1.3)
    ours = acc.fca(N, S, pairs, "e2sfca", acc.make_decay("pysal"))
    ref = pysal_fca(N, S, pairs, weight_fn=weights.step_fn({10: 1, 20: 0.68, 30: 0.22}))
    seen = np.isfinite(ref)
    assert np.max(np.abs(ours.access[seen] - ref[seen])) <= 1e-9
    assert np.all(ours.access[~seen] == 0)
    # Grenoble's point is within 3 km of a France Services site (there are 3 in the city)
    g = int(np.flatnonzero(com["insee_com"] == "38185")[0])
    _, dist, _ = acc.nearest_place(zxy[[g]], pxy, 50.0)
    assert dist[0] < 3000
    # every France Services site has people within 30 minutes: none is excluded
    assert ours.excluded_places.size == 0


def test_a_place_closed_every_day_is_never_the_nearest():
    """Zone A sits next to p_closed (open 0 h a week, capacity 0) and 5 km from p_open: its nearest
    place is p_open, in time and in id (the closed one used to be named)."""
    zones = pd.DataFrame({"code": ["A"], "level": "commune", "code_departement": "38", "rep_x": [0.0], "rep_y": [0.0],
                          "population": [100.0], "area_km2": [10.0], "poor_persons": [10.0], "fiscal_persons": [100.0]})
    places = pd.DataFrame({"place_id": ["p_closed", "p_open"], "x": [100.0, 5000.0], "y": [0.0, 0.0],
                           "type": ["autre", "autre"], "services": ["demarches", "demarches"],
                           "hours_json": [json.dumps({}), None], "weekly_hours": [0.0, 10.0], "staff": [1.0, 1.0],
                           "offers_digital_help": [True, True]})
    res = compute_all(zones, places, Config(decay="step30", travel_mode="car", car_kmh=60, detour=1.0))
    z = res.zones.iloc[0]
    # 60 km/h, detour 1: 5 km = 5 min
    assert z["nearest_place_id"] == "p_open" and z["nearest_time_min"] == pytest.approx(5.0)
    assert z["nearest_time_min_demarches"] == pytest.approx(5.0)
