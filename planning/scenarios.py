"""Scenario workspace: saved planning scenarios in a local SQLite file.

A scenario is a name plus a JSON *payload* restricted to an allow-list of keys (schema version
:data:`SCHEMA_VERSION`):

``territory`` {level, code, name} · ``level`` (zone level of the analysis) · ``config`` (settings of
the indicator computation, any JSON object) · ``model`` (mclp, pmedian, lscp, mclp_capacity) ·
``p`` · ``service_time`` (minutes) · ``capacity_default`` · ``edits`` {added: [places], removed:
[place_id], edited: [{place_id, hours/staff/services…}]} · ``results`` (summary of a model run) ·
``chosen_sites`` ([{candidate_id, kind, name, x, y, lon, lat, …}]) · ``description``.

Storage: one table ``scenarios(id, name, created, updated, schema_version, payload)`` in a SQLite
file opened in WAL mode with a busy timeout; every write runs in its own ``BEGIN IMMEDIATE``
transaction, ids are ``uuid4``, so sessions / processes saving at the same time all persist.
Payloads are stored as canonical JSON text; nothing is pickled.

Exchange: :meth:`ScenarioStore.export_json` / :meth:`~ScenarioStore.import_json` (an envelope
``{"format": "inclusion-numerique/scenarios", "schema_version", "scenarios": [...]}``) and
:meth:`~ScenarioStore.export_geojson` / :meth:`~ScenarioStore.import_geojson` (a FeatureCollection
of the chosen and added sites, the rest of the scenario in a top-level ``scenario`` member). An
import is validated completely (size ≤ 5 MB, at most :data:`MAX_IMPORT_SCENARIOS` scenarios, JSON
syntax, keys, types and sizes field by field) before anything is written, and written in one
transaction: a bad import changes nothing. A workspace holds at most :data:`MAX_SCENARIOS` scenarios.

Messages: a ``ValueError`` raised for a bad payload or import, and a :class:`WorkspaceError` raised
when the workspace cannot be used (folder not writable, a file that is not the SQLite workspace,
a lock that outlasts the busy timeout, a full disk), are in **French**: the app shows them to the
user as they are (escaped). They name the JSON path of the offending value
(``payload.chosen_sites[1].x``), what was expected and what was found.

Workspace location: the ``path`` argument, else the environment variable ``INCLUSION_WORKSPACE``,
else ``scenarios.sqlite`` under ``platformdirs.user_data_dir("inclusion-numerique")``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

__all__ = [
    "SCHEMA_VERSION",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_SCENARIOS",
    "MAX_SCENARIOS",
    "PAYLOAD_KEYS",
    "ScenarioStore",
    "WorkspaceError",
    "WorkspaceLockedError",
    "LONLAT_DECIMALS",
    "XY_DECIMALS",
    "comparison_rows",
    "default_workspace_path",
    "rounded_site",
    "site_points",
    "validate_payload",
]

SCHEMA_VERSION = 1
MAX_IMPORT_BYTES = 5 * 1024 * 1024
#: scenarios one import may add
MAX_IMPORT_SCENARIOS = 50
#: scenarios a workspace may hold (a save or an import beyond is refused)
MAX_SCENARIOS = 1000
#: seconds a write waits for another session's lock before giving up (read at each store creation)
DEFAULT_BUSY_TIMEOUT_S = 10.0
FORMAT = "inclusion-numerique/scenarios"
APP_NAME = "inclusion-numerique"
_DB_VERSION = 1  # PRAGMA user_version of the SQLite file layout
_MAX_STR = 20_000
_MAX_LIST = 10_000
_MAX_DEPTH = 12

LEVELS = ("iris", "commune", "epci", "departement", "region")
MODEL_NAMES = ("mclp", "pmedian", "lscp", "mclp_capacity")
DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
#: decimals of exported coordinates: WGS84 degrees (10⁻⁶° ≈ 0.1 m) and Lambert-93 metres (0.1 m)
LONLAT_DECIMALS = 6
XY_DECIMALS = 1


class WorkspaceError(OSError):
    """The scenario workspace cannot be used: folder not writable, not the SQLite workspace, full disk."""


class WorkspaceLockedError(WorkspaceError, TimeoutError):
    """The workspace stayed locked by another session or program for longer than the busy timeout."""


def default_workspace_path() -> Path:
    """``INCLUSION_WORKSPACE`` if set, else ``<user data dir>/scenarios.sqlite``."""
    env = os.environ.get("INCLUSION_WORKSPACE")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir(APP_NAME)) / "scenarios.sqlite"


# --------------------------------------------------------------------------------------------
# Payload validation (allow-list, types) -> normalised plain-JSON copy
# --------------------------------------------------------------------------------------------

Check = Callable[[str, Any], Any]


_TYPE_NAMES = {"NoneType": "null", "dict": "un objet", "list": "une liste", "tuple": "une liste", "str": "une chaîne",
               "int": "un entier", "float": "un nombre", "bool": "un booléen"}


def _fail(path: str, expected: str, value: Any) -> None:
    shown = "null" if value is None else repr(value)
    if not isinstance(value, (str, int, float, bool, type(None))) or len(shown) > 60:
        shown = _TYPE_NAMES.get(type(value).__name__, type(value).__name__)
    raise ValueError(f"scénario {path} : {expected} attendu, reçu {shown}")


def _plain(v: Any) -> Any:
    """numpy scalars -> Python scalars."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def num(minimum: float | None = None, integer: bool = False, nullable: bool = True) -> Check:
    def check(path: str, v: Any):
        v = _plain(v)
        if v is None and nullable:
            return None
        what = "un entier" if integer else "un nombre"
        if minimum is not None:
            what += f" ≥ {minimum:g}"
        if nullable:
            what += " ou null"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            _fail(path, what, v)
        if integer and not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                _fail(path, what, v)
        if isinstance(v, float) and not math.isfinite(v):
            _fail(path, what + " (fini)", v)
        if minimum is not None and v < minimum:
            _fail(path, what, v)
        return v
    return check


