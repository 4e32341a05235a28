// runtime/update_watch: periodic off-loop read of the update state file (see header).
#include "runtime/update_watch.hpp"

#include <algorithm>
#include <ctime>

#include <sys/inotify.h>

#include "util/log.hpp"
#include "util/units.hpp"

namespace hedge::runtime {

namespace {
struct Read {
  uv_work_t req{};
  UpdateWatch* watch = nullptr;
  std::string path;
  std::shared_ptr<const update::UpdateState> result;
};
}  // namespace

UpdateWatch* UpdateWatch::start(uv_loop_t* loop, const std::string& path, uint64_t interval_ms,
                                std::atomic<int64_t>* trusted_out) {
  if (path.empty()) return nullptr;
  auto* w = new UpdateWatch;
  w->m_loop = loop;
  w->m_trusted_out = trusted_out;
  w->m_path = path;
  uv_timer_init(loop, &w->m_timer);
  w->m_timer.data = w;
  // A change shows on /status at once through the directory watch; the timer
  // is the fallback. With the watch in place it only re-reads every 5 minutes
  // (an idle box should not wake for nothing); without inotify (or with no
  // directory yet) it keeps the state current every interval_ms.
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  w->m_name = slash == std::string::npos ? path : path.substr(slash + 1);
  // Only a rename into place, a finished write or a removal: the directory
  // also holds the bundle generations, whose download writes would otherwise
  // each wake the loop (net/dir_watch).
  std::string werr;
  w->m_dir_watch = net::DirWatch::start(
      loop, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM,
      [w](const std::string& name) {
        if (w->m_closing || (!name.empty() && name != w->m_name)) return;
        if (w->m_reading)
          w->m_again = true;
        else
          w->read_now();
      },
      werr);
  if (w->m_dir_watch) interval_ms = std::max<uint64_t>(interval_ms, 300'000);
  uv_timer_start(&w->m_timer, &UpdateWatch::on_timer, 0, interval_ms);
  return w;
}

void UpdateWatch::on_timer(uv_timer_t* t) noexcept {
  static_cast<UpdateWatch*>(t->data)->read_now();
}

void UpdateWatch::read_now() noexcept {
  if (m_reading || m_closing) return;
  auto* r = new Read;
  r->watch = this;
  r->path = m_path;
  r->req.data = r;
  const int rc = uv_queue_work(
      m_loop, &r->req,
      [](uv_work_t* req) {
        // Thread pool: the file only.
        auto* rd = static_cast<Read*>(req->data);
        std::string err;
        if (auto s = update::read_state_file(rd->path, err))
          rd->result = std::make_shared<const update::UpdateState>(std::move(*s));
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<Read> rd(static_cast<Read*>(req->data));
        UpdateWatch* self = rd->watch;
        self->m_reading = false;
        if (self->m_closing) {
          self->maybe_free();
          return;
        }
        if (self->m_again) {
          self->m_again = false;
          self->read_now();
        }
        if (!rd->result) return;  // unreadable right now: keep the last good view
        self->m_state = std::move(rd->result);
        if (self->m_trusted_out)
          self->m_trusted_out->store(self->m_state->trusted_time, std::memory_order_relaxed);
        const int64_t now = static_cast<int64_t>(std::time(nullptr));
        const bool behind = now < self->m_state->trusted_time;
        if (behind != self->m_clock_behind) {
          if (behind)
            LOG_WARN(
                "the system clock (%s) is earlier than the newest trusted time (%s): the clock is wrong; "
                "schedules use the trusted time until it is fixed",
                util::iso_utc(now).c_str(), util::iso_utc(self->m_state->trusted_time).c_str());
          else
            LOG_INFO("the system clock is no longer earlier than the trusted time");
          self->m_clock_behind = behind;
        }
      });
  if (rc != 0) {
    delete r;
    return;
  }
  m_reading = true;
}

void UpdateWatch::close() noexcept {
  if (m_closing) return;
  m_closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), [](uv_handle_t* h) {
    auto* self = static_cast<UpdateWatch*>(h->data);
    self->m_timer_closed = true;
    self->maybe_free();
  });
  if (m_dir_watch) {
    m_dir_watch->close();  // frees itself; its callback checks m_closing until then
    m_dir_watch = nullptr;
  }
}

void UpdateWatch::maybe_free() noexcept {
  if (m_closing && m_timer_closed && !m_reading) delete this;
}

}  // namespace hedge::runtime
