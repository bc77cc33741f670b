// The image store end to end: import from layouts and archives, lookup, removal and sharing,
// records that survive a restart, refusal of bad input without leftovers, and an overlay rootfs.
#include "core/image/store.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <thread>

#include <gtest/gtest.h>

#include "core/sys/error.hpp"
#include "tests/unit/image/image_builder.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::image {
namespace {

using kiln::testing::exists;
using kiln::testing::slurp;
using kiln::testing::TempDir;
using namespace kiln::image::testing;

// Everything under `dir`, as sorted relative paths.
std::vector<std::string> tree(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         it != std::filesystem::recursive_directory_iterator(); ++it)
        out.push_back(std::filesystem::relative(it->path(), dir).string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> names(const std::vector<Image>& images) {
    std::vector<std::string> out;
    for (const auto& i : images) out.push_back(i.name);
    return out;
}

class StoreTest : public ::testing::Test {
protected:
    std::string state() const { return tmp_ / "state"; }

    // The error of a refused import, checked to be of `code`.
    std::string import_error(Store& store, const std::string& path, Errc code = Errc::invalid_argument) {
        try {
            store.import(path, "bad");
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), code) << e.what();
            return e.what();
        }
        ADD_FAILURE() << "import of " << path << " succeeded";
        return "";
    }

    // The store holds no blob, snapshot, temp file or record.
    void expect_empty_store() {
        EXPECT_EQ(tree(state() + "/content/blobs/sha256"), std::vector<std::string>{});
        EXPECT_EQ(tree(state() + "/content/ingest"), std::vector<std::string>{});
        EXPECT_EQ(tree(state() + "/snapshots"), std::vector<std::string>{});
        EXPECT_EQ(tree(state() + "/images"), std::vector<std::string>{".lock"});
    }

    TempDir tmp_;
};

struct Built {
    std::string dir;
    json manifest;
    std::vector<Layer> layers;
};

const json kConfig = {{"Entrypoint", {"/bin/app"}},
                      {"Cmd", {"--serve", "8080"}},
                      {"Env", {"PATH=/bin", "MODE=test"}},
                      {"WorkingDir", "/srv"},
                      {"User", "1000:1000"},
                      {"StopSignal", "SIGINT"},
                      {"ExposedPorts", {{"8080/tcp", json::object()}}},
                      {"Volumes", {{"/data", json::object()}}},
                      {"Labels", {{"org.example.role", "test"}}}};

// A two-layer app image: a gzip base and a plain top layer.
Built app_image(const std::string& path) {
    Layout layout(path);
    Layer base = layout.layer({dir("bin"), file("bin/app", "v1", 0755), dir("etc"), file("etc/os", "kiln")});
    Layer top = layout.layer({dir("srv"), file("srv/index.html", "hello")}, Compression::none);
    json manifest = layout.image({base, top}, kConfig);
    layout.index({manifest});
    return {path, manifest, {base, top}};
}

TEST_F(StoreTest, ImportsALayoutDirectory) {
    Built built = app_image(tmp_ / "src");
    Store store(state());
    Image image = store.import(built.dir, "example/app");

    EXPECT_EQ(image.name, "example/app:latest");
    EXPECT_EQ(image.digest, built.manifest["digest"]);
    EXPECT_EQ(image.os, "linux");
    EXPECT_EQ(image.architecture, "amd64");
    ASSERT_EQ(image.layers.size(), 2u);
    EXPECT_EQ(image.layers[0], built.layers[0].descriptor["digest"]);
    EXPECT_EQ(image.layers[1], built.layers[1].descriptor["digest"]);
    EXPECT_EQ(image.diff_ids[0], built.layers[0].diff_id);
    std::uint64_t size = built.manifest["size"].get<std::uint64_t>() +
                         built.layers[0].descriptor["size"].get<std::uint64_t>() +
                         built.layers[1].descriptor["size"].get<std::uint64_t>();
    EXPECT_GT(image.size, size);  // plus the config
    EXPECT_FALSE(image.created.empty());
    EXPECT_EQ(image.created.back(), 'Z');

    EXPECT_EQ(image.config.entrypoint, std::vector<std::string>{"/bin/app"});
    EXPECT_EQ(image.config.cmd, (std::vector<std::string>{"--serve", "8080"}));
    EXPECT_EQ(image.config.env, (std::vector<std::string>{"PATH=/bin", "MODE=test"}));
    EXPECT_EQ(image.config.working_dir, "/srv");
    EXPECT_EQ(image.config.user, "1000:1000");
    EXPECT_EQ(image.config.stop_signal, "SIGINT");
    EXPECT_EQ(image.config.exposed_ports, std::vector<std::string>{"8080/tcp"});
    EXPECT_EQ(image.config.volumes, std::vector<std::string>{"/data"});
    EXPECT_EQ(image.config.labels.at("org.example.role"), "test");

    auto lowers = store.lower_dirs(image);
    ASSERT_EQ(lowers.size(), 2u);
    EXPECT_EQ(slurp(lowers[0] + "/srv/index.html"), "hello");  // topmost first
    EXPECT_EQ(slurp(lowers[1] + "/bin/app"), "v1");
    EXPECT_TRUE(exists(state() + "/content/blobs/sha256/" + image.config_digest.substr(7)));
}

