// A temporary directory per test, removed at destruction unless RB_KEEP_TEST_DIRS is set.
//
//   rb::testing::TempDir dir;
//   auto store = rb::es::EventStore::Open({}, dir.path() + "/db");
#ifndef RB_TESTS_TESTING_TEMP_DIR_H_
#define RB_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace rb::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace rb::testing

#endif  // RB_TESTS_TESTING_TEMP_DIR_H_
