// The client side of exec and attach WebSockets. After the handshake the connection's
// io_context runs on a thread of its own: it keeps a read pending (answering the server's
// pings, filling a bounded inbox) and performs the writes callers queue, so one thread may
// receive while another sends.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "api/client/client.hpp"
#include "api/client/connection.hpp"

namespace kiln::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

// How far the server may run ahead of a caller that does not receive before reading pauses.
constexpr std::size_t inbox_limit = 4 << 20;

// receive()'s timeout: milliseconds::max() (the default) waits for ever.
Clock::time_point deadline_after(std::chrono::milliseconds timeout) {
    return timeout >= std::chrono::hours(24 * 365) ? Clock::time_point::max() : Clock::now() + timeout;
}

// The client's timeout: zero is none.
Clock::time_point deadline_within(std::chrono::milliseconds limit) {
    return limit.count() <= 0 ? Clock::time_point::max() : deadline_after(limit);
}

// Waits for `ready` until `deadline`; time_point::max() is for ever, without the arithmetic that
// a deadline that far out would overflow.
template <class Ready>
bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, Clock::time_point deadline,
                Ready ready) {
    if (deadline == Clock::time_point::max()) {
        cv.wait(lock, ready);
        return true;
    }
    return cv.wait_until(lock, deadline, ready);
}

}  // namespace

struct WebSocketClient::Impl {
    // A send or the close, queued for the io thread; `done` is set under the mutex.
    struct Pending {
        bool close = false;
        bool text = false;
        std::string data;
        bool done = false;
        error_code error;
    };

    explicit Impl(std::unique_ptr<Client::Connection> c)
        : connection(std::move(c)), io(connection->io), ws(std::move(connection->socket)) {}

    ~Impl() { stop(); }

    // The handshake, on the caller's thread before start().
    template <class Initiate>
    error_code run(Initiate&& initiate) {
        bool done = false;
        error_code result;
        std::forward<Initiate>(initiate)([&done, &result](error_code ec, auto&&...) {
            done = true;
            result = ec;
        });
        if (!connection->run_until(done, deadline_within(connection->timeout))) {
            connection->timed_out = true;
            error_code ignored;
            beast::get_lowest_layer(ws).close(ignored);
            connection->run_until(done, Clock::time_point::max());
        }
        return result;
    }

    void start() {
        reading = true;
        io.restart();
        net::post(io, [this] { read(); });
        io_thread = std::thread([this] {
            auto work = net::make_work_guard(io);
            io.run();
        });
    }

    void stop() {
        if (!io_thread.joinable()) return;
        net::post(io, [this] {
            error_code ignored;
            beast::get_lowest_layer(ws).close(ignored);
        });
        {
            // Closing the socket completes what is pending at once; the bound is for safety.
            std::unique_lock lock(mutex);
            changed.wait_for(lock, std::chrono::seconds(5), [&] { return !reading && !writing; });
        }
        io.stop();
        io_thread.join();
    }

    // --- on the io thread ---

    void read() {
        ws.async_read(inbound, [this](error_code ec, std::size_t) {
            if (ec) {
                std::lock_guard lock(mutex);
                reading = false;
                mark_closed();
                changed.notify_all();
                return;
            }
            Message message{ws.got_text(), beast::buffers_to_string(inbound.data())};
            inbound.consume(inbound.size());
            bool more;
            {
                std::lock_guard lock(mutex);
                inbox_bytes += message.data.size();
                inbox.push_back(std::move(message));
                more = inbox_bytes < inbox_limit;
                if (!more) reading = false;
                changed.notify_all();
            }
            if (more) read();
        });
    }

    void write_next() {
        std::shared_ptr<Pending> pending;
        {
            std::lock_guard lock(mutex);
            if (writes.empty()) {
                writing = false;
                changed.notify_all();
                return;
            }
            writing = true;
            pending = writes.front();
        }
        auto finish = [this, pending](error_code ec) {
            {
                std::lock_guard lock(mutex);
                writes.pop_front();
                pending->done = true;
                pending->error = ec;
                if (ec) mark_closed();
                changed.notify_all();
            }
            write_next();
        };
        if (pending->close) {
            ws.async_close(websocket::close_code::normal, finish);
        } else {
            ws.text(pending->text);
            ws.async_write(net::buffer(pending->data), [finish](error_code ec, std::size_t) { finish(ec); });
        }
    }

    // Under the mutex, on the io thread (ws.reason() is only read there).
    void mark_closed() {
        if (closed) return;
        closed = true;
        close_code = ws.reason().code;
        close_reason = std::string(ws.reason().reason.c_str());
    }

