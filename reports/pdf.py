"""The report as PDF (ReportLab platypus): title page, table of contents, numbered pages.

Text uses DejaVu Sans, the TrueType font bundled with matplotlib (regular, bold, italic): the
standard Helvetica of PDF readers has no narrow no-break space (U+202F, « 449 509 ») nor « ≥ ».
Every run of text is XML-escaped before it enters ReportLab's paragraph markup, so a name from
the data (« Café & Cie <Nord> ») prints as it is written.

ReportLab 5.1 lists U+202F among the characters where it breaks lines and prints an ordinary
space there; :func:`_keep_narrow_spaces` makes its word splitter leave U+202F (like U+00A0) inside
the word, so « 449 509 » keeps its narrow space and never breaks across lines.
"""

from __future__ import annotations

import io
import os
import re
from xml.sax.saxutils import escape

import matplotlib
import reportlab.platypus.paragraph as rl_paragraph
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Spacer,
)
from reportlab.platypus import Image as RLImage
from reportlab.platypus import PageBreak as RLPageBreak
from reportlab.platypus import Paragraph as RLParagraph
from reportlab.platypus import Table as RLTable
from reportlab.platypus import TableStyle as RLTableStyle
from reportlab.platypus.tableofcontents import TableOfContents

from reports.document import (
    BulletList,
    Formula,
    Heading,
    Image,
    PageBreak,
    Paragraph,
    Report,
    Runs,
    Table,
    french_spacing,
)

FONT = "DejaVuSans"
MARGIN_CM = 2.0
TEXT_WIDTH_CM = 21.0 - 2 * MARGIN_CM
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#b0b0b0")
HEADER_BG = colors.HexColor("#e8e8e8")
#: size of subscripts in formulas written inline (points), set slightly below the baseline
SUB_PT = 7
SUB_RISE_PT = 2


def _keep_narrow_spaces() -> None:
    """Make ReportLab's word splitter keep U+202F and U+00A0 inside words (module doc)."""
    if getattr(rl_paragraph.split, "_keeps_narrow_spaces", False):
        return
    spaces = rl_paragraph._wsc.replace("\u202f", "").replace("\u00a0", "")
    splitter = re.compile(f"[{re.escape(spaces)}]+").split

    def split(text, delim=None):
        if isinstance(text, bytes):
            text = text.decode("utf8")
        return splitter(text) if delim is None else text.split(delim)

    split._keeps_narrow_spaces = True
    rl_paragraph.split = split


