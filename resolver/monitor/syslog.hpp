// monitor/syslog: RFC 5424 export of blocked attempts, incidents and audit
// events to [monitoring] syslog (udp:// or tcp://, RFC 6587 octet counting).
// Formatting is pure (format_syslog). The Exporter owns one small thread
// with a bounded queue: send() never blocks its caller (the store thread),
// a full queue drops and counts, and a dead or slow collector costs at most
// a 2 s connect/send timeout on the exporter's own thread, with back-off.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "util/address.hpp"

namespace hedge::monitor {

enum class Severity : uint8_t { emergency, alert, critical, error, warning, notice, info, debug };

// One message. `sd` are the parameters of the [hedge@32473 ...] element
// (32473 is the documentation enterprise number, RFC 5612).
struct SyslogMessage {
  int64_t at = 0;  // unix seconds
  Severity severity = Severity::notice;
  std::string msgid;  // "blocked", "incident", "audit"
  std::vector<std::pair<std::string, std::string>> sd;
  std::string text;
};

// The RFC 5424 line (no trailing newline): <PRI>1 TIMESTAMP HOST hedge PID MSGID [SD] MSG
std::string format_syslog(const SyslogMessage& m, const std::string& hostname, int pid);

class SyslogExporter {
 public:
  SyslogExporter() = default;
  ~SyslogExporter() { stop(); }
  SyslogExporter(const SyslogExporter&) = delete;
  SyslogExporter& operator=(const SyslogExporter&) = delete;

  bool start(const util::SockAddr& to, bool tcp, std::string& err);
  void stop() noexcept;
  // Sends what is queued (each try bounded by the 2 s timeout), then stops. For the CLI.
  void stop_after_drain() noexcept;
  // Any thread; never blocks on the network (a mutex held for a push only).
  void send(SyslogMessage m) noexcept;
  uint64_t sent() const noexcept { return m_sent.load(std::memory_order_relaxed); }
  uint64_t dropped() const noexcept { return m_dropped.load(std::memory_order_relaxed); }

  static constexpr std::size_t kMaxQueue = 4096;

 private:
  void run() noexcept;
  bool deliver(const std::string& line) noexcept;
  void disconnect() noexcept;

  util::SockAddr m_to;
  bool m_tcp = false;
  std::string m_host;
  int m_pid = 0;
  int m_fd = -1;
  int64_t m_retry_at_ms = 0;
  std::mutex m_mu;
  std::condition_variable m_cv;
  std::deque<SyslogMessage> m_queue;
  bool m_stop = false, m_drain = false;
  std::thread m_thread;
  std::atomic<uint64_t> m_sent{0}, m_dropped{0};
};

}  // namespace hedge::monitor
