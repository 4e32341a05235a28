// runtime/policy_runtime: what the server's loop holds for policy: the config,
// the bundle, the latest exception set and the current snapshot, with the
// reload rules in one place. Loop thread only, and it never reads the store:
// exception sets arrive from runtime::ExceptionFeed (store thread) through
// the server's LoopInbox. Readers take the shared_ptr and keep it for the
// life of a query.
//
//   PolicyRuntime rt;
//   if (!rt.start(pcfg, bundle, first_exceptions, errs)) -> report errs, exit
//   per query:          auto snap = rt.snapshot();  classify + decide
//   new exception set:  rt.set_exceptions(set)   (a new snapshot; old one kept on error)
//   on reload:          rt.reload(new_pcfg, new_bundle, errs)  (old snapshot kept on any error)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/snapshot.hpp"

namespace hedge::runtime {

class PolicyRuntime {
 public:
  // Builds the first snapshot. False if the policy itself has errors.
  bool start(policy::PolicyConfig cfg, std::shared_ptr<const lists::Bundle> bundle,
             std::vector<policy::Exception> exceptions, util::ConfigErrors& errs);
  std::shared_ptr<const policy::PolicySnapshot> snapshot() const noexcept { return m_snap; }
  // A new exception set from the store. Returns true when a new snapshot was installed.
  bool set_exceptions(std::shared_ptr<const std::vector<policy::Exception>> ex);
  // New config and/or bundle (pass the current one to keep it). Keeps the old
  // snapshot and returns false on any error. [store] path is fixed at start.
  bool reload(policy::PolicyConfig cfg, std::shared_ptr<const lists::Bundle> bundle,
              util::ConfigErrors& errs);
  const policy::PolicyConfig& config() const noexcept { return m_cfg; }

 private:
  bool rebuild(util::ConfigErrors& errs);
  policy::PolicyConfig m_cfg;
  std::shared_ptr<const lists::Bundle> m_bundle;
  std::shared_ptr<const std::vector<policy::Exception>> m_exceptions;
  std::shared_ptr<const policy::PolicySnapshot> m_snap;
};

}  // namespace hedge::runtime
