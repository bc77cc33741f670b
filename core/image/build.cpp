// Build from a directory: the tree becomes one layer (a pax tar written by libarchive from the
// disk, entries in name order so the same tree gives the same diff id), gzip-compressed with the
// digests of both forms taken as the bytes go by; with a config and a manifest it is an OCI
// layout in a temp dir of the store, which the ordinary import then verifies and records.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/image/digest.hpp"
#include "core/image/store.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

namespace kiln::image {

namespace {

struct WriteFree {
    void operator()(struct archive* a) const noexcept { archive_write_free(a); }
};
struct ReadFree {
    void operator()(struct archive* a) const noexcept { archive_read_free(a); }
};

// Where the compressed layer goes: a file, hashed as it is written.
struct BlobSinkFile {
    Fd fd;
    Sha256 hash;
    std::uint64_t size = 0;
    std::string path;
};

la_ssize_t write_blob(struct archive*, void* data, const void* buf, size_t n) {
    auto* s = static_cast<BlobSinkFile*>(data);
    s->hash.update(buf, n);
    s->size += n;
    write_all(s->fd.get(), std::string_view(static_cast<const char*>(buf), n), s->path);
    return static_cast<la_ssize_t>(n);
}

// The uncompressed tar, hashed (the diff id) and handed on to the gzip writer.
struct TarTap {
    struct archive* gzip = nullptr;
    Sha256 hash;
};

la_ssize_t write_tar(struct archive*, void* data, const void* buf, size_t n) {
    auto* t = static_cast<TarTap*>(data);
    t->hash.update(buf, n);
    if (archive_write_data(t->gzip, buf, n) < 0) return -1;
    return static_cast<la_ssize_t>(n);
}

class LayerWriter {
public:
    LayerWriter(const std::string& root, const std::string& out_path) : root_(root) {
        sink_.path = out_path;
        sink_.fd = open_file(out_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        // gzip: a "raw" archive of one entry whose data is the tar stream.
        gz_.reset(archive_write_new());
        archive_write_set_format_raw(gz_.get());
        archive_write_add_filter_gzip(gz_.get());
        archive_write_set_bytes_per_block(gz_.get(), 0);
        if (archive_write_open(gz_.get(), &sink_, nullptr, write_blob, nullptr) != ARCHIVE_OK) fail(gz_.get(), "gzip");
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_pathname(e, "layer.tar");
        if (archive_write_header(gz_.get(), e) != ARCHIVE_OK) fail(gz_.get(), "gzip");
        archive_entry_free(e);
        tap_.gzip = gz_.get();
        tar_.reset(archive_write_new());
        archive_write_set_format_pax_restricted(tar_.get());
        archive_write_set_bytes_per_block(tar_.get(), 0);
        if (archive_write_open(tar_.get(), &tap_, nullptr, write_tar, nullptr) != ARCHIVE_OK) fail(tar_.get(), "tar");
        disk_.reset(archive_read_disk_new());
        archive_read_disk_set_symlink_physical(disk_.get());
        archive_read_disk_set_standard_lookup(disk_.get());
    }

    void run() {
        walk("");
        if (archive_write_close(tar_.get()) != ARCHIVE_OK) fail(tar_.get(), "tar");
        if (archive_write_close(gz_.get()) != ARCHIVE_OK) fail(gz_.get(), "gzip");
        if (::fsync(sink_.fd.get()) < 0) throw_sys("fsync", sink_.path);
    }

    std::string diff_id() { return tap_.hash.finish(); }
    std::string digest() { return sink_.hash.finish(); }
    std::uint64_t size() const { return sink_.size; }

private:
    // Entries in name order, directories before what they hold.
    void walk(const std::string& rel) {
        std::string dir = rel.empty() ? root_ : root_ + "/" + rel;
        DIR* d = ::opendir(dir.c_str());
        if (!d) throw_sys("opendir", dir);
        std::vector<std::string> names;
        while (auto* e = ::readdir(d))
            if (std::string n = e->d_name; n != "." && n != "..") names.push_back(n);
        ::closedir(d);
        std::sort(names.begin(), names.end());
        for (const auto& n : names) {
            std::string child = rel.empty() ? n : rel + "/" + n;
            std::string full = root_ + "/" + child;
            struct stat st;
            if (::lstat(full.c_str(), &st) < 0) throw_sys("lstat", full);
            if (S_ISSOCK(st.st_mode)) continue;  // a socket is no part of an image
            add(child, full, st);
            if (S_ISDIR(st.st_mode)) walk(child);
        }
    }

    void add(const std::string& name, const std::string& full, const struct stat& st) {
        struct archive_entry* e = archive_entry_new();
        archive_entry_copy_sourcepath(e, full.c_str());
        int fd = S_ISREG(st.st_mode) ? ::open(full.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
        if (S_ISREG(st.st_mode) && fd < 0) {
            archive_entry_free(e);
            throw_sys("open", full);
        }
        Fd file(fd);
        if (archive_read_disk_entry_from_file(disk_.get(), e, fd, &st) != ARCHIVE_OK) {
            archive_entry_free(e);
            fail(disk_.get(), full);
        }
        archive_entry_set_pathname(e, (S_ISDIR(st.st_mode) ? name + "/" : name).c_str());
        archive_entry_set_uname(e, "");
        archive_entry_set_gname(e, "");
        // Hard links: a second name of an inode already written.
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
            auto key = std::make_pair(st.st_dev, st.st_ino);
            auto it = links_.find(key);
            if (it != links_.end()) {
                archive_entry_set_hardlink(e, it->second.c_str());
                archive_entry_set_size(e, 0);
                file.reset();
            } else {
                links_.emplace(key, name);
            }
        }
        int r = archive_write_header(tar_.get(), e);
        archive_entry_free(e);
        if (r != ARCHIVE_OK) fail(tar_.get(), name);
        if (file) {
            char buf[1 << 16];
            for (;;) {
                ssize_t n = ::read(file.get(), buf, sizeof buf);
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) throw_sys("read", full);
                if (n == 0) break;
                if (archive_write_data(tar_.get(), buf, static_cast<std::size_t>(n)) < 0) fail(tar_.get(), name);
            }
        }
    }

