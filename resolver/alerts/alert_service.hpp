// alerts/alert_service: the alert sender inside `hedge serve` (issue 9,
// docs/decisions/0064). One thread of its own, started when [alerts] has
// an SMTP relay or a webhook. Every few seconds it asks the store thread
// (the only SQLite thread) to turn new incidents and a due weekly digest
// into queued alerts and to hand back the ones due now; it then sends them
// itself (getaddrinfo, TCP, STARTTLS, SMTP or HTTPS: net/tls_client) and
// posts each outcome back: sent, or failed with the next attempt after a
// capped exponential backoff with jitter (alerts/alert_text). The queue is
// in the store, so an alert survives a restart.
//
// The DNS loop is never involved: it neither waits for this thread nor
// shares anything with it. stop() (from the server, before the store
// thread stops) sets a cancel flag that every socket wait checks within
// 200 ms, then joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/alerts_config.hpp"
#include "store/store_thread.hpp"

namespace hedge::alerts {

struct ServiceSettings {
  config::AlertsConfig cfg;
  std::string store_path, school;
  uint32_t poll_ms = 2000;  // how often the queue is looked at
};

class AlertService {
 public:
  explicit AlertService(store::StoreThread& st);
  ~AlertService();
  AlertService(const AlertService&) = delete;
  AlertService& operator=(const AlertService&) = delete;

  // Starts the sender when s.cfg has an SMTP relay or a webhook (else does nothing).
  bool start(ServiceSettings s, std::string& err);
  void stop() noexcept;  // idempotent
  // A reload's [alerts]: restarts the sender when the settings differ, starts
  // or stops it when [alerts] appears or goes. Not on the DNS loop: it waits
  // for the sender to finish its current send (at most a cancelled socket wait).
  bool reconfigure(ServiceSettings s, std::string& err);

  // Counters (any thread), for logs and tests.
  uint64_t sent() const noexcept { return m_sent.load(); }
  uint64_t failed() const noexcept { return m_failed.load(); }

  // For /status, /metrics and /health (the web thread: takes a short lock, so never the DNS loop).
  struct Facts {
    bool enabled = false;
    uint64_t sent = 0, failed = 0;  // attempts since start
    int64_t queued = -1;            // not sent yet (-1: not counted yet)
    int64_t last_sent_at = 0, last_failed_at = 0;
    std::string last_error;  // of the last failed attempt
  };
  Facts facts() const;

 private:
  struct StoreSide;
  bool start_locked(ServiceSettings s, std::string& err);  // m_ctl held
  void stop_locked() noexcept;                             // m_ctl held
  void run();
  bool round();  // false: the store is gone (shutting down)

  store::StoreThread& m_st;
  ServiceSettings m_s;
  std::shared_ptr<StoreSide> m_side;
  std::thread m_thread;
  std::mutex m_mu;
  std::condition_variable m_cv;
  std::atomic<bool> m_stop{false};
  std::atomic<uint64_t> m_sent{0}, m_failed{0};
  std::atomic<int64_t> m_queued{-1}, m_last_sent_at{0}, m_last_failed_at{0};
  mutable std::mutex m_err_mu;  // m_last_error: the sender writes, the web thread reads
  std::string m_last_error;
  std::mutex m_ctl;  // start / stop / reconfigure, one at a time
  std::atomic<bool> m_running{false};
  int64_t m_started = 0;  // the first start: incidents after it are alerted (kept across reloads)
};

}  // namespace hedge::alerts
