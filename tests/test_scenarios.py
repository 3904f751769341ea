"""Scenario workspace (planning.scenarios): CRUD, restart safety, concurrent saves from threads
and processes, JSON / GeoJSON exchange, and malformed imports rejected without any change."""

from __future__ import annotations

import inspect
import json
import multiprocessing as mp
import sqlite3
import threading

import numpy as np
import pytest

from planning import scenarios as sc
from planning.models import mclp
from planning.scenarios import MAX_IMPORT_BYTES, ScenarioStore, validate_payload


def payload(tag: str = "a", k: int = 0) -> dict:
    """A realistic scenario payload (Grenoble, MCLP with 2 new sites)."""
    return {
        "territory": {"level": "epci", "code": "200040715", "name": "Grenoble-Alpes-Métropole"},
        "level": "iris",
        "config": {"need_model": "precarity", "rates": {"precarity": 0.4}, "decay": "apl",
                   "weights": [1, 1, 1, 1, 1], "reference": "departement"},
        "model": "mclp",
        "p": 2,
        "service_time": 20.0,
        "edits": {
            "added": [{"place_id": f"user:{tag}-{k}", "name": "Point relais quartier Mistral",
                       "type": "epn_tiers_lieu", "x": 912_800.0, "y": 6_456_300.0,
                       "lon": 5.7100, "lat": 45.1740, "weekly_hours": 12.5, "staff": 1,
                       "services": "demarches;competences_base",
                       "hours_json": {"mo": [[540, 720]], "we": [[840, 1080]]}}],
            "removed": ["france_services:1234"],
            "edited": [{"place_id": "cnfs:42", "weekly_hours": 20, "staff": 2,
                        "services": ["demarches"]}],
        },
        "results": {"model": "mclp", "method": "exact", "status": "optimal", "objective": 1234.5,
                    "covered_before": 1000.0, "covered_after": 1234.5, "total_need": 1500.0,
                    "gap": 0.0, "chosen": [3, 7], "marginal_gains": [200.5, 34.0]},
        "chosen_sites": [
            {"candidate_id": "commune:38185", "kind": "commune_centre", "name": "Grenoble",
             "x": 913_500.0, "y": 6_458_000.0, "code_commune": "38185", "rank": 1,
             "marginal_gain": 200.5},
            {"candidate_id": "qpv:38151", "kind": "qpv", "name": "QPV Échirolles",
             "x": 915_000.0, "y": 6_454_000.0, "code_commune": "38151", "rank": 2,
             "marginal_gain": 34.0},
        ],
        "description": f"scénario {tag} {k} — test « accents »",
    }


@pytest.fixture
def store(tmp_path):
    return ScenarioStore(tmp_path / "ws.sqlite")


def snapshot(path) -> list:
    con = sqlite3.connect(str(path))
    try:
        return con.execute("SELECT id, name, created, updated, schema_version, payload "
                           "FROM scenarios ORDER BY id").fetchall()
    finally:
        con.close()


# ----------------------------------------------------------------------------------------------
# CRUD, location, restart
# ----------------------------------------------------------------------------------------------


def test_crud(store):
    a = store.save("Plan A", payload("a"))
    b = store.save("Plan B", payload("b"))
    assert a != b and len(a) == 36  # uuid4
    assert {r["name"] for r in store.list()} == {"Plan A", "Plan B"}
    assert store.list()[0]["territory"] == "Grenoble-Alpes-Métropole"
    assert store.load(a) == payload("a")
    store.rename(a, "Plan A bis")
    assert store.get(a)["name"] == "Plan A bis"
    p2 = payload("a")
    p2["p"] = 5
    assert store.save("Plan A ter", p2, scenario_id=a) == a
    assert store.load(a)["p"] == 5 and len(store) == 2
    store.delete(b)
    assert [r["id"] for r in store.list()] == [a]
    with pytest.raises(KeyError, match="no scenario"):
        store.load(b)
    with pytest.raises(KeyError):
        store.delete(b)
    with pytest.raises(KeyError):
        store.rename(b, "x")
    with pytest.raises(ValueError, match="name"):
        store.save("  ", payload())


def test_workspace_location(tmp_path, monkeypatch):
    monkeypatch.setenv("INCLUSION_WORKSPACE", str(tmp_path / "env" / "ws.sqlite"))
    s = ScenarioStore()
    assert s.path == tmp_path / "env" / "ws.sqlite" and s.path.exists()
    monkeypatch.delenv("INCLUSION_WORKSPACE")
    p = sc.default_workspace_path()
    assert p.name == "scenarios.sqlite" and "inclusion-numerique" in str(p)


