#include "eventstore/skip_list_rep.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "rocksdb/slice.h"

namespace rb::es::internal {

namespace {

constexpr int kMaxHeight = 12;
constexpr uint32_t kBranching = 4;

// A node is its successors, from its top level down to level 0, then its key (the memtable's
// length-prefixed entry). A Node* points at its level-0 slot: level i is i slots before it and the
// key starts right after it.
struct Node;
using Slot = std::atomic<Node*>;

Slot* SlotOf(Node* n, int level) {
  return reinterpret_cast<Slot*>(reinterpret_cast<char*>(n) - level * sizeof(Slot));
}
const char* KeyOf(const Node* n) { return reinterpret_cast<const char*>(n) + sizeof(Slot); }

// Readers: the successor as published (acquire pairs with the writer's release).
Node* Next(Node* n, int level) { return SlotOf(n, level)->load(std::memory_order_acquire); }
// The writer reads what it wrote itself.
Node* OwnNext(Node* n, int level) { return SlotOf(n, level)->load(std::memory_order_relaxed); }

class FingerSkipList final : public rocksdb::MemTableRep {
 public:
  FingerSkipList(const KeyComparator& compare, rocksdb::Allocator* allocator)
      : MemTableRep(allocator), compare_(compare) {
    for (Slot& s : head_slots_) s.store(nullptr, std::memory_order_relaxed);
    head_ = reinterpret_cast<Node*>(&head_slots_[kMaxHeight - 1]);
    std::fill(std::begin(finger_), std::end(finger_), head_);
  }

  // Room for a node of a random height and its `len` key bytes (`*buf`); the height waits in the
  // level-0 slot until Insert links the node.
  rocksdb::KeyHandle Allocate(const size_t len, char** buf) override {
    const int height = RandomHeight();
    char* base = AllocateAligned(height * sizeof(Slot) + len);
    for (int i = 0; i < height; ++i) new (base + i * sizeof(Slot)) Slot(nullptr);
    Node* n = reinterpret_cast<Node*>(base + (height - 1) * sizeof(Slot));
    SlotOf(n, 0)->store(reinterpret_cast<Node*>(static_cast<uintptr_t>(height)),
                        std::memory_order_relaxed);
    *buf = base + height * sizeof(Slot);
    return n;
  }

  void Insert(rocksdb::KeyHandle handle) override {
    Node* x = static_cast<Node*>(handle);
    const int height = static_cast<int>(reinterpret_cast<uintptr_t>(OwnNext(x, 0)));
    const char* key = KeyOf(x);
    const int list_height = max_height_.load(std::memory_order_relaxed);
    Node* prev[kMaxHeight];
    FindInsertPosition(key, list_height, prev);
    if (height > list_height) {
      for (int i = list_height; i < height; ++i) prev[i] = head_;
      // Readers that see the new height before the node find nullptr at those levels of the head
      // and go down: harmless.
      max_height_.store(height, std::memory_order_relaxed);
    }
    for (int i = 0; i < height; ++i) {
      SlotOf(x, i)->store(OwnNext(prev[i], i), std::memory_order_relaxed);
      SlotOf(prev[i], i)->store(x, std::memory_order_release);  // publishes x at level i
    }
    // The predecessors, at each level, of the keys that come right after x.
    const int levels = std::max(height, list_height);
    for (int i = 0; i < levels; ++i) finger_[i] = i < height ? x : prev[i];
    last_ = x;
  }

  bool Contains(const char* key) const override {
    Node* x = FindGreaterOrEqual([&](const Node* n) { return compare_(KeyOf(n), key) < 0; });
    return x != nullptr && compare_(KeyOf(x), key) == 0;
  }

  size_t ApproximateMemoryUsage() override { return 0; }  // the arena counts the nodes

  class Iterator final : public MemTableRep::Iterator {
   public:
    // `slot`: where it lives, handed back to `list` by the destructor (nullptr: on the heap).
    Iterator(const FingerSkipList* list, void* slot) : list_(list), slot_(slot) {}
    ~Iterator() override {
      if (slot_ != nullptr) list_->ReleaseSlot(slot_);
    }
    bool Valid() const override { return node_ != nullptr; }
    const char* key() const override { return KeyOf(node_); }
    void Next() override { node_ = ::rb::es::internal::Next(node_, 0); }
    void Prev() override {
      const char* k = KeyOf(node_);
      node_ = list_->FindLessThan([&](const Node* n) { return list_->compare_(KeyOf(n), k) < 0; });
    }
    // `memtable_key` when given (the entry's encoding), else `internal_key`.
    void Seek(const rocksdb::Slice& internal_key, const char* memtable_key) override {
      if (memtable_key != nullptr) {
        node_ = list_->FindGreaterOrEqual(
            [&](const Node* n) { return list_->compare_(KeyOf(n), memtable_key) < 0; });
      } else {
        node_ = list_->FindGreaterOrEqual(
            [&](const Node* n) { return list_->compare_(KeyOf(n), internal_key) < 0; });
      }
    }
    void SeekForPrev(const rocksdb::Slice& internal_key, const char* memtable_key) override {
      if (memtable_key != nullptr) {
        node_ = list_->FindLessThan(
            [&](const Node* n) { return list_->compare_(KeyOf(n), memtable_key) <= 0; });
      } else {
        node_ = list_->FindLessThan(
            [&](const Node* n) { return list_->compare_(KeyOf(n), internal_key) <= 0; });
      }
    }
    void SeekToFirst() override { node_ = ::rb::es::internal::Next(list_->head_, 0); }
    void SeekToLast() override {
      node_ = list_->FindLessThan([](const Node*) { return true; });
    }

