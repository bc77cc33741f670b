// Route matching: literal segments before captures, 404/405/426 decided here.
#include "api/server/router.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <boost/url/parse_path.hpp>

#include "api/server/errors.hpp"
#include "core/sys/error.hpp"

namespace kiln::api {

namespace {

struct Segment {
    bool capture = false;
    std::string text;  // the literal, or the capture's name
};

std::vector<Segment> parse_pattern(const std::string& pattern) {
    if (pattern.empty() || pattern.front() != '/') invalid("route pattern `" + pattern + "`: not absolute");
    std::vector<Segment> segments;
    std::size_t start = 1;
    while (start <= pattern.size()) {
        std::size_t end = pattern.find('/', start);
        if (end == std::string::npos) end = pattern.size();
        std::string text = pattern.substr(start, end - start);
        Segment seg;
        if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
            seg.capture = true;
            seg.text = text.substr(1, text.size() - 2);
        } else if (text.find_first_of("{}") != std::string::npos) {
            invalid("route pattern `" + pattern + "`: a capture must be a whole segment");
        } else {
            seg.text = std::move(text);
        }
        segments.push_back(std::move(seg));
        start = end + 1;
    }
    return segments;
}

// Two patterns with the same shape would match the same paths.
std::string shape_of(const std::vector<Segment>& segments) {
    std::string shape;
    for (const auto& seg : segments) shape += seg.capture ? "/{}" : "/" + seg.text;
    return shape;
}

struct StreamRoute {
    std::string content_type;
    StreamHandler handler;
};

// Collects a stream handler's chunks when there is no connection (Router::handle).
class BufferWriter : public StreamWriter {
public:
    bool write(std::string_view chunk) override {
        body.append(chunk);
        return true;
    }
    bool closed() const override { return false; }
    void on_close(std::function<void()>) override {}
    std::string body;
};

}  // namespace

struct Router::Route {
    std::string pattern;
    std::vector<Segment> segments;
    std::map<std::string, Handler> handlers;
    std::map<std::string, Handler> slow_handlers;
    std::map<std::string, StreamRoute> streams;
    WebSocketHandler websocket;
    WebSocketCheck websocket_check;

    bool has_method(const std::string& method) const {
        return handlers.count(method) || slow_handlers.count(method) || streams.count(method) ||
               (method == "GET" && websocket);
    }
    void methods(std::set<std::string>& out) const {
        for (const auto& [m, _] : handlers) out.insert(m);
        for (const auto& [m, _] : slow_handlers) out.insert(m);
        for (const auto& [m, _] : streams) out.insert(m);
        if (websocket) out.insert("GET");
    }
};

Response run_handler(const Handler& handler, const Request& req) {
    try {
        return handler(req);
    } catch (...) {
        return error_response(std::current_exception());
    }
}

Router::Router() = default;

std::vector<Router::RouteInfo> Router::routes() const {
    std::vector<RouteInfo> out;
    for (const auto& r : routes_) {
        for (const auto& [m, _] : r->handlers) out.push_back({m, r->pattern, "plain"});
        for (const auto& [m, _] : r->slow_handlers) out.push_back({m, r->pattern, "slow"});
        for (const auto& [m, _] : r->streams) out.push_back({m, r->pattern, "stream"});
        if (r->websocket) out.push_back({"GET", r->pattern, "websocket"});
    }
    return out;
}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Router::Route& Router::route_for(const std::string& pattern) {
    auto segments = parse_pattern(pattern);
    const std::string shape = shape_of(segments);
    for (auto& route : routes_) {
        if (shape_of(route->segments) != shape) continue;
        if (route->pattern != pattern)
            invalid("route pattern `" + pattern + "` conflicts with `" + route->pattern + "`");
        return *route;
    }
    auto route = std::make_unique<Route>();
    route->pattern = pattern;
    route->segments = std::move(segments);
    routes_.push_back(std::move(route));
    return *routes_.back();
}

void Router::add(std::string method, const std::string& pattern, Handler handler) {
    Route& route = route_for(pattern);
    if (route.has_method(method)) invalid("route " + method + " " + pattern + " is already registered");
    route.handlers.emplace(std::move(method), std::move(handler));
}

void Router::add_slow(std::string method, const std::string& pattern, Handler handler) {
    Route& route = route_for(pattern);
    if (route.has_method(method)) invalid("route " + method + " " + pattern + " is already registered");
    route.slow_handlers.emplace(std::move(method), std::move(handler));
}

