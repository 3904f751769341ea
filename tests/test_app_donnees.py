"""The real Streamlit app, page Données & méthode (AppTest): sources table, uploads of places.

Uploads go through AppTest's ``file_uploader`` (Streamlit 1.67: ``set_value((name, bytes,
mime))``); the parser (:func:`loaders.user_places.parse_user_places`) and the popup builder
(:func:`ui.explain.place_popup`) are also checked directly. Row numbers are spreadsheet rows
(header = row 1), so the third data row is row 4.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from loaders.errors import LoaderError
from loaders.user_places import parse_user_places
from tests.map_helpers import map_args
from tests.map_helpers import point_features as map_point_features
from ui import method
from ui.explain import place_popup
from ui.folium_map import POINT_CLASS

REPO_DIR = Path(__file__).resolve().parents[1]
APP = REPO_DIR / "app.py"
MANIFEST = REPO_DIR / "geodata" / "pack" / "manifest.json"
TIMEOUT = 180
HOSTILE = "<img src=x onerror=alert(1)>"

#: two good rows (Grenoble) and a bad one (latitude "abc", row 4)
CSV = (
    "nom;type;adresse;code_postal;latitude;longitude;horaires;conseillers\n"
    "Espace numérique Abbaye;association;1 place Exemple;38000;45.1790;5.7420;Mo-Fr 09:00-12:00,14:00-17:00;2\n"
    f"{HOSTILE};mediatheque;2 rue B;38100;45.1700;5.7300;;\n"
    "Lieu sans position;association;3 rue C;38000;abc;5.7000;;\n"
).encode()


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def donnees_app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()  # Carte (default page) first: switch_page needs the registered pages
    at.switch_page("pages/donnees_methode.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Données & méthode"
    return at


def upload(at: AppTest, content: bytes, name: str = "lieux.csv") -> AppTest:
    at.file_uploader[0].set_value((name, content, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def point_features(at: AppTest) -> list[dict]:
    return map_point_features(map_args(at), POINT_CLASS)


# --- the page ------------------------------------------------------------------------------


def test_sources_table_lists_the_manifest_sources(manifest):
    at = donnees_app()
    tabs = [t.label for t in at.tabs]
    assert tabs == ["Sources", "Couverture", "Méthode", "Importer vos lieux"]
    shown = at.table[0].value  # a table that wraps: no title or producer cut at its column's edge
    sources = method.sources_table(manifest)
    assert len(shown) == len(sources) == len(manifest["sources"]) == 36
    assert shown.columns.tolist() == sources.columns.tolist() == ["Source", "Producteur", "Millésime", "Licence", "Téléchargement officiel"]
    assert sorted(sources["Source"]) == sorted(s["title"] for s in manifest["sources"].values())
    # each row's link is its source's official page, « — » (not « None ») when it has none
    titles = sources["Source"].tolist()  # French order: « Découpage… » before « Diplôme… »
    assert titles.index(next(t for t in titles if t.startswith("Découpage"))) < titles.index(next(t for t in titles if t.startswith("Diplôme")))
    by_title = {s["title"]: s for s in manifest["sources"].values()}
    pages = [by_title[t].get("page") or by_title[t].get("url") for t in titles]
    links = shown["Téléchargement officiel"].tolist()
    assert links == [f"[page officielle](<{u}>)" if u else "—" for u in pages]
    assert 0 < links.count("—") < len(links)
    # French only: the manifest's English fragments are translated
    text = " ".join(sources[["Producteur", "Millésime", "Licence"]].to_numpy().ravel())
    for english in ("third-party", "unstated", "January", "open data", " from "):
        assert english not in text
    assert "Licence Ouverte (données ouvertes de l'ARCEP)" in set(sources["Licence"])
    contents = at.dataframe[0].value
    assert contents.columns.tolist() == ["Contenu", "Lignes"]
    assert contents.set_index("Contenu").at["IRIS (quartiers)", "Lignes"] == "5\u202f224"  # 5 223 IRIS + Lyon as a whole commune
    assert len(contents) == len(manifest["tables"])
    assert any("4\u202f027 communes, 5\u202f224 IRIS" in m.value for m in at.markdown)


def test_coverage_and_estimates_tables_read_in_french(manifest):
    """Tables that wrap (no sideways scroll in the column), French level names and numbers."""
    at = donnees_app()
    coverage, estimates = (t.value for t in at.table[1:3])
    assert coverage.columns.tolist() == ["Indicateur", "Maille", "Zones", "Avec valeur (%)", "Population couverte (%)",
                                         "Estimé (%)", "Zones corrigées", "Millésime"]
    assert set(coverage["Maille"]) == {"IRIS", "communes", "EPCI", "départements", "région"}
    n_rows = sum(len(levels) for levels in manifest["coverage"].values())
    assert len(coverage) == n_rows
    for table in (coverage, estimates):
        cells = table.drop(columns=[c for c in ("Millésime", "Comment") if c in table]).astype(str).to_numpy().ravel()
        assert not [c for c in cells if re.search(r"\d\.\d", c)]  # decimal comma only
    row = coverage[(coverage["Maille"] == "communes")].iloc[0]
    assert re.fullmatch(r"[\d\u202f]+", row["Zones"]) and re.fullmatch(r"\d+,\d|n\.d\.", row["Avec valeur (%)"])
    assert "Comment" in estimates.columns and set(estimates["Maille"]) <= {"IRIS", "communes", "EPCI", "départements", "région"}


def test_no_file_name_on_the_page():
    """The user reads sources and contents by name: no « .parquet » file, no build command."""
    at = donnees_app()
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption]
    for d in [*at.dataframe, *at.table]:
        shown += [str(v) for v in d.value.astype(str).to_numpy().ravel()] + [str(c) for c in d.value.columns]
    assert len(shown) > 36 * 5
    assert not [t for t in shown if ".parquet" in t or "python -m" in t]


def test_upload_reports_the_bad_row_and_adds_two_places():
    at = upload(donnees_app(), CSV)
    assert [s.value for s in at.success] == ["2 lieu(x) ajouté(s) à votre session."]
    assert [w.value for w in at.warning] == ["1 ligne(s) refusée(s) :"]
    report = next(d.value for d in at.dataframe if "champ" in d.value.columns)
    assert report[["ligne", "champ", "valeur"]].to_dict("records") == [
        {"ligne": 4, "champ": "latitude", "valeur": "abc"}
    ]
    places = at.session_state["user_places"]
    assert len(places) == 2
    assert places["name"].tolist() == ["Espace numérique Abbaye", HOSTILE]  # stored as text, unchanged
    assert places.crs.to_epsg() == 2154
    first = places.iloc[0]
    assert first["weekly_hours"] == pytest.approx(30.0)  # 5 days × (3 h + 3 h)
    assert first["staff"] == 2.0
    assert first["type"] == "association"
    assert all(pid.startswith("import:") for pid in places["place_id"])
    assert any(m.value == "**Lieux importés dans cette session : 2**" for m in at.markdown)
    shown = next(d.value for d in at.dataframe if "Nom" in d.value.columns)  # labels, not codes
    assert shown.columns.tolist() == ["Nom", "Type", "Adresse", "Heures par semaine", "Source"]
    assert shown.to_dict("records")[0] | {"Source": ""} == {
        "Nom": "Espace numérique Abbaye", "Type": "Association", "Adresse": "1 place Exemple", "Heures par semaine": "30,0", "Source": ""}
    assert shown["Heures par semaine"].tolist()[1] == "non renseignées"

    at.run()  # a rerun with the same file does not add the places again
    assert len(at.session_state["user_places"]) == 2
    assert [i.value for i in at.info] == ["Ce fichier a déjà été importé dans cette session."]


def test_remove_imported_places():
    """« Retirer les lieux importés » must leave the session without uploaded places.

    Fails with pages/donnees_methode.py as of this writing: the button clears the session places
    and reruns, but the file is still in the uploader, so the rerun parses and adds it again.
    """
    at = upload(donnees_app(), CSV)
    assert len(at.session_state["user_places"]) == 2
    remove = next(b for b in at.button if b.label == "Retirer les lieux importés")
    remove.click().run()
    assert not at.exception, at.exception
    assert "user_places" not in at.session_state
    assert not any(m.value.startswith("**Lieux importés dans cette session") for m in at.markdown)


def test_uploaded_hostile_name_is_escaped_in_the_map_popup():
    at = upload(donnees_app(), CSV)
    at.switch_page("pages/carte.py").run()
    assert not at.exception, at.exception
    mine = [f["properties"] for f in point_features(at) if f["properties"].get("place", "").startswith("import:")]
    assert len(mine) == 2  # both uploaded places are on the Métropole map
    hostile = next(p for p in mine if "onerror" in p["tip"])
    assert hostile["tip"] == "<b>&lt;img src=x onerror=alert(1)&gt;</b>"
    assert hostile["pop"].startswith("<b>&lt;img src=x onerror=alert(1)&gt;</b><br>Médiathèque<br>2 rue B 38100")
    assert "<img" not in hostile["pop"]
    caption = at.caption[0].value
    assert "lieux : " in caption


def test_unreadable_file_is_refused_with_a_message():
    at = upload(donnees_app(), b"a;b\n1;2\n", "x.csv")
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].replace("\u200b", "").startswith(
        "Fichier refusé : colonnes obligatoires absentes \\: nom, latitude, longitude \\(colonnes trouvées \\: a, b\\)"
    )
    assert "user_places" not in at.session_state


# --- the parts, without the page -----------------------------------------------------------


def test_parse_user_places_rows_and_report():
    good, report = parse_user_places(CSV, "lieux.csv")
    assert good["name"].tolist() == ["Espace numérique Abbaye", HOSTILE]
    assert good["place_id"].tolist() == ["import_utilisateur:2", "import_utilisateur:3"]
    assert report.to_dict("records")[0] | {"problème": ""} == {
        "ligne": 4,
        "champ": "latitude",
        "valeur": "abc",
        "problème": "",
    }
    assert len(report) == 1
    # comma-separated file; an empty latitude is reported on its spreadsheet row
    good2, report2 = parse_user_places(b"nom,latitude,longitude\nA,45.2,5.7\nB,,5.7\n", "l.csv")
    assert good2["name"].tolist() == ["A"]
    assert report2[["ligne", "champ", "valeur"]].to_dict("records") == [{"ligne": 3, "champ": "latitude", "valeur": ""}]
    with pytest.raises(LoaderError, match="type de fichier non pris en charge"):
        parse_user_places(b"x", "lieux.txt")


def test_place_popup_escapes_the_name():
    row = pd.Series(
        {
            "name": HOSTILE,
            "type": "mediatheque",
            "address": "2 rue <b>B</b>",
            "postcode": "38100",
            "hours_json": json.dumps({"mo": [[540, 720]]}),
            "services": "demarches;equipement",
            "sources": "import_utilisateur",
            "updated": None,
        }
    )
    html = str(place_popup(row, {"mediatheque": "Médiathèque"}, {"demarches": "Démarches en ligne"}))
    assert "&lt;img" in html and "<img" not in html
    assert "2 rue &lt;b&gt;B&lt;/b&gt; 38100" in html
    assert "lun. 9h00–12h00" in html
    assert "Démarches en ligne, equipement" in html
    assert html.endswith("mise à jour inconnue")


def test_session_places_merge_in_a_small_app():
    """ui.session_places on its own: add once per content, merge with the pack's places."""

    def script():
        import geopandas as gpd
        import streamlit as st
        from shapely.geometry import Point

        from loaders.user_places import parse_user_places
        from ui import session_places

        pack_places = gpd.GeoDataFrame(
            {"place_id": ["p:1"], "name": ["Pack"]}, geometry=[Point(913000, 6458000)], crs="EPSG:2154"
        )
        good, _ = parse_user_places(b"nom;latitude;longitude\nA;45.19;5.72\nB;45.18;5.73\n", "a.csv")
        st.session_state["added"] = st.session_state.get("added", []) + [session_places.add(good, "a.csv")]
        st.session_state["n_all"] = len(session_places.all_places(pack_places))

    at = AppTest.from_function(script, default_timeout=60).run()
    assert not at.exception, at.exception
    at.run()
    assert at.session_state["added"] == [2, 0]
    assert at.session_state["n_all"] == 3
    assert at.session_state["places_version"] == 1
