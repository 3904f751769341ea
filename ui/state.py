"""The view's shareable state: what the URL query parameters may carry, validated.

A link to the app carries ``?t=epci:200040715&lvl=iris&layer=fragility&preset=apl…``. Only the
allow-listed keys below are read; each value is checked (type, range, known code), and an invalid
one falls back to its default with a notice for the user. Weights travel as compact JSON
(``{"poverty": 3, …}``, integers 0–10). Nothing here imports Streamlit, so it is unit-tested as is.

A link is hostile input: a value is at most :data:`MAX_RAW_CHARS` characters long, the weights
must be a flat JSON object (no nesting: ``?w=[[[[…`` would otherwise exhaust the parser's
recursion), and the notices quote the values escaped for Markdown (:mod:`ui.safe_text`): they can
be given to ``st.warning`` as they are.
"""

from __future__ import annotations

import json
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field, replace

from ui.safe_text import escape_md, shorten

DEFAULT_TERRITORY = "epci:200040715"  # Grenoble-Alpes-Métropole
TERRITORY_KINDS = ("reg", "dep", "epci", "com")
DETAIL_LEVELS = ("iris", "commune")
SCHEMES = ("quantiles", "natural_breaks", "equal_interval")
PRESETS = ("apl", "pysal", "30min")
NEED_MODELS = ("precarity", "illectronisme")
REFERENCES = ("departement", "epci", "region", "france")
MAX_WEIGHT = 10
#: territories compared at most (the Comparer page); a link with more keeps the first ones
MAX_COMPARE = 4
#: a query value is read up to this many characters (longer: cut, then validated)
MAX_RAW_CHARS = 2000
#: the longest weights JSON a link may carry ({"indicator": 10, …} for every indicator)
MAX_WEIGHTS_CHARS = 800


@dataclass(frozen=True)
class ViewState:
    territory: str = DEFAULT_TERRITORY  # "<kind>:<code>"
    level: str = "iris"  # level of detail of the map
    layer: str = "fragility"  # what the map shows
    scheme: str = "quantiles"
    k: int = 5
    preset: str = "30min"
    need_model: str = "precarity"
    reference: str = "departement"  # reference territory of the index
    weights: dict[str, int] = field(default_factory=dict)
    compare: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.territory.split(":", 1)[0]

    @property
    def code(self) -> str:
        return self.territory.split(":", 1)[1]

    def to_query(self) -> dict[str, str]:
        """Query parameters that differ from the defaults (short links)."""
        default = ViewState()
        out: dict[str, str] = {}
        for key, (name, _parse) in _PARAMS.items():
            value = getattr(self, name)
            if value == getattr(default, name):
                continue
            if name == "weights":
                out[key] = json.dumps(value, separators=(",", ":"), sort_keys=True)
            elif name == "compare":
                out[key] = ",".join(value)
            else:
                out[key] = str(value)
        return out

    def with_(self, **changes) -> ViewState:
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


def _choice(options):
    def parse(raw: str):
        if raw not in options:
            raise ValueError(f"valeur inconnue {_show(raw)} (attendu : {', '.join(options)})")
        return raw

    return parse


def _show(raw: object) -> str:
    """A raw value quoted in a message: one line, shortened (escaped later with the message)."""
    return repr(shorten(raw))


def _int_range(lo: int, hi: int):
    def parse(raw: str) -> int:
        if not raw.strip().lstrip("+-").isdigit() or len(raw) > 6:
            raise ValueError(f"{_show(raw)} n'est pas un entier")
        v = int(raw)
        if not lo <= v <= hi:
            raise ValueError(f"{v} hors de l'intervalle {lo}–{hi}")
        return v

    return parse


def _territory(raw: str) -> str:
    kind, _, code = raw.partition(":")
    if kind not in TERRITORY_KINDS or not code or len(code) > 9 or not code.isalnum():
        raise ValueError(f"territoire {_show(raw)} mal formé (attendu par ex. epci:200040715, com:38185)")
    return f"{kind}:{code.upper()}"


