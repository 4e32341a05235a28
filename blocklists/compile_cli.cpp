// blocklists/compile_cli: `hedge compile` and `hedge lists lookup`: argument
// parsing and printing only; the work is in compiler, bundle_writer and bundle.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "blocklists/bundle.hpp"
#include "blocklists/bundle_writer.hpp"
#include "blocklists/compiler.hpp"
#include "blocklists/signing.hpp"
#include "blocklists/source_map.hpp"
#include "blocklists/taxonomy.hpp"
#include "cli.hpp"
#include "dns/name.hpp"
#include "util/units.hpp"

namespace hedge::cli {

namespace {

using namespace hedge::lists;

void compile_usage(FILE* f) {
  std::fprintf(
      f,
      "usage: hedge compile --out DIR [options] [--format F] [--url-entries M] CATEGORY=FILE...\n"
      "  --out DIR            bundle directory (written to a temp dir, then renamed into place)\n"
      "  --format F           auto|domains|hosts|adblock|wildcard|rpz|dnsmasq|unbound for the\n"
      "                       sources after it (default auto: detected per file)\n"
      "  --url-entries M      skip|block-host for host/path entries in the sources after it\n"
      "  --mapping FILE       a source mapping (blocklists/sources/*.toml), paths relative to\n"
      "  --source-dir DIR     this directory (repeat the pair for several mappings)\n"
      "  --sign KEY           sign the manifest with an ECDSA P-256 private key (hedge keygen)\n"
      "  --version N          bundle version = update serial (default: UTC creation time in seconds)\n"
      "  --valid-for D        boxes refuse the bundle after created + D (90s, 12h, 7d; default 7d)\n"
      "  --channel NAME       update channel boxes must be on to install it (default stable)\n"
      "  --test-name C=NAME   the built-in filtering check's name for category C (repeatable;\n"
      "                       default: the taxonomy's reserved C.filtering-check.invalid)\n"
      "  --psl FILE           public suffix list (default %s)\n"
      "  --quiet              print only errors\n"
      "Files may be plain or gzip-compressed. Categories: blocklists/categories.toml.\n",
      PublicSuffixList::default_path);
}

bool parse_u64(const char* s, uint64_t& v) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || s[0] == '-') return false;
  v = x;
  return true;
}

void print_source(const SourceReport& r) {
  std::printf(
      "[%u] %s <- %s (%s%s%s): %llu lines, %llu entries: %llu accepted, %llu duplicates, %llu skipped", r.id,
      r.category.c_str(), r.path.c_str(), to_string(r.format), r.detected ? ", detected" : "",
      r.compressed ? ", gzip" : "", static_cast<unsigned long long>(r.lines),
      static_cast<unsigned long long>(r.entries), static_cast<unsigned long long>(r.accepted),
      static_cast<unsigned long long>(r.duplicates), static_cast<unsigned long long>(r.skipped));
  if (r.exceptions) std::printf(", %llu exception rules", static_cast<unsigned long long>(r.exceptions));
  if (r.url_hosts) std::printf(", %llu hosts of URL entries", static_cast<unsigned long long>(r.url_hosts));
  std::printf("\n");
  for (std::size_t i = 0; i < r.reasons.size(); ++i) {
    const auto& s = r.reasons[i];
    if (!s.count) continue;
    std::printf("    skipped %-20s %8llu", to_string(static_cast<SkipReason>(i)),
                static_cast<unsigned long long>(s.count));
    if (r.confidential) {
      std::printf("  (confidential source: no examples)\n");
      continue;
    }
    const char* sep = "  e.g. ";
    for (const auto& e : s.examples) {
      std::printf("%sline %llu: %s", sep, static_cast<unsigned long long>(e.line), e.text.c_str());
      sep = "; ";
    }
    std::printf("\n");
  }
}

}  // namespace

