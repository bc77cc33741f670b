// Helpers of the api socket tests: a temporary socket directory, raw connections with upper
// bounds on every wait, and polling for conditions that other threads make true.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/sys/fd.hpp"
#include "core/sys/socket.hpp"

namespace kiln::api::testing {

// Long enough never to be reached on a loaded machine; only there so a broken test ends.
inline constexpr std::chrono::seconds upper_bound{20};

class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "kiln-api-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// Waits (within the upper bound) until `condition` holds; returns whether it did.
inline bool eventually(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + upper_bound;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

inline void send_all(const Fd& fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0) throw std::runtime_error("send failed");
        off += static_cast<std::size_t>(n);
    }
}

// Reads until `done(received)` or the peer closes; `closed` tells whether it closed.
inline std::string read_until(const Fd& fd, const std::function<bool(const std::string&)>& done,
                              bool* closed = nullptr) {
    std::string received;
    const auto deadline = std::chrono::steady_clock::now() + upper_bound;
    if (closed) *closed = false;
    while (!done(received)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ADD_FAILURE() << "no answer within the upper bound; got so far: " << received;
            break;
        }
        struct pollfd p = {fd.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n <= 0) {
            if (closed) *closed = true;
            break;
        }
        received.append(buf, static_cast<std::size_t>(n));
    }
    return received;
}

inline std::string read_to_close(const Fd& fd) {
    return read_until(fd, [](const std::string&) { return false; });
}

inline std::size_t thread_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
}

}  // namespace kiln::api::testing
