// Pulls from a real registry (Debian's docker-registry on 127.0.0.1, images pushed by skopeo):
// by tag and by digest, with basic and bearer-token auth, an index with two platforms, a tampered
// blob, and an interrupted pull that resumes.
#include <sys/stat.h>

#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;


const std::string kFixtures = std::string(KILN_SOURCE_DIR) + "/tests/fixtures";

// A registry of the test's own; stopped (and its storage removed) at the end.
class Registry {
public:
    explicit Registry(const std::string& mode = "none", const std::string& user = "", const std::string& pw = "")
        : tmp_("kiln-registry"), user_(user), pw_(pw) {
        auto r = sh(kFixtures + "/registry.sh start " + tmp_.path() + "/reg " + mode + " " + user + " " + pw, 60);
        if (r.code != 0) throw std::runtime_error("registry.sh start: " + r.err);
        port_ = r.out.substr(0, r.out.find('\n'));
    }
    ~Registry() { sh(kFixtures + "/registry.sh stop " + tmp_.path() + "/reg"); }

    std::string host() const { return "127.0.0.1:" + port_; }
    const std::string& dir() const { return tmp_.path(); }
    // skopeo copy from an OCI layout tag to NAME:TAG here; extra flags such as --all.
    void push(const std::string& layout, const std::string& tag, const std::string& name, const std::string& flags = "") {
        std::string creds = user_.empty() ? "--dest-no-creds" : "--dest-creds " + user_ + ":" + pw_;
        auto r = sh("skopeo copy -q --dest-tls-verify=false " + creds + " " + flags + " oci:" + layout + ":" + tag +
                        " docker://" + host() + "/" + name,
                    120);
        if (r.code != 0) throw std::runtime_error("skopeo copy: " + r.err);
    }
    std::string blob_path(const std::string& digest) const {
        return trim(sh(kFixtures + "/registry.sh blob-path " + tmp_.path() + "/reg " + digest).out);
    }

private:
    static std::string trim(std::string s) {
        while (!s.empty() && s.back() == '\n') s.pop_back();
        return s;
    }
    TempDir tmp_;
    std::string user_, pw_, port_;
};

// The layout's manifest for tag "latest": {digest, layers[]}.
json layout_manifest(const std::string& layout) {
    auto index = json::parse(sh("cat " + layout + "/index.json").out);
    std::string digest;
    for (const auto& m : index["manifests"])
        if (m["annotations"].value("org.opencontainers.image.ref.name", "") == "latest") digest = m["digest"];
    auto manifest = json::parse(sh("cat " + layout + "/blobs/sha256/" + digest.substr(7)).out);
    manifest["digest"] = digest;
    return manifest;
}

// POST /v1/images/pull: the JSON lines of the stream.
std::vector<json> pull_lines(Kilnd& k, const json& body) {
    std::string text;
    k.client().stream("POST", "/v1/images/pull", body, [&](std::string_view d) {
        text.append(d);
        return true;
    });
    std::vector<json> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

TEST(Pull, ByTagAndByDigestThenRun) {
    KILN_REQUIRE_ROOT();
    Registry reg;
    reg.push(busybox_layout(), "latest", "kiln/busybox:1.0");
    Kilnd k;
    auto lines = pull_lines(k, {{"reference", reg.host() + "/kiln/busybox:1.0"}});
    ASSERT_FALSE(lines.empty());
    ASSERT_TRUE(lines.back().contains("image")) << lines.back().dump();
    const json& img = lines.back()["image"];
    EXPECT_EQ(img["name"], reg.host() + "/kiln/busybox:1.0");
    // skopeo keeps an OCI manifest as it is: the digest is the layout's.
    auto manifest = layout_manifest(busybox_layout());
    EXPECT_EQ(img["digest"], manifest["digest"]);
    bool downloading = false, unpacked = false;
    for (const auto& l : lines) {
        downloading |= l.value("status", "") == "downloading";
        unpacked |= l.value("status", "") == "unpacked" && l.value("digest", "") == manifest["layers"][0]["digest"];
    }
    EXPECT_TRUE(downloading);
    EXPECT_TRUE(unpacked) << "the layer is unpacked before the pull answers";

    auto run = k.cli({"run", "--rm", "--network", "none", reg.host() + "/kiln/busybox:1.0", "sh", "-c", "echo pulled"});
    EXPECT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(run.out, "pulled\n");

    // By digest: recorded under the digest, the blobs already there.
    std::string by_digest = reg.host() + "/kiln/busybox@" + manifest["digest"].get<std::string>();
    auto r = k.cli({"pull", "-q", by_digest});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, by_digest + " " + manifest["digest"].get<std::string>() + "\n");
    // A digest the registry does not have.
    r = k.cli({"pull", reg.host() + "/kiln/busybox@sha256:" + std::string(64, 'a')});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("404"), std::string::npos) << r.err;
}

