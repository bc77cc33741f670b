// /v1/events: server-sent events of pod and container lifecycle. `since=N` resumes after event N
// (the `id:` of each event); without it only new events come.
#include "api/server/routes/routes.hpp"
#include "api/server/streaming.hpp"
#include "core/sys/error.hpp"

namespace kiln::api {

void add_event_routes(Router& r, daemon::Daemon& d) {
    r.add_stream("GET", "/v1/events", "text/event-stream", [&d](const Request& req, StreamWriter& out) {
        std::uint64_t cursor = d.events().last_id();
        if (auto it = req.query.find("since"); it != req.query.end()) {
            try {
                std::size_t used = 0;
                if (it->second.empty() || it->second.find_first_not_of("0123456789") != std::string::npos)
                    throw std::invalid_argument("not a number");
                cursor = std::stoull(it->second, &used);
            } catch (...) {
                invalid("since: must be an event id (a number), got \"" + it->second + "\"");
            }
        }
        out.write("");  // headers now: the client knows it is subscribed
        while (!out.closed() && !d.events().closed()) {
            for (const auto& e : d.events().wait(cursor, 1000)) {
                cursor = e.id;
                if (!out.write(sse_event(daemon::to_json(e).dump(), std::to_string(e.id), e.type))) return;
            }
        }
    });
}

}  // namespace kiln::api
