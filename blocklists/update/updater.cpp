// update/updater: the update, rollback and publish operations (see header).
#include "blocklists/update/updater.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "blocklists/bundle.hpp"
#include "blocklists/signing.hpp"
#include "blocklists/update/generations.hpp"
#include "blocklists/update/https_client.hpp"
#include "blocklists/update/reload_client.hpp"
#include "blocklists/update/state.hpp"
#include "blocklists/update/verify.hpp"
#include "store/exception_store.hpp"
#include "util/crypto.hpp"
#include "util/units.hpp"

namespace hedge::update {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kPointerCap = 65536, kManifestCap = 8u << 20, kSigCap = 4096;

int64_t wall_now() {
  return static_cast<int64_t>(std::time(nullptr));
}

double random_unit() {
  uint8_t b[4] = {};
  util::random_bytes(b);
  const uint32_t v = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  return static_cast<double>(v) / 4294967296.0;
}

uint64_t random_u64() {
  uint8_t b[8] = {};
  util::random_bytes(b);
  uint64_t v = 0;
  for (uint8_t x : b) v = (v << 8) | x;
  return v ? v : 1;
}

// Audits through the one hash-chained log ([store] path). A short-lived CLI
// process may use SQLite directly. An unavailable log is reported, never a
// reason to keep stale lists.
void audit(const Context& ctx, const std::string& actor, const std::string& action, const std::string& object,
           const std::string& reason, const nlohmann::json& detail) {
  store::ExceptionStore st;
  std::string err;
  if (!st.open(ctx.cfg.policy.store_path, err) ||
      !st.record_event(wall_now(), actor, action, object, reason, detail.dump(), err)) {
    std::fprintf(stderr, "hedge: warning: could not write the audit log: %s\n", err.c_str());
  }
}

bool read_text(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return !in.bad();
}

// Owns an fd opened for a download; closes on every path.
struct OutFile {
  int fd = -1;
  ~OutFile() {
    if (fd >= 0) ::close(fd);
  }
};

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool write_file(const std::string& path, const std::string& data, std::string& err) {
  OutFile f;
  f.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (f.fd < 0 || !write_all(f.fd, data.data(), data.size()) || ::fsync(f.fd) != 0) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// Removes a staging directory unless it was committed.
struct StagingGuard {
  std::string path;
  ~StagingGuard() {
    if (!path.empty()) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

class Run {
 public:
  Run(const Context& ctx, const UpdateOptions& opt) : m_ctx(ctx), m_opt(opt), m_gens(ctx.bundle_link) {}
  int go();

 private:
  int fail(const Failure& f);
  int up_to_date(const Installed& in, const Response* pointer_resp);
  bool fetch_small(const Url& u, uint64_t cap, std::string& body, Response& r, Failure& f,
                   const Conditional& cond = {});
  bool fetch_file(const Url& u, const FileEntry& fe, const std::string& dir, Failure& f);
  void save_state();
  std::string prefix() const { return m_opt.check ? "hedge update --check" : "hedge update"; }

  const Context& m_ctx;
  const UpdateOptions& m_opt;
  Generations m_gens;
  UpdateState m_state;
  std::unique_ptr<HttpsClient> m_client;
  int64_t m_now = 0;
  std::string m_pointer_url;
};

void Run::save_state() {
  std::string err;
  if (!write_state_file(m_ctx.state_path, m_state, err))
    std::fprintf(stderr, "%s: warning: cannot save the update state: %s\n", prefix().c_str(), err.c_str());
}

int Run::fail(const Failure& f) {
  if (m_opt.check) {
    std::fprintf(stderr, "%s: would fail (%s): %s\n", prefix().c_str(), to_string(f.reason),
                 f.message.c_str());
    return 1;
  }
  m_state.in_progress = false;
  m_state.last_failure = m_now;
  m_state.last_error = f.message;
  m_state.last_error_reason = to_string(f.reason);
  ++m_state.failures[to_string(f.reason)];
  ++m_state.consecutive_failures;
  m_state.next_retry = m_now + backoff_seconds(m_state.consecutive_failures, random_unit());
  save_state();
  audit(m_ctx, "hedge-update", "update.fail", "bundle", f.message, {{"reason", to_string(f.reason)}});
  std::fprintf(stderr, "%s: FAILED (%s): %s; the installed lists are unchanged; next retry after %s\n",
               prefix().c_str(), to_string(f.reason), f.message.c_str(),
               util::iso_utc(m_state.next_retry).c_str());
  return 1;
}

bool Run::fetch_small(const Url& u, uint64_t cap, std::string& body, Response& r, Failure& f,
                      const Conditional& cond) {
  body.clear();
  const Sink sink = [&](const char* p, std::size_t n) {
    body.append(p, n);
    return true;
  };
  return m_client->get(u, cond, cap, sink, r, f);
}

bool Run::fetch_file(const Url& u, const FileEntry& fe, const std::string& dir, Failure& f) {
  const std::string path = dir + "/" + fe.name;
  OutFile out;
  out.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out.fd < 0) {
    f = {errno == ENOSPC || errno == EDQUOT ? Reason::disk : Reason::other,
         path + ": " + std::strerror(errno)};
    return false;
  }
  util::Sha256Stream h;
  int werr = 0;
  const Sink sink = [&](const char* p, std::size_t n) {
    h.update(p, n);
    if (!write_all(out.fd, p, n)) {
      werr = errno;
      return false;
    }
    return true;
  };
  Response r;
  // The cap is the size the signed manifest declares: a longer body is cut
  // there and refused, whatever Content-Length says.
  if (!m_client->get(u, {}, fe.size, sink, r, f)) {
    if (werr) f = {Reason::disk, path + ": write: " + std::strerror(werr)};
    return false;
  }
  if (r.status != 200) {
    f = {Reason::http, u.str() + ": HTTP " + std::to_string(r.status)};
    return false;
  }
  if (r.body_bytes != fe.size) {
    f = {Reason::truncated, u.str() + ": " + std::to_string(r.body_bytes) +
                                " bytes but the signed manifest says " + std::to_string(fe.size)};
    return false;
  }
  if (util::to_hex(h.finish()) != fe.sha256) {
    f = {Reason::hash,
         u.str() + ": sha256 differs from the signed manifest (tampered, or a file from another bundle)"};
    return false;
  }
  if (::fsync(out.fd) != 0) {
    f = {errno == ENOSPC || errno == EDQUOT ? Reason::disk : Reason::other,
         path + ": fsync: " + std::strerror(errno)};
    return false;
  }
  const int fd = out.fd;
  out.fd = -1;
  if (::close(fd) != 0) {
    f = {Reason::disk, path + ": close: " + std::strerror(errno)};
    return false;
  }
  return true;
}

int Run::up_to_date(const Installed& in, const Response* pointer_resp) {
  const int64_t tnow = trusted_now(m_now, m_state.trusted_time);
  if (in.valid_until != 0 && in.valid_until <= tnow)
    return fail(
        {Reason::expired, "the installed bundle " + std::to_string(in.serial) + " expired at " +
                              util::iso_utc(in.valid_until) +
                              " and the origin offers nothing newer (is the trust still publishing? a frozen "
                              "origin?); still blocking with it"});
  if (m_opt.check) {
    std::printf("%s: up to date: serial %llu (valid until %s); nothing would change\n", prefix().c_str(),
                static_cast<unsigned long long>(in.serial), util::iso_utc(in.valid_until).c_str());
    return 0;
  }
  if (pointer_resp && (!pointer_resp->etag.empty() || !pointer_resp->last_modified.empty())) {
    m_state.etag = pointer_resp->etag;
    m_state.last_modified = pointer_resp->last_modified;
    m_state.validators_serial = in.serial;
    m_state.validators_url = m_pointer_url;
  }
  m_state.in_progress = false;
  m_state.last_success = m_now;
  m_state.consecutive_failures = 0;
  m_state.next_retry = 0;
  m_state.high_water = std::max(m_state.high_water, in.serial);
  m_state.installed_serial = in.serial;
  save_state();
  // A run killed after its flip but before its cleanup leaves older
  // generations behind; an "up to date" run is the next chance to drop them.
  m_gens.cleanup();
  std::printf("%s: up to date: serial %llu is the newest (valid until %s)\n", prefix().c_str(),
              static_cast<unsigned long long>(in.serial), util::iso_utc(in.valid_until).c_str());
  return 0;
}

int Run::go() {
  m_now = wall_now();
  std::string err;
  if (!m_gens.lock(err)) {
    std::fprintf(stderr, "%s: FAILED (other): %s\n", prefix().c_str(), err.c_str());
    return 1;
  }
  if (auto s = read_state_file(m_ctx.state_path, err)) {
    m_state = *s;
  } else {
    std::fprintf(stderr,
                 "%s: warning: %s: starting from an empty state (the installed serial is the floor)\n",
                 prefix().c_str(), err.c_str());
  }
  if (m_state.seed == 0) m_state.seed = random_u64();
  if (m_state.in_progress && !m_opt.check) {
    // The previous run set this and never cleared it: killed, crashed or
    // powered off. Nothing it did can have touched `current` half-way.
    m_state.in_progress = false;
    m_state.last_failure = m_state.last_attempt;
    m_state.last_error = "the previous update (started " + util::iso_utc(m_state.last_attempt) +
                         ") never finished: killed, crashed or power lost; nothing was installed by it";
    m_state.last_error_reason = "crash";
    ++m_state.failures["crash"];
    ++m_state.consecutive_failures;
    m_state.next_retry = m_now;  // retry at once: the cause was this process, not the origin
    std::fprintf(stderr, "%s: note: %s\n", prefix().c_str(), m_state.last_error.c_str());
    audit(m_ctx, "hedge-update", "update.fail", "bundle", m_state.last_error, {{"reason", "crash"}});
  }
  std::string ierr;
  const auto installed = read_installed(m_ctx.bundle_link, ierr);
  if (!installed && !ierr.empty())
    std::fprintf(stderr, "%s: note: no usable installed bundle (%s)\n", prefix().c_str(), ierr.c_str());
  const uint64_t inst_serial = installed ? installed->serial : 0;

  if (m_opt.scheduled) {
    const Due d =
        scheduled_due(m_state, m_now, m_ctx.cfg.update.window_start_min, m_ctx.cfg.update.window_len_min);
    if (!d.due) {
      save_state();
      std::printf("%s: %s\n", prefix().c_str(), d.why.c_str());
      return 0;
    }
  }
  if (m_now < m_state.trusted_time) {
    std::fprintf(
        stderr,
        "%s: warning: the system clock (%s) is earlier than the newest time Hedge has trusted (%s): the "
        "clock is wrong; using the trusted time for expiry checks\n",
        prefix().c_str(), util::iso_utc(m_now).c_str(), util::iso_utc(m_state.trusted_time).c_str());
  }
  const int64_t tnow = trusted_now(m_now, m_state.trusted_time);
  if (!m_opt.check) {
    m_state.in_progress = true;
    m_state.last_attempt = m_now;
    save_state();
  }

  const auto& u = m_ctx.cfg.update;
  auto base = parse_https_url(u.url);
  if (!base) return fail({Reason::other, "[update] url '" + u.url + "' is not an https:// URL"});
  ClientOptions copt;
  copt.ca_file = u.ca_file;
  copt.connect_timeout_ms = u.connect_timeout_s * 1000;
  copt.idle_timeout_ms = u.idle_timeout_s * 1000;
  copt.total_timeout_ms = u.total_timeout_s * 1000;
  m_client = std::make_unique<HttpsClient>(copt);
  Failure f;
  if (!m_client->init(f)) return fail(f);

  // 1. The pointer, conditionally: a 304 only counts when the validators we
  // send are the ones that announced the bundle installed now.
  Url purl = *base;
  purl.path += u.channel + ".json";
  m_pointer_url = purl.str();
  Conditional cond;
  if (installed && m_state.validators_serial == inst_serial && inst_serial != 0 &&
      m_state.validators_url == purl.str()) {
    cond.etag = m_state.etag;
    cond.last_modified = m_state.last_modified;
  }
  std::string ptext;
  Response pr;
  if (!fetch_small(purl, kPointerCap, ptext, pr, f, cond)) return fail(f);
  if (pr.status == 304) {
    if (cond.etag.empty() && cond.last_modified.empty())
      return fail({Reason::http, purl.str() + ": HTTP 304 to an unconditional request"});
    return up_to_date(*installed, nullptr);
  }
  if (pr.status != 200)
    return fail({Reason::http, purl.str() + ": HTTP " + std::to_string(pr.status) +
                                   (pr.status == 404 ? " (is [update] url right? hedge publish writes " +
                                                           u.channel + ".json there)"
                                                     : "")});
  auto ptr = parse_pointer(ptext, err);
  if (!ptr) return fail({Reason::manifest, purl.str() + ": " + err});
  if (installed && ptr->serial == inst_serial && !m_opt.allow_downgrade) return up_to_date(*installed, &pr);
  if (installed && ptr->serial == m_state.held_serial && !m_opt.allow_downgrade) {
    std::printf(
        "%s: serial %llu was rolled back by hand (hedge rollback): staying on %llu until a newer one\n",
        prefix().c_str(), static_cast<unsigned long long>(ptr->serial),
        static_cast<unsigned long long>(inst_serial));
    return up_to_date(*installed, nullptr);
  }
  if (ptr->serial < std::max(inst_serial, m_state.high_water) && !m_opt.allow_downgrade)
    return fail(
        {Reason::downgrade, purl.str() + " offers serial " + std::to_string(ptr->serial) +
                                ", older than the installed " + std::to_string(inst_serial) +
                                (m_state.high_water > inst_serial
                                     ? " and the highest ever installed " + std::to_string(m_state.high_water)
                                     : "") +
                                " (rollback refused)"});

  // 2. The signed manifest.
  Url dir = *base;
  dir.path += std::to_string(ptr->serial) + "/";
  Url murl = dir, surl = dir;
  murl.path += "manifest.json";
  surl.path += "manifest.sig";
  std::string mtext, stext;
  Response mr, sr;
  if (!fetch_small(murl, kManifestCap, mtext, mr, f)) return fail(f);
  if (mr.status != 200) return fail({Reason::http, murl.str() + ": HTTP " + std::to_string(mr.status)});
  if (!fetch_small(surl, kSigCap, stext, sr, f)) return fail(f);
  if (sr.status != 200)
    return fail({sr.status == 404 ? Reason::signature : Reason::http,
                 surl.str() + ": HTTP " + std::to_string(sr.status) +
                     (sr.status == 404 ? " (bundle not signed?)" : "")});
  if (!lists::signing::verify_digest(u.pubkey, util::sha256(mtext), {stext.begin(), stext.end()}, err))
    return fail({Reason::signature, surl.str() + ": " + err + " (pubkey " + u.pubkey + ")"});
  ManifestInfo mi;
  if (!parse_manifest(mtext, mi, err)) return fail({Reason::manifest, murl.str() + ": " + err});
  InstallPolicy pol;
  pol.pointer_serial = ptr->serial;
  pol.installed = inst_serial;
  pol.high_water = std::max(m_state.high_water, inst_serial);
  pol.held = m_state.held_serial;
  pol.trusted_now = tnow;
  pol.channel = u.channel;
  pol.max_bytes = u.max_bytes;
  pol.allow_downgrade = m_opt.allow_downgrade;
  f = judge(mi, pol);
  if (f) {
    f.message = murl.str() + ": " + f.message;
    return fail(f);
  }
  if (m_opt.check) {
    std::printf("%s: would install serial %llu (%zu files, %llu bytes, valid until %s) replacing %s\n",
                prefix().c_str(), static_cast<unsigned long long>(mi.serial), mi.files.size(),
                static_cast<unsigned long long>(mi.total_bytes), util::iso_utc(mi.valid_until).c_str(),
                installed ? std::to_string(inst_serial).c_str() : "nothing");
    return 0;
  }

  // 3. Download into a staging directory beside the generations.
  m_gens.cleanup();  // leftovers of a killed run go first (we hold the lock)
  auto staging = m_gens.make_staging(err);
  if (!staging) return fail({errno == ENOSPC ? Reason::disk : Reason::other, err});
  StagingGuard guard{*staging};
  if (!write_file(*staging + "/manifest.json", mtext, err) ||
      !write_file(*staging + "/manifest.sig", stext, err))
    return fail({errno == ENOSPC || errno == EDQUOT ? Reason::disk : Reason::other, err});
  for (const auto& fe : mi.files) {
    Url furl = dir;
    furl.path += fe.name;
    if (!fetch_file(furl, fe, *staging, f)) return fail(f);
  }
  // The resolver's own loader must accept it too (cdb structure, filter).
  if (!lists::Bundle::open(*staging, true, err))
    return fail(
        {Reason::manifest, "downloaded bundle " + std::to_string(mi.serial) + " does not open: " + err});

  // 4. Commit and flip.
  auto gen = m_gens.commit(*staging, mi.serial, err);
  if (!gen) return fail({errno == ENOSPC ? Reason::disk : Reason::other, err});
  guard.path.clear();
  if (!m_gens.flip(*gen, err)) {
    std::error_code ec;
    fs::remove_all(m_gens.dir() + "/" + *gen, ec);
    return fail({errno == ENOSPC ? Reason::disk : Reason::other, err});
  }
  m_state.in_progress = false;
  m_state.last_success = m_now;
  m_state.consecutive_failures = 0;
  m_state.next_retry = 0;
  m_state.high_water = std::max(m_state.high_water, mi.serial);
  m_state.trusted_time = std::max(m_state.trusted_time, mi.created);
  m_state.installed_serial = mi.serial;
  m_state.etag = pr.etag;
  m_state.last_modified = pr.last_modified;
  m_state.validators_serial = mi.serial;
  m_state.validators_url = purl.str();
  save_state();
  m_gens.cleanup();
  audit(m_ctx, "hedge-update", "update.install", "bundle/" + std::to_string(mi.serial), "",
        {{"from", inst_serial},
         {"to", mi.serial},
         {"generation", *gen},
         {"allow_downgrade", m_opt.allow_downgrade}});

  // 5. Tell the running resolver.
  std::string detail;
  const auto rr = request_reload(m_ctx.socket_path, m_opt.reload_timeout_ms, detail);
  const std::string what = "installed serial " + std::to_string(mi.serial) + " as " + m_gens.dir() + "/" +
                           *gen + " (was " + (installed ? std::to_string(inst_serial) : std::string("none")) +
                           ", valid until " + util::iso_utc(mi.valid_until) + ")";
  if (rr == ReloadResult::not_running) {
    std::printf("%s: %s; no resolver running (%s): the next start loads it\n", prefix().c_str(), what.c_str(),
                detail.c_str());
    return 0;
  }
  if (rr == ReloadResult::failed) {
    Failure rf{Reason::reload, what + ", but the running resolver did not reload: " + detail};
    m_state.installed_serial = mi.serial;
    return fail(rf);
  }
  std::printf("%s: %s; resolver reloaded (serving %s)\n", prefix().c_str(), what.c_str(), detail.c_str());
  return 0;
}

}  // namespace

bool load_context(const std::string& config_path, Context& ctx, const char* who) {
  config::ConfigErrors errs(config_path);
  const bool ok = config::load_config(config_path, ctx.cfg, errs);
  bool fatal = false;
  for (const auto& e : errs.list()) {
    // The updater does not forward DNS: a missing upstream is not its problem.
    if (e.key == "upstream.servers") continue;
    std::fprintf(stderr, "%s: %s\n", who, e.str().c_str());
    fatal = true;
  }
  if (!ok && fatal) return false;
  if (ctx.cfg.lists.bundle.empty()) {
    std::fprintf(stderr, "%s: %s: [lists] bundle is not set (it names the `current` link updates flip)\n",
                 who, config_path.c_str());
    return false;
  }
  ctx.bundle_link = ctx.cfg.lists.bundle;
  ctx.state_path = config::update_state_path(ctx.cfg.update, ctx.bundle_link);
  ctx.socket_path = config::control_socket_path(ctx.cfg.update, ctx.bundle_link);
  return true;
}

int run_update(const Context& ctx, const UpdateOptions& opt) {
  if (ctx.cfg.update.url.empty()) {
    std::fprintf(stderr, "hedge update: %s: [update] url is not set\n", ctx.cfg.path.c_str());
    return 2;
  }
  try {
    Run r(ctx, opt);
    return r.go();
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "hedge update: FAILED (other): internal error: %s; the installed lists are unchanged\n",
                 e.what());
    return 1;
  }
}

int run_rollback(const Context& ctx, const RollbackOptions& opt) {
  Generations gens(ctx.bundle_link);
  std::string err;
  auto bad = [&](const std::string& msg) {
    std::fprintf(stderr, "hedge rollback: FAILED: %s; nothing changed\n", msg.c_str());
    return 1;
  };
  if (!gens.lock(err)) return bad(err);
  const auto cur = read_installed(ctx.bundle_link, err);
  err.clear();
  const auto prev = read_installed(gens.previous_link(), err);
  if (!prev)
    return bad("no previous generation at " + gens.previous_link() + (err.empty() ? "" : ": " + err));
  // The previous generation must still be whole and signed before it serves.
  std::string manifest, sig;
  if (!read_text(prev->path + "/manifest.json", manifest) || !read_text(prev->path + "/manifest.sig", sig))
    return bad(prev->path + ": manifest.json or manifest.sig missing");
  if (!lists::signing::verify_digest(ctx.cfg.update.pubkey, util::sha256(manifest), {sig.begin(), sig.end()},
                                     err))
    return bad(prev->path + ": " + err);
  if (!lists::Bundle::open(prev->path, true, err)) return bad(err);
  if (!gens.swap_previous(err)) return bad(err);
  UpdateState st;
  if (auto s = read_state_file(ctx.state_path, err)) st = *s;
  if (cur) st.held_serial = cur->serial;
  st.installed_serial = prev->serial;
  write_state_file(ctx.state_path, st, err);
  audit(ctx, opt.by, "update.rollback", "bundle/" + std::to_string(prev->serial), opt.reason,
        {{"from", cur ? cur->serial : 0}, {"to", prev->serial}});
  std::string detail;
  const auto rr = request_reload(ctx.socket_path, opt.reload_timeout_ms, detail);
  std::printf(
      "hedge rollback: now serving serial %llu (was %s)%s; serial %s will not be re-installed, a newer one "
      "will\n",
      static_cast<unsigned long long>(prev->serial), cur ? std::to_string(cur->serial).c_str() : "none",
      rr == ReloadResult::reloaded      ? "; resolver reloaded"
      : rr == ReloadResult::not_running ? "; no resolver running (the next start loads it)"
                                        : ("; resolver did NOT reload: " + detail).c_str(),
      cur ? std::to_string(cur->serial).c_str() : "-");
  return rr == ReloadResult::failed ? 1 : 0;
}

int run_publish(const PublishOptions& opt) {
  auto bad = [&](const std::string& msg) {
    std::fprintf(stderr, "hedge publish: FAILED: %s; the webroot is unchanged\n", msg.c_str());
    return 1;
  };
  std::string manifest, sig, err;
  if (!read_text(opt.bundle + "/manifest.json", manifest))
    return bad(opt.bundle + "/manifest.json: cannot read");
  if (!read_text(opt.bundle + "/manifest.sig", sig))
    return bad(opt.bundle +
               "/manifest.sig: missing (compile with --sign KEY: boxes install only signed bundles)");
  if (!opt.pubkey.empty() &&
      !lists::signing::verify_digest(opt.pubkey, util::sha256(manifest), {sig.begin(), sig.end()}, err))
    return bad(opt.bundle + ": " + err);
  ManifestInfo mi;
  if (!parse_manifest(manifest, mi, err)) return bad(opt.bundle + "/manifest.json: " + err);
  for (const auto& fe : mi.files) {
    uint64_t size = 0;
    auto h = util::sha256_file(opt.bundle + "/" + fe.name, err, &size);
    if (!h) return bad(err);
    if (size != fe.size || util::to_hex(*h) != fe.sha256)
      return bad(opt.bundle + "/" + fe.name + ": differs from the manifest (changed after compiling?)");
  }
  std::error_code ec;
  fs::create_directories(opt.webroot, ec);
  if (ec) return bad(opt.webroot + ": " + ec.message());
  const std::string serial = std::to_string(mi.serial);
  const std::string pointer = opt.webroot + "/" + mi.channel + ".json";
  std::string old;
  if (read_text(pointer, old)) {
    if (auto p = parse_pointer(old, err); p && p->serial >= mi.serial)
      return bad(pointer + " already announces serial " + std::to_string(p->serial) +
                 (p->serial == mi.serial ? " (already published)" : ", newer than " + serial));
  }
  const std::string dest = opt.webroot + "/" + serial;
  if (fs::exists(dest, ec)) fs::remove_all(dest, ec);  // an unannounced left-over of an earlier try
  // Files into a hidden folder, renamed into place whole, then the pointer:
  // a box polling meanwhile sees the old pointer (and its folder) or the new.
  std::string tmp = opt.webroot + "/." + serial + ".tmp-XXXXXX";
  if (!::mkdtemp(tmp.data())) return bad(tmp + ": " + std::strerror(errno));
  ::chmod(tmp.c_str(), 0755);
  StagingGuard guard{tmp};
  std::vector<std::string> names = {"manifest.json", "manifest.sig"};
  for (const auto& fe : mi.files) names.push_back(fe.name);
  for (const auto& n : names) {
    fs::copy_file(opt.bundle + "/" + n, tmp + "/" + n, ec);
    if (ec) return bad(tmp + "/" + n + ": " + ec.message());
    ::chmod((tmp + "/" + n).c_str(), 0644);
    if (!fsync_path(tmp + "/" + n, false, err)) return bad(err);
  }
  if (!fsync_path(tmp, true, err)) return bad(err);
  if (::rename(tmp.c_str(), dest.c_str()) != 0) return bad(dest + ": rename: " + std::strerror(errno));
  guard.path.clear();
  const std::string ptmp = opt.webroot + "/." + mi.channel + ".json.tmp";
  ::unlink(ptmp.c_str());
  if (!write_file(ptmp, pointer_json(mi.serial, mi.channel, util::iso_utc(mi.created)), err)) return bad(err);
  ::chmod(ptmp.c_str(), 0644);
  // Web servers derive ETag and Last-Modified from the mtime in whole seconds
  // (and the size, which rarely changes): a pointer replaced within the same
  // second would look unchanged to a box's conditional GET. Move its mtime
  // past the old pointer's.
  struct stat ost {};
  if (::stat(pointer.c_str(), &ost) == 0 && ost.st_mtime >= std::time(nullptr)) {
    const timespec times[2] = {{ost.st_mtime + 1, 0}, {ost.st_mtime + 1, 0}};
    ::utimensat(AT_FDCWD, ptmp.c_str(), times, 0);
  }
  if (::rename(ptmp.c_str(), pointer.c_str()) != 0) return bad(pointer + ": rename: " + std::strerror(errno));
  fsync_path(opt.webroot, true, err);
  // Prune old serial folders, never one a pointer names.
  std::vector<uint64_t> serials;
  std::vector<uint64_t> announced;
  for (const auto& e : fs::directory_iterator(opt.webroot, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && !n.empty() && std::all_of(n.begin(), n.end(), ::isdigit))
      serials.push_back(std::stoull(n));
    if (n.size() > 5 && n.ends_with(".json") && read_text(e.path().string(), old))
      if (auto p = parse_pointer(old, err)) announced.push_back(p->serial);
  }
  std::sort(serials.rbegin(), serials.rend());
  for (std::size_t i = opt.keep; i < serials.size(); ++i)
    if (std::find(announced.begin(), announced.end(), serials[i]) == announced.end())
      fs::remove_all(opt.webroot + "/" + std::to_string(serials[i]), ec);
  std::printf("hedge publish: serial %s on channel %s published at %s/%s/ (pointer %s; valid until %s)\n",
              serial.c_str(), mi.channel.c_str(), opt.webroot.c_str(), serial.c_str(), pointer.c_str(),
              util::iso_utc(mi.valid_until).c_str());
  return 0;
}

}  // namespace hedge::update
