// web/pages: the people-facing pages of the block-page listener, rendered
// from the language files (resolver/http/text/) and the page template. Pure:
// no clock, no policy, no sockets; every value in a PageInput is plain text
// and is HTML-escaped here, once, so nothing a client sent reaches the page
// unescaped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hedge::web {

enum class PageKind { blocked, illegal, not_blocked, thanks, thanks_limited, report_form, report_thanks };

struct PageInput {
  PageKind kind = PageKind::blocked;
  std::string lang = "en";            // en | cy
  std::string site;                   // the name from the Host header (plain text)
  std::vector<std::string> category;  // display names (already in the page's language)
  std::vector<std::string> category_ids;
  std::string rule;     // 'category' | 'exception' | 'schedule' | 'allowlist' | 'bypass' | 'cname'
  std::string group;    // the client's group (staff small print)
  std::string when;     // "14:05, 2 December 2026" local time
  std::string school;   // [school] name
  std::string contact;  // [school] contact
  std::string form_action = "/_hedge/review";
  std::string self_path = "/";  // for the language switch link
  // report_form: a text key for the error line ("" = none) and what was typed, to fill the form again.
  std::string error_key, what, who;
};

// The address typed into /report ("https://Games.Example.com/x?y", "games.example.com.")
// as a normalised host name; "" when it is not a web address.
std::string report_host(std::string_view typed);

std::string render_page(const PageInput& in);

// "14:05 on Wednesday 2 December 2026" (en) / "14:05 ddydd Mercher 2 Rhagfyr 2026" (cy)
// from local wall-clock seconds (policy::LocalTime::local).
std::string format_when(int64_t local_seconds, const std::string& lang);

}  // namespace hedge::web
