// kiln-metrics-server DIR: serves DIR/metrics (Prometheus text exposition, written by the
// metrics plugin) at GET /metrics, on the address DIR/listen names ("ADDRESS:PORT"), which it
// reads every second and binds again when it changes. Each connection has a thread of its own
// (at most kMaxConnections at once) and 2 s for its one request, and is closed after its answer:
// a client that sends nothing holds up no one else's scrape.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>

namespace {

constexpr int kMaxConnections = 32;
std::atomic<int> g_connections{0};

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

int bind_to(const std::string& listen) {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return -1;
    std::string address = listen.substr(0, colon);
    if (address.size() > 1 && address.front() == '[') address = address.substr(1, address.size() - 2);
    int port = std::atoi(listen.c_str() + colon + 1);
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        len = sizeof *v4;
    } else if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        len = sizeof *v6;
    } else {
        return -1;
    }
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || ::listen(fd, 64) < 0) {
        std::cerr << "kiln-metrics-server: " << listen << ": " << std::strerror(errno) << "\n";
        ::close(fd);
        return -1;
    }
    std::cerr << "kiln-metrics-server: listening on " << listen << "\n";
    return fd;
}

void answer(int fd, const std::string& dir) {
    // A request has 2 s in all, however slowly it trickles in.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 16384) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return;
        request.append(buf, static_cast<std::size_t>(n));
    }
    std::string line = request.substr(0, request.find("\r\n"));
    std::string status = "200 OK", type = "text/plain; version=0.0.4; charset=utf-8", body;
    if (line.rfind("GET /metrics ", 0) == 0 || line.rfind("GET /metrics?", 0) == 0) {
        body = slurp(dir + "/metrics");
    } else if (line.rfind("GET / ", 0) == 0) {
        type = "text/plain; charset=utf-8";
        body = "kiln metrics: GET /metrics\n";
    } else if (line.rfind("GET ", 0) == 0) {
        status = "404 Not Found";
        type = "text/plain; charset=utf-8";
        body = "not found: GET /metrics\n";
    } else {
        status = "405 Method Not Allowed";
        type = "text/plain; charset=utf-8";
        body = "only GET\n";
    }
    std::string head = "HTTP/1.1 " + status + "\r\nContent-Type: " + type + "\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    std::string all = head + body;
    for (std::size_t off = 0; off < all.size();) {
        ssize_t n = ::write(fd, all.data() + off, all.size() - off);
        if (n <= 0) return;
        off += static_cast<std::size_t>(n);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: kiln-metrics-server DIR\n";
        return 2;
    }
    // As the container's init it has no default action for SIGTERM: a stop would wait for SIGKILL.
    std::signal(SIGTERM, [](int) { ::_exit(0); });
    std::string dir = argv[1], current;
    int listener = -1;
    for (;;) {
        std::string listen = slurp(dir + "/listen");
        while (!listen.empty() && (listen.back() == '\n' || listen.back() == ' ')) listen.pop_back();
        if (listen != current) {
            if (listener >= 0) ::close(listener);
            listener = listen.empty() ? -1 : bind_to(listen);
            current = listen;
        }
        if (listener < 0) {
            ::sleep(1);
            if (listener < 0 && !current.empty()) current.clear();  // try again
            continue;
        }
        pollfd p{listener, POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) continue;
        int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        if (g_connections.fetch_add(1) >= kMaxConnections) {
            // Busy: answered here, which holds the next accept for 2 s at most.
            answer(fd, dir);
            ::close(fd);
            g_connections.fetch_sub(1);
            continue;
        }
        std::thread([fd, dir] {
            answer(fd, dir);
            ::close(fd);
            g_connections.fetch_sub(1);
        }).detach();
    }
}
