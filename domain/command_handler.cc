// Copyright: the Résorption-bidonvilles data service authors.
#include "domain/command_handler.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <list>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "domain/command_fingerprint.h"
#include "domain/events.h"

namespace rb::domain {
namespace {

namespace v1 = resorption::v1;

// Same payload as the event store's ABORTED statuses, so rb::es::CurrentRevisionFrom reads both.
constexpr char kCurrentRevisionPayload[] = "type.resorption.gouv.fr/rb.es.CurrentRevision";
constexpr size_t kReadChunk = 1024;

struct SiteTraits {
  using State = v1::Site;
  using Event = v1::SiteEvent;
  using Command = v1::SiteCommand;
  static std::string Stream(const Command& c) { return SiteStreamId(c.site_id()); }
  static auto Decide(const State& s, const Command& c, const Context& ctx) {
    return DecideSite(s, c, ctx);
  }
  static State Evolve(State s, const Event& e) { return EvolveSite(std::move(s), e); }
  static auto Encode(const Event& e) { return EncodeSiteEvent(e); }
  static auto Decode(const rb::es::RecordedEvent& r) { return DecodeSiteEvent(r); }
  static absl::StatusOr<std::string> Fingerprint(const Command& c, const Context& ctx,
                                                 const State& s, OwnerIdentityCipher* cipher) {
    return SiteCommandFingerprint(c, ctx.actor, s.owner_anonymisations(), cipher);
  }
};

struct ActionTraits {
  using State = v1::Action;
  using Event = v1::ActionEvent;
  using Command = v1::ActionCommand;
  static std::string Stream(const Command& c) { return ActionStreamId(c.action_id()); }
  static auto Decide(const State& s, const Command& c, const Context& ctx) {
    return DecideAction(s, c, ctx);
  }
  static State Evolve(State s, const Event& e) { return EvolveAction(std::move(s), e); }
  static auto Encode(const Event& e) { return EncodeActionEvent(e); }
  static auto Decode(const rb::es::RecordedEvent& r) { return DecodeActionEvent(r); }
  static absl::StatusOr<std::string> Fingerprint(const Command& c, const Context& ctx, const State&,
                                                 OwnerIdentityCipher*) {
    return ActionCommandFingerprint(c, ctx.actor);
  }
};

absl::Status AbortedAt(const std::string& stream, uint64_t expected, int64_t current) {
  absl::Status s = absl::AbortedError(absl::StrCat(
      "stream '", stream, "': expected revision ", expected, ", but the current revision is ",
      current < 0 ? std::string("none (no stream)") : std::to_string(current),
      "; re-read and retry"));
  s.SetPayload(kCurrentRevisionPayload, absl::Cord(std::to_string(current)));
  return s;
}

}  // namespace

std::string SiteStreamId(const std::string& site_id) { return absl::StrCat("site-", site_id); }
std::string ActionStreamId(const std::string& action_id) {
  return absl::StrCat("action-", action_id);
}

// Loads, caches and writes one kind of aggregate.
//
// The cache holds immutable folded states shared by pointer: a load copies no state, a command
// copies its aggregate's state once (to fold its own events in after the append), and the map of
// command ids is shared between successive states until a command id is added to it.
template <typename T>
class Repo {
 public:
  using State = typename T::State;
  using Commands = absl::flat_hash_map<std::string, CommandResult>;

  struct Folded {
    State state;
    int64_t revision = -1;  // -1: no stream
    // Sites: the latest valid date of the stream's events. An event dated before it (a
    // retroactive correction) is not folded onto `state`: the stream is folded again in valid
    // order (FoldSiteInValidOrder).
    int64_t max_valid_at_us = std::numeric_limits<int64_t>::min();
    // Sites: the valid date of the latest owner anonymisation (0: none).
    int64_t last_owner_anonymisation_at_us = 0;
    // Results of the commands found in the stream, by command id; nullptr when none.
    std::shared_ptr<const Commands> commands;
  };
  using FoldedPtr = std::shared_ptr<const Folded>;
  using Check = std::function<absl::Status(const State&, const typename T::Command&)>;

  Repo(rb::es::EventStore* store, const CommandHandlerOptions& options)
      : store_(store), options_(options) {}

