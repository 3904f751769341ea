"""A user's own places (CSV or XLSX upload): bounded reading, row-level validation, good rows kept.

Two layouts are accepted:

- the national *lieux de médiation numérique* schema (columns ``nom``, ``latitude``,
  ``longitude``, ``services``, ``horaires`` (OSM format), ``adresse``, ``code_postal``,
  ``commune``, ``code_insee``, ``typologie``, ``pivot``, ``date_maj``…);
- the simple template offered by the app (:data:`TEMPLATE_COLUMNS`, :func:`template_csv`).

:func:`parse_user_places` never raises for a bad row: it returns the valid rows in the places
schema of the pack (``geodata/SCHEMA.md``) and a report with one line per problem (row number as
in the spreadsheet — header = row 1 —, field, value, what is wrong, in French). A file that
cannot be read at all raises :class:`~loaders.errors.LoaderError` whose ``problem`` and
``expected`` are French sentences shown to the user as they are.

**Bounds.** An upload comes from anyone who can open the app, and the server is shared by every
session: the file is refused *before* it can take much memory or time, and while it is read:

============================  ==========================================================  =========
limit                         where it is enforced                                        value
============================  ==========================================================  =========
file size                     before anything (:func:`_check_size`)                       5 MiB
XLSX uncompressed size        zip directory read before openpyxl opens the file           30 MiB
                              (zipfile never inflates a member past its declared size)
XLSX archive members          same                                                        300
rows (non-blank, after the    counted while streaming: reading stops at the first row     5 000
header)                       above the limit
rows, blank ones included     same (a sheet's row numbers can jump to 1 048 576)          50 000
columns                       each row, while streaming                                   60
cell length                   each row (CSV: the csv module also stops at 131 072)        10 000
parse time (CPU of the        every 256 rows                                              10 s
session's thread)
============================  ==========================================================  =========

**Isolation.** The app reads uploads with :func:`parse_user_places_isolated`: the same parse in a
child process (``multiprocessing`` *forkserver*, forked from a small server process that has
imported this module once: ≈ 15 ms per upload), lower priority (``nice`` 10), killed when its
resident memory grows by more than :data:`WORKER_MEMORY_BYTES` (watched every 50 ms), when its
CPU time passes twice :data:`MAX_PARSE_CPU_S` (``RLIMIT_CPU``) or after :data:`WORKER_WALL_S`;
at most :data:`MAX_CONCURRENT_PARSES` at once.
The server's Python threads never hold the interpreter lock for an upload: the other sessions
keep their speed (``benchmarks/bench_load.py``). Where child processes cannot be started the
parse runs in the calling thread, bounded as above.

CSV is read with the :mod:`csv` module row by row (no DataFrame of an unknown width), XLSX with
openpyxl in ``read_only`` mode (rows streamed from the sheet's XML; the sheet's declared
dimensions are ignored, they can lie). Every :data:`_YIELD_EVERY_ROWS` rows the reading thread
releases the GIL (``time.sleep(0)``), so that the other sessions of the server keep their share
of the interpreter while a large legitimate file is read. Blank rows are skipped. A row with more fields than the
header is reported on its row (« 9 champs au lieu de 8 ») instead of shifting its columns; empty
trailing fields (a trailing ``;``) are ignored.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import multiprocessing
import os
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from loaders import opening_hours
from loaders.errors import LoaderError
from loaders.places import DATA_INCLUSION_TYPES, SERVICE_CATEGORIES, SERVICE_MAP, TYPES, services_string, type_from_name

__all__ = [
    "MAX_CONCURRENT_PARSES",
    "WORKER_MEMORY_BYTES",
    "WORKER_WALL_S",
    "LAT_RANGE",
    "LON_RANGE",
    "MAX_BYTES",
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_PARSE_CPU_S",
    "MAX_ROWS",
    "MAX_SHEET_ROWS",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_XLSX_MEMBERS",
    "PLACE_TYPES",
    "SCHEMA_ALIASES",
    "TEMPLATE_COLUMNS",
    "normalise_services",
    "normalise_type",
    "parse_user_places",
    "parse_user_places_isolated",
    "prepare_isolation",
    "template_csv",
]

log = logging.getLogger(__name__)

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

_MIB = 1024 * 1024
MAX_BYTES = 5 * _MIB  # the file as uploaded (compressed, for an XLSX)
MAX_UNCOMPRESSED_BYTES = 30 * _MIB  # XLSX: sum of the archive members' uncompressed sizes
MAX_XLSX_MEMBERS = 300
MAX_ROWS = 5000  # data rows (non-blank rows below the header)
MAX_SHEET_ROWS = 50_000  # rows read in all, blank ones included (a sheet can claim a million)
MAX_COLUMNS = 60  # the national schema has about 30
MAX_CELL_CHARS = 10_000
MAX_PARSE_CPU_S = 10.0  # CPU seconds of the reading thread (5 000 × 60 inline-string cells ≈ 9 s on 2 slow cores)
_CHECK_EVERY_ROWS = 256
_YIELD_EVERY_ROWS = 32  # the reading thread lets the other sessions' threads run (GIL) this often
#: the reading process is killed when its resident memory grows by more than this
WORKER_MEMORY_BYTES = 512 * _MIB
_WATCH_EVERY_S = 0.05
WORKER_WALL_S = 30.0  # the reading process is killed after this long (queueing included)
MAX_CONCURRENT_PARSES = 2  # uploads read at the same time (the others wait their turn)
_WORKER_NICE = 10
MAX_NAME_CHARS = 200
MAX_HOURS_CHARS = 300
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
    "services": "Services séparés par des virgules : démarches en ligne, compétences de base, équipement",
    "horaires": (
        "Horaires au format OSM. Dans un fichier CSV, entre guillemets (le « ; » qui sépare les jours sépare "
        'aussi les colonnes) : "Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00" ; dans un tableur, sans guillemets'
    ),
    "conseillers": "Nombre de conseillers / aidants (nombre)",
}
#: national schema column -> template column
SCHEMA_ALIASES = {"typologie": "type", "code_insee": "code_insee", "pivot": "siret"}
REQUIRED_COLUMNS = ("nom", "latitude", "longitude")
_SEPARATORS = (";", ",", "\t")
_SEP_NAMES = {";": "« ; »", ",": "« , »", "\t": "tabulation"}


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


def template_csv() -> bytes:
    """The simple template (header + one example row), ``;``-separated, UTF-8 with BOM (Excel).

    The example's hours hold a ``;`` (between day rules, as OSM wants): the csv writer quotes
    them, so that the template shows how to write them in a CSV.
    """
    example = {
        "nom": "Espace numérique exemple",
        "type": "association",
        "adresse": "1 place Exemple",
        "code_postal": "38000",
        "commune": "Grenoble",
        "latitude": "45.1885",
        "longitude": "5.7245",
        "services": "démarches en ligne, compétences de base",
        "horaires": "Mo-Fr 09:00-12:00,14:00-17:00; Sa 09:00-12:00",
        "conseillers": "1",
    }
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(TEMPLATE_COLUMNS)
    writer.writerow([example[c] for c in TEMPLATE_COLUMNS])
    return buf.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------------------------
# bounded reading


@dataclass
class _Table:
    """What :func:`_read` returns: column names, ``(row number, cells)`` and rows refused on read."""

    columns: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / _MIB:.1f}".replace(".", ",")


def _check_size(content: bytes, filename: str) -> None:
    if len(content) > MAX_BYTES:
        raise LoaderError(filename, f"le fichier fait {_mb(len(content))} Mo", f"{MAX_BYTES // _MIB} Mo au plus")
    if not content.strip():
        raise LoaderError(filename, "le fichier est vide", "une ligne d'en-tête (nom, latitude, longitude…) puis une ligne par lieu")


def _decode(content: bytes, filename: str) -> str:
    if b"\x00" in content[:4096]:
        raise LoaderError(filename, "le fichier n'est pas un texte CSV (il contient des octets nuls)", "un fichier CSV (texte) ou XLSX")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def _separator(text: str) -> str:
    """``;``, ``,`` or tab: the most frequent in the first non-blank line (``;`` on a tie)."""
    first = next((line for line in io.StringIO(text) if line.strip()), "")  # lazily: not every line at once
    return max(_SEPARATORS, key=first.count)


def _csv_rows(content: bytes, filename: str) -> Iterator[list[str]]:
    """Rows of a CSV, one at a time (the csv module, not a DataFrame of unknown width)."""
    text = _decode(content, filename)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_separator(text))
    try:
        yield from reader
    except csv.Error as exc:
        limit = csv.field_size_limit()
        if "field limit" in str(exc):
            raise LoaderError(
                filename,
                f"ligne {reader.line_num} : une cellule de plus de {limit:_} caractères (un guillemet non fermé ?)".replace("_", " "),
                f"des cellules de {MAX_CELL_CHARS:_} caractères au plus".replace("_", " "),
            ) from None
        raise LoaderError(filename, f"CSV mal formé à la ligne {reader.line_num} ({exc})", "un fichier séparé par « ; » ou « , »") from None


def _check_xlsx_archive(content: bytes, filename: str) -> None:
    """Refuse an XLSX whose zip directory announces too many members or too many bytes.

    openpyxl reads through :mod:`zipfile`, which never returns more than a member's declared
    size (and checks its CRC), so the sizes checked here bound what opening the file inflates.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LoaderError(filename, f"ce n'est pas un classeur .xlsx lisible ({type(exc).__name__})",
                          "un fichier .xlsx enregistré par Excel ou LibreOffice (pas un .xls)") from None
    if len(infos) > MAX_XLSX_MEMBERS:
        raise LoaderError(filename, f"le classeur contient {len(infos)} parties", f"{MAX_XLSX_MEMBERS} au plus")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise LoaderError(filename, f"le classeur fait {_mb(total)} Mo une fois décompressé",
                          f"{MAX_UNCOMPRESSED_BYTES // _MIB} Mo au plus une fois décompressé ({MAX_ROWS} lignes au plus)")


