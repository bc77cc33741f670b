// The gateway's decisions (api/gateway/policy.hpp): tokens by hash, certificates by common name,
// and which requests need which scope.
#include <gtest/gtest.h>

#include "api/gateway/policy.hpp"

namespace kiln::gateway {
namespace {

using nlohmann::json;

Policy policy() {
    return Policy::from_json({{"tokens",
                               {{{"name", "ci"}, {"sha256", sha256_hex("ci-token-0123456789")}},
                                {{"name", "boss"}, {"sha256", sha256_hex("boss-token-0123456789")}, {"scopes", {"admin"}}}}},
                              {"clients", {{{"commonName", "ops"}, {"scopes", {"host-access"}}}}}});
}

auto no_system = [](const std::string&) -> std::optional<json> { return std::nullopt; };

TEST(GatewayPolicy, TokensAndCertificatesNameTheirHolder) {
    Policy p = policy();
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(p.by_token("Bearer ci-token-0123456789").value().name, "ci");
    EXPECT_TRUE(p.by_token("Bearer boss-token-0123456789").value().has("privileged"));
    EXPECT_FALSE(p.by_token("Bearer nope").has_value());
    EXPECT_FALSE(p.by_token("Basic ci-token-0123456789").has_value());
    EXPECT_FALSE(p.by_token("Bearer ").has_value());
    EXPECT_TRUE(p.by_certificate("ops").value().has("host-access"));
    EXPECT_FALSE(p.by_certificate("dev").has_value());
}

TEST(GatewayPolicy, BadConfigNamesTheField) {
    auto error_of = [](const json& j) {
        try {
            Policy::from_json(j);
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(error_of({{"tokens", {{{"sha256", "abc"}}}}}), "tokens[0].sha256: must be 64 hex digits");
    EXPECT_EQ(error_of({{"tokens", {{{"sha256", std::string(64, 'a')}, {"scopes", {"root"}}}}}}),
              "tokens[0].scopes: \"root\" is not one of privileged, host-access, api-access, admin");
    EXPECT_EQ(error_of({{"clients", {json::object()}}}), "clients[0].commonName: is required");
}

TEST(GatewayPolicy, ScopesGuardWhatTheyName) {
    Identity plain{"ci", {}}, priv{"p", {"privileged"}}, host{"h", {"host-access"}}, admin{"a", {"admin"}};
    auto pod = [](const json& extra) {
        json j = {{"name", "x"}, {"containers", {{{"name", "c"}, {"image", "busybox"}}}}};
        if (extra.is_object()) j.update(extra);
        return j.dump();
    };
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods", pod({}), false, no_system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods?dryRun=true", pod({{"isolators", {{{"name", "privileged"}}}}}), false, no_system),
              "the isolator privileged needs the scope privileged, which ci does not have");
    EXPECT_EQ(authorize(priv, "POST", "/v1/pods", pod({{"isolators", {{"privileged", json::object()}}}}), false, no_system), "");
    EXPECT_NE(authorize(priv, "POST", "/v1/pods", pod({{"isolators", {{"api-access", nullptr}}}}), false, no_system), "");
    EXPECT_NE(authorize(plain, "POST", "/v1/pods", pod({{"isolators", {{"namespaces", json::object()}}}}), false, no_system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods", pod({{"isolators", {{"seccomp", json::object()}}}}), false, no_system), "");
    EXPECT_NE(authorize(plain, "POST", "/v1/pods", pod({{"isolators", {{"seccomp", {{"profile", "unconfined"}}}}}}), false, no_system), "");
    EXPECT_NE(authorize(plain, "POST", "/v1/pods", pod({{"isolators", {{{"name", "capabilities"}, {"config", {{"add", {"ALL"}}}}}}}}), false, no_system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods", pod({{"isolators", {{{"name", "capabilities"}, {"config", {{"drop", {"ALL"}}}}}}}}), false, no_system), "");
    EXPECT_NE(authorize(plain, "POST", "/v1/pods", pod({{"ports", {{{"hostPort", 22}, {"containerPort", 22}}}}}), false, no_system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods", pod({{"ports", {{{"hostPort", 8080}, {"containerPort", 80}}}}}), false, no_system), "");
    EXPECT_NE(authorize(plain, "POST", "/v1/pods", pod({{"networks", {"host"}}}), false, no_system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods", pod({{"networks", {"none"}}}), false, no_system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods", pod({{"volumes", {{{"name", "v"}, {"hostPath", "/etc"}}}}}), false, no_system),
              "a hostPath volume needs the scope host-access, which ci does not have");
    EXPECT_EQ(authorize(host, "POST", "/v1/pods", pod({{"volumes", {{{"name", "v"}, {"hostPath", "/etc"}}}}}), false, no_system), "");
    EXPECT_NE(authorize(plain, "POST", "/v1/images/export", "{}", false, no_system), "");
    EXPECT_EQ(authorize(host, "POST", "/v1/images/build", "{}", false, no_system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/images/pull", "{}", false, no_system), "");
    // A plugin's pod: read freely, otherwise privileged; a WebSocket exec is no plain GET.
    auto system = [](const std::string& name) -> std::optional<json> {
        if (name == "plugin-cni") return json{{"system", true}, {"spec", json::object()}};
        if (name == "root-shell") return json{{"system", false}, {"spec", {{"isolators", {{{"name", "privileged"}}}}}}};
        if (name == "web") return json{{"system", false}, {"spec", json::object()}};
        return std::nullopt;
    };
    EXPECT_EQ(authorize(plain, "GET", "/v1/pods/plugin-cni", "", false, system), "");
    EXPECT_NE(authorize(plain, "GET", "/v1/pods/plugin-cni/containers/main/exec", "", true, system), "");
    EXPECT_NE(authorize(plain, "DELETE", "/v1/pods/plugin-cni?force=true", "", false, system), "");
    EXPECT_EQ(authorize(admin, "DELETE", "/v1/pods/plugin-cni?force=true", "", false, system), "");
    EXPECT_EQ(authorize(plain, "DELETE", "/v1/pods/web", "", false, system), "");
    // A shell in a privileged pod is the privilege: exec and attach need what creating it did.
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods/root-shell/containers/main/exec", "{}", false, system),
              "exec into root-shell: the isolator privileged needs the scope privileged, which ci does not have");
    EXPECT_NE(authorize(plain, "GET", "/v1/pods/root-shell/containers/main/attach", "", true, system), "");
    EXPECT_EQ(authorize(priv, "POST", "/v1/pods/root-shell/containers/main/exec", "{}", false, system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods/web/containers/main/exec", "{}", false, system), "");
    EXPECT_EQ(authorize(plain, "POST", "/v1/pods/root-shell/stop", "", false, system), "");
}

}  // namespace
}  // namespace kiln::gateway
