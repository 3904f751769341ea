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
import is validated completely (size ≤ 5 MB, JSON syntax, keys, types) before anything is written,
and written in one transaction: a bad import changes nothing.

Workspace location: the ``path`` argument, else the environment variable ``INCLUSION_WORKSPACE``,
else ``scenarios.sqlite`` under ``platformdirs.user_data_dir("inclusion-numerique")``.
"""

from __future__ import annotations

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
    "PAYLOAD_KEYS",
    "ScenarioStore",
    "default_workspace_path",
    "validate_payload",
]

SCHEMA_VERSION = 1
MAX_IMPORT_BYTES = 5 * 1024 * 1024
FORMAT = "inclusion-numerique/scenarios"
APP_NAME = "inclusion-numerique"
_DB_VERSION = 1  # PRAGMA user_version of the SQLite file layout
_MAX_STR = 20_000
_MAX_LIST = 200_000
_MAX_DEPTH = 12

LEVELS = ("iris", "commune", "epci", "departement", "region")
MODEL_NAMES = ("mclp", "pmedian", "lscp", "mclp_capacity")
DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")


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


def _fail(path: str, expected: str, value: Any) -> None:
    shown = repr(value)
    if not isinstance(value, (str, int, float, bool)) or len(shown) > 60:
        shown = type(value).__name__
    raise ValueError(f"scenario {path}: expected {expected}, got {shown}")


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
        what = "an integer" if integer else "a number"
        if minimum is not None:
            what += f" ≥ {minimum:g}"
        if nullable:
            what += " or null"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            _fail(path, what, v)
        if integer and not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            else:
                _fail(path, what, v)
        if isinstance(v, float) and not math.isfinite(v):
            _fail(path, what + " (finite)", v)
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
            _fail(path, "a string" + (" or null" if nullable else ""), v)
        if len(v) > max_len:
            _fail(path, f"a string of at most {max_len} characters", v)
        if choices is not None and v not in choices:
            _fail(path, f"one of {list(choices)}", v)
        return v
    return check


def boolean(nullable: bool = True) -> Check:
    def check(path: str, v: Any):
        v = _plain(v)
        if v is None and nullable:
            return None
        if not isinstance(v, bool):
            _fail(path, "true or false", v)
        return v
    return check


def array(item: Check, max_len: int = _MAX_LIST) -> Check:
    def check(path: str, v: Any):
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if not isinstance(v, (list, tuple)):
            _fail(path, "a list", v)
        if len(v) > max_len:
            _fail(path, f"a list of at most {max_len} items", v)
        return [item(f"{path}[{k}]", x) for k, x in enumerate(v)]
    return check


def obj(spec: dict[str, Check], required: tuple[str, ...] = ()) -> Check:
    def check(path: str, v: Any):
        if not isinstance(v, dict):
            _fail(path, "an object", v)
        unknown = sorted(str(k) for k in v if k not in spec)
        if unknown:
            raise ValueError(f"scenario {path}: unknown key(s) {unknown}; allowed: {sorted(spec)}")
        missing = [k for k in required if k not in v]
        if missing:
            raise ValueError(f"scenario {path}: missing key(s) {missing}")
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
        raise ValueError(f"scenario {path}: nested deeper than {_MAX_DEPTH} levels")
    if v is None or isinstance(v, (bool, str)):
        if isinstance(v, str) and len(v) > _MAX_STR:
            _fail(path, f"a string of at most {_MAX_STR} characters", v)
        return v
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            _fail(path, "a finite number", v)
        return v
    if isinstance(v, (list, tuple, np.ndarray)):
        v = list(v)
        if len(v) > _MAX_LIST:
            _fail(path, f"a list of at most {_MAX_LIST} items", v)
        return [json_value(f"{path}[{k}]", x, depth + 1) for k, x in enumerate(v)]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                _fail(path, "an object with string keys", k)
            out[k] = json_value(f"{path}.{k}", x, depth + 1)
        return out
    _fail(path, "a JSON value", v)


def _json_object(path: str, v: Any):
    if not isinstance(v, dict):
        _fail(path, "an object", v)
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
                _fail(f"{path}.{day}[{k}]", "[start, end] minutes with 0 ≤ start < end ≤ 1440", r)
    return out


_services = any_of(text(), array(text(nullable=False), max_len=50),
                   expected="a ';'-joined string or a list of strings")
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
        raise ValueError(f"scenario name must be a non-empty string, got {name!r}")
    if len(name) > 200:
        raise ValueError("scenario name must be at most 200 characters")
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
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def _parse(data: str | bytes, what: str) -> Any:
    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray)):
        raw = bytes(data)
    else:
        raise ValueError(f"{what} import: expected JSON text (str or bytes), got {type(data).__name__}")
    if len(raw) > MAX_IMPORT_BYTES:
        raise ValueError(f"{what} import is too large: {len(raw) / 1e6:.1f} MB > "
                         f"{MAX_IMPORT_BYTES / 1024 / 1024:.0f} MB limit")
    try:
        text_ = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} import is not UTF-8 text: {exc}") from None
    try:
        return json.loads(text_, object_pairs_hook=_no_dupes, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} import is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
    except RecursionError:
        raise ValueError(f"{what} import is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"{what} import is not valid JSON: {exc}") from None


# --------------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------------


class ScenarioStore:
    """Saved scenarios in an SQLite workspace file (see module docstring).

    A connection is opened per operation (safe across threads and processes); ``busy_timeout``
    makes concurrent writers wait for each other instead of failing.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, busy_timeout_s: float = 30.0):
        self.path = Path(path) if path is not None else default_workspace_path()
        self.busy_timeout_s = float(busy_timeout_s)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            self._init(con)

    # -- connection and transactions ---------------------------------------------------------

    def _connect(self) -> _Conn:
        return _Conn(self.path, self.busy_timeout_s)

    def _init(self, con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > _DB_VERSION:
            raise ValueError(f"{self.path} was written by a newer version of the tool "
                             f"(workspace layout {version} > {_DB_VERSION})")
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
            raise ValueError(f"scenario payload is too large (> {MAX_IMPORT_BYTES // 1024 // 1024} MB)")
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
            raise ValueError("JSON import: expected an object with 'format' and 'scenarios'")
        unknown = sorted(set(doc) - {"format", "schema_version", "scenarios"})
        if unknown:
            raise ValueError(f"JSON import: unknown key(s) {unknown}; allowed: "
                             "['format', 'schema_version', 'scenarios']")
        if doc.get("format") != FORMAT:
            raise ValueError(f"JSON import: 'format' must be {FORMAT!r}, got {doc.get('format')!r}")
        _check_version(doc.get("schema_version"))
        items = doc.get("scenarios")
        if not isinstance(items, list) or not items:
            raise ValueError("JSON import: 'scenarios' must be a non-empty list")
        ready = []
        for k, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValueError(f"JSON import: scenarios[{k}] must be an object")
            extra = sorted(set(item) - {"name", "payload", "created", "updated", "id"})
            if extra:
                raise ValueError(f"JSON import: scenarios[{k}] has unknown key(s) {extra}; allowed: "
                                 "['created', 'id', 'name', 'payload', 'updated']")
            try:
                name = _check_name(item.get("name"))
                payload = validate_payload(item.get("payload", {}))
            except ValueError as exc:
                raise ValueError(f"JSON import: scenarios[{k}]: {exc}") from None
            ready.append((name, payload))
        return self._insert_many(ready)

    def _insert_many(self, ready: list[tuple[str, dict]]) -> list[str]:
        now = _now()

        def op(con):
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
            raise ValueError(f"{p.name} is too large to import: {size / 1e6:.1f} MB > "
                             f"{MAX_IMPORT_BYTES / 1024 / 1024:.0f} MB limit")
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
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            raise ValueError("GeoJSON import: expected a FeatureCollection")
        unknown = sorted(set(doc) - {"type", "features", "scenario", "bbox", "name", "crs"})
        if unknown:
            raise ValueError(f"GeoJSON import: unknown top-level key(s) {unknown}")
        feats = doc.get("features")
        if not isinstance(feats, list):
            raise ValueError("GeoJSON import: 'features' must be a list")
        scen = doc.get("scenario") or {}
        if not isinstance(scen, dict) or set(scen) - {"format", "schema_version", "name", "payload"}:
            raise ValueError("GeoJSON import: 'scenario' must be an object with format, "
                             "schema_version, name, payload")
        if scen:
            if scen.get("format") != FORMAT:
                raise ValueError(f"GeoJSON import: scenario.format must be {FORMAT!r}")
            _check_version(scen.get("schema_version"))
        payload = scen.get("payload") or {}
        if not isinstance(payload, dict):
            raise ValueError("GeoJSON import: scenario.payload must be an object")
        payload = json.loads(json.dumps(payload))
        chosen, added = [], []
        for k, f in enumerate(feats):
            role, props = _unfeature(k, f)
            (chosen if role == "chosen" else added).append(props)
        if chosen or "chosen_sites" in payload:
            if "chosen_sites" in payload:
                raise ValueError("GeoJSON import: chosen sites must be features, not in scenario.payload")
            payload["chosen_sites"] = chosen
        if added:
            edits = payload.setdefault("edits", {})
            if not isinstance(edits, dict) or "added" in edits:
                raise ValueError("GeoJSON import: added places must be features, not in scenario.payload")
            edits["added"] = added
        try:
            nm = _check_name(name or scen.get("name") or "Import GeoJSON")
            payload = validate_payload(payload)
        except ValueError as exc:
            raise ValueError(f"GeoJSON import: {exc}") from None
        return self._insert_many([(nm, payload)])[0]


def _check_version(v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"import: schema_version must be a positive integer, got {v!r}")
    if v > SCHEMA_VERSION:
        raise ValueError(f"import: schema_version {v} is newer than this tool's ({SCHEMA_VERSION})")


def _feature(role: str, item: dict) -> dict:
    props = {"role": role, **{k: v for k, v in item.items() if k not in ("lon", "lat")}}
    lon, lat = item.get("lon"), item.get("lat")
    if (lon is None or lat is None) and item.get("x") is not None and item.get("y") is not None:
        from planning.candidates import to_wgs84

        lo, la = to_wgs84(item["x"], item["y"])
        lon, lat = float(lo), float(la)
    geom = {"type": "Point", "coordinates": [lon, lat]} if lon is not None and lat is not None else None
    return {"type": "Feature", "geometry": geom, "properties": props}


def _unfeature(k: int, f: Any) -> tuple[str, dict]:
    where = f"GeoJSON import: features[{k}]"
    if not isinstance(f, dict) or f.get("type") != "Feature":
        raise ValueError(f"{where} is not a Feature")
    extra = sorted(set(f) - {"type", "geometry", "properties", "id", "bbox"})
    if extra:
        raise ValueError(f"{where} has unknown key(s) {extra}")
    props = f.get("properties")
    if not isinstance(props, dict):
        raise ValueError(f"{where}.properties must be an object")
    props = dict(props)
    role = props.pop("role", None)
    if role not in ("chosen", "added"):
        raise ValueError(f"{where}.properties.role must be 'chosen' or 'added', got {role!r}")
    geom = f.get("geometry")
    if geom is not None:
        if not isinstance(geom, dict) or geom.get("type") != "Point":
            raise ValueError(f"{where}.geometry must be a Point (or null)")
        c = geom.get("coordinates")
        if (not isinstance(c, list) or len(c) not in (2, 3)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in c)
                or not (-180 <= c[0] <= 180 and -90 <= c[1] <= 90)):
            raise ValueError(f"{where}.geometry.coordinates must be [longitude, latitude] in degrees")
        props["lon"], props["lat"] = float(c[0]), float(c[1])
    return role, props


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    msg = str(exc).lower()
    return "locked" in msg or "busy" in msg


class _Conn:
    """Context manager: an autocommit SQLite connection in WAL mode with a busy timeout."""

    def __init__(self, path: Path, timeout_s: float):
        self.path, self.timeout_s = path, timeout_s
        self.con: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        con = sqlite3.connect(str(self.path), timeout=self.timeout_s, isolation_level=None)
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
        except sqlite3.DatabaseError as exc:
            con.close()
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise TimeoutError(f"{self.path} stayed locked by another session for more than "
                                   f"{self.timeout_s:g} s") from exc
            raise ValueError(f"{self.path} is not a usable scenario workspace (SQLite): {exc}") from None
        self.con = con
        return con

    def __exit__(self, *exc) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None
