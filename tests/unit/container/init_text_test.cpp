// kiln-init's own vsnprintf and strtol (init_text.c) against glibc's.
#include "core/container/init_text.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct Both {
    std::string kiln;
    std::string glibc;
    int kiln_n;
    int glibc_n;
};

Both format(size_t cap, const char* fmt, ...) {
    char a[256], b[256];
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    Both r;
    r.kiln_n = kiln_vformat(a, cap, fmt, ap);
    r.glibc_n = vsnprintf(b, cap, fmt, aq);
    va_end(aq);
    va_end(ap);
    r.kiln = cap ? a : "";
    r.glibc = cap ? b : "";
    return r;
}

#define EXPECT_SAME(cap, ...)                                   \
    do {                                                        \
        Both r = format(cap, __VA_ARGS__);                      \
        EXPECT_EQ(r.kiln, r.glibc) << #__VA_ARGS__;             \
        EXPECT_EQ(r.kiln_n, r.glibc_n) << #__VA_ARGS__;         \
    } while (0)

TEST(InitText, FormatsWhatInitWrites) {
    EXPECT_SAME(256, "process.rlimits[%zu]: setrlimit %s soft=%llu hard=%llu", size_t{3}, "RLIMIT_NOFILE",
                18446744073709551615ULL, 0ULL);
    EXPECT_SAME(256, "capset effective=0x%llx permitted=0x%llx", 0x20000420ULL, 0xffffffffffULL);
    EXPECT_SAME(256, "linux.personality: personality 0x%lx", 0x8UL);
    EXPECT_SAME(256, "setns 0x%x %d %u", 0x7e020000u, -2147483647 - 1, 4294967295u);
    EXPECT_SAME(256, "exec: \"%.*s/%s\"", 4, "/usr/binaries", "sh");
    EXPECT_SAME(256, "%s", "");
    EXPECT_SAME(256, "100%% %c", 'x');
}

TEST(InitText, FlagsWidthAndPrecision) {
    EXPECT_SAME(256, "[%5d] [%-5d] [%05d] [%+d] [% d] [%.3d] [%8.3d] [%-8.3x]", 42, 42, -42, 7, 7, 5, -5, 255u);
    EXPECT_SAME(256, "[%#x] [%#X] [%#o] [%o] [%X]", 255u, 255u, 8u, 8u, 0xabcdefu);
    EXPECT_SAME(256, "[%*d] [%-*d] [%.*s] [%10s] [%-10s|]", 6, 1, 6, 1, 2, "abcdef", "hi", "hi");
    EXPECT_SAME(256, "[%.0d] [%.0x] [%d] [%x] [%#x] [%#o] [%#.0o] [%#5x]", 0, 0u, 0, 0u, 0u, 0u, 0u, 0u);
    EXPECT_SAME(256, "[%#o] [%#.4o] [%#08x] [%-#8x|] [%08.3d] [%-05d|] [%#.3x]", 8u, 8u, 255u, 255u, 7, -3, 1u);
    EXPECT_SAME(256, "[%hhd] [%hd] [%hhu] [%hu]", 300, 70000, 300u, 70000u);
    EXPECT_SAME(256, "[%ld] [%lld] [%zd] [%ju] [%td]", LONG_MIN, LLONG_MIN, ssize_t{-1}, uintmax_t{UINTMAX_MAX},
                ptrdiff_t{-9});
    EXPECT_SAME(256, "[%p] [%p] [%p]", nullptr, reinterpret_cast<void*>(0x1234), reinterpret_cast<void*>(0xdeadbeefUL));
}

TEST(InitText, TruncatesAndCountsLikeSnprintf) {
    EXPECT_SAME(8, "abcdefghijklmnop %d", 12345);
    EXPECT_SAME(1, "abc");
    EXPECT_SAME(0, "abc %s", "def");
    EXPECT_SAME(6, "%d", -123456789);
}

void expect_same_strtol(const char* s, int base) {
    char* kiln_end = nullptr;
    char* glibc_end = nullptr;
    int err = 0;
    long k = kiln_strtol(s, &kiln_end, base, &err);
    errno = 0;
    long g = strtol(s, &glibc_end, base);
    EXPECT_EQ(k, g) << s << " base " << base;
    EXPECT_EQ(kiln_end - s, glibc_end - s) << s << " base " << base;
    EXPECT_EQ(err, errno) << s << " base " << base;
}

TEST(InitText, StrtolAsGlibc) {
    for (const char* s : {"0", "42", "-42", "+7", "  13x", "0x1f", "0X1F", "017", "9223372036854775807",
                          "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
                          "99999999999999999999", "", "x", "-", " \t\n5", "08"})
        for (int base : {0, 8, 10, 16}) expect_same_strtol(s, base);
}

}  // namespace