  // The stream's state: the cached one, brought up to date with the events appended since.
  absl::StatusOr<FoldedPtr> Load(const std::string& stream) {
    FoldedPtr cached;
    {
      absl::MutexLock lock(&mu_);
      auto it = index_.find(stream);
      if (it != index_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.second);
        cached = it->second.first;
      }
    }
    std::shared_ptr<Folded> f;           // made at the first event not in `cached`
    std::shared_ptr<Commands> commands;  // made at the first command id read
    int64_t revision = cached != nullptr ? cached->revision : -1;
    bool refold = false;  // an event dated before the latest valid date was read
    while (true) {
      absl::StatusOr<std::vector<rb::es::RecordedEvent>> batch = store_->ReadStream(
          stream, static_cast<uint64_t>(revision + 1), rb::es::Direction::kForward, kReadChunk);
      if (!batch.ok()) return batch.status();
      for (const rb::es::RecordedEvent& r : *batch) {
        auto e = T::Decode(r);
        if (!e.ok()) return e.status();
        if constexpr (std::is_same_v<T, SiteTraits>) {
          if (options_.owner_cipher != nullptr) {
            if (absl::Status s = OpenOwnerIdentity(*options_.owner_cipher, &*e); !s.ok()) return s;
          }
        }
        if (f == nullptr) {
          f = cached != nullptr ? std::make_shared<Folded>(*cached) : std::make_shared<Folded>();
        }
        if constexpr (std::is_same_v<T, SiteTraits>) {
          refold |= e->valid_at_us() < f->max_valid_at_us;
          f->max_valid_at_us = std::max(f->max_valid_at_us, e->valid_at_us());
          if (e->has_owner_identity_anonymised()) {
            f->last_owner_anonymisation_at_us =
                std::max(f->last_owner_anonymisation_at_us, e->valid_at_us());
          }
        }
        if (!refold) f->state = T::Evolve(std::move(f->state), *e);
        f->revision = revision = static_cast<int64_t>(r.revision);
        if (!r.metadata.command_id.empty()) {
          if (commands == nullptr) {
            commands = f->commands != nullptr ? std::make_shared<Commands>(*f->commands)
                                              : std::make_shared<Commands>();
          }
          CommandResult& c = (*commands)[r.metadata.command_id];
          if (c.first_position == 0) c.first_position = r.position;
          c.last_position = r.position;
          c.revision = f->revision;
          c.outcome = CommandResult::Outcome::kReplayed;
        }
      }
      if (batch->size() < kReadChunk) break;
    }
    if (f == nullptr) return cached != nullptr ? cached : std::make_shared<const Folded>();
    if constexpr (std::is_same_v<T, SiteTraits>) {
      if (refold) {
        absl::StatusOr<State> state = FoldInValidOrder(stream, f->revision, std::nullopt);
        if (!state.ok()) return state.status();
        f->state = *std::move(state);
      }
    }
    if (commands != nullptr) f->commands = std::move(commands);
    Store(stream, f);
    return FoldedPtr(std::move(f));
  }

  using Done = CommandHandler::Done;

