// server: loop ownership, start, reload, shutdown.
#include "server.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <system_error>
#include <thread>

#include "util/cpu_quota.hpp"
#include "util/log.hpp"
#include "util/pacer.hpp"
#include "util/thread.hpp"
#ifdef HEDGE_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace hedge {

namespace {
void notify(const char* state) noexcept {
#ifdef HEDGE_HAVE_SYSTEMD
  sd_notify(0, state);
#else
  (void)state;
#endif
}
net::TcpLimits tcp_limits(const config::ServerConfig& s) {
  net::TcpLimits tl;
  tl.idle_timeout_ms = s.tcp_idle_timeout_ms;
  tl.max_connections = s.tcp_max_connections;
  tl.max_queries = s.tcp_max_queries_per_connection;
  tl.max_inflight = s.tcp_max_inflight_per_connection;
  tl.read_timeout_ms = s.tcp_read_timeout_ms;
  tl.max_per_client = s.tcp_max_connections_per_client;
  tl.check_allow = true;
  tl.allow = s.allow_clients;
  return tl;
}
}  // namespace

Server::Server()
    : m_cache(64u << 20, 86400),
      m_forwarder((uv_loop_init(&m_loop), &m_loop), m_metrics),
      m_upstream(m_forwarder),
      m_pipeline(Pipeline::Deps{m_cache, m_upstream, m_metrics, m_limiter, *this,
                                [this] {
                                  return Clock{static_cast<int64_t>(uv_now(&m_loop)), policy_now()};
                                },
                                nullptr, [this](const lists::Bundle& b) { on_lists_broken(b); }}) {
  m_loop_ok = true;
}

Server::~Server() {
  if (m_loop_ok) {
    // run() normally closed everything; if start() failed part-way, close what exists.
    if (!m_stopping) begin_shutdown();
    uv_run(&m_loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&m_loop) != 0) LOG_ERROR("event loop closed with handles still open");
  }
}

std::vector<util::SockAddr> Server::udp_addresses() const {
  std::vector<util::SockAddr> v;
  for (auto* l : m_udp) v.push_back(l->local());
  return v;
}

std::vector<util::SockAddr> Server::tcp_addresses() const {
  std::vector<util::SockAddr> v;
  for (auto* l : m_tcp) v.push_back(l->local());
  return v;
}

bool Server::udp_batching() const noexcept {
  return !m_udp.empty() && m_udp.front()->batching();
}

bool Server::load(config::Config& cfg, std::string& err) {
  util::ConfigErrors errs(m_opts.config_path);
  const bool ok = config::load_config(m_opts.config_path, cfg, errs);
  // Overrides from the command line replace the file's values (make run, bench, tests).
  if (!m_opts.lists_override.empty()) cfg.lists.bundle = m_opts.lists_override;
  if (!m_opts.listen_override.empty()) cfg.server.listen = m_opts.listen_override;
  if (!m_opts.upstream_override.empty()) {
    cfg.upstream.servers = m_opts.upstream_override;
    cfg.upstream.from_resolv_conf = false;
  }
  bool only_upstream_missing = !ok && !m_opts.upstream_override.empty();
  for (const auto& e : errs.list()) {
    if (e.key != "upstream.servers") only_upstream_missing = false;
  }
  if (!ok && !only_upstream_missing) {
    err.clear();
    for (const auto& e : errs.list()) err += (err.empty() ? "" : "\n") + e.str();
    return false;
  }
  return true;
}

int64_t Server::policy_now() const noexcept {
  // Any thread (the web thread's block page too): atomics only.
  if (const int64_t fake = m_fake_now.load(std::memory_order_relaxed)) return fake;
  // Never earlier than the newest time a verified bundle vouched for: a Pi
  // without a real-time clock boots in 1970 until NTP answers.
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t trusted = m_trusted_floor.load(std::memory_order_relaxed);
  return now > trusted ? now : trusted;
}

