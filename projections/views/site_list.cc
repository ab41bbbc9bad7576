// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/site_list.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "domain/action.h"
#include "domain/dates.h"
#include "domain/events.h"
#include "domain/geo.h"
#include "domain/site.h"
#include "google/protobuf/arena.h"
#include "projections/batch_arena.h"
#include "projections/last_lookup.h"
#include "projections/strings.h"
#include "projections/views/site_filter.h"

namespace rb::views {
namespace {

namespace pb = resorption::v1;
using rb::proj::Av;

constexpr char kSites[] = "sites";
constexpr char kActions[] = "actions";
constexpr char kIndex[] = "index";
constexpr char kMeta[] = "meta";
constexpr char kTerritories[] = "territories";
constexpr char kMaxValidKey[] = "max_valid_at_us";
constexpr char kSiteStreamPrefix[] = "site-";
constexpr char kActionStreamPrefix[] = "action-";

std::string Hex(uint64_t v, int width) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(width, '0');
  for (int i = width - 1; i >= 0; --i, v >>= 4) s[i] = kDigits[v & 0xf];
  return s;
}

char SortChar(pb::SiteSortField f) {
  switch (f) {
    case pb::SITE_SORT_FIELD_POPULATION:
      return 'p';
    case pb::SITE_SORT_FIELD_COMMUNE:
      return 'c';
    case pb::SITE_SORT_FIELD_PRIORITY:
      return 's';
    default:
      return 'u';
  }
}

// The population sort key of a site without a count: below any count. An ascending list visits
// these keys after all the others (MergedIndex's tail), so that they come last in both directions.
std::string NoPopulationKey() { return Hex(0, 8); }

std::string SortKey(const pb::Site& s, char sort) {
  switch (sort) {
    case 'p':
      return s.population().has_total() ? Hex(static_cast<uint64_t>(s.population().total()) + 1, 8)
                                        : NoPopulationKey();
    case 'c':
      return absl::StrCat(rb::domain::geo::NormalizeName(s.location().territory().city_name()),
                          "\x01", s.location().territory().city_code());
    default:
      return Hex(static_cast<uint64_t>(s.updated_at_us()) ^ (uint64_t{1} << 63), 16);
  }
}

std::string Prefix(char level, std::string_view code, char state, char sort) {
  std::string p(1, level);
  p.append(code);
  p.push_back('\0');
  p.push_back(state);
  p.push_back(sort);
  return p;
}

template <typename M>
absl::StatusOr<M> Load(rb::proj::ViewWriter& w, std::string_view space, std::string_view key) {
  absl::StatusOr<std::optional<std::string>> v = w.Get(space, key);
  if (!v.ok()) return v.status();
  M m;
  if (v->has_value() && !m.ParseFromString(**v)) {
    return absl::DataLossError(
        absl::StrCat("site_list: undecodable ", Av(space), " record ", Av(key)));
  }
  return m;
}

// Sites an action lists while it is open and "sur site": site id -> dedicated financing.
std::map<std::string, bool> Links(const pb::Action& a) {
  std::map<std::string, bool> links;
  if (a.status() != pb::ACTION_STATUS_OPEN ||
      a.details().location().type() != pb::ACTION_LOCATION_TYPE_ON_SITE) {
    return links;
  }
  bool dedicated = false;
  for (const auto& year : a.finances()) {
    for (const auto& line : year.lines()) {
      if (line.type() == pb::FINANCE_TYPE_DEDICATED &&
          (line.amount_cents() > 0 || line.real_amount_cents() > 0)) {
        dedicated = true;
      }
    }
  }
  for (const std::string& id : a.details().location().site_ids()) links[id] = dedicated;
  return links;
}

// The fields of a site that filters, sorts and the priority score read: the value of each index
// key, so that a listing reads the full record only for the rows it returns.
// Fills `k` (cleared first) with the skeleton of `s`.
void FillSkeleton(const pb::Site& s, pb::Site& k) {
  k.Clear();
  k.set_id(s.id());
  k.set_status(s.status());
  k.set_name(s.name());
  *k.mutable_location()->mutable_territory() = s.location().territory();
  k.mutable_location()->mutable_address()->set_label(s.location().address().label());
  if (s.location().address().has_coordinates()) {
    *k.mutable_location()->mutable_address()->mutable_coordinates() =
        s.location().address().coordinates();
  }
  k.mutable_ownership()->set_owner_type(s.ownership().owner_type());
  k.mutable_census()->set_status(s.census().status());
  k.set_field_type(s.field_type());
  if (s.population().has_total()) k.mutable_population()->set_total(s.population().total());
  if (s.population().has_minors()) k.mutable_population()->set_minors(s.population().minors());
  if (s.population().has_households()) {
    k.mutable_population()->set_households(s.population().households());
  }
  *k.mutable_origins() = s.origins();
  k.set_living_conditions_version(s.living_conditions_version());
  if (s.has_living_conditions_v1()) *k.mutable_living_conditions_v1() = s.living_conditions_v1();
  if (s.has_living_conditions_v2()) *k.mutable_living_conditions_v2() = s.living_conditions_v2();
  k.mutable_justice()->set_justice_procedure(s.justice().justice_procedure());
  k.mutable_police()->set_status(s.police().status());
  k.mutable_administrative_order()->set_evacuation_under_time_limit(
      s.administrative_order().evacuation_under_time_limit());
  k.mutable_insalubrity_order()->set_insalubrity_order(s.insalubrity_order().insalubrity_order());
  k.mutable_reinstallation()->set_is_reinstallation(s.reinstallation().is_reinstallation());
  k.set_heatwave(s.heatwave());
  k.set_resorption_target(s.resorption_target());
  if (s.has_closure()) {
    k.mutable_closure()->set_cause(s.closure().cause());
    *k.mutable_closure()->mutable_closed_at() = s.closure().closed_at();
  }
  k.set_updated_at_us(s.updated_at_us());
  k.set_created_at_us(s.created_at_us());
}

std::string IndexValue(const pb::SiteListRecord& rec) {
  // One record per thread, cleared and refilled: Clear keeps its sub-messages and strings, so a
  // re-index allocates nothing once the first sites have been seen.
  thread_local pb::SiteListRecord v;
  FillSkeleton(rec.site(), *v.mutable_site());
  *v.mutable_actions() = rec.actions();
  return rb::domain::DeterministicBytes(v);
}

// The `territories` keys of a site's territory: its region, EPCI and commune, each with its
// departement, and its departement itself, even empty (<level><code>\0<departement>).
std::vector<std::string> TerritoryDepartementKeys(const pb::Territory& t) {
  std::vector<std::string> keys;
  const std::pair<char, const std::string*> levels[] = {{'r', &t.region_code()},
                                                        {'e', &t.epci_code()},
                                                        {'c', &t.city_code()},
                                                        {'d', &t.departement_code()}};
  for (const auto& [level, code] : levels) {
    if (code->empty() && level != 'd') continue;
    keys.push_back(absl::StrCat(std::string(1, level), Av(*code), std::string(1, '\0'),
                                Av(t.departement_code())));
  }
  return keys;
}

// Rewrites the index keys of a site whose record changed from `before` to `after`. The
// `territories` keys of its territory are written once per batch: `written` holds the territories
// (their four codes) the batch wrote them for.
void Reindex(const pb::SiteListRecord& before, const pb::SiteListRecord& after,
             rb::proj::ViewWriter& w, absl::flat_hash_set<std::string>* written) {
  const std::vector<std::string> old_keys = SiteIndexKeys(before.site());
  const std::vector<std::string> new_keys = SiteIndexKeys(after.site());
  std::vector<std::string> gone;
  std::set_difference(old_keys.begin(), old_keys.end(), new_keys.begin(), new_keys.end(),
                      std::back_inserter(gone));
  for (const std::string& k : gone) w.Delete(kIndex, k);
  if (new_keys.empty()) return;
  const pb::Territory& t = after.site().location().territory();
  const pb::Territory& was = before.site().location().territory();
  if (old_keys.empty() || t.region_code() != was.region_code() ||
      t.epci_code() != was.epci_code() || t.city_code() != was.city_code() ||
      t.departement_code() != was.departement_code()) {
    std::string codes = absl::StrCat(Av(t.city_code()), "/", Av(t.epci_code()), "/",
                                     Av(t.departement_code()), "/", Av(t.region_code()));
    if (written->insert(std::move(codes)).second) {
      for (const std::string& k : TerritoryDepartementKeys(t)) w.Put(kTerritories, k, "");
    }
  }
  const std::string value = IndexValue(after);
  const bool same_value = !old_keys.empty() && IndexValue(before) == value;
  for (const std::string& k : new_keys) {
    if (same_value && std::binary_search(old_keys.begin(), old_keys.end(), k)) continue;
    w.Put(kIndex, k, value);
  }
}

// The deferred work of a batch: the site records it changed, typed, with the record committed
// before the batch (what the stored index keys were made from), and the latest valid date. Flush
// writes each record once and re-indexes each site once, from its committed record to its final
// one: the same views as re-indexing at every event (the keys of intermediate states appear and
// disappear within the batch), whatever the batch boundaries.
class SiteListBatch final : public rb::proj::BatchState {
 public:
  // Both records live on the batch's arena (freed at once with the batch).
  struct Entry {
    pb::SiteListRecord* committed;
    pb::SiteListRecord* current;
  };

