// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/history.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "domain/events.h"
#include "domain/site.h"
#include "projections/strings.h"
#include "projections/views/series_territory.h"

namespace rb::proj::views {

namespace v1 = ::resorption::v1;

namespace {

constexpr char kSites[] = "sites";
constexpr char kSnapshots[] = "snapshots";
constexpr char kTerritories[] = "territories";

constexpr char kCommunes[] = "communes";

// `territories`: c <commune code> 0x00 <site id>.
std::string SiteKey(std::string_view city_code, std::string_view site_id) {
  std::string key(1, 'c');
  key.append(city_code);
  key.push_back('\0');
  key.append(site_id);
  return key;
}

// `communes`: <e|d|r> <code> 0x00 <commune code>.
std::string CommuneKey(char level, std::string_view code, std::string_view city_code) {
  std::string key(1, level);
  key.append(code);
  key.push_back('\0');
  key.append(city_code);
  return key;
}

// Indexes `site` under its commune, and the commune under its EPCI, departement and region (once
// per batch and territory: `written` holds the territories a batch indexed).
void IndexTerritory(ViewWriter& w, const v1::Site& site,
                    absl::flat_hash_set<std::string>* written) {
  const v1::Territory& t = site.location().territory();
  if (t.city_code().empty()) return;
  w.Put(kTerritories, SiteKey(t.city_code(), site.id()), "");
  std::string territory = absl::StrCat(Av(t.city_code()), "/", Av(t.epci_code()), "/",
                                       Av(t.departement_code()), "/", Av(t.region_code()));
  if (!written->insert(std::move(territory)).second) return;
  if (!t.epci_code().empty()) w.Put(kCommunes, CommuneKey('e', t.epci_code(), t.city_code()), "");
  w.Put(kCommunes, CommuneKey('d', t.departement_code(), t.city_code()), "");
  w.Put(kCommunes, CommuneKey('r', t.region_code(), t.city_code()), "");
}

// The fold of the versions of `index` with valid_at <= v and position <= p.
absl::StatusOr<v1::SiteAsOf> FoldAsOf(const ViewReader& reader, const rb::es::EventStore& log,
                                      const std::string& site_id, const v1::SiteVersionIndex& index,
                                      int64_t v, uint64_t p) {
  v1::SiteAsOf out;
  const int n = index.positions_size();
  uint64_t max_position = 0;
  for (uint64_t position : index.positions()) max_position = std::max(max_position, position);
  if (n > 0 && index.valid_at_us(n - 1) <= v && max_position <= p) {
    out.set_found(true);
    *out.mutable_site() = index.tail();
    out.set_versions(static_cast<uint32_t>(n));
    return out;
  }
  v1::Site state;
  int from = 0;
  uint32_t folded = 0;
  for (int i = index.snapshots_size() - 1; i >= 0; --i) {
    const auto& s = index.snapshots(i);
    if (s.valid_at_us() > v || s.max_position() > p) continue;
    absl::StatusOr<std::optional<std::string>> bytes =
        reader.Get(kSnapshots, VersionKey(site_id, s.valid_at_us(), s.position()));
    if (!bytes.ok()) return bytes.status();
    // A snapshot deleted since the record was read (a retroactive insertion): fold from further
    // back.
    if (!bytes->has_value()) continue;
    if (!state.ParseFromString(**bytes)) return absl::DataLossError("history: bad snapshot");
    from = static_cast<int>(s.count());
    folded = s.count();
    break;
  }
  for (int i = from; i < n; ++i) {
    if (index.valid_at_us(i) > v) break;
    const uint64_t position = index.positions(i);
    if (position > p) continue;
    absl::StatusOr<v1::SiteEvent> e =
        ReadVersion([&log](uint64_t at) { return log.ReadEvent(at); }, site_id, position);
    if (!e.ok()) return e.status();
    state = rb::domain::EvolveSite(std::move(state), *e);
    ++folded;
  }
  out.set_found(folded > 0);
  if (folded > 0) *out.mutable_site() = std::move(state);
  out.set_versions(folded);
  return out;
}

bool StatusMatches(v1::SiteStatus status, v1::SiteStatusFilter filter) {
  switch (filter) {
    case v1::SITE_STATUS_FILTER_CLOSED:
      return status == v1::SITE_STATUS_CLOSED;
    case v1::SITE_STATUS_FILTER_ALL:
      return status == v1::SITE_STATUS_OPEN || status == v1::SITE_STATUS_CLOSED;
    default:
      return status == v1::SITE_STATUS_OPEN;
  }
}

}  // namespace

namespace {

// The deferred work of a batch: the typed version records of the sites it changed
// (SiteVersionLog::Batch), each written once at Flush.
class HistoryBatch final : public BatchState {
 public:
  absl::Status Flush(ViewWriter& w) override {
    log.Flush(w);
    return absl::OkStatus();
  }
  size_t ApproximateBytes() const override { return log.ApproximateBytes(); }

