// blocklists/compiler: sources -> deduplicated name table + per-source report.
#include "blocklists/compiler.hpp"

#include <algorithm>

#include <unordered_set>

#include "blocklists/line_reader.hpp"
#include "blocklists/taxonomy.hpp"
#include "dns/name.hpp"

namespace hedge::lists {

namespace {

// FNV-1a: names are short, and this runs once per accepted entry.
uint32_t hash_name(std::string_view s) noexcept {
  uint32_t h = 2166136261u;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

constexpr std::size_t max_sources_per_name = 32;
constexpr std::size_t detect_lines = 200;

struct SvHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using NameSet = std::unordered_set<std::string, SvHash, std::equal_to<>>;

// Allow rules of one source (adblock @@, RPZ rpz-passthru.).
struct Exceptions {
  NameSet subtree, exact;
  bool empty() const noexcept { return subtree.empty() && exact.empty(); }
  bool covers(std::string_view name) const {
    if (exact.contains(name)) return true;
    std::string_view s = name;
    while (true) {
      if (subtree.contains(s)) return true;
      const auto dot = s.find('.');
      if (dot == std::string_view::npos) return false;
      s.remove_prefix(dot + 1);
    }
  }
};

}  // namespace

std::string printable_excerpt(std::string_view line, std::size_t max) {
  std::string out;
  static constexpr char hex[] = "0123456789abcdef";
  for (char ch : line) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(ch);
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

bool NameTable::insert(std::string_view name, unsigned bit, bool exact, unsigned source) {
  if (m_slots.empty() || (m_records.size() + 1) * 10 > m_slots.size() * 7) grow();
  const uint32_t h = hash_name(name);
  const std::size_t mask = m_slots.size() - 1;
  std::size_t i = h & mask;
  Record* rec = nullptr;
  while (m_slots[i] != 0) {
    if (static_cast<uint32_t>(m_slots[i] >> 32) == h) {
      Record& r = m_records[static_cast<uint32_t>(m_slots[i]) - 1];
      if (r.len == name.size() && std::string_view(m_arena.data() + r.off, r.len) == name) {
        rec = &r;
        break;
      }
    }
    i = (i + 1) & mask;
  }
  if (!rec) {
    Record r;
    r.off = static_cast<uint32_t>(m_arena.size());
    r.len = static_cast<uint16_t>(name.size());
    r.hash = h;
    m_arena.insert(m_arena.end(), name.begin(), name.end());
    m_records.push_back(r);
    m_slots[i] = (uint64_t{h} << 32) | static_cast<uint32_t>(m_records.size());
    rec = &m_records.back();
  }
  const uint64_t b = uint64_t{1} << bit;
  uint64_t& m = exact ? rec->exact : rec->subtree;
  const bool fresh = (m & b) == 0;
  m |= b;
  // Remember the source unless it is already listed (sources stream one at a
  // time, so the newest link is the only one that can be this source).
  if (rec->src_head == 0 || m_links[rec->src_head - 1].source != source) {
    std::size_t n = 0;
    for (uint32_t l = rec->src_head; l != 0; l = m_links[l - 1].next) ++n;
    if (n < max_sources_per_name) {
      m_links.push_back(Link{static_cast<uint16_t>(source), rec->src_head});
      rec->src_head = static_cast<uint32_t>(m_links.size());
    }
  }
  return fresh;
}

void NameTable::grow() {
  const std::size_t n = m_slots.empty() ? 1024 : m_slots.size() * 2;
  m_slots.assign(n, 0);
  const std::size_t mask = n - 1;
  for (uint32_t k = 0; k < m_records.size(); ++k) {
    std::size_t i = m_records[k].hash & mask;
    while (m_slots[i] != 0) i = (i + 1) & mask;
    m_slots[i] = (uint64_t{m_records[k].hash} << 32) | (k + 1);
  }
}

void NameTable::sources(const Record& r, std::vector<uint16_t>& out) const {
  out.clear();
  for (uint32_t l = r.src_head; l != 0; l = m_links[l - 1].next) out.push_back(m_links[l - 1].source);
  // Links are newest first; report in the order sources listed the name.
  for (std::size_t a = 0, b = out.size(); a + 1 < b; ++a, --b) std::swap(out[a], out[b - 1]);
}

std::size_t NameTable::memory_bytes() const noexcept {
  return m_arena.capacity() + m_records.capacity() * sizeof(Record) + m_links.capacity() * sizeof(Link) +
         m_slots.capacity() * sizeof(uint64_t);
}

Compiler::Compiler(const PublicSuffixList& psl) : m_psl(psl) {
  unsigned bit = 0;
  for (const auto& t : builtin_taxonomy()) {
    Category c;
    c.test_names = t.test_names;  // kept only if the category gets a source (add_test_names)
    c.id = t.id;
    c.name = t.name;
    c.tier = t.tier;
    c.confidential = t.confidential;
    c.bit = bit++;
    m_categories.push_back(std::move(c));
  }
}

bool Compiler::add_source(const SourceSpec& spec, std::string& err) {
  const Category* cat = nullptr;
  for (const auto& c : m_categories)
    if (c.id == spec.category) cat = &c;
  if (!cat) {
    err = spec.category + "=" + spec.path + ": unknown category '" + spec.category +
          "' (see blocklists/categories.toml)";
    return false;
  }
  if (m_reports.size() >= 0xffff) {
    err = "too many sources (at most 65535)";
    return false;
  }
  SourceReport rep;
  rep.id = static_cast<unsigned>(m_reports.size());
  rep.category = spec.category;
  rep.path = spec.path;
  rep.url_entries = spec.url_entries;
  rep.confidential = cat->confidential;
  if (cat->confidential) m_has_confidential = true;
  NameTable& table = cat->confidential ? m_confidential : m_public;

  // Format: given, or guessed from the first lines (a separate short read).
  if (spec.format) {
    rep.format = *spec.format;
  } else {
    LineReader probe;
    if (!probe.open(spec.path, err, false)) return false;
    std::vector<std::string> first;
    std::string_view l;
    while (first.size() < detect_lines && probe.next(l)) first.emplace_back(l);
    if (!probe.error().empty()) {
      err = probe.error();
      return false;
    }
    rep.format = detect_format(first);
    rep.detected = true;
  }

  // Allow rules can come after the rules they cancel, so collect them first.
  Exceptions exc;
  LineResult res;
  if (rep.format == Format::adblock || rep.format == Format::rpz) {
    LineReader pre;
    if (!pre.open(spec.path, err, false)) return false;
    ParseState st;
    std::string_view l;
    while (pre.next(l)) {
      if (pre.last_truncated()) continue;
      parse_line(rep.format, spec.url_entries, l, st, res);
      if (!res.allow) continue;
      for (auto& c : res.accepted) (c.exact ? exc.exact : exc.subtree).insert(std::move(c.name));
    }
    if (!pre.error().empty()) {
      err = pre.error();
      return false;
    }
  }

  LineReader in;
  if (!in.open(spec.path, err)) return false;
  ParseState st;
  std::string_view line;
  const auto skip = [&](SkipReason r, std::string_view text, std::string_view detail) {
    ++rep.skipped;
    auto& s = rep.reasons[static_cast<std::size_t>(r)];
    ++s.count;
    if (!rep.confidential && s.examples.size() < max_examples) {
      std::string t = printable_excerpt(text);
      if (!detail.empty()) t += "  (" + printable_excerpt(detail, 60) + ")";
      s.examples.push_back({rep.lines, std::move(t)});
    }
  };
  while (in.next(line)) {
    ++rep.lines;
    if (in.last_truncated()) {
      ++rep.entries;
      skip(SkipReason::syntax, line.substr(0, 60), "line longer than 16 KiB");
      continue;
    }
    parse_line(rep.format, spec.url_entries, line, st, res);
    switch (res.kind) {
      case LineResult::Kind::blank: ++rep.blank; continue;
      case LineResult::Kind::comment: ++rep.comments; continue;
      case LineResult::Kind::directive: ++rep.directives; continue;
      case LineResult::Kind::entries: break;
    }
    if (res.allow) {
      rep.exceptions += res.accepted.size();
      for (const auto& s : res.skipped) {
        ++rep.entries;
        skip(s.reason, line, s.detail);
      }
      continue;
    }
    rep.entries += res.accepted.size() + res.skipped.size();
    for (const auto& s : res.skipped) skip(s.reason, line, s.detail);
    for (const auto& c : res.accepted) {
      if (m_psl.is_public_suffix(c.name)) {
        skip(SkipReason::public_suffix, line, {});
      } else if (!exc.empty() && exc.covers(c.name)) {
        skip(SkipReason::excepted, line, {});
      } else if (table.full()) {
        err = spec.path + ": too many names for one bundle";
        return false;
      } else if (table.insert(c.name, cat->bit, c.exact, rep.id)) {
        ++rep.accepted;
        if (c.url_host) ++rep.url_hosts;
      } else {
        ++rep.duplicates;
      }
    }
  }
  if (!in.error().empty()) {
    err = in.error();
    return false;
  }
  rep.compressed = in.compressed();
  rep.bytes = in.raw_size();
  rep.sha256 = util::to_hex(in.sha256());
  // A category is served only when a source gave it names: a source whose
  // every line was skipped must not get a test name that makes it look filtered.
  if (rep.accepted + rep.duplicates > 0) m_sourced |= uint64_t{1} << cat->bit;
  m_reports.push_back(std::move(rep));
  return true;
}

}  // namespace hedge::lists

namespace hedge::lists {

bool Compiler::add_test_names(const std::map<std::string, std::vector<std::string>>& chosen,
                              std::string& err) {
  for (const auto& kv : chosen) {
    const std::string& id = kv.first;
    if (std::none_of(m_categories.begin(), m_categories.end(),
                     [&id](const Category& c) { return c.id == id; })) {
      err = "--test-name " + id + "=...: unknown category '" + id + "' (see blocklists/categories.toml)";
      return false;
    }
  }
  for (auto& cat : m_categories) {
    if (auto it = chosen.find(cat.id); it != chosen.end()) cat.test_names = it->second;
    const bool sourced = (m_sourced >> cat.bit) & 1;
    if (!sourced) {
      cat.test_names.clear();  // a category with no lists is not served: nothing to check
      continue;
    }
    std::vector<std::string> normal;
    for (const auto& n : cat.test_names) {
      auto nn = dns::normalise_name(n);
      // A test name is a whole name with a dot in it: a bare label or a public
      // suffix would block far more than the check means to.
      if (!nn || nn.name.find('.') == std::string::npos || m_psl.is_public_suffix(nn.name)) {
        err = "--test-name " + cat.id + "=" + printable_excerpt(n, 80) + ": " +
              (nn ? std::string("a test name must be a domain name, not a public suffix")
                  : std::string(dns::to_string(nn.error)));
        return false;
      }
      if (std::find(normal.begin(), normal.end(), nn.name) == normal.end())
        normal.push_back(std::move(nn.name));
    }
    if (normal.size() > kMaxTestNames) {
      err = "--test-name: at most " + std::to_string(kMaxTestNames) + " test names for " + cat.id;
      return false;
    }
    cat.test_names = std::move(normal);
    if (cat.test_names.empty()) continue;
    if (m_reports.size() >= 0xffff) {
      err = "too many sources (at most 65535)";
      return false;
    }
    SourceReport rep;
    rep.id = static_cast<unsigned>(m_reports.size());
    rep.category = cat.id;
    rep.path = "(test names for the built-in filtering check)";
    rep.test_names = true;
    rep.format = Format::domains;
    rep.confidential = cat.confidential;
    NameTable& table = cat.confidential ? m_confidential : m_public;
    for (const auto& n : cat.test_names) {
      ++rep.entries;
      ++rep.lines;
      if (table.insert(n, cat.bit, false, rep.id)) {
        ++rep.accepted;
      } else if (cat.confidential) {
        // The manifest carries test names in plain text: one that is a listed
        // entry of a confidential list would publish that entry.
        err = "--test-name " + cat.id + "=...: the name is one of the category's listed entries; a " +
              "confidential category's test name is published in plain text, so it must not be";
        return false;
      } else {
        ++rep.duplicates;
      }
    }
    m_reports.push_back(std::move(rep));
  }
  return true;
}

}  // namespace hedge::lists
