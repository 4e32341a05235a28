// Unit: the forwarder's retransmit timeout (RTT estimator) and its backoff
// rules (upstream/health.hpp), as tables; and the EDNS strip of the FORMERR
// fallback.
#include <doctest/doctest.h>

#include <vector>

#include "upstream/forwarder.hpp"
#include "upstream/health.hpp"

using hedge::upstream::Forwarder;
using hedge::upstream::RttEstimator;
using hedge::upstream::ServerHealth;

TEST_CASE("rtt: initial RTO until the first measurement, then srtt + 4 rttvar") {
  RttEstimator e(400);
  CHECK(e.rto() == 400);
  CHECK_FALSE(e.measured());
  e.observe(100);  // RFC 6298 2.2: srtt = R, rttvar = R/2
  CHECK(e.srtt() == 100);
  CHECK(e.rttvar() == 50);
  CHECK(e.rto() == 300);
  e.observe(100);  // err 0: srtt 100, rttvar 50 - 50/4 = 38 (integer steps)
  CHECK(e.srtt() == 100);
  CHECK(e.rttvar() == 38);
  CHECK(e.rto() == 100 + 4 * 38);
  e.observe(500);  // err 400: srtt 150, rttvar 38 + (400 - 38)/4 = 128
  CHECK(e.srtt() == 150);
  CHECK(e.rttvar() == 128);
  CHECK(e.rto() == 150 + 4 * 128);
}

TEST_CASE("rtt: a table of sequences") {
  struct Row {
    const char* what;
    uint32_t initial;
    std::vector<int> events;  // >= 0: an answer after that many ms; -1: a timeout
    uint32_t rto;
  };
  const Row rows[] = {
      {"unknown server", 400, {}, 400},
      {"one timeout doubles the initial", 400, {-1}, 800},
      {"timeouts double up to the ceiling", 400, {-1, -1, -1, -1, -1, -1, -1, -1}, RttEstimator::kMaxRto},
      {"fast LAN server: the floor",
       400,
       {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
       RttEstimator::kMinRto},
      {"a 2 s server is waited for", 400, {2000}, 2000 + 4 * 1000},
      {"an answer after timeouts recomputes from srtt", 400, {100, -1, -1, -1, 100}, 100 + 4 * 38},
      {"a lossy server: timeouts between answers do not pile up",
       400,
       {100, -1, 100, -1, 100, -1},
       2 * (100 + 4 * 29)},
      {"initial below the floor is raised", 10, {}, RttEstimator::kMinRto},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    RttEstimator e(r.initial);
    for (int ev : r.events) {
      if (ev < 0)
        e.lost();
      else
        e.observe(static_cast<uint32_t>(ev));
    }
    CHECK(e.rto() == r.rto);
  }
}

TEST_CASE("rtt: a slow but steady server converges to about its RTT") {
  RttEstimator e(400);
  for (int i = 0; i < 50; ++i) e.observe(2000);
  CHECK(e.srtt() >= 1990);
  CHECK(e.rto() >= 2000);
  CHECK(e.rto() < 2300);
}

TEST_CASE("rtt: set_initial matters only until measured") {
  RttEstimator e(400);
  e.set_initial(1000);
  CHECK(e.rto() == 1000);
  e.observe(100);
  e.set_initial(5000);
  CHECK(e.rto() == 300);
  RttEstimator f(4000);
  f.observe(10);  // 10 + 4 * 5 = 30: raised to the floor
  CHECK(f.rto() == RttEstimator::kMinRto);
}

TEST_CASE("health: backoff after 3 failures in a row, doubling to 60 s, cleared by an answer") {
  ServerHealth h;
  int64_t now = 1000;
  CHECK_FALSE(h.failed(now));
  CHECK_FALSE(h.failed(now));
  CHECK_FALSE(h.backed_off(now));
  CHECK(h.failed(now));  // the third: backoff starts (worth a log line)
  CHECK(h.backed_off(now));
  CHECK(h.backoff_until() == now + 1000);
  CHECK_FALSE(h.backed_off(now + 1000));
  // Further failures while backed off extend it without a new log line.
  CHECK_FALSE(h.failed(now + 10));
  CHECK(h.backoff_until() == now + 10 + 2000);
  const int64_t expect[] = {4000, 8000, 16000, 32000, 60000, 60000, 60000};
  for (int64_t d : expect) {
    now += 100000;  // the backoff ran out: the next failure logs again
    CHECK(h.failed(now));
    CHECK(h.backoff_until() == now + d);
  }
  CHECK(h.consecutive_failures() == 11);
  CHECK(h.answered());  // it was backed off: "answering again"
  CHECK_FALSE(h.backed_off(now));
  CHECK(h.consecutive_failures() == 0);
  CHECK_FALSE(h.answered());
  CHECK(h.answers() == 2);
  CHECK(h.failures() == 11);
  // One failure after an answer does not back off.
  CHECK_FALSE(h.failed(now));
  CHECK_FALSE(h.backed_off(now));
}

TEST_CASE("forwarder: strip_edns removes exactly our trailing OPT") {
  // id, flags RD, QD 1, AN 0, NS 0, AR 1; "a." A IN; OPT 1232
  std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0,  0,    0,    0, 0, 1, 1, 'a', 0,
                            0,    1,    0,    1,    0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0,   0};
  const std::size_t without = q.size() - 11;
  CHECK(Forwarder::strip_edns(q));
  CHECK(q.size() == without);
  CHECK(q[11] == 0);                      // ARCOUNT 0
  CHECK_FALSE(Forwarder::strip_edns(q));  // nothing left to strip
  std::vector<uint8_t> odd = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0,
                              0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0,   0};
  const auto copy = odd;
  CHECK_FALSE(Forwarder::strip_edns(odd));  // the last record is not an OPT: left alone
  CHECK(odd == copy);
}

TEST_CASE("a timeout of a try sent before the latest answer is stale: not a failure in a row") {
  ServerHealth h;
  h.answered(1000);
  // A question sent at 900 times out at 1500, after the answer at 1000 came back.
  CHECK_FALSE(h.failed(1500, 900));
  CHECK(h.consecutive_failures() == 0);
  CHECK(h.failures() == 1);  // still counted in the totals
  // A try sent after the answer is news.
  CHECK_FALSE(h.failed(2500, 1200));
  CHECK(h.consecutive_failures() == 1);
  h.answered(3000);
  CHECK(h.consecutive_failures() == 0);
}
