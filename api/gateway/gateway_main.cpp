// kiln-gateway CONFIG: kiln's REST API over TCP with TLS, for remote clients, in front of kilnd's
// unix socket (kilnd itself never listens on TCP). It runs in the gateway plugin's container,
// which has the socket mounted (apiAccess). Each connection carries one request: the client is
// known by a bearer token or a client certificate (policy.hpp), the request is checked against
// its scopes, then it goes to kilnd with `Connection: close` and everything after (the answer,
// a log or event stream, a WebSocket session) is relayed byte for byte until either side ends.
// CONFIG (JSON, written by the plugin) is read at start; when it changes the gateway exits, and
// its container's restart policy starts it again on the new one. Sessions run on a few threads,
// each on a strand of its own: a pod lookup kilnd is slow to answer holds up one thread, not
// every client.
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

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

// The pod as GET /v1/pods/{pod} answers it, asked of kilnd (5 s at most, connecting included);
// none when kilnd has no such pod (it then answers the request itself). Throws when kilnd does
// not answer: the request is refused then, not let through unchecked.
std::optional<json> pod_record(const std::string& socket, const std::string& pod) {
    // A private io_context run for the time allowed: socket timeouts do not bound Asio's
    // synchronous reads, which wait again on EAGAIN.
    net::io_context io;
    unix_socket::socket s(io);
    http::request<http::empty_body> req{http::verb::get, "/v1/pods/" + pod, 11};
    req.set(http::field::host, "kiln");
    req.set(http::field::connection, "close");
    beast::flat_buffer b;
    http::response<http::string_body> res;
    beast::error_code result = net::error::timed_out;
    s.async_connect(unix_socket::endpoint(socket), [&](beast::error_code ec) {
        if (ec) {
            result = ec;
            return;
        }
        http::async_write(s, req, [&](beast::error_code ec, std::size_t) {
            if (ec) {
                result = ec;
                return;
            }
            http::async_read(s, b, res, [&](beast::error_code ec, std::size_t) { result = ec; });
        });
    });
    io.run_for(std::chrono::seconds(5));
    if (result == net::error::timed_out) throw std::runtime_error("kilnd did not answer within 5 s");
    if (result) throw std::runtime_error(result.message());
    if (res.result() == http::status::not_found) return std::nullopt;
    if (res.result() != http::status::ok) throw std::runtime_error("kilnd answered " + std::to_string(res.result_int()));
    auto j = json::parse(res.body(), nullptr, false);
    if (!j.is_object()) throw std::runtime_error("kilnd's answer is no JSON object");
    return j;
}

// The subject's common name of a verified client certificate; empty when there is none, or
// when it holds a NUL (which would cut it short).
std::string common_name(SSL* ssl) {
    std::string out;
    if (SSL_get_verify_result(ssl) != X509_V_OK) return out;
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return out;
    X509_NAME* subject = X509_get_subject_name(cert);
    int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at >= 0) {
        ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
        const unsigned char* data = ASN1_STRING_get0_data(value);
        int len = ASN1_STRING_length(value);
        out.assign(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len));
        if (out.find('\0') != std::string::npos) out.clear();
    }
    X509_free(cert);
    return out;
}

// What a client may send as a target: a path of plain segments, no percent-encoding (which
// kilnd's router decodes, and the policy would not see), no "." or "..".
bool plain_target(const std::string& target) {
    std::string path = target.substr(0, target.find('?'));
    if (path.empty() || path[0] != '/' || path.find('%') != std::string::npos || path.find("//") != std::string::npos)
        return false;
    for (std::size_t i = 0; i < path.size();) {
        std::size_t j = path.find('/', i + 1);
        std::string seg = path.substr(i + 1, (j == std::string::npos ? path.size() : j) - i - 1);
        if (seg == "." || seg == "..") return false;
        if (j == std::string::npos) break;
        i = j;
    }
    return true;
}

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, ssl::context& tls, const Config& config)
        : client_(std::move(socket), tls), upstream_(client_.get_executor()), deadline_(client_.get_executor()),
          config_(config) {}

    void start() {
        // The handshake and the request have 30 s; a relayed stream has as long as it runs.
        deadline_.expires_after(std::chrono::seconds(30));
        deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec && !self->relaying_) self->close();
        });
        client_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return self->close();
            self->read();
        });
    }

