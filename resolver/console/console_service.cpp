// console/console_service: the console thread, its loop and listeners.
#include "console/console_service.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <future>
#include <mutex>

#include "http/message.hpp"
#include "net/http_listener.hpp"
#include "net/loop_inbox.hpp"
#include "net/stream_filter.hpp"
#include "net/tls_filter.hpp"
#include "store/console_store.hpp"
#include "store/sqlite.hpp"
#include "util/log.hpp"
#include "util/thread.hpp"

namespace hedge::console {

namespace {

// TLS under the HTTP parser (net::StreamFilter over net::TlsFilter).
class TlsStream final : public net::StreamFilter {
 public:
  explicit TlsStream(net::TlsContext& ctx) : m_tls(ctx) {}
  bool on_wire_in(std::span<const uint8_t> wire, std::string& plain, std::string& wire_out) override {
    const auto st = m_tls.feed(wire, plain);
    if (st == net::TlsFilter::Status::plain_http) {
      // Someone typed http://: tell them, in plain text, how to reach the console.
      wire_out +=
          "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
          "Content-Length: 76\r\n\r\nThis is the Hedge console. It only speaks HTTPS: use https:// in the "
          "address.\n";
      return false;
    }
    wire_out += m_tls.take_output();
    if (st == net::TlsFilter::Status::ok && !m_pending.empty() && m_tls.handshake_done()) {
      if (!m_tls.write(m_pending)) return false;
      m_pending.clear();
      wire_out += m_tls.take_output();
    }
    return st == net::TlsFilter::Status::ok;
  }
  bool on_plain_out(std::string_view plain, std::string& wire_out) override {
    if (!m_tls.handshake_done()) {
      m_pending.append(plain);
      return true;
    }
    if (!m_tls.write(plain)) return false;
    wire_out += m_tls.take_output();
    return true;
  }
  void on_close(std::string& wire_out) override {
    m_tls.close_notify();
    wire_out += m_tls.take_output();
  }

 private:
  net::TlsFilter m_tls;
  std::string m_pending;
};

int64_t console_now(const std::string& fake_clock_file) {
  // Tests move the console's clock with the same file as the DNS side's.
  if (!fake_clock_file.empty()) {
    if (std::FILE* f = std::fopen(fake_clock_file.c_str(), "r")) {
      char buf[32] = {};
      const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
      std::fclose(f);
      const long long v = std::strtoll(buf, nullptr, 10);
      if (n > 0 && v > 0) return v;
    }
  }
  return static_cast<int64_t>(std::time(nullptr));
}

}  // namespace

ConsoleSettings console_settings(const config::Config& cfg, const std::string& lists_version) {
  ConsoleSettings s;
  s.lists_version = lists_version;
  s.school = cfg.school.name;
  s.exception_rules.require_approval = cfg.policy.require_approval;
  s.exception_rules.default_lifetime = cfg.policy.exception_default_seconds;
  s.exception_rules.max_lifetime = cfg.policy.exception_max_seconds;
  for (const auto& g : cfg.policy.groups) s.groups.push_back(g.name);
  s.groups.push_back(cfg.policy.default_group.empty() ? "default" : cfg.policy.default_group);
  std::sort(s.groups.begin(), s.groups.end());
  s.groups.erase(std::unique(s.groups.begin(), s.groups.end()), s.groups.end());
  return s;
}

ServiceOptions service_options(const config::Config& cfg, const std::string& lists_version) {
  ServiceOptions o;
  o.listen = cfg.console.listen;
  o.tls.cert_path = cfg.console.tls_cert;
  o.tls.key_path = cfg.console.tls_key;
  const auto slash = cfg.policy.store_path.rfind('/');
  o.tls.generate_dir = slash == std::string::npos ? "." : cfg.policy.store_path.substr(0, slash);
  // The certificate names the box: its host name, "hedge", and every
  // address it has (the console may be reached on any of them).
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0 && host[0]) o.tls.dns_names.emplace_back(host);
  o.tls.dns_names.emplace_back("hedge");
  o.tls.dns_names.emplace_back("localhost");
  uv_interface_address_t* ifs = nullptr;
  int count = 0;
  if (uv_interface_addresses(&ifs, &count) == 0) {
    for (int i = 0; i < count; ++i) {
      char buf[64] = {};
      if (ifs[i].address.address4.sin_family == AF_INET)
        uv_ip4_name(&ifs[i].address.address4, buf, sizeof buf);
      else
        uv_ip6_name(&ifs[i].address.address6, buf, sizeof buf);
      if (buf[0] && std::string(buf).find('%') == std::string::npos) o.tls.addresses.emplace_back(buf);
    }
    uv_free_interface_addresses(ifs, count);
  }
  o.store_path = cfg.policy.store_path;
  o.timezone = cfg.policy.timezone;
  o.limits = cfg.http.limits;
  o.fake_clock_file = cfg.fake_clock_file;
  o.settings = console_settings(cfg, lists_version);
  return o;
}

struct ConsoleService::Impl final : public http::Handler {
  store::StoreThread& store;
  ServiceOptions opts;
  uv_loop_t loop{};
  net::LoopInbox inbox;
  std::unique_ptr<net::TlsContext> tls;
  std::shared_ptr<store::ConsoleStore> cstore;  // used only on the store thread
  store::Db read_db;                            // used only on this thread
  std::unique_ptr<ConsoleApp> app;
  std::vector<net::HttpListener*> listeners;
  std::vector<util::SockAddr> bound;
  mutable std::mutex bound_mu;  // addresses(): read from the server's thread after start
  std::atomic<bool> stopping{false};

