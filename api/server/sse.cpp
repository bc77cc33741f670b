// Server-sent events framing (the text/event-stream format of the HTML standard).
#include "api/server/streaming.hpp"

namespace kiln::api {

std::string sse_event(std::string_view data, std::string_view id, std::string_view event) {
    std::string out;
    out.reserve(data.size() + id.size() + event.size() + 32);
    // A field value cannot hold a line break; ids and event names never should.
    auto single_line = [](std::string_view v) { return v.substr(0, v.find_first_of("\r\n")); };
    if (!id.empty()) out.append("id: ").append(single_line(id)).append("\n");
    if (!event.empty()) out.append("event: ").append(single_line(event)).append("\n");
    // Each line of the payload is its own data field; the client joins them with "\n".
    std::size_t start = 0;
    while (true) {
        std::size_t end = data.find('\n', start);
        std::string_view line = data.substr(start, end == std::string_view::npos ? end : end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        out.append("data: ").append(line).append("\n");
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    out.append("\n");
    return out;
}

}  // namespace kiln::api
