// policy/policy_config: validation of [[schedule]], [[group]], [policy], [store].
#include "policy/policy_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <set>

#include "blocklists/taxonomy.hpp"
#include "dns/name.hpp"
#include "policy/exception.hpp"

namespace hedge::policy {

const char* to_string(SafeSearch s) noexcept {
  switch (s) {
    case SafeSearch::off: return "off";
    case SafeSearch::moderate: return "moderate";
    case SafeSearch::strict: return "strict";
  }
  return "off";
}

const char* to_string(ExceptionKind k) noexcept {
  return k == ExceptionKind::allow ? "allow" : "deny";
}

bool parse_client_match(std::string_view s, ClientMatch& out, std::string& err) {
  out = ClientMatch{};
  out.text = std::string(s);
  if (s.starts_with("listen:")) {
    out.listen = true;
    s.remove_prefix(7);
  }
  std::string addr(s);
  int prefix = -1;
  if (const auto slash = s.find('/'); slash != std::string_view::npos) {
    if (out.listen) {
      err = "a listen address takes no prefix length";
      return false;
    }
    addr = std::string(s.substr(0, slash));
    const auto p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3 ||
        !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      err = "bad prefix length";
      return false;
    }
    prefix = std::stoi(std::string(p));
  }
  if (inet_pton(AF_INET, addr.c_str(), out.addr.data()) == 1) {
    out.v6 = false;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) {
      err = "prefix length over 32 for an IPv4 network";
      return false;
    }
  } else if (inet_pton(AF_INET6, addr.c_str(), out.addr.data()) == 1) {
    out.v6 = true;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) {
      err = "prefix length over 128";
      return false;
    }
  } else {
    err = "not an IP address or CIDR (expected e.g. 10.20.0.0/16 or listen:192.0.2.1)";
    return false;
  }
  out.prefix = static_cast<uint8_t>(prefix);
  // Host bits set ("10.20.1.0/16") are almost always a typo: reject rather than guess.
  const int bytes = out.v6 ? 16 : 4;
  for (int i = 0; i < bytes; ++i) {
    const int bit0 = i * 8;
    uint8_t mask = 0;
    if (bit0 + 8 <= prefix)
      mask = 0xff;
    else if (bit0 < prefix)
      mask = static_cast<uint8_t>(0xff << (8 - (prefix - bit0)));
    if ((out.addr[static_cast<std::size_t>(i)] & ~mask) != 0) {
      err = "host bits set in network address (did you mean a different prefix?)";
      return false;
    }
  }
  return true;
}

namespace {

using util::ConfigErrors;

int line_of(const toml::node& n) {
  return ConfigErrors::line_of(n);
}

// Reports every key of `t` not in `known`.
void check_keys(const toml::table& t, std::initializer_list<std::string_view> known, const std::string& path,
                ConfigErrors& errs) {
  for (auto&& [k, v] : t) {
    if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
      std::string list;
      for (auto kk : known) list += (list.empty() ? "" : ", ") + std::string(kk);
      errs.add(static_cast<int>(k.source().begin.line ? k.source().begin.line : v.source().begin.line),
               path + "." + std::string(k.str()), "unknown key (known: " + list + ")");
    }
  }
}

bool get_string(const toml::node& n, const std::string& key, ConfigErrors& errs, std::string& out) {
  if (auto s = n.value<std::string>(); s && n.is_string()) {
    out = *s;
    return true;
  }
  errs.add(n, key, "must be a string");
  return false;
}

// An array of strings; each bad element reported.
std::vector<std::pair<std::string, const toml::node*>> get_strings(const toml::node& n,
                                                                   const std::string& key,
                                                                   ConfigErrors& errs) {
  std::vector<std::pair<std::string, const toml::node*>> out;
  const auto* arr = n.as_array();
  if (!arr) {
    errs.add(n, key, "must be an array of strings");
    return out;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto& e = *arr->get(i);
    if (!e.is_string()) {
      errs.add(e, key + "[" + std::to_string(i) + "]", "must be a string");
      continue;
    }
    out.emplace_back(*e.value<std::string>(), &e);
  }
  return out;
}

