"""Sections 7 to 9 of the report: saved planning scenarios, strengths and points of attention,
annexes (method with formulas, sources, estimates, indicator dictionary).

Strengths and points of attention (:func:`findings`) compare each figure with the reference:
a gap counts when it is at least :data:`RELATIVE_GAP` of the reference value and at least
:data:`MIN_POINTS` percentage points for a rate. Each becomes a plain sentence that names both
values, for a person to edit; a few facts about the data (estimated share, freshness of the
places) are added to the points of attention.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from indicators import CATALOGUE
from reports.common import GEOMETRY_SOURCES, Captions, fr, index_groups, pct, plural, share_pct, total
from reports.context import ReportContext
from reports.document import Block, BulletList, Heading, Paragraph, Runs, Table, md, plain, runs
from reports.figures import figure_text, source_entries
from reports.labels import LEVEL_NOUNS
from reports.method_text import markdown_blocks
from reports.offer import freshness_table
from reports.sections import nb
from reports.tables import ZONE_COLUMN_LABELS
from ui.method import METHOD_MD, estimates_table

RELATIVE_GAP = 0.15
MIN_POINTS = 1.0
#: figure key → +1 when a higher value is better for the territory, −1 when it is worse
DIRECTIONS = {"poverty": -1, "unemployment": -1, "age65": -1, "low_diploma": -1, "thd": 1, "ftth": 1, "hours_per_1000": 1}
MODEL_LABELS = {"mclp": "couverture maximale (MCLP)", "pmedian": "p-médiane", "lscp": "couverture totale (LSCP)",
                "mclp_capacity": "couverture avec capacité"}
SITE_KINDS = {"commune_centre": "centre de commune", "qpv": "quartier prioritaire", "point": "point choisi sur la carte",
              "place": "lieu existant"}


# -- 7. scenarios -------------------------------------------------------------------------------


def _scenario_blocks(record: Mapping) -> list[Block]:
    p = record["payload"]
    res = p.get("results", {})
    sites = sorted(p.get("chosen_sites", []), key=lambda s: s.get("rank") or 0)
    edits = p.get("edits", {})
    date = str(record.get("updated", ""))[:10]
    intro = runs(f"Modèle : {MODEL_LABELS.get(p.get('model'), p.get('model'))}, {plural(int(p.get('p') or 0), 'nouveau lieu', 'nouveaux lieux')} "
                 f"demandé(s), temps d'accès visé {fr(p.get('service_time'))} min ; enregistré le {date}.")
    if edits.get("removed") or edits.get("edited"):
        intro += runs(f" Modifications : {plural(len(edits.get('removed', [])), 'lieu fermé', 'lieux fermés')}, "
                      f"{plural(len(edits.get('edited', [])), 'lieu modifié', 'lieux modifiés')}.")
    srows = tuple((fr(s.get("rank")), str(s.get("name", "")), SITE_KINDS.get(s.get("kind"), str(s.get("kind", ""))),
                   fr(s.get("newly_covered"))) for s in sites)
    before_after = (
        ("Personnes en besoin à portée", fr(res.get("covered_before")), fr(res.get("covered_after")),
         fr(_diff(res.get("covered_after"), res.get("covered_before")))),
        ("Besoin non couvert (personnes)", fr(res.get("unmet_need_before")), fr(res.get("unmet_need_after")),
         fr(_diff(res.get("unmet_need_after"), res.get("unmet_need_before")))),
        ("Accessibilité moyenne (h / sem. pour 1 000)", fr(_k(res.get("access_before")), 2), fr(_k(res.get("access_after")), 2),
         fr(_diff(_k(res.get("access_after")), _k(res.get("access_before"))), 2)),
    )
    return [Heading(f"Scénario « {record['name']} »", 3), Paragraph(intro),
            Table(("Rang", "Emplacement proposé", "Type", "Personnes nouvellement à portée"), srows, (0.08, 0.47, 0.25, 0.2), "rllr", small=True),
            Table(("", "Avant", "Après", "Écart"), before_after, (0.46, 0.18, 0.18, 0.18), "lrrr", small=True)]


def _k(v) -> float:
    return 1000.0 * float(v) if v is not None else np.nan


def _diff(a, b) -> float:
    return float(a) - float(b) if a is not None and b is not None else np.nan


def scenarios_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """7. The planning scenarios saved for this territory (Implantation page), if any."""
    out: list[Block] = [Heading("7. Scénarios d'implantation")]
    if ctx.scenarios_problem:
        out.append(Paragraph(plain(f"Scénarios non repris : {ctx.scenarios_problem}."), "note"))
    if not ctx.scenarios:
        return out + [Paragraph(plain("Aucun scénario d'implantation n'est enregistré pour ce territoire dans l'espace de travail. "
                                      "La page Implantation de l'outil calcule où de nouveaux lieux aideraient le plus et "
                                      "enregistre les scénarios : ils apparaîtront ici."))]
    out.append(Paragraph(plain(f"{plural(len(ctx.scenarios), 'scénario enregistré', 'scénarios enregistrés')} pour ce territoire "
                               "(page Implantation). « À portée » : personnes en besoin à moins du temps visé d'un lieu ouvert ; "
                               "les lieux existants restent ouverts.")))
    for record in ctx.scenarios:
        out += _scenario_blocks(record)
    return out


# -- 8. strengths and points of attention -------------------------------------------------------


def _gap_sentence(label: str, v: str, r: str, ref_name: str, above: bool) -> Runs:
    where = "nettement au-dessus" if above else "nettement au-dessous"
    return runs(f"{label} : {v}, {where} de la référence ({ref_name} : {r}).")


def _compare(ctx: ReportContext) -> tuple[list[Runs], list[Runs]]:
    """Figures far from the reference, as (strengths, points of attention)."""
    good, bad = [], []
    for key, direction in DIRECTIONS.items():
        v, r = ctx.value(key), ctx.value(key, True)
        if not (np.isfinite(v) and np.isfinite(r)) or r == 0:
            continue
        f, fr_ = ctx.figures.loc[key], ctx.ref_figures.loc[key]
        gap = v - r
        if abs(gap) < RELATIVE_GAP * abs(r) or (f["unit"] == "%" and abs(gap) < MIN_POINTS):
            continue
        sentence = _gap_sentence(str(f["label"]), nb(figure_text(v, f["unit"], f["decimals"])),
                                 nb(figure_text(r, fr_["unit"], fr_["decimals"])), ctx.ref_name, gap > 0)
        (good if gap * direction > 0 else bad).append(sentence)
    share, ref_share = (ctx.value("pop_beyond_30", ref) / ctx.value("population", ref) for ref in (False, True))
    if np.isfinite(share) and np.isfinite(ref_share) and abs(share - ref_share) >= RELATIVE_GAP * max(ref_share, 1e-9) and abs(share - ref_share) >= 0.01:
        target = good if share < ref_share else bad
        target.append(runs(f"Habitants à plus de 30 min du lieu le plus proche : {pct(100 * share)} de la population, contre "
                           f"{pct(100 * ref_share)} dans la référence ({ctx.ref_name})."))
    return good, bad


def _data_points(ctx: ReportContext) -> list[Runs]:
    """Points of attention about the data: estimated need, freshness of the places, 3 × 3 zones."""
    out = []
    est = float(ctx.figures.at["need", "estimated_share"])
    if est >= 0.10:
        out.append(runs(f"Le nombre de personnes en besoin repose pour {pct(100 * est, 0)} sur des données estimées (communes "
                        "sous secret statistique) : à confirmer avec les acteurs locaux."))
    fresh = freshness_table(ctx.places_here(), ctx.today)
    stale = float(fresh.loc[fresh["Fraîcheur"] == "à actualiser", "Part"].sum())
    if len(ctx.places_here()) and stale >= 50:
        out.append(runs(f"{pct(stale, 0)} des lieux recensés ont une date de mise à jour de plus de 18 mois (ou aucune) : "
                        "l'offre décrite ici est à vérifier sur le terrain."))
    zres = ctx.zone_results()
    hot = zres["bivariate_class"].astype("object") == "3-1"
    if hot.any():
        noun = LEVEL_NOUNS[ctx.level]
        n = int(hot.sum())
        out.append(runs(f"{plural(n, noun[0], noun[1])} {'cumulent' if n > 1 else 'cumule'} une fragilité forte (indice) et un accès faible "
                        f"({fr(total(zres.loc[hot, 'need']))} personnes en besoin) : voir les zones prioritaires."))
    return out


def findings(ctx: ReportContext) -> tuple[list[Runs], list[Runs]]:
    """(strengths, points of attention) drawn from the figures (module doc)."""
    good, bad = _compare(ctx) if ctx.reference is not None else ([], [])
    return good, bad + _data_points(ctx)


def findings_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """8. Strengths and points of attention, as sentences to edit."""
    good, bad = findings(ctx)
    none = plain("Aucun indicateur ne s'écarte nettement de la référence (écart inférieur à 15 %).")
    return [Heading("8. Points forts et points d'attention", new_page=False),
            Paragraph(md("*Phrases générées à partir des chiffres de ce document (écart d'au moins 15 % à la référence) : "
                         "relisez-les, nuancez-les et complétez-les avec la connaissance du terrain.*"), "note"),
            Heading("Points forts", 2), BulletList(tuple(good) or (none,)),
            Heading("Points d'attention", 2), BulletList(tuple(bad) or (none,))]


# -- 9. annexes ---------------------------------------------------------------------------------


def used_sources(ctx: ReportContext) -> list[str]:
    """Manifest keys of every source this report uses: the indicator groups of its figures, index
    and need model, the places of the territory, the geometries of its maps."""
    manifest = ctx.manifest
    groups = ["population", "poverty", "income", "unemployment", "age15p", "diploma15p", "thd", "ftth", "mobile4g",
              *index_groups(ctx), "age" if ctx.config.need_model == "illectronisme" else "poverty"]
    keys = [e["key"] for g in dict.fromkeys(groups) for e in source_entries(manifest, manifest.get("indicators", {}).get(g, {}).get("sources", []))]
    keys += sorted({k for v in ctx.places_here().get("sources", pd.Series(dtype=object)).dropna() for k in str(v).split(";") if k})
    levels = {ctx.level, "commune", ctx.territory.level} | ({ctx.reference.level} if ctx.reference else set())
    keys += [e["key"] for lv in sorted(levels) for e in source_entries(manifest, GEOMETRY_SOURCES.get(lv, ()))]
    if ctx.pack.get("qpv") is not None:
        keys += [e["key"] for e in source_entries(manifest, ["qpv"])]
    return [k for k in dict.fromkeys(keys) if k in manifest.get("sources", {})]


def sources_table(ctx: ReportContext) -> Table:
    """Source, producer, vintage, licence and address of every source used (manifest)."""
    src = ctx.manifest["sources"]
    rows = sorted(((src[k].get("title", k), src[k].get("producer", ""), src[k].get("vintage", ""), src[k].get("licence", ""),
                    src[k].get("url") or src[k].get("page") or "—") for k in used_sources(ctx)), key=lambda r: r[0].lower())
    return Table(("Source", "Producteur", "Millésime", "Licence", "Adresse"), tuple(rows), (0.3, 0.17, 0.14, 0.15, 0.24), small=True)


def estimates_blocks(ctx: ReportContext) -> list[Block]:
    """What is estimated and how, for the levels of this report (``ui.method.estimates_table``)."""
    table = estimates_table(ctx.manifest)
    names = {"iris": "IRIS", "commune": "communes", "epci": "EPCI", "departement": "départements", "region": "région"}
    keep = {names[lv] for lv in {ctx.level, "commune", ctx.territory.level}}
    table = table[table["Maille"].isin(keep)]
    rows = tuple((r["Indicateur"], r["Maille"], pct(r["Zones avec valeur (%)"], 1), pct(r["Estimé (%)"], 1), r["Comment"])
                 for _, r in table.iterrows())
    out: list[Block] = [Table(("Indicateur", "Maille", "Zones avec valeur", "Estimé", "Comment"), rows, (0.22, 0.1, 0.1, 0.08, 0.5),
                              "llrrl", small=True)]
    cal = ctx.manifest.get("estimates", {}).get("poverty_secret_communes", {})
    if cal:
        out.append(Paragraph(plain(f"Modèle de la pauvreté des communes sous secret : ajusté sur {fr(cal.get('model_n'))} petites "
                                   f"communes qui publient (erreur absolue moyenne {fr(cal.get('model_mae_points'), 1)} point) ; "
                                   f"correction κ = {fr(cal.get('kappa'), 2)}, tirée des EPCI dont le taux est publié."), "note"))
    return out


def dictionary_table(ctx: ReportContext) -> Table:
    """The indicators and measures of the report: label, unit, definition and source."""
    keys = list(dict.fromkeys([*ctx.config.indicator_keys, "no_ftth", "unemployment"]))
    rows = [(CATALOGUE[k].label, CATALOGUE[k].unit, ("plus haut = plus fragile" if CATALOGUE[k].higher_is_more_fragile else
             "plus bas = plus fragile") + (f". {CATALOGUE[k].note}" if CATALOGUE[k].note else ""),
             ctx.manifest.get("indicators", {}).get(CATALOGUE[k].group, {}).get("vintage", "")) for k in keys if k in CATALOGUE]
    measures = {"score": "sur 10", "need": "personnes", "access": "h / sem. pour 1 000", "target": "h / sem. pour 1 000",
                "unmet": "personnes", "bivariate_label": "classe", "nearest_time_min": "minutes", "pop_beyond_30": "habitants"}
    rows += [(upper_first(ZONE_COLUMN_LABELS[c].split(" (")[0].split(" :")[0]), unit, ZONE_COLUMN_LABELS[c], "calcul du projet")
             for c, unit in measures.items()]
    return Table(("Indicateur", "Unité", "Définition", "Millésime"), tuple(rows), (0.24, 0.1, 0.46, 0.2), small=True)


def upper_first(text: str) -> str:
    """« accessibilité E2SFCA » → « Accessibilité E2SFCA » (the rest kept as written)."""
    return text[:1].upper() + text[1:]


def annex_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """9. Annexes: method with formulas, sources, estimates, indicator dictionary."""
    n_all, used = len(ctx.manifest.get("sources", {})), used_sources(ctx)
    return [
        Heading("9. Annexes"),
        Heading("A. Méthode", 2), *markdown_blocks(METHOD_MD),
        Heading("B. Sources", 2),
        Paragraph(plain(f"Les {fr(len(used))} sources utilisées par ce document, sur les {fr(n_all)} du jeu de données embarqué "
                        "(dérivé des fichiers publiés par le programme de construction de l'outil ; empreintes SHA-256 dans son "
                        "manifeste).")),
        sources_table(ctx),
        Heading("C. Ce qui est estimé, et comment", 2), *estimates_blocks(ctx),
        Heading("D. Dictionnaire des indicateurs", 2), dictionary_table(ctx),
        Paragraph(plain("Part estimée d'une valeur : part qui repose sur des données non publiées (secret statistique), sur la "
                        "valeur d'une commune donnée à ses IRIS ou sur une structure de population plus ancienne. "
                        f"Besoin non couvert total du territoire : {fr(total(ctx.zone_results()['unmet']))} personnes, "
                        f"soit {share_pct(total(ctx.zone_results()['unmet']), ctx.value('need'), 0)} du besoin."), "note"),
    ]


__all__ = ["RELATIVE_GAP", "MIN_POINTS", "scenarios_section", "findings", "findings_section", "used_sources", "sources_table",
           "estimates_blocks", "dictionary_table", "annex_section"]