def _xlsx_rows(content: bytes, filename: str) -> Iterator[list[str]]:
    """Rows of the first sheet, streamed by openpyxl (read-only mode), at most MAX_COLUMNS + 1 wide."""
    import openpyxl  # imported on first use: the app starts faster

    _check_xlsx_archive(content, filename)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise LoaderError(filename, f"classeur illisible ({type(exc).__name__})",
                          "un fichier .xlsx enregistré par Excel ou LibreOffice") from None
    try:
        ws = wb.worksheets[0] if wb.worksheets else None
        if ws is None or not hasattr(ws, "iter_rows"):
            raise LoaderError(filename, "la première feuille du classeur n'est pas un tableau", "les lieux dans la première feuille")
        ws.reset_dimensions()  # the declared dimensions can lie (rows cut off, or a million padded ones)
        for values in ws.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True):
            yield ["" if v is None else str(v) for v in values]
    except LoaderError:
        raise
    except Exception as exc:  # a damaged member (CRC, XML) shows up while streaming
        raise LoaderError(filename, f"classeur illisible ({type(exc).__name__})",
                          "un fichier .xlsx enregistré par Excel ou LibreOffice") from None
    finally:
        wb.close()


def _trim(cells: list[str]) -> list[str]:
    """Without trailing empty cells (a trailing separator, a padded spreadsheet row)."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _check_row(filename: str, line: int, cells: list[str], t0: float) -> None:
    """File-level limits checked on every row: columns, cell length, CPU time."""
    if len(cells) > MAX_COLUMNS:
        raise LoaderError(filename, f"ligne {line} : plus de {MAX_COLUMNS} colonnes", f"{MAX_COLUMNS} colonnes au plus")
    longest = max((len(c) for c in cells), default=0)
    if longest > MAX_CELL_CHARS:
        col = next(i for i, c in enumerate(cells) if len(c) == longest) + 1
        raise LoaderError(filename, f"ligne {line}, colonne {col} : une cellule de {longest:_} caractères".replace("_", " "),
                          f"{MAX_CELL_CHARS:_} caractères au plus par cellule".replace("_", " "))
    if line % _YIELD_EVERY_ROWS == 0:
        time.sleep(0)  # release the GIL: other sessions' scripts run between our rows
    if line % _CHECK_EVERY_ROWS == 0 and time.thread_time() - t0 > MAX_PARSE_CPU_S:
        raise LoaderError(filename, f"lecture interrompue à la ligne {line} : plus de {MAX_PARSE_CPU_S:g} s de calcul",
                          f"un fichier plus simple ({MAX_ROWS} lignes au plus)")


def _too_many_fields(line: int, n: int, width: int, columns: list[str]) -> dict:
    hint = "mettez les horaires entre guillemets" if "horaires" in columns else "mettez entre guillemets les valeurs qui contiennent le séparateur"
    return {"ligne": line, "champ": "(toute la ligne)", "valeur": f"{n} champs",
            "problème": f"ligne {line} : {n} champs au lieu de {width} — {hint}"}


def _collect(rows: Iterator[list[str]], filename: str) -> _Table:
    """Header and data rows, the bounds enforced while the rows arrive."""
    t0 = time.thread_time()
    table: _Table | None = None
    width = 0
    for line, raw in enumerate(rows, start=1):
        if line > MAX_SHEET_ROWS:
            raise LoaderError(filename, f"plus de {MAX_SHEET_ROWS:_} lignes, lignes vides comprises".replace("_", " "),
                              f"{MAX_ROWS} lignes de lieux au plus, sans lignes vides en masse")
        cells = _trim(raw)
        _check_row(filename, line, cells, t0)
        if not cells:
            continue  # blank row
        if table is None:
            table = _Table([c.strip().lstrip("\ufeff").strip().lower() for c in cells])
            width = len(table.columns)
            continue
        if len(table.rows) + len(table.problems) >= MAX_ROWS:
            raise LoaderError(filename, f"plus de {MAX_ROWS} lignes de lieux", f"{MAX_ROWS} lignes au plus : découpez le fichier")
        if len(cells) > width:
            table.problems.append(_too_many_fields(line, len(cells), width, table.columns))
        else:
            table.rows.append((line, cells))
    if table is None:
        raise LoaderError(filename, "le fichier ne contient aucune ligne", "une ligne d'en-tête (nom, latitude, longitude…) puis une ligne par lieu")
    return table


def _read(content: bytes, filename: str) -> tuple[list[str], list[tuple[int, dict]], list[dict]]:
    """``(columns, [(row number, record)], problems found on read)``; LoaderError if unusable."""
    _check_size(content, filename)
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        table = _collect(_xlsx_rows(content, filename), filename)
    elif lower.endswith(".csv"):
        table = _collect(_csv_rows(content, filename), filename)
    elif lower.endswith(".xls"):
        raise LoaderError(filename, "format .xls (Excel 97-2003) non pris en charge", "un fichier .xlsx ou .csv : « Enregistrer sous » dans le tableur")
    else:
        raise LoaderError(filename, "type de fichier non pris en charge", "un fichier .csv ou .xlsx")
    columns = [SCHEMA_ALIASES.get(c, c) if SCHEMA_ALIASES.get(c, c) not in table.columns else c for c in table.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        found = ", ".join(c[:30] for c in columns[:12] if c) or "aucune"
        raise LoaderError(filename, f"colonnes obligatoires absentes : {', '.join(missing)} (colonnes trouvées : {found})",
                          "les colonnes nom, latitude, longitude (modèle ou schéma national), séparées par « ; » ou « , »")
    if not table.rows and not table.problems:
        raise LoaderError(filename, "le fichier ne contient que la ligne d'en-tête : aucun lieu à importer", "une ligne par lieu sous l'en-tête")
    first = {}
    for i, c in enumerate(columns):
        if c and c not in first:
            first[c] = i
    records = [(line, {c: (cells[i].strip() if i < len(cells) else "") for c, i in first.items()}) for line, cells in table.rows]
    return columns, records, table.problems


# --------------------------------------------------------------------------------------------
# rows


def _number(text: str) -> float | None:
    t = str(text).strip().replace(",", ".").replace("\u00a0", "").replace(" ", "")
    if not t or len(t) > 40:
        return None
    try:
        v = float(t)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _check_fields(rec: dict) -> tuple[list[tuple[str, str, str]], dict]:
    """Problems of one record (field, shown value, what is wrong) and its parsed values."""
    errs: list[tuple[str, str, str]] = []
    name = rec.get("nom", "")
    if not name:
        errs.append(("nom", "", "nom vide (obligatoire)"))
    elif len(name) > MAX_NAME_CHARS:
        errs.append(("nom", name[:40] + "…", f"nom trop long ({MAX_NAME_CHARS} caractères au plus)"))
    lat, lon = _number(rec.get("latitude", "")), _number(rec.get("longitude", ""))
    if lat is None or not LAT_RANGE[0] <= lat <= LAT_RANGE[1]:
        errs.append(("latitude", rec.get("latitude", "")[:60], f"nombre attendu entre {LAT_RANGE[0]} et {LAT_RANGE[1]} (France métropolitaine)"))
    if lon is None or not LON_RANGE[0] <= lon <= LON_RANGE[1]:
        errs.append(("longitude", rec.get("longitude", "")[:60], f"nombre attendu entre {LON_RANGE[0]} et {LON_RANGE[1]}"))
    staff = None
    raw_staff = rec.get("conseillers", "")
    if raw_staff:
        staff = _number(raw_staff)
        if staff is None or staff < 0 or staff > 100:
            errs.append(("conseillers", raw_staff[:60], "nombre entre 0 et 100 attendu"))
    postcode = rec.get("code_postal", "")
    if postcode and not (postcode.isdigit() and len(postcode) == 5):
        errs.append(("code_postal", postcode[:60], "5 chiffres attendus"))
    hours = None
    raw_hours = rec.get("horaires", "")
    if len(raw_hours) > MAX_HOURS_CHARS:
        errs.append(("horaires", raw_hours[:60] + "…", f"horaires trop longs ({MAX_HOURS_CHARS} caractères au plus)"))
    elif raw_hours:
        hours = opening_hours.parse_osm(raw_hours)
        if hours is None:
            errs.append(("horaires", raw_hours[:60], "horaires illisibles (format OSM attendu, ex. « Mo-Fr 09:00-12:00 »)"))
    return errs, {"name": name, "lat": lat, "lon": lon, "staff": staff, "postcode": postcode, "hours": hours}


def _place(line: int, rec: dict, v: dict, source_key: str) -> dict:
    """One valid record in the places schema of the pack."""
    hours, services = v["hours"], normalise_services(rec.get("services", ""))
    return {
        "place_id": f"{source_key}:{line}",
        "name": v["name"],
        "type": normalise_type(rec.get("type", ""), v["name"]),
        "type_raw": rec.get("type", "") or None,
        "services": ";".join(services) if services else None,
        "address": rec.get("adresse", "") or None,
        "postcode": v["postcode"] or None,
        "code_commune": rec.get("code_insee", "") or None,
        "lon": v["lon"],
        "lat": v["lat"],
        "hours_json": json.dumps(hours, sort_keys=True) if hours else None,
        "weekly_hours": opening_hours.weekly_hours(hours) if hours else float("nan"),
        "open_evening": opening_hours.open_evening(hours) if hours else pd.NA,
        "open_saturday": opening_hours.open_saturday(hours) if hours else pd.NA,
        "staff": v["staff"] if v["staff"] is not None else float("nan"),
        "offers_digital_help": True,
        "sources": source_key,
    }


def parse_user_places(content: bytes, filename: str, source_key: str = "import_utilisateur") -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Validate an uploaded file; returns ``(good places in the pack schema, problems report)``.

    Raises :class:`~loaders.errors.LoaderError` (French ``problem`` / ``expected``) for a file
    that cannot be used at all: over a limit (module docstring), empty, header only, not CSV /
    XLSX, without the columns nom, latitude, longitude.
    """
    return _to_geo(*_parse_rows(content, filename, source_key))


