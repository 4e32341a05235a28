// config/web_config: the [http], [school] and [monitoring] tables (issue 8):
// the block page and status listeners, their limits, what the block page
// says, and the monitoring store's retention, devices file and syslog export.
//
// Fixed at start: the listen addresses. Reloaded on SIGHUP: everything else.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "http/limits.hpp"
#include "util/address.hpp"
#include "util/errors.hpp"

namespace hedge::config {

struct HttpConfig {
  std::vector<util::SockAddr> block_page_listen;  // absent: no block page listener
  std::vector<util::SockAddr> status_listen;      // absent: no status listener
  std::vector<util::Cidr> status_clients;         // who may read /health, /status, /metrics
  http::Limits limits;
  uint32_t review_requests_per_hour = 10;  // block-page review form, per client address
};

struct SchoolConfig {
  std::string name = "this school";
  std::string contact = "Ask your teacher.";
  std::string language = "en";  // en | cy
};

struct MonitoringConfig {
  uint32_t retention_days = 90;             // events, incidents, review requests
  uint32_t aggregate_retention_days = 400;  // hourly counts
  bool log_all_queries = false;             // per-query rows for allowed traffic (rule 'allowed')
  uint32_t all_queries_retention_days = 7;  // those rows' own retention
  std::string devices;                      // dnsmasq / ISC dhcpd leases / CSV, "" = none
  std::string syslog;                       // "udp://host:port" | "tcp://host:port", "" = none
  util::SockAddr syslog_addr;
  bool syslog_tcp = false;
  std::vector<std::string> alert_categories = {"child-abuse", "terrorism", "self-harm"};
  uint32_t queue_max = 65536;       // events buffered on the DNS loop before drops
  uint32_t flush_ms = 1000;         // batch hand-off to the store thread
  uint32_t store_cpu_percent = 10;  // the most of a core writing a backlog may take (util/pacer.hpp)
  uint32_t upstream_health_s = 60;  // /health fails when no upstream answered for this long
};

// Handles ONLY the top-level tables http, school and monitoring of `root`.
void parse_web_config(const toml::table& root, HttpConfig& http, SchoolConfig& school, MonitoringConfig& mon,
                      util::ConfigErrors& errs);

// "udp://192.0.2.10:514" / "tcp://[2001:db8::1]:6514" (port default 514).
bool parse_syslog_target(std::string_view s, util::SockAddr& addr, bool& tcp, std::string& why);

}  // namespace hedge::config
