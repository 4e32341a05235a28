// upstream/forwarder: sends one question to the upstream servers until one
// answers usefully. Each try uses a fresh UDP socket (a random source port
// from the kernel), a random query id, and a connected socket so only the
// server's address can reply; a reply must also echo that try's id and the
// question.
//
// Timing (see upstream/health.hpp): every server has its own retransmit
// timeout from measured round-trip times. When a try's timeout passes, the
// next try is sent (to an untried server first) but the earlier try keeps
// listening: a reply that is only late still answers the question. A try
// that fails outright (ICMP port unreachable, SERVFAIL/REFUSED, a malformed
// reply) moves on at once. Everything happens within a budget per question
// (Settings::budget_ms); the last try allowed waits for what is left of it.
// TC=1 moves to TCP on the same server; FORMERR to a query with EDNS is
// retried once without EDNS on the same server (RFC 6891 6.2.2). Servers that
// keep failing are backed off. The caller (the pipeline) gets exactly one
// completion per started resolution.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "dns/response.hpp"
#include "upstream/health.hpp"
#include "util/address.hpp"
#include "util/metrics.hpp"

namespace hedge::upstream {

struct ServerState {
  util::SockAddr addr;
  RttEstimator rtt;
  ServerHealth health;
};

struct Settings {
  std::vector<util::SockAddr> servers;
  uint32_t timeout_ms = 400;  // retransmit timeout of a server whose round-trip time is not known yet
  uint32_t attempts = 5;      // most queries sent for one question, over all servers
  uint32_t budget_ms = 4000;  // total time for one question
  dns::TtlPolicy ttl;
};

class Attempt;  // one try against one server (forwarder.cpp)

enum class Outcome : uint8_t { answer, failed };

struct Result {
  Outcome outcome = Outcome::failed;
  dns::ScrubbedReply reply;  // outcome == answer
  uint16_t last_rcode = 0;   // rcode of the last upstream reply, if any
  bool any_reply = false;    // some upstream replied (so it is not "unreachable")
};

// One resolution in progress. Owned by the caller; must stay alive until
// on_done is called (or Forwarder::close() ran).
class Resolution {
 public:
  virtual ~Resolution() = default;
  virtual void on_done(Result&& r) noexcept = 0;

 private:
  friend class Forwarder;
  friend class Attempt;
  std::vector<uint8_t> m_query;  // what we send (each try patches in its own id)
  std::vector<Attempt*> m_open;  // tries still listening (the one timing, and late ones)
  uint32_t m_tries = 0;
  uint64_t m_tried_mask = 0;
  uint64_t m_refused_mask = 0;  // servers that answered REFUSED/NOTIMP: not asked again for this question
  int64_t m_started_ms = 0, m_deadline_ms = 0;
  bool m_no_edns = false;  // retried without EDNS after a FORMERR
  Result m_result;
};

class Forwarder {
 public:
  Forwarder(uv_loop_t* loop, util::Metrics& metrics);
  ~Forwarder();
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Replaces the server list; health of servers that stay is kept.
  void configure(const Settings& s);
  const Settings& settings() const noexcept { return m_settings; }
  const std::vector<ServerState>& servers() const noexcept { return m_servers; }

  // `query` is a complete DNS query (its id is replaced on every try).
  void start(Resolution& r, std::span<const uint8_t> query) noexcept;
  // Abandons every try in progress (no completion is called): shutdown only.
  void close() noexcept;

  // Strips the OPT record our queries end with (RFC 6891 6.2.2 fallback).
  // Returns false (and leaves the query alone) if it has none.
  static bool strip_edns(std::vector<uint8_t>& query) noexcept;

 private:
  friend class Attempt;
  enum class Fail : uint8_t { timeout, error };
  void next_try(Resolution& r) noexcept;
  bool launch(Resolution& r, std::size_t server, bool tcp, uint32_t timeout_ms) noexcept;
  void finish(Resolution& r, Attempt* a, uint32_t rtt_ms) noexcept;
  void attempt_failed(Resolution& r, Attempt* a, Fail why) noexcept;
  void restart_on(Resolution& r, Attempt* a, bool tcp) noexcept;  // TC -> TCP, FORMERR -> no EDNS
  void drop(Resolution& r, Attempt* a) noexcept;
  void complete(Resolution& r) noexcept;
  int64_t remaining(const Resolution& r) const noexcept;
  std::size_t pick_server(const Resolution& r) const noexcept;
  uint16_t random_id() noexcept;
  std::size_t index_of(const util::SockAddr& a) const noexcept;
  void mark_failure(const util::SockAddr& server, bool timed_out, int64_t sent_ms = INT64_MAX) noexcept;
  void mark_success(const util::SockAddr& server, uint32_t rtt_ms) noexcept;
  uint32_t rto_of(const util::SockAddr& server) const noexcept;

  uv_loop_t* m_loop;
  util::Metrics& m_metrics;
  Settings m_settings;
  std::vector<ServerState> m_servers;
  std::unordered_set<Attempt*> m_attempts;
  uint8_t m_random[4096];
  std::size_t m_random_pos = sizeof m_random;
};

}  // namespace hedge::upstream
