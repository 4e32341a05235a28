// runtime/system_watch: periodic off-loop look at time sync and the boot status (see header).
#include "runtime/system_watch.hpp"

#include <sys/stat.h>
#include <sys/timex.h>

#include <cstdio>
#include <cstdlib>

#include "util/log.hpp"
#include "util/small_file.hpp"

namespace hedge::runtime {

namespace {

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

using util::read_small;

std::string first_line(const std::string& s) {
  std::string l = s.substr(0, s.find('\n'));
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();
  return l;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once, on the loop at start
  return v && *v ? std::string(v) : std::string(fallback);
}

struct Read {
  uv_work_t req{};
  SystemWatch* watch = nullptr;
  std::string timesync_dir, boot_dir;
  std::shared_ptr<const SystemFacts> result;
};

}  // namespace

SystemFacts decide_time(bool timesync_dir_exists, bool synchronized_exists, bool kernel_unsync,
                        bool time_service) noexcept {
  SystemFacts f;
  if (timesync_dir_exists) {
    // timesyncd is in use: its own flag file is the answer, whatever the kernel says.
    f.time_source = "systemd-timesyncd";
    f.time_unsynchronised = !synchronized_exists;
  } else if (time_service) {
    f.time_source = "kernel";
    f.time_unsynchronised = kernel_unsync;
  }
  return f;
}

BootStatus parse_boot_status(bool present, const std::string& status, const std::string& source,
                             const std::string& errors) {
  BootStatus b;
  b.present = present;
  if (!present) return b;
  b.config_error = first_line(status) == "error";
  b.config_source = first_line(source);
  if (b.config_source.size() > 200) b.config_source.resize(200);
  std::size_t at = 0;
  while (at < errors.size() && b.errors.size() < 20) {
    const std::size_t nl = errors.find('\n', at);
    std::string line = first_line(errors.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    at = nl == std::string::npos ? errors.size() : nl + 1;
    if (line.empty()) continue;
    if (line.size() > 300) line.resize(300);
    // Control characters would only make /status hard to read.
    for (auto& c : line)
      if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    b.errors.push_back(std::move(line));
  }
  return b;
}

SystemFacts read_system_facts(const std::string& timesync_dir, const std::string& boot_dir) {
  timex tx{};
  const bool kernel_unsync = ::adjtimex(&tx) == TIME_ERROR;
  bool service = false;
  for (const char* p : {"/run/chrony", "/var/lib/chrony", "/var/lib/ntp", "/run/ntpd.pid"})
    if (exists(p)) service = true;
  SystemFacts f =
      decide_time(exists(timesync_dir), exists(timesync_dir + "/synchronized"), kernel_unsync, service);
  const std::string status_file = boot_dir + "/config-status";
  const bool present = exists(status_file);
  f.boot = parse_boot_status(present, present ? read_small(status_file, 64) : "",
                             present ? read_small(boot_dir + "/config-source", 512) : "",
                             present ? read_small(boot_dir + "/errors.txt") : "");
  return f;
}

SystemWatch* SystemWatch::start(uv_loop_t* loop, uint64_t interval_ms) {
  auto* w = new SystemWatch;
  w->m_loop = loop;
  w->m_timesync_dir = env_or("HEDGE_TIMESYNC_DIR", "/run/systemd/timesync");
  w->m_boot_dir = env_or("HEDGE_RUN_DIR", "/run/hedge-boot");
  uv_timer_init(loop, &w->m_timer);
  w->m_timer.data = w;
  uv_timer_start(
      &w->m_timer, [](uv_timer_t* t) { static_cast<SystemWatch*>(t->data)->read_now(); }, 0, interval_ms);
  return w;
}

void SystemWatch::read_now() noexcept {
  if (m_reading || m_closing) return;
  m_read_at = uv_now(m_loop);
  auto* r = new Read;
  r->watch = this;
  r->timesync_dir = m_timesync_dir;
  r->boot_dir = m_boot_dir;
  r->req.data = r;
  const int rc = uv_queue_work(
      m_loop, &r->req,
      [](uv_work_t* req) {
        // Thread pool: stat and small reads only.
        auto* rd = static_cast<Read*>(req->data);
        rd->result = std::make_shared<const SystemFacts>(read_system_facts(rd->timesync_dir, rd->boot_dir));
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<Read> rd(static_cast<Read*>(req->data));
        SystemWatch* self = rd->watch;
        self->m_reading = false;
        if (self->m_closing) {
          self->maybe_free();
          return;
        }
        if (!rd->result) return;
        if (rd->result->time_unsynchronised != self->m_logged_unsync) {
          self->m_logged_unsync = rd->result->time_unsynchronised;
          if (self->m_logged_unsync)
            LOG_WARN("%s says the system clock is not synchronised (/health reports it)",
                     rd->result->time_source.c_str());
          else
            LOG_INFO("the system clock is synchronised again");
        }
        self->m_facts = std::move(rd->result);
      });
  if (rc != 0) {
    delete r;
    return;
  }
  m_reading = true;
}

void SystemWatch::close() noexcept {
  if (m_closing) return;
  m_closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&m_timer), [](uv_handle_t* h) {
    auto* self = static_cast<SystemWatch*>(h->data);
    self->m_timer_closed = true;
    self->maybe_free();
  });
}

void SystemWatch::maybe_free() noexcept {
  if (m_closing && m_timer_closed && !m_reading) delete this;
}

}  // namespace hedge::runtime
