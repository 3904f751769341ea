"""The reference « France » of the fragility index at commune level — METHOD.md §1 and §8.

The national files of the raw directory cover every commune of France (metropolitan France for
the 4G coverage): ARCEP « Ma connexion internet » 2019, ARCEP 4G coverage 2019 T3, Filosofi 2021
(with the estimates of the secret communes, :mod:`loaders.secret_poverty`), the RP 2017 rates,
the RP2021 comparator. This module turns them into one long table, one row per (indicator,
commune of the source's own geography), with the same definitions as the pack's indicators:

- ``value``: the indicator (% or €), computed like :mod:`indicators.definitions`;
- ``num`` / ``den``: its counts (or weights), so that the national value of a rate is
  Σ num / Σ den (ratio normalisation); for a rate published without counts (RP 2017) the weight is
  the commune's population (RP2021), so the national value is a population-weighted mean;
- ``estimated``: True where the value rests on an estimate (secret poverty rates).

Indicators without a national table here (age groups, household types, the 4G-antenna distance…)
are absent: the index keeps the région as their reference and says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from loaders import arcep, assemble, insee
from loaders.assemble import CommuneInputs

#: indicator keys of ``indicators.definitions.CATALOGUE`` that have a national distribution
NATIONAL_INDICATORS = ("no_thd", "no_4g", "poverty", "age65", "low_diploma", "unemployment", "median_income")


def _frame(indicator: str, code, num, den, value, estimated=False) -> pd.DataFrame:
    df = pd.DataFrame({"indicator": indicator, "code": pd.Series(code).astype(str).to_numpy(),
                       "num": np.asarray(num, float), "den": np.asarray(den, float), "value": np.asarray(value, float)})
    df["estimated"] = np.broadcast_to(np.asarray(estimated, bool), len(df))
    return df[np.isfinite(df["value"])]


def national_reference(raw_dir, inputs: CommuneInputs) -> pd.DataFrame:
    """Long table ``indicator, code, num, den, value, estimated`` over the communes of France."""
    thd = arcep.load_thd_2019(raw_dir)
    thd_ok = thd["premises_2019"] > 0
    thd = thd[thd_ok]
    no_thd = 100.0 - 100.0 * np.minimum(thd["thd_premises"], thd["premises_2019"]) / thd["premises_2019"]
    cov = arcep.load_mobile_coverage_2019(raw_dir)
    pov = inputs.poverty[inputs.poverty["poor_persons"].notna() & (inputs.poverty["fiscal_persons"] > 0)]
    comp = assemble.with_municipal_arrondissements_summed(inputs.comparateur).drop_duplicates("code_commune").set_index("code_commune")
    r17 = insee.load_rp2017_rates(raw_dir).set_index("code_commune")
    weight = comp["population_2021"].reindex(r17.index)
    weight = weight.fillna(weight.median())
    active = comp["active_1564_2021"]
    unemp = comp[active > 0]
    filo = inputs.filosofi.dropna(subset=["median_income"])
    frames = [
        _frame("no_thd", thd["code_commune_2019"], np.minimum(thd["thd_premises"], thd["premises_2019"]), thd["premises_2019"], no_thd),
        _frame("no_4g", cov["code_commune_2020"], cov["cov4g_best"] * cov["area_weight"], cov["area_weight"], 100.0 - 100.0 * cov["cov4g_best"]),
        _frame("poverty", pov.index, pov["poor_persons"], pov["fiscal_persons"], 100.0 * pov["poor_persons"] / pov["fiscal_persons"],
               pov["poverty_method"].ne("published").to_numpy()),
        _frame("age65", r17.index, r17["share_65p_15p"] / 100.0 * weight, weight, r17["share_65p_15p"]),
        _frame("low_diploma", r17.index, r17["share_low_diploma_15p"] / 100.0 * weight, weight, r17["share_low_diploma_15p"]),
        _frame("unemployment", unemp.index, unemp["unemployed_1564_2021"], unemp["active_1564_2021"],
               100.0 * unemp["unemployed_1564_2021"] / unemp["active_1564_2021"]),
        _frame("median_income", filo["code_commune"], np.nan, np.nan, filo["median_income"]),
    ]
    out = pd.concat(frames, ignore_index=True)
    out[["num", "den"]] = out[["num", "den"]].round(3)  # counts and weights: no more digits than the sources
    out["value"] = out["value"].round(4)
    return out.sort_values(["indicator", "code"], kind="stable").reset_index(drop=True)


__all__ = ["NATIONAL_INDICATORS", "national_reference"]
