"""Territories of the pack: keys ``kind:code``, their zones at a level, labels and reference
territory (the Streamlit-free counterpart of ``ui.data.zones_in`` / ``ui.exports.reference_key``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from reports.labels import KIND_LABELS, KIND_LEVEL, LEVEL_COLUMN, REFERENCE_KIND

#: prefixes accepted on the command line, as in ``indicators.cli`` (level name → kind)
_LEVEL_KIND = {v: k for k, v in KIND_LEVEL.items()}


@dataclass(frozen=True)
class Territory:
    """One territory of the pack: ``key`` = ``kind:code``, its name and readable label."""

    kind: str
    code: str
    name: str

    @property
    def key(self) -> str:
        """``kind:code``, as in the app's links (``?t=epci:200040715``)."""
        return f"{self.kind}:{self.code}"

    @property
    def level(self) -> str:
        """Pack level of the territory's own row (``epci``, ``departement``…)."""
        return KIND_LEVEL[self.kind]

    @property
    def label(self) -> str:
        """'Isère (Département 38)', as the territory picker writes it."""
        return f"{self.name} ({KIND_LABELS[self.kind]} {self.code})"


def zones_in(pack: Mapping, kind: str, code: str, level: str) -> pd.DataFrame:
    """Zones of ``level`` inside the territory ``kind:code`` (same rule as ``ui.data.zones_in``)."""
    z = pack[level]
    if kind == "com" and level == "commune":
        return z[z["code"] == code]
    if kind == "com":
        return z[z["code_commune"] == code]
    if level == KIND_LEVEL[kind]:
        return z[z["code"] == code]
    return z[z[LEVEL_COLUMN[kind]] == code]


def territory(pack: Mapping, key: str) -> Territory:
    """The territory of a key ``kind:code``; ValueError naming the key when the pack lacks it."""
    kind, sep, code = key.partition(":")
    if not sep or kind not in KIND_LEVEL:
        msg = f"territory key {key!r}: expected 'kind:code' with kind in {sorted(KIND_LEVEL)}"
        raise ValueError(msg)
    rows = pack[KIND_LEVEL[kind]]
    row = rows[rows["code"].astype(str) == code]
    if row.empty:
        msg = f"territory key {key!r}: no {KIND_LEVEL[kind]} with code {code!r} in the pack"
        raise ValueError(msg)
    return Territory(kind, code, str(row["name"].iloc[0]))


def parse_territory(pack: Mapping, text: str) -> Territory:
    """A territory from the command line: ``epci:200040715``, ``dep:38``, ``com:38185``,
    ``reg:84``, or a bare code (9 digits = EPCI, 5 characters = commune, else département or
    région) as in ``indicators.cli``."""
    from indicators.cli import resolve_territory

    text = text.strip()
    if ":" in text and text.split(":", 1)[0] in KIND_LEVEL:
        return territory(pack, text)
    level, code = resolve_territory(text, pack)
    return territory(pack, f"{_LEVEL_KIND[level]}:{code}")


def reference_of(pack: Mapping, t: Territory) -> Territory | None:
    """The reference territory: the département of an EPCI or a commune, the région of a
    département, None for the région (nothing above it in the pack)."""
    ref_kind = REFERENCE_KIND.get(t.kind)
    if ref_kind is None:
        return None
    rows = zones_in(pack, t.kind, t.code, t.level)
    if rows.empty:
        return None
    value = rows.iloc[0].get("code_departement" if ref_kind == "dep" else "code_region")
    if not isinstance(value, str) or not value:
        return None
    return territory(pack, f"{ref_kind}:{value}")


__all__ = ["Territory", "zones_in", "territory", "parse_territory", "reference_of"]
