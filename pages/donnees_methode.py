"""Données & méthode: sources, vintages, licences and coverage from the manifest; the method; uploads."""

from __future__ import annotations

import streamlit as st

from ui import data, method, picker, session_places
from ui.folium_map import format_fr
from ui.navigation import use_app_navigation
from ui.safe_text import escape_md_cells

use_app_navigation()

st.title("Données & méthode")
manifest = picker.pack_or_stop(data.manifest)

tab_sources, tab_coverage, tab_method, tab_upload = st.tabs(["Sources", "Couverture", "Méthode", "Importer vos lieux"])

with tab_sources:
    st.markdown(
        "Toutes les données viennent de producteurs publics (INSEE, IGN, ARCEP, ANCT, Ministère de la Culture, data·inclusion, Hinaura). "
        "Le jeu de données embarqué est **dérivé** de leurs fichiers par le programme de construction du projet, qui vérifie "
        "l'empreinte de chaque fichier téléchargé."
    )
    # a table that wraps (long titles and producers read whole, no cell cut), links built from
    # http(s) addresses only (ui.safe_text.md_link)
    st.table(method.sources_table_md(manifest), hide_index=True, border="horizontal")
    st.markdown("**Contenu du jeu de données**")
    st.dataframe(method.contents_table(manifest), hide_index=True)
    t = data.territories()
    st.markdown(
        f"**Territoires disponibles** : {format_fr((t['kind'] == 'reg').sum(), 0)} région, {format_fr((t['kind'] == 'dep').sum(), 0)} "
        f"départements, {format_fr((t['kind'] == 'epci').sum(), 0)} EPCI, {format_fr((t['kind'] == 'com').sum(), 0)} communes, "
        f"{format_fr(len(data.pack()['iris']), 0)} IRIS."
    )

with tab_coverage:
    st.markdown(
        "Part des zones qui ont une valeur, et part **estimée** : valeur de la commune donnée à ses IRIS, structure d'un "
        "recensement plus ancien remise à l'échelle, ou estimation d'une donnée non publiée (secret statistique). Aux "
        "mailles agrégées, la part estimée est celle de la population des communes estimées. Une valeur absente est "
        "affichée comme absente, jamais comme zéro."
    )
    # a table that wraps (French text), not a data grid that would scroll sideways in the column
    st.table(escape_md_cells(method.coverage_table(manifest)), border="horizontal")
    st.caption("Zones corrigées : valeurs incohérentes de la source ramenées à la borne possible (par exemple plus de locaux "
               "raccordables à la fibre que de locaux).")

with tab_method:
    st.markdown(method.METHOD_MD)
    st.markdown("### Ce qui est estimé, par indicateur et par maille")
    st.table(escape_md_cells(method.estimates_text(manifest)), border="horizontal")
    cal = manifest.get("estimates", {}).get("poverty_secret_communes", {})
    if cal:
        st.caption(
            f"Modèle de la pauvreté des communes sous secret : ajusté sur {cal.get('model_n', '?')} petites communes qui publient "
            f"(erreur absolue moyenne {str(cal.get('model_mae_points', '?')).replace('.', ',')} point) ; correction "
            f"κ = {str(cal.get('kappa', '?')).replace('.', ',')}, tirée des EPCI dont le taux est publié dans les données."
        )

with tab_upload:
    session_places.upload_panel()  # a fragment: an upload reruns the panel only (ui/session_places.py)
