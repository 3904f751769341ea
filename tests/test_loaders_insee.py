"""Tests of loaders.insee on the real published files (skipped when absent) and small synthetic ones.

Reference values are those of shared/data/SOURCES-geo-insee.md (B) and SOURCES-census-qpv.md (A, E).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loaders
import loaders.download
from loaders import insee
from loaders.errors import LoaderError

RAW = Path(loaders.RAW_DIR)
raw = pytest.mark.raw  # reads the published files (skipped when they are absent)
GEO_NAMES = "geo/communes_epci_ara_cog2025.csv"


def _need(*rel: str) -> None:
    for r in rel:
        if not (RAW / r).exists():
            pytest.skip(f"raw file {r} absent")


def _raw(key: str) -> str:
    return insee.SOURCES[key].raw_path


# ---------------------------------------------------------------------------------------------
# real data, loaded once per module
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filosofi():
    _need(_raw("filosofi_com_2021"))
    return insee.load_filosofi_communes(RAW)


@pytest.fixture(scope="module")
def comparateur():
    _need(_raw("comparateur_communes_2021"))
    return insee.load_comparateur_communes(RAW)


@pytest.fixture(scope="module")
def rp2022():
    _need(_raw("comparateur_rp2022_gam"))
    return insee.load_comparateur_rp2022(RAW)


@pytest.fixture(scope="module")
def rp2016():
    _need(*(_raw(k) for k in ("rp2016_iris_population", "rp2016_iris_menages", "rp2016_iris_logement")))
    return insee.load_rp2016_iris(RAW)


def _row(df: pd.DataFrame, col: str, code: str) -> pd.Series:
    sel = df[df[col] == code]
    assert len(sel) == 1, f"{code}: {len(sel)} rows"
    return sel.iloc[0]


@raw
def test_filosofi_communes_grenoble_and_counts(filosofi):
    assert len(filosofi) == 34_909
    assert filosofi["code_commune"].is_unique
    assert filosofi["code_commune"].str.len().eq(5).all()
    g = _row(filosofi, "code_commune", "38185")
    assert g["median_income"] == 22_140
    assert g["poverty_rate"] == 21.0
    assert g["fiscal_households"] == 71_309 and g["fiscal_persons"] == 136_136
    assert g["minimum_benefits_share"] == 3.3 and g["social_benefits_share"] == 7.0
    assert g["income_d1"] == 10_510 and g["income_d9"] == 40_460
    assert not g["poverty_secret"] and g["poverty_status"] == "ok"
    isere = filosofi[filosofi["code_commune"].str.startswith("38")]
    assert len(isere) == 512
    assert isere["poverty_rate"].notna().sum() == 85
    assert isere["poverty_secret"].sum() == 512 - 85
    # secret is NaN, never 0
    assert filosofi.loc[filosofi["poverty_secret"], "poverty_rate"].isna().all()
    assert filosofi["poverty_secret"].dtype == bool
    # 'nd' (not available) is not counted as secret
    nd = _row(filosofi, "code_commune", "09304")
    assert np.isnan(nd["median_income"]) and nd["poverty_status"] == "not_available" and not nd["poverty_secret"]
    assert (filosofi["poverty_status"] == "not_available").sum() == 12
    # small commune: median published, poverty rate secret
    s = _row(filosofi, "code_commune", "01001")
    assert s["median_income"] == 25_820 and np.isnan(s["poverty_rate"]) and s["poverty_secret"]


@raw
def test_filosofi_iris_dec():
    _need(_raw("filosofi_iris_dec_2021"))
    dec = insee.load_filosofi_iris_dec(RAW)
    assert len(dec) == 16_026
    assert dec["code_iris"].str.len().eq(9).all()
    assert dec["code_iris"].str.startswith("38").sum() == 258
    assert (dec["code_commune"] == "38185").sum() == 70
    r = _row(dec, "code_iris", "381850102")
    assert r["median_declared_income"] == 20_950 and r["low_declared_income_rate"] == 34.0
    assert r["declared_income_gini"] == 0.39 and r["declared_income_status"] == "ok"
    ns = _row(dec, "code_iris", "381850101")
    assert np.isnan(ns["median_declared_income"]) and ns["declared_income_status"] == "not_significant"
    assert pd.isna(ns["uncertainty_flag"])  # 'so' -> NA, not 0
    first = _row(dec, "code_iris", "010040101")
    assert first["median_declared_income"] == 19_330 and first["low_declared_income_rate"] == 29.0
    assert dec["low_declared_income_rate_status"].value_counts()["secret"] == 1


@raw
def test_filosofi_iris_disp2019_padding_quotes_and_out_of_range():
    _need(_raw("filosofi_iris_disp_2019"))
    d = insee.load_filosofi_iris_disp2019(RAW)
    assert len(d) == 12_481 and d["code_iris"].is_unique
    assert d["code_iris"].str.len().eq(9).all()
    assert d["code_iris"].str.startswith("38").sum() == 172
    assert _row(d, "code_iris", "010040101")["poverty_rate_2019"] == 20.5  # leading zero restored, quoted value
    assert _row(d, "code_iris", "010040102")["poverty_rate_2019"] == 26.0
    assert _row(d, "code_iris", "381850102")["poverty_rate_2019"] == 20.9
    assert _row(d, "code_iris", "2A0040101")["poverty_rate_2019"] == 24.0
    bad = _row(d, "code_iris", "381850201")  # 16 550 cannot be a rate
    assert np.isnan(bad["poverty_rate_2019"]) and bad["poverty_rate_2019_status"] == "out_of_range"
    assert bad["published_value"] == 16_550
    assert (d["poverty_rate_2019_status"] == "out_of_range").sum() == 2_827
    assert d["poverty_rate_2019"].max() <= 100


AURA_DEPS = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")


@raw
def test_filosofi_iris_disp2021_aura_and_grenoble():
    _need(_raw("filosofi_iris_disp_2021"))
    d = insee.load_filosofi_iris_disp2021(RAW)
    assert len(d) == 16_026 and d["code_iris"].is_unique  # every row kept, all France
    assert d["code_iris"].str.len().eq(9).all() and (d["code_commune"] == d["code_iris"].str[:5]).all()
    assert d["code_iris"].dtype == "string" and d["poverty_status"].dtype == "string"
    # SOURCES-geo-insee B5 checks: AURA 1 601 IRIS, 1 461 rates, 118 ns, 22 nd
    aura = d[d["code_iris"].str[:2].isin(AURA_DEPS)]
    assert len(aura) == 1_601 and aura["code_commune"].nunique() == 229
    assert aura["poverty_rate_2021"].notna().sum() == 1_461
    assert aura["poverty_status"].value_counts().to_dict() == {"ok": 1_461, "ns": 118, "nd": 22}
    assert d["poverty_status"].value_counts().to_dict() == {"ok": 14_486, "ns": 1_209, "nd": 327, "s": 4}
    # Grenoble: 70 IRIS, 65 rates, median 17 %, range 9-53 % (commune rate 21 %)
    g = d.loc[d["code_commune"] == "38185", "poverty_rate_2021"]
    assert len(g) == 70 and g.notna().sum() == 65
    assert g.median() == 17.0 and g.min() == 9.0 and g.max() == 53.0
    assert round(g.mean(), 1) == 20.2
    jm = _row(d, "code_iris", "381850102")  # Jean Macé
    assert jm["poverty_rate_2021"] == 22.0 and jm["median_income_2021"] == 21_670
    assert jm["income_d1_2021"] == 10_270 and jm["income_d9_2021"] == 39_420
    assert jm["poverty_uncertainty"] == "1" and jm["poverty_status"] == "ok"
    ns = _row(d, "code_iris", "381850101")
    assert np.isnan(ns["poverty_rate_2021"]) and ns["poverty_status"] == "ns" and pd.isna(ns["poverty_uncertainty"])
    assert _row(d, "code_iris", "010040101")["poverty_uncertainty"] == "2"  # leading zero kept
    # the uncertainty class is published exactly where a rate was computed (published or secret 's')
    assert (d["poverty_uncertainty"].notna() == d["poverty_status"].isin(["ok", "s"])).all()
    # Lyon is coded by arrondissement
    assert (d["code_commune"] == "69123").sum() == 0 and d["code_commune"].str.startswith("6938").sum() == 185


@pytest.fixture(scope="module")
def rp2017():
    _need(_raw("rp2017_rates_d4g"))
    return insee.load_rp2017_rates(RAW)


@raw
def test_rp2017_rates_grenoble_and_counts(rp2017):
    r = rp2017
    assert list(r.columns) == ["code_commune", *insee.RP2017_SHARES]
    assert len(r) == 35_003 and r["code_commune"].is_unique  # 36 114 rows, 1 111 empty duplicates dropped
    assert r["code_commune"].dtype == "string" and r["code_commune"].str.len().eq(5).all()
    g = _row(r, "code_commune", "38185")  # the row with values, not its empty duplicate
    assert g["share_65p_15p"] == pytest.approx(18.5, abs=0.05)
    assert g["share_low_diploma_15p"] == pytest.approx(29.1, abs=0.05)
    assert g["share_15_24_15p"] == pytest.approx(24.18, abs=0.005)
    assert _row(r, "code_commune", "01001")["share_low_diploma_15p"] == pytest.approx(52.154, abs=0.001)
    filled = r[insee.RP2017_SHARES].notna().any(axis=1)
    assert int((~filled).sum()) == 10  # codes without any value (e.g. 55039, a commune without inhabitants)
    aura = r[r["code_commune"].str[:2].isin(AURA_DEPS)]
    assert int(filled[aura.index].sum()) == 4_039
    assert r[insee.RP2017_SHARES].min().min() >= 0 and r[insee.RP2017_SHARES].max().max() <= 100


@raw
def test_rp2017_rates_by_commune_2024_aura(rp2017):
    _need("geo/communes_ara_cog2024_simplifiees.geojson", "geo/cog2025_communes_decoupage-administratif-5.3.0.json")
    from loaders import geography

    targets = geography.load_commune_polygons(RAW)["code_commune"]
    assert len(targets) == 4_027
    out = insee.rp2017_rates_by_commune_2024(RAW, targets)
    assert len(out) == 4_027 and out["code_commune"].is_unique and set(out["code_commune"]) == set(targets)
    assert (out["status"] != "not_covered").all() and out[insee.RP2017_SHARES[:3]].notna().all().all()
    no_households = out.loc[out["share_one_person_households"].isna(), "code_commune"].tolist()
    assert no_households == ["26030", "26274"]  # tiny communes whose household rates are empty in the file
    m = out.attrs["mapping"]
    # the 4 039 AURA codes with values: 4 027 same, 3 absorbed, 9 Lyon arrondissements, none lost
    assert m["n_old_in_scope"] == 4_039 and m["n_old_same"] == 4_027 and m["n_old_unmapped"] == 0
    assert m["mapped_old"] == {"01039": "01138", "26219": "26216", "69152": "69149"}
    assert m["n_old_arrondissements_skipped"] == 9
    assert m["n_targets_mapped"] == 3 and m["n_targets_equal_weighted"] == 3
    assert m["n_targets_population_weighted"] == 0  # no weights given
    old = rp2017.set_index("code_commune")
    g = _row(out, "code_commune", "38185")  # unchanged
    assert g["status"] == "ok" and g["old_codes"] == ["38185"] and pd.isna(g["weighting"])
    assert all(g[c] == old.loc["38185", c] for c in insee.RP2017_SHARES)
    lyon = _row(out, "code_commune", "69123")  # its own row, not averaged with its arrondissements
    assert lyon["status"] == "ok" and lyon["share_65p_15p"] == old.loc["69123", "share_65p_15p"]
    merged = _row(out, "code_commune", "01138")
    assert merged["status"] == "mapped" and merged["weighting"] == "equal" and merged["n_old_communes"] == 2
    assert merged["old_codes"] == ["01039", "01138"]
    for c in insee.RP2017_SHARES:
        a, b = old.loc["01039", c], old.loc["01138", c]
        assert min(a, b) <= merged[c] <= max(a, b)
        assert merged[c] == pytest.approx((a + b) / 2)
    # population weights (made up): 01039 = 100, 01138 = 300 -> (100 a + 300 b) / 400
    w = pd.Series({"01039": 100.0, "01138": 300.0, "26219": 50.0})  # 26216 has no weight -> equal
    out_w = insee.rp2017_rates_by_commune_2024(RAW, targets, weights=w)
    mw = _row(out_w, "code_commune", "01138")
    a, b = old.loc["01039", "share_65p_15p"], old.loc["01138", "share_65p_15p"]
    assert mw["weighting"] == "population" and mw["share_65p_15p"] == pytest.approx((100 * a + 300 * b) / 400)
    assert _row(out_w, "code_commune", "26216")["weighting"] == "equal"
    assert out_w.attrs["mapping"]["n_targets_population_weighted"] == 1


def test_weighted_rates_by_hand():
    """Two targets: A <- a1 (10 %, w 100) + a2 (40 %, w 300); B <- b1 alone (w unknown)."""
    used = pd.DataFrame(
        {
            "old_code": ["38001", "38002", "38003"],
            "code_commune": ["38001", "38001", "38003"],
            **{c: [10.0, 40.0, 7.0] for c in insee.RP2017_SHARES},
        }
    )
    used.loc[1, "share_single_parent_families"] = np.nan  # a2 without households: A = a1 alone
    w = pd.Series({"38001": 100.0, "38002": 300.0})
    res = insee._weighted_rates(used, w)
    a = res.loc["38001"]
    assert a["share_65p_15p"] == pytest.approx(32.5)  # (100*10 + 300*40) / 400
    assert a["share_single_parent_families"] == 10.0  # weights renormalised over the parts with a value
    assert a["weighting"] == "population" and a["n_old_communes"] == 2 and a["old_codes"] == ["38001", "38002"]
    assert res.loc["38003", "share_65p_15p"] == 7.0 and pd.isna(res.loc["38003", "weighting"])
    equal = insee._weighted_rates(used, None).loc["38001"]
    assert equal["share_65p_15p"] == pytest.approx(25.0) and equal["weighting"] == "equal"  # (10 + 40) / 2
    partial = insee._weighted_rates(used, w.drop("38002")).loc["38001"]  # a weight missing -> equal
    assert partial["share_65p_15p"] == pytest.approx(25.0) and partial["weighting"] == "equal"
    with pytest.raises(ValueError, match="weights must be finite and >= 0"):
        insee._weighted_rates(used, pd.Series({"38001": -1.0}))
    with pytest.raises(ValueError, match="target_codes is empty"):
        insee.rp2017_rates_by_commune_2024(RAW, [])


@raw
def test_comparateur_communes_dedup_and_grenoble(comparateur):
    c = comparateur
    assert c["code_commune"].is_unique
    assert len(c) == 34_976
    g = _row(c, "code_commune", "38185")
    assert g["population_2021"] == 157_477 and g["households_2021"] == 83_592
    assert g["unemployed_1564_2021"] == 10_527 and g["active_1564_2021"] == 76_257
    assert g["postcodes"] == "38000;38100" and g["commune_type"] == "COM"
    assert g["code_departement"] == "38" and g["code_region"] == "84" and g["name"] == "Grenoble"
    assert abs(g["lat"] - 45.18423) < 1e-9 and abs(g["area_km2"] - 18.13) < 1e-9
    assert c["code_commune"].str.startswith("38").sum() == 512
    # commune nouvelle kept, not its communes déléguées (same code)
    assert _row(c, "code_commune", "01015")["name"] == "Arboys en Bugey"
    assert "COMD" not in set(c["commune_type"])
    # Mayotte: zeros of the derivative are missing values, flagged
    m = _row(c, "code_commune", "97611")
    assert np.isnan(m["population_2021"]) and m["rp2021_status"] == "incomplete"
    # a genuinely empty village of the Meuse stays 0
    v = _row(c, "code_commune", "55039")
    assert v["population_2021"] == 0 and v["rp2021_status"] == "ok"


@raw
def test_comparateur_rp2022_values(rp2022):
    r = rp2022
    assert len(r) == 51
    assert set(r["territory_type"]) == {"epci", "commune"}
    g = r[(r["territory_type"] == "commune") & (r["code"] == "38185")].iloc[0]
    assert g["name"] == "Grenoble"
    assert g["population_2022"] == 156_389 and g["households_2022"] == 83_825
    assert g["median_income_2021"] == 22_140 and g["poverty_rate_2021"] == 21.0
    assert g["unemployment_rate_1564_2022"] == 13.5
    m = r[(r["territory_type"] == "epci") & (r["code"] == "200040715")].iloc[0]
    assert m["name"] == "Grenoble-Alpes-Métropole"
    assert m["population_2022"] == 449_509 and m["households_2022"] == 214_781
    assert m["unemployment_rate_1564_2022"] == 11.2 and m["poverty_rate_2021"] == 15.0
    assert m["fiscal_households_2021"] == 192_079 and m["activity_rate_1564_2022"] == 73.2
    assert m["density_2022"] == 824.0 and m["area_km2_2022"] == 545.5
    assert m["establishments_2023"] == 15_238 and m["establishments_industry_share"] == 6.2
    # secret cells: NaN + flag (Bresson's poverty rate and taxed share)
    b = r[r["code"] == "38057"].iloc[0]
    assert np.isnan(b["poverty_rate_2021"]) and b["poverty_secret"]
    assert b["secret_indicators"] == "taxed_households_share_2021;poverty_rate_2021"
    assert b["median_income_2021"] == 34_920


@raw
def test_comparateur_rp2022_metropole_population_is_sum_of_communes(rp2022):
    """Checked: Σ population_2022 of the 49 commune columns == the Métropole column (449 509).

    (Households differ by 1, 214 782 vs 214 781, from INSEE's rounding, so they are not checked.)"""
    communes = rp2022[rp2022["territory_type"] == "commune"]
    assert len(communes) == 49 and communes["code"].str.startswith("38").all()
    metro = rp2022.loc[rp2022["code"] == "200040715", "population_2022"].iloc[0]
    assert communes["population_2022"].sum() == metro == 449_509


@raw
def test_rp2022_communes_match_the_cog_members(rp2022):
    _need(GEO_NAMES)
    members = insee.metropole_communes(RAW)
    assert set(members["code_commune"]) == set(rp2022.loc[rp2022["territory_type"] == "commune", "code"])


@raw
def test_population_by_age_grenoble():
    _need(_raw("pop_age_5metropoles"))
    a = insee.load_population_by_age(RAW, year=2022)
    assert len(a) == 247 and a["code_commune"].is_unique
    g = _row(a, "code_commune", "38185")
    assert g["pop_total"] == 156_410
    assert abs(100 * g["pop_60p"] / g["pop_total"] - 19.7) <= 0.1
    assert abs(100 * g["pop_75p"] / g["pop_total"] - 8.4) <= 0.1
    assert g["pop_65p"] < g["pop_60p"] and g["pop_75p"] < g["pop_65p"]
    ages = [c for c in a.columns if c.startswith("pop_age_")]
    assert len(ages) == 20 and g[ages].sum() == g["pop_total"]
    assert g["pop_0_14"] + g["pop_15_29"] == g[ages[:6]].sum()
    metro = a[a["code_departement"] == "38"]
    assert len(metro) == 49 and metro["pop_total"].sum() == 449_615
    assert "38" + "057" in set(metro["code_commune"])  # DR 38 + CR 57 zero-padded
    a16 = insee.load_population_by_age(RAW, year=2016)
    assert _row(a16, "code_commune", "38185")["pop_total"] == 158_179
    with pytest.raises(LoaderError, match="2011, 2016, 2022"):
        insee.load_population_by_age(RAW, year=2019)


@raw
def test_diplomas_grenoble_and_name_matching():
    _need(_raw("diplomas_gam"), GEO_NAMES)
    d = insee.load_diplomas(RAW, year=2022)
    assert len(d) == 49 and d["code_commune"].is_unique
    g = _row(d, "code_commune", "38185")
    assert round(g["nscol15p"]) == 102_471 and round(g["nscol15p_diplmin"]) == 17_713
    assert round(g["nscol15p_bepc"]) == 3_669
    parts = ["nscol15p_diplmin", "nscol15p_bepc", "nscol15p_cap_bep", "nscol15p_bac", "nscol15p_higher"]
    assert np.allclose(d[parts].sum(axis=1), d["nscol15p"], atol=1.0)
    # names with accents / apostrophes matched to their codes
    assert _row(d, "code_commune", "38151")["name"] == "Échirolles"
    assert _row(d, "code_commune", "38421")["name"] == "Saint-Martin-d'Hères"
    # the same result from an explicit mapping (different spelling) and from a DataFrame
    members = insee.metropole_communes(RAW)
    mapping = {n.upper().replace("-", " "): c for n, c in zip(members["name"], members["code_commune"], strict=True)}
    d2 = insee.load_diplomas(RAW, year=2022, name_to_code=mapping)
    pd.testing.assert_frame_equal(d, d2)
    d3 = insee.load_diplomas(RAW, year=2022, name_to_code=members.rename(columns={"name": "nom_commune"}))
    pd.testing.assert_frame_equal(d, d3)
    # other nomenclatures: 2016 merges 'no diploma' and BEPC
    d16 = insee.load_diplomas(RAW, year=2016)
    g16 = _row(d16, "code_commune", "38185")
    assert np.isnan(g16["nscol15p_diplmin"]) and g16["nscol15p_diplmin_or_bepc"] > 0
    assert g16["nscol15p_at_most_cap_bep"] == g16["nscol15p_diplmin_or_bepc"] + g16["nscol15p_cap_bep"]
    # "at most CAP-BEP" (the RP2017 TX_NSCOL15P numerator) = no diploma/CEP + BEPC + CAP-BEP
    assert abs(g["nscol15p_bepc"] - 3_669) <= 1 and round(g["nscol15p_cap_bep"]) == 13_943
    low = d["nscol15p_diplmin"] + d["nscol15p_bepc"] + d["nscol15p_cap_bep"]
    assert np.allclose(d["nscol15p_at_most_cap_bep"], low) and (low < d["nscol15p"]).all()
    assert round(g["nscol15p_at_most_cap_bep"]) == 35_324  # 34.5 % of the non-enrolled 15+
    # a name that is not in the reference table
    with pytest.raises(LoaderError, match="Bresson"):
        insee.load_diplomas(RAW, year=2022, name_to_code={n: c for n, c in mapping.items() if n != "BRESSON"})


@raw
def test_household_types_grenoble():
    _need(_raw("household_types_5metropoles"))
    h = insee.load_household_types(RAW)
    assert len(h) == 247
    g = _row(h, "code_commune", "38185")
    assert g["households_total_detailed"] == 84_143
    assert g["hh_one_person"] == 45_839 and g["hh_single_parent"] == 6_575
    parts = g[["hh_one_person", "hh_single_parent", "hh_couple_no_child", "hh_couple_with_children", "hh_other"]].sum()
    assert parts == g["households_total_detailed"]
    assert h.loc[h["code_commune"].str.startswith("38"), "households_total_detailed"].sum() == 215_037


@raw
def test_rp2016_iris_join_and_grenoble(rp2016):
    p = rp2016
    assert len(p) == 1_478 and p["code_iris"].is_unique
    assert (p["typ_iris"] == "H").all()
    assert p["code_iris"].str.startswith("38").sum() == 240
    g = p[p["code_commune"] == "38185"]
    assert len(g) == 68
    assert abs(g["pop_total"].sum() - 158_180) < 0.5
    assert abs(100 * g["pop_60p"].sum() / g["pop_total"].sum() - 19.8) <= 0.1
    first = _row(p, "code_iris", "010040101")
    assert abs(first["persons_one_person_households"] - (209.4449114592887 + 204.44152028031)) < 1e-9
    assert abs(first["social_housing"] - 231.4338426354396) < 1e-9
    assert (
        abs(
            first["pop_total"]
            - (
                319.1555753018585
                + 519.0110043110187
                + 346.9371272530932
                + 259.1986572176077
                + 295.4707857404404
                + 153.33905662687644
            )
        )
        < 1e-9
    )
    assert first["commune_name"] == "Ambérieu-en-Bugey"
    hh = [
        "persons_one_person_households",
        "persons_single_parent_households",
        "persons_couple_no_child_households",
        "persons_couple_with_children_households",
        "persons_other_no_family_households",
    ]
    assert np.allclose(p[hh].sum(axis=1), p["persons_in_households"])
    # persons in households (complementary exploitation) vs population (principal): close, below
    share = p["persons_in_households"].sum() / p["pop_total"].sum()
    assert 0.95 < share < 1.0


@raw
def test_codes_are_strings_everywhere(filosofi, comparateur, rp2022, rp2016):
    for df, col in ((filosofi, "code_commune"), (comparateur, "code_commune"), (rp2022, "code"), (rp2016, "code_iris")):
        assert pd.api.types.is_string_dtype(df[col])


# ---------------------------------------------------------------------------------------------
# synthetic files (hand-checkable)
# ---------------------------------------------------------------------------------------------


def _write(raw_dir: Path, key: str, text: str, encoding: str = "utf-8") -> Path:
    path = raw_dir / insee.SOURCES[key].raw_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


FILO_HEADER = "CODGEO;NBMENFISC21;NBPERSMENFISC21;MED21;PIMP21;TP6021;TP60AGE521;TP60AGE621;PPSOC21;PPFAM21;PPMINI21;PPLOGT21;D121;D921;RD21"


def test_synthetic_filosofi_markers(tmp_path):
    _write(
        tmp_path,
        "filosofi_com_2021",
        FILO_HEADER + "\n"
        "1001;346;895;25820;s;s;s;s;s;s;s;s;s;s;s\n"
        "38185;71309;136136;22140;54,0;21,0;16,0;14,0;7,0;1,9;3,3;1,8;10510;40460;3,8\n"
        "2A004;nd;nd;nd;nd;nd;nd;nd;nd;nd;nd;nd;nd;nd;nd\n",
    )
    f = insee.load_filosofi_communes(tmp_path)
    assert list(f["code_commune"]) == ["01001", "38185", "2A004"]
    assert f["poverty_secret"].tolist() == [True, False, False]
    assert f["poverty_status"].tolist() == ["secret", "ok", "not_available"]
    assert f["poverty_rate"].iloc[1] == 21.0 and f["income_d9_d1_ratio"].iloc[1] == 3.8
    assert f["median_income"].iloc[0] == 25_820 and np.isnan(f["median_income"].iloc[2])


def test_synthetic_filosofi_unknown_text_raises(tmp_path):
    _write(
        tmp_path,
        "filosofi_com_2021",
        FILO_HEADER + "\n38185;71309;136136;n/a;54,0;21,0;16,0;14,0;7,0;1,9;3,3;1,8;10510;40460;3,8\n",
    )
    with pytest.raises(LoaderError, match="MED21"):
        insee.load_filosofi_communes(tmp_path)


def test_synthetic_disp2019(tmp_path):
    _write(
        tmp_path,
        "filosofi_iris_disp_2019",
        '"IRIS","DISP_TP6019"\n10040101,"20.5"\n381850102,26\n"2A0040101",ns\n381850201,16550\n',
    )
    d = insee.load_filosofi_iris_disp2019(tmp_path)
    assert d["code_iris"].tolist() == ["010040101", "381850102", "2A0040101", "381850201"]
    assert d["code_commune"].tolist() == ["01004", "38185", "2A004", "38185"]
    assert d["poverty_rate_2019"].iloc[:2].tolist() == [20.5, 26.0]
    assert d["poverty_rate_2019_status"].tolist() == ["ok", "ok", "not_significant", "out_of_range"]
    assert np.isnan(d["poverty_rate_2019"].iloc[3])


DATASFUN_HEADER = (
    "insee_com,insee_reg,insee_dep,commune,commune_article,code_postal,commune_type,insee_parente,lat,lng,superficie_km2,"
    "population_2021,population_2015,menages_2021,naissances_2022,deces_2022,pop_15_64_totale_2021,pop_15_64_chomage_2021,pop_15_64_active_2021"
)


DISP_HEADER = "IRIS;DISP_TP6021;DISP_INCERT21;DISP_MED21;DISP_D121;DISP_D921;DISP_NOTE21"


def test_synthetic_filosofi_iris_disp2021(tmp_path):
    _write(
        tmp_path,
        "filosofi_iris_disp_2021",
        DISP_HEADER + "\n"
        "010040101;19,0;2;20350;11620;32060;0\n"
        "381850101;ns;so;ns;ns;ns;so\n"
        "381850103;nd;so;nd;nd;nd;5\n"
        "441140105;s;2;31200;18000;60000;0\n"
        "2A0040101;0,5;1;21000;10000;35000;0\n",
    )
    d = insee.load_filosofi_iris_disp2021(tmp_path)
    assert d["code_iris"].tolist() == ["010040101", "381850101", "381850103", "441140105", "2A0040101"]
    assert d["code_commune"].tolist() == ["01004", "38185", "38185", "44114", "2A004"]
    assert d["poverty_status"].tolist() == ["ok", "ns", "nd", "s", "ok"]
    assert d["poverty_uncertainty"].tolist() == ["2", pd.NA, pd.NA, "2", "1"]
    assert d["poverty_rate_2021"].iloc[0] == 19.0 and d["poverty_rate_2021"].iloc[4] == 0.5  # decimal comma
    assert d["poverty_rate_2021"].iloc[1:4].isna().all()
    assert d["median_income_2021"].iloc[3] == 31_200  # income published where the rate is secret
    assert d["income_d1_2021"].iloc[0] == 11_620 and d["income_d9_2021"].iloc[0] == 32_060


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("381850102;abc;1;21670;10270;39420;0", r"column 'DISP_TP6021'.*'abc'"),
        ("381850102;22,0;1;21670;n/a;39420;0", r"column 'DISP_D121'.*'n/a'"),
        ("381850102;122,0;1;21670;10270;39420;0", r"column 'DISP_TP6021', line 2 \(381850102\).*outside \[0, 100\]"),
        ("381850102;22,0;7;21670;10270;39420;0", r"DISP_INCERT21', line 2: unknown uncertainty class '7'"),
        ("3818501;22,0;1;21670;10270;39420;0", r"invalid IRIS codes \(first: .3818501.\)"),
    ],
)
def test_synthetic_filosofi_iris_disp2021_bad_values(tmp_path, line, match):
    path = _write(tmp_path, "filosofi_iris_disp_2021", DISP_HEADER + "\n" + line + "\n")
    with pytest.raises(LoaderError, match=match) as info:
        insee.load_filosofi_iris_disp2021(tmp_path)
    assert info.value.path == str(path) and path.name in str(info.value)


