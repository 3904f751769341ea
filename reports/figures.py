"""Key figures of a territory against its reference: the pure builders behind the Diagnostic
page, the Comparer and the diagnostic report (no Streamlit; ``ui.exports`` wraps them in caches).

Key figures (:func:`territory_figures`) come from **summed counts**, never from a mean of rates:

- rates = 100 × Σ numerator / Σ denominator, read from the territory's own row of the pack
  (``zones_epci`` …, whose counts are sums over the communes that publish *both* columns, with
  ``<group>_coverage`` = share of the population in those communes). Below
  :data:`MIN_COVERAGE` the rate would describe another population: it is shown as missing;
- people in need N = Σ need of the territory's communes (commune results of
  ``indicators.levels.compute_level``: one value per territory);
- hours per 1 000 people in need = 1 000 × Σ_j S_j / N over the places j whose commune is in the
  territory (S_j = weekly hours × staff, ``indicators.supply.capacity``): a plain ratio of the
  territory's own supply to its own need, without catchment (the map's E2SFCA access is per zone);
- population beyond t minutes = Σ population of the IRIS whose nearest place is more than t
  minutes away (straight line × detour ÷ speed, ``indicators.access.nearest_place``).

Missing values stay NaN with a French reason; they are never 0. Sources and vintages are read
from the manifest, never hard-coded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from indicators.definitions import ESTIMATED_STATUSES
from indicators.orientation import stale_share
from reports.labels import KIND_LEVEL, NEED_AXIS_TERCILES, NEED_LABELS, STATUS_LABELS, TERCILES, TERCILES_F
from reports.territory import zones_in
from ui.folium_map import NOT_AVAILABLE, format_fr
from ui.labels import PLACE_TYPE_LABELS

#: a rate is shown only when the communes that publish it hold at least this share of the population
MIN_COVERAGE = 0.5

#: rate figures: key → (label, numerator, denominator, status group, complement?)
RATE_FIGURES = {
    "poverty": ("Taux de pauvreté (seuil 60 %)", "poor_persons", "fiscal_persons", "poverty", False),
    "unemployment": ("Taux de chômage des 15–64 ans", "unemployed_1564", "active_1564", "unemployment", False),
    "age65": ("Part des 65 ans ou plus parmi les 15 ans ou plus", "pop15p_65p", "pop15p", "age15p", False),
    "low_diploma": ("Peu ou pas diplômés (au plus CAP-BEP) parmi les 15 ans ou plus", "pop15p_lowdip", "pop15p_dipl", "diploma15p", False),
    "thd": ("Locaux éligibles au très haut débit (≥ 30 Mbit/s)", "thd_premises", "premises_2019", "thd", False),
    "ftth": ("Locaux raccordables à la fibre (FttH)", "ftth_premises", "premises_total", "ftth", False),
}
#: order and labels of every key figure (the Comparer shows the same list)
FIGURE_LABELS = {
    "population": "Population",
    "need": "Personnes en besoin d'accompagnement",
    **{k: v[0] for k, v in RATE_FIGURES.items()},
    "poverty_published": "Taux de pauvreté publié pour l'EPCI",
    "places": "Lieux d'accueil et structures",
    "france_services": "Sites France Services",
    "hours_per_1000": "Heures d'accompagnement par semaine pour 1 000 personnes en besoin",
    "pop_beyond_15": "Population à plus de 15 min du lieu le plus proche",
    "pop_beyond_30": "Population à plus de 30 min du lieu le plus proche",
    "stale_places": "Lieux dont la fiche date de 18 mois ou plus (ou sans date)",
    "accompanied_per_1000": "Personnes accompagnées par les conseillers numériques pour 1 000 personnes en besoin",
    "ac_users_per_1000": "Usagers Aidants Connect pour 1 000 personnes en besoin",
}
#: caveat of the observed-activity figures (the same words as the map: ui.compute.ACTIVITY_CAVEAT)
ACTIVITY_NOTE = (
    "comptes rendus d'activité des conseillers numériques cumulés jusqu'en juillet 2023 (début non précisé), par code "
    "postal réparti entre ses communes selon leur population ; une personne vue plusieurs fois peut compter plusieurs "
    "fois ; part du besoin accompagnée, pas un taux de couverture"
)
FIGURE_COLUMNS = ["key", "label", "value", "unit", "decimals", "source", "note", "estimated_share"]
#: how the estimated part of a figure was made, per status group (shown in the figure's note)
ESTIMATE_NOTES = {
    "poverty": "communes sous secret statistique : taux estimé par un modèle du revenu médian, calé sur le taux publié de l'EPCI quand il existe",
    "age15p": "IRIS : structure RP2016",
    "diploma15p": "IRIS : taux de la commune",
    "thd": "IRIS : taux de la commune",
    "ftth": "IRIS : taux de la commune",
}


# ---------------------------------------------------------------------------------------------
# Sources (from the manifest, never hard-coded)
# ---------------------------------------------------------------------------------------------


def source_entries(manifest: Mapping, keys: Sequence[str]) -> list[dict]:
    """Manifest sources for ``keys``: exact key, else the sources whose key starts with it."""
    sources = manifest.get("sources", {})
    out = []
    for k in keys:
        if k in sources:
            out.append(sources[k])
        else:
            out.extend(v for s, v in sorted(sources.items()) if s.startswith(k))
    return out


def source_line(manifest: Mapping, group: str) -> str:
    """'producer(s) — vintage' of an indicator group of the manifest ('' if the group is unknown)."""
    meta = manifest.get("indicators", {}).get(group)
    if not meta:
        return ""
    producers = ", ".join(dict.fromkeys(s["producer"] for s in source_entries(manifest, meta.get("sources", []))))
    return f"{producers} — {meta['vintage']}" if producers else meta["vintage"]


def places_source(manifest: Mapping, places: pd.DataFrame) -> str:
    """'ANCT (juillet 2022, 1er août 2024) ; Hinaura (…)': producers (without their parenthesised
    detail) and vintages of the manifest sources that list at least one of ``places``."""
    keys = sorted({k for v in places.get("sources", pd.Series(dtype=object)).dropna() for k in str(v).split(";") if k})
    srcs = manifest.get("sources", {})
    by_producer: dict[str, list[str]] = {}
    for k in keys:
        if k in srcs:
            producer = re.sub(r"\s*\([^)]*\)", "", srcs[k]["producer"]).strip() or srcs[k]["producer"]
            by_producer.setdefault(producer, []).append(srcs[k]["vintage"])
    parts = [f"{p} ({', '.join(dict.fromkeys(v))})" for p, v in sorted(by_producer.items())]
    if any(k not in srcs for k in keys):
        parts.append("lieux importés dans cette session")
    return " ; ".join(parts) or "aucun lieu"


# ---------------------------------------------------------------------------------------------
# Key figures
# ---------------------------------------------------------------------------------------------


def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(float, na_value=np.nan)


def _value(row: pd.Series | None, col: str) -> float:
    if row is None or col not in row.index:
        return np.nan
    v = pd.to_numeric(pd.Series([row[col]]), errors="coerce").iloc[0]
    return float(v) if pd.notna(v) else np.nan


def _pct(x: float) -> str:
    return format_fr(100.0 * x, 0 if x >= 0.1 else 1) + " %"


def _missing_communes(communes: pd.DataFrame, group: str, cols: Sequence[str]) -> str:
    """'secret statistique (INSEE) : 12 communes, …' for the communes lacking one of ``cols``."""
    present = [c for c in cols if c in communes.columns]
    if not present:
        return "colonnes absentes du jeu de données"
    miss = communes[present].isna().any(axis=1)
    if not miss.any():
        return ""
    status_col = f"{group}_status"
    statuses = communes.loc[miss, status_col].astype("object").fillna("absent") if status_col in communes else pd.Series("absent", index=communes.index[miss])
    counts = statuses.value_counts()
    parts = []
    for status, n in counts.items():
        label = STATUS_LABELS.get(status, "donnée absente" if status == "absent" else status)
        names = communes.loc[statuses.index[statuses == status], "name"].astype(str).tolist()
        who = f" : {', '.join(names)}" if n <= 3 else ""
        parts.append(f"{label}{who}" if len(counts) == 1 else f"{label} : {format_fr(n, 0)}{who}")
    n_miss = int(miss.sum())
    return f"{format_fr(n_miss, 0)} commune{'s' if n_miss > 1 else ''} sur {format_fr(len(communes), 0)} sans valeur ({' ; '.join(parts)})"


def _scope(all_communes: pd.DataFrame | None, column: str) -> str:
    """Names of the EPCI whose communes carry ``column`` in the pack (age and diploma counts exist
    for a few metropolises only)."""
    if all_communes is None or column not in all_communes or "epci_name" not in all_communes:
        return ""
    names = sorted(all_communes.loc[all_communes[column].notna(), "epci_name"].dropna().astype(str).unique())
    return ", ".join(names)


def _estimated_share(row: pd.Series | None, communes: pd.DataFrame, group: str, num: str) -> float:
    """Share (0–1) of a figure's numerator that rests on estimates: the aggregated row's
    ``<group>_estimated_share``, else the communes' statuses weighted by their numerator."""
    share = _value(row, f"{group}_estimated_share")
    if np.isfinite(share):
        return share
    status = f"{group}_status"
    if status not in communes or num not in communes:
        return 0.0
    v = np.nan_to_num(_num(communes, num))
    est = communes[status].astype("object").isin(ESTIMATED_STATUSES).to_numpy()
    return float(v[est].sum() / v.sum()) if v.sum() > 0 else 0.0


