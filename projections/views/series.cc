// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/views/series.h"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "domain/dates.h"
#include "domain/events.h"
#include "google/protobuf/arena.h"
#include "projections/batch_arena.h"
#include "projections/last_lookup.h"
#include "projections/views/series_territory.h"
#include "projections/views/signals.h"

namespace rb::proj::views {

namespace v1 = ::resorption::v1;

namespace {

constexpr char kSegments[] = "segments";
constexpr char kDeltas[] = "deltas";
constexpr int32_t kDayOffset = 100000;
const absl::CivilDay kEpoch(1970, 1, 1);

int32_t DayNumber(absl::CivilDay d) { return static_cast<int32_t>(d - kEpoch); }
int32_t DayOfValid(int64_t us) {
  constexpr int64_t kMicrosPerDay = 86'400'000'000;
  int64_t days = us / kMicrosPerDay;
  if (us % kMicrosPerDay < 0) --days;
  return static_cast<int32_t>(days);  // days since 1970-01-01 (kEpoch), UTC
}

// The first day the site counts as out of date: the list's rule (IsOutOfDate), from the day of
// its last update.
int32_t OutdatedFrom(int64_t last_update_us) {
  // Civil-calendar arithmetic costs on this path (once per segment): the results are kept per
  // day of update, in a small direct-mapped table (about 11 years of distinct days).
  struct Slot {
    int32_t day = std::numeric_limits<int32_t>::min();
    int32_t from = 0;
  };
  thread_local std::array<Slot, 4096> memo;
  const int32_t day = DayOfValid(last_update_us);
  Slot& slot = memo[static_cast<uint32_t>(day) % memo.size()];
  if (slot.day != day) {
    slot.day = day;
    slot.from = DayNumber(rb::views::FirstOutOfDateDay(rb::domain::DayOfMicros(last_update_us)));
  }
  return slot.from;
}

std::string DeltaPrefix(char level, std::string_view code) {
  std::string key(1, level);
  key.append(code);
  key.push_back('\0');
  return key;
}

// Deltas are kept per territory and calendar month: one key per (territory, month), whose value
// lists the days of that month with a change. A batch then rewrites one key per territory and
// month it touched, not one per day, and a ten-year series reads 120 keys per territory.
int32_t MonthOfDay(int32_t day) {
  const absl::CivilMonth m(kEpoch + day);
  return static_cast<int32_t>((m.year() - 1970) * 12 + (m.month() - 1));
}
int32_t FirstDayOfMonth(int32_t month) {
  return DayNumber(absl::CivilDay(absl::CivilMonth(1970, 1) + month));
}

void AppendMonth(std::string* key, int32_t month) {
  const uint32_t v = static_cast<uint32_t>(month + kDayOffset);
  for (int shift = 24; shift >= 0; shift -= 8)
    key->push_back(static_cast<char>((v >> shift) & 0xff));
}

int32_t ReadMonth(std::string_view bytes) {
  uint32_t v = 0;
  for (char c : bytes.substr(0, 4)) v = (v << 8) | static_cast<unsigned char>(c);
  return static_cast<int32_t>(v) - kDayOffset;
}

bool ReadVarint(std::string_view in, size_t* pos, uint64_t* out) {
  // Most of a bucket's values are small (most metrics do not change on a day): one byte.
  if (*pos < in.size() && static_cast<unsigned char>(in[*pos]) < 0x80) {
    *out = static_cast<unsigned char>(in[(*pos)++]);
    return true;
  }
  uint64_t z = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    if (*pos >= in.size()) return false;
    const unsigned char c = static_cast<unsigned char>(in[(*pos)++]);
    z |= static_cast<uint64_t>(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *out = z;
      return true;
    }
  }
  return false;
}

// One day's summed change in a month bucket.
struct DayDelta {
  int32_t day;
  MetricVector values;
};

// Writes `z` as a varint at `p`; returns the end.
char* PutVarint(uint64_t z, char* p) {
  while (z >= 0x80) {
    *p++ = static_cast<char>(z | 0x80);
    z >>= 7;
  }
  *p++ = static_cast<char>(z);
  return p;
}

// A month bucket's value: per day with a change, in day order, the day within the month (varint)
// then the 34 metrics (zigzag varints).
void EncodeBucket(const std::vector<DayDelta>& days, int32_t first_day, std::string* out) {
  // Room for the longest encoding (10 bytes a varint), written through a pointer, then cut.
  out->resize(days.size() * (kMetrics + 1) * 10);
  char* p = out->data();
  for (const DayDelta& d : days) {
    p = PutVarint(static_cast<uint64_t>(d.day - first_day), p);
    for (int64_t x : d.values) {
      p = PutVarint((static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63), p);
    }
  }
  out->resize(static_cast<size_t>(p - out->data()));
}

bool DecodeBucket(std::string_view in, int32_t first_day, std::vector<DayDelta>* days) {
  days->clear();
  size_t pos = 0;
  while (pos < in.size()) {
    uint64_t offset = 0;
    if (!ReadVarint(in, &pos, &offset) || offset > 30) return false;
    DayDelta d{first_day + static_cast<int32_t>(offset), {}};
    for (int i = 0; i < kMetrics; ++i) {
      uint64_t z = 0;
      if (!ReadVarint(in, &pos, &z)) return false;
      d.values[i] = static_cast<int64_t>(z >> 1) ^ -static_cast<int64_t>(z & 1);
    }
    if (!days->empty() && days->back().day >= d.day) return false;
    days->push_back(d);
  }
  return true;
}

bool IsYes(v1::TriState t) { return t == v1::YES; }

bool IsZero(const MetricVector& v) {
  for (int64_t x : v) {
    if (x != 0) return false;
  }
  return true;
}

struct Point {
  int32_t day;
  const v1::Territory* territory;
  MetricVector values;
};

bool SameTerritory(const v1::Territory& a, const v1::Territory& b) {
  // Points of one record share its interned territories: the same entry is the same territory.
  if (&a == &b) return true;
  return a.city_code() == b.city_code() && a.epci_code() == b.epci_code() &&
         a.departement_code() == b.departement_code() && a.region_code() == b.region_code();
}

// The territory of segment `s` of `rec` (indexes are checked when a record is read).
const v1::Territory& TerritoryOf(const v1::SeriesSiteRecord& rec, const v1::SeriesSegment& s) {
  return rec.territories(static_cast<int>(s.territory()));
}

// Whether every segment of `rec` refers to one of its territories.
bool TerritoriesValid(const v1::SeriesSiteRecord& rec) {
  const uint32_t n = static_cast<uint32_t>(rec.territories_size());
  for (const v1::SeriesSegment& s : rec.segments()) {
    if (s.territory() >= n) return false;
  }
  return !rec.has_first_version() || rec.first_version().territory() < n;
}

// The index of `t`'s codes in `rec`'s territories, added when new.
uint32_t InternTerritory(const v1::Territory& t, v1::SeriesSiteRecord* rec) {
  for (int i = rec->territories_size() - 1; i >= 0; --i) {
    if (SameTerritory(rec->territories(i), t)) return static_cast<uint32_t>(i);
  }
  v1::Territory* codes = rec->add_territories();
  codes->set_city_code(t.city_code());
  codes->set_epci_code(t.epci_code());
  codes->set_departement_code(t.departement_code());
  codes->set_region_code(t.region_code());
  return static_cast<uint32_t>(rec->territories_size() - 1);
}

bool HasData(const v1::SeriesSegment& s) { return (s.values_mask() >> kCumOpened & 1) != 0; }

// The dense vector of a sparse one (SeriesSegment.values: bit k of `mask` set for each non-zero
// metric k, whose value is next in `v`).
MetricVector ValuesOf(uint64_t mask, const google::protobuf::RepeatedField<int64_t>& v) {
  MetricVector m{};
  int i = 0;
  constexpr uint64_t kAll = (uint64_t{1} << kMetrics) - 1;  // bits of a corrupt mask ignored
  for (uint64_t bits = mask & kAll; bits != 0 && i < v.size(); bits &= bits - 1) {
    m[std::countr_zero(bits)] = v.Get(i++);
  }
  return m;
}

// Appends the step function of the versions as they are, segments [from, end), each state
// counted as open: one point per segment, plus one where the site becomes out of date before the
// next segment.
void AppendRawPoints(const v1::SeriesSiteRecord& rec, int from, std::vector<Point>* points) {
  const int n = rec.segments_size();
  for (int i = std::max(from, 0); i < n; ++i) {
    const v1::SeriesSegment& s = rec.segments(i);
    Point p{s.day(), &TerritoryOf(rec, s), ValuesOf(s.values_mask(), s.values())};
    // A version that does not count as an update (a comment, a heatwave alert) of a site already
    // out of date: out of date from its first day.
    const bool out_at_start = s.outdated_from() > 0 && s.outdated_from() <= s.day();
    if (out_at_start) p.values[kOutOfDate] = 1;
    points->push_back(p);
    const bool has_next = i + 1 < n;
    if (!out_at_start && s.outdated_from() > 0 &&
        (!has_next || s.outdated_from() < rec.segments(i + 1).day())) {
      p.day = s.outdated_from();
      p.values[kOutOfDate] = 1;
      points->push_back(p);
    }
  }
}

// When a site counts, read from its record: opened from the earliest of its first version's day
// and the installation and report dates of its last version with data (the site as known now),
// closed from the `closed_at` of that version's closure. Changing any of these moves a step
// before the changed segments, so the series then re-expands the whole record.
struct Lifecycle {
  const v1::SeriesSiteRecord* rec = nullptr;
  int first = -1;        // index of the first segment with data; -1: the site never counts
  int32_t open_day = 0;  // first day counted
  bool closed = false;
  int32_t close_day = 0;                    // first day counted closed (>= open_day)
  const v1::SeriesSegment* pre = nullptr;   // counted before the first segment's day
  const v1::SeriesSegment* last = nullptr;  // last segment with data
};

Lifecycle LifecycleOf(const v1::SeriesSiteRecord& rec) {
  Lifecycle l;
  l.rec = &rec;
  const int n = rec.segments_size();
  int last = n - 1;
  while (last >= 0 && !HasData(rec.segments(last))) --last;
  if (last < 0) return l;
  l.first = 0;
  while (!HasData(rec.segments(l.first))) ++l.first;
  l.pre = l.first == 0 && rec.has_first_version() && HasData(rec.first_version())
              ? &rec.first_version()
              : &rec.segments(l.first);
  l.last = &rec.segments(last);
  l.open_day = rec.segments(l.first).day();
  if (l.last->has_known_from()) l.open_day = std::min(l.open_day, l.last->known_from());
  if (l.last->has_closed_from()) {
    l.closed = true;
    l.close_day = std::max(l.open_day, l.last->closed_from());
  }
  return l;
}

template <typename A, typename B>
bool SameValues(const A& a, const B& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Whether segment `a` of `ra` and segment `b` of `rb` contribute the same vector in the same
// territory.
bool SameContribution(const v1::SeriesSiteRecord& ra, const v1::SeriesSegment& a,
                      const v1::SeriesSiteRecord& rb, const v1::SeriesSegment& b) {
  return a.values_mask() == b.values_mask() && SameValues(a.values(), b.values()) &&
         SameTerritory(TerritoryOf(ra, a), TerritoryOf(rb, b));
}

bool SameLifecycle(const Lifecycle& a, const Lifecycle& b) {
  if (a.first != b.first || a.open_day != b.open_day || a.closed != b.closed ||
      a.close_day != b.close_day) {
    return false;
  }
  if (a.first < 0) return true;
  if (a.open_day < a.pre->day() && !SameContribution(*a.rec, *a.pre, *b.rec, *b.pre)) return false;
  return !a.closed || (a.last->closed_mask() == b.last->closed_mask() &&
                       SameValues(a.last->closed_values(), b.last->closed_values()) &&
                       SameTerritory(TerritoryOf(*a.rec, *a.last), TerritoryOf(*b.rec, *b.last)));
}

// The step function the site contributes (before its first point: nothing), from segment `from`
// on (the first point then gives its value on that segment's day), or whole when `from` is not
// after the first segment with data. On day D:
//  * before the opening day, nothing;
//  * before the first segment's day, its first version (not out of date);
//  * then, the versions' step function on D; nothing where that state is erased;
//  * but from the closing day on, the closure's vector, in the territory of the last version
//    (versions dated between `closed_at` and the closing event do not reopen the site).
std::vector<Point> Expand(const v1::SeriesSiteRecord& rec, const Lifecycle& life, int from) {
  std::vector<Point> points;
  if (life.first < 0) return points;
  const bool whole = from <= life.first;
  const int start = whole ? life.first : from;
  points.reserve(2 * (rec.segments_size() - start) + 2);
  if (whole && life.open_day < rec.segments(life.first).day()) {
    points.push_back({life.open_day, &TerritoryOf(rec, *life.pre),
                      ValuesOf(life.pre->values_mask(), life.pre->values())});
  }
  AppendRawPoints(rec, start, &points);
  if (!life.closed || points.empty()) return points;
  // Days in order; from the closing day on, the closure's vector wherever the site has data
  // (consecutive equal points merged).
  const MetricVector closed = ValuesOf(life.last->closed_mask(), life.last->closed_values());
  std::vector<Point> out;
  out.reserve(points.size() + 1);
  auto add = [&](Point p) {
    if (p.day >= life.close_day && p.values[kCumOpened] != 0) {
      p.territory = &TerritoryOf(rec, *life.last);
      p.values = closed;
    }
    if (!out.empty() && out.back().values == p.values &&
        SameTerritory(*out.back().territory, *p.territory)) {
      return;
    }
    out.push_back(p);
  };
  bool at_close_day = false;  // a point on or after the closing day was reached
  for (size_t i = 0; i < points.size(); ++i) {
    if (!at_close_day && points[i].day >= life.close_day) {
      at_close_day = true;
      // The step in force on the closing day, from that day (the first point is always on or
      // before it in a whole expansion; a partial one starting after it needs none).
      if (points[i].day > life.close_day && i > 0) {
        Point p = points[i - 1];
        p.day = life.close_day;
        add(p);
      }
    }
    add(points[i]);
  }
  if (!at_close_day) {
    Point p = points.back();
    p.day = life.close_day;
    add(p);
  }
  return out;
}

// Summed changes per (id, day): the ids are those of a batch's locations (class Locations). The
// sums live in fixed chunks beside a small key -> index map, so that probing and growing the map
// move no vectors.
class DeltaMap {
 public:
  // The sum of the changes of (`id`, `day`).
  MetricVector& At(uint32_t id, int32_t day) {
    const uint64_t key = (uint64_t{id} << 32) | static_cast<uint32_t>(day + kDayOffset);
    auto [it, inserted] = index_.try_emplace(key, size_);
    if (inserted) {
      if (size_ % kChunk == 0) chunks_.push_back(std::make_unique<MetricVector[]>(kChunk));
      ++size_;
    }
    return Sum(it->second);
  }
  struct Change {
    uint32_t id;
    int32_t day;
    const MetricVector* sum;
  };
  // Every summed change, unordered.
  std::vector<Change> All() const {
    std::vector<Change> out;
    out.reserve(index_.size());
    for (const auto& [k, i] : index_) {
      out.push_back({static_cast<uint32_t>(k >> 32),
                     static_cast<int32_t>(static_cast<uint32_t>(k)) - kDayOffset, &Sum(i)});
    }
    return out;
  }

 private:
  // Sums per chunk (136 KiB): growing never moves or copies them, where a vector doubled and
  // copied every sum.
  static constexpr uint32_t kChunk = 512;
  MetricVector& Sum(uint32_t i) { return chunks_[i / kChunk][i % kChunk]; }
  const MetricVector& Sum(uint32_t i) const { return chunks_[i / kChunk][i % kChunk]; }

  // (id, day + kDayOffset) -> index of the sum: small slots, cheap to probe and to grow.
  absl::flat_hash_map<uint64_t, uint32_t> index_;
  std::vector<std::unique_ptr<MetricVector[]>> chunks_;  // zeroed when made
  uint32_t size_ = 0;
};

// Delta key prefixes (DeltaPrefix), interned.
class PrefixTable {
 public:
  uint32_t Id(const std::string& prefix) {
    auto [it, inserted] = ids_.try_emplace(prefix, static_cast<uint32_t>(prefixes_.size()));
    if (inserted) prefixes_.push_back(prefix);
    return it->second;
  }
  const std::string& prefix(uint32_t id) const { return prefixes_[id]; }

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<std::string> prefixes_;
};

// The territories a batch's sites were located in, interned: a site's changes are summed per
// location first (one sum per location and day), and each location's sums are added to its
// commune, EPCI, departement, region, nation and zone keys once, at the end (RollUp). Sums commute,
// so the totals are those of adding every site's changes to every key directly.
class Locations {
 public:
  // The id of the location of `t` (its four codes; names play no part in the keys).
  uint32_t Id(const v1::Territory& t) {
    key_.assign(t.city_code());
    for (const std::string* code : {&t.epci_code(), &t.departement_code(), &t.region_code()}) {
      key_.push_back('\0');
      key_.append(*code);
    }
    auto [it, inserted] = ids_.try_emplace(key_, static_cast<uint32_t>(keys_.size()));
    if (inserted) keys_.push_back(TerritoryKeysOf(t));
    return it->second;
  }
  // The territory keys of location `id`.
  const std::vector<TerritoryKey>& Keys(uint32_t id) const { return keys_[id]; }
  size_t size() const { return keys_.size(); }

 private:
  std::string key_;  // scratch
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<std::vector<TerritoryKey>> keys_;
};

bool IsZeroDay(const DayDelta& d) { return IsZero(d.values); }

// Adds sign * (the step function of `points`) as changes at each point's day, per location (a
// DeltaMap whose ids are Locations ids): a point's values start at its day and end at the
// next point's day. When two consecutive points are in the same territory, the end of one and the
// start of the next are one change (their difference).
void AddStepDeltas(const std::vector<Point>& points, int sign, Locations* locations,
                   DeltaMap* by_location) {
  uint32_t location = 0;  // the location of the current point
  auto add = [&](int32_t day, const MetricVector& v, int64_t factor) {
    if (IsZero(v)) return;
    MetricVector& at = by_location->At(location, day);
    if (factor > 0) {
      for (int k = 0; k < kMetrics; ++k) at[k] += v[k];
    } else {
      for (int k = 0; k < kMetrics; ++k) at[k] -= v[k];
    }
  };
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    if (i == 0) {
      location = locations->Id(*p.territory);
      add(p.day, p.values, sign);
      continue;
    }
    const Point& prev = points[i - 1];
    if (SameTerritory(*p.territory, *prev.territory)) {
      MetricVector diff;
      for (int k = 0; k < kMetrics; ++k) diff[k] = p.values[k] - prev.values[k];
      add(p.day, diff, sign);
    } else {
      add(p.day, prev.values, -sign);
      location = locations->Id(*p.territory);
      add(p.day, p.values, sign);
    }
  }
}

// Adds `changes` (one month's summed changes of one key, in day order) to the key's stored month
// bucket `key`, whose days start at `first_day`: the bucket is rewritten, or deleted when no day
// with a change remains. `days` and `encoded` are scratch.
absl::Status AddToBucket(ViewWriter& w, const std::string& key, int32_t first_day,
                         const std::vector<DayDelta>& changes, std::vector<DayDelta>* days,
                         std::string* encoded) {
  absl::StatusOr<std::optional<std::string>> bytes = w.Get(kDeltas, key);
  if (!bytes.ok()) return bytes.status();
  days->clear();
  if (bytes->has_value() && !DecodeBucket(**bytes, first_day, days)) {
    return absl::DataLossError("series: bad delta bucket");
  }
  for (const DayDelta& change : changes) {
    auto at = std::lower_bound(days->begin(), days->end(), change.day,
                               [](const DayDelta& d, int32_t day) { return d.day < day; });
    if (at == days->end() || at->day != change.day) at = days->insert(at, DayDelta{change.day, {}});
    for (int k = 0; k < kMetrics; ++k) at->values[k] += change.values[k];
  }
  days->erase(std::remove_if(days->begin(), days->end(), IsZeroDay), days->end());
  if (days->empty()) {
    w.Delete(kDeltas, key);
  } else {
    EncodeBucket(*days, first_day, encoded);
    w.Put(kDeltas, key, *encoded);
  }
  return absl::OkStatus();
}

// Adds the summed changes of every part (a DeltaMap and the Locations its ids are of) to the
// stored deltas: each location's change goes to each of its territory keys (commune, EPCI,
// departement, region, nation, zone), and each (key, month) bucket the batch changed is read and
// written once. The location changes are sorted by day and taken one month at a time: each sum is
// read once, and a month's per-key sums stay in the processor's cache while they are made.
absl::Status WriteDeltas(ViewWriter& w,
                         std::span<const std::pair<const Locations*, const DeltaMap*>> parts) {
  struct Located {
    uint32_t part;
    uint32_t location;
    int32_t day;
    const MetricVector* sum;
  };
  std::vector<Located> located;
  for (uint32_t p = 0; p < parts.size(); ++p) {
    for (const DeltaMap::Change& c : parts[p].second->All()) {
      located.push_back({p, c.id, c.day, c.sum});
    }
  }
  std::sort(located.begin(), located.end(),
            [](const Located& a, const Located& b) { return a.day < b.day; });
  PrefixTable prefixes;
  std::vector<std::vector<std::vector<uint32_t>>> ids(parts.size());  // per location, once
  for (size_t p = 0; p < parts.size(); ++p) ids[p].resize(parts[p].first->size());
  std::vector<std::vector<DayDelta>> month;  // per prefix id: the month's sums, in day order
  std::vector<uint32_t> touched;             // the prefix ids with sums this month
  std::string key, encoded;
  std::vector<DayDelta> days;
  for (size_t i = 0; i < located.size();) {
    const int32_t month_number = MonthOfDay(located[i].day);
    const int32_t first_day = FirstDayOfMonth(month_number);
    const int32_t next_first_day = FirstDayOfMonth(month_number + 1);
    for (; i < located.size() && located[i].day < next_first_day; ++i) {
      const Located& c = located[i];
      std::vector<uint32_t>& of = ids[c.part][c.location];
      if (of.empty()) {
        for (const TerritoryKey& k : parts[c.part].first->Keys(c.location)) {
          of.push_back(prefixes.Id(DeltaPrefix(k.level, k.code)));
        }
      }
      for (uint32_t id : of) {
        if (id >= month.size()) month.resize(id + 1);
        std::vector<DayDelta>& sums = month[id];
        if (sums.empty()) touched.push_back(id);
        if (sums.empty() || sums.back().day != c.day) sums.push_back(DayDelta{c.day, {}});
        MetricVector& at = sums.back().values;
        for (int k = 0; k < kMetrics; ++k) at[k] += (*c.sum)[k];
      }
    }
    // The days whose changes cancel out go, and a bucket left without change is not touched.
    for (uint32_t id : touched) {
      std::vector<DayDelta>& sums = month[id];
      sums.erase(std::remove_if(sums.begin(), sums.end(), IsZeroDay), sums.end());
      if (!sums.empty()) {
        key.assign(prefixes.prefix(id));
        AppendMonth(&key, month_number);
        absl::Status written = AddToBucket(w, key, first_day, sums, &days, &encoded);
        if (!written.ok()) return written;
      }
      sums.clear();
    }
    touched.clear();
  }
  return absl::OkStatus();
}

// The figures of `s` counted as open (stocks and the opened count), whatever its status.
MetricVector OpenContribution(const v1::Site& s) {
  MetricVector m{};
  m[kCumOpened] = 1;
  const v1::Population& p = s.population();
  const int64_t people = p.total();
  const bool v2 = s.living_conditions_version() == 2;
  const auto& lc1 = s.living_conditions_v1();
  const auto& lc2 = s.living_conditions_v2();
  m[0] = 1;
  m[1] = people;
  m[2] = p.households();
  m[3] = p.minors();
  m[4] = p.minors_in_school();
  const bool eu_only =
      s.origins_size() > 0 && std::all_of(s.origins().begin(), s.origins().end(),
                                          [](int o) { return o == v1::SOCIAL_ORIGIN_EUROPEAN; });
  if (eu_only && people >= 10) {
    m[5] = 1;
    m[6] = people;
  }
  if (HasWaterAccess(s)) {
    m[7] = 1;
    m[8] = people;
  }
  const bool electricity = v2 ? IsYes(lc2.electricity().access())
                              : lc1.electricity_type() == v1::ELECTRICITY_TYPE_V1_YES;
  if (electricity) {
    m[9] = 1;
    m[10] = people;
  }
  m[11] = (v2 ? lc2.trash().is_piling() == v1::NO && IsYes(lc2.trash().evacuation_is_close())
              : IsYes(lc1.trash_evacuation()))
              ? 1
              : 0;
  m[12] = (v2 ? IsYes(lc2.sanitary().working_toilets()) : IsYes(lc1.access_to_sanitary())) ? 1 : 0;
  m[13] = (v2 ? IsYes(lc2.fire().prevention_diagnostic()) : IsYes(lc1.fire_prevention_diagnostic()))
              ? 1
              : 0;
  m[14] = s.heatwave() ? 1 : 0;
  m[15] = IsYes(s.justice().owner_complaint()) ? 1 : 0;
  m[16] = IsYes(s.justice().justice_procedure()) ? 1 : 0;
  m[17] = (s.police().status() == v1::POLICE_STATUS_REQUESTED ||
           s.police().status() == v1::POLICE_STATUS_GRANTED)
              ? 1
              : 0;
  return m;
}

// The counts of the closure of `s`: opened, closed, resorbed, people and households per solution.
MetricVector ClosedContribution(const v1::Site& s) {
  MetricVector m{};
  m[kCumOpened] = 1;
  m[kCumClosed] = 1;
  m[kCumResorbed] = IsYes(s.closure().closed_with_solutions()) ? 1 : 0;
  for (const auto& o : s.closure().solutions()) {
    const int k = static_cast<int>(o.solution());
    if (k < 0 || k > 5) continue;
    m[kCumPeopleBySolution + k] += o.people();
    m[kCumHouseholdsBySolution + k] += o.households();
  }
  return m;
}

std::optional<int32_t> DayOfDate(const v1::Date& d) {
  std::optional<absl::CivilDay> day = rb::domain::ToCivilDay(d);
  if (!day) return std::nullopt;
  return DayNumber(*day);
}

// Appends the non-zero metrics of `m` to `out` (empty) and returns their mask: `m` sparse, as
// SeriesSegment.values keeps it (read back by ValuesOf).
uint64_t AddValues(const MetricVector& m, google::protobuf::RepeatedField<int64_t>* out) {
  uint64_t mask = 0;
  for (int k = 0; k < kMetrics; ++k) {
    mask |= static_cast<uint64_t>(m[k] != 0) << k;  // no branch: zeros come in no pattern
  }
  // Reserved once: grown value by value, the field would reallocate (on the batch's arena, which
  // keeps every discarded array) at each power of two.
  out->Reserve(out->size() + std::popcount(mask));
  for (uint64_t bits = mask; bits != 0; bits &= bits - 1) {
    out->AddAlreadyReserved(m[std::countr_zero(bits)]);
  }
  return mask;
}

// Makes `*s`, a segment of `rec`, the segment of `site` from `day` on (whatever it held before);
// `previous` is the segment before it (nullptr: none).
void FillSegment(int32_t day, const v1::Site& site, const v1::SeriesSegment* previous,
                 v1::SeriesSegment* s, v1::SeriesSiteRecord* rec) {
  s->Clear();
  s->set_day(day);
  // The codes only, once per record: the series rolls up by code, and the record stays small.
  s->set_territory(InternTerritory(site.location().territory(), rec));
  const bool open = site.status() == v1::SITE_STATUS_OPEN;
  const bool closed = site.status() == v1::SITE_STATUS_CLOSED;
  if (!open && !closed) return;  // erased or undeclared: counts for nothing
  const MetricVector m = OpenContribution(site);
  s->set_values_mask(AddValues(m, s->mutable_values()));
  const int64_t last_update =
      site.updated_at_us() != 0 ? site.updated_at_us() : site.created_at_us();
  if (last_update != 0) s->set_outdated_from(OutdatedFrom(last_update));
  const std::optional<int32_t> built = DayOfDate(site.built_at());
  const std::optional<int32_t> declared = DayOfDate(site.declared_at());
  if (built || declared) {
    s->set_known_from(std::min(built.value_or(std::numeric_limits<int32_t>::max()),
                               declared.value_or(std::numeric_limits<int32_t>::max())));
  }
  if (closed) {
    const std::optional<int32_t> closed_at = DayOfDate(site.closure().closed_at());
    // Without a date: from the first segment of the closure (the closing event's valid day).
    int32_t from = day;
    if (closed_at) {
      from = *closed_at;
    } else if (previous != nullptr && previous->has_closed_from()) {
      from = previous->closed_from();
    }
    s->set_closed_from(from);
    const MetricVector c = ClosedContribution(site);
    s->set_closed_mask(AddValues(c, s->mutable_closed_values()));
  }
}

}  // namespace

