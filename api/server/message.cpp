// Request and Response helpers: target splitting, query decoding, JSON bodies.
#include "api/server/message.hpp"

#include <algorithm>
#include <cctype>

#include <boost/url/parse.hpp>

#include "core/sys/error.hpp"

namespace kiln::api {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Whether a comma-separated header value holds `token` (case-insensitively).
bool has_token(std::string_view value, std::string_view token) {
    std::string v = lower(value);
    std::size_t start = 0;
    while (start <= v.size()) {
        std::size_t end = v.find(',', start);
        if (end == std::string::npos) end = v.size();
        std::string_view item(v.data() + start, end - start);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (item == token) return true;
        start = end + 1;
    }
    return false;
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the client needs only the rest.
std::string without_json_prefix(const char* what) {
    std::string_view m(what);
    if (!m.empty() && m.front() == '[') {
        auto end = m.find("] ");
        if (end != std::string_view::npos) m.remove_prefix(end + 2);
    }
    return std::string(m);
}

}  // namespace

Request Request::from_target(std::string method, std::string_view target) {
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) invalid("request target `" + std::string(target) + "`: " + parsed.error().message());
    Request req;
    req.method = std::move(method);
    req.path = std::string(parsed->encoded_path());
    if (req.path.empty()) req.path = "/";
    for (auto param : parsed->params(boost::urls::encoding_opts(true))) {
        // The first occurrence wins, as with most HTTP frameworks' single-value getters.
        req.query.emplace(param.key, param.has_value ? param.value : std::string());
    }
    return req;
}

nlohmann::json Request::json() const {
    if (body.empty()) invalid("body: a JSON document is required");
    try {
        return nlohmann::json::parse(body);
    } catch (const nlohmann::json::parse_error& e) {
        invalid("body: " + without_json_prefix(e.what()));
    }
}

std::string Request::query_or(const std::string& key, std::string fallback) const {
    auto it = query.find(key);
    return it == query.end() ? std::move(fallback) : it->second;
}

bool Request::query_flag(const std::string& key, bool fallback) const {
    auto it = query.find(key);
    if (it == query.end()) return fallback;
    const std::string value = lower(it->second);
    // A bare "?follow" reads as a set flag.
    if (value == "true" || value == "1" || value.empty()) return true;
    if (value == "false" || value == "0") return false;
    invalid("query parameter " + key + ": expected true or false, got `" + it->second + "`");
}

std::string Request::header_or(const std::string& lower_case_name, std::string fallback) const {
    auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::move(fallback) : it->second;
}

const std::string& Request::param(const std::string& name) const {
    auto it = params.find(name);
    if (it == params.end()) throw Error(Errc::internal, "route has no parameter {" + name + "}");
    return it->second;
}

bool Request::wants_upgrade() const {
    auto connection = headers.find("connection");
    auto upgrade = headers.find("upgrade");
    return connection != headers.end() && upgrade != headers.end() &&
           has_token(connection->second, "upgrade") && has_token(upgrade->second, "websocket");
}

Response Response::json(const nlohmann::json& value, int status) {
    Response res;
    res.status = status;
    res.body = value.dump();
    return res;
}

Response Response::text(std::string body, int status, std::string content_type) {
    Response res;
    res.status = status;
    res.content_type = std::move(content_type);
    res.body = std::move(body);
    return res;
}

Response Response::no_content() {
    Response res;
    res.status = 204;
    res.content_type.clear();
    return res;
}

}  // namespace kiln::api
