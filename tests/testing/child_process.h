// Copyright: the Résorption-bidonvilles data service authors.
//
// Crash tests run the test binary again as a child process, read what it reports through a pipe,
// and kill it with SIGKILL at a chosen report.
//
//   int main(int argc, char** argv) {
//     if (rb::testing::IsChild(argc, argv)) RunChild(argv[2], ..., rb::testing::ReportFd(argc,
//     argv));
//     ...
//   }
//   absl::StatusOr<rb::testing::ChildRun> run = rb::testing::RunChildUntil(
//       {"catchup", path}, [](std::string_view line) { return line == "site_list 1 4000"; });
//
// The child is started as `<this binary> --child ARGS... FD`, where FD is the write end of the
// pipe; it writes one report per line and never exits on its own.
#ifndef RB_TESTS_TESTING_CHILD_PROCESS_H_
#define RB_TESTS_TESTING_CHILD_PROCESS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace rb::testing {

// This binary was started by RunChildUntil: argv[1] is "--child".
bool IsChild(int argc, char** argv);
// The child's report descriptor (its last argument).
int ReportFd(int argc, char** argv);

struct ChildRun {
  std::vector<std::string> lines;  // every line the child reported, in order
  bool killed = false;             // kill_now returned true and the child died of SIGKILL
};

// Starts the child with `args`, passes each reported line to `kill_now` until it returns true,
// then kills the child with SIGKILL, keeps reading what it wrote before dying, and waits for it.
// INTERNAL when the child cannot be started or exits on its own (its status in the message).
absl::StatusOr<ChildRun> RunChildUntil(const std::vector<std::string>& args,
                                       absl::FunctionRef<bool(std::string_view line)> kill_now);

}  // namespace rb::testing

#endif  // RB_TESTS_TESTING_CHILD_PROCESS_H_
