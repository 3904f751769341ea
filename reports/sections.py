"""Sections 1 to 4 of the report: context and scope, key figures, needs and publics, connectivity.

Each section is a function ``(ctx, captions) -> list of blocks`` (``reports.document``); numbers
are written with :func:`reports.common.fr` (French typography), names from the data only ever go
into plain runs (the renderers escape them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from indicators import CATALOGUE, reference_column
from indicators.definitions import REFERENCE_LABELS, SETS, indicator_table
from indicators.need import load_rates, people_in_need
from reports import charts, maps
from reports.common import (
    Captions,
    fr,
    groups_source,
    index_groups,
    map_frame,
    map_source,
    pct,
    plural,
    producers,
    share_pct,
)
from reports.context import ReportContext
from reports.document import Block, Heading, Image, Paragraph, Table, bold, md, plain, runs
from reports.figures import RATE_FIGURES, figure_text, places_source, score_shares, source_line
from reports.labels import DECAY_LABELS, KIND_LABELS, LEVEL_LABELS, LEVEL_NOUNS, NEED_LABELS
from reports.results import estimated_flags
from ui.folium_map import NOT_AVAILABLE

#: manifest groups listed in the « data vintages » table of section 1
VINTAGE_GROUPS = ("population", "poverty", "income", "age15p", "diploma15p", "unemployment", "thd", "ftth", "mobile4g")
MAP_WIDTH_CM = 17.0
TOP_ZONES = 10


def nb(text: str) -> str:
    """A figure's text with a narrow no-break space before « % » (never broken across lines)."""
    return text.replace(" %", "\u202f%")


def lower_first(text: str) -> str:
    """« Taux de pauvreté » → « taux de pauvreté »; an acronym (« THD… », « EPCI ») is kept."""
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def _kind_noun(kind: str) -> str:
    return KIND_LABELS[kind].lower() if kind != "epci" else "EPCI"


def _n(zones: pd.DataFrame, level: str) -> str:
    singular, plural_form = LEVEL_NOUNS[level]
    return plural(len(zones), singular, plural_form)


# -- 1. context ---------------------------------------------------------------------------------


def _scope_paragraphs(ctx: ReportContext) -> list[Block]:
    t, ref = ctx.territory, ctx.reference
    communes, iris = ctx.zones("commune"), ctx.zones("iris")
    qpv = ctx.pack.get("qpv")
    n_qpv = int(pd.to_numeric(qpv.loc[qpv["code_commune"].isin(set(communes["code"])), "qpv_count"], errors="coerce").sum()) if qpv is not None else 0
    out: list[Block] = [Paragraph(runs(
        "Ce diagnostic porte sur ", bold(t.name), f" ({_kind_noun(t.kind)} {t.code}) : ",
        f"{fr(ctx.value('population'))} habitants, {_n(communes, 'commune')} et {_n(iris, 'iris')}",
        f", dont {plural(n_qpv, 'quartier prioritaire', 'quartiers prioritaires')} de la politique de la ville (QPV 2024)." if n_qpv else ".",
    ), "lead")]
    if ref is not None:
        out.append(Paragraph(runs("Ses chiffres sont comparés à ceux de son territoire de référence, ", bold(ref.label),
                                  f" ({fr(ctx.value('population', True))} habitants).")))
    else:
        out.append(Paragraph(plain("La région n'a pas de territoire de référence au-dessus d'elle dans les données : "
                                   "ses chiffres sont présentés seuls.")))
    zres = ctx.zone_results()
    reference = str(zres["reference"].dropna().iloc[0]) if "reference" in zres and zres["reference"].notna().any() else ctx.config.reference
    out.append(Paragraph(md(
        "Les chiffres clés sont des **sommes des effectifs** des communes du territoire (jamais des moyennes de taux). "
        f"Les cartes sont dessinées à la maille « {LEVEL_LABELS[ctx.level]} » ({_n(ctx.zones(), ctx.level)}). "
        "Personnes en besoin, accessibilité et besoin non couvert sont calculés une seule fois, sur les IRIS, puis additionnés : "
        "un territoire a la même valeur sur chaque carte, dans chaque tableau et dans l'outil. "
        f"L'indice de fragilité classe chaque zone parmi celles de son {REFERENCE_LABELS.get(reference, reference)}.")))
    return out


