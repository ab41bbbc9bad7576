// Copyright: the Résorption-bidonvilles data service authors.
//
// The `action_views` view: the current state of every action, its yearly indicators and finances
// aggregated per departement or per topic, and, for each site, its open actions and whether one
// is financed by the credits dedicated to the resorption of shantytowns ("dedie").
//
//   RB_RETURN_IF_ERROR(engine.Register(std::make_unique<rb::proj::views::ActionViewsProjection>()));
//   rb::proj::views::ActionQuery actions(&engine);
//   resorption::v1::ActionAggregatesRequest req;
//   req.set_year(2024);
//   req.set_grouping(resorption::v1::ACTION_GROUPING_TOPIC);
//   absl::StatusOr<resorption::v1::ActionAggregatesResponse> a = actions.Aggregates(req);
//
// Spaces: `actions` (action id -> Action, the fold of its stream by EvolveAction) and
// `site_actions` (<site id> 0x00 <action id> -> ActionLinkValue: the years with dedicated
// credits, sorted, as decimal text separated by ','; empty text: none), kept for the sites listed
// by an open "on site" action (closing the action removes its links). Aggregates are computed at
// query time from `actions` (a few thousand actions at most: one scan), so re-recorded years
// replace the old figures by construction. Thread-safe.
#ifndef RB_PROJECTIONS_VIEWS_ACTION_VIEWS_H_
#define RB_PROJECTIONS_VIEWS_ACTION_VIEWS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "projections/engine.h"
#include "projections/projection.h"
#include "resorption/v1/action.pb.h"
#include "resorption/v1/action_query.pb.h"

namespace rb::proj::views {

inline constexpr char kActionViewsProjection[] = "action_views";

class ActionViewsProjection : public Projection {
 public:
  std::string name() const override { return kActionViewsProjection; }
  // 2: `site_actions` links only open actions (1 kept the closed ones).
  uint32_t version() const override { return 2; }
  std::vector<std::string> spaces() const override { return {"actions", "site_actions"}; }
  absl::Status Apply(const rb::es::RecordedEvent& event, ViewWriter& writer) const override;
};

// Years (sorted) in which `action` has a "dedie" finance line with a planned or spent amount > 0.
std::vector<int32_t> DedicatedFinancingYears(const resorption::v1::Action& action);

class ActionQuery {
 public:
  explicit ActionQuery(const ProjectionEngine* engine) : engine_(engine) {}

  // NOT_FOUND for an unknown action; engine and storage errors; DATA_LOSS for bad stored data.
  absl::StatusOr<resorption::v1::Action> GetAction(const std::string& action_id) const;
  absl::StatusOr<resorption::v1::ListActionsResponse> ListActions(
      const resorption::v1::ListActionsRequest& request) const;
  // One aggregate per (year, departement) or (year, topic) with indicators or finances.
  absl::StatusOr<resorption::v1::ActionAggregatesResponse> Aggregates(
      const resorption::v1::ActionAggregatesRequest& request) const;
  // The site's open "on site" actions (has_action false for a site without any).
  absl::StatusOr<resorption::v1::SiteActions> ForSite(const std::string& site_id) const;

 private:
  const ProjectionEngine* engine_;
};

}  // namespace rb::proj::views

#endif  // RB_PROJECTIONS_VIEWS_ACTION_VIEWS_H_