bool HasWaterAccess(const v1::Site& site) {
  if (site.living_conditions_version() == 1) {
    return IsYes(site.living_conditions_v1().access_to_water());
  }
  if (site.living_conditions_version() != 2) return false;
  const auto& w = site.living_conditions_v2().water();
  const bool tap = w.access_type() == v1::WATER_ACCESS_TYPE_NETWORK_TAP ||
                   w.access_type() == v1::WATER_ACCESS_TYPE_OTHER;
  return tap && w.is_public() == v1::NO && w.is_local() == v1::YES && w.is_continuous() != v1::NO &&
         w.is_close() != v1::NO && w.is_unequal() != v1::YES && w.has_stagnant_water() != v1::YES;
}

MetricVector SiteContribution(const v1::Site& s) {
  if (s.status() == v1::SITE_STATUS_OPEN) return OpenContribution(s);
  if (s.status() == v1::SITE_STATUS_CLOSED) return ClosedContribution(s);
  return MetricVector{};
}

namespace {

// Whether segment `a` of `ra` and segment `b` of `rb` are the same.
bool SameSegment(const v1::SeriesSiteRecord& ra, const v1::SeriesSegment& a,
                 const v1::SeriesSiteRecord& rb, const v1::SeriesSegment& b) {
  return a.day() == b.day() && a.outdated_from() == b.outdated_from() &&
         a.has_known_from() == b.has_known_from() && a.known_from() == b.known_from() &&
         a.has_closed_from() == b.has_closed_from() && a.closed_from() == b.closed_from() &&
         a.values_mask() == b.values_mask() && SameValues(a.values(), b.values()) &&
         a.closed_mask() == b.closed_mask() && SameValues(a.closed_values(), b.closed_values()) &&
         SameTerritory(TerritoryOf(ra, a), TerritoryOf(rb, b));
}

}  // namespace

