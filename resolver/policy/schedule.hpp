// policy/schedule: a named set of weekly windows compiled once from config
// (weekday mask + minute ranges), evaluated against a LocalTime that the
// caller computed from the `now` it was given. Windows may cross midnight: a
// window belongs to the day it starts on ("fri 22:00-02:00" covers Saturday
// 01:00). Never reads the clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/timezone.hpp"

namespace hedge::policy {

struct Window {
  uint16_t start = 0;  // minute of the day, 0..1439
  uint16_t end = 0;    // minute of the day, 1..1440; end <= start means it ends the next day
};

struct Schedule {
  std::string name;
  uint8_t days = 0x7f;          // bit 0 = Sunday .. bit 6 = Saturday
  std::vector<Window> windows;  // empty = the whole of each listed day

  // Seconds of local wall-clock time left in the window that covers `lt`, or
  // 0 if no window is active. When windows touch, the first one found counts.
  int64_t wall_seconds_left(const LocalTime& lt) const noexcept;
  bool active(const LocalTime& lt) const noexcept { return wall_seconds_left(lt) > 0; }
  // Real seconds left, across a DST change inside the window (>= 1 when active).
  int64_t seconds_left(const TimeZone& tz, const LocalTime& lt) const noexcept;
  // Real seconds until the next window opens (within 8 days), 0 if active now
  // or never (no days).
  int64_t seconds_until_start(const TimeZone& tz, const LocalTime& lt) const noexcept;
};

// Parses "mon".."sun" (also full names); -1 if unknown.
int parse_day(std::string_view s) noexcept;
// Parses "HH:MM-HH:MM" (24h; "24:00" allowed as an end). False if malformed or empty.
bool parse_window(std::string_view s, Window& w) noexcept;

}  // namespace hedge::policy