RP2017_HEADER = ",CODE_INSEE,TX_NSCOL15P,TX_MENSEUL,TX_FAMMONO,TX_65ETPLUS,TX_25ETMOINS,TX_DEMANDEUR_EMPLOIS"


def test_synthetic_rp2017_duplicates_kept_once(tmp_path):
    _write(
        tmp_path,
        "rp2017_rates_d4g",
        RP2017_HEADER + "\n"
        "0,1001,52.5,22.8,4.8,23.8,11.3,\n"
        "1,38185,,,,,,\n"  # the empty duplicate comes first here: the row with values is still kept
        "2,55039,,,,,,\n"  # no value at all: kept once, NaN
        "3,38185,29.1,51.2,8.3,18.5,24.2,12.0\n"
        "4,26030,40.0,,,30.0,0.0,\n",  # no households: two rates empty
    )
    r = insee.load_rp2017_rates(tmp_path)
    assert r["code_commune"].tolist() == ["01001", "26030", "38185", "55039"]
    assert list(r.columns) == ["code_commune", *insee.RP2017_SHARES]  # TX_DEMANDEUR_EMPLOIS not loaded
    g = r.iloc[2]
    assert [g[c] for c in insee.RP2017_SHARES] == [18.5, 24.2, 29.1, 51.2, 8.3]
    assert r.iloc[3][insee.RP2017_SHARES].isna().all()
    assert np.isnan(r.iloc[1]["share_one_person_households"]) and r.iloc[1]["share_65p_15p"] == 30.0


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("0,38185,29.1,51.2,8.3,18.5,24.2,\n1,38185,29.0,51.2,8.3,18.5,24.2,\n", r"38185 has several rows.*\[2, 3\]"),
        ("0,38185,29.1,51.2,8.3,101.5,24.2,\n", r"'TX_65ETPLUS', line 2 \(commune 38185\).*outside \[0, 100\]"),
        ("0,38185,29.1,-0.5,8.3,18.5,24.2,\n", r"'TX_MENSEUL', line 2 .*'-0.5' outside"),
        ("0,38185,29.1,abc,8.3,18.5,24.2,\n", r"column 'TX_MENSEUL'.*'abc'"),
        ("0,38185,29.1,51.2,8.3,18.5,24.2,\n1,38001,29.1,5", r"last line has 4 fields, the header 8"),
    ],
)
def test_synthetic_rp2017_bad_rows(tmp_path, rows, match):
    path = _write(tmp_path, "rp2017_rates_d4g", RP2017_HEADER + "\n" + rows)
    with pytest.raises(LoaderError, match=match) as info:
        insee.load_rp2017_rates(tmp_path)
    assert info.value.path == str(path)


