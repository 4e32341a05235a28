// web/web_service: the HTTP side of `hedge serve` on its own thread with its
// own libuv loop: the block page listeners ([http] block_page_listen) and the
// status listeners ([http] status_listen: /health, /status, /metrics for
// status_clients), their route tables, the review and report forms' hourly
// budget, and the system facts (time sync, the boot status) the status shows.
// A flood of HTTP requests is parsed, decided and rendered here, so it costs
// the DNS loop nothing (docs/decisions/0069).
//
// What it reads from the DNS side, and how:
// - the current snapshot (config, policy, bundle: immutable): the server
//   hands each new one over with set_snapshot(); lookups in a bundle are
//   safe from any thread;
// - the policy clock: WebDeps::now, safe from any thread (atomics);
// - the counters for /health, /status and /metrics: fetch_status posts to
//   the DNS loop, which copies them (web/status_source) and posts the copy
//   back; requests that arrive while a copy is on its way share it;
// - review requests: add_review posts the row to the DNS loop's Monitor,
//   which hands it to the store thread.
//
// Driven by the server: start() (binds; returns once the listeners are up or
// failed), set_snapshot() and reconfigure() on reload, stop() at shutdown
// (closes every handle, joins). The object outlives stop(): functions posted
// to its inbox after that are refused.
#pragma once

#include <uv.h>

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/router.hpp"
#include "net/http_listener.hpp"
#include "net/loop_inbox.hpp"
#include "policy/filtering_check.hpp"
#include "runtime/system_watch.hpp"
#include "snapshot.hpp"
#include "store/console_store.hpp"
#include "store/event_store.hpp"
#include "web/status.hpp"

namespace hedge::web {

struct WebDeps {
  // Any thread: the policy wall clock (unix s; the test clock when set).
  std::function<int64_t()> now;
  // Web thread: ask the DNS loop for its part of the status; `done` is
  // called on the DNS loop with the copy (null if it could not be made).
  // False: the DNS loop is shutting down.
  std::function<bool(std::function<void(std::shared_ptr<StatusInputs>)> done)> fetch_status;
  // Web thread: store a review request (posted to the DNS loop's Monitor). Unset: no store.
  std::function<void(store::ReviewRow)> add_review;
  // Web thread: the alert sender's counters (takes its short lock; never called on the DNS loop).
  std::function<std::optional<alerts::AlertService::Facts>()> alert_facts;
  // Web thread: record a built-in filtering check (posted to the store thread). Unset: not recorded.
  std::function<void(store::Check)> record_check;
};

class WebService {
 public:
  explicit WebService(WebDeps d);
  ~WebService();
  WebService(const WebService&) = delete;
  WebService& operator=(const WebService&) = delete;

  // Starts the thread and binds every configured listener; an address that
  // cannot be bound is an error naming it. Absent keys start no listener; the
  // thread always runs (the built-in filtering check, the console's questions).
  bool start(const config::Config& cfg, std::shared_ptr<const Snapshot> snap, std::string& err);
  // Any thread: the snapshot for the next requests.
  void set_snapshot(std::shared_ptr<const Snapshot> snap);
  // Any thread: limits (addresses are fixed at start).
  void reconfigure(const config::Config& cfg);
  // Closes every listener and joins the thread (any thread but the web thread).
  void stop() noexcept;

  // Any thread, after start().
  std::vector<util::SockAddr> block_page_addresses() const;
  std::vector<util::SockAddr> status_addresses() const;

  // For the console's thread (any thread but the web thread and the DNS
  // loop, which would wait for themselves): answers computed on the web
  // thread with the current snapshot, waiting at most wait_ms.
  // "blocked (gambling) for pupils", "allowed for staff", ...
  std::string decision_text(const std::string& name, const std::string& group, int wait_ms = 1000);
  // "ok" or the /health reasons, one per line.
  std::string health_text(int wait_ms = 3000);
  // Runs the built-in filtering check now and records it as done by `by`.
  std::optional<policy::CheckResult> run_check(const std::string& by, int wait_ms = 5000);

 private:
  using Render = std::function<http::Response(const StatusInputs&)>;
  using Waiter = std::function<void(const StatusInputs*)>;  // null: no status (shutting down, out of memory)
  void run_thread(const config::Config& cfg, std::promise<std::string>& ready);
  void close_on_thread() noexcept;
  void block_page(http::Request&& req, const http::Reply& reply);
  void review(http::Request&& req, const http::Reply& reply);
  void report(http::Request&& req, const http::Reply& reply);  // GET/POST /report
  // One hourly budget per client address for both forms (review and report).
  bool within_form_limit(const std::string& ip, int64_t now, uint32_t per_hour);
  bool status_allowed(const http::Request& req) const;
  // Status routes: render once the DNS loop's copy arrives.
  void with_status(Waiter w);
  void status_arrived(const std::shared_ptr<StatusInputs>& copy);
  // Re-runs the built-in check (at most once a minute for the same snapshot
  // unless `record`); with `record`, stores the result as done by `by`.
  void refresh_check(bool record, const std::string& by) noexcept;  // logs instead of throwing
  void run_check_now(bool record, const std::string& by);
  // The local day (days since 1970, local wall time) once it is past 02:00, else -1.
  int64_t nightly_day() const noexcept;
  static void on_check_timer(uv_timer_t* t) noexcept;

  WebDeps m_d;
  std::thread m_thread;
  uv_loop_t m_loop{};
  net::LoopInbox m_inbox;  // anyone -> the web thread
  // Everything below is the web thread's own.
  std::shared_ptr<const Snapshot> m_snap;
  http::Router m_block_routes, m_status_routes;
  std::vector<net::HttpListener*> m_block, m_status;   // owned: closed in close_on_thread
  runtime::SystemWatch* m_system = nullptr;            // time sync and boot status, read off the loop
  std::vector<Waiter> m_waiting;                       // status requests waiting for the copy
  std::shared_ptr<const policy::CheckResult> m_check;  // the last built-in filtering check
  int64_t m_check_at = 0;
  const Snapshot* m_check_snap = nullptr;  // the snapshot it ran against (compared, never dereferenced)
  int64_t m_recorded_day = -1;             // local day of the last nightly record
  bool m_check_failed_logged = false;
  uv_timer_t* m_check_timer = nullptr;
  bool m_fetching = false;
  // Review and report form rate limit: client address -> (hour, count); cleared when large.
  std::unordered_map<std::string, std::pair<int64_t, uint32_t>> m_reviews;
  // Bound addresses, for other threads (tests, the server's log).
  mutable std::mutex m_bound_mu;
  std::vector<util::SockAddr> m_block_bound, m_status_bound;
};

}  // namespace hedge::web
