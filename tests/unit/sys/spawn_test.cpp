// run_captured: a program run to its end with its input fed and its output collected.
#include "core/sys/spawn.hpp"

#include <gtest/gtest.h>

#include "core/sys/error.hpp"

namespace kiln {
namespace {

TEST(RunCaptured, ExitCodeAndBothOutputs) {
    Captured c = run_captured({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(c.exit_code, 3);
    EXPECT_EQ(c.out, "out\n");
    EXPECT_EQ(c.err, "err\n");
    EXPECT_EQ(run_captured({"/bin/sh", "-c", "kill -TERM $$"}).exit_code, 128 + 15);
}

TEST(RunCaptured, LargeInputAndOutputAtOnce) {
    // More than a pipe holds either way: the input is fed while the output is drained.
    std::string input(1 << 20, 'x');
    for (size_t i = 0; i < input.size(); i += 4096) input[i] = '\n';
    Captured c = run_captured({"/bin/cat"}, input);
    EXPECT_EQ(c.exit_code, 0);
    EXPECT_EQ(c.out, input);
}

TEST(RunCaptured, OutputBeyondTheLimitIsDroppedNotBlocked) {
    Captured c = run_captured({"/bin/sh", "-c", "head -c 300000 /dev/zero; echo done >&2"}, "", 1000);
    EXPECT_EQ(c.exit_code, 0);
    EXPECT_EQ(c.out.size(), 1000u);
    EXPECT_EQ(c.err, "done\n");
}

TEST(RunCaptured, AProgramThatIgnoresItsInput) {
    // It exits without reading: the write fails with EPIPE instead of killing us with SIGPIPE.
    Captured c = run_captured({"/bin/true"}, std::string(1 << 20, 'x'));
    EXPECT_EQ(c.exit_code, 0);
}

TEST(RunCaptured, PathLookupOnlyWhenAsked) {
    EXPECT_EQ(run_captured({"sh", "-c", "echo found"}, "", 1 << 20, true).out, "found\n");
    EXPECT_THROW(run_captured({"sh", "-c", "true"}), SysError);
    EXPECT_THROW(run_captured({"/nonexistent/program"}), SysError);
}

}  // namespace
}  // namespace kiln
