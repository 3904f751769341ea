"""Location models (planning.models) against PySAL spopt 0.7, hand-checkable cases, validation;
candidate sites (planning.candidates) on synthetic tables and the real QPV list."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pulp
import pytest
from scipy import sparse
from spopt.locate import LSCP, MCLP, PMedian

from planning import candidates as cand
from planning.models import coverage_matrix, lscp, mclp, mclp_capacity, p_median, solve_model

# spopt calls PuLP APIs that PuLP 3.3 flags as deprecated for 4.0; not our code's warnings.
pytestmark = pytest.mark.filterwarnings("ignore:.*PuLP 4.0:DeprecationWarning")
with pytest.warns(DeprecationWarning):
    SOLVER = pulp.PULP_CBC_CMD(msg=False)


def instance(seed: int, n: int = 60, m: int = 25):
    """Random zones and sites in a 30 km square; cost = straight-line km × 1.3 at 60 km/h (min)."""
    rng = np.random.default_rng(seed)
    zones = rng.uniform(0, 30_000, (n, 2))
    sites = rng.uniform(0, 30_000, (m, 2))
    cost = np.linalg.norm(zones[:, None, :] - sites[None, :, :], axis=2) * 1.3 / 1000.0
    weights = rng.integers(1, 100, n).astype(float)
    return weights, cost


FIXED = np.zeros(25, bool)
FIXED[[3, 17]] = True


def spopt_mclp(w, cost, s, p, fixed):
    pre = fixed.astype(int) if fixed is not None else None
    total = p + (int(fixed.sum()) if fixed is not None else 0)
    mod = MCLP.from_cost_matrix(cost, w, s, p_facilities=total, predefined_facilities_arr=pre)
    mod.solve(SOLVER, results=False)
    return pulp.value(mod.problem.objective)


def spopt_pmedian(w, cost, p, fixed):
    pre = fixed.astype(int) if fixed is not None else None
    total = p + (int(fixed.sum()) if fixed is not None else 0)
    mod = PMedian.from_cost_matrix(cost, w, p_facilities=total, predefined_facilities_arr=pre)
    mod.solve(SOLVER, results=False)
    return pulp.value(mod.problem.objective)


# ----------------------------------------------------------------------------------------------
# Exact optima equal spopt's
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("p", [1, 3, 5])
@pytest.mark.parametrize("fixed", [None, FIXED], ids=["nofixed", "fixed"])
def test_mclp_optimum_equals_spopt(seed, p, fixed):
    w, cost = instance(seed)
    s = 8.0
    res = mclp(w, cost, s, p, fixed=fixed)
    ref = spopt_mclp(w, cost, s, p, fixed)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(ref, rel=1e-9)
    assert len(res.chosen) == p
    assert not set(res.chosen) & set(np.flatnonzero(FIXED if fixed is not None else []))
    # the objective is the need really covered by the open sites
    open_ = np.zeros(25, bool)
    open_[res.chosen] = True
    if fixed is not None:
        open_ |= fixed
    assert w[(cost[:, open_] <= s).any(axis=1)].sum() == pytest.approx(res.objective)
    assert res.covered_after == pytest.approx(res.covered_before + res.marginal_gains.sum())


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("p", [1, 3, 5])
@pytest.mark.parametrize("fixed", [None, FIXED], ids=["nofixed", "fixed"])
def test_pmedian_optimum_equals_spopt(seed, p, fixed):
    w, cost = instance(seed)
    res = p_median(w, cost, p, fixed=fixed, service_time=8.0)
    ref = spopt_pmedian(w, cost, p, fixed)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(ref, rel=1e-7)
    open_ = list(res.chosen) + (list(np.flatnonzero(fixed)) if fixed is not None else [])
    assert (w * cost[:, open_].min(axis=1)).sum() == pytest.approx(res.objective)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("fixed", [None, FIXED], ids=["nofixed", "fixed"])
def test_lscp_count_equals_spopt(seed, fixed):
    w, cost = instance(seed)
    s = float(cost.min(axis=1).max()) + 0.5  # every zone coverable: spopt's LSCP needs that
    res = lscp(w, cost, s, fixed=fixed)
    pre = fixed.astype(int) if fixed is not None else None
    mod = LSCP.from_cost_matrix(cost, s, predefined_facilities_arr=pre)
    mod.solve(SOLVER, results=False)
    n_fixed = int(fixed.sum()) if fixed is not None else 0
    assert res.status == "optimal"
    assert res.objective + n_fixed == pulp.value(mod.problem.objective)
    open_ = list(res.chosen) + (list(np.flatnonzero(fixed)) if fixed is not None else [])
    assert (cost[:, open_] <= s).any(axis=1).all()
    assert res.covered_after == pytest.approx(w.sum())
    assert len(res.uncoverable_zones) == 0


def test_lscp_reports_uncoverable_zones_instead_of_failing():
    w, cost = instance(4)
    s = 6.0
    far = (cost > s).all(axis=1)
    assert far.sum() >= 1  # the instance has zones no candidate reaches within 6 min
    res = lscp(w, cost, s)
    assert res.status == "optimal"
    np.testing.assert_array_equal(res.uncoverable_zones, np.flatnonzero(far))
    assert res.details["uncoverable_need"] == pytest.approx(w[far].sum())
    assert res.uncovered_need == pytest.approx(w[far].sum())
    # every other zone is covered by the chosen sites
    assert (cost[~far][:, res.chosen] <= s).any(axis=1).all()
    # ... with as few sites as spopt needs for the coverable zones alone
    mod = LSCP.from_cost_matrix(cost[~far], s)
    mod.solve(SOLVER, results=False)
    assert res.objective == pulp.value(mod.problem.objective)


# ----------------------------------------------------------------------------------------------
# Marginal gains, greedy vs exact, gap
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_marginal_gains_nonincreasing_and_greedy_below_exact(seed):
    w, cost = instance(seed, n=80, m=30)
    s, p = 7.0, 6
    fixed = np.zeros(30, bool)
    fixed[0] = True
    ex = mclp(w, cost, s, p, fixed=fixed)
    gr = mclp(w, cost, s, p, fixed=fixed, method="greedy", swap=False)
    for r in (ex, gr):
        assert np.all(np.diff(r.marginal_gains) <= 1e-9)
        assert r.covered_before == pytest.approx(w[cost[:, 0] <= s].sum())
        # each reported gain is the need newly covered when the sites are added in that order
        covered = cost[:, 0] <= s
        for j, g in zip(r.chosen, r.marginal_gains, strict=True):
            new = (cost[:, j] <= s) & ~covered
            assert w[new].sum() == pytest.approx(g)
            covered |= new
    assert gr.objective <= ex.objective + 1e-9
    assert gr.status == "heuristic" and gr.method == "greedy"
    assert gr.bound >= ex.objective - 1e-6  # a valid upper bound
    assert gr.gap == pytest.approx((gr.bound - gr.objective) / gr.bound)
    assert ex.gap == 0.0
    # with the exact optimum as reference, the gap is the true relative loss
    gr2 = mclp(w, cost, s, p, fixed=fixed, method="greedy", swap=False, lp_bound=False,
               reference_objective=ex.objective)
    assert gr2.bound == pytest.approx(ex.objective)
    assert gr2.gap == pytest.approx((ex.objective - gr2.objective) / ex.objective)


def test_greedy_swap_improves_on_plain_greedy_somewhere():
    """Over a few instances the interchange step never hurts and is never above the optimum."""
    for seed in range(6):
        w, cost = instance(seed, n=80, m=30)
        plain = mclp(w, cost, 6.0, 4, method="greedy", swap=False, lp_bound=False)
        swapped = mclp(w, cost, 6.0, 4, method="greedy", swap=True, lp_bound=False)
        exact = mclp(w, cost, 6.0, 4)
        assert plain.objective <= swapped.objective + 1e-9 <= exact.objective + 2e-9


def test_pmedian_greedy_and_gains():
    w, cost = instance(7, n=70, m=25)
    ex = p_median(w, cost, 4, fixed=FIXED, service_time=8.0)
    gr = p_median(w, cost, 4, fixed=FIXED, service_time=8.0, method="greedy")
    assert gr.objective >= ex.objective - 1e-6  # minimisation
    assert gr.bound <= ex.objective + 1e-6  # LP relaxation is a lower bound
    assert np.all(np.diff(ex.marginal_gains) <= 1e-9)
    base = (w * cost[:, FIXED].min(axis=1)).sum()
    assert ex.details["cost_before"] == pytest.approx(base)
    assert base - ex.marginal_gains.sum() == pytest.approx(ex.objective)
    # without fixed sites the first site is "infinitely" useful (nobody had a site before)
    nf = p_median(w, cost, 3)
    assert np.isinf(nf.marginal_gains[0]) and np.all(np.isfinite(nf.marginal_gains[1:]))
    assert nf.summary()["marginal_gains"][0] is None  # JSON-friendly


def test_lscp_greedy_gap():
    w, cost = instance(8)
    s = float(cost.min(axis=1).max()) + 0.5
    ex = lscp(w, cost, s)
    gr = lscp(w, cost, s, method="greedy")
    assert gr.objective >= ex.objective
    assert gr.bound <= ex.objective
    assert gr.gap == pytest.approx(abs(gr.objective - gr.bound) / gr.bound)
    assert np.all(np.diff(gr.marginal_gains) <= 1e-9)


def test_sparse_input_gives_the_same_results():
    w, cost = instance(9)
    s = 8.0
    sp = sparse.csr_matrix(np.where(cost <= s, cost, 0.0))  # only pairs within S
    dense = mclp(w, cost, s, 3, fixed=FIXED)
    spr = mclp(w, sp, s, 3, fixed=FIXED)
    assert spr.objective == dense.objective
    np.testing.assert_array_equal(np.sort(spr.chosen), np.sort(dense.chosen))
    np.testing.assert_array_equal(coverage_matrix(sp, s).toarray(), cost <= s)
    assert lscp(w, sp, s).objective == lscp(w, cost, s).objective
    assert p_median(w, sp, 3, fixed=FIXED, unreachable_cost=60.0).objective == pytest.approx(
        p_median(w, np.where(cost <= s, cost, np.inf), 3, fixed=FIXED, unreachable_cost=60.0).objective)


# ----------------------------------------------------------------------------------------------
# Hand-checkable cases
# ----------------------------------------------------------------------------------------------


def test_mclp_hand_case():
    # 4 zones on a line at 0, 10, 20, 30 min from site A; site B sits at 25 (cost |pos - 25|).
    pos = np.array([0.0, 10.0, 20.0, 30.0])
    cost = np.c_[np.abs(pos - 0), np.abs(pos - 25), np.abs(pos - 10)]
    w = np.array([5.0, 1.0, 7.0, 3.0])
    fixed = np.array([True, False, False])  # A open, covers zones 0 and 1 within 10 min
    r = mclp(w, cost, 10.0, 1, fixed=fixed)
    assert r.covered_before == 6.0
    # B covers zones 2 and 3 (+10); C (at 10) covers 0, 1, 2 (+7 only): B wins
    assert list(r.chosen) == [1] and r.objective == 16.0 and list(r.marginal_gains) == [10.0]
    # p = 2: after A and B every zone is covered, C would add 0 → not proposed
    r2 = mclp(w, cost, 10.0, 2, fixed=fixed)
    assert list(r2.chosen) == [1] and list(r2.marginal_gains) == [10.0]
    assert r2.p_requested == 2 and r2.stopped_reason == "no_gain" and r2.objective == 16.0


def test_capacity_variant_hand_case():
    """Zones A, B, C, D need 10, 20, 30, 5. s0 (existing, cap 15) reaches A, B; s1 (cap 25)
    reaches B, C; s2 (cap 40) reaches C; nothing reaches D.

    Before: s0 serves 15 of A+B = 30. Open s1: s0 15 + s1 25 = 40. Open s2: s0 15 + C 30 = 45 → s2.
    Unserved with p = 1: 65 − 45 = 20 = D out of reach 5 + 15 over capacity at s0.
    p = 2: s0 15 + s1 15 of B + s2 30 = 60; gains s2 +30 then s1 +15; D still out of reach.
    """
    inf = np.inf
    cost = np.array([[5, inf, inf], [5, 5, inf], [inf, 5, 5], [inf, inf, inf]])
    w = np.array([10.0, 20.0, 30.0, 5.0])
    cap = np.array([15.0, 25.0, 40.0])
    fixed = np.array([True, False, False])
    r = mclp_capacity(w, cost, 10.0, cap, 1, fixed=fixed)
    assert r.status == "optimal"
    assert r.covered_before == pytest.approx(15.0)
    assert list(r.chosen) == [2]
    assert r.objective == pytest.approx(45.0)
    assert r.uncovered_need == pytest.approx(20.0)
    assert r.details["out_of_reach_need"] == pytest.approx(5.0)
    assert r.details["over_capacity_need"] == pytest.approx(15.0)
    assert r.details["load"][0] == pytest.approx(15.0) and r.details["load"][2] == pytest.approx(30.0)
    np.testing.assert_array_equal(r.uncoverable_zones, [3])
    r2 = mclp_capacity(w, cost, 10.0, cap, 2, fixed=fixed)
    assert list(r2.chosen) == [2, 1]
    np.testing.assert_allclose(r2.marginal_gains, [30.0, 15.0])
    assert r2.objective == pytest.approx(60.0) and r2.details["over_capacity_need"] == pytest.approx(0)
    g = mclp_capacity(w, cost, 10.0, cap, 1, fixed=fixed, method="greedy")
    assert g.objective == pytest.approx(45.0) and g.gap == pytest.approx(0.0, abs=1e-6)


# ----------------------------------------------------------------------------------------------
# p is an upper bound: no site that adds nobody
# ----------------------------------------------------------------------------------------------

INF = np.inf


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_mclp_stops_when_the_next_site_covers_nobody(method):
    """Zones A, B, C need 5, 3, 2; S = 10 min. s0 and s2 cover A, s1 and s4 cover B, s3 covers
    nothing, nothing covers C. p = 3: s0 (+5), s1 (+3), then every site adds 0 → 2 sites,
    objective 5 + 3 = 8, the same as spopt's MCLP with 3 facilities; C's 2 people stay uncovered."""
    cost = np.array([[5, INF, 8, 20, INF],
                     [INF, 5, INF, 20, 7],
                     [INF, INF, INF, INF, INF]])
    w = np.array([5.0, 3.0, 2.0])
    r = mclp(w, cost, 10.0, 3, method=method)
    assert list(r.chosen) == [0, 1] and list(r.marginal_gains) == [5.0, 3.0]
    assert list(r.newly_covered) == [5.0, 3.0]
    assert r.objective == 8.0 == r.covered_after and r.uncovered_need == 2.0
    assert r.objective == pytest.approx(spopt_mclp(w, np.where(np.isinf(cost), 1e6, cost), 10.0, 3, None))
    assert r.p_requested == 3 and r.n_new == r.n_useful == 2 and r.stopped_reason == "no_gain"
    sm = r.summary()
    assert (sm["p_requested"], sm["n_sites"], sm["n_useful"], sm["stopped_reason"]) == (3, 2, 2, "no_gain")
    json.dumps(sm, allow_nan=False)


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_pmedian_stops_when_the_next_site_saves_no_minute(method):
    """Zones A, B, C need 1, 2, 3; f0 is open. Costs (min):

         f0  s1  s2  s3
    A     0   5   9   9
    B    10   2  10  12
    C    10  10   1  12

    Before: 1·0 + 2·10 + 3·10 = 50. s2 saves 3·(10 − 1) = 27, s1 saves 2·(10 − 2) = 16, s3 saves 0
    whatever is open. p = 3 → [s2, s1], objective 50 − 43 = 7 (= spopt with 4 facilities: s3
    opened changes nothing). CBC must open 3 (Σ x = p): its useless third site is dropped."""
    cost = np.array([[0, 5, 9, 9], [10, 2, 10, 12], [10, 10, 1, 12]], dtype=float)
    w = np.array([1.0, 2.0, 3.0])
    fixed = np.array([True, False, False, False])
    r = p_median(w, cost, 3, fixed=fixed, service_time=5.0, method=method)
    assert list(r.chosen) == [2, 1] and list(r.marginal_gains) == [27.0, 16.0]
    assert r.objective == 7.0 == pytest.approx(spopt_pmedian(w, cost, 3, fixed))
    # within 5 min: A (f0) before; s2 brings C (3 people), s1 brings B (2)
    assert r.covered_before == 1.0 and list(r.newly_covered) == [3.0, 2.0] and r.covered_after == 6.0
    assert r.p_requested == 3 and r.n_new == 2 and r.stopped_reason == "no_gain"


@pytest.mark.parametrize("method", ["exact", "greedy"])
def test_capacity_variant_stops_when_the_next_site_assigns_nobody(method):
    """The hand case of test_capacity_variant_hand_case plus s3 (capacity 10, reaches C only).
    p = 3: s2 (+30), s1 (+15) serve A, B, C entirely (60 = 65 − D's 5 out of reach), so s3 adds
    0 → 2 sites."""
    cost = np.array([[5, INF, INF, INF], [5, 5, INF, INF], [INF, 5, 5, 5], [INF, INF, INF, INF]])
    w = np.array([10.0, 20.0, 30.0, 5.0])
    cap = np.array([15.0, 25.0, 40.0, 10.0])
    fixed = np.array([True, False, False, False])
    r = mclp_capacity(w, cost, 10.0, cap, 3, fixed=fixed, method=method)
    assert list(r.chosen) == [2, 1]
    np.testing.assert_allclose(r.marginal_gains, [30.0, 15.0])
    assert r.objective == pytest.approx(60.0) and r.details["out_of_reach_need"] == pytest.approx(5.0)
    assert r.p_requested == 3 and r.n_new == 2 and r.stopped_reason == "no_gain"
    assert set(r.details["load"]) == {0, 1, 2}  # s3 is not opened


def test_capacity_greedy_counts_capacity_freed_elsewhere():
    """A (10 people) reaches only s0, B (10) reaches s0 and s1; s0 is open with capacity 10.
    Opening s1 (capacity 10) serves B and frees s0 for A: +10, even when the assignment before
    had s0 serving B (then no unserved need is within s1's reach and the estimate is 0)."""
    cost = np.array([[1.0, INF], [1.0, 1.0]])
    w = np.array([10.0, 10.0])
    for method in ("greedy", "exact"):
        r = mclp_capacity(w, cost, 5.0, np.array([10.0, 10.0]), 1, fixed=[True, False], method=method)
        assert list(r.chosen) == [1] and r.objective == pytest.approx(20.0)
        np.testing.assert_allclose(r.marginal_gains, [10.0])


@pytest.mark.parametrize("seed", [1, 2])
def test_large_p_keeps_the_optimum_and_only_useful_sites(seed):
    """p = 20 of 25 candidates: far more than needed. The objective still equals spopt's (with
    p + fixed facilities), fewer than p sites come back, each adds need (p-median: saves minutes)."""
    w, cost = instance(seed)
    for method in ("exact", "greedy"):
        r = mclp(w, cost, 8.0, 20, fixed=FIXED, method=method)
        assert r.objective == pytest.approx(spopt_mclp(w, cost, 8.0, 20, FIXED), rel=1e-9)
        assert r.n_new < 20 and r.stopped_reason == "no_gain" and np.all(r.marginal_gains > 0)
        assert r.covered_after == pytest.approx(w[(cost <= 8.0).any(axis=1)].sum())  # all coverable
    pm = p_median(w, cost, 20, fixed=FIXED)
    assert pm.objective == pytest.approx(spopt_pmedian(w, cost, 20, FIXED), rel=1e-7)
    assert np.all(pm.marginal_gains > 0) and pm.n_new <= 20
    assert (pm.stopped_reason == "no_gain") == (pm.n_new < 20)


def test_capacity_variant_with_large_capacities_is_the_mclp():
    w, cost = instance(10)
    big = np.full(25, 1e9)
    a = mclp_capacity(w, cost, 8.0, big, 3, fixed=FIXED)
    b = mclp(w, cost, 8.0, 3, fixed=FIXED)
    assert a.objective == pytest.approx(b.objective)


def test_pmedian_unreachable_cost():
    inf = np.inf
    # zone 0 reaches only site 1; zone 1 only site 0 (fixed); zone 2 reaches nothing
    cost = np.array([[inf, 4.0], [2.0, inf], [inf, inf]])
    w = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="unreachable_cost"):
        p_median(w, cost, 0, fixed=[True, False])
    r0 = p_median(w, cost, 0, fixed=[True, False], unreachable_cost=60.0)
    assert r0.objective == pytest.approx(1 * 60 + 2 * 2 + 3 * 60)
    r1 = p_median(w, cost, 1, fixed=[True, False], unreachable_cost=60.0)
    assert list(r1.chosen) == [1]
    assert r1.objective == pytest.approx(1 * 4 + 2 * 2 + 3 * 60)
    assert list(r1.marginal_gains) == [pytest.approx(56.0)]
    np.testing.assert_array_equal(r1.uncoverable_zones, [2])


def test_dispatch_and_summary_is_json():
    w, cost = instance(11)
    r = solve_model("mclp", weights=w, cost=cost, service_time=8.0, p=2, time_limit=5)
    assert r.status == "optimal" and r.seconds > 0
    json.dumps(r.summary(), allow_nan=False)
    # every site adds someone here: p sites, no stop
    assert {k: r.summary()[k] for k in ("p_requested", "n_sites", "n_useful", "stopped_reason")} == {
        "p_requested": 2, "n_sites": 2, "n_useful": 2, "stopped_reason": None}
    assert lscp(w, cost, 8.0).summary()["p_requested"] is None
    with pytest.raises(ValueError, match="unknown model"):
        solve_model("pcenter", weights=w, cost=cost, p=1)


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mutate, match", [
    (lambda w, c: (w, np.where(np.eye(*c.shape, dtype=bool), np.nan, c)), "NaN"),
    (lambda w, c: (w, c - 100.0), "negative"),
    (lambda w, c: (w[:-1], c), "one value per zone"),
    (lambda w, c: (np.r_[np.nan, w[1:]], c), "weights contains NaN"),
    (lambda w, c: (-w, c), "≥ 0"),
    (lambda w, c: (w, c[:, :, None]), "2-D"),
])
def test_bad_inputs_raise_clear_errors(mutate, match):
    w, cost = instance(12)
    w2, c2 = mutate(w, cost)
    with pytest.raises(ValueError, match=match):
        mclp(w2, c2, 8.0, 2)


