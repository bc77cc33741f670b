// Reading OCI image layouts: from a directory with plain file reads, from an oci-archive with one
// sequential libarchive pass per fetch, since a tarball's members come in no particular order;
// and docker-archives (`docker save`), read as the layout they describe.
#include "core/image/layout.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/image/digest.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

namespace kiln::image {

namespace {

void check_layout_marker(const std::optional<std::string>& text, const std::string& path) {
    if (!text) invalid(path + " is not an OCI image layout: it has no oci-layout file");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(*text);
    } catch (const nlohmann::json::parse_error& e) {
        invalid(path + ": oci-layout: malformed JSON: " + e.what());
    }
    auto it = j.is_object() ? j.find("imageLayoutVersion") : j.end();
    if (!j.is_object() || it == j.end() || !it->is_string())
        invalid(path + ": oci-layout: imageLayoutVersion is required");
    if (*it != "1.0.0")
        invalid(path + ": oci-layout: imageLayoutVersion " + it->get<std::string>() + " is not supported (1.0.0)");
}

[[noreturn]] void missing_blob(const std::string& path, const Descriptor& d) {
    invalid(path + ": blob " + d.digest + " (" + d.media_type + ") is missing from the layout");
}

class DirectorySource : public LayoutSource {
public:
    explicit DirectorySource(std::string path) : LayoutSource(std::move(path)) {}

    std::string index_json() override {
        check_layout_marker(read_file_if_exists(path_ + "/oci-layout"), path_);
        std::string index_path = path_ + "/index.json";
        auto text = read_small(index_path);
        if (!text) invalid(path_ + " is not an OCI image layout: it has no index.json");
        return *text;
    }

