// monitor/monitor: the monitoring log's two halves. On the DNS loop, the
// pipeline hands every decision to blocked()/allowed(): a few counter
// increments and, for a blocked attempt, one entry in a bounded loop-local
// batch (repeats of the same client, name and type in a minute add to one
// entry). About once a second (at once for a safeguarding incident) the
// batch is posted to the store thread, which writes it in one transaction
// (store/event_store), raises incidents, sends syslog and purges old rows in
// small batches. A full queue drops and counts: DNS never waits for the card.
//
// The device name and MAC of an event are looked up on the loop from an
// immutable DeviceMap, re-read on the store thread when the devices file
// changes and swapped in through a LoopInbox: an event keeps what was true
// at query time.
//
// Threads: every public method runs on the DNS loop thread except where said.
#pragma once

#include <uv.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "dns/name.hpp"
#include "monitor/devices.hpp"
#include "net/loop_inbox.hpp"
#include "policy/decide.hpp"
#include "policy/snapshot.hpp"
#include "store/event_store.hpp"
#include "store/store_thread.hpp"
#include "util/address.hpp"

namespace hedge::monitor {

// Counters written by the store thread, read by /status and /metrics.
struct StoreStats {
  std::atomic<uint64_t> batches{0}, events_written{0}, write_errors{0}, incidents{0}, reviews{0};
  std::atomic<uint64_t> purged{0}, syslog_sent{0}, syslog_dropped{0};
  std::atomic<int64_t> unacked_incidents{0};
  std::atomic<bool> store_ok{true}, store_open{false};
  std::atomic<int64_t> inflight_events{0};  // posted to the store thread, not yet written
  std::atomic<uint64_t> devices_loaded{0};
};

struct RecentIncident {
  int64_t at = 0, id = 0;
  std::string category;
};

// Which rule decided a block, as stored in events.rule: 'category',
// 'exception', 'schedule', 'allowlist' or 'bypass' ('cname' is the
// pipeline's own: a CNAME target was blocked).
const char* rule_of(const policy::Verdict& v) noexcept;

class Monitor {
 public:
  Monitor(uv_loop_t* loop, store::StoreThread& st);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Opens the store (on the store thread), starts the flush timer, the
  // devices watcher and the syslog exporter. False only for a setup error
  // (an unopenable store is reported through store_ok(), DNS carries on).
  bool start(const config::Config& cfg, std::string& err);
  void reconfigure(const config::Config& cfg);  // retention, devices, alert categories, log_all_queries
  void close() noexcept;                        // final batch posted; timer and inbox closed

  // DNS hot path (never blocks, never throws).
  void blocked(const util::SockAddr& client, const dns::QueryName& name, uint16_t qtype,
               const policy::Group& g, const policy::Verdict& v, const char* rule, int64_t now,
               const std::shared_ptr<const policy::PolicySnapshot>& snap) noexcept;
  void allowed(const util::SockAddr& client, const dns::QueryName& name, uint16_t qtype,
               const policy::Group& g, int64_t now,
               const std::shared_ptr<const policy::PolicySnapshot>& snap) noexcept;

  // Posts the current batch now (timer, incidents, shutdown).
  void flush() noexcept;
  // Block-page review form: stored on the store thread (fire and forget).
  void add_review(store::ReviewRow r) noexcept;

  // For /status and /metrics (loop thread).
  const StoreStats& store_stats() const noexcept { return *m_stats; }
  uint64_t dropped() const noexcept { return m_dropped; }
  uint64_t queued() const noexcept { return m_batch ? m_batch->events.size() : 0; }
  uint64_t queue_depth() const noexcept;  // loop batch + posted, unwritten events
  const std::deque<RecentIncident>& recent_incidents() const noexcept { return m_ls->recent; }
  uint64_t incidents_raised() const noexcept { return m_incidents_seen; }
  // Blocked attempts since start, by group and category id ("" = no category).
  std::map<std::pair<std::string, std::string>, uint64_t> blocked_counts() const;
  const DeviceMap* devices() const noexcept { return m_devices.get(); }
  static bool incident_worthy(const policy::Verdict& v, uint64_t alert_mask) noexcept;
  uint64_t alert_mask(const policy::PolicySnapshot& s) const noexcept;

 private:
  struct Pending {
    int64_t at = 0;
    std::string ip, qname;
    uint16_t qtype = 0;
    uint32_t group = 0;
    uint64_t cats = 0;
    bool illegal = false, incident = false;
    const char* rule = "";
    const Device* dev = nullptr;  // points into Batch::devices
    uint32_t count = 1;
  };
  struct Batch {
    std::shared_ptr<const policy::PolicySnapshot> policy;
    std::shared_ptr<const DeviceMap> devices;
    std::vector<Pending> events;
    std::vector<Pending> queries;                                // log_all_queries
    std::unordered_map<std::string, std::size_t> index, qindex;  // repeat key -> position
    int64_t hour = 0;
    uint64_t alert_mask = 0;  // alert_categories as this policy's bundle's category bits
    std::vector<std::array<uint64_t, 65>> allowed, blocked;  // [group][category bit, 64 = none]
  };
  struct StoreSide;  // lives in store-thread jobs (monitor.cpp)
  // Loop-thread state that functions posted back through the inbox update
  // (shared, so a late one never touches a destroyed Monitor).
  struct LoopShared {
    std::deque<RecentIncident> recent;  // last 20, newest first
    std::shared_ptr<const DeviceMap> next_devices;
  };

  Batch& batch_for(const std::shared_ptr<const policy::PolicySnapshot>& snap, int64_t now);
  void fold_totals(const Batch& b);
  static void on_timer(uv_timer_t* t) noexcept;
  void schedule_maintenance() noexcept;

  uv_loop_t* m_loop;
  store::StoreThread& m_st;
  uv_timer_t* m_timer = nullptr;  // heap: freed in its close callback; armed only while a batch waits
  uint64_t m_flush_ms = 1000;
  std::shared_ptr<net::LoopInbox> m_inbox = std::make_shared<net::LoopInbox>();
  std::shared_ptr<StoreStats> m_stats = std::make_shared<StoreStats>();
  std::shared_ptr<StoreSide> m_side;
  std::unique_ptr<Batch> m_batch;
  std::shared_ptr<const DeviceMap> m_devices = std::make_shared<DeviceMap>();
  std::vector<std::string> m_alert_categories;
  bool m_log_all = false, m_started = false, m_closed = false;
  uint32_t m_queue_max = 65536;
  uint64_t m_dropped = 0, m_incidents_seen = 0;
  std::shared_ptr<LoopShared> m_ls = std::make_shared<LoopShared>();
  // Cumulative blocked counts folded from finished batches (names resolved).
  std::map<std::pair<std::string, std::string>, uint64_t> m_totals;
};

}  // namespace hedge::monitor