void Server::read_fake_clock() noexcept {
  if (m_fake_clock_file.empty()) return;
  std::FILE* f = std::fopen(m_fake_clock_file.c_str(), "r");
  if (!f) return;
  char buf[32] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  char* end = nullptr;
  const long long v = std::strtoll(buf, &end, 10);
  if (n > 0 && end != buf && v > 0) m_fake_now = v;
}

bool Server::apply(const config::Config& cfg, const std::shared_ptr<const lists::Bundle>& bundle,
                   std::string& err) {
  m_fake_clock_file = cfg.fake_clock_file;
  if (m_fake_clock_file.empty()) m_fake_now = 0;
  read_fake_clock();
  // Policy (groups, schedules, exceptions) is compiled against this bundle;
  // on any error the runtime keeps its previous snapshot and so do we.
  util::ConfigErrors errs(cfg.path);
  bool ok = false;
  if (m_policy_started) {
    ok = m_policy.reload(cfg.policy, bundle, errs);  // the exceptions it holds: no store read here
  } else {
    std::vector<policy::Exception> first;
    open_store(cfg, first);
    ok = m_policy.start(cfg.policy, bundle, std::move(first), errs);
  }
  if (!ok) {
    for (const auto& e : errs.list()) err += (err.empty() ? "" : "\n") + e.str();
    if (err.empty()) err = cfg.path + ": policy could not be built";
    return false;
  }
  m_policy_started = true;
  for (const auto& w : errs.warnings()) LOG_WARN("%s", w.str().c_str());
  if (m_started) arm_fake_clock();
  auto snap = make_snapshot(cfg, bundle, m_policy.snapshot());
  log::Level lvl;
  if (log::parse_level(cfg.log_level.c_str(), lvl)) log::set_level(lvl);
  upstream::Settings us;
  us.servers = cfg.upstream.servers;
  us.timeout_ms = cfg.upstream.timeout_ms;
  us.attempts = cfg.upstream.attempts;
  us.budget_ms = cfg.upstream.budget_ms;
  us.ttl = {cfg.cache.min_ttl, cfg.cache.max_ttl, cfg.cache.max_negative_ttl};
  m_forwarder.configure(us);
  m_limiter.configure(cfg.server.rate_limit_qps, cfg.server.rate_limit_burst,
                      cfg.server.rate_limit_prefix_qps, cfg.server.rate_limit_prefix_burst);
  if (m_web) m_web->reconfigure(cfg);
  if (m_monitor) m_monitor->reconfigure(cfg);
  if (m_console) m_console->update(console::console_settings(cfg, std::to_string(bundle->version())));
  reload_alerts(cfg);  // [alerts] reloads too (the sender restarts off the loop when it changed)
  m_cache.set_limits(std::size_t{cfg.cache.size_mb} << 20, cfg.cache.serve_stale_s);
  const net::TcpLimits tl = tcp_limits(cfg.server);
  for (auto* t : m_tcp) t->set_limits(tl);
  // Answers cached before a list change may now be for blocked names; the
  // decision runs before the cache, so only CNAME chains need care, and
  // those are re-checked on every hit. The cache survives a reload.
  std::shared_ptr<const Snapshot> old = m_pipeline.snapshot();
  m_metrics.lists_broken = snap->bundle->broken();
  if (m_started && (!old || old->bundle != snap->bundle)) watch_bundle(*snap->bundle);
  if (m_web) m_web->set_snapshot(snap);
  m_pipeline.set_snapshot(std::move(snap));
  release_off_loop(std::move(old));
  return true;
}

