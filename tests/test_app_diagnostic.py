"""Diagnostic page, run headless with Streamlit's AppTest on the committed pack."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import geodata

APP = str(Path(__file__).resolve().parents[1] / "app.py")
GAM = "200040715"


@pytest.fixture(scope="module")
def pack():
    return geodata.load_pack()


@pytest.fixture(scope="module")
def at():
    """The Diagnostic page of the default territory (Grenoble-Alpes-Métropole)."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.switch_page("pages/diagnostic.py")
    return app.run()


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def metric(app: AppTest, label: str) -> str:
    found = [m.value for m in app.metric if m.label == label]
    assert found, f"no metric {label!r}; have {[m.label for m in app.metric]}"
    return found[0]


def test_no_exception(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value.startswith("Diagnostic — Grenoble-Alpes-Métropole")


def test_population_of_the_metropole(at, pack):
    epci = pack["epci"].set_index("code")
    assert epci.at[GAM, "population"] == 449509  # RP2022, INSEE comparator
    shown = metric(at, "Population")
    assert digits(shown) == "449509"
    assert "\u202f" in shown  # French thousands separator (narrow no-break space)


def test_france_services_sites(at, pack):
    communes = pack["commune"][pack["commune"]["code_epci"] == GAM]["code"]
    places = pack["places"]
    n_fs = int(((places["type"] == "france_services") & places["code_commune"].isin(set(communes))).sum())
    assert n_fs >= 2  # the Métropole has several (6 in the ANCT list of Aug. 2024)
    assert metric(at, "Sites France Services") == str(n_fs)
    table = at.table[0].value
    assert table.loc["Sites France Services"].iloc[0] == str(n_fs)


def test_key_figures_table_against_isere(at):
    table = at.table[0].value
    assert "Référence : Isère (Département 38)" in table.columns
    ref = table["Référence : Isère (Département 38)"]
    assert digits(ref["Population"]) == "1284969"
    # 65+ among people 15+: RP2022 for the Métropole, RP2017 rates with RP2022 for Isère
    label65 = "Part des 65 ans ou plus parmi les 15 ans ou plus"
    assert table.iloc[:, 0][label65] == "22,1 %" and ref[label65] != "n.d."
    # poverty: the sum of the 49 communes (secret ones estimated, calibrated on the published
    # rate) is the EPCI's published 15,0 %; the estimated part is said
    assert table.iloc[:, 0]["Taux de pauvreté (seuil 60 %)"] == "15,0 %"
    assert table.iloc[:, 0]["Taux de pauvreté publié pour l'EPCI"] == "15,0 %"
    assert table.at["Taux de pauvreté (seuil 60 %)", "Part estimée"] == "2 %"
    assert any("secret statistique" in c.value for c in at.caption)
    # every figure names a source
    assert (table["Source et millésime"].str.len() > 0).all()


def test_priority_table_and_downloads(at):
    prio = at.dataframe[0].value
    assert {"Rang", "Rang régional", "Zone", "Indice (/10)", "Personnes en besoin", "Accès (h/sem. pour 1 000)", "Temps au lieu le plus proche (min)", "Classe besoin × accès"} <= set(prio.columns)
    assert len(prio) > 100  # IRIS of the Métropole
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Zones (CSV)", "Zones et sources (XLSX)", "Couche (GeoPackage)", "Couche (GeoJSON)", "Carte de l'indice (PNG)"]
    assert at.checkbox(key="csv_labels").value is False  # French CSV headers on request


def test_commune_outside_the_metropole():
    """A commune of Ain picked in the sidebar: 65+ from the RP2017 rates, the reference is its
    département, no error."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/diagnostic.py")
    at.run()
    at.selectbox(key="picker_territory").set_value("com:01053").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value.startswith("Diagnostic — Bourg-en-Bresse")
    table = at.table[0].value
    assert "Référence : Ain (Département 01)" in table.columns
    # RP2017 rates exist for every commune: 65+ shown, with its vintage
    label65 = "Part des 65 ans ou plus parmi les 15 ans ou plus"
    assert table.iloc[:, 0][label65] != "n.d." and "RP2017" in table.at[label65, "Remarque"]


def test_the_region_has_no_reference_and_no_error(pack):
    """Auvergne-Rhône-Alpes, commune level: no reference above it, the charts show the region
    alone (was a traceback: an altair sort list holding None)."""
    app = AppTest.from_file(APP, default_timeout=300)
    app.query_params.update({"t": "reg:84", "lvl": "commune"})
    app.switch_page("pages/diagnostic.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title[0].value.startswith("Diagnostic — Auvergne-Rhône-Alpes")
    table = app.table[0].value
    assert not any(c.startswith("Référence") for c in table.columns)
    assert digits(metric(app, "Population")) == str(int(pack["commune"]["population"].sum()))
    priority = next(d.value for d in app.dataframe if "Besoin non couvert" in d.value.columns)
    assert len(priority) == len(pack["commune"]) == 4027


def test_report_button_writes_the_diagnostic(monkeypatch, tmp_path):
    """« Préparer le rapport (PDF) »: progress shown, then a download of a PDF holding the
    page's own figures; the DOCX button gives an editable document of the same territory."""
    import io
    import subprocess

    import docx

    monkeypatch.setenv("INCLUSION_WORKSPACE", str(tmp_path / "absent.sqlite"))  # no scenario, never created
    app = AppTest.from_file(APP, default_timeout=240)
    app.switch_page("pages/diagnostic.py")
    app.run()
    assert "Télécharger le rapport (PDF)" not in [b.label for b in app.get("download_button")]
    app.button(key="report_pdf").click().run()
    assert not app.exception, [e.value for e in app.exception]
    status = app.get("status")[0]
    assert status.label == "Rapport prêt" and status.proto.state == status.proto.State.COMPLETE
    assert app.get("progress")[0].proto.value == 100
    assert "Télécharger le rapport (PDF)" in [b.label for b in app.get("download_button")]
    saved = app.session_state["diagnostic_report"]
    assert saved["fmt"] == "pdf" and saved["data"][:5] == b"%PDF-"
    path = tmp_path / "r.pdf"
    path.write_bytes(saved["data"])
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    table = app.table[0].value
    assert table.loc["Population"].iloc[0].replace("\u202f", " ") in text.replace("\u202f", " ")
    assert "Grenoble-Alpes-Métropole" in text and not (tmp_path / "absent.sqlite").exists()
    app.button(key="report_docx").click().run()
    saved = app.session_state["diagnostic_report"]
    assert saved["fmt"] == "docx"
    document = docx.Document(io.BytesIO(saved["data"]))
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 1"][0] == "1. Contexte et périmètre"
    assert "Télécharger le rapport (DOCX)" in [b.label for b in app.get("download_button")]


def test_observed_activity_section_with_its_caveats(at, pack):
    """« Part du besoin accompagnée » of the Métropole and of Isère, from the pack's counts and the
    people in need, with the caveats where the figure is shown."""
    assert any("Activité observée" in s.value for s in at.subheader)
    text = " ".join(m.value for m in at.markdown)
    epci = pack["epci"].set_index("code").loc["200040715"]
    expected = 1000 * epci["cnfs_accompanied"] / (0.40 * epci["poor_persons"])
    assert f"**{round(expected)}" in text.replace("\u202f", "") and "Usagers Aidants Connect" in text
    assert any("cumulés jusqu'en juillet 2023" in c.value and "plusieurs fois" in c.value for c in at.caption)
    table = at.table[0].value
    assert "Personnes accompagnées par les conseillers numériques pour 1 000 personnes en besoin" in table.index
