"""Unmet need, bivariate classes, priority ranking and its robustness — METHOD.md §5.

- Target T (hours per person in need per week): a user value, or the median of A over the zones of
  the reference set (zones with a finite A), one target per reference territory.
- Unmet people: U_i = N_i × max(0, 1 − A_i / T_i). NaN where N, A or T is missing, or T ≤ 0.
- Bivariate class "n-a": need tercile n × access tercile a (1 = lowest third), terciles by average
  rank r over the zones that have both values: t = ceil(3 r / n). "3-1" = high need, low access.
- Priority rank: 1 = largest U_i (NaN last).
- Robustness: share of Monte-Carlo draws (seeded numpy Generator) in which a zone is in the top
  decile (the ceil(10 %) highest of the scored zones), when the index weights (integers 0–10),
  normalisation and reference territory are drawn at random; for the unmet need, the reference of
  the target T varies (so with a user-set target the unmet ranking does not move).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .definitions import NORMALISATIONS, REFERENCE_COLUMNS, Config
from .fragility import _groups, fragility


def targets(access, groups=None, target: float | None = None) -> np.ndarray:
    """T per zone: `target` everywhere if given (must be > 0), else the median finite A of each group."""
    A = np.asarray(access, dtype=float)
    if target is not None:
        if not (np.isfinite(target) and target > 0):
            raise ValueError(f"target must be a positive number of hours per person per week, got {target!r}")
        return np.full(A.shape, float(target))
    codes = np.zeros(A.shape, dtype=np.intp) if groups is None else np.asarray(groups, dtype=np.intp)
    T = np.full(A.shape, np.nan)
    ok = np.isfinite(A)
    for g in np.unique(codes):
        m = codes == g
        vals = A[m & ok]
        if vals.size:
            T[m] = np.median(vals)
    return T


def unmet_need(need, access, target) -> np.ndarray:
    """U_i = N_i × max(0, 1 − A_i / T_i); NaN where an input is missing or T_i ≤ 0."""
    N = np.asarray(need, dtype=float)
    A = np.asarray(access, dtype=float)
    T = np.broadcast_to(np.asarray(target, dtype=float), N.shape)
    out = np.full(N.shape, np.nan)
    ok = np.isfinite(N) & np.isfinite(A) & np.isfinite(T) & (T > 0)
    out[ok] = N[ok] * np.maximum(0.0, 1.0 - A[ok] / T[ok])
    return out


def quantile_class(values, k: int) -> np.ndarray:
    """Class 1..k by average rank among finite values (ceil(k r / n)); 0 where the value is missing."""
    v = np.asarray(values, dtype=float)
    out = np.zeros(v.shape, dtype=int)
    ok = np.isfinite(v)
    if ok.any():
        r = pd.Series(v[ok]).rank(method="average").to_numpy()
        out[ok] = np.clip(np.ceil(k * r / ok.sum()), 1, k).astype(int)
    return out


def bivariate_terciles(need_measure, access) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Need tercile, access tercile (1 = lowest; 0 = missing) and class 'n-a', over the zones that
    have both values; '' where either is missing."""
    nm = np.asarray(need_measure, dtype=float)
    am = np.asarray(access, dtype=float)
    both = np.isfinite(nm) & np.isfinite(am)
    n = quantile_class(np.where(both, nm, np.nan), 3)
    a = quantile_class(np.where(both, am, np.nan), 3)
    cls = np.where(both, np.char.add(np.char.add(n.astype(str), "-"), a.astype(str)), "").astype(object)
    return n, a, cls


def bivariate_class(need_measure, access) -> np.ndarray:
    """'n-a' strings: need tercile × access tercile (1 = lowest); '' where either is missing."""
    return bivariate_terciles(need_measure, access)[2]


def priority_rank(unmet) -> np.ndarray:
    """Rank 1 = largest unmet need; ties share the smallest rank; NaN zones get NaN rank."""
    U = np.asarray(unmet, dtype=float)
    return pd.Series(U).rank(method="min", ascending=False, na_option="keep").to_numpy()


def top_decile(values) -> np.ndarray:
    """True for the ceil(10 %) largest finite values (ties at the cut included)."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    out = np.zeros(v.shape, dtype=bool)
    n = int(ok.sum())
    if n == 0:
        return out
    k = int(np.ceil(0.1 * n))
    cut = np.sort(v[ok])[::-1][k - 1]
    out[ok] = v[ok] >= cut
    return out


def robustness(zones: pd.DataFrame, config: Config, need=None, access=None, n_draws: int = 100,
               seed: int = 0, references: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Monte-Carlo probability of staying in the top decile, per zone.

    Each draw picks integer weights 0–10 for the indicators (not all 0), a normalisation among
    decile / ratio / minmax and a reference among `references` (default: the reference columns
    present in `zones`, plus "all"). ``p_top_score`` uses the fragility total; when `need` and
    `access` are given, ``p_top_unmet`` uses U with the target T = median A of the drawn reference.
    Also returns ``top_score`` / ``top_unmet`` for the configuration itself.
    """
    if n_draws < 1:
        raise ValueError("n_draws must be ≥ 1")
    rng = np.random.default_rng(seed)
    if references is None:
        references = tuple(r for r, c in REFERENCE_COLUMNS.items() if c is None or c in zones.columns)
    keys = config.indicator_keys
    n = len(zones)
    hits_s = np.zeros(n)
    hits_u = np.zeros(n)
    with_unmet = need is not None and access is not None
    group_codes = {r: _groups(zones, REFERENCE_COLUMNS[r])[0] for r in references}
    for _ in range(n_draws):
        w = rng.integers(0, 11, size=len(keys))
        while w.sum() == 0:
            w = rng.integers(0, 11, size=len(keys))
        norm = NORMALISATIONS[rng.integers(len(NORMALISATIONS))]
        ref = references[rng.integers(len(references))]
        cfg = config.replace(indicators=tuple(keys), weights=tuple(zip(keys, map(int, w), strict=False)),
                             normalisation=norm, reference=ref)
        hits_s += top_decile(fragility(zones, cfg)["score"].to_numpy())
        if with_unmet:
            T = targets(access, group_codes[ref], config.target)
            hits_u += top_decile(unmet_need(need, access, T))
    out = {"p_top_score": hits_s / n_draws,
           "top_score": top_decile(fragility(zones, config)["score"].to_numpy())}
    if with_unmet:
        out["p_top_unmet"] = hits_u / n_draws
        ref_codes = _groups(zones, config.reference_column)[0]
        out["top_unmet"] = top_decile(unmet_need(need, access, targets(access, ref_codes, config.target)))
    return pd.DataFrame(out, index=zones.index)


__all__ = [
    "targets", "unmet_need", "quantile_class", "bivariate_terciles", "bivariate_class", "priority_rank", "top_decile",
    "robustness",
]
