// policy/exception: one temporary allow or deny of a name for a group (or all
// groups), as stored by store/exception_store and compiled into a snapshot.
// A plain value: no SQLite here, so the decision code never depends on it.
#pragma once

#include <cstdint>
#include <string>

namespace hedge::policy {

enum class ExceptionKind : uint8_t { allow, deny };
const char* to_string(ExceptionKind k) noexcept;

struct Exception {
  int64_t id = 0;
  std::string name;   // normal form; covers the name and every subdomain
  std::string group;  // group name, or "*" for every group
  ExceptionKind kind = ExceptionKind::allow;
  std::string requester, reason;
  std::string approver;  // empty until approved
  int64_t created = 0;   // unix seconds
  int64_t starts = 0;    // active from (unix seconds; usually == created)
  int64_t expires = 0;   // active until (exclusive); 0 = never (deny only)
  int64_t approved = 0;  // unix seconds of approval; 0 = not approved
  int64_t revoked = 0;   // unix seconds of revocation; 0 = not revoked
  std::string revoked_by;

  // Whether the exception applies at `now` (to the second). With
  // require_approval an unapproved exception never applies.
  bool active_at(int64_t now, bool require_approval) const noexcept {
    if (revoked != 0 && revoked <= now) return false;
    if (require_approval && approved == 0) return false;
    if (now < starts) return false;
    return expires == 0 || now < expires;
  }
};

}  // namespace hedge::policy
