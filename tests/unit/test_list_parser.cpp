// Unit: the list line parser, one table per format and one for the oddities
// real lists are full of. Each row: format, line, expected accepted names
// (with '=' prefix for exact-only), expected skip reasons, line kind.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "blocklists/list_parser.hpp"
#include "blocklists/public_suffix.hpp"

using namespace hedge::lists;
using Kind = LineResult::Kind;

namespace {

struct Row {
  Format format;
  std::string line;
  std::vector<std::string> names;  // "=x" means exact-only
  std::vector<SkipReason> skips;
  Kind kind = Kind::entries;
  bool allow = false;
  UrlEntries url = UrlEntries::skip;
};

void run(const std::vector<Row>& rows) {
  for (const auto& r : rows) {
    CAPTURE(to_string(r.format));
    CAPTURE(r.line);
    ParseState st;
    st.first_line = r.line.starts_with("\xEF\xBB\xBF");
    LineResult res;
    parse_line(r.format, r.url, r.line, st, res);
    CHECK(res.kind == r.kind);
    CHECK(res.allow == r.allow);
    std::vector<std::string> got;
    for (const auto& c : res.accepted) got.push_back((c.exact ? "=" : "") + c.name);
    CHECK(got == r.names);
    std::vector<SkipReason> skips;
    for (const auto& s : res.skipped) skips.push_back(s.reason);
    CHECK(skips == r.skips);
  }
}

using R = SkipReason;

}  // namespace

TEST_CASE("plain domains and oddities") {
  run({
      {Format::domains, "example.com", {"example.com"}, {}},
      {Format::domains, "Example.COM.", {"example.com"}, {}},   // upper case, trailing dot
      {Format::domains, "example.com\r", {"example.com"}, {}},  // CRLF
      {Format::domains,
       "\xEF\xBB\xBF"
       "bom.example.com",
       {"bom.example.com"},
       {}},                                                                       // BOM
      {Format::domains, "\texample.com  # inline comment", {"example.com"}, {}},  // tabs, inline comment
      {Format::domains, "example.com#comment", {"example.com"}, {}},
      {Format::domains, "bücher.de", {"xn--bcher-kva.de"}, {}},  // IDN in UTF-8
      {Format::domains, "# comment", {}, {}, Kind::comment},
      {Format::domains, "! comment", {}, {}, Kind::comment},
      {Format::domains, "; comment", {}, {}, Kind::comment},
      {Format::domains, "// comment", {}, {}, Kind::comment},
      {Format::domains, "   ", {}, {}, Kind::blank},
      {Format::domains, "", {}, {}, Kind::blank},
      {Format::domains, "109.168.127.170", {}, {R::ip_address}},  // bare IPv4 (UT1)
      {Format::domains, "2001:db8::1", {}, {R::ip_address}},
      {Format::domains, "103.114.104.196/30", {}, {R::cidr}},
      {Format::domains, "2001:db8::/32", {}, {R::cidr}},
      {Format::domains, "localhost", {}, {R::localhost}},
      {Format::domains, "com", {}, {R::single_label}},
      {Format::domains, "exa mple.com", {}, {R::syntax}},
      {Format::domains, "exa$mple.com", {}, {R::invalid_name}},
      {Format::domains, std::string(64, 'a') + ".com", {}, {R::invalid_name}},  // label > 63
      {Format::domains,
       std::string(250, 'a')
               .replace(50, 1, ".")
               .replace(100, 1, ".")
               .replace(150, 1, ".")
               .replace(200, 1, ".") +
           ".com",
       {},
       {R::invalid_name}},  // name > 253
      {Format::domains, "a..b.com", {}, {R::invalid_name}},
      {Format::domains, ".squid-style.example.com", {"squid-style.example.com"}, {}},
      {Format::domains, "..double.example.com", {}, {R::invalid_name}},
      {Format::domains, "\xff\xfe.com", {}, {R::invalid_name}},             // not UTF-8
      {Format::domains, "example.com/some/page.html", {}, {R::url_entry}},  // URL, default skip
      {Format::domains,
       "example.com/some/page.html",
       {"=example.com"},
       {},
       Kind::entries,
       false,
       UrlEntries::block_host},
      {Format::domains,
       "http://Example.com:8080/x",
       {"=example.com"},
       {},
       Kind::entries,
       false,
       UrlEntries::block_host},
      {Format::domains, "https://example.com/", {"example.com"}, {}},  // a host written as URL
      {Format::domains, "0.0.0.0 example.com", {"example.com"}, {}},   // hosts line in a domains list
  });
}

