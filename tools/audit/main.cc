// Copyright: the Résorption-bidonvilles data service authors.
//
// resorption-audit: offline audit of a data directory or a backup (see tools/lib/audit_command.h).
#include <iostream>
#include <string>
#include <vector>

#include "tools/lib/audit_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return rb::tools::RunAudit(args, std::cout, std::cerr);
}
