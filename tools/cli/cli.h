// Copyright: the Résorption-bidonvilles data service authors.
//
// The `resorption` command-line client minus main(): talks to a running resorptiond over gRPC
// (and restores backups offline).
//
//   resorption [--server=HOST:PORT] [--json] events head
//   resorption events read [--from=N] [--limit=N] [--stream=ID] [--type=PREFIX] [--backward]
//   resorption events tail [--from=N] [--count=N]
//   resorption backup create [--path=DIR]
//   resorption backup restore SRC DST
//   resorption events export --format=jsonl
//   resorption sites declare|show|list|history|close|update-population|export|import
//   resorption actions list|show|aggregates|create|update|managers|operators|indicators|...
//   resorption projections status|rebuild, analytics submit|get|export, territories search
//
// Every call carries the actor (--actor, --organisation, --role, --options) as metadata.
// The commands live in sites_cli.cc, actions_cli.cc, services_cli.cc, export_cli.cc and
// directory_cli.cc (cli_common.h); docs/tools.md describes them.
//
//   int code = rb::tools::RunCli({"--server=127.0.0.1:50051", "events", "head"}, std::cout,
//                                std::cerr);
//
// Output: human tables by default, one JSON object per line with --json. `--help` works on every
// command. Exit codes: 0 success; 1 the server (or the restore) failed: the message, the gRPC
// code and every field violation are printed on stderr; 2 usage error.
#ifndef RB_TOOLS_CLI_CLI_H_
#define RB_TOOLS_CLI_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace rb::tools {

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace rb::tools

#endif  // RB_TOOLS_CLI_CLI_H_
