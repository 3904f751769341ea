"""Text of the « Données & méthode » page: the method with its formulas, and what is estimated
per indicator and level (read from the manifest), in French."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from loaders.places import fold
from loaders.quality import quality_rows
from ui.folium_map import format_fr
from ui.safe_text import escape_md_cells, md_link

#: French for the English fragments of the manifest's producers, vintages and licences (written by
#: the pack build for developers), longest first
SOURCE_TEXT_FR = {
    "(from INSEE COG, DGCL EPCI list, INSEE populations légales)":
        "(d'après le COG de l'INSEE, la liste des EPCI de la DGCL et les populations légales de l'INSEE)",
    "(ARCEP open data; no licence stated by the aggregating repository)":
        "(données ouvertes de l'ARCEP ; licence non précisée par le dépôt qui les rassemble)",
    "(IGN/INSEE data); derivative's own licence unstated": "(données IGN / INSEE) ; licence de l'extrait non précisée",
    "(IGN data); derivative's own licence unstated": "(données IGN) ; licence de l'extrait non précisée",
    "; compilation licence unstated": " ; licence de la compilation non précisée",
    "(DGCL list, early 2024)": "(liste de la DGCL, début 2024)",
    "(ARCEP open data)": "(données ouvertes de l'ARCEP)",
    "(via a third-party extract)": "(extrait diffusé par un tiers)",
    "January 2018": "janvier 2018",
}
#: the pack's tables, as a user knows them
TABLE_LABELS = {
    "region": "Région", "departement": "Départements", "epci": "EPCI (intercommunalités)", "commune": "Communes",
    "iris": "IRIS (quartiers)", "places": "Lieux d'accueil et structures", "qpv": "Quartiers prioritaires (QPV)",
    "reference_france": "Valeurs nationales de référence (communes de France)",
}

#: how each indicator group is built and what stays estimated, per level (French, for users)
ESTIMATES = {
    "population": ("Population municipale RP2022 (métropoles) ou RP2021.",
                   "IRIS : parts de la population RP2016 des IRIS × population communale ; IRIS absents du RP2016 : "
                   "sans habitants (zones d'activités) ou, s'ils ont un taux Filosofi, population médiane des IRIS de la commune."),
    "poverty": ("Filosofi 2021 : taux publié × personnes fiscales. Communes sous secret statistique : estimation "
                "(modèle du revenu médian, calé sur le taux publié de l'EPCI quand il existe, corrigé ailleurs).",
                "IRIS : taux Filosofi 2021 de l'IRIS (2019 à défaut, sinon celui de la commune), recalé pour que les IRIS "
                "d'une commune totalisent la commune."),
    "age15p": ("65 ans ou plus parmi les 15 ans ou plus : RP2022 (métropoles), taux RP2017 ailleurs.",
               "IRIS : effectifs de la commune répartis selon la structure par âge RP2016 de l'IRIS."),
    "diploma15p": ("Peu ou pas diplômés (au plus CAP-BEP) parmi les 15 ans ou plus : RP2022 (Métropole de Grenoble), taux RP2017 ailleurs.",
                   "IRIS : taux de la commune."),
    "thd": ("Locaux sans accès à 30 Mbit/s ou plus (toutes technologies), ARCEP 2019, communes 2019 rattachées aux communes 2024.",
            "IRIS : taux de la commune."),
    "mobile4g": ("Part de la surface couverte en 4G par le meilleur opérateur (ARCEP 2019 T3). Lyon, absente du fichier : "
                 "estimée d'après la distance au site 4G le plus proche.", "IRIS : taux de la commune."),
    "ftth": ("Locaux raccordables à la fibre (ARCEP T1 2018) ; 144 communes où la source compte plus de locaux "
             "raccordables que de locaux : ramenées à 100 %, signalées.", "IRIS : taux de la commune."),
}

METHOD_MD = r"""
### 1. Besoin : indice de fragilité numérique
Indice de fragilité numérique de La Mednum (2023), cinq indicateurs, plus haut = plus fragile :
locaux **sans très haut débit fixe ≥ 30 Mbit/s** (ARCEP 2019, toutes technologies), **surface sans couverture 4G**
(meilleur opérateur, ARCEP 2019), **taux de pauvreté** à 60 % (Filosofi 2021), **65 ans ou plus parmi les 15 ans ou
plus** et **peu ou pas diplômés parmi les 15 ans ou plus** (définitions du RP2017, seules disponibles pour toutes les
communes ; RP2022 pour les communes des métropoles, même définition). Chaque indicateur est noté de 1 à 10 (déciles sur
les zones de référence), puis l'indice est la moyenne pondérée des notes :
$$ I_i = \frac{\sum_k w_k\, s_{ik}}{\sum_k w_k}, \qquad w_k \in \{0,\dots,10\}. $$
Autres normalisations : rapport à la référence $\times 100$ (IFN 2019) et min–max 0–10 (DERI). La contribution de chaque
indicateur est $w_k s_{ik} / \sum w$ : les contributions s'additionnent à l'indice. Références : département (par défaut),
EPCI, région, ou **France** (communes et départements : distributions nationales des fichiers ARCEP 2019, Filosofi 2021 et
RP2017 ; un indicateur sans fichier national garde la région). Quand la maille est la référence elle-même (les départements
classés dans leur département), la référence monte d'un niveau, et l'explication de la zone le dit. Les zones sans habitants
ne sont pas notées.