bool normalise_into(const std::string& raw, const toml::node& at, const std::string& key, ConfigErrors& errs,
                    std::string& out) {
  auto n = dns::normalise_name(raw);
  if (!n) {
    errs.add(at, key, "'" + raw + "' is not a host name: " + dns::to_string(n.error));
    return false;
  }
  out = std::move(n.name);
  return true;
}

// Category ids: must be in the built-in taxonomy.
bool check_category(const std::string& id, const toml::node& at, const std::string& key, ConfigErrors& errs) {
  if (!lists::find_category(id)) {
    errs.add(at, key, "unknown category '" + id + "' (see blocklists/categories.toml)");
    return false;
  }
  return true;
}

bool is_illegal(const std::string& id) {
  const auto* c = lists::find_category(id);
  return c && (c->tier == lists::Tier::illegal || c->confidential);
}

int64_t parse_days(const toml::node& n, const std::string& key, ConfigErrors& errs, int64_t fallback) {
  if (auto v = n.value<int64_t>(); v && n.is_integer()) {
    if (*v < 1 || *v > 366) {
      errs.add(n, key, "must be between 1 and 366 days");
      return fallback;
    }
    return *v * 86400;
  }
  errs.add(n, key, "must be a whole number of days");
  return fallback;
}

void parse_schedules(const toml::node& node, ConfigErrors& errs, PolicyConfig& out) {
  const auto* arr = node.as_array();
  if (!arr || !arr->is_array_of_tables()) {
    errs.add(node, "schedule", "must be an array of tables ([[schedule]])");
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto& t = *arr->get(i)->as_table();
    const std::string path = "schedule[" + std::to_string(i) + "]";
    check_keys(t, {"name", "days", "times"}, path, errs);
    Schedule s;
    if (const auto* n = t.get("name")) {
      if (get_string(*n, path + ".name", errs, s.name)) {
        if (s.name.empty())
          errs.add(*n, path + ".name", "must not be empty");
        else if (!names.insert(s.name).second)
          errs.add(*n, path + ".name", "duplicate schedule '" + s.name + "'");
      }
    } else {
      errs.add(line_of(t), path + ".name", "missing (every schedule needs a name)");
    }
    if (const auto* n = t.get("days")) {
      s.days = 0;
      auto days = get_strings(*n, path + ".days", errs);
      for (std::size_t d = 0; d < days.size(); ++d) {
        const int day = parse_day(days[d].first);
        if (day < 0)
          errs.add(*days[d].second, path + ".days", "unknown day '" + days[d].first + "' (mon..sun)");
        else
          s.days |= static_cast<uint8_t>(1u << day);
      }
      if (s.days == 0 && days.size() == 0) errs.add(*n, path + ".days", "must name at least one day");
    }
    if (const auto* n = t.get("times")) {
      for (auto& [txt, at] : get_strings(*n, path + ".times", errs)) {
        Window w;
        if (!parse_window(txt, w))
          errs.add(*at, path + ".times", "'" + txt + "' is not HH:MM-HH:MM");
        else
          s.windows.push_back(w);
      }
    }
    out.schedules.push_back(std::move(s));
  }
}