  explicit Impl(store::StoreThread& s) : store(s) {}

  // Runs fn on the store thread and waits (this thread only; never the DNS loop).
  void on_store(const std::function<void(store::ConsoleStore&)>& fn) {
    std::promise<void> done;
    auto fut = done.get_future();
    auto cs = cstore;
    if (!store.post([&, cs] {
          try {
            fn(*cs);
            done.set_value();
          } catch (...) {
            done.set_exception(std::current_exception());
          }
        }))
      throw std::runtime_error("the store is shutting down");
    fut.get();
  }

  void handle(http::Request&& rq, http::Reply reply) noexcept override {
    Request r;
    r.method = rq.method;
    r.path = rq.path;
    r.query = rq.query;
    for (const auto& h : rq.headers) r.headers.emplace(h.name, h.value);
    r.body = std::move(rq.body);
    r.client_ip = rq.client.ip_str();
    Response out = app->handle(r);
    http::Response hr;
    hr.status = out.status;
    for (auto& [k, v] : out.headers) hr.headers.push_back({k, v});
    hr.body = std::move(out.body);
    reply.send(std::move(hr));
  }
};

bool ConsoleService::start(const ServiceOptions& o, std::string& err) {
  m_impl = std::make_unique<Impl>(m_store);
  m_impl->opts = o;
  // The store-thread side first: it creates the console tables.
  {
    std::promise<std::string> opened;
    auto f = opened.get_future();
    auto cs = std::make_shared<store::ConsoleStore>();
    if (!m_store.post([&opened, cs, path = o.store_path] {
          std::string e;
          cs->open(path, e);
          opened.set_value(e);
        })) {
      err = "console: the store thread is not running";
      return false;
    }
    const std::string e = f.get();
    if (!e.empty()) {
      err = "console: " + e;
      return false;
    }
    m_impl->cstore = cs;
  }
  std::promise<std::string> ready;
  auto rf = ready.get_future();
  m_thread = std::thread([this, &ready] {
    // TLS handshakes, password hashing and 90-day reports run here: below
    // the DNS loop, so a busy console never takes a core from DNS.
    util::name_and_lower_this_thread("hedge-console");
    Impl& im = *m_impl;  // NOLINT: the thread's own reference
    std::string e;
    uv_loop_init(&im.loop);
    im.inbox.init(&im.loop);
    bool generated = false;
    im.tls = net::TlsContext::create(im.opts.tls, generated, e);
    std::optional<policy::TimeZone> tz;
    if (im.tls) {
      m_fingerprint = im.tls->fingerprint();
      if (!im.read_db.open(im.opts.store_path, true, e))
        e = "console: read-only store: " + e;
      else if (!(tz = policy::TimeZone::load(im.opts.timezone, e)))
        e = "console: timezone: " + e;
    }
    if (e.empty()) {
      ConsoleDeps d;
      d.store = [&im](const std::function<void(store::ConsoleStore&)>& fn) { im.on_store(fn); };
      d.read_db = &im.read_db;
      d.now = [f = im.opts.fake_clock_file] { return console_now(f); };
      d.explain = im.opts.explain;
      d.health = im.opts.health;
      d.run_check = im.opts.run_check;
      im.app = std::make_unique<ConsoleApp>(std::move(d), im.opts.settings, *tz);
      for (const auto& a : im.opts.listen) {
        auto* ctx = im.tls.get();
        auto* l = net::HttpListener::start(&im.loop, a, "console", im, im.opts.limits, e,
                                           [ctx] { return std::make_unique<TlsStream>(*ctx); });
        if (!l) break;
        im.listeners.push_back(l);
        std::lock_guard<std::mutex> g(im.bound_mu);
        im.bound.push_back(l->local());
      }
    }
    if (e.empty()) {
      LOG_INFO("console: https://%s/ (certificate %s%s, SHA-256 %s)", im.bound.front().str().c_str(),
               im.tls->cert_path().c_str(), generated ? ", new" : "", m_fingerprint.c_str());
    }
    const bool ok = e.empty();
    ready.set_value(e);
    if (!ok) {
      for (auto* l : im.listeners) l->close();
      im.listeners.clear();
      im.inbox.close();
    }
    uv_run(&im.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&im.loop) != 0) LOG_ERROR("console: loop closed with handles open");
  });
  const std::string e = rf.get();
  if (!e.empty()) {
    err = e;
    m_thread.join();
    m_impl.reset();
    return false;
  }
  return true;
}

ConsoleService::ConsoleService(store::StoreThread& st) : m_store(st) {}
ConsoleService::~ConsoleService() {
  stop();
}

void ConsoleService::update(ConsoleSettings s) {
  if (!m_impl) return;
  Impl* im = m_impl.get();
  im->inbox.post([im, s = std::move(s)]() mutable {
    if (im->app) im->app->set_settings(std::move(s));
  });
}

void ConsoleService::stop() noexcept {
  if (!m_impl || !m_thread.joinable()) return;
  Impl* im = m_impl.get();
  im->stopping = true;
  im->inbox.post([im] {
    for (auto* l : im->listeners) l->close();
    im->listeners.clear();
    im->inbox.close();
  });
  m_thread.join();
  // The ConsoleStore is released on the store thread (it owns a connection).
  auto cs = std::move(im->cstore);
  if (cs) m_store.post([cs]() mutable { cs.reset(); });
  m_impl.reset();
}

std::vector<util::SockAddr> ConsoleService::addresses() const {
  if (!m_impl) return {};
  std::lock_guard<std::mutex> g(m_impl->bound_mu);
  return m_impl->bound;
}

}  // namespace hedge::console
