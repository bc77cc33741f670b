// Registry HTTP over Beast: one connection per request (registries serve blobs in few, large
// responses), synchronous, with socket timeouts.
#include "core/image/http.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include "core/sys/error.hpp"

namespace kiln::image::http {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bh = boost::beast::http;
using boost::system::error_code;
using tcp = net::ip::tcp;

namespace {

constexpr int kMaxRedirects = 5;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

struct Target {
    bool tls = false;
    std::string host, port, target;

    std::string authority() const {
        bool default_port = (tls && port == "443") || (!tls && port == "80");
        return default_port ? host : host + ":" + port;
    }
};

Target parse_target(const std::string& url) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) invalid("URL \"" + url + "\": " + parsed.error().message());
    Target t;
    std::string scheme = lower(parsed->scheme());
    if (scheme == "https") t.tls = true;
    else if (scheme != "http") invalid("URL \"" + url + "\": the scheme must be http or https");
    t.host = parsed->host_address();
    if (t.host.empty()) invalid("URL \"" + url + "\" has no host");
    t.port = parsed->has_port() ? std::string(parsed->port()) : (t.tls ? "443" : "80");
    t.target = parsed->encoded_target().empty() ? "/" : std::string(parsed->encoded_target());
    return t;
}

[[noreturn]] void fail(const Request& r, const std::string& step, const error_code& ec) {
    std::string why = ec.message();
    if (ec == net::error::would_block || ec == net::error::try_again || ec == net::error::timed_out) why = "timed out";
    throw Error(Errc::internal, r.method + " " + r.url + ": " + step + ": " + why);
}

// One exchange on its own connection: S is a tcp::socket or an ssl::stream over one.
template <class S>
class Exchange : public Stream {
public:
    template <class... Args>
    explicit Exchange(Request request, Args&&... args) : request_(std::move(request)), stream_(std::forward<Args>(args)...) {}

    S& stream() { return stream_; }

    void send(const Target& t) {
        bh::request<bh::empty_body> req{bh::string_to_verb(request_.method), t.target, 11};
        req.set(bh::field::host, t.authority());
        req.set(bh::field::user_agent, "kiln/" KILN_VERSION);
        req.set(bh::field::connection, "close");
        for (const auto& [k, v] : request_.headers) req.set(k, v);
        error_code ec;
        bh::write(stream_, req, ec);
        if (ec) fail(request_, "sending the request", ec);
        parser_.body_limit(boost::none);
        parser_.header_limit(64 * 1024);
        if (request_.method == "HEAD") parser_.skip(true);
        bh::read_header(stream_, buffer_, parser_, ec);
        if (ec) fail(request_, "reading the response", ec);
        const auto& msg = parser_.get();
        head_.url = request_.url;
        head_.status = msg.result_int();
        for (const auto& field : msg) {
            auto [it, inserted] = head_.headers.emplace(lower(field.name_string()), std::string(field.value()));
            if (!inserted) it->second.append(", ").append(field.value());
        }
    }

    std::size_t read(char* buf, std::size_t len) override {
        if (parser_.is_done() || len == 0) return 0;
        for (;;) {
            auto& body = parser_.get().body();
            body.data = buf;
            body.size = len;
            error_code ec;
            bh::read(stream_, buffer_, parser_, ec);
            if (ec == bh::error::need_buffer) ec = {};
            if (ec) fail(request_, "reading the body", ec);
            std::size_t n = len - body.size;
            if (n > 0 || parser_.is_done()) return n;
        }
    }

private:
    Request request_;
    S stream_;
    beast::flat_buffer buffer_;
    bh::response_parser<bh::buffer_body> parser_;
};

