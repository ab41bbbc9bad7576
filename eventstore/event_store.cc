#include "eventstore/event_store.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "eventstore/encoding.h"
#include "eventstore/event_store_impl.h"
#include "eventstore/rocks_status.h"
#include "eventstore/skip_list_rep.h"
#include "eventstore/wal_prefill.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace rb::es {
namespace {

constexpr char kCurrentRevisionPayload[] = "type.resorption.gouv.fr/rb.es.CurrentRevision";
constexpr char kReusedCommandPayload[] = "type.resorption.gouv.fr/rb.es.ReusedCommandPosition";
constexpr char kEventsCf[] = "events";
constexpr char kStreamsCf[] = "streams";
constexpr char kCommandsCf[] = "commands";
constexpr char kFormatVersionKey[] = "format_version";
constexpr char kStreamIndexThroughKey[] = "stream_index_through";
// Index entries the next append's batch carries instead of a write of their own, at most.
constexpr size_t kIndexCarryMax = 16;
// How long the indexer leaves a few entries for the next append to carry.
constexpr absl::Duration kIndexDelay = absl::Milliseconds(2);
constexpr size_t kMaxStreamIdBytes = 256;
constexpr size_t kMaxTypeBytes = 128;
constexpr size_t kMaxIdBytes = 128;

bool IsPrintableToken(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

size_t MetadataBytes(const EventMetadata& m) {
  return m.actor_user.size() + m.actor_organisation.size() + m.actor_role.size() +
         m.command_id.size() + m.correlation_id.size() + m.causation_id.size() + m.reason.size();
}

std::string Fingerprint(const AppendRequest& req) {
  std::string buf;
  internal::PutLengthPrefixed(&buf, req.stream_id);
  internal::PutVarint64(&buf, static_cast<uint64_t>(req.expected.kind()));
  internal::PutVarint64(&buf, req.expected.revision());
  const EventMetadata& m = req.metadata;
  for (const std::string* s : {&m.actor_user, &m.actor_organisation, &m.actor_role,
                               &m.correlation_id, &m.causation_id, &m.reason}) {
    internal::PutLengthPrefixed(&buf, *s);
  }
  for (const EventData& e : req.events) {
    internal::PutLengthPrefixed(&buf, e.event_id);
    internal::PutLengthPrefixed(&buf, e.type);
    internal::PutVarint64(&buf, e.schema_version);
    internal::PutVarint64(&buf, static_cast<uint64_t>(e.valid_at_us));
    internal::PutLengthPrefixed(&buf, e.payload);
  }
  return internal::Sha256(buf);
}

// A `commands` value (docs/storage-format.md, "Idempotency records"): fingerprint, first and last
// position, stream revision, then for a writer's fingerprint only the kind byte 1 (a record
// without it, as every format-2 record, holds the store's fingerprint of the append).
constexpr size_t kCommandRecordBytes = internal::kHashBytes + 24;
constexpr char kCommandFingerprintKind = 1;

std::string EncodeCommandRecord(const CommandRecord& c) {
  std::string v = c.fingerprint;
  internal::PutFixed64BE(&v, c.result.first_position);
  internal::PutFixed64BE(&v, c.result.last_position);
  internal::PutFixed64BE(&v, c.result.stream_revision);
  if (c.kind == CommandRecord::FingerprintKind::kCommand) v.push_back(kCommandFingerprintKind);
  return v;
}

// Whether an append (with its command_fingerprint and the store's fingerprint of it) repeats the
// request recorded under its command id.
bool SameRequest(const CommandRecord& prior, const AppendRequest& req,
                 const std::string& request_fingerprint) {
  if (prior.kind == CommandRecord::FingerprintKind::kCommand) {
    return !req.command_fingerprint.empty() && prior.fingerprint == req.command_fingerprint;
  }
  return prior.fingerprint == request_fingerprint;
}

constexpr size_t kUuidChars = 36;

// A random (version 4) UUID in its 36-character text form, written into out.
void NewUuid(absl::BitGen& gen, char* out) {
  uint64_t hi = absl::Uniform<uint64_t>(gen);
  uint64_t lo = absl::Uniform<uint64_t>(gen);
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  int bit = 124;  // the 128 bits, most significant nibble first, skipping the four dashes
  for (size_t i = 0; i < kUuidChars; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      out[i] = '-';
      continue;
    }
    const uint64_t word = bit >= 64 ? hi : lo;
    out[i] = kHex[(word >> (bit % 64)) & 0xf];
    bit -= 4;
  }
}

absl::Status Aborted(const std::string& stream_id, const ExpectedRevision& expected,
                     int64_t current) {
  absl::Status s = absl::AbortedError(absl::StrCat(
      "stream '", stream_id, "': expected ", expected.ToString(), ", but the current revision is ",
      current < 0 ? std::string("none (no stream)") : std::to_string(current),
      "; re-read the stream and retry"));
  s.SetPayload(kCurrentRevisionPayload, absl::Cord(std::to_string(current)));
  return s;
}

// The stream index key is the stream id, a zero byte and the revision (8 bytes): its prefix
// without the revision names the stream. Each stream's keys arrive in increasing order, so the
// memtable keeps one insert position per stream instead of searching its skip list each time.
class StreamKeyPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "rb.es.StreamKeyPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > 8; }
};

}  // namespace

std::string ExpectedRevision::ToString() const {
  switch (kind_) {
    case Kind::kAny:
      return "any revision";
    case Kind::kNoStream:
      return "no stream";
    case Kind::kStreamExists:
      return "an existing stream";
    case Kind::kExact:
      return absl::StrCat("revision ", revision_);
  }
  return "?";
}

