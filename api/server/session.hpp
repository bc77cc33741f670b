// Internal to the server (included by its .cpp files only, never by a public header): what the
// listener and the sessions share, and the entry points of the HTTP and WebSocket sessions.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "api/server/handler_threads.hpp"
#include "api/server/router.hpp"
#include "api/server/server.hpp"

namespace kiln::api::detail {

using Socket = boost::asio::local::stream_protocol::socket;
using Clock = std::chrono::steady_clock;

struct SessionContext {
    ServerOptions options;
    std::shared_ptr<const Router> router;
    HandlerThreads threads;
    std::atomic<std::uint64_t> next_connection{1};

    void log_access(std::string_view method, std::string_view path, int status, Clock::time_point since,
                    std::uint64_t connection) const;
};

// Every failure of a socket operation goes through here: a client that leaves is routine,
// anything else is worth a warning.
void fail(const boost::system::error_code& ec, std::string_view what);

// Serves HTTP/1.1 on an accepted connection until it closes. The socket's executor is the
// session's strand.
void start_http_session(Socket socket, std::shared_ptr<SessionContext> context);

// Takes over a connection whose request asked for a WebSocket on a route that serves one.
void start_websocket_session(Socket socket, boost::beast::http::request<boost::beast::http::string_body> upgrade,
                             Request request, const WebSocketHandler* handler,
                             std::shared_ptr<SessionContext> context, std::uint64_t connection,
                             Clock::time_point started);

}  // namespace kiln::api::detail
