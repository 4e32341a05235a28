// PLACEHOLDER until the lists work lands: replaced by the real compiler.
#include <cstdio>

#include "cli.hpp"

namespace hedge::cli {
int compile(int, char**) {
  std::fprintf(stderr, "hedge compile: not built yet\n");
  return 2;
}
int lists(int, char**) {
  std::fprintf(stderr, "hedge lists: not built yet\n");
  return 2;
}
int keygen(int, char**) {
  std::fprintf(stderr, "hedge keygen: not built yet\n");
  return 2;
}
int verify(int, char**) {
  std::fprintf(stderr, "hedge verify: not built yet\n");
  return 2;
}
}  // namespace hedge::cli