bool LogFilter::Matches(const RecordedEvent& e) const {
  if (!type_prefixes.empty()) {
    bool ok = false;
    for (const auto& p : type_prefixes) {
      if (e.type.compare(0, p.size(), p) == 0) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
  }
  if (!categories.empty()) {
    size_t dash = e.stream_id.find('-');
    std::string_view cat(e.stream_id.data(), dash == std::string::npos ? e.stream_id.size() : dash);
    return std::find(categories.begin(), categories.end(), cat) != categories.end();
  }
  return true;
}

std::optional<int64_t> CurrentRevisionFrom(const absl::Status& status) {
  auto p = status.GetPayload(kCurrentRevisionPayload);
  int64_t v;
  if (!p.has_value() || !absl::SimpleAtoi(std::string(*p), &v)) return std::nullopt;
  return v;
}

absl::Status CommandIdReusedError(uint64_t first_position) {
  absl::Status s = absl::AlreadyExistsError(
      absl::StrCat("command_id: already used for a different command (first used at position ",
                   first_position, "); use a new command id"));
  s.SetPayload(kReusedCommandPayload, absl::Cord(std::to_string(first_position)));
  return s;
}

std::optional<uint64_t> ReusedCommandPositionFrom(const absl::Status& status) {
  auto p = status.GetPayload(kReusedCommandPayload);
  uint64_t v;
  if (!p.has_value() || !absl::SimpleAtoi(std::string(*p), &v)) return std::nullopt;
  return v;
}

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(const Options& options,
                                                             const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("data directory path must not be empty");
  if (options.max_batch_appends == 0 || options.max_events_per_append == 0) {
    return absl::InvalidArgumentError("max_batch_appends and max_events_per_append must be > 0");
  }
  auto store = std::make_unique<internal::EventStoreImpl>(options, path);
  if (absl::Status s = store->Init(); !s.ok()) return s;
  return std::unique_ptr<EventStore>(std::move(store));
}

namespace internal {

EventStoreImpl::EventStoreImpl(const Options& options, std::string path)
    : options_(options),
      path_(std::move(path)),
      clock_(options.clock ? options.clock : Clock::System()),
      last_hash_(kHashBytes, '\0') {}

EventStoreImpl::~EventStoreImpl() { Close(); }

absl::Status EventStoreImpl::Init() {
  rocksdb::Options db_options;
  db_options.create_if_missing = !options_.read_only;
  db_options.create_missing_column_families = !options_.read_only;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.keep_log_file_num = 4;
  // One thread inserts a write group's batches into the memtables, one key after the other,
  // reusing its skip-list position between keys: far cheaper for the sorted batches of the
  // projections than concurrent inserts, each of which searches the skip list from the top.
  db_options.allow_concurrent_memtable_write = false;
  // Every flush covers all column families at once, so that writes made without the write-ahead
  // log (KvStore::WriteUnlogged: projection views with their checkpoint) survive a crash only as
  // a whole prefix, consistent across key spaces.
  db_options.atomic_flush = true;
  // Durable appends sync the write-ahead log over space written beforehand, and logs are read up
  // to their records' end only: see wal_prefill.h. The reading side serves every open, read-only
  // ones included, since a log may end in zeros whatever wrote it last.
  WalPrefillOptions wal;
  wal.prefill = !options_.read_only && options_.prefill_wal;
  env_ = rocksdb::NewCompositeEnv(NewWalPrefillFileSystem(rocksdb::FileSystem::Default(), wal));
  db_options.env = env_.get();
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Flushes and the first compactions write uncompressed files: they are the hot path of appends
  // and of projection rebuilds, and their files are soon compacted again. Deeper levels, where
  // the bulk of a large log ends up, are LZ4-compressed.
  cf_options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                                      rocksdb::kLZ4Compression};
  cf_options.write_buffer_size = 64 << 20;
  // Inserts resume from the previous one's place (skip_list_rep.h): the log appends at its end,
  // the projections write each batch in key order.
  cf_options.memtable_factory = NewFingerSkipListFactory();
  static_cast<rocksdb::ColumnFamilyOptions&>(db_options) = cf_options;

  std::vector<std::string> names;
  rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_options, path_, &names);
  if (!ls.ok()) {
    if (options_.read_only) return FromRocks(ls, absl::StrCat("open ", path_, " read-only"));
    names = {rocksdb::kDefaultColumnFamilyName};
  }
  for (const char* n : {kEventsCf, kStreamsCf, kCommandsCf}) {
    if (std::find(names.begin(), names.end(), n) == names.end()) {
      if (options_.read_only) {
        return absl::DataLossError(
            absl::StrCat("data directory ", path_, " lacks column family '", n, "'"));
      }
      names.push_back(n);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  rocksdb::ColumnFamilyOptions streams_options = cf_options;
  // RocksDB's own skip list, which keeps an insert position per stream.
  streams_options.memtable_factory = std::make_shared<rocksdb::SkipListFactory>();
  streams_options.memtable_insert_with_hint_prefix_extractor = std::make_shared<StreamKeyPrefix>();
  for (const auto& n : names) {
    descriptors.emplace_back(n, n == kStreamsCf ? streams_options : cf_options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      options_.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, path_, descriptors, &handles, &raw)
          : rocksdb::DB::Open(db_options, path_, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open data directory ", path_));
  db_.reset(raw);
  std::vector<rocksdb::ColumnFamilyHandle*> kv_handles;
  for (auto* h : handles) {
    const std::string& n = h->GetName();
    if (n == rocksdb::kDefaultColumnFamilyName) {
      meta_cf_ = h;
    } else if (n == kEventsCf) {
      events_cf_ = h;
    } else if (n == kStreamsCf) {
      streams_cf_ = h;
    } else if (n == kCommandsCf) {
      commands_cf_ = h;
    } else if (n.rfind(kKvPrefix, 0) == 0) {
      kv_handles.push_back(h);
    } else {
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
  }
  kv_ = std::make_unique<RocksKvStore>(db_.get(), std::move(kv_handles), cf_options,
                                       options_.read_only);
  if (!options_.read_only) {
    if (absl::Status r = kv_->ResetIngestFolder(); !r.ok()) return r;
  }

  // Storage format version.
  std::string version;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kFormatVersionKey, &version);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf_));
  it->SeekToLast();
  if (it->Valid()) {
    if (it->key().size() != 8) return absl::DataLossError("malformed key in the events family");
    uint64_t pos = DecodeFixed64BE(it->key().data());
    RecordedEvent last;
    absl::Status d =
        DecodeEventRecord(pos, std::string_view(it->value().data(), it->value().size()), &last);
    if (!d.ok()) return d;
    last_position_ = pos;
    last_hash_ = last.log_hash;
    last_recorded_at_ = last.recorded_at_us;
  } else if (!it->status().ok()) {
    return FromRocks(it->status(), "read the log head");
  }
  it.reset();

  uint64_t indexed_through = 0;
  if (s.IsNotFound()) {
    if (last_position_ != 0) {
      return absl::DataLossError(
          absl::StrCat("data directory ", path_, " holds events but no storage format version"));
    }
    if (!options_.read_only) {
      if (absl::Status w = WriteFormatVersion(0); !w.ok()) return w;
    }
  } else if (!s.ok()) {
    return FromRocks(s, "read storage format version");
  } else if (version == std::to_string(kFormatVersion) ||
             version == std::to_string(kStreamIndexThroughFormatVersion)) {
    std::string through;
    s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kStreamIndexThroughKey, &through);
    if (!s.ok() || through.size() != 8) {
      return absl::DataLossError(absl::StrCat("data directory ", path_,
                                              " lacks a valid stream index position (",
                                              kStreamIndexThroughKey, ")"));
    }
    indexed_through = DecodeFixed64BE(through.data());
    if (indexed_through > last_position_) {
      return absl::DataLossError(absl::StrCat("the stream index reaches position ", indexed_through,
                                              " beyond the log's last position ", last_position_));
    }
    // Version 2 holds only records of the store's own fingerprints, which version 3 reads as is.
    if (version != std::to_string(kFormatVersion) && !options_.read_only) {
      if (absl::Status w = WriteFormatVersion(indexed_through); !w.ok()) return w;
    }
  } else if (version == std::to_string(kFirstUpgradableFormatVersion)) {
    // Version 1 indexed every event in its own batch: the index is complete.
    indexed_through = last_position_;
    if (!options_.read_only) {
      if (absl::Status w = WriteFormatVersion(last_position_); !w.ok()) return w;
    }
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", path_, " uses storage format version ", version,
                     ", but this build reads versions ", kFirstUpgradableFormatVersion, " to ",
                     kFormatVersion, " only; use a newer resorptiond"));
  }
  if (absl::Status t = LoadUnindexedTail(indexed_through); !t.ok()) return t;
  if (!options_.read_only) indexer_ = std::thread([this] { IndexerLoop(); });

  absl::MutexLock lock(&head_mu_);
  head_ = Head{last_position_, last_hash_, last_recorded_at_};
  return absl::OkStatus();
}

