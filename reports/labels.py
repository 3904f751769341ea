"""French vocabulary shared by the report, the exports and the pages (no Streamlit here).

Some of these labels are also defined in UI modules that import Streamlit (``ui.compute``,
``ui.data``, ``ui.picker``); the copies here are what the Streamlit-free code uses, and
``tests/test_reports.py`` checks that both stay equal.
"""

from __future__ import annotations

#: territory kind (``kind:code`` keys) → French noun, and the pack level of the territory's own row
KIND_LABELS = {"reg": "Région", "dep": "Département", "epci": "EPCI", "com": "Commune"}
KIND_LEVEL = {"reg": "region", "dep": "departement", "epci": "epci", "com": "commune"}
LEVEL_COLUMN = {"reg": "code_region", "dep": "code_departement", "epci": "code_epci", "com": "code_commune"}
#: the reference territory of each kind (a région has none)
REFERENCE_KIND = {"epci": "dep", "com": "dep", "dep": "reg"}
#: levels of detail of the maps
LEVEL_LABELS = {"iris": "IRIS (quartiers)", "commune": "Communes"}
LEVEL_NOUNS = {"iris": ("IRIS", "IRIS"), "commune": ("commune", "communes"), "epci": ("EPCI", "EPCI"),
               "departement": ("département", "départements"), "region": ("région", "régions")}

NEED_LABELS = {"precarity": "Précarité (40 % des personnes pauvres)", "illectronisme": "Illectronisme (taux INSEE par âge)"}
#: decay of the indicators configuration → catchment preset label (ui.compute.PRESET_DECAY / PRESET_LABELS)
DECAY_LABELS = {
    "apl": "APL (DREES) : 10 / 15 / 20 min",
    "pysal": "PySAL : 10 / 20 / 30 min",
    "step30": "30 minutes (cible France Services)",
}
STATUS_LABELS = {
    "ok": "valeur publiée",
    "secret": "secret statistique (INSEE)",
    "not_covered": "aucune source ne couvre cette zone",
    "from_commune": "valeur de la commune (imputée, signalée)",
    "rescaled": "structure RP2016 remise à l'échelle",
    "mapped": "commune 2018 rattachée à la commune 2024",
    "derived": "calculé à partir des taux publiés",
    "partial": "somme partielle (données absentes pour une partie des communes)",
    "estimated": "estimation (donnée non publiée : voir Données & méthode)",
    "no_residents": "zone sans habitants recensés (zone d'activités, équipement…)",
    "capped": "source incohérente (plus de locaux éligibles que de locaux), ramenée à 100 %",
    "derived_rp2017": "taux publié du RP2017 × population de 15 ans ou plus estimée",
}

#: a zone is drawn as estimated when at least this share of its value rests on estimated inputs
ESTIMATED_THRESHOLD = 0.10
#: class c = 3 × (need tercile − 1) + access tercile (Stevens palette; c = 7 « fragilité forte · accès faible » is red)
BIVARIATE_COLORS = ["#e8e8e8", "#b0d5df", "#64acbe", "#e4acac", "#ad9ea5", "#627f8c", "#c85a5a", "#985356", "#574249"]
TERCILES = ("faible", "moyen", "fort")
#: the same with a feminine noun (« fragilité », « activité », « part »)
TERCILES_F = ("faible", "moyenne", "forte")
#: the first axis of the 3 × 3 classes, as ``Config.bivariate_need`` measures it, terciles 1–3: by
#: default the fragility index (a zone can be first by unmet people with a low index: its classes
#: must not read « besoin faible »)
NEED_AXIS = {"score": "fragilité", "need_share": "part en besoin"}
NEED_AXIS_TERCILES = {key: tuple(f"{axis} {t}" for t in TERCILES_F) for key, axis in NEED_AXIS.items()}

__all__ = [
    "KIND_LABELS", "KIND_LEVEL", "LEVEL_COLUMN", "REFERENCE_KIND", "LEVEL_LABELS", "LEVEL_NOUNS", "NEED_LABELS",
    "DECAY_LABELS", "STATUS_LABELS", "ESTIMATED_THRESHOLD", "BIVARIATE_COLORS", "TERCILES", "TERCILES_F",
    "NEED_AXIS", "NEED_AXIS_TERCILES",
]
