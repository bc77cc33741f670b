// Frames on the monitor's socket.
#include "core/monitor/protocol.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln::monitor {

std::string encode_frame(FrameKind kind, std::string_view payload) {
    std::string out(kFrameHeader, '\0');
    out[0] = static_cast<char>(kind);
    auto n = static_cast<std::uint32_t>(payload.size());
    out[4] = static_cast<char>(n >> 24);
    out[5] = static_cast<char>(n >> 16);
    out[6] = static_cast<char>(n >> 8);
    out[7] = static_cast<char>(n);
    out.append(payload);
    return out;
}

std::optional<Frame> FrameReader::next() {
    if (buffer_.size() < kFrameHeader) return std::nullopt;
    auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(buffer_[i])); };
    std::uint32_t kind = byte(0);
    std::uint32_t len = byte(4) << 24 | byte(5) << 16 | byte(6) << 8 | byte(7);
    if (kind > static_cast<std::uint32_t>(FrameKind::exit))
        throw Error(Errc::invalid_argument, "monitor protocol: unknown frame kind " + std::to_string(kind));
    if (len > kMaxFrame)
        throw Error(Errc::invalid_argument, "monitor protocol: frame of " + std::to_string(len) + " bytes");
    if (buffer_.size() < kFrameHeader + len) return std::nullopt;
    Frame f{static_cast<FrameKind>(kind), buffer_.substr(kFrameHeader, len)};
    buffer_.erase(0, kFrameHeader + len);
    return f;
}

void write_frame(int fd, FrameKind kind, std::string_view payload) {
    std::string data = encode_frame(kind, payload);
    for (std::size_t off = 0; off < data.size();) {
        ssize_t n = write_no_sigpipe(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_sys("write", "monitor socket");
        }
        off += static_cast<std::size_t>(n);
    }
}

std::optional<Frame> read_frame(int fd, int timeout_ms) {
    FrameReader reader;
    char buf[65536];
    for (;;) {
        if (auto f = reader.next()) return f;
        struct pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, timeout_ms);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_sys("poll", "monitor socket");
        }
        if (r == 0) throw Error(Errc::internal, "the monitor did not answer in time");
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_sys("read", "monitor socket");
        }
        if (n == 0) return std::nullopt;
        reader.feed(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace kiln::monitor
