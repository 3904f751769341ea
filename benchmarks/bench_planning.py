"""Benchmark: MCLP on the real Auvergne-Rhône-Alpes IRIS, planning.models vs PySAL spopt 0.7.

Instance
- Demand points: the 5 223 AURA IRIS (``iris_ara_simplifies.geojson``), representative points
  (inside the polygon) in Lambert-93.
- Demand weights: population. RP2016 IRIS population (sum of the six age groups of
  ``insee_rp2016_iris_habitat_population_ara_extrait.csv``) where the IRIS is in that file (IRIS
  d'habitat only); for the other IRIS, the 2021 population of their commune (datas.fun comparator)
  minus what the RP2016 IRIS of that commune already hold, split equally among them. IRIS with
  neither are left out (weight 0) and counted in the output. This mixes vintages: it is a
  benchmark weight, not an indicator.
- Candidates: commune representative points (COG 2024, 4 027 communes; ``--candidates N`` takes a
  seeded random subset of N).
- Cost: straight-line distance × 1.3 detour ÷ 60 km/h (car), minutes. Service time 20 min, p = 10.

Both solvers get the same dense cost matrix and are timed from it to the proven optimum (model
building included). Run: ``python benchmarks/bench_planning.py [--candidates N] [--p 10]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402

from loaders import RAW_DIR  # noqa: E402
from loaders.tabular import read_csv, to_number  # noqa: E402
from planning.candidates import straight_line_minutes  # noqa: E402
from planning.models import coverage_matrix, mclp  # noqa: E402

AGE_COLUMNS = ["P16_POP0014", "P16_POP1529", "P16_POP3044", "P16_POP4559", "P16_POP6074", "P16_POP75P"]


def load_instance(raw_dir: Path, n_candidates: int | None):
    iris = gpd.read_file(raw_dir / "geo" / "iris_ara_simplifies.geojson").to_crs(2154)
    iris_code = iris["code_territoire"].str.removeprefix("iris")
    zpts = iris.geometry.representative_point()
    zones_xy = np.c_[zpts.x, zpts.y]

    communes = gpd.read_file(raw_dir / "geo" / "communes_ara_cog2024_simplifiees.geojson").to_crs(2154)
    if n_candidates is not None and n_candidates < len(communes):
        keep = np.sort(np.random.default_rng(0).choice(len(communes), n_candidates, replace=False))
        communes = communes.iloc[keep]
    cpts = communes.geometry.representative_point()
    sites_xy = np.c_[cpts.x, cpts.y]
    site_names = communes["libelle_territoire"].to_numpy()

    # Population weights (see module docstring).
    rp = read_csv(raw_dir / "insee" / "insee_rp2016_iris_habitat_population_ara_extrait.csv",
                  ["IRIS", *AGE_COLUMNS])
    pop16 = sum(to_number(rp[c])[0] for c in AGE_COLUMNS)
    pop16.index = rp["IRIS"].str.zfill(9)
    com = read_csv(raw_dir / "insee" / "communes_comparateur2024_datasfun_derive.csv",
                   ["insee_com", "commune_type", "population_2021"])
    com = com[com["commune_type"].isin(["COM", "ARM"])].drop_duplicates("insee_com")  # no COMD
    pop21 = pd.Series(to_number(com["population_2021"])[0].to_numpy(), index=com["insee_com"])
    w = iris_code.map(pop16).to_numpy(float)
    from_rp = np.isfinite(w)
    commune = iris_code.str[:5]
    held = pd.Series(np.where(from_rp, w, 0.0)).groupby(commune.to_numpy()).sum()
    rest_n = pd.Series(~from_rp).groupby(commune.to_numpy()).sum()
    rest_pop = (commune.map(pop21) - commune.map(held)).clip(lower=0) / commune.map(rest_n)
    w = np.where(from_rp, w, rest_pop.to_numpy(float))
    missing = ~np.isfinite(w)
    w[missing] = 0.0
    info = {"iris": len(iris), "from_rp2016": int(from_rp.sum()),
            "from_commune_2021": int((~from_rp & ~missing).sum()), "no_population": int(missing.sum()),
            "population": float(w.sum())}
    return zones_xy, w, sites_xy, site_names, info


def run_spopt(cost: np.ndarray, w: np.ndarray, s: float, p: int):
    import pulp
    from spopt.locate import MCLP

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = MCLP.from_cost_matrix(cost, w, s, p_facilities=p)
        t_build = time.perf_counter() - t0
        model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    seconds = time.perf_counter() - t0
    chosen = [j for j, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5]
    return float(pulp.value(model.problem.objective)), seconds, t_build, chosen


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=None, help="subset of communes (default: all)")
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--skip-spopt", action="store_true")
    ap.add_argument("--raw-dir", type=Path, default=RAW_DIR)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    zones_xy, w, sites_xy, names, info = load_instance(args.raw_dir, args.candidates)
    cost = straight_line_minutes(zones_xy, sites_xy, speed_kmh=60.0, detour=1.3)
    print(f"instance: {info['iris']} IRIS demand points × {len(sites_xy)} candidate communes, "
          f"p = {args.p}, service time {args.minutes:g} min (car: straight line × 1.3 / 60 km/h); "
          f"loaded in {time.perf_counter() - t0:.1f} s")
    print(f"demand = population: {info['from_rp2016']} IRIS RP2016, {info['from_commune_2021']} IRIS "
          f"from commune 2021 population, {info['no_population']} IRIS without population (weight 0); "
          f"total {info['population']:,.0f}")
    a = coverage_matrix(cost, args.minutes)
    print(f"coverage pairs within {args.minutes:g} min: {a.nnz:,} "
          f"({a.nnz / a.shape[0]:.1f} candidates per IRIS on average)")

    ours = mclp(w, cost, args.minutes, args.p)
    print(f"\nplanning.models.mclp (exact, CBC): {ours.seconds:.2f} s, status {ours.status}, "
          f"objective {ours.objective:,.1f} (reduced to {ours.details['reduced_zones']} zones × "
          f"{ours.details['reduced_sites']} sites)")
    print("  chosen (marginal gain): " + ", ".join(
        f"{names[j]} (+{g:,.0f})" for j, g in zip(ours.chosen, ours.marginal_gains, strict=True)))
    sp_cost = straight_line_minutes(zones_xy, sites_xy, speed_kmh=60.0, detour=1.3,
                                    max_minutes=args.minutes)
    ours_sp = mclp(w, sp_cost, args.minutes, args.p)
    print(f"  same from the sparse matrix (pairs ≤ {args.minutes:g} min only): {ours_sp.seconds:.2f} s, "
          f"objective {ours_sp.objective:,.1f}")
    greedy = mclp(w, cost, args.minutes, args.p, method="greedy")
    print(f"  greedy + swap: {greedy.seconds:.2f} s, objective {greedy.objective:,.1f}, "
          f"gap to {greedy.bound_kind} bound {greedy.gap:.2e}")

    if args.skip_spopt:
        return
    print("\nspopt.locate.MCLP.from_cost_matrix + CBC (same cost matrix)... ", flush=True)
    sp_obj, sp_s, sp_build, sp_chosen = run_spopt(cost, w, args.minutes, args.p)
    print(f"spopt: {sp_s:.2f} s (model building {sp_build:.2f} s), objective {sp_obj:,.1f}")
    print("\nsummary")
    print(f"  time   ours {ours.seconds:.2f} s | spopt {sp_s:.2f} s | ratio spopt/ours "
          f"{sp_s / ours.seconds:.1f}×")
    print(f"  optimum ours {ours.objective:,.1f} | spopt {sp_obj:,.1f} | "
          f"same: {abs(ours.objective - sp_obj) <= 1e-6 * max(1.0, sp_obj)}")
    print(f"  chosen sets identical: {sorted(ours.chosen.tolist()) == sorted(sp_chosen)}")


if __name__ == "__main__":
    main()
