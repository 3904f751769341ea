"""Implantation: where would new reception points help most? Models, what-if edits, scenarios."""

from __future__ import annotations

import json
from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st

from planning.scenarios import MAX_IMPORT_BYTES, MAX_IMPORT_SCENARIOS, WorkspaceError
from ui import compute, data, map_layers, plan_runs, session_places
from ui.folium_map import PointLayer, build_choropleth, format_fr, show_map, show_map_with_clicks
from ui.navigation import use_app_navigation
from ui.offline_assets import MissingAssetError
from ui.picker import sidebar
from ui.plan_runs import METHOD_LABELS, MODEL_LABELS, MODEL_SHORT
from ui.safe_text import escape_md

use_app_navigation()

state = sidebar()
config = compute.config_for(state)
config_json = config.to_json()
st.title(f"Implantation — {data.territory_label(state.territory)}")
st.caption(
    "Choisissez un modèle : l'outil propose les emplacements (centres des communes, quartiers prioritaires, points cliqués sur la carte) "
    "qui apportent le plus aux personnes en besoin, en gardant ouverts les lieux existants. Les scénarios s'enregistrent dans un espace local."
)


pack = data.pack()
territory = data.zones_in(state.kind, state.code, state.level)
if territory.empty:
    st.warning("Aucune zone à cette maille pour ce territoire : choisissez la maille « Communes ».")
    st.stop()
st.session_state.setdefault("plan_points", [])
st.session_state.setdefault("plan_edits", {"added": [], "removed": [], "edited": []})
# a new session (a reload, a shared link) recomputes the plan its link carries (ui.plan_runs)
if "plan_args" not in st.session_state and "plan" in st.query_params and not st.session_state.get("plan_link_read"):
    st.session_state["plan_link_read"] = True
    link, link_notices = plan_runs.plan_from_query(dict(st.query_params), set(pack["places"]["place_id"].astype(str)))
    for notice in link_notices:
        st.warning(notice)  # Markdown-safe: the quoted values are escaped
    if link is not None:
        plan_runs.apply_link(link)

with st.form("plan_form"):
    c1, c2, c3 = st.columns(3)
    # short names in the box (a long one would be cut at its edge), each model's aim in the help
    model = c1.selectbox("Modèle", list(MODEL_LABELS), format_func=MODEL_SHORT.get, key="plan_model", placeholder="Choisir un modèle",
                         help=plan_runs.MODELS_HELP)
    p = c2.slider("Nouveaux lieux (p)", 1, 10, 3, key="plan_p")
    service_time = c3.slider("Temps d'accès visé (minutes)", 5, 30, 15, key="plan_time")
    c4, c5, c6 = st.columns(3)
    method = c4.selectbox("Résolution", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="plan_method", placeholder="Choisir une résolution")
    hours = c5.number_input("Heures d'ouverture d'un nouveau lieu / semaine", 1, 70, 24, step=1, key="plan_hours")
    # a slider of French values: a number input would show « 1.0 » with a decimal point
    staff = c6.select_slider("Conseillers par nouveau lieu", plan_runs.STAFF_OPTIONS, value=1.0, key="plan_staff",
                             format_func=plan_runs.staff_text)
    cap_people = st.number_input("Personnes qu'un nouveau lieu peut accompagner (modèle avec capacité)", 50, 5000, 500, key="plan_cap")
    st.caption(plan_runs.capacity_note(state.territory, config_json, float(hours), float(staff), float(cap_people)))
    use_observed = st.checkbox("Utiliser la capacité observée plutôt que l'hypothèse", value=False, key="plan_cap_observed")
    use_qpv = st.checkbox("Proposer les quartiers prioritaires (QPV)", value=True, key="plan_qpv")
    submitted = st.form_submit_button("Calculer les meilleurs emplacements", type="primary")