// Protobuf writes fields in number order (segments, first_valid_at_us, first_version, versions,
// territories): the record's fields before `versions`, then `versions`, then the territories,
// each serialized in place, are the bytes of serializing the record holding them, without copying
// the serialized index into the record first.
std::string SeriesRecordBytes(v1::SeriesSiteRecord& rec, const v1::SiteVersionIndex& versions,
                              v1::SeriesSiteRecord* scratch) {
  scratch->mutable_territories()->Swap(rec.mutable_territories());  // same arena: no copy
  const size_t head = rec.ByteSizeLong();
  const size_t index = versions.ByteSizeLong();
  const size_t tail = scratch->ByteSizeLong();
  // Field 4, length-delimited (tag 0x22), omitted when empty as protobuf does.
  char length[10];
  const size_t length_size = index == 0 ? 0 : PutVarint(index, length) - length;
  std::string out(head + (index == 0 ? 0 : 1 + length_size + index) + tail, '\0');
  char* p = rb::domain::DeterministicBytesTo(rec, head, out.data());
  if (index != 0) {
    *p++ = 0x22;
    p = std::copy_n(length, length_size, p);
    p = rb::domain::DeterministicBytesTo(versions, index, p);
  }
  rb::domain::DeterministicBytesTo(*scratch, tail, p);
  scratch->mutable_territories()->Swap(rec.mutable_territories());
  return out;
}