  absl::StatusOr<Entry*> Site(rb::proj::ViewWriter& w, const std::string& id) {
    // Consecutive events of one site (a command's) skip the lookup.
    if (Entry* last = last_.Find(id)) return last;
    auto it = sites_.find(id);
    if (it != sites_.end()) return last_.Remember(id, &it->second);
    absl::StatusOr<std::optional<std::string>> v = w.Get(kSites, id);
    if (!v.ok()) return v.status();
    Entry e{google::protobuf::Arena::CreateMessage<pb::SiteListRecord>(&arena_),
            google::protobuf::Arena::CreateMessage<pb::SiteListRecord>(&arena_)};
    if (v->has_value() && !e.committed->ParseFromString(**v)) {
      return absl::DataLossError(absl::StrCat("site_list: undecodable sites record ", Av(id)));
    }
    *e.current = *e.committed;
    bytes_ += kEntryBytes + id.size() + (v->has_value() ? 4 * (*v)->size() : 0);
    auto& [key, entry] = *sites_.emplace(id, e).first;
    order_.emplace_back(&key, &entry);
    return last_.Remember(id, &entry);
  }

  absl::Status RaiseMaxValid(rb::proj::ViewWriter& w, int64_t valid_at_us) {
    if (!max_loaded_) {
      absl::StatusOr<std::optional<std::string>> max = w.Get(kMeta, kMaxValidKey);
      if (!max.ok()) return max.status();
      int64_t current = 0;
      if (max->has_value() && !absl::SimpleAtoi(**max, &current)) {
        return absl::DataLossError("site_list: undecodable max_valid_at_us");
      }
      if (max->has_value()) max_valid_ = current;
      max_loaded_ = true;
    }
    if (!max_valid_.has_value() || valid_at_us > *max_valid_) {
      max_valid_ = valid_at_us;
      max_dirty_ = true;
    }
    return absl::OkStatus();
  }

