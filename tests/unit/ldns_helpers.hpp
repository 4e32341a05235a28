// Test helpers: ldns as an independent peer, to build queries and read replies.
#pragma once

#include "dns/ldns.hpp"

#include <memory>
#include <string>
#include <vector>

namespace testutil {

struct PktFree {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using Pkt = std::unique_ptr<ldns_pkt, PktFree>;

// A query for name/type as wire bytes. edns_size 0 = no EDNS.
inline std::vector<uint8_t> make_query(const std::string& name, ldns_rr_type type, uint16_t id = 0x1234,
                                       uint16_t edns_size = 1232, bool do_bit = false) {
  ldns_pkt* p = nullptr;
  ldns_pkt_query_new_frm_str(&p, name.c_str(), type, LDNS_RR_CLASS_IN, LDNS_RD);
  ldns_pkt_set_id(p, id);
  if (edns_size) {
    ldns_pkt_set_edns_udp_size(p, edns_size);
    ldns_pkt_set_edns_do(p, do_bit);
  }
  uint8_t* buf = nullptr;
  size_t len = 0;
  ldns_pkt2wire(&buf, p, &len);
  std::vector<uint8_t> out(buf, buf + len);
  free(buf);
  ldns_pkt_free(p);
  return out;
}

inline Pkt parse(const uint8_t* data, size_t len) {
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, data, len) != LDNS_STATUS_OK) return nullptr;
  return Pkt(p);
}

// Extended DNS Error code in a reply (-1 if none).
inline int ede_code(const uint8_t* data, size_t len, std::string* text = nullptr) {
  // Walk to the OPT record by hand: ldns 1.8 exposes options only as raw rdata.
  auto p = parse(data, len);
  if (!p) return -1;
  ldns_rdf* d = ldns_pkt_edns_data(p.get());
  if (!d) return -1;
  const uint8_t* o = ldns_rdf_data(d);
  size_t n = ldns_rdf_size(d);
  size_t i = 0;
  while (i + 4 <= n) {
    const uint16_t code = static_cast<uint16_t>((o[i] << 8) | o[i + 1]);
    const uint16_t olen = static_cast<uint16_t>((o[i + 2] << 8) | o[i + 3]);
    if (i + 4 + olen > n) return -1;
    if (code == 15 && olen >= 2) {
      if (text) text->assign(reinterpret_cast<const char*>(o + i + 6), olen - 2);
      return (o[i + 4] << 8) | o[i + 5];
    }
    i += 4 + olen;
  }
  return -1;
}

}  // namespace testutil