   private:
    const FingerSkipList* list_;
    void* const slot_;
    Node* node_ = nullptr;
  };

  // With an arena, RocksDB destroys the iterator in place and never frees it (the arena, which
  // the public interface does not expose, would): such iterators live in slots of this list, which
  // an iterator's destructor hands back as its last act. A slot is reused only once more than
  // kSlotsInFlight others have been handed back, long after its destructor returned. The slots are
  // freed with the list; their number is that of the iterators open at once, plus that margin.
  MemTableRep::Iterator* GetIterator(rocksdb::Arena* arena) override {
    if (arena == nullptr) return new Iterator(this, nullptr);
    void* slot = nullptr;
    {
      std::lock_guard<std::mutex> lock(slots_mu_);
      if (free_slots_.size() > kSlotsInFlight) {
        slot = free_slots_.front();
        free_slots_.pop_front();
      } else {
        slots_.push_back(std::make_unique<SlotStorage>());
        slot = slots_.back().get();
      }
    }
    return new (slot) Iterator(this, slot);
  }

 private:
  // `bytes` of the memtable's memory, aligned for the slots (RocksDB's Allocate is unaligned).
  char* AllocateAligned(size_t bytes) {
    char* raw = nullptr;
    MemTableRep::Allocate(bytes + alignof(Slot) - 1, &raw);
    const auto at = reinterpret_cast<uintptr_t>(raw);
    return raw + (alignof(Slot) - at % alignof(Slot)) % alignof(Slot);
  }

  int RandomHeight() {
    int height = 1;
    while (height < kMaxHeight && NextRandom() % kBranching == 0) ++height;
    return height;
  }
  uint32_t NextRandom() {  // xorshift32; inserts are serialised
    random_ ^= random_ << 13;
    random_ ^= random_ >> 17;
    random_ ^= random_ << 5;
    return random_;
  }

  // The predecessors of `key` at levels [0, list_height). After the previous insert, the search
  // starts at the lowest level whose finger's successor is past `key` (every finger precedes the
  // previous key, hence `key`); before it, at the top of the head.
  void FindInsertPosition(const char* key, int list_height, Node** prev) const {
    const bool after_last = last_ != nullptr && compare_(KeyOf(last_), key) < 0;
    int level = list_height - 1;
    Node* x = head_;
    if (after_last) {
      level = 0;
      while (level < list_height - 1) {
        Node* next = OwnNext(finger_[level], level);
        if (next == nullptr || compare_(KeyOf(next), key) > 0) break;
        ++level;
      }
      // Above `level`, each finger's successor is past `key` too (a node of a higher level is in
      // the lower ones): the fingers are the predecessors there.
      for (int i = level + 1; i < list_height; ++i) prev[i] = finger_[i];
      x = finger_[level];
    }
    while (true) {
      Node* next = OwnNext(x, level);
      if (next != nullptr && compare_(KeyOf(next), key) < 0) {
        x = next;
        continue;
      }
      prev[level] = x;
      if (level == 0) return;
      --level;
      // Not moved at the level above: the finger below is at least as close to `key`.
      if (after_last && x == finger_[level + 1]) x = finger_[level];
    }
  }

  // The last node `before` (the head when none) and the node after it (nullptr: none), as
  // readers see the list; `before` holds for a prefix of the list.
  template <typename Before>
  std::pair<Node*, Node*> Bracket(Before before) const {
    Node* x = head_;
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = ::rb::es::internal::Next(x, level);
      if (next != nullptr && before(next)) {
        x = next;
      } else if (level == 0) {
        return {x, next};
      } else {
        --level;
      }
    }
  }
  // The first node not `before` (nullptr: none).
  template <typename Before>
  Node* FindGreaterOrEqual(Before before) const {
    return Bracket(before).second;
  }
  // The last node `before` (nullptr: none).
  template <typename Before>
  Node* FindLessThan(Before before) const {
    Node* x = Bracket(before).first;
    return x == head_ ? nullptr : x;
  }

  const KeyComparator& compare_;
  Slot head_slots_[kMaxHeight];
  Node* head_ = nullptr;
  std::atomic<int> max_height_{1};
  // Writer only.
  Node* finger_[kMaxHeight];
  Node* last_ = nullptr;
  uint32_t random_ = 0x9e3779b9u;
  // Arena iterators' slots.
  static constexpr size_t kSlotsInFlight = 64;
  struct SlotStorage {
    alignas(Iterator) unsigned char bytes[sizeof(Iterator)];
  };
  void ReleaseSlot(void* slot) const {
    std::lock_guard<std::mutex> lock(slots_mu_);
    free_slots_.push_back(slot);
  }
  mutable std::mutex slots_mu_;
  std::vector<std::unique_ptr<SlotStorage>> slots_;
  mutable std::deque<void*> free_slots_;
};

class FingerSkipListFactory final : public rocksdb::MemTableRepFactory {
 public:
  const char* Name() const override { return "rb.es.FingerSkipListFactory"; }
  rocksdb::MemTableRep* CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator& compare,
                                          rocksdb::Allocator* allocator,
                                          const rocksdb::SliceTransform*,
                                          rocksdb::Logger*) override {
    return new FingerSkipList(compare, allocator);
  }
  bool IsInsertConcurrentlySupported() const override { return false; }
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> NewFingerSkipListFactory() {
  return std::make_shared<FingerSkipListFactory>();
}

}  // namespace rb::es::internal
