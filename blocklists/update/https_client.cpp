// update/https_client: mbedTLS 2.28 client + http-parser response framing (see header).
#include "blocklists/update/https_client.hpp"

#include <fcntl.h>
#include <http_parser.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "util/units.hpp"

namespace hedge::update {

namespace {

constexpr const char* kReasons[] = {"none", "dns",      "connect",   "tls",      "clock",
                                    "http", "timeout",  "truncated", "oversize", "signature",
                                    "hash", "manifest", "downgrade", "expired",  "channel",
                                    "disk", "crash",    "reload",    "other"};
static_assert(sizeof kReasons / sizeof kReasons[0] == static_cast<std::size_t>(Reason::other) + 1);

int64_t mono_ms() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

std::string mbed_error(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

// Owns a socket fd.
struct Socket {
  int fd = -1;
  Socket() = default;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
};

// Owns a getaddrinfo result.
struct AddrInfo {
  addrinfo* res = nullptr;
  AddrInfo() = default;
  ~AddrInfo() {
    if (res) freeaddrinfo(res);
  }
  AddrInfo(const AddrInfo&) = delete;
  AddrInfo& operator=(const AddrInfo&) = delete;
};

// Owns one TLS session.
struct Ssl {
  mbedtls_ssl_context ctx;
  Ssl() { mbedtls_ssl_init(&ctx); }
  ~Ssl() { mbedtls_ssl_free(&ctx); }
  Ssl(const Ssl&) = delete;
  Ssl& operator=(const Ssl&) = delete;
};

// The socket under the TLS session: poll() before each read and write so
// the idle timeout and the total deadline hold whatever the peer does.
struct Io {
  int fd = -1;
  int64_t deadline_ms = 0, idle_ms = 0;
  bool timed_out = false, total_expired = false;
  int wait(short events) {
    const int64_t left = deadline_ms - mono_ms();
    if (left <= 0) {
      timed_out = total_expired = true;
      return 0;
    }
    const int64_t t = std::min(left, idle_ms);
    pollfd p{fd, events, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, static_cast<int>(t));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      timed_out = true;
      total_expired = t == left;
    }
    return rc;
  }
  static int send_cb(void* ctx, const unsigned char* buf, size_t len) {
    auto* io = static_cast<Io*>(ctx);
    if (io->wait(POLLOUT) <= 0) return io->timed_out ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_SEND_FAILED;
    ssize_t n;
    do {
      n = ::send(io->fd, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
      return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
    }
    return static_cast<int>(n);
  }
  static int recv_cb(void* ctx, unsigned char* buf, size_t len) {
    auto* io = static_cast<Io*>(ctx);
    if (io->wait(POLLIN) <= 0) return io->timed_out ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_RECV_FAILED;
    ssize_t n;
    do {
      n = ::recv(io->fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
      return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
    return static_cast<int>(n);
  }
};

// What the verify callback saw of the server's own certificate.
struct LeafInfo {
  bool seen = false;
  int64_t not_before = 0, not_after = 0;
  std::string subject;
};

int64_t x509_time(const mbedtls_x509_time& t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", t.year, t.mon, t.day, t.hour, t.min,
                t.sec);
  return util::parse_iso_utc(buf).value_or(0);
}

int verify_cb(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* /*flags*/) {
  auto* leaf = static_cast<LeafInfo*>(ctx);
  if (depth == 0) {
    leaf->seen = true;
    leaf->not_before = x509_time(crt->valid_from);
    leaf->not_after = x509_time(crt->valid_to);
    char buf[256];
    if (mbedtls_x509_dn_gets(buf, sizeof buf, &crt->subject) > 0) leaf->subject = buf;
  }
  return 0;  // the flags decide; this only records
}

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
  mbedtls_x509_crt ca;
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_ssl_config conf;
  Impl() {
    mbedtls_x509_crt_init(&ca);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ssl_config_init(&conf);
  }
  ~Impl() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    mbedtls_x509_crt_free(&ca);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
};

HttpsClient::HttpsClient(ClientOptions opt) : m_impl(new Impl) {
  m_impl->opt = std::move(opt);
}

HttpsClient::~HttpsClient() {
  delete m_impl;
}

bool HttpsClient::init(Failure& f) {
  auto& I = *m_impl;
  struct stat st {};
  if (::stat(I.opt.ca_file.c_str(), &st) != 0) {
    f = {Reason::tls, "ca_file " + I.opt.ca_file + ": " + std::strerror(errno)};
    return false;
  }
  const int rc = S_ISDIR(st.st_mode) ? mbedtls_x509_crt_parse_path(&I.ca, I.opt.ca_file.c_str())
                                     : mbedtls_x509_crt_parse_file(&I.ca, I.opt.ca_file.c_str());
  // A store with a few unparsable entries still counts (rc > 0 = how many were skipped).
  if (rc < 0 || I.ca.version == 0) {
    f = {Reason::tls, "ca_file " + I.opt.ca_file + ": no usable CA certificate (" + mbed_error(rc) + ")"};
    return false;
  }
  static const char pers[] = "hedge-update";
  int r = mbedtls_ctr_drbg_seed(&I.drbg, mbedtls_entropy_func, &I.entropy,
                                reinterpret_cast<const unsigned char*>(pers), sizeof pers - 1);
  if (r == 0)
    r = mbedtls_ssl_config_defaults(&I.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (r != 0) {
    f = {Reason::tls, "TLS setup: " + mbed_error(r)};
    return false;
  }
  mbedtls_ssl_conf_authmode(&I.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&I.conf, &I.ca, nullptr);
  mbedtls_ssl_conf_rng(&I.conf, mbedtls_ctr_drbg_random, &I.drbg);
  // TLS 1.2 at least (2.28 has no 1.3 client; 1.0/1.1 are refused).
  mbedtls_ssl_conf_min_version(&I.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_renegotiation(&I.conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  return true;
}

bool HttpsClient::get(const Url& url, const Conditional& cond, uint64_t max_bytes, const Sink& sink,
                      Response& out, Failure& f, bool* sink_failed) {
  auto& I = *m_impl;
  out = Response{};
  const std::string where = url.str();
  const int64_t start = mono_ms();
  const int64_t deadline = start + I.opt.total_timeout_ms;

  // 1. Resolve with the system resolver.
  AddrInfo ai;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  const int g = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &ai.res);
  if (g != 0) {
    f = {Reason::dns, where + ": cannot resolve " + url.host + ": " + gai_strerror(g) +
                          (g == EAI_SYSTEM ? std::string(" (") + std::strerror(errno) + ")" : "")};
    return false;
  }

  // 2. Connect to each address in turn, each within connect_timeout.
  Socket sock;
  std::string tried;
  bool timed_out = false;
  for (addrinfo* a = ai.res; a && sock.fd < 0; a = a->ai_next) {
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    const std::string addr = std::string(a->ai_family == AF_INET6 ? "[" : "") + host +
                             (a->ai_family == AF_INET6 ? "]" : "") + ":" + serv;
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int64_t t = std::min(I.opt.connect_timeout_ms, deadline - mono_ms());
      do {
        rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(t, 0)));
      } while (rc < 0 && errno == EINTR);
      if (rc == 0) {
        timed_out = true;
        tried += (tried.empty() ? "" : ", ") + addr + ": timed out";
        ::close(fd);
        continue;
      }
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
      errno = soerr;
      rc = soerr == 0 ? 0 : -1;
    }
    if (rc != 0) {
      tried += (tried.empty() ? "" : ", ") + addr + ": " + std::strerror(errno);
      ::close(fd);
      continue;
    }
    sock.fd = fd;
  }
  if (sock.fd < 0) {
    f = {timed_out ? Reason::timeout : Reason::connect, where + ": cannot connect (" + tried + ")"};
    return false;
  }

  // 3. TLS handshake with chain, name and validity checks.
  Io io{sock.fd, deadline, I.opt.idle_timeout_ms};
  Ssl ssl;
  LeafInfo leaf;
  int rc = mbedtls_ssl_setup(&ssl.ctx, &I.conf);
  if (rc == 0) rc = mbedtls_ssl_set_hostname(&ssl.ctx, url.host.c_str());
  if (rc != 0) {
    f = {Reason::tls, where + ": TLS setup: " + mbed_error(rc)};
    return false;
  }
  mbedtls_ssl_set_verify(&ssl.ctx, verify_cb, &leaf);
  mbedtls_ssl_set_bio(&ssl.ctx, &io, &Io::send_cb, &Io::recv_cb, nullptr);
  do {
    rc = mbedtls_ssl_handshake(&ssl.ctx);
  } while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
  if (rc != 0) {
    if (io.timed_out) {
      f = {Reason::timeout,
           where + ": TLS handshake timed out (" +
               (io.total_expired ? "total timeout"
                                 : "no data for " + std::to_string(I.opt.idle_timeout_ms / 1000) + " s") +
               ")"};
      return false;
    }
    const uint32_t flags = mbedtls_ssl_get_verify_result(&ssl.ctx);
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != static_cast<uint32_t>(-1)) {
      if (flags & (MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCRL_FUTURE)) {
        f = {Reason::clock, where + ": the certificate is not valid until " +
                                (leaf.seen ? util::iso_utc(leaf.not_before) : std::string("later")) +
                                " but this box's clock reads " + util::iso_utc(now) +
                                ": the clock is wrong (no real-time clock? check NTP / timesyncd)"};
      } else if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
        f = {Reason::tls, where + ": certificate not issued by a CA in ca_file " + I.opt.ca_file +
                              (leaf.subject.empty() ? "" : " (server presented " + leaf.subject + ")")};
      } else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
        f = {Reason::tls, where + ": certificate is not for " + url.host +
                              (leaf.subject.empty() ? "" : " (it is for " + leaf.subject + ")")};
      } else if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
        f = {Reason::tls, where + ": certificate expired " +
                              (leaf.seen ? util::iso_utc(leaf.not_after) : std::string("")) +
                              " (this box's clock reads " + util::iso_utc(now) + ")"};
      } else {
        char buf[512];
        mbedtls_x509_crt_verify_info(buf, sizeof buf, "", flags);
        std::string s = buf;
        std::replace(s.begin(), s.end(), '\n', ';');
        f = {Reason::tls, where + ": certificate rejected: " + s};
      }
      return false;
    }
    f = {Reason::tls, where + ": TLS handshake failed: " + mbed_error(rc)};
    return false;
  }

  // 4. The request.
  std::string req = "GET " + url.path + " HTTP/1.1\r\nHost: " + url.host +
                    (url.port == "443" ? "" : ":" + url.port) +
                    "\r\nUser-Agent: hedge-update/1\r\nAccept-Encoding: identity\r\nConnection: close\r\n";
  if (!cond.etag.empty()) req += "If-None-Match: " + cond.etag + "\r\n";
  if (!cond.last_modified.empty()) req += "If-Modified-Since: " + cond.last_modified + "\r\n";
  req += "\r\n";
  std::size_t sent = 0;
  while (sent < req.size()) {
    rc = mbedtls_ssl_write(&ssl.ctx, reinterpret_cast<const unsigned char*>(req.data() + sent),
                           req.size() - sent);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    if (rc <= 0) {
      f = {io.timed_out ? Reason::timeout : Reason::connect,
           where + ": sending the request: " + mbed_error(rc)};
      return false;
    }
    sent += static_cast<std::size_t>(rc);
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
  unsigned char buf[16384];
  bool eof = false;
  while (!ps.complete && !eof) {
    rc = mbedtls_ssl_read(&ssl.ctx, buf, sizeof buf);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    std::size_t n = 0;
    if (rc > 0) {
      n = static_cast<std::size_t>(rc);
    } else if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_NET_CONN_RESET) {
      eof = true;
    } else {
      if (io.timed_out) {
        f = {Reason::timeout,
             where + ": " +
                 (io.total_expired
                      ? "total timeout of " + std::to_string(I.opt.total_timeout_ms / 1000) + " s reached"
                      : "no data for " + std::to_string(I.opt.idle_timeout_ms / 1000) + " s") +
                 " after " + std::to_string(out.body_bytes) + " body bytes"};
      } else {
        f = {Reason::truncated, where + ": connection failed after " + std::to_string(out.body_bytes) +
                                    " body bytes: " + mbed_error(rc)};
      }
      return false;
    }
    const std::size_t used =
        http_parser_execute(&ps.parser, &settings, reinterpret_cast<const char*>(buf), eof ? 0 : n);
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
      mbedtls_ssl_close_notify(&ssl.ctx);
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
  mbedtls_ssl_close_notify(&ssl.ctx);
  return true;
}

}  // namespace hedge::update
