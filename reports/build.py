"""Build the diagnostic report of a territory and write it as PDF or DOCX.

:func:`build_report` gathers the data (:func:`reports.context.gather`), then writes the sections
one after the other, calling ``progress(fraction, message)`` before each (the page shows it in
``st.progress``, the command line on standard error); :func:`render` turns the document into
bytes; :func:`write_report` does both for a file name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from indicators import Config
from reports import maps
from reports.common import Captions, geometry_source
from reports.context import ReportContext, ResultsFn, gather, load_scenarios
from reports.document import Image, Report
from reports.docx import render_docx
from reports.labels import KIND_LABELS, LEVEL_LABELS
from reports.pdf import render_pdf
from reports.results import LevelResults, pack_tables
from reports.sections import connectivity_section, context_section, key_figures_section, needs_section
from reports.sections_access import access_section, offer_section
from reports.synthesis import annex_section, findings_section, scenarios_section
from reports.territory import Territory, territory

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
FORMATS = ("pdf", "docx")
#: the app's default view (``ui.state.ViewState()`` through ``ui.compute.config_for``)
DEFAULT_CONFIG = Config(need_model="precarity", decay="step30", reference="departement")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre")

#: the sections, in order, with the progress message shown before each
SECTIONS = (
    ("Contexte et périmètre…", context_section),
    ("Chiffres clés…", key_figures_section),
    ("Besoins et publics : carte de l'indice…", needs_section),
    ("Connectivité…", connectivity_section),
    ("Offre d'accompagnement…", offer_section),
    ("Accès et besoin non couvert : cartes, robustesse…", access_section),
    ("Scénarios, points forts et d'attention…", scenarios_section),
    ("", findings_section),
    ("Annexes : méthode, sources…", annex_section),
)


def french_date(d: date) -> str:
    """« 1er décembre 2025 »."""
    return f"{'1er' if d.day == 1 else d.day} {MONTHS[d.month - 1]} {d.year}"


def default_level(t: Territory) -> str:
    """IRIS maps for a commune or an EPCI, commune maps for a département or the région."""
    return "iris" if t.kind in ("com", "epci") else "commune"


def _no_progress(_fraction: float, _message: str) -> None:
    return None


def _cover_image(ctx: ReportContext) -> Image:
    """Locator map: the territory within its reference (the région within itself, by département)."""
    t, ref = ctx.territory, ctx.reference
    own = ctx.zones(t.level)
    context = ctx.reference_zones("commune") if ref is not None else ctx.pack["departement"]
    frame = maps.MapFrame(source="")
    png = maps.locator_png(context.geometry, own.geometry, frame=frame, label=t.name,
                           context_label=ref.name if ref is not None else "départements")
    source = geometry_source(ctx.manifest, "commune" if ref is not None else "departement")
    return Image(png, 13.0, f"Situation : {t.name}" + (f" dans {ref.label}" if ref is not None else "") + f". Contours : {source}.")


def build_report(pack: Mapping, territory_key: str, *, config: Config | None = None, level: str | None = None,
                 places: pd.DataFrame | None = None, results: ResultsFn | None = None,
                 scenarios: tuple[list[dict], str] | None = None,
                 today: date | None = None, robustness_draws: int = 100, progress: Progress | None = None) -> Report:
    """The report of territory ``territory_key`` (``kind:code``) as a :class:`reports.document.Report`.

    ``config``: indicators configuration (default: the app's default view); ``level``: level of the
    maps (default :func:`default_level`); ``places``: every place without geometry (default: the
    pack's); ``results``: ``level -> (zone results, capacities)`` (default: computed here, as the
    app does); ``scenarios``: (saved scenarios of the territory, problem reading them), as
    :func:`reports.context.load_scenarios` returns (default: none; :func:`write_report` reads the
    workspace); ``today``: the report's date (freshness of the places).
    """
    progress = progress or _no_progress
    config = config or DEFAULT_CONFIG
    t = territory(pack, territory_key)
    if places is None:
        places = pd.DataFrame(pack["places"].drop(columns="geometry"))
    progress(0.02, "Calcul des indicateurs…")
    results = results or LevelResults(pack_tables(pack), places, config)
    ctx = gather(pack, t, config=config, level=level or default_level(t), places=places, results=results,
                 today=today or date.today(), scenarios=scenarios, robustness_draws=robustness_draws)
    cap = Captions()
    blocks = []
    for i, (message, section) in enumerate(SECTIONS):
        if message:
            progress(0.1 + 0.75 * i / len(SECTIONS), message)
        blocks += section(ctx, cap)
    report = Report(
        title="Diagnostic territorial de l'inclusion numérique",
        territory=t.name,
        subtitle=f"{KIND_LABELS[t.kind]} {t.code}" + (f" · référence : {ctx.reference.label}" if ctx.reference else "")
        + f" · cartes à la maille « {LEVEL_LABELS[ctx.level]} »",
        date_text=f"Édité le {french_date(ctx.today)}",
        cover_note="Document de travail produit par l'outil de diagnostic de l'inclusion numérique à partir des données publiques "
                   "embarquées (sources, millésimes et licences en annexe). Les « points forts et points d'attention » sont des "
                   "phrases générées à partir des chiffres : relisez-les et complétez-les avant diffusion.",
        running_title=f"Diagnostic de l'inclusion numérique — {t.name}",
        blocks=blocks,
        cover_image=_cover_image(ctx),
        meta={"author": "Outil de diagnostic de l'inclusion numérique", "subject": f"Diagnostic territorial — {t.label}"},
    )
    report.meta["context"] = ctx
    return report


def render(report: Report, fmt: str, progress: Progress | None = None) -> bytes:
    """The bytes of ``report`` as ``pdf`` or ``docx``."""
    if fmt not in FORMATS:
        msg = f"unknown report format {fmt!r}; expected one of {FORMATS}"
        raise ValueError(msg)
    (progress or _no_progress)(0.88, "Mise en page (PDF)…" if fmt == "pdf" else "Mise en page (DOCX)…")
    data = render_pdf(report) if fmt == "pdf" else render_docx(report)
    (progress or _no_progress)(1.0, "Rapport prêt.")
    return data


def format_of(path: str | Path) -> str:
    """``pdf`` or ``docx`` from a file name; ValueError for any other extension."""
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in FORMATS:
        msg = f"output file {str(path)!r}: expected a .pdf or .docx extension"
        raise ValueError(msg)
    return ext


def write_report(pack: Mapping, territory_key: str, out: str | Path, *, workspace: str | Path | None = None,
                 progress: Progress | None = None, **options) -> Report:
    """Build the report, read the territory's saved scenarios from ``workspace`` (default
    ``$INCLUSION_WORKSPACE``), write it to ``out`` (``.pdf`` or ``.docx``); returns the report."""
    fmt = format_of(out)
    scenarios = load_scenarios(territory(pack, territory_key), workspace)
    report = build_report(pack, territory_key, scenarios=scenarios, progress=progress, **options)
    Path(out).write_bytes(render(report, fmt, progress))
    return report


__all__ = ["DEFAULT_CONFIG", "FORMATS", "SECTIONS", "french_date", "default_level", "build_report", "render", "format_of",
           "write_report"]
