"""A user's own places (CSV or XLSX upload): row-level validation, good rows kept.

Two layouts are accepted:

- the national *lieux de médiation numérique* schema (columns ``nom``, ``latitude``,
  ``longitude``, ``services``, ``horaires`` (OSM format), ``adresse``, ``code_postal``,
  ``commune``, ``code_insee``, ``typologie``, ``pivot``, ``date_maj``…);
- the simple template offered by the app (:data:`TEMPLATE_COLUMNS`).

:func:`parse_user_places` never raises for a bad row: it returns the valid rows in the places
schema of the pack (``geodata/SCHEMA.md``) and a report with one line per problem (row number as
in the spreadsheet — header = row 1 —, field, value, what is wrong). A file that cannot be read at
all (too large, not CSV/XLSX, no usable column) raises :class:`~loaders.errors.LoaderError`.
"""

from __future__ import annotations

import io
import json
import math

import geopandas as gpd
import pandas as pd

from loaders import opening_hours
from loaders.errors import LoaderError
from loaders.places import DATA_INCLUSION_TYPES, SERVICE_CATEGORIES, SERVICE_MAP, TYPES, services_string, type_from_name

PLACE_TYPES = TYPES
#: keywords of free-text service labels (template) -> category; national-schema labels use SERVICE_MAP
SERVICE_KEYWORDS = (
    ("démarche", "demarches"),
    ("demarche", "demarches"),
    ("administrat", "demarches"),
    ("compétence", "competences_base"),
    ("competence", "competences_base"),
    ("initiation", "competences_base"),
    ("équipement", "equipement"),
    ("equipement", "equipement"),
    ("matériel", "equipement"),
    ("connexion", "equipement"),
)


def normalise_type(value: str, name: str) -> str:
    """Place type from the template's ``type`` (an enum value, a data·inclusion code or free text), else from the name."""
    v = value.strip()
    if v.lower() in TYPES:
        return v.lower()
    if v.upper() in DATA_INCLUSION_TYPES:
        return DATA_INCLUSION_TYPES[v.upper()]
    return type_from_name(v) or type_from_name(name) or "autre"


def normalise_services(text: str) -> list[str]:
    """Service categories of a ``;``/``,``-separated list (national schema labels or free text)."""
    cats = []
    for label in (x.strip() for x in text.replace(",", ";").split(";")):
        if not label:
            continue
        if label in SERVICE_CATEGORIES:
            cats.append(label)
        elif label in SERVICE_MAP:
            cats.append(SERVICE_MAP[label])
        else:
            low = label.lower()
            cats.append(next((cat for kw, cat in SERVICE_KEYWORDS if kw in low), "autres"))
    found = services_string(cats)
    return found.split(";") if found else []

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
#: metropolitan France + Corsica, WGS84
LAT_RANGE, LON_RANGE = (41.0, 51.6), (-5.8, 10.0)

TEMPLATE_COLUMNS = {
    "nom": "Nom de la structure (obligatoire)",
    "type": f"Type : {', '.join(PLACE_TYPES)} (ou libellé libre)",
    "adresse": "Adresse postale",
    "code_postal": "Code postal (5 chiffres)",
    "commune": "Commune",
    "latitude": "Latitude WGS84, ex. 45.1885 (obligatoire)",
    "longitude": "Longitude WGS84, ex. 5.7245 (obligatoire)",
    "services": "Services séparés par « ; » : démarches en ligne ; compétences de base ; équipement",
    "horaires": "Horaires au format OSM, ex. « Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00 »",
    "conseillers": "Nombre de conseillers / aidants (nombre)",
}
#: national schema column -> template column
SCHEMA_ALIASES = {"typologie": "type", "code_insee": "code_insee", "pivot": "siret"}


def template_csv() -> bytes:
    """The simple template (header + one example row), UTF-8 with BOM so that Excel opens it well."""
    example = {
        "nom": "Espace numérique exemple",
        "type": "association",
        "adresse": "1 place Exemple",
        "code_postal": "38000",
        "commune": "Grenoble",
        "latitude": "45.1885",
        "longitude": "5.7245",
        "services": "démarches en ligne; compétences de base",
        "horaires": "Mo-Fr 09:00-12:00,14:00-17:00",
        "conseillers": "1",
    }
    df = pd.DataFrame([example], columns=list(TEMPLATE_COLUMNS))
    return df.to_csv(index=False, sep=";").encode("utf-8-sig")


