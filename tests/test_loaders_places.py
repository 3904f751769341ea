"""Places loaders and the unified places table, on the real published files and small fixtures."""

from __future__ import annotations

import csv
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import loaders.download
from loaders import RAW_DIR
from loaders import opening_hours as oh
from loaders import places as P
from loaders.errors import DownloadError, LoaderError

PLACES_DIR = RAW_DIR / "places"
COMMUNES_FILE = RAW_DIR / "geo" / "communes_ara_cog2024_simplifiees.geojson"
_skip_no_raw = pytest.mark.skipif(not (PLACES_DIR / "anct_france_services_liste-fs-20240801.csv").exists(), reason="raw files not present")


def needs_raw(test):
    """Marks a test that reads ../shared/data/raw (marker ``raw``), skipped when it is absent."""
    return pytest.mark.raw(_skip_no_raw(test))


# --------------------------------------------------------------------------------------------
# fixtures (built once per module: the whole build takes a few seconds)


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    g = gpd.read_file(COMMUNES_FILE)
    return gpd.GeoDataFrame({"code_commune": g["code_territoire"].str[3:]}, geometry=g.geometry, crs="EPSG:4326")


@pytest.fixture(scope="module")
def build(communes) -> P.PlacesBuild:
    return P.build_places(RAW_DIR, communes=communes)


@pytest.fixture(scope="module")
def places(build) -> gpd.GeoDataFrame:
    return build.places


@pytest.fixture(scope="module")
def fs() -> pd.DataFrame:
    return P.load_france_services(RAW_DIR)


# --------------------------------------------------------------------------------------------
# loaders


@needs_raw
def test_france_services_counts_and_codes(fs):
    assert len(fs) == 2845
    assert (fs["departement"] == "38").sum() == 28
    assert (fs["code_commune"] == "38185").sum() == 3
    assert fs["departement"].isin(P.AURA_DEPARTEMENTS).sum() == 325
    assert (fs["fs_type"] == "Principal").sum() == 2721
    assert set(fs["type"]) == {"france_services"}
    assert fs["code_commune"].str.fullmatch(r"\d{5}|2[AB]\d{3}").all()
    assert fs["source_id"].is_unique
    row = fs.set_index("source_id").loc["234"]
    assert row["name"] == "France services Pimms Médiation Isère - Grenoble"
    assert row["postcode"] == "38100" and row["address"] == "97 Galerie de l'Arlequin"
    assert row["email"] == "grenoble@pimmsmediation.fr"
    assert oh.weekly_hours(oh.from_json(row["hours_json"])) == 36.5
    assert (row["lat"], row["lon"]) == (45.16408, 5.732875)
    # the ZR bus row publishes an adviser's personal mailbox: dropped
    assert pd.isna(fs.set_index("source_id").loc["2057", "email"])
    assert fs["hours_json"].isna().sum() == 48


@needs_raw
def test_hinaura_loader():
    h = P.load_hinaura(RAW_DIR)
    assert len(h) == 1171
    assert h["lon"].notna().sum() == 1170
    assert (h["postcode"].str[:2] == "38").sum() == 310
    assert (h["postcode"].str[:2] == "01").sum() == 79  # published as a number: zero restored
    assert (h["commune_name"].str.strip().str.lower() == "grenoble").sum() == 49
    pimms = h.loc[453]
    assert pimms["source_id"] == "453" and pimms["name"] == "Pimms Mediation Grenoble"
    assert pimms["type"] == "france_services" and pimms["type_raw"] == "Maison France Services"
    assert pimms["email"] == "grenoble@pimms.org" and pimms["updated"] == "2022-01-10"
    assert oh.weekly_hours(oh.from_json(pimms["hours_json"])) == 37.5
    # multi-valued "Type de lieu": médiathèque wins over EPN; the raw value is kept
    assert h["type"].isin(P.TYPES).all()
    # an MSAP is a public-services reception point (not France Services unless the ANCT list says so)
    assert h.loc[0, "type"] == "services_publics" and h.loc[0, "type_raw"] == "Maison de Services au Public"
    assert h["services"].dropna().str.fullmatch(r"(demarches|competences_base|equipement|autres)(;(competences_base|equipement|autres))*").all()


def test_split_hub_list():
    assert P._split_hub_list('Espace Public Numérique","Maison France Services') == ["Espace Public Numérique", "Maison France Services"]
    assert P._split_hub_list('Espace Public Numérique",Médiathèque') == ["Espace Public Numérique", "Médiathèque"]
    assert P._split_hub_list('Gratuit,"Agrée Pass Numérique (APTIC ou autres)') == ["Gratuit", "Agrée Pass Numérique (APTIC ou autres)"]
    assert P._split_hub_list("Médiathèque") == ["Médiathèque"]
    assert P._split_hub_list("") == [] and P._split_hub_list(None) == []


@needs_raw
def test_data_inclusion_loader():
    d = P.load_data_inclusion(RAW_DIR)
    assert len(d) == 3811
    assert d["lon"].notna().sum() == 3372
    assert d["origin"].value_counts().to_dict() == {
        "conseiller-numerique": 2545, "Hinaura": 568, "siao": 319, "dora": 185, "cd72": 112, "cd35": 44, "odspep": 38,
    }
    assert (d["code_commune"].str[:2] == "38").sum() == 84
    assert (d["code_commune"] == "38185").sum() == 19
    assert d["code_commune"].str[:2].isin(P.AURA_DEPARTEMENTS).sum() == 916
    assert d["siret"].dropna().str.fullmatch(r"\d{14}").all()
    albertville = d[d["source_id"] == "10"].iloc[0]  # "Mo-Fr 08:30-12:00,13:30-17:00; Th off"
    assert oh.from_json(albertville["hours_json"])["th"] == []
    # typologie codes: CCAS → ccas, ASSO → association, MUNI → mairie
    for code, type_ in (("CCAS", "ccas"), ("ASSO", "association"), ("MUNI", "mairie"), ("CS", "centre_social")):
        assert set(d.loc[d["type_raw"] == code, "type"]) == {type_}
    # adviser mailboxes are never kept
    assert not d["email"].dropna().str.endswith("@conseiller-numerique.fr").any()