private:
    void read() {
        parser_.body_limit(8 << 20);
        http::async_read(client_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            self->decide();
        });
    }

    void decide() {
        auto& req = parser_.get();
        std::optional<kiln::gateway::Identity> who;
        auto auth = req[http::field::authorization];
        if (!auth.empty()) {
            who = config_.policy.by_token(std::string(auth));
        } else if (std::string cn = common_name(client_.native_handle()); !cn.empty()) {
            who = config_.policy.by_certificate(cn);
        }
        if (!who) return refuse(http::status::unauthorized, "invalid_argument",
                                auth.empty() ? "a bearer token or a client certificate is required"
                                             : "the token is not valid");
        std::string target(req.target());
        if (!plain_target(target))
            return refuse(http::status::bad_request, "invalid_argument",
                          "the gateway takes plain paths: no percent-encoding, no empty, . or .. segments");
        upgrade_ = beast::iequals(req[http::field::upgrade], "websocket");
        if (upgrade_ && !(target.find("/containers/") != std::string::npos &&
                          (target.ends_with("/exec") || target.ends_with("/attach") ||
                           target.find("/exec?") != std::string::npos || target.find("/attach?") != std::string::npos)))
            return refuse(http::status::bad_request, "invalid_argument", "only exec and attach are WebSocket routes");
        std::string why;
        try {
            why = kiln::gateway::authorize(*who, std::string(req.method_string()), target, req.body(), upgrade_,
                                           [&](const std::string& pod) { return pod_record(config_.socket, pod); });
        } catch (const std::exception& e) {
            return refuse(http::status::service_unavailable, "internal", std::string("asking kilnd about the pod: ") + e.what());
        }
        if (!why.empty()) return refuse(http::status::forbidden, "failed_precondition", why);
        // One write per line: sessions log from several threads.
        std::cerr << ("kiln-gateway: " + who->name + " " + std::string(req.method_string()) + " " + target + "\n");
        req.erase(http::field::authorization);
        if (!upgrade_) req.set(http::field::connection, "close");
        req.prepare_payload();
        beast::error_code ec;
        upstream_.connect(unix_socket::endpoint(config_.socket), ec);
        if (ec) return refuse(http::status::bad_gateway, "internal", "kilnd does not answer: " + ec.message());
        request_ = std::make_shared<http::request<http::string_body>>(parser_.release());
        http::async_write(upstream_, *request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            self->relaying_ = true;
            if (self->upgrade_) return self->await_switch();
            // One request, sent with Connection: close: kilnd's answer (or stream) is relayed until
            // kilnd closes. Nothing more of the client's goes to kilnd.
            self->pump_down();
        });
    }

    // An upgrade: kilnd's answer decides. 101: the WebSocket session is relayed both ways (the
    // client's bytes sent early first). Anything else is passed on and ends the connection, so
    // that no further request rides past the checks.
    void await_switch() {
        response_ = std::make_shared<http::response_parser<http::string_body>>();
        response_->body_limit(1 << 20);
        http::async_read(upstream_, up_buffer_, *response_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            auto res = std::make_shared<http::response<http::string_body>>(self->response_->release());
            bool switching = res->result() == http::status::switching_protocols;
            if (!switching) res->set(http::field::connection, "close");
            http::async_write(self->client_, *res, [self, res, switching](beast::error_code ec, std::size_t) {
                if (ec || !switching) return self->close();
                // What kilnd sent after its 101, then both ways.
                net::async_write(self->client_, self->up_buffer_.data(), [self](beast::error_code ec, std::size_t) {
                    if (ec) return self->close();
                    self->up_buffer_.consume(self->up_buffer_.size());
                    net::async_write(self->upstream_, self->buffer_.data(), [self](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->buffer_.consume(self->buffer_.size());
                        self->pump_up();
                        self->pump_down();
                    });
                });
            });
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
        deadline_.cancel();
        beast::error_code ignored;
        upstream_.close(ignored);
        // A read of the client's may be pending (a WebSocket's): it ends before the TLS shutdown.
        client_.next_layer().cancel(ignored);
        client_.async_shutdown([self = shared_from_this()](beast::error_code) {
            beast::error_code ignored;
            self->client_.next_layer().close(ignored);
        });
    }

    ssl::stream<tcp::socket> client_;
    unix_socket::socket upstream_;
    net::steady_timer deadline_;
    const Config& config_;
    beast::flat_buffer buffer_, up_buffer_;
    std::shared_ptr<http::response_parser<http::string_body>> response_;
    bool upgrade_ = false, relaying_ = false;
    http::request_parser<http::string_body> parser_;
    std::shared_ptr<http::request<http::string_body>> request_;
    std::array<char, 16384> up_{}, down_{};
    bool closed_ = false;
};

constexpr int kThreads = 4;

void accept(tcp::acceptor& acceptor, net::steady_timer& retry, ssl::context& tls, const Config& config) {
    // Each connection on a strand of its own: its handlers never run at once on two threads.
    acceptor.async_accept(net::make_strand(acceptor.get_executor()), [&](beast::error_code ec, tcp::socket socket) {
        if (!ec) {
            std::make_shared<Session>(std::move(socket), tls, config)->start();
            return accept(acceptor, retry, tls, config);
        }
        // Out of fds, say: try again in a while rather than at once.
        retry.expires_after(std::chrono::milliseconds(100));
        retry.async_wait([&](beast::error_code) { accept(acceptor, retry, tls, config); });
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
        net::io_context io(kThreads);
        ssl::context tls(ssl::context::tls_server);
        tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        tls.use_certificate_chain_file(config.cert);
        tls.use_private_key_file(config.key, ssl::context::pem);
        if (!config.client_ca.empty()) {
            tls.load_verify_file(config.client_ca);
            // Session resumption with client certificates needs a context to resume in.
            static const unsigned char context[] = "kiln-gateway";
            SSL_CTX_set_session_id_context(tls.native_handle(), context, sizeof context - 1);
            // Asked for, not required: a client may use a token instead.
            tls.set_verify_mode(ssl::verify_peer);
            tls.set_verify_callback([](bool, ssl::verify_context&) { return true; });
        }
        tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address(config.address), config.port));
        std::cerr << "kiln-gateway: listening on " << config.address << ":" << config.port << "\n";
        net::steady_timer retry(io);
        accept(acceptor, retry, tls, config);
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
        std::vector<std::thread> threads;
        for (int i = 1; i < kThreads; ++i) threads.emplace_back([&io] { io.run(); });
        io.run();
        for (auto& t : threads) t.join();
    } catch (const std::exception& e) {
        std::cerr << "kiln-gateway: " << e.what() << "\n";
        while (mtime(path) == seen) std::this_thread::sleep_for(std::chrono::seconds(1));
        return 1;
    }
    return 0;
}
