// Copyright: the Résorption-bidonvilles data service authors.
//
// The Sites RPCs served by the `history` view: GetSiteAsOf and ListSitesAsOf (declared in
// sites_service.h; contracts in resorption/v1/sites_service.proto and docs/api.md).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "domain/dates.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "projections/views/history.h"
#include "projections/views/site_filter.h"
#include "services/access_context.h"
#include "services/projections_module.h"
#include "services/sites_service.h"
#include "services/status_mapping.h"

namespace rb::services {

namespace v1 = resorption::v1;

namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// The last microsecond of `date` (UTC): a state "on" a day includes every version valid that day.
// Adds a violation and returns 0 when the date is missing or invalid.
int64_t EndOfDayUs(const v1::Date& date, bool present, const std::string& field,
                   std::vector<FieldViolation>& violations) {
  if (!present) {
    violations.push_back({field, "is required"});
    return 0;
  }
  std::optional<absl::CivilDay> day = rb::domain::ToCivilDay(date);
  if (!day || date.year() < 1970 || date.year() > 2200) {
    violations.push_back({field, "must be a valid date between 1970 and 2200"});
    return 0;
  }
  return absl::ToUnixMicros(absl::FromCivil(*day + 1, absl::UTCTimeZone())) - 1;
}

// Microseconds of `known_at` (0 when unset: as known now). Adds a violation for an instant at or
// before the epoch.
int64_t KnownAtUs(const google::protobuf::Timestamp& known_at, bool present,
                  std::vector<FieldViolation>& violations) {
  if (!present) return 0;
  // A Timestamp's range: up to 9999-12-31T23:59:59Z, nanos within a second.
  if (known_at.seconds() > 253402300799 || known_at.nanos() < 0 || known_at.nanos() > 999999999) {
    violations.push_back({"known_at", "must be a valid time, at most 9999-12-31T23:59:59Z"});
    return 0;
  }
  const int64_t us = known_at.seconds() * 1'000'000 + known_at.nanos() / 1000;
  if (known_at.seconds() < 0 || us <= 0) {
    violations.push_back({"known_at", "must be after 1970-01-01T00:00:00Z"});
    return 0;
  }
  return us;
}

// The readiness shared by both RPCs: the engine exists and the history view includes
// `min_position` (bounded by the call's deadline).
absl::StatusOr<rb::proj::ProjectionEngine*> HistoryEngine(grpc::CallbackServerContext* ctx,
                                                          const EngineRef* engine,
                                                          const rb::es::EventStore& store,
                                                          uint64_t min_position) {
  if (engine == nullptr || engine->get() == nullptr) {
    return absl::UnavailableError("the history view is not served by this server");
  }
  if (absl::Status s = api::CheckMinPosition(store, min_position); !s.ok()) return s;
  if (absl::Status s = engine->WaitForPosition(rb::proj::views::kHistoryProjection, min_position,
                                               absl::FromChrono(ctx->deadline()));
      !s.ok()) {
    return s;
  }
  rb::proj::ProjectionEngine* e = engine->get();
  if (e == nullptr) return absl::UnavailableError("the projections are not running");
  return e;
}

// FNV-1a 64 of the bytes: a page token's fingerprint of the query (stable across processes).
uint64_t Fnv1a(const std::string& bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Every field that shapes the list, deterministically serialised: a token is only valid for the
// query that produced it.
uint64_t QueryFingerprint(const v1::ListSitesAsOfQuery& req) {
  v1::ListSitesAsOfQuery shape = req;
  shape.clear_page_size();
  shape.clear_page_token();
  shape.clear_min_position();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.SetSerializationDeterministic(true);
    shape.SerializeToCodedStream(&out);
  }
  return Fnv1a(bytes);
}

// Page token: web-safe base64 of "<fingerprint hex>:<known_at_position>:<last site id>".
struct PageToken {
  uint64_t fingerprint = 0;
  uint64_t position = 0;
  std::string after_id;
};

std::string EncodeToken(const PageToken& t) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(absl::Hex(t.fingerprint), ":", t.position, ":", t.after_id));
}

std::optional<PageToken> DecodeToken(const std::string& token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits(':', 2));
  if (parts.size() != 3 || parts[2].empty()) return std::nullopt;
  PageToken t;
  if (!absl::SimpleHexAtoi(parts[0], &t.fingerprint)) return std::nullopt;
  if (!absl::SimpleAtoi(parts[1], &t.position)) return std::nullopt;
  t.after_id = std::move(parts[2]);
  return t;
}

}  // namespace

absl::Status SitesService::DoGetSiteAsOf(grpc::CallbackServerContext* ctx,
                                         const v1::GetSiteAsOfQuery& req, v1::SiteAsOf* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Sites/GetSiteAsOf", /*require_actor=*/true);
  if (!access.ok()) return access.status();
  std::vector<FieldViolation> violations;
  std::string id = api::IdFromName(req.name(), "sites", "name", violations);
  const int64_t valid_us =
      EndOfDayUs(req.valid_date(), req.has_valid_date(), "valid_date", violations);
  const int64_t known_us = KnownAtUs(req.known_at(), req.has_known_at(), violations);
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);

  absl::StatusOr<rb::proj::ProjectionEngine*> engine =
      HistoryEngine(ctx, engine_, *store_, req.min_position());
  if (!engine.ok()) return engine.status();
  rb::proj::views::HistoryQuery history(*engine, store_);
  v1::GetSiteAsOfRequest query;
  query.set_site_id(id);
  query.set_valid_at_us(valid_us);
  query.set_known_at_us(known_us);
  absl::StatusOr<v1::SiteAsOf> found = history.GetSiteAsOf(query);
  if (!found.ok()) return found.status();
  const v1::SiteStatus status = found->site().status();
  if (!found->found() || status == v1::SITE_STATUS_UNSPECIFIED ||
      status == v1::SITE_STATUS_ERASED) {
    return absl::NotFoundError(absl::StrCat("site ", req.name(), " did not exist on ",
                                            rb::domain::FormatDate(req.valid_date()),
                                            known_us == 0 ? " as known now" : " as known then"));
  }
  // Outside the reading scope the site does not exist for the reader.
  if (absl::Status s = access->CheckReadSite(found->site()); !s.ok()) return s;
  *resp = *std::move(found);
  return access->Redact(resp->mutable_site());
}

