// Component: the whole server (listeners, pipeline, cache, forwarder) on
// 127.0.0.1 port 0 against the scripted FakeUpstream. Ends with run()
// returning 0, which means uv_loop_close found no handle left open.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "../unit/ldns_helpers.hpp"
#include "cli.hpp"
#include "config/config.hpp"
#include "fake_upstream.hpp"
#include "server.hpp"

namespace {

std::string make_bundle() {
  char tmpl[] = "/tmp/hedge-component-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/porn.txt") << "blocked.test\n";
  std::ofstream(dir + "/abuse.txt") << "secret-abuse.test\n";
  const std::string out = dir + "/bundle", p = "pornography=" + dir + "/porn.txt",
                    a = "child-abuse=" + dir + "/abuse.txt";
  const char* argv[] = {"compile", "--out", out.c_str(), "--quiet", p.c_str(), a.c_str()};
  REQUIRE(hedge::cli::compile(6, const_cast<char**>(argv)) == 0);
  return out;
}

struct Harness {
  FakeUpstream upstream;
  hedge::Server server;
  std::thread loop;
  int rc = -1;
  uint16_t port = 0;

  explicit Harness(const std::string& extra = "") {
    static const std::string bundle = make_bundle();
    const std::string toml =
        "[server]\nlisten = [\"127.0.0.1:0\"]\nrate_limit_qps = 0\ntcp_idle_timeout_ms = 500\n"
        "[upstream]\nservers = [\"127.0.0.1:" +
        std::to_string(upstream.port()) +
        "\"]\ntimeout_ms = 500\nattempts = 2\nbudget_ms = 1500\n[lists]\nbundle = \"" + bundle +
        "\"\n[block]\nipv4 = \"192.0.2.99\"\n[log]\nlevel = \"error\"\n" + extra;
    hedge::config::Config cfg;
    hedge::util::ConfigErrors errs("component.toml");
    REQUIRE(hedge::config::load_config_text(toml, "component.toml", cfg, errs));
    std::string err;
    REQUIRE_MESSAGE(server.start(cfg, err), err);
    port = server.udp_addresses().front().port();
    loop = std::thread([this] { rc = server.run(); });
  }
  ~Harness() { stop(); }
  void stop() {
    if (!loop.joinable()) return;
    server.request_stop();
    loop.join();
    // Every test, not only some: run() returns 0 only when uv_loop_close found no handle left.
    CHECK_MESSAGE(rc == 0, "the event loop closed with handles still open");
  }

  sockaddr_in addr() const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  // One UDP exchange; empty on timeout.
  std::vector<uint8_t> udp(const std::vector<uint8_t>& q, int timeout_ms = 2000,
                           const char* from = nullptr) const {
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (from) {  // any 127/8 address is ours on loopback: one "device" per address
      sockaddr_in src{};
      src.sin_family = AF_INET;
      inet_pton(AF_INET, from, &src.sin_addr);
      bind(s, reinterpret_cast<sockaddr*>(&src), sizeof src);
    }
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto a = addr();
    sendto(s, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    std::vector<uint8_t> buf(65536);
    const ssize_t n = recv(s, buf.data(), buf.size(), 0);
    close(s);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }

  // Several queries pipelined on one TCP connection; answers in arrival order.
  std::vector<std::vector<uint8_t>> tcp(const std::vector<std::vector<uint8_t>>& qs) const {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{3, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto a = addr();
    std::vector<std::vector<uint8_t>> out;
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(s);
      return out;
    }
    std::vector<uint8_t> all;
    for (const auto& q : qs) {
      all.push_back(static_cast<uint8_t>(q.size() >> 8));
      all.push_back(static_cast<uint8_t>(q.size()));
      all.insert(all.end(), q.begin(), q.end());
    }
    send(s, all.data(), all.size(), MSG_NOSIGNAL);
    for (size_t i = 0; i < qs.size(); ++i) {
      uint8_t l[2];
      if (recv(s, l, 2, MSG_WAITALL) != 2) break;
      std::vector<uint8_t> r((size_t{l[0]} << 8) | l[1]);
      if (recv(s, r.data(), r.size(), MSG_WAITALL) != static_cast<ssize_t>(r.size())) break;
      out.push_back(std::move(r));
    }
    close(s);
    return out;
  }
};

ldns_pkt_rcode rcode_of(const std::vector<uint8_t>& r) {
  auto p = testutil::parse(r.data(), r.size());
  return p ? ldns_pkt_get_rcode(p.get()) : static_cast<ldns_pkt_rcode>(-1);
}

std::string first_a(const std::vector<uint8_t>& r) {
  auto p = testutil::parse(r.data(), r.size());
  if (!p) return "";
  for (size_t i = 0; i < ldns_rr_list_rr_count(ldns_pkt_answer(p.get())); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(p.get()), i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A) {
      char* s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
      std::string v = s;
      free(s);
      return v;
    }
  }
  return "";
}

}  // namespace

