"""Sections 5 and 6 of the report: the offer (places, hours, services, freshness, map) and
access and unmet need (maps, priority zones with their robustness, people beyond 15 / 30 min)."""

from __future__ import annotations

import pandas as pd

from indicators.unmet import robustness
from reports import charts, maps
from reports.common import Captions, fr, map_frame, map_source, pct, plural, share_pct, total, weighted_mean
from reports.context import ReportContext
from reports.document import Block, Heading, Image, Paragraph, Table, bold, plain, runs
from reports.figures import bivariate_label, figure_text, places_source
from reports.labels import BIVARIATE_COLORS, DECAY_LABELS, LEVEL_LABELS
from reports.offer import PLACE_FAMILIES, family_of, freshness_table, service_table, type_table
from reports.results import estimated_flags
from reports.sections import MAP_WIDTH_CM, TOP_ZONES, estimated_caption, nb

#: a zone is « robust » when it stays in the top decile in at least this share of the draws
ROBUST_SHARE = 0.8


# -- 5. the offer -------------------------------------------------------------------------------


def _offer_intro(ctx: ReportContext, here: pd.DataFrame) -> Paragraph:
    n_help = int(here.get("offers_digital_help", pd.Series(False)).astype("object").fillna(False).astype(bool).sum())
    h = ctx.figures.loc["hours_per_1000"]
    text = runs(bold(fr(len(here))), f" lieux d'accueil et structures sont recensés dans le territoire, dont {fr(n_help)} déclarent un "
                f"accompagnement au numérique et {plural(int(ctx.value('france_services')), 'site')} France Services. L'offre représente ",
                bold(nb(figure_text(h["value"], h["unit"], h["decimals"]))),
                " heures d'accompagnement par semaine pour 1 000 personnes en besoin")
    if ctx.reference is not None:
        r = ctx.ref_figures.loc["hours_per_1000"]
        text += runs(f" (référence : {nb(figure_text(r['value'], r['unit'], r['decimals']))})")
    return Paragraph(text + runs(" — un rapport simple de l'offre du territoire à son besoin, sans zone de chalandise."))


def _type_table(here: pd.DataFrame) -> Table:
    t = type_table(here)
    rows = [(str(r["Type"]), fr(r["Lieux"]), fr(r["Accompagnement numérique"]), fr(r["Horaires connus"]),
             fr(r["Heures médianes"], 1), fr(r["Soirée"]), fr(r["Samedi"])) for _, r in t.iterrows()]
    if len(t) > 1:
        hours = pd.to_numeric(here.get("weekly_hours"), errors="coerce")
        rows.append(("Ensemble", fr(t["Lieux"].sum()), fr(t["Accompagnement numérique"].sum()), fr(t["Horaires connus"].sum()),
                     fr(hours.median(), 1), fr(t["Soirée"].sum()), fr(t["Samedi"].sum())))
    header = ("Type de lieu", "Lieux", "Accompagnement numérique", "Horaires publiés", "Heures par semaine (médiane)",
              "Ouverts en soirée", "Ouverts le samedi")
    return Table(header, tuple(rows), (0.21, 0.08, 0.18, 0.12, 0.17, 0.12, 0.12), "lrrrrrr", small=True)


