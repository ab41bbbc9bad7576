// Copyright: the Résorption-bidonvilles data service authors.
#include "services/erasure_sweep.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "access/directory.h"
#include "domain/dates.h"
#include "domain/owner_identity.h"

namespace rb::services {
namespace {

namespace v1 = resorption::v1;
using rb::domain::CommandResult;

constexpr int64_t kMicrosPerDay = int64_t{86'400'000'000};
constexpr char kSweepReasonOwner[] =
    "Anonymisation du propriétaire privé : site fermé depuis plus d'un an";
constexpr char kRequestReasonOwner[] = "Anonymisation du propriétaire à la demande";
constexpr char kInactivityReason[] = "Compte désactivé : aucune connexion depuis plus de six mois";

rb::domain::CommandHandlerOptions HandlerOptions(Authenticator* auth) {
  rb::domain::CommandHandlerOptions o;
  o.owner_cipher = &auth->owner_keys();
  return o;
}

rb::domain::Actor SystemActor() {
  rb::domain::Actor actor;
  actor.user_id = kSystemUserId;
  actor.organisation_id = kBootstrapOrganisationId;
  actor.role = rb::domain::Role::kNationalAdmin;
  return actor;
}

}  // namespace

ErasureSweep::ErasureSweep(rb::es::EventStore* store, Authenticator* auth, ErasureOptions options,
                           Logger* logger)
    : store_(store),
      auth_(auth),
      options_(std::move(options)),
      logger_(logger),
      handler_(store, HandlerOptions(auth)) {}

ErasureSweep::~ErasureSweep() { Stop(); }

int64_t ErasureSweep::NowUs() const {
  return options_.now_us ? options_.now_us() : absl::ToUnixMicros(absl::Now());
}

absl::StatusOr<v1::AnonymiseSiteOwnerResponse> ErasureSweep::Anonymise(
    const std::string& site_id, const std::string& rule, const std::string& reason,
    const rb::domain::Actor& actor) {
  absl::StatusOr<v1::Site> before = handler_.LoadSite(site_id);
  if (!before.ok()) return before.status();
  if (before->status() == v1::SITE_STATUS_UNSPECIFIED) {
    return absl::NotFoundError(absl::StrCat("site sites/", site_id, " does not exist"));
  }
  v1::SiteCommand cmd;
  cmd.set_site_id(site_id);
  cmd.set_reason(reason);
  cmd.mutable_anonymise_owner()->set_rule(rule);
  rb::domain::Context ctx;
  ctx.now_us = NowUs();
  ctx.actor = actor;
  absl::StatusOr<CommandResult> r = handler_.HandleSite(cmd, ctx);
  if (!r.ok()) return r.status();
  const bool appended = r->outcome == CommandResult::Outcome::kAppended;
  // The event is durable: destroy the key of every anonymised generation (also repairs a crash
  // between an earlier event and its key destruction).
  const int generations = before->owner_anonymisations() + (appended ? 1 : 0);
  if (absl::Status s = auth_->owner_keys().Destroy(site_id, generations, ctx.now_us); !s.ok()) {
    return s;
  }
  v1::AnonymiseSiteOwnerResponse resp;
  resp.set_anonymised(appended);
  if (appended) resp.set_position(r->last_position);
  return resp;
}

absl::StatusOr<v1::AnonymiseSiteOwnerResponse> ErasureSweep::AnonymiseSiteOwner(
    const std::string& site_id, const std::string& reason, const rb::domain::Actor& actor) {
  absl::MutexLock lock(&run_mu_);
  absl::StatusOr<v1::AnonymiseSiteOwnerResponse> r = Anonymise(
      site_id, rb::domain::kRuleOnRequest, reason.empty() ? kRequestReasonOwner : reason, actor);
  if (!r.ok()) return r.status();
  if (absl::Status s = rb::access::SubjectKeys::Purge(store_); !s.ok()) return s;
  if (logger_ != nullptr && r->anonymised()) {
    logger_->Info("erasure.owner_anonymised")
        .Str("site_id", site_id)
        .Str("rule", rb::domain::kRuleOnRequest)
        .Str("actor", actor.user_id);
  }
  return r;
}

absl::Status ErasureSweep::SweepSites(bool dry_run, v1::ErasureSweepReport* report) {
  rb::es::LogFilter filter;
  filter.categories = {"site"};
  filter.type_prefixes = {"site.closed", "site.closure_corrected"};
  std::set<std::string> ids;
  absl::StatusOr<rb::es::ReadAllResult> scan =
      store_->ScanAll(1, filter, SIZE_MAX, [&](const rb::es::RecordedEvent& e) {
        if (e.stream_id.size() > 5) ids.insert(e.stream_id.substr(5));  // "site-"
        return true;
      });
  if (!scan.ok()) return scan.status();
  rb::domain::Context now;
  now.now_us = report->now_us();
  const absl::CivilDay today = now.today();
  for (const std::string& id : ids) {
    absl::StatusOr<v1::Site> site = handler_.LoadSite(id);
    if (!site.ok()) return site.status();
    if (site->status() != v1::SITE_STATUS_CLOSED) continue;
    std::optional<absl::CivilDay> closed = rb::domain::ToCivilDay(site->closure().closed_at());
    if (!closed.has_value() || !(*closed + options_.owner_retention_days < today)) continue;
    if (!rb::domain::HasPrivateOwner(*site)) continue;
    if (!rb::domain::HasPersonalOwnerName(site->ownership())) {
      // Already anonymised: make sure no key survived a crash.
      const int n = site->owner_anonymisations();
      if (!dry_run && n > 0) {
        absl::StatusOr<bool> left = auth_->owner_keys().HasKey(id, n - 1);
        if (!left.ok()) return left.status();
        if (*left) {
          if (absl::Status s = auth_->owner_keys().Destroy(id, n, report->now_us()); !s.ok()) {
            return s;
          }
        }
      }
      continue;
    }
    report->add_anonymised_site_ids(id);
    if (dry_run) continue;
    absl::StatusOr<v1::AnonymiseSiteOwnerResponse> r =
        Anonymise(id, rb::domain::kRuleClosedOverOneYear, kSweepReasonOwner, SystemActor());
    if (!r.ok()) return r.status();
  }
  return absl::OkStatus();
}

absl::Status ErasureSweep::SweepUsers(bool dry_run, v1::ErasureSweepReport* report) {
  absl::StatusOr<std::vector<v1::User>> users = auth_->directory().ListUsers("");
  if (!users.ok()) return users.status();
  const int64_t erase_before = report->now_us() - options_.user_retention_days * kMicrosPerDay;
  const int64_t idle_before = report->now_us() - options_.user_inactivity_days * kMicrosPerDay;
  for (const v1::User& u : *users) {
    if (u.erased()) continue;
    const bool active = u.status() == v1::USER_STATUS_ACTIVE;
    if (active ? options_.user_inactivity_days <= 0 || u.id() == kBootstrapAdminId ||
                     u.id() == kSystemUserId
               : u.status() != v1::USER_STATUS_INACTIVE || options_.user_retention_days <= 0) {
      continue;
    }
    absl::StatusOr<std::vector<rb::es::RecordedEvent>> events = store_->ReadStream(
        rb::access::UserStreamId(u.id()), 0, rb::es::Direction::kForward, SIZE_MAX);
    if (!events.ok()) return events.status();
    int64_t deactivated_at = 0;
    int64_t changed_at = 0;
    for (const rb::es::RecordedEvent& e : *events) {
      if (e.type == "user.deactivated") deactivated_at = e.recorded_at_us;
      changed_at = e.recorded_at_us;
    }
    if (active) {
      // Deactivated six months after the last sign-in (or the last change of the account).
      absl::StatusOr<int64_t> signed_in = auth_->tokens().LastUse(u.id());
      if (!signed_in.ok()) return signed_in.status();
      if (std::max(*signed_in, changed_at) > idle_before) continue;
      report->add_deactivated_user_ids(u.id());
      if (dry_run) continue;
      absl::StatusOr<v1::User> off = auth_->directory().SetUserStatus(
          u.id(), /*active=*/false, kInactivityReason, Authenticator::System());
      if (!off.ok()) return off.status();
      absl::StatusOr<int> revoked = auth_->tokens().RevokeAllOf(u.id(), report->now_us());
      if (!revoked.ok()) return revoked.status();
      continue;
    }
    if (deactivated_at == 0 || deactivated_at > erase_before) continue;
    report->add_erased_user_ids(u.id());
    if (dry_run) continue;
    absl::StatusOr<v1::User> erased = auth_->directory().EraseUser(u.id(), Authenticator::System());
    if (!erased.ok()) return erased.status();
    absl::StatusOr<int> revoked = auth_->tokens().RevokeAllOf(u.id(), report->now_us());
    if (!revoked.ok()) return revoked.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ErasureSweepReport> ErasureSweep::RunOnce(bool dry_run) {
  absl::MutexLock lock(&run_mu_);
  v1::ErasureSweepReport report;
  report.set_now_us(NowUs());
  report.set_dry_run(dry_run);
  if (absl::Status s = SweepSites(dry_run, &report); !s.ok()) return s;
  if (absl::Status s = SweepUsers(dry_run, &report); !s.ok()) return s;
  if (!dry_run) {
    if (absl::Status s = rb::access::SubjectKeys::Purge(store_); !s.ok()) return s;
  }
  if (logger_ != nullptr) {
    logger_->Info("erasure.sweep")
        .Bool("dry_run", dry_run)
        .Int("owners_anonymised", report.anonymised_site_ids_size())
        .Int("users_erased", report.erased_user_ids_size())
        .Int("users_deactivated", report.deactivated_user_ids_size());
  }
  return report;
}

void ErasureSweep::Start() {
  if (options_.interval <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ErasureSweep::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void ErasureSweep::Loop() {
  mu_.Lock();
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.interval);
    if (stopping_) break;
    mu_.Unlock();
    absl::StatusOr<v1::ErasureSweepReport> r = RunOnce(/*dry_run=*/false);
    if (!r.ok() && logger_ != nullptr) {
      logger_->Error("erasure.sweep_failed")
          .Str("code", absl::StatusCodeToString(r.status().code()))
          .Str("message", r.status().message());
    }
    mu_.Lock();
  }
  mu_.Unlock();
}

}  // namespace rb::services
