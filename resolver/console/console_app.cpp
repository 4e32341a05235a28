// console/console_app: routes, sessions, CSRF, pages and forms.
#include "console/console_app.hpp"

#include <algorithm>
#include <cstdio>

#include "blocklists/taxonomy.hpp"
#include "dns/name.hpp"
#include "http/message.hpp"
#include "report/report_render.hpp"
#include "report/report_service.hpp"
#include "store/report_store.hpp"
#include "util/crypto.hpp"
#include "util/password.hpp"

namespace hedge::console {

namespace {

using report::escape;

constexpr std::string_view kPreCookie = "hedge_login";  // login-form CSRF (double submit)
constexpr std::size_t kMaxField = 2000;                 // longest text accepted in any form field

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string o;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      o += static_cast<char>(c);
    } else {
      o += '%';
      o += hex[c >> 4];
      o += hex[c & 15];
    }
  }
  return o;
}

std::string sha_hex(std::string_view s) {
  return util::to_hex(util::sha256(s));
}

// Trims, drops control characters and caps the length of a typed field.
std::string clean(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n') continue;
    o += c;
  }
  const auto b = o.find_first_not_of(" \n");
  if (b == std::string::npos) return {};
  o = o.substr(b, o.find_last_not_of(" \n") - b + 1);
  if (o.size() > kMaxField) o.resize(kMaxField);
  return o;
}

Response text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

Response redirect(const std::string& to) {
  Response r;
  r.status = 303;
  r.headers.emplace_back("Location", to);
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = "See " + to + "\n";
  return r;
}

Response html(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  r.body = std::move(body);
  return r;
}

std::string cat_name(const std::string& id) {
  if (const auto* c = lists::find_category(id)) return c->name;
  return id.empty() ? "(none)" : id;
}

bool illegal_category(const std::string& id) {
  const auto* c = lists::find_category(id);
  return c && c->tier == lists::Tier::illegal;
}

std::string csv_row(std::initializer_list<std::string> cells) {
  std::string o;
  bool first = true;
  for (const auto& c : cells) {
    if (!first) o += ',';
    first = false;
    o += report::csv_field(c);
  }
  return o + "\r\n";
}

