// PLACEHOLDER: `hedge serve` lands with the server.
#include <cstdio>

#include "cli.hpp"

namespace hedge::cli {
int serve(int, char**) {
  std::fprintf(stderr, "hedge serve: not built yet\n");
  return 2;
}
}  // namespace hedge::cli
