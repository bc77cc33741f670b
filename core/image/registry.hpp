// The client side of the OCI distribution spec: references to images in registries, manifests
// by tag or digest, blobs (from an offset, for resuming), and the registry's authentication:
// anonymous, basic, and bearer tokens fetched from the realm a 401 challenge names.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/image/http.hpp"

namespace kiln::image {

// "[host[:port]/]path[:tag][@sha256:hex]". Without a host the image is on Docker Hub (docker.io,
// "library/" before a one-component path), as docker and podman read such names.
struct PullReference {
    std::string registry;    // as written ("127.0.0.1:5000", "docker.io")
    std::string repository;  // "library/busybox", "team/app"
    std::string tag;         // "latest" unless given; empty with a digest alone
    std::string digest;      // "sha256:<hex>" or empty

    // The name kiln records the image under: "registry/repository:tag", or "...@digest" when
    // pulled by digest alone.
    std::string record_name() const;
    std::string str() const;  // as the user would write it in full
};

// invalid_argument naming `ref` and what is wrong with it.
PullReference parse_pull_reference(const std::string& ref);

struct RegistryCredentials {
    std::string username, password;
    bool empty() const { return username.empty() && password.empty(); }
};

struct RegistryConfig {
    // Plain http when true, https when false; unset: http for localhost and 127.0.0.0/8 only.
    std::optional<bool> insecure;
    std::string ca_file;    // trusted besides the system store
    RegistryCredentials credentials;
};

// The credentials file `kiln login` writes: Docker's config.json form,
// {"auths": {"<registry>": {"auth": "<base64 of user:password>"}}}, mode 0600. A missing file has
// no credentials; a malformed one is an invalid_argument error naming it.
RegistryCredentials read_auth_file(const std::string& path, const std::string& registry);
void store_auth(const std::string& path, const std::string& registry, const RegistryCredentials& credentials);
// Whether the registry had credentials there.
bool remove_auth(const std::string& path, const std::string& registry);

class RegistryClient {
public:
    RegistryClient(const std::string& registry, const std::string& repository, RegistryConfig config);

    struct Document {
        std::string media_type, digest, body;
    };
    // A manifest or index by tag or digest, with every media type kiln reads accepted. By digest,
    // the body must hash to it.
    Document manifest(const std::string& tag_or_digest);
    // A blob's bytes from `offset` on; `*resumed` says whether the registry honoured the offset
    // (206) or sends it whole (200).
    std::unique_ptr<http::Stream> blob(const std::string& digest, std::uint64_t offset, bool* resumed);
    // GET /v2/: whether the registry takes these credentials (for login). Throws when it does not.
    void check_login();

    const std::string& base_url() const { return base_; }

private:
    std::unique_ptr<http::Stream> send(http::Request r);
    std::string authorize(const http::Response& challenge);
    [[noreturn]] void fail(http::Stream& s, const std::string& what);

    std::string registry_, repository_, base_;
    RegistryConfig config_;
    http::Client client_;
    std::mutex mu_;
    std::string authorization_;  // the header value that worked last, for every request after
};

}  // namespace kiln::image