int64_t to_i64(const std::string& s) {
  if (s.empty() || s.size() > 18) return 0;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

std::map<std::string, std::string> parse_form(std::string_view s) {
  // The shared decoder (http/message); first value of a name wins.
  std::map<std::string, std::string> out;
  for (auto& [k, v] : http::parse_form(s)) out.emplace(std::move(k), std::move(v));
  return out;
}

struct ConsoleApp::Ctx {
  const Request& rq;
  std::map<std::string, std::string> q, form;
  std::optional<store::Session> session;
  int64_t now = 0;
  std::string cookie;  // raw session cookie value
  bool has(Perm p) const { return session && allowed(session->user.role, p); }
  const std::string& user() const { return session->user.name; }
  std::string csrf_field() const {
    return session ? "<input type=\"hidden\" name=\"csrf\" value=\"" + escape(session->csrf) + "\">" : "";
  }
};

ConsoleApp::ConsoleApp(ConsoleDeps deps, ConsoleSettings settings, policy::TimeZone tz)
    : m_deps(std::move(deps)), m_settings(std::move(settings)), m_tz(std::move(tz)) {}

std::string ConsoleApp::when(int64_t t) const {
  if (t == 0) return "-";
  const auto lt = m_tz.local(t);
  int64_t y = 0;
  unsigned m = 0, d = 0;
  policy::civil_from_days((lt.local - lt.sod) / 86400, y, m, d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d", static_cast<long long>(y), m, d, lt.sod / 3600,
                (lt.sod / 60) % 60);
  return buf;
}

Response ConsoleApp::handle(const Request& rq) {
  Ctx c{rq, parse_form(rq.query), {}, std::nullopt, m_deps.now ? m_deps.now() : 0, {}};
  Response r;
  try {
    if (rq.method == "POST") {
      const auto ct = rq.headers.count("content-type") ? rq.headers.at("content-type") : std::string();
      if (!ct.starts_with("application/x-www-form-urlencoded"))
        r = text(415, "Forms must be sent as application/x-www-form-urlencoded.\n");
      else
        c.form = parse_form(rq.body);
    }
    if (r.status == 200) {
      const auto ck = rq.headers.count("cookie") ? rq.headers.at("cookie") : std::string();
      c.cookie = cookie_value(ck, kSessionCookie);
      if (c.cookie.size() == 64) {
        const std::string id = sha_hex(c.cookie);
        std::optional<store::Session> s;
        m_deps.store([&](store::ConsoleStore& st) {
          s = st.session(id);
          if (!s) return;
          if (s->user.disabled ||
              session_state(s->created, s->last_seen, c.now, m_settings.sessions) != SessionState::valid) {
            st.delete_session(id);
            s.reset();
            return;
          }
          st.touch_session(id, c.now);
        });
        c.session = std::move(s);
      }
      r = route(c);
    }
  } catch (const std::exception& e) {
    r = text(500, std::string("The console hit an internal error: ") + e.what() + "\n");
  }
  // Every response: no caching of personal data, no framing, no scripts at all.
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  r.headers.emplace_back("Strict-Transport-Security", "max-age=31536000");
  return r;
}

Response ConsoleApp::route(Ctx& c) {
  const std::string& p = c.rq.path;
  const bool post = c.rq.method == "POST";
  if (c.rq.method != "GET" && c.rq.method != "POST" && c.rq.method != "HEAD")
    return text(405, "Method not allowed.\n");
  if (p == "/console.css") {
    Response r;
    r.headers.emplace_back("Content-Type", "text/css; charset=utf-8");
    r.body = console_css();
    return r;
  }
  if (p == "/login") return post ? do_login(c) : login_page(c, "");
  if (!c.session) {
    if (post) return text(403, "Your session has ended. Log in again.\n");
    return redirect("/login?next=" + url_encode(p));
  }
  // CSRF: every POST from a logged-in page carries the session's token.
  if (post && !util::constant_time_equal(c.form.count("csrf") ? c.form.at("csrf") : "", c.session->csrf))
    return html(403, page(c, "Form expired",
                          "<p>This form has expired or did not come from the console. Go back, "
                          "reload the page and try again.</p>"));
  if (p == "/logout" && post) return do_logout(c);
  if (p == "/" && !post && c.session->user.role == Role::governor) return redirect("/reports");
  struct Route {
    const char* path;
    bool post;
    Perm perm;
    Response (ConsoleApp::*fn)(Ctx&);
  };
  static const Route routes[] = {
      {"/", false, Perm::dashboard, &ConsoleApp::dashboard},
      {"/reviews", false, Perm::review_view, &ConsoleApp::reviews},
      {"/reviews/decide", true, Perm::review_decide, &ConsoleApp::decide},
      {"/exceptions", false, Perm::exception_view, &ConsoleApp::exceptions},
      {"/incidents/ack", true, Perm::incident_ack, &ConsoleApp::ack},
      {"/checks", false, Perm::checks_view, &ConsoleApp::checks},
      {"/checks", true, Perm::checks_record, &ConsoleApp::add_check},
      {"/checks/run", true, Perm::checks_view, &ConsoleApp::run_builtin_check},
      {"/report", false, Perm::dashboard, &ConsoleApp::report_site},
      {"/report", true, Perm::dashboard, &ConsoleApp::report_site},
      {"/reports/view", false, Perm::report_governor, &ConsoleApp::report_view},
  };
  for (const auto& r : routes) {
    if (p != r.path || post != r.post) continue;
    if (!c.has(r.perm))
      return html(403, page(c, "Not allowed", "<p>Your account cannot open this page.</p>"));
    return (this->*r.fn)(c);
  }
  auto guard = [&](Perm perm, auto fn) {
    if (!c.has(perm)) return html(403, page(c, "Not allowed", "<p>Your account cannot open this page.</p>"));
    return fn();
  };
  if (p == "/exceptions/approve" && post)
    return guard(Perm::exception_approve, [&] { return exception_action(c, true); });
  if (p == "/exceptions/revoke" && post)
    return guard(Perm::exception_revoke, [&] { return exception_action(c, false); });
  if (p == "/incidents" && !post) return guard(Perm::incident_view, [&] { return incidents(c, false); });
  if (p == "/incidents.csv" && !post) return guard(Perm::incident_view, [&] { return incidents(c, true); });
  if (p == "/events" && !post) return guard(Perm::events_view, [&] { return events(c, false); });
  if (p == "/events.csv" && !post) return guard(Perm::events_view, [&] { return events(c, true); });
  if (p == "/reports" && !post) return guard(Perm::report_governor, [&] { return reports(c); });
  return html(404, page(c, "Not found", "<p>There is no page here. Use the menu above.</p>"));
}

// ---- layout ------------------------------------------------------------------

std::string ConsoleApp::page(const Ctx& c, const std::string& title, const std::string& body) const {
  std::string o =
      "<!doctype html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" +
      escape(title) +
      " - Hedge console</title>"
      "<link rel=\"stylesheet\" href=\"/console.css\"></head><body>"
      "<a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\"><div class=\"brand\">"
      "Hedge <span>safeguarding console</span></div>";
  if (c.session) {
    struct Item {
      const char* href;
      const char* label;
      Perm perm;
    };
    static const Item items[] = {{"/", "Dashboard", Perm::dashboard},
                                 {"/reviews", "Review queue", Perm::review_view},
                                 {"/exceptions", "Exceptions", Perm::exception_view},
                                 {"/incidents", "Incidents", Perm::incident_view},
                                 {"/events", "Blocked attempts", Perm::events_view},
                                 {"/checks", "Filtering checks", Perm::checks_view},
                                 {"/report", "Report a site", Perm::dashboard},
                                 {"/reports", "Reports", Perm::report_governor}};
    o += "<nav aria-label=\"Main\"><ul>";
    for (const auto& i : items) {
      if (!c.has(i.perm)) continue;
      const bool cur = c.rq.path == i.href;
      o += std::string("<li><a href=\"") + i.href + "\"" + (cur ? " aria-current=\"page\"" : "") + ">" +
           i.label + "</a></li>";
    }
    o += "</ul></nav><form class=\"who\" method=\"post\" action=\"/logout\">" + c.csrf_field() + "<span>" +
         escape(c.session->user.name) + " (" + to_string(c.session->user.role) +
         ")</span> <button type=\"submit\">Log out</button></form>";
  }
  o += "</header><main id=\"main\"><h1>" + escape(title) + "</h1>" + body + "</main></body></html>\n";
  return o;
}

// ---- login -------------------------------------------------------------------

Response ConsoleApp::login_page(Ctx& c, const std::string& error, int status) {
  const std::string pre = util::random_token(16);
  std::string next = c.q.count("next") ? c.q.at("next") : (c.form.count("next") ? c.form.at("next") : "/");
  if (!next.starts_with("/") || next.starts_with("//")) next = "/";  // never an open redirect
  std::string b;
  if (!error.empty()) b += "<p class=\"error\" role=\"alert\">" + escape(error) + "</p>";
  b += "<form class=\"login card\" method=\"post\" action=\"/login\">"
       "<input type=\"hidden\" name=\"csrf\" value=\"" +
       pre +
       "\">"
       "<input type=\"hidden\" name=\"next\" value=\"" +
       escape(next) +
       "\">"
       "<label for=\"user\">Account name</label><input id=\"user\" name=\"user\" autocomplete=\"username\" "
       "required>"
       "<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" "
       "autocomplete=\"current-password\" required>"
       "<button type=\"submit\">Log in</button></form>"
       "<p class=\"hint\">Accounts are made by the technician with <code>hedge user add</code>. "
       "Too many wrong passwords lock the account for 15 minutes.</p>";
  Ctx anon{c.rq, c.q, c.form, std::nullopt, c.now, {}};
  Response r = html(status, page(anon, "Log in", b));
  r.headers.emplace_back("Set-Cookie", std::string(kPreCookie) + "=" + pre +
                                           "; Path=/login; Max-Age=1800; HttpOnly; Secure; SameSite=Strict");
  return r;
}

Response ConsoleApp::do_login(Ctx& c) {
  const auto ck = c.rq.headers.count("cookie") ? c.rq.headers.at("cookie") : std::string();
  const std::string pre = cookie_value(ck, kPreCookie);
  const std::string sent = c.form.count("csrf") ? c.form.at("csrf") : "";
  if (pre.size() != 32 || !util::constant_time_equal(pre, sent))
    return login_page(c, "The login form expired. Please try again.", 403);
  const std::string name = clean(c.form.count("user") ? c.form.at("user") : "");
  const std::string pw = c.form.count("password") ? c.form.at("password") : "";
  const std::string key = store::valid_user_name(name) ? name : "(invalid)";
  std::optional<store::User> user;
  LoginGate gate = LoginGate::open;
  m_deps.store([&](store::ConsoleStore& st) {
    const int64_t since = c.now - m_settings.logins.window_seconds;
    gate = login_gate(st.failures_for_user(key, since), st.failures_for_client(c.rq.client_ip, since),
                      m_settings.logins);
    if (gate == LoginGate::open) user = st.find_user(key);
  });
  if (gate != LoginGate::open) {
    m_deps.store([&](store::ConsoleStore& st) { st.record_login(c.now, key, c.rq.client_ip, false); });
    return login_page(c,
                      gate == LoginGate::account_locked
                          ? "This account is locked for 15 minutes after too many wrong passwords."
                          : "Too many failed logins from this computer. Wait 15 minutes.",
                      429);
  }
  // The slow hash runs here, on the console thread (never the DNS loop);
  // an unknown name costs the same as a wrong password.
  static const std::string dummy = util::hash_password("not a real password");
  const bool ok = util::verify_password(pw, user ? user->pw_hash : dummy) && user && !user->disabled;
  if (!ok) {
    m_deps.store([&](store::ConsoleStore& st) { st.record_login(c.now, key, c.rq.client_ip, false); });
    return login_page(c, "That account name and password do not match, or the account is disabled.", 401);
  }
  // A fresh session id at every login (no fixation); the old one is dropped.
  const std::string token = util::random_token(32);
  store::Session s;
  s.id_hash = sha_hex(token);
  s.user = *user;
  s.csrf = util::random_token(32);
  s.created = s.last_seen = c.now;
  std::string err;
  bool stored = false;
  m_deps.store([&](store::ConsoleStore& st) {
    if (c.cookie.size() == 64) st.delete_session(sha_hex(c.cookie));
    st.record_login(c.now, key, c.rq.client_ip, true);
    stored = st.create_session(s, c.rq.client_ip, err);
  });
  if (!stored) return text(500, "Could not start a session: " + err + "\n");
  std::string next = c.form.count("next") ? c.form.at("next") : "/";
  if (!next.starts_with("/") || next.starts_with("//")) next = "/";
  if (user->role == Role::governor) next = "/reports";
  Response r = redirect(next);
  r.headers.emplace_back("Set-Cookie", session_cookie(token, m_settings.sessions.absolute_seconds));
  r.headers.emplace_back(
      "Set-Cookie", std::string(kPreCookie) + "=; Path=/login; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
  return r;
}

Response ConsoleApp::do_logout(Ctx& c) {
  const std::string id = c.session->id_hash;
  m_deps.store([&](store::ConsoleStore& st) { st.delete_session(id); });
  Response r = redirect("/login");
  r.headers.emplace_back("Set-Cookie", session_cookie("", 0));
  return r;
}

// ---- dashboard -----------------------------------------------------------------

Response ConsoleApp::dashboard(Ctx& c) {
  std::vector<store::ReviewRequest> open;
  std::vector<store::IncidentRecord> inc;
  m_deps.store([&](store::ConsoleStore& st) {
    open = st.reviews("open", 50);
    inc = st.incidents(true, 50);
  });
  const auto lt = m_tz.local(c.now);
  const int64_t today = m_tz.to_unix(lt.local - lt.sod);
  const int64_t week = today - int64_t{6} * 86400;
  std::vector<std::pair<std::string, int64_t>> day, wk;
  if (m_deps.read_db) {
    day = store::blocked_by_category(*m_deps.read_db, today);
    wk = store::blocked_by_category(*m_deps.read_db, week);
  }
  int64_t nday = 0, nweek = 0;
  for (auto& [k, v] : day) nday += v;
  for (auto& [k, v] : wk) nweek += v;
  const std::string health = m_deps.health ? m_deps.health() : "unknown";
  std::string b = "<div class=\"tiles\">";
  auto tile = [&](const std::string& label, const std::string& value, const std::string& href, bool warn) {
    b += "<a class=\"tile" + std::string(warn ? " warn" : "") + "\" href=\"" + href +
         "\"><span class=\"v\">" + escape(value) + "</span><span class=\"l\">" + escape(label) +
         "</span></a>";
  };
  // The tile says how many problems; the reasons themselves are listed under the tiles.
  std::vector<std::string> problems;
  if (health != "ok") {
    std::size_t i = 0;
    while (i < health.size()) {
      const std::size_t j = std::min(health.find('\n', i), health.size());
      if (j > i) problems.push_back(health.substr(i, j - i));
      i = j + 1;
    }
  }
  const bool unknown = health.rfind("unknown", 0) == 0;
  tile("Filter health",
       health == "ok" ? "Working"
       : unknown      ? "Unknown"
                      : std::to_string(problems.size()) + (problems.size() == 1 ? " problem" : " problems"),
       "/", health != "ok");
  tile("Blocked today", std::to_string(nday), "/events", false);
  tile("Blocked in the last 7 days", std::to_string(nweek), "/events", false);
  tile("Open review requests", std::to_string(open.size()), "/reviews", !open.empty());
  tile("Incidents to acknowledge", std::to_string(inc.size()), "/incidents", !inc.empty());
  b += "</div>";
  if (!problems.empty()) {
    b += "<section class=\"card\" aria-labelledby=\"problems\"><h2 id=\"problems\">What needs "
         "attention</h2><ul>";
    for (const auto& p : problems) b += "<li>" + escape(p) + "</li>";
    b += "</ul></section>";
  }
  b += "<p class=\"meta\">Lists in use: " +
       escape(m_settings.lists_version.empty() ? "unknown" : "version " + m_settings.lists_version) + "</p>";
  report::Chart ch;
  ch.title = "Blocked attempts in the last 7 days, by category";
  ch.series = {"blocked"};
  for (const auto& [k, v] : wk) {
    ch.labels.push_back(cat_name(k));
    ch.values.push_back({v});
    ch.suppressed.push_back({false});
  }
  b += "<section class=\"card\"><h2>" + escape(ch.title) + "</h2>";
  if (wk.empty())
    b += "<p>Nothing was blocked in the last 7 days.</p>";
  else {
    b += report::render_svg(ch, 900, 240) +
         "<table><thead><tr><th scope=\"col\">Category</th><th scope=\"col\">Today</th>"
         "<th scope=\"col\">Last 7 days</th></tr></thead><tbody>";
    for (const auto& [k, v] : wk) {
      int64_t t = 0;
      for (const auto& [k2, v2] : day)
        if (k2 == k) t = v2;
      b += "<tr><td>" + escape(cat_name(k)) + "</td><td class=\"n\">" + std::to_string(t) +
           "</td><td class=\"n\">" + std::to_string(v) + "</td></tr>";
    }
    b += "</tbody></table>";
  }
  b += "</section>";
  return html(200, page(c, "Dashboard", b));
}

// ---- review queue ----------------------------------------------------------------

Response ConsoleApp::reviews(Ctx& c) {
  std::vector<store::ReviewRequest> open, done;
  m_deps.store([&](store::ConsoleStore& st) {
    open = st.reviews("open", 200);
    done = st.reviews("", 50);
  });
  const bool can = c.has(Perm::review_decide);
  std::string b =
      "<p>Requests from the block page (&ldquo;please review&rdquo;) and reports of sites that should be "
      "blocked. Unblocking makes a time-limited exception for one group";
  if (m_settings.exception_rules.require_approval) b += ", which a second person must approve";
  b += ".</p>";
  if (open.empty()) b += "<p class=\"ok\">No open requests.</p>";
  std::string groups_opts = "<option value=\"*\">every group</option>";
  for (const auto& g : m_settings.groups) groups_opts += "<option>" + escape(g) + "</option>";
  bool filter_answers = true;  // false after the first question the filter did not answer in time
  for (const auto& r : open) {
    const std::string id = std::to_string(r.id);
    b += "<article class=\"card req\"><h2>" + escape(r.site) + " <small>" +
         (r.kind == "report" ? "reported as unsuitable" : "asked to unblock") +
         "</small></h2><dl>"
         "<dt>When</dt><dd>" +
         escape(when(r.at)) + "</dd><dt>Who</dt><dd>" + escape(r.who.empty() ? "(not given)" : r.who) +
         "</dd><dt>Group</dt><dd>" + escape(r.grp.empty() ? "(unknown)" : r.grp) +
         "</dd><dt>Device</dt><dd>" + escape(r.client_ip) + "</dd><dt>Reason</dt><dd>" +
         escape(r.reason.empty() ? "(none given)" : r.reason) + "</dd>";
    if (m_deps.explain && filter_answers) {
      const std::string now = m_deps.explain(r.site, r.grp);
      // One slow answer is enough: the rest of the page does not wait for more.
      if (now.rfind("unknown (", 0) == 0) filter_answers = false;
      b += "<dt>Filter now</dt><dd>" + escape(now) + "</dd>";
    }
    b += "</dl>";
    if (can) {
      const std::string grp_default = r.grp.empty() ? "*" : r.grp;
      std::string opts = groups_opts;
      const std::string sel = "<option>" + escape(grp_default) + "</option>";
      if (const auto pos = opts.find(sel); pos != std::string::npos)
        opts.replace(pos, sel.size(), "<option selected>" + escape(grp_default) + "</option>");
      b += "<div class=\"actions\">";
      if (r.kind == "report") {
        b += "<form method=\"post\" action=\"/reviews/decide\">" + c.csrf_field() +
             "<input type=\"hidden\" name=\"id\" value=\"" + id +
             "\"><input type=\"hidden\" name=\"action\" value=\"block\">"
             "<label for=\"g" +
             id + "\">Block for</label><select id=\"g" + id + "\" name=\"group\">" + opts +
             "</select><label for=\"bn" + id + "\">Note</label><input id=\"bn" + id +
             "\" name=\"note\" required>"
             "<button type=\"submit\">Block this site</button></form>";
      } else {
        b += "<form method=\"post\" action=\"/reviews/decide\">" + c.csrf_field() +
             "<input type=\"hidden\" name=\"id\" value=\"" + id +
             "\"><input type=\"hidden\" name=\"action\" value=\"grant\">"
             "<label for=\"g" +
             id + "\">Unblock for</label><select id=\"g" + id + "\" name=\"group\">" + opts +
             "</select><label for=\"d" + id + "\">Days (at most " +
             std::to_string(m_settings.exception_rules.max_lifetime / 86400) + ")</label><input id=\"d" + id +
             "\" name=\"days\" type=\"number\" min=\"1\" max=\"" +
             std::to_string(m_settings.exception_rules.max_lifetime / 86400) +
             "\" value=\"1\" required>"
             "<label for=\"n" +
             id + "\">Reason</label><input id=\"n" + id +
             "\" name=\"note\" required>"
             "<button type=\"submit\">Unblock for a time</button></form>";
      }
      b += "<form method=\"post\" action=\"/reviews/decide\">" + c.csrf_field() +
           "<input type=\"hidden\" name=\"id\" value=\"" + id +
           "\"><input type=\"hidden\" name=\"action\" value=\"decline\"><label for=\"dn" + id +
           "\">Note</label><input id=\"dn" + id +
           "\" name=\"note\" required><button type=\"submit\" class=\"secondary\">"
           "Decline</button></form></div>";
    }
    b += "</article>";
  }
  b += "<h2>Recent decisions</h2><table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Site</th>"
       "<th scope=\"col\">Kind</th><th scope=\"col\">Decision</th><th scope=\"col\">By</th><th "
       "scope=\"col\">Note</th>"
       "</tr></thead><tbody>";
  for (const auto& r : done) {
    if (r.status == "open") continue;
    b += "<tr><td>" + escape(when(r.decided_at)) + "</td><td>" + escape(r.site) + "</td><td>" +
         escape(r.kind) + "</td><td>" + escape(r.status) +
         (r.exception_id ? " (exception #" + std::to_string(r.exception_id) + ")" : "") + "</td><td>" +
         escape(r.decided_by) + "</td><td>" + escape(r.decision_note) + "</td></tr>";
  }
  b += "</tbody></table>";
  return html(200, page(c, "Review queue", b));
}

Response ConsoleApp::decide(Ctx& c) {
  const int64_t id = to_i64(c.form["id"]);
  const std::string action = c.form["action"];
  const std::string note = clean(c.form["note"]);
  std::string group = clean(c.form["group"]);
  std::string err;
  bool ok = false;
  if (note.empty())
    err = "A note (the reason) is required.";
  else if (action != "decline" && action != "grant" && action != "block")
    err = "Unknown decision.";
  else if (action != "decline" && group != "*" &&
           std::find(m_settings.groups.begin(), m_settings.groups.end(), group) == m_settings.groups.end())
    err = "Unknown group '" + group + "'.";
  const int64_t days = to_i64(c.form["days"]);
  if (err.empty() && action == "grant" &&
      (days < 1 || days * 86400 > m_settings.exception_rules.max_lifetime))
    err = "An unblock lasts from 1 to " + std::to_string(m_settings.exception_rules.max_lifetime / 86400) +
          " days.";
  int64_t exception_id = 0;
  if (err.empty()) {
    m_deps.store([&](store::ConsoleStore& st) {
      const auto r = st.review(id);
      if (!r) {
        err = "No such request.";
        return;
      }
      if (r->status != "open") {
        err = "This request was already " + r->status + " by " + r->decided_by + ".";
        return;
      }
      std::string status = "declined";
      if (action != "decline") {
        policy::Exception e;
        const auto norm = dns::normalise_name(r->site);
        if (!norm) {
          err = "'" + r->site + "' is not a valid site name.";
          return;
        }
        e.name = norm.name;
        e.group = group;
        e.kind = action == "grant" ? policy::ExceptionKind::allow : policy::ExceptionKind::deny;
        e.requester = c.user();
        e.reason = note + " (review request #" + std::to_string(id) + ")";
        e.expires = action == "grant" ? c.now + days * 86400 : -1;
        if (!st.exceptions().add(e, m_settings.exception_rules, c.now, err)) return;
        exception_id = e.id;
        status = action == "grant" ? "granted" : "blocked";
      }
      ok = st.decide_review(id, status, c.user(), note, exception_id, c.now, err);
    });
  }
  if (!ok)
    return html(400, page(c, "Could not decide",
                          "<p class=\"error\" role=\"alert\">" + escape(err) +
                              "</p><p><a href=\"/reviews\">Back to the queue</a></p>"));
  if (action == "grant" && m_settings.exception_rules.require_approval)
    return redirect("/exceptions?made=" + std::to_string(exception_id));
  return redirect("/reviews");
}

// ---- exceptions -----------------------------------------------------------------

Response ConsoleApp::exceptions(Ctx& c) {
  std::vector<policy::Exception> all;
  m_deps.store([&](store::ConsoleStore& st) { all = st.exceptions().load_all(); });
  std::reverse(all.begin(), all.end());
  const bool ra = m_settings.exception_rules.require_approval;
  std::string b = ra ? "<p>Two-person rule: an unblock takes effect only when a second, different account "
                       "approves it.</p>"
                     : "<p>Exceptions take effect at once.</p>";
  if (c.q.count("made"))
    b += "<p class=\"ok\" role=\"status\">Exception #" + escape(c.q["made"]) +
         " was made and waits for a second person to approve it.</p>";
  if (all.empty()) {
    // An empty table reads as "something failed to load".
    b += "<p>No exceptions yet: every group gets exactly what its lists and schedules say. An unblock "
         "granted from the review queue, or made with <code>hedge exception add</code>, appears here.</p>";
    return html(200, page(c, "Exceptions", b));
  }
  b += "<table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Site</th><th scope=\"col\">Group</th>"
       "<th scope=\"col\">Kind</th><th scope=\"col\">Asked by</th><th scope=\"col\">Why</th><th "
       "scope=\"col\">Approved by"
       "</th><th scope=\"col\">Until</th><th scope=\"col\">State</th><th "
       "scope=\"col\">Action</th></tr></thead><tbody>";
  for (const auto& e : all) {
    const std::string id = std::to_string(e.id);
    std::string state = e.revoked                           ? "revoked by " + e.revoked_by
                        : (e.expires && c.now >= e.expires) ? "expired"
                        : (ra && e.kind == policy::ExceptionKind::allow && !e.approved)
                            ? "waiting for approval"
                            : "active";
    std::string act;
    const bool live = !e.revoked && !(e.expires && c.now >= e.expires);
    if (live && ra && !e.approved && e.kind == policy::ExceptionKind::allow &&
        c.has(Perm::exception_approve) && e.requester != c.user())
      act += "<form method=\"post\" action=\"/exceptions/approve\">" + c.csrf_field() +
             "<input type=\"hidden\" name=\"id\" value=\"" + id +
             "\"><button type=\"submit\">Approve</button></form>";
    else if (live && ra && !e.approved && e.kind == policy::ExceptionKind::allow && e.requester == c.user())
      act += "<span class=\"meta\">needs another person</span>";
    if (live && c.has(Perm::exception_revoke))
      act += "<form method=\"post\" action=\"/exceptions/revoke\">" + c.csrf_field() +
             "<input type=\"hidden\" name=\"id\" value=\"" + id + "\"><label class=\"sr\" for=\"r" + id +
             "\">Reason</label><input id=\"r" + id +
             "\" name=\"reason\" placeholder=\"reason\" required>"
             "<button type=\"submit\" class=\"secondary\">Revoke</button></form>";
    b += "<tr><td>" + id + "</td><td>" + escape(e.name) + "</td><td>" +
         escape(e.group == "*" ? "every group" : e.group) + "</td><td>" + policy::to_string(e.kind) +
         "</td><td>" + escape(e.requester) + "</td><td>" + escape(e.reason) + "</td><td>" +
         escape(e.approver.empty() ? "-" : e.approver) + "</td><td>" +
         escape(e.expires ? when(e.expires) : "no expiry") + "</td><td>" + escape(state) + "</td><td>" + act +
         "</td></tr>";
  }
  b += "</tbody></table>";
  return html(200, page(c, "Exceptions", b));
}

Response ConsoleApp::exception_action(Ctx& c, bool approve) {
  const int64_t id = to_i64(c.form["id"]);
  const std::string reason = clean(c.form["reason"]);
  std::string err;
  bool ok = false;
  m_deps.store([&](store::ConsoleStore& st) {
    ok = approve ? st.exceptions().approve(id, c.user(), c.now, err)
                 : st.exceptions().revoke(id, c.user(), reason, c.now, err);
  });
  if (!ok)
    return html(400, page(c, approve ? "Could not approve" : "Could not revoke",
                          "<p class=\"error\" role=\"alert\">" + escape(err) +
                              "</p><p><a href=\"/exceptions\">Back to exceptions</a></p>"));
  return redirect("/exceptions");
}

// ---- incidents ------------------------------------------------------------------------

Response ConsoleApp::incidents(Ctx& c, bool csv) {
  std::vector<store::IncidentRecord> all;
  m_deps.store([&](store::ConsoleStore& st) { all = st.incidents(false, csv ? 100000 : 300); });
  const bool names = c.has(Perm::illegal_names);
  auto shown_name = [&](const store::IncidentRecord& i) {
    const bool illegal = i.tier == "illegal" || illegal_category(i.category);
    return illegal && !names ? std::string("(hidden: only the DSL sees illegal-tier names)") : i.qname;
  };
  if (csv) {
    std::string o = csv_row({"id", "when", "group", "device", "address", "mac", "category", "tier", "site",
                             "acknowledged_at", "acknowledged_by", "action"});
    for (const auto& i : all)
      o += csv_row({std::to_string(i.id), when(i.at), i.grp, i.device, i.client_ip, i.mac,
                    cat_name(i.category), i.tier, shown_name(i), i.acked_at ? when(i.acked_at) : "",
                    i.acked_by, i.ack_note});
    Response r;
    r.headers.emplace_back("Content-Type", "text/csv; charset=utf-8");
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"hedge-incidents.csv\"");
    r.body = std::move(o);
    return r;
  }
  std::string b =
      "<p>Attempts to reach illegal content and the categories the school asked to be alerted about. "
      "Acknowledge each with what was done; this is part of the safeguarding record. "
      "<a href=\"/incidents.csv\">Download as CSV</a></p>";
  if (all.empty())
    b += "<p class=\"ok\">No incidents recorded.</p>";
  else {
    b += "<table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Group</th><th "
         "scope=\"col\">Device</th>"
         "<th scope=\"col\">Category</th><th scope=\"col\">Site</th><th "
         "scope=\"col\">Acknowledged</th></tr></thead><tbody>";
    for (const auto& i : all) {
      std::string ackc;
      if (i.acked_at)
        ackc = escape(i.acked_by + ", " + when(i.acked_at)) + "<br>" + escape(i.ack_note);
      else if (c.has(Perm::incident_ack))
        ackc = "<form method=\"post\" action=\"/incidents/ack\">" + c.csrf_field() +
               "<input type=\"hidden\" name=\"id\" value=\"" + std::to_string(i.id) + "\"><label for=\"a" +
               std::to_string(i.id) + "\">What was done</label><input id=\"a" + std::to_string(i.id) +
               "\" name=\"note\" required><button type=\"submit\">Acknowledge</button></form>";
      else
        ackc = "<strong>not yet</strong>";
      b += std::string("<tr") + (i.acked_at ? "" : " class=\"open\"") + "><td>" + escape(when(i.at)) +
           "</td><td>" + escape(i.grp) + "</td><td>" +
           escape(i.device.empty() ? i.client_ip : i.device + " (" + i.client_ip + ")") + "</td><td>" +
           escape(cat_name(i.category)) + "</td><td>" + escape(shown_name(i)) + "</td><td>" + ackc +
           "</td></tr>";
    }
    b += "</tbody></table>";
  }
  return html(200, page(c, "Incidents", b));
}

Response ConsoleApp::ack(Ctx& c) {
  const int64_t id = to_i64(c.form["id"]);
  const std::string note = clean(c.form["note"]);
  std::string err;
  bool ok = false;
  m_deps.store([&](store::ConsoleStore& st) { ok = st.ack_incident(id, c.user(), note, c.now, err); });
  if (!ok)
    return html(400, page(c, "Could not acknowledge",
                          "<p class=\"error\" role=\"alert\">" + escape(err) +
                              "</p><p><a href=\"/incidents\">Back</a></p>"));
  return redirect("/incidents");
}

// ---- events ------------------------------------------------------------------------------

Response ConsoleApp::events(Ctx& c, bool csv) {
  store::EventFilter f;
  const auto lt = m_tz.local(c.now);
  const int64_t today = (lt.local - lt.sod) / 86400;
  int64_t fd = today - 6, td = today;
  std::string from = c.q["from"], to = c.q["to"];
  std::string err;
  if (!from.empty() || !to.empty()) {
    if (!report::check_period(from, to, err)) {
      from.clear();
      to.clear();
    } else {
      report::parse_date(from, fd);
      report::parse_date(to, td);
    }
  }
  report::date_range(m_tz, fd, td, f.from, f.to);
  f.grp = clean(c.q["group"]);
  f.device = clean(c.q["device"]);
  f.category = clean(c.q["category"]);
  f.limit = csv ? 1000000 : 500;
  const auto rows =
      m_deps.read_db ? store::query_events(*m_deps.read_db, f) : std::vector<store::BlockedEvent>{};
  const bool names = c.has(Perm::illegal_names);
  auto name_of = [&](const store::BlockedEvent& e) {
    return e.tier == "illegal" && !names ? std::string("(hidden: illegal tier)") : e.qname;
  };
  if (csv) {
    std::string o =
        csv_row({"when", "count", "group", "device", "address", "mac", "site", "categories", "tier", "rule"});
    for (const auto& e : rows)
      o += csv_row({when(e.at), std::to_string(e.count), e.grp, e.device, e.client_ip, e.mac, name_of(e),
                    e.categories, e.tier, e.rule});
    Response r;
    r.headers.emplace_back("Content-Type", "text/csv; charset=utf-8");
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"hedge-blocked-attempts.csv\"");
    r.body = std::move(o);
    return r;
  }
  std::string cats = "<option value=\"\">any</option>";
  for (const auto& t : lists::builtin_taxonomy())
    cats += "<option value=\"" + escape(t.id) + "\"" + (t.id == f.category ? " selected" : "") + ">" +
            escape(t.name) + "</option>";
  std::string groups = "<option value=\"\">any</option>";
  for (const auto& g : m_settings.groups)
    groups += "<option" + std::string(g == f.grp ? " selected" : "") + ">" + escape(g) + "</option>";
  const std::string qs = "from=" + url_encode(report::format_date(fd)) +
                         "&to=" + url_encode(report::format_date(td)) + "&group=" + url_encode(f.grp) +
                         "&device=" + url_encode(f.device) + "&category=" + url_encode(f.category);
  std::string b =
      "<form class=\"filters card\" method=\"get\" action=\"/events\">"
      "<label for=\"from\">From</label><input id=\"from\" name=\"from\" type=\"date\" value=\"" +
      report::format_date(fd) +
      "\"><label for=\"to\">To</label><input id=\"to\" name=\"to\" type=\"date\" value=\"" +
      report::format_date(td) + "\"><label for=\"group\">Group</label><select id=\"group\" name=\"group\">" +
      groups +
      "</select><label for=\"device\">Device or address</label><input id=\"device\" name=\"device\" "
      "value=\"" +
      escape(f.device) +
      "\"><label for=\"category\">Category</label><select id=\"category\" name=\"category\">" + cats +
      "</select><button type=\"submit\">Show</button></form>";
  if (!err.empty()) b += "<p class=\"error\" role=\"alert\">" + escape(err) + " Showing the last 7 days.</p>";
  b += "<p>" + std::to_string(rows.size()) + (rows.size() == 500 ? " (the newest 500)" : "") +
       " rows. <a href=\"/events.csv?" + escape(qs) + "\">Download as CSV</a></p>";
  b += "<table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Times</th><th scope=\"col\">Group</th>"
       "<th scope=\"col\">Device</th><th scope=\"col\">Site</th><th "
       "scope=\"col\">Category</th></tr></thead><tbody>";
  for (const auto& e : rows) {
    std::string cn;
    std::size_t i = 0;
    while (i <= e.categories.size() && !e.categories.empty()) {
      const std::size_t j = std::min(e.categories.find(',', i), e.categories.size());
      cn += (cn.empty() ? "" : ", ") + cat_name(e.categories.substr(i, j - i));
      i = j + 1;
    }
    b += "<tr><td>" + escape(when(e.at)) + "</td><td class=\"n\">" + std::to_string(e.count) + "</td><td>" +
         escape(e.grp) + "</td><td>" +
         escape(e.device.empty() ? e.client_ip : e.device + " (" + e.client_ip + ")") + "</td><td>" +
         escape(name_of(e)) + "</td><td>" + escape(cn.empty() ? e.rule : cn) + "</td></tr>";
  }
  b += "</tbody></table>";
  return html(200, page(c, "Blocked attempts", b));
}

