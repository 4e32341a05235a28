// monitor/monitor: loop-side batching and the store-thread jobs that write,
// alert, export and purge.
#include "monitor/monitor.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "monitor/syslog.hpp"
#include "util/log.hpp"
#include "util/pacer.hpp"

namespace hedge::monitor {

namespace {
constexpr int kPurgeBatch = 500;     // rows per purge transaction
constexpr int kMaintainMs = 5000;    // unacked count, devices file, purge cadence
constexpr int kPurgeEvery = 12;      // maintenance rounds between purges (1 min)
constexpr std::size_t kRecent = 20;  // incidents kept for /status

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string qtype_key(uint16_t t) {
  return std::string(reinterpret_cast<const char*>(&t), sizeof t);
}
}  // namespace

// The store thread's half: created on the loop, then only touched in jobs.
struct Monitor::StoreSide {
  store::EventStore db;
  std::string path, open_error;
  bool tried_open = false;
  store::Retention retention;
  unsigned cpu_percent = 10;  // [monitoring] store_cpu_percent
  std::unique_ptr<SyslogExporter> syslog;
  std::shared_ptr<StoreStats> stats;
  std::shared_ptr<net::LoopInbox> inbox;
  std::atomic<bool> closing{false};
  std::atomic<bool> hurry{false};  // shutting down: write the rest unpaced
  std::string devices_path;
  struct stat devices_stat {};
  bool devices_seen = false;
  int rounds = 0;

