// server_cli: `hedge serve --config FILE [--check-config] [--lists DIR]
// [--listen ADDR]... [--upstream ADDR]...`
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli.hpp"
#include "config/config.hpp"
#include "server.hpp"
#include "snapshot.hpp"
#include "util/log.hpp"

namespace hedge::cli {

namespace {
void serve_usage() {
  std::fprintf(stderr,
               "usage: hedge serve --config FILE [--check-config] [--lists DIR]\n"
               "                   [--listen ADDR:PORT]... [--upstream ADDR[:PORT]]...\n");
}
}  // namespace

int serve(int argc, char** argv) {
  ServeOptions opts;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "hedge serve: %s needs a value\n", what);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--config") {
      const char* v = value("--config");
      if (!v) return 2;
      opts.config_path = v;
    } else if (a == "--check-config") {
      check = true;
    } else if (a == "--lists") {
      const char* v = value("--lists");
      if (!v) return 2;
      opts.lists_override = v;
    } else if (a == "--listen" || a == "--upstream") {
      const char* v = value(a.c_str());
      if (!v) return 2;
      auto addr = a == "--listen" ? util::parse_sockaddr(v) : util::parse_sockaddr(v, 53);
      if (!addr) {
        std::fprintf(stderr, "hedge serve: %s: '%s' is not an address\n", a.c_str(), v);
        return 2;
      }
      (a == "--listen" ? opts.listen_override : opts.upstream_override).push_back(*addr);
    } else if (a == "--help" || a == "-h") {
      serve_usage();
      return 0;
    } else {
      std::fprintf(stderr, "hedge serve: unknown option '%s'\n", a.c_str());
      serve_usage();
      return 2;
    }
  }
  if (opts.config_path.empty()) {
    serve_usage();
    return 2;
  }
  if (check) {
    config::Config cfg;
    util::ConfigErrors errs(opts.config_path);
    config::load_config(opts.config_path, cfg, errs);
    if (!opts.lists_override.empty()) cfg.lists.bundle = opts.lists_override;
    bool ok = errs.empty();
    for (const auto& e : errs.list()) std::printf("%s\n", e.str().c_str());
    if (ok) {
      // The lists are part of the config: a bundle that cannot be opened fails the check.
      std::string err;
      std::vector<std::string> warnings;
      const bool built = check_snapshot(cfg, err, &warnings);
      for (const auto& w : warnings) std::printf("warning: %s\n", w.c_str());
      if (!built) {
        std::printf("%s\n", err.c_str());
        ok = false;
      }
    }
    if (ok) std::printf("%s: OK\n", opts.config_path.c_str());
    return ok ? 0 : 1;
  }
  // A peer that goes away before its reply is written (`hedge update` killed while it
  // waits on the control socket, an HTTP client that resets) must cost an EPIPE on
  // that one write, never the resolver: libuv writes without MSG_NOSIGNAL.
  std::signal(SIGPIPE, SIG_IGN);
  Server server;
  std::string err;
  if (!server.start(opts, err)) {
    std::fprintf(stderr, "hedge serve: cannot start:\n%s\n", err.c_str());
    return 1;
  }
  return server.run();
}

}  // namespace hedge::cli
