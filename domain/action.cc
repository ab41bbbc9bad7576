// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/action.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "domain/dates.h"
#include "domain/geo.h"
#include "domain/site_rules.h"
#include "domain/violations.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;
using google::protobuf::util::FieldMaskUtil;
using google::protobuf::util::MessageDifferencer;

absl::Status Refuse(absl::StatusCode code, std::string field, std::string rule,
                    std::string message) {
  return StatusWithViolations(code, {{std::move(field), std::move(rule), std::move(message)}});
}

bool IsMember(const google::protobuf::RepeatedPtrField<v1::ActionMember>& list,
              const std::string& user) {
  return std::any_of(list.begin(), list.end(),
                     [&](const v1::ActionMember& m) { return m.user_id() == user; });
}

bool IsAdminLike(const Actor& a) {
  return a.role == Role::kNationalAdmin || a.role == Role::kLocalAdmin ||
         a.role == Role::kDirectCollaborator;
}

void CheckDetails(const v1::ActionDetails& d, absl::CivilDay today, const std::string& p,
                  Violations* v) {
  if (d.name().empty()) v->Add(p + ".name", "action.name_required", "Indiquez le nom de l'action.");
  if (d.name().size() > 255) {
    v->Add(p + ".name", "action.name_max_length", "Le nom ne doit pas dépasser 255 caractères.");
  }
  std::optional<absl::CivilDay> start, end;
  if (IsEmptyDate(d.started_at())) {
    v->Add(p + ".started_at", "action.started_at_required", "Indiquez la date de début.");
  } else if (!(start = ToCivilDay(d.started_at()))) {
    v->Add(p + ".started_at", "date.invalid", "Cette date n'existe pas.");
  }
  if (!IsEmptyDate(d.ended_at()) && !(end = ToCivilDay(d.ended_at()))) {
    v->Add(p + ".ended_at", "date.invalid", "Cette date n'existe pas.");
  }
  if (start && end && *end < *start) {
    v->Add(p + ".ended_at", "action.ended_after_started",
           "La date de fin doit être postérieure à la date de début.");
  }
  if (d.topics_size() == 0) {
    v->Add(p + ".topics", "action.topics_required", "Choisissez au moins une thématique.");
  }
  std::set<int> topics;
  for (int t : d.topics()) {
    if (!topics.insert(t).second) {
      v->Add(p + ".topics", "action.duplicate_topic",
             "Chaque thématique ne s'indique qu'une fois.");
    }
  }
  if (geo::Geography::Get().FindDepartement(d.departement_code()) == nullptr) {
    v->Add(p + ".departement_code", "action.departement_unknown",
           "Choisissez le département de l'action dans la liste.");
  }
  const auto& loc = d.location();
  const std::string lp = p + ".location";
  switch (loc.type()) {
    case v1::ACTION_LOCATION_TYPE_UNSPECIFIED:
      v->Add(lp + ".type", "action.location_type_required", "Indiquez le lieu de l'action.");
      break;
    case v1::ACTION_LOCATION_TYPE_ETI:
      if (loc.eti_addresses_size() == 0) {
        v->Add(lp + ".eti_addresses", "action.eti_address_required",
               "Indiquez l'adresse de l'espace temporaire d'insertion.");
      }
      for (int i = 0; i < loc.eti_addresses_size(); ++i) {
        const auto& a = loc.eti_addresses(i);
        const std::string ap = absl::StrCat(lp, ".eti_addresses[", i, "]");
        const geo::Commune* c = geo::Geography::Get().FindCommune(a.city_code());
        if (c == nullptr) {
          v->Add(ap + ".city_code", "location.city_code_unknown",
                 "Code commune inconnu : choisissez l'adresse dans la liste proposée.");
        } else if (!geo::CoordinatesPlausibleFor(c->departement, a.coordinates().latitude(),
                                                 a.coordinates().longitude())) {
          v->Add(ap + ".coordinates", "location.coordinates_implausible",
                 "Les coordonnées ne correspondent pas au territoire de la commune.");
        }
      }
      break;
    case v1::ACTION_LOCATION_TYPE_ON_SITE:
      if (loc.site_ids_size() == 0) {
        v->Add(lp + ".site_ids", "action.site_ids_required", "Choisissez au moins un site.");
      }
      break;
    case v1::ACTION_LOCATION_TYPE_OTHER:
      if (loc.other().empty()) {
        v->Add(lp + ".other", "action.location_other_required", "Précisez le lieu de l'action.");
      }
      break;
    default:
      break;
  }
  if (loc.type() != v1::ACTION_LOCATION_TYPE_ETI && loc.eti_addresses_size() > 0) {
    v->Add(lp + ".eti_addresses", "action.eti_addresses_not_applicable",
           "Les adresses ne s'indiquent que pour un espace temporaire d'insertion.");
  }
  if (loc.type() != v1::ACTION_LOCATION_TYPE_ON_SITE && loc.site_ids_size() > 0) {
    v->Add(lp + ".site_ids", "action.site_ids_not_applicable",
           "Les sites ne s'indiquent que pour une action sur site.");
  }
  (void)today;
}

