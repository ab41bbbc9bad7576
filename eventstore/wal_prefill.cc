// Copyright: the Résorption-bidonvilles data service authors.
#include "eventstore/wal_prefill.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace rb::es::internal {
namespace {

constexpr size_t kZeroBlock = 1 << 20;

const char* Zeros() {
  static const std::string* const zeros = new std::string(kZeroBlock, '\0');
  return zeros->data();
}

// Writes zeros over [from, to) of `fd` and syncs them. False on any error.
bool WriteZeros(int fd, uint64_t from, uint64_t to) {
  while (from < to) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeroBlock, to - from));
    const ssize_t w = pwrite(fd, Zeros(), n, static_cast<off_t>(from));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    from += static_cast<uint64_t>(w);
  }
  return fdatasync(fd) == 0;
}

// A write-ahead log file: RocksDB's own file object does every write; this one keeps the zeroed
// region ahead of it through a second descriptor on the same file.
class WalFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  WalFile(std::unique_ptr<rocksdb::FSWritableFile> target, int fd, WalPrefillOptions options)
      : FSWritableFileOwnerWrapper(std::move(target)), fd_(fd), options_(options) {
    if (WriteZeros(fd_, 0, options_.initial_bytes)) {
      zeroed_ = options_.initial_bytes;
    } else {
      Release();
    }
  }
  ~WalFile() override { CutBackAndRelease(); }

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    EnsureZeroed(written_ + data.size());
    rocksdb::IOStatus s = target()->Append(data, options, dbg);
    if (s.ok()) written_ += data.size();
    return s;
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    EnsureZeroed(written_ + data.size());
    rocksdb::IOStatus s = target()->Append(data, options, info, dbg);
    if (s.ok()) written_ += data.size();
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    EnsureZeroed(offset + data.size());
    rocksdb::IOStatus s = target()->PositionedAppend(data, offset, options, dbg);
    if (s.ok()) written_ = std::max<uint64_t>(written_, offset + data.size());
    return s;
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    EnsureZeroed(offset + data.size());
    rocksdb::IOStatus s = target()->PositionedAppend(data, offset, options, info, dbg);
    if (s.ok()) written_ = std::max<uint64_t>(written_, offset + data.size());
    return s;
  }
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) {
      written_ = size;
      zeroed_ = std::min(zeroed_, size);
    }
    return s;
  }
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->Close(options, dbg);
    CutBackAndRelease();
    return s;
  }

 private:
  // Grows the zeroed region to cover `end` (and some room beyond). On an error (a full disk, for
  // instance) prefilling stops for this file and writes simply extend it, as without prefill.
  void EnsureZeroed(uint64_t end) {
    if (fd_ < 0) return;
    while (end > zeroed_) {
      const uint64_t chunk = std::min(std::max<uint64_t>(zeroed_, 1 << 20),
                                      std::max<uint64_t>(options_.max_chunk_bytes, 4096));
      if (!WriteZeros(fd_, zeroed_, zeroed_ + chunk)) {
        Release();
        return;
      }
      zeroed_ += chunk;
    }
  }

  // The file keeps only what RocksDB wrote once it is closed.
  void CutBackAndRelease() {
    if (fd_ < 0) return;
    if (zeroed_ > written_) {
      while (ftruncate(fd_, static_cast<off_t>(written_)) != 0 && errno == EINTR) {
      }
    }
    Release();
  }

  void Release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  int fd_;
  const WalPrefillOptions options_;
  uint64_t written_ = 0;  // bytes RocksDB wrote
  uint64_t zeroed_ = 0;   // bytes written with zeros and synced (never below written_)
};

class WalPrefillFileSystem : public rocksdb::FileSystemWrapper {
 public:
  WalPrefillFileSystem(std::shared_ptr<rocksdb::FileSystem> base, WalPrefillOptions options)
      : FileSystemWrapper(std::move(base)), options_(options) {}

  const char* Name() const override { return "RbWalPrefillFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(path, options, result, dbg);
    if (!s.ok() || options.use_direct_writes || !IsWalFileName(path)) return s;
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return s;  // no prefill: the file works as RocksDB made it
    *result = std::make_unique<WalFile>(std::move(*result), fd, options_);
    return s;
  }

 private:
  const WalPrefillOptions options_;
};

}  // namespace

bool IsWalFileName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string_view name =
      std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
  constexpr std::string_view kSuffix = ".log";
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return false;
  }
  const std::string_view stem = name.substr(0, name.size() - kSuffix.size());
  return std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::shared_ptr<rocksdb::FileSystem> NewWalPrefillFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base, WalPrefillOptions options) {
  return std::make_shared<WalPrefillFileSystem>(std::move(base), options);
}

}  // namespace rb::es::internal
