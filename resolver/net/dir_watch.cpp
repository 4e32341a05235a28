// net/dir_watch: see the header.
#include "net/dir_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"

namespace hedge::net {

DirWatch* DirWatch::start(uv_loop_t* loop, const std::string& dir, uint32_t mask, Fn fn,
                          std::string& err) noexcept {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    err = std::string("inotify: ") + std::strerror(errno);
    return nullptr;
  }
  if (inotify_add_watch(fd, dir.c_str(), mask | IN_ONLYDIR) < 0) {
    err = dir + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  auto* w = new (std::nothrow) DirWatch;
  if (!w) {
    ::close(fd);
    err = "out of memory";
    return nullptr;
  }
  w->m_fd = fd;
  w->m_fn = std::move(fn);
  if (const int rc = uv_poll_init(loop, &w->m_poll, fd); rc != 0) {
    err = std::string("uv_poll_init: ") + uv_strerror(rc);
    delete w;  // no handle registered yet; the destructor closes the fd
    return nullptr;
  }
  w->own(reinterpret_cast<uv_handle_t*>(&w->m_poll));
  if (const int rc = uv_poll_start(&w->m_poll, UV_READABLE, &DirWatch::on_readable); rc != 0) {
    err = std::string("uv_poll_start: ") + uv_strerror(rc);
    w->close();
    return nullptr;
  }
  return w;
}

DirWatch::~DirWatch() {
  if (m_fd >= 0) ::close(m_fd);
}

void DirWatch::close() noexcept {
  if (m_closing) return;
  m_closing = true;
  close_handle(reinterpret_cast<uv_handle_t*>(&m_poll));  // the fd is closed after the handle
}

void DirWatch::on_readable(uv_poll_t* h, int status, int /*events*/) noexcept {
  auto* self = static_cast<DirWatch*>(owner(reinterpret_cast<uv_handle_t*>(h)));
  if (status < 0 || self->m_closing) return;
  self->drain();
}

void DirWatch::drain() noexcept {
  // Events are aligned to inotify_event; a buffer this size holds at least
  // one event with the longest name (NAME_MAX + 1).
  alignas(inotify_event) char buf[16 * (sizeof(inotify_event) + 256)];
  for (;;) {
    const ssize_t n = ::read(m_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: drained
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (off > n) break;  // the kernel never splits an event; stay inside what was read
      if (ev->mask & IN_Q_OVERFLOW) {
        if (m_fn) m_fn("");  // events were lost: the owner re-reads what it watches
        continue;
      }
      std::string name = ev->len ? std::string(ev->name, strnlen(ev->name, ev->len)) : std::string();
      if (m_fn && !m_closing) {
        try {
          m_fn(name);
        } catch (...) {
          LOG_WARN("directory watch: a handler failed");
        }
      }
    }
  }
}

}  // namespace hedge::net
