// server: loop ownership, start, reload, shutdown.
#include "server.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "util/log.hpp"
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
      m_pipeline(Pipeline::Deps{m_cache, m_upstream, m_metrics, m_limiter, *this, [this] {
                                  return Clock{static_cast<int64_t>(uv_now(&m_loop)), policy_now()};
                                }}) {
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
  return m_fake_now ? m_fake_now : static_cast<int64_t>(std::time(nullptr));
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
  const bool ok =
      m_policy_started ? m_policy.reload(cfg.policy, bundle, errs) : m_policy.start(cfg.policy, bundle, errs);
  if (!ok) {
    for (const auto& e : errs.list()) err += (err.empty() ? "" : "\n") + e.str();
    if (err.empty()) err = cfg.path + ": policy could not be built";
    return false;
  }
  if (!m_policy_started && !m_policy.store_error().empty()) {
    LOG_WARN("exception store unavailable, running without exceptions: %s", m_policy.store_error().c_str());
  }
  m_policy_started = true;
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
  m_cache.set_limits(std::size_t{cfg.cache.size_mb} << 20, cfg.cache.serve_stale_s);
  const net::TcpLimits tl = tcp_limits(cfg.server);
  for (auto* t : m_tcp) t->set_limits(tl);
  // Answers cached before a list change may now be for blocked names; the
  // decision runs before the cache, so only CNAME chains need care, and
  // those are re-checked on every hit. The cache survives a reload.
  std::shared_ptr<const Snapshot> old = m_pipeline.snapshot();
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
  const int rc = uv_queue_work(
      &m_loop, &r->req, [](uv_work_t* req) { static_cast<Release*>(req->data)->snap.reset(); },
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
  uv_signal_init(&m_loop, &m_sigterm);
  uv_signal_init(&m_loop, &m_sigint);
  uv_signal_init(&m_loop, &m_sighup);
  m_sigterm.data = m_sigint.data = m_sighup.data = this;
  uv_signal_start(&m_sigterm, &Server::on_signal, SIGTERM);
  uv_signal_start(&m_sigint, &Server::on_signal, SIGINT);
  uv_signal_start(&m_sighup, &Server::on_signal, SIGHUP);
  uv_async_init(&m_loop, &m_stop, &Server::on_async);
  m_stop.data = this;
  uv_timer_init(&m_loop, &m_tick);
  m_tick.data = this;
  // 200 ms: exception-store polling (CLI changes apply within a moment) and the test clock.
  uv_timer_start(&m_tick, &Server::on_tick, 200, 200);
#ifdef HEDGE_HAVE_SYSTEMD
  if (sd_watchdog_enabled(0, &m_watchdog_usec) <= 0) m_watchdog_usec = 0;
#endif
  m_started = true;
  const auto& b = *m_pipeline.snapshot()->bundle;
  LOG_INFO("lists: %s version %llu, %llu entries in %zu categories",
           b.dir().empty() ? "(none)" : b.dir().c_str(), static_cast<unsigned long long>(b.version()),
           static_cast<unsigned long long>(b.entries()), b.categories().size());
  notify("READY=1");
  return true;
}

int Server::run() {
  if (!m_started) return 1;
  uv_run(&m_loop, UV_RUN_DEFAULT);
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
  notify("STOPPING=1");
  for (auto* u : m_udp) u->close();
  for (auto* t : m_tcp) t->close();
  m_udp.clear();
  m_tcp.clear();
  m_forwarder.close();
  m_pipeline.abandon_pending();
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&m_sigterm),
                         reinterpret_cast<uv_handle_t*>(&m_sigint), reinterpret_cast<uv_handle_t*>(&m_sighup),
                         reinterpret_cast<uv_handle_t*>(&m_stop), reinterpret_cast<uv_handle_t*>(&m_tick)}) {
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
  std::shared_ptr<const lists::Bundle> bundle;
  std::string err;
};
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
  std::string err;
  try {
    if (m_opts.config_path.empty() || !load(work->cfg, err)) {
      if (err.empty()) err = "no config file to reload";
      reload_failed(err);
      return false;
    }
  } catch (const std::exception& e) {
    reload_failed(std::string("reading the config: ") + e.what());
    return false;
  }
  if (work->cfg.server.listen.size() != m_bound.size()) {
    LOG_WARN("reload: server.listen changed; listen addresses only change on restart");
  }
  work->cfg.server.listen = m_bound;
  work->req.data = work.get();
  const int rc = uv_queue_work(
      &m_loop, &work->req,
      [](uv_work_t* req) {
        // Thread pool: touches nothing but the files and this work item.
        auto* w = static_cast<ReloadWork*>(req->data);
        try {
          w->bundle = open_bundle(w->cfg, w->err);
        } catch (const std::exception& e) {
          w->bundle = nullptr;
          w->err = std::string("opening the bundle: ") + e.what();
        }
      },
      [](uv_work_t* req, int status) {
        std::unique_ptr<ReloadWork> w(static_cast<ReloadWork*>(req->data));
        Server* self = w->server;
        self->m_reloading = false;
        if (status == UV_ECANCELED || self->m_stopping) return;
        self->finish_reload(w->cfg, w->bundle, w->err);
        if (self->m_reload_again) {
          self->m_reload_again = false;
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
                           const std::string& err) {
  std::string e = err;
  bool ok = bundle != nullptr;
  if (!ok && e.empty()) e = "the bundle could not be opened";
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
  LOG_INFO("reloaded: lists version %llu, %llu entries", static_cast<unsigned long long>(b.version()),
           static_cast<unsigned long long>(b.entries()));
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
    if (!line.empty()) LOG_ERROR("reload failed, keeping the previous config and lists: %s", line.c_str());
    line.clear();
  }
  notify("READY=1");
}

void Server::on_tick(uv_timer_t* t) noexcept {
  auto* self = static_cast<Server*>(t->data);
  if (self->m_watchdog_usec) notify("WATCHDOG=1");
  self->read_fake_clock();
  if (self->m_policy_started && self->m_policy.poll(self->policy_now())) {
    const auto cur = self->m_pipeline.snapshot();
    self->m_pipeline.set_snapshot(make_snapshot(cur->config, cur->bundle, self->m_policy.snapshot()));
    LOG_INFO("exceptions changed: policy updated");
  }
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