def _services_freshness(ctx: ReportContext, here: pd.DataFrame) -> list[Block]:
    services = service_table(here)
    n_help = max(int(here.get("offers_digital_help", pd.Series(False)).astype("object").fillna(False).astype(bool).sum()), 1)
    srows = tuple((r["Service"], fr(r["Lieux"]), share_pct(r["Lieux"], n_help, 0)) for _, r in services.iterrows())
    fresh = freshness_table(here, ctx.today)
    frows = tuple((r["Fraîcheur"], fr(r["Lieux"]), pct(r["Part"], 0)) for _, r in fresh.iterrows())
    dates = here.get("updated", pd.Series(dtype=object)).dropna().astype(str)
    latest = max(dates) if len(dates) else "aucune"
    return [
        Heading("Services proposés", 2),
        Table(("Service déclaré", "Lieux", "Part des lieux d'accompagnement numérique"), srows, (0.45, 0.15, 0.4), "lrr", small=True),
        Heading("Fraîcheur des données", 2),
        Paragraph(runs("Âge de la date de mise à jour publiée par la source de chaque lieu, au ", ctx.today.strftime("%d/%m/%Y"),
                       " : moins de 6 mois « à jour », 6 à 12 mois « à surveiller », 12 à 18 mois « à vérifier », 18 mois ou plus "
                       f"(ou sans date) « à actualiser ». Date la plus récente : {latest}.")),
        Table(("Fraîcheur", "Lieux", "Part"), frows, (0.45, 0.2, 0.35), "lrr", small=True),
    ]


def _places_map(ctx: ReportContext, cap: Captions, here: pd.DataFrame) -> list[Block]:
    fixed = here[~here.get("mobile", pd.Series(False, index=here.index)).astype("object").fillna(False).astype(bool)]
    fam = fixed["type"].astype("object").fillna("autre").map(family_of)
    points = []
    for i, (label, _types, marker, face, edge) in enumerate(PLACE_FAMILIES):
        sel = fixed[fam == i]
        if len(sel):
            points.append(maps.PointSet(sel["x"].to_numpy(float), sel["y"].to_numpy(float), f"{label} ({fr(len(sel))})",
                                        marker, 20.0 if len(fixed) < 400 else 8.0, face, edge))
    frame = map_frame(ctx, ctx.level, tuple(points))
    png = maps.places_png(ctx.map_zones(), frame=frame)
    mobile = len(here) - len(fixed)
    note = f" {plural(mobile, 'lieu itinérant', 'lieux itinérants')} (bus France Services : adresse du porteur) non dessiné(s)." if mobile else ""
    return [Image(png, MAP_WIDTH_CM, cap("Carte", f"Lieux d'accueil et structures — {ctx.name}"),
                  note="Un symbole par lieu, à son adresse publiée." + note + " " + map_source(ctx, ctx.level, places_source(ctx.manifest, here)))]


def offer_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """5. The offer: places by type, weekly hours, services, evening / Saturday, freshness, map."""
    here = ctx.places_here()
    by_type = type_table(here)
    out: list[Block] = [Heading("5. L'offre d'accompagnement"), _offer_intro(ctx, here), Heading("Lieux par type", 2)]
    if here.empty:
        return out + [Paragraph(plain("Aucun lieu recensé dans ce territoire."))]
    out += [_type_table(here),
            Paragraph(plain("Horaires publiés : lieux dont la source donne les heures d'ouverture ; soirée (après 18 h en semaine) et "
                            "samedi sont comptés parmi eux, les autres sont inconnus, pas fermés."), "note"),
            Image(charts.count_bars_png(by_type["Type"].tolist(), by_type["Lieux"].to_numpy(), xlabel="lieux"), MAP_WIDTH_CM,
                  cap("Graphique", f"Lieux par type — {ctx.name}")),
            *_services_freshness(ctx, here), Heading("Carte des lieux", 2), *_places_map(ctx, cap, here)]
    return out


# -- 6. access and unmet need -------------------------------------------------------------------


