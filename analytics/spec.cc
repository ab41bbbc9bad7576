#include "analytics/spec.h"

#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "domain/events.h"
#include "domain/violations.h"
#include "eventstore/event.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "resorption/v1/action.pb.h"
#include "resorption/v1/site.pb.h"

namespace rb::analytics {

namespace v1 = resorption::v1;
using rb::domain::Violations;

namespace {

class CollectingErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first.empty())
      first = absl::StrFormat("line %d, column %d: %s", line + 1, column + 1, message);
  }
  std::string first;
};

bool ValidColumnName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Resolves "event.x", "site.a.b" or "action.a.b".
absl::StatusOr<Source> ResolveSource(const std::string& field, const std::string& category) {
  Source s;
  if (field.rfind("event.", 0) == 0) {
    std::string f = field.substr(6);
    s.from_event = true;
    if (f == "type") {
      s.event_field = EventField::kType;
    } else if (f == "valid_year") {
      s.event_field = EventField::kValidYear;
    } else if (f == "valid_month") {
      s.event_field = EventField::kValidMonth;
    } else if (f == "actor_role") {
      s.event_field = EventField::kActorRole;
    } else if (f == "actor_organisation") {
      s.event_field = EventField::kActorOrganisation;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "champ d'événement inconnu '", field,
          "' (connus : event.type, event.valid_year, event.valid_month, event.actor_role, "
          "event.actor_organisation)"));
    }
    return s;
  }
  const std::string prefix = category + ".";
  if (field.rfind(prefix, 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("le chemin '", field, "' doit commencer par 'event.' ou '", prefix, "'"));
  }
  const google::protobuf::Descriptor* root =
      category == "site" ? v1::Site::descriptor() : v1::Action::descriptor();
  auto path = FieldPath::Resolve(root, field.substr(prefix.size()));
  if (!path.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("chemin inconnu : ", path.status().message()));
  }
  s.path = std::move(*path);
  return s;
}

// Converts a condition operand to the leaf's kind of value.
absl::StatusOr<Value> Operand(const Source& source, const std::string& text) {
  if (source.from_event) {
    if (source.event_field == EventField::kValidYear) {
      double d;
      if (!absl::SimpleAtod(text, &d)) {
        return absl::InvalidArgumentError(absl::StrCat("'", text, "' n'est pas une année"));
      }
      return Value{true, d, FormatNumber(d)};
    }
    return Value{false, 0, text};
  }
  const FieldPath& p = *source.path;
  if (const auto* e = p.leaf_enum()) {
    const auto* v = e->FindValueByName(text);
    int n;
    if (v == nullptr && absl::SimpleAtoi(text, &n)) v = e->FindValueByNumber(n);
    if (v == nullptr) {
      std::string names;
      for (int i = 0; i < e->value_count(); ++i) {
        absl::StrAppend(&names, i ? ", " : "", e->value(i)->name());
      }
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' n'est pas une valeur de ", e->name(), " (", names, ")"));
    }
    return Value{false, static_cast<double>(v->number()), v->name()};
  }
  if (p.numeric()) {
    if (text == "true") return Value{true, 1, "true"};
    if (text == "false") return Value{true, 0, "false"};
    int y, m, d;
    if (text.size() == 10 && std::sscanf(text.c_str(), "%4d-%2d-%2d", &y, &m, &d) == 3) {
      double n = y * 10000 + m * 100 + d;
      return Value{true, n, text};
    }
    double v;
    if (!absl::SimpleAtod(text, &v)) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "' n'est pas un nombre (le champ '",
                                                     p.dotted(), "' est numérique)"));
    }
    return Value{true, v, FormatNumber(v)};
  }
  return Value{false, 0, text};
}

}  // namespace

bool Source::numeric() const {
  if (from_event) return event_field == EventField::kValidYear;
  return path->numeric();
}

absl::StatusOr<v1::ProjectionSpec> ParseSpec(absl::string_view text) {
  v1::ProjectionSpec spec;
  google::protobuf::TextFormat::Parser parser;
  CollectingErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &spec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("la spécification ne se lit pas : ", errors.first));
  }
  return spec;
}

std::string SpecHash(const v1::ProjectionSpec& spec) {
  return rb::es::ToHex(rb::es::Sha256(rb::domain::DeterministicBytes(spec)));
}

