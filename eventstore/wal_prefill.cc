// Copyright: the Résorption-bidonvilles data service authors.
#include "eventstore/wal_prefill.h"

#include <fcntl.h>
#include <sys/stat.h>
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

// RocksDB's log format (db/log_format.h): 32 KiB blocks of records, each with a 7-byte header
// (checksum 4, length 2, type 1; 11 bytes for the recyclable types 5 to 8, which also carry a log
// number), a block's last 6 bytes or fewer zero padding. Type 0 is reserved for preallocated
// space, which is what the zeroed region reads as.
constexpr uint64_t kLogBlock = 32768;
constexpr uint64_t kLogHeader = 7;

// The end of the records of the log file at `path`: the offset of the first all-zero header met
// at a record boundary, or the file's size when there is none (or when the file cannot be parsed,
// in which case RocksDB's reader judges it). Reading stops there because RocksDB's reader does
// not: it skips a zero header to the next block and would replay records found after a gap (a
// live file read while it grows, a power loss that wrote later pages and not earlier ones).
bool LogicalWalEnd(const std::string& path, uint64_t* end) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return false;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::string buffer;
  uint64_t buffer_at = 0;  // file offset of buffer[0]
  // The bytes [at, at + n) of the file, read in 1 MiB pieces; nullptr past its end.
  auto bytes = [&](uint64_t at, uint64_t n) -> const char* {
    if (at + n > size) return nullptr;
    if (at < buffer_at || at + n > buffer_at + buffer.size()) {
      buffer.resize(static_cast<size_t>(std::min<uint64_t>(kZeroBlock, size - at)));
      buffer_at = at;
      size_t got = 0;
      while (got < buffer.size()) {
        const ssize_t r =
            pread(fd, buffer.data() + got, buffer.size() - got, static_cast<off_t>(at + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += static_cast<size_t>(r);
      }
      buffer.resize(got);
      if (at + n > buffer_at + buffer.size()) return nullptr;
    }
    return buffer.data() + (at - buffer_at);
  };
  uint64_t at = 0;
  *end = size;
  while (at < size) {
    const uint64_t left_in_block = kLogBlock - at % kLogBlock;
    if (left_in_block < kLogHeader) {
      at += left_in_block;  // the block's zero trailer
      continue;
    }
    const char* h = bytes(at, kLogHeader);
    if (h == nullptr) break;  // a torn header at the very end: RocksDB's reader handles it
    if (std::all_of(h, h + kLogHeader, [](char c) { return c == 0; })) {
      *end = at;
      break;
    }
    const unsigned type = static_cast<unsigned char>(h[6]);
    const uint64_t length = static_cast<unsigned char>(h[4]) |
                            (static_cast<uint64_t>(static_cast<unsigned char>(h[5])) << 8);
    const uint64_t header = type >= 5 && type <= 8 ? kLogHeader + 4 : kLogHeader;
    if (type == 0 || at + header + length > size || header + length > left_in_block) {
      break;  // not a record this parser knows: leave the whole file to RocksDB's reader
    }
    at += header + length;
  }
  close(fd);
  return true;
}

// A log file read no further than its records' end (LogicalWalEnd).
class BoundedLogFile : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  BoundedLogFile(std::unique_ptr<rocksdb::FSSequentialFile> target, uint64_t end)
      : FSSequentialFileOwnerWrapper(std::move(target)), end_(end) {}

  rocksdb::IOStatus Read(size_t n, const rocksdb::IOOptions& options, rocksdb::Slice* result,
                         char* scratch, rocksdb::IODebugContext* dbg) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, end_ - std::min(offset_, end_)));
    rocksdb::IOStatus s = target()->Read(n, options, result, scratch, dbg);
    if (s.ok()) offset_ += result->size();
    return s;
  }
  rocksdb::IOStatus Skip(uint64_t n) override {
    n = std::min<uint64_t>(n, end_ - std::min(offset_, end_));
    rocksdb::IOStatus s = target()->Skip(n);
    if (s.ok()) offset_ += n;
    return s;
  }
  rocksdb::IOStatus PositionedRead(uint64_t offset, size_t n, const rocksdb::IOOptions& options,
                                   rocksdb::Slice* result, char* scratch,
                                   rocksdb::IODebugContext* dbg) override {
    n = static_cast<size_t>(std::min<uint64_t>(n, end_ - std::min(offset, end_)));
    return target()->PositionedRead(offset, n, options, result, scratch, dbg);
  }

 private:
  const uint64_t end_;
  uint64_t offset_ = 0;
};

class WalPrefillFileSystem : public rocksdb::FileSystemWrapper {
 public:
  WalPrefillFileSystem(std::shared_ptr<rocksdb::FileSystem> base, WalPrefillOptions options)
      : FileSystemWrapper(std::move(base)), options_(options) {}

  const char* Name() const override { return "RbWalPrefillFileSystem"; }

  // Log files are read, and measured (a checkpoint copies a live log by its size), up to the end
  // of their records only.
  rocksdb::IOStatus NewSequentialFile(const std::string& path, const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewSequentialFile(path, options, result, dbg);
    uint64_t end = 0;
    if (!s.ok() || !IsWalFileName(path) || !LogicalWalEnd(path, &end)) return s;
    *result = std::make_unique<BoundedLogFile>(std::move(*result), end);
    return s;
  }
  rocksdb::IOStatus GetFileSize(const std::string& path, const rocksdb::IOOptions& options,
                                uint64_t* size, rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->GetFileSize(path, options, size, dbg);
    uint64_t end = 0;
    if (s.ok() && IsWalFileName(path) && LogicalWalEnd(path, &end)) *size = std::min(*size, end);
    return s;
  }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(path, options, result, dbg);
    if (!s.ok() || !options_.prefill || options.use_direct_writes || !IsWalFileName(path)) {
      return s;
    }
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