  absl::Status Flush(rb::proj::ViewWriter& w) override {
    // In the order the sites came: their records were made in that order on the arena, which a
    // walk in that order reads ahead (the table's order would jump across it).
    for (const auto& [id, e] : order_) {
      Reindex(*e->committed, *e->current, w, &territories_);
      w.Put(kSites, *id, rb::domain::DeterministicBytes(*e->current));
    }
    if (max_dirty_) w.Put(kMeta, kMaxValidKey, absl::StrCat(*max_valid_));
    return absl::OkStatus();
  }
  size_t ApproximateBytes() const override { return bytes_; }

 private:
  static constexpr size_t kEntryBytes = 512;
  // Declared first: destroyed after sites_.
  google::protobuf::Arena arena_{rb::proj::BatchArenaOptions()};
  // Pointer-stable: Site's results stay valid while other sites are added.
  absl::node_hash_map<std::string, Entry> sites_;
  std::vector<std::pair<const std::string*, Entry*>> order_;  // sites_'s entries, as they came
  absl::flat_hash_set<std::string> territories_;              // Reindex's `written`
  rb::proj::LastLookup<Entry> last_;                          // the site of the last Site call
  bool max_loaded_ = false;
  bool max_dirty_ = false;
  std::optional<int64_t> max_valid_;
  size_t bytes_ = 0;
};

absl::Status ApplySite(const rb::es::RecordedEvent& e, rb::proj::ViewWriter& w,
                       SiteListBatch& batch) {
  const std::string id = e.stream_id.substr(sizeof(kSiteStreamPrefix) - 1);
  absl::StatusOr<rb::domain::Decoded<pb::SiteEvent>> ev = rb::domain::ViewSiteEvent(e);
  if (!ev.ok()) return ev.status();
  absl::StatusOr<SiteListBatch::Entry*> rec = batch.Site(w, id);
  if (!rec.ok()) return rec.status();
  pb::SiteListRecord& current = *(*rec)->current;
  if ((*ev)->valid_at_us() < current.last_valid_at_us()) {
    // Dated before the site's latest version (a retroactive correction): the current state is
    // the fold of the whole stream in valid order, as in the history view.
    absl::StatusOr<std::vector<rb::es::RecordedEvent>> stream = w.ReadStream(e.stream_id);
    if (!stream.ok()) return stream.status();
    std::vector<rb::domain::LoggedSiteEvent> events;
    events.reserve(stream->size());
    for (const rb::es::RecordedEvent& r : *stream) {
      absl::StatusOr<pb::SiteEvent> past = rb::domain::DecodeSiteEvent(r);
      if (!past.ok()) return past.status();
      events.push_back({r.position, *std::move(past)});
    }
    *current.mutable_site() = rb::domain::FoldSiteInValidOrder(std::move(events));
  } else {
    rb::domain::EvolveSiteInPlace(*current.mutable_site(), **ev);
    current.set_last_valid_at_us((*ev)->valid_at_us());
  }
  return batch.RaiseMaxValid(w, e.valid_at_us);
}

absl::Status ApplyAction(const rb::es::RecordedEvent& e, rb::proj::ViewWriter& w,
                         SiteListBatch& batch) {
  const std::string id = e.stream_id.substr(sizeof(kActionStreamPrefix) - 1);
  absl::StatusOr<rb::domain::Decoded<pb::ActionEvent>> ev = rb::domain::ViewActionEvent(e);
  if (!ev.ok()) return ev.status();
  absl::StatusOr<pb::ActionLinkRecord> rec = Load<pb::ActionLinkRecord>(w, kActions, id);
  if (!rec.ok()) return rec.status();
  const std::map<std::string, bool> old_links = Links(rec->action());
  *rec->mutable_action() = rb::domain::EvolveAction(std::move(*rec->mutable_action()), **ev);
  const std::map<std::string, bool> new_links = Links(rec->action());
  w.Put(kActions, id, rb::domain::DeterministicBytes(*rec));
  if (old_links == new_links) return absl::OkStatus();

  std::map<std::string, bool> touched = old_links;
  touched.insert(new_links.begin(), new_links.end());
  for (const auto& [site_id, unused] : touched) {
    absl::StatusOr<SiteListBatch::Entry*> site = batch.Site(w, site_id);
    if (!site.ok()) return site.status();
    auto* links = (*site)->current->mutable_actions();
    links->erase(std::remove_if(links->begin(), links->end(),
                                [&](const pb::SiteActionLink& l) { return l.action_id() == id; }),
                 links->end());
    auto it = new_links.find(site_id);
    if (it != new_links.end()) {
      pb::SiteActionLink* l = links->Add();
      l->set_action_id(id);
      l->set_dedicated_financing(it->second);
      std::sort(links->begin(), links->end(),
                [](const pb::SiteActionLink& a, const pb::SiteActionLink& b) {
                  return a.action_id() < b.action_id();
                });
    }
  }
  return absl::OkStatus();
}

// ---- Query side ---------------------------------------------------------------------------------

// A k-way merge of index ranges (one per departement and state), in suffix order, each distinct
// suffix (sort key + site id) once. The ranges are read from one snapshot (a site moving from one
// departement to another is in exactly one of them). A binary heap of the ranges, keyed by their
// current suffix, gives the next entry: Start costs one seek per range, Next O(log k) (plus one
// step per range holding the same suffix). Ascending, the suffixes that start with `tail` (when
// not empty) come after all the others: the merge first skips them, then visits them once the
// other entries are exhausted (suffixes hold no 0xff byte, so `tail` + 0xff is after them all).
class MergedIndex {
 public:
  explicit MergedIndex(bool descending, std::string tail = "")
      : descending_(descending), tail_(descending ? "" : std::move(tail)) {}