def text(choices: tuple[str, ...] | None = None, nullable: bool = True,
         max_len: int = _MAX_STR) -> Check:
    def check(path: str, v: Any):
        v = _plain(v)
        if v is None and nullable:
            return None
        if not isinstance(v, str):
            _fail(path, "une chaîne" + (" ou null" if nullable else ""), v)
        if len(v) > max_len:
            _fail(path, f"une chaîne d'au plus {max_len} caractères", v)
        if choices is not None and v not in choices:
            _fail(path, f"l'une des valeurs {list(choices)}", v)
        return v
    return check


def boolean(nullable: bool = True) -> Check:
    def check(path: str, v: Any):
        v = _plain(v)
        if v is None and nullable:
            return None
        if not isinstance(v, bool):
            _fail(path, "true ou false", v)
        return v
    return check


def array(item: Check, max_len: int = _MAX_LIST) -> Check:
    def check(path: str, v: Any):
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if not isinstance(v, (list, tuple)):
            _fail(path, "une liste", v)
        if len(v) > max_len:
            _fail(path, f"une liste d'au plus {max_len} éléments", v)
        return [item(f"{path}[{k}]", x) for k, x in enumerate(v)]
    return check


def obj(spec: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    def check(path: str, v: Any):
        if not isinstance(v, dict):
            _fail(path, "un objet", v)
        unknown = sorted(str(k)[:40] for k in v if k not in spec)
        if unknown:
            raise ValueError(f"scénario {path} : clé(s) inconnue(s) {unknown[:10]} ; clés permises : {sorted(spec)}")
        missing = [k for k in required if k not in v]
        if missing:
            raise ValueError(f"scénario {path} : clé(s) manquante(s) {missing}")
        return {k: spec[k](f"{path}.{k}", x) for k, x in v.items()}
    return check


def any_of(*checks: Check, expected: str) -> Check:
    def check(path: str, v: Any):
        for c in checks:
            try:
                return c(path, v)
            except ValueError:
                continue
        _fail(path, expected, v)
    return check


def json_value(path: str, v: Any, depth: int = 0) -> Any:
    """Any JSON value (string keys, finite numbers), depth-limited: for the indicator config."""
    v = _plain(v)
    if depth > _MAX_DEPTH:
        raise ValueError(f"scénario {path} : plus de {_MAX_DEPTH} niveaux d'imbrication")
    if v is None or isinstance(v, (bool, str)):
        if isinstance(v, str) and len(v) > _MAX_STR:
            _fail(path, f"une chaîne d'au plus {_MAX_STR} caractères", v)
        return v
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            _fail(path, "un nombre fini", v)
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        v = list(v)
        if len(v) > _MAX_LIST:
            _fail(path, f"une liste d'au plus {_MAX_LIST} éléments", v)
        return [json_value(f"{path}[{k}]", x, depth + 1) for k, x in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                _fail(path, "un objet aux clés textuelles", k)
            out[k] = json_value(f"{path}.{k}", x, depth + 1)
        return out
    _fail(path, "une valeur JSON", v)


def _json_object(path: str, v: Any):
    if not isinstance(v, dict):
        _fail(path, "un objet", v)
    return json_value(path, v)


def _hours(path: str, v: Any):
    """``{"mo": [[540, 720], …], …}``: minutes since midnight, start < end ≤ 1440."""
    if v is None:
        return None
    slots = array(array(num(0, integer=True, nullable=False), max_len=2), max_len=24)
    out = obj({d: slots for d in DAYS})(path, v)
    for day, ranges in out.items():
        for k, r in enumerate(ranges):
            if len(r) != 2 or not (0 <= r[0] < r[1] <= 1440):
                _fail(f"{path}.{day}[{k}]", "[début, fin] en minutes avec 0 ≤ start < end ≤ 1440", r)
    return out


_services = any_of(text(), array(text(nullable=False), max_len=50),
                   expected="une chaîne séparée par « ; » ou une liste de chaînes")
_coord = num()
_PLACE_FIELDS: dict[str, Check] = {
    "name": text(), "type": text(), "x": _coord, "y": _coord, "lon": _coord, "lat": _coord,
    "code_commune": text(max_len=10), "address": text(), "weekly_hours": num(0), "staff": num(0),
    "services": _services, "hours_json": _hours,
    "offers_digital_help": boolean(), "capacity": num(0),
}
_ADDED = obj({"place_id": text(nullable=False, max_len=200), **_PLACE_FIELDS}, required=("place_id",))
_EDITED = obj({"place_id": text(nullable=False, max_len=200),
               **{k: _PLACE_FIELDS[k] for k in ("name", "weekly_hours", "staff", "services",
                                                "hours_json", "offers_digital_help", "capacity")}},
              required=("place_id",))
_SITE = obj({"candidate_id": text(nullable=False, max_len=200), "kind": text(), "name": text(),
             "x": _coord, "y": _coord, "lon": _coord, "lat": _coord,
             "code_commune": text(max_len=10), "rank": num(1, integer=True),
             "marginal_gain": num(), "newly_covered": num(), "capacity": num(0)},
            required=("candidate_id",))
_RESULTS = obj({
    "model": text(MODEL_NAMES), "method": text(("exact", "greedy")), "status": text(max_len=50),
    "objective": num(), "covered_before": num(), "covered_after": num(), "total_need": num(),
    "uncovered_need": num(), "gap": num(0), "bound": num(), "seconds": num(0),
    "chosen": array(num(0, integer=True, nullable=False)),
    "marginal_gains": array(num()), "newly_covered": array(num()),
    "unmet_need_before": num(), "unmet_need_after": num(),
    "access_before": num(), "access_after": num(),
    "p_requested": num(0, integer=True), "n_sites": num(0, integer=True), "n_useful": num(0, integer=True),
    "stopped_reason": text(("no_gain", "too_few_candidates")),
})

#: Allowed top-level keys of a scenario payload and their checks.
PAYLOAD_KEYS: dict[str, Check] = {
    "territory": obj({"level": text(LEVELS), "code": text(max_len=20), "name": text()}),
    "level": text(LEVELS),
    "config": _json_object,
    "model": text(MODEL_NAMES),
    "p": num(0, integer=True),
    "service_time": num(0),
    "capacity_default": num(0),
    "edits": obj({"added": array(_ADDED), "removed": array(text(nullable=False, max_len=200)),
                  "edited": array(_EDITED)}),
    "results": _RESULTS,
    "chosen_sites": array(_SITE),
    "description": text(),
}
_PAYLOAD = obj(PAYLOAD_KEYS)


def validate_payload(payload: Any) -> dict:
    """Check a scenario payload against the allow-list; return a plain-JSON normalised copy.

    Raises ValueError naming the offending key path (``scenario payload.edits.added[0].x``…).
    """
    out = _PAYLOAD("payload", payload)
    _dumps(out)  # must serialise (finite numbers, plain types)
    return out


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        shown = repr(name)[:60] if isinstance(name, (str, int, float, bool)) else _TYPE_NAMES.get(type(name).__name__, "?")
        raise ValueError(f"le nom du scénario doit être un texte non vide (name), reçu {shown}")
    if len(name) > 200:
        raise ValueError("le nom du scénario (name) doit faire 200 caractères au plus")
    return name.strip()


def _dumps(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, allow_nan=False, separators=(",", ":"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --------------------------------------------------------------------------------------------
# Strict JSON parsing for imports
# --------------------------------------------------------------------------------------------


def _no_dupes(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"clé en double {str(k)[:40]!r}")
        out[k] = v
    return out


def _reject_constant(name):
    raise ValueError(f"{name} n'est pas du JSON valide (les nombres doivent être finis)")


def _parse(data: str | bytes, what: str) -> Any:
    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray)):
        raw = bytes(data)
    else:
        raise ValueError(f"import {what} : texte JSON attendu (str ou bytes), reçu {type(data).__name__}")
    if len(raw) > MAX_IMPORT_BYTES:
        raise ValueError(f"import {what} trop volumineux : {_mb(len(raw))} Mo (limite "
                         f"{MAX_IMPORT_BYTES // 1024 // 1024} Mo)")
    try:
        text_ = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"import {what} : le fichier n'est pas du texte UTF-8 (octet {exc.start})") from None
    try:
        return json.loads(text_, object_pairs_hook=_no_dupes, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"import {what} : JSON non valide ({exc.msg}) à la ligne {exc.lineno}, "
                         f"colonne {exc.colno}") from None
    except RecursionError:
        raise ValueError(f"import {what} : imbrication trop profonde") from None
    except ValueError as exc:
        raise ValueError(f"import {what} : JSON non valide : {exc}") from None


# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------


class ScenarioStore:
    """Saved scenarios in an SQLite workspace file (see module docstring).

    A connection is opened per operation (safe across threads and processes); ``busy_timeout``
    makes concurrent writers wait for each other instead of failing (default
    :data:`DEFAULT_BUSY_TIMEOUT_S`). Every storage failure, here or in a later operation, raises
    :class:`WorkspaceError` (:class:`WorkspaceLockedError` for a lock) with a French message.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, busy_timeout_s: float | None = None):
        self.path = Path(path) if path is not None else default_workspace_path()
        self.busy_timeout_s = float(DEFAULT_BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _workspace_error(self.path, exc, self.busy_timeout_s) from exc
        with self._connect() as con:
            self._init(con)

    # -- connection and transactions ---------------------------------------------------------

    def _connect(self) -> _Conn:
        return _Conn(self.path, self.busy_timeout_s)

    def _init(self, con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > _DB_VERSION:
            raise WorkspaceError(f"l'espace de scénarios {self.path} a été écrit par une version plus récente de "
                                 f"l'outil (format {version} > {_DB_VERSION})")
        if version == _DB_VERSION:
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "CREATE TABLE IF NOT EXISTS scenarios ("
                " id TEXT PRIMARY KEY,"
                " name TEXT NOT NULL,"
                " created TEXT NOT NULL,"
                " updated TEXT NOT NULL,"
                " schema_version INTEGER NOT NULL,"
                " payload TEXT NOT NULL)"
            )
            con.execute("CREATE INDEX IF NOT EXISTS scenarios_updated ON scenarios(updated)")
            con.execute(f"PRAGMA user_version = {_DB_VERSION}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` in one ``BEGIN IMMEDIATE`` transaction (all or nothing)."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                out = fn(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            return out

    # -- CRUD --------------------------------------------------------------------------------

    def save(self, name: str, payload: dict, *, scenario_id: str | None = None) -> str:
        """Save a scenario (new id, or replace the one with ``scenario_id``); return its id."""
        name = _check_name(name)
        body = _dumps(validate_payload(payload))
        if len(body.encode("utf-8")) > MAX_IMPORT_BYTES:
            raise ValueError(f"scénario trop volumineux (plus de {MAX_IMPORT_BYTES // 1024 // 1024} Mo)")
        now = _now()

        def op(con):
            if scenario_id is not None:
                cur = con.execute("UPDATE scenarios SET name=?, updated=?, schema_version=?, payload=? "
                                  "WHERE id=?", (name, now, SCHEMA_VERSION, body, scenario_id))
                if cur.rowcount == 0:
                    raise KeyError(f"no scenario with id {scenario_id!r} in {self.path}")
                return scenario_id
            sid = str(uuid.uuid4())
            con.execute("INSERT INTO scenarios (id, name, created, updated, schema_version, payload) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (sid, name, now, now, SCHEMA_VERSION, body))
            return sid

        return self._write(op)

    def list(self) -> list[dict]:
        """Saved scenarios, most recently updated first: id, name, created, updated, model, territory."""
        with self._connect() as con:
            rows = con.execute("SELECT id, name, created, updated, payload FROM scenarios "
                               "ORDER BY updated DESC, id").fetchall()
        out = []
        for sid, name, created, updated, body in rows:
            payload = json.loads(body)
            terr = payload.get("territory") or {}
            out.append({"id": sid, "name": name, "created": created, "updated": updated,
                        "model": payload.get("model"), "territory": terr.get("name") or terr.get("code")})
        return out

    def get(self, scenario_id: str) -> dict:
        """Full record: id, name, created, updated, schema_version, payload."""
        with self._connect() as con:
            row = con.execute("SELECT id, name, created, updated, schema_version, payload "
                              "FROM scenarios WHERE id=?", (scenario_id,)).fetchone()
        if row is None:
            raise KeyError(f"no scenario with id {scenario_id!r} in {self.path}")
        sid, name, created, updated, version, body = row
        return {"id": sid, "name": name, "created": created, "updated": updated,
                "schema_version": version, "payload": json.loads(body)}

    def load(self, scenario_id: str) -> dict:
        """The payload of a saved scenario."""
        return self.get(scenario_id)["payload"]

    def delete(self, scenario_id: str) -> None:
        def op(con):
            if con.execute("DELETE FROM scenarios WHERE id=?", (scenario_id,)).rowcount == 0:
                raise KeyError(f"no scenario with id {scenario_id!r} in {self.path}")
        self._write(op)

    def rename(self, scenario_id: str, new_name: str) -> None:
        new_name = _check_name(new_name)

        def op(con):
            cur = con.execute("UPDATE scenarios SET name=?, updated=? WHERE id=?",
                              (new_name, _now(), scenario_id))
            if cur.rowcount == 0:
                raise KeyError(f"no scenario with id {scenario_id!r} in {self.path}")
        self._write(op)

    def __len__(self) -> int:
        with self._connect() as con:
            return con.execute("SELECT COUNT(*) FROM scenarios").fetchone()[0]

    # -- JSON exchange -----------------------------------------------------------------------

    def export_json(self, *scenario_ids: str) -> str:
        """JSON envelope with the given scenarios (all of them when no id is given)."""
        ids = scenario_ids or tuple(r["id"] for r in self.list())
        recs = [self.get(i) for i in ids]
        env = {"format": FORMAT, "schema_version": SCHEMA_VERSION,
               "scenarios": [{"name": r["name"], "created": r["created"], "updated": r["updated"],
                              "payload": r["payload"]} for r in recs]}
        return json.dumps(env, ensure_ascii=False, indent=1, sort_keys=True, allow_nan=False)

    def import_json(self, data: str | bytes) -> list[str]:
        """Import an exported envelope (or a bare ``{"name", "payload"}``); return the new ids.

        Everything is validated before the single write transaction; on any error nothing is
        written and ValueError explains what is wrong.
        """
        doc = _parse(data, "JSON")
        if isinstance(doc, dict) and "scenarios" not in doc and "payload" in doc:
            doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "scenarios": [doc]}
        if not isinstance(doc, dict):
            raise ValueError("import JSON : un objet avec « format » et « scenarios » est attendu")
        unknown = sorted(str(k)[:40] for k in set(doc) - {"format", "schema_version", "scenarios"})
        if unknown:
            raise ValueError(f"import JSON : clé(s) inconnue(s) {unknown[:10]} ; clés permises : "
                             "['format', 'schema_version', 'scenarios']")
        if doc.get("format") != FORMAT:
            raise ValueError(f"import JSON : « format » doit valoir {FORMAT!r}, reçu {str(doc.get('format'))[:60]!r}")
        _check_version(doc.get("schema_version"))
        items = doc.get("scenarios")
        if not isinstance(items, list) or not items:
            raise ValueError("import JSON : « scenarios » doit être une liste non vide")
        if len(items) > MAX_IMPORT_SCENARIOS:
            raise ValueError(f"import JSON : {len(items)} scénarios dans le fichier, {MAX_IMPORT_SCENARIOS} au plus par import")
        ready = []
        for k, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValueError(f"import JSON : scenarios[{k}] doit être un objet")
            extra = sorted(str(x)[:40] for x in set(item) - {"name", "payload", "created", "updated", "id"})
            if extra:
                raise ValueError(f"import JSON : scenarios[{k}] a des clés inconnues {extra[:10]} ; clés permises : "
                                 "['created', 'id', 'name', 'payload', 'updated']")
            try:
                name = _check_name(item.get("name"))
                payload = validate_payload(item.get("payload", {}))
            except ValueError as exc:
                raise ValueError(f"import JSON : scenarios[{k}] : {exc}") from None
            ready.append((name, payload))
        return self._insert_many(ready)

    def _insert_many(self, ready: list[tuple[str, dict]]) -> list[str]:
        now = _now()

        def op(con):
            _check_room(con, len(ready))
            ids = []
            for name, payload in ready:
                sid = str(uuid.uuid4())
                con.execute("INSERT INTO scenarios (id, name, created, updated, schema_version, "
                            "payload) VALUES (?, ?, ?, ?, ?, ?)",
                            (sid, name, now, now, SCHEMA_VERSION, _dumps(payload)))
                ids.append(sid)
            return ids

        return self._write(op)

    def import_file(self, path: str | os.PathLike) -> list[str]:
        """Import a ``.json`` or ``.geojson`` file (size checked before reading)."""
        p = Path(path)
        size = p.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise ValueError(f"{p.name} est trop volumineux pour être importé : {_mb(size)} Mo (limite "
                             f"{MAX_IMPORT_BYTES // 1024 // 1024} Mo)")
        data = p.read_bytes()
        if p.suffix.lower() == ".geojson":
            return [self.import_geojson(data)]
        return self.import_json(data)

    # -- GeoJSON exchange --------------------------------------------------------------------

    def export_geojson(self, scenario_id: str) -> str:
        """FeatureCollection of the chosen sites (role ``chosen``) and added places (``added``).

        Points in WGS84 (RFC 7946); the rest of the scenario rides in a top-level ``scenario``
        member so that :meth:`import_geojson` restores it.
        """
        rec = self.get(scenario_id)
        payload = json.loads(_dumps(rec["payload"]))
        feats = []
        for role, items in (("chosen", payload.pop("chosen_sites", []) or []),
                            ("added", (payload.get("edits") or {}).pop("added", []) or [])):
            for it in items:
                feats.append(_feature(role, it))
        if "edits" in payload and not payload["edits"]:
            payload.pop("edits")
        doc = {"type": "FeatureCollection", "features": feats,
               "scenario": {"format": FORMAT, "schema_version": SCHEMA_VERSION,
                            "name": rec["name"], "payload": payload}}
        return json.dumps(doc, ensure_ascii=False, sort_keys=True, allow_nan=False)

    def import_geojson(self, data: str | bytes, name: str | None = None) -> str:
        """Import a FeatureCollection written by :meth:`export_geojson` (or any FeatureCollection
        of points with ``role`` chosen/added properties); return the new id."""
        doc = _parse(data, "GeoJSON")
        feats = _geojson_features(doc)
        scen = doc.get("scenario") or {}
        if not isinstance(scen, dict) or set(scen) - {"format", "schema_version", "name", "payload"}:
            raise ValueError("import GeoJSON : « scenario » doit être un objet avec format, "
                             "schema_version, name, payload")
        if scen:
            if scen.get("format") != FORMAT:
                raise ValueError(f"import GeoJSON : scenario.format doit valoir {FORMAT!r}")
            _check_version(scen.get("schema_version"))
        payload = scen.get("payload") or {}
        if not isinstance(payload, dict):
            raise ValueError("import GeoJSON : scenario.payload doit être un objet")
        payload = json.loads(json.dumps(payload))
        chosen, added = [], []
        for k, f in enumerate(feats):
            role, props = _unfeature(k, f)
            (chosen if role == "chosen" else added).append(props)
        if chosen or "chosen_sites" in payload:
            if "chosen_sites" in payload:
                raise ValueError("import GeoJSON : les sites choisis doivent être des objets « features », pas dans scenario.payload")
            payload["chosen_sites"] = chosen
        if added:
            edits = payload.setdefault("edits", {})
            if not isinstance(edits, dict) or "added" in edits:
                raise ValueError("import GeoJSON : les lieux ajoutés doivent être des objets « features », pas dans scenario.payload")
            edits["added"] = added
        try:
            nm = _check_name(name or scen.get("name") or "Import GeoJSON")
            payload = validate_payload(payload)
        except ValueError as exc:
            raise ValueError(f"import GeoJSON : {exc}") from None
        return self._insert_many([(nm, payload)])[0]


def _geojson_features(doc: Any) -> list:
    """The ``features`` list of an imported FeatureCollection (top-level keys and size checked)."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValueError("import GeoJSON : une FeatureCollection est attendue")
    unknown = sorted(str(k)[:40] for k in set(doc) - {"type", "features", "scenario", "bbox", "name", "crs"})
    if unknown:
        raise ValueError(f"import GeoJSON : clé(s) inconnue(s) au premier niveau {unknown[:10]}")
    feats = doc.get("features")
    if not isinstance(feats, list):
        raise ValueError("import GeoJSON : « features » doit être une liste")
    if len(feats) > _MAX_LIST:
        raise ValueError(f"import GeoJSON : {len(feats)} objets, {_MAX_LIST} au plus")
    return feats


def _check_version(v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"import : schema_version doit être un entier positif, reçu {str(v)[:40]!r}")
    if v > SCHEMA_VERSION:
        raise ValueError(f"import : schema_version {v} est plus récente que celle de l'outil ({SCHEMA_VERSION}) : "
                         "mettez l'outil à jour")


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1024 / 1024:.1f}".replace(".", ",")


