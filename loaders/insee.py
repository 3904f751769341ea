"""INSEE statistics: Filosofi (income, poverty) and census (RP) tables, as published.

Every ``load_*`` function takes the raw directory (default :data:`loaders.RAW_DIR`), reads one
file (or the three RP2016 IRIS files) under ``<raw_dir>/insee/`` and returns a tidy DataFrame:
one row per zone, codes normalised once (commune ``01001``, IRIS 9 characters, EPCI SIREN 9
digits), numbers as floats. Missing is NaN, never 0: INSEE markers become NaN and a flag column
says why (``s`` secret, ``ns`` not significant, ``so`` not applicable, ``nd``/``vm`` not
available). Bad input (wrong separator, missing column, truncated file, mis-encoded copy) raises
:class:`~loaders.errors.LoaderError` naming the file and the expected columns.

Formats handled (see ``shared/data/SOURCES-geo-insee.md`` B and ``SOURCES-census-qpv.md`` A):
``;`` + decimal comma (Filosofi, comparator export, Melodi export), ``,`` + decimal point
(third-party derivatives), UTF-8 with or without BOM, banner lines, quoted numbers, IRIS codes
saved as numbers (leading zero lost), an unnamed pandas index column (RP2016 IRIS extracts).
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from loaders import RAW_DIR, geography
from loaders import download as _download
from loaders.errors import LoaderError
from loaders.sources import Source
from loaders.tabular import (
    check_unparsed,
    commune_code,
    iris_code,
    nan_if_empty,
    read_csv,
    read_text,
    siren_code,
    to_number,
)

#: SIREN of Grenoble-Alpes-Métropole, the territory with every census table.
METROPOLE_SIREN = "200040715"
LICENCE = "Licence Ouverte / Etalab 2.0"
_INSEE_FILE = "https://www.insee.fr/fr/statistiques/fichier"
log = logging.getLogger(__name__)

SOURCES: dict[str, Source] = {
    s.key: s
    for s in (
        Source(
            key="filosofi_com_2021",
            title="Revenus, pauvreté et niveau de vie en 2021 — base communale (cc_filosofi_2021_COM)",
            producer="INSEE-DGFiP-Cnaf-Cnav-CCMSA",
            vintage="Filosofi 2021",
            raw_path="insee/cc_filosofi_2021_COM.csv",
            sha256="145d3b90d0720e5e011fccdc05f72be500e4cca4dc077add14d28cfa77b86eef",
            licence=LICENCE,
            url=f"{_INSEE_FILE}/7756729/base-cc-filosofi-2021-geo2025_csv.zip",
            page="https://www.insee.fr/fr/statistiques/7756729",
            notes=(
                "Official INSEE file (byte copy taken from the GitHub repository greg2gld/DS-Immo), communes "
                "of 1 Jan 2024. TP60 and detailed variables are secret ('s') in small communes (Isère: 85 of "
                "512 published); 'nd' = not available. The download URL is INSEE's newer release of the same "
                "table in 2025 geography (zip)."
            ),
        ),
        Source(
            key="filosofi_iris_dec_2021",
            title="Revenus déclarés 2021 par IRIS (BASE_TD_FILO_IRIS_2021_DEC)",
            producer="INSEE-DGFiP-Cnaf-Cnav-CCMSA",
            vintage="Filosofi 2021",
            raw_path="insee/BASE_TD_FILO_IRIS_2021_DEC.csv",
            sha256="631eff9d075d923dafa07203f5a6b51be99993fce0bd1d0050fd7193afad66a5",
            licence=LICENCE,
            url=f"{_INSEE_FILE}/8229323/BASE_TD_FILO_IRIS_2021_DEC_CSV.zip",
            page="https://www.insee.fr/fr/statistiques/8229323",
            notes=(
                "Official INSEE file (byte copy taken from greg2gld/DS-Immo), IRIS geography 2023. DECLARED "
                "income before transfers: DEC_TP6021 is a low-declared-income rate, NOT the official poverty "
                "rate. 'ns' not significant, 'so' not applicable, 'nd' not available."
            ),
        ),
        Source(
            key="filosofi_iris_disp_2019",
            title="Taux de pauvreté 2019 par IRIS (extrait de BASE_TD_FILO_DISP_IRIS_2019)",
            producer="INSEE-DGFiP-Cnaf-Cnav-CCMSA",
            vintage="Filosofi 2019",
            raw_path="insee/BASE_TD_FILO_DISP_IRIS_2019_extrait_TP60.csv",
            sha256="b66f584308cd6ae4f5c370b4b35320ce4267cf0037b2d6bb60007120d74d442d",
            licence=LICENCE,
            url=None,
            page=None,
            notes=(
                "DERIVATIVE (GitHub beababa/01_stat): the author kept only IRIS and DISP_TP6019 of INSEE's "
                "disposable-income IRIS table and saved IRIS codes as numbers (leading zeros lost, restored "
                "here) with some values quoted. 2 827 values (6 150 to 34 860) cannot be rates (they look "
                "like median incomes): they are set to NaN with status 'out_of_range'. No official URL for "
                "the 2019 file is known; the official 2021 successor is "
                f"{_INSEE_FILE}/8229323/BASE_TD_FILO_IRIS_2021_DISP_CSV.zip"
            ),
        ),
        Source(
            key="filosofi_iris_disp_2021",
            title="Revenus, pauvreté et niveau de vie en 2021 (Iris) — revenu disponible (BASE_TD_FILO_IRIS_2021_DISP)",
            producer="INSEE-DGFiP-Cnaf-Cnav-CCMSA",
            vintage="Filosofi 2021",
            raw_path="insee/BASE_TD_FILO_IRIS_2021_DISP.csv",
            sha256="6e5e07d70abff4941d6b22a9c135f686a38b6683bee6ce06f67b35a8277501fb",
            licence=LICENCE,
            url=f"{_INSEE_FILE}/8229323/BASE_TD_FILO_IRIS_2021_DISP_CSV.zip",
            page="https://www.insee.fr/fr/statistiques/8229323",
            notes=(
                "Official INSEE file (byte copy taken from the GitHub repository vadimbec/polipy, commit "
                "757133a2209d626020b906dd0063aadd3ccd3a43, path iris/), IRIS geography of 1 Jan 2022; Lyon's "
                "IRIS are coded by arrondissement (6938x), not 69123. DISPOSABLE income (after transfers and "
                "taxes): DISP_TP6021 is the official poverty rate at 60 % of the median. Only IRIS of communes "
                "split into IRIS with enough households (16 026, AURA 1 601). 'ns' not significant, 'nd' not "
                "available, 'so' not applicable, 's' secret (4 IRIS, none in AURA). DISP_INCERT21: 1 = rate "
                "rounded to the unit, 2 = rounded to the nearest odd number (500 to 999 households)."
            ),
        ),
        Source(
            key="rp2017_rates_d4g",
            title="Taux communaux RP 2017 : âge, diplôme, ménages (Data For Good × La Mednum, indice de fragilité numérique)",
            producer="INSEE (RP 2017), taux calculés par Data For Good × La Mednum",
            vintage="RP2017",
            raw_path="insee/d4g_rp2017_communes_age_diplome_menages.csv",
            sha256="e74976e520e037d212047ad3d8a140e85a53bdb938d3146c5920fecb8f80f223",
            licence="Licence Ouverte / Etalab 2.0 (données INSEE) ; dépôt MIT",
            url=None,
            page="https://www.insee.fr/fr/statistiques/4516086",
            notes=(
                "DERIVATIVE (GitHub dataforgoodfr/batch8_mednum, data/data_scol_menage_demandeurEmplois.csv, "
                "commit 167f8b0566e2544ddd7aafd1f77841769078522f): rates only, computed by Data For Good from "
                "INSEE's 2017 commune bases base-cc-coupl-fam-men-2017 and base-cc-diplomes-formation-2017, "
                "communes of 2019-2020 (35 003 codes, Paris/Lyon/Marseille and their arrondissements). "
                "TX_65ETPLUS = (P17_POP6579 + P17_POP80P) / P17_POP15P x 100 (65+ among people aged 15+, not "
                "among all inhabitants); TX_25ETMOINS = (P17_POP1519 + P17_POP2024) / P17_POP15P x 100; "
                "TX_NSCOL15P = (P17_NSCOL15P_DIPLMIN + _BEPC + _CAPBEP) / (P17_POP1517 + P17_POP1824 + "
                "P17_POP2529 + P17_POP30P) x 100 (non-enrolled with at most a CAP-BEP among ALL people 15+); "
                "TX_MENSEUL = C17_MENPSEUL / C17_MEN x 100; TX_FAMMONO = C17_MENFAMMONO / C17_MEN x 100. "
                "TX_DEMANDEUR_EMPLOIS (72 values) is not loaded. 1 111 codes appear twice, the second row "
                "empty (merge artefact): the row with values is kept. Do not rank these rates together with "
                "RP2022 rates of other definitions. INSEE pages of the two inputs (as cited in public code, "
                "not re-checked): diplomas 2017 https://www.insee.fr/fr/statistiques/4516086 , couples-"
                "familles-ménages 2017 https://www.insee.fr/fr/statistiques/4515503 ."
            ),
        ),
        Source(
            key="comparateur_communes_2021",
            title="Communes de France avec variables du comparateur de territoires (datas.fun)",
            producer="INSEE (compilation rcarlier/datas.fun)",
            vintage="RP2021, COG 2024",
            raw_path="insee/communes_comparateur2024_datasfun_derive.csv",
            sha256="2c2676845aa41545ea8b4420e6d3bebb818146d0f657ebb938cb4375751f1b65",
            licence="Licence Ouverte (sources INSEE, La Poste); compilation licence unstated",
            url=None,
            page="https://www.insee.fr/fr/statistiques/2521169",
            notes=(
                "DERIVATIVE (GitHub rcarlier/datas.fun, France/communes.csv): the author joined INSEE COG 2024, "
                "the INSEE 'base du comparateur de territoires' (27/06/2024) and La Poste postal codes, renamed "
                "the columns and wrote one row per postal code plus one row per commune déléguée (COMD, "
                "repeating its parent's figures). Deduplicated here to one row per commune. Rows with "
                "0 households but inhabitants or births (Mayotte, a few merged communes) are missing data: "
                "their zero RP counts become NaN (rp2021_status 'incomplete')."
            ),
        ),
        Source(
            key="comparateur_rp2022_gam",
            title="Comparateur de territoires — Grenoble-Alpes-Métropole, ses 49 communes et Rennes Métropole",
            producer="INSEE",
            vintage="RP2022 (géographie 2025), Filosofi 2021, état civil 2024, Flores 2023",
            raw_path="insee/insee_comparateur_territoires_rp2022_grenoble_alpes_metropole.csv",
            sha256="65c5170791c94169f48f1f0463a60ede923f4cd382fdf258b0e96ef9e4bf3d0f",
            licence=LICENCE,
            url=None,
            page=None,
            notes=(
                "Official export of INSEE's interactive comparator (byte copy from GitHub "
                "DufaudSimon/ProjetMetropoleGrenoble); no direct download URL (interactive tool). Transposed "
                "layout: one line per indicator, one column per territory."
            ),
        ),
        Source(
            key="pop_age_5metropoles",
            title="Population par sexe et âge quinquennal — communes de 5 métropoles (2011, 2016, 2022)",
            producer="INSEE",
            vintage="RP2011, RP2016, RP2022",
            raw_path="insee/insee_pop_sexe_age_quinquennal_5metropoles_2011_2016_2022_derive.csv",
            sha256="f11fdd2a2ec9cca6aee1a78222f86ac8518be8a225b251fa2cc1b8a3734dfbe0",
            licence=LICENCE,
            url=f"{_INSEE_FILE}/8581696/base-cc-evol-struct-pop-2022_csv.zip",
            page=None,
            notes=(
                "DERIVATIVE (GitHub DufaudSimon/ProjetMetropoleGrenoble): rows filtered to 247 communes of "
                "five metropolises, values rounded to integers, the year suffix of 2011 and 2022 columns "
                "renamed to 2016, column 'annee' added. The URL is INSEE's official RP2022 communal "
                "population base (different layout: P22_POP0014, P22_POP65P, …), for a rebuild elsewhere."
            ),
        ),
        Source(
            key="diplomas_gam",
            title="Diplôme le plus élevé de la population non scolarisée de 15 ans ou plus — 49 communes de la Métropole",
            producer="INSEE",
            vintage="RP2011, RP2016, RP2022",
            raw_path="insee/insee_diplomes_15p_non_scolarises_metro_grenoble_2011_2016_2022.csv",
            sha256="89cd22578f8f0650dd4ff517c972b642631440991a5b20cdaae426e57d5a1454",
            licence=LICENCE,
            url="https://api.insee.fr/melodi/file/DS_RP_DIPLOMES_PRINC/DS_RP_DIPLOMES_PRINC_2022_CSV_FR",
            page="https://www.insee.fr/fr/statistiques/8581488",
            notes=(
                "INSEE Melodi export (dataset DS_RP_DIPLOMES_PRINC, inferred from the layout), 49-commune "
                "selection made by the author of GitHub DufaudSimon/ProjetMetropoleGrenoble. Communes are "
                "given by NAME only (joined to codes here). Diploma categories differ by year. The URL is "
                "the national Melodi bulk file (as cited in public code, not re-checked)."
            ),
        ),
        Source(
            key="household_types_5metropoles",
            title="Ménages par âge de la personne de référence et structure familiale — communes de 5 métropoles",
            producer="INSEE",
            vintage="RP2022 (exploitation complémentaire)",
            raw_path="insee/insee_menages_age_pr_structure_familiale_5metropoles_derive.csv",
            sha256="3452d847d1ab64bccce83945663680a6dcf7f6d311aa99743b58b27c4320b2c1",
            licence=LICENCE,
            url=None,
            page=None,
            notes=(
                "DERIVATIVE (GitHub DufaudSimon/ProjetMetropoleGrenoble): INSEE detailed table AGEMEN7 x TDM8, "
                "rows filtered to 247 communes, values rounded to integers, columns renamed by the author "
                "(labels are the author's reading of the INSEE codes). Original file name/URL not stated; "
                "official successor: Melodi DS_RP_MENAGES_PRINC or base-cc-couples-familles-menages-2022."
            ),
        ),
        Source(
            key="rp2016_iris_population",
            title="Population en 2016 par IRIS (base-ic-evol-struct-pop-2016), IRIS d'habitat, région 84",
            producer="INSEE",
            vintage="RP2016",
            raw_path="insee/insee_rp2016_iris_habitat_population_ara_extrait.csv",
            sha256="2f9012e3844232385f17563441122811e74a67798f3657d89dd8c637c0095e6c",
            licence=LICENCE,
            url=f"{_INSEE_FILE}/8647014/base-ic-evol-struct-pop-2022_csv.zip",
            page=None,
            notes=(
                "DERIVATIVE (GitHub EpidIA-org/AI_epidemiology): only IRIS of type H and a subset of columns "
                "kept, pandas index written as an unnamed first column; rows of région 84 kept by us. The URL "
                "is the official RP2022 successor (P22_ columns, IRIS geography 2025), not the 2016 file."
            ),
        ),
        Source(
            key="rp2016_iris_menages",
            title="Couples, familles, ménages en 2016 par IRIS (base-ic-couples-familles-menages-2016), IRIS d'habitat, région 84",
            producer="INSEE",
            vintage="RP2016",
            raw_path="insee/insee_rp2016_iris_habitat_menages_ara_extrait.csv",
            sha256="80a0134c78bfad87f70d37db88eb45a00c4aa500fdb3a75fc0611eb9764e07d3",
            licence=LICENCE,
            url=f"{_INSEE_FILE}/8647008/base-ic-couples-familles-menages-2022_csv.zip",
            page=None,
            notes=(
                "DERIVATIVE (GitHub EpidIA-org/AI_epidemiology): IRIS of type H only, subset of columns "
                "(persons in households by household type), unnamed index column; région 84 rows kept by us. "
                "The URL is the official RP2022 successor, not the 2016 file."
            ),
        ),
        Source(
            key="rp2016_iris_logement",
            title="Logement en 2016 par IRIS (base-ic-logement-2016), IRIS d'habitat, région 84",
            producer="INSEE",
            vintage="RP2016",
            raw_path="insee/insee_rp2016_iris_habitat_logement_ara_extrait.csv",
            sha256="f1b535f9e5651e27f8548fd8cda3f3268b288626b116730e209babd764ad902a",
            licence=LICENCE,
            url=f"{_INSEE_FILE}/8647012/base-ic-logement-2022_csv.zip",
            page=None,
            notes=(
                "DERIVATIVE (GitHub EpidIA-org/AI_epidemiology): IRIS of type H only, 3 columns (main "
                "residences: houses, flats, social HLM rentals), unnamed index column; région 84 rows kept by "
                "us. The URL is the official RP2022 successor, not the 2016 file."
            ),
        ),
    )
}


def download(key: str) -> Path:
    """Download the official file of source ``key`` into the user cache; return its local path.

    The file is returned as published (usually a zip). Raises LoaderError for an unknown key or a
    source without an official download URL (derivatives, interactive exports).
    """
    if key not in SOURCES:
        raise LoaderError(key, "unknown INSEE source key", f"one of {', '.join(SOURCES)}")
    src = SOURCES[key]
    if not src.url:
        raise LoaderError(
            src.raw_path, f"source {key!r} has no official download URL ({src.title})", "a source with an official URL"
        )
    name = src.url.rstrip("/").rsplit("/", 1)[-1]
    return _download.fetch(src.url, name)


# --------------------------------------------------------------------------------------------
# shared parsing helpers
# --------------------------------------------------------------------------------------------

#: INSEE markers → status of the value.
MARKER_STATUS = {
    "s": "secret",
    "ns": "not_significant",
    "so": "not_applicable",
    "nd": "not_available",
    "vm": "not_available",
}


def _path(raw_dir: Path, key: str) -> Path:
    return Path(raw_dir) / SOURCES[key].raw_path


#: UTF-8 bytes of typical double-encoding ("mojibake"): 'Ã©' for 'é', 'â€™' for '’'
_MOJIBAKE = re.compile(rb"\xc3\x83[\xc2\xc5][\x80-\xbf]|\xc3\xa2(?:\xe2\x82\xac|\xc2\x80)")


def _read(path: Path, required: Sequence[str], *, sep: str, skiprows: int = 0) -> pd.DataFrame:
    """tabular.read_csv (UTF-8 with/without BOM, or latin-1/cp1252), making sure every error names
    the expected columns; refuses double-encoded text (UTF-8 read as latin-1 and saved again) and
    a last line cut inside a quoted field (truncated download)."""
    required = list(required)
    columns = f"{sep!r}-separated columns {', '.join(required)}"
    if Path(path).is_file():
        data = Path(path).read_bytes()
        m = _MOJIBAKE.search(data)
        if m:
            sample = m.group(0).decode("utf-8", errors="replace")
            raise LoaderError(
                path,
                f"text is double-encoded ({sample!r} at byte {m.start()}: UTF-8 decoded as latin-1 and saved again)",
                f"the file as published (UTF-8 or latin-1) with {columns}",
            )
        last = data.rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
        if last.count(b'"') % 2:
            raise LoaderError(
                path, "the last line ends inside a quoted field (truncated file?)", f"complete lines with {columns}"
            )
    try:
        return read_csv(path, required, sep=sep, skiprows=skiprows)
    except LoaderError as exc:
        if exc.expected and all(c in exc.expected for c in required[:3]):
            raise
        expected = f"{exc.expected}; " if exc.expected else ""
        raise LoaderError(path, exc.problem, f"{expected}{columns}") from exc


def _require_filled(path: Path, df: pd.DataFrame, columns: Iterable[str], *, skiprows: int = 0) -> None:
    """Raise if a cell that the publisher always fills is empty (the sign of a truncated file)."""
    columns = list(columns)
    for col in columns:
        empty = df[col].astype("string").str.strip().fillna("") == ""
        if empty.any():
            pos = int(np.flatnonzero(empty.to_numpy())[0])
            raise LoaderError(
                path,
                f"empty value in column {col!r} at line {pos + skiprows + 2} (truncated or damaged file?)",
                f"a value (number, code, name or INSEE marker) in every cell of columns {', '.join(columns)}",
            )


def _numbers(path: Path, df: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """``(values, status)`` of a published numeric column.

    status is ``ok`` for a number, ``secret``/``not_significant``/``not_applicable``/
    ``not_available`` for the INSEE markers, ``missing`` for an empty cell. Any other text raises.
    """
    raw = df[column]
    values, marked = to_number(raw, secret_markers=MARKER_STATUS)
    check_unparsed(path, column, raw, values, marked)
    key = raw.astype("string").str.strip().str.strip('"').str.strip().str.lower()
    status = key.map(MARKER_STATUS).astype("string")
    status = status.mask(values.notna(), "ok").fillna("missing")
    return values, status


def _check_codes(path: Path, raw: pd.Series, codes: pd.Series, what: str, *, unique: bool = True) -> None:
    bad = codes.isna()
    if bad.any():
        first = raw[bad].iloc[0]
        raise LoaderError(
            path,
            f"{int(bad.sum())} invalid {what} codes (first: {first!r})",
            f"{what} codes such as {'38185' if what == 'commune' else '381850101'}",
        )
    if unique and codes.duplicated().any():
        dup = codes[codes.duplicated()].iloc[0]
        raise LoaderError(path, f"duplicated {what} code {dup!r}", f"one row per {what}")


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns as pandas ``string`` (missing = ``<NA>``), numbers as float, flags as bool."""
    out = df.reset_index(drop=True)
    for col in out.columns:
        dtype = out[col].dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            out[col] = out[col].astype("string")
        elif pd.api.types.is_integer_dtype(dtype) and col != "year":
            out[col] = out[col].astype(float)
    return out


