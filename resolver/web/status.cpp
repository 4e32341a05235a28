// web/status: health reasons, the /status JSON document and the Prometheus exposition.
#include "web/status.hpp"

#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "blocklists/update/status.hpp"

namespace hedge::web {

int64_t bundle_max_age_s(const config::Config& cfg) noexcept {
  return cfg.update.max_age_s > 0 ? cfg.update.max_age_s : int64_t{36} * 3600;
}

int64_t parse_iso_utc(const std::string& s) noexcept {
  // "YYYY-MM-DDTHH:MM:SS" (a trailing Z or fraction is ignored).
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return 0;
  auto num = [&](std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (y < 0 || mo < 1 || d < 1 || h < 0 || mi < 0 || se < 0) return 0;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return static_cast<int64_t>(timegm(&tm));
}

namespace {

int64_t bundle_created(const lists::Bundle& b) {
  return b.created_at() ? b.created_at() : parse_iso_utc(b.created());
}

int64_t bundle_age(const StatusInputs& in) {
  const int64_t created = bundle_created(*in.snap->bundle);
  return created ? std::max<int64_t>(0, in.now - created) : -1;
}

// The bundle actually serving: its own signed manifest, not the state file's idea of it.
update::ServedBundle served(const StatusInputs& in) {
  const auto& b = *in.snap->bundle;
  return {b.version(), bundle_created(b), b.valid_until()};
}

// Before the first read (or with no state file) the updater has recorded nothing.
const update::UpdateState& update_state(const StatusInputs& in) {
  static const update::UpdateState kNone;
  return in.update ? *in.update : kNone;
}

// The system clock as it reads (update_health compares it with the trusted time itself).
int64_t clock_now(const StatusInputs& in) {
  return in.clock_now ? in.clock_now : in.now;
}

bool lists_broken(const StatusInputs& in) {
  return in.metrics.lists_broken || in.snap->bundle->broken();
}

bool upstream_down(const StatusInputs& in) {
  if (in.upstreams.empty()) return true;
  for (const auto& s : in.upstreams)
    if (s.consecutive_failures == 0) return false;
  const int64_t window = int64_t{in.snap->config.monitoring.upstream_health_s} * 1000;
  return in.now_ms - in.last_upstream_answer_ms >= window;
}

uint64_t total_queries(const util::Metrics& m) {
  uint64_t t = 0;
  for (auto q : m.queries) t += q;
  return t;
}

std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::vector<std::string> health_reasons(const StatusInputs& in) {
  std::vector<std::string> r;
  const auto& cfg = in.snap->config;
  if (upstream_down(in))
    r.push_back("upstream: no upstream server answered in the last " +
                std::to_string(cfg.monitoring.upstream_health_s) + " s");
  const auto& b = *in.snap->bundle;
  if (lists_broken(in))
    r.push_back(
        "lists: a file of the bundle in use changed on disk after it was verified: queries that need "
        "it get SERVFAIL until a good bundle is loaded (hedge update, or restore it and reload)");
  if (b.dir().empty()) {
    r.push_back("lists: no bundle loaded");
  } else if (bundle_age(in) < 0) {
    r.push_back("lists: the bundle has no creation time");
  }
  // Older than [update] max_age, past its valid-until (neither with no bundle: created_at and
  // valid_until are 0), or a clock earlier than the trusted time.
  for (auto& x :
       update::update_health(update_state(in), served(in), bundle_max_age_s(cfg), clock_now(in)).reasons)
    r.push_back(std::move(x));
  if (in.monitor) {
    if (!in.monitor->writable) r.push_back("store: the monitoring store is not writable (see the log)");
    const int64_t n = in.monitor->unacked_incidents;
    if (n > 0)
      r.push_back("safeguarding: " + std::to_string(n) + " unacknowledged incident" + (n == 1 ? "" : "s") +
                  " (hedge incident ack ID --by WHO --note TEXT)");
  }
  // Alerts that cannot go out: the DSL would not hear of an incident.
  if (in.alerts && in.alerts->enabled && in.alerts->queued > 0 && in.alerts->last_failed_at > 0 &&
      in.alerts->last_failed_at >= in.alerts->last_sent_at)
    r.push_back("alerts: " + std::to_string(in.alerts->queued) + " alert" +
                (in.alerts->queued == 1 ? "" : "s") + " waiting to be sent; the last try failed: " +
                in.alerts->last_error + " (check [alerts] smtp / webhook; they are retried)");
  if (in.check && !in.check->ok())
    r.push_back("filtering check: " + in.check->summary() + ": " + in.check->details() +
                " (hedge check --config FILE shows every row)");
  if (in.system && in.system->time_unsynchronised)
    r.push_back("time: the system clock is not synchronised (" + in.system->time_source + ")");
  if (in.system && in.system->boot.unconfigured())
    r.push_back(
        "config: hedge.toml on the boot partition has errors and there are no earlier good settings: "
        "running with the built-in settings (see hedge-errors.txt)");
  return r;
}

std::string status_json(const StatusInputs& in) {
  using nlohmann::json;
  const auto& m = in.metrics;
  const auto& b = *in.snap->bundle;
  json j;
  j["version"] = kVersion;
  j["uptime_s"] = in.now - in.started;
  j["time"] = in.now;
  const auto reasons = health_reasons(in);
  j["healthy"] = reasons.empty();
  j["health"] = reasons;
  json bundle;
  bundle["version"] = b.version();
  bundle["created"] = b.created();
  bundle["age_s"] = bundle_age(in);
  bundle["max_age_s"] = bundle_max_age_s(in.snap->config);
  bundle["valid_until"] = b.valid_until();
  bundle["channel"] = b.channel();
  bundle["broken"] = lists_broken(in);
  bundle["entries"] = b.entries();
  json cats = json::object();
  for (const auto& c : b.categories())
    if (!c.confidential) cats[c.id] = c.entries;
  bundle["categories"] = cats;
  j["bundle"] = bundle;
  // `hedge update`: last attempt, last success, last error, failures by reason, backoff.
  json upd = update::update_status_json(update_state(in), served(in), bundle_max_age_s(in.snap->config),
                                        clock_now(in));
  upd["state_read"] = in.update != nullptr;
  j["update"] = std::move(upd);
  if (in.system) {
    const auto& sys = *in.system;
    j["time_sync"] = {
        {"source", sys.time_source.empty() ? json(nullptr) : json(sys.time_source)},
        {"synchronised", sys.time_source.empty() ? json(nullptr) : json(!sys.time_unsynchronised)}};
    if (sys.boot.present)
      j["boot"] = {{"config_status", sys.boot.config_error ? "error" : "ok"},
                   {"config_source", sys.boot.config_source},
                   {"errors", sys.boot.errors}};
  }
  json ups = json::array();
  for (const auto& s : in.upstreams) {
    ups.push_back({{"address", s.address},
                   {"srtt_ms", s.srtt_ms},
                   {"answers", s.answers},
                   {"failures", s.failures},
                   {"consecutive_failures", s.consecutive_failures},
                   {"healthy", s.consecutive_failures == 0}});
  }
  j["upstream"] = {
      {"servers", ups},
      {"queries", m.upstream_queries},
      {"timeouts", m.upstream_timeouts},
      {"errors", m.upstream_errors},
      {"latency_avg_ms", m.upstream_queries
                             ? static_cast<double>(m.upstream_latency_sum_us) / 1000.0 /
                                   static_cast<double>(std::max<uint64_t>(1,
                                                                          [&] {
                                                                            uint64_t n = 0;
                                                                            for (auto x : m.upstream_latency)
                                                                              n += x;
                                                                            return n;
                                                                          }()))
                             : 0.0}};
  const uint64_t lookups = m.cache_hits + m.cache_misses;
  j["cache"] = {
      {"entries", in.cache_entries},
      {"hits", m.cache_hits},
      {"misses", m.cache_misses},
      {"hit_rate", lookups ? static_cast<double>(m.cache_hits) / static_cast<double>(lookups) : 0.0}};
  json q = json::object();
  for (int i = 0; i < static_cast<int>(util::Result::count_); ++i)
    q[util::result_name(static_cast<util::Result>(i))] = m.queries[static_cast<std::size_t>(i)];
  j["queries"] = {
      {"total", total_queries(m)}, {"by_result", q}, {"qps_1m", in.qps_1m}, {"qps_15m", in.qps_15m}};
  if (in.monitor) {
    json by_cat = json::object(), by_group = json::object();
    for (const auto& [k, n] : in.monitor->blocked) {
      const std::string cat = k.second.empty() ? "(none)" : k.second;
      by_cat[cat] = by_cat.value(cat, uint64_t{0}) + n;
      by_group[k.first] = by_group.value(k.first, uint64_t{0}) + n;
    }
    j["blocked"] = {{"by_category", by_cat}, {"by_group", by_group}};
    const auto& st = *in.monitor;
    j["store"] = {{"queue_depth", st.queue_depth},
                  {"dropped", st.dropped},
                  {"events_written", st.events_written},
                  {"batches", st.batches},
                  {"write_errors", st.write_errors},
                  {"writable", st.writable},
                  {"unacknowledged_incidents", st.unacked_incidents},
                  {"syslog_sent", st.syslog_sent},
                  {"syslog_dropped", st.syslog_dropped},
                  {"devices", st.devices}};
    json inc = json::array();
    for (const auto& r : st.recent) inc.push_back({{"at", r.at}, {"category", r.category}});
    j["incidents"] = inc;
  }
  json http = json::array();
  for (const auto& l : in.listeners) {
    json by_status = json::object();
    for (const auto& [code, n] : l.responses) by_status[std::to_string(code)] = n;
    http.push_back({{"listener", l.name},
                    {"address", l.address},
                    {"connections", l.connections},
                    {"accepted", l.accepted},
                    {"rejected", l.rejected},
                    {"held_back", l.held_back},
                    {"responses", by_status}});
  }
  j["http"] = http;
  if (in.alerts)
    j["alerts"] = {{"enabled", in.alerts->enabled},
                   {"sent", in.alerts->sent},
                   {"failed_attempts", in.alerts->failed},
                   {"queued", in.alerts->queued < 0 ? nlohmann::json(nullptr)  // not counted yet
                                                    : nlohmann::json(in.alerts->queued)},
                   {"last_sent_at", in.alerts->last_sent_at},
                   {"last_failed_at", in.alerts->last_failed_at},
                   {"last_error", in.alerts->last_error}};
  if (in.check)
    j["filtering_check"] = {
        {"ok", in.check->ok()},           {"at", in.check_at},
        {"summary", in.check->summary()}, {"tested", in.check->tested},
        {"failed", in.check->failed},     {"categories_without_a_list", in.check->no_list},
        {"details", in.check->details()}};
  return j.dump(2) + "\n";
}

std::string metrics_text(const StatusInputs& in) {
  const auto& m = in.metrics;
  const auto& b = *in.snap->bundle;
  std::string o;
  o.reserve(8192);
  auto help = [&](const char* name, const char* type, const char* text) {
    o += "# HELP ";
    o += name;
    o += " ";
    o += text;
    o += "\n# TYPE ";
    o += name;
    o += " ";
    o += type;
    o += "\n";
  };
  auto line = [&](const std::string& name_labels, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.17g\n", v);
    o += name_labels;
    o += buf;
  };
  auto u = [&](const std::string& nl, uint64_t v) { o += nl + " " + std::to_string(v) + "\n"; };
  help("hedge_build_info", "gauge", "Hedge version.");
  o += std::string("hedge_build_info{version=\"") + kVersion + "\"} 1\n";
  help("hedge_uptime_seconds", "gauge", "Seconds since hedge serve started.");
  u("hedge_uptime_seconds", static_cast<uint64_t>(std::max<int64_t>(0, in.now - in.started)));
  help("hedge_healthy", "gauge", "1 when /health answers 200.");
  u("hedge_healthy", health_reasons(in).empty() ? 1 : 0);
  help("hedge_queries_total", "counter", "DNS queries by result.");
  for (int i = 0; i < static_cast<int>(util::Result::count_); ++i)
    u(std::string("hedge_queries_total{result=\"") + util::result_name(static_cast<util::Result>(i)) + "\"}",
      m.queries[static_cast<std::size_t>(i)]);
  help("hedge_blocked_total", "counter", "Blocked queries by category and client group.");
  if (in.monitor) {
    for (const auto& [k, n] : in.monitor->blocked)
      u("hedge_blocked_total{category=\"" + label(k.second) + "\",group=\"" + label(k.first) + "\"}", n);
  }
  help("hedge_cache_hits_total", "counter", "Answers served from the cache.");
  u("hedge_cache_hits_total", m.cache_hits);
  help("hedge_cache_misses_total", "counter", "Cache lookups that missed.");
  u("hedge_cache_misses_total", m.cache_misses);
  help("hedge_cache_entries", "gauge", "Answers in the cache.");
  u("hedge_cache_entries", in.cache_entries);
  help("hedge_upstream_queries_total", "counter", "Queries sent upstream.");
  u("hedge_upstream_queries_total", m.upstream_queries);
  help("hedge_upstream_failures_total", "counter", "Upstream tries that failed, by reason.");
  u("hedge_upstream_failures_total{reason=\"timeout\"}", m.upstream_timeouts);
  u("hedge_upstream_failures_total{reason=\"error\"}", m.upstream_errors);
  u("hedge_upstream_failures_total{reason=\"mismatch\"}", m.upstream_mismatched);
  help("hedge_upstream_up", "gauge", "1 when the upstream server's last try succeeded.");
  for (const auto& s : in.upstreams)
    u("hedge_upstream_up{server=\"" + label(s.address) + "\"}", s.consecutive_failures == 0 ? 1 : 0);
  help("hedge_upstream_latency_seconds", "histogram", "Time from the first upstream try to the reply.");
  uint64_t cum = 0;
  for (std::size_t i = 0; i < util::Metrics::latency_bounds_ms.size(); ++i) {
    cum += m.upstream_latency[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", util::Metrics::latency_bounds_ms[i] / 1000.0);
    u(std::string("hedge_upstream_latency_seconds_bucket{le=\"") + le + "\"}", cum);
  }
  cum += m.upstream_latency.back();
  u("hedge_upstream_latency_seconds_bucket{le=\"+Inf\"}", cum);
  line("hedge_upstream_latency_seconds_sum", static_cast<double>(m.upstream_latency_sum_us) / 1e6);
  u("hedge_upstream_latency_seconds_count", cum);
  help("hedge_bundle_age_seconds", "gauge", "Age of the list bundle in use (-1: unknown).");
  line("hedge_bundle_age_seconds", static_cast<double>(bundle_age(in)));
  help("hedge_bundle_entries", "gauge", "Entries in the list bundle in use.");
  u("hedge_bundle_entries", b.entries());
  help("hedge_reloads_total", "counter", "Configuration and list reloads by result.");
  u("hedge_reloads_total{result=\"ok\"}", m.reloads_ok);
  u("hedge_reloads_total{result=\"failed\"}", m.reloads_failed);
  if (in.monitor) {
    const auto& st = *in.monitor;
    help("hedge_store_queue_depth", "gauge", "Monitoring events waiting to be written.");
    u("hedge_store_queue_depth", st.queue_depth);
    help("hedge_store_dropped_total", "counter", "Monitoring events dropped because the queue was full.");
    u("hedge_store_dropped_total", st.dropped);
    help("hedge_store_events_written_total", "counter", "Blocked-attempt entries written to the store.");
    u("hedge_store_events_written_total", st.events_written);
    help("hedge_store_write_errors_total", "counter", "Monitoring batches that could not be written.");
    u("hedge_store_write_errors_total", st.write_errors);
    help("hedge_store_writable", "gauge", "1 when the last monitoring write succeeded.");
    u("hedge_store_writable", st.writable ? 1 : 0);
    help("hedge_incidents_total", "counter", "Safeguarding incidents raised since start.");
    u("hedge_incidents_total", st.incidents);
    help("hedge_incidents_unacknowledged", "gauge", "Safeguarding incidents not yet acknowledged.");
    u("hedge_incidents_unacknowledged", static_cast<uint64_t>(std::max<int64_t>(0, st.unacked_incidents)));
    help("hedge_review_requests_total", "counter", "Block-page review requests stored since start.");
    u("hedge_review_requests_total", st.reviews);
    help("hedge_syslog_messages_total", "counter", "Syslog messages by outcome.");
    u("hedge_syslog_messages_total{outcome=\"sent\"}", st.syslog_sent);
    u("hedge_syslog_messages_total{outcome=\"dropped\"}", st.syslog_dropped);
  }
  // Listeners of one name (e.g. the block page on IPv4 and IPv6) are one series.
  std::map<std::string, std::map<int, uint64_t>> by_listener;
  std::map<std::string, std::pair<uint64_t, uint64_t>> conns;  // rejected, open
  std::map<std::string, uint64_t> held;
  for (const auto& l : in.listeners) {
    held[l.name] += l.held_back;
    for (const auto& [code, n] : l.responses) by_listener[l.name][code] += n;
    conns[l.name].first += l.rejected;
    conns[l.name].second += l.connections;
  }
  help("hedge_http_requests_total", "counter", "HTTP responses by listener and status code.");
  for (const auto& [name, codes] : by_listener)
    for (const auto& [code, n] : codes)
      u("hedge_http_requests_total{listener=\"" + label(name) + "\",status=\"" + std::to_string(code) + "\"}",
        n);
  help("hedge_http_connections_rejected_total", "counter", "HTTP connections refused by a connection cap.");
  for (const auto& [name, c] : conns)
    u("hedge_http_connections_rejected_total{listener=\"" + label(name) + "\"}", c.first);
  help("hedge_http_held_back_total", "counter",
       "Times a connection waited because its listener reached [http] max_requests_per_second.");
  for (const auto& [name, n] : held) u("hedge_http_held_back_total{listener=\"" + label(name) + "\"}", n);
  help("hedge_http_connections", "gauge", "Open HTTP connections.");
  for (const auto& [name, c] : conns) u("hedge_http_connections{listener=\"" + label(name) + "\"}", c.second);
  // hedge_update_*, hedge_bundle_serial, hedge_bundle_valid_until_timestamp_seconds,
  // hedge_clock_behind_trusted_time: one family each, only from here.
  o += update::update_metrics_text(update_state(in), served(in), clock_now(in));
  help("hedge_lists_broken", "gauge", "1 when a file of the bundle in use changed after it was verified.");
  u("hedge_lists_broken", lists_broken(in) ? 1 : 0);
  if (in.alerts) {
    help("hedge_alerts_sent_total", "counter", "Alert emails and webhook posts sent since start.");
    u("hedge_alerts_sent_total", in.alerts->sent);
    help("hedge_alerts_failed_total", "counter", "Alert sending attempts that failed since start (retried).");
    u("hedge_alerts_failed_total", in.alerts->failed);
    help("hedge_alerts_queued", "gauge", "Alerts not sent yet (due or waiting for a retry).");
    u("hedge_alerts_queued", static_cast<uint64_t>(std::max<int64_t>(0, in.alerts->queued)));
    help("hedge_alerts_enabled", "gauge", "1 when [alerts] has an SMTP relay or a webhook.");
    u("hedge_alerts_enabled", in.alerts->enabled ? 1 : 0);
  }
  if (in.check) {
    help("hedge_filtering_check_failures", "gauge",
         "Test names the built-in filtering check found NOT blocked (0: all blocked as expected).");
    u("hedge_filtering_check_failures", static_cast<uint64_t>(in.check->failed));
    help("hedge_filtering_check_timestamp_seconds", "gauge", "When the built-in filtering check last ran.");
    u("hedge_filtering_check_timestamp_seconds", static_cast<uint64_t>(std::max<int64_t>(0, in.check_at)));
  }
  help("hedge_time_synchronised", "gauge", "0 when the system says the clock is not synchronised.");
  u("hedge_time_synchronised", in.system && in.system->time_unsynchronised ? 0 : 1);
  return o;
}

}  // namespace hedge::web
