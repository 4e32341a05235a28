// config/console_config: [http] console_listen, tls_cert, tls_key.
#include "config/console_config.hpp"

namespace hedge::config {

void parse_console_config(const toml::table& root, ConsoleConfig& out, util::ConfigErrors& errs) {
  const toml::table* t = root.get_as<toml::table>("http");
  if (!t) return;
  if (const toml::node* n = t->get("console_listen")) {
    const toml::array* a = n->as_array();
    if (!a) {
      errs.add(*n, "http.console_listen", "must be an array of addresses, e.g. [\"0.0.0.0:8443\"]");
    } else {
      for (std::size_t i = 0; i < a->size(); ++i) {
        const auto* s = (*a)[i].as_string();
        const std::string k = "http.console_listen[" + std::to_string(i) + "]";
        if (!s) {
          errs.add((*a)[i], k, "must be a string");
          continue;
        }
        auto addr = util::parse_sockaddr(s->get());
        if (!addr)
          errs.add((*a)[i], k, "'" + s->get() + "' is not an address with a port (e.g. \"0.0.0.0:8443\")");
        else
          out.listen.push_back(*addr);
      }
    }
  }
  for (auto [key, dst] : {std::pair{"tls_cert", &out.tls_cert}, std::pair{"tls_key", &out.tls_key}}) {
    if (const toml::node* n = t->get(key)) {
      if (const auto* s = n->as_string())
        *dst = s->get();
      else
        errs.add(*n, std::string("http.") + key, "must be a string (a PEM file)");
    }
  }
  if (out.tls_cert.empty() != out.tls_key.empty()) {
    const toml::node* n = t->get(out.tls_cert.empty() ? "tls_key" : "tls_cert");
    errs.add(*n, "http.tls_cert", "tls_cert and tls_key must be set together");
  }
}

}  // namespace hedge::config
