// Router dispatch, captures, query decoding and the error mapping, without sockets.
#include <gtest/gtest.h>

#include "api/server/errors.hpp"
#include "api/server/router.hpp"

namespace kiln::api {
namespace {

Request request(const std::string& method, const std::string& target, std::string body = {}) {
    Request req = Request::from_target(method, target);
    req.body = std::move(body);
    return req;
}

nlohmann::json body_of(const Response& res) { return nlohmann::json::parse(res.body); }

TEST(Router, DispatchesByMethodAndPath) {
    Router router;
    router.add("GET", "/v1/pods", [](const Request&) { return Response::json({{"pods", nlohmann::json::array()}}); });
    router.add("POST", "/v1/pods", [](const Request& req) { return Response::json(req.json(), 201); });

    Response list = router.handle(request("GET", "/v1/pods"));
    EXPECT_EQ(list.status, 200);
    EXPECT_EQ(list.content_type, "application/json");
    EXPECT_EQ(body_of(list), (nlohmann::json{{"pods", nlohmann::json::array()}}));

    Response created = router.handle(request("POST", "/v1/pods", R"({"name":"web"})"));
    EXPECT_EQ(created.status, 201);
    EXPECT_EQ(body_of(created)["name"], "web");
}

TEST(Router, CapturesDecodedSegments) {
    Router router;
    router.add("GET", "/v1/pods/{name}/containers/{container}/logs", [](const Request& req) {
        return Response::json({{"pod", req.param("name")}, {"container", req.param("container")}});
    });
    Response res = router.handle(request("GET", "/v1/pods/my%20pod/containers/a%2Fb/logs"));
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(body_of(res)["pod"], "my pod");
    EXPECT_EQ(body_of(res)["container"], "a/b");
}

TEST(Router, LiteralSegmentsWinOverCaptures) {
    Router router;
    router.add("GET", "/v1/pods/{name}", [](const Request& req) { return Response::json({{"pod", req.param("name")}}); });
    router.add("POST", "/v1/pods/prune", [](const Request&) { return Response::json({{"pruned", true}}); });
    EXPECT_EQ(body_of(router.handle(request("POST", "/v1/pods/prune")))["pruned"], true);
    // The literal route has no GET: the capture route answers.
    EXPECT_EQ(body_of(router.handle(request("GET", "/v1/pods/prune")))["pod"], "prune");
}

TEST(Router, DecodesQuery) {
    Router router;
    router.add("GET", "/v1/events", [](const Request& req) {
        return Response::json({{"since", req.query_or("since", "none")},
                               {"filter", req.query_or("filter", "")},
                               {"follow", req.query_flag("follow")},
                               {"missing", req.query_or("missing", "default")}});
    });
    Response res = router.handle(request("GET", "/v1/events?since=42&filter=a+b%26c&follow=true"));
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(body_of(res)["since"], "42");
    EXPECT_EQ(body_of(res)["filter"], "a b&c");
    EXPECT_EQ(body_of(res)["follow"], true);
    EXPECT_EQ(body_of(res)["missing"], "default");

    Response bad = router.handle(request("GET", "/v1/events?follow=maybe"));
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(body_of(bad)["code"], "invalid_argument");
    EXPECT_NE(body_of(bad)["message"].get<std::string>().find("follow"), std::string::npos);
}

TEST(Router, UnknownRouteIs404) {
    Router router;
    router.add("GET", "/v1/pods", [](const Request&) { return Response::json({}); });
    Response res = router.handle(request("GET", "/v1/nothing"));
    EXPECT_EQ(res.status, 404);
    EXPECT_EQ(body_of(res)["code"], "not_found");
    EXPECT_FALSE(body_of(res)["message"].get<std::string>().empty());
}

TEST(Router, OtherMethodIs405WithAllow) {
    Router router;
    router.add("GET", "/v1/pods/{name}", [](const Request&) { return Response::json({}); });
    router.add("DELETE", "/v1/pods/{name}", [](const Request&) { return Response::no_content(); });
    router.add_websocket("/v1/pods/{name}", [](const Request&, WebSocket&) {});
    Response res = router.handle(request("PUT", "/v1/pods/web"));
    EXPECT_EQ(res.status, 405);
    EXPECT_EQ(body_of(res)["code"], "method_not_allowed");
    EXPECT_EQ(res.headers.at("Allow"), "DELETE, GET");
}

TEST(Router, PathMayHavePlainAndWebSocketHandlers) {
    Router router;
    router.add("POST", "/v1/pods/{name}/exec", [](const Request&) { return Response::json({{"plain", true}}); });
    router.add_websocket("/v1/pods/{name}/exec", [](const Request&, WebSocket&) {});

    Request post = request("POST", "/v1/pods/web/exec", "{}");
    EXPECT_EQ(router.dispatch(post).kind, Router::Match::Kind::response);

    Request upgrade = request("GET", "/v1/pods/web/exec");
    upgrade.headers = {{"connection", "keep-alive, Upgrade"}, {"upgrade", "WebSocket"}};
    Router::Match match = router.dispatch(upgrade);
    EXPECT_EQ(match.kind, Router::Match::Kind::websocket);
    EXPECT_NE(match.websocket, nullptr);
    EXPECT_EQ(upgrade.params.at("name"), "web");

    // The WebSocket route without an upgrade.
    Response plain_get = router.handle(request("GET", "/v1/pods/web/exec"));
    EXPECT_EQ(plain_get.status, 426);
    EXPECT_EQ(body_of(plain_get)["code"], "upgrade_required");
}

TEST(Router, WebSocketCheckAnswersBeforeTheUpgrade) {
    Router router;
    router.add_websocket("/v1/pods/{name}/attach", [](const Request&, WebSocket&) {},
                         [](const Request& req) {
                             if (req.param("name") != "web") throw Error(Errc::failed_precondition, "not running");
                         });
    Request ok = request("GET", "/v1/pods/web/attach");
    ok.headers = {{"connection", "Upgrade"}, {"upgrade", "websocket"}};
    EXPECT_EQ(router.dispatch(ok).kind, Router::Match::Kind::websocket);
    Request refused = request("GET", "/v1/pods/db/attach");
    refused.headers = ok.headers;
    Router::Match m = router.dispatch(refused);
    EXPECT_EQ(m.kind, Router::Match::Kind::response);
    EXPECT_EQ(m.response.status, 412);
    EXPECT_NE(m.response.body.find("not running"), std::string::npos);
}

TEST(Router, StreamRouteWithoutSocketCollectsTheBody) {
    Router router;
    router.add_stream("GET", "/v1/pods/{name}/logs", "application/x-ndjson", [](const Request& req, StreamWriter& out) {
        if (req.param("name") == "missing") not_found("pod missing not found");
        out.write("{\"line\":1}\n");
        out.write("{\"line\":2}\n");
    });
    Response res = router.handle(request("GET", "/v1/pods/web/logs"));
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.content_type, "application/x-ndjson");
    EXPECT_EQ(res.body, "{\"line\":1}\n{\"line\":2}\n");