TEST_CASE("forwards, caches and keeps the client's letter case") {
  Harness h;
  auto r = h.udp(testutil::make_query("Www.Example.TEST.", LDNS_RR_TYPE_A, 0x1111));
  REQUIRE(!r.empty());
  CHECK(first_a(r) == "192.0.2.1");
  CHECK(r[0] == 0x11);
  auto p = testutil::parse(r.data(), r.size());
  char* qn = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p.get()), 0)));
  CHECK(std::string(qn) == "Www.Example.TEST.");
  free(qn);
  r = h.udp(testutil::make_query("www.example.test.", LDNS_RR_TYPE_A, 0x2222));
  CHECK(first_a(r) == "192.0.2.1");
  CHECK(h.upstream.queries("www.example.test.") == 1);  // second answer came from the cache
  h.stop();
  CHECK(h.rc == 0);
  CHECK(h.server.metrics().cache_hits == 1);
}

TEST_CASE("blocks listed names and subdomains, never look-alikes") {
  Harness h;
  CHECK(first_a(h.udp(testutil::make_query("blocked.test.", LDNS_RR_TYPE_A))) == "192.0.2.99");
  CHECK(first_a(h.udp(testutil::make_query("a.b.blocked.test.", LDNS_RR_TYPE_A))) == "192.0.2.99");
  CHECK(first_a(h.udp(testutil::make_query("notblocked.test.", LDNS_RR_TYPE_A))) == "192.0.2.1");
  std::string text;
  auto r = h.udp(testutil::make_query("x.blocked.test.", LDNS_RR_TYPE_MX));
  CHECK(rcode_of(r) == LDNS_RCODE_NOERROR);
  CHECK(testutil::ede_code(r.data(), r.size(), &text) == 15);
  CHECK(text.find("pornography") != std::string::npos);
  r = h.udp(testutil::make_query("www.secret-abuse.test.", LDNS_RR_TYPE_A));
  CHECK(first_a(r) == "192.0.2.99");
  CHECK(testutil::ede_code(r.data(), r.size(), &text) == 16);
  CHECK(text.find("secret") == std::string::npos);
  CHECK(h.upstream.queries("blocked.test.") == 0);  // never forwarded
  h.stop();
  CHECK(h.rc == 0);
}

TEST_CASE("CNAME cloaking: an answer reaching a blocked name is blocked") {
  Harness h;
  auto r = h.udp(testutil::make_query("cloak-1.example.test.", LDNS_RR_TYPE_A));
  CHECK(first_a(r) == "192.0.2.99");
  CHECK(testutil::ede_code(r.data(), r.size()) == 15);
  r = h.udp(testutil::make_query("cloak-1.example.test.", LDNS_RR_TYPE_A));  // and from the cache
  CHECK(first_a(r) == "192.0.2.99");
}

TEST_CASE("upstream: wrong id and wrong question are ignored") {
  Harness h;
  CHECK(first_a(h.udp(testutil::make_query("wrongid-1.example.test.", LDNS_RR_TYPE_A))) == "192.0.2.1");
  CHECK(first_a(h.udp(testutil::make_query("wrongq-1.example.test.", LDNS_RR_TYPE_A))) == "192.0.2.1");
  h.stop();
  CHECK(h.server.metrics().upstream_mismatched >= 2);
}

