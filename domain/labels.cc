// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/labels.h"

#include <string>

namespace rb::domain {
namespace {

struct Entry {
  absl::string_view value_name;  // protobuf value identifier
  absl::string_view code;        // the platform's code (uid / DB value)
  absl::string_view label;       // French label
};

// Indexed by value name, which is unique within the package.
constexpr Entry kEntries[] = {
    // TriState
    {"YES", "1", "Oui"},
    {"NO", "0", "Non"},
    {"UNKNOWN", "-1", "Inconnu"},
    // CommentTag
    {"COMMENT_TAG_LIVING_CONDITIONS", "conditions_de_vie", "Conditions de vie"},
    {"COMMENT_TAG_SOCIAL_SUPPORT", "accompagnement_social", "Accompagnement social"},
    {"COMMENT_TAG_DISPLACEMENT", "deplacement_de_populations", "Déplacement de populations"},
    {"COMMENT_TAG_FIRE", "incendie", "Incendie"},
    {"COMMENT_TAG_SITE_VISIT", "passage_sur_site", "Passage sur site"},
    {"COMMENT_TAG_COVID19", "covid19", "COVID-19"},
    {"COMMENT_TAG_HEATWAVE", "canicule", "Canicule"},
    // SiteStatus
    {"SITE_STATUS_OPEN", "open", "Ouvert"},
    {"SITE_STATUS_CLOSED", "closed", "Fermé"},
    {"SITE_STATUS_ERASED", "erased", "Supprimé"},
    // FieldType
    {"FIELD_TYPE_LAND", "terrain", "Terrain"},
    {"FIELD_TYPE_BUILDING", "immeuble_bati", "Immeuble bâti"},
    {"FIELD_TYPE_UNKNOWN", "inconnu", "Inconnu"},
    // OwnerType
    {"OWNER_TYPE_UNKNOWN", "inconnu", "Inconnu"},
    {"OWNER_TYPE_PUBLIC", "public", "Public"},
    {"OWNER_TYPE_PRIVATE", "prive", "Privé"},
    // ClosingCause
    {"CLOSING_CAUSE_RESORBED", "resorbed", "Résorption progressive du site"},
    {"CLOSING_CAUSE_CLOSED_BY_JUSTICE", "closed_by_justice",
     "Décision de justice suite à une plainte du propriétaire"},
    {"CLOSING_CAUSE_CLOSED_BY_PREF_ADMIN", "closed_by_pref_admin",
     "Décision administrative de la Préfecture"},
    {"CLOSING_CAUSE_CLOSED_BY_CITY_ADMIN", "closed_by_city_admin",
     "Décision administrative de la Commune"},
    {"CLOSING_CAUSE_OTHER", "other", "Autre"},
    {"CLOSING_CAUSE_UNKNOWN", "unknown", "Raison inconnue"},
    // ClosingSolution
    {"CLOSING_SOLUTION_TEMPORARY_SHELTER", "mise_a_l_abri_temporaire",
     "Mise à l'abri temporaire (quelques jours ou semaines)"},
    {"CLOSING_SOLUTION_LONG_TERM_ADAPTED", "hebergement_logement_adapte_longue_duree",
     "Hébergement ou logement adapté longue durée avec accompagnement, dont espace temporaire "
     "d'insertion"},
    {"CLOSING_SOLUTION_HOUSING", "logement", "Logement"},
    {"CLOSING_SOLUTION_NONE", "aucune", "Aucune"},
    {"CLOSING_SOLUTION_OTHER", "autre", "Autre"},
    // ClosingSolutionV1 (2019-02 -> 2022)
    {"CLOSING_SOLUTION_V1_EMERGENCY_SHELTER", "1", "Mise à l'abri / hébergement d'urgence (CHU)"},
    {"CLOSING_SOLUTION_V1_INTEGRATION_SHELTER", "2", "Hébergement d'insertion (CHRS, ALT)"},
    {"CLOSING_SOLUTION_V1_ORDINARY_OR_ADAPTED_HOUSING", "3",
     "Logement ordinaire ou adapté (résidences sociales, IML, pensions de famille, logements "
     "social ou privé accompagnés)"},
    {"CLOSING_SOLUTION_V1_DEDICATED_SCHEME", "4",
     "Dispositif dédié (CADA, HUDA, CAO, CHUM, ARV, ...)"},
    {"CLOSING_SOLUTION_V1_TERRITORIAL_INTEGRATION", "5",
     "Dispositif spécifique d'insertion au territoire"},
    {"CLOSING_SOLUTION_V1_SOCIAL_WATCH_OR_NONE", "6",
     "Dispositifs de veille sociale ou sans solution"},
    // CensusStatus
    {"CENSUS_STATUS_NONE", "none", "Non prévu"},
    {"CENSUS_STATUS_SCHEDULED", "scheduled", "Prévu"},
    {"CENSUS_STATUS_DONE", "done", "Réalisé"},
    // SocialOrigin
    {"SOCIAL_ORIGIN_FRENCH", "french", "Ressortissants français"},
    {"SOCIAL_ORIGIN_EUROPEAN", "european", "Ressortissants européens"},
    {"SOCIAL_ORIGIN_OTHER", "other", "Ressortissants extracommunautaires"},
    // PoliceStatus
    {"POLICE_STATUS_NONE", "none", "Non demandé"},
    {"POLICE_STATUS_REQUESTED", "requested", "Demandé"},
    {"POLICE_STATUS_GRANTED", "granted", "Obtenu"},
    // WaterAccessType
    {"WATER_ACCESS_TYPE_PUBLIC_FOUNTAIN", "fontaine_publique", "Fontaine publique"},
    {"WATER_ACCESS_TYPE_FIRE_HYDRANT", "borne_incendie", "Borne incendie"},
    {"WATER_ACCESS_TYPE_BOTTLE_PURCHASE", "achat_bouteille", "Achat bouteille uniquement"},
    {"WATER_ACCESS_TYPE_TANK", "reservoir", "Réservoir / cuve / citerne"},
    {"WATER_ACCESS_TYPE_NETWORK_TAP", "robinet_connecte_au_reseau",
     "Robinet connecté au réseau d'eau"},
    {"WATER_ACCESS_TYPE_OTHER", "autre", "Autre"},
    {"WATER_ACCESS_TYPE_UNKNOWN", "inconnu", "Inconnu"},
    // ToiletType
    {"TOILET_TYPE_LATRINES", "latrines", "Latrines construites par les habitants"},
    {"TOILET_TYPE_CHEMICAL", "toilettes_chimiques",
     "Toilettes chimiques installées par un prestataire ou une association"},
    {"TOILET_TYPE_DRY", "toilettes_seches",
     "Toilettes sèches installées par un prestataire ou une association"},
    {"TOILET_TYPE_FLUSH", "toilettes_a_chasse", "Toilettes à chasse d'eau"},
    // ElectricityAccessType
    {"ELECTRICITY_ACCESS_TYPE_GENERATOR", "electrogene", "Groupe électrogène"},
    {"ELECTRICITY_ACCESS_TYPE_URBAN_NETWORK", "reseau_urbain", "Raccordement au réseau urbain"},
    {"ELECTRICITY_ACCESS_TYPE_BUILDING_INSTALLATION", "installation_du_bati",
     "Installation du bâti (si squat)"},
    // ElectricityTypeV1
    {"ELECTRICITY_TYPE_V1_UNKNOWN", "inconnu", "Inconnu"},
    {"ELECTRICITY_TYPE_V1_NO", "non", "Non"},
    {"ELECTRICITY_TYPE_V1_YES", "oui", "Oui"},
    // WaterDistanceV1
    {"WATER_DISTANCE_V1_0_20", "0-20", "0 à 20 mètres"},
    {"WATER_DISTANCE_V1_20_50", "20-50", "20 à 50 mètres"},
    {"WATER_DISTANCE_V1_50_100", "50-100", "50 à 100 mètres"},
    {"WATER_DISTANCE_V1_100_PLUS", "100+", "Plus de 100 mètres"},
    // ResorptionPhase
    {"RESORPTION_PHASE_SOCIOLOGICAL_DIAGNOSIS", "sociological_diagnosis",
     "Diagnostic sociologique"},
    {"RESORPTION_PHASE_TECHNICAL_DIAGNOSIS", "technical_diagnosis", "Diagnostic technique"},
    {"RESORPTION_PHASE_SOCIAL_ASSESSMENT", "social_assessment", "Évaluation sociale"},
    {"RESORPTION_PHASE_POLITICAL_VALIDATION", "political_validation", "Validation politique"},
    {"RESORPTION_PHASE_CONTRACT_PREPARATION", "contract_preparation",
     "Préparation conventionnement"},
    {"RESORPTION_PHASE_LAND_EQUIPMENT_DEVELOPMENT", "land_equipment_development",
     "Aménagement équipement terrain"},
    {"RESORPTION_PHASE_FAMILY_INFORMATION", "family_information", "Information des familles"},
    {"RESORPTION_PHASE_CONTRACTUALIZATION_OF_FAMILIES", "contractualization_of_families",
     "Contractualisation des familles"},
    {"RESORPTION_PHASE_OFFICIAL_OPENING", "official_opening", "Ouverture officielle"},
    // ActorTheme
    {"ACTOR_THEME_HEALTH", "sante", "Santé"},
    {"ACTOR_THEME_EDUCATION", "education", "Éducation et scolarisation"},
    {"ACTOR_THEME_EMPLOYMENT", "emploi", "Emploi"},
    {"ACTOR_THEME_HOUSING", "logement", "Logement"},
    {"ACTOR_THEME_SOCIAL_MEDIATION", "mediation_sociale", "Médiation sociale"},
    {"ACTOR_THEME_SAFETY", "securite", "Sécurité"},
    {"ACTOR_THEME_HUMANITARIAN", "humanitaire", "Humanitaire"},
    {"ACTOR_THEME_DIAGNOSIS", "diagnostic", "Diagnostic"},
    {"ACTOR_THEME_STEERING", "pilotage", "Pilotage"},
    {"ACTOR_THEME_OTHER", "autre", "Autre"},
    // ActionTopic
    {"ACTION_TOPIC_HEALTH", "health", "Santé"},
    {"ACTION_TOPIC_SCHOOL", "school", "Éducation et scolarisation"},
    {"ACTION_TOPIC_WORK", "work", "Formation et emploi"},
    {"ACTION_TOPIC_HOUSING", "housing", "Logement"},
    {"ACTION_TOPIC_SAFETY", "safety", "Stabilisation et sécurisation du site"},
    // ActionLocationType
    {"ACTION_LOCATION_TYPE_ETI", "eti", "Espace temporaire d'insertion"},
    {"ACTION_LOCATION_TYPE_HOUSING", "logement", "Logement"},
    {"ACTION_LOCATION_TYPE_ON_SITE", "sur_site", "Sur site"},
    {"ACTION_LOCATION_TYPE_OTHER", "autre", "Autre"},
    // FinanceType
    {"FINANCE_TYPE_STATE", "etatique", "Financements étatiques hors crédits dédiés"},
    {"FINANCE_TYPE_DEDICATED", "dedie", "Crédits dédiés à la résorption des bidonvilles"},
    {"FINANCE_TYPE_LOCAL_AUTHORITY", "collectivite", "Cofinancement collectivité territoriale"},
    {"FINANCE_TYPE_EUROPEAN", "europeen", "Financements européens"},
    {"FINANCE_TYPE_PRIVATE", "prive", "Financements privés"},
    {"FINANCE_TYPE_OTHER", "autre", "Autre"},
    // ActionStatus
    {"ACTION_STATUS_OPEN", "open", "En cours"},
    {"ACTION_STATUS_CLOSED", "closed", "Terminée"},
};

constexpr IndicatorHeading kIndicatorHeadings[] = {
    {"nombre_personnes", "INDICATEURS GÉNÉRAUX",
     "Nombre total de personnes concernées par l'action"},
    {"nombre_menages", "INDICATEURS GÉNÉRAUX", "Nombre de ménages"},
    {"nombre_femmes", "INDICATEURS GÉNÉRAUX", "Nombre de femmes"},
    {"nombre_mineurs", "INDICATEURS GÉNÉRAUX", "Nombre de mineurs"},
    {"sante_nombre_personnes", "SANTÉ",
     "Nombre de personnes ayant eu un accompagnement vers la santé"},
    {"travail_nombre_personnes", "EMPLOI",
     "Nombre de personnes ayant eu au moins un contrat de travail dans l'année"},
    {"travail_nombre_femmes", "EMPLOI",
     "Nombre de femmes ayant eu au moins un contrat de travail dans l'année"},
    {"hebergement_nombre_personnes", "HÉBERGEMENT/LOGEMENT",
     "Nombre de personnes ayant eu accès à une solution longue durée en hébergement ou logement "
     "adapté avec accompagnement, dont espace temporaire d'accompagnement"},
    {"hebergement_nombre_menages", "HÉBERGEMENT/LOGEMENT",
     "Nombre de ménages ayant eu accès à une solution longue durée en hébergement ou logement "
     "adapté avec accompagnement, dont espace temporaire d'accompagnement"},
    {"logement_nombre_personnes", "HÉBERGEMENT/LOGEMENT",
     "Nombre de personnes ayant eu accès à un logement"},
    {"logement_nombre_menages", "HÉBERGEMENT/LOGEMENT",
     "Nombre de ménages ayant eu accès à un logement"},
    {"scolaire_mineurs_scolarisables", "SCOLARISATION",
     "Nombre de mineurs en âge d'être scolarisés ou de suivre une formation"},
    {"scolaire_mineurs_en_mediation", "SCOLARISATION",
     "Nombre de mineurs bénéficiant d'une action de médiation (3 - 18 ans)"},
    {"scolaire_nombre_maternelle", "SCOLARISATION", "Nombre de mineurs scolarisés en maternelle"},
    {"scolaire_nombre_elementaire", "SCOLARISATION", "Nombre de mineurs scolarisés en élémentaire"},
    {"scolaire_nombre_college", "SCOLARISATION", "Nombre de mineurs scolarisés au collège"},
    {"scolaire_nombre_lycee", "SCOLARISATION",
     "Nombre de mineurs scolarisés au lycée ou en formation professionnelle"},
    {"scolaire_nombre_autre", "SCOLARISATION", "Nombre de mineurs scolarisés: autre"},
};

const Entry* Find(const google::protobuf::EnumDescriptor* type, int number) {
  if (type == nullptr) return nullptr;
  const google::protobuf::EnumValueDescriptor* v = type->FindValueByNumber(number);
  if (v == nullptr) return nullptr;
  for (const Entry& e : kEntries) {
    if (e.value_name == v->name()) return &e;
  }
  return nullptr;
}

}  // namespace

absl::string_view FrenchLabel(const google::protobuf::EnumDescriptor* type, int number) {
  const Entry* e = Find(type, number);
  return e == nullptr ? absl::string_view() : e->label;
}

absl::string_view PlatformCode(const google::protobuf::EnumDescriptor* type, int number) {
  const Entry* e = Find(type, number);
  return e == nullptr ? absl::string_view() : e->code;
}

std::optional<int> FromPlatformCode(const google::protobuf::EnumDescriptor* type,
                                    absl::string_view code) {
  for (int i = 0; i < type->value_count(); ++i) {
    const Entry* e = Find(type, type->value(i)->number());
    if (e != nullptr && e->code == code) return type->value(i)->number();
  }
  return std::nullopt;
}

absl::Span<const IndicatorHeading> IndicatorHeadings() { return kIndicatorHeadings; }

absl::string_view IndicatorLabel(absl::string_view field_name) {
  for (const IndicatorHeading& h : kIndicatorHeadings) {
    if (h.field == field_name) return h.heading;
  }
  return absl::string_view();
}

}  // namespace rb::domain
