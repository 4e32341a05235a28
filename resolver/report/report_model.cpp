// report/report_model: ReportData -> Report for both audiences (pure).
#include "report/report_model.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace hedge::report {

namespace {

constexpr int64_t kSmall = 5;            // governor: counts 1..4 are shown as "<5"
constexpr std::size_t kChartSeries = 8;  // more categories than this are stacked as "other"

std::string local_time(const policy::TimeZone& tz, int64_t t) {
  const auto lt = tz.local(t);
  int64_t y = 0;
  unsigned m = 0, d = 0;
  policy::civil_from_days((lt.local - lt.sod) / 86400, y, m, d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d", static_cast<long long>(y), m, d, lt.sod / 3600,
                (lt.sod / 60) % 60);
  return buf;
}

int64_t local_day(const policy::TimeZone& tz, int64_t t) {
  const auto lt = tz.local(t);
  return (lt.local - lt.sod) / 86400;
}

std::string human_date(int64_t days) {
  static const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                  "July",    "August",   "September", "October", "November", "December"};
  int64_t y = 0;
  unsigned m = 0, d = 0;
  policy::civil_from_days(days, y, m, d);
  return std::to_string(d) + " " + kMonths[(m - 1) % 12] + " " + std::to_string(y);
}

std::string cat_name(const BuildOptions& o, const std::string& id) {
  if (id.empty()) return "(no category)";
  const auto it = o.category_names.find(id);
  return it == o.category_names.end() ? id : it->second;
}

bool is_illegal(const BuildOptions& o, const std::string& category, const std::string& tier) {
  return tier == "illegal" || std::find(o.illegal_categories.begin(), o.illegal_categories.end(), category) !=
                                  o.illegal_categories.end();
}

// "N" or, for the governor report, "fewer than 5" for 1..4.
std::string count_words(int64_t n, Kind k) {
  if (k == Kind::governor && n > 0 && n < kSmall) return "fewer than 5";
  return std::to_string(n);
}

std::vector<std::pair<std::string, int64_t>> sorted_desc(const std::unordered_map<std::string, int64_t>& m) {
  std::vector<std::pair<std::string, int64_t>> v(m.begin(), m.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return v;
}

}  // namespace

bool parse_date(std::string_view s, int64_t& days) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  auto digits = [&](std::size_t at, std::size_t n, int& out) {
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y = 0, m = 0, d = 0;
  if (!digits(0, 4, y) || !digits(5, 2, m) || !digits(8, 2, d)) return false;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31) return false;
  days = policy::days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
  int64_t yy = 0;
  unsigned mm = 0, dd = 0;
  policy::civil_from_days(days, yy, mm, dd);
  return yy == y && static_cast<int>(mm) == m && static_cast<int>(dd) == d;  // rejects 2026-02-30
}