TEST_CASE("upstream: TC moves to TCP; client gets TC then the full answer over TCP") {
  Harness h;
  auto r = h.udp(testutil::make_query("tc-1.example.test.", LDNS_RR_TYPE_A, 5, 1232));
  auto p = testutil::parse(r.data(), r.size());
  REQUIRE(p);
  CHECK(ldns_pkt_tc(p.get()));  // 119 A records do not fit in 1232 bytes
  auto answers = h.tcp({testutil::make_query("tc-1.example.test.", LDNS_RR_TYPE_A, 6, 1232)});
  REQUIRE(answers.size() == 1);
  p = testutil::parse(answers[0].data(), answers[0].size());
  REQUIRE(p);
  CHECK(ldns_pkt_ancount(p.get()) == 119);
  h.stop();
  CHECK(h.server.metrics().upstream_tcp_retries >= 1);
}

TEST_CASE("upstream down: SERVFAIL with EDE 22, then stale, then recovery") {
  Harness h;
  auto r = h.udp(testutil::make_query("drop-1.example.test.", LDNS_RR_TYPE_A));
  CHECK(rcode_of(r) == LDNS_RCODE_SERVFAIL);
  CHECK(testutil::ede_code(r.data(), r.size()) == 22);
  r = h.udp(testutil::make_query("fail-1.example.test.", LDNS_RR_TYPE_A));
  CHECK(rcode_of(r) == LDNS_RCODE_SERVFAIL);
  h.upstream.set_down(true);
  r = h.udp(testutil::make_query("down.example.test.", LDNS_RR_TYPE_A));
  CHECK(rcode_of(r) == LDNS_RCODE_SERVFAIL);
  h.upstream.set_down(false);
  r = h.udp(testutil::make_query("down.example.test.", LDNS_RR_TYPE_A));
  CHECK(first_a(r) == "192.0.2.1");
}