outcome = timing = None
if submitted:
    per_hour = plan_runs.observed_rate(state.territory, config_json)[2]
    observed = bool(use_observed and per_hour == per_hour and per_hour > 0)  # not NaN
    if observed:
        cap_people = round(per_hour * hours * staff)
    st.session_state["plan_capacity_used"] = (float(cap_people), "observée" if observed else "hypothèse")
    points = tuple(plan_runs.rounded_point(lon, lat) for lon, lat in st.session_state["plan_points"])
    st.session_state["plan_args"] = (model, p, float(service_time), method, float(hours), float(staff), float(cap_people), points, use_qpv)
if "plan_args" in st.session_state:
    args = st.session_state["plan_args"]
    edits_json = json.dumps(st.session_state["plan_edits"], sort_keys=True)
    user = session_places.get()
    try:
        outcome, timing = plan_runs.timed_plan(state.level, state.territory, config_json, *args, edits_json, None if user.empty else pd.DataFrame(user.drop(columns="geometry")))
    except ValueError as exc:
        st.error(f"Calcul impossible : {escape_md(exc)}")
        st.stop()
    # the time the user waited for this result: kept while the same plan is shown again
    run_key = (state.level, state.territory, config_json, args, edits_json)
    if timing.cached and st.session_state.get("plan_timing", (None,))[0] == run_key:
        timing = st.session_state["plan_timing"][1]
    st.session_state["plan_timing"] = (run_key, timing)
    observed_cap = st.session_state.get("plan_capacity_used", (0.0, "hypothèse"))[1] == "observée"
    plan_runs.sync_link(plan_runs.PlanLink.from_args(args, st.session_state["plan_edits"], observed_cap))

# map: need with existing places, chosen sites, clicked points ---------------------------------------
view = territory[["code", "name", "geometry_display"]].copy()
res, _, _ = compute.results(state.level, config)
view["unmet"] = res.loc[territory.index, "unmet"]
gview = gpd.GeoDataFrame(view.drop(columns="geometry_display"), geometry=view["geometry_display"].values, crs="EPSG:4326")
# the classes of the Carte page's unmet-need layer (a « 0 » class on the région's skewed values)
classes = compute.map_classes(gview["unmet"], state.scheme, state.k, decimals=0)
# the plan's map and the scenarios' map: the same zones, classes, tooltip and legend
unmet_map = partial(build_choropleth, gview, "unmet", "name", classes.bins, compute.palette("Reds", classes.k),
                    tooltip_fields=[("unmet", "Besoin non couvert (personnes)", partial(format_fr, decimals=0))],
                    legend_title="Besoin non couvert (personnes)", legend_labels=classes.labels, legend_decimals=0)
layers = []
minx, miny, maxx, maxy = territory.geometry.total_bounds
near = session_places.all_places(pack["places"]).cx[minx - 2000 : maxx + 2000, miny - 2000 : maxy + 2000]
if len(near):
    many = len(near) > map_layers.MAX_POPUPS  # the région: small dots, or they hide the zones
    layers.append(PointLayer(near.to_crs("EPSG:4326"), "name", f"Lieux existants ({compute.format_count(len(near))})", "#1f2937", None, "place_id", 2 if many else 5))
if outcome is not None and len(outcome.sites):
    s = outcome.sites
    sg = gpd.GeoDataFrame(s, geometry=gpd.points_from_xy(s["lon"], s["lat"]), crs="EPSG:4326")
    sg["label"] = sg["rank"].astype(str) + ". " + sg["name"].astype(str)
    layers.append(PointLayer(sg, "label", "Lieux proposés", "#16a34a", plan_runs.site_popup, None, 9, changes=True))
if st.session_state["plan_points"]:
    pts = st.session_state["plan_points"]
    pg = gpd.GeoDataFrame({"label": [f"Point candidat {i + 1}" for i in range(len(pts))]}, geometry=gpd.points_from_xy([a for a, _ in pts], [b for _, b in pts]), crs="EPSG:4326")
    layers.append(PointLayer(pg, "label", "Points candidats (clic)", "#2563eb", None, None, 7, changes=True))
