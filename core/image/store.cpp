// The image store: import, records, lookup, removal and the garbage collection that removal and
// replaced tags need. Blobs and snapshots are created outside the lock; what decides whether they
// may be deleted (the records and the pins of imports in progress) changes only under it.
#include "core/image/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include "core/image/digest.hpp"
#include "core/image/directory.hpp"
#include "core/image/layout.hpp"
#include "core/image/reference.hpp"
#include "core/image/registry_source.hpp"
#include "core/oci/json_fields.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/log.hpp"

namespace kiln::image {

namespace detail = kiln::oci::detail;

KILN_JSON_FIELDS(ImageConfig) {
    v("entrypoint", s.entrypoint);
    v("cmd", s.cmd);
    v("env", s.env);
    v("workingDir", s.working_dir);
    v("user", s.user);
    v("stopSignal", s.stop_signal);
    v("exposedPorts", s.exposed_ports);
    v("volumes", s.volumes);
    v("labels", s.labels);
}

KILN_JSON_FIELDS(Image) {
    v.req("name", s.name);
    v.req("digest", s.digest);
    v.req("configDigest", s.config_digest);
    v.req("os", s.os);
    v.req("architecture", s.architecture);
    v("config", s.config);
    v.req("layers", s.layers);
    v("diffIds", s.diff_ids);
    v.req("size", s.size);
    v.req("created", s.created);
}

nlohmann::json to_json(const Image& image) { return detail::write(image); }

Image image_from_json(const nlohmann::json& j) {
    Image image;
    detail::read(j, "", image);
    digest_hex(image.digest, "digest");
    digest_hex(image.config_digest, "configDigest");
    for (std::size_t i = 0; i < image.layers.size(); ++i)
        digest_hex(image.layers[i], "layers[" + std::to_string(i) + "]");
    return image;
}

namespace {

constexpr int kMaxIndexDepth = 4;
constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";
constexpr std::size_t kMinPrefix = 12;

constexpr std::string_view host_architecture() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "amd64";
#endif
}

Fd lock_store(const std::string& images_dir, const std::string& root) {
    mkdir_all(images_dir, 0700);
    Fd fd = open_file(images_dir + "/.lock", O_RDWR | O_CREAT, 0600);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) precondition("image store " + root + " is in use by another process");
        throw_sys("flock", images_dir + "/.lock");
    }
    return fd;
}

std::vector<std::string> digests_of(const Image& image) {
    std::vector<std::string> out{image.digest, image.config_digest};
    out.insert(out.end(), image.layers.begin(), image.layers.end());
    return out;
}

using PinFn = std::function<void(const std::string&)>;

std::string platform_name(const Platform& p) {
    return p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant);
}

// One import: reads the layout, stores and checks what the chosen manifest needs.
class Importer {
public:
    Importer(ContentStore& content, SnapshotStore& snapshots, LayoutSource& source, const Reference& ref,
             std::string record_name, Platform want, PinFn pin, ProgressFn progress)
        : content_(content),
          snapshots_(snapshots),
          source_(source),
          ref_(ref),
          record_name_(std::move(record_name)),
          want_(std::move(want)),
          pin_(std::move(pin)),
          progress_(std::move(progress)) {}

