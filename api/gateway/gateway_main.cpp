// kiln-gateway CONFIG: kiln's REST API over TCP with TLS, for remote clients, in front of kilnd's
// unix socket (kilnd itself never listens on TCP). It runs in the gateway plugin's container,
// which has the socket mounted (apiAccess). Each connection carries one request: the client is
// known by a bearer token or a client certificate (policy.hpp), the request is checked against
// its scopes, then it goes to kilnd with `Connection: close` and everything after (the answer,
// a log or event stream, a WebSocket session) is relayed byte for byte until either side ends.
// CONFIG (JSON, written by the plugin) is read at start; when it changes the gateway exits, and
// its container's restart policy starts it again on the new one.
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <openssl/x509.h>

#include "api/gateway/policy.hpp"

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using unix_socket = net::local::stream_protocol;
using json = nlohmann::json;

namespace {

struct Config {
    std::string address = "0.0.0.0", cert, key, client_ca, socket = "/run/kiln/kiln.sock";
    unsigned short port = 8443;
    kiln::gateway::Policy policy;
};

Config load(const std::string& path) {
    std::ifstream in(path);
    json j = json::parse(in);
    Config c;
    c.address = j.value("address", c.address);
    c.port = static_cast<unsigned short>(j.value("port", 8443));
    c.cert = j.at("cert");
    c.key = j.at("key");
    c.client_ca = j.value("clientCa", "");
    c.socket = j.value("socket", c.socket);
    c.policy = kiln::gateway::Policy::from_json(j);
    return c;
}

std::int64_t mtime(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec : -1;
}

// The pod as GET /v1/pods/{pod} answers it, asked of kilnd; none when kilnd has no such pod
// (kilnd then answers the request itself) or does not answer (then the request fails there too).
std::optional<json> pod_record(const std::string& socket, const std::string& pod) {
    try {
        net::io_context io;
        unix_socket::socket s(io);
        s.connect(unix_socket::endpoint(socket));
        http::request<http::empty_body> req{http::verb::get, "/v1/pods/" + pod, 11};
        req.set(http::field::host, "kiln");
        req.set(http::field::connection, "close");
        http::write(s, req);
        beast::flat_buffer b;
        http::response<http::string_body> res;
        http::read(s, b, res);
        if (res.result() != http::status::ok) return std::nullopt;
        auto j = json::parse(res.body(), nullptr, false);
        if (!j.is_object()) return std::nullopt;
        return j;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, ssl::context& tls, const Config& config)
        : client_(std::move(socket), tls), upstream_(client_.get_executor()), config_(config) {}

    void start() {
        client_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->read();
        });
    }

