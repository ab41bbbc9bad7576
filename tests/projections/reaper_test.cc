#include "projections/reaper.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace rb::proj {
namespace {

// Counts its destructions and the threads they ran on.
struct Tally {
  std::atomic<int> destroyed{0};
  std::mutex mu;
  std::vector<std::thread::id> threads;
};

std::shared_ptr<void> Tracked(Tally* tally) {
  return std::shared_ptr<int>(new int(7), [tally](int* p) {
    delete p;
    {
      std::lock_guard<std::mutex> lock(tally->mu);
      tally->threads.push_back(std::this_thread::get_id());
    }
    ++tally->destroyed;
  });
}

TEST(Reaper, EverythingHandedIsDestroyedOnItsThreadByTheTimeItGoes) {
  Tally tally;
  {
    Reaper reaper;
    for (int i = 0; i < 100; ++i) reaper.Hand(Tracked(&tally));
  }
  EXPECT_EQ(tally.destroyed.load(), 100);
  ASSERT_EQ(tally.threads.size(), 100u);
  for (const std::thread::id& id : tally.threads) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(Reaper, AnObjectStillSharedGoesWithItsLastOwner) {
  Tally tally;
  std::shared_ptr<void> kept = Tracked(&tally);
  {
    Reaper reaper;
    reaper.Hand(kept);
  }
  EXPECT_EQ(tally.destroyed.load(), 0);
  kept.reset();
  EXPECT_EQ(tally.destroyed.load(), 1);
}

}  // namespace
}  // namespace rb::proj
