"""ARCEP connectivity files: FttH T1 2018 and speed classes 2019 by commune, mobile sites and 4G coverage.

Files handled (``raw/connectivity/``, see ``shared/data/SOURCES-connectivity-places.md`` §1):

- ``arcep_obs_thd_2018T1_*.csv``: CSV exports of the tabs of ARCEP's "Observatoire HD/THD"
  workbook, T1 2018. Comma-separated UTF-8, **4 banner lines** above the header, numbers as
  padded strings with space thousands separators (``" 96 773    "``), ``-`` for 0 / not
  applicable. Communes are those of early 2018 (COG 2018); Paris, Lyon and Marseille are whole
  communes here (75056, 69123, 13055) and their arrondissements are in separate files (not used,
  to avoid double counting).
- ``arcep_2018_01_Sites_mobiles_2G_3G_4G_France_metropolitaine_L93.csv``: ``;``-separated list of
  mobile sites with Lambert-93 coordinates and 0/1 flags per technology.
- ``arcep_ma_connexion_internet_commune_debit_beta_2019-09-30.csv`` (§1.3): « Ma connexion
  internet » beta, premises per commune (COG 2019) in **exclusive** classes of best available fixed
  speed, all technologies; one disclaimer line above a ``;`` header.
- ``arcep_couverture_mobile_2019T3_communes_derive.csv`` (§1.4): share of each commune's *area*
  covered in 4G by the best and by the worst operator, 2019 T3, metropolitan France, communes of
  about 2020; ``,``-separated, converted from an R data file.

:func:`ftth_by_commune_2024`, :func:`thd_by_commune_2024` and :func:`mobile_coverage_by_commune_2024`
carry the old commune figures onto the COG 2024 communes of the polygon layer with
:func:`loaders.geography.commune_successor_map`: sums of counts over merged communes, area-weighted
means of coverage shares.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from loaders import RAW_DIR, geography
from loaders import download as _download
from loaders.errors import LoaderError
from loaders.sources import Source
from loaders.tabular import check_unparsed, commune_code, read_csv, read_text, siren_code, to_number

log = logging.getLogger(__name__)

_OBS_PAGE = "https://www.data.gouv.fr/fr/datasets/le-marche-du-haut-et-tres-haut-debit-fixe-deploiements/"
_OBS_NOTES = (
    "Derivative (format): CSV export of the tabs of ARCEP's T1 2018 observatory workbook, from GitHub "
    "NJacq/laravel (commit 94f93a4, storage/app/public/), renamed; content as exported. Commune "
    "geography of early 2018. No direct official URL for this vintage: the data.gouv dataset now "
    "holds newer xlsx workbooks of another layout."
)

SOURCES: dict[str, Source] = {
    "arcep_ftth_communes_2018t1": Source(
        key="arcep_ftth_communes_2018t1",
        title="Réseaux FttH — déploiement par commune (locaux raccordables, catégorie), T3 2017–T1 2018",
        producer="ARCEP",
        vintage="T1 2018",
        raw_path="connectivity/arcep_obs_thd_2018T1_ftthCommunes.csv",
        sha256="8260477fd2188e2d51da0a7a2f04aab7368383208ea833b02d7e7c0f10dc875d",
        licence="Licence Ouverte / Etalab",
        url=None,
        page=_OBS_PAGE,
        notes=_OBS_NOTES,
    ),
    "arcep_communes_2018t1": Source(
        key="arcep_communes_2018t1",
        title="Réseaux FttH — informations à l'échelle de la commune (logements, établissements, zones)",
        producer="ARCEP",
        vintage="T1 2018",
        raw_path="connectivity/arcep_obs_thd_2018T1_communes.csv",
        sha256="caf96969e285477b958dcffd5ad889078d627e4d0a1bc2753919c180146b4b1f",
        licence="Licence Ouverte / Etalab",
        url=None,
        page=_OBS_PAGE,
        notes=_OBS_NOTES + " Logements + Établissements = premises, the denominator of the FttH rate.",
    ),
    "arcep_mobile_sites_2018_01": Source(
        key="arcep_mobile_sites_2018_01",
        title="Sites mobiles 2G/3G/4G, France métropolitaine (Lambert-93)",
        producer="ARCEP (Mon réseau mobile)",
        vintage="January 2018",
        raw_path="connectivity/arcep_2018_01_Sites_mobiles_2G_3G_4G_France_metropolitaine_L93.csv",
        sha256="90fb964af741ab745a9f693af0ab92fac0a80dffffe28d6b7beaa82b99167b73",
        licence="Licence Ouverte (ARCEP open data)",
        url=None,
        page="https://data.arcep.fr/mobile/",
        notes="ARCEP's original file name, copied from GitHub verailina/network_coverage_api (commit "
        "ec638c3); site locations, not a coverage map; 4G has since been generalised, so distances "
        "over-state today's gaps. One site has no coordinates (#N/A).",
    ),
    "arcep_thd_2019": Source(
        key="arcep_thd_2019",
        title="Ma connexion internet — locaux par classe de débit fixe (toutes technologies), par commune",
        producer="ARCEP",
        vintage="Ma connexion internet, 30/09/2019 (bêta)",
        raw_path="connectivity/arcep_ma_connexion_internet_commune_debit_beta_2019-09-30.csv",
        sha256="3bd6e65f4bf23458e98c346f4906c3ac38c98a5b0758b9cfca3e05f9aeba63e6",
        licence="Licence Ouverte / Etalab",
        url="https://data.arcep.fr/fixe/maconnexioninternet/statistiques/last/commune/commune_debit_filaire.csv",
        page=None,
        notes="Byte copy (renamed, content unchanged) of the 2019 beta export of ARCEP's « Ma connexion "
        "internet », from GitHub dataforgoodfr/batch8_mednum (commit c40fff3, "
        "data/raw/commune-debit-beta.csv); line 1 is ARCEP's beta disclaimer; communes of COG 2019. "
        "The official URL now serves the newer quarterly file, with more columns (elig_bhd8, "
        "elig_ftth…), that load_thd_2019 does not read: a download records the current file, the "
        "pack is still built from this 2019 copy.",
    ),
    "arcep_mobile_coverage_2019t3": Source(
        key="arcep_mobile_coverage_2019t3",
        title="Mon réseau mobile — part de la surface communale couverte en 4G (meilleur / moins bon opérateur)",
        producer="ARCEP (cartes « Mon réseau mobile »)",
        vintage="2019 T3",
        raw_path="connectivity/arcep_couverture_mobile_2019T3_communes_derive.csv",
        sha256="3959c45731c37a3d69177cc9e541327b694d8c5376d9098579da25f4cf64ca56",
        licence="Licence Ouverte (ARCEP open data; no licence stated by the aggregating repository)",
        url=None,
        page="https://data.arcep.fr/mobile/",
        notes="Derivative: ARCEP's 4G data coverage maps of 2019 T3, per operator, intersected with the "
        "commune contours and aggregated per commune by GitHub phileas-condemine/"
        "dataprep_fracture_numerique_sante (commit f45d77e, communes_scored.RData), converted from "
        "RData to CSV. Area-based coverage, not population or premises. Overlapping coverage "
        "polygons were not dissolved, so some shares exceed 1: capped at 1 and flagged. "
        "Metropolitan France only; Paris, Lyon and Marseille are absent. Commune codes of about 2020.",
    ),
}

#: MCC-MNC codes of the four metropolitan operators.
OPERATORS = {"20801": "Orange", "20810": "SFR", "20815": "Free Mobile", "20820": "Bouygues Telecom"}

FTTH_CHAMPS = {"Locaux Raccordables": "premises", "Catégorie": "category"}
QUARTERS = {"T3 2017": "t3_2017", "T4 2017": "t4_2017", "T1 2018": "t1_2018"}


def download(key: str, *, refresh: bool = True) -> Path:
    """Download the official file of source ``key`` into the user cache; return its local path.

    Only ``arcep_thd_2019`` has an official URL, and it serves the *current* quarterly « Ma
    connexion internet » file (a newer vintage and layout than the 2019 beta read by
    :func:`load_thd_2019`); the other ARCEP vintages have no direct official file. Raises
    LoaderError for an unknown key or a source without URL, DownloadError (a LoaderError) if the
    download fails with no cached copy.
    """
    if key not in SOURCES:
        raise LoaderError(key, "unknown source key", f"one of {', '.join(SOURCES)}")
    src = SOURCES[key]
    if not src.url:
        raise LoaderError(src.raw_path, f"source {key!r} has no official download URL", f"the file from {src.page}")
    path = _download.fetch(src.url, f"arcep_{src.url.rsplit('/', 1)[-1]}", refresh=refresh)
    read_text(path)  # fails clearly on an empty or binary download
    return path


def _path(raw_dir: Path | str, key: str, path: Path | str | None) -> Path:
    return Path(path) if path is not None else Path(raw_dir) / SOURCES[key].raw_path


def _header_row(path: Path, first_column: str, max_lines: int = 12) -> int:
    """Index of the header line (the first line starting with ``first_column``) below the banner."""
    text, _ = read_text(path)
    for i, line in enumerate(text.splitlines()[:max_lines]):
        if line.lstrip("\ufeff").strip().strip('"').startswith(first_column):
            return i
    raise LoaderError(
        path,
        f"no header line starting with {first_column!r} in the first {max_lines} lines",
        f"a banner then a header {first_column!r}, …",
    )


def _check_filled(path: Path, df: pd.DataFrame, columns: Iterable[str], offset: int) -> None:
    """Raise if a cell that is always published is empty (the symptom of a truncated file)."""
    for col in columns:
        empty = df[col].astype("string").str.strip().fillna("") == ""
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise LoaderError(
                path,
                f"empty {col!r} at line {i + offset} (truncated or damaged file?)",
                f"a value in {col!r} on every row",
            )


def _dash_zero(values: pd.Series) -> pd.Series:
    """ARCEP writes ``-`` for 0 / not applicable: turn it into ``0`` before parsing."""
    s = values.astype("string").str.strip()
    return s.mask(s == "-", "0")


def _numbers(path: Path, df: pd.DataFrame, column: str, dash_is_zero: bool = False) -> pd.Series:
    raw = _dash_zero(df[column]) if dash_is_zero else df[column]
    nums, secret = to_number(raw)
    check_unparsed(path, column, raw, nums, secret)
    return nums


def _commune_codes(path: Path, raw: pd.Series) -> pd.Series:
    """5-character INSEE codes of a one-row-per-commune file; raise on an invalid or repeated code."""
    codes = commune_code(raw)
    if codes.isna().any():
        raise LoaderError(
            path, f"invalid commune code {raw[codes.isna()].iloc[0]!r}", "INSEE codes like 01001 or 2A004"
        )
    if codes.duplicated().any():
        raise LoaderError(path, f"duplicated commune {codes[codes.duplicated()].iloc[0]}", "one row per commune")
    return codes


def _first_bad(
    path: Path, bad: pd.Series, codes: pd.Series, values: pd.Series, what: str, expected: str, offset: int
) -> None:
    """Raise on the first True of ``bad``, naming its value, file line (data row i + ``offset``) and commune."""
    flags = np.asarray(bad.fillna(True), dtype=bool)
    if flags.any():
        i = int(np.flatnonzero(flags)[0])
        raise LoaderError(path, f"{what} {values.iloc[i]!r} at line {i + offset} (commune {codes.iloc[i]})", expected)


def load_ftth_communes(raw_dir: Path = RAW_DIR, path: Path | None = None) -> pd.DataFrame:
    """FttH deployment per 2018 commune, T3 2017 – T1 2018 (``ftthCommunes.csv``).

    The file has two rows per commune (``Champ`` = ``Locaux Raccordables`` / ``Catégorie``),
    pivoted here to one row per commune. Columns: ``code_commune_2018`` (str), ``ftth_premises_t3_2017``,
    ``ftth_premises_t4_2017``, ``ftth_premises_t1_2018`` (float, premises connectable to FttH at the
    end of the quarter), ``ftth_category_t1_2018`` (Int64, ARCEP's deployment class 0/5/10/25/50/80).
    35 361 rows; Grenoble 38185: 77 040 → 79 258 → 81 794, category 50.
    """
    p = _path(raw_dir, "arcep_ftth_communes_2018t1", path)
    required = ["Code commune", "Champ", *QUARTERS]
    skip = _header_row(p, "Code commune")
    df = read_csv(p, required, sep=",", skiprows=skip)
    _check_filled(p, df, required, offset=skip + 2)
    df["code"] = commune_code(df["Code commune"])
    if df["code"].isna().any():
        raise LoaderError(
            p,
            f"invalid commune code {df.loc[df['code'].isna(), 'Code commune'].iloc[0]!r}",
            "INSEE codes like 01001 or 2A004",
        )
    champ = df["Champ"].str.strip()
    unknown = sorted(set(champ) - set(FTTH_CHAMPS))
    if unknown:
        raise LoaderError(p, f"unexpected Champ values {unknown[:3]}", f"Champ in {list(FTTH_CHAMPS)}")
    df["champ"] = champ.map(FTTH_CHAMPS)
    if df.duplicated(["code", "champ"]).any():
        dup = df.loc[df.duplicated(["code", "champ"]), "code"].iloc[0]
        raise LoaderError(p, f"commune {dup} has a repeated Champ row", "one row per (commune, Champ)")
    for q in QUARTERS:
        df[q] = _numbers(p, df, q)
    wide = df.pivot(index="code", columns="champ", values=list(QUARTERS))
    for champ_name in FTTH_CHAMPS.values():
        missing = (
            wide[("T1 2018", champ_name)].isna()
            if ("T1 2018", champ_name) in wide
            else pd.Series(True, index=wide.index)
        )
        if missing.any():
            raise LoaderError(
                p,
                f"commune {missing[missing].index[0]} has no {champ_name!r} row (truncated file?)",
                "two rows per commune: Locaux Raccordables and Catégorie",
            )
    out = pd.DataFrame(
        {
            "code_commune_2018": wide.index.astype("string"),
            **{f"ftth_premises_{v}": wide[(q, "premises")].to_numpy(dtype=float) for q, v in QUARTERS.items()},
            "ftth_category_t1_2018": pd.array(wide[("T1 2018", "category")].to_numpy(), dtype="Int64"),
        }
    )
    return out.sort_values("code_commune_2018", ignore_index=True)


def load_arcep_communes(raw_dir: Path = RAW_DIR, path: Path | None = None) -> pd.DataFrame:
    """Premises and zoning per 2018 commune (``communes.csv`` of the T1 2018 observatory).

    Columns: ``code_commune_2018``, ``name``, ``code_region``, ``code_departement`` (str),
    ``siren_epci`` (9 digits; NA for the 8 island communes outside any EPCI), ``logements``,
    ``etablissements`` (float), ``premises_total`` = logements + établissements (the FttH
    denominator), ``zone_tres_dense``, ``commune_rurale`` (bool), ``commune_montagne`` (Int64,
    0 = not a mountain commune, 1–3 as published), ``engagement_l3313``, ``oi_2018_t1`` (str, NA if
    none). ``-`` means 0 / no in ARCEP's format. Grenoble 38185: 96 773 + 5 803 = 102 576 premises.
    """
    p = _path(raw_dir, "arcep_communes_2018t1", path)
    required = [
        "Code commune",
        "Nom commune",
        "Code région",
        "Code département",
        "Siren EPCI",
        "Logements",
        "Établissements",
        "Zones très denses",
        "Engagements L. 33-13",
        "Commune rurale",
        "Commune de montagne",
    ]
    skip = _header_row(p, "Code commune")
    df = read_csv(p, required, sep=",", skiprows=skip)
    always = [
        "Code commune",
        "Nom commune",
        "Code département",
        "Logements",
        "Établissements",
        "Zones très denses",
        "Commune rurale",
        "Commune de montagne",
    ]
    _check_filled(p, df, always, offset=skip + 2)
    codes = _commune_codes(p, df["Code commune"])
    logements = _numbers(p, df, "Logements", dash_is_zero=True)
    etabs = _numbers(p, df, "Établissements", dash_is_zero=True)

    def flag(col: str) -> pd.Series:
        s = _dash_zero(df[col])
        bad = ~s.isin(["0", "1"])
        if bad.any():
            raise LoaderError(p, f"column {col!r}: value {df.loc[bad, col].iloc[0]!r}", "1 or -")
        return (s == "1").astype(bool)

    montagne = _dash_zero(df["Commune de montagne"])
    bad_m = ~montagne.str.fullmatch(r"[0-3]").fillna(False)
    if bad_m.any():
        raise LoaderError(
            p, f"column 'Commune de montagne': value {df.loc[bad_m, 'Commune de montagne'].iloc[0]!r}", "- or 1 to 3"
        )

    def text(col: str) -> pd.Series:
        if col not in df:
            return pd.Series(pd.NA, index=df.index, dtype="string")
        s = df[col].astype("string").str.strip()
        return s.mask(s.isin(["", "-"]), pd.NA)

    out = pd.DataFrame(
        {
            "code_commune_2018": codes,
            "name": df["Nom commune"].astype("string").str.strip(),
            "code_region": df["Code région"].astype("string").str.strip().str.zfill(2),
            "code_departement": df["Code département"].astype("string").str.strip().str.upper().str.zfill(2),
            "siren_epci": siren_code(df["Siren EPCI"].astype("string").str.strip().mask(lambda s: s == "", pd.NA)),
            "logements": logements,
            "etablissements": etabs,
            "premises_total": logements + etabs,
            "zone_tres_dense": flag("Zones très denses"),
            "commune_rurale": flag("Commune rurale"),
            "commune_montagne": pd.array(montagne.astype(int), dtype="Int64"),
            "engagement_l3313": text("Engagements L. 33-13"),
            "oi_2018_t1": text("OI 2018 T1"),
        }
    )
    return out.sort_values("code_commune_2018", ignore_index=True)


def load_mobile_sites(raw_dir: Path = RAW_DIR, path: Path | None = None) -> gpd.GeoDataFrame:
    """Mobile antenna sites, January 2018, metropolitan France, Lambert-93.

    Columns: ``operator_code`` (MCC-MNC, str), ``operator`` (Orange, SFR, Free Mobile, Bouygues
    Telecom; NA for an unknown code), ``has_2g``, ``has_3g``, ``has_4g`` (bool),
    ``geometry`` (Point, EPSG:2154; None where the file has ``#N/A`` coordinates — 1 site). 77 148 rows.
    """
    p = _path(raw_dir, "arcep_mobile_sites_2018_01", path)
    required = ["Operateur", "x", "y", "2G", "3G", "4G"]
    df = read_csv(p, required, sep=";")
    _check_filled(p, df, ["Operateur", "2G", "3G", "4G"], offset=2)
    op = df["Operateur"].astype("string").str.strip()
    bad_op = ~op.str.fullmatch(r"\d{5}").fillna(False)
    if bad_op.any():
        raise LoaderError(p, f"operator code {op[bad_op].iloc[0]!r}", "MCC-MNC codes like 20801")
    coords = {}
    for c in ("x", "y"):
        raw = df[c].astype("string").str.strip()
        raw = raw.mask(raw.isin(["#N/A", "NA", ""]), pd.NA)
        nums, secret = to_number(raw)
        check_unparsed(p, c, raw, nums, secret)
        coords[c] = nums.to_numpy(dtype=float)
    flags = {}
    for c in ("2G", "3G", "4G"):
        s = df[c].astype("string").str.strip()
        if (~s.isin(["0", "1"])).any():
            raise LoaderError(p, f"column {c!r}: value {s[~s.isin(['0', '1'])].iloc[0]!r}", "0 or 1")
        flags[f"has_{c.lower()}"] = (s == "1").to_numpy()
    located = np.isfinite(coords["x"]) & np.isfinite(coords["y"])
    geom = gpd.points_from_xy(coords["x"], coords["y"])
    geom[~located] = None
    return gpd.GeoDataFrame(
        {"operator_code": op, "operator": op.map(OPERATORS).astype("string"), **flags},
        geometry=geom,
        crs=geography.LAMBERT93,
    )


def nearest_4g_distance(points_xy_l93: np.ndarray, sites: gpd.GeoDataFrame) -> np.ndarray:
    """Distance (m) from each point to the nearest site with 4G, by a k-d tree (scipy ``cKDTree``).

    ``points_xy_l93``: array (n, 2) of Lambert-93 x, y; rows with NaN give NaN. ``sites``: the
    output of :func:`load_mobile_sites` (reprojected to Lambert-93 if needed; sites without
    coordinates are ignored). Euclidean distance in the projected plane.
    """
    pts = np.asarray(points_xy_l93, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points_xy_l93 must have shape (n, 2), got {pts.shape}")
    if "has_4g" not in sites:
        raise ValueError("sites must have a boolean 'has_4g' column (see load_mobile_sites)")
    if sites.crs is not None and sites.crs.to_epsg() != 2154:
        sites = sites.to_crs(geography.LAMBERT93)
    s4 = sites[sites["has_4g"].astype(bool) & sites.geometry.notna() & ~sites.geometry.is_empty]
    if s4.empty:
        raise ValueError("no 4G site with coordinates")
    tree = cKDTree(np.column_stack([s4.geometry.x.to_numpy(), s4.geometry.y.to_numpy()]))
    out = np.full(len(pts), np.nan)
    ok = np.isfinite(pts).all(axis=1)
    if ok.any():
        out[ok], _ = tree.query(pts[ok], k=1)
    return out


#: Exclusive classes of premises by best available fixed speed, all technologies (2019 beta file).
THD_CLASSES = ("inel_hd", "elig_hd05", "elig_hd3", "elig_hd8", "elig_thd30", "elig_thd100", "elig_thd1g")
#: The classes at 30 Mbit/s or more (« très haut débit »).
THD_30_CLASSES = ("elig_thd30", "elig_thd100", "elig_thd1g")
#: Operator names of the 2019 coverage file → the names of :data:`OPERATORS`.
COVERAGE_OPERATORS = {"Orange": "Orange", "SFR": "SFR", "Bouygues": "Bouygues Telecom", "Free": "Free Mobile"}
#: Largest covered share: the coverage file's shares above it come from overlapping polygons.
MAX_SHARE = 1.0


def _counts(path: Path, df: pd.DataFrame, column: str, codes: pd.Series, offset: int) -> pd.Series:
    """Premises counts of ``column`` as int64; raise on a negative, fractional or missing count."""
    nums = _numbers(path, df, column)
    bad = ~np.isfinite(nums) | (nums < 0) | (nums % 1 != 0)
    _first_bad(path, bad, codes, df[column], f"column {column!r}: count", "a whole number of premises ≥ 0", offset)
    return nums.astype("int64")


def load_thd_2019(raw_dir: Path = RAW_DIR, path: Path | None = None) -> pd.DataFrame:
    """Premises by best available fixed speed per 2019 commune (ARCEP « Ma connexion internet » beta).

    Parameters
    ----------
    raw_dir : Path
        Directory of the published files.
    path : Path, optional
        The CSV itself (overrides ``raw_dir``).

    Returns
    -------
    pandas.DataFrame
        One row per commune (COG 2019), sorted by code: ``code_commune_2019``, ``name``,
        ``code_departement``, ``code_region`` (str); ``premises_2019`` = ``nbr`` (housing + business
        premises); ``thd_premises`` = ``elig_thd30 + elig_thd100 + elig_thd1g``, the premises with
        ≥ 30 Mbit/s by any technology (the speed columns are exclusive classes, so they add up);
        ``no_hd_premises`` = ``inel_hd`` (premises without « bon haut débit »); counts are int64;
        ``date`` (str, ISO); ``inconsistent`` (bool): Σ of the seven classes > ``nbr`` or
        ``thd_premises`` > ``nbr``. Inconsistent rows are kept, logged and counted in
        ``attrs["inconsistent"]``; rows with ``nbr`` = 0 (no premises published: a gap of the beta,
        or a commune merged in 2019 whose premises are under the new code) are counted in
        ``attrs["zero_premises"]``: their THD rate is undefined.

    Raises
    ------
    LoaderError
        Missing column or header, empty cell, invalid or repeated commune code, count that is
        negative, fractional or not a number, date not in ISO form.

    Notes
    -----
    35 359 communes, 4 092 in AURA (``code_region`` 84); in the 2019 file the classes add up exactly
    to ``nbr`` on every row (0 inconsistent) and 433 communes have 0 premises (81 in AURA). Grenoble 38185:
    117 620 premises, 343 + 2 126 + 106 471 = 108 940 at ≥ 30 Mbit/s (92,6 %).
    """
    p = _path(raw_dir, "arcep_thd_2019", path)
    required = ["code_insee", "nom_com", "code_dep", "code_reg", "nbr", *THD_CLASSES, "date"]
    skip = _header_row(p, "code_insee", max_lines=3)
    df = read_csv(p, required, sep=";", skiprows=skip)
    offset = skip + 2
    _check_filled(p, df, required, offset=offset)
    codes = _commune_codes(p, df["code_insee"])
    n = {c: _counts(p, df, c, codes, offset) for c in ["nbr", *THD_CLASSES]}
    date = df["date"].astype("string").str.strip()
    bad_date = ~date.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    _first_bad(p, bad_date, codes, df["date"], "column 'date':", "an ISO date like 2019-09-30", offset)
    thd = sum(n[c] for c in THD_30_CLASSES)
    inconsistent = (sum(n[c] for c in THD_CLASSES) > n["nbr"]) | (thd > n["nbr"])
    out = pd.DataFrame(
        {
            "code_commune_2019": codes,
            "name": df["nom_com"].astype("string").str.strip(),
            "code_departement": df["code_dep"].astype("string").str.strip().str.upper().str.zfill(2),
            "code_region": df["code_reg"].astype("string").str.strip().str.zfill(2),
            "premises_2019": n["nbr"],
            "thd_premises": thd,
            "no_hd_premises": n["inel_hd"],
            "date": date,
            "inconsistent": inconsistent.astype(bool),
        }
    ).sort_values("code_commune_2019", ignore_index=True)
    out.attrs["inconsistent"] = int(inconsistent.sum())
    out.attrs["zero_premises"] = int((out["premises_2019"] == 0).sum())
    if out.attrs["inconsistent"]:
        bad = out.loc[out["inconsistent"], "code_commune_2019"].tolist()
        log.warning("%s: %d communes whose speed classes exceed their premises: %s", p, len(bad), bad[:20])
    return out


def _shares(path: Path, df: pd.DataFrame, column: str, codes: pd.Series, offset: int) -> pd.Series:
    """Covered shares of ``column`` as float; raise on a missing, infinite or negative share."""
    nums = _numbers(path, df, column)
    bad = ~np.isfinite(nums) | (nums < 0)
    _first_bad(path, bad, codes, df[column], f"column {column!r}: share", "a covered share of the area ≥ 0", offset)
    return nums


def _coverage_operators(path: Path, df: pd.DataFrame, column: str, codes: pd.Series, offset: int) -> pd.Series:
    """Operator names of ``column`` mapped to the names of :data:`OPERATORS`; raise on an unknown one."""
    s = df[column].astype("string").str.strip()
    bad = ~s.isin(list(COVERAGE_OPERATORS))
    _first_bad(
        path, bad, codes, df[column], f"column {column!r}: operator", f"one of {list(COVERAGE_OPERATORS)}", offset
    )
    return s.map(COVERAGE_OPERATORS).astype("string")


def load_mobile_coverage_2019(raw_dir: Path = RAW_DIR, path: Path | None = None) -> pd.DataFrame:
    """Share of each commune's area covered in 4G by the best / worst operator, ARCEP 2019 T3.

    Parameters
    ----------
    raw_dir : Path
        Directory of the published files.
    path : Path, optional
        The CSV itself (overrides ``raw_dir``).

    Returns
    -------
    pandas.DataFrame
        One row per commune of metropolitan France (codes of about 2020), sorted by code:
        ``code_commune_2020``, ``name``; ``cov4g_best`` = min(tx_4G_max, 1) and ``cov4g_worst`` =
        min(tx_4G_min, 1), the covered fraction of the commune *area* for the best and the worst
        of the four operators; ``best_operator``, ``worst_operator`` (Orange, SFR, Bouygues Telecom,
        Free Mobile; at a share of 0 the operator named is one of the tied ones);
        ``cov4g_capped`` (bool): a raw share was above 1 (overlapping coverage polygons not
        dissolved by the aggregating author) and was capped; ``area_weight`` = ``area``, the
        commune area in square degrees (WGS84), only meaningful as a relative size between
        neighbouring communes; ``pop2016`` (float, as joined by the author). The count of capped
        rows is in ``attrs["capped"]``. The DREES APL and ``combo_couvertures`` columns are ignored.

    Raises
    ------
    LoaderError
        Missing column, empty code / operator / name, invalid or repeated code, share that is
        missing, negative or not a number (the file has no missing 4G share), worst share above
        the best, area ≤ 0, unknown operator.

    Notes
    -----
    34 832 communes (AURA 4 029; Paris, Lyon and Marseille absent), 16 with ``tx_4G_max`` > 1
    (max 1,557, Joucou 11177), none with ``tx_4G_min`` > 1. Grenoble 38185: 1 and 1; Valjouffrey
    38522: 0,01634858442 (Orange) and 0,0001213884557 (Free).
    """
    p = _path(raw_dir, "arcep_mobile_coverage_2019t3", path)
    required = ["code", "tx_4G_max", "best_op_4G", "tx_4G_min", "worst_op_4G", "area", "lib_com", "pop2016"]
    df = read_csv(p, required, sep=",")
    offset = 2
    _check_filled(p, df, ["code", "best_op_4G", "worst_op_4G", "lib_com"], offset=offset)
    codes = _commune_codes(p, df["code"])
    best = _shares(p, df, "tx_4G_max", codes, offset)
    worst = _shares(p, df, "tx_4G_min", codes, offset)
    _first_bad(
        p, worst > best, codes, df["tx_4G_min"], "tx_4G_min above tx_4G_max:", "worst share ≤ best share", offset
    )
    area = _numbers(p, df, "area")
    _first_bad(p, ~(area > 0), codes, df["area"], "column 'area':", "a positive commune area (square degrees)", offset)
    capped = (best > MAX_SHARE) | (worst > MAX_SHARE)
    out = pd.DataFrame(
        {
            "code_commune_2020": codes,
            "name": df["lib_com"].astype("string").str.strip(),
            "cov4g_best": best.clip(upper=MAX_SHARE),
            "cov4g_worst": worst.clip(upper=MAX_SHARE),
            "best_operator": _coverage_operators(p, df, "best_op_4G", codes, offset),
            "worst_operator": _coverage_operators(p, df, "worst_op_4G", codes, offset),
            "cov4g_capped": capped.astype(bool),
            "area_weight": area,
            "pop2016": _numbers(p, df, "pop2016"),
        }
    ).sort_values("code_commune_2020", ignore_index=True)
    out.attrs["capped"] = int(capped.sum())
    log.info("%s: %d communes with a 4G share above 1, capped", p, out.attrs["capped"])
    return out


# ---------------------------------------------------------------------------------------------
# carrying old communes onto the COG 2024 communes of the polygon layer


def _departement(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


def _target_codes(target_codes: Iterable[str]) -> np.ndarray:
    """The unique 5-character codes of ``target_codes``; ValueError if there are none."""
    targets = commune_code(pd.Series(list(target_codes), dtype="string")).dropna().unique()
    if len(targets) == 0:
        raise ValueError("target_codes is empty; expected the COG 2024 commune codes of the polygons")
    return np.asarray(targets, dtype=object)


def _map_in_scope(raw_dir: Path, codes: pd.Series, targets: np.ndarray, what: str) -> pd.DataFrame:
    """Map the old commune ``codes`` lying in a département of ``targets`` onto the targets.

    Returns one row per in-scope code (the scope: codes whose département, ``97x`` or the first
    two characters, is a département of a target): ``old_code``, ``code_commune`` (NA if it lands
    nowhere), ``status`` and ``n_merged`` of :func:`loaders.geography.commune_successor_map`.
    In-scope codes that land nowhere are logged and raise a warning naming ``what``.
    """
    deps = {_departement(c) for c in targets}
    codes = pd.Series(codes, dtype="string").reset_index(drop=True)
    scope = codes[codes.map(_departement).isin(deps)]
    succ = geography.commune_successor_map(raw_dir, targets, scope)
    succ = succ[["old_code", "code_commune", "status", "n_merged"]]
    lost = succ.loc[succ["code_commune"].isna(), "old_code"].tolist()
    if lost:
        msg = f"{len(lost)} {what} communes could not be mapped to a target commune: {lost[:20]}"
        log.warning(msg)
        warnings.warn(msg, stacklevel=3)
    return succ


def _sum_all(values: pd.Series) -> float:
    """Σ values, NaN if any term is NaN (a merged commune with a missing part has no total)."""
    return values.sum(min_count=len(values))


def _carry_to_targets(
    data: pd.DataFrame, targets: np.ndarray, *, old_col: str, aggs: dict, n_col: str, codes_col: str
) -> pd.DataFrame:
    """Aggregate mapped old-commune rows per target commune, one row per target (sorted).

    ``data`` has one row per mapped old commune (``code_commune``, ``old_col`` and the values);
    ``aggs`` are pandas named aggregations. Adds ``n_col`` (number of old communes), ``codes_col``
    (their sorted codes) and ``status``: ``ok`` (the commune's own code only), ``mapped`` (other or
    several old codes), ``not_covered`` (no old commune: aggregated values NaN).
    """
    grouped = data.groupby("code_commune").agg(
        **aggs, **{n_col: (old_col, "size"), codes_col: (old_col, lambda s: sorted(s.astype(str)))}
    )
    out = grouped.reindex(pd.Index(sorted(targets), name="code_commune")).reset_index()
    out["code_commune"] = out["code_commune"].astype("string")
    out[n_col] = out[n_col].fillna(0).astype("int64")
    out[codes_col] = [c if isinstance(c, list) else [] for c in out[codes_col]]
    own = [codes == [code] for code, codes in zip(out["code_commune"], out[codes_col], strict=True)]
    out["status"] = np.where(out[n_col] == 0, "not_covered", np.where(own, "ok", "mapped"))
    out["status"] = out["status"].astype("string")
    return out


def _mapping_report(mapping: pd.DataFrame, old_col: str, out: pd.DataFrame, label: str) -> dict:
    """Counts of a mapping (``attrs["mapping"]``): old communes in scope / same / mapped / unmapped, targets."""
    lost = mapping.loc[mapping["code_commune"].isna(), old_col]
    moved = mapping["code_commune"].notna() & (mapping["status"] != "same").fillna(False)
    return {
        f"n_{label}_in_scope": int(len(mapping)),
        f"n_{label}_same": int((mapping["status"] == "same").sum()),
        f"n_{label}_mapped": int(moved.sum()),
        f"n_{label}_unmapped": int(len(lost)),
        f"unmapped_{label}": lost.astype(str).tolist(),
        "n_targets_mapped": int((out["status"] == "mapped").sum()),
        "n_targets_not_covered": int((out["status"] == "not_covered").sum()),
    }


def map_arcep_2018_communes(
    raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = (), *, communes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Where each 2018 commune of the ARCEP files lands among ``target_codes`` (COG 2024).

    One row per 2018 commune whose département is a département of the targets (the scope):
    ``code_commune_2018``, ``name_2018``, ``code_departement``, ``code_commune`` (NA if not
    mapped), ``status`` of :func:`loaders.geography.commune_successor_map` (``same``,
    ``successor``, ``ambiguous``, ``unmapped``…), ``n_merged`` (2018 communes landing in the same
    target). AURA: 4 092 communes in 2018, all mapped (4 027 ``same``, 65 ``successor``).
    """
    targets = _target_codes(target_codes)
    communes = load_arcep_communes(raw_dir) if communes is None else communes
    succ = _map_in_scope(raw_dir, communes["code_commune_2018"], targets, "ARCEP 2018")
    out = (
        communes[["code_commune_2018", "name", "code_departement"]]
        .rename(columns={"name": "name_2018"})
        .merge(succ.rename(columns={"old_code": "code_commune_2018"}), on="code_commune_2018", validate="one_to_one")
    )
    return out.sort_values("code_commune_2018", ignore_index=True)


def ftth_by_commune_2024(raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = ()) -> pd.DataFrame:
    """ARCEP T1 2018 premises and FttH premises carried to the ``target_codes`` communes (COG 2024).

    For each target commune c with 2018 communes S(c) (from :func:`map_arcep_2018_communes`):
    ``premises_total`` = Σ_{S(c)} (logements + établissements), ``ftth_premises`` = Σ_{S(c)}
    locaux raccordables T1 2018 (both additive counts; the rate is their ratio, never averaged).
    Columns: ``code_commune``, ``logements``, ``etablissements``, ``premises_total``,
    ``ftth_premises``, ``ftth_premises_t3_2017``, ``ftth_premises_t4_2017``, ``n_2018_communes``,
    ``codes_2018`` (list[str]), ``status``: ``ok`` (the commune's own 2018 row), ``mapped`` (merged or
    renamed 2018 codes summed), ``not_covered`` (no 2018 row: values NaN). In-scope 2018
    communes that could not be mapped raise a warning and are listed in
    ``result.attrs["mapping"]`` (with the counts of ``same`` / ``mapped`` 2018 communes).
    """
    targets = _target_codes(target_codes)
    communes = load_arcep_communes(raw_dir)
    ftth = load_ftth_communes(raw_dir)
    mapping = map_arcep_2018_communes(raw_dir, targets, communes=communes)
    data = (
        mapping.dropna(subset=["code_commune"])
        .merge(
            communes[["code_commune_2018", "logements", "etablissements", "premises_total"]],
            on="code_commune_2018",
            how="left",
        )
        .merge(ftth, on="code_commune_2018", how="left")
    )
    aggs = {
        "logements": ("logements", _sum_all),
        "etablissements": ("etablissements", _sum_all),
        "premises_total": ("premises_total", _sum_all),
        "ftth_premises": ("ftth_premises_t1_2018", _sum_all),
        "ftth_premises_t3_2017": ("ftth_premises_t3_2017", _sum_all),
        "ftth_premises_t4_2017": ("ftth_premises_t4_2017", _sum_all),
    }
    out = _carry_to_targets(
        data, targets, old_col="code_commune_2018", aggs=aggs, n_col="n_2018_communes", codes_col="codes_2018"
    )
    out.attrs["mapping"] = _mapping_report(mapping, "code_commune_2018", out, "2018")
    log.info("ARCEP 2018 → COG 2024: %s", out.attrs["mapping"])
    return out


def thd_by_commune_2024(raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = ()) -> pd.DataFrame:
    """ARCEP 2019 premises and premises with ≥ 30 Mbit/s carried to the ``target_codes`` communes (COG 2024).

    For each target commune c with 2019 communes S(c) (the codes of :func:`load_thd_2019` in the
    départements of the targets, mapped by :func:`loaders.geography.commune_successor_map`):

        premises_2019(c) = Σ_{S(c)} nbr,   thd_premises(c) = Σ_{S(c)} (elig_thd30 + elig_thd100 + elig_thd1g)

    Both are additive counts: the « THD » rate of c is thd_premises / premises_2019 (undefined
    for 0 premises), never an average of rates.

    Returns
    -------
    pandas.DataFrame
        One row per target, sorted: ``code_commune``, ``premises_2019``, ``thd_premises`` (float,
        NaN if not covered), ``n_2019_communes``, ``codes_2019`` (list[str]), ``status`` (``ok``:
        the commune's own 2019 row; ``mapped``: merged or renamed 2019 codes summed;
        ``not_covered``: no 2019 row), ``inconsistent`` (boolean: a 2019 part is inconsistent,
        see :func:`load_thd_2019`; NA if not covered). ``attrs["mapping"]`` has the counts
        (``n_2019_in_scope``, ``n_2019_same``, ``n_2019_mapped``, ``n_2019_unmapped``,
        ``unmapped_2019``, ``n_targets_mapped``, ``n_targets_not_covered``); in-scope 2019
        communes that land nowhere also raise a warning. ``attrs["inconsistent"]`` counts the
        targets with an inconsistent part, ``attrs["zero_premises"]`` those with 0 premises (THD
        rate undefined).

    Notes
    -----
    AURA: the 4 092 communes of the 2019 file all land in one of the 4 027 communes of 2024 (65
    through a successor code, into 42 communes); 50 communes of 2024 have 0 premises in the file.
    """
    targets = _target_codes(target_codes)
    thd = load_thd_2019(raw_dir)
    mapping = _map_in_scope(raw_dir, thd["code_commune_2019"], targets, "ARCEP 2019 (Ma connexion internet)")
    mapping = mapping.rename(columns={"old_code": "code_commune_2019"})
    data = mapping.dropna(subset=["code_commune"]).merge(
        thd[["code_commune_2019", "premises_2019", "thd_premises", "inconsistent"]],
        on="code_commune_2019",
        how="left",
        validate="one_to_one",
    )
    aggs = {
        "premises_2019": ("premises_2019", _sum_all),
        "thd_premises": ("thd_premises", _sum_all),
        "inconsistent": ("inconsistent", "any"),
    }
    out = _carry_to_targets(
        data, targets, old_col="code_commune_2019", aggs=aggs, n_col="n_2019_communes", codes_col="codes_2019"
    )
    out[["premises_2019", "thd_premises"]] = out[["premises_2019", "thd_premises"]].astype(float)
    out["inconsistent"] = out.pop("inconsistent").astype("boolean").mask(out["status"] == "not_covered")
    out.attrs["mapping"] = _mapping_report(mapping, "code_commune_2019", out, "2019")
    out.attrs["inconsistent"] = int(out["inconsistent"].sum())
    out.attrs["zero_premises"] = int((out["premises_2019"] == 0).sum())
    log.info("ARCEP 2019 THD → COG 2024: %s", out.attrs["mapping"])
    return out


def mobile_coverage_by_commune_2024(raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = ()) -> pd.DataFrame:
    """ARCEP 2019 T3 4G area coverage carried to the ``target_codes`` communes (COG 2024).

    For each target commune c with old communes S(c) (the codes of
    :func:`load_mobile_coverage_2019`, about 2020, in the départements of the targets, mapped by
    :func:`loaders.geography.commune_successor_map`), the **area-weighted mean** of the capped
    shares, with a_i = ``area_weight`` (commune area in square degrees: the parts of a merged
    commune lie at the same latitude, so their ratio is that of their areas in km²):

        cov4g_best(c) = Σ_{i ∈ S(c)} best_i · a_i / Σ_{i ∈ S(c)} a_i      (same for cov4g_worst)

    i.e. the covered share of the merged area (for the best operator of each part, which may
    differ between parts: an upper bound of any single operator's share).

    Returns
    -------
    pandas.DataFrame
        One row per target, sorted: ``code_commune``, ``cov4g_best``, ``cov4g_worst`` (in [0, 1],
        NaN if not covered), ``cov4g_capped`` (boolean: a part was capped; NA if not covered),
        ``n_old_communes``, ``old_codes`` (list[str]), ``status`` (``ok``, ``mapped``,
        ``not_covered``). ``attrs["mapping"]`` has the counts (``n_old_in_scope``,
        ``n_old_same``, ``n_old_mapped``, ``n_old_unmapped``, ``unmapped_old``,
        ``n_targets_mapped``, ``n_targets_not_covered``).

    Notes
    -----
    AURA: Lyon 69123 is ``not_covered`` (the coverage file has no row for Paris, Lyon, Marseille
    nor their arrondissements).
    """
    targets = _target_codes(target_codes)
    cov = load_mobile_coverage_2019(raw_dir)
    mapping = _map_in_scope(raw_dir, cov["code_commune_2020"], targets, "ARCEP 2019 T3 mobile-coverage")
    mapping = mapping.rename(columns={"old_code": "code_commune_2020"})
    data = mapping.dropna(subset=["code_commune"]).merge(cov, on="code_commune_2020", how="left", validate="one_to_one")
    data["best_x_area"] = data["cov4g_best"] * data["area_weight"]
    data["worst_x_area"] = data["cov4g_worst"] * data["area_weight"]
    aggs = {
        "best_x_area": ("best_x_area", _sum_all),
        "worst_x_area": ("worst_x_area", _sum_all),
        "area": ("area_weight", _sum_all),
        "cov4g_capped": ("cov4g_capped", "any"),
    }
    out = _carry_to_targets(
        data, targets, old_col="code_commune_2020", aggs=aggs, n_col="n_old_communes", codes_col="old_codes"
    )
    for col in ("best", "worst"):  # clip: floating-point rounding only, each share is in [0, 1]
        out[f"cov4g_{col}"] = (out[f"{col}_x_area"] / out["area"]).clip(0.0, MAX_SHARE)
    out["cov4g_capped"] = out["cov4g_capped"].astype("boolean").mask(out["status"] == "not_covered")
    out = out[["code_commune", "cov4g_best", "cov4g_worst", "cov4g_capped", "n_old_communes", "old_codes", "status"]]
    out.attrs["mapping"] = _mapping_report(mapping, "code_commune_2020", out, "old")
    log.info("ARCEP 2019 T3 4G coverage → COG 2024: %s", out.attrs["mapping"])
    return out


__all__ = [
    "SOURCES",
    "OPERATORS",
    "COVERAGE_OPERATORS",
    "THD_CLASSES",
    "THD_30_CLASSES",
    "download",
    "load_ftth_communes",
    "load_arcep_communes",
    "load_mobile_sites",
    "nearest_4g_distance",
    "load_thd_2019",
    "load_mobile_coverage_2019",
    "map_arcep_2018_communes",
    "ftth_by_commune_2024",
    "thd_by_commune_2024",
    "mobile_coverage_by_commune_2024",
]
