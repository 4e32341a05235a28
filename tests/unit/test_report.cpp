// Unit: reports. Governor disclosure rules as tables; the governor report
// from a seeded store never shows an address, MAC, device, person or domain.
#include <doctest/doctest.h>

#include <cctype>

#include <string>

#include "bundle_fixture.hpp"
#include "monitoring_fixture.hpp"
#include "report/report_service.hpp"
#include "store/console_store.hpp"
#include "store/report_store.hpp"
#include "store/sqlite.hpp"

using namespace hedge;
using report::Cell;
using report::Table;

namespace {

Table table(std::initializer_list<std::pair<const char*, std::vector<int64_t>>> rows, std::size_t cols) {
  Table t;
  t.head.emplace_back("Label");
  for (std::size_t i = 0; i < cols; ++i) t.head.push_back("c" + std::to_string(i));
  for (const auto& [label, vals] : rows) {
    std::vector<Cell> r{Cell::str(label)};
    for (auto v : vals) r.push_back(Cell::num(v));
    t.rows.push_back(std::move(r));
  }
  return t;
}

std::string show(const Table& t) {
  std::string s;
  for (const auto& r : t.rows) {
    for (const auto& c : r) s += c.text + "|";
    s += "\n";
  }
  return s;
}

}  // namespace

TEST_CASE("report: suppress_small rules") {
  struct Case {
    std::vector<int64_t> col;
    const char* want;
  };
  // One column plus a Total row: counts 1..4 become <5; 0 and 5+ stay; the
  // total is omitted when it includes a suppressed cell, else shown.
  const Case cases[] = {
      {{10, 20}, "a|10|\nb|20|\nTotal|30|\n"},     {{10, 4}, "a|10|\nb|<5|\nTotal|not shown|\n"},
      {{5, 0}, "a|5|\nb|0|\nTotal|5|\n"},          {{1, 2}, "a|<5|\nb|<5|\nTotal|not shown|\n"},
      {{0, 3}, "a|0|\nb|<5|\nTotal|not shown|\n"}, {{0, 0}, "a|0|\nb|0|\nTotal|0|\n"},
  };
  for (const auto& c : cases) {
    Table t = table({{"a", {c.col[0]}}, {"b", {c.col[1]}}}, 1);
    report::add_totals(t, true, false);
    report::suppress_small(t);
    CHECK(show(t) == c.want);
  }
  // Rows and columns with totals both ways.
  Table t = table({{"a", {7, 2}}, {"b", {6, 9}}}, 2);
  report::add_totals(t, true, true);
  report::suppress_small(t);
  CHECK(show(t) == "a|7|<5|not shown|\nb|6|9|15|\nTotal|13|not shown|not shown|\n");
  // A total that is itself 1..4 with no small cell (only zeros) is suppressed.
  Table z = table({{"a", {0}}, {"b", {0}}}, 1);
  z.rows[0][1] = Cell::num(0);
  report::add_totals(z, true, false);
  z.rows.back()[1] = Cell::num(3);
  report::suppress_small(z);
  CHECK(z.rows.back()[1].text == "<5");
}

TEST_CASE("report: dates") {
  int64_t d = 0;
  CHECK(report::parse_date("2026-09-01", d));
  CHECK(report::format_date(d) == "2026-09-01");
  for (const char* bad :
       {"2026-02-30", "2026-13-01", "26-09-01", "2026/09/01", "2026-09-1", "", "abcd-ef-gh"})
    CHECK_FALSE(report::parse_date(bad, d));
  std::string err;
  CHECK(report::check_period("2026-09-01", "2026-09-01", err));
  CHECK_FALSE(report::check_period("2026-09-02", "2026-09-01", err));
  CHECK(err.find("before") != std::string::npos);
  CHECK_FALSE(report::check_period("2025-01-01", "2026-12-31", err));
  CHECK_FALSE(report::check_period("2026-09-01", "tomorrow", err));
}

