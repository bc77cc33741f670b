// Registry requests with the distribution spec's authentication dance: a request without
// credentials, and on a 401 the challenge it carries (Basic, or Bearer with a token realm) is
// answered and the request sent again. The header that worked is kept for the next requests.
#include "core/image/registry.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <map>

#include <nlohmann/json.hpp>

#include "core/image/digest.hpp"
#include "core/image/layout.hpp"
#include "core/image/reference.hpp"
#include "core/image/spec.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln::image {

namespace {

constexpr std::string_view kDockerHub = "docker.io";
constexpr std::string_view kDockerHubHost = "registry-1.docker.io";
constexpr std::size_t kMaxTokenResponse = 1 << 20;
constexpr std::size_t kMaxErrorBody = 64 * 1024;

std::string base64(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string unbase64(const std::string& in, const std::string& what) {
    std::string clean;
    for (char c : in)
        if (c != '\n' && c != '\r') clean += c;
    if (clean.size() % 4 != 0) invalid(what + ": not base64");
    std::string out(clean.size() / 4 * 3, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(clean.data()),
                            static_cast<int>(clean.size()));
    if (n < 0) invalid(what + ": not base64");
    std::size_t pad = clean.size() >= 2 && clean[clean.size() - 1] == '=' ? (clean[clean.size() - 2] == '=' ? 2 : 1) : 0;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

nlohmann::json load_auths(const std::string& path) {
    auto text = read_file_if_exists(path);
    if (!text) return nlohmann::json::object();
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) invalid(path + ": not a JSON object");
    if (j.contains("auths") && !j["auths"].is_object()) invalid(path + ": auths: must be an object");
    return j;
}

std::string url_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// localhost, 127.0.0.0/8 or [::1], with or without a port.
bool is_loopback(const std::string& registry) {
    std::string host = registry.starts_with("[") ? registry.substr(0, registry.find(']') + 1)
                                                 : registry.substr(0, registry.find(':'));
    return host == "localhost" || host.starts_with("127.") || host == "[::1]";
}

// WWW-Authenticate: Scheme key="value", key=value, ...
struct Challenge {
    std::string scheme;  // lowercase
    std::map<std::string, std::string> params;
};

Challenge parse_challenge(const std::string& header) {
    Challenge c;
    std::size_t i = 0;
    while (i < header.size() && header[i] == ' ') ++i;
    while (i < header.size() && header[i] != ' ') c.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(header[i++])));
    while (i < header.size()) {
        while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
        std::string key;
        while (i < header.size() && header[i] != '=' && header[i] != ',') key += static_cast<char>(std::tolower(static_cast<unsigned char>(header[i++])));
        if (i >= header.size() || header[i] != '=') continue;
        ++i;
        std::string value;
        if (i < header.size() && header[i] == '"') {
            ++i;
            while (i < header.size() && header[i] != '"') {
                if (header[i] == '\\' && i + 1 < header.size()) ++i;
                value += header[i++];
            }
            ++i;
        } else {
            while (i < header.size() && header[i] != ',') value += header[i++];
        }
        while (!key.empty() && key.back() == ' ') key.pop_back();
        c.params[key] = value;
    }
    return c;
}

// The registry's own words from an error body: {"errors":[{"code":..,"message":..}]}.
std::string registry_error(const std::string& body) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) return "";
    const auto& e = j["errors"][0];
    if (!e.is_object()) return "";
    std::string code = e.value("code", ""), message = e.value("message", "");
    return code.empty() ? message : message.empty() ? code : code + ": " + message;
}

std::string read_all(http::Stream& s, std::size_t limit) {
    std::string out;
    char buf[8192];
    for (;;) {
        std::size_t n = s.read(buf, sizeof buf);
        if (n == 0) return out;
        if (out.size() + n > limit) return out;
        out.append(buf, n);
    }
}

}  // namespace

RegistryCredentials read_auth_file(const std::string& path, const std::string& registry) {
    nlohmann::json j = load_auths(path);
    if (!j.contains("auths") || !j["auths"].contains(registry)) return {};
    const auto& entry = j["auths"][registry];
    std::string where = path + ": auths." + registry + ".auth";
    if (!entry.is_object() || !entry.contains("auth") || !entry["auth"].is_string()) invalid(where + ": must be a string");
    std::string pair = unbase64(entry["auth"].get<std::string>(), where);
    auto colon = pair.find(':');
    if (colon == std::string::npos) invalid(where + ": not the base64 of user:password");
    return {pair.substr(0, colon), pair.substr(colon + 1)};
}

