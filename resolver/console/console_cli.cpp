// console/console_cli: `hedge user ...` (console accounts) and `hedge report
// ...` (the same reports as the console's page, for cron, email and the
// school's records). Both open the [store] path database directly: they run
// outside `hedge serve`, like `hedge exception`.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cli.hpp"
#include "config/config.hpp"
#include "console/auth.hpp"
#include "policy/policy_config.hpp"
#include "report/report_service.hpp"
#include "store/console_store.hpp"
#include "util/password.hpp"

namespace hedge::cli {

namespace {

constexpr const char* kDefaultConfig = "/etc/hedge/hedge.toml";
constexpr std::size_t kMinPassword = 10;

struct Opts {
  std::vector<std::string> pos;
  std::map<std::string, std::string> kv;
  std::string error;
  std::string get(const std::string& k, const std::string& d = {}) const {
    const auto it = kv.find(k);
    return it == kv.end() ? d : it->second;
  }
};

Opts parse(int argc, char** argv, int first, std::initializer_list<const char*> valued) {
  Opts o;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (!a.starts_with("--")) {
      o.pos.push_back(a);
      continue;
    }
    std::string key = a.substr(2), val;
    const auto eq = key.find('=');
    bool known = false;
    const std::string bare = eq == std::string::npos ? key : key.substr(0, eq);
    for (const char* v : valued) known = known || bare == v;
    if (!known) {
      o.error = "unknown option --" + bare;
      return o;
    }
    if (eq != std::string::npos) {
      o.kv[bare] = key.substr(eq + 1);
    } else if (i + 1 < argc) {
      o.kv[bare] = argv[++i];
    } else {
      o.error = "--" + bare + " needs a value";
      return o;
    }
  }
  return o;
}

int64_t now_s() {
  if (const char* f = std::getenv("HEDGE_FAKE_NOW"); f && *f) return std::strtoll(f, nullptr, 10);
  return static_cast<int64_t>(std::time(nullptr));
}

// Who ran the command, for the audit log ("cli:alice").
std::string cli_actor() {
  if (const char* s = std::getenv("SUDO_USER"); s && *s) return std::string("cli:") + s;
  if (const passwd* pw = getpwuid(getuid())) return std::string("cli:") + pw->pw_name;
  return "cli";
}

struct Cfg {
  policy::PolicyConfig policy;
  std::string school = "School";
  bool ok = false;
};

// The same loader as `hedge serve` (like `hedge exception`): the CLI needs
// no upstream, so only a missing resolv.conf nameserver is tolerated.
Cfg load_cfg(const std::string& path) {
  Cfg c;
  config::Config cfg;
  util::ConfigErrors errs(path);
  config::load_config(path, cfg, errs);
  bool ok = true;
  for (const auto& e : errs.list()) {
    if (e.key == "upstream.servers" && e.line == 0) continue;
    std::fprintf(stderr, "%s\n", e.str().c_str());
    ok = false;
  }
  c.policy = std::move(cfg.policy);
  c.ok = ok;
  return c;
}

bool read_password_file(const std::string& path, std::string& pw, std::string& err) {
  std::ifstream f(path);
  if (!f) {
    err = path + ": cannot read";
    return false;
  }
  std::getline(f, pw);
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  return true;
}

bool ask_password(std::string& pw, std::string& err, bool confirm = true) {
  if (!isatty(STDIN_FILENO)) {
    err = "no terminal to ask for the password: use --password-file FILE";
    return false;
  }
  auto ask = [](const char* prompt) {
    std::fprintf(stderr, "%s", prompt);
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::string s;
    for (int ch = std::getchar(); ch != EOF && ch != '\n'; ch = std::getchar()) s += static_cast<char>(ch);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
    return s;
  };
  pw = ask("Password: ");
  if (confirm && ask("Again: ") != pw) {
    err = "the two passwords differ";
    return false;
  }
  return true;
}

bool check_password(const std::string& pw, std::string& err) {
  if (pw.size() < kMinPassword) {
    err = "a console password needs at least " + std::to_string(kMinPassword) + " characters";
    return false;
  }
  return true;
}

// A password that is easy to read out and type: four groups of five letters/digits.
std::string generate_password() {
  static const char kAlphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
  std::string t = util::random_token(20), pw;
  for (std::size_t i = 0; i < 20 && i * 2 + 1 < t.size(); ++i) {
    if (i && i % 5 == 0) pw += '-';
    const unsigned v = static_cast<unsigned>(std::strtoul(t.substr(i * 2, 2).c_str(), nullptr, 16));
    pw += kAlphabet[v % (sizeof kAlphabet - 1)];
  }
  return pw;
}

int user_usage() {
  std::fprintf(
      stderr,
      "usage: hedge user add NAME --role technician|dsl|viewer|governor [--password-file FILE]\n"
      "       hedge user first NAME --role ROLE --password-out FILE   (only when no account exists)\n"
      "       hedge user list | disable NAME | enable NAME | passwd NAME [--password-file FILE]\n"
      "       (all take --config FILE, default %s)\n",
      kDefaultConfig);
  return 2;
}

}  // namespace