TEST_F(StoreTest, FindsImagesByNameTagDigestAndPrefix) {
    Built built = app_image(tmp_ / "src");
    Store store(state());
    Image image = store.import(built.dir, "example/app:v1");
    std::string hex = image.digest.substr(7);

    EXPECT_EQ(store.get("example/app:v1").digest, image.digest);
    EXPECT_EQ(store.get(image.digest).name, "example/app:v1");
    EXPECT_EQ(store.get(hex).name, "example/app:v1");
    EXPECT_EQ(store.get(hex.substr(0, 12)).name, "example/app:v1");
    EXPECT_EQ(store.get("sha256:" + hex.substr(0, 16)).name, "example/app:v1");

    auto code_of = [&](const std::string& ref) {
        try {
            store.get(ref);
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(ref), std::string::npos) << e.what();
            return e.code();
        }
        return Errc::internal;
    };
    EXPECT_EQ(code_of("example/app"), Errc::not_found);  // :latest was never imported
    EXPECT_EQ(code_of("example/other:v1"), Errc::not_found);
    EXPECT_EQ(code_of(hex.substr(0, 11)), Errc::not_found);  // too short for a prefix
    EXPECT_EQ(code_of("sha256:" + std::string(64, '0')), Errc::not_found);
    try {
        store.remove("nothing:here");
        ADD_FAILURE() << "removed an unknown image";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
    }

    Image again = store.import(built.dir, "example/app");
    EXPECT_EQ(store.get("example/app").name, "example/app:latest");
    EXPECT_EQ(names(store.list()), (std::vector<std::string>{"example/app:latest", "example/app:v1"}));
    // One digest under two names: get picks one, remove wants a name.
    EXPECT_EQ(store.get(image.digest).digest, image.digest);
    try {
        store.remove(image.digest);
        ADD_FAILURE() << "removed by a digest two names share";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::failed_precondition);
    }
}

TEST_F(StoreTest, ImportsOciArchivesPlainAndGzipped) {
    Built built = app_image(tmp_ / "src");
    pack(built.dir, tmp_ / "app.tar");
    pack(built.dir, tmp_ / "app.tar.gz", Compression::gzip);
    Store store(state());
    Image a = store.import(tmp_ / "app.tar", "archive/plain");
    Image b = store.import(tmp_ / "app.tar.gz", "archive/gzip:1.0");
    EXPECT_EQ(a.digest, built.manifest["digest"]);
    EXPECT_EQ(b.digest, a.digest);
    EXPECT_EQ(store.lower_dirs(a), store.lower_dirs(b));
    EXPECT_EQ(slurp(store.lower_dirs(b)[1] + "/etc/os"), "kiln");
    EXPECT_EQ(tree(state() + "/snapshots").size(), 2u + 6u);  // 2 snapshot dirs, 6 entries inside
}

