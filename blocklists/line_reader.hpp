// blocklists/line_reader: streams the lines of one list source, plain or
// gzip (detected by magic, not by name), and hashes the raw file bytes on the
// way so each source is read once. Owns the fd and the zlib stream (RAII).
// Lines longer than max_line are cut and flagged, never buffered whole, so a
// hostile file cannot make the compiler's memory grow.
#pragma once

#include <mbedtls/sha256.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/crypto.hpp"

namespace hedge::lists {

class LineReader {
 public:
  static constexpr std::size_t max_line = std::size_t{16} * 1024;

  LineReader();
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // hash = false for extra passes over a file already hashed (format probe,
  // exception pre-pass): SHA-256 is the compiler's biggest single cost.
  bool open(const std::string& path, std::string& err, bool hash = true);
  // Next line without '\n' (valid until the next call). False at end of file
  // or on error (then error() is non-empty).
  bool next(std::string_view& line);
  bool last_truncated() const noexcept { return m_truncated; }
  const std::string& error() const noexcept { return m_err; }
  bool compressed() const noexcept { return m_gzip; }
  // Hash and size of the raw (possibly compressed) bytes; valid after next() returned false.
  util::Sha256 sha256() const noexcept { return m_digest; }
  uint64_t raw_size() const noexcept { return m_raw_total; }

 private:
  bool fill();      // appends more text to m_buf; false at EOF/error
  bool read_raw();  // refills m_raw; false at EOF/error

  int m_fd = -1;
  bool m_gzip = false, m_raw_eof = false, m_text_eof = false, m_truncated = false, m_discarding = false;
  bool m_zinit = false, m_finished = false, m_hash = true;
  z_stream m_z{};
  mbedtls_sha256_context m_sha{};
  util::Sha256 m_digest{};
  uint64_t m_raw_total = 0;
  std::vector<uint8_t> m_raw;
  std::size_t m_raw_pos = 0, m_raw_len = 0;
  std::string m_buf;  // decoded text; [m_pos, m_end) pending
  std::size_t m_pos = 0, m_end = 0;
  std::string m_err, m_path;
};

}  // namespace hedge::lists
