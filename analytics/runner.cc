#include "analytics/runner.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "domain/action.h"
#include "domain/events.h"
#include "domain/geo.h"
#include "domain/site.h"

namespace rb::analytics {

namespace v1 = resorption::v1;

namespace {

constexpr size_t kChunk = 16384;

struct Accumulator {
  double count = 0;
  std::set<std::string> subjects;
  double sum = 0;
  bool has = false;
  double min = 0, max = 0;
  std::map<std::string, double> last;  // subject -> last value
};

using Groups = std::map<std::vector<std::string>, std::vector<Accumulator>>;

absl::CivilDay ValidDay(const rb::es::RecordedEvent& e) {
  return absl::ToCivilDay(absl::FromUnixMicros(e.valid_at_us), absl::UTCTimeZone());
}

void EventValues(EventField f, const rb::es::RecordedEvent& e, std::vector<Value>* out) {
  switch (f) {
    case EventField::kType:
      out->push_back(Value{false, 0, e.type});
      return;
    case EventField::kValidYear: {
      double y = static_cast<double>(ValidDay(e).year());
      out->push_back(Value{true, y, FormatNumber(y)});
      return;
    }
    case EventField::kValidMonth: {
      absl::CivilDay d = ValidDay(e);
      out->push_back(Value{false, 0, absl::StrFormat("%04d-%02d", d.year(), d.month())});
      return;
    }
    case EventField::kActorRole:
      out->push_back(Value{false, 0, e.metadata.actor_role});
      return;
    case EventField::kActorOrganisation:
      out->push_back(Value{false, 0, e.metadata.actor_organisation});
      return;
  }
}

void Collect(const Source& s, const rb::es::RecordedEvent& e,
             const google::protobuf::Message& state, std::vector<Value>* out) {
  out->clear();
  if (s.from_event) {
    EventValues(s.event_field, e, out);
  } else {
    s.path->Collect(state, out);
  }
}

int Compare(const Value& a, const Value& b) {
  if (a.numeric && b.numeric) return a.number < b.number ? -1 : (a.number > b.number ? 1 : 0);
  return a.text.compare(b.text) < 0 ? -1 : (a.text == b.text ? 0 : 1);
}

bool IsSet(const Value& v) {
  if (v.numeric) return v.number != 0;
  if (v.text.size() > 12 && v.text.compare(v.text.size() - 12, 12, "_UNSPECIFIED") == 0) {
    return false;
  }
  return !v.text.empty();
}

bool Holds(const CompiledCondition& c, const std::vector<Value>& values) {
  auto any = [&](auto pred) {
    for (const Value& v : values) {
      if (pred(v)) return true;
    }
    return false;
  };
  switch (c.op) {
    case v1::EQ:
      return any([&](const Value& v) { return Compare(v, c.operands[0]) == 0; });
    case v1::NE:
      return !any([&](const Value& v) { return Compare(v, c.operands[0]) == 0; });
    case v1::LT:
      return any([&](const Value& v) { return Compare(v, c.operands[0]) < 0; });
    case v1::LE:
      return any([&](const Value& v) { return Compare(v, c.operands[0]) <= 0; });
    case v1::GT:
      return any([&](const Value& v) { return Compare(v, c.operands[0]) > 0; });
    case v1::GE:
      return any([&](const Value& v) { return Compare(v, c.operands[0]) >= 0; });
    case v1::IN:
    case v1::NOT_IN: {
      bool in = any([&](const Value& v) {
        for (const Value& o : c.operands) {
          if (Compare(v, o) == 0) return true;
        }
        return false;
      });
      return c.op == v1::IN ? in : !in;
    }
    case v1::IS_SET:
      return any(IsSet);
    case v1::IS_UNSET:
      return !any(IsSet);
    case v1::ONLY:
      return !values.empty() &&
             !any([&](const Value& v) { return Compare(v, c.operands[0]) != 0; });
    default:
      return false;
  }
}

std::string BucketLabel(double v, const std::vector<double>& bounds) {
  if (v < bounds.front()) return absl::StrCat("< ", FormatNumber(bounds.front()));
  for (size_t i = 1; i < bounds.size(); ++i) {
    if (v < bounds[i]) {
      return absl::StrCat("[", FormatNumber(bounds[i - 1]), ", ", FormatNumber(bounds[i]), ")");
    }
  }
  return absl::StrCat(">= ", FormatNumber(bounds.back()));
}

// The territory codes of the subject at `level`.
std::string TerritoryOf(const CompiledSpec& spec, v1::TerritoryLevel level,
                        const google::protobuf::Message& state) {
  if (level == v1::TERRITORY_LEVEL_NATION) return "FR";
  if (level == v1::TERRITORY_LEVEL_ZONE) {
    std::string dep =
        spec.category == "site"
            ? static_cast<const v1::Site&>(state).location().territory().departement_code()
            : static_cast<const v1::Action&>(state).details().departement_code();
    const auto* d = rb::domain::geo::Geography::Get().FindDepartement(dep);
    if (d == nullptr) return "";
    return d->zone == rb::domain::geo::Zone::kMetro ? "hexagone" : "outre_mer";
  }
  if (spec.category == "site") {
    const auto& t = static_cast<const v1::Site&>(state).location().territory();
    switch (level) {
      case v1::TERRITORY_LEVEL_COMMUNE:
        return t.city_code();
      case v1::TERRITORY_LEVEL_EPCI:
        return t.epci_code();
      case v1::TERRITORY_LEVEL_DEPARTEMENT:
        return t.departement_code();
      case v1::TERRITORY_LEVEL_REGION:
        return t.region_code();
      default:
        return "";
    }
  }
  const std::string& dep = static_cast<const v1::Action&>(state).details().departement_code();
  if (level == v1::TERRITORY_LEVEL_DEPARTEMENT) return dep;
  const auto* d = rb::domain::geo::Geography::Get().FindDepartement(dep);
  return d == nullptr ? "" : std::string(d->region);
}

class Run {
 public:
  Run(const rb::es::EventStore& store, const CompiledSpec& spec) : spec_(spec), store_(store) {}