try:
    fmap = unmet_map(extra_points=layers)
except MissingAssetError as exc:
    st.error(f"Les fichiers de la carte sont absents : {escape_md(exc)}")
    st.stop()

left, right = st.columns([3, 2])
with left:
    _zone, point = show_map_with_clicks(fmap, key=f"plan_map_{state.territory}_{state.level}", height=560)
    if point and st.session_state.get("plan_last_click") != point:
        st.session_state["plan_last_click"] = point
        if plan_runs.rounded_point(*point) not in st.session_state["plan_points"]:
            st.session_state["plan_points"].append(plan_runs.rounded_point(*point))
            st.rerun()
    st.caption(f"Cliquez sur la carte pour ajouter un emplacement candidat ({compute.format_count(len(st.session_state['plan_points']))} ajouté(s)) ; il sera pris en compte au prochain calcul.")
    if st.session_state["plan_points"] and st.button("Effacer les points candidats"):
        st.session_state["plan_points"] = []
        st.rerun()
with right:
    if outcome is None:
        st.info("Réglez le modèle puis lancez le calcul.")
    else:
        r, sm = outcome.result, outcome.summary
        args = st.session_state["plan_args"]
        st.markdown(
            f"**Résultat** — {MODEL_SHORT[r.model]} · {plan_runs.STATUS_LABELS.get(r.status, 'statut inconnu')} · "
            + plan_runs.timing_text(timing, r.seconds)
            + (f" · écart à la borne {format_fr(100 * r.gap, 2)} %" if r.gap else "")
        )
        c1, c2 = st.columns(2)
        c1.metric("Personnes en besoin à portée", format_fr(r.covered_after, 0), delta=format_fr(r.covered_after - r.covered_before, 0))
        c2.metric("Besoin non couvert", format_fr(sm["unmet_need_after"], 0), delta=format_fr(sm["unmet_need_after"] - sm["unmet_need_before"], 0), delta_color="inverse")
        st.markdown(plan_runs.outcome_sentence(outcome, args[2], args[4], args[5]))
        st.dataframe(plan_runs.sites_table(outcome.sites), hide_index=True)
        stop_note = plan_runs.stopped_note(sm)
        if stop_note:
            st.info(stop_note)
        if r.model == "mclp_capacity" and "plan_capacity_used" in st.session_state:
            used, origin = st.session_state["plan_capacity_used"]
            st.caption(f"Capacité d'un nouveau lieu : {format_fr(used, 0)} personnes ({'valeur observée dans le territoire' if origin == 'observée' else 'hypothèse saisie'}).")
        st.caption(
            f"Personnes nouvellement à portée : personnes en besoin à moins de {format_fr(args[2], 0)} min de ce lieu qui n'avaient "
            "aucun lieu ouvert à cette distance, une fois comptés les lieux mieux classés. Gain marginal : ce que chaque lieu ajoute "
            "à l'objectif du modèle, dans l'ordre (personnes, ou personnes × minutes pour la p-médiane). "
            f"{outcome.n_candidates} emplacements candidats, {outcome.n_existing} lieux existants gardés ouverts."
        )
        st.download_button("Sites proposés (CSV)", plan_runs.sites_csv(outcome.sites), "sites_proposes.csv", "text/csv")
        st.download_button("Sites proposés (GeoJSON)", plan_runs.sites_geojson(outcome.sites), "sites_proposes.geojson", "application/geo+json")

