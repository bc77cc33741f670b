// kilnd's REST server: Beast on Asio over a unix socket. A listener and a session per connection,
// each on its own strand; plain handlers run on the Asio threads, streaming and WebSocket
// handlers on their own threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/server/router.hpp"

namespace kiln::api {

// One finished exchange, for the daemon's access log and request counters.
struct AccessRecord {
    std::string_view method;  // empty when the request could not be read
    std::string_view path;
    int status = 0;           // 101 for a WebSocket, 0 when no response could be sent
    std::chrono::microseconds duration{0};  // from the request's arrival; a stream's whole life
    std::uint64_t connection = 0;           // the same for requests on one kept-alive connection
};

struct ServerOptions {
    std::string socket_path;
    unsigned mode = 0660;
    std::string group;  // owner group of the socket; empty keeps the process's
    std::size_t max_body_bytes = 1 << 20;
    // A request must arrive whole within read_timeout of its first byte; a kept-alive connection
    // may wait idle_timeout for the next request; a client must take a response (or the next
    // chunk of a stream) within write_timeout. WebSockets ping after idle_timeout of silence.
    std::chrono::milliseconds read_timeout = std::chrono::seconds(30);
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(120);
    std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
    int threads = 2;
    // How far a streaming or WebSocket handler may run ahead of its client before its writes block.
    std::size_t stream_buffer_bytes = 256 << 10;
    // Called on server threads, possibly at the same time from several: keep it short.
    std::function<void(const AccessRecord&)> access_log;
};

class Server {
public:
    Server(ServerOptions options, std::shared_ptr<const Router> router);
    ~Server();  // stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens, then serves on options.threads threads. A stale socket file is replaced;
    // already_exists if another server answers on the path, failed_precondition if the path is
    // something other than a socket. Mode and group are applied before the socket appears at
    // its path.
    void start();
    // Only binds and listens: the socket exists and connections wait in its backlog until
    // start() (which then does not bind again). For a daemon whose start-up needs the path.
    void listen();
    // Stops accepting, closes every connection and handler channel, joins every thread and
    // removes the socket file. Streaming and WebSocket handlers must return once their writer
    // reports closed. Idempotent; a stopped server does not start again.
    void stop();

    const ServerOptions& options() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::api