def _rate_figure(key: str, row: pd.Series | None, communes: pd.DataFrame, manifest: Mapping,
                 all_communes: pd.DataFrame | None) -> dict:
    label, num, den, group, _ = RATE_FIGURES[key]
    n, d = _value(row, num), _value(row, den)
    source = source_line(manifest, group)
    notes = []
    vint_col = {"unemployment": "unemployment_vintage", "age65": "age15p_vintage", "low_diploma": "diploma15p_vintage"}.get(key)
    if vint_col and vint_col in communes:
        vint = sorted({v for s in communes[vint_col].dropna().astype(str) for v in s.split(";") if v})
        if vint:
            notes.append(f"millésime ici : {', '.join(vint)}")
    missing = _missing_communes(communes, group, (num, den))
    cov = _value(row, f"{group}_coverage")
    if not np.isfinite(cov):  # commune rows have no coverage column: all or nothing
        cov = 1.0 if np.isfinite(n) and np.isfinite(d) else 0.0
    value, est = np.nan, np.nan
    if np.isfinite(n) and np.isfinite(d) and d > 0 and cov >= MIN_COVERAGE:
        value = 100.0 * n / d
        est = _estimated_share(row, communes, group, num)
        if est > 0.0005:
            notes.append(f"dont {_pct(est)} estimé ({ESTIMATE_NOTES.get(group, 'voir Données & méthode')})")
        if cov < 0.9995 or missing:
            notes.append(f"calculé sur les communes qui ont la donnée ({_pct(cov)} de la population) ; {missing}")
    else:
        reason = (f"non disponible : les communes qui ont la donnée ne font que {_pct(cov)} de la population"
                  if np.isfinite(n) and np.isfinite(d) and d > 0 else "non disponible")
        notes.append(reason + (f" ; {missing}" if missing else ""))
        if group in ("age", "diploma"):
            scope = _scope(all_communes, num)
            if scope:
                notes.append(f"le jeu de données n'a ces comptes que pour : {scope}")
    return {"key": key, "label": label, "value": value, "unit": "%", "decimals": 1, "source": source,
            "note": " ; ".join(notes), "estimated_share": est}


