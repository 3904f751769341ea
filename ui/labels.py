"""French labels of the pack's vocabularies (place types, service categories), for every page."""

PLACE_TYPE_LABELS = {
    "france_services": "France Services",
    "mediatheque": "Médiathèque",
    "bibliotheque": "Bibliothèque",
    "ccas": "CCAS / CIAS",
    "centre_social": "Centre social",
    "epn_tiers_lieu": "EPN / tiers-lieu",
    "association": "Association",
    "mairie": "Mairie",
    "mission_locale": "Mission locale",
    "caf": "CAF",
    "france_travail": "France Travail",
    "services_publics": "Point de services publics (MSAP, La Poste…)",
    "pimms": "PIMMS (médiation multi-services)",
    "information_jeunesse": "Information Jeunesse (PIJ, BIJ)",
    "emploi_insertion": "Emploi, insertion, formation",
    "departement": "Maison du Département / des solidarités",
    "intercommunalite": "Intercommunalité",
    "entreprise": "Entreprise",
    "autre": "Autre",
}
SERVICE_LABELS = {
    "demarches": "Démarches en ligne",
    "competences_base": "Compétences numériques de base",
    "equipement": "Équipement et connexion",
    "autres": "Autres services",
}