def test_bad_parameters_raise_clear_errors():
    w, cost = instance(13)
    with pytest.raises(ValueError, match="p = 24 new sites requested but only 23"):
        mclp(w, cost, 8.0, 24, fixed=FIXED)
    with pytest.raises(ValueError, match="p must be ≥ 0"):
        p_median(w, cost, -1)
    with pytest.raises(ValueError, match="integer"):
        mclp(w, cost, 8.0, 2.5)
    with pytest.raises(ValueError, match="service_time"):
        mclp(w, cost, 0, 2)
    with pytest.raises(ValueError, match="service_time"):
        lscp(w, cost, float("nan"))
    with pytest.raises(ValueError, match="boolean mask"):
        mclp(w, cost, 8.0, 2, fixed=np.ones(3, bool))
    with pytest.raises(ValueError, match="boolean mask"):
        mclp(w, cost, 8.0, 2, fixed=np.arange(25))
    with pytest.raises(ValueError, match="method"):
        mclp(w, cost, 8.0, 2, method="magic")
    with pytest.raises(ValueError, match="capacity"):
        mclp_capacity(w, cost, 8.0, -np.ones(25), 2)
    with pytest.raises(ValueError, match="stores inf"):
        mclp(w, sparse.csr_matrix(np.where(cost < 3, np.inf, 0.0)), 8.0, 2)