TEST(Pull, BadRequestsAreRefusedBeforeTheStream) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    auto r = k.client().request("POST", "/v1/images/pull", json{{"reference", "Not A Ref"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("Not A Ref"), std::string::npos) << r.body;
    r = k.client().request("POST", "/v1/images/pull", json{{"reference", "x"}, {"colour", "red"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("colour"), std::string::npos) << r.body;
    r = k.client().request("POST", "/v1/images/pull", json{{"reference", "x"}, {"platform", "linux"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("os/architecture"), std::string::npos) << r.body;
    // Nothing listens there: the error comes in the stream, naming the registry.
    auto lines = pull_lines(k, {{"reference", "127.0.0.1:1/x:y"}});
    ASSERT_FALSE(lines.empty());
    ASSERT_TRUE(lines.back().contains("error"));
    EXPECT_NE(lines.back()["error"]["message"].get<std::string>().find("127.0.0.1:1"), std::string::npos);
}

TEST(Pull, BasicAuthWithLoginAndLogout) {
    KILN_REQUIRE_ROOT();
    Registry reg("basic", "alice", "s3cret");
    reg.push(busybox_layout(), "latest", "private/busybox:latest");
    Kilnd k;
    std::string ref = reg.host() + "/private/busybox";
    auto r = k.cli({"pull", ref});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("kiln login " + reg.host()), std::string::npos) << r.err;

    r = k.cli({"login", reg.host(), "-u", "alice", "-p", "wrong"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("refused the credentials of alice"), std::string::npos) << r.err;
    EXPECT_NE(::access((k.dir() + "/state/auth.json").c_str(), F_OK), 0) << "nothing stored for a failed login";

    r = k.cli({"login", reg.host(), "-u", "alice", "--password-stdin"}, "s3cret\n");
    EXPECT_EQ(r.code, 0) << r.err;
    struct stat st{};
    ASSERT_EQ(::stat((k.dir() + "/state/auth.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    r = k.cli({"pull", "-q", ref});
    EXPECT_EQ(r.code, 0) << r.err;

    r = k.cli({"logout", reg.host()});
    EXPECT_EQ(r.code, 0) << r.err;
    k.client().call("DELETE", "/v1/images/" + url_escape(ref + ":latest"));
    r = k.cli({"pull", ref});
    EXPECT_NE(r.code, 0) << "credentials are gone";
    r = k.cli({"logout", reg.host()});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("no credentials"), std::string::npos) << r.err;
}

TEST(Pull, BearerTokenFromTheRealm) {
    KILN_REQUIRE_ROOT();
    Registry reg("token", "bob", "pw123");
    reg.push(busybox_layout(), "latest", "team/busybox:latest");
    Kilnd k("registries:\n  \"" + reg.host() + "\": {username: bob, password: pw123}\n");
    auto r = k.cli({"pull", "-q", reg.host() + "/team/busybox:latest"});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.substr(0, r.out.find(' ')), reg.host() + "/team/busybox:latest");
}

TEST(Pull, HttpsChecksTheCertificateAgainstTheCaFile) {
    KILN_REQUIRE_ROOT();
    Registry reg("tls");
    reg.push(busybox_layout(), "latest", "secure/busybox:1");
    std::string ref = reg.host() + "/secure/busybox:1";
    {
        // https asked for, but the registry's CA is not trusted.
        Kilnd k("registries:\n  \"" + reg.host() + "\": {insecure: false}\n");
        auto r = k.cli({"pull", ref});
        EXPECT_NE(r.code, 0);
        EXPECT_NE(r.err.find("TLS handshake with " + reg.host()), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("certificate verify failed"), std::string::npos) << r.err;
    }
    Kilnd k("registries:\n  \"" + reg.host() + "\": {insecure: false, caFile: " + reg.dir() + "/reg/tls/ca.pem}\n");
    auto r = k.cli({"pull", "-q", ref});
    ASSERT_EQ(r.code, 0) << r.err;
    auto run = k.cli({"run", "--rm", "--network", "none", ref, "sh", "-c", "echo over tls"});
    EXPECT_EQ(run.out, "over tls\n") << run.err;
}

TEST(Pull, DockerSchema2ManifestsAndManifestLists) {
    KILN_REQUIRE_ROOT();
    Registry reg;
    reg.push(busybox_layout(), "latest", "kiln/v2s2:1", "--format v2s2");
    std::string multi = reg.dir() + "/multi";
    auto built = sh(std::string(KILN_SOURCE_DIR) + "/tests/fixtures/registry.sh build-index " + busybox_layout() + " " + multi, 120);
    ASSERT_EQ(built.code, 0) << built.err;
    reg.push(multi, "multi", "kiln/v2s2list:1", "--all --format v2s2");
    Kilnd k;
    auto r = k.cli({"pull", "-q", reg.host() + "/kiln/v2s2:1"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto remote = json::parse(sh("skopeo inspect --raw --tls-verify=false docker://" + reg.host() + "/kiln/v2s2:1").out);
    EXPECT_EQ(remote["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    auto run = k.cli({"run", "--rm", "--network", "none", reg.host() + "/kiln/v2s2:1", "sh", "-c", "echo schema2"});
    EXPECT_EQ(run.out, "schema2\n") << run.err;

    r = k.cli({"pull", "-q", "--platform", "linux/arm64/v8", reg.host() + "/kiln/v2s2list:1"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto img = k.client().call("GET", "/v1/images/" + url_escape(reg.host() + "/kiln/v2s2list:1"));
    EXPECT_EQ(img["architecture"], "arm64");
    EXPECT_EQ(img["layers"].size(), 2u);
}

TEST(Pull, AnIndexGivesThePlatformAsked) {
    KILN_REQUIRE_ROOT();
    Registry reg;
    std::string multi = reg.dir() + "/multi";
    auto built = sh(kFixtures + "/registry.sh build-index " + busybox_layout() + " " + multi, 120);
    ASSERT_EQ(built.code, 0) << built.err;
    reg.push(multi, "multi", "kiln/multi:1", "--all");
    Kilnd k;
    auto r = k.cli({"pull", "-q", reg.host() + "/kiln/multi:1"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto img = k.client().call("GET", "/v1/images/" + url_escape(reg.host() + "/kiln/multi:1"));
    EXPECT_EQ(img["architecture"], "amd64");
    EXPECT_EQ(img["layers"].size(), 1u);

    r = k.cli({"pull", "-q", "--platform", "linux/arm64", reg.host() + "/kiln/multi:1"});
    ASSERT_EQ(r.code, 0) << r.err;
    img = k.client().call("GET", "/v1/images/" + url_escape(reg.host() + "/kiln/multi:1"));
    EXPECT_EQ(img["architecture"], "arm64");
    EXPECT_EQ(img["layers"].size(), 2u);

    r = k.cli({"pull", "--platform", "linux/s390x", reg.host() + "/kiln/multi:1"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("none for linux/s390x"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("linux/arm64/v8"), std::string::npos) << r.err;
}

TEST(Pull, ATamperedBlobIsRejectedAndNothingIsKept) {
    KILN_REQUIRE_ROOT();
    Registry reg;
    reg.push(busybox_layout(), "latest", "kiln/tampered:1");
    auto manifest = layout_manifest(busybox_layout());
    std::string layer = manifest["layers"][0]["digest"];
    std::string path = reg.blob_path(layer);
    // Same size, other bytes: only the digest can tell.
    auto t = sh("printf 'X' | dd of=" + path + " bs=1 seek=1000 conv=notrunc status=none");
    ASSERT_EQ(t.code, 0) << t.err;
    Kilnd k;
    auto r = k.cli({"pull", reg.host() + "/kiln/tampered:1"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find(layer + ": blob content has digest"), std::string::npos) << r.err;
    EXPECT_EQ(k.client().call("GET", "/v1/images").size(), 0u);
    std::string state = k.dir() + "/state";
    EXPECT_EQ(sh("ls " + state + "/content/blobs/sha256 " + state + "/content/ingest " + state + "/snapshots").out.find(layer.substr(7)),
              std::string::npos);
    EXPECT_EQ(sh("find " + state + "/content/blobs/sha256 -type f | wc -l").out, "0\n") << "config and manifest go too";
}

TEST(Pull, AnInterruptedPullResumesWhereItStopped) {
    KILN_REQUIRE_ROOT();
    Registry reg;
    reg.push(busybox_layout(), "latest", "kiln/resume:1");
    auto manifest = layout_manifest(busybox_layout());
    std::string layer = manifest["layers"][0]["digest"];
    std::uint64_t size = manifest["layers"][0]["size"];
    ASSERT_GT(size, 400000u);
    // A proxy that cuts the first blob download after 300000 bytes.
    std::string portfile = reg.dir() + "/proxy.port", proxylog = reg.dir() + "/proxy.log";
    auto started = sh(kFixtures + "/cutting-proxy.py " + portfile + " " + reg.host().substr(10) + " 300000 " + proxylog +
                      " >/dev/null 2>&1 & echo $!");
    std::string pid = started.out.substr(0, started.out.find('\n'));
    struct Kill {
        std::string pid;
        ~Kill() { sh("kill " + pid + " 2>/dev/null || true"); }
    } kill_proxy{pid};
    sh("for i in $(seq 100); do [ -s " + portfile + " ] && break; sleep 0.05; done");
    std::string proxy = "127.0.0.1:" + sh("cat " + portfile).out;

    Kilnd k;
    std::string ref = proxy + "/kiln/resume:1";
    auto r = k.cli({"pull", ref});
    EXPECT_NE(r.code, 0) << "the cut connection fails the first pull";
    std::string partial = k.dir() + "/state/content/ingest/" + layer.substr(7) + ".partial";
    struct stat st{};
    ASSERT_EQ(::stat(partial.c_str(), &st), 0) << r.err;
    EXPECT_GT(st.st_size, 0);
    EXPECT_LT(static_cast<std::uint64_t>(st.st_size), size);

    r = k.cli({"pull", "-q", ref});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(::stat(partial.c_str(), &st), 0) << "the partial blob became the blob";
    std::string log = sh("cat " + proxylog).out;
    EXPECT_NE(log.find("/blobs/" + layer + " HTTP/1.1 range=bytes="), std::string::npos) << log;
    auto run = k.cli({"run", "--rm", "--network", "none", ref, "sh", "-c", "echo resumed"});
    EXPECT_EQ(run.out, "resumed\n") << run.err;
}

}  // namespace
}  // namespace kiln::testing
