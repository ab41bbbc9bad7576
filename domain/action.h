// Copyright: the Résorption-bidonvilles data service authors.
//
// The action aggregate (intervention programme): pure decision and evolution, like site.h.
//
//   resorption::v1::ActionCommand cmd;
//   cmd.set_action_id("7");
//   auto* ind = cmd.mutable_record_indicators()->mutable_indicators();
//   ind->set_year(2024);
//   ind->set_nombre_personnes(40);
//   absl::StatusOr<rb::domain::ActionDecision> d = rb::domain::DecideAction(action, cmd, ctx);
//
// Errors: INVALID_ARGUMENT (field violations, all at once), FAILED_PRECONDITION (closed action,
// already created), NOT_FOUND (never created), PERMISSION_DENIED (not a manager, operator or
// administrator; finances without the finance access). Thread-safe.
#ifndef RB_DOMAIN_ACTION_H_
#define RB_DOMAIN_ACTION_H_

#include <vector>

#include "absl/status/statusor.h"
#include "domain/context.h"
#include "resorption/v1/action.pb.h"
#include "resorption/v1/action_commands.pb.h"
#include "resorption/v1/action_events.pb.h"

namespace rb::domain {

struct ActionDecision {
  std::vector<resorption::v1::ActionEvent> events;
  bool no_change() const { return events.empty(); }
};

[[nodiscard]] absl::StatusOr<ActionDecision> DecideAction(
    const resorption::v1::Action& state, const resorption::v1::ActionCommand& command,
    const Context& context);

resorption::v1::Action EvolveAction(resorption::v1::Action state,
                                    const resorption::v1::ActionEvent& event);

resorption::v1::Action FoldAction(const std::vector<resorption::v1::ActionEvent>& events);

}  // namespace rb::domain

#endif  // RB_DOMAIN_ACTION_H_
