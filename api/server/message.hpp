// The request and response of the REST API as handlers see them: plain values, no Beast, so
// handlers and their tests need no sockets.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kiln::api {

struct Request {
    std::string method;                          // "GET", "POST", ...
    std::string path;                            // as sent, percent-encoded, without the query
    std::map<std::string, std::string> query;    // decoded; '+' is a space
    std::map<std::string, std::string> params;   // decoded {name} captures of the route's pattern
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;

    // Splits an origin-form target ("/v1/pods?all=true") into path and decoded query;
    // invalid_argument when it is not one.
    static Request from_target(std::string method, std::string_view target);

    // The body as JSON; invalid_argument "body: ..." when it is empty or not JSON.
    nlohmann::json json() const;
    std::string query_or(const std::string& key, std::string fallback) const;
    // "true"/"1" and "false"/"0"; anything else is invalid_argument naming the parameter.
    bool query_flag(const std::string& key, bool fallback = false) const;
    std::string header_or(const std::string& lower_case_name, std::string fallback) const;
    // A named capture of the route; the router guarantees it exists for a matched pattern.
    const std::string& param(const std::string& name) const;
    // Asks for a WebSocket (Connection: upgrade, Upgrade: websocket).
    bool wants_upgrade() const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::map<std::string, std::string> headers;  // extra headers, e.g. Allow or Location

    static Response json(const nlohmann::json& value, int status = 200);
    static Response text(std::string body, int status = 200, std::string content_type = "text/plain");
    static Response no_content();
};

}  // namespace kiln::api
