"""Observed activity of digital mediation per commune: what is actually served today.

Two semi-official exports made for ANCT's dashboards (read their SOURCES sections: neither is a
documented open-data release):

- **Conseillers numériques' activity reports (CRA)** summed by postal code of the activity
  (`places.load_cnfs_activity`): people accompanied by age group and by situation, cumulative
  from the start of the programme to 17 July 2023 (the period is not stated by the source). A
  postal code is carried to the communes that share it (COG 2025 ``codesPostaux``, then COG 2024
  codes): with several communes, its counts are split by their population
  (``share_c = population_c / Σ population of the code's communes``), flagged ``split``. Codes
  that are not 5 digits are dropped by the loader and counted; codes absent from the COG list, or
  whose communes are all outside the target communes, are reported, not silently lost.
- **Aidants Connect** habilitated structures (`places.load_aidants_connect`): unique users and
  procedures per structure, summed over the structures of each commune (COG 2024 code of the
  structure's commune; active and inactive structures alike: a closed structure's users were served).

A count of accompanied people is a count of people recorded in activity reports: the same person
seen in several sessions or by several conseillers may count more than once, and the same person
may be both a CnFS and an Aidants Connect user — the two are shown side by side, never added.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from loaders import RAW_DIR, geography, places

#: CnFS count columns of :func:`places.load_cnfs_activity` → pack columns
CNFS_COLUMNS = {
    "age_under_12": "cnfs_age_0_11", "age_12_18": "cnfs_age_12_17", "age_18_35": "cnfs_age_18_34",
    "age_35_60": "cnfs_age_35_59", "age_60_plus": "cnfs_age_60p", "students": "cnfs_students",
    "job_seekers": "cnfs_job_seekers", "employed": "cnfs_employed", "retired": "cnfs_retired",
    "mixed_groups": "cnfs_mixed_groups",
}
AGE_COLUMNS = ("cnfs_age_0_11", "cnfs_age_12_17", "cnfs_age_18_34", "cnfs_age_35_59", "cnfs_age_60p")


def postcode_communes(raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = ()) -> pd.DataFrame:
    """One row per (postal code, target commune): ``postcode``, ``code_commune`` (COG 2024),
    ``population`` (COG 2025 population of the 2025 commune), ``share`` of the postal code's
    population in that commune (Σ share = 1 per postal code) and ``n_communes``.

    Municipal arrondissements (Lyon 69381…) carry their own postal codes and land in their
    commune. A 2025 commune that covers several 2024 communes (merged in 2025) is split between
    them by their number (no population of 2024 in the file): flagged by ``n_communes`` > 1 as well.
    """
    path = Path(raw_dir) / geography.SOURCES["cog2025_communes"].raw_path
    recs = json.loads(path.read_text(encoding="utf-8"))
    rows = [(cp, r["code"], float(r.get("population") or 0.0)) for r in recs
            if r.get("type") in ("commune-actuelle", "arrondissement-municipal") for cp in r.get("codesPostaux") or ()]
    df = pd.DataFrame(rows, columns=["postcode", "code_2025", "population"])
    succ = geography.commune_successor_map(raw_dir, target_codes, codes=sorted(df["code_2025"].unique()))
    to_2024 = succ.dropna(subset=["code_commune"]).set_index("old_code")["code_commune"]
    df["code_commune"] = df["code_2025"].map(to_2024)
    df = df.dropna(subset=["code_commune"])
    df = df.groupby(["postcode", "code_commune"], as_index=False)["population"].sum()
    total = df.groupby("postcode")["population"].transform("sum")
    n = df.groupby("postcode")["code_commune"].transform("size")
    df["share"] = np.where(total > 0, df["population"] / total.where(total > 0), 1.0 / n)
    df["n_communes"] = n
    return df.sort_values(["postcode", "code_commune"], ignore_index=True)


def cnfs_by_commune(raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = ()) -> pd.DataFrame:
    """CnFS people accompanied per target commune (see module doc). Columns: ``code_commune``,
    :data:`CNFS_COLUMNS` values, ``cnfs_accompanied`` (Σ age groups), ``activity_split`` (bool:
    part of the counts came from a postal code shared with other communes).

    ``attrs["report"]``: rows and people in the file, dropped malformed codes, postal codes (and
    people) unknown to the COG or outside the targets, people allocated to the targets.
    """
    act = places.load_cnfs_activity(raw_dir)
    targets = list(target_codes)
    pc = postcode_communes(raw_dir, targets)
    people = act[[src for src, dst in CNFS_COLUMNS.items() if dst in AGE_COLUMNS]].sum(axis=1)
    inside = act["postcode"].isin(set(pc["postcode"]))
    merged = pc.merge(act, on="postcode", how="inner")
    for src, dst in CNFS_COLUMNS.items():
        merged[dst] = merged[src] * merged["share"]
    cols = list(CNFS_COLUMNS.values())
    out = merged.groupby("code_commune")[cols].sum()
    out["activity_split"] = merged.assign(s=merged["n_communes"] > 1).groupby("code_commune")["s"].any()
    out = out.reindex(pd.Index(sorted(set(targets)), name="code_commune"))
    out[cols] = out[cols].fillna(0.0)  # no activity report in a commune's postal codes: a true 0
    out["activity_split"] = out["activity_split"].fillna(False).astype(bool)
    out["cnfs_accompanied"] = out[list(AGE_COLUMNS)].sum(axis=1)
    out = out.reset_index()
    out.attrs["report"] = {
        "file_rows": int(len(act)), "file_people": float(people.sum()), "dropped_malformed_codes": int(act.attrs.get("dropped_rows", 0)),
        "postcodes_outside_targets": int((~inside).sum()), "people_outside_targets": float(people[~inside].sum()),
        "people_allocated": float(out["cnfs_accompanied"].sum()),
    }
    return out


def aidants_connect_by_commune(raw_dir: Path = RAW_DIR, target_codes: Iterable[str] = ()) -> pd.DataFrame:
    """Aidants Connect per target commune: ``ac_structures``, ``ac_users`` (unique users, summed over
    the structures), ``ac_procedures``. Structures of older commune codes are carried to COG 2024."""
    ac = places.load_aidants_connect(raw_dir)
    targets = list(target_codes)
    succ = geography.commune_successor_map(raw_dir, targets, codes=sorted(ac["code_commune"].dropna().unique()))
    to_2024 = succ.dropna(subset=["code_commune"]).set_index("old_code")["code_commune"]
    ac = ac.assign(code_2024=ac["code_commune"].map(to_2024))
    inside = ac["code_2024"].notna()
    out = ac[inside].groupby("code_2024").agg(ac_structures=("source_id", "size"), ac_users=("users", "sum"),
                                              ac_procedures=("procedures", "sum"))
    out = out.reindex(pd.Index(sorted(set(targets)), name="code_commune")).fillna(0.0).reset_index()
    out.attrs["report"] = {"structures": int(len(ac)), "structures_in_targets": int(inside.sum()),
                           "users_in_targets": float(ac.loc[inside, "users"].sum())}
    return out


__all__ = ["CNFS_COLUMNS", "AGE_COLUMNS", "postcode_communes", "cnfs_by_commune", "aidants_connect_by_commune"]