def _settings_table(ctx: ReportContext) -> Table:
    cfg = ctx.config
    weights = ", ".join(f"{CATALOGUE[k].label} : {cfg.weight_map.get(k, 1)}" for k in cfg.indicator_keys)
    target = "accès médian des IRIS de la référence" if cfg.target is None else f"{fr(1000 * cfg.target, 1)} h / sem. pour 1 000 personnes"
    rows = (
        ("Modèle de besoin", NEED_LABELS.get(cfg.need_model, cfg.need_model)),
        ("Zone de chalandise (accessibilité)", DECAY_LABELS.get(cfg.decay, cfg.decay)),
        ("Indice", SETS[cfg.indicator_set].label),
        ("Poids des indicateurs de l'indice", weights),
        ("Cible d'accessibilité", target),
    )
    return Table(("Réglage", "Valeur retenue"), rows, (0.32, 0.68))


def _vintages_table(ctx: ReportContext) -> Table:
    meta = ctx.manifest.get("indicators", {})
    rows = [(meta[g].get("label", g), meta[g].get("vintage", ""), producers(ctx.manifest, g)) for g in VINTAGE_GROUPS if g in meta]
    rows.append(("Lieux d'accueil et structures", places_source(ctx.manifest, ctx.places_here()), ""))
    return Table(("Donnée", "Millésime", "Producteur"), tuple(rows), (0.3, 0.42, 0.28), small=True)


def context_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """1. Context and scope: the territory, its reference, levels, settings, data vintages."""
    return [Heading("1. Contexte et périmètre"), *_scope_paragraphs(ctx),
            Heading("Réglages du calcul", 2), _settings_table(ctx),
            Heading("Millésimes des données", 2),
            Paragraph(plain("Chaque chiffre de ce document vient des fichiers publiés ci-dessous (détail, licences et adresses "
                            "en annexe). Les millésimes anciens (ARCEP 2019, recensement 2017 hors métropoles) sont ceux "
                            "disponibles hors ligne ; ils sont signalés là où ils comptent.")),
            _vintages_table(ctx)]


# -- 2. key figures -----------------------------------------------------------------------------


def key_figures_rows(ctx: ReportContext) -> list[tuple[str, ...]]:
    """Rows of the key-figure table: label, territory, reference, estimated share — the Diagnostic
    page's texts (``figure_text`` of the same figures)."""
    rows = []
    for key, f in ctx.figures.iterrows():
        row = [str(f["label"]), nb(figure_text(f["value"], f["unit"], f["decimals"]))]
        if ctx.ref_figures is not None:
            r = ctx.ref_figures.loc[key] if key in ctx.ref_figures.index else None
            row.append(nb(figure_text(r["value"], r["unit"], r["decimals"])) if r is not None else "—")
        share = f["estimated_share"]
        row.append(nb(figure_text(100.0 * share, "%", 0)) if np.isfinite(share) and share >= 0.0005 else "—")
        rows.append(tuple(row))
    return rows


def _rates_chart(ctx: ReportContext, cap: Captions) -> list[Block]:
    keys = [k for k in RATE_FIGURES if np.isfinite(ctx.value(k))]
    if not keys:
        return []
    labels = [ctx.figures.at[k, "label"] for k in keys]
    ref = [ctx.value(k, True) for k in keys] if ctx.reference else None
    png = charts.compare_bars_png(labels, [ctx.value(k) for k in keys], ref, names=(ctx.name, ctx.ref_name))
    missing = [ctx.figures.at[k, "label"] for k in RATE_FIGURES if k not in keys]
    out: list[Block] = [Image(png, MAP_WIDTH_CM, cap("Graphique", f"Taux du territoire et de sa référence (%) — {ctx.name}"))]
    if missing:
        out.append(Paragraph(plain("Non disponibles pour ce territoire (voir les remarques) : " + " ; ".join(missing) + "."), "note"))
    return out


