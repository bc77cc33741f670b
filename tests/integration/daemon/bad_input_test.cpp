// Bad requests get 400 naming the field, unknown pods 404, clashes 409, and leave nothing.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

void expect_error(api::Client::Result r, int status, const std::string& mentions) {
    EXPECT_EQ(r.status, status) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_TRUE(j.contains("code")) << r.body;
    EXPECT_NE(j.value("message", "").find(mentions), std::string::npos) << r.body;
}

TEST(ApiBadInput, PodBodiesAndNames) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto& c = k.client();
    expect_error(c.request("POST", "/v1/pods", std::string("{not json"), "application/json"), 400, "body");
    json unknown = simple_pod("p1", {"true"});
    unknown["colour"] = "red";
    expect_error(c.request("POST", "/v1/pods", unknown), 400, "colour");
    json wrong_type = simple_pod("p2", {"true"});
    wrong_type["containers"][0]["tty"] = "yes";
    expect_error(c.request("POST", "/v1/pods", wrong_type), 400, "containers[0].tty");
    expect_error(c.request("POST", "/v1/pods", simple_pod("Bad_Name", {"true"})), 400, "name");
    json no_image = simple_pod("p3", {"true"});
    no_image["containers"][0]["image"] = "nosuchimage";
    expect_error(c.request("POST", "/v1/pods", no_image), 400, "containers[0].image");
    json bad_cmd = simple_pod("p4", {"/no/such/binary"});
    auto r = c.request("POST", "/v1/pods", bad_cmd);
    EXPECT_GE(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("/no/such/binary"), std::string::npos) << r.body;
    EXPECT_EQ(c.request("GET", "/v1/pods/p4").status, 404) << "a pod that cannot start is not kept";

    c.call("POST", "/v1/pods", simple_pod("dup", {"sleep", "100"}));
    expect_error(c.request("POST", "/v1/pods", simple_pod("dup", {"true"})), 409, "dup");
    expect_error(c.request("GET", "/v1/pods/nope"), 404, "nope");
    expect_error(c.request("POST", "/v1/pods/nope/stop"), 404, "nope");
    expect_error(c.request("POST", "/v1/pods/dup/stop?timeout=soon"), 400, "timeout");
    expect_error(c.request("GET", "/v1/pods/dup/containers/zzz/logs"), 404, "zzz");
    expect_error(c.request("PUT", "/v1/pods"), 405, "");
    expect_error(c.request("GET", "/v1/nothing"), 404, "");
    std::string huge(2 << 20, 'x');
    auto big = c.request("POST", "/v1/pods", "{\"name\":\"" + huge + "\"}", "application/json");
    EXPECT_EQ(big.status, 413);
    auto list = c.call("GET", "/v1/pods");
    EXPECT_EQ(list.size(), 1u) << list.dump();
}

TEST(ApiBadInput, ImageImport) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    auto& c = k.client();
    expect_error(c.request("POST", "/v1/images/import", json{{"path", "relative"}, {"tag", "x"}}), 400, "path");
    expect_error(c.request("POST", "/v1/images/import", json{{"path", "/nonexistent"}, {"tag", "x"}}), 404, "/nonexistent");
    expect_error(c.request("GET", "/v1/images/nothing"), 404, "nothing");
    k.import_busybox();
    c.call("POST", "/v1/pods", simple_pod("user", {"sleep", "100"}));
    expect_error(c.request("DELETE", "/v1/images/busybox"), 412, "user");
    EXPECT_EQ(c.call("GET", "/v1/images").size(), 1u);
}

}  // namespace
}  // namespace kiln::testing
