// net/dir_watch on a real libuv loop: a watch for renames and finished
// writes is not woken by writes in progress to other files in the same
// directory (a download, a log), and still sees the rename it is for
// (docs/decisions/0075). Every handle is closed: uv_loop_close returns 0.
#include <sys/inotify.h>
#include <uv.h>

#include <doctest/doctest.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "net/dir_watch.hpp"

using namespace hedge;

namespace {

// Runs the loop until nothing is pending or `ms` have passed.
void run_for(uv_loop_t* loop, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(
      &t, [](uv_timer_t* h) { uv_stop(h->loop); }, ms, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
}

}  // namespace

TEST_CASE("dir watch: writes in progress do not wake it, a rename into place does") {
  char tmpl[] = "/tmp/hedge-dirwatch-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  const std::string dir = tmpl;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  std::vector<std::string> seen;
  std::string err;
  net::DirWatch* w = net::DirWatch::start(
      &loop, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM,
      [&](const std::string& name) { seen.push_back(name); }, err);
  REQUIRE_MESSAGE(w, err);

  // A file kept open and appended to 200 times (as dnsperf's output or a
  // download is): no event until it is closed.
  FILE* log = std::fopen((dir + "/bundle.part").c_str(), "w");
  REQUIRE(log);
  for (int i = 0; i < 200; ++i) {
    std::fputs("some bytes of a download\n", log);
    std::fflush(log);
    run_for(&loop, 1);
  }
  run_for(&loop, 50);
  CHECK(seen.empty());
  std::fclose(log);
  run_for(&loop, 50);
  REQUIRE(seen.size() == 1);  // the close of a finished write
  CHECK(seen[0] == "bundle.part");

  // The state file replaced by rename, as `hedge update` writes it.
  seen.clear();
  FILE* st = std::fopen((dir + "/update-state.json.tmp").c_str(), "w");
  REQUIRE(st);
  std::fputs("{}", st);
  std::fclose(st);
  std::filesystem::rename(dir + "/update-state.json.tmp", dir + "/update-state.json");
  run_for(&loop, 50);
  CHECK(std::find(seen.begin(), seen.end(), "update-state.json") != seen.end());

  w->close();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  std::filesystem::remove_all(dir);

  // A directory that does not exist: no watch, a clear reason.
  uv_loop_t l2;
  REQUIRE(uv_loop_init(&l2) == 0);
  CHECK(net::DirWatch::start(
            &l2, dir + "/gone", IN_MOVED_TO, [](const std::string&) {}, err) == nullptr);
  CHECK(err.find("/gone") != std::string::npos);
  CHECK(uv_loop_close(&l2) == 0);
}