@needs_raw
def test_cnfs_places_loader():
    c = P.load_cnfs_places(RAW_DIR)
    assert len(c) == 2733 and c["lon"].notna().all()
    assert c["code_commune"].isna().all()  # no INSEE code in this file
    assert c["postcode"].str[:2].isin(P.AURA_DEPARTEMENTS).sum() == 311  # + one "380000" typo, NA here
    assert set(c["services"]) == {"competences_base;autres"}
    assert not c["email"].dropna().str.endswith("@conseiller-numerique.fr").any()


@needs_raw
def test_cnfs_structures_loader():
    s = P.load_cnfs_structures(RAW_DIR)
    assert len(s) == 2889
    assert s["posts"].sum() == 3925
    assert (s["code_commune"].str[:2] == "38").sum() == 29
    assert (s["code_commune"] == "38185").sum() == 3
    assert s["lon"].isna().all() and s["siret"].str.fullmatch(r"\d{14}").all()
    assert s["code_commune"].str.len().eq(5).all()  # 197 codes published with 4 digits
    grenoble = s[s["siret"] == "21380185500015"]
    assert grenoble["name"].tolist() == ["COMMUNE DE GRENOBLE"] and grenoble["posts"].tolist() == [5.0]


@needs_raw
def test_aidants_connect_loader():
    a = P.load_aidants_connect(RAW_DIR)
    assert len(a) == 5227 and a["active"].sum() == 5181
    assert a["code_commune"].str[:2].isin(P.AURA_DEPARTEMENTS).sum() == 592
    assert (a["code_commune"].str[:2] == "38").sum() == 66
    assert (a["code_commune"] == "38185").sum() == 9
    assert a.loc[0, "siret"] == "13002603200016"  # published as 13002603200016.0
    assert pd.isna(a.loc[3, "siret"])  # published as 0.0
    assert a.loc[0, "aidants"] == 22 and a.loc[0, "users"] == 9 and a.loc[0, "procedures"] == 53
    assert a["email"].isna().all()  # the export has no contact field


@needs_raw
def test_cnfs_activity_loader():
    act = P.load_cnfs_activity(RAW_DIR)
    assert act["postcode"].str.fullmatch(r"\d{5}").all() and act["postcode"].is_unique
    assert act.attrs["dropped_rows"] == 3  # "24 54", "0null", "undef"
    g = act.set_index("postcode").loc["38000"]
    assert (g["age_35_60"], g["age_60_plus"], g["job_seekers"], g["retired"]) == (602, 304, 324, 301)
    assert act.set_index("postcode").loc["00400", "age_35_60"] == 1  # " 0400" in the file


# --------------------------------------------------------------------------------------------
# helpers


def test_public_email():
    assert P.public_email("grenoble@pimmsmediation.fr", "Pimms Grenoble") == "grenoble@pimmsmediation.fr"
    assert P.public_email("brice.bredji@pimmmsmediation.fr") is None
    assert P.public_email("e.ansart@xyz.fr") is None
    assert P.public_email("linda.ounissi@conseiller-numerique.fr") is None
    assert P.public_email("conseiller-numerique@cdc-oleron.fr") == "conseiller-numerique@cdc-oleron.fr"
    assert P.public_email("vailly.franceservices@orange.fr") == "vailly.franceservices@orange.fr"
    assert P.public_email("ajaccio.empereur@x.fr", "France services Ajaccio Empereur") == "ajaccio.empereur@x.fr"
    assert P.public_email("psp.sablons@x.fr") == "psp.sablons@x.fr"
    assert P.public_email("") is None and P.public_email(None) is None and P.public_email("not an email") is None


@pytest.mark.parametrize(
    "name, expected",
    [
        ("France services de Mens", "france_services"),
        ("Conseiller Numérique France Services Saint Gervais d'Auvergne", None),  # the programme, not the label
        ("CCAS de la Ville de Lyon", "ccas"),
        ("Centre social la Gravière", "centre_social"),
        ("Mairie de St Romans, Médiathèque \"Le Préau\"", "mediatheque"),
        ("COMMUNE DE JULLY SUR SARCE", "mairie"),
        ("MISSION LOCALE ISERE", "mission_locale"),
        ("Pôle emploi Grenoble", "france_travail"),
        ("Le Plateau - Cyber-base - Grenoble", "epn_tiers_lieu"),
        ("Association PANGOLIN", "association"),
        ("La Machinerie", None),
    ],
)
def test_type_from_name(name, expected):
    assert P.type_from_name(name) == expected


def test_map_services():
    assert P.map_services(["Prendre en main un ordinateur", "Accéder à du matériel", "Réaliser des démarches administratives avec un accompagnement"]) == "demarches;competences_base;equipement"
    assert P.map_services(["Approfondir ma culture numérique", "un libellé inconnu"]) == "autres"
    assert P.map_services([]) is None
    assert set(P.SERVICE_MAP.values()) <= set(P.SERVICE_CATEGORIES)


