// util/units: the human units used in config and on the command line:
// durations ("90s", "30m", "12h", "7d"), byte sizes ("200MB", "64KiB") and
// UTC timestamps in the one ISO 8601 form Hedge writes ("2026-12-02T02:00:00Z").
// Pure functions: no clock, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hedge::util {

// "90s", "30m", "12h", "7d" (a bare number is seconds). Nullopt on anything
// else, on zero-length numbers, and on overflow.
std::optional<int64_t> parse_duration(std::string_view s);
// "200MB", "200M", "1GB", "64KiB", "512" (bytes). Decimal units are powers of
// 1000, binary units (KiB, MiB, GiB) powers of 1024.
std::optional<uint64_t> parse_size(std::string_view s);

// "2026-12-02T02:00:00Z" <-> unix seconds (UTC). Only this exact form parses.
std::string iso_utc(int64_t t);
std::optional<int64_t> parse_iso_utc(std::string_view s);

// "3h 20m", "45s", "2d 4h": for people reading a status line.
std::string human_duration(int64_t seconds);

}  // namespace hedge::util
