// What long-running handlers write to: a chunked HTTP body or a WebSocket. Both are used from the
// handler's own thread and are thread-safe; the session's strand does the socket work.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::api {

// The body of a streaming response (chunked). The status line and headers go out with the first
// write, so a handler that throws before writing gets an ordinary error response.
class StreamWriter {
public:
    virtual ~StreamWriter() = default;
    // Queues a chunk. Blocks while the client is behind by more than the server's stream buffer;
    // false once the client is gone (or the server stops), and every later write fails too.
    // An empty chunk only sends the headers: the client then knows the stream has started.
    virtual bool write(std::string_view chunk) = 0;
    virtual bool closed() const = 0;
    // Called once when the client goes away or the server stops (at once if already closed),
    // e.g. to wake a handler blocked elsewhere. Runs on a server thread: keep it short.
    virtual void on_close(std::function<void()> callback) = 0;
};

// The server side of a WebSocket (exec, attach): binary frames carry data, text frames JSON
// control messages.
class WebSocket {
public:
    struct Message {
        bool text = false;
        std::string data;
    };
    virtual ~WebSocket() = default;
    // Block while the client is behind, like StreamWriter::write; false once closed.
    virtual bool send_binary(std::string_view data) = 0;
    virtual bool send_text(std::string_view data) = 0;
    // The next message; nullopt when none came within `timeout` or when the connection is closed
    // and every message received before has been returned (closed() tells which).
    virtual std::optional<Message> receive(std::chrono::milliseconds timeout) = 0;
    // The handler closed it, or the client is gone and every message it sent before has been
    // received: a loop `while (!ws.closed())` loses nothing.
    virtual bool closed() const = 0;
    // Sends a close frame after what is queued (1000 normal closure); the handler returning does
    // the same, and a handler that throws closes with 1011 and the exception's message.
    virtual void close() = 0;
    virtual void on_close(std::function<void()> callback) = 0;
};

// One server-sent event ("id: ...", "event: ...", a "data: " line per line of `data`, a blank
// line), for handlers of text/event-stream routes. An empty id or event is left out.
std::string sse_event(std::string_view data, std::string_view id = {}, std::string_view event = {});

}  // namespace kiln::api