  // Declares a range (before Open).
  void AddRange(std::string prefix) {
    streams_.push_back({nullptr, std::move(prefix), {}, streams_.size()});
  }

  // Opens every range declared, all on `snapshot` (which must outlive this object).
  absl::Status Open(const rb::proj::ViewSnapshot& snapshot) {
    for (Stream& s : streams_) {
      absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> it = snapshot.NewIterator(kIndex);
      if (!it.ok()) return it.status();
      s.it = std::move(*it);
    }
    return absl::OkStatus();
  }

  // Positions every range on the first entry strictly after `after` (empty: from the start).
  void Start(const std::string& after) {
    in_tail_ = !tail_.empty() && std::string_view(after).starts_with(tail_);
    const std::string past_tail = tail_.empty() || in_tail_ ? "" : tail_ + "\xff";
    heap_.clear();
    for (Stream& s : streams_) {
      if (!descending_) {
        Seek(s, std::max(after, past_tail));
      } else {
        seek_key_.assign(s.prefix);
        seek_key_.append(after.empty() ? std::string_view("\xff") : std::string_view(after));
        s.it->SeekForPrev(seek_key_);
      }
      if (Settle(s)) heap_.push_back(&s);
    }
    Heapify();
    if (heap_.empty()) EnterTail();
    if (!after.empty() && Valid() && suffix() == after) Next();
  }

  bool Valid() const { return !heap_.empty(); }
  std::string_view suffix() const { return heap_.front()->suffix; }
  std::string_view value() const { return heap_.front()->it->value(); }

  void Next() {
    done_.assign(suffix());
    // Every range positioned on this suffix steps past it (a site in two ranges comes once).
    do {
      Stream& top = *heap_.front();
      Step(top);
      if (Settle(top)) {
        SiftDown(0);
      } else {
        heap_.front() = heap_.back();
        heap_.pop_back();
        if (!heap_.empty()) SiftDown(0);
      }
    } while (!heap_.empty() && heap_.front()->suffix == done_);
    if (heap_.empty()) EnterTail();
  }

  absl::Status status() const {
    for (const Stream& s : streams_) {
      if (s.it != nullptr && !s.it->status().ok()) return s.it->status();
    }
    return absl::OkStatus();
  }

