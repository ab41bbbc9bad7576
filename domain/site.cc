// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/site.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "domain/dates.h"
#include "domain/geo.h"
#include "domain/owner_identity.h"
#include "domain/site_rules.h"
#include "domain/violations.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;
using google::protobuf::util::FieldMaskUtil;
using google::protobuf::util::MessageDifferencer;

bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return MessageDifferencer::Equals(a, b);
}

absl::Status Refuse(absl::StatusCode code, std::string field, std::string rule,
                    std::string message) {
  return StatusWithViolations(code, {{std::move(field), std::move(rule), std::move(message)}});
}

absl::Status Denied(std::string rule, std::string message) {
  return Refuse(absl::StatusCode::kPermissionDenied, "", std::move(rule), std::move(message));
}

bool CanWriteSites(const Actor& a) {
  return a.role == Role::kNationalAdmin || a.role == Role::kLocalAdmin ||
         a.role == Role::kDirectCollaborator || a.role == Role::kCollaborator ||
         a.role == Role::kAssociation;
}

bool IsModerator(const Actor& a) {
  return a.role == Role::kNationalAdmin || a.role == Role::kLocalAdmin;
}

// Builds the events of one decision with a shared envelope.
class Emitter {
 public:
  Emitter(const Context& ctx, int64_t valid_at_us) : ctx_(ctx), valid_at_us_(valid_at_us) {}
  v1::SiteEvent* New() {
    v1::SiteEvent& e = events_.emplace_back();
    e.set_valid_at_us(valid_at_us_);
    e.set_actor_user_id(ctx_.actor.user_id);
    e.set_actor_organisation_id(ctx_.actor.organisation_id);
    return &e;
  }
  std::vector<v1::SiteEvent> Take() { return std::move(events_); }
  bool empty() const { return events_.empty(); }

 private:
  const Context& ctx_;
  int64_t valid_at_us_;
  std::vector<v1::SiteEvent> events_;
};

// Territory derived from the commune code (left empty if unknown: validation refuses it).
void DeriveTerritory(v1::SiteLocation* location) {
  v1::Territory* t = location->mutable_territory();
  t->Clear();
  const geo::Commune* c = geo::Geography::Get().FindCommune(location->address().city_code());
  if (c == nullptr) return;
  t->set_city_code(std::string(c->code));
  t->set_city_name(std::string(c->name));
  t->set_epci_code(std::string(c->epci));
  t->set_departement_code(std::string(c->departement));
  t->set_region_code(std::string(c->region));
}

const std::vector<std::string> kUpdatable = {"name",
                                             "location",
                                             "field_type",
                                             "ownership",
                                             "built_at",
                                             "declared_at",
                                             "reinstallation",
                                             "resorption_target",
                                             "heatwave",
                                             "census",
                                             "population",
                                             "dwellings",
                                             "origins",
                                             "living_conditions_v2",
                                             "justice",
                                             "police",
                                             "administrative_order",
                                             "insalubrity_order"};

const std::set<std::string> kRestricted = {"justice", "police", "administrative_order",
                                           "insalubrity_order"};

