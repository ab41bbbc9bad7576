// Runs one of the tools' binaries (build/tools/<name>) and captures its exit code and outputs.
#ifndef RB_TESTS_TOOLS_RUN_TOOL_H_
#define RB_TESTS_TOOLS_RUN_TOOL_H_

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace rb::tools::testing {

struct ToolRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ToolPath(const std::string& name) {
  const char* bin_dir = std::getenv("RB_BINARY_DIR");
  return std::string(bin_dir ? bin_dir : ".") + "/tools/" + name;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `scratch` is a directory for the captured outputs. Arguments are single-quoted for the shell.
inline ToolRun RunTool(const std::string& name, const std::vector<std::string>& args,
                       const std::string& scratch) {
  std::string cmd = "'" + ToolPath(name) + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " >'" + scratch + "/out' 2>'" + scratch + "/err' </dev/null";
  int status = std::system(cmd.c_str());
  ToolRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadAll(scratch + "/out");
  r.err = ReadAll(scratch + "/err");
  return r;
}

// The command id a write command printed ("NAME: OUTCOME, ..., command id ID", or
// "command_id":"ID" with --json); "" when there is none.
inline std::string PrintedCommandId(const std::string& out) {
  for (const auto& [key, end] : {std::pair<std::string, char>{", command id ", '\n'},
                                 std::pair<std::string, char>{R"("command_id":")", '"'}}) {
    const size_t at = out.find(key);
    if (at == std::string::npos) continue;
    const size_t from = at + key.size();
    return out.substr(from, out.find(end, from) - from);
  }
  return "";
}

}  // namespace rb::tools::testing

#endif  // RB_TESTS_TOOLS_RUN_TOOL_H_
