"""Bar charts of the report (PNG, matplotlib), readable in black and white.

The territory is a solid dark grey bar, its reference a white bar with a black outline and a
hatch; values are written at the end of the bars in French (« 16,4 % »), so a photocopy keeps
every number. Charts are drawn at their printed size (text width 17 cm) with 8-point text.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ui.folium_map import format_fr

CM_PER_INCH = 2.54
DPI = 200
FONT_PT = 8
TERRITORY_STYLE = {"facecolor": "#4a4a4a", "edgecolor": "black", "linewidth": 0.6}
REFERENCE_STYLE = {"facecolor": "white", "edgecolor": "black", "linewidth": 0.6, "hatch": "////"}


def _figure(width_cm: float, height_cm: float) -> Figure:
    return Figure(figsize=(width_cm / CM_PER_INCH, height_cm / CM_PER_INCH), dpi=DPI)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _wrap(labels: Sequence[str], width: int) -> list[str]:
    return ["\n".join(textwrap.wrap(str(s), width)) for s in labels]


def _value_labels(ax, bars, values, decimals: int, unit: str) -> None:
    span = max([abs(v) for v in values if np.isfinite(v)] or [1.0])
    for bar, v in zip(bars, values, strict=True):
        if not np.isfinite(v):
            continue
        text = format_fr(v, decimals) + (" %" if unit == "%" else "")
        ax.text(bar.get_x() + bar.get_width() + 0.01 * span, bar.get_y() + bar.get_height() / 2, text,
                va="center", ha="left", fontsize=FONT_PT - 0.5)


def compare_bars_png(labels: Sequence[str], values: Sequence[float], ref_values: Sequence[float] | None, *,
                     names: tuple[str, str | None], unit: str = "%", decimals: int = 1, width_cm: float = 17.0) -> bytes:
    """Horizontal grouped bars: one group per label, the territory's value above its reference's."""
    n = len(labels)
    height = 2.2 + 1.05 * n
    fig = _figure(width_cm, height)
    ax = fig.add_axes((0.36, 1.5 / height, 0.56, 1 - 1.7 / height))
    y = np.arange(n)[::-1].astype(float)
    h = 0.38 if ref_values is not None else 0.6
    v = np.asarray(values, float)
    bars = ax.barh(y + (h / 2 if ref_values is not None else 0), np.nan_to_num(v), height=h, label=names[0], **TERRITORY_STYLE)
    _value_labels(ax, bars, v, decimals, unit)
    if ref_values is not None:
        r = np.asarray(ref_values, float)
        rbars = ax.barh(y - h / 2, np.nan_to_num(r), height=h, label=names[1], **REFERENCE_STYLE)
        _value_labels(ax, rbars, r, decimals, unit)
    ax.set_yticks(y, _wrap(labels, 42), fontsize=FONT_PT)
    ax.tick_params(axis="x", labelsize=FONT_PT - 1)
    ax.xaxis.set_major_formatter(lambda x, _pos: format_fr(x, 0))
    top = np.nanmax(np.concatenate([v, np.asarray(ref_values, float)]) if ref_values is not None else v)
    ax.set_xlim(0, (top if np.isfinite(top) and top > 0 else 1.0) * 1.18)
    ax.set_xlabel("%" if unit == "%" else unit, fontsize=FONT_PT, loc="right")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [Patch(label=names[0], **TERRITORY_STYLE)] + ([Patch(label=names[1], **REFERENCE_STYLE)] if ref_values is not None else [])
    fig.legend(handles=handles, loc="lower center", ncols=2, fontsize=FONT_PT, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return _png(fig)


def distribution_png(classes: Sequence[str], shares: Sequence[float], ref_shares: Sequence[float] | None, *,
                     names: tuple[str, str | None], xlabel: str, width_cm: float = 17.0) -> bytes:
    """Vertical grouped bars of shares (%) per class (the index's distribution over the zones)."""
    fig = _figure(width_cm, 7.0)
    ax = fig.add_axes((0.08, 0.3, 0.9, 0.65))
    x = np.arange(len(classes), dtype=float)
    w = 0.4 if ref_shares is not None else 0.7
    ax.bar(x - (w / 2 if ref_shares is not None else 0), shares, width=w, label=names[0], **TERRITORY_STYLE)
    if ref_shares is not None:
        ax.bar(x + w / 2, ref_shares, width=w, label=names[1], **REFERENCE_STYLE)
    ax.set_xticks(x, list(classes), fontsize=FONT_PT)
    ax.tick_params(axis="y", labelsize=FONT_PT - 1)
    ax.yaxis.set_major_formatter(lambda v, _pos: format_fr(v, 0) + " %")
    ax.set_xlabel(xlabel, fontsize=FONT_PT)
    ax.set_ylabel("part des zones", fontsize=FONT_PT)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [Patch(label=names[0], **TERRITORY_STYLE)] + ([Patch(label=names[1], **REFERENCE_STYLE)] if ref_shares is not None else [])
    fig.legend(handles=handles, loc="lower center", ncols=2, fontsize=FONT_PT, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return _png(fig)


def count_bars_png(labels: Sequence[str], counts: Sequence[float], *, xlabel: str, width_cm: float = 17.0) -> bytes:
    """Horizontal bars of counts (places per type), largest first, with their values."""
    n = len(labels)
    fig = _figure(width_cm, 1.2 + 0.55 * max(n, 1))
    ax = fig.add_axes((0.3, 0.8 / (1.2 + 0.55 * max(n, 1)) + 0.02, 0.62, 1 - 1.0 / (1.2 + 0.55 * max(n, 1)) - 0.02))
    y = np.arange(n)[::-1].astype(float)
    c = np.asarray(counts, float)
    bars = ax.barh(y, c, height=0.62, **TERRITORY_STYLE)
    _value_labels(ax, bars, c, 0, "")
    ax.set_yticks(y, _wrap(labels, 34), fontsize=FONT_PT)
    ax.tick_params(axis="x", labelsize=FONT_PT - 1)
    ax.xaxis.set_major_formatter(lambda v, _pos: format_fr(v, 0))
    ax.set_xlim(0, max(float(c.max()) if n else 1.0, 1.0) * 1.15)
    ax.set_xlabel(xlabel, fontsize=FONT_PT)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _png(fig)


__all__ = ["compare_bars_png", "distribution_png", "count_bars_png"]
