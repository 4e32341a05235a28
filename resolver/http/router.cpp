// http/router: method and path dispatch.
#include "http/router.hpp"

namespace hedge::http {

Router& Router::add(std::string method, std::string path, Fn fn) {
  Route r;
  r.method = std::move(method);
  if (path.size() >= 2 && path.compare(path.size() - 2, 2, "/*") == 0) {
    path.pop_back();
    r.prefix = true;
  }
  r.path = std::move(path);
  r.fn = std::move(fn);
  m_routes.push_back(std::move(r));
  return *this;
}

Router& Router::fallback(Fn fn) {
  m_fallback = std::move(fn);
  return *this;
}

Response text_response(int status, std::string body) {
  Response r(status, "text/plain; charset=utf-8", std::move(body));
  r.set("Cache-Control", "no-store");
  r.set("X-Content-Type-Options", "nosniff");
  return r;
}

void Router::handle(Request&& req, Reply reply) noexcept {
  try {
    const std::string method = req.method == "HEAD" ? std::string("GET") : req.method;
    std::string allow;
    for (const auto& r : m_routes) {
      const bool match = r.prefix ? req.path.compare(0, r.path.size(), r.path) == 0 : req.path == r.path;
      if (!match) continue;
      if (r.method == method) {
        r.fn(std::move(req), reply);
        return;
      }
      allow += (allow.empty() ? "" : ", ") + r.method;
    }
    if (!allow.empty()) {
      Response resp = text_response(405, "method not allowed\n");
      resp.set("Allow", allow);
      reply.send(std::move(resp));
      return;
    }
    if (m_fallback) {
      m_fallback(std::move(req), reply);
      return;
    }
    reply.send(text_response(404, "not found\n"));
  } catch (...) {
    // A handler must not take the listener down (bad_alloc, a bug): answer 500.
    reply.send(text_response(500, "internal error\n"));
  }
}

}  // namespace hedge::http
