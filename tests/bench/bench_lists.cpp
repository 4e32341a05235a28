// Bench: list compile input generator and the bundle lookup microbenchmark
// (docs/benchmarks-lists.md). Standalone so it can count heap allocations by
// replacing operator new, which a shared test binary must not do.
//   bench_lists gen N FILE [CONF_FILE]   write N synthetic names (and N/1000 confidential ones)
//   bench_lists lookup BUNDLE FILE       time lookups of names derived from FILE
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "blocklists/bundle.hpp"
#include "dns/name.hpp"

namespace {
std::atomic<uint64_t> g_allocs{0};
}

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

const char* const kWords[] = {"ads",   "track", "cdn",  "img", "static", "video", "shop", "bet",
                              "cloud", "media", "stat", "pix", "click",  "play",  "news", "app"};
const char* const kTlds[] = {"com", "net", "org", "co.uk", "de", "io", "info", "ru", "xyz", "fr"};

std::string make_name(std::mt19937_64& rng, uint64_t i) {
  std::string s = kWords[rng() % 16];
  s += std::to_string(i);
  if (rng() % 3 == 0) {
    s = std::string(kWords[rng() % 16]) + "." + s;
  }
  s += '-';
  s += kWords[rng() % 16];
  s += '.';
  s += kTlds[rng() % 10];
  return s;
}

int gen(uint64_t n, const char* file, const char* conf) {
  std::mt19937_64 rng(42);
  std::ofstream out(file);
  for (uint64_t i = 0; i < n; ++i) out << make_name(rng, i) << '\n';
  if (conf) {
    std::ofstream c(conf);
    for (uint64_t i = 0; i < std::max<uint64_t>(1, n / 1000); ++i) c << "conf" << i << ".secret-bench.test\n";
  }
  return out ? 0 : 1;
}

int lookup(const char* dir, const char* file) {
  std::string err;
  auto b = hedge::lists::Bundle::open(dir, false, err);
  if (!b) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  // Query names: half are subdomains of listed names (hits), half are misses;
  // 4 to 5 labels each, like real client queries.
  std::vector<std::string> listed;
  {
    std::ifstream in(file);
    std::string l;
    while (std::getline(in, l)) listed.push_back(l);
  }
  constexpr std::size_t kNames = 8192;
  std::vector<hedge::dns::QueryName> qs(kNames);
  std::mt19937_64 rng(7);
  for (std::size_t i = 0; i < kNames; ++i) {
    std::string n = (i % 2 == 0) ? "www.a." + listed[rng() % listed.size()]
                                 : "www.a.miss" + std::to_string(rng()) + ".example.com";
    qs[i].assign_text(n);
  }
  // Warm the page cache and the mapping.
  uint64_t hits = 0;
  for (const auto& q : qs) hits += static_cast<bool>(b->lookup(q));

  using clock = std::chrono::steady_clock;
  constexpr int kRounds = 100;
  std::vector<double> per_lookup_ns;
  std::vector<double> single_ns;
  single_ns.reserve(kNames * 4);
  per_lookup_ns.reserve(kRounds);
  const uint64_t allocs_before = g_allocs.load();
  for (int r = 0; r < kRounds; ++r) {
    const auto t0 = clock::now();
    for (const auto& q : qs) hits += static_cast<bool>(b->lookup(q));
    const auto t1 = clock::now();
    per_lookup_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / kNames);
  }
  for (int r = 0; r < 4; ++r) {
    for (const auto& q : qs) {
      const auto t0 = clock::now();
      hits += static_cast<bool>(b->lookup(q));
      const auto t1 = clock::now();
      single_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
  }
  const uint64_t allocs = g_allocs.load() - allocs_before;
  auto pct = [](std::vector<double>& v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
  };
  const bool conf = static_cast<bool>(std::ifstream(std::string(dir) + "/confidential.cdb"));
  std::printf("bundle: %llu entries, confidential probe %s\n", static_cast<unsigned long long>(b->entries()),
              conf ? "on" : "off (no confidential.cdb)");
  std::printf("lookup (batch mean, %d rounds x %zu names): median %.0f ns\n", kRounds, kNames,
              pct(per_lookup_ns, 0.5));
  std::printf("lookup (single, timed one by one, includes ~20 ns clock cost): median %.0f ns, p99 %.0f ns\n",
              pct(single_ns, 0.5), pct(single_ns, 0.99));
  std::printf("heap allocations during %zu lookups: %llu\n", kRounds * kNames + single_ns.size(),
              static_cast<unsigned long long>(allocs));
  std::printf("(hits: %llu)\n", static_cast<unsigned long long>(hits));
  return allocs == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "gen" && argc >= 4)
    return gen(std::strtoull(argv[2], nullptr, 10), argv[3], argc > 4 ? argv[4] : nullptr);
  if (mode == "lookup" && argc == 4) return lookup(argv[2], argv[3]);
  std::fprintf(stderr, "usage: bench_lists gen N FILE [CONF_FILE] | lookup BUNDLE FILE\n");
  return 2;
}