namespace {

// The deferred work of a batch: each changed site's segment record as committed before the batch
// and as it is now, typed. Flush writes each record once and adds, once per site, the difference
// between its final and its committed step functions to the stored deltas (deleted when they
// become zero). Per event, the change written is F(new) - F(old); over the events of a batch these
// telescope to F(final) - F(committed), and sums do not depend on grouping: the views are the
// same as event by event, whatever the batch boundaries.
class SeriesBatch final : public BatchState {
 public:
  // Everything lives on the batch's arena (freed at once with the batch). The records are kept
  // without their `versions`: the site's version index, folded at every event, is kept typed
  // apart and stored back into the record by Flush.
  struct Entry {
    v1::SeriesSiteRecord* committed;
    v1::SeriesSiteRecord* current;
    v1::SiteVersionIndex* versions;
    uint32_t order = 0;        // index in order_
    int territories_seen = 0;  // current's territories when its commune was last noted
  };

  absl::StatusOr<Entry*> Site(ViewWriter& w, const std::string& site_id) {
    // Consecutive events of one site (a command's) skip the lookup.
    if (Entry* last = last_.Find(site_id)) return last;
    auto it = sites_.find(site_id);
    if (it != sites_.end()) return last_.Remember(site_id, &it->second);
    absl::StatusOr<std::optional<std::string>> bytes = w.Get(kSegments, site_id);
    if (!bytes.ok()) return bytes.status();
    Entry e{google::protobuf::Arena::CreateMessage<v1::SeriesSiteRecord>(&arena_),
            google::protobuf::Arena::CreateMessage<v1::SeriesSiteRecord>(&arena_),
            google::protobuf::Arena::CreateMessage<v1::SiteVersionIndex>(&arena_)};
    if (bytes->has_value() &&
        (!e.committed->ParseFromString(**bytes) || !TerritoriesValid(*e.committed) ||
         !ParseSiteVersionIndex(e.committed->versions(), e.versions))) {
      return absl::DataLossError(absl::StrCat("series: bad record of site ", site_id));
    }
    e.committed->clear_versions();
    *e.current = *e.committed;
    bytes_ += kEntryBytes + site_id.size() + (bytes->has_value() ? 8 * (*bytes)->size() : 0);
    e.order = static_cast<uint32_t>(order_.size());
    SiteEntry& added = *sites_.emplace(site_id, std::move(e)).first;
    order_.push_back({&added, 0});
    NoteCommune(added.second);
    return last_.Remember(site_id, &added.second);
  }

