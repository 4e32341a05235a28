// alerts/alert_service: the sender thread and its store-thread jobs (see header).
#include "alerts/alert_service.hpp"

#include <unistd.h>

#include <ctime>
#include <fstream>
#include <future>
#include <random>
#include <sstream>

#include "alerts/alert_text.hpp"
#include "alerts/smtp.hpp"
#include "blocklists/update/https_client.hpp"
#include "net/tls_client.hpp"
#include "store/alert_store.hpp"
#include "util/log.hpp"

namespace hedge::alerts {

namespace {

constexpr int64_t kDueBatch = 20;

int64_t now_s() {
  return static_cast<int64_t>(std::time(nullptr));
}

struct Outcome {
  int64_t id = 0;
  bool ok = false;
  std::string error;
  int attempts = 0;  // after this one
};

}  // namespace

// Created on the starting thread, then only touched in store-thread jobs.
struct AlertService::StoreSide {
  store::AlertStore db;
  std::string path, open_error;
  bool open = false;
  int64_t next_open_try = 0;
  bool ensure_open(int64_t now) {
    if (open) return true;
    if (now < next_open_try) return false;
    if (!db.open(path, open_error)) {
      if (next_open_try == 0)
        LOG_ERROR("alerts: the store %s cannot be opened: %s (retrying every minute)", path.c_str(),
                  open_error.c_str());
      next_open_try = now + 60;
      return false;
    }
    open = true;
    return true;
  }
};

AlertService::AlertService(store::StoreThread& st) : m_st(st) {}

AlertService::~AlertService() {
  stop();
}

namespace {
bool same_settings(const ServiceSettings& a, const ServiceSettings& b) {
  const auto& x = a.cfg;
  const auto& y = b.cfg;
  return a.store_path == b.store_path && a.school == b.school && a.poll_ms == b.poll_ms &&
         x.smtp_host == y.smtp_host && x.smtp_port == y.smtp_port &&
         x.smtp_implicit_tls == y.smtp_implicit_tls && x.smtp_user == y.smtp_user &&
         x.smtp_password_file == y.smtp_password_file && x.email_from == y.email_from &&
         x.email_to == y.email_to && x.webhook == y.webhook && x.ca_file == y.ca_file &&
         x.retry_min_s == y.retry_min_s && x.retry_max_s == y.retry_max_s && x.timeout_s == y.timeout_s &&
         x.weekly_digest == y.weekly_digest;
}
}  // namespace

bool AlertService::start(ServiceSettings s, std::string& err) {
  std::lock_guard<std::mutex> ctl(m_ctl);
  return start_locked(std::move(s), err);
}

bool AlertService::start_locked(ServiceSettings s, std::string& err) {
  stop_locked();  // never two senders (and never assign over a joinable thread)
  if (!s.cfg.enabled()) {
    m_s = std::move(s);
    return true;
  }
  if (s.store_path.empty()) {
    err = "[alerts] needs the [store] path (the alert queue lives there)";
    return false;
  }
  m_s = std::move(s);
  m_side = std::make_shared<StoreSide>();
  m_side->path = m_s.store_path;
  if (m_started == 0) m_started = now_s();
  m_stop.store(false);
  m_thread = std::thread([this] { run(); });
  m_running = true;
  LOG_INFO("alerts: %s%s%s",
           m_s.cfg.email() ? ("email via " + m_s.cfg.smtp_host + ":" + m_s.cfg.smtp_port).c_str() : "",
           m_s.cfg.email() && !m_s.cfg.webhook.empty() ? ", " : "", m_s.cfg.webhook.empty() ? "" : "webhook");
  return true;
}

void AlertService::stop() noexcept {
  std::lock_guard<std::mutex> ctl(m_ctl);
  stop_locked();
}

void AlertService::stop_locked() noexcept {
  {
    std::lock_guard<std::mutex> lk(m_mu);
    m_stop.store(true);
  }
  m_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
  m_running = false;
}

bool AlertService::reconfigure(ServiceSettings s, std::string& err) {
  // One reload at a time from start to end: two pool jobs for two quick
  // SIGHUPs run one after the other, the later settings last.
  std::lock_guard<std::mutex> ctl(m_ctl);
  if (m_running == s.cfg.enabled() && same_settings(m_s, s)) return true;  // nothing changed
  stop_locked();
  // A new configuration starts with a clean record: an old failure (a relay
  // since fixed) must not keep /health unhealthy until the next retry.
  m_last_failed_at.store(0);
  {
    std::lock_guard<std::mutex> lk(m_err_mu);
    m_last_error.clear();
  }
  if (!s.cfg.enabled()) {
    LOG_INFO("alerts: [alerts] has no relay or webhook any more: the sender stopped (queued alerts wait)");
    m_s = std::move(s);
    return true;
  }
  LOG_INFO("alerts: settings changed: the sender restarts with them");
  return start_locked(std::move(s), err);
}

AlertService::Facts AlertService::facts() const {
  Facts f;
  f.enabled = m_running;
  f.sent = m_sent.load();
  f.failed = m_failed.load();
  f.queued = m_queued.load();
  f.last_sent_at = m_last_sent_at.load();
  f.last_failed_at = m_last_failed_at.load();
  std::lock_guard<std::mutex> lk(m_err_mu);
  f.last_error = m_last_error;
  return f;
}

void AlertService::run() {
  while (!m_stop.load()) {
    if (!round()) break;
    std::unique_lock<std::mutex> lk(m_mu);
    m_cv.wait_for(lk, std::chrono::milliseconds(m_s.poll_ms), [this] { return m_stop.load(); });
  }
}

bool AlertService::round() {
  const config::AlertsConfig& c = m_s.cfg;
  // 1. On the store thread: incidents -> queue, digest, and what is due now.
  auto side = m_side;
  const int64_t started = m_started;
  const std::string school = m_s.school;
  const bool email = c.email(), webhook = !c.webhook.empty(), digest = c.weekly_digest;
  auto make = [email, webhook](const AlertText& t) {
    std::vector<store::Alert> out;
    for (const char* kind : {"email", "webhook"}) {
      if ((kind[0] == 'e' && !email) || (kind[0] == 'w' && !webhook)) continue;
      store::Alert a;
      a.kind = kind;
      a.subject = t.subject;
      a.body = t.body;
      out.push_back(std::move(a));
    }
    return out;
  };
  auto due = std::make_shared<std::promise<std::vector<store::Alert>>>();
  auto fut = due->get_future();
  std::atomic<int64_t>* queued = &m_queued;  // the service outlives its store jobs (stop() joins first)
  const bool posted = m_st.post([side, due, started, school, digest, make, queued] {
    std::vector<store::Alert> out;
    const int64_t now = now_s();
    if (side->ensure_open(now)) {
      std::string err;
      const int n = side->db.queue_incidents(
          started, now, [&](const IncidentFacts& f) { return make(incident_text(f, school)); }, err);
      if (n < 0) LOG_WARN("alerts: cannot queue incident alerts: %s", err.c_str());
      if (digest && side->db.queue_digest(
                        now, [&](const DigestFacts& d) { return make(digest_text(d, school)); }, err) < 0)
        LOG_WARN("alerts: cannot queue the weekly digest: %s", err.c_str());
      out = side->db.console().due_alerts(now, kDueBatch);
      queued->store(side->db.console().queued_alerts());
    }
    due->set_value(std::move(out));
  });
  if (!posted) return false;
  std::vector<store::Alert> alerts = fut.get();  // this thread waits; the DNS loop never does
  if (alerts.empty() || m_stop.load()) return true;

  // 2. Here: send them.
  net::TlsClientOptions to;
  to.ca_file = c.ca_file;
  to.connect_timeout_ms = to.idle_timeout_ms = int64_t{c.timeout_s} * 1000;
  to.total_timeout_ms = int64_t{c.timeout_s} * 4000;
  to.cancel = &m_stop;
  net::TlsClientConfig tls;
  net::ClientFailure tf;
  const bool tls_ok = tls.init(to, "hedge-alerts", tf);
  std::string password;
  if (!c.smtp_password_file.empty()) {
    std::ifstream in(c.smtp_password_file);
    std::getline(in, password);
    while (!password.empty() && (password.back() == '\r' || password.back() == ' ')) password.pop_back();
  }
  std::vector<Outcome> outcomes;
  for (const auto& a : alerts) {
    if (m_stop.load()) break;
    Outcome o{a.id, false, {}, a.attempts + 1};
    if (!tls_ok) {
      o.error = tf.message;
    } else if (a.kind == "email") {
      if (!c.email()) {
        o.error = "no [alerts] smtp relay configured any more";
      } else {
        SmtpSettings ss;
        ss.host = c.smtp_host;
        ss.port = c.smtp_port;
        ss.implicit_tls = c.smtp_implicit_tls;
        ss.user = c.smtp_user;
        ss.password = password;
        ss.from = c.email_from;
        ss.to = c.email_to;
        char host[256] = {};
        if (gethostname(host, sizeof host - 1) == 0 && host[0]) ss.helo = host;
        const auto at = c.email_from.find('@');
        const std::string mid =
            "hedge-alert-" + std::to_string(a.id) + "-" + std::to_string(a.created) + "@" +
            (at == std::string::npos ? std::string("hedge") : c.email_from.substr(at + 1));
        const std::string msg = compose_mail(c.email_from, c.email_to, {a.subject, a.body}, now_s(), mid);
        o.ok = send_mail(tls, ss, msg, o.error);
      }
    } else if (a.kind == "webhook") {
      const auto url = update::parse_https_url(c.webhook);
      if (!url) {
        o.error = "no [alerts] webhook configured any more";
      } else {
        update::ClientOptions ho;
        ho.ca_file = c.ca_file;
        ho.connect_timeout_ms = to.connect_timeout_ms;
        ho.idle_timeout_ms = to.idle_timeout_ms;
        ho.total_timeout_ms = to.total_timeout_ms;
        ho.user_agent = "hedge-alerts";
        ho.cancel = &m_stop;
        update::HttpsClient hc(ho);
        update::Failure f;
        update::Response r;
        if (!hc.init(f) || !hc.post(*url, "application/json", webhook_json({a.subject, a.body}), r, f)) {
          o.error = f.message;
        } else if (r.status < 200 || r.status > 299) {
          o.error = url->str() + ": the receiver answered HTTP " + std::to_string(r.status);
        } else {
          o.ok = true;
        }
      }
    } else {
      o.error = "unknown alert kind '" + a.kind + "'";
    }
    if (o.ok) {
      m_sent.fetch_add(1);
      m_last_sent_at.store(now_s());
      LOG_INFO("alerts: %s %lld sent (%s)", a.kind.c_str(), static_cast<long long>(a.id), a.subject.c_str());
    } else if (o.error.find("configured any more") != std::string::npos) {
      // Its kind was removed from [alerts]: it waits (a later reload may bring
      // the kind back), but it is not a failure of the sender.
      LOG_DEBUG("alerts: %s %lld waits: %s", a.kind.c_str(), static_cast<long long>(a.id), o.error.c_str());
    } else {
      m_failed.fetch_add(1);
      m_last_failed_at.store(now_s());
      {
        std::lock_guard<std::mutex> lk(m_err_mu);
        m_last_error = o.error.substr(0, 300);
      }
      LOG_WARN("alerts: %s %lld not sent (attempt %d): %s", a.kind.c_str(), static_cast<long long>(a.id),
               o.attempts, o.error.c_str());
    }
    outcomes.push_back(std::move(o));
  }

  // 3. Back on the store thread: sent, or the next attempt after a backoff.
  std::random_device rd;
  std::mt19937 rng(rd());
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  std::vector<std::pair<Outcome, int64_t>> results;
  for (auto& o : outcomes) {
    const int64_t delay = retry_delay_s(o.attempts, c.retry_min_s, c.retry_max_s, jitter(rng));
    results.emplace_back(std::move(o), delay);
  }
  return m_st.post([side, results = std::move(results)] {
    const int64_t now = now_s();
    for (const auto& [o, delay] : results) {
      if (o.ok)
        side->db.console().alert_sent(o.id, now);
      else
        side->db.console().alert_failed(o.id, o.error.substr(0, 500), now + delay);
    }
  });
}

}  // namespace hedge::alerts
