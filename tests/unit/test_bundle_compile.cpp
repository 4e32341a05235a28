// Unit: compile a small bundle into a temp dir with the real writer and read
// it back with the lead's reader (lists::Bundle), checking every lookup kind.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "blocklists/bundle.hpp"
#include "blocklists/bundle_writer.hpp"
#include "blocklists/compiler.hpp"
#include "dns/name.hpp"

namespace fs = std::filesystem;
using namespace hedge::lists;

namespace {

struct TmpDir {
  fs::path path;
  TmpDir() {
    std::string t = (fs::temp_directory_path() / "hedge-unit-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TmpDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

PublicSuffixList small_psl() {
  PublicSuffixList psl;
  for (const char* r : {"com", "net", "uk", "co.uk", "test", "github.io", "*.ck", "!www.ck"}) psl.add_rule(r);
  return psl;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("compiled bundle opens with the reader and answers lookups") {
  TmpDir tmp;
  const auto porn = tmp.write("porn.txt", "# comment\nPornSite.COM\nporn-b.example.co.uk.\nco.uk\n");
  const auto ads = tmp.write("ads.txt", "||tracker.net^\n|exact-only.net^\n||porn-b.example.co.uk^\n");
  const auto abuse = tmp.write("iwf.txt", "secret-abuse-name.test\nonly.this.secret.test/page.html\n");
  const auto psl = small_psl();
  Compiler comp(psl);
  std::string err;
  REQUIRE(comp.add_source({"pornography", porn, std::nullopt, UrlEntries::skip}, err));
  REQUIRE(comp.add_source({"ads", ads, std::nullopt, UrlEntries::skip}, err));
  REQUIRE(comp.add_source({"child-abuse", abuse, Format::domains, UrlEntries::block_host}, err));
  CHECK(comp.reports()[0].accepted == 2);
  CHECK(comp.reports()[0].reasons[static_cast<int>(SkipReason::public_suffix)].count == 1);
  CHECK(comp.reports()[1].format == Format::adblock);

  WriteOptions opt;
  opt.out_dir = (tmp.path / "bundle").string();
  opt.version = 42;
  WriteResult res;
  REQUIRE_MESSAGE(write_bundle(comp, opt, res, err), err);
  auto b = Bundle::open(opt.out_dir, true, err);
  REQUIRE_MESSAGE(b, err);
  CHECK(b->version() == 42);

  auto look = [&](const char* name) {
    hedge::dns::QueryName q;
    REQUIRE(q.assign_text(name));
    return b->lookup(q);
  };
  const auto porn_bit = uint64_t{1} << b->category_by_id("pornography")->bit;
  const auto ads_bit = uint64_t{1} << b->category_by_id("ads")->bit;
  const auto abuse_bit = uint64_t{1} << b->category_by_id("child-abuse")->bit;

  CHECK(look("pornsite.com").categories == porn_bit);                      // the name
  CHECK(look("a.b.pornsite.com").categories == porn_bit);                  // a subdomain
  CHECK(look("porn-b.example.co.uk").categories == (porn_bit | ads_bit));  // two categories, both bits
  CHECK(look("exact-only.net").categories == ads_bit);                     // |d^ exact
  CHECK(!look("www.exact-only.net"));                                      // ... not its subdomains
  CHECK(look("x.tracker.net").categories == ads_bit);
  CHECK(look("secret-abuse-name.test").confidential == abuse_bit);  // confidential, by keyed hash
  CHECK(look("deep.secret-abuse-name.test").confidential == abuse_bit);
  CHECK(look("secret-abuse-name.test").categories == 0);
  CHECK(look("only.this.secret.test").confidential == abuse_bit);  // URL entry, host blocked
  CHECK(!look("sub.only.this.secret.test"));                       // ... exactly
  CHECK(!look("example.com"));                                     // non-match
  CHECK(!look("com"));
  CHECK(b->sources_of("pornsite.com") == std::vector<unsigned>{0});

  // The confidential names are nowhere in the bundle in plain text.
  for (const auto& e : fs::directory_iterator(opt.out_dir)) {
    const std::string bytes = slurp(e.path());
    CHECK_MESSAGE(bytes.find("secret-abuse-name") == std::string::npos, e.path().string());
    CHECK_MESSAGE(bytes.find("only.this.secret") == std::string::npos, e.path().string());
  }

  // Recompiling over an existing bundle replaces it atomically, no temp dirs left.
  opt.version = 43;
  REQUIRE(write_bundle(comp, opt, res, err));
  CHECK(Bundle::open(opt.out_dir, true, err)->version() == 43);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path)) ++entries;
  CHECK(entries == 4);  // three sources + bundle
}

TEST_CASE("a source that cannot be read leaves no bundle") {
  TmpDir tmp;
  const auto psl = small_psl();
  Compiler comp(psl);
  std::string err;
  CHECK(!comp.add_source({"pornography", (tmp.path / "missing.txt").string(), std::nullopt, UrlEntries::skip},
                         err));
  CHECK(err.find("missing.txt") != std::string::npos);
  CHECK(!comp.add_source({"no-such-category", "x", std::nullopt, UrlEntries::skip}, err));
}

TEST_CASE("compiler: duplicates, masks, exceptions and report invariants") {
  TmpDir tmp;
  const auto psl = small_psl();
  Compiler comp(psl);
  std::string err;
  const auto a = tmp.write("a.txt", "dup.example.com\nDUP.example.com.\n\n# c\nco.uk\n1.2.3.4\n");
  const auto b = tmp.write("b.txt", "dup.example.com\nnew.example.com\n");
  const auto c = tmp.write("c.txt",
                           "! adblock\n||both.example.com^\n|both.example.com^\n@@||ok.example.com^\n"
                           "||x.ok.example.com^\n||ok.example.com^\n||y.example.com^$third-party\n");
  const auto d = tmp.write("d.txt", "secret.example.test\nbad name here\n1.2.3.4\nsecret.example.test\n");
  REQUIRE(comp.add_source({"pornography", a, std::nullopt, UrlEntries::skip}, err));
  REQUIRE(comp.add_source({"pornography", b, std::nullopt, UrlEntries::skip}, err));
  REQUIRE(comp.add_source({"ads", c, std::nullopt, UrlEntries::skip}, err));
  REQUIRE(comp.add_source({"terrorism", d, Format::domains, UrlEntries::skip}, err));
  const auto& r = comp.reports();
  CHECK(r[0].accepted == 1);
  CHECK(r[0].duplicates == 1);  // same name, same source, any spelling
  CHECK(r[0].skipped == 2);
  CHECK(r[0].blank == 1);
  CHECK(r[0].comments == 1);
  CHECK(r[1].duplicates == 1);  // same name from another source of the same category
  CHECK(r[1].accepted == 1);
  CHECK(r[2].accepted == 2);  // ||both^ and |both^ are separate masks
  CHECK(r[2].exceptions == 1);
  CHECK(r[2].reasons[static_cast<int>(SkipReason::excepted)].count == 2);  // before and after the @@ rule
  CHECK(r[2].reasons[static_cast<int>(SkipReason::adblock_modifier)].count == 1);
  CHECK(r[3].confidential);
  CHECK(r[3].duplicates == 1);
  for (const auto& rep : r) {
    CAPTURE(rep.path);
    CHECK(rep.accepted + rep.duplicates + rep.skipped == rep.entries);
    uint64_t sum = 0;
    for (const auto& s : rep.reasons) {
      sum += s.count;
      if (rep.confidential) CHECK(s.examples.empty());  // counts only, never lines
    }
    CHECK(sum == rep.skipped);
  }
  CHECK(comp.public_table().size() == 3);  // dup, new, both (x.ok and ok excepted)
  CHECK(comp.confidential_table().size() == 1);
  // The JSON report carries no confidential names.
  const std::string json = report_json(comp);
  CHECK(json.find("secret.example") == std::string::npos);
  CHECK(json.find("bad name here") == std::string::npos);
  CHECK(json.find("1.2.3.4") != std::string::npos);  // public examples are kept
}
