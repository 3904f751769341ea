"""Orienter: send one person to the right reception point, now (issue #12).

For a social worker at a desk: where the person lives, what they need, when and how they can
come → the places that fit, nearest first, with hours, contacts and the freshness of the data;
why there are none and what would give some; a one-page fiche (PDF / HTML) to print or send.
Nothing about the person is stored or sent: there is no name field, the choices live in the
widgets of this browser session only, and nothing is logged.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from functools import partial

import geopandas as gpd
import pandas as pd
import streamlit as st

from indicators.orientation import SERVICES, SLOTS, Need, orient
from indicators.supply import DAYS
from ui import data, explain, map_layers, picker, session_places
from ui import orientation as ou
from ui.folium_map import PointLayer, build_choropleth, format_fr, show_map_with_clicks
from ui.labels import PLACE_TYPE_LABELS, SERVICE_LABELS
from ui.navigation import use_app_navigation
from ui.offline_assets import MissingAssetError
from ui.safe_text import escape_md

use_app_navigation()

state = picker.sidebar()
today = date.today()
st.title(f"Orienter — {data.territory_label(state.territory)}")
st.caption(
    "Où envoyer une personne en difficulté avec le numérique : les lieux d'accueil qui répondent à son besoin, "
    "du plus proche au plus éloigné. Aucune donnée sur la personne n'est demandée, enregistrée ni transmise."
)
user = session_places.get()
index = ou.place_index(today.isoformat(), None if user.empty else pd.DataFrame(user.drop(columns="geometry")))


def territory_map(origin: ou.Origin | None, shown: pd.DataFrame, click_sets_start: bool) -> None:
    """The territory's map with the places ``shown`` (numbered) and the start (if any); a click
    there sets the start when ``click_sets_start`` (« Un point cliqué sur la carte » chosen)."""
    level = state.level if not data.zones_in(state.kind, state.code, state.level).empty else "commune"
    zones = data.zones_in(state.kind, state.code, level)[["code", "name"]].assign(value=0.0)
    layers = []
    if len(shown):
        pts = gpd.GeoDataFrame(shown.assign(label=shown["rank"].astype(str) + ". " + shown["name"].astype(str)),
                               geometry=gpd.points_from_xy(shown["lon"], shown["lat"]), crs="EPSG:4326")
        layers.append(PointLayer(pts, "label", "Lieux proposés (numéro et nom au survol)", "#1d4ed8",
                                 partial(explain.place_popup, type_labels=PLACE_TYPE_LABELS, service_labels=SERVICE_LABELS, today=today),
                                 None, 7, changes=True))
    if origin is not None:
        start = gpd.GeoDataFrame({"label": [f"Départ : {origin.label}"]}, geometry=gpd.points_from_xy([origin.x], [origin.y]),
                                 crs="EPSG:2154").to_crs("EPSG:4326")
        layers.append(PointLayer(start, "label", "Point de départ", "#dc2626", None, None, 8, changes=True))
    try:
        fmap = build_choropleth(zones, "value", "name", [0.0, 1.0], ["#eef2f7"], legend_title="Territoire",
                                legend_labels=["Quartiers / communes"], extra_points=layers,
                                zone_outlines=map_layers.zone_outlines(state.kind, state.code, level))
        _zone, clicked = show_map_with_clicks(fmap, key=f"orient_map_{state.territory}_{level}", height=460)
    except MissingAssetError as exc:
        st.error(f"Les fichiers de la carte sont absents : {escape_md(exc)}")
        clicked = None
    if click_sets_start and clicked and clicked != st.session_state.get("orient_last_click"):
        st.session_state["orient_last_click"] = clicked
        st.session_state["orient_point"] = clicked
        st.rerun()


# 1. where the person lives, how they travel --------------------------------------------------------------
options = ou.origin_options(state.kind, state.code)
origin_key = f"orient_origin_{state.territory}"
K = ou.KEYS
row_a = st.columns([4, 2, 2])
choose_first = state.kind in ou.CHOOSE_ORIGIN_KINDS  # département, région: no central start
picked = row_a[0].selectbox("Où habite la personne ? (commune ou quartier)", list(options), format_func=options.get,
                            index=None if choose_first else 0, placeholder="Choisissez sa commune",
                            key=origin_key, help="Le temps de trajet part du point central du quartier ou de la commune, "
                            "ou d'un point cliqué sur la carte (choisissez « Un point cliqué sur la carte » puis cliquez).")
point = st.session_state.get("orient_point")
first = next(iter(options))
if picked == ou.POINT_KEY and point:
    origin = ou.point_origin(*point)
elif picked is None or (picked == ou.POINT_KEY and choose_first):
    origin = None  # asked below, once the map is drawn to click on
elif picked == ou.POINT_KEY:
    origin = ou.zone_origin(first, options[first])
    row_a[0].info("Cliquez sur la carte pour placer le point de départ.")
else:
    origin = ou.zone_origin(picked, options[picked])
if origin is None:
    st.info(ou.CHOOSE_ORIGIN_TEXT)
    if picked == ou.POINT_KEY:
        territory_map(None, pd.DataFrame(), click_sets_start=True)
    st.stop()
if not st.session_state.get(K["mode_touched"]) and st.session_state.get("orient_mode_for") != origin.key:
    st.session_state[K["mode"]] = origin.auto_mode  # follow the starting zone until the worker chooses
    st.session_state["orient_mode_for"] = origin.key
mode = row_a[1].segmented_control("Déplacement", ["walk", "car"], format_func=ou.MODE_LABELS.get, key=K["mode"],
                                  on_change=ou.mode_touched) or origin.auto_mode
st.session_state.setdefault(K["max"], 30)
max_minutes = row_a[2].select_slider("Trajet au plus (min)", ou.MAX_MINUTES_CHOICES, key=K["max"])

# 2. what they need, when ---------------------------------------------------------------------------------
services = st.pills("Besoin (un ou plusieurs)", list(SERVICES), format_func=ou.NEED_LABELS.get, selection_mode="multi",
                    key=K["services"])
row_c = st.columns([3, 2])
day = row_c[0].pills("Jour", list(DAYS), format_func=ou.DAY_SHORT.get, key=K["day"])
slot = row_c[1].pills("Créneau", list(SLOTS), format_func=ou.SLOT_SHORT.get, key=K["slot"])
st.caption(
    f"{ou.slot_rule_text()} Temps de trajet : distance à vol d'oiseau × détour, à pied ou en voiture (comme l'indicateur "
    "d'accès) ; **les transports en commun ne sont pas modélisés**. Accessibilité (fauteuil, surdité…) : absente des "
    "données embarquées (la source Hinaura la publie pour une partie des lieux, elle n'est pas encore reprise) : "
    "demandez-la au lieu."
)
need = Need(tuple(services or ()), day, slot, mode, float(max_minutes))
result = orient(index, origin.x, origin.y, need)
matches = result.matches

# 3. the answer ----------------------------------------------------------------------------------------
left, right = st.columns([3, 2])
with left:
    if len(matches):
        st.markdown(f"**{format_fr(len(matches), 0)} lieu{'x' if len(matches) > 1 else ''}** — {ou.esc(ou.need_text(need, origin.label))}")
        for _, place in matches.head(ou.N_CARDS).iterrows():
            st.markdown(ou.place_card_html(place, need, ou.commune_names()), unsafe_allow_html=True)
        if len(matches) > ou.N_CARDS:
            st.caption(f"… et {len(matches) - ou.N_CARDS} autres à portée : voir la liste complète plus bas.")
    else:
        st.warning(ou.empty_text(need, origin.label))
    st.caption(ou.funnel_text(result.funnel, need))
    if "equipement" in need.services:
        st.caption("Les bibliothèques publiques sont proposées pour l'accès libre à internet et au matériel : elles "
                   "n'accompagnent pas forcément les démarches.")
    if result.relaxations:
        st.markdown("**Élargir la recherche**" + (" (moins de 3 lieux)" if len(matches) else ""))
        for i, r in enumerate(result.relaxations):
            st.button(ou.relaxation_text(r, need), key=f"orient_relax_{i}", on_click=ou.apply_need, args=(r.need,))
    if len(matches) and (matches.head(ou.N_CARDS)["freshness"] == "stale").all():
        st.caption("Toutes ces fiches datent de 18 mois ou plus : appelez le lieu avant d'y envoyer la personne. "
                   + ou.FRESHNESS_RULE)

# 4. the map and the fiche ------------------------------------------------------------------------------
with right:
    territory_map(origin, matches.head(ou.N_CARDS), click_sets_start=picked == ou.POINT_KEY)
    fiche = ou.fiche_from(result, origin.label, (origin.x, origin.y), today, ou.commune_names())
    pack = data.pack()
    fiche = replace(fiche, note=ou.few_places_note(len(fiche.places), need) if fiche.places else ou.empty_text(need, origin.label))
    c1, c2 = st.columns(2)
    c1.download_button("Fiche d'orientation (PDF)", partial(ou.fiche_pdf_bytes, fiche, pack["iris"], pack["commune"]),
                       file_name="fiche_orientation.pdf", mime="application/pdf", on_click="ignore", key="orient_pdf", type="primary")
    c2.download_button("Fiche à imprimer (HTML)", partial(ou.fiche_html_bytes, fiche, pack["iris"], pack["commune"]),
                       file_name="fiche_orientation.html", mime="text/html", on_click="ignore", key="orient_html")
    st.caption("La fiche reprend le besoin, les 3 lieux les plus proches (horaires, adresse, téléphone, temps de trajet) "
               "et une petite carte. Elle ne contient aucune donnée sur la personne.")

# 5. every place of the territory -------------------------------------------------------------------------
# drawn only while the expander is open (lazy: a slot change does not rebuild the whole list)
every_place = st.expander("Tous les lieux du territoire : liste, filtres, tri et export CSV", key="orient_list_open",
                          on_change="rerun")
if every_place.open:
    with every_place:
        ou.draw_territory_list(index, state.kind, state.code, origin, mode)
