// update/generations: staging, commit, atomic flips and cleanup (see header).
#include "blocklists/update/generations.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/units.hpp"

namespace hedge::update {

namespace fs = std::filesystem;

bool fsync_path(const std::string& path, bool directory, std::string& err) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    err = path + ": fsync: " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  ::close(fd);
  return true;
}

std::optional<Installed> read_installed(const std::string& link, std::string& err) {
  Installed in;
  struct stat st {};
  if (::lstat(link.c_str(), &st) != 0) return std::nullopt;
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    in.target = fs::read_symlink(link, ec).string();
  }
  char* rp = ::realpath(link.c_str(), nullptr);
  if (!rp) {
    err = link + ": " + std::strerror(errno) +
          (in.target.empty() ? "" : " (dangling link to " + in.target + ")");
    return std::nullopt;
  }
  in.path = rp;
  std::free(rp);
  std::ifstream f(in.path + "/manifest.json", std::ios::binary);
  if (!f) {
    err = in.path + "/manifest.json: cannot open";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    const auto m = nlohmann::json::parse(ss.str());
    in.serial = m.at("version").get<uint64_t>();
    in.created = util::parse_iso_utc(m.value("created", "")).value_or(0);
    in.valid_until = util::parse_iso_utc(m.value("valid_until", "")).value_or(0);
    in.channel = m.value("channel", "");
  } catch (const nlohmann::json::exception& e) {
    err = in.path + "/manifest.json: " + e.what();
    return std::nullopt;
  }
  return in;
}

Generations::Generations(std::string current_link) : m_current(std::move(current_link)) {
  while (m_current.size() > 1 && m_current.back() == '/') m_current.pop_back();
  const fs::path p(m_current);
  m_dir = p.has_parent_path() ? p.parent_path().string() : ".";
}

Generations::~Generations() {
  if (m_lock_fd >= 0) ::close(m_lock_fd);
}

bool Generations::lock(std::string& err) {
  std::error_code ec;
  fs::create_directories(m_dir, ec);
  if (ec) {
    err = m_dir + ": cannot create: " + ec.message();
    return false;
  }
  const std::string path = m_dir + "/.update.lock";
  m_lock_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (m_lock_fd < 0) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  if (::flock(m_lock_fd, LOCK_EX | LOCK_NB) != 0) {
    err = errno == EWOULDBLOCK ? "another hedge update or rollback is running (" + path + " is locked)"
                               : path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::optional<std::string> Generations::make_staging(std::string& err) {
  std::string t = m_dir + "/.staging-XXXXXX";
  if (!::mkdtemp(t.data())) {
    err = t + ": " + std::strerror(errno);
    return std::nullopt;
  }
  ::chmod(t.c_str(), 0755);
  return t;
}

std::optional<std::string> Generations::commit(const std::string& staging, uint64_t serial,
                                               std::string& err) {
  if (!fsync_path(staging, true, err)) return std::nullopt;
  std::string name = "gen-" + std::to_string(serial);
  struct stat st {};
  for (int n = 1; ::lstat((m_dir + "/" + name).c_str(), &st) == 0; ++n) {
    name = "gen-" + std::to_string(serial) + "-" + std::to_string(n);
  }
  if (::rename(staging.c_str(), (m_dir + "/" + name).c_str()) != 0) {
    err = m_dir + "/" + name + ": rename: " + std::strerror(errno);
    return std::nullopt;
  }
  if (!fsync_path(m_dir, true, err)) return std::nullopt;
  return name;
}

bool Generations::relink(const std::string& link, const std::string& target, std::string& err) {
  const std::string tmp = link + ".new";
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0) {
    err = tmp + ": symlink: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::lstat(link.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    // A plain bundle directory (made by `hedge compile --out .../current`):
    // exchange it with the link atomically, then keep it as a generation.
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) != 0) {
      err = link + ": rename (exchange): " + std::strerror(errno);
      return false;
    }
    std::string keep = "gen-adopted-" + std::to_string(::time(nullptr));
    if (::rename(tmp.c_str(), (m_dir + "/" + keep).c_str()) == 0 && link == m_current) {
      std::string e2;
      relink(previous_link(), keep, e2);
    }
    return fsync_path(m_dir, true, err);
  }
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    err = link + ": rename: " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

bool Generations::flip(const std::string& gen_name, std::string& err) {
  std::error_code ec;
  struct stat st {};
  const bool had_link = ::lstat(m_current.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  if (had_link) {
    const std::string old = fs::read_symlink(m_current, ec).string();
    if (!ec && old != gen_name && !relink(previous_link(), old, err)) return false;
  }
  if (!relink(m_current, gen_name, err)) return false;
  return fsync_path(m_dir, true, err);
}

bool Generations::swap_previous(std::string& err) {
  std::error_code ec;
  const std::string prev = fs::read_symlink(previous_link(), ec).string();
  if (ec || prev.empty()) {
    err = previous_link() + ": no previous generation to roll back to";
    return false;
  }
  const std::string cur = fs::read_symlink(m_current, ec).string();
  if (ec) {
    err = m_current + ": not a symlink made by hedge update (" + ec.message() + ")";
    return false;
  }
  if (!relink(m_current, prev, err) || !relink(previous_link(), cur, err)) return false;
  return fsync_path(m_dir, true, err);
}

void Generations::cleanup() noexcept {
  std::error_code ec;
  const std::string cur = fs::read_symlink(m_current, ec).filename().string();
  const std::string prev = fs::read_symlink(previous_link(), ec).filename().string();
  const std::string cur_name = fs::path(m_current).filename().string();
  DIR* d = ::opendir(m_dir.c_str());
  if (!d) return;
  std::vector<std::string> doomed;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    const bool gen = n.rfind("gen-", 0) == 0;
    const bool staging = n.rfind(".staging-", 0) == 0;
    const bool stale_link = n == cur_name + ".new" || n == "previous.new";
    if ((gen && n != cur && n != prev) || staging) doomed.push_back(n);
    if (stale_link) {
      struct stat st {};
      if (::lstat((m_dir + "/" + n).c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        ::unlink((m_dir + "/" + n).c_str());
      else if (S_ISDIR(st.st_mode))
        doomed.push_back(n);
    }
  }
  ::closedir(d);
  for (const auto& n : doomed) fs::remove_all(m_dir + "/" + n, ec);
}

}  // namespace hedge::update