def test_synthetic_disp2019_cut_inside_quotes(tmp_path):
    _write(tmp_path, "filosofi_iris_disp_2019", '"IRIS","DISP_TP6019"\n10040101,"20.5"\n10040102,"2')
    with pytest.raises(LoaderError, match="inside a quoted field.*DISP_TP6019"):
        insee.load_filosofi_iris_disp2019(tmp_path)


def test_synthetic_comparateur_dedup(tmp_path):
    _write(
        tmp_path,
        "comparateur_communes_2021",
        DATASFUN_HEADER + "\n"
        "01015,84,01,Arboys en Bugey,Arboys en Bugey,01300,COM,,45.7,5.6,22.49,667,637,303,2,3,394,39,307\n"
        "01015,,,Arbignieu,Arbignieu,01300,COMD,01015,45.7,5.6,22.49,667,637,303,2,3,394,39,307\n"
        "38185,84,38,Grenoble,Grenoble,38100,COM,,45.18,5.71,18.13,157477,160649,83592,1808,1197,109292,10527,76257\n"
        "38185,84,38,Grenoble,Grenoble,38000,COM,,45.18,5.71,18.13,157477,160649,83592,1808,1197,109292,10527,76257\n"
        "97611,06,976,Mamoudzou,Mamoudzou,97600,COM,,-12.78,45.22,,0,0,0,5000,300,0,0,0\n",
    )
    c = insee.load_comparateur_communes(tmp_path)
    assert c["code_commune"].tolist() == ["01015", "38185", "97611"]
    assert c["postcodes"].tolist() == ["01300", "38000;38100", "97600"]
    assert c["name"].iloc[0] == "Arboys en Bugey"
    assert c["unemployed_1564_2021"].iloc[1] == 10_527
    assert c["rp2021_status"].tolist() == ["ok", "ok", "incomplete"]
    assert np.isnan(c["population_2021"].iloc[2]) and c["births_2022"].iloc[2] == 5000
    assert np.isnan(c["area_km2"].iloc[2])