// Compares `desired` with `current` on `parts`, validates the changed parts and emits one event
// per meaningful change. `declaring` validates as a creation form.
void DiffParts(const v1::Site& current, v1::Site desired, const std::set<std::string>& parts,
               bool declaring, const Context& ctx, Violations* v, Emitter* out) {
  const absl::CivilDay today = ctx.today();
  MessageDifferencer differ;  // one for every part compared
  auto changed = [&](const std::string& part) {
    if (!parts.count(part)) return false;
    const auto* f = v1::Site::descriptor()->FindFieldByName(part);
    return !differ.CompareWithFields(current, desired, {f}, {f});
  };
  // Scalars are compared directly (the lambda above handles messages and repeated fields).
  auto scalar_changed = [&](const std::string& part, bool differs) {
    return parts.count(part) && differs;
  };

  // Identity and location (part of SiteDeclared when declaring).
  if (!declaring && scalar_changed("name", current.name() != desired.name())) {
    CheckName(desired.name(), "name", v);
    out->New()->mutable_renamed()->set_name(desired.name());
  }
  if (parts.count("location")) DeriveTerritory(desired.mutable_location());
  if (!declaring && changed("location")) {
    CheckLocation(desired.location(), "location", v);
    *out->New()->mutable_location_changed()->mutable_location() = desired.location();
  }
  if (!declaring && scalar_changed("field_type", current.field_type() != desired.field_type())) {
    if (desired.field_type() == v1::FIELD_TYPE_UNSPECIFIED) {
      v->Add("field_type", "field_type.required", "Indiquez le type de site.");
    }
    out->New()->mutable_field_type_changed()->set_field_type(desired.field_type());
  }
  if (!declaring && (changed("built_at") || changed("declared_at"))) {
    CheckSiteDates(desired.built_at(), desired.declared_at(), today, /*declared_required=*/true, v);
    auto* e = out->New()->mutable_dates_changed();
    *e->mutable_built_at() = desired.built_at();
    *e->mutable_declared_at() = desired.declared_at();
  }
  if (changed("ownership")) {
    *out->New()->mutable_ownership_changed()->mutable_ownership() = desired.ownership();
  }
  if (changed("population") || changed("dwellings") || changed("origins")) {
    CheckPopulation(desired.population(), "population", v);
    CheckDwellings(desired.dwellings(), "dwellings", v);
    CheckOrigins(desired.origins(), "origins", v);
    auto* e = out->New()->mutable_population_recorded();
    *e->mutable_population() = desired.population();
    *e->mutable_dwellings() = desired.dwellings();
    *e->mutable_origins() = desired.origins();
  }
  if (changed("census")) {
    CheckCensus(desired.census(), desired.built_at(), today, "census", v);
    *out->New()->mutable_census_updated()->mutable_census() = desired.census();
  }
  if (changed("living_conditions_v2")) {
    CheckLivingConditionsV2(desired.living_conditions_v2(), "living_conditions_v2", v);
    if (current.living_conditions_version() == 1) {
      *out->New()->mutable_living_conditions_upgraded_to_v2()->mutable_living_conditions() =
          desired.living_conditions_v2();
    } else {
      *out->New()->mutable_living_conditions_assessed()->mutable_living_conditions() =
          desired.living_conditions_v2();
    }
  }
  const bool justice = changed("justice"), admin = changed("administrative_order"),
             insalubrity = changed("insalubrity_order"), police = changed("police");
  if (justice) {
    CheckJustice(desired.justice(), desired.built_at(), today, "justice", v);
    *out->New()->mutable_justice_procedure_updated()->mutable_justice() = desired.justice();
  }
  if (admin) {
    CheckAdministrativeOrder(desired.administrative_order(), today, "administrative_order", v);
    *out->New()->mutable_administrative_order_updated()->mutable_administrative_order() =
        desired.administrative_order();
  }
  if (insalubrity) {
    CheckInsalubrityOrder(desired.insalubrity_order(), today, "insalubrity_order", v);
    *out->New()->mutable_insalubrity_order_updated()->mutable_insalubrity_order() =
        desired.insalubrity_order();
  }
  if (police || justice || admin || insalubrity) {
    // The police status depends on the procedures: re-check it whenever one of them changes.
    CheckPolice(desired.police(),
                HasProcedureOrOrder(desired.justice(), desired.administrative_order(),
                                    desired.insalubrity_order()),
                today, "police", v);
  }
  if (police) {
    *out->New()->mutable_police_assistance_updated()->mutable_police() = desired.police();
  }
  if (changed("reinstallation")) {
    CheckReinstallation(desired.reinstallation(), current.id(), "reinstallation", v);
    *out->New()->mutable_reinstallation_declared()->mutable_reinstallation() =
        desired.reinstallation();
  }
  if (scalar_changed("resorption_target",
                     current.resorption_target() != desired.resorption_target())) {
    CheckResorptionTarget(desired.resorption_target(), "resorption_target", v);
    out->New()->mutable_resorption_target_set()->set_year(desired.resorption_target());
  }
  if (scalar_changed("heatwave", current.heatwave() != desired.heatwave())) {
    if (desired.heatwave()) {
      out->New()->mutable_heatwave_alert_raised();
    } else {
      out->New()->mutable_heatwave_alert_lifted();
    }
  }
}

absl::Status CheckRestrictedAccess(const std::set<std::string>& parts, const Actor& actor) {
  for (const std::string& p : parts) {
    if (kRestricted.count(p) && !actor.CanAccessJustice()) {
      return Denied("permission.justice_access",
                    "Vous n'avez pas accès aux procédures judiciaires et administratives.");
    }
  }
  return absl::OkStatus();
}

// The part names of a mask (first path component), or violations for unknown ones.
std::set<std::string> MaskParts(const google::protobuf::FieldMask& mask, const std::string& prefix,
                                Violations* v) {
  std::set<std::string> parts;
  static const auto* const allowed =
      new std::set<std::string>(kUpdatable.begin(), kUpdatable.end());
  for (const std::string& path : mask.paths()) {
    std::string head = std::string(*absl::StrSplit(path, '.').begin());
    if (!allowed->count(head) || !FieldMaskUtil::IsValidPath<v1::Site>(path)) {
      v->Add(prefix, "update_mask.field_not_updatable",
             absl::StrCat("Le champ « ", path, " » ne peut pas être modifié par une mise à jour."));
      continue;
    }
    parts.insert(head);
  }
  if (mask.paths_size() == 0) {
    v->Add(prefix, "update_mask.required", "Indiquez les champs à modifier.");
  }
  return parts;
}

absl::StatusOr<SiteDecision> DecideUpdate(const v1::Site& state, const v1::UpdateSite& u,
                                          const Context& ctx, Emitter* out) {
  Violations v;
  std::set<std::string> parts = MaskParts(u.update_mask(), "update_mask", &v);
  if (!v.empty()) return v.ToStatus();
  if (absl::Status s = CheckRestrictedAccess(parts, ctx.actor); !s.ok()) return s;
  CheckEnumValues(u.site(), "site", &v);
  v1::Site desired = state;
  FieldMaskUtil::MergeOptions opts;
  opts.set_replace_message_fields(true);
  opts.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(u.site(), u.update_mask(), opts, &desired);
  DiffParts(state, std::move(desired), parts, /*declaring=*/false, ctx, &v, out);
  if (!v.empty()) return v.ToStatus();
  return SiteDecision{out->Take()};
}

}  // namespace

