// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/action_views.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "domain/action.h"
#include "domain/events.h"

namespace rb::proj::views {

namespace v1 = ::resorption::v1;

namespace {

constexpr char kActions[] = "actions";
constexpr char kSiteActions[] = "site_actions";

std::string LinkKey(std::string_view site_id, std::string_view action_id) {
  std::string key(site_id);
  key.push_back('\0');
  key.append(action_id);
  return key;
}

// The sites an action is linked to: those it lists while it is open and "sur site" (a closed
// action no longer counts for its sites, as in the site list's filter, signal and score).
std::set<std::string> SitesOf(const v1::Action& a) {
  std::set<std::string> sites;
  if (a.status() != v1::ACTION_STATUS_OPEN ||
      a.details().location().type() != v1::ACTION_LOCATION_TYPE_ON_SITE) {
    return sites;
  }
  for (const std::string& s : a.details().location().site_ids()) sites.insert(s);
  return sites;
}

absl::StatusOr<v1::Action> ParseAction(std::string_view bytes) {
  v1::Action a;
  if (!a.ParseFromString(std::string(bytes)))
    return absl::DataLossError("action_views: bad action");
  return a;
}

void AddIndicators(const v1::ActionIndicators& from, v1::ActionIndicators* to) {
  const auto* desc = from.GetDescriptor();
  const auto* refl = from.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const auto* f = desc->field(i);
    if (f->name() == "year" || f->name() == "updated_at_us") continue;
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_INT32) continue;
    refl->SetInt32(to, f, refl->GetInt32(*to, f) + refl->GetInt32(from, f));
  }
}

}  // namespace

std::vector<int32_t> DedicatedFinancingYears(const v1::Action& action) {
  std::vector<int32_t> years;
  for (const v1::ActionFinances& f : action.finances()) {
    for (const v1::FinanceLine& l : f.lines()) {
      if (l.type() == v1::FINANCE_TYPE_DEDICATED &&
          (l.amount_cents() > 0 || l.real_amount_cents() > 0)) {
        years.push_back(f.year());
        break;
      }
    }
  }
  std::sort(years.begin(), years.end());
  years.erase(std::unique(years.begin(), years.end()), years.end());
  return years;
}