  // Blocking form of HandleAsync.
  absl::StatusOr<CommandResult> Handle(const typename T::Command& cmd, const Context& ctx) {
    absl::Mutex mu;
    std::optional<absl::StatusOr<CommandResult>> out;
    HandleAsync(cmd, ctx, [&](absl::StatusOr<CommandResult> r) {
      absl::MutexLock lock(&mu);
      out = std::move(r);
    });
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::optional<absl::StatusOr<CommandResult>>* o) { return o->has_value(); }, &out));
    return *std::move(out);
  }

  // Loads, checks and decides on the caller's thread, appends asynchronously; `done` runs once
  // (on the caller's thread for errors before the append, on the store's committing thread after
  // it).
  void HandleAsync(typename T::Command cmd, Context ctx, Done done, Check check = nullptr,
                   int attempt = 0) {
    const std::string stream = T::Stream(cmd);
    absl::StatusOr<FoldedPtr> loaded = Load(stream);
    if (!loaded.ok()) return std::move(done)(loaded.status());
    FoldedPtr f = *std::move(loaded);
    if (check) {
      if (absl::Status s = check(f->state, cmd); !s.ok()) return std::move(done)(s);
    }
    if (!cmd.command_id().empty() && f->commands != nullptr) {
      auto it = f->commands->find(cmd.command_id());
      if (it != f->commands->end()) {
        // Before the expected revision's check: a retry is answered whatever the revision now.
        if (absl::Status s = CheckRepeat(cmd, ctx, *f); !s.ok()) return std::move(done)(s);
        return std::move(done)(it->second);
      }
    }
    if (cmd.has_expected_revision() &&
        static_cast<int64_t>(cmd.expected_revision()) != f->revision) {
      return std::move(done)(AbortedAt(stream, cmd.expected_revision(), f->revision));
    }
    auto decision = Decide(stream, *f, cmd, ctx);
    if (!decision.ok()) return std::move(done)(decision.status());
    CommandResult result;
    if (decision->no_change()) {
      result.outcome = CommandResult::Outcome::kNoChange;
      result.revision = f->revision;
      return std::move(done)(result);
    }
    rb::es::AppendRequest req;
    req.stream_id = stream;
    req.expected = f->revision < 0
                       ? rb::es::ExpectedRevision::NoStream()
                       : rb::es::ExpectedRevision::Exactly(static_cast<uint64_t>(f->revision));
    req.command_id = cmd.command_id();
    if (!cmd.command_id().empty()) {
      // Stored with the command id in the batch of the events: a later command under this id is
      // replayed only when it is the same command (CheckRepeat, or the store in a race).
      absl::StatusOr<std::string> fingerprint =
          T::Fingerprint(cmd, ctx, f->state, options_.owner_cipher);
      if (!fingerprint.ok()) return std::move(done)(fingerprint.status());
      req.command_fingerprint = *std::move(fingerprint);
    }
    req.metadata.actor_user = ctx.actor.user_id;
    req.metadata.actor_organisation = ctx.actor.organisation_id;
    req.metadata.actor_role = std::string(RoleId(ctx.actor.role));
    req.metadata.command_id = cmd.command_id();
    req.metadata.reason = cmd.reason();
    for (const auto& e : decision->events) {
      absl::StatusOr<rb::es::EventData> data;
      if constexpr (std::is_same_v<T, SiteTraits>) {
        if (options_.owner_cipher != nullptr && e.body_case() == v1::SiteEvent::kOwnershipChanged) {
          // The owner's identity is stored sealed with the site's owner key (erasable).
          v1::SiteEvent sealed = e;
          if (absl::Status s = SealOwnerIdentity(*options_.owner_cipher, cmd.site_id(),
                                                 f->state.owner_anonymisations(), &sealed);
              !s.ok()) {
            return std::move(done)(s);
          }
          data = T::Encode(sealed);
        } else {
          data = T::Encode(e);
        }
      } else {
        data = T::Encode(e);
      }
      if (!data.ok()) return std::move(done)(data.status());
      result.event_types.push_back(data->type);
      req.events.push_back(*std::move(data));
    }
    store_->AppendAsync(
        std::move(req), [this, stream, cmd = std::move(cmd), ctx = std::move(ctx),
                         done = std::move(done), check = std::move(check), folded = std::move(f),
                         events = std::move(decision->events), result = std::move(result),
                         attempt](absl::StatusOr<rb::es::AppendResult> appended) mutable {
          if (!appended.ok()) {
            const bool raced = absl::IsAborted(appended.status());
            if (raced) Forget(stream);
            if (raced && !cmd.has_expected_revision() && attempt < options_.max_conflict_retries) {
              // Re-load, re-check and re-decide; rare (two writers on one aggregate at once).
              return HandleAsync(std::move(cmd), std::move(ctx), std::move(done), std::move(check),
                                 attempt + 1);
            }
            return std::move(done)(appended.status());
          }
          Finish(stream, cmd, *folded, events, *appended, result);
          std::move(done)(std::move(result));
        });
  }

 private:
  // `cmd` comes with a command id found among the events of its stream (folded into `f`): OK when
  // it repeats the command that used the id, whose first result is then replayed; otherwise
  // CommandIdReusedError. An id whose record holds no command fingerprint (appended before
  // commands were fingerprinted, or by a raw append) is a repeat, as it always was.
  absl::Status CheckRepeat(const typename T::Command& cmd, const Context& ctx, const Folded& f) {
    absl::StatusOr<std::optional<rb::es::CommandRecord>> record =
        store_->GetCommand(cmd.command_id());
    if (!record.ok()) return record.status();
    if (!record->has_value() ||
        (*record)->kind != rb::es::CommandRecord::FingerprintKind::kCommand) {
      return absl::OkStatus();
    }
    const uint64_t first_position = (*record)->result.first_position;
    absl::StatusOr<std::string> fingerprint =
        T::Fingerprint(cmd, ctx, f.state, options_.owner_cipher);
    if (absl::IsFailedPrecondition(fingerprint.status())) {
      // The site's owner key is destroyed: owner names cannot be compared any more.
      return absl::FailedPreconditionError(absl::StrCat(
          "command_id: already used (first used at position ", first_position,
          "), and this command's owner names can no longer be compared with that command's: ",
          fingerprint.status().message(), "; use a new command id"));
    }
    if (!fingerprint.ok()) return fingerprint.status();
    if (*fingerprint != (*record)->fingerprint) {
      return rb::es::CommandIdReusedError(first_position);
    }
    return absl::OkStatus();
  }

  // T::Decide, but a retroactive correction of a site is decided against the site as it was on
  // the corrected date.
  auto Decide(const std::string& stream, const Folded& f, const typename T::Command& cmd,
              const Context& ctx) {
    if constexpr (std::is_same_v<T, SiteTraits>) {
      SiteStreamFacts facts;
      if (f.revision >= 0) facts.latest_valid_at_us = f.max_valid_at_us;
      facts.last_owner_anonymisation_at_us = f.last_owner_anonymisation_at_us;
      if (cmd.has_correct_retroactively() && cmd.valid_at_us() != 0 && f.revision >= 0) {
        absl::StatusOr<State> then =
            FoldInValidOrder(stream, f.revision, std::min(cmd.valid_at_us(), ctx.now_us));
        if (!then.ok()) return absl::StatusOr<SiteDecision>(then.status());
        facts.state_on_valid_date = &*then;
        return DecideSite(f.state, cmd, ctx, facts);
      }
      return DecideSite(f.state, cmd, ctx, facts);
    } else {
      return T::Decide(f.state, cmd, ctx);
    }
  }

  // Sites: the stream's events up to `last_revision`, folded in valid order up to
  // `valid_until_us` (FoldSiteInValidOrder).
  absl::StatusOr<State> FoldInValidOrder(const std::string& stream, int64_t last_revision,
                                         std::optional<int64_t> valid_until_us) {
    std::vector<LoggedSiteEvent> events;
    uint64_t next = 0;
    while (static_cast<int64_t>(next) <= last_revision) {
      absl::StatusOr<std::vector<rb::es::RecordedEvent>> batch =
          store_->ReadStream(stream, next, rb::es::Direction::kForward, kReadChunk);
      if (!batch.ok()) return batch.status();
      for (const rb::es::RecordedEvent& r : *batch) {
        if (static_cast<int64_t>(r.revision) > last_revision) break;
        absl::StatusOr<v1::SiteEvent> e = T::Decode(r);
        if (!e.ok()) return e.status();
        if (options_.owner_cipher != nullptr) {
          if (absl::Status s = OpenOwnerIdentity(*options_.owner_cipher, &*e); !s.ok()) return s;
        }
        events.push_back({r.position, *std::move(e)});
      }
      if (batch->size() < kReadChunk) break;
      next = batch->back().revision + 1;
    }
    return FoldSiteInValidOrder(std::move(events), valid_until_us);
  }

  // After a durable append: fills `result` and caches `folded` with our own events folded in, so
  // that the next command on this aggregate needs no read.
  void Finish(const std::string& stream, const typename T::Command& cmd, const Folded& folded,
              const std::vector<typename T::Event>& events, const rb::es::AppendResult& appended,
              CommandResult& result) {
    result.outcome =
        appended.replayed ? CommandResult::Outcome::kReplayed : CommandResult::Outcome::kAppended;
    result.first_position = appended.first_position;
    result.last_position = appended.last_position;
    result.revision = static_cast<int64_t>(appended.stream_revision);
    // The same command under the same id was appended first by a concurrent try: its result.
    if (appended.replayed) result.event_types.clear();
    if (appended.replayed ||
        appended.stream_revision !=
            static_cast<uint64_t>(folded.revision + static_cast<int64_t>(events.size()))) {
      Forget(stream);
      return;
    }
    auto next = std::make_shared<Folded>(folded);
    for (const auto& e : events) {
      if constexpr (std::is_same_v<T, SiteTraits>) {
        if (e.valid_at_us() < next->max_valid_at_us) {
          // A retroactive correction: the next load folds the stream again in valid order.
          Forget(stream);
          return;
        }
        next->max_valid_at_us = e.valid_at_us();
        if (e.has_owner_identity_anonymised()) {
          next->last_owner_anonymisation_at_us = e.valid_at_us();
        }
      }
      next->state = T::Evolve(std::move(next->state), e);
    }
    next->revision = result.revision;
    if (!cmd.command_id().empty()) {
      auto commands = folded.commands != nullptr ? std::make_shared<Commands>(*folded.commands)
                                                 : std::make_shared<Commands>();
      CommandResult replay = result;
      replay.outcome = CommandResult::Outcome::kReplayed;
      replay.event_types.clear();
      (*commands)[cmd.command_id()] = std::move(replay);
      next->commands = std::move(commands);
    }
    Store(stream, std::move(next));
  }

  void Store(const std::string& stream, FoldedPtr f) {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(stream);
    if (it != index_.end()) {
      if (it->second.first->revision > f->revision) return;  // keep the newer one
      it->second.first = std::move(f);
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return;
    }
    lru_.push_front(stream);
    index_.emplace(stream, std::make_pair(std::move(f), lru_.begin()));
    while (index_.size() > options_.cache_capacity && !lru_.empty()) {
      index_.erase(lru_.back());
      lru_.pop_back();
    }
  }

  void Forget(const std::string& stream) {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(stream);
    if (it == index_.end()) return;
    lru_.erase(it->second.second);
    index_.erase(it);
  }

  rb::es::EventStore* store_;
  CommandHandlerOptions options_;
  absl::Mutex mu_;
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // most recent first
  absl::flat_hash_map<std::string, std::pair<FoldedPtr, std::list<std::string>::iterator>> index_
      ABSL_GUARDED_BY(mu_);
};