    Response missing = router.handle(request("GET", "/v1/pods/missing/logs"));
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(body_of(missing)["code"], "not_found");
    EXPECT_EQ(body_of(missing)["message"], "pod missing not found");
}

TEST(Router, RejectsDuplicateAndConflictingRoutes) {
    Router router;
    router.add("GET", "/v1/pods/{name}", [](const Request&) { return Response{}; });
    EXPECT_THROW(router.add("GET", "/v1/pods/{name}", [](const Request&) { return Response{}; }), Error);
    EXPECT_THROW(router.add("POST", "/v1/pods/{id}", [](const Request&) { return Response{}; }), Error);
    EXPECT_THROW(router.add("GET", "v1/pods", [](const Request&) { return Response{}; }), Error);
    EXPECT_THROW(router.add("GET", "/v1/pods/x{name}", [](const Request&) { return Response{}; }), Error);
    EXPECT_NO_THROW(router.add("POST", "/v1/pods/{name}", [](const Request&) { return Response{}; }));
}

TEST(Router, HandlerErrorsMapToStatusAndCode) {
    struct Case {
        Errc code;
        int status;
    };
    for (Case c : {Case{Errc::not_found, 404}, Case{Errc::already_exists, 409}, Case{Errc::invalid_argument, 400},
                   Case{Errc::failed_precondition, 412}, Case{Errc::internal, 500}}) {
        Router router;
        router.add("GET", "/fail", [c](const Request&) -> Response { throw Error(c.code, "it failed"); });
        Response res = router.handle(request("GET", "/fail"));
        EXPECT_EQ(res.status, c.status);
        EXPECT_EQ(status_for(c.code), c.status);
        EXPECT_EQ(body_of(res), (nlohmann::json{{"code", errc_name(c.code)}, {"message", "it failed"}}));
    }
}

TEST(Router, OtherExceptionsAreInternal) {
    Router router;
    router.add("GET", "/boom", [](const Request&) -> Response { throw std::runtime_error("boom"); });
    router.add("GET", "/int", [](const Request&) -> Response { throw 42; });
    Response res = router.handle(request("GET", "/boom"));
    EXPECT_EQ(res.status, 500);
    EXPECT_EQ(body_of(res)["code"], "internal");
    EXPECT_EQ(body_of(res)["message"], "boom");
    EXPECT_EQ(router.handle(request("GET", "/int")).status, 500);
}

TEST(Router, JsonBodyErrorsAreInvalidArgument) {
    Router router;
    router.add("POST", "/v1/pods", [](const Request& req) {
        auto body = req.json();
        return Response::json({{"name", body.at("name").get<std::string>()}});
    });
    Response bad_json = router.handle(request("POST", "/v1/pods", "{not json"));
    EXPECT_EQ(bad_json.status, 400);
    EXPECT_EQ(body_of(bad_json)["code"], "invalid_argument");
    EXPECT_EQ(body_of(bad_json)["message"].get<std::string>().rfind("body: ", 0), 0u);

    Response empty = router.handle(request("POST", "/v1/pods"));
    EXPECT_EQ(empty.status, 400);
    EXPECT_EQ(body_of(empty)["message"], "body: a JSON document is required");

    Response missing_field = router.handle(request("POST", "/v1/pods", "{}"));
    EXPECT_EQ(missing_field.status, 400);
    EXPECT_EQ(body_of(missing_field)["code"], "invalid_argument");
    EXPECT_EQ(body_of(missing_field)["message"].get<std::string>().find("[json.exception"), std::string::npos);

    Response wrong_type = router.handle(request("POST", "/v1/pods", R"({"name": 3})"));
    EXPECT_EQ(wrong_type.status, 400);
}

TEST(Router, FrameworkFailures) {
    auto check = [](HttpFailure failure, int status, const std::string& code) {
        Response res = error_response(failure, "why");
        EXPECT_EQ(res.status, status);
        EXPECT_EQ(res.content_type, "application/json");
        EXPECT_EQ(nlohmann::json::parse(res.body), (nlohmann::json{{"code", code}, {"message", "why"}}));
    };
    check(HttpFailure::unknown_route, 404, "not_found");
    check(HttpFailure::method_not_allowed, 405, "method_not_allowed");
    check(HttpFailure::malformed_request, 400, "invalid_argument");
    check(HttpFailure::request_timeout, 408, "request_timeout");
    check(HttpFailure::payload_too_large, 413, "payload_too_large");
    check(HttpFailure::upgrade_required, 426, "upgrade_required");
}

TEST(Request, RejectsTargetsThatAreNotOriginForm) {
    EXPECT_THROW(Request::from_target("GET", "http://example.com/v1/pods"), Error);
    EXPECT_THROW(Request::from_target("GET", "v1/pods"), Error);
    Request req = Request::from_target("GET", "/v1/pods?a=1&a=2&flag");
    EXPECT_EQ(req.path, "/v1/pods");
    EXPECT_EQ(req.query.at("a"), "1");
    EXPECT_EQ(req.query.at("flag"), "");
    EXPECT_TRUE(req.query_flag("flag"));
}

TEST(Request, WantsUpgrade) {
    Request req = Request::from_target("GET", "/x");
    EXPECT_FALSE(req.wants_upgrade());
    req.headers = {{"connection", "Upgrade"}, {"upgrade", "websocket"}};
    EXPECT_TRUE(req.wants_upgrade());
    req.headers = {{"connection", "keep-alive"}, {"upgrade", "websocket"}};
    EXPECT_FALSE(req.wants_upgrade());
}

TEST(ServerSentEvents, Formatting) {
    EXPECT_EQ(sse_event("{\"a\":1}", "7", "pod"), "id: 7\nevent: pod\ndata: {\"a\":1}\n\n");
    EXPECT_EQ(sse_event("one\ntwo\r\nthree"), "data: one\ndata: two\ndata: three\n\n");
    EXPECT_EQ(sse_event("", "1"), "id: 1\ndata: \n\n");
}

}  // namespace
}  // namespace kiln::api
