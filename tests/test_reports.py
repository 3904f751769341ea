"""The diagnostic report (reports/): PDF and DOCX against the Diagnostic page's figures, pages,
maps, sources annex, French typography, escaping; the pure pieces on hand-made cases; the
command line; the Streamlit-free copies of UI constants stay equal to the UI's."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
import zlib
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import docx
import numpy as np
import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import geodata
from indicators import Config
from reports import files, maps, offer, tables
from reports.__main__ import main as cli
from reports.build import DEFAULT_CONFIG, build_report, french_date, render
from reports.document import Paragraph, Report, Run, Table, french_spacing, plain, png_size
from reports.method_text import formula_png, latex_runs, latex_text
from reports.pdf import markup, render_pdf
from reports.synthesis import _compare, used_sources

APP = str(Path(__file__).resolve().parents[1] / "app.py")
GAM, ISERE = "epci:200040715", "dep:38"
TODAY = date(2025, 6, 30)
DRAWS = 30  # Monte-Carlo draws of the priority zones' robustness (100 in a real report)


@pytest.fixture(scope="module")
def pack():
    return geodata.load_pack()


def _write(pack, key: str, tmp: Path) -> dict:
    report = build_report(pack, key, today=TODAY, robustness_draws=DRAWS)
    pdf, docx_bytes = render(report, "pdf"), render(report, "docx")
    stem = key.replace(":", "_")
    (tmp / f"{stem}.pdf").write_bytes(pdf)
    layout = subprocess.run(["pdftotext", "-layout", str(tmp / f"{stem}.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    raw = subprocess.run(["pdftotext", str(tmp / f"{stem}.pdf"), "-"], capture_output=True, text=True, check=True).stdout
    return {"report": report, "ctx": report.meta["context"], "pdf": pdf, "docx": docx_bytes, "path": tmp / f"{stem}.pdf",
            "layout": layout, "text": raw, "document": docx.Document(io.BytesIO(docx_bytes))}


@pytest.fixture(scope="module")
def gam(pack, tmp_path_factory):
    return _write(pack, GAM, tmp_path_factory.mktemp("gam"))


@pytest.fixture(scope="module")
def isere(pack, tmp_path_factory):
    return _write(pack, ISERE, tmp_path_factory.mktemp("isere"))


def page_table(query: dict | None = None) -> pd.DataFrame:
    """The key-figure table of the Diagnostic page (AppTest), as the user sees it."""
    app = AppTest.from_file(APP, default_timeout=120)
    if query:
        app.query_params.update(query)
    app.switch_page("pages/diagnostic.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app.table[0].value


def norm(text: str) -> str:
    """Spaces as the eye reads them: narrow and ordinary no-break spaces → a space."""
    return re.sub(r"[ \u00a0\u202f]+", " ", str(text)).strip()


def docx_key_table(document) -> pd.DataFrame:
    """The key-figure table of the DOCX (the one whose first header is « Indicateur » and that
    has a « Part estimée » column)."""
    for t in document.tables:
        head = [c.text for c in t.rows[0].cells]
        if head[0] == "Indicateur" and head[-1] == "Part estimée":
            rows = [[norm(c.text) for c in r.cells] for r in t.rows[1:]]
            return pd.DataFrame(rows, columns=head).set_index("Indicateur")
    raise AssertionError("no key-figure table in the DOCX")


def _same_figures_as_the_page(page: pd.DataFrame, result: dict) -> None:
    ref_col = next(c for c in page.columns if c.startswith("Référence"))
    # DOCX: cell by cell, the page's texts (French spacing aside)
    table = docx_key_table(result["document"])
    assert list(table.index) == [norm(i) for i in page.index]
    for label, row in page.iterrows():
        mine = table.loc[norm(label)]
        assert (mine.iloc[0], mine.iloc[1], mine["Part estimée"]) == (norm(row.iloc[0]), norm(row[ref_col]), norm(row["Part estimée"])), label
    # PDF: the row of each figure carries the territory's value, then the reference's
    lines = [norm(line) for line in result["layout"].splitlines()]
    for label, row in page.iterrows():
        start = norm(label)[:28]
        found = [line for line in lines if line.startswith(start) and norm(row.iloc[0]) in line]
        assert found, f"{label}: no PDF line with {row.iloc[0]!r}"
        line = found[0]
        assert norm(row[ref_col]) in line[line.index(norm(row.iloc[0])) + len(norm(row.iloc[0])):], (label, line)


def test_metropole_report_holds_the_page_key_figures(gam):
    page = page_table()
    assert norm(page.loc["Population"].iloc[0]) == "449 509"
    _same_figures_as_the_page(page, gam)
    # the figures are those of ui.exports.key_figures' builder, computed on the same results
    assert gam["ctx"].value("population") == 449509
    assert gam["ctx"].value("need") == pytest.approx(24361, abs=1)


def test_isere_report_holds_the_page_key_figures(isere):
    page = page_table({"t": ISERE})
    assert "Référence : Auvergne-Rhône-Alpes (Région 84)" in page.columns
    _same_figures_as_the_page(page, isere)
    assert isere["ctx"].value("population") == 1284969


@pytest.mark.parametrize("which", ["gam", "isere"])
def test_pages_maps_and_images(which, request):
    result = request.getfixturevalue(which)
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(result["path"])], capture_output=True, text=True,
                                                           check=True).stdout).group(1))
    assert pages >= 6
    # every map and chart is an image XObject of the PDF: cover locator, 6 maps, 3 charts, 2 formulas
    images = subprocess.run(["pdfimages", "-list", str(result["path"])], capture_output=True, text=True, check=True).stdout
    assert len([line for line in images.splitlines()[2:] if " image " in line]) >= 12
    # … and an inline picture of the DOCX, with its alternative text
    shapes = result["document"].inline_shapes
    assert len(shapes) >= 12
    with zipfile.ZipFile(io.BytesIO(result["docx"])) as z:
        body = z.read("word/document.xml").decode("utf-8")
        assert len(re.findall(r'<pic:pic\b', body)) == len(shapes)
        assert 'descr="Carte 1 — Indice de fragilité numérique' in body
    captions = [p.text for p in result["document"].paragraphs if p.style.name == "Caption"]
    assert sum(c.startswith("Carte ") for c in captions) == 6  # index, need, THD, places, unmet, 3 × 3


def test_maps_have_legend_scale_and_source(gam):
    text = norm(gam["text"])
    assert "Contours : IGN" in text and "Source : calcul du projet" in text
    # the legend and scale bar are drawn in the map itself: a PNG at its printed width (17 cm, 200 dpi),
    # as tall as the territory needs (the Métropole is tall: 14 cm, the most)
    maps_ = [b for b in gam["report"].blocks if getattr(b, "caption", "").startswith("Carte ")]
    assert len(maps_) == 6
    w, h = png_size(maps_[0].png)
    assert abs(w - 17.0 / 2.54 * 200) <= 1 and abs(h - 14.0 / 2.54 * 200) <= 1


def test_sources_annex_lists_every_source_used(gam, isere):
    for result in (gam, isere):
        ctx, manifest = result["ctx"], result["ctx"].manifest
        used = used_sources(ctx)
        # indicator groups, places and geometries are all there
        assert {"filosofi_com_2021", "arcep_thd_2019", "arcep_mobile_coverage_2019t3", "france_services", "communes_ara_cog2024"} <= set(used)
        places = {k for v in ctx.places_here()["sources"].dropna() for k in str(v).split(";")}
        assert places <= set(used)
        text = norm(result["text"])
        # the PDF's cells wrap anywhere and pdftotext interleaves neighbouring cells: every word of a
        # field is in the annex (the DOCX, rendered from the same table, holds each field whole)
        annex = re.sub(r"\s+", "", text[text.rindex("B. Sources"):])
        docx_text = "\n".join(norm(c.text) for t in result["document"].tables for r in t.rows for c in r.cells)
        for key in used:
            s = manifest["sources"][key]
            for field in ("title", "producer", "vintage", "licence"):
                assert norm(s[field]) in docx_text, (key, field)
            for field in ("title", "producer", "vintage", "licence"):
                assert all(word in annex for word in re.split(r"[\s-]+", s[field]) if word), (key, field)
        assert f"Les {len(used)} sources utilisées" in text


def test_french_typography_in_both_files(gam):
    # the narrow no-break space is printed as such (DejaVu Sans has it; a ToUnicode map says so)
    streams = [zlib.decompress(m.group(1)) for m in re.finditer(rb"stream\r?\n(.*?)endstream", gam["pdf"], re.S)
               if m.group(1)[:1] == b"x"]
    assert any(b"beginbfchar" in s and b"<202F>" in s for s in streams)
    docx_text = "\n".join(c.text for t in gam["document"].tables for r in t.rows for c in r.cells)
    assert "449\u202f509" in docx_text and "15,0\u202f%" in docx_text
    assert "\u00a0:" in "\n".join(p.text for p in gam["document"].paragraphs)
    assert "Édité le 30 juin 2025" in gam["text"]


def test_docx_is_a_structured_document(gam):
    d = gam["document"]
    h1 = [p.text for p in d.paragraphs if p.style.name == "Heading 1"]
    assert h1 == ["1. Contexte et périmètre", "2. Chiffres clés", "3. Besoins et publics", "4. Connectivité",
                  "5. L'offre d'accompagnement", "6. Accès et besoin non couvert", "7. Scénarios d'implantation",
                  "8. Points forts et points d'attention", "9. Annexes"]
    with zipfile.ZipFile(io.BytesIO(gam["docx"])) as z:
        body = z.read("word/document.xml").decode("utf-8")
        settings = z.read("word/settings.xml").decode("utf-8")
        footers = "".join(z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("word/footer"))
    assert 'TOC \\o "1-2"' in body and "PAGE" in footers and "NUMPAGES" in footers
    assert settings.index("updateFields") < settings.index("<w:compat")  # schema order
    assert len(d.tables) >= 12 and all(t.style.name == "Table Grid" for t in d.tables)


def test_strengths_and_points_of_attention(gam):
    good, bad = (["".join(r.text for r in item) for item in side] for side in _findings(gam["ctx"]))
    # poverty 15,0 % against Isère 11,0 %: far above, a point of attention; THD 74,4 % against 46,7 %: a strength
    assert any(norm(s).startswith("Taux de pauvreté (seuil 60 %) : 15,0 %, nettement au-dessus") for s in bad)
    assert any(s.startswith("Locaux éligibles au très haut débit") for s in good)
    text = norm(gam["text"])
    assert "Points forts" in text and "nettement au-dessus de la référence (Isère : 11,0 %)" in text


def _findings(ctx):
    from reports.synthesis import findings

    return findings(ctx)


def test_gap_threshold_on_a_hand_case():
    # 12 % vs 10 %: +20 % relative and +2 points → counts; 10,5 % vs 10 %: +5 % → does not
    figs = pd.DataFrame({"label": ["Taux de pauvreté", "Taux de chômage"], "value": [12.0, 10.5], "unit": ["%", "%"],
                         "decimals": [1, 1]}, index=["poverty", "unemployment"])
    refs = figs.assign(value=[10.0, 10.0])
    ctx = SimpleNamespace(figures=figs, ref_figures=refs, ref_name="Réf",
                          value=lambda k, ref=False: float((refs if ref else figs)["value"].get(k, np.nan)))
    good, bad = _compare(ctx)
    assert good == [] and len(bad) == 1
    assert "".join(r.text for r in bad[0]) == "Taux de pauvreté : 12,0\u202f%, nettement au-dessus de la référence (Réf : 10,0\u202f%)."


def test_data_text_is_escaped_in_pdf_markup(tmp_path):
    assert markup((Run("Café & Cie <Nord>"),)) == "Café &amp; Cie &lt;Nord&gt;"
    assert markup((Run("x", bold=True), Run("i", sub=True))) == '<b>x</b><sub rise="2" size="7">i</sub>'
    report = Report(title="T", territory="Lieu <b>&</b> « test »", subtitle="s", date_text="d", cover_note="n",
                    running_title="r", blocks=[Paragraph(plain("Point <i>numérique</i> & co")),
                                               Table(("Nom",), (("A & <B>",),), (1.0,))])
    path = tmp_path / "e.pdf"
    path.write_bytes(render_pdf(report))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Point <i>numérique</i> & co" in text and "A & <B>" in text and "Lieu <b>&</b>" in text


def test_french_spacing():
    assert french_spacing("« IRIS » : 16,4 % ; ok ?") == "«\u00a0IRIS\u00a0»\u00a0: 16,4\u202f%\u202f; ok\u202f?"
    assert french_date(date(2025, 12, 1)) == "1er décembre 2025"


def test_inline_formulas_as_text_with_subscripts():
    runs = latex_runs(r"N_i = N_c\, n_i / \sum_{j \in c} n_j")
    assert [(r.text, r.sub) for r in runs][:4] == [("N", False), ("i", True), (" = N", False), ("c", True)]
    assert latex_text(r"U_i = N_i \times \max(0,\ 1 - A_i / T)") == "Ui = Ni × max(0, 1 − Ai / T)"
    assert latex_text(r"N = 0{,}40 \times") == "N = 0,40 ×"
    assert latex_text(r"\text{logit}(\tau) = \beta_0") == "logit(τ) = β0"
    png = formula_png(r"R_j = \frac{S_j}{\sum_i W(d_{ij})\, N_i}")
    w, h = png_size(png)
    assert w > 1.5 * h > 0  # one line, fractions in display style


# -- the offer: freshness, types, services (hand cases) -------------------------------------------


def test_freshness_classes():
    today = date(2025, 6, 30)
    assert offer.parse_updated("2020") == date(2020, 12, 31)  # a year: its last day (never older than it may be)
    assert offer.parse_updated("2024-02") == date(2024, 2, 29)
    assert offer.parse_updated("n/a") is None and offer.parse_updated(None) is None
    # 2025-01-30 → 151 days / 30,44 = 4,96 months « à jour »; 2024-12-29 → 183 days = 6,01 « à surveiller »
    assert offer.freshness_label(offer.age_months("2025-01-30", today)) == "à jour"
    assert offer.age_months("2024-12-29", today) == pytest.approx(183 / (365.25 / 12))
    assert offer.freshness_label(offer.age_months("2024-12-29", today)) == "à surveiller"
    assert offer.freshness_label(offer.age_months("2024-05-30", today)) == "à vérifier"
    assert offer.freshness_label(offer.age_months("2023-12-30", today)) == "à actualiser"
    assert offer.freshness_label(offer.age_months(None, today)) == "à actualiser"
    table = offer.freshness_table(pd.DataFrame({"updated": ["2025-05-01", "2024-11-01", "2020", None]}), today)
    assert table["Lieux"].tolist() == [1, 1, 0, 2] and table["Part"].tolist() == [25.0, 25.0, 0.0, 50.0]


def test_type_and_service_tables():
    places = pd.DataFrame({
        "type": ["france_services", "france_services", "bibliotheque"],
        "offers_digital_help": [True, True, False],
        "weekly_hours": [24.0, 30.0, np.nan],
        "open_evening": pd.array([True, False, pd.NA], dtype="boolean"),
        "open_saturday": pd.array([False, False, pd.NA], dtype="boolean"),
        "services": ["demarches;equipement", "demarches", None],
    })
    t = offer.type_table(places).set_index("Type")
    assert t.loc["France Services"].tolist() == [2, 2, 2, 27.0, 1, 0]
    assert t.loc["Bibliothèque", "Horaires connus"] == 0 and np.isnan(t.loc["Bibliothèque", "Heures médianes"])
    s = offer.service_table(places).set_index("Service")["Lieux"]
    assert s["Démarches en ligne"] == 2 and s["Équipement et connexion"] == 1 and s["Compétences numériques de base"] == 0


# -- exports: labels, formats, dictionary, formula injection ---------------------------------------


def test_csv_and_xlsx_neutralise_formulas():
    df = pd.DataFrame({"name": ['=HYPERLINK("http://x","y")', "+33 1", "-moins", "@SUM(A1)", "Grenoble"],
                       "population": [1.0, 2.0, -3.0, 4.0, 5.0]})
    back = pd.read_csv(io.BytesIO(files.to_csv(df)))
    assert back["name"].tolist() == ["'=HYPERLINK(\"http://x\",\"y\")", "'+33 1", "'-moins", "'@SUM(A1)", "Grenoble"]
    assert back["population"].tolist() == [1.0, 2.0, -3.0, 4.0, 5.0]  # numbers are numbers, negative ones too
    data = files.to_xlsx({"Zones": df}, pd.DataFrame({"Rubrique": ["=1+1"]}))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert not any("<f>" in z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/"))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c.value for c in wb["Zones"]["A"]][1:]
    assert cells[0] == "'=HYPERLINK(\"http://x\",\"y\")" and cells[4] == "Grenoble"
    assert wb["À propos"]["A2"].value == "'=1+1"


def test_xlsx_french_labels_formats_and_dictionary(pack):
    zones = pd.DataFrame({"code": ["38185"], "name": ["Grenoble"], "population": [156389], "score": [4.56],
                          "measured_share": [0.8], "ind_poverty": [21.04], "poverty_status": ["ok"]})
    figs = pd.DataFrame({"label": ["Population", "Taux de pauvreté"], "value": [449509.0, 15.0], "unit": ["habitants", "%"],
                         "decimals": [0, 1], "estimated_share": [0.0, 0.022], "source": ["INSEE", "INSEE"], "note": ["", ""]},
                        index=["population", "poverty"])
    key = tables.key_figures_table(figs, figs, "Métropole", "Isère")
    sheets = {"Zones": zones, "Chiffres clés": key}
    data = files.to_xlsx({**sheets, "Dictionnaire": tables.workbook_dictionary(sheets)}, tables.about_table(pack["manifest"]),
                         labels=True, row_decimals={"Chiffres clés": figs["decimals"].tolist()})
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["Zones"]
    head = [c.value for c in ws[1]]
    assert head == ["Code", "Nom", "Population", "Indice de fragilité (/10)", "Part mesurée de l'indice",
                    "Taux de pauvreté (seuil à 60 %) (%)", "Statut : pauvreté"]
    fmt = {h: ws.cell(2, i + 1).number_format for i, h in enumerate(head)}
    assert fmt["Population"] == "#,##0" and fmt["Indice de fragilité (/10)"] == "#,##0.0" and fmt["Part mesurée de l'indice"] == "0%"
    assert ws["A2"].value == "38185" and ws["C2"].value == 156389
    kf = wb["Chiffres clés"]
    assert kf["B2"].number_format == "#,##0" and kf["B3"].number_format == "#,##0.0" and kf["E3"].number_format == "0%"
    # the dictionary defines every column of both data sheets
    d = pd.DataFrame(list(wb["Dictionnaire"].iter_rows(values_only=True))[1:], columns=[c.value for c in wb["Dictionnaire"][1]])
    assert len(d) == len(zones.columns) + len(key.columns)
    assert (d["Signification"].fillna("").str.len() > 0).all()
    assert d.set_index("Colonne").loc["measured_share", "Libellé"] == "Part mesurée de l'indice"


def test_the_pages_workbook_on_the_metropole(pack, gam):
    """The Diagnostic page's XLSX (reports.files.diagnostic_workbook, what the page binds to its
    button) on the Métropole's communes: French headers, formats, a dictionary of every column."""
    ctx = gam["ctx"]
    res, _caps = ctx.results("commune")
    zones = pd.DataFrame(tables.zone_table(ctx.zones("commune"), res).drop(columns="geometry"))
    data = files.diagnostic_workbook(zones, ctx.figures, ctx.ref_figures, ctx.territory.label, ctx.reference.label,
                                     tables.about_table(ctx.manifest))
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Zones", "Chiffres clés", "Dictionnaire", "À propos"]
    head = [c.value for c in wb["Zones"][1]]
    assert head[:4] == ["Code", "Nom", "Code EPCI", "EPCI"] and "Personnes en besoin" in head and len(set(head)) == len(head)
    assert not any(h.startswith(("ind_", "score_", "contrib_")) for h in head)  # labels, never codes
    kf = list(wb["Chiffres clés"].iter_rows(values_only=True))
    assert kf[0][:3] == ("Indicateur", ctx.territory.label, f"Référence : {ctx.reference.label}")
    assert kf[1][:3] == ("Population", 449509, 1284969)
    d = list(wb["Dictionnaire"].iter_rows(values_only=True))[1:]
    assert len(d) == len(zones.columns) + len(kf[0]) and all(row[3] for row in d)


