// Copyright: the Résorption-bidonvilles data service authors.
//
// The `resorption-audit` program minus main(): offline checks of a data directory or a backup,
// opened read-only (so it works while a server has the directory open).
//
//   resorption-audit [--data-dir=DIR] verify           # walk both hash chains of the whole log
//   resorption-audit [--data-dir=DIR] head             # position and hash of the log head
//   resorption-audit [--data-dir=DIR] site ID [--json] # replay one site's full history
//   resorption-audit [--data-dir=DIR] project SPEC [--position=N] [--format=csv|jsonl]
//                                                      # rebuild a custom projection offline
//
//   int code = rb::tools::RunAudit({"--data-dir=/backups/b1", "verify"}, std::cout, std::cerr);
//
// Exit codes: 0 everything checked is intact; 1 the data was altered (the first bad position is
// named on stderr) or could not be read; 2 usage error.
#ifndef RB_TOOLS_LIB_AUDIT_COMMAND_H_
#define RB_TOOLS_LIB_AUDIT_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

namespace rb::tools {

// `args` excludes the program name.
int RunAudit(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_AUDIT_COMMAND_H_
