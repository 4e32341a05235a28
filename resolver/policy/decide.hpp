// policy/decide: the pure policy decision for one name asked by one group at
// one instant. No clock, no sockets, no allocation on this path: one bundle
// lookup (a cdb probe per suffix), binary searches over small sorted vectors
// and a few mask tests. The pipeline turns the Verdict into bytes; it also
// calls decide() for every CNAME target in an upstream answer (cloaking).
//
// Decision order (first rule that decides wins):
//   1. illegal tier         bundle illegal/confidential match -> block, always
//   2. deny                 active group/all deny exceptions, then the group's `deny` names
//   3. allow                unexpired active allow exceptions, the group's `allow` names
//                           (categories mode), names every group may resolve (block page)
//   4. allowlist mode       name not in the group's `allow` -> block
//   5. bypass defences      DoH canary -> NXDOMAIN, iCloud Private Relay -> NXDOMAIN,
//                           DDR (_dns.resolver.arpa) -> NODATA; on for every group unless
//                           it says `bypass_defence = false` (the `bypass` category is rule 7)
//   6. safe search          search/video hosts -> rewrite (CNAME) to the safe host
//   7. categories           group's blocked categories, minus those allowed by an
//                           active schedule window (answer TTL capped at the time left;
//                           a block whose categories all open later is capped at the time
//                           until the window opens)
//   8. allow
// After an upstream answer (or a cache hit), decide_chain() applies the same
// decision to every CNAME target on the answer's chain (CNAME cloaking).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dns/name.hpp"
#include "policy/snapshot.hpp"

namespace hedge::policy {

enum class Action : uint8_t { allow, block, nxdomain, nodata, rewrite };
const char* to_string(Action a) noexcept;

struct Verdict {
  Action action = Action::allow;
  uint64_t categories = 0;      // bundle category bits that decided a block (for EDE text, logs)
  bool illegal = false;         // illegal tier: pipeline answers EDE 16 Censored
  bool confidential = false;    // matched a confidential list: never name it in EDE text or logs
  int matched_label = -1;       // label index in the QueryName of the deciding entry (-1 none)
  const char* reason = "";      // short static text (see decide.cpp for the list)
  std::string_view rewrite_to;  // safe-search CNAME target in normal form (valid while the snapshot lives)
  uint32_t ttl_cap = 0;         // 0 = none; else the answer's TTL must not exceed this
};

Verdict decide(const dns::QueryName& qname, uint16_t qtype, const Group& group, const PolicySnapshot& snap,
               int64_t now_unix) noexcept;

// One rule considered by explain(), in order.
struct ExplainStep {
  std::string rule;    // e.g. "illegal-tier", "exception-allow", "category"
  std::string detail;  // what was checked and found
  bool decided = false;
};

// Same decision as decide() (same code), recording every rule considered.
Verdict explain(const dns::QueryName& qname, uint16_t qtype, const Group& group, const PolicySnapshot& snap,
                int64_t now_unix, std::vector<ExplainStep>& steps);

// CNAME cloaking: an answer whose CNAME chain reaches a name this group may
// not resolve is blocked too. Returns true and sets `out` for the first such
// target (its action is always `block`: the answer is for the question, not
// the target, so NXDOMAIN/NODATA defences become a block answer).
bool decide_chain(std::span<const std::string> chain, uint16_t qtype, const Group& group,
                  const PolicySnapshot& snap, int64_t now_unix, Verdict& out) noexcept;

// Same as decide_chain(), recording one "cname-cloaking" step per target.
bool explain_chain(std::span<const std::string> chain, uint16_t qtype, const Group& group,
                   const PolicySnapshot& snap, int64_t now_unix, Verdict& out,
                   std::vector<ExplainStep>& steps);

}  // namespace hedge::policy
