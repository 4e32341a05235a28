// server_web: how the server starts the HTTP side and the monitoring log
// (issue 8): the store thread, the Monitor hooked into the pipeline, and the
// block page / status listeners. Kept out of server.cpp so that file only
// carries the hooks.
#include <ctime>

#include "server.hpp"
#include "util/log.hpp"

namespace hedge {

bool Server::start_web(const config::Config& cfg, std::string& err) {
  if (!m_store.running() && !m_store.start(err)) return false;
  m_monitor = std::make_unique<monitor::Monitor>(&m_loop, m_store);
  if (!m_monitor->start(cfg, err)) return false;
  m_pipeline.set_monitor(m_monitor.get());
  web::WebDeps deps{&m_loop,
                    [this] { return m_pipeline.snapshot(); },
                    [this] { return policy_now(); },
                    m_metrics,
                    m_cache,
                    m_forwarder,
                    m_monitor.get()};
  deps.update_state = [this] { return update_state(); };
  // The clock as the system reads it (policy_now never goes below the trusted time).
  deps.clock = [this] { return m_fake_now ? m_fake_now : static_cast<int64_t>(std::time(nullptr)); };
  m_web = std::make_unique<web::WebService>(std::move(deps));
  return m_web->start(cfg, err);
}

}  // namespace hedge
