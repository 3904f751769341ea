"""The Diagnostic's « Activité observée » section: part of the need accompanied today, the
communes where need is high and observed activity low, and who the people accompanied are."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from indicators.activity import activity_profile
from reports.figures import figure_text
from ui import compute, data
from ui.exports import VEGA_FR_LOCALE
from ui.folium_map import esc, format_fr


def _figure_line(figs: pd.DataFrame, ref_figs: pd.DataFrame | None, key: str, label: str, ref_label: str | None) -> str:
    f = figs.loc[key]
    text = f"**{figure_text(f['value'], f['unit'], f['decimals'])}** pour {esc(label)}"
    if ref_figs is not None and key in ref_figs.index:
        r = ref_figs.loc[key]
        text += f", {figure_text(r['value'], r['unit'], r['decimals'])} pour {esc(ref_label or '')}"
    return text


def draw(kind: str, code: str, label: str, ref_label: str | None, figs: pd.DataFrame, ref_figs: pd.DataFrame | None,
         commune_results: pd.DataFrame) -> None:
    """Draw the section (figures from :func:`reports.figures.key_figures_for`; commune results of
    :func:`ui.compute.results`)."""
    st.subheader("Activité observée : la part du besoin accompagnée aujourd'hui")
    st.markdown(
        "Personnes accompagnées par les conseillers numériques pour 1 000 personnes en besoin : "
        + _figure_line(figs, ref_figs, "accompanied_per_1000", label, ref_label)
        + ". Usagers Aidants Connect pour 1 000 personnes en besoin (à part, jamais ajoutés) : "
        + _figure_line(figs, ref_figs, "ac_users_per_1000", label, ref_label) + "."
    )
    st.caption(f"Source : {compute.ACTIVITY_CAVEAT}.")
    communes = data.zones_in(kind, code, "commune")
    res = commune_results.reindex(communes.index)
    low = res[res["bivariate_activity_class"] == "3-1"]
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Communes où la fragilité est forte et l'activité observée faible**")
        if low.empty:
            st.info("Aucune commune de ce territoire n'est à la fois dans le tiers le plus fort de l'indice de fragilité et le tiers le plus faible de l'activité observée (terciles de la région).")
        else:
            low = low.sort_values("need", ascending=False)  # where most people are concerned first
            table = pd.DataFrame({
                "Commune": communes.loc[low.index, "name"].to_numpy(),
                "En besoin": [format_fr(v, 0) for v in low["need"]],
                "Accompagnées / 1 000": [format_fr(v, 0) for v in low["accompanied_per_1000"]],
            })
            # widths that fit the half page at 1 440 px (the grid would size them on the first,
            # largest rows and scroll sideways)
            st.dataframe(table, hide_index=True, width="stretch", height=min(320, 38 + 35 * len(table)), column_config={
                "Commune": st.column_config.TextColumn(width=170),
                "En besoin": st.column_config.TextColumn(width=95, help="Personnes en besoin d'accompagnement"),
                "Accompagnées / 1 000": st.column_config.TextColumn(
                    width=165, help="Personnes accompagnées par les conseillers numériques pour 1 000 personnes en besoin"),
            })
    with c2:
        _profile(communes)


def _profile(communes: pd.DataFrame) -> None:
    prof = activity_profile(communes)
    st.markdown("**Qui sont les personnes accompagnées** (conseillers numériques)")
    if not np.isfinite(prof["share"]).any():
        st.info("Aucun compte rendu d'activité dans ce territoire.")
        return
    charts = []
    for kind, title in (("âge", "par âge"), ("situation", "par situation")):
        part = prof[prof["kind"] == kind].assign(part=lambda d: d["share"].round(1))
        charts.append(
            alt.Chart(part, title=alt.Title(title, anchor="start", fontSize=12))
            .mark_bar(color="#4b5563")
            .encode(y=alt.Y("group:N", sort=None, title=None, axis=alt.Axis(labelLimit=220)),
                    x=alt.X("part:Q", title="% des personnes accompagnées"),
                    tooltip=[alt.Tooltip("group:N", title="groupe"), alt.Tooltip("part:Q", title="%"), alt.Tooltip("people:Q", title="personnes", format=",.0f")])
            .properties(height=120)
        )
    chart = alt.vconcat(*charts)
    st.altair_chart(chart.configure(locale=VEGA_FR_LOCALE), width="stretch")
    pop60 = communes["pop_60p"].sum(min_count=1) / communes["pop_age_total"].sum(min_count=1) if "pop_60p" in communes else np.nan
    old = prof.loc[prof["group"] == "60 ans ou plus", "share"].iloc[0]
    line = f"60 ans ou plus : {format_fr(old, 0)} % des personnes accompagnées"
    if np.isfinite(pop60):
        line += f", {format_fr(100 * pop60, 0)} % de la population (RP2022)"
    else:
        share65 = 100 * communes["pop15p_65p"].sum() / communes["pop15p"].sum()
        line += f" ; 65 ans ou plus : {format_fr(share65, 0)} % des 15 ans ou plus (RP2017 / RP2022)"
    st.caption(line + ". Le besoin (modèle précarité) porte sur les personnes pauvres, de tous âges.")
