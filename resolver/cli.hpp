// cli: the subcommands of the one `hedge` executable. main.cpp dispatches;
// each command lives beside the code it drives and returns an exit status.
#pragma once

#include <cstdint>
#include <string>

#include "console/auth.hpp"

namespace hedge::cli {

int serve(int argc, char** argv);    // resolver/server_cli.cpp
int compile(int argc, char** argv);  // blocklists/compile_cli.cpp
int keygen(int argc, char** argv);   // blocklists/sign_cli.cpp
int verify(int argc, char** argv);   // blocklists/sign_cli.cpp
int lists(int argc, char** argv);    // blocklists/compile_cli.cpp (lists lookup)
int netconf(int argc, char** argv);  // resolver/config/network_cli.cpp ([network] -> networkd)

// blocklists/update/update_cli.cpp
int update(int argc, char** argv);
int rollback(int argc, char** argv);
int publish(int argc, char** argv);

// resolver/policy/policy_cli.cpp
int exception(int argc, char** argv);
int audit(int argc, char** argv);
int explain(int argc, char** argv);
int check(int argc, char** argv);  // the built-in filtering check

// resolver/monitor/events_cli.cpp
int events(int argc, char** argv);
int incident(int argc, char** argv);
// resolver/console/console_cli.cpp
int user(int argc, char** argv);
int report(int argc, char** argv);
// Proves that console account `name` is at the keyboard: enabled, allowed
// `need`, its password read from password_file (else asked on the terminal)
// and checked like a console login, with the same lockout; the attempt is
// recorded. `hedge exception approve` uses it for the two-person rule.
// Console accounts in the store (0 when there are none, -1 if it cannot be opened).
int64_t console_account_count(const std::string& store_path);
bool authenticate_account(const std::string& store_path, const std::string& name,
                          const std::string& password_file, int64_t now, console::Perm need,
                          std::string& err);

}  // namespace hedge::cli
