// A small HTTP/1.1 client for registries: plain TCP or TLS (OpenSSL, the system CA store plus an
// optional CA file, host name verification), redirects, bodies read whole or streamed. Beast and
// Asio stay in http.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace kiln::image::http {

struct TlsOptions {
    std::string ca_file;  // PEM, trusted besides the system store
};

struct Request {
    std::string method = "GET";
    std::string url;  // http:// or https://
    std::vector<std::pair<std::string, std::string>> headers;
};

struct Response {
    unsigned status = 0;
    std::string url;                             // after redirects
    std::map<std::string, std::string> headers;  // names lowercase; repeated fields joined by ", "
    std::string body;

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

// A response whose body is read as it arrives.
class Stream {
public:
    virtual ~Stream() = default;
    const Response& head() const { return head_; }
    // The next bytes of the body into buf: how many, 0 at its end. Throws on a transport error.
    virtual std::size_t read(char* buf, std::size_t len) = 0;

protected:
    Response head_;
};

class Client {
public:
    explicit Client(TlsOptions tls = {}, std::chrono::milliseconds timeout = std::chrono::seconds(30));
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends the request, following up to 5 redirects (an Authorization header goes only to the
    // host it was meant for), and reads the body whole: more than `limit` bytes is an error.
    Response fetch(const Request& request, std::size_t limit);
    // The same, with the body left to read from the stream.
    std::unique_ptr<Stream> open(const Request& request);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::image::http
