"""Données & méthode: sources, vintages, licences and coverage from the manifest; the method; uploads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from loaders.errors import LoaderError
from loaders.quality import quality_rows
from loaders.user_places import MAX_BYTES, TEMPLATE_COLUMNS, parse_user_places, template_csv
from ui import data, method, session_places
from ui.navigation import use_app_navigation

use_app_navigation()

st.title("Données & méthode")
manifest = data.manifest()

tab_sources, tab_coverage, tab_method, tab_upload = st.tabs(["Sources", "Couverture", "Méthode", "Importer vos lieux"])

with tab_sources:
    st.markdown(
        "Toutes les données viennent de producteurs publics (INSEE, IGN, ARCEP, ANCT, Ministère de la Culture, data·inclusion, Hinaura). "
        "Le jeu de données embarqué est **dérivé** de leurs fichiers par le programme de construction du projet "
        "(`python -m loaders.build_pack`) ; chaque fichier d'entrée est identifié par son empreinte SHA-256."
    )
    rows = [
        {
            "Source": s["title"],
            "Producteur": s["producer"],
            "Millésime": s["vintage"],
            "Licence": s["licence"],
            "Téléchargement officiel": s.get("url") or s.get("page") or "—",
            "Remarques": s.get("notes", ""),
            "SHA-256": (s.get("sha256") or "absent")[:12],
        }
        for s in sorted(manifest["sources"].values(), key=lambda s: s["title"])
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    tables = pd.DataFrame([{"Table": k, "Fichier": v["file"], "Lignes": v["rows"]} for k, v in manifest["tables"].items()])
    st.markdown("**Tables du jeu de données**")
    st.dataframe(tables, hide_index=True)
    t = data.territories()
    st.markdown(
        f"**Territoires disponibles** : {int((t['kind'] == 'reg').sum())} région, {int((t['kind'] == 'dep').sum())} départements, "
        f"{int((t['kind'] == 'epci').sum())} EPCI, {int((t['kind'] == 'com').sum())} communes, {len(data.pack()['iris'])} IRIS."
    )

with tab_coverage:
    st.markdown(
        "Part des zones qui ont une valeur, et part **estimée** : valeur de la commune donnée à ses IRIS, structure d'un "
        "recensement plus ancien remise à l'échelle, ou estimation d'une donnée non publiée (secret statistique). Aux "
        "mailles agrégées, la part estimée est celle de la population des communes estimées. Une valeur absente est "
        "affichée comme absente, jamais comme zéro."
    )
    cov = pd.DataFrame(quality_rows(manifest))
    if not cov.empty:
        cov = cov.rename(columns={"indicator": "Indicateur", "level": "Maille", "zones": "Zones", "with_value_pct": "Zones avec valeur (%)", "population_covered_pct": "Population couverte (%)", "imputed_pct": "Estimé (%)", "capped_zones": "Zones corrigées (source incohérente)", "vintage": "Millésime"})
        st.dataframe(cov.drop(columns="group"), hide_index=True, width="stretch")

with tab_method:
    st.markdown(method.METHOD_MD)
    st.markdown("### Ce qui est estimé, par indicateur et par maille")
    st.dataframe(method.estimates_table(manifest), hide_index=True, width="stretch")
    cal = manifest.get("estimates", {}).get("poverty_secret_communes", {})
    if cal:
        st.caption(
            f"Modèle de la pauvreté des communes sous secret : ajusté sur {cal.get('model_n', '?')} petites communes qui publient "
            f"(erreur absolue moyenne {str(cal.get('model_mae_points', '?')).replace('.', ',')} point) ; correction "
            f"κ = {str(cal.get('kappa', '?')).replace('.', ',')}, tirée des EPCI dont le taux est publié dans les données."
        )

with tab_upload:
    st.markdown(
        "Ajoutez vos propres lieux (fichier **CSV ou XLSX**, au schéma national des *lieux de médiation numérique* "
        f"ou au modèle ci-dessous, {MAX_BYTES // 1024 // 1024} Mo au plus). Chaque ligne est vérifiée ; les lignes valides "
        "sont ajoutées aux lieux de votre session (carte et chiffres), les autres sont listées avec le problème."
    )
    st.download_button("Télécharger le modèle CSV", template_csv(), file_name="modele_lieux.csv", mime="text/csv")
    with st.expander("Colonnes du modèle"):
        st.table(pd.DataFrame({"Colonne": list(TEMPLATE_COLUMNS), "Contenu": list(TEMPLATE_COLUMNS.values())}))
    up = st.file_uploader("Fichier de lieux", type=["csv", "xlsx"], key=f"upload_places_{st.session_state.get('upload_round', 0)}")
    if up is not None:
        content = up.getvalue()
        try:
            good, report = parse_user_places(content, up.name)
        except LoaderError as exc:
            st.error(f"Fichier refusé : {exc.problem}" + (f" (attendu : {exc.expected})" if exc.expected else ""))
        else:
            added = session_places.add(good, up.name)
            if added:
                st.success(f"{added} lieu(x) ajouté(s) à votre session.")
            elif len(good):
                st.info("Ce fichier a déjà été importé dans cette session.")
            if len(report):
                st.warning(f"{report['ligne'].nunique()} ligne(s) refusée(s) :")
                st.dataframe(report, hide_index=True)
    user = session_places.get()
    if len(user):
        st.markdown(f"**Lieux importés dans cette session : {len(user)}**")
        st.dataframe(user[["name", "type", "address", "weekly_hours", "sources"]], hide_index=True)
        if st.button("Retirer les lieux importés"):
            session_places.clear()
            st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1  # empty the uploader too
            st.rerun()
