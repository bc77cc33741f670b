// HTTP/1.1 exchanges with kilnd over its unix socket: requests on a kept-alive connection,
// streaming bodies, and the mapping of error responses back to kiln errors.
#include "api/client/client.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <limits>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "api/client/connection.hpp"

namespace kiln::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::optional<Errc> errc_from_name(std::string_view name) {
    for (Errc code : {Errc::not_found, Errc::already_exists, Errc::invalid_argument, Errc::failed_precondition,
                      Errc::internal})
        if (errc_name(code) == name) return code;
    return std::nullopt;
}

Errc errc_from_status(int status) {
    switch (status) {
        case 404: return Errc::not_found;
        case 409: return Errc::already_exists;
        case 412: return Errc::failed_precondition;
        default: return status >= 400 && status < 500 ? Errc::invalid_argument : Errc::internal;
    }
}

// The server closed a kept-alive connection before it saw the request (its idle timeout).
bool closed_by_server(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe;
}

[[noreturn]] void throw_io(const Client::Connection& c, const error_code& ec, const std::string& what) {
    if (c.timed_out)
        throw Error(Errc::internal, "kilnd at " + c.socket_path + " did not answer within " +
                                        std::to_string(c.timeout.count()) + " ms (" + what + ")");
    throw Error(Errc::internal, "kilnd at " + c.socket_path + ": " + what + ": " + ec.message());
}

template <class Message>
void collect_headers(const Message& message, ClientResult& result) {
    for (const auto& field : message) {
        auto [it, inserted] = result.headers.emplace(lower(field.name_string()), std::string(field.value()));
        if (!inserted) it->second.append(", ").append(field.value());
    }
}

}  // namespace

std::string percent_encode(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

std::string socket_path_from_host(std::string_view host) {
    constexpr std::string_view scheme = "unix://";
    std::string_view path = host;
    if (host.substr(0, scheme.size()) == scheme) path = host.substr(scheme.size());
    else if (host.find("://") != std::string_view::npos)
        invalid("host `" + std::string(host) + "`: only unix:// sockets are supported");
    if (path.empty() || path.front() != '/')
        invalid("host `" + std::string(host) + "`: expected unix:///path/to/socket or an absolute path");
    return std::string(path);
}

ConnectionError::ConnectionError(const std::string& socket_path, int err)
    : Error(Errc::failed_precondition, "cannot connect to kilnd at " + socket_path + ": " + std::strerror(err)),
      err_(err) {}

nlohmann::json ClientResult::json() const {
    if (body.empty()) return nullptr;
    try {
        return nlohmann::json::parse(body);
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(Errc::internal, "kilnd sent a body that is not JSON (status " + std::to_string(status) + ")");
    }
}

Error error_of(const ClientResult& result) {
    auto parsed = nlohmann::json::parse(result.body, nullptr, false);
    if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
        std::optional<Errc> code;
        if (parsed.contains("code") && parsed["code"].is_string()) code = errc_from_name(parsed["code"].get<std::string>());
        return Error(code.value_or(errc_from_status(result.status)), parsed["message"].get<std::string>());
    }
    std::string message = "kilnd answered " + std::to_string(result.status);
    if (!result.body.empty()) message += ": " + result.body.substr(0, 512);
    return Error(errc_from_status(result.status), message);
}

Client::Connection::Connection(const std::string& path, std::chrono::milliseconds limit)
    : socket_path(path), timeout(limit) {
    error_code ec;
    socket.connect(net::local::stream_protocol::endpoint(path), ec);
    if (ec) throw ConnectionError(path, ec.value());
}

bool Client::Connection::run_until(const bool& done, Clock::time_point deadline) {
    while (!done) {
        io.restart();
        const std::size_t ran = deadline == Clock::time_point::max() ? io.run_one() : io.run_one_until(deadline);
        if (done) return true;
        if (ran == 0) {
            if (io.stopped() && Clock::now() < deadline)
                throw Error(Errc::internal, "client: an operation on " + socket_path + " was lost");
            return false;
        }
    }
    return true;
}

