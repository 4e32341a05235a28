// util/cpu_quota: see the header.
#include "util/cpu_quota.hpp"

#include <charconv>

#include "util/small_file.hpp"

namespace hedge::util {

namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::optional<long long> to_ll(std::string_view s) noexcept {
  s = trim(s);
  long long v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

bool has_token(std::string_view list, std::string_view tok) {
  for (auto t : split(list, ','))
    if (t == tok) return true;
  return false;
}

}  // namespace

std::optional<double> parse_cpu_max(std::string_view text) noexcept {
  const auto f = split(trim(text), ' ');
  if (f.size() != 2 || f[0] == "max") return std::nullopt;
  const auto q = to_ll(f[0]), p = to_ll(f[1]);
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;
  return static_cast<double>(*q) / static_cast<double>(*p);
}

std::optional<double> parse_cfs(std::string_view quota_us, std::string_view period_us) noexcept {
  const auto q = to_ll(quota_us), p = to_ll(period_us);
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;  // -1: no quota
  return static_cast<double>(*q) / static_cast<double>(*p);
}

CgroupDirs cpu_cgroup_dirs(std::string_view proc_cgroup, std::string_view mountinfo) {
  // The process's path in the v1 "cpu" hierarchy, or in the v2 one.
  std::string v1_path, v2_path;
  bool have_v1 = false, have_v2 = false;
  for (auto line : split(proc_cgroup, '\n')) {
    const auto f = split(line, ':');
    if (f.size() < 3) continue;
    // The path is everything after the second colon (it may hold colons).
    const std::string path(line.substr(f[0].size() + f[1].size() + 2));
    if (f[0] == "0" && f[1].empty()) {
      v2_path = path;
      have_v2 = true;
    } else if (has_token(f[1], "cpu")) {
      v1_path = path;
      have_v1 = true;
    }
  }
  // mountinfo: id parent dev root mountpoint options... - fstype source superoptions
  std::string v1_mount, v1_root, v2_mount, v2_root;
  for (auto line : split(mountinfo, '\n')) {
    const auto dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    const auto pre = split(line.substr(0, dash), ' ');
    const auto post = split(line.substr(dash + 3), ' ');
    if (pre.size() < 5 || post.size() < 3) continue;
    if (post[0] == "cgroup" && has_token(post[2], "cpu") && v1_mount.empty()) {
      v1_mount = std::string(pre[4]);
      v1_root = std::string(pre[3]);
    } else if (post[0] == "cgroup2" && v2_mount.empty()) {
      v2_mount = std::string(pre[4]);
      v2_root = std::string(pre[3]);
    }
  }
  CgroupDirs out;
  std::string mount, root, path;
  if (have_v1 && !v1_mount.empty()) {
    mount = v1_mount, root = v1_root, path = v1_path;
  } else if (have_v2 && !v2_mount.empty()) {
    mount = v2_mount, root = v2_root, path = v2_path;
    out.v2 = true;
  } else {
    return out;
  }
  // Inside a container the mount's root is the container's own cgroup: the
  // path is relative to it. A path outside the mount's root cannot be seen.
  if (root != "/") {
    if (path.compare(0, root.size(), root) != 0) return out;
    path = path.substr(root.size());
  }
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  for (;;) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    out.dirs.push_back(path == "/" ? mount : mount + path);
    if (path == "/") break;
    const auto slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return out;
}

CpuQuota read_cpu_quota() noexcept {
  CpuQuota best;
  try {
    const CgroupDirs d =
        cpu_cgroup_dirs(read_small("/proc/self/cgroup"), read_small("/proc/self/mountinfo", 1 << 20));
    for (const auto& dir : d.dirs) {
      const std::optional<double> c =
          d.v2 ? parse_cpu_max(read_small(dir + "/cpu.max"))
               : parse_cfs(read_small(dir + "/cpu.cfs_quota_us"), read_small(dir + "/cpu.cfs_period_us"));
      if (c && (best.cores == 0 || *c < best.cores)) {
        best.cores = *c;
        best.where = dir;
      }
    }
  } catch (...) {
    return {};
  }
  return best;
}

}  // namespace hedge::util
