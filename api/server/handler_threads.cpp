// Handler threads: started per stream or WebSocket, joined as they finish or at stop.
#include "api/server/handler_threads.hpp"

#include <system_error>

#include "core/sys/log.hpp"

namespace kiln::api::detail {

bool HandlerThreads::spawn(std::shared_ptr<Channel> channel, std::function<void()> body) {
    std::unique_lock lock(mutex_);
    reap_finished(lock);
    if (stopping_) return false;
    const std::uint64_t id = next_id_++;
    // The thread moves its own std::thread to finished_ when done; it cannot get the lock before
    // the entry below is in running_.
    try {
        std::thread thread([this, id, body = std::move(body)] {
            try {
                body();
            } catch (const std::exception& e) {
                log::error(std::string("handler thread: ") + e.what());
            } catch (...) {
                log::error("handler thread: unknown exception");
            }
            std::lock_guard done(mutex_);
            auto it = running_.find(id);
            if (it != running_.end()) {
                finished_.push_back(std::move(it->second.thread));
                running_.erase(it);
            }
        });
        running_.emplace(id, Entry{std::move(thread), channel});
    } catch (const std::system_error& e) {
        log::error(std::string("cannot start a handler thread: ") + e.what());
        return false;
    }
    return true;
}

void HandlerThreads::reap_finished(std::unique_lock<std::mutex>& lock) {
    std::vector<std::thread> finished;
    finished.swap(finished_);
    lock.unlock();
    // These have left their body and only return now: joining does not wait on a handler.
    for (auto& thread : finished) thread.join();
    lock.lock();
}

void HandlerThreads::stop() {
    std::vector<std::shared_ptr<Channel>> channels;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        for (auto& [id, entry] : running_)
            if (auto channel = entry.channel.lock()) channels.push_back(std::move(channel));
    }
    for (auto& channel : channels) channel->close();
    channels.clear();
    while (true) {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mutex_);
            for (auto& [id, entry] : running_) threads.push_back(std::move(entry.thread));
            running_.clear();
            for (auto& thread : finished_) threads.push_back(std::move(thread));
            finished_.clear();
        }
        if (threads.empty()) break;
        for (auto& thread : threads) thread.join();
    }
}

std::size_t HandlerThreads::running() const {
    std::lock_guard lock(mutex_);
    return running_.size();
}

}  // namespace kiln::api::detail