def test_names_normalised_and_similar():
    assert P.normalise_name("Médiathèque de l'Arlequin !") == P.normalise_name("MEDIATHEQUE ARLEQUIN")
    assert P.name_similarity("Pimms Mediation Grenoble", "France services Pimms Médiation Isère - Grenoble") == 1.0
    assert P.name_similarity("Mairie de Voiron", "Bibliothèque de Voiron") < 0.8


# --------------------------------------------------------------------------------------------
# deduplication on hand-checkable fixtures


def _rows(*rows):
    cols = ["origin", "name", "type", "siret", "address", "x", "y"]
    return pd.DataFrame([dict(zip(cols, r, strict=True)) for r in rows])


def test_dedupe_rules():
    df = _rows(
        ("hinaura", "Médiathèque Jean Jaurès", "mediatheque", None, None, 0.0, 0.0),
        ("cnfs_places", "MEDIATHEQUE JEAN-JAURES", "mediatheque", None, None, 250.0, 0.0),  # same name, 250 m → merged
        ("hinaura", "Centre social Nord", "centre_social", "11111111111111", None, 5000.0, 0.0),
        ("data_inclusion/dora", "CS Nord (siège)", "autre", "11111111111111", None, 5280.0, 0.0),  # same SIRET, 280 m
        ("hinaura", "Espace numérique Sud", "epn_tiers_lieu", "22222222222222", None, 10000.0, 0.0),
        ("data_inclusion/dora", "Autre structure", "autre", "22222222222222", None, 10350.0, 0.0),  # same SIRET, 350 m: no
        ("hinaura", "Pimms Mediation Est", "autre", None, None, 20000.0, 0.0),
        ("cnfs_places", "France services Pimms Médiation Est", "autre", None, None, 20040.0, 0.0),  # similar, 40 m
        ("hinaura", "Pimms Mediation Ouest", "autre", None, None, 30000.0, 0.0),
        ("cnfs_places", "France services Pimms Médiation Ouest", "autre", None, None, 30200.0, 0.0),  # similar, 200 m: no
        ("hinaura", "Bibliothèque A", "mediatheque", None, None, 40000.0, 0.0),
        ("hinaura", "Bibliothèque A", "mediatheque", None, None, 40000.0, 10.0),  # twins in one list → merged
    )
    labels = P.dedupe_places(df)
    same = lambda i, j: labels[i] == labels[j]  # noqa: E731
    assert same(0, 1) and same(2, 3) and same(6, 7) and same(10, 11)
    assert not same(4, 5) and not same(8, 9)
    assert len(set(labels)) == 8


def test_dedupe_never_merges_two_listed_france_services():
    # a fixed site and its bus, both at the carrier structure's address, plus a hub record of the site
    df = _rows(
        ("france_services", "France services Pimms Médiation Isère - Grenoble", "france_services", None, "97 Galerie de l'Arlequin", 0.0, 0.0),
        ("france_services", "Bus France services Pimms Médiation Grenoble - QPV", "france_services", None, "97 galerie de l'Arlequin", 0.1, 0.0),
        ("hinaura", "Pimms Mediation Grenoble", "france_services", None, "97, Galerie de l’Arlequin", 30.5, 0.0),
    )
    labels = P.dedupe_places(df)
    assert labels[0] != labels[1]
    assert labels[2] == labels[0]  # joins the best-named listed site (word Jaccard 0.5 vs 0.43)


def test_dedupe_links_and_empty():
    df = _rows(("hinaura", "A", "autre", None, None, 0.0, 0.0), ("data_inclusion/Hinaura", "B", "autre", None, None, 9000.0, 0.0))
    assert len(set(P.dedupe_places(df))) == 2
    assert len(set(P.dedupe_places(df, links=[(0, 1)]))) == 1
    assert len(P.dedupe_places(df.iloc[:0])) == 0


# --------------------------------------------------------------------------------------------
# the unified table on real data


@needs_raw
def test_places_schema(places):
    assert list(places.columns) == P.PLACE_COLUMNS + ["geometry"]
    assert places.crs.to_epsg() == 2154
    assert places["place_id"].is_unique
    assert places["type"].isin(P.TYPES).all() and places["type"].notna().all()
    assert places["code_commune"].notna().all()
    assert places["code_commune"].str[:2].isin(P.AURA_DEPARTEMENTS).all()
    assert places["code_commune"].str.fullmatch(r"\d{5}").all()
    assert np.allclose(places.geometry.x, places["x"]) and np.allclose(places.geometry.y, places["y"])
    assert places["lon"].between(2.0, 7.3).all() and places["lat"].between(44.1, 46.9).all()
    # reception points offer digital help; the libraries matched to none of them do not
    assert places["offers_digital_help"].eq(places["type"] != "bibliotheque").all()
    assert places["mobile"].dtype == bool
    cats = places["services"].dropna().str.split(";").explode()
    assert set(cats) <= set(P.SERVICE_CATEGORIES)
    assert places["sources"].str.split(";").map(lambda ks: set(ks) <= set(P.SOURCES)).all()
    assert places["siret"].dropna().str.fullmatch(r"\d{14}").all()
    assert (places["weekly_hours"].dropna() >= 0).all()


@needs_raw
def test_hours_json_round_trips(places):
    for text, hours, sources in zip(places["hours_json"], places["weekly_hours"], places["sources"], strict=True):
        if pd.isna(text):  # no detailed hours: only a library's published weekly hours
            assert np.isnan(hours) or P.LIBRARY_KEY in sources
            continue
        week = oh.from_json(text)
        assert oh.to_json(week) == text
        assert oh.weekly_hours(week) == hours
    assert places["open_evening"].isna().equals(places["hours_json"].isna())


