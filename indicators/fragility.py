"""Digital fragility index (La Mednum IFN 2023 / 2019, DERI-style options) — METHOD.md §1.

For each indicator k with value v_ik in zone i and reference set g(i) (zones sharing the reference
code: région, département, EPCI, or the whole table), the score s_ik is oriented so that higher
means more fragile:

- ``decile``:  s = ceil(10 · r / n), r = average rank of v among the n observed values of g
  (r = #{x < v} + (#{x = v} + 1) / 2), so the top tenth scores 10 and ties share a score.
- ``ratio``:   s = 100 · v / v_ref (IFN 2019), v_ref = the indicator of the reference territory
  computed from its *summed counts* (Σ num / Σ den over the zones of g; for non-additive values
  the median of g, unless `reference_values` gives the published value). Reversed indicators
  (lower = more fragile, e.g. median income) use 100 · v_ref / v.
- ``minmax``:  s = 10 · (v − min) / (max − min) over g (DERI), reversed as 10 · (max − v) / (max − min);
  a constant indicator scores 5.

Weights w_k are integers 0–10 normalised by their sum. Total (set "indicators", IFN 2023):
T_i = Σ_k w_k s_ik / Σ_k w_k. Total (set "axes", IFN 2019): axis score a = Σ_{k∈a} w_k s_k / Σ_{k∈a} w_k,
T_i = mean of the axis scores. The contribution of k is its share of T_i (w_k s_ik / Σ w, divided
by the number of axes in axis mode), so contributions sum to the total exactly.

Missing values (policy ``missing``):
- ``median``: v is replaced by the median of the observed values of g (as the 2019 IFN did with the
  département median) and flagged ``imputed_<k>``; the observed distribution alone defines the
  normalisation. Where g has no observed value at all, the indicator is left out of that zone's total.
- ``unscored``: a zone with any missing indicator gets a NaN total.
- ``available``: the total is the weighted mean over the indicators the zone has.
``n_indicators`` says how many indicators entered each total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .definitions import (
    CATALOGUE,
    DEFAULT_CONFIG,
    SETS,
    Config,
    effective_reference,
    estimated_fraction,
    indicator_values,
)

_RATE_KINDS = {"rate": 100.0, "complement": 100.0, "per10k": 10_000.0}


def _groups(zones: pd.DataFrame, column: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Integer group code per zone (missing reference codes form their own group) and uniques."""
    if column is None:
        return np.zeros(len(zones), dtype=np.intp), np.array(["all"], dtype=object)
    if column not in zones.columns:
        raise ValueError(
            f"reference column {column!r} is missing from the zone table; expected one of the "
            "parent code columns of SCHEMA.md (code_region, code_departement, code_epci)"
        )
    codes, uniques = pd.factorize(zones[column], use_na_sentinel=False)
    return codes.astype(np.intp), np.asarray(uniques, dtype=object)


def decile_scores(values: np.ndarray, observed: np.ndarray, higher_is_more_fragile: bool = True) -> np.ndarray:
    """Decile 1–10 of each value against the observed sample: ceil(10 · r / n), r average rank."""
    values = np.asarray(values, dtype=float)
    obs = np.asarray(observed, dtype=float)
    obs = obs[np.isfinite(obs)]
    out = np.full(values.shape, np.nan)
    if obs.size == 0:
        return out
    if not higher_is_more_fragile:
        values, obs = -values, -obs
    obs = np.sort(obs)
    ok = np.isfinite(values)
    left = np.searchsorted(obs, values[ok], side="left")
    right = np.searchsorted(obs, values[ok], side="right")
    r = left + (right - left + 1) / 2.0
    out[ok] = np.clip(np.ceil(10.0 * r / obs.size), 1, 10)
    return out


def minmax_scores(values: np.ndarray, observed: np.ndarray, higher_is_more_fragile: bool = True) -> np.ndarray:
    """10 · (v − min) / (max − min) over the observed sample (reversed if lower = more fragile)."""
    values = np.asarray(values, dtype=float)
    obs = np.asarray(observed, dtype=float)
    obs = obs[np.isfinite(obs)]
    if obs.size == 0:
        return np.full(values.shape, np.nan)
    lo, hi = obs.min(), obs.max()
    if hi == lo:
        return np.where(np.isfinite(values), 5.0, np.nan)
    s = 10.0 * (values - lo) / (hi - lo)
    return s if higher_is_more_fragile else 10.0 - s


