// update/https_client: one HTTPS request at a time: GET for `hedge update`,
// POST for the alert webhook (alerts/alert_sender). TLS is net/tls_client
// (the box's one TLS client: TLS 1.2 or later; the certificate chain must end
// at a CA in ca_file, name the host, and be valid now); http-parser frames
// the response. No redirects are followed; one connection per request
// (Connection: close). The host is resolved with getaddrinfo (the system
// resolver: /etc/hosts, then /etc/resolv.conf, which on the box is Hedge
// itself, serving from the lists already on disk).
//
// Limits: connect timeout per address, idle timeout (no byte for that long),
// total deadline per request, and a byte cap: a body longer than the cap, or
// a Content-Length over it, fails as oversize the moment it is known, so an
// endless body costs at most cap bytes.
//
// Blocking I/O with poll(): this runs in the short-lived `hedge update`
// process or on the alert sender's thread, never on the DNS loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace hedge::update {

// Why a fetch failed; also the `reason` label of hedge_update_failures_total.
enum class Reason {
  none,
  dns,
  connect,
  tls,
  clock,
  http,
  timeout,
  truncated,
  oversize,
  signature,
  hash,
  manifest,
  downgrade,
  expired,
  channel,
  disk,
  crash,
  reload,
  other
};
const char* to_string(Reason r) noexcept;
std::optional<Reason> reason_from_string(std::string_view s) noexcept;

struct Failure {
  Reason reason = Reason::none;
  std::string message;  // one line: what failed and where
  explicit operator bool() const noexcept { return reason != Reason::none; }
};

struct Url {
  std::string host, port = "443", path = "/";  // path starts with '/'
  std::string str() const;                     // https://host[:port]/path
};
// https://host[:port][/path]; nullopt for anything else (http://, userinfo, ...).
std::optional<Url> parse_https_url(std::string_view s);

struct ClientOptions {
  std::string ca_file;
  int64_t connect_timeout_ms = 10'000, idle_timeout_ms = 30'000, total_timeout_ms = 1'800'000;
  std::string user_agent = "hedge-update";    // also the DRBG personalisation
  const std::atomic<bool>* cancel = nullptr;  // set: give up at once (shutdown)
};

struct Conditional {
  std::string etag, last_modified;  // sent as If-None-Match / If-Modified-Since when set
};

struct Response {
  int status = 0;
  std::string etag, last_modified;
  uint64_t body_bytes = 0;
};

// Receives body bytes as they arrive; return false to abort (the sink's
// error, e.g. disk full, is then the caller's to report).
using Sink = std::function<bool(const char* data, std::size_t len)>;

class HttpsClient {
 public:
  explicit HttpsClient(ClientOptions opt);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Loads the CA store and seeds the RNG; false and a Failure on error.
  bool init(Failure& f);

  // GET url. status 200: the body went to sink, at most max_bytes of it.
  // status 304: no body. Any other status is returned too (the caller says
  // what it means for that file); transport problems fail with a Reason.
  // sink_failed is set when the sink returned false.
  bool get(const Url& url, const Conditional& cond, uint64_t max_bytes, const Sink& sink, Response& out,
           Failure& f, bool* sink_failed = nullptr);
  // POST body; out.status is the receiver's answer (its body, up to 64 KiB, is read and dropped).
  bool post(const Url& url, const std::string& content_type, const std::string& body, Response& out,
            Failure& f);

 private:
  bool request(const char* method, const Url& url, const std::string& extra_headers, const std::string& body,
               uint64_t max_bytes, const Sink& sink, Response& out, Failure& f, bool* sink_failed);
  struct Impl;
  Impl* m_impl;
};

}  // namespace hedge::update
