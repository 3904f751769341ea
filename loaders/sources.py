"""Provenance of every source file: the facts the manifest records and the UI shows.

Each loader module declares the files it reads as :class:`Source` objects in a module-level
``SOURCES`` dict. ``raw_path`` is relative to the raw directory (default ``../shared/data/raw``);
``url`` is the official download (used by ``--download``) when one exists.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    key: str  # short id used in the manifest, e.g. "filosofi_com_2021"
    title: str  # human title, French or as published
    producer: str  # INSEE, IGN, ARCEP, ANCT…
    vintage: str  # "Filosofi 2021", "RP2022", "T1 2018"…
    raw_path: str  # path under the raw directory
    licence: str
    url: str | None = None  # official download URL (None: no direct official file)
    page: str | None = None  # official landing page
    notes: str = ""  # caveats: derivative, secrecy, geography vintage…

    def as_dict(self) -> dict:
        return asdict(self)


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (the manifest's input checksum)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
