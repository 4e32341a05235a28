// util/small_file: reading a small text file whole (status files, /proc and
// cgroup files), at most `cap` bytes: a huge or odd file is cut, never
// trusted further. File I/O: never on the DNS loop (start-up, the thread pool).
#pragma once

#include <cstdio>
#include <string>

namespace hedge::util {

inline std::string read_small(const std::string& path, std::size_t cap = 8192) {
  std::string out;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  out.resize(cap);
  const std::size_t n = std::fread(out.data(), 1, cap, f);
  std::fclose(f);
  out.resize(n);
  return out;
}

}  // namespace hedge::util
