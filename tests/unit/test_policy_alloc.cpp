// Unit: decide() does not allocate (it runs for every query). Counts calls to
// the global operator new on this thread while decisions run.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "bundle_fixture.hpp"
#include "policy/decide.hpp"

namespace {
thread_local bool g_counting = false;
thread_local std::size_t g_allocs = 0;
}  // namespace

// Every non-aligned form is replaced, so each new pairs with its delete
// (also under ASan, which checks the pairing). GCC cannot see that these
// replacements pair malloc with free and warns; the pairing is correct.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
void* counted_alloc(std::size_t n) noexcept {
  if (g_counting) ++g_allocs;
  return std::malloc(n ? n : 1);
}
}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted_alloc(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted_alloc(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

using namespace hedge;

TEST_CASE("decide: no allocation on any path, and fast enough") {
  const std::string dir = test::write_bundle(test::standard_categories(), {{"game.example", "games"},
                                                                           {"porn.example", "pornography"},
                                                                           {"abuse.example", "child-abuse"},
                                                                           {"vpn.example", "bypass"}});
  std::string err;
  auto bundle = lists::Bundle::open(dir, false, err);
  REQUIRE(bundle);
  const char* text = R"(
[[schedule]]
name = "lunch"
times = ["12:00-13:00"]
[[group]]
name = "pupils"
clients = ["10.0.0.0/8"]
block = ["games", "pornography", "bypass"]
allow_during = { lunch = ["games"] }
safe_search = "strict"
deny = ["deny.example"]
[policy]
default_group = "pupils"
)";
  auto root = toml::parse(std::string_view{text}, std::string_view{"t.toml"});
  util::ConfigErrors errs("t.toml");
  policy::PolicyConfig cfg;
  policy::parse_policy_config(root, errs, cfg);
  policy::Exception ex;
  ex.id = 1;
  ex.name = "allowed.porn.example";
  ex.group = "pupils";
  ex.kind = policy::ExceptionKind::allow;
  ex.expires = 4000000000;
  auto snap = policy::build_policy_snapshot(cfg, bundle, {ex}, errs);
  REQUIRE(errs.empty());
  const auto& g = policy::classify(*snap, nullptr, nullptr);
  const char* names[] = {"a.b.c.game.example", "porn.example",     "allowed.porn.example",
                         "abuse.example",      "www.google.co.uk", "use-application-dns.net",
                         "_dns.resolver.arpa", "vpn.example",      "deny.example",
                         "example.org",        "www.youtube.com"};
  std::vector<dns::QueryName> qs(std::size(names));
  for (std::size_t i = 0; i < qs.size(); ++i) REQUIRE(qs[i].assign_text(names[i]));
  const int64_t times[] = {1795437000, 1795435199, 1792885500};
  g_allocs = 0;
  g_counting = true;
  std::size_t blocked = 0;
  for (const auto t : times)
    for (const auto& q : qs) blocked += policy::decide(q, 1, g, *snap, t).action != policy::Action::allow;
  g_counting = false;
  CHECK(g_allocs == 0);
  CHECK(blocked > 0);

  // Throughput (reported, not asserted: the build machine is shared).
  const auto start = std::chrono::steady_clock::now();
  constexpr int kRounds = 20000;
  for (int r = 0; r < kRounds; ++r)
    for (const auto& q : qs)
      blocked += policy::decide(q, 1, g, *snap, times[r % 3]).action != policy::Action::allow;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("decide: " << static_cast<int>(kRounds * qs.size() / secs) << " decisions/s");
  std::filesystem::remove_all(dir);
}