# ----------------------------------------------------------------------------------------------
# Candidates
# ----------------------------------------------------------------------------------------------


def test_candidates_from_synthetic_tables():
    places = pd.DataFrame({
        "place_id": ["fs:1", "dinum:2", "dinum:3", "x:4", "x:5"],
        "name": ["FS Voiron", "Médiathèque", "EPN", "Mairie", "CCAS ?"],
        "type": ["france_services", "mediatheque", "epn_tiers_lieu", "mairie", "ccas"],
        "offers_digital_help": pd.array([False, False, False, False, pd.NA], dtype="boolean"),
        "code_commune": ["38563", "38185", "38185", "38151", "38185"],
        "x": [900_000.0, 913_300.0, 913_100.0, 916_000.0, 914_000.0],
        "y": [6_473_000.0, 6_457_600.0, 6_457_100.0, 6_455_000.0, 6_458_000.0],
    })
    got = cand.from_places(places)
    # EPN: not a candidate type; CCAS with unknown digital help: not taken
    assert got["candidate_id"].tolist() == ["place:fs:1", "place:dinum:2", "place:x:4"]
    assert list(got.columns) == cand.CANDIDATE_COLUMNS
    lon, lat = cand.to_wgs84(913_300.0, 6_457_600.0)
    assert got.loc[1, "lon"] == pytest.approx(float(lon)) and 45.1 < got.loc[1, "lat"] < 45.3

    zones = pd.DataFrame({"code": ["38185", "2A004"], "name": ["Grenoble", "Ajaccio"],
                          "rep_x": [913_500.0, 1_177_000.0], "rep_y": [6_458_000.0, 6_106_000.0]})
    cc = cand.from_zone_centres(zones)
    assert cc["code_commune"].tolist() == ["38185", "2A004"]
    assert cc["kind"].tolist() == ["commune_centre"] * 2

    # Grenoble town hall area (WGS84): projected to Lambert-93 and back
    pts = cand.from_points([(5.7245, 45.1885)], names=["Salle des fêtes"])
    assert pts.loc[0, "candidate_id"] == "point:5.72450,45.18850"
    assert pts.loc[0, "x"] == pytest.approx(913_924.1, abs=1.0)  # pyproj EPSG:4326 -> 2154
    assert pts.loc[0, "y"] == pytest.approx(6_458_045.2, abs=1.0)
    x, y = cand.to_lambert93(5.7245, 45.1885)
    lon2, lat2 = cand.to_wgs84(x, y)
    assert float(lon2) == pytest.approx(5.7245, abs=1e-9) and float(lat2) == pytest.approx(45.1885, abs=1e-9)
    with pytest.raises(ValueError, match="metropolitan France"):
        cand.from_points([(45.19, 5.72)])  # lat/lon swapped

    allc = cand.build_candidates(places, zones, points=[(5.7245, 45.1885)], min_spacing_m=1_000)
    # the point comes first; place dinum:2 and the Grenoble centre are within 1 km of it
    assert allc["candidate_id"].tolist()[0].startswith("point:")
    assert "place:dinum:2" not in allc["candidate_id"].tolist()
    assert "commune:38185" not in allc["candidate_id"].tolist()
    assert "commune:2A004" in allc["candidate_id"].tolist()


