// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/reaper.h"

#include <system_error>
#include <utility>

namespace rb::proj {

Reaper::~Reaper() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    thread.swap(thread_);
  }
  if (thread.joinable()) thread.join();  // Run destroys what it holds before it returns
  absl::MutexLock lock(&mu_);
  doomed_.clear();  // handed after the thread ended, if any
}

void Reaper::Hand(std::shared_ptr<void> doomed) {
  if (doomed == nullptr) return;
  absl::MutexLock lock(&mu_);
  doomed_.push_back(std::move(doomed));
  if (!thread_.joinable() && !stopping_) {
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error&) {
      doomed_.clear();  // no thread to be had: destroyed here
    }
  }
}

void Reaper::Run() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(
        +[](Reaper* r)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) { return r->stopping_ || !r->doomed_.empty(); },
        this));
    if (doomed_.empty()) return;  // stopping, nothing left
    std::vector<std::shared_ptr<void>> batch;
    batch.swap(doomed_);
    mu_.Unlock();
    batch.clear();
    mu_.Lock();
  }
}

}  // namespace rb::proj