# what-if edits ----------------------------------------------------------------------------------------
with st.expander("Et si… (fermer un lieu, changer ses horaires ou ses conseillers)"):
    ids = near["place_id"].astype(str).tolist()
    names = dict(zip(near["place_id"].astype(str), near["name"].astype(str), strict=True))
    pid = st.selectbox("Lieu", ids, format_func=names.get, key="whatif_place", placeholder="Tapez le nom du lieu") if ids else None  # every id is in names
    if pid:
        row = near[near["place_id"].astype(str) == pid].iloc[0]
        c1, c2, c3 = st.columns(3)
        # one widget per place (a keyed widget keeps its value whatever its default: a shared key
        # would show the previous place's hours); unknown values stay empty, not 0
        known_hours, known_staff = bool(np.isfinite(row["weekly_hours"])), bool(np.isfinite(row["staff"]))
        new_hours = c1.number_input("Heures / semaine", 0.0, 80.0, float(row["weekly_hours"]) if known_hours else None, step=0.5, format="%.1f", key=f"whatif_hours_{pid}", placeholder="inconnues")
        new_staff = c2.number_input("Conseillers", 0.0, 20.0, float(row["staff"]) if known_staff else None, step=0.5, format="%.1f", key=f"whatif_staff_{pid}", placeholder="inconnu")
        if not (known_hours and known_staff):
            st.caption("Valeur inconnue dans les données : le calcul applique la valeur par défaut du type de lieu (signalée). Saisissez-la pour la remplacer.")
        if c3.button("Appliquer"):
            edit = {"place_id": pid} | {k: v for k, v in (("weekly_hours", new_hours), ("staff", new_staff)) if v is not None}
            st.session_state["plan_edits"]["edited"] = [e for e in st.session_state["plan_edits"]["edited"] if e["place_id"] != pid] + [edit]
            st.rerun()
        if c3.button("Fermer ce lieu"):
            st.session_state["plan_edits"]["removed"] = sorted(set(st.session_state["plan_edits"]["removed"]) | {pid})
            st.rerun()
    e = st.session_state["plan_edits"]
    st.write(f"Modifications en cours : {compute.format_count(len(e['edited']))} lieu(x) modifié(s), {compute.format_count(len(e['removed']))} fermé(s).")
    if (e["edited"] or e["removed"]) and st.button("Annuler les modifications"):
        st.session_state["plan_edits"] = {"added": [], "removed": [], "edited": []}
        st.rerun()

# scenarios ------------------------------------------------------------------------------------------
# The workspace may be unusable (read-only folder, a file that is not the SQLite workspace, a lock
# held by another program): planning above keeps working, saving and importing are switched off
# with the reason, and the proposed sites can still be downloaded.
st.subheader("Scénarios enregistrés")
try:
    ws = plan_runs.scenario_store()
    saved = ws.list()
except WorkspaceError as exc:
    ws, saved = None, []
    st.warning(
        f"Enregistrement des scénarios désactivé : {escape_md(exc)}. Le calcul des emplacements fonctionne : "
        "téléchargez les sites proposés (CSV ou GeoJSON) pour les garder, ou demandez à l'administrateur un dossier "
        "accessible en écriture (variable d'environnement INCLUSION_WORKSPACE), puis rechargez la page."
    )
c1, c2 = st.columns([2, 1])
name = c1.text_input("Nom du scénario", value="", key="scenario_name", max_chars=120, disabled=ws is None)
if c2.button("Enregistrer le scénario", disabled=ws is None or outcome is None or not name.strip()):
    r = outcome.result
    payload = {
        "territory": {"level": data.KIND_LEVEL[state.kind], "code": state.code, "name": data.territory_label(state.territory)},
        "level": state.level,
        "config": config.to_dict(),
        "model": r.model,
        "p": int(st.session_state["plan_args"][1]),
        "service_time": float(st.session_state["plan_args"][2]),
        "edits": st.session_state["plan_edits"],
        "results": {k: v for k, v in outcome.summary.items() if v is not None},
        "chosen_sites": plan_runs.scenario_sites(outcome),
    }
    try:
        ws.save(name.strip(), payload)
        st.success(f"Scénario « {escape_md(name.strip(), 120)} » enregistré.")
        saved = ws.list()
    except WorkspaceError as exc:
        st.error(f"Enregistrement impossible : {escape_md(exc)}. Le scénario n'est pas enregistré ; réessayez plus tard ou téléchargez les sites proposés.")
    except ValueError as exc:
        st.error(f"Enregistrement refusé : {escape_md(exc)}")