void Router::add_stream(std::string method, const std::string& pattern, std::string content_type,
                        StreamHandler handler) {
    Route& route = route_for(pattern);
    if (route.has_method(method)) invalid("route " + method + " " + pattern + " is already registered");
    route.streams.emplace(std::move(method), StreamRoute{std::move(content_type), std::move(handler)});
}

void Router::add_websocket(const std::string& pattern, WebSocketHandler handler, WebSocketCheck check) {
    Route& route = route_for(pattern);
    if (route.websocket || route.streams.count("GET"))
        invalid("route WebSocket " + pattern + " is already registered");
    route.websocket = std::move(handler);
    route.websocket_check = std::move(check);
}

Router::Match Router::dispatch(Request& req) const {
    Match match;
    auto path = boost::urls::parse_path(req.path);
    if (!path || req.path.empty() || req.path.front() != '/') {
        match.response = error_response(HttpFailure::malformed_request, "request path `" + req.path + "` is not valid");
        return match;
    }
    std::vector<std::string> segments;
    for (auto seg : *path) segments.push_back(seg.decode());
    // "/" parses to no segments, while the pattern "/" has one empty segment.
    if (segments.empty()) segments.emplace_back();

    // Candidates in order of preference: at the first segment where two differ, a literal wins.
    std::vector<const Route*> candidates;
    for (const auto& route : routes_) {
        if (route->segments.size() != segments.size()) continue;
        bool matches = true;
        for (std::size_t i = 0; i < segments.size() && matches; ++i)
            matches = route->segments[i].capture || route->segments[i].text == segments[i];
        if (matches) candidates.push_back(route.get());
    }
    if (candidates.empty()) {
        match.response = error_response(HttpFailure::unknown_route, "no route for " + req.method + " " + req.path);
        return match;
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](const Route* a, const Route* b) {
        for (std::size_t i = 0; i < a->segments.size(); ++i)
            if (a->segments[i].capture != b->segments[i].capture) return !a->segments[i].capture;
        return false;
    });

    auto chosen = std::find_if(candidates.begin(), candidates.end(),
                               [&](const Route* r) { return r->has_method(req.method); });
    if (chosen == candidates.end()) {
        std::set<std::string> allowed;
        for (const Route* r : candidates) r->methods(allowed);
        std::string allow;
        for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
        match.response = error_response(HttpFailure::method_not_allowed,
                                        "method " + req.method + " is not allowed on " + req.path);
        match.response.headers["Allow"] = allow;
        return match;
    }
    const Route& route = **chosen;
    req.params.clear();
    for (std::size_t i = 0; i < segments.size(); ++i)
        if (route.segments[i].capture) req.params[route.segments[i].text] = segments[i];

    if (req.method == "GET" && route.websocket && req.wants_upgrade()) {
        if (route.websocket_check) {
            try {
                route.websocket_check(req);
            } catch (...) {
                match.response = error_response(std::current_exception());
                return match;
            }
        }
        match.kind = Match::Kind::websocket;
        match.websocket = &route.websocket;
        return match;
    }
    if (auto it = route.handlers.find(req.method); it != route.handlers.end()) {
        match.response = run_handler(it->second, req);
        return match;
    }
    if (auto it = route.slow_handlers.find(req.method); it != route.slow_handlers.end()) {
        match.kind = Match::Kind::slow;
        match.slow = &it->second;
        return match;
    }
    if (auto it = route.streams.find(req.method); it != route.streams.end()) {
        match.kind = Match::Kind::stream;
        match.stream = &it->second.handler;
        match.content_type = it->second.content_type;
        return match;
    }
    match.response = error_response(HttpFailure::upgrade_required, req.path + " needs a WebSocket upgrade");
    match.response.headers["Upgrade"] = "websocket";
    return match;
}

Response Router::handle(const Request& request) const {
    Request req = request;
    Match match = dispatch(req);
    switch (match.kind) {
        case Match::Kind::response: return std::move(match.response);
        case Match::Kind::slow: return run_handler(*match.slow, req);
        case Match::Kind::stream: {
            BufferWriter writer;
            try {
                (*match.stream)(req, writer);
            } catch (...) {
                return error_response(std::current_exception());
            }
            return Response::text(std::move(writer.body), 200, match.content_type);
        }
        case Match::Kind::websocket: break;
    }
    return error_response(HttpFailure::upgrade_required, req.path + " is served only over a WebSocket");
}

}  // namespace kiln::api
