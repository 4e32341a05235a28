// blocklists/line_reader: plain/gzip line streaming with raw-byte hashing.
#include "blocklists/line_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hedge::lists {

namespace {
constexpr std::size_t raw_chunk = std::size_t{256} * 1024;
constexpr std::size_t text_chunk = std::size_t{512} * 1024;
}  // namespace

LineReader::LineReader() {
  mbedtls_sha256_init(&m_sha);
}

LineReader::~LineReader() {
  if (m_zinit) inflateEnd(&m_z);
  if (m_fd >= 0) ::close(m_fd);
  mbedtls_sha256_free(&m_sha);
}

bool LineReader::open(const std::string& path, std::string& err, bool hash) {
  m_path = path;
  m_hash = hash;
  m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (m_fd < 0) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  mbedtls_sha256_starts_ret(&m_sha, 0);
  m_raw.resize(raw_chunk);
  m_buf.resize(text_chunk + max_line);
  if (!read_raw() && !m_err.empty()) {
    err = m_err;
    return false;
  }
  m_gzip = m_raw_len >= 2 && m_raw[0] == 0x1f && m_raw[1] == 0x8b;
  if (m_gzip) {
    // 16 + MAX_WBITS: gzip wrapper only (the magic told us).
    if (inflateInit2(&m_z, 16 + MAX_WBITS) != Z_OK) {
      err = path + ": zlib init failed";
      return false;
    }
    m_zinit = true;
  }
  return true;
}

bool LineReader::read_raw() {
  if (m_raw_eof) return false;
  ssize_t n;
  do {
    n = ::read(m_fd, m_raw.data(), m_raw.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    m_err = m_path + ": read: " + std::strerror(errno);
    m_raw_eof = true;
    return false;
  }
  m_raw_pos = 0;
  m_raw_len = static_cast<std::size_t>(n);
  if (n == 0) {
    m_raw_eof = true;
    return false;
  }
  if (m_hash) mbedtls_sha256_update_ret(&m_sha, m_raw.data(), m_raw_len);
  m_raw_total += m_raw_len;
  return true;
}

bool LineReader::fill() {
  if (m_text_eof) return false;
  // Compact: keep the pending tail at the front.
  if (m_pos > 0) {
    std::memmove(m_buf.data(), m_buf.data() + m_pos, m_end - m_pos);
    m_end -= m_pos;
    m_pos = 0;
  }
  const std::size_t room = m_buf.size() - m_end;
  if (room == 0) return true;
  while (true) {
    if (m_raw_pos == m_raw_len && !read_raw()) {
      if (!m_err.empty()) return false;
      if (m_gzip && !m_finished && m_z.total_in > 0) m_err = m_path + ": truncated gzip stream";
      m_text_eof = true;
      return false;
    }
    if (!m_gzip) {
      const std::size_t n = std::min(room, m_raw_len - m_raw_pos);
      std::memcpy(m_buf.data() + m_end, m_raw.data() + m_raw_pos, n);
      m_raw_pos += n;
      m_end += n;
      return true;
    }
    if (m_finished) {
      // Concatenated gzip members are valid gzip; anything else after the end is junk.
      if (m_raw[m_raw_pos] != 0x1f) {
        m_err = m_path + ": trailing garbage after gzip stream";
        return false;
      }
      inflateReset(&m_z);
      m_finished = false;
    }
    m_z.next_in = m_raw.data() + m_raw_pos;
    m_z.avail_in = static_cast<uInt>(m_raw_len - m_raw_pos);
    m_z.next_out = reinterpret_cast<Bytef*>(m_buf.data() + m_end);
    m_z.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&m_z, Z_NO_FLUSH);
    m_raw_pos = m_raw_len - m_z.avail_in;
    const std::size_t produced = room - m_z.avail_out;
    m_end += produced;
    if (rc == Z_STREAM_END) {
      m_finished = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      m_err = m_path + ": gzip data corrupt (" + (m_z.msg ? m_z.msg : "inflate error") + ")";
      return false;
    }
    if (produced > 0) return true;
  }
}

bool LineReader::next(std::string_view& line) {
  m_truncated = false;
  while (true) {
    const char* start = m_buf.data() + m_pos;
    const void* nl = std::memchr(start, '\n', m_end - m_pos);
    if (nl) {
      const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
      m_pos += len + 1;
      if (m_discarding) {
        m_discarding = false;
        continue;  // the rest of an over-long line already reported
      }
      // Cut here too: a long line that happens to fit the buffer is still too long.
      m_truncated = len > max_line;
      line = {start, std::min(len, max_line)};
      return true;
    }
    if (m_end - m_pos >= max_line) {
      if (m_discarding) {
        m_pos = m_end;
      } else {
        line = {start, max_line};
        m_pos += max_line;
        m_truncated = true;
        m_discarding = true;
        return true;
      }
    }
    if (!fill()) {
      if (!m_err.empty()) return false;
      if (m_end > m_pos && !m_discarding) {  // last line without a final newline
        line = {m_buf.data() + m_pos, m_end - m_pos};
        m_pos = m_end;
        return true;
      }
      mbedtls_sha256_finish_ret(&m_sha, m_digest.data());
      return false;
    }
  }
}

}  // namespace hedge::lists
