// alerts/smtp: the SMTP exchange over net/tls_client (see header).
#include "alerts/smtp.hpp"

#include <algorithm>
#include <cctype>

#include "alerts/alert_text.hpp"

namespace hedge::alerts {

namespace {

constexpr std::size_t kMaxReply = std::size_t{64} * 1024;

struct Reply {
  int code = 0;
  std::string text;  // every line, joined with '\n' (for EHLO keywords and errors)
};

class Session {
 public:
  Session(net::ClientConnection& c, std::string& err) : m_c(c), m_err(err) {}

  // Reads one (possibly multi-line) reply: lines "NNN-..." then "NNN ...".
  bool reply(Reply& r, const char* step) {
    r = Reply{};
    std::string all;
    for (;;) {
      const auto nl = m_buf.find('\n');
      if (nl == std::string::npos) {
        if (m_buf.size() > kMaxReply) return fail(step, "reply too long");
        char tmp[4096];
        net::ClientFailure f;
        const long n = m_c.read(tmp, sizeof tmp, f);
        if (n == 0) return fail(step, "the relay closed the connection");
        if (n < 0) return fail(step, f.message);
        m_buf.append(tmp, static_cast<std::size_t>(n));
        continue;
      }
      std::string line = m_buf.substr(0, nl);
      m_buf.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
          line[2] < '0' || line[2] > '9')
        return fail(step, "not an SMTP reply: '" + line.substr(0, 80) + "'");
      const int code = std::stoi(line.substr(0, 3));
      if (r.code && code != r.code) return fail(step, "reply codes differ inside one reply");
      r.code = code;
      all += (all.empty() ? "" : "\n") + line.substr(std::min<std::size_t>(line.size(), 4));
      if (all.size() > kMaxReply) return fail(step, "reply too long");
      if (line.size() == 3 || line[3] == ' ') break;
      if (line[3] != '-') return fail(step, "not an SMTP reply: '" + line.substr(0, 80) + "'");
    }
    r.text = std::move(all);
    return true;
  }
  // Sends a command (CRLF added) and expects a reply code in [lo, hi].
  bool command(const std::string& cmd, const char* step, int lo, int hi, Reply& r) {
    if (!send(cmd + "\r\n", step)) return false;
    if (!reply(r, step)) return false;
    if (r.code < lo || r.code > hi) {
      std::string t = r.text.substr(0, 200);
      for (char& c : t)
        if (c == '\n') c = ' ';
      return fail(step, "the relay answered " + std::to_string(r.code) + " " + t);
    }
    return true;
  }
  bool send(const std::string& data, const char* step) {
    net::ClientFailure f;
    if (!m_c.write(data, f)) return fail(step, f.message);
    return true;
  }
  bool expect(const char* step, int lo, int hi, Reply& r) {
    if (!reply(r, step)) return false;
    if (r.code < lo || r.code > hi)
      return fail(step, "the relay answered " + std::to_string(r.code) + " " + r.text.substr(0, 200));
    return true;
  }
  bool fail(const char* step, const std::string& why) {
    m_err = m_c.where() + ": " + step + ": " + why;
    return false;
  }
  void clear_buffer() { m_buf.clear(); }
  bool buffered() const { return !m_buf.empty(); }

 private:
  net::ClientConnection& m_c;
  std::string& m_err;
  std::string m_buf;
};

bool has_keyword(const std::string& ehlo, std::string_view kw, std::string_view arg = {}) {
  std::size_t pos = 0;
  while (pos <= ehlo.size()) {
    const auto end = std::min(ehlo.find('\n', pos), ehlo.size());
    std::string line = ehlo.substr(pos, end - pos);
    for (char& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (line.rfind(kw, 0) == 0 &&
        (line.size() == kw.size() || line[kw.size()] == ' ' || line[kw.size()] == '='))
      if (arg.empty() || line.find(std::string(" ") + std::string(arg)) != std::string::npos ||
          line.find(std::string("=") + std::string(arg)) != std::string::npos)
        return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

bool send_mail(net::TlsClientConfig& tls, const SmtpSettings& s, const std::string& message,
               std::string& err) {
  net::ClientConnection c(tls, std::string(s.implicit_tls ? "smtps://" : "smtp://") + s.host + ":" + s.port);
  net::ClientFailure f;
  if (!c.connect(s.host, s.port, f) || (s.implicit_tls && !c.start_tls(s.host, f))) {
    err = f.message;
    return false;
  }
  Session ss(c, err);
  Reply r;
  if (!ss.expect("greeting", 220, 220, r)) return false;
  if (!ss.command("EHLO " + s.helo, "EHLO", 250, 250, r)) return false;
  if (!c.tls()) {
    if (!has_keyword(r.text, "STARTTLS"))
      return ss.fail("EHLO", "the relay does not offer STARTTLS; Hedge does not send alerts in clear text");
    if (!ss.command("STARTTLS", "STARTTLS", 220, 220, r)) return false;
    // Bytes sent before the handshake would be a command injection (CVE-2011-0411 style): refuse them.
    if (ss.buffered()) return ss.fail("STARTTLS", "the relay sent data before the TLS handshake");
    if (!c.start_tls(s.host, f)) {
      err = f.message;
      return false;
    }
    if (!ss.command("EHLO " + s.helo, "EHLO after STARTTLS", 250, 250, r)) return false;
  }
  if (!s.user.empty()) {
    if (!has_keyword(r.text, "AUTH", "PLAIN"))
      return ss.fail("AUTH", "the relay does not offer AUTH PLAIN (a login is configured)");
    std::string cred;
    cred += '\0';
    cred += s.user;
    cred += '\0';
    cred += s.password;
    if (!ss.command("AUTH PLAIN " + base64(cred), "AUTH", 235, 235, r)) return false;
  }
  if (!ss.command("MAIL FROM:<" + s.from + ">", "MAIL FROM", 250, 250, r)) return false;
  for (const auto& to : s.to)
    if (!ss.command("RCPT TO:<" + to + ">", "RCPT TO", 250, 251, r)) return false;
  if (!ss.command("DATA", "DATA", 354, 354, r)) return false;
  if (!ss.send(dot_stuff(message) + ".\r\n", "message")) return false;
  if (!ss.expect("end of message", 250, 250, r)) return false;
  ss.command("QUIT", "QUIT", 221, 221, r);  // the mail is accepted whatever QUIT brings
  c.close_notify();
  err.clear();
  return true;
}

}  // namespace hedge::alerts
