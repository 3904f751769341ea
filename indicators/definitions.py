"""Indicator catalogue, indicator sets (IFN 2023 / IFN 2019) and the run configuration.

Every indicator is derived from the pack's count columns (SCHEMA.md), never stored as a rate:

- ``rate``       value = 100 × num / den            (%)
- ``complement`` value = 100 − 100 × num / den      (%; e.g. premises *not* FttH-connectable)
- ``per10k``     value = 10 000 × num / den         (per 10 000 inhabitants)
- ``value``      value = num                        (a non-additive published or measured value)

A value is NaN when the numerator or the denominator is missing, or when the denominator is 0.
``higher_is_more_fragile`` gives the direction: scores are oriented so that a higher score always
means more fragile (indicators where lower is more fragile are reversed by the normalisation).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("rate", "complement", "per10k", "value")


@dataclass(frozen=True)
class Indicator:
    """One indicator: how to compute it from the zone table and how to read it."""

    key: str
    label: str  # French label, for the UI
    num: str
    den: str | None
    unit: str
    kind: str
    higher_is_more_fragile: bool
    group: str  # the `<group>_status` column of SCHEMA.md that explains the inputs
    note: str = ""
    fallback_num: str | None = None  # used where `num` is missing (flagged), e.g. 60+ for 65+

    @property
    def columns(self) -> tuple[str, ...]:
        cols = [self.num] + ([self.den] if self.den else [])
        if self.fallback_num:
            cols.append(self.fallback_num)
        return tuple(cols)


CATALOGUE: dict[str, Indicator] = {
    ind.key: ind
    for ind in (
        Indicator(
            "no_thd", "Locaux sans très haut débit fixe (≥ 30 Mbit/s)", "thd_premises", "premises_2019",
            "%", "complement", True, "thd",
            note="Part des locaux (logements et établissements) sans accès à au moins 30 Mbit/s, toutes "
            "technologies (fibre, câble, VDSL2, radio…) : ARCEP « Ma connexion internet », 30/09/2019.",
        ),
        Indicator(
            "no_4g", "Surface sans couverture 4G (meilleur opérateur)", "area_4g_km2", "area_cov_km2", "%",
            "complement", True, "mobile4g",
            note="1 − part de la surface couverte en 4G par l'opérateur qui couvre le mieux la commune "
            "(cartes ARCEP 2019 T3) : une mesure de la couverture du territoire, pas des personnes. "
            "Parts supérieures à 100 % (polygones superposés) ramenées à 100 %, signalées.",
        ),
        Indicator(
            "poverty", "Taux de pauvreté (seuil à 60 %)", "poor_persons", "fiscal_persons", "%",
            "rate", True, "poverty",
            note="Communes sous secret statistique : estimation à partir de ce qui est publié (revenu "
            "médian, taux de l'EPCI), signalée.",
        ),
        Indicator(
            "age65", "Part des 65 ans ou plus parmi les 15 ans ou plus", "pop15p_65p", "pop15p", "%", "rate",
            True, "age15p",
            note="Définition de l'IFN (RP2017 : 65 ans ou plus / 15 ans ou plus) ; RP2022 pour les communes des "
            "métropoles, même définition.",
        ),
        Indicator(
            "low_diploma", "Peu ou pas diplômés (au plus CAP-BEP) parmi les 15 ans ou plus", "pop15p_lowdip",
            "pop15p_dipl", "%", "rate", True, "diploma15p",
            note="Non-scolarisés sans diplôme, CEP, BEPC ou CAP-BEP parmi toutes les personnes de 15 ans ou "
            "plus (définition RP2017) ; RP2022 pour les communes de la Métropole de Grenoble.",
        ),
        Indicator(
            "no_ftth", "Locaux non raccordables à la fibre (FttH)", "ftth_premises", "premises_total",
            "%", "complement", True, "ftth",
            note="Fibre FttH seule (ARCEP T1 2018) : une mesure plus ancienne et plus étroite que le très haut débit.",
        ),
        Indicator(
            "dist_4g", "Distance au site 4G le plus proche", "dist_4g_m", None, "m", "value", True,
            "mobile",
            note="Indicateur indirect de la couverture 4G : distance du point de demande au site 4G le plus "
            "proche (sites ARCEP janvier 2018).",
        ),
        Indicator(
            "age65_all", "Part des 65 ans ou plus (tous âges)", "pop_65p", "pop_age_total", "%", "rate", True,
            "age", note="RP2022, communes des métropoles seulement (IRIS : structure RP2016 des 60 ans ou plus).",
        ),
        Indicator(
            "no_diploma", "Non-scolarisés de 15 ans ou plus sans diplôme ou CEP", "nscol15p_diplmin",
            "nscol15p", "%", "rate", True, "diploma",
        ),
        Indicator(
            "median_income", "Revenu médian par unité de consommation", "median_income", None,
            "€/UC/an", "value", False, "income",
            note="Valeur publiée non additive : jamais moyennée entre zones.",
        ),
        Indicator(
            "unemployment", "Taux de chômage des 15–64 ans", "unemployed_1564", "active_1564", "%",
            "rate", True, "unemployment",
        ),
        Indicator(
            "one_person", "Ménages d'une personne", "hh_one_person", "hh_total_detailed", "%", "rate",
            True, "household_types",
        ),
        Indicator(
            "single_parent", "Familles monoparentales", "hh_single_parent", "hh_total_detailed", "%", "rate",
            True, "household_types",
        ),
        Indicator(
            "age15_29", "Part des 15–29 ans", "pop_15_29", "pop_age_total", "%", "rate", True, "age",
        ),
        Indicator(
            "library_dist", "Distance à la bibliothèque la plus proche", "dist_library_m", None, "m", "value",
            True, "libraries",
            note="Du point de demande de la zone à la bibliothèque publique la plus proche (Ministère de la Culture, 2020).",
        ),
        Indicator(
            "places_per_10k", "Points d'accueil pour 10 000 habitants", "places_count", "population",
            "pour 10 000 hab.", "per10k", False, "places",
            note="places_count = lieux d'accueil rattachés à la zone (calculé, pas dans le pack).",
        ),
    )
}

#: statuses of a zone whose value rests on an estimate (SCHEMA.md); aggregated levels carry
#: ``<group>_estimated_share`` instead
ESTIMATED_STATUSES = frozenset({"estimated", "from_commune", "rescaled"})


def estimated_fraction(df: pd.DataFrame, ind: Indicator) -> np.ndarray:
    """Share (0–1) of each zone's value of `ind` that rests on estimated inputs."""
    share = f"{ind.group}_estimated_share"
    if share in df.columns:
        return np.clip(pd.to_numeric(df[share], errors="coerce").fillna(0.0).to_numpy(float), 0.0, 1.0)
    status = f"{ind.group}_status"
    if status in df.columns:
        return df[status].astype("object").isin(ESTIMATED_STATUSES).to_numpy(float)
    return np.zeros(len(df))


