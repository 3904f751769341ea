"""Served today: observed accompaniments against the need — the pack's activity columns
(:mod:`loaders.activity`) over the people in need of :mod:`indicators.levels`.

- accompanied per 1 000 people in need: 1 000 × cnfs_accompanied_z / N_z (conseillers
  numériques' activity reports, cumulative to July 2023);
- Aidants Connect users per 1 000 people in need: 1 000 × ac_users_z / N_z, alongside, never added
  (the same person may be in both);
- need × observed activity (3 × 3): need tercile × activity tercile over the zones that have both
  (as the need × access classes, :func:`indicators.unmet.bivariate_terciles`): « 3-1 » = high
  need, low observed activity.

NaN where the zone has no activity column (IRIS: the counts exist by postal code, i.e. by
commune at best) or no need (N = 0 or missing): never 0 for « unknown ».
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .unmet import bivariate_terciles

PER = 1000.0


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(float, na_value=np.nan)


def activity_columns(zones: pd.DataFrame, need, need_measure) -> pd.DataFrame:
    """``accompanied_per_1000``, ``ac_users_per_1000``, ``activity_need_tercile``,
    ``activity_tercile``, ``bivariate_activity_class`` for the zones (same index)."""
    N = np.asarray(need, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(N > 0, PER * _col(zones, "cnfs_accompanied") / N, np.nan)
        ac = np.where(N > 0, PER * _col(zones, "ac_users") / N, np.nan)
    nt, at, cls = bivariate_terciles(need_measure, acc)
    return pd.DataFrame({"accompanied_per_1000": acc, "ac_users_per_1000": ac, "activity_need_tercile": nt,
                         "activity_tercile": at, "bivariate_activity_class": cls}, index=zones.index)


@dataclass(frozen=True)
class ObservedRate:
    """People accompanied per weekly hour of support observed in a territory (or None parts)."""

    accompanied: float  # Σ CnFS people accompanied of the territory's communes (cumulative)
    weekly_hours: float  # Σ weekly hours × staff of the territory's conseiller numérique places
    n_places: int

    @property
    def per_weekly_hour(self) -> float:
        return self.accompanied / self.weekly_hours if self.weekly_hours > 0 else float("nan")

    def site_capacity(self, weekly_hours: float, staff: float) -> float:
        """People a new site of ``weekly_hours`` × ``staff`` would accompany at the observed rate."""
        return self.per_weekly_hour * weekly_hours * staff


def observed_rate(communes: pd.DataFrame, places: pd.DataFrame, capacities: pd.DataFrame,
                  source_marker: str = "cnfs") -> ObservedRate:
    """r = Σ_c cnfs_accompanied_c / Σ_j S_j over the territory's communes c and its places j listed
    by the conseiller numérique sources (``sources`` contains ``source_marker``), S_j = weekly hours ×
    staff (:func:`indicators.supply.capacity`). The activity reports are cumulative (programme start
    to July 2023), so r is « people accompanied so far per weekly hour offered today », not a
    yearly rate: it checks the order of magnitude of a new site's assumed capacity."""
    codes = set(communes["code"].astype(str))
    here = places["code_commune"].astype("object").isin(codes) & places["sources"].astype("string").str.contains(source_marker, regex=False).fillna(False)
    ids = places.loc[here, "place_id"].astype(str)
    cap = capacities.drop_duplicates("place_id").set_index("place_id")["capacity"].reindex(ids)
    return ObservedRate(float(np.nansum(_col(communes, "cnfs_accompanied"))), float(cap.fillna(0.0).sum()), int(cap.notna().sum()))


#: profile of the people accompanied: (pack column, French label, kind)
PROFILE = (
    ("cnfs_age_0_11", "moins de 12 ans", "âge"), ("cnfs_age_12_17", "12–17 ans", "âge"), ("cnfs_age_18_34", "18–34 ans", "âge"),
    ("cnfs_age_35_59", "35–59 ans", "âge"), ("cnfs_age_60p", "60 ans ou plus", "âge"),
    ("cnfs_students", "étudiants", "situation"), ("cnfs_job_seekers", "sans emploi", "situation"),
    ("cnfs_employed", "en emploi", "situation"), ("cnfs_retired", "retraités", "situation"),
    ("cnfs_mixed_groups", "groupes mixtes", "situation"),
)


def activity_profile(communes: pd.DataFrame) -> pd.DataFrame:
    """People accompanied by the conseillers numériques of the communes, by age group and by
    situation: ``kind``, ``group``, ``people`` (Σ over the communes), ``share`` (% within the kind;
    each kind sums to 100 %)."""
    rows = [(kind, label, float(np.nansum(_col(communes, col)))) for col, label, kind in PROFILE]
    df = pd.DataFrame(rows, columns=["kind", "group", "people"])
    total = df.groupby("kind")["people"].transform("sum")
    df["share"] = np.where(total > 0, 100.0 * df["people"] / total.where(total > 0), np.nan)
    return df


__all__ = ["activity_columns", "ObservedRate", "observed_rate", "PROFILE", "activity_profile"]