absl::StatusOr<CompiledSpec> Compile(const v1::ProjectionSpec& spec) {
  Violations v;
  CompiledSpec c;
  c.spec = spec;
  c.spec_hash = SpecHash(spec);
  if (!ValidColumnName(spec.name())) {
    v.Add("name", "analytics.name",
          "le nom est obligatoire : 1 à 64 caractères parmi a-z, 0-9 et _");
  }
  switch (spec.subject()) {
    case v1::SUBJECT_SITE:
      c.category = "site";
      break;
    case v1::SUBJECT_ACTION:
      c.category = "action";
      break;
    default:
      v.Add("subject", "analytics.subject",
            "le sujet est obligatoire : SUBJECT_SITE ou SUBJECT_ACTION");
      return v.ToStatus();
  }
  std::set<std::string> known_types;
  for (const auto& t :
       c.category == "site" ? rb::domain::SiteEventTypes() : rb::domain::ActionEventTypes()) {
    known_types.insert(t.type);
  }
  for (int i = 0; i < spec.event_types_size(); ++i) {
    const std::string& t = spec.event_types(i);
    std::string field = absl::StrCat("event_types[", i, "]");
    if (!t.empty() && t.back() == '*') {
      std::string prefix = t.substr(0, t.size() - 1);
      bool any = false;
      for (const auto& k : known_types) any = any || k.rfind(prefix, 0) == 0;
      if (!any) {
        v.Add(
            field, "analytics.event_type",
            absl::StrCat("aucun type d'événement ", c.category, " ne commence par '", prefix, "'"));
      }
      c.type_prefixes.push_back(prefix);
    } else if (known_types.count(t) == 0) {
      v.Add(field, "analytics.event_type",
            absl::StrCat("type d'événement inconnu '", t, "' pour le sujet ", c.category,
                         " (voir docs/events.md)"));
    } else {
      c.exact_types.push_back(t);
    }
  }
  for (int i = 0; i < spec.where_size(); ++i) {
    const v1::Condition& w = spec.where(i);
    std::string field = absl::StrCat("where[", i, "]");
    auto source = ResolveSource(w.field(), c.category);
    if (!source.ok()) {
      v.Add(field + ".field", "analytics.field", std::string(source.status().message()));
      continue;
    }
    CompiledCondition cc{*source, w.op(), {}};
    switch (w.op()) {
      case v1::EQ:
      case v1::NE:
      case v1::LT:
      case v1::LE:
      case v1::GT:
      case v1::GE:
      case v1::ONLY: {
        auto operand = Operand(*source, w.value());
        if (!operand.ok()) {
          v.Add(field + ".value", "analytics.value", std::string(operand.status().message()));
          continue;
        }
        cc.operands.push_back(*operand);
        break;
      }
      case v1::IN:
      case v1::NOT_IN: {
        if (w.values_size() == 0) {
          v.Add(field + ".values", "analytics.values",
                "IN et NOT_IN demandent au moins une valeur");
          continue;
        }
        bool ok = true;
        for (int j = 0; j < w.values_size(); ++j) {
          auto operand = Operand(*source, w.values(j));
          if (!operand.ok()) {
            v.Add(absl::StrCat(field, ".values[", j, "]"), "analytics.value",
                  std::string(operand.status().message()));
            ok = false;
          } else {
            cc.operands.push_back(*operand);
          }
        }
        if (!ok) continue;
        break;
      }
      case v1::IS_SET:
      case v1::IS_UNSET:
        break;
      default:
        v.Add(field + ".op", "analytics.operator", "opérateur manquant ou inconnu");
        continue;
    }
    c.conditions.push_back(std::move(cc));
  }
  for (int i = 0; i < spec.group_by_size(); ++i) {
    const v1::GroupKey& g = spec.group_by(i);
    std::string field = absl::StrCat("group_by[", i, "]");
    CompiledGroupKey k;
    switch (g.key_case()) {
      case v1::GroupKey::kTerritory:
        k.kind = CompiledGroupKey::Kind::kTerritory;
        k.level = g.territory();
        if (k.level == v1::TERRITORY_LEVEL_UNSPECIFIED) {
          v.Add(field + ".territory", "analytics.territory", "niveau de territoire manquant");
          continue;
        }
        if (c.category == "action" &&
            (k.level == v1::TERRITORY_LEVEL_COMMUNE || k.level == v1::TERRITORY_LEVEL_EPCI)) {
          v.Add(field + ".territory", "analytics.territory",
                "une action est rattachée à un département : grouper par département, région, zone "
                "ou nation");
          continue;
        }
        k.column = absl::AsciiStrToLower(v1::TerritoryLevel_Name(k.level).substr(16));
        break;
      case v1::GroupKey::kValidDate:
        k.kind = CompiledGroupKey::Kind::kValidDate;
        k.date_part = g.valid_date();
        if (k.date_part == v1::DATE_PART_UNSPECIFIED) {
          v.Add(field + ".valid_date", "analytics.date_part", "MONTH ou YEAR attendu");
          continue;
        }
        k.column = k.date_part == v1::MONTH ? "mois" : "annee";
        break;
      case v1::GroupKey::kField: {
        k.kind = CompiledGroupKey::Kind::kField;
        auto source = ResolveSource(g.field(), c.category);
        if (!source.ok()) {
          v.Add(field + ".field", "analytics.field", std::string(source.status().message()));
          continue;
        }
        k.source = std::move(*source);
        k.column = g.field();
        break;
      }
      case v1::GroupKey::kBucket: {
        k.kind = CompiledGroupKey::Kind::kBucket;
        auto source = ResolveSource(g.bucket().field(), c.category);
        if (!source.ok()) {
          v.Add(field + ".bucket.field", "analytics.field", std::string(source.status().message()));
          continue;
        }
        if (!source->numeric()) {
          v.Add(field + ".bucket.field", "analytics.numeric",
                "un découpage en tranches demande un champ numérique");
          continue;
        }
        k.source = std::move(*source);
        k.bounds.assign(g.bucket().bounds().begin(), g.bucket().bounds().end());
        bool sorted = !k.bounds.empty();
        for (size_t b = 1; b < k.bounds.size(); ++b)
          sorted = sorted && k.bounds[b - 1] < k.bounds[b];
        if (!sorted) {
          v.Add(field + ".bucket.bounds", "analytics.bounds",
                "les bornes doivent être au moins une et strictement croissantes");
          continue;
        }
        k.column = g.bucket().field();
        break;
      }
      default:
        v.Add(field, "analytics.group_key", "clé de regroupement vide");
        continue;
    }
    c.group_keys.push_back(std::move(k));
  }
  if (spec.aggregates_size() == 0) {
    v.Add("aggregates", "analytics.aggregates", "au moins un agrégat est nécessaire");
  }
  std::map<std::string, int> names;
  for (int i = 0; i < spec.aggregates_size(); ++i) {
    const v1::Aggregate& a = spec.aggregates(i);
    std::string field = absl::StrCat("aggregates[", i, "]");
    if (!ValidColumnName(a.name())) {
      v.Add(field + ".name", "analytics.name", "nom de colonne obligatoire : a-z, 0-9 et _");
    } else if (!names.emplace(a.name(), i).second) {
      v.Add(field + ".name", "analytics.duplicate",
            absl::StrCat("la colonne '", a.name(), "' existe déjà"));
    }
    CompiledAggregate ca{a.name(), a.kind(), std::nullopt};
    switch (a.kind()) {
      case v1::COUNT:
      case v1::COUNT_DISTINCT:
        break;
      case v1::SUM:
      case v1::MIN:
      case v1::MAX:
      case v1::LAST_PER_SUBJECT_SUM: {
        auto source = ResolveSource(a.field(), c.category);
        if (!source.ok()) {
          v.Add(field + ".field", "analytics.field", std::string(source.status().message()));
          break;
        }
        if (!source->numeric()) {
          v.Add(field + ".field", "analytics.numeric",
                absl::StrCat("'", a.field(), "' n'est pas numérique"));
          break;
        }
        ca.source = std::move(*source);
        break;
      }
      case v1::RATIO:
        break;  // resolved below, once every name is known
      default:
        v.Add(field + ".kind", "analytics.kind", "type d'agrégat manquant ou inconnu");
    }
    c.aggregates.push_back(std::move(ca));
  }
  for (int i = 0; i < spec.aggregates_size(); ++i) {
    const v1::Aggregate& a = spec.aggregates(i);
    if (a.kind() != v1::RATIO) continue;
    std::string field = absl::StrCat("aggregates[", i, "]");
    auto n = names.find(a.numerator());
    auto d = names.find(a.denominator());
    if (n == names.end() || n->second == i || spec.aggregates(n->second).kind() == v1::RATIO) {
      v.Add(field + ".numerator", "analytics.ratio",
            "le numérateur doit nommer un autre agrégat, pas un ratio");
    } else {
      c.aggregates[i].numerator = n->second;
    }
    if (d == names.end() || d->second == i || spec.aggregates(d->second).kind() == v1::RATIO) {
      v.Add(field + ".denominator", "analytics.ratio",
            "le dénominateur doit nommer un autre agrégat, pas un ratio");
    } else {
      c.aggregates[i].denominator = d->second;
    }
  }
  if (!v.empty()) return v.ToStatus();
  return c;
}

}  // namespace rb::analytics
