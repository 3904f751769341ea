"""Comparer page, run headless with Streamlit's AppTest on the committed pack."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import geodata

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def pack():
    return geodata.load_pack()


def run_comparer() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/comparer.py")
    return at.run()


@pytest.fixture(scope="module")
def at():
    return run_comparer()


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def test_default_three_territories(at):
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="cmp_territories").value == ["epci:200040715", "dep:38", "reg:84"]
    table = at.dataframe[0].value
    assert list(table.columns) == ["Indicateur", "Unité", "Grenoble-Alpes-Métropole", "Isère", "Auvergne-Rhône-Alpes"]
    assert len(table) == 11


def test_isere_population_is_the_packs_sum(at, pack):
    """Isère in the pack = Σ of its 512 commune populations, of mixed vintages: RP2022 for the
    49 communes of the Métropole (INSEE comparator), RP2021 for the 463 others (comparator base of
    2024). INSEE's RP2022 figure for the département, 1 291 380, is therefore not what the pack
    gives: the 463 other communes are one census year older."""
    communes = pack["commune"][pack["commune"]["code_departement"] == "38"]
    assert set(communes["population_vintage"]) == {"RP2021", "RP2022"}
    expected = int(communes["population"].sum())
    assert expected == int(pack["departement"].set_index("code").at["38", "population"]) == 1284969
    assert expected != 1291380
    table = at.dataframe[0].value.set_index("Indicateur")
    assert digits(table.at["Population", "Isère"]) == str(expected)
    assert digits(table.at["Population", "Grenoble-Alpes-Métropole"]) == "449509"


def test_summed_rates_and_missing_values(at, pack):
    table = at.dataframe[0].value.set_index("Indicateur")
    # poverty of Isère: Σ poor / Σ fiscal persons of its communes (published or estimated), not a mean of rates
    c = pack["commune"][pack["commune"]["code_departement"] == "38"][["poor_persons", "fiscal_persons"]]
    rate = 100 * c["poor_persons"].sum() / c["fiscal_persons"].sum()
    assert table.at["Taux de pauvreté (seuil 60 %)", "Isère"] == f"{rate:.1f} %".replace(".", ",")
    # 65+ among people 15+ for every commune (RP2022 / RP2017): shown for Isère and the région
    c65 = pack["commune"][pack["commune"]["code_departement"] == "38"]
    rate65 = 100 * c65["pop15p_65p"].sum() / c65["pop15p"].sum()
    assert table.at["Part des 65 ans ou plus parmi les 15 ans ou plus", "Isère"] == f"{rate65:.1f} %".replace(".", ",")
    assert table.at["Part des 65 ans ou plus parmi les 15 ans ou plus", "Auvergne-Rhône-Alpes"] != "n.d."
    # places of the région = every place of the pack
    assert digits(table.at["Lieux d'accueil et structures", "Auvergne-Rhône-Alpes"]) == str(len(pack["places"]))
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Télécharger la comparaison (CSV)"]


def test_selection_goes_to_the_url():
    at = run_comparer()
    at.multiselect(key="cmp_territories").unselect("reg:84").run()
    assert not at.exception
    assert at.query_params.get("cmp") in ("epci:200040715,dep:38", ["epci:200040715,dep:38"])
    assert list(at.dataframe[0].value.columns)[2:] == ["Grenoble-Alpes-Métropole", "Isère"]
    at.multiselect(key="cmp_territories").unselect("dep:38").run()
    assert not at.exception
    assert any("au moins deux" in i.value for i in at.info)
