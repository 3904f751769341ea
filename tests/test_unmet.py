"""Unmet need, classes, ranking, Monte-Carlo robustness, compute_all and the command line."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import indicators.cli as cli
from indicators import Config, compute_all
from indicators.unmet import bivariate_class, priority_rank, quantile_class, robustness, targets, top_decile, unmet_need


def test_target_and_unmet_by_hand():
    A = np.array([0.0, 1.0, 2.0, 4.0, np.nan])
    N = np.array([100.0, 100.0, 50.0, 10.0, 30.0])
    T = targets(A)  # median of the finite access values: 1.5
    assert np.all(T == 1.5)
    U = unmet_need(N, A, T)
    np.testing.assert_allclose(U[:4], [100, 100 * (1 - 1 / 1.5), 0, 0])
    assert np.isnan(U[4])  # missing access → unmet unknown, not 0
    # per reference group
    np.testing.assert_allclose(targets(A[:4], [0, 0, 1, 1]), [0.5, 0.5, 3, 3])
    # a user target
    np.testing.assert_allclose(unmet_need(N[:4], A[:4], targets(A[:4], target=2.0)), [100, 50, 0, 0])
    with pytest.raises(ValueError, match="positive"):
        targets(A, target=0.0)
    assert np.isnan(unmet_need([10.0], [0.0], [0.0])[0])  # T = 0: undefined


def test_classes_and_rank():
    np.testing.assert_array_equal(quantile_class([5, 1, 3, np.nan, 2, 4, 6], 3), [3, 1, 2, 0, 1, 2, 3])
    cls = bivariate_class([9, 1, 5, np.nan], [1, 9, 5, 2])
    assert cls.tolist() == ["3-1", "1-3", "2-2", ""]  # "3-1": high need, low access
    np.testing.assert_array_equal(priority_rank([5.0, 10.0, np.nan, 5.0, 0.0]), [2, 1, np.nan, 2, 4])
    assert top_decile(np.arange(20.0)).sum() == 2 and top_decile(np.arange(20.0))[-2:].all()


def synthetic(n=120, n_places=30, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(900_000, 960_000, n)
    y = rng.uniform(6_440_000, 6_500_000, n)
    pop = rng.integers(200, 5000, n).astype(float)
    zones = gpd.GeoDataFrame({
        "code": [f"38{i:03d}" for i in range(n)], "name": [f"Commune {i}" for i in range(n)], "level": "commune",
        "code_commune": [f"38{i:03d}" for i in range(n)],
        "code_epci": np.where(x < 930_000, "200040715", "243800604"), "code_departement": "38", "code_region": "84",
        "rep_x": x, "rep_y": y, "area_km2": rng.uniform(1, 40, n), "population": pop,
        "fiscal_persons": pop, "poor_persons": (pop * rng.uniform(0.05, 0.3, n)).round(),
        "premises_total": pop * 0.6, "ftth_premises": (pop * 0.6 * rng.uniform(0, 1, n)).round(),
        "dist_4g_m": rng.uniform(0, 4000, n), "pop_age_total": pop, "pop_60p": (pop * rng.uniform(0.1, 0.4, n)).round(),
        "nscol15p": pop * 0.7, "nscol15p_diplmin": (pop * 0.7 * rng.uniform(0.1, 0.4, n)).round(),
    }, geometry=[box(a - 1500, b - 1500, a + 1500, b + 1500) for a, b in zip(x, y, strict=False)], crs=2154)
    zones["geometry_display"] = zones.geometry.to_crs(4326)
    places = gpd.GeoDataFrame({
        "place_id": [f"fs:{j}" for j in range(n_places)], "name": "lieu", "type": "france_services",
        "services": "demarches;competences_base", "x": rng.uniform(900_000, 960_000, n_places),
        "y": rng.uniform(6_440_000, 6_500_000, n_places), "code_commune": "38001",
        "hours_json": json.dumps({"mo": [[540, 1140]], "sa": [[540, 720]]}), "weekly_hours": 10.0, "staff": 1.0,
        "offers_digital_help": True,
    })
    places = places.set_geometry(gpd.points_from_xy(places["x"], places["y"]), crs=2154)
    return zones, places


def test_robustness_is_seeded_and_bounded():
    zones, _ = synthetic()
    cfg = Config(indicator_set="ifn2023")
    need = np.full(len(zones), 100.0)
    access = np.linspace(0, 1, len(zones))
    a = robustness(zones, cfg, need, access, n_draws=15, seed=42)
    b = robustness(zones, cfg, need, access, n_draws=15, seed=42)
    pd.testing.assert_frame_equal(a, b)
    assert a["p_top_score"].between(0, 1).all() and a["p_top_unmet"].between(0, 1).all()
    # ~10 % of zones are in the top decile on average in every draw
    assert a["p_top_score"].sum() == pytest.approx(0.1 * len(zones), rel=0.2)
    # the lowest-access zones lead the unmet ranking whatever the reference of the target
    assert a["p_top_unmet"].iloc[:10].eq(1.0).all() and a["p_top_unmet"].iloc[-50:].eq(0.0).all()
    # a zone worst on every indicator stays in the top decile in every draw
    z2 = zones.copy()
    z2.loc[0, ["poor_persons", "ftth_premises", "dist_4g_m", "pop_60p", "nscol15p_diplmin"]] = [
        z2.loc[0, "fiscal_persons"], 0.0, 10_000.0, z2.loc[0, "pop_age_total"], z2.loc[0, "nscol15p"]]
    assert robustness(z2, cfg, n_draws=10, seed=1).loc[0, "p_top_score"] == 1.0


def test_compute_all_columns_and_consistency():
    zones, places = synthetic()
    res = compute_all(zones, places, Config(reference="epci"))
    z = res.zones
    for col in ("score", "need", "access", "unmet", "target", "priority_rank", "bivariate_class",
                "nearest_time_min", "nearest_time_min_demarches", "travel_mode"):
        assert col in z.columns
    assert (z["unmet"] >= 0).all() and (z["unmet"] <= z["need"]).all()
    # supply is fully distributed when no place is excluded: Σ N_i A_i = Σ S_j
    assert res.report["excluded_places_no_demand"] == 0
    assert (z["need"] * z["access"]).sum() == pytest.approx(res.places["capacity"].sum(), rel=1e-9)
    # one target per EPCI: the median access of its zones
    for _, g in z.groupby(zones["code_epci"]):
        assert g["target"].nunique() == 1 and g["target"].iloc[0] == pytest.approx(np.median(g["access"]))
    # places_per_10k (IFN 2019) counts places by commune code
    r19 = compute_all(zones, places, Config(indicator_set="ifn2019", missing="available")).zones
    assert r19.loc[1, "value_places_per_10k"] == pytest.approx(30 * 10_000 / zones.loc[1, "population"])
    assert r19.loc[0, "value_places_per_10k"] == 0.0


def test_cli_with_monkeypatched_pack(tmp_path, monkeypatch, capsys):
    import geodata

    zones, places = synthetic()
    epci = gpd.GeoDataFrame({"code": ["200040715", "243800604"], "level": "epci", "code_departement": "38",
                             "code_region": "84"}, geometry=[box(0, 0, 1, 1)] * 2, crs=2154)
    dep = gpd.GeoDataFrame({"code": ["38"], "level": "departement", "code_region": "84"}, geometry=[box(0, 0, 1, 1)], crs=2154)
    reg = gpd.GeoDataFrame({"code": ["84"], "level": "region"}, geometry=[box(0, 0, 1, 1)], crs=2154)
    pack = {"iris": zones.iloc[:0], "commune": zones, "epci": epci, "departement": dep, "region": reg,
            "places": places, "qpv": None, "manifest": {}}
    monkeypatch.setattr(geodata, "load_pack", lambda *a, **k: pack)

    out = tmp_path / "metro.csv"
    assert cli.main(["--territory", "200040715", "--level", "commune", "--out", str(out)]) == 0
    got = pd.read_csv(out, dtype={"code": str, "code_epci": str})
    assert len(got) == (zones["code_epci"] == "200040715").sum() and set(got["code_epci"]) == {"200040715"}
    # same numbers as compute_all on the whole table (reference sets and catchments are not cut)
    full = compute_all(zones, places, Config()).zones.set_index("code")
    np.testing.assert_allclose(got.set_index("code")["access"], full.loc[got["code"], "access"], rtol=1e-9)

    gpkg = tmp_path / "isere.gpkg"
    assert cli.main(["--territory", "dep:38", "--out", str(gpkg), "--set", "normalisation=ratio",
                     "--robustness", "3"]) == 0
    back = gpd.read_file(gpkg)
    assert len(back) == len(zones) and back.crs.to_epsg() == 2154 and "p_top_score" in back.columns
    pq = tmp_path / "one.parquet"
    assert cli.main(["--territory", "38005", "--out", str(pq)]) == 0
    assert len(gpd.read_parquet(pq)) == 1
    capsys.readouterr()
    # errors: ambiguous or unknown codes, coarser level, bad option, bad format
    assert cli.main(["--territory", "99", "--out", str(out)]) == 2
    assert "not a known région or département" in capsys.readouterr().err
    assert cli.main(["--territory", "38005", "--level", "epci", "--out", str(out)]) == 2
    assert "coarser" in capsys.readouterr().err
    assert cli.main(["--territory", "38", "--out", str(out), "--set", "decay=linear"]) == 2
    assert "decay" in capsys.readouterr().err
    assert cli.main(["--territory", "38", "--out", str(tmp_path / "x.xlsx")]) == 2
    pack["departement"] = gpd.GeoDataFrame({"code": ["84"]}, geometry=[box(0, 0, 1, 1)], crs=2154)
    assert cli.main(["--territory", "84", "--out", str(out)]) == 2
    assert "both a région and a département" in capsys.readouterr().err