 private:
  struct Stream {
    std::unique_ptr<rb::es::KvIterator> it;
    std::string prefix;
    std::string_view suffix;  // of the current key, while in range
    size_t order;             // among the ranges: equal suffixes come in the order declared
  };

  // Whether the stream is on an entry of its range (and of the tail, in the tail); caches its
  // suffix.
  bool Settle(Stream& s) const {
    if (!s.it->Valid()) return false;
    const std::string_view key = s.it->key();
    if (!key.starts_with(s.prefix)) return false;
    s.suffix = key.substr(s.prefix.size());
    return !in_tail_ || s.suffix.starts_with(tail_);
  }
  void Seek(Stream& s, std::string_view suffix) {
    seek_key_.assign(s.prefix);
    seek_key_.append(suffix);
    s.it->Seek(seek_key_);
  }
  void Step(Stream& s) const {
    if (descending_) {
      s.it->Prev();
    } else {
      s.it->Next();
    }
  }
  // Whether `a` comes before `b` in the merge.
  bool Before(const Stream* a, const Stream* b) const {
    const int c = a->suffix.compare(b->suffix);
    if (c != 0) return descending_ ? c > 0 : c < 0;
    return a->order < b->order;
  }
  void SiftDown(size_t i) {
    const size_t n = heap_.size();
    Stream* const moving = heap_[i];
    while (true) {
      size_t first = 2 * i + 1;
      if (first >= n) break;
      if (first + 1 < n && Before(heap_[first + 1], heap_[first])) ++first;
      if (!Before(heap_[first], moving)) break;
      heap_[i] = heap_[first];
      i = first;
    }
    heap_[i] = moving;
  }
  void Heapify() {
    for (size_t i = heap_.size() / 2; i > 0; --i) SiftDown(i - 1);
  }
  // The other entries are exhausted: now the tail's.
  void EnterTail() {
    if (tail_.empty() || in_tail_) return;
    in_tail_ = true;
    for (Stream& s : streams_) {
      Seek(s, tail_);
      if (Settle(s)) heap_.push_back(&s);
    }
    Heapify();
  }

  const bool descending_;
  const std::string tail_;
  bool in_tail_ = false;
  std::vector<Stream> streams_;
  std::vector<Stream*> heap_;  // the ranges in range, the next entry's first
  std::string done_;
  std::string seek_key_;
};

// The departements whose index ranges hold every site of the filter's territories: with no
// territory filter, every departement where a site was ever indexed (the nation); else the
// departements asked for, and those where a site of each region, EPCI or commune asked for was
// ever indexed. Both come from the `territories` space, written from the sites' own codes: exact
// whatever the embedded geography says today. Each entry is then matched on the skeleton's codes.
// Read from the snapshot the index ranges are then read from, the departements are exact: an
// entry is written in the batch that indexes its first site.
absl::StatusOr<std::set<std::string>> Departements(const rb::proj::ViewSnapshot& snapshot,
                                                   const pb::SiteFilter& f) {
  const bool nation = f.region_codes().empty() && f.departement_codes().empty() &&
                      f.epci_codes().empty() && f.city_codes().empty();
  std::set<std::string> departements(f.departement_codes().begin(), f.departement_codes().end());
  std::vector<std::string> prefixes;
  if (nation) prefixes.push_back("d");  // d<departement>\0<departement>
  for (const auto& c : f.region_codes())
    prefixes.push_back(absl::StrCat("r", c, std::string(1, '\0')));
  for (const auto& c : f.epci_codes())
    prefixes.push_back(absl::StrCat("e", c, std::string(1, '\0')));
  for (const auto& c : f.city_codes())
    prefixes.push_back(absl::StrCat("c", c, std::string(1, '\0')));
  if (prefixes.empty()) return departements;
  absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> it = snapshot.NewIterator(kTerritories);
  if (!it.ok()) return it.status();
  for (const std::string& prefix : prefixes) {
    for ((*it)->Seek(prefix); (*it)->Valid() && (*it)->key().starts_with(prefix); (*it)->Next()) {
      const std::string_view key = (*it)->key();
      const size_t end_of_code = key.find('\0', prefix.size() - 1);
      if (end_of_code == std::string_view::npos) {
        return absl::DataLossError(
            absl::StrCat("site_list: malformed territories key ", absl::CHexEscape(Av(key))));
      }
      departements.emplace(key.substr(end_of_code + 1));
    }
    if (!(*it)->status().ok()) return (*it)->status();
  }
  return departements;
}

std::string States(const pb::SiteFilter& f) {
  switch (f.state()) {
    case pb::SITE_STATE_FILTER_CLOSED:
      return "c";
    case pb::SITE_STATE_FILTER_ALL:
      return "oc";
    default:
      return "o";
  }
}

// A fingerprint of what orders and selects the rows (FNV-1a 64 over the filter's deterministic
// bytes and the justice visibility), so that a token is refused for another filter.
uint64_t Fingerprint(const pb::SiteFilter& filter, const Visibility& visibility) {
  std::string bytes = rb::domain::DeterministicBytes(filter);
  bytes.push_back(visibility.justice ? 'j' : '-');
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Page token: web-safe base64 of "1" <sort char> <direction char> <fingerprint, 16 hex digits>
// <cursor>.
std::string EncodeToken(char sort, bool descending, uint64_t fingerprint, std::string_view cursor) {
  std::string raw = absl::StrCat("1", std::string(1, sort), descending ? "d" : "a",
                                 Hex(fingerprint, 16), Av(cursor));
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<std::string> DecodeToken(const std::string& token, char sort, bool descending,
                                        uint64_t fingerprint) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || raw.size() < 20 || raw[0] != '1') {
    return absl::InvalidArgumentError("page_token: malformed");
  }
  if (raw[1] != sort || raw[2] != (descending ? 'd' : 'a')) {
    return absl::InvalidArgumentError("page_token: made for another sort order");
  }
  if (raw.substr(3, 16) != Hex(fingerprint, 16)) {
    return absl::InvalidArgumentError("page_token: made for another filter");
  }
  return raw.substr(19);
}

absl::StatusOr<pb::SiteListRecord> ParseRecord(std::string_view bytes, std::string_view id) {
  pb::SiteListRecord rec;
  if (!rec.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("site_list: undecodable site record ", Av(id)));
  }
  return rec;
}

