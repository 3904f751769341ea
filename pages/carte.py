"""Carte: choropleth of an indicator, the index, access or unmet need; places; zone explanation."""

from __future__ import annotations

from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from indicators import CATALOGUE
from ui import compute, data, explain, map_layers, session_places
from ui.folium_map import PointLayer, build_choropleth, esc, format_fr, show_map
from ui.labels import PLACE_TYPE_LABELS, SERVICE_LABELS
from ui.navigation import use_app_navigation
from ui.offline_assets import MissingAssetError
from ui.picker import set_state, sidebar
from ui.state import SCHEMES

use_app_navigation()

MAP_OPTS_DEFAULT = {"places": True, "types": [], "services": [], "qpv": True, "tiles": False, "places_all": False}
SCHEME_LABELS = {"quantiles": "Quantiles", "natural_breaks": "Seuils naturels (Jenks)", "equal_interval": "Intervalles égaux"}

state = sidebar()
config = compute.config_for(state)
layers = compute.layers(config)
if state.layer not in layers:
    st.warning(f"Paramètre « layer » ignoré : couche inconnue {state.layer!r} ; l'indice de fragilité est affiché.")
    state = state.with_(layer="fragility")
    set_state(state)

# settings that are not in the URL; they survive while their widgets are hidden
opts = st.session_state.setdefault("map_opts", dict(MAP_OPTS_DEFAULT))

with st.sidebar:
    st.markdown("### Carte")
    keys = list(layers)
    # widget callbacks are dict methods, not page lambdas: Streamlit keeps a session's widget
    # callbacks (also for 2 min after it disconnects), and a lambda would keep this page's
    # globals — frames, the map — alive with them (≈10 MB per session for a regional map)
    layer_labels = {k: lay.label for k, lay in layers.items()}
    layer_key = st.selectbox("Couche", keys, index=keys.index(state.layer), format_func=layer_labels.get, key="map_layer")
    opts["places"] = st.toggle("Lieux d'accueil", value=opts["places"], key="map_places")
    # fewer widgets drawn = a faster page: the finer settings only appear on request
    more = st.toggle("Plus de réglages", value=False, key="map_more", help="Classes, zone de chalandise, estimation du besoin, poids de l'indice, filtres des lieux, QPV, fond de carte.")
    scheme, k, preset, need_model = state.scheme, state.k, state.preset, state.need_model
    weights = {key: int(state.weights.get(key, 1)) for key in config.indicator_keys}
    if more:
        c1, c2 = st.columns(2)
        scheme = c1.selectbox("Classes", SCHEMES, index=SCHEMES.index(state.scheme), format_func=SCHEME_LABELS.get, key="map_scheme")
        k = c2.slider("Nombre", 3, 9, state.k, key="map_k")
        preset = st.selectbox("Zone de chalandise", list(compute.PRESET_LABELS), index=list(compute.PRESET_LABELS).index(state.preset), format_func=compute.PRESET_LABELS.get, key="map_preset")
        need_model = st.selectbox("Estimation du besoin", list(compute.NEED_LABELS), index=list(compute.NEED_LABELS).index(state.need_model), format_func=compute.NEED_LABELS.get, key="map_need")
        with st.expander("Poids de l'indice (0 à 10)"):
            for key in config.indicator_keys:
                weights[key] = st.slider(CATALOGUE[key].label, 0, 10, weights[key], key=f"w_{key}")
        opts["types"] = st.multiselect("Types de lieux", list(PLACE_TYPE_LABELS), default=opts["types"], format_func=PLACE_TYPE_LABELS.get, key="map_types", placeholder="Tous les types")
        opts["services"] = st.multiselect("Services", list(SERVICE_LABELS), default=opts["services"], format_func=SERVICE_LABELS.get, key="map_services", placeholder="Tous les services")
        opts["qpv"] = st.toggle("Quartiers prioritaires (QPV)", value=opts["qpv"], key="map_qpv")
        opts["tiles"] = st.toggle("Fond de carte OpenStreetMap (réseau requis)", value=opts["tiles"], key="map_tiles")
    else:
        filters = [f"{len(opts[x])} {label}" for x, label in (("types", "type(s)"), ("services", "service(s)")) if opts[x]]
        st.caption(
            f"{SCHEME_LABELS[state.scheme]}, {state.k} classes · {compute.PRESET_LABELS[state.preset]} · "
            f"{compute.NEED_LABELS[state.need_model]} · poids {'personnalisés' if state.weights else 'égaux'}"
            + (f" · lieux filtrés : {', '.join(filters)}" if filters else "")
            + ("" if opts["qpv"] else " · QPV masqués")
            + (" · fond OpenStreetMap" if opts["tiles"] else "")
        )
