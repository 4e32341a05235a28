// main: dispatches `hedge <command>` to the command's own file (cli.hpp).
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli.hpp"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* help;
};

constexpr Command commands[] = {
    {"serve", hedge::cli::serve, "run the filtering resolver (--config FILE [--check-config])"},
    {"compile", hedge::cli::compile, "build a list bundle: --out DIR CATEGORY=FILE..."},
    {"lists", hedge::cli::lists, "lists lookup NAME --bundle DIR"},
    {"keygen", hedge::cli::keygen, "make an ECDSA P-256 signing key pair: --out PREFIX"},
    {"verify", hedge::cli::verify, "verify a bundle: DIR --pubkey KEY"},
    {"publish", hedge::cli::publish, "put a signed bundle on a web root: --bundle DIR --to WEBROOT"},
    {"update", hedge::cli::update, "fetch, verify and install the trust's bundle: --config FILE [--check]"},
    {"rollback", hedge::cli::rollback, "serve the previous list generation: --config FILE --by NAME"},
    {"exception", hedge::cli::exception, "temporary allow/deny: add|approve|revoke|list (audited)"},
    {"audit", hedge::cli::audit, "policy change log: list|verify (hash chain)"},
    {"explain", hedge::cli::explain, "why is NAME blocked: NAME --client IP [--at TIME]"},
    {"check", hedge::cli::check, "the built-in filtering check: every group's blocked categories, tested"},
    {"events", hedge::cli::events, "monitoring log: list|export [--since T] [--until T] [--format csv|json]"},
    {"incident", hedge::cli::incident, "safeguarding incidents: list | ack ID --by WHO --note TEXT"},
    {"user", hedge::cli::user, "console accounts: add|first|list|disable|enable|passwd (audited)"},
    {"report", hedge::cli::report, "safeguarding|governor --from DATE --to DATE [--format html|csv]"},
    {"netconf", hedge::cli::netconf, "the appliance's network file from [network]: --config FILE"},
};

void usage(FILE* out) {
  std::fprintf(out, "usage: hedge <command> [options]\n\ncommands:\n");
  for (const auto& c : commands) std::fprintf(out, "  %-9s %s\n", c.name, c.help);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::string_view(argv[1]) == "--version") {
    std::printf("hedge 0.1.0\n");
    return 0;
  }
  for (const auto& c : commands) {
    if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "hedge: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