def _population_figure(row, communes: pd.DataFrame, manifest: Mapping) -> dict:
    vintages = sorted(communes.get("population_vintage", pd.Series(dtype=object)).dropna().astype(str).unique())
    miss = _missing_communes(communes, "population", ("population",))
    note = f"recensement {', '.join(vintages)} selon les communes (somme des populations communales)" if vintages else ""
    if miss:
        note = (note + " ; " if note else "") + miss
    return {"key": "population", "label": FIGURE_LABELS["population"], "value": _value(row, "population"), "unit": "habitants",
            "decimals": 0, "source": source_line(manifest, "population"), "note": note, "estimated_share": 0.0}


def _need_figure(res: pd.DataFrame, need_source: str) -> dict:
    """Σ people in need of the territory's communes (each the sum of its IRIS: one value per
    territory), with the share resting on estimates."""
    need = _num(res, "need")
    ok = np.isfinite(need)
    need_sum = float(need[ok].sum()) if ok.any() else np.nan
    notes, share = [], 0.0
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} commune(s) sans estimation (population absente), non comptée(s)")
    if "need_estimated" in res.columns and ok.any() and need_sum > 0:
        share = float((need[ok] * np.nan_to_num(_num(res, "need_estimated")[ok])).sum() / need_sum)
        if share > 0.0005:
            notes.append(f"dont {_pct(share)} repose sur des données estimées (communes sous secret statistique, "
                         "valeurs de la commune données à ses IRIS)")
    return {"key": "need", "label": FIGURE_LABELS["need"], "value": need_sum, "unit": "personnes", "decimals": 0,
            "source": need_source, "note": " ; ".join(notes), "estimated_share": share}


