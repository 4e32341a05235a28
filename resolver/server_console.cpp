// server_console: starts the safeguarding console (console/console_service)
// beside the DNS loop when [http] console_listen is set, and the alert
// sender (alerts/alert_service) when [alerts] is. Kept out of
// server.cpp so that file only has the hooks.
#include "server.hpp"
#include "util/log.hpp"

namespace hedge {

std::string Server::lists_version() const {
  const auto snap = m_pipeline.snapshot();
  return snap && snap->bundle ? std::to_string(snap->bundle->version()) : std::string();
}

alerts::ServiceSettings Server::alert_settings(const config::Config& cfg) {
  alerts::ServiceSettings as;
  as.cfg = cfg.alerts;
  as.store_path = cfg.policy.store_path;
  as.school = cfg.school.name;
  return as;
}

void Server::reload_alerts(const config::Config& cfg) {
  // reconfigure() may wait for the sender's current send: on the thread pool,
  // never the loop. uv_run (and so run()'s final stop()) waits for the job.
  if (!m_alerts || !m_started || m_stopping) return;
  struct Job {
    uv_work_t req{};
    alerts::AlertService* svc = nullptr;
    alerts::ServiceSettings settings;
  };
  auto* j = new Job;
  j->svc = m_alerts.get();
  j->settings = alert_settings(cfg);
  j->req.data = j;
  const int rc = uv_queue_work(
      &m_loop, &j->req,
      [](uv_work_t* req) {
        auto* job = static_cast<Job*>(req->data);
        std::string e;
        if (!job->svc->reconfigure(std::move(job->settings), e)) LOG_ERROR("alerts: %s", e.c_str());
      },
      [](uv_work_t* req, int) { delete static_cast<Job*>(req->data); });
  if (rc != 0) {
    LOG_WARN("alerts: the new [alerts] settings could not be applied (thread pool): restart to apply them");
    delete j;
  }
}

bool Server::start_console(const config::Config& cfg, std::string& err) {
  // The alert sender (alerts/alert_service) shares the store thread with the
  // console. It always exists, so that a reload can start it when [alerts]
  // appears; it only runs a thread while [alerts] has a relay or a webhook.
  if (!m_store.running() && !m_store.start(err)) {
    err = "store thread: " + err;
    return false;
  }
  m_alerts = std::make_unique<alerts::AlertService>(m_store);
  m_alerts_ready.store(true, std::memory_order_release);
  if (!m_alerts->start(alert_settings(cfg), err)) return false;
  if (cfg.console.listen.empty()) return true;
  if (!m_store.running() && !m_store.start(err)) {
    err = "store thread: " + err;
    return false;
  }
  m_console = std::make_unique<console::ConsoleService>(m_store);
  auto opts = console::service_options(cfg, lists_version());
  if (web::WebService* web = m_web.get()) {
    // The console asks the filter itself, on the web thread (which holds the
    // current snapshot); the WebService outlives the console thread.
    opts.explain = [web](const std::string& name, const std::string& group) {
      return web->decision_text(name, group);
    };
    opts.health = [web] { return web->health_text(); };
    opts.run_check = [web](const std::string& by) -> std::optional<std::string> {
      auto r = web->run_check(by);
      if (!r) return std::nullopt;
      return r->summary() + (r->ok() ? "" : ": " + r->details());
    };
  }
  if (!m_console->start(opts, err)) {
    m_console.reset();
    return false;
  }
  LOG_INFO("console: certificate SHA-256 fingerprint %s (check it in the browser once)",
           m_console->fingerprint().c_str());
  return true;
}

}  // namespace hedge
