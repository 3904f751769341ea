"""People in need of digital help per zone — METHOD.md §2. Rates come from ``rates.toml``.

Precarity model (Emmaüs Connect seed figure, share p = 0.40):
    N_i = p × poor_persons_i                       (``need_method`` = "poor_persons")
    N_i = p × population_i × poverty_rate_i / 100  where poor persons are missing ("population_x_rate")
    N_i = p × population_i × τ_g                   where poverty is secret and ``impute``: τ_g is the
          poverty rate of the reference territory from summed counts Σ poor / Σ fiscal persons of
          its zones that publish it ("imputed_reference_rate", flagged ``need_imputed``).

Illectronisme model (INSEE Première n°1780, TIC 2019, rates by age among people aged 15+):
the pack's age columns give non-overlapping groups, mapped to the INSEE groups as
    15–29  = pop_15_29                         × rate 15–29
    60–74  = pop_60p − pop_75p                 × rate 60–74
             (or pop_65p − pop_75p, counted at the 60–74 rate, where only 65+ exists)
    75+    = pop_75p                           × rate 75+
    rest   = pop_age_total − pop_15_29 − pop_60p (0–14 and 30–59 together; 60–64 too when only
             65+ exists) × rate 30–59 × share of 30–59 in that rest (the pack has no 0–14 count)
    N_i = Σ of the above ("age_groups"). Where the age groups are missing:
    N_i = overall rate (17 % of 15+) × share of 15+ × population ("overall_rate", flagged).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from .fragility import _groups

RATES_PATH = Path(__file__).with_name("rates.toml")


def load_rates(path: Path | str | None = None) -> dict:
    """Read the rates file (TOML) into a dict; raises ValueError naming a missing entry."""
    p = Path(path) if path is not None else RATES_PATH
    with open(p, "rb") as fh:
        rates = tomllib.load(fh)
    required = {
        "precarity": ["share"],
        "illectronisme": ["overall_15p", "share_15p", "share_30_59_in_rest", "by_age"],
        "travel": ["detour", "walk_kmh", "car_kmh", "dense_per_km2"],
        "supply": ["default_weekly_hours", "default_staff"],
    }
    for section, keys in required.items():
        for key in keys:
            if key not in rates.get(section, {}):
                raise ValueError(f"{p}: missing [{section}] {key}; expected the entries of indicators/rates.toml")
    for g in ("15_29", "30_59", "60_74", "75p"):
        if g not in rates["illectronisme"]["by_age"]:
            raise ValueError(f"{p}: missing [illectronisme.by_age] {g!r}")
    return rates


def _col(zones: pd.DataFrame, name: str) -> np.ndarray:
    if name not in zones.columns:
        return np.full(len(zones), np.nan)
    return pd.to_numeric(zones[name], errors="coerce").to_numpy(float, na_value=np.nan)


def precarity_need(zones: pd.DataFrame, rates: dict | None = None, impute: bool = True,
                   reference_column: str | None = "code_departement") -> pd.DataFrame:
    """Precarity model: columns ``need``, ``need_method``, ``need_imputed`` (see module doc)."""
    rates = rates or load_rates()
    p = float(rates["precarity"]["share"])
    poor = _col(zones, "poor_persons")
    pop = _col(zones, "population")
    rate = _col(zones, "poverty_rate")
    need = np.full(len(zones), np.nan)
    method = np.full(len(zones), "missing", dtype=object)

    ok = np.isfinite(poor)
    need[ok] = p * poor[ok]
    method[ok] = "poor_persons"
    ok2 = ~ok & np.isfinite(pop) & np.isfinite(rate)
    need[ok2] = p * pop[ok2] * rate[ok2] / 100.0
    method[ok2] = "population_x_rate"

    imputed = np.zeros(len(zones), dtype=bool)
    if impute:
        todo = ~np.isfinite(need) & np.isfinite(pop)
        if todo.any():
            col = reference_column if (reference_column is None or reference_column in zones.columns) else None
            codes, uniques = _groups(zones, col)
            fiscal = _col(zones, "fiscal_persons")
            pair = np.isfinite(poor) & np.isfinite(fiscal)
            s_poor = np.bincount(codes[pair], weights=poor[pair], minlength=len(uniques))
            s_fisc = np.bincount(codes[pair], weights=fiscal[pair], minlength=len(uniques))
            with np.errstate(invalid="ignore", divide="ignore"):
                tau = np.where(s_fisc > 0, s_poor / s_fisc, np.nan)
            t = tau[codes]
            fill = todo & np.isfinite(t)
            need[fill] = p * pop[fill] * t[fill]
            method[fill] = "imputed_reference_rate"
            imputed = fill
    return pd.DataFrame({"need": need, "need_method": method, "need_imputed": imputed}, index=zones.index)


def illectronisme_need(zones: pd.DataFrame, rates: dict | None = None, fallback: bool = True) -> pd.DataFrame:
    """Illectronisme model: Σ age group × INSEE rate; overall rate where groups are missing (flagged)."""
    rates = rates or load_rates()
    ill = rates["illectronisme"]
    r = {k: float(v) for k, v in ill["by_age"].items()}
    share_rest = float(ill["share_30_59_in_rest"])
    tot = _col(zones, "pop_age_total")
    a1529 = _col(zones, "pop_15_29")
    p60 = _col(zones, "pop_60p")
    p65 = _col(zones, "pop_65p")
    p75 = _col(zones, "pop_75p")
    pop = _col(zones, "population")

    senior = np.where(np.isfinite(p60), p60, p65)  # 60+ where it exists, else 65+
    ok = np.isfinite(tot) & np.isfinite(a1529) & np.isfinite(senior) & np.isfinite(p75)
    g6074 = np.maximum(senior - p75, 0.0)
    rest = np.maximum(tot - a1529 - senior, 0.0)  # inconsistent counts never give negative people
    need_age = (r["15_29"] * a1529 + r["60_74"] * g6074 + r["75p"] * p75
                + r["30_59"] * share_rest * rest)
    need = np.where(ok, need_age, np.nan)
    method = np.where(ok, np.where(np.isfinite(p60), "age_groups", "age_groups_65p"), "missing").astype(object)
    imputed = np.zeros(len(zones), dtype=bool)
    if fallback:
        fb = ~ok & np.isfinite(pop)
        need[fb] = float(ill["overall_15p"]) * float(ill["share_15p"]) * pop[fb]
        method[fb] = "overall_rate"
        imputed = fb
    return pd.DataFrame({"need": need, "need_method": method, "need_imputed": imputed}, index=zones.index)


def people_in_need(zones: pd.DataFrame, model: str = "precarity", rates: dict | None = None,
                   impute: bool = True, reference_column: str | None = "code_departement") -> pd.DataFrame:
    """People in need per zone with the chosen model ("precarity" or "illectronisme").

    Returns ``need`` (people, NaN when it cannot be estimated), ``need_method`` (which formula was
    used) and ``need_imputed`` (True where an estimate replaced missing data).
    """
    if model == "precarity":
        return precarity_need(zones, rates, impute=impute, reference_column=reference_column)
    if model == "illectronisme":
        return illectronisme_need(zones, rates, fallback=impute)
    raise ValueError(f"unknown need model {model!r}; expected 'precarity' or 'illectronisme'")


__all__ = ["load_rates", "people_in_need", "precarity_need", "illectronisme_need", "RATES_PATH"]
