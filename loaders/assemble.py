"""Assemble the zone tables of the pack from the tidy source tables.

Commune level (COG 2024, the geometry's vintage) joins, per commune:

- population, households: RP2022 comparator export for the 49 Métropole communes, RP2021
  (datas.fun compilation of the INSEE comparator) elsewhere; ``population_vintage`` says which;
- unemployment: RP2021 unemployed / active 15–64;
- poverty: Filosofi 2021, ``poor_persons = TP60 / 100 × fiscal_persons`` (secret → NaN, ``secret``);
- age, diploma, household types: RP2022 tables of the Métropole communes (``not_covered`` elsewhere);
- FttH: ARCEP T1 2018 premises, 2018 communes carried to COG 2024 (``mapped`` where merged);
- mobile: distance from the demand point to the nearest 4G site (proxy of 4G non-coverage).

IRIS level (IRIS 2023): RP2016 habitat-IRIS counts **rescaled** so that the IRIS of a commune sum
to the commune's newer population (share_i = P16_i / Σ P16), poverty rate of Filosofi 2019 DISP;
what exists only at commune level is given to IRIS *from_commune* (counts = commune rate × IRIS
population), flagged. Non-irisées communes (IRIS ``XXXXX0000``) take their commune's values as is.

Higher levels (EPCI, département, région) are sums of commune counts (never means of rates),
made by :func:`indicators.aggregate.aggregate` in the build.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METROPOLE = "200040715"

#: indicator groups -> their count columns (see geodata/SCHEMA.md)
GROUPS: dict[str, list[str]] = {
    "population": ["population"],
    "households": ["households"],
    "unemployment": ["unemployed_1564", "active_1564"],
    "poverty": ["fiscal_persons", "poor_persons"],
    "income": ["median_income"],
    "age": ["pop_age_total", "pop_15_29", "pop_30_44", "pop_45_59", "pop_60_74", "pop_65p", "pop_60p", "pop_75p"],
    "diploma": ["nscol15p", "nscol15p_diplmin"],
    "household_types": ["hh_total_detailed", "hh_one_person", "hh_single_parent"],
    "ftth": ["premises_total", "ftth_premises"],
    "mobile": ["dist_4g_m"],
}


def _status(has_value: pd.Series, ok: str = "ok", missing: str = "not_covered") -> pd.Series:
    return pd.Series(np.where(has_value, ok, missing), index=has_value.index, dtype="string")


#: municipal arrondissements → their commune (Paris, Lyon, Marseille)
ARRONDISSEMENT_PARENT = (("6938", "69123"), ("132", "13055"), ("751", "75056"))


def with_municipal_arrondissements_summed(comparateur: pd.DataFrame) -> pd.DataFrame:
    """Add a commune row summing the arrondissements where the source has only those (Lyon 69123)."""
    out = [comparateur]
    codes = comparateur["code_commune"]
    for prefix, parent in ARRONDISSEMENT_PARENT:
        arm = comparateur[codes.str.startswith(prefix) & (codes != parent) & comparateur.get("commune_type", pd.Series("ARM", index=codes.index)).eq("ARM")]
        if len(arm) and parent not in set(codes):
            row = arm.select_dtypes("number").sum(min_count=1).to_frame().T
            row["code_commune"] = parent
            out.append(row)
    return pd.concat(out, ignore_index=True)


def commune_indicators(
    communes: pd.DataFrame,
    comparateur: pd.DataFrame,
    rp2022: pd.DataFrame,
    filosofi: pd.DataFrame,
    age: pd.DataFrame,
    diplomas: pd.DataFrame,
    households: pd.DataFrame,
    ftth: pd.DataFrame,
) -> pd.DataFrame:
    """Indicator columns of the commune table, indexed like ``communes`` (needs ``code``)."""
    out = communes[["code"]].copy()
    code = out["code"]

    comp = with_municipal_arrondissements_summed(comparateur).set_index("code_commune")
    r22 = rp2022[rp2022["territory_type"] == "commune"].set_index("code")
    pop21 = code.map(comp["population_2021"])
    pop22 = code.map(r22["population_2022"])
    out["population"] = pop22.fillna(pop21)
    out["population_vintage"] = pd.Series(np.where(pop22.notna(), "RP2022", np.where(pop21.notna(), "RP2021", None)), index=out.index, dtype="string")
    out["population_status"] = _status(out["population"].notna())
    out["households"] = code.map(r22["households_2022"]).fillna(code.map(comp["households_2021"]))
    out["households_status"] = _status(out["households"].notna())
    out["unemployed_1564"] = code.map(comp["unemployed_1564_2021"])
    out["active_1564"] = code.map(comp["active_1564_2021"])
    out["unemployment_vintage"] = pd.Series(np.where(out["active_1564"].notna(), "RP2021", None), index=out.index, dtype="string")
    # RP2022 where the comparator publishes the rates: active = activity rate × population 15–64
    # (RP2022 age groups), unemployed = unemployment rate × active (counts derived, flagged)
    a = age.set_index("code_commune")
    pop1564 = code.map(a[[f"pop_age_{lo:02d}_{lo + 4:02d}" for lo in range(15, 65, 5)]].sum(axis=1, min_count=10))
    act22 = code.map(r22["activity_rate_1564_2022"]) / 100.0 * pop1564
    unemp22 = code.map(r22["unemployment_rate_1564_2022"]) / 100.0 * act22
    derived = act22.notna() & unemp22.notna()
    out.loc[derived, "active_1564"] = act22[derived]
    out.loc[derived, "unemployed_1564"] = unemp22[derived]
    out.loc[derived, "unemployment_vintage"] = "RP2022 (taux publiés × population 15-64 ans)"
    out["unemployment_status"] = pd.Series(np.where(derived, "derived", np.where(out["active_1564"].notna(), "ok", "not_covered")), index=out.index, dtype="string")

    filo = filosofi.set_index("code_commune")
    out["fiscal_persons"] = code.map(filo["fiscal_persons"])
    out["poverty_rate"] = code.map(filo["poverty_rate"])
    out["poor_persons"] = out["poverty_rate"] / 100.0 * out["fiscal_persons"]
    secret = code.map(filo["poverty_secret"]).astype("boolean").fillna(False).astype(bool)
    out["poverty_status"] = pd.Series(
        np.where(out["poverty_rate"].notna(), "ok", np.where(secret, "secret", "not_covered")), index=out.index, dtype="string"
    )
    # rates are only meaningful with their denominator: hide the fiscal persons of secret communes
    out.loc[out["poverty_rate"].isna(), "fiscal_persons"] = np.nan
    out["median_income"] = code.map(filo["median_income"])
    out["income_status"] = pd.Series(
        np.where(out["median_income"].notna(), "ok", np.where(code.isin(filo.index), "secret", "not_covered")), index=out.index, dtype="string"
    )

    out["pop_age_total"] = code.map(a["pop_total"])
    for col in ("pop_15_29", "pop_60p", "pop_65p", "pop_75p"):
        out[col] = code.map(a[col])
    for lo, hi in ((30, 44), (45, 59), (60, 74)):
        cols = [f"pop_age_{x:02d}_{x + 4:02d}" for x in range(lo, hi, 5)]
        out[f"pop_{lo}_{hi}"] = code.map(a[cols].sum(axis=1, min_count=len(cols)))
    out["age_status"] = _status(out["pop_age_total"].notna())

    d = diplomas.set_index("code_commune")
    out["nscol15p"] = code.map(d["nscol15p"])
    out["nscol15p_diplmin"] = code.map(d["nscol15p_diplmin"])
    out["diploma_status"] = _status(out["nscol15p"].notna())

    h = households.set_index("code_commune")
    out["hh_total_detailed"] = code.map(h["households_total_detailed"])
    out["hh_one_person"] = code.map(h["hh_one_person"])
    out["hh_single_parent"] = code.map(h["hh_single_parent"])
    out["household_types_status"] = _status(out["hh_total_detailed"].notna())

    f = ftth.set_index("code_commune")
    out["premises_total"] = code.map(f["premises_total"])
    out["ftth_premises"] = code.map(f["ftth_premises"])
    out["ftth_status"] = code.map(f["status"]).astype("string").fillna("not_covered")
    return out.drop(columns="code")


def iris_indicators(iris: pd.DataFrame, commune: pd.DataFrame, rp2016: pd.DataFrame, disp2019: pd.DataFrame, dec2021: pd.DataFrame) -> pd.DataFrame:
    """Indicator columns of the IRIS table (``iris`` needs ``code`` and ``code_commune``).

    ``commune`` is the commune table with its indicator columns, indexed by commune code.
    """
    out = iris[["code", "code_commune"]].copy()
    com = commune.reindex(out["code_commune"])
    com.index = out.index
    whole = out["code"].str.endswith("0000")  # non-irisée commune: the IRIS is the commune

    p16 = rp2016.set_index("code_iris")
    pop16 = out["code"].map(p16["pop_total"])
    pop16_commune = pop16.groupby(out["code_commune"]).transform("sum", min_count=1)
    # share of the commune's population in the IRIS (RP2016); IRIS absent from RP2016 (activity
    # IRIS, changed geography) stay NaN
    share = pop16 / pop16_commune
    share = share.where(~whole, 1.0)

    for col in GROUPS["population"] + GROUPS["households"] + GROUPS["unemployment"]:
        out[col] = com[col] * share
    out["population_vintage"] = com["population_vintage"]
    out["population_status"] = pd.Series(np.where(whole, com["population_status"], np.where(out["population"].notna(), "rescaled", "not_covered")), index=out.index, dtype="string")
    for g in ("households", "unemployment"):
        out[f"{g}_status"] = pd.Series(np.where(whole, com[f"{g}_status"], np.where(out[GROUPS[g][-1]].notna(), "from_commune", "not_covered")), index=out.index, dtype="string")

    # age: RP2016 IRIS structure (60+, 75+, 15-29), rescaled to the commune's newer population
    scale = out["population"] / pop16
    out["pop_age_total"] = out["population"].where(pop16.notna())
    out["pop_15_29"] = out["code"].map(p16["pop_1529"]) * scale
    out["pop_30_44"] = out["code"].map(p16["pop_3044"]) * scale
    out["pop_45_59"] = out["code"].map(p16["pop_4559"]) * scale
    out["pop_60_74"] = out["code"].map(p16["pop_6074"]) * scale
    out["pop_60p"] = out["code"].map(p16["pop_60p"]) * scale
    out["pop_75p"] = out["code"].map(p16["pop_75p"]) * scale
    out["pop_65p"] = np.nan  # not published at IRIS level in RP2016
    out["age_status"] = pd.Series(np.where(out["pop_60p"].notna(), "rescaled", "not_covered"), index=out.index, dtype="string")
    for col in GROUPS["age"]:
        out[col] = out[col].where(~whole, com[col])
    out["age_status"] = out["age_status"].where(~whole | com["age_status"].eq("not_covered"), com["age_status"])

    # poverty: Filosofi 2019 disposable-income rate where published, else the commune's rate
    d19 = out["code"].map(disp2019.set_index("code_iris")["poverty_rate_2019"])
    rate = d19.where(~whole & d19.notna(), com["poverty_rate"])
    out["poverty_rate"] = rate
    out["fiscal_persons"] = out["population"].where(rate.notna())
    out["poor_persons"] = rate / 100.0 * out["fiscal_persons"]
    out["poverty_status"] = pd.Series(
        np.where(whole, com["poverty_status"], np.where(d19.notna() & out["population"].notna(), "ok", np.where(rate.notna() & out["population"].notna(), "from_commune", "not_covered"))),
        index=out.index,
        dtype="string",
    )
    out["poverty_vintage"] = pd.Series(np.where(d19.notna() & ~whole, "Filosofi 2019 (IRIS)", np.where(rate.notna(), "Filosofi 2021 (commune)", None)), index=out.index, dtype="string")

    out["median_income"] = com["median_income"].where(whole)
    out["income_status"] = pd.Series(np.where(whole, com["income_status"], "not_covered"), index=out.index, dtype="string")
    dec = dec2021.set_index("code_iris")
    out["median_declared_income"] = out["code"].map(dec["median_declared_income"])

    # commune-only groups given to IRIS by rate × IRIS population (explicit, flagged imputation)
    for group, (num_cols, den_col) in {
        "diploma": (["nscol15p_diplmin"], "nscol15p"),
        "household_types": (["hh_one_person", "hh_single_parent"], "hh_total_detailed"),
        "ftth": (["ftth_premises"], "premises_total"),
    }.items():
        ratio_den = com[den_col] / com["population"]
        out[den_col] = ratio_den * out["population"]
        for c in num_cols:
            out[c] = com[c] / com[den_col] * out[den_col]
        status = np.where(out[den_col].notna(), np.where(whole, com[f"{group}_status"], "from_commune"), "not_covered")
        out[f"{group}_status"] = pd.Series(status, index=out.index, dtype="string")
    return out.drop(columns=["code", "code_commune"])
