// The server on a real unix socket, driven by the client and by raw connections: keep-alive,
// limits, timeouts, streams, server-sent events, WebSockets, the socket file, and stop().
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <fstream>
#include <mutex>

#include "api/client/client.hpp"
#include "api/server/server.hpp"
#include "api_test_support.hpp"

namespace kiln::api {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::read_to_close;
using testing::read_until;
using testing::send_all;
using testing::upper_bound;

struct Logged {
    std::string method;
    std::string path;
    int status;
    std::uint64_t connection;
};

class ServerTest : public ::testing::Test {
protected:
    ServerOptions options() {
        ServerOptions o;
        o.socket_path = socket;
        o.access_log = [this](const AccessRecord& r) {
            std::lock_guard lock(mutex);
            records.push_back({std::string(r.method), std::string(r.path), r.status, r.connection});
        };
        return o;
    }
    void start(ServerOptions o) {
        server = std::make_unique<Server>(std::move(o), router);
        server->start();
    }
    void start() { start(options()); }
    Client client() {
        Client c(socket);
        c.set_timeout(upper_bound);
        return c;
    }
    Fd raw() { return connect_unix(socket); }
    std::vector<Logged> logged() {
        std::lock_guard lock(mutex);
        return records;
    }
    void TearDown() override {
        if (server) server->stop();
    }

    testing::TempDir dir;
    std::string socket = dir.file("kiln.sock");
    std::shared_ptr<Router> router = std::make_shared<Router>();
    std::mutex mutex;
    std::vector<Logged> records;
    std::unique_ptr<Server> server;
};

TEST_F(ServerTest, KeepsTheConnectionAliveAcrossRequests) {
    router->add("GET", "/v1/pods/{name}", [](const Request& req) { return Response::json({{"name", req.param("name")}}); });
    router->add("POST", "/v1/echo", [](const Request& req) { return Response::json(req.json()); });
    start();
    Client c = client();
    EXPECT_EQ(c.call("GET", "/v1/pods/a")["name"], "a");
    EXPECT_EQ(c.call("POST", "/v1/echo", nlohmann::json{{"x", 1}})["x"], 1);
    EXPECT_EQ(c.call("GET", "/v1/pods/b%20c")["name"], "b c");

    ASSERT_TRUE(eventually([&] { return logged().size() == 3; }));
    auto log = logged();
    EXPECT_EQ(log[0].connection, log[1].connection);
    EXPECT_EQ(log[1].connection, log[2].connection);
    EXPECT_EQ(log[0].method, "GET");
    EXPECT_EQ(log[0].path, "/v1/pods/a");
    EXPECT_EQ(log[0].status, 200);
    EXPECT_EQ(log[1].method, "POST");
}

TEST_F(ServerTest, TwoRequestsOnOneRawConnection) {
    router->add("GET", "/v1/health", [](const Request&) { return Response::json({{"status", "ok"}}); });
    start();
    Fd fd = raw();
    const std::string request = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, request + request);
    std::string both = read_until(fd, [](const std::string& got) {
        std::size_t first = got.find("{\"status\":\"ok\"}");
        return first != std::string::npos && got.find("{\"status\":\"ok\"}", first + 1) != std::string::npos;
    });
    EXPECT_EQ(both.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << both;
    EXPECT_NE(both.find("Content-Type: application/json\r\n"), std::string::npos);
}

TEST_F(ServerTest, ErrorsCarryCodeAndMessageToTheClient) {
    router->add("POST", "/v1/pods", [](const Request&) -> Response {
        throw Error(Errc::already_exists, "pod web already exists");
    });
    start();
    Client c = client();
    try {
        c.call("POST", "/v1/pods", nlohmann::json::object());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::already_exists);
        EXPECT_STREQ(e.what(), "pod web already exists");
    }
    Client::Result missing = c.request("GET", "/v1/nothing");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.json()["code"], "not_found");
    EXPECT_EQ(error_of(missing).code(), Errc::not_found);

    Client::Result wrong_method = c.request("DELETE", "/v1/pods");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.headers.at("allow"), "POST");
    EXPECT_EQ(error_of(wrong_method).code(), Errc::invalid_argument);
}

