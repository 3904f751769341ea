"""The territory picker and view state shared by every page (sidebar), synced with the URL.

The picker is the first thing the pages with a territory read (Carte, Orienter, Diagnostic,
Comparer, Implantation): when the embedded pack cannot be read (folder missing, a file cut or
damaged), it says so in French with the way out (rebuild or restore the pack, reload) and ends
the run, instead of a traceback (:func:`pack_or_stop`).
"""

from __future__ import annotations

import streamlit as st

import geodata
from reports.labels import LEVEL_LABELS
from ui import data
from ui.safe_text import escape_md
from ui.state import DETAIL_LEVELS, ViewState, from_query
from ui.streamlit_fr import french_list_messages


def pack_or_stop(read=None):
    """``read()`` (default: ``data.territory_labels``), or a French error and the end of the run if
    the pack is unreadable (every page starts with it)."""
    try:
        return (read or data.territory_labels)()
    except (geodata.PackMissingError, OSError, ValueError, KeyError) as exc:  # pyarrow's errors subclass these
        st.error(
            "Les données embarquées ne peuvent pas être lues (dossier absent, fichier manquant ou endommagé). "
            "Reconstruisez-les (« python -m loaders.build_pack ») ou restaurez le dossier geodata/pack, puis rechargez la page."
        )
        st.caption(f"Détail technique : {escape_md(exc)}")
        st.stop()


def current_state(known_layers: set[str] | None = None) -> ViewState:
    """The view state: from the session if set, else parsed (and validated) from the URL."""
    if "view" not in st.session_state:
        known = pack_or_stop().keys()
        state, notices = from_query(dict(st.query_params), known_territories=known, known_layers=known_layers)
        st.session_state["view"] = state
        st.session_state["view_notices"] = notices
    return st.session_state["view"]


def set_state(state: ViewState) -> None:
    """Store the state and mirror it into the URL so that the link can be shared."""
    st.session_state["view"] = state
    query = state.to_query()
    for key in list(st.query_params.keys()):
        if key not in query:
            del st.query_params[key]
    for key, value in query.items():
        if st.query_params.get(key) != value:
            st.query_params[key] = value


def sidebar(known_layers: set[str] | None = None) -> ViewState:
    """Draw the territory search and the level of detail; returns the (possibly updated) state."""
    state = read_state(known_layers)
    draw(state)
    return state


def read_state(known_layers: set[str] | None = None) -> ViewState:
    """The state with this rerun's picks applied, *before* the picker is drawn; shows URL notices.

    A keyed widget's value is in the session state when the script starts (Streamlit stores
    what the browser sent), so a page can build its main content first and draw the picker
    afterwards with :func:`draw` (the Carte page does: its map message leaves the server before
    the sidebar's widgets, which the browser then renders while the map loads).
    """
    state = current_state(known_layers)
    for notice in st.session_state.pop("view_notices", []):
        st.warning(notice)  # Markdown-safe: ui.state.from_query escapes the values it quotes
    labels = pack_or_stop()
    key = st.session_state.get("picker_territory", state.territory)
    level = st.session_state.get("picker_level", state.level)
    new = state.with_(
        territory=key if key in labels else state.territory,
        level=level if level in DETAIL_LEVELS else state.level,
    )
    if new != state:
        set_state(new)
    return new


def draw(state: ViewState) -> None:
    """The territory search and the level of detail in the sidebar (values: see :func:`read_state`)."""
    labels = data.territory_labels()
    keys = list(labels)
    french_list_messages()  # « Aucun résultat » instead of Streamlit's « No results »
    with st.sidebar:
        st.markdown("### Territoire")
        st.selectbox(
            "Rechercher un territoire (nom ou code)",
            keys,
            index=keys.index(state.territory) if state.territory in labels else 0,
            format_func=labels.get,
            key="picker_territory",
            placeholder="Tapez un nom ou un code",
            help="Région, département, EPCI ou commune d'Auvergne-Rhône-Alpes. Tapez un nom ou un code INSEE / SIREN.",
        )
        levels = list(DETAIL_LEVELS)
        st.radio(
            "Maille de la carte",
            levels,
            index=levels.index(state.level),
            format_func=LEVEL_LABELS.get,
            horizontal=True,
            key="picker_level",
        )
