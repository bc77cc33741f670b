// What kilnd and kiln-monitor say to each other on the monitor's socket. Every message is a
// frame: an 8-byte header (kind, three zero bytes, payload length as big-endian u32) and the
// payload, the shape of Docker's attach stream so a frame can be forwarded as it is.
//
//   client                                   kiln-monitor
//     ── control {"op":"attach","stdin":b,"logs":b} ──>
//     <── stdout / stderr frames ────────────  as the container writes; with "logs", the last
//     ── stdin frames (empty = EOF) ────────>   64 KiB of output first (the rest is in the log)
//     ── control {"op":"resize",...} ───────>
//     <── exit {"exit_code":N,...} ──────────  once the container has exited and output drained
//
//     ── control {"op":"state"} ────────────>   <── control {"id","pid","running",...}
//     ── control {"op":"signal","signal":N} ─>  <── control {"ok":true} | {"error":"..."}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::monitor {

enum class FrameKind : std::uint8_t { stdin_data = 0, stdout_data = 1, stderr_data = 2, control = 3, exit = 4 };

struct Frame {
    FrameKind kind = FrameKind::control;
    std::string payload;
};

constexpr std::size_t kFrameHeader = 8;
constexpr std::size_t kMaxFrame = 1 << 20;

std::string encode_frame(FrameKind kind, std::string_view payload);

// Accumulates bytes from a stream socket and yields whole frames.
class FrameReader {
public:
    void feed(const char* data, std::size_t len) { buffer_.append(data, len); }
    // The next whole frame, if one has arrived. Throws kiln::Error on a malformed header.
    std::optional<Frame> next();

private:
    std::string buffer_;
};

// Blocking helpers for short request/reply exchanges (kilnd's side). Both throw kiln::Error.
void write_frame(int fd, FrameKind kind, std::string_view payload);
// Reads one frame, waiting at most `timeout_ms` for each read (-1: forever); nullopt at EOF.
std::optional<Frame> read_frame(int fd, int timeout_ms);

}  // namespace kiln::monitor
