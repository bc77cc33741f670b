// Frames on the monitor's socket.
#include "core/monitor/protocol.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/sys/error.hpp"

namespace kiln::monitor {
namespace {

TEST(Protocol, FramesSurviveAnySplit) {
    std::string data = encode_frame(FrameKind::stdout_data, "hello") + encode_frame(FrameKind::control, "{}") +
                       encode_frame(FrameKind::stdin_data, "");
    for (std::size_t step = 1; step <= data.size(); ++step) {
        FrameReader r;
        std::vector<Frame> got;
        for (std::size_t i = 0; i < data.size(); i += step) {
            r.feed(data.data() + i, std::min(step, data.size() - i));
            while (auto f = r.next()) got.push_back(*f);
        }
        ASSERT_EQ(got.size(), 3u) << "step " << step;
        EXPECT_EQ(got[0].kind, FrameKind::stdout_data);
        EXPECT_EQ(got[0].payload, "hello");
        EXPECT_EQ(got[1].kind, FrameKind::control);
        EXPECT_EQ(got[2].payload, "") << "an empty stdin frame is EOF";
    }
}

TEST(Protocol, HeaderLayoutIsDockersStream) {
    std::string f = encode_frame(FrameKind::stderr_data, std::string(258, 'x'));
    ASSERT_EQ(f.size(), 8u + 258u);
    EXPECT_EQ(f[0], 2);
    EXPECT_EQ(f.substr(1, 3), std::string(3, '\0'));
    EXPECT_EQ(static_cast<unsigned char>(f[6]), 1);
    EXPECT_EQ(static_cast<unsigned char>(f[7]), 2);
}

TEST(Protocol, BadHeadersAreErrors) {
    FrameReader r;
    std::string bad = encode_frame(FrameKind::control, "x");
    bad[0] = 9;
    r.feed(bad.data(), bad.size());
    EXPECT_THROW(r.next(), Error);
    FrameReader big;
    std::string huge(8, '\0');
    huge[0] = 1;
    huge[4] = 0x7f;  // 2 GiB
    big.feed(huge.data(), huge.size());
    EXPECT_THROW(big.next(), Error);
}

TEST(Protocol, ReadFrameOverASocket) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    write_frame(sv[0], FrameKind::control, R"({"op":"state"})");
    auto f = read_frame(sv[1], 1000);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, R"({"op":"state"})");
    ::close(sv[0]);
    EXPECT_FALSE(read_frame(sv[1], 1000)) << "EOF";
    ::close(sv[1]);
}

}  // namespace
}  // namespace kiln::monitor