absl::Status EventStoreImpl::WriteFormatVersion(uint64_t indexed_through) {
  rocksdb::WriteBatch b;
  std::string through;
  PutFixed64BE(&through, indexed_through);
  b.Put(meta_cf_, kStreamIndexThroughKey, through).PermitUncheckedError();
  b.Put(meta_cf_, kFormatVersionKey, std::to_string(kFormatVersion)).PermitUncheckedError();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(db_->Write(wo, &b), "write the storage format version");
}

absl::Status EventStoreImpl::ValidateRequest(const AppendRequest& req) const {
  if (options_.read_only) return absl::FailedPreconditionError("the store is open read-only");
  if (req.stream_id.empty()) return absl::InvalidArgumentError("stream_id: must not be empty");
  if (req.stream_id.size() > kMaxStreamIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream_id: must be at most ", kMaxStreamIdBytes, " bytes"));
  }
  if (!IsPrintableToken(req.stream_id)) {
    return absl::InvalidArgumentError(
        "stream_id: must be printable ASCII without spaces or control characters");
  }
  if (req.command_id.size() > kMaxIdBytes || !IsPrintableToken(req.command_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "command_id: must be printable ASCII without spaces, at most ", kMaxIdBytes, " bytes"));
  }
  if (!req.command_fingerprint.empty()) {
    if (req.command_fingerprint.size() != kHashBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("command_fingerprint: must be ", kHashBytes, " bytes"));
    }
    if (req.command_id.empty()) {
      return absl::InvalidArgumentError("command_fingerprint: only meaningful with a command_id");
    }
  }
  if (req.events.empty()) return absl::InvalidArgumentError("events: at least one is required");
  if (req.events.size() > options_.max_events_per_append) {
    return absl::InvalidArgumentError(absl::StrCat("events: at most ",
                                                   options_.max_events_per_append,
                                                   " events per append, got ", req.events.size()));
  }
  size_t meta = MetadataBytes(req.metadata);
  for (size_t i = 0; i < req.events.size(); ++i) {
    const EventData& e = req.events[i];
    auto field = [i] { return absl::StrCat("events[", i, "]"); };  // only on error
    if (e.type.empty() || e.type.size() > kMaxTypeBytes || !IsPrintableToken(e.type)) {
      return absl::InvalidArgumentError(absl::StrCat(field(), ".type: must be 1 to ", kMaxTypeBytes,
                                                     " printable ASCII bytes without spaces"));
    }
    if (e.schema_version == 0) {
      return absl::InvalidArgumentError(absl::StrCat(field(), ".schema_version: must be >= 1"));
    }
    if (!e.event_id.empty() && !IsUuid(e.event_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field(), ".event_id: must be a UUID (8-4-4-4-12 hexadecimal digits)"));
    }
    if (e.valid_at_us < 0) {
      return absl::InvalidArgumentError(absl::StrCat(field(), ".valid_at: must not precede 1970"));
    }
    if (e.payload.size() + meta > options_.max_event_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(field(), ": payload and metadata are ", e.payload.size() + meta,
                       " bytes, more than the limit of ", options_.max_event_bytes));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<AppendResult> EventStoreImpl::Append(const AppendRequest& req) {
  if (absl::Status s = ValidateRequest(req); !s.ok()) return s;
  Writer w;
  w.req = &req;
  if (!req.command_id.empty()) w.fingerprint = Fingerprint(req);

  mu_.Lock();
  if (closed_) {
    mu_.Unlock();
    return absl::UnavailableError("the event store is closing");
  }
  writers_.push_back(&w);
  // Lead groups while nobody else does, until this writer's group is committed; otherwise sleep
  // until the leader marks this writer done or hands the lead over.
  while (!w.done) {
    if (leading_) {
      w.cv.Wait(&mu_);
      continue;
    }
    LeadGroupAndComplete();
  }
  mu_.Unlock();
  return std::move(w.result);
}

void EventStoreImpl::AppendAsync(AppendRequest req, AppendCallback done) {
  if (absl::Status s = ValidateRequest(req); !s.ok()) return std::move(done)(s);
  auto w = std::make_unique<Writer>();
  w->owned.emplace(std::move(req));
  w->req = &*w->owned;
  w->callback = std::move(done);
  if (!w->req->command_id.empty()) w->fingerprint = Fingerprint(*w->req);
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) {
      if (!committer_.joinable()) committer_ = std::thread([this] { CommitterLoop(); });
      writers_.push_back(w.release());
      if (!leading_) WakeNextLeader();
      return;
    }
  }
  std::move(w->callback)(absl::UnavailableError("the event store is closing"));
}

void EventStoreImpl::CommitterLoop() {
  mu_.Lock();
  while (true) {
    if (leading_ || writers_.empty()) {
      if (committer_stop_ && writers_.empty()) break;
      committer_cv_.Wait(&mu_);
      continue;
    }
    LeadGroupAndComplete();
  }
  mu_.Unlock();
}

void EventStoreImpl::LeadGroupAndComplete() {
  std::vector<Writer*> finished = LeadOneGroup();
  if (finished.empty()) return;
  mu_.Unlock();
  RunCallbacks(finished);
  mu_.Lock();
}

void EventStoreImpl::WakeNextLeader() {
  if (leading_ || writers_.empty()) return;
  if (writers_.front()->async()) {
    committer_cv_.Signal();
  } else {
    writers_.front()->cv.Signal();
  }
}

void EventStoreImpl::RunCallbacks(std::vector<Writer*>& done) {
  for (Writer* x : done) {
    std::move(x->callback)(std::move(x->result));
    delete x;
  }
  done.clear();
}

