// Error -> HTTP status and body.
#include "api/server/errors.hpp"

#include <nlohmann/json.hpp>

namespace kiln::api {

namespace {

Response error_body(int status, std::string_view code, std::string_view message) {
    return Response::json({{"code", code}, {"message", message}}, status);
}

// nlohmann's messages start with "[json.exception.type_error.302] "; the client needs the rest.
std::string_view without_json_prefix(std::string_view m) {
    if (!m.empty() && m.front() == '[') {
        auto end = m.find("] ");
        if (end != std::string_view::npos) m.remove_prefix(end + 2);
    }
    return m;
}

}  // namespace

int status_for(Errc code) {
    switch (code) {
        case Errc::not_found: return 404;
        case Errc::already_exists: return 409;
        case Errc::invalid_argument: return 400;
        case Errc::failed_precondition: return 412;
        case Errc::internal: return 500;
    }
    return 500;
}

Response error_response(HttpFailure failure, const std::string& message) {
    switch (failure) {
        case HttpFailure::unknown_route: return error_body(404, errc_name(Errc::not_found), message);
        case HttpFailure::method_not_allowed: return error_body(405, "method_not_allowed", message);
        case HttpFailure::malformed_request:
            return error_body(400, errc_name(Errc::invalid_argument), message);
        case HttpFailure::request_timeout: return error_body(408, "request_timeout", message);
        case HttpFailure::payload_too_large: return error_body(413, "payload_too_large", message);
        case HttpFailure::upgrade_required: return error_body(426, "upgrade_required", message);
    }
    return error_body(500, errc_name(Errc::internal), message);
}

Response error_response(const std::exception& e) {
    if (auto* error = dynamic_cast<const Error*>(&e))
        return error_body(status_for(error->code()), errc_name(error->code()), error->what());
    // Handlers read request bodies with at() and get<>(): a missing or mistyped field is the
    // client's mistake, not the server's.
    if (dynamic_cast<const nlohmann::json::exception*>(&e))
        return error_body(400, errc_name(Errc::invalid_argument), "body: " + std::string(without_json_prefix(e.what())));
    return error_body(500, errc_name(Errc::internal), e.what());
}

Response error_response(std::exception_ptr e) {
    try {
        if (e) std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return error_response(ex);
    } catch (...) {
    }
    return error_body(500, errc_name(Errc::internal), "unknown error");
}

}  // namespace kiln::api
