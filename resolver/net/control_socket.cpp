// net/control_socket: uv_pipe listener and one-line connections (see header).
#include "net/control_socket.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace hedge::net {

namespace {
constexpr unsigned kMaxConns = 8;
constexpr std::size_t kMaxLine = 64;
constexpr uint64_t kCommandTimeoutMs = 5000, kReplyTimeoutMs = 120000;
}  // namespace

// One client: a pipe and its deadline timer; deletes itself once both closed.
class ControlConn final : public CloseGroup {
 public:
  // Both handles are initialised here (libuv cannot fail these on a live loop).
  ControlConn(ControlSocket& owner, uv_loop_t* loop) : m_owner(&owner) {
    uv_pipe_init(loop, &m_pipe, 0);
    own(reinterpret_cast<uv_handle_t*>(&m_pipe));
    uv_timer_init(loop, &m_timer);
    own(reinterpret_cast<uv_handle_t*>(&m_timer));
  }
  uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&m_pipe); }
  void begin() {
    m_owner->m_conns.insert(this);
    uv_timer_start(&m_timer, &ControlConn::on_timeout, kCommandTimeoutMs, 0);
    uv_read_start(stream(), &ControlConn::on_alloc, &ControlConn::on_read);
  }
  void finish() noexcept {
    if (m_done) return;
    m_done = true;
    *m_alive = false;
    if (m_owner) m_owner->m_conns.erase(this);
    m_owner = nullptr;
    close_handle(reinterpret_cast<uv_handle_t*>(&m_pipe));
    close_handle(reinterpret_cast<uv_handle_t*>(&m_timer));
  }
  void detach() noexcept { m_owner = nullptr; }  // the listener is closing

 private:
  ~ControlConn() override = default;
  struct Write {
    uv_write_t req{};  // first: the callback casts back
    std::string text;
    ControlConn* conn = nullptr;
  };
  void reply(const std::string& line) {
    if (m_done || m_replied) return;
    m_replied = true;
    uv_timer_stop(&m_timer);
    auto* w = new Write;
    w->text = line + "\n";
    w->conn = this;
    uv_buf_t b = uv_buf_init(w->text.data(), static_cast<unsigned>(w->text.size()));
    if (uv_write(&w->req, stream(), &b, 1, &ControlConn::on_written) != 0) {
      delete w;
      finish();
    }
  }
  static ControlConn* self(uv_handle_t* h) { return static_cast<ControlConn*>(owner(h)); }
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* c = self(h);
    buf->base = c->m_buf;
    buf->len = sizeof c->m_buf;
  }
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = self(reinterpret_cast<uv_handle_t*>(s));
    if (n < 0) {
      c->finish();
      return;
    }
    if (c->m_got_command || c->m_done) return;
    c->m_line.append(buf->base, static_cast<std::size_t>(n));
    const auto nl = c->m_line.find('\n');
    if (nl == std::string::npos) {
      if (c->m_line.size() > kMaxLine) c->finish();
      return;
    }
    c->m_line.resize(nl);
    if (!c->m_line.empty() && c->m_line.back() == '\r') c->m_line.pop_back();
    c->m_got_command = true;
    uv_read_stop(s);
    uv_timer_start(&c->m_timer, &ControlConn::on_timeout, kReplyTimeoutMs, 0);
    std::shared_ptr<bool> alive = c->m_alive;
    ControlSocket::Reply reply = [c, alive](const std::string& line) {
      if (*alive) c->reply(line);
    };
    if (c->m_owner && c->m_owner->m_handler)
      c->m_owner->m_handler(c->m_line, std::move(reply));
    else
      c->reply("error shutting down");
  }
  static void on_written(uv_write_t* req, int) {
    auto* w = reinterpret_cast<Write*>(req);
    ControlConn* c = w->conn;
    delete w;
    c->finish();
  }
  static void on_timeout(uv_timer_t* t) { self(reinterpret_cast<uv_handle_t*>(t))->finish(); }

  ControlSocket* m_owner;
  std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
  uv_pipe_t m_pipe{};
  uv_timer_t m_timer{};
  char m_buf[128];
  std::string m_line;
  bool m_got_command = false, m_replied = false, m_done = false;
};

ControlSocket* ControlSocket::start(uv_loop_t* loop, const std::string& path, Handler handler,
                                    std::string& err) {
  auto* s = new ControlSocket;
  s->m_path = path;
  s->m_handler = std::move(handler);
  uv_pipe_init(loop, &s->m_pipe, 0);
  s->own(reinterpret_cast<uv_handle_t*>(&s->m_pipe));
  // A socket file left by a resolver that was killed: nobody listens on it.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  const mode_t old = ::umask(0177);
  int rc = uv_pipe_bind(&s->m_pipe, path.c_str());
  ::umask(old);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->m_pipe), 8, &ControlSocket::on_connection);
  if (rc != 0) {
    err = path + ": " + uv_strerror(rc);
    s->m_closing = true;
    s->close_handle(reinterpret_cast<uv_handle_t*>(&s->m_pipe));
    return nullptr;
  }
  return s;
}

void ControlSocket::close() noexcept {
  if (m_closing) return;
  m_closing = true;
  m_handler = nullptr;
  ::unlink(m_path.c_str());
  // Waiting clients see the connection close (the CLI reports it).
  std::vector<ControlConn*> conns(m_conns.begin(), m_conns.end());
  for (auto* c : conns) c->finish();
  m_conns.clear();
  close_handle(reinterpret_cast<uv_handle_t*>(&m_pipe));
}

void ControlSocket::on_connection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<ControlSocket*>(owner(reinterpret_cast<uv_handle_t*>(server)));
  if (status != 0 || self->m_closing) return;
  auto* c = new ControlConn(*self, server->loop);
  if (uv_accept(server, c->stream()) != 0 || self->m_conns.size() >= kMaxConns) {
    c->detach();
    c->finish();
    return;
  }
  c->begin();
}

}  // namespace hedge::net
