"""Fragility index: 5 zones by hand (deciles, min–max, ratio), contributions, missing policies, real Isère data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.definitions import CATALOGUE, Config, indicator_table, indicator_values, ratio
from indicators.fragility import decile_scores, fragility

RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"


def five_zones() -> pd.DataFrame:
    # poverty rates 10, 20, 30, 40, 50 % from counts of different sizes: Σpoor / Σfiscal = 340 / 1000
    return pd.DataFrame({
        "code": list("ABCDE"), "code_departement": "38", "code_region": "84",
        "fiscal_persons": [100.0, 200.0, 100.0, 400.0, 200.0],
        "poor_persons": [10.0, 40.0, 30.0, 160.0, 100.0],
        "median_income": [30000.0, 25000.0, 20000.0, 15000.0, 10000.0],
        "unemployed_1564": [5.0, 10.0, 10.0, 30.0, 10.0], "active_1564": [100.0, 100.0, 50.0, 100.0, 20.0],
    })


CFG = Config(indicators=("poverty", "median_income"), weights=(("median_income", 1), ("poverty", 3)))


def test_catalogue_rates_and_directions():
    z = five_zones()
    np.testing.assert_allclose(indicator_values(z, CATALOGUE["poverty"])[0], [10, 20, 30, 40, 50])
    np.testing.assert_allclose(indicator_values(z, CATALOGUE["unemployment"])[0], [5, 10, 20, 30, 50])
    assert CATALOGUE["median_income"].higher_is_more_fragile is False
    assert CATALOGUE["no_thd"].kind == "complement"
    # NaN when num or den is missing or den == 0, never 0
    out = ratio([1.0, np.nan, 3.0, 4.0], [2.0, 5.0, 0.0, np.nan])
    assert out[0] == 50.0 and np.isnan(out[1:]).all()
    no_ftth = indicator_values(pd.DataFrame({"ftth_premises": [30.0], "premises_total": [120.0]}), CATALOGUE["no_ftth"])[0]
    assert no_ftth[0] == 75.0
    # « sans THD » = premises without ≥ 30 Mbit/s (all technologies, ARCEP 2019): 1 − 90 / 120
    no_thd = indicator_values(pd.DataFrame({"thd_premises": [90.0], "premises_2019": [120.0]}), CATALOGUE["no_thd"])[0]
    assert no_thd[0] == 25.0
    t = indicator_table(z, ["poverty", "unemployment"])
    assert list(t.columns) == ["poverty", "unemployment"] and t.loc[4, "unemployment"] == 50.0


def test_deciles_by_hand():
    r = fragility(five_zones(), CFG)
    np.testing.assert_array_equal(r["score_poverty"], [2, 4, 6, 8, 10])
    np.testing.assert_array_equal(r["score_median_income"], [2, 4, 6, 8, 10])  # lower income = more fragile
    np.testing.assert_allclose(r["score"], [2, 4, 6, 8, 10])
    # ties share the average rank: values 1, 1, 2, 3 → ranks 1.5, 1.5, 3, 4 → ceil(10 r / 4)
    np.testing.assert_array_equal(decile_scores(np.array([1, 1, 2, 3.0]), np.array([1, 1, 2, 3.0])), [4, 4, 8, 10])


def test_minmax_and_ratio_by_hand():
    r = fragility(five_zones(), CFG.replace(normalisation="minmax"))
    np.testing.assert_allclose(r["score_poverty"], [0, 2.5, 5, 7.5, 10])
    np.testing.assert_allclose(r["score_median_income"], [0, 2.5, 5, 7.5, 10])
    r = fragility(five_zones(), CFG.replace(normalisation="ratio"))
    # reference poverty = 100 × 340 / 1000 = 34 % (summed counts, not the 30 % mean of rates)
    np.testing.assert_allclose(r["score_poverty"], 100 * np.array([10, 20, 30, 40, 50]) / 34.0)
    # median income: non-additive → reference = median of the set (20 000), reversed: 100 × ref / v
    np.testing.assert_allclose(r["score_median_income"], [100 * 20000 / 30000, 80, 100, 100 * 20000 / 15000, 200])
    # weights 3 : 1 normalised by their sum
    np.testing.assert_allclose(r["score"], 0.75 * r["score_poverty"] + 0.25 * r["score_median_income"])
    # a published reference value replaces the one from counts
    ref = pd.DataFrame({"poverty": [25.0]}, index=["38"])
    r2 = fragility(five_zones(), CFG.replace(normalisation="ratio"), reference_values=ref)
    np.testing.assert_allclose(r2["score_poverty"], [40, 80, 120, 160, 200])


@pytest.mark.parametrize("norm", ["decile", "ratio", "minmax"])
@pytest.mark.parametrize("ind_set", ["ifn2023", "ifn2019"])
@pytest.mark.parametrize("missing", ["median", "available", "unscored"])
def test_contributions_sum_to_total(norm, ind_set, missing):
    z = five_zones()
    z.loc[2, "poor_persons"] = np.nan
    cfg = Config(indicator_set=ind_set, indicators=("poverty", "median_income", "unemployment"),
                 weights=(("poverty", 2), ("unemployment", 7)), normalisation=norm, missing=missing)
    r = fragility(z, cfg)
    contrib = r[[c for c in r.columns if c.startswith("contrib_")]].sum(axis=1, min_count=1)
    np.testing.assert_allclose(contrib, r["score"], rtol=1e-12)


def test_ifn2019_axes_mean_by_hand():
    cfg = Config(indicator_set="ifn2019", indicators=("poverty", "median_income", "unemployment"))
    r = fragility(five_zones(), cfg)
    # axis "accès aux interfaces" = mean(poverty, income) deciles; "compétences administratives" = unemployment
    np.testing.assert_allclose(r["axis_acces_interfaces"], [2, 4, 6, 8, 10])
    np.testing.assert_array_equal(r["score_unemployment"], [2, 4, 6, 8, 10])
    np.testing.assert_allclose(r["score"], (r["axis_acces_interfaces"] + r["axis_competences_administratives"]) / 2)
    # zone A: poverty 2, income 2 → axis 2; unemployment 2 → total 2; contributions 0.5, 0.5, 1
    assert r.loc[0, "contrib_poverty"] == pytest.approx(0.5) and r.loc[0, "contrib_unemployment"] == pytest.approx(1.0)


def test_missing_policies_flags():
    z = five_zones()
    z.loc[2, "poor_persons"] = np.nan  # zone C: poverty secret
    r = fragility(z, CFG.replace(missing="median"))
    # observed 10, 20, 40, 50 → C imputed with the median 30 → average rank 2.5 → ceil(10 × 2.5 / 4) = 7
    np.testing.assert_array_equal(r["score_poverty"], [3, 5, 7, 8, 10])
    assert r["imputed_poverty"].tolist() == [False, False, True, False, False]
    assert r["n_imputed"].tolist() == [0, 0, 1, 0, 0] and r.loc[2, "n_indicators"] == 2
    assert np.isnan(r.loc[2, "value_poverty"])  # the raw value stays missing
    r = fragility(z, CFG.replace(missing="unscored"))
    assert np.isnan(r.loc[2, "score"]) and r.loc[2, "n_indicators"] == 0 and not r["imputed_poverty"].any()
    assert r["score"].notna().sum() == 4
    r = fragility(z, CFG.replace(missing="available"))
    assert r.loc[2, "score"] == r.loc[2, "score_median_income"] == 6 and r.loc[2, "n_indicators"] == 1
    # a reference set with no observed value at all: the indicator is left out there (median policy)
    z2 = z.assign(code_departement=["38", "38", "38", "73", "73"])
    z2.loc[[3, 4], "poor_persons"] = np.nan
    r2 = fragility(z2, CFG)
    assert r2.loc[3, "n_indicators"] == 1 and not r2.loc[3, "imputed_poverty"]
    assert r2.loc[3, "score"] == r2.loc[3, "score_median_income"] == 5  # 15 000 € vs 10 000 € in Savoie
    # ratio with a missing zone: the reference comes from the counts of the zones that have them
    r = fragility(z, CFG.replace(normalisation="ratio"))
    assert r.loc[0, "score_poverty"] == pytest.approx(100 * 10 / (100 * 310 / 900))


def test_reference_groups_and_age_fallback():
    """65+ among people 15+ (one definition for every zone: no 60+ stand-in is ranked with it)."""
    z = pd.DataFrame({
        "code_departement": ["01", "01", "01", "38", "38"],
        "pop15p": [100.0] * 5, "pop15p_65p": [10, 20, 30, 40, 5],
    })
    r = fragility(z, Config(indicators=("age65",)))
    # deciles within each département: 01 → 10, 20, 30 % ; 38 → 40 %, 5 %
    np.testing.assert_array_equal(r["score_age65"], [4, 7, 10, 10, 5])
    assert "fallback_age65" not in r.columns and CATALOGUE["age65"].fallback_num is None
    assert r["reference_code"].tolist() == ["01", "01", "01", "38", "38"]
    r_all = fragility(z, Config(indicators=("age65",), reference="all"))
    np.testing.assert_array_equal(r_all["score_age65"], [4, 6, 8, 10, 2])
    with pytest.raises(ValueError, match="reference column 'code_epci'"):
        fragility(z, Config(indicators=("age65",), reference="epci"))


def test_config_json_round_trip_and_validation():
    cfg = Config(indicator_set="ifn2019", weights=(("poverty", 4),), normalisation="ratio", target=0.5,
                 time_slot="evening", max_cost=25.0)
    d = cfg.to_dict()
    assert json.loads(json.dumps(d)) == d and d["weights"] == {"poverty": 4}
    assert Config.from_dict(json.loads(cfg.to_json())) == cfg
    # URL parameters are strings
    url = {"normalisation": "minmax", "weights": '{"poverty": "7"}', "target": "0.25", "need_impute": "false",
           "indicators": "poverty,age65", "service": ""}
    c2 = Config.from_dict(url)
    assert c2.weight_map == {"poverty": 7, "age65": 1} and c2.target == 0.25 and c2.need_impute is False
    assert c2.service is None
    with pytest.raises(ValueError, match="unknown config keys"):
        Config.from_dict({"normalisation": "decile", "__class__": "x"})
    assert Config.from_dict({"bogus": 1}, strict=False) == Config()
    with pytest.raises(ValueError, match="normalisation"):
        Config(normalisation="zscore")
    with pytest.raises(ValueError, match="integer 0–10"):
        Config(weights=(("poverty", 11),))
    with pytest.raises(ValueError, match="integer 0–10"):
        Config.from_dict({"weights": {"poverty": 2.5}})
    with pytest.raises(ValueError, match="all indicator weights are 0"):
        fragility(five_zones(), Config(indicators=("poverty",), weights=(("poverty", 0),)))


@pytest.mark.raw
@pytest.mark.skipif(not RAW.exists(), reason="shared/data/raw not present")
def test_real_isere_poverty_ratio_and_decile_for_grenoble():
    f = pd.read_csv(RAW / "insee" / "cc_filosofi_2021_COM.csv", sep=";", dtype=str)
    f = f[f["CODGEO"].str.startswith("38")].reset_index(drop=True)
    tp = pd.to_numeric(f["TP6021"].str.replace(",", "."), errors="coerce")  # "s" (secret) → NaN
    fiscal = pd.to_numeric(f["NBPERSMENFISC21"], errors="coerce")
    zones = pd.DataFrame({"code": f["CODGEO"], "code_departement": "38",
                          "fiscal_persons": fiscal.where(tp.notna()), "poor_persons": tp / 100 * fiscal,
                          "median_income": pd.to_numeric(f["MED21"], errors="coerce")})
    assert len(zones) == 512 and zones["poor_persons"].notna().sum() == 85  # SOURCES: 85 of 512 published
    cfg = Config(indicators=("poverty",), normalisation="ratio", missing="unscored")
    r = fragility(zones, cfg).set_index(zones["code"])
    assert r.loc["38185", "value_poverty"] == pytest.approx(21.0)  # Grenoble TP60 2021 = 21 %
    # Isère (85 published communes) from summed counts: 116 471.15 / 776 120 = 15.0068 %, not the 11.92 % mean
    assert r.loc["38185", "score_poverty"] == pytest.approx(100 * 21.0 / (100 * 116471.15 / 776120), rel=1e-9)
    assert r.loc["38185", "score_poverty"] == pytest.approx(139.936, abs=1e-3)
    d = fragility(zones, cfg.replace(normalisation="decile")).set_index(zones["code"])
    assert d.loc["38185", "score_poverty"] == 10  # average rank 78.5 of 85 → ceil(9.24)
    assert d["score"].notna().sum() == 85
    inc = fragility(zones, Config(indicators=("median_income",), normalisation="ratio")).set_index(zones["code"])
    # MED21 published for 485 Isère communes; reference = their median (24 730 €), reversed
    assert inc.loc["38185", "score_median_income"] == pytest.approx(100 * 24730 / 22140)


def test_zones_without_residents_are_not_scored_nor_ranked():
    # zone 2 has no residents (an activity IRIS): not scored, and its value does not enter the deciles
    z = pd.DataFrame({"level": "iris", "code_departement": "38", "population": [100.0, 100.0, 0.0, 100.0],
                      "pop15p": [100.0] * 4, "pop15p_65p": [10.0, 20.0, 90.0, 30.0]})
    r = fragility(z, Config(indicators=("age65",)))
    assert r["uninhabited"].tolist() == [False, False, True, False]
    assert np.isnan(r.loc[2, "score"]) and np.isnan(r.loc[2, "score_age65"])
    # deciles over the 3 inhabited zones: ranks 1, 2, 3 of 3 → ceil(10 r / 3) = 4, 7, 10
    np.testing.assert_array_equal(r["score_age65"].to_numpy()[[0, 1, 3]], [4, 7, 10])


def test_reference_moves_up_when_it_is_the_level_itself():
    deps = pd.DataFrame({"code": ["01", "38"], "level": "departement", "code_region": "84",
                         "code_departement": ["01", "38"], "pop15p": [100.0, 100.0], "pop15p_65p": [10.0, 30.0]})
    r = fragility(deps, Config(indicators=("age65",)))  # default reference: département
    # each département alone would score 10; ranked within the région: 5 (rank 1 of 2) and 10
    assert r["reference"].iloc[0] == "region" and r["score_age65"].tolist() == [5, 10]
    region = deps.iloc[:1].assign(level="region")
    assert fragility(region, Config(indicators=("age65",)))["reference"].iloc[0] == "all"


def test_france_reference_ranks_communes_against_the_national_distribution():
    national = pd.DataFrame({"indicator": "age65", "code": [f"{i:05d}" for i in range(10)],
                             "num": np.arange(10.0, 110.0, 10.0), "den": 100.0, "value": np.arange(10.0, 110.0, 10.0),
                             "estimated": False})
    z = pd.DataFrame({"level": "commune", "code_departement": "38", "code_region": "84", "pop15p": [100.0, 100.0],
                      "pop15p_65p": [15.0, 95.0], "thd_premises": [1.0, 2.0], "premises_2019": [2.0, 2.0]})
    r = fragility(z, Config(indicators=("age65", "no_thd"), reference="france"), national=national)
    # 15 % is above 1 of the 10 national values → rank 1 + 1/2 → ceil(10 × 1.5 / 10) = 2; 95 % → 10
    assert r["score_age65"].tolist() == [2, 10] and r["national_keys"].iloc[0] == "age65"
    # « sans THD » has no national rows here: ranked within the zones, and reported as such
    assert r["score_no_thd"].tolist() == [10, 5]
    iris = z.assign(level="iris")
    assert fragility(iris, Config(indicators=("age65",), reference="france"), national=national)["reference"].iloc[0] == "region"


def test_measured_share_counts_the_estimated_inputs():
    # poverty estimated (secret commune) in zone 1: with two equally weighted indicators,
    # the measured share of its score is the share of the score coming from age65
    z = pd.DataFrame({"code_departement": "38", "pop15p": [100.0, 100.0], "pop15p_65p": [10.0, 20.0],
                      "poor_persons": [5.0, 30.0], "fiscal_persons": [100.0, 100.0],
                      "poverty_status": ["ok", "estimated"], "age15p_status": ["ok", "ok"]})
    r = fragility(z, Config(indicators=("age65", "poverty")))
    assert r.loc[0, "measured_share"] == 1.0
    # zone 1: scores 10 (age) and 10 (poverty) → total 10, of which 5 measured
    assert r.loc[1, "estimated_poverty"] == 1.0 and r.loc[1, "measured_share"] == pytest.approx(0.5)