def key_figures_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """2. Key figures against the reference (the Diagnostic page's values) and their sources."""
    header = ("Indicateur", ctx.name) + ((f"Référence : {ctx.ref_name}",) if ctx.reference else ()) + ("Part estimée",)
    widths = (0.46, 0.18, 0.2, 0.16) if ctx.reference else (0.56, 0.24, 0.2)
    notes = tuple((str(f["label"]), str(f["source"]), str(f["note"]) or "—") for _, f in ctx.figures.iterrows())
    return [
        Heading("2. Chiffres clés"),
        Paragraph(md("Les valeurs ci-dessous sont celles de la page **Diagnostic** de l'outil, calculées par la même fonction. "
                     "« n.d. » = donnée non disponible (la raison est donnée dans les remarques) ; « Part estimée » = part du "
                     "chiffre qui repose sur des données estimées plutôt que publiées.")),
        Table(header, tuple(key_figures_rows(ctx)), widths, "l" + "r" * (len(header) - 1)),
        *_rates_chart(ctx, cap),
        Heading("Sources et remarques", 2),
        Table(("Indicateur", "Source et millésime", "Remarque"), notes, (0.24, 0.3, 0.46), small=True),
    ]


# -- 3. needs and publics -----------------------------------------------------------------------


def estimated_caption(flags: pd.Series, zones: pd.DataFrame, level: str, what: str) -> str:
    """« Hachures : 161 IRIS sur 201 dont 10 % ou plus de la note repose sur des données estimées »
    (« Teinte pâle » on a map of more than :data:`reports.maps.LARGE_MAP` zones)."""
    n = int(flags.sum())
    if not n:
        return f"Aucune zone n'a 10 % ou plus de {what} reposant sur des données estimées."
    mark = "Teinte pâle" if len(zones) > maps.LARGE_MAP else "Hachures"
    return (f"{mark} : {plural(n, LEVEL_NOUNS[level][0], LEVEL_NOUNS[level][1])} sur {fr(len(zones))} dont 10 % ou plus "
            f"de {what} repose sur des données estimées (IRIS : valeur de leur commune ; communes sous secret statistique).")


def index_map(ctx: ReportContext, cap: Captions) -> list[Block]:
    """The fragility-index map (quantiles, estimated zones hatched) and its caption."""
    zones, zres = ctx.map_zones(), ctx.zone_results()
    bins, k = maps.classify(zres["score"], "quantiles", 5)
    flags = estimated_flags(zres, "fragility", "score")
    source = "calcul du projet à partir de " + groups_source(ctx.manifest, index_groups(ctx))
    png = maps.choropleth_png(zones, zres["score"], bins=bins, colors=maps.palette("YlOrRd", k), decimals=1,
                              legend_title="Indice de fragilité numérique (note sur 10, plus haut = plus fragile)",
                              frame=map_frame(ctx, ctx.level), estimated=flags.to_numpy(),
                              missing_label="non notée (sans habitants ou donnée absente)")
    unscored = int(zres["score"].isna().sum())
    note = f" {plural(unscored, 'zone')} sans note (sans habitants recensés ou donnée absente)." if unscored else ""
    return [Image(png, MAP_WIDTH_CM, cap("Carte", f"Indice de fragilité numérique — {ctx.name}, {LEVEL_LABELS[ctx.level]}"),
                  note="Classes : quintiles des zones du territoire. " + estimated_caption(flags, zones, ctx.level, "la note") + note
                  + " " + map_source(ctx, ctx.level, source))]


def _indicator_values(ctx: ReportContext, keys) -> tuple[pd.Series, pd.Series | None]:
    own = ctx.own_row()
    mine = indicator_table(pd.DataFrame([own]), list(keys)).iloc[0]
    ref = None
    if ctx.reference is not None:
        ref = indicator_table(pd.DataFrame([ctx.own_row(ctx.reference)]), list(keys)).iloc[0]
    return mine, ref


def index_indicators_table(ctx: ReportContext) -> Table:
    """The index's indicators: territory, reference, weight, vintage."""
    keys = [k for k in ctx.config.indicator_keys if k in CATALOGUE]
    mine, ref = _indicator_values(ctx, keys)
    rows = []
    for k in keys:
        ind = CATALOGUE[k]
        unit = "%" if ind.unit == "%" else ""
        row = [ind.label, nb(figure_text(mine[k], unit, 1))]
        if ref is not None:
            row.append(nb(figure_text(ref[k], unit, 1)))
        row += [str(ctx.config.weight_map.get(k, 1)), ctx.manifest.get("indicators", {}).get(ind.group, {}).get("vintage", "")]
        rows.append(tuple(row))
    header = ("Indicateur", ctx.name) + ((ctx.ref_name,) if ref is not None else ()) + ("Poids", "Millésime")
    widths = (0.34, 0.13, 0.13, 0.08, 0.32) if ref is not None else (0.4, 0.15, 0.1, 0.35)
    return Table(header, tuple(rows), widths, "lrrrl" if ref is not None else "lrrl", small=True)