absl::StatusOr<std::optional<pb::SiteListRecord>> ReadRecord(const rb::proj::ViewReader& reader,
                                                             std::string_view id) {
  absl::StatusOr<std::optional<std::string>> v = reader.Get(kSites, id);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<pb::SiteListRecord>();
  absl::StatusOr<pb::SiteListRecord> rec = ParseRecord(**v, id);
  if (!rec.ok()) return rec.status();
  return std::optional<pb::SiteListRecord>(std::move(*rec));
}

absl::StatusOr<std::optional<absl::CivilDay>> ReadLatestValidDay(
    const rb::proj::ViewReader& reader) {
  absl::StatusOr<std::optional<std::string>> v = reader.Get(kMeta, kMaxValidKey);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<absl::CivilDay>();
  int64_t us = 0;
  if (!absl::SimpleAtoi(**v, &us)) return absl::DataLossError("site_list: bad max_valid_at_us");
  return std::optional<absl::CivilDay>(rb::domain::DayOfMicros(us));
}

}  // namespace

absl::Status SiteListProjection::Apply(const rb::es::RecordedEvent& event,
                                       rb::proj::ViewWriter& writer) const {
  // The stream's category, without a copy ("site-42" -> "site").
  const std::string_view stream = event.stream_id;
  const std::string_view category = stream.substr(0, stream.find('-'));
  if (category != "site" && category != "action") return absl::OkStatus();
  return rb::proj::WithBatchState<SiteListBatch>(writer, [&](SiteListBatch& batch) {
    return category == "site" ? ApplySite(event, writer, batch) : ApplyAction(event, writer, batch);
  });
}