def _check_room(con: sqlite3.Connection, adding: int) -> None:
    """Refuse a write that would take the workspace past :data:`MAX_SCENARIOS`."""
    count = con.execute("SELECT COUNT(*) FROM scenarios").fetchone()[0]
    if count + adding > MAX_SCENARIOS:
        raise ValueError(f"l'espace contient {count} scénarios ; {MAX_SCENARIOS} au plus : "
                         "supprimez ou exportez-en avant d'en ajouter")


def _lonlat(item: dict) -> tuple[float | None, float | None]:
    """WGS84 position of a site or place record: its ``lon``/``lat``, else its Lambert-93 ``x``/``y``
    converted; (None, None) when it has neither."""
    lon, lat = item.get("lon"), item.get("lat")
    if (lon is None or lat is None) and item.get("x") is not None and item.get("y") is not None:
        from planning.candidates import to_wgs84

        lo, la = to_wgs84(item["x"], item["y"])
        lon, lat = float(lo), float(la)
    return lon, lat


def _feature(role: str, item: dict) -> dict:
    """A GeoJSON Feature of a site or place, coordinates rounded (:func:`rounded_site`)."""
    item = rounded_site(item)
    props = {"role": role, **{k: v for k, v in item.items() if k not in ("lon", "lat")}}
    lon, lat = _lonlat(item)
    geom = None
    if lon is not None and lat is not None:
        geom = {"type": "Point", "coordinates": [round(lon, LONLAT_DECIMALS), round(lat, LONLAT_DECIMALS)]}
    return {"type": "Feature", "geometry": geom, "properties": props}


