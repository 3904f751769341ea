"""Diagnostic: key figures of a territory against its reference, charts, priority zones, downloads."""

from __future__ import annotations

from functools import partial

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from indicators import CATALOGUE
from indicators.definitions import REFERENCE_LABELS, effective_reference
from ui import activity_panel, compute, data, exports, session_places
from ui.folium_map import format_fr
from ui.navigation import use_app_navigation
from ui.picker import LEVEL_LABELS, sidebar
from ui.safe_text import escape_md_cells, escape_md_name

use_app_navigation()

RATE_KEYS = ("poverty", "unemployment", "age65", "low_diploma", "thd", "ftth")
#: key figures shown as metrics, with a short label
METRICS = {
    "population": "Population",
    "need": "Personnes en besoin",
    "france_services": "Sites France Services",
    "places": "Lieux d'accueil",
    "hours_per_1000": "h / sem. pour 1 000 pers. en besoin",
    "pop_beyond_30": "Habitants à plus de 30 min d'un lieu",
}
LEVEL_FILE = {"iris": "iris", "commune": "communes"}
#: short labels of the rates in the chart (the table gives the full ones)
RATE_SHORT = {
    "poverty": "Taux de pauvreté",
    "unemployment": "Chômage des 15–64 ans",
    "age65": "65 ans ou plus (parmi les 15 ans ou plus)",
    "low_diploma": "Peu ou pas diplômés (parmi les 15 ans ou plus)",
    "thd": "Locaux éligibles au très haut débit",
    "ftth": "Locaux raccordables à la fibre",
}
#: columns of the priority table: widths that fit 1 440 px, the longer meaning in the column's help
PRIORITY_COLUMNS = {
    "Rang": st.column_config.TextColumn(width=42, help="Rang dans le territoire, par besoin non couvert"),
    "Zone": st.column_config.TextColumn(width=200),
    "Commune": st.column_config.TextColumn(width=150),
    "Besoin non couvert": st.column_config.TextColumn(width=125, help="Personnes en besoin non couvert"),
    "En besoin": st.column_config.TextColumn(width=75, help="Personnes en besoin d'accompagnement"),
    "Accès": st.column_config.TextColumn(width=55, help="Heures d'accompagnement par semaine pour 1 000 personnes en besoin (E2SFCA)"),
    "Indice (/10)": st.column_config.TextColumn(width=75, help="Indice de fragilité numérique, plus haut = plus fragile"),
    "Temps (min)": st.column_config.TextColumn(width=85, help="Temps estimé jusqu'au lieu le plus proche"),
    "Fragilité · accès": st.column_config.TextColumn(width=120, help="Terciles de la région : indice de fragilité · accès (« forte · faible » = les zones à viser)"),
}
#: priority zones shown whole (names wrapped) above the grid of every zone
PRIORITY_SHOWN = 15
#: legend of the territory / reference series: vertical, so that no entry is cut in a half-width column
SERIES_LEGEND = {"orient": "bottom", "direction": "vertical", "title": None, "labelLimit": 460}


# -- state ----------------------------------------------------------------------------------------
state = sidebar()
config = compute.config_or_stop(state)
config_json = config.to_json()
digest = exports.user_places_digest()
key = state.territory
kind, code = state.kind, state.code
label = data.territory_label(key)
ref = exports.reference_key(key)
ref_label = data.territory_label(ref) if ref else None
names = data.territories().set_index("key")["name"]
short_name, ref_short = names.get(key, label), (names.get(ref, ref_label) if ref else None)
ref_series = f"Référence : {ref_short}" if ref else None  # the reference's name in the charts' legends
series = [n for n in (short_name, ref_series) if n]
manifest = data.manifest()

