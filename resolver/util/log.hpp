// util/log: levelled, rate-limited logging to stderr (journald on the box).
// A flood of identical problems (a hostile client, a dead upstream) must not
// fill the SD card or hide other messages: each call site may log at most
// `burst` lines per 10 s window, then says how many it suppressed.
#pragma once

#include <atomic>

#include <cstdint>

namespace hedge::log {

enum class Level : uint8_t { debug, info, warn, error };

void set_level(Level l) noexcept;
Level level() noexcept;
bool parse_level(const char* s, Level& out) noexcept;

// Shared by every thread that logs from the call site: relaxed atomics (the
// counts are approximate when two threads log at once, never a data race).
struct RateLimit {
  std::atomic<int64_t> window_start{0};
  std::atomic<uint32_t> count{0};
  std::atomic<uint32_t> suppressed{0};
};

void write(Level l, RateLimit* rl, const char* fmt, ...) noexcept __attribute__((format(printf, 3, 4)));

}  // namespace hedge::log

// One static rate limiter per call site.
#define HEDGE_LOG(lvl, ...)                                                   \
  do {                                                                        \
    if (::hedge::log::Level::lvl >= ::hedge::log::level()) {                  \
      static ::hedge::log::RateLimit hedge_rl_;                               \
      ::hedge::log::write(::hedge::log::Level::lvl, &hedge_rl_, __VA_ARGS__); \
    }                                                                         \
  } while (0)
#define LOG_DEBUG(...) HEDGE_LOG(debug, __VA_ARGS__)
#define LOG_INFO(...) HEDGE_LOG(info, __VA_ARGS__)
#define LOG_WARN(...) HEDGE_LOG(warn, __VA_ARGS__)
#define LOG_ERROR(...) HEDGE_LOG(error, __VA_ARGS__)
