// update/status: health, /status JSON and metrics from the update state (see header).
#include "blocklists/update/status.hpp"

#include "blocklists/update/https_client.hpp"
#include "blocklists/update/verify.hpp"
#include "util/units.hpp"

namespace hedge::update {

UpdateHealth update_health(const UpdateState& s, const ServedBundle& b, int64_t max_age_s, int64_t now) {
  UpdateHealth h;
  const int64_t tnow = trusted_now(now, s.trusted_time);
  if (now < s.trusted_time) {
    h.clock_behind = true;
    h.reasons.push_back("time: clock earlier than trusted time: the system clock reads " +
                        util::iso_utc(now) + " but Hedge has verified a bundle made at " +
                        util::iso_utc(s.trusted_time) +
                        " (schedules use that time until the clock is fixed)");
  }
  if (b.created != 0 && tnow - b.created > max_age_s)
    h.reasons.push_back("lists: the bundle is " + util::human_duration(tnow - b.created) +
                        " old (more than max_age " + util::human_duration(max_age_s) +
                        "); still blocking with it");
  if (b.valid_until != 0 && b.valid_until <= tnow)
    h.reasons.push_back("lists: the bundle is past its valid-until (" + util::iso_utc(b.valid_until) +
                        "); still blocking with it");
  h.degraded = !h.reasons.empty();
  return h;
}

nlohmann::json update_status_json(const UpdateState& s, const ServedBundle& b, int64_t max_age_s,
                                  int64_t now) {
  using nlohmann::json;
  auto t = [](int64_t v) -> json { return v ? json(util::iso_utc(v)) : json(nullptr); };
  const UpdateHealth h = update_health(s, b, max_age_s, now);
  json failures = json::object();
  for (const auto& [k, v] : s.failures) failures[k] = v;
  return {{"bundle_serial", b.serial},
          {"bundle_created", t(b.created)},
          {"bundle_valid_until", t(b.valid_until)},
          {"last_attempt", t(s.last_attempt)},
          {"last_success", t(s.last_success)},
          {"last_failure", t(s.last_failure)},
          {"last_error", s.last_error.empty() ? json(nullptr) : json(s.last_error)},
          {"last_error_reason", s.last_error_reason.empty() ? json(nullptr) : json(s.last_error_reason)},
          {"consecutive_failures", s.consecutive_failures},
          {"next_retry", t(s.next_retry)},
          {"failures", std::move(failures)},
          {"high_water_serial", s.high_water},
          {"held_serial", s.held_serial ? json(s.held_serial) : json(nullptr)},
          {"trusted_time", t(s.trusted_time)},
          {"clock_behind_trusted_time", h.clock_behind},
          {"degraded", h.degraded},
          {"problems", h.reasons}};
}

std::string update_metrics_text(const UpdateState& s, const ServedBundle& b, int64_t now) {
  std::string o;
  auto gauge = [&](const char* name, const char* help, const std::string& value) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " + value +
         "\n";
  };
  gauge("hedge_update_last_success_timestamp_seconds", "Unix time of the last successful hedge update.",
        std::to_string(s.last_success));
  gauge("hedge_update_last_attempt_timestamp_seconds", "Unix time of the last hedge update attempt.",
        std::to_string(s.last_attempt));
  gauge("hedge_update_consecutive_failures", "Failed hedge update runs since the last success.",
        std::to_string(s.consecutive_failures));
  o += "# HELP hedge_update_failures_total Failed hedge update runs by reason.\n"
       "# TYPE hedge_update_failures_total counter\n";
  // Every reason, zero or not, so rate() works from the first failure.
  for (int i = 1; i <= static_cast<int>(Reason::other); ++i) {
    const char* r = to_string(static_cast<Reason>(i));
    const auto it = s.failures.find(r);
    o += std::string("hedge_update_failures_total{reason=\"") + r + "\"} " +
         std::to_string(it == s.failures.end() ? 0 : it->second) + "\n";
  }
  gauge("hedge_bundle_serial", "Serial (manifest version) of the list bundle being served.",
        std::to_string(b.serial));
  gauge("hedge_bundle_valid_until_timestamp_seconds", "Unix time after which the served bundle is stale.",
        std::to_string(b.valid_until));
  gauge("hedge_clock_behind_trusted_time", "1 when the system clock is earlier than the newest trusted time.",
        now < s.trusted_time ? "1" : "0");
  return o;
}

}  // namespace hedge::update