TEST_CASE("identical questions in flight share one upstream query") {
  Harness h;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 5; ++i) {
    clients.emplace_back([&, i] {
      auto r = h.udp(
          testutil::make_query("delay-1.example.test.", LDNS_RR_TYPE_A, static_cast<uint16_t>(100 + i)));
      if (first_a(r) == "192.0.2.1" && r[1] == 100 + i) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  CHECK(ok == 5);
  CHECK(h.upstream.queries("delay-1.example.test.") == 1);
}

TEST_CASE("TCP: pipelined queries all answered, matched by id") {
  Harness h;
  std::vector<std::vector<uint8_t>> qs;
  for (uint16_t i = 0; i < 6; ++i) {
    const std::string name = (i % 2 ? "delay-p" : "p") + std::to_string(i) + ".example.test.";
    qs.push_back(testutil::make_query(name, LDNS_RR_TYPE_A, static_cast<uint16_t>(0x700 + i)));
  }
  auto answers = h.tcp(qs);
  REQUIRE(answers.size() == 6);
  std::set<int> ids;
  for (auto& a : answers) {
    ids.insert((a[0] << 8) | a[1]);
    CHECK(first_a(a) == "192.0.2.1");
  }
  CHECK(ids.size() == 6);
  // Fast answers overtook slow ones: any order is allowed (RFC 7766 6.2.1.1).
  CHECK(((answers[0][0] << 8) | answers[0][1]) == 0x700);
  h.stop();
  CHECK(h.rc == 0);
}

TEST_CASE("ACL: clients outside allow_clients are REFUSED") {
  Harness h("");  // h's server allows 127.0.0.0/8; a second server allows only 10.0.0.0/8
  hedge::config::Config cfg;
  hedge::util::ConfigErrors errs("acl.toml");
  REQUIRE(
      hedge::config::load_config_text("[server]\nlisten=[\"127.0.0.1:0\"]\nallow_clients=[\"10.0.0.0/"
                                      "8\"]\n[upstream]\nservers=[\"127.0.0.1:1\"]\n",
                                      "acl.toml", cfg, errs));
  hedge::Server strict;
  std::string err;
  REQUIRE_MESSAGE(strict.start(cfg, err), err);
  int rc = -1;
  std::thread t([&] { rc = strict.run(); });
  const uint16_t allowed_port = h.port;
  h.port = strict.udp_addresses().front().port();  // reuse h's client helper against the strict server
  auto r = h.udp(testutil::make_query("www.example.test.", LDNS_RR_TYPE_A));
  CHECK(rcode_of(r) == LDNS_RCODE_REFUSED);
  CHECK(testutil::ede_code(r.data(), r.size()) == 18);
  strict.request_stop();
  t.join();
  CHECK(rc == 0);
  h.port = allowed_port;
  CHECK(first_a(h.udp(testutil::make_query("www.example.test.", LDNS_RR_TYPE_A))) == "192.0.2.1");
}

TEST_CASE("hostile packets: dropped or FORMERR, server keeps answering") {
  Harness h;
  std::vector<std::vector<uint8_t>> junk = {
      {},
      {1, 2, 3},
      {0x12, 0x34, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0},  // QR=1: no reply
      {0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0},  // QDCOUNT=0
  };
  const int s = socket(AF_INET, SOCK_DGRAM, 0);
  auto a = h.addr();
  for (auto& j : junk) sendto(s, j.data(), j.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  close(s);
  auto r = h.udp(std::vector<uint8_t>{0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(rcode_of(r) == LDNS_RCODE_FORMERR);
  CHECK(first_a(h.udp(testutil::make_query("alive.example.test.", LDNS_RR_TYPE_A))) == "192.0.2.1");
  h.stop();
  CHECK(h.rc == 0);
}

TEST_CASE("policy: groups by client address, safe search, bypass defences") {
  Harness h(R"(
[[group]]
name = "staff"
clients = ["127.0.0.2/32"]
block = ["malware"]
[[group]]
name = "pupils"
clients = ["127.0.0.3/32"]
block = ["pornography", "bypass"]
safe_search = "strict"
[policy]
default_group = "pupils"
[store]
path = "/tmp/hedge-component-policy.db"
)");
  // The same name, two groups: staff may see it, pupils get the block page.
  CHECK(first_a(h.udp(testutil::make_query("blocked.test.", LDNS_RR_TYPE_A), 2000, "127.0.0.2")) ==
        "192.0.2.1");
  CHECK(first_a(h.udp(testutil::make_query("blocked.test.", LDNS_RR_TYPE_A), 2000, "127.0.0.3")) ==
        "192.0.2.99");
  // The illegal tier is blocked for staff too.
  CHECK(first_a(h.udp(testutil::make_query("secret-abuse.test.", LDNS_RR_TYPE_A), 2000, "127.0.0.2")) ==
        "192.0.2.99");
  // Safe search: CNAME to the enforced host plus its address, for pupils only.
  auto r = h.udp(testutil::make_query("www.google.co.uk.", LDNS_RR_TYPE_A), 2000, "127.0.0.3");
  auto p = testutil::parse(r.data(), r.size());
  REQUIRE(p);
  REQUIRE(ldns_pkt_ancount(p.get()) == 2);
  ldns_rr* cname = ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0);
  CHECK(ldns_rr_get_type(cname) == LDNS_RR_TYPE_CNAME);
  char* target = ldns_rdf2str(ldns_rr_rdf(cname, 0));
  CHECK(std::string(target) == "forcesafesearch.google.com.");
  free(target);
  CHECK(first_a(r) == "192.0.2.1");
  CHECK(h.upstream.queries("forcesafesearch.google.com.") == 1);
  CHECK(h.upstream.queries("www.google.co.uk.") == 0);
  r = h.udp(testutil::make_query("www.google.co.uk.", LDNS_RR_TYPE_A), 2000, "127.0.0.3");  // from the cache
  p = testutil::parse(r.data(), r.size());
  REQUIRE(p);
  CHECK(ldns_pkt_ancount(p.get()) == 2);
  CHECK(h.upstream.queries("forcesafesearch.google.com.") == 1);
  // Staff are not rewritten.
  r = h.udp(testutil::make_query("www.google.co.uk.", LDNS_RR_TYPE_A), 2000, "127.0.0.2");
  p = testutil::parse(r.data(), r.size());
  REQUIRE(p);
  CHECK(ldns_pkt_ancount(p.get()) == 1);
  // Bypass defences for pupils: the DoH canary is NXDOMAIN.
  r = h.udp(testutil::make_query("use-application-dns.net.", LDNS_RR_TYPE_A), 2000, "127.0.0.3");
  CHECK(rcode_of(r) == LDNS_RCODE_NXDOMAIN);
  h.stop();
  CHECK(h.rc == 0);
  for (const char* f : {"/tmp/hedge-component-policy.db", "/tmp/hedge-component-policy.db-wal",
                        "/tmp/hedge-component-policy.db-shm"})
    unlink(f);
}

TEST_CASE("serve stale (RFC 8767) when every upstream is down") {
  Harness h("[cache]\nmax_ttl = 1\nserve_stale_s = 60\n");
  CHECK(first_a(h.udp(testutil::make_query("stale-1.example.test.", LDNS_RR_TYPE_A))) == "192.0.2.1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // the 1 s TTL runs out
  h.upstream.set_down(true);
  auto r = h.udp(testutil::make_query("stale-1.example.test.", LDNS_RR_TYPE_A));
  CHECK(first_a(r) == "192.0.2.1");
  CHECK(testutil::ede_code(r.data(), r.size()) == 3);
  auto p = testutil::parse(r.data(), r.size());
  REQUIRE(p);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)) == 30);
  // A stale answer whose CNAME chain reaches a blocked name stays blocked
  // (it was cached while the upstream was up, then served from stale).
  h.upstream.set_down(false);
  CHECK(first_a(h.udp(testutil::make_query("cloak-stale.example.test.", LDNS_RR_TYPE_A))) == "192.0.2.99");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  h.upstream.set_down(true);
  CHECK(first_a(h.udp(testutil::make_query("cloak-stale.example.test.", LDNS_RR_TYPE_A))) == "192.0.2.99");
  // A name never seen has nothing stale: SERVFAIL.
  CHECK(rcode_of(h.udp(testutil::make_query("never-1.example.test.", LDNS_RR_TYPE_A))) ==
        LDNS_RCODE_SERVFAIL);
}

TEST_CASE("TCP: dropped frames do not pin the connection; EOF closes it once answered") {
  Harness h;
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{3, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto a = h.addr();
  REQUIRE(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::vector<uint8_t> out;
  auto frame = [&](const std::vector<uint8_t>& m) {
    out.push_back(static_cast<uint8_t>(m.size() >> 8));
    out.push_back(static_cast<uint8_t>(m.size()));
    out.insert(out.end(), m.begin(), m.end());
  };
  for (int i = 0; i < 40; ++i) frame({0x12, 0x34, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0});  // QR=1: dropped
  frame(testutil::make_query("tcp-eof.example.test.", LDNS_RR_TYPE_A, 0x4444));
  send(s, out.data(), out.size(), MSG_NOSIGNAL);
  shutdown(s, SHUT_WR);
  uint8_t l[2];
  REQUIRE(recv(s, l, 2, MSG_WAITALL) == 2);  // the one real query is answered despite 40 dropped before it
  std::vector<uint8_t> r((size_t{l[0]} << 8) | l[1]);
  REQUIRE(recv(s, r.data(), r.size(), MSG_WAITALL) == static_cast<ssize_t>(r.size()));
  CHECK(first_a(r) == "192.0.2.1");
  uint8_t extra;
  CHECK(recv(s, &extra, 1, 0) == 0);  // and then the server closes: nothing left in flight
  close(s);
}