void Server::release_off_loop(std::shared_ptr<const Snapshot> old) {
  // Dropping the last reference to a bundle unmaps tens of MB of touched
  // pages: do it on the thread pool so the loop does not stall. (Queries in
  // flight may still hold references; theirs drop wherever they finish.)
  if (!old || !m_started || m_stopping) return;
  struct Release {
    uv_work_t req{};
    std::shared_ptr<const Snapshot> snap;
  };
  auto* r = new Release;
  r->snap = std::move(old);
  r->req.data = r;
  // In the idle class too: tearing down 60 MB of page tables is CPU the loop,
  // on a shared core, must not have to wait behind (docs/decisions/0073, 0076).
  const int rc = uv_queue_work(
      &m_loop, &r->req,
      [](uv_work_t* req) {
        util::run_lowered("hedge-release", util::Lowered::idle_class,
                          [req](bool) { static_cast<Release*>(req->data)->snap.reset(); });
      },
      [](uv_work_t* req, int) { delete static_cast<Release*>(req->data); });
  if (rc != 0) delete r;  // released here instead
}

bool Server::start(const ServeOptions& opts, std::string& err) {
  m_opts = opts;
  config::Config cfg;
  if (!load(cfg, err)) return false;
  return start(cfg, err);
}

bool Server::start(const config::Config& cfg, std::string& err) {
  // Before any background thread paces itself (util/cpu_quota).
  if (const util::CpuQuota q = util::read_cpu_quota(); q.cores > 0) {
    util::Pacer::set_quota_scale(q.cores);
    LOG_INFO("CPU quota: %.2f of a core (%s); background work is paced to its share of that", q.cores,
             q.where.c_str());
  } else {
    util::Pacer::set_quota_scale(1.0);
  }
  auto bundle = open_bundle(cfg, err);
  if (!bundle || !apply(cfg, bundle, err)) return false;
  if (cfg.lists.bundle.empty()) LOG_WARN("no [lists] bundle configured: nothing will be blocked");
  if (cfg.upstream.from_resolv_conf && !cfg.upstream.servers.empty())
    LOG_INFO("upstream: %s (from /etc/resolv.conf)", cfg.upstream.servers.front().str().c_str());
  const net::TcpLimits tl = tcp_limits(cfg.server);
  uint32_t index = 0;
  for (const auto& addr : cfg.server.listen) {
    // TCP goes on the same port as UDP. With port 0 (tests) the kernel picks
    // the UDP port, which TCP may already use elsewhere: try a few times.
    net::UdpListener* u = nullptr;
    net::TcpListener* t = nullptr;
    for (int attempt = 0; attempt < (addr.port() == 0 ? 20 : 1) && !t; ++attempt) {
      u = net::UdpListener::start(&m_loop, addr, index, m_pipeline, m_metrics, err);
      if (!u) return false;
      t = net::TcpListener::start(&m_loop, u->local(), index, m_pipeline, m_metrics, tl, err);
      if (!t) {
        u->close();
        u = nullptr;
      }
    }
    if (!t) return false;
    m_udp.push_back(u);
    m_tcp.push_back(t);
    ++index;
    LOG_INFO("listening on %s (udp%s, tcp)", u->local().str().c_str(), u->batching() ? " recvmmsg" : "");
  }
  m_bound = cfg.server.listen;
  if (!start_web(cfg, err)) return false;
  if (!start_console(cfg, err)) return false;
  uv_signal_init(&m_loop, &m_sigterm);
  uv_signal_init(&m_loop, &m_sigint);
  uv_signal_init(&m_loop, &m_sighup);
  m_sigterm.data = m_sigint.data = m_sighup.data = this;
  uv_signal_start(&m_sigterm, &Server::on_signal, SIGTERM);
  uv_signal_start(&m_sigint, &Server::on_signal, SIGINT);
  uv_signal_start(&m_sighup, &Server::on_signal, SIGHUP);
  uv_async_init(&m_loop, &m_stop, &Server::on_async);
  m_stop.data = this;
  uv_timer_init(&m_loop, &m_watchdog);
  uv_timer_init(&m_loop, &m_fake_clock_timer);
  uv_timer_init(&m_loop, &m_store_rearm);
  m_watchdog.data = m_fake_clock_timer.data = m_store_rearm.data = this;
  start_control(cfg);
  m_update_watch = runtime::UpdateWatch::start(
      &m_loop, config::update_state_path(cfg.update, cfg.lists.bundle), 10'000, &m_trusted_floor);
#ifdef HEDGE_HAVE_SYSTEMD
  if (sd_watchdog_enabled(0, &m_watchdog_usec) <= 0) m_watchdog_usec = 0;
#endif
  if (m_watchdog_usec) {
    // Half of WatchdogSec, as sd_watchdog_enabled(3) advises; no timer at all without it.
    const uint64_t every_ms = std::max<uint64_t>(m_watchdog_usec / 2000, 1);
    uv_timer_start(&m_watchdog, &Server::on_watchdog, every_ms, every_ms);
  }
  m_started = true;
  arm_fake_clock();
  watch_store();
  watch_bundle(*m_pipeline.snapshot()->bundle);
  const auto& b = *m_pipeline.snapshot()->bundle;
  LOG_INFO("lists: %s version %llu, %llu entries in %zu categories",
           b.dir().empty() ? "(none)" : b.dir().c_str(), static_cast<unsigned long long>(b.version()),
           static_cast<unsigned long long>(b.entries()), b.categories().size());
  notify("READY=1");
  return true;
}

int Server::run() {
  if (!m_started) return 1;
  // After every thread of start() exists (a thread inherits its creator's
  // slice): only the loop asks for the short one (util/thread.hpp).
  if (!util::ask_short_slice_for_this_thread()) LOG_DEBUG("the DNS loop keeps the default time slice");
  uv_run(&m_loop, UV_RUN_DEFAULT);
  if (m_console) m_console->stop();  // joins the console thread (the DNS loop has ended)
  if (m_alerts) m_alerts->stop();    // joins the alert sender (before the store it uses stops)
  m_store.stop();                    // writes the last monitoring batch
  // The loop only stops when every handle closed (begin_shutdown).
  const int rc = uv_loop_close(&m_loop);
  m_loop_ok = rc != 0;  // if it failed, the destructor retries
  if (rc != 0) {
    LOG_ERROR("event loop still has open handles at exit");
    return 1;
  }
  return 0;
}

void Server::request_stop() noexcept {
  if (m_started) uv_async_send(&m_stop);
}

void Server::on_async(uv_async_t* h) noexcept {
  static_cast<Server*>(h->data)->begin_shutdown();
}

void Server::begin_shutdown() noexcept {
  if (m_stopping) return;
  m_stopping = true;
  m_reload_hurry.store(true, std::memory_order_relaxed);
  notify("STOPPING=1");
  for (auto* u : m_udp) u->close();
  for (auto* t : m_tcp) t->close();
  m_udp.clear();
  m_tcp.clear();
  m_forwarder.close();
  m_pipeline.abandon_pending();
  answer_waiters("error the resolver is shutting down");
  m_next_waiters.clear();
  if (m_control) m_control->close();
  m_control = nullptr;
  if (m_update_watch) m_update_watch->close();
  m_update_watch = nullptr;
  // Joins the web thread (it never waits for this loop, so this is quick);
  // then nothing posts status requests or review rows to the inbox.
  if (m_web) m_web->stop();
  if (m_status_source) m_status_source->close();
  m_pipeline.set_monitor(nullptr);
  if (m_monitor) m_monitor->close();
  // The store thread finishes its current job (shutdown may wait for it) and
  // delivers nothing after this; then the inbox can close.
  if (m_feed) m_feed->close_and_wait();
  m_inbox.close();
  if (m_bundle_watch) {
    uv_close(reinterpret_cast<uv_handle_t*>(m_bundle_watch),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_fs_event_t*>(h); });
    m_bundle_watch = nullptr;
  }
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&m_sigterm), reinterpret_cast<uv_handle_t*>(&m_sigint),
        reinterpret_cast<uv_handle_t*>(&m_sighup), reinterpret_cast<uv_handle_t*>(&m_stop),
        reinterpret_cast<uv_handle_t*>(&m_watchdog), reinterpret_cast<uv_handle_t*>(&m_fake_clock_timer),
        reinterpret_cast<uv_handle_t*>(&m_store_watch), reinterpret_cast<uv_handle_t*>(&m_store_rearm)}) {
    if (h->loop && !uv_is_closing(h)) uv_close(h, nullptr);
  }
}