    Image run() {
        std::string where = source_.path() + ": index.json";
        Index index = parse_index(source_.index_json(), where);
        Descriptor manifest_desc = resolve(index, where, 0);

        std::string manifest_name = "manifest " + manifest_desc.digest;
        Manifest manifest = parse_manifest(document(manifest_desc, "manifest"), src(manifest_name));
        if (!manifest.media_type.empty() && manifest.media_type != manifest_desc.media_type)
            invalid(src(manifest_name) + ": mediaType \"" + manifest.media_type + "\" differs from \"" +
                    manifest_desc.media_type + "\" in the descriptor that points to it");

        check_document_size(manifest.config, "config");
        std::vector<std::pair<Descriptor, std::string>> layers;
        for (std::size_t i = 0; i < manifest.layers.size(); ++i)
            layers.emplace_back(manifest.layers[i], "layer " + std::to_string(i));
        ConfigBlob config;
        std::string config_name = "config " + manifest.config.digest;
        auto read_config = [&] {
            config = parse_config(content_.read(manifest.config.digest, kMaxDocumentSize, src("config")), src(config_name));
            if (config.os != "linux") invalid(src(config_name) + ": os is \"" + config.os + "\", not linux");
            if (config.diff_ids.size() != manifest.layers.size())
                invalid(src(config_name) + ": rootfs.diff_ids lists " + std::to_string(config.diff_ids.size()) +
                        " layers, the manifest " + std::to_string(manifest.layers.size()));
        };
        auto unpack = [&](std::size_t i) {
            const Descriptor& layer = manifest.layers[i];
            if (snapshots_.has(layer.digest)) return;
            report(layer, "layer", "unpacking", 0);
            snapshots_.create(layer, content_.blob_path(layer.digest), config.diff_ids[i],
                              src("layer " + std::to_string(i) + " " + layer.digest));
            report(layer, "layer", "unpacked", layer.size);
        };
        if (source_.resumable()) {
            // A registry: the config first, then the layers side by side, each unpacked as soon
            // as it is stored.
            ensure_blobs({{manifest.config, "config"}});
            read_config();
            std::map<std::string, std::size_t> index_of;
            for (std::size_t i = 0; i < manifest.layers.size(); ++i) index_of.emplace(manifest.layers[i].digest, i);
            ensure_blobs(layers, [&](const Descriptor& d) { unpack(index_of.at(d.digest)); });
            for (std::size_t i = 0; i < manifest.layers.size(); ++i) unpack(i);  // those already stored
        } else {
            // Config and layers come in one pass: an archive is read once for all of them.
            std::vector<std::pair<Descriptor, std::string>> blobs{{manifest.config, "config"}};
            blobs.insert(blobs.end(), layers.begin(), layers.end());
            ensure_blobs(blobs);
            read_config();
            for (std::size_t i = 0; i < manifest.layers.size(); ++i) unpack(i);
        }

        Image image;
        image.name = record_name_;
        image.digest = manifest_desc.digest;
        image.config_digest = manifest.config.digest;
        image.os = config.os;
        image.architecture = config.architecture;
        image.config = std::move(config.config);
        image.diff_ids = std::move(config.diff_ids);
        image.size = manifest_desc.size + manifest.config.size;
        for (const auto& layer : manifest.layers) {
            image.layers.push_back(layer.digest);
            image.size += layer.size;
        }
        image.created = rfc3339_now();
        return image;
    }

private:
    std::string src(const std::string& what) const { return source_.path() + ": " + what; }

    // Follows nested indexes down to one image manifest.
    Descriptor resolve(const Index& index, const std::string& where, int depth) {
        const Descriptor& pick = choose(index, where);
        if (is_index_type(pick.media_type)) {
            if (depth >= kMaxIndexDepth) invalid(where + ": indexes nested more than " + std::to_string(kMaxIndexDepth) + " deep");
            std::string nested = src("index " + pick.digest);
            return resolve(parse_index(document(pick, "index"), nested), nested, depth + 1);
        }
        if (!is_manifest_type(pick.media_type))
            invalid(where + ": " + pick.digest + " has media type \"" + pick.media_type +
                    "\", which is neither an image manifest nor an index");
        return pick;
    }

    const Descriptor& choose(const Index& index, const std::string& where) const {
        const auto& all = index.manifests;
        if (all.empty()) invalid(where + ": lists no manifests");
        if (all.size() == 1 && !all.front().platform) return all.front();
        for (const auto& d : all)
            if (d.platform && d.platform->os == want_.os && d.platform->architecture == want_.architecture &&
                (want_.variant.empty() || d.platform->variant == want_.variant))
                return d;
        if (all.size() == 1) return all.front();
        for (const auto& d : all) {
            auto it = d.annotations.find(std::string(kRefNameAnnotation));
            if (it != d.annotations.end() && (it->second == ref_.tag || it->second == ref_.str())) return d;
        }
        std::string listed;
        for (const auto& d : all)
            if (d.platform)
                listed += (listed.empty() ? "" : ", ") + d.platform->os + "/" + d.platform->architecture +
                          (d.platform->variant.empty() ? "" : "/" + d.platform->variant);
        invalid(where + ": lists " + std::to_string(all.size()) + " manifests, none for " + platform_name(want_) +
                " nor with the ref.name \"" + ref_.tag + "\"" + (listed.empty() ? "" : " (it has " + listed + ")"));
    }