Part **mesurée** d'une note : $\sum_k c_{ik}\,(1 - e_{ik}) / I_i$, où $c_{ik}$ est la contribution et $e_{ik}$ la part
estimée de l'indicateur dans la zone (1 pour une valeur manquante remplacée par la médiane). Sur les cartes, une zone dont
au moins 10 % de la valeur repose sur des estimations est dessinée plus pâle, avec un contour pointillé.

### 2. Personnes concernées — une seule valeur par territoire
*Modèle précarité* : $N = 0{,}40 \times$ personnes sous le seuil de pauvreté (chiffre d'appel d'Emmaüs Connect).
*Modèle illectronisme* : $N = \sum_g P_g\, r_g$ avec les taux par âge de l'INSEE (Insee Première n° 1780, 2019).
Le besoin est calculé pour chaque commune à partir de ses effectifs, puis réparti entre ses IRIS
($N_i = N_c\, n_i / \sum_{j \in c} n_j$) ; EPCI, départements et région sont des **sommes** de communes. Le besoin d'un
territoire est donc le même sur la carte (IRIS ou communes), le diagnostic, la comparaison, l'implantation et les exports.

Communes sous **secret statistique** (Filosofi ne publie pas leur taux de pauvreté) : leur nombre de personnes pauvres est
estimé à partir de ce qui est publié sur elles. Un modèle $\text{logit}(\tau) = \beta_0 + \beta_1 \ln(\text{revenu médian}) +
\beta_2 \ln(\text{personnes par ménage fiscal})$ est ajusté sur les petites communes qui publient ; dans un EPCI qui publie son
propre taux (Grenoble-Alpes-Métropole : 15,0 %), les communes sous secret se partagent ce que laisse ce taux une fois
comptées les communes qui publient le leur ; ailleurs, le modèle est corrigé du rapport observé dans ces EPCI ($\kappa$).
Jamais le taux des communes qui publient (plus grandes et plus pauvres).

### 3. Offre
Capacité d'un lieu : $S_j$ = heures d'ouverture hebdomadaires $\times$ personnel. France services : les deux agents de la
charte, plus les postes de conseiller numérique enregistrés. Heures ou personnel inconnus : une valeur par type de lieu,
signalée. Les lieux itinérants (bus France services : l'adresse est celle du porteur) et ceux qui ne déclarent pas
d'accompagnement (bibliothèques, hors lieux de médiation) ne comptent pas dans l'accessibilité ; un lieu fermé toute la
semaine n'est jamais « le plus proche ».

### 4. Accessibilité (E2SFCA), calculée sur les IRIS
$$ R_j = \frac{S_j}{\sum_i W(d_{ij})\, N_i}, \qquad A_i = \sum_j W(d_{ij})\, R_j $$
en heures d'accompagnement par semaine et par personne concernée ; pour une commune ou un territoire, la moyenne des IRIS
pondérée par le besoin. $W$ décroît par paliers avec le temps de trajet (préréglages APL de la DREES, PySAL, 30 minutes).
Temps = distance à vol d'oiseau (Lambert-93) $\times$ coefficient de détour $\div$ vitesse (marche en ville dense, voiture
ailleurs ; transports en commun non modélisés).

### 5. Besoin non couvert
$U_i = N_i \times \max(0,\ 1 - A_i / T)$ avec $T$ la cible (par défaut la médiane de $A$ sur les IRIS de la référence) ;
pour un territoire, la somme de ses IRIS. Classes croisées besoin $\times$ accessibilité (terciles, 3 $\times$ 3) et
classement des zones prioritaires, avec leur robustesse.

