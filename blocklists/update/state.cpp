// update/state: the update state file (see header).
#include "blocklists/update/state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/units.hpp"

namespace hedge::update {

std::optional<UpdateState> parse_state(const std::string& text, std::string& err) {
  UpdateState s;
  try {
    const auto j = nlohmann::json::parse(text);
    if (!j.is_object()) {
      err = "not a JSON object";
      return std::nullopt;
    }
    s.last_attempt = j.value("last_attempt", int64_t{0});
    s.last_success = j.value("last_success", int64_t{0});
    s.last_failure = j.value("last_failure", int64_t{0});
    s.last_error = j.value("last_error", "");
    s.last_error_reason = j.value("last_error_reason", "");
    if (j.contains("failures") && j.at("failures").is_object())
      for (const auto& [k, v] : j.at("failures").items()) s.failures[k] = v.get<uint64_t>();
    s.consecutive_failures = j.value("consecutive_failures", uint32_t{0});
    s.next_retry = j.value("next_retry", int64_t{0});
    s.high_water = j.value("high_water", uint64_t{0});
    s.trusted_time = j.value("trusted_time", int64_t{0});
    s.installed_serial = j.value("installed_serial", uint64_t{0});
    s.held_serial = j.value("held_serial", uint64_t{0});
    s.etag = j.value("etag", "");
    s.last_modified = j.value("last_modified", "");
    s.validators_url = j.value("validators_url", "");
    s.validators_serial = j.value("validators_serial", uint64_t{0});
    s.in_progress = j.value("in_progress", false);
    s.seed = j.value("seed", uint64_t{0});
  } catch (const nlohmann::json::exception& e) {
    err = e.what();
    return std::nullopt;
  }
  return s;
}

std::string serialise_state(const UpdateState& s) {
  nlohmann::json f = nlohmann::json::object();
  for (const auto& [k, v] : s.failures) f[k] = v;
  nlohmann::json j = {{"format", 1},
                      {"last_attempt", s.last_attempt},
                      {"last_success", s.last_success},
                      {"last_failure", s.last_failure},
                      {"last_error", s.last_error},
                      {"last_error_reason", s.last_error_reason},
                      {"failures", std::move(f)},
                      {"consecutive_failures", s.consecutive_failures},
                      {"next_retry", s.next_retry},
                      {"high_water", s.high_water},
                      {"trusted_time", s.trusted_time},
                      {"trusted_time_utc", s.trusted_time ? util::iso_utc(s.trusted_time) : ""},
                      {"installed_serial", s.installed_serial},
                      {"held_serial", s.held_serial},
                      {"etag", s.etag},
                      {"last_modified", s.last_modified},
                      {"validators_url", s.validators_url},
                      {"validators_serial", s.validators_serial},
                      {"in_progress", s.in_progress},
                      {"seed", s.seed}};
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<UpdateState> read_state_file(const std::string& path, std::string& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return UpdateState{};
    err = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = parse_state(ss.str(), err);
  if (!s) err = path + ": " + err;
  return s;
}

bool write_state_file(const std::string& path, const UpdateState& s, std::string& err) {
  const std::string text = serialise_state(s);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = tmp + ": " + std::strerror(errno);
    return false;
  }
  std::size_t done = 0;
  bool ok = true;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (ok) ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = path + ": " + std::strerror(ok ? errno : saved);
    ::unlink(tmp.c_str());
    return false;
  }
  const std::filesystem::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

int64_t backoff_seconds(uint32_t failures, double jitter) noexcept {
  if (failures == 0) return 0;
  int64_t d = kBackoffBase;
  for (uint32_t i = 1; i < failures && d < kBackoffCap; ++i) d *= 2;
  if (d > kBackoffCap) d = kBackoffCap;
  if (jitter < 0) jitter = 0;
  if (jitter >= 1) jitter = 0.999999;
  const int64_t half = d / 2;
  return half + static_cast<int64_t>(static_cast<double>(half) * jitter);
}

int64_t nightly_slot(uint64_t seed, int window_start_min, int window_len_min) noexcept {
  const int64_t len = window_len_min > 0 ? int64_t{window_len_min} * 60 : 1;
  return (int64_t{window_start_min} * 60 + static_cast<int64_t>(seed % static_cast<uint64_t>(len))) % 86400;
}

Due scheduled_due(const UpdateState& s, int64_t now, int window_start_min, int window_len_min) noexcept {
  if (s.consecutive_failures > 0) {
    if (now >= s.next_retry)
      return {true, "retry after " + std::to_string(s.consecutive_failures) + " failure(s)"};
    return {false, "backing off after " + std::to_string(s.consecutive_failures) + " failure(s) until " +
                       util::iso_utc(s.next_retry)};
  }
  if (s.last_success == 0) return {true, "no successful update recorded yet"};
  if (now - s.last_success >= 86400 + int64_t{window_len_min} * 60)
    return {true, "last success more than a day ago"};
  // Today's slot (or yesterday's, before it comes round).
  const int64_t midnight = now - ((now % 86400) + 86400) % 86400;
  int64_t slot = midnight + nightly_slot(s.seed, window_start_min, window_len_min);
  if (slot > now) slot -= 86400;
  if (s.last_attempt < slot) return {true, "nightly check (this box's slot " + util::iso_utc(slot) + ")"};
  return {false, "nothing due: next nightly check at " + util::iso_utc(slot + 86400)};
}

}  // namespace hedge::update