    void report(const Descriptor& d, const char* kind, const char* status, std::uint64_t current) const {
        if (progress_) progress_({d.digest, kind, status, current, d.size});
    }

    void check_document_size(const Descriptor& d, const std::string& what) const {
        if (d.size > kMaxDocumentSize)
            invalid(src(what + " " + d.digest) + ": its descriptor states " + std::to_string(d.size) +
                    " bytes, more than the " + std::to_string(kMaxDocumentSize) + " allowed for it");
    }

    // A JSON blob (index, manifest), stored and verified first.
    std::string document(const Descriptor& d, const std::string& what) {
        check_document_size(d, what);
        ensure_blobs({{d, what}});
        return content_.read(d.digest, kMaxDocumentSize, src(what));
    }

    // Pins every blob, then copies those the store lacks in one fetch; `stored` hears of each
    // blob fetched (from the fetching thread).
    void ensure_blobs(const std::vector<std::pair<Descriptor, std::string>>& blobs,
                      const std::function<void(const Descriptor&)>& stored = {}) {
        std::vector<Descriptor> missing;
        std::map<std::string, std::string> roles;
        for (const auto& [d, role] : blobs) {
            if (roles.count(d.digest)) continue;
            roles.emplace(d.digest, role);
            // Pinned before looking: a removal running now either deleted it already (and it is
            // fetched again) or sees the pin and keeps it.
            pin_(d.digest);
            if (!content_.has(d.digest)) missing.push_back(d);
            else report(d, kind(role), "exists", d.size);
        }
        if (source_.resumable()) {
            source_.fetch_resumable(missing, [&](const Descriptor& d, const ContentStore::OpenFn& open) {
                const char* k = kind(roles.at(d.digest));
                content_.ingest_resumable(d, open, src(roles.at(d.digest)),
                                          [&](std::uint64_t n) { report(d, k, "downloading", n); });
                report(d, k, "downloaded", d.size);
                if (stored) stored(d);
            });
            return;
        }
        source_.fetch(missing, [&](const Descriptor& d, const ReadFn& read) {
            content_.ingest(d, read, src(roles[d.digest]));
            if (stored) stored(d);
        });
    }

    static const char* kind(const std::string& role) {
        return role.starts_with("layer") ? "layer" : role.starts_with("config") ? "config" : "manifest";
    }

    ContentStore& content_;
    SnapshotStore& snapshots_;
    LayoutSource& source_;
    const Reference& ref_;
    std::string record_name_;
    Platform want_;
    PinFn pin_;
    ProgressFn progress_;
};

}  // namespace


Store::Store(std::string root)
    : root_(std::move(root)),
      lock_(lock_store(root_ + "/images", root_)),
      content_(root_ + "/content"),
      snapshots_(root_ + "/snapshots"),
      images_dir_(root_ + "/images") {
    // With the lock held nothing else works here: leftovers are from a crash.
    content_.clear_ingests();
    snapshots_.clear_temporaries();
    for (const auto& name : list_dir(root_))
        if (name.starts_with("build-")) remove_all(root_ + "/" + name);  // a build a crash cut short
    load_records();
}

std::string Store::record_path(const std::string& name) const {
    // Hashed: names hold '/' and ':' and may be longer than a file name may be.
    return images_dir_ + "/" + digest_hex(sha256_of(name), "name") + ".json";
}

void Store::load_records() {
    bool complete = true;
    for (const auto& file : list_dir(images_dir_)) {
        std::string path = images_dir_ + "/" + file;
        if (file.ends_with(".json.tmp")) {
            ::unlink(path.c_str());  // atomic_write's temp file, from a crash
            continue;
        }
        if (!file.ends_with(".json")) continue;
        try {
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(read_file(path));
            } catch (const nlohmann::json::parse_error& e) {
                invalid(std::string("malformed JSON: ") + e.what());
            }
            Image image = image_from_json(j);
            if (record_path(image.name) != path) invalid("holds image " + image.name + ", which belongs elsewhere");
            records_.emplace(image.name, std::move(image));
        } catch (const Error& e) {
            complete = false;
            log::warn("image record " + path + " ignored: " + e.what());
        }
    }
    // Blobs and snapshots of an import that crashed before its record are garbage. With a record
    // unreadable nobody can tell what it used, so then nothing is collected.
    if (!complete) return;
    std::vector<std::string> all = content_.digests();
    for (auto& d : snapshots_.digests()) all.push_back(std::move(d));
    discard(collect(all));
}

