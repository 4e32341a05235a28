// Unit: the list file reader: plain and gzip (by magic), concatenated gzip
// members, CRLF, no final newline, over-long lines cut and flagged, corrupt
// and truncated gzip reported; the hash is of the raw bytes.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "blocklists/line_reader.hpp"
#include "util/crypto.hpp"

namespace fs = std::filesystem;
using hedge::lists::LineReader;

namespace {

std::string gzip_bytes(const std::string& text) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct File {
  std::string path;
  explicit File(const std::string& bytes) {
    path = (fs::temp_directory_path() / ("hedge-lr-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(reinterpret_cast<uintptr_t>(this))))
               .string();
    std::ofstream(path, std::ios::binary) << bytes;
  }
  ~File() { ::unlink(path.c_str()); }
};

std::vector<std::string> read_all(const std::string& path, std::string* err_out = nullptr,
                                  std::vector<bool>* truncated = nullptr) {
  LineReader r;
  std::string err;
  REQUIRE(r.open(path, err));
  std::vector<std::string> lines;
  std::string_view l;
  while (r.next(l)) {
    lines.emplace_back(l);
    if (truncated) truncated->push_back(r.last_truncated());
  }
  if (err_out) *err_out = r.error();
  return lines;
}

}  // namespace

TEST_CASE("plain file, CRLF kept for the parser, no final newline") {
  File f("a.com\r\nb.com\n\nc.com");
  CHECK(read_all(f.path) == std::vector<std::string>{"a.com\r", "b.com", "", "c.com"});
}

TEST_CASE("gzip, including concatenated members, hashed as raw bytes") {
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "host" + std::to_string(i) + ".example.com\n";
  const std::string gz = gzip_bytes(text) + gzip_bytes("last.example.com\n");
  File f(gz);
  LineReader r;
  std::string err;
  REQUIRE(r.open(f.path, err));
  std::string_view l;
  std::size_t n = 0;
  std::string last;
  while (r.next(l)) {
    ++n;
    last = l;
  }
  CHECK(r.error().empty());
  CHECK(r.compressed());
  CHECK(n == 50001);
  CHECK(last == "last.example.com");
  CHECK(r.raw_size() == gz.size());
  CHECK(r.sha256() == hedge::util::sha256(gz));
}

TEST_CASE("over-long lines are cut once and flagged") {
  const std::string big(LineReader::max_line * 3 + 5, 'x');
  File f("a.com\n" + big + "\nb.com\n");
  std::vector<bool> trunc;
  const auto lines = read_all(f.path, nullptr, &trunc);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "a.com");
  CHECK(lines[1].size() == LineReader::max_line);
  CHECK(trunc == std::vector<bool>{false, true, false});
  CHECK(lines[2] == "b.com");
}

TEST_CASE("corrupt and truncated gzip are errors, not silent short lists") {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "host" + std::to_string(i) + ".example.com\n";
  const std::string gz = gzip_bytes(text);
  std::string err;
  File cut(gz.substr(0, gz.size() / 2));
  read_all(cut.path, &err);
  CHECK(err.find("truncated") != std::string::npos);
  std::string bad = gz;
  bad[bad.size() / 2] ^= 0x55;
  bad[bad.size() / 2 + 1] ^= 0x55;
  File corrupt(bad);
  read_all(corrupt.path, &err);
  CHECK(!err.empty());
  File junk(gz + "junk");
  read_all(junk.path, &err);
  CHECK(err.find("trailing garbage") != std::string::npos);
  LineReader r;
  CHECK(!r.open("/nonexistent/hedge-list", err));
}