std::string format_date(int64_t days) {
  int64_t y = 0;
  unsigned m = 0, d = 0;
  policy::civil_from_days(days, y, m, d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
  return buf;
}

void date_range(const policy::TimeZone& tz, int64_t from_days, int64_t to_days, int64_t& start,
                int64_t& end) {
  start = tz.to_unix(from_days * 86400);
  end = tz.to_unix((to_days + 1) * 86400);
}

void add_totals(Table& t, bool row, bool col) {
  if (col) {
    t.head.emplace_back("Total");
    for (auto& r : t.rows) {
      int64_t sum = 0;
      for (const auto& c : r)
        if (c.numeric) sum += c.n;
      r.push_back(Cell::num(sum));
    }
  }
  if (row && !t.rows.empty()) {
    std::vector<Cell> total;
    total.push_back(Cell::str("Total"));
    for (std::size_t i = 1; i < t.rows.front().size(); ++i) {
      int64_t sum = 0;
      bool numeric = false;
      for (const auto& r : t.rows)
        if (i < r.size() && r[i].numeric) {
          sum += r[i].n;
          numeric = true;
        }
      total.push_back(numeric ? Cell::num(sum) : Cell::str(""));
    }
    t.rows.push_back(std::move(total));
  }
}

void suppress_small(Table& t) {
  const bool col_total = !t.head.empty() && t.head.back() == "Total";
  const bool row_total = !t.rows.empty() && !t.rows.back().empty() && t.rows.back().front().text == "Total";
  const std::size_t nrows = t.rows.size() - (row_total ? 1 : 0);
  const std::size_t ncols = t.rows.empty() ? 0 : t.rows.front().size();
  // Pass 1: which body cells are small (totals are judged in pass 2).
  std::vector<std::vector<bool>> small(t.rows.size(), std::vector<bool>(ncols, false));
  for (std::size_t r = 0; r < nrows; ++r)
    for (std::size_t c = 0; c < t.rows[r].size() && c + (col_total ? 1 : 0) < ncols; ++c) {
      const Cell& x = t.rows[r][c];
      small[r][c] = x.numeric && x.n > 0 && x.n < kSmall;
    }
  auto mark = [](Cell& x) {
    x.suppressed = true;
    x.text = "<5";
  };
  auto omit = [](Cell& x) {
    x.omitted = true;
    x.text = "not shown";
  };
  for (std::size_t r = 0; r < nrows; ++r)
    for (std::size_t c = 0; c < ncols; ++c)
      if (small[r][c]) mark(t.rows[r][c]);
  // Pass 2: a total that includes a suppressed cell would let a reader work
  // the small cell out, so it is omitted; a total that is itself 1..4 is
  // suppressed like any cell.
  if (col_total) {
    for (std::size_t r = 0; r < nrows; ++r) {
      Cell& tot = t.rows[r][ncols - 1];
      const bool any = std::any_of(small[r].begin(), small[r].begin() + static_cast<long>(ncols - 1),
                                   [](bool b) { return b; });
      if (any)
        omit(tot);
      else if (tot.numeric && tot.n > 0 && tot.n < kSmall)
        mark(tot);
    }
  }
  if (row_total) {
    auto& tr = t.rows.back();
    for (std::size_t c = 1; c < tr.size(); ++c) {
      bool any = false;
      for (std::size_t r = 0; r < nrows; ++r) {
        if (c == ncols - 1 && col_total)
          any = any || t.rows[r][c].omitted || t.rows[r][c].suppressed;
        else
          any = any || small[r][c];
      }
      if (any)
        omit(tr[c]);
      else if (tr[c].numeric && tr[c].n > 0 && tr[c].n < kSmall)
        mark(tr[c]);
    }
  }
}

Report build_report(const ReportData& d, const policy::TimeZone& tz, const BuildOptions& o) {
  const bool gov = o.kind == Kind::governor;
  Report rep;
  rep.kind = o.kind;
  rep.school = o.school;
  rep.title = gov ? "Filtering report for governors" : "Safeguarding report";
  int64_t fd = 0, td = 0;
  const bool dates = parse_date(o.from_date, fd) && parse_date(o.to_date, td);
  rep.period = dates ? human_date(fd) + " to " + human_date(td) : o.from_date + " to " + o.to_date;
  rep.generated = local_time(tz, o.generated_at) + " (" + tz.name() + ")";

  // ---- totals from the hourly table -----------------------------------
  std::unordered_map<std::string, int64_t> by_cat, by_group_blocked, by_group_allowed;
  std::map<int64_t, std::unordered_map<std::string, int64_t>> by_day;  // local day -> category -> blocked
  int64_t blocked = 0, allowed = 0;
  for (const auto& h : d.hourly) {
    by_cat[h.category] += h.blocked;
    blocked += h.blocked;
    allowed += h.allowed;
    by_group_allowed[h.grp] += h.allowed;
  }
  // Governor: every table that adds up blocked attempts (by group, by week)
  // counts only categories whose period total is shown (0 or 5+). Otherwise
  // a reader could subtract the shown categories from, say, the sum of the
  // weekly bars and recover a suppressed one (docs/decisions/0062).
  int64_t hidden_blocked = 0;
  auto shown_cat = [&](const std::string& c) {
    const int64_t n = by_cat[c];
    return !gov || n == 0 || n >= kSmall;
  };
  for (const auto& [c, n] : by_cat)
    if (!shown_cat(c)) hidden_blocked += n;
  for (const auto& h : d.hourly) {
    if (!h.blocked || !shown_cat(h.category)) continue;
    by_day[local_day(tz, h.hour * 3600)][h.category] += h.blocked;
    by_group_blocked[h.grp] += h.blocked;
  }
  for (auto it = by_cat.begin(); it != by_cat.end();) it = it->second == 0 ? by_cat.erase(it) : std::next(it);
  const auto cats = sorted_desc(by_cat);

  // ---- chart: per day (safeguarding) or per week (governor) --------------
  {
    Chart ch;
    const int64_t first = dates ? fd : (by_day.empty() ? 0 : by_day.begin()->first);
    const int64_t last = dates ? td : (by_day.empty() ? 0 : by_day.rbegin()->first);
    std::vector<std::string> series;
    for (std::size_t i = 0; i < cats.size() && i < kChartSeries; ++i) series.push_back(cats[i].first);
    const bool other = cats.size() > kChartSeries;
    if (gov) {
      ch.title = hidden_blocked ? "Blocked attempts each week (categories with 5 or more)"
                                : "Blocked attempts each week";
      ch.series = {"blocked"};
      for (int64_t w = first; w <= last; w += 7) {
        int64_t n = 0;
        for (int64_t dd = w; dd < w + 7 && dd <= last; ++dd) {
          const auto it = by_day.find(dd);
          if (it == by_day.end()) continue;
          for (const auto& [c, v] : it->second) n += v;
        }
        ch.labels.push_back("w/c " + format_date(w).substr(5));
        ch.values.push_back({n});
        ch.suppressed.push_back({n > 0 && n < kSmall});
      }
    } else {
      ch.title = "Blocked attempts each day, by category";
      for (const auto& s : series) ch.series.push_back(cat_name(o, s));
      if (other) ch.series.emplace_back("other categories");
      for (int64_t dd = first; dd <= last && dd - first < 400; ++dd) {
        std::vector<int64_t> v(ch.series.size(), 0);
        const auto it = by_day.find(dd);
        if (it != by_day.end()) {
          for (const auto& [c, n] : it->second) {
            const auto pos = std::find(series.begin(), series.end(), c);
            if (pos != series.end())
              v[static_cast<std::size_t>(pos - series.begin())] += n;
            else if (other)
              v.back() += n;
          }
        }
        ch.labels.push_back(format_date(dd).substr(5));
        ch.values.push_back(std::move(v));
        ch.suppressed.emplace_back(ch.series.size(), false);
      }
    }
    rep.charts.push_back(std::move(ch));
  }

  // ---- by category / by group ---------------------------------------------
  {
    Table t{"by-category", "Blocked attempts by category", "", {"Category", "Blocked attempts"}, {}};
    for (const auto& [c, n] : cats) t.rows.push_back({Cell::str(cat_name(o, c)), Cell::num(n)});
    if (t.rows.empty())
      t.note = "No blocked attempts in this period.";
    else
      add_totals(t, true, false);
    if (gov) suppress_small(t);
    rep.tables.push_back(std::move(t));
  }
  {
    Table t{"by-group",
            "By group",
            hidden_blocked ? "Blocked attempts here count only categories with 5 or more. Allowed lookups "
                             "are counted, never logged."
                           : "Allowed lookups are counted, never logged.",
            {"Group", "Blocked attempts", "Allowed lookups"},
            {}};
    for (const auto& [g, n] : by_group_allowed) by_group_blocked.try_emplace(g, 0);
    for (const auto& [g, n] : sorted_desc(by_group_blocked))
      t.rows.push_back({Cell::str(g.empty() ? "(none)" : g), Cell::num(n), Cell::num(by_group_allowed[g])});
    if (!t.rows.empty()) add_totals(t, true, false);
    if (gov) suppress_small(t);
    rep.tables.push_back(std::move(t));
  }

  // ---- names and devices (safeguarding only) ------------------------------
  if (!gov) {
    Table n{
        "top-names", "Most blocked sites", "Illegal-tier names are never listed.", {"Site", "Attempts"}, {}};
    for (const auto& [name, c] : d.top_names) n.rows.push_back({Cell::str(name), Cell::num(c)});
    rep.tables.push_back(std::move(n));
    Table dv{"top-devices", "Devices with the most blocked attempts", "", {"Device", "Attempts"}, {}};
    for (const auto& [dev, c] : d.top_devices) dv.rows.push_back({Cell::str(dev), Cell::num(c)});
    rep.tables.push_back(std::move(dv));
  }

  // ---- incidents ------------------------------------------------------------
  int64_t incidents_open = 0;
  for (const auto& i : d.incidents)
    if (i.acked_at == 0) ++incidents_open;
  if (gov) {
    std::map<std::string, std::pair<int64_t, int64_t>> per;  // category -> (incidents, acknowledged)
    for (const auto& i : d.incidents) {
      auto& p = per[cat_name(o, i.category)];
      ++p.first;
      if (i.acked_at) ++p.second;
    }
    Table t{"incidents",
            "Serious attempts (incidents)",
            "Each incident was reviewed by the Designated Safeguarding Lead; details are in the safeguarding "
            "record.",
            {"Category", "Incidents", "Acknowledged with an action"},
            {}};
    for (const auto& [c, p] : per) t.rows.push_back({Cell::str(c), Cell::num(p.first), Cell::num(p.second)});
    if (!t.rows.empty())
      add_totals(t, true, false);
    else
      t.note = "No incidents in this period.";
    suppress_small(t);
    rep.tables.push_back(std::move(t));
  } else {
    Table t{"incidents",
            "Incidents and actions",
            "Names in the illegal tier are withheld in reports.",
            {"When", "Group", "Device", "Category", "Site", "Acknowledged by", "Action taken"},
            {}};
    for (const auto& i : d.incidents) {
      t.rows.push_back({Cell::str(local_time(tz, i.at)), Cell::str(i.grp),
                        Cell::str(i.device.empty() ? i.client_ip : i.device + " (" + i.client_ip + ")"),
                        Cell::str(cat_name(o, i.category)),
                        Cell::str(is_illegal(o, i.category, i.tier) ? "(withheld: illegal tier)" : i.qname),
                        Cell::str(i.acked_at ? i.acked_by + ", " + local_time(tz, i.acked_at) : "not yet"),
                        Cell::str(i.ack_note)});
    }
    if (t.rows.empty()) t.note = "No incidents in this period.";
    rep.tables.push_back(std::move(t));
  }

  // ---- review requests and exceptions ---------------------------------------
  int64_t granted = 0, declined = 0, blocked_req = 0, open_req = 0;
  for (const auto& r : d.reviews) {
    if (r.status == "granted")
      ++granted;
    else if (r.status == "declined")
      ++declined;
    else if (r.status == "blocked")
      ++blocked_req;
    else
      ++open_req;
  }
  if (gov) {
    Table t{"reviews", "Requests to review the filter", "", {"Outcome", "Requests"}, {}};
    t.rows = {{Cell::str("Unblocked for a time"), Cell::num(granted)},
              {Cell::str("Declined"), Cell::num(declined)},
              {Cell::str("Reported site blocked"), Cell::num(blocked_req)},
              {Cell::str("Still open"), Cell::num(open_req)}};
    add_totals(t, true, false);
    suppress_small(t);
    rep.tables.push_back(std::move(t));
    int64_t allow = 0, deny = 0;
    for (const auto& e : d.exceptions) (e.kind == "allow" ? allow : deny)++;
    Table x{"exceptions", "Changes to the filter (exceptions)", "", {"Kind", "Exceptions"}, {}};
    x.rows = {{Cell::str("Sites unblocked for a time"), Cell::num(allow)},
              {Cell::str("Extra sites blocked"), Cell::num(deny)}};
    add_totals(x, true, false);
    suppress_small(x);
    rep.tables.push_back(std::move(x));
  } else {
    Table t{"reviews",
            "Review requests",
            "",
            {"When", "Kind", "Site", "Who", "Reason", "Decision", "By", "Note"},
            {}};
    for (const auto& r : d.reviews)
      t.rows.push_back({Cell::str(local_time(tz, r.at)), Cell::str(r.kind), Cell::str(r.site),
                        Cell::str(r.who), Cell::str(r.reason), Cell::str(r.status), Cell::str(r.decided_by),
                        Cell::str(r.decision_note)});
    if (t.rows.empty()) t.note = "No review requests in this period.";
    rep.tables.push_back(std::move(t));
    Table x{"exceptions",
            "Exceptions made",
            "",
            {"Made", "Site", "Group", "Kind", "Asked by", "Approved by", "Until", "Reason"},
            {}};
    for (const auto& e : d.exceptions)
      x.rows.push_back({Cell::str(local_time(tz, e.created)), Cell::str(e.name), Cell::str(e.grp),
                        Cell::str(e.kind), Cell::str(e.requester),
                        Cell::str(e.approver.empty() ? "-" : e.approver),
                        Cell::str(e.expires ? local_time(tz, e.expires) : "no expiry"), Cell::str(e.reason)});
    if (x.rows.empty()) x.note = "No exceptions in this period.";
    rep.tables.push_back(std::move(x));
  }

  // ---- list updates and checks ----------------------------------------------
  {
    Table t{
        "updates",
        "List updates",
        d.lists_version.empty() ? "" : "Lists in use now: version " + d.lists_version,
        gov ? std::vector<std::string>{"When", "What"} : std::vector<std::string>{"When", "What", "Detail"},
        {}};
    for (const auto& u : d.updates) {
      std::vector<Cell> row{Cell::str(local_time(tz, u.at)), Cell::str(u.action)};
      if (!gov) row.push_back(Cell::str(u.detail));
      t.rows.push_back(std::move(row));
    }
    if (t.rows.empty())
      t.note += (t.note.empty() ? "" : ". ") + std::string("No list updates recorded in this period.");
    rep.tables.push_back(std::move(t));
  }
  int64_t checks_failed = 0;
  for (const auto& c : d.checks)
    if (c.result != "as expected" && c.result.find("as expected") == std::string::npos) ++checks_failed;
  {
    Table t{"checks",
            "Filtering checks",
            "",
            gov ? std::vector<std::string>{"When", "Kind", "Result"}
                : std::vector<std::string>{"When", "By", "Kind", "What was tested", "Result", "Action"},
            {}};
    for (const auto& c : d.checks) {
      if (gov)
        t.rows.push_back(
            {Cell::str(local_time(tz, c.at).substr(0, 10)),
             Cell::str(c.kind == "builtin" ? "built-in" : "manual"),
             Cell::str(c.result.find("as expected") != std::string::npos && c.result.rfind("not", 0) != 0
                           ? "as expected"
                           : "needs attention")});
      else
        t.rows.push_back({Cell::str(local_time(tz, c.at)), Cell::str(c.by), Cell::str(c.kind),
                          Cell::str(c.what), Cell::str(c.result), Cell::str(c.action)});
    }
    if (t.rows.empty()) t.note = "No filtering checks were recorded in this period.";
    rep.tables.push_back(std::move(t));
  }

  // ---- summary in plain English -----------------------------------------------
  const Kind k = o.kind;
  // A governor total must not let a reader work out a suppressed cell: when
  // a part is hidden, say "at least" the visible parts.
  auto total_words = [&](int64_t total, int64_t hidden) {
    if (!gov || hidden == 0) return count_words(total, k);
    return total - hidden > 0 ? "at least " + std::to_string(total - hidden)
                              : std::string("a small number of");
  };
  std::string s1 = "From " + rep.period + ", the filter stopped " + total_words(blocked, hidden_blocked) +
                   " attempts to reach blocked sites";
  if (!cats.empty()) s1 += "; the most blocked category was " + cat_name(o, cats.front().first);
  auto hidden_of = [](const std::vector<int64_t>& parts) {
    int64_t h = 0;
    for (auto v : parts)
      if (v > 0 && v < kSmall) h += v;
    return h;
  };
  std::vector<int64_t> parts;
  parts.reserve(by_group_allowed.size());
  for (const auto& [g, n] : by_group_allowed) parts.push_back(n);
  std::string allowed_words = total_words(allowed, hidden_of(parts));
  if (!allowed_words.empty())
    allowed_words[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(allowed_words[0])));
  s1 += ". " + allowed_words + " other lookups were allowed (counted, not recorded).";
  parts.clear();
  {
    std::map<std::string, int64_t> per;
    for (const auto& i : d.incidents) ++per[i.category];
    for (const auto& [c, n] : per) parts.push_back(n);
  }
  const int64_t hidden_incidents = hidden_of(parts);
  const int64_t hidden_reviews = hidden_of({granted, declined, blocked_req, open_req});
  rep.summary.push_back(s1);
  const int64_t n_inc = static_cast<int64_t>(d.incidents.size());
  std::string s2;
  if (n_inc == 0) {
    s2 = "There were no serious attempts (incidents) that needed the safeguarding lead.";
  } else {
    const std::string how_many = total_words(n_inc, hidden_incidents);
    s2 = (n_inc == 1 && !gov ? std::string("There was 1 serious attempt (an incident); ")
                             : "There were " + how_many + " serious attempts (incidents); ");
    if (incidents_open == 0)
      s2 += n_inc == 1 && !gov ? "it was reviewed and an action recorded."
                               : "every one was reviewed and an action recorded.";
    else if (gov && hidden_incidents)
      s2 += "some still wait for review.";
    else
      s2 += count_words(incidents_open, k) +
            (incidents_open == 1 ? " still waits for review." : " still wait for review.");
  }
  rep.summary.push_back(s2);
  const int64_t n_rev = static_cast<int64_t>(d.reviews.size());
  if (n_rev == 0) {
    rep.summary.push_back("Nobody asked for a review of the filter in this period.");
  } else {
    rep.summary.push_back("Staff or pupils asked for " + total_words(n_rev, hidden_reviews) +
                          (n_rev == 1 && !gov ? " review" : " reviews") + " of the filter; " +
                          (granted == 0 ? std::string("none") : count_words(granted, k)) +
                          " led to a site being unblocked for a limited time" +
                          (granted ? ", each approved as the school's rules require." : "."));
  }
  std::string s4 =
      d.checks.empty()
          ? "No filtering checks were recorded in this period: one should be done at least each term."
          : count_words(static_cast<int64_t>(d.checks.size()), k) +
                (d.checks.size() == 1 && !gov ? " filtering check was recorded"
                                              : " filtering checks were recorded") +
                (checks_failed == 0 ? std::string(", all as expected.")
                                    : ", of which " + count_words(checks_failed, k) +
                                          " found something that needed attention.");
  rep.summary.push_back(s4);
  rep.summary.push_back(d.updates.empty()
                            ? "The block lists were not updated in this period."
                            : "The block lists were updated " + std::to_string(d.updates.size()) +
                                  (d.updates.size() == 1 ? " time." : " times."));
  // Every sentence starts with a capital, whatever count phrase ("fewer than 5") opens it.
  for (auto& sentence : rep.summary)
    if (!sentence.empty())
      sentence[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(sentence[0])));
  return rep;
}

}  // namespace hedge::report
