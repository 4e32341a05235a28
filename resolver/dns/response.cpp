// dns/response: upstream reply matching (own bounded reader) and scrubbing (ldns).
#include "dns/response.hpp"

#include "dns/ldns.hpp"

#include <algorithm>
#include <memory>
#include <string_view>

#include "dns/name.hpp"
#include "dns/wire.hpp"

namespace hedge::dns {
namespace {

bool same_question(std::span<const uint8_t> a, std::size_t a_len, std::span<const uint8_t> b) noexcept {
  // Names compared without case (RFC 4343); type and class (the last 4 bytes) exactly.
  if (a_len != b.size() || a_len < 4) return false;
  for (std::size_t i = 0; i < a_len; ++i) {
    uint8_t x = a[i], y = b[i];
    if (i < a_len - 4) {
      if (x >= 'A' && x <= 'Z') x = static_cast<uint8_t>(x + 32);
      if (y >= 'A' && y <= 'Z') y = static_cast<uint8_t>(y + 32);
    }
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

namespace {

constexpr std::size_t kMaxChain = 16;
constexpr std::size_t kMaxRecords = 2048;  // answer + authority records we index

struct RrRef {
  std::size_t at;  // start of the owner name
  std::size_t rdata;
  uint16_t type, rdlen;
  uint32_t ttl;
};

}  // namespace

bool scrub_reply(std::span<const uint8_t> reply, const TtlPolicy& ttlp, ScrubbedReply& out) {
  // ldns parses the whole reply as a second opinion: anything it rejects is
  // a failed upstream. Our bounded walker selects what to keep; ldns encodes
  // each kept record without compression (it knows which rdata fields are
  // names for every type, so no pointer survives into the stored copy).
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, reply.data(), reply.size()) != LDNS_STATUS_OK || !raw) return false;
  const std::unique_ptr<ldns_pkt, void (*)(ldns_pkt*)> pkt(raw, ldns_pkt_free);
  out = ScrubbedReply{};
  if (reply.size() < HEADER_SIZE) return false;
  const uint16_t flags = load16(reply.data() + 2);
  out.rcode = Flags::rcode(flags);
  if (out.rcode != rcode::NOERROR && out.rcode != rcode::NXDOMAIN) return true;  // not cached, not passed on
  if (load16(reply.data() + 4) != 1) return false;
  const std::size_t qend = skip_name(reply, HEADER_SIZE);
  if (qend == 0 || reply.size() - qend < 4) return false;
  const uint16_t qtype = load16(reply.data() + qend);
  char qname[1024];
  std::size_t qlen = 0;
  if (!decode_name(reply, HEADER_SIZE, qname, sizeof qname, qlen)) return false;

  // Index every record of the answer and authority sections.
  const std::size_t an = load16(reply.data() + 6), ns = load16(reply.data() + 8);
  if (an + ns > kMaxRecords) return false;
  std::vector<RrRef> rrs;
  rrs.reserve(an + ns);
  std::size_t pos = qend + 4;
  for (std::size_t i = 0; i < an + ns; ++i) {
    const std::size_t at = pos;
    pos = skip_name(reply, pos);
    if (pos == 0 || reply.size() - pos < 10) return false;
    RrRef r{at, pos + 10, load16(reply.data() + pos), load16(reply.data() + pos + 8),
            load32(reply.data() + pos + 4)};
    pos += 10;
    if (reply.size() - pos < r.rdlen) return false;
    pos += r.rdlen;
    rrs.push_back(r);
  }

  // Answer section: keep the records on the chain from the question (RFC
  // 1034 4.3.2); records may come in any order, so iterate until it stops growing.
  std::vector<std::string> names{std::string(qname, qlen)};
  std::vector<bool> taken(an, false);
  bool has_data = false;
  std::vector<std::size_t> keep;
  char owner[1024];
  for (bool grew = true; grew;) {
    grew = false;
    for (std::size_t i = 0; i < an; ++i) {
      if (taken[i]) continue;
      std::size_t olen = 0;
      if (!decode_name(reply, rrs[i].at, owner, sizeof owner, olen)) return false;
      if (std::find(names.begin(), names.end(), std::string_view(owner, olen)) == names.end()) continue;
      taken[i] = true;
      keep.push_back(i);
      if (rrs[i].type == type::CNAME && qtype != type::CNAME) {
        char target[1024];
        std::size_t tlen = 0;
        if (!decode_name(reply, rrs[i].rdata, target, sizeof target, tlen)) return false;
        std::string t(target, tlen);
        if (out.chain.size() >= kMaxChain)
          return false;  // no sane resolver follows more (and it bounds the loop)
        if (!t.empty() && std::find(names.begin(), names.end(), t) == names.end()) {
          names.push_back(t);
          out.chain.push_back(std::move(t));
          grew = true;
        }
      } else if (rrs[i].type == qtype || qtype == type::ANY) {
        has_data = true;
      }
    }
  }
  const std::size_t kept_answers = keep.size();
  out.negative = out.rcode == rcode::NXDOMAIN || !has_data;

  // Authority: only the SOA (and DNSSEC proof) of a negative answer.
  uint32_t soa_ttl = 0;
  bool has_soa = false;
  if (out.negative) {
    for (std::size_t i = an; i < an + ns; ++i) {
      const uint16_t t = rrs[i].type;
      if (t == type::SOA && !has_soa) {
        // MINIMUM is the last 4 bytes of the rdata (RFC 2308 5: negative TTL = min(TTL, MINIMUM)).
        if (rrs[i].rdlen < 22) return false;
        has_soa = true;
        soa_ttl = std::min(rrs[i].ttl, load32(reply.data() + rrs[i].rdata + rrs[i].rdlen - 4));
        keep.push_back(i);
      } else if (t == type::RRSIG || t == 47 /* NSEC */ || t == 50 /* NSEC3 */) {
        keep.push_back(i);
      }
    }
  }

  // Re-encode: header (id 0, TC clear, counts), question as the upstream sent
  // it (same name we asked), kept records with uncompressed names.
  // Worst case: every kept name (owner + up to two in rdata) expands from a
  // 2-byte pointer to 255 bytes; a DNS message never exceeds 65535 anyway.
  out.wire.resize(std::min<std::size_t>(65535 + 64, reply.size() + keep.size() * 3 * 255 + 64));
  Writer w(out.wire.data(), out.wire.size());
  w.u16(0);
  w.u16(static_cast<uint16_t>(flags & ~Flags::TC));
  w.u16(1);
  w.u16(static_cast<uint16_t>(kept_answers));
  w.u16(static_cast<uint16_t>(keep.size() - kept_answers));
  w.u16(0);
  w.bytes(reply.data() + HEADER_SIZE, qend + 4 - HEADER_SIZE);
  uint32_t min_ttl = UINT32_MAX;
  const ldns_rr_list* an_list = ldns_pkt_answer(pkt.get());
  const ldns_rr_list* ns_list = ldns_pkt_authority(pkt.get());
  if (ldns_rr_list_rr_count(an_list) != an || ldns_rr_list_rr_count(ns_list) != ns) return false;
  const std::unique_ptr<ldns_buffer, void (*)(ldns_buffer*)> buf(ldns_buffer_new(512), ldns_buffer_free);
  if (!buf) return false;
  // Owner names are compressed against names already written in full (the
  // question at offset 12, then each new owner and CNAME target), so an
  // answer of 40 A records stays as small as the upstream sent it.
  struct Written {
    std::string name;
    uint16_t at;
  };
  std::vector<Written> written{{std::string(qname, qlen), static_cast<uint16_t>(HEADER_SIZE)}};
  for (std::size_t i : keep) {
    const ldns_rr* rr = i < an ? ldns_rr_list_rr(an_list, i) : ldns_rr_list_rr(ns_list, i - an);
    // Our walker chose record i by what it read; ldns must have read the same
    // record there (RDLENGTH tricks could make the two disagree).
    if (ldns_rr_get_type(rr) != rrs[i].type) return false;
    if (rrs[i].type == type::CNAME) {
      QueryName lt;
      const ldns_rdf* rd = ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : nullptr;
      char wt[1024];
      std::size_t wlen = 0;
      if (!rd || !lt.assign_wire({ldns_rdf_data(rd), ldns_rdf_size(rd)}) ||
          !decode_name(reply, rrs[i].rdata, wt, sizeof wt, wlen) || lt.text() != std::string_view(wt, wlen))
        return false;
    }
    ldns_buffer_clear(buf.get());
    if (ldns_rr2buffer_wire(buf.get(), rr, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK) return false;
    const std::size_t len = ldns_buffer_position(buf.get());
    const std::size_t owner_len = ldns_rdf_size(ldns_rr_owner(rr));
    if (len < owner_len + 10) return false;
    std::size_t olen = 0;
    if (!decode_name(reply, rrs[i].at, owner, sizeof owner, olen)) return false;
    const std::string_view oname(owner, olen);
    const auto known =
        std::find_if(written.begin(), written.end(), [&](const Written& x) { return x.name == oname; });
    const std::size_t owner_at = w.size();
    if (known != written.end()) {
      w.u16(static_cast<uint16_t>(0xC000 | known->at));
    } else {
      w.bytes(ldns_buffer_begin(buf.get()), owner_len);
      if (owner_at < 0x3FFF) written.push_back({std::string(oname), static_cast<uint16_t>(owner_at)});
    }
    const std::size_t ttl_at = w.size() + 4;
    const uint8_t* rest = ldns_buffer_begin(buf.get()) + owner_len;
    if (!w.bytes(rest, len - owner_len) || ttl_at > 65535) return false;
    if (rrs[i].type == type::CNAME && len - owner_len > 10) {
      // The target, written uncompressed by ldns, can be pointed at by later owners.
      std::size_t tlen = 0;
      char target[1024];
      const std::size_t target_at = ttl_at + 6;
      if (target_at < 0x3FFF && decode_name(reply, rrs[i].rdata, target, sizeof target, tlen))
        written.push_back({std::string(target, tlen), static_cast<uint16_t>(target_at)});
    }
    uint32_t t = rrs[i].ttl > 0x7FFFFFFFu ? 0 : rrs[i].ttl;  // RFC 2181 8: top bit set means zero
    if (rrs[i].type == type::SOA && i >= an && rrs[i].rdlen >= 22) {
      // RFC 2308 3: a negative answer's SOA carries min(TTL, MINIMUM).
      t = std::min(t, load32(reply.data() + rrs[i].rdata + rrs[i].rdlen - 4));
    }
    t = std::clamp(t, ttlp.min_ttl, ttlp.max_ttl);
    if (i >= an && out.negative) t = std::min(t, ttlp.max_negative_ttl);
    store32(out.wire.data() + ttl_at, t);
    out.ttl_offsets.push_back(static_cast<uint16_t>(ttl_at));
    min_ttl = std::min(min_ttl, t);
  }
  if (!w.ok() || w.size() > 65535) return false;
  out.wire.resize(w.size());
  if (out.negative) {
    out.ttl = has_soa ? std::min({soa_ttl, ttlp.max_negative_ttl, min_ttl}) : 0;
  } else {
    out.ttl = min_ttl == UINT32_MAX ? 0 : min_ttl;
  }
  return true;
}

}  // namespace hedge::dns
