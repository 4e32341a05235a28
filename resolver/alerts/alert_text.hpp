// alerts/alert_text: what an alert says and when it is retried. Pure
// functions, no I/O (tested with tables in tests/unit/test_alerts.cpp).
//
// Minimum personal data: an incident alert carries the category, the tier,
// the group, the time and the incident id, never the name that was asked
// for, the client address, the device or the MAC (the DSL reads those in
// the console). The digest carries counts only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hedge::alerts {

struct IncidentFacts {
  int64_t id = 0, at = 0;
  std::string category, tier, grp;
};

struct DigestFacts {
  int64_t from = 0, to = 0;                                  // [from, to) UTC seconds
  std::vector<std::pair<std::string, int64_t>> by_category;  // blocked attempts per category id
  int64_t incidents = 0, illegal_incidents = 0, open_incidents = 0, open_reviews = 0;
};

struct AlertText {
  std::string subject, body;  // body: plain text, lines separated by '\n'
};

AlertText incident_text(const IncidentFacts& f, std::string_view school);
AlertText digest_text(const DigestFacts& f, std::string_view school);

// Seconds before attempt number `attempts + 1`, after `attempts` failures
// (>= 1): min_s doubling per failure, capped at max_s, then "equal jitter"
// (half fixed, half random; jitter01 in [0, 1)) so many boxes that lost the
// same relay do not retry in step. Never below 1 s, never above max_s.
int64_t retry_delay_s(int attempts, int64_t min_s, int64_t max_s, double jitter01) noexcept;

// The start (UTC seconds) of the ISO week (Monday 00:00 UTC) holding t.
int64_t week_start(int64_t t) noexcept;

// RFC 5322 date ("Wed, 02 Dec 2026 05:30:00 +0000"), independent of locale.
std::string rfc5322_date(int64_t t);

// A whole message (CRLF line ends, headers then body) ready for DATA, before
// dot-stuffing. The subject is ASCII (sanitised: no CR/LF can reach a header).
std::string compose_mail(const std::string& from, const std::vector<std::string>& to, const AlertText& t,
                         int64_t date, const std::string& message_id);
// SMTP transparency (RFC 5321 4.5.2): a line starting with '.' gets one more.
std::string dot_stuff(std::string_view msg);
std::string base64(std::string_view in);

// The webhook body: {"title", "summary", "text"}; Slack reads "text", Teams'
// incoming webhooks read "title"/"summary"/"text".
std::string webhook_json(const AlertText& t);

}  // namespace hedge::alerts