def _access_numbers(ctx: ReportContext) -> Table:
    """Mean access, target, unmet need, people beyond 15 / 30 min: territory and reference."""
    def side(ref: bool) -> list[str]:
        zones = ctx.reference_zones() if ref else ctx.zones()
        r = ctx.results(ctx.level)[0].reindex(zones.index)
        need, unmet = total(r["need"]), total(r["unmet"])
        pop = ctx.value("population", ref)
        return [fr(weighted_mean(r["access"], r["need"]), 1), fr(weighted_mean(r["target"], r["need"]), 1),
                f"{fr(unmet)} ({share_pct(unmet, need, 0)} du besoin)",
                f"{fr(ctx.value('pop_beyond_15', ref))} ({share_pct(ctx.value('pop_beyond_15', ref), pop)})",
                f"{fr(ctx.value('pop_beyond_30', ref))} ({share_pct(ctx.value('pop_beyond_30', ref), pop)})"]

    labels = ("Accessibilité moyenne (h / sem. pour 1 000 personnes en besoin)", "Cible (accès médian de la référence)",
              "Besoin non couvert (personnes)", "Habitants à plus de 15 min du lieu le plus proche",
              "Habitants à plus de 30 min du lieu le plus proche")
    cols = [side(False)] + ([side(True)] if ctx.reference is not None else [])
    rows = tuple((label, *(c[i] for c in cols)) for i, label in enumerate(labels))
    header = ("Mesure", ctx.name) + ((ctx.ref_name,) if ctx.reference else ())
    widths = (0.46, 0.27, 0.27) if ctx.reference else (0.6, 0.4)
    return Table(header, rows, widths, "lrr" if ctx.reference else "lr", small=True)


def unmet_classes(values: pd.Series, k: int = 5) -> tuple[list[float], list[str], str]:
    """Classes of the unmet-need map, the app's own (:func:`reports.maps.map_classes`): a class
    « 0 » when at least 20 % of the zones have no unmet need, then quantiles of the others;
    quintiles otherwise. Returns (bins, labels, how)."""
    classes = maps.map_classes(values, "quantiles", k, decimals=0)
    labels = ["0 (besoin couvert)" if lab == "0" else lab for lab in classes.labels]
    return classes.bins, labels, classes.rule


def unmet_maps(ctx: ReportContext, cap: Captions) -> list[Block]:
    """The unmet-need map and the 3 × 3 need × access map."""
    zones, zres = ctx.map_zones(), ctx.zone_results()
    bins, labels, how = unmet_classes(zres["unmet"])
    flags = estimated_flags(zres, "unmet", "unmet")
    source = "calcul du projet (E2SFCA) à partir des lieux et de la population ; " + places_source(ctx.manifest, ctx.places_here())
    unmet = maps.choropleth_png(zones, zres["unmet"], bins=bins, colors=maps.palette("Reds", len(labels)), decimals=0,
                                class_labels=labels, legend_title="Besoin non couvert (personnes)", frame=map_frame(ctx, ctx.level),
                                estimated=flags.to_numpy(), missing_label="non calculé (population ou pauvreté manquante)")
    bflags = estimated_flags(zres, "bivariate", "bivariate_num")
    biv = maps.bivariate_png(zones, zres["bivariate_num"], colors=BIVARIATE_COLORS, frame=map_frame(ctx, ctx.level),
                             estimated=bflags.to_numpy())
    hot = zres["bivariate_class"].astype("object") == "3-1"
    return [Image(unmet, MAP_WIDTH_CM, cap("Carte", f"Besoin non couvert — {ctx.name}, {LEVEL_LABELS[ctx.level]}"),
                  note=f"Classes : {how}. " + estimated_caption(flags, zones, ctx.level, "la valeur") + " " + map_source(ctx, ctx.level, source)),
            Image(biv, MAP_WIDTH_CM, cap("Carte", f"Fragilité × accessibilité (3 × 3) — {ctx.name}"),
                  note=f"Terciles calculés sur toutes les zones de la région à cette maille. {plural(int(hot.sum()), 'zone')} « besoin "
                  f"fort · accès faible » (contour épais) : {fr(total(zres.loc[hot, 'need']))} personnes en besoin. "
                  + map_source(ctx, ctx.level, source))]


