// Copyright: the Résorption-bidonvilles data service authors.
//
// Reaper: destroys what it is handed on a thread of its own, for owners whose thread should not
// spend its time freeing large structures (a projection worker ending a catch-up batch, the
// catch-up cache dropping chunks behind the worker furthest behind). The thread starts at the
// first Hand; the destructor waits until everything handed is destroyed, then joins it. When no
// thread can be started, Hand destroys at once.
//
//   Reaper reaper;
//   reaper.Hand(std::shared_ptr<void>(std::move(batch_state)));  // destroyed on the reaper
//
// Thread-safe. What is handed must be safe to destroy on another thread (nothing else uses it).
#ifndef RB_PROJECTIONS_REAPER_H_
#define RB_PROJECTIONS_REAPER_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace rb::proj {

class Reaper {
 public:
  Reaper() = default;
  ~Reaper();
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  // Takes the last reference to `doomed` (or shares it: it goes when the last one does).
  void Hand(std::shared_ptr<void> doomed);

 private:
  void Run();

  absl::Mutex mu_;
  std::vector<std::shared_ptr<void>> doomed_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rb::proj

#endif  // RB_PROJECTIONS_REAPER_H_