std::vector<EventStoreImpl::Writer*> EventStoreImpl::LeadOneGroup() {
  leading_ = true;
  // Every writer queued now, up to the batch limit.
  std::vector<Writer*> group;
  for (Writer* x : writers_) {
    if (group.size() >= options_.max_batch_appends) break;
    group.push_back(x);
  }
  mu_.Unlock();

  size_t reserve = 64;
  for (const Writer* x : group) {
    for (const EventData& d : x->req->events) reserve += d.payload.size() + 320;
  }
  rocksdb::WriteBatch batch(reserve);  // one allocation for the whole group's records
  std::vector<IndexEntry> index_entries;
  uint64_t new_position = last_position_;
  std::string new_hash = last_hash_;
  int64_t new_recorded_at = last_recorded_at_;
  if (stream_cache_.size() > 1'000'000) stream_cache_.clear();
  BuildGroup(group, &batch, &index_entries, &new_position, &new_hash, &new_recorded_at);
  // A few index entries of earlier batches ride along: cheaper than a write of their own.
  IndexBatches carried;
  if (batch.Count() > 0 && !options_.pause_stream_indexer_for_testing) {
    absl::MutexLock lock(&index_mu_);
    if (!index_claimed_ && index_status_.ok() && !index_queue_.empty() &&
        index_queued_entries_ <= kIndexCarryMax) {
      carried.swap(index_queue_);
      index_queued_entries_ = 0;
      index_claimed_ = true;
    }
  }
  if (!carried.empty()) PutIndexEntries(carried, &batch);

  absl::Status write_status;
  if (batch.Count() > 0) {
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    write_status = FromRocks(db_->Write(wo, &batch), "append");
  }
  if (!carried.empty()) {
    absl::MutexLock lock(&index_mu_);
    ReleaseClaim(std::move(carried), write_status.ok());
  }
  if (write_status.ok()) {
    if (!index_entries.empty()) {
      absl::MutexLock lock(&known_mu_);
      if (known_heads_.size() + index_entries.size() > kKnownHeadsMax) known_heads_.clear();
      for (const IndexEntry& e : index_entries) known_heads_[e.stream_id] = e.revision;
    }
    // Before the head moves: a reader that sees the new head finds these entries.
    if (!index_entries.empty()) AddPending(std::move(index_entries));
    bool advanced = new_position != last_position_;
    last_position_ = new_position;
    last_hash_ = new_hash;
    last_recorded_at_ = new_recorded_at;
    if (advanced) NotifyHead(new_position);
  } else {
    // The batch may or may not be on disk: reload heads from disk.
    stream_cache_.clear();
    absl::MutexLock lock(&known_mu_);
    known_heads_.clear();
    for (Writer* x : group) {
      if (x->result.ok() && !x->result->replayed) x->result = write_status;
    }
  }

  mu_.Lock();
  for (size_t i = 0; i < group.size(); ++i) writers_.pop_front();
  leading_ = false;
  // The next leader first: each woken writer takes mu_ in turn, and the next group's fsync should
  // not wait behind every follower of this one.
  WakeNextLeader();
  std::vector<Writer*> finished;
  for (Writer* x : group) {
    if (x->async()) {
      finished.push_back(x);
    } else {
      x->done = true;
      x->cv.Signal();
    }
  }
  return finished;
}

void EventStoreImpl::BuildGroup(const std::vector<Writer*>& group, rocksdb::WriteBatch* batch,
                                std::vector<IndexEntry>* index_entries, uint64_t* new_position,
                                std::string* new_hash, int64_t* new_recorded_at) {
  absl::flat_hash_map<std::string, CommandRecord> pending_commands;
  const int64_t now = std::max(clock_->NowMicros(), *new_recorded_at);
  std::string body;
  for (Writer* w : group) {
    const AppendRequest& req = *w->req;
    // Idempotency.
    if (!req.command_id.empty()) {
      std::optional<CommandRecord> prior;
      if (auto it = pending_commands.find(req.command_id); it != pending_commands.end()) {
        prior = it->second;
      } else {
        auto loaded = LoadCommand(req.command_id);
        if (!loaded.ok()) {
          w->result = loaded.status();
          continue;
        }
        prior = *loaded;
      }
      if (prior.has_value()) {
        if (!SameRequest(*prior, req, w->fingerprint)) {
          w->result = CommandIdReusedError(prior->result.first_position);
        } else {
          AppendResult r = prior->result;
          r.replayed = true;
          w->result = r;
        }
        continue;
      }
    }
    // Current stream head: the cache (which holds this group's earlier appends), else the disk.
    auto cached = stream_cache_.find(req.stream_id);
    if (cached == stream_cache_.end()) {
      auto loaded = LoadStreamHead(req.stream_id);
      if (!loaded.ok()) {
        w->result = loaded.status();
        continue;
      }
      cached = stream_cache_.emplace(req.stream_id, *loaded).first;
    }
    StreamHead& head = cached->second;
    const int64_t current = head.exists ? static_cast<int64_t>(head.last_revision) : -1;
    bool ok = true;
    switch (req.expected.kind()) {
      case ExpectedRevision::Kind::kAny:
        break;
      case ExpectedRevision::Kind::kNoStream:
        ok = !head.exists;
        break;
      case ExpectedRevision::Kind::kStreamExists:
        ok = head.exists;
        break;
      case ExpectedRevision::Kind::kExact:
        ok = head.exists && head.last_revision == req.expected.revision();
        break;
    }
    if (!ok) {
      w->result = Aborted(req.stream_id, req.expected, current);
      continue;
    }
    AppendResult result;
    result.first_position = *new_position + 1;
    uint64_t revision = head.exists ? head.last_revision + 1 : 0;
    char log_hash[kHashBytes];
    std::memcpy(log_hash, new_hash->data(), kHashBytes);
    for (const EventData& d : req.events) {
      const uint64_t position = ++*new_position;
      char generated_id[kUuidChars];
      if (d.event_id.empty()) NewUuid(bitgen_, generated_id);
      body.clear();
      EncodeEventBody(EventBodyFields{.recorded_at_us = now,
                                      .valid_at_us = d.valid_at_us == 0 ? now : d.valid_at_us,
                                      .revision = revision,
                                      .schema_version = d.schema_version,
                                      .event_id = d.event_id.empty()
                                                      ? std::string_view(generated_id, kUuidChars)
                                                      : std::string_view(d.event_id),
                                      .stream_id = req.stream_id,
                                      .type = d.type,
                                      .metadata = &req.metadata,
                                      .command_id = req.command_id,
                                      .payload = d.payload},
                      &body);
      char content[kHashBytes];
      ContentHashTo(position, body, content);
      const std::string_view content_view(content, kHashBytes);
      ChainHashTo(head.hash(), content_view, head.last_hash.data());
      char next_log_hash[kHashBytes];
      ChainHashTo(std::string_view(log_hash, kHashBytes), content_view, next_log_hash);
      std::memcpy(log_hash, next_log_hash, kHashBytes);
      body.append(head.hash());
      body.append(log_hash, kHashBytes);
      char key[8];
      EncodeFixed64BE(key, position);
      batch->Put(events_cf_, rocksdb::Slice(key, 8), body).PermitUncheckedError();
      index_entries->push_back(IndexEntry{req.stream_id, revision, position});
      head.exists = true;
      head.last_revision = revision;
      ++revision;
    }
    new_hash->assign(log_hash, kHashBytes);
    result.last_position = *new_position;
    result.stream_revision = head.last_revision;
    *new_recorded_at = now;
    if (!req.command_id.empty()) {
      CommandRecord record;
      if (req.command_fingerprint.empty()) {
        record.fingerprint = w->fingerprint;
      } else {
        record.kind = CommandRecord::FingerprintKind::kCommand;
        record.fingerprint = req.command_fingerprint;
      }
      record.result = result;
      batch->Put(commands_cf_, req.command_id, EncodeCommandRecord(record)).PermitUncheckedError();
      pending_commands[req.command_id] = std::move(record);
    }
    w->result = result;
  }
}