show_places, types, services, show_qpv, tiles = opts["places"], opts["types"], opts["services"], opts["qpv"], opts["tiles"]

clean_weights = {k2: v for k2, v in weights.items() if v != 1}
new_state = state.with_(layer=layer_key, scheme=scheme, k=k, preset=preset, need_model=need_model, weights=clean_weights)
if new_state != state:
    set_state(new_state)
    state = new_state
config = compute.config_or_stop(state)
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
    st.stop()
if state.weights and all(v == 0 for k2, v in config.weight_map.items() if k2 in config.indicator_keys):
    st.error("Tous les poids sont à 0 : donnez au moins un poids entre 1 et 10.")
    st.stop()

res, _place_caps, report = compute.results(state.level, config)
view = zones[["code", "name", "geometry_display"] + [c for c in ("commune_name", "population", f"{layer.group}_status" if layer.group else None) if c and c in zones.columns]].copy()
view = view.join(res[[c for c in res.columns if c not in view.columns]], how="left")
view["value"] = pd.to_numeric(view[layer.column], errors="coerce")
view["reason"] = compute.missing_reason(view, layer)
gview = gpd.GeoDataFrame(view.drop(columns="geometry_display"), geometry=data.display_geometry(zones).values, crs="EPSG:4326")

# classes and legend ------------------------------------------------------------------------------
if layer.key == "bivariate":
    bins = [0.5 + i for i in range(10)]
    colors = compute.BIVARIATE_COLORS
    legend_labels = [f"besoin {'faible moyen fort'.split()[(c - 1) // 3]} · accès {'faible moyen bon'.split()[(c - 1) % 3]}" for c in range(1, 10)]
    n_classes = 9
else:
    bins, n_classes = compute.classify(gview["value"], state.scheme, state.k)
    colors = compute.palette(layer.palette, n_classes)
    legend_labels = None

# formatters are partials, not lambdas: a lambda stored in this page's globals would tie them in a
# reference cycle that keeps every frame of the run alive until Python's next full collection
tooltip = [("value", f"{layer.label} ({layer.unit})", partial(format_fr, decimals=layer.decimals))]
if "commune_name" in gview.columns:
    tooltip.insert(0, ("commune_name", "Commune", str))
tooltip.append(("population", "Population", partial(format_fr, decimals=0)))
if layer.group:  # a published indicator: its vintage in every tooltip (producers in the caption)
    gview["vintage"] = compute.vintage_short(layer.group)
    tooltip.append(("vintage", "Millésime", str))

# places and QPV (serialised once per territory and filter: ui.map_layers) -----------------------
pack = data.pack()
all_places = session_places.all_places(pack["places"])
near = map_layers.places_near(all_places, kind, code, state.level, tuple(types), tuple(services))
point_layers = []
many_places = len(near) > map_layers.MAX_POPUPS
if many_places and show_places:
    opts["places_all"] = st.sidebar.checkbox(f"Dessiner les {len(near)} lieux (carte plus lourde)", value=opts["places_all"], key="map_places_all")
    show_places = opts["places_all"]
