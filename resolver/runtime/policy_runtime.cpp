// runtime/policy_runtime: snapshot lifecycle for the server (see runtime.hpp).
#include "runtime/policy_runtime.hpp"

namespace hedge::runtime {

bool PolicyRuntime::start(policy::PolicyConfig cfg, std::shared_ptr<const lists::Bundle> bundle,
                          util::ConfigErrors& errs) {
  m_cfg = std::move(cfg);
  m_bundle = bundle ? std::move(bundle) : lists::Bundle::empty();
  std::string err;
  if (!m_store.open(m_cfg.store_path, err)) m_store_error = err;
  m_version = m_store.is_open() ? m_store.data_version() : 0;
  return rebuild(errs);
}

bool PolicyRuntime::rebuild(util::ConfigErrors& errs) {
  std::vector<policy::Exception> ex;
  if (m_store.is_open()) ex = m_store.load_all();
  auto snap = policy::build_policy_snapshot(m_cfg, m_bundle, std::move(ex), errs);
  if (!errs.empty()) return false;
  m_snap = std::move(snap);
  return true;
}

bool PolicyRuntime::poll(int64_t now) {
  if (!m_store.is_open()) return false;
  std::string err;
  m_store.record_expiries(now, err);  // our own writes do not move data_version
  const uint64_t v = m_store.data_version();
  if (v == m_version) return false;
  m_version = v;
  util::ConfigErrors errs(m_cfg.file);
  return rebuild(errs);
}

bool PolicyRuntime::reload(policy::PolicyConfig cfg, std::shared_ptr<const lists::Bundle> bundle,
                           util::ConfigErrors& errs) {
  if (!errs.empty()) return false;
  policy::PolicyConfig old = std::move(m_cfg);
  auto old_bundle = m_bundle;
  cfg.store_path = old.store_path;  // fixed at start
  m_cfg = std::move(cfg);
  if (bundle) m_bundle = std::move(bundle);
  if (!rebuild(errs)) {
    m_cfg = std::move(old);
    m_bundle = std::move(old_bundle);
    return false;
  }
  return true;
}

}  // namespace hedge::runtime
