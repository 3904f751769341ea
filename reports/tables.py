"""Zone table of the exports, French column labels and formats, the column dictionary, the
« À propos » sheet and the Comparer's long table (no Streamlit).

Every export column has a short French label (:func:`column_label`, the header of the XLSX and,
as an option, of the CSV), a definition (:func:`column_dictionary`) and, for numbers, an Excel
number format (:func:`excel_format`: thousands separated counts, one decimal for rates, percent
for 0–1 shares).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import pandas as pd

from indicators import CATALOGUE
from reports.figures import FIGURE_COLUMNS, bivariate_label, source_entries
from reports.labels import STATUS_LABELS

ZONE_ID_COLUMNS = ("code", "name", "code_commune", "commune_name", "code_epci", "epci_name", "code_departement", "code_region")
ZONE_RESULT_COLUMNS = (
    "score", "measured_share", "reference", "uninhabited", "n_indicators", "n_imputed", "need", "need_method", "need_imputed",
    "need_estimated", "access", "access_estimated", "target", "unmet", "priority_rank", "bivariate_class",
    "nearest_time_min", "pop_beyond_15", "pop_beyond_30", "travel_mode",
)
ZONE_COLUMN_LABELS = {
    "code": "code de la zone (IRIS 9 caractères, commune 5)",
    "name": "nom de la zone",
    "code_commune": "code INSEE de la commune de la zone (5 caractères)",
    "commune_name": "nom de la commune de la zone",
    "code_epci": "SIREN de l'EPCI de la commune (9 chiffres, COG 2024)",
    "epci_name": "nom de l'EPCI de la commune",
    "code_departement": "code du département",
    "code_region": "code de la région",
    "population": "population (habitants)",
    "population_vintage": "millésime du recensement de la population",
    "score": "indice de fragilité numérique (note /10, plus haut = plus fragile)",
    "measured_share": "part de l'indice qui vient de données mesurées (0 à 1 ; le reste repose sur des estimations)",
    "reference": "territoire de référence de l'indice (departement, region, france, all…)",
    "uninhabited": "zone sans habitants recensés (non notée)",
    "need_estimated": "part du besoin qui repose sur des données estimées (0 à 1)",
    "access_estimated": "part de l'accessibilité qui repose sur des horaires par défaut ou un besoin estimé (0 à 1)",
    "pop_beyond_15": "habitants à plus de 15 min du lieu le plus proche (somme des IRIS)",
    "pop_beyond_30": "habitants à plus de 30 min du lieu le plus proche (somme des IRIS)",
    "n_indicators": "nombre d'indicateurs notés",
    "n_imputed": "nombre d'indicateurs imputés (médiane de la référence)",
    "need": "personnes en besoin d'accompagnement",
    "need_method": "formule du besoin (poor_persons, population_x_rate, imputed_reference_rate, age_groups…)",
    "need_imputed": "besoin estimé faute de donnée publiée (signalé)",
    "access": "accessibilité E2SFCA : heures d'accompagnement par semaine pour 1 000 personnes en besoin",
    "target": "cible d'accessibilité (même unité ; médiane de la référence)",
    "unmet": "besoin non couvert (personnes)",
    "priority_rank": "rang de priorité (1 = plus grand besoin non couvert)",
    "bivariate_class": "classe indice de fragilité × accès « n-a » (terciles 1 = faible à 3 = fort ; vide = non calculée)",
    "bivariate_label": "classe fragilité × accès en clair",
    "nearest_time_min": "temps estimé jusqu'au lieu le plus proche (minutes)",
    "travel_mode": "mode de déplacement supposé (walk = à pied, car = voiture)",
}
#: short French headers of the zone columns (labels, never codes, in the files a reader opens)
ZONE_COLUMN_TITLES = {
    "code": "Code", "name": "Nom", "code_commune": "Code commune", "commune_name": "Commune", "code_epci": "Code EPCI",
    "epci_name": "EPCI", "code_departement": "Code département", "code_region": "Code région",
    "population": "Population", "population_vintage": "Millésime de la population",
    "score": "Indice de fragilité (/10)", "measured_share": "Part mesurée de l'indice", "reference": "Référence de l'indice",
    "uninhabited": "Sans habitants", "n_indicators": "Indicateurs notés", "n_imputed": "Indicateurs imputés",
    "need": "Personnes en besoin", "need_method": "Formule du besoin", "need_imputed": "Besoin imputé",
    "need_estimated": "Part estimée du besoin", "access": "Accessibilité (h/sem. pour 1 000)",
    "access_estimated": "Part estimée de l'accessibilité", "target": "Cible d'accessibilité (h/sem. pour 1 000)",
    "unmet": "Besoin non couvert", "priority_rank": "Rang de priorité", "bivariate_class": "Classe fragilité × accès (code)",
    "bivariate_label": "Classe fragilité × accès", "nearest_time_min": "Temps au lieu le plus proche (min)",
    "pop_beyond_15": "Habitants à plus de 15 min", "pop_beyond_30": "Habitants à plus de 30 min",
    "travel_mode": "Mode de déplacement",
}
#: status group of the pack → what it is about (headers of the ``<group>_status`` columns)
GROUP_LABELS = {
    "population": "population", "households": "ménages", "unemployment": "chômage", "poverty": "pauvreté",
    "income": "revenu médian", "age": "âge", "age15p": "65 ans ou plus parmi les 15 ans ou plus",
    "diploma15p": "diplôme (15 ans ou plus)", "diploma": "diplôme (RP2022)", "household_types": "types de ménages",
    "ftth": "fibre FttH", "thd": "très haut débit", "mobile4g": "couverture 4G", "mobile": "site 4G le plus proche",
    "libraries": "bibliothèque la plus proche", "activity": "activité", "qpv": "quartiers prioritaires",
}
#: per-indicator column prefixes: (header, definition)
_PREFIXES = (("ind_", "", "valeur de l'indicateur"), ("value_", "Valeur notée : ", "valeur notée"),
             ("score_", "Note : ", "note 1–10"), ("contrib_", "Contribution : ", "contribution à l'indice"),
             ("estimated_", "Part estimée : ", "part estimée (0 à 1)"))
#: Excel number formats (displayed with the reader's own separators: « 449 509 », « 16,4 »)
COUNT_FORMAT, DECIMAL_FORMAT, SHARE_FORMAT, INTEGER_FORMAT = "#,##0", "#,##0.0", "0%", "0"
_COUNT_COLUMNS = {"population", "need", "unmet", "pop_beyond_15", "pop_beyond_30"}
_SHARE_COLUMNS = {"measured_share", "need_estimated", "access_estimated", "Part estimée"}
_INTEGER_COLUMNS = {"priority_rank", "n_indicators", "n_imputed", "nearest_time_min"}


def _indicator_column(col: str) -> tuple[str, str, str] | None:
    """(prefix, header prefix, definition) and the indicator key for ``ind_`` / ``score_`` … columns."""
    for prefix, head, what in _PREFIXES:
        if col.startswith(prefix) and col[len(prefix):] in CATALOGUE:
            return prefix, head, what
    return None


def column_label(col: str) -> str:
    """Short French header of an export column ('Indice de fragilité (/10)', 'Taux de pauvreté
    (seuil à 60 %) (%)', 'Statut : pauvreté'); the column name itself when unknown."""
    if col in ZONE_COLUMN_TITLES:
        return ZONE_COLUMN_TITLES[col]
    found = _indicator_column(col)
    if found:
        prefix, head, _ = found
        ind = CATALOGUE[col[len(prefix):]]
        unit = f" ({ind.unit})" if prefix in ("ind_", "value_") else ""
        return f"{head}{ind.label}{unit}"
    if col.endswith("_status"):
        return f"Statut : {GROUP_LABELS.get(col[:-7], col[:-7])}"
    return col


def column_labels(columns: Sequence[str]) -> dict[str, str]:
    """{column: unique French header}: a repeated header gets its column name in brackets."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for col in columns:
        label = column_label(col)
        if label in seen:
            label = f"{label} [{col}]"
        seen.add(label)
        out[col] = label
    return out


def excel_format(col: str) -> str | None:
    """Excel number format of a numeric export column (None: Excel's general format)."""
    found = _indicator_column(col)
    if col in _COUNT_COLUMNS:
        return COUNT_FORMAT
    if col in _SHARE_COLUMNS or (found and found[0] == "estimated_"):
        return SHARE_FORMAT
    if col in _INTEGER_COLUMNS:
        return INTEGER_FORMAT
    if found and found[0] in ("ind_", "value_") and CATALOGUE[col[len(found[0]):]].unit == "m":
        return COUNT_FORMAT
    if found or col in ("score", "access", "target"):
        return DECIMAL_FORMAT
    return None


def _format_text(fmt: str | None) -> str:
    return {COUNT_FORMAT: "nombre entier, séparateur de milliers", DECIMAL_FORMAT: "nombre à une décimale",
            SHARE_FORMAT: "part de 0 à 1, affichée en %", INTEGER_FORMAT: "nombre entier"}.get(fmt or "", "")


def zone_table(zones: pd.DataFrame, results: pd.DataFrame) -> gpd.GeoDataFrame:
    """Plain-column zone layer for the exports: identifiers, population, statuses, index, need,
    access, unmet need, nearest time, indicator values (``ind_<key>``) and the per-indicator
    ``value_ / score_ / contrib_`` columns; geometry = the WGS84 display geometry.

    ``zones``: pack rows (with ``geometry_display``); ``results``: compute results indexed like them.
    """
    res = results.reindex(zones.index)
    out = pd.DataFrame(index=zones.index)
    for col in ZONE_ID_COLUMNS:
        if col in zones.columns:
            out[col] = zones[col].astype("object").where(zones[col].notna(), None)
    for col in ("population", "population_vintage"):
        if col in zones.columns:
            out[col] = zones[col]
    for col in ZONE_RESULT_COLUMNS:
        if col in res.columns:
            out[col] = res[col]
    if "bivariate_class" in out:
        out["bivariate_label"] = out["bivariate_class"].map(bivariate_label)
    for col in res.columns:
        if col.startswith(("ind_", "value_", "score_", "contrib_", "estimated_")):
            out[col] = res[col]
    for col in zones.columns:
        if col.endswith("_status"):
            out[col] = zones[col]
    out = plain_frame(out)
    geom = gpd.GeoSeries(zones["geometry_display"].values, crs="EPSG:4326", index=zones.index)
    return gpd.GeoDataFrame(out, geometry=geom, crs="EPSG:4326").reset_index(drop=True)


def plain_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Columns as float, int, bool or str (object) only: what CSV, XLSX and GeoPackage all take."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s) and not s.isna().any():
            out[col] = s.astype(bool)
        elif pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("object").where(s.notna(), None)
        elif pd.api.types.is_numeric_dtype(s):
            out[col] = pd.to_numeric(s, errors="coerce").astype(float) if not pd.api.types.is_integer_dtype(s) or s.isna().any() else s.astype("int64")
        else:
            out[col] = s.astype("object").where(s.notna(), None).map(lambda v: v if v is None else str(v))
    return out


def column_definition(col: str) -> str:
    """What an export column holds, in French (catalogue labels for ``ind_`` / ``score_`` … columns)."""
    text = ZONE_COLUMN_LABELS.get(col, "")
    found = _indicator_column(col)
    if found:
        prefix, _, what = found
        ind = CATALOGUE[col[len(prefix):]]
        text = f"{what} : {ind.label}" + (f" ({ind.unit})" if prefix in ("ind_", "value_") else "")
    if col.endswith("_status"):
        text = "statut de la donnée : " + ", ".join(f"{k} = {v}" for k, v in STATUS_LABELS.items())
    return text


def column_dictionary(columns: Sequence[str], *, sheet: str = "Zones") -> pd.DataFrame:
    """The « Dictionnaire » sheet: for each column of ``sheet``, its French header (``Libellé``),
    its name in the files (``Colonne``), what it holds (``Signification``) and its format."""
    labels = column_labels(columns)
    return pd.DataFrame([{"Feuille": sheet, "Libellé": labels[col], "Colonne": col, "Signification": column_definition(col),
                          "Format": _format_text(excel_format(col))} for col in columns],
                        columns=["Feuille", "Libellé", "Colonne", "Signification", "Format"])


#: what the columns of the key-figure sheet hold (its two value columns are named after the territories)
KEY_TABLE_DEFINITIONS = {
    "Indicateur": "chiffre clé (libellé)",
    "Unité": "unité de la valeur",
    "Part estimée": "part de la valeur du territoire qui repose sur des données estimées (0 à 1)",
    "Source et millésime": "producteur(s) et millésime des données, lus dans le manifeste du jeu de données",
    "Remarque": "comment la valeur est calculée, ce qui manque ou est estimé",
}


def key_figures_table(figures: pd.DataFrame, ref_figures: pd.DataFrame | None, name: str, ref_name: str | None) -> pd.DataFrame:
    """The « Chiffres clés » sheet: one row per figure (``figures`` indexed by key), the
    territory's value, the reference's, unit, estimated share, source and note."""
    table = {"Indicateur": figures["label"], name: figures["value"]}
    if ref_figures is not None:
        table[f"Référence : {ref_name}"] = ref_figures["value"].reindex(figures.index)
    table |= {"Unité": figures["unit"], "Part estimée": figures["estimated_share"], "Source et millésime": figures["source"],
              "Remarque": figures["note"]}
    return pd.DataFrame(table).reset_index(drop=True)


def workbook_dictionary(sheets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The « Dictionnaire » sheet of a workbook: every column of every sheet (zone columns by
    :func:`column_dictionary`, key-figure columns by :data:`KEY_TABLE_DEFINITIONS`)."""
    frames = []
    for sheet, df in sheets.items():
        cols = [c for c in df.columns if not isinstance(df[c].dtype, gpd.array.GeometryDtype)]
        d = column_dictionary(cols, sheet=sheet)
        for i, col in enumerate(cols):
            if col in KEY_TABLE_DEFINITIONS:
                d.loc[i, "Signification"] = KEY_TABLE_DEFINITIONS[col]
            elif not d.loc[i, "Signification"] and sheet != "Zones":
                d.loc[i, "Signification"] = f"valeur du chiffre clé pour {str(col).removeprefix('Référence : ')}"
        frames.append(d)
    return pd.concat(frames, ignore_index=True) if frames else column_dictionary([])


def about_table(manifest: Mapping, context: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The « À propos » sheet: context lines, then every indicator group and every source of the
    manifest (title, producer, vintage, licence, address) — nothing hard-coded."""
    rows = [{"Rubrique": "Contexte", "Nom": k, "Producteur": "", "Millésime": "", "Licence": "", "Adresse": "", "Détail": v}
            for k, v in (context or {}).items()]
    for group, meta in sorted(manifest.get("indicators", {}).items()):
        entries = source_entries(manifest, meta.get("sources", []))
        rows.append({"Rubrique": "Indicateur", "Nom": meta.get("label", group),
                     "Producteur": ", ".join(dict.fromkeys(e["producer"] for e in entries)),
                     "Millésime": meta.get("vintage", ""), "Licence": "", "Adresse": "",
                     "Détail": ", ".join(e["key"] for e in entries)})
    for key, s in sorted(manifest.get("sources", {}).items()):
        rows.append({"Rubrique": "Source", "Nom": s.get("title", key), "Producteur": s.get("producer", ""),
                     "Millésime": s.get("vintage", ""), "Licence": s.get("licence", ""),
                     "Adresse": s.get("url") or s.get("page") or "", "Détail": key})
    return pd.DataFrame(rows)


def comparison_long(figures: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> pd.DataFrame:
    """Tidy table of the Comparer: one row per (territory, figure) with value, unit, source, note."""
    frames = []
    for key, figs in figures.items():
        f = figs.copy()
        f.insert(0, "territoire", labels.get(key, key))
        f.insert(1, "cle_territoire", key)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["territoire", "cle_territoire", *FIGURE_COLUMNS])
    return out.rename(columns={"key": "indicateur_cle", "label": "indicateur", "value": "valeur", "unit": "unite",
                               "decimals": "decimales", "note": "remarque"})


__all__ = [
    "ZONE_ID_COLUMNS", "ZONE_RESULT_COLUMNS", "ZONE_COLUMN_LABELS", "ZONE_COLUMN_TITLES", "column_label", "column_labels",
    "excel_format", "key_figures_table", "workbook_dictionary", "KEY_TABLE_DEFINITIONS", "zone_table", "plain_frame", "column_definition", "column_dictionary", "about_table", "comparison_long",
]