// ---- filtering checks -----------------------------------------------------------------------

Response ConsoleApp::checks(Ctx& c) {
  std::vector<store::Check> all;
  m_deps.store([&](store::ConsoleStore& st) { all = st.checks(200); });
  std::string b =
      "<p>The DfE filtering standard asks for a record of checks: when, who, what was tested, the result "
      "and any action.</p>";
  if (c.q.count("ran"))
    b +=
        "<p class=\"ok\" role=\"status\">The built-in check has run: its result is the newest row below.</p>";
  if (m_deps.run_check)
    b += "<form class=\"card\" method=\"post\" action=\"/checks/run\">" + c.csrf_field() +
         "<h2>Built-in check</h2><p>Hedge asks its own filter, for every group, about one test site in each "
         "category the group blocks, and records which were blocked. It also runs every night and after "
         "every change to the lists or the rules.</p><button type=\"submit\">Run the check "
         "now</button></form>";
  if (c.has(Perm::checks_record))
    b += "<form class=\"card\" method=\"post\" action=\"/checks\">" + c.csrf_field() +
         "<h2>Record a check</h2><label for=\"what\">What was tested (device, group, sites)</label>"
         "<input id=\"what\" name=\"what\" required><label for=\"result\">Result</label><select "
         "id=\"result\" name=\"result\">"
         "<option>as expected</option><option>not as expected</option></select>"
         "<label for=\"action\">Action taken (if any)</label><input id=\"action\" name=\"action\">"
         "<button type=\"submit\">Record</button></form>";
  b += "<table><thead><tr><th scope=\"col\">When</th><th scope=\"col\">By</th><th scope=\"col\">Kind</th>"
       "<th scope=\"col\">What was tested</th><th scope=\"col\">Result</th><th "
       "scope=\"col\">Action</th></tr></thead><tbody>";
  for (const auto& k : all)
    b += "<tr><td>" + escape(when(k.at)) + "</td><td>" + escape(k.by) + "</td><td>" +
         (k.kind == "builtin"  ? std::string("built-in")
          : k.kind == "manual" ? std::string("by hand")
                               : escape(k.kind)) +
         "</td><td>" + escape(k.what) + "</td><td>" + escape(k.result) + "</td><td>" + escape(k.action) +
         "</td></tr>";
  b += "</tbody></table>";
  if (all.empty()) b += "<p>No checks recorded yet.</p>";
  return html(200, page(c, "Filtering checks", b));
}

