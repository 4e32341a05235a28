// monitor/syslog: RFC 5424 formatting and the non-blocking exporter thread.
#include "monitor/syslog.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "util/log.hpp"

namespace hedge::monitor {

namespace {
constexpr int kFacility = 16;  // local0
constexpr int kTimeoutMs = 2000;
constexpr int64_t kBackoffMs = 5000;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// PARAM-VALUE escaping (RFC 5424 6.3.3): '"', '\' and ']' get a backslash.
std::string sd_escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    out += c;
  }
  return out;
}

// PRINTUSASCII without space, '=', ']', '"' (SD-NAME), max 32.
std::string sd_name(std::string_view n) {
  std::string out;
  for (char c : n.substr(0, 32))
    if (c > 32 && c < 127 && c != '=' && c != ']' && c != '"') out += c;
  return out.empty() ? std::string("x") : out;
}
}  // namespace

std::string format_syslog(const SyslogMessage& m, const std::string& hostname, int pid) {
  const int pri = kFacility * 8 + static_cast<int>(m.severity);
  std::tm tm{};
  const auto t = static_cast<std::time_t>(m.at);
  gmtime_r(&t, &tm);
  char head[128];
  std::snprintf(head, sizeof head, "<%d>1 %04d-%02d-%02dT%02d:%02d:%02dZ ", pri, tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = head;
  out += hostname.empty() ? std::string("-") : sd_name(hostname);
  out +=
      " hedge " + std::to_string(pid) + " " + (m.msgid.empty() ? std::string("-") : sd_name(m.msgid)) + " ";
  if (m.sd.empty()) {
    out += "-";
  } else {
    out += "[hedge@32473";
    for (const auto& [k, v] : m.sd) out += " " + sd_name(k) + "=\"" + sd_escape(v) + "\"";
    out += "]";
  }
  if (!m.text.empty()) {
    out += " ";
    for (char c : m.text) out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

bool SyslogExporter::start(const util::SockAddr& to, bool tcp, std::string& err) {
  m_to = to;
  m_tcp = tcp;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) m_host = host;
  m_pid = static_cast<int>(getpid());
  try {
    m_thread = std::thread([this] { run(); });
  } catch (const std::exception& e) {
    err = std::string("syslog exporter thread: ") + e.what();
    return false;
  }
  return true;
}

void SyslogExporter::stop() noexcept {
  {
    std::lock_guard<std::mutex> g(m_mu);
    m_stop = true;
  }
  m_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
  disconnect();
}

void SyslogExporter::stop_after_drain() noexcept {
  {
    std::lock_guard<std::mutex> g(m_mu);
    m_drain = true;
    m_stop = true;
  }
  m_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
  disconnect();
}

void SyslogExporter::send(SyslogMessage m) noexcept {
  try {
    std::lock_guard<std::mutex> g(m_mu);
    if (m_stop || !m_thread.joinable() || m_queue.size() >= kMaxQueue) {
      m_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    m_queue.push_back(std::move(m));
  } catch (...) {
    m_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  m_cv.notify_one();
}

void SyslogExporter::run() noexcept {
  for (;;) {
    SyslogMessage m;
    {
      std::unique_lock<std::mutex> lk(m_mu);
      m_cv.wait(lk, [&] { return m_stop || !m_queue.empty(); });
      if (m_queue.empty()) return;  // stopping and drained
      if (m_stop && !m_drain) {
        // Shutting down: do not wait for a dead collector; what is left is dropped.
        m_dropped.fetch_add(m_queue.size(), std::memory_order_relaxed);
        m_queue.clear();
        return;
      }
      m = std::move(m_queue.front());
      m_queue.pop_front();
    }
    std::string line;
    try {
      line = format_syslog(m, m_host, m_pid);
    } catch (...) {
      m_dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (deliver(line))
      m_sent.fetch_add(1, std::memory_order_relaxed);
    else
      m_dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

void SyslogExporter::disconnect() noexcept {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
}

bool SyslogExporter::deliver(const std::string& line) noexcept {
  if (!m_tcp) {
    if (m_fd < 0) m_fd = ::socket(m_to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m_fd < 0) return false;
    return ::sendto(m_fd, line.data(), line.size(), MSG_DONTWAIT, m_to.sa(), m_to.len()) ==
           static_cast<ssize_t>(line.size());
  }
  if (m_fd < 0) {
    if (steady_ms() < m_retry_at_ms) return false;  // backing off from a dead collector
    m_fd = ::socket(m_to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m_fd < 0) return false;
    int rc = ::connect(m_fd, m_to.sa(), m_to.len());
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{m_fd, POLLOUT, 0};
      rc = ::poll(&p, 1, kTimeoutMs) == 1 ? 0 : -1;
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (rc == 0 && (::getsockopt(m_fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0)) rc = -1;
    }
    if (rc != 0) {
      disconnect();
      m_retry_at_ms = steady_ms() + kBackoffMs;
      LOG_WARN("syslog: cannot connect to %s: dropping messages for %lld s", m_to.str().c_str(),
               static_cast<long long>(kBackoffMs / 1000));
      return false;
    }
  }
  // RFC 6587 octet counting: "LEN SP SYSLOG-MSG".
  const std::string frame = std::to_string(line.size()) + " " + line;
  std::size_t off = 0;
  const int64_t deadline = steady_ms() + kTimeoutMs;
  while (off < frame.size()) {
    const ssize_t n = ::send(m_fd, frame.data() + off, frame.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const int64_t left = deadline - steady_ms();
      pollfd p{m_fd, POLLOUT, 0};
      if (left > 0 && ::poll(&p, 1, static_cast<int>(left)) == 1) continue;
    }
    disconnect();
    m_retry_at_ms = steady_ms() + kBackoffMs;
    return false;
  }
  return true;
}

}  // namespace hedge::monitor
