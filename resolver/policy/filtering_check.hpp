// policy/filtering_check: the built-in filtering check (the DfE's "record of
// filtering checks", produced by the box itself). For every group, each
// category the group blocks (the illegal tier for everyone, every category
// for an allowlist group) and each of that category's test names in the
// bundle's signed manifest, the name goes through decide() at `now`, the
// same decision a query gets, and the outcome is recorded. Pure: the same
// snapshot and time give the same result; no clock, no I/O.
//
// Run by `hedge check` (policy_cli.cpp), nightly and on every policy change
// inside `hedge serve` (web/web_service: /health turns a failure into 503),
// and from the console's Filtering checks page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policy/snapshot.hpp"

namespace hedge::policy {

enum class CheckOutcome : uint8_t {
  blocked,              // as expected
  allowed_by_schedule,  // a time window allows the category now (as configured: not a failure)
  not_blocked,          // FAILURE: a name that must be blocked would resolve
  no_list,              // the group blocks the category but the bundle has no list for it
  no_test_name,         // the bundle gives no test name for the category
};
const char* to_string(CheckOutcome o) noexcept;

struct CheckRow {
  std::string group, category;  // group name, category id
  std::string name;             // the test name ("" for no_list / no_test_name; hidden for confidential)
  CheckOutcome outcome = CheckOutcome::blocked;
  std::string reason;  // why it was not blocked (decide()'s reason), for failures
};

struct CheckResult {
  std::vector<CheckRow> rows;
  int tested = 0, passed = 0, failed = 0;
  int no_list = 0;  // categories some group blocks that have no list in the bundle
  bool ok() const noexcept { return failed == 0; }
  // One line for the record and the log: "42 test names in 4 groups: all blocked as expected".
  std::string summary() const;
  // The failures (and the categories with no list), one per line, for the record's "action".
  std::string details() const;
};

CheckResult filtering_check(const PolicySnapshot& snap, int64_t now);

}  // namespace hedge::policy
