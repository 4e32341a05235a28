// http/message: one HTTP request in, one response out, and the helpers every
// page uses (escaping, form and query decoding). No uv_*, no sqlite3_*: the
// listener (net/http_listener) frames bytes into a Request and serialises the
// Response; handlers (block page, status, the console) only see these types.
//
// Threading: a Reply must be sent on the loop thread of the listener that
// made it (a handler that waits for the store thread posts back through
// net::LoopInbox). Sending after the client went away is a harmless no-op.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/address.hpp"

namespace hedge::http {

struct Header {
  std::string name;  // lower case for requests (as parsed); as written for responses
  std::string value;
};

struct Request {
  std::string method;  // "GET", "HEAD", "POST"
  std::string target;  // as sent: "/path?query"
  std::string path;    // percent-decoded path, without the query
  std::string query;   // raw query string (no '?')
  std::vector<Header> headers;
  std::string body;
  util::SockAddr client;  // peer address
  util::SockAddr local;   // the listen address it arrived on
  std::string listener;   // listener name ("block_page", "status", "console")
  unsigned http_major = 1, http_minor = 1;
  bool keep_alive = true;
  // First header with this (lower-case) name, or null.
  const std::string* header(std::string_view lower_name) const noexcept;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;  // Content-Length and Connection are added by the listener
  std::string body;
  bool close = false;  // close the connection after this response

  Response() = default;
  Response(int s, std::string content_type, std::string b) : status(s), body(std::move(b)) {
    headers.push_back({"Content-Type", std::move(content_type)});
  }
  Response& set(std::string name, std::string value);
};

// "OK", "Not Found", ... ("Unknown" for codes not listed).
const char* reason_phrase(int status) noexcept;

// The bytes of a response: status line, headers, Content-Length, Connection,
// then the body (left out for HEAD, but Content-Length still says its size).
std::string serialize(const Response& r, bool head_only, bool keep_alive);

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view s);
// Percent-decoding; '+' is a space when `plus_is_space` (forms). Invalid
// escapes are kept as written. NUL bytes are dropped.
std::string url_decode(std::string_view s, bool plus_is_space);
// application/x-www-form-urlencoded or a query string: name=value pairs, decoded.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view s);
// Value of the first field `name` in parsed form data ("" if absent).
std::string form_value(const std::vector<std::pair<std::string, std::string>>& form, std::string_view name);
// Escapes a string for a JSON document (without the surrounding quotes).
std::string json_escape(std::string_view s);

// Where a reply goes. Implemented by the listener's connection.
class ReplySink {
 public:
  virtual void reply_ready() noexcept = 0;

 protected:
  ~ReplySink() = default;
};

// The pending answer to one request, in the connection's in-order queue.
struct ReplySlot {
  Response response;
  bool done = false;
  ReplySink* sink = nullptr;  // null once the connection closed
};

// Handed to a Handler with each request; send() exactly once (now or later,
// on the listener's loop thread). Copyable; extra send() calls are ignored.
class Reply {
 public:
  Reply() = default;
  explicit Reply(std::shared_ptr<ReplySlot> s) : m_slot(std::move(s)) {}
  void send(Response&& r) const noexcept;
  bool connected() const noexcept { return m_slot && m_slot->sink; }

 private:
  std::shared_ptr<ReplySlot> m_slot;
};

// Implemented by whatever serves a listener (block page, status, console).
class Handler {
 public:
  virtual void handle(Request&& req, Reply reply) noexcept = 0;

 protected:
  ~Handler() = default;
};

}  // namespace hedge::http