Client::Client(std::string socket_path) : socket_path_(std::move(socket_path)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Client::Connection& Client::connection() {
    if (!connection_) connection_ = std::make_unique<Connection>(socket_path_, timeout_);
    connection_->timeout = timeout_;
    return *connection_;
}

Client::Result Client::request(const std::string& method, const std::string& target,
                               const std::optional<nlohmann::json>& body) {
    if (!body) return exchange(method, target, nullptr, {});
    const std::string text = body->dump();
    return exchange(method, target, &text, "application/json");
}

Client::Result Client::request(const std::string& method, const std::string& target, std::string body,
                               const std::string& content_type) {
    return exchange(method, target, &body, content_type);
}

nlohmann::json Client::call(const std::string& method, const std::string& target,
                            const std::optional<nlohmann::json>& body) {
    Result result = request(method, target, body);
    if (!result.ok()) throw error_of(result);
    return result.json();
}

Client::Result Client::exchange(const std::string& method, const std::string& target, const std::string* body,
                                const std::string& content_type) {
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, "kilnd");
    req.set(http::field::user_agent, "kiln/" KILN_VERSION);
    if (body) {
        req.set(http::field::content_type, content_type);
        req.body() = *body;
    }
    req.keep_alive(true);
    req.prepare_payload();

    // A kept-alive connection may have been closed by the server meanwhile: then, and only
    // then, the request goes again on a new one.
    for (int attempt = 0;; ++attempt) {
        const bool reused = connection_ != nullptr;
        Connection& c = connection();
        error_code write_ec = c.run([&](auto handler) { http::async_write(c.socket, req, std::move(handler)); });
        if (write_ec && reused && attempt == 0 && !c.timed_out && closed_by_server(write_ec)) {
            connection_.reset();
            continue;
        }
        // A failed write is not the end: a server that refuses a body (413) answers and closes
        // before it has read it all.
        http::response_parser<http::string_body> parser;
        parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        error_code ec = c.run([&](auto handler) { http::async_read(c.socket, c.buffer, parser, std::move(handler)); });
        if (ec) {
            const bool nothing_read = !parser.got_some();
            // Kept until the error is reported: `c` refers to it.
            auto dropped = std::move(connection_);
            if (reused && attempt == 0 && nothing_read && !c.timed_out && closed_by_server(ec)) continue;
            if (write_ec && !c.timed_out) throw_io(c, write_ec, "send " + method + " " + target);
            throw_io(c, ec, "read the response to " + method + " " + target);
        }
        auto& res = parser.get();
        Result result;
        result.status = res.result_int();
        collect_headers(res, result);
        result.body = std::move(res.body());
        if (!res.keep_alive() || write_ec) connection_.reset();
        return result;
    }
}

void Client::stream(const std::string& target, const std::function<bool(std::string_view)>& on_data) {
    stream("GET", target, std::nullopt, on_data);
}

void Client::stream(const std::string& method, const std::string& target, const std::optional<nlohmann::json>& body,
                    const std::function<bool(std::string_view)>& on_data) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "kilnd");
    req.set(http::field::user_agent, "kiln/" KILN_VERSION);
    req.keep_alive(true);
    if (body) {
        req.set(http::field::content_type, "application/json");
        req.body() = body->dump();
        req.prepare_payload();
    }

    // A stream ends its connection, so it gets a fresh one: no retry logic needed.
    connection_.reset();
    Connection& c = connection();
    error_code ec = c.run([&](auto handler) { http::async_write(c.socket, req, std::move(handler)); });
    if (ec) {
        auto dropped = std::move(connection_);
        throw_io(c, ec, "send " + method + " " + target);
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    ec = c.run([&](auto handler) { http::async_read_header(c.socket, c.buffer, parser, std::move(handler)); });
    if (ec) {
        auto dropped = std::move(connection_);
        throw_io(c, ec, "read the response to " + method + " " + target);
    }
    const int status = parser.get().result_int();
    const bool failed = status < 200 || status >= 300;
    std::string error_body;
    char chunk[16384];
    while (!parser.is_done()) {
        parser.get().body().data = chunk;
        parser.get().body().size = sizeof chunk;
        // read_some, not read: a read would wait for the buffer to fill.
        ec = c.run([&](auto handler) { http::async_read_some(c.socket, c.buffer, parser, std::move(handler)); });
        if (ec == http::error::need_buffer) ec = {};
        const std::size_t got = sizeof chunk - parser.get().body().size;
        if (got > 0) {
            if (failed)
                error_body.append(chunk, got);
            else if (!on_data(std::string_view(chunk, got))) {
                connection_.reset();
                return;
            }
        }
        if (ec) {
            auto dropped = std::move(connection_);
            throw_io(c, ec, "read the stream of " + method + " " + target);
        }
    }
    if (!parser.get().keep_alive()) connection_.reset();
    if (failed) {
        Result result;
        result.status = status;
        result.body = std::move(error_body);
        throw error_of(result);
    }
}

std::vector<SseParser::Event> SseParser::feed(std::string_view chunk) {
    std::vector<Event> out;
    pending_.append(chunk);
    std::size_t start = 0;
    while (true) {
        std::size_t end = pending_.find('\n', start);
        if (end == std::string::npos) break;
        std::string_view text(pending_.data() + start, end - start);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        line(text, out);
        start = end + 1;
    }
    pending_.erase(0, start);
    return out;
}

void SseParser::line(std::string_view text, std::vector<Event>& out) {
    if (text.empty()) {
        if (has_data_) out.push_back(std::move(current_));
        current_ = {};
        has_data_ = false;
        return;
    }
    if (text.front() == ':') return;  // a comment, e.g. a keep-alive
    const std::size_t colon = text.find(':');
    std::string_view field = text.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
        if (has_data_) current_.data += '\n';
        current_.data.append(value);
        has_data_ = true;
    } else if (field == "id") {
        current_.id = std::string(value);
    } else if (field == "event") {
        current_.event = std::string(value);
    }
}

}  // namespace kiln::api