void CheckMembers(const google::protobuf::RepeatedPtrField<v1::ActionMember>& list,
                  const std::string& p, absl::string_view what, Violations* v) {
  if (list.empty()) {
    v->Add(p, absl::StrCat("action.", what, "_required"),
           absl::StrCat("Indiquez au moins un ", what == "managers" ? "pilote" : "opérateur", "."));
  }
  std::set<std::string> seen;
  for (const auto& m : list) {
    if (m.user_id().empty() || !seen.insert(m.user_id()).second) {
      v->Add(p, absl::StrCat("action.", what, "_invalid"),
             "Chaque personne doit être indiquée une seule fois.");
    }
  }
}

void Le(const std::string& p, bool ha, int a, bool hb, int b, absl::string_view a_name,
        absl::string_view b_name, Violations* v) {
  if (ha && hb && a > b) {
    v->Add(absl::StrCat(p, ".", a_name), absl::StrCat("indicators.", a_name, "_le_", b_name),
           absl::StrCat("« ", a_name, " » ne peut pas dépasser « ", b_name, " »."));
  }
}

void CheckIndicators(const v1::ActionIndicators& m, int min_year, absl::CivilDay today,
                     const std::string& p, Violations* v) {
  if (m.year() < min_year || m.year() > today.year()) {
    v->Add(p + ".year", "indicators.year_range",
           absl::StrCat("L'année doit être comprise entre ", min_year, " et ", today.year(), "."));
  }
  const auto* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_INT32 && f->name() != "year" &&
        r->GetInt32(m, f) < 0) {
      v->Add(absl::StrCat(p, ".", f->name()), "indicators.non_negative",
             "Le nombre doit être positif ou nul.");
    }
  }
  Le(p, m.has_nombre_menages(), m.nombre_menages(), m.has_nombre_personnes(), m.nombre_personnes(),
     "nombre_menages", "nombre_personnes", v);
  Le(p, m.has_nombre_femmes(), m.nombre_femmes(), m.has_nombre_personnes(), m.nombre_personnes(),
     "nombre_femmes", "nombre_personnes", v);
  Le(p, m.has_nombre_mineurs(), m.nombre_mineurs(), m.has_nombre_personnes(), m.nombre_personnes(),
     "nombre_mineurs", "nombre_personnes", v);
  Le(p, m.has_travail_nombre_femmes(), m.travail_nombre_femmes(), m.has_travail_nombre_personnes(),
     m.travail_nombre_personnes(), "travail_nombre_femmes", "travail_nombre_personnes", v);
  Le(p, m.has_hebergement_nombre_menages(), m.hebergement_nombre_menages(),
     m.has_hebergement_nombre_personnes(), m.hebergement_nombre_personnes(),
     "hebergement_nombre_menages", "hebergement_nombre_personnes", v);
  Le(p, m.has_logement_nombre_menages(), m.logement_nombre_menages(),
     m.has_logement_nombre_personnes(), m.logement_nombre_personnes(), "logement_nombre_menages",
     "logement_nombre_personnes", v);
  Le(p, m.has_scolaire_mineurs_en_mediation(), m.scolaire_mineurs_en_mediation(),
     m.has_scolaire_mineurs_scolarisables(), m.scolaire_mineurs_scolarisables(),
     "scolaire_mineurs_en_mediation", "scolaire_mineurs_scolarisables", v);
}

