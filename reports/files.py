"""Export files as bytes: CSV, XLSX, GeoPackage, GeoJSON (no Streamlit).

- CSV: UTF-8, comma separator, dot decimals, no index; French headers as an option
  (``labels=True``: :func:`reports.tables.column_label`).
- XLSX (xlsxwriter, written cell by cell): a bold frozen header row with an autofilter, French
  headers as an option, an Excel number format per column (:func:`reports.tables.excel_format`;
  a sheet of mixed units can take one number of decimals per row), the « À propos » sheet last.
- Both neutralise formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return gets a leading apostrophe (OWASP « CSV injection »), so that no
  spreadsheet evaluates text from the data (a place name…) as a formula; XLSX text is also always
  written as a string, never as a formula or a link.
- GeoPackage and GeoJSON: WGS84 display geometry, plain columns.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Mapping, Sequence

import geopandas as gpd
import pandas as pd

from reports.tables import column_labels, excel_format, plain_frame

#: first characters that make a spreadsheet read a text cell as a formula
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_MAX_WIDTH, _MIN_WIDTH = 60, 8


def neutralise(value):
    """A text value that a spreadsheet would read as a formula, prefixed with an apostrophe;
    anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _no_geometry(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(df.drop(columns=[c for c in df.columns if isinstance(df[c].dtype, gpd.array.GeometryDtype)]))


def _safe_text(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns with :func:`neutralise` applied (numbers and booleans untouched)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def to_csv(df: pd.DataFrame, *, labels: bool = False) -> bytes:
    """CSV, UTF-8, comma separator, dot decimals, no index; geometry columns dropped; French
    headers when ``labels``; formula-like text neutralised."""
    plain = _safe_text(_no_geometry(df))
    if labels:
        plain = plain.rename(columns=column_labels(list(plain.columns)))
    plain.columns = [neutralise(str(c)) for c in plain.columns]
    return plain.to_csv(index=False).encode("utf-8")


def _formats(book) -> dict:
    header = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1, "bg_color": "#eeeeee"})
    return {"header": header, "cache": {}}


def _number_format(book, fmts: dict, num_format: str | None):
    if num_format is None:
        return None
    if num_format not in fmts["cache"]:
        fmts["cache"][num_format] = book.add_format({"num_format": num_format})
    return fmts["cache"][num_format]


def _decimals_format(decimals) -> str:
    d = int(decimals) if decimals is not None and not pd.isna(decimals) else 1
    return "#,##0" if d <= 0 else "#,##0." + "0" * d


def _write_cell(ws, r: int, c: int, value, fmt) -> None:
    """One cell: numbers as numbers (NaN blank), booleans as booleans, anything else as a string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, bool):
        ws.write_boolean(r, c, value)
    elif isinstance(value, int | float):
        if math.isfinite(value):
            ws.write_number(r, c, value, fmt)
    else:
        ws.write_string(r, c, str(neutralise(str(value))))


def _write_sheet(book, fmts: dict, name: str, df: pd.DataFrame, *, labels: bool, row_decimals: Sequence | None) -> None:
    """One sheet: header row (French labels if asked), typed cells, formats, widths, frozen header."""
    plain = plain_frame(_no_geometry(df))
    ws = book.add_worksheet(name[:31])
    headers = column_labels(list(plain.columns)) if labels else {c: str(c) for c in plain.columns}
    for c, col in enumerate(plain.columns):
        ws.write_string(0, c, str(neutralise(headers[col])), fmts["header"])
        num_format = excel_format(str(col))
        col_fmt = _number_format(book, fmts, num_format)
        values = plain[col].tolist()
        for r, v in enumerate(values, start=1):
            fmt = col_fmt
            if row_decimals is not None and num_format is None and isinstance(v, int | float) and not isinstance(v, bool):
                fmt = _number_format(book, fmts, _decimals_format(row_decimals[r - 1]))
            _write_cell(ws, r, c, v, fmt)
        width = max([len(str(headers[col])) // 2 + 2] + [len(str(v)) for v in values[:200]])
        ws.set_column(c, c, min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH))
    ws.set_row(0, 45 if labels else None)
    ws.freeze_panes(1, 0)
    if len(plain.columns):
        ws.autofilter(0, 0, max(len(plain), 1), len(plain.columns) - 1)


def to_xlsx(sheets: Mapping[str, pd.DataFrame], about: pd.DataFrame, *, labels: bool = False,
            row_decimals: Mapping[str, Sequence] | None = None) -> bytes:
    """Workbook with one sheet per frame (geometry dropped) and the « À propos » sheet last.

    ``labels``: French headers for the known export columns (others keep their name);
    ``row_decimals``: {sheet: decimals of each row} for a sheet whose rows have different units
    (the key figures); other numeric columns take :func:`reports.tables.excel_format`.
    """
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                     "strings_to_numbers": False})
    fmts = _formats(book)
    for name, df in [*sheets.items(), ("À propos", about)]:
        _write_sheet(book, fmts, name, df, labels=labels, row_decimals=(row_decimals or {}).get(name))
    book.close()
    return buf.getvalue()


def diagnostic_workbook(zones: pd.DataFrame, figures: pd.DataFrame, ref_figures: pd.DataFrame | None, name: str,
                        ref_name: str | None, about: pd.DataFrame) -> bytes:
    """The Diagnostic page's XLSX: « Zones » and « Chiffres clés » (``figures`` indexed by key)
    with French headers and number formats, « Dictionnaire » of every column of both, « À propos »."""
    from reports.tables import key_figures_table, workbook_dictionary

    key_table = key_figures_table(figures, ref_figures, name, ref_name)
    sheets = {"Zones": zones, "Chiffres clés": key_table}
    return to_xlsx({**sheets, "Dictionnaire": workbook_dictionary(sheets)}, about, labels=True,
                   row_decimals={"Chiffres clés": figures["decimals"].tolist()})


def to_gpkg(gdf: gpd.GeoDataFrame, layer: str = "zones") -> bytes:
    """GeoPackage bytes, written through a temporary file with pyogrio."""
    fd, path = tempfile.mkstemp(suffix=".gpkg")
    os.close(fd)
    os.remove(path)  # the driver creates the file
    try:
        gdf.to_file(path, driver="GPKG", layer=layer, engine="pyogrio")
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        for p in (path, path + "-wal", path + "-shm", path + "-journal"):
            if os.path.exists(p):
                os.remove(p)


def to_geojson(gdf: gpd.GeoDataFrame) -> bytes:
    """GeoJSON (RFC 7946, WGS84) bytes; NaN → null."""
    g = gdf.to_crs("EPSG:4326") if gdf.crs is not None and gdf.crs.to_epsg() != 4326 else gdf
    return g.to_json(na="null", drop_id=True, ensure_ascii=False).encode("utf-8")


__all__ = ["FORMULA_PREFIXES", "neutralise", "to_csv", "to_xlsx", "diagnostic_workbook", "to_gpkg", "to_geojson"]