@dataclass(frozen=True)
class IndicatorSet:
    """A named set of indicators grouped in axes. ``total`` = mean of 'indicators' or of 'axes'."""

    name: str
    label: str
    axes: tuple[tuple[str, tuple[str, ...]], ...]
    total: str  # "indicators" | "axes"

    @property
    def indicators(self) -> tuple[str, ...]:
        return tuple(k for _, keys in self.axes for k in keys)


SETS: dict[str, IndicatorSet] = {
    "ifn2023": IndicatorSet(
        "ifn2023",
        "Indice de fragilité numérique 2023 (La Mednum) : 5 indicateurs, moyenne des notes",
        (
            ("connectivite", ("no_thd", "no_4g")),
            ("capacites", ("poverty", "age65", "low_diploma")),
        ),
        "indicators",
    ),
    "ifn2019": IndicatorSet(
        "ifn2019",
        "Indice de fragilité numérique 2019 : 4 axes, moyenne des axes",
        (
            ("acces_interfaces", ("no_thd", "no_4g", "poverty", "median_income")),
            ("acces_information", ("one_person", "single_parent", "places_per_10k", "library_dist")),
            ("competences_administratives", ("unemployment", "age15_29")),
            ("competences_numeriques", ("age65", "low_diploma")),
        ),
        "axes",
    ),
}

