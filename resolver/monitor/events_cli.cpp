// monitor/events_cli: `hedge events list|export` (the monitoring log for the
// technician and for shipping off the box) and `hedge incident list|ack`
// (safeguarding incidents; an acknowledgement is written with its audit row
// in one transaction, through the hash-chained audit log).
#include <toml++/toml.h>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.hpp"
#include "monitor/syslog.hpp"
#include "policy/policy_config.hpp"
#include "store/event_store.hpp"
#include "store/exception_store.hpp"
#include "util/errors.hpp"
#include "web/status.hpp"

namespace hedge::cli {

namespace {

constexpr const char* kDefaultConfig = "/etc/hedge/hedge.toml";

struct Opts {
  std::map<std::string, std::string> kv;
  std::vector<std::string> pos;
  std::string get(const std::string& k, const std::string& d = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? d : it->second;
  }
};

bool parse_opts(int argc, char** argv, int from, Opts& o) {
  for (int i = from; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "hedge: %s needs a value\n", a.c_str());
        return false;
      }
      o.kv[a.substr(2)] = argv[++i];
    } else {
      o.pos.push_back(a);
    }
  }
  return true;
}

struct StoreCfg {
  std::string path, syslog;
};

bool read_config(const std::string& file, StoreCfg& out) {
  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    std::fprintf(stderr, "%s:%u: %s\n", file.c_str(), static_cast<unsigned>(e.source().begin.line),
                 std::string(e.description()).c_str());
    return false;
  }
  policy::PolicyConfig pc;
  util::ConfigErrors errs(file);
  policy::parse_policy_config(root, errs, pc);
  for (const auto& e : errs.list()) std::fprintf(stderr, "%s\n", e.str().c_str());
  if (!errs.empty()) return false;
  out.path = pc.store_path;
  if (auto s = root.at_path("monitoring.syslog").value<std::string>()) out.syslog = *s;
  return true;
}

// Unix seconds, "2026-12-02", "2026-12-02T10:00:00Z" (UTC).
bool parse_when(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  if (s.find_first_not_of("0123456789") == std::string::npos) {
    out = std::stoll(s);
    return true;
  }
  out = web::parse_iso_utc(s.size() == 10 ? s + "T00:00:00Z" : s);
  return out != 0;
}

