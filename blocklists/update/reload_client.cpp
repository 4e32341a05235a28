// update/reload_client: unix-socket client for the resolver's control socket.
#include "blocklists/update/reload_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hedge::update {

ReloadResult request_reload(const std::string& path, int64_t timeout_ms, std::string& detail) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof sa.sun_path) {
    detail = "no control socket path";
    return ReloadResult::not_running;
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    detail = std::string("socket: ") + std::strerror(errno);
    return ReloadResult::failed;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    detail = path + ": " + std::strerror(errno);
    return errno == ENOENT || errno == ECONNREFUSED ? ReloadResult::not_running : ReloadResult::failed;
  }
  static const char cmd[] = "reload\n";
  if (::send(fd, cmd, sizeof cmd - 1, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof cmd - 1)) {
    detail = path + ": send: " + std::strerror(errno);
    return ReloadResult::failed;
  }
  timespec t0{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  std::string reply;
  char buf[512];
  while (reply.find('\n') == std::string::npos && reply.size() < 4096) {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    const int64_t left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1'000'000);
    if (left <= 0) {
      detail = path + ": no answer from the resolver within " + std::to_string(timeout_ms / 1000) + " s";
      return ReloadResult::failed;
    }
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  if (reply.rfind("ok", 0) == 0) {
    detail = reply.size() > 3 ? reply.substr(3) : "";
    return ReloadResult::reloaded;
  }
  detail = reply.rfind("error ", 0) == 0 ? reply.substr(6) : (reply.empty() ? "connection closed" : reply);
  return ReloadResult::failed;
}

}  // namespace hedge::update