def test_synthetic_comparateur_disagreeing_rows_raise(tmp_path):
    _write(
        tmp_path,
        "comparateur_communes_2021",
        DATASFUN_HEADER + "\n"
        "38185,84,38,Grenoble,Grenoble,38100,COM,,45.18,5.71,18.13,157477,160649,83592,1808,1197,109292,10527,76257\n"
        "38185,84,38,Grenoble,Grenoble,38000,COM,,45.18,5.71,18.13,157478,160649,83592,1808,1197,109292,10527,76257\n",
    )
    with pytest.raises(LoaderError, match=r"38185 disagree on \['population_2021'\]"):
        insee.load_comparateur_communes(tmp_path)


def _comparator_text(
    rows: list[str], territories: str = "EPCI : Métro (200040715);Commune : Bresson (38057);Commune : Grenoble (38185)"
) -> str:
    banner = "Comparateur de territoires;;;\n;;;\n© Insee;;;\n;;;\n;;;\n;;;\n"
    body = [f"Population;{territories}"]
    body += rows
    return "\ufeff" + banner + "\n".join(body) + "\n"


CORE_ROWS = [
    "Population en 2022;1000;671;329",
    "Nombre de ménages en 2022;500;295;205",
    "Sources : Insee, RP2022;;;",
    ";;;",
    "Revenus;EPCI : Métro (200040715);Commune : Bresson (38057);Commune : Grenoble (38185)",
    "Nombre de ménages fiscaux en 2021;480;295;185",
    "Médiane du revenu disponible par unité de consommation en 2021, en euros;23940;34920;22140",
    "Taux de pauvreté en 2021, en %;15;s;21",
    "Avertissement : secret statistique (s) ou valeur manquante (vm);;;",
    "Emploi - Chômage au sens du recensement;EPCI : Métro (200040715);Commune : Bresson (38057);Commune : Grenoble (38185)",
    "Taux d'activité des 15 à 64 ans en 2022;73,2;77,5;70,7",
    "Taux de chômage des 15 à 64 ans en 2022;11,2;vm;13,5",
]


