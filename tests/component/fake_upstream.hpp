// A scripted upstream DNS server on 127.0.0.1 (UDP and TCP, one port) running
// on its own thread. Its behaviour is chosen by the first label of the
// question, so one instance serves every scenario:
//   delay-*   answers after 100 ms          drop-*    never answers
//   tc-*      TC=1 over UDP, full over TCP  wrongid-* a reply with a wrong id, then the right one
//   wrongq-*  a reply for another question, then the right one
//   cloak-*   a CNAME to cloak.blocked.test plus its address
//   nx-*      NXDOMAIN with a SOA (minimum 60)   fail-*  SERVFAIL
//   anything else: A 192.0.2.1 / AAAA 2001:db8::1, TTL 300
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "dns/ldns.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

class FakeUpstream {
 public:
  FakeUpstream() {
    m_udp = socket(AF_INET, SOCK_DGRAM, 0);
    m_tcp = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(m_udp, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(m_udp, reinterpret_cast<sockaddr*>(&a), &len);
    m_port = ntohs(a.sin_port);
    int one = 1;
    setsockopt(m_tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(m_tcp, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(m_tcp, 16);
    m_thread = std::thread([this] { loop(); });
  }
  ~FakeUpstream() {
    m_stop = true;
    m_thread.join();
    close(m_udp);
    close(m_tcp);
  }
  uint16_t port() const { return m_port; }
  int queries(const std::string& name) {
    std::lock_guard<std::mutex> g(m_mu);
    return m_count[name];
  }
  int total() {
    std::lock_guard<std::mutex> g(m_mu);
    int n = 0;
    for (auto& [k, v] : m_count) n += v;
    return n;
  }
  void set_down(bool down) { m_down = down; }

 private:
  struct Delayed {
    std::chrono::steady_clock::time_point due;
    std::vector<uint8_t> data;
    sockaddr_in to;
  };

  static std::vector<uint8_t> wire(ldns_pkt* p) {
    uint8_t* buf = nullptr;
    size_t len = 0;
    ldns_pkt2wire(&buf, p, &len);
    std::vector<uint8_t> v(buf, buf + len);
    free(buf);
    return v;
  }
  static void add(ldns_pkt* p, ldns_pkt_section s, const std::string& rr) {
    ldns_rr* r = nullptr;
    if (ldns_rr_new_frm_str(&r, rr.c_str(), 300, nullptr, nullptr) == LDNS_STATUS_OK)
      ldns_pkt_push_rr(p, s, r);
  }

  // Returns the replies to send (in order) for a query; empty = none.
  std::vector<std::vector<uint8_t>> respond(const uint8_t* data, size_t len, bool tcp, bool& delay) {
    ldns_pkt* q = nullptr;
    if (ldns_wire2pkt(&q, data, len) != LDNS_STATUS_OK) return {};
    ldns_rr* qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
    char* owner = ldns_rdf2str(ldns_rr_owner(qrr));
    const std::string name = owner;
    free(owner);
    const ldns_rr_type type = ldns_rr_get_type(qrr);
    {
      std::lock_guard<std::mutex> g(m_mu);
      ++m_count[name];
    }
    std::vector<std::vector<uint8_t>> out;
    if (m_down || name.rfind("drop-", 0) == 0) {
      ldns_pkt_free(q);
      return out;
    }
    delay = name.rfind("delay-", 0) == 0;
    ldns_pkt_set_qr(q, true);
    ldns_pkt_set_ra(q, true);
    // Keep EDNS off in replies (the resolver must cope either way).
    ldns_pkt_set_edns_udp_size(q, 0);
    ldns_pkt_set_edns_do(q, false);
    if (name.rfind("fail-", 0) == 0) {
      ldns_pkt_set_rcode(q, LDNS_RCODE_SERVFAIL);
    } else if (name.rfind("nx-", 0) == 0) {
      ldns_pkt_set_rcode(q, LDNS_RCODE_NXDOMAIN);
      add(q, LDNS_SECTION_AUTHORITY, "test. 300 IN SOA ns.test. host.test. 1 3600 600 86400 60");
    } else if (name.rfind("tc-", 0) == 0 && !tcp) {
      ldns_pkt_set_tc(q, true);
    } else if (name.rfind("cloak-", 0) == 0) {
      add(q, LDNS_SECTION_ANSWER, name + " 300 IN CNAME cloak.blocked.test.");
      add(q, LDNS_SECTION_ANSWER, "cloak.blocked.test. 300 IN A 192.0.2.66");
    } else if (type == LDNS_RR_TYPE_AAAA) {
      add(q, LDNS_SECTION_ANSWER, name + " 300 IN AAAA 2001:db8::1");
    } else if (type == LDNS_RR_TYPE_A) {
      add(q, LDNS_SECTION_ANSWER, name + " 300 IN A 192.0.2.1");
      if (name.rfind("tc-", 0) == 0) {
        for (int i = 2; i < 120; ++i)
          add(q, LDNS_SECTION_ANSWER, name + " 300 IN A 192.0.2." + std::to_string(i));
      }
    }
    const std::vector<uint8_t> good = wire(q);
    if (name.rfind("wrongid-", 0) == 0) {
      auto bad = good;
      bad[1] ^= 0x5a;
      out.push_back(bad);
    } else if (name.rfind("wrongq-", 0) == 0) {
      ldns_pkt* other = ldns_pkt_clone(q);
      ldns_rr* oq = ldns_rr_list_rr(ldns_pkt_question(other), 0);
      ldns_rdf* nn = ldns_dname_new_frm_str("evil.example.");
      ldns_rdf_deep_free(ldns_rr_owner(oq));
      ldns_rr_set_owner(oq, nn);
      out.push_back(wire(other));
      ldns_pkt_free(other);
    }
    out.push_back(good);
    ldns_pkt_free(q);
    return out;
  }

  void loop() {
    std::vector<Delayed> delayed;
    while (!m_stop) {
      pollfd fds[2] = {{m_udp, POLLIN, 0}, {m_tcp, POLLIN, 0}};
      poll(fds, 2, 20);
      const auto now = std::chrono::steady_clock::now();
      for (auto it = delayed.begin(); it != delayed.end();) {
        if (it->due <= now) {
          sendto(m_udp, it->data.data(), it->data.size(), 0, reinterpret_cast<sockaddr*>(&it->to),
                 sizeof it->to);
          it = delayed.erase(it);
        } else {
          ++it;
        }
      }
      if (fds[0].revents & POLLIN) {
        uint8_t buf[4096];
        sockaddr_in from{};
        socklen_t fl = sizeof from;
        const ssize_t n = recvfrom(m_udp, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        bool delay = false;
        if (n > 0) {
          for (auto& r : respond(buf, static_cast<size_t>(n), false, delay)) {
            if (delay) {
              delayed.push_back({now + std::chrono::milliseconds(100), r, from});
            } else {
              sendto(m_udp, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
            }
          }
        }
      }
      if (fds[1].revents & POLLIN) {
        const int c = accept(m_tcp, nullptr, nullptr);
        if (c >= 0) {
          timeval tv{1, 0};
          setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          uint8_t lenb[2];
          if (recv(c, lenb, 2, MSG_WAITALL) == 2) {
            const size_t l = (size_t{lenb[0]} << 8) | lenb[1];
            std::vector<uint8_t> buf(l);
            bool delay = false;
            if (recv(c, buf.data(), l, MSG_WAITALL) == static_cast<ssize_t>(l)) {
              auto rs = respond(buf.data(), l, true, delay);
              if (!rs.empty()) {
                auto& r = rs.back();
                uint8_t hdr[2] = {static_cast<uint8_t>(r.size() >> 8), static_cast<uint8_t>(r.size())};
                send(c, hdr, 2, MSG_NOSIGNAL);
                send(c, r.data(), r.size(), MSG_NOSIGNAL);
              }
            }
          }
          close(c);
        }
      }
    }
  }

  int m_udp = -1, m_tcp = -1;
  uint16_t m_port = 0;
  std::atomic<bool> m_stop{false}, m_down{false};
  std::thread m_thread;
  std::mutex m_mu;
  std::map<std::string, int> m_count;
};
