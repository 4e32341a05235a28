// Unit: Bundle::lookup from many threads at once (HTTP handlers, reports and
// explain look names up off the loop). Each thread asks for its own names and
// checks every answer; when lookups shared one `struct cdb` (its found-value
// position written by every cdb_find), threads read each other's values.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "blocklists/bundle.hpp"
#include "bundle_fixture.hpp"

using namespace hedge;

TEST_CASE("bundle: concurrent lookups from several threads each get their own answer") {
  const auto cats = test::standard_categories();
  std::vector<test::FixtureEntry> entries;
  const std::vector<std::string> ids = {"pornography", "gambling", "games", "social-media"};
  constexpr int kNames = 200;
  for (std::size_t t = 0; t < ids.size(); ++t)
    for (int i = 0; i < kNames; ++i)
      entries.push_back({"n" + std::to_string(i) + ".t" + std::to_string(t) + ".example", ids[t]});
  const std::string dir = test::write_bundle(cats, entries);
  std::string err;
  auto bundle = lists::Bundle::open(dir, true, err);
  REQUIRE_MESSAGE(bundle, err);
  std::vector<uint64_t> want;
  for (const auto& id : ids) want.push_back(uint64_t{1} << bundle->category_by_id(id)->bit);

  std::atomic<uint64_t> wrong{0}, done{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    threads.emplace_back([&, t] {
      std::vector<dns::QueryName> names(kNames);
      for (int i = 0; i < kNames; ++i)
        if (!names[i].assign_text("www.n" + std::to_string(i) + ".t" + std::to_string(t) + ".example"))
          ++wrong;
      for (int round = 0; round < 300; ++round) {
        for (const auto& q : names) {
          const lists::Match m = bundle->lookup(q);
          if (m.categories != want[t] || m.public_label != 1) ++wrong;
          ++done;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(done.load() == ids.size() * kNames * 300);
  CHECK(wrong.load() == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("bundle: the illegal tier comes from manifest and taxonomy, above a floor no manifest can lower") {
  std::vector<test::FixtureCategory> cats = {
      {"child-abuse", 0, "school"},  // a manifest trying to take it out of the illegal tier
      {"terrorism", 1, "other"},
      {"drugs", 2, "illegal"},  // a manifest adding a category to the illegal tier
      {"gambling", 3, "school"},
      {"pornography", 4, "inappropriate"},
  };
  const std::string dir = test::write_bundle(cats, {{"a.example", "child-abuse"},
                                                    {"t.example", "terrorism"},
                                                    {"d.example", "drugs"},
                                                    {"g.example", "gambling"},
                                                    {"p.example", "pornography"}});
  std::string err;
  auto b = lists::Bundle::open(dir, true, err);
  REQUIRE_MESSAGE(b, err);
  auto bit = [&](const char* id) { return uint64_t{1} << b->category_by_id(id)->bit; };
  CHECK((b->illegal_mask() & bit("child-abuse")) != 0);
  CHECK((b->illegal_mask() & bit("terrorism")) != 0);
  CHECK(b->category_by_id("child-abuse")->tier == lists::Tier::illegal);
  CHECK((b->illegal_mask() & bit("drugs")) != 0);
  CHECK((b->illegal_mask() & bit("gambling")) == 0);
  CHECK((b->illegal_mask() & bit("pornography")) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("cdb structure check: a table pointer or record length outside the file is refused") {
  const std::string dir = test::write_bundle(test::standard_categories(), {{"a.example", "gambling"}});
  const std::string path = dir + "/public.cdb";
  auto patch = [&](std::size_t at, uint32_t v) {
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f);
    std::fseek(f, static_cast<long>(at), SEEK_SET);
    const uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                          static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
    std::fwrite(b, 1, 4, f);
    std::fclose(f);
  };
  lists::CdbFile good;
  std::string err;
  REQUIRE(good.open(path, err));
  CHECK(good.structure_ok(err));
  patch(2048, 0x7fffffff);  // the first record's key length
  lists::CdbFile bad;
  REQUIRE(bad.open(path, err));
  CHECK_FALSE(bad.structure_ok(err));
  CHECK(err.find("record at 2048") != std::string::npos);
  std::filesystem::remove_all(dir);
}