void Server::on_signal(uv_signal_t* h, int signum) noexcept {
  auto* self = static_cast<Server*>(h->data);
  if (signum == SIGHUP) {
    self->reload();
    return;
  }
  LOG_INFO("signal %d: shutting down", signum);
  self->begin_shutdown();
}

namespace {
struct ReloadWork {
  uv_work_t req{};
  Server* server = nullptr;
  config::Config cfg;
  std::vector<util::SockAddr> bound;
  bool cfg_ok = false, listen_changed = false;
  std::shared_ptr<const lists::Bundle> bundle;
  std::string err;
  double open_ms = 0;   // opening and verifying the bundle, off the loop
  double paced_ms = 0;  // of which slept to stay within lists.reload_cpu_percent
  const std::atomic<bool>* hurry = nullptr;
};

// The reload's bundle checks run on a thread of their own in the idle
// scheduling class (docs/decisions/0076; a pool thread cannot raise its
// priority back afterwards without CAP_SYS_NICE) and paced to
// lists.reload_cpu_percent of a core: on a shared core, or under a CPU quota
// that every thread of the process spends, the DNS loop keeps the CPU it
// needs while 60 MB are hashed (docs/decisions/0073).
void open_paced(ReloadWork& w) {
  util::run_lowered("hedge-reload", util::Lowered::idle_class, [&w](bool) {
    util::Pacer pace(w.cfg.lists.reload_cpu_percent, w.hurry);
    try {
      w.bundle = open_bundle(w.cfg, w.err, &pace);
    } catch (const std::exception& e) {
      w.bundle = nullptr;
      w.err = std::string("opening the bundle: ") + e.what();
    }
    w.paced_ms = pace.slept_ms();
  });
}
}  // namespace