def _read(content: bytes, filename: str) -> pd.DataFrame:
    if len(content) > MAX_BYTES:
        raise LoaderError(filename, f"file is {len(content) / 1e6:.1f} MB", f"at most {MAX_BYTES // 1024 // 1024} MB")
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        try:
            df = pd.read_excel(io.BytesIO(content), dtype=str, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many types for a corrupt file
            raise LoaderError(filename, f"cannot read the spreadsheet: {exc}", "an .xlsx file saved by Excel or LibreOffice") from exc
    elif lower.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("cp1252", errors="replace")
        first = text.split("\n", 1)[0]
        sep = ";" if first.count(";") >= first.count(",") else ","
        try:
            df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
        except pd.errors.ParserError as exc:
            raise LoaderError(filename, f"malformed CSV: {exc}", "a ; or , separated file with one header line") from exc
    else:
        raise LoaderError(filename, "unsupported file type", "a .csv or .xlsx file")
    df.columns = [str(c).strip().lstrip("\ufeff").lower() for c in df.columns]
    df = df.rename(columns={k: v for k, v in SCHEMA_ALIASES.items() if k in df.columns and v not in df.columns})
    missing = [c for c in ("nom", "latitude", "longitude") if c not in df.columns]
    if missing:
        raise LoaderError(filename, f"missing columns {missing}; found {list(df.columns)[:12]}", "columns nom, latitude, longitude (template or national schema)")
    if len(df) > MAX_ROWS:
        raise LoaderError(filename, f"{len(df)} rows", f"at most {MAX_ROWS} rows")
    return df.fillna("")


def _number(text: str) -> float | None:
    t = str(text).strip().replace(",", ".").replace("\u00a0", "").replace(" ", "")
    if not t:
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def parse_user_places(content: bytes, filename: str, source_key: str = "import_utilisateur") -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Validate an uploaded file; returns ``(good places in the pack schema, problems report)``."""
    df = _read(content, filename)
    problems: list[dict] = []
    rows: list[dict] = []
    for i, rec in enumerate(df.to_dict("records")):
        line = i + 2  # spreadsheet row: header is row 1
        errs: list[tuple[str, str, str]] = []
        name = str(rec.get("nom", "")).strip()
        if not name:
            errs.append(("nom", "", "nom vide (obligatoire)"))
        elif len(name) > 200:
            errs.append(("nom", name[:40] + "…", "nom trop long (200 caractères au plus)"))
        lat, lon = _number(rec.get("latitude", "")), _number(rec.get("longitude", ""))
        if lat is None or not LAT_RANGE[0] <= lat <= LAT_RANGE[1]:
            errs.append(("latitude", str(rec.get("latitude", "")), f"nombre attendu entre {LAT_RANGE[0]} et {LAT_RANGE[1]} (France métropolitaine)"))
        if lon is None or not LON_RANGE[0] <= lon <= LON_RANGE[1]:
            errs.append(("longitude", str(rec.get("longitude", "")), f"nombre attendu entre {LON_RANGE[0]} et {LON_RANGE[1]}"))
        staff = None
        raw_staff = str(rec.get("conseillers", "")).strip()
        if raw_staff:
            staff = _number(raw_staff)
            if staff is None or staff < 0 or staff > 100:
                errs.append(("conseillers", raw_staff, "nombre entre 0 et 100 attendu"))
        postcode = str(rec.get("code_postal", "")).strip()
        if postcode and not (postcode.isdigit() and len(postcode) == 5):
            errs.append(("code_postal", postcode, "5 chiffres attendus"))
        hours = None
        raw_hours = str(rec.get("horaires", "")).strip()
        if raw_hours:
            hours = opening_hours.parse_osm(raw_hours)
            if hours is None:
                errs.append(("horaires", raw_hours[:60], "horaires illisibles (format OSM attendu, ex. « Mo-Fr 09:00-12:00 »)"))
        services = normalise_services(str(rec.get("services", "")))
        if errs:
            problems += [{"ligne": line, "champ": f, "valeur": v, "problème": p} for f, v, p in errs]
            continue
        rows.append(
            {
                "place_id": f"{source_key}:{line}",
                "name": name,
                "type": normalise_type(str(rec.get("type", "")), name),
                "type_raw": str(rec.get("type", "")).strip() or None,
                "services": ";".join(services) if services else None,
                "address": str(rec.get("adresse", "")).strip() or None,
                "postcode": postcode or None,
                "code_commune": str(rec.get("code_insee", "")).strip() or None,
                "lon": lon,
                "lat": lat,
                "hours_json": json.dumps(hours, sort_keys=True) if hours else None,
                "weekly_hours": opening_hours.weekly_hours(hours) if hours else float("nan"),
                "open_evening": opening_hours.open_evening(hours) if hours else pd.NA,
                "open_saturday": opening_hours.open_saturday(hours) if hours else pd.NA,
                "staff": staff if staff is not None else float("nan"),
                "offers_digital_help": True,
                "sources": source_key,
            }
        )
    report = pd.DataFrame(problems, columns=["ligne", "champ", "valeur", "problème"])
    good = pd.DataFrame(rows)
    if good.empty:
        return gpd.GeoDataFrame(good, geometry=[], crs="EPSG:2154"), report
    gdf = gpd.GeoDataFrame(good, geometry=gpd.points_from_xy(good["lon"], good["lat"]), crs="EPSG:4326").to_crs("EPSG:2154")
    gdf["x"], gdf["y"] = gdf.geometry.x, gdf.geometry.y
    return gdf, report