@needs_raw
def test_no_person_names(places, build):
    forbidden = re.compile(r"referent|référent|prenom|prénom|nom_contact|contact_name|first_?name|last_?name|conseiller_nom", re.I)
    assert not [c for c in places.columns if forbidden.search(c)]
    assert not [c for c in build.unlocated.columns if forbidden.search(c)]
    for key in ("france_services", "hinaura", "data_inclusion", "cnfs_places", "cnfs_structures", "aidants_connect", P.LIBRARY_KEY):
        assert not [c for c in P.LOADERS[key](RAW_DIR).columns if forbidden.search(c)]
    emails = places["email"].dropna()
    assert not emails.str.endswith("@conseiller-numerique.fr").any()
    assert "brice.bredji@pimmmsmediation.fr" not in set(emails)


@needs_raw
def test_france_services_after_unification(places):
    fs_places = places[places["type"] == "france_services"]
    # the ANCT list is the reference for the label: 325 sites in AURA, each one place
    assert len(fs_places) == 325
    assert fs_places["sources"].str.contains("france_services").all()
    grenoble = fs_places[fs_places["code_commune"] == "38185"]
    assert sorted(grenoble["place_id"]) == ["france_services:1917", "france_services:2057", "france_services:234"]
    isere = fs_places[fs_places["code_commune"].str[:2] == "38"]
    assert len(isere) == 28


@needs_raw
def test_known_duplicates_merged(places):
    by_id = places.set_index("place_id")
    # Hinaura record 453 "Pimms Mediation Grenoble" (97, Galerie de l'Arlequin, 30 m away) and its
    # data·inclusion copy are the listed France Services site 234
    site = by_id.loc["france_services:234"]
    assert site["sources"].startswith("france_services;hinaura;data_inclusion")
    assert "hinaura:453" not in by_id.index
    assert not places["name"].eq("Pimms Mediation Grenoble").any()
    assert site["name"] == "France services Pimms Médiation Isère - Grenoble"
    assert site["weekly_hours"] == 36.5  # the 2024 list's hours win over the 2022 hub's (37.5)
    # Emmaüs Connect Grenoble: a Hinaura record and a CnFS place 26 m apart
    emmaus = by_id.loc["hinaura:115"]
    assert emmaus["sources"] == "hinaura;cnfs_places"
    near = places[(places["x"] - emmaus["x"]).abs().lt(300) & (places["y"] - emmaus["y"]).abs().lt(300)]
    assert near["name"].str.contains("Emma", case=False).sum() == 1
    # the ANCT list rows at 97 Galerie de l'Arlequin (a site and two buses) stay three places
    assert {"france_services:1917", "france_services:2057"} <= set(by_id.index)


@needs_raw
def test_staff_from_structures(places):
    by_id = places.set_index("place_id")
    # COMMUNE DE GRENOBLE (SIRET 21380185500015) hosts 5 posts; two located places carry that SIRET
    with_siret = places[places["siret"] == "21380185500015"]
    assert len(with_siret) == 2
    assert with_siret["staff"].tolist() == [2.5, 2.5]
    assert by_id.loc["data_inclusion:62a73c0cfb528f06e3b3e533", "name"] == "Ville de Grenoble"
    assert "cnfs_structures" in by_id.loc["data_inclusion:62a73c0cfb528f06e3b3e533", "sources"]
    assert places.loc[places["siret"].isna(), "staff"].isna().all()  # missing is NaN, never 0


@needs_raw
def test_counts_and_nothing_silently_lost(build):
    c = build.counts
    src = c["sources"]
    assert src["france_services"] == {"rows": 2845, "in_region": 325, "located_in_region": 325, "places_listing_it": 325, "places_first_source": 325}
    assert src["hinaura"]["rows"] == 1171 and src["hinaura"]["located_in_region"] == 1170
    assert src["data_inclusion"]["rows"] == 3811 and src["cnfs_places"]["in_region"] == 312
    assert c["rows_in_places"] == c["rows_before_dedup"]
    assert c["places_after_dedup"] == len(build.places) < c["rows_before_dedup"]
    # every region row of the located lists is in a place or in `unlocated`
    unl = build.unlocated
    for key in P.SOURCE_PRIORITY:
        kept = src[key]["in_region"] - int((unl["source"] == key).sum())
        assert kept == src[key]["located_in_region"] - (1 if key == "data_inclusion" else 0)
    # the data·inclusion record coded 63144 but located in Arras is kept out, with its reason
    arras = unl[unl["name"] == "Centre Social Arras Ouest"]
    assert arras["reason"].tolist() == ["coordinates outside the communes of the territory"]
    assert set(unl["reason"]) == {"no coordinates", "coordinates outside the communes of the territory", "no coordinates; SIRET matches no located place"}
    assert unl.groupby("source").size().to_dict() == c["unlocated"]
    assert src["cnfs_structures"]["in_region"] == src["cnfs_structures"]["matched_by_siret"] + c["unlocated"]["cnfs_structures"]


@needs_raw
def test_unify_places_without_communes():
    """Without polygons, codes come from the sources (NA for CnFS/Hinaura rows) and the région
    from the postcode; the France Services of Isère are still the 28 listed sites."""
    gdf = P.unify_places(RAW_DIR, communes=None, region_departements=("38",))
    assert gdf.crs.to_epsg() == 2154
    assert ((gdf["type"] == "france_services") & (gdf["code_commune"].str[:2] == "38")).sum() == 28
    assert gdf["code_commune"].isna().any()
    assert (gdf["postcode"].str[:2] == "38").all()
    assert gdf.attrs["counts"]["sources"]["france_services"]["in_region"] == 28


# --------------------------------------------------------------------------------------------
# public libraries (Ministère de la Culture, 2020) and mobile France Services

