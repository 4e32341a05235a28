// update/verify: pointer and manifest parsing, the install decision (see header).
#include "blocklists/update/verify.hpp"

#include <nlohmann/json.hpp>

#include "util/units.hpp"

namespace hedge::update {

namespace {

bool safe_name(const std::string& n) {
  if (n.empty() || n.size() > 64 || n == "." || n == ".." || n == "manifest.json" || n == "manifest.sig")
    return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-' || c == '_'))
      return false;
  return n[0] != '.';
}

bool hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::optional<Pointer> parse_pointer(const std::string& text, std::string& err) {
  try {
    const auto j = nlohmann::json::parse(text);
    Pointer p;
    if (!j.is_object() || j.value("format", 0) != 1) {
      err = "not a hedge publish pointer (format 1)";
      return std::nullopt;
    }
    p.serial = j.at("serial").get<uint64_t>();
    p.channel = j.value("channel", "");
    if (p.serial == 0) {
      err = "serial: must be positive";
      return std::nullopt;
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    err = e.what();
    return std::nullopt;
  }
}

std::string pointer_json(uint64_t serial, const std::string& channel, const std::string& created) {
  const nlohmann::json j = {{"format", 1},
                            {"serial", serial},
                            {"channel", channel},
                            {"path", std::to_string(serial) + "/"},
                            {"created", created}};
  return j.dump() + "\n";
}

bool parse_manifest(const std::string& text, ManifestInfo& m, std::string& err) {
  try {
    const auto j = nlohmann::json::parse(text);
    if (j.at("format").get<int>() != 1) {
      err = "format: unsupported bundle format";
      return false;
    }
    m.serial = j.at("version").get<uint64_t>();
    const auto created = util::parse_iso_utc(j.at("created").get<std::string>());
    if (!created) {
      err = "created: not a UTC time";
      return false;
    }
    m.created = *created;
    if (!j.contains("valid_until")) {
      err = "valid_until: missing (compile the bundle with a Hedge that sets it)";
      return false;
    }
    const auto vu = util::parse_iso_utc(j.at("valid_until").get<std::string>());
    if (!vu) {
      err = "valid_until: not a UTC time";
      return false;
    }
    m.valid_until = *vu;
    m.channel = j.value("channel", "");
    m.files.clear();
    m.total_bytes = 0;
    for (const auto& [name, info] : j.at("files").items()) {
      FileEntry f{name, info.at("sha256").get<std::string>(), info.at("size").get<uint64_t>()};
      if (!safe_name(f.name)) {
        err = "files: file name not allowed: '" + f.name + "'";
        return false;
      }
      if (!hex64(f.sha256)) {
        err = "files." + f.name + ".sha256: not 64 lowercase hex digits";
        return false;
      }
      if (f.size > (uint64_t{1} << 40) || m.total_bytes + f.size < m.total_bytes) {
        err = "files." + f.name + ".size: absurd";
        return false;
      }
      m.total_bytes += f.size;
      m.files.push_back(std::move(f));
    }
    bool has_public = false;
    for (const auto& f : m.files) has_public = has_public || f.name == "public.cdb";
    if (!has_public) {
      err = "files: public.cdb not listed";
      return false;
    }
  } catch (const nlohmann::json::exception& e) {
    err = e.what();
    return false;
  }
  return true;
}

Failure judge(const ManifestInfo& m, const InstallPolicy& p) {
  const std::string s = std::to_string(m.serial);
  if (m.serial != p.pointer_serial)
    return {Reason::manifest, "manifest.json is serial " + s + " but the pointer announced " +
                                  std::to_string(p.pointer_serial) + " (files mixed from different bundles)"};
  if (m.channel != p.channel)
    return {Reason::channel, "bundle " + s + " is for channel '" + m.channel + "', this box follows '" +
                                 p.channel + "' ([update] channel)"};
  if (m.valid_until <= p.trusted_now)
    return {Reason::expired, "bundle " + s + " expired at " + util::iso_utc(m.valid_until) +
                                 " (trusted time " + util::iso_utc(p.trusted_now) +
                                 "): refusing a stale or replayed bundle"};
  if (m.total_bytes > p.max_bytes)
    return {Reason::oversize, "bundle " + s + " is " + std::to_string(m.total_bytes) +
                                  " bytes, over [update] max_bytes " + std::to_string(p.max_bytes)};
  if (!p.allow_downgrade) {
    if (m.serial == p.held)
      return {Reason::downgrade,
              "bundle " + s + " was rolled back by a person (hedge rollback); waiting for a newer one"};
    if (m.serial <= p.installed)
      return {Reason::downgrade, "bundle " + s + " is not newer than the installed " +
                                     std::to_string(p.installed) +
                                     " (rollback refused; a person may use --allow-downgrade)"};
    if (m.serial <= p.high_water)
      return {Reason::downgrade,
              "bundle " + s + " is not newer than " + std::to_string(p.high_water) +
                  ", the highest serial this box ever installed (rollback/freeze refused)"};
  }
  return {};
}

}  // namespace hedge::update