AXIS_LABELS = {
    "connectivite": "Connectivité",
    "capacites": "Capacités",
    "acces_interfaces": "Accès aux interfaces numériques",
    "acces_information": "Accès à l'information",
    "competences_administratives": "Compétences administratives",
    "competences_numeriques": "Compétences numériques / scolaires",
    "autres": "Autres",
}

#: Reference territory → grouping column of the zone tables ("all" = the whole table).
REFERENCE_COLUMNS = {
    "region": "code_region",
    "departement": "code_departement",
    "epci": "code_epci",
    "all": None,
    "france": None,  # national distributions (commune and département levels), see fragility
}
REFERENCE_LABELS = {"epci": "EPCI", "departement": "département", "region": "région", "france": "France", "all": "toutes les zones"}
#: zone levels, finest first, and the reference territories each level can be ranked within
LEVEL_ORDER = ("iris", "commune", "epci", "departement", "region")


def effective_reference(level: str | None, reference: str) -> str:
    """The reference actually used at `level`: a reference territory that is the level itself or
    finer (départements ranked within their département) moves up to the next one (département →
    région → France); « France » exists for communes and départements only (région otherwise)."""
    if level not in LEVEL_ORDER:
        return reference
    rank = LEVEL_ORDER.index(level)
    if reference in ("epci", "departement", "region") and LEVEL_ORDER.index(reference) <= rank:
        reference = next((r for r in ("departement", "region") if LEVEL_ORDER.index(r) > rank), "france")
    if reference == "france" and level not in ("commune", "departement"):
        return "region" if level != "region" else "all"
    return reference
NORMALISATIONS = ("decile", "ratio", "minmax")
MISSING_POLICIES = ("median", "unscored", "available")
NEED_MODELS = ("precarity", "illectronisme")
METHODS = ("e2sfca", "2sfca")
DECAYS = ("apl", "pysal", "step30", "gaussian", "gravity")
TRAVEL_MODES = ("auto", "car", "walk")
SERVICES = ("demarches", "competences_base", "equipement", "autres")
TIME_SLOTS = ("evening", "saturday")
CAPACITY_MODES = ("hours_staff", "count")
BIVARIATE_NEEDS = ("score", "need_share")


def ratio(num, den, scale: float = 100.0) -> np.ndarray:
    """scale × num / den as float array; NaN where num or den is missing or den == 0."""
    n = np.asarray(num, dtype=float)
    d = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(n, d).shape, np.nan)
    ok = np.isfinite(n) & np.isfinite(d) & (d != 0)
    np.divide(n * scale, d, out=out, where=ok)
    return out


def _column(df: pd.DataFrame, name: str | None) -> np.ndarray:
    if name is None or name not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def indicator_values(df: pd.DataFrame, ind: Indicator) -> tuple[np.ndarray, np.ndarray]:
    """Value of `ind` for every row of `df`, and a bool mask of rows that used `fallback_num`.

    Missing columns give NaN (the indicator is then missing for every zone, never 0).
    """
    num = _column(df, ind.num)
    fallback = np.zeros(len(df), dtype=bool)
    if ind.fallback_num:
        alt = _column(df, ind.fallback_num)
        fallback = ~np.isfinite(num) & np.isfinite(alt)
        num = np.where(fallback, alt, num)
    if ind.kind == "value":
        return num.astype(float), fallback
    den = _column(df, ind.den)
    if ind.kind == "rate":
        vals = ratio(num, den, 100.0)
    elif ind.kind == "complement":
        vals = 100.0 - ratio(num, den, 100.0)
    elif ind.kind == "per10k":
        vals = ratio(num, den, 10_000.0)
    else:  # pragma: no cover - guarded by KINDS
        raise ValueError(f"unknown indicator kind {ind.kind!r}; expected one of {KINDS}")
    fallback &= np.isfinite(vals)
    return vals, fallback