LIBRARIES_FILE = PLACES_DIR / "culture_bibliotheques_publiques_2020.csv"


@pytest.fixture(scope="module")
def libraries() -> pd.DataFrame:
    return P.load_libraries(RAW_DIR)


@needs_raw
def test_libraries_file_as_published():
    raw = pd.read_csv(LIBRARIES_FILE, sep=";", dtype=str, keep_default_na=False)
    assert len(raw) == 15779 and LIBRARIES_FILE.read_bytes().count(b"\r\n") == 15780  # CRLF, + header
    # « AURA 2 663 » counts the DEPT column: the Métropole de Lyon is published as "69M" (57 rows)
    assert raw["DEPT"].isin(P.AURA_DEPARTEMENTS).sum() == 2663
    assert (raw["DEPT"] == "69M").sum() == 57 and raw.loc[raw["DEPT"] == "69M", "INSEE"].str.startswith("69").all()
    aura = raw[raw["INSEE"].str[:2].isin(P.AURA_DEPARTEMENTS)]
    assert len(aura) == 2663 + 57 == 2720
    assert (aura["type_adresse"] == "Adresse administrative").sum() == 46
    grenoble = raw[raw["INSEE"] == "38185"]
    assert len(grenoble) == 14
    assert grenoble.loc[grenoble["type_adresse"] == "Adresse administrative", "Libelle1"].tolist() == ["Bibliothèque municipale de Grenoble"]


@needs_raw
def test_libraries_loader(libraries):
    lib = libraries
    assert len(lib) == 15779 - 298 and lib.attrs["dropped_administrative"] == 298
    assert sum(n for d, n in lib.attrs["dropped_administrative_by_departement"].items() if d in P.AURA_DEPARTEMENTS) == 46
    assert lib.attrs["unparsed_coordinates"] == 0
    assert lib.attrs["weekly_hours_set_unknown"] == 35  # 35 rows publish 0 h/week
    assert lib["source_id"].is_unique and lib["source_id"].str.fullmatch(r"\d+").all()
    assert set(lib["type"]) == {"bibliotheque"} and set(lib["services"]) == {"equipement"}
    assert lib["hours_json"].isna().all() and not lib["offers_digital_help"].any()
    aura = lib[lib["code_commune"].str[:2].isin(P.AURA_DEPARTEMENTS)]
    assert len(aura) == 2720 - 46 == 2674
    assert aura["geocoding"].value_counts(dropna=False).to_dict() == {"address": 2583, "commune_centroid": 89, pd.NA: 2}
    assert aura["lon"].isna().sum() == 2
    assert aura["weekly_hours"].notna().sum() == 2002
    grenoble = lib[lib["code_commune"] == "38185"].set_index("source_id")
    assert len(grenoble) == 13  # 14 rows, less the library service's office
    relais = grenoble.loc["5628"]
    assert (relais["name"], relais["address"], relais["postcode"]) == ("Bibliothèque des relais lecture", "130 AVENUE D'INNSBRUCK", "38100")
    assert (relais["lat"], relais["lon"], relais["weekly_hours"]) == (45.156352, 5.733619, 45.5)
    assert relais["type_raw"] == "Bibliothèque municipale classée" and relais["updated"] == "2020"
    # "45.1821215167,5.72133051752" is coordonnees_insee: the commune's centre, not the building
    assert grenoble.loc["5622", "geocoding"] == "commune_centroid" and grenoble.loc["5624", "geocoding"] == "address"


LIBRARY_HEADER = (
    "Libelle1;Libelle2;Localisation;voie;CP;CEDEXB;Ville;DEPT;INSEE;coordonnees_ban;coordonnees_insee;"
    "coordonnees_finales;code_bib;code_ua;Code region;Statut;surface;type_adresse;amplitude_horaire;pop_com"
)


def _library_csv(tmp_path, *rows, header=LIBRARY_HEADER, name="bib.csv"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("utf-8"))
    return path


def test_load_libraries_small_file(tmp_path):
    path = _library_csv(
        tmp_path,
        "Médiathèque A;;;1 rue X;38000;;Grenoble;38;38185;45.19, 5.72;45.18, 5.73;45.19,5.72;1.0;1.0;84;Bibliothèque municipale;300.0;Bibliothèque ouverte au public;20.5;1000.0",
        "Direction;;;2 rue Y;38000;;Grenoble;38;38185;45.2, 5.7;45.18, 5.73;45.2,5.7;2.0;2.0;84;Bibliothèque municipale;;Adresse administrative;;1000.0",
        "Point lecture;;;;38113;;Veurey;38;38524;45.0, 5.0;45.1, 5.1;;3.0;3.0;84;;;Bibliothèque ouverte au public;0.0;100.0",
        "Bibliothèque B;;;;73000;;Chambéry;73;73065;;45.5, 5.9;45.5,5.9;4.0;4.0;84;;;Bibliothèque ouverte au public;;100.0",
    )
    lib = P.load_libraries(path=path)
    assert lib["source_id"].tolist() == ["1", "3", "4"]  # the administrative address is not a place
    assert lib.attrs["dropped_administrative"] == 1 and lib.attrs["dropped_administrative_by_departement"] == {"38": 1}
    assert (lib.loc[0, "lat"], lib.loc[0, "lon"], lib.loc[0, "weekly_hours"]) == (45.19, 5.72, 20.5)
    assert (lib.loc[1, "lat"], lib.loc[1, "lon"]) == (45.0, 5.0)  # coordonnees_finales empty: the BAN point
    assert np.isnan(lib.loc[1, "weekly_hours"]) and lib.attrs["weekly_hours_set_unknown"] == 1  # 0 h/week: unknown
    assert lib["geocoding"].tolist() == ["address", "address", "commune_centroid"]
    assert pd.isna(lib.loc[1, "address"]) and pd.isna(lib.loc[1, "type_raw"])