TEST_F(StoreTest, ZstdLayersAndDockerMediaTypes) {
    Layout layout(tmp_ / "src");
    Layer zstd = layout.layer({file("z", "zstd")}, Compression::zstd);
    std::string tar = make_tar({file("d", "docker")});
    Layer docker{layout.blob(compress(tar, Compression::gzip), media_type::docker_layer_gzip), sha256_of(tar)};
    json manifest = layout.image({zstd, docker}, json::object(), media_type::docker_manifest, media_type::docker_config);
    layout.index({manifest});
    Store store(state());
    Image image = store.import(layout.dir(), "mixed");
    auto lowers = store.lower_dirs(image);
    EXPECT_EQ(slurp(lowers[0] + "/d"), "docker");
    EXPECT_EQ(slurp(lowers[1] + "/z"), "zstd");
}

TEST_F(StoreTest, ChoosesLinuxAmd64FromAMultiPlatformNestedIndex) {
    Layout layout(tmp_ / "src");
    json amd64 = layout.image({layout.layer({file("arch", "amd64")})});
    json arm64 = layout.image({layout.layer({file("arch", "arm64")})});
    amd64["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
    arm64["platform"] = {{"os", "linux"}, {"architecture", "arm64"}};
    json nested = layout.index_blob({arm64, amd64});
    layout.index({nested});
    Store store(state());
    Image image = store.import(layout.dir(), "multi");
    EXPECT_EQ(image.digest, amd64["digest"]);
    EXPECT_EQ(slurp(store.lower_dirs(image)[0] + "/arch"), "amd64");
    // Only what the chosen image needs was stored: the arm64 manifest and layer were not.
    EXPECT_FALSE(exists(state() + "/content/blobs/sha256/" + arm64["digest"].get<std::string>().substr(7)));
    EXPECT_EQ(tree(state() + "/snapshots").size(), 2u);
}

TEST_F(StoreTest, RemoveKeepsLayersOtherImagesShare) {
    Layout layout(tmp_ / "src");
    Layer base = layout.layer({file("base", "shared")});
    Layer a_top = layout.layer({file("a", "a")});
    Layer b_top = layout.layer({file("b", "b")});
    json a = layout.image({base, a_top}, {{"Cmd", {"a"}}});
    json b = layout.image({base, b_top}, {{"Cmd", {"b"}}});
    a["annotations"] = {{"org.opencontainers.image.ref.name", "a"}};
    b["annotations"] = {{"org.opencontainers.image.ref.name", "b"}};
    layout.index({a, b});

    Store store(state());
    Image ia = store.import(layout.dir(), "img:a");  // chosen by ref.name annotation
    Image ib = store.import(layout.dir(), "img:b");
    EXPECT_EQ(ia.config.cmd, std::vector<std::string>{"a"});
    EXPECT_EQ(ib.config.cmd, std::vector<std::string>{"b"});
    EXPECT_EQ(ia.layers[0], ib.layers[0]);

    store.remove("img:a");
    EXPECT_EQ(names(store.list()), std::vector<std::string>{"img:b"});
    auto lowers = store.lower_dirs(ib);
    EXPECT_EQ(slurp(lowers[1] + "/base"), "shared");
    EXPECT_EQ(slurp(lowers[0] + "/b"), "b");
    EXPECT_FALSE(exists(store.lower_dirs(ia)[0]));
    EXPECT_FALSE(exists(state() + "/content/blobs/sha256/" + ia.digest.substr(7)));
    EXPECT_FALSE(exists(state() + "/content/blobs/sha256/" + ia.layers[1].substr(7)));
    EXPECT_TRUE(exists(state() + "/content/blobs/sha256/" + ia.layers[0].substr(7)));

    store.remove(ib.digest.substr(7, 20));
    EXPECT_TRUE(store.list().empty());
    expect_empty_store();
}

TEST_F(StoreTest, ReimportingATagReplacesItsRecordAndDropsWhatOnlyItUsed) {
    Layout one(tmp_ / "one");
    one.index({one.image({one.layer({file("v", "1")})})});
    Layout two(tmp_ / "two");
    two.index({two.image({two.layer({file("v", "2")})})});
    Store store(state());
    Image first = store.import(one.dir(), "app");
    Image second = store.import(two.dir(), "app");
    EXPECT_NE(first.digest, second.digest);
    EXPECT_EQ(store.list().size(), 1u);
    EXPECT_EQ(store.get("app").digest, second.digest);
    EXPECT_FALSE(exists(store.lower_dirs(first)[0]));
    EXPECT_EQ(slurp(store.lower_dirs(second)[0] + "/v"), "2");
    EXPECT_EQ(tree(state() + "/content/blobs/sha256").size(), 3u);
}

TEST_F(StoreTest, RecordsSurviveARestartAndTheStoreIsLocked) {
    Built built = app_image(tmp_ / "src");
    Image image;
    {
        Store store(state());
        image = store.import(built.dir, "persist/me:1");
        try {
            Store second(state());
            ADD_FAILURE() << "two stores on one state dir";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::failed_precondition) << e.what();
        }
    }
    Store store(state());
    Image loaded = store.get("persist/me:1");
    EXPECT_EQ(to_json(loaded), to_json(image));
    EXPECT_EQ(store.lower_dirs(loaded), store.lower_dirs(image));
}

