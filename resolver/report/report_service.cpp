// report/report_service: dates -> store rows -> model -> HTML or CSV.
#include "report/report_service.hpp"

#include "blocklists/taxonomy.hpp"
#include "store/report_store.hpp"

namespace hedge::report {

bool parse_kind(std::string_view s, Kind& k) noexcept {
  if (s == "safeguarding")
    k = Kind::safeguarding;
  else if (s == "governor")
    k = Kind::governor;
  else
    return false;
  return true;
}

bool check_period(const std::string& from, const std::string& to, std::string& err) {
  int64_t f = 0, t = 0;
  if (!parse_date(from, f)) {
    err = "the start date '" + from + "' is not a date like 2026-09-01";
    return false;
  }
  if (!parse_date(to, t)) {
    err = "the end date '" + to + "' is not a date like 2026-12-19";
    return false;
  }
  if (t < f) {
    err = "the end date is before the start date";
    return false;
  }
  if (t - f + 1 > kMaxReportDays) {
    err = "a report covers at most " + std::to_string(kMaxReportDays) + " days";
    return false;
  }
  return true;
}

bool make_report(const store::Db& db, const policy::TimeZone& tz, const ReportRequest& rq, int64_t now,
                 std::string& out, std::string& err) {
  if (!check_period(rq.from, rq.to, err)) return false;
  int64_t f = 0, t = 0, start = 0, end = 0;
  parse_date(rq.from, f);
  parse_date(rq.to, t);
  date_range(tz, f, t, start, end);
  ReportData data;
  if (!store::load_report_data(db, rq.kind, start, end, data, err)) return false;
  data.lists_version = rq.lists_version;
  BuildOptions o;
  o.kind = rq.kind;
  o.school = rq.school;
  o.from_date = rq.from;
  o.to_date = rq.to;
  o.generated_at = now;
  for (const auto& c : lists::builtin_taxonomy()) {
    o.category_names[c.id] = c.name;
    if (c.tier == lists::Tier::illegal) o.illegal_categories.push_back(c.id);
  }
  const Report r = build_report(data, tz, o);
  out = rq.format == Format::csv ? render_csv(r) : render_html(r, rq.html);
  return true;
}

}  // namespace hedge::report
