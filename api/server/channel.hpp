// Internal to the server: the bounded, thread-safe queues between a handler's own thread and a
// session's strand, for streaming bodies and WebSockets. No Asio here: the session hands in
// "wake" callbacks that post to its strand.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/server/streaming.hpp"

namespace kiln::api::detail {

class Channel {
public:
    struct Item {
        enum class Kind { chunk, text, binary, end } kind = Kind::chunk;
        std::string data;
        std::exception_ptr error;  // for end: the handler failed
    };

    // `limit` bounds the bytes queued each way. wake_writer is called (without the lock held)
    // when an item is queued; wake_reader when the inbox has room again after deliver() refused.
    Channel(std::size_t limit, std::function<void()> wake_writer, std::function<void()> wake_reader);

    // Handler side.
    bool send(Item::Kind kind, std::string_view data);  // blocks while full; false once closed
    void end(std::exception_ptr error);                 // the handler is done; never blocks
    std::optional<WebSocket::Message> receive(std::chrono::milliseconds timeout);
    // The handler has ended or closed it, or the connection is gone and every message
    // received before has been taken.
    bool closed() const;
    void on_close(std::function<void()> callback);

    // Session side.
    std::optional<Item> next();
    // Queues a received message; false when the inbox is now full and the session should stop
    // reading until wake_reader.
    bool deliver(WebSocket::Message message);
    // The connection is gone (or the server stops): senders fail, receivers drain then get
    // nullopt, on_close callbacks run.
    void close();

private:
    const std::size_t limit_;
    std::function<void()> wake_writer_;
    std::function<void()> wake_reader_;

    mutable std::mutex mutex_;
    std::condition_variable room_;      // the outbox has room, or closed
    std::condition_variable arrivals_;  // the inbox has a message, or closed
    std::deque<Item> outbox_;
    std::size_t outbox_bytes_ = 0;
    std::deque<WebSocket::Message> inbox_;
    std::size_t inbox_bytes_ = 0;
    bool reader_paused_ = false;
    bool ended_ = false;   // no more sends
    bool closed_ = false;  // the connection is gone
    std::vector<std::function<void()>> close_callbacks_;
};

// The handler's views of a channel.
class ChannelStreamWriter : public StreamWriter {
public:
    explicit ChannelStreamWriter(std::shared_ptr<Channel> channel) : channel_(std::move(channel)) {}
    bool write(std::string_view chunk) override;
    bool closed() const override { return channel_->closed(); }
    void on_close(std::function<void()> callback) override { channel_->on_close(std::move(callback)); }

private:
    std::shared_ptr<Channel> channel_;
};

class ChannelWebSocket : public WebSocket {
public:
    explicit ChannelWebSocket(std::shared_ptr<Channel> channel) : channel_(std::move(channel)) {}
    bool send_binary(std::string_view data) override;
    bool send_text(std::string_view data) override;
    std::optional<Message> receive(std::chrono::milliseconds timeout) override;
    bool closed() const override { return channel_->closed(); }
    void close() override { channel_->end(nullptr); }
    void on_close(std::function<void()> callback) override { channel_->on_close(std::move(callback)); }

private:
    std::shared_ptr<Channel> channel_;
};

}  // namespace kiln::api::detail
