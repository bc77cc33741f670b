// The client side of exec and attach WebSockets. One read is kept pending across receive()
// calls, so a receive that times out loses nothing and sends can go while it waits.
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

struct WebSocketClient::Impl {
    Impl(std::unique_ptr<Client::Connection> c) : connection(std::move(c)), ws(std::move(connection->socket)) {}

    // Runs one operation to completion within the connection's timeout; past it the
    // connection is dropped (a WebSocket cannot resume a cancelled operation).
    template <class Initiate>
    error_code run(Initiate&& initiate) {
        bool done = false;
        error_code result;
        std::forward<Initiate>(initiate)([&done, &result](error_code ec, auto&&...) {
            done = true;
            result = ec;
        });
        const auto limit = connection->timeout;
        if (!connection->run_until(done, limit.count() > 0 ? Clock::now() + limit : Clock::time_point::max())) {
            connection->timed_out = true;
            drop();
            connection->run_until(done, Clock::time_point::max());
        }
        return result;
    }

    void drop() {
        error_code ignored;
        beast::get_lowest_layer(ws).close(ignored);
        closed = true;
    }

    void note_close() {
        closed = true;
        close_code = ws.reason().code;
        close_reason = std::string(ws.reason().reason.c_str());
    }

    std::unique_ptr<Client::Connection> connection;
    websocket::stream<net::local::stream_protocol::socket> ws;
    beast::flat_buffer inbound;
    bool reading = false;
    bool read_done = false;
    error_code read_error;
    bool closed = false;
    int close_code = 0;
    std::string close_reason;
};

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebSocketClient::~WebSocketClient() {
    // Without a close frame: the server sees the connection end, which is all it needs.
    if (impl_ && !impl_->closed) impl_->drop();
}

static bool send(WebSocketClient::Impl& impl, std::string_view data, bool text) {
    if (impl.closed) return false;
    impl.ws.text(text);
    error_code ec = impl.run([&](auto handler) { impl.ws.async_write(net::buffer(data), std::move(handler)); });
    if (ec) {
        impl.note_close();
        return false;
    }
    return true;
}

bool WebSocketClient::send_binary(std::string_view data) { return send(*impl_, data, false); }
bool WebSocketClient::send_text(std::string_view data) { return send(*impl_, data, true); }

std::optional<WebSocketClient::Message> WebSocketClient::receive(std::chrono::milliseconds timeout) {
    Impl& impl = *impl_;
    if (!impl.reading && !impl.read_done) {
        if (impl.closed) return std::nullopt;
        impl.reading = true;
        impl.ws.async_read(impl.inbound, [&impl](error_code ec, std::size_t) {
            impl.reading = false;
            impl.read_done = true;
            impl.read_error = ec;
        });
    }
    const auto deadline = timeout >= std::chrono::hours(24 * 365) ? Clock::time_point::max() : Clock::now() + timeout;
    if (!impl.connection->run_until(impl.read_done, deadline)) return std::nullopt;
    impl.read_done = false;
    if (impl.read_error) {
        impl.note_close();
        return std::nullopt;
    }
    Message message{impl.ws.got_text(), beast::buffers_to_string(impl.inbound.data())};
    impl.inbound.consume(impl.inbound.size());
    return message;
}

bool WebSocketClient::closed() const { return impl_->closed; }

void WebSocketClient::close() {
    Impl& impl = *impl_;
    if (impl.closed) return;
    impl.run([&](auto handler) {
        impl.ws.async_close(websocket::close_code::normal, std::move(handler));
    });
    // A pending read completes once the server's close frame is in.
    if (impl.reading) impl.connection->run_until(impl.read_done, Clock::now() + std::chrono::seconds(1));
    impl.note_close();
    impl.drop();
}

int WebSocketClient::close_code() const { return impl_->close_code; }
std::string WebSocketClient::close_reason() const { return impl_->close_reason; }

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
    return std::make_unique<WebSocketClient>(std::move(impl));
}

}  // namespace kiln::api
