// config/config: toml++ parsing into Config; every key checked, every error kept.
#include "config/config.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "util/log.hpp"

namespace hedge::config {
namespace {

// Reports keys of `t` not in `known` (typos in a filter config are dangerous).
void reject_unknown(const toml::table& t, std::string_view prefix,
                    std::initializer_list<std::string_view> known, ConfigErrors& errs) {
  for (auto&& [k, v] : t) {
    bool ok = false;
    for (auto kn : known) ok = ok || k.str() == kn;
    if (!ok) {
      errs.add(v, std::string(prefix) + std::string(k.str()), "unknown key");
    }
  }
}

const toml::table* section(const toml::table& root, std::string_view name, ConfigErrors& errs) {
  const toml::node* n = root.get(name);
  if (!n) return nullptr;
  if (!n->is_table()) {
    errs.add(*n, std::string(name), "must be a table ([" + std::string(name) + "])");
    return nullptr;
  }
  return n->as_table();
}

void get_uint(const toml::table& t, std::string_view sec, std::string_view key, uint32_t& out, uint32_t lo,
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

std::optional<std::string> get_string(const toml::table& t, std::string_view sec, std::string_view key,
                                      ConfigErrors& errs) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) {
    errs.add(*n, std::string(sec) + "." + std::string(key), "must be a string");
    return std::nullopt;
  }
  return n->value<std::string>();
}

std::optional<bool> get_bool(const toml::table& t, std::string_view sec, std::string_view key,
                             ConfigErrors& errs) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_boolean()) {
    errs.add(*n, std::string(sec) + "." + std::string(key), "must be true or false");
    return std::nullopt;
  }
  return n->value<bool>();
}

