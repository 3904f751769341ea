"""Comparer: 2 to 4 territories side by side on the same key figures (summed counts), charts, CSV."""

from __future__ import annotations

from functools import partial

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ui import compute, data, exports
from ui.navigation import use_app_navigation
from ui.picker import set_state, sidebar

use_app_navigation()

DEFAULT_COMPARE = ("epci:200040715", "dep:38", "reg:84")  # Grenoble-Alpes-Métropole, Isère, AURA
MAX_TERRITORIES = 4
#: figures compared, in this order
COMPARED = ("population", "need", "poverty", "unemployment", "age65", "low_diploma", "thd", "ftth", "places", "hours_per_1000", "pop_beyond_30")

state = sidebar()
config = compute.config_or_stop(state)

st.title("Comparer des territoires")
terr = data.territories()
labels = dict(zip(terr["key"], terr["label"], strict=True))
current = [k for k in (state.compare or DEFAULT_COMPARE) if k in labels]
chosen = st.multiselect(
    f"Territoires à comparer (2 à {MAX_TERRITORIES})",
    list(labels),
    default=current,
    format_func=labels.get,
    max_selections=MAX_TERRITORIES,
    key="cmp_territories",
    placeholder="Tapez un nom ou un code",
)
stored = () if tuple(chosen) == DEFAULT_COMPARE else tuple(chosen)
if stored != state.compare:
    state = state.with_(compare=stored)
    set_state(state)
if len(chosen) < 2:
    st.info("Choisissez au moins deux territoires (région, département, EPCI ou commune).")
    st.stop()

st.caption(
    "Chaque chiffre est recalculé par **somme des effectifs** des communes du territoire (jamais par moyenne de taux). "
    f"Besoin : modèle « {compute.NEED_LABELS[state.need_model]} » ; offre : lieux du territoire (réglages de la page Carte). "
    "« n.d. » = donnée non disponible, avec sa raison sous le graphique et dans « Sources et remarques »."
)

config_json = config.to_json()
digest = exports.user_places_digest()
figures = {k: exports.key_figures(k, config_json, digest).set_index("key") for k in chosen}
names = {k: data.territories().set_index("key").at[k, "name"] for k in chosen}
# two territories may share a name (a commune and its EPCI): make column names unique
seen: dict[str, int] = {}
for k in chosen:
    seen[names[k]] = seen.get(names[k], 0) + 1
names = {k: (n if seen[n] == 1 else labels[k]) for k, n in names.items()}

# -- table ----------------------------------------------------------------------------------------
first = figures[chosen[0]]
rows = []
for fk in COMPARED:
    row = {"Indicateur": first.loc[fk, "label"], "Unité": first.loc[fk, "unit"]}
    for k in chosen:
        f = figures[k].loc[fk]
        row[names[k]] = exports.figure_text(f["value"], f["unit"], f["decimals"])
    rows.append(row)
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

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
grid = st.columns(2)
for i, fk in enumerate(COMPARED):
    with grid[i % 2]:
        f0 = first.loc[fk]
        unit = f0["unit"]
        st.markdown(f"**{f0['label']}** ({unit})")
        vals = pd.DataFrame(
            {
                "Territoire": [names[k] for k in chosen],
                "Valeur": [figures[k].loc[fk, "value"] for k in chosen],
                "Texte": [exports.figure_text(figures[k].loc[fk, "value"], unit, figures[k].loc[fk, "decimals"]) for k in chosen],
            }
        )
        finite = np.isfinite(vals["Valeur"].astype(float))
        if finite.any():
            order = [names[k] for k in chosen]
            base = alt.Chart(vals.assign(Valeur=vals["Valeur"].where(finite, 0.0))).encode(
                y=alt.Y("Territoire:N", sort=order, scale=alt.Scale(domain=order), title=None, axis=alt.Axis(labelLimit=220)),
                x=alt.X("Valeur:Q", title=unit),
                tooltip=["Territoire", alt.Tooltip("Texte:N", title=f0["label"])],
            )
            chart = base.mark_bar(color="#c2410c") + base.mark_text(align="left", dx=3, fontSize=11).encode(text="Texte:N")
            st.altair_chart(chart.properties(height=34 * len(chosen) + 50).configure(locale=exports.VEGA_FR_LOCALE), width="stretch")
        for k in chosen:
            f = figures[k].loc[fk]
            if not np.isfinite(f["value"]):
                reason = str(f["note"] or "donnée absente").split(" ; ")[0]
                st.caption(f"n.d. pour {names[k]} : {reason} (détail dans « Sources et remarques »).")
        srcs = list(dict.fromkeys(figures[k].loc[fk, "source"] for k in chosen))
        st.caption("Source : " + " | ".join(s for s in srcs if s))

with st.expander("Sources et remarques, territoire par territoire"):
    notes = long[["territoire", "indicateur", "source", "remarque"]]
    notes = notes[notes["remarque"].astype(str).str.len() > 0]
    st.table(notes.rename(columns={"territoire": "Territoire", "indicateur": "Indicateur", "source": "Source", "remarque": "Remarque"}), hide_index=True, border="horizontal")
