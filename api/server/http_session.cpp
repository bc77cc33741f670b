// One HTTP/1.1 connection: read a request (idle, then read timeout), dispatch it, write the
// response (write timeout), again while kept alive. Streaming routes hand the body to a handler
// thread through a Channel; WebSocket routes hand the whole connection to a WebSocket session.
#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include "api/server/errors.hpp"
#include "api/server/session.hpp"
#include "core/sys/log.hpp"

namespace kiln::api::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

void SessionContext::log_access(std::string_view method, std::string_view path, int status,
                                Clock::time_point since, std::uint64_t connection) const {
    if (!options.access_log) return;
    AccessRecord record;
    record.method = method;
    record.path = path;
    record.status = status;
    record.duration = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since);
    record.connection = connection;
    try {
        options.access_log(record);
    } catch (const std::exception& e) {
        log::warn(std::string("access log: ") + e.what());
    }
}

void fail(const error_code& ec, std::string_view what) {
    if (ec == net::error::operation_aborted) return;
    const bool routine = ec == net::error::eof || ec == net::error::connection_reset ||
                         ec == net::error::broken_pipe || ec == http::error::end_of_stream;
    const std::string message = "api: " + std::string(what) + ": " + ec.message();
    if (routine)
        log::debug(message);
    else
        log::warn(message);
}

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(Socket socket, std::shared_ptr<SessionContext> context)
        : socket_(std::move(socket)),
          timer_(socket_.get_executor()),
          context_(std::move(context)),
          options_(context_->options),
          connection_(context_->next_connection++) {}

    void run() {
        net::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
    }

