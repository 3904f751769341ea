"""Loaders: published files (INSEE, IGN, ARCEP, ANCT…) → tidy, typed DataFrames.

One module per source family; each declares its files in a ``SOURCES`` dict (see
:mod:`loaders.sources`) and parses them *as published*. ``python -m loaders.build_pack`` assembles
the pack in ``geodata/``. No Streamlit here, no network at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
#: Default directory of the published files: ``../shared/data/raw`` beside the checkout.
RAW_DIR = Path(os.environ.get("INCLUSION_RAW_DIR") or REPO_DIR.parent / "shared" / "data" / "raw")