def _parse_rows(content: bytes, filename: str, source_key: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The valid places as a plain table (lon, lat in WGS84) and the problems report."""
    _columns, records, problems = _read(content, filename)
    rows: list[dict] = []
    for line, rec in records:
        errs, values = _check_fields(rec)
        if errs:
            problems += [{"ligne": line, "champ": f, "valeur": v, "problème": p} for f, v, p in errs]
        else:
            rows.append(_place(line, rec, values, source_key))
    report = pd.DataFrame(problems, columns=["ligne", "champ", "valeur", "problème"])
    if len(report):
        report = report.sort_values("ligne", kind="stable").reset_index(drop=True)
    return pd.DataFrame(rows), report


def _to_geo(good: pd.DataFrame, report: pd.DataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Lambert-93 points (``geometry``, ``x``, ``y``) of the valid places (done in the server
    process: its projection database is already loaded, a new child's is not)."""
    if good.empty:
        return gpd.GeoDataFrame(good, geometry=[], crs="EPSG:2154"), report
    gdf = gpd.GeoDataFrame(good, geometry=gpd.points_from_xy(good["lon"], good["lat"]), crs="EPSG:4326").to_crs("EPSG:2154")
    gdf["x"], gdf["y"] = gdf.geometry.x, gdf.geometry.y
    return gdf, report


# --------------------------------------------------------------------------------------------
# isolation: the parse in a child process


_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_PARSES)
_CONTEXT: list = []  # the forkserver context, once created
_LAUNCH_LOCK = threading.Lock()