    void fetch(const std::vector<Descriptor>& wanted, const BlobSink& sink) override {
        for (const auto& d : wanted) {
            std::string blob = path_ + "/blobs/sha256/" + digest_hex(d.digest, "blob");
            int raw = ::open(blob.c_str(), O_RDONLY | O_CLOEXEC);
            if (raw < 0) {
                if (errno == ENOENT) missing_blob(path_, d);
                throw_sys("open", blob);
            }
            Fd fd(raw);
            sink(d, [&](char* buf, std::size_t len) -> std::size_t {
                for (;;) {
                    ssize_t n = ::read(fd.get(), buf, len);
                    if (n >= 0) return static_cast<std::size_t>(n);
                    if (errno != EINTR) throw_sys("read", blob);
                }
            });
        }
    }

private:
    static std::optional<std::string> read_small(const std::string& path) {
        struct stat st;
        if (::stat(path.c_str(), &st) < 0) {
            if (errno == ENOENT) return std::nullopt;
            throw_sys("stat", path);
        }
        if (static_cast<std::uint64_t>(st.st_size) > kMaxDocumentSize)
            invalid(path + " is larger than " + std::to_string(kMaxDocumentSize) + " bytes");
        return read_file(path);
    }
};

struct ArchiveFree {
    void operator()(struct archive* a) const noexcept { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

class ArchiveSource : public LayoutSource {
public:
    explicit ArchiveSource(std::string path) : LayoutSource(std::move(path)) {}

    std::string index_json() override {
        std::optional<std::string> marker, index, docker_manifest;
        scan([&](struct archive* a, struct archive_entry* e, const std::string& name) {
            if (name == "oci-layout") marker = read_member(a, e, name);
            if (name == "index.json") index = read_member(a, e, name);
            if (name == "manifest.json") docker_manifest = read_member(a, e, name);
        });
        if (!marker && docker_manifest) return docker_index(*docker_manifest);
        check_layout_marker(marker, path_);
        if (!index) invalid(path_ + " is not an OCI image layout archive: it has no index.json");
        return *index;
    }

    void fetch(const std::vector<Descriptor>& wanted, const BlobSink& sink) override {
        std::map<std::string, const Descriptor*> pending;
        for (const auto& d : wanted) {
            if (auto doc = documents_.find(d.digest); doc != documents_.end()) {
                sink(d, string_reader(doc->second));  // a manifest made from a docker-archive's manifest.json
                continue;
            }
            auto member = members_.find(d.digest);
            pending.emplace(member != members_.end() ? member->second : "blobs/sha256/" + digest_hex(d.digest, "blob"), &d);
        }
        if (pending.empty()) return;
        scan([&](struct archive* a, struct archive_entry* e, const std::string& name) {
            auto it = pending.find(name);
            if (it == pending.end()) return;
            if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
                invalid(path_ + ": member " + name + " is not a regular file");
            const Descriptor& d = *it->second;
            pending.erase(it);
            sink(d, [&, name](char* buf, std::size_t len) -> std::size_t {
                la_ssize_t n = archive_read_data(a, buf, len);
                if (n < 0) invalid(path_ + ": reading member " + name + ": " + error_of(a));
                return static_cast<std::size_t>(n);
            });
        });
        if (!pending.empty()) missing_blob(path_, *pending.begin()->second);
    }

private:
    // A docker-archive (`docker save`, `podman save`): manifest.json lists each image's config and
    // layer members. Each becomes an OCI manifest of its own (config and layers by the digests of
    // the members, layers as gzip, zstd or plain by their first bytes), listed in an index with
    // the image's first RepoTag as its ref.name.
    std::string docker_index(const std::string& text) {
        std::string where = path_ + ": manifest.json";
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (!j.is_array() || j.empty()) invalid(where + ": must be a non-empty array of images");
        std::map<std::string, std::string> wanted;  // member name -> "" until hashed
        for (std::size_t i = 0; i < j.size(); ++i) {
            std::string at = where + ": [" + std::to_string(i) + "]";
            if (!j[i].is_object()) invalid(at + ": must be an object");
            if (!j[i].contains("Config") || !j[i]["Config"].is_string()) invalid(at + ".Config: must be a string");
            if (!j[i].contains("Layers") || !j[i]["Layers"].is_array()) invalid(at + ".Layers: must be an array");
            wanted[clean(j[i]["Config"])];
            for (std::size_t k = 0; k < j[i]["Layers"].size(); ++k) {
                if (!j[i]["Layers"][k].is_string()) invalid(at + ".Layers[" + std::to_string(k) + "]: must be a string");
                wanted[clean(j[i]["Layers"][k])];
            }
        }
        struct Member {
            std::string digest;
            std::uint64_t size = 0;
            Compression compression = Compression::none;
        };
        std::map<std::string, Member> hashed;
        scan([&](struct archive* a, struct archive_entry* e, const std::string& name) {
            if (!wanted.count(name)) return;
            if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
                invalid(path_ + ": member " + name + " is not a regular file");
            Sha256 hash;
            Member m;
            char buf[65536];
            for (;;) {
                la_ssize_t n = archive_read_data(a, buf, sizeof buf);
                if (n < 0) invalid(path_ + ": reading member " + name + ": " + error_of(a));
                if (n == 0) break;
                if (m.size == 0 && n >= 4) {
                    auto u = reinterpret_cast<const unsigned char*>(buf);
                    if (u[0] == 0x1f && u[1] == 0x8b) m.compression = Compression::gzip;
                    else if (u[0] == 0x28 && u[1] == 0xb5 && u[2] == 0x2f && u[3] == 0xfd) m.compression = Compression::zstd;
                }
                hash.update(buf, static_cast<std::size_t>(n));
                m.size += static_cast<std::uint64_t>(n);
            }
            m.digest = hash.finish();
            hashed[name] = m;
        });
        nlohmann::json index = {{"schemaVersion", 2}, {"manifests", nlohmann::json::array()}};
        for (std::size_t i = 0; i < j.size(); ++i) {
            auto member = [&](const std::string& name) -> const Member& {
                auto it = hashed.find(clean(name));
                if (it == hashed.end()) invalid(where + ": [" + std::to_string(i) + "] names " + name + ", which the archive lacks");
                members_[it->second.digest] = it->first;
                return it->second;
            };
            const Member& config = member(j[i]["Config"]);
            nlohmann::json layers = nlohmann::json::array();
            for (const auto& l : j[i]["Layers"]) {
                const Member& m = member(l);
                std::string type = m.compression == Compression::gzip   ? std::string(media_type::oci_layer_gzip)
                                   : m.compression == Compression::zstd ? std::string(media_type::oci_layer_zstd)
                                                                        : std::string(media_type::oci_layer);
                layers.push_back({{"mediaType", type}, {"digest", m.digest}, {"size", m.size}});
            }
            nlohmann::json manifest = {
                {"schemaVersion", 2},
                {"mediaType", media_type::oci_manifest},
                {"config", {{"mediaType", media_type::oci_config}, {"digest", config.digest}, {"size", config.size}}},
                {"layers", layers}};
            std::string body = manifest.dump();
            std::string digest = sha256_of(body);
            documents_[digest] = body;
            nlohmann::json entry = {{"mediaType", media_type::oci_manifest}, {"digest", digest}, {"size", body.size()}};
            if (j[i].contains("RepoTags") && j[i]["RepoTags"].is_array() && !j[i]["RepoTags"].empty() &&
                j[i]["RepoTags"][0].is_string())
                entry["annotations"] = {{"org.opencontainers.image.ref.name", j[i]["RepoTags"][0]}};
            index["manifests"].push_back(entry);
        }
        return index.dump();
    }

    static std::string clean(std::string name) {
        while (name.starts_with("./")) name.erase(0, 2);
        return name;
    }

    std::map<std::string, std::string> documents_;  // digest -> a manifest made here
    std::map<std::string, std::string> members_;    // digest -> the member holding it

    static std::string error_of(struct archive* a) {
        const char* s = archive_error_string(a);
        return s ? s : "unknown libarchive error";
    }

    // Calls `visit` for every member with its name cleaned of a leading "./".
    template <class Visit>
    void scan(Visit&& visit) {
        ArchivePtr a(archive_read_new());
        if (!a) throw Error(Errc::internal, "archive_read_new failed");
        // Only the filters libarchive runs in-process: the others would spawn helper programs
        // from a multithreaded daemon.
        archive_read_support_filter_gzip(a.get());
        archive_read_support_filter_zstd(a.get());
        archive_read_support_filter_xz(a.get());
        archive_read_support_filter_bzip2(a.get());
        archive_read_support_format_tar(a.get());
        if (archive_read_open_filename(a.get(), path_.c_str(), 64 * 1024) != ARCHIVE_OK)
            invalid(path_ + ": cannot read as an oci-archive: " + error_of(a.get()));
        for (;;) {
            struct archive_entry* e = nullptr;
            int r = archive_read_next_header(a.get(), &e);
            if (r == ARCHIVE_EOF) break;
            if (r < ARCHIVE_WARN) invalid(path_ + ": cannot read as an oci-archive: " + error_of(a.get()));
            const char* raw = archive_entry_pathname(e);
            std::string name = raw ? raw : "";
            while (name.starts_with("./")) name.erase(0, 2);
            visit(a.get(), e, name);
        }
    }

    std::string read_member(struct archive* a, struct archive_entry* e, const std::string& name) {
        if (archive_entry_size(e) > static_cast<la_int64_t>(kMaxDocumentSize))
            invalid(path_ + ": member " + name + " is larger than " + std::to_string(kMaxDocumentSize) + " bytes");
        std::string out;
        char buf[16384];
        for (;;) {
            la_ssize_t n = archive_read_data(a, buf, sizeof buf);
            if (n < 0) invalid(path_ + ": reading member " + name + ": " + error_of(a));
            if (n == 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }
};

}  // namespace

std::unique_ptr<LayoutSource> open_layout(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) < 0) {
        if (errno == ENOENT) not_found("image source " + path + " does not exist");
        throw_sys("stat", path);
    }
    if (S_ISDIR(st.st_mode)) return std::make_unique<DirectorySource>(path);
    if (S_ISREG(st.st_mode)) return std::make_unique<ArchiveSource>(path);
    invalid(path + " is neither an OCI layout directory nor an oci-archive file");
}

}  // namespace kiln::image