def _published_poverty_figure(row, summed: float, manifest: Mapping) -> dict:
    """The EPCI's own published rate beside the sum of its communes, and what the gap means."""
    pub = _value(row, "poverty_rate_published")
    src = manifest.get("sources", {}).get("comparateur_rp2022_gam", {})
    if np.isfinite(pub):
        note = (f"somme des communes : {format_fr(summed, 1)} % ; les communes sous secret statistique y sont estimées en "
                "se calant sur ce taux publié (ce qu'il laisse une fois comptées les communes qui publient le leur), "
                "d'où l'accord des deux chiffres")
    else:
        note = "non publié pour cet EPCI dans le jeu de données"
    return {"key": "poverty_published", "label": FIGURE_LABELS["poverty_published"], "value": pub, "unit": "%", "decimals": 1,
            "source": f"{src.get('producer', '')} — {src.get('vintage', '')}".strip(" —") if src else source_line(manifest, "poverty"),
            "note": note, "estimated_share": 0.0}


def places_in(places: pd.DataFrame, commune_codes) -> pd.DataFrame:
    """The places whose commune is one of ``commune_codes``: « the territory's places » of every
    figure, of the report and of the map's caption (none when the table has no commune column)."""
    if "code_commune" not in places:
        return places.iloc[:0]
    return places[places["code_commune"].astype("object").isin(set(map(str, commune_codes)))]