std::vector<std::string> Store::digests_of_image(const Image& image) { return digests_of(image); }

std::string Store::host_architecture_name() { return std::string(host_architecture()); }

Platform parse_platform(const std::string& text) {
    Platform p;
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        auto slash = text.find('/', start);
        parts.push_back(text.substr(start, slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty() || (parts.size() == 3 && parts[2].empty()))
        invalid("platform \"" + text + "\": must be os/architecture[/variant], e.g. linux/arm64/v8");
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
    return p;
}

Image Store::import(const std::string& path, const std::string& tag, const ImportOptions& options) {
    Reference ref = parse_reference(tag);
    auto source = open_layout(path);
    return run_import(*source, ref, ref.str(), options, false);
}

Image Store::pull(const std::string& reference, const ImportOptions& options, const RegistryResolver& registries) {
    PullReference ref = parse_pull_reference(reference);
    auto source = open_registry(ref, registries ? registries(ref.registry) : RegistryConfig{});
    Reference local{ref.registry + "/" + ref.repository, ref.tag.empty() ? "latest" : ref.tag};
    return run_import(*source, local, ref.record_name(), options, true);
}

Image Store::run_import(LayoutSource& source, const Reference& ref, const std::string& record_name,
                        const ImportOptions& options, bool keep_on_transport_error) {
    Pins pins{*this, {}};
    Image image;
    try {
        Platform want = options.platform.value_or(Platform{std::string(host_architecture()), "linux", ""});
        Importer importer(content_, snapshots_, source, ref, record_name, want, [&](const std::string& d) { pins.add(d); },
                          options.progress);
        image = importer.run();
    } catch (const Error& e) {
        // What this import stored is removed again unless another image uses it; after a dropped
        // connection the blobs already verified stay for the next pull (prune removes them).
        if (keep_on_transport_error && e.code() == Errc::internal) throw;
        std::vector<std::string> detached;
        {
            std::lock_guard lock(mutex_);
            std::vector<std::string> mine = pins.digests;
            pins.release();
            detached = collect(mine);
        }
        discard(detached);
        throw;
    }
    commit(image);
    return image;
}

void Store::commit(const Image& image) {
    std::vector<std::string> detached;
    {
        std::lock_guard lock(mutex_);
        atomic_write(record_path(image.name), to_json(image).dump(2) + "\n", true, 0600);
        auto it = records_.find(image.name);
        std::vector<std::string> replaced;
        if (it != records_.end()) {
            replaced = digests_of(it->second);
            it->second = image;
        } else {
            records_.emplace(image.name, image);
        }
        detached = collect(replaced);
    }
    discard(detached);
}

std::vector<Image> Store::list() const {
    std::lock_guard lock(mutex_);
    std::vector<Image> out;
    for (const auto& [name, image] : records_) out.push_back(image);
    return out;
}

namespace {

// The records `ref` names: one by name, every name of a manifest digest, or every image whose
// digest starts with a hex prefix.
std::vector<const Image*> matching(const std::map<std::string, Image>& records, const std::string& ref) {
    std::vector<const Image*> out;
    if (auto it = records.find(ref); it != records.end()) return {&it->second};  // "...@sha256:..." too
    if (is_sha256_digest(ref)) {
        for (const auto& [name, image] : records)
            if (image.digest == ref) out.push_back(&image);
        return out;
    }
    try {
        auto it = records.find(parse_reference(ref).str());
        if (it != records.end()) return {&it->second};
    } catch (const Error&) {
        // Not a name; perhaps a prefix.
    }
    std::string_view hex = ref;
    if (hex.starts_with("sha256:")) hex.remove_prefix(7);
    if (hex.size() >= kMinPrefix && hex.size() <= 64 && is_lower_hex(hex)) {
        for (const auto& [name, image] : records)
            if (std::string_view(image.digest).substr(7).starts_with(hex)) out.push_back(&image);
    }
    if (out.empty()) {
        // As pulled: "busybox" is docker.io/library/busybox:latest.
        try {
            auto it = records.find(parse_pull_reference(ref).record_name());
            if (it != records.end()) out.push_back(&it->second);
        } catch (const Error&) {
        }
    }
    return out;
}

}  // namespace

Image Store::get(const std::string& ref) const {
    std::lock_guard lock(mutex_);
    auto found = matching(records_, ref);
    if (found.empty()) not_found("image \"" + ref + "\" not found");
    for (const Image* image : found)
        if (image->digest != found.front()->digest)
            invalid("image reference \"" + ref + "\" is ambiguous: it matches " + found.front()->digest + " and " +
                    image->digest);
    return *found.front();
}

void Store::remove(const std::string& ref, bool keep_content) {
    std::vector<std::string> detached;
    {
        std::lock_guard lock(mutex_);
        auto found = matching(records_, ref);
        if (found.empty()) not_found("image \"" + ref + "\" not found");
        if (found.size() > 1) {
            std::string names;
            for (const Image* image : found) names += (names.empty() ? "" : ", ") + image->name;
            precondition("image reference \"" + ref + "\" names several images (" + names +
                         "); remove them by name");
        }
        Image image = *found.front();
        std::string path = record_path(image.name);
        if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_sys("unlink", path);
        fsync_dir(images_dir_);
        records_.erase(image.name);
        if (!keep_content) detached = collect(digests_of(image));
    }
    discard(detached);
}

namespace {

std::uint64_t tree_bytes(const std::string& path) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(path, ec); !ec && it != std::filesystem::recursive_directory_iterator();
         it.increment(ec)) {
        std::error_code e2;
        if (it->is_regular_file(e2) && !it->is_symlink(e2)) total += it->file_size(e2);
    }
    return total;
}

}  // namespace

