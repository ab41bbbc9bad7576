// Copyright: the Résorption-bidonvilles data service authors.
//
// The `series` view: figures per commune, EPCI, departement, region, nation and zone
// (hexagone / outre-mer) on any date, and flows (sites opened, closed, resorbed, people and
// households by closing solution) over any period, by valid date ("date de mise à jour").
//
//   RB_RETURN_IF_ERROR(engine.Register(std::make_unique<rb::proj::views::SeriesProjection>()));
//   rb::proj::views::SeriesQuery series(&engine);
//   resorption::v1::SeriesRequest req;
//   req.mutable_territory()->set_level(resorption::v1::TERRITORY_LEVEL_NATION);
//   *req.mutable_from() = rb::domain::ToDate(absl::CivilDay(2015, 1, 1));
//   *req.mutable_to() = rb::domain::ToDate(absl::CivilDay(2025, 1, 1));
//   absl::StatusOr<resorption::v1::SeriesResponse> monthly = series.Series(req);
//
// Model. A site's figures on day D are those of its state at the end of D: the fold of its events
// with a valid day (UTC) <= D, in (valid_at, position) order (the history view's rule, as known
// now), with the opening and the closure dated as the platform's metrics date them (known_since =
// LEAST(built_at, declared_at, created_at) <= D, not closed before D):
//  * a site counts from its opening day, the earliest of its installation date, its report date
//    (both as its last version says) and its declaration's valid day; before its declaration's
//    valid day it contributes the state of its first version (the declared figures);
//  * it counts as closed from the day of its closure's `closed_at` (the closure as its last
//    version says; without a date, from the closing event's valid day), never before its opening:
//    stocks drop and the closure's counts (closed, resorbed, people and households by solution)
//    start that day, in the territory of its last version. Versions dated between `closed_at`
//    and the closing event do not reopen it; when `closed_at` is after the closing event's valid
//    day, the site counts open until `closed_at` with the figures it had;
//  * an erased site contributes nothing from its erasure on.
// Each site contributes a step function of a metric vector over days; the view stores the
// derivative: for each territory key and day, the sum of the changes of every site's vector on
// that day (a difference array). The figure on D is the prefix sum of the deltas up to D: a
// ten-year national series is one range scan. An event changes its site's step function from its
// valid day on (a retroactive correction re-folds the versions after it), and from the opening or
// closing day when it moves one of them (a corrected date); the view writes the difference
// between the old and the new step function, so every later date is corrected.
//
// Spaces: `segments` (site id -> SeriesSiteRecord: the segments, and the site's version index, as
// SiteVersionLog keeps it without snapshots: a re-fold reads the site's versions back from the
// log), `deltas`, one key per territory and
// calendar month (<level letter> <code> 0x00 <months since 1970-01 + 100000, u32 BE>) whose value
// lists the days of the month with a non-zero change, in day order: the day within the month
// (varint), then the metric vector's deltas (34 zigzag varints); absent when no day remains.
// Integers only; deterministic. Thread-safe.
#ifndef RB_PROJECTIONS_VIEWS_SERIES_H_
#define RB_PROJECTIONS_VIEWS_SERIES_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "projections/engine.h"
#include "projections/projection.h"
#include "projections/views/history_versions.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/territory_query.pb.h"

namespace rb::proj::views {

inline constexpr char kSeriesProjection[] = "series";

// The metric vector: indexes 0..18 are TerritoryStock fields 1..19 (open sites only); then
// cumulative counts used for flows.
inline constexpr int kStockMetrics = 19;
inline constexpr int kOutOfDate = 18;
inline constexpr int kCumOpened = 19;  // opened (see the model above) and not erased
inline constexpr int kCumClosed = 20;
inline constexpr int kCumResorbed = 21;              // closed with solutions = yes
inline constexpr int kCumPeopleBySolution = 22;      // + ClosingSolution value (0..5)
inline constexpr int kCumHouseholdsBySolution = 28;  // + ClosingSolution value (0..5)
inline constexpr int kMetrics = 34;
using MetricVector = std::array<int64_t, kMetrics>;

// The contribution of one site state, dated by its versions alone (out_of_date left at 0: it
// depends on the date): an open site's figures, a closed site's closure counts.
MetricVector SiteContribution(const resorption::v1::Site& site);
// Access to water: v2 network tap or "other", not public, local, continuous (or unknown), close
// (or unknown), not unequal, no stagnant water; v1 access_to_water = yes.
bool HasWaterAccess(const resorption::v1::Site& site);

// The `segments` record of a site as the series stores it: `record`, kept without its
// `versions`, with `versions` serialized into that field; the bytes of deterministically
// serializing the record holding them. `scratch` is an empty record on `record`'s arena (both
// off arenas, or on the same one), borrowed for the call. Public for tests.
std::string SeriesRecordBytes(resorption::v1::SeriesSiteRecord& record,
                              const resorption::v1::SiteVersionIndex& versions,
                              resorption::v1::SeriesSiteRecord* scratch);

class SeriesProjection : public Projection {
 public:
  std::string name() const override { return kSeriesProjection; }
  // 5: a site is out of date from FirstOutOfDateDay (the list's rule), one day later than in 4
  // and clamped at month ends. 6: a version that is not an update (a comment) of a site already
  // out of date counts it out of date from its first day. 7: a site opens on the earliest of its
  // installation date, report date and declaration's valid day (not on the declaration's valid
  // day), and closes on its closure's `closed_at` (not on the closing event's valid day).
  // 8: the version index lives in the site's `segments` record (one record per site, no `sites`
  // space).
  uint32_t version() const override { return 9; }
  std::vector<std::string> spaces() const override { return {"segments", "deltas"}; }
  absl::Status Apply(const rb::es::RecordedEvent& event, ViewWriter& writer) const override;

 private:
  SiteVersionLog log_{{.sites = "", .snapshots = ""}};  // AddTo only: the index is in `segments`
};

class SeriesQuery {
 public:
  explicit SeriesQuery(const ProjectionEngine* engine) : engine_(engine) {}

  // Points at `dates` (sorted, deduplicated), or at `from`, the 1st of each month after it and
  // `to`; flows between consecutive points. Errors: INVALID_ARGUMENT for a missing or invalid
  // date, from > to, more than 10,000 points, a level other than nation without a code; engine
  // and storage errors; DATA_LOSS for an undecodable delta.
  absl::StatusOr<resorption::v1::SeriesResponse> Series(
      const resorption::v1::SeriesRequest& request) const;

  // Flows over (from, to] and stock at `to`: the second point of Series(dates = {from, to}).
  absl::StatusOr<resorption::v1::SeriesPoint> Period(
      const resorption::v1::PeriodRequest& request) const;

 private:
  const ProjectionEngine* engine_;
};

}  // namespace rb::proj::views

#endif  // RB_PROJECTIONS_VIEWS_SERIES_H_
