"""Données & méthode: sources, vintages, licences and coverage from the manifest; the method; uploads."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from loaders.errors import LoaderError
from loaders.quality import quality_rows
from loaders.user_places import MAX_BYTES, TEMPLATE_COLUMNS, parse_user_places, template_csv
from ui import data, session_places
from ui.navigation import use_app_navigation

use_app_navigation()

st.title("Données & méthode")
manifest = data.manifest()

tab_sources, tab_coverage, tab_method, tab_upload = st.tabs(["Sources", "Couverture", "Méthode", "Importer vos lieux"])

with tab_sources:
    st.markdown(
        "Toutes les données viennent de producteurs publics (INSEE, IGN, ARCEP, ANCT, data·inclusion, Hinaura). "
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
        for s in manifest["sources"].values()
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
        "Part des zones qui ont une valeur, et part **imputée** (valeur de la commune donnée à ses IRIS, ou structure "
        "d'un recensement plus ancien remise à l'échelle). Une valeur absente est affichée comme absente, jamais comme zéro."
    )
    cov = pd.DataFrame(quality_rows(manifest))
    if not cov.empty:
        cov = cov.rename(columns={"indicator": "Indicateur", "level": "Maille", "zones": "Zones", "with_value_pct": "Zones avec valeur (%)", "population_covered_pct": "Population couverte (%)", "imputed_pct": "Imputé (%)", "vintage": "Millésime"})
        st.dataframe(cov.drop(columns="group"), hide_index=True, width="stretch")

with tab_method:
    st.markdown(
        r"""
### 1. Besoin : indice de fragilité numérique
Inspiré de l'*Indice de fragilité numérique* de La Mednum (2023, cinq indicateurs, plus haut = plus fragile) :
part des locaux sans très haut débit fixe (ARCEP), absence de 4G (ici **approchée** par la distance au site 4G le plus proche),
taux de pauvreté à 60 % (Filosofi), part des 65 ans ou plus (recensement ; 60 ans ou plus à l'IRIS), part des non-scolarisés
de 15 ans ou plus sans diplôme ou avec le CEP. Chaque indicateur est noté de 1 à 10 (déciles sur les zones de référence),
puis l'indice est la moyenne pondérée des notes :
$$ I_i = \frac{\sum_k w_k\, s_{ik}}{\sum_k w_k}, \qquad w_k \in \{0,\dots,10\}. $$
Autres normalisations : rapport à la référence $\times 100$ (IFN 2019) et min–max 0–10 (DERI). La contribution de chaque
indicateur est $w_k s_{ik} / \sum w$ : les contributions s'additionnent à l'indice.

### 2. Personnes concernées
*Modèle précarité* : $N_i = 0{,}40 \times$ personnes sous le seuil de pauvreté (chiffre d'appel d'Emmaüs Connect).
*Modèle illectronisme* : $N_i = \sum_g P_{ig}\, r_g$ avec les taux par âge de l'INSEE (Insee Première n° 1780, 2019).

### 3. Offre
Capacité d'un lieu : $S_j$ = heures d'ouverture hebdomadaires $\times$ nombre de conseillers (quand il est connu) ;
à défaut, une valeur par type de lieu, signalée.

### 4. Accessibilité (E2SFCA)
$$ R_j = \frac{S_j}{\sum_i W(d_{ij})\, N_i}, \qquad A_i = \sum_j W(d_{ij})\, R_j $$
en heures d'accompagnement par semaine et par personne concernée. $W$ décroît par paliers avec le temps de trajet
(préréglages APL de la DREES, PySAL, 30 minutes). Temps = distance à vol d'oiseau (Lambert-93) $\times$ coefficient de
détour $\div$ vitesse (marche en ville dense, voiture ailleurs).

### 5. Besoin non couvert
$U_i = N_i \times \max(0,\ 1 - A_i / T)$ avec $T$ la cible (par défaut la médiane de $A$ sur la référence).
Classes croisées besoin $\times$ accessibilité (terciles, 3 $\times$ 3) et classement des zones prioritaires, avec leur
robustesse (probabilité de rester dans le premier décile quand poids, normalisation et référence varient).

### Comment (ne pas) utiliser l'indice
L'indice **classe** des zones entre elles ; il ne mesure pas un nombre de personnes. Il dépend des indicateurs disponibles
(voir l'onglet Couverture) : comparez des zones de même maille et de même couverture. Les données ARCEP datent de 2018
et surestiment les manques d'aujourd'hui ; les horaires publiés peuvent être anciens. Un chiffre ne remplace pas
l'avis des acteurs de terrain.
"""
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
