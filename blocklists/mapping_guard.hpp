// blocklists/mapping_guard: survives a mapped list file being truncated or
// overwritten under a running resolver (`cp` over current/public.cdb,
// `truncate`). Touching a page past the new end of a mapped file raises
// SIGBUS, which would kill the process. The guard keeps a fixed table of the
// bundle mappings (no allocation, lock-free) and a SIGBUS handler that, for
// an address inside a known mapping, maps anonymous zero memory over the
// faulting page (MAP_FIXED), marks that mapping broken and returns, so the
// read sees zeros. The caller checks broken() after each lookup and answers
// SERVFAIL instead of trusting it (docs/decisions/0010-sigbus-mapped-lists.md).
// A SIGBUS anywhere else keeps its default action (the process dies).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace hedge::lists {

class MappingGuard {
 public:
  // Installs the SIGBUS handler once (idempotent, thread-safe).
  static void install() noexcept;
  // Registers [base, base+len); `broken` is set by the handler. False when
  // the table is full (the mapping is then unprotected; logged by the caller).
  static bool add(const void* base, std::size_t len, std::atomic<bool>* broken) noexcept;
  static void remove(const void* base) noexcept;
  // Faults caught since start (for metrics).
  static uint64_t faults() noexcept;
};

}  // namespace hedge::lists
