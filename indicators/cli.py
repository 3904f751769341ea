"""Command line: index, need, access and unmet need for a territory, written to CSV / Parquet / GeoPackage.

    python -m indicators.cli --territory 200040715 --level iris --out results.csv
    python -m indicators.cli --territory dep:38 --level commune --out isere.gpkg --set normalisation=ratio

The territory is a code of région, département, EPCI (SIREN, 9 digits) or commune (5 characters);
prefix it with ``reg:``, ``dep:``, ``epci:`` or ``com:`` when a bare code is ambiguous (région 84 /
département 84). The computation runs on the whole table of the level in the pack (so reference
sets and catchments crossing the border are complete), then keeps the zones of the territory.
Options go through :class:`indicators.definitions.Config` (``--config file.json``, ``--set k=v``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .definitions import Config
from .levels import compute_level
from .unmet import robustness

log = logging.getLogger(__name__)
LEVELS = ("iris", "commune", "epci", "departement", "region")
KIND_COLUMN = {"region": "code_region", "departement": "code_departement", "epci": "code_epci", "commune": "code_commune"}
PREFIX = {"reg": "region", "dep": "departement", "epci": "epci", "com": "commune"}
FORMATS = (".csv", ".parquet", ".gpkg")


def load_pack() -> dict:
    """The pack as a dict of tables (``geodata.load_pack()``, imported when called)."""
    import geodata

    return geodata.load_pack()


def resolve_territory(code: str, pack: dict) -> tuple[str, str]:
    """(kind, code) of a territory code; ValueError when unknown or ambiguous."""
    code = code.strip()
    if ":" in code:
        prefix, code = code.split(":", 1)
        if prefix not in PREFIX:
            raise ValueError(f"unknown territory prefix {prefix!r}; expected one of {sorted(PREFIX)}")
        kind = PREFIX[prefix]
    elif len(code) == 9 and code.isdigit():
        kind = "epci"
    elif len(code) == 5:
        kind = "commune"
    else:
        found = [k for k in ("departement", "region") if k in pack and code in set(pack[k]["code"].astype(str))]
        if len(found) > 1:
            raise ValueError(f"territory {code!r} is both a région and a département; write reg:{code} or dep:{code}")
        if not found:
            raise ValueError(f"territory {code!r} is not a known région or département code of the pack")
        kind = found[0]
    table = pack.get(kind)
    if table is not None and code not in set(table["code"].astype(str)):
        raise ValueError(f"{kind} {code!r} is not in the pack")
    return kind, code


def territory_mask(zones: pd.DataFrame, level: str, kind: str, code: str) -> np.ndarray:
    """Rows of a level table inside the territory."""
    if LEVELS.index(level) > LEVELS.index(kind):
        raise ValueError(f"level {level!r} is coarser than the territory ({kind}); choose a finer level")
    col = "code" if level == kind else KIND_COLUMN[kind]
    if col not in zones.columns:
        raise ValueError(f"the {level} table has no {col!r} column to select {kind} {code}")
    return (zones[col].astype(str) == code).to_numpy()


def run(territory: str, level: str, config: Config, robustness_draws: int = 0, seed: int = 0,
        pack: dict | None = None) -> pd.DataFrame:
    """Compute everything for the zones of `level` in `territory`; returns a (Geo)DataFrame."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}")
    pack = pack if pack is not None else load_pack()
    kind, code = resolve_territory(territory, pack)
    zones = pack[level]
    if "geometry_display" in zones.columns:
        zones = zones.drop(columns="geometry_display")
    zones = zones.reset_index(drop=True)
    mask = territory_mask(zones, level, kind, code)
    if not mask.any():
        raise ValueError(f"no {level} zone in {kind} {code}")
    places = pack["places"].reset_index(drop=True)
    tables = {lv: (pack[lv].drop(columns="geometry_display") if "geometry_display" in pack[lv].columns else pack[lv]).reset_index(drop=True)
              for lv in LEVELS}
    tables["reference_france"] = pack.get("reference_france")
    res = compute_level(tables, level, places, config)
    out = res.zones.drop(columns=[c for c in ("code", "name", "level") if c in res.zones.columns])
    if robustness_draws > 0:
        rob = robustness(zones, config, out["need"].to_numpy(float), out["access"].to_numpy(float),
                         n_draws=robustness_draws, seed=seed)
        out = out.join(rob)
    if res.report.get("reference") and res.report.get("reference") != config.reference:
        log.warning("at the %s level the index's reference moves from %r to %r (a level cannot be ranked within itself)",
                    level, config.reference, res.report["reference"])
    ident = [c for c in ("code", "name", "level", "code_commune", "commune_name", "code_epci", "epci_name",
                         "code_departement", "code_region", "population", "geometry") if c in zones.columns]
    table = pd.concat([zones[ident], out], axis=1)[mask].reset_index(drop=True)
    if "geometry" in table.columns and hasattr(zones, "crs"):
        import geopandas as gpd

        table = gpd.GeoDataFrame(table, geometry="geometry", crs=zones.crs)
    return table


def write(table: pd.DataFrame, out: Path) -> None:
    """Write by extension: .csv (no geometry), .parquet (GeoParquet if geometry), .gpkg (needs geometry)."""
    ext = out.suffix.lower()
    if ext not in FORMATS:
        raise ValueError(f"unknown output format {ext!r}; expected one of {FORMATS}")
    has_geom = "geometry" in table.columns and hasattr(table, "to_file")
    if ext == ".csv":
        pd.DataFrame(table.drop(columns=["geometry"], errors="ignore")).to_csv(out, index=False)
    elif ext == ".parquet":
        table.to_parquet(out, index=False)
    else:
        if not has_geom:
            raise ValueError("a GeoPackage needs zone geometries; the zone table has none")
        table.to_file(out, driver="GPKG", layer="zones")


def _parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m indicators.cli", description=__doc__.splitlines()[0])
    ap.add_argument("--territory", required=True, help="code of région, département, EPCI or commune (reg:/dep:/epci:/com: prefix optional)")
    ap.add_argument("--level", default="commune", choices=LEVELS, help="level of the output zones")
    ap.add_argument("--out", required=True, type=Path, help="output file: .csv, .parquet or .gpkg")
    ap.add_argument("--config", type=Path, help="JSON file of Config keys")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one Config key")
    ap.add_argument("--robustness", type=int, default=0, metavar="N", help="Monte-Carlo draws for the top-decile probability")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(format="note: %(message)s", level=logging.WARNING)
    try:
        data = json.loads(args.config.read_text(encoding="utf-8")) if args.config else {}
        data.update(_parse_set(args.set))
        config = Config.from_dict(data)
        table = run(args.territory, args.level, config, args.robustness, args.seed)
        write(table, args.out)
    except (ValueError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(table)} zones ({args.level}) written to {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