bool Server::reload() {
  if (m_stopping) return false;
  if (m_reloading) {
    m_reload_again = true;  // one more after this one, with whatever is on disk then
    return true;
  }
  notify("RELOADING=1");
  auto work = std::make_unique<ReloadWork>();
  work->server = this;
  work->hurry = &m_reload_hurry;
  if (m_opts.config_path.empty()) {
    reload_failed("no config file to reload");
    return false;
  }
  work->bound = m_bound;
  work->req.data = work.get();
  const int rc = uv_queue_work(
      &m_loop, &work->req,
      [](uv_work_t* req) {
        // Thread pool: the config file and the bundle are read and verified
        // here, never on the loop. Touches nothing but the files, this work
        // item and the server's fixed start options (m_opts).
        auto* w = static_cast<ReloadWork*>(req->data);
        try {
          w->cfg_ok = w->server->load(w->cfg, w->err);
        } catch (const std::exception& e) {
          w->cfg_ok = false;
          w->err = std::string("reading the config: ") + e.what();
        }
        if (!w->cfg_ok) return;
        w->listen_changed = w->cfg.server.listen.size() != w->bound.size();
        w->cfg.server.listen = w->bound;
        const auto t0 = std::chrono::steady_clock::now();
        open_paced(*w);
        w->open_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      },
      [](uv_work_t* req, int status) {
        std::unique_ptr<ReloadWork> w(static_cast<ReloadWork*>(req->data));
        Server* self = w->server;
        self->m_reloading = false;
        if (status == UV_ECANCELED || self->m_stopping) return;
        if (!w->cfg_ok) {
          self->reload_failed(w->err);
        } else {
          if (w->listen_changed)
            LOG_WARN("reload: server.listen changed; listen addresses only change on restart");
          self->finish_reload(w->cfg, w->bundle, w->err, w->open_ms, w->paced_ms);
        }
        if (self->m_reload_again) {
          self->m_reload_again = false;
          self->m_reload_waiters = std::move(self->m_next_waiters);
          self->m_next_waiters.clear();
          self->reload();
        }
      });
  if (rc != 0) {
    reload_failed(std::string("cannot start the reload: ") + uv_strerror(rc));
    return false;
  }
  m_reloading = true;
  static_cast<void>(work.release());  // owned by the after-work callback now
  return true;
}

