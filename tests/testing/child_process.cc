// Copyright: the Résorption-bidonvilles data service authors.
#include "tests/testing/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace rb::testing {

bool IsChild(int argc, char** argv) { return argc >= 3 && std::strcmp(argv[1], "--child") == 0; }

int ReportFd(int argc, char** argv) { return std::atoi(argv[argc - 1]); }

absl::StatusOr<ChildRun> RunChildUntil(const std::vector<std::string>& args,
                                       absl::FunctionRef<bool(std::string_view line)> kill_now) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return absl::InternalError("cannot read /proc/self/exe");
  self[n] = '\0';
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    close(fds[0]);
    std::vector<std::string> all = {self, "--child"};
    all.insert(all.end(), args.begin(), args.end());
    all.push_back(std::to_string(fds[1]));
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(self, argv.data());
    _exit(2);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  if (in == nullptr) return absl::InternalError("fdopen failed");
  ChildRun run;
  char buf[512];
  while (fgets(buf, sizeof(buf), in) != nullptr) {
    run.lines.emplace_back(absl::StripTrailingAsciiWhitespace(buf));
    if (!run.killed && kill_now(run.lines.back())) {
      if (kill(pid, SIGKILL) != 0) return absl::InternalError("kill failed");
      run.killed = true;  // keep reading: reports written before the kill are still in the pipe
    }
  }
  fclose(in);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return absl::InternalError("waitpid failed");
  if (!run.killed || !WIFSIGNALED(status)) {
    return absl::InternalError(absl::StrCat("the child exited on its own, status ", status));
  }
  return run;
}

}  // namespace rb::testing