const std::vector<std::string>& UpdatableSiteFields() { return kUpdatable; }

absl::StatusOr<SiteDecision> DecideSite(const v1::Site& state, const v1::SiteCommand& cmd,
                                        const Context& ctx, const SiteStreamFacts& facts) {
  const Actor& actor = ctx.actor;
  const auto kind = cmd.command_case();
  // Journal commands are dated when they are made: they apply to everything recorded before.
  const bool journal = kind == v1::SiteCommand::kPostComment ||
                       kind == v1::SiteCommand::kModerateComment ||
                       kind == v1::SiteCommand::kErase || kind == v1::SiteCommand::kAnonymiseOwner;
  // The site's latest valid date, events that do not count as an update included.
  const int64_t latest = std::max(state.updated_at_us(), facts.latest_valid_at_us);
  // (Not before the latest event even if the clock went back.)
  int64_t valid_at = journal                  ? std::max(ctx.now_us, latest)
                     : cmd.valid_at_us() == 0 ? ctx.now_us
                                              : std::min(cmd.valid_at_us(), ctx.now_us);
  Emitter out(ctx, valid_at);
  if (kind == v1::SiteCommand::COMMAND_NOT_SET) {
    return Refuse(absl::StatusCode::kInvalidArgument, "command", "command.required",
                  "Aucune commande fournie.");
  }

  // Lifecycle.
  if (state.status() == v1::SITE_STATUS_ERASED) {
    return Refuse(absl::StatusCode::kFailedPrecondition, "site_id", "lifecycle.site_erased",
                  "Ce site a été supprimé.");
  }
  if (kind == v1::SiteCommand::kDeclare) {
    if (state.status() != v1::SITE_STATUS_UNSPECIFIED) {
      return Refuse(absl::StatusCode::kFailedPrecondition, "site_id", "lifecycle.already_declared",
                    "Ce site a déjà été déclaré.");
    }
  } else if (state.status() == v1::SITE_STATUS_UNSPECIFIED) {
    return Refuse(absl::StatusCode::kNotFound, "site_id", "lifecycle.not_declared",
                  "Ce site n'existe pas.");
  }
  const bool closed = state.status() == v1::SITE_STATUS_CLOSED;
  switch (kind) {
    case v1::SiteCommand::kPostComment:
    case v1::SiteCommand::kModerateComment:
    case v1::SiteCommand::kCorrectClosure:
    case v1::SiteCommand::kErase:
    case v1::SiteCommand::kAnonymiseOwner:
      break;
    default:
      if (closed) {
        return Refuse(
            absl::StatusCode::kFailedPrecondition, "site_id",
            kind == v1::SiteCommand::kClose ? "closure.only_open_site" : "lifecycle.site_closed",
            "Ce site est fermé : seule une correction de la fermeture par un "
            "administrateur national est possible.");
      }
  }
  if (kind == v1::SiteCommand::kCorrectClosure && !closed) {
    return Refuse(absl::StatusCode::kFailedPrecondition, "site_id",
                  "closure.correction_requires_closed_site",
                  "Seule la fermeture d'un site fermé peut être corrigée.");
  }

  // Permissions.
  switch (kind) {
    case v1::SiteCommand::kCorrectClosure:
      if (!actor.IsNationalAdmin()) {
        return Denied("permission.fix_closure",
                      "Seul un administrateur national peut corriger une fermeture.");
      }
      break;
    case v1::SiteCommand::kErase:
      if (!actor.IsNationalAdmin()) {
        return Denied("permission.erase",
                      "Seul un administrateur national peut supprimer un site.");
      }
      break;
    case v1::SiteCommand::kAnonymiseOwner:
      if (!actor.IsNationalAdmin()) {
        return Denied("permission.anonymise_owner",
                      "Seul un administrateur national peut anonymiser un propriétaire.");
      }
      break;
    case v1::SiteCommand::kCorrectRetroactively:
      if (actor.role != Role::kNationalAdmin && actor.role != Role::kLocalAdmin) {
        return Denied("permission.retroactive_correction",
                      "Seul un administrateur peut corriger l'historique d'un site.");
      }
      break;
    case v1::SiteCommand::kModerateComment:
      if (!IsModerator(actor)) {
        return Denied("permission.moderate", "Seul un administrateur peut modérer le journal.");
      }
      break;
    case v1::SiteCommand::kImportLivingConditionsV1:
      if (!actor.HasOption(kOptionImport)) {
        return Denied("living_conditions.v1_import_only",
                      "Les conditions de vie au format v1 ne s'enregistrent que par import de "
                      "l'historique.");
      }
      break;
    case v1::SiteCommand::kUpdateProcedures:
      if (!actor.CanAccessJustice()) {
        return Denied("permission.justice_access",
                      "Vous n'avez pas accès aux procédures judiciaires et administratives.");
      }
      break;
    case v1::SiteCommand::kPostComment:
    case v1::SiteCommand::kDeclareIntervener:
    case v1::SiteCommand::kWithdrawIntervener:
      if (actor.role == Role::kExternalObserver) {
        return Denied("permission.write", "Votre rôle ne permet que la consultation.");
      }
      break;
    default:
      if (!CanWriteSites(actor)) {
        return Denied("permission.write", "Votre rôle ne permet pas de modifier les sites.");
      }
  }

  // Valid date ("Date de mise à jour").
  const bool retroactive = kind == v1::SiteCommand::kCorrectRetroactively;
  if (!retroactive && !journal && state.status() != v1::SITE_STATUS_UNSPECIFIED &&
      valid_at < latest) {
    return Refuse(absl::StatusCode::kInvalidArgument, "valid_at_us",
                  "valid_at.not_before_last_update",
                  "La date de mise à jour ne peut pas précéder la dernière mise à jour du site ; "
                  "une correction rétroactive doit être demandée explicitement, avec un motif.");
  }

  Violations v;
  const absl::CivilDay today = ctx.today();
  switch (kind) {
    case v1::SiteCommand::kDeclare: {
      const v1::Site& form = cmd.declare().site();
      CheckEnumValues(form, "site", &v);
      if (cmd.site_id().empty()) {
        v.Add("site_id", "site_id.required", "L'identifiant du site est obligatoire.");
      }
      if (form.living_conditions_version() == 1 || form.has_living_conditions_v1()) {
        v.Add("site.living_conditions_v1", "living_conditions.v1_creation_refused",
              "Un nouveau site se déclare avec les conditions de vie au nouveau format (v2).");
      }
      if (form.has_closure() || form.comments_size() > 0 || form.interveners_size() > 0 ||
          form.resorption_phases_size() > 0 || form.status() != v1::SITE_STATUS_UNSPECIFIED) {
        v.Add("site", "declare.field_not_allowed",
              "Fermeture, journal, intervenants et phases ne se déclarent pas à la création.");
      }
      CheckName(form.name(), "site.name", &v);
      v1::SiteLocation location = form.location();
      DeriveTerritory(&location);
      CheckLocation(location, "site.location", &v);
      if (form.field_type() == v1::FIELD_TYPE_UNSPECIFIED) {
        v.Add("site.field_type", "field_type.required", "Indiquez le type de site.");
      }
      CheckSiteDates(form.built_at(), form.declared_at(), today, /*declared_required=*/true, &v);
      std::set<std::string> parts(kUpdatable.begin(), kUpdatable.end());
      const bool restricted = form.has_justice() || form.has_police() ||
                              form.has_administrative_order() || form.has_insalubrity_order();
      if (restricted && !actor.CanAccessJustice()) {
        return Denied("permission.justice_access",
                      "Vous n'avez pas accès aux procédures judiciaires et administratives.");
      }
      auto* d = out.New()->mutable_declared();
      d->set_site_id(cmd.site_id());
      d->set_name(form.name());
      *d->mutable_location() = location;
      d->set_field_type(form.field_type());
      *d->mutable_built_at() = form.built_at();
      *d->mutable_declared_at() = form.declared_at();
      v1::Site base;
      base.set_id(cmd.site_id());
      v1::Site desired = form;
      desired.set_id(cmd.site_id());
      *desired.mutable_location() = location;
      DiffParts(base, std::move(desired), parts, /*declaring=*/true, ctx, &v, &out);
      break;
    }
    case v1::SiteCommand::kUpdate:
      return DecideUpdate(state, cmd.update(), ctx, &out);
    case v1::SiteCommand::kCorrectRetroactively: {
      if (cmd.reason().empty()) {
        v.Add("reason", "correction.reason_required",
              "Indiquez le motif de la correction rétroactive.");
      }
      if (cmd.valid_at_us() == 0 || valid_at >= latest) {
        v.Add("valid_at_us", "correction.not_retroactive",
              "Une correction rétroactive porte une date antérieure à la dernière mise à jour ; "
              "sinon, faites une mise à jour ordinaire.");
      } else if (valid_at < state.created_at_us()) {
        v.Add("valid_at_us", "correction.before_declaration",
              "Une correction rétroactive ne peut pas porter une date antérieure à la déclaration "
              "du site.");
      } else if (valid_at < facts.last_owner_anonymisation_at_us) {
        for (const std::string& path : cmd.correct_retroactively().update().update_mask().paths()) {
          if (path == "ownership" || path.rfind("ownership.", 0) == 0) {
            v.Add("valid_at_us", "correction.owner_before_anonymisation",
                  "L'identité du propriétaire a été anonymisée après cette date : une correction "
                  "du propriétaire ne peut pas la précéder.");
            break;
          }
        }
      }
      if (!v.empty()) return v.ToStatus();
      Emitter inner(ctx, valid_at);
      // The differences from the site as it was on the corrected date, not from today's site.
      const v1::Site& base =
          facts.state_on_valid_date != nullptr ? *facts.state_on_valid_date : state;
      absl::StatusOr<SiteDecision> d =
          DecideUpdate(base, cmd.correct_retroactively().update(), ctx, &inner);
      if (!d.ok() || d->no_change()) return d;
      auto* c = out.New()->mutable_retroactive_correction_recorded();
      c->set_reason(cmd.reason());
      c->set_corrected_valid_at_us(valid_at);
      for (const auto& p : cmd.correct_retroactively().update().update_mask().paths()) {
        c->add_fields(p);
      }
      SiteDecision result{out.Take()};
      for (auto& e : d->events) result.events.push_back(std::move(e));
      return result;
    }
    case v1::SiteCommand::kRecordPopulation: {
      // The most frequent command, decided as an update of population, dwellings and origins
      // (same rules, same messages, same event) without the update's copy of the whole site,
      // field-mask merge and reflective comparison.
      const v1::RecordPopulation& r = cmd.record_population();
      v1::Site parts;
      *parts.mutable_population() = r.population();
      *parts.mutable_dwellings() = r.dwellings();
      *parts.mutable_origins() = r.origins();
      CheckEnumValues(parts, "site", &v);
      const bool changed = !state.has_population() ||
                           !MessageDifferencer::Equals(state.population(), r.population()) ||
                           !state.has_dwellings() ||
                           !MessageDifferencer::Equals(state.dwellings(), r.dwellings()) ||
                           !std::equal(state.origins().begin(), state.origins().end(),
                                       r.origins().begin(), r.origins().end());
      if (changed) {
        CheckPopulation(r.population(), "population", &v);
        CheckDwellings(r.dwellings(), "dwellings", &v);
        CheckOrigins(r.origins(), "origins", &v);
        auto* e = out.New()->mutable_population_recorded();
        *e->mutable_population() = r.population();
        *e->mutable_dwellings() = r.dwellings();
        *e->mutable_origins() = r.origins();
      }
      break;
    }
    case v1::SiteCommand::kRecordCensus: {
      v1::UpdateSite u;
      *u.mutable_site()->mutable_census() = cmd.record_census().census();
      u.mutable_update_mask()->add_paths("census");
      return DecideUpdate(state, u, ctx, &out);
    }
    case v1::SiteCommand::kAssessLivingConditions: {
      v1::UpdateSite u;
      *u.mutable_site()->mutable_living_conditions_v2() =
          cmd.assess_living_conditions().living_conditions();
      u.mutable_update_mask()->add_paths("living_conditions_v2");
      return DecideUpdate(state, u, ctx, &out);
    }
    case v1::SiteCommand::kUpgradeLivingConditions: {
      if (state.living_conditions_version() == 2) {
        return Refuse(absl::StatusCode::kFailedPrecondition, "living_conditions_version",
                      "living_conditions.already_v2",
                      "Les conditions de vie de ce site sont déjà au nouveau format.");
      }
      const auto& lc = cmd.upgrade_living_conditions().living_conditions();
      CheckEnumValues(lc, "living_conditions", &v);
      CheckLivingConditionsV2(lc, "living_conditions", &v);
      if (!v.empty()) return v.ToStatus();
      *out.New()->mutable_living_conditions_upgraded_to_v2()->mutable_living_conditions() = lc;
      break;
    }
    case v1::SiteCommand::kImportLivingConditionsV1: {
      if (state.living_conditions_version() == 2) {
        return Refuse(absl::StatusCode::kFailedPrecondition, "living_conditions_version",
                      "living_conditions.no_downgrade",
                      "Les conditions de vie d'un site au nouveau format ne reviennent jamais à "
                      "l'ancien format.");
      }
      const auto& lc = cmd.import_living_conditions_v1().living_conditions();
      CheckEnumValues(lc, "living_conditions", &v);
      CheckLivingConditionsV1(lc, "living_conditions", &v);
      if (!v.empty()) return v.ToStatus();
      if (state.living_conditions_version() == 1 && Same(state.living_conditions_v1(), lc)) break;
      *out.New()->mutable_living_conditions_assessed_v1()->mutable_living_conditions() = lc;
      break;
    }
    case v1::SiteCommand::kUpdateProcedures: {
      const auto& p = cmd.update_procedures();
      v1::UpdateSite u;
      if (p.has_justice()) {
        *u.mutable_site()->mutable_justice() = p.justice();
        u.mutable_update_mask()->add_paths("justice");
      }
      if (p.has_police()) {
        *u.mutable_site()->mutable_police() = p.police();
        u.mutable_update_mask()->add_paths("police");
      }
      if (p.has_administrative_order()) {
        *u.mutable_site()->mutable_administrative_order() = p.administrative_order();
        u.mutable_update_mask()->add_paths("administrative_order");
      }
      if (p.has_insalubrity_order()) {
        *u.mutable_site()->mutable_insalubrity_order() = p.insalubrity_order();
        u.mutable_update_mask()->add_paths("insalubrity_order");
      }
      return DecideUpdate(state, u, ctx, &out);
    }
    case v1::SiteCommand::kSetHeatwave:
      if (cmd.set_heatwave().active() != state.heatwave()) {
        if (cmd.set_heatwave().active()) {
          out.New()->mutable_heatwave_alert_raised();
        } else {
          out.New()->mutable_heatwave_alert_lifted();
        }
      }
      break;
    case v1::SiteCommand::kConfirmUpToDate:
      out.New()->mutable_confirmed_up_to_date();
      break;
    case v1::SiteCommand::kDeclareIntervener: {
      v1::Intervener i = cmd.declare_intervener().intervener();
      if (i.user_id().empty()) {
        i.set_user_id(actor.user_id);
        i.set_organisation_id(actor.organisation_id);
      }
      if (i.user_id() != actor.user_id && !IsModerator(actor)) {
        return Denied("permission.declare_other_intervener",
                      "Seul un administrateur peut déclarer un autre intervenant.");
      }
      CheckEnumValues(i, "intervener", &v);
      CheckIntervener(i, "intervener", &v);
      if (!v.empty()) return v.ToStatus();
      for (const auto& existing : state.interveners()) {
        if (existing.user_id() == i.user_id() && Same(existing, i)) return SiteDecision{};
      }
      *out.New()->mutable_intervener_declared()->mutable_intervener() = i;
      break;
    }
    case v1::SiteCommand::kWithdrawIntervener: {
      std::string user = cmd.withdraw_intervener().user_id();
      if (user.empty()) user = actor.user_id;
      if (user != actor.user_id && !IsModerator(actor)) {
        return Denied("permission.withdraw_other_intervener",
                      "Seul un administrateur peut retirer un autre intervenant.");
      }
      bool found = std::any_of(state.interveners().begin(), state.interveners().end(),
                               [&](const v1::Intervener& i) { return i.user_id() == user; });
      if (!found) {
        return Refuse(absl::StatusCode::kFailedPrecondition, "user_id", "intervener.not_declared",
                      "Cet intervenant n'est pas déclaré sur le site.");
      }
      out.New()->mutable_intervener_withdrawn()->set_user_id(user);
      break;
    }
    case v1::SiteCommand::kPostComment: {
      const auto& c = cmd.post_comment();
      CheckEnumValues(c, "post_comment", &v);
      if (c.text().empty()) {
        v.Add("post_comment.text", "comment.text_required", "Le message est vide.");
      }
      if (c.text().size() > 10000) {
        v.Add("post_comment.text", "comment.text_max_length",
              "Le message ne doit pas dépasser 10 000 octets.");
      }
      if (!v.empty()) return v.ToStatus();
      v1::Comment* comment = out.New()->mutable_comment_posted()->mutable_comment();
      comment->set_id(absl::StrCat(state.revision() + 1));
      comment->set_text(c.text());
      *comment->mutable_tags() = c.tags();
      *comment->mutable_target_user_ids() = c.target_user_ids();
      *comment->mutable_target_organisation_ids() = c.target_organisation_ids();
      comment->set_author_user_id(actor.user_id);
      comment->set_author_organisation_id(actor.organisation_id);
      comment->set_posted_at_us(valid_at);
      break;
    }
    case v1::SiteCommand::kModerateComment: {
      const auto& m = cmd.moderate_comment();
      const v1::Comment* target = nullptr;
      for (const auto& c : state.comments()) {
        if (c.id() == m.comment_id()) target = &c;
      }
      if (target == nullptr) {
        return Refuse(absl::StatusCode::kNotFound, "moderate_comment.comment_id",
                      "comment.not_found", "Ce message n'existe pas dans le journal du site.");
      }
      if (target->moderated()) return SiteDecision{};
      auto* e = out.New()->mutable_comment_moderated();
      e->set_comment_id(m.comment_id());
      e->set_reason(m.reason());
      break;
    }
    case v1::SiteCommand::kStartResorptionPhase:
    case v1::SiteCommand::kCompleteResorptionPhase: {
      const bool start = kind == v1::SiteCommand::kStartResorptionPhase;
      const v1::ResorptionPhase phase =
          start ? cmd.start_resorption_phase().phase() : cmd.complete_resorption_phase().phase();
      if (phase == v1::RESORPTION_PHASE_UNSPECIFIED || !v1::ResorptionPhase_IsValid(phase)) {
        return Refuse(absl::StatusCode::kInvalidArgument, "phase", "enum.unknown_value",
                      "Choisissez une phase de la liste.");
      }
      const v1::ResorptionPhaseProgress* p = nullptr;
      for (const auto& x : state.resorption_phases()) {
        if (x.phase() == phase) p = &x;
      }
      if (start) {
        if (p != nullptr) return SiteDecision{};
        out.New()->mutable_resorption_phase_started()->set_phase(phase);
      } else {
        if (p == nullptr) {
          return Refuse(absl::StatusCode::kFailedPrecondition, "phase",
                        "resorption_phase.not_started", "Cette phase n'a pas commencé.");
        }
        if (p->completed_at_us() != 0) return SiteDecision{};
        out.New()->mutable_resorption_phase_completed()->set_phase(phase);
      }
      break;
    }
    case v1::SiteCommand::kClose:
    case v1::SiteCommand::kCorrectClosure: {
      const bool correcting = kind == v1::SiteCommand::kCorrectClosure;
      const v1::Closure& c = correcting ? cmd.correct_closure().closure() : cmd.close().closure();
      const std::string path = correcting ? "correct_closure.closure" : "close.closure";
      CheckEnumValues(c, path, &v);
      CheckClosure(c, state.built_at(), state.declared_at(), today, path, &v);
      if (correcting && cmd.reason().empty()) {
        v.Add("reason", "closure.correction_reason_required",
              "Indiquez le motif de la correction de la fermeture.");
      }
      if (!v.empty()) return v.ToStatus();
      if (correcting) {
        if (Same(c, state.closure())) return SiteDecision{};
        *out.New()->mutable_closure_corrected()->mutable_closure() = c;
      } else {
        *out.New()->mutable_closed()->mutable_closure() = c;
      }
      break;
    }
    case v1::SiteCommand::kErase:
      if (cmd.reason().empty() && cmd.erase().reason().empty()) {
        v.Add("reason", "erase.reason_required", "Indiquez le motif de la suppression.");
        return v.ToStatus();
      }
      out.New()->mutable_erased()->set_reason(cmd.erase().reason().empty() ? cmd.reason()
                                                                           : cmd.erase().reason());
      break;
    case v1::SiteCommand::kAnonymiseOwner: {
      std::string rule = cmd.anonymise_owner().rule().empty() ? std::string(kRuleOnRequest)
                                                              : cmd.anonymise_owner().rule();
      if (rule != kRuleOnRequest && rule != kRuleClosedOverOneYear) {
        v.Add("anonymise_owner.rule", "anonymise_owner.rule_unknown",
              absl::StrCat("Règle d'anonymisation inconnue : « ", rule, " »."));
        return v.ToStatus();
      }
      // Nothing personal left (public owner, no name, or already anonymised): no change.
      if (!HasPersonalOwnerName(state.ownership())) return SiteDecision{};
      auto* a = out.New()->mutable_owner_identity_anonymised();
      a->set_rule(std::move(rule));
      a->set_reason(cmd.reason());
      break;
    }
    case v1::SiteCommand::COMMAND_NOT_SET:
      break;
  }
  if (!v.empty()) return v.ToStatus();
  return SiteDecision{out.Take()};
}

