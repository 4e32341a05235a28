// console/console_app: the safeguarding console's pages and forms, as a
// function from a request to a response (no sockets, no uv_*, no sqlite3_*).
// The console thread (console/console_thread) feeds it requests from the
// HTTPS listener; tests call it directly.
//
// Every request: session from the cookie (idle and absolute expiry), role
// check (403), CSRF token on every POST (403), then the page. Every change
// goes through store::ConsoleStore / ExceptionStore (the same functions and
// audit chain as the CLI) with the logged-in account as the actor.
//
// Storage: `store` runs a job on the store thread and waits for it (the
// console thread may wait; the DNS loop never does). `read_db` is the console
// thread's own read-only connection for reports and event searches
// (docs/decisions/0061), so a long report never holds up the store thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "console/auth.hpp"
#include "policy/timezone.hpp"
#include "store/console_store.hpp"
#include "store/sqlite.hpp"

namespace hedge::console {

struct Request {
  std::string method, path, query;             // path without the query; query without '?'
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string client_ip;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct ConsoleSettings {
  std::string school = "School";
  SessionRules sessions;
  LoginRules logins;
  store::ExceptionRules exception_rules;  // [policy] require_approval, exception_max_days...
  std::vector<std::string> groups;        // configured group names (forms offer these)
  std::string lists_version;              // shown on the dashboard and in reports
};

struct ConsoleDeps {
  std::function<void(const std::function<void(store::ConsoleStore&)>&)>
      store;  // runs on the store thread, waits
  const store::Db* read_db = nullptr;
  std::function<int64_t()> now;
  // "Current decision from the real policy" for a name and group (e.g.
  // "blocked: gambling"); optional.
  std::function<std::string(const std::string& name, const std::string& group)> explain;
  // /health summary line ("ok" or the reason); optional.
  std::function<std::string()> health;
  // Runs the built-in filtering check now, recorded as done by the given
  // account; the summary, or nullopt if the filter did not answer. Optional.
  std::function<std::optional<std::string>(const std::string& by)> run_check;
};

class ConsoleApp {
 public:
  ConsoleApp(ConsoleDeps deps, ConsoleSettings settings, policy::TimeZone tz);
  Response handle(const Request& rq);
  void set_settings(ConsoleSettings s) { m_settings = std::move(s); }

 private:
  struct Ctx;
  Response route(Ctx& c);
  Response login_page(Ctx& c, const std::string& error, int status = 200);
  Response do_login(Ctx& c);
  Response do_logout(Ctx& c);
  Response dashboard(Ctx& c);
  Response reviews(Ctx& c);
  Response decide(Ctx& c);
  Response exceptions(Ctx& c);
  Response exception_action(Ctx& c, bool approve);
  Response incidents(Ctx& c, bool csv);
  Response ack(Ctx& c);
  Response events(Ctx& c, bool csv);
  Response checks(Ctx& c);
  Response add_check(Ctx& c);
  Response run_builtin_check(Ctx& c);
  Response report_site(Ctx& c);
  Response reports(Ctx& c);
  Response report_view(Ctx& c);

  std::string page(const Ctx& c, const std::string& title, const std::string& body) const;
  std::string when(int64_t t) const;

  ConsoleDeps m_deps;
  ConsoleSettings m_settings;
  policy::TimeZone m_tz;
};

// application/x-www-form-urlencoded (also used for query strings).
std::map<std::string, std::string> parse_form(std::string_view s);
// The console's stylesheet (served at /console.css).
const char* console_css() noexcept;

}  // namespace hedge::console