def register_fonts() -> str:
    """Register DejaVu Sans (regular, bold, italic, bold italic) from matplotlib's data; returns its name."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT
    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    faces = {"": "DejaVuSans.ttf", "-Bold": "DejaVuSans-Bold.ttf", "-Oblique": "DejaVuSans-Oblique.ttf",
             "-BoldOblique": "DejaVuSans-BoldOblique.ttf"}
    for suffix, file in faces.items():
        pdfmetrics.registerFont(TTFont(FONT + suffix, os.path.join(folder, file)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT + "-Bold", italic=FONT + "-Oblique",
                                  boldItalic=FONT + "-BoldOblique")
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13.4, spaceAfter=5)
    return {
        "body": base,
        "lead": ParagraphStyle("lead", parent=base, fontSize=10, leading=14, textColor=colors.HexColor("#222222")),
        "caption": ParagraphStyle("caption", parent=base, fontSize=8, leading=10.5, textColor=GREY, spaceBefore=2, spaceAfter=8),
        "note": ParagraphStyle("note", parent=base, fontSize=8, leading=10.5, textColor=GREY),
        "h1": ParagraphStyle("h1", parent=base, fontName=FONT + "-Bold", fontSize=16, leading=20, spaceBefore=0, spaceAfter=10),
        "h2": ParagraphStyle("h2", parent=base, fontName=FONT + "-Bold", fontSize=12, leading=15, spaceBefore=10, spaceAfter=5,
                             keepWithNext=1),
        "h3": ParagraphStyle("h3", parent=base, fontName=FONT + "-Bold", fontSize=10, leading=13, spaceBefore=7, spaceAfter=3,
                             keepWithNext=1),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10, spaceAfter=0),
        "cell_small": ParagraphStyle("cell_small", parent=base, fontSize=7, leading=8.6, spaceAfter=0),
        "bullet": ParagraphStyle("bullet", parent=base, leftIndent=12, bulletIndent=2, spaceAfter=3),
        "title": ParagraphStyle("title", parent=base, fontName=FONT + "-Bold", fontSize=24, leading=30, spaceAfter=14),
        "cover": ParagraphStyle("cover", parent=base, fontSize=12, leading=17, spaceAfter=8),
        "toc_title": ParagraphStyle("toc_title", parent=base, fontName=FONT + "-Bold", fontSize=16, leading=20, spaceAfter=12),
    }


def markup(runs: Runs) -> str:
    """ReportLab paragraph markup of runs: every text escaped, styles as tags."""
    out = []
    for r in runs:
        text = escape(french_spacing(r.text)).replace("\n", "<br/>")
        if r.sub:
            text = f'<sub rise="{SUB_RISE_PT}" size="{SUB_PT}">{text}</sub>'
        if r.italic:
            text = f"<i>{text}</i>"
        if r.bold:
            text = f"<b>{text}</b>"
        out.append(text)
    return "".join(out)


class _NumberedCanvas(rl_canvas.Canvas):
    """A canvas that writes « page n / N » and the running title once the page count is known."""

    running_title = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802 (ReportLab's API)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            if self._pageNumber > 1:
                self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = A4
        self.setFont(FONT, 7.5)
        self.setFillColor(GREY)
        self.drawString(MARGIN_CM * cm, height - 1.3 * cm, self.running_title)
        self.drawRightString(width - MARGIN_CM * cm, 1.2 * cm, f"Page {self._pageNumber} sur {total}")
        self.setStrokeColor(RULE)
        self.setLineWidth(0.4)
        self.line(MARGIN_CM * cm, height - 1.45 * cm, width - MARGIN_CM * cm, height - 1.45 * cm)


class _Doc(BaseDocTemplate):
    """Two page templates (cover, body); headings feed the table of contents and the outline."""

    def __init__(self, buf, report: Report):
        super().__init__(buf, pagesize=A4, leftMargin=MARGIN_CM * cm, rightMargin=MARGIN_CM * cm, topMargin=2.0 * cm,
                         bottomMargin=2.0 * cm, title=report.title + " — " + report.territory, author=report.meta.get("author", ""),
                         subject=report.meta.get("subject", ""), lang="fr-FR")
        frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body")
        self.addPageTemplates([PageTemplate(id="cover", frames=[frame]), PageTemplate(id="body", frames=[frame])])
        self._heading_count = 0

    def afterFlowable(self, flowable):  # noqa: N802 (ReportLab's API)
        level = getattr(flowable, "_toc_level", None)
        if level is None:
            return
        text = flowable.getPlainText()
        key = f"h{id(flowable)}"
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(text, key, level=level, closed=level > 0)
        self.notify("TOCEntry", (level, text, self.page, key))


def _heading(block: Heading, styles) -> list:
    p = RLParagraph(escape(french_spacing(block.text)), styles[f"h{min(block.level, 3)}"])
    if block.level <= 2:
        p._toc_level = block.level - 1
    if block.level == 1:
        return [RLPageBreak() if block.new_page else CondPageBreak(8 * cm), p]
    return [CondPageBreak(3 * cm), p]


def _table(block: Table, styles) -> RLTable:
    style = styles["cell_small" if block.small else "cell"]
    # a long name in a header (« Grenoble-Alpes-Métropole ») may break after its hyphens; not in the
    # cells, where it would stop ReportLab from splitting long addresses (URLs)
    head = ParagraphStyle("head", parent=style, fontName=FONT + "-Bold", embeddedHyphenation=1, hyphenationLang="")
    aligns = (block.align or "l" * len(block.header)).ljust(len(block.header), "l")
    rows = [[RLParagraph(escape(french_spacing(h)), head) for h in block.header]]
    cell_styles = {a: ParagraphStyle(f"c{a}", parent=style, alignment={"r": 2, "c": 1}.get(a, 0), embeddedHyphenation=1,
                                     hyphenationLang="") for a in "lrc"}
    url_style = ParagraphStyle("url", parent=style)  # ReportLab splits a long address only without embeddedHyphenation
    for row in block.rows:
        rows.append([RLParagraph(escape(french_spacing(str(c))), url_style if "://" in str(c) else cell_styles[a])
                     for c, a in zip(row, aligns, strict=True)])
    widths = [w * TEXT_WIDTH_CM * cm for w in block.widths]
    table = RLTable(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(RLTableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]))
    return table


def _image(block: Image, styles) -> KeepTogether:
    img = RLImage(io.BytesIO(block.png), width=block.width_cm * cm, height=block.height_cm * cm)
    parts = [img, RLParagraph(escape(french_spacing(block.caption)), styles["caption"])]
    if block.note:
        parts.append(RLParagraph(escape(french_spacing(block.note)), styles["note"]))
    return KeepTogether(parts)


def _formula(block: Formula) -> RLImage:
    w, h = block.size_cm
    img = RLImage(io.BytesIO(block.png), width=w * cm, height=h * cm)
    img.hAlign = "CENTER"
    return img


def _flowables(blocks, styles) -> list:
    """Platypus flowables of the report's blocks."""
    out: list = []
    for b in blocks:
        if isinstance(b, Heading):
            out += _heading(b, styles)
        elif isinstance(b, Paragraph):
            style = styles.get(b.style, styles["body"])
            if b.keep_with_next:
                style = ParagraphStyle(style.name + "_keep", parent=style, keepWithNext=1)
            out.append(RLParagraph(markup(b.runs), style))
        elif isinstance(b, BulletList):
            out += [RLParagraph(markup(item), styles["bullet"], bulletText="•") for item in b.items]
            out.append(Spacer(1, 4))
        elif isinstance(b, Table):
            out += [_table(b, styles), Spacer(1, 8)]
        elif isinstance(b, Image):
            out.append(_image(b, styles))
        elif isinstance(b, Formula):
            out += [Spacer(1, 3), _formula(b), Spacer(1, 6)]
        elif isinstance(b, PageBreak):
            out.append(RLPageBreak())
    return out


