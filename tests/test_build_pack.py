"""The pack build: reproducible, atomic, clear on bad input (issue #2)."""

from __future__ import annotations

import shutil

import geopandas as gpd
import pytest

from loaders import RAW_DIR, build_pack
from loaders.build_pack import PACK_DIR, pack_digest


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "pack"
    assert build_pack.main(["--raw-dir", str(RAW_DIR), "--out", str(out)]) == 0
    return out


@pytest.mark.raw
def test_rebuild_gives_the_committed_pack(rebuilt):
    """Same inputs, same tables: the committed pack is exactly what the pipeline derives."""
    assert pack_digest(rebuilt) == pack_digest(PACK_DIR)


@pytest.mark.raw
def test_build_prints_progress_and_summary(rebuilt, capsys):
    assert (rebuilt / "manifest.json").exists()
    assert not list(rebuilt.parent.glob(".pack-build-*")), "no temporary directory left behind"


def _tables():
    tiny = gpd.GeoDataFrame({"code": ["a"]}, geometry=gpd.points_from_xy([0], [0]), crs=2154)
    return {"commune": tiny, "places": tiny}


def test_failed_write_leaves_the_old_pack_untouched(tmp_path, monkeypatch):
    out = tmp_path / "pack"
    out.mkdir()
    (out / "manifest.json").write_text("{\"old\": true}")
    calls = {"n": 0}
    real = gpd.GeoDataFrame.to_parquet

    def failing(self, path, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full (simulated)")
        return real(self, path, *a, **k)

    monkeypatch.setattr(gpd.GeoDataFrame, "to_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        build_pack.write_pack(_tables(), out, RAW_DIR)
    assert (out / "manifest.json").read_text() == "{\"old\": true}"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    assert not list(tmp_path.glob(".pack-build-*"))


@pytest.mark.raw
def test_bad_raw_file_fails_cleanly(tmp_path, capsys):
    """A truncated source file: exit code 2, a message naming the file, the old pack kept."""
    raw = tmp_path / "raw"
    shutil.copytree(RAW_DIR, raw)
    target = raw / "insee" / "cc_filosofi_2021_COM.csv"
    target.chmod(0o644)
    target.write_text("CODGEO;NBMENFISC21\n")  # header cut after two columns, no rows
    out = tmp_path / "pack"
    out.mkdir()
    (out / "keep.txt").write_text("old pack")
    assert build_pack.main(["--raw-dir", str(raw), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cc_filosofi_2021_COM.csv" in err and "unchanged" in err
    assert (out / "keep.txt").read_text() == "old pack"
