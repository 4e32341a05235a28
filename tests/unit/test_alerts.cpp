// Unit: alert wording (no names), retry delays, mail framing, [alerts] config
// errors, and the store's incident outbox (queued once, mark survives).
#include <doctest/doctest.h>

#include "alerts/alert_text.hpp"
#include "bundle_fixture.hpp"
#include "config/config.hpp"
#include "store/alert_store.hpp"
#include "store/event_store.hpp"

using namespace hedge;

TEST_CASE("alerts: retry delay doubles, is capped, jitters within half") {
  struct Row {
    int attempts;
    int64_t min, max;
    double j;
    int64_t want;
  };
  for (const Row& r : {Row{1, 30, 3600, 0.0, 15}, Row{1, 30, 3600, 0.999, 29}, Row{2, 30, 3600, 0.0, 30},
                       Row{3, 30, 3600, 0.0, 60}, Row{8, 30, 3600, 0.0, 1800}, Row{9, 30, 3600, 0.0, 1800},
                       Row{30, 30, 3600, 0.5, 2700}, Row{1000, 30, 3600, 1.0, 3600}, Row{1, 1, 2, 0.0, 1},
                       Row{5, 1, 2, 1.0, 2}, Row{0, 0, 0, 0.0, 1}}) {
    CAPTURE(r.attempts);
    CAPTURE(r.j);
    CHECK(alerts::retry_delay_s(r.attempts, r.min, r.max, r.j) == r.want);
  }
}

