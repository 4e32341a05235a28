// web/pages: HTML for the block page, the neutral page, the not-blocked page
// and the review form's thank-you page.
#include "web/pages.hpp"

#include <ctime>

#include "dns/name.hpp"
#include "http/message.hpp"
#include "http/text.hpp"

namespace hedge::web {

using http::html_escape;

namespace {

std::string p(std::string_view text, std::string_view cls = {}) {
  std::string s = cls.empty() ? "<p>" : "<p class=\"" + std::string(cls) + "\">";
  return s + html_escape(text) + "</p>\n";
}

std::string site_line(const PageInput& in, const http::Texts& t) {
  const std::string site = in.site.empty() ? std::string(t["unknown_site"]) : in.site;
  return "<p><span class=\"site\">" + html_escape(site) + "</span></p>\n";
}

std::string lang_link(const PageInput& in, const http::Texts& t) {
  // The other language, same page (GET pages only; the form keeps the page language).
  std::string path = in.self_path.empty() ? "/" : in.self_path;
  return "<a class=\"lang\" href=\"" + html_escape(path + "?lang=" + std::string(t["other_lang_code"])) +
         "\" hreflang=\"" + html_escape(t["other_lang_code"]) + "\">" + html_escape(t["other_lang_name"]) +
         "</a>\n";
}

std::string facts(const PageInput& in, const http::Texts& t) {
  std::string s = "<dl class=\"facts\">\n";
  s += "<dt>" + html_escape(t["when_label"]) + "</dt><dd>" + html_escape(in.when) + "</dd>\n";
  s += "<dt>" + html_escape(t["school_label"]) + "</dt><dd>" + html_escape(in.school) + "</dd>\n";
  s += "<dt>" + html_escape(t["contact_label"]) + "</dt><dd>" + html_escape(in.contact) + "</dd>\n";
  return s + "</dl>\n";
}

std::string report_link(const http::Texts& t) {
  return "<p class=\"report\"><a href=\"/report\">" + html_escape(t["report_link"]) + "</a></p>\n";
}

std::string blocked_body(const PageInput& in, const http::Texts& t) {
  std::string b = lang_link(in, t);
  b += "<div class=\"sign stop\" aria-hidden=\"true\"></div>\n";
  b += "<h1>" + html_escape(t["blocked_heading"]) + "</h1>\n";
  b += p(t["blocked_site"]) + site_line(in, t);
  if (!in.category.empty()) {
    b += p(t["blocked_because"]);
    std::string cats;
    for (const auto& c : in.category) cats += (cats.empty() ? "" : ", ") + c;
    b += "<p class=\"cat\">" + html_escape(cats) + "</p>\n";
  } else {
    b += p(std::string(t["staff_rule"]) + " " + std::string(t["rule_" + in.rule]));
  }
  b += p(t["blocked_ok"], "calm");
  b += "<h2>" + html_escape(t["next_heading"]) + "</h2>\n<ul class=\"steps\">\n";
  b += "<li>" + html_escape(t["next_back"]) + "</li>\n";
  b += "<li>" + html_escape(t["next_ask"]) + "</li>\n</ul>\n";
  b += facts(in, t);
  b += "<h2>" + html_escape(t["form_heading"]) + "</h2>\n" + p(t["form_intro"]);
  b += "<form method=\"post\" action=\"" + html_escape(in.form_action) + "\">\n";
  b += "<input type=\"hidden\" name=\"site\" value=\"" + html_escape(in.site) + "\">\n";
  b += "<input type=\"hidden\" name=\"lang\" value=\"" + html_escape(in.lang) + "\">\n";
  b += "<label for=\"who\">" + html_escape(t["form_who"]) + "</label>\n";
  b += "<input id=\"who\" name=\"who\" maxlength=\"80\" autocomplete=\"off\">\n";
  b += "<label for=\"reason\">" + html_escape(t["form_reason"]) + "</label>\n";
  b += "<textarea id=\"reason\" name=\"reason\" rows=\"3\" maxlength=\"500\"></textarea>\n";
  b += "<button type=\"submit\">" + html_escape(t["form_send"]) + "</button>\n</form>\n";
  b += report_link(t);
  b += "<div class=\"staff\"><h2>" + html_escape(t["staff_heading"]) + "</h2>\n";
  b += html_escape(t["staff_group"]) + " " + html_escape(in.group) + " &middot; " +
       html_escape(t["staff_rule"]) + " " + html_escape(t["rule_" + in.rule]);
  if (!in.category_ids.empty()) {
    std::string ids;
    for (const auto& c : in.category_ids) ids += (ids.empty() ? "" : ", ") + c;
    b += " &middot; " + html_escape(t["staff_categories"]) + " " + html_escape(ids);
  }
  return b + "</div>\n";
}

std::string report_form_body(const PageInput& in, const http::Texts& t) {
  std::string b = lang_link(in, t);
  b += "<div class=\"sign ask\" aria-hidden=\"true\">!</div>\n";
  b += "<h1 class=\"ok\">" + html_escape(t["report_heading"]) + "</h1>\n";
  b += p(t["report_intro"]) + p(t["report_ok"], "calm");
  if (!in.error_key.empty())
    b += "<p class=\"error\" role=\"alert\">" + html_escape(t[in.error_key]) + "</p>\n";
  b += "<form method=\"post\" action=\"/report\">\n";
  b += "<input type=\"hidden\" name=\"lang\" value=\"" + html_escape(in.lang) + "\">\n";
  b += "<label for=\"site\">" + html_escape(t["report_site"]) + "</label>\n";
  b += "<input id=\"site\" name=\"site\" maxlength=\"300\" required autocomplete=\"off\" "
       "inputmode=\"url\" aria-describedby=\"site-hint\" value=\"" +
       html_escape(in.site) + "\">\n";
  b += "<p class=\"hint\" id=\"site-hint\">" + html_escape(t["report_site_hint"]) + "</p>\n";
  b += "<label for=\"what\">" + html_escape(t["report_what"]) + "</label>\n";
  b += "<textarea id=\"what\" name=\"what\" rows=\"3\" maxlength=\"500\">" + html_escape(in.what) +
       "</textarea>\n";
  b += "<label for=\"who\">" + html_escape(t["report_who"]) + "</label>\n";
  b += "<input id=\"who\" name=\"who\" maxlength=\"80\" autocomplete=\"off\" value=\"" + html_escape(in.who) +
       "\">\n";
  b += "<button type=\"submit\">" + html_escape(t["form_send"]) + "</button>\n</form>\n";
  b += facts(in, t);
  return b;
}

std::string report_thanks_body(const PageInput& in, const http::Texts& t) {
  std::string b = "<div class=\"sign\" aria-hidden=\"true\">&#x2709;&#xFE0F;</div>\n";
  b += "<h1 class=\"ok\">" + html_escape(t["report_thanks_heading"]) + "</h1>\n";
  b += p(t["report_thanks_body"]) + site_line(in, t);
  b += p(t["thanks_next"], "calm");
  b += "<dl class=\"facts\">\n<dt>" + html_escape(t["contact_label"]) + "</dt><dd>" +
       html_escape(in.contact) + "</dd>\n</dl>\n";
  return b;
}

std::string illegal_body(const PageInput& in, const http::Texts& t) {
  // Neutral: no category, no list, no form, no site name (nothing to search for).
  std::string b = lang_link(in, t);
  b += "<h1>" + html_escape(t["illegal_heading"]) + "</h1>\n";
  b += p(t["illegal_body"]);
  b += p(t["illegal_next"], "calm");
  b += "<dl class=\"facts\">\n<dt>" + html_escape(t["school_label"]) + "</dt><dd>" + html_escape(in.school) +
       "</dd>\n<dt>" + html_escape(t["contact_label"]) + "</dt><dd>" + html_escape(in.contact) +
       "</dd>\n</dl>\n";
  return b;
}

std::string not_blocked_body(const PageInput& in, const http::Texts& t) {
  std::string b = lang_link(in, t);
  b += "<div class=\"sign ok\" aria-hidden=\"true\">&#x2713;</div>\n";
  b += "<h1 class=\"ok\">" + html_escape(t["notblocked_heading"]) + "</h1>\n";
  b += p(t["notblocked_body"]) + site_line(in, t);
  b += p(t["notblocked_next"], "calm");
  b += report_link(t);
  return b;
}

std::string thanks_body(const PageInput& in, const http::Texts& t, bool limited) {
  std::string b;
  b += "<div class=\"sign\" aria-hidden=\"true\">&#x2709;&#xFE0F;</div>\n";
  if (limited) {
    b += "<h1>" + html_escape(t["thanks_title"]) + "</h1>\n" + p(t["thanks_limit"], "calm");
  } else {
    b += "<h1 class=\"ok\">" + html_escape(t["thanks_heading"]) + "</h1>\n";
    b += p(t["thanks_body"]) + site_line(in, t);
    b += p(t["thanks_next"], "calm");
  }
  b += "<dl class=\"facts\">\n<dt>" + html_escape(t["contact_label"]) + "</dt><dd>" +
       html_escape(in.contact) + "</dd>\n</dl>\n";
  return b;
}

}  // namespace

std::string render_page(const PageInput& in) {
  const http::Texts& t = http::Texts::get(in.lang);
  std::string title, body;
  switch (in.kind) {
    case PageKind::blocked:
      title = t["blocked_title"];
      body = blocked_body(in, t);
      break;
    case PageKind::illegal:
      title = t["illegal_title"];
      body = illegal_body(in, t);
      break;
    case PageKind::not_blocked:
      title = t["notblocked_title"];
      body = not_blocked_body(in, t);
      break;
    case PageKind::report_form:
      title = t["report_title"];
      body = report_form_body(in, t);
      break;
    case PageKind::report_thanks:
      title = t["thanks_title"];
      body = report_thanks_body(in, t);
      break;
    case PageKind::thanks:
    case PageKind::thanks_limited:
      title = t["thanks_title"];
      body = thanks_body(in, t, in.kind == PageKind::thanks_limited);
      break;
  }
  return http::fill(http::embedded_file("page.html"),
                    {{"lang", html_escape(t["html_lang"])}, {"title", html_escape(title)}, {"body", body}});
}

std::string report_host(std::string_view typed) {
  std::string host(typed.substr(0, 300));
  while (!host.empty() && (host.front() == ' ' || host.front() == '\t')) host.erase(0, 1);
  if (const auto p = host.find("://"); p != std::string::npos) host = host.substr(p + 3);
  host = host.substr(0, host.find_first_of("/?# \t\r\n"));
  if (const auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);  // user@host
  if (const auto colon = host.find(':'); colon != std::string::npos) host.resize(colon);
  const auto norm = dns::normalise_name(host);
  if (!norm || norm.name.empty() || norm.name.find('.') == std::string::npos) return {};
  return norm.name;
}

std::string format_when(int64_t local_seconds, const std::string& lang) {
  static const char* const en_days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
  static const char* const cy_days[] = {"ddydd Sul", "ddydd Llun",   "ddydd Mawrth", "ddydd Mercher",
                                        "ddydd Iau", "ddydd Gwener", "ddydd Sadwrn"};
  static const char* const en_months[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
  static const char* const cy_months[] = {"Ionawr", "Chwefror", "Mawrth",     "Ebrill",
                                          "Mai",    "Mehefin",  "Gorffennaf", "Awst",
                                          "Medi",   "Hydref",   "Tachwedd",   "Rhagfyr"};
  const std::time_t t = static_cast<std::time_t>(local_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  const bool cy = lang == "cy";
  std::snprintf(buf, sizeof buf, "%02d:%02d %s %s %d %s %d", tm.tm_hour, tm.tm_min, cy ? "ar" : "on",
                (cy ? cy_days : en_days)[tm.tm_wday % 7], tm.tm_mday,
                (cy ? cy_months : en_months)[tm.tm_mon % 12], tm.tm_year + 1900);
  return buf;
}

}  // namespace hedge::web
