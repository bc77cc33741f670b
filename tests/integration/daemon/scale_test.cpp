// 100 pods created and deleted concurrently, with nothing left behind.
#include <atomic>
#include <thread>

#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(Scale, HundredPodsConcurrently) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    constexpr int kPods = 100, kThreads = 8;
    std::atomic<int> next{0}, created{0}, deleted{0};
    std::vector<std::string> errors;
    std::mutex mu;
    auto worker = [&](bool create) {
        api::Client c(k.socket());
        c.set_timeout(std::chrono::seconds(120));
        for (int i; (i = next++) < kPods;) {
            std::string name = "p" + std::to_string(i);
            auto r = create ? c.request("POST", "/v1/pods", simple_pod(name, {"sleep", "1000"}))
                            : c.request("DELETE", "/v1/pods/" + name + "?force=true");
            if (r.status == (create ? 201 : 204)) {
                (create ? created : deleted)++;
            } else {
                std::lock_guard lock(mu);
                errors.push_back(name + ": " + std::to_string(r.status) + " " + r.body);
            }
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, true);
    for (auto& t : threads) t.join();
    EXPECT_EQ(created, kPods) << (errors.empty() ? "" : errors[0]);
    auto list = k.client().call("GET", "/v1/pods");
    EXPECT_EQ(list.size(), static_cast<std::size_t>(kPods));
    for (const auto& p : list) EXPECT_EQ(p["state"], "running") << p["name"];

    threads.clear();
    next = 0;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, false);
    for (auto& t : threads) t.join();
    EXPECT_EQ(deleted, kPods) << (errors.empty() ? "" : errors[0]);
    EXPECT_EQ(k.client().call("GET", "/v1/pods").size(), 0u);
    for (int i = 0; i < kPods; ++i) expect_nothing_left(k.dir() + "/state", k.cgroup_parent() + "/p" + std::to_string(i));
}

}  // namespace
}  // namespace kiln::testing