TEST_CASE("report: csv and html escaping") {
  CHECK(report::csv_field("plain") == "plain");
  CHECK(report::csv_field("a,b") == "\"a,b\"");
  CHECK(report::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(report::csv_field("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"");
  CHECK(report::csv_field("+1") == "'+1");
  CHECK(report::escape("<script>alert('x')&\"</script>") ==
        "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;");
}

namespace {

// Seeds a store with known identifiers; returns the ones that must never
// reach a governor.
std::vector<std::string> seed(store::Db& db, int64_t day0) {
  std::string err;
  REQUIRE_MESSAGE(db.exec(test::kMonitoringSchema, err), err);
  const std::vector<std::string> secrets = {"192.0.2.77",
                                            "198.51.100.23",
                                            "02:00:5e:10:00:01",
                                            "ipad-year9-17",
                                            "laptop-staff-mrsx",
                                            "badsite-seeded.example",
                                            "casino-seeded.example",
                                            "illegal-seeded.example",
                                            "Jamie Pupil",
                                            "ms.reviewer"};
  auto exec = [&](const std::string& sql) {
    REQUIRE_MESSAGE(db.exec(sql.c_str(), err), std::string(err + " in " + sql));
  };
  const std::string t = std::to_string(day0 + 3600 * 10);
  exec(
      "INSERT INTO events(at,last_at,minute,client_ip,device,mac,grp,qname,qtype,categories,tier,rule,count) "
      "VALUES"
      "(" +
      t + "," + t + "," + t +
      "/60,'192.0.2.77','ipad-year9-17','02:00:5e:10:00:01','pupils',"
      "'badsite-seeded.example',1,'pornography','school','category',12),"
      "(" +
      t + "," + t + "," + t +
      "/60+1,'198.51.100.23','laptop-staff-mrsx','','staff','casino-seeded.example',1,"
      "'gambling','school','category',3)");
  // hourly: pornography 12 for pupils (shown), gambling 3 for staff (suppressed), allowed 1000/2.
  const std::string h = std::to_string((day0 + 36000) / 3600);
  exec("INSERT INTO hourly(hour,grp,category,allowed,blocked) VALUES(" + h +
       ",'pupils','pornography',1000,12),(" + h + ",'staff','gambling',2,3)");
  exec("INSERT INTO incidents(at,client_ip,device,mac,grp,qname,category,tier) VALUES(" + t +
       ",'192.0.2.77','ipad-year9-17','02:00:5e:10:00:01','pupils','illegal-seeded.example','child-abuse','"
       "illegal')");
  exec("INSERT INTO review_requests(at,kind,site,client_ip,grp,who,reason) VALUES(" + t +
       ",'unblock','badsite-seeded.example','192.0.2.77','pupils','Jamie Pupil','for homework')");
  exec("INSERT INTO review_requests(at,kind,site,client_ip,grp,who,reason,status,decided_by) VALUES(" + t +
       ",'report','casino-seeded.example','198.51.100.23','staff','','should be "
       "blocked','blocked','ms.reviewer')");
  return secrets;
}

}  // namespace

TEST_CASE("report: governor report names no one and suppresses small counts") {
  test::TempDir tmp;
  const std::string path = tmp.path + "/hedge.db";
  {
    store::ConsoleStore cs;  // creates exception, audit and console tables
    std::string err;
    REQUIRE_MESSAGE(cs.open(path, err), err);
    store::Check c{
        0,     0, "ms.reviewer", "manual", "tested casino-seeded.example from ipad-year9-17", "as expected",
        "none"};
    int64_t day0 = 0;
    report::parse_date("2026-10-05", day0);
    c.at = day0 * 86400 + 7200;
    REQUIRE(cs.add_check(c, err));
  }
  store::Db db;
  std::string err;
  REQUIRE(db.open(path, false, err));
  int64_t day = 0;
  report::parse_date("2026-10-05", day);
  const auto secrets = seed(db, day * 86400);
  const auto tz = policy::TimeZone();  // UTC
  report::ReportRequest rq;
  rq.kind = report::Kind::governor;
  rq.from = "2026-10-01";
  rq.to = "2026-10-31";
  for (auto fmt : {report::Format::html, report::Format::csv}) {
    rq.format = fmt;
    std::string out;
    REQUIRE_MESSAGE(report::make_report(db, tz, rq, day * 86400 + 86400 * 30, out, err), err);
    for (const auto& s : secrets) {
      CAPTURE(s);
      CHECK(out.find(s) == std::string::npos);
    }
    // 12 pornography attempts shown; gambling 3 suppressed; the total omitted.
    CHECK(out.find("12") != std::string::npos);
    CHECK(out.find(fmt == report::Format::html ? "&lt;5" : "<5") != std::string::npos);
    if (fmt == report::Format::csv) {
      CHECK(out.find(",15") == std::string::npos);  // 12 + 3 would reveal the small cell
      CHECK(out.find(",3\r\n") == std::string::npos);
      CHECK(out.find("Total,not shown") != std::string::npos);
    }
  }
  // Every numeric cell of every governor table is 0, 5+ or suppressed.
  report::ReportData data;
  REQUIRE(store::load_report_data(db, report::Kind::governor, day * 86400 - 86400 * 10,
                                  day * 86400 + 86400 * 20, data, err));
  report::BuildOptions o;
  o.kind = report::Kind::governor;
  o.from_date = "2026-09-25";
  o.to_date = "2026-10-25";
  const auto rep = report::build_report(data, tz, o);
  for (const auto& t : rep.tables)
    for (const auto& r : t.rows)
      for (const auto& c : r)
        if (c.numeric && !c.suppressed && !c.omitted) {
          CAPTURE(t.id);
          CHECK((c.n == 0 || c.n >= 5));
        }
  for (const auto& ch : rep.charts)
    for (std::size_t i = 0; i < ch.values.size(); ++i)
      for (std::size_t s = 0; s < ch.values[i].size(); ++s)
        if (ch.values[i][s] > 0 && ch.values[i][s] < 5) CHECK(ch.suppressed[i][s]);
  for (const auto& p : rep.summary) CHECK(p.find(" 3 ") == std::string::npos);
  // Each summary sentence starts with a capital ("Fewer than 5 filtering checks ...").
  for (const auto& p : rep.summary) {
    CAPTURE(p);
    REQUIRE(!p.empty());
    CHECK(std::isupper(static_cast<unsigned char>(p[0])));
  }
}

TEST_CASE("report: chart x labels stay whole (level when they fit, turned with room when not)") {
  auto chart = [](std::size_t n) {
    report::Chart c;
    c.title = "t";
    c.series = {"s"};
    for (std::size_t i = 0; i < n; ++i) {
      c.labels.push_back("w/c 10-" + std::to_string(10 + i));
      c.values.push_back({static_cast<int64_t>(i)});
      c.suppressed.push_back({false});
    }
    return c;
  };
  const std::string few = report::render_svg(chart(8));
  CHECK(few.find("rotate(") == std::string::npos);
  // 14 weeks at 960 px fit level; 20 are turned 45 degrees, and the text's far end (about 5 px down
  // per character from its anchor) must stay inside the 260 px picture.
  CHECK(report::render_svg(chart(14)).find("rotate(") == std::string::npos);
  const std::string many = report::render_svg(chart(20));
  const auto at = many.find("transform=\"rotate(-45 ");
  REQUIRE(at != std::string::npos);
  const auto y0 = many.find(' ', at + 22);
  const int anchor_y = std::stoi(many.substr(y0 + 1));
  CHECK(anchor_y + 5 * 9 <= 260);
}

TEST_CASE("report: safeguarding report shows the detail but never illegal-tier names") {
  test::TempDir tmp;
  const std::string path = tmp.path + "/hedge.db";
  std::string err;
  {
    store::ConsoleStore cs;
    REQUIRE(cs.open(path, err));
  }
  store::Db db;
  REQUIRE(db.open(path, false, err));
  int64_t day = 0;
  report::parse_date("2026-10-05", day);
  seed(db, day * 86400);
  report::ReportRequest rq;
  rq.from = "2026-10-01";
  rq.to = "2026-10-31";
  std::string out;
  REQUIRE(report::make_report(db, policy::TimeZone(), rq, day * 86400, out, err));
  CHECK(out.find("badsite-seeded.example") != std::string::npos);
  CHECK(out.find("ipad-year9-17") != std::string::npos);
  CHECK(out.find("Jamie Pupil") != std::string::npos);
  CHECK(out.find("illegal-seeded.example") == std::string::npos);
  CHECK(out.find("withheld") != std::string::npos);
  CHECK(out.find("<svg") != std::string::npos);
  CHECK(out.find("@media print") != std::string::npos);
  CHECK(out.find("<script") == std::string::npos);
}