TEST_CASE("hosts files") {
  run({
      {Format::hosts, "0.0.0.0 ads.example.com", {"ads.example.com"}, {}},
      {Format::hosts, "127.0.0.1\tads.example.com", {"ads.example.com"}, {}},
      {Format::hosts, ":: ads.example.com", {"ads.example.com"}, {}},
      {Format::hosts, "::1 ads.example.com", {"ads.example.com"}, {}},
      {Format::hosts, "0.0.0.0 a.example.com b.example.com # two", {"a.example.com", "b.example.com"}, {}},
      {Format::hosts, "127.0.0.1 localhost", {}, {R::localhost}},
      {Format::hosts, "255.255.255.255 broadcasthost", {}, {R::localhost}},
      {Format::hosts, "fe80::1%lo0 localhost", {}, {R::localhost}},
      {Format::hosts, "ff02::1 ip6-allnodes", {}, {R::localhost}},
      {Format::hosts, "0.0.0.0 0.0.0.0", {}, {R::localhost}},
      {Format::hosts,
       "216.239.38.120 www.google.com",
       {},
       {R::real_address}},  // SafeSearch rewrite: not a block
      {Format::hosts, "0.0.0.0 1.2.3.4", {}, {R::ip_address}},
      {Format::hosts, "bare.example.com", {"bare.example.com"}, {}},
      {Format::hosts, "notanip example.com", {}, {R::syntax}},
  });
}

TEST_CASE("adblock") {
  run({
      {Format::adblock, "||example.com^", {"example.com"}, {}},
      {Format::adblock, "|example.com^", {"=example.com"}, {}},
      {Format::adblock, "||example.com^$important", {"example.com"}, {}},
      {Format::adblock, "||example.com^$", {"example.com"}, {}},
      {Format::adblock, "||example.com", {"example.com"}, {}},
      {Format::adblock, "@@||good.example.com^", {"good.example.com"}, {}, Kind::entries, true},
      {Format::adblock, "@@|good.example.com^", {"=good.example.com"}, {}, Kind::entries, true},
      {Format::adblock, "! comment", {}, {}, Kind::comment},
      {Format::adblock, "[Adblock Plus 2.0]", {}, {}, Kind::comment},
      {Format::adblock, "||example.com^$third-party", {}, {R::adblock_modifier}},
      {Format::adblock, "||example.com^$important,domain=a.com", {}, {R::adblock_modifier}},
      {Format::adblock, "||example.com/ads/*", {}, {R::adblock_path}},
      {Format::adblock, "example.com##.banner", {}, {R::adblock_cosmetic}},
      {Format::adblock, "##.ad", {}, {R::adblock_cosmetic}},
      {Format::adblock, "example.com#@#.ad", {}, {R::adblock_cosmetic}},
      {Format::adblock, "/^ad[0-9]+\\.example\\.com$/", {}, {R::adblock_regex}},
      {Format::adblock, "||ads*.example.com^", {}, {R::adblock_wildcard}},
      {Format::adblock, "0.0.0.0 hosts.example.com", {"hosts.example.com"}, {}},
      {Format::adblock, "plain.example.com", {"plain.example.com"}, {}},
  });
}

TEST_CASE("wildcard, dnsmasq, unbound") {
  run({
      {Format::wildcard, "*.example.com", {"example.com"}, {}},
      {Format::wildcard, "example.com", {"example.com"}, {}},
      {Format::wildcard, "*.*.example.com", {}, {R::invalid_name}},
      {Format::dnsmasq, "address=/example.com/", {"example.com"}, {}},
      {Format::dnsmasq, "address=/example.com/0.0.0.0", {"example.com"}, {}},
      {Format::dnsmasq, "address=/example.com/#", {"example.com"}, {}},
      {Format::dnsmasq, "address=/a.example.com/b.example.com/::", {"a.example.com", "b.example.com"}, {}},
      {Format::dnsmasq, "address=/example.com/93.184.216.34", {}, {R::real_address}},
      {Format::dnsmasq, "server=/example.com/", {"example.com"}, {}},
      {Format::dnsmasq, "local=/example.com/", {"example.com"}, {}},
      {Format::dnsmasq, "server=/example.com/1.1.1.1", {}, {R::dnsmasq_unsupported}},
      {Format::dnsmasq, "address=/example.com", {}, {R::syntax}},
      {Format::dnsmasq, "cache-size=1000", {}, {}, Kind::directive},
      {Format::unbound, "server:", {}, {}, Kind::directive},
      {Format::unbound, "local-zone: \"example.com\" always_nxdomain", {"example.com"}, {}},
      {Format::unbound, "local-zone: \"example.com\" static", {"example.com"}, {}},
      {Format::unbound, "local-zone: \"example.com\" transparent", {}, {R::unbound_unsupported}},
      {Format::unbound, "local-data: \"example.com A 1.2.3.4\"", {}, {R::unbound_unsupported}},
  });
}