void Server::finish_reload(const config::Config& cfg, const std::shared_ptr<const lists::Bundle>& bundle,
                           const std::string& err, double open_ms, double paced_ms) {
  std::string e = err;
  bool ok = bundle != nullptr;
  if (!ok && e.empty()) e = "the bundle could not be opened";
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (ok) ok = apply(cfg, bundle, e);
  } catch (const std::exception& ex) {
    ok = false;
    e = std::string("building the new snapshot: ") + ex.what();
  }
  if (!ok) {
    reload_failed(e);
    return;
  }
  ++m_metrics.reloads_ok;
  const auto& b = *m_pipeline.snapshot()->bundle;
  // Both figures for the technician and the benchmarks: the first is off the
  // loop (DNS keeps answering), the second is how long the loop was busy.
  const double swap_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  LOG_INFO(
      "reloaded: lists version %llu, %llu entries (opened and verified in %.0f ms off the loop, %.0f ms of "
      "it paused to leave the CPU to DNS; %.2f ms on it)",
      static_cast<unsigned long long>(b.version()), static_cast<unsigned long long>(b.entries()), open_ms,
      paced_ms, swap_ms);
  answer_waiters("ok " + std::to_string(b.version()));
  notify("READY=1");
}

void Server::reload_failed(const std::string& err) {
  ++m_metrics.reloads_failed;
  std::string line;
  for (char c : err + "\n") {
    if (c != '\n') {
      line += c;
      continue;
    }
    if (!line.empty()) LOG_ERROR("reload refused, keeping the previous config and lists: %s", line.c_str());
    line.clear();
  }
  std::string one = err.substr(0, err.find('\n'));
  answer_waiters("error " + one);
  notify("READY=1");
}

void Server::start_control(const config::Config& cfg) {
  const std::string path = config::control_socket_path(cfg.update, cfg.lists.bundle);
  if (path.empty()) return;
  std::string err;
  m_control = net::ControlSocket::start(
      &m_loop, path,
      [this](std::string_view cmd, net::ControlSocket::Reply reply) { on_control(cmd, std::move(reply)); },
      err);
  if (!m_control)
    LOG_WARN("control socket unavailable (hedge update cannot ask for a reload; SIGHUP still works): %s",
             err.c_str());
}

void Server::on_control(std::string_view cmd, net::ControlSocket::Reply reply) {
  if (cmd != "reload") {
    reply("error unknown command (expected: reload)");
    return;
  }
  // A reload already running may have read the disk before the caller's
  // change: the caller waits for the next one, which reads it afresh.
  if (m_reloading) {
    m_next_waiters.push_back(std::move(reply));
    m_reload_again = true;
    return;
  }
  m_reload_waiters.push_back(std::move(reply));
  reload();
}

void Server::answer_waiters(const std::string& line) {
  auto waiters = std::move(m_reload_waiters);
  m_reload_waiters.clear();
  for (auto& w : waiters) w(line);
}

void Server::on_watchdog(uv_timer_t* /*t*/) noexcept {
  notify("WATCHDOG=1");
}

// [debug] fake_clock_file (tests only): read on a timer that exists only when
// it is configured; the store thread records expiries by this clock.
void Server::arm_fake_clock() noexcept {
  if (!m_fake_clock_timer.loop || uv_is_closing(reinterpret_cast<uv_handle_t*>(&m_fake_clock_timer))) return;
  if (m_fake_clock_file.empty())
    uv_timer_stop(&m_fake_clock_timer);
  else if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&m_fake_clock_timer)))
    uv_timer_start(&m_fake_clock_timer, &Server::on_fake_clock, 200, 200);
}