  using SiteEntry = std::pair<const std::string, Entry>;
  // A share of a flush: the records of some sites, serialised (for the caller to write), and
  // their step differences by location and day.
  struct SitesPart {
    std::vector<std::pair<const std::string*, std::string>> records;
    Locations locations;
    DeltaMap by_location;
  };
  // Batches of at least this many sites flush on two threads.
  static constexpr size_t kTwoThreadFlushSites = 8192;
  // What a site's entry spans on the arena, about (records, ten segments, folded state).
  static constexpr size_t kSiteRegionBytes = 4096;

  // Each site's record, and the difference between its final and its committed step functions.
  // Touches `sites` only (their arena allocates thread-safely) and `part`.
  static void FlushSites(std::span<const SiteEntry* const> sites, SitesPart* part) {
    part->records.reserve(sites.size());
    v1::SeriesSiteRecord* scratch = nullptr;  // on the sites' arena, made at the first site
    for (size_t i = 0; i < sites.size(); ++i) {
      // Taken by commune, the sites are not in the order of the arena, where each one's records,
      // segments and folded state lie together (made by its consecutive events, from its
      // committed record on): the region of the site two ahead is fetched while this one is
      // written.
      if (i + 2 < sites.size()) {
        const char* region = reinterpret_cast<const char*>(sites[i + 2]->second.committed);
        for (size_t line = 0; line < kSiteRegionBytes; line += 64) {
          __builtin_prefetch(region + line);
        }
      }
      const SiteEntry* site = sites[i];
      const Entry& e = site->second;
      if (scratch == nullptr) {
        scratch =
            google::protobuf::Arena::CreateMessage<v1::SeriesSiteRecord>(e.current->GetArena());
      }
      part->records.emplace_back(&site->first, SeriesRecordBytes(*e.current, *e.versions, scratch));
      // Points before the last common segment cancel out (same points, same ends).
      int common = 0;
      while (common < e.current->segments_size() && common < e.committed->segments_size() &&
             SameSegment(*e.current, e.current->segments(common), *e.committed,
                         e.committed->segments(common))) {
        ++common;
      }
      // Unless the opening or the closure moved (a step before the common segments): then both
      // step functions whole.
      const Lifecycle now = LifecycleOf(*e.current);
      const Lifecycle before = LifecycleOf(*e.committed);
      const int from = SameLifecycle(now, before) ? common - 1 : -1;
      AddStepDeltas(Expand(*e.current, now, from), +1, &part->locations, &part->by_location);
      AddStepDeltas(Expand(*e.committed, before, from), -1, &part->locations, &part->by_location);
    }
  }

