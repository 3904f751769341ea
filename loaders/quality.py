"""Data-quality report of the pack: per indicator group and level, coverage, imputed share, vintage.

    python -m loaders.quality [--pack DIR] [--markdown]

Reads only ``manifest.json`` (written by the build), so it is instant and works offline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geodata import LEVELS, PACK_DIR, load_manifest


def quality_rows(manifest: dict) -> list[dict]:
    """One row per (indicator group, level): zones, % with value, % estimated (zones at the commune
    and IRIS levels, population share at aggregated levels), zones whose source was inconsistent
    and capped, vintage."""
    rows = []
    meta = manifest.get("indicators", {})
    for group, per_level in manifest.get("coverage", {}).items():
        for level in LEVELS:
            if level not in per_level:
                continue
            c = per_level[level]
            rows.append(
                {
                    "indicator": meta.get(group, {}).get("label", group),
                    "group": group,
                    "level": level,
                    "zones": c["zones"],
                    "with_value_pct": c["with_value_pct"],
                    "population_covered_pct": c.get("population_covered_pct"),
                    "imputed_pct": c["imputed_pct"],
                    "capped_zones": c.get("capped_zones", 0),
                    "vintage": meta.get(group, {}).get("vintage", "?"),
                }
            )
    return rows


def render(rows: list[dict], markdown: bool = False) -> str:
    head = ["indicator", "level", "zones", "zones with value %", "population covered %", "estimated %", "capped zones", "vintage"]
    pct = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
    body = [[r["indicator"], r["level"], str(r["zones"]), pct(r["with_value_pct"]), pct(r["population_covered_pct"]), pct(r["imputed_pct"]),
             str(r["capped_zones"]), r["vintage"]] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*["-" * w for w in widths])] + [fmt.format(*b) for b in body])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m loaders.quality", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", type=Path, default=PACK_DIR)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table (for the README)")
    args = ap.parse_args(argv)
    print(render(quality_rows(load_manifest(args.pack)), markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
