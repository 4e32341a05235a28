// update/generations: the installed side of the updater. `[lists] bundle`
// names a `current` symlink; generations live beside it:
//
//   <dir>/current  -> gen-1764000000      (what hedge serve loads)
//   <dir>/previous -> gen-1763900000      (kept for `hedge rollback`)
//   <dir>/gen-1764000000/manifest.json ...  (exactly the compiled files)
//   <dir>/.staging-XXXXXX/                 (a download in progress)
//   <dir>/.update.lock                     (flock: one updater at a time)
//
// A symlink is replaced by rename(2) of a new one over it, so a reader sees
// either the old target or the new one. Every file and directory is fsync'd
// before the flip, and the directory after it, so a crash at any point
// leaves `current` naming a complete generation. Older generations and
// leftover staging directories are removed only while holding the lock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace hedge::update {

struct Installed {
  std::string path;    // resolved directory
  std::string target;  // the symlink's target as written ("" when current is a plain directory)
  uint64_t serial = 0;
  int64_t created = 0, valid_until = 0;
  std::string channel;
};

// Reads `link`'s manifest.json (not the other files). nullopt if there is no
// bundle there; err says why when something exists but cannot be read.
std::optional<Installed> read_installed(const std::string& link, std::string& err);

class Generations {
 public:
  explicit Generations(std::string current_link);
  ~Generations();
  Generations(const Generations&) = delete;
  Generations& operator=(const Generations&) = delete;

  const std::string& dir() const noexcept { return m_dir; }
  const std::string& current_link() const noexcept { return m_current; }
  std::string previous_link() const { return m_dir + "/previous"; }

  // Creates the directory if absent and takes the lock (non-blocking: false
  // with "another hedge update is running" when held).
  bool lock(std::string& err);
  // A fresh empty staging directory inside dir().
  std::optional<std::string> make_staging(std::string& err);
  // fsyncs staging, renames it to gen-<serial> (or gen-<serial>-N if taken).
  std::optional<std::string> commit(const std::string& staging, uint64_t serial, std::string& err);
  // previous -> what current named; current -> gen. Atomic per link.
  bool flip(const std::string& gen_name, std::string& err);
  // current <-> previous. False with a reason when there is no previous.
  bool swap_previous(std::string& err);
  // Removes generations that neither link names, and staging leftovers.
  void cleanup() noexcept;

 private:
  bool relink(const std::string& link, const std::string& target, std::string& err);
  std::string m_current, m_dir;
  int m_lock_fd = -1;
};

// fsync of a path (file or directory); false and err on failure.
bool fsync_path(const std::string& path, bool directory, std::string& err);

}  // namespace hedge::update
