// Copyright: the Résorption-bidonvilles data service authors.
//
// The change log ("historique") of a site or an action: one entry per version (the events of one
// append), with its author, its declared and recorded dates, its reason, and the fields that
// changed with their old and new values in French, as the platform shows them.
//
//   rb::views::ChangeLogQuery changelog(store);
//   rb::views::Visibility v;              // what the reader may see
//   v.justice = actor.CanAccessJustice();
//   absl::StatusOr<resorption::v1::ChangeLog> log = changelog.ForSite("42", v);
//   for (const auto& entry : log->entries())
//     for (const auto& c : entry.changes())
//       Print(c.field(), c.old_value(), c.new_value());  // "Nombre de personnes", "30", "45"
//
// The diff is computed between the folded states before and after each version
// (rb::domain::EvolveSite / EvolveAction) field by field over the message, never from the shape of
// the events. A site's states are the history view's: a retroactive correction is diffed against
// the site on its corrected date (rb::domain::FoldSiteInValidOrder), e.g. "40" -> "45" for a count
// corrected in February although March's count is 50. Each change carries its
// sensitivity; changes the reader may not see are removed, and entries left without a change
// are skipped. A switch of living conditions from v1 to v2 is one pseudo-change "Ancien format" ->
// "Nouveau format". Bookkeeping fields (revision, dates of update, authors) and journal comments
// are not changes.
//
// Formats: dates "01 février 2024", yes/no/unknown "oui" / "non" / "inconnu", enumerations by
// their French label, lists "a, b et c", amounts in euros "1 500,00 €", unset = "". Indicators are
// named by the platform's headings (rb::domain::IndicatorLabel); interveners read
// "u-12 (org-3) : Santé et Logement", parcel owners "Privé : Jean Dupont".
// Thread-safe; the store must outlive the query object.
#ifndef RB_PROJECTIONS_VIEWS_CHANGELOG_H_
#define RB_PROJECTIONS_VIEWS_CHANGELOG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "domain/owner_identity.h"
#include "eventstore/event_store.h"
#include "projections/views/signals.h"
#include "resorption/v1/action.pb.h"
#include "resorption/v1/site.pb.h"
#include "resorption/v1/site_query.pb.h"

namespace rb::views {

// Every changed field between two states, in message field order, unfiltered.
std::vector<resorption::v1::FieldChange> DiffSites(const resorption::v1::Site& before,
                                                   const resorption::v1::Site& after);
std::vector<resorption::v1::FieldChange> DiffActions(const resorption::v1::Action& before,
                                                     const resorption::v1::Action& after);

// True when two consecutive events of one stream belong to the same version (the same command):
// same metadata, valid date and recording time.
bool SameVersion(const rb::es::RecordedEvent& a, const rb::es::RecordedEvent& b);

// Display helpers (exposed for exports and tests).
std::string FormatFrenchDate(const resorption::v1::Date& date);  // "01 février 2024"; "" if empty
std::string JoinFrench(const std::vector<std::string>& items);   // "a, b et c"

class ChangeLogQuery {
 public:
  // `owner_cipher` opens the sealed owner names for readers who see owners
  // (domain/owner_identity.h); null: sealed names are left out. Not owned.
  explicit ChangeLogQuery(const rb::es::EventStore* store,
                          const rb::domain::OwnerIdentityCipher* owner_cipher = nullptr)
      : store_(store), owner_cipher_(owner_cipher) {}

  // The change log of the site / action, oldest version first. An unknown id gives an empty log.
  // Errors: storage errors; DATA_LOSS / FAILED_PRECONDITION for undecodable events.
  absl::StatusOr<resorption::v1::ChangeLog> ForSite(const std::string& site_id,
                                                    const Visibility& visibility) const;
  absl::StatusOr<resorption::v1::ChangeLog> ForAction(const std::string& action_id,
                                                      const Visibility& visibility) const;

 private:
  const rb::es::EventStore* store_;
  const rb::domain::OwnerIdentityCipher* owner_cipher_;
};

}  // namespace rb::views

#endif  // RB_PROJECTIONS_VIEWS_CHANGELOG_H_