def _distribution(ctx: ReportContext, cap: Captions) -> list[Block]:
    shares = score_shares(ctx.zone_results()["score"])
    if shares.empty:
        return [Paragraph(plain("Aucune zone notée à cette maille pour ce territoire."), "note")]
    ref = None
    if ctx.reference is not None:
        rz = ctx.reference_zones()
        ref_shares = score_shares(ctx.results(ctx.level)[0].reindex(rz.index)["score"])
        ref = None if ref_shares.empty else ref_shares["part"].to_numpy()
    png = charts.distribution_png(shares["classe"].tolist(), shares["part"].to_numpy(), ref, names=(ctx.name, ctx.ref_name),
                                  xlabel="note de l'indice (sur 10, plus haut = plus fragile)")
    return [Image(png, MAP_WIDTH_CM, cap("Graphique", f"Répartition des zones ({LEVEL_LABELS[ctx.level]}) par note de l'indice")),
            Paragraph(plain("Les notes sont des déciles calculés sur la référence de l'indice : une référence uniforme a 10 % "
                            "de ses zones dans chaque classe."), "note")]


def fragile_zones_table(ctx: ReportContext, n: int = TOP_ZONES) -> Table:
    """The ``n`` zones with the highest index: population, index, measured share, main factor."""
    zones, zres = ctx.zones(), ctx.zone_results()
    keys = [k for k in ctx.config.indicator_keys if f"contrib_{k}" in zres]
    top = zres.assign(_pop=zones["population"]).sort_values("score", ascending=False, na_position="last").head(n)
    top = top[top["score"].notna()]
    rows = []
    for idx, r in top.iterrows():
        contrib = pd.to_numeric(r[[f"contrib_{k}" for k in keys]], errors="coerce")
        factor = CATALOGUE[contrib.idxmax()[8:]].label if contrib.notna().any() else NOT_AVAILABLE
        commune = (str(zones.at[idx, "commune_name"]),) if ctx.level == "iris" else ()
        rows.append((str(zones.at[idx, "name"]), *commune, fr(r["_pop"]), fr(r["score"], 1),
                     pct(100 * r["measured_share"], 0), factor))
    header = ("Zone",) + (("Commune",) if ctx.level == "iris" else ()) + ("Population", "Indice (/10)", "Part mesurée", "Premier facteur")
    widths = (0.22, 0.18, 0.11, 0.1, 0.1, 0.29) if ctx.level == "iris" else (0.3, 0.12, 0.11, 0.11, 0.36)
    return Table(header, tuple(rows), widths, ("ll" if ctx.level == "iris" else "l") + "rrrl", small=True)


def _need_paragraphs(ctx: ReportContext) -> list[Block]:
    rates = load_rates()
    cfg = ctx.config
    need, pop = ctx.value("need"), ctx.value("population")
    est = float(ctx.figures.at["need", "estimated_share"])
    if cfg.need_model == "precarity":
        model = md(f"Modèle **précarité** : personnes en besoin = {fr(rates['precarity']['share'], 2)} × personnes sous le seuil "
                   "de pauvreté (Filosofi), calculé pour chaque commune puis réparti entre ses IRIS.")
        cited = rates["precarity"]["source"]
    else:
        ages = rates["illectronisme"]["by_age"]
        model = md("Modèle **illectronisme** : personnes en besoin = Σ population d'un âge × taux d'illectronisme de cet âge ("
                   + ", ".join(f"{g.replace('_', '–').replace('p', ' ans ou plus')} : {pct(100 * v, 0)}" for g, v in ages.items()) + ").")
        cited = rates["illectronisme"]["source"]
    text = runs(bold(fr(need)), f" personnes en besoin d'accompagnement, soit {share_pct(need, pop)} de la population")
    if ctx.reference is not None:
        text += runs(f" (référence : {share_pct(ctx.value('need', True), ctx.value('population', True))})")
    text += runs("." if est < 0.0005 else f" ; {pct(100 * est, 0)} de ce nombre repose sur des données estimées.")
    return [Paragraph(model), Paragraph(runs("Taux cité : ", cited, "."), "note"), Paragraph(text), *_alternative_need(ctx)]


