// Fuzz: the list line parser, format detection, the public suffix test and
// the dedup table, fed arbitrary bytes as a list file. The first byte picks
// the format and the URL mode, so one corpus covers every syntax; input that
// starts with the gzip magic goes through the file reader instead.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "blocklists/compiler.hpp"
#include "blocklists/line_reader.hpp"
#include "blocklists/list_parser.hpp"
#include "blocklists/public_suffix.hpp"

using namespace hedge::lists;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const PublicSuffixList psl = [] {
    PublicSuffixList p;
    for (const char* r : {"com", "uk", "co.uk", "github.io", "*.ck", "!www.ck"}) p.add_rule(r);
    return p;
  }();
  if (size == 0) return 0;
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
    // Gzip input: through the real file reader (inflate, member handling,
    // long-line cutting), via a memfd so no disk is touched.
    const int fd = memfd_create("fuzz_lists", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (::write(fd, data, size) == static_cast<ssize_t>(size)) {
      LineReader r;
      std::string err;
      if (r.open("/proc/self/fd/" + std::to_string(fd), err)) {
        ParseState st;
        LineResult res;
        std::string_view l;
        std::size_t n = 0;
        while (r.next(l) && n++ < 100000) {
          if (l.size() > LineReader::max_line) __builtin_trap();
          parse_line(Format::hosts, UrlEntries::skip, l, st, res);
        }
      }
    }
    ::close(fd);
    return 0;
  }
  const uint8_t sel = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto fmt = static_cast<Format>(sel % 7);
  const auto url = (sel & 0x80) ? UrlEntries::block_host : UrlEntries::skip;

  std::vector<std::string> first;
  ParseState st;
  LineResult res;
  NameTable table;
  unsigned n = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (first.size() < 50) first.emplace_back(line);
    parse_line(fmt, url, line, st, res);
    for (const auto& c : res.accepted) {
      // Accepted names must be in normal form: non-empty, at least two labels.
      if (c.name.empty() || c.name.find('.') == std::string::npos || c.name.size() > 253) __builtin_trap();
      (void)psl.is_public_suffix(c.name);
      table.insert(c.name, n % 64, c.exact, n % 3);
    }
    if (res.kind != LineResult::Kind::entries && (!res.accepted.empty() || !res.skipped.empty()))
      __builtin_trap();
    (void)printable_excerpt(line);
    ++n;
  }
  (void)detect_format(first);
  std::vector<uint16_t> srcs;
  for (const auto& r : table.records()) table.sources(r, srcs);
  return 0;
}