absl::StatusOr<EventStoreImpl::StreamHead> EventStoreImpl::LoadStreamHead(
    const std::string& stream_id) const {
  StreamHead head;
  uint64_t last_position = 0;
  bool pending = false;
  {
    absl::MutexLock lock(&index_mu_);
    if (auto p = pending_.find(stream_id); p != pending_.end()) {
      pending = true;
      head.last_revision = p->second.back().first;
      last_position = p->second.back().second;
    }
  }
  if (pending) {
    head.exists = true;
  } else {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf_));
    it->SeekForPrev(StreamKey(stream_id, UINT64_MAX));
    if (!it->status().ok()) return FromRocks(it->status(), "read stream index");
    if (!it->Valid()) return head;
    rocksdb::Slice k = it->key();
    if (k.size() != stream_id.size() + 9 || !k.starts_with(rocksdb::Slice(stream_id)) ||
        k[stream_id.size()] != '\0') {
      return head;
    }
    head.exists = true;
    head.last_revision = DecodeFixed64BE(k.data() + stream_id.size() + 1);
    last_position = DecodeFixed64BE(it->value().data());
  }
  auto e = ReadAt(last_position);
  if (!e.ok()) return e.status();
  if (e->stream_hash.size() != kHashBytes) return absl::DataLossError("malformed stream hash");
  std::memcpy(head.last_hash.data(), e->stream_hash.data(), kHashBytes);
  return head;
}

absl::Status EventStoreImpl::LoadUnindexedTail(uint64_t indexed_through) {
  std::vector<IndexEntry> entries;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  for (it->Seek(PositionKey(indexed_through + 1)); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return absl::DataLossError("malformed key in the events family");
    const uint64_t pos = DecodeFixed64BE(it->key().data());
    RecordedEvent e;
    absl::Status d =
        DecodeEventRecord(pos, std::string_view(it->value().data(), it->value().size()), &e);
    if (!d.ok()) return d;
    entries.push_back(IndexEntry{std::move(e.stream_id), e.revision, pos});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read the unindexed events");
  if (!entries.empty()) AddPending(std::move(entries));
  return absl::OkStatus();
}

void EventStoreImpl::AddPending(std::vector<IndexEntry> entries) {
  absl::MutexLock lock(&index_mu_);
  for (const IndexEntry& e : entries) pending_[e.stream_id].emplace_back(e.revision, e.position);
  if (!options_.read_only) {
    if (index_queue_.empty()) index_first_queued_at_ = absl::Now();
    index_queued_entries_ += entries.size();
    index_queue_.push_back(std::move(entries));
    index_cv_.Signal();
  }
}

EventStoreImpl::RevisionPositions EventStoreImpl::PendingOf(const std::string& stream_id) const {
  absl::MutexLock lock(&index_mu_);
  auto it = pending_.find(stream_id);
  return it == pending_.end() ? RevisionPositions() : it->second;
}

absl::StatusOr<std::optional<uint64_t>> EventStoreImpl::IndexedPosition(
    const std::string& stream_id, uint64_t revision) const {
  {
    absl::MutexLock lock(&index_mu_);
    if (auto it = pending_.find(stream_id); it != pending_.end()) {
      const RevisionPositions& p = it->second;
      const uint64_t first = p.front().first;
      if (revision >= first && revision - first < p.size()) return p[revision - first].second;
    }
  }
  std::string v;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), streams_cf_, StreamKey(stream_id, revision), &v);
  if (s.IsNotFound()) return std::optional<uint64_t>();
  if (!s.ok()) return FromRocks(s, "read stream index");
  if (v.size() != 8) return absl::DataLossError("malformed stream index entry");
  return std::optional<uint64_t>(DecodeFixed64BE(v.data()));
}

void EventStoreImpl::PutIndexEntries(const IndexBatches& claimed,
                                     rocksdb::WriteBatch* batch) const {
  char value[8];
  for (const std::vector<IndexEntry>& entries : claimed) {
    for (const IndexEntry& e : entries) {
      EncodeFixed64BE(value, e.position);
      batch->Put(streams_cf_, StreamKey(e.stream_id, e.revision), rocksdb::Slice(value, 8))
          .PermitUncheckedError();
    }
  }
  EncodeFixed64BE(value, claimed.back().back().position);
  batch->Put(meta_cf_, kStreamIndexThroughKey, rocksdb::Slice(value, 8)).PermitUncheckedError();
}

void EventStoreImpl::ReleaseClaim(IndexBatches claimed, bool written) {
  if (written) {
    for (const std::vector<IndexEntry>& entries : claimed) {
      for (const IndexEntry& e : entries) {
        auto it = pending_.find(e.stream_id);
        it->second.erase(it->second.begin());
        if (it->second.empty()) pending_.erase(it);
      }
    }
  } else {
    // Not written: back in front of whatever was queued since, in log order.
    for (auto& entries : claimed) index_queued_entries_ += entries.size();
    while (!claimed.empty()) {
      index_queue_.push_front(std::move(claimed.back()));
      claimed.pop_back();
    }
    index_first_queued_at_ = absl::InfinitePast();
  }
  index_claimed_ = false;
  index_cv_.Signal();
}

