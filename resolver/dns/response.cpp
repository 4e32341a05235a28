// dns/response: upstream reply matching (own bounded reader) and scrubbing (ldns).
#include "dns/response.hpp"

#include <ldns/ldns.h>

#include <algorithm>
#include <memory>

#include "dns/name.hpp"
#include "dns/wire.hpp"

namespace hedge::dns {
namespace {

struct PktDeleter {
  void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
struct RrListDeleter {
  void operator()(ldns_rr_list* l) const noexcept { ldns_rr_list_deep_free(l); }
};
using RrListPtr = std::unique_ptr<ldns_rr_list, RrListDeleter>;

// Owner or target name of a record as normal-form text.
std::string rdf_name(const ldns_rdf* rdf) {
  QueryName q;
  if (!rdf || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) return {};
  if (!q.assign_wire({ldns_rdf_data(rdf), ldns_rdf_size(rdf)})) return {};
  return std::string(q.text());
}

bool same_question(std::span<const uint8_t> a, std::size_t a_len, std::span<const uint8_t> b) noexcept {
  // Names compared without case (RFC 4343); type and class exactly.
  if (a_len != b.size()) return false;
  for (std::size_t i = 0; i < a_len; ++i) {
    uint8_t x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<uint8_t>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<uint8_t>(y + 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace

ReplyCheck check_reply(std::span<const uint8_t> reply, std::span<const uint8_t> sent) noexcept {
  if (reply.size() < HEADER_SIZE || sent.size() < HEADER_SIZE) return ReplyCheck::mismatch;
  if (load16(reply.data()) != load16(sent.data())) return ReplyCheck::mismatch;
  const uint16_t flags = load16(reply.data() + 2);
  if (!(flags & Flags::QR) || Flags::opcode(flags) != 0) return ReplyCheck::mismatch;
  // Our question: from offset 12 to the end of name + 4 in what we sent.
  const std::size_t sent_q_end = skip_name(sent, HEADER_SIZE);
  if (sent_q_end == 0 || sent.size() - sent_q_end < 4) return ReplyCheck::mismatch;
  const auto sent_q = sent.subspan(HEADER_SIZE, sent_q_end + 4 - HEADER_SIZE);
  if (load16(reply.data() + 4) != 1) {
    // A reply without the question (some servers do this for FORMERR/TC) cannot be matched.
    return ReplyCheck::mismatch;
  }
  const std::size_t name_end = skip_name(reply, HEADER_SIZE);
  if (name_end == 0 || reply.size() - name_end < 4) return ReplyCheck::mismatch;
  if (!same_question(reply.subspan(HEADER_SIZE), name_end + 4 - HEADER_SIZE, sent_q))
    return ReplyCheck::mismatch;
  if (flags & Flags::TC) return ReplyCheck::truncated;
  return ReplyCheck::ok;
}

bool scrub_reply(std::span<const uint8_t> reply, const TtlPolicy& ttlp, ScrubbedReply& out) {
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, reply.data(), reply.size()) != LDNS_STATUS_OK || !raw) return false;
  PktPtr pkt(raw);
  out = ScrubbedReply{};
  out.rcode = static_cast<uint16_t>(ldns_pkt_get_rcode(pkt.get()));
  if (out.rcode != rcode::NOERROR && out.rcode != rcode::NXDOMAIN) {
    // SERVFAIL, REFUSED, ...: not an answer we pass on or cache.
    return true;
  }
  const ldns_rr_list* qlist = ldns_pkt_question(pkt.get());
  if (!qlist || ldns_rr_list_rr_count(qlist) != 1) return false;
  const ldns_rr* qrr = ldns_rr_list_rr(qlist, 0);
  const ldns_rr_type qtype = ldns_rr_get_type(qrr);
  std::vector<std::string> names{rdf_name(ldns_rr_owner(qrr))};

  // Answer section: keep the records on the chain that starts at the question
  // (RFC 1034 4.3.2 order), drop anything else an upstream adds.
  RrListPtr answer(ldns_rr_list_new());
  const ldns_rr_list* an = ldns_pkt_answer(pkt.get());
  bool has_data = false;
  // Records may come in any order: iterate until the chain stops growing.
  std::vector<bool> taken(ldns_rr_list_rr_count(an), false);
  for (bool grew = true; grew;) {
    grew = false;
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(an); ++i) {
      if (taken[i]) continue;
      const ldns_rr* rr = ldns_rr_list_rr(an, i);
      const std::string owner = rdf_name(ldns_rr_owner(rr));
      if (std::find(names.begin(), names.end(), owner) == names.end()) continue;
      taken[i] = true;
      ldns_rr_list_push_rr(answer.get(), ldns_rr_clone(rr));
      const ldns_rr_type t = ldns_rr_get_type(rr);
      if (t == LDNS_RR_TYPE_CNAME && qtype != LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1) {
        std::string target = rdf_name(ldns_rr_rdf(rr, 0));
        if (!target.empty() && std::find(names.begin(), names.end(), target) == names.end()) {
          names.push_back(target);
          out.chain.push_back(std::move(target));
          grew = true;
        }
      } else if (t == qtype || qtype == LDNS_RR_TYPE_ANY) {
        has_data = true;
      }
    }
  }
  out.negative = out.rcode == rcode::NXDOMAIN || !has_data;

  // Authority: only the SOA (and DNSSEC proof) of a negative answer is kept.
  RrListPtr authority(ldns_rr_list_new());
  uint32_t soa_ttl = 0;
  bool has_soa = false;
  if (out.negative) {
    const ldns_rr_list* ns = ldns_pkt_authority(pkt.get());
    for (std::size_t i = 0; i < ldns_rr_list_rr_count(ns); ++i) {
      const ldns_rr* rr = ldns_rr_list_rr(ns, i);
      const ldns_rr_type t = ldns_rr_get_type(rr);
      if (t == LDNS_RR_TYPE_SOA && !has_soa && ldns_rr_rd_count(rr) == 7) {
        has_soa = true;
        // RFC 2308 5: the negative TTL is the smaller of the SOA's TTL and MINIMUM.
        soa_ttl = std::min<uint32_t>(ldns_rr_ttl(rr), ldns_rdf2native_int32(ldns_rr_rdf(rr, 6)));
        ldns_rr_list_push_rr(authority.get(), ldns_rr_clone(rr));
      } else if (t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NSEC3) {
        ldns_rr_list_push_rr(authority.get(), ldns_rr_clone(rr));
      }
    }
  }

  // Re-encode: swap in the scrubbed sections, drop additional and OPT.
  ldns_rr_list* old = ldns_pkt_answer(pkt.get());
  ldns_pkt_set_answer(pkt.get(), answer.release());
  ldns_rr_list_deep_free(old);
  old = ldns_pkt_authority(pkt.get());
  ldns_pkt_set_authority(pkt.get(), authority.release());
  ldns_rr_list_deep_free(old);
  old = ldns_pkt_additional(pkt.get());
  ldns_pkt_set_additional(pkt.get(), ldns_rr_list_new());
  ldns_rr_list_deep_free(old);
  ldns_pkt_set_ancount(pkt.get(), static_cast<uint16_t>(ldns_rr_list_rr_count(ldns_pkt_answer(pkt.get()))));
  ldns_pkt_set_nscount(pkt.get(),
                       static_cast<uint16_t>(ldns_rr_list_rr_count(ldns_pkt_authority(pkt.get()))));
  ldns_pkt_set_arcount(pkt.get(), 0);
  ldns_pkt_set_edns_udp_size(pkt.get(), 0);
  ldns_pkt_set_edns_extended_rcode(pkt.get(), 0);
  ldns_pkt_set_edns_version(pkt.get(), 0);
  ldns_pkt_set_edns_z(pkt.get(), 0);
  ldns_pkt_set_edns_do(pkt.get(), false);
  if (ldns_rdf* d = ldns_pkt_edns_data(pkt.get())) {
    ldns_pkt_set_edns_data(pkt.get(), nullptr);
    ldns_rdf_deep_free(d);
  }
  ldns_pkt_set_id(pkt.get(), 0);
  ldns_pkt_set_tc(pkt.get(), false);

  uint8_t* buf = nullptr;
  size_t len = 0;
  if (ldns_pkt2wire(&buf, pkt.get(), &len) != LDNS_STATUS_OK || !buf) return false;
  out.wire.assign(buf, buf + len);
  LDNS_FREE(buf);

  // TTL offsets and the cacheable lifetime, from our own walk of what we encoded.
  const std::span<const uint8_t> w(out.wire);
  if (w.size() < HEADER_SIZE) return false;
  std::size_t pos = skip_name(w, HEADER_SIZE);
  if (pos == 0 || w.size() - pos < 4) return false;
  pos += 4;
  const std::size_t rrs = std::size_t{load16(w.data() + 6)} + load16(w.data() + 8);
  uint32_t min_ttl = UINT32_MAX;
  for (std::size_t i = 0; i < rrs; ++i) {
    pos = skip_name(w, pos);
    if (pos == 0 || w.size() - pos < 10) return false;
    const std::size_t ttl_at = pos + 4;
    uint32_t t = load32(w.data() + ttl_at);
    if (t > 0x7FFFFFFFu) t = 0;  // RFC 2181 8: a TTL with the top bit set means zero
    t = std::clamp(t, ttlp.min_ttl, ttlp.max_ttl);
    store32(out.wire.data() + ttl_at, t);
    out.ttl_offsets.push_back(static_cast<uint16_t>(ttl_at));
    min_ttl = std::min(min_ttl, t);
    const uint16_t rdlen = load16(w.data() + pos + 8);
    pos += 10;
    if (w.size() - pos < rdlen) return false;
    pos += rdlen;
  }
  // ldns may still emit an (empty) OPT after our sections: cut everything
  // after the authority section; the client's OPT is added per reply.
  out.wire.resize(pos);
  store16(out.wire.data() + 10, 0);
  if (out.negative) {
    out.ttl = has_soa ? std::min({soa_ttl, ttlp.max_negative_ttl, min_ttl}) : 0;
  } else {
    out.ttl = min_ttl == UINT32_MAX ? 0 : min_ttl;
  }
  return true;
}

}  // namespace hedge::dns