void store_auth(const std::string& path, const std::string& registry, const RegistryCredentials& credentials) {
    nlohmann::json j = load_auths(path);
    j["auths"][registry] = {{"auth", base64(credentials.username + ":" + credentials.password)}};
    atomic_write(path, j.dump(2) + "\n", true, 0600);
}

bool remove_auth(const std::string& path, const std::string& registry) {
    nlohmann::json j = load_auths(path);
    if (!j.contains("auths") || !j["auths"].contains(registry)) return false;
    j["auths"].erase(registry);
    atomic_write(path, j.dump(2) + "\n", true, 0600);
    return true;
}

std::string PullReference::record_name() const {
    std::string name = registry + "/" + repository;
    if (!tag.empty()) return name + ":" + tag;
    return name + "@" + digest;
}

std::string PullReference::str() const {
    std::string s = registry + "/" + repository;
    if (!tag.empty()) s += ":" + tag;
    if (!digest.empty()) s += "@" + digest;
    return s;
}

PullReference parse_pull_reference(const std::string& ref) {
    PullReference out;
    std::string rest = ref;
    auto at = rest.find('@');
    if (at != std::string::npos) {
        out.digest = rest.substr(at + 1);
        rest = rest.substr(0, at);
        if (!is_sha256_digest(out.digest))
            invalid("image reference \"" + ref + "\": digest \"" + out.digest + "\" is not sha256:<64 lowercase hex digits>");
    }
    // The name grammar (and the tag) as for local names; the tag is kept only when written.
    Reference named = parse_reference(rest);
    auto slash = rest.rfind('/');
    auto colon = rest.rfind(':');
    bool tag_written = colon != std::string::npos && (slash == std::string::npos || colon > slash);
    out.tag = tag_written || out.digest.empty() ? named.tag : "";
    std::string name = named.name;
    auto first = name.find('/');
    std::string head = name.substr(0, first);
    if (first != std::string::npos && (head.find_first_of(".:") != std::string::npos || head == "localhost")) {
        out.registry = head;
        out.repository = name.substr(first + 1);
    } else {
        out.registry = std::string(kDockerHub);
        out.repository = name;
    }
    if (out.registry == kDockerHub && out.repository.find('/') == std::string::npos) out.repository = "library/" + out.repository;
    return out;
}

RegistryClient::RegistryClient(const std::string& registry, const std::string& repository, RegistryConfig config)
    : registry_(registry), repository_(repository), config_(std::move(config)), client_(http::TlsOptions{config_.ca_file}) {
    std::string host = registry == kDockerHub ? std::string(kDockerHubHost) : registry;
    base_ = (config_.insecure.value_or(is_loopback(registry)) ? "http://" : "https://") + host;
}

void RegistryClient::fail(http::Stream& s, const std::string& what) {
    unsigned status = s.head().status;
    std::string detail = registry_error(read_all(s, kMaxErrorBody));
    std::string msg = what + ": " + registry_ + " answered " + std::to_string(status) + (detail.empty() ? "" : " (" + detail + ")");
    if (status == 404) throw Error(Errc::not_found, msg);
    if (status == 401 || status == 403) throw Error(Errc::failed_precondition, msg);
    throw Error(Errc::internal, msg);
}

std::string RegistryClient::authorize(const http::Response& response) {
    Challenge c = parse_challenge(response.header("www-authenticate"));
    const auto& creds = config_.credentials;
    if (c.scheme == "basic") {
        if (creds.empty()) throw Error(Errc::failed_precondition, registry_ + " requires credentials (kiln login " + registry_ + ")");
        return "Basic " + base64(creds.username + ":" + creds.password);
    }
    if (c.scheme != "bearer")
        throw Error(Errc::internal, registry_ + ": an authentication challenge kiln does not know: \"" +
                                        response.header("www-authenticate") + "\"");
    std::string realm = c.params["realm"];
    if (realm.empty()) throw Error(Errc::internal, registry_ + ": a Bearer challenge without a realm");
    std::string scope = c.params.count("scope") ? c.params["scope"] : "repository:" + repository_ + ":pull";
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    if (c.params.count("service")) url += "service=" + url_encode(c.params["service"]) + "&";
    url += "scope=" + url_encode(scope);
    http::Request tr{"GET", url, {}};
    if (!creds.empty()) tr.headers.emplace_back("Authorization", "Basic " + base64(creds.username + ":" + creds.password));
    auto resp = client_.fetch(tr, kMaxTokenResponse);
    if (resp.status == 401 || resp.status == 403)
        throw Error(Errc::failed_precondition, registry_ + ": the token service at " + realm + " refused " +
                                                   (creds.empty() ? "anonymous access" : "the credentials of " + creds.username));
    if (resp.status != 200)
        throw Error(Errc::internal, registry_ + ": the token service at " + realm + " answered " + std::to_string(resp.status));
    auto j = nlohmann::json::parse(resp.body, nullptr, false);
    std::string token;
    if (j.is_object()) {
        if (j.contains("token") && j["token"].is_string()) token = j["token"];
        else if (j.contains("access_token") && j["access_token"].is_string()) token = j["access_token"];
    }
    if (token.empty()) throw Error(Errc::internal, registry_ + ": the token service at " + realm + " gave no token");
    return "Bearer " + token;
}