void Server::on_fake_clock(uv_timer_t* t) noexcept {
  auto* self = static_cast<Server*>(t->data);
  const int64_t before = self->m_fake_now;
  self->read_fake_clock();
  if (self->m_feed && self->m_fake_now != before) self->m_feed->record_expiries_at(self->m_fake_now);
}

// Opens [store] path on the store thread and waits for the first exception
// set. This is the one wait, at start, before the loop serves any query.
bool Server::open_store(const config::Config& cfg, std::vector<policy::Exception>& first) {
  std::string err;
  if (!m_inbox.init(&m_loop)) {
    LOG_WARN("exception store unavailable, running without exceptions: cannot create the loop inbox");
    return false;
  }
  if (!m_store.running() && !m_store.start(err)) {
    LOG_WARN("exception store unavailable, running without exceptions: %s", err.c_str());
    return false;
  }
  m_feed = std::make_unique<runtime::ExceptionFeed>(m_store, [this](runtime::ExceptionSet set) {
    // Store thread: hand the immutable set to the loop, touch nothing else.
    m_inbox.post([this, set = std::move(set)]() mutable { on_exceptions(std::move(set)); });
  });
  const bool timed = cfg.fake_clock_file.empty();
  if (!m_feed->open_and_wait(cfg.policy.store_path, timed, first, err)) {
    LOG_WARN("exception store unavailable, running without exceptions: %s", err.c_str());
    m_feed.reset();
    return false;
  }
  m_store_file = cfg.policy.store_path;
  return true;
}

// inotify on the store's directory (libuv: never blocks). A commit by the CLI
// writes the -wal file; the store thread then reads data_version.
void Server::watch_store() noexcept {
  if (!m_feed || m_store_file.empty()) return;
  const auto slash = m_store_file.rfind('/');
  m_store_dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : m_store_file.substr(0, slash));
  m_store_file = m_store_file.substr(slash == std::string::npos ? 0 : slash + 1);
  uv_fs_event_init(&m_loop, &m_store_watch);
  m_store_watch.data = this;
  if (const int rc = uv_fs_event_start(&m_store_watch, &Server::on_store_dir, m_store_dir.c_str(), 0);
      rc != 0)
    LOG_WARN("cannot watch %s (%s): exception changes apply only after a restart", m_store_dir.c_str(),
             uv_strerror(rc));
}

// One check per burst of writes: the first event of a burst asks the store
// thread at once (a technician's exception applies without delay), then the
// watch is stopped for kStorePauseMs and, when it restarts, one more check
// covers any commit made while it was stopped. In a flood of blocked names
// the monitoring store's own -wal writes (about 2,700 a second at 5,000
// blocked names a second) then wake the loop about 10 times a second, not
// once per write. Idle, nothing is armed.
void Server::on_store_dir(uv_fs_event_t* h, const char* file, int /*events*/, int status) noexcept {
  auto* self = static_cast<Server*>(h->data);
  if (status < 0 || !self->m_feed || self->m_stopping) return;
  if (file) {
    const std::string_view f(file), db(self->m_store_file);
    if (!f.starts_with(db) || (f.size() != db.size() && f.substr(db.size()) != "-wal")) return;
  }
  self->m_feed->check();  // coalesced; the store thread reads data_version
  uv_fs_event_stop(&self->m_store_watch);
  uv_timer_start(&self->m_store_rearm, &Server::on_store_rearm, kStorePauseMs, 0);
}

void Server::on_store_rearm(uv_timer_t* t) noexcept {
  auto* self = static_cast<Server*>(t->data);
  if (!self->m_feed || self->m_stopping ||
      uv_is_closing(reinterpret_cast<uv_handle_t*>(&self->m_store_watch)))
    return;
  if (const int rc =
          uv_fs_event_start(&self->m_store_watch, &Server::on_store_dir, self->m_store_dir.c_str(), 0);
      rc != 0) {
    LOG_WARN("cannot watch %s again (%s): exception changes apply only after a restart",
             self->m_store_dir.c_str(), uv_strerror(rc));
    return;
  }
  self->m_feed->check();  // a commit made while the watch was stopped
}