def test_load_libraries_bad_input(tmp_path):
    ok_row = "A;;;1 rue X;38000;;Grenoble;38;38185;45.19, 5.72;45.18, 5.73;45.19,5.72;1.0;1.0;84;BM;;Bibliothèque ouverte au public;{hours};1.0"
    comma = _library_csv(tmp_path, ok_row.format(hours="2").replace(";", ","), header=LIBRARY_HEADER.replace(";", ","), name="comma.csv")
    with pytest.raises(LoaderError, match=r"comma\.csv.*no ';' separator"):
        P.load_libraries(path=comma)
    old = _library_csv(tmp_path, ok_row.format(hours="2"), header=LIBRARY_HEADER.replace("type_adresse", "type"), name="old.csv")
    with pytest.raises(LoaderError, match=r"missing columns \['type_adresse'\]"):
        P.load_libraries(path=old)
    words = _library_csv(tmp_path, ok_row.format(hours="le matin"), name="words.csv")
    with pytest.raises(LoaderError, match=r"amplitude_horaire.*'le matin'"):
        P.load_libraries(path=words)
    no_comma = _library_csv(tmp_path, ok_row.format(hours="2").replace("45.19, 5.72", "45.19 5.72").replace("45.19,5.72", "45.19 5.72"), name="xy.csv")
    with pytest.raises(LoaderError, match=r"xy\.csv.*lat, lon"):
        P.load_libraries(path=no_comma)


def _places_and_libraries(places, libraries):
    cols = ["name", "type", "code_commune", "x", "y"]
    p = pd.DataFrame(places, columns=cols).assign(siret=None, address=None)
    lib = pd.DataFrame(libraries, columns=cols).assign(siret=None, address=None, commune_name=None)
    return p, lib


def test_match_libraries_by_commune_and_name():
    places, libs = _places_and_libraries(
        [
            ("Médiathèque Jean-Jaurès", "mediatheque", "38001", 0.0, 0.0),
            ("Centre social Victor Hugo", "centre_social", "38001", 5000.0, 0.0),
            ("Médiathèque municipale", "mediatheque", "38002", 20000.0, 0.0),
            ("Mairie de Vif", "mairie", "38003", 40000.0, 0.0),
        ],
        [
            ("Bibliothèque Jean Jaurès", "bibliotheque", "38001", 600.0, 0.0),  # 600 m, same distinctive name → place 0
            ("Médiathèque Victor Hugo", "bibliotheque", "38001", 5000.0, 10.0),  # 10 m, but a centre social, similarity 2/3
            ("Bibliothèque municipale de Beta", "bibliotheque", "38002", 21500.0, 0.0),  # generic, the only pair left → place 2
            ("Bibliothèque Jean Jaurès", "bibliotheque", "38004", 0.0, 10.0),  # 10 m from place 0, another commune
            ("Bibliothèque", "bibliotheque", "38003", 40000.0, 20.0),  # 20 m from a mairie: not a library
        ],
    )
    libs.loc[2, "commune_name"] = "Beta"
    assert P.match_libraries(places, libs).tolist() == [0, pd.NA, 2, pd.NA, pd.NA]


def test_match_libraries_one_to_one_strongest_first():
    places, libs = _places_and_libraries(
        [("Médiathèque municipale", "mediatheque", "38001", 0.0, 0.0)],
        [
            ("Espace lecture", "bibliotheque", "38001", 30.0, 0.0),  # rule 7: same type (mediatheque) within 50 m
            ("Bibliothèque municipale", "bibliotheque", "38001", 200.0, 0.0),  # rule 2: same name once folded, 200 m ≤ 300 m
        ],
    )
    # the stronger rule wins and the place takes one library only
    assert P.match_libraries(places, libs).tolist() == [pd.NA, 0]
    assert P.library_name("Médiathèque Jean-Jaurès") == "bibliotheque jean jaures"


def test_mobile_flags():
    df = pd.DataFrame(
        {
            "source": ["france_services"] * 5 + ["hinaura", "culture_bibliotheques_2020", "culture_bibliotheques_2020", "cnfs_places"],
            "name": [
                "France services A", "Bus France services B", "France services itinérante C", "France services D",
                "France services Ebreuil - Antenne itinérante", "Bus E-Media", "Mairie Dépôt Bibliobus", "Bouquinbus", "Médiathèque Busséol",
            ],
            "fs_format": ["Fixe", "Bus_équivalent", "Itinérante", "Multisites", "Fixe_antenne(s)", None, None, None, None],
        }
    )
    mobile, format_raw = P.mobile_flags(df)
    # France Services: the ANCT format decides, whatever the name; others: the name (a deposit point is fixed)
    assert mobile.tolist() == [False, True, True, False, False, True, False, True, False]
    assert format_raw.tolist()[:5] == ["Fixe", "Bus_équivalent", "Itinérante", "Multisites", "Fixe_antenne(s)"]
    assert format_raw.iloc[5:].isna().all()