Store::PruneResult Store::prune(const std::set<std::string>& in_use) {
    PruneResult result;
    std::vector<std::string> detached;
    {
        std::lock_guard lock(mutex_);
        std::set<std::string> keep;
        for (const auto& [name, image] : records_)
            for (auto& d : digests_of(image)) keep.insert(std::move(d));
        for (const auto& digest : in_use) {
            keep.insert(digest);
            if (!content_.has(digest)) continue;
            try {
                Manifest m = parse_manifest(content_.read(digest, kMaxDocumentSize, "manifest"), "manifest " + digest);
                keep.insert(m.config.digest);
                for (const auto& l : m.layers) keep.insert(l.digest);
            } catch (const Error& e) {
                log::warn("prune: manifest " + digest + " of a running container: " + e.what());
            }
        }
        for (const auto& d : content_.digests()) {
            if (keep.count(d) || pinned_.count(d)) continue;
            struct stat st{};
            if (::stat(content_.blob_path(d).c_str(), &st) == 0) result.bytes += static_cast<std::uint64_t>(st.st_size);
            content_.remove(d);
            ++result.blobs;
        }
        for (const auto& d : snapshots_.digests()) {
            if (keep.count(d) || pinned_.count(d)) continue;
            result.bytes += tree_bytes(snapshots_.path(d));
            if (auto trash = snapshots_.detach(d)) {
                detached.push_back(std::move(*trash));
                ++result.snapshots;
            }
        }
    }
    discard(detached);
    result.bytes += content_.remove_partials(&result.partials);
    return result;
}

std::vector<std::string> Store::collect(const std::vector<std::string>& digests) {
    std::set<std::string> used;
    for (const auto& [name, image] : records_)
        for (auto& d : digests_of(image)) used.insert(std::move(d));
    std::vector<std::string> detached;
    std::set<std::string> done;
    for (const auto& d : digests) {
        if (used.count(d) || pinned_.count(d) || !done.insert(d).second) continue;
        if (snapshots_.has(d))
            if (auto trash = snapshots_.detach(d)) detached.push_back(std::move(*trash));
        content_.remove(d);
    }
    return detached;
}

void Store::discard(const std::vector<std::string>& detached) const {
    for (const auto& path : detached) {
        try {
            SnapshotStore::discard(path);
        } catch (const Error& e) {
            // Already invisible; the next start clears it.
            log::warn("removing snapshot " + path + ": " + e.what());
        }
    }
}

std::vector<std::string> Store::lower_dirs(const Image& image) const {
    // A layer listed twice need only appear once, at its topmost place: everything the lower copy
    // provides, the upper copy provides again and hides it.
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (auto it = image.layers.rbegin(); it != image.layers.rend(); ++it)
        if (seen.insert(*it).second) out.push_back(snapshots_.path(*it));
    return out;
}

}  // namespace kiln::image
