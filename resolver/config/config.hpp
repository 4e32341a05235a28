// config/config: the TOML configuration (toml++), validated in one pass that
// collects every error as `file:line: key: message`.
//
// Fixed at start (a change needs a restart; reload warns and keeps the old):
//   server.listen
// Reloaded on SIGHUP (validated first; any error keeps the old snapshot):
//   everything else: allow_clients, rate limits, TCP limits, upstreams,
//   lists, block answers, cache limits, log level, policy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/alerts_config.hpp"
#include "config/console_config.hpp"
#include "config/network.hpp"
#include "config/update_config.hpp"
#include "config/web_config.hpp"
#include "policy/policy_config.hpp"
#include "util/address.hpp"
#include "util/errors.hpp"

namespace hedge::config {

// The error type is shared with policy/ (util/errors.hpp); config code names it unqualified.
using util::ConfigError;
using util::ConfigErrors;

struct ServerConfig {
  std::vector<util::SockAddr> listen;
  std::vector<util::Cidr> allow_clients;
  uint32_t rate_limit_qps = 1000;  // per client address; 0 = off
  uint32_t rate_limit_burst = 2000;
  uint32_t rate_limit_prefix_qps = 0;    // aggregate per IPv6 /64; 0 = off
  uint32_t rate_limit_prefix_burst = 0;  // 0 = twice rate_limit_prefix_qps
  uint32_t tcp_idle_timeout_ms = 10000;
  uint32_t tcp_max_connections = 256;
  uint32_t tcp_max_connections_per_client = 16;  // one address cannot take every slot
  uint32_t tcp_read_timeout_ms = 2000;           // one message, first byte to last
  uint32_t tcp_max_queries_per_connection = 1000;
  uint32_t tcp_max_inflight_per_connection = 32;
  uint32_t max_udp_size = 1232;  // the DNS flag day 2020 default
};

struct UpstreamConfig {
  std::vector<util::SockAddr> servers;  // empty in the file: first nameserver of /etc/resolv.conf
  bool from_resolv_conf = false;
  int servers_line = 0;       // where `servers` was set
  uint32_t timeout_ms = 400;  // retransmit timeout until a server's round-trip time is measured
  uint32_t attempts = 5;      // most queries sent for one question, over all servers
  uint32_t budget_ms = 4000;  // total time for one question (then SERVFAIL or a stale answer)
  uint32_t max_inflight = 10000;
};

struct ListsConfig {
  std::string bundle;         // empty: no lists (only for tests; warns loudly)
  int bundle_line = 0;        // where `bundle` was set, for errors found when opening it
  bool verify_hashes = true;  // re-hash the big public cdb at every load (off the loop; see bundle.hpp)
  // A reload's checks (hashing, cdb walks) use at most this share of one
  // core, on a thread at nice 19 (util/pacer.hpp; docs/decisions/0073).
  uint32_t reload_cpu_percent = 10;
};

struct BlockConfig {
  std::string ipv4, ipv6;  // as written; parsed into the BlockSettings
  bool has_v4 = false, has_v6 = false;
  bool v4_self = false, v6_self = false;  // "self": the local address the query arrived on
  util::SockAddr v4, v6;
  uint32_t ttl = 60;
};

struct CacheConfig {
  uint32_t size_mb = 64;
  uint32_t min_ttl = 0;
  uint32_t max_ttl = 86400;
  uint32_t max_negative_ttl = 3600;
  uint32_t serve_stale_s = 86400;  // RFC 8767: bounded
};

struct Config {
  std::string path;
  ServerConfig server;
  UpstreamConfig upstream;
  ListsConfig lists;
  BlockConfig block;
  CacheConfig cache;
  std::string log_level = "info";
  std::string fake_clock_file;  // [debug] fake_clock_file: tests drive the policy clock
  policy::PolicyConfig policy;  // [[schedule]], [[group]], [policy], [store] (policy/policy_config)
  NetworkConfig network;        // [network]: the appliance's own interface (config/network)
  UpdateConfig update;          // [update] (config/update_config)
  HttpConfig http;              // [http], [school], [monitoring] (config/web_config)
  SchoolConfig school;
  MonitoringConfig monitoring;
  ConsoleConfig console;  // [http] console_listen, tls_cert, tls_key (config/console_config)
  AlertsConfig alerts;    // [alerts] (config/alerts_config)
};

// Parses and validates `path`. Returns true when errs is empty.
bool load_config(const std::string& path, Config& out, ConfigErrors& errs);
bool load_config_text(std::string_view text, const std::string& path, Config& out, ConfigErrors& errs);

// First `nameserver` of resolv.conf (port 53), if any.
std::optional<util::SockAddr> resolv_conf_nameserver(const std::string& path = "/etc/resolv.conf");

}  // namespace hedge::config
