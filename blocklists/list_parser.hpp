// blocklists/list_parser: the pure line parser. Owns the syntax of every list
// format Hedge reads (plain domains, hosts, adblock, wildcard, RPZ, dnsmasq,
// unbound local-zone) and turns one line into zero or more candidate names
// (in normal form, dns/name.hpp) or a skip reason. It never touches a file,
// the public suffix list or the dedup table: those are compiler stages, so
// this file can be driven by table tests and the fuzzer alone.
//
// Every byte is hostile: lines may hold NULs, invalid UTF-8, megabytes of
// junk; the parser only ever slices the line it is given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hedge::lists {

enum class Format : uint8_t { domains, hosts, adblock, wildcard, rpz, dnsmasq, unbound };
const char* to_string(Format f) noexcept;
std::optional<Format> format_from_string(std::string_view s) noexcept;

// What to do with "host/path" entries (IWF-style lists name pages, but a DNS
// filter can only block whole hosts): a per-source choice, counted either way.
enum class UrlEntries : uint8_t { skip, block_host };
const char* to_string(UrlEntries u) noexcept;
std::optional<UrlEntries> url_entries_from_string(std::string_view s) noexcept;

// Why a candidate was not accepted. Stable strings: they are report.json keys.
enum class SkipReason : uint8_t {
  invalid_name,      // normaliser said no (see detail)
  single_label,      // "com", "localhost": would block a whole TLD or nothing
  public_suffix,     // set by the compiler (public suffix list)
  ip_address,        // a bare IPv4/IPv6 address: not a DNS name
  cidr,              // an address range
  localhost,         // hosts-file preamble (localhost, broadcasthost, ...)
  real_address,      // hosts/dnsmasq line mapping a name to a real address: not a block
  url_entry,         // host/path with url_entries = skip
  adblock_modifier,  // $third-party and friends: cannot be honoured by DNS
  adblock_path,      // ||d/path^
  adblock_cosmetic,  // ##, #@#, #?# ...
  adblock_regex,     // /regex/
  adblock_wildcard,  // * inside a name
  rpz_unsupported,   // rewrites to other names, local data, IP/NSDNAME triggers
  dnsmasq_unsupported,
  unbound_unsupported,
  excepted,  // removed by an allow rule of the same source (@@, rpz-passthru.)
  syntax,    // line does not fit the format at all
  count_
};
const char* to_string(SkipReason r) noexcept;

struct Candidate {
  std::string name;       // normal form when accepted
  bool exact = false;     // true: only this name (adblock |d^, RPZ owner without *.)
  bool url_host = false;  // came from a host/path entry blocked as its host
};

struct Skip {
  SkipReason reason;
  std::string detail;  // e.g. the normaliser's message; never printed for confidential sources
};

// Parser state carried from line to line within one source (RPZ $ORIGIN and
// multi-line records in parentheses; the BOM on the first line).
struct ParseState {
  std::string origin;  // RPZ: normal form without trailing dot, empty if none
  int paren_depth = 0;
  bool first_line = true;
};

struct LineResult {
  enum class Kind : uint8_t {
    blank,      // nothing but whitespace
    comment,    // comments, headers
    directive,  // zone records and settings that are not list entries ($TTL, SOA, NS, server:)
    entries,    // one or more candidates/skips below (a hosts line may name several)
  };
  Kind kind = Kind::blank;
  bool allow = false;  // entries are allow rules (@@||d^, rpz-passthru.), not blocks
  std::vector<Candidate> accepted;
  std::vector<Skip> skipped;
  void clear() {
    kind = Kind::blank;
    allow = false;
    accepted.clear();
    skipped.clear();
  }
};

// Parses one line (without its '\n'; a trailing '\r' is tolerated). Reuses
// `out`'s vectors so a steady-state parse allocates only the names.
void parse_line(Format f, UrlEntries url, std::string_view line, ParseState& st, LineResult& out);

// Guesses a format from the first lines of a file (any number; ~200 is
// plenty). Falls back to domains.
Format detect_format(const std::vector<std::string>& first_lines);

// Helpers exposed for tests.
bool looks_like_ipv4(std::string_view s) noexcept;
bool looks_like_ip(std::string_view s) noexcept;  // v4 or v6, with optional %zone

}  // namespace hedge::lists
