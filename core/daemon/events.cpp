// The event ring and its waiters.
#include "core/daemon/events.hpp"

#include <chrono>

#include "core/sys/clock.hpp"

namespace kiln::daemon {

nlohmann::json to_json(const Event& e) {
    nlohmann::json j{{"id", e.id}, {"time", e.time}, {"type", e.type}, {"pod", e.pod}};
    if (!e.container.empty()) j["container"] = e.container;
    if (!e.attributes.empty()) j["attributes"] = e.attributes;
    return j;
}

void EventBus::publish(std::string type, std::string pod, std::string container, nlohmann::json attributes) {
    {
        std::lock_guard lock(mu_);
        ring_.push_back(Event{next_++, rfc3339_now(), std::move(type), std::move(pod), std::move(container),
                              std::move(attributes)});
        while (ring_.size() > capacity_) ring_.pop_front();
    }
    cv_.notify_all();
}

std::vector<Event> EventBus::since(std::uint64_t since) const {
    std::lock_guard lock(mu_);
    std::vector<Event> out;
    for (const auto& e : ring_)
        if (e.id > since) out.push_back(e);
    return out;
}

std::vector<Event> EventBus::wait(std::uint64_t since, int timeout_ms) const {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                 [&] { return closed_ || (!ring_.empty() && ring_.back().id > since); });
    std::vector<Event> out;
    for (const auto& e : ring_)
        if (e.id > since) out.push_back(e);
    return out;
}

std::uint64_t EventBus::last_id() const {
    std::lock_guard lock(mu_);
    return next_ - 1;
}

void EventBus::close() {
    {
        std::lock_guard lock(mu_);
        closed_ = true;
    }
    cv_.notify_all();
}

bool EventBus::closed() const {
    std::lock_guard lock(mu_);
    return closed_;
}

}  // namespace kiln::daemon
