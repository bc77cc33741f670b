// The bounded queues between handler threads and sessions: backpressure both ways, close.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "api/server/channel.hpp"
#include "api_test_support.hpp"

namespace kiln::api::detail {
namespace {

using namespace std::chrono_literals;
using Kind = Channel::Item::Kind;
using testing::eventually;

TEST(Channel, SendsAreQueuedInOrderAndWakeTheWriter) {
    std::atomic<int> wakes{0};
    Channel channel(100, [&] { ++wakes; }, [] {});
    EXPECT_TRUE(channel.send(Kind::chunk, "one"));
    EXPECT_TRUE(channel.send(Kind::text, "two"));
    channel.end(nullptr);
    EXPECT_EQ(wakes.load(), 3);
    EXPECT_TRUE(channel.closed());  // ended: no more sends
    EXPECT_FALSE(channel.send(Kind::chunk, "late"));

    auto first = channel.next();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->data, "one");
    EXPECT_EQ(channel.next()->kind, Kind::text);
    auto last = channel.next();
    ASSERT_TRUE(last);
    EXPECT_EQ(last->kind, Kind::end);
    EXPECT_FALSE(last->error);
    EXPECT_FALSE(channel.next());
}

TEST(Channel, AFullOutboxBlocksTheSenderUntilTheSessionTakes) {
    Channel channel(10, [] {}, [] {});
    ASSERT_TRUE(channel.send(Kind::chunk, "12345678"));
    std::atomic<bool> second_sent{false};
    std::thread sender([&] {
        EXPECT_TRUE(channel.send(Kind::chunk, "abcdefgh"));
        second_sent = true;
    });
    // Not a timing assertion that can fail spuriously: a sender that did not block would have
    // been seen here; one that blocks is released just below.
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(second_sent.load());
    EXPECT_EQ(channel.next()->data, "12345678");
    EXPECT_TRUE(eventually([&] { return second_sent.load(); }));
    sender.join();
    EXPECT_EQ(channel.next()->data, "abcdefgh");
}

TEST(Channel, OneItemLargerThanTheLimitStillGoes) {
    Channel channel(4, [] {}, [] {});
    EXPECT_TRUE(channel.send(Kind::binary, "much longer than four"));
    EXPECT_EQ(channel.next()->data, "much longer than four");
}

TEST(Channel, CloseReleasesABlockedSenderAndRunsCallbacks) {
    Channel channel(4, [] {}, [] {});
    std::atomic<int> callbacks{0};
    channel.on_close([&] { ++callbacks; });
    ASSERT_TRUE(channel.send(Kind::chunk, "full"));
    std::thread sender([&] { EXPECT_FALSE(channel.send(Kind::chunk, "blocked")); });
    channel.close();
    sender.join();
    EXPECT_EQ(callbacks.load(), 1);
    channel.close();
    EXPECT_EQ(callbacks.load(), 1);
    // Registered after the close: runs at once.
    channel.on_close([&] { ++callbacks; });
    EXPECT_EQ(callbacks.load(), 2);
    EXPECT_TRUE(channel.closed());
    EXPECT_FALSE(channel.next());
}

TEST(Channel, InboxPausesTheReaderWhenFullAndWakesItWhenDrained) {
    std::atomic<int> reader_wakes{0};
    Channel channel(10, [] {}, [&] { ++reader_wakes; });
    EXPECT_TRUE(channel.deliver({false, "1234"}));
    EXPECT_FALSE(channel.deliver({true, "5678901"}));  // 11 bytes queued: stop reading
    auto first = channel.receive(0ms);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->data, "1234");
    EXPECT_EQ(reader_wakes.load(), 1);
    auto second = channel.receive(0ms);
    ASSERT_TRUE(second);
    EXPECT_TRUE(second->text);
    EXPECT_EQ(reader_wakes.load(), 1);
    EXPECT_FALSE(channel.receive(0ms));
}

TEST(Channel, ReceiveDrainsThenReportsTheClose) {
    Channel channel(100, [] {}, [] {});
    channel.deliver({false, "last words"});
    channel.close();
    EXPECT_EQ(channel.receive(0ms)->data, "last words");
    EXPECT_FALSE(channel.receive(std::chrono::duration_cast<std::chrono::milliseconds>(testing::upper_bound)));
}

}  // namespace
}  // namespace kiln::api::detail
