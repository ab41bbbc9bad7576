// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/command_fingerprint.h"

#include <string_view>

#include "domain/events.h"
#include "eventstore/event.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;

constexpr std::string_view kTag = "resorption.command-fingerprint.v1";

void PutLengthPrefixed(std::string* out, std::string_view s) {
  uint64_t n = s.size();
  while (n >= 0x80) {
    out->push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(s.data(), s.size());
}

// What is fingerprinted: the tag, the kind, the actor and the command without its command id and
// expected revision.
template <typename Command>
std::string FingerprintedBytes(std::string_view kind, const Command& command, const Actor& actor) {
  Command copy = command;
  copy.clear_command_id();
  copy.clear_expected_revision();
  std::string bytes(kTag);
  PutLengthPrefixed(&bytes, kind);
  PutLengthPrefixed(&bytes, actor.user_id);
  PutLengthPrefixed(&bytes, actor.organisation_id);
  const absl::string_view role = RoleId(actor.role);
  PutLengthPrefixed(&bytes, std::string_view(role.data(), role.size()));
  PutLengthPrefixed(&bytes, DeterministicBytes(copy));
  return bytes;
}

}  // namespace

bool HoldsPersonalOwnerName(const v1::SiteCommand& command) {
  const v1::Site* site = nullptr;
  if (command.has_declare()) site = &command.declare().site();
  if (command.has_update()) site = &command.update().site();
  if (command.has_correct_retroactively()) site = &command.correct_retroactively().update().site();
  return site != nullptr && site->has_ownership() && HasPersonalOwnerName(site->ownership());
}

absl::StatusOr<std::string> SiteCommandFingerprint(const v1::SiteCommand& command,
                                                   const Actor& actor, int owner_anonymisations,
                                                   OwnerIdentityCipher* cipher) {
  const std::string bytes = FingerprintedBytes("site", command, actor);
  if (cipher != nullptr && HoldsPersonalOwnerName(command)) {
    return cipher->Digest(OwnerKeySubject(command.site_id(), owner_anonymisations), bytes);
  }
  return rb::es::Sha256(bytes);
}

std::string ActionCommandFingerprint(const v1::ActionCommand& command, const Actor& actor) {
  return rb::es::Sha256(FingerprintedBytes("action", command, actor));
}

}  // namespace rb::domain
