"""Location models on arrays: MCLP, p-median, LSCP and a capacity-aware MCLP.

Notation (METHOD.md section 6). Zones ``i`` (demand points) carry ``N_i`` people in need; candidate
sites ``j`` are the columns of a cost matrix ``d_ij`` (minutes). A site *covers* a zone when
``d_ij <= S`` (the service time, same convention as PySAL spopt). Some columns can be *fixed open*
(existing places): they are always open and do not count in ``p``, the number of **new** sites.

Cost matrix formats accepted everywhere:

- a dense ``numpy`` array ``(n_zones, n_sites)``; ``+inf`` marks an unreachable pair;
- a ``scipy.sparse`` matrix holding only the reachable pairs (typically those within the service
  time). A stored entry is a reachable pair, an absent one is unreachable (store explicit zeros
  for a cost of 0).

Models (all maximise or minimise over binary site variables ``x_j``):

- **MCLP** (Church & ReVelle 1974): max Σ_i N_i y_i  s.t.  y_i ≤ Σ_{j: d_ij ≤ S} x_j,
  0 ≤ y_i ≤ 1, Σ_{j new} x_j = p, x_j = 1 for fixed sites.
- **p-median** (Hakimi 1964): min Σ_i Σ_j N_i d_ij z_ij  s.t.  Σ_j z_ij = 1, z_ij ≤ x_j,
  Σ_{j new} x_j = p, fixed sites open. Unreachable pairs cost ``unreachable_cost``.
- **LSCP** (Toregas et al. 1971): min Σ_{j new} x_j  s.t.  Σ_{j: d_ij ≤ S} x_j ≥ 1 for every zone
  that some site can cover; zones no site can cover are reported, not made infeasible.
- **Capacity-aware MCLP**: max Σ_ij N_i z_ij  s.t.  Σ_j z_ij ≤ 1, Σ_i N_i z_ij ≤ C_j x_j,
  z_ij ≥ 0 only where d_ij ≤ S (fractional assignment), Σ_{j new} x_j = p. The need left
  unserved is split into "out of reach" and "over capacity".

Exact solutions go through PuLP/CBC (``PULP_CBC_CMD(msg=False, timeLimit=time_limit)``) on a
reduced problem: zones already served by fixed sites and zones without need are dropped, zones
with identical sets of candidate sites merged, p-median pairs no better than the zone's current
cost left out. None of this changes the optimum. If CBC stops on its time limit, the best of its
incumbent and the greedy solution is returned with ``status`` "feasible" (or
"heuristic_time_limit" when CBC found nothing) and a gap. CBC checks its time limit during the
branch and bound, not during presolve and the root LP, so very large models can overrun it.

``method="greedy"`` gives a greedy heuristic with an interchange (swap) improvement (Teitz & Bart
1968) for large instances, and reports its gap to the tightest known bound: the LP relaxation
(solved by HiGHS interior point through scipy, which is much faster than CBC on these degenerate
LPs; by default only for models up to 300 000 nonzeros), the submodular bound of Nemhauser &
Wolsey (MCLP), or ``reference_objective`` (e.g. a known exact optimum).

Chosen sites are always reported in greedy order *within the chosen set*: starting from the fixed
sites, the chosen site adding the most is listed first, and so on. Coverage is submodular, so the
marginal gains come out non-increasing.

Sites that add nothing are not proposed. ``p`` is an upper bound on the new sites of the MCLP, the
capacity-aware MCLP and the p-median: once the next site's marginal gain is zero (people newly
covered or assigned, person-minutes saved), the model stops and returns fewer than ``p`` sites,
with ``stopped_reason = "no_gain"``. A gain g counts as zero when

    g ≤ 1e-9 · max(1, Σ_i N_i)   (people, or person-minutes for the p-median),

which absorbs the rounding of the assignment LP. This changes no objective: the gains in greedy
order are non-increasing (submodularity), so the zero gains form the tail of the order, and a
site whose gain is f(S + j) − f(S) = 0 leaves every later gain unchanged
(f(S + j + k) − f(S + j) ≤ f(S + k) − f(S) by submodularity and ≥ by monotonicity). The greedy
paths stop adding sites there; an exact (CBC) solution, which may open useless sites to reach
``p`` (the p-median constraint Σ x_j = p forces it), is ordered by marginal gain and its zero-gain
tail dropped.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pulp
from scipy import sparse
from scipy.optimize import linprog

__all__ = [
    "MODELS",
    "PlanResult",
    "coverage_matrix",
    "mclp",
    "p_median",
    "lscp",
    "mclp_capacity",
    "solve_model",
    "STOP_NO_GAIN",
]

MODELS = ("mclp", "pmedian", "lscp", "mclp_capacity")
METHODS = ("exact", "greedy")
_TOL = 1e-9
STOP_NO_GAIN = "no_gain"  # ``PlanResult.stopped_reason``: fewer than p sites, the next adds nothing


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass
class PlanResult:
    """Outcome of a location model.

    ``chosen`` holds column indices of the new sites in marginal-gain order; ``marginal_gains[k]``
    is what site ``chosen[k]`` adds to the objective given the fixed sites and ``chosen[:k]``
    (people for the coverage models, person-minutes saved for the p-median), non-increasing.
    ``newly_covered[k]`` is the people in need it brings within the service time (NaN when no
    service time is known). ``covered_before`` / ``covered_after``: people in need within the
    service time of an open site (capacity model: people actually assigned) with the fixed sites
    only / after adding the chosen ones. ``gap`` = |objective − bound| / |bound| (0 when proven
    optimal; None when no bound is known).

    ``p_requested``: the ``p`` asked for (None for the LSCP, which has no p). The models return
    fewer sites when the next one would add nothing; ``stopped_reason`` then says why
    (:data:`STOP_NO_GAIN`), else None. ``n_useful``: chosen sites with a positive gain (all of
    them, except LSCP sites that only cover zones without need).
    """

    model: str
    method: str
    chosen: np.ndarray
    marginal_gains: np.ndarray
    newly_covered: np.ndarray
    objective: float
    covered_before: float
    covered_after: float
    total_need: float
    status: str
    seconds: float
    bound: float | None = None
    bound_kind: str | None = None
    gap: float | None = None
    fixed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    uncoverable_zones: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    details: dict = field(default_factory=dict)
    p_requested: int | None = None
    stopped_reason: str | None = None

    @property
    def uncovered_need(self) -> float:
        """People in need left without service after the plan (``total_need − covered_after``)."""
        return float(self.total_need - self.covered_after)

    @property
    def n_new(self) -> int:
        return int(len(self.chosen))

    @property
    def n_useful(self) -> int:
        """Chosen sites whose marginal gain is above the zero tolerance (see module docstring)."""
        gains = np.asarray(self.marginal_gains, float)
        return int((gains > _zero_gain_tol(self.total_need)).sum())

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (plain floats / ints / lists), e.g. for a saved scenario."""

        def num(v):
            if v is None:
                return None
            v = float(v)
            return v if math.isfinite(v) else None

        return {
            "model": self.model,
            "method": self.method,
            "status": self.status,
            "objective": num(self.objective),
            "covered_before": num(self.covered_before),
            "covered_after": num(self.covered_after),
            "total_need": num(self.total_need),
            "uncovered_need": num(self.uncovered_need),
            "gap": num(self.gap),
            "bound": num(self.bound),
            "seconds": num(self.seconds),
            "chosen": [int(j) for j in self.chosen],
            "marginal_gains": [num(g) for g in self.marginal_gains],
            "newly_covered": [num(g) for g in self.newly_covered],
            "p_requested": None if self.p_requested is None else int(self.p_requested),
            "n_sites": self.n_new,
            "n_useful": self.n_useful,
            "stopped_reason": self.stopped_reason,
        }


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def _check_weights(weights, n: int | None = None, name: str = "weights") -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of people in need per zone, got shape {w.shape}")
    if n is not None and len(w) != n:
        raise ValueError(
            f"{name} has {len(w)} values but the cost matrix has {n} rows (zones); expected one "
            "value per zone"
        )
    if np.isnan(w).any():
        raise ValueError(f"{name} contains NaN (zones {np.flatnonzero(np.isnan(w))[:5].tolist()}…); "
                         "expected finite values ≥ 0 (drop or impute missing zones explicitly)")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{name} must be finite and ≥ 0")
    return w


