"""Run every benchmark of the project, one after the other, each in its own process.

    .venv/bin/python benchmarks/run_all.py [--quick]

Each script prints its timings next to its target and a ratio against a reference measured in
the same process (raw files, PySAL access, spopt, a cold run…). ``--quick`` skips the pack build
and the browser benchmark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("bench_pack.py", [], ["--skip-build"]),
    ("bench_access.py", [], []),
    ("bench_planning.py", [], []),
    ("bench_orienter.py", [], ["--no-browser"]),
    ("bench_report.py", [], []),
    ("bench_load.py", [], None),
    ("bench_app.py", [], None),
]


def main() -> int:
    quick = "--quick" in sys.argv
    failed = 0
    for script, args, quick_args in SCRIPTS:
        if quick and quick_args is None:
            continue
        cmd = [sys.executable, str(HERE / script), *(quick_args if quick else args)]
        print(f"\n=== {script} ===", flush=True)
        failed += subprocess.call(cmd) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
