// config/web_config: parsing and validation of [http], [school], [monitoring].
#include "config/web_config.hpp"

namespace hedge::config {
using util::ConfigErrors;
namespace {

void unknown(const toml::table& t, std::string_view prefix, std::initializer_list<std::string_view> known,
             ConfigErrors& errs) {
  for (auto&& [k, v] : t) {
    bool ok = false;
    for (auto kn : known) ok = ok || k.str() == kn;
    if (!ok) errs.add(v, std::string(prefix) + std::string(k.str()), "unknown key");
  }
}

void uint_key(const toml::table& t, std::string_view sec, std::string_view key, uint32_t& out, uint32_t lo,
              uint32_t hi, ConfigErrors& errs) {
  const toml::node* n = t.get(key);
  if (!n) return;
  const std::string k = std::string(sec) + "." + std::string(key);
  auto v = n->value<int64_t>();
  if (!n->is_integer() || !v) {
    errs.add(*n, k, "must be an integer");
    return;
  }
  if (*v < lo || *v > hi) {
    errs.add(*n, k, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return;
  }
  out = static_cast<uint32_t>(*v);
}

bool string_key(const toml::table& t, std::string_view sec, std::string_view key, std::string& out,
                ConfigErrors& errs) {
  const toml::node* n = t.get(key);
  if (!n) return false;
  if (!n->is_string()) {
    errs.add(*n, std::string(sec) + "." + std::string(key), "must be a string");
    return false;
  }
  out = *n->value<std::string>();
  return true;
}

template <typename F>
void strings(const toml::table& t, std::string_view sec, std::string_view key, ConfigErrors& errs, F f) {
  const toml::node* n = t.get(key);
  if (!n) return;
  const std::string k = std::string(sec) + "." + std::string(key);
  const toml::array* arr = n->as_array();
  if (!arr) {
    errs.add(*n, k, "must be an array of strings");
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    const std::string ek = k + "[" + std::to_string(i) + "]";
    if (!el.is_string()) {
      errs.add(el, ek, "must be a string");
      continue;
    }
    f(el, ek, *el.value<std::string>());
  }
}

void listen_key(const toml::table& t, std::string_view key, std::vector<util::SockAddr>& out,
                ConfigErrors& errs) {
  strings(t, "http", key, errs, [&](const toml::node& n, const std::string& k, const std::string& s) {
    auto a = util::parse_sockaddr(s);
    if (!a)
      errs.add(n, k, "'" + s + "' is not an address with a port (e.g. \"0.0.0.0:80\" or \"[::]:80\")");
    else
      out.push_back(*a);
  });
}

void parse_http(const toml::table& t, HttpConfig& h, ConfigErrors& errs) {
  unknown(t, "http.",
          {"block_page_listen", "status_listen", "status_clients", "max_header_bytes", "max_body_bytes",
           "max_connections", "max_connections_per_client", "idle_timeout_ms", "request_timeout_ms",
           "max_requests_per_connection", "rate_limit_per_client", "rate_limit_burst", "max_pipelined",
           "max_requests_per_second", "review_requests_per_hour", "console_listen", "tls_cert", "tls_key"},
          errs);
  listen_key(t, "block_page_listen", h.block_page_listen, errs);
  listen_key(t, "status_listen", h.status_listen, errs);
  if (t.get("status_clients")) h.status_clients.clear();
  strings(t, "http", "status_clients", errs,
          [&](const toml::node& n, const std::string& k, const std::string& s) {
            std::string why;
            auto c = util::parse_cidr(s, &why);
            if (!c)
              errs.add(n, k, "'" + s + "': " + why);
            else
              h.status_clients.push_back(*c);
          });
  auto& l = h.limits;
  uint_key(t, "http", "max_header_bytes", l.max_header_bytes, 512, 1 << 20, errs);
  uint_key(t, "http", "max_body_bytes", l.max_body_bytes, 0, 16 << 20, errs);
  uint_key(t, "http", "max_connections", l.max_connections, 1, 100000, errs);
  uint_key(t, "http", "max_connections_per_client", l.max_connections_per_client, 1, 100000, errs);
  uint_key(t, "http", "idle_timeout_ms", l.idle_timeout_ms, 100, 600000, errs);
  uint_key(t, "http", "request_timeout_ms", l.request_timeout_ms, 100, 600000, errs);
  uint_key(t, "http", "max_requests_per_connection", l.max_requests_per_connection, 1, 1000000, errs);
  uint_key(t, "http", "rate_limit_per_client", l.rate_limit_per_client, 0, 1000000, errs);
  uint_key(t, "http", "rate_limit_burst", l.rate_limit_burst, 1, 10000000, errs);
  uint_key(t, "http", "max_pipelined", l.max_pipelined, 1, 1024, errs);
  uint_key(t, "http", "max_requests_per_second", l.max_requests_per_second, 0, 10000000, errs);
  uint_key(t, "http", "review_requests_per_hour", h.review_requests_per_hour, 0, 10000, errs);
}

void parse_school(const toml::table& t, SchoolConfig& s, ConfigErrors& errs) {
  unknown(t, "school.", {"name", "contact", "language"}, errs);
  string_key(t, "school", "name", s.name, errs);
  string_key(t, "school", "contact", s.contact, errs);
  std::string lang;
  if (string_key(t, "school", "language", lang, errs)) {
    if (lang != "en" && lang != "cy")
      errs.add(*t.get("language"), "school.language", "must be \"en\" (English) or \"cy\" (Welsh)");
    else
      s.language = lang;
  }
}

void parse_monitoring(const toml::table& t, MonitoringConfig& m, ConfigErrors& errs) {
  unknown(t, "monitoring.",
          {"retention_days", "aggregate_retention_days", "log_all_queries", "all_queries_retention_days",
           "devices", "syslog", "alert_categories", "queue_max", "flush_ms", "upstream_health_s",
           "store_cpu_percent"},
          errs);
  uint_key(t, "monitoring", "retention_days", m.retention_days, 1, 3650, errs);
  uint_key(t, "monitoring", "aggregate_retention_days", m.aggregate_retention_days, 1, 3650, errs);
  uint_key(t, "monitoring", "all_queries_retention_days", m.all_queries_retention_days, 1, 3650, errs);
  uint_key(t, "monitoring", "queue_max", m.queue_max, 16, 10000000, errs);
  uint_key(t, "monitoring", "flush_ms", m.flush_ms, 10, 60000, errs);
  uint_key(t, "monitoring", "store_cpu_percent", m.store_cpu_percent, 1, 100, errs);
  uint_key(t, "monitoring", "upstream_health_s", m.upstream_health_s, 1, 86400, errs);
  if (const toml::node* n = t.get("log_all_queries")) {
    if (!n->is_boolean())
      errs.add(*n, "monitoring.log_all_queries", "must be true or false");
    else
      m.log_all_queries = *n->value<bool>();
  }
  string_key(t, "monitoring", "devices", m.devices, errs);
  if (string_key(t, "monitoring", "syslog", m.syslog, errs) && !m.syslog.empty()) {
    std::string why;
    if (!parse_syslog_target(m.syslog, m.syslog_addr, m.syslog_tcp, why))
      errs.add(*t.get("syslog"), "monitoring.syslog", "'" + m.syslog + "': " + why);
  }
  if (t.get("alert_categories")) m.alert_categories.clear();
  strings(t, "monitoring", "alert_categories", errs,
          [&](const toml::node& n, const std::string& k, const std::string& s) {
            if (s.empty())
              errs.add(n, k, "must not be empty");
            else
              m.alert_categories.push_back(s);
          });
}

}  // namespace

bool parse_syslog_target(std::string_view s, util::SockAddr& addr, bool& tcp, std::string& why) {
  std::string_view rest;
  if (s.compare(0, 6, "udp://") == 0) {
    tcp = false;
    rest = s.substr(6);
  } else if (s.compare(0, 6, "tcp://") == 0) {
    tcp = true;
    rest = s.substr(6);
  } else {
    why = "must start with udp:// or tcp:// (e.g. \"udp://192.0.2.10:514\")";
    return false;
  }
  auto a = util::parse_sockaddr(rest, 514);
  if (!a) {
    why = "'" + std::string(rest) + "' is not an IP address with an optional port (names are not resolved)";
    return false;
  }
  addr = *a;
  return true;
}

void parse_web_config(const toml::table& root, HttpConfig& http, SchoolConfig& school, MonitoringConfig& mon,
                      ConfigErrors& errs) {
  http.status_clients = {*util::parse_cidr("127.0.0.0/8"), *util::parse_cidr("::1/128")};
  auto table = [&](std::string_view name) -> const toml::table* {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
      errs.add(*n, std::string(name), "must be a table ([" + std::string(name) + "])");
      return nullptr;
    }
    return n->as_table();
  };
  if (auto* t = table("http")) parse_http(*t, http, errs);
  if (auto* t = table("school")) parse_school(*t, school, errs);
  if (auto* t = table("monitoring")) parse_monitoring(*t, mon, errs);
}

}  // namespace hedge::config