st.title(f"Diagnostic — {label}")
st.caption(
    "Chiffres calculés par **somme des effectifs** des communes (jamais par moyenne de taux), "
    + (f"comparés à la référence **{ref_label}**. " if ref else "sans référence au-dessus de la région. ")
    + f"Besoin estimé avec le modèle « {compute.NEED_LABELS[state.need_model]} » ; "
    f"zone de chalandise « {compute.PRESET_LABELS[state.preset]} » (réglages de la page Carte). "
    "« n.d. » = donnée non disponible : la raison est donnée dans les remarques, sous le tableau."
)

figs = exports.key_figures(key, config_json, digest).set_index("key")
ref_figs = exports.key_figures(ref, config_json, digest).set_index("key") if ref else None

# -- key figures ----------------------------------------------------------------------------------
cols = [c for _ in range(2) for c in st.columns(3)]
for col, (k, short) in zip(cols, METRICS.items(), strict=True):
    f = figs.loc[k]
    help_text = f"{f['label']}. Source : {f['source']}." + (f" {f['note']}." if f["note"] else "")
    col.metric(short, exports.figure_text(f["value"], f["unit"], f["decimals"]), help=help_text)

rows = []
for k, f in figs.iterrows():
    # st.table renders Markdown: the territories' names (data) are escaped in its headers
    row = {"Indicateur": f["label"], escape_md_name(label): exports.figure_text(f["value"], f["unit"], f["decimals"])}
    if ref_figs is not None:
        r = ref_figs.loc[k] if k in ref_figs.index else None
        row[f"Référence : {escape_md_name(ref_label)}"] = exports.figure_text(r["value"], r["unit"], r["decimals"]) if r is not None else "—"
    row["Unité"] = f["unit"]
    share = f["estimated_share"]
    row["Part estimée"] = exports.figure_text(100.0 * share, "%", 0) if np.isfinite(share) and share >= 0.0005 else "—"
    rows.append(row)
st.subheader("Chiffres clés")
st.table(pd.DataFrame(rows).set_index("Indicateur"), border="horizontal")
# the sources and remarks in a table of their own (as in the report): long texts, one per figure,
# that made every row of the figures' table eight lines high
with st.expander("Sources, millésimes et remarques de ces chiffres", expanded=False):
    sources = pd.DataFrame({"Indicateur": figs["label"], "Source et millésime": figs["source"],
                            "Remarque": figs["note"].fillna("").astype(str).replace("", "—")})
    st.table(escape_md_cells(sources, ["Source et millésime", "Remarque"]).set_index("Indicateur"), border="horizontal")
estimated = figs[(figs["estimated_share"] >= 0.0005).fillna(False)]
if len(estimated):
    st.caption(
        "« Part estimée » : part du chiffre qui repose sur des données estimées plutôt que publiées — "
        + " ; ".join(f"{f['label'].lower()} : {exports.figure_text(100 * f['estimated_share'], '%', 0)}" for _, f in estimated.iterrows())
        + ". Les communes sous secret statistique ont un taux de pauvreté estimé à partir de ce qui est publié sur elles "
        "(revenu médian ; taux publié de l'EPCI quand il existe) : voir Données & méthode."
    )

# -- charts ---------------------------------------------------------------------------------------
pack = data.pack()
communes = data.zones_in(kind, code, "commune")
all_places = session_places.all_places(pack["places"])
by_type = exports.places_by_type(all_places, communes["code"])
c1, c2 = st.columns(2)
with c1:
    st.markdown("**Lieux par type**")
    if by_type.empty:
        st.info("Aucun lieu recensé dans ce territoire.")
    else:
        bars = pd.DataFrame({"Type": by_type.index, "Lieux": by_type.to_numpy()})
        base = alt.Chart(bars).encode(
            y=alt.Y("Type:N", sort="-x", title=None, axis=alt.Axis(labelLimit=330, labelOverlap=False)),
            x=alt.X("Lieux:Q", title="lieux"),
            tooltip=["Type", "Lieux"],
        )
        chart = base.mark_bar() + base.mark_text(align="left", dx=3).encode(text="Lieux:Q")
        st.altair_chart(chart.properties(height=max(160, 30 * len(bars) + 40)).configure(locale=exports.VEGA_FR_LOCALE), width="stretch")
        st.caption(f"Source : {exports.places_source(manifest, all_places[all_places['code_commune'].astype('object').isin(set(communes['code']))])}.")