def _places_figures(communes: pd.DataFrame, places: pd.DataFrame, capacities: pd.DataFrame, manifest: Mapping,
                    need_sum: float) -> list[dict]:
    here = places_in(places, communes["code"])
    psrc = places_source(manifest, here)
    figs = [{"key": "places", "label": FIGURE_LABELS["places"], "value": float(len(here)), "unit": "lieux", "decimals": 0,
             "source": psrc, "note": "lieux dont l'adresse est dans le territoire (tous types, bibliothèques comprises, après dédoublonnage)",
             "estimated_share": 0.0}]
    fs = here[here["type"].astype("object") == "france_services"]
    figs.append({"key": "france_services", "label": FIGURE_LABELS["france_services"], "value": float(len(fs)), "unit": "sites",
                 "decimals": 0, "source": places_source(manifest, fs), "estimated_share": 0.0,
                 "note": "y compris les bus France services (adresse du porteur : non comptés dans l'accessibilité)"})
    caps = capacities.drop_duplicates("place_id").set_index("place_id") if len(capacities) else pd.DataFrame(columns=["capacity"])
    cap = pd.to_numeric(caps["capacity"].reindex(here["place_id"].astype("object")), errors="coerce")
    hnotes = ["rapport simple offre du territoire ÷ besoin du territoire, sans zone de chalandise"]
    if cap.isna().any():
        hnotes.append(f"{int(cap.isna().sum())} lieu(x) sans capacité (hors accompagnement, itinérants : non retenus)")
    share = 0.0
    if "capacity_source" in caps:
        dflt = caps["capacity_source"].reindex(here["place_id"].astype("object")).astype("object").fillna("").str.contains("default_hours")
        if dflt.any():
            hnotes.append(f"horaires par défaut pour {int(dflt.sum())} lieu(x) sur {int(cap.notna().sum())}")
            share = float(cap[dflt.to_numpy()].sum() / cap.sum()) if cap.sum() > 0 else 0.0
    hours = 1000.0 * float(cap.sum()) / need_sum if np.isfinite(need_sum) and need_sum > 0 else np.nan
    if not np.isfinite(hours):
        hnotes.insert(0, "non disponible : besoin nul ou non estimé")
    figs.append({"key": "hours_per_1000", "label": FIGURE_LABELS["hours_per_1000"], "value": hours, "unit": "h / sem.",
                 "decimals": 1, "source": f"heures d'ouverture × personnel des lieux, valeurs par défaut par type sinon ; lieux : {psrc}",
                 "note": " ; ".join(hnotes), "estimated_share": share})
    return figs


def _beyond_figures(res: pd.DataFrame, communes: pd.DataFrame) -> list[dict]:
    """Residents beyond 15 / 30 minutes of the nearest place: Σ over the IRIS (``pop_beyond_<t>``
    of the level results), else from the communes' own times."""
    p = _num(communes, "population")
    total = float(np.nansum(p))
    figs = []
    for minutes in (15, 30):
        col = f"pop_beyond_{minutes}"
        if col in res.columns:
            beyond = float(np.nansum(_num(res, col))) if np.isfinite(_num(res, col)).any() else np.nan
        else:
            t = _num(res, "nearest_time_min")
            known = np.isfinite(t) & np.isfinite(p)
            beyond = float(p[known & (t > minutes)].sum()) if known.any() else np.nan
        bnote = f"{_pct(beyond / total)} de la population" if np.isfinite(beyond) and total > 0 else ""
        figs.append({"key": f"pop_beyond_{minutes}", "label": FIGURE_LABELS[f"pop_beyond_{minutes}"], "value": beyond,
                     "unit": "habitants", "decimals": 0, "estimated_share": 0.0,
                     "source": "temps estimé pour chaque IRIS : distance à vol d'oiseau × détour ÷ vitesse (à pied en zone dense, "
                               "en voiture ailleurs ; transports en commun non modélisés)",
                     "note": bnote})
    return figs


def _stale_figure(communes: pd.DataFrame, places: pd.DataFrame, manifest: Mapping, today: date | None = None) -> dict:
    """Share of the territory's places whose record is 18 months old or more, or undated (the
    « à actualiser » badge of Orienter and the map popups: indicators.orientation.stale_share)."""
    here = places_in(places, communes["code"])
    share = stale_share(here, today or date.today()) if "updated" in here and len(here) else np.nan
    return {"key": "stale_places", "label": FIGURE_LABELS["stale_places"], "value": 100.0 * share, "unit": "%", "decimals": 0,
            "source": f"date de mise à jour publiée par chaque source ; lieux : {places_source(manifest, here)}",
            "note": "à vérifier auprès des lieux avant d'y orienter quelqu'un", "estimated_share": 0.0}


