// blocklists/mapping_guard: see the header. Everything the handler touches is
// a lock-free atomic in static storage; it calls only mmap, sysconf and
// sigaction/raise, which are async-signal-safe (mmap in practice on Linux).
#include "blocklists/mapping_guard.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>

namespace hedge::lists {

namespace {

struct Slot {
  std::atomic<uintptr_t> base{0};
  std::atomic<std::size_t> len{0};
  std::atomic<std::atomic<bool>*> broken{nullptr};
};
constexpr std::size_t kSlots = 64;  // a few bundles (old + new during a reload) x 2 cdbs
std::array<Slot, kSlots> g_slots;
std::atomic<uint64_t> g_faults{0};
std::atomic<bool> g_installed{false};

void on_sigbus(int sig, siginfo_t* info, void* /*ctx*/) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (auto& s : g_slots) {
    const uintptr_t b = s.base.load(std::memory_order_acquire);
    if (b == 0 || addr < b || addr >= b + s.len.load(std::memory_order_acquire)) continue;
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    void* p = reinterpret_cast<void*>(addr & ~(page - 1));
    if (mmap(p, page, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) break;
    if (auto* f = s.broken.load(std::memory_order_acquire)) f->store(true, std::memory_order_release);
    g_faults.fetch_add(1, std::memory_order_relaxed);
    return;  // the read is retried and sees zeros
  }
  // Not ours: the default action (core dump), as without the guard.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  raise(sig);
}

}  // namespace

void MappingGuard::install() noexcept {
  if (g_installed.exchange(true)) return;
  struct sigaction sa {};
  sa.sa_sigaction = &on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, nullptr);
}

bool MappingGuard::add(const void* base, std::size_t len, std::atomic<bool>* broken) noexcept {
  install();
  for (auto& s : g_slots) {
    uintptr_t expected = 0;
    // Claim with a marker first so the handler never sees a half-filled slot.
    if (!s.base.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
    s.len.store(0, std::memory_order_release);
    s.broken.store(broken, std::memory_order_release);
    s.len.store(len, std::memory_order_release);
    s.base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return true;
  }
  return false;
}

void MappingGuard::remove(const void* base) noexcept {
  for (auto& s : g_slots) {
    if (s.base.load(std::memory_order_acquire) != reinterpret_cast<uintptr_t>(base)) continue;
    s.len.store(0, std::memory_order_release);
    s.broken.store(nullptr, std::memory_order_release);
    s.base.store(0, std::memory_order_release);
    return;
  }
}

uint64_t MappingGuard::faults() noexcept {
  return g_faults.load(std::memory_order_relaxed);
}

}  // namespace hedge::lists