Response ConsoleApp::run_builtin_check(Ctx& c) {
  const auto summary = m_deps.run_check ? m_deps.run_check(c.user()) : std::nullopt;
  if (!summary)
    return html(503,
                page(c, "Filtering checks",
                     "<p class=\"error\" role=\"alert\">The filter did not answer: the check did not run. "
                     "Try again in a minute; if it keeps failing, tell the technician.</p>"
                     "<p><a href=\"/checks\">Back to filtering checks</a></p>"));
  return redirect("/checks?ran=1");
}

Response ConsoleApp::add_check(Ctx& c) {
  store::Check k;
  k.at = c.now;
  k.by = c.user();
  k.kind = "manual";
  k.what = clean(c.form["what"]);
  k.result = c.form["result"] == "not as expected" ? "not as expected" : "as expected";
  k.action = clean(c.form["action"]);
  std::string err;
  bool ok = false;
  m_deps.store([&](store::ConsoleStore& st) { ok = st.add_check(k, err); });
  if (!ok)
    return html(400,
                page(c, "Could not record", "<p class=\"error\" role=\"alert\">" + escape(err) + "</p>"));
  return redirect("/checks");
}

// ---- report an unsuitable site (console form) -------------------------------------------

Response ConsoleApp::report_site(Ctx& c) {
  std::string msg;
  if (c.rq.method == "POST") {
    const std::string site = clean(c.form["site"]);
    std::string host = site;
    if (const auto p = host.find("://"); p != std::string::npos) host = host.substr(p + 3);
    host = host.substr(0, host.find_first_of("/?#:"));
    const auto norm = dns::normalise_name(host);
    if (!norm || norm.name.empty()) {
      msg = "<p class=\"error\" role=\"alert\">'" + escape(site) + "' is not a web address.</p>";
    } else {
      store::ReviewRequest r;
      r.at = c.now;
      r.kind = "report";
      r.site = norm.name;
      r.client_ip = c.rq.client_ip;
      r.who = c.user();
      r.reason = clean(c.form["what"]);
      std::string err;
      bool ok = false;
      m_deps.store([&](store::ConsoleStore& st) { ok = st.add_review(r, err); });
      msg = ok ? "<p class=\"ok\" role=\"status\">Thank you. The report is in the review queue.</p>"
               : "<p class=\"error\" role=\"alert\">" + escape(err) + "</p>";
    }
  }
  std::string b = msg +
                  "<p>Found a site that is not blocked but should be? Tell the safeguarding lead here.</p>"
                  "<form class=\"card\" method=\"post\" action=\"/report\">" +
                  c.csrf_field() +
                  "<label for=\"site\">Web address</label><input id=\"site\" name=\"site\" required "
                  "placeholder=\"www.example.com\"><label for=\"what\">What is wrong with it</label>"
                  "<textarea id=\"what\" name=\"what\" rows=\"3\"></textarea><button type=\"submit\">Send "
                  "the report</button></form>";
  return html(200, page(c, "Report an unsuitable site", b));
}

