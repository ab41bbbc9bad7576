// Copyright: the Résorption-bidonvilles data service authors.
//
// SubjectKeys: one AES-256 key per data subject (a user), kept in the key space
// "access.subject_keys.v1" (key: subject id, value: 32 raw bytes). Personal data is sealed with
// the subject's key before it enters the event log, so that erasing a person is destroying one
// key ("crypto-shredding"): the log keeps its bytes and its hash chains still verify, but the
// sealed data can no longer be read.
//
//   rb::access::SubjectKeys keys(&store->kv());
//   RB_RETURN_IF_ERROR(keys.Init());
//   absl::StatusOr<std::string> sealed = keys.Seal("user-7", personal.SerializeAsString());
//   absl::StatusOr<std::string> clear = keys.Open("user-7", *sealed);
//   keys.Destroy("user-7");   // Open now fails with FAILED_PRECONDITION
//
// A key destroyed with a time (Destroy(subject, at_us)) leaves a tombstone that records that time
// and no key material: "erased:<decimal microseconds>". Open then attaches the time to its
// FAILED_PRECONDITION (payload rb::domain::kErasedAtPayload), so erased owner names can read
// "Anonymisé le <day>".
//
// Errors: Open returns FAILED_PRECONDITION when the subject's key was destroyed (or never
// existed), DATA_LOSS when the sealed bytes do not authenticate. Thread-safe.
#ifndef RB_ACCESS_SUBJECT_KEYS_H_
#define RB_ACCESS_SUBJECT_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "eventstore/event_store.h"
#include "eventstore/kv_store.h"

namespace rb::access {

inline constexpr std::string_view kSubjectKeySpace = "access.subject_keys.v1";

class SubjectKeys {
 public:
  explicit SubjectKeys(rb::es::KvStore* kv) : kv_(kv) {}
  absl::Status Init();

  // Seals with the subject's key, creating the key on first use. The subject id is
  // authenticated data: bytes sealed for one subject do not open for another.
  absl::StatusOr<std::string> Seal(std::string_view subject, std::string_view plaintext);
  absl::StatusOr<std::string> Open(std::string_view subject, std::string_view sealed) const;
  // A keyed digest of `data` for the subject: HMAC-SHA256 under a key derived from the subject's
  // key (created on first use, as by Seal). Nobody can recompute it, nor test a guessed
  // plaintext against it, once the key is destroyed. FAILED_PRECONDITION (as Open, with the
  // erasure time) when the key was destroyed with a tombstone: no new key is made for it.
  absl::StatusOr<std::string> Digest(std::string_view subject, std::string_view data);
  // Destroys the key (durably). With `erased_at_us` > 0 and a live key, the key is replaced by a
  // tombstone recording that time; otherwise the entry is removed. Idempotent: destroying again
  // keeps the first time. Sealing for the subject afterwards creates a new key.
  absl::Status Destroy(std::string_view subject, int64_t erased_at_us = 0);
  // True while the subject's key exists (a tombstone is no key).
  absl::StatusOr<bool> Exists(std::string_view subject) const;
  // Makes destroyed keys unrecoverable from the data directory's files: flushes the write-ahead
  // log and compacts the key space (rb::es::EventStore::PurgeDeleted). Run after Destroy when the
  // old bytes must be gone now rather than at RocksDB's next compaction.
  static absl::Status Purge(rb::es::EventStore* store);

 private:
  // The subject's live key, created when there is none (a tombstone too, unless
  // `keep_tombstone`: then FAILED_PRECONDITION as Open).
  absl::StatusOr<std::string> KeyForUse(std::string_view subject, bool keep_tombstone);

  rb::es::KvStore* kv_;
  absl::Mutex mu_;  // serialises key creation
};

}  // namespace rb::access

#endif  // RB_ACCESS_SUBJECT_KEYS_H_
