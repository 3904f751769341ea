"""The report as a list of blocks, independent of the output format (PDF or DOCX).

Text is held as :class:`Run` objects (plain text plus bold / italic / subscript flags): the
renderers escape it for their markup, so a place or territory name from the data can never
inject markup. :func:`md` reads the two inline marks of text written in this code base
(``**bold**``, ``*italic*``); text from the data goes through :func:`plain`.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Run:
    """A piece of text with its inline style."""

    text: str
    bold: bool = False
    italic: bool = False
    sub: bool = False


Runs = tuple[Run, ...]


#: French spacing: no-break space inside « » and before « : », narrow no-break space before ; ! ? %
_FRENCH_SPACES = (("« ", "«\u00a0"), (" »", "\u00a0»"), (" :", "\u00a0:"), (" ;", "\u202f;"), (" !", "\u202f!"),
                  (" ?", "\u202f?"), (" %", "\u202f%"))


def french_spacing(text: str) -> str:
    """The text with the no-break spaces of French typography, so that « 16,4 % » or « Source : »
    never break across lines (the renderers apply it to every run)."""
    for a, b in _FRENCH_SPACES:
        text = text.replace(a, b)
    return text


def plain(text: str) -> Runs:
    """Runs of a plain text (data text: no markup is read from it)."""
    return (Run(str(text)),)


def runs(*parts: str | Run) -> Runs:
    """Runs from plain strings (data text is safe here) and :class:`Run` pieces."""
    return tuple(p if isinstance(p, Run) else Run(str(p)) for p in parts if p != "")


def bold(text: str) -> Run:
    """A bold run of any text (a territory name…)."""
    return Run(str(text), bold=True)


_MARK = re.compile(r"(\*\*[^*]+\*\*|\*[^*\s][^*]*\*)")


def md(text: str) -> Runs:
    """Runs of a code-authored text with ``**bold**`` and ``*italic*`` marks."""
    out = []
    for part in _MARK.split(text):
        if not part:
            continue
        if part.startswith("**") and part.endswith("**") and len(part) > 4:
            out.append(Run(part[2:-2], bold=True))
        elif part.startswith("*") and part.endswith("*") and len(part) > 2:
            out.append(Run(part[1:-1], italic=True))
        else:
            out.append(Run(part))
    return tuple(out)


@dataclass(frozen=True)
class Heading:
    """A heading: level 1 = section (table of contents; a new page unless ``new_page`` is False),
    2 = subsection, 3 = paragraph title."""

    text: str
    level: int = 1
    new_page: bool = True


@dataclass(frozen=True)
class Paragraph:
    """A paragraph; ``style`` is ``body``, ``lead`` (introduction), ``caption`` or ``note``;
    ``keep_with_next``: never left alone at the bottom of a page, away from what follows."""

    runs: Runs
    style: str = "body"
    keep_with_next: bool = False


@dataclass(frozen=True)
class BulletList:
    items: tuple[Runs, ...]


@dataclass(frozen=True)
class Table:
    """A table of text cells; ``widths`` are fractions of the text width, ``align`` one letter per
    column (``l`` / ``r`` / ``c``)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    align: str = ""
    small: bool = False

    def __post_init__(self):
        n = len(self.header)
        if len(self.widths) != n or any(len(r) != n for r in self.rows):
            msg = f"table {self.header!r}: {n} columns, {len(self.widths)} widths, rows of {sorted({len(r) for r in self.rows})} cells"
            raise ValueError(msg)


@dataclass(frozen=True)
class Image:
    """A PNG figure shown ``width_cm`` wide, with its caption (and alternative text)."""

    png: bytes
    width_cm: float
    caption: str
    alt: str = ""
    note: str = ""  # source and reading notes, printed under the caption (kept on the same page)

    @property
    def height_cm(self) -> float:
        """Printed height, from the PNG's aspect ratio."""
        w, h = png_size(self.png)
        return self.width_cm * h / w


@dataclass(frozen=True)
class Formula:
    """A display formula as a PNG rendered at ``dpi``, and its plain-text reading."""

    png: bytes
    text: str
    dpi: int = 200

    @property
    def size_cm(self) -> tuple[float, float]:
        """Printed (width, height) at the resolution it was rendered at."""
        w, h = png_size(self.png)
        return w / self.dpi * 2.54, h / self.dpi * 2.54


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Paragraph | BulletList | Table | Image | Formula | PageBreak


@dataclass
class Report:
    """The whole document: cover page fields, then the blocks."""

    title: str
    territory: str
    subtitle: str
    date_text: str
    cover_note: str
    running_title: str
    blocks: list[Block] = field(default_factory=list)
    cover_image: Image | None = None
    meta: dict = field(default_factory=dict)

    def headings(self, max_level: int = 2) -> list[Heading]:
        """The headings of the table of contents."""
        return [b for b in self.blocks if isinstance(b, Heading) and b.level <= max_level]


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        msg = "not a PNG image"
        raise ValueError(msg)
    return struct.unpack(">II", png[16:24])


__all__ = ["Run", "Runs", "french_spacing", "plain", "runs", "bold", "md", "Heading", "Paragraph", "BulletList", "Table", "Image", "Formula", "PageBreak",
           "Block", "Report", "png_size"]