void EvolveSiteInPlace(v1::Site& s, const v1::SiteEvent& e) {
  const bool first = s.status() == v1::SITE_STATUS_UNSPECIFIED;
  s.set_revision(first ? 0 : s.revision() + 1);
  // Events that change the site's data move its valid date forward (never backward).
  auto touch = [&s, &e] {
    if (e.valid_at_us() >= s.updated_at_us()) {
      s.set_updated_at_us(e.valid_at_us());
      // Most events of a site come from the author of the one before: no copy then.
      if (s.updated_by() != e.actor_user_id()) s.set_updated_by(e.actor_user_id());
    }
    s.set_updated_without_any_change(false);
  };
  switch (e.body_case()) {
    case v1::SiteEvent::kDeclared: {
      const auto& d = e.declared();
      s.set_id(d.site_id());
      s.set_status(v1::SITE_STATUS_OPEN);
      s.set_name(d.name());
      *s.mutable_location() = d.location();
      s.set_field_type(d.field_type());
      *s.mutable_built_at() = d.built_at();
      *s.mutable_declared_at() = d.declared_at();
      s.set_created_at_us(e.valid_at_us());
      s.set_created_by(e.actor_user_id());
      touch();
      break;
    }
    case v1::SiteEvent::kRenamed:
      s.set_name(e.renamed().name());
      touch();
      break;
    case v1::SiteEvent::kLocationChanged:
      *s.mutable_location() = e.location_changed().location();
      touch();
      break;
    case v1::SiteEvent::kDatesChanged:
      *s.mutable_built_at() = e.dates_changed().built_at();
      *s.mutable_declared_at() = e.dates_changed().declared_at();
      touch();
      break;
    case v1::SiteEvent::kFieldTypeChanged:
      s.set_field_type(e.field_type_changed().field_type());
      touch();
      break;
    case v1::SiteEvent::kOwnershipChanged:
      *s.mutable_ownership() = e.ownership_changed().ownership();
      touch();
      break;
    case v1::SiteEvent::kPopulationRecorded:
      *s.mutable_population() = e.population_recorded().population();
      *s.mutable_dwellings() = e.population_recorded().dwellings();
      *s.mutable_origins() = e.population_recorded().origins();
      s.set_population_updated_at_us(std::max(s.population_updated_at_us(), e.valid_at_us()));
      touch();
      break;
    case v1::SiteEvent::kCensusUpdated:
      *s.mutable_census() = e.census_updated().census();
      touch();
      break;
    case v1::SiteEvent::kLivingConditionsAssessed:
      s.set_living_conditions_version(2);
      s.clear_living_conditions_v1();
      *s.mutable_living_conditions_v2() = e.living_conditions_assessed().living_conditions();
      touch();
      break;
    case v1::SiteEvent::kLivingConditionsAssessedV1:
      if (s.living_conditions_version() != 2) {  // never downgrade
        s.set_living_conditions_version(1);
        *s.mutable_living_conditions_v1() = e.living_conditions_assessed_v1().living_conditions();
      }
      touch();
      break;
    case v1::SiteEvent::kLivingConditionsUpgradedToV2:
      s.set_living_conditions_version(2);
      s.clear_living_conditions_v1();
      *s.mutable_living_conditions_v2() = e.living_conditions_upgraded_to_v2().living_conditions();
      touch();
      break;
    case v1::SiteEvent::kJusticeProcedureUpdated:
      *s.mutable_justice() = e.justice_procedure_updated().justice();
      touch();
      break;
    case v1::SiteEvent::kPoliceAssistanceUpdated:
      *s.mutable_police() = e.police_assistance_updated().police();
      touch();
      break;
    case v1::SiteEvent::kAdministrativeOrderUpdated:
      *s.mutable_administrative_order() = e.administrative_order_updated().administrative_order();
      touch();
      break;
    case v1::SiteEvent::kInsalubrityOrderUpdated:
      *s.mutable_insalubrity_order() = e.insalubrity_order_updated().insalubrity_order();
      touch();
      break;
    case v1::SiteEvent::kReinstallationDeclared:
      *s.mutable_reinstallation() = e.reinstallation_declared().reinstallation();
      touch();
      break;
    case v1::SiteEvent::kResorptionTargetSet:
      s.set_resorption_target(e.resorption_target_set().year());
      touch();
      break;
    case v1::SiteEvent::kResorptionPhaseStarted: {
      auto* p = s.add_resorption_phases();
      p->set_phase(e.resorption_phase_started().phase());
      p->set_started_at_us(e.valid_at_us());
      p->set_started_by(e.actor_user_id());
      touch();
      break;
    }
    case v1::SiteEvent::kResorptionPhaseCompleted:
      for (auto& p : *s.mutable_resorption_phases()) {
        if (p.phase() == e.resorption_phase_completed().phase()) {
          p.set_completed_at_us(e.valid_at_us());
          p.set_completed_by(e.actor_user_id());
        }
      }
      touch();
      break;
    case v1::SiteEvent::kHeatwaveAlertRaised:
      s.set_heatwave(true);
      touch();
      break;
    case v1::SiteEvent::kHeatwaveAlertLifted:
      s.set_heatwave(false);
      touch();
      break;
    case v1::SiteEvent::kConfirmedUpToDate:
      touch();
      s.set_updated_without_any_change(true);
      if (s.population().has_total()) {
        s.set_population_updated_at_us(std::max(s.population_updated_at_us(), e.valid_at_us()));
      }
      break;
    case v1::SiteEvent::kIntervenerDeclared: {
      const auto& i = e.intervener_declared().intervener();
      bool replaced = false;
      for (auto& x : *s.mutable_interveners()) {
        if (x.user_id() == i.user_id()) {
          x = i;
          replaced = true;
        }
      }
      if (!replaced) *s.add_interveners() = i;
      break;
    }
    case v1::SiteEvent::kIntervenerWithdrawn: {
      auto* list = s.mutable_interveners();
      for (int i = list->size() - 1; i >= 0; --i) {
        if (list->Get(i).user_id() == e.intervener_withdrawn().user_id())
          list->DeleteSubrange(i, 1);
      }
      break;
    }
    case v1::SiteEvent::kCommentPosted:
      *s.add_comments() = e.comment_posted().comment();
      break;
    case v1::SiteEvent::kCommentModerated:
      for (auto& c : *s.mutable_comments()) {
        if (c.id() == e.comment_moderated().comment_id()) {
          c.set_moderated(true);
          c.clear_text();
          c.set_moderation_reason(e.comment_moderated().reason());
        }
      }
      break;
    case v1::SiteEvent::kClosed:
      s.set_status(v1::SITE_STATUS_CLOSED);
      *s.mutable_closure() = e.closed().closure();
      touch();
      break;
    case v1::SiteEvent::kClosureCorrected:
      *s.mutable_closure() = e.closure_corrected().closure();
      touch();
      break;
    case v1::SiteEvent::kErased: {
      // Personal and restricted data go; identity and the erasure remain.
      v1::Site erased;
      erased.set_id(s.id());
      erased.set_status(v1::SITE_STATUS_ERASED);
      erased.set_revision(s.revision());
      erased.set_created_at_us(s.created_at_us());
      erased.set_created_by(s.created_by());
      erased.set_updated_at_us(std::max(s.updated_at_us(), e.valid_at_us()));
      erased.set_updated_by(e.actor_user_id());
      s = std::move(erased);
      break;
    }
    case v1::SiteEvent::kOwnerIdentityAnonymised:
      // Bookkeeping of an erasure, not a change of the site's data: the valid date stays.
      AnonymiseOwnership(s.mutable_ownership(), e.valid_at_us());
      s.set_owner_anonymisations(s.owner_anonymisations() + 1);
      break;
    case v1::SiteEvent::kRetroactiveCorrectionRecorded:
    case v1::SiteEvent::BODY_NOT_SET:
      break;
  }
}

v1::Site EvolveSite(v1::Site s, const v1::SiteEvent& e) {
  EvolveSiteInPlace(s, e);
  return s;
}

v1::Site FoldSite(const std::vector<v1::SiteEvent>& events) {
  v1::Site s;
  for (const auto& e : events) s = EvolveSite(std::move(s), e);
  return s;
}

v1::Site FoldSiteInValidOrder(std::vector<LoggedSiteEvent> events,
                              std::optional<int64_t> valid_until_us) {
  std::sort(events.begin(), events.end(), [](const LoggedSiteEvent& a, const LoggedSiteEvent& b) {
    if (a.event.valid_at_us() != b.event.valid_at_us()) {
      return a.event.valid_at_us() < b.event.valid_at_us();
    }
    return a.position < b.position;
  });
  v1::Site s;
  for (const LoggedSiteEvent& e : events) {
    if (valid_until_us.has_value() && e.event.valid_at_us() > *valid_until_us) break;
    s = EvolveSite(std::move(s), e.event);
  }
  return s;
}

}  // namespace rb::domain