TEST_CASE("alerts: dates, weeks, framing") {
  CHECK(alerts::rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  CHECK(alerts::rfc5322_date(1796190000) == "Wed, 02 Dec 2026 05:40:00 +0000");
  CHECK(alerts::week_start(0) == -3 * 86400);
  CHECK(alerts::week_start(1796190000) == 1795996800);  // Mon 30 Nov 2026 00:00 UTC
  CHECK(alerts::week_start(1795996800) == 1795996800);
  CHECK(alerts::week_start(1795996799) == 1795996800 - 7 * 86400);
  CHECK(alerts::dot_stuff(".a\r\nb\r\n..c\r\n.") == "..a\r\nb\r\n...c\r\n..");
  CHECK(alerts::base64("") == "");
  CHECK(alerts::base64("f") == "Zg==");
  CHECK(alerts::base64("fo") == "Zm8=");
  CHECK(alerts::base64("foo") == "Zm9v");
  CHECK(alerts::base64(std::string("\0u\0p", 4)) == "AHUAcA==");
  const auto m = alerts::compose_mail("h@s.example", {"a@s.example", "b@s.example"},
                                      {"Subject\r\nBcc: evil@x", "line 1\nline 2"}, 0, "id@s.example");
  CHECK(m.find("Subject: Subject??Bcc: evil@x\r\n") != std::string::npos);
  CHECK(m.find("To: a@s.example, b@s.example\r\n") != std::string::npos);
  CHECK(m.find("\r\n\r\nline 1\r\nline 2\r\n") != std::string::npos);
}

TEST_CASE("alerts: an incident alert names the category, never the site or the device") {
  const auto t = alerts::incident_text({42, 1796190000, "child-abuse", "illegal", "pupils"}, "Test School");
  CHECK(t.subject == "Hedge safeguarding incident 42: illegal content (child-abuse)");
  CHECK(t.body.find("Incident:  42\n") != std::string::npos);
  CHECK(t.body.find("Category:  child-abuse\n") != std::string::npos);
  CHECK(t.body.find("Time:      2026-12-02 05:40 UTC\n") != std::string::npos);
  const auto j = alerts::webhook_json(t);
  CHECK(j.find("\"text\":") != std::string::npos);
  alerts::DigestFacts d{1795996800 - 7 * 86400, 1795996800, {{"gambling", 7}, {"", 2}}, 3, 1, 2, 4};
  const auto dt = alerts::digest_text(d, "");
  CHECK(dt.body.find("Blocked attempts: 9\n  gambling: 7\n  (no category): 2\n") != std::string::npos);
  CHECK(dt.body.find("Safeguarding incidents: 3 (illegal content: 1)") != std::string::npos);
}

TEST_CASE("alerts: [alerts] config errors") {
  struct Row {
    const char* toml;
    const char* want;  // "" = valid
  };
  for (const Row& r : {
           Row{"smtp = \"smtp://relay.example:587\"\nemail_from = \"h@s.example\"\nemail_to = "
               "[\"d@s.example\"]",
               ""},
           Row{"webhook = \"https://hooks.example/x\"", ""},
           Row{"smtp = \"http://relay.example\"\nemail_from = \"h@s.example\"\nemail_to = [\"d@s.example\"]",
               "alerts.smtp: 'http://relay.example' is not smtp://"},
           Row{"smtp = \"smtp://relay.example:99999\"\nemail_from = \"h@s.example\"\nemail_to = "
               "[\"d@s.example\"]",
               "alerts.smtp:"},
           Row{"smtp = \"smtp://relay.example\"\nemail_from = \"h@s.example\"",
               "alerts.email_to: smtp is set"},
           Row{"smtp = \"smtp://relay.example\"\nemail_to = [\"d@s.example\"]",
               "alerts.email_from: smtp is set"},
           Row{"email_to = [\"d@s.example\"]", "alerts.smtp: email_to is set but smtp"},
           Row{"smtp = \"smtp://r.example\"\nemail_from = \"h@s.example\"\nemail_to = "
               "[\"d@s.example\\r\\nx\"]",
               "alerts.email_to[0]: must be an email address"},
           Row{"webhook = \"http://hooks.example/x\"", "alerts.webhook: must be an https:// address"},
           Row{"webhook = \"https://h.example/\"\nsmtp_user = \"u\"", "alerts.smtp_user: smtp_user and"},
           Row{"webhook = \"https://h.example/\"\nretry_min_s = 10\nretry_max_s = 5", "alerts.retry_max_s:"},
           Row{"webhook = \"https://h.example/\"\ntimeout_s = 0",
               "alerts.timeout_s: must be an integer between"},
           Row{"webhook = \"https://h.example/\"\nsmtp_relay = \"x\"", "alerts.smtp_relay: unknown key"},
       }) {
    CAPTURE(r.toml);
    config::Config c;
    util::ConfigErrors errs("t.toml");
    const std::string text = std::string(
                                 "[server]\nlisten = [\"127.0.0.1:5300\"]\n[upstream]\nservers = "
                                 "[\"192.0.2.53\"]\n[alerts]\n") +
                             r.toml + "\n";
    config::load_config_text(text, "t.toml", c, errs);
    std::string all;
    for (const auto& e : errs.list()) all += e.str() + "\n";
    if (*r.want == 0)
      CHECK(all.empty());
    else
      CHECK_MESSAGE(all.find(r.want) != std::string::npos, all);
  }
  config::Config c;
  util::ConfigErrors errs("t.toml");
  config::load_config_text(
      "[server]\nlisten = [\"127.0.0.1:5300\"]\n[upstream]\nservers = [\"192.0.2.53\"]\n"
      "[alerts]\nsmtp = \"smtps://[2001:db8::25]\"\nemail_from = \"h@s.example\"\n"
      "email_to = [\"d@s.example\"]\n",
      "t.toml", c, errs);
  CHECK(errs.list().empty());
  CHECK(c.alerts.smtp_host == "2001:db8::25");
  CHECK(c.alerts.smtp_port == "465");
  CHECK(c.alerts.smtp_implicit_tls);
}

TEST_CASE("alerts: the incident outbox queues each incident once and skips the old ones") {
  test::TempDir tmp;
  const std::string path = tmp.path + "/hedge.db";
  std::string err;
  {
    store::EventStore ev;
    REQUIRE_MESSAGE(ev.open(path, err), err);
    std::vector<store::WrittenEvent> w;
    store::EventRow old{100, "192.0.2.1", "",        "",         "pupils", "old.example",
                        1,   "9",         "illegal", "category", 1,        "child-abuse"};
    REQUIRE_MESSAGE(ev.write({old}, {}, {}, w, err), err);
  }
  store::AlertStore st;
  REQUIRE_MESSAGE(st.open(path, err), err);
  std::vector<alerts::IncidentFacts> seen;
  auto make = [&](const alerts::IncidentFacts& f) {
    seen.push_back(f);
    store::Alert a;
    a.kind = "email";
    a.subject = alerts::incident_text(f, "").subject;
    a.body = alerts::incident_text(f, "").body;
    return std::vector<store::Alert>{a};
  };
  CHECK(st.queue_incidents(200, 300, make, err) == 0);  // the incident from before the start is skipped
  {
    store::EventStore ev;
    REQUIRE(ev.open(path, err));
    std::vector<store::WrittenEvent> w;
    store::EventRow e{250, "192.0.2.7", "laptop-7", "02:00:00:00:00:07", "pupils", "secret-name.example",
                      1,   "9",         "illegal",  "category",          1,        "terrorism"};
    REQUIRE(ev.write({e}, {}, {}, w, err));
  }
  CHECK(st.queue_incidents(200, 300, make, err) == 1);
  CHECK(st.queue_incidents(200, 301, make, err) == 0);  // once only
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].category == "terrorism");
  const auto due = st.console().due_alerts(300);
  REQUIRE(due.size() == 1);
  for (const auto& s : {"secret-name", "192.0.2.7", "laptop-7", "02:00:00:00:00:07"}) {
    CHECK(due[0].subject.find(s) == std::string::npos);
    CHECK(due[0].body.find(s) == std::string::npos);
  }
  st.console().alert_failed(due[0].id, "refused", 310);
  CHECK(st.console().due_alerts(305).empty());
  CHECK(st.console().due_alerts(310).size() == 1);
  // A new connection (a restart) keeps the mark: nothing is queued twice.
  store::AlertStore again;
  REQUIRE(again.open(path, err));
  CHECK(again.queue_incidents(1000, 1000, make, err) == 0);
  // Digest: the first call records the week, the next week queues one.
  auto dmake = [](const alerts::DigestFacts& d) {
    store::Alert a;
    a.kind = "webhook";
    const auto t = alerts::digest_text(d, "");
    a.subject = t.subject;
    a.body = t.body;
    return std::vector<store::Alert>{a};
  };
  CHECK(again.queue_digest(1796190000, dmake, err) == 0);
  CHECK(again.queue_digest(1796190000 + 3600, dmake, err) == 0);
  CHECK(again.queue_digest(1796190000 + 7 * 86400, dmake, err) == 1);
  CHECK(again.queue_digest(1796190000 + 7 * 86400 + 60, dmake, err) == 0);
}