void CheckFinances(const v1::ActionFinances& f, int min_year, absl::CivilDay today,
                   const std::string& p, Violations* v) {
  if (f.year() < min_year || f.year() > today.year() + 1) {
    v->Add(
        p + ".year", "finances.year_range",
        absl::StrCat("L'année doit être comprise entre ", min_year, " et ", today.year() + 1, "."));
  }
  std::set<int> seen;
  for (int i = 0; i < f.lines_size(); ++i) {
    const auto& l = f.lines(i);
    const std::string lp = absl::StrCat(p, ".lines[", i, "]");
    if (l.type() == v1::FINANCE_TYPE_UNSPECIFIED) {
      v->Add(lp + ".type", "finances.type_required", "Choisissez le type de financement.");
    } else if (!seen.insert(l.type()).second) {
      v->Add(lp + ".type", "finances.duplicate_type",
             "Chaque type de financement ne s'indique qu'une fois par année.");
    }
    if (l.amount_cents() < 0 || l.real_amount_cents() < 0) {
      v->Add(lp, "finances.non_negative", "Les montants doivent être positifs ou nuls.");
    }
  }
}

int StartYear(const v1::Action& a) {
  auto d = ToCivilDay(a.details().started_at());
  return d ? static_cast<int>(d->year()) : 2000;
}

}  // namespace

