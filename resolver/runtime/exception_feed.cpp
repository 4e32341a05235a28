// runtime/exception_feed: exception store jobs on the store thread (see the header).
#include "runtime/exception_feed.hpp"

#include <ctime>
#include <future>
#include <limits>

#include "store/exception_store.hpp"
#include "util/log.hpp"

namespace hedge::runtime {

// Everything here is touched only inside jobs on the store thread; jobs hold
// a shared_ptr to it, so a timed job that outlives the feed finds a closed
// store and does nothing.
struct ExceptionFeed::State {
  std::function<void(ExceptionSet)> deliver;
  std::unique_ptr<store::ExceptionStore> store;
  uint64_t version = 0;
  int64_t audit_seq = -1;
  std::vector<policy::Exception> last;
  bool timed = true;
  uint64_t expiry_generation = 0;  // a newer timer makes older ones no-ops
  int64_t armed_for = 0;           // expiry instant the current timer is for (0 none)
  store::StoreThread* thread = nullptr;
  std::atomic<uint64_t>* checks = nullptr;
  std::atomic<bool>* check_queued = nullptr;
};

namespace {

int64_t wall_now() noexcept {
  return static_cast<int64_t>(std::time(nullptr));
}

bool same(const std::vector<policy::Exception>& a, const std::vector<policy::Exception>& b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto &x = a[i], &y = b[i];
    if (x.id != y.id || x.name != y.name || x.group != y.group || x.kind != y.kind || x.starts != y.starts ||
        x.expires != y.expires || x.approved != y.approved || x.revoked != y.revoked ||
        x.approver != y.approver)
      return false;
  }
  return true;
}

// The next expiry after `now` (0 = none).
int64_t next_expiry(const std::vector<policy::Exception>& list, int64_t now) noexcept {
  int64_t next = 0;
  for (const auto& e : list) {
    if (e.revoked != 0 || e.expires <= 0) continue;
    if (e.expires > now && (next == 0 || e.expires < next)) next = e.expires;
  }
  return next;
}

using StatePtr = std::shared_ptr<ExceptionFeed::State>;
void arm_expiry(const StatePtr& st, int64_t now) noexcept;

// The timed job for the expiry at `due`: writes the audit rows, then arms the next.
void fire_expiry(const StatePtr& st, int64_t due) noexcept {
  if (!st->store || st->armed_for != due) return;  // closed, or replaced by a newer timer
  const int64_t now = wall_now();
  if (now < due) {  // the wall clock moved back: sleep again
    st->armed_for = 0;
    arm_expiry(st, now);
    return;
  }
  std::string err;
  if (st->store->record_expiries(now, err) < 0)
    LOG_WARN("exception store: recording expiries: %s", err.c_str());
  arm_expiry(st, now);
}

// One timer, for the next expiry of the last set read (store thread).
void arm_expiry(const StatePtr& st, int64_t now) noexcept {
  if (!st->timed) return;
  const int64_t next = next_expiry(st->last, now);
  if (next == st->armed_for) return;  // already armed for it
  st->armed_for = next;
  if (next == 0) return;
  st->thread->post_after(static_cast<uint64_t>(next - now) * 1000, [st, next] { fire_expiry(st, next); });
}

}  // namespace

ExceptionFeed::ExceptionFeed(store::StoreThread& st, std::function<void(ExceptionSet)> deliver)
    : m_st(st), m_deliver(std::move(deliver)), m_state(std::make_shared<State>()) {
  m_state->deliver = m_deliver;
  m_state->thread = &m_st;
  m_state->checks = &m_checks;
  m_state->check_queued = &m_check_queued;
}

ExceptionFeed::~ExceptionFeed() {
  close_and_wait();
}