def ratio_scores(values: np.ndarray, reference: float, higher_is_more_fragile: bool = True) -> np.ndarray:
    """100 · v / v_ref, or 100 · v_ref / v when lower = more fragile; NaN if undefined."""
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, np.nan)
    if not np.isfinite(reference) or reference <= 0:
        return out
    if higher_is_more_fragile:
        ok = np.isfinite(values)
        out[ok] = 100.0 * values[ok] / reference
    else:
        ok = np.isfinite(values) & (values > 0)
        out[ok] = 100.0 * reference / values[ok]
    return out


def _numerator_denominator(zones: pd.DataFrame, key: str, fallback: np.ndarray):
    ind = CATALOGUE[key]
    num = pd.to_numeric(zones[ind.num], errors="coerce").to_numpy(float, na_value=np.nan) if ind.num in zones else np.full(len(zones), np.nan)
    if ind.fallback_num and ind.fallback_num in zones:
        alt = pd.to_numeric(zones[ind.fallback_num], errors="coerce").to_numpy(float, na_value=np.nan)
        num = np.where(fallback, alt, num)
    den = pd.to_numeric(zones[ind.den], errors="coerce").to_numpy(float, na_value=np.nan) if ind.den and ind.den in zones else np.full(len(zones), np.nan)
    return num, den


def reference_values_from_counts(zones: pd.DataFrame, key: str, codes: np.ndarray, n_groups: int,
                                 fallback: np.ndarray | None = None) -> np.ndarray:
    """Indicator of each reference territory from its summed counts (pairwise-complete zones).

    rate: 100 Σnum/Σden; complement: 100 − 100 Σnum/Σden; per10k: 10 000 Σnum/Σden;
    value indicators (non-additive): NaN here (the caller uses the group median instead).
    """
    ind = CATALOGUE[key]
    if ind.kind not in _RATE_KINDS:
        return np.full(n_groups, np.nan)
    fb = np.zeros(len(zones), dtype=bool) if fallback is None else fallback
    num, den = _numerator_denominator(zones, key, fb)
    ok = np.isfinite(num) & np.isfinite(den)
    s_num = np.bincount(codes[ok], weights=num[ok], minlength=n_groups)
    s_den = np.bincount(codes[ok], weights=den[ok], minlength=n_groups)
    out = np.full(n_groups, np.nan)
    good = s_den > 0
    out[good] = _RATE_KINDS[ind.kind] * s_num[good] / s_den[good]
    if ind.kind == "complement":
        out = 100.0 - out
    return out


def _national_observed(national: pd.DataFrame | None, key: str, level: str | None) -> pd.DataFrame | None:
    """National values of `key` (rows of the pack's ``reference_france``), at the département
    level summed by département (Σ num / Σ den); None when the indicator has no national table."""
    if national is None or level not in ("commune", "departement"):
        return None
    rows = national[national["indicator"] == key]
    if rows.empty:
        return None
    if level == "departement":
        ind = CATALOGUE[key]
        if ind.kind not in _RATE_KINDS:
            return None
        dep = rows["code"].str[:3].where(rows["code"].str.startswith("97"), rows["code"].str[:2])
        sums = rows.groupby(dep)[["num", "den"]].sum()
        value = _RATE_KINDS[ind.kind] * sums["num"] / sums["den"]
        rows = pd.DataFrame({"num": sums["num"], "den": sums["den"], "value": 100.0 - value if ind.kind == "complement" else value})
    return rows


def _national_reference_value(rows: pd.DataFrame, key: str) -> float:
    """v_ref of the ratio normalisation over France: from summed counts, else the median value."""
    if CATALOGUE[key].kind in _RATE_KINDS and rows["den"].sum() > 0:
        v = _RATE_KINDS[CATALOGUE[key].kind] * rows["num"].sum() / rows["den"].sum()
        return 100.0 - v if CATALOGUE[key].kind == "complement" else float(v)
    return float(rows["value"].median())


