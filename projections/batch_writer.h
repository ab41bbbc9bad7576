// Copyright: the Résorption-bidonvilles data service authors.
//
// BatchViewWriter: the engine's ViewWriter. It buffers the writes of a batch of events in ordered
// maps (one per space, so that the emitted batch is deterministic and each key is written once),
// answers Get from that buffer before the store, and appends the buffered writes to a
// KvWriteBatch at commit.
//
//   BatchViewWriter writer(&kv, "category_counts", gen, {"counts"});
//   absl::Status s = projection.Apply(event, writer);
//   if (s.ok()) s = writer.TakeError();
//   rb::es::KvWriteBatch batch;
//   writer.AppendTo(&batch);
//   writer.Clear();
//
// Not thread-safe. `kv` is not owned and must outlive the writer.
#ifndef RB_PROJECTIONS_BATCH_WRITER_H_
#define RB_PROJECTIONS_BATCH_WRITER_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eventstore/kv_store.h"
#include "projections/layout.h"
#include "projections/projection.h"

namespace rb::proj {

class BatchViewWriter final : public ViewWriter {
 public:
  BatchViewWriter(const rb::es::KvStore* kv, std::string_view projection, GenerationId gen,
                  const std::vector<std::string>& spaces);

  absl::StatusOr<std::optional<std::string>> Get(std::string_view space,
                                                 std::string_view key) override;
  void Put(std::string_view space, std::string_view key, std::string_view value) override;
  void Delete(std::string_view space, std::string_view key) override;

  // The first error of a Put or Delete since the last call (then cleared); OK when none.
  absl::Status TakeError();
  // Approximate size of the buffered writes, in bytes.
  size_t ApproximateBytes() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  // Appends the buffered writes to `batch`: spaces in declaration order, keys in byte order.
  void AppendTo(rb::es::KvWriteBatch* batch) const;
  // Forgets the buffered writes and any pending error.
  void Clear();

 private:
  struct Space {
    std::string short_name;
    std::string full_name;
    // nullopt value: a pending delete.
    std::map<std::string, std::optional<std::string>, std::less<>> pending;
  };
  Space* Find(std::string_view space);
  void Record(std::string_view op, std::string_view space, std::string_view key,
              std::optional<std::string_view> value);

  const rb::es::KvStore* kv_;
  std::vector<Space> spaces_;
  size_t bytes_ = 0;
  absl::Status error_;
};

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_BATCH_WRITER_H_
