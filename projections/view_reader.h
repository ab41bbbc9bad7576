// Copyright: the Résorption-bidonvilles data service authors.
//
// ViewReader: the query side of a projection. It reads the key spaces of the generation that was
// active when the reader was obtained, so query code never has to know generation numbers, and a
// rebuild switching generations under it changes nothing for a reader already handed out.
//
//   absl::StatusOr<rb::proj::ViewReader> reader = engine.Reader("category_counts");
//   if (!reader.ok()) return reader.status();
//   absl::StatusOr<std::optional<std::string>> n = reader->Get("counts", "site");
//   auto it = reader->NewIterator("counts");
//   for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) Use((*it)->key(), (*it)->value());
//
// For read-your-writes, first call ProjectionEngine::WaitForPosition with the position an append
// returned, then obtain the reader.
//
// Consistency: each Get reads the latest committed state of the generation; an iterator reads a
// consistent snapshot of one space. Several reads are not one snapshot while the projection is
// applying events, unless their iterators come from one ViewSnapshot:
//
//   absl::StatusOr<rb::proj::ViewSnapshot> snapshot = reader->Snapshot();
//   auto a = snapshot->NewIterator("index");  // a and b read the same instant
//   auto b = snapshot->NewIterator("territories");
//
// Thread safety: a ViewReader is a cheap, copyable value; its methods may be called from any
// thread. The key spaces of a generation replaced by a rebuild are dropped only once the last
// reader (and iterator owner's reader) of that generation is destroyed. Readers must be destroyed
// before the EventStore is closed.
#ifndef RB_PROJECTIONS_VIEW_READER_H_
#define RB_PROJECTIONS_VIEW_READER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eventstore/kv_store.h"
#include "projections/layout.h"

namespace rb::proj {

namespace internal {

// The key spaces of one generation. When marked for drop, the last owner drops the spaces (errors
// ignored: the engine drops leftover spaces of unknown generations when it starts).
class GenerationHandle {
 public:
  GenerationHandle(rb::es::KvStore* kv, std::string projection, GenerationId id,
                   std::vector<std::string> spaces);
  ~GenerationHandle();
  GenerationHandle(const GenerationHandle&) = delete;
  GenerationHandle& operator=(const GenerationHandle&) = delete;

  rb::es::KvStore* kv() const { return kv_; }
  const std::string& projection() const { return projection_; }
  GenerationId id() const { return id_; }
  const std::vector<std::string>& spaces() const { return spaces_; }
  // The full key space name of a declared space; nullptr when undeclared.
  const std::string* FullName(std::string_view space) const;
  // Creates every key space (idempotent).
  absl::Status CreateSpaces() const;
  void MarkForDrop() { drop_on_release_.store(true); }

 private:
  rb::es::KvStore* const kv_;
  const std::string projection_;
  const GenerationId id_;
  const std::vector<std::string> spaces_;
  const std::vector<std::string> full_names_;
  std::atomic<bool> drop_on_release_{false};
};

}  // namespace internal

// A consistent snapshot of every space of one generation (ViewReader::Snapshot): its iterators
// read one instant. A cheap, copyable value; its iterators must not outlive it (or a copy).
class ViewSnapshot {
 public:
  // An iterator over `space` as of the snapshot (call Seek before use). Errors: as
  // ViewReader::NewIterator.
  absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> NewIterator(std::string_view space) const;

 private:
  friend class ViewReader;
  ViewSnapshot(std::shared_ptr<const internal::GenerationHandle> generation,
               std::shared_ptr<const rb::es::KvSnapshot> snapshot);

  std::shared_ptr<const internal::GenerationHandle> generation_;
  std::shared_ptr<const rb::es::KvSnapshot> snapshot_;
};

class ViewReader {
 public:
  explicit ViewReader(std::shared_ptr<const internal::GenerationHandle> generation);

  const std::string& projection() const { return generation_->projection(); }
  GenerationId generation() const { return generation_->id(); }
  const std::vector<std::string>& spaces() const { return generation_->spaces(); }

  // The value of `key` in `space`, nullopt when absent.
  // Errors: INVALID_ARGUMENT for a space the projection did not declare; storage errors.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view space,
                                                 std::string_view key) const;
  // An iterator over a consistent snapshot of `space` (call Seek before use). The iterator must
  // not outlive this reader (or a copy of it). Errors: as Get.
  absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> NewIterator(std::string_view space) const;
  // A snapshot of every space, now, for iterators that must read one instant (a merge of several
  // ranges; a space that says which ranges to read, then those ranges). Errors: storage errors.
  absl::StatusOr<ViewSnapshot> Snapshot() const;

 private:
  std::shared_ptr<const internal::GenerationHandle> generation_;
};

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_VIEW_READER_H_