def need_map(ctx: ReportContext, cap: Captions) -> list[Block]:
    """Where the people in need live: people in need per zone (quintiles), estimated zones marked."""
    zones, zres = ctx.map_zones(), ctx.zone_results()
    bins, k = maps.classify(zres["need"], "quantiles", 5)
    flags = estimated_flags(zres, "need", "need")
    group = "poverty" if ctx.config.need_model == "precarity" else "age"
    png = maps.choropleth_png(zones, zres["need"], bins=bins, colors=maps.palette("Oranges", k), decimals=0,
                              legend_title="Personnes en besoin d'accompagnement", frame=map_frame(ctx, ctx.level),
                              estimated=flags.to_numpy(), missing_label="non estimé (population absente)")
    source = f"{NEED_LABELS.get(ctx.config.need_model, ctx.config.need_model)} ; {source_line(ctx.manifest, group)}"
    return [Image(png, MAP_WIDTH_CM, cap("Carte", f"Personnes en besoin d'accompagnement — {ctx.name}, {LEVEL_LABELS[ctx.level]}"),
                  note="Classes : quintiles ; des nombres de personnes, qui suivent aussi la taille des zones. "
                  + estimated_caption(flags, zones, ctx.level, "la valeur") + " " + map_source(ctx, ctx.level, source))]


def _alternative_need(ctx: ReportContext) -> list[Block]:
    """The other need model's total for the territory, as an order of magnitude."""
    other = "illectronisme" if ctx.config.need_model == "precarity" else "precarity"
    communes = pd.DataFrame(ctx.pack["commune"].drop(columns=["geometry", "geometry_display"]))
    _ref, col = reference_column(communes, ctx.config)
    need = people_in_need(communes, other, load_rates(), ctx.config.need_impute, col)["need"]
    mine = need.reindex(ctx.zones("commune").index)
    value = float(mine.sum()) if mine.notna().any() else np.nan
    return [Paragraph(runs(f"Ordre de grandeur avec l'autre modèle, {lower_first(NEED_LABELS[other])} : {fr(value)} personnes. "
                           "Les deux modèles comptent des publics différents (précarité sociale, âge) : l'écart dit "
                           "l'incertitude du chiffre, pas une erreur de calcul."), "note")]


def needs_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """3. Needs and publics: index map, its indicators, distribution, most fragile zones, people in need."""
    keys = [lower_first(CATALOGUE[k].label) for k in ctx.config.indicator_keys if k in CATALOGUE]
    return [
        Heading("3. Besoins et publics"),
        Heading("L'indice de fragilité numérique", 2),
        Paragraph(runs(f"L'indice (note de 0 à 10, plus haut = plus fragile) combine {len(keys)} indicateurs : " + " ; ".join(keys) + ". "
                       "Chaque indicateur est noté de 1 à 10 par déciles parmi les zones de la référence, puis l'indice est la "
                       "moyenne pondérée des notes. Il classe les zones entre elles ; il ne compte pas des personnes.")),
        *index_map(ctx, cap),
        Heading("Les indicateurs de l'indice", 2), index_indicators_table(ctx), *_distribution(ctx, cap),
        Heading("Les zones les plus fragiles", 2), fragile_zones_table(ctx),
        Paragraph(plain("Part mesurée : part de la note qui vient de données publiées (le reste repose sur des estimations). "
                        "Premier facteur : l'indicateur qui contribue le plus à la note."), "note"),
        Heading("Les personnes en besoin d'accompagnement", 2), *_need_paragraphs(ctx), *need_map(ctx, cap),
    ]


# -- 4. connectivity ----------------------------------------------------------------------------


def _own_count(ctx: ReportContext, ref: bool, col: str) -> float:
    row = ctx.own_row(ctx.reference if ref else None)
    v = pd.to_numeric(pd.Series([row.get(col) if row is not None else np.nan]), errors="coerce").iloc[0]
    return float(v) if pd.notna(v) else np.nan