absl::Status ActionViewsProjection::Apply(const rb::es::RecordedEvent& recorded,
                                          ViewWriter& w) const {
  constexpr std::string_view kPrefix = "action-";
  if (std::string_view(recorded.stream_id).substr(0, kPrefix.size()) != kPrefix) {
    return absl::OkStatus();
  }
  const std::string id = recorded.stream_id.substr(kPrefix.size());
  absl::StatusOr<rb::domain::Decoded<v1::ActionEvent>> event =
      rb::domain::ViewActionEvent(recorded);
  if (!event.ok()) return event.status();
  v1::Action before;
  absl::StatusOr<std::optional<std::string>> stored = w.Get(kActions, id);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    absl::StatusOr<v1::Action> parsed = ParseAction(**stored);
    if (!parsed.ok()) return parsed.status();
    before = *std::move(parsed);
  }
  v1::Action after = rb::domain::EvolveAction(before, **event);
  w.Put(kActions, id, rb::domain::DeterministicBytes(after));

  const std::set<std::string> old_sites = SitesOf(before);
  const std::set<std::string> new_sites = SitesOf(after);
  const std::string old_years = absl::StrJoin(DedicatedFinancingYears(before), ",");
  const std::string new_years = absl::StrJoin(DedicatedFinancingYears(after), ",");
  for (const std::string& s : old_sites) {
    if (!new_sites.count(s)) w.Delete(kSiteActions, LinkKey(s, id));
  }
  for (const std::string& s : new_sites) {
    if (!old_sites.count(s) || old_years != new_years)
      w.Put(kSiteActions, LinkKey(s, id), new_years);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Action> ActionQuery::GetAction(const std::string& action_id) const {
  absl::StatusOr<ViewReader> reader = engine_->Reader(kActionViewsProjection);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::optional<std::string>> bytes = reader->Get(kActions, action_id);
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return absl::NotFoundError(absl::StrCat("action ", action_id));
  return ParseAction(**bytes);
}

absl::StatusOr<v1::ListActionsResponse> ActionQuery::ListActions(
    const v1::ListActionsRequest& request) const {
  absl::StatusOr<ViewReader> reader = engine_->Reader(kActionViewsProjection);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> it = reader->NewIterator(kActions);
  if (!it.ok()) return it.status();
  v1::ListActionsResponse out;
  for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) {
    absl::StatusOr<v1::Action> a = ParseAction((*it)->value());
    if (!a.ok()) return a.status();
    if (!request.departement_code().empty() &&
        a->details().departement_code() != request.departement_code()) {
      continue;
    }
    if (request.open_only() && a->status() != v1::ACTION_STATUS_OPEN) continue;
    *out.add_actions() = *std::move(a);
  }
  absl::Status s = (*it)->status();
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<v1::ActionAggregatesResponse> ActionQuery::Aggregates(
    const v1::ActionAggregatesRequest& request) const {
  v1::ListActionsRequest all;
  all.set_departement_code(request.departement_code());
  absl::StatusOr<v1::ListActionsResponse> actions = ListActions(all);
  if (!actions.ok()) return actions.status();
  const bool by_topic = request.grouping() == v1::ACTION_GROUPING_TOPIC;
  // (year, departement, topic) -> aggregate; ordered, hence deterministic output.
  std::map<std::tuple<int32_t, std::string, int>, v1::ActionAggregate> groups;
  for (const v1::Action& a : actions->actions()) {
    std::set<int32_t> years;
    for (const auto& i : a.indicators()) years.insert(i.year());
    for (const auto& f : a.finances()) years.insert(f.year());
    std::vector<int> topics;
    if (by_topic) {
      for (int t : a.details().topics()) topics.push_back(t);
      std::sort(topics.begin(), topics.end());
      topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
    } else {
      topics.push_back(0);
    }
    for (int32_t year : years) {
      if (request.year() != 0 && year != request.year()) continue;
      for (int topic : topics) {
        const std::string dep = by_topic ? "" : a.details().departement_code();
        auto [it, fresh] = groups.try_emplace({year, dep, topic});
        v1::ActionAggregate& g = it->second;
        if (fresh) {
          g.set_year(year);
          g.set_departement_code(dep);
          g.set_topic(static_cast<v1::ActionTopic>(topic));
          g.mutable_indicators()->set_year(year);
          for (int type = v1::FINANCE_TYPE_STATE; type <= v1::FINANCE_TYPE_OTHER; ++type) {
            g.add_finances()->set_type(static_cast<v1::FinanceType>(type));
          }
        }
        g.set_actions(g.actions() + 1);
        for (const auto& i : a.indicators()) {
          if (i.year() == year) AddIndicators(i, g.mutable_indicators());
        }
        for (const auto& f : a.finances()) {
          if (f.year() != year) continue;
          for (const auto& l : f.lines()) {
            const int k = static_cast<int>(l.type()) - 1;
            if (k < 0 || k >= g.finances_size()) continue;
            auto* total = g.mutable_finances(k);
            total->set_amount_cents(total->amount_cents() + l.amount_cents());
            total->set_real_amount_cents(total->real_amount_cents() + l.real_amount_cents());
          }
        }
      }
    }
  }
  v1::ActionAggregatesResponse out;
  for (auto& [key, g] : groups) *out.add_aggregates() = std::move(g);
  return out;
}

absl::StatusOr<v1::SiteActions> ActionQuery::ForSite(const std::string& site_id) const {
  absl::StatusOr<ViewReader> reader = engine_->Reader(kActionViewsProjection);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> it = reader->NewIterator(kSiteActions);
  if (!it.ok()) return it.status();
  v1::SiteActions out;
  out.set_site_id(site_id);
  const std::string prefix = LinkKey(site_id, "");
  std::set<int32_t> years;
  for ((*it)->Seek(prefix); (*it)->Valid(); (*it)->Next()) {
    std::string_view key = (*it)->key();
    if (key.substr(0, prefix.size()) != prefix) break;
    out.add_action_ids(std::string(key.substr(prefix.size())));
    const std::string value((*it)->value());
    for (absl::string_view y : absl::StrSplit(value, ',', absl::SkipEmpty())) {
      int32_t year = 0;
      if (!absl::SimpleAtoi(y, &year)) {
        return absl::DataLossError("action_views: bad link");
      }
      years.insert(year);
    }
  }
  absl::Status s = (*it)->status();
  if (!s.ok()) return s;
  out.set_has_action(out.action_ids_size() > 0);
  out.set_has_dedicated_financing(!years.empty());
  for (int32_t y : years) out.add_dedicated_financing_years(y);
  return out;
}

}  // namespace rb::proj::views