@needs_raw
def test_libraries_in_places(build, places):
    c = build.counts
    # before: 1 702 reception points (4 more duplicates merged since their types are resolved: a
    # « Maison des habitants » and the centre social of the same address…); after: + 2 435
    # libraries that are not one of them = 4 137 places
    assert c["reception_places"] == 1702 and len(places) == 4137 == 1702 + 2435
    assert c["sources"][P.LIBRARY_KEY]["in_region"] == 2674 and c["sources"][P.LIBRARY_KEY]["located_in_region"] == 2672
    assert c["libraries"] == {
        "located_in_region": 2672,
        "merged": 237,
        "places_merged_with": 236,  # "Médiathèque Loire Forez (à) Montbrison" is listed twice at one point
        "added": 2435,
        "added_at_commune_centroid": 73,
        "hours_taken_by_reception_places": 34,
        "dropped_administrative_in_region": 46,
    }
    assert c["libraries"]["merged"] + c["libraries"]["added"] == c["libraries"]["located_in_region"]
    assert c["rows_in_places"] == c["rows_before_dedup"] == 5356
    unl = build.unlocated[build.unlocated["source"] == P.LIBRARY_KEY]
    assert sorted(unl["source_id"]) == ["2974", "5933"] and set(unl["reason"]) == {"no coordinates"}
    lib = places[places["type"] == "bibliotheque"]
    assert len(lib) == 2435 and lib["place_id"].str.startswith(P.LIBRARY_KEY + ":").all()
    assert set(lib["services"]) == {"equipement"} and set(lib["sources"]) == {P.LIBRARY_KEY}
    assert lib["hours_json"].isna().all() and lib["open_evening"].isna().all() and lib["open_saturday"].isna().all()
    merged = places[places["sources"].str.contains(P.LIBRARY_KEY) & (places["type"] != "bibliotheque")]
    assert len(merged) == 236 and merged["offers_digital_help"].all()
    # a library outside the région whose point fell in the Drôme (05019) stays out
    assert "culture_bibliotheques_2020:10986" not in set(places["place_id"])


@needs_raw
def test_grenoble_libraries(places):
    by_id = places.set_index("place_id")
    grenoble = places[places["code_commune"] == "38185"]
    with_library = grenoble[grenoble["sources"].str.contains(P.LIBRARY_KEY)]
    # 14 rows in the file: 1 administrative address dropped, 11 merged with Hinaura records, 2 added
    merged = with_library[with_library["type"] != "bibliotheque"]
    assert sorted(merged["place_id"]) == sorted(f"hinaura:{i}" for i in (497, 498, 500, 501, 502, 503, 504, 520, 553, 556, 559))
    assert set(merged["sources"]) == {"hinaura;" + P.LIBRARY_KEY} and set(merged["type"]) == {"mediatheque"}
    added = with_library[with_library["type"] == "bibliotheque"]
    assert sorted(added["name"]) == ["Bibliothèque des relais lecture", "Musée Stendhal"]
    # « Bibliothèque Kateb Yacine » (library 5624) is the hub's « Bibliothèque Kateb Yacine - Grenoble »
    kateb = by_id.loc["hinaura:497"]
    assert kateb["name"] == "Bibliothèque Kateb Yacine - Grenoble" and kateb["offers_digital_help"]
    assert "culture_bibliotheques_2020:5624" not in by_id.index and not places["name"].eq("Bibliothèque Kateb Yacine").any()
    # « Bibliothèque Arlequin »: same address, the two points 421 m apart
    assert by_id.loc["hinaura:504", "address"] == "97 galerie de l'Arlequin"
    assert by_id.loc["culture_bibliotheques_2020:5628", "weekly_hours"] == 45.5


@needs_raw
def test_library_hours_only_where_none(places):
    by_id = places.set_index("place_id")
    # Hinaura « Bibliothèque Gilly sur Isère » has no hours: the library list's 9.5 h/week
    gilly = by_id.loc["hinaura:113"]
    assert pd.isna(gilly["hours_json"]) and gilly["weekly_hours"] == 9.5 and pd.isna(gilly["open_evening"])
    # CnFS « Médiathèque Bregnier-Cordon » publishes its own hours (2.5 h): the library's 12 h are not used
    bregnier = by_id.loc["cnfs_places:62ab16898255a806e299c870"]
    assert P.LIBRARY_KEY in bregnier["sources"] and bregnier["weekly_hours"] == 2.5


@needs_raw
def test_mobile_places(places, fs):
    assert fs.loc[fs["departement"].isin(P.AURA_DEPARTEMENTS), "fs_format"].value_counts().to_dict() == {
        "Fixe": 278, "Multisites": 21, "Bus_équivalent": 18, "Fixe_antenne(s)": 6, "Itinérante": 2,
    }
    by_id = places.set_index("place_id")
    # Grenoble: the fixed site and the two buses at the carrier structure's address
    assert by_id.loc["france_services:234", ["mobile", "format_raw"]].tolist() == [False, "Fixe"]
    for bus in ("france_services:1917", "france_services:2057"):
        assert by_id.loc[bus, "name"].startswith("Bus France services Pimms Médiation Grenoble")
        assert by_id.loc[bus, ["mobile", "format_raw"]].tolist() == [True, "Bus_équivalent"]
    fs_places = places[places["type"] == "france_services"]
    assert fs_places["mobile"].sum() == 20 == 18 + 2
    assert fs_places["format_raw"].notna().all() and places.loc[places["type"] != "france_services", "format_raw"].isna().all()
    # « Antenne itinérante » published as Fixe_antenne(s): the ANCT format decides
    assert not places.loc[places["name"] == "France services Ebreuil - Antenne itinérante", "mobile"].any()
    # other sources: only names that say so (38 places: MDF itinérante stops, B-bus, bibliobus…)
    assert places["mobile"].sum() == 58
    assert by_id.loc["culture_bibliotheques_2020:5618", ["name", "mobile"]].tolist() == ["Bouquinbus", True]
    assert not by_id.loc["culture_bibliotheques_2020:11990", "mobile"]  # « Mairie Dépôt Bibliobus »


# --------------------------------------------------------------------------------------------
# bad input


