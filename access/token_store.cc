// Copyright: the Résorption-bidonvilles data service authors.
#include "access/token_store.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "access/crypto.h"
#include "access/strings.h"

namespace rb::access {
namespace {

const std::string& Space() {
  static const auto* s = new std::string(kTokenSpace);
  return *s;
}

absl::Status Unauthenticated() {
  return absl::UnauthenticatedError("the bearer token is unknown, expired or revoked");
}

}  // namespace

absl::Status TokenStore::Init() { return kv_->CreateSpace(Space()); }

absl::StatusOr<IssuedToken> TokenStore::Issue(std::string_view user_id, int64_t now_us,
                                              absl::Duration ttl, std::string_view issued_by,
                                              std::string_view label) {
  IssuedToken out;
  out.token = NewToken();
  const std::string hash = Hex(Sha256(out.token));
  auto& r = out.record;
  r.set_token_id(hash.substr(0, 16));
  r.set_user_id(std::string(user_id));
  r.set_issued_at_us(now_us);
  r.set_expires_at_us(ttl > absl::ZeroDuration() ? now_us + absl::ToInt64Microseconds(ttl) : 0);
  r.set_issued_by(std::string(issued_by));
  r.set_label(std::string(label));
  rb::es::KvWriteBatch batch;
  batch.Put(Space(), absl::StrCat("h/", hash), r.SerializeAsString());
  batch.Put(Space(), absl::StrCat("i/", r.token_id()), hash);
  if (absl::Status s = kv_->Write(batch, /*sync=*/true); !s.ok()) return s;
  return out;
}

absl::StatusOr<resorption::v1::TokenRecord> TokenStore::Lookup(std::string_view token,
                                                               int64_t now_us) const {
  if (token.size() != 64) return Unauthenticated();
  auto v = kv_->Get(Space(), absl::StrCat("h/", Hex(Sha256(token))));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return Unauthenticated();
  resorption::v1::TokenRecord r;
  if (!r.ParseFromString(**v)) return absl::DataLossError("undecodable token record");
  if (r.revoked_at_us() != 0) return Unauthenticated();
  if (r.expires_at_us() != 0 && now_us >= r.expires_at_us()) return Unauthenticated();
  return r;
}

absl::StatusOr<resorption::v1::TokenRecord> TokenStore::Find(std::string_view token_id) const {
  auto hash = kv_->Get(Space(), absl::StrCat("i/", Sv(token_id)));
  if (!hash.ok()) return hash.status();
  if (!hash->has_value())
    return absl::NotFoundError(absl::StrCat("token ", Sv(token_id), " not found"));
  auto v = kv_->Get(Space(), absl::StrCat("h/", **hash));
  if (!v.ok()) return v.status();
  resorption::v1::TokenRecord r;
  if (!v->has_value() || !r.ParseFromString(**v)) {
    return absl::DataLossError(absl::StrCat("token ", Sv(token_id), " has no record"));
  }
  return r;
}

absl::StatusOr<resorption::v1::TokenRecord> TokenStore::Revoke(std::string_view token_id,
                                                               int64_t now_us) {
  auto hash = kv_->Get(Space(), absl::StrCat("i/", Sv(token_id)));
  if (!hash.ok()) return hash.status();
  if (!hash->has_value())
    return absl::NotFoundError(absl::StrCat("token ", Sv(token_id), " not found"));
  const std::string key = absl::StrCat("h/", **hash);
  auto v = kv_->Get(Space(), key);
  if (!v.ok()) return v.status();
  resorption::v1::TokenRecord r;
  if (!v->has_value() || !r.ParseFromString(**v)) {
    return absl::DataLossError(absl::StrCat("token ", Sv(token_id), " has no record"));
  }
  if (r.revoked_at_us() == 0) {
    r.set_revoked_at_us(now_us);
    rb::es::KvWriteBatch batch;
    batch.Put(Space(), key, r.SerializeAsString());
    if (absl::Status s = kv_->Write(batch, /*sync=*/true); !s.ok()) return s;
  }
  return r;
}

absl::StatusOr<int> TokenStore::RevokeAllOf(std::string_view user_id, int64_t now_us) {
  auto it = kv_->NewIterator(Space());
  if (!it.ok()) return it.status();
  rb::es::KvWriteBatch batch;
  int n = 0;
  for ((*it)->Seek("h/"); (*it)->Valid() && (*it)->key().substr(0, 2) == "h/"; (*it)->Next()) {
    resorption::v1::TokenRecord r;
    if (!r.ParseFromString(std::string((*it)->value()))) continue;
    if (r.user_id() != user_id || r.revoked_at_us() != 0) continue;
    r.set_revoked_at_us(now_us);
    batch.Put(Space(), (*it)->key(), r.SerializeAsString());
    ++n;
  }
  if (absl::Status s = (*it)->status(); !s.ok()) return s;
  if (!batch.empty()) {
    if (absl::Status s = kv_->Write(batch, /*sync=*/true); !s.ok()) return s;
  }
  return n;
}

absl::Status TokenStore::RecordUse(std::string_view user_id, int64_t now_us) const {
  constexpr int64_t kMicrosPerDay = int64_t{86'400'000'000};
  const int64_t day = now_us - now_us % kMicrosPerDay;
  {
    absl::MutexLock lock(&mu_);
    auto it = last_day_.find(std::string(user_id));
    if (it != last_day_.end() && it->second >= day) return absl::OkStatus();
  }
  rb::es::KvWriteBatch batch;
  batch.Put(Space(), absl::StrCat("u/", Sv(user_id)), absl::StrCat(day));
  if (absl::Status s = kv_->Write(batch, /*sync=*/false); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  int64_t& known = last_day_[std::string(user_id)];
  known = std::max(known, day);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> TokenStore::LastUse(std::string_view user_id) const {
  auto v = kv_->Get(Space(), absl::StrCat("u/", Sv(user_id)));
  if (!v.ok()) return v.status();
  int64_t day = 0;
  if (v->has_value() && !absl::SimpleAtoi(**v, &day)) {
    return absl::DataLossError("undecodable last sign-in record");
  }
  return day;
}

}  // namespace rb::access
