"""Poor people of communes under statistical secrecy (Filosofi 2021) — METHOD.md §8.

INSEE does not publish the poverty rate TP60 of small communes (Isère: 85 of 512 communes publish
it), but it publishes their fiscal persons and, for most, their median income. Giving them the rate
of the communes that publish (larger and poorer) overstates their need several times, so each
secret commune c gets an estimate built from what is published about it:

1. **Model** (fitted once on the published communes of France with fewer than
   :data:`MODEL_MAX_FISCAL_PERSONS` fiscal persons, the closest to the secret ones):

       logit(τ_c) = β0 + β1 · ln(MED_c) + β2 · ln(persons per fiscal household_c)

   by least squares on logit(TP60 / 100).
2. **Calibration on what is published above them.** Where an EPCI's own rate τ_E is published
   (INSEE comparator), its secret communes S_E share what the published communes P_E leave:

       R_E = τ_E · F_E − Σ_{P_E} τ_p · F_p        (F = fiscal persons, F_E = Σ over all members)
       poor_c = max(R_E, 0) · m_c / Σ_{S_E} m_c    (m_c = model poor people τ_c · F_c)

   Everywhere else the model is scaled by κ = Σ_E max(R_E, 0) / Σ_E Σ_{S_E} m_c over those EPCIs:
   the model overstates the residuals (small communes are more homogeneous than larger ones of
   the same median income), and κ corrects it with the only published totals the data holds.
   Rates are published rounded to the unit, so R_E is uncertain by about ±0,3 point of τ_E · F_E
   (one standard deviation ≈ 0,29 % of the published communes' fiscal persons).
3. A secret commune without a published median gets the fiscal-person-weighted mean estimated
   rate of the secret communes of its département; without published fiscal persons, F_c is its
   population × the département's ratio Σ F / Σ population (both flagged in ``poverty_method``).

``poverty_method`` values: ``published``, ``model_epci`` (calibrated on the EPCI's published rate),
``model_kappa`` (model × κ), ``departement_mean`` (no median), plus ``+fiscal_from_population``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: published communes used to fit the model: fewer fiscal persons than this (secret communes
#: have a median of ≈ 430 and a maximum of ≈ 5 500 fiscal persons in Filosofi 2021)
MODEL_MAX_FISCAL_PERSONS = 5000


@dataclass(frozen=True)
class PovertyModel:
    """logit(τ) = β0 + β1 ln(median income) + β2 ln(persons per household), fitted on ``n`` communes."""

    beta: tuple[float, float, float]
    n: int
    mae_points: float  # mean absolute error on the fitting communes, in points of %

    def rate(self, median_income, persons_per_household) -> np.ndarray:
        """Modelled poverty rate τ (0–1)."""
        x = (self.beta[0] + self.beta[1] * np.log(np.asarray(median_income, float))
             + self.beta[2] * np.log(np.asarray(persons_per_household, float)))
        return 1.0 / (1.0 + np.exp(-x))


def _design(df: pd.DataFrame) -> np.ndarray:
    hh = df["fiscal_persons"] / df["fiscal_households"]
    return np.column_stack([np.ones(len(df)), np.log(df["median_income"]), np.log(hh)])


def fit_model(filosofi: pd.DataFrame, max_fiscal_persons: float = MODEL_MAX_FISCAL_PERSONS) -> PovertyModel:
    """Least squares of logit(TP60/100) on the published communes below ``max_fiscal_persons``."""
    f = filosofi
    ok = (f["poverty_rate"].between(0, 100, inclusive="neither") & (f["median_income"] > 0)
          & (f["fiscal_households"] > 0) & (f["fiscal_persons"] > 0) & (f["fiscal_persons"] < max_fiscal_persons))
    if ok.sum() < 30:
        raise ValueError(f"only {int(ok.sum())} published communes to fit the poverty model; expected at least 30")
    d = f[ok]
    y = d["poverty_rate"].to_numpy(float) / 100.0
    beta = np.linalg.lstsq(_design(d), np.log(y / (1.0 - y)), rcond=None)[0]
    model = PovertyModel(tuple(float(b) for b in beta), int(ok.sum()), 0.0)
    mae = float(np.mean(np.abs(model.rate(d["median_income"], d["fiscal_persons"] / d["fiscal_households"]) - y)) * 100)
    return PovertyModel(model.beta, model.n, round(mae, 3))


def _prepare(filosofi: pd.DataFrame, population: pd.Series, model: PovertyModel) -> tuple[pd.DataFrame, pd.Series]:
    """Per commune: fiscal persons used (published, else population × the département's ratio),
    the model's poor people ``model_poor`` for the secret communes with a published median, and
    the département code."""
    f = filosofi.set_index("code_commune")[["fiscal_households", "fiscal_persons", "median_income", "poverty_rate"]].copy()
    dep = pd.Series([c[:3] if c.startswith("97") else c[:2] for c in f.index], index=f.index)
    pop = population.reindex(f.index).astype(float)
    both = f["fiscal_persons"].notna() & pop.gt(0)
    ratio = f.loc[both, "fiscal_persons"].groupby(dep[both]).sum() / pop[both].groupby(dep[both]).sum()
    f["fiscal_persons_used"] = f["fiscal_persons"].fillna(pop * dep.map(ratio))
    hh = f["fiscal_persons"] / f["fiscal_households"]
    f["modelled"] = f["poverty_rate"].isna() & f["median_income"].gt(0) & hh.gt(0)
    rate = model.rate(f["median_income"].where(f["modelled"]), hh.where(f["modelled"]))
    f["model_poor"] = np.where(f["modelled"], rate * f["fiscal_persons_used"], np.nan)
    return f, dep


def _kappa(f: pd.DataFrame, published_epci_rates: Mapping[str, float]) -> tuple[float, dict]:
    """κ = Σ_E max(R_E, 0) / Σ_E Σ model poor of E's secret communes (module doc), and the EPCIs used."""
    used, residuals, model_sums = {}, 0.0, 0.0
    for siren, rate in published_epci_rates.items():
        m = f[f["code_epci"] == siren]
        if m.empty or not np.isfinite(rate) or m["fiscal_persons_used"].isna().any():
            continue
        published = m["poverty_rate"].notna()
        poor_pub = float((m.loc[published, "poverty_rate"] / 100.0 * m.loc[published, "fiscal_persons"]).sum())
        residual = float(rate) / 100.0 * float(m["fiscal_persons_used"].sum()) - poor_pub
        model_sum = float(m.loc[~published, "model_poor"].sum())
        used[siren] = {"published_rate": float(rate), "residual_poor": residual, "model_poor": model_sum}
        residuals, model_sums = residuals + max(residual, 0.0), model_sums + model_sum
    return (residuals / model_sums if model_sums > 0 else 1.0), used


def estimate(filosofi: pd.DataFrame, population: pd.Series, epci_members: pd.DataFrame,
             published_epci_rates: Mapping[str, float], model: PovertyModel | None = None) -> pd.DataFrame:
    """Poor people of every commune of ``filosofi`` (published, or estimated as in the module doc).

    ``population``: inhabitants by commune code (to estimate missing fiscal persons);
    ``epci_members``: ``code_epci``, ``code_commune``; ``published_epci_rates``: {SIREN: τ_E in %}.
    Returns, indexed by ``code_commune``: ``fiscal_persons``, ``poor_persons``, ``poverty_method``,
    and ``attrs["calibration"]`` (κ, the EPCIs used with R_E and the model sum, the model's fit).
    """
    model = model or fit_model(filosofi)
    f, dep = _prepare(filosofi, population, model)
    f["code_epci"] = epci_members.drop_duplicates("code_commune").set_index("code_commune")["code_epci"].reindex(f.index)
    kappa, used = _kappa(f, published_epci_rates)
    secret = f["poverty_rate"].isna() & f["fiscal_persons_used"].notna()
    method = pd.Series(np.where(f["poverty_rate"].notna(), "published", "missing"), index=f.index, dtype=object)
    poor = (f["poverty_rate"] / 100.0 * f["fiscal_persons"]).where(f["poverty_rate"].notna(), f["model_poor"] * kappa)
    method[f["modelled"]] = "model_kappa"
    # secret communes without a published median: the département's mean estimated rate
    dep_rate = poor[f["modelled"]].groupby(dep[f["modelled"]]).sum() / f.loc[f["modelled"], "fiscal_persons_used"].groupby(dep[f["modelled"]]).sum()
    rest = secret & ~f["modelled"]
    poor[rest] = f.loc[rest, "fiscal_persons_used"] * dep[rest].map(dep_rate)
    method[rest & poor.notna()] = "departement_mean"
    method[secret & f["fiscal_persons"].isna() & poor.notna()] += "+fiscal_from_population"
    # EPCIs that publish their own rate: their modelled secret communes share what is left
    for siren, info in used.items():
        inside = (f["code_epci"] == siren) & f["modelled"]
        left = max(info["residual_poor"] - float(poor[(f["code_epci"] == siren) & rest].sum()), 0.0)
        if info["model_poor"] > 0:
            poor[inside] = f.loc[inside, "model_poor"] * left / info["model_poor"]
            method[inside] = method[inside].str.replace("model_kappa", "model_epci", regex=False)
    out = pd.DataFrame({"fiscal_persons": f["fiscal_persons_used"], "poor_persons": poor, "poverty_method": method})
    epcis = {k: {n: round(v, 1) for n, v in info.items()} for k, info in used.items()}
    out.attrs["calibration"] = {"kappa": round(kappa, 4), "epcis": epcis, "model_beta": list(model.beta),
                                "model_n": model.n, "model_mae_points": model.mae_points}
    return out


__all__ = ["MODEL_MAX_FISCAL_PERSONS", "PovertyModel", "fit_model", "estimate"]