def _grouped_lists(keys: pd.Series, values: pd.Series) -> tuple[list, list[list]]:
    """Consecutive runs of equal ``keys`` (sorted input) → ``(keys, lists of values)``, in O(n)."""
    out_keys: list = []
    out_vals: list[list] = []
    for k, v in zip(keys.tolist(), values.tolist(), strict=True):
        if out_keys and out_keys[-1] == k:
            out_vals[-1].append(v)
        else:
            out_keys.append(k)
            out_vals.append([v])
    return out_keys, out_vals


def normalise_name(name: str) -> str:
    """Commune name key for matching: no accents, lower case, apostrophes/hyphens as spaces,
    ``st``/``ste`` → ``saint``/``sainte`` (``Saint-Martin-d’Hères`` → ``saint martin d heres``)."""
    s = unicodedata.normalize("NFKD", str(name))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    s = re.sub(r"\bste\b", "sainte", re.sub(r"\bst\b", "saint", s))
    return s


# --------------------------------------------------------------------------------------------
# Filosofi
# --------------------------------------------------------------------------------------------

_FILO_COM_COLUMNS = {
    "NBMENFISC21": "fiscal_households",
    "NBPERSMENFISC21": "fiscal_persons",
    "MED21": "median_income",
    "PIMP21": "taxed_households_share",
    "TP6021": "poverty_rate",
    "TP60AGE521": "poverty_rate_ref_60_74",
    "TP60AGE621": "poverty_rate_ref_75p",
    "PPSOC21": "social_benefits_share",
    "PPFAM21": "family_benefits_share",
    "PPMINI21": "minimum_benefits_share",
    "PPLOGT21": "housing_benefits_share",
    "D121": "income_d1",
    "D921": "income_d9",
    "RD21": "income_d9_d1_ratio",
}