std::string iso(int64_t t) {
  std::tm tm{};
  const auto tt = static_cast<std::time_t>(t);
  gmtime_r(&tt, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

std::string csv(const std::string& s) {
  // Quoted when needed; a leading = + - @ would be a formula in a spreadsheet.
  std::string v = s;
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) v = "'" + v;
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

int usage_events() {
  std::fprintf(stderr,
               "usage: hedge events list|export [--since T] [--until T] [--format csv|json] [--config FILE]\n"
               "  T: unix seconds, 2026-12-02 or 2026-12-02T10:00:00Z (UTC). Default: everything.\n");
  return 2;
}

}  // namespace

int events(int argc, char** argv) {
  if (argc < 2) return usage_events();
  const std::string sub = argv[1];
  if (sub != "list" && sub != "export") return usage_events();
  Opts o;
  if (!parse_opts(argc, argv, 2, o) || !o.pos.empty()) return usage_events();
  StoreCfg sc;
  if (!read_config(o.get("config", kDefaultConfig), sc)) return 1;
  int64_t since = 0, until = INT64_MAX;
  if (!o.get("since").empty() && !parse_when(o.get("since"), since)) {
    std::fprintf(stderr, "hedge events: --since '%s' is not a time\n", o.get("since").c_str());
    return 2;
  }
  if (!o.get("until").empty() && !parse_when(o.get("until"), until)) {
    std::fprintf(stderr, "hedge events: --until '%s' is not a time\n", o.get("until").c_str());
    return 2;
  }
  const std::string format = o.get("format", sub == "list" ? "table" : "csv");
  if (format != "csv" && format != "json" && format != "table") {
    std::fprintf(stderr, "hedge events: --format must be csv or json\n");
    return 2;
  }
  store::EventStore st;
  std::string err;
  if (!st.open(sc.path, err)) {
    std::fprintf(stderr, "hedge events: %s\n", err.c_str());
    return 1;
  }
  bool first = true;
  if (format == "csv")
    std::printf("id,time,last,count,client_ip,device,mac,group,qname,qtype,categories,tier,rule\n");
  if (format == "json") std::printf("[");
  const bool ok = st.each_event(
      since, until,
      [&](const store::StoredEvent& e) {
        if (format == "csv") {
          std::printf("%lld,%s,%s,%lld,%s,%s,%s,%s,%s,%lld,%s,%s,%s\n", static_cast<long long>(e.id),
                      iso(e.at).c_str(), iso(e.last_at).c_str(), static_cast<long long>(e.count),
                      csv(e.client_ip).c_str(), csv(e.device).c_str(), csv(e.mac).c_str(), csv(e.grp).c_str(),
                      csv(e.qname).c_str(), static_cast<long long>(e.qtype), csv(e.categories).c_str(),
                      csv(e.tier).c_str(), csv(e.rule).c_str());
        } else if (format == "json") {
          nlohmann::json j = {{"id", e.id},           {"at", e.at},       {"time", iso(e.at)},
                              {"last_at", e.last_at}, {"count", e.count}, {"client_ip", e.client_ip},
                              {"device", e.device},   {"mac", e.mac},     {"group", e.grp},
                              {"qname", e.qname},     {"qtype", e.qtype}, {"categories", e.categories},
                              {"tier", e.tier},       {"rule", e.rule}};
          std::printf("%s\n%s", first ? "" : ",", j.dump().c_str());
        } else {
          std::printf("%s  %-15s %-16s %-10s %-40s %-5lld x%-4lld %s (%s)\n", iso(e.at).c_str(),
                      e.client_ip.c_str(), e.device.empty() ? "-" : e.device.c_str(), e.grp.c_str(),
                      e.qname.c_str(), static_cast<long long>(e.qtype), static_cast<long long>(e.count),
                      e.categories.empty() ? "-" : e.categories.c_str(), e.rule.c_str());
        }
        first = false;
      },
      err);
  if (format == "json") std::printf("%s]\n", first ? "" : "\n");
  if (!ok) {
    std::fprintf(stderr, "hedge events: %s\n", err.c_str());
    return 1;
  }
  return 0;
}

int incident(int argc, char** argv) {
  auto usage = [] {
    std::fprintf(stderr,
                 "usage: hedge incident list [--all] [--config FILE]\n"
                 "       hedge incident ack ID --by WHO --note TEXT [--config FILE]\n");
    return 2;
  };
  if (argc < 2) return usage();
  const std::string sub = argv[1];
  Opts o;
  if (!parse_opts(argc, argv, 2, o)) return usage();
  StoreCfg sc;
  if (sub != "list" && sub != "ack") return usage();
  if (!read_config(o.get("config", kDefaultConfig), sc)) return 1;
  std::string err;
  if (sub == "list") {
    store::EventStore st;
    if (!st.open(sc.path, err)) {
      std::fprintf(stderr, "hedge incident: %s\n", err.c_str());
      return 1;
    }
    for (const auto& i : st.incidents(o.kv.count("all") == 0)) {
      std::printf("%lld  %s  %-12s %-8s %-15s %-16s %s%s\n", static_cast<long long>(i.id), iso(i.at).c_str(),
                  i.category.c_str(), i.tier.c_str(), i.client_ip.c_str(),
                  i.device.empty() ? "-" : i.device.c_str(), i.acked_at ? "acknowledged by " : "OPEN",
                  i.acked_at ? i.acked_by.c_str() : "");
    }
    return 0;
  }
  if (o.pos.size() != 1 || o.get("by").empty() || o.get("note").empty()) return usage();
  int64_t id = 0;
  try {
    id = std::stoll(o.pos[0]);
  } catch (...) {
    return usage();
  }
  {
    store::EventStore st;  // creates the tables when the box has never logged anything
    if (!st.open(sc.path, err)) {
      std::fprintf(stderr, "hedge incident: %s\n", err.c_str());
      return 1;
    }
  }
  store::ExceptionStore audit;
  if (!audit.open(sc.path, err)) {
    std::fprintf(stderr, "hedge incident: %s\n", err.c_str());
    return 1;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const std::string by = o.get("by"), note = o.get("note");
  if (!store::EventStore::ack_audited(audit, id, by, note, now, err)) {
    std::fprintf(stderr, "hedge incident ack: %s\n", err.c_str());
    return 1;
  }
  std::printf("incident %lld acknowledged by %s\n", static_cast<long long>(id), by.c_str());
  // Audit events go to syslog too, when configured (a short timeout: this is a CLI).
  util::SockAddr to;
  bool tcp = false;
  std::string why;
  if (!sc.syslog.empty() && config::parse_syslog_target(sc.syslog, to, tcp, why)) {
    monitor::SyslogExporter ex;
    if (ex.start(to, tcp, why)) {
      monitor::SyslogMessage m;
      m.at = now;
      m.severity = monitor::Severity::info;
      m.msgid = "audit";
      m.sd = {{"action", "incident.ack"}, {"object", "incident/" + std::to_string(id)}, {"actor", by}};
      m.text = "incident " + std::to_string(id) + " acknowledged";
      ex.send(std::move(m));
      ex.stop_after_drain();
    }
  }
  return 0;
}

}  // namespace hedge::cli
