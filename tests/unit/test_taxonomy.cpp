// Unit: the built-in taxonomy holds every id deployments rely on, with its tier.
#include <doctest/doctest.h>

#include "blocklists/taxonomy.hpp"

using hedge::lists::Tier;

TEST_CASE("taxonomy has the required ids and tiers") {
  struct Row {
    const char* id;
    Tier tier;
  };
  const Row rows[] = {
      {"child-abuse", Tier::illegal},
      {"terrorism", Tier::illegal},
      {"pornography", Tier::inappropriate},
      {"gambling", Tier::inappropriate},
      {"drugs", Tier::inappropriate},
      {"extremism", Tier::inappropriate},
      {"hate", Tier::inappropriate},
      {"self-harm", Tier::inappropriate},
      {"violence", Tier::inappropriate},
      {"discrimination", Tier::inappropriate},
      {"malware", Tier::inappropriate},
      {"piracy", Tier::inappropriate},
      {"bypass", Tier::inappropriate},
      {"social-media", Tier::school},
      {"games", Tier::school},
      {"chat", Tier::school},
      {"dating", Tier::school},
      {"streaming", Tier::school},
      {"shopping", Tier::school},
  };
  for (const auto& r : rows) {
    CAPTURE(r.id);
    const auto* e = hedge::lists::find_category(r.id);
    REQUIRE(e != nullptr);
    CHECK(e->tier == r.tier);
    CHECK(!e->name.empty());
  }
  CHECK(hedge::lists::find_category("child-abuse")->confidential);
  CHECK(hedge::lists::find_category("nonsense") == nullptr);
  CHECK(hedge::lists::builtin_taxonomy().size() <= 64);  // one bit each in a bundle mask
}
