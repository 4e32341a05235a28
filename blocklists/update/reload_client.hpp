// update/reload_client: asks the `hedge serve` that uses the same config to
// reload, over its control socket (resolver/net/control_socket.hpp), and
// waits for the answer. Blocking, bounded by a timeout; CLI processes only.
#pragma once

#include <cstdint>
#include <string>

namespace hedge::update {

enum class ReloadResult { reloaded, failed, not_running };

// Sends "reload\n"; the resolver answers "ok <serial>\n" once the new
// snapshot is live, or "error <why>\n". not_running: no socket or nobody
// listening (the next start loads whatever `current` names).
ReloadResult request_reload(const std::string& socket_path, int64_t timeout_ms, std::string& detail);

}  // namespace hedge::update
