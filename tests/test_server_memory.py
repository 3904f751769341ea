"""The server's malloc arena limit (ui/server_memory.py): accepted by glibc, skipped when the
operator set ``MALLOC_ARENA_MAX``, applied by ``app.py`` when the server imports it. Each case runs
in a fresh interpreter (the limit is per process and cached)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")


def _python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=environ, capture_output=True, text=True,
                         timeout=120, check=True)
    return out.stdout.strip().splitlines()[-1]


@glibc_only
def test_glibc_accepts_the_limit_once():
    code = "from ui.server_memory import limit_malloc_arenas as f; print(f(), f(), f.cache_info().misses)"
    assert _python(code) == "True True 1"


@glibc_only
def test_the_operators_setting_wins():
    assert _python("from ui.server_memory import limit_malloc_arenas as f; print(f())", MALLOC_ARENA_MAX="4") == "False"


@glibc_only
def test_the_server_import_of_app_applies_it():
    """``streamlit run app.py`` imports it as ``app``: the limit is set before ``st.App`` exists."""
    code = (
        "import importlib.util, sys; spec = importlib.util.spec_from_file_location('app', 'app.py'); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
        "from ui.server_memory import limit_malloc_arenas as f; print(f.cache_info().misses, type(m.app).__name__)"
    )
    assert _python(code) == "1 App"
