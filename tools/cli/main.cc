// Copyright: the Résorption-bidonvilles data service authors.
//
// resorption: the command-line client (see tools/cli/cli.h).
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return rb::tools::RunCli(args, std::cout, std::cerr);
}