bool ExceptionFeed::open_and_wait(const std::string& path, bool timed_expiries,
                                  std::vector<policy::Exception>& first, std::string& err) {
  struct Opened {
    bool ok = false;
    std::string err;
    std::vector<policy::Exception> list;
  };
  auto done = std::make_shared<std::promise<Opened>>();
  std::future<Opened> f = done->get_future();
  auto st = m_state;
  if (!m_st.post([st, path, timed_expiries, done] {
        Opened o;
        auto s = std::make_unique<store::ExceptionStore>();
        if (s->open(path, o.err)) {
          st->store = std::move(s);
          st->timed = timed_expiries;
          st->version = st->store->data_version();
          st->audit_seq = st->store->audit_seq();
          st->last = st->store->load_all();
          o.list = st->last;
          o.ok = true;
          const int64_t now = wall_now();
          std::string e;
          if (timed_expiries && st->store->record_expiries(now, e) < 0)
            LOG_WARN("exception store: recording expiries: %s", e.c_str());
          arm_expiry(st, now);
        }
        done->set_value(std::move(o));
      })) {
    err = "the store thread is not running";
    return false;
  }
  // Waits before the loop serves (see the header); never later.
  Opened o = f.get();
  if (!o.ok) {
    err = o.err;
    return false;
  }
  m_open = true;
  first = std::move(o.list);
  return true;
}

namespace {

// One look at the store after a change in its directory. `settle`: how many
// more looks to take if this one finds nothing new. A commit becomes visible
// to readers only when the writer updates the WAL index, which is shared
// memory and makes no inotify event of its own; an event that arrives between
// the WAL write and that update finds nothing yet. Without the later looks
// such a commit (an exception, a revoke) would wait for the next write to the
// database, however long that is. Seen under load in
// tests/e2e/test_filtering_check.py.
void check_job(const StatePtr& st, int settle) noexcept {
  if (!st->store) return;
  st->checks->fetch_add(1, std::memory_order_relaxed);
  const uint64_t v = st->store->data_version();
  // data_version also moves for the monitoring store's own commits (another
  // connection to the same file), many a second in a flood; every change to
  // an exception writes an audit row in the same transaction, so the
  // exceptions are read only when the audit log moved. Either way "nothing
  // new" settles: the event may have come from an exception commit that is
  // not visible yet, behind a monitoring commit that already is.
  bool moved = v != st->version;
  st->version = v;
  if (moved) {
    const int64_t seq = st->store->audit_seq();
    moved = seq < 0 || seq != st->audit_seq;  // unreadable: look at the exceptions anyway
    st->audit_seq = seq;
  }
  if (!moved) {
    if (settle > 0 && st->thread)
      st->thread->post_after(settle >= 2 ? 50 : 500, [st, settle] { check_job(st, settle - 1); });
    return;
  }
  std::vector<policy::Exception> list = st->store->load_all();
  if (same(list, st->last)) return;  // another table in the same database changed
  st->last = list;
  st->deliver(std::make_shared<const std::vector<policy::Exception>>(std::move(list)));
  arm_expiry(st, wall_now());  // the next expiry may have changed
}

}  // namespace

void ExceptionFeed::check() noexcept {
  if (!m_open || m_check_queued.exchange(true)) return;
  auto st = m_state;
  const bool posted = m_st.post([st] {
    st->check_queued->store(false);
    check_job(st, 2);
  });
  if (!posted) m_check_queued.store(false);
}

void ExceptionFeed::record_expiries_at(int64_t now) noexcept {
  if (!m_open) return;
  auto st = m_state;
  m_st.post([st, now] {
    if (!st->store) return;
    std::string err;
    if (st->store->record_expiries(now, err) < 0)
      LOG_WARN("exception store: recording expiries: %s", err.c_str());
  });
}

void ExceptionFeed::close_and_wait() noexcept {
  if (!m_open) return;
  m_open = false;
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> f = done->get_future();
  auto st = m_state;
  if (m_st.post([st, done] {
        st->store.reset();
        st->armed_for = 0;
        done->set_value();
      }))
    f.wait();
}

}  // namespace hedge::runtime
