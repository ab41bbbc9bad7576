// Copyright: the Résorption-bidonvilles data service authors.
//
// The protobuf arena options of a projection's batch state (projection.h): a batch read while
// catching up keeps tens of megabytes of records and folded states on its arena. Protobuf's
// default blocks stop growing at 8 KiB, thousands of allocations (and of frees when the batch
// ends) for one batch; these grow to 1 MiB, so a large batch takes a few dozen blocks, laid out
// in the order its records were made, and a small (live) one still starts small.
//
//   google::protobuf::Arena arena_{rb::proj::BatchArenaOptions()};
#ifndef RB_PROJECTIONS_BATCH_ARENA_H_
#define RB_PROJECTIONS_BATCH_ARENA_H_

#include "google/protobuf/arena.h"

namespace rb::proj {

inline google::protobuf::ArenaOptions BatchArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 4 << 10;
  options.max_block_size = 1 << 20;
  return options;
}

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_BATCH_ARENA_H_
