// Unit tests for issue 8's pure parts: HTTP helpers, page text, devices
// parsing, RFC 5424 formatting, the monitoring store (batching, repeats on
// one row, retention on an injected clock, incidents and their ack).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "http/message.hpp"
#include "http/text.hpp"
#include "monitor/devices.hpp"
#include "monitor/syslog.hpp"
#include "store/event_store.hpp"
#include "store/exception_store.hpp"
#include "web/pages.hpp"

using namespace hedge;

TEST_CASE("html_escape and url decoding") {
  CHECK(http::html_escape("<a href=\"x\">'&'</a>") ==
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  CHECK(http::url_decode("a%20b+c%2", true) == "a b c%2");
  CHECK(http::url_decode("a%00b", false) == "ab");
  const auto f = http::parse_form("site=www.example.com&who=Class+4&reason=%3Cb%3E&empty");
  CHECK(http::form_value(f, "who") == "Class 4");
  CHECK(http::form_value(f, "reason") == "<b>");
  CHECK(http::form_value(f, "missing").empty());
}

TEST_CASE("serialize never splits a response") {
  http::Response r(200, "text/plain", "hi");
  r.set("X-Evil", "a\r\nSet-Cookie: x=1");
  const std::string s = http::serialize(r, false, true);
  CHECK(s.find("Set-Cookie") == std::string::npos);
  CHECK(s.find("Content-Length: 2\r\n") != std::string::npos);
  CHECK(http::serialize(r, true, false).find("\r\n\r\nhi") == std::string::npos);  // HEAD: no body
}

TEST_CASE("language choice: query, Accept-Language q-values, default") {
  CHECK(http::pick_language("lang=cy", nullptr, "en") == "cy");
  const std::string al = "en-GB;q=0.5,cy;q=0.9";
  CHECK(http::pick_language("", &al, "en") == "cy");
  const std::string fr = "fr-FR,de";
  CHECK(http::pick_language("", &fr, "cy") == "cy");
  CHECK(http::pick_language("lang=<x>", nullptr, "en") == "en");
}

TEST_CASE("every English key has a Welsh text") {
  const auto& en = http::Texts::get("en");
  const auto& cy = http::Texts::get("cy");
  for (const char* k : {"blocked_title", "blocked_ok", "next_ask", "form_send", "thanks_heading",
                        "illegal_body", "notblocked_next", "rule_category", "rule_bypass"}) {
    CHECK(cy.has(k));
    CHECK(en.has(k));
    CHECK(cy[k] != en[k]);
  }
}

TEST_CASE("pages escape what the client sent; the illegal page names nothing") {
  web::PageInput in;
  in.site = "<script>x</script>.example";
  in.category = {"Gambling"};
  in.rule = "category";
  in.school = "A & B School";
  const std::string html = web::render_page(in);
  CHECK(html.find("<script>x") == std::string::npos);
  CHECK(html.find("&lt;script&gt;") != std::string::npos);
  CHECK(html.find("A &amp; B School") != std::string::npos);
  CHECK(html.find("<form") != std::string::npos);
  in.kind = web::PageKind::illegal;
  in.site = "secret.example";
  const std::string ill = web::render_page(in);
  CHECK(ill.find("secret") == std::string::npos);
  CHECK(ill.find("Gambling") == std::string::npos);
  CHECK(ill.find("<form") == std::string::npos);
  CHECK(web::format_when(0, "cy") == "00:00 ar ddydd Iau 1 Ionawr 1970");
}

TEST_CASE("devices: dnsmasq, ISC dhcpd and CSV told apart by content") {
  auto d = monitor::parse_devices(
      "1796180000 aa:bb:cc:dd:ee:01 10.20.1.5 pupil-laptop-07 01:aa:bb:cc:dd:ee:01\n"
      "1796180000 aa:bb:cc:dd:ee:02 10.20.1.6 * *\n"
      "duid 00:01:00:01\n1796180000 1234 2001:DB8::5 tablet-3 00:02\n");
  CHECK(d.format == monitor::DeviceFormat::dnsmasq);
  REQUIRE(d.find("10.20.1.5"));
  CHECK(d.find("10.20.1.5")->name == "pupil-laptop-07");
  CHECK(d.find("10.20.1.5")->mac == "aa:bb:cc:dd:ee:01");
  CHECK(d.find("10.20.1.6")->name.empty());
  REQUIRE(d.find("2001:db8::5"));
  CHECK(d.find("2001:db8::5")->name == "tablet-3");
  auto isc = monitor::parse_devices(
      "# dhcpd.leases\nlease 10.0.0.9 {\n  binding state active;\n  hardware ethernet AA:BB:CC:00:00:09;\n"
      "  client-hostname \"ipad-9\";\n}\nlease 10.0.0.10 {\n  binding state active;\n  client-hostname "
      "\"old\";\n}\n"
      "lease 10.0.0.10 {\n  binding state free;\n}\n");
  CHECK(isc.format == monitor::DeviceFormat::isc);
  REQUIRE(isc.find("10.0.0.9"));
  CHECK(isc.find("10.0.0.9")->name == "ipad-9");
  CHECK(isc.find("10.0.0.9")->mac == "aa:bb:cc:00:00:09");
  CHECK(isc.find("10.0.0.10") == nullptr);  // the later block freed it
  auto csv =
      monitor::parse_devices("ip,name\n10.1.1.1,Library PC 1\naa-bb-cc-dd-ee-ff,Head's iPad\nnonsense\n",
                             "IP address HW type Flags HW address Mask Device\n"
                             "10.1.1.2 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0\n");
  CHECK(csv.format == monitor::DeviceFormat::csv);
  CHECK(csv.find("10.1.1.1")->name == "Library PC 1");
  REQUIRE(csv.find("10.1.1.2"));
  CHECK(csv.find("10.1.1.2")->name == "Head's iPad");
  CHECK(csv.skipped == 1);
}

TEST_CASE("RFC 5424 line with escaped structured data") {
  monitor::SyslogMessage m;
  m.at = 1796180000;
  m.severity = monitor::Severity::alert;
  m.msgid = "incident";
  m.sd = {{"category", "self-harm"}, {"qname", "a\"b]c\\d"}};
  m.text = "line1\nline2";
  const std::string s = monitor::format_syslog(m, "hedge-box", 42);
  CHECK(s ==
        "<129>1 2026-12-02T02:53:20Z hedge-box hedge 42 incident [hedge@32473 category=\"self-harm\" "
        "qname=\"a\\\"b\\]c\\\\d\"] line1 line2");
}

namespace {
std::string temp_db() {
  char tmpl[] = "/tmp/hedge-unit-events-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd >= 0) close(fd);
  unlink(tmpl);
  return tmpl;
}
store::EventRow ev(int64_t at, const char* ip, const char* name, const char* incident = "") {
  store::EventRow r;
  r.at = at;
  r.client_ip = ip;
  r.device = "pc-1";
  r.grp = "pupils";
  r.qname = name;
  r.qtype = 1;
  r.categories = "gambling";
  r.tier = "school";
  r.rule = "category";
  r.incident_category = incident;
  return r;
}
int64_t count(store::EventStore& st, const std::string& sql) {
  store::Stmt s(st.db(), sql);
  return s && s.step() == SQLITE_ROW ? s.i64(0) : -1;
}
}  // namespace

TEST_CASE("event store: repeats in a minute on one row, incidents, retention on an injected clock") {
  const std::string path = temp_db();
  store::EventStore st;
  std::string err;
  REQUIRE(st.open(path, err));
  const int64_t t0 = 1796180000 - 1796180000 % 60;
  std::vector<store::WrittenEvent> w;
  std::vector<store::EventRow> batch = {
      ev(t0, "10.0.0.1", "bet.example"), ev(t0 + 5, "10.0.0.1", "bet.example"),
      ev(t0 + 70, "10.0.0.1", "bet.example"), ev(t0, "10.0.0.2", "harm.example", "self-harm")};
  std::vector<store::HourlyRow> hourly = {{t0 / 3600, "pupils", "gambling", 10, 3}};
  REQUIRE(st.write(batch, hourly, {}, w, err));
  CHECK(count(st, "SELECT count(*) FROM events") == 3);
  CHECK(count(st, "SELECT count FROM events WHERE at = " + std::to_string(t0) +
                      " AND client_ip = '10.0.0.1'") == 2);
  CHECK(w[1].new_row == false);
  CHECK(count(st, "SELECT count(*) FROM incidents") == 1);
  CHECK(st.unacked_incidents() == 1);
  // The same batch again: counted on the same rows, no second incident for the same row.
  REQUIRE(st.write(batch, hourly, {}, w, err));
  CHECK(count(st, "SELECT count(*) FROM events") == 3);
  CHECK(count(st, "SELECT sum(count) FROM events") == 8);
  CHECK(count(st, "SELECT count(*) FROM incidents") == 1);
  CHECK(count(st, "SELECT allowed FROM hourly") == 20);

  // Ack through the audit chain (one transaction with its audit row).
  store::ExceptionStore audit;
  REQUIRE(audit.open(path, err));
  const auto inc = st.incidents(true);
  REQUIRE(inc.size() == 1);
  REQUIRE(audit.audited_change(
      t0 + 100, "dsl", "incident.ack", "incident/" + std::to_string(inc[0].id), "seen", "{}",
      [&](store::Db& db, std::string& e) {
        return store::EventStore::ack_on(db, inc[0].id, "dsl", "seen", t0 + 100, e);
      },
      err));
  CHECK(st.unacked_incidents() == 0);
  CHECK_FALSE(audit.audited_change(
      t0 + 101, "dsl", "incident.ack", "incident/x", "", "{}",
      [&](store::Db& db, std::string& e) {
        return store::EventStore::ack_on(db, inc[0].id, "dsl", "again", t0 + 101, e);
      },
      err));
  CHECK(err.find("already acknowledged") != std::string::npos);
  CHECK(audit.verify_audit().ok);

  // Retention: nothing is old yet; 91 days later the events and the acked incident go,
  // in batches of at most `limit` rows; hourly counts stay (400 days).
  store::Retention r;
  CHECK(st.purge(t0 + 86400, r, 500, err) == 0);
  CHECK(st.purge(t0 + int64_t{91} * 86400, r, 2, err) == 2);
  CHECK(st.purge(t0 + int64_t{91} * 86400, r, 500, err) == 2);  // last event + the acked incident
  CHECK(count(st, "SELECT count(*) FROM events") == 0);
  CHECK(count(st, "SELECT count(*) FROM incidents") == 0);
  CHECK(count(st, "SELECT count(*) FROM hourly") == 1);
  CHECK(st.purge(t0 + int64_t{401} * 86400, r, 500, err) == 1);
  unlink(path.c_str());
}

TEST_CASE("event store: an unacknowledged incident is never purged") {
  const std::string path = temp_db();
  store::EventStore st;
  std::string err;
  REQUIRE(st.open(path, err));
  std::vector<store::WrittenEvent> w;
  REQUIRE(st.write({ev(1000000000, "10.0.0.3", "x.example", "terrorism")}, {}, {}, w, err));
  CHECK(st.purge(1000000000 + int64_t{1000} * 86400, store::Retention{}, 500, err) == 1);  // the event only
  CHECK(st.unacked_incidents() == 1);
  unlink(path.c_str());
}

TEST_CASE("web: /report turns a typed address into a host name") {
  struct Row {
    const char* typed;
    const char* want;
  };
  for (const Row& r : {Row{"games.example.com", "games.example.com"},
                       Row{"  https://Games.Example.COM/level/3?x=1#top", "games.example.com"},
                       Row{"http://user@bad.example.net:8080/", "bad.example.net"},
                       Row{"www.example.org.", "www.example.org"}, Row{"localhost", ""}, Row{"", ""},
                       Row{"<b>not an address", ""}, Row{"https://", ""}, Row{"a b.example", ""}}) {
    CAPTURE(r.typed);
    CHECK(hedge::web::report_host(r.typed) == r.want);
  }
}
