// Copyright: the Résorption-bidonvilles data service authors.
//
// The current state of every site, with secondary index keys for filtered, sorted, paginated
// listing (docs/projections.md, section "site_list").
//
//   rb::proj::ProjectionEngine engine(store, {});
//   RB_RETURN_IF_ERROR(engine.Register(std::make_unique<rb::views::SiteListProjection>()));
//   RB_RETURN_IF_ERROR(engine.Start());
//   ...
//   rb::views::SiteListQuery query(&engine);
//   resorption::v1::ListSitesRequest req;
//   req.mutable_filter()->add_departement_codes("93");
//   req.mutable_sort()->set_field(resorption::v1::SITE_SORT_FIELD_POPULATION);
//   req.set_page_size(50);
//   absl::StatusOr<resorption::v1::ListSitesResponse> page = query.List(req);
//   // then req.set_page_token(page->next_page_token()) for the next page.
//
// Pagination is by cursor: the page token holds the sort key and the id of the last row, never an
// offset. A row whose sort key does not change while a client pages is returned exactly once,
// whatever else is inserted, updated or closed meanwhile.
#ifndef RB_PROJECTIONS_VIEWS_SITE_LIST_H_
#define RB_PROJECTIONS_VIEWS_SITE_LIST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "projections/engine.h"
#include "projections/projection.h"
#include "projections/views/signals.h"
#include "resorption/v1/site_query.pb.h"

namespace rb::views {

// Projection "site_list", version 6 (3: the index skeleton holds the insalubrity order, for its
// filter; 4: index keys at the nation and departement levels only, 6 per site instead of 15;
// 5: the `territories` space; 6: index keys at the departement level only, 3 per site, the nation
// listed from the ranges of every departement in `territories`). Spaces:
//   sites    site id -> SiteListRecord (folded Site + the open "sur site" actions listing it)
//   actions  action id -> ActionLinkRecord (folded Action)
//   index    d<departement>\0<state><sort><sort key>\0<site id> -> SiteListRecord holding the
//            site's skeleton (the fields filters, sorts and the score read) and its action links;
//            the nation, a region, an EPCI or a commune is listed from the ranges of the
//            departements its sites lie in (merged), its own code matched on the skeleton
//   territories  <r|e|c><region, EPCI or commune code>\0<departement> -> "" and
//            d<departement>\0<departement> -> "": the departements where a site of that
//            territory (of the nation, for `d`) was indexed, from the sites' own codes (never
//            deleted: a stale entry only adds a range to scan, an empty one for `d`)
//   meta     "max_valid_at_us" -> decimal (latest valid date of a site event)
// Apply folds site events with rb::domain::EvolveSite and action events with EvolveAction; a
// site event dated before the site's latest one (a retroactive correction) re-folds the site's
// stream in valid order (rb::domain::FoldSiteInValidOrder), so that the current state is the
// history view's state on the latest date.
class SiteListProjection : public rb::proj::Projection {
 public:
  static constexpr char kName[] = "site_list";
  std::string name() const override { return kName; }
  uint32_t version() const override { return 6; }
  std::vector<std::string> spaces() const override {
    return {"sites", "actions", "index", "meta", "territories"};
  }
  absl::Status Apply(const rb::es::RecordedEvent& event,
                     rb::proj::ViewWriter& writer) const override;
};

// The index keys of a site (empty for a site neither open nor closed). Exposed for tests and
// docs; sorted.
std::vector<std::string> SiteIndexKeys(const resorption::v1::Site& site);

ActionFacts FactsOf(const resorption::v1::SiteListRecord& record);

// Removes from `site` what the reader may not see: procedures without justice access, owner
// identity without owner access, interveners without personal access; and always the journal
// (comments have their own per-message access rules and their own query).
void RedactSite(resorption::v1::Site& site, const Visibility& visibility);

// A summary row of the list (signals computed for `reference`, as the reader may see them).
resorption::v1::SiteSummary Summarize(const resorption::v1::SiteListRecord& record,
                                      absl::CivilDay reference, bool include_site,
                                      const Visibility& visibility = Visibility::All());

struct SiteListQueryOptions {
  int default_page_size = 50;
  int max_page_size = 500;
};

// Queries over the site_list view. Thread-safe; the engine must outlive the query object.
class SiteListQuery {
 public:
  explicit SiteListQuery(const rb::proj::ProjectionEngine* engine,
                         SiteListQueryOptions options = {});

  // One page of sites matching the filter, in the requested order, as `visibility` allows
  // (restricted priority factors left out of the score, restricted fields removed).
  // Errors: INVALID_ARGUMENT (bad filter, page size < 0, page token malformed or made for
  // another filter or sort); PERMISSION_DENIED (a justice or police filter without justice
  // access); FAILED_PRECONDITION (projection not registered or not started); storage errors;
  // DATA_LOSS for an undecodable stored record.
  absl::StatusOr<resorption::v1::ListSitesResponse> List(
      const resorption::v1::ListSitesRequest& request,
      const Visibility& visibility = Visibility::All()) const;

  // One site (with the whole folded Site, redacted for `visibility`). NOT_FOUND when unknown or
  // erased.
  absl::StatusOr<resorption::v1::SiteSummary> Get(
      const std::string& site_id, std::optional<absl::CivilDay> reference = std::nullopt,
      const Visibility& visibility = Visibility::All()) const;

  // The latest valid date seen in the log (the default reference date); nullopt before any site
  // event.
  absl::StatusOr<std::optional<absl::CivilDay>> LatestValidDay() const;

 private:
  const rb::proj::ProjectionEngine* engine_;
  SiteListQueryOptions options_;
};

}  // namespace rb::views

#endif  // RB_PROJECTIONS_VIEWS_SITE_LIST_H_