if saved:
    st.dataframe(plan_runs.saved_list(saved), hide_index=True)
    labels = {rec["id"]: rec["name"] for rec in saved}
    # no max_selections (Streamlit's own message is in English): the page keeps the first 4
    chosen = st.multiselect("Comparer ou exporter (4 au plus)", list(labels), format_func=labels.get, key="scenario_pick",
                            placeholder="Choisir des scénarios", select_all=False)
    chosen = [sid for sid in chosen if sid in labels]
    if len(chosen) > plan_runs.MAX_COMPARED:
        st.warning(f"{plan_runs.MAX_COMPARED} scénarios au plus : seuls les {plan_runs.MAX_COMPARED} premiers sont comparés.")
        chosen = chosen[:plan_runs.MAX_COMPARED]
    if chosen:
        try:
            records = [ws.get(sid) for sid in chosen]
            st.table(plan_runs.comparison_table(records), border="horizontal")
            st.caption(
                "Nouvellement à portée : personnes en besoin que les lieux proposés mettent à portée (à moins du temps visé "
                "d'un lieu ouvert). Le besoin non couvert compte les personnes au-delà de ce que l'offre accessible peut "
                "accompagner par rapport à la cible : il baisse de ce que la capacité des nouveaux lieux ajoute."
            )
            cmp_layers = plan_runs.comparison_layers(records)
            if cmp_layers:
                cmp_map = unmet_map(extra_points=cmp_layers)
                show_map(cmp_map, key=f"plan_compare_map_{state.territory}_{state.level}", height=420)
                st.caption("Les lieux proposés par chaque scénario (un point par lieu, une couleur par scénario ; cliquez pour le détail), sur le besoin non couvert actuel du territoire affiché.")
            st.download_button("Exporter (JSON)", ws.export_json(*chosen).encode("utf-8"), "scenarios.json", "application/json")
            if len(chosen) == 1:
                st.download_button("Exporter (GeoJSON)", ws.export_geojson(chosen[0]).encode("utf-8"), "scenario.geojson", "application/geo+json")
        except (WorkspaceError, KeyError) as exc:
            st.error(f"Lecture des scénarios impossible : {escape_md(exc)}")
if ws is not None:
    up = session_places.file_uploader_fr(
        f"Importer des scénarios (JSON ou GeoJSON exportés, {MAX_IMPORT_BYTES // 1024 // 1024} Mo et {MAX_IMPORT_SCENARIOS} scénarios au plus)",
        types=["json", "geojson"],
        key="scenario_import",
        max_mb=MAX_IMPORT_BYTES // 1024 // 1024,
    )
    if up is not None and st.session_state.get("scenario_import_done") != up.file_id:
        content = up.getvalue()
        try:
            text = content.decode("utf-8-sig")
            new_ids = [ws.import_geojson(text)] if '"FeatureCollection"' in text[:2000] else ws.import_json(text)
            st.session_state["scenario_import_done"] = up.file_id
            st.success(f"{compute.format_count(len(new_ids))} scénario(s) importé(s).")
            st.rerun()
        except UnicodeDecodeError:
            st.error("Import refusé, rien n'a été modifié : le fichier n'est pas du texte UTF-8 (un export JSON ou GeoJSON de l'outil est attendu).")
        except WorkspaceError as exc:
            st.error(f"Import impossible, rien n'a été modifié : {escape_md(exc)}")
        except ValueError as exc:
            st.error(f"Import refusé, rien n'a été modifié : {escape_md(exc)}")
