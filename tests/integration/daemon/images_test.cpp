// Images beyond import and pull: a podman-saved docker-archive, export read back by skopeo and
// podman, build from a directory, prune, and a forced delete of an image a pod still runs.
#include <sys/stat.h>

#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

std::string image_dir() { return busybox_layout().substr(0, busybox_layout().rfind('/')); }

// podman with all its state under `dir`.
std::string podman(const std::string& dir) {
    return "podman --root " + dir + "/root --runroot " + dir + "/run --storage-driver vfs --events-backend none "
           "--cgroup-manager cgroupfs ";
}


TEST(Images, APodmanSavedDockerArchiveIsImportedAndRuns) {
    KILN_REQUIRE_ROOT();
    TempDir tmp("kiln-podman");
    std::string p = podman(tmp.path());
    auto r = sh(p + "load -q -i " + image_dir() + "/busybox.oci.tar && " + p + "save -q --format docker-archive -o " +
                    tmp.path() + "/saved.tar localhost/kiln-busybox:latest",
                120);
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_NE(sh("tar tf " + tmp.path() + "/saved.tar").out.find("manifest.json"), std::string::npos);
    Kilnd k;
    r = k.cli({"image", "import", "--tag", "fromdocker:1", tmp.path() + "/saved.tar"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto run = k.cli({"run", "--rm", "--network", "none", "fromdocker:1", "sh", "-c", "echo docker-archive"});
    EXPECT_EQ(run.out, "docker-archive\n") << run.err;
    // The layers are those of the OCI original: the same diff ids.
    k.client().call("POST", "/v1/images/import", json{{"path", busybox_layout()}, {"tag", "oci:1"}});
    auto a = k.client().call("GET", "/v1/images/fromdocker:1"), b = k.client().call("GET", "/v1/images/oci:1");
    EXPECT_EQ(a["diffIds"], b["diffIds"]);
    EXPECT_EQ(a["config"], b["config"]);
    sh("rm -rf " + tmp.path() + "/root 2>/dev/null || true");
}

TEST(Images, ExportIsReadBySkopeoAndPodman) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox("exported:2.0");
    auto img = k.client().call("GET", "/v1/images/exported:2.0");
    TempDir out("kiln-export");
    auto r = k.cli({"image", "export", "exported:2.0", out.path() + "/layout"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto inspect = sh("skopeo inspect oci:" + out.path() + "/layout:2.0");
    ASSERT_EQ(inspect.code, 0) << inspect.err;
    EXPECT_EQ(json::parse(inspect.out)["Digest"], img["digest"]);

    r = k.cli({"image", "export", "exported:2.0", out.path() + "/image.tar"});
    ASSERT_EQ(r.code, 0) << r.err;
    TempDir storage("kiln-podman");
    std::string p = podman(storage.path());
    r = sh(p + "load -q -i " + out.path() + "/image.tar && " + p + "images --format '{{.Repository}}:{{.Tag}}'", 120);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("exported:2.0"), std::string::npos) << r.out;

    // An existing path is never overwritten, and a failed export leaves nothing.
    r = k.cli({"image", "export", "exported:2.0", out.path() + "/image.tar"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
    auto res = k.client().request("POST", "/v1/images/export", json{{"reference", "nope"}, {"path", out.path() + "/x"}});
    EXPECT_EQ(res.status, 404);
    res = k.client().request("POST", "/v1/images/export",
                             json{{"reference", "exported:2.0"}, {"path", out.path() + "/y"}, {"format", "zip"}});
    EXPECT_EQ(res.status, 400);
    EXPECT_NE(res.body.find("format"), std::string::npos);
    EXPECT_EQ(sh("ls -A " + out.path()).out, "image.tar\nlayout\n") << "no temp files left";
}

TEST(Images, BuildFromADirectory) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    TempDir src("kiln-build");
    std::string root = src.path() + "/rootfs";
    ASSERT_EQ(sh("mkdir -p " + root + "/bin " + root + "/etc && cp /bin/busybox " + root + "/bin/ && ln -s busybox " + root +
                 "/bin/sh && echo 'app:x:1000:1001::/:/bin/sh' > " + root + "/etc/passwd && echo 'grp:x:1001:' > " + root +
                 "/etc/group && echo data > " + root + "/data && ln " + root + "/data " + root + "/data2")
                  .code,
              0);
    std::ofstream(src.path() + "/config.yaml") << "Cmd: [sh, -c, 'id -u; id -g; cat /data2']\nUser: app:grp\n"
                                                  "ExposedPorts: {\"8080/tcp\": {}}\nVolumes: {/var/data: {}}\n"
                                                  "Labels: {org.example.role: demo}\n";
    auto r = k.cli({"image", "build", "--from-dir", root, "--tag", "built:1", "--config", src.path() + "/config.yaml"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto run = k.cli({"run", "--rm", "--network", "none", "built:1"});
    EXPECT_EQ(run.out, "1000\n1001\ndata\n") << run.err;
    auto img = json::parse(k.cli({"image", "inspect", "built:1"}).out)[0];
    EXPECT_EQ(img["config"]["exposedPorts"], json::array({"8080/tcp"}));
    EXPECT_EQ(img["config"]["volumes"], json::array({"/var/data"}));
    EXPECT_EQ(img["config"]["labels"]["org.example.role"], "demo");
    // The same tree gives the same layer.
    r = k.cli({"image", "build", "--from-dir", root, "--tag", "built:2"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(k.client().call("GET", "/v1/images/built:2")["diffIds"], img["diffIds"]);

    auto res = k.client().request("POST", "/v1/images/build", json{{"fromDir", "relative"}, {"tag", "x"}});
    EXPECT_EQ(res.status, 400);
    res = k.client().request("POST", "/v1/images/build", json{{"fromDir", root + "/nope"}, {"tag", "x"}});
    EXPECT_EQ(res.status, 404);
    res = k.client().request("POST", "/v1/images/build", json{{"fromDir", root}, {"tag", "x"}, {"config", {{"Cmd", 5}}}});
    EXPECT_EQ(res.status, 400);
    EXPECT_NE(res.body.find("config.Cmd"), std::string::npos) << res.body;
    EXPECT_EQ(sh("ls -d " + k.dir() + "/state/build-* 2>/dev/null || true").out, "") << "no build dir left";
}

TEST(Images, AForcedDeleteKeepsTheLayersOfARunningPodUntilAPruneAfterIt) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox("inuse:1");
    auto img = k.client().call("GET", "/v1/images/inuse:1");
    std::string layer = img["layers"][0];
    json pod = simple_pod("user", {"sleep", "1000"});
    pod["containers"][0]["image"] = "inuse:1";
    k.client().call("POST", "/v1/pods", pod);
    auto r = k.cli({"rmi", "inuse:1"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("used by pod(s) user"), std::string::npos) << r.err;
    r = k.cli({"rmi", "-f", "inuse:1"});
    EXPECT_EQ(r.code, 0) << r.err;
    std::string snapshot = k.dir() + "/state/snapshots/" + layer.substr(7);
    auto pruned = k.client().call("POST", "/v1/images/prune");
    struct stat st{};
    EXPECT_EQ(::stat(snapshot.c_str(), &st), 0) << "the running pod's layer stays";
    auto ex = k.client().call("POST", "/v1/pods/user/containers/main/exec", json{{"command", {"sh", "-c", "echo still"}}});
    EXPECT_EQ(ex["stdout"], "still\n");
    k.client().call("DELETE", "/v1/pods/user?force=true");
    pruned = k.client().call("POST", "/v1/images/prune");
    EXPECT_GE(pruned["snapshots"].get<int>(), 1) << pruned.dump();
    EXPECT_GE(pruned["blobs"].get<int>(), 3) << pruned.dump();
    EXPECT_NE(::stat(snapshot.c_str(), &st), 0);
    EXPECT_EQ(sh("find " + k.dir() + "/state/content/blobs -type f | wc -l").out, "0\n");
    r = k.cli({"image", "prune"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "removed 0 blobs, 0 snapshots, 0 partial downloads: 0.0 MiB\n");
}

}  // namespace
}  // namespace kiln::testing
