"""Provenance of every source file: the facts the manifest records and the UI shows.

Each loader module declares the files it reads as :class:`Source` objects in a module-level
``SOURCES`` dict. ``raw_path`` is relative to the raw directory (default ``../shared/data/raw``);
``url`` is the official download (used by ``--download``) when one exists.

Two optional fields say what the raw file must be, so that a truncated, re-saved or replaced file
is refused by name instead of giving partial data:

- ``sha256``: the SHA-256 of the raw file as published (the same value the manifest records);
  :meth:`Source.verify` compares it before the pack build reads anything (``build_pack.main``)
  and when the manifest is written. A file cut on a line boundary parses cleanly; its checksum
  does not match.
- ``rows``: the number of data rows (records after the header) the loader must find in the
  declared file; loaders that read record by record without other structure (Aidants Connect,
  CnFS structures) check it, and also that no row was cut short (``loaders.places``).

Neither field is written into the manifest's source entries (:meth:`Source.as_dict`), which keep
the fields they had: the manifest records the checksum it computes.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from loaders.errors import LoaderError

__all__ = ["Source", "sha256"]

#: fields of :class:`Source` that are expectations checked on the raw file, not provenance
CHECK_FIELDS = ("rows", "sha256")


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
    rows: int | None = None  # data rows of the declared raw file (checked by its loader)
    sha256: str | None = None  # SHA-256 of the declared raw file (checked before the build)

    def __post_init__(self) -> None:
        if self.sha256 is not None and (len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256)):
            msg = f"Source {self.key!r}: sha256 must be 64 lower-case hex digits, got {self.sha256!r}"
            raise ValueError(msg)
        if self.rows is not None and (isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 0):
            msg = f"Source {self.key!r}: rows must be a non-negative integer, got {self.rows!r}"
            raise ValueError(msg)

    def as_dict(self) -> dict:
        """Provenance fields (the manifest's source entry), without the check fields."""
        return {k: v for k, v in asdict(self).items() if k not in CHECK_FIELDS}

    def verify(self, raw_dir: str | Path) -> Path:
        """The raw file's path, after checking it exists and matches the declared ``sha256``.

        Raises :class:`~loaders.errors.LoaderError` naming the file otherwise.
        """
        path = Path(raw_dir) / self.raw_path
        if not path.is_file():
            raise LoaderError(path, f"source {self.key!r}: file not found", f"the {self.vintage} file declared in SOURCES")
        if self.sha256 is not None:
            got = sha256(path)
            if got != self.sha256:
                raise LoaderError(
                    path,
                    f"source {self.key!r}: SHA-256 {got[:16]}… differs from the declared {self.sha256[:16]}… "
                    "(file cut, re-saved or replaced by another vintage?)",
                    f"the {self.vintage} file as published ({path.stat().st_size} bytes now); update SOURCES "
                    "(sha256, rows) only for a deliberate new vintage",
                )
        return path


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (the manifest's input checksum)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