def _normalise(v: np.ndarray, obs: np.ndarray, ind, normalisation: str, ref: float) -> np.ndarray:
    if normalisation == "decile":
        return decile_scores(v, obs, ind.higher_is_more_fragile)
    if normalisation == "minmax":
        return minmax_scores(v, obs, ind.higher_is_more_fragile)
    return ratio_scores(v, ref, ind.higher_is_more_fragile)


def _indicator_scores(zones: pd.DataFrame, key: str, config: Config, groups: tuple, scored: np.ndarray,
                      reference_values: pd.DataFrame | None, national_rows: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Score s_ik of one indicator over its reference sets (module doc), with median imputation.

    Only the scored (inhabited) zones form the observed distribution. With national rows, the
    observed sample and v_ref are national (one reference set: France)."""
    codes, uniques, order, bounds = groups
    ind = CATALOGUE[key]
    vals, fb = indicator_values(zones, ind)
    vals = np.where(scored, vals, np.nan)
    observed = np.isfinite(vals)
    imputed, filled, s = np.zeros(len(zones), dtype=bool), vals.copy(), np.full(len(zones), np.nan)
    ref_counts = reference_values_from_counts(zones, key, codes, len(uniques), fb) if config.normalisation == "ratio" else None
    for g in range(len(uniques)):
        idx = order[bounds[g]:bounds[g + 1]]
        obs = national_rows["value"].to_numpy(float) if national_rows is not None else vals[idx][observed[idx]]
        miss = idx[~observed[idx] & scored[idx]]
        if config.missing == "median" and obs.size and miss.size:
            filled[miss], imputed[miss] = np.median(obs), True
        ref = np.nan
        if config.normalisation == "ratio":
            if national_rows is not None:
                ref = _national_reference_value(national_rows, key)
            elif reference_values is not None and key in reference_values.columns and uniques[g] in reference_values.index:
                ref = float(reference_values.at[uniques[g], key])
            elif ref_counts is not None and np.isfinite(ref_counts[g]):
                ref = ref_counts[g]
            elif obs.size:
                ref = float(np.median(obs))
        s[idx] = _normalise(filled[idx], obs, ind, config.normalisation, ref)
    s = np.where(scored, s, np.nan)
    out = {f"value_{key}": np.where(scored, vals, indicator_values(zones, ind)[0]), f"score_{key}": s,
           f"imputed_{key}": imputed & np.isfinite(s), f"estimated_{key}": np.where(imputed, 1.0, estimated_fraction(zones, ind))}
    if ind.fallback_num:
        out[f"fallback_{key}"] = fb
    return out


def _totals(scores: np.ndarray, w: np.ndarray, keys: list[str], axes: dict[str, list[str]], axis_mode: bool,
            missing: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(total T_i, contributions, axis scores) — module doc: weighted means, contributions sum to T_i."""
    n = len(scores)
    have = np.isfinite(scores)
    s0 = np.where(have, scores, 0.0)
    contrib = np.full((n, len(keys)), np.nan)
    axis_scores: dict[str, np.ndarray] = {}
    parts = []
    for a, ks in axes.items():
        cols = [keys.index(k) for k in ks]
        wa = w[cols]
        wsum = (have[:, cols] * wa).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            axis_scores[a] = np.where(wsum > 0, (s0[:, cols] * wa).sum(axis=1) / wsum, np.nan)
        parts.append((cols, wa, wsum, np.isfinite(axis_scores[a])))
    with np.errstate(invalid="ignore", divide="ignore"):
        if axis_mode:
            n_axes = np.sum([p[3] for p in parts], axis=0)
            total = np.where(n_axes > 0, np.nansum([np.where(p[3], axis_scores[a], 0.0) for a, p in zip(axes, parts, strict=True)], axis=0) / n_axes, np.nan)
            for cols, wa, wsum, present in parts:
                for j, c in enumerate(cols):
                    contrib[:, c] = np.where(present & have[:, c], wa[j] * scores[:, c] / wsum / n_axes, 0.0)
        else:
            wsum = (have * w).sum(axis=1)
            contrib = np.where(have, s0 * w / wsum[:, None], 0.0)
            total = np.where(wsum > 0, (s0 * w).sum(axis=1) / wsum, np.nan)
    if missing == "unscored":
        total = np.where(have.all(axis=1), total, np.nan)
        for a in axis_scores:
            axis_scores[a] = np.where(have[:, [keys.index(k) for k in axes[a]]].all(axis=1), axis_scores[a], np.nan)
    contrib[~np.isfinite(total), :] = np.nan
    return total, contrib, axis_scores


def fragility(zones: pd.DataFrame, config: Config = DEFAULT_CONFIG,
              reference_values: pd.DataFrame | None = None, *, national: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fragility index of every zone (same index as `zones`).

    `reference_values` (optional): indicator values of the reference territories, indexed by the
    reference code (e.g. ``indicator_table(pack['departement'].set_index('code'), keys)``), used
    by the ``ratio`` normalisation instead of the values recomputed from the zones' counts.
    `national`: the pack's ``reference_france`` table, used when the (effective) reference is
    « france ». The reference moves up when the zones are the reference level itself
    (:func:`indicators.definitions.effective_reference`). Zones with a population of 0 (no
    residents) are not scored.

    Columns: ``value_<k>``, ``score_<k>``, ``contrib_<k>``, ``imputed_<k>`` (median-filled),
    ``estimated_<k>`` (0–1: share of the value resting on estimated inputs, 1 when median-filled),
    ``axis_<axis>``, ``score`` (total), ``measured_share`` (share of the score coming from measured
    data: Σ_k contrib_k (1 − estimated_k) / T), ``n_indicators``, ``n_imputed``,
    ``reference_code``, ``reference`` (the reference used), ``national_keys`` (indicators ranked
    against France, ';'-joined), ``uninhabited``.
    """
    weights = config.weight_map
    keys = [k for k in config.indicator_keys if weights[k] > 0]
    if not keys:
        raise ValueError("all indicator weights are 0; at least one weight must be between 1 and 10")
    ind_set = SETS[config.indicator_set]
    axis_of = {k: a for a, ks in ind_set.axes for k in ks}
    axes: dict[str, list[str]] = {}
    for k in keys:
        axes.setdefault(axis_of.get(k, "autres"), []).append(k)

    level = str(zones["level"].iloc[0]) if "level" in zones.columns and len(zones) else None
    reference = effective_reference(level, config.reference)
    cfg = config if reference == config.reference else config.replace(reference=reference)
    pop = pd.to_numeric(zones["population"], errors="coerce").to_numpy(float) if "population" in zones.columns else np.full(len(zones), np.nan)
    scored = ~(pop == 0)
    codes, uniques = _groups(zones, cfg.reference_column)
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(uniques)))])
    out: dict[str, np.ndarray] = {}
    national_keys = []
    for k in keys:
        rows = _national_observed(national, k, level) if reference == "france" else None
        national_keys += [k] if rows is not None else []
        out.update(_indicator_scores(zones, k, cfg, (codes, uniques, order, bounds), scored, reference_values, rows))
    scores = np.column_stack([out[f"score_{k}"] for k in keys])
    w = np.array([weights[k] for k in keys], dtype=float)
    total, contrib, axis_scores = _totals(scores, w, keys, axes, ind_set.total == "axes", cfg.missing)
    est = np.column_stack([out[f"estimated_{k}"] for k in keys])
    for col, k in enumerate(keys):
        out[f"contrib_{k}"] = contrib[:, col]
    for a, v in axis_scores.items():
        out[f"axis_{a}"] = v
    out["score"] = total
    with np.errstate(invalid="ignore", divide="ignore"):
        out["measured_share"] = np.where(total > 0, np.nansum(contrib * (1.0 - est), axis=1) / total, np.where(np.isfinite(total), 1.0 - est.mean(axis=1), np.nan))
    out["n_indicators"] = np.where(np.isfinite(total), np.isfinite(scores).sum(axis=1), 0).astype(int)
    out["n_imputed"] = np.sum([out[f"imputed_{k}"] for k in keys], axis=0).astype(int)
    out["reference_code"] = uniques[codes] if reference != "france" else np.full(len(zones), "FR", dtype=object)
    out["reference"] = reference
    out["national_keys"] = ";".join(national_keys)
    out["uninhabited"] = ~scored
    return pd.DataFrame(out, index=zones.index)


__all__ = [
    "fragility", "decile_scores", "minmax_scores", "ratio_scores", "reference_values_from_counts",
]