absl::Status SitesService::DoListSitesAsOf(grpc::CallbackServerContext* ctx,
                                           const v1::ListSitesAsOfQuery& req,
                                           v1::ListSitesAsOfResponse* resp) {
  if (absl::Status s = api::CheckCall(ctx); !s.ok()) return s;
  absl::StatusOr<CallAccess> access =
      AccessFor(*ctx, options_.auth, "/resorption.v1.Sites/ListSitesAsOf",
                /*require_actor=*/true);
  if (!access.ok()) return access.status();
  if (access->AggregatesOnly()) {
    return absl::PermissionDeniedError("external observers read aggregates only");
  }

  std::vector<FieldViolation> violations;
  const int64_t valid_us =
      EndOfDayUs(req.valid_date(), req.has_valid_date(), "valid_date", violations);
  const int64_t known_us = KnownAtUs(req.known_at(), req.has_known_at(), violations);
  const v1::TerritoryRef& territory = req.territory();
  api::CheckTerritoryRef(territory, "territory", violations);
  if (!v1::SiteStatusFilter_IsValid(req.status())) {
    violations.push_back({"status", "must be a known status filter"});
  }
  if (absl::Status s = rb::views::ValidateSiteFilter(req.filter()); !s.ok()) {
    violations.push_back({"filter", std::string(s.message())});
  }
  if (req.filter().has_has_action() || req.filter().has_has_dedicated_financing()) {
    violations.push_back(
        {"filter", "the action filters are not available on a past date (actions are current)"});
  }
  if (req.page_size() < 0 || req.page_size() > kMaxPageSize) {
    violations.push_back({"page_size", absl::StrCat("must be between 0 and ", kMaxPageSize)});
  }
  const uint64_t fingerprint = QueryFingerprint(req);
  std::optional<PageToken> token;
  if (!req.page_token().empty()) {
    token = DecodeToken(req.page_token());
    if (!token) {
      violations.push_back({"page_token", "is not a token returned by ListSitesAsOf"});
    } else if (token->fingerprint != fingerprint) {
      violations.push_back({"page_token", "belongs to a different query (the filters changed)"});
    }
  }
  if (!violations.empty()) return BadRequestError("the request is invalid", violations);
  // As in the current list: filtering on justice data would tell which sites it concerns.
  if (!access->ListVisibility().justice &&
      (!req.filter().justice_procedure().empty() || !req.filter().police_status().empty())) {
    return absl::PermissionDeniedError(
        "filter.justice_procedure, filter.police_status: require access to justice data");
  }

  absl::StatusOr<rb::proj::ProjectionEngine*> engine =
      HistoryEngine(ctx, engine_, *store_, req.min_position());
  if (!engine.ok()) return engine.status();
  rb::proj::views::HistoryQuery history(*engine, store_);
  v1::ListSitesAtRequest query;
  *query.mutable_territory() = territory;
  query.set_valid_at_us(valid_us);
  query.set_known_at_us(known_us);
  query.set_status(req.status());
  absl::StatusOr<v1::ListSitesAtResponse> all =
      token ? history.ListSitesAtPosition(query, token->position) : history.ListSitesAt(query);
  if (!all.ok()) return all.status();

  const absl::CivilDay valid_day = rb::domain::DayOfMicros(valid_us);
  // `status` already chose open, closed or both: the filter's own state must not narrow it.
  v1::SiteFilter filter = req.filter();
  filter.set_state(v1::SITE_STATE_FILTER_ALL);
  const int page_size = req.page_size() == 0 ? kDefaultPageSize : req.page_size();
  resp->set_known_at_position(all->known_at_position());
  for (v1::Site& site : *all->mutable_sites()) {
    if (token && site.id() <= token->after_id) continue;  // ordered by id
    if (!rb::views::MatchesSiteFilter(site, filter, valid_day)) continue;
    if (!access->CheckReadSite(site).ok()) continue;  // outside the reading scope
    if (resp->sites_size() == page_size) {
      resp->set_next_page_token(EncodeToken(
          {fingerprint, all->known_at_position(), resp->sites(resp->sites_size() - 1).id()}));
      break;
    }
    if (absl::Status s = access->Redact(&site); !s.ok()) return s;
    *resp->add_sites() = std::move(site);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* SitesService::GetSiteAsOf(grpc::CallbackServerContext* ctx,
                                                    const v1::GetSiteAsOfQuery* req,
                                                    v1::SiteAsOf* resp) {
  return Reply(ctx, DoGetSiteAsOf(ctx, *req, resp));
}

grpc::ServerUnaryReactor* SitesService::ListSitesAsOf(grpc::CallbackServerContext* ctx,
                                                      const v1::ListSitesAsOfQuery* req,
                                                      v1::ListSitesAsOfResponse* resp) {
  return Reply(ctx, DoListSitesAsOf(ctx, *req, resp));
}

}  // namespace rb::services