def test_csv_with_french_labels():
    df = pd.DataFrame({"code": ["01001"], "need": [12.5], "ind_no_thd": [40.0]})
    back = pd.read_csv(io.BytesIO(files.to_csv(df, labels=True)), dtype=str)
    assert list(back.columns) == ["Code", "Personnes en besoin", "Locaux sans très haut débit fixe (≥ 30 Mbit/s) (%)"]
    assert back["Code"].tolist() == ["01001"]


# -- the Streamlit-free copies equal the UI's ------------------------------------------------------


def test_labels_and_rules_equal_the_apps():
    from reports import labels, results
    from ui import compute, data, picker
    from ui.state import ViewState

    assert labels.STATUS_LABELS == compute.STATUS_LABELS and labels.NEED_LABELS == compute.NEED_LABELS
    assert labels.ESTIMATED_THRESHOLD == compute.ESTIMATED_THRESHOLD and labels.BIVARIATE_COLORS == compute.BIVARIATE_COLORS
    assert results.ESTIMATED_COLUMNS == compute.ESTIMATED_COLUMNS
    assert {compute.PRESET_DECAY[k]: v for k, v in compute.PRESET_LABELS.items()} == labels.DECAY_LABELS
    assert (labels.KIND_LABELS, labels.KIND_LEVEL, labels.LEVEL_COLUMN) == (data.KIND_LABELS, data.KIND_LEVEL, data.LEVEL_COLUMN)
    assert labels.LEVEL_LABELS == picker.LEVEL_LABELS and labels.LEVEL_NOUNS == compute.LEVEL_NOUNS
    assert DEFAULT_CONFIG == compute.config_for(ViewState())
    values = pd.Series([0.5, 1.0, 1.0, 2.0, 3.5, 7.0, np.nan, 9.25])
    for scheme in ("quantiles", "natural_breaks", "equal_interval"):
        assert maps.classify(values, scheme, 4) == compute.classify(values, scheme, 4)
    assert maps.palette("YlOrRd", 5) == compute.palette("YlOrRd", 5)


