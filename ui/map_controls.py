"""The Carte page's settings: read before the map is built, drawn in the sidebar after it.

Why in two steps: Streamlit sends each element to the browser as the script creates it, and the
browser renders what it receives in order. Reading the settings from this rerun's widget values
(a keyed widget's value is in ``st.session_state`` when the script starts) lets the page create
the map first and the sidebar's widgets last, so the map message leaves the server first and the
map iframe starts loading while the browser renders the controls (≈ 0.3–0.4 s less from
navigation to drawn map in ``benchmarks/bench_app.py``).

The layer, classes, catchment preset, need model and weights live in the view state (URL);
the places / QPV / background choices in ``st.session_state["map_opts"]``, where they survive
while their widgets are hidden behind « Plus de réglages ».
"""

from __future__ import annotations

from dataclasses import dataclass
from time import sleep

import streamlit as st

from indicators import CATALOGUE
from ui import compute, navigation, picker
from ui.labels import PLACE_TYPE_LABELS, SERVICE_LABELS
from ui.picker import set_state
from ui.state import SCHEMES, ViewState

#: the map's head start on a session's first run (150 ms: map drawn at ×1.41 the bare page; 300 ms:
#: ×1.17; 450 ms: ×1.07 but the controls 0.36 s later)
MAP_HEADSTART_S = 0.3
OPTS_KEY = "map_opts"
OPTS_DEFAULT = {"places": True, "types": [], "services": [], "qpv": True, "tiles": False, "places_all": False}
SCHEME_LABELS = {
    "quantiles": "Quantiles",
    "natural_breaks": "Seuils naturels (Jenks)",
    "equal_interval": "Intervalles égaux",
}
#: widget key -> option in ``map_opts`` it sets
_OPT_WIDGETS = {
    "map_places": "places",
    "map_types": "types",
    "map_services": "services",
    "map_qpv": "qpv",
    "map_tiles": "tiles",
    "map_places_all": "places_all",
}


@dataclass(frozen=True)
class MapSettings:
    """What the map shows, with this rerun's widget values applied."""

    state: ViewState
    places: bool
    types: tuple[str, ...]
    services: tuple[str, ...]
    qpv: bool
    tiles: bool
    places_all: bool
    more: bool  # the finer settings are shown


def read(state: ViewState, layers: dict, indicator_keys: tuple[str, ...] | list[str]) -> MapSettings:
    """The settings from the widgets' values (or the state / stored options when a widget is not
    drawn); a changed state is stored and mirrored in the URL."""
    ss = st.session_state
    opts = ss.setdefault(OPTS_KEY, dict(OPTS_DEFAULT))
    for key, opt in _OPT_WIDGETS.items():
        if key in ss:
            opts[opt] = ss[key]
    more = bool(ss.get("map_more", False))
    layer = ss.get("map_layer", state.layer)
    changes = {"layer": layer if layer in layers else state.layer}
    weights = {key: int(state.weights.get(key, 1)) for key in indicator_keys}
    if more:
        for field, key, valid in (
            ("scheme", "map_scheme", SCHEMES),
            ("k", "map_k", range(3, 10)),
            ("preset", "map_preset", compute.PRESET_LABELS),
            ("need_model", "map_need", compute.NEED_LABELS),
            ("reference", "map_ref", compute.REFERENCE_CHOICES),
        ):
            if ss.get(key) in valid:
                changes[field] = ss[key]
        for key in indicator_keys:
            value = ss.get(f"w_{key}")
            if isinstance(value, int):
                weights[key] = value
    changes["weights"] = {k: v for k, v in weights.items() if v != 1}
    new = state.with_(**changes)
    if new != state:
        set_state(new)
    return MapSettings(
        new,
        bool(opts["places"]),
        tuple(opts["types"]),
        tuple(opts["services"]),
        bool(opts["qpv"]),
        bool(opts["tiles"]),
        bool(opts["places_all"]),
        more,
    )


def map_headstart() -> None:
    """Call right after the map is created: on the session's first script run, wait
    :data:`MAP_HEADSTART_S` so that the browser creates the map's frame before it receives the
    controls (see the module's docstring); later runs go on at once."""
    if navigation.first_run():
        sleep(MAP_HEADSTART_S)


