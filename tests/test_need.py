"""People in need: precarity and illectronisme models, rates file, real Grenoble figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.need import RATES_PATH, load_rates, people_in_need

RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"

RATES = {
    "precarity": {"share": 0.40},
    "illectronisme": {"overall_15p": 0.17, "share_15p": 0.82, "share_30_59_in_rest": 0.69,
                      "by_age": {"15_29": 0.03, "30_59": 0.06, "60_74": 0.27, "75p": 0.67}},
}


def test_rates_file_has_sources_and_marks_unverified_figures():
    rates = load_rates()
    assert rates["precarity"]["share"] == 0.40 and "Emmaüs Connect" in rates["precarity"]["source"]
    ill = rates["illectronisme"]
    assert ill["overall_15p"] == 0.17 and "n°1780" in ill["source"] and "Legleye" in ill["source"]
    assert ill["by_age"]["75p"] == 0.67
    text = RATES_PATH.read_text(encoding="utf-8")
    assert text.count("(à vérifier)") >= 5  # every figure not checked against the publication is marked
    assert rates["supply"]["default_weekly_hours"]["france_services"] == 24.0
    assert rates["travel"]["detour"] > 1


def test_bad_rates_file_names_missing_entry(tmp_path):
    p = tmp_path / "rates.toml"
    p.write_text("[precarity]\nshare = 0.4\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"missing \[illectronisme\] overall_15p"):
        load_rates(p)


def test_precarity_model_by_hand_with_imputation_flagged():
    z = pd.DataFrame({
        "code_departement": ["38", "38", "38", "73"],
        "population": [1000.0, 2000.0, 500.0, 800.0],
        "poor_persons": [150.0, np.nan, np.nan, np.nan],
        "fiscal_persons": [900.0, np.nan, np.nan, np.nan],
        "poverty_rate": [np.nan, 15.0, np.nan, np.nan],
    })
    r = people_in_need(z, "precarity", RATES)
    assert r.loc[0, "need"] == pytest.approx(0.4 * 150)
    assert r.loc[1, "need"] == pytest.approx(0.4 * 2000 * 0.15)
    # zone 2: secret → Isère rate from summed counts 150 / 900, flagged
    assert r.loc[2, "need"] == pytest.approx(0.4 * 500 * 150 / 900)
    # zone 3: no zone of Savoie publishes a poverty count → stays NaN (never 0)
    assert np.isnan(r.loc[3, "need"])
    assert r["need_method"].tolist() == ["poor_persons", "population_x_rate", "imputed_reference_rate", "missing"]
    assert r["need_imputed"].tolist() == [False, False, True, False]
    r2 = people_in_need(z, "precarity", RATES, impute=False)
    assert np.isnan(r2.loc[2, "need"]) and not r2["need_imputed"].any()


def test_illectronisme_model_maps_age_groups():
    z = pd.DataFrame({
        "population": [1000.0, 1000.0, 1000.0],
        "pop_age_total": [1000.0, 1000.0, np.nan],
        "pop_15_29": [200.0, 200.0, np.nan],
        "pop_60p": [300.0, np.nan, np.nan],
        "pop_65p": [np.nan, 250.0, np.nan],
        "pop_75p": [100.0, 100.0, np.nan],
    })
    r = people_in_need(z, "illectronisme", RATES)
    # 15–29: 200 × 3 %; 60–74: (300 − 100) × 27 %; 75+: 100 × 67 %; rest (0–14 and 30–59): 500 × 6 % × 0.69
    assert r.loc[0, "need"] == pytest.approx(6 + 54 + 67 + 20.7)
    # only 65+: 65–74 at the 60–74 rate; 60–64 go to the rest (550)
    assert r.loc[1, "need"] == pytest.approx(6 + 150 * 0.27 + 67 + 550 * 0.06 * 0.69)
    # no age groups: overall 17 % of the 82 % aged 15+
    assert r.loc[2, "need"] == pytest.approx(0.17 * 0.82 * 1000)
    assert r["need_method"].tolist() == ["age_groups", "age_groups_65p", "overall_rate"]
    assert r["need_imputed"].tolist() == [False, False, True]
    with pytest.raises(ValueError, match="unknown need model"):
        people_in_need(z, "census", RATES)


@pytest.mark.raw
@pytest.mark.skipif(not RAW.exists(), reason="shared/data/raw not present")
def test_real_grenoble_precarity_need():
    f = pd.read_csv(RAW / "insee" / "cc_filosofi_2021_COM.csv", sep=";", dtype=str)
    g = f[f["CODGEO"] == "38185"].iloc[0]
    fiscal = float(g["NBPERSMENFISC21"])
    tp60 = float(g["TP6021"].replace(",", "."))
    assert fiscal == 136_136 and tp60 == 21.0
    z = pd.DataFrame({"population": [156_389.0], "fiscal_persons": [fiscal], "poor_persons": [tp60 / 100 * fiscal]})
    r = people_in_need(z, "precarity")
    assert r.loc[0, "need"] == pytest.approx(0.40 * 0.21 * 136_136)  # 11 435.4 people
    assert round(r.loc[0, "need"]) == 11_435
