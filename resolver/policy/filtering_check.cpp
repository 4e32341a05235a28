// policy/filtering_check: every group x blocked category x test name through decide().
#include "policy/filtering_check.hpp"

#include <set>

#include "dns/name.hpp"
#include "policy/decide.hpp"

namespace hedge::policy {

const char* to_string(CheckOutcome o) noexcept {
  switch (o) {
    case CheckOutcome::blocked: return "blocked";
    case CheckOutcome::allowed_by_schedule: return "allowed now by a schedule";
    case CheckOutcome::not_blocked: return "NOT BLOCKED";
    case CheckOutcome::no_list: return "no list in the bundle";
    case CheckOutcome::no_test_name: return "no test name";
  }
  return "";
}

CheckResult filtering_check(const PolicySnapshot& snap, int64_t now) {
  CheckResult r;
  const lists::Bundle& b = snap.bundle();
  for (const Group& g : snap.groups()) {
    for (const lists::Category& c : b.categories()) {
      const uint64_t bit = uint64_t{1} << c.bit;
      const bool expected =
          (b.illegal_mask() & bit) != 0 || g.mode == GroupMode::allowlist || (g.block_mask & bit) != 0;
      if (!expected) continue;  // the school lets this group reach the category
      CheckRow row;
      row.group = g.name;
      row.category = c.id;
      if (c.entries == 0) {
        // Blocking it does nothing until the trust's bundle has a list for it.
        if (g.mode == GroupMode::allowlist) continue;  // an allowlist group blocks it anyway
        row.outcome = CheckOutcome::no_list;
        r.rows.push_back(std::move(row));
        continue;
      }
      if (c.test_names.empty()) {
        row.outcome = CheckOutcome::no_test_name;
        r.rows.push_back(std::move(row));
        continue;
      }
      for (const auto& name : c.test_names) {
        CheckRow t = row;
        t.name = c.confidential ? std::string() : name;
        dns::QueryName qn;
        if (!qn.assign_text(name)) {
          t.outcome = CheckOutcome::not_blocked;
          t.reason = "the test name is not a valid name";
        } else {
          const Verdict v = decide(qn, 1 /* A */, g, snap, now);
          const bool blocked =
              v.action == Action::block || v.action == Action::nxdomain || v.action == Action::nodata;
          if (blocked) {
            t.outcome = CheckOutcome::blocked;
          } else if (std::string_view(v.reason) == "schedule") {
            t.outcome = CheckOutcome::allowed_by_schedule;
          } else {
            t.outcome = CheckOutcome::not_blocked;
            t.reason = *v.reason ? v.reason : to_string(v.action);
          }
        }
        ++r.tested;
        if (t.outcome == CheckOutcome::blocked || t.outcome == CheckOutcome::allowed_by_schedule) ++r.passed;
        if (t.outcome == CheckOutcome::not_blocked) ++r.failed;
        r.rows.push_back(std::move(t));
      }
    }
  }
  std::set<std::string> unlisted;
  for (const auto& row : r.rows)
    if (row.outcome == CheckOutcome::no_list) unlisted.insert(row.category);
  r.no_list = static_cast<int>(unlisted.size());
  return r;
}

std::string CheckResult::summary() const {
  std::set<std::string> groups;
  for (const auto& row : rows) groups.insert(row.group);
  std::string names;
  for (const auto& g : groups) names += (names.empty() ? "" : ", ") + g;
  std::string s = std::to_string(tested) + " test name" + (tested == 1 ? "" : "s") + " in " +
                  std::to_string(groups.size()) + " group" + (groups.size() == 1 ? "" : "s") +
                  (names.empty() ? "" : " (" + names + ")") + ": ";
  if (tested == 0)
    s += "nothing to test (the bundle has no test names)";
  else if (failed == 0)
    s += "all blocked as expected";
  else
    s += std::to_string(failed) + " NOT blocked";
  std::set<std::string> unlisted;
  for (const auto& row : rows)
    if (row.outcome == CheckOutcome::no_list) unlisted.insert(row.category);
  if (!unlisted.empty())
    s += "; " + std::to_string(unlisted.size()) + " blocked categor" +
         (unlisted.size() == 1 ? "y has" : "ies have") + " no list in the bundle";
  return s;
}

std::string CheckResult::details() const {
  std::string s;
  std::set<std::string> unlisted;
  for (const auto& row : rows) {
    if (row.outcome == CheckOutcome::no_list) unlisted.insert(row.category);
    if (row.outcome != CheckOutcome::not_blocked) continue;
    if (!s.empty()) s += "; ";
    s += row.group + "/" + row.category + ": " +
         (row.name.empty() ? std::string("the test name") : row.name) + " not blocked (" + row.reason + ")";
  }
  if (!unlisted.empty()) {
    std::string list;
    for (const auto& c : unlisted) list += (list.empty() ? "" : ", ") + c;
    s += (s.empty() ? "" : "; ") + std::string("no list in the bundle for ") + list;
  }
  return s;
}

}  // namespace hedge::policy