def draw(
    settings: MapSettings, layers: dict, indicator_keys: tuple[str, ...] | list[str], n_places: int, many_places: bool
) -> None:
    """The « Carte » block of the sidebar; its widgets hold the values :func:`read` returned.

    Widget callbacks are dict methods, not lambdas: Streamlit keeps a session's callbacks (also
    for 2 min after it disconnects), and a lambda defined in a page would keep that page's
    globals — frames, the map — alive with them.
    """
    state, opts = settings.state, st.session_state[OPTS_KEY]
    layer_labels = {k: lay.label for k, lay in layers.items()}
    keys = list(layers)
    with st.sidebar:
        st.markdown("### Carte")
        st.selectbox("Couche", keys, index=keys.index(state.layer), format_func=layer_labels.get, key="map_layer", placeholder="Choisir une couche")
        st.toggle("Lieux d'accueil", value=settings.places, key="map_places")
        # fewer widgets drawn = a faster page: the finer settings only appear on request
        st.toggle(
            "Plus de réglages",
            value=False,
            key="map_more",
            help="Classes, zone de chalandise, estimation du besoin, poids de l'indice, filtres des lieux, QPV, fond de carte.",
        )
        if settings.more:
            c1, c2 = st.columns(2)
            c1.selectbox(
                "Classes", SCHEMES, index=SCHEMES.index(state.scheme), format_func=SCHEME_LABELS.get, key="map_scheme"
            )
            c2.slider("Nombre", 3, 9, state.k, key="map_k")
            for label, labels, current, key in (
                ("Zone de chalandise", compute.PRESET_LABELS, state.preset, "map_preset"),
                ("Estimation du besoin", compute.NEED_LABELS, state.need_model, "map_need"),
                ("Référence de l'indice", compute.REFERENCE_CHOICES, state.reference, "map_ref"),
            ):
                options = list(labels)
                st.selectbox(label, options, index=options.index(current), format_func=labels.get, key=key)
            with st.expander("Poids de l'indice (0 à 10)"):
                for key in indicator_keys:
                    st.slider(CATALOGUE[key].label, 0, 10, int(state.weights.get(key, 1)), key=f"w_{key}")
            for key, label, labels, chosen, placeholder in (
                ("map_types", "Types de lieux", PLACE_TYPE_LABELS, settings.types, "Tous les types"),
                ("map_services", "Services", SERVICE_LABELS, settings.services, "Tous les services"),
            ):
                st.multiselect(label, list(labels), default=list(chosen), format_func=labels.get, key=key, placeholder=placeholder, select_all=False)
            st.toggle("Quartiers prioritaires (QPV)", value=settings.qpv, key="map_qpv")
            st.toggle("Fond de carte OpenStreetMap (réseau requis)", value=settings.tiles, key="map_tiles")
        else:
            filters = [
                f"{len(v)} {label}"
                for v, label in ((settings.types, "type(s)"), (settings.services, "service(s)"))
                if v
            ]
            st.caption(
                f"{SCHEME_LABELS[state.scheme]}, {state.k} classes · {compute.PRESET_LABELS[state.preset]} · "
                f"{compute.NEED_LABELS[state.need_model]} · référence : {compute.REFERENCE_CHOICES[state.reference].split(' (')[0]} · "
                f"poids {'personnalisés' if state.weights else 'égaux'}"
                + (f" · lieux filtrés : {', '.join(filters)}" if filters else "")
                + ("" if settings.qpv else " · QPV masqués")
                + (" · fond OpenStreetMap" if settings.tiles else "")
            )
        if many_places and settings.places:
            st.checkbox(
                f"Dessiner les {compute.format_count(n_places)} lieux (carte plus lourde)", value=opts["places_all"], key="map_places_all"
            )


def draw_sidebar(
    view_state: ViewState,
    settings: MapSettings,
    layers: dict,
    indicator_keys,
    n_places: int = 0,
    many_places: bool = False,
) -> None:
    """The whole sidebar of the Carte page: the territory picker, then :func:`draw`."""
    picker.draw(view_state)
    draw(settings, layers, indicator_keys, n_places, many_places)