def load_filosofi_communes(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """Filosofi 2021 communal base (``cc_filosofi_2021_COM.csv``, ``;``, decimal comma).

    One row per commune (34 909, COG 2024, Paris/Lyon/Marseille arrondissements included):

    - ``code_commune`` (str);
    - ``fiscal_households`` (NBMENFISC21), ``fiscal_persons`` (NBPERSMENFISC21);
    - ``median_income`` (MED21, € per consumption unit and year, non-additive) and
      ``median_income_status``; the two counts are secret exactly where the median is;
    - ``poverty_rate`` (TP6021, % of persons below 60 % of the national median),
      ``poverty_secret`` (bool: marker ``s``), ``poverty_status`` (``ok``/``secret``/``not_available``);
    - extras, all in %: ``taxed_households_share`` (PIMP21), ``poverty_rate_ref_60_74`` /
      ``poverty_rate_ref_75p`` (TP60AGE521/621, by age of the reference person),
      ``social_benefits_share`` (PPSOC21), ``family_benefits_share`` (PPFAM21),
      ``minimum_benefits_share`` (PPMINI21, minima sociaux), ``housing_benefits_share`` (PPLOGT21);
      deciles ``income_d1`` (D121), ``income_d9`` (D921) in €/UC, ``income_d9_d1_ratio`` (RD21).
    """
    path = _path(raw_dir, "filosofi_com_2021")
    df = _read(path, ["CODGEO", *_FILO_COM_COLUMNS], sep=";")
    _require_filled(path, df, ["CODGEO", *_FILO_COM_COLUMNS])
    out = pd.DataFrame({"code_commune": commune_code(df["CODGEO"])})
    _check_codes(path, df["CODGEO"], out["code_commune"], "commune")
    statuses = {}
    for src, col in _FILO_COM_COLUMNS.items():
        out[col], statuses[col] = _numbers(path, df, src)
    out["median_income_status"] = statuses["median_income"]
    out["poverty_secret"] = (statuses["poverty_rate"] == "secret").astype(bool)
    out["poverty_status"] = statuses["poverty_rate"]
    return _typed(out)


_DEC_COLUMNS = {
    "DEC_MED21": "median_declared_income",
    "DEC_Q121": "declared_income_q1",
    "DEC_Q321": "declared_income_q3",
    "DEC_D121": "declared_income_d1",
    "DEC_D921": "declared_income_d9",
    "DEC_GI21": "declared_income_gini",
    "DEC_TP6021": "low_declared_income_rate",
    "DEC_PIMP21": "taxed_households_share",
    "DEC_PCHO21": "unemployment_benefits_share",
    "DEC_PPEN21": "pensions_share",
}


def load_filosofi_iris_dec(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """Filosofi 2021 IRIS, DECLARED income (``BASE_TD_FILO_IRIS_2021_DEC.csv``, ``;``, decimal comma).

    Declared income is income before taxes and social transfers: ``low_declared_income_rate``
    (DEC_TP6021) is the share of persons below 60 % of the declared-income median, NOT the official
    poverty rate. One row per published IRIS (16 026, IRIS geography 2023):

    - ``code_iris``, ``code_commune`` (str);
    - ``median_declared_income`` (DEC_MED21), ``declared_income_q1``/``_q3`` (DEC_Q121/Q321),
      ``declared_income_d1``/``_d9`` (DEC_D121/D921) in € per consumption unit,
      ``declared_income_gini`` (DEC_GI21) and ``declared_income_status`` (status of the median);
    - ``low_declared_income_rate`` (%) and ``low_declared_income_rate_status``;
    - ``taxed_households_share``, ``unemployment_benefits_share``, ``pensions_share`` (%);
    - ``uncertainty_flag`` (DEC_INCERT21, str, NA when ``so``), ``quality_note`` (DEC_NOTE21, str).

    Markers ``ns``/``so``/``nd``/``s`` → NaN; statuses ``not_significant``/``not_applicable``/
    ``not_available``/``secret``.
    """
    path = _path(raw_dir, "filosofi_iris_dec_2021")
    required = ["IRIS", *_DEC_COLUMNS, "DEC_INCERT21", "DEC_NOTE21"]
    df = _read(path, required, sep=";")
    _require_filled(path, df, required)
    out = pd.DataFrame({"code_iris": iris_code(df["IRIS"])})
    _check_codes(path, df["IRIS"], out["code_iris"], "IRIS")
    out["code_commune"] = out["code_iris"].str[:5]
    statuses = {}
    for src, col in _DEC_COLUMNS.items():
        out[col], statuses[col] = _numbers(path, df, src)
    out["declared_income_status"] = statuses["median_declared_income"]
    out["low_declared_income_rate_status"] = statuses["low_declared_income_rate"]
    for src, col in (("DEC_INCERT21", "uncertainty_flag"), ("DEC_NOTE21", "quality_note")):
        v = nan_if_empty(df[src])
        out[col] = v.mask(v.str.lower().isin(list(MARKER_STATUS)), pd.NA)
    return _typed(out)


def load_filosofi_iris_disp2019(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """Filosofi 2019 IRIS poverty rate on DISPOSABLE income (2-column derivative, ``,``).

    The third-party file lost the leading zero of IRIS codes (``10040101`` → ``010040101``) and
    quotes some values (``"20.5"``). A rate must lie in [0, 100]: larger values (2 827 rows, 6 150
    to 34 860, apparently median incomes written in the rate column) become NaN with status
    ``out_of_range``; the published value is kept in ``published_value``.

    Columns: ``code_iris``, ``code_commune`` (str), ``poverty_rate_2019`` (%),
    ``poverty_rate_2019_status`` (``ok``/``out_of_range``/marker status), ``published_value``.
    """
    path = _path(raw_dir, "filosofi_iris_disp_2019")
    df = _read(path, ["IRIS", "DISP_TP6019"], sep=",")
    _require_filled(path, df, ["IRIS", "DISP_TP6019"])
    out = pd.DataFrame({"code_iris": iris_code(df["IRIS"])})
    _check_codes(path, df["IRIS"], out["code_iris"], "IRIS")
    out["code_commune"] = out["code_iris"].str[:5]
    values, status = _numbers(path, df, "DISP_TP6019")
    bad = (values < 0) | (values > 100)
    out["poverty_rate_2019"] = values.mask(bad)
    out["poverty_rate_2019_status"] = status.mask(bad, "out_of_range")
    out["published_value"] = values
    return _typed(out)


_DISP_COLUMNS = {
    "DISP_TP6021": "poverty_rate_2021",
    "DISP_MED21": "median_income_2021",
    "DISP_D121": "income_d1_2021",
    "DISP_D921": "income_d9_2021",
}
#: published values of DISP_INCERT21 (meta file: 1 = rounded to the unit, 2 = to the nearest odd number)
_DISP_UNCERTAINTY = {"1", "2", "so"}
_PERCENT_MAX = 100.0


def load_filosofi_iris_disp2021(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """Filosofi 2021 IRIS, DISPOSABLE income (``BASE_TD_FILO_IRIS_2021_DISP.csv``, ``;``, decimal comma).

    Disposable income is income after social transfers and direct taxes: ``poverty_rate_2021`` is
    the official poverty rate (persons below 60 % of the metropolitan median disposable income
    per consumption unit). One row per published IRIS, all kept (16 026, IRIS geography of
    1 Jan 2022; Lyon's IRIS carry the arrondissement code 6938x):

    - ``code_iris`` (str, 9 characters), ``code_commune`` (str, its first 5 characters);
    - ``poverty_rate_2021`` (DISP_TP6021, %, NaN when not published);
    - ``median_income_2021`` (DISP_MED21), ``income_d1_2021`` (DISP_D121, 1st decile),
      ``income_d9_2021`` (DISP_D921, 9th decile), all in € per consumption unit and year;
    - ``poverty_uncertainty`` (DISP_INCERT21 as published: ``1`` rate rounded to the unit, ``2``
      rounded to the nearest odd number; NA where INSEE wrote ``so``);
    - ``poverty_status``: ``ok`` when a rate is published, else the INSEE marker as published:
      ``ns`` (not significant), ``nd`` (not available), ``so`` (not applicable), ``s`` (secret).

    A value that is neither a number nor a marker, a rate outside [0, 100] or an unknown
    uncertainty class raises :class:`LoaderError` naming the file and the column.
    """
    path = _path(raw_dir, "filosofi_iris_disp_2021")
    required = ["IRIS", *_DISP_COLUMNS, "DISP_INCERT21"]
    df = _read(path, required, sep=";")
    _require_filled(path, df, required)
    out = pd.DataFrame({"code_iris": iris_code(df["IRIS"])})
    _check_codes(path, df["IRIS"], out["code_iris"], "IRIS")
    out["code_commune"] = out["code_iris"].str[:5]
    for src, col in _DISP_COLUMNS.items():
        out[col] = _numbers(path, df, src)[0]
    _check_percent(path, df, "DISP_TP6021", out["poverty_rate_2021"], df["IRIS"])
    incert = df["DISP_INCERT21"].str.strip().str.lower()
    unknown = ~incert.isin(_DISP_UNCERTAINTY)
    if unknown.any():
        pos = int(np.flatnonzero(unknown.to_numpy())[0])
        raise LoaderError(
            path,
            f"column 'DISP_INCERT21', line {pos + 2}: unknown uncertainty class {df['DISP_INCERT21'].iloc[pos]!r}",
            "1, 2 or so (INSEE meta file)",
        )
    out["poverty_uncertainty"] = incert.mask(incert == "so", pd.NA).to_numpy()
    marker = df["DISP_TP6021"].str.strip().str.lower().to_numpy()
    out["poverty_status"] = np.where(out["poverty_rate_2021"].notna(), "ok", marker)
    return _typed(out)


def _check_percent(path: Path, df: pd.DataFrame, column: str, values: pd.Series, labels: pd.Series) -> None:
    """Raise if a percentage lies outside [0, 100], naming the column, the line and the zone code."""
    bad = ((values < 0) | (values > _PERCENT_MAX)).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise LoaderError(
            path,
            f"column {column!r}, line {pos + 2} ({str(labels.iloc[pos]).strip()}): "
            f"rate {df[column].iloc[pos]!r} outside [0, 100] ({int(bad.sum())} such values)",
            "percentages between 0 and 100",
        )


# --------------------------------------------------------------------------------------------
# Comparator (datas.fun derivative, RP2021) and comparator export (RP2022)
# --------------------------------------------------------------------------------------------

_DATASFUN_NUMBERS = {
    "lat": "lat",
    "lng": "lon",
    "superficie_km2": "area_km2",
    "population_2021": "population_2021",
    "population_2015": "population_2015",
    "menages_2021": "households_2021",
    "naissances_2022": "births_2022",
    "deces_2022": "deaths_2022",
    "pop_15_64_totale_2021": "pop_1564_2021",
    "pop_15_64_chomage_2021": "unemployed_1564_2021",
    "pop_15_64_active_2021": "active_1564_2021",
}
_RP2021_COUNTS_SRC = [
    "population_2021",
    "menages_2021",
    "pop_15_64_totale_2021",
    "pop_15_64_chomage_2021",
    "pop_15_64_active_2021",
]
_RP2021_COUNTS = ["population_2021", "households_2021", "pop_1564_2021", "unemployed_1564_2021", "active_1564_2021"]


def load_comparateur_communes(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """France communes with RP2021 counts (datas.fun derivative of the INSEE comparator, ``,``).

    The file has one row per (commune, postal code) and repeats each commune nouvelle's figures
    on rows of its communes déléguées (``COMD``, same code). Kept: one row per code, preferring
    the ``COM``/``ARM`` row; rows of one code must agree on everything but the postal code.
    Paris/Lyon/Marseille appear both as communes (``COM``) and arrondissements (``ARM``).

    Columns: ``code_commune``, ``name`` (with article), ``commune_type`` (COM/ARM/COMD),
    ``code_departement``, ``code_region`` (str), ``postcodes`` (``;``-joined), ``lat``, ``lon``,
    ``area_km2``, ``population_2021``, ``population_2015``, ``households_2021``, ``births_2022``,
    ``deaths_2022``, ``pop_1564_2021``, ``unemployed_1564_2021`` (≈ P21_CHOM1564),
    ``active_1564_2021`` (≈ P21_ACT1564), ``rp2021_status``: ``ok``, or ``incomplete`` when a
    commune has 0 households but inhabitants or births (Mayotte, some merged communes) — there
    the zero RP counts are missing values and become NaN.
    """
    path = _path(raw_dir, "comparateur_communes_2021")
    text_cols = ["insee_com", "insee_reg", "insee_dep", "commune_article", "code_postal", "commune_type"]
    df = _read(path, [*text_cols, *_DATASFUN_NUMBERS], sep=",")
    _require_filled(path, df, ["insee_com", "commune_article", "commune_type", *_RP2021_COUNTS_SRC])
    df = df.copy()
    df["code_commune"] = commune_code(df["insee_com"])
    _check_codes(path, df["insee_com"], df["code_commune"], "commune", unique=False)
    # prefer the commune row over the rows of its communes déléguées
    df["_rank"] = (df["commune_type"].str.strip() == "COMD").astype(int)
    best = df.groupby("code_commune")["_rank"].transform("min")
    df = df[df["_rank"] == best]
    pc = pd.DataFrame({"code_commune": df["code_commune"], "pc": df["code_postal"].str.strip()})
    pc = pc[pc["pc"] != ""].drop_duplicates().sort_values(["code_commune", "pc"])
    postcodes = {
        code: ";".join(group) for code, group in zip(*_grouped_lists(pc["code_commune"], pc["pc"]), strict=True)
    }
    content = [c for c in df.columns if c not in ("code_postal", "_rank")]
    uniq = df.drop_duplicates(subset=content)
    dup = uniq["code_commune"].duplicated(keep=False)
    if dup.any():
        code = uniq.loc[dup, "code_commune"].iloc[0]
        rows = uniq[uniq["code_commune"] == code]
        cols = [c for c in content if rows[c].nunique() > 1]
        raise LoaderError(
            path,
            f"rows of commune {code} disagree on {cols}",
            "identical values on every row of a commune (only code_postal differs)",
        )
    uniq = uniq.set_index("code_commune")
    out = pd.DataFrame(index=uniq.index)
    out["name"] = nan_if_empty(uniq["commune_article"])
    out["commune_type"] = nan_if_empty(uniq["commune_type"])
    out["code_departement"] = nan_if_empty(uniq["insee_dep"]).str.zfill(2)
    out["code_region"] = nan_if_empty(uniq["insee_reg"]).str.zfill(2)
    out["postcodes"] = pd.Series(out.index.map(postcodes), index=out.index, dtype="string")
    for src, col in _DATASFUN_NUMBERS.items():
        out[col], _ = _numbers(path, uniq, src)
    incomplete = (out["households_2021"] == 0) & (
        (out["population_2021"] > 0) | (out["births_2022"] > 0) | (out["deaths_2022"] > 0)
    )
    for col in _RP2021_COUNTS:
        out[col] = out[col].mask(incomplete & (out[col] == 0))
    out["rp2021_status"] = pd.Series(np.where(incomplete, "incomplete", "ok"), index=out.index, dtype="string")
    out = out.reset_index().sort_values("code_commune", kind="stable")
    return _typed(out)


#: comparator labels (normalised by :func:`normalise_name`) → column template ({0}, {1}: years)
COMPARATOR_LABELS: list[tuple[str, str]] = [
    (r"population en (\d{4})", "population_{0}"),
    (r"densite de la population .*en (\d{4})", "density_{0}"),
    (r"superficie en (\d{4}) en km2", "area_km2_{0}"),
    (r"variation de la population taux annuel moyen entre (\d{4}) et (\d{4}) en", "pop_change_rate_{0}_{1}"),
    (
        r"dont variation due au solde naturel taux annuel moyen entre (\d{4}) et (\d{4}) en",
        "pop_change_natural_rate_{0}_{1}",
    ),
    (
        r"dont variation due au solde apparent des entrees sorties taux annuel moyen entre (\d{4}) et (\d{4}) en",
        "pop_change_migration_rate_{0}_{1}",
    ),
    (r"nombre de menages en (\d{4})", "households_{0}"),
    (r"naissances domiciliees en (\d{4})", "births_{0}"),
    (r"deces domicilies en (\d{4})", "deaths_{0}"),
    (r"nombre total de logements en (\d{4})", "dwellings_{0}"),
    (r"part des residences principales en (\d{4}) en", "main_residences_share_{0}"),
    (r"part des residences secondaires .*en (\d{4}) en", "secondary_residences_share_{0}"),
    (r"part des logements vacants en (\d{4}) en", "vacant_dwellings_share_{0}"),
    (r"part des menages proprietaires de leur residence principale en (\d{4}) en", "owner_households_share_{0}"),
    (r"nombre de menages fiscaux en (\d{4})", "fiscal_households_{0}"),
    (r"part des menages fiscaux imposes en (\d{4}) en", "taxed_households_share_{0}"),
    (r"mediane du revenu disponible par unite de consommation en (\d{4}) en euros", "median_income_{0}"),
    (r"taux de pauvrete en (\d{4}) en", "poverty_rate_{0}"),
    (r"emploi total salarie et non salarie au lieu de travail en (\d{4})", "jobs_{0}"),
    (r"dont part de l emploi salarie au lieu de travail en (\d{4}) en", "salaried_jobs_share_{0}"),
    (
        r"variation de l emploi total au lieu de travail taux annuel moyen entre (\d{4}) et (\d{4}) en",
        "jobs_change_rate_{0}_{1}",
    ),
    (r"taux d activite des 15 a 64 ans en (\d{4})", "activity_rate_1564_{0}"),
    (r"taux de chomage des 15 a 64 ans en (\d{4})", "unemployment_rate_1564_{0}"),
    (r"nombre d etablissements fin (\d{4})", "establishments_{0}"),
    (r"part de l agriculture sylviculture et peche en", "establishments_agriculture_share"),
    (r"part de l industrie en", "establishments_industry_share"),
    (r"part de la construction en", "establishments_construction_share"),
    (r"part du commerce transports et services divers en", "establishments_trade_services_share"),
    (
        r"part de l administration publique enseignement sante et action sociale en",
        "establishments_public_social_share",
    ),
    (r"part des etablissements de 1 a 9 salaries en", "establishments_1_9_employees_share"),
    (r"part des etablissements de 10 salaries ou plus en", "establishments_10p_employees_share"),
]
#: indicators every comparator export used here must have (column prefixes)
_COMPARATOR_CORE = {
    "population_": "Population en AAAA",
    "households_": "Nombre de ménages en AAAA",
    "fiscal_households_": "Nombre de ménages fiscaux en AAAA",
    "median_income_": "Médiane du revenu disponible par unité de consommation en AAAA",
    "poverty_rate_": "Taux de pauvreté en AAAA, en %",
    "activity_rate_1564_": "Taux d'activité des 15 à 64 ans en AAAA",
    "unemployment_rate_1564_": "Taux de chômage des 15 à 64 ans en AAAA",
}
_NOTE_PREFIXES = ("source", "avertissement", "champ", "note", "lecture")
_TERRITORY = re.compile(
    r"^\s*(EPCI|Commune|Département|Departement|Région|Region)\s*:\s*(.+?)\s*\(([0-9AB]+)\)\s*$", re.IGNORECASE
)


def _comparator_column(label: str) -> str | None:
    key = normalise_name(label)
    for pattern, template in COMPARATOR_LABELS:
        m = re.fullmatch(pattern, key)
        if m:
            return template.format(*m.groups())
    return None


def load_comparateur_rp2022(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """INSEE *Comparateur de territoires* export (transposed: one line per indicator).

    Format: UTF-8 with BOM, ``;``, decimal comma; 6 banner lines, then blocks, each starting
    with a header line ``<block>;EPCI : <name> (<SIREN>);Commune : <name> (<code>);…`` followed
    by indicator lines and ``Source(s) : …`` / ``Avertissement : …`` / ``Champ : …`` notes.

    One row per territory: ``territory_type`` (``epci``/``commune``/``departement``/``region``),
    ``code`` (SIREN 9 digits or commune 5 characters), ``name``, then one float column per
    indicator, named by :data:`COMPARATOR_LABELS` (years taken from the label):
    ``population_2022``, ``density_2022``, ``area_km2_2022``, ``pop_change_rate_2016_2022``,
    ``pop_change_natural_rate_2016_2022``, ``pop_change_migration_rate_2016_2022`` (% per year),
    ``households_2022``, ``births_2024``, ``deaths_2024``, ``dwellings_2022``,
    ``main_residences_share_2022``, ``secondary_residences_share_2022``,
    ``vacant_dwellings_share_2022``, ``owner_households_share_2022`` (%),
    ``fiscal_households_2021``, ``taxed_households_share_2021`` (%), ``median_income_2021``
    (€/UC), ``poverty_rate_2021`` (%), ``jobs_2022``, ``salaried_jobs_share_2022`` (%),
    ``jobs_change_rate_2016_2022``, ``activity_rate_1564_2022``, ``unemployment_rate_1564_2022``
    (%), ``establishments_2023`` and the shares (%, same date) ``establishments_agriculture_share``,
    ``…_industry_share``, ``…_construction_share``, ``…_trade_services_share``,
    ``…_public_social_share``, ``…_1_9_employees_share``, ``…_10p_employees_share``.
    An unknown indicator label is kept under a slug of the label (with a warning).
    Markers ``s`` (secret) / ``vm`` (missing value) → NaN; per territory, ``secret_indicators``
    lists the ``;``-joined columns that were secret and ``unavailable_indicators`` those marked
    ``vm``/``nd`` (empty string: none); ``poverty_secret`` (bool) flags a secret poverty rate.
    """
    path = _path(raw_dir, "comparateur_rp2022_gam")
    df = _read(path, ["Population"], sep=";", skiprows=6)
    label_col = df.columns[0]
    terr_cols = [c for c in df.columns[1:] if not (c.startswith("Unnamed:") and (df[c].str.strip() == "").all())]
    territories = []
    for c in terr_cols:
        m = _TERRITORY.match(c)
        if not m:
            raise LoaderError(
                path,
                f"unrecognised territory header {c!r}",
                "headers like 'Commune : Grenoble (38185)' or 'EPCI : <name> (<SIREN>)'",
            )
        kind = normalise_name(m.group(1))
        code = m.group(3)
        code = (
            siren_code(pd.Series([code])).iloc[0]
            if kind == "epci"
            else commune_code(pd.Series([code])).iloc[0]
            if kind == "commune"
            else code
        )
        if pd.isna(code):
            raise LoaderError(
                path, f"invalid code in territory header {c!r}", "a 9-digit SIREN (EPCI) or a commune code"
            )
        territories.append((kind, code, m.group(2)))
    header_names = [c.strip() for c in terr_cols]

    values: dict[str, pd.Series] = {}
    statuses: dict[str, pd.Series] = {}
    for i, row in df.iterrows():
        label = str(row[label_col]).strip()
        cells = [str(row[c]).strip() for c in terr_cols]
        if not label or normalise_name(label).startswith(_NOTE_PREFIXES):
            continue
        if all(cell == "" for cell in cells):
            continue  # title-only line
        if any(cell.startswith(("EPCI :", "Commune :", "Département :", "Région :")) for cell in cells):
            if cells != header_names:
                raise LoaderError(
                    path,
                    f"block {label!r} (line {i + 8}) lists other territories than the first header",
                    "the same territory columns in every block",
                )
            continue
        col = _comparator_column(label)
        if col is None:
            col = re.sub(r"[^a-z0-9]+", "_", normalise_name(label)).strip("_")
            warnings.warn(f"{path}: unknown comparator indicator {label!r} kept as column {col!r}", stacklevel=2)
        if col in values:
            raise LoaderError(path, f"indicator {label!r} appears twice (line {i + 8})", "one line per indicator")
        if "" in cells:
            empty = terr_cols[cells.index("")]
            raise LoaderError(
                path,
                f"indicator {label!r} (line {i + 8}) has no value for {empty!r} (truncated or damaged file?)",
                f"a value or a marker (s, vm) for each of the {len(terr_cols)} territory columns",
            )
        line = pd.Series(cells, index=terr_cols, dtype="string")
        nums, status = _numbers(path, pd.DataFrame({label: line}), label)
        values[col] = nums
        statuses[col] = status

    missing = [
        lab
        for prefix, lab in _COMPARATOR_CORE.items()
        if not any(c.startswith(prefix) and c[len(prefix) :].isdigit() for c in values)
    ]
    if missing:
        raise LoaderError(
            path,
            f"indicators not found: {missing} (truncated file or other export?)",
            f"indicator lines {', '.join(_COMPARATOR_CORE.values())} after {len(header_names)} territory columns",
        )

    out = pd.DataFrame(
        {
            "territory_type": pd.Series([t[0] for t in territories], dtype="string"),
            "code": pd.Series([t[1] for t in territories], dtype="string"),
            "name": pd.Series([t[2] for t in territories], dtype="string"),
        }
    )
    for col, s in values.items():
        out[col] = s.to_numpy(dtype=float)
    status = pd.DataFrame({c: s.to_numpy() for c, s in statuses.items()})
    for flag_col, kinds in (
        ("secret_indicators", {"secret"}),
        ("unavailable_indicators", {"not_available", "not_significant", "not_applicable"}),
    ):
        flags = status.isin(kinds).to_numpy()
        out[flag_col] = pd.Series([";".join(status.columns[r]) for r in flags], dtype="string")
    poverty = [c for c in statuses if c.startswith("poverty_rate_")]
    out["poverty_secret"] = (status[poverty] == "secret").any(axis=1).to_numpy(dtype=bool)
    if out.duplicated(["territory_type", "code"]).any():
        raise LoaderError(path, "a territory appears twice", "one column per territory")
    return _typed(out)


# --------------------------------------------------------------------------------------------
# Census tables of the Métropole communes (derivatives of INSEE RP tables)
# --------------------------------------------------------------------------------------------

#: 5-year age groups of the age file, NN = 01..20
AGE_GROUPS = [f"{5 * k:02d}_{5 * k + 4:02d}" for k in range(19)] + ["95p"]


def _age_columns(suffix: str = "2016") -> list[str]:
    return [f"ageq_rec{nn:02d}s{sex}rpop{suffix}" for nn in range(1, 21) for sex in (1, 2)]


def load_population_by_age(raw_dir: Path = RAW_DIR, year: int = 2022) -> pd.DataFrame:
    """Population by 5-year age group, communes of five metropolises (``,``, one row per commune and year).

    The author named every year's columns ``ageq_recNNsSrpop2016`` (NN = 01 for 0–4 … 20 for 95+,
    S = 1 men / 2 women) and added ``annee``: rows are selected on ``annee == year``.
    ``code_commune`` = ``DR`` zero-padded to 2 + ``CR`` zero-padded to 3.

    Columns: ``code_commune``, ``name``, ``code_departement``, ``code_region`` (str), ``year``,
    ``stable`` (bool, the author's STABLE flag), ``pop_total`` (sum of the 40 cells),
    ``pop_0_14`` (NN 01–03), ``pop_15_29`` (04–06), ``pop_60p`` (13–20), ``pop_65p`` (14–20),
    ``pop_75p`` (16–20), and the 20 groups men + women ``pop_age_00_04`` … ``pop_age_95p``.
    Values were rounded to integers by the author (Grenoble 2022: 156 410 vs 156 389 published).
    """
    path = _path(raw_dir, "pop_age_5metropoles")
    cells = _age_columns()
    required = ["RR", "DR", "CR", "STABLE", "LIBELLE", *cells, "annee"]
    df = _read(path, required, sep=",")
    _require_filled(path, df, required)
    years = sorted(set(df["annee"].str.strip()))
    df = df[df["annee"].str.strip() == str(year)]
    if df.empty:
        raise LoaderError(path, f"no rows for year {year}", f"'annee' among {', '.join(years)}")
    code = commune_code(df["DR"].str.strip().str.zfill(2) + df["CR"].str.strip().str.zfill(3))
    _check_codes(path, df["DR"] + "/" + df["CR"], code, "commune")
    out = pd.DataFrame(
        {
            "code_commune": code,
            "name": nan_if_empty(df["LIBELLE"]),
            "code_departement": df["DR"].str.strip().str.zfill(2).astype("string"),
            "code_region": df["RR"].str.strip().str.zfill(2).astype("string"),
            "year": int(year),
            "stable": df["STABLE"].str.strip() == "1",
        }
    )
    groups = {}
    for nn in range(1, len(AGE_GROUPS) + 1):
        men, _ = _numbers(path, df, f"ageq_rec{nn:02d}s1rpop2016")
        women, _ = _numbers(path, df, f"ageq_rec{nn:02d}s2rpop2016")
        groups[nn] = men + women

    def span(a: int, b: int) -> pd.Series:
        return sum(groups[k] for k in range(a, b + 1))

    out["pop_total"] = span(1, 20)
    out["pop_0_14"] = span(1, 3)
    out["pop_15_29"] = span(4, 6)
    out["pop_60p"] = span(13, 20)
    out["pop_65p"] = span(14, 20)
    out["pop_75p"] = span(16, 20)
    for nn, label in enumerate(AGE_GROUPS, start=1):
        out[f"pop_age_{label}"] = groups[nn]
    return _typed(out.sort_values("code_commune", kind="stable"))


def metropole_communes(raw_dir: Path = RAW_DIR, siren_epci: str = METROPOLE_SIREN) -> pd.DataFrame:
    """``code_commune``, ``name`` of an EPCI's member communes, from ``geo/communes_epci_ara_cog2025.csv``."""
    path = Path(raw_dir) / "geo" / "communes_epci_ara_cog2025.csv"
    df = _read(path, ["code_commune", "nom_commune", "siren_epci"], sep=",")
    df = df[siren_code(df["siren_epci"]) == siren_epci]
    if df.empty:
        raise LoaderError(path, f"no commune of EPCI {siren_epci}", "rows with siren_epci = the EPCI's SIREN")
    return pd.DataFrame(
        {"code_commune": commune_code(df["code_commune"]), "name": nan_if_empty(df["nom_commune"])}
    ).reset_index(drop=True)


def _name_table(name_to_code: Mapping[str, str] | pd.DataFrame | None, raw_dir: Path) -> pd.DataFrame:
    if name_to_code is None:
        return metropole_communes(raw_dir)
    if isinstance(name_to_code, pd.DataFrame):
        name_col = next(
            (c for c in ("name", "nom_commune", "commune_name", "LIBGEO", "libelle") if c in name_to_code.columns), None
        )
        if name_col is None or "code_commune" not in name_to_code.columns:
            raise ValueError(
                f"name_to_code DataFrame needs columns code_commune and name (or nom_commune); got {list(name_to_code.columns)}"
            )
        return pd.DataFrame(
            {
                "code_commune": commune_code(name_to_code["code_commune"]),
                "name": name_to_code[name_col].astype("string"),
            }
        )
    items = list(name_to_code.items())
    return pd.DataFrame(
        {
            "code_commune": commune_code(pd.Series([c for _, c in items], dtype="string")),
            "name": pd.Series([n for n, _ in items], dtype="string"),
        }
    )


#: diploma labels (normalised, prefix) → group; the nomenclature changed in 2016 and 2022
_DIPLOMA_GROUPS: list[tuple[str, str]] = [
    ("total", "total"),
    ("aucun diplome ou certificat d etudes primaires", "diplmin"),  # 2022
    ("aucun diplome ou bepc", "diplmin_or_bepc"),  # 2016
    ("aucun diplome", "diplmin"),  # 2011 (with CEP below)
    ("cep", "diplmin"),
    ("bepc", "bepc"),
    ("cap bep", "cap_bep"),
    ("baccalaureat brevet professionnel", "bac"),
    ("enseignement superieur", "higher"),
    ("baccalaureat universitaire", "higher"),
    ("diplome de niveau bac 5", "higher"),
    ("diplome universitaire", "higher"),
    ("diplome d etudes superieures", "higher"),
]


def _diploma_group(label: str) -> str | None:
    key = normalise_name(label) + " "
    for prefix, group in _DIPLOMA_GROUPS:
        if key.startswith(prefix + " "):
            return group
    return None


def load_diplomas(
    raw_dir: Path = RAW_DIR, year: int = 2022, name_to_code: Mapping[str, str] | pd.DataFrame | None = None
) -> pd.DataFrame:
    """Highest diploma of the non-enrolled population aged 15+ (INSEE Melodi export, ``;``, decimal comma).

    The file gives communes by NAME: names are matched to codes on :func:`normalise_name` keys
    against ``name_to_code`` (mapping name → code, or a DataFrame with ``code_commune`` and
    ``name``/``nom_commune``); by default the 49 communes of Grenoble-Alpes-Métropole from
    ``geo/communes_epci_ara_cog2025.csv``. Unmatched names raise a LoaderError listing them.
    Rows of sex ``Total`` and ``Période == year``; the categories must sum to ``Total`` (± 1).

    Columns (weighted counts, floats): ``code_commune``, ``name``, ``year``, ``nscol15p`` (Total),
    ``nscol15p_diplmin`` (no diploma or CEP; NaN for 2016 where INSEE merged it with BEPC),
    ``nscol15p_bepc`` (BEPC, brevet élémentaire, brevet des collèges, DNB; NaN for 2016),
    ``nscol15p_diplmin_or_bepc``, ``nscol15p_cap_bep`` (CAP, BEP or equivalent),
    ``nscol15p_bac``, ``nscol15p_higher`` (any higher-education diploma),
    ``nscol15p_at_most_cap_bep`` (= diplmin + bepc + cap_bep, i.e. diplmin_or_bepc + cap_bep, for
    every year: the numerator of the RP2017 ``TX_NSCOL15P`` of :func:`load_rp2017_rates`, whose
    denominator is all people aged 15+, not ``nscol15p``).
    """
    path = _path(raw_dir, "diplomas_gam")
    required = ["Géographie", "Sexe", "Diplôme", "Période", "Valeur"]
    df = _read(path, required, sep=";")
    _require_filled(path, df, required)
    years = sorted(set(df["Période"].str.strip()))
    df = df[(df["Période"].str.strip() == str(year)) & (df["Sexe"].str.strip().str.lower() == "total")]
    if df.empty:
        raise LoaderError(path, f"no rows of sex 'Total' for year {year}", f"'Période' among {', '.join(years)}")
    values, _status = _numbers(path, df, "Valeur")
    groups = df["Diplôme"].map(_diploma_group)
    if groups.isna().any():
        raise LoaderError(
            path,
            f"unknown diploma categories {sorted(set(df['Diplôme'][groups.isna()]))}",
            "the INSEE categories of RP2011/2016/2022 (Aucun diplôme…, BEPC…, CAP…, Baccalauréat…, Total)",
        )
    long = pd.DataFrame({"name": df["Géographie"].str.strip(), "group": groups.to_numpy(), "value": values.to_numpy()})
    wide = long.pivot_table(index="name", columns="group", values="value", aggfunc="sum", sort=True)
    if "total" not in wide:
        raise LoaderError(path, "no 'Total' diploma rows", "a 'Total' category per commune")
    parts = wide.drop(columns="total").sum(axis=1, min_count=1)
    gap = (parts - wide["total"]).abs()
    if (gap > 1.0).any():
        bad = gap[gap > 1.0].index[0]
        raise LoaderError(
            path,
            f"{bad}: the diploma categories sum to {parts[bad]:.1f}, not to the Total {wide['total'][bad]:.1f}",
            "categories that add up to 'Total'",
        )

    table = _name_table(name_to_code, raw_dir)
    table = table.assign(key=table["name"].map(normalise_name))
    keys = dict(zip(table["key"], table["code_commune"], strict=True)) if table["key"].is_unique else None
    if keys is None:
        dups = sorted(set(table.loc[table["key"].duplicated(), "name"]))
        raise ValueError(f"name_to_code has several communes with the same normalised name: {dups}")
    codes = pd.Series([keys.get(normalise_name(n)) for n in wide.index], index=wide.index, dtype="string")
    if codes.isna().any():
        raise LoaderError(
            path,
            f"commune names not found among the {len(table)} reference communes: {sorted(codes[codes.isna()].index)}",
            "names of the communes of the reference table (default: Grenoble-Alpes-Métropole, COG 2025)",
        )
    if codes.duplicated().any():
        raise LoaderError(
            path, f"several names map to commune {codes[codes.duplicated()].iloc[0]}", "one name per commune"
        )

    def col(group: str) -> pd.Series:
        return wide[group] if group in wide else pd.Series(np.nan, index=wide.index)

    out = pd.DataFrame(
        {"code_commune": codes.to_numpy(), "name": pd.Series(wide.index, dtype="string"), "year": int(year)}
    )
    out["nscol15p"] = col("total").to_numpy()
    out["nscol15p_diplmin"] = col("diplmin").to_numpy()
    out["nscol15p_bepc"] = col("bepc").to_numpy()
    both = col("diplmin_or_bepc").to_numpy()
    out["nscol15p_diplmin_or_bepc"] = np.where(np.isnan(both), out["nscol15p_diplmin"] + out["nscol15p_bepc"], both)
    out["nscol15p_cap_bep"] = col("cap_bep").to_numpy()
    out["nscol15p_bac"] = col("bac").to_numpy()
    out["nscol15p_higher"] = col("higher").to_numpy()
    out["nscol15p_at_most_cap_bep"] = out["nscol15p_diplmin_or_bepc"] + out["nscol15p_cap_bep"]
    return _typed(out.sort_values("code_commune", kind="stable"))


HOUSEHOLD_AGES = ["moins20ans", "20_24ans", "25_39ans", "40_54ans", "55_64ans", "65_79ans", "plus80ans"]
HOUSEHOLD_TYPES = [
    "pers_seule",
    "cpl_sans_enf",
    "cpl_avec_enfant_du_couple",
    "cpl_1enf_ou_plus_dun_des_deux_membres_du_cpl",
    "fam_monoparentale_pere_enf",
    "fam_monoparentale_mere_enf",
    "autre_menage",
]


def load_household_types(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """Households by age of the reference person × household type (RP2022 derivative, ``,``).

    49 columns ``Menages_<age>_<type>`` (7 age classes × 7 types), values rounded by the author.

    Columns: ``code_commune``, ``name``, ``households_total_detailed`` (sum of the 49 cells),
    ``hh_one_person`` (Σ ages of ``pers_seule``), ``hh_single_parent`` (Σ ages of
    ``fam_monoparentale_pere_enf`` + ``fam_monoparentale_mere_enf``), ``hh_couple_no_child``,
    ``hh_couple_with_children`` (children of the couple or of one member), ``hh_other``,
    ``hh_ref_65p`` (reference person 65+), ``hh_one_person_65p``, ``hh_one_person_80p``.
    """
    path = _path(raw_dir, "household_types_5metropoles")
    cells = [f"Menages_{a}_{t}" for a in HOUSEHOLD_AGES for t in HOUSEHOLD_TYPES]
    df = _read(path, ["CODGEO", "LIBGEO", *cells], sep=",")
    _require_filled(path, df, ["CODGEO", *cells])
    code = commune_code(df["CODGEO"])
    _check_codes(path, df["CODGEO"], code, "commune")
    v = pd.DataFrame({c: _numbers(path, df, c)[0] for c in cells})

    def total(ages: Sequence[str] = HOUSEHOLD_AGES, types: Sequence[str] = HOUSEHOLD_TYPES) -> np.ndarray:
        return v[[f"Menages_{a}_{t}" for a in ages for t in types]].sum(axis=1, min_count=1).to_numpy()

    out = pd.DataFrame({"code_commune": code.to_numpy(), "name": nan_if_empty(df["LIBGEO"]).to_numpy()})
    out["households_total_detailed"] = total()
    out["hh_one_person"] = total(types=["pers_seule"])
    out["hh_single_parent"] = total(types=["fam_monoparentale_pere_enf", "fam_monoparentale_mere_enf"])
    out["hh_couple_no_child"] = total(types=["cpl_sans_enf"])
    out["hh_couple_with_children"] = total(
        types=["cpl_avec_enfant_du_couple", "cpl_1enf_ou_plus_dun_des_deux_membres_du_cpl"]
    )
    out["hh_other"] = total(types=["autre_menage"])
    out["hh_ref_65p"] = total(ages=["65_79ans", "plus80ans"])
    out["hh_one_person_65p"] = total(ages=["65_79ans", "plus80ans"], types=["pers_seule"])
    out["hh_one_person_80p"] = total(ages=["plus80ans"], types=["pers_seule"])
    out["name"] = out["name"].astype("string")
    out["code_commune"] = out["code_commune"].astype("string")
    return _typed(out.sort_values("code_commune", kind="stable"))


# --------------------------------------------------------------------------------------------
# RP2016 IRIS
# --------------------------------------------------------------------------------------------

_RP2016_FILES = {
    "rp2016_iris_population": {
        "P16_POP0014": "pop_0014",
        "P16_POP1529": "pop_1529",
        "P16_POP3044": "pop_3044",
        "P16_POP4559": "pop_4559",
        "P16_POP6074": "pop_6074",
        "P16_POP75P": "pop_75p",
        **{f"C16_POP15P_CS{k}": f"pop15p_cs{k}" for k in range(1, 9)},
    },
    "rp2016_iris_menages": {
        "C16_PMEN_MENHSEUL": "persons_one_person_men",
        "C16_PMEN_MENFSEUL": "persons_one_person_women",
        "C16_PMEN_MENSFAM": "persons_other_no_family_households",
        "C16_PMEN_MENCOUPSENF": "persons_couple_no_child_households",
        "C16_PMEN_MENCOUPAENF": "persons_couple_with_children_households",
        "C16_PMEN_MENFAMMONO": "persons_single_parent_households",
        **{f"C16_PMEN_CS{k}": f"persons_ref_cs{k}" for k in range(1, 9)},
    },
    "rp2016_iris_logement": {
        "P16_RPMAISON": "main_residences_house",
        "P16_RPAPPART": "main_residences_flat",
        "P16_RP_LOCHLMV": "social_housing",
    },
}


def load_rp2016_iris(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """RP2016 IRIS bases (habitat IRIS of région 84): population, households, housing joined.

    Each file: ``,``-separated, first column an unnamed pandas index (ignored), ``IRIS`` (9
    characters), ``LIBCOM``, ``TYP_IRIS``, unrounded weighted counts. The three files must list
    the same IRIS. One row per IRIS:

    - ``code_iris``, ``code_commune``, ``commune_name``, ``typ_iris`` (str);
    - population: ``pop_total`` (Σ of the six age groups; the file has no P16_POP),
      ``pop_0014``, ``pop_1529``, ``pop_3044``, ``pop_4559``, ``pop_6074``, ``pop_75p``,
      ``pop_60p`` (= 6074 + 75P), ``pop15p_cs1`` … ``pop15p_cs8`` (15+ by socio-professional group);
    - households (PERSONS living in each household type): ``persons_one_person_households``
      (HSEUL + FSEUL, = number of one-person households), ``persons_single_parent_households``,
      ``persons_couple_no_child_households``, ``persons_couple_with_children_households``,
      ``persons_other_no_family_households``, ``persons_in_households`` (Σ of the six types),
      ``persons_ref_cs1`` … ``persons_ref_cs8`` (by group of the reference person);
    - housing (main residences): ``main_residences_house``, ``main_residences_flat``,
      ``main_residences_house_or_flat`` (their sum; P16_RP also counts other dwelling types),
      ``social_housing`` (P16_RP_LOCHLMV, rented HLM).
    """
    tables = []
    first_codes = None
    for key, columns in _RP2016_FILES.items():
        path = _path(raw_dir, key)
        df = _read(path, ["IRIS", "LIBCOM", "TYP_IRIS", *columns], sep=",")
        _require_filled(path, df, ["IRIS", "TYP_IRIS", *columns])
        code = iris_code(df["IRIS"])
        _check_codes(path, df["IRIS"], code, "IRIS")
        t = pd.DataFrame({"code_iris": code.to_numpy()})
        if first_codes is None:
            t["commune_name"] = nan_if_empty(df["LIBCOM"]).to_numpy()
            t["typ_iris"] = nan_if_empty(df["TYP_IRIS"]).to_numpy()
            first_codes = (path, set(code))
        else:
            other = set(code)
            if other != first_codes[1]:
                diff = sorted(other ^ first_codes[1])
                raise LoaderError(
                    path,
                    f"{len(diff)} IRIS differ from {first_codes[0].name} (e.g. {diff[:3]})",
                    "the same IRIS in the three RP2016 IRIS files",
                )
        for src, col in columns.items():
            t[col] = _numbers(path, df, src)[0].to_numpy()
        tables.append(t.set_index("code_iris"))
    out = tables[0].join(tables[1:], how="inner")
    ages = ["pop_0014", "pop_1529", "pop_3044", "pop_4559", "pop_6074", "pop_75p"]
    out.insert(2, "pop_total", out[ages].sum(axis=1, min_count=len(ages)))
    out.insert(9, "pop_60p", out["pop_6074"] + out["pop_75p"])
    out["persons_one_person_households"] = out.pop("persons_one_person_men") + out.pop("persons_one_person_women")
    types = [
        "persons_one_person_households",
        "persons_single_parent_households",
        "persons_couple_no_child_households",
        "persons_couple_with_children_households",
        "persons_other_no_family_households",
    ]
    out["persons_in_households"] = out[types].sum(axis=1, min_count=len(types))
    out["main_residences_house_or_flat"] = out["main_residences_house"] + out["main_residences_flat"]
    out = out.reset_index()
    out.insert(1, "code_commune", out["code_iris"].str[:5])
    return _typed(out.sort_values("code_iris", kind="stable"))


# --------------------------------------------------------------------------------------------
# RP2017 commune rates (Data For Good × La Mednum derivative), carried to COG 2024
# --------------------------------------------------------------------------------------------

_RP2017_RATES = {
    "TX_65ETPLUS": "share_65p_15p",
    "TX_25ETMOINS": "share_15_24_15p",
    "TX_NSCOL15P": "share_low_diploma_15p",
    "TX_MENSEUL": "share_one_person_households",
    "TX_FAMMONO": "share_single_parent_families",
}
#: the five RP2017 rate columns (%) of :func:`load_rp2017_rates`
RP2017_SHARES = list(_RP2017_RATES.values())


def load_rp2017_rates(raw_dir: Path = RAW_DIR) -> pd.DataFrame:
    """RP2017 commune rates computed by Data For Good × La Mednum (``,``, ``.`` decimals).

    The file has a leading unnamed index column (ignored) and ``CODE_INSEE``; 1 111 codes appear
    twice with the second row empty (merge artefact): the row with values is kept, and a code
    with two rows holding values raises. One row per code (35 003, communes of 2019–2020 with
    Paris/Lyon/Marseille and their arrondissements; 10 codes without any value stay, all NaN).

    Columns (rates in %, NaN where the file is empty):

    - ``code_commune`` (str, 5 characters);
    - ``share_65p_15p`` (TX_65ETPLUS) = (P17_POP6579 + P17_POP80P) / P17_POP15P × 100: people
      aged 65+ among people aged **15+** (higher than the usual share among all inhabitants);
    - ``share_15_24_15p`` (TX_25ETMOINS) = (P17_POP1519 + P17_POP2024) / P17_POP15P × 100;
    - ``share_low_diploma_15p`` (TX_NSCOL15P) = non-enrolled people with at most a CAP-BEP
      (DIPLMIN + BEPC + CAPBEP) among **all** people aged 15+ (enrolled or not);
    - ``share_one_person_households`` (TX_MENSEUL) = C17_MENPSEUL / C17_MEN × 100;
    - ``share_single_parent_families`` (TX_FAMMONO) = C17_MENFAMMONO / C17_MEN × 100 (households
      that are a single-parent family, among all households).

    TX_DEMANDEUR_EMPLOIS (72 values) is not loaded. A rate outside [0, 100] raises
    :class:`LoaderError` naming the column, the line and the commune.
    """
    path = _path(raw_dir, "rp2017_rates_d4g")
    df = _read(path, ["CODE_INSEE", *_RP2017_RATES], sep=",")
    _require_filled(path, df, ["CODE_INSEE"])
    _require_complete_last_line(path, len(df.columns), ",")
    code = commune_code(df["CODE_INSEE"])
    _check_codes(path, df["CODE_INSEE"], code, "commune", unique=False)
    out = pd.DataFrame({"code_commune": code.to_numpy()})
    for src, col in _RP2017_RATES.items():
        values = _numbers(path, df, src)[0]
        _check_percent(path, df, src, values, "commune " + df["CODE_INSEE"])
        out[col] = values.to_numpy()
    out = _one_row_per_code(path, out, RP2017_SHARES)
    return _typed(out.sort_values("code_commune", kind="stable"))


def _require_complete_last_line(path: Path, n_columns: int, sep: str) -> None:
    """Raise if the last line has fewer fields than the header (a download cut mid-line).

    Needed where empty cells are legitimate, so that :func:`_require_filled` cannot tell."""
    last = read_text(path)[0].rstrip("\r\n").rsplit("\n", 1)[-1]
    if last.count(sep) < n_columns - 1:
        raise LoaderError(
            path,
            f"the last line has {last.count(sep) + 1} fields, the header {n_columns} (truncated file?)",
            f"{n_columns} {sep!r}-separated fields on every line",
        )


def _one_row_per_code(path: Path, df: pd.DataFrame, values: Sequence[str]) -> pd.DataFrame:
    """Keep, for each ``code_commune``, its row with values (an empty duplicate row is dropped).

    A code whose rows are all empty keeps one (NaN) row; two rows with values raise."""
    filled = df[list(values)].notna().any(axis=1)
    n_filled = filled.groupby(df["code_commune"]).transform("sum")
    kept = df[filled | ((n_filled == 0) & ~df["code_commune"].duplicated())]
    dup = kept["code_commune"].duplicated(keep=False).to_numpy()
    if dup.any():
        code = kept["code_commune"].iloc[int(np.flatnonzero(dup)[0])]
        lines = [int(i) + 2 for i in kept.index[kept["code_commune"] == code]]
        raise LoaderError(
            path,
            f"commune {code} has several rows with values (lines {lines})",
            "one row with values per commune code (an extra empty row is ignored)",
        )
    return kept


def _departement(code: str) -> str:
    """Département of a commune code (3 characters overseas: 971…976)."""
    return code[:3] if code.startswith("97") else code[:2]


def _old_weights(old_codes: pd.Series, weights: pd.Series | None) -> pd.Series:
    """Weight of each old code (NaN where ``weights`` has none); checks ``weights`` once."""
    if weights is None:
        return pd.Series(np.nan, index=old_codes.index)
    if not isinstance(weights, pd.Series):
        raise ValueError(f"weights must be a pandas Series indexed by commune code; got {type(weights).__name__}")
    w = pd.to_numeric(weights, errors="coerce").astype(float)
    w.index = commune_code(pd.Series(weights.index.astype(str), dtype="string")).to_numpy()
    if (w < 0).any() or np.isinf(w).any():
        bad = w[(w < 0) | np.isinf(w)]
        raise ValueError(f"weights must be finite and >= 0 (e.g. populations); got {bad.iloc[0]} for {bad.index[0]}")
    if w.index.hasnans or w.index.duplicated().any():
        raise ValueError("weights must have one value per valid commune code (5 characters, e.g. '38185')")
    return pd.Series(old_codes.map(w).to_numpy(dtype=float), index=old_codes.index)


def _weighted_rates(used: pd.DataFrame, weights: pd.Series | None) -> pd.DataFrame:
    """Per target ``code_commune``: weighted mean of each RP2017 rate over its old communes.

    rate(c) = Σ_i w_i r_i / Σ_i w_i over the old communes i of c that have the rate; w_i = the
    caller's weight (e.g. population) when every old commune of c has one and their sum is > 0
    (``weighting`` = ``population``), else 1 (``equal``). ``weighting`` is NA for one old commune.
    """
    group = used["code_commune"]
    w = _old_weights(used["old_code"], weights)
    by_weight = w.notna().groupby(group).transform("all") & (w.fillna(0).groupby(group).transform("sum") > 0)
    w = w.where(by_weight, 1.0)
    out = pd.DataFrame(index=pd.Index(sorted(set(group)), name="code_commune"))
    for col in RP2017_SHARES:
        v = used[col]
        num = (w * v).groupby(group).sum(min_count=1)
        den = w.where(v.notna()).groupby(group).sum(min_count=1)
        out[col] = num / den
    out["n_old_communes"] = group.value_counts()
    out["old_codes"] = used.groupby("code_commune")["old_code"].agg(lambda s: sorted(s.astype(str)))
    weighted = by_weight.groupby(group).all()
    out["weighting"] = np.where(weighted, "population", "equal")
    out["weighting"] = out["weighting"].mask(out["n_old_communes"] <= 1, pd.NA)
    return out


def rp2017_rates_by_commune_2024(
    raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = (), weights: pd.Series | None = None
) -> pd.DataFrame:
    """RP2017 commune rates (:func:`load_rp2017_rates`, geography 2019–2020) carried to the
    ``target_codes`` communes (COG 2024) with :func:`loaders.geography.commune_successor_map`.

    Scope: old codes with at least one rate, in the départements of the targets. An old commune
    absorbed by a target (``successor``) is averaged with it, weighted by ``weights`` (a Series
    indexed by old commune code, e.g. RP populations; ``None`` or a missing code → equal
    weights for that target, see :func:`_weighted_rates`). Population weights approximate the
    exact denominators (people 15+, households). Municipal arrondissements (Lyon 6938x…) are used
    only when their commune has no row of its own, never both (their rows are sub-parts of it).

    Columns: ``code_commune``, the five rates of :data:`RP2017_SHARES` (%), ``status`` (``ok``:
    the commune's own row only; ``mapped``: several old communes or another code;
    ``not_covered``: no old commune with values, rates NaN), ``weighting`` (``population`` /
    ``equal``, NA with one old commune), ``n_old_communes``, ``old_codes`` (list[str]).
    ``result.attrs["mapping"]`` counts the old codes ``same`` / ``mapped`` / skipped
    arrondissements / ``unmapped`` (listed; also a warning) and the targets by status.
    """
    targets = sorted(set(commune_code(pd.Series(list(target_codes), dtype="string")).dropna()))
    if not targets:
        raise ValueError("target_codes is empty; expected the COG 2024 commune codes of the polygons")
    rates = load_rp2017_rates(raw_dir)
    rates = rates[rates[RP2017_SHARES].notna().any(axis=1)]
    deps = {_departement(c) for c in targets}
    scope = rates[rates["code_commune"].map(_departement).isin(deps)].rename(columns={"code_commune": "old_code"})
    succ = geography.commune_successor_map(raw_dir, targets, scope["old_code"])
    succ = succ.astype({"old_code": "string", "code_commune": "string", "status": "string"})
    data = scope.merge(succ[["old_code", "code_commune", "status"]], on="old_code", how="left", validate="1:1")
    own = set(data.loc[data["status"] == "same", "code_commune"])
    skipped = (data["status"] == "arrondissement") & data["code_commune"].isin(own)
    lost = data[data["code_commune"].isna()]
    if len(lost):
        msg = f"{len(lost)} RP2017 communes could not be mapped to a target commune: {lost['old_code'].tolist()[:20]}"
        log.warning(msg)
        warnings.warn(msg, stacklevel=2)
    used = data[~skipped & data["code_commune"].notna()]
    out = _weighted_rates(used, weights).reindex(pd.Index(targets, name="code_commune")).reset_index()
    out["n_old_communes"] = out["n_old_communes"].fillna(0).astype("int64")
    out["old_codes"] = [c if isinstance(c, list) else [] for c in out["old_codes"]]
    own_only = [codes == [code] for code, codes in zip(out["code_commune"], out["old_codes"], strict=True)]
    out["status"] = np.where(out["n_old_communes"] == 0, "not_covered", np.where(own_only, "ok", "mapped"))
    out = out[["code_commune", *RP2017_SHARES, "status", "weighting", "n_old_communes", "old_codes"]]
    out = out.astype({"code_commune": "string", "status": "string", "weighting": "string"})
    out.attrs["mapping"] = _rp2017_mapping_counts(data, skipped, lost, out)
    log.info("RP2017 → COG 2024: %s", out.attrs["mapping"])
    return out


def _rp2017_mapping_counts(data: pd.DataFrame, skipped: pd.Series, lost: pd.DataFrame, out: pd.DataFrame) -> dict:
    """``attrs["mapping"]`` of :func:`rp2017_rates_by_commune_2024`: old codes in scope, ``same``,
    mapped (``mapped_old``: old code → target), skipped arrondissements, unmapped (listed), and
    the targets by status and weighting."""
    mapped = data["code_commune"].notna() & (data["status"] != "same") & ~skipped
    return {
        "n_old_in_scope": int(len(data)),
        "n_old_same": int((data["status"] == "same").sum()),
        "n_old_mapped": int(mapped.sum()),
        "mapped_old": {
            str(o): str(c) for o, c in zip(data.loc[mapped, "old_code"], data.loc[mapped, "code_commune"], strict=True)
        },
        "n_old_arrondissements_skipped": int(skipped.sum()),
        "n_old_unmapped": int(len(lost)),
        "unmapped_old": lost["old_code"].astype(str).tolist(),
        "n_targets_ok": int((out["status"] == "ok").sum()),
        "n_targets_mapped": int((out["status"] == "mapped").sum()),
        "n_targets_not_covered": int((out["status"] == "not_covered").sum()),
        "n_targets_population_weighted": int((out["weighting"] == "population").sum()),
        "n_targets_equal_weighted": int((out["weighting"] == "equal").sum()),
    }