TEST_CASE("rpz zone files") {
  run({
      {Format::rpz, "example.com CNAME .", {"=example.com"}, {}},
      {Format::rpz, "*.example.com\tCNAME\t.", {"example.com"}, {}},
      {Format::rpz, "example.com 300 IN CNAME *.", {"=example.com"}, {}},
      {Format::rpz, "example.com CNAME rpz-drop.", {"=example.com"}, {}},
      {Format::rpz, "good.example.com CNAME rpz-passthru.", {"=good.example.com"}, {}, Kind::entries, true},
      {Format::rpz, "example.com CNAME walled.garden.example.", {}, {R::rpz_unsupported}},
      {Format::rpz, "example.com A 10.0.0.1", {}, {R::rpz_unsupported}},
      {Format::rpz, "32.1.0.0.127.rpz-ip CNAME .", {}, {R::rpz_unsupported}},
      {Format::rpz, "$TTL 3600", {}, {}, Kind::directive},
      {Format::rpz, "@ IN SOA ns.example. host.example. 1 3600 600 86400 60", {}, {}, Kind::directive},
      {Format::rpz, "localhost. 3600 IN NS localhost", {}, {}, Kind::directive},
      {Format::rpz, "; comment", {}, {}, Kind::comment},
  });
  // $ORIGIN and multi-line SOA carry across lines.
  ParseState st;
  LineResult res;
  parse_line(Format::rpz, UrlEntries::skip, "$ORIGIN rpz.example.", st, res);
  CHECK(res.kind == Kind::directive);
  parse_line(Format::rpz, UrlEntries::skip, "@ IN SOA a. b. (", st, res);
  parse_line(Format::rpz, UrlEntries::skip, "  1 3600 ; serial", st, res);
  CHECK(res.kind == Kind::directive);
  parse_line(Format::rpz, UrlEntries::skip, "  600 86400 60 )", st, res);
  CHECK(res.kind == Kind::directive);
  parse_line(Format::rpz, UrlEntries::skip, "bad.example.com.rpz.example. CNAME .", st, res);
  REQUIRE(res.accepted.size() == 1);
  CHECK(res.accepted[0].name == "bad.example.com");
}

TEST_CASE("format detection") {
  CHECK(detect_format({"# hosts", "0.0.0.0 a.com", "0.0.0.0 b.com"}) == Format::hosts);
  CHECK(detect_format({"! Title", "||a.com^", "||b.com^"}) == Format::adblock);
  CHECK(detect_format({"a.com", "b.com"}) == Format::domains);
  CHECK(detect_format({"*.a.com", "*.b.com"}) == Format::wildcard);
  CHECK(detect_format({"address=/a.com/", "server=/b.com/"}) == Format::dnsmasq);
  CHECK(detect_format({"$TTL 60", "a.com CNAME .", "*.a.com CNAME ."}) == Format::rpz);
  CHECK(detect_format({"server:", "local-zone: \"a.com\" always_nxdomain"}) == Format::unbound);
  CHECK(detect_format({}) == Format::domains);
}

TEST_CASE("public suffix list") {
  PublicSuffixList psl;
  std::string err;
  REQUIRE(psl.load(PublicSuffixList::default_path, err));
  for (const char* s : {"com", "co.uk", "github.io", "duckdns.org", "xn--p1ai", "anything.ck"}) {
    CAPTURE(s);
    CHECK(psl.is_public_suffix(s));
  }
  for (const char* s : {"example.com", "bbc.co.uk", "user.github.io", "www.ck"}) {
    CAPTURE(s);
    CHECK(!psl.is_public_suffix(s));
  }
}
