// plugin.yaml: every field, and errors that name the file, the line and the key.
#include "core/daemon/plugin_manifest.hpp"

#include <gtest/gtest.h>

#include "core/sys/error.hpp"

namespace kiln::daemon {
namespace {

std::string error_of(const std::string& text) {
    try {
        parse_plugin_manifest(text, "/p/x/plugin.yaml", "/p/x");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        return e.what();
    }
    ADD_FAILURE() << "accepted:\n" << text;
    return "";
}

TEST(PluginManifest, ReadsEveryField) {
    auto m = parse_plugin_manifest(R"(id: cni
kind: network
version: 1.0.0
abi: 1
library: libkiln_cni.so
requires: [metrics, "kind:isolator"]
config: {confDir: /etc/kiln/cni, timeout: 10}
container:
  image: kiln/cni:1
  hostNamespaces: [net]
  capabilities: [CAP_NET_ADMIN, CAP_SYS_ADMIN]
  mounts:
    - {source: /run/kiln/netns, destination: /run/kiln/netns}
    - {source: /var/lib/cni, destination: /var/lib/cni, readonly: false}
  apiAccess: true
  command: [/cni-host]
)",
                                   "/p/cni/plugin.yaml", "/p/cni");
    EXPECT_EQ(m.id, "cni");
    EXPECT_EQ(m.kind, "network");
    EXPECT_EQ(m.version, "1.0.0");
    EXPECT_EQ(m.abi, 1u);
    EXPECT_EQ(m.library, "/p/cni/libkiln_cni.so") << "relative to the manifest's directory";
    EXPECT_EQ(m.requires_, (std::vector<std::string>{"metrics", "kind:isolator"}));
    EXPECT_EQ(m.config["confDir"], "/etc/kiln/cni");
    ASSERT_TRUE(m.has_container);
    EXPECT_EQ(m.container.image, "kiln/cni:1");
    EXPECT_EQ(m.container.host_namespaces, std::vector<std::string>{"net"});
    EXPECT_EQ(m.container.capabilities.size(), 2u);
    ASSERT_EQ(m.container.mounts.size(), 2u);
    EXPECT_TRUE(m.container.mounts[0].readonly) << "mounts are read-only unless they say otherwise";
    EXPECT_FALSE(m.container.mounts[1].readonly);
    EXPECT_TRUE(m.container.api_access);
    EXPECT_EQ(m.container.command, std::vector<std::string>{"/cni-host"});
}

TEST(PluginManifest, ErrorsNameFileLineAndKey) {
    const std::string base = "id: x\nkind: isolator\nversion: 1\nabi: 1\nlibrary: x.so\n";
    EXPECT_EQ(error_of(base + "colour: red\n").substr(0, 40), "/p/x/plugin.yaml:6: colour: unknown fiel");
    EXPECT_EQ(error_of("id: X_Y\nkind: isolator\nversion: 1\nabi: 1\nlibrary: x.so\n"),
              "/p/x/plugin.yaml:1: id: \"X_Y\" is not a DNS label (a-z, 0-9 and '-', at most 63)");
    EXPECT_EQ(error_of("id: x\nkind: storage\nversion: 1\nabi: 1\nlibrary: x.so\n"),
              "/p/x/plugin.yaml:2: kind: \"storage\" is not one of network, isolator, instrumentation");
    EXPECT_NE(error_of("id: x\nkind: isolator\nversion: 1\nabi: 0\nlibrary: x.so\n").find(":4: abi:"), std::string::npos);
    EXPECT_NE(error_of("id: x\nkind: isolator\nversion: 1\nabi: 1\nlibrary: ../x.so\n").find(":5: library:"), std::string::npos);
    EXPECT_NE(error_of("id: x\nkind: isolator\nversion: 1\nabi: 1\n").find("library: is required"), std::string::npos);
    EXPECT_NE(error_of(base + "requires: [\"kind:storage\"]\n").find(":6: requires[0]:"), std::string::npos);
    EXPECT_NE(error_of(base + "container: {image: x, hostNamespaces: [mnt]}\n").find("container.hostNamespaces[0]"),
              std::string::npos);
    EXPECT_NE(error_of(base + "container: {image: x, capabilities: [NET_ADMIN]}\n").find("CAP_"), std::string::npos);
    EXPECT_NE(error_of(base + "container: {image: x, mounts: [{source: rel, destination: /d}]}\n").find("source"),
              std::string::npos);
    EXPECT_NE(error_of(base + "container: {hostNamespaces: [net]}\n").find("container.image: is required"), std::string::npos);
    EXPECT_NE(error_of("id: [\n").find("invalid YAML"), std::string::npos);
}

}  // namespace
}  // namespace kiln::daemon