    // --- on callers' threads ---

    // Queues a send or the close and waits for it within the client's timeout.
    bool submit(std::shared_ptr<Pending> pending) {
        {
            std::lock_guard lock(mutex);
            if (closed) return false;
            writes.push_back(pending);
            // `writing` stays set while a chain of write_next runs on the io thread.
            if (!writing) {
                writing = true;
                net::post(io, [this] { write_next(); });
            }
        }
        std::unique_lock lock(mutex);
        if (!wait_until(changed, lock, deadline_within(connection->timeout), [&] { return pending->done; })) {
            // Too slow: the connection is dropped (a WebSocket cannot take back half a frame).
            closed = true;
            lock.unlock();
            net::post(io, [this] {
                error_code ignored;
                beast::get_lowest_layer(ws).close(ignored);
            });
            return false;
        }
        return !pending->error;
    }

    std::unique_ptr<Client::Connection> connection;
    net::io_context& io;
    websocket::stream<net::local::stream_protocol::socket> ws;
    beast::flat_buffer inbound;  // io thread only
    std::thread io_thread;

    std::mutex mutex;
    std::condition_variable changed;
    std::deque<Message> inbox;
    std::size_t inbox_bytes = 0;
    std::deque<std::shared_ptr<Pending>> writes;  // the front one is being written
    bool reading = false;
    bool writing = false;
    bool closed = false;
    int close_code = 0;
    std::string close_reason;
};

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

// Without a close frame unless close() was called: the server sees the connection end,
// which is all it needs.
WebSocketClient::~WebSocketClient() = default;

bool WebSocketClient::send_binary(std::string_view data) {
    auto pending = std::make_shared<Impl::Pending>();
    pending->data = std::string(data);
    return impl_->submit(std::move(pending));
}

bool WebSocketClient::send_text(std::string_view data) {
    auto pending = std::make_shared<Impl::Pending>();
    pending->text = true;
    pending->data = std::string(data);
    return impl_->submit(std::move(pending));
}

std::optional<WebSocketClient::Message> WebSocketClient::receive(std::chrono::milliseconds timeout) {
    Impl& impl = *impl_;
    std::unique_lock lock(impl.mutex);
    wait_until(impl.changed, lock, deadline_after(timeout), [&] { return impl.closed || !impl.inbox.empty(); });
    if (impl.inbox.empty()) return std::nullopt;
    Message message = std::move(impl.inbox.front());
    impl.inbox.pop_front();
    impl.inbox_bytes -= message.data.size();
    if (!impl.reading && !impl.closed && impl.inbox_bytes < inbox_limit) {
        impl.reading = true;
        net::post(impl.io, [&impl] { impl.read(); });
    }
    return message;
}

bool WebSocketClient::closed() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->closed && impl_->inbox.empty();
}

void WebSocketClient::close() {
    auto pending = std::make_shared<Impl::Pending>();
    pending->close = true;
    if (!impl_->submit(pending)) return;
    // The server's close frame completes the pending read; wait for it within the timeout.
    std::unique_lock lock(impl_->mutex);
    wait_until(impl_->changed, lock, deadline_within(impl_->connection->timeout), [&] { return !impl_->reading; });
    impl_->closed = true;
}

int WebSocketClient::close_code() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->close_code;
}

std::string WebSocketClient::close_reason() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->close_reason;
}

std::unique_ptr<WebSocketClient> Client::websocket(const std::string& target) {
    auto impl = std::make_unique<WebSocketClient::Impl>(std::make_unique<Connection>(socket_path_, timeout_));
    impl->ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "kiln/" KILN_VERSION); }));
    websocket::response_type res;
    error_code ec = impl->run([&](auto handler) { impl->ws.async_handshake(res, "kilnd", target, std::move(handler)); });
    if (ec == websocket::error::upgrade_declined) {
        ClientResult result;
        result.status = res.result_int();
        result.body = res.body();
        throw error_of(result);
    }
    if (ec) {
        if (impl->connection->timed_out)
            throw Error(Errc::internal, "kilnd at " + socket_path_ + " did not answer the WebSocket handshake within " +
                                            std::to_string(timeout_.count()) + " ms");
        throw Error(Errc::internal, "kilnd at " + socket_path_ + ": WebSocket handshake for " + target + ": " +
                                        ec.message());
    }
    impl->start();
    return std::make_unique<WebSocketClient>(std::move(impl));
}

}  // namespace kiln::api