TEST_F(StoreTest, StartClearsWhatACrashLeft) {
    Built built = app_image(tmp_ / "src");
    Image image;
    {
        Store store(state());
        image = store.import(built.dir, "survivor");
    }
    // An import that died midway: a half-copied blob, a half-unpacked layer, a verified blob and
    // an unpacked layer that no record names yet, a detached snapshot and a record's temp file.
    std::string orphan = std::string(64, 'a');
    kiln::testing::put_file(state() + "/content/ingest/" + orphan + ".Xy12Ab", "partial");
    kiln::testing::put_file(state() + "/content/blobs/sha256/" + orphan, "orphan");
    kiln::testing::put_file(state() + "/snapshots/.unpack-" + orphan + "-Xy12Ab/etc/half", "half");
    kiln::testing::put_file(state() + "/snapshots/" + orphan + "/etc/whole", "whole");
    kiln::testing::put_file(state() + "/snapshots/.trash-" + orphan + "-Xy12Ab/etc/old", "old");
    kiln::testing::put_file(state() + "/images/" + orphan + ".json.tmp", "{");

    Store store(state());
    EXPECT_EQ(tree(state() + "/content/ingest"), std::vector<std::string>{});
    EXPECT_FALSE(exists(state() + "/content/blobs/sha256/" + orphan));
    EXPECT_FALSE(exists(state() + "/snapshots/" + orphan));
    EXPECT_EQ(tree(state() + "/snapshots").size(), 2u + 6u);
    EXPECT_EQ(tree(state() + "/images").size(), 2u);  // the lock and the survivor's record
    EXPECT_EQ(slurp(store.lower_dirs(store.get("survivor"))[1] + "/bin/app"), "v1");
}

TEST_F(StoreTest, AnUnreadableRecordIsSkippedAndStopsCollection) {
    Built built = app_image(tmp_ / "src");
    {
        Store store(state());
        store.import(built.dir, "good");
    }
    std::string orphan = std::string(64, 'b');
    kiln::testing::put_file(state() + "/images/" + std::string(64, 'c') + ".json", R"({"name": 42})");
    kiln::testing::put_file(state() + "/content/blobs/sha256/" + orphan, "maybe the bad record's");
    Store store(state());
    EXPECT_EQ(names(store.list()), std::vector<std::string>{"good:latest"});
    EXPECT_TRUE(exists(state() + "/content/blobs/sha256/" + orphan));
}