void EventStoreImpl::IndexerLoop() {
  const bool paused = options_.pause_stream_indexer_for_testing;
  index_mu_.Lock();
  while (true) {
    // Work to do now: many entries, or a few that no append carried within kIndexDelay; when
    // stopping, whatever is left (the committer has stopped: nobody else claims).
    bool go = false;
    while (!go) {
      const bool can = !index_queue_.empty() && !index_claimed_ && !paused && index_status_.ok();
      if (indexer_stop_) {
        go = can;
        break;
      }
      if (can && index_queued_entries_ > kIndexCarryMax) {
        go = true;
      } else if (can) {
        const absl::Duration waited = absl::Now() - index_first_queued_at_;
        if (waited >= kIndexDelay) {
          go = true;
        } else {
          index_cv_.WaitWithTimeout(&index_mu_, kIndexDelay - waited);
        }
      } else {
        index_cv_.Wait(&index_mu_);
      }
    }
    if (!go) break;  // stopping, and nothing (more) can be written
    IndexBatches work;
    work.swap(index_queue_);
    index_queued_entries_ = 0;
    index_claimed_ = true;
    index_mu_.Unlock();

    rocksdb::WriteBatch batch;
    PutIndexEntries(work, &batch);
    // No sync of its own: the next append's sync makes it durable, and after a crash the entries
    // past the recorded position are rebuilt from the log (LoadUnindexedTail).
    rocksdb::WriteOptions wo;
    wo.sync = false;
    rocksdb::Status s = db_->Write(wo, &batch);

    index_mu_.Lock();
    if (!s.ok()) index_status_ = FromRocks(s, "write the stream index");  // entries stay pending
    ReleaseClaim(std::move(work), s.ok());
  }
  index_mu_.Unlock();
}

absl::StatusOr<std::optional<CommandRecord>> EventStoreImpl::GetCommand(
    const std::string& command_id) const {
  if (command_id.empty()) return std::optional<CommandRecord>();
  return LoadCommand(command_id);
}

absl::StatusOr<std::optional<CommandRecord>> EventStoreImpl::LoadCommand(
    const std::string& command_id) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), commands_cf_, command_id, &v);
  if (s.IsNotFound()) return std::optional<CommandRecord>();
  if (!s.ok()) return FromRocks(s, "read command record");
  CommandRecord r;
  if (v.size() == kCommandRecordBytes + 1 && v.back() == kCommandFingerprintKind) {
    r.kind = CommandRecord::FingerprintKind::kCommand;
  } else if (v.size() != kCommandRecordBytes) {
    return absl::DataLossError(
        absl::StrCat("malformed record of command id '", command_id, "' (", v.size(), " bytes)"));
  }
  r.fingerprint = v.substr(0, kHashBytes);
  r.result.first_position = DecodeFixed64BE(v.data() + kHashBytes);
  r.result.last_position = DecodeFixed64BE(v.data() + kHashBytes + 8);
  r.result.stream_revision = DecodeFixed64BE(v.data() + kHashBytes + 16);
  return std::optional<CommandRecord>(std::move(r));
}

absl::StatusOr<RecordedEvent> EventStoreImpl::ReadAt(uint64_t position) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), events_cf_, PositionKey(position), &v);
  if (s.IsNotFound()) {
    return absl::NotFoundError(absl::StrCat("no event at position ", position));
  }
  if (!s.ok()) return FromRocks(s, "read event");
  RecordedEvent e;
  if (absl::Status d = DecodeEventRecord(position, v, &e); !d.ok()) return d;
  return e;
}

absl::StatusOr<RecordedEvent> EventStoreImpl::ReadEvent(uint64_t position) const {
  if (position == 0) return absl::NotFoundError("no event at position 0: the log starts at 1");
  return ReadAt(position);
}

void EventStoreImpl::NotifyHead(uint64_t position) {
  {
    absl::MutexLock lock(&head_mu_);
    head_ = Head{position, last_hash_, last_recorded_at_};
    head_cv_.SignalAll();
  }
  absl::MutexLock lock(&listeners_mu_);
  for (auto& [id, fn] : listeners_) fn(position);
}

absl::StatusOr<std::vector<RecordedEvent>> EventStoreImpl::ReadStream(const std::string& stream_id,
                                                                      uint64_t from,
                                                                      Direction direction,
                                                                      size_t limit) const {
  if (stream_id.empty()) return absl::InvalidArgumentError("stream_id: must not be empty");
  std::vector<RecordedEvent> out;
  if (limit == 0) return out;
  // The pending entries first (a suffix of the stream's revisions), then the streams family for
  // the revisions below them: an entry leaves pending_ only once it is in the family.
  const RevisionPositions pending = PendingOf(stream_id);
  const uint64_t first_pending = pending.empty() ? UINT64_MAX : pending.front().first;
  std::vector<uint64_t> positions;
  const std::string prefix = stream_id + '\0';
  auto revision_of = [&](const rocksdb::Slice& k) -> std::optional<uint64_t> {
    if (k.size() != prefix.size() + 8 || !k.starts_with(prefix)) return std::nullopt;
    return DecodeFixed64BE(k.data() + prefix.size());
  };
  if (direction == Direction::kForward) {
    bool past_head = false;
    if (from < first_pending) {
      absl::MutexLock lock(&known_mu_);
      auto known = known_heads_.find(stream_id);
      past_head = known != known_heads_.end() && from > known->second;
    }
    if (from < first_pending && !past_head) {
      // Revisions are dense from 0 (Verify checks it), so no event at `from` means none after
      // it. The common forward read asks only for what follows a cached revision and finds
      // nothing: a point lookup (bloom filters, no iterator over every level) answers that.
      std::string first;
      rocksdb::Status s =
          db_->Get(rocksdb::ReadOptions(), streams_cf_, StreamKey(stream_id, from), &first);
      if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read stream");
      if (s.ok()) {
        std::unique_ptr<rocksdb::Iterator> it(
            db_->NewIterator(rocksdb::ReadOptions(), streams_cf_));
        for (it->Seek(StreamKey(stream_id, from)); it->Valid() && positions.size() < limit;
             it->Next()) {
          std::optional<uint64_t> rev = revision_of(it->key());
          if (!rev.has_value() || *rev >= first_pending) break;
          positions.push_back(DecodeFixed64BE(it->value().data()));
        }
        if (!it->status().ok()) return FromRocks(it->status(), "read stream");
      }
    }
    for (const auto& [rev, pos] : pending) {
      if (positions.size() >= limit) break;
      if (rev >= from) positions.push_back(pos);
    }
  } else {
    for (auto p = pending.rbegin(); p != pending.rend() && positions.size() < limit; ++p) {
      if (p->first <= from) positions.push_back(p->second);
    }
    if (positions.size() < limit && first_pending > 0) {
      const uint64_t start = std::min(from, first_pending - 1);
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf_));
      for (it->SeekForPrev(StreamKey(stream_id, start)); it->Valid() && positions.size() < limit;
           it->Prev()) {
        if (!revision_of(it->key()).has_value()) break;
        positions.push_back(DecodeFixed64BE(it->value().data()));
      }
      if (!it->status().ok()) return FromRocks(it->status(), "read stream");
    }
  }
  return ReadAtEach(positions);
}