if show_places and len(near):
    user = session_places.get()
    user_df = None if user.empty else pd.DataFrame(user.drop(columns="geometry"))
    prepared = map_layers.place_points(kind, code, state.level, tuple(types), tuple(services), user_df)
    point_layers.append(PointLayer(None, "name", f"Lieux d'accueil ({prepared.count})", "#1f2937", radius=4 if many_places else 6, prepared=prepared))
qpv = map_layers.qpv_points(kind, code, state.level) if show_qpv else None
if qpv is not None and qpv.count:
    point_layers.append(PointLayer(None, "label", "QPV (centre de la commune, pas le périmètre)", "#7c3aed", radius=5, prepared=qpv))
boundaries = map_layers.commune_boundaries(kind, code) if state.level == "iris" else None

try:
    fmap = build_choropleth(
        gview,
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
    )
except MissingAssetError as exc:
    st.error(f"Les fichiers de la carte sont absents : {exc}")
    st.stop()

left, right = st.columns([3, 2])
with left:
    clicked = show_map(fmap, key=f"map_{state.territory}_{state.level}", height=620)
    n_missing = int(gview["value"].isna().sum())
    st.caption(
        f"{len(gview)} zones · {n_missing} sans valeur (hachurées) · source : {compute.vintage_note(layer.group)} · "
        f"lieux : {len(near)} dans l'emprise (ANCT, data·inclusion, Hinaura, conseillers numériques)"
        + (f" ; au-delà de {map_layers.MAX_POPUPS} lieux, choisissez un territoire plus petit pour voir leurs fiches." if many_places else ".")
    )
with right:
    options = gview.sort_values("name")["code"].tolist()
    # a keyed selectbox keeps its own value: a map click writes it into the session state
    if clicked and clicked in set(options) and clicked != st.session_state.get("zone_clicked"):
        st.session_state["zone_clicked"] = clicked
        st.session_state["zone_pick"] = clicked
    if st.session_state.get("zone_pick") not in set(options):
        st.session_state["zone_pick"] = None
    names = dict(zip(gview["code"], gview["name"], strict=True))
    zone_labels = {None: "—"} | {c: f"{names[c]} ({c})" for c in options}
    chosen = st.selectbox("Zone à expliquer (ou cliquez sur la carte)", [None] + options, format_func=zone_labels.get, key="zone_pick", placeholder="Choisir une zone")
    if chosen:
        explain.zone_panel(chosen, state.level, res, config, all_places)
    else:
        st.info("Cliquez sur une zone de la carte pour voir pourquoi elle a cette note : contribution de chaque indicateur, personnes concernées, accessibilité, lieux les plus proches.")
    undefined = report.get("zones_target_undefined", 0)
    if undefined:
        st.caption(f"{undefined} zones sans cible d'accessibilité définie (médiane nulle sur leur référence).")
    top = view.dropna(subset=["unmet"]).sort_values("unmet", ascending=False).head(8)
    if len(top):
        # a plain HTML table (escaped): lighter for the browser than a data grid; the full,
        # sortable list with downloads is on the Diagnostic page
        rows = "".join(
            f"<tr><td>{esc(n)}</td><td style='text-align:right'>{format_fr(u, 0)}</td>"
            f"<td style='text-align:right'>{format_fr(d, 0)}</td><td style='text-align:right'>{format_fr(sc, 1)}</td></tr>"
            for n, u, d, sc in zip(top["name"], top["unmet"], top["need"], top["score"], strict=True)
        )
        st.markdown(
            "**Zones prioritaires (besoin non couvert)**\n\n<table style='width:100%;font-size:0.85rem'><thead><tr>"
            "<th>Zone</th><th>Besoin non couvert</th><th>Personnes en besoin</th><th>Note /10</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>",
            unsafe_allow_html=True,
        )
if np.isfinite(view["value"]).sum() == 0:
    st.warning("Aucune zone n'a de valeur pour cette couche sur ce territoire : voir Données & méthode › Couverture.")
