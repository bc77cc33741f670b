// The entry point of kiln_integration_tests: GoogleTest, plus a final check that the whole run
// left no cgroup of kiln-runtime's default parent behind.
#include <gtest/gtest.h>

#include <filesystem>

namespace {

class NoLeftoverCgroups : public ::testing::Environment {
public:
    void TearDown() override {
        std::error_code ec;
        for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
            auto parent = h.path() / "kiln-runtime";
            if (std::filesystem::exists(parent, ec)) ADD_FAILURE() << "left behind: " << parent;
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new NoLeftoverCgroups);
    return RUN_ALL_TESTS();
}
