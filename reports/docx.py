"""The report as an editable DOCX (python-docx): real headings (« Titre 1 / 2 / 3 »), tables,
pictures with their alternative text, a table of contents field, numbered pages.

The table of contents is a Word ``TOC`` field whose current text already lists the headings
(without page numbers); Word offers to update it when the file opens (``updateFields``), and
LibreOffice updates it with « Outils → Mettre à jour ». The footer holds ``PAGE`` / ``NUMPAGES``
fields; the title page has none. The document language is French (spelling, hyphenation).
"""

from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_SECTION_START
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from reports.document import (
    BulletList,
    Formula,
    Heading,
    Image,
    PageBreak,
    Paragraph,
    Report,
    Run,
    Runs,
    Table,
    french_spacing,
)

MARGIN_CM = 2.0
TEXT_WIDTH_CM = 21.0 - 2 * MARGIN_CM
GREY = RGBColor(0x55, 0x55, 0x55)
LANG = "fr-FR"


def _add_runs(p, runs: Runs, *, size: float | None = None, color: RGBColor | None = None) -> None:
    for r in runs:
        run = p.add_run(french_spacing(r.text))
        run.bold = r.bold or None
        run.italic = r.italic or None
        if r.sub:
            run.font.subscript = True
        if size:
            run.font.size = Pt(size)
        if color is not None:
            run.font.color.rgb = color


def _field(p, instruction: str, placeholder: str = "1") -> None:
    """A simple field (PAGE, NUMPAGES…) in paragraph ``p`` with its current text."""
    begin, instr, sep, text, end = (OxmlElement("w:fldChar"), OxmlElement("w:instrText"), OxmlElement("w:fldChar"),
                                    OxmlElement("w:t"), OxmlElement("w:fldChar"))
    begin.set(qn("w:fldCharType"), "begin")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    sep.set(qn("w:fldCharType"), "separate")
    text.text = placeholder
    end.set(qn("w:fldCharType"), "end")
    for el in (begin, instr, sep, text, end):
        run = p.add_run()
        run._r.append(el)


def _setup(doc, report: Report) -> None:
    """Page size and margins, base styles, French language, document properties."""
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(sec, side, Cm(MARGIN_CM))
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10)
    normal.paragraph_format.space_after = Pt(5)
    rpr = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), LANG)
    cp = doc.core_properties
    cp.title = f"{report.title} — {report.territory}"
    cp.subject = report.meta.get("subject", "")
    cp.author = report.meta.get("author", "")
    cp.language = LANG
    _update_fields_on_open(doc)


#: children of ``w:settings`` that come after ``w:updateFields`` in the schema's sequence
_AFTER_UPDATE_FIELDS = ("hdrShapeDefaults", "footnotePr", "endnotePr", "compat", "docVars", "rsids", "mathPr", "attachedSchema",
                        "themeFontLang", "clrSchemeMapping", "doNotIncludeSubdocsInStats", "doNotAutoCompressPictures",
                        "forceUpgrade", "captions", "readModeInkLockDown", "smartTagType", "schemaLibrary", "shapeDefaults",
                        "doNotEmbedSmartTags", "decimalSymbol", "listSeparator")


def _update_fields_on_open(doc) -> None:
    """``<w:updateFields w:val="true"/>`` at its place in ``w:settings`` (Word then offers to update
    the table of contents and page numbers when the file opens; an element out of the schema's
    order would make Word call the file damaged)."""
    settings = doc.settings.element
    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    after = {qn(f"w:{name}") for name in _AFTER_UPDATE_FIELDS}
    successor = next((child for child in settings if child.tag in after), None)
    if successor is not None:
        successor.addprevious(update)
    else:
        settings.append(update)


def _cover(doc, report: Report) -> None:
    doc.add_paragraph(report.title, style="Title")
    p = doc.add_paragraph()
    _add_runs(p, ((_bold(report.territory)),), size=18)
    doc.add_paragraph(report.subtitle)
    doc.add_paragraph(report.date_text)
    if report.cover_image is not None:
        doc.add_picture(io.BytesIO(report.cover_image.png), width=Cm(report.cover_image.width_cm))
        _alt_text(doc, report.cover_image.alt or report.cover_image.caption)
        _caption(doc, report.cover_image.caption)
    p = doc.add_paragraph()
    _add_runs(p, ((_plain_run(report.cover_note)),), size=8.5, color=GREY)


def _bold(text: str) -> Run:
    return Run(text, bold=True)


def _plain_run(text: str) -> Run:
    return Run(text)


def _caption(doc, text: str) -> None:
    p = doc.add_paragraph(style="Caption")
    _add_runs(p, (_plain_run(text),))