@needs_raw
def test_truncated_json(tmp_path):
    src = (PLACES_DIR / "hinaura_lieux_mediation_numerique_aura_raw.json").read_bytes()
    bad = tmp_path / "hinaura.json"
    bad.write_bytes(src[:5000])
    with pytest.raises(LoaderError, match=r"hinaura\.json.*truncated JSON"):
        P.load_hinaura(path=bad)


def test_json_records_missing_keys(tmp_path):
    bad = tmp_path / "di.json"
    bad.write_text(json.dumps([{"id": "1", "code_postal": "38000", "adresse": "x", "services": "", "date_maj": "2023-01-01"}]), encoding="utf-8")
    with pytest.raises(LoaderError) as err:
        P.load_data_inclusion(path=bad)
    assert "di.json" in str(err.value) and "['nom']" in str(err.value) and "date_maj" in err.value.expected
    not_list = tmp_path / "cnfs.json"
    not_list.write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(LoaderError, match="not a JSON list"):
        P.load_cnfs_places(path=not_list)


@needs_raw
def test_csv_wrong_separator(tmp_path):
    with open(PLACES_DIR / "anct_france_services_liste-fs-20240801.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[:20]
    bad = tmp_path / "fs_semicolon.csv"
    with open(bad, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)
    with pytest.raises(LoaderError) as err:
        P.load_france_services(path=bad)
    assert "fs_semicolon.csv" in str(err.value) and "';'" in str(err.value)
    assert "id_fs" in err.value.expected and "h_lundi" in err.value.expected


@needs_raw
def test_csv_missing_columns(tmp_path):
    fs_csv = pd.read_csv(PLACES_DIR / "anct_france_services_liste-fs-20240801.csv", dtype=str, nrows=10)
    bad = tmp_path / "fs_old.csv"
    fs_csv.drop(columns=["h_lundi", "insee_com"]).to_csv(bad, index=False)
    with pytest.raises(LoaderError) as err:
        P.load_france_services(path=bad)
    assert "fs_old.csv" in str(err.value) and "h_lundi" in str(err.value) and "insee_com" in str(err.value)
    s = tmp_path / "structures.csv"
    s.write_text("Raison sociale;SIRET\nA;12345678901234\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="Nombre de conseillers"):
        P.load_cnfs_structures(path=s)
    empty = tmp_path / "aidants.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(LoaderError, match="empty"):
        P.load_aidants_connect(path=empty)


# --------------------------------------------------------------------------------------------
# download (no network: loaders.download.fetch is replaced)

NATIONAL_CSV = (
    "id,pivot,nom,commune,code_postal,code_insee,adresse,latitude,longitude,typologie,services,horaires,date_maj,source\n"
    'a1,21380185500015,Médiathèque Kateb Yacine,Grenoble,38100,38185,202 Grand Place,45.1614,5.7362,BIB,'
    '"Aide aux démarches administratives|Maîtrise des outils numériques du quotidien",'
    '"Tu-Sa 10:00-18:00",2024-05-02,Ville de Grenoble\n'
)


def test_download_uses_fetch_and_parses(tmp_path, monkeypatch):
    calls = []

    def fake_fetch(url, name, **kwargs):
        calls.append((url, name))
        path = tmp_path / name
        path.write_text(NATIONAL_CSV, encoding="utf-8")
        return path

    monkeypatch.setattr(loaders.download, "fetch", fake_fetch)
    path = P.download("data_inclusion")
    assert calls == [(P.SOURCES["data_inclusion"].url, "lieux-de-mediation-numerique-national.csv")]
    d = P.load_data_inclusion(path=path)
    row = d.iloc[0]
    assert (row["type"], row["services"], row["code_commune"], row["siret"]) == ("mediatheque", "demarches;competences_base", "38185", "21380185500015")
    assert oh.weekly_hours(oh.from_json(row["hours_json"])) == 40.0


def test_download_errors(monkeypatch):
    def failing_fetch(url, name, **kwargs):
        raise DownloadError(url, "download failed and no cached copy exists", "a reachable official URL")

    monkeypatch.setattr(loaders.download, "fetch", failing_fetch)
    with pytest.raises(DownloadError):
        P.download("data_inclusion")
    with pytest.raises(LoaderError, match="no official download URL"):
        P.download("france_services")
    with pytest.raises(LoaderError, match="unknown places source"):
        P.download("nope")


def test_sources_declared():
    assert set(P.SOURCES) == set(P.LOADERS)
    for key, src in P.SOURCES.items():
        assert src.key == key and src.raw_path.startswith("places/")
        assert src.url is None or src.url.startswith("https://")


# --------------------------------------------------------------------------------------------
# files cut short (issue #14): refused with the file and the line, never read as partial data


@needs_raw
@pytest.mark.parametrize("key, rows_before_cut", [("aidants_connect", 2591), ("cnfs_structures", 1447)])
def test_real_export_cut_mid_row_is_refused(tmp_path, key, rows_before_cut):
    """Cut at half its bytes, the file used to load as 2 592 (1 448) rows, keeping the cut row
    (a SIRET « 2000 »…); now the cut row is named with its line."""
    data = (RAW_DIR / P.SOURCES[key].raw_path).read_bytes()
    cut = tmp_path / f"{key}.csv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoaderError, match=rf"{key}\.csv: data row {rows_before_cut + 1} \(line \d+\) has \d+ fields instead of \d+"):
        P.LOADERS[key](path=cut)


@needs_raw
def test_declared_row_counts_match_the_raw_files():
    for key in ("aidants_connect", "cnfs_structures"):
        assert len(P.LOADERS[key](RAW_DIR)) == P.SOURCES[key].rows
        P.SOURCES[key].verify(RAW_DIR)
