"""The offer of a territory in figures: places per type, weekly hours, services, evening and
Saturday opening, freshness of the published data (no Streamlit).

Freshness of a place = months between its ``updated`` date (as published by its source) and the
date of the report: under 6 months « à jour », 6 to 12 « à surveiller », 12 to 18 « à vérifier »,
18 or more — or no date — « à actualiser ». A date given as a year only (« 2020 ») is read as the
31st of December of that year, a month only (« 2022-06 ») as its last day: the most recent date
it can mean, so that no place is called older than it may be.
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
import pandas as pd

from ui.labels import PLACE_TYPE_LABELS, SERVICE_LABELS

#: (upper bound in months, label): a place is in the first class whose bound exceeds its age
FRESHNESS_CLASSES = ((6.0, "à jour"), (12.0, "à surveiller"), (18.0, "à vérifier"), (np.inf, "à actualiser"))
FRESHNESS_LABELS = tuple(label for _, label in FRESHNESS_CLASSES)
DAYS_PER_MONTH = 365.25 / 12

#: families of place types for the map: (label, types, marker, face colour, edge colour)
PLACE_FAMILIES = (
    ("France Services", ("france_services",), "s", "#111111", "white"),
    ("Lieux de médiation numérique (EPN, tiers-lieux, associations, autres)", ("epn_tiers_lieu", "association", "entreprise", "autre"),
     "o", "#7a7a7a", "black"),
    ("Structures sociales et services publics (CCAS, centres sociaux, mairies, CAF, mission locale, France Travail…)",
     ("ccas", "centre_social", "mairie", "caf", "mission_locale", "france_travail", "services_publics", "pimms",
      "information_jeunesse", "emploi_insertion", "departement", "intercommunalite"), "D", "white", "black"),
    ("Bibliothèques et médiathèques", ("bibliotheque", "mediatheque"), "^", "#d9d9d9", "black"),
)


def parse_updated(value) -> date | None:
    """The most recent date an ``updated`` value can mean (module doc); None when unreadable."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return None
    text = str(value).strip()[:10]
    try:
        parts = [int(p) for p in text.split("-")]
    except ValueError:
        return None
    try:
        if len(parts) == 1:
            return date(parts[0], 12, 31)
        if len(parts) == 2:
            return date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1])
        return date(parts[0], parts[1], parts[2])
    except ValueError:
        return None


def age_months(value, today: date) -> float:
    """Months between an ``updated`` value and ``today`` (NaN when unknown; never negative)."""
    d = parse_updated(value)
    if d is None:
        return np.nan
    return max(0.0, (today - d).days / DAYS_PER_MONTH)


def freshness_label(months: float) -> str:
    """« à jour » … « à actualiser » for an age in months (unknown → « à actualiser »)."""
    if not np.isfinite(months):
        return FRESHNESS_LABELS[-1]
    return next(label for bound, label in FRESHNESS_CLASSES if months < bound)


def freshness_table(places: pd.DataFrame, today: date) -> pd.DataFrame:
    """Places per freshness class: ``Fraîcheur``, ``Lieux``, ``Part`` (%), in class order."""
    months = places.get("updated", pd.Series(dtype=object)).map(lambda v: age_months(v, today))
    labels = months.map(freshness_label) if len(months) else pd.Series(dtype=object)
    counts = labels.value_counts().reindex(FRESHNESS_LABELS, fill_value=0)
    total = max(int(counts.sum()), 1)
    return pd.DataFrame({"Fraîcheur": counts.index, "Lieux": counts.to_numpy(int),
                         "Part": 100.0 * counts.to_numpy(float) / total})


def _flag(s: pd.Series) -> pd.Series:
    """A nullable boolean column as True / False / NA (object)."""
    return s.astype("object").where(s.notna(), None)


def type_table(places: pd.DataFrame, labels=PLACE_TYPE_LABELS) -> pd.DataFrame:
    """Per type (French label): places, of which offering digital help, with known weekly hours,
    median weekly hours, open in the evening / on Saturday (among those whose hours are known)."""
    if places.empty:
        return pd.DataFrame(columns=["Type", "Lieux", "Accompagnement numérique", "Horaires connus", "Heures médianes",
                                     "Soirée", "Samedi"])
    df = pd.DataFrame({
        "Type": places["type"].astype("object").fillna("autre").map(lambda t: labels.get(t, t)),
        "help": places.get("offers_digital_help", pd.Series(False, index=places.index)).astype("object").fillna(False).astype(bool),
        "hours": pd.to_numeric(places.get("weekly_hours"), errors="coerce"),
        "evening": _flag(places.get("open_evening", pd.Series(pd.NA, index=places.index))),
        "saturday": _flag(places.get("open_saturday", pd.Series(pd.NA, index=places.index))),
    })
    g = df.groupby("Type", sort=False)
    out = pd.DataFrame({
        "Lieux": g.size(),
        "Accompagnement numérique": g["help"].sum(),
        "Horaires connus": g["hours"].count(),
        "Heures médianes": g["hours"].median(),
        "Soirée": g["evening"].agg(lambda s: int((s == True).sum())),  # noqa: E712 (object column)
        "Samedi": g["saturday"].agg(lambda s: int((s == True).sum())),  # noqa: E712
    })
    return out.sort_values("Lieux", ascending=False).reset_index()


def service_table(places: pd.DataFrame, labels=SERVICE_LABELS) -> pd.DataFrame:
    """Places declaring each service category (``Service``, ``Lieux``), in the catalogue's order."""
    services = places.get("services", pd.Series(dtype=object)).astype("object").fillna("")
    counts = {key: int(services.map(lambda s, k=key: k in str(s).split(";")).sum()) for key in labels}
    return pd.DataFrame({"Service": [labels[k] for k in counts], "Lieux": list(counts.values())})


def family_of(place_type: str) -> int:
    """Index in :data:`PLACE_FAMILIES` of a place type (unknown types go with médiation)."""
    for i, (_label, types, *_rest) in enumerate(PLACE_FAMILIES):
        if place_type in types:
            return i
    return 1


__all__ = ["FRESHNESS_CLASSES", "FRESHNESS_LABELS", "PLACE_FAMILIES", "parse_updated", "age_months", "freshness_label",
           "freshness_table", "type_table", "service_table", "family_of"]
