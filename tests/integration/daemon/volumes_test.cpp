// Volumes: a named volume shared by the containers of a pod (and deleted with it), a host path
// read-only or not; the container's user and working directory from the pod.
#include <sys/stat.h>

#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(Volumes, NamedSharedAndHostPaths) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string host = k.dir() + "/host";
    ::mkdir(host.c_str(), 0755);
    std::ofstream(host + "/in.txt") << "from host\n";
    std::string host_rw = k.dir() + "/host-rw";
    ::mkdir(host_rw.c_str(), 0755);
    json pod = {{"name", "vols"},
                {"networks", {"none"}},
                {"volumes",
                 {{{"name", "shared"}},
                  {{"name", "ro"}, {"hostPath", host}, {"readOnly", true}},
                  {{"name", "rw"}, {"hostPath", host_rw}}}},
                {"containers",
                 {{{"name", "writer"},
                   {"image", "busybox"},
                   {"command", {"sh", "-c", "echo shared-data > /data/x; cat /in/in.txt; "
                                             "touch /in/nope 2>/dev/null || echo ro-refused; echo out > /out/y; exec sleep 1000"}},
                   {"volumeMounts",
                    {{{"name", "shared"}, {"path", "/data"}},
                     {{"name", "ro"}, {"path", "/in"}},
                     {{"name", "rw"}, {"path", "/out"}}}}},
                  {{"name", "reader"},
                   {"image", "busybox"},
                   {"user", "65534:65534"},
                   {"workingDir", "/data"},
                   {"command", {"sh", "-c", "while [ ! -e x ]; do sleep 0.05; done; cat x; id -u; pwd; exec sleep 1000"}},
                   {"volumeMounts", {{{"name", "shared"}, {"path", "/data"}, {"readOnly", true}}}}}}}};
    k.client().call("POST", "/v1/pods", pod);
    k.wait_pod("vols", [&](const json&) { return k.logs("vols", "reader").find("/data") != std::string::npos; });
    EXPECT_EQ(k.logs("vols", "writer"), "from host\nro-refused\n");
    EXPECT_EQ(k.logs("vols", "reader"), "shared-data\n65534\n/data\n");
    std::ifstream out(host_rw + "/y");
    std::string text((std::istreambuf_iterator<char>(out)), {});
    EXPECT_EQ(text, "out\n");
    std::string named = k.dir() + "/state/pods/vols/volumes/shared";
    struct stat st;
    EXPECT_EQ(::stat(named.c_str(), &st), 0) << "the named volume lives under the state dir";
    k.client().call("DELETE", "/v1/pods/vols?force=true");
    EXPECT_NE(::stat(named.c_str(), &st), 0) << "and goes with the pod";
    EXPECT_EQ(::stat((host + "/in.txt").c_str(), &st), 0) << "host paths stay";
}

}  // namespace
}  // namespace kiln::testing