  // Notes the commune of the territory `e`'s record names last, when it names one more since the
  // last call (a site that moved): Flush groups the sites by it. Read while the record is in use,
  // not by Flush, which would fetch every record once more for it.
  void NoteCommune(Entry& e) {
    const v1::SeriesSiteRecord& rec = *e.current;
    if (rec.territories_size() == e.territories_seen) return;
    e.territories_seen = rec.territories_size();
    const std::string& commune = rec.territories(rec.territories_size() - 1).city_code();
    order_[e.order].second =
        communes_.try_emplace(commune, static_cast<uint32_t>(communes_.size())).first->second;
  }

  // The sites grouped by commune (NoteCommune), in the order they came within a commune. A flush
  // then sums one commune's changes after another: the sums it adds to are those of a few
  // thousand days of one location at a time, which stay in the processor's cache, where sites
  // taken in any order spread over every location's sums. Within a commune, the records are read
  // in the order they were made on the arena (ahead of the walk).
  std::vector<const SiteEntry*> ByCommune() const {
    std::vector<size_t> count(communes_.size() + 1, 0);
    for (const auto& [site, commune] : order_) ++count[commune];
    size_t start = 0;
    for (size_t& c : count) start += std::exchange(c, start);  // counts -> first slot per group
    std::vector<const SiteEntry*> out(order_.size());
    for (const auto& [site, commune] : order_) out[count[commune]++] = site;
    return out;
  }

