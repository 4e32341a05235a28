// web/web_service: listeners, the block page, the review form and the status routes.
#include "web/web_service.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <optional>

#include "dns/name.hpp"
#include "http/text.hpp"
#include "policy/decide.hpp"
#include "util/log.hpp"
#include "util/thread.hpp"
#include "web/pages.hpp"

namespace hedge::web {

namespace {

constexpr const char* kReviewPath = "/_hedge/review";
constexpr const char* kReportPath = "/report";  // "Report an unsuitable site", for any Host

http::Response html(int status, std::string body) {
  http::Response r(status, "text/html; charset=utf-8", std::move(body));
  r.set("Cache-Control", "no-store");
  r.set("X-Content-Type-Options", "nosniff");
  r.set("Referrer-Policy", "no-referrer");
  r.set("Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  return r;
}

// The Host header without port or trailing dot, lower case ("" if absent or odd).
std::string host_of(const http::Request& req) {
  const std::string* h = req.header("host");
  if (!h) return {};
  std::string s = *h;
  if (!s.empty() && s.front() == '[') {
    const std::size_t close = s.find(']');
    s = close == std::string::npos ? std::string() : s.substr(1, close - 1);
  } else if (const std::size_t colon = s.find(':');
             colon != std::string::npos && s.find(':', colon + 1) == std::string::npos) {
    s.resize(colon);
  }
  while (!s.empty() && s.back() == '.') s.pop_back();
  for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  if (s.size() > 253) s.resize(253);
  return s;
}

std::string clip(std::string s, std::size_t n) {
  if (s.size() > n) s.resize(n);
  // Control characters would only make the queue hard to read.
  s.erase(std::remove_if(s.begin(), s.end(),
                         [](char c) { return static_cast<unsigned char>(c) < 0x20 && c != ' '; }),
          s.end());
  return s;
}

}  // namespace

WebService::WebService(WebDeps d) : m_d(std::move(d)) {
  m_block_routes.add("POST", kReviewPath,
                     [this](http::Request&& r, const http::Reply& rep) { review(std::move(r), rep); });
  m_block_routes.add("GET", kReportPath,
                     [this](http::Request&& r, const http::Reply& rep) { report(std::move(r), rep); });
  m_block_routes.add("POST", kReportPath,
                     [this](http::Request&& r, const http::Reply& rep) { report(std::move(r), rep); });
  m_block_routes.fallback(
      [this](http::Request&& r, const http::Reply& rep) { block_page(std::move(r), rep); });
  // The address check runs here, before anything is asked of the DNS loop:
  // a flood from outside status_clients costs the DNS loop nothing.
  auto guarded = [this](Render fn) {
    return [this, fn = std::move(fn)](http::Request&& r, const http::Reply& rep) {
      if (!status_allowed(r)) {
        rep.send(http::text_response(403, "forbidden: this address is not in [http] status_clients\n"));
        return;
      }
      with_status([rep, fn](const StatusInputs* in) {
        rep.send(in ? fn(*in) : http::text_response(503, "the status is not available right now\n"));
      });
    };
  };
  m_status_routes.add("GET", "/health", guarded([](const StatusInputs& in) {
                        const auto reasons = health_reasons(in);
                        std::string body;
                        for (const auto& r : reasons) body += r + "\n";
                        return http::text_response(reasons.empty() ? 200 : 503,
                                                   reasons.empty() ? "ok\n" : body);
                      }));
  m_status_routes.add("GET", "/status", guarded([](const StatusInputs& in) {
                        http::Response r(200, "application/json", status_json(in));
                        r.set("Cache-Control", "no-store");
                        return r;
                      }));
  m_status_routes.add("GET", "/metrics", guarded([](const StatusInputs& in) {
                        http::Response r(200, "text/plain; version=0.0.4; charset=utf-8", metrics_text(in));
                        r.set("Cache-Control", "no-store");
                        return r;
                      }));
  m_status_routes.fallback([this](http::Request&& r, const http::Reply& rep) {
    if (!status_allowed(r)) {
      rep.send(http::text_response(403, "forbidden\n"));
      return;
    }
    rep.send(http::text_response(404, "not found: try /health, /status or /metrics\n"));
  });
}

WebService::~WebService() {
  stop();
}

bool WebService::start(const config::Config& cfg, std::shared_ptr<const Snapshot> snap, std::string& err) {
  m_snap = std::move(snap);
  net::start_thread_pool();  // before this thread exists: the pool must not inherit its nice 10
  std::promise<std::string> ready;
  auto f = ready.get_future();
  m_thread = std::thread([this, &cfg, &ready] { run_thread(cfg, ready); });
  err = f.get();
  if (!err.empty()) {
    m_thread.join();
    return false;
  }
  return true;
}

void WebService::run_thread(const config::Config& cfg, std::promise<std::string>& ready) {
  // DNS first: on a shared core the scheduler gives this thread about a
  // tenth of what the DNS loop gets (nice 10 against 0), so a flood of page
  // requests waits, not the school's DNS. Not SCHED_IDLE, although it
  // measured a little better (docs/decisions/0071): an idle-class thread can
  // be kept off a busy core for long stretches, and while it is descheduled
  // inside malloc (freeing memory the DNS loop allocated) or between the two
  // steps of an inbox push, the DNS loop would wait for it. At nice 10 such a
  // wait is bounded by one time slice. Linux nice values are per thread.
  util::name_and_lower_this_thread("hedge-web");
  if (uv_loop_init(&m_loop) != 0) {
    ready.set_value("http: cannot start the web thread's event loop");
    return;
  }
  std::string err;
  if (!m_inbox.init(&m_loop)) err = "http: cannot start the web thread's inbox";
  auto bind_all = [&](const std::vector<util::SockAddr>& addrs, const char* name, http::Router& routes,
                      std::vector<net::HttpListener*>& out, std::vector<util::SockAddr>& bound) {
    for (const auto& a : addrs) {
      std::string e;
      auto* l = net::HttpListener::start(&m_loop, a, name, routes, cfg.http.limits, e);
      if (!l) {
        err = "[http] " + std::string(name) + "_listen: " + e;
        return false;
      }
      out.push_back(l);
      {
        std::lock_guard<std::mutex> g(m_bound_mu);
        bound.push_back(l->local());
      }
      LOG_INFO("http %s on %s", name, l->local().str().c_str());
    }
    return true;
  };
  if (err.empty() &&
      bind_all(cfg.http.block_page_listen, "block_page", m_block_routes, m_block, m_block_bound))
    bind_all(cfg.http.status_listen, "status", m_status_routes, m_status, m_status_bound);
  // Only a box with status listeners shows time sync and the boot status.
  // They change rarely: read once a minute, and when a status request finds
  // them older than 2 s (status_arrived).
  if (err.empty() && !m_status.empty()) m_system = runtime::SystemWatch::start(&m_loop, 60'000);
  if (err.empty()) {
    // The built-in filtering check: run and recorded now, re-run hourly (and
    // on every policy change), recorded again every night.
    m_check_timer = new uv_timer_t;
    uv_timer_init(&m_loop, m_check_timer);
    m_check_timer->data = this;
    uv_timer_start(m_check_timer, &WebService::on_check_timer, 3'600'000, 3'600'000);
    refresh_check(true, "hedge (at start)");
    // Started after 02:00: the at-start record is tonight's; the next nightly one is tomorrow's.
    m_recorded_day = nightly_day();
  }
  const bool ok = err.empty();
  ready.set_value(err);  // `cfg` and `ready` belong to start(): not touched after this
  if (!ok) close_on_thread();
  uv_run(&m_loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&m_loop) != 0) LOG_ERROR("http: the web loop closed with handles open");
}

void WebService::close_on_thread() noexcept {
  for (auto* l : m_block) l->close();
  for (auto* l : m_status) l->close();
  m_block.clear();
  m_status.clear();
  if (m_system) {
    m_system->close();
    m_system = nullptr;
  }
  if (m_check_timer) {
    uv_close(reinterpret_cast<uv_handle_t*>(m_check_timer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    m_check_timer = nullptr;
  }
  // Status requests still waiting for the DNS loop's copy: their connections are closing.
  for (auto& w : m_waiting) w(nullptr);
  m_waiting.clear();
  m_inbox.close();
}

void WebService::stop() noexcept {
  if (!m_thread.joinable()) return;
  if (!m_inbox.post([this] { close_on_thread(); })) {
    // The inbox is already closed: the thread is ending on its own.
  }
  m_thread.join();
  m_snap.reset();
}

void WebService::set_snapshot(std::shared_ptr<const Snapshot> snap) {
  m_inbox.post([this, snap = std::move(snap)]() mutable {
    m_snap = std::move(snap);
    refresh_check(false, "");  // a policy or list change that breaks filtering shows on /health at once
  });
}

void WebService::reconfigure(const config::Config& cfg) {
  m_inbox.post([this, limits = cfg.http.limits] {
    for (auto* l : m_block) l->set_limits(limits);
    for (auto* l : m_status) l->set_limits(limits);
  });
}

std::vector<util::SockAddr> WebService::block_page_addresses() const {
  std::lock_guard<std::mutex> g(m_bound_mu);
  return m_block_bound;
}

std::vector<util::SockAddr> WebService::status_addresses() const {
  std::lock_guard<std::mutex> g(m_bound_mu);
  return m_status_bound;
}

void WebService::with_status(Waiter w) {
  m_waiting.push_back(std::move(w));
  if (m_fetching) return;  // the copy on its way answers this request too
  m_fetching = true;
  net::LoopInbox* inbox = &m_inbox;
  const bool asked = m_d.fetch_status && m_d.fetch_status([this, inbox](std::shared_ptr<StatusInputs> in) {
    // On the DNS loop: hand the copy back (refused once the web thread has stopped).
    inbox->post([this, in = std::move(in)] { status_arrived(in); });
  });
  if (!asked) status_arrived(nullptr);  // the DNS loop is shutting down
}

void WebService::status_arrived(const std::shared_ptr<StatusInputs>& copy) {
  m_fetching = false;
  auto waiting = std::move(m_waiting);
  m_waiting.clear();
  if (!copy) {  // the DNS loop could not make the copy (out of memory, shutting down)
    for (auto& w : waiting) w(nullptr);
    return;
  }
  StatusInputs& in = *copy;
  for (const auto* group : {&m_block, &m_status}) {
    for (const auto* l : *group) {
      ListenerFacts f;
      f.name = l->name();
      f.address = l->local().str();
      f.connections = l->connections();
      f.accepted = l->stats().connections;
      f.rejected = l->stats().rejected;
      f.held_back = l->stats().held_back;
      f.responses = l->stats().responses;
      in.listeners.push_back(std::move(f));
    }
  }
  if (m_system) {
    in.system = m_system->facts();
    m_system->refresh(2000);  // for the next request: a poller sees a change one request later
  }
  if (m_d.alert_facts) in.alerts = m_d.alert_facts();
  refresh_check(false, "");
  in.check = m_check;
  in.check_at = m_check_at;
  for (auto& w : waiting) w(&in);
}

// ---- the built-in filtering check ---------------------------------------------------------

void WebService::refresh_check(bool record, const std::string& by) noexcept {
  try {
    run_check_now(record, by);
  } catch (...) {
    LOG_WARN("filtering check: could not run (out of memory)");
  }
}

int64_t WebService::nightly_day() const noexcept {
  if (!m_snap || !m_snap->policy) return -1;
  const auto lt = m_snap->policy->timezone().local(m_d.now());
  return lt.sod >= 2 * 3600 ? lt.local / 86400 : -1;
}

void WebService::run_check_now(bool record, const std::string& by) {
  if (!m_snap || !m_snap->policy) return;
  const int64_t now = m_d.now();
  // Cheap (groups x categories decisions), but a status poller need not redo it every request.
  if (!record && m_check && m_check_snap == m_snap.get() && now - m_check_at < 60) return;
  m_check = std::make_shared<const policy::CheckResult>(policy::filtering_check(*m_snap->policy, now));
  m_check_at = now;
  m_check_snap = m_snap.get();
  if (!m_check->ok()) {
    if (!m_check_failed_logged)
      LOG_WARN("filtering check: %s: %s", m_check->summary().c_str(), m_check->details().c_str());
    m_check_failed_logged = true;
  } else {
    m_check_failed_logged = false;
  }
  if (!record || !m_d.record_check) return;
  store::Check k;
  k.at = now;
  k.by = by;
  k.kind = "builtin";
  k.what = "built-in check, lists version " + std::to_string(m_snap->bundle->version()) + ": " +
           m_check->summary();
  k.result = m_check->ok() ? "as expected" : "not as expected";
  k.action = m_check->details();
  m_d.record_check(std::move(k));
}

void WebService::on_check_timer(uv_timer_t* t) noexcept {
  // Hourly: the result follows expiring exceptions and schedules; once a
  // night (the first run after 02:00 local time) it is also recorded.
  auto* self = static_cast<WebService*>(t->data);
  const int64_t day = self->nightly_day();
  const bool nightly = day >= 0 && day != self->m_recorded_day;
  if (nightly) self->m_recorded_day = day;
  self->refresh_check(nightly, "hedge (nightly)");
}

// ---- answers for the console's thread -----------------------------------------------------

namespace {
// Runs fn on the web thread and waits for its answer (never from the web thread or the DNS loop).
template <class T>
std::optional<T> ask_web(net::LoopInbox& inbox, int wait_ms, std::function<void(std::function<void(T)>)> fn) {
  auto done = std::make_shared<std::promise<T>>();
  auto fut = done->get_future();
  if (!inbox.post([done, fn = std::move(fn)] {
        try {
          fn([done](T v) { done->set_value(std::move(v)); });
        } catch (...) {
          // The promise is dropped: the caller sees "no answer".
        }
      }))
    return std::nullopt;
  if (fut.wait_for(std::chrono::milliseconds(wait_ms)) != std::future_status::ready) return std::nullopt;
  try {
    return fut.get();
  } catch (...) {  // broken promise: the web thread stopped first
    return std::nullopt;
  }
}
}  // namespace

std::string WebService::decision_text(const std::string& name, const std::string& group, int wait_ms) {
  auto r = ask_web<std::string>(
      m_inbox, wait_ms, [this, name, group](const std::function<void(std::string)>& done) {
        const auto snap = m_snap;
        if (!snap || !snap->policy) return done("unknown");
        const policy::Group* g = snap->policy->find_group(group);
        if (!g) g = &snap->policy->default_group();
        dns::QueryName qn;
        const auto norm = dns::normalise_name(name);
        if (!norm || !qn.assign_text(norm.name)) return done("not a host name");
        const policy::Verdict v = policy::decide(qn, 1, *g, *snap->policy, m_d.now());
        std::string out;
        if (v.action == policy::Action::block || v.action == policy::Action::nxdomain ||
            v.action == policy::Action::nodata) {
          out = v.illegal || v.confidential ? "blocked (illegal-content list)"
                                            : "blocked (" + snap->policy->category_names(v.categories) + ")";
          if (out == "blocked ()") out = "blocked (" + std::string(v.reason) + ")";
        } else if (v.action == policy::Action::rewrite) {
          out = "allowed, with safe search";
        } else {
          out = std::string("allowed") + (*v.reason && std::string_view(v.reason) != "default"
                                              ? " (" + std::string(v.reason) + ")"
                                              : std::string());
        }
        done(out + " for " + g->name);
      });
  return r ? *r : "unknown (the filter did not answer)";
}

std::string WebService::health_text(int wait_ms) {
  auto r = ask_web<std::string>(m_inbox, wait_ms, [this](const std::function<void(std::string)>& done) {
    with_status([done](const StatusInputs* in) {
      if (!in) return done("unknown");
      std::string out;
      for (const auto& reason : health_reasons(*in)) out += (out.empty() ? "" : "\n") + reason;
      done(out.empty() ? "ok" : out);
    });
  });
  return r ? *r : "unknown (the filter did not answer)";
}

std::optional<policy::CheckResult> WebService::run_check(const std::string& by, int wait_ms) {
  return ask_web<policy::CheckResult>(m_inbox, wait_ms,
                                      [this, by](const std::function<void(policy::CheckResult)>& done) {
                                        refresh_check(true, by);
                                        if (m_check) done(*m_check);
                                      });
}

bool WebService::status_allowed(const http::Request& req) const {
  for (const auto& c : m_snap->config.http.status_clients)
    if (c.contains(req.client.sa())) return true;
  return false;
}

void WebService::block_page(http::Request&& req, const http::Reply& reply) {
  const auto snap = m_snap;  // held: a new one may arrive while this request is served
  const auto& cfg = snap->config;
  PageInput in;
  in.lang = http::pick_language(req.query, req.header("accept-language"), cfg.school.language);
  in.school = cfg.school.name;
  in.contact = cfg.school.contact;
  in.self_path = req.path;
  const std::string host = host_of(req);
  const int64_t now = m_d.now();
  in.when = format_when(snap->policy->timezone().local(now).local, in.lang);
  dns::QueryName qn;
  if (host.empty() || util::parse_ip(host) || !qn.assign_text(host)) {
    // No name to decide on (an address typed by hand, no Host): nothing is blocked here.
    in.kind = PageKind::not_blocked;
    in.site = host;
    reply.send(html(200, render_page(in)));
    return;
  }
  in.site = std::string(qn.text());
  // The real decision: this client's group, this name, now, the current snapshot.
  const policy::Group& g = policy::classify(*snap->policy, req.client.sa(), req.local.sa());
  const policy::Verdict v = policy::decide(qn, 1 /* A */, g, *snap->policy, now);
  const bool blocked = v.action == policy::Action::block || v.action == policy::Action::nxdomain ||
                       v.action == policy::Action::nodata;
  in.group = g.name;
  if (!blocked) {
    in.kind = PageKind::not_blocked;
  } else if (v.illegal || v.confidential) {
    in.kind = PageKind::illegal;  // neutral: no category, no list, no form
    in.site.clear();
  } else {
    in.kind = PageKind::blocked;
    in.rule = monitor::rule_of(v);
    const http::Texts& t = http::Texts::get(in.lang);
    for (unsigned bit = 0; bit < 64; ++bit) {
      if (!(v.categories & (uint64_t{1} << bit))) continue;
      const lists::Category* c = snap->bundle->category_by_bit(bit);
      if (!c || c->confidential) continue;
      const std::string key = "category." + c->id;
      in.category.push_back(in.lang != "en" && t.has(key) ? std::string(t[key])
                                                          : (c->name.empty() ? c->id : c->name));
      in.category_ids.push_back(c->id);
    }
  }
  reply.send(html(200, render_page(in)));
}

bool WebService::within_form_limit(const std::string& ip, int64_t now, uint32_t per_hour) {
  if (m_reviews.size() > 10000) m_reviews.clear();  // bounded: a flood of sources forgets old counts
  auto& [hour, count] = m_reviews[ip];
  if (hour != now / 3600) {
    hour = now / 3600;
    count = 0;
  }
  if (count >= per_hour) return false;
  ++count;
  return true;
}

void WebService::report(http::Request&& req, const http::Reply& reply) {
  // GET: the form. POST: a report of a site that is NOT blocked but should be,
  // into the same review queue as the block page's requests (kind 'report'),
  // with the same per-client hourly budget, lengths and control-character
  // stripping as the review form.
  const auto snap = m_snap;  // held: a new one may arrive while this request is served
  const auto& cfg = snap->config;
  const bool post = req.method == "POST";
  std::vector<std::pair<std::string, std::string>> form;
  if (post) form = http::parse_form(req.body);
  PageInput in;
  in.lang = http::pick_language(post ? "lang=" + http::form_value(form, "lang") : req.query,
                                req.header("accept-language"), cfg.school.language);
  in.school = cfg.school.name;
  in.contact = cfg.school.contact;
  in.self_path = kReportPath;
  const int64_t now = m_d.now();
  in.when = format_when(snap->policy->timezone().local(now).local, in.lang);
  in.kind = PageKind::report_form;
  if (!post) {
    reply.send(html(200, render_page(in)));
    return;
  }
  const std::string typed = clip(http::form_value(form, "site"), 300);
  in.site = typed;
  in.what = clip(http::form_value(form, "what"), 500);
  in.who = clip(http::form_value(form, "who"), 80);
  const std::string host = report_host(typed);
  if (host.empty()) {
    in.error_key = "report_bad_site";
    reply.send(html(400, render_page(in)));
    return;
  }
  const std::string ip = req.client.ip_str();
  if (!within_form_limit(ip, now, cfg.http.review_requests_per_hour)) {
    in.kind = PageKind::thanks_limited;
    reply.send(html(429, render_page(in)));
    return;
  }
  const policy::Group& g = policy::classify(*snap->policy, req.client.sa(), req.local.sa());
  if (m_d.add_review) {
    store::ReviewRow row;
    row.at = now;
    row.kind = "report";
    row.site = host;
    row.client_ip = ip;
    row.grp = g.name;
    row.who = in.who;
    // The address as typed keeps the page the reporter meant (the queue shows the name).
    row.reason = typed == host ? in.what : clip(typed + " - " + in.what, 800);
    m_d.add_review(std::move(row));
  }
  in.kind = PageKind::report_thanks;
  in.site = host;
  reply.send(html(200, render_page(in)));
}

void WebService::review(http::Request&& req, const http::Reply& reply) {
  const auto snap = m_snap;  // held: a new one may arrive while this request is served
  const auto& cfg = snap->config;
  const auto form = http::parse_form(req.body);
  PageInput in;
  in.lang = http::pick_language("lang=" + http::form_value(form, "lang"), req.header("accept-language"),
                                cfg.school.language);
  in.school = cfg.school.name;
  in.contact = cfg.school.contact;
  dns::QueryName qn;
  const std::string site = http::form_value(form, "site");
  if (site.empty() || !qn.assign_text(site)) {
    reply.send(http::text_response(400, "the form names no website\n"));
    return;
  }
  in.site = std::string(qn.text());
  const int64_t now = m_d.now();
  const std::string ip = req.client.ip_str();
  if (!within_form_limit(ip, now, cfg.http.review_requests_per_hour)) {
    in.kind = PageKind::thanks_limited;
    http::Response r = html(429, render_page(in));
    reply.send(std::move(r));
    return;
  }
  const policy::Group& g = policy::classify(*snap->policy, req.client.sa(), req.local.sa());
  if (m_d.add_review) {
    store::ReviewRow row;
    row.at = now;
    row.kind = "unblock";
    row.site = in.site;
    row.client_ip = ip;
    row.grp = g.name;
    row.who = clip(http::form_value(form, "who"), 80);
    row.reason = clip(http::form_value(form, "reason"), 500);
    m_d.add_review(std::move(row));
  }
  in.kind = PageKind::thanks;
  reply.send(html(200, render_page(in)));
}

}  // namespace hedge::web