### Comment (ne pas) utiliser l'indice
L'indice **classe** des zones entre elles ; il ne mesure pas un nombre de personnes. Comparez des zones de même maille.
Les données ARCEP datent de 2019 et surestiment les manques d'aujourd'hui ; les horaires publiés peuvent être anciens.
Un chiffre ne remplace pas l'avis des acteurs de terrain.
"""


def french_source_text(text: str) -> str:
    """``text`` of the manifest with its English fragments in French (:data:`SOURCE_TEXT_FR`)."""
    for english, french in SOURCE_TEXT_FR.items():
        text = text.replace(english, french)
    return text


def sources_table(manifest: Mapping) -> pd.DataFrame:
    """The sources for a user: French name, producer, vintage, licence and official download page,
    sorted by name (no file name, no checksum)."""
    rows = [
        {
            "Source": s["title"],
            "Producteur": french_source_text(s["producer"]),
            "Millésime": french_source_text(s["vintage"]),
            "Licence": french_source_text(s["licence"]),
            "Téléchargement officiel": s.get("page") or s.get("url") or None,
        }
        for s in manifest.get("sources", {}).values()
    ]
    # French order, accents and case ignored (« Découpage » before « Diplôme »)
    return pd.DataFrame(rows).sort_values("Source", key=lambda c: c.map(fold), ignore_index=True)


def sources_table_md(manifest: Mapping) -> pd.DataFrame:
    """:func:`sources_table` for ``st.table`` (a table that wraps its cells, so no name is cut):
    texts escaped as Markdown, the download page as a « page officielle » link, « — » when the
    source has none (an export given to the project)."""
    table = escape_md_cells(sources_table(manifest), ["Source", "Producteur", "Millésime", "Licence"])
    table["Téléchargement officiel"] = [md_link("page officielle", u) or "—" for u in table["Téléchargement officiel"]]
    return table


def contents_table(manifest: Mapping) -> pd.DataFrame:
    """What the data pack holds, by French name, with the number of rows in French format."""
    tables = manifest.get("tables", {})
    order = [k for k in TABLE_LABELS if k in tables] + sorted(k for k in tables if k not in TABLE_LABELS)
    return pd.DataFrame([{"Contenu": TABLE_LABELS.get(k, k), "Lignes": format_fr(tables[k]["rows"], 0)} for k in order])


#: the pack's levels as the tables name them
LEVEL_TEXT = {"iris": "IRIS", "commune": "communes", "epci": "EPCI", "departement": "départements", "region": "région"}


def _pct(value) -> str:
    """« 26,6 » (one decimal, French), « n.d. » when missing."""
    return format_fr(value, 1)


def coverage_table(manifest: Mapping) -> pd.DataFrame:
    """Coverage of each indicator per level (``loaders.quality.quality_rows``), as text for a
    table that wraps: French level names and numbers, short headers (the tab's text explains)."""
    rows = [{
        "Indicateur": r["indicator"],
        "Maille": LEVEL_TEXT.get(r["level"], "autre"),
        "Zones": format_fr(r["zones"], 0),
        "Avec valeur (%)": _pct(r["with_value_pct"]),
        "Population couverte (%)": _pct(r["population_covered_pct"]),
        "Estimé (%)": _pct(r["imputed_pct"]),
        "Zones corrigées": format_fr(r.get("capped_zones"), 0),
        "Millésime": str(r.get("vintage") or "n.d."),
    } for r in quality_rows(manifest)]
    return pd.DataFrame(rows)


def estimates_table(manifest: Mapping) -> pd.DataFrame:
    """What is estimated, per indicator and level: how it is built, the estimated share (manifest);
    numbers as numbers (the report formats them; the page: :func:`estimates_text`)."""
    rows = []
    meta = manifest.get("indicators", {})
    levels = LEVEL_TEXT
    for r in quality_rows(manifest):
        if r["group"] not in ESTIMATES:
            continue
        commune_text, iris_text = ESTIMATES[r["group"]]
        rows.append({
            "Indicateur": meta.get(r["group"], {}).get("label", r["group"]),
            "Maille": levels.get(r["level"], r["level"]),
            "Zones avec valeur (%)": r["with_value_pct"],
            "Estimé (%)": r["imputed_pct"],
            "Comment": iris_text if r["level"] == "iris" else commune_text,
        })
    return pd.DataFrame(rows)


def estimates_text(manifest: Mapping) -> pd.DataFrame:
    """:func:`estimates_table` with its shares as French text, for a table that wraps."""
    table = estimates_table(manifest)
    for col in ("Zones avec valeur (%)", "Estimé (%)"):
        if col in table:
            table[col] = table[col].map(_pct)
    return table


__all__ = ["METHOD_MD", "ESTIMATES", "SOURCE_TEXT_FR", "TABLE_LABELS", "french_source_text", "sources_table", "sources_table_md", "contents_table",
           "estimates_table", "coverage_table", "estimates_text", "LEVEL_TEXT"]
