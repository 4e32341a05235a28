// runtime/policy_runtime: what the server holds for policy: the config, the bundle,
// the exception store and the current snapshot, with the reload rules in one
// place. Single-threaded (the server's loop thread); readers take the
// shared_ptr and keep it for the life of a query.
//
//   PolicyRuntime rt;
//   if (!rt.start(pcfg, bundle, errs)) -> report errs, exit
//   per query:      auto snap = rt.snapshot();  classify + decide
//   every second:   rt.poll(now)   (store changed by the CLI -> new snapshot; expiries logged)
//   on reload:      rt.reload(new_pcfg, new_bundle, errs)  (old snapshot kept on any error)
#pragma once

#include <memory>
#include <string>

#include "policy/snapshot.hpp"
#include "store/exception_store.hpp"

namespace hedge::runtime {

class PolicyRuntime {
 public:
  // Opens [store] path (a store that cannot be opened is a warning: the
  // resolver runs without exceptions and `store_error()` says why) and builds
  // the first snapshot. False if the policy itself has errors.
  bool start(policy::PolicyConfig cfg, std::shared_ptr<const lists::Bundle> bundle, util::ConfigErrors& errs);
  std::shared_ptr<const policy::PolicySnapshot> snapshot() const noexcept { return m_snap; }
  // Rebuilds the snapshot if another process changed the store; records
  // "expire" audit rows. Returns true when a new snapshot was installed.
  bool poll(int64_t now);
  // New config and/or bundle (pass the current one to keep it). Keeps the old
  // snapshot and returns false on any error. [store] path is fixed at start.
  bool reload(policy::PolicyConfig cfg, std::shared_ptr<const lists::Bundle> bundle,
              util::ConfigErrors& errs);
  const std::string& store_error() const noexcept { return m_store_error; }
  const policy::PolicyConfig& config() const noexcept { return m_cfg; }

 private:
  bool rebuild(util::ConfigErrors& errs);
  policy::PolicyConfig m_cfg;
  std::shared_ptr<const lists::Bundle> m_bundle;
  std::shared_ptr<const policy::PolicySnapshot> m_snap;
  store::ExceptionStore m_store;
  uint64_t m_version = 0;
  std::string m_store_error;
};

}  // namespace hedge::runtime
