// The entry point of kiln_integration_tests: GoogleTest, plus a final check that the run left no
// cgroup of a test container (their ids start with "kt-") behind.
#include <gtest/gtest.h>

#include <filesystem>

namespace {

class NoLeftoverCgroups : public ::testing::Environment {
public:
    void TearDown() override {
        namespace fs = std::filesystem;
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator("/sys/fs/cgroup", fs::directory_options::skip_permission_denied, ec);
             it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (ec) break;
            if (it.depth() > 3) it.disable_recursion_pending();
            if (it->is_directory(ec) && it->path().filename().string().rfind("kt-", 0) == 0)
                ADD_FAILURE() << "left behind: " << it->path();
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new NoLeftoverCgroups);
    return RUN_ALL_TESTS();
}