  absl::Status Apply(const rb::es::RecordedEvent& e) {
    const std::string subject = e.stream_id.substr(spec_.category.size() + 1);
    const google::protobuf::Message* state;
    if (spec_.category == "site") {
      auto ev = rb::domain::DecodeSiteEvent(e);
      if (!ev.ok()) return ev.status();
      v1::Site& s = sites_[subject];
      int64_t& latest = latest_valid_at_us_[subject];
      if (s.status() != v1::SITE_STATUS_UNSPECIFIED && e.valid_at_us < latest) {
        // A retroactive correction: the site right after it (as known once it is recorded) is
        // its stream folded in valid order, the views' rule; the correction does not overwrite
        // the later versions.
        absl::Status refolded = Refold(e, &s);
        if (!refolded.ok()) return refolded;
        state = &s;
      } else {
        s = rb::domain::EvolveSite(std::move(s), *ev);
        latest = e.valid_at_us;
        state = &s;
      }
    } else {
      auto ev = rb::domain::DecodeActionEvent(e);
      if (!ev.ok()) return ev.status();
      v1::Action& a = actions_[subject];
      a = rb::domain::EvolveAction(std::move(a), *ev);
      state = &a;
    }
    if (!TypeSelected(e.type)) return absl::OkStatus();
    for (const auto& c : spec_.conditions) {
      Collect(c.source, e, *state, &scratch_);
      if (!Holds(c, scratch_)) return absl::OkStatus();
    }
    ++matched_;
    // Group keys: the cartesian product of each key's values.
    std::vector<std::vector<std::string>> keys(1);
    for (const auto& k : spec_.group_keys) {
      std::vector<std::string> values;
      switch (k.kind) {
        case CompiledGroupKey::Kind::kTerritory:
          values.push_back(TerritoryOf(spec_, k.level, *state));
          break;
        case CompiledGroupKey::Kind::kValidDate: {
          absl::CivilDay d = ValidDay(e);
          values.push_back(k.date_part == v1::MONTH
                               ? absl::StrFormat("%04d-%02d", d.year(), d.month())
                               : absl::StrFormat("%04d", d.year()));
          break;
        }
        case CompiledGroupKey::Kind::kField:
          Collect(k.source, e, *state, &scratch_);
          for (const Value& v : scratch_) values.push_back(v.text);
          break;
        case CompiledGroupKey::Kind::kBucket:
          Collect(k.source, e, *state, &scratch_);
          for (const Value& v : scratch_) values.push_back(BucketLabel(v.number, k.bounds));
          break;
      }
      if (values.empty()) values.push_back("");
      std::vector<std::vector<std::string>> next;
      for (const auto& prefix : keys) {
        for (const auto& v : values) {
          next.push_back(prefix);
          next.back().push_back(v);
        }
      }
      keys = std::move(next);
    }
    // Aggregate inputs, computed once per event.
    std::vector<std::vector<Value>> inputs(spec_.aggregates.size());
    for (size_t i = 0; i < spec_.aggregates.size(); ++i) {
      if (spec_.aggregates[i].source) Collect(*spec_.aggregates[i].source, e, *state, &inputs[i]);
    }
    std::set<std::vector<std::string>> seen;
    for (const auto& key : keys) {
      if (!seen.insert(key).second) continue;
      auto [it, inserted] = groups_.try_emplace(key);
      if (inserted) it->second.resize(spec_.aggregates.size());
      for (size_t i = 0; i < spec_.aggregates.size(); ++i) {
        Accumulator& acc = it->second[i];
        switch (spec_.aggregates[i].kind) {
          case v1::COUNT:
            acc.count += 1;
            break;
          case v1::COUNT_DISTINCT:
            acc.subjects.insert(subject);
            break;
          case v1::SUM:
            for (const Value& v : inputs[i]) acc.sum += v.number;
            break;
          case v1::MIN:
          case v1::MAX:
            for (const Value& v : inputs[i]) {
              if (!acc.has || v.number < acc.min) acc.min = v.number;
              if (!acc.has || v.number > acc.max) acc.max = v.number;
              acc.has = true;
            }
            break;
          case v1::LAST_PER_SUBJECT_SUM:
            if (inputs[i].empty()) {
              acc.last.erase(subject);
            } else {
              double total = 0;
              for (const Value& v : inputs[i]) total += v.number;
              acc.last[subject] = total;
            }
            break;
          default:
            break;
        }
      }
    }
    return absl::OkStatus();
  }

