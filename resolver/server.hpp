// server: owns the one libuv loop and every handle on it (listeners,
// signals, timers, upstream tries through the forwarder), the current
// snapshot, the cache and the counters. Nothing else runs the loop.
//
// Driven by: start() (bind + first snapshot), run() (until SIGTERM/SIGINT
// or request_stop() from any thread), reload() on SIGHUP. After run()
// returns every handle is closed and the loop closed (checked).
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "alerts/alert_service.hpp"
#include "cache/answer_cache.hpp"
#include "config/config.hpp"
#include "console/console_service.hpp"
#include "monitor/monitor.hpp"
#include "net/control_socket.hpp"
#include "net/loop_inbox.hpp"
#include "net/origin.hpp"
#include "net/tcp_listener.hpp"
#include "net/udp_listener.hpp"
#include "pipeline.hpp"
#include "runtime/exception_feed.hpp"
#include "runtime/policy_runtime.hpp"
#include "runtime/update_watch.hpp"
#include "store/store_thread.hpp"
#include "upstream/forwarder.hpp"
#include "util/metrics.hpp"
#include "util/rate_limiter.hpp"
#include "web/status_source.hpp"
#include "web/web_service.hpp"

namespace hedge {

struct ServeOptions {
  std::string config_path;
  std::string lists_override;                     // --lists DIR
  std::vector<util::SockAddr> listen_override;    // --listen ADDR
  std::vector<util::SockAddr> upstream_override;  // --upstream ADDR
};

// The pipeline's way to the upstream servers.
class ForwarderPort final : public UpstreamPort {
 public:
  explicit ForwarderPort(upstream::Forwarder& f) : m_f(f) {}
  void start(upstream::Resolution& r, std::span<const uint8_t> query) noexcept override {
    m_f.start(r, query);
  }

 private:
  upstream::Forwarder& m_f;
};

class Server final : public net::Responder {
 public:
  Server();
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads config (with overrides), opens lists, binds every listener.
  bool start(const ServeOptions& opts, std::string& err);
  // For tests: start from an already-loaded config.
  bool start(const config::Config& cfg, std::string& err);
  // Runs until stopped. Returns 0 when every handle closed cleanly.
  int run();
  // Thread-safe: asks the loop to stop.
  void request_stop() noexcept;
  // Re-reads config and lists; keeps the old snapshot on any error. The
  // bundle is opened and hash-checked on libuv's thread pool so queries keep
  // flowing; the swap happens on the loop. A SIGHUP during a reload queues
  // one more. Returns false if the reload failed before going to the pool.
  bool reload();

  void deliver(const net::Origin& o, std::span<const uint8_t> answer) noexcept override;

  const util::Metrics& metrics() const noexcept { return m_metrics; }
  std::vector<util::SockAddr> udp_addresses() const;
  std::vector<util::SockAddr> tcp_addresses() const;
  const cache::AnswerCache& cache() const noexcept { return m_cache; }
  const upstream::Forwarder& forwarder() const noexcept { return m_forwarder; }
  bool udp_batching() const noexcept;
  // The safeguarding console (server_console.cpp): its own thread and loop.
  console::ConsoleService* console() noexcept { return m_console.get(); }
  // The block page and status listeners (their own thread), the monitoring log (server_web.cpp).
  web::WebService* web() noexcept { return m_web.get(); }
  monitor::Monitor* monitor() noexcept { return m_monitor.get(); }
  store::StoreThread& store_thread() noexcept { return m_store; }

 private:
  bool load(config::Config& cfg, std::string& err);
  bool apply(const config::Config& cfg, const std::shared_ptr<const lists::Bundle>& bundle, std::string& err);
  void reload_failed(const std::string& err);
  void release_off_loop(std::shared_ptr<const Snapshot> old);
  void finish_reload(const config::Config& cfg, const std::shared_ptr<const lists::Bundle>& bundle,
                     const std::string& err, double open_ms = 0, double paced_ms = 0);
  void begin_shutdown() noexcept;
  bool start_web(const config::Config& cfg, std::string& err);  // server_web.cpp
  static void on_signal(uv_signal_t* h, int signum) noexcept;
  static void on_async(uv_async_t* h) noexcept;
  static void on_fake_clock(uv_timer_t* t) noexcept;
  static void on_watchdog(uv_timer_t* t) noexcept;
  static void on_store_dir(uv_fs_event_t* h, const char* file, int events, int status) noexcept;
  static void on_store_rearm(uv_timer_t* t) noexcept;
  int64_t policy_now() const noexcept;
  void read_fake_clock() noexcept;
  void arm_fake_clock() noexcept;
  bool open_store(const config::Config& cfg, std::vector<policy::Exception>& first);
  void watch_store() noexcept;
  void on_exceptions(runtime::ExceptionSet set) noexcept;
  void on_lists_broken(const lists::Bundle& b) noexcept;
  void watch_bundle(const lists::Bundle& b) noexcept;
  static void on_bundle_dir(uv_fs_event_t* h, const char* file, int events, int status) noexcept;