  absl::Status Flush(ViewWriter& w) override {
    // Per site: its record, and location-day -> summed change. A large batch (a rebuild's) does
    // this on two threads, each for half the sites; WriteDeltas then reads the changes of both.
    const std::vector<const SiteEntry*> sites = ByCommune();
    const std::span<const SiteEntry* const> all(sites);
    SitesPart first, second;
    if (sites.size() >= kTwoThreadFlushSites) {
      const size_t half = sites.size() / 2;
      std::thread helper([&] { FlushSites(all.subspan(half), &second); });
      FlushSites(all.first(half), &first);
      helper.join();
    } else {
      FlushSites(all, &first);
    }
    for (const SitesPart* part : {&first, &second}) {
      for (const auto& [site_id, bytes] : part->records) w.Put(kSegments, *site_id, bytes);
    }
    // Then territory-day key -> summed change: one read and one write per (territory, month)
    // bucket the batch changed.
    const std::pair<const Locations*, const DeltaMap*> parts[] = {
        {&first.locations, &first.by_location}, {&second.locations, &second.by_location}};
    return WriteDeltas(w, parts);
  }
  size_t ApproximateBytes() const override { return bytes_; }
  // Counts `n` segments made on the arena (replaced ones stay there until the batch ends).
  void ChargeSegments(size_t n) { bytes_ += n * kSegmentBytes; }
  // Counts a version added to an index, from an event of `payload_bytes`: its key, and what the
  // folded tail may grow by.
  void ChargeVersion(size_t payload_bytes) { bytes_ += kVersionBytes + 2 * payload_bytes; }

 private:
  static constexpr size_t kEntryBytes = 512;
  static constexpr size_t kSegmentBytes = 512;
  static constexpr size_t kVersionBytes = 48;
  google::protobuf::Arena arena_{BatchArenaOptions()};  // declared first: destroyed after sites_
  // Pointer-stable: Site's results stay valid while other sites are added.
  absl::node_hash_map<std::string, Entry> sites_;
  // sites_'s entries, as they came, each with its commune's number in communes_.
  std::vector<std::pair<const SiteEntry*, uint32_t>> order_;
  absl::flat_hash_map<std::string, uint32_t> communes_;  // commune code -> number
  LastLookup<Entry> last_;                               // the site of the last Site call
  size_t bytes_ = 0;
};

}  // namespace

absl::Status SeriesProjection::Apply(const rb::es::RecordedEvent& recorded, ViewWriter& w) const {
  const std::string site_id = SiteIdOfStream(recorded.stream_id);
  if (site_id.empty()) return absl::OkStatus();
  absl::StatusOr<rb::domain::Decoded<v1::SiteEvent>> event = rb::domain::ViewSiteEvent(recorded);
  if (!event.ok()) return event.status();
  return WithBatchState<SeriesBatch>(w, [&](SeriesBatch& batch) -> absl::Status {
    absl::StatusOr<SeriesBatch::Entry*> entry = batch.Site(w, site_id);
    if (!entry.ok()) return entry.status();
    absl::StatusOr<SiteVersionLog::Change> change =
        log_.AddTo(w, *(*entry)->versions, recorded, **event);
    if (!change.ok()) return change.status();
    batch.ChargeVersion(recorded.payload.size());
    v1::SeriesSiteRecord& rec = *(*entry)->current;
    // Segments before the first re-folded day are unchanged; the others are made again.
    const int32_t cut = DayOfValid(change->valid_at_us.front());
    int keep = 0;
    while (keep < rec.segments_size() && rec.segments(keep).day() < cut) ++keep;
    // The versions of the site's first valid date (the declaration) re-folded: the first one of
    // all, or one more of the same date (it comes last among them).
    const bool first_refolded =
        change->inserted_at == 0 || change->valid_at_us.front() == rec.first_valid_at_us();
    if (!first_refolded && keep == 0 && rec.segments_size() > 0 && !rec.has_first_version()) {
      // A later version of the first day replaces a segment that was the first version's.
      *rec.mutable_first_version() = rec.segments(0);
    }
    rec.mutable_segments()->DeleteSubrange(keep, rec.segments_size() - keep);
    for (size_t i = 0; i < change->size(); ++i) {
      const int32_t day = DayOfValid(change->valid_at_us[i]);
      const int n = rec.segments_size();
      // The state at the end of a day wins: a later version of the same day replaces the segment.
      const bool replace = n > keep && rec.segments(n - 1).day() == day;
      v1::SeriesSegment* s = replace ? rec.mutable_segments(n - 1) : rec.add_segments();
      const int at = replace ? n - 1 : n;
      FillSegment(day, change->state(i), at > 0 ? &rec.segments(at - 1) : nullptr, s, &rec);
    }
    if (first_refolded) {
      if (change->inserted_at == 0) rec.set_first_valid_at_us(change->valid_at_us.front());
      const int64_t first_valid = rec.first_valid_at_us();
      size_t j = 0;  // the last version of the first valid date
      while (j + 1 < change->size() && change->valid_at_us[j + 1] == first_valid) ++j;
      const int32_t day = DayOfValid(first_valid);
      if (j + 1 < change->size() && DayOfValid(change->valid_at_us[j + 1]) == day) {
        FillSegment(day, change->state(j), nullptr, rec.mutable_first_version(), &rec);
      } else {
        rec.clear_first_version();
      }
    }
    if (rec.has_first_version() &&
        (rec.segments_size() == 0 ||
         SameContribution(rec, rec.first_version(), rec, rec.segments(0)))) {
      rec.clear_first_version();  // the first segment says the same
    }
    batch.ChargeSegments(change->size());
    batch.NoteCommune(**entry);
    return absl::OkStatus();
  });
}