  void Finish(v1::ProjectionResult* r) const {
    for (const auto& k : spec_.group_keys) r->add_group_columns(k.column);
    for (const auto& a : spec_.aggregates) r->add_aggregate_columns(a.name);
    for (const auto& [key, accs] : groups_) {
      v1::ResultRow* row = r->add_rows();
      for (const auto& g : key) row->add_group(g);
      std::vector<double> values(accs.size());
      for (size_t i = 0; i < accs.size(); ++i) {
        const Accumulator& acc = accs[i];
        switch (spec_.aggregates[i].kind) {
          case v1::COUNT:
            values[i] = acc.count;
            break;
          case v1::COUNT_DISTINCT:
            values[i] = static_cast<double>(acc.subjects.size());
            break;
          case v1::SUM:
            values[i] = acc.sum;
            break;
          case v1::MIN:
            values[i] = acc.has ? acc.min : 0;
            break;
          case v1::MAX:
            values[i] = acc.has ? acc.max : 0;
            break;
          case v1::LAST_PER_SUBJECT_SUM: {
            double total = 0;
            for (const auto& [s, v] : acc.last) total += v;
            values[i] = total;
            break;
          }
          default:
            break;
        }
      }
      for (size_t i = 0; i < accs.size(); ++i) {
        const auto& a = spec_.aggregates[i];
        if (a.kind == v1::RATIO) {
          double den = values[a.denominator];
          values[i] = den == 0 ? 0 : values[a.numerator] / den;
        }
      }
      for (size_t i = 0; i < values.size(); ++i) {
        double scale = spec_.spec.aggregates(static_cast<int>(i)).scale();
        row->add_values(scale == 0 ? values[i] : values[i] * scale);
      }
    }
    r->set_events_matched(matched_);
  }

 private:
  bool TypeSelected(const std::string& type) const {
    if (spec_.exact_types.empty() && spec_.type_prefixes.empty()) return true;
    for (const auto& t : spec_.exact_types) {
      if (t == type) return true;
    }
    for (const auto& p : spec_.type_prefixes) {
      if (type.rfind(p, 0) == 0) return true;
    }
    return false;
  }