def test_synthetic_comparateur_rp2022(tmp_path):
    _write(tmp_path, "comparateur_rp2022_gam", _comparator_text(CORE_ROWS))
    r = insee.load_comparateur_rp2022(tmp_path)
    assert r["territory_type"].tolist() == ["epci", "commune", "commune"]
    assert r["code"].tolist() == ["200040715", "38057", "38185"]
    assert r["name"].tolist() == ["Métro", "Bresson", "Grenoble"]
    assert r["population_2022"].tolist() == [1000, 671, 329]
    assert r["activity_rate_1564_2022"].tolist() == [73.2, 77.5, 70.7]
    assert r["poverty_secret"].tolist() == [False, True, False]
    assert r["secret_indicators"].tolist() == ["", "poverty_rate_2021", ""]
    assert r["unavailable_indicators"].tolist() == ["", "unemployment_rate_1564_2022", ""]
    assert np.isnan(r["unemployment_rate_1564_2022"].iloc[1])


def test_synthetic_comparateur_rp2022_bad_blocks(tmp_path):
    rows = [*CORE_ROWS]
    rows[4] = "Revenus;EPCI : Métro (200040715);Commune : Claix (38111);Commune : Grenoble (38185)"
    _write(tmp_path, "comparateur_rp2022_gam", _comparator_text(rows))
    with pytest.raises(LoaderError, match="other territories"):
        insee.load_comparateur_rp2022(tmp_path)
    rows = [*CORE_ROWS]
    rows[1] = "Nombre de ménages en 2022;500;;205"
    _write(tmp_path, "comparateur_rp2022_gam", _comparator_text(rows))
    with pytest.raises(LoaderError, match="no value for 'Commune : Bresson"):
        insee.load_comparateur_rp2022(tmp_path)
    rows = [*CORE_ROWS, "Un indicateur nouveau en 2022;1;2;3"]
    _write(tmp_path, "comparateur_rp2022_gam", _comparator_text(rows))
    with pytest.warns(UserWarning, match="unknown comparator indicator"):
        r = insee.load_comparateur_rp2022(tmp_path)
    assert r["un_indicateur_nouveau_en_2022"].tolist() == [1, 2, 3]


