// Internal to the server: the threads that run streaming and WebSocket handlers, so that no
// handler holds an Asio thread. stop() closes every channel and joins every thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "api/server/channel.hpp"

namespace kiln::api::detail {

class HandlerThreads {
public:
    HandlerThreads() = default;
    HandlerThreads(const HandlerThreads&) = delete;
    HandlerThreads& operator=(const HandlerThreads&) = delete;
    ~HandlerThreads() { stop(); }

    // Runs `body` on a new thread; `channel` is closed by stop(). False (and nothing runs) once
    // stopping, or when no thread can be created.
    bool spawn(std::shared_ptr<Channel> channel, std::function<void()> body);
    // Closes every channel, then joins every thread. Handlers must return once their channel
    // is closed.
    void stop();
    std::size_t running() const;

private:
    struct Entry {
        std::thread thread;
        std::weak_ptr<Channel> channel;
    };
    void reap_finished(std::unique_lock<std::mutex>& lock);

    mutable std::mutex mutex_;
    bool stopping_ = false;
    std::uint64_t next_id_ = 0;
    std::map<std::uint64_t, Entry> running_;
    std::vector<std::thread> finished_;  // returned from their body, not yet joined
};

}  // namespace kiln::api::detail
