// util/log: formatting, levels and per-call-site rate limits.
#include "util/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace hedge::log {
namespace {
std::atomic<Level> g_level{Level::info};  // set on reload (DNS loop), read by every thread
constexpr uint32_t kBurst = 20;
constexpr int64_t kWindow = 10;
const char* prefix(Level l) {
  // sd-daemon(3) priority prefixes: journald maps them to levels.
  switch (l) {
    case Level::debug: return "<7>debug: ";
    case Level::info: return "<6>info: ";
    case Level::warn: return "<4>warning: ";
    case Level::error: return "<3>error: ";
  }
  return "";
}
}  // namespace

void set_level(Level l) noexcept {
  g_level.store(l, std::memory_order_relaxed);
}
Level level() noexcept {
  return g_level.load(std::memory_order_relaxed);
}

bool parse_level(const char* s, Level& out) noexcept {
  if (!std::strcmp(s, "debug"))
    out = Level::debug;
  else if (!std::strcmp(s, "info"))
    out = Level::info;
  else if (!std::strcmp(s, "warn") || !std::strcmp(s, "warning"))
    out = Level::warn;
  else if (!std::strcmp(s, "error"))
    out = Level::error;
  else
    return false;
  return true;
}

namespace {
// One write(2) per line: no stdio lock is taken, so a thread that is
// descheduled mid-log (background threads run at nice 10 or in SCHED_IDLE)
// cannot hold up the DNS loop's next log line; lines up to PIPE_BUF reach
// journald whole.
void emit(Level l, const char* msg) noexcept {
  char line[1100];
  const int n = std::snprintf(line, sizeof line, "%s%s\n", prefix(l), msg);
  if (n <= 0) return;
  std::size_t len = std::min(static_cast<std::size_t>(n), sizeof line - 1);
  if (len == sizeof line - 1) line[len - 1] = '\n';  // truncated: still one line
  const char* p = line;
  while (len > 0) {
    const ssize_t w = ::write(STDERR_FILENO, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // nowhere to log to: nothing else to do
    p += w;
    len -= static_cast<std::size_t>(w);
  }
}
}  // namespace

void write(Level l, RateLimit* rl, const char* fmt, ...) noexcept {
  if (rl) {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    int64_t start = rl->window_start.load(std::memory_order_relaxed);
    if (now - start >= kWindow &&
        rl->window_start.compare_exchange_strong(start, now, std::memory_order_relaxed)) {
      if (const uint32_t s = rl->suppressed.exchange(0, std::memory_order_relaxed)) {
        char note[64];
        std::snprintf(note, sizeof note, "(%u similar messages suppressed)", s);
        emit(l, note);
      }
      rl->count.store(0, std::memory_order_relaxed);
    }
    if (rl->count.fetch_add(1, std::memory_order_relaxed) + 1 > kBurst) {
      rl->suppressed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);  // NOLINT(clang-analyzer-valist.Uninitialized): va_start above
  va_end(ap);
  emit(l, buf);
}

}  // namespace hedge::log
