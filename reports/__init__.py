"""The territory's diagnostic report (PDF and editable DOCX) and the pure builders behind the
Diagnostic page and its exports. No Streamlit in this package (``ui.exports`` wraps it in caches).

    python -m reports --territory epci:200040715 --out diagnostic.pdf

- :mod:`.figures` — key figures of a territory against its reference (the page's numbers);
- :mod:`.results` — zone results of a level as the pages show them (``compute_level`` + indicator
  values, estimated shares, access per 1 000 people in need);
- :mod:`.tables`, :mod:`.files` — zone table, French column labels, dictionary, CSV / XLSX /
  GeoPackage / GeoJSON (formula injection neutralised);
- :mod:`.maps`, :mod:`.charts` — printable maps (legend, scale bar, source) and bar charts;
- :mod:`.context`, :mod:`.sections`, :mod:`.sections_access`, :mod:`.synthesis` — the report's data
  and its nine sections; :mod:`.document` — the format-independent document;
- :mod:`.pdf`, :mod:`.docx` — the two renderers; :mod:`.build` — ``build_report`` / ``write_report``.
"""

__all__ = ["DEFAULT_CONFIG", "build_report", "render", "write_report"]


def __getattr__(name: str):
    """``reports.build_report`` & co., imported on first use (PEP 562). Not at import time: the
    package would then import ``build`` → ``context`` → ``figures`` whenever any of its modules is
    imported, and ``reports.figures`` imported first by two threads at once (two first visits)
    could see itself half initialised (ImportError)."""
    if name in __all__:
        from reports import build

        return getattr(build, name)
    msg = f"module 'reports' has no attribute {name!r}"
    raise AttributeError(msg)
