// Content digests as the OCI image spec writes them ("sha256:<64 lowercase hex>"), computed over
// streamed data with OpenSSL's EVP interface so that a layer never has to fit in memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace kiln::image {

class Sha256 {
public:
    Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Sha256(Sha256&&) = default;
    Sha256& operator=(Sha256&&) = default;

    void update(const void* data, std::size_t len);
    // "sha256:<hex>" of everything passed to update(); the hash cannot be updated afterwards.
    std::string finish();

private:
    struct Free {
        void operator()(evp_md_ctx_st* ctx) const noexcept;
    };
    std::unique_ptr<evp_md_ctx_st, Free> ctx_;
};

std::string sha256_of(std::string_view data);

bool is_lower_hex(std::string_view text);
// True for "sha256:<64 lowercase hex>", the only algorithm the store keeps.
bool is_sha256_digest(std::string_view digest);
// The hex part of a sha256 digest. Anything else is an invalid_argument error that names `what`
// (for instance "manifest.json: layers[2].digest"); other algorithms are reported as unsupported.
std::string digest_hex(const std::string& digest, const std::string& what);

}  // namespace kiln::image
