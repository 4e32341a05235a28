// web/web_service: listeners, the block page, the review form and the status routes.
#include "web/web_service.hpp"

#include <algorithm>

#include "dns/name.hpp"
#include "http/text.hpp"
#include "policy/decide.hpp"
#include "util/log.hpp"
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
  auto guarded = [this](auto fn) {
    return [this, fn](http::Request&& r, const http::Reply& rep) {
      if (!status_allowed(r)) {
        rep.send(http::text_response(403, "forbidden: this address is not in [http] status_clients\n"));
        return;
      }
      fn(rep);
    };
  };
  m_status_routes.add(
      "GET", "/health", guarded([this](const http::Reply& rep) {
        const auto reasons = health_reasons(status_inputs());
        std::string body;
        for (const auto& r : reasons) body += r + "\n";
        rep.send(http::text_response(reasons.empty() ? 200 : 503, reasons.empty() ? "ok\n" : body));
      }));
  m_status_routes.add("GET", "/status", guarded([this](const http::Reply& rep) {
                        http::Response r(200, "application/json", status_json(status_inputs()));
                        r.set("Cache-Control", "no-store");
                        rep.send(std::move(r));
                      }));
  m_status_routes.add("GET", "/metrics", guarded([this](const http::Reply& rep) {
                        http::Response r(200, "text/plain; version=0.0.4; charset=utf-8",
                                         metrics_text(status_inputs()));
                        r.set("Cache-Control", "no-store");
                        rep.send(std::move(r));
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
  close();
}

bool WebService::start(const config::Config& cfg, std::string& err) {
  m_started = m_d.now();
  m_last_answer_ms = net::now_ms(m_d.loop);
  auto bind_all = [&](const std::vector<util::SockAddr>& addrs, const char* name, http::Router& routes,
                      std::vector<net::HttpListener*>& out) {
    for (const auto& a : addrs) {
      std::string e;
      auto* l = net::HttpListener::start(m_d.loop, a, name, routes, cfg.http.limits, e);
      if (!l) {
        err = "[http] " + std::string(name) + "_listen: " + e;
        return false;
      }
      out.push_back(l);
      LOG_INFO("http %s on %s", name, l->local().str().c_str());
    }
    return true;
  };
  if (!bind_all(cfg.http.block_page_listen, "block_page", m_block_routes, m_block)) return false;
  if (!bind_all(cfg.http.status_listen, "status", m_status_routes, m_status)) return false;
  m_tick = new uv_timer_t;
  uv_timer_init(m_d.loop, m_tick);
  m_tick->data = this;
  // Query-rate samples for /status every 5 s (15 min = 181 samples); upstream
  // answers are timed by the forwarder itself, so nothing else needs a tick.
  uv_timer_start(m_tick, &WebService::on_tick, 5000, 5000);
  // Only a box with status listeners shows time sync and the boot status.
  // Time sync and the boot status change rarely: read once a minute, and when
  // a status request finds them older than 2 s (status_inputs).
  if (!m_status.empty()) m_system = runtime::SystemWatch::start(m_d.loop, 60'000);
  return true;
}

void WebService::reconfigure(const config::Config& cfg) {
  for (auto* l : m_block) l->set_limits(cfg.http.limits);
  for (auto* l : m_status) l->set_limits(cfg.http.limits);
}

void WebService::close() noexcept {
  for (auto* l : m_block) l->close();
  for (auto* l : m_status) l->close();
  m_block.clear();
  m_status.clear();
  if (m_system) {
    m_system->close();
    m_system = nullptr;
  }
  if (m_tick) {
    uv_close(reinterpret_cast<uv_handle_t*>(m_tick),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    m_tick = nullptr;
  }
}

std::vector<util::SockAddr> WebService::block_page_addresses() const {
  std::vector<util::SockAddr> v;
  for (auto* l : m_block) v.push_back(l->local());
  return v;
}

std::vector<util::SockAddr> WebService::status_addresses() const {
  std::vector<util::SockAddr> v;
  for (auto* l : m_status) v.push_back(l->local());
  return v;
}

void WebService::on_tick(uv_timer_t* t) noexcept {
  auto* self = static_cast<WebService*>(t->data);
  const int64_t now = net::now_ms(self->m_d.loop);
  uint64_t total = 0;
  for (auto q : self->m_d.metrics.queries) total += q;
  self->m_samples.emplace_back(now, total);
  while (self->m_samples.size() > 181) self->m_samples.pop_front();
}

StatusInputs WebService::status_inputs() const {
  StatusInputs in;
  in.now = m_d.now();
  in.clock_now = m_d.clock ? m_d.clock() : in.now;
  in.started = m_started;
  in.now_ms = net::now_ms(m_d.loop);
  in.last_upstream_answer_ms = m_last_answer_ms;  // start time, until a server answers
  for (const auto& s : m_d.forwarder.servers())
    in.last_upstream_answer_ms = std::max(in.last_upstream_answer_ms, s.health.last_answer_ms());
  in.hold = m_d.snapshot();
  in.snap = in.hold.get();
  in.metrics = &m_d.metrics;
  in.cache = &m_d.cache;
  in.forwarder = &m_d.forwarder;
  in.monitor = m_d.monitor;
  for (auto* l : m_block) in.listeners.push_back(l);
  for (auto* l : m_status) in.listeners.push_back(l);
  uint64_t total = 0;
  for (auto q : m_d.metrics.queries) total += q;
  auto rate = [&](int64_t window_ms) {
    if (m_samples.empty()) return 0.0;
    // The oldest sample inside the window (or the oldest there is).
    auto it = std::find_if(m_samples.begin(), m_samples.end(),
                           [&](const auto& s) { return in.now_ms - s.first <= window_ms; });
    if (it == m_samples.end()) it = std::prev(m_samples.end());
    const double secs = static_cast<double>(in.now_ms - it->first) / 1000.0;
    return secs > 0.5 ? static_cast<double>(total - it->second) / secs : 0.0;
  };
  in.qps_1m = rate(60'000);
  in.qps_15m = rate(900'000);
  if (m_d.update_state) in.update = m_d.update_state();
  if (m_system) {
    in.system = m_system->facts();
    m_system->refresh(2000);  // for the next request: a poller sees a change one request later
  }
  return in;
}

bool WebService::status_allowed(const http::Request& req) const {
  const auto snap = m_d.snapshot();
  for (const auto& c : snap->config.http.status_clients)
    if (c.contains(req.client.sa())) return true;
  return false;
}

void WebService::block_page(http::Request&& req, const http::Reply& reply) {
  const auto snap = m_d.snapshot();
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
  const auto snap = m_d.snapshot();
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
  if (m_d.monitor) {
    store::ReviewRow row;
    row.at = now;
    row.kind = "report";
    row.site = host;
    row.client_ip = ip;
    row.grp = g.name;
    row.who = in.who;
    // The address as typed keeps the page the reporter meant (the queue shows the name).
    row.reason = typed == host ? in.what : clip(typed + " - " + in.what, 800);
    m_d.monitor->add_review(std::move(row));
  }
  in.kind = PageKind::report_thanks;
  in.site = host;
  reply.send(html(200, render_page(in)));
}

void WebService::review(http::Request&& req, const http::Reply& reply) {
  const auto snap = m_d.snapshot();
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
  if (m_d.monitor) {
    store::ReviewRow row;
    row.at = now;
    row.kind = "unblock";
    row.site = in.site;
    row.client_ip = ip;
    row.grp = g.name;
    row.who = clip(http::form_value(form, "who"), 80);
    row.reason = clip(http::form_value(form, "reason"), 500);
    m_d.monitor->add_review(std::move(row));
  }
  in.kind = PageKind::thanks;
  reply.send(html(200, render_page(in)));
}

}  // namespace hedge::web
