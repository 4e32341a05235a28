// net/tls_client: socket connect with timeouts, mbedTLS client handshake and
// verification messages, plain/TLS I/O (see header).
#include "net/tls_client.hpp"

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

namespace hedge::net {

namespace {

constexpr int64_t kCancelSliceMs = 200;

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

}  // namespace

struct TlsClientConfig::Impl {
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

TlsClientConfig::TlsClientConfig() : m_impl(std::make_unique<Impl>()) {}
TlsClientConfig::~TlsClientConfig() = default;

bool TlsClientConfig::init(const TlsClientOptions& opt, const char* pers, ClientFailure& f) {
  m_opt = opt;
  auto& I = *m_impl;
  struct stat st {};
  if (::stat(opt.ca_file.c_str(), &st) != 0) {
    f = {ClientError::tls, "ca_file " + opt.ca_file + ": " + std::strerror(errno)};
    return false;
  }
  const int rc = S_ISDIR(st.st_mode) ? mbedtls_x509_crt_parse_path(&I.ca, opt.ca_file.c_str())
                                     : mbedtls_x509_crt_parse_file(&I.ca, opt.ca_file.c_str());
  // A store with a few unparsable entries still counts (rc > 0 = how many were skipped).
  if (rc < 0 || I.ca.version == 0) {
    f = {ClientError::tls, "ca_file " + opt.ca_file + ": no usable CA certificate (" + mbed_error(rc) + ")"};
    return false;
  }
  int r = mbedtls_ctr_drbg_seed(&I.drbg, mbedtls_entropy_func, &I.entropy,
                                reinterpret_cast<const unsigned char*>(pers), std::strlen(pers));
  if (r == 0)
    r = mbedtls_ssl_config_defaults(&I.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (r != 0) {
    f = {ClientError::tls, "TLS setup: " + mbed_error(r)};
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

// The socket (owned), the TLS session once started, and the timeouts: poll()
// before each read and write so the idle timeout, the total deadline and
// the cancel flag hold whatever the peer does.
struct ClientConnection::Impl {
  int fd = -1;
  int64_t deadline_ms = 0, idle_ms = 0;
  const std::atomic<bool>* cancel = nullptr;
  bool timed_out = false, total_expired = false, tls = false;
  mbedtls_ssl_context ssl;
  Impl() { mbedtls_ssl_init(&ssl); }
  ~Impl() {
    mbedtls_ssl_free(&ssl);
    if (fd >= 0) ::close(fd);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  bool cancelled() const noexcept { return cancel && cancel->load(std::memory_order_relaxed); }

  // > 0 ready, 0 timed out (or cancelled), < 0 poll failed.
  int wait(short events) {
    const int64_t idle_end = mono_ms() + idle_ms;
    for (;;) {
      const int64_t now = mono_ms();
      if (cancelled()) {
        timed_out = true;
        return 0;
      }
      const int64_t left = deadline_ms - now;
      if (left <= 0) {
        timed_out = total_expired = true;
        return 0;
      }
      if (now >= idle_end) {
        timed_out = true;
        return 0;
      }
      const int64_t t = std::min({left, idle_end - now, cancel ? kCancelSliceMs : left});
      pollfd p{fd, events, 0};
      const int rc = ::poll(&p, 1, static_cast<int>(t));
      if (rc < 0 && errno == EINTR) continue;
      if (rc != 0) return rc;
    }
  }
  long raw_send(const unsigned char* buf, size_t len) {
    if (wait(POLLOUT) <= 0) return timed_out ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_SEND_FAILED;
    ssize_t n;
    do {
      n = ::send(fd, buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
      return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
    }
    return n;
  }
  long raw_recv(unsigned char* buf, size_t len) {
    if (wait(POLLIN) <= 0) return timed_out ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_RECV_FAILED;
    ssize_t n;
    do {
      n = ::recv(fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
      return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
    return n;
  }
  static int send_cb(void* ctx, const unsigned char* buf, size_t len) {
    return static_cast<int>(static_cast<Impl*>(ctx)->raw_send(buf, len));
  }
  static int recv_cb(void* ctx, unsigned char* buf, size_t len) {
    return static_cast<int>(static_cast<Impl*>(ctx)->raw_recv(buf, len));
  }
};

ClientConnection::ClientConnection(TlsClientConfig& cfg, std::string where)
    : m_impl(std::make_unique<Impl>()), m_cfg(cfg), m_where(std::move(where)) {}
ClientConnection::~ClientConnection() = default;

bool ClientConnection::tls() const noexcept {
  return m_impl->tls;
}
bool ClientConnection::timed_out() const noexcept {
  return m_impl->timed_out;
}
bool ClientConnection::total_expired() const noexcept {
  return m_impl->total_expired;
}

bool ClientConnection::connect(const std::string& host, const std::string& port, ClientFailure& f) {
  const TlsClientOptions& opt = m_cfg.options();
  auto& I = *m_impl;
  I.deadline_ms = mono_ms() + opt.total_timeout_ms;
  I.idle_ms = opt.idle_timeout_ms;
  I.cancel = opt.cancel;

  AddrInfo ai;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  const int g = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &ai.res);
  if (g != 0) {
    f = {ClientError::dns, m_where + ": cannot resolve " + host + ": " + gai_strerror(g) +
                               (g == EAI_SYSTEM ? std::string(" (") + std::strerror(errno) + ")" : "")};
    return false;
  }
  std::string tried;
  bool timed_out = false;
  for (addrinfo* a = ai.res; a && I.fd < 0; a = a->ai_next) {
    char h[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    getnameinfo(a->ai_addr, a->ai_addrlen, h, sizeof h, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    const std::string addr = std::string(a->ai_family == AF_INET6 ? "[" : "") + h +
                             (a->ai_family == AF_INET6 ? "]" : "") + ":" + serv;
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      const int64_t end = std::min(mono_ms() + opt.connect_timeout_ms, I.deadline_ms);
      pollfd p{fd, POLLOUT, 0};
      for (;;) {
        const int64_t left = end - mono_ms();
        if (left <= 0 || I.cancelled()) {
          rc = 0;
          break;
        }
        rc = ::poll(&p, 1, static_cast<int>(std::min(left, kCancelSliceMs)));
        if (rc < 0 && errno == EINTR) continue;
        if (rc != 0) break;
      }
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
    I.fd = fd;
  }
  if (I.fd < 0) {
    f = {timed_out ? ClientError::timeout : ClientError::connect,
         m_where + ": cannot connect (" + tried + ")"};
    return false;
  }
  return true;
}

bool ClientConnection::start_tls(const std::string& host, ClientFailure& f) {
  auto& I = *m_impl;
  const TlsClientOptions& opt = m_cfg.options();
  LeafInfo leaf;
  int rc = mbedtls_ssl_setup(&I.ssl, &m_cfg.m_impl->conf);
  if (rc == 0) rc = mbedtls_ssl_set_hostname(&I.ssl, host.c_str());
  if (rc != 0) {
    f = {ClientError::tls, m_where + ": TLS setup: " + mbed_error(rc)};
    return false;
  }
  mbedtls_ssl_set_verify(&I.ssl, verify_cb, &leaf);
  mbedtls_ssl_set_bio(&I.ssl, &I, &Impl::send_cb, &Impl::recv_cb, nullptr);
  do {
    rc = mbedtls_ssl_handshake(&I.ssl);
  } while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
  mbedtls_ssl_set_verify(&I.ssl, nullptr, nullptr);  // leaf lives on this stack frame only
  if (rc == 0) {
    I.tls = true;
    return true;
  }
  if (I.timed_out) {
    f = {ClientError::timeout,
         m_where + ": TLS handshake timed out (" +
             (I.total_expired ? "total timeout"
                              : "no data for " + std::to_string(opt.idle_timeout_ms / 1000) + " s") +
             ")"};
    return false;
  }
  const uint32_t flags = mbedtls_ssl_get_verify_result(&I.ssl);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != static_cast<uint32_t>(-1)) {
    if (flags & (MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCRL_FUTURE)) {
      f = {ClientError::clock, m_where + ": the certificate is not valid until " +
                                   (leaf.seen ? util::iso_utc(leaf.not_before) : std::string("later")) +
                                   " but this box's clock reads " + util::iso_utc(now) +
                                   ": the clock is wrong (no real-time clock? check NTP / timesyncd)"};
    } else if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
      f = {ClientError::tls, m_where + ": certificate not issued by a CA in ca_file " + opt.ca_file +
                                 (leaf.subject.empty() ? "" : " (server presented " + leaf.subject + ")")};
    } else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
      f = {ClientError::tls, m_where + ": certificate is not for " + host +
                                 (leaf.subject.empty() ? "" : " (it is for " + leaf.subject + ")")};
    } else if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
      f = {ClientError::tls, m_where + ": certificate expired " +
                                 (leaf.seen ? util::iso_utc(leaf.not_after) : std::string("")) +
                                 " (this box's clock reads " + util::iso_utc(now) + ")"};
    } else {
      char buf[512];
      mbedtls_x509_crt_verify_info(buf, sizeof buf, "", flags);
      std::string s = buf;
      std::replace(s.begin(), s.end(), '\n', ';');
      f = {ClientError::tls, m_where + ": certificate rejected: " + s};
    }
    return false;
  }
  f = {ClientError::tls, m_where + ": TLS handshake failed: " + mbed_error(rc)};
  return false;
}

bool ClientConnection::write(std::string_view data, ClientFailure& f) {
  auto& I = *m_impl;
  std::size_t sent = 0;
  while (sent < data.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + sent);
    const long rc =
        I.tls ? mbedtls_ssl_write(&I.ssl, p, data.size() - sent) : I.raw_send(p, data.size() - sent);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    if (rc <= 0) {
      f = {I.timed_out ? ClientError::timeout : ClientError::connect,
           m_where + ": " + (I.timed_out ? std::string("timed out") : mbed_error(static_cast<int>(rc)))};
      return false;
    }
    sent += static_cast<std::size_t>(rc);
  }
  return true;
}

long ClientConnection::read(char* buf, std::size_t len, ClientFailure& f) {
  auto& I = *m_impl;
  for (;;) {
    auto* p = reinterpret_cast<unsigned char*>(buf);
    const long rc = I.tls ? mbedtls_ssl_read(&I.ssl, p, len) : I.raw_recv(p, len);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    if (rc > 0) return rc;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_NET_CONN_RESET) return 0;
    f = {I.timed_out ? ClientError::timeout : ClientError::io,
         m_where + ": " + (I.timed_out ? std::string("timed out") : mbed_error(static_cast<int>(rc)))};
    return -1;
  }
}

void ClientConnection::close_notify() noexcept {
  if (m_impl->tls) mbedtls_ssl_close_notify(&m_impl->ssl);
}

}  // namespace hedge::net
