// util/log: formatting, levels and per-call-site rate limits.
#include "util/log.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace hedge::log {
namespace {
Level g_level = Level::info;
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
  g_level = l;
}
Level level() noexcept {
  return g_level;
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

void write(Level l, RateLimit* rl, const char* fmt, ...) noexcept {
  if (rl) {
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (now - rl->window_start >= kWindow) {
      if (rl->suppressed)
        std::fprintf(stderr, "%s(%u similar messages suppressed)\n", prefix(l), rl->suppressed);
      rl->window_start = now;
      rl->count = 0;
      rl->suppressed = 0;
    }
    if (++rl->count > kBurst) {
      ++rl->suppressed;
      return;
    }
  }
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "%s%s\n", prefix(l), buf);
}

}  // namespace hedge::log