def indicator_table(df: pd.DataFrame, keys) -> pd.DataFrame:
    """DataFrame of indicator values (one column per key), same index as `df`."""
    return pd.DataFrame({k: indicator_values(df, CATALOGUE[k])[0] for k in keys}, index=df.index)


# ----------------------------------------------------------------------------------------------
# Run configuration (JSON-serialisable: the UI puts it in URL parameters)
# ----------------------------------------------------------------------------------------------


def _as_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("1", "true", "yes", "oui", "on"):
        return True
    if isinstance(v, str) and v.strip().lower() in ("0", "false", "no", "non", "off", ""):
        return False
    if isinstance(v, (int, np.integer)) and v in (0, 1):
        return bool(v)
    raise ValueError(f"expected a boolean (true/false), got {v!r}")


def _as_opt_float(v: Any) -> float | None:
    if v is None or (isinstance(v, str) and v.strip().lower() in ("", "none", "null")):
        return None
    return float(v)


def _as_opt_str(v: Any) -> str | None:
    if v is None or (isinstance(v, str) and v.strip().lower() in ("", "none", "null")):
        return None
    return str(v)


@dataclass(frozen=True)
class Config:
    """Everything a user can change, with documented defaults (METHOD.md).

    Fragility: ``indicator_set`` (ifn2023 | ifn2019), optional ``indicators`` override, integer
    ``weights`` 0–10 (missing keys weigh 1), ``normalisation`` (decile | ratio | minmax),
    ``reference`` (region | departement | epci | all), ``missing`` (median | unscored | available).
    Need: ``need_model`` (precarity | illectronisme), ``need_impute`` (fill secret zones with the
    reference rate, flagged). Supply: ``capacity`` (hours_staff | count), ``service``,
    ``time_slot`` (evening | saturday), ``digital_help_only``. Access: ``method`` (e2sfca | 2sfca),
    ``decay`` (apl | pysal | step30 | gaussian | gravity) and its parameters, ``max_cost`` (minutes;
    None = the decay's own catchment), travel (``travel_mode`` auto | car | walk, ``detour``,
    ``walk_kmh``, ``car_kmh``, ``dense_per_km2``; None = rates.toml). Unmet: ``target`` (hours per
    person in need per week; None = median access over the reference set), ``bivariate_need``.
    """

    indicator_set: str = "ifn2023"
    indicators: tuple[str, ...] = ()
    weights: tuple[tuple[str, int], ...] = ()
    normalisation: str = "decile"
    reference: str = "departement"
    missing: str = "median"
    need_model: str = "precarity"
    need_impute: bool = True
    capacity: str = "hours_staff"
    service: str | None = None
    time_slot: str | None = None
    digital_help_only: bool = True
    method: str = "e2sfca"
    decay: str = "pysal"
    max_cost: float | None = None
    sigma: float = 10.0
    gravity_scale: float = 1.0
    gravity_alpha: float = -1.0
    gravity_min: float = 1.0
    travel_mode: str = "auto"
    detour: float | None = None
    walk_kmh: float | None = None
    car_kmh: float | None = None
    dense_per_km2: float | None = None
    target: float | None = None
    bivariate_need: str = "score"

    def __post_init__(self) -> None:
        def check(name: str, allowed) -> None:
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"config {name}={value!r} is not valid; expected one of {tuple(allowed)}")

        check("indicator_set", SETS)
        check("normalisation", NORMALISATIONS)
        check("reference", REFERENCE_COLUMNS)
        check("missing", MISSING_POLICIES)
        check("need_model", NEED_MODELS)
        check("capacity", CAPACITY_MODES)
        check("method", METHODS)
        check("decay", DECAYS)
        check("travel_mode", TRAVEL_MODES)
        check("bivariate_need", BIVARIATE_NEEDS)
        if self.service is not None:
            check("service", SERVICES)
        if self.time_slot is not None:
            check("time_slot", TIME_SLOTS)
        unknown = [k for k in self.indicators if k not in CATALOGUE]
        if unknown:
            raise ValueError(f"unknown indicators {unknown}; expected keys of {sorted(CATALOGUE)}")
        for key, w in self.weights:
            if key not in CATALOGUE:
                raise ValueError(f"weight given for unknown indicator {key!r}; expected keys of {sorted(CATALOGUE)}")
            if not isinstance(w, (int, np.integer)) or isinstance(w, bool) or not 0 <= w <= 10:
                raise ValueError(f"weight of {key!r} must be an integer 0–10, got {w!r}")
        for name in ("max_cost", "detour", "walk_kmh", "car_kmh", "dense_per_km2", "target"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v > 0):
                raise ValueError(f"config {name} must be a positive number or None, got {v!r}")
        for name in ("sigma", "gravity_scale"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"config {name} must be a positive number, got {v!r}")
        if not np.isfinite(self.gravity_alpha) or not np.isfinite(self.gravity_min) or self.gravity_min < 0:
            raise ValueError("config gravity_alpha must be finite and gravity_min ≥ 0")

    # -- derived --------------------------------------------------------------------------------
    @property
    def indicator_keys(self) -> tuple[str, ...]:
        return self.indicators or SETS[self.indicator_set].indicators

    @property
    def weight_map(self) -> dict[str, int]:
        given = dict(self.weights)
        return {k: int(given.get(k, 1)) for k in self.indicator_keys}

    @property
    def reference_column(self) -> str | None:
        return REFERENCE_COLUMNS[self.reference]

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    # -- JSON -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (weights as an object, indicators as a list)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "weights":
                v = {k: int(w) for k, w in v}
            elif f.name == "indicators":
                v = list(v)
            out[f.name] = v
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], strict: bool = True) -> Config:
        """Build from a dict of allow-listed keys (values may be strings, as in URL parameters).

        Unknown keys raise ValueError when `strict`, else are ignored. Types are coerced and every
        value is validated (enums, ranges) by the constructor.
        """
        if not isinstance(data, dict):
            raise ValueError(f"config must be a dict, got {type(data).__name__}")
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown and strict:
            raise ValueError(f"unknown config keys {unknown}; allowed keys: {sorted(allowed)}")
        kw: dict[str, Any] = {}
        for key in allowed & set(data):
            v = data[key]
            if key == "weights":
                if isinstance(v, str):
                    v = json.loads(v) if v.strip() else {}
                if not isinstance(v, dict):
                    raise ValueError(f"weights must be an object {{indicator: integer 0–10}}, got {v!r}")
                pairs = []
                for k, w in v.items():
                    wf = float(w)
                    if wf != int(wf):
                        raise ValueError(f"weight of {k!r} must be an integer 0–10, got {w!r}")
                    pairs.append((str(k), int(wf)))
                kw[key] = tuple(sorted(pairs))
            elif key == "indicators":
                if isinstance(v, str):
                    v = [s for s in v.split(",") if s.strip()]
                kw[key] = tuple(str(s).strip() for s in v)
            elif key in ("need_impute", "digital_help_only"):
                kw[key] = _as_bool(v)
            elif key in ("max_cost", "detour", "walk_kmh", "car_kmh", "dense_per_km2", "target"):
                kw[key] = _as_opt_float(v)
            elif key in ("sigma", "gravity_scale", "gravity_alpha", "gravity_min"):
                kw[key] = float(v)
            elif key in ("service", "time_slot"):
                kw[key] = _as_opt_str(v)
            else:
                kw[key] = str(v)
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str, strict: bool = True) -> Config:
        return cls.from_dict(json.loads(text), strict=strict)


DEFAULT_CONFIG = Config()

__all__ = [
    "CATALOGUE", "SETS", "AXIS_LABELS", "REFERENCE_COLUMNS", "REFERENCE_LABELS", "Indicator", "IndicatorSet", "Config",
    "ESTIMATED_STATUSES", "estimated_fraction", "effective_reference", "LEVEL_ORDER",
    "DEFAULT_CONFIG", "ratio", "indicator_values", "indicator_table",
]