def _alt_text(doc, text: str) -> None:
    """Alternative text of the last picture added (``wp:docPr/@descr``)."""
    props = doc.element.body.findall(".//" + qn("wp:docPr"))
    if props:
        props[-1].set("descr", text)


def _toc(doc, report: Report) -> None:
    """« Sommaire » and a TOC field whose current text lists the headings (module doc)."""
    doc.add_page_break()
    title = doc.add_paragraph()
    _add_runs(title, (_bold("Sommaire"),), size=16)
    entries = report.headings(2)
    first = doc.add_paragraph()
    begin, instr, sep = OxmlElement("w:fldChar"), OxmlElement("w:instrText"), OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    instr.set(qn("xml:space"), "preserve")
    instr.text = ' TOC \\o "1-2" \\h \\z \\u '
    sep.set(qn("w:fldCharType"), "separate")
    for el in (begin, instr, sep):
        first.add_run()._r.append(el)
    paragraph = first
    for i, h in enumerate(entries):
        if i:
            paragraph = doc.add_paragraph()
        paragraph.paragraph_format.left_indent = Cm(0.6 * (h.level - 1))
        _add_runs(paragraph, ((_bold(h.text) if h.level == 1 else _plain_run(h.text)),))
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    paragraph.add_run()._r.append(end)


def _footer(doc, report: Report) -> None:
    """A new section for the body: running title in the header, « Page n sur N » in the footer."""
    sec = doc.add_section(WD_SECTION_START.NEW_PAGE)
    sec.header.is_linked_to_previous = False
    sec.footer.is_linked_to_previous = False
    hp = sec.header.paragraphs[0]
    _add_runs(hp, (_plain_run(report.running_title),), size=8, color=GREY)
    fp = sec.footer.paragraphs[0]
    fp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _add_runs(fp, (_plain_run("Page "),), size=8)
    _field(fp, "PAGE")
    _add_runs(fp, (_plain_run(" sur "),), size=8)
    _field(fp, "NUMPAGES")


def _repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _table(doc, block: Table) -> None:
    size = 7.5 if block.small else 8.5
    aligns = (block.align or "l" * len(block.header)).ljust(len(block.header), "l")
    table = doc.add_table(rows=1 + len(block.rows), cols=len(block.header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    _repeat_header(table.rows[0])
    cells = table._cells  # every cell once, row by row (table.cell() walks the whole grid at each call)
    n = len(block.header)
    for r, row in enumerate([block.header, *block.rows]):
        for c, (text, width) in enumerate(zip(row, block.widths, strict=True)):
            cell = cells[r * n + c]
            cell.width = Cm(width * TEXT_WIDTH_CM)
            p = cell.paragraphs[0]
            p.paragraph_format.space_after = Pt(0)
            if aligns[c] == "r":
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            _add_runs(p, ((_bold(str(text)) if r == 0 else _plain_run(str(text))),), size=size)
    doc.add_paragraph()


def _blocks(doc, blocks) -> None:
    for b in blocks:
        if isinstance(b, Heading):
            if b.level == 1 and b.new_page and b is not blocks[0]:
                doc.add_page_break()
            doc.add_heading(french_spacing(b.text), level=min(b.level, 3))
        elif isinstance(b, Paragraph):
            p = doc.add_paragraph(style="Caption" if b.style == "caption" else None)
            small = b.style in ("note", "caption")
            _add_runs(p, b.runs, size=8.5 if small else None, color=GREY if b.style == "note" else None)
            p.paragraph_format.keep_with_next = b.keep_with_next or None
        elif isinstance(b, BulletList):
            for item in b.items:
                _add_runs(doc.add_paragraph(style="List Bullet"), item)
        elif isinstance(b, Table):
            _table(doc, b)
        elif isinstance(b, Image):
            doc.add_picture(io.BytesIO(b.png), width=Cm(b.width_cm))
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            _alt_text(doc, b.alt or b.caption)
            _caption(doc, b.caption)
            if b.note:
                _add_runs(doc.add_paragraph(), (_plain_run(b.note),), size=8.5, color=GREY)
        elif isinstance(b, Formula):
            w, _h = b.size_cm
            doc.add_picture(io.BytesIO(b.png), width=Cm(w))
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            _alt_text(doc, b.text)
        elif isinstance(b, PageBreak):
            doc.add_page_break()


def render_docx(report: Report) -> bytes:
    """The DOCX bytes of a report (module doc)."""
    doc = Document()
    _setup(doc, report)
    _cover(doc, report)
    _toc(doc, report)
    _footer(doc, report)
    _blocks(doc, report.blocks)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


__all__ = ["render_docx"]
