// update/state: what `hedge update` remembers between runs, in one small JSON
// file outside the generations (default <bundle parent>/update-state.json):
// attempts and results for /status and /metrics, the backoff, the HTTP
// validators of the installed bundle, and the two anti-rollback facts:
//   high_water: the highest serial ever installed (verified and flipped);
//     deleting the installed bundle cannot lower it.
//   trusted_time: the newest manifest creation time ever verified; the
//     clock is never believed to be earlier than this (the Pi has no RTC).
// The reader is pure (text in, struct out) so `hedge serve` can show it;
// writes are atomic (temp + fsync + rename + fsync of the directory).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace hedge::update {

struct UpdateState {
  int64_t last_attempt = 0, last_success = 0, last_failure = 0;
  std::string last_error;                    // one line, as printed
  std::string last_error_reason;             // Reason name
  std::map<std::string, uint64_t> failures;  // by reason, since the state file was made
  uint32_t consecutive_failures = 0;
  int64_t next_retry = 0;  // --scheduled runs wait until then after a failure
  uint64_t high_water = 0;
  int64_t trusted_time = 0;
  uint64_t installed_serial = 0;  // as of the last install or rollback
  uint64_t held_serial = 0;       // rolled back from: never re-installed (a newer one is)
  // Validators of the pointer file that announced installed_serial, and the
  // URL they belong to (a 304 only answers for that one resource).
  std::string etag, last_modified, validators_url;
  uint64_t validators_serial = 0;
  bool in_progress = false;  // set at the start of an attempt; still set = that run died
  uint64_t seed = 0;         // per box: its minute in the nightly window, and jitter
};

// Parses the state file's text. Unknown keys are ignored; a corrupt file
// gives nullopt (callers then start from an empty state but keep the
// installed bundle's serial as the floor: see updater.cpp).
std::optional<UpdateState> parse_state(const std::string& text, std::string& err);
std::string serialise_state(const UpdateState& s);

// Reads path: missing file = empty state (ok); unreadable/corrupt = nullopt.
std::optional<UpdateState> read_state_file(const std::string& path, std::string& err);
bool write_state_file(const std::string& path, const UpdateState& s, std::string& err);

// Capped exponential backoff with jitter: after the n-th consecutive failure
// (n >= 1) wait base * 2^(n-1), capped, then scaled into [1/2, 1] by the
// jitter fraction j in [0, 1). Base 5 min, cap 4 h.
int64_t backoff_seconds(uint32_t failures, double jitter) noexcept;
constexpr int64_t kBackoffBase = 300, kBackoffCap = 14400;  // 4 h

// Should a `--scheduled` run work now? Pure: the timer fires every few
// minutes, this decides. After failures: when next_retry has passed.
// Otherwise once a night: at this box's minute of the window (seeded), or
// whenever the last success is more than a day old (a box that was off).
struct Due {
  bool due = false;
  std::string why;  // for the log line either way
};
Due scheduled_due(const UpdateState& s, int64_t now, int window_start_min, int window_len_min) noexcept;
// This box's slot: seconds after midnight UTC.
int64_t nightly_slot(uint64_t seed, int window_start_min, int window_len_min) noexcept;

}  // namespace hedge::update