class CommandHandler::SiteRepo : public Repo<SiteTraits> {
  using Repo::Repo;
};
class CommandHandler::ActionRepo : public Repo<ActionTraits> {
  using Repo::Repo;
};

CommandHandler::CommandHandler(rb::es::EventStore* store, CommandHandlerOptions options)
    : sites_(std::make_unique<SiteRepo>(store, options)),
      actions_(std::make_unique<ActionRepo>(store, options)) {}

CommandHandler::~CommandHandler() = default;

absl::StatusOr<CommandResult> CommandHandler::HandleSite(const v1::SiteCommand& command,
                                                         const Context& context) {
  return sites_->Handle(command, context);
}

absl::StatusOr<CommandResult> CommandHandler::HandleAction(const v1::ActionCommand& command,
                                                           const Context& context) {
  return actions_->Handle(command, context);
}

void CommandHandler::HandleSiteAsync(v1::SiteCommand command, Context context, Done done,
                                     SiteCheck check) {
  sites_->HandleAsync(std::move(command), std::move(context), std::move(done), std::move(check));
}

void CommandHandler::HandleActionAsync(v1::ActionCommand command, Context context, Done done,
                                       ActionCheck check) {
  actions_->HandleAsync(std::move(command), std::move(context), std::move(done), std::move(check));
}

absl::StatusOr<v1::Site> CommandHandler::LoadSite(const std::string& site_id) {
  auto f = sites_->Load(SiteStreamId(site_id));
  if (!f.ok()) return f.status();
  return (*f)->state;
}

absl::StatusOr<v1::Action> CommandHandler::LoadAction(const std::string& action_id) {
  auto f = actions_->Load(ActionStreamId(action_id));
  if (!f.ok()) return f.status();
  return (*f)->state;
}

}  // namespace rb::domain