int64_t console_account_count(const std::string& store_path) {
  struct stat sb {};
  if (::stat(store_path.c_str(), &sb) != 0) return 0;  // no store yet: no accounts (and do not create one)
  store::ConsoleStore st;
  std::string err;
  if (!st.open(store_path, err)) return -1;
  return st.user_count();
}

bool authenticate_account(const std::string& store_path, const std::string& name,
                          const std::string& password_file, int64_t now, console::Perm need,
                          std::string& err) {
  store::ConsoleStore st;
  if (!st.open(store_path, err)) return false;
  if (!store::valid_user_name(name)) {
    err = "'" + name + "' is not a console account name";
    return false;
  }
  // The console's lockout applies here too; the "client" is the Unix account
  // at the terminal (cli:root), so one person's typos do not lock out another's.
  const std::string client = cli_actor();
  const console::LoginRules rules;
  const int64_t since = now - rules.window_seconds;
  const auto gate =
      console::login_gate(st.failures_for_user(name, since), st.failures_for_client(client, since), rules);
  if (gate != console::LoginGate::open) {
    st.record_login(now, name, client, false);
    err = gate == console::LoginGate::account_locked
              ? "the account '" + name + "' is locked for 15 minutes after too many wrong passwords"
              : "too many wrong passwords from " + client + ": wait 15 minutes";
    return false;
  }
  const auto user = st.find_user(name);
  if (!user) {
    err = "no console account '" + name + "' (hedge user list; hedge user add NAME --role dsl)";
    return false;
  }
  if (user->disabled) {
    err = "the console account '" + name + "' is disabled";
    return false;
  }
  if (!console::allowed(user->role, need)) {
    err = "the console account '" + name + "' (" + console::to_string(user->role) + ") may not do this";
    return false;
  }
  std::string pw;
  if (!(password_file.empty() ? ask_password(pw, err, false) : read_password_file(password_file, pw, err)))
    return false;
  const bool ok = util::verify_password(pw, user->pw_hash);
  st.record_login(now, name, client, ok);
  if (!ok) {
    err = "wrong password for the console account '" + name + "'";
    return false;
  }
  return true;
}

