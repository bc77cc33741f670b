// Bounded queues between handler threads and session strands.
#include "api/server/channel.hpp"

namespace kiln::api::detail {

Channel::Channel(std::size_t limit, std::function<void()> wake_writer, std::function<void()> wake_reader)
    : limit_(limit), wake_writer_(std::move(wake_writer)), wake_reader_(std::move(wake_reader)) {}

bool Channel::send(Item::Kind kind, std::string_view data) {
    {
        std::unique_lock lock(mutex_);
        // One item bigger than the limit still goes once the queue is empty.
        room_.wait(lock, [&] { return closed_ || ended_ || outbox_bytes_ == 0 || outbox_bytes_ + data.size() <= limit_; });
        if (closed_ || ended_) return false;
        outbox_.push_back(Item{kind, std::string(data), nullptr});
        outbox_bytes_ += data.size();
    }
    wake_writer_();
    return true;
}

void Channel::end(std::exception_ptr error) {
    {
        std::lock_guard lock(mutex_);
        if (ended_) return;
        ended_ = true;
        if (closed_) return;
        outbox_.push_back(Item{Item::Kind::end, {}, std::move(error)});
    }
    room_.notify_all();
    wake_writer_();
}

std::optional<WebSocket::Message> Channel::receive(std::chrono::milliseconds timeout) {
    std::optional<WebSocket::Message> message;
    bool wake = false;
    {
        std::unique_lock lock(mutex_);
        arrivals_.wait_for(lock, timeout, [&] { return closed_ || !inbox_.empty(); });
        if (inbox_.empty()) return std::nullopt;
        message = std::move(inbox_.front());
        inbox_.pop_front();
        inbox_bytes_ -= message->data.size();
        if (reader_paused_ && inbox_bytes_ < limit_) {
            reader_paused_ = false;
            wake = !closed_;
        }
    }
    if (wake) wake_reader_();
    return message;
}

bool Channel::closed() const {
    std::lock_guard lock(mutex_);
    // Messages that came before the close are still to be received.
    return ended_ || (closed_ && inbox_.empty());
}

void Channel::on_close(std::function<void()> callback) {
    {
        std::lock_guard lock(mutex_);
        if (!closed_) {
            close_callbacks_.push_back(std::move(callback));
            return;
        }
    }
    callback();
}

std::optional<Channel::Item> Channel::next() {
    std::optional<Item> item;
    {
        std::lock_guard lock(mutex_);
        if (outbox_.empty()) return std::nullopt;
        item = std::move(outbox_.front());
        outbox_.pop_front();
        outbox_bytes_ -= item->data.size();
    }
    room_.notify_all();
    return item;
}

bool Channel::deliver(WebSocket::Message message) {
    bool room;
    {
        std::lock_guard lock(mutex_);
        inbox_bytes_ += message.data.size();
        inbox_.push_back(std::move(message));
        room = inbox_bytes_ < limit_;
        if (!room) reader_paused_ = true;
    }
    arrivals_.notify_all();
    return room;
}

void Channel::close() {
    std::vector<std::function<void()>> callbacks;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        closed_ = true;
        outbox_.clear();
        outbox_bytes_ = 0;
        callbacks.swap(close_callbacks_);
    }
    room_.notify_all();
    arrivals_.notify_all();
    for (auto& callback : callbacks) callback();
}

bool ChannelStreamWriter::write(std::string_view chunk) { return channel_->send(Channel::Item::Kind::chunk, chunk); }

bool ChannelWebSocket::send_binary(std::string_view data) {
    return channel_->send(Channel::Item::Kind::binary, data);
}

bool ChannelWebSocket::send_text(std::string_view data) { return channel_->send(Channel::Item::Kind::text, data); }

std::optional<WebSocket::Message> ChannelWebSocket::receive(std::chrono::milliseconds timeout) {
    return channel_->receive(timeout);
}

}  // namespace kiln::api::detail
