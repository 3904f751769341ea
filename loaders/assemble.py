"""Assemble the zone tables of the pack from the tidy source tables — METHOD.md §7–8.

**One value per territory.** A commune's count is its published figure, or its flagged estimate
where secrecy hides it; its IRIS counts are *calibrated* to it (IRIS share × the commune's total,
so that the IRIS of a commune always sum to the commune); EPCI, département and région counts are
sums of their communes (:func:`indicators.aggregate.aggregate`, in the build).

Commune level (COG 2024, the geometry's vintage):

- population, households: RP2022 comparator export for the 49 Métropole communes, RP2021
  (datas.fun compilation of the INSEE comparator) elsewhere; ``population_vintage`` says which;
- unemployment: RP2021 unemployed / active 15–64 (RP2022 rates × RP2022 population for the
  Métropole, ``derived``);
- poverty: Filosofi 2021 published ``poor_persons = TP60 / 100 × fiscal_persons``; where the rate
  is secret, the estimate of :mod:`loaders.secret_poverty` (``estimated``, ``poverty_method``);
- 65+ and low diploma **among people aged 15+** (the IFN definitions of the RP 2017 rates):
  ``pop15p``, ``pop15p_65p``, ``pop15p_dipl``, ``pop15p_lowdip`` — RP2022 counts where the age
  (and diploma) tables exist (``ok``), else RP 2017 rate × an estimate of the people aged 15+
  (population × the commune's RP2016 share of 15+, or the national share; ``derived``);
- age groups, diploma (no diploma or CEP), household types: RP2022 tables of the metropolises;
- FttH (ARCEP T1 2018) and THD ≥ 30 Mbit/s (ARCEP 2019, all technologies): premises, carried to
  COG 2024; a source with more eligible than total premises is capped (``capped``);
- 4G coverage by area (ARCEP 2019 T3, best operator): ``cov4g_best``, ``cov4g_worst`` (shares).

IRIS level (IRIS 2023, plus one whole-commune row for a commune whose IRIS are absent from the
geometry, e.g. Lyon): the population share s_i of IRIS i in its commune c comes from RP2016
(habitat IRIS). An IRIS absent from RP2016 is *without residents* (activity or miscellaneous IRIS,
``no_residents``) unless Filosofi 2021 publishes a rate for it (≥ ≈ 200 households): then it gets
the median RP2016 population of its commune's IRIS before the shares are normalised
(``estimated``). Counts: ``x_i = x_c × s_i`` (population, households, unemployment, premises,
diplomas, household types; ``from_commune`` where only the commune's rate is known), age groups
with their own RP2016 shares, poor people ``raw_i = τ_i × F_c × s_i`` (τ_i the IRIS rate of
Filosofi 2021, else 2019, else the commune's) scaled so that Σ_i poor_i = poor_c.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

METROPOLE = "200040715"
#: national share of people aged 15 or over, for communes without an RP2016 age structure
#: (indicators/rates.toml [illectronisme] share_15p: France, RP; à vérifier)
SHARE_15P_DEFAULT = 0.82

#: indicator groups -> their count columns (see geodata/SCHEMA.md)
GROUPS: dict[str, list[str]] = {
    "population": ["population"],
    "households": ["households"],
    "unemployment": ["unemployed_1564", "active_1564"],
    "poverty": ["fiscal_persons", "poor_persons"],
    "income": ["median_income"],
    "age": ["pop_age_total", "pop_15_29", "pop_30_44", "pop_45_59", "pop_60_74", "pop_65p", "pop_60p", "pop_75p"],
    "age15p": ["pop15p", "pop15p_65p"],
    "diploma15p": ["pop15p_dipl", "pop15p_lowdip"],
    "diploma": ["nscol15p", "nscol15p_diplmin"],
    "household_types": ["hh_total_detailed", "hh_one_person", "hh_single_parent"],
    "ftth": ["premises_total", "ftth_premises"],
    "thd": ["premises_2019", "thd_premises"],
    "mobile4g": ["area_cov_km2", "area_4g_km2"],
    "mobile": ["dist_4g_m"],
    "activity": ["cnfs_age_0_11", "cnfs_age_12_17", "cnfs_age_18_34", "cnfs_age_35_59", "cnfs_age_60p", "cnfs_students",
                 "cnfs_job_seekers", "cnfs_employed", "cnfs_retired", "cnfs_mixed_groups", "ac_structures", "ac_users",
                 "ac_procedures", "cnfs_accompanied"],
    "libraries": ["dist_library_m"],
}


@dataclass(frozen=True)
class CommuneInputs:
    """The tidy source tables the commune level is built from (loaders' outputs)."""

    comparateur: pd.DataFrame  # insee.load_comparateur_communes (RP2021)
    rp2022: pd.DataFrame  # insee.load_comparateur_rp2022
    filosofi: pd.DataFrame  # insee.load_filosofi_communes
    poverty: pd.DataFrame  # secret_poverty.estimate, indexed by commune code
    age: pd.DataFrame  # insee.load_population_by_age(year=2022)
    diplomas: pd.DataFrame  # insee.load_diplomas(year=2022)
    households: pd.DataFrame  # insee.load_household_types
    rp2017: pd.DataFrame  # insee.rp2017_rates_by_commune_2024
    share_15p: pd.Series  # RP2016 share of people 15+ per commune (from the IRIS extract)
    ftth: pd.DataFrame  # arcep.ftth_by_commune_2024
    thd: pd.DataFrame  # arcep.thd_by_commune_2024
    mobile: pd.DataFrame  # arcep.mobile_coverage_by_commune_2024


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


def _population(out: pd.DataFrame, inp: CommuneInputs) -> None:
    code = out["code"]
    comp = with_municipal_arrondissements_summed(inp.comparateur).set_index("code_commune")
    r22 = inp.rp2022[inp.rp2022["territory_type"] == "commune"].set_index("code")
    pop21, pop22 = code.map(comp["population_2021"]), code.map(r22["population_2022"])
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
    a = inp.age.set_index("code_commune")
    pop1564 = code.map(a[[f"pop_age_{lo:02d}_{lo + 4:02d}" for lo in range(15, 65, 5)]].sum(axis=1, min_count=10))
    act22 = code.map(r22["activity_rate_1564_2022"]) / 100.0 * pop1564
    unemp22 = code.map(r22["unemployment_rate_1564_2022"]) / 100.0 * act22
    derived = act22.notna() & unemp22.notna()
    out.loc[derived, "active_1564"] = act22[derived]
    out.loc[derived, "unemployed_1564"] = unemp22[derived]
    out.loc[derived, "unemployment_vintage"] = "RP2022 (taux publiés × population 15-64 ans)"
    out["unemployment_status"] = pd.Series(np.where(derived, "derived", np.where(out["active_1564"].notna(), "ok", "not_covered")), index=out.index, dtype="string")


def _poverty(out: pd.DataFrame, inp: CommuneInputs) -> None:
    """Published poor people, or the estimate of :mod:`loaders.secret_poverty` (flagged)."""
    code = out["code"]
    filo = inp.filosofi.set_index("code_commune")
    est = inp.poverty
    out["poverty_rate"] = code.map(filo["poverty_rate"])  # as published (NaN where secret)
    out["fiscal_persons"] = code.map(est["fiscal_persons"])
    out["poor_persons"] = code.map(est["poor_persons"])
    method = code.map(est["poverty_method"]).astype("object")
    published = out["poverty_rate"].notna()
    out["poverty_method"] = pd.Series(np.where(out["poor_persons"].notna(), method, None), index=out.index, dtype="string")
    out["poverty_status"] = pd.Series(
        np.where(published, "ok", np.where(out["poor_persons"].notna(), "estimated", "not_covered")), index=out.index, dtype="string"
    )
    out.loc[out["poor_persons"].isna(), "fiscal_persons"] = np.nan
    out["median_income"] = code.map(filo["median_income"])
    out["income_status"] = pd.Series(
        np.where(out["median_income"].notna(), "ok", np.where(code.isin(filo.index), "secret", "not_covered")), index=out.index, dtype="string"
    )


def _age_groups(out: pd.DataFrame, inp: CommuneInputs) -> None:
    code = out["code"]
    a = inp.age.set_index("code_commune")
    out["pop_age_total"] = code.map(a["pop_total"])
    for col in ("pop_15_29", "pop_60p", "pop_65p", "pop_75p"):
        out[col] = code.map(a[col])
    for lo, hi in ((30, 44), (45, 59), (60, 74)):
        cols = [f"pop_age_{x:02d}_{x + 4:02d}" for x in range(lo, hi, 5)]
        out[f"pop_{lo}_{hi}"] = code.map(a[cols].sum(axis=1, min_count=len(cols)))
    out["age_status"] = _status(out["pop_age_total"].notna())


def _people_15p(out: pd.DataFrame, inp: CommuneInputs) -> None:
    """65+ and at most CAP-BEP among people aged 15+: RP2022 counts, else RP2017 rate × 15+ estimate.

    RP2022 (metropolises' age tables): pop15p = pop_total − pop_0_14, pop15p_65p = pop_65p;
    diplomas (Métropole only): pop15p_lowdip = non-enrolled with no diploma / CEP + BEPC + CAP-BEP,
    over all people 15+ (the RP 2017 definition, so one ranking can hold both vintages).
    Elsewhere: pop15p_est = population × share of 15+ (RP2016 commune structure, else
    :data:`SHARE_15P_DEFAULT`), pop15p_65p = TX_65ETPLUS / 100 × pop15p_est (``derived_rp2017``).
    """
    code = out["code"]
    a = inp.age.set_index("code_commune")
    d = inp.diplomas.set_index("code_commune")
    r17 = inp.rp2017.set_index("code_commune")
    p15_22 = code.map(a["pop_total"] - a["pop_0_14"])
    s15 = code.map(inp.share_15p).fillna(SHARE_15P_DEFAULT)
    p15_est = out["population"] * s15
    rate65, ratedip = code.map(r17["share_65p_15p"]), code.map(r17["share_low_diploma_15p"])

    has22 = p15_22.notna()
    out["pop15p"] = p15_22.where(has22, p15_est.where(rate65.notna()))
    out["pop15p_65p"] = code.map(a["pop_65p"]).where(has22, rate65 / 100.0 * p15_est)
    out["age15p_vintage"] = pd.Series(np.where(has22, "RP2022", np.where(rate65.notna(), "RP2017", None)), index=out.index, dtype="string")
    out["age15p_status"] = pd.Series(np.where(has22, "ok", np.where(out["pop15p_65p"].notna(), "derived_rp2017", "not_covered")), index=out.index, dtype="string")

    low22 = code.map(d["nscol15p_diplmin"] + d["nscol15p_bepc"] + d["nscol15p_cap_bep"])
    dip22 = low22.notna() & has22
    out["pop15p_dipl"] = p15_22.where(dip22, p15_est.where(ratedip.notna()))
    out["pop15p_lowdip"] = low22.where(dip22, ratedip / 100.0 * p15_est)
    out["diploma15p_vintage"] = pd.Series(np.where(dip22, "RP2022", np.where(ratedip.notna(), "RP2017", None)), index=out.index, dtype="string")
    out["diploma15p_status"] = pd.Series(np.where(dip22, "ok", np.where(out["pop15p_lowdip"].notna(), "derived_rp2017", "not_covered")), index=out.index, dtype="string")


def _metropolis_tables(out: pd.DataFrame, inp: CommuneInputs) -> None:
    code = out["code"]
    d = inp.diplomas.set_index("code_commune")
    out["nscol15p"] = code.map(d["nscol15p"])
    out["nscol15p_diplmin"] = code.map(d["nscol15p_diplmin"])
    out["diploma_status"] = _status(out["nscol15p"].notna())
    h = inp.households.set_index("code_commune")
    out["hh_total_detailed"] = code.map(h["households_total_detailed"])
    out["hh_one_person"] = code.map(h["hh_one_person"])
    out["hh_single_parent"] = code.map(h["hh_single_parent"])
    out["household_types_status"] = _status(out["hh_total_detailed"].notna())


def _premises(out: pd.DataFrame, table: pd.DataFrame, total: str, eligible: str, group: str, cols: tuple[str, str]) -> None:
    """Premises counts carried to COG 2024; eligible > total (inconsistent source) is capped, flagged."""
    t = table.set_index("code_commune")
    code = out["code"]
    out[total] = code.map(t[cols[0]])
    out[eligible] = code.map(t[cols[1]])
    over = out[eligible] > out[total]
    out[f"{group}_status"] = code.map(t["status"]).astype("string").fillna("not_covered")
    out.loc[over, eligible] = out.loc[over, total]
    out.loc[over, f"{group}_status"] = "capped"
    out[f"{group}_excess"] = np.where(over, code.map(t[cols[1]]) - out[total], 0.0)


def _mobile_coverage(out: pd.DataFrame, inp: CommuneInputs) -> None:
    m = inp.mobile.set_index("code_commune")
    code = out["code"]
    out["cov4g_best"] = code.map(m["cov4g_best"])
    out["cov4g_worst"] = code.map(m["cov4g_worst"])
    capped = code.map(m["cov4g_capped"]).astype("boolean").fillna(False).astype(bool)
    status = code.map(m["status"]).astype("string").fillna("not_covered")
    out["mobile4g_status"] = status.where(~capped, "capped")


def commune_indicators(communes: pd.DataFrame, inp: CommuneInputs) -> pd.DataFrame:
    """Indicator columns of the commune table, indexed like ``communes`` (needs ``code``)."""
    out = communes[["code"]].copy()
    _population(out, inp)
    _poverty(out, inp)
    _age_groups(out, inp)
    _people_15p(out, inp)
    _metropolis_tables(out, inp)
    _premises(out, inp.ftth, "premises_total", "ftth_premises", "ftth", ("premises_total", "ftth_premises"))
    _premises(out, inp.thd, "premises_2019", "thd_premises", "thd", ("premises_2019", "thd_premises"))
    _mobile_coverage(out, inp)
    return out.drop(columns="code")


def coverage_areas(df: pd.DataFrame) -> pd.DataFrame:
    """Area counts of the 4G indicator: ``area_4g_km2`` = cov4g_best × area_km2, ``area_cov_km2``
    = area_km2 where the coverage is known (so that sums give area-weighted shares)."""
    cov = pd.to_numeric(df["cov4g_best"], errors="coerce")
    area = pd.to_numeric(df["area_km2"], errors="coerce")
    return pd.DataFrame({"area_cov_km2": area.where(cov.notna()), "area_4g_km2": cov * area}, index=df.index)


def iris_coverage_areas(iris: pd.DataFrame, communes: pd.DataFrame) -> pd.DataFrame:
    """The commune's area counts × the IRIS's share of the commune's IRIS area (the IRIS and
    commune polygons come from different simplified files: their areas differ by a few %), so that
    the IRIS of a commune sum to it."""
    area = pd.to_numeric(iris["area_km2"], errors="coerce")
    share = area / area.groupby(iris["code_commune"]).transform("sum")
    c = communes.set_index("code")
    return pd.DataFrame({col: iris["code_commune"].map(c[col]) * share for col in ("area_cov_km2", "area_4g_km2")}, index=iris.index)


__all__ = ["METROPOLE", "GROUPS", "CommuneInputs", "commune_indicators", "coverage_areas", "iris_coverage_areas",
           "with_municipal_arrondissements_summed", "iris_indicators", "IrisInputs", "commune_share_15p"]


# ----------------------------------------------------------------------------------------------
# IRIS level: shares of the commune's counts


@dataclass(frozen=True)
class IrisInputs:
    """The tidy IRIS source tables (loaders' outputs)."""

    rp2016: pd.DataFrame  # insee.load_rp2016_iris (habitat IRIS)
    disp2021: pd.DataFrame  # insee.load_filosofi_iris_disp2021
    disp2019: pd.DataFrame  # insee.load_filosofi_iris_disp2019
    dec2021: pd.DataFrame  # insee.load_filosofi_iris_dec


def _commune_of_rp_iris(code_iris: pd.Series) -> pd.Series:
    """Commune of an RP2016 IRIS code (municipal arrondissements → their commune)."""
    com = code_iris.str[:5]
    for prefix, parent in ARRONDISSEMENT_PARENT:
        com = com.where(~com.str.startswith(prefix), parent)
    return com


def commune_share_15p(rp2016: pd.DataFrame) -> pd.Series:
    """Share of people aged 15+ in each commune's RP2016 habitat IRIS (Σ (pop − 0–14) / Σ pop)."""
    com = _commune_of_rp_iris(rp2016["code_iris"].astype(str))
    tot = rp2016["pop_total"].groupby(com).sum()
    young = rp2016["pop_0014"].groupby(com).sum()
    return ((tot - young) / tot).where(tot > 0).rename("share_15p")


def calibrate(raw: pd.Series, total: pd.Series, group: pd.Series, fallback: pd.Series) -> pd.Series:
    """Scale ``raw`` within each ``group`` so that it sums to ``total`` (the group's value, aligned
    on the rows); a group whose raw values sum to 0 (or are all missing) is spread by ``fallback``
    instead. Rows with a missing total stay NaN: x_i = T_g · r_i / Σ_{j∈g} r_j."""
    r = raw.fillna(0.0).clip(lower=0.0)
    s = r.groupby(group).transform("sum")
    fb = fallback.fillna(0.0)
    sf = fb.groupby(group).transform("sum")
    share = np.where(s > 0, r / s.where(s > 0), fb / sf.where(sf > 0))
    return pd.Series(np.asarray(total, float) * share, index=raw.index)


def _population_shares(out: pd.DataFrame, com: pd.DataFrame, inp: IrisInputs, whole: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(share of the commune's population, status) per IRIS — see the module doc."""
    p16 = out["code"].map(inp.rp2016.set_index("code_iris")["pop_total"])
    inhabited = out["code"].map(inp.disp2021.set_index("code_iris")["poverty_rate_2021"]).notna()
    median16 = p16.groupby(out["code_commune"]).transform("median")
    provisional = p16.where(p16.notna(), np.where(inhabited, median16.fillna(1.0), 0.0))
    area = out["area_km2"] if "area_km2" in out else pd.Series(1.0, index=out.index)
    share = calibrate(provisional, pd.Series(1.0, index=out.index), out["code_commune"], area)
    share = share.where(~whole, 1.0)
    status = np.where(whole, com["population_status"], np.where(p16.notna(), "rescaled",
                      np.where(share > 0, "estimated", "no_residents")))
    return share, pd.Series(status, index=out.index, dtype="string")


def _share_counts(out: pd.DataFrame, com: pd.DataFrame, share: pd.Series, pop_status: pd.Series, whole: pd.Series) -> None:
    """Counts known only for the commune: x_i = x_c × s_i (flagged ``from_commune``)."""
    groups = ("population", "households", "unemployment", "ftth", "thd", "diploma", "household_types", "diploma15p")
    for g in groups:
        for col in GROUPS[g]:
            out[col] = com[col] * share
        if g == "population":
            continue
        has = out[GROUPS[g][-1]].notna()
        out[f"{g}_status"] = pd.Series(np.where(whole, com[f"{g}_status"], np.where(
            pop_status.eq("no_residents") & has, "no_residents", np.where(has, "from_commune", "not_covered"))), index=out.index, dtype="string")
    out["population_status"] = pop_status
    out["population_vintage"] = com["population_vintage"]
    for c in ("unemployment_vintage", "diploma15p_vintage"):
        out[c] = com[c]


#: disjoint age groups of the pack and of RP2016 (0–14 is the commune's total minus the others)
AGE_PARTS = ("pop_0_14", "pop_15_29", "pop_30_44", "pop_45_59", "pop_60_74", "pop_75p")
RP16_PARTS = ("pop_0014", "pop_1529", "pop_3044", "pop_4559", "pop_6074", "pop_75p")


def ipf(seed: np.ndarray, rows: np.ndarray, cols: np.ndarray, iterations: int = 200, tol: float = 1e-10) -> np.ndarray:
    """Iterative proportional fitting (Deming & Stephan 1940): scale the rows and columns of
    ``seed`` (n × k, ≥ 0) in turn until its row sums are ``rows`` and its column sums ``cols``
    (Σ rows = Σ cols). A zero cell stays zero; a column with a margin but only zero cells in rows
    that have people gets a tiny seed there (1e-6), so that every margin can be met."""
    m = np.clip(np.nan_to_num(np.asarray(seed, float)), 0.0, None)
    rows, cols = np.asarray(rows, float), np.asarray(cols, float)
    for j in np.flatnonzero((cols > 0) & (m[rows > 0].sum(axis=0) == 0)):
        m[rows > 0, j] = 1e-6
    for _ in range(iterations):
        rs = m.sum(axis=1)
        m *= np.divide(rows, rs, out=np.zeros_like(rows), where=rs > 0)[:, None]
        cs = m.sum(axis=0)
        m *= np.divide(cols, cs, out=np.zeros_like(cols), where=cs > 0)[None, :]
        if np.abs(m.sum(axis=1) - rows).max(initial=0.0) <= tol * max(rows.sum(), 1.0):
            break
    return m


def _age_fitted(out: pd.DataFrame, com: pd.DataFrame, seed: np.ndarray, share: pd.Series, fit: np.ndarray) -> np.ndarray:
    """IRIS × age-group counts of the communes that have RP2022 age groups: IPF of the RP2016 IRIS
    structure (the commune's structure for IRIS absent from RP2016) to the IRIS totals (commune
    total × population share) and the commune's group counts, so that every IRIS's groups sum to
    its total and every group sums to the commune's."""
    parts = np.column_stack([com[c].to_numpy(float) for c in AGE_PARTS[1:]])
    com_parts = np.column_stack([com["pop_age_total"].to_numpy(float) - parts.sum(axis=1), parts])
    total = com["pop_age_total"].to_numpy(float) * share.to_numpy(float)
    missing_seed = ~np.isfinite(seed).all(axis=1)
    seed = np.where(missing_seed[:, None], com_parts, seed)
    result = np.full(seed.shape, np.nan)
    codes = out["code_commune"].to_numpy()
    for c in np.unique(codes[fit]):
        rows = np.flatnonzero((codes == c) & fit)
        result[rows] = ipf(seed[rows], total[rows], com_parts[rows[0]])
    return result


def _age_counts(out: pd.DataFrame, com: pd.DataFrame, inp: IrisInputs, share: pd.Series, whole: pd.Series) -> None:
    """Age counts. Communes with RP2022 age groups: :func:`_age_fitted` (60+ = 60–74 + 75+, 65+ =
    60+ × the commune's 65+ / 60+). Other communes: the RP2016 counts of the IRIS rescaled to its
    population (no newer count to calibrate on). People 15+ and 65+ among them (the index's
    definition) where only the RP2017 rates exist: the commune's counts × the IRIS's RP2016 share
    of 15+ and of 60+ (``rescaled``)."""
    p16 = inp.rp2016.set_index("code_iris")
    seed = np.column_stack([out["code"].map(p16[c]).to_numpy(float) for c in RP16_PARTS])
    fit = com["pop_age_total"].notna().to_numpy() & ~whole.to_numpy()
    fitted = _age_fitted(out, com, seed, share, fit)
    scale = (out["population"] / out["code"].map(p16["pop_total"])).to_numpy(float)
    rescaled = seed * scale[:, None]
    groups = np.where(fit[:, None], fitted, rescaled)
    for j, col in enumerate(AGE_PARTS[1:], start=1):
        out[col] = groups[:, j]
    out["pop_age_total"] = groups.sum(axis=1)
    out["pop_60p"] = out["pop_60_74"] + out["pop_75p"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["pop_65p"] = np.where(fit, out["pop_60p"] * com["pop_65p"] / com["pop_60p"], np.nan)
    for col in GROUPS["age"]:
        out[col] = np.where(whole, com[col], out[col])
    g15 = out["code"].map(p16["pop_total"] - p16["pop_0014"])
    g60 = out["code"].map(p16["pop_60p"])
    by_share15 = calibrate(g15, com["pop15p"], out["code_commune"], out["population"])
    by_share65 = calibrate(g60, com["pop15p_65p"], out["code_commune"], out["population"])
    out["pop15p"] = np.where(whole, com["pop15p"], np.where(fit, out["pop_age_total"] - groups[:, 0], by_share15))
    out["pop15p_65p"] = np.where(whole, com["pop15p_65p"], np.where(fit, out["pop_65p"], np.minimum(by_share65, out["pop15p"])))
    out["age_status"] = pd.Series(np.where(whole, com["age_status"], np.where(out["pop_60p"].notna(), "rescaled", "not_covered")), index=out.index, dtype="string")
    out["age15p_status"] = pd.Series(np.where(whole, com["age15p_status"], np.where(out["pop15p_65p"].notna(), "rescaled", "not_covered")), index=out.index, dtype="string")
    out["age15p_vintage"] = com["age15p_vintage"]


def _poverty_counts(out: pd.DataFrame, com: pd.DataFrame, inp: IrisInputs, share: pd.Series, whole: pd.Series, pop_status: pd.Series) -> None:
    """Poor people: τ_i × F_c × s_i, τ_i of Filosofi 2021, else 2019, else the commune's; scaled to poor_c."""
    t21 = out["code"].map(inp.disp2021.set_index("code_iris")["poverty_rate_2021"])
    t19 = out["code"].map(inp.disp2019.set_index("code_iris")["poverty_rate_2019"])
    tc = 100.0 * com["poor_persons"] / com["fiscal_persons"]
    tau = t21.fillna(t19).fillna(tc)
    out["fiscal_persons"] = com["fiscal_persons"] * share
    out["poor_persons"] = np.where(whole, com["poor_persons"], calibrate(tau / 100.0 * out["fiscal_persons"], com["poor_persons"], out["code_commune"], out["fiscal_persons"]))
    out["poverty_rate"] = np.where(whole, com["poverty_rate"], t21.fillna(t19))
    published = (t21.notna() | t19.notna()) & ~whole
    status = np.where(whole, com["poverty_status"], np.where(pop_status.eq("no_residents"), "no_residents",
                      np.where(published, "ok", np.where(out["poor_persons"].notna(), "from_commune", "not_covered"))))
    out["poverty_status"] = pd.Series(status, index=out.index, dtype="string")
    out["poverty_method"] = com["poverty_method"]
    vint = np.where(whole | ~published, np.where(com["poverty_status"].eq("ok"), "Filosofi 2021 (commune)", "Filosofi 2021 (commune, estimé)"),
                    np.where(t21.notna(), "Filosofi 2021 (IRIS)", "Filosofi 2019 (IRIS)"))
    out["poverty_vintage"] = pd.Series(np.where(out["poor_persons"].notna(), vint, None), index=out.index, dtype="string")


def iris_indicators(iris: pd.DataFrame, commune: pd.DataFrame, inp: IrisInputs) -> pd.DataFrame:
    """Indicator columns of the IRIS table (``iris``: ``code``, ``code_commune``, ``area_km2``).

    ``commune`` is the commune table with its indicator columns, indexed by commune code. A code
    ending in ``0000`` is a whole commune (non-irisée, or without IRIS in the geometry).
    """
    out = iris[["code", "code_commune"] + [c for c in ("area_km2",) if c in iris]].copy()
    com = commune.reindex(out["code_commune"])
    com.index = out.index
    whole = out["code"].str.endswith("0000")
    share, pop_status = _population_shares(out, com, inp, whole)
    _share_counts(out, com, share, pop_status, whole)
    _age_counts(out, com, inp, share, whole)
    _poverty_counts(out, com, inp, share, whole, pop_status)
    med21 = out["code"].map(inp.disp2021.set_index("code_iris")["median_income_2021"])
    out["median_income"] = np.where(whole, com["median_income"], med21)
    out["income_status"] = pd.Series(np.where(whole, com["income_status"], np.where(med21.notna(), "ok", "not_covered")), index=out.index, dtype="string")
    out["median_declared_income"] = out["code"].map(inp.dec2021.set_index("code_iris")["median_declared_income"])
    out["cov4g_best"], out["cov4g_worst"] = com["cov4g_best"], com["cov4g_worst"]
    out["mobile4g_status"] = pd.Series(np.where(whole, com["mobile4g_status"], np.where(com["cov4g_best"].notna(), "from_commune", "not_covered")), index=out.index, dtype="string")
    return out.drop(columns=[c for c in ("code", "code_commune", "area_km2") if c in out])