// A mapped list file was truncated or changed (SIGBUS caught by
// lists::MappingGuard, or the directory watch saw it): queries already answer
// SERVFAIL (pipeline); say so loudly and try the files on disk again: a
// reload verifies them off the loop and swaps in only a good bundle.
void Server::on_lists_broken(const lists::Bundle& b) noexcept {
  m_metrics.lists_broken = true;
  ++m_metrics.lists_broken_events;
  LOG_ERROR(
      "ALERT: the blocklist bundle %s was changed or truncated while in use: answering SERVFAIL "
      "(never unfiltered) until a verified bundle loads; reloading",
      b.dir().c_str());
  if (!m_stopping) reload();
}

// inotify on the bundle in use (libuv, never blocks): a write to a mapped
// file would change what lookups read without any check, so any change to the
// content of a file the manifest names marks the bundle broken at once.
void Server::watch_bundle(const lists::Bundle& b) noexcept {
  if (m_bundle_watch) {
    uv_close(reinterpret_cast<uv_handle_t*>(m_bundle_watch),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_fs_event_t*>(h); });
    m_bundle_watch = nullptr;
  }
  if (b.dir().empty() || m_stopping) return;
  auto* w = new uv_fs_event_t{};
  uv_fs_event_init(&m_loop, w);
  w->data = this;
  if (const int rc = uv_fs_event_start(w, &Server::on_bundle_dir, b.dir().c_str(), 0); rc != 0) {
    LOG_WARN("cannot watch %s (%s): a file changed under the resolver is caught only when read",
             b.dir().c_str(), uv_strerror(rc));
    uv_close(reinterpret_cast<uv_handle_t*>(w),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_fs_event_t*>(h); });
    return;
  }
  m_bundle_watch = w;
}

void Server::on_bundle_dir(uv_fs_event_t* h, const char* file, int events, int status) noexcept {
  auto* self = static_cast<Server*>(h->data);
  if (status < 0 || !file || self->m_stopping) return;
  const std::string_view f(file);
  if (f != "public.cdb" && f != "confidential.cdb" && f != "confidential.filter" && f != "manifest.json")
    return;
  const auto snap = self->m_pipeline.snapshot();
  if (snap->bundle->broken()) return;  // already known
  // Deleting or renaming a name (UV_RENAME alone: IN_DELETE, IN_MOVED_*) leaves
  // the mapped inode, which was verified before the swap, untouched: keep
  // filtering with it rather than failing every query. Only a write or a
  // metadata change to the file itself (UV_CHANGE) can alter what lookups read.
  if ((events & UV_CHANGE) == 0) {
    LOG_WARN(
        "the blocklist file %s/%.*s was deleted or replaced on disk while in use: still filtering "
        "with the verified copy in memory; install a bundle (hedge update) before the next restart",
        snap->bundle->dir().c_str(), static_cast<int>(f.size()), f.data());
    return;
  }
  snap->bundle->mark_broken();
  self->on_lists_broken(*snap->bundle);
}

void Server::on_exceptions(runtime::ExceptionSet set) noexcept {
  if (m_stopping || !m_policy.set_exceptions(std::move(set))) return;
  const auto cur = m_pipeline.snapshot();
  m_pipeline.set_snapshot(make_snapshot(cur->config, cur->bundle, m_policy.snapshot()));
  if (m_web) m_web->set_snapshot(m_pipeline.snapshot());
  LOG_INFO("exceptions changed: policy updated");
}

void Server::deliver(const net::Origin& o, std::span<const uint8_t> answer) noexcept {
  if (m_stopping) return;
  if (o.transport == net::Transport::udp) {
    if (o.listener < m_udp.size() && !answer.empty()) m_udp[o.listener]->send_later(o, answer);
  } else if (o.listener < m_tcp.size()) {
    m_tcp[o.listener]->deliver(o.conn, answer);
  }
}

}  // namespace hedge
