// util/errors: how every configuration problem is reported: one line each,
// `file:line: key: message`, collected (never stop at the first) so a
// technician fixes everything in one pass.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

namespace hedge::util {

struct ConfigError {
  std::string file;
  int line = 0;     // 1-based; 0 when the problem has no single line (e.g. a missing key)
  std::string key;  // dotted path, e.g. "group[1].clients[0]"
  std::string message;
  std::string str() const { return file + ":" + std::to_string(line) + ": " + key + ": " + message; }
};

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : m_file(std::move(file)) {}
  void add(int line, std::string key, std::string message) {
    m_list.push_back({m_file, line, std::move(key), std::move(message)});
  }
  // Line of a toml++ node (0 if it has no source position).
  static int line_of(const toml::node& n) noexcept { return static_cast<int>(n.source().begin.line); }
  void add(const toml::node& at, std::string key, std::string message) {
    add(line_of(at), std::move(key), std::move(message));
  }
  // Warnings do not stop a load (the config still serves); same format.
  void warn(int line, std::string key, std::string message) {
    m_warnings.push_back({m_file, line, std::move(key), std::move(message)});
  }
  const std::vector<ConfigError>& warnings() const noexcept { return m_warnings; }
  bool empty() const noexcept { return m_list.empty(); }
  const std::vector<ConfigError>& list() const noexcept { return m_list; }
  const std::string& file() const noexcept { return m_file; }

 private:
  std::string m_file;
  std::vector<ConfigError> m_list;
  std::vector<ConfigError> m_warnings;
};

}  // namespace hedge::util
