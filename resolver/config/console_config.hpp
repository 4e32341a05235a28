// config/console_config: the console's keys in [http] (issue 9):
//   console_listen = ["0.0.0.0:8443"]   HTTPS console; not started when absent (restart)
//   tls_cert / tls_key                 the school's own PEM files; else one is generated
// Only these keys are read here; the rest of [http] belongs to web_config.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "util/address.hpp"
#include "util/errors.hpp"

namespace hedge::config {

struct ConsoleConfig {
  std::vector<util::SockAddr> listen;
  std::string tls_cert, tls_key;
};

void parse_console_config(const toml::table& root, ConsoleConfig& out, util::ConfigErrors& errs);

}  // namespace hedge::config