try:  # Unix: a forkserver child that does not re-run the parent's __main__
    from multiprocessing import popen_forkserver as _popen_forkserver
    from multiprocessing import spawn as _spawn
    from multiprocessing.context import ForkServerProcess as _ForkServerProcess

    class _Popen(_popen_forkserver.Popen):
        """Launch without the parent's ``__main__`` in the child's preparation data.

        Streamlit makes the app script (``app.py``) the ``__main__`` module of its server, and
        multiprocessing re-runs ``__main__`` in each child before the target: the whole app,
        outside Streamlit, for every upload. The target here needs only this module (preloaded
        by the fork server).
        """

        def _launch(self, process_obj):
            real = _spawn.get_preparation_data

            def without_main(name):
                data = real(name)
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
                return data

            with _LAUNCH_LOCK:
                _spawn.get_preparation_data = without_main
                try:
                    super()._launch(process_obj)
                finally:
                    _spawn.get_preparation_data = real

    class _ReaderProcess(_ForkServerProcess):
        """The process that reads one upload (:func:`parse_user_places_isolated`)."""

        @staticmethod
        def _Popen(process_obj):  # noqa: N802  (multiprocessing's name)
            return _Popen(process_obj)

except ImportError:  # no fork server on this platform: uploads are read in the calling thread
    _ReaderProcess = None