def test_restart_gives_identical_payloads(tmp_path):
    path = tmp_path / "ws.sqlite"
    s1 = ScenarioStore(path)
    rng = np.random.default_rng(0)
    w = rng.integers(1, 50, 30).astype(float)
    cost = rng.uniform(0, 30, (30, 10))
    res = mclp(w, cost, 10.0, 3)
    p = payload()
    p["results"] = {k: v for k, v in res.summary().items() if k != "seconds"}
    p["p"] = np.int64(3)  # numpy scalars are accepted and stored as plain JSON numbers
    ids = [s1.save(f"s{k}", p if k == 0 else payload("r", k)) for k in range(5)]
    before = {i: s1.load(i) for i in ids}
    listing = s1.list()
    del s1
    s2 = ScenarioStore(path)
    assert {i: s2.load(i) for i in ids} == before
    assert s2.list() == listing
    assert before[ids[0]]["results"]["objective"] == res.objective
    assert before[ids[0]]["p"] == 3 and type(before[ids[0]]["p"]) is int
    con = sqlite3.connect(str(path))
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_not_a_workspace(tmp_path):
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(sc.WorkspaceError, match="n'est pas un espace de scénarios"):
        ScenarioStore(bad)


def test_no_pickle_in_module():
    src = inspect.getsource(sc)
    for mod in ("pickle", "marshal", "shelve", "dill", "joblib"):
        assert f"import {mod}" not in src and f"from {mod}" not in src


# ----------------------------------------------------------------------------------------------
# Concurrency
# ----------------------------------------------------------------------------------------------

N_EACH = 20


