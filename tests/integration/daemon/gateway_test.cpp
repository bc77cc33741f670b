// The remote API gateway (api/gateway): kiln-gateway in the gateway plugin's container serves the
// REST API over TLS on a port of the test's own network namespace; clients are known by bearer
// token or client certificate, and scopes guard the privileged, host-access and api-access
// isolators, host paths and the plugins' pods. kilnd itself listens on no TCP port.
#include <filesystem>
#include <fstream>

#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

// A CA, a server certificate for 127.0.0.1 and client certificates (CN ops from the CA, and one
// from a CA the gateway does not know), made with the openssl command.
void make_certificates(const std::string& d) {
    std::string script = "set -e; cd " + d + R"(
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj /CN=kiln-test-ca -days 1 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue-ca.key -out rogue-ca.pem -subj /CN=rogue-ca -days 1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile san.ext 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout ops.key -out ops.csr -subj /CN=ops 2>/dev/null
openssl x509 -req -in ops.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ops.pem -days 1 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.csr -subj /CN=ops 2>/dev/null
openssl x509 -req -in rogue.csr -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial -out rogue.pem -days 1 2>/dev/null
)";
    auto r = sh(script, 60);
    ASSERT_EQ(r.code, 0) << r.err;
}

class Gateway : public ::testing::Test {
protected:
    void SetUp() override {
        KILN_REQUIRE_ROOT();
        make_certificates(certs.path());
        const std::string& d = certs.path();
        k = std::make_unique<Kilnd>("disabledPlugins: [cni, metrics]\nplugins:\n  gateway:\n    address: 127.0.0.1\n"
                                    "    port: 18443\n    certFile: " + d + "/server.pem\n    keyFile: " + d + "/server.key\n"
                                    "    clientCaFile: " + d + "/ca.pem\n    tokens:\n"
                                    "      - {name: ci, token: good-token-0123456789}\n"
                                    "      - {name: boss, token: boss-token-0123456789, scopes: [privileged]}\n"
                                    "    clients:\n      - {commonName: ops}\n",
                                    ns.name());
        k->import_busybox();
        // Up when it answers at all.
        for (int i = 0; i < 100 && call("GET", "/v1/health").first == 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }

    // curl in the test's namespace: (status, body); 0 when nothing answered.
    std::pair<int, std::string> call(const std::string& method, const std::string& path, const std::string& token = "",
                                     const std::string& body = "", const std::string& cert = "") {
        std::string out = certs.path() + "/body";
        std::string cmd = "curl -sS -o " + out + " -w '%{http_code}' --max-time 20 --cacert " + certs.path() + "/ca.pem -X " +
                          method + " https://127.0.0.1:18443" + path;
        if (!token.empty()) cmd += " -H 'Authorization: Bearer " + token + "'";
        if (!cert.empty()) cmd += " --cert " + certs.path() + "/" + cert + ".pem --key " + certs.path() + "/" + cert + ".key";
        if (!body.empty()) {
            std::ofstream(certs.path() + "/request.json") << body;
            cmd += " -H 'Content-Type: application/json' --data-binary @" + certs.path() + "/request.json";
        }
        auto r = ns.in(cmd);
        int status = 0;
        try {
            status = std::stoi(r.out);
        } catch (...) {
        }
        return {status, sh("cat " + out + " 2>/dev/null").out};
    }

    TestNetns ns;
    TempDir certs{"kiln-gw"};
    std::unique_ptr<Kilnd> k;
};

const std::string kGood = "good-token-0123456789", kBoss = "boss-token-0123456789";

TEST_F(Gateway, ARequestNeedsAValidTokenOrClientCertificate) {
    auto [status, body] = call("GET", "/v1/pods");
    EXPECT_EQ(status, 401) << body;
    EXPECT_NE(body.find("a bearer token or a client certificate is required"), std::string::npos) << body;
    std::tie(status, body) = call("GET", "/v1/pods", "wrong-token-0123456789");
    EXPECT_EQ(status, 401);
    EXPECT_NE(body.find("the token is not valid"), std::string::npos) << body;
    std::tie(status, body) = call("GET", "/v1/pods", kGood);
    ASSERT_EQ(status, 200) << body;
    EXPECT_NE(body.find("\"plugin-gateway\""), std::string::npos);
    // A certificate from the known CA names its holder; one from another CA does not.
    EXPECT_EQ(call("GET", "/v1/pods", "", "", "ops").first, 200);
    EXPECT_EQ(call("GET", "/v1/pods", "", "", "rogue").first, 401);
    // kilnd itself listens on no TCP port; the gateway is the only listener.
    auto listeners = ns.in("ss -Hltnp").out;
    EXPECT_EQ(listeners.find("kilnd"), std::string::npos) << listeners;
    EXPECT_NE(listeners.find("127.0.0.1:18443"), std::string::npos) << listeners;
    EXPECT_NE(listeners.find("kiln-gateway"), std::string::npos) << listeners;
}

TEST_F(Gateway, ScopesGuardPrivilegeHostPathsAndThePluginsPods) {
    json pod = simple_pod("powerful", {"sleep", "1000"});
    pod["isolators"] = json::array({{{"name", "privileged"}}});
    auto [status, body] = call("POST", "/v1/pods", kGood, pod.dump());
    EXPECT_EQ(status, 403) << body;
    EXPECT_NE(body.find("the isolator privileged needs the scope privileged, which ci does not have"), std::string::npos) << body;
    EXPECT_EQ(k->client().request("GET", "/v1/pods/powerful").status, 404);
    std::tie(status, body) = call("POST", "/v1/pods", kBoss, pod.dump());
    EXPECT_EQ(status, 201) << body;
    // A shell in it is the privilege: not for ci.
    std::tie(status, body) = call("POST", "/v1/pods/powerful/containers/main/exec", kGood, R"({"command": ["id"]})");
    EXPECT_EQ(status, 403) << body;
    EXPECT_NE(body.find("exec into powerful: the isolator privileged needs the scope privileged"), std::string::npos) << body;
    std::tie(status, body) = call("POST", "/v1/pods/powerful/containers/main/exec", kBoss, R"({"command": ["id", "-u"]})");
    EXPECT_EQ(status, 200) << body;

    json host = simple_pod("peeker", {"sleep", "1000"});
    host["volumes"] = json::array({{{"name", "etc"}, {"hostPath", "/etc"}}});
    std::tie(status, body) = call("POST", "/v1/pods", kBoss, host.dump());
    EXPECT_EQ(status, 403) << body;
    EXPECT_NE(body.find("a hostPath volume needs the scope host-access"), std::string::npos) << body;
    json api = simple_pod("caller", {"sleep", "1000"});
    api["isolators"] = json{{"api-access", json::object()}};
    EXPECT_EQ(call("POST", "/v1/pods", kBoss, api.dump()).first, 403);
    std::tie(status, body) = call("POST", "/v1/images/import", kGood, R"({"path": "/etc", "tag": "x"})");
    EXPECT_EQ(status, 403);
    EXPECT_NE(body.find("host-access"), std::string::npos) << body;
    // No way around the checks: an encoded path, or an upgrade that is not a WebSocket route
    // (whose connection would otherwise carry more requests past them).
    std::tie(status, body) = call("POST", "/v1/%70ods", kGood, pod.dump());
    EXPECT_EQ(status, 400) << body;
    EXPECT_EQ(k->client().request("GET", "/v1/pods/powerful").status, 200);  // the boss's, not a new one
    auto r = ns.in("curl -sS -o /dev/null -w '%{http_code}' --cacert " + certs.path() + "/ca.pem -H 'Authorization: Bearer " +
                   kGood + "' -H 'Connection: Upgrade' -H 'Upgrade: websocket' https://127.0.0.1:18443/v1/info");
    EXPECT_EQ(r.out, "400");
    // A plugin's pod: readable, not to be exec'd into or stopped without privilege.
    EXPECT_EQ(call("GET", "/v1/pods/plugin-gateway", kGood).first, 200);
    std::tie(status, body) =
        call("POST", "/v1/pods/plugin-gateway/containers/main/exec", kGood, R"({"command": ["/kiln-gateway"]})");
    EXPECT_EQ(status, 403) << body;
    EXPECT_EQ(call("POST", "/v1/pods/plugin-gateway/stop", kGood).first, 403);
    // An ordinary pod, through the gateway from start to logs to delete.
    std::tie(status, body) = call("POST", "/v1/pods", kGood, simple_pod("plain", {"echo", "via the gateway"}).dump());
    ASSERT_EQ(status, 201) << body;
    k->wait_pod("plain", [](const json& p) { return p["state"] == "stopped"; });
    std::tie(status, body) = call("GET", "/v1/pods/plain/containers/main/logs", kGood);
    EXPECT_EQ(status, 200);
    EXPECT_NE(body.find("via the gateway"), std::string::npos) << body;
    EXPECT_EQ(call("DELETE", "/v1/pods/plain", kGood).first, 204);
    // An interactive exec, as a WebSocket through the gateway.
    std::tie(status, body) = call("POST", "/v1/pods", kGood, simple_pod("shell", {"sleep", "1000"}).dump());
    ASSERT_EQ(status, 201) << body;
    auto ws = ns.in(std::string(KILN_SOURCE_DIR) + "/tests/fixtures/ws-exec.py https://127.0.0.1:18443/v1/pods/shell/containers/main/exec " +
                    certs.path() + "/ca.pem " + kGood + " '{\"command\": [\"sh\", \"-c\", \"echo over-ws; exit 4\"]}'");
    EXPECT_EQ(ws.code, 0) << ws.out << ws.err;
    EXPECT_NE(ws.out.find("over-ws"), std::string::npos) << ws.out;
    EXPECT_NE(ws.out.find("\"exit_code\":4"), std::string::npos) << ws.out;
    // Into a plugin's pod, the same upgrade is refused.
    ws = ns.in(std::string(KILN_SOURCE_DIR) + "/tests/fixtures/ws-exec.py https://127.0.0.1:18443/v1/pods/plugin-gateway/containers/main/exec " +
               certs.path() + "/ca.pem " + kGood + " '{\"command\": [\"id\"]}'");
    EXPECT_NE(ws.out.find("403"), std::string::npos) << ws.out;
}

TEST(GatewaySessions, ASlowPodLookupHoldsUpNoOtherClient) {
    KILN_REQUIRE_ROOT();
    // kiln-gateway alone, in front of a stand-in for kilnd that holds its answer to one pod
    // lookup until it has seen another client's request (tests/fixtures/gateway-slow-lookup.py).
    TestNetns ns;
    TempDir certs{"kiln-gw"}, work{"kiln-gw-work"};
    make_certificates(certs.path());
    std::string gateway = (std::filesystem::path(runtime_binary()).parent_path() / "kiln-gateway").string();
    auto r = ns.in(std::string(KILN_SOURCE_DIR) + "/tests/fixtures/gateway-slow-lookup.py " + gateway + " " +
                       certs.path() + " " + work.path() + " 18444",
                   90);
    ASSERT_EQ(r.code, 0) << r.err << sh("cat " + work.path() + "/gateway.log").out;
    // The health check went through while the lookup was held; then the lookup was answered and
    // the stop was passed on. A gateway that served one client at a time would have seen its
    // lookup time out (503) before it read the health check.
    EXPECT_EQ(r.out, "200 200 /v1/pods/slow,/v1/health,/v1/pods/slow/stop\n") << sh("cat " + work.path() + "/gateway.log").out;
    // A lookup kilnd never answers: the request is refused when the lookup's time is up, and not
    // passed on unchecked.
    TempDir work2{"kiln-gw-work"};
    r = ns.in(std::string(KILN_SOURCE_DIR) + "/tests/fixtures/gateway-slow-lookup.py " + gateway + " " + certs.path() +
                  " " + work2.path() + " 18445 mute",
              90);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "503 /v1/pods/mute\n") << sh("cat " + work2.path() + "/gateway.log").out;
}

TEST(GatewayConfig, ABadConfigFailsThePluginByName) {
    KILN_REQUIRE_ROOT();
    TestNetns ns;
    Kilnd k("disabledPlugins: [cni, metrics]\nplugins:\n  gateway: {port: 18443}\n", ns.name());
    auto plugin = k.client().call("GET", "/v1/plugins/gateway");
    EXPECT_EQ(plugin["state"], "failed");
    EXPECT_NE(plugin.value("error", "").find("config.certFile: is required"), std::string::npos) << plugin.dump();
    EXPECT_EQ(k.client().request("GET", "/v1/pods/plugin-gateway").status, 404);
}

}  // namespace
}  // namespace kiln::testing