def _context():
    """The forkserver context (preloading this module), or None where it does not exist."""
    if not _CONTEXT:
        try:
            ctx = multiprocessing.get_context("forkserver") if _ReaderProcess is not None else None
            if ctx is not None:
                ctx.set_forkserver_preload([__name__])
        except ValueError:  # no forkserver on this platform
            ctx = None
        _CONTEXT.append(ctx)
    return _CONTEXT[0]


def prepare_isolation() -> None:
    """Start the fork server ahead of the first upload (≈ 1–2 s once: it imports this module)."""
    ctx = _context()
    if ctx is not None:
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _limit_resources() -> None:
    """In the child: lower priority and a CPU-time ceiling (memory is watched by the parent:
    an address-space limit would also count what numpy and PROJ only reserve)."""
    import resource

    os.nice(_WORKER_NICE)
    cpu = int(2 * MAX_PARSE_CPU_S)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _worker(conn, content: bytes, filename: str, source_key: str) -> None:
    """Child process: parse, send ``("ok", places, report)`` or ``("refused", problem, expected)``."""
    try:
        try:
            _limit_resources()
        except (OSError, ValueError):  # not Linux: the parse's own bounds still apply
            pass
        try:
            good, report = _parse_rows(content, filename, source_key)
            result = ("ok", good, report)
        except LoaderError as exc:
            result = ("refused", exc.problem, exc.expected)
        except MemoryError:
            result = ("refused", "la lecture du fichier a dépassé la mémoire permise",
                      f"un fichier plus simple ({MAX_ROWS} lignes au plus)")
        conn.send(result)
    finally:
        conn.close()


