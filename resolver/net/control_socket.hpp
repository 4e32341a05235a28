// net/control_socket: the resolver's local control channel, a unix stream
// socket on the DNS loop (uv_pipe). `hedge update` and `hedge rollback`
// connect, send one line ("reload"), and get one line back when it is done
// ("ok <serial>" / "error <why>"). The path comes from the config
// ([update] control_socket, default <[lists] bundle parent>/hedge.sock), so
// the CLI finds the `hedge serve` that uses the same config with no flags.
//
// Hostile-input limits: 8 connections, a 64-byte command line that must
// arrive within 5 s, replies after at most 120 s; mode 0600 (root only).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "net/uv_handle.hpp"

namespace hedge::net {

class ControlConn;

class ControlSocket final : public CloseGroup {
 public:
  // Sends one reply line (a newline is added) and closes; no-op once the
  // connection is gone. May be kept and called later, on the loop thread.
  using Reply = std::function<void(const std::string& line)>;
  using Handler = std::function<void(std::string_view command, Reply reply)>;

  // Binds path (a stale socket file is replaced). Null and err on failure.
  static ControlSocket* start(uv_loop_t* loop, const std::string& path, Handler handler, std::string& err);
  void close() noexcept;  // stops listening, closes open connections, removes the file
  const std::string& path() const noexcept { return m_path; }

 private:
  friend class ControlConn;
  ControlSocket() = default;
  ~ControlSocket() override = default;
  static void on_connection(uv_stream_t* server, int status) noexcept;

  uv_pipe_t m_pipe{};
  std::string m_path;
  Handler m_handler;
  std::unordered_set<ControlConn*> m_conns;
  bool m_closing = false;
  std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
};

}  // namespace hedge::net
