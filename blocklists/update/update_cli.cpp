// update/update_cli: `hedge update`, `hedge rollback`, `hedge publish`:
// arguments and usage only; the work is in updater.cpp.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "blocklists/update/updater.hpp"
#include "cli.hpp"

namespace hedge::cli {

namespace {

void update_usage(FILE* f) {
  std::fprintf(
      f,
      "usage: hedge update --config FILE [--check] [--allow-downgrade] [--scheduled]\n"
      "  fetches the signed bundle from [update] url, verifies it, installs it as a new\n"
      "  generation beside [lists] bundle and tells the running resolver to reload.\n"
      "  --check            say what would happen; download only the small signed metadata\n"
      "  --allow-downgrade  a person accepts a serial not newer than the installed one\n"
      "  --scheduled        (the systemd timer) honour the failure backoff and the nightly window\n"
      "exit 0: installed, or already the newest; 1: failed (the installed lists are unchanged); 2: usage\n");
}

}  // namespace

int update(int argc, char** argv) {
  std::string config;
  update::UpdateOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--check") {
      opt.check = true;
    } else if (a == "--allow-downgrade") {
      opt.allow_downgrade = true;
    } else if (a == "--scheduled") {
      opt.scheduled = true;
    } else if (a == "--help" || a == "-h") {
      update_usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "hedge update: unknown option '%s'\n", argv[i]);
      update_usage(stderr);
      return 2;
    }
  }
  if (config.empty()) {
    update_usage(stderr);
    return 2;
  }
  update::Context ctx;
  if (!update::load_context(config, ctx, "hedge update")) return 2;
  return update::run_update(ctx, opt);
}

int rollback(int argc, char** argv) {
  std::string config;
  update::RollbackOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--by" && i + 1 < argc) {
      opt.by = argv[++i];
    } else if (a == "--reason" && i + 1 < argc) {
      opt.reason = argv[++i];
    } else {
      config.clear();
      break;
    }
  }
  if (config.empty() || opt.by.empty()) {
    std::fprintf(stderr,
                 "usage: hedge rollback --config FILE --by NAME [--reason TEXT]\n"
                 "  serves the previous generation again (audited); the bundle rolled back from is\n"
                 "  never re-installed, a newer serial from the trust is\n");
    return 2;
  }
  update::Context ctx;
  if (!update::load_context(config, ctx, "hedge rollback")) return 2;
  return update::run_rollback(ctx, opt);
}

int publish(int argc, char** argv) {
  update::PublishOptions opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--bundle" && i + 1 < argc) {
      opt.bundle = argv[++i];
    } else if (a == "--to" && i + 1 < argc) {
      opt.webroot = argv[++i];
    } else if (a == "--pubkey" && i + 1 < argc) {
      opt.pubkey = argv[++i];
    } else if (a == "--keep" && i + 1 < argc) {
      const long k = std::strtol(argv[++i], nullptr, 10);
      if (k < 1 || k > 1000) {
        std::fprintf(stderr, "hedge publish: --keep: expected 1..1000\n");
        return 2;
      }
      opt.keep = static_cast<unsigned>(k);
    } else {
      opt.bundle.clear();
      break;
    }
  }
  if (opt.bundle.empty() || opt.webroot.empty()) {
    std::fprintf(stderr,
                 "usage: hedge publish --bundle DIR --to WEBROOT [--pubkey KEY] [--keep N]\n"
                 "  copies a signed bundle to WEBROOT/<serial>/ and then writes WEBROOT/<channel>.json,\n"
                 "  so a box polling meanwhile never sees half a bundle\n");
    return 2;
  }
  return update::run_publish(opt);
}

}  // namespace hedge::cli
