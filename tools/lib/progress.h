// Copyright: the Résorption-bidonvilles data service authors.
//
// A progress bar for long operations, drawn on a terminal only: when the stream is not a TTY
// (a pipe, a file, a test) nothing is written.
//
//   rb::tools::ProgressBar bar("demo", std::cerr);
//   for (...) bar.Update(done, total);
//   bar.Finish();
//
// Not thread-safe.
#ifndef RB_TOOLS_LIB_PROGRESS_H_
#define RB_TOOLS_LIB_PROGRESS_H_

#include <cstdint>
#include <ostream>
#include <string>

namespace rb::tools {

class ProgressBar {
 public:
  // `out` must be std::cerr or std::cout to be drawn (their file descriptors are tested with
  // isatty); any other stream disables the bar.
  ProgressBar(std::string label, std::ostream& out);
  void Update(uint64_t done, uint64_t total);
  // Clears the line (when something was drawn).
  void Finish();
  bool enabled() const { return enabled_; }

 private:
  std::string label_;
  std::ostream& out_;
  bool enabled_ = false;
  bool drawn_ = false;
  int last_percent_ = -1;
};

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_PROGRESS_H_
