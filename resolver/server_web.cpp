// server_web: how the server starts the HTTP side and the monitoring log
// (issue 8): the store thread, the Monitor hooked into the pipeline, the
// status source on the DNS loop and the web thread (block page and status
// listeners). Kept out of server.cpp so that file only carries the hooks.
#include <ctime>

#include "server.hpp"
#include "store/console_store.hpp"
#include "util/log.hpp"

namespace hedge {

bool Server::start_web(const config::Config& cfg, std::string& err) {
  if (!m_store.running() && !m_store.start(err)) return false;
  m_monitor = std::make_unique<monitor::Monitor>(&m_loop, m_store);
  if (!m_monitor->start(cfg, err)) return false;
  m_pipeline.set_monitor(m_monitor.get());
  // The clock as the system reads it (policy_now never goes below the trusted time).
  auto clock = [this] {
    const int64_t fake = m_fake_now.load(std::memory_order_relaxed);
    return fake ? fake : static_cast<int64_t>(std::time(nullptr));
  };
  m_status_source = std::make_unique<web::StatusSource>(web::SourceDeps{
      &m_loop, [this] { return m_pipeline.snapshot(); }, [this] { return policy_now(); }, clock, m_metrics,
      m_cache, m_forwarder, m_monitor.get(), [this] { return update_state(); }});
  // Only a box with status listeners samples the query rate (an idle box wakes for nothing else).
  if (!cfg.http.status_listen.empty()) m_status_source->start();
  web::WebDeps deps;
  deps.now = [this] { return policy_now(); };  // atomics only: safe on the web thread
  deps.fetch_status = [this](std::function<void(std::shared_ptr<web::StatusInputs>)> done) {
    return m_inbox.post([this, done = std::move(done)] {
      std::shared_ptr<web::StatusInputs> in;
      try {
        if (m_status_source) in = std::make_shared<web::StatusInputs>(m_status_source->gather());
      } catch (...) {
        in.reset();  // answered 503 by the web thread; it asks again on the next request
      }
      done(std::move(in));
    });
  };
  deps.add_review = [this](store::ReviewRow row) {
    m_inbox.post([this, row = std::move(row)]() mutable {
      if (m_monitor) m_monitor->add_review(std::move(row));
    });
  };
  // Built-in filtering checks are recorded with the manual ones (the console
  // store's filtering_check table), by a job on the store thread.
  deps.record_check = [this, path = cfg.policy.store_path](store::Check k) {
    m_store.post([path, k = std::move(k)]() mutable {
      store::ConsoleStore st;
      std::string why;
      if (!st.open(path, why) || !st.add_check(k, why))
        LOG_WARN("filtering check not recorded: %s", why.c_str());
    });
  };
  // m_alerts is made after this (start_console) and lives until the server
  // is destroyed, after the web thread has stopped.
  deps.alert_facts = [this]() -> std::optional<alerts::AlertService::Facts> {
    if (!m_alerts_ready.load(std::memory_order_acquire)) return std::nullopt;
    return m_alerts->facts();
  };
  m_web = std::make_unique<web::WebService>(std::move(deps));
  return m_web->start(cfg, m_pipeline.snapshot(), err);
}

}  // namespace hedge