  const CompiledSpec& spec_;
  // The stream of `e`'s site up to `e`, folded in valid order into `*site`.
  absl::Status Refold(const rb::es::RecordedEvent& e, v1::Site* site) {
    std::vector<rb::domain::LoggedSiteEvent> events;
    uint64_t from = 0;
    while (true) {
      absl::StatusOr<std::vector<rb::es::RecordedEvent>> chunk =
          store_.ReadStream(e.stream_id, from, rb::es::Direction::kForward, kChunk);
      if (!chunk.ok()) return chunk.status();
      for (const rb::es::RecordedEvent& r : *chunk) {
        if (r.position > e.position) break;
        absl::StatusOr<v1::SiteEvent> past = rb::domain::DecodeSiteEvent(r);
        if (!past.ok()) return past.status();
        events.push_back({r.position, *std::move(past)});
      }
      if (chunk->size() < kChunk || chunk->back().position >= e.position) break;
      from = chunk->back().revision + 1;
    }
    *site = rb::domain::FoldSiteInValidOrder(std::move(events));
    return absl::OkStatus();
  }

  const rb::es::EventStore& store_;
  std::map<std::string, v1::Site> sites_;
  std::map<std::string, int64_t> latest_valid_at_us_;
  std::map<std::string, v1::Action> actions_;
  Groups groups_;
  std::vector<Value> scratch_;
  uint64_t matched_ = 0;
};

}  // namespace

std::string RowsHash(const v1::ProjectionResult& result) {
  std::string bytes;
  for (const auto& row : result.rows()) {
    for (const auto& g : row.group()) absl::StrAppend(&bytes, g.size(), ":", g);
    absl::StrAppend(&bytes, "|");
    for (double v : row.values()) absl::StrAppend(&bytes, FormatNumber(v), ";");
    absl::StrAppend(&bytes, "\n");
  }
  return rb::es::ToHex(rb::es::Sha256(bytes));
}

absl::StatusOr<v1::ProjectionResult> RunProjection(const rb::es::EventStore& store,
                                                   const CompiledSpec& spec,
                                                   const RunOptions& options) {
  const rb::es::Head head = store.GetHead();
  uint64_t target = options.log_position == 0 ? head.position : options.log_position;
  if (target > head.position) {
    return absl::FailedPreconditionError(absl::StrCat(
        "log_position ", target, " is beyond the head of the log (", head.position, ")"));
  }
  v1::ProjectionResult result;
  result.set_name(spec.spec.name());
  result.set_spec_hash(spec.spec_hash);
  result.set_log_position(target);
  std::string log_hash(32, '\0');
  if (target > 0) {
    auto at = store.ReadAll(target, 1, rb::es::LogFilter());
    if (!at.ok()) return at.status();
    if (at->events.empty() || at->events[0].position != target) {
      return absl::DataLossError(absl::StrCat("no event at position ", target));
    }
    log_hash = at->events[0].log_hash;
  }
  result.set_log_hash(rb::es::ToHex(log_hash));

  Run run(store, spec);
  rb::es::LogFilter filter;
  filter.categories = {spec.category};
  uint64_t next = 1, examined_total = 0;
  absl::Status apply_status;
  bool cancelled = false;
  while (next <= target && apply_status.ok() && !cancelled) {
    size_t budget = static_cast<size_t>(std::min<uint64_t>(kChunk, target - next + 1));
    auto r = store.ScanAll(next, filter, budget, [&](const rb::es::RecordedEvent& e) {
      apply_status = run.Apply(e);
      return apply_status.ok();
    });
    if (!r.ok()) return r.status();
    if (!apply_status.ok()) break;
    examined_total += r->next_position - next;
    next = r->next_position;
    if (options.progress) options.progress(next - 1, target);
    if (options.cancel != nullptr && options.cancel->load()) cancelled = true;
    if (r->end_of_log) break;
  }
  if (!apply_status.ok()) return apply_status;
  if (cancelled) return absl::CancelledError("the custom projection was cancelled");
  result.set_events_examined(examined_total);
  run.Finish(&result);
  result.set_rows_hash(RowsHash(result));
  return result;
}

}  // namespace rb::analytics
