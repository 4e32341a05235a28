// web/web_service: the HTTP side of `hedge serve` on the DNS loop: the block
// page listeners ([http] block_page_listen) and the status listeners
// ([http] status_listen: /health, /status, /metrics for status_clients),
// their route tables, and the sampling the status needs (queries per second,
// when an upstream last answered; time sync and the boot status through
// runtime/system_watch, `hedge update`'s state through runtime/update_watch). Everything here runs on the DNS
// loop and only reads loop-owned state or atomics; the review form's write goes to the store thread through
// the Monitor.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/answer_cache.hpp"
#include "http/router.hpp"
#include "monitor/monitor.hpp"
#include "net/http_listener.hpp"
#include "runtime/system_watch.hpp"
#include "snapshot.hpp"
#include "upstream/forwarder.hpp"
#include "util/metrics.hpp"
#include "web/status.hpp"

namespace hedge::web {

struct WebDeps {
  uv_loop_t* loop;
  std::function<std::shared_ptr<const Snapshot>()> snapshot;
  std::function<int64_t()> now;  // policy wall clock (unix s; the test clock when set)
  const util::Metrics& metrics;
  const cache::AnswerCache& cache;
  const upstream::Forwarder& forwarder;
  monitor::Monitor* monitor;  // may be null (no store)
  // Loop thread: `hedge update`'s state as last read off the loop (may be unset or return null).
  std::function<std::shared_ptr<const update::UpdateState>()> update_state = {};
  // The system clock as it reads (the test clock when set); unset: `now`.
  std::function<int64_t()> clock = {};
};

class WebService {
 public:
  explicit WebService(WebDeps d);
  ~WebService();
  WebService(const WebService&) = delete;
  WebService& operator=(const WebService&) = delete;

  // Binds every configured listener; an address that cannot be bound is an
  // error naming it. Absent keys start nothing.
  bool start(const config::Config& cfg, std::string& err);
  void reconfigure(const config::Config& cfg);  // limits (addresses are fixed at start)
  void close() noexcept;

  // Route tables (the block page's includes /report, "Report an unsuitable site").
  http::Router& block_page_routes() noexcept { return m_block_routes; }
  http::Router& status_routes() noexcept { return m_status_routes; }
  std::vector<util::SockAddr> block_page_addresses() const;
  std::vector<util::SockAddr> status_addresses() const;
  StatusInputs status_inputs() const;

 private:
  void block_page(http::Request&& req, const http::Reply& reply);
  void review(http::Request&& req, const http::Reply& reply);
  void report(http::Request&& req, const http::Reply& reply);  // GET/POST /report
  // One hourly budget per client address for both forms (review and report).
  bool within_form_limit(const std::string& ip, int64_t now, uint32_t per_hour);
  bool status_allowed(const http::Request& req) const;
  static void on_tick(uv_timer_t* t) noexcept;

  WebDeps m_d;
  http::Router m_block_routes, m_status_routes;
  std::vector<net::HttpListener*> m_block, m_status;  // owned: close() frees them
  uv_timer_t* m_tick = nullptr;
  runtime::SystemWatch* m_system = nullptr;  // time sync and boot status, read off the loop
  int64_t m_started = 0;
  int64_t m_last_answer_ms = 0;                        // when the service started (no answer yet)
  std::deque<std::pair<int64_t, uint64_t>> m_samples;  // (loop ms, total queries), every 5 s, 15 min
  // Review and report form rate limit: client address -> (hour, count); cleared when large.
  std::unordered_map<std::string, std::pair<int64_t, uint32_t>> m_reviews;
};

}  // namespace hedge::web