# --------------------------------------------------------------------------------------------
# Display helpers (no French here: the app formats and labels these values)
# --------------------------------------------------------------------------------------------


def rounded_site(site: dict) -> dict:
    """A copy of a site (or place) record with its coordinates rounded for export: ``lon``/``lat``
    to :data:`LONLAT_DECIMALS` decimals (10⁻⁶ degree ≈ 0.1 m), Lambert-93 ``x``/``y`` (metres) to
    :data:`XY_DECIMALS`; other values and missing coordinates unchanged."""
    out = dict(site)
    for key, decimals in (("lon", LONLAT_DECIMALS), ("lat", LONLAT_DECIMALS), ("x", XY_DECIMALS), ("y", XY_DECIMALS)):
        v = _plain(out.get(key))
        if isinstance(v, float) and math.isfinite(v):
            out[key] = round(v, decimals)
    return out


def _number(v: Any) -> float | None:
    v = _plain(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _newly_covered(results: dict, sites: list) -> float | None:
    """People newly within reach: ``covered_after − covered_before`` of the run, else the sum of
    the chosen sites' ``newly_covered`` (None when neither is known)."""
    before, after = _number(results.get("covered_before")), _number(results.get("covered_after"))
    if before is not None and after is not None:
        return after - before
    per_site = [_number(s.get("newly_covered")) for s in sites if isinstance(s, dict)]
    known = [v for v in per_site if v is not None]
    return sum(known) if known else None


def comparison_rows(records: list[dict]) -> list[dict]:
    """The figures that compare saved scenarios, one dict per record of :meth:`ScenarioStore.get`.

    Keys: ``name``, ``updated`` (ISO 8601 text as stored), ``territory`` (name or code),
    ``model``, ``p``, ``service_time`` (min), ``n_sites``, ``covered_before``, ``covered_after``,
    ``newly_covered`` (people in need brought within the service time by the new sites, see
    :func:`_newly_covered`), ``unmet_before``, ``unmet_after`` (people), ``sites`` (names of the
    chosen sites in rank order; an imported site without a name gives its ``candidate_id``).
    Numbers are floats or None when the scenario does not hold them (imports may omit results).
    """
    rows = []
    for rec in records:
        pl = rec.get("payload") or {}
        res = pl.get("results") or {}
        sites = [s for s in pl.get("chosen_sites") or [] if isinstance(s, dict)]
        terr = pl.get("territory") or {}
        rows.append({
            "name": rec.get("name"), "updated": rec.get("updated"), "territory": terr.get("name") or terr.get("code"),
            "model": pl.get("model") or res.get("model"), "p": _number(pl.get("p")),
            "service_time": _number(pl.get("service_time")), "n_sites": len(sites),
            "covered_before": _number(res.get("covered_before")), "covered_after": _number(res.get("covered_after")),
            "newly_covered": _newly_covered(res, sites),
            "unmet_before": _number(res.get("unmet_need_before")), "unmet_after": _number(res.get("unmet_need_after")),
            "sites": [str(s.get("name") or s.get("candidate_id") or "?") for s in sites],
        })
    return rows


def site_points(records: list[dict]) -> list[dict]:
    """The chosen sites of saved scenarios with a WGS84 position, for a map: ``scenario`` (index of
    the record), ``scenario_name``, ``rank``, ``name``, ``kind``, ``newly_covered``, ``lon``,
    ``lat`` (from ``x``/``y`` when the site has no ``lon``/``lat``); sites without any position are
    left out."""
    out = []
    for k, rec in enumerate(records):
        for s in (rec.get("payload") or {}).get("chosen_sites") or []:
            if not isinstance(s, dict):
                continue
            lon, lat = _lonlat(s)
            if lon is None or lat is None:
                continue
            out.append({"scenario": k, "scenario_name": rec.get("name"), "rank": s.get("rank"),
                        "name": s.get("name") or s.get("candidate_id"), "kind": s.get("kind"),
                        "newly_covered": _number(s.get("newly_covered")), "lon": float(lon), "lat": float(lat)})
    return out


def _unfeature(k: int, f: Any) -> tuple[str, dict]:
    where = f"import GeoJSON : features[{k}]"
    if not isinstance(f, dict) or f.get("type") != "Feature":
        raise ValueError(f"{where} n'est pas une Feature")
    extra = sorted(str(x)[:40] for x in set(f) - {"type", "geometry", "properties", "id", "bbox"})
    if extra:
        raise ValueError(f"{where} a des clés inconnues {extra[:10]}")
    props = f.get("properties")
    if not isinstance(props, dict):
        raise ValueError(f"{where}.properties doit être un objet")
    props = dict(props)
    role = props.pop("role", None)
    if role not in ("chosen", "added"):
        raise ValueError(f"{where}.properties.role doit valoir 'chosen' ou 'added', reçu {str(role)[:40]!r}")
    geom = f.get("geometry")
    if geom is not None:
        if not isinstance(geom, dict) or geom.get("type") != "Point":
            raise ValueError(f"{where}.geometry doit être un Point (ou null)")
        c = geom.get("coordinates")
        if (not isinstance(c, list) or len(c) not in (2, 3)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c)
                or not (-180 <= c[0] <= 180 and -90 <= c[1] <= 90)):
            raise ValueError(f"{where}.geometry.coordinates : [longitude, latitude] en degrés attendu")
        props["lon"], props["lat"] = float(c[0]), float(c[1])
    return role, props


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


