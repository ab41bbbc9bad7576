// Copyright: the Résorption-bidonvilles data service authors.
//
// Internal: a RocksDB file system whose write-ahead log files are written into space that was
// already written with zeros and synced. Not a public header.
//
// Why: on ext4 (and most file systems) an fdatasync that follows an append past the end of the
// file must also write the new file size (the inode, or a journal commit), which costs about as
// much as the data write itself (measured on the reference machine: 166 us for a 20 KB append
// and sync, 97 us for the same write over existing blocks). Every durable append waits for that
// sync, so the log keeps a zeroed region ahead of its write offset and its syncs only flush data.
//
// Contract:
//   - Only write-ahead log files (`<digits>.log`) are affected; every other file and every other
//     call is forwarded unchanged.
//   - A new log file is zero-filled up to `initial_bytes` when it is created. Before an append
//     would go past the zeroed region, the region grows (by its own size, at most
//     `max_chunk_bytes` at a time) and the zeros are synced before the append is written: the
//     append's own sync then never has to allocate blocks or change the file size.
//   - Closing a log file cuts it back to the bytes RocksDB wrote. After a crash the file keeps its
//     zero tail.
//   - Log files are read (recovery, read-only opens, checkpoints) and measured (GetFileSize) only
//     up to their records' end: the first all-zero record header at a record boundary. RocksDB's
//     own reader does not stop there: it skips a zero header to the next 32 KiB block and would
//     replay records found after a gap, e.g. in a live file read while it grows, or after a
//     power loss that wrote later pages of unsynced records and not earlier ones.
#ifndef RB_EVENTSTORE_WAL_PREFILL_H_
#define RB_EVENTSTORE_WAL_PREFILL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "rocksdb/file_system.h"

namespace rb::es::internal {

struct WalPrefillOptions {
  // False: log files are written as RocksDB writes them (no zeros ahead); reads stay bounded.
  bool prefill = true;
  // Zeroed when a log file is created (when the store opens, and after each memtable switch):
  // about 50,000 events of 300 bytes, written without any growth pause.
  uint64_t initial_bytes = 16 << 20;
  // Each later growth doubles the region (at least 1 MiB), at most this much at a time.
  uint64_t max_chunk_bytes = 4 << 20;
};

// Wraps `base` (normally rocksdb::FileSystem::Default()).
std::shared_ptr<rocksdb::FileSystem> NewWalPrefillFileSystem(
    std::shared_ptr<rocksdb::FileSystem> base, WalPrefillOptions options = {});

// True for the name of a RocksDB write-ahead log file: `<digits>.log`, with or without a
// directory.
bool IsWalFileName(const std::string& path);

}  // namespace rb::es::internal

#endif  // RB_EVENTSTORE_WAL_PREFILL_H_