// ---- reports -----------------------------------------------------------------------------

Response ConsoleApp::reports(Ctx& c) {
  const auto lt = m_tz.local(c.now);
  const int64_t today = (lt.local - lt.sod) / 86400;
  const std::string from = report::format_date(today - 29), to = report::format_date(today);
  std::string b =
      "<p>Choose a period. The report opens as a page you can print (use <em>Print, Save as PDF</em>) or "
      "download as CSV. The same reports come from <code>hedge report</code> on the box.</p>";
  auto form = [&](const char* kind, const char* title, const char* what) {
    b += std::string("<form class=\"card\" method=\"get\" action=\"/reports/view\"><h2>") + title +
         "</h2><p>" + what + "</p><input type=\"hidden\" name=\"kind\" value=\"" + kind +
         "\"><label for=\"f" + kind + "\">From</label><input id=\"f" + kind +
         "\" name=\"from\" type=\"date\" value=\"" + from + "\" required><label for=\"t" + kind +
         "\">To</label><input id=\"t" + kind + "\" name=\"to\" type=\"date\" value=\"" + to +
         "\" required><label for=\"fmt" + kind + "\">Format</label><select id=\"fmt" + kind +
         "\" name=\"format\"><option value=\"html\">Page (print to PDF)</option><option "
         "value=\"csv\">CSV</option></select>"
         "<button type=\"submit\">Make the report</button></form>";
  };
  if (c.has(Perm::report_safeguarding))
    form("safeguarding", "Safeguarding report",
         "For the DSL: attempts by day and category, top blocked sites, groups and devices, incidents and "
         "actions, "
         "review requests, exceptions, list updates and checks.");
  form("governor", "Governor report",
       "For governors: the same period with no names, devices or addresses; counts under 5 are shown as "
       "&lt;5.");
  return html(200, page(c, "Reports", b));
}

