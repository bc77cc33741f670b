// The one place where a failure becomes an HTTP status and a {"code", "message"} body: kiln's
// error categories from handlers, and the framework's own refusals.
#pragma once

#include <exception>
#include <string>
#include <string_view>

#include "api/server/message.hpp"
#include "core/sys/error.hpp"

namespace kiln::api {

// not_found 404, already_exists 409, invalid_argument 400, failed_precondition 412, internal 500.
int status_for(Errc code);

// Failures found by the framework before or instead of a handler.
enum class HttpFailure {
    unknown_route,        // 404 "not_found"
    method_not_allowed,   // 405 "method_not_allowed" (the caller adds Allow)
    malformed_request,    // 400 "invalid_argument"
    request_timeout,      // 408 "request_timeout"
    payload_too_large,    // 413 "payload_too_large"
    upgrade_required,     // 426 "upgrade_required": a WebSocket-only route asked without one
};

Response error_response(HttpFailure failure, const std::string& message);
// kiln::Error by its category; a JSON error from reading a body as invalid_argument; anything
// else as internal.
Response error_response(const std::exception& e);
Response error_response(std::exception_ptr e);

}  // namespace kiln::api
