"""Places a user uploaded in this browser session, merged with the pack's places; the uploader.

Kept in ``st.session_state`` only (never written to disk, never shared between sessions).

:func:`upload_panel` is the « Importer vos lieux » tab of Données & méthode, as a *fragment*: an
upload reruns this panel only, not the whole page (its sources and coverage tables cost the
server ≈ 0.2 s per rerun), and the file is read in a child process
(:func:`loaders.user_places.parse_user_places_isolated`): the other sessions keep their speed.

:func:`file_uploader_fr` is the app's file uploader: Streamlit's own drop zone is in English
(« Upload », « 5MB per file • CSV, XLSX »; Streamlit 1.67 has no locale for it). The helper sets
the widget's size limit (``max_upload_size``, so the browser refuses a larger file before sending
it) and replaces the English text by a French one with a stylesheet (``ui.streamlit_fr``). What
stays in English:
Streamlit's messages on a file the *browser* refuses (« File must be 5.0MB or smaller. », « …
files are not allowed. ») and the size shown beside an uploaded file name (« 12.3KB »).
"""

from __future__ import annotations

import hashlib

import geopandas as gpd
import pandas as pd
import streamlit as st

from loaders.errors import LoaderError
from loaders.user_places import (
    MAX_BYTES,
    MAX_ROWS,
    TEMPLATE_COLUMNS,
    parse_user_places_isolated,
    prepare_isolation,
    template_csv,
)
from ui.folium_map import format_fr
from ui.labels import PLACE_TYPE_LABELS
from ui.safe_text import escape_md
from ui.streamlit_fr import UPLOADER_CSS, add_stylesheet

_KEY = "user_places"
_SEEN = "user_places_files"


def file_uploader_fr(label: str, *, types: list[str], key: str, max_mb: int, help: str | None = None):  # noqa: A002
    """``st.file_uploader`` limited to ``max_mb`` MiB, with a French drop zone (module docstring).

    ``label`` should say the accepted types and the limit (« CSV ou XLSX, 5 Mo au plus »): the
    drop zone's own limit line is hidden.
    """
    add_stylesheet(UPLOADER_CSS)
    return st.file_uploader(label, type=types, key=key, help=help, max_upload_size=max_mb)


def get() -> gpd.GeoDataFrame:
    """The uploaded places of this session (empty GeoDataFrame if none)."""
    return st.session_state.get(_KEY, gpd.GeoDataFrame({"name": []}, geometry=[], crs="EPSG:2154"))


def add(places: gpd.GeoDataFrame, filename: str) -> int:
    """Add validated places once per file content; returns how many were added."""
    if places.empty:
        return 0
    digest = hashlib.sha256(places.drop(columns="geometry").to_json().encode()).hexdigest()
    seen = st.session_state.setdefault(_SEEN, set())
    if digest in seen:
        return 0
    seen.add(digest)
    places = places.copy()
    places["place_id"] = f"import:{digest[:8]}:" + places["place_id"].astype(str)
    current = get()
    merged = places if current.empty else pd.concat([current, places], ignore_index=True)
    st.session_state[_KEY] = gpd.GeoDataFrame(merged, geometry="geometry", crs="EPSG:2154")
    st.session_state["places_version"] = st.session_state.get("places_version", 0) + 1
    return len(places)


def clear() -> None:
    st.session_state.pop(_KEY, None)
    st.session_state.pop(_SEEN, None)
    st.session_state["places_version"] = st.session_state.get("places_version", 0) + 1


def all_places(pack_places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Pack places plus this session's uploads."""
    user = get()
    if user.empty:
        return pack_places
    return gpd.GeoDataFrame(pd.concat([pack_places, user], ignore_index=True), geometry="geometry", crs=pack_places.crs)


@st.fragment
def upload_panel() -> None:
    """The upload of a user's places: template, uploader, French refusals, row-level report."""
    prepare_isolation()
    max_mb = MAX_BYTES // 1024 // 1024
    st.markdown(
        "Ajoutez vos propres lieux (fichier **CSV ou XLSX**, au schéma national des *lieux de médiation numérique* "
        f"ou au modèle ci-dessous, {max_mb} Mo et {format_fr(MAX_ROWS, 0)} lignes au plus). Chaque ligne est vérifiée ; les lignes valides "
        "sont ajoutées aux lieux de votre session (carte et chiffres), les autres sont listées avec le problème. "
        "Le fichier reste dans votre session : il n'est ni enregistré sur le serveur ni visible des autres utilisateurs."
    )
    st.download_button("Télécharger le modèle CSV", template_csv(), file_name="modele_lieux.csv", mime="text/csv")
    with st.expander("Colonnes du modèle"):
        st.table(pd.DataFrame({"Colonne": list(TEMPLATE_COLUMNS), "Contenu": list(TEMPLATE_COLUMNS.values())}))
    up = file_uploader_fr(
        f"Fichier de lieux (CSV ou XLSX, {max_mb} Mo au plus)",
        types=["csv", "xlsx"],
        key=f"upload_places_{st.session_state.get('upload_round', 0)}",
        max_mb=max_mb,
        help="Colonnes obligatoires : nom, latitude, longitude. Dans un CSV, mettez entre guillemets les valeurs qui contiennent le séparateur (les horaires).",
    )
    if up is not None:
        _show_upload(up)
    user = get()
    if len(user):
        st.markdown(f"**Lieux importés dans cette session : {format_fr(len(user), 0)}**")
        st.dataframe(imported_table(user), hide_index=True)
        if st.button("Retirer les lieux importés"):
            clear()
            st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1  # empty the uploader too
            st.rerun()


def imported_table(user: pd.DataFrame) -> pd.DataFrame:
    """The session's imported places for the user: French headers, type labels (not codes), hours
    in French format, « non renseignées » when the file gave none (never « None »)."""
    hours = [format_fr(h, 1) if pd.notna(h) else "non renseignées" for h in pd.to_numeric(user["weekly_hours"], errors="coerce")]
    return pd.DataFrame(
        {
            "Nom": user["name"].astype(str).to_numpy(),
            "Type": [PLACE_TYPE_LABELS.get(t, "Autre") for t in user["type"]],
            "Adresse": user["address"].fillna("").astype(str).to_numpy(),
            "Heures par semaine": hours,
            "Source": user["sources"].fillna("").astype(str).to_numpy(),
        }
    )


def _show_upload(up) -> None:
    """Read an uploaded file and say what became of it (every text from the file escaped)."""
    try:
        good, report = parse_user_places_isolated(up.getvalue(), up.name)
    except LoaderError as exc:  # problem and expected are French; they may quote the file: escaped
        st.error(f"Fichier refusé : {escape_md(exc.problem)}" + (f" (attendu : {escape_md(exc.expected)})" if exc.expected else ""))
        return
    added = add(good, up.name)
    if added:
        st.success(f"{added} lieu(x) ajouté(s) à votre session.")
    elif len(good):
        st.info("Ce fichier a déjà été importé dans cette session.")
    if len(report):
        st.warning(f"{report['ligne'].nunique()} ligne(s) refusée(s) :")
        shifted = report[report["champ"] == "(toute la ligne)"]
        if len(shifted):
            more = f" (et {len(shifted) - 1} autre(s) ligne(s) de même)" if len(shifted) > 1 else ""
            st.warning(escape_md(shifted["problème"].iloc[0]) + more)
        st.dataframe(report, hide_index=True)
    elif good.empty:
        st.info("Aucun lieu dans ce fichier.")
