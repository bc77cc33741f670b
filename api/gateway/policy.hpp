// The remote API gateway's decisions, apart from the network: who a request comes from (a
// bearer token, or a client certificate's common name) and whether its scopes allow what it
// asks. Tokens are kept as SHA-256 hashes and compared in constant time.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln::gateway {

// Scopes beyond plain API use. "admin" holds every one.
inline constexpr const char* kScopes[] = {"privileged", "host-access", "api-access", "admin"};

struct Identity {
    std::string name;
    std::set<std::string> scopes;
    bool has(const std::string& scope) const { return scopes.count(scope) || scopes.count("admin"); }
};

struct Policy {
    struct Token {
        std::string name, sha256;  // hex
        std::set<std::string> scopes;
    };
    struct Client {
        std::string common_name;
        std::set<std::string> scopes;
    };
    std::vector<Token> tokens;
    std::vector<Client> clients;

    // From the gateway's config ({"tokens": [{"name", "sha256", "scopes"}], "clients":
    // [{"commonName", "scopes"}]}); throws std::runtime_error naming the field.
    static Policy from_json(const nlohmann::json& config);

    // The identity of an "Authorization" header value ("Bearer <token>"), or of a verified
    // client certificate's common name; none when neither matches.
    std::optional<Identity> by_token(const std::string& authorization) const;
    std::optional<Identity> by_certificate(const std::string& common_name) const;
};

std::string sha256_hex(const std::string& text);

// Whether `who` may send this request: empty when allowed, else why not (a 403's message).
// `pod_record` gives a pod as GET /v1/pods/{name} answers it (asked of kilnd only for requests
// that act on a pod; nullopt when there is none).
// - POST /v1/pods: each isolator named privileged, host-access or api-access needs that scope;
//   hostPath volumes and host ports below 1024 need host-access; the namespaces isolator,
//   networks ["host"], capabilities added or a default set chosen, and a seccomp profile other
//   than the default need privileged.
// - POST /v1/images/import, /build, /export name host paths: host-access.
// - Anything but a plain GET on a plugin's pod (exec and attach, also as WebSocket upgrades;
//   stop, delete): privileged.
// - exec and attach into a pod: the scopes its creation needed (a shell in a privileged pod is
//   the privilege itself).
std::string authorize(const Identity& who, const std::string& method, const std::string& target, const std::string& body,
                      bool upgrade,
                      const std::function<std::optional<nlohmann::json>(const std::string&)>& pod_record);

}  // namespace kiln::gateway
