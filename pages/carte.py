"""Carte: choropleth of an indicator, the index, access or unmet need; places; zone explanation."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from ui import compute, data, explain, map_controls, map_layers, picker, session_places
from ui.folium_map import LARGE_MAP, PointLayer, build_choropleth, format_fr, show_map
from ui.navigation import use_app_navigation
from ui.offline_assets import MissingAssetError
from ui.picker import set_state
from ui.safe_text import escape_md, quoted

use_app_navigation()

# The map is built and sent before the sidebar is drawn (ui.map_controls: the browser starts
# loading the map while it renders the controls); the settings come from this rerun's widget values.
state = picker.read_state()
config = compute.config_for(state)
layers = compute.layers(config)
if state.layer not in layers:
    st.warning(f"Paramètre « layer » ignoré : couche inconnue {quoted(state.layer)} ; l'indice de fragilité est affiché.")
    state = state.with_(layer="fragility")
    set_state(state)
settings = map_controls.read(state, layers, config.indicator_keys)
state = view_state = settings.state  # view_state: what the sidebar shows (the map may fall back)
show_places, types, services, show_qpv, tiles = settings.places, settings.types, settings.services, settings.qpv, settings.tiles
# an early stop still draws the sidebar, so that the user can change what stopped the page
draw_sidebar = partial(map_controls.draw_sidebar, view_state, settings, layers, config.indicator_keys)
config = compute.config_or_stop(state, before_stop=draw_sidebar)
layer = layers[state.layer]

kind, code = state.kind, state.code
st.title(f"Carte — {data.territory_label(state.territory)}")
zones = data.zones_in(kind, code, state.level)
if zones.empty and state.level == "iris":
    st.info("Ce territoire n'a pas de découpage IRIS dans les données embarquées (c'est le cas de Lyon) : la carte passe à la maille des communes.")
    state = state.with_(level="commune")
    zones = data.zones_in(kind, code, state.level)
if zones.empty:
    st.warning("Aucune zone pour ce territoire dans les données embarquées.")
    draw_sidebar()
    st.stop()
if state.weights and all(v == 0 for k2, v in config.weight_map.items() if k2 in config.indicator_keys):
    st.error("Tous les poids sont à 0 : donnez au moins un poids entre 1 et 10.")
    draw_sidebar()
    st.stop()

res, _place_caps, report = compute.results(state.level, config)
# attributes only: the geometry travels in the cached outlines (map_layers.zone_outlines)
view = zones[["code", "name"] + [c for c in ("commune_name", "population", f"{layer.group}_status" if layer.group else None) if c and c in zones.columns]].copy()
view = view.join(res[[c for c in res.columns if c not in view.columns]], how="left")
view["value"] = pd.to_numeric(view[layer.column], errors="coerce")
view["reason"] = compute.missing_reason(view, layer)
# estimates drawn as estimates, zones without residents as such (ui.compute.estimate_view)
view["estimated"], view["estimate_note"], estimate_counts = compute.estimate_view(view, zones, layer, config)
view["uninhabited"] = pd.to_numeric(view["population"], errors="coerce").eq(0) if "population" in view else False

# classes and legend ------------------------------------------------------------------------------
if layer.palette == "bivariate":
    bins, colors, legend_labels = compute.bivariate_legend(layer.key)
    n_classes, classes = 9, None
else:  # shared with the report's maps: a « 0 » class on skewed layers, one value read alone
    classes = compute.map_classes(view["value"], state.scheme, state.k, decimals=layer.decimals)
    bins, legend_labels, n_classes = classes.bins, classes.labels, classes.k
    colors = compute.palette(layer.palette, n_classes)

# formatters are partials, not lambdas: a lambda stored in this page's globals would tie them in a
# reference cycle that keeps every frame of the run alive until Python's next full collection
tooltip = [("value", f"{layer.label} ({layer.unit})", partial(format_fr, decimals=layer.decimals))]
if "commune_name" in view.columns:
    tooltip.insert(0, ("commune_name", "Commune", str))
tooltip.append(("population", "Population", partial(format_fr, decimals=0)))
if layer.group:  # a published indicator: its vintage in every tooltip (producers in the caption)
    view["vintage"] = compute.vintage_short(layer.group)
    tooltip.append(("vintage", "Millésime", str))

# places and QPV (serialised once per territory and filter: ui.map_layers); changes=True: they
# travel with the zone styles, so toggling or filtering them keeps the drawn map and its zoom ----
pack = data.pack()
all_places = session_places.all_places(pack["places"])
near = map_layers.places_near(all_places, kind, code, state.level, tuple(types), tuple(services))
point_layers = []
many_places = len(near) > map_layers.MAX_POPUPS
if many_places and show_places:
    show_places = settings.places_all
if show_places and len(near):
    user = session_places.get()
    user_df = None if user.empty else pd.DataFrame(user.drop(columns="geometry"))
    prepared = map_layers.place_points(kind, code, state.level, tuple(types), tuple(services), user_df)
    point_layers.append(PointLayer(None, "name", f"Lieux d'accueil ({compute.format_count(prepared.count)})", "#1f2937", radius=4 if many_places else 6, prepared=prepared, changes=True))
qpv = map_layers.qpv_points(kind, code, state.level) if show_qpv else None
if qpv is not None and qpv.count:
    point_layers.append(PointLayer(None, "label", "QPV (centre de la commune, pas le périmètre)", "#7c3aed", radius=5, prepared=qpv, changes=True))
boundaries = map_layers.commune_boundaries(kind, code) if state.level == "iris" else None

try:
    fmap = build_choropleth(
        view,
        "value",
        "name",
        bins,
        colors,
        tooltip_fields=tooltip,
        missing_reason_col="reason",
        legend_title=f"{layer.label} ({layer.unit})",
        legend_labels=legend_labels,
        legend_decimals=layer.decimals,
        extra_points=point_layers,
        boundaries=boundaries,
        tiles="osm" if tiles else None,
        zone_outlines=map_layers.zone_outlines(kind, code, state.level),
        estimated_col="estimated",
        estimate_note_col="estimate_note",
        uninhabited_col="uninhabited",
    )
except MissingAssetError as exc:
    st.error(f"Les fichiers de la carte sont absents : {escape_md(exc)}")
    draw_sidebar()
    st.stop()

left, right = st.columns([3, 2])
with left:
    clicked = show_map(fmap, key=f"map_{state.territory}_{state.level}", height=620)
    map_controls.map_headstart()  # a first visit: the browser starts the map before the controls
    n_empty = int(view["uninhabited"].sum())
    n_missing = int((view["value"].isna() & ~view["uninhabited"]).sum())
    rule = f" · classes : {classes.rule}" if classes is not None and classes.zero_class else ""
    st.caption(
        compute.zones_caption(len(view), n_missing, int(view["estimated"].sum()), n_empty, large=len(view) > LARGE_MAP)
        + f"{rule} · source : {compute.vintage_note(layer.group)} · "
        f"lieux : {compute.format_count(len(near))} sur la carte (territoire et ses abords), dont "
        f"{compute.format_count(map_layers.count_in_territory(near, kind, code))} dans le territoire (ANCT, data·inclusion, Hinaura, conseillers numériques)"
        + (f" ; au-delà de {map_layers.MAX_POPUPS} lieux, choisissez un territoire plus petit pour voir leurs fiches." if many_places else ".")
    )
    if estimate_counts:  # one line per estimated indicator: a list, not a wall of text under the map
        with st.expander(f"Valeurs estimées : détail par indicateur ({len(estimate_counts)})"):
            st.markdown("\n".join(f"- {escape_md(line)}" for line in estimate_counts))
with right:
    options = view.sort_values("name")["code"].tolist()
    # a keyed selectbox keeps its own value: a map click writes it into the session state
    if clicked and clicked in set(options) and clicked != st.session_state.get("zone_clicked"):
        st.session_state["zone_clicked"] = clicked
        st.session_state["zone_pick"] = clicked
    if st.session_state.get("zone_pick") not in set(options):
        st.session_state["zone_pick"] = None
    zone_labels = {None: "—"} | explain.zone_choice_labels(view)  # names only: the picker is narrow
    chosen = st.selectbox("Zone à expliquer (ou cliquez sur la carte)", [None] + options, format_func=zone_labels.get, key="zone_pick", placeholder="Choisir une zone")
    if chosen:
        explain.zone_panel(chosen, state.level, res, config, all_places)
    else:
        st.info("Cliquez sur une zone de la carte pour voir pourquoi elle a cette note : contribution de chaque indicateur, personnes concernées, accessibilité, lieux les plus proches.")
    undefined = report.get("zones_target_undefined", 0)
    if undefined:
        st.caption(f"{compute.plural(undefined, 'zone')} sans cible d'accessibilité définie (médiane nulle sur leur référence).")
    priority = explain.priority_table_html(view)
    if priority:
        # a plain HTML table (escaped): lighter for the browser than a data grid; the full,
        # sortable list with downloads is on the Diagnostic page
        st.markdown("**Zones prioritaires** : les plus forts besoins non couverts, en personnes")
        st.markdown(priority, unsafe_allow_html=True)
        st.caption(explain.PRIORITY_NOTE)
if layer.group == "activity" or layer.key == "bivariate_activity":
    st.caption(f"Activité observée : {compute.ACTIVITY_CAVEAT}.")
if np.isfinite(view["value"]).sum() == 0:
    st.warning("Aucune zone n'a de valeur pour cette couche sur ce territoire : voir Données & méthode › Couverture.")

# the sidebar last: its widgets hold the values read above
draw_sidebar(len(near), many_places)
