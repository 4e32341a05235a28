// runtime/policy_runtime: snapshot lifecycle for the server (see policy_runtime.hpp).
#include "runtime/policy_runtime.hpp"

namespace hedge::runtime {

bool PolicyRuntime::start(policy::PolicyConfig cfg, std::shared_ptr<const lists::Bundle> bundle,
                          std::vector<policy::Exception> exceptions, util::ConfigErrors& errs) {
  m_cfg = std::move(cfg);
  m_bundle = bundle ? std::move(bundle) : lists::Bundle::empty();
  m_exceptions = std::make_shared<const std::vector<policy::Exception>>(std::move(exceptions));
  return rebuild(errs);
}

bool PolicyRuntime::rebuild(util::ConfigErrors& errs) {
  auto snap = policy::build_policy_snapshot(m_cfg, m_bundle, *m_exceptions, errs);
  if (!errs.empty()) return false;
  m_snap = std::move(snap);
  return true;
}

bool PolicyRuntime::set_exceptions(std::shared_ptr<const std::vector<policy::Exception>> ex) {
  if (!ex) return false;
  auto old = std::move(m_exceptions);
  m_exceptions = std::move(ex);
  util::ConfigErrors errs(m_cfg.file);
  if (!rebuild(errs)) {
    m_exceptions = std::move(old);
    return false;
  }
  return true;
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
