// Export: an image's manifest, config and layers out of the content store as an OCI image layout
// (a directory) or an oci-archive (the same layout as a tar, written with libarchive).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/image/digest.hpp"
#include "core/image/directory.hpp"
#include "core/image/store.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

namespace kiln::image {

namespace {

constexpr std::string_view kLayoutMarker = "{\"imageLayoutVersion\":\"1.0.0\"}";

struct WriteFree {
    void operator()(struct archive* a) const noexcept { archive_write_free(a); }
};

class TarWriter {
public:
    explicit TarWriter(const std::string& path) : path_(path), a_(archive_write_new()) {
        archive_write_set_format_pax_restricted(a_.get());
        if (archive_write_open_filename(a_.get(), path.c_str()) != ARCHIVE_OK) fail("opening");
    }
    void add_dir(const std::string& name) { header(name, AE_IFDIR, 0755, 0); }
    void add_bytes(const std::string& name, std::string_view data) {
        header(name, AE_IFREG, 0644, data.size());
        if (!data.empty() && archive_write_data(a_.get(), data.data(), data.size()) < 0) fail("writing " + name);
    }
    void add_file(const std::string& name, const std::string& source) {
        Fd fd = open_file(source, O_RDONLY);
        struct stat st;
        if (::fstat(fd.get(), &st) < 0) throw_sys("fstat", source);
        header(name, AE_IFREG, 0644, static_cast<std::uint64_t>(st.st_size));
        char buf[1 << 16];
        for (;;) {
            ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw_sys("read", source);
            if (n == 0) break;
            if (archive_write_data(a_.get(), buf, static_cast<std::size_t>(n)) < 0) fail("writing " + name);
        }
    }
    void close() {
        if (archive_write_close(a_.get()) != ARCHIVE_OK) fail("closing");
    }

private:
    void header(const std::string& name, unsigned type, unsigned mode, std::uint64_t size) {
        struct archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, mode);
        archive_entry_set_size(e, static_cast<la_int64_t>(size));
        archive_entry_set_mtime(e, 0, 0);
        int r = archive_write_header(a_.get(), e);
        archive_entry_free(e);
        if (r != ARCHIVE_OK) fail("writing the header of " + name);
    }
    [[noreturn]] void fail(const std::string& what) {
        const char* err = archive_error_string(a_.get());
        throw Error(Errc::internal, path_ + ": " + what + ": " + (err ? err : "libarchive error"));
    }
    std::string path_;
    std::unique_ptr<struct archive, WriteFree> a_;
};

void copy_file(const std::string& from, const std::string& to) {
    Fd in = open_file(from, O_RDONLY);
    Fd out = open_file(to, O_WRONLY | O_CREAT | O_EXCL, 0644);
    for (;;) {
        ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_sys("copy_file_range", from + " to " + to);
        if (n == 0) break;
    }
    if (::fsync(out.get()) < 0) throw_sys("fsync", to);
}

}  // namespace

void Store::export_image(const std::string& ref, const std::string& path, ExportFormat format) {
    if (path.empty() || path[0] != '/') invalid("export path \"" + path + "\": must be absolute");
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) precondition("export path " + path + " already exists");
    Image image = get(ref);
    Pins pins{*this, {}};
    for (const auto& d : digests_of_image(image)) pins.add(d);
    for (const auto& d : digests_of_image(image))
        if (!content_.has(d)) precondition("image " + image.name + ": blob " + d + " is missing from the store");

    std::string manifest_text = content_.read(image.digest, kMaxDocumentSize, "manifest");
    auto manifest = nlohmann::json::parse(manifest_text, nullptr, false);
    std::string media_type = manifest.is_object() && manifest.contains("mediaType") && manifest["mediaType"].is_string()
                                 ? manifest["mediaType"].get<std::string>()
                                 : std::string(media_type::oci_manifest);
    std::string tag = image.name.substr(image.name.find_last_of(":@") + 1);
    if (image.name.find('@') != std::string::npos) tag.clear();
    nlohmann::json annotations = {{"io.containerd.image.name", image.name}};
    if (!tag.empty()) annotations["org.opencontainers.image.ref.name"] = tag;
    nlohmann::json index = {
        {"schemaVersion", 2},
        {"mediaType", media_type::oci_index},
        {"manifests",
         {{{"mediaType", media_type}, {"digest", image.digest}, {"size", manifest_text.size()}, {"annotations", annotations}}}}};
    std::string index_text = index.dump();

    std::string parent = path.substr(0, path.find_last_of('/'));
    std::string tmp = (parent.empty() ? std::string("/") : parent) + "/." + path.substr(path.find_last_of('/') + 1) + ".kiln-export";
    remove_all(tmp);
    try {
        if (format == ExportFormat::layout) {
            mkdir_all(tmp + "/blobs/sha256", 0755);
            write_file(tmp + "/oci-layout", std::string(kLayoutMarker), 0644);
            for (const auto& d : digests_of_image(image)) {
                std::string to = tmp + "/blobs/sha256/" + d.substr(7);
                if (!path_exists(to)) copy_file(content_.blob_path(d), to);
            }
            atomic_write(tmp + "/index.json", index_text, true, 0644);
            fsync_dir(tmp + "/blobs/sha256");
        } else {
            TarWriter tar(tmp);
            tar.add_bytes("oci-layout", kLayoutMarker);
            tar.add_bytes("index.json", index_text);
            tar.add_dir("blobs/");
            tar.add_dir("blobs/sha256/");
            std::set<std::string> done;
            for (const auto& d : digests_of_image(image))
                if (done.insert(d).second) tar.add_file("blobs/sha256/" + d.substr(7), content_.blob_path(d));
            tar.close();
            Fd f = open_file(tmp, O_RDONLY);
            if (::fsync(f.get()) < 0) throw_sys("fsync", tmp);
        }
        if (::rename(tmp.c_str(), path.c_str()) < 0) throw_sys("rename", tmp + " to " + path);
        fsync_dir(parent.empty() ? "/" : parent);
    } catch (...) {
        remove_all(tmp);
        throw;
    }
}

}  // namespace kiln::image
