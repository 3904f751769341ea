"""Aggregation across levels: rates from summed counts (never a mean of rates), coverage, real Métropole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.aggregate import aggregate, aggregate_all
from indicators.definitions import CATALOGUE, Config, indicator_values
from indicators.fragility import fragility

RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"


def iris_table() -> pd.DataFrame:
    return pd.DataFrame({
        "code": ["381850101", "381850102", "381850103", "380010000"],
        "level": "iris",
        "code_commune": ["38185", "38185", "38185", "38001"], "commune_name": ["Grenoble"] * 3 + ["Les Abrets"],
        "code_epci": ["200040715"] * 3 + ["200040000"], "epci_name": ["Grenoble-Alpes-Métropole"] * 3 + ["CC X"],
        "code_departement": "38", "code_region": "84",
        "population": [1000.0, 3000.0, 2000.0, 500.0],
        "fiscal_persons": [900.0, 2900.0, np.nan, 480.0], "poor_persons": [90.0, 870.0, np.nan, 24.0],
        "unemployed_1564": [10.0, 90.0, 40.0, 5.0], "active_1564": [100.0, 300.0, 400.0, 250.0],
        "pop_age_total": [1000.0, 3000.0, 2000.0, 500.0], "pop_60p": [200.0, 300.0, 500.0, 150.0],
        "pop_65p": [np.nan] * 4, "pop_75p": [100.0, 100.0, 200.0, 60.0], "pop_15_29": [150.0, 900.0, 400.0, 50.0],
        "median_income": [18000.0, 15000.0, 25000.0, 21000.0],
        "dist_4g_m": [100.0, 300.0, 200.0, 2000.0],
        "rep_x": [913000.0, 915000.0, 914000.0, 890000.0], "rep_y": [6457000.0, 6458000.0, 6456000.0, 6490000.0],
        "area_km2": [1.0, 2.0, 3.0, 20.0], "qpv_count": [1.0, 0.0, 1.0, 0.0],
        "qpv_codes": ["QN03801M", None, "QN03802M", None], "population_vintage": ["RP2016r"] * 4,
    })


def test_rates_from_summed_counts_not_mean_of_rates():
    com = aggregate(iris_table(), "commune").set_index("code")
    g = com.loc["38185"]
    # unemployment: (10 + 90 + 40) / (100 + 300 + 400) = 17.5 %, whereas the mean of the rates is 16.67 %
    assert g["unemployed_1564"] == 140 and g["active_1564"] == 800
    u = indicator_values(com, CATALOGUE["unemployment"])[0]
    assert u[list(com.index).index("38185")] == 17.5
    assert np.mean([10 / 100, 90 / 300, 40 / 400]) * 100 == pytest.approx(16.6666666)
    # poverty: only the IRIS that publish both counts are summed: 960 / 3800, status partial
    assert g["poverty_rate"] == pytest.approx(100 * 960 / 3800)
    assert g["poverty_status"] == "partial" and g["poverty_coverage"] == pytest.approx(4000 / 6000)
    assert g["unemployment_status"] == "ok" and g["n_children"] == 3
    # 65+ missing in every IRIS stays NaN (never 0); 60+ is summed
    assert np.isnan(g["pop_65p"]) and g["pop_60p"] == 1000
    # median income is not additive: NaN unless the commune's published value is provided
    assert np.isnan(g["median_income"]) and g["income_status"] == "not_covered"
    prov = pd.DataFrame({"median_income": [22140.0]}, index=["38185"])
    with_prov = aggregate(iris_table(), "commune", provided=prov).set_index("code")
    assert with_prov.loc["38185", "median_income"] == 22140.0 and with_prov.loc["38185", "income_status"] == "ok"
    assert np.isnan(with_prov.loc["38001", "median_income"])
    # population-weighted distance and demand point; names and parent codes carried
    assert g["dist_4g_m"] == pytest.approx((100 * 1000 + 300 * 3000 + 200 * 2000) / 6000)
    assert g["rep_x"] == pytest.approx((913000 * 1000 + 915000 * 3000 + 914000 * 2000) / 6000)
    assert 5.6 < g["lon"] < 5.8 and 45.1 < g["lat"] < 45.3
    assert g["name"] == "Grenoble" and g["code_epci"] == "200040715" and g["code_departement"] == "38"
    assert g["qpv_count"] == 2 and g["qpv_codes"] == "QN03801M;QN03802M" and g["area_km2"] == 6.0


def test_higher_levels_and_index_on_own_aggregates():
    levels = aggregate_all(iris_table())
    assert set(levels) == {"commune", "epci", "departement", "region"}
    dep = levels["departement"].iloc[0]
    assert dep["code"] == "38" and dep["population"] == 6500 and dep["unemployed_1564"] == 145
    assert dep["code_region"] == "84" and levels["region"].iloc[0]["code"] == "84"
    assert levels["epci"].set_index("code").loc["200040715", "name"] == "Grenoble-Alpes-Métropole"
    # an index at the commune level uses the commune's own aggregated indicators
    com = levels["commune"]
    r = fragility(com, Config(indicators=("unemployment",), normalisation="ratio", reference="all"))
    assert r["value_unemployment"].tolist() == [2.0, 17.5]  # 38001 then 38185 (sorted by code)
    assert r.loc[1, "score_unemployment"] == pytest.approx(100 * 17.5 / (100 * 145 / 1050))


def test_bad_input():
    z = iris_table()
    z.loc[0, "code_commune"] = None
    with pytest.raises(ValueError, match="no code_commune"):
        aggregate(z, "commune")
    with pytest.raises(ValueError, match="unknown level"):
        aggregate(iris_table(), "canton")


@pytest.mark.raw
@pytest.mark.skipif(not RAW.exists(), reason="shared/data/raw not present")
def test_real_grenoble_alpes_metropole_unemployment():
    c = pd.read_csv(RAW / "insee" / "communes_comparateur2024_datasfun_derive.csv",
                    dtype={"insee_com": str, "insee_dep": str, "insee_reg": str}).drop_duplicates("insee_com")
    epci = pd.read_csv(RAW / "geo" / "communes_epci_ara_cog2025.csv", dtype=str)
    c = c[c["insee_dep"] == "38"].merge(epci[["code_commune", "siren_epci"]], left_on="insee_com", right_on="code_commune")
    zones = pd.DataFrame({
        "code": c["insee_com"], "level": "commune", "code_epci": c["siren_epci"], "code_departement": c["insee_dep"],
        "code_region": c["insee_reg"], "population": c["population_2021"].astype(float),
        "unemployed_1564": c["pop_15_64_chomage_2021"].astype(float), "active_1564": c["pop_15_64_active_2021"].astype(float),
    })
    epcis = aggregate(zones, "epci").set_index("code")
    m = epcis.loc["200040715"]
    assert m["n_children"] == 49 and m["population"] == 449_488  # RP2021 (RP2022: 449 509)
    assert m["unemployed_1564"] == 24_084 and m["active_1564"] == 211_919
    rate = indicator_values(epcis.loc[["200040715"]], CATALOGUE["unemployment"])[0][0]
    assert rate == pytest.approx(11.364719539, abs=1e-8)  # the mean of the 49 communal rates is 7.17 %
    dep = aggregate(zones, "departement").set_index("code").loc["38"]
    assert dep["n_children"] == 512 and dep["population"] == 1_284_948
    grenoble = zones[zones["code"] == "38185"].iloc[0]
    assert 100 * grenoble["unemployed_1564"] / grenoble["active_1564"] == pytest.approx(13.80, abs=0.01)
