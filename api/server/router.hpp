// Routes: method + path pattern ("/v1/pods/{name}/logs") -> handler. A path may have plain
// handlers for some methods, a streaming handler, and a WebSocket handler for GET with an
// Upgrade (exec: POST answers JSON, the upgrade comes as GET).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/server/message.hpp"
#include "api/server/streaming.hpp"

namespace kiln::api {

using Handler = std::function<Response(const Request&)>;
using StreamHandler = std::function<void(const Request&, StreamWriter&)>;
using WebSocketHandler = std::function<void(const Request&, WebSocket&)>;
// Runs before a WebSocket handshake; what it throws is answered as an ordinary error response
// instead of the upgrade (attach to a container that is not running: 412, not a 101 then a close).
// It runs on an Asio thread: quick checks only.
using WebSocketCheck = std::function<void(const Request&)>;

// Runs a plain handler; whatever it throws becomes the error response.
Response run_handler(const Handler& handler, const Request& req);

class Router {
public:
    Router();
    ~Router();
    Router(Router&&) noexcept;
    Router& operator=(Router&&) noexcept;

    // A pattern is absolute; a segment "{name}" captures one decoded path segment into
    // Request::params. Registering the same method twice on one pattern is invalid_argument.
    void add(std::string method, const std::string& pattern, Handler handler);
    // Like add, for handlers that may take long (starting a pod, importing an image): the
    // handler runs on a thread of its own, so that no Asio thread waits on it.
    void add_slow(std::string method, const std::string& pattern, Handler handler);
    // 200 with a chunked body of `content_type` (text/event-stream gets Cache-Control: no-cache).
    // The handler runs on its own thread; the connection closes when it returns.
    void add_stream(std::string method, const std::string& pattern, std::string content_type,
                    StreamHandler handler);
    // GET with Upgrade: websocket; the handler runs on its own thread once the handshake is done.
    void add_websocket(const std::string& pattern, WebSocketHandler handler, WebSocketCheck check = {});

    // Every route, for the API contract test: method, pattern, and "plain", "slow", "stream" or
    // "websocket" (a WebSocket route is listed as GET).
    struct RouteInfo {
        std::string method;
        std::string pattern;
        std::string kind;
    };
    std::vector<RouteInfo> routes() const;

    // What a request leads to. For response, the (plain) handler has run; for the others the
    // caller runs the handler (the params are filled into the request).
    struct Match {
        enum class Kind { response, slow, stream, websocket } kind = Kind::response;
        Response response;
        const Handler* slow = nullptr;
        const StreamHandler* stream = nullptr;
        std::string content_type;
        const WebSocketHandler* websocket = nullptr;
    };
    // Fills req.params; unknown path 404, known path with another method 405 with Allow, a
    // WebSocket-only path without an upgrade 426. Handler exceptions become error responses.
    Match dispatch(Request& req) const;

    // Request -> response without a socket, for tests: slow and stream handlers run on the
    // calling thread, a stream's chunks becoming the body; a WebSocket route answers 426.
    Response handle(const Request& req) const;

private:
    struct Route;
    std::vector<std::unique_ptr<Route>> routes_;
    Route& route_for(const std::string& pattern);
};

}  // namespace kiln::api