def test_candidates_from_real_qpv_list():
    gpd = pytest.importorskip("geopandas")
    from loaders import RAW_DIR

    path = RAW_DIR / "geo" / "anct_qpv2024_liste_par_commune_centroides.geojson"
    qpv = gpd.read_file(path)
    got = cand.from_qpv(qpv)
    assert len(got) == 824  # one point per commune with a QPV (SOURCES-census-qpv B1)
    g = got.set_index("candidate_id").loc["qpv:38185"]
    assert g["code_commune"] == "38185"
    assert "Mistral Lys Rouge Camine" in g["name"] and "Villeneuve - Village Olympique" in g["name"]
    assert 910_000 < g["x"] < 917_000 and 6_454_000 < g["y"] < 6_461_000  # Grenoble, Lambert-93
    isere = got[got["code_commune"].str.startswith("38")]
    assert len(isere) == 14  # 24 QPV in 14 Isère communes


def test_straight_line_minutes_sparse_matches_dense():
    rng = np.random.default_rng(0)
    o = rng.uniform(0, 50_000, (40, 2))
    s = rng.uniform(0, 50_000, (15, 2))
    s[0] = o[0]  # a coincident pair: explicit zero kept
    dense = cand.straight_line_minutes(o, s, speed_kmh=60, detour=1.3)
    assert dense[1, 1] == pytest.approx(np.linalg.norm(o[1] - s[1]) * 1.3 / 1000)
    sp = cand.straight_line_minutes(o, s, speed_kmh=60, detour=1.3, max_minutes=20)
    assert sp.nnz == int((dense <= 20).sum())  # includes the coincident pair stored as 0
    assert sp[0, 0] == 0 and sp.indices[sp.indptr[0]: sp.indptr[1]].tolist().count(0) == 1
    assert mclp(np.ones(40), sp, 20, 2).objective == mclp(np.ones(40), dense, 20, 2).objective