def _check_cost(cost) -> np.ndarray | sparse.csr_matrix:
    """Validated cost matrix: a float ndarray (inf allowed) or a CSR matrix of reachable pairs."""
    if sparse.issparse(cost):
        c = sparse.csr_matrix(cost, dtype=float)
        if c.ndim != 2:
            raise ValueError("cost matrix must be 2-D (zones × candidate sites)")
        data = c.data
        if np.isnan(data).any():
            raise ValueError("cost matrix contains NaN; expected minutes ≥ 0 (absent pair = unreachable)")
        if (data < 0).any():
            raise ValueError("cost matrix contains negative costs; expected minutes ≥ 0")
        if np.isinf(data).any():
            raise ValueError("sparse cost matrix stores inf; leave unreachable pairs out instead")
        c.sum_duplicates()
        c.sort_indices()
        return c
    c = np.asarray(cost, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"cost matrix must be 2-D (zones × candidate sites), got shape {c.shape}")
    if np.isnan(c).any():
        i, j = np.argwhere(np.isnan(c))[0]
        raise ValueError(f"cost matrix contains NaN (first at zone {i}, site {j}); expected minutes "
                         "≥ 0, or +inf for an unreachable pair")
    if (c < 0).any():
        i, j = np.argwhere(c < 0)[0]
        raise ValueError(f"cost matrix contains negative costs (first at zone {i}, site {j}); "
                         "expected minutes ≥ 0")
    return c


def _check_fixed(fixed, m: int) -> np.ndarray:
    if fixed is None:
        return np.zeros(m, dtype=bool)
    f = np.asarray(fixed)
    if f.ndim != 1 or len(f) != m:
        raise ValueError(f"fixed must be a boolean mask with one value per candidate site ({m}), "
                         f"got shape {f.shape}")
    if f.dtype != bool:
        if not np.isin(f, (0, 1)).all():
            raise ValueError("fixed must be a boolean mask (True = existing site, fixed open)")
        f = f.astype(bool)
    return f.copy()


def _check_service_time(service_time, required: bool = True) -> float | None:
    if service_time is None:
        if required:
            raise ValueError("service_time is required (minutes, > 0)")
        return None
    try:
        s = float(service_time)
    except (TypeError, ValueError):
        raise ValueError(f"service_time must be a number of minutes, got {service_time!r}") from None
    if not math.isfinite(s) or s <= 0:
        raise ValueError(f"service_time must be finite and > 0 minutes, got {service_time!r}")
    return s


def _check_p(p, n_free: int) -> int:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
        raise ValueError(f"p must be an integer number of new sites, got {p!r}")
    p = int(p)
    if p < 0:
        raise ValueError(f"p must be ≥ 0, got {p}")
    if p > n_free:
        raise ValueError(f"p = {p} new sites requested but only {n_free} candidate sites are not "
                         "fixed open; expected p ≤ the number of candidates")
    return p


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_time_limit(time_limit) -> float | None:
    if time_limit is None:
        return None
    t = float(time_limit)
    if not t > 0:
        raise ValueError(f"time_limit must be > 0 seconds (or None), got {time_limit!r}")
    return t


def coverage_matrix(cost, service_time: float) -> sparse.csr_matrix:
    """Boolean CSR matrix ``a_ij = d_ij <= S`` (zones × sites) from a dense or sparse cost matrix."""
    s = _check_service_time(service_time)
    c = _check_cost(cost)
    if sparse.issparse(c):
        keep = c.data <= s
        a = sparse.csr_matrix((np.ones(keep.sum(), dtype=bool),
                               c.indices[keep], _row_ptr(c.indptr, keep)), shape=c.shape)
    else:
        a = sparse.csr_matrix(c <= s)
    a.sort_indices()
    return a


