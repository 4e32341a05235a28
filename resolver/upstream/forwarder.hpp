// upstream/forwarder: sends one question to the upstream servers until one
// answers usefully. Each try uses a fresh UDP socket (a random source port
// from the kernel), a random query id, and a connected socket so only the
// server's address can reply; a reply must also echo our id and question.
// Timeouts move to the next server; TC=1 moves to TCP on the same server;
// servers that keep failing are backed off. The caller (the pipeline) gets
// exactly one completion per started resolution.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "dns/response.hpp"
#include "util/address.hpp"
#include "util/metrics.hpp"

namespace hedge::upstream {

struct ServerState {
  util::SockAddr addr;
  uint32_t srtt_ms = 30;
  uint32_t consecutive_failures = 0;
  int64_t backoff_until_ms = 0;
  uint64_t answers = 0, failures = 0;
};

struct Settings {
  std::vector<util::SockAddr> servers;
  uint32_t timeout_ms = 800;
  uint32_t attempts = 3;
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
  std::vector<uint8_t> m_query;  // what we send (id patched per try)
  uint32_t m_tries = 0;
  uint64_t m_tried_mask = 0;
  int64_t m_started_ms = 0;
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

 private:
  friend class Attempt;
  void next_try(Resolution& r) noexcept;
  void finish(Resolution& r, Attempt* a, uint32_t rtt_ms) noexcept;
  void attempt_failed(Resolution& r, Attempt* a, std::size_t server) noexcept;
  std::size_t pick_server(const Resolution& r) const noexcept;
  uint16_t random_id() noexcept;
  std::size_t index_of(const util::SockAddr& a) const noexcept;
  void mark_failure(const util::SockAddr& server) noexcept;
  void mark_success(const util::SockAddr& server, uint32_t rtt_ms) noexcept;

  uv_loop_t* m_loop;
  util::Metrics& m_metrics;
  Settings m_settings;
  std::vector<ServerState> m_servers;
  std::unordered_set<Attempt*> m_attempts;
  uint8_t m_random[4096];
  std::size_t m_random_pos = sizeof m_random;
};

}  // namespace hedge::upstream