    [[noreturn]] void fail(struct archive* a, const std::string& what) {
        const char* err = archive_error_string(a);
        invalid("building from " + root_ + ": " + what + ": " + (err ? err : "libarchive error"));
    }

    std::string root_;
    BlobSinkFile sink_;
    TarTap tap_;
    std::unique_ptr<struct archive, WriteFree> gz_, tar_;
    std::unique_ptr<struct archive, ReadFree> disk_;
    std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

std::string put_blob(const std::string& layout, std::string_view data) {
    std::string digest = sha256_of(data);
    write_file(layout + "/blobs/sha256/" + digest.substr(7), data, 0644);
    return digest;
}

}  // namespace

Image Store::build_from_dir(const std::string& rootfs, const std::string& tag, const nlohmann::json& config) {
    Reference ref = parse_reference(tag);
    if (rootfs.empty() || rootfs[0] != '/') invalid("rootfs \"" + rootfs + "\": must be an absolute path");
    struct stat st;
    if (::stat(rootfs.c_str(), &st) < 0) {
        if (errno == ENOENT) not_found("rootfs " + rootfs + " does not exist");
        throw_sys("stat", rootfs);
    }
    if (!S_ISDIR(st.st_mode)) invalid("rootfs " + rootfs + " is not a directory");
    if (!config.is_object()) invalid("config: must be an object (the image config's \"config\": Entrypoint, Cmd, Env, ...)");

    std::string layout = root_ + "/build-" + std::to_string(::getpid()) + "-" + std::to_string(++builds_);
    remove_all(layout);
    mkdir_all(layout + "/blobs/sha256", 0700);
    try {
        std::string layer_tmp = layout + "/layer.tmp";
        LayerWriter writer(rootfs, layer_tmp);
        writer.run();
        std::string layer_digest = writer.digest(), diff_id = writer.diff_id();
        std::uint64_t layer_size = writer.size();
        if (::rename(layer_tmp.c_str(), (layout + "/blobs/sha256/" + layer_digest.substr(7)).c_str()) < 0)
            throw_sys("rename", layer_tmp);

        std::string created = rfc3339_now();
        nlohmann::json image_config = {
            {"created", created},
            {"architecture", host_architecture_name()},
            {"os", "linux"},
            {"config", config},
            {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}},
            {"history", {{{"created", created}, {"created_by", "kiln image build --from-dir " + rootfs}}}}};
        std::string config_text = image_config.dump();
        // The config checked as an import would check it, so that its errors name the field.
        parse_config(config_text, "config");
        std::string config_digest = put_blob(layout, config_text);
        nlohmann::json manifest = {
            {"schemaVersion", 2},
            {"mediaType", media_type::oci_manifest},
            {"config", {{"mediaType", media_type::oci_config}, {"digest", config_digest}, {"size", config_text.size()}}},
            {"layers", {{{"mediaType", media_type::oci_layer_gzip}, {"digest", layer_digest}, {"size", layer_size}}}}};
        std::string manifest_text = manifest.dump();
        std::string manifest_digest = put_blob(layout, manifest_text);
        write_file(layout + "/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 0644);
        nlohmann::json index = {{"schemaVersion", 2},
                                {"manifests",
                                 {{{"mediaType", media_type::oci_manifest},
                                   {"digest", manifest_digest},
                                   {"size", manifest_text.size()},
                                   {"annotations", {{"org.opencontainers.image.ref.name", ref.tag}}}}}}};
        write_file(layout + "/index.json", index.dump(), 0644);
        Image image = import(layout, tag);
        remove_all(layout);
        return image;
    } catch (...) {
        remove_all(layout);
        throw;
    }
}

}  // namespace kiln::image
