"""The method text of « Données & méthode » (``ui.method.METHOD_MD``, Markdown with LaTeX) as
report blocks.

- ``### Titre`` → a level-3 heading; blank lines separate paragraphs; ``**gras**`` and ``*italique*``;
- ``$$ … $$`` on its own line → a :class:`~reports.document.Formula`: an image rendered by
  matplotlib's mathtext (``\\text{}`` read as ``\\mathrm{}``), with its plain-text reading;
- inline ``$ … $`` → plain text with Unicode symbols and real subscripts
  (``N_i = N_c\\, n_i / \\sum_{j \\in c} n_j`` → N\\ :sub:`i` = N\\ :sub:`c` n\\ :sub:`i` / Σ\\ :sub:`j∈c` n\\ :sub:`j`).
"""

from __future__ import annotations

import io
import re

from matplotlib import mathtext
from matplotlib.font_manager import FontProperties

from reports.document import Block, Formula, Heading, Paragraph, Run, Runs, md

#: LaTeX commands → Unicode (inline formulas)
SYMBOLS = {
    "sum": "Σ", "times": "×", "div": "÷", "in": "∈", "kappa": "κ", "tau": "τ", "beta": "β", "dots": "…",
    "qquad": "   ", "quad": "  ", "max": "max", "ln": "ln", "min": "min", ",": "\u2009", " ": " ", "{": "{", "}": "}",
    "le": "≤", "ge": "≥", "cdot": "·",
}
FORMULA_DPI = 200
FORMULA_PT = 12


def _group(tex: str, i: int) -> tuple[str, int]:
    """The argument starting at ``tex[i]``: a braced group, a command or one character."""
    if tex[i] == "{":
        depth, j = 0, i
        while j < len(tex):
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            if depth == 0:
                return tex[i + 1:j], j + 1
            j += 1
        return tex[i + 1:], len(tex)
    if tex[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
        return m.group(0), i + len(m.group(0))
    return tex[i], i + 1


def latex_text(tex: str) -> str:
    """Plain Unicode reading of a LaTeX fragment (subscripts inline, without marks)."""
    return "".join(r.text for r in latex_runs(tex))


def latex_runs(tex: str, *, sub: bool = False) -> Runs:
    """Runs of an inline LaTeX formula (module doc)."""
    out: list[Run] = []
    i = 0
    while i < len(tex):
        ch = tex[i]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            name = m.group(1)
            i += len(m.group(0))
            if name in ("text", "mathrm", "frac"):
                arg, i = _group(tex, i)
                if name == "frac":
                    den, i = _group(tex, i)
                    out += [Run("("), *latex_runs(arg, sub=sub), Run(") / ("), *latex_runs(den, sub=sub), Run(")")]
                else:
                    out.append(Run(arg, sub=sub))
                continue
            out.append(Run(SYMBOLS.get(name, name), sub=sub))
        elif ch in "_^":
            arg, i = _group(tex, i + 1)
            out += [Run(r.text, sub=True) for r in latex_runs(arg, sub=True)]
        elif ch in "{}":
            i += 1
        else:
            out.append(Run("−" if ch == "-" else ch, sub=sub))
            i += 1
    return _merge(out)


def _merge(runs: list[Run]) -> Runs:
    merged: list[Run] = []
    for r in runs:
        if merged and merged[-1].sub == r.sub and not merged[-1].bold and not merged[-1].italic:
            merged[-1] = Run(merged[-1].text + r.text, sub=r.sub)
        else:
            merged.append(r)
    return tuple(merged)


def formula_png(tex: str, *, dpi: int = FORMULA_DPI, size_pt: float = FORMULA_PT) -> bytes:
    """PNG of a display formula with matplotlib's mathtext (``\\text`` → ``\\mathrm``; fractions
    in display style, ``\\dfrac``, so that their sums are full size)."""
    expr = tex.strip().replace("\\text{", "\\mathrm{").replace("\\frac{", "\\dfrac{")
    buf = io.BytesIO()
    mathtext.math_to_image(f"${expr}$", buf, prop=FontProperties(size=size_pt), dpi=dpi, format="png")
    return buf.getvalue()


def inline_runs(text: str) -> Runs:
    """Runs of a paragraph with ``**bold**``, ``*italic*`` and ``$inline formulas$``."""
    out: list[Run] = []
    for k, part in enumerate(re.split(r"\$([^$]+)\$", text)):
        if k % 2:
            out += latex_runs(part)
        elif part:
            out += md(part)
    return tuple(out)


def markdown_blocks(text: str, *, heading_level: int = 3) -> list[Block]:
    """Blocks of the method's Markdown (module doc)."""
    blocks: list[Block] = []
    lines: list[str] = []

    def flush():
        if lines:
            blocks.append(Paragraph(inline_runs(" ".join(s.strip() for s in lines))))
            lines.clear()

    for line in text.strip().splitlines():
        s = line.strip()
        if s.startswith("#"):
            flush()
            blocks.append(Heading(s.lstrip("#").strip(), heading_level))
        elif s.startswith("$$") and s.endswith("$$") and len(s) > 4:
            flush()
            tex = s[2:-2].strip()
            blocks.append(Formula(formula_png(tex), latex_text(tex), FORMULA_DPI))
        elif not s:
            flush()
        else:
            lines.append(s)
    flush()
    return blocks


__all__ = ["latex_runs", "latex_text", "formula_png", "inline_runs", "markdown_blocks"]
