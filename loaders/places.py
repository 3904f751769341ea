"""Reception points for digital inclusion: the published lists → one table of places.

Sources (see ``shared/data/SOURCES-connectivity-places.md`` §2 and :data:`SOURCES`):

==============================  ==================================================  ==============
key                             file                                                geometry
==============================  ==================================================  ==============
``france_services``             ANCT list of France Services (Aug 2024)             lat/lon
``hinaura``                     Hinaura hub export, AURA (2021–22)                  lat/lon
``data_inclusion``              data·inclusion extract, national schema (Feb 2023)  lat/lon (most)
``cnfs_places``                 Conseillers numériques: places of activity (2022)   lat/lon
``cnfs_structures``             Conseillers numériques: host structures, posts      none (SIRET)
``aidants_connect``             Aidants Connect habilitated structures (2024)       none (SIRET)
``cnfs_activity``               Conseillers numériques activity by postcode         postcode
``culture_bibliotheques_2020``  public libraries, Ministère de la Culture (2020)    lat/lon
==============================  ==================================================  ==============

Each ``load_*`` function parses one file as published and returns the standard columns
(:data:`STANDARD_COLUMNS`) where the source has them, plus a few source-specific ones.
:func:`unify_places` assembles the ``places.parquet`` table of ``geodata/SCHEMA.md``: region
filter, commune codes, type and service normalisation, deduplication across sources (see
:func:`dedupe_places`), staff from the structures list joined by SIRET. Places without coordinates
are never silently dropped: :func:`build_places` returns them in ``unlocated`` with a reason, and
the counts per source before and after deduplication in ``counts``.

Public libraries are not reception points: they enter the table after the reception points are
deduplicated, each one either merged into the reception point it also is (:func:`match_libraries`)
or added as a place of type ``bibliotheque`` with ``offers_digital_help`` False. France Services
buses and other itinerant services are flagged ``mobile`` (:func:`mobile_flags`): their point is
the carrier structure or one stop, not a fixed reception point.

Personal data: only structure fields are read; free-text fields (comments, presentations) are not
kept, and e-mail addresses that look nominative (``prenom.nom@…``, any ``@conseiller-numerique.fr``
adviser address) are dropped (:func:`public_email`).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from loaders import RAW_DIR
from loaders import download as dl
from loaders import opening_hours as oh
from loaders.errors import LoaderError
from loaders.sources import Source
from loaders.tabular import check_unparsed, commune_code, nan_if_empty, read_csv, read_json, read_text, to_number

log = logging.getLogger(__name__)

L93, WGS84 = "EPSG:2154", "EPSG:4326"
AURA_DEPARTEMENTS = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")
FRANCE_SERVICES_LIST_DATE = "2024-08-01"  # publication date of the ANCT list (no per-row date)

# --------------------------------------------------------------------------------------------
# provenance

SOURCES: dict[str, Source] = {
    "france_services": Source(
        key="france_services",
        title="Liste des structures France services",
        producer="ANCT",
        vintage="1er août 2024",
        raw_path="places/anct_france_services_liste-fs-20240801.csv",
        sha256="6eabcb0792c8681af513e65560a7dea08e15d3e72b070a14ca1fed032164efad",
        licence="Licence Ouverte 2.0 (Etalab)",
        url=None,
        page="https://www.data.gouv.fr/fr/datasets/liste-des-structures-france-services/",
        notes="Entered by France services agents. Bus rows carry the address of the carrier structure, not the stops.",
    ),
    "hinaura": Source(
        key="hinaura",
        title="Lieux de médiation numérique en Auvergne-Rhône-Alpes collectés par le hub Hinaura",
        producer="Hinaura (Hub Inclusion Numérique Auvergne-Rhône-Alpes)",
        vintage="2021–2022 (export du 4 janvier 2023)",
        raw_path="places/hinaura_lieux_mediation_numerique_aura_raw.json",
        sha256="f5b2bebbc4b3e95a9af3a03935523f9177cff2ee7443f6a3f724c4c1fab36d40",
        licence="ODbL (contributions) ; métadonnées : Licence Ouverte 2.0",
        url=None,
        page="https://carto.hinaura.fr",
        notes="Raw hub export (French field names, not the national schema). Referent-person field removed upstream.",
    ),
    "data_inclusion": Source(
        key="data_inclusion",
        title="Lieux de médiation numérique (schéma national) — extrait data·inclusion",
        producer="data·inclusion (GIP Plateforme de l'inclusion) / ANCT",
        vintage="février 2023",
        raw_path="places/data_inclusion_lieux_mediation_numerique_2023-02.json",
        sha256="bc9743e96769bdf22221691eda65ce43b88914abea1982d8b7f07e9b88d7ed13",
        licence="Licence Ouverte 2.0",
        url="https://www.data.gouv.fr/api/1/datasets/r/398edc71-0d51-4cb6-9cbe-2540a4db573c",
        page="https://www.data.gouv.fr/fr/organizations/cartographie-nationale-des-lieux-de-mediation-numerique/",
        notes="The download is the current national export of the same schema (CSV); the raw file is the Feb 2023 extract (JSON). "
        "Overlaps the Hinaura and CnFS sources (kept as separate keys, merged by the deduplication).",
    ),
    "cnfs_places": Source(
        key="cnfs_places",
        title="Conseillers numériques France Services — lieux d'activité",
        producer="ANCT (programme Conseiller numérique France Services)",
        vintage="juillet 2022",
        raw_path="places/cnfs_lieux_mediation_numerique_2022-07.json",
        sha256="04abdd6d56764e5ece6d065f4f24a07346a1f53b16176cdd8e18d9ec3a40b355",
        licence="Licence Ouverte 2.0",
        url=None,
        page="https://carte.conseiller-numerique.gouv.fr",
    ),
    "cnfs_structures": Source(
        key="cnfs_structures",
        title="Conseillers numériques France Services — structures d'accueil et postes validés",
        producer="ANCT",
        vintage="5 avril 2023",
        raw_path="places/cnfs_structures_20230405.csv",
        sha256="ae8a622fe919df4f6847912020a506f09c3f5000f96a84bec6d90a478a98865b",
        rows=2889,
        licence="Licence Ouverte (publication ANCT sur data.gouv.fr)",
        url=None,
        notes="No coordinates: joined to places by SIRET (posts = staff).",
    ),
    "aidants_connect": Source(
        key="aidants_connect",
        title="Aidants Connect — structures habilitées et activité",
        producer="ANCT / beta.gouv (export Metabase)",
        vintage="12 février 2024",
        raw_path="places/aidants_connect_structures_20240212.csv",
        sha256="260f1acd4a67161cdd214b124bf2b8a0c83f6f67bbb38dc3c6124b6386a4fa2f",
        rows=5227,
        licence="non précisée (export semi-officiel)",
        url=None,
        notes="No coordinates: joined to places by SIRET. Not a documented open-data release.",
    ),
    "cnfs_activity": Source(
        key="cnfs_activity",
        title="Conseillers numériques — comptes rendus d'activité par code postal",
        producer="ANCT (export tableau de bord)",
        vintage="17 juillet 2023 (cumul depuis le début du programme)",
        raw_path="places/cnfs_cra_par_code_postal_2023-07-17.csv",
        sha256="99b753ca762f5eb9487b937ec91213ec932fa74d0cb42dde43ec4990db037d1a",
        licence="non précisée",
        url=None,
        notes="Counts of accompanied people by postcode of the activity: observed demand, not supply.",
    ),
    "culture_bibliotheques_2020": Source(
        key="culture_bibliotheques_2020",
        title="Adresses des bibliothèques publiques",
        producer="Ministère de la Culture (Observatoire de la lecture publique)",
        vintage="2020",
        raw_path="places/culture_bibliotheques_publiques_2020.csv",
        sha256="bbfaad62aa7feca0bd4446fd8b37b05b34ddab708169e8c599b35883950d8c16",
        licence="Licence Ouverte / Etalab 2.0",
        url=None,
        page="https://data.culture.gouv.fr/explore/dataset/adresses-des-bibliotheques-publiques/",
        notes="Copied from dataforgoodfr/batch8_mednum (data/raw/adresses-des-bibliotheques-publiques.csv, "
        "commit 495e963136babdb0246e4680763e46512b794684), content unchanged. Also published on data.gouv.fr "
        "(« Adresses des bibliothèques publiques »); the current export is a later survey with other columns, "
        "so no download URL is parsed here. Administrative addresses are not places and are dropped.",
    ),
}
#: cache file names for downloads whose format differs from the raw file
DOWNLOAD_NAMES = {"data_inclusion": "lieux-de-mediation-numerique-national.csv"}
#: source key of the public libraries (not reception points: matched to them after deduplication)
LIBRARY_KEY = "culture_bibliotheques_2020"
#: order in which sources give a merged place its id, name, address and coordinates; the libraries
#: come last: a library merged with a reception point keeps the reception point's data
SOURCE_PRIORITY = ("france_services", "hinaura", "data_inclusion", "cnfs_places", LIBRARY_KEY)

#: ``mediatheque`` is a library or médiathèque listed as a reception point; ``bibliotheque`` is a public
#: library of the Ministère de la Culture list that matches no reception point (free internet access).
#: The types after ``france_travail`` (issue #15) name kinds of structures that the lists describe
#: without a type of their own: ``services_publics`` (MSAP, La Poste, a France Services claim the
#: ANCT list does not confirm, préfecture, MSA…), ``pimms`` (points d'information médiation
#: multi-services), ``information_jeunesse`` (PIJ, BIJ), ``emploi_insertion`` (maisons de l'emploi,
#: structures d'insertion, organismes de formation), ``departement`` (maisons du Département, des
#: solidarités, pôles médico-sociaux; the Maisons de la Métropole de Lyon, which holds the
#: département's powers), ``intercommunalite`` (communautés de communes, d'agglomération,
#: métropoles) and ``entreprise`` (a private company, as the Hinaura record says).
TYPES = (
    "france_services",
    "mediatheque",
    "bibliotheque",
    "ccas",
    "centre_social",
    "epn_tiers_lieu",
    "association",
    "mairie",
    "mission_locale",
    "caf",
    "france_travail",
    "services_publics",
    "pimms",
    "information_jeunesse",
    "emploi_insertion",
    "departement",
    "intercommunalite",
    "entreprise",
    "autre",
)
#: types that say what kind of operator runs a place rather than which reception point it is: two
#: places of one of these types 50 m apart are not merged for that reason alone (rule 7 of
#: :func:`dedupe_places`)
OPERATOR_TYPES = frozenset({"autre", "association", "services_publics", "pimms", "information_jeunesse", "emploi_insertion",
                            "departement", "intercommunalite", "entreprise"})
SERVICE_CATEGORIES = ("demarches", "competences_base", "equipement", "autres")

STANDARD_COLUMNS = [
    "source",
    "source_id",
    "name",
    "type",
    "type_raw",
    "services",
    "address",
    "postcode",
    "code_commune",
    "commune_name",
    "lon",
    "lat",
    "hours_json",
    "siret",
    "email",
    "phone",
    "website",
    "updated",
]
PLACE_COLUMNS = [
    "place_id",
    "name",
    "type",
    "type_raw",
    "services",
    "address",
    "postcode",
    "code_commune",
    "lon",
    "lat",
    "x",
    "y",
    "hours_json",
    "weekly_hours",
    "open_evening",
    "open_saturday",
    "staff",
    "offers_digital_help",
    "siret",
    "email",
    "phone",
    "website",
    "sources",
    "updated",
    "mobile",
    "format_raw",
]

# --------------------------------------------------------------------------------------------
# type normalisation

#: Hinaura ``Type de lieu`` values → type (a record may list several; see :data:`TYPE_PRECEDENCE`).
HINAURA_TYPES = {
    "Maison France Services": "france_services",
    "Médiathèque": "mediatheque",
    "Centre socio-culturel": "centre_social",
    "CCAS": "ccas",
    "Espace Public Numérique": "epn_tiers_lieu",
    "Cyberbase / Cybercentre": "epn_tiers_lieu",
    "Tiers-Lieux": "epn_tiers_lieu",
    "Espace de coworking": "epn_tiers_lieu",
    "Fablab / Hackerspace": "epn_tiers_lieu",
    "Structure associative de quartier": "association",
    "Association caritative": "association",
    "Ressourcerie (matériel moindre coût / recyclé)": "association",
    "Maison de Services au Public": "services_publics",  # MSAP: predecessor label, not France Services unless the ANCT list says so
    "BIJ/PIJ (Information Jeunesse)": "information_jeunesse",
    "Promeneurs du net": "autre",
    "Autres": "autre",
}
#: Hinaura ``Type d'opérateur`` → type, used only when neither the place's types nor its name say
#: more, and only when the record gives one kind of operator (see :func:`resolve_type`'s ``fallback``).
HINAURA_OPERATOR_TYPES = {
    "Privé à but non lucratif (association, ONG...)": "association",
    "Privé à but lucratif (entreprises, auto-entrepreneurs, SCOP, SCIC...)": "entreprise",
}
#: data·inclusion ``typologie`` codes (structure typology of the national schema: the référentiel
#: « typologies de structures » of data·inclusion) → type; others → autre.
DATA_INCLUSION_TYPES = {
    "RFS": "france_services",
    "BIB": "mediatheque",
    "CCAS": "ccas",
    "CIAS": "ccas",
    "CS": "centre_social",
    "CSC": "centre_social",
    "EVS": "centre_social",
    "MQ": "centre_social",
    "EPN": "epn_tiers_lieu",
    "EPI": "epn_tiers_lieu",
    "ENM": "epn_tiers_lieu",
    "FABLAB": "epn_tiers_lieu",
    "TIERS_LIEUX": "epn_tiers_lieu",
    "ASSO": "association",
    "ASSO_CHOMEUR": "association",
    "MJC": "association",
    "UDAF": "association",
    "CIDFF": "association",
    "RESSOURCERIE": "association",
    "MUNI": "mairie",
    "ML": "mission_locale",
    "CAF": "caf",
    "PE": "france_travail",
    "FT": "france_travail",
    "MSAP": "services_publics",
    "LA_POSTE": "services_publics",
    "PREF": "services_publics",
    "CFP": "services_publics",
    "CPAM": "services_publics",
    "MSA": "services_publics",
    "PAD": "services_publics",
    "PIMMS": "pimms",
    "PIJ_BIJ": "information_jeunesse",
    **dict.fromkeys(("ACI", "ACIPHC", "AFPA", "AI", "CAP_EMPLOI", "CITMET", "E2C", "EA", "EATT", "EI", "EITI", "EPIDE", "ETTI",
                     "GEIQ", "MDE", "MDEF", "OF", "OPCS", "PLIE"), "emploi_insertion"),
    **dict.fromkeys(("CD", "DEPT", "MDS", "CDAS", "CMS", "MDPH"), "departement"),
    "CC": "intercommunalite",
    "EPCI": "intercommunalite",
}
#: name patterns (on lower-case, accent-free names) → type, tried in this order: what a place is
#: (a CCAS, a PIJ, an EPN…) before who runs it (a département, an intercommunalité, a commune).
NAME_TYPE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("france_services", r"\bfrance services?\b"),
    ("france_travail", r"\bpole emploi\b|\bfrance travail\b"),
    ("caf", r"\bcaf\b|caisse d allocations familiales"),
    ("mission_locale", r"\bmission locale\b"),
    ("ccas", r"\bccas\b|\bcias\b|\bc(en)?tre (inter)?com(munal)? d? ?action sociale"),
    ("centre_social", r"\bcen?t?re social\b|\bcentres? sociaux\b|\bcentre socio|socio ?culturel|\bespace de vie sociale\b|\bevs\b"
                      r"|\bmaison de quartier\b|\bmaisons? (des|de l) habitants?\b|\bmdh\b|\bmaison pour tous\b"),
    ("mediatheque", r"mediatheque|bibliotheque|\bmedia ?theque\b"),
    ("mairie", r"\bmairie\b|\bhotel de ville\b|^(ville|commune) d"),
    ("epn_tiers_lieu", r"\bepn\b|espace public n+umerique|\bcyber ?(base|centre|espace)|\btiers ?lieux?\b|\bfab ?lab\b|\bcowork"
                       r"|\bhackerspace\b|\bespace (public )?multimedia\b|\bespace n+umerique\b|\bl b numerique\b"
                       r"|\bpoint (de|d) (mediation|information) numerique\b"),
    ("pimms", r"\bpimms?\b|point (d )?information mediation"),
    ("services_publics", r"\bmsap\b|maisons? (de|des) services? (au|aux) publics?|\bmaison des services publics\b"
                         r"|relais (de )?services publics|\bla poste\b|agence postale|bureau de poste|\b(sous )?prefecture\b"
                         r"|mutualite sociale agricole|\bmsa\b|\bcpam\b|point d acces au droit|finances publiques"),
    ("information_jeunesse", r"\b(pij|bij|biij)\b|\binformation jeunesse\b|\binfos? jeunes(se)?\b|\bpoint info jeunes\b"),
    ("emploi_insertion", r"\bemploi\b|\binsertion\b|\bplie\b|cite des metiers|\bafpa\b|\bformations?\b|\bmeef\b|\bgeiq\b"
                         r"|ecole de la (2e|deuxieme) chance"),
    ("association", r"^association\b|^asso\b|\bassociation\b|^ass\b|^assoc\b|\bmjc\b|\budaf\b|union departementale des associations"
                    r"|\bcroix rouge\b|\bsecours (catholique|populaire)\b|\brestos du coeur\b|\bfamilles rurales\b|\badmr\b"
                    r"|ligue de l enseignement|\b(federation des )?oeuvres laiques\b|\batd quart monde\b|\bcidff\b"
                    r"|\brepair cafe\b|\baccorderie\b|\bemmaus\b|\bmaison des associations\b|\bvie associative\b"),
    ("departement", r"\bmaison du departement\b|\bmaisons? (des|de la) solidarites?\b|solidarite departementale|\bpms\b"
                    r"|\bpole medico social\b|\b(centre|relais) medico social\b|\bsls\b|\bconseil departemental\b"
                    r"|^departement (de|du|d)\b|\bmaison du rhone\b|\bmaisons? de la metropole\b|\bmdm\b|\bmaison loire autonomie\b"
                    r"|\bmaison departementale\b|\bmds\b|\bcdas\b|\bmdph\b"),
    ("intercommunalite", r"\bcommunaute (de |d )?(communes?|com|agglomeration)\b|\bcommunaute$|^(cc|ca|cte) |\bagglo(meration)?\b"
                         r"|\bmetropole\b|\bintercommunal"),
    ("mairie", r"\bville d"),
)
#: when a source lists several types, the most specific reception-point type wins, in this order.
TYPE_PRECEDENCE = (
    "france_services",
    "france_travail",
    "caf",
    "mission_locale",
    "ccas",
    "centre_social",
    "mediatheque",
    "bibliotheque",
    "mairie",
    "epn_tiers_lieu",
    "pimms",
    "services_publics",
    "information_jeunesse",
    "emploi_insertion",
    "departement",
    "intercommunalite",
    "association",
    "entreprise",
    "autre",
)

# --------------------------------------------------------------------------------------------
# service normalisation

#: Service labels → category. National "lieux de médiation numérique" schema labels (the 9 services of
#: 2022 and the later additions, then the 2024 v1 labels), CnFS labels, and Hinaura hub items.
#: ``demarches`` = help with online procedures, ``competences_base`` = basic digital skills,
#: ``equipement`` = equipment and connection, ``autres`` = the rest (culture, citizenship, jobs…).
SERVICE_MAP: dict[str, str] = {
    # national schema (data·inclusion 2023, CnFS 2022)
    "Devenir autonome dans les démarches administratives": "demarches",
    "Réaliser des démarches administratives avec un accompagnement": "demarches",
    "Accompagner les démarches de santé": "demarches",
    "Prendre en main un smartphone ou une tablette": "competences_base",
    "Prendre en main un ordinateur": "competences_base",
    "Utiliser le numérique au quotidien": "competences_base",
    "Accéder à une connexion internet": "equipement",
    "Accéder à du matériel": "equipement",
    "S'équiper en matériel informatique": "equipement",
    "Approfondir ma culture numérique": "autres",
    "Favoriser mon insertion professionnelle": "autres",
    "Promouvoir la citoyenneté numérique": "autres",
    "Créer et développer mon entreprise": "autres",
    "Créer avec le numérique": "autres",
    "Soutenir la parentalité et l'éducation avec le numérique": "autres",
    # national schema v1 (2024 exports)
    "Aide aux démarches administratives": "demarches",
    "Maîtrise des outils numériques du quotidien": "competences_base",
    "Accès internet et matériel informatique": "equipement",
    "Acquisition de matériel informatique à prix solidaire": "equipement",
    "Insertion professionnelle via le numérique": "autres",
    "Utilisation sécurisée du numérique": "autres",
    "Parentalité et éducation avec le numérique": "autres",
    "Loisirs et créations numériques": "autres",
    "Compréhension et utilisation des sites d'accès aux droits": "demarches",
    "Culture numérique": "autres",
    # Hinaura "Types d'accompagnement proposés" (modalities are not services: not listed → ignored)
    "Faire à la place de / habilité Aidants Connect": "demarches",
    "Impression": "equipement",
    "Accès libre avec un accompagnement": "equipement",
    "Achat équipement à bas coût": "equipement",
    "Atelier de réparation de matériel informatique": "equipement",
    # Hinaura "À disposition"
    "Accès libre à du matériel informatique": "equipement",
    "Réseau Wifi": "equipement",
    "Imprimante (service gratuit)": "equipement",
    "Imprimante (service payant)": "equipement",
}
#: Hinaura service fields → category of any item not in SERVICE_MAP (None: unlisted items ignored).
HINAURA_SERVICE_FIELDS: dict[str, str | None] = {
    "Accompagnements proposés aux démarches en ligne": "demarches",
    "Comprendre et Utiliser les sites d’accès aux droits proposées": "demarches",
    "Formations compétences de base proposées": "competences_base",
    "À disposition": "equipement",
    "Types d'accompagnement proposés": None,
    "Sensibilisations culture numérique": "autres",
}
#: France Services label charter: help with the online procedures of the partner operators and free
#: access to a computer with internet.
FRANCE_SERVICES_SERVICES = "demarches;equipement"

# --------------------------------------------------------------------------------------------
# small text helpers

_STOP_WORDS = frozenset(
    "le la les l de du des d et a au aux en sur sous pour par un une the of".split()
)


def fold(text: object) -> str:
    """Lower case, accents removed, every non-alphanumeric run replaced by one space."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return ""
    t = unicodedata.normalize("NFKD", str(text))
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    return re.sub(r"[^0-9a-z]+", " ", t).strip()


