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

#include "cache/answer_cache.hpp"
#include "config/config.hpp"
#include "net/origin.hpp"
#include "net/tcp_listener.hpp"
#include "net/udp_listener.hpp"
#include "pipeline.hpp"
#include "runtime/policy_runtime.hpp"
#include "upstream/forwarder.hpp"
#include "util/metrics.hpp"
#include "util/rate_limiter.hpp"

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

 private:
  bool load(config::Config& cfg, std::string& err);
  bool apply(const config::Config& cfg, const std::shared_ptr<const lists::Bundle>& bundle, std::string& err);
  void reload_failed(const std::string& err);
  void release_off_loop(std::shared_ptr<const Snapshot> old);
  void finish_reload(const config::Config& cfg, const std::shared_ptr<const lists::Bundle>& bundle,
                     const std::string& err);
  void begin_shutdown() noexcept;
  static void on_signal(uv_signal_t* h, int signum) noexcept;
  static void on_async(uv_async_t* h) noexcept;
  static void on_tick(uv_timer_t* t) noexcept;
  int64_t policy_now() const noexcept;
  void read_fake_clock() noexcept;

  uv_loop_t m_loop{};
  bool m_loop_ok = false;
  uv_signal_t m_sigterm{}, m_sigint{}, m_sighup{};
  uv_async_t m_stop{};
  uv_timer_t m_tick{};
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
  int64_t m_fake_now = 0;
  ServeOptions m_opts;
  std::vector<util::SockAddr> m_bound;  // listen addresses fixed at start
  bool m_started = false, m_stopping = false;
  bool m_reloading = false, m_reload_again = false;
  uint64_t m_watchdog_usec = 0;
};

}  // namespace hedge
