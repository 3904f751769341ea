"""Diagnostic page, run headless with Streamlit's AppTest on the committed pack."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

import geodata
from ui.folium_map import format_fr

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


def charts(app: AppTest) -> list[tuple[dict, dict]]:
    """Every Altair chart of the page: (Vega-Lite spec, {dataset name: DataFrame})."""
    out = []
    for el in app.get("vega_lite_chart"):
        data = {d.name: pa.ipc.open_stream(d.data.data).read_pandas() for d in el.proto.datasets}
        out.append((json.loads(el.proto.spec), data))
    return out


def series_chart(app: AppTest, field: str) -> tuple[dict, pd.DataFrame]:
    """The chart whose x or y field is ``field`` (its first layer for a layered chart), with its data."""
    for spec, data in charts(app):
        enc = (spec.get("layer") or [spec])[0].get("encoding", {})
        if field in (enc.get("x", {}).get("field"), enc.get("y", {}).get("field")):
            return spec, next(iter(data.values()))
    raise AssertionError(f"no chart of {field!r}")


def map_shown(app: AppTest) -> bool:
    """The page shows the map of the index: an image and its caption with classes and source."""
    return bool(app.get("image")) and any(c.value.startswith("Classes :") and "Source :" in c.value for c in app.caption)


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
    # every figure names a source, in the table of sources and remarks under it
    sources = at.table[1].value
    assert list(sources.index) == list(table.index)
    assert (sources["Source et millésime"].str.len() > 0).all() and (sources["Remarque"].str.len() > 0).all()
    assert "Source et millésime" not in table.columns  # the figures' rows stay one line high


def test_every_legend_entry_has_a_french_label(at):
    """Both series of the two comparison charts are named: the Métropole and « Référence : Isère »
    (the reference's entry had no text), in a vertical legend that a half-width column cannot cut."""
    for field in ("Valeur (%)", "part"):
        spec, data = series_chart(at, field)
        color = spec["encoding"]["color"]
        assert color["scale"]["domain"] == ["Grenoble-Alpes-Métropole", "Référence : Isère"]
        assert color["legend"]["direction"] == "vertical"
        assert set(data["Territoire"]) == {"Grenoble-Alpes-Métropole", "Référence : Isère"}
    spec, data = series_chart(at, "Valeur (%)")
    assert data["Indicateur"].str.len().max() <= 50  # short labels, not cut at 300 px


def test_distribution_caption_says_what_the_reference_bars_are(at):
    """The caption no longer claims 10 % per class: it gives the reference's tallest bar, as drawn."""
    _spec, data = series_chart(at, "part")
    ref = data[data["Territoire"] == "Référence : Isère"]
    peak = ref.loc[ref["part"].idxmax()]
    assert peak["part"] > 20  # a mean of decile notes gathers in the middle: never flat
    caption = next(c.value for c in at.caption if "déciles" in c.value)
    assert "10 % de ses zones dans chaque classe" not in caption
    assert f"la classe la plus fréquente de « Référence : Isère », {peak['classe']}, regroupe {format_fr(peak['part'], 0)} %" in caption
    assert f"({format_fr(peak['zones'], 0)} sur {format_fr(ref['zones'].sum(), 0)})" in caption


def test_map_of_the_index_with_its_source(at):
    assert map_shown(at)
    png = at.get("image")[0].proto.imgs[0].url
    assert png  # served by the media file manager
    caption = next(c.value for c in at.caption if c.value.startswith("Classes :"))
    assert "quantiles" in caption and "Contours :" in caption
    assert "Hachures" in caption or "Aucune zone" in caption  # estimated zones marked (or said absent)


def test_places_by_type_shows_labels_not_codes(at, pack):
    from ui.labels import PLACE_TYPE_LABELS

    _spec, data = series_chart(at, "Lieux")
    assert set(data["Type"]) <= set(PLACE_TYPE_LABELS.values())
    assert not set(data["Type"]) & set(PLACE_TYPE_LABELS)  # no code such as « services_publics »


def test_priority_table_and_downloads(at):
    prio = at.dataframe[0].value
    # every column fits the ~938 px of the page at 1 440 px (sidebar 340 px): no horizontal scroll
    assert list(prio.columns) == ["Rang", "Zone", "Commune", "Besoin non couvert", "En besoin", "Accès", "Indice (/10)",
                                  "Temps (min)", "Fragilité · accès"]
    assert len(prio) > 100  # IRIS of the Métropole
    widths = {c: cfg.get("width") for c, cfg in json.loads(at.dataframe[0].proto.columns).items() if c != "_index"}
    assert set(widths) == set(prio.columns) and sum(widths.values()) <= 930
    assert (prio["Indice (/10)"].str.contains(",") | (prio["Indice (/10)"] == "n.d.")).all()  # French decimal comma
    # terciles in a narrow column: « moyenne · faible » (fragility, then access), never cut at 120 px
    assert set(prio["Fragilité · accès"]) <= {f"{n} · {a}" for n in ("faible", "moyenne", "forte") for a in ("faible", "moyen", "fort")} | {"n.d."}
    assert prio["Fragilité · accès"].iloc[0] == "faible · faible"  # Vigny-Musset: first by unmet people, low index
    # the first 15 zones above it in a table that wraps: the same zones, in the same order, names whole
    first = next(t.value for t in at.table if "Besoin non couvert" in t.value.columns)
    assert list(first.index) == list(prio["Rang"].head(15)) == [str(i) for i in range(1, 16)]
    assert list(first["Zone"]) == list(prio["Zone"].head(15))  # escape_md_name leaves names as they are
    assert list(first["Besoin non couvert"]) == list(prio["Besoin non couvert"].head(15))
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
    assert table.iloc[:, 0][label65] != "n.d." and "RP2017" in at.table[1].value.at[label65, "Remarque"]


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
    assert map_shown(app)  # the map of the 4 027 communes, under the distribution chart
    _spec, data = series_chart(app, "part")
    assert set(data["Territoire"]) == {"Auvergne-Rhône-Alpes"}


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


def test_high_fragility_low_activity_communes_come_by_people_in_need():
    """The région's communes that are both in the top third of the index and the bottom third of
    the observed activity: listed with the most people in need first (where to act), each one of
    the class « 3-1 » of the app's commune results."""
    app = AppTest.from_file(APP, default_timeout=120)
    app.switch_page("pages/diagnostic.py")
    app.query_params.update({"t": "reg:84", "level": "commune"})
    app.run()
    assert not app.exception
    table = next(d.value for d in app.dataframe if "Accompagnées / 1 000" in d.value.columns)
    need = [float(v.replace("\u202f", "").replace(",", ".")) for v in table["En besoin"]]
    assert len(need) > 50 and need == sorted(need, reverse=True)
    from ui import compute, data
    from ui.state import ViewState

    res, _, _ = compute.results("commune", compute.config_for(ViewState(territory="reg:84", level="commune")))
    communes = data.pack()["commune"]
    hot = set(communes.loc[res.index[res["bivariate_activity_class"] == "3-1"], "name"])
    assert set(table["Commune"]) == hot