def parse_user_places_isolated(content: bytes, filename: str, source_key: str = "import_utilisateur", *,
                               timeout_s: float = WORKER_WALL_S) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """:func:`parse_user_places` in a child process with its own limits (module docstring).

    Same result and the same :class:`~loaders.errors.LoaderError` refusals, plus a refusal when
    the child is killed (time, memory) or when ``timeout_s`` passes (waiting for a free slot
    included). Runs in the calling thread where no child process can be started.
    """
    _check_size(content, filename)  # before any process: the cheapest refusal
    ctx = _context()
    if ctx is None:
        return parse_user_places(content, filename, source_key)
    deadline = time.monotonic() + timeout_s
    if not _SLOTS.acquire(timeout=timeout_s):
        raise LoaderError(filename, "d'autres fichiers sont en cours de lecture sur le serveur", "réessayez dans un instant")
    try:
        return _run_child(ctx, content, filename, source_key, max(0.1, deadline - time.monotonic()))
    finally:
        _SLOTS.release()


def _watch(proc, conn, filename: str, timeout_s: float) -> None:
    """Wait for the child's answer; kill it past the time or memory ceiling (LoaderError)."""
    import psutil

    deadline = time.monotonic() + timeout_s
    try:
        watched = psutil.Process(proc.pid)
        start = watched.memory_info().rss
    except psutil.Error:  # already gone: its answer (or EOF) is in the pipe
        return
    while not conn.poll(_WATCH_EVERY_S):
        try:
            grown = watched.memory_info().rss - start
        except psutil.Error:
            return
        if grown > WORKER_MEMORY_BYTES:
            proc.kill()
            raise LoaderError(filename, f"la lecture du fichier a dépassé la mémoire permise ({WORKER_MEMORY_BYTES // _MIB} Mo)",
                              f"un fichier plus simple ({MAX_ROWS} lignes au plus)")
        if time.monotonic() > deadline:
            proc.kill()
            raise LoaderError(filename, f"lecture interrompue : plus de {timeout_s:.0f} s", f"un fichier plus simple ({MAX_ROWS} lignes au plus)")


def _run_child(ctx, content: bytes, filename: str, source_key: str, timeout_s: float):
    parent, child = ctx.Pipe(duplex=False)
    proc = _ReaderProcess(target=_worker, args=(child, content, filename, source_key), daemon=True, name="lecture-import")
    try:
        proc.start()
    except OSError as exc:  # no process can be started: read here, bounded all the same
        log.warning("upload read in the calling thread: %s", exc)
        return parse_user_places(content, filename, source_key)
    finally:
        child.close()
    try:
        _watch(proc, parent, filename, timeout_s)
        result = parent.recv()
    except EOFError:  # the child ended without an answer
        proc.join(5)
        if proc.exitcode is not None and proc.exitcode < 0:  # killed: CPU or memory ceiling
            raise LoaderError(filename, "la lecture du fichier a dépassé les ressources permises (temps de calcul ou mémoire)",
                              f"un fichier plus simple ({MAX_ROWS} lignes au plus)") from None
        log.warning("upload reader process failed (exit code %s): read in the calling thread", proc.exitcode)
        return parse_user_places(content, filename, source_key)
    finally:
        parent.close()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    if result[0] == "refused":
        raise LoaderError(filename, result[1], result[2])
    return _to_geo(result[1], result[2])