void parse_groups(const toml::node& node, ConfigErrors& errs, PolicyConfig& out) {
  const auto* arr = node.as_array();
  if (!arr || !arr->is_array_of_tables()) {
    errs.add(node, "group", "must be an array of tables ([[group]])");
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const auto& t = *arr->get(i)->as_table();
    const std::string path = "group[" + std::to_string(i) + "]";
    check_keys(t,
               {"name", "clients", "mode", "allow", "deny", "block", "allow_during", "safe_search",
                "bypass_defence", "block_mode"},
               path, errs);
    GroupConfig g;
    g.line = line_of(t);
    if (const auto* n = t.get("name")) {
      if (get_string(*n, path + ".name", errs, g.name)) {
        if (g.name.empty() || g.name == "*" || g.name == "default") {
          errs.add(*n, path + ".name", "'" + g.name + "' is reserved; choose another group name");
        } else if (!names.insert(g.name).second) {
          errs.add(*n, path + ".name", "duplicate group '" + g.name + "'");
        }
      }
    } else {
      errs.add(g.line, path + ".name", "missing (every group needs a name)");
    }
    if (const auto* n = t.get("clients")) {
      const auto list = get_strings(*n, path + ".clients", errs);
      for (std::size_t c = 0; c < list.size(); ++c) {
        ClientMatch m;
        std::string err;
        if (!parse_client_match(list[c].first, m, err))
          errs.add(*list[c].second, path + ".clients[" + std::to_string(c) + "]",
                   "'" + list[c].first + "': " + err);
        else
          g.clients.push_back(std::move(m));
      }
    }
    if (const auto* n = t.get("mode")) {
      std::string v;
      if (get_string(*n, path + ".mode", errs, v)) {
        if (v == "allowlist")
          g.mode = GroupMode::allowlist;
        else if (v == "categories" || v == "blocklist")
          g.mode = GroupMode::categories;
        else
          errs.add(*n, path + ".mode", "must be \"categories\" or \"allowlist\"");
      }
    }
    for (const char* key : {"allow", "deny"}) {
      if (const auto* n = t.get(key)) {
        for (auto& [raw, at] : get_strings(*n, path + "." + key, errs)) {
          std::string nn;
          if (normalise_into(raw, *at, path + "." + key, errs, nn)) {
            (std::string_view(key) == "allow" ? g.allow : g.deny).push_back(std::move(nn));
          }
        }
      }
    }
    if (g.mode == GroupMode::allowlist && g.allow.empty())
      errs.add(g.line, path + ".allow", "allowlist mode needs at least one name in `allow`");
    if (const auto* n = t.get("block")) {
      g.block_set = true;
      for (auto& [id, at] : get_strings(*n, path + ".block", errs)) {
        if (check_category(id, *at, path + ".block", errs)) g.block.push_back(id);
      }
    }
    if (const auto* n = t.get("allow_during")) {
      if (const auto* ad = n->as_table()) {
        for (auto&& [k, v] : *ad) {
          const std::string key = path + ".allow_during." + std::string(k.str());
          const std::string sched(k.str());
          if (std::none_of(out.schedules.begin(), out.schedules.end(),
                           [&](const Schedule& s) { return s.name == sched; }))
            errs.add(v, key, "no [[schedule]] named '" + sched + "'");
          std::vector<std::string> ids;
          for (auto& [id, at] : get_strings(v, key, errs)) {
            if (!check_category(id, *at, key, errs)) continue;
            if (is_illegal(id)) {
              errs.add(
                  *at, key,
                  "'" + id +
                      "' is in the illegal tier, which is blocked for everyone and can never be allowed");
              continue;
            }
            if (g.block_set && std::find(g.block.begin(), g.block.end(), id) == g.block.end()) {
              errs.add(*at, key,
                       "'" + id +
                           "' is not in this group's `block`, so allowing it during a schedule does nothing");
              continue;
            }
            ids.push_back(id);
          }
          g.allow_during.emplace_back(sched, std::move(ids));
        }
      } else {
        errs.add(*n, path + ".allow_during", "must be a table: { schedule = [\"category\", ...] }");
      }
    }
    if (const auto* n = t.get("safe_search")) {
      std::string v;
      if (get_string(*n, path + ".safe_search", errs, v)) {
        if (v == "off")
          g.safe_search = SafeSearch::off;
        else if (v == "moderate")
          g.safe_search = SafeSearch::moderate;
        else if (v == "strict")
          g.safe_search = SafeSearch::strict;
        else
          errs.add(*n, path + ".safe_search", "must be \"off\", \"moderate\" or \"strict\"");
      }
    }
    if (const auto* n = t.get("bypass_defence")) {
      if (auto b = n->value<bool>(); b && n->is_boolean()) {
        g.bypass_defence = *b;
        g.bypass_defence_line = util::ConfigErrors::line_of(*n);
      } else {
        errs.add(*n, path + ".bypass_defence", "must be true or false");
      }
    }
    if (const auto* n = t.get("block_mode")) {
      std::string v;
      if (get_string(*n, path + ".block_mode", errs, v)) {
        if (v == "block" || v == "blockpage")
          g.block_mode = BlockMode::block;
        else if (v == "nxdomain")
          g.block_mode = BlockMode::nxdomain;
        else
          errs.add(*n, path + ".block_mode", "must be \"block\" or \"nxdomain\"");
      }
    }
    out.groups.push_back(std::move(g));
  }
  // The same network (or listen address) in two groups: ambiguous, reject.
  // Nested networks are fine: the most specific prefix wins, as in routing.
  for (std::size_t a = 0; a < out.groups.size(); ++a) {
    for (std::size_t b = a; b < out.groups.size(); ++b) {
      const auto& ga = out.groups[a];
      const auto& gb = out.groups[b];
      for (std::size_t i = 0; i < ga.clients.size(); ++i) {
        for (std::size_t j = (a == b ? i + 1 : 0); j < gb.clients.size(); ++j) {
          const auto& x = ga.clients[i];
          const auto& y = gb.clients[j];
          if (x.listen == y.listen && x.v6 == y.v6 && x.prefix == y.prefix && x.addr == y.addr) {
            errs.add(gb.line, "group[" + std::to_string(b) + "].clients",
                     "'" + y.text + "' is also a client of group '" + ga.name +
                         "' (a network may belong to one group; nested networks are fine, the most specific "
                         "wins)");
          }
        }
      }
    }
  }
}

