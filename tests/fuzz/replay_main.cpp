// Fuzz replay driver: without libFuzzer, feeds every file named on the
// command line (directories: every regular file below them) to
// LLVMFuzzerTestOneInput once, so the seed corpus runs as a plain test.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

namespace {

bool replay_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", p.c_str());
    return false;
  }
  const std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(arg, ec)) {
        if (!e.is_regular_file()) continue;
        ok = replay_file(e.path()) && ok;
        ++files;
      }
    } else {
      ok = replay_file(arg) && ok;
      ++files;
    }
  }
  std::printf("replay: %zu inputs, no crash\n", files);
  return ok ? 0 : 1;
}
