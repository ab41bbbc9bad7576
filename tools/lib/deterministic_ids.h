// Copyright: the Résorption-bidonvilles data service authors.
//
// An EventStore decorator that gives every appended event without an id a UUID drawn from a
// seeded sequence instead of a random one, so that a generated log is reproducible byte for byte
// (the event id is part of the hashed record). Everything else is forwarded unchanged.
//
//   auto store = rb::es::EventStore::Open(options, dir);
//   rb::tools::DeterministicIds ids(store->get(), /*seed=*/7);
//   rb::domain::CommandHandler handler(&ids);   // events get reproducible ids
//
// Thread-safe; ids depend on the order of Append calls, so only a single writer keeps them
// reproducible. The wrapped store must outlive the decorator.
#ifndef RB_TOOLS_LIB_DETERMINISTIC_IDS_H_
#define RB_TOOLS_LIB_DETERMINISTIC_IDS_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "eventstore/event_store.h"

namespace rb::tools {

// The version-4 UUID made of these 128 bits (`hi` first), their version and variant bits set, in
// canonical lower-case form ("8-4-4-4-12" hexadecimal digits).
std::string UuidV4(uint64_t hi, uint64_t lo);

class DeterministicIds : public rb::es::EventStore {
 public:
  DeterministicIds(rb::es::EventStore* store, uint64_t seed) : store_(store), state_(seed) {}

  absl::StatusOr<rb::es::AppendResult> Append(const rb::es::AppendRequest& req) override;
  absl::StatusOr<std::vector<rb::es::RecordedEvent>> ReadStream(const std::string& stream_id,
                                                                uint64_t from,
                                                                rb::es::Direction direction,
                                                                size_t limit) const override {
    return store_->ReadStream(stream_id, from, direction, limit);
  }
  absl::StatusOr<rb::es::ReadAllResult> ReadAll(uint64_t from, size_t limit,
                                                const rb::es::LogFilter& filter,
                                                size_t max_examined) const override {
    return store_->ReadAll(from, limit, filter, max_examined);
  }
  absl::StatusOr<rb::es::ReadAllResult> ScanAll(
      uint64_t from, const rb::es::LogFilter& filter, size_t max_examined,
      absl::FunctionRef<bool(const rb::es::RecordedEvent&)> fn) const override {
    return store_->ScanAll(from, filter, max_examined, fn);
  }
  absl::StatusOr<size_t> ReadInto(uint64_t from,
                                  std::span<rb::es::RecordedEvent> out) const override {
    return store_->ReadInto(from, out);
  }
  absl::StatusOr<rb::es::ReadAllResult> ReadAllBackward(
      uint64_t from, size_t limit, const rb::es::LogFilter& filter) const override {
    return store_->ReadAllBackward(from, limit, filter);
  }
  absl::StatusOr<rb::es::RecordedEvent> ReadEvent(uint64_t position) const override {
    return store_->ReadEvent(position);
  }
  absl::StatusOr<rb::es::StreamInfo> GetStreamInfo(const std::string& stream_id) const override {
    return store_->GetStreamInfo(stream_id);
  }
  absl::StatusOr<std::optional<rb::es::CommandRecord>> GetCommand(
      const std::string& command_id) const override {
    return store_->GetCommand(command_id);
  }
  rb::es::Head GetHead() const override { return store_->GetHead(); }
  absl::StatusOr<uint64_t> PositionAtOrBefore(int64_t recorded_at_us) const override {
    return store_->PositionAtOrBefore(recorded_at_us);
  }
  uint64_t WaitForPosition(uint64_t position, absl::Time deadline) const override {
    return store_->WaitForPosition(position, deadline);
  }
  uint64_t AddHeadListener(std::function<void(uint64_t)> fn) override {
    return store_->AddHeadListener(std::move(fn));
  }
  void RemoveHeadListener(uint64_t id) override { store_->RemoveHeadListener(id); }
  std::unique_ptr<rb::es::Subscription> Subscribe(uint64_t from,
                                                  rb::es::LogFilter filter) const override {
    return store_->Subscribe(from, std::move(filter));
  }
  absl::StatusOr<rb::es::VerifyReport> Verify() const override { return store_->Verify(); }
  rb::es::KvStore& kv() override { return store_->kv(); }
  absl::Status Checkpoint(const std::string& dir) override { return store_->Checkpoint(dir); }
  absl::Status CompactLog() override { return store_->CompactLog(); }
  absl::Status PurgeDeleted(const std::string& space) override {
    return store_->PurgeDeleted(space);
  }
  void Close() override { store_->Close(); }

  // The next id of the sequence (a version-4 UUID in canonical form).
  std::string NextId();

 private:
  rb::es::EventStore* store_;
  std::mutex mu_;
  uint64_t state_;
};

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_DETERMINISTIC_IDS_H_