with c2:
    st.markdown("**Indicateurs du territoire et de sa référence (%)**")
    long = []
    missing = []
    for k in RATE_KEYS:
        for name, table in ((short_name, figs), (ref_series, ref_figs)):
            if table is None:
                continue
            v = table.loc[k, "value"]
            if np.isfinite(v):
                long.append({"Indicateur": RATE_SHORT[k], "Territoire": name, "Valeur (%)": round(float(v), 1)})
            else:
                missing.append(f"{table.loc[k, 'label']} ({name})")
    if long:
        chart = (
            alt.Chart(pd.DataFrame(long))
            .mark_bar()
            .encode(
                y=alt.Y("Indicateur:N", title=None, sort=list(RATE_SHORT.values()), axis=alt.Axis(labelLimit=300)),
                yOffset=alt.YOffset("Territoire:N", sort=series),
                x=alt.X("Valeur (%):Q"),
                color=alt.Color("Territoire:N", sort=series, scale=alt.Scale(domain=series), legend=alt.Legend(**SERIES_LEGEND)),
                tooltip=["Indicateur", "Territoire", "Valeur (%)"],
            )
            .properties(height=300)
        )
        st.altair_chart(chart.configure(locale=exports.VEGA_FR_LOCALE), width="stretch")
    if missing:
        st.caption("n.d. (voir les remarques sous les chiffres clés) : " + " ; ".join(missing) + ".")

level = state.level
index_sources = " ; ".join(dict.fromkeys(exports.source_line(manifest, CATALOGUE[k].group) for k in config.indicator_keys))
shares = exports.score_shares(key, level, config_json, digest)
ref_shares = exports.score_shares(ref, level, config_json, digest) if ref else None
st.markdown(f"**Répartition des zones par note de l'indice de fragilité** — maille : {LEVEL_LABELS[level]}")
if shares.empty:
    st.info("Aucune zone notée à cette maille pour ce territoire.")
