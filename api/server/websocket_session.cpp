// A WebSocket connection (exec, attach): the handshake, then a read loop that feeds the
// handler's inbox (pausing while it is full) and a write loop that drains its outbox.
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "api/server/errors.hpp"
#include "api/server/session.hpp"
#include "core/sys/log.hpp"

namespace kiln::api::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using boost::system::error_code;

namespace {

class WebSocketSession : public std::enable_shared_from_this<WebSocketSession> {
public:
    WebSocketSession(Socket socket, Request request, const WebSocketHandler* handler,
                     std::shared_ptr<SessionContext> context, std::uint64_t connection, Clock::time_point started)
        : ws_(std::move(socket)),
          request_(std::move(request)),
          handler_(handler),
          context_(std::move(context)),
          connection_(connection),
          started_(started) {}

    ~WebSocketSession() {
        if (channel_) channel_->close();
        context_->log_access(request_.method, request_.path, accepted_ ? 101 : 0, started_, connection_);
    }

    void run(http::request<http::string_body> upgrade) {
        const auto& options = context_->options;
        websocket::stream_base::timeout timeout{};
        timeout.handshake_timeout = options.write_timeout;
        timeout.idle_timeout = options.idle_timeout;
        timeout.keep_alive_pings = true;
        ws_.set_option(timeout);
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& res) { res.set(http::field::server, "kilnd"); }));
        ws_.read_message_max(options.max_body_bytes);
        ws_.async_accept(upgrade, [self = shared_from_this()](error_code ec) { self->on_accept(ec); });
    }

private:
    void on_accept(error_code ec) {
        if (ec) return fail(ec, "websocket handshake");
        accepted_ = true;
        std::weak_ptr<WebSocketSession> weak = weak_from_this();
        auto executor = ws_.get_executor();
        channel_ = std::make_shared<Channel>(
            context_->options.stream_buffer_bytes,
            [weak, executor] {
                net::post(executor, [weak] {
                    if (auto self = weak.lock()) self->pump();
                });
            },
            [weak, executor] {
                net::post(executor, [weak] {
                    if (auto self = weak.lock()) self->resume_reading();
                });
            });
        auto started = context_->threads.spawn(
            channel_, [channel = channel_, handler = handler_, req = request_, context = context_] {
                ChannelWebSocket socket(channel);
                try {
                    (*handler)(req, socket);
                    channel->end(nullptr);
                } catch (...) {
                    channel->end(std::current_exception());
                }
            });
        if (!started) {
            closing_ = true;
            ws_.async_close(websocket::close_reason(websocket::close_code::going_away, "the server is stopping"),
                            [self = shared_from_this()](error_code) { self->channel_->close(); });
            return;
        }
        read();
    }

    void read() {
        ws_.async_read(inbound_, [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(error_code ec) {
        if (ec) {
            if (ec != websocket::error::closed) fail(ec, "websocket read");
            channel_->close();
            return;
        }
        WebSocket::Message message{ws_.got_text(), beast::buffers_to_string(inbound_.data())};
        inbound_.consume(inbound_.size());
        if (channel_->deliver(std::move(message)))
            read();
        else
            read_paused_ = true;
    }

    void resume_reading() {
        if (!read_paused_) return;
        read_paused_ = false;
        read();
    }

    void pump() {
        if (writing_ || closing_) return;
        auto item = channel_->next();
        if (!item) return;
        if (item->kind == Channel::Item::Kind::end) {
            closing_ = true;
            websocket::close_reason reason(websocket::close_code::normal);
            if (item->error) {
                reason.code = websocket::close_code::internal_error;
                try {
                    std::rethrow_exception(item->error);
                } catch (const std::exception& e) {
                    // A close frame's reason is at most 123 bytes.
                    reason.reason = std::string(e.what()).substr(0, 123);
                    log::warn("api: websocket " + request_.path + " failed: " + e.what());
                } catch (...) {
                }
            }
            ws_.async_close(reason, [self = shared_from_this()](error_code ec) {
                if (ec) fail(ec, "websocket close");
                self->channel_->close();
            });
            return;
        }
        current_ = std::move(*item);
        ws_.text(current_.kind == Channel::Item::Kind::text);
        writing_ = true;
        ws_.async_write(net::buffer(current_.data), [self = shared_from_this()](error_code ec, std::size_t) {
            self->writing_ = false;
            if (ec) {
                fail(ec, "websocket write");
                return self->channel_->close();
            }
            self->current_ = {};
            self->pump();
        });
    }

    websocket::stream<Socket> ws_;
    Request request_;
    const WebSocketHandler* handler_;
    std::shared_ptr<SessionContext> context_;
    const std::uint64_t connection_;
    const Clock::time_point started_;
    std::shared_ptr<Channel> channel_;
    beast::flat_buffer inbound_;
    Channel::Item current_;
    bool accepted_ = false;
    bool writing_ = false;
    bool closing_ = false;
    bool read_paused_ = false;
};

}  // namespace

void start_websocket_session(Socket socket, http::request<http::string_body> upgrade, Request request,
                             const WebSocketHandler* handler, std::shared_ptr<SessionContext> context,
                             std::uint64_t connection, Clock::time_point started) {
    std::make_shared<WebSocketSession>(std::move(socket), std::move(request), handler, std::move(context),
                                       connection, started)
        ->run(std::move(upgrade));
}

}  // namespace kiln::api::detail
