// http/router: the route table of one listener, written once where the
// listener is set up. Exact paths or prefixes ("/console/*"); HEAD is served
// by the GET route; a known path with another method gets 405 with Allow; an
// unknown path goes to the fallback (the block page answers every path) or 404.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/message.hpp"

namespace hedge::http {

class Router final : public Handler {
 public:
  using Fn = std::function<void(Request&&, Reply)>;
  // path "/x" matches exactly; "/x/*" matches "/x/" and anything under it.
  Router& add(std::string method, std::string path, Fn fn);
  Router& fallback(Fn fn);
  void handle(Request&& req, Reply reply) noexcept override;

 private:
  struct Route {
    std::string method, path;
    bool prefix = false;
    Fn fn;
  };
  std::vector<Route> m_routes;
  Fn m_fallback;
};

// A small plain-text response (errors, "ok").
Response text_response(int status, std::string body);

}  // namespace hedge::http