Response ConsoleApp::report_view(Ctx& c) {
  report::ReportRequest rq;
  if (!report::parse_kind(c.q["kind"], rq.kind))
    return html(400, page(c, "Report", "<p class=\"error\">Unknown report.</p>"));
  if (rq.kind == report::Kind::safeguarding && !c.has(Perm::report_safeguarding))
    return html(403, page(c, "Not allowed", "<p>Your account cannot open this report.</p>"));
  rq.from = c.q["from"];
  rq.to = c.q["to"];
  rq.format = c.q["format"] == "csv" ? report::Format::csv : report::Format::html;
  rq.school = m_settings.school;
  rq.lists_version = m_settings.lists_version;
  rq.html.back_link = "/reports";
  rq.html.csv_link = "/reports/view?kind=" + url_encode(c.q["kind"]) + "&from=" + url_encode(rq.from) +
                     "&to=" + url_encode(rq.to) + "&format=csv";
  std::string out, err;
  if (!m_deps.read_db) return text(503, "The store is not available.\n");
  if (!report::make_report(*m_deps.read_db, m_tz, rq, c.now, out, err))
    return html(400, page(c, "Report",
                          "<p class=\"error\" role=\"alert\">" + escape(err) +
                              "</p><p><a href=\"/reports\">Back</a></p>"));
  Response r;
  if (rq.format == report::Format::csv) {
    r.headers.emplace_back("Content-Type", "text/csv; charset=utf-8");
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"hedge-" + c.q["kind"] + "-" +
                                                      rq.from + "-" + rq.to + ".csv\"");
  } else {
    r.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  }
  r.body = std::move(out);
  return r;
}