def test_synthetic_diplomas_sum_mismatch_and_unknown_category(tmp_path):
    header = '"Géographie";"Niveau Géo";"Âge";"Sexe";"Diplôme";"Indicateur du lieu d’étude";"Mesure du recensement ";"Fréquence";"Statut de l\'observation";Période;Valeur\n'

    def row(cat: str, v: str, sex: str = "Total") -> str:
        return f'"Venon";"Commune";"15 ans ou plus";"{sex}";"{cat}";"Hors champ";"Population";"Annuel";"Normale";2022;{v}\n'

    ok = (
        header
        + row("Total", "10,5")
        + row("Aucun diplôme ou certificat d'études primaires", "4,5")
        + row("BEPC, brevet élémentaire, brevet des collèges, DNB", "6")
        + row("Total", "99", "Homme")
    )
    _write(tmp_path, "diplomas_gam", ok)
    d = insee.load_diplomas(tmp_path, name_to_code={"Venon": "38533"})
    assert d["code_commune"].tolist() == ["38533"]
    assert d[["nscol15p", "nscol15p_diplmin", "nscol15p_bepc", "nscol15p_diplmin_or_bepc"]].iloc[0].tolist() == [
        10.5,
        4.5,
        6.0,
        10.5,
    ]
    _write(
        tmp_path,
        "diplomas_gam",
        header + row("Total", "20") + row("Aucun diplôme ou certificat d'études primaires", "4,5"),
    )
    with pytest.raises(LoaderError, match="sum to 4.5, not to the Total 20.0"):
        insee.load_diplomas(tmp_path, name_to_code={"Venon": "38533"})
    _write(tmp_path, "diplomas_gam", header + row("Total", "20") + row("Doctorat honoris causa", "20"))
    with pytest.raises(LoaderError, match="unknown diploma categories"):
        insee.load_diplomas(tmp_path, name_to_code={"Venon": "38533"})


