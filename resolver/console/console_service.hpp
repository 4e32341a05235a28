// console/console_service: the console's thread inside `hedge serve`. It owns
// its own libuv loop with the HTTPS listeners (net::HttpListener with a TLS
// StreamFilter), the TLS context, a read-only SQLite connection for reports
// (docs/decisions/0061) and the ConsoleApp. TLS handshakes, password hashing
// and report queries run here, never on the DNS loop. Writes go to the store
// thread (a ConsoleStore created and used only in store-thread jobs); this
// thread waits for them, the DNS loop never does.
//
// Driven by the server: start() (binds, creates or loads the certificate and
// prints its fingerprint; returns once the listeners are up or failed),
// update() on reload, stop() at shutdown (closes every handle, joins).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "console/console_app.hpp"
#include "http/limits.hpp"
#include "net/tls_context.hpp"
#include "store/store_thread.hpp"
#include "util/address.hpp"

namespace hedge::console {

struct ServiceOptions {
  std::vector<util::SockAddr> listen;
  net::TlsSettings tls;
  std::string store_path;
  std::string timezone = "Europe/London";
  http::Limits limits;
  ConsoleSettings settings;
  std::string fake_clock_file;  // [debug] fake_clock_file: tests drive the console's clock too
  // Answers from the filter itself (the web thread's snapshot), asked and
  // waited for on the console thread; unset: not shown.
  std::function<std::string(const std::string& name, const std::string& group)> explain;
  std::function<std::string()> health;
  std::function<std::optional<std::string>(const std::string& by)> run_check;
};

// The console's options from the server's config (listen, certificate and
// where a generated one is kept, store, time zone, groups, exception rules,
// school name). lists_version: the bundle in use, shown on the dashboard.
// Only the settings that reload (no system calls: safe on the DNS loop).
ConsoleSettings console_settings(const config::Config& cfg, const std::string& lists_version);
ServiceOptions service_options(const config::Config& cfg, const std::string& lists_version);

class ConsoleService {
 public:
  explicit ConsoleService(store::StoreThread& st);
  ~ConsoleService();
  ConsoleService(const ConsoleService&) = delete;
  ConsoleService& operator=(const ConsoleService&) = delete;

  bool start(const ServiceOptions& o, std::string& err);
  // Any thread: new settings (groups, rules, lists version) for the next requests.
  void update(ConsoleSettings s);
  void stop() noexcept;
  std::vector<util::SockAddr> addresses() const;
  const std::string& fingerprint() const noexcept { return m_fingerprint; }

 private:
  struct Impl;
  store::StoreThread& m_store;
  std::unique_ptr<Impl> m_impl;
  std::thread m_thread;
  std::string m_fingerprint;
};

}  // namespace hedge::console