def name_tokens(name: object) -> frozenset[str]:
    """Normalised name as a set of words: lower case, no accents, no punctuation, no stop words."""
    return frozenset(w for w in fold(name).split() if w not in _STOP_WORDS)


def normalise_name(name: object) -> str:
    """Normalised name as a string (sorted words), used to test "same name"."""
    return " ".join(sorted(name_tokens(name)))


def name_similarity(a: object, b: object) -> float:
    """Similarity of two names in [0, 1]: the larger of the word containment
    ``|A ∩ B| / min(|A|, |B|)`` and the character ratio of :class:`difflib.SequenceMatcher`."""
    ta, tb = name_tokens(a), name_tokens(b)
    if not ta or not tb:
        return 0.0
    containment = len(ta & tb) / min(len(ta), len(tb))
    ratio = SequenceMatcher(None, " ".join(sorted(ta)), " ".join(sorted(tb))).ratio()
    return max(containment, ratio)


def _split_hub_list(value: object) -> list[str]:
    """Items of a Hinaura multi-value field.

    The hub stores lists as CSV fields whose outer quotes were lost, e.g.
    ``Espace Public Numérique","Maison France Services`` or ``Gratuit,"Agrée Pass Numérique``:
    the value is re-read as one CSV line with the missing quote(s) restored.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    s = str(value).strip()
    if not s:
        return []
    for candidate in (s, '"' + s, s + '"', '"' + s + '"'):
        try:
            rows = list(csv.reader(io.StringIO(candidate), strict=True))
        except csv.Error:
            continue
        if len(rows) == 1 and all('"' not in item for item in rows[0]):
            return [item.strip() for item in rows[0] if item.strip()]
    return [item.strip(' "') for item in s.split('","') if item.strip(' "')]


def type_from_name(name: object, skip: Iterable[str] = ()) -> str | None:
    """Type guessed from a structure name (:data:`NAME_TYPE_PATTERNS`, except ``skip``), or None."""
    # "Conseiller numérique France Services" names the adviser programme, not the France Services label
    n = re.sub(r"\bconseill\w* numeriques?( france services?)?\b|\bcnfs\b", " ", fold(name))
    for type_, pattern in NAME_TYPE_PATTERNS:
        if type_ not in skip and re.search(pattern, n):
            return type_
    return None


def resolve_type(candidates: Iterable[str | None], name: object, *, without_france_services: bool = False,
                 fallback: Iterable[str | None] = ()) -> str:
    """One type for a place, from the most to the least direct evidence:

    1. the source's own type values (most specific first, :data:`TYPE_PRECEDENCE`);
    2. the name (:func:`type_from_name`);
    3. with ``without_france_services`` (the type the place has if its France Services claim is
       not confirmed by the ANCT list): a place that claims the label, by its type or its name,
       is a ``services_publics`` reception point;
    4. ``fallback``: weaker evidence about the operator (Hinaura ``Type d'opérateur``: association
       or company; the host structure's name), most specific first;
    5. ``autre``.
    """
    skip = {"autre", "france_services"} if without_france_services else {"autre"}
    found = {c for c in candidates if c}
    for t in TYPE_PRECEDENCE:
        if t in found and t not in skip:
            return t
    by_name = type_from_name(name, skip=skip)
    if by_name:
        return by_name
    if without_france_services and ("france_services" in found or type_from_name(name) == "france_services"):
        return "services_publics"
    weak = {c for c in fallback if c}
    return next((t for t in TYPE_PRECEDENCE if t in weak and t not in skip), "autre")


def services_string(categories: Iterable[str | None]) -> str | None:
    """``;``-joined categories in the canonical order, or None if there are none (unknown)."""
    found = {c for c in categories if c}
    return ";".join(c for c in SERVICE_CATEGORIES if c in found) or None


def map_services(labels: Iterable[str]) -> str | None:
    """Categories of a list of service labels (unknown labels → ``autres``)."""
    cats = []
    for label in labels:
        label = label.strip()
        if label:
            cats.append(SERVICE_MAP.get(label, "autres"))
    return services_string(cats)


_GENERIC_EMAIL_PARTS = frozenset(
    "fs mfs msap psp csi cc cdc cs ccas cias pij bij mjc epn rsa caf pe ml si ot mds".split()
)
_GENERIC_EMAIL_STEMS = (
    "service", "france", "mairie", "contact", "accueil", "numeri", "mediat", "biblio", "cyber", "social",
    "centre", "asso", "ville", "agglo", "commun", "direction", "secretar", "info", "pimms", "emploi",
    "jeune", "maison", "espace", "relais", "poste", "aidant", "inclusion", "solidar", "conseil", "admin",
    "insertion", "accompagn", "permanence", "atelier", "public", "usager", "citoyen", "quartier", "familles",
)


def public_email(email: object, context: object = "") -> str | None:
    """The e-mail if it is a structure address, None if missing or nominative.

    Nominative = any ``@conseiller-numerique.fr`` address (personal adviser mailboxes), or a local
    part made of exactly two alphabetic words (``prenom.nom``, ``p.nom``, ``prenom_nom``) none of
    which is a generic word (france, services, mairie, contact, ccas…) or a word of the place's
    name / commune / address given in ``context``. A heuristic that errs on the side of dropping.
    """
    if email is None or (isinstance(email, float) and np.isnan(email)) or email is pd.NA:
        return None
    e = str(email).strip().strip(";,").lower()
    if "@" not in e or " " in e:
        return None
    local, domain = e.rsplit("@", 1)
    if domain == "conseiller-numerique.fr":
        return None
    parts = re.split(r"[._]", local)
    if len(parts) == 2 and all(re.fullmatch(r"[a-z][a-z-]*", p) for p in parts):
        known = set(fold(context).split())
        generic = any(
            p in _GENERIC_EMAIL_PARTS or p in known or any(stem in p for stem in _GENERIC_EMAIL_STEMS) for p in parts
        )
        if not generic:
            return None
    return e


def _website(value: object) -> str | None:
    s = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
    host = re.sub(r"^https?://", "", s, flags=re.I)
    return s if "." in host and " " not in s else None


def _siret(values: pd.Series) -> pd.Series:
    """SIRET as 14-digit strings (``13002603200016.0`` → ``13002603200016``); anything else → NA."""
    s = values.astype("string").str.strip().str.replace(r"\.0+$", "", regex=True).str.replace(" ", "", regex=False)
    s = s.where(~s.str.fullmatch(r"\d{13}").fillna(False), s.str.zfill(14))
    return s.where(s.str.fullmatch(r"\d{14}").fillna(False), pd.NA)


def _postcode(values: pd.Series) -> pd.Series:
    """Postcodes as 5-character strings (``1200`` → ``01200``, ``30252Cedex`` → ``30252``); else NA."""
    s = values.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    s = s.where(~s.str.fullmatch(r"\d{4}").fillna(False), s.str.zfill(5))
    s = s.where(~s.str.match(r"\d{5}\D").fillna(False), s.str[:5])
    return s.where(s.str.fullmatch(r"\d{5}").fillna(False), pd.NA)


def _coords(lon: pd.Series, lat: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Float WGS84 coordinates; out-of-range or (0, 0) → NaN."""
    x, _ = to_number(lon.astype("string"))
    y, _ = to_number(lat.astype("string"))
    bad = x.isna() | y.isna() | (x.abs() > 180) | (y.abs() > 90) | ((x == 0) & (y == 0))
    return x.mask(bad), y.mask(bad)


def _iso_date(values: pd.Series, dayfirst: bool = False) -> pd.Series:
    d = pd.to_datetime(values.astype("string"), errors="coerce", dayfirst=dayfirst, format="mixed")
    return d.dt.strftime("%Y-%m-%d").astype("string")


def _path(raw_dir: Path | str | None, path: Path | str | None, key: str) -> Path:
    return Path(path) if path is not None else Path(raw_dir if raw_dir is not None else RAW_DIR) / SOURCES[key].raw_path


def _records(path: Path, required: Sequence[str]) -> list[dict]:
    """A JSON list of objects, each holding the ``required`` keys (else LoaderError naming them)."""
    data = read_json(path)
    if isinstance(data, dict):
        for k in ("data", "records", "lieux"):
            if isinstance(data.get(k), list):
                data = data[k]
                break
    if not isinstance(data, list) or not data or not all(isinstance(r, dict) for r in data):
        raise LoaderError(path, "not a JSON list of records", f"a list of objects with keys {', '.join(required)}")
    for i, rec in enumerate(data):
        missing = [k for k in required if k not in rec]
        if missing:
            raise LoaderError(path, f"record {i} lacks keys {missing}", f"every record with keys {', '.join(required)}")
    return data


def _record_line(path: Path, sep: str, record: int) -> int:
    """Physical line (1-based) on which data record ``record`` (0-based) of a CSV ends."""
    text, _ = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    for i, _row in enumerate(reader):
        if i == record + 1:  # record 0 follows the header
            return reader.line_num
    return reader.line_num


def _check_complete(path: Path, raw: pd.DataFrame, key: str, sep: str, *, declared: bool) -> None:
    """Refuse a CSV export cut short, naming the file and the line.

    - a row with fewer fields than the header (the file cut inside a row: pandas fills the
      missing cells with NaN, and every published cell is a string, so NaN only means missing);
    - a last line without its line break (the file cut inside the last field: the field count is
      right but the value is not);
    - for the declared raw file (``declared``), a number of data rows other than
      ``SOURCES[key].rows`` (the file cut on a line boundary).
    """
    short = raw.isna().any(axis=1).to_numpy()
    if short.any():
        i = int(np.flatnonzero(short)[0])
        n = int(raw.iloc[i].notna().sum())
        raise LoaderError(path, f"data row {i + 1} (line {_record_line(path, sep, i)}) has {n} fields instead of "
                          f"{raw.shape[1]}: the file is cut or damaged", f"every row with the header's {raw.shape[1]} fields")
    with open(path, "rb") as fh:
        fh.seek(-1, 2)  # read_csv has checked that the file is not empty
        if fh.read(1) not in (b"\n", b"\r"):
            raise LoaderError(path, f"the last line (line {_record_line(path, sep, len(raw) - 1)}, data row {len(raw)}) "
                              "has no line break: the file is cut", "a complete export ending with a line break")
    expected = SOURCES[key].rows
    if declared and expected is not None and len(raw) != expected:
        raise LoaderError(path, f"{len(raw)} data rows instead of the {expected} of {key} ({SOURCES[key].vintage})",
                          f"the complete file ({expected} rows, SOURCES[{key!r}].rows)")


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    """Standard columns first, as nullable strings / floats."""
    for c in STANDARD_COLUMNS:
        if c not in df:
            df[c] = pd.NA
    str_cols = [c for c in STANDARD_COLUMNS if c not in ("lon", "lat")]
    for c in str_cols:
        df[c] = df[c].astype("string")
    df["lon"] = df["lon"].astype(float)
    df["lat"] = df["lat"].astype(float)
    extra = [c for c in df.columns if c not in STANDARD_COLUMNS]
    return df[STANDARD_COLUMNS + extra].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# loaders

FRANCE_SERVICES_COLUMNS = (
    "id_fs", "insee_dep", "lib_fs", "adresse", "complement_adresse", "insee_com", "code_postal", "lib_com",
    "latitude", "longitude", "mail", "telephone", "h_lundi", "h_mardi", "h_mercredi", "h_jeudi", "h_vendredi",
    "h_samedi", "type_fs", "format_fs",
)


def load_france_services(raw_dir: Path | str | None = None, path: Path | str | None = None) -> pd.DataFrame:
    """ANCT France Services list (``,``-separated, quoted fields with line breaks).

    One row per site: type ``france_services``, services ``demarches;equipement`` (label charter),
    hours from ``h_lundi`` … ``h_samedi`` (empty day = closed), ``updated`` = list date. Extra
    columns: ``departement`` (insee_dep), ``fs_type`` (Principal/Antenne), ``fs_format`` (Fixe,
    Bus_équivalent…). The free-text ``commentaire`` is not kept.
    """
    p = _path(raw_dir, path, "france_services")
    raw = read_csv(p, FRANCE_SERVICES_COLUMNS, sep=",")
    out = pd.DataFrame(index=raw.index)
    out["source"] = "france_services"
    out["source_id"] = raw["id_fs"].str.strip()
    out["name"] = nan_if_empty(raw["lib_fs"])
    out["type"] = "france_services"
    out["type_raw"] = ("France services " + raw["type_fs"].str.strip() + " " + raw["format_fs"].str.strip()).str.strip()
    out["services"] = FRANCE_SERVICES_SERVICES
    addr = raw["adresse"].str.strip() + ", " + raw["complement_adresse"].str.strip()
    out["address"] = nan_if_empty(addr.str.strip(", ").str.replace(r"\s+", " ", regex=True))
    out["postcode"] = _postcode(raw["code_postal"])
    out["code_commune"] = commune_code(raw["insee_com"])
    out["commune_name"] = nan_if_empty(raw["lib_com"])
    out["lon"], out["lat"] = _coords(raw["longitude"], raw["latitude"])
    out["hours_json"] = [oh.to_json(oh.parse_france_services(r)) for r in raw.to_dict("records")]
    context = raw["lib_fs"] + " " + raw["lib_com"] + " " + raw["adresse"]
    out["email"] = [public_email(e, c) for e, c in zip(raw["mail"], context, strict=True)]
    out["phone"] = nan_if_empty(raw["telephone"])
    out["updated"] = FRANCE_SERVICES_LIST_DATE
    out["departement"] = nan_if_empty(raw["insee_dep"])
    out["fs_type"] = nan_if_empty(raw["type_fs"])
    out["fs_format"] = nan_if_empty(raw["format_fs"])
    return _finish(out)


HINAURA_NAME = "Nom du lieu ou de la structure *"
HINAURA_REQUIRED = (
    HINAURA_NAME, "Adresse postale *", "Code postal", "Ville *", "bf_latitude", "bf_longitude", "Type de lieu",
    *oh.HINAURA_DAY_FIELDS.values(), "datetime_latest",
)


def load_hinaura(raw_dir: Path | str | None = None, path: Path | str | None = None) -> pd.DataFrame:
    """Hinaura hub export (JSON list of records with French field names).

    ``source_id`` is the record's 0-based position, the id data·inclusion uses for the same records.
    Types from ``Type de lieu`` (several possible, see :data:`HINAURA_TYPES`) then the name
    (``type_without_fs``: the type if its France Services claim is unconfirmed), services from the
    hub's service lists (:data:`SERVICE_MAP`, :data:`HINAURA_SERVICE_FIELDS`), hours from
    ``Lundi`` … ``Dimanche`` (:func:`loaders.opening_hours.parse_hinaura`), postcode zero-padded
    (published as a number). Extra column ``cnfs_hosted`` (hosts a conseiller numérique: Oui/Non).
    """
    p = _path(raw_dir, path, "hinaura")
    recs = _records(p, HINAURA_REQUIRED)
    email_key = next((k for k in recs[0] if k.startswith("Email")), None)
    rows = []
    for i, r in enumerate(recs):
        types_raw = _split_hub_list(r.get("Type de lieu"))
        cats: list[str | None] = []
        for fld, default in HINAURA_SERVICE_FIELDS.items():
            for item in _split_hub_list(r.get(fld)):
                cats.append(SERVICE_MAP.get(item, default))
        name = str(r.get(HINAURA_NAME) or "").strip()
        context = f"{name} {r.get('Ville *', '')} {r.get('Adresse postale *', '')}"
        cnfs = str(r.get("Accueille un ou des Conseillers Numériques France Services") or "").strip().lower()
        rows.append(
            {
                "source": "hinaura",
                "source_id": str(i),
                "name": name or None,
                "type": resolve_type([HINAURA_TYPES.get(t, "autre") for t in types_raw], name),
                "type_without_fs": resolve_type([HINAURA_TYPES.get(t, "autre") for t in types_raw], name, without_france_services=True),
                "type_raw": "; ".join(types_raw) or None,
                "services": services_string(cats),
                "address": str(r.get("Adresse postale *") or "").strip() or None,
                "postcode": r.get("Code postal"),
                "commune_name": str(r.get("Ville *") or "").strip() or None,
                "lon": r.get("bf_longitude"),
                "lat": r.get("bf_latitude"),
                "hours_json": oh.to_json(oh.parse_hinaura(r)),
                "email": public_email(r.get(email_key), context) if email_key else None,
                "phone": str(r.get("Téléphone") or "").strip() or None,
                "website": _website(r.get("Site Web")),
                "updated": r.get("datetime_latest"),
                "cnfs_hosted": True if cnfs == "oui" else (False if cnfs == "non" else None),
            }
        )
    out = pd.DataFrame(rows)
    out["postcode"] = _postcode(out["postcode"])
    out["lon"], out["lat"] = _coords(out["lon"], out["lat"])
    out["updated"] = _iso_date(out["updated"], dayfirst=True)
    out["cnfs_hosted"] = out["cnfs_hosted"].astype("boolean")
    return _finish(out)


SCHEMA_JSON_REQUIRED = ("id", "nom", "code_postal", "adresse", "services", "date_maj")
SCHEMA_CSV_REQUIRED = ("id", "nom", "code_postal", "adresse", "latitude", "longitude", "services", "date_maj")


def _from_national_schema(records: pd.DataFrame, source: str, service_sep: str) -> pd.DataFrame:
    """Standard columns from records of the national "lieux de médiation numérique" schema."""
    def col(name: str, *alt: str) -> pd.Series:
        for c in (name, *alt):
            if c in records:
                return records[c]
        return pd.Series(pd.NA, index=records.index, dtype="string")

    names = col("nom").astype("string").str.strip()
    out = pd.DataFrame(index=records.index)
    out["source"] = source
    out["source_id"] = col("id").astype("string").str.strip()
    out["name"] = nan_if_empty(names)
    typ = nan_if_empty(col("typologie", "typologies"))
    out["type_raw"] = typ
    codes = [[DATA_INCLUSION_TYPES.get(c.strip(), "autre") for c in re.split(r"[;|,]", t)] if isinstance(t, str) else [] for t in typ.astype(object)]
    out["type"] = [resolve_type(c, n) for c, n in zip(codes, names, strict=True)]
    out["type_without_fs"] = [resolve_type(c, n, without_france_services=True) for c, n in zip(codes, names, strict=True)]
    out["services"] = [
        map_services(re.split(service_sep, s)) if isinstance(s, str) and s.strip() else None
        for s in col("services").astype(object).where(col("services").notna(), None)
    ]
    addr = col("adresse").astype("string").fillna("").str.strip() + ", " + col("complement_adresse").astype("string").fillna("").str.strip()
    out["address"] = nan_if_empty(addr.str.strip(", ").str.replace(r"\s+", " ", regex=True))
    out["postcode"] = _postcode(col("code_postal"))
    out["code_commune"] = commune_code(col("code_insee"))
    out["commune_name"] = nan_if_empty(col("commune").astype("string"))
    out["lon"], out["lat"] = _coords(col("longitude"), col("latitude"))
    out["hours_json"] = [oh.to_json(oh.parse_osm(h)) if isinstance(h, str) else None for h in col("horaires").astype(object)]
    out["siret"] = _siret(col("pivot"))
    context = names.fillna("") + " " + col("commune").astype("string").fillna("") + " " + col("adresse").astype("string").fillna("")
    emails = col("courriel", "courriels").astype(object)
    out["email"] = [public_email(str(e).split("|")[0].split(";")[0], c) if isinstance(e, str) else None for e, c in zip(emails, context, strict=True)]
    out["phone"] = nan_if_empty(col("telephone").astype("string"))
    out["website"] = [_website(str(w).split("|")[0].split(";")[0]) if isinstance(w, str) else None for w in col("site_web").astype(object)]
    out["updated"] = _iso_date(col("date_maj"))
    out["origin"] = nan_if_empty(col("source").astype("string"))
    out["labels"] = nan_if_empty(col("labels_nationaux").astype("string"))
    return _finish(out)


def load_data_inclusion(raw_dir: Path | str | None = None, path: Path | str | None = None) -> pd.DataFrame:
    """data·inclusion extract of the national schema (JSON list), or a national CSV export.

    Type from ``typologie`` codes (:data:`DATA_INCLUSION_TYPES`) then the name; services from the
    ``;``-separated (or ``|``) schema labels; hours from ``horaires`` (OSM format); commune code
    from ``code_insee``; SIRET from ``pivot``. Extra columns: ``origin`` (the upstream source inside
    data·inclusion: conseiller-numerique, Hinaura, siao, dora…), ``labels`` (labels_nationaux).
    """
    p = _path(raw_dir, path, "data_inclusion")
    if p.suffix.lower() == ".csv":
        records = read_csv(p, SCHEMA_CSV_REQUIRED)
        records = records.replace({"": pd.NA})
    else:
        records = pd.DataFrame(_records(p, SCHEMA_JSON_REQUIRED))
    return _from_national_schema(records, "data_inclusion", r"\s*[;|]\s*")


CNFS_PLACES_REQUIRED = ("id", "nom", "code_postal", "adresse", "latitude", "longitude", "services", "date_maj")


def load_cnfs_places(raw_dir: Path | str | None = None, path: Path | str | None = None) -> pd.DataFrame:
    """Conseillers numériques places of activity (JSON list, national schema, services ``, ``-separated).

    No INSEE code (commune from the coordinates in :func:`unify_places`); SIRET from ``pivot``;
    hours from ``horaires`` (OSM). Adviser mailboxes (``@conseiller-numerique.fr``) are dropped.
    """
    p = _path(raw_dir, path, "cnfs_places")
    records = pd.DataFrame(_records(p, CNFS_PLACES_REQUIRED))
    return _from_national_schema(records, "cnfs_places", r"\s*,\s*")


CNFS_STRUCTURES_COLUMNS = (
    "Raison sociale", "Nombre de conseillers validés par le COSELEC", "Date de validation en comité de sélection",
    "Type", "SIRET", "Adresse", "Code commune INSEE", "Code postal", "Commune INSEE", "France services",
)


def load_cnfs_structures(raw_dir: Path | str | None = None, path: Path | str | None = None) -> pd.DataFrame:
    """Host structures of conseillers numériques (``;``-separated), one row per validation.

    Columns: standard ones (no coordinates, type from the name) + ``posts`` (validated adviser
    posts, float), ``validated`` (ISO date), ``operator`` (publique/privée),
    ``france_services_label`` (boolean, NA if "non renseigné"). A SIRET can appear on several rows
    (several validations): sum ``posts`` by SIRET for the staff of a structure.

    A file cut short raises LoaderError with the line (:func:`_check_complete`).
    """
    p = _path(raw_dir, path, "cnfs_structures")
    raw = read_csv(p, CNFS_STRUCTURES_COLUMNS, sep=";")
    _check_complete(p, raw, "cnfs_structures", ";", declared=path is None)
    out = pd.DataFrame(index=raw.index)
    out["source"] = "cnfs_structures"
    out["source_id"] = raw["SIRET"].str.strip() + ":" + (raw.groupby("SIRET").cumcount() + 1).astype(str)
    out["name"] = nan_if_empty(raw["Raison sociale"])
    out["type"] = [resolve_type([], n) for n in raw["Raison sociale"]]
    out["type_raw"] = nan_if_empty(raw["Type"])
    out["address"] = nan_if_empty(raw["Adresse"])
    out["postcode"] = _postcode(raw["Code postal"])
    out["code_commune"] = commune_code(raw["Code commune INSEE"])
    out["commune_name"] = nan_if_empty(raw["Commune INSEE"])
    out["lon"] = np.nan
    out["lat"] = np.nan
    out["siret"] = _siret(raw["SIRET"])
    out["updated"] = _iso_date(raw["Date de validation en comité de sélection"], dayfirst=True)
    posts, _ = to_number(raw["Nombre de conseillers validés par le COSELEC"])
    out["posts"] = posts
    out["validated"] = out["updated"]
    out["operator"] = nan_if_empty(raw["Type"])
    fs = raw["France services"].str.strip().str.lower()
    out["france_services_label"] = fs.map({"oui": True, "non": False}).astype("boolean")
    return _finish(out)


AIDANTS_CONNECT_COLUMNS = ("Name", "ID", "Is Active", "City Insee Code", "Address", "Zip Code", "Siret", "France Services Label", "City", "Nombre d'aidants")


def load_aidants_connect(raw_dir: Path | str | None = None, path: Path | str | None = None) -> pd.DataFrame:
    """Aidants Connect habilitated structures (``,``-separated Metabase export).

    Columns: standard ones (no coordinates; SIRET published as a float, ``0.0`` = unknown) +
    ``active`` (boolean), ``france_services_label`` (boolean), ``aidants`` (habilitated aidants),
    ``users`` (unique users), ``procedures`` (démarches) — counts as floats, NaN when empty.

    A file cut short raises LoaderError with the line (:func:`_check_complete`).
    """
    p = _path(raw_dir, path, "aidants_connect")
    raw = read_csv(p, AIDANTS_CONNECT_COLUMNS, sep=",")
    _check_complete(p, raw, "aidants_connect", ",", declared=path is None)
    out = pd.DataFrame(index=raw.index)
    out["source"] = "aidants_connect"
    out["source_id"] = raw["ID"].str.strip()
    out["name"] = nan_if_empty(raw["Name"])
    out["type"] = [resolve_type([], n) for n in raw["Name"]]
    out["address"] = nan_if_empty(raw["Address"].str.replace(r"\s+", " ", regex=True))
    out["postcode"] = _postcode(raw["Zip Code"])
    out["code_commune"] = commune_code(raw["City Insee Code"])
    out["commune_name"] = nan_if_empty(raw["City"])
    out["lon"] = np.nan
    out["lat"] = np.nan
    out["siret"] = _siret(raw["Siret"])
    truth = {"true": True, "false": False}
    out["active"] = raw["Is Active"].str.strip().str.lower().map(truth).astype("boolean")
    out["france_services_label"] = raw["France Services Label"].str.strip().str.lower().map(truth).astype("boolean")
    out["aidants"], _ = to_number(raw["Nombre d'aidants"])
    for col, new in (("Nombre D'usagers Uniques", "users"), ("Nombre De Demarche Par Structure", "procedures")):
        match = [c for c in raw.columns if c.endswith(col)]
        out[new] = to_number(raw[match[0]])[0] if match else np.nan
    return _finish(out)


CNFS_ACTIVITY_COLUMNS = {
    "CodePostal": "postcode",
    "Somme de Moins12ans": "age_under_12",
    "Somme de De12a18ans": "age_12_18",
    "Somme de De18a35ans": "age_18_35",
    "Somme de De35a60ans": "age_35_60",
    "Somme de Plus60ans": "age_60_plus",
    "Somme de Etudiant": "students",
    "Somme de SansEmploi": "job_seekers",
    "Somme de EnEmploi": "employed",
    "Somme de Retraite": "retired",
    "Somme de Heterogene": "mixed_groups",
}


def load_cnfs_activity(raw_dir: Path | str | None = None, path: Path | str | None = None) -> pd.DataFrame:
    """Conseiller numérique activity reports (CRA) summed by postcode.

    ``CodePostal`` lost its leading zeros and sometimes has a leading space: normalised with
    ``strip().zfill(5)``; codes that are still not 5 digits ("undef", "0null", "24 54") are dropped
    and counted in ``attrs["dropped_rows"]``; rows falling on the same normalised postcode are
    summed. Counts are people accompanied (floats).
    """
    p = _path(raw_dir, path, "cnfs_activity")
    raw = read_csv(p, CNFS_ACTIVITY_COLUMNS, sep=",")
    out = raw[list(CNFS_ACTIVITY_COLUMNS)].rename(columns=CNFS_ACTIVITY_COLUMNS)
    out["postcode"] = out["postcode"].str.strip().str.zfill(5)
    ok = out["postcode"].str.fullmatch(r"\d{5}")
    for c in list(CNFS_ACTIVITY_COLUMNS.values())[1:]:
        out[c] = to_number(out[c])[0]
    dropped = int((~ok).sum())
    out = out[ok].groupby("postcode", as_index=False, sort=True).sum(min_count=1)
    out["postcode"] = out["postcode"].astype("string")
    out.attrs["dropped_rows"] = dropped
    return out


LIBRARY_COLUMNS = (
    "Libelle1", "voie", "CP", "Ville", "INSEE", "coordonnees_ban", "coordonnees_insee", "coordonnees_finales",
    "code_bib", "Statut", "type_adresse", "amplitude_horaire",
)
#: ``type_adresse`` of a row that is a library's administrative address, not a place open to the public
LIBRARY_ADMINISTRATIVE = "Adresse administrative"
#: the year of the list (no per-row date), used as ``updated``
LIBRARY_LIST_YEAR = "2020"
#: what a library offers in the project's reading: free access to a computer and the internet
LIBRARY_SERVICES = "equipement"
HOURS_PER_WEEK_H = 168.0  # upper bound of weekly opening hours
SAME_POINT_DEG = 1e-7  # two published coordinates closer than this (≈ 1 cm) are the same point


def _lat_lon_pairs(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """``(lat, lon, unparsed)`` from « lat, lon » strings; empty → NaN, ``unparsed`` marks the
    non-empty cells that are not two numbers."""
    s = values.astype("string").str.strip()
    parts = s.str.extract(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")
    lat = pd.to_numeric(parts[0], errors="coerce").astype(float)
    lon = pd.to_numeric(parts[1], errors="coerce").astype(float)
    unparsed = (s.fillna("") != "") & lat.isna()
    return lat, lon, unparsed.astype(bool)


def _library_coordinates(path: Path, raw: pd.DataFrame) -> pd.DataFrame:
    """``lon``, ``lat`` and ``geocoding`` of the library rows.

    The point is ``coordonnees_finales``, else ``coordonnees_ban``. ``geocoding`` says what it is:
    ``address`` (the BAN geocode of the address) or ``commune_centroid`` (equal to
    ``coordonnees_insee``: the commune's centre, not the building); NA without a usable point.
    Raises LoaderError when no cell of either column reads as « lat, lon » (another format).
    """
    lat_f, lon_f, bad_f = _lat_lon_pairs(raw["coordonnees_finales"])
    lat_b, lon_b, bad_b = _lat_lon_pairs(raw["coordonnees_ban"])
    lat_i, lon_i, _ = _lat_lon_pairs(raw["coordonnees_insee"])
    if lat_f.notna().sum() + lat_b.notna().sum() == 0:
        raise LoaderError(path, "no cell of coordonnees_finales / coordonnees_ban reads as « lat, lon »", "« 45.19, 5.72 » strings (latitude first)")
    lat, lon = lat_f.fillna(lat_b), lon_f.where(lat_f.notna(), lon_b)
    out = pd.DataFrame(index=raw.index)
    out["lon"], out["lat"] = _coords(lon, lat)
    centroid = np.isclose(out["lat"], lat_i, rtol=0.0, atol=SAME_POINT_DEG) & np.isclose(out["lon"], lon_i, rtol=0.0, atol=SAME_POINT_DEG)
    out["geocoding"] = pd.Series(np.where(centroid, "commune_centroid", "address"), index=raw.index, dtype="string")
    out.loc[out["lon"].isna(), "geocoding"] = pd.NA
    out.attrs["unparsed_coordinates"] = int((bad_f | bad_b).sum())  # non-empty cells that are not « lat, lon »
    return out


def _library_weekly_hours(path: Path, raw: pd.DataFrame) -> tuple[pd.Series, int]:
    """Weekly opening hours from ``amplitude_horaire`` and the number of values read as unknown.

    Non-numbers raise LoaderError; 0 and values above :data:`HOURS_PER_WEEK_H` (a library listed
    as open to the public cannot be open 0 h or more than a week) become NaN and are counted.
    """
    hours, secret = to_number(raw["amplitude_horaire"])
    check_unparsed(path, "amplitude_horaire", raw["amplitude_horaire"], hours, secret)
    implausible = (hours <= 0) | (hours > HOURS_PER_WEEK_H)
    return hours.mask(implausible), int(implausible.sum())


def load_libraries(raw_dir: Path | str | None = None, path: Path | str | None = None) -> pd.DataFrame:
    """Public libraries of the Ministère de la Culture list (``;``-separated, UTF-8), national.

    One row per library open to the public: rows whose ``type_adresse`` is « Adresse
    administrative » (a library service's office) are not places: dropped, counted in
    ``attrs["dropped_administrative"]`` (and ``attrs["dropped_administrative_by_departement"]``,
    from the INSEE code). Standard columns: ``source_id`` = ``code_bib``, name = ``Libelle1``,
    type ``bibliotheque``, ``type_raw`` = ``Statut``, address = ``voie``, commune from ``INSEE``,
    point from ``coordonnees_finales`` (« lat, lon », else ``coordonnees_ban``; rows without a
    usable point keep NaN and are reported by :func:`build_places`), no detailed hours
    (``hours_json`` null), ``updated`` = the list's year. Extra columns: ``weekly_hours`` (from
    ``amplitude_horaire``, h/week, NaN when empty, 0 or above a week: see
    :func:`_library_weekly_hours`), ``geocoding`` (``address`` / ``commune_centroid``),
    ``offers_digital_help`` False.

    Services: ``equipement``. This is the project's reading of a library: free access to a
    computer and the internet, not accompaniment (help comes from the reception point a library
    also is, when :func:`match_libraries` merges them).
    """
    p = _path(raw_dir, path, LIBRARY_KEY)
    raw = read_csv(p, LIBRARY_COLUMNS, sep=";")
    admin = raw["type_adresse"].str.strip() == LIBRARY_ADMINISTRATIVE
    by_dep = commune_code(raw.loc[admin, "INSEE"]).str[:2].value_counts()
    raw = raw[~admin].reset_index(drop=True)
    out = pd.DataFrame(index=raw.index)
    out["source"] = LIBRARY_KEY
    out["source_id"] = raw["code_bib"].str.strip().str.replace(r"\.0$", "", regex=True)
    out["name"] = nan_if_empty(raw["Libelle1"].str.replace(r"\s+", " ", regex=True))
    out["type"] = "bibliotheque"
    out["type_raw"] = nan_if_empty(raw["Statut"])
    out["services"] = LIBRARY_SERVICES
    out["address"] = nan_if_empty(raw["voie"].str.replace(r"\s+", " ", regex=True))
    out["postcode"] = _postcode(raw["CP"])
    out["code_commune"] = commune_code(raw["INSEE"])
    out["commune_name"] = nan_if_empty(raw["Ville"])
    coords = _library_coordinates(p, raw)
    out[["lon", "lat", "geocoding"]] = coords
    out["hours_json"] = pd.NA
    out["updated"] = LIBRARY_LIST_YEAR
    out["weekly_hours"], implausible = _library_weekly_hours(p, raw)
    out["offers_digital_help"] = False
    out = _finish(out)
    out.attrs.update(
        dropped_administrative=int(admin.sum()),
        dropped_administrative_by_departement={str(k): int(v) for k, v in by_dep.items()},
        unparsed_coordinates=coords.attrs["unparsed_coordinates"],
        weekly_hours_set_unknown=implausible,
    )
    return out


LOADERS = {
    "france_services": load_france_services,
    "hinaura": load_hinaura,
    "data_inclusion": load_data_inclusion,
    "cnfs_places": load_cnfs_places,
    "cnfs_structures": load_cnfs_structures,
    "aidants_connect": load_aidants_connect,
    "cnfs_activity": load_cnfs_activity,
    LIBRARY_KEY: load_libraries,
}


def download(key: str, *, refresh: bool = True) -> Path:
    """Download the official file of source ``key`` into the user cache and check it parses.

    Raises LoaderError for an unknown key or a source without an official download URL,
    DownloadError (a LoaderError) if the download fails with no cached copy.
    """
    if key not in SOURCES:
        raise LoaderError(key, "unknown places source", f"one of {', '.join(SOURCES)}")
    src = SOURCES[key]
    if not src.url:
        with_url = [k for k, s in SOURCES.items() if s.url]
        raise LoaderError(key, "this source has no official download URL (use the raw file)", f"one of {', '.join(with_url)}")
    name = DOWNLOAD_NAMES.get(key, Path(src.raw_path).name)
    path = dl.fetch(src.url, name, refresh=refresh)
    read_text(path)  # fails clearly on an empty or binary download
    return path


# --------------------------------------------------------------------------------------------
# deduplication


class _Clusters:
    """Union–find whose clusters may not hold two rows of the same origin (unless told: twins)."""

    def __init__(self, origins: Sequence[str]):
        self.parent = list(range(len(origins)))
        self.members: dict[int, set[str]] = {i: {o} for i, o in enumerate(origins)}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int, same_origin_ok: bool = False) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b:
            return True
        if not same_origin_ok and self.members[a] & self.members[b]:
            return False  # would put two rows of one list in one place
        self.parent[b] = a
        self.members[a] |= self.members.pop(b)
        return True


@dataclass(frozen=True)
class DedupRules:
    """Distances (metres, Lambert-93) and thresholds of :func:`dedupe_places`."""

    same_key_m: float = 300.0  # same SIRET, same normalised name, same address + similar name, both France Services
    near_m: float = 50.0  # similar names, or the same specific type, this close are one place (geocoding noise ~30 m)
    similar: float = 0.8  # name_similarity threshold


def _address_key(address: object) -> str:
    """Street number + words of an address, '' unless it starts with a number."""
    words = [w for w in fold(address).split() if w not in _STOP_WORDS]
    return " ".join(words) if words and words[0].isdigit() and len(words) > 1 else ""


def dedupe_places(df: pd.DataFrame, rules: DedupRules = DedupRules(), links: Iterable[tuple[int, int]] = ()) -> np.ndarray:
    """Cluster label per row: rows describing the same place get the same label.

    ``df`` needs ``x``, ``y`` (Lambert-93), ``name``, ``type``, ``siret``, ``address`` and ``origin`` (rows of
    one origin — one published list — are never merged together). Two rows are the same place if
    (in this order of strength):

    1. ``links`` says so (explicit cross-source ids, e.g. data·inclusion records copied from Hinaura);
    2. same normalised name (lowercase, no accents/punctuation/stop words) within ``same_key_m``;
    3. same SIRET within ``same_key_m``;
    4. same street address and similar names (:func:`name_similarity` ≥ ``similar``) within ``same_key_m``;
    5. both typed ``france_services`` within ``same_key_m`` (a hub's "Maison France Services" and the
       listed site it describes);
    6. similar names within ``near_m``;
    7. the same specific type (not ``autre`` / ``association``) within ``near_m`` ("Espace France
       Services" and "France services Morestel" at one address).

    Candidate pairs come from a :class:`scipy.spatial.cKDTree`; pairs are merged greedily — strongest
    rule first, then most similar names (similarity, then word Jaccard), then closest — skipping a
    merge that would join two rows of the same origin (so a cluster takes the best match in each list),
    except "twins": rows of one list (not the ANCT France Services list) with the same normalised
    name within ``near_m``, i.e. one record entered twice.
    """
    n = len(df)
    if n == 0:
        return np.zeros(0, dtype=int)
    xy = df[["x", "y"]].to_numpy(float)
    tree = cKDTree(xy)
    pairs = tree.query_pairs(rules.same_key_m, output_type="ndarray")
    names = df["name"].astype(object).tolist()
    norm = [normalise_name(v) for v in names]
    siret = df["siret"].astype(object).where(df["siret"].notna(), None).tolist()
    addr = [_address_key(a) for a in df["address"].astype(object).where(df["address"].notna(), None)]
    tokens = [name_tokens(v) for v in names]
    types = df["type"].astype(object).tolist()
    candidates: list[tuple[int, float, float, float, int, int]] = []
    for i, j in ((int(a), int(b)) for a, b in pairs):
        d = float(np.hypot(*(xy[i] - xy[j])))
        sim = name_similarity(names[i], names[j])
        union = tokens[i] | tokens[j]
        jaccard = len(tokens[i] & tokens[j]) / len(union) if union else 0.0
        if norm[i] and norm[i] == norm[j]:
            strength = 1
        elif siret[i] and siret[i] == siret[j]:
            strength = 2
        elif addr[i] and addr[i] == addr[j] and sim >= rules.similar:
            strength = 3
        elif types[i] == types[j] == "france_services":
            strength = 4
        elif d <= rules.near_m and sim >= rules.similar:
            strength = 5
        elif d <= rules.near_m and types[i] == types[j] and types[i] not in OPERATOR_TYPES:
            strength = 6
        else:
            continue
        candidates.append((strength, -sim, -jaccard, d, i, j))
    candidates += [(0, -1.0, -1.0, 0.0, int(i), int(j)) for i, j in links]
    candidates.sort()
    origins = df["origin"].astype(str).tolist()
    clusters = _Clusters(origins)
    for strength, _sim, _jac, d, i, j in candidates:
        # twins: one record entered twice in a list (same name, same spot) — except the ANCT list,
        # whose rows at one address (a site and its buses) are distinct France Services
        twins = strength == 1 and d <= rules.near_m and origins[i] == origins[j] != "france_services"
        clusters.union(i, j, same_origin_ok=twins)
    roots = np.array([clusters.find(i) for i in range(n)])
    _, labels = np.unique(roots, return_inverse=True)
    return labels


# --------------------------------------------------------------------------------------------
# unification


@dataclass
class PlacesBuild:
    """Result of :func:`build_places`: the table, the places kept out of it, and the counts."""

    places: gpd.GeoDataFrame
    unlocated: pd.DataFrame
    counts: dict = field(default_factory=dict)


def _spatial_codes(points: pd.DataFrame, communes: gpd.GeoDataFrame) -> pd.Series:
    """Commune code of the polygon containing each point (NA outside every polygon)."""
    if not {"code_commune", "geometry"} <= set(communes.columns):
        raise ValueError("communes must be a GeoDataFrame with columns [code_commune, geometry]")
    polys = communes[["code_commune", "geometry"]].copy()
    if polys.crs is None:
        polys = polys.set_crs(WGS84)
    polys = polys.to_crs(L93)
    pts = gpd.GeoDataFrame({"_row": points.index}, geometry=gpd.points_from_xy(points["x"], points["y"]), crs=L93)
    joined = gpd.sjoin(pts, polys, how="left", predicate="within")
    joined = joined.drop_duplicates("_row").set_index("_row")
    return joined["code_commune"].astype("string").reindex(points.index)


def _open_days(hours_json: str) -> int:
    week = oh.from_json(hours_json)
    return sum(1 for slots in week.values() if slots) if week else 0


#: ``format_fs`` values of the ANCT list (compared with :func:`fold`) whose France Services travel:
#: their point is the carrier structure's address, not the stops
MOBILE_FORMATS = frozenset({"itinerante", "bus equivalent"})
#: a name that says the service travels (on :func:`fold` names): bus, bibliobus, camion, itinérant(e)…
MOBILE_NAME_PATTERN = r"\b(?:bus|minibus|bibliobus|mediabus|cyberbus|bouquinbus|camion)\b|\bitineran"
#: ...unless it names a fixed deposit point served by a bibliobus ("Mairie Dépôt Bibliobus")
FIXED_NAME_PATTERN = r"\bdepot\b"


def mobile_flags(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """``(mobile, format_raw)`` of rows of the located lists (columns ``source``, ``name``, ``fs_format``).

    - France Services (ANCT list): ``format_raw`` is ``format_fs`` as published (Fixe, Multisites,
      Bus_équivalent, Fixe_antenne(s), Itinérante); ``mobile`` is True for « Itinérante » and
      « Bus_équivalent » (:data:`MOBILE_FORMATS`), False for the other formats — whatever the name
      says. A bus row carries the address of its carrier structure, not its stops.
    - Other sources: ``format_raw`` NA; ``mobile`` True only when their data says the service
      travels, i.e. the name matches :data:`MOBILE_NAME_PATTERN` (bus, bibliobus, camion,
      itinérant·e…) and not :data:`FIXED_NAME_PATTERN` — a heuristic; False otherwise.
    """
    names = df["name"].map(fold)
    by_name = names.str.contains(MOBILE_NAME_PATTERN, regex=True) & ~names.str.contains(FIXED_NAME_PATTERN, regex=True)
    is_fs = (df["source"] == "france_services").to_numpy(bool)
    fmt = df["fs_format"] if "fs_format" in df else pd.Series(pd.NA, index=df.index)
    format_raw = nan_if_empty(fmt.astype("string")).where(is_fs, pd.NA)
    by_format = format_raw.map(fold, na_action="ignore").isin(MOBILE_FORMATS).fillna(False).astype(bool)
    mobile = pd.Series(np.where(is_fs, by_format, by_name.fillna(False)), index=df.index, dtype=bool)
    return mobile, format_raw


def _cluster_mobile(members: list[dict]) -> tuple[bool, object]:
    """``(mobile, format_raw)`` of a merged place: the listed France Services member's if any (the
    ANCT list is the reference), else mobile when any member says it travels."""
    listed = [r for r in members if r["source"] == "france_services"]
    if listed:
        return bool(listed[0]["mobile"]), listed[0]["format_raw"]
    return any(bool(r["mobile"]) for r in members), None


def _merge_cluster(members: list[dict]) -> dict:
    """One place from the rows of a cluster (plain dicts, None for missing values).

    id, name, address, coordinates, contacts: the first member in :data:`SOURCE_PRIORITY` order
    that has the value; type: ``france_services`` if the place is in the ANCT list (whatever the
    other members say), else the first specific (non-``autre``) type of the members, France Services
    claims of other sources set aside (they stay visible in ``type_raw``); hours: the known hours with the latest ``updated`` date, then the most
    open days; services: union; sources: every source key; updated: the latest date; ``mobile`` /
    ``format_raw``: :func:`_cluster_mobile`; ``offers_digital_help`` True (reception points).
    """
    members = sorted(members, key=lambda r: (r["_prio"], r["source_id"]))
    first = members[0]

    def first_value(col: str) -> object:
        return next((r[col] for r in members if r[col] is not None), None)

    # France Services is a State label: the ANCT list is the reference; another source's claim
    # counts when the place is merged with a listed site (then any member's claim is kept)
    listed = [r for r in members if r["source"] == "france_services"]
    claims = [r for r in members if r["type"] == "france_services"]
    if listed:
        type_row, type_value = (claims or listed)[0], "france_services"
    else:
        unconfirmed = [(r, r.get("type_without_fs") or r["type"]) for r in members]
        specific = [(r, t) for r, t in unconfirmed if t not in ("autre", "france_services")]
        type_row, type_value = (specific or [(first, "autre")])[0]
    cats = {c for r in members if r["services"] for c in r["services"].split(";")}
    with_hours = [r for r in members if r["hours_json"] is not None]
    hours_row = max(with_hours, key=lambda r: (r["updated"] or "", _open_days(r["hours_json"]), -r["_prio"])) if with_hours else None
    present = {r["source"] for r in members}
    dates = [r["updated"] for r in members if r["updated"]]
    mobile, format_raw = _cluster_mobile(members)
    return {
        "place_id": f"{first['source']}:{first['source_id']}",
        "name": first_value("name"),
        "type": type_value,
        "type_raw": type_row["type_raw"] if type_row["type_raw"] is not None else first_value("type_raw"),
        "services": services_string(cats),
        "address": first_value("address"),
        "postcode": first_value("postcode"),
        "code_commune": first_value("code_commune"),
        "x": first["x"],
        "y": first["y"],
        "lon": first["lon"],
        "lat": first["lat"],
        "hours_json": hours_row["hours_json"] if hours_row else None,
        "siret": first_value("siret"),
        "email": first_value("email"),
        "phone": first_value("phone"),
        "website": first_value("website"),
        "sources": ";".join(k for k in SOURCE_PRIORITY if k in present),
        "updated": max(dates) if dates else None,
        "members": len(members),
        "mobile": mobile,
        "format_raw": format_raw,
        "offers_digital_help": True,
    }


def _cross_source_links(df: pd.DataFrame) -> list[tuple[int, int]]:
    """Row pairs that are copies of one record: data·inclusion rows whose ``origin`` is Hinaura or
    conseiller-numerique carry the upstream record's id (Hinaura position, CnFS id)."""
    upstream = {"data_inclusion/hinaura": "hinaura", "data_inclusion/conseiller-numerique": "cnfs_places"}
    position = {(s, i): n for n, (s, i) in enumerate(zip(df["source"], df["source_id"], strict=True))}
    links = []
    for n, (origin, sid) in enumerate(zip(df["origin"].str.lower(), df["source_id"], strict=True)):
        target = upstream.get(origin)
        if target and (target, sid) in position:
            links.append((n, position[(target, sid)]))
    return links


def located_rows(
    raw_dir: Path | str | None = None,
    communes: gpd.GeoDataFrame | None = None,
    region_departements: tuple[str, ...] = AURA_DEPARTEMENTS,
) -> pd.DataFrame:
    """Rows of the located lists of :data:`SOURCE_PRIORITY` (national), with Lambert-93 ``x``/``y``,
    the final ``code_commune`` (see :func:`build_places`), ``origin`` (list, or data·inclusion/upstream
    source), ``mobile`` / ``format_raw`` (:func:`mobile_flags`), and flags ``located`` (has
    coordinates), ``in_region`` (final code, else postcode, in ``region_departements``, and no
    published code of another département) and ``outside_communes`` (has coordinates outside every
    polygon of ``communes``, when given). ``attrs["loader_reports"]``: each loader's ``attrs`` (rows it dropped)."""
    raw_dir = Path(raw_dir) if raw_dir is not None else RAW_DIR
    frames = {k: LOADERS[k](raw_dir) for k in SOURCE_PRIORITY}
    df = pd.concat(frames.values(), ignore_index=True)
    df["origin"] = np.where(df["source"] == "data_inclusion", "data_inclusion/" + df["origin"].fillna("?").astype(str), df["source"])
    df["_prio"] = df["source"].map({k: i for i, k in enumerate(SOURCE_PRIORITY)})
    df["mobile"], df["format_raw"] = mobile_flags(df)
    located = df["lon"].notna() & df["lat"].notna()
    pts = gpd.GeoSeries(gpd.points_from_xy(df["lon"].where(located, 0.0), df["lat"].where(located, 0.0)), crs=WGS84).to_crs(L93)
    df["x"] = np.where(located, pts.x, np.nan)
    df["y"] = np.where(located, pts.y, np.nan)
    code = published = df["code_commune"]
    df["outside_communes"] = False
    if communes is not None:
        known_codes = set(communes["code_commune"].astype(str))
        code = code.where(code.isin(known_codes))
        geo = pd.Series(pd.NA, index=df.index, dtype="string")
        geo[located] = _spatial_codes(df[located], communes)
        df["outside_communes"] = (located & geo.isna()).astype(bool)
        # the polygon's code, else the source's code as published (e.g. a commune of another région)
        code = code.fillna(geo).fillna(df["code_commune"])
    df["code_commune"] = code.astype("string")
    dep = df["code_commune"].str[:2].fillna(df["postcode"].str[:2])
    # a published code of another département keeps a row out even if its point falls inside (a
    # geocoding error: library 05019 « Bibliothèque De La Beaume » placed in the Drôme)
    foreign = published.notna() & ~published.str[:2].isin(region_departements).fillna(False)
    df["located"] = located
    df["in_region"] = (dep.isin(region_departements).fillna(False) & ~foreign).astype(bool)
    df.attrs["loader_reports"] = {k: dict(f.attrs) for k, f in frames.items() if f.attrs}
    return df


# --------------------------------------------------------------------------------------------
# libraries: matched to the reception points they also are

_LIBRARY_WORDS = re.compile(r"\b(?:mediatheque|media theque|bibliotheque|biblio|bib)\b")
#: words that do not tell one library from another (with the commune's own name)
_GENERIC_LIBRARY_WORDS = frozenset(
    "bibliotheque municipale municipal intercommunale communautaire departementale reseau ville commune mairie saint sainte st ste".split()
)


def library_name(name: object) -> str:
    """Name folded for library matching: :func:`fold`, and « médiathèque » / « bibliothèque » /
    « biblio » read as one word (``Médiathèque Kateb Yacine`` = ``Bibliothèque Kateb Yacine``)."""
    return _LIBRARY_WORDS.sub("bibliotheque", fold(name))


def _distinctive(name: str, commune_words: set[str]) -> str:
    """The words of a (:func:`library_name`-folded) name that tell a library apart: without
    :data:`_GENERIC_LIBRARY_WORDS` and the commune's name ('' for « Médiathèque municipale de Volvic »)."""
    return " ".join(sorted(w for w in name_tokens(name) if w not in _GENERIC_LIBRARY_WORDS and w not in commune_words))


def _library_frame(places: pd.DataFrame, libraries: pd.DataFrame) -> pd.DataFrame:
    """Places then libraries in one frame for :func:`dedupe_places`: names folded with
    :func:`library_name`, libraries typed ``mediatheque``, ``origin`` = "places" or the library key,
    ``_pos`` = position in the input frame, ``library_like`` = a place typed ``mediatheque`` or named
    as a library."""
    cols = ["x", "y", "name", "type", "siret", "address", "code_commune"]
    a = places[cols].assign(origin="places", commune_name=pd.NA, _pos=np.arange(len(places)))
    b = libraries[cols].assign(origin=LIBRARY_KEY, type="mediatheque", commune_name=libraries["commune_name"], _pos=np.arange(len(libraries)))
    both = pd.concat([a, b], ignore_index=True)
    both["name"] = both["name"].map(library_name)
    both["library_like"] = (both["type"] == "mediatheque") | both["name"].str.contains(r"\bbibliotheque\b", regex=True)
    return both


def _pairs_by_distance(group: pd.DataFrame, rules: DedupRules) -> list[tuple[int, int]]:
    """(library, place) positions in ``group`` joined by the rules of :func:`dedupe_places`."""
    labels = dedupe_places(group, rules)
    is_lib = group["origin"].to_numpy() == LIBRARY_KEY
    place_of_label = {labels[j]: int(j) for j in np.flatnonzero(~is_lib)}
    return [(int(i), place_of_label[labels[i]]) for i in np.flatnonzero(is_lib) if labels[i] in place_of_label]


def _pairs_in_commune(group: pd.DataFrame, taken: list[tuple[int, int]], rules: DedupRules) -> list[tuple[int, int]]:
    """More (library, place) pairs among the rows of one commune that :func:`_pairs_by_distance` left,
    whatever the distance (library points and hub points are often hundreds of metres apart), with a
    library-like place only, strongest first, one to one:

    1. similar distinctive names (:func:`_distinctive`, :func:`name_similarity` ≥ ``rules.similar``);
    2. the same street address (:func:`_address_key`);
    3. the commune's only library left and only library-like place left, when either name is generic
       (no distinctive word: « Bibliothèque municipale », « Médiathèque de Volvic »).
    """
    is_lib = group["origin"].to_numpy() == LIBRARY_KEY
    used = {i for pair in taken for i in pair}
    libs = [int(i) for i in np.flatnonzero(is_lib) if i not in used]
    like = [int(j) for j in np.flatnonzero(~is_lib & group["library_like"].to_numpy(bool)) if j not in used]
    if not libs or not like:
        return []
    commune_words = {w for n in group["commune_name"].dropna() for w in name_tokens(n)}
    names = [_distinctive(n, commune_words) for n in group["name"]]
    addr = [_address_key(a) for a in group["address"].astype(object).where(group["address"].notna(), None)]
    xy = group[["x", "y"]].to_numpy(float)
    candidates = []
    for i in libs:
        for j in like:
            d = float(np.hypot(*(xy[i] - xy[j])))
            sim = name_similarity(names[i], names[j]) if names[i] and names[j] else 0.0
            if sim >= rules.similar:
                candidates.append((1, -sim, d, i, j))
            elif addr[i] and addr[i] == addr[j]:
                candidates.append((2, 0.0, d, i, j))
            elif len(libs) == len(like) == 1 and not (names[i] and names[j]):
                candidates.append((3, 0.0, d, i, j))
    pairs: list[tuple[int, int]] = []
    for *_, i, j in sorted(candidates):
        if i not in used and j not in used:
            pairs.append((i, j))
            used |= {i, j}
    return pairs


def match_libraries(places: pd.DataFrame, libraries: pd.DataFrame, rules: DedupRules = DedupRules()) -> pd.Series:
    """The reception place each library is, as a position in ``places`` (NA: none).

    Both frames need ``x``, ``y`` (Lambert-93), ``name``, ``type``, ``siret``, ``address`` and
    ``code_commune``; ``libraries`` also ``commune_name``. A library and a place are the same place
    only in the same commune: first by the rules of :func:`dedupe_places` applied to the commune's
    places and libraries (:func:`_pairs_by_distance`; names read with :func:`library_name`,
    libraries typed ``mediatheque`` so that rule 7, the same type within ``rules.near_m``, joins a
    library to a médiathèque reception point), then by name or address whatever the distance
    (:func:`_pairs_in_commune`). A place takes at most one library (two places, or two libraries, are
    never merged; library twins excepted). Places without a commune code (built without commune
    polygons) match no library.
    """
    both = _library_frame(places, libraries)
    match = pd.Series(pd.NA, index=libraries.index, dtype="Int64")
    for _code, group in both.groupby("code_commune", sort=False):
        is_lib = group["origin"].to_numpy() == LIBRARY_KEY
        if is_lib.all() or not is_lib.any():
            continue
        group = group.reset_index(drop=True)
        pairs = _pairs_by_distance(group, rules)
        pairs += _pairs_in_commune(group, pairs, rules)
        for i, j in pairs:
            match.iat[int(group["_pos"].iat[i])] = int(group["_pos"].iat[j])
    return match


def _library_place(r: dict) -> dict:
    """A place from a library row that matches no reception point (a plain dict, None for missing)."""
    keep = ("name", "type", "type_raw", "services", "address", "postcode", "code_commune", "x", "y", "lon", "lat", "mobile", "updated")
    place = {c: r[c] for c in keep}
    place.update(
        place_id=f"{LIBRARY_KEY}:{r['source_id']}", hours_json=None, siret=None, email=None, phone=None, website=None,
        sources=LIBRARY_KEY, members=1, format_raw=None, offers_digital_help=False, library_hours=r["weekly_hours"],
    )
    return place


def _add_libraries(merged: pd.DataFrame, libs: pd.DataFrame, rules: DedupRules) -> tuple[pd.DataFrame, dict]:
    """Reception places + libraries (:func:`match_libraries`), and the counts.

    A matched place keeps its type and data, adds :data:`LIBRARY_KEY` to ``sources`` and gets the
    library's weekly hours in ``library_hours`` (used only when it has no hours of its own); an
    unmatched library becomes a place (:func:`_library_place`).
    """
    merged = merged.assign(library_hours=np.nan)
    match = match_libraries(merged, libs, rules) if len(libs) else pd.Series(pd.NA, index=libs.index, dtype="Int64")
    hit = match.notna().to_numpy(bool)
    pos = match[hit].astype(int)
    n_libs = pos.value_counts()
    merged.loc[n_libs.index, "members"] += n_libs
    merged.loc[n_libs.index, "sources"] = merged.loc[n_libs.index, "sources"] + ";" + LIBRARY_KEY
    hours = libs.loc[hit, "weekly_hours"].astype(float).groupby(pos.to_numpy()).first()
    merged.loc[hours.index, "library_hours"] = hours
    records = libs[~hit].astype(object).where(libs[~hit].notna(), None).to_dict("records")
    added = pd.DataFrame([_library_place(r) for r in records], columns=list(merged.columns))
    report = {
        "located_in_region": len(libs),
        "merged": int(hit.sum()),
        "places_merged_with": len(n_libs),
        "added": len(added),
        "added_at_commune_centroid": int((libs.loc[~hit, "geocoding"] == "commune_centroid").sum()),
        "hours_taken_by_reception_places": int((merged["hours_json"].isna() & merged["library_hours"].notna()).sum()),
    }
    return pd.concat([merged, added], ignore_index=True), report


# --------------------------------------------------------------------------------------------
# the places table


def _source_counts(df: pd.DataFrame) -> dict:
    """Rows per source: in the file, in the région, located in the région."""
    located, in_region = df["located"], df["in_region"]
    counts = {}
    for k in SOURCE_PRIORITY:
        m = df["source"] == k
        counts[k] = {"rows": int(m.sum()), "in_region": int((m & in_region).sum()), "located_in_region": int((m & in_region & located).sum())}
    return counts


def _reception_places(reg: pd.DataFrame, rules: DedupRules) -> pd.DataFrame:
    """Deduplicated reception points (:func:`dedupe_places`, :func:`_merge_cluster`), one dict-row per place."""
    labels = dedupe_places(reg, rules, links=_cross_source_links(reg))
    records = reg.astype(object).where(reg.notna(), None).to_dict("records")
    groups: dict[int, list[dict]] = {}
    for label, rec in zip(labels, records, strict=True):
        groups.setdefault(int(label), []).append(rec)
    return pd.DataFrame([_merge_cluster(g) for g in groups.values()])


def _join_structures(merged: pd.DataFrame, raw_dir: Path, region_departements: tuple[str, ...], counts: dict) -> list[pd.DataFrame]:
    """Staff and structure lists joined by SIRET (in place on ``merged``); returns the structures of
    the région that match no place (for ``unlocated``) and fills ``counts``."""
    structures = load_cnfs_structures(raw_dir)
    aidants = load_aidants_connect(raw_dir)
    posts = structures.dropna(subset=["siret"]).groupby("siret")["posts"].sum(min_count=1)
    share = merged.groupby("siret")["place_id"].transform("count")
    merged["staff"] = merged["siret"].map(posts).astype(float) / share.astype(float)
    unmatched = []
    for key, table in (("cnfs_structures", structures), ("aidants_connect", aidants)):
        sirets = set(table["siret"].dropna())
        hit = merged["siret"].isin(sirets).fillna(False).astype(bool)
        merged.loc[hit, "sources"] = merged.loc[hit, "sources"] + ";" + key
        t_dep = table["code_commune"].str[:2].fillna(table["postcode"].str[:2])
        t_reg = table[t_dep.isin(region_departements).fillna(False).astype(bool)]
        if key == "cnfs_structures":  # one row per structure, posts summed over its validations
            total = t_reg.groupby("siret")["posts"].transform("sum")
            t_reg = t_reg.assign(posts=total.fillna(t_reg["posts"])).drop_duplicates("siret")
        matched = t_reg["siret"].isin(set(merged["siret"].dropna())).fillna(False).astype(bool)
        unmatched.append(t_reg[~matched].assign(reason="no coordinates; SIRET matches no located place"))
        counts["sources"][key] = {"rows": len(table), "in_region": len(t_reg), "matched_by_siret": int(matched.sum()), "places_listing_it": int(hit.sum())}
    counts["places_with_staff"] = int(merged["staff"].notna().sum())
    return unmatched


def _places_frame(merged: pd.DataFrame) -> gpd.GeoDataFrame:
    """The final table: hours-derived columns (a library's weekly hours only where the place has no
    hours of its own), dtypes, order by ``place_id``, Lambert-93 points."""
    week = merged["hours_json"].map(lambda s: oh.from_json(s) if isinstance(s, str) else None)
    merged["weekly_hours"] = week.map(oh.weekly_hours).astype(float).fillna(merged["library_hours"].astype(float))
    merged["open_evening"] = pd.array(week.map(oh.open_evening).tolist(), dtype="boolean")
    merged["open_saturday"] = pd.array(week.map(oh.open_saturday).tolist(), dtype="boolean")
    merged["offers_digital_help"] = merged["offers_digital_help"].astype(bool)
    merged["mobile"] = merged["mobile"].astype(bool)
    for c in ("place_id", "name", "type", "type_raw", "services", "address", "postcode", "code_commune", "hours_json", "siret", "email", "phone", "website", "sources", "updated", "format_raw"):
        merged[c] = merged[c].astype("string")
    merged = merged.sort_values("place_id").reset_index(drop=True)
    geometry = gpd.points_from_xy(merged["x"], merged["y"])
    return gpd.GeoDataFrame(merged[PLACE_COLUMNS], geometry=geometry, crs=L93)


def _unlocated_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows kept out of the table, with their reason, in a few columns."""
    parts = [u for u in parts if len(u)]
    unl = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    keep = [c for c in ("source", "source_id", "name", "type", "siret", "code_commune", "postcode", "address", "posts", "aidants", "active", "reason") if c in unl]
    return unl[keep].reset_index(drop=True) if len(unl) else pd.DataFrame(columns=keep)


def build_places(
    raw_dir: Path | str | None = None,
    communes: gpd.GeoDataFrame | None = None,
    region_departements: tuple[str, ...] = AURA_DEPARTEMENTS,
    rules: DedupRules = DedupRules(),
) -> PlacesBuild:
    """Unified places of the region, the places that could not be located, and counts per source.

    1. Load the located lists (France Services, Hinaura, data·inclusion, CnFS places, libraries).
    2. Commune code: the source's code when it is a valid code (and, if ``communes`` is given, a
       code of that table), else the commune polygon containing the point (``communes``:
       GeoDataFrame [code_commune, geometry], EPSG:4326). Without ``communes``, rows without a
       code keep NA and the région is decided from the postcode's first two digits.
    3. Keep rows of ``region_departements``; rows without coordinates, or whose coordinates fall
       outside every polygon of ``communes`` (contradicting their code), go to ``unlocated``.
    4. Deduplicate the reception points (:func:`dedupe_places`); a merged place keeps every source
       key in ``sources``, the France Services type if any member has it, the id/name/address/
       coordinates of the highest-priority source (:data:`SOURCE_PRIORITY`), the most recent known
       hours; ``mobile`` / ``format_raw`` from the ANCT list's ``format_fs`` (:func:`mobile_flags`).
    5. Libraries (:func:`_add_libraries`): merged into the reception point they also are, else
       added as ``bibliotheque`` places with ``offers_digital_help`` False (``counts["libraries"]``,
       with the administrative addresses the loader dropped in the région).
    6. Staff = conseillers numériques posts of the place's SIRET (summed over the structures list,
       split evenly between the places sharing that SIRET). Structures of the region (CnFS host
       structures, Aidants Connect) that match no place by SIRET go to ``unlocated``; matched ones
       add their key to ``sources``.
    """
    raw_dir = Path(raw_dir) if raw_dir is not None else RAW_DIR
    df = located_rows(raw_dir, communes, region_departements)
    located, in_region, outside = df["located"], df["in_region"], df["outside_communes"]
    counts: dict = {"sources": _source_counts(df)}
    unlocated = [
        df[in_region & ~located].assign(reason="no coordinates"),
        df[in_region & located & outside].assign(reason="coordinates outside the communes of the territory"),
    ]
    reg = df[in_region & located & ~outside]
    libs = reg[reg["source"] == LIBRARY_KEY].reset_index(drop=True)
    reg = reg[reg["source"] != LIBRARY_KEY].reset_index(drop=True)
    merged = _reception_places(reg, rules)
    counts["reception_places"] = len(merged)
    merged, counts["libraries"] = _add_libraries(merged, libs, rules)
    dropped = df.attrs.get("loader_reports", {}).get(LIBRARY_KEY, {}).get("dropped_administrative_by_departement", {})
    counts["libraries"]["dropped_administrative_in_region"] = sum(n for d, n in dropped.items() if d in region_departements)
    for k in SOURCE_PRIORITY:
        counts["sources"][k]["places_listing_it"] = int(merged["sources"].str.split(";").map(lambda s, k=k: k in s).sum())
        counts["sources"][k]["places_first_source"] = int(merged["place_id"].str.startswith(k + ":").sum())
    counts["rows_before_dedup"] = len(reg) + len(libs)
    counts["places_after_dedup"] = len(merged)
    counts["rows_in_places"] = int(merged["members"].sum())  # = rows_before_dedup: no row lost
    unlocated += _join_structures(merged, raw_dir, region_departements, counts)
    places = _places_frame(merged)
    unl = _unlocated_frame(unlocated)
    counts["unlocated"] = {k: int(v) for k, v in unl["source"].value_counts().sort_index().items()} if len(unl) else {}
    counts["types"] = {k: int(v) for k, v in places["type"].value_counts().sort_index().items()}
    counts["mobile"] = int(places["mobile"].sum())
    log.info("places: %d rows from located lists → %d places after dedup (%d reception points, libraries %s); unlocated %s",
             counts["rows_before_dedup"], counts["places_after_dedup"], counts["reception_places"], counts["libraries"], counts["unlocated"])
    return PlacesBuild(places=places, unlocated=unl, counts=counts)


def unify_places(
    raw_dir: Path | str | None = None,
    communes: gpd.GeoDataFrame | None = None,
    region_departements: tuple[str, ...] = AURA_DEPARTEMENTS,
) -> gpd.GeoDataFrame:
    """The ``places.parquet`` table (SCHEMA.md, :data:`PLACE_COLUMNS`): see :func:`build_places`.

    Reception points (deduplicated) and public libraries: a library that is also a reception point
    is merged into it (the place keeps the reception point's type and data, adds
    ``culture_bibliotheques_2020`` to ``sources`` and takes the library's ``weekly_hours`` only
    when it has no hours); the others are places of type ``bibliotheque``, ``services``
    ``equipement``, ``offers_digital_help`` False, ``hours_json`` null, ``weekly_hours`` from the
    list's ``amplitude_horaire`` (``open_evening`` / ``open_saturday`` NA).

    Columns added to the schema:

    - ``mobile`` (bool): the service travels, so its point is not a fixed reception point. True
      for France Services whose ANCT ``format_fs`` is « Itinérante » or « Bus_équivalent » (the
      point is the carrier structure's address, not the stops), False for the other France
      Services; for places of other sources, True only when their name says so (bus, bibliobus,
      itinérant·e…: :func:`mobile_flags`).
    - ``format_raw`` (string): the ANCT ``format_fs`` as published (Fixe, Multisites,
      Bus_équivalent, Fixe_antenne(s), Itinérante) for France Services, NA elsewhere.

    ``attrs["counts"]`` holds the counts per source before/after deduplication, of the libraries
    merged / added (``counts["libraries"]``), and of the places kept out for lack of coordinates
    (:func:`build_places` also returns those rows).
    """
    result = build_places(raw_dir, communes=communes, region_departements=region_departements)
    places = result.places
    places.attrs["counts"] = result.counts
    return places


def counts_table(counts: Mapping) -> pd.DataFrame:
    """Counts per source as a small DataFrame (rows: sources), for reports."""
    return pd.DataFrame(counts.get("sources", {})).T
