"""Reading published CSV / JSON files defensively, once, for every loader.

Published French open-data files come as ``;`` or ``,`` separated text, in UTF-8 (with or without
BOM) or latin-1, with decimal commas, banner lines above the header and markers for statistical
secrecy (``s``, ``ns``, ``so``, ``-``). The helpers here turn those into typed pandas objects and
turn every problem into a :class:`~loaders.errors.LoaderError` that names the file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from loaders.errors import LoaderError

#: Cell values that mean "no published value" in INSEE / ARCEP files.
SECRET_MARKERS = frozenset({"s", "ns", "so", "nd", "n.d.", "secret"})
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


def read_text(path: str | Path, encodings: Sequence[str] = ENCODINGS) -> tuple[str, str]:
    """Return ``(text, encoding)`` of a text file, trying UTF-8 (BOM or not) first.

    latin-1 never fails to decode, so a file that is not UTF-8 and not cp1252 comes back as
    latin-1; callers then check the header, which catches a wrong encoding by its columns.
    """
    path = Path(path)
    if not path.exists():
        raise LoaderError(path, "file not found", "the published file at this path")
    raw = path.read_bytes()
    if not raw.strip():
        raise LoaderError(path, "file is empty", "a header line and data rows")
    if b"\x00" in raw[:4096]:
        raise LoaderError(path, "file looks binary (NUL bytes), not text", "a CSV or JSON text file")
    for enc in encodings:
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise LoaderError(path, "cannot decode the file", f"one of the encodings {', '.join(encodings)}")


def read_csv(
    path: str | Path,
    required: Iterable[str],
    *,
    sep: str | None = None,
    skiprows: int = 0,
    dtype_str: Iterable[str] = (),
) -> pd.DataFrame:
    """Read a published CSV with every column as text, checking its shape.

    - ``sep``: the expected separator; when ``None`` it is sniffed among ``;`` ``,`` tab.
    - ``required``: columns that must be present (after stripping spaces and BOM); a missing one
      raises a LoaderError listing the expected and found columns — the usual symptom of a wrong
      separator, a wrong encoding or a file of another vintage.
    - A row with more fields than the header (a truncated or corrupted line) raises with its line
      number; a row with fewer fields is read with the missing cells empty.
    All values stay strings (codes keep their leading zeros); use :func:`to_number` to convert.
    """
    text, _enc = read_text(path)
    lines = text.splitlines()
    if len(lines) <= skiprows:
        raise LoaderError(path, f"file has only {len(lines)} lines", f"a header after {skiprows} banner lines")
    header_line = lines[skiprows]
    required = list(required)
    if sep is None:
        counts = {s: header_line.count(s) for s in (";", ",", "\t")}
        sep = max(counts, key=counts.get)
    if header_line.count(sep) == 0 and len(required) > 1:
        other = [s for s in (";", ",", "\t") if header_line.count(s) > 0]
        raise LoaderError(
            path,
            f"header has no {sep!r} separator" + (f" (it uses {other[0]!r})" if other else ""),
            f"{sep!r}-separated columns {', '.join(required)}",
        )
    try:
        df = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            skiprows=skiprows,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            engine="python",
            on_bad_lines="error",
            quoting=csv.QUOTE_MINIMAL,
        )
    except pd.errors.ParserError as exc:
        raise LoaderError(path, f"malformed CSV: {exc}", f"{sep!r}-separated rows matching the header") from exc
    df.columns = [str(c).strip().lstrip("\ufeff").strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise LoaderError(
            path,
            f"missing columns {missing}; found {list(df.columns)[:12]}",
            f"columns {', '.join(required)} with separator {sep!r}",
        )
    if df.empty:
        raise LoaderError(path, "no data rows after the header", "at least one data row")
    return df


def read_json(path: str | Path) -> object:
    """Parse a JSON file, raising a LoaderError (with the position) if it is truncated."""
    text, _enc = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoaderError(path, f"invalid or truncated JSON at line {exc.lineno} column {exc.colno}", "a complete JSON document") from exc


def to_number(values: pd.Series, *, secret_markers: Iterable[str] = SECRET_MARKERS) -> tuple[pd.Series, pd.Series]:
    """Convert published numbers to float, returning ``(numbers, is_secret)``.

    Handles decimal commas, thousands separators (spaces, NBSP, narrow NBSP), padding, quotes and
    a trailing ``%``. Empty cells become NaN; secrecy markers become NaN with ``is_secret`` True;
    anything else unparsable also becomes NaN (caller decides whether that is an error, via
    :func:`check_unparsed`).
    """
    s = values.astype("string").str.strip().str.strip('"').str.strip()
    lowered = s.str.lower()
    markers = {m.lower() for m in secret_markers}
    is_secret = lowered.isin(markers).fillna(False).astype(bool)
    cleaned = (
        s.str.replace("\u00a0", "", regex=False)
        .str.replace("\u202f", "", regex=False)
        .str.replace(" ", "", regex=False)
        .str.replace("%", "", regex=False)
        .str.replace(",", ".", regex=False)
    )
    cleaned = cleaned.mask(is_secret | (cleaned == ""), pd.NA)
    numbers = pd.to_numeric(cleaned, errors="coerce").astype(float)
    return numbers, is_secret


def check_unparsed(path: str | Path, column: str, raw: pd.Series, numbers: pd.Series, is_secret: pd.Series, max_share: float = 0.0) -> None:
    """Raise if more than ``max_share`` of non-empty, non-secret cells of ``column`` are not numbers."""
    raw_s = raw.astype("string").str.strip()
    filled = raw_s.notna() & (raw_s != "") & ~is_secret
    bad = filled & numbers.isna()
    if filled.sum() and bad.sum() / filled.sum() > max_share:
        first = bad[bad].index[0]
        raise LoaderError(
            path,
            f"column {column!r}: {int(bad.sum())} values are not numbers (first at data row {first}: {raw.loc[first]!r})",
            "numbers (decimal comma allowed) or a secrecy marker",
        )


def commune_code(values: pd.Series) -> pd.Series:
    """Normalise INSEE commune codes to 5-character strings: ``1001`` → ``01001``, ``2a004`` → ``2A004``.

    Codes that cannot be a commune code become ``<NA>``.
    """
    s = values.astype("string").str.strip().str.upper().str.replace(r"\.0$", "", regex=True)
    s = s.where(~s.str.fullmatch(r"\d{1,4}").fillna(False), s.str.zfill(5))
    ok = s.str.fullmatch(r"(\d{5}|2[AB]\d{3})").fillna(False)
    return s.where(ok, pd.NA)


def iris_code(values: pd.Series) -> pd.Series:
    """Normalise IRIS codes to 9 characters (``10040101`` → ``010040101``; Corsica ``2A004xxxx``)."""
    s = values.astype("string").str.strip().str.strip('"').str.upper().str.replace(r"\.0$", "", regex=True)
    s = s.where(~s.str.fullmatch(r"\d{8}").fillna(False), s.str.zfill(9))
    ok = s.str.fullmatch(r"(\d{9}|2[AB]\d{7})").fillna(False)
    return s.where(ok, pd.NA)


def siren_code(values: pd.Series) -> pd.Series:
    """Normalise SIREN (EPCI, commune) to 9-digit strings."""
    s = values.astype("string").str.strip().str.replace(r"\.0$", "", regex=True).str.zfill(9)
    return s.where(s.str.fullmatch(r"\d{9}").fillna(False), pd.NA)


def nan_if_empty(values: pd.Series) -> pd.Series:
    """Strip strings and turn empty ones into ``<NA>``."""
    s = values.astype("string").str.strip()
    return s.mask(s == "", pd.NA)