def test_capacity_gains_match_successive_assignments():
    """Each reported gain = assigned need with the prefix + site − with the prefix (p = 0 runs
    with those sites fixed open), in a non-increasing sequence."""
    w, cost = instance(14, n=50, m=20)
    cap = np.random.default_rng(14).uniform(100, 400, 20)
    fixed = np.zeros(20, bool)
    fixed[[2, 9]] = True
    r = mclp_capacity(w, cost, 8.0, cap, 4, fixed=fixed)
    assert r.status == "optimal" and np.all(np.diff(r.marginal_gains) <= 1e-9)
    prefix = fixed.copy()
    prev = mclp_capacity(w, cost, 8.0, cap, 0, fixed=prefix).objective
    assert prev == pytest.approx(r.covered_before)
    for j, g in zip(r.chosen, r.marginal_gains, strict=True):
        prefix[j] = True
        now = mclp_capacity(w, cost, 8.0, cap, 0, fixed=prefix).objective
        assert now - prev == pytest.approx(g, abs=1e-6)
        prev = now
    assert prev == pytest.approx(r.objective)
    served = r.details["served"]
    assert served.sum() == pytest.approx(r.objective) and np.all(served <= w + 1e-9)
    assert sum(r.details["load"].values()) == pytest.approx(r.objective)
    assert all(r.details["load"][j] <= cap[j] + 1e-6 for j in r.details["load"])
    g = mclp_capacity(w, cost, 8.0, cap, 4, fixed=fixed, method="greedy")
    assert g.objective <= r.objective + 1e-6 and g.bound >= r.objective - 1e-6


