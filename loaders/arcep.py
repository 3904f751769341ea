"""ARCEP connectivity files: FttH deployment T1 2018 by commune, mobile antenna sites (Jan 2018).

Files handled (``raw/connectivity/``, see ``shared/data/SOURCES-connectivity-places.md`` §1):

- ``arcep_obs_thd_2018T1_*.csv``: CSV exports of the tabs of ARCEP's "Observatoire HD/THD"
  workbook, T1 2018. Comma-separated UTF-8, **4 banner lines** above the header, numbers as
  padded strings with space thousands separators (``" 96 773    "``), ``-`` for 0 / not
  applicable. Communes are those of early 2018 (COG 2018); Paris, Lyon and Marseille are whole
  communes here (75056, 69123, 13055) and their arrondissements are in separate files (not used,
  to avoid double counting).
- ``arcep_2018_01_Sites_mobiles_2G_3G_4G_France_metropolitaine_L93.csv``: ``;``-separated list of
  mobile sites with Lambert-93 coordinates and 0/1 flags per technology.

:func:`ftth_by_commune_2024` carries the 2018 commune figures onto the COG 2024 communes of the
polygon layer with :func:`loaders.geography.commune_successor_map` (sums over merged communes).
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
        licence="Licence Ouverte (ARCEP open data)",
        url=None,
        page="https://data.arcep.fr/mobile/",
        notes="ARCEP's original file name, copied from GitHub verailina/network_coverage_api (commit "
        "ec638c3); site locations, not a coverage map; 4G has since been generalised, so distances "
        "over-state today's gaps. One site has no coordinates (#N/A).",
    ),
}

#: MCC-MNC codes of the four metropolitan operators.
OPERATORS = {"20801": "Orange", "20810": "SFR", "20815": "Free Mobile", "20820": "Bouygues Telecom"}

FTTH_CHAMPS = {"Locaux Raccordables": "premises", "Catégorie": "category"}
QUARTERS = {"T3 2017": "t3_2017", "T4 2017": "t4_2017", "T1 2018": "t1_2018"}


def download(key: str) -> Path:
    """No ARCEP file read here has an official direct URL for its vintage: always raises LoaderError."""
    if key not in SOURCES:
        raise LoaderError(key, "unknown source key", f"one of {', '.join(SOURCES)}")
    src = SOURCES[key]
    raise LoaderError(src.raw_path, f"source {key!r} has no official download URL", f"the file from {src.page}")


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
    codes = commune_code(df["Code commune"])
    if codes.isna().any():
        raise LoaderError(
            p,
            f"invalid commune code {df.loc[codes.isna(), 'Code commune'].iloc[0]!r}",
            "INSEE codes like 01001 or 2A004",
        )
    if codes.duplicated().any():
        raise LoaderError(p, f"duplicated commune {codes[codes.duplicated()].iloc[0]}", "one row per commune")
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


def _departement(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


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
    targets = commune_code(pd.Series(list(target_codes), dtype="string")).dropna().unique()
    if len(targets) == 0:
        raise ValueError("target_codes is empty; expected the COG 2024 commune codes of the polygons")
    communes = load_arcep_communes(raw_dir) if communes is None else communes
    deps = {_departement(c) for c in targets}
    scope = communes[communes["code_departement"].isin(deps)]
    succ = geography.commune_successor_map(raw_dir, targets, scope["code_commune_2018"])
    out = (
        scope[["code_commune_2018", "name", "code_departement"]]
        .rename(columns={"name": "name_2018"})
        .merge(
            succ.rename(columns={"old_code": "code_commune_2018"})[
                ["code_commune_2018", "code_commune", "status", "n_merged"]
            ],
            on="code_commune_2018",
            how="left",
            validate="one_to_one",
        )
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
    targets = commune_code(pd.Series(list(target_codes), dtype="string")).dropna().unique()
    communes = load_arcep_communes(raw_dir)
    ftth = load_ftth_communes(raw_dir)
    mapping = map_arcep_2018_communes(raw_dir, targets, communes=communes)
    lost = mapping[mapping["code_commune"].isna()]
    if len(lost):
        msg = f"{len(lost)} ARCEP 2018 communes could not be mapped to a target commune: {lost['code_commune_2018'].tolist()[:20]}"
        log.warning(msg)
        warnings.warn(msg, stacklevel=2)
    data = (
        mapping.dropna(subset=["code_commune"])
        .merge(
            communes[["code_commune_2018", "logements", "etablissements", "premises_total"]],
            on="code_commune_2018",
            how="left",
        )
        .merge(ftth, on="code_commune_2018", how="left")
    )
    sums = data.groupby("code_commune").agg(
        logements=("logements", lambda s: s.sum(min_count=len(s))),
        etablissements=("etablissements", lambda s: s.sum(min_count=len(s))),
        premises_total=("premises_total", lambda s: s.sum(min_count=len(s))),
        ftth_premises=("ftth_premises_t1_2018", lambda s: s.sum(min_count=len(s))),
        ftth_premises_t3_2017=("ftth_premises_t3_2017", lambda s: s.sum(min_count=len(s))),
        ftth_premises_t4_2017=("ftth_premises_t4_2017", lambda s: s.sum(min_count=len(s))),
        n_2018_communes=("code_commune_2018", "size"),
        codes_2018=("code_commune_2018", lambda s: sorted(s.astype(str))),
    )
    out = sums.reindex(pd.Index(sorted(targets), name="code_commune")).reset_index()
    out["code_commune"] = out["code_commune"].astype("string")
    out["n_2018_communes"] = out["n_2018_communes"].fillna(0).astype("int64")
    out["codes_2018"] = [c if isinstance(c, list) else [] for c in out["codes_2018"]]
    own = [codes == [code] for code, codes in zip(out["code_commune"], out["codes_2018"], strict=True)]
    out["status"] = np.where(out["n_2018_communes"] == 0, "not_covered", np.where(own, "ok", "mapped"))
    out["status"] = out["status"].astype("string")
    n_mapped_2018 = int(
        (mapping["status"].notna() & (mapping["status"] != "same") & mapping["code_commune"].notna()).sum()
    )
    out.attrs["mapping"] = {
        "n_2018_in_scope": int(len(mapping)),
        "n_2018_same": int((mapping["status"] == "same").sum()),
        "n_2018_mapped": n_mapped_2018,
        "n_2018_unmapped": int(len(lost)),
        "unmapped_2018": lost["code_commune_2018"].astype(str).tolist(),
        "n_targets_mapped": int((out["status"] == "mapped").sum()),
        "n_targets_not_covered": int((out["status"] == "not_covered").sum()),
    }
    log.info("ARCEP 2018 → COG 2024: %s", out.attrs["mapping"])
    return out
