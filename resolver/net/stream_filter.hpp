// net/stream_filter: the seam under the HTTP parser. A connection's bytes
// from the socket go through on_wire_in() before the parser sees them, and
// the bytes the server writes go through on_plain_out() before the socket.
// Plain HTTP has no filter (identity); the console (issue 9) puts TLS here
// (mbedTLS on its own loop). A filter is created per connection by the
// listener's factory, used only on that listener's loop thread, and never
// does I/O itself: it only transforms buffers, so it cannot block a loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace hedge::net {

class StreamFilter {
 public:
  virtual ~StreamFilter() = default;
  // Bytes read from the socket. Appends decoded application bytes to `plain`
  // and any bytes that must go back to the peer (handshake records) to
  // `wire_out`. Returns false on a fatal error (the connection is closed
  // after `wire_out` is written, e.g. a TLS alert).
  virtual bool on_wire_in(std::span<const uint8_t> wire, std::string& plain, std::string& wire_out) = 0;
  // Application bytes to send: appends what goes on the wire to `wire_out`.
  // Returns false on a fatal error. May be called before the handshake is
  // done: the filter buffers until it can encode.
  virtual bool on_plain_out(std::string_view plain, std::string& wire_out) = 0;
  // The connection is about to close: bytes of an orderly shutdown (close_notify).
  virtual void on_close(std::string& wire_out) { (void)wire_out; }
};

// Called once per accepted connection; may return null for "no filter".
using StreamFilterFactory = std::function<std::unique_ptr<StreamFilter>()>;

}  // namespace hedge::net