def _activity_figures(row, communes: pd.DataFrame, need_sum: float, manifest: Mapping) -> list[dict]:
    """People accompanied (CnFS) and Aidants Connect users per 1 000 people in need: Σ over the
    territory's communes over the territory's people in need (:mod:`indicators.activity`)."""
    out = []
    for key, col in (("accompanied_per_1000", "cnfs_accompanied"), ("ac_users_per_1000", "ac_users")):
        total = float(np.nansum(_num(communes, col))) if col in communes else np.nan
        value = 1000.0 * total / need_sum if np.isfinite(total) and np.isfinite(need_sum) and need_sum > 0 else np.nan
        note = ACTIVITY_NOTE if key == "accompanied_per_1000" else "usagers uniques des structures habilitées, au 12/02/2024 ; montrés à part, jamais ajoutés aux précédents"
        out.append({"key": key, "label": FIGURE_LABELS[key], "value": value, "unit": "pour 1 000", "decimals": 0 if key == "accompanied_per_1000" else 1,
                    "source": source_line(manifest, "activity"), "note": note, "estimated_share": 0.0})
    return out


def territory_figures(
    kind: str,
    row: pd.Series | None,
    communes: pd.DataFrame,
    commune_results: pd.DataFrame,
    places: pd.DataFrame,
    capacities: pd.DataFrame,
    manifest: Mapping,
    *,
    need_source: str = "",
    all_communes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Key figures of one territory (see module doc), one row per figure (:data:`FIGURE_COLUMNS`).

    ``row``: the territory's own row of its pack table (``zones_epci`` …; the commune row for a
    commune). ``communes``: its rows of ``zones_commune``; ``commune_results``: the commune-level
    results of :func:`indicators.levels.compute_level` (same index as the pack's commune table,
    columns ``need``, ``need_estimated``, ``pop_beyond_15`` …). ``places``: places with
    ``place_id``, ``type``, ``code_commune``, ``sources``; ``capacities``: ``place_id``,
    ``capacity``, ``capacity_source``. ``all_communes``: the whole commune table, to say where the
    age / diploma counts exist. ``estimated_share``: share of each figure resting on estimates.
    """
    res = commune_results.reindex(communes.index)
    figs = [_population_figure(row, communes, manifest), _need_figure(res, need_source)]
    for key in RATE_FIGURES:
        figs.append(_rate_figure(key, row, communes, manifest, all_communes))
        if key == "poverty" and kind == "epci":
            figs.append(_published_poverty_figure(row, figs[-1]["value"], manifest))
    figs += _places_figures(communes, places, capacities, manifest, figs[1]["value"])
    figs += _beyond_figures(res, communes)
    figs.append(_stale_figure(communes, places, manifest))
    figs += _activity_figures(row, communes, figs[1]["value"], manifest)
    return pd.DataFrame(figs, columns=FIGURE_COLUMNS)


def figure_text(value: float, unit: str, decimals: int) -> str:
    """'449 509', '16,4 %' (French format); missing → 'n.d.'."""
    if pd.isna(value):
        return NOT_AVAILABLE
    s = format_fr(value, int(decimals))
    return f"{s} %" if unit == "%" else s


def places_by_type(places: pd.DataFrame, commune_codes, labels: Mapping[str, str] = PLACE_TYPE_LABELS) -> pd.Series:
    """Number of places per (labelled) type among those whose ``code_commune`` is in ``commune_codes``."""
    here = places_in(places, commune_codes)
    counts = here["type"].astype("object").fillna("autre").value_counts()
    counts.index = [labels.get(k, k) for k in counts.index]
    return counts.groupby(level=0).sum().sort_values(ascending=False).rename("Lieux")


def _bivariate_terciles(c) -> tuple[int, int] | None:
    """``'n-a'`` → (need tercile, access tercile), each 1–3; None when missing or malformed."""
    if not isinstance(c, str) or "-" not in c:
        return None
    n, _, a = c.partition("-")
    if not (n.isdigit() and a.isdigit() and 1 <= int(n) <= 3 and 1 <= int(a) <= 3):
        return None
    return int(n), int(a)


def bivariate_label(c, need: str = "score") -> str:
    """Class of the 3 × 3 need × access map, ``'n-a'`` (terciles 1–3, as ``compute_all`` gives
    it), → 'fragilité forte · accès faible' (the need axis named after ``Config.bivariate_need``);
    missing ('' or NaN) → 'n.d.'."""
    t = _bivariate_terciles(c)
    return f"{NEED_AXIS_TERCILES[need][t[0] - 1]} · accès {TERCILES[t[1] - 1]}" if t else NOT_AVAILABLE


def bivariate_short(c) -> str:
    """The same class for a narrow column headed « Fragilité · accès »: 'forte · faible'."""
    t = _bivariate_terciles(c)
    return f"{TERCILES_F[t[0] - 1]} · {TERCILES[t[1] - 1]}" if t else NOT_AVAILABLE


def need_source(manifest: Mapping, need_model: str) -> str:
    """Source line of the people-in-need estimate for a need model."""
    group = "poverty" if need_model == "precarity" else "age"
    return f"{NEED_LABELS.get(need_model, need_model)} ; {source_line(manifest, group)}"


def key_figures_for(pack: Mapping, key: str, config, results, places: pd.DataFrame) -> pd.DataFrame:
    """Key figures of territory ``key`` (``kind:code``) — what the Diagnostic page, the Comparer
    and the report show: :func:`territory_figures` on the commune results ``results("commune")``
    (``(zone results, place capacities)`` of :func:`indicators.levels.compute_level`), the
    territory's own pack row and its communes; ``places``: every place without geometry."""
    kind, code = key.split(":", 1)
    res, caps = results("commune")
    own = zones_in(pack, kind, code, KIND_LEVEL[kind])
    communes = zones_in(pack, kind, code, "commune")
    return territory_figures(
        kind, own.iloc[0] if len(own) else None, communes, res, places, caps, pack["manifest"],
        need_source=need_source(pack["manifest"], config.need_model), all_communes=pack["commune"],
    )


