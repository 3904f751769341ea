"""Benchmark: pack build time and time to load the whole pack into memory.

    .venv/bin/python benchmarks/bench_pack.py [--skip-build]

Targets (issue #2, 2-core machine): build ≤ 60 s, load ≤ 1.5 s. The reference run, in the same
process, reads the two raw polygon GeoJSON files the pack replaces (communes + IRIS of AURA) with
geopandas: the ratio says how much faster the app starts on the pack than on the raw files.
The build writes into a temporary directory, so the committed pack is not touched.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd  # noqa: E402

import geodata  # noqa: E402
from loaders import RAW_DIR  # noqa: E402
from loaders.build_pack import build_tables, write_pack  # noqa: E402


def timed(fn, repeat: int = 1):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()
    if not args.skip_build:
        with tempfile.TemporaryDirectory() as tmp:
            t_build, _ = timed(lambda: write_pack(build_tables(RAW_DIR, progress=lambda m: None), Path(tmp) / "pack", RAW_DIR))
        print(f"build: {t_build:6.2f} s   (target ≤ 60 s: {t_build / 60:.2f} of the budget)")
    t_ref, _ = timed(lambda: [gpd.read_file(RAW_DIR / "geo" / f) for f in ("communes_ara_cog2024_simplifiees.geojson", "iris_ara_simplifies.geojson")], repeat=3)
    t_load, pack = timed(geodata.load_pack, repeat=3)
    tracemalloc.start()
    geodata.load_pack()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = sum(len(v) for k, v in pack.items() if k != "manifest")
    print(f"load pack: {t_load:6.3f} s for {rows} rows, peak {peak / 1e6:.0f} MB   (target ≤ 1.5 s: {t_load / 1.5:.2f} of the budget)")
    print(f"reference (raw GeoJSON communes + IRIS via geopandas): {t_ref:6.3f} s   ratio raw / pack = {t_ref / t_load:.1f}×")


if __name__ == "__main__":
    main()
