// update/https_client: HTTP/1.1 over net/tls_client + http-parser response framing (see header).
#include "blocklists/update/https_client.hpp"

#include <http_parser.h>

#include <cctype>
#include <cstring>

#include "net/tls_client.hpp"

namespace hedge::update {

namespace {

constexpr const char* kReasons[] = {"none", "dns",      "connect",   "tls",      "clock",
                                    "http", "timeout",  "truncated", "oversize", "signature",
                                    "hash", "manifest", "downgrade", "expired",  "channel",
                                    "disk", "crash",    "reload",    "other"};
static_assert(sizeof kReasons / sizeof kReasons[0] == static_cast<std::size_t>(Reason::other) + 1);

// The response as http-parser sees it.
struct Parse {
  http_parser parser{};
  Response* out = nullptr;
  const Sink* sink = nullptr;
  uint64_t max = 0;
  std::string field, value;
  bool in_value = false, headers_done = false, complete = false, oversize = false, sink_failed = false;
  uint64_t declared = UINT64_MAX;

  void end_header() {
    if (!in_value) return;
    std::string f = field;
    for (char& c : f) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (f == "etag") out->etag = value.substr(0, 256);
    if (f == "last-modified") out->last_modified = value.substr(0, 64);
    field.clear();
    value.clear();
    in_value = false;
  }
  static Parse* self(http_parser* p) { return static_cast<Parse*>(p->data); }
  static int on_field(http_parser* p, const char* at, size_t len) {
    auto* s = self(p);
    s->end_header();
    if (s->field.size() + len > 1024) return -1;
    s->field.append(at, len);
    return 0;
  }
  static int on_value(http_parser* p, const char* at, size_t len) {
    auto* s = self(p);
    s->in_value = true;
    if (s->value.size() + len > 8192) return -1;
    s->value.append(at, len);
    return 0;
  }
  static int on_headers_complete(http_parser* p) {
    auto* s = self(p);
    s->end_header();
    s->headers_done = true;
    s->out->status = static_cast<int>(p->status_code);
    if (p->status_code == 200 && (p->flags & F_CONTENTLENGTH) && p->content_length > s->max) {
      s->declared = p->content_length;
      s->oversize = true;
      return 2;  // stop: never read a body we will not keep
    }
    if (p->flags & F_CONTENTLENGTH) s->declared = p->content_length;
    return p->status_code == 200 ? 0 : 2;
  }
  static int on_body(http_parser* p, const char* at, size_t len) {
    auto* s = self(p);
    if (s->out->body_bytes + len > s->max) {
      s->oversize = true;
      return -1;
    }
    s->out->body_bytes += len;
    if (!(*s->sink)(at, len)) {
      s->sink_failed = true;
      return -1;
    }
    return 0;
  }
  static int on_complete(http_parser* p) {
    self(p)->complete = true;
    return 0;
  }
};

}  // namespace

const char* to_string(Reason r) noexcept {
  return kReasons[static_cast<std::size_t>(r)];
}

std::optional<Reason> reason_from_string(std::string_view s) noexcept {
  for (std::size_t i = 0; i <= static_cast<std::size_t>(Reason::other); ++i)
    if (s == kReasons[i]) return static_cast<Reason>(i);
  return std::nullopt;
}

std::string Url::str() const {
  return "https://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
         (port == "443" ? "" : ":" + port) + path;
}

std::optional<Url> parse_https_url(std::string_view s) {
  if (s.rfind("https://", 0) != 0) return std::nullopt;
  s.remove_prefix(8);
  const auto slash = s.find('/');
  std::string_view auth = s.substr(0, slash);
  Url u;
  u.path = slash == std::string_view::npos ? "/" : std::string(s.substr(slash));
  if (auth.empty() || auth.find('@') != std::string_view::npos) return std::nullopt;
  if (auth.front() == '[') {
    const auto close = auth.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(auth.substr(1, close - 1));
    auth.remove_prefix(close + 1);
    if (!auth.empty()) {
      if (auth.front() != ':') return std::nullopt;
      u.port = std::string(auth.substr(1));
    }
  } else {
    const auto colon = auth.find(':');
    u.host = std::string(auth.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(auth.substr(colon + 1));
  }
  if (u.host.empty() || u.port.empty() || u.port.size() > 5) return std::nullopt;
  for (char c : u.port)
    if (c < '0' || c > '9') return std::nullopt;
  const int port = std::stoi(u.port);
  if (port < 1 || port > 65535) return std::nullopt;
  for (char c : u.path)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;  // no spaces or controls
  return u;
}

struct HttpsClient::Impl {
  ClientOptions opt;
  net::TlsClientConfig tls;
};

HttpsClient::HttpsClient(ClientOptions opt) : m_impl(new Impl) {
  m_impl->opt = std::move(opt);
}

HttpsClient::~HttpsClient() {
  delete m_impl;
}

namespace {
Reason reason_of(net::ClientError e) noexcept {
  switch (e) {
    case net::ClientError::none: return Reason::none;
    case net::ClientError::dns: return Reason::dns;
    case net::ClientError::connect: return Reason::connect;
    case net::ClientError::timeout: return Reason::timeout;
    case net::ClientError::tls: return Reason::tls;
    case net::ClientError::clock: return Reason::clock;
    case net::ClientError::io: return Reason::truncated;
  }
  return Reason::other;
}
}  // namespace

bool HttpsClient::init(Failure& f) {
  auto& I = *m_impl;
  net::TlsClientOptions o;
  o.ca_file = I.opt.ca_file;
  o.connect_timeout_ms = I.opt.connect_timeout_ms;
  o.idle_timeout_ms = I.opt.idle_timeout_ms;
  o.total_timeout_ms = I.opt.total_timeout_ms;
  o.cancel = I.opt.cancel;
  net::ClientFailure cf;
  if (!I.tls.init(o, I.opt.user_agent.c_str(), cf)) {
    f = {reason_of(cf.kind), cf.message};
    return false;
  }
  return true;
}

bool HttpsClient::get(const Url& url, const Conditional& cond, uint64_t max_bytes, const Sink& sink,
                      Response& out, Failure& f, bool* sink_failed) {
  std::string extra;
  if (!cond.etag.empty()) extra += "If-None-Match: " + cond.etag + "\r\n";
  if (!cond.last_modified.empty()) extra += "If-Modified-Since: " + cond.last_modified + "\r\n";
  return request("GET", url, extra, {}, max_bytes, sink, out, f, sink_failed);
}

bool HttpsClient::post(const Url& url, const std::string& content_type, const std::string& body,
                       Response& out, Failure& f) {
  const Sink discard = [](const char*, std::size_t) { return true; };
  return request("POST", url, "Content-Type: " + content_type + "\r\n", body, uint64_t{64} * 1024, discard,
                 out, f, nullptr);
}

bool HttpsClient::request(const char* method, const Url& url, const std::string& extra_headers,
                          const std::string& body, uint64_t max_bytes, const Sink& sink, Response& out,
                          Failure& f, bool* sink_failed) {
  auto& I = *m_impl;
  out = Response{};
  const std::string where = url.str();
  net::ClientConnection conn(I.tls, where);
  net::ClientFailure cf;
  // 1.-3. Resolve, connect, TLS handshake with chain, name and validity checks.
  if (!conn.connect(url.host, url.port, cf) || !conn.start_tls(url.host, cf)) {
    f = {reason_of(cf.kind), cf.message};
    return false;
  }

  // 4. The request.
  std::string req = std::string(method) + " " + url.path + " HTTP/1.1\r\nHost: " + url.host +
                    (url.port == "443" ? "" : ":" + url.port) + "\r\nUser-Agent: " + I.opt.user_agent +
                    "/1\r\nAccept-Encoding: identity\r\nConnection: close\r\n" + extra_headers;
  if (std::strcmp(method, "GET") != 0) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  if (!conn.write(req, cf)) {
    f = {cf.kind == net::ClientError::timeout ? Reason::timeout : Reason::connect,
         where + ": sending the request: " + cf.message.substr(where.size() + 2)};
    return false;
  }
  // 5. The response, framed by http-parser, capped at max_bytes.
  Parse ps;
  http_parser_init(&ps.parser, HTTP_RESPONSE);
  ps.parser.data = &ps;
  ps.out = &out;
  ps.sink = &sink;
  ps.max = max_bytes;
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_header_field = &Parse::on_field;
  settings.on_header_value = &Parse::on_value;
  settings.on_headers_complete = &Parse::on_headers_complete;
  settings.on_body = &Parse::on_body;
  settings.on_message_complete = &Parse::on_complete;
  char buf[16384];
  bool eof = false;
  while (!ps.complete && !eof) {
    const long rc = conn.read(buf, sizeof buf, cf);
    std::size_t n = 0;
    if (rc > 0) {
      n = static_cast<std::size_t>(rc);
    } else if (rc == 0) {
      eof = true;
    } else {
      if (conn.timed_out()) {
        f = {Reason::timeout,
             where + ": " +
                 (conn.total_expired()
                      ? "total timeout of " + std::to_string(I.opt.total_timeout_ms / 1000) + " s reached"
                      : "no data for " + std::to_string(I.opt.idle_timeout_ms / 1000) + " s") +
                 " after " + std::to_string(out.body_bytes) + " body bytes"};
      } else {
        f = {Reason::truncated, where + ": connection failed after " + std::to_string(out.body_bytes) +
                                    " body bytes: " + cf.message.substr(where.size() + 2)};
      }
      return false;
    }
    const std::size_t used = http_parser_execute(&ps.parser, &settings, buf, eof ? 0 : n);
    if (ps.oversize) {
      f = {Reason::oversize,
           where + ": body larger than the " + std::to_string(max_bytes) + " bytes allowed" +
               (ps.declared != UINT64_MAX ? " (Content-Length " + std::to_string(ps.declared) + ")" : "") +
               ": refused"};
      return false;
    }
    if (ps.sink_failed) {
      if (sink_failed) *sink_failed = true;
      f = {Reason::disk, where + ": could not store the body"};
      return false;
    }
    if (ps.headers_done && out.status != 200) {
      conn.close_notify();
      return true;  // the caller decides what a 304 or a 404 means
    }
    if (eof && !ps.complete) break;  // reported below as truncated, whatever the parser thinks of it
    const auto perr = HTTP_PARSER_ERRNO(&ps.parser);
    if (perr != HPE_OK && !(perr == HPE_CB_headers_complete && ps.headers_done)) {
      f = {Reason::http, where + ": malformed HTTP response: " + http_errno_description(perr)};
      return false;
    }
    if (!eof && used != n && !ps.complete) {
      f = {Reason::http, where + ": malformed HTTP response"};
      return false;
    }
  }
  if (!ps.complete) {
    f = {Reason::truncated, where + ": connection closed after " + std::to_string(out.body_bytes) + " of " +
                                (ps.declared != UINT64_MAX ? std::to_string(ps.declared) : std::string("?")) +
                                " body bytes" + (ps.headers_done ? "" : " (before the headers ended)")};
    return false;
  }
  conn.close_notify();
  return true;
}

}  // namespace hedge::update
