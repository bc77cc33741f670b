// The entry point of kiln_integration_tests, which links GoogleTest without gtest_main.
#include <gtest/gtest.h>

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