// Calls f(element, key-with-index) for each string in an array key.
template <typename F>
void each_string(const toml::table& t, std::string_view sec, std::string_view key, ConfigErrors& errs, F f) {
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

void parse_server(const toml::table& t, Config& c, ConfigErrors& errs) {
  reject_unknown(t, "server.",
                 {"listen", "allow_clients", "rate_limit_qps", "rate_limit_burst", "rate_limit_prefix_qps",
                  "rate_limit_prefix_burst", "tcp_idle_timeout_ms", "tcp_max_connections",
                  "tcp_max_queries_per_connection", "tcp_max_inflight_per_connection",
                  "tcp_max_connections_per_client", "tcp_read_timeout_ms", "max_udp_size"},
                 errs);
  if (t.get("listen")) c.server.listen.clear();
  each_string(
      t, "server", "listen", errs, [&](const toml::node& n, const std::string& k, const std::string& s) {
        auto a = util::parse_sockaddr(s);
        if (!a)
          errs.add(n, k, "'" + s + "' is not an address with a port (e.g. \"127.0.0.1:53\" or \"[::1]:53\")");
        else
          c.server.listen.push_back(*a);
      });
  if (t.get("allow_clients")) c.server.allow_clients.clear();
  each_string(t, "server", "allow_clients", errs,
              [&](const toml::node& n, const std::string& k, const std::string& s) {
                std::string why;
                auto p = util::parse_cidr(s, &why);
                if (!p)
                  errs.add(n, k, "'" + s + "': " + why);
                else
                  c.server.allow_clients.push_back(*p);
              });
  get_uint(t, "server", "rate_limit_qps", c.server.rate_limit_qps, 0, 10'000'000, errs);
  get_uint(t, "server", "rate_limit_burst", c.server.rate_limit_burst, 1, 100'000'000, errs);
  get_uint(t, "server", "rate_limit_prefix_qps", c.server.rate_limit_prefix_qps, 0, 10'000'000, errs);
  get_uint(t, "server", "rate_limit_prefix_burst", c.server.rate_limit_prefix_burst, 0, 100'000'000, errs);
  get_uint(t, "server", "tcp_idle_timeout_ms", c.server.tcp_idle_timeout_ms, 100, 600'000, errs);
  get_uint(t, "server", "tcp_max_connections", c.server.tcp_max_connections, 1, 100'000, errs);
  get_uint(t, "server", "tcp_max_connections_per_client", c.server.tcp_max_connections_per_client, 1, 100'000,
           errs);
  get_uint(t, "server", "tcp_read_timeout_ms", c.server.tcp_read_timeout_ms, 100, 600'000, errs);
  get_uint(t, "server", "tcp_max_queries_per_connection", c.server.tcp_max_queries_per_connection, 1,
           1'000'000, errs);
  get_uint(t, "server", "tcp_max_inflight_per_connection", c.server.tcp_max_inflight_per_connection, 1, 1024,
           errs);
  get_uint(t, "server", "max_udp_size", c.server.max_udp_size, 512, 4096, errs);
}

void parse_upstream(const toml::table& t, Config& c, ConfigErrors& errs) {
  reject_unknown(t, "upstream.", {"servers", "timeout_ms", "attempts", "budget_ms", "max_inflight"}, errs);
  if (const toml::node* n = t.get("servers")) c.upstream.servers_line = ConfigErrors::line_of(*n);
  each_string(t, "upstream", "servers", errs,
              [&](const toml::node& n, const std::string& k, const std::string& s) {
                auto a = util::parse_sockaddr(s, 53);
                if (!a)
                  errs.add(n, k, "'" + s + "' is not an address (e.g. \"192.0.2.53\" or \"192.0.2.53:53\")");
                else
                  c.upstream.servers.push_back(*a);
              });
  get_uint(t, "upstream", "timeout_ms", c.upstream.timeout_ms, 10, 60'000, errs);
  get_uint(t, "upstream", "attempts", c.upstream.attempts, 1, 10, errs);
  get_uint(t, "upstream", "budget_ms", c.upstream.budget_ms, 100, 60'000, errs);
  if (c.upstream.timeout_ms > c.upstream.budget_ms) {
    const toml::node* n = t.get("timeout_ms") ? t.get("timeout_ms") : t.get("budget_ms");
    if (n) errs.add(*n, "upstream.timeout_ms", "must not exceed upstream.budget_ms");
  }
  get_uint(t, "upstream", "max_inflight", c.upstream.max_inflight, 1, 1'000'000, errs);
}

void parse_lists(const toml::table& t, Config& c, ConfigErrors& errs) {
  reject_unknown(t, "lists.", {"bundle", "verify_hashes", "reload_cpu_percent"}, errs);
  if (auto s = get_string(t, "lists", "bundle", errs)) {
    c.lists.bundle_line = ConfigErrors::line_of(*t.get("bundle"));
    if (s->empty()) errs.add(*t.get("bundle"), "lists.bundle", "must not be empty");
    c.lists.bundle = *s;
  }
  if (auto b = get_bool(t, "lists", "verify_hashes", errs)) c.lists.verify_hashes = *b;
  get_uint(t, "lists", "reload_cpu_percent", c.lists.reload_cpu_percent, 1, 100, errs);
}

void parse_block(const toml::table& t, Config& c, ConfigErrors& errs) {
  reject_unknown(t, "block.", {"ipv4", "ipv6", "ttl"}, errs);
  if (auto s = get_string(t, "block", "ipv4", errs); s && *s == "self") {
    // The address the query arrived on (a wildcard listener's own address).
    c.block.ipv4 = *s;
    c.block.has_v4 = c.block.v4_self = true;
  } else if (s) {
    auto a = util::parse_ip(*s);
    if (!a || a->family() != AF_INET)
      errs.add(*t.get("ipv4"), "block.ipv4", "'" + *s + "' is not an IPv4 address (or \"self\")");
    else {
      c.block.ipv4 = *s;
      c.block.v4 = *a;
      c.block.has_v4 = true;
    }
  }
  if (auto s = get_string(t, "block", "ipv6", errs); s && *s == "self") {
    c.block.ipv6 = *s;
    c.block.has_v6 = c.block.v6_self = true;
  } else if (s) {
    auto a = util::parse_ip(*s);
    if (!a || a->family() != AF_INET6)
      errs.add(*t.get("ipv6"), "block.ipv6", "'" + *s + "' is not an IPv6 address (or \"self\")");
    else {
      c.block.ipv6 = *s;
      c.block.v6 = *a;
      c.block.has_v6 = true;
    }
  }
  get_uint(t, "block", "ttl", c.block.ttl, 1, 86400, errs);
}

void parse_cache(const toml::table& t, Config& c, ConfigErrors& errs) {
  reject_unknown(t, "cache.", {"size_mb", "min_ttl", "max_ttl", "max_negative_ttl", "serve_stale_s"}, errs);
  get_uint(t, "cache", "size_mb", c.cache.size_mb, 1, 65536, errs);
  get_uint(t, "cache", "min_ttl", c.cache.min_ttl, 0, 86400, errs);
  get_uint(t, "cache", "max_ttl", c.cache.max_ttl, 1, 7 * 86400, errs);
  get_uint(t, "cache", "max_negative_ttl", c.cache.max_negative_ttl, 0, 86400, errs);
  get_uint(t, "cache", "serve_stale_s", c.cache.serve_stale_s, 0, 7 * 86400, errs);
  if (c.cache.min_ttl > c.cache.max_ttl) {
    errs.add(*t.get("min_ttl"), "cache.min_ttl", "must not exceed cache.max_ttl");
  }
}

}  // namespace

bool load_config_text(std::string_view text, const std::string& path, Config& c, ConfigErrors& errs) {
  c = Config{};
  c.path = path;
  c.server.listen = {*util::parse_sockaddr("127.0.0.1:53")};
  for (const char* p : {"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
                        "fe80::/10", "169.254.0.0/16"})
    c.server.allow_clients.push_back(*util::parse_cidr(p));
  toml::table root;
  try {
    root = toml::parse(text, std::string_view{path});
  } catch (const toml::parse_error& e) {
    errs.add(static_cast<int>(e.source().begin.line), "(syntax)", std::string(e.description()));
    return false;
  }
  reject_unknown(root, "",
                 {"server", "upstream", "lists", "block", "cache", "log", "debug", "schedule", "group",
                  "policy", "store", "update", "http", "school", "monitoring", "network", "alerts"},
                 errs);
  if (auto* t = section(root, "server", errs)) parse_server(*t, c, errs);
  if (auto* t = section(root, "upstream", errs)) parse_upstream(*t, c, errs);
  if (auto* t = section(root, "lists", errs)) parse_lists(*t, c, errs);
  if (auto* t = section(root, "block", errs)) parse_block(*t, c, errs);
  if (auto* t = section(root, "cache", errs)) parse_cache(*t, c, errs);
  if (auto* t = section(root, "log", errs)) {
    reject_unknown(*t, "log.", {"level"}, errs);
    if (auto s = get_string(*t, "log", "level", errs)) {
      log::Level l;
      if (!log::parse_level(s->c_str(), l))
        errs.add(*t->get("level"), "log.level", "must be debug, info, warn or error");
      else
        c.log_level = *s;
    }
  }
  if (auto* t = section(root, "debug", errs)) {
    reject_unknown(*t, "debug.", {"fake_clock_file"}, errs);
    if (auto s = get_string(*t, "debug", "fake_clock_file", errs)) c.fake_clock_file = *s;
  }
  if (auto* t = section(root, "update", errs)) parse_update_config(*t, c.update, errs);
  c.policy.file = path;
  policy::parse_policy_config(root, errs, c.policy);
  parse_web_config(root, c.http, c.school, c.monitoring, errs);
  parse_network(root, errs, c.network);
  parse_console_config(root, c.console, errs);
  parse_alerts_config(root, c.alerts, errs);
  if (c.server.listen.empty()) errs.add(0, "server.listen", "at least one listen address is needed");
  if (c.upstream.servers.empty() && !c.network.dns_addrs.empty()) {
    // The appliance: [network] dns are the resolvers the box forwards to (its
    // /etc/resolv.conf points at Hedge itself, so that fallback would be a loop).
    c.upstream.servers = c.network.dns_addrs;
    c.upstream.servers_line = c.network.dns_line;
  }
  if (c.upstream.servers.empty()) {
    c.upstream.from_resolv_conf = true;
    if (auto ns = resolv_conf_nameserver())
      c.upstream.servers.push_back(*ns);
    else
      errs.add(0, "upstream.servers", "not set and /etc/resolv.conf names no usable nameserver");
  }
  for (const auto& u : c.upstream.servers) {
    for (const auto& l : c.server.listen) {
      if (u.same(l.sa()))
        errs.add(c.upstream.servers_line, "upstream.servers",
                 "'" + u.str() + "' is Hedge's own listen address (a loop)");
    }
  }
  return errs.empty();
}

bool load_config(const std::string& path, Config& c, ConfigErrors& errs) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errs.add(0, "(file)", "cannot open: " + std::string(std::strerror(errno)));
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config_text(ss.str(), path, c, errs);
}

std::optional<util::SockAddr> resolv_conf_nameserver(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string word, addr;
    if (!(ls >> word) || word != "nameserver" || !(ls >> addr)) continue;
    if (auto pct = addr.find('%'); pct != std::string::npos) addr.resize(pct);  // fe80::1%eth0
    if (auto a = util::parse_sockaddr(addr, 53)) return a;
  }
  return std::nullopt;
}

}  // namespace hedge::config