else:
    frames = [shares.assign(Territoire=short_name)]
    if ref_shares is not None and not ref_shares.empty:
        frames.append(ref_shares.assign(Territoire=ref_series))
    dist = pd.concat(frames, ignore_index=True)
    chart = (
        alt.Chart(dist)
        .mark_bar()
        .encode(
            x=alt.X("classe:N", title="note de l'indice (/10, plus haut = plus fragile)", sort=None, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("Territoire:N", sort=series),
            y=alt.Y("part:Q", title="% des zones"),
            color=alt.Color("Territoire:N", sort=series, scale=alt.Scale(domain=series), legend=alt.Legend(**SERIES_LEGEND)),
            tooltip=["Territoire", "classe", alt.Tooltip("part:Q", format=".1f"), "zones"],
        )
        .properties(height=240)
    )
    st.altair_chart(chart.configure(locale=exports.VEGA_FR_LOCALE), width="stretch")
    peak_of, peak_name = (ref_shares, ref_series) if ref_shares is not None and not ref_shares.empty else (shares, short_name)
    index_ref = REFERENCE_LABELS.get(effective_reference(level, config.reference), config.reference)
    st.caption(exports.score_shares_note(peak_of, f"« {peak_name} »", index_ref) + " Sources : " + index_sources + ".")

# -- map of the index -----------------------------------------------------------------------------
st.markdown(f"**Carte de l'indice de fragilité numérique** — maille : {LEVEL_LABELS[level]}")
map_png, map_caption = exports.index_map(key, level, config_json, digest, "calcul du projet à partir de " + index_sources)
st.image(map_png, width="content", caption=None)
st.caption(map_caption)

# -- observed activity (conseillers numériques, Aidants Connect) -------------------------------------
activity_panel.draw(kind, code, short_name, ref_short, figs, ref_figs, compute.results("commune", config)[0])

# -- priority zones -------------------------------------------------------------------------------
layer = exports.zone_layer(key, level, config_json, digest)
st.subheader(f"Zones prioritaires, classées par besoin non couvert — maille : {LEVEL_LABELS[level]}")
if layer.empty:
    st.warning("Ce territoire n'a aucune zone à cette maille (commune sans IRIS) : choisissez la maille « Communes ».")
else:
    top = layer.sort_values(["unmet", "need"], ascending=False, na_position="last")
    table = pd.DataFrame(
        {
            "Rang": [format_fr(i, 0) if np.isfinite(u) else "n.d." for i, u in enumerate(top["unmet"].to_numpy(float), start=1)],
            "Zone": top["name"],
            **({"Commune": top["commune_name"]} if "commune_name" in top else {}),
            "Besoin non couvert": top["unmet"].map(lambda v: format_fr(v, 0)),
            "En besoin": top["need"].map(lambda v: format_fr(v, 0)),
            "Accès": top["access"].map(lambda v: format_fr(v, 1)),
            "Indice (/10)": top["score"].map(lambda v: format_fr(v, 1)),
            "Temps (min)": top["nearest_time_min"].map(lambda v: format_fr(v, 0)),
            "Fragilité · accès": top["bivariate_class"].map(exports.bivariate_short),
        }
    )
    # the first zones as a table whose long names wrap (a data grid cuts them with « … »), every
    # zone in a sortable grid below
    first = escape_md_cells(table.head(PRIORITY_SHOWN), [c for c in ("Zone", "Commune") if c in table])  # names: data
    st.table(first.set_index("Rang"), border="horizontal")
    with st.expander(f"Toutes les zones ({format_fr(len(table), 0)}), à trier par colonne", expanded=False):
        st.dataframe(table, hide_index=True, width="stretch", height=min(420, 38 + 35 * len(table)), column_config=PRIORITY_COLUMNS)
    targets = pd.to_numeric(top["target"], errors="coerce").dropna().unique()
    target_text = f" ({format_fr(targets[0], 1)} h/sem. pour 1 000 ici)" if len(targets) == 1 else ""
    st.caption(
        "Besoin non couvert = personnes en besoin × (1 − accès ÷ cible), la cible étant l'accès médian de la référence"
        f"{target_text}. Accès : E2SFCA, heures d'accompagnement par semaine pour 1 000 personnes en besoin. Temps : jusqu'au "
        "lieu le plus proche, estimé à vol d'oiseau × détour. Fragilité · accès : terciles de la région, de l'indice de fragilité puis de l'accès (« forte · faible » : fragile et mal desservie). Population, rang "
        "parmi toutes les zones de la région et chaque indicateur : dans les téléchargements (CSV, XLSX). n.d. = donnée "
        "absente (population ou pauvreté manquante, voir Données & méthode)."
    )

    # -- downloads --------------------------------------------------------------------------------
    st.subheader("Télécharger")
    stem = f"diagnostic_{kind}_{code}_{LEVEL_FILE[level]}"
    about = exports.about_table(
        manifest,
        {
            "Territoire": label,
            "Référence": ref_label or "aucune",
            "Maille": LEVEL_LABELS[level],
            "Modèle de besoin": compute.NEED_LABELS[state.need_model],
            "Zone de chalandise": compute.PRESET_LABELS[state.preset],
            "Poids de l'indice": ", ".join(f"{CATALOGUE[k].label} : {w}" for k, w in config.weight_map.items()),
            "Lien de la vue": "?" + "&".join(f"{k}={v}" for k, v in state.to_query().items()),
        },
    )
    plain = pd.DataFrame(layer.drop(columns="geometry"))
    bins, n_classes = compute.classify(layer["score"], state.scheme, state.k)
    colors = compute.palette("YlOrRd", n_classes)
    png_source = "calcul du projet à partir de " + " ; ".join(
        dict.fromkeys(exports.source_line(manifest, CATALOGUE[k].group) for k in config.indicator_keys)
    )
    csv_labels = st.checkbox("CSV : en-têtes de colonnes en français (sinon les noms techniques)", key="csv_labels")
    d1, d2, d3, d4, d5 = st.columns(5)
    # deferred downloads bind their data with partial: a lambda would keep every global of this
    # page alive as long as the session (Streamlit keeps the callables per session)
    d1.download_button("Zones (CSV)", partial(exports.to_csv, plain, labels=csv_labels), file_name=f"{stem}.csv", mime="text/csv", on_click="ignore", key="dl_csv")
    d2.download_button(
        "Zones et sources (XLSX)",
        partial(exports.diagnostic_workbook, plain, figs, ref_figs, label, ref_label, about),
        file_name=f"{stem}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        on_click="ignore",
        key="dl_xlsx",
    )
    d3.download_button("Couche (GeoPackage)", partial(exports.to_gpkg, layer, "zones"), file_name=f"{stem}.gpkg", mime="application/geopackage+sqlite3", on_click="ignore", key="dl_gpkg")
    d4.download_button("Couche (GeoJSON)", partial(exports.to_geojson, layer), file_name=f"{stem}.geojson", mime="application/geo+json", on_click="ignore", key="dl_geojson")
    d5.download_button(
        "Carte de l'indice (PNG)",
        partial(
            exports.map_png,
            layer,
            "score",
            title=f"Indice de fragilité numérique — {label}",
            legend_title="Indice (note /10)",
            source=png_source,
            bins=bins,
            colors=colors,
        ),
        file_name=f"{stem}_indice.png",
        mime="image/png",
        on_click="ignore",
        key="dl_png",
    )
    st.caption(
        f"{compute.plural(len(layer), 'zone')}. CSV : UTF-8, séparateur virgule, point décimal (pour Excel, préférez le XLSX : en-têtes en français, "
        "nombres formatés, chiffres clés, dictionnaire de chaque colonne et feuille « À propos » avec les sources et millésimes). "
        "Un texte qui commencerait par =, +, - ou @ reçoit une apostrophe (jamais lu comme une formule). "
        "GeoPackage / GeoJSON : géométrie simplifiée en WGS84 (EPSG:4326)."
    )

# -- diagnostic report ----------------------------------------------------------------------------
st.subheader("Rapport de diagnostic")
report_level = level if not layer.empty else "commune"
st.caption(
    "Un document à remettre : contexte et périmètre, chiffres clés (ceux de cette page), besoins et publics, connectivité, offre, "
    "accès et besoin non couvert, scénarios d'implantation enregistrés, points forts et points d'attention à relire, annexes "
    f"(méthode, sources, estimations). Cartes à la maille « {LEVEL_LABELS[report_level]} ». PDF pour l'envoi, DOCX modifiable "
    "dans Word ou LibreOffice (pensez à mettre à jour le sommaire)."
)
view_key = f"{key}|{report_level}|{config_json}|{digest}"
r1, r2 = st.columns(2)
want = "pdf" if r1.button("Préparer le rapport (PDF)", key="report_pdf") else None
want = "docx" if r2.button("Préparer le rapport (DOCX)", key="report_docx") else want
if want:
    with st.status("Rédaction du rapport…", expanded=True) as status:
        bar = st.progress(0.0, text="Calcul des indicateurs…")
        content = exports.diagnostic_report(key, report_level, config, want, exports.progress_to(bar))
        status.update(label="Rapport prêt", state="complete", expanded=False)
    st.session_state["diagnostic_report"] = {"view": view_key, "fmt": want, "data": content}
saved = st.session_state.get("diagnostic_report")
if saved and saved["view"] == view_key:
    fmt = saved["fmt"]
    st.download_button(
        f"Télécharger le rapport ({fmt.upper()})",
        saved["data"],
        file_name=f"diagnostic_{kind}_{code}.{fmt}",
        mime=exports.REPORT_MIME[fmt],
        on_click="ignore",
        key="dl_report",
    )
