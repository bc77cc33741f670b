// The C++ client of kilnd's REST API over its unix socket, for the kiln CLI, plugin containers
// and tests. Synchronous: each call returns when the exchange is over (or throws).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sys/error.hpp"

namespace kiln::api {

// The socket path of a KILN_HOST / -H value: "unix:///run/kiln/kiln.sock" or a plain absolute
// path. Anything else is invalid_argument.
std::string socket_path_from_host(std::string_view host);
// Percent-encodes one path segment or query value (an image name in /v1/images/{ref}).
std::string percent_encode(std::string_view text);

// kilnd is not there: the socket is missing, refuses, or is not ours to open.
class ConnectionError : public Error {
public:
    ConnectionError(const std::string& socket_path, int err);
    int err() const noexcept { return err_; }

private:
    int err_;
};

struct ClientResult {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // names in lower case

    bool ok() const { return status >= 200 && status < 300; }
    // The body as JSON (null when empty); internal when the server sent something else.
    nlohmann::json json() const;
};

// The error a non-2xx response stands for: the category from its "code" (or, for the
// framework's own codes, from the status), the message from its "message".
Error error_of(const ClientResult& result);

// One WebSocket (exec, attach) on a connection of its own, served by a thread of its own:
// one thread may receive while others send.
class WebSocketClient {
public:
    struct Message {
        bool text = false;
        std::string data;
    };
    ~WebSocketClient();
    WebSocketClient(const WebSocketClient&) = delete;
    WebSocketClient& operator=(const WebSocketClient&) = delete;

    // Returns once the frame is written; false once the connection is closed (or when the
    // write took longer than the client's timeout, which drops the connection).
    bool send_binary(std::string_view data);
    bool send_text(std::string_view data);
    // The next message; nullopt when none came within `timeout`, or when the connection is
    // closed (closed() tells which, close_code() and close_reason() say how).
    std::optional<Message> receive(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
    // The connection is closed and every message that came before has been received.
    bool closed() const;
    // Sends a normal close and waits (within the client's timeout) for the server's.
    void close();
    int close_code() const;  // 0 while open or when the connection dropped without a close frame
    std::string close_reason() const;

    struct Impl;
    explicit WebSocketClient(std::unique_ptr<Impl> impl);

private:
    std::unique_ptr<Impl> impl_;
};

class Client {
public:
    using Result = ClientResult;

    explicit Client(std::string socket_path);
    ~Client();
    Client(Client&&) noexcept;
    Client& operator=(Client&&) noexcept;

    const std::string& socket_path() const { return socket_path_; }
    // An upper bound for each wait on the server (a response, a chunk of a stream, a
    // handshake); zero, the default, waits as long as the server takes.
    void set_timeout(std::chrono::milliseconds timeout) { timeout_ = timeout; }

    // One exchange, on a connection kept alive between calls. Connection failures throw
    // ConnectionError; any HTTP status is returned.
    Result request(const std::string& method, const std::string& target,
                   const std::optional<nlohmann::json>& body = std::nullopt);
    Result request(const std::string& method, const std::string& target, std::string body,
                   const std::string& content_type);
    // request() that returns the JSON body of a 2xx response and throws error_of() otherwise.
    nlohmann::json call(const std::string& method, const std::string& target,
                        const std::optional<nlohmann::json>& body = std::nullopt);
    // GET of a streaming body (logs?follow=true, events): `on_data` gets the bytes as they
    // arrive and returns false to stop. A non-2xx answer throws error_of().
    void stream(const std::string& target, const std::function<bool(std::string_view)>& on_data);
    // The same with any method and a JSON body (POST /v1/images/pull).
    void stream(const std::string& method, const std::string& target, const std::optional<nlohmann::json>& body,
                const std::function<bool(std::string_view)>& on_data);
    // A WebSocket on `target`; a refused upgrade throws error_of() the server's answer.
    std::unique_ptr<WebSocketClient> websocket(const std::string& target);

    struct Connection;

private:
    Result exchange(const std::string& method, const std::string& target, const std::string* body,
                    const std::string& content_type);
    Connection& connection();

    std::string socket_path_;
    std::chrono::milliseconds timeout_{0};
    std::unique_ptr<Connection> connection_;
};

// Splits a text/event-stream body, fed in pieces as they arrive, into events.
class SseParser {
public:
    struct Event {
        std::string id;
        std::string event;
        std::string data;  // data lines joined with "\n"
    };
    std::vector<Event> feed(std::string_view chunk);

private:
    void line(std::string_view text, std::vector<Event>& out);
    std::string pending_;
    Event current_;
    bool has_data_ = false;
};

}  // namespace kiln::api