def test_level_results_and_estimated_zones_equal_the_apps(pack):
    """reports.results gives ui.compute's frame, and marks the zones the map draws paler."""
    from reports.results import estimated_flags, level_results, pack_tables
    from ui import compute

    config = DEFAULT_CONFIG
    places = pd.DataFrame(pack["places"].drop(columns="geometry"))
    mine, caps, _ = level_results(pack_tables(pack), "iris", places, config)
    theirs, their_caps, _ = compute._compute("iris", config.to_json(), None)
    pd.testing.assert_frame_equal(mine, theirs)
    pd.testing.assert_frame_equal(caps, their_caps)
    zones = pack["iris"][pack["iris"]["code_epci"] == "200040715"]
    view = mine.loc[zones.index]
    layers = compute.layers(config)
    for key, column in (("fragility", "score"), ("unmet", "unmet"), ("bivariate", "bivariate_num"), ("ind:no_thd", "ind_no_thd")):
        flag, _notes, _counts = compute.estimate_view(view.assign(value=view[column]), zones, layers[key], config)
        assert (estimated_flags(view, key, column) == flag).all(), key


# -- command line, scenarios -----------------------------------------------------------------------


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    assert cli(["--territory", GAM, "--out", str(tmp_path / "x.txt")]) == 2
    assert "expected a .pdf or .docx" in capsys.readouterr().err
    assert cli(["--territory", "epci:999999999", "--out", str(tmp_path / "x.pdf")]) == 2
    assert "no epci with code '999999999' in the pack" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()