private:
    void read() {
        parser_.body_limit(8 << 20);
        http::async_read(client_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (!ec) self->decide();
        });
    }

    void decide() {
        auto& req = parser_.get();
        std::optional<kiln::gateway::Identity> who;
        auto auth = req[http::field::authorization];
        if (!auth.empty()) {
            who = config_.policy.by_token(std::string(auth));
        } else if (SSL_get_verify_result(client_.native_handle()) == X509_V_OK) {
            if (X509* cert = SSL_get1_peer_certificate(client_.native_handle())) {
                char cn[256] = {0};
                X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
                X509_free(cert);
                who = config_.policy.by_certificate(cn);
            }
        }
        if (!who) return refuse(http::status::unauthorized, "invalid_argument",
                                auth.empty() ? "a bearer token or a client certificate is required"
                                             : "the token is not valid");
        bool upgrade = beast::iequals(req[http::field::upgrade], "websocket");
        std::string why = kiln::gateway::authorize(*who, std::string(req.method_string()), std::string(req.target()),
                                                   req.body(), upgrade,
                                                   [&](const std::string& pod) { return pod_record(config_.socket, pod); });
        if (!why.empty()) return refuse(http::status::forbidden, "failed_precondition", why);
        std::cerr << "kiln-gateway: " << who->name << " " << req.method_string() << " " << req.target() << "\n";
        req.erase(http::field::authorization);
        if (!upgrade) req.set(http::field::connection, "close");
        req.prepare_payload();
        beast::error_code ec;
        upstream_.connect(unix_socket::endpoint(config_.socket), ec);
        if (ec) return refuse(http::status::bad_gateway, "internal", "kilnd does not answer: " + ec.message());
        request_ = std::make_shared<http::request<http::string_body>>(parser_.release());
        http::async_write(upstream_, *request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            // Bytes the client sent after its request (a WebSocket's first frames) go first.
            if (self->buffer_.size()) {
                net::async_write(self->upstream_, self->buffer_.data(), [self](beast::error_code ec, std::size_t) {
                    if (ec) return self->close();
                    self->buffer_.consume(self->buffer_.size());
                    self->relay();
                });
            } else {
                self->relay();
            }
        });
    }

    void refuse(http::status status, const std::string& code, const std::string& message) {
        auto res = std::make_shared<http::response<http::string_body>>(status, 11);
        res->set(http::field::content_type, "application/json");
        res->set(http::field::connection, "close");
        if (status == http::status::unauthorized) res->set(http::field::www_authenticate, "Bearer realm=\"kiln\"");
        res->body() = json{{"code", code}, {"message", message}}.dump();
        res->prepare_payload();
        http::async_write(client_, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) { self->close(); });
    }

    void relay() {
        pump_up();
        pump_down();
    }

    // client -> kilnd
    void pump_up() {
        client_.async_read_some(net::buffer(up_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
            if (ec) {
                beast::error_code ignored;
                self->upstream_.shutdown(unix_socket::socket::shutdown_send, ignored);
                return;
            }
            net::async_write(self->upstream_, net::buffer(self->up_, n), [self](beast::error_code ec, std::size_t) {
                if (!ec) self->pump_up();
            });
        });
    }

    // kilnd -> client; kilnd closing ends the session.
    void pump_down() {
        upstream_.async_read_some(net::buffer(down_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
            if (ec) return self->close();
            net::async_write(self->client_, net::buffer(self->down_, n), [self](beast::error_code ec, std::size_t) {
                if (ec) return self->close();
                self->pump_down();
            });
        });
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        beast::error_code ignored;
        upstream_.close(ignored);
        client_.async_shutdown([self = shared_from_this()](beast::error_code) {
            beast::error_code ignored;
            self->client_.next_layer().close(ignored);
        });
    }

    ssl::stream<tcp::socket> client_;
    unix_socket::socket upstream_;
    const Config& config_;
    beast::flat_buffer buffer_;
    http::request_parser<http::string_body> parser_;
    std::shared_ptr<http::request<http::string_body>> request_;
    std::array<char, 16384> up_{}, down_{};
    bool closed_ = false;
};

void accept(tcp::acceptor& acceptor, ssl::context& tls, const Config& config) {
    acceptor.async_accept([&](beast::error_code ec, tcp::socket socket) {
        if (!ec) std::make_shared<Session>(std::move(socket), tls, config)->start();
        accept(acceptor, tls, config);
    });
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: kiln-gateway CONFIG\n";
        return 2;
    }
    std::string path = argv[1];
    std::signal(SIGTERM, [](int) { ::_exit(0); });
    std::signal(SIGPIPE, SIG_IGN);
    // The plugin writes the config after its container started: wait for it.
    while (mtime(path) < 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::int64_t seen = mtime(path);
    Config config;
    try {
        config = load(path);
    } catch (const std::exception& e) {
        std::cerr << "kiln-gateway: " << path << ": " << e.what() << "\n";
        while (mtime(path) == seen) std::this_thread::sleep_for(std::chrono::seconds(1));
        return 1;
    }
    try {
        net::io_context io(1);
        ssl::context tls(ssl::context::tls_server);
        tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        tls.use_certificate_chain_file(config.cert);
        tls.use_private_key_file(config.key, ssl::context::pem);
        if (!config.client_ca.empty()) {
            tls.load_verify_file(config.client_ca);
            // Asked for, not required: a client may use a token instead.
            tls.set_verify_mode(ssl::verify_peer);
            tls.set_verify_callback([](bool, ssl::verify_context&) { return true; });
        }
        tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address(config.address), config.port));
        std::cerr << "kiln-gateway: listening on " << config.address << ":" << config.port << "\n";
        accept(acceptor, tls, config);
        net::steady_timer watch(io);
        std::function<void()> check = [&] {
            watch.expires_after(std::chrono::seconds(1));
            watch.async_wait([&](beast::error_code) {
                if (mtime(path) != seen) {
                    std::cerr << "kiln-gateway: " << path << " changed; exiting to start again on it\n";
                    io.stop();
                    return;
                }
                check();
            });
        };
        check();
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "kiln-gateway: " << e.what() << "\n";
        while (mtime(path) == seen) std::this_thread::sleep_for(std::chrono::seconds(1));
        return 1;
    }
    return 0;
}
