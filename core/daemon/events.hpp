// The event bus: pod and container lifecycle events, numbered, kept in a bounded ring so that a
// client can resume with a cursor (GET /v1/events?since=N).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln::daemon {

struct Event {
    std::uint64_t id = 0;  // increasing; the cursor
    std::string time;      // RFC 3339
    std::string type;      // pod.created pod.started pod.stopped pod.deleted container.started container.exited ...
    std::string pod;
    std::string container;
    nlohmann::json attributes = nlohmann::json::object();
};

nlohmann::json to_json(const Event& e);

class EventBus {
public:
    explicit EventBus(std::size_t capacity = 10000) : capacity_(capacity) {}

    void publish(std::string type, std::string pod, std::string container = {},
                 nlohmann::json attributes = nlohmann::json::object());
    // Events with id > since that are still in the ring.
    std::vector<Event> since(std::uint64_t since) const;
    // Waits up to `timeout_ms` for an event after `since`; returns them (possibly none).
    std::vector<Event> wait(std::uint64_t since, int timeout_ms) const;
    std::uint64_t last_id() const;
    // Wakes every waiter (shutdown).
    void close();
    bool closed() const;

private:
    std::size_t capacity_;
    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    std::deque<Event> ring_;
    std::uint64_t next_ = 1;
    bool closed_ = false;
};

}  // namespace kiln::daemon