def _weights(raw: str) -> dict[str, int]:
    # a flat object only: nested brackets are refused before parsing (1 999 « [ » would raise
    # RecursionError in the JSON parser); indicator names never contain brackets
    if len(raw) > MAX_WEIGHTS_CHARS or raw.count("{") + raw.count("[") > 1:
        raise ValueError("poids : un objet JSON simple {indicateur: entier 0–10} est attendu")
    data = json.loads(raw)
    if not isinstance(data, dict) or len(data) > 20:
        raise ValueError("poids : un objet JSON {indicateur: entier 0–10} est attendu")
    out = {}
    for k, v in data.items():
        if not isinstance(k, str) or not k.replace("_", "").isalnum() or len(k) > 40:
            raise ValueError(f"poids : nom d'indicateur invalide {_show(k)}")
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_WEIGHT:
            raise ValueError(f"poids de {_show(k)} : entier de 0 à {MAX_WEIGHT} attendu")
        out[k] = v
    return out


def _compare(raw: str) -> tuple[str, ...]:
    """Distinct territories of ``?cmp=``, in their order (all of them: :func:`from_query` keeps the
    first :data:`MAX_COMPARE` and says so). A value is at most :data:`MAX_RAW_CHARS` long, so a
    hostile list holds a few hundred items at most, each checked in constant time."""
    parts = [x for x in raw.split(",") if x]
    return tuple(dict.fromkeys(_territory(x) for x in parts))


#: query key -> (ViewState field, parser)
_PARAMS = {
    "t": ("territory", _territory),
    "lvl": ("level", _choice(DETAIL_LEVELS)),
    "layer": ("layer", lambda raw: raw if raw.replace("_", "").replace(":", "").isalnum() and len(raw) <= 40 else _bad(raw)),
    "cls": ("scheme", _choice(SCHEMES)),
    "k": ("k", _int_range(3, 9)),
    "preset": ("preset", _choice(PRESETS)),
    "need": ("need_model", _choice(NEED_MODELS)),
    "ref": ("reference", _choice(REFERENCES)),
    "w": ("weights", _weights),
    "cmp": ("compare", _compare),
}


def _bad(raw: str):
    raise ValueError(f"valeur invalide {_show(raw)}")


def from_query(params: dict[str, str | list[str]], known_territories: AbstractSet[str] | None = None, known_layers: AbstractSet[str] | None = None) -> tuple[ViewState, list[str]]:
    """Parse query parameters into a ViewState; returns ``(state, notices)``.

    Unknown keys are ignored; an invalid value keeps the default and adds a French notice, in
    Markdown-safe text (the quoted value is escaped: :func:`ui.safe_text.escape_md`).
    ``known_territories`` / ``known_layers`` restrict codes to those the pack has.
    """
    values: dict = {}
    notices: list[str] = []
    for key, (name, parse) in _PARAMS.items():
        if key not in params:
            continue
        raw = params[key]
        if isinstance(raw, list):
            raw = raw[-1] if raw else ""
        try:
            value = parse(str(raw)[:MAX_RAW_CHARS])
            if name == "territory" and known_territories is not None and value not in known_territories:
                raise ValueError(f"territoire {value} absent du jeu de données")
            if name == "compare" and known_territories is not None:
                unknown = [v for v in value if v not in known_territories]
                value = tuple(v for v in value if v in known_territories)
                if unknown:
                    notices.append(f"Paramètre « {key} » : territoire(s) absent(s) du jeu de données ignoré(s) : "
                                   f"{escape_md(', '.join(unknown))}.")
            if name == "compare" and len(value) > MAX_COMPARE:
                value = value[:MAX_COMPARE]
                notices.append(f"Paramètre « {key} » : {MAX_COMPARE} territoires au plus à comparer ; "
                               f"les {MAX_COMPARE} premiers sont gardés.")
            if name == "layer" and known_layers is not None and value not in known_layers:
                raise ValueError(f"couche {_show(value)} inconnue")
            values[name] = value
        except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            notices.append(f"Paramètre « {key} » ignoré : {escape_md(exc)}. Valeur par défaut utilisée.")
    return ViewState(**values), notices