def test_normalise_name():
    assert (
        insee.normalise_name("Saint-Martin-d’Hères")
        == insee.normalise_name("ST MARTIN D'HERES")
        == "saint martin d heres"
    )
    assert insee.normalise_name("Échirolles") == "echirolles"


# ---------------------------------------------------------------------------------------------
# bad input built from the real files: truncated, wrong separator, missing column, encodings
# ---------------------------------------------------------------------------------------------

#: loader, the source key of the file that is damaged, other files it needs, a required column / label
CASES = {
    "filosofi_communes": (insee.load_filosofi_communes, "filosofi_com_2021", [], "NBMENFISC21", ";"),
    "filosofi_iris_dec": (insee.load_filosofi_iris_dec, "filosofi_iris_dec_2021", [], "DEC_MED21", ";"),
    "filosofi_iris_disp2019": (insee.load_filosofi_iris_disp2019, "filosofi_iris_disp_2019", [], "DISP_TP6019", ","),
    "filosofi_iris_disp2021": (insee.load_filosofi_iris_disp2021, "filosofi_iris_disp_2021", [], "DISP_TP6021", ";"),
    "rp2017_rates": (insee.load_rp2017_rates, "rp2017_rates_d4g", [], "CODE_INSEE", ","),
    "comparateur_communes": (insee.load_comparateur_communes, "comparateur_communes_2021", [], "population_2021", ","),
    "comparateur_rp2022": (insee.load_comparateur_rp2022, "comparateur_rp2022_gam", [], "Population", ";"),
    "population_by_age": (insee.load_population_by_age, "pop_age_5metropoles", [], "ageq_rec01s1rpop2016", ","),
    "diplomas": (insee.load_diplomas, "diplomas_gam", [GEO_NAMES], "Valeur", ";"),
    "household_types": (
        insee.load_household_types,
        "household_types_5metropoles",
        [],
        "Menages_moins20ans_pers_seule",
        ",",
    ),
    "rp2016_iris": (
        insee.load_rp2016_iris,
        "rp2016_iris_population",
        [_raw("rp2016_iris_menages"), _raw("rp2016_iris_logement")],
        "P16_POP0014",
        ",",
    ),
}
#: column renamed in the header for the "missing column" variant
MISSING = {
    "filosofi_communes": "MED21",
    "filosofi_iris_dec": "DEC_MED21",
    "filosofi_iris_disp2019": "DISP_TP6019",
    "filosofi_iris_disp2021": "DISP_MED21",
    "rp2017_rates": "TX_NSCOL15P",
    "comparateur_communes": "menages_2021",
    "comparateur_rp2022": "Taux de pauvreté en 2021, en %",
    "population_by_age": "ageq_rec16s2rpop2016",
    "diplomas": "Valeur",
    "household_types": "Menages_plus80ans_pers_seule",
    "rp2016_iris": "P16_POP75P",
}