const char* console_css() noexcept {
  return R"(:root{--ink:#1b1b1b;--muted:#555;--line:#c8c8c8;--accent:#0b5394;--warn:#8a1c00;--ok:#1d6b2a;--bg:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;font-family:"DejaVu Sans",Verdana,Arial,sans-serif;color:var(--ink);background:var(--bg);line-height:1.45}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}
header.top{background:var(--accent);color:#fff;display:flex;flex-wrap:wrap;align-items:center;gap:8px 24px;padding:8px 24px}
.brand{font-weight:bold;font-size:1.2rem}.brand span{font-weight:normal;opacity:.9}
header nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:4px 16px}
header nav a{color:#fff;text-decoration:none;padding:4px 0;border-bottom:2px solid transparent}
header nav a[aria-current=page],header nav a:hover,header nav a:focus{border-bottom-color:#fff}
form.who{margin-left:auto;display:flex;gap:8px;align-items:center}
form.who button{background:#fff;color:var(--accent)}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
h1{font-size:1.5rem;margin:8px 0 16px}h2{font-size:1.1rem;margin:16px 0 8px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:0 0 16px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:12px;margin-bottom:16px}
.tile{display:block;background:#fff;border:1px solid var(--line);border-left:6px solid var(--ok);border-radius:6px;padding:12px;color:var(--ink);text-decoration:none}
.tile.warn{border-left-color:var(--warn)}
.tile .v{display:block;font-size:1.6rem;font-weight:bold}.tile .l{color:var(--muted)}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem;margin-bottom:16px}
th,td{border:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#eef1f4}td.n{text-align:right}
tr.open td{background:#fff6f3}
label{display:block;font-weight:bold;margin:8px 0 2px}
input,select,textarea{font:inherit;padding:6px;border:1px solid #767676;border-radius:4px;max-width:100%}
input:focus,select:focus,textarea:focus,button:focus,a:focus{outline:3px solid #ffbf47;outline-offset:1px}
button{font:inherit;background:var(--accent);color:#fff;border:0;border-radius:4px;padding:6px 14px;margin-top:8px;cursor:pointer}
button.secondary{background:#fff;color:var(--ink);border:1px solid #767676}
.actions{display:flex;flex-wrap:wrap;gap:16px}.actions form{flex:1 1 320px;background:var(--bg);padding:8px;border-radius:4px}
.actions label,.filters label{display:inline-block;margin:4px 6px 0 10px}
td form{display:flex;flex-wrap:wrap;gap:4px;align-items:center;margin:2px 0}td form label{display:inline;margin:0}
td form button{margin-top:0}
form.filters{display:flex;flex-wrap:wrap;gap:4px 8px;align-items:center}form.filters button{margin-top:0}
form.login{max-width:380px}form.login input{width:100%}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 8px}dt{font-weight:bold;color:var(--muted)}dd{margin:0}
.req h2 small{font-weight:normal;color:var(--muted)}
.error{color:var(--warn);font-weight:bold}.ok{color:var(--ok);font-weight:bold}.meta,.hint{color:var(--muted)}
.sr{position:absolute;left:-999px}
svg{max-width:100%;height:auto}
@media print{header.top,form,.skip{display:none}body{background:#fff}}
)";
}

}  // namespace hedge::console