TEST_F(ServerTest, BodyOverTheLimitIs413) {
    router->add("POST", "/v1/echo", [](const Request& req) { return Response::text(req.body); });
    ServerOptions o = options();
    o.max_body_bytes = 1024;
    start(o);
    Client c = client();
    Client::Result small = c.request("POST", "/v1/echo", std::string(1000, 'a'), "text/plain");
    EXPECT_EQ(small.status, 200);
    Client::Result big = c.request("POST", "/v1/echo", std::string(64 * 1024, 'a'), "text/plain");
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(big.json()["code"], "payload_too_large");
    // The client recovers on a new connection.
    EXPECT_EQ(c.request("POST", "/v1/echo", std::string("ok"), "text/plain").body, "ok");

    // A chunked body gives no length up front: the limit cuts in while it is read.
    Fd fd = raw();
    std::string chunk(600, 'b');
    send_all(fd, "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    // The server may answer and close before the last chunk: a failed send is expected.
    for (int i = 0; i < 3; ++i) {
        const std::string piece = "258\r\n" + chunk + "\r\n";
        if (::send(fd.get(), piece.data(), piece.size(), MSG_NOSIGNAL) < 0) break;
    }
    bool closed = false;
    std::string answer = read_until(fd, [](const std::string&) { return false; }, &closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer;
    EXPECT_NE(answer.find("\"payload_too_large\""), std::string::npos);
    EXPECT_TRUE(closed);
}

TEST_F(ServerTest, ExpectContinueGetsA100First) {
    router->add("POST", "/v1/echo", [](const Request& req) { return Response::text(req.body); });
    start();
    Fd fd = raw();
    send_all(fd, "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    std::string interim = read_until(fd, [](const std::string& got) { return got.find("\r\n\r\n") != std::string::npos; });
    EXPECT_EQ(interim.rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << interim;
    send_all(fd, "hello");
    std::string answer = read_until(fd, [](const std::string& got) { return got.find("hello") != std::string::npos; });
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
}

TEST_F(ServerTest, MalformedRequestIs400) {
    start();
    Fd fd = raw();
    send_all(fd, "NOT A REQUEST\r\n\r\n");
    std::string answer = read_to_close(fd);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
    EXPECT_NE(answer.find("\"invalid_argument\""), std::string::npos);
}

TEST_F(ServerTest, HalfARequestHitsTheReadTimeout) {
    router->add("GET", "/v1/health", [](const Request&) { return Response::json({}); });
    ServerOptions o = options();
    o.read_timeout = 200ms;
    start(o);
    Fd fd = raw();
    send_all(fd, "GET /v1/health HTTP/1.1\r\nHost: x\r\n");  // the blank line never comes
    bool closed = false;
    std::string answer = read_until(fd, [](const std::string&) { return false; }, &closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 408 ", 0), 0u) << answer;
    EXPECT_NE(answer.find("\"request_timeout\""), std::string::npos);
    EXPECT_NE(answer.find("Connection: close"), std::string::npos);
    EXPECT_TRUE(closed);
}

TEST_F(ServerTest, IdleConnectionIsClosedAndTheClientReconnects) {
    router->add("GET", "/v1/health", [](const Request&) { return Response::json({{"status", "ok"}}); });
    ServerOptions o = options();
    o.idle_timeout = 100ms;
    start(o);
    Fd fd = raw();
    bool closed = false;
    std::string nothing = read_until(fd, [](const std::string&) { return false; }, &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(nothing, "");

    Client c = client();
    EXPECT_EQ(c.call("GET", "/v1/health")["status"], "ok");
    // Long enough for the server to have dropped the connection most of the time; the call
    // must work either way.
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(c.call("GET", "/v1/health")["status"], "ok");
}

TEST_F(ServerTest, StreamDeliversChunksAsTheyAreWrittenAndSeesTheClientLeave) {
    std::atomic<bool> client_got_first{false};
    std::atomic<bool> handler_saw_close{false};
    std::atomic<bool> close_callback{false};
    router->add_stream("GET", "/v1/pods/{name}/logs", "application/x-ndjson", [&](const Request& req, StreamWriter& out) {
        out.on_close([&] { close_callback = true; });
        ASSERT_TRUE(out.write("{\"pod\":\"" + req.param("name") + "\",\"line\":1}\n"));
        // The second chunk waits until the client has the first: delivery is incremental.
        ASSERT_TRUE(eventually([&] { return client_got_first.load(); }));
        ASSERT_TRUE(out.write("{\"line\":2}\n"));
        // Follow until the client goes away.
        while (out.write("{\"tick\":true}\n")) std::this_thread::sleep_for(1ms);
        handler_saw_close = out.closed();
    });
    start();
    Client c = client();
    std::string received;
    c.stream("/v1/pods/web/logs?follow=true", [&](std::string_view data) {
        received.append(data);
        if (received.find("\"line\":1}\n") != std::string::npos) client_got_first = true;
        return received.find("\"line\":2}\n") == std::string::npos;
    });
    EXPECT_EQ(received.rfind("{\"pod\":\"web\",\"line\":1}\n{\"line\":2}\n", 0), 0u) << received;
    EXPECT_TRUE(eventually([&] { return handler_saw_close.load(); }));
    EXPECT_TRUE(close_callback.load());
}

TEST_F(ServerTest, StreamEndsCleanlyOrFailsLikeAPlainRequest) {
    router->add_stream("GET", "/v1/pods/{name}/logs", "text/plain", [](const Request& req, StreamWriter& out) {
        if (req.param("name") == "missing") not_found("pod missing not found");
        for (int i = 0; i < 100; ++i) out.write("line " + std::to_string(i) + "\n");
        if (req.param("name") == "broken") throw std::runtime_error("disk gone");
    });
    start();
    Client c = client();
    std::string all;
    c.stream("/v1/pods/web/logs", [&](std::string_view data) {
        all.append(data);
        return true;
    });
    EXPECT_EQ(all.substr(0, 7), "line 0\n");
    EXPECT_EQ(all.substr(all.size() - 8), "line 99\n");

    try {
        c.stream("/v1/pods/missing/logs", [](std::string_view) { return true; });
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_STREQ(e.what(), "pod missing not found");
    }
    // A failure after the first chunk cuts the body short: the client cannot take it for whole.
    EXPECT_THROW(c.stream("/v1/pods/broken/logs", [](std::string_view) { return true; }), Error);
    // Plain requests still work on the same client.
    EXPECT_EQ(c.request("GET", "/v1/nothing").status, 404);
}

TEST_F(ServerTest, AStreamClientThatStopsReadingIsDroppedAfterTheWriteTimeout) {
    std::atomic<bool> writer_told{false};
    std::atomic<std::size_t> accepted{0};
    router->add_stream("GET", "/v1/pods/{name}/logs", "text/plain", [&](const Request&, StreamWriter& out) {
        const std::string chunk(64 * 1024, 'x');
        while (out.write(chunk)) accepted += chunk.size();
        writer_told = true;
    });
    ServerOptions o = options();
    o.write_timeout = 200ms;
    o.stream_buffer_bytes = 16 * 1024;
    start(o);
    Fd fd = raw();
    send_all(fd, "GET /v1/pods/web/logs?follow=true HTTP/1.1\r\nHost: x\r\n\r\n");
    // The client reads nothing: the socket's buffers fill, the server's write times out, and
    // the handler's write reports it.
    EXPECT_TRUE(eventually([&] { return writer_told.load(); }));
    EXPECT_GT(accepted.load(), 0u);
    EXPECT_TRUE(eventually([&] {
        auto log = logged();
        return log.size() == 1 && log[0].status == 200 && log[0].path == "/v1/pods/web/logs";
    }));
}

TEST_F(ServerTest, ServerSentEventsOnTheWire) {
    router->add_stream("GET", "/v1/events", "text/event-stream", [](const Request& req, StreamWriter& out) {
        int since = std::stoi(req.query_or("since", "0"));
        for (int id = since + 1; id <= since + 3; ++id)
            out.write(sse_event(nlohmann::json{{"type", "pod.started"}, {"n", id}}.dump(), std::to_string(id), "pod"));
    });
    start();

    Fd fd = raw();
    send_all(fd, "GET /v1/events?since=4 HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string wire = read_to_close(fd);
    EXPECT_EQ(wire.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << wire;
    EXPECT_NE(wire.find("Content-Type: text/event-stream\r\n"), std::string::npos);
    EXPECT_NE(wire.find("Cache-Control: no-cache\r\n"), std::string::npos);
    EXPECT_NE(wire.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
    EXPECT_NE(wire.find("id: 5\nevent: pod\ndata: {\"n\":5,\"type\":\"pod.started\"}\n\n"), std::string::npos);
    EXPECT_NE(wire.find("\r\n0\r\n\r\n"), std::string::npos);

    Client c = client();
    SseParser parser;
    std::vector<SseParser::Event> events;
    c.stream("/v1/events?since=10", [&](std::string_view data) {
        for (auto& e : parser.feed(data)) events.push_back(std::move(e));
        return true;
    });
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].id, "11");
    EXPECT_EQ(events[2].id, "13");
    EXPECT_EQ(events[1].event, "pod");
    EXPECT_EQ(nlohmann::json::parse(events[1].data)["n"], 12);
}

TEST_F(ServerTest, SlowHandlersDoNotHoldTheAsioThread) {
    std::atomic<bool> release{false};
    std::atomic<bool> entered{false};
    router->add_slow("POST", "/v1/pods/{name}/start", [&](const Request& req) {
        entered = true;
        EXPECT_TRUE(eventually([&] { return release.load(); }));
        return Response::json({{"started", req.param("name")}});
    });
    router->add("GET", "/v1/health", [](const Request&) { return Response::json({{"status", "ok"}}); });
    ServerOptions o = options();
    o.threads = 1;
    start(o);

    nlohmann::json slow_answer;
    std::thread slow([&] {
        Client c = client();
        slow_answer = c.call("POST", "/v1/pods/web/start");
    });
    ASSERT_TRUE(eventually([&] { return entered.load(); }));
    // With one Asio thread, this answer proves the slow handler is not running on it.
    Client c = client();
    EXPECT_EQ(c.call("GET", "/v1/health")["status"], "ok");
    release = true;
    slow.join();
    EXPECT_EQ(slow_answer["started"], "web");
}

TEST_F(ServerTest, WebSocketEchoWithBinaryAndTextFrames) {
    std::atomic<bool> handler_done{false};
    router->add("POST", "/v1/pods/{name}/exec", [](const Request&) { return Response::json({{"id", "e1"}}, 201); });
    router->add_websocket("/v1/pods/{name}/exec", [&](const Request& req, WebSocket& ws) {
        EXPECT_EQ(req.param("name"), "web");
        EXPECT_EQ(req.query_or("tty", ""), "true");
        while (!ws.closed()) {
            auto message = ws.receive(50ms);
            if (!message) continue;
            if (message->text && message->data == "bye") {
                ws.send_text(R"({"exit_code":3})");
                break;
            }
            if (message->text)
                ws.send_text(message->data);
            else
                ws.send_binary(message->data);
        }
        handler_done = true;
    });
    start();
    Client c = client();
    // The same path answers plain requests.
    EXPECT_EQ(c.call("POST", "/v1/pods/web/exec")["id"], "e1");

    auto ws = c.websocket("/v1/pods/web/exec?tty=true");
    const std::string binary("\0\x01\xff data", 8);
    ASSERT_TRUE(ws->send_binary(binary));
    auto echoed = ws->receive(upper_bound);
    ASSERT_TRUE(echoed);
    EXPECT_FALSE(echoed->text);
    EXPECT_EQ(echoed->data, binary);

    ASSERT_TRUE(ws->send_text(R"({"resize":{"cols":80,"rows":24}})"));
    echoed = ws->receive(upper_bound);
    ASSERT_TRUE(echoed);
    EXPECT_TRUE(echoed->text);
    EXPECT_EQ(nlohmann::json::parse(echoed->data)["resize"]["cols"], 80);

    // A receive that times out loses nothing.
    EXPECT_FALSE(ws->receive(0ms));
    EXPECT_FALSE(ws->closed());

    ASSERT_TRUE(ws->send_text("bye"));
    auto exit = ws->receive(upper_bound);
    ASSERT_TRUE(exit);
    EXPECT_EQ(nlohmann::json::parse(exit->data)["exit_code"], 3);
    // The handler returned: the server closes normally.
    EXPECT_FALSE(ws->receive(upper_bound));
    EXPECT_TRUE(ws->closed());
    EXPECT_EQ(ws->close_code(), 1000);
    EXPECT_FALSE(ws->send_text("late"));
    EXPECT_TRUE(eventually([&] { return handler_done.load(); }));
    EXPECT_TRUE(eventually([&] {
        auto log = logged();
        return std::any_of(log.begin(), log.end(), [](const Logged& l) { return l.status == 101; });
    }));
}

TEST_F(ServerTest, WebSocketClosedByTheClientAndFailures) {
    std::atomic<bool> saw_close{false};
    router->add_websocket("/v1/pods/{name}/attach", [&](const Request& req, WebSocket& ws) {
        if (req.param("name") == "broken") throw std::runtime_error("no such tty");
        ws.on_close([&] { saw_close = true; });
        while (!ws.closed()) ws.receive(20ms);
    });
    start();
    Client c = client();

    auto ws = c.websocket("/v1/pods/web/attach");
    ws->close();
    EXPECT_TRUE(ws->closed());
    EXPECT_TRUE(eventually([&] { return saw_close.load(); }));

    auto broken = c.websocket("/v1/pods/broken/attach");
    EXPECT_FALSE(broken->receive(upper_bound));
    EXPECT_TRUE(broken->closed());
    EXPECT_EQ(broken->close_code(), 1011);
    EXPECT_EQ(broken->close_reason(), "no such tty");

    try {
        c.websocket("/v1/nothing");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
    }
    // A WebSocket-only route asked without the upgrade.
    EXPECT_EQ(c.request("GET", "/v1/pods/web/attach").status, 426);
}

TEST_F(ServerTest, WebSocketClientSendsFromOneThreadWhileAnotherReceives) {
    router->add_websocket("/v1/echo", [](const Request&, WebSocket& ws) {
        while (!ws.closed())
            if (auto message = ws.receive(20ms)) ws.send_binary(message->data);
    });
    start();
    Client c = client();
    auto ws = c.websocket("/v1/echo");
    constexpr int count = 200;
    std::thread sender([&] {
        for (int i = 0; i < count; ++i) ASSERT_TRUE(ws->send_binary("frame " + std::to_string(i)));
    });
    for (int i = 0; i < count; ++i) {
        auto message = ws->receive(upper_bound);
        ASSERT_TRUE(message) << i;
        EXPECT_EQ(message->data, "frame " + std::to_string(i));
    }
    sender.join();
    ws->close();
    EXPECT_TRUE(ws->closed());
}

TEST_F(ServerTest, MessagesSentBeforeACloseAllReachTheHandler) {
    std::mutex got_mutex;
    std::vector<std::string> got;
    std::atomic<bool> done{false};
    router->add_websocket("/v1/attach", [&](const Request&, WebSocket& ws) {
        while (!ws.closed()) {
            if (auto message = ws.receive(20ms)) {
                std::lock_guard lock(got_mutex);
                got.push_back(message->data);
            }
        }
        done = true;
    });
    start();
    Client c = client();
    auto ws = c.websocket("/v1/attach");
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(ws->send_text(std::to_string(i)));
    ws->close();
    ASSERT_TRUE(eventually([&] { return done.load(); }));
    std::lock_guard lock(got_mutex);
    ASSERT_EQ(got.size(), 50u);
    EXPECT_EQ(got.back(), "49");
}

TEST_F(ServerTest, SocketFileModeAndGroup) {
    ServerOptions o = options();
    o.mode = 0600;
    o.group = std::to_string(::getgid());
    start(o);
    struct stat st = {};
    ASSERT_EQ(::stat(socket.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_gid, ::getgid());
    server->stop();
    EXPECT_FALSE(std::filesystem::exists(socket));
}

TEST_F(ServerTest, DefaultModeIs0660) {
    start();
    struct stat st = {};
    ASSERT_EQ(::stat(socket.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0660u);
}

TEST_F(ServerTest, UnknownGroupIsNotFound) {
    ServerOptions o = options();
    o.group = "kiln-no-such-group-here";
    Server s(o, router);
    try {
        s.start();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
    }
    EXPECT_FALSE(std::filesystem::exists(socket));
}

TEST_F(ServerTest, StaleSocketFileIsReplaced) {
    {
        // A socket file nobody listens on, as a crashed kilnd leaves it.
        Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, socket.c_str());
        ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    }
    ASSERT_TRUE(std::filesystem::exists(socket));
    router->add("GET", "/v1/health", [](const Request&) { return Response::json({{"status", "ok"}}); });
    start();
    Client c = client();
    EXPECT_EQ(c.call("GET", "/v1/health")["status"], "ok");
}

TEST_F(ServerTest, RefusesAPathInUse) {
    start();
    Server second(options(), router);
    try {
        second.start();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::already_exists);
    }
    // The first server is untouched.
    EXPECT_EQ(client().request("GET", "/v1/x").status, 404);

    const std::string file = dir.file("plain-file");
    std::ofstream(file) << "not a socket";
    ServerOptions o = options();
    o.socket_path = file;
    Server third(o, router);
    try {
        third.start();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::failed_precondition);
    }
}

TEST_F(ServerTest, StopEndsStreamsAndWebSocketsAndLeavesNoThread) {
    const std::size_t threads_before = testing::thread_count();
    std::atomic<int> handlers_running{0};
    std::atomic<bool> stream_started{false};
    router->add_stream("GET", "/v1/events", "text/event-stream", [&](const Request&, StreamWriter& out) {
        ++handlers_running;
        out.write("");
        stream_started = true;
        while (out.write(": keep-alive\n\n")) std::this_thread::sleep_for(1ms);
        --handlers_running;
    });
    router->add_websocket("/v1/attach", [&](const Request&, WebSocket& ws) {
        ++handlers_running;
        while (!ws.closed()) ws.receive(10ms);
        --handlers_running;
    });
    ServerOptions o = options();
    o.threads = 3;
    start(o);

    Client c = client();
    auto ws = c.websocket("/v1/attach");
    ASSERT_TRUE(ws->send_text("hello"));
    // A stream whose client reads nothing more: its handler is blocked or writing when stop comes.
    Fd stream = raw();
    send_all(stream, "GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(eventually([&] { return stream_started.load() && handlers_running.load() == 2; }));

    server->stop();
    EXPECT_EQ(handlers_running.load(), 0);
    EXPECT_FALSE(std::filesystem::exists(socket));
    EXPECT_FALSE(ws->receive(upper_bound));
    EXPECT_TRUE(ws->closed());
    ws.reset();  // the client's own thread
    EXPECT_EQ(testing::thread_count(), threads_before);
    EXPECT_THROW(c.call("GET", "/v1/events"), ConnectionError);
    server->stop();  // idempotent
}

TEST(ClientTest, ConnectionFailureSaysWhere) {
    testing::TempDir dir;
    Client c(dir.file("none.sock"));
    try {
        c.call("GET", "/v1/health");
        FAIL() << "no error";
    } catch (const ConnectionError& e) {
        EXPECT_EQ(std::string(e.what()), "cannot connect to kilnd at " + dir.file("none.sock") + ": No such file or directory");
        EXPECT_EQ(e.err(), ENOENT);
    }
}

TEST(ClientTest, HostParsing) {
    EXPECT_EQ(socket_path_from_host("unix:///run/kiln/kiln.sock"), "/run/kiln/kiln.sock");
    EXPECT_EQ(socket_path_from_host("/run/kiln/kiln.sock"), "/run/kiln/kiln.sock");
    EXPECT_THROW(socket_path_from_host("tcp://localhost:2375"), Error);
    EXPECT_THROW(socket_path_from_host("unix://relative.sock"), Error);
    EXPECT_THROW(socket_path_from_host(""), Error);
}

TEST(ClientTest, ErrorOfMapsCodesAndStatuses) {
    EXPECT_EQ(error_of({412, R"({"code":"failed_precondition","message":"pod is running"})", {}}).code(),
              Errc::failed_precondition);
    EXPECT_STREQ(error_of({412, R"({"code":"failed_precondition","message":"pod is running"})", {}}).what(),
                 "pod is running");
    EXPECT_EQ(error_of({413, R"({"code":"payload_too_large","message":"too big"})", {}}).code(), Errc::invalid_argument);
    EXPECT_EQ(error_of({409, R"({"code":"conflict?","message":"x"})", {}}).code(), Errc::already_exists);
    Error plain = error_of({502, "bad gateway", {}});
    EXPECT_EQ(plain.code(), Errc::internal);
    EXPECT_STREQ(plain.what(), "kilnd answered 502: bad gateway");
}

TEST(ClientTest, SseParserJoinsDataLinesAcrossPieces) {
    SseParser parser;
    EXPECT_TRUE(parser.feed("id: 1\nevent: pod\nda").empty());
    EXPECT_TRUE(parser.feed("ta: a\r\ndata: b\n: comment\n").empty());
    auto events = parser.feed("\nid: 2\ndata:c\n\n");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].id, "1");
    EXPECT_EQ(events[0].event, "pod");
    EXPECT_EQ(events[0].data, "a\nb");
    EXPECT_EQ(events[1].id, "2");
    EXPECT_EQ(events[1].data, "c");
}

}  // namespace
}  // namespace kiln::api