def _variant_dir(tmp_path: Path, name: str) -> tuple[Path, Path, str]:
    """A raw dir with the case's files linked from RAW; returns (raw_dir, damaged file, its text)."""
    _loader, key, others, _token, _sep = CASES[name]
    _need(_raw(key), *others)
    raw_dir = tmp_path / "raw"
    for rel in [_raw(key), *others]:
        target = raw_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel != _raw(key):
            target.symlink_to(RAW / rel)
    damaged = raw_dir / _raw(key)
    text = (RAW / _raw(key)).read_bytes().decode("utf-8-sig")
    return raw_dir, damaged, text


def _assert_error(name: str, raw_dir: Path, damaged: Path, *tokens: str) -> LoaderError:
    loader = CASES[name][0]
    with pytest.raises(LoaderError) as info:
        loader(raw_dir)
    msg = str(info.value)
    assert damaged.name in msg, msg
    for t in tokens:
        assert t in msg, msg
    return info.value


@raw
@pytest.mark.parametrize("name", list(CASES))
def test_truncated_file(tmp_path, name):
    raw_dir, damaged, text = _variant_dir(tmp_path, name)
    lines = text.splitlines(keepends=True)
    k = min(len(lines) // 2, 300)
    cut = lines[k]
    sep = CASES[name][4]
    # keep the first field of line k and its separator: the download stopped mid-line
    partial = cut[: cut.index(sep) + 1] if sep in cut[:-1] else cut[: len(cut) // 2]
    damaged.write_text("".join(lines[:k]) + partial, encoding="utf-8")
    _assert_error(name, raw_dir, damaged, CASES[name][3])


@raw
@pytest.mark.parametrize("name", list(CASES))
def test_wrong_separator(tmp_path, name):
    raw_dir, damaged, text = _variant_dir(tmp_path, name)
    sep = CASES[name][4]
    other = "," if sep == ";" else ";"
    damaged.write_text(text.replace(sep, other), encoding="utf-8")
    err = _assert_error(name, raw_dir, damaged, CASES[name][3])
    assert f"{sep!r}" in err.expected


@raw
@pytest.mark.parametrize("name", list(CASES))
def test_missing_column(tmp_path, name):
    raw_dir, damaged, text = _variant_dir(tmp_path, name)
    col = MISSING[name]
    assert col in text
    damaged.write_text(text.replace(col, col.upper() + "_RENAMED", 1), encoding="utf-8")
    token = "Taux de pauvreté" if name == "comparateur_rp2022" else col
    with pytest.warns() if name == "comparateur_rp2022" else nullcontext():
        _assert_error(name, raw_dir, damaged, token)


@raw
@pytest.mark.parametrize("name", list(CASES))
def test_double_encoded_copy_raises(tmp_path, name):
    """UTF-8 text read as latin-1 and saved again as UTF-8 ('Ã©' for 'é'): refused, not loaded garbled."""
    raw_dir, damaged, text = _variant_dir(tmp_path, name)
    if text.isascii():
        pytest.skip("ASCII file: encodings cannot differ")
    damaged.write_bytes(text.encode("utf-8").decode("latin-1").encode("utf-8"))
    err = _assert_error(name, raw_dir, damaged, CASES[name][3])
    assert "double-encoded" in err.problem


@raw
@pytest.mark.parametrize("name", ["comparateur_rp2022", "diplomas", "household_types", "rp2016_iris"])
@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_latin1_copy_reads_the_same(tmp_path, name, encoding):
    """A genuine latin-1 (or Windows cp1252) re-encoding is decoded correctly (tabular.read_text
    tries UTF-8, then cp1252/latin-1): the loader returns the same table, not garbage. latin-1
    has no 'œ' (Chambœuf) or '’': those become '?', so only numbers and codes are compared."""
    raw_dir, damaged, text = _variant_dir(tmp_path, name)
    damaged.write_bytes(text.encode(encoding, errors="replace"))
    loader = CASES[name][0]
    expected = loader(RAW)
    got = loader(raw_dir)
    if encoding == "cp1252":
        pd.testing.assert_frame_equal(got, expected)
    else:
        keep = [c for c in expected.columns if c not in ("name", "commune_name")]
        pd.testing.assert_frame_equal(got[keep], expected[keep])


def test_missing_file_raises(tmp_path):
    with pytest.raises(LoaderError, match="file not found"):
        insee.load_household_types(tmp_path)


# ---------------------------------------------------------------------------------------------
# SOURCES and download
# ---------------------------------------------------------------------------------------------


def test_sources_declared():
    assert set(insee.SOURCES) == {s.key for s in insee.SOURCES.values()}
    for src in insee.SOURCES.values():
        assert src.raw_path.startswith("insee/") and src.producer and src.licence and src.vintage
        if src.url:
            assert src.url.startswith("https://")
    for key in (
        "filosofi_iris_disp_2019",
        "comparateur_communes_2021",
        "pop_age_5metropoles",
        "household_types_5metropoles",
        "rp2016_iris_population",
        "rp2017_rates_d4g",
    ):
        assert "DERIVATIVE" in insee.SOURCES[key].notes
    assert insee.SOURCES["filosofi_com_2021"].url.endswith("base-cc-filosofi-2021-geo2025_csv.zip")
    assert insee.SOURCES["filosofi_iris_dec_2021"].url.endswith("BASE_TD_FILO_IRIS_2021_DEC_CSV.zip")
    assert insee.SOURCES["filosofi_iris_disp_2021"].url.endswith("8229323/BASE_TD_FILO_IRIS_2021_DISP_CSV.zip")
    assert insee.SOURCES["rp2017_rates_d4g"].url is None and "TX_NSCOL15P" in insee.SOURCES["rp2017_rates_d4g"].notes
    if (RAW / "insee").is_dir():
        for src in insee.SOURCES.values():
            assert (RAW / src.raw_path).exists(), src.raw_path


def test_download_uses_fetch(monkeypatch, tmp_path):
    calls = []

    def fake_fetch(url, name, **kwargs):
        calls.append((url, name))
        p = tmp_path / name
        p.write_bytes(b"PK")
        return p

    monkeypatch.setattr(loaders.download, "fetch", fake_fetch)
    path = insee.download("filosofi_iris_dec_2021")
    assert calls == [(insee.SOURCES["filosofi_iris_dec_2021"].url, "BASE_TD_FILO_IRIS_2021_DEC_CSV.zip")]
    assert path == tmp_path / "BASE_TD_FILO_IRIS_2021_DEC_CSV.zip"
    with pytest.raises(LoaderError, match="no official download URL"):
        insee.download("comparateur_communes_2021")
    with pytest.raises(LoaderError, match="unknown INSEE source"):
        insee.download("nope")
    assert len(calls) == 1
