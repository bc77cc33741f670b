#include "core/image/registry_source.hpp"

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/sys/error.hpp"

namespace kiln::image {

namespace {

class RegistrySource : public LayoutSource {
public:
    RegistrySource(const PullReference& ref, const RegistryConfig& config)
        : LayoutSource(ref.str()), ref_(ref), client_(ref.registry, ref.repository, config) {}

    std::string index_json() override {
        top_ = client_.manifest(ref_.digest.empty() ? ref_.tag : ref_.digest);
        nlohmann::json entry = {{"mediaType", top_.media_type}, {"digest", top_.digest}, {"size", top_.body.size()}};
        if (!ref_.tag.empty()) entry["annotations"] = {{"org.opencontainers.image.ref.name", ref_.tag}};
        return nlohmann::json{{"schemaVersion", 2}, {"manifests", {entry}}}.dump();
    }

    // Manifests and indexes come from the manifests endpoint, in memory.
    void fetch(const std::vector<Descriptor>& wanted, const BlobSink& sink) override {
        for (const auto& d : wanted) {
            std::string body = d.digest == top_.digest ? top_.body : client_.manifest(d.digest).body;
            sink(d, string_reader(body));
        }
    }

    bool resumable() const override { return true; }

    void fetch_resumable(const std::vector<Descriptor>& wanted, const ResumableSink& sink) override {
        std::vector<Descriptor> documents, blobs;
        for (const auto& d : wanted) (is_index_type(d.media_type) || is_manifest_type(d.media_type) ? documents : blobs).push_back(d);
        if (!documents.empty()) {
            fetch(documents, [&](const Descriptor& d, const ReadFn& read) {
                sink(d, [&](std::uint64_t, bool* resumed) {
                    *resumed = false;
                    return read;
                });
            });
        }
        std::atomic<std::size_t> next{0};
        std::atomic<bool> failed{false};
        std::exception_ptr first_error;
        std::mutex error_mu;
        auto worker = [&] {
            for (;;) {
                std::size_t i = next++;
                if (i >= blobs.size() || failed) return;
                const Descriptor& d = blobs[i];
                try {
                    std::unique_ptr<http::Stream> stream;
                    sink(d, [&](std::uint64_t offset, bool* resumed) -> ReadFn {
                        stream = client_.blob(d.digest, offset, resumed);
                        return [s = stream.get()](char* buf, std::size_t len) { return s->read(buf, len); };
                    });
                } catch (...) {
                    std::lock_guard lock(error_mu);
                    if (!first_error) first_error = std::current_exception();
                    failed = true;
                }
            }
        };
        std::size_t n = std::min<std::size_t>(kPullConcurrency, blobs.size());
        std::vector<std::thread> threads;
        for (std::size_t i = 1; i < n; ++i) threads.emplace_back(worker);
        worker();
        for (auto& t : threads) t.join();
        if (first_error) std::rethrow_exception(first_error);
    }

private:
    PullReference ref_;
    RegistryClient client_;
    RegistryClient::Document top_;
};

}  // namespace

std::unique_ptr<LayoutSource> open_registry(const PullReference& ref, const RegistryConfig& config) {
    return std::make_unique<RegistrySource>(ref, config);
}

}  // namespace kiln::image