def score_shares(scores) -> pd.DataFrame:
    """Share of zones (%) per unit of the fragility index (0–1, 1–2 … 9–10): ``classe``, ``part``,
    ``zones``; empty when no zone is scored."""
    score = pd.to_numeric(pd.Series(scores), errors="coerce").dropna()
    if score.empty:
        return pd.DataFrame(columns=["classe", "part", "zones"])
    bins = np.clip(np.floor(score.to_numpy()), 0, 9).astype(int)
    counts = np.bincount(bins, minlength=10)
    return pd.DataFrame({"classe": [f"{i}–{i + 1}" for i in range(10)], "part": 100.0 * counts / counts.sum(), "zones": counts})


def score_shares_note(shares: pd.DataFrame, name: str, index_reference: str) -> str:
    """Why the bars of :func:`score_shares` are not flat, with the tallest bar of ``name`` (French):
    each indicator is scored 1–10 by deciles over the index's reference zones, and the index is the
    weighted mean of these notes, which gathers around the middle of the scale."""
    text = (f"Chaque indicateur est noté de 1 à 10 par déciles de ses valeurs sur les zones de la référence de l'indice "
            f"({index_reference}) ; l'indice est la moyenne pondérée de ces notes. Une moyenne de notes se resserre vers "
            "le milieu de l'échelle : la répartition n'est donc pas plate, même sur la référence")
    if shares.empty or not np.isfinite(pd.to_numeric(shares["part"], errors="coerce")).any():
        return text + "."
    peak = shares.loc[pd.to_numeric(shares["part"], errors="coerce").idxmax()]
    return text + (f" — la classe la plus fréquente de {name}, {peak['classe']}, regroupe {format_fr(peak['part'], 0)} % "
                   f"de ses zones ({format_fr(peak['zones'], 0)} sur {format_fr(shares['zones'].sum(), 0)}).")


__all__ = [
    "MIN_COVERAGE", "source_entries", "RATE_FIGURES", "FIGURE_LABELS", "FIGURE_COLUMNS", "ESTIMATE_NOTES", "source_line", "places_source",
    "territory_figures", "figure_text", "places_in", "places_by_type", "bivariate_label", "bivariate_short", "need_source", "key_figures_for", "score_shares",
    "score_shares_note",
]
