// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/progress.h"

#include <unistd.h>

#include <iostream>
#include <string>

namespace rb::tools {

ProgressBar::ProgressBar(std::string label, std::ostream& out)
    : label_(std::move(label)), out_(out) {
  if (&out == &std::cerr) enabled_ = isatty(STDERR_FILENO) == 1;
  if (&out == &std::cout) enabled_ = isatty(STDOUT_FILENO) == 1;
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0) return;
  const int percent = static_cast<int>(done * 100 / total);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  constexpr int kWidth = 40;
  const int filled = percent * kWidth / 100;
  out_ << "\r" << label_ << " [" << std::string(filled, '#') << std::string(kWidth - filled, ' ')
       << "] " << percent << "% (" << done << "/" << total << ")" << std::flush;
  drawn_ = true;
}

void ProgressBar::Finish() {
  if (drawn_) out_ << "\r\033[K" << std::flush;
  drawn_ = false;
}

}  // namespace rb::tools