absl::StatusOr<std::vector<RecordedEvent>> EventStoreImpl::ReadAtEach(
    const std::vector<uint64_t>& positions) const {
  std::vector<RecordedEvent> out(positions.size());
  if (positions.empty()) return out;
  std::vector<std::string> keys;
  keys.reserve(positions.size());
  for (uint64_t pos : positions) keys.push_back(PositionKey(pos));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(positions.size());
  std::vector<rocksdb::Status> statuses(positions.size());
  // Keys in increasing order (a forward read) let RocksDB skip sorting them.
  const bool sorted = std::is_sorted(positions.begin(), positions.end());
  db_->MultiGet(rocksdb::ReadOptions(), events_cf_, slices.size(), slices.data(), values.data(),
                statuses.data(), sorted);
  for (size_t i = 0; i < positions.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("no event at position ", positions[i]));
    }
    if (!statuses[i].ok()) return FromRocks(statuses[i], "read event");
    const std::string_view v(values[i].data(), values[i].size());
    if (absl::Status d = DecodeEventRecord(positions[i], v, &out[i]); !d.ok()) return d;
  }
  return out;
}

absl::StatusOr<ReadAllResult> EventStoreImpl::ScanAll(
    uint64_t from, const LogFilter& filter, size_t max_examined,
    absl::FunctionRef<bool(const RecordedEvent&)> fn) const {
  return ScanWith(from, filter, max_examined, fn);
}

template <typename Fn>
absl::StatusOr<ReadAllResult> EventStoreImpl::ScanWith(uint64_t from, const LogFilter& filter,
                                                       size_t max_examined, Fn&& fn) const {
  ReadAllResult r;
  if (from == 0) from = 1;
  r.next_position = from;
  r.last_examined = from - 1;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  size_t examined = 0;
  RecordedEvent e;  // reused: its strings keep their capacity between events (unless moved from)
  bool stopped = false;
  for (it->Seek(PositionKey(from)); it->Valid(); it->Next()) {
    if (examined >= max_examined) break;  // the iterator rests on an unexamined event
    uint64_t pos = DecodeFixed64BE(it->key().data());
    absl::Status d =
        DecodeEventRecord(pos, std::string_view(it->value().data(), it->value().size()), &e);
    if (!d.ok()) return d;
    ++examined;
    r.last_examined = pos;
    r.next_position = pos + 1;
    if ((filter.empty() || filter.Matches(e)) && !fn(e)) {
      stopped = true;
      break;
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read log");
  if (stopped) it->Next();  // past the event `fn` stopped at
  r.end_of_log = !it->Valid() && it->status().ok();
  return r;
}

absl::StatusOr<size_t> EventStoreImpl::ReadInto(uint64_t from, std::span<RecordedEvent> out) const {
  if (from == 0) from = 1;
  if (out.empty()) return 0;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  // A bulk read of old events, done once: its blocks would only push the recent ones (live reads,
  // stream reads) out of the block cache, and inserting them costs memory and time.
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  size_t n = 0;
  it->Seek(PositionKey(from));
  while (it->Valid()) {
    // The slots (reused: their strings keep their capacity) were last written long ago: the slot
    // four ahead and the buffers of the one two ahead are fetched while this one is decoded.
    if (n + 4 < out.size()) {
      const char* slot = reinterpret_cast<const char*>(&out[n + 4]);
      for (size_t line = 0; line < sizeof(RecordedEvent); line += 64) {
        __builtin_prefetch(slot + line, 1);
      }
    }
    if (n + 2 < out.size()) {
      const RecordedEvent& ahead = out[n + 2];
      for (const std::string* s :
           {&ahead.event_id, &ahead.type, &ahead.payload, &ahead.stream_hash, &ahead.log_hash}) {
        __builtin_prefetch(s->data(), 1);
      }
    }
    RecordedEvent& e = out[n];
    e.decoded.reset();
    absl::Status d =
        DecodeEventRecord(DecodeFixed64BE(it->key().data()),
                          std::string_view(it->value().data(), it->value().size()), &e);
    if (!d.ok()) return d;
    if (++n == out.size()) break;  // full: no step past the last slot's event
    it->Next();
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read log");
  return n;
}

absl::StatusOr<ReadAllResult> EventStoreImpl::ReadAll(uint64_t from, size_t limit,
                                                      const LogFilter& filter,
                                                      size_t max_examined) const {
  std::vector<RecordedEvent> events;
  events.reserve(std::min<size_t>(limit, 4096));
  if (limit == 0) {
    ReadAllResult r;
    r.next_position = from == 0 ? 1 : from;
    r.last_examined = r.next_position - 1;
    return r;
  }
  auto r = ScanWith(from, filter, max_examined, [&](RecordedEvent& e) {
    events.push_back(std::move(e));  // decoded once, not copied
    return events.size() < limit;
  });
  if (!r.ok()) return r.status();
  r->events = std::move(events);
  return r;
}

absl::StatusOr<ReadAllResult> EventStoreImpl::ReadAllBackward(uint64_t from, size_t limit,
                                                              const LogFilter& filter) const {
  ReadAllResult r;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf_));
  if (from == UINT64_MAX) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(PositionKey(from));
  }
  for (; it->Valid() && r.events.size() < limit; it->Prev()) {
    uint64_t pos = DecodeFixed64BE(it->key().data());
    RecordedEvent e;
    absl::Status d =
        DecodeEventRecord(pos, std::string_view(it->value().data(), it->value().size()), &e);
    if (!d.ok()) return d;
    r.last_examined = pos;
    r.next_position = pos - 1;
    if (filter.empty() || filter.Matches(e)) r.events.push_back(std::move(e));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "read log backward");
  r.end_of_log = !it->Valid();
  return r;
}

absl::StatusOr<StreamInfo> EventStoreImpl::GetStreamInfo(const std::string& stream_id) const {
  if (stream_id.empty()) return absl::InvalidArgumentError("stream_id: must not be empty");
  auto head = LoadStreamHead(stream_id);
  if (!head.ok()) return head.status();
  return StreamInfo{head->exists, head->last_revision,
                    head->exists ? std::string(head->hash()) : std::string()};
}

Head EventStoreImpl::GetHead() const {
  absl::MutexLock lock(&head_mu_);
  return head_;
}

absl::StatusOr<uint64_t> EventStoreImpl::PositionAtOrBefore(int64_t recorded_at_us) const {
  uint64_t lo = 1, hi = GetHead().position, found = 0;
  std::string v;
  while (lo <= hi && hi != 0) {
    uint64_t mid = lo + (hi - lo) / 2;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), events_cf_, PositionKey(mid), &v);
    if (!s.ok()) return FromRocks(s, absl::StrCat("read event at position ", mid));
    int64_t t;
    if (!PeekRecordedAt(v, &t)) {
      return absl::DataLossError(absl::StrCat("event record at position ", mid, " is truncated"));
    }
    if (t <= recorded_at_us) {
      found = mid;
      lo = mid + 1;
    } else {
      if (mid == 0) break;
      hi = mid - 1;
    }
  }
  return found;
}