def test_cli_writes_a_docx_with_the_saved_scenarios(tmp_path, capsys):
    from planning.scenarios import ScenarioStore

    store = ScenarioStore(tmp_path / "ws.sqlite")
    store.save("Deux relais à Bourg & <environs>", {
        "territory": {"level": "commune", "code": "01053", "name": "Bourg-en-Bresse (Commune 01053)"},
        "level": "iris", "model": "mclp", "p": 2, "service_time": 15.0,
        "results": {"covered_before": 900.0, "covered_after": 1250.0, "unmet_need_before": 700.0, "unmet_need_after": 520.0,
                    "access_before": 0.08, "access_after": 0.11},
        "chosen_sites": [{"candidate_id": "qpv:01053", "kind": "qpv", "name": "Quartier de la Reyssouze", "rank": 1,
                          "newly_covered": 250.0},
                         {"candidate_id": "commune:01053", "kind": "commune_centre", "name": "Centre de Bourg", "rank": 2,
                          "newly_covered": 100.0}],
    })
    store.save("Ailleurs", {"territory": {"level": "commune", "code": "38185", "name": "Grenoble"}, "model": "mclp"})
    out = tmp_path / "bourg.docx"
    assert cli(["--territory", "com:01053", "--out", str(out), "--workspace", str(tmp_path / "ws.sqlite"), "--draws", "5"]) == 0
    err = capsys.readouterr().err
    assert "[100 %] Rapport prêt." in err and "Scénarios" in err
    d = docx.Document(str(out))
    text = "\n".join(p.text for p in d.paragraphs)
    cells = "\n".join(c.text for t in d.tables for r in t.rows for c in r.cells)
    assert "Scénario «\u00a0Deux relais à Bourg & <environs>\u00a0»" in text and "Ailleurs" not in text
    assert "Quartier de la Reyssouze" in cells and "quartier prioritaire" in cells
    assert "1\u202f250" in cells and "+350" not in cells  # before / after: 900 → 1 250, gap 350
    assert "350" in cells


def test_report_options_are_checked(pack):
    with pytest.raises(ValueError, match="'iris' or 'commune'"):
        build_report(pack, GAM, level="epci")
    with pytest.raises(ValueError, match="expected 'kind:code'"):
        build_report(pack, "200040715")
    with pytest.raises(ValueError, match="expected one of"):
        render(Report("t", "x", "s", "d", "n", "r"), "odt")
    # another configuration flows through: the illectronisme model counts other people
    other = build_report(pack, "com:38185", config=Config(need_model="illectronisme", decay="apl"), robustness_draws=3)
    assert other.meta["context"].value("need") > build_report(pack, "com:38185", robustness_draws=3).meta["context"].value("need")