  uv_loop_t m_loop{};
  bool m_loop_ok = false;
  uv_signal_t m_sigterm{}, m_sigint{}, m_sighup{};
  uv_async_t m_stop{};
  // No periodic tick: the loop wakes only for work (queries, a change in the
  // store's directory, an armed timeout); the watchdog and test-clock timers
  // exist only when systemd's watchdog / [debug] fake_clock_file are on.
  uv_timer_t m_watchdog{};
  uv_timer_t m_fake_clock_timer{};
  uv_fs_event_t m_store_watch{};
  // After a store-directory event the watch is paused for kStorePauseMs: the
  // monitoring store's own commits write the same -wal file hundreds of times
  // a second in a flood, and each write would otherwise wake the DNS loop.
  uv_timer_t m_store_rearm{};
  std::string m_store_dir;
  static constexpr uint64_t kStorePauseMs = 100;
  uv_fs_event_t* m_bundle_watch = nullptr;  // the current bundle's directory (freed in its close callback)
  std::string m_store_file;                 // basename of [store] path (events for it and its -wal)
  net::LoopInbox m_inbox;                   // store thread -> loop
  std::unique_ptr<runtime::ExceptionFeed> m_feed;  // store-thread side of exceptions
  util::Metrics m_metrics;
  cache::AnswerCache m_cache;
  util::RateLimiter m_limiter;
  upstream::Forwarder m_forwarder;
  ForwarderPort m_upstream;
  Pipeline m_pipeline;
  std::vector<net::UdpListener*> m_udp;  // owned: closed via close(), freed in close callbacks
  std::vector<net::TcpListener*> m_tcp;
  runtime::PolicyRuntime m_policy;
  bool m_policy_started = false;
  std::string m_fake_clock_file;  // [debug] fake_clock_file (tests)
  // Written on the loop, read by the web thread's policy clock too.
  std::atomic<int64_t> m_fake_now{0};
  std::atomic<int64_t> m_trusted_floor{0};  // the update state's trusted time (runtime/update_watch)
  ServeOptions m_opts;
  std::vector<util::SockAddr> m_bound;  // listen addresses fixed at start
  bool m_started = false, m_stopping = false;
  std::atomic<bool> m_reload_hurry{false};  // set at shutdown: a paced reload finishes unpaced
  bool m_reloading = false, m_reload_again = false;
  uint64_t m_watchdog_usec = 0;
  bool start_console(const config::Config& cfg, std::string& err);
  static alerts::ServiceSettings alert_settings(const config::Config& cfg);  // server_console.cpp
  void reload_alerts(const config::Config& cfg);                             // on the thread pool
  std::string lists_version() const;

 public:
  // For tests: store checks the feed ran (each reads SQLite on the store thread).
  uint64_t store_checks() const noexcept { return m_feed ? m_feed->checks() : 0; }
  // Health state (issue 8's /health turns this into 503): the bundle in use is damaged.
  bool lists_broken() const noexcept { return m_metrics.lists_broken; }

 private:
  // Control socket (`hedge update` asks for a reload and waits for the result).
  net::ControlSocket* m_control = nullptr;
  std::vector<net::ControlSocket::Reply> m_reload_waiters, m_next_waiters;
  void start_control(const config::Config& cfg);
  void on_control(std::string_view cmd, net::ControlSocket::Reply reply);
  void answer_waiters(const std::string& line);
  // `hedge update`'s state file, read off the loop (for /status and the policy clock).
  runtime::UpdateWatch* m_update_watch = nullptr;

 public:
  // Loop thread: the last update state read (null before the first read or with no file).
  std::shared_ptr<const update::UpdateState> update_state() const noexcept {
    return m_update_watch ? m_update_watch->state() : nullptr;
  }

 private:
  // Declared last: destroyed first, while the loop and the store thread still exist.
  store::StoreThread m_store;  // the one SQLite thread (monitoring log, review requests)
  std::unique_ptr<monitor::Monitor> m_monitor;
  std::unique_ptr<web::StatusSource> m_status_source;  // the DNS loop's half of /status
  std::unique_ptr<web::WebService> m_web;              // its own thread; stopped in begin_shutdown
  std::unique_ptr<console::ConsoleService> m_console;  // destroyed before m_store; stopped in run()
  std::unique_ptr<alerts::AlertService> m_alerts;      // [alerts] sender thread; stopped in run()
  std::atomic<bool> m_alerts_ready{false};             // m_alerts is set (the web thread reads it after)
};

}  // namespace hedge