int user(int argc, char** argv) {
  if (argc < 2) return user_usage();
  const std::string verb = argv[1];
  const Opts o = parse(argc, argv, 2, {"config", "role", "password-file", "password-out"});
  if (!o.error.empty()) {
    std::fprintf(stderr, "hedge user: %s\n", o.error.c_str());
    return 2;
  }
  const Cfg cfg = load_cfg(o.get("config", kDefaultConfig));
  if (!cfg.ok) return 1;
  store::ConsoleStore st;
  std::string err;
  if (!st.open(cfg.policy.store_path, err)) {
    std::fprintf(stderr, "hedge user: %s\n", err.c_str());
    return 1;
  }
  const int64_t now = now_s();
  const std::string by = cli_actor();
  if (verb == "list") {
    if (!o.pos.empty()) return user_usage();
    std::printf("%-24s %-11s %s\n", "NAME", "ROLE", "STATE");
    for (const auto& u : st.users())
      std::printf("%-24s %-11s %s\n", u.name.c_str(), console::to_string(u.role),
                  u.disabled ? "disabled" : "active");
    return 0;
  }
  if (o.pos.size() != 1) return user_usage();
  const std::string name = o.pos[0];
  if (verb == "add" || verb == "first") {
    const auto role = console::parse_role(o.get("role"));
    if (!role) {
      std::fprintf(stderr, "hedge user: --role must be technician, dsl, viewer or governor\n");
      return 2;
    }
    std::string pw;
    if (verb == "first") {
      if (st.user_count() > 0) {
        std::printf("console accounts already exist; no new account made\n");
        return 0;
      }
      if (o.get("password-out").empty()) {
        std::fprintf(stderr, "hedge user first: --password-out FILE is required\n");
        return 2;
      }
      pw = generate_password();
    } else if (!o.get("password-file").empty()) {
      if (!read_password_file(o.get("password-file"), pw, err)) {
        std::fprintf(stderr, "hedge user: %s\n", err.c_str());
        return 1;
      }
    } else if (!ask_password(pw, err)) {
      std::fprintf(stderr, "hedge user: %s\n", err.c_str());
      return 1;
    }
    if (!check_password(pw, err)) {
      std::fprintf(stderr, "hedge user: %s\n", err.c_str());
      return 1;
    }
    if (!st.add_user(name, *role, util::hash_password(pw), by, now, err)) {
      std::fprintf(stderr, "hedge user: %s\n", err.c_str());
      return 1;
    }
    if (verb == "first") {
      const std::string out = o.get("password-out");
      const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      const std::string line = pw + "\n";
      if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        std::fprintf(stderr, "hedge user: %s: cannot write the password\n", out.c_str());
        if (fd >= 0) ::close(fd);
        return 1;
      }
      ::close(fd);
      std::printf("console account '%s' (%s) created; password: %s (also in %s)\n", name.c_str(),
                  console::to_string(*role), pw.c_str(), out.c_str());
    } else {
      std::printf("console account '%s' (%s) created\n", name.c_str(), console::to_string(*role));
    }
    return 0;
  }
  if (verb == "disable" || verb == "enable") {
    if (!st.set_disabled(name, verb == "disable", by, now, err)) {
      std::fprintf(stderr, "hedge user: %s\n", err.c_str());
      return 1;
    }
    std::printf("console account '%s' %sd\n", name.c_str(), verb.c_str());
    return 0;
  }
  if (verb == "passwd") {
    std::string pw;
    const bool got = o.get("password-file").empty() ? ask_password(pw, err)
                                                    : read_password_file(o.get("password-file"), pw, err);
    if (!got || !check_password(pw, err) || !st.set_password(name, util::hash_password(pw), by, now, err)) {
      std::fprintf(stderr, "hedge user: %s\n", err.c_str());
      return 1;
    }
    std::printf("password for '%s' changed; its sessions were logged out\n", name.c_str());
    return 0;
  }
  return user_usage();
}

int report(int argc, char** argv) {
  auto usage = [] {
    std::fprintf(stderr,
                 "usage: hedge report safeguarding|governor --from YYYY-MM-DD --to YYYY-MM-DD\n"
                 "                    [--format html|csv] [--config FILE] [--out FILE]\n");
    return 2;
  };
  if (argc < 2) return usage();
  report::ReportRequest rq;
  if (!report::parse_kind(argv[1], rq.kind)) return usage();
  const Opts o = parse(argc, argv, 2, {"config", "from", "to", "format", "out"});
  if (!o.error.empty() || !o.pos.empty()) {
    if (!o.error.empty()) std::fprintf(stderr, "hedge report: %s\n", o.error.c_str());
    return usage();
  }
  const std::string fmt = o.get("format", "html");
  if (fmt != "html" && fmt != "csv") {
    std::fprintf(stderr, "hedge report: --format must be html or csv\n");
    return 2;
  }
  rq.format = fmt == "csv" ? report::Format::csv : report::Format::html;
  rq.from = o.get("from");
  rq.to = o.get("to");
  std::string err;
  if (rq.from.empty() || rq.to.empty()) {
    std::fprintf(stderr, "hedge report: --from and --to are required\n");
    return 2;
  }
  if (!report::check_period(rq.from, rq.to, err)) {
    std::fprintf(stderr, "hedge report: %s\n", err.c_str());
    return 2;
  }
  const Cfg cfg = load_cfg(o.get("config", kDefaultConfig));
  if (!cfg.ok) return 1;
  rq.school = cfg.school;
  const auto tz = policy::TimeZone::load(cfg.policy.timezone, err);
  if (!tz) {
    std::fprintf(stderr, "hedge report: [policy] timezone: %s\n", err.c_str());
    return 1;
  }
  store::Db db;
  if (!db.open(cfg.policy.store_path, true, err)) {
    std::fprintf(stderr, "hedge report: %s\n", err.c_str());
    return 1;
  }
  std::string out;
  if (!report::make_report(db, *tz, rq, now_s(), out, err)) {
    std::fprintf(stderr, "hedge report: %s\n", err.c_str());
    return 1;
  }
  const std::string path = o.get("out");
  if (path.empty()) {
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << out;
  if (!f.flush()) {
    std::fprintf(stderr, "hedge report: %s: cannot write\n", path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace hedge::cli
