"""Benchmark: E2SFCA at national scale against PySAL `access`, and compute_all on ~5 200 zones.

    python benchmarks/bench_access.py [--raw-dir ../shared/data/raw] [--repeat 3]

Demand: every commune of the INSEE comparator file (``communes_comparateur2024_datasfun_derive.csv``,
deduplicated on ``insee_com``, with coordinates; demand = ``population_2021``). Supply: every place
with coordinates in the France Services list, the CnFS places (2022-07) and the data·inclusion
médiation numérique places (2023-02), capacity 1 each (duplicates across sources are kept).
Cost: straight line in Lambert-93 × detour 1.3 ÷ 50 km/h, 30-minute catchment, PySAL's default
E2SFCA steps (10 → 1, 20 → 0.68, 30 → 0.22). Overseas points are projected in Lambert-93 too:
distorted, but the same for both implementations.

PySAL gets the cost table a user would build: one row per (commune, place) pair inside the
catchment (built here with the same KD-tree, not timed); its timed call is Access(...) +
enhanced_two_stage_fca (best of --repeat runs, like ours). Prints times, ratio, max |difference| and peak memory (tracemalloc).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from pyproj import Transformer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from indicators import Config, compute_all  # noqa: E402
from indicators import access as acc  # noqa: E402

AURA_DEPS = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")


def load_communes(raw: Path) -> pd.DataFrame:
    c = pd.read_csv(raw / "insee" / "communes_comparateur2024_datasfun_derive.csv",
                    dtype={"insee_com": str, "insee_dep": str, "insee_reg": str})
    c = c.drop_duplicates("insee_com")
    return c.dropna(subset=["lat", "lng", "population_2021"]).reset_index(drop=True)


def load_places(raw: Path) -> pd.DataFrame:
    fs = pd.read_csv(raw / "places" / "anct_france_services_liste-fs-20240801.csv", dtype=str)
    parts = [pd.DataFrame({"id": "fs:" + fs["id_fs"], "lat": pd.to_numeric(fs["latitude"], errors="coerce"),
                           "lon": pd.to_numeric(fs["longitude"], errors="coerce"), "dep": fs["insee_dep"]})]
    for name, key in (("cnfs_lieux_mediation_numerique_2022-07.json", "cnfs"),
                      ("data_inclusion_lieux_mediation_numerique_2023-02.json", "di")):
        rows = json.loads((raw / "places" / name).read_text(encoding="utf-8"))
        df = pd.DataFrame(rows)
        parts.append(pd.DataFrame({
            "id": key + ":" + df["id"].astype(str),
            "lat": pd.to_numeric(df.get("latitude"), errors="coerce"),
            "lon": pd.to_numeric(df.get("longitude"), errors="coerce"),
            "dep": df.get("code_postal", pd.Series("", index=df.index)).astype(str).str[:2],
        }))
    p = pd.concat(parts, ignore_index=True)
    return p.dropna(subset=["lat", "lon"]).drop_duplicates("id").reset_index(drop=True)


def lambert93(lon, lat) -> np.ndarray:
    tr = Transformer.from_crs(4326, 2154, always_xy=True)
    return np.column_stack(tr.transform(np.asarray(lon, float), np.asarray(lat, float)))


def timed(fn, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def peak_mib(fn) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def national(raw: Path, repeat: int) -> None:
    from access import Access, weights

    logging.getLogger("access").setLevel(logging.WARNING)
    com = load_communes(raw)
    places = load_places(raw)
    zxy = lambert93(com["lng"], com["lat"])
    pxy = lambert93(places["lon"], places["lat"])
    N = com["population_2021"].to_numpy(float)
    S = np.ones(len(places))
    decay = acc.make_decay("pysal")
    speed, detour, max_cost = 50.0, 1.3, 30.0
    print(f"national E2SFCA: {len(com)} communes × {len(places)} places, 30 min by car "
          f"(straight line × {detour} ÷ {speed:g} km/h)")

    def ours_full():
        pairs = acc.straight_line_pairs(zxy, pxy, speed, max_cost, detour)
        return acc.fca(N, S, pairs, "e2sfca", decay)

    pairs = acc.straight_line_pairs(zxy, pxy, speed, max_cost, detour)
    t_pairs, _ = timed(lambda: acc.straight_line_pairs(zxy, pxy, speed, max_cost, detour), repeat)
    t_fca, _ = timed(lambda: acc.fca(N, S, pairs, "e2sfca", decay), repeat)
    t_ours, res = timed(ours_full, repeat)
    print(f"  pairs within the catchment: {len(pairs):,}")
    print(f"  ours: {t_ours:.3f} s total (KD-tree pairs {t_pairs:.3f} s + two sparse steps {t_fca:.3f} s)")

    dem = pd.DataFrame({"geoid": com["insee_com"], "pop": N})
    sup = pd.DataFrame({"geoid": places["id"], "cap": S})
    cost = pd.DataFrame({"origin": com["insee_com"].to_numpy()[pairs.rows],
                         "dest": places["id"].to_numpy()[pairs.cols], "cost": pairs.cost})

    def pysal_run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = Access(demand_df=dem, demand_index="geoid", demand_value="pop", supply_df=sup, supply_index="geoid",
                       supply_value="cap", cost_df=cost, cost_origin="origin", cost_dest="dest", cost_name="cost")
            return a.enhanced_two_stage_fca(name="e2sfca", weight_fn=weights.step_fn({10: 1, 20: 0.68, 30: 0.22}))

    t_pysal, ref = timed(pysal_run, repeat)
    ref = ref["e2sfca_cap"].reindex(com["insee_com"]).to_numpy(float)
    seen = np.isfinite(ref)
    diff = np.max(np.abs(res.access[seen] - ref[seen]))
    print(f"  PySAL access E2SFCA: {t_pysal:.3f} s   (ratio PySAL / ours: {t_pysal / t_ours:.1f}×)")
    print(f"  max |A_ours − A_pysal| over the {seen.sum()} communes PySAL scores: {diff:.3e}; "
          f"communes with no place within 30 min: {int((~seen).sum())} (ours: A = 0, flagged)")
    m_ours = peak_mib(ours_full)
    m_pysal = peak_mib(pysal_run)
    print(f"  peak traced memory: ours {m_ours:.1f} MiB, PySAL {m_pysal:.1f} MiB "
          f"(process RSS now {psutil.Process().memory_info().rss / 2**20:.0f} MiB)")


def aura_zones(raw: Path, n_target: int = 5200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """~5 200 zones: AURA communes (real points and populations) split into IRIS-like pieces, with
    synthetic indicator counts; ~2 000 places: the real AURA places, plus random ones to reach 2 000."""
    rng = np.random.default_rng(seed)
    com = load_communes(raw)
    com = com[com["insee_dep"].isin(AURA_DEPS)].reset_index(drop=True)
    extra = com.sample(n_target - len(com), replace=True, random_state=seed)
    z = pd.concat([com, extra], ignore_index=True)
    xy = lambert93(z["lng"], z["lat"])
    xy[len(com):] += rng.normal(0, 800, (len(z) - len(com), 2))
    pop = z["population_2021"].to_numpy(float)
    pop[len(com):] = np.maximum(200, pop[len(com):] * 0.3)
    n = len(z)
    zones = pd.DataFrame({
        "code": [f"Z{i:05d}" for i in range(n)], "level": "iris", "code_commune": z["insee_com"],
        "code_departement": z["insee_dep"], "code_region": "84", "code_epci": z["insee_dep"] + "EPCI",
        "rep_x": xy[:, 0], "rep_y": xy[:, 1], "area_km2": np.maximum(z["superficie_km2"].to_numpy(float), 0.1),
        "population": pop, "fiscal_persons": pop * 0.95, "poor_persons": np.round(pop * 0.95 * rng.uniform(0.03, 0.3, n)),
        "premises_total": pop * 0.6, "ftth_premises": np.round(pop * 0.6 * rng.uniform(0, 1, n)),
        "dist_4g_m": rng.uniform(0, 6000, n), "pop_age_total": pop, "pop_15_29": pop * 0.17,
        "pop_60p": np.round(pop * rng.uniform(0.15, 0.4, n)), "pop_75p": np.round(pop * 0.09),
        "nscol15p": pop * 0.75, "nscol15p_diplmin": np.round(pop * 0.75 * rng.uniform(0.1, 0.4, n)),
    })
    zones.loc[rng.random(n) < 0.3, ["poor_persons", "fiscal_persons"]] = np.nan  # secret
    zones.loc[rng.random(n) < 0.8, ["nscol15p", "nscol15p_diplmin"]] = np.nan  # no diploma data
    pl = load_places(raw)
    pl = pl[pl["dep"].isin(AURA_DEPS)]
    pxy = lambert93(pl["lon"], pl["lat"])
    k = max(0, 2000 - len(pl))
    pxy = np.vstack([pxy, xy[rng.integers(0, n, k)] + rng.normal(0, 2000, (k, 2))])
    m = len(pxy)
    hours = json.dumps({"mo": [[540, 720], [840, 1110]], "we": [[540, 720]], "sa": [[540, 720]]})
    places = pd.DataFrame({
        "place_id": [f"P{j}" for j in range(m)], "x": pxy[:, 0], "y": pxy[:, 1],
        "type": rng.choice(["france_services", "mediatheque", "association", "ccas"], m),
        "services": rng.choice(["demarches;competences_base", "equipement;competences_base", "demarches"], m),
        "hours_json": hours, "weekly_hours": np.where(rng.random(m) < 0.6, rng.uniform(6, 35, m), np.nan),
        "staff": np.where(rng.random(m) < 0.4, rng.integers(1, 4, m).astype(float), np.nan),
        "offers_digital_help": True, "open_evening": rng.random(m) < 0.2, "open_saturday": rng.random(m) < 0.3,
    })
    return zones, places


def live(raw: Path, repeat: int) -> None:
    zones, places = aura_zones(raw)
    print(f"compute_all: {len(zones)} zones × {len(places)} places (AURA points, synthetic counts)")
    for label, cfg in (("default (IFN 2023, precarity, E2SFCA PySAL steps, auto mode)", Config()),
                       ("IFN 2019, ratio, illectronisme, APL, car", Config(indicator_set="ifn2019", normalisation="ratio",
                                                                          need_model="illectronisme", decay="apl",
                                                                          travel_mode="car", missing="available")),
                       ("Saturday slot, gaussian 30 min", Config(time_slot="saturday", decay="gaussian"))):
        t, res = timed(lambda cfg=cfg: compute_all(zones, places, cfg), repeat)
        print(f"  {label}: {t:.3f} s  ({res.report['n_pairs']:,} pairs, "
              f"{res.report['places_kept']} places kept)")


def one_truth(repeat: int) -> None:
    """indicators.levels.compute_level on the pack (need spread to the IRIS, access and unmet need on
    the 5 224 IRIS, sums to the level) against compute_all on the commune table alone, same run."""
    import geodata
    from indicators.levels import compute_level

    pack = geodata.load_pack()
    tables = {lv: pd.DataFrame(pack[lv].drop(columns=["geometry", "geometry_display"])) for lv in geodata.LEVELS}
    tables["reference_france"] = pack["reference_france"]
    places = pd.DataFrame(pack["places"].drop(columns="geometry"))
    t_ref, _ = timed(lambda: compute_all(tables["commune"], places, Config()), repeat)
    print(f"one value per territory, the pack ({len(tables['iris'])} IRIS, {len(places)} places):")
    print(f"  reference: compute_all on the {len(tables['commune'])} communes alone: {t_ref:.3f} s")
    for level in ("iris", "commune", "departement"):
        t, _ = timed(lambda level=level: compute_level(tables, level, places, Config()), repeat)
        print(f"  compute_level({level!r}): {t:.3f} s  (×{t / t_ref:.1f} the reference; target ≤ 0.5 s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "data" / "raw")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    national(args.raw_dir, args.repeat)
    live(args.raw_dir, args.repeat)
    one_truth(args.repeat)


if __name__ == "__main__":
    main()