def connectivity_table(ctx: ReportContext) -> Table:
    """THD 2019, premises without THD, FttH 2018 and 4G area coverage, territory and reference."""
    _mine, _ref = _indicator_values(ctx, ["no_4g"])
    cov = {False: 100 - _mine["no_4g"], True: (100 - _ref["no_4g"]) if _ref is not None else np.nan}
    sides = (False, True) if ctx.reference is not None else (False,)

    def without_thd(ref):
        return _own_count(ctx, ref, "premises_2019") - _own_count(ctx, ref, "thd_premises")

    lines = (
        ("Locaux éligibles au très haut débit (≥ 30 Mbit/s, toutes technologies)", lambda r: pct(ctx.value("thd", r)), "thd"),
        ("Locaux sans très haut débit (nombre)", lambda r: fr(without_thd(r)), "thd"),
        ("Locaux raccordables à la fibre (FttH)", lambda r: pct(ctx.value("ftth", r)), "ftth"),
        ("Surface couverte en 4G par le meilleur opérateur", lambda r: pct(cov[r]), "mobile4g"),
    )
    meta = ctx.manifest.get("indicators", {})
    rows = tuple((label, *(fn(s) for s in sides), meta.get(g, {}).get("vintage", "")) for label, fn, g in lines)
    header = ("Indicateur", ctx.name) + ((ctx.ref_name,) if ctx.reference else ()) + ("Millésime",)
    widths = (0.36, 0.15, 0.15, 0.34) if ctx.reference else (0.45, 0.17, 0.38)
    return Table(header, rows, widths, "lrrl" if ctx.reference else "lrl", small=True)


def connectivity_map(ctx: ReportContext, cap: Captions) -> list[Block]:
    """Premises without THD per commune (the ARCEP data is per commune; IRIS for a lone commune)."""
    level = "commune" if len(ctx.zones("commune")) > 1 else "iris"
    zones, zres = ctx.map_zones(level), ctx.zone_results(level)
    values = zres["ind_no_thd"]
    bins, k = maps.classify(values, "quantiles", 5)
    flags = estimated_flags(zres, "ind:no_thd", "ind_no_thd")
    png = maps.choropleth_png(zones, values, bins=bins, colors=maps.palette("YlOrRd", k), decimals=1,
                              legend_title="Locaux sans très haut débit ≥ 30 Mbit/s (%)",
                              frame=map_frame(ctx, level), estimated=flags.to_numpy())
    return [Image(png, MAP_WIDTH_CM, cap("Carte", f"Locaux sans très haut débit fixe (≥ 30 Mbit/s) — {ctx.name}, "
                                                  f"{LEVEL_LABELS[level].lower()}"),
                  note="Classes : quintiles. " + estimated_caption(flags, zones, level, "la valeur") + " "
                  + map_source(ctx, level, source_line(ctx.manifest, "thd")))]


def connectivity_section(ctx: ReportContext, cap: Captions) -> list[Block]:
    """4. Connectivity: THD 2019, FttH 2018, 4G coverage, a map."""
    return [
        Heading("4. Connectivité"),
        Paragraph(plain("Le très haut débit fixe (au moins 30 Mbit/s, toutes technologies : fibre, câble, VDSL2, radio) vient de "
                        "l'ARCEP « Ma connexion internet » (2019) ; la fibre FttH (2018) est un indicateur distinct, plus ancien "
                        "et plus étroit ; la couverture 4G est une part de la surface (cartes ARCEP 2019 T3), pas des personnes.")),
        connectivity_table(ctx),
        *connectivity_map(ctx, cap),
        Paragraph(plain("Ces données datent de 2018–2019 : le déploiement de la fibre a beaucoup progressé depuis, et ces "
                        "chiffres surestiment les manques d'aujourd'hui. Ils situent le territoire ; ils ne remplacent pas "
                        "l'observatoire actuel de l'ARCEP."), "note"),
    ]


__all__ = ["nb", "estimated_caption", "context_section", "key_figures_rows", "key_figures_section", "index_map", "index_indicators_table",
           "fragile_zones_table", "need_map", "needs_section", "connectivity_table", "connectivity_map", "connectivity_section"]