namespace {

void FillStock(const MetricVector& m, v1::TerritoryStock* stock) {
  const auto* desc = stock->GetDescriptor();
  const auto* refl = stock->GetReflection();
  for (int i = 0; i < kStockMetrics; ++i) {
    refl->SetInt64(stock, desc->FindFieldByNumber(i + 1), m[i]);
  }
}

void FillFlows(const MetricVector& now, const MetricVector& before, v1::TerritoryFlows* f) {
  f->set_sites_opened(now[kCumOpened] - before[kCumOpened]);
  f->set_sites_closed(now[kCumClosed] - before[kCumClosed]);
  f->set_sites_resorbed(now[kCumResorbed] - before[kCumResorbed]);
  for (int k = 0; k < 6; ++k) {
    f->add_people_by_solution(now[kCumPeopleBySolution + k] - before[kCumPeopleBySolution + k]);
    f->add_households_by_solution(now[kCumHouseholdsBySolution + k] -
                                  before[kCumHouseholdsBySolution + k]);
  }
}

}  // namespace

absl::StatusOr<v1::SeriesResponse> SeriesQuery::Series(const v1::SeriesRequest& request) const {
  char level = LevelLetter(request.territory().level());
  std::string code = request.territory().code();
  if (level == 0) level = 'n';
  if (level == 'n') code = kNationCode;
  if (code.empty()) return absl::InvalidArgumentError("territory.code: required");

  std::vector<absl::CivilDay> dates;
  if (request.dates_size() > 0) {
    for (const v1::Date& d : request.dates()) {
      std::optional<absl::CivilDay> day = rb::domain::ToCivilDay(d);
      if (!day) return absl::InvalidArgumentError("dates: invalid date");
      dates.push_back(*day);
    }
    std::sort(dates.begin(), dates.end());
    dates.erase(std::unique(dates.begin(), dates.end()), dates.end());
  } else {
    std::optional<absl::CivilDay> from = rb::domain::ToCivilDay(request.from());
    std::optional<absl::CivilDay> to = rb::domain::ToCivilDay(request.to());
    if (!from || !to) return absl::InvalidArgumentError("from, to: valid dates required");
    if (*from > *to) return absl::InvalidArgumentError("from: must not be after to");
    dates.push_back(*from);
    for (absl::CivilMonth m = absl::CivilMonth(*from) + 1; absl::CivilDay(m) < *to; ++m) {
      dates.push_back(absl::CivilDay(m));
      if (dates.size() > 10000) break;
    }
    if (*to > dates.back()) dates.push_back(*to);
  }
  if (dates.size() > 10000) return absl::InvalidArgumentError("too many points (> 10,000)");

  absl::StatusOr<ViewReader> reader = engine_->Reader(kSeriesProjection);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> it = reader->NewIterator(kDeltas);
  if (!it.ok()) return it.status();
  const std::string prefix = DeltaPrefix(level, code);

  v1::SeriesResponse out;
  out.mutable_territory()->set_level(request.territory().level());
  out.mutable_territory()->set_code(code);
  MetricVector sum{}, previous{};
  size_t next = 0;
  auto emit = [&](absl::CivilDay d) {
    v1::SeriesPoint* p = out.add_points();
    *p->mutable_date() = rb::domain::ToDate(d);
    FillStock(sum, p->mutable_stock());
    if (out.points_size() > 1) FillFlows(sum, previous, p->mutable_flows());
    previous = sum;
  };
  std::vector<DayDelta> days;
  for ((*it)->Seek(prefix); (*it)->Valid() && next < dates.size(); (*it)->Next()) {
    std::string_view key = (*it)->key();
    if (key.size() != prefix.size() + 4 || key.substr(0, prefix.size()) != prefix) break;
    const int32_t month = ReadMonth(key.substr(prefix.size()));
    if (!DecodeBucket((*it)->value(), FirstDayOfMonth(month), &days)) {
      return absl::DataLossError("series: bad delta bucket");
    }
    for (const DayDelta& d : days) {
      while (next < dates.size() && DayNumber(dates[next]) < d.day) emit(dates[next++]);
      if (next >= dates.size()) break;
      for (int k = 0; k < kMetrics; ++k) sum[k] += d.values[k];
    }
  }
  absl::Status s = (*it)->status();
  if (!s.ok()) return s;
  while (next < dates.size()) emit(dates[next++]);
  return out;
}

absl::StatusOr<v1::SeriesPoint> SeriesQuery::Period(const v1::PeriodRequest& request) const {
  v1::SeriesRequest r;
  *r.mutable_territory() = request.territory();
  *r.add_dates() = request.from();
  *r.add_dates() = request.to();
  absl::StatusOr<v1::SeriesResponse> s = Series(r);
  if (!s.ok()) return s.status();
  if (s->points_size() != 2) return absl::InvalidArgumentError("from: must be before to");
  return s->points(1);
}

}  // namespace rb::proj::views
