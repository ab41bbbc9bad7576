// Copyright: the Résorption-bidonvilles data service authors.
//
// The memtable of the store's column families (all but `streams`, which keeps RocksDB's with an
// insert hint per stream): an ordered skip list with one writer and lock-free readers, which
// resumes each insert from the place of the previous one.
//
// Why not RocksDB's own skip list: the RocksDB of Debian 12 is built with its assertions on, and
// its skip list checks every level of its insert position again after each insert: 17.7 key
// comparisons per insert after the last key, 71.1 per insert of sorted batches falling between
// stored keys (skip_list_rep_test counts them with rocksdb::PerfContext), where this list makes
// 1.0 and 6.0. The projections write each batch in key order (BatchViewWriter), between the keys
// of earlier batches; the log appends at its end. This list makes both cheap:
//   - the writer keeps, per level, the node it linked after last (a finger). An insert after the
//     previous one climbs the fingers only as far as the keys already stored in between require,
//     then descends from there: O(log d) comparisons for d keys in between, one at the end of the
//     list; an insert before the previous one searches from the top, as any skip list.
//   - readers (Get, iterators) never lock: a node is fully built before it is published, level by
//     level from the bottom, with release stores that readers load with acquire (the design of
//     LevelDB's memtable).
// RocksDB serialises the inserts into one memtable (DBOptions::allow_concurrent_memtable_write is
// false), which the factory requires. Every entry is unique (RocksDB gives each its own sequence
// number; only two-phase-commit transactions, unused here, insert an entry twice, which RocksDB's
// list refuses and this one would keep). Entries are never removed: the memtable's arena frees
// them all at once.
#ifndef RB_EVENTSTORE_SKIP_LIST_REP_H_
#define RB_EVENTSTORE_SKIP_LIST_REP_H_

#include <memory>

#include "rocksdb/memtablerep.h"

namespace rb::es::internal {

// The factory to set as ColumnFamilyOptions::memtable_factory.
std::shared_ptr<rocksdb::MemTableRepFactory> NewFingerSkipListFactory();

}  // namespace rb::es::internal

#endif  // RB_EVENTSTORE_SKIP_LIST_REP_H_