def test_two_threads_saving_at_once_both_persist(tmp_path):
    path = tmp_path / "ws.sqlite"
    ScenarioStore(path)
    barrier = threading.Barrier(2)
    errors: list = []
    ids: dict[str, list] = {"t1": [], "t2": []}

    def work(tag):
        try:
            s = ScenarioStore(path)  # one store (and connections) per session
            barrier.wait()
            for k in range(N_EACH):
                ids[tag].append(s.save(f"{tag}-{k}", payload(tag, k)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = ScenarioStore(path)
    assert len(s) == 2 * N_EACH
    for tag, lst in ids.items():
        for k, i in enumerate(lst):
            assert s.load(i) == payload(tag, k)


def test_shared_store_between_threads(tmp_path):
    s = ScenarioStore(tmp_path / "ws.sqlite")
    barrier = threading.Barrier(2)

    def work(tag):
        barrier.wait()
        for k in range(N_EACH):
            s.save(f"{tag}-{k}", payload(tag, k))

    threads = [threading.Thread(target=work, args=(t,)) for t in ("x", "y")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r["name"] for r in s.list()) == sorted(
        f"{t}-{k}" for t in ("x", "y") for k in range(N_EACH))


def _child_save(path: str, tag: str, barrier) -> None:
    s = ScenarioStore(path)
    barrier.wait(timeout=60)
    for k in range(N_EACH):
        s.save(f"{tag}-{k}", payload(tag, k))


def test_two_processes_saving_at_once_both_persist(tmp_path):
    # fork: the children inherit the target and the barrier, nothing is pickled
    ctx = mp.get_context("fork")
    path = str(tmp_path / "ws.sqlite")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_child_save, args=(path, tag, barrier)) for tag in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    s = ScenarioStore(path)
    rows = s.list()
    assert len(rows) == 2 * N_EACH and len({r["id"] for r in rows}) == 2 * N_EACH
    by_name = {r["name"]: r["id"] for r in rows}
    for tag in ("p1", "p2"):
        for k in range(N_EACH):
            assert s.load(by_name[f"{tag}-{k}"]) == payload(tag, k)


# ----------------------------------------------------------------------------------------------
# Exchange
# ----------------------------------------------------------------------------------------------


def test_json_export_import_roundtrip(store, tmp_path):
    a = store.save("Plan A", payload("a"))
    b = store.save("Plan B", payload("b"))
    text = store.export_json(a, b)
    doc = json.loads(text)
    assert doc["format"] == "inclusion-numerique/scenarios" and doc["schema_version"] == 1
    other = ScenarioStore(tmp_path / "other.sqlite")
    new = other.import_json(text)
    assert len(new) == 2 and not set(new) & {a, b}
    assert [other.load(i) for i in new] == [payload("a"), payload("b")]
    assert [other.get(i)["name"] for i in new] == ["Plan A", "Plan B"]
    f = tmp_path / "export.json"
    f.write_text(text, encoding="utf-8")
    assert len(other.import_file(f)) == 2 and len(other) == 4


def test_geojson_export_import(store):
    p = payload("g")
    sid = store.save("Carte", p)
    gj = json.loads(store.export_geojson(sid))
    assert gj["type"] == "FeatureCollection"
    roles = [f["properties"]["role"] for f in gj["features"]]
    assert roles == ["chosen", "chosen", "added"]
    grenoble = gj["features"][0]
    lon, lat = grenoble["geometry"]["coordinates"]
    assert 5.70 < lon < 5.74 and 45.17 < lat < 45.21  # Lambert-93 (913 500, 6 458 000) in WGS84
    assert grenoble["properties"]["candidate_id"] == "commune:38185"
    assert grenoble["properties"]["marginal_gain"] == 200.5
    assert gj["features"][2]["geometry"]["coordinates"] == [5.71, 45.174]
    new = store.import_geojson(json.dumps(gj))
    back = store.load(new)
    # the import carries the WGS84 position of the chosen sites; otherwise identical
    for site in back["chosen_sites"]:
        site.pop("lon"), site.pop("lat")
    assert back == p
    assert store.get(new)["name"] == "Carte"


# ----------------------------------------------------------------------------------------------
# Malformed imports: clear message, nothing changed
# ----------------------------------------------------------------------------------------------


def _envelope(*payloads, names=None):
    names = names or [f"s{k}" for k in range(len(payloads))]
    return json.dumps({"format": "inclusion-numerique/scenarios", "schema_version": 1,
                       "scenarios": [{"name": n, "payload": p} for n, p in zip(names, payloads, strict=True)]})


def _bad_type():
    p = payload()
    p["p"] = "three"
    return _envelope(p)


def _bad_nested_key():
    p = payload()
    p["edits"]["added"][0]["password"] = "x"
    return _envelope(p)


def _second_bad():
    p = payload("bad")
    p["chosen_sites"][1]["x"] = [1, 2]
    return _envelope(payload("ok"), p)


def _bad_hours():
    p = payload()
    p["edits"]["added"][0]["hours_json"] = {"mo": [[720, 540]]}
    return _envelope(p)


BAD_IMPORTS = [
    ("{not json", "JSON non valide"),
    ("", "JSON non valide"),
    (b"\xff\xfe\x00garbage", "pas du texte UTF-8|JSON non valide"),
    ("[1, 2, 3]", "un objet avec « format »"),
    (json.dumps({"format": "other", "schema_version": 1, "scenarios": []}), "« format » doit valoir"),
    (json.dumps({"format": "inclusion-numerique/scenarios", "schema_version": 99,
                 "scenarios": [{"name": "x", "payload": {}}]}), "plus récente"),
    (json.dumps({"format": "inclusion-numerique/scenarios", "schema_version": 1,
                 "scenarios": [], "extra": 1}), r"clé\(s\) inconnue\(s\) \['extra'\]"),
    (_envelope({"model": "mclp", "evil": "__import__('os')"}), r"clé\(s\) inconnue\(s\) \['evil'\]"),
    (_bad_type(), r"payload\.p : un entier ≥ 0 ou null attendu, reçu 'three'"),
    (_bad_nested_key(), r"edits\.added\[0\] : clé\(s\) inconnue\(s\) \['password'\]"),
    (_second_bad(), r"scenarios\[1\].*chosen_sites\[1\]\.x : un nombre ou null attendu, reçu une liste"),
    (_bad_hours(), "start < end"),
    (_envelope({"model": "mclp"}).replace('"mclp"', "NaN"), "finis"),
    ('{"format": "a", "format": "b"}', "clé en double"),
    (_envelope({"model": "tsp"}), "l'une des valeurs"),
    (_envelope({"service_time": -5}), "≥ 0"),
]


@pytest.mark.parametrize("data, match", BAD_IMPORTS)
def test_malformed_json_import_is_rejected_and_changes_nothing(store, data, match):
    store.save("existing", payload())
    before = snapshot(store.path)
    with pytest.raises(ValueError, match=match):
        store.import_json(data)
    assert snapshot(store.path) == before


def test_too_large_import_is_rejected(store, tmp_path):
    store.save("existing", payload())
    before = snapshot(store.path)
    p = payload()
    p["description"] = "x" * 10_000
    p["config"] = {"blob": ["y" * 10_000] * 600}  # ~6 MB of otherwise valid JSON
    big = _envelope(p)
    assert len(big.encode()) > MAX_IMPORT_BYTES
    with pytest.raises(ValueError, match="trop volumineux"):
        store.import_json(big)
    f = tmp_path / "big.json"
    f.write_text(big)
    with pytest.raises(ValueError, match="trop volumineux"):
        store.import_file(f)
    assert snapshot(store.path) == before


@pytest.mark.parametrize("doc, match", [
    ({"type": "Feature"}, "FeatureCollection"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None,
                                                 "properties": {"role": "mystery"}}]}, "role"),
    ({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [913500, 6458000]},
         "properties": {"role": "chosen", "candidate_id": "c"}}]}, "longitude, latitude"),
    ({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [5.7, 45.1]},
         "properties": {"role": "chosen"}}]}, r"clé\(s\) manquante\(s\) \['candidate_id'\]"),
    ({"type": "FeatureCollection", "features": [], "scenario": {"format": "inclusion-numerique/scenarios",
      "schema_version": 1, "name": "x", "payload": {"p": -1}}}, "≥ 0"),
])
def test_malformed_geojson_import_is_rejected(store, doc, match):
    store.save("existing", payload())
    before = snapshot(store.path)
    with pytest.raises(ValueError, match=match):
        store.import_geojson(json.dumps(doc))
    assert snapshot(store.path) == before


def test_validate_payload_normalises_and_rejects():
    p = payload()
    p["results"]["marginal_gains"] = np.array([3.0, 1.0])
    out = validate_payload(p)
    assert out["results"]["marginal_gains"] == [3.0, 1.0]
    with pytest.raises(ValueError, match="fini"):
        validate_payload({"service_time": float("nan")})
    with pytest.raises(ValueError, match="un objet attendu"):
        validate_payload([("model", "mclp")])
