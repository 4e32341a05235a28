// Unit: the pipeline's stages with a fake upstream and a fake clock (no loop,
// no sockets): sharing of identical questions, cache hits and expiry by the
// injected clock, blocks that never reach upstream, CNAME cloaking on an
// upstream answer, SERVFAIL when every upstream failed.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bundle_fixture.hpp"
#include "config/config.hpp"
#include "ldns_helpers.hpp"
#include "pipeline.hpp"

using namespace hedge;

namespace {

struct FakeUpstream final : UpstreamPort {
  struct Started {
    upstream::Resolution* r;
    std::vector<uint8_t> query;
  };
  std::vector<Started> started;
  void start(upstream::Resolution& r, std::span<const uint8_t> q) noexcept override {
    started.push_back({&r, {q.begin(), q.end()}});
  }
};

struct FakeResponder final : net::Responder {
  std::vector<std::vector<uint8_t>> answers;
  void deliver(const net::Origin&, std::span<const uint8_t> a) noexcept override {
    answers.emplace_back(a.begin(), a.end());
  }
};

// An upstream reply to `query` (as sent), scrubbed as the forwarder would.
upstream::Result answer_for(const std::vector<uint8_t>& query, const std::vector<std::string>& rrs) {
  testutil::Pkt q = testutil::parse(query.data(), query.size());
  REQUIRE(q);
  ldns_pkt* r = ldns_pkt_clone(q.get());
  ldns_pkt_set_qr(r, true);
  ldns_pkt_set_ra(r, true);
  for (const auto& s : rrs) {
    ldns_rr* rr = nullptr;
    REQUIRE(ldns_rr_new_frm_str(&rr, s.c_str(), 300, nullptr, nullptr) == LDNS_STATUS_OK);
    ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
  }
  uint8_t* buf = nullptr;
  size_t len = 0;
  REQUIRE(ldns_pkt2wire(&buf, r, &len) == LDNS_STATUS_OK);
  std::vector<uint8_t> wire(buf, buf + len);
  free(buf);  // NOLINT(cppcoreguidelines-no-malloc): ldns allocates with malloc
  ldns_pkt_free(r);
  REQUIRE(dns::check_reply(wire, query) == dns::ReplyCheck::ok);
  upstream::Result res;
  res.outcome = upstream::Outcome::answer;
  res.any_reply = true;
  REQUIRE(dns::scrub_reply(wire, {}, res.reply));
  return res;
}

struct Env {
  std::string dir;
  cache::AnswerCache cache{8u << 20, 3600};
  util::Metrics metrics;
  util::RateLimiter limiter;
  FakeUpstream up;
  FakeResponder resp;
  Clock now{1'000'000, 1'795'000'000};
  std::unique_ptr<Pipeline> pipe;
  util::SockAddr local = *util::parse_sockaddr("127.0.0.1:53");
  net::Origin origin;

  Env() {
    dir = test::write_bundle(test::standard_categories(),
                             {{"porn.example", "pornography"}, {"abuse.example", "child-abuse"}});
    std::string err;
    auto bundle = lists::Bundle::open(dir, true, err);
    REQUIRE_MESSAGE(bundle, err);
    config::Config cfg;
    util::ConfigErrors errs("t.toml");
    REQUIRE(
        config::load_config_text("[upstream]\nservers = [\"192.0.2.1\"]\n[block]\nipv4 = \"192.0.2.99\"\n"
                                 "[[group]]\nname = \"all\"\nblock = [\"pornography\"]\n"
                                 "[policy]\ndefault_group = \"all\"\n",
                                 "t.toml", cfg, errs));
    auto pol = policy::build_policy_snapshot(cfg.policy, bundle, {}, errs);
    REQUIRE(errs.empty());
    limiter.configure(0, 1);
    pipe =
        std::make_unique<Pipeline>(Pipeline::Deps{cache, up, metrics, limiter, resp, [this] { return now; }});
    pipe->set_snapshot(make_snapshot(cfg, bundle, pol));
    origin.peer = *util::parse_sockaddr("127.0.0.1:40000");
    origin.local = local;
  }
  ~Env() { std::filesystem::remove_all(dir); }

  std::size_t ask(const std::string& name, uint16_t id, std::vector<uint8_t>* answer = nullptr) {
    const auto q = testutil::make_query(name, LDNS_RR_TYPE_A, id);
    uint8_t out[4096];
    const std::size_t n = pipe->handle(q, origin, out, sizeof out);
    if (answer && n != net::kDeferred) answer->assign(out, out + n);
    return n;
  }
};

uint16_t id_of(const std::vector<uint8_t>& a) {
  return static_cast<uint16_t>((a[0] << 8) | a[1]);
}
int rcode_of(const std::vector<uint8_t>& a) {
  return a[3] & 0x0f;
}

}  // namespace

TEST_CASE("pipeline: identical questions share one upstream resolution; the answer is cached by the clock") {
  Env e;
  CHECK(e.ask("www.example.org.", 1) == net::kDeferred);
  CHECK(e.ask("WWW.example.org.", 2) == net::kDeferred);
  REQUIRE(e.up.started.size() == 1);
  CHECK(e.metrics.upstream_shared == 1);
  CHECK(e.pipe->pending() == 1);

  e.up.started[0].r->on_done(answer_for(e.up.started[0].query, {"www.example.org. 300 IN A 198.51.100.7"}));
  REQUIRE(e.resp.answers.size() == 2);
  CHECK(id_of(e.resp.answers[0]) == 1);
  CHECK(id_of(e.resp.answers[1]) == 2);
  CHECK(e.resp.answers[1][12 + 1] == 'W');  // the client's letter case is kept
  CHECK(e.pipe->pending() == 0);

  // Within the TTL: a cache hit, answered at once, no upstream.
  std::vector<uint8_t> a;
  e.now.mono_ms += 299'000;
  const std::size_t n = e.ask("www.example.org.", 3, &a);
  REQUIRE(n != net::kDeferred);
  CHECK(n > 12);
  CHECK(id_of(a) == 3);
  CHECK(e.up.started.size() == 1);
  CHECK(e.metrics.cache_hits == 1);

  // The injected clock moves past the TTL: upstream again.
  e.now.mono_ms += 2'000;
  CHECK(e.ask("www.example.org.", 4) == net::kDeferred);
  CHECK(e.up.started.size() == 2);
  e.up.started[1].r->on_done(upstream::Result{});  // every upstream failed: the stale answer is served
  REQUIRE(e.resp.answers.size() == 3);
  CHECK(rcode_of(e.resp.answers[2]) == 0);
  CHECK(testutil::ede_code(e.resp.answers[2].data(), e.resp.answers[2].size()) == 3);  // Stale Answer
}

TEST_CASE("pipeline: a blocked name is answered at once and never reaches upstream") {
  Env e;
  std::vector<uint8_t> a;
  REQUIRE(e.ask("www.porn.example.", 9, &a) != net::kDeferred);
  CHECK(id_of(a) == 9);
  CHECK(testutil::ede_code(a.data(), a.size()) == 15);  // Blocked
  REQUIRE(e.ask("abuse.example.", 10, &a) != net::kDeferred);
  CHECK(testutil::ede_code(a.data(), a.size()) == 16);  // Censored (illegal tier)
  CHECK(e.up.started.empty());
}

TEST_CASE("pipeline: an upstream answer whose CNAME chain reaches a blocked name is blocked (cloaking)") {
  Env e;
  CHECK(e.ask("cdn.example.net.", 5) == net::kDeferred);
  REQUIRE(e.up.started.size() == 1);
  e.up.started[0].r->on_done(
      answer_for(e.up.started[0].query,
                 {"cdn.example.net. 300 IN CNAME x.porn.example.", "x.porn.example. 300 IN A 198.51.100.9"}));
  REQUIRE(e.resp.answers.size() == 1);
  CHECK(testutil::ede_code(e.resp.answers[0].data(), e.resp.answers[0].size()) == 15);
  // The cached answer is checked again on a hit.
  std::vector<uint8_t> a;
  REQUIRE(e.ask("cdn.example.net.", 6, &a) != net::kDeferred);
  CHECK(testutil::ede_code(a.data(), a.size()) == 15);
  CHECK(e.up.started.size() == 1);
}

TEST_CASE("pipeline: every upstream failed and nothing is cached: SERVFAIL with an EDE") {
  Env e;
  CHECK(e.ask("down.example.org.", 7) == net::kDeferred);
  REQUIRE(e.up.started.size() == 1);
  e.up.started[0].r->on_done(upstream::Result{});
  REQUIRE(e.resp.answers.size() == 1);
  CHECK(rcode_of(e.resp.answers[0]) == 2);
  CHECK(testutil::ede_code(e.resp.answers[0].data(), e.resp.answers[0].size()) ==
        22);  // No Reachable Authority
}