def _cover(report: Report, styles) -> list:
    out = [Spacer(1, 2.5 * cm), RLParagraph(escape(report.title), styles["title"]),
           RLParagraph(f"<b>{escape(report.territory)}</b>", ParagraphStyle("t2", parent=styles["title"], fontSize=18, leading=23)),
           RLParagraph(escape(report.subtitle), styles["cover"]), RLParagraph(escape(report.date_text), styles["cover"]),
           Spacer(1, 0.6 * cm)]
    if report.cover_image is not None:
        img = RLImage(io.BytesIO(report.cover_image.png), width=report.cover_image.width_cm * cm,
                      height=report.cover_image.height_cm * cm)
        img.hAlign = "LEFT"
        out += [img, RLParagraph(escape(report.cover_image.caption), styles["caption"])]
    out += [Spacer(1, 0.6 * cm), RLParagraph(escape(report.cover_note), styles["note"])]
    return out


def _toc(styles) -> list:
    toc = TableOfContents(dotsMinLevel=0)
    toc.levelStyles = [
        ParagraphStyle("toc1", fontName=FONT + "-Bold", fontSize=10, leading=15, leftIndent=0, firstLineIndent=0, spaceBefore=3),
        ParagraphStyle("toc2", fontName=FONT, fontSize=9, leading=12.5, leftIndent=14, firstLineIndent=0),
    ]
    return [NextPageTemplate("body"), RLPageBreak(), RLParagraph("Sommaire", styles["toc_title"]), toc]


def render_pdf(report: Report) -> bytes:
    """The PDF bytes of a report (module doc)."""
    register_fonts()
    _keep_narrow_spaces()
    # images as binary Flate streams: ReportLab's pure-Python ASCII85 encoder takes seconds per map
    rl_config.useA85 = 0
    styles = _styles()
    story = _cover(report, styles) + _toc(styles) + _flowables(report.blocks, styles)
    buf = io.BytesIO()
    doc = _Doc(buf, report)
    canvasmaker = type("ReportCanvas", (_NumberedCanvas,), {"running_title": report.running_title})
    doc.multiBuild(story, canvasmaker=canvasmaker)
    return buf.getvalue()


__all__ = ["FONT", "TEXT_WIDTH_CM", "register_fonts", "markup", "render_pdf"]