TEST_F(StoreTest, ConcurrentImportsShareLayers) {
    Layout layout(tmp_ / "src");
    Layer base = layout.layer({file("base", std::string(1 << 20, 'b'))});
    std::vector<json> manifests;
    for (int i = 0; i < 4; ++i) {
        json m = layout.image({base, layout.layer({file("n", std::to_string(i))})}, {{"Cmd", {std::to_string(i)}}});
        m["annotations"] = {{"org.opencontainers.image.ref.name", std::to_string(i)}};
        manifests.push_back(m);
    }
    layout.index(manifests);
    Store store(state());
    std::vector<std::thread> threads;
    std::vector<std::string> errors(4);
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&, i] {
            try {
                store.import(layout.dir(), "shared:" + std::to_string(i));
                if (i % 2) store.remove("shared:" + std::to_string(i));
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    for (auto& t : threads) t.join();
    for (const auto& e : errors) EXPECT_EQ(e, "");
    EXPECT_EQ(names(store.list()), (std::vector<std::string>{"shared:0", "shared:2"}));
    for (const auto& image : store.list()) {
        auto lowers = store.lower_dirs(image);
        EXPECT_EQ(slurp(lowers[0] + "/n"), image.config.cmd.at(0));
        EXPECT_EQ(slurp(lowers[1] + "/base").size(), 1u << 20);
    }
    EXPECT_EQ(tree(state() + "/snapshots").size(), 3u + 3u);
}

// Each import below must fail with an error naming the culprit and leave the store empty.
class RefusedImportTest : public StoreTest {
protected:
    void SetUp() override { layout_ = std::make_unique<Layout>(tmp_ / "src"); }

    std::string refused_layer(const std::vector<Entry>& entries, const std::string& entry) {
        Layer layer = layout_->layer(entries);
        layout_->index({layout_->image({layout_->layer({file("ok")}), layer})});
        Store store(state());
        std::string msg = import_error(store, layout_->dir());
        EXPECT_NE(msg.find("\"" + entry + "\""), std::string::npos) << msg;
        EXPECT_NE(msg.find(layer.descriptor["digest"].get<std::string>()), std::string::npos) << msg;
        expect_empty_store();
        return msg;
    }

    std::unique_ptr<Layout> layout_;
};

TEST_F(RefusedImportTest, LayerEntryWithDotDot) {
    refused_layer({file("../x", "escape")}, "../x");
    EXPECT_FALSE(exists(state() + "/snapshots/x"));
    EXPECT_FALSE(exists(state() + "/x"));
}

TEST_F(RefusedImportTest, LayerEntryWithAbsoluteName) {
    std::string name = "/" + std::filesystem::path(tmp_.path()).filename().string() + "-abs";
    refused_layer({file(name, "escape")}, name);
    EXPECT_FALSE(exists(name));
}

TEST_F(RefusedImportTest, LayerEntryThroughASymlink) {
    std::string outside = tmp_ / "outside";
    ::mkdir(outside.c_str(), 0755);
    refused_layer({symlink("a", outside), file("a/file", "escape")}, "a/file");
    EXPECT_FALSE(exists(outside + "/file"));
}

TEST_F(RefusedImportTest, HardLinkOutOfTheLayer) {
    refused_layer({hardlink("pw", "../../etc/passwd")}, "pw");
}

TEST_F(RefusedImportTest, BlobWhoseDigestDoesNotMatch) {
    Layer layer = layout_->layer({file("a", "original")});
    std::string digest = layer.descriptor["digest"];
    std::string blob = slurp(layout_->blob_path(digest));
    blob[blob.size() / 2] ^= 0x55;
    Layout::write(layout_->blob_path(digest), blob);
    layout_->index({layout_->image({layer})});
    Store store(state());
    std::string msg = import_error(store, layout_->dir());
    EXPECT_NE(msg.find(digest), std::string::npos) << msg;
    EXPECT_NE(msg.find("layer 0"), std::string::npos) << msg;
    expect_empty_store();

    pack(layout_->dir(), tmp_ / "bad.tar");
    msg = import_error(store, tmp_ / "bad.tar");
    EXPECT_NE(msg.find(digest), std::string::npos) << msg;
    expect_empty_store();
}

TEST_F(RefusedImportTest, ManifestThatLiesAboutASize) {
    Layer layer = layout_->layer({file("a", "data")});
    std::string digest = layer.descriptor["digest"];
    for (int delta : {+1, -1}) {
        Layer lying = layer;
        lying.descriptor["size"] = layer.descriptor["size"].get<std::int64_t>() + delta;
        layout_->index({layout_->image({lying})});
        Store store(state());
        std::string msg = import_error(store, layout_->dir());
        EXPECT_NE(msg.find(digest), std::string::npos) << msg;
        EXPECT_NE(msg.find("bytes"), std::string::npos) << msg;
        expect_empty_store();
    }
}

TEST_F(RefusedImportTest, TruncatedGzipLayer) {
    std::string tar = make_tar({file("big", std::string(300000, 'z')), file("tail", "t")});
    std::string gz = compress(tar, Compression::gzip);
    gz.resize(gz.size() * 2 / 3);
    Layer layer{layout_->blob(gz, media_type::oci_layer_gzip), sha256_of(tar)};
    layout_->index({layout_->image({layer})});
    Store store(state());
    std::string msg = import_error(store, layout_->dir());
    EXPECT_NE(msg.find(layer.descriptor["digest"].get<std::string>()), std::string::npos) << msg;
    expect_empty_store();
}

TEST_F(RefusedImportTest, DiffIdThatDoesNotMatch) {
    Layer layer = layout_->layer({file("a")});
    layer.diff_id = sha256_of("something else");
    layout_->index({layout_->image({layer})});
    Store store(state());
    std::string msg = import_error(store, layout_->dir());
    EXPECT_NE(msg.find("diff id"), std::string::npos) << msg;
    expect_empty_store();
}

TEST_F(RefusedImportTest, BadDocumentsNameTheField) {
    Store store(state());
    EXPECT_NE(import_error(store, tmp_ / "nowhere", Errc::not_found).find("nowhere"), std::string::npos);
    EXPECT_NE(import_error(store, layout_->dir()).find("index.json"), std::string::npos);

    json config = layout_->blob(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})",
                                media_type::oci_config);
    json broken = layout_->blob(json{{"schemaVersion", 2}, {"config", config}, {"layers", {{{"digest", "sha256:12"}}}}}.dump(),
                                media_type::oci_manifest);
    layout_->index({broken});
    std::string msg = import_error(store, layout_->dir());
    EXPECT_NE(msg.find("layers[0].mediaType: is required"), std::string::npos) << msg;
    EXPECT_NE(msg.find(broken["digest"].get<std::string>()), std::string::npos) << msg;

    json missing = {{"mediaType", media_type::oci_manifest}, {"digest", sha256_of("absent")}, {"size", 6}};
    layout_->index({missing});
    msg = import_error(store, layout_->dir());
    EXPECT_NE(msg.find(sha256_of("absent")), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing"), std::string::npos) << msg;

    Layout::write(layout_->dir() + "/index.json", R"({"schemaVersion":2,"manifests":[{"mediaType":"x","size":-1}]})");
    msg = import_error(store, layout_->dir());
    EXPECT_NE(msg.find("manifests[0]"), std::string::npos) << msg;
    expect_empty_store();

    try {
        store.import(tmp_ / "src", "Bad Name");
        ADD_FAILURE() << "bad name accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("Bad Name"), std::string::npos) << e.what();
    }
}

