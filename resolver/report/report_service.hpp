// report/report_service: the one function both front ends call to make a
// report: `hedge report` (console/console_cli.cpp) and the console's
// /reports page. Validates the dates, reads the store, builds and renders.
#pragma once

#include <string>

#include "policy/timezone.hpp"
#include "report/report_render.hpp"
#include "store/sqlite.hpp"

namespace hedge::report {

enum class Format : uint8_t { html, csv };

struct ReportRequest {
  Kind kind = Kind::safeguarding;
  std::string from, to;  // YYYY-MM-DD, inclusive, in the school's time zone
  Format format = Format::html;
  std::string school = "School";
  std::string lists_version;
  HtmlOptions html;
};

// Longest period one report covers (a school year and a bit).
inline constexpr int64_t kMaxReportDays = 400;

bool parse_kind(std::string_view s, Kind& k) noexcept;
// Checks dates only (for forms and the CLI): "from" before "to", period length.
bool check_period(const std::string& from, const std::string& to, std::string& err);

bool make_report(const store::Db& db, const policy::TimeZone& tz, const ReportRequest& rq, int64_t now,
                 std::string& out, std::string& err);

}  // namespace hedge::report