def _workspace_error(path: Path, exc: BaseException, timeout_s: float) -> WorkspaceError:
    """The French :class:`WorkspaceError` for a storage failure (SQLite or file system)."""
    if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
        return WorkspaceLockedError(f"l'espace de scénarios {path} est resté verrouillé par une autre session ou un "
                                    f"autre programme plus de {timeout_s:g} s")
    msg = str(exc).lower()
    if "readonly" in msg or "read-only" in msg or isinstance(exc, PermissionError):
        reason = "le fichier ou son dossier est en lecture seule"
    elif "not a database" in msg or "malformed" in msg or "encrypted" in msg:
        reason = "ce fichier n'est pas un espace de scénarios (base SQLite)"
    elif "unable to open" in msg:
        reason = "le fichier ne peut pas être ouvert (dossier absent ou sans droit d'écriture)"
    elif "full" in msg or getattr(exc, "errno", None) == errno.ENOSPC:
        reason = "le disque est plein"
    else:
        reason = f"{type(exc).__name__} : {str(exc)[:200]}"
    return WorkspaceError(f"l'espace de scénarios {path} n'est pas utilisable : {reason}")


class _Conn:
    """Context manager: an autocommit SQLite connection in WAL mode with a busy timeout.

    A SQLite or file-system error raised while it is open becomes a :class:`WorkspaceError`.
    """

    def __init__(self, path: Path, timeout_s: float):
        self.path, self.timeout_s = path, timeout_s
        self.con: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        try:
            con = sqlite3.connect(str(self.path), timeout=self.timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise _workspace_error(self.path, exc, self.timeout_s) from exc
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            # Switching a new file to WAL needs an exclusive lock, and SQLite may answer "locked"
            # at once (no busy wait) while another process does the same: retry until timeout.
            deadline = time.monotonic() + self.timeout_s
            while True:
                try:
                    if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                        con.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.005 + random.random() * 0.02)
            con.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            con.close()
            raise _workspace_error(self.path, exc, self.timeout_s) from exc
        self.con = con
        return con

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
        if isinstance(exc, (sqlite3.Error, OSError)) and not isinstance(exc, WorkspaceError):
            raise _workspace_error(self.path, exc, self.timeout_s) from exc