def _row_ptr(indptr: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """New CSR row pointer after keeping the entries flagged in ``keep``."""
    csum = np.concatenate([[0], np.cumsum(keep)])
    return csum[indptr]


def _common(weights, cost, fixed, service_time, need_s=True):
    c = _check_cost(cost)
    n, m = c.shape
    if n == 0 or m == 0:
        raise ValueError(f"cost matrix is empty (shape {c.shape}); expected ≥ 1 zone and ≥ 1 site")
    w = _check_weights(weights, n) if weights is not None else np.ones(n)
    f = _check_fixed(fixed, m)
    s = _check_service_time(service_time, required=need_s)
    return c, w, f, s


# --------------------------------------------------------------------------------------------
# Solver helpers
# --------------------------------------------------------------------------------------------


def _cbc(time_limit: float | None):
    """CBC as bundled with PuLP. PuLP 3.3 flags PULP_CBC_CMD as deprecated for PuLP 4.0 (which
    wants ``pip install pulp[cbc]`` and COIN_CMD); the warning is silenced here, not elsewhere."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)


def _run(prob: pulp.LpProblem, time_limit: float | None) -> str:
    """Solve with CBC; return 'optimal', 'feasible' (time limit hit), or 'no_solution'."""
    prob.solve(_cbc(time_limit))
    if prob.status == pulp.LpStatusInfeasible:
        raise RuntimeError(f"the {prob.name} model is infeasible; this should not happen, please report")
    if prob.sol_status == pulp.LpSolutionOptimal:
        return "optimal"
    if prob.sol_status == pulp.LpSolutionIntegerFeasible:
        return "feasible"
    return "no_solution"


def _lp_value(prob: pulp.LpProblem, time_limit: float | None) -> float | None:
    """Optimal value of the LP relaxation of a PuLP model, solved with HiGHS (scipy).

    Integrality is dropped; bounds, constraints and objective are read from the model. CBC is
    slow on pure LPs of this shape, HiGHS is not. Returns None if HiGHS does not reach optimality.
    """
    variables = prob.variables()
    col = {v.name: k for k, v in enumerate(variables)}
    ub_r, ub_c, ub_v, ub_b = [], [], [], []
    eq_r, eq_c, eq_v, eq_b = [], [], [], []
    for con in prob.constraints():
        rhs = -float(con.constant)
        if con.sense == pulp.LpConstraintEQ:
            r = len(eq_b)
            for v, a in con.items():
                eq_r.append(r), eq_c.append(col[v.name]), eq_v.append(float(a))
            eq_b.append(rhs)
        else:
            sign = 1.0 if con.sense == pulp.LpConstraintLE else -1.0
            r = len(ub_b)
            for v, a in con.items():
                ub_r.append(r), ub_c.append(col[v.name]), ub_v.append(sign * float(a))
            ub_b.append(sign * rhs)
    nv = len(variables)
    cvec = np.zeros(nv)
    for v, a in prob.objective.items():
        cvec[col[v.name]] = float(a)
    sense = -1.0 if prob.sense == pulp.LpMaximize else 1.0
    bounds = [(v.lowBound, v.upBound) for v in variables]
    kw = {}
    if ub_b:
        kw["A_ub"] = sparse.csr_matrix((ub_v, (ub_r, ub_c)), shape=(len(ub_b), nv))
        kw["b_ub"] = np.asarray(ub_b)
    if eq_b:
        kw["A_eq"] = sparse.csr_matrix((eq_v, (eq_r, eq_c)), shape=(len(eq_b), nv))
        kw["b_eq"] = np.asarray(eq_b)
    opts = {"time_limit": float(time_limit)} if time_limit else {}
    # Interior point: MCLP relaxations are very degenerate and simplex crawls on them.
    res = linprog(sense * cvec, bounds=bounds, method="highs-ipm", options=opts, **kw)
    if res.status != 0:
        return None
    return float(sense * res.fun + float(prob.objective.constant))


_LP_AUTO_NNZ = 300_000


def _want_lp(lp_bound: bool | None, nnz: int) -> bool:
    """``lp_bound`` True/False as given; None (auto): only for models up to 300 000 nonzeros."""
    return bool(lp_bound) if lp_bound is not None else nnz <= _LP_AUTO_NNZ


def _expr(pairs) -> pulp.LpAffineExpression:
    return pulp.LpAffineExpression(pairs)


def _gap(objective: float, bound: float | None) -> float | None:
    if bound is None or not math.isfinite(bound):
        return None
    denom = abs(bound)
    if denom < _TOL:
        return 0.0 if abs(objective - bound) < _TOL else None
    return max(0.0, abs(bound - objective) / denom)


def _bound_for(sense: str, lp: float | None, reference: float | None, **others):
    """Tightest of the available bounds (max: smallest, min: largest) and its kind."""
    named = {"lp_relaxation": lp, "reference": reference, **others}
    cands = [(float(v), k) for k, v in named.items() if v is not None]
    if not cands:
        return None, None
    pick = min if sense == "max" else max
    return pick(cands, key=lambda t: t[0])


def _zero_gain_tol(total_need: float) -> float:
    """Largest marginal gain treated as zero: 1e-9 · max(1, Σ N_i) (absorbs LP rounding)."""
    total = float(total_need) if math.isfinite(total_need) else 0.0
    return _TOL * max(1.0, total)


def _drop_zero_gains(order: np.ndarray, gains: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut a greedy order at its first gain ≤ ``tol``.

    Gains in greedy order are non-increasing, so this keeps exactly the sites with a positive gain
    and, since a zero-gain site leaves the later gains unchanged, the same objective.
    """
    gains = np.asarray(gains, float)
    zero = np.flatnonzero(~(gains > tol))
    k = int(zero[0]) if len(zero) else len(gains)
    return np.asarray(order, dtype=int)[:k], gains[:k]


def _stop_reason(n_chosen: int, p: int) -> str | None:
    """:data:`STOP_NO_GAIN` when fewer than ``p`` sites were kept, else None."""
    return STOP_NO_GAIN if n_chosen < p else None


def _status_bound_gap(status: str, objective: float, bound: float | None, bound_kind: str | None):
    """(bound, bound_kind, gap): the objective itself when proven optimal, else the gap to ``bound``."""
    if status == "optimal":
        return objective, "optimal", 0.0
    return bound, bound_kind, _gap(objective, bound)


@dataclass(frozen=True)
class _SolveOptions:
    """Solver settings shared by the models (validated by the public functions)."""

    method: str = "exact"
    swap: bool = True
    time_limit: float | None = 60.0
    lp_bound: bool | None = None
    reference_objective: float | None = None


# --------------------------------------------------------------------------------------------
# Coverage helpers
# --------------------------------------------------------------------------------------------


def _rows_of(csc: sparse.csc_matrix, j: int) -> np.ndarray:
    return csc.indices[csc.indptr[j]: csc.indptr[j + 1]]


def _group_rows(b: sparse.csr_matrix, w: np.ndarray, return_ids: bool = False):
    """Merge rows with identical column sets: return (one row per group, summed weights[, group
    id of every row])."""
    keys: dict[bytes, int] = {}
    gid = np.empty(b.shape[0], dtype=np.int64)
    first = []
    for i in range(b.shape[0]):
        k = b.indices[b.indptr[i]: b.indptr[i + 1]].tobytes()
        g = keys.get(k)
        if g is None:
            g = keys[k] = len(first)
            first.append(i)
        gid[i] = g
    wg = np.bincount(gid, weights=w, minlength=len(first))
    if return_ids:
        return b[np.asarray(first, dtype=np.int64)], wg, gid
    return b[np.asarray(first, dtype=np.int64)], wg


def _order_by_coverage(a_csc: sparse.csc_matrix, w: np.ndarray, covered0: np.ndarray,
                       chosen) -> tuple[np.ndarray, np.ndarray]:
    """Greedy order of ``chosen`` by people newly covered, from the coverage ``covered0``."""
    covered = covered0.copy()
    remaining = sorted(int(j) for j in chosen)
    order, gains = [], []
    while remaining:
        g = np.array([w[r][~covered[r]].sum() for r in (_rows_of(a_csc, j) for j in remaining)])
        k = int(np.argmax(g)) if len(g) else 0
        j = remaining.pop(k)
        order.append(j)
        gains.append(float(g[k]))
        covered[_rows_of(a_csc, j)] = True
    return np.asarray(order, dtype=int), np.asarray(gains, dtype=float)


def _greedy_max_cover(g_csr: sparse.csr_matrix, wg: np.ndarray, p: int, swap: bool,
                      max_passes: int = 50) -> list[int]:
    """Greedy max coverage of weighted rows with ``p`` columns, then best-improvement swaps."""
    g_csc = g_csr.tocsc()
    gt = g_csr.T.tocsr()  # columns × rows, for gains = G^T (w · uncovered)
    cnt = np.zeros(g_csr.shape[0], dtype=np.int64)
    chosen: list[int] = []
    for _ in range(p):
        gains = gt @ (wg * (cnt == 0))
        if chosen:
            gains[chosen] = -1.0
        j = int(np.argmax(gains))
        if gains[j] <= _TOL:
            break
        chosen.append(j)
        cnt[_rows_of(g_csc, j)] += 1
    if not swap or not chosen:
        return chosen
    for _ in range(max_passes):
        improved = False
        for pos in range(len(chosen)):
            j = chosen[pos]
            rows = _rows_of(g_csc, j)
            loss = wg[rows][cnt[rows] == 1].sum()
            cnt_wo = cnt.copy()
            cnt_wo[rows] -= 1
            gains = gt @ (wg * (cnt_wo == 0))
            gains[chosen] = -1.0
            k = int(np.argmax(gains))
            if gains[k] > loss + 1e-9 * max(1.0, loss):
                chosen[pos] = k
                cnt = cnt_wo
                cnt[_rows_of(g_csc, k)] += 1
                improved = True
        if not improved:
            break
    return chosen


def _covered_weight(g: sparse.csr_matrix, wg: np.ndarray, cols: list[int]) -> float:
    if not cols:
        return 0.0
    return float(wg[np.asarray(g[:, cols].sum(axis=1)).ravel() > 0].sum())


def _submodular_bound(g: sparse.csr_matrix, wg: np.ndarray, chosen: list[int], p: int) -> float:
    """Upper bound on max coverage with p columns from any set S (Nemhauser & Wolsey 1978).

    Coverage f is monotone submodular, so OPT ≤ f(S) + sum of the p largest gains f(S+j) − f(S).
    """
    cov = np.zeros(g.shape[0], bool)
    g_csc = g.tocsc()
    for j in chosen:
        cov[_rows_of(g_csc, j)] = True
    gains = g.T.tocsr() @ (wg * ~cov)
    gains[list(chosen)] = 0.0
    top = np.sort(gains)[::-1][:p]
    return float(wg[cov].sum() + top.sum())


# --------------------------------------------------------------------------------------------
# MCLP
# --------------------------------------------------------------------------------------------


def _mclp_pulp(g: sparse.csr_matrix, wg: np.ndarray, p: int, relax: bool) -> tuple:
    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    cat = pulp.LpContinuous if relax else pulp.LpBinary
    x = [prob.add_variable(f"x{j}", 0, 1, cat) for j in range(g.shape[1])]
    y = [prob.add_variable(f"y{i}", 0, 1) for i in range(g.shape[0])]
    prob += _expr(zip(y, wg, strict=True))
    for i in range(g.shape[0]):
        cols = g.indices[g.indptr[i]: g.indptr[i + 1]]
        prob += _expr([(x[j], 1.0) for j in cols] + [(y[i], -1.0)]) >= 0
    prob += _expr((v, 1.0) for v in x) <= p
    return prob, x


def _mclp_reduce(a: sparse.csr_matrix, w: np.ndarray, covered0: np.ndarray, free_idx: np.ndarray):
    """Reduced MCLP: zones with need, not yet covered, coverable by a free site; free columns
    covering at least one of them; identical rows merged. Returns (g, wg, global column ids)."""
    rows = np.flatnonzero(~covered0 & (w > 0))
    b = a[rows][:, free_idx]
    rows_keep = np.diff(b.indptr) > 0
    b = b[rows_keep]
    w_b = w[rows][rows_keep]
    col_use = np.flatnonzero(np.diff(b.tocsc().indptr) > 0)
    b = b[:, col_use]
    b.sort_indices()
    g, wg = _group_rows(b, w_b) if b.shape[0] else (b, w_b)
    return g, wg, free_idx[col_use]


def _mclp_solve(g: sparse.csr_matrix, wg: np.ndarray, p: int, base: float, opts: _SolveOptions):
    """Columns of the reduced MCLP to open (at most ``p``), status, bound and bound kind.

    Greedy (+ swap) first; the exact method then runs CBC and keeps the better of the two when
    CBC stops on its time limit. Without a proof of optimality the bound is the tightest of the
    submodular bound, the LP relaxation and ``reference_objective``.
    """
    if p == 0 or g.shape[0] == 0:
        return [], "optimal", None, None
    if p >= g.shape[1]:
        return list(range(g.shape[1])), "optimal", None, None
    picked = _greedy_max_cover(g, wg, p, swap=opts.swap or opts.method == "exact")
    status = "heuristic"
    if opts.method == "exact":
        prob, x = _mclp_pulp(g, wg, p, relax=False)
        status = _run(prob, opts.time_limit)
        if status == "no_solution":
            status = "heuristic_time_limit"
        else:
            solved = [j for j, v in enumerate(x) if (v.varValue or 0) > 0.5]
            # time limit hit: keep the better of CBC's incumbent and the greedy + swap set
            if status == "optimal" or _covered_weight(g, wg, solved) >= _covered_weight(g, wg, picked):
                picked = solved
    if status == "optimal":
        return picked, status, None, None
    lp = None
    if _want_lp(opts.lp_bound, g.nnz + g.shape[0] + g.shape[1]):
        v = _lp_value(_mclp_pulp(g, wg, p, relax=True)[0], opts.time_limit)
        lp = None if v is None else base + v
    bound, bound_kind = _bound_for("max", lp, opts.reference_objective,
                                   submodular=base + _submodular_bound(g, wg, picked, p))
    return picked, status, bound, bound_kind


def mclp(weights, cost, service_time: float, p: int, *, fixed=None, method: str = "exact",
         swap: bool = True, time_limit: float | None = 60.0, lp_bound: bool | None = None,
         reference_objective: float | None = None) -> PlanResult:
    """Maximal covering location problem: open up to ``p`` new sites maximising the need covered.

    ``objective`` = Σ N_i over zones within ``service_time`` of an open site (fixed or new), the
    same value as spopt's ``MCLP`` with the fixed sites predefined and ``p + #fixed`` facilities.
    Sites are returned in marginal-gain order; when the next site would cover nobody new (gain 0,
    see the module docstring) the list stops there, with ``stopped_reason = "no_gain"``.
    Bounds for the greedy gap: the submodular bound (always), the LP relaxation (``lp_bound``
    True, or None = auto: models up to 300 000 nonzeros) and ``reference_objective``.
    """
    t0 = time.perf_counter()
    c, w, f, s = _common(weights, cost, fixed, service_time)
    _check_method(method)
    opts = _SolveOptions(method, swap, _check_time_limit(time_limit), lp_bound, reference_objective)
    n, m = c.shape
    free_idx = np.flatnonzero(~f)
    p = _check_p(p, len(free_idx))
    a = coverage_matrix(c, s)
    covered0 = np.asarray(a[:, f].sum(axis=1)).ravel() > 0 if f.any() else np.zeros(n, bool)
    coverable = np.asarray(a.sum(axis=1)).ravel() > 0
    base = float(w[covered0].sum())
    g, wg, cols_global = _mclp_reduce(a, w, covered0, free_idx)
    picked, status, bound, bound_kind = _mclp_solve(g, wg, p, base, opts)

    order, gains = _order_by_coverage(a.tocsc(), w, covered0, [int(cols_global[j]) for j in picked])
    order, gains = _drop_zero_gains(order, gains, _zero_gain_tol(w.sum()))
    after = base + float(gains.sum())
    bound, bound_kind, gap = _status_bound_gap(status, after, bound, bound_kind)
    return PlanResult(
        model="mclp", method=method, chosen=order, marginal_gains=gains, newly_covered=gains.copy(),
        objective=after, covered_before=base, covered_after=after, total_need=float(w.sum()),
        status=status, seconds=time.perf_counter() - t0, bound=bound, bound_kind=bound_kind, gap=gap,
        fixed=np.flatnonzero(f), uncoverable_zones=np.flatnonzero(~coverable),
        details={"service_time": s, "reduced_zones": int(g.shape[0]), "reduced_sites": int(g.shape[1]),
                 "uncoverable_need": float(w[~coverable].sum())},
        p_requested=p, stopped_reason=_stop_reason(len(order), p),
    )


# --------------------------------------------------------------------------------------------
# LSCP
# --------------------------------------------------------------------------------------------


def _lscp_pulp(g: sparse.csr_matrix, relax: bool):
    prob = pulp.LpProblem("lscp", pulp.LpMinimize)
    cat = pulp.LpContinuous if relax else pulp.LpBinary
    x = [prob.add_variable(f"x{j}", 0, 1, cat) for j in range(g.shape[1])]
    prob += _expr((v, 1.0) for v in x)
    for i in range(g.shape[0]):
        cols = g.indices[g.indptr[i]: g.indptr[i + 1]]
        prob += _expr([(x[j], 1.0) for j in cols]) >= 1
    return prob, x


def _greedy_set_cover(g: sparse.csr_matrix) -> list[int]:
    """Greedy set cover (most rows newly covered first), then drop redundant columns."""
    g_csc = g.tocsc()
    gt = g.T.tocsr()
    cnt = np.zeros(g.shape[0], dtype=np.int64)
    chosen: list[int] = []
    while (cnt == 0).any():
        gains = gt @ (cnt == 0).astype(float)
        j = int(np.argmax(gains))
        chosen.append(j)
        cnt[_rows_of(g_csc, j)] += 1
    for j in reversed(list(chosen)):
        rows = _rows_of(g_csc, j)
        if (cnt[rows] >= 2).all():
            chosen.remove(j)
            cnt[rows] -= 1
    return chosen


def lscp(weights, cost, service_time: float, *, fixed=None, method: str = "exact",
         time_limit: float | None = 60.0, ignore_zero_need: bool = False,
         lp_bound: bool | None = None, reference_objective: float | None = None) -> PlanResult:
    """Location set covering: fewest new sites so that every coverable zone is within ``S``.

    ``weights`` (people in need, or None for 1 per zone) only serve the reporting and the order of
    the chosen sites; with ``ignore_zero_need`` zones without need need not be covered. Zones no
    site (fixed or candidate) covers are listed in ``uncoverable_zones`` and left out of the
    constraints. ``objective`` = number of new sites (spopt's LSCP counts fixed sites too).
    """
    t0 = time.perf_counter()
    c, w, f, s = _common(weights, cost, fixed, service_time)
    _check_method(method)
    time_limit = _check_time_limit(time_limit)
    n, m = c.shape
    free_idx = np.flatnonzero(~f)
    a = coverage_matrix(c, s)
    a_csc = a.tocsc()
    covered0 = np.asarray(a[:, f].sum(axis=1)).ravel() > 0 if f.any() else np.zeros(n, bool)
    coverable = np.asarray(a.sum(axis=1)).ravel() > 0
    need = ~covered0 & coverable
    if ignore_zero_need:
        need &= w > 0
    b = a[np.flatnonzero(need)][:, free_idx]
    col_use = np.flatnonzero(np.diff(b.tocsc().indptr) > 0)
    b = b[:, col_use]
    b.sort_indices()
    g, _ = _group_rows(b, np.ones(b.shape[0])) if b.shape[0] else (b, None)

    status, bound, bound_kind = "optimal", None, None
    if g.shape[0] == 0:
        picked: list[int] = []
    else:
        picked = _greedy_set_cover(g)
        if method == "exact":
            prob, x = _lscp_pulp(g, relax=False)
            st = _run(prob, time_limit)
            if st == "no_solution":
                status = "heuristic_time_limit"
            else:
                status = st
                picked = [j for j, v in enumerate(x) if (v.varValue or 0) > 0.5]
        else:
            status = "heuristic"
        if status != "optimal":
            lp = None
            if _want_lp(lp_bound, g.nnz + g.shape[1]):
                v = _lp_value(_lscp_pulp(g, relax=True)[0], time_limit)
                lp = None if v is None else float(math.ceil(v - 1e-6))
            bound, bound_kind = _bound_for("min", lp, reference_objective)

    chosen = [int(col_use_j) for col_use_j in free_idx[col_use][picked]] if picked else []
    order, gains = _order_by_coverage(a_csc, w, covered0, chosen)
    base = float(w[covered0].sum())
    after = base + float(gains.sum())
    obj = float(len(order))
    gap = 0.0 if status == "optimal" else _gap(obj, bound)
    if status == "optimal":
        bound, bound_kind = obj, "optimal"
    return PlanResult(
        model="lscp", method=method, chosen=order, marginal_gains=gains, newly_covered=gains.copy(),
        objective=obj, covered_before=base, covered_after=after, total_need=float(w.sum()),
        status=status, seconds=time.perf_counter() - t0, bound=bound, bound_kind=bound_kind, gap=gap,
        fixed=np.flatnonzero(f), uncoverable_zones=np.flatnonzero(~coverable),
        details={"service_time": s, "uncoverable_need": float(w[~coverable].sum()),
                 "zones_to_cover": int(need.sum())},
    )


# --------------------------------------------------------------------------------------------
# p-median
# --------------------------------------------------------------------------------------------


def _columns(c) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """Accessor j -> (zones, costs) of the reachable pairs of site j, dense or sparse input."""
    if sparse.issparse(c):
        csc = c.tocsc()
        csc.sort_indices()
        return lambda j: (csc.indices[csc.indptr[j]: csc.indptr[j + 1]],
                          csc.data[csc.indptr[j]: csc.indptr[j + 1]])

    def col(j):
        rows = np.flatnonzero(np.isfinite(c[:, j]))
        return rows, c[rows, j]
    return col


@dataclass
class _Pairs:
    """Useful (zone, free site) pairs of a p-median: N_i > 0 and d_ij < ub_i, sorted by site."""

    zone: np.ndarray
    site: np.ndarray  # position in free_idx
    cost: np.ndarray
    colptr: np.ndarray

    def col(self, k: int) -> slice:
        return slice(self.colptr[k], self.colptr[k + 1])


def _pm_pairs(c, pos: np.ndarray, ub: np.ndarray, free_idx: np.ndarray) -> _Pairs:
    if sparse.issparse(c):
        coo = c[:, free_idx].tocoo()
        zi, sk, dv = coo.row, coo.col, coo.data
    else:
        sub = c[:, free_idx]
        zi, sk = np.nonzero(np.isfinite(sub))
        dv = sub[zi, sk]
    keep = pos[zi] & (dv < ub[zi])
    zi, sk, dv = zi[keep], sk[keep], dv[keep]
    order = np.lexsort((zi, sk))
    zi, sk, dv = zi[order].astype(np.int64), sk[order].astype(np.int64), dv[order]
    colptr = np.searchsorted(sk, np.arange(len(free_idx) + 1))
    return _Pairs(zi, sk, dv, colptr)


def _pmedian_pulp(pairs: _Pairs, w: np.ndarray, ub: np.ndarray, n_free: int, p: int,
                  relax: bool):
    """min Σ N_i d_ij z_ij + Σ N_i ub_i u_i  s.t.  Σ_j z_ij + u_i = 1,  z_ij ≤ x_j,  Σ x_j = p.

    Only useful pairs get a z variable; u_i ("keep the fixed site / the unreachable cost") exists
    where ub_i is finite. Zones without useful pair are a constant.
    """
    prob = pulp.LpProblem("pmedian", pulp.LpMinimize)
    cat = pulp.LpContinuous if relax else pulp.LpBinary
    x = [prob.add_variable(f"x{k}", 0, 1, cat) for k in range(n_free)]
    by_zone = np.argsort(pairs.zone, kind="stable")
    zs_sorted = pairs.zone[by_zone]
    starts = np.flatnonzero(np.r_[True, zs_sorted[1:] != zs_sorted[:-1]]) if len(zs_sorted) else []
    ends = np.r_[starts[1:], len(zs_sorted)] if len(zs_sorted) else []
    obj_terms = []
    with_pairs = np.zeros(len(w), bool)
    for a, b in zip(starts, ends, strict=True):
        idx = by_zone[a:b]
        i = int(pairs.zone[idx[0]])
        with_pairs[i] = True
        zs = [prob.add_variable(f"z{i}_{int(k)}", 0, 1) for k in pairs.site[idx]]
        terms = [(z, 1.0) for z in zs]
        obj_terms += [(z, float(w[i] * dv)) for z, dv in zip(zs, pairs.cost[idx], strict=True)]
        if math.isfinite(ub[i]):
            u = prob.add_variable(f"u{i}", 0, 1)
            terms.append((u, 1.0))
            obj_terms.append((u, float(w[i] * ub[i])))
        prob += _expr(terms) == 1
        for z, k in zip(zs, pairs.site[idx], strict=True):
            prob += _expr([(x[int(k)], 1.0), (z, -1.0)]) >= 0
    rest = (w > 0) & ~with_pairs
    const = float((w[rest] * ub[rest]).sum())
    prob += _expr(obj_terms) + const
    prob += _expr((v, 1.0) for v in x) == p
    return prob, x


def _pm_big(ub: np.ndarray, pairs: _Pairs) -> np.ndarray:
    """ub with inf replaced by a cost larger than any pair (for the greedy arithmetic)."""
    top = float(pairs.cost.max()) if len(pairs.cost) else 1.0
    return np.where(np.isfinite(ub), ub, 10.0 * top + 1.0)


def _pm_gains(pairs: _Pairs, w: np.ndarray, cur: np.ndarray, n_free: int) -> np.ndarray:
    """Person-minutes saved by opening each free site: Σ_i N_i max(0, cur_i − d_ij)."""
    save = w[pairs.zone] * np.maximum(cur[pairs.zone] - pairs.cost, 0.0)
    return np.bincount(pairs.site, weights=save, minlength=n_free)


def _pm_open(pairs: _Pairs, cur: np.ndarray, k: int) -> np.ndarray:
    sl = pairs.col(k)
    out = cur.copy()
    z = pairs.zone[sl]
    out[z] = np.minimum(out[z], pairs.cost[sl])
    return out


def _greedy_pmedian(pairs: _Pairs, w: np.ndarray, ub: np.ndarray, n_free: int, p: int,
                    swap: bool, max_passes: int = 50, tol: float = _TOL) -> list[int]:
    """Greedy add (largest reduction of Σ N_i d_i) then interchange (Teitz & Bart 1968).

    Works on the useful pairs only, O(#pairs) per evaluation of all candidates. Stops before
    ``p`` sites when no candidate lowers the cost by more than ``tol`` person-minutes. Returns
    positions in free_idx.
    """
    base = _pm_big(ub, pairs)
    cur = base.copy()
    chosen: list[int] = []
    for _ in range(p):
        gains = _pm_gains(pairs, w, cur, n_free)
        gains[chosen] = -1.0
        k = int(np.argmax(gains))
        if gains[k] <= tol:
            break
        chosen.append(k)
        cur = _pm_open(pairs, cur, k)
    if not swap or not chosen:
        return chosen
    for _ in range(max_passes):
        improved = False
        for pos_k in range(len(chosen)):
            cur_wo = base.copy()
            for o in chosen:
                if o != chosen[pos_k]:
                    cur_wo = _pm_open(pairs, cur_wo, o)
            loss = float(w @ (cur_wo - cur))
            gains = _pm_gains(pairs, w, cur_wo, n_free)
            gains[chosen] = -np.inf
            k = int(np.argmax(gains))
            if gains[k] > loss + 1e-9 * max(1.0, loss):
                chosen[pos_k] = k
                cur = _pm_open(pairs, cur_wo, k)
                improved = True
        if not improved:
            break
    return chosen


def _pm_cost(col, w: np.ndarray, ub: np.ndarray, open_cols) -> float:
    cur = ub.copy()
    for j in open_cols:
        rows, vals = col(int(j))
        cur[rows] = np.minimum(cur[rows], vals)
    pos = w > 0
    return float((w[pos] * cur[pos]).sum())


def _pm_start_costs(c, w: np.ndarray, f: np.ndarray, unreachable_cost):
    """Column accessor and each zone's cost before any new site: ub_i = min(``unreachable_cost``
    (inf if None), d_ij over fixed sites j)."""
    pen = np.inf
    if unreachable_cost is not None:
        pen = float(unreachable_cost)
        if not math.isfinite(pen) or pen < 0:
            raise ValueError(f"unreachable_cost must be finite and ≥ 0 minutes, got {unreachable_cost!r}")
    col = _columns(c)
    ub = np.full(len(w), pen)
    for j in np.flatnonzero(f):
        rows, vals = col(int(j))
        ub[rows] = np.minimum(ub[rows], vals)
    return col, ub


def _pm_check_reachable(c, w: np.ndarray, ub: np.ndarray, free_idx: np.ndarray, p: int,
                        unreachable_cost) -> np.ndarray:
    """Without ``unreachable_cost``, every zone with need must be able to reach an open site.

    Returns the number of reachable sites per zone (0 = uncoverable zone).
    """
    pos = w > 0
    if sparse.issparse(c):
        n_reach = np.diff(c.indptr)
        n_reach_free = np.diff(c[:, free_idx].tocsr().indptr)
    else:
        n_reach = np.isfinite(c).sum(axis=1)
        n_reach_free = np.isfinite(c[:, free_idx]).sum(axis=1)
    if unreachable_cost is None:
        risky = pos & ~np.isfinite(ub) & (n_reach_free < len(free_idx))
        if risky.any():
            raise ValueError(
                f"{int(risky.sum())} zone(s) with need (first: {int(np.flatnonzero(risky)[0])}) have "
                "unreachable sites and no reachable fixed site; pass unreachable_cost= (minutes "
                "charged when no open site is reachable)")
        if p == 0 and (pos & ~np.isfinite(ub)).any():
            raise ValueError("p = 0 and no fixed site: the p-median needs at least one open site")
    return n_reach


def _pm_solve(pairs: _Pairs, w: np.ndarray, ub: np.ndarray, free_idx: np.ndarray, col, p: int,
              opts: _SolveOptions):
    """Columns to open (global ids), status, bound and bound kind of the p-median.

    Greedy + swap first (stops early when no site lowers the cost); the exact method then runs
    CBC (Σ x_j = p: it may open useless sites, dropped later) and keeps the better of the two when
    CBC stops on its time limit. Without a proof of optimality the bound is the LP relaxation or
    ``reference_objective``.
    """
    if p == 0:
        return [], "optimal", None, None
    k_free = len(free_idx)
    tol = _zero_gain_tol(w.sum())
    picked = [int(free_idx[k]) for k in
              _greedy_pmedian(pairs, w, ub, k_free, p, swap=opts.swap or opts.method == "exact", tol=tol)]
    status = "heuristic"
    if opts.method == "exact":
        prob, x = _pmedian_pulp(pairs, w, ub, k_free, p, relax=False)
        status = _run(prob, opts.time_limit)
        if status == "no_solution":
            status = "heuristic_time_limit"
        else:
            solved = [int(free_idx[k]) for k, v in enumerate(x) if (v.varValue or 0) > 0.5]
            # time limit hit: keep the better of CBC's incumbent and the greedy + swap set
            if status == "optimal" or (_pm_cost(col, w, ub, solved) <= _pm_cost(col, w, ub, picked)):
                picked = solved
    if status == "optimal":
        return picked, status, None, None
    lp = None
    if _want_lp(opts.lp_bound, 3 * len(pairs.zone) + len(w)):
        lp = _lp_value(_pmedian_pulp(pairs, w, ub, k_free, p, relax=True)[0], opts.time_limit)
    bound, bound_kind = _bound_for("min", lp, opts.reference_objective)
    return picked, status, bound, bound_kind


def _pm_order_by_gain(col, w: np.ndarray, ub: np.ndarray, picked) -> tuple[np.ndarray, np.ndarray]:
    """Greedy order of ``picked`` by person-minutes saved, Σ_i N_i max(0, cur_i − d_ij).

    Without fixed sites and without unreachable_cost a zone starts with no reachable site:
    reaching it is an infinite gain, so sites are ranked first by people newly reached, then by
    minutes saved (gain ``inf`` when a site reaches someone new).
    """
    pos = w > 0
    cur = ub.copy()
    remaining = sorted(int(j) for j in picked)
    order, gains = [], []
    while remaining:
        keys = []
        for j in remaining:
            rows, vals = col(j)
            sel = pos[rows]
            rows, vals = rows[sel], vals[sel]
            was = np.isfinite(cur[rows])
            reached = float(w[rows[~was]].sum())
            saved = float(w[rows[was]] @ np.maximum(cur[rows[was]] - vals[was], 0.0))
            keys.append((reached, saved))
        k = max(range(len(remaining)), key=lambda t: keys[t])
        j = remaining.pop(k)
        order.append(j)
        gains.append(np.inf if keys[k][0] > 0 else keys[k][1])
        rows, vals = col(j)
        cur[rows] = np.minimum(cur[rows], vals)
    return np.asarray(order, dtype=int), np.asarray(gains, float)


def _pm_coverage(col, w: np.ndarray, f: np.ndarray, s: float | None, order):
    """People within ``s`` minutes of an open site: (newly covered per site in ``order``, before,
    after); NaN throughout without a service time."""
    newly = np.full(len(order), np.nan)
    if s is None:
        return newly, float("nan"), float("nan")
    covered = np.zeros(len(w), bool)
    for j in np.flatnonzero(f):
        rows, vals = col(int(j))
        covered[rows[vals <= s]] = True
    before = float(w[covered].sum())
    for k, j in enumerate(order):
        rows, vals = col(int(j))
        new = rows[(vals <= s) & ~covered[rows]]
        newly[k] = float(w[new].sum())
        covered[new] = True
    return newly, before, float(w[covered].sum())


def p_median(weights, cost, p: int, *, fixed=None, service_time: float | None = None,
             unreachable_cost: float | None = None, method: str = "exact", swap: bool = True,
             time_limit: float | None = 60.0, lp_bound: bool | None = None,
             reference_objective: float | None = None) -> PlanResult:
    """p-median: open up to ``p`` new sites minimising Σ_i N_i · d(i, nearest open site).

    An unreachable pair (inf / absent from a sparse matrix) costs ``unreachable_cost`` minutes; it
    must be given when some zone with need has no reachable fixed site and an unreachable
    candidate. Only pairs cheaper than the zone's current cost (nearest fixed site, or
    ``unreachable_cost``) enter the model, so a sparse matrix of pairs within reach keeps large
    instances small. ``marginal_gains`` are person-minutes saved per added site (``inf`` for a
    site that gives a first reachable site to some zone, possible only without fixed sites and
    without ``unreachable_cost``); a site saving 0 person-minutes is not returned
    (``stopped_reason = "no_gain"``). ``service_time`` (optional) only serves to report the people
    within reach (``covered_*``, ``newly_covered``). ``objective`` equals spopt's ``PMedian``
    objective with ``p + #fixed`` facilities. ``lp_bound`` None: LP bound only for models up to
    300 000 nonzeros (greedy gap otherwise from ``reference_objective`` or None).
    """
    t0 = time.perf_counter()
    c, w, f, s = _common(weights, cost, fixed, service_time, need_s=False)
    _check_method(method)
    opts = _SolveOptions(method, swap, _check_time_limit(time_limit), lp_bound, reference_objective)
    free_idx = np.flatnonzero(~f)
    p = _check_p(p, len(free_idx))
    col, ub = _pm_start_costs(c, w, f, unreachable_cost)
    n_reach = _pm_check_reachable(c, w, ub, free_idx, p, unreachable_cost)
    pairs = _pm_pairs(c, w > 0, ub, free_idx)
    picked, status, bound, bound_kind = _pm_solve(pairs, w, ub, free_idx, col, p, opts)

    order, gains = _pm_order_by_gain(col, w, ub, picked)
    order, gains = _drop_zero_gains(order, gains, _zero_gain_tol(w.sum()))
    objective = _pm_cost(col, w, ub, order)
    before = _pm_cost(col, w, ub, [])
    newly, cov_before, cov_after = _pm_coverage(col, w, f, s, order)
    bound, bound_kind, gap = _status_bound_gap(status, objective, bound, bound_kind)
    total = float(w.sum())
    return PlanResult(
        model="pmedian", method=method, chosen=order, marginal_gains=gains, newly_covered=newly,
        objective=objective, covered_before=cov_before, covered_after=cov_after, total_need=total,
        status=status, seconds=time.perf_counter() - t0, bound=bound, bound_kind=bound_kind, gap=gap,
        fixed=np.flatnonzero(f), uncoverable_zones=np.flatnonzero(n_reach == 0),
        details={"service_time": s, "cost_before": before,
                 "mean_cost_before": before / total if total > 0 else float("nan"),
                 "mean_cost_after": objective / total if total > 0 else float("nan"),
                 "unreachable_cost": unreachable_cost,
                 "useful_pairs": int(len(pairs.zone))},
        p_requested=p, stopped_reason=_stop_reason(len(order), p),
    )


# --------------------------------------------------------------------------------------------
# Capacity-aware MCLP
# --------------------------------------------------------------------------------------------


def _check_capacity(capacity, m: int) -> np.ndarray:
    cap = np.asarray(capacity, dtype=float)
    if cap.ndim != 1 or len(cap) != m:
        raise ValueError(f"capacity must give one value per candidate site ({m}), got shape {cap.shape}")
    if np.isnan(cap).any() or (cap < 0).any() or not np.isfinite(cap).all():
        raise ValueError("capacity must be finite and ≥ 0 (people in need a site can serve)")
    return cap


def _assign(a: sparse.csr_matrix, w: np.ndarray, cap: np.ndarray, open_mask: np.ndarray):
    """Best fractional assignment of need to open sites (transportation LP, scipy HiGHS).

    Flows f_ij ≥ 0 on covering pairs: max Σ f_ij  s.t.  Σ_j f_ij ≤ N_i,  Σ_i f_ij ≤ C_j.
    Returns (total assigned, served per zone, load per site).
    """
    n, m = a.shape
    coo = a.tocoo()
    keep = open_mask[coo.col] & (w[coo.row] > 0) & (cap[coo.col] > 0)
    r, c = coo.row[keep], coo.col[keep]
    served, load = np.zeros(n), np.zeros(m)
    if len(r) == 0:
        return 0.0, served, load
    k = len(r)
    ar = sparse.csr_matrix((np.ones(k), (r, np.arange(k))), shape=(n, k))
    ac = sparse.csr_matrix((np.ones(k), (c, np.arange(k))), shape=(m, k))
    res = linprog(-np.ones(k), A_ub=sparse.vstack([ar, ac]).tocsc(),
                  b_ub=np.concatenate([w, cap]), bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"capacity assignment LP failed: {res.message}")
    flow = np.maximum(res.x, 0.0)
    served = np.bincount(r, weights=flow, minlength=n)
    load = np.bincount(c, weights=flow, minlength=m)
    return float(flow.sum()), served, load


_STRENGTHEN_MAX_PAIRS = 20_000


def _mclp_cap_pulp(a: sparse.csr_matrix, w: np.ndarray, cap: np.ndarray, fixed: np.ndarray,
                   p: int, relax: bool):
    """max Σ f_ij  s.t.  Σ_j f_ij ≤ N_i,  Σ_i f_ij ≤ C_j x_j,  Σ x_j ≤ p  (f = people served).

    On small models the pair constraints f_ij ≤ N_i x_j tighten the relaxation; on large ones
    they would double the model and slow CBC's root LP, so they are left out.
    """
    n, m = a.shape
    prob = pulp.LpProblem("mclp_capacity", pulp.LpMaximize)
    cat = pulp.LpContinuous if relax else pulp.LpBinary
    coo = a.tocoo()
    keep = (w[coo.row] > 0) & (cap[coo.col] > 0)
    r, c = coo.row[keep], coo.col[keep]
    useful = np.zeros(m, bool)
    useful[c] = True
    x = {j: prob.add_variable(f"x{j}", 0, 1, cat) for j in np.flatnonzero(useful & ~fixed)}
    fl = [prob.add_variable(f"f{i}_{j}", 0, None) for i, j in zip(r, c, strict=True)]  # people of i served by j
    prob += _expr((v, 1.0) for v in fl)
    by_zone: dict[int, list] = {}
    by_site: dict[int, list] = {}
    strengthen = len(r) <= _STRENGTHEN_MAX_PAIRS
    for v, i, j in zip(fl, r, c, strict=True):
        by_zone.setdefault(int(i), []).append(v)
        by_site.setdefault(int(j), []).append(v)
        if strengthen and int(j) in x:  # f_ij ≤ N_i x_j
            prob += _expr([(v, 1.0), (x[int(j)], -float(w[i]))]) <= 0
    for i, vs in by_zone.items():
        prob += _expr((v, 1.0) for v in vs) <= float(w[i])
    for j, vs in by_site.items():
        terms = [(v, 1.0) for v in vs]
        if j in x:
            prob += _expr(terms + [(x[j], -float(cap[j]))]) <= 0
        else:
            prob += _expr(terms) <= float(cap[j])
    if x:
        prob += _expr((v, 1.0) for v in x.values()) <= p
    return prob, x


def _cap_reduce(a: sparse.csr_matrix, w: np.ndarray, cap: np.ndarray):
    """Zones with need reached by a site with capacity, merged when they reach the same sites
    (their need is interchangeable; served need is shared back pro rata).

    Returns (g, wg, gid, rows): grouped coverage rows, need per group, group of every kept zone,
    kept zones.
    """
    rows = np.flatnonzero(w > 0)
    b = (a[rows].astype(float) @ sparse.diags((cap > 0).astype(float))).tocsr()
    b.eliminate_zeros()
    keep = np.diff(b.indptr) > 0
    rows = rows[keep]
    b = b[keep].astype(bool)
    b.sort_indices()
    if b.shape[0]:
        g, wg, gid = _group_rows(b, w[rows], return_ids=True)
    else:
        g, wg, gid = b, np.zeros(0), np.zeros(0, dtype=np.int64)
    return g, wg, gid, rows


def _cap_value(g: sparse.csr_matrix, wg: np.ndarray, cap: np.ndarray, fixed: np.ndarray, cols) -> float:
    """People assigned with the fixed sites and ``cols`` open (transportation LP of :func:`_assign`)."""
    mask = fixed.copy()
    mask[list(cols)] = True
    return _assign(g, wg, cap, mask)[0]


def _cap_greedy(g: sparse.csr_matrix, wg: np.ndarray, cap: np.ndarray, fixed: np.ndarray, p: int,
                value: Callable, tol: float) -> list[int]:
    """Greedy capacity MCLP: add the site with the largest min(C_j, unserved need within reach).

    When no estimate exceeds ``tol`` (all need within reach of the closed sites is served), the
    true gains value(S + j) − value(S) are computed, since opening j can free the capacity of an
    open site for a zone only that site reaches. Stops when no site adds more than ``tol`` people.
    """
    g_csc = g.tocsc()
    reaches = np.diff(g_csc.indptr) > 0
    picked: list[int] = []
    mask = fixed.copy()
    for _ in range(p):
        _, served_g, _ = _assign(g, wg, cap, mask)
        est = np.minimum(cap, g_csc.T @ (wg - served_g))
        est[mask] = -1.0
        j = int(np.argmax(est))
        if est[j] <= tol:
            cands = np.flatnonzero(~mask & reaches)
            cur = value(picked)
            true = np.array([value([*picked, int(k)]) - cur for k in cands])
            if not len(cands) or true.max() <= tol:
                break
            j = int(cands[np.argmax(true)])
        picked.append(j)
        mask[j] = True
    return picked


def _cap_solve(g: sparse.csr_matrix, wg: np.ndarray, cap: np.ndarray, fixed: np.ndarray, p: int,
               value: Callable, opts: _SolveOptions, tol: float):
    """Sites to open (at most ``p``), status, bound and bound kind of the capacity MCLP.

    Greedy first (also the fallback of the exact method); CBC's incumbent is kept when optimal,
    or when at least as good as the greedy set after a time limit.
    """
    if p == 0:
        return [], "optimal", None, None
    picked = _cap_greedy(g, wg, cap, fixed, p, value, tol)
    status = "heuristic"
    if opts.method == "exact":
        prob, x = _mclp_cap_pulp(g, wg, cap, fixed, p, relax=False)
        status = _run(prob, opts.time_limit)
        if status == "no_solution":
            status = "heuristic_time_limit"
        else:
            solved = [int(j) for j, v in x.items() if (v.varValue or 0) > 0.5]
            # time limit hit: keep the better of CBC's incumbent and the greedy set
            if status == "optimal" or value(solved) >= value(picked):
                picked = solved
    if status == "optimal":
        return picked, status, None, None
    lp = None
    if _want_lp(opts.lp_bound, 2 * g.nnz + g.shape[0] + g.shape[1]):
        lp = _lp_value(_mclp_cap_pulp(g, wg, cap, fixed, p, relax=True)[0], opts.time_limit)
    bound, bound_kind = _bound_for("max", lp, opts.reference_objective)
    return picked, status, bound, bound_kind


def _cap_order(chosen, value: Callable, tol: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(assigned before, order, gains): greedy order within ``chosen``, zero-gain tail dropped.

    Lazy evaluation (Minoux 1978): the assigned need is submodular in the open set, so a gain
    computed earlier bounds the gain now; a site is re-evaluated only while its old gain could
    still beat the best fresh one. The LP values carry ~1e-9 noise: the reported gains are kept
    monotone (running minimum).
    """
    before = value([])
    cur_val, cur = before, []
    upper = {int(j): np.inf for j in chosen}
    order, gains = [], []
    while upper:
        best_j, best_gain = None, -np.inf
        for j in sorted(upper, key=lambda q: (-upper[q], q)):
            if best_j is not None and upper[j] <= best_gain + 1e-9 * max(1.0, abs(best_gain)):
                break
            upper[j] = value([*cur, j]) - cur_val
            if best_j is None or upper[j] > best_gain + 1e-9 * max(1.0, abs(best_gain)):
                best_j, best_gain = j, upper[j]
        del upper[best_j]
        gains.append(max(0.0, best_gain))
        cur_val += best_gain
        cur.append(best_j)
        order.append(best_j)
    gains_arr = np.minimum.accumulate(np.asarray(gains, float)) if gains else np.zeros(0)
    order_arr, gains_arr = _drop_zero_gains(np.asarray(order, int), gains_arr, tol)
    return before, order_arr, gains_arr


def mclp_capacity(weights, cost, service_time: float, capacity, p: int, *, fixed=None,
                  method: str = "exact", time_limit: float | None = 60.0,
                  lp_bound: bool | None = None,
                  reference_objective: float | None = None) -> PlanResult:
    """Capacity-aware MCLP: each open site serves at most ``capacity[j]`` people in need.

    Need is assigned fractionally to open sites within ``service_time``. ``objective`` =
    ``covered_after`` = people assigned; ``details`` give the load of every open site, the
    unserved need split into ``out_of_reach_need`` (no open site within S) and
    ``over_capacity_need`` (within reach, but the sites are full), and ``served`` per zone.
    The greedy method adds the site with the largest min(C_j, reachable unserved need), then
    re-solves the assignment (no swap step). At most ``p`` sites: one that would assign nobody
    more is not returned (``stopped_reason = "no_gain"``).
    """
    t0 = time.perf_counter()
    c, w, f, s = _common(weights, cost, fixed, service_time)
    _check_method(method)
    opts = _SolveOptions(method, False, _check_time_limit(time_limit), lp_bound, reference_objective)
    n, m = c.shape
    cap = _check_capacity(capacity, m)
    p = _check_p(p, int((~f).sum()))
    a = coverage_matrix(c, s)
    g, wg, gid, rows = _cap_reduce(a, w, cap)
    value = partial(_cap_value, g, wg, cap, f)
    tol = _zero_gain_tol(w.sum())
    picked, status, bound, bound_kind = _cap_solve(g, wg, cap, f, p, value, opts, tol)
    before, order, gains = _cap_order(picked, value, tol)

    mask = f.copy()
    mask[order] = True
    after, served_g, load = _assign(g, wg, cap, mask)
    served = np.zeros(n)
    if len(rows):
        served[rows] = w[rows] * served_g[gid] / wg[gid]
    reach_open = np.asarray(a[:, mask].sum(axis=1)).ravel() > 0 if mask.any() else np.zeros(n, bool)
    out_of_reach = float(w[~reach_open].sum())
    bound, bound_kind, gap = _status_bound_gap(status, after, bound, bound_kind)
    return PlanResult(
        model="mclp_capacity", method=method, chosen=order, marginal_gains=gains,
        newly_covered=gains.copy(), objective=after, covered_before=before, covered_after=after,
        total_need=float(w.sum()), status=status, seconds=time.perf_counter() - t0, bound=bound,
        bound_kind=bound_kind, gap=gap, fixed=np.flatnonzero(f),
        uncoverable_zones=np.flatnonzero(np.asarray(a.sum(axis=1)).ravel() == 0),
        details={"service_time": s, "served": served, "load": {int(j): float(load[j])
                 for j in np.flatnonzero(mask)}, "capacity": cap,
                 "out_of_reach_need": out_of_reach,
                 "over_capacity_need": float(w.sum() - after - out_of_reach)},
        p_requested=p, stopped_reason=_stop_reason(len(order), p),
    )


def solve_model(model: str, **kwargs) -> PlanResult:
    """Dispatch by name: ``mclp``, ``pmedian``, ``lscp`` or ``mclp_capacity`` (keyword args)."""
    funcs = {"mclp": mclp, "pmedian": p_median, "lscp": lscp, "mclp_capacity": mclp_capacity}
    if model not in funcs:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    return funcs[model](**kwargs)
