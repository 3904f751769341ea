"""Comparer: 2 to 4 territories side by side on the same key figures (summed counts), the app's own
outputs (fragility index, accessibility, unmet need), charts with a reference line, CSV."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from ui import comparison, compute, data, exports
from ui.navigation import use_app_navigation
from ui.picker import LEVEL_LABELS, set_state, sidebar
from ui.safe_text import escape_md, escape_md_cells
from ui.state import MAX_COMPARE

use_app_navigation()

MAX_TERRITORIES = MAX_COMPARE
#: figures compared, in this order (key figures of the Diagnostic, then the Carte's outputs)
COMPARED = ("population", "need", "score", "poverty", "unemployment", "age65", "low_diploma", "thd", "ftth", "places",
            "hours_per_1000", "access", "unmet", "pop_beyond_30")
#: figures that are totals: no reference line (the région's total would crush the territories' bars)
TOTALS = ("population", "need", "places", "unmet", "pop_beyond_30")
TOO_MANY = f"{MAX_TERRITORIES} territoires au plus : retirez-en un pour en ajouter un autre."

state = sidebar()
config = compute.config_or_stop(state)

st.title("Comparer des territoires")
terr = data.territories()
labels = dict(zip(terr["key"], terr["label"], strict=True))
default = comparison.compare_defaults(state.territory)
picked = st.multiselect(
    f"Territoires à comparer (2 à {MAX_TERRITORIES})",
    list(labels),
    default=[k for k in (state.compare or default) if k in labels],
    format_func=labels.get,
    key="cmp_territories",
    placeholder="Tapez un nom ou un code",
    select_all=False,
)
# no max_selections: Streamlit would say so in English; the count is checked here instead
chosen = list(picked[:MAX_TERRITORIES])
if len(picked) > MAX_TERRITORIES:
    st.warning(f"{TOO_MANY} Seuls les {MAX_TERRITORIES} premiers sont comparés.")
stored = () if tuple(chosen) == default else tuple(chosen)
if stored != state.compare:
    state = state.with_(compare=stored)
    set_state(state)
if len(chosen) < 2:
    st.info("Choisissez au moins deux territoires (région, département, EPCI ou commune).")
    st.stop()

config_json = config.to_json()
digest = exports.user_places_digest()
region = comparison.region_key(chosen[0])
keys = list(dict.fromkeys([*chosen, *([region] if region else [])]))
figures = {
    k: pd.concat([exports.key_figures(k, config_json, digest), comparison.outcome_figures(k, state.level, config_json, digest)],
                 ignore_index=True).set_index("key")
    for k in keys
}
short = data.territories().set_index("key")["name"]
names = comparison.unique_names(chosen, short, labels)
ref_name = f"Référence : {short.get(region, region)} (région)" if region else None

st.caption(
    "Chaque chiffre est recalculé par **somme des effectifs** des communes du territoire (jamais par moyenne de taux). "
    f"Besoin : modèle « {compute.NEED_LABELS[state.need_model]} » ; offre : lieux du territoire (réglages de la page Carte). "
    f"**Indice de fragilité** : note moyenne des habitants, c'est-à-dire la note (1 à 10) de chaque zone "
    f"({LEVEL_LABELS[state.level]}) pondérée par sa population, chaque note étant le décile de la zone sur la référence de l'indice. "
    "**Accessibilité** (E2SFCA) : heures d'accompagnement par semaine pour 1 000 personnes en besoin, moyenne pondérée par le besoin ; "
    "**besoin non couvert** : somme des zones. Mêmes valeurs que les pages Carte et Diagnostic. "
    "« n.d. » = donnée non disponible, avec sa raison sous le graphique et dans « Sources et remarques »."
)

# -- table ----------------------------------------------------------------------------------------
compared = {k: figures[k] for k in chosen}
st.table(comparison.comparison_table(compared, COMPARED, names), hide_index=True, border="horizontal")

long = exports.comparison_long({k: figures[k].reset_index().query("key in @COMPARED") for k in chosen}, labels)
st.download_button(
    "Télécharger la comparaison (CSV)",
    partial(exports.to_csv, long),  # binds the table only (a lambda would keep the whole page)
    file_name="comparaison_" + "_".join(k.replace(":", "-") for k in chosen) + ".csv",
    mime="text/csv",
    on_click="ignore",
    key="dl_compare_csv",
)

# -- one chart per figure -------------------------------------------------------------------------
st.subheader("Indicateur par indicateur")
if ref_name:
    st.caption(f"Trait pointillé : valeur de {escape_md(short.get(region, region))}, la région, pour situer chaque territoire "
               "(taux, indice et heures ; pas sur les effectifs, dont le total régional écraserait les barres).")
for i, fk in enumerate(COMPARED):
    if i % 2 == 0:  # one row of two charts at a time: the next row starts level
        grid = st.columns(2)
    with grid[i % 2]:
        f0 = figures[chosen[0]].loc[fk]
        st.markdown(f"**{escape_md(f0['label'])}** ({escape_md(f0['unit'])})")
        values = pd.DataFrame({
            "Territoire": [names[k] for k in chosen],
            "Valeur": [figures[k].loc[fk, "value"] for k in chosen],
            "Texte": [exports.figure_text(figures[k].loc[fk, "value"], f0["unit"], f0["decimals"]) for k in chosen],
        })
        r = figures[region].loc[fk] if region and fk not in TOTALS else None
        reference = (ref_name, float(r["value"]), exports.figure_text(r["value"], r["unit"], r["decimals"])) if r is not None else None
        st.altair_chart(comparison.comparison_chart(values, unit=f0["unit"], decimals=int(f0["decimals"]), reference=reference), width="stretch")
        missing = [(names[k], str(figures[k].loc[fk, "note"] or "donnée absente").split(" ; ")[0]) for k in chosen
                   if pd.isna(figures[k].loc[fk, "value"])]
        for name, reason in missing:
            st.caption(f"n.d. pour {escape_md(name)} : {escape_md(reason)} (détail dans « Sources et remarques »).")

st.caption("**Sources**\n\n" + comparison.comparison_sources(compared, COMPARED))

with st.expander("Sources et remarques, territoire par territoire"):
    notes = long[["territoire", "indicateur", "source", "remarque"]]
    notes = notes[notes["remarque"].astype(str).str.len() > 0]
    notes = escape_md_cells(notes, ["territoire", "source", "remarque"])  # st.table renders Markdown
    st.table(notes.rename(columns={"territoire": "Territoire", "indicateur": "Indicateur", "source": "Source", "remarque": "Remarque"}), hide_index=True, border="horizontal")
