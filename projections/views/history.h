// Copyright: the Résorption-bidonvilles data service authors.
//
// The `history` view: every version of every site, so that a site can be read on any valid date
// V ("date de mise à jour") as known today or as it was known at an earlier recording time T, and
// the sites of a territory listed on a past date.
//
//   rb::proj::ProjectionEngine engine(store, {});
//   RB_RETURN_IF_ERROR(engine.Register(std::make_unique<rb::proj::views::HistoryProjection>()));
//   RB_RETURN_IF_ERROR(engine.Start());
//   rb::proj::views::HistoryQuery history(&engine, store);
//   resorption::v1::GetSiteAsOfRequest req;
//   req.set_site_id("42");
//   req.set_valid_at_us(v);   // the site on valid date V...
//   req.set_known_at_us(t);   // ...as the service knew it at T (0: as known now)
//   absl::StatusOr<resorption::v1::SiteAsOf> s = history.GetSiteAsOf(req);
//
// The bitemporal rule. T maps to the log position P = EventStore::PositionAtOrBefore(T) (the head
// when T = 0). The state of a site on V as known at P is the fold (EvolveSite), from the empty
// site, of the site's events with position <= P and valid_at_us <= V, taken in the order of
// (valid_at_us, position). A retroactive correction (docs/events.md) appends events whose
// valid_at_us is earlier than the site's last valid date: they take effect from that valid date
// on, until the next version by valid date overrides the fields they set; as known before the
// correction was recorded (P below its position), they are invisible.
//
// Storage (SiteVersionLog, history_versions.h) in spaces `sites` (each site's version keys and
// tail) and `snapshots` (a snapshot of the folded site every 64 versions, with the highest
// position it includes: it serves a query (V, P) when its last version is valid <= V and all its
// positions are <= P); the versions themselves are read back from the log by position. Plus
// `territories`: c <commune code> 0x00 <site id> -> "" for every commune a site was ever located
// in (on any valid date), and `communes`: <e|d|r> <EPCI, departement or region code> 0x00
// <commune code> -> "" for every commune a site was indexed in with that EPCI, departement or
// region (never deleted: a stale entry only adds candidates, which the query filters).
//
// Queries read the projection's committed state: for read-your-writes, call
// ProjectionEngine::WaitForPosition("history", p, deadline) first. Thread-safe.
#ifndef RB_PROJECTIONS_VIEWS_HISTORY_H_
#define RB_PROJECTIONS_VIEWS_HISTORY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/projection.h"
#include "projections/views/history_versions.h"
#include "resorption/v1/history_query.pb.h"

namespace rb::proj::views {

inline constexpr char kHistoryProjection[] = "history";

class HistoryProjection : public Projection {
 public:
  std::string name() const override { return kHistoryProjection; }
  // 5: sites indexed by commune only, and communes by EPCI, departement and region (`communes`),
  // instead of one key per site and level.
  uint32_t version() const override { return 5; }
  std::vector<std::string> spaces() const override {
    return {"sites", "snapshots", "territories", "communes"};
  }
  absl::Status Apply(const rb::es::RecordedEvent& event, ViewWriter& writer) const override;

 private:
  SiteVersionLog log_{{.sites = "sites", .snapshots = "snapshots"}};
};

class HistoryQuery {
 public:
  // Neither is owned; both must outlive the query object.
  HistoryQuery(const ProjectionEngine* engine, const rb::es::EventStore* store)
      : engine_(engine), store_(store) {}

  // The site on (V, T). found = false when the site has no version there (unknown site, or not
  // yet declared on V / at T). Errors: INVALID_ARGUMENT for an empty site id; those of the engine
  // (FAILED_PRECONDITION before Start) and of storage; DATA_LOSS for undecodable stored data.
  absl::StatusOr<resorption::v1::SiteAsOf> GetSiteAsOf(
      const resorption::v1::GetSiteAsOfRequest& request) const;

  // The sites located in the territory on (V, T) with the requested status (open by default),
  // ordered by id. Erased sites never appear. Errors: INVALID_ARGUMENT for a territory level
  // without a code (other than the nation or a zone); as GetSiteAsOf.
  absl::StatusOr<resorption::v1::ListSitesAtResponse> ListSitesAt(
      const resorption::v1::ListSitesAtRequest& request) const;

  // As ListSitesAt, read as known at log position `known_at_position` (request.known_at_us is
  // ignored): the pages of one list read at the first page's position.
  absl::StatusOr<resorption::v1::ListSitesAtResponse> ListSitesAtPosition(
      const resorption::v1::ListSitesAtRequest& request, uint64_t known_at_position) const;

 private:
  absl::StatusOr<uint64_t> KnownAtPosition(int64_t known_at_us) const;

  const ProjectionEngine* engine_;
  const rb::es::EventStore* store_;
};

// True when `site` (its location's territory) lies in `territory`.
bool SiteInTerritory(const resorption::v1::Site& site,
                     const resorption::v1::TerritoryRef& territory);

}  // namespace rb::proj::views

#endif  // RB_PROJECTIONS_VIEWS_HISTORY_H_
