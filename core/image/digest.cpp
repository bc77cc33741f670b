// sha256 over streamed data, and the checks that keep a digest usable as a file name.
#include "core/image/digest.hpp"

#include <openssl/evp.h>

#include "core/sys/error.hpp"

namespace kiln::image {

namespace {

constexpr std::string_view kSha256Prefix = "sha256:";
constexpr std::size_t kSha256HexLen = 64;

[[noreturn]] void openssl_failed(const char* call) {
    throw Error(Errc::internal, std::string("OpenSSL ") + call + " failed for sha256");
}

}  // namespace

void Sha256::Free::operator()(evp_md_ctx_st* ctx) const noexcept { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_) openssl_failed("EVP_MD_CTX_new");
    if (EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) openssl_failed("EVP_DigestInit_ex");
}

void Sha256::update(const void* data, std::size_t len) {
    if (EVP_DigestUpdate(ctx_.get(), data, len) != 1) openssl_failed("EVP_DigestUpdate");
}

std::string Sha256::finish() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) openssl_failed("EVP_DigestFinal_ex");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(kSha256Prefix);
    for (unsigned i = 0; i < len; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 0xf];
    }
    return out;
}

std::string sha256_of(std::string_view data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.finish();
}

bool is_lower_hex(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool is_sha256_digest(std::string_view digest) {
    return digest.size() == kSha256Prefix.size() + kSha256HexLen && digest.starts_with(kSha256Prefix) &&
           is_lower_hex(digest.substr(kSha256Prefix.size()));
}

std::string digest_hex(const std::string& digest, const std::string& what) {
    if (is_sha256_digest(digest)) return digest.substr(kSha256Prefix.size());
    auto colon = digest.find(':');
    if (colon != std::string::npos && colon > 0 && digest.compare(0, colon, "sha256") != 0)
        invalid(what + ": digest algorithm of \"" + digest + "\" is not supported (only sha256)");
    invalid(what + ": \"" + digest + "\" is not a sha256 digest (sha256:<64 lowercase hex digits>)");
}

}  // namespace kiln::image