std::vector<std::string> SiteIndexKeys(const pb::Site& site) {
  std::vector<std::string> keys;
  char state;
  if (site.status() == pb::SITE_STATUS_OPEN) {
    state = 'o';
  } else if (site.status() == pb::SITE_STATUS_CLOSED) {
    state = 'c';
  } else {
    return keys;
  }
  const std::string& departement = site.location().territory().departement_code();
  for (char sort : {'u', 'p', 'c'}) {
    std::string k = Prefix('d', departement, state, sort);
    k.append(SortKey(site, sort));
    k.push_back('\0');
    k.append(site.id());
    keys.push_back(std::move(k));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

ActionFacts FactsOf(const pb::SiteListRecord& record) {
  ActionFacts f;
  f.has_action = record.actions_size() > 0;
  for (const auto& a : record.actions()) f.has_dedicated_financing |= a.dedicated_financing();
  return f;
}

void RedactSite(pb::Site& site, const Visibility& visibility) {
  if (!visibility.justice) {
    site.clear_justice();
    site.clear_police();
    site.clear_administrative_order();
    site.clear_insalubrity_order();
  }
  if (!visibility.owner) {
    site.mutable_ownership()->clear_owner();
    site.mutable_ownership()->clear_parcel_owners();
  }
  if (!visibility.personal) site.clear_interveners();
  site.clear_comments();
}

pb::SiteSummary Summarize(const pb::SiteListRecord& record, absl::CivilDay reference,
                          bool include_site, const Visibility& visibility) {
  const pb::Site& s = record.site();
  pb::SiteSummary out;
  out.set_id(s.id());
  out.set_name(s.name());
  out.set_status(s.status());
  *out.mutable_territory() = s.location().territory();
  out.set_address(s.location().address().label());
  out.set_field_type(s.field_type());
  if (s.population().has_total()) out.set_population(s.population().total());
  if (s.population().has_minors()) out.set_minors(s.population().minors());
  out.set_updated_at_us(s.updated_at_us());
  if (s.status() == pb::SITE_STATUS_CLOSED) {
    out.set_closing_cause(s.closure().cause());
    *out.mutable_closed_at() = s.closure().closed_at();
  }
  out.set_resorption_target(s.resorption_target());
  *out.mutable_signals() = ComputeSignals(s, FactsOf(record), reference, visibility);
  if (include_site) {
    *out.mutable_site() = s;
    RedactSite(*out.mutable_site(), visibility);
  }
  return out;
}

SiteListQuery::SiteListQuery(const rb::proj::ProjectionEngine* engine, SiteListQueryOptions options)
    : engine_(engine), options_(options) {}

absl::StatusOr<std::optional<absl::CivilDay>> SiteListQuery::LatestValidDay() const {
  absl::StatusOr<rb::proj::ViewReader> reader = engine_->Reader(SiteListProjection::kName);
  if (!reader.ok()) return reader.status();
  return ReadLatestValidDay(*reader);
}

absl::StatusOr<pb::SiteSummary> SiteListQuery::Get(const std::string& site_id,
                                                   std::optional<absl::CivilDay> reference,
                                                   const Visibility& visibility) const {
  absl::StatusOr<rb::proj::ViewReader> reader = engine_->Reader(SiteListProjection::kName);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::optional<pb::SiteListRecord>> rec = ReadRecord(*reader, site_id);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value() || ((*rec)->site().status() != pb::SITE_STATUS_OPEN &&
                            (*rec)->site().status() != pb::SITE_STATUS_CLOSED)) {
    return absl::NotFoundError(absl::StrCat("site ", site_id, " not found"));
  }
  if (!reference.has_value()) {
    absl::StatusOr<std::optional<absl::CivilDay>> latest = ReadLatestValidDay(*reader);
    if (!latest.ok()) return latest.status();
    reference = latest->value_or(absl::CivilDay(1970, 1, 1));
  }
  return Summarize(**rec, *reference, /*include_site=*/true, visibility);
}

absl::StatusOr<pb::ListSitesResponse> SiteListQuery::List(const pb::ListSitesRequest& req,
                                                          const Visibility& visibility) const {
  if (absl::Status s = ValidateSiteFilter(req.filter()); !s.ok()) return s;
  if (req.page_size() < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  const int page_size = req.page_size() == 0 ? options_.default_page_size
                                             : std::min(req.page_size(), options_.max_page_size);
  const pb::SiteSortField field = req.sort().field() == pb::SITE_SORT_FIELD_UNSPECIFIED
                                      ? pb::SITE_SORT_FIELD_LAST_UPDATE
                                      : req.sort().field();
  if (!pb::SiteSortField_IsValid(field)) return absl::InvalidArgumentError("sort.field: unknown");
  const bool descending = req.sort().direction() == pb::SORT_DIRECTION_UNSPECIFIED
                              ? field != pb::SITE_SORT_FIELD_COMMUNE
                              : req.sort().direction() == pb::SORT_DIRECTION_DESCENDING;
  const char sort = SortChar(field);
  if (absl::Status s = CheckJusticeFilters(req.filter(), visibility.justice); !s.ok()) return s;
  const uint64_t fingerprint = Fingerprint(req.filter(), visibility);
  std::string cursor;
  if (!req.page_token().empty()) {
    absl::StatusOr<std::string> c = DecodeToken(req.page_token(), sort, descending, fingerprint);
    if (!c.ok()) return c.status();
    cursor = std::move(*c);
  }

  absl::StatusOr<rb::proj::ViewReader> reader = engine_->Reader(SiteListProjection::kName);
  if (!reader.ok()) return reader.status();
  absl::CivilDay reference(1970, 1, 1);
  if (std::optional<absl::CivilDay> d = rb::domain::ToCivilDay(req.reference_date())) {
    reference = *d;
  } else if (!rb::domain::IsEmptyDate(req.reference_date())) {
    return absl::InvalidArgumentError("reference_date: not a valid date");
  } else {
    absl::StatusOr<std::optional<absl::CivilDay>> latest = ReadLatestValidDay(*reader);
    if (!latest.ok()) return latest.status();
    if (latest->has_value()) reference = **latest;
  }

  pb::ListSitesResponse out;
  *out.mutable_reference_date() = rb::domain::ToDate(reference);
  const bool by_priority = sort == 's';
  // The departements and their index ranges, read from one snapshot (which outlives the
  // iterators). Priority depends on the reference date: its candidates come from the last-update
  // ranges and are ordered in memory.
  absl::StatusOr<rb::proj::ViewSnapshot> snapshot = reader->Snapshot();
  if (!snapshot.ok()) return snapshot.status();
  absl::StatusOr<std::set<std::string>> departements = Departements(*snapshot, req.filter());
  if (!departements.ok()) return departements.status();
  std::vector<std::string> ranges;
  for (const std::string& code : *departements) {
    for (char state : States(req.filter())) {
      ranges.push_back(Prefix('d', code, state, by_priority ? 'u' : sort));
    }
  }

  if (!by_priority) {
    // Ascending by population, the sites without a count still come last.
    MergedIndex index(descending, sort == 'p' ? NoPopulationKey() : std::string());
    for (std::string& range : ranges) index.AddRange(std::move(range));
    if (absl::Status s = index.Open(*snapshot); !s.ok()) return s;
    index.Start(cursor);
    std::string last_suffix;
    for (; index.Valid(); index.Next()) {
      absl::StatusOr<pb::SiteListRecord> skeleton = ParseRecord(index.value(), "index value");
      if (!skeleton.ok()) return skeleton.status();
      if (!MatchesSiteFilter(skeleton->site(), req.filter(), reference, FactsOf(*skeleton))) {
        continue;
      }
      // Without include_site the row comes from the index snapshot alone (one consistent
      // snapshot); with it, the full record is read and filtered again, as it may be newer.
      std::optional<pb::SiteListRecord> full;
      if (req.include_site()) {
        absl::StatusOr<std::optional<pb::SiteListRecord>> r =
            ReadRecord(*reader, skeleton->site().id());
        if (!r.ok()) return r.status();
        if (!r->has_value()) continue;
        full = std::move(**r);
        if (!MatchesSiteFilter(full->site(), req.filter(), reference, FactsOf(*full))) continue;
      }
      const pb::SiteListRecord* rec = full.has_value() ? &*full : &*skeleton;
      if (out.sites_size() == page_size) {
        out.set_next_page_token(EncodeToken(sort, descending, fingerprint, last_suffix));
        break;
      }
      *out.add_sites() = Summarize(*rec, reference, req.include_site(), visibility);
      last_suffix = std::string(index.suffix());
    }
    if (absl::Status s = index.status(); !s.ok()) return s;
    return out;
  }

  // By priority: (score, id) of every match, ordered, then the page after the cursor. Every
  // candidate is scored, so the ranges are read one after the other (one iterator, no merge):
  // O(n) before the sort.
  struct Row {
    int score;
    std::string id;
  };
  std::vector<Row> rows;
  absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> scan = snapshot->NewIterator(kIndex);
  if (!scan.ok()) return scan.status();
  rb::es::KvIterator& entry = **scan;
  for (const std::string& range : ranges) {
    for (entry.Seek(range); entry.Valid() && entry.key().starts_with(range); entry.Next()) {
      absl::StatusOr<pb::SiteListRecord> rec = ParseRecord(entry.value(), "index value");
      if (!rec.ok()) return rec.status();
      if (!MatchesSiteFilter(rec->site(), req.filter(), reference, FactsOf(*rec))) continue;
      rows.push_back(
          {ComputeSignals(rec->site(), FactsOf(*rec), reference, visibility).priority_score(),
           rec->site().id()});
    }
    if (!entry.status().ok()) return entry.status();
  }
  auto before = [descending](const Row& a, const Row& b) {
    if (a.score != b.score) return descending ? a.score > b.score : a.score < b.score;
    return a.id < b.id;
  };
  std::sort(rows.begin(), rows.end(), before);
  // Duplicates cannot happen: in one snapshot a site has one last-update key, in one range.
  auto it = rows.begin();
  if (!cursor.empty()) {
    if (cursor.size() < 9) return absl::InvalidArgumentError("page_token: malformed");
    uint32_t biased = 0;
    if (!absl::SimpleHexAtoi(cursor.substr(0, 8), &biased)) {
      return absl::InvalidArgumentError("page_token: malformed");
    }
    const Row after{static_cast<int>(biased), cursor.substr(8)};
    it = std::upper_bound(rows.begin(), rows.end(), after, before);
  }
  for (; it != rows.end(); ++it) {
    if (out.sites_size() == page_size) {
      const Row& last = *(it - 1);
      out.set_next_page_token(
          EncodeToken(sort, descending, fingerprint,
                      absl::StrCat(Hex(static_cast<uint32_t>(last.score), 8), last.id)));
      break;
    }
    absl::StatusOr<std::optional<pb::SiteListRecord>> rec = ReadRecord(*reader, it->id);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value()) continue;
    *out.add_sites() = Summarize(**rec, reference, req.include_site(), visibility);
  }
  return out;
}

}  // namespace rb::views