@pytest.mark.parametrize("solver_outcome", ["no_solution", "feasible"])
def test_time_limit_paths(monkeypatch, solver_outcome):
    """When CBC stops on its time limit, the result says so, keeps the best known solution and
    reports a gap to a valid bound."""
    import planning.models as pm

    w, cost = instance(15, n=80, m=30)
    exact = mclp(w, cost, 7.0, 5)
    real_run = pm._run

    def fake_run(prob, time_limit):
        real_run(prob, time_limit)  # the incumbent is CBC's optimum, reported as "time limit"
        return solver_outcome

    monkeypatch.setattr(pm, "_run", fake_run)
    r = mclp(w, cost, 7.0, 5, time_limit=0.5)
    if solver_outcome == "no_solution":
        assert r.status == "heuristic_time_limit"
        assert r.objective <= exact.objective + 1e-9
    else:
        assert r.status == "feasible" and r.objective == pytest.approx(exact.objective)
    assert r.bound >= exact.objective - 1e-6
    assert r.gap == pytest.approx((r.bound - r.objective) / r.bound)
    pm_r = p_median(w, cost, 3, time_limit=0.5)
    assert pm_r.status in ("heuristic_time_limit", "feasible") and pm_r.gap is not None
    assert pm_r.bound <= p_median(w, cost, 3, method="greedy", lp_bound=False).objective + 1e-6


def test_candidates_from_pack_qpv_and_communes():
    import geodata

    try:
        qpv = geodata.load_qpv()
        communes = geodata.load_zones("commune")
    except geodata.PackMissingError:
        pytest.skip("pack not built")
    got = cand.build_candidates(zones=communes, qpv=qpv)
    assert got["candidate_id"].is_unique
    assert (got["kind"] == "commune_centre").sum() == 4027  # AURA communes, COG 2024
    g = got.set_index("candidate_id").loc["qpv:38185"]
    assert "Mistral Lys Rouge Camine" in g["name"] and g["kind"] == "qpv"
    c = got.set_index("candidate_id").loc["commune:38185"]
    assert c["name"] == "Grenoble" and c["code_commune"] == "38185"
    assert 910_000 < c["x"] < 917_000 and 6_454_000 < c["y"] < 6_461_000
    assert 5.68 < c["lon"] < 5.76 and 45.16 < c["lat"] < 45.21