uint64_t EventStoreImpl::WaitForPosition(uint64_t position, absl::Time deadline) const {
  absl::MutexLock lock(&head_mu_);
  while (head_.position < position) {
    if (head_cv_.WaitWithDeadline(&head_mu_, deadline)) break;
  }
  return head_.position;
}

void EventStoreImpl::WakeWaiters() const {
  absl::MutexLock lock(&head_mu_);
  head_cv_.SignalAll();
}

uint64_t EventStoreImpl::AddHeadListener(std::function<void(uint64_t)> fn) {
  absl::MutexLock lock(&listeners_mu_);
  uint64_t id = next_listener_id_++;
  listeners_[id] = std::move(fn);
  return id;
}

void EventStoreImpl::RemoveHeadListener(uint64_t id) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

absl::StatusOr<VerifyReport> EventStoreImpl::Verify() const {
  VerifyReport report;
  struct Chain {
    uint64_t next_revision = 0;
    std::string hash = std::string(kHashBytes, '\0');
  };
  absl::flat_hash_map<std::string, Chain> streams;
  std::string log_hash(kHashBytes, '\0');
  uint64_t expected_pos = 1;
  // Events past the published head are being committed: their index entries are not pending
  // yet. They are verified by the next call.
  const uint64_t head = GetHead().position;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  std::string body;
  for (it->SeekToFirst(); it->Valid() && expected_pos <= head; it->Next()) {
    if (it->key().size() != 8) {
      return absl::DataLossError(
          absl::StrCat("malformed key after position ", expected_pos - 1, " in the events family"));
    }
    uint64_t pos = DecodeFixed64BE(it->key().data());
    if (pos != expected_pos) {
      return absl::DataLossError(
          absl::StrCat("position ", expected_pos, " is missing (next is ", pos, ")"));
    }
    RecordedEvent e;
    absl::Status d =
        DecodeEventRecord(pos, std::string_view(it->value().data(), it->value().size()), &e);
    if (!d.ok()) return d;
    body.clear();
    EncodeEventBody(e, &body);
    std::string content = ContentHash(pos, body);
    Chain& chain = streams[e.stream_id];
    if (e.revision != chain.next_revision) {
      return absl::DataLossError(absl::StrCat("position ", pos, ": stream '", e.stream_id,
                                              "' revision ", e.revision, " where ",
                                              chain.next_revision, " was expected"));
    }
    std::string stream_hash = ChainHash(chain.hash, content);
    if (stream_hash != e.stream_hash) {
      return absl::DataLossError(
          absl::StrCat("position ", pos, ": stored bytes do not match the stream hash chain of '",
                       e.stream_id, "' (the event was altered)"));
    }
    std::string next_log_hash = ChainHash(log_hash, content);
    if (next_log_hash != e.log_hash) {
      return absl::DataLossError(
          absl::StrCat("position ", pos,
                       ": stored bytes do not match the log hash chain (the event was altered)"));
    }
    absl::StatusOr<std::optional<uint64_t>> indexed = IndexedPosition(e.stream_id, e.revision);
    if (!indexed.ok()) return indexed.status();
    if (!indexed->has_value() || **indexed != pos) {
      return absl::DataLossError(absl::StrCat("position ", pos, ": the stream index entry of '",
                                              e.stream_id, "' revision ", e.revision,
                                              " does not point to it"));
    }
    chain.hash = stream_hash;
    chain.next_revision++;
    log_hash = next_log_hash;
    ++expected_pos;
    ++report.events_checked;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "verify");
  report.streams_checked = streams.size();
  report.head_hash = log_hash;
  return report;
}

absl::Status EventStoreImpl::Checkpoint(const std::string& dir) {
  // No projection switch (KvStore::FlushThenWrite) between the backup's flush and its list of
  // files and logs: the backup would hold the switch without the batches flushed before it.
  absl::WriterMutexLock barrier(&kv_->backup_barrier());
  rocksdb::Checkpoint* cp = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &cp);
  if (!s.ok()) return FromRocks(s, "checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> owned(cp);
  return FromRocks(owned->CreateCheckpoint(dir), absl::StrCat("checkpoint to ", dir));
}

absl::Status EventStoreImpl::PurgeDeleted(const std::string& space) {
  if (options_.read_only) return absl::FailedPreconditionError("the store is open read-only");
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("the event store is closed");
  }
  return kv_->FlushAllAndCompact(space, {meta_cf_, events_cf_, streams_cf_, commands_cf_});
}

absl::Status EventStoreImpl::CompactLog() {
  if (options_.read_only) return absl::FailedPreconditionError("the store is open read-only");
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("the event store is closed");
  }
  std::vector<rocksdb::ColumnFamilyHandle*> log = {meta_cf_, events_cf_, streams_cf_, commands_cf_};
  rocksdb::FlushOptions fo;
  fo.wait = true;
  if (auto s = db_->Flush(fo, log); !s.ok()) return FromRocks(s, "flush the log");
  rocksdb::CompactRangeOptions co;
  co.exclusive_manual_compaction = false;  // background compactions of the views go on
  for (rocksdb::ColumnFamilyHandle* cf : log) {
    if (auto s = db_->CompactRange(co, cf, nullptr, nullptr); !s.ok()) {
      return FromRocks(s, absl::StrCat("compact ", cf->GetName()));
    }
  }
  return absl::OkStatus();
}

void EventStoreImpl::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    mu_.Await(absl::Condition(
        +[](std::deque<Writer*>* w) { return w->empty(); }, &writers_));
    committer_stop_ = true;
    committer_cv_.Signal();
  }
  if (committer_.joinable()) committer_.join();
  {
    absl::MutexLock lock(&index_mu_);
    indexer_stop_ = true;
    index_cv_.Signal();
  }
  if (indexer_.joinable()) indexer_.join();  // after writing what is queued
  WakeWaiters();
  if (!db_) return;
  if (!options_.read_only) {
    // Flush memtables so the next open does not replay the write-ahead log, and so that the
    // unlogged writes of the key spaces (KvStore::WriteUnlogged) are kept.
    rocksdb::FlushOptions fo;
    std::vector<rocksdb::ColumnFamilyHandle*> all = {meta_cf_, events_cf_, streams_cf_,
                                                     commands_cf_};
    db_->Flush(fo, all).PermitUncheckedError();
    if (kv_) kv_->FlushUnlogged().IgnoreError();
    db_->FlushWAL(true).PermitUncheckedError();
  }
  if (kv_) kv_->CloseHandles();
  for (auto* h : {events_cf_, streams_cf_, commands_cf_, meta_cf_}) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  events_cf_ = streams_cf_ = commands_cf_ = meta_cf_ = nullptr;
  db_->Close().PermitUncheckedError();
  db_.reset();
}

}  // namespace internal
}  // namespace rb::es