  bool ensure_open() {
    if (db.is_open()) return true;
    if (tried_open) return false;
    tried_open = true;
    if (!db.open(path, open_error)) {
      LOG_ERROR("monitoring store %s cannot be opened: %s (blocked attempts are counted, not logged)",
                path.c_str(), open_error.c_str());
      stats->store_ok.store(false);
      return false;
    }
    stats->store_open.store(true);
    return true;
  }
  bool post_to_loop(net::LoopInbox::Fn fn) {
    if (closing.load(std::memory_order_acquire)) return false;
    return inbox->post(std::move(fn));
  }
};

const char* rule_of(const policy::Verdict& v) noexcept {
  const std::string_view r = v.reason;
  if (r == "exception-deny" || r == "group-deny") return "exception";
  if (r == "allowlist") return "allowlist";
  if (r == "bypass-defence") return "bypass";
  if (r == "category" && v.ttl_cap) return "schedule";  // a timetable window opens later
  return "category";
}

Monitor::Monitor(uv_loop_t* loop, store::StoreThread& st) : m_loop(loop), m_st(st) {}

Monitor::~Monitor() {
  close();
}

bool Monitor::start(const config::Config& cfg, std::string& err) {
  if (!m_inbox->init(m_loop)) {
    err = "monitor: cannot create the loop inbox";
    return false;
  }
  m_side = std::make_shared<StoreSide>();
  m_side->stats = m_stats;
  m_side->inbox = m_inbox;
  m_side->path = cfg.policy.store_path;
  const auto& m = cfg.monitoring;
  if (!m.syslog.empty()) {
    m_side->syslog = std::make_unique<SyslogExporter>();
    if (!m_side->syslog->start(m.syslog_addr, m.syslog_tcp, err)) return false;
    LOG_INFO("monitoring: syslog export to %s (%s)", m.syslog_addr.str().c_str(),
             m.syslog_tcp ? "tcp" : "udp");
  }
  m_timer = new uv_timer_t;
  if (uv_timer_init(m_loop, m_timer) != 0) {
    delete m_timer;
    m_timer = nullptr;
    err = "monitor: cannot create the flush timer";
    return false;
  }
  m_timer->data = this;
  m_started = true;
  reconfigure(cfg);
  auto side = m_side;
  m_st.post([side] { side->ensure_open(); });
  schedule_maintenance();
  return true;
}

void Monitor::reconfigure(const config::Config& cfg) {
  const auto& m = cfg.monitoring;
  m_alert_categories = m.alert_categories;
  if (m_batch) m_batch->alert_mask = alert_mask(*m_batch->policy);
  m_log_all = m.log_all_queries;
  m_queue_max = m.queue_max;
  m_flush_ms = m.flush_ms;  // the timer is armed by the first event of a batch (batch_for)
  if (!m_side) return;
  store::Retention r;
  r.events_s = int64_t{m.retention_days} * 86400;
  r.hourly_s = int64_t{m.aggregate_retention_days} * 86400;
  r.queries_s = int64_t{m.all_queries_retention_days} * 86400;
  auto side = m_side;
  std::string devices = m.devices;
  const unsigned pct = m.store_cpu_percent;
  m_st.post([side, r, devices, pct] {
    side->retention = r;
    side->cpu_percent = pct;
    if (side->devices_path != devices) {
      side->devices_path = devices;
      side->devices_seen = false;  // read on the next maintenance round
    }
  });
}

void Monitor::close() noexcept {
  if (m_closed || !m_started) {
    m_closed = true;
    return;
  }
  m_closed = true;
  if (m_side) m_side->hurry.store(true, std::memory_order_relaxed);
  flush();
  if (m_timer) {
    uv_close(reinterpret_cast<uv_handle_t*>(m_timer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    m_timer = nullptr;
  }
  // The inbox may only close once the store thread will not post to it again:
  // the last job marks the side closing and asks the loop to close the inbox.
  auto side = m_side;
  auto inbox = m_inbox;
  const bool posted = m_st.post([side, inbox] {
    inbox->post([inbox] { inbox->close(); });
    side->closing.store(true, std::memory_order_release);
  });
  if (!posted) inbox->close();
}

// Per blocked query a mask test: the names are resolved to bits once per batch
// (a batch holds one policy snapshot, hence one bundle).
uint64_t Monitor::alert_mask(const policy::PolicySnapshot& s) const noexcept {
  uint64_t m = 0;
  for (const auto& a : m_alert_categories)
    if (const lists::Category* c = s.bundle().category_by_id(a); c && c->bit < 64) m |= uint64_t{1} << c->bit;
  return m;
}

bool Monitor::incident_worthy(const policy::Verdict& v, uint64_t alert_mask) noexcept {
  return v.illegal || v.confidential || (v.categories & alert_mask) != 0;
}

Monitor::Batch& Monitor::batch_for(const std::shared_ptr<const policy::PolicySnapshot>& snap, int64_t now) {
  const int64_t hour = now / 3600;
  if (m_ls->next_devices) {
    // A re-read devices file: events already batched keep the map they were looked up in.
    flush();
    m_devices = std::move(m_ls->next_devices);
    m_ls->next_devices.reset();
  }
  // A new policy (group indices, category bits) or a new hour starts a new batch.
  if (m_batch && (m_batch->policy != snap || m_batch->hour != hour)) flush();
  if (!m_batch) {
    m_batch = std::make_unique<Batch>();
    m_batch->policy = snap;
    m_batch->devices = m_devices;
    m_batch->hour = hour;
    m_batch->alert_mask = alert_mask(*snap);
    m_batch->allowed.assign(snap->groups().size(), {});
    m_batch->blocked.assign(snap->groups().size(), {});
    // One shot per batch: an idle box has no batch and so no wake-up at all.
    if (m_timer && !uv_is_active(reinterpret_cast<uv_handle_t*>(m_timer)))
      uv_timer_start(m_timer, &Monitor::on_timer, m_flush_ms, 0);
  }
  return *m_batch;
}

void Monitor::blocked(const util::SockAddr& client, const dns::QueryName& name, uint16_t qtype,
                      const policy::Group& g, const policy::Verdict& v, const char* rule, int64_t now,
                      const std::shared_ptr<const policy::PolicySnapshot>& snap) noexcept {
  if (m_closed || !snap) return;
  try {
    Batch& b = batch_for(snap, now);
    const bool incident = incident_worthy(v, b.alert_mask);
    // hourly (and the since-start totals): one count per category, or "" without one
    if (g.index < b.blocked.size()) {
      auto& row = b.blocked[g.index];
      if (v.categories == 0) ++row[64];
      for (unsigned bit = 0; bit < 64; ++bit)
        if (v.categories & (uint64_t{1} << bit)) ++row[bit];
    }
    std::string ip = client.ip_str();
    std::string_view qn = name.text();
    std::string key;
    key.reserve(ip.size() + qn.size() + 12);
    key.append(ip).push_back('\0');
    key.append(qn).push_back('\0');
    key += qtype_key(qtype);
    key += std::to_string(now / 60);
    if (auto it = b.index.find(key); it != b.index.end()) {
      ++b.events[it->second].count;  // a repeat in the same minute: one row
      return;
    }
    if (b.events.size() + static_cast<uint64_t>(std::max<int64_t>(0, m_stats->inflight_events.load())) >=
        m_queue_max) {
      ++m_dropped;
      if (incident) LOG_ERROR("monitoring queue full: a safeguarding attempt could not be logged (counted)");
      return;
    }
    Pending p;
    p.at = now;
    p.ip = std::move(ip);
    p.qname = std::string(qn);
    p.qtype = qtype;
    p.group = static_cast<uint32_t>(g.index);
    p.cats = v.categories;
    p.illegal = v.illegal || v.confidential;
    p.incident = incident;
    p.rule = rule;
    p.dev = b.devices ? b.devices->find(p.ip) : nullptr;
    b.index.emplace(std::move(key), b.events.size());
    b.events.push_back(std::move(p));
    if (incident) {
      ++m_incidents_seen;
      flush();  // incidents are written and exported at once, not within a second
    }
  } catch (...) {
    ++m_dropped;
  }
}

void Monitor::allowed(const util::SockAddr& client, const dns::QueryName& name, uint16_t qtype,
                      const policy::Group& g, int64_t now,
                      const std::shared_ptr<const policy::PolicySnapshot>& snap) noexcept {
  if (m_closed || !snap) return;
  try {
    Batch& b = batch_for(snap, now);
    if (g.index < b.allowed.size()) ++b.allowed[g.index][64];
    if (!m_log_all) return;
    std::string ip = client.ip_str();
    std::string key = ip;
    key.push_back('\0');
    key.append(name.text());
    key.push_back('\0');
    key += qtype_key(qtype);
    key += std::to_string(now / 60);
    if (auto it = b.qindex.find(key); it != b.qindex.end()) {
      ++b.queries[it->second].count;
      return;
    }
    if (b.events.size() + b.queries.size() +
            static_cast<uint64_t>(std::max<int64_t>(0, m_stats->inflight_events.load())) >=
        m_queue_max) {
      ++m_dropped;
      return;
    }
    Pending p;
    p.at = now;
    p.ip = std::move(ip);
    p.qname = std::string(name.text());
    p.qtype = qtype;
    p.group = static_cast<uint32_t>(g.index);
    p.dev = b.devices ? b.devices->find(p.ip) : nullptr;
    b.qindex.emplace(std::move(key), b.queries.size());
    b.queries.push_back(std::move(p));
  } catch (...) {
    ++m_dropped;
  }
}

uint64_t Monitor::queue_depth() const noexcept {
  const int64_t inflight = std::max<int64_t>(0, m_stats->inflight_events.load());
  return queued() + static_cast<uint64_t>(inflight);
}

void Monitor::fold_totals(const Batch& b) {
  const auto& groups = b.policy->groups();
  for (std::size_t gi = 0; gi < b.blocked.size() && gi < groups.size(); ++gi) {
    for (unsigned bit = 0; bit < 65; ++bit) {
      const uint64_t n = b.blocked[gi][bit];
      if (!n) continue;
      std::string cat;
      if (bit < 64) {
        const lists::Category* c = b.policy->bundle().category_by_bit(bit);
        cat = c ? c->id : "bit" + std::to_string(bit);
      }
      m_totals[{groups[gi].name, cat}] += n;
    }
  }
}

std::map<std::pair<std::string, std::string>, uint64_t> Monitor::blocked_counts() const {
  auto out = m_totals;
  if (m_batch) {
    const auto& groups = m_batch->policy->groups();
    for (std::size_t gi = 0; gi < m_batch->blocked.size() && gi < groups.size(); ++gi) {
      for (unsigned bit = 0; bit < 65; ++bit) {
        const uint64_t n = m_batch->blocked[gi][bit];
        if (!n) continue;
        std::string cat;
        if (bit < 64) {
          const lists::Category* c = m_batch->policy->bundle().category_by_bit(bit);
          cat = c ? c->id : "bit" + std::to_string(bit);
        }
        out[{groups[gi].name, cat}] += n;
      }
    }
  }
  return out;
}

namespace {

// Turns a loop-side batch into rows (on the store thread: names, strings).
struct Rows {
  std::vector<store::EventRow> events;
  std::vector<store::HourlyRow> hourly;
  std::vector<store::QueryRow> queries;
};

}  // namespace

void Monitor::flush() noexcept {
  if (!m_batch) return;
  std::unique_ptr<Batch> b = std::move(m_batch);
  try {
    fold_totals(*b);
  } catch (...) {
  }
  if (!m_side) return;
  const int64_t n = static_cast<int64_t>(b->events.size() + b->queries.size());
  m_stats->inflight_events.fetch_add(n);
  std::shared_ptr<Batch> batch(std::move(b));
  auto side = m_side;
  auto alerts = std::make_shared<const std::vector<std::string>>(m_alert_categories);
  auto ls = m_ls;
  const bool posted = m_st.post([side, batch, alerts, n, ls] {
    side->stats->inflight_events.fetch_sub(n);
    Rows rows;
    const auto& snap = *batch->policy;
    const auto& groups = snap.groups();
    const auto& bundle = snap.bundle();
    auto group_name = [&](uint32_t i) { return i < groups.size() ? groups[i].name : std::string("default"); };
    for (const auto& p : batch->events) {
      store::EventRow r;
      r.at = p.at;
      r.client_ip = p.ip;
      if (p.dev) {
        r.device = p.dev->name;
        r.mac = p.dev->mac;
      }
      r.grp = group_name(p.group);
      r.qname = p.qname;
      r.qtype = p.qtype;
      r.categories = snap.category_names(p.cats, true);
      r.tier = p.illegal ? "illegal" : "school";
      r.rule = p.rule;
      r.count = p.count;
      if (p.incident) {
        // The category that raised it: the illegal-tier one, else the first alert category.
        for (unsigned bit = 0; bit < 64 && r.incident_category.empty(); ++bit) {
          if (!(p.cats & (uint64_t{1} << bit))) continue;
          const lists::Category* c = bundle.category_by_bit(bit);
          if (!c) continue;
          const bool illegal_cat = (bundle.illegal_mask() | snap.confidential_mask()) & (uint64_t{1} << bit);
          const bool alert = std::find(alerts->begin(), alerts->end(), c->id) != alerts->end();
          if ((p.illegal && illegal_cat) || (!p.illegal && alert)) r.incident_category = c->id;
        }
        if (r.incident_category.empty()) r.incident_category = p.illegal ? "illegal" : "alert";
      }
      rows.events.push_back(std::move(r));
    }
    for (const auto& p : batch->queries) {
      store::QueryRow q;
      q.at = p.at;
      q.client_ip = p.ip;
      if (p.dev) {
        q.device = p.dev->name;
        q.mac = p.dev->mac;
      }
      q.grp = group_name(p.group);
      q.qname = p.qname;
      q.qtype = p.qtype;
      q.count = p.count;
      rows.queries.push_back(std::move(q));
    }
    for (std::size_t gi = 0; gi < batch->allowed.size(); ++gi) {
      for (unsigned bit = 0; bit < 65; ++bit) {
        const uint64_t a = batch->allowed[gi][bit], bl = batch->blocked[gi][bit];
        if (!a && !bl) continue;
        store::HourlyRow h;
        h.hour = batch->hour;
        h.grp = group_name(static_cast<uint32_t>(gi));
        if (bit < 64) {
          const lists::Category* c = bundle.category_by_bit(bit);
          h.category = c ? c->id : "";
        }
        h.allowed = a;
        h.blocked = bl;
        rows.hourly.push_back(std::move(h));
      }
    }
    if (!side->ensure_open()) {
      side->stats->write_errors.fetch_add(1);
      return;
    }
    std::vector<store::WrittenEvent> written;
    std::string err;
    // A backlog (a flood of blocked names) is written at a share of a core:
    // under a CPU quota the DNS loop and this thread spend one budget, and a
    // flat-out write would leave the loop throttled (docs/decisions/0073).
    util::Pacer pace(side->cpu_percent, &side->hurry);
    if (!side->db.write(rows.events, rows.hourly, rows.queries, written, err, &pace)) {
      side->stats->write_errors.fetch_add(1);
      side->stats->store_ok.store(false);
      LOG_ERROR("monitoring store: %zu of a batch of %zu events were lost: %s",
                rows.events.size() - written.size(), rows.events.size(), err.c_str());
      if (written.empty()) return;
      // The transactions before the failure were committed: their incidents still raise alerts below.
    } else {
      side->stats->store_ok.store(true);
      side->stats->batches.fetch_add(1);
    }
    side->stats->events_written.fetch_add(written.size());
    std::vector<RecentIncident> raised;
    for (const auto& w : written) {
      const store::EventRow& r = *w.row;
      if (w.incident_id) {
        side->stats->incidents.fetch_add(1);
        side->stats->unacked_incidents.fetch_add(1);
        raised.push_back({r.at, w.incident_id, r.incident_category});
        // Alert level; for the illegal tier never the name (it stays in the store for the DSL).
        if (r.tier == "illegal")
          LOG_ERROR(
              "SAFEGUARDING INCIDENT %lld: illegal-tier attempt, category %s, client %s (acknowledge: hedge "
              "incident ack %lld)",
              static_cast<long long>(w.incident_id), r.incident_category.c_str(), r.client_ip.c_str(),
              static_cast<long long>(w.incident_id));
        else
          LOG_ERROR(
              "SAFEGUARDING INCIDENT %lld: category %s, %s asked for %s (acknowledge: hedge incident ack "
              "%lld)",
              static_cast<long long>(w.incident_id), r.incident_category.c_str(), r.client_ip.c_str(),
              r.qname.c_str(), static_cast<long long>(w.incident_id));
      }
      if (!side->syslog || !w.new_row) continue;
      SyslogMessage m;
      m.at = r.at;
      if (w.incident_id) {
        m.severity = Severity::alert;
        m.msgid = "incident";
        m.sd = {
            {"incident", std::to_string(w.incident_id)}, {"category", r.incident_category}, {"tier", r.tier}};
        if (r.tier != "illegal") {
          m.sd.insert(m.sd.end(), {{"client", r.client_ip},
                                   {"device", r.device},
                                   {"mac", r.mac},
                                   {"group", r.grp},
                                   {"qname", r.qname}});
        }
        m.text = "safeguarding incident " + std::to_string(w.incident_id) + ": " + r.incident_category;
        side->syslog->send(std::move(m));
        if (r.tier == "illegal") continue;  // no separate "blocked" line that would carry the name
        m = SyslogMessage{};
        m.at = r.at;
      }
      m.severity = Severity::notice;
      m.msgid = "blocked";
      m.sd = {{"event", std::to_string(w.id)},
              {"client", r.client_ip},
              {"device", r.device},
              {"mac", r.mac},
              {"group", r.grp},
              {"qname", r.qname},
              {"qtype", std::to_string(r.qtype)},
              {"categories", r.categories},
              {"tier", r.tier},
              {"rule", r.rule}};
      m.text = "blocked " + r.qname;
      side->syslog->send(std::move(m));
    }
    if (side->syslog) {
      side->stats->syslog_sent.store(side->syslog->sent());
      side->stats->syslog_dropped.store(side->syslog->dropped());
    }
    if (!raised.empty()) {
      side->post_to_loop([ls, raised]() {
        for (const auto& r : raised) ls->recent.push_front(r);
        while (ls->recent.size() > kRecent) ls->recent.pop_back();
      });
    }
  });
  if (!posted) {
    m_stats->inflight_events.fetch_sub(n);
    m_dropped += static_cast<uint64_t>(n);
  }
}

void Monitor::add_review(store::ReviewRow r) noexcept {
  if (!m_side) return;
  auto side = m_side;
  try {
    m_st.post([side, r = std::move(r)] {
      if (!side->ensure_open()) return;
      int64_t id = 0;
      std::string err;
      if (!side->db.add_review(r, id, err)) {
        LOG_WARN("review request for %s not stored: %s", r.site.c_str(), err.c_str());
        return;
      }
      side->stats->reviews.fetch_add(1);
      LOG_INFO("review request %lld: %s (from %s)", static_cast<long long>(id), r.site.c_str(),
               r.client_ip.c_str());
    });
  } catch (...) {
  }
}

void Monitor::on_timer(uv_timer_t* t) noexcept {
  auto* self = static_cast<Monitor*>(t->data);
  self->flush();
}

void Monitor::schedule_maintenance() noexcept {
  // One self-renewing store-thread job: unacknowledged incidents (the console
  // or CLI may ack from another process), the devices file, retention.
  struct Maintain {
    static void round(const std::shared_ptr<StoreSide>& side, const std::shared_ptr<LoopShared>& ls,
                      store::StoreThread* st) {
      if (side->closing.load(std::memory_order_acquire)) return;
      if (side->ensure_open()) {
        const int64_t n = side->db.unacked_incidents();
        if (n >= 0) side->stats->unacked_incidents.store(n);
        if (side->rounds % kPurgeEvery == 0) {
          std::string err;
          const int64_t now = static_cast<int64_t>(std::time(nullptr));
          // Small batches, each its own transaction; further batches wait for the next rounds
          // only when there is a backlog (at most 20 x 500 rows per round).
          for (int i = 0; i < 20; ++i) {
            const int64_t d = side->db.purge(now, side->retention, kPurgeBatch, err);
            if (d < 0) {
              LOG_WARN("monitoring store purge: %s", err.c_str());
              break;
            }
            side->stats->purged.fetch_add(static_cast<uint64_t>(d));
            if (d < kPurgeBatch) break;
          }
        }
      }
      ++side->rounds;
      check_devices(side, ls);
      st->post_after(kMaintainMs, [side, ls, st] { round(side, ls, st); });
    }
    static void check_devices(const std::shared_ptr<StoreSide>& side, const std::shared_ptr<LoopShared>& ls) {
      if (side->devices_path.empty()) return;
      struct stat st {};
      if (::stat(side->devices_path.c_str(), &st) != 0) {
        if (side->devices_seen || side->rounds == 1)
          LOG_WARN("monitoring devices file %s cannot be read: events will not name devices",
                   side->devices_path.c_str());
        side->devices_seen = false;
        return;
      }
      if (side->devices_seen && st.st_mtim.tv_sec == side->devices_stat.st_mtim.tv_sec &&
          st.st_mtim.tv_nsec == side->devices_stat.st_mtim.tv_nsec &&
          st.st_size == side->devices_stat.st_size && st.st_ino == side->devices_stat.st_ino)
        return;
      side->devices_stat = st;
      side->devices_seen = true;
      if (st.st_size > (64 << 20)) {
        LOG_WARN("monitoring devices file %s is over 64 MiB: ignored", side->devices_path.c_str());
        return;
      }
      auto map = std::make_shared<DeviceMap>(
          parse_devices(read_file(side->devices_path), read_file("/proc/net/arp")));
      side->stats->devices_loaded.store(map->by_ip.size());
      LOG_INFO("monitoring: %zu devices from %s (%s%s)", map->by_ip.size(), side->devices_path.c_str(),
               to_string(map->format),
               map->skipped ? (", " + std::to_string(map->skipped) + " lines not understood").c_str() : "");
      std::shared_ptr<const DeviceMap> cmap = std::move(map);
      side->post_to_loop([ls, cmap] { ls->next_devices = cmap; });
    }
  };
  auto side = m_side;
  auto ls = m_ls;
  store::StoreThread* st = &m_st;
  m_st.post([side, ls, st] { Maintain::round(side, ls, st); });
}

}  // namespace hedge::monitor