private:
    // A deadline for the operation(s) started next; on expiry they are cancelled and
    // timed_out_ tells their handler why.
    void arm(std::chrono::milliseconds timeout) {
        timed_out_ = false;
        const std::uint64_t generation = ++deadline_generation_;
        timer_.expires_after(timeout);
        timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
            if (ec || generation != self->deadline_generation_) return;
            self->timed_out_ = true;
            error_code ignored;
            self->socket_.cancel(ignored);
        });
    }
    void disarm() {
        ++deadline_generation_;
        timer_.cancel();
    }

    void wait_for_request() {
        if (buffer_.size() > 0) return read_request();
        // Between requests only the idle timeout applies; the read timeout starts with the
        // first byte of a request.
        arm(options_.idle_timeout);
        socket_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](error_code ec, std::size_t n) {
            self->disarm();
            if (ec) {
                if (!self->timed_out_) fail(ec, "wait for request");
                return self->close();
            }
            self->buffer_.commit(n);
            self->read_request();
        });
    }

    void read_request() {
        started_ = Clock::now();
        parser_.emplace();
        parser_->body_limit(options_.max_body_bytes);
        parser_->header_limit(64 * 1024);
        arm(options_.read_timeout);
        http::async_read_header(socket_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
            if (ec) return self->read_failed(ec);
            self->read_body();
        });
    }

    void read_body() {
        auto& req = parser_->get();
        auto expect = req.find(http::field::expect);
        if (expect != req.end() && lower(expect->value()) == "100-continue" && !parser_->is_done()) {
            continue_.emplace(http::status::continue_, req.version());
            http::async_write(socket_, *continue_, [self = shared_from_this()](error_code ec, std::size_t) {
                if (ec) {
                    self->disarm();
                    fail(ec, "write 100-continue");
                    return self->close();
                }
                self->read_rest();
            });
            return;
        }
        read_rest();
    }

    void read_rest() {
        http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
            if (ec) return self->read_failed(ec);
            self->disarm();
            self->handle_request();
        });
    }

    void read_failed(error_code ec) {
        disarm();
        keep_alive_ = false;
        if (timed_out_ && ec == net::error::operation_aborted) {
            return respond(error_response(HttpFailure::request_timeout,
                                          "the request did not arrive within " +
                                              std::to_string(options_.read_timeout.count()) + " ms"),
                           {}, {});
        }
        if (ec == http::error::body_limit) {
            return respond(error_response(HttpFailure::payload_too_large,
                                          "the body is larger than " + std::to_string(options_.max_body_bytes) +
                                              " bytes"),
                           method_of_partial(), path_of_partial());
        }
        if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == net::error::eof ||
            ec == net::error::connection_reset) {
            fail(ec, "read request");
            return close();
        }
        if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
            return respond(error_response(HttpFailure::malformed_request, "malformed request: " + ec.message()),
                           method_of_partial(), path_of_partial());
        }
        fail(ec, "read request");
        close();
    }

    std::string method_of_partial() const {
        return parser_ && parser_->is_header_done() ? std::string(parser_->get().method_string()) : std::string();
    }
    std::string path_of_partial() const {
        if (!parser_ || !parser_->is_header_done()) return {};
        auto target = parser_->get().target();
        return std::string(target.substr(0, target.find('?')));
    }

    void handle_request() {
        auto& message = parser_->get();
        keep_alive_ = message.keep_alive();
        Request req;
        try {
            req = Request::from_target(std::string(message.method_string()), message.target());
        } catch (const std::exception& e) {
            return respond(error_response(HttpFailure::malformed_request, e.what()),
                           std::string(message.method_string()), std::string(message.target()));
        }
        for (const auto& field : message) {
            auto [it, inserted] = req.headers.emplace(lower(field.name_string()), std::string(field.value()));
            if (!inserted) it->second.append(", ").append(field.value());
        }
        req.body = std::move(message.body());

        Router::Match match = context_->router->dispatch(req);
        switch (match.kind) {
            case Router::Match::Kind::response:
                return respond(std::move(match.response), req.method, req.path);
            case Router::Match::Kind::slow: return start_slow(*match.slow, std::move(req));
            case Router::Match::Kind::stream: return start_stream(match, std::move(req));
            case Router::Match::Kind::websocket:
                disarm();
                return start_websocket_session(std::move(socket_), parser_->release(), std::move(req),
                                               match.websocket, context_, connection_, started_);
        }
    }

    http::response<http::string_body> to_message(Response&& res) {
        http::response<http::string_body> out;
        out.version(11);
        out.result(static_cast<unsigned>(res.status));
        out.set(http::field::server, "kilnd");
        if (!res.content_type.empty()) out.set(http::field::content_type, res.content_type);
        for (auto& [name, value] : res.headers) out.set(name, value);
        out.body() = std::move(res.body);
        return out;
    }

    void respond(Response res, std::string method, std::string path) {
        log_method_ = std::move(method);
        log_path_ = std::move(path);
        response_ = to_message(std::move(res));
        response_.keep_alive(keep_alive_);
        response_.prepare_payload();
        arm(options_.write_timeout);
        http::async_write(socket_, response_, [self = shared_from_this()](error_code ec, std::size_t) {
            self->disarm();
            self->context_->log_access(self->log_method_, self->log_path_, ec ? 0 : self->response_.result_int(),
                                       self->started_, self->connection_);
            if (ec) {
                fail(ec, "write response");
                return self->close();
            }
            if (!self->response_.keep_alive()) return self->close();
            self->response_ = {};
            self->wait_for_request();
        });
    }

    // The handler runs on a thread of its own; its response comes back to the strand. Nothing
    // is read meanwhile, so a client that leaves is noticed only when the response is written.
    void start_slow(const Handler& handler, Request req) {
        std::string method = req.method;
        std::string path = req.path;
        auto started = context_->threads.spawn(
            nullptr, [self = shared_from_this(), handler = &handler, req = std::move(req)]() mutable {
                Response res = run_handler(*handler, req);
                auto executor = self->socket_.get_executor();
                net::post(executor, [self = std::move(self), res = std::move(res), req = std::move(req)]() mutable {
                    self->respond(std::move(res), std::move(req.method), std::move(req.path));
                });
            });
        if (!started) {
            keep_alive_ = false;
            respond(error_response(Error(Errc::failed_precondition, "the server is stopping")), std::move(method),
                    std::move(path));
        }
    }

    // --- streaming responses -------------------------------------------------------------

    void start_stream(const Router::Match& match, Request req) {
        log_method_ = req.method;
        log_path_ = req.path;
        stream_content_type_ = match.content_type;
        std::weak_ptr<HttpSession> weak = weak_from_this();
        auto executor = socket_.get_executor();
        channel_ = std::make_shared<Channel>(
            options_.stream_buffer_bytes,
            [weak, executor] {
                net::post(executor, [weak] {
                    if (auto self = weak.lock()) self->pump_stream();
                });
            },
            [] {});
        const StreamHandler* handler = match.stream;
        auto started = context_->threads.spawn(
            channel_, [channel = channel_, handler, req = std::move(req), context = context_] {
                ChannelStreamWriter writer(channel);
                try {
                    (*handler)(req, writer);
                    channel->end(nullptr);
                } catch (...) {
                    channel->end(std::current_exception());
                }
            });
        if (!started) {
            keep_alive_ = false;
            channel_.reset();
            return respond(error_response(Error(Errc::failed_precondition, "the server is stopping")), log_method_,
                           log_path_);
        }
        watch_disconnect();
    }

    // A streaming client sends nothing more; a read that completes means it went away. What
    // it might send is discarded, since the connection closes after the stream.
    void watch_disconnect() {
        socket_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](error_code ec, std::size_t) {
            if (!ec && !self->stream_done_) return self->watch_disconnect();
            if (ec && !self->stream_done_) fail(ec, "stream client");
            self->end_stream(0);
        });
    }

    void pump_stream() {
        if (writing_ || stream_done_ || !channel_) return;
        auto item = channel_->next();
        if (!item) return;
        current_ = std::move(*item);
        write_current();
    }

    void write_current() {
        using Kind = Channel::Item::Kind;
        if (!headers_sent_) {
            if (current_.kind == Kind::end && current_.error) {
                // Nothing went out yet: the failure is an ordinary error response.
                Response res = error_response(current_.error);
                stream_done_ = true;
                const int status = res.status;
                response_ = to_message(std::move(res));
                response_.keep_alive(false);
                response_.prepare_payload();
                writing_ = true;
                arm(options_.write_timeout);
                http::async_write(socket_, response_, [self = shared_from_this(), status](error_code ec, std::size_t) {
                    self->writing_ = false;
                    self->disarm();
                    if (ec) fail(ec, "write stream error");
                    self->end_stream(ec ? 0 : status);
                });
                return;
            }
            stream_header_.version(11);
            stream_header_.result(http::status::ok);
            stream_header_.set(http::field::server, "kilnd");
            stream_header_.set(http::field::content_type, stream_content_type_);
            if (stream_content_type_.rfind("text/event-stream", 0) == 0)
                stream_header_.set(http::field::cache_control, "no-cache");
            stream_header_.keep_alive(false);
            stream_header_.chunked(true);
            serializer_.emplace(stream_header_);
            writing_ = true;
            arm(options_.write_timeout);
            http::async_write_header(socket_, *serializer_, [self = shared_from_this()](error_code ec, std::size_t) {
                self->writing_ = false;
                self->disarm();
                if (ec) {
                    fail(ec, "write stream header");
                    return self->end_stream(0);
                }
                self->headers_sent_ = true;
                self->write_current();
            });
            return;
        }
        if (current_.kind == Kind::end) {
            stream_done_ = true;
            if (current_.error) {
                // After the headers a failure can only cut the body short, without the last
                // chunk, so that the client sees an incomplete response rather than a clean end.
                try {
                    std::rethrow_exception(current_.error);
                } catch (const std::exception& e) {
                    log::warn("api: stream " + log_path_ + " failed: " + e.what());
                } catch (...) {
                }
                return end_stream(200);
            }
            writing_ = true;
            arm(options_.write_timeout);
            net::async_write(socket_, http::make_chunk_last(), [self = shared_from_this()](error_code ec, std::size_t) {
                self->writing_ = false;
                self->disarm();
                if (ec) fail(ec, "write last chunk");
                self->end_stream(200);
            });
            return;
        }
        if (current_.data.empty()) {
            // write(""): the headers are out, nothing else to send.
            return pump_stream();
        }
        writing_ = true;
        arm(options_.write_timeout);
        net::async_write(socket_, http::make_chunk(net::buffer(current_.data)),
                         [self = shared_from_this()](error_code ec, std::size_t) {
                             self->writing_ = false;
                             self->disarm();
                             if (ec) {
                                 if (self->timed_out_)
                                     log::debug("api: stream client too slow, closing " + self->log_path_);
                                 else
                                     fail(ec, "write chunk");
                                 return self->end_stream(200);
                             }
                             self->current_ = {};
                             self->pump_stream();
                         });
    }

    // The stream is over, for whatever reason: tell the handler, log once, close.
    void end_stream(int status) {
        stream_done_ = true;
        if (channel_) channel_->close();
        if (!stream_logged_) {
            stream_logged_ = true;
            context_->log_access(log_method_, log_path_, headers_sent_ ? 200 : status, started_, connection_);
        }
        close();
    }

    void close() {
        error_code ignored;
        timer_.cancel();
        socket_.shutdown(Socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

    Socket socket_;
    net::steady_timer timer_;
    std::shared_ptr<SessionContext> context_;
    const ServerOptions& options_;
    const std::uint64_t connection_;
    std::uint64_t deadline_generation_ = 0;
    bool timed_out_ = false;

    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::optional<http::response<http::empty_body>> continue_;
    http::response<http::string_body> response_;
    bool keep_alive_ = true;
    Clock::time_point started_;
    std::string log_method_;
    std::string log_path_;

    std::shared_ptr<Channel> channel_;
    std::string stream_content_type_;
    http::response<http::empty_body> stream_header_;
    std::optional<http::response_serializer<http::empty_body>> serializer_;
    Channel::Item current_;
    std::array<char, 512> scratch_{};
    bool headers_sent_ = false;
    bool writing_ = false;
    bool stream_done_ = false;
    bool stream_logged_ = false;
};

}  // namespace

void start_http_session(Socket socket, std::shared_ptr<SessionContext> context) {
    std::make_shared<HttpSession>(std::move(socket), std::move(context))->run();
}

}  // namespace kiln::api::detail