static int compile_impl(int argc, char** argv) {
  WriteOptions wopt;
  std::optional<Format> format;
  UrlEntries url = UrlEntries::skip;
  std::string psl_path = PublicSuffixList::default_path;
  // The k-th --mapping reads from the k-th --source-dir (or the last one given).
  struct MappingArg {
    std::string file, dir;
    UrlEntries url;
  };
  std::vector<MappingArg> mappings;
  std::vector<std::string> source_dirs;
  bool quiet = false;
  std::vector<SourceSpec> specs;
  std::map<std::string, std::vector<std::string>> test_names;  // --test-name, by category
  auto need = [&](int& i, const char* opt) -> const char* {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "hedge compile: %s needs a value\n", opt);
      return nullptr;
    }
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = nullptr;
    if (a == "--help" || a == "-h") {
      compile_usage(stdout);
      return 0;
    } else if (a == "--quiet" || a == "-q") {
      quiet = true;
    } else if (a == "--out") {
      if (!(v = need(i, "--out"))) return 2;
      wopt.out_dir = v;
    } else if (a == "--sign") {
      if (!(v = need(i, "--sign"))) return 2;
      wopt.sign_key = v;
    } else if (a == "--psl") {
      if (!(v = need(i, "--psl"))) return 2;
      psl_path = v;
    } else if (a == "--mapping") {
      if (!(v = need(i, "--mapping"))) return 2;
      mappings.push_back({v, {}, url});
    } else if (a == "--source-dir") {
      if (!(v = need(i, "--source-dir"))) return 2;
      source_dirs.emplace_back(v);
    } else if (a == "--version") {
      if (!(v = need(i, "--version"))) return 2;
      uint64_t n = 0;
      if (!parse_u64(v, n) || n == 0) {
        std::fprintf(stderr, "hedge compile: --version: expected a positive integer, got '%s'\n", v);
        return 2;
      }
      wopt.version = n;
    } else if (a == "--valid-for") {
      if (!(v = need(i, "--valid-for"))) return 2;
      auto d = util::parse_duration(v);
      if (!d || *d <= 0) {
        std::fprintf(stderr,
                     "hedge compile: --valid-for: expected a duration like 90s, 12h or 7d, got '%s'\n", v);
        return 2;
      }
      wopt.valid_for_s = *d;
    } else if (a == "--test-name") {
      if (!(v = need(i, "--test-name"))) return 2;
      const std::string_view tv(v);
      const auto eq = tv.find('=');
      if (eq == std::string_view::npos || eq == 0 || eq + 1 == tv.size()) {
        std::fprintf(stderr, "hedge compile: --test-name '%s': expected CATEGORY=NAME\n", v);
        return 2;
      }
      test_names[std::string(tv.substr(0, eq))].emplace_back(tv.substr(eq + 1));
    } else if (a == "--channel") {
      if (!(v = need(i, "--channel"))) return 2;
      if (!valid_channel(v)) {
        std::fprintf(stderr,
                     "hedge compile: --channel: '%s': use 1-32 lowercase letters, digits, '-' or '_'\n", v);
        return 2;
      }
      wopt.channel = v;
    } else if (a == "--format") {
      if (!(v = need(i, "--format"))) return 2;
      if (std::string_view(v) == "auto") {
        format.reset();
      } else if (!(format = format_from_string(v))) {
        std::fprintf(stderr, "hedge compile: --format: unknown format '%s'\n", v);
        return 2;
      }
    } else if (a == "--url-entries") {
      if (!(v = need(i, "--url-entries"))) return 2;
      auto m = url_entries_from_string(v);
      if (!m) {
        std::fprintf(stderr, "hedge compile: --url-entries: expected block-host or skip, got '%s'\n", v);
        return 2;
      }
      url = *m;
    } else if (a.starts_with("-")) {
      std::fprintf(stderr, "hedge compile: unknown option '%s'\n", argv[i]);
      compile_usage(stderr);
      return 2;
    } else {
      const auto eq = a.find('=');
      if (eq == std::string_view::npos || eq == 0 || eq + 1 == a.size()) {
        std::fprintf(stderr, "hedge compile: '%s': expected CATEGORY=FILE\n", argv[i]);
        return 2;
      }
      SourceSpec s{std::string(a.substr(0, eq)), std::string(a.substr(eq + 1)), format, url};
      if (!find_category(s.category)) {
        std::fprintf(stderr, "hedge compile: '%s': unknown category '%s' (see blocklists/categories.toml)\n",
                     argv[i], s.category.c_str());
        return 2;
      }
      specs.push_back(std::move(s));
    }
  }
  if (wopt.out_dir.empty()) {
    std::fprintf(stderr, "hedge compile: --out DIR is required\n");
    compile_usage(stderr);
    return 2;
  }
  std::string err;
  std::vector<SourceSpec> mapped;
  for (std::size_t k = 0; k < mappings.size(); ++k) {
    auto& m = mappings[k];
    if (!source_dirs.empty()) m.dir = source_dirs[std::min(k, source_dirs.size() - 1)];
    if (m.dir.empty()) {
      std::fprintf(stderr, "hedge compile: --mapping %s needs a --source-dir\n", m.file.c_str());
      return 2;
    }
    std::vector<std::string> warnings;
    if (!load_source_map(m.file, m.dir, m.url, mapped, warnings, err)) {
      std::fprintf(stderr, "hedge compile: %s\n", err.c_str());
      return 2;
    }
    if (!quiet)
      for (const auto& w : warnings) std::fprintf(stderr, "hedge compile: warning: %s\n", w.c_str());
  }
  specs.insert(specs.begin(), mapped.begin(), mapped.end());
  if (specs.empty()) {
    std::fprintf(stderr, "hedge compile: no sources (CATEGORY=FILE or --mapping)\n");
    return 2;
  }
  if (wopt.sign_key && !signing::check_private_key(*wopt.sign_key, err)) {
    std::fprintf(stderr, "hedge compile: --sign: %s\n", err.c_str());
    return 2;
  }
  PublicSuffixList psl;
  if (!psl.load(psl_path, err)) {
    std::fprintf(stderr, "hedge compile: %s\n", err.c_str());
    return 1;
  }
  Compiler comp(psl);
  for (const auto& s : specs) {
    if (!comp.add_source(s, err)) {
      std::fprintf(stderr, "hedge compile: %s\nhedge compile: no bundle written\n", err.c_str());
      return 1;
    }
    if (!quiet) print_source(comp.reports().back());
  }
  const std::size_t before = comp.reports().size();
  if (!comp.add_test_names(test_names, err)) {
    std::fprintf(stderr, "hedge compile: %s\nhedge compile: no bundle written\n", err.c_str());
    return 2;
  }
  if (!quiet)
    for (std::size_t k = before; k < comp.reports().size(); ++k) print_source(comp.reports()[k]);
  for (const auto& [id, names] : test_names)
    for (const auto& c : comp.categories())
      if (c.id == id && c.test_names.empty())
        std::fprintf(
            stderr,
            "hedge compile: warning: --test-name %s=...: the category has no list in this bundle, so "
            "there is nothing to test (the name is not used)\n",
            id.c_str());
  WriteResult res;
  if (!write_bundle(comp, wopt, res, err)) {
    std::fprintf(stderr, "hedge compile: %s\nhedge compile: no bundle written\n", err.c_str());
    return 1;
  }
  if (!quiet) {
    std::printf(
        "bundle %s: version %llu, %llu public names (%llu bytes), %llu confidential names (%llu bytes)%s\n",
        wopt.out_dir.c_str(), static_cast<unsigned long long>(res.version),
        static_cast<unsigned long long>(res.public_keys), static_cast<unsigned long long>(res.public_bytes),
        static_cast<unsigned long long>(res.confidential_keys),
        static_cast<unsigned long long>(res.confidential_bytes), wopt.sign_key ? ", signed" : "");
    std::printf("channel %s, valid until %s\n", wopt.channel.c_str(), util::iso_utc(res.valid_until).c_str());
  }
  return 0;
}