  SiteVersionLog::Batch log;
  // The territories (commune, EPCI, departement, region codes) whose `communes` keys the batch
  // wrote.
  absl::flat_hash_set<std::string> territories;
};

}  // namespace

absl::Status HistoryProjection::Apply(const rb::es::RecordedEvent& recorded, ViewWriter& w) const {
  if (SiteIdViewOfStream(recorded.stream_id).empty()) return absl::OkStatus();
  absl::StatusOr<rb::domain::Decoded<v1::SiteEvent>> event = rb::domain::ViewSiteEvent(recorded);
  if (!event.ok()) return event.status();
  return WithBatchState<HistoryBatch>(w, [&](HistoryBatch& batch) -> absl::Status {
    absl::StatusOr<SiteVersionLog::Change> change = log_.Add(w, batch.log, recorded, **event);
    if (!change.ok()) return change.status();
    const std::string* last_city = &change->before_city_code;
    for (size_t i = 0; i < change->size(); ++i) {
      const v1::Site& s = change->state(i);
      if (s.location().territory().city_code() != *last_city) {
        IndexTerritory(w, s, &batch.territories);
      }
      last_city = &s.location().territory().city_code();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<uint64_t> HistoryQuery::KnownAtPosition(int64_t known_at_us) const {
  if (known_at_us == 0) return store_->GetHead().position;
  return store_->PositionAtOrBefore(known_at_us);
}

absl::StatusOr<v1::SiteAsOf> HistoryQuery::GetSiteAsOf(
    const v1::GetSiteAsOfRequest& request) const {
  if (request.site_id().empty()) return absl::InvalidArgumentError("site_id: required");
  absl::StatusOr<uint64_t> p = KnownAtPosition(request.known_at_us());
  if (!p.ok()) return p.status();
  absl::StatusOr<ViewReader> reader = engine_->Reader(kHistoryProjection);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::optional<std::string>> stored = reader->Get(kSites, request.site_id());
  if (!stored.ok()) return stored.status();
  v1::SiteAsOf out;
  if (stored->has_value()) {
    v1::SiteVersionIndex index;
    if (!ParseSiteVersionIndex(**stored, &index)) {
      return absl::DataLossError("history: bad site record");
    }
    const int64_t v =
        request.valid_at_us() == 0 ? std::numeric_limits<int64_t>::max() : request.valid_at_us();
    absl::StatusOr<v1::SiteAsOf> folded =
        FoldAsOf(*reader, *store_, request.site_id(), index, v, *p);
    if (!folded.ok()) return folded.status();
    out = *std::move(folded);
  }
  out.set_known_at_position(*p);
  return out;
}

namespace {

// The letter of the `territories` index for a territory level (commune, EPCI, departement,
// region); nullopt for the levels answered without that index (nation, zone, unspecified).
// INVALID_ARGUMENT when an indexed level comes without its code.
absl::StatusOr<std::optional<char>> TerritoryIndexLevel(const v1::TerritoryRef& t) {
  std::optional<char> level;
  switch (t.level()) {
    case v1::TERRITORY_LEVEL_COMMUNE:
      level = 'c';
      break;
    case v1::TERRITORY_LEVEL_EPCI:
      level = 'e';
      break;
    case v1::TERRITORY_LEVEL_DEPARTEMENT:
      level = 'd';
      break;
    case v1::TERRITORY_LEVEL_REGION:
      level = 'r';
      break;
    default:
      break;
  }
  if (level && t.code().empty()) return absl::InvalidArgumentError("territory.code: required");
  return level;
}

}  // namespace

namespace {

// The keys of `space` from `prefix` on, without the prefix, in key order.
absl::Status ScanSuffixes(const ViewReader& reader, const char* space, const std::string& prefix,
                          std::vector<std::string>* out) {
  absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> it = reader.NewIterator(space);
  if (!it.ok()) return it.status();
  for ((*it)->Seek(prefix); (*it)->Valid(); (*it)->Next()) {
    std::string_view key = (*it)->key();
    if (key.substr(0, prefix.size()) != prefix) break;
    out->emplace_back(key.substr(prefix.size()));
  }
  return (*it)->status();
}

absl::StatusOr<std::vector<std::string>> AllSites(const ViewReader& reader) {
  std::vector<std::string> ids;
  if (absl::Status s = ScanSuffixes(reader, kSites, "", &ids); !s.ok()) return s;
  return ids;
}

// The sites ever located in a commune of territory (`level`, `code`), by id, deduplicated.
absl::StatusOr<std::vector<std::string>> CandidateSites(const ViewReader& reader, char level,
                                                        const std::string& code) {
  std::vector<std::string> communes;
  if (level == 'c') {
    communes.push_back(code);
  } else if (absl::Status s =
                 ScanSuffixes(reader, kCommunes, CommuneKey(level, code, ""), &communes);
             !s.ok()) {
    return s;
  }
  std::vector<std::string> ids;
  for (const std::string& commune : communes) {
    if (absl::Status s = ScanSuffixes(reader, kTerritories, SiteKey(commune, ""), &ids); !s.ok()) {
      return s;
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace

absl::StatusOr<v1::ListSitesAtResponse> HistoryQuery::ListSitesAt(
    const v1::ListSitesAtRequest& request) const {
  if (absl::Status s = TerritoryIndexLevel(request.territory()).status(); !s.ok()) return s;
  absl::StatusOr<uint64_t> p = KnownAtPosition(request.known_at_us());
  if (!p.ok()) return p.status();
  return ListSitesAtPosition(request, *p);
}

absl::StatusOr<v1::ListSitesAtResponse> HistoryQuery::ListSitesAtPosition(
    const v1::ListSitesAtRequest& request, uint64_t known_at_position) const {
  const v1::TerritoryRef& t = request.territory();
  absl::StatusOr<std::optional<char>> indexed = TerritoryIndexLevel(t);
  if (!indexed.ok()) return indexed.status();
  const std::optional<char> level = *indexed;
  absl::StatusOr<ViewReader> reader = engine_->Reader(kHistoryProjection);
  if (!reader.ok()) return reader.status();

  // Candidate site ids: the sites of the commune, or of the communes indexed under the EPCI,
  // departement or region; or every site.
  absl::StatusOr<std::vector<std::string>> candidates =
      level ? CandidateSites(*reader, *level, t.code()) : AllSites(*reader);
  if (!candidates.ok()) return candidates.status();
  const std::vector<std::string>& ids = *candidates;
  const int64_t v =
      request.valid_at_us() == 0 ? std::numeric_limits<int64_t>::max() : request.valid_at_us();
  v1::ListSitesAtResponse out;
  out.set_known_at_position(known_at_position);
  for (const std::string& id : ids) {
    absl::StatusOr<std::optional<std::string>> stored = reader->Get(kSites, id);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) continue;
    v1::SiteVersionIndex index;
    if (!ParseSiteVersionIndex(**stored, &index)) {
      return absl::DataLossError("history: bad site record");
    }
    absl::StatusOr<v1::SiteAsOf> s = FoldAsOf(*reader, *store_, id, index, v, known_at_position);
    if (!s.ok()) return s.status();
    if (!s->found() || !StatusMatches(s->site().status(), request.status())) continue;
    if (!SiteInTerritory(s->site(), t)) continue;
    *out.add_sites() = std::move(*s->mutable_site());
  }
  return out;
}

bool SiteInTerritory(const v1::Site& site, const v1::TerritoryRef& territory) {
  const v1::Territory& t = site.location().territory();
  switch (territory.level()) {
    case v1::TERRITORY_LEVEL_COMMUNE:
      return t.city_code() == territory.code();
    case v1::TERRITORY_LEVEL_EPCI:
      return t.epci_code() == territory.code();
    case v1::TERRITORY_LEVEL_DEPARTEMENT:
      return t.departement_code() == territory.code();
    case v1::TERRITORY_LEVEL_REGION:
      return t.region_code() == territory.code();
    case v1::TERRITORY_LEVEL_ZONE:
      return ZoneCodeOfDepartement(t.departement_code()) == territory.code();
    default:
      return true;
  }
}

}  // namespace rb::proj::views