absl::StatusOr<ActionDecision> DecideAction(const v1::Action& state, const v1::ActionCommand& cmd,
                                            const Context& ctx) {
  const Actor& actor = ctx.actor;
  const auto kind = cmd.command_case();
  const int64_t valid_at =
      cmd.valid_at_us() == 0 ? ctx.now_us : std::min(cmd.valid_at_us(), ctx.now_us);
  const absl::CivilDay today = ctx.today();
  if (kind == v1::ActionCommand::COMMAND_NOT_SET) {
    return Refuse(absl::StatusCode::kInvalidArgument, "command", "command.required",
                  "Aucune commande fournie.");
  }
  if (kind == v1::ActionCommand::kCreate) {
    if (state.status() != v1::ACTION_STATUS_UNSPECIFIED) {
      return Refuse(absl::StatusCode::kFailedPrecondition, "action_id", "lifecycle.already_created",
                    "Cette action existe déjà.");
    }
  } else if (state.status() == v1::ACTION_STATUS_UNSPECIFIED) {
    return Refuse(absl::StatusCode::kNotFound, "action_id", "lifecycle.not_created",
                  "Cette action n'existe pas.");
  }
  if (state.status() == v1::ACTION_STATUS_CLOSED && kind != v1::ActionCommand::kPostComment) {
    return Refuse(absl::StatusCode::kFailedPrecondition, "action_id", "lifecycle.action_closed",
                  "Cette action est terminée.");
  }
  const bool member =
      IsMember(state.managers(), actor.user_id) || IsMember(state.operators(), actor.user_id);
  const bool may_write = IsAdminLike(actor) || member;
  if (kind == v1::ActionCommand::kCreate ? !IsAdminLike(actor) : !may_write) {
    return StatusWithViolations(absl::StatusCode::kPermissionDenied,
                                {{"", "permission.write",
                                  "Seuls les pilotes, opérateurs et administrateurs peuvent "
                                  "modifier cette action."}});
  }
  if (kind == v1::ActionCommand::kRecordFinances && !actor.CanAccessActionFinances() &&
      !IsMember(state.managers(), actor.user_id)) {
    return StatusWithViolations(
        absl::StatusCode::kPermissionDenied,
        {{"", "permission.action_finances", "Vous n'avez pas accès aux financements."}});
  }

  Violations v;
  CheckEnumValues(cmd, "", &v);
  std::vector<v1::ActionEvent> events;
  auto emit = [&]() -> v1::ActionEvent* {
    v1::ActionEvent& e = events.emplace_back();
    e.set_valid_at_us(valid_at);
    e.set_actor_user_id(actor.user_id);
    e.set_actor_organisation_id(actor.organisation_id);
    return &e;
  };
  switch (kind) {
    case v1::ActionCommand::kCreate: {
      const auto& c = cmd.create();
      if (cmd.action_id().empty()) {
        v.Add("action_id", "action_id.required", "L'identifiant de l'action est obligatoire.");
      }
      CheckDetails(c.details(), today, "create.details", &v);
      CheckMembers(c.managers(), "create.managers", "managers", &v);
      CheckMembers(c.operators(), "create.operators", "operators", &v);
      auto* e = emit()->mutable_created();
      e->set_action_id(cmd.action_id());
      *e->mutable_details() = c.details();
      *e->mutable_managers() = c.managers();
      *e->mutable_operators() = c.operators();
      break;
    }
    case v1::ActionCommand::kUpdate: {
      const auto& u = cmd.update();
      if (u.update_mask().paths_size() == 0 ||
          !FieldMaskUtil::IsValidFieldMask<v1::ActionDetails>(u.update_mask())) {
        v.Add("update.update_mask", "update_mask.field_not_updatable",
              "Indiquez des champs de l'action à modifier.");
        break;
      }
      v1::ActionDetails desired = state.details();
      FieldMaskUtil::MergeOptions opts;
      opts.set_replace_message_fields(true);
      opts.set_replace_repeated_fields(true);
      FieldMaskUtil::MergeMessageTo(u.details(), u.update_mask(), opts, &desired);
      if (MessageDifferencer::Equals(desired, state.details())) break;
      CheckDetails(desired, today, "update.details", &v);
      *emit()->mutable_updated()->mutable_details() = desired;
      break;
    }
    case v1::ActionCommand::kSetManagers: {
      CheckMembers(cmd.set_managers().managers(), "set_managers.managers", "managers", &v);
      v1::SetActionManagers current;
      *current.mutable_managers() = state.managers();
      if (MessageDifferencer::Equals(current, cmd.set_managers())) break;
      *emit()->mutable_managers_changed()->mutable_managers() = cmd.set_managers().managers();
      break;
    }
    case v1::ActionCommand::kSetOperators: {
      CheckMembers(cmd.set_operators().operators(), "set_operators.operators", "operators", &v);
      v1::SetActionOperators current;
      *current.mutable_operators() = state.operators();
      if (MessageDifferencer::Equals(current, cmd.set_operators())) break;
      *emit()->mutable_operators_changed()->mutable_operators() = cmd.set_operators().operators();
      break;
    }
    case v1::ActionCommand::kRecordIndicators: {
      v1::ActionIndicators m = cmd.record_indicators().indicators();
      CheckIndicators(m, StartYear(state), today, "record_indicators.indicators", &v);
      m.set_updated_at_us(0);
      for (const auto& existing : state.indicators()) {
        v1::ActionIndicators copy = existing;
        copy.set_updated_at_us(0);
        if (existing.year() == m.year() && MessageDifferencer::Equals(copy, m)) {
          return ActionDecision{};
        }
      }
      m.set_updated_at_us(valid_at);
      *emit()->mutable_indicators_recorded()->mutable_indicators() = m;
      break;
    }
    case v1::ActionCommand::kRecordFinances: {
      const auto& f = cmd.record_finances().finances();
      CheckFinances(f, StartYear(state), today, "record_finances.finances", &v);
      for (const auto& existing : state.finances()) {
        if (existing.year() == f.year() && MessageDifferencer::Equals(existing, f)) {
          return ActionDecision{};
        }
      }
      *emit()->mutable_finances_recorded()->mutable_finances() = f;
      break;
    }
    case v1::ActionCommand::kPostComment: {
      const auto& c = cmd.post_comment();
      if (c.text().empty()) {
        v.Add("post_comment.text", "comment.text_required", "Le message est vide.");
      }
      v1::Comment* comment = emit()->mutable_comment_posted()->mutable_comment();
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
    case v1::ActionCommand::kClose: {
      const auto& c = cmd.close();
      auto closed = ToCivilDay(c.closed_at());
      auto start = ToCivilDay(state.details().started_at());
      if (!closed) {
        v.Add("close.closed_at", "action.closed_at_required",
              "Indiquez la date de fin de l'action.");
      } else {
        if (*closed > today) {
          v.Add("close.closed_at", "action.closed_at.not_future",
                "La date ne peut pas être dans le futur.");
        }
        if (start && *closed < *start) {
          v.Add("close.closed_at", "action.closed_after_started",
                "La date de fin doit être postérieure à la date de début.");
        }
      }
      auto* e = emit()->mutable_closed();
      *e->mutable_closed_at() = c.closed_at();
      e->set_final_comment(c.final_comment());
      break;
    }
    case v1::ActionCommand::COMMAND_NOT_SET:
      break;
  }
  if (!v.empty()) return v.ToStatus();
  return ActionDecision{std::move(events)};
}

v1::Action EvolveAction(v1::Action a, const v1::ActionEvent& e) {
  const bool first = a.status() == v1::ACTION_STATUS_UNSPECIFIED;
  a.set_revision(first ? 0 : a.revision() + 1);
  auto touch = [&] {
    if (e.valid_at_us() >= a.updated_at_us()) {
      a.set_updated_at_us(e.valid_at_us());
      a.set_updated_by(e.actor_user_id());
    }
  };
  switch (e.body_case()) {
    case v1::ActionEvent::kCreated:
      a.set_id(e.created().action_id());
      a.set_status(v1::ACTION_STATUS_OPEN);
      *a.mutable_details() = e.created().details();
      *a.mutable_managers() = e.created().managers();
      *a.mutable_operators() = e.created().operators();
      a.set_created_at_us(e.valid_at_us());
      a.set_created_by(e.actor_user_id());
      touch();
      break;
    case v1::ActionEvent::kUpdated:
      *a.mutable_details() = e.updated().details();
      touch();
      break;
    case v1::ActionEvent::kManagersChanged:
      *a.mutable_managers() = e.managers_changed().managers();
      touch();
      break;
    case v1::ActionEvent::kOperatorsChanged:
      *a.mutable_operators() = e.operators_changed().operators();
      touch();
      break;
    case v1::ActionEvent::kIndicatorsRecorded: {
      const auto& m = e.indicators_recorded().indicators();
      auto* list = a.mutable_indicators();
      auto it = std::find_if(list->begin(), list->end(),
                             [&](const v1::ActionIndicators& x) { return x.year() == m.year(); });
      if (it != list->end()) {
        *it = m;
      } else {
        *list->Add() = m;
        std::sort(list->begin(), list->end(),
                  [](const auto& x, const auto& y) { return x.year() < y.year(); });
      }
      touch();
      break;
    }
    case v1::ActionEvent::kFinancesRecorded: {
      const auto& f = e.finances_recorded().finances();
      auto* list = a.mutable_finances();
      auto it = std::find_if(list->begin(), list->end(),
                             [&](const v1::ActionFinances& x) { return x.year() == f.year(); });
      if (it != list->end()) {
        *it = f;
      } else {
        *list->Add() = f;
        std::sort(list->begin(), list->end(),
                  [](const auto& x, const auto& y) { return x.year() < y.year(); });
      }
      touch();
      break;
    }
    case v1::ActionEvent::kCommentPosted:
      *a.add_comments() = e.comment_posted().comment();
      break;
    case v1::ActionEvent::kClosed:
      a.set_status(v1::ACTION_STATUS_CLOSED);
      *a.mutable_closed_at() = e.closed().closed_at();
      a.set_final_comment(e.closed().final_comment());
      touch();
      break;
    case v1::ActionEvent::BODY_NOT_SET:
      break;
  }
  return a;
}

v1::Action FoldAction(const std::vector<v1::ActionEvent>& events) {
  v1::Action a;
  for (const auto& e : events) a = EvolveAction(std::move(a), e);
  return a;
}

}  // namespace rb::domain
