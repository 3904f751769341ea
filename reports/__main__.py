"""Command line: write the diagnostic report of a territory as PDF or DOCX.

    python -m reports --territory epci:200040715 --out diagnostic.pdf
    python -m reports --territory dep:38 --out isere.docx --level commune --set need_model=illectronisme

The territory is ``reg:``, ``dep:``, ``epci:`` or ``com:`` followed by its code (a bare code is
read as in ``indicators.cli``). Saved planning scenarios are read from ``--workspace`` (default
``$INCLUSION_WORKSPACE``, as the Implantation page). Progress is written to standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from indicators import Config
from reports.build import DEFAULT_CONFIG, format_of, write_report


def _config(args: argparse.Namespace) -> Config:
    data = DEFAULT_CONFIG.to_dict()
    if args.config:
        data.update(json.loads(args.config.read_text(encoding="utf-8")))
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            msg = f"--set expects key=value, got {item!r}"
            raise ValueError(msg)
        data[key.strip()] = value.strip()
    return Config.from_dict(data)


def _progress(fraction: float, message: str) -> None:
    print(f"[{100 * fraction:3.0f} %] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, write the report; 0 on success, 2 on a bad territory, option or file name."""
    ap = argparse.ArgumentParser(prog="python -m reports", description=__doc__.splitlines()[0])
    ap.add_argument("--territory", required=True, help="reg:84, dep:38, epci:200040715, com:38185 (or a bare code)")
    ap.add_argument("--out", required=True, type=Path, help="output file, .pdf or .docx")
    ap.add_argument("--level", choices=("iris", "commune"), help="level of the maps (default: IRIS for a commune or an EPCI, "
                    "communes for a département or the région)")
    ap.add_argument("--config", type=Path, help="JSON file of indicators.Config keys")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one Config key")
    ap.add_argument("--workspace", type=Path, help="scenario workspace (SQLite); default $INCLUSION_WORKSPACE")
    ap.add_argument("--draws", type=int, default=100, help="Monte-Carlo draws of the priority zones' robustness")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        import geodata
        from reports.territory import parse_territory

        format_of(args.out)
        pack = geodata.load_pack()
        key = parse_territory(pack, args.territory).key
        write_report(pack, key, args.out, workspace=args.workspace, progress=_progress, config=_config(args),
                     level=args.level, robustness_draws=args.draws)
    except (ValueError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out} written ({args.out.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