// Unmounts when the test ends, pass or fail.
struct Unmount {
    std::string target;
    ~Unmount() { ::umount2(target.c_str(), MNT_DETACH); }
};

TEST_F(StoreTest, OverlayRootfsAppliesWhiteoutsAndOpaqueDirs) {
    Layout layout(tmp_ / "src");
    Layer lower = layout.layer({dir("etc"), file("etc/gone", "deleted above"), file("etc/kept", "kept"),
                                dir("opaque"), file("opaque/old", "hidden")});
    Layer upper = layout.layer({dir("etc"), file("etc/.wh.gone"), dir("opaque"), file("opaque/.wh..wh..opq"),
                                file("opaque/new", "visible")});
    layout.index({layout.image({lower, upper})});
    Store store(state());
    Image image = store.import(layout.dir(), "overlay");

    std::string top = store.lower_dirs(image)[0];
    struct stat st{};
    ASSERT_EQ(::lstat((top + "/etc/gone").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, 0u);
    char opaque = 0;
    EXPECT_EQ(::getxattr((top + "/opaque").c_str(), "trusted.overlay.opaque", &opaque, 1), 1);
    EXPECT_EQ(opaque, 'y');

    std::string root = tmp_ / "rootfs";
    mount_rootfs(store.lower_dirs(image), tmp_ / "upper", tmp_ / "work", root);
    Unmount guard{root};
    EXPECT_FALSE(exists(root + "/etc/gone"));
    EXPECT_EQ(slurp(root + "/etc/kept"), "kept");
    EXPECT_FALSE(exists(root + "/opaque/old"));
    EXPECT_EQ(slurp(root + "/opaque/new"), "visible");
    kiln::testing::put_file(root + "/etc/written", "private");
    EXPECT_EQ(slurp(tmp_ / "upper/etc/written"), "private");
    EXPECT_FALSE(exists(top + "/etc/written"));
    unmount_rootfs(root);
    EXPECT_FALSE(exists(root + "/etc"));
}

}  // namespace
}  // namespace kiln::image