void parse_policy_table(const toml::node& node, ConfigErrors& errs, PolicyConfig& out) {
  const auto* t = node.as_table();
  if (!t) {
    errs.add(node, "policy", "must be a table ([policy])");
    return;
  }
  check_keys(
      *t, {"default_group", "timezone", "require_approval", "exception_default_days", "exception_max_days"},
      "policy", errs);
  if (const auto* n = t->get("default_group"))
    get_string(*n, "policy.default_group", errs, out.default_group);
  if (const auto* n = t->get("timezone")) {
    std::string tzname;
    if (get_string(*n, "policy.timezone", errs, tzname)) {
      std::string err;
      if (!TimeZone::load(tzname, err)) errs.add(*n, "policy.timezone", "'" + tzname + "': " + err);
      out.timezone = tzname;
    }
  }
  if (const auto* n = t->get("require_approval")) {
    if (auto b = n->value<bool>(); b && n->is_boolean())
      out.require_approval = *b;
    else
      errs.add(*n, "policy.require_approval", "must be true or false");
  }
  if (const auto* n = t->get("exception_default_days"))
    out.exception_default_seconds =
        parse_days(*n, "policy.exception_default_days", errs, out.exception_default_seconds);
  if (const auto* n = t->get("exception_max_days"))
    out.exception_max_seconds = parse_days(*n, "policy.exception_max_days", errs, out.exception_max_seconds);
  if (out.exception_default_seconds > out.exception_max_seconds)
    errs.add(line_of(*t), "policy.exception_default_days", "is longer than policy.exception_max_days");
}

void parse_store_table(const toml::node& node, ConfigErrors& errs, PolicyConfig& out) {
  const auto* t = node.as_table();
  if (!t) {
    errs.add(node, "store", "must be a table ([store])");
    return;
  }
  check_keys(*t, {"path"}, "store", errs);
  if (const auto* n = t->get("path")) {
    if (get_string(*n, "store.path", errs, out.store_path) &&
        (out.store_path.empty() || out.store_path[0] != '/'))
      errs.add(*n, "store.path", "must be an absolute path");
  }
}

}  // namespace

void parse_policy_config(const toml::table& root, util::ConfigErrors& errs, PolicyConfig& out) {
  out.file = errs.file();
  // Schedules first: groups refer to them by name.
  if (const auto* n = root.get("schedule")) parse_schedules(*n, errs, out);
  if (const auto* n = root.get("group")) parse_groups(*n, errs, out);
  if (const auto* n = root.get("policy")) parse_policy_table(*n, errs, out);
  if (const auto* n = root.get("store")) parse_store_table(*n, errs, out);
  if (!out.default_group.empty() && out.default_group != "default") {
    const bool found = std::any_of(out.groups.begin(), out.groups.end(),
                                   [&](const GroupConfig& g) { return g.name == out.default_group; });
    if (!found) {
      const auto* n = root.at_path("policy.default_group").node();
      errs.add(n ? line_of(*n) : 0, "policy.default_group", "no [[group]] named '" + out.default_group + "'");
    }
  }
}

}  // namespace hedge::policy
