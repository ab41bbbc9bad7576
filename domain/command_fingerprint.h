// Copyright: the Résorption-bidonvilles data service authors.
//
// The fingerprint of a domain command: what tells a retry of a command (same command id, same
// request: the first result is replayed) from a command id reused for another command (refused
// with rb::es::CommandIdReusedError, nothing appended). The command handler stores it with the
// command id, in the batch that appends the command's events
// (rb::es::AppendRequest::command_fingerprint), and compares it when the id comes again.
//
//   absl::StatusOr<std::string> fp =
//       rb::domain::SiteCommandFingerprint(command, ctx.actor, site.owner_anonymisations(), keys);
//
// What the fingerprint covers: the command as the client sent it — aggregate id, valid date,
// reason and body — without `command_id` (the key itself) and `expected_revision` (a guard on the
// state, not part of the change: a client that reads the resource again before resending the same
// change names a newer revision), and the actor who sends it (user, organisation, role: from
// authentication). Not the actor's options (rights, checked again at each try), nor the time of
// the try. Deterministic: the same command and actor give the same 32 bytes in every process.
//
// Bytes: SHA-256 of "resorption.command-fingerprint.v1", then, each as a varint length and its
// bytes: the kind ("site" or "action"), the actor's user id, organisation id and role id, and the
// command's deterministic protobuf serialization (fields in number order, map entries sorted).
// A site command that holds the name of a non-public owner (personal data, docs/access.md
// section 8) is digested instead under the site's owner key (OwnerIdentityCipher::Digest, subject
// OwnerKeySubject(site id, anonymisations)), so that no stored fingerprint can be tested against a
// guessed name once the names are erased; without a cipher the names are stored in clear anyway,
// and the SHA-256 is used.
#ifndef RB_DOMAIN_COMMAND_FINGERPRINT_H_
#define RB_DOMAIN_COMMAND_FINGERPRINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "domain/context.h"
#include "domain/owner_identity.h"
#include "resorption/v1/action_commands.pb.h"
#include "resorption/v1/site_commands.pb.h"

namespace rb::domain {

// The fingerprint of a site command sent by `actor`, on a site whose state counts
// `owner_anonymisations` (Site.owner_anonymisations). `cipher` may be null.
// Errors: those of cipher->Digest (FAILED_PRECONDITION when the site's owner key was destroyed),
// for a command holding a non-public owner's name only.
absl::StatusOr<std::string> SiteCommandFingerprint(const resorption::v1::SiteCommand& command,
                                                   const Actor& actor, int owner_anonymisations,
                                                   OwnerIdentityCipher* cipher);

// The fingerprint of an action command sent by `actor`.
std::string ActionCommandFingerprint(const resorption::v1::ActionCommand& command,
                                     const Actor& actor);

// True when the site command holds the name of a non-public owner (declare, update or
// retroactive correction with such an ownership, whatever the update mask).
bool HoldsPersonalOwnerName(const resorption::v1::SiteCommand& command);

}  // namespace rb::domain

#endif  // RB_DOMAIN_COMMAND_FINGERPRINT_H_