def priority_table(ctx: ReportContext, n: int = TOP_ZONES) -> tuple[Table, pd.DataFrame]:
    """The ``n`` zones with the largest unmet need, with the probability that each stays in the
    top decile when the weights, normalisation and reference vary (``indicators.unmet.robustness``
    over every zone of the level, as ``indicators.cli --robustness``)."""
    zones, zres = ctx.zones(), ctx.zone_results()
    top = zres.sort_values(["unmet", "need"], ascending=False, na_position="last").head(n)
    top = top[top["unmet"].notna()]
    level_res = ctx.results(ctx.level)[0]
    table = ctx.pack[ctx.level].drop(columns=["geometry", "geometry_display"])
    rob = robustness(pd.DataFrame(table), ctx.config, level_res["need"].to_numpy(float), level_res["access"].to_numpy(float),
                     n_draws=ctx.robustness_draws, seed=0).reindex(top.index)
    rows = []
    for rank, (idx, r) in enumerate(top.iterrows(), start=1):
        commune = (str(zones.at[idx, "commune_name"]),) if ctx.level == "iris" else ()
        rows.append((fr(rank), str(zones.at[idx, "name"]), *commune, fr(r["need"]), fr(r["access"], 1), fr(r["unmet"]),
                     fr(r["nearest_time_min"]), bivariate_label(r["bivariate_class"]), pct(100 * rob.at[idx, "p_top_unmet"], 0)))
    header = ("Rang", "Zone") + (("Commune",) if ctx.level == "iris" else ()) + (
        "Personnes en besoin", "Accès (h / sem. pour 1 000)", "Besoin non couvert", "Temps au lieu le plus proche (min)",
        "Fragilité × accès", "Robustesse")
    widths = (0.06, 0.15, 0.12, 0.11, 0.1, 0.09, 0.09, 0.15, 0.13) if ctx.level == "iris" else (0.06, 0.21, 0.12, 0.11, 0.1, 0.1, 0.17, 0.13)
    align = "rl" + ("l" if ctx.level == "iris" else "") + "rrrrlr"
    return Table(header, tuple(rows), widths, align, small=True), rob.assign(unmet=top["unmet"])


def access_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """6. Access and unmet need: numbers, maps, priority zones and their robustness."""
    table, rob = priority_table(ctx)
    robust = int((rob["p_top_unmet"] >= ROBUST_SHARE).sum())
    return [
        Heading("6. Accès et besoin non couvert"),
        Paragraph(runs("L'accessibilité (E2SFCA) mesure les heures d'accompagnement par semaine offertes à chaque personne en besoin, "
                       f"compte tenu des lieux à portée (zone de chalandise « {DECAY_LABELS.get(ctx.config.decay, ctx.config.decay)} ») "
                       "et des autres personnes qui se les partagent. Le besoin non couvert d'une zone = personnes en besoin × "
                       "(1 − accès ÷ cible), la cible étant l'accès médian des IRIS de la référence ; il s'additionne d'une zone à l'autre.")),
        _access_numbers(ctx),
        Paragraph(plain("Temps : distance à vol d'oiseau × détour ÷ vitesse (à pied en zone dense, en voiture ailleurs ; transports en "
                        "commun non modélisés), du centre habité de chaque IRIS au lieu le plus proche."), "note"),
        *unmet_maps(ctx, cap),
        Heading("Zones prioritaires", 2),
        Paragraph(keep_with_next=True, runs=plain(f"Les {len(rob)} zones au plus grand besoin non couvert. Robustesse : part des {ctx.robustness_draws} tirages "
                        "(poids de l'indice, normalisation et référence tirés au hasard) où la zone reste dans le décile supérieur du "
                        f"besoin non couvert des zones de la région à cette maille. {fr(robust)} sur {fr(len(rob))} y restent dans "
                        f"au moins {pct(100 * ROBUST_SHARE, 0)} des tirages.")),
        table,
    ]


__all__ = ["ROBUST_SHARE", "offer_section", "unmet_classes", "unmet_maps", "priority_table", "access_section"]