std::unique_ptr<http::Stream> RegistryClient::send(http::Request r) {
    std::string auth;
    {
        std::lock_guard lock(mu_);
        auth = authorization_;
    }
    auto attempt = [&](const std::string& a) {
        http::Request req = r;
        if (!a.empty()) req.headers.emplace_back("Authorization", a);
        return client_.open(req);
    };
    auto s = attempt(auth);
    if (s->head().status != 401) return s;
    std::string fresh = authorize(s->head());
    s = attempt(fresh);
    if (s->head().status == 401) {
        const auto& creds = config_.credentials;
        throw Error(Errc::failed_precondition,
                    registry_ + " refused " + (creds.empty() ? std::string("anonymous access") : "the credentials of " + creds.username) +
                        (creds.empty() ? " (kiln login " + registry_ + ")" : ""));
    }
    std::lock_guard lock(mu_);
    authorization_ = fresh;
    return s;
}

RegistryClient::Document RegistryClient::manifest(const std::string& reference) {
    static const std::string accept = std::string(media_type::oci_index) + ", " + std::string(media_type::oci_manifest) + ", " +
                                      std::string(media_type::docker_manifest_list) + ", " +
                                      std::string(media_type::docker_manifest);
    http::Request r{"GET", base_ + "/v2/" + repository_ + "/manifests/" + reference, {{"Accept", accept}}};
    auto s = send(r);
    std::string what = "manifest " + registry_ + "/" + repository_ + (is_sha256_digest(reference) ? "@" : ":") + reference;
    if (s->head().status != 200) fail(*s, what);
    Document d;
    d.body = read_all(*s, kMaxDocumentSize + 1);
    if (d.body.size() > kMaxDocumentSize)
        invalid(what + ": larger than the " + std::to_string(kMaxDocumentSize) + " bytes allowed for it");
    d.digest = sha256_of(d.body);
    if (is_sha256_digest(reference) && d.digest != reference)
        invalid(what + ": the registry sent a document whose digest is " + d.digest);
    std::string stated = s->head().header("docker-content-digest");
    if (!stated.empty() && is_sha256_digest(stated) && stated != d.digest)
        invalid(what + ": the registry states digest " + stated + " for a document whose digest is " + d.digest);
    auto j = nlohmann::json::parse(d.body, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) d.media_type = j["mediaType"];
    if (d.media_type.empty()) {
        d.media_type = s->head().header("content-type");
        d.media_type = d.media_type.substr(0, d.media_type.find(';'));
    }
    return d;
}

std::unique_ptr<http::Stream> RegistryClient::blob(const std::string& digest, std::uint64_t offset, bool* resumed) {
    http::Request r{"GET", base_ + "/v2/" + repository_ + "/blobs/" + digest, {}};
    if (offset > 0) r.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-");
    auto s = send(r);
    unsigned status = s->head().status;
    if (status == 206 && offset > 0) {
        // Only a range that starts where we asked is one we can append.
        std::string range = s->head().header("content-range");
        if (range.rfind("bytes " + std::to_string(offset) + "-", 0) != 0)
            throw Error(Errc::internal, "blob " + digest + ": " + registry_ + " sent the range \"" + range + "\" for bytes " +
                                            std::to_string(offset) + "-");
        *resumed = true;
        return s;
    }
    if (status != 200) fail(*s, "blob " + registry_ + "/" + repository_ + "@" + digest);
    *resumed = false;
    return s;
}

void RegistryClient::check_login() {
    http::Request r{"GET", base_ + "/v2/", {}};
    auto s = send(r);
    if (s->head().status != 200) fail(*s, "login to " + registry_);
}

}  // namespace kiln::image
