// report/report_model: the safeguarding and governor reports as plain values.
// Pipeline (one code path for the console page and `hedge report`):
//   store/report_store  SQL over the monitoring schema -> ReportData (raw)
//   build_report()      ReportData -> Report (tables, charts, summary; pure)
//   render_html/csv()   Report -> text (report/report_render; pure)
// The governor report is built from the same ReportData but never copies a
// client address, MAC, device, person or domain name into the Report, and
// every count from 1 to 4 becomes "<5" (suppress_small()).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "policy/timezone.hpp"

namespace hedge::report {

enum class Kind : uint8_t { safeguarding, governor };

// Raw rows from the store for [from, to) (unix seconds).
struct ReportData {
  int64_t from = 0, to = 0;  // unix seconds, to exclusive
  struct Hourly {
    int64_t hour = 0;
    std::string grp, category;
    int64_t allowed = 0, blocked = 0;
  };
  std::vector<Hourly> hourly;
  std::vector<std::pair<std::string, int64_t>> top_names;    // never illegal tier; most first
  std::vector<std::pair<std::string, int64_t>> top_devices;  // device (or address when unnamed); most first
  struct Incident {
    int64_t id = 0, at = 0;
    std::string device, client_ip, grp, qname, category, tier;
    int64_t acked_at = 0;
    std::string acked_by, ack_note;
  };
  std::vector<Incident> incidents;
  struct Review {
    int64_t id = 0, at = 0;
    std::string kind, site, who, reason, grp, status, decided_by, decision_note;
  };
  std::vector<Review> reviews;
  struct Exception {
    int64_t id = 0, created = 0, expires = 0, approved = 0;
    std::string name, grp, kind, requester, approver, reason;
  };
  std::vector<Exception> exceptions;
  struct Update {  // audit rows about list updates and rollbacks
    int64_t at = 0;
    std::string action, detail;
  };
  std::vector<Update> updates;
  struct Check {
    int64_t at = 0;
    std::string by, kind, what, result, action;
  };
  std::vector<Check> checks;
  std::string lists_version;  // current bundle version ("" unknown)
};

struct Cell {
  std::string text;
  int64_t n = 0;
  bool numeric = false;
  bool suppressed = false;  // governor: 1..4 shown as "<5"
  bool omitted = false;     // a total that would include a suppressed cell
  static Cell str(std::string s) { return Cell{std::move(s), 0, false, false, false}; }
  static Cell num(int64_t v) { return Cell{std::to_string(v), v, true, false, false}; }
};

struct Table {
  std::string id, title, note;  // id: CSV section and HTML anchor
  std::vector<std::string> head;
  std::vector<std::vector<Cell>> rows;
};

// A stacked bar chart: one bar per label, one stack segment per series.
struct Chart {
  std::string title;
  std::vector<std::string> labels;            // x axis (days or weeks)
  std::vector<std::string> series;            // categories
  std::vector<std::vector<int64_t>> values;   // [label][series]
  std::vector<std::vector<bool>> suppressed;  // [label][series] (governor)
};

struct Report {
  Kind kind = Kind::safeguarding;
  std::string title, school, period, generated;
  std::vector<std::string> summary;  // plain-English paragraphs
  std::vector<Chart> charts;
  std::vector<Table> tables;
};

struct BuildOptions {
  Kind kind = Kind::safeguarding;
  std::string school = "School";
  std::string from_date, to_date;  // YYYY-MM-DD as asked (inclusive)
  int64_t generated_at = 0;
  std::map<std::string, std::string> category_names;  // id -> human name (missing: the id)
  std::vector<std::string> illegal_categories;        // ids of the illegal tier (never named to anyone)
};

Report build_report(const ReportData& d, const policy::TimeZone& tz, const BuildOptions& o);

// Governor disclosure rule, exposed for tests: every numeric cell from 1 to 4
// becomes "<5"; 0 and 5+ stay. Then, for tables with a "Total" row or column
// (label "Total"), any total that sums a suppressed cell is omitted.
void suppress_small(Table& t);
// Adds a "Total" row (sum of each numeric column) and/or column; must run
// before suppress_small so the rule can see what each total includes.
void add_totals(Table& t, bool row, bool col);

// "YYYY-MM-DD" -> days since 1970-01-01; false if malformed or impossible.
bool parse_date(std::string_view s, int64_t& days);
std::string format_date(int64_t days);
// Local date range [from, to] (inclusive) -> unix [start, end) in tz.
void date_range(const policy::TimeZone& tz, int64_t from_days, int64_t to_days, int64_t& start, int64_t& end);

}  // namespace hedge::report
