"""Comparer page, run headless with Streamlit's AppTest on the committed pack."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import geodata
from reports.common import total, weighted_mean
from reports.figures import figure_text
from reports.results import level_results, pack_tables
from reports.territory import zones_in
from ui.compute import config_for
from ui.state import ViewState

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def pack():
    return geodata.load_pack()


GAM, ISERE, AURA = "epci:200040715", "dep:38", "reg:84"
#: an older link with three territories (the page's former opening selection): still read as is
THREE = f"{GAM},{ISERE},{AURA}"


def run_comparer(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.switch_page("pages/comparer.py")
    return at.run()


@pytest.fixture(scope="module")
def at():
    return run_comparer(cmp=THREE)


@pytest.fixture(scope="module")
def opening():
    """The page as a link without ``cmp`` opens it: the sidebar's territory and its reference."""
    return run_comparer()


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def table_of(at: AppTest) -> pd.DataFrame:
    return at.table[0].value


def texts(at: AppTest) -> list[str]:
    """Every text the page writes (captions, Markdown, notices)."""
    return [e.value for kind in ("caption", "markdown", "warning", "info", "error") for e in at.get(kind)]


def test_opens_with_the_territory_and_its_reference(opening):
    assert not opening.exception, [e.value for e in opening.exception]
    assert opening.multiselect(key="cmp_territories").value == [GAM, ISERE]
    table = table_of(opening)
    assert list(table.columns) == ["Indicateur", "Unité", "Grenoble-Alpes-Métropole", "Isère"]
    assert len(table) == 14
    assert "cmp" not in opening.query_params  # the opening selection is the default: short link


def test_old_links_with_three_territories_still_work(at):
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="cmp_territories").value == [GAM, ISERE, AURA]
    assert list(table_of(at).columns)[2:] == ["Grenoble-Alpes-Métropole", "Isère", "Auvergne-Rhône-Alpes"]


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
    table = table_of(at).set_index("Indicateur")
    assert digits(table.at["Population", "Isère"]) == str(expected)
    assert digits(table.at["Population", "Grenoble-Alpes-Métropole"]) == "449509"


def test_summed_rates_and_missing_values(at, pack):
    table = table_of(at).set_index("Indicateur")
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
    at.multiselect(key="cmp_territories").select(AURA).run()
    assert not at.exception
    assert at.query_params.get("cmp") in (THREE, [THREE])
    at.multiselect(key="cmp_territories").unselect(AURA).run()
    assert "cmp" not in at.query_params  # back to the opening selection
    assert list(table_of(at).columns)[2:] == ["Grenoble-Alpes-Métropole", "Isère"]
    at.multiselect(key="cmp_territories").unselect(ISERE).run()
    assert not at.exception
    assert any("au moins deux" in i.value for i in at.info)


def test_a_fifth_territory_gets_a_french_message_and_four_are_compared():
    four = f"{THREE},com:38185"
    at = run_comparer(cmp=four)
    assert not at.warning
    at.multiselect(key="cmp_territories").select("dep:73").run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["4 territoires au plus : retirez-en un pour en ajouter un autre. "
                                             "Seuls les 4 premiers sont comparés."]
    assert len(table_of(at).columns) == 2 + 4 and "Savoie" not in table_of(at).columns
    assert at.query_params.get("cmp") in (four, [four])  # the link says what is compared
    assert not any("select up to" in t or "You can only" in t for t in texts(at))


def test_a_link_with_five_territories_keeps_the_first_four():
    at = run_comparer(cmp=f"{THREE},com:38185,dep:73")
    assert not at.exception
    assert at.multiselect(key="cmp_territories").value == [GAM, ISERE, AURA, "com:38185"]
    assert any("4 territoires au plus" in w.value for w in at.warning)
    assert len(table_of(at).columns) == 2 + 4


@pytest.fixture(scope="module")
def diagnostic(pack):
    """Index, access and unmet need as the Diagnostic page shows them: its zone table (IRIS of the
    territory, ``ui.exports.zone_layer``) of the app's results, and each territory's own row at its
    level (the Carte at that level; :mod:`indicators.levels`: one value per territory)."""
    config = config_for(ViewState())
    tables = pack_tables(pack)
    places = pd.DataFrame(pack["places"].drop(columns="geometry")).reset_index(drop=True)
    iris = level_results(tables, "iris", places, config)[0]
    out = {}
    for key, level in ((GAM, "epci"), (ISERE, "departement")):
        kind, code = key.split(":")
        zones = zones_in(pack, kind, code, "iris")
        r = iris.reindex(zones.index)
        own = level_results(tables, level, places, config)[0].reindex(zones_in(pack, kind, code, level).index).iloc[0]
        assert weighted_mean(r["access"], r["need"]) == pytest.approx(own["access"], rel=1e-9)
        assert total(r["unmet"]) == pytest.approx(own["unmet"], rel=1e-9)
        out[key] = {"score": weighted_mean(r["score"], zones["population"]), "access": own["access"], "unmet": own["unmet"]}
    return out


@pytest.mark.parametrize(("key", "column"), [(GAM, "Grenoble-Alpes-Métropole"), (ISERE, "Isère")])
def test_index_access_and_unmet_need_are_the_diagnostics(at, diagnostic, key, column):
    table = table_of(at).set_index("Indicateur")
    expected = diagnostic[key]
    assert table.at["Indice de fragilité numérique (note moyenne des habitants)", column] == figure_text(expected["score"], "/10", 1)
    assert table.at["Accessibilité aux lieux d'accompagnement (E2SFCA)", column] == figure_text(expected["access"], "h", 1)
    assert table.at["Besoin non couvert", column] == figure_text(expected["unmet"], "personnes", 0)
    assert 0 < expected["score"] < 10 and expected["access"] > 0 and expected["unmet"] > 0


def test_sources_once_reference_line_and_french_axes(at):
    page = texts(at)
    assert sum(t.startswith("**Sources**") for t in page) == 1
    assert not any("Source :" in t for t in page)  # no per-chart source line any more
    sources = next(t for t in page if t.startswith("**Sources**"))
    parts = [p.split("** : ", 1)[1] for p in sources.split("\n") if p.startswith("- **")]
    assert len(parts) >= 5
    assert len(parts) == len(set(parts))
    charts = at.get("vega_lite_chart")
    assert len(charts) == 14
    lines = 0
    for chart in charts:
        spec = json.loads(chart.proto.spec)
        dumped = json.dumps(spec, ensure_ascii=False)
        # the reference line, named in the legend (its label is in the chart's data, sent apart);
        # rates, index and hours only (a regional total would crush the bars of the counts)
        if '"type": "rule"' in dumped:
            lines += 1
            assert '"orient": "bottom"' in dumped
            assert any("Référence : Auvergne-Rhône-Alpes (région)".encode() in d.data.data for d in chart.proto.datasets)
            # drawn under the values, which have a white halo: the line never crosses a figure
            marks = [layer["mark"]["type"] for layer in spec["layer"]]
            assert marks == ["bar", "rule", "text", "text"]
            assert spec["layer"][2]["mark"]["stroke"] == "white"
        assert spec["config"]["locale"]["number"]["decimal"] == ","
        formats = re.findall(r'"format": "([^"]*)"', dumped)
        assert formats and all(re.fullmatch(r",\.[01]~f", f) for f in formats), formats
    assert lines == 14 - 5
    assert not any("0,000000" in t for t in page)