int compile(int argc, char** argv) {
  // Hostile input must never crash the compiler: anything unexpected (out of
  // memory, a library throwing) ends as an error with no bundle written (the
  // writer's temp directory is removed by its owner during unwinding).
  try {
    return compile_impl(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hedge compile: internal error: %s\nhedge compile: no bundle written\n", e.what());
    return 1;
  }
}

int lists(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "lookup") {
    std::fprintf(stderr, "usage: hedge lists lookup NAME --bundle DIR\n");
    return 2;
  }
  std::string name, dir;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--bundle" && i + 1 < argc) {
      dir = argv[++i];
    } else if (name.empty() && !a.starts_with("-")) {
      name = argv[i];
    } else {
      std::fprintf(stderr, "usage: hedge lists lookup NAME --bundle DIR\n");
      return 2;
    }
  }
  if (name.empty() || dir.empty()) {
    std::fprintf(stderr, "usage: hedge lists lookup NAME --bundle DIR\n");
    return 2;
  }
  const auto n = dns::normalise_name(name);
  if (!n) {
    std::fprintf(stderr, "hedge lists: '%s': %s\n", name.c_str(), dns::to_string(n.error));
    return 2;
  }
  std::string err;
  auto bundle = Bundle::open(dir, false, err);
  if (!bundle) {
    std::fprintf(stderr, "hedge lists: %s\n", err.c_str());
    return 1;
  }
  dns::QueryName q;
  if (!q.assign_text(n.name)) {
    std::fprintf(stderr, "hedge lists: '%s': not a query name\n", name.c_str());
    return 2;
  }
  CdbFile pub;
  if (!pub.open(dir + "/public.cdb", err)) {
    std::fprintf(stderr, "hedge lists: %s\n", err.c_str());
    return 1;
  }
  auto cats = [&](uint64_t mask) {
    std::string s;
    for (unsigned b = 0; b < 64; ++b) {
      if (!(mask >> b & 1)) continue;
      const auto* c = bundle->category_by_bit(b);
      if (!s.empty()) s += ", ";
      s += c ? c->id : "bit" + std::to_string(b);
    }
    return s;
  };
  auto u64 = [](std::string_view v, std::size_t at) {
    uint64_t x = 0;
    for (int i = 7; i >= 0; --i) x = (x << 8) | static_cast<uint8_t>(v[at + static_cast<std::size_t>(i)]);
    return x;
  };
  std::printf("%s (bundle version %llu)\n", n.name.c_str(),
              static_cast<unsigned long long>(bundle->version()));
  bool any = false;
  const std::size_t labels = q.label_count();
  for (std::size_t i = 0; i + 1 < labels || (labels == 1 && i == 0); ++i) {
    const std::string_view s = q.suffix(i);
    const std::string_view v = pub.find(s);
    if (v.size() < 16) continue;
    const uint64_t sub = u64(v, 0), exact = u64(v, 8);
    const bool applies = sub != 0 || (exact != 0 && i == 0);
    std::printf("  %s %.*s:", applies ? "match" : "entry (exact only, does not apply)",
                static_cast<int>(s.size()), s.data());
    if (sub) std::printf(" [%s] (name and subdomains)", cats(sub).c_str());
    if (exact) std::printf(" [%s] (this name only)", cats(exact).c_str());
    std::printf("\n");
    for (unsigned id : bundle->sources_of(s)) {
      if (id < bundle->sources().size()) {
        const auto& src = bundle->sources()[id];
        std::printf("      source %u: %s (%s, %s)\n", id, src.path.c_str(), src.category.c_str(),
                    src.format.c_str());
      }
    }
    any = any || applies;
  }
  const Match m = bundle->lookup(q);
  if (m.confidential) {
    // Confidential lists are never shown beyond which category holds the name.
    for (unsigned b = 0; b < 64; ++b) {
      if (!(m.confidential >> b & 1)) continue;
      const auto* c = bundle->category_by_bit(b);
      std::printf("  listed in %s\n", c ? c->id.c_str() : "a confidential category");
    }
    any = true;
  }
  if (!any) std::printf("  not listed\n");
  return any ? 0 : 3;
}

}  // namespace hedge::cli
