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
    ):
        assert "DERIVATIVE" in insee.SOURCES[key].notes
    assert insee.SOURCES["filosofi_com_2021"].url.endswith("base-cc-filosofi-2021-geo2025_csv.zip")
    assert insee.SOURCES["filosofi_iris_dec_2021"].url.endswith("BASE_TD_FILO_IRIS_2021_DEC_CSV.zip")
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