void set_timeouts(int fd, std::chrono::milliseconds timeout) {
    struct timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool is_redirect(unsigned status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

}  // namespace

struct Client::Impl {
    TlsOptions tls;
    std::chrono::milliseconds timeout;
    net::io_context io;
    ssl::context ssl_ctx{ssl::context::tls_client};

    void connect(tcp::socket& socket, const Request& r, const Target& t) {
        tcp::resolver resolver(io);
        error_code ec;
        auto endpoints = resolver.resolve(t.host, t.port, ec);
        if (ec) fail(r, "resolving " + t.host, ec);
        net::connect(socket, endpoints, ec);
        if (ec) fail(r, "connecting to " + t.authority(), ec);
        set_timeouts(socket.native_handle(), timeout);
    }

    std::unique_ptr<Stream> once(const Request& r, const Target& t) {
        if (!t.tls) {
            auto ex = std::make_unique<Exchange<tcp::socket>>(r, io);
            connect(ex->stream(), r, t);
            ex->send(t);
            return ex;
        }
        auto ex = std::make_unique<Exchange<ssl::stream<tcp::socket>>>(r, io, ssl_ctx);
        connect(ex->stream().next_layer(), r, t);
        if (!SSL_set_tlsext_host_name(ex->stream().native_handle(), t.host.c_str()))
            throw Error(Errc::internal, r.method + " " + r.url + ": setting the TLS server name failed");
        ex->stream().set_verify_mode(ssl::verify_peer);
        ex->stream().set_verify_callback(ssl::host_name_verification(t.host));
        error_code ec;
        ex->stream().handshake(ssl::stream_base::client, ec);
        if (ec) fail(r, "TLS handshake with " + t.authority(), ec);
        ex->send(t);
        return ex;
    }
};

Client::Client(TlsOptions tls, std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>()) {
    impl_->tls = std::move(tls);
    impl_->timeout = timeout;
    error_code ec;
    impl_->ssl_ctx.set_default_verify_paths(ec);
    if (!impl_->tls.ca_file.empty()) {
        impl_->ssl_ctx.load_verify_file(impl_->tls.ca_file, ec);
        if (ec) invalid("CA file " + impl_->tls.ca_file + ": " + ec.message());
    }
    impl_->ssl_ctx.set_verify_mode(ssl::verify_peer);
}

Client::~Client() = default;

std::unique_ptr<Stream> Client::open(const Request& request) {
    Request r = request;
    Target first = parse_target(r.url);
    for (int hop = 0;; ++hop) {
        Target t = parse_target(r.url);
        auto s = impl_->once(r, t);
        if (!is_redirect(s->head().status)) return s;
        std::string location = s->head().header("location");
        if (location.empty()) return s;
        if (hop == kMaxRedirects) throw Error(Errc::internal, request.method + " " + request.url + ": more than " +
                                                                  std::to_string(kMaxRedirects) + " redirects");
        auto base = boost::urls::parse_absolute_uri(r.url);
        auto ref = boost::urls::parse_uri_reference(location);
        if (!base || !ref) throw Error(Errc::internal, r.url + ": redirect to a malformed location \"" + location + "\"");
        boost::urls::url next;
        auto resolved = boost::urls::resolve(*base, *ref, next);
        if (!resolved) throw Error(Errc::internal, r.url + ": redirect to \"" + location + "\": " + resolved.error().message());
        r.url = std::string(next.buffer());
        if (s->head().status == 303) r.method = "GET";
        // Credentials are for the host they were given to, not wherever it sends us (blob storage).
        Target to = parse_target(r.url);
        if (to.host != first.host || to.port != first.port || to.tls != first.tls)
            std::erase_if(r.headers, [](const auto& h) { return lower(h.first) == "authorization"; });
    }
}

Response Client::fetch(const Request& request, std::size_t limit) {
    auto s = open(request);
    Response out = s->head();
    char buf[16384];
    for (;;) {
        std::size_t n = s->read(buf, sizeof buf);
        if (n == 0) break;
        if (out.body.size() + n > limit)
            throw Error(Errc::invalid_argument, request.method + " " + request.url + ": the response is larger than " +
                                                    std::to_string(limit) + " bytes");
        out.body.append(buf, n);
    }
    return out;
}

}  // namespace kiln::image::http
