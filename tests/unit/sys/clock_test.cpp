// RFC 3339 timestamps against glibc's gmtime_r and strftime.
#include "core/sys/clock.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

namespace kiln {
namespace {

std::string expected(const struct timespec& ts) {
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char date[32], out[48];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, sizeof out, "%s.%09ldZ", date, ts.tv_nsec);
    return out;
}

TEST(Clock, Rfc3339AsGmtime) {
    for (time_t t : {time_t{0}, time_t{951782400} /* 2000-02-29 */, time_t{1709251199}, time_t{1798761599},
                     time_t{4102444800} /* 2100-01-01 */, time_t{86399}, time_t{1234567890}}) {
        struct timespec ts = {t, 123456789};
        EXPECT_EQ(rfc3339(ts), expected(ts)) << t;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    EXPECT_EQ(rfc3339(now), expected(now));
    EXPECT_EQ(rfc3339({0, 5}), "1970-01-01T00:00:00.000000005Z");
}

}  // namespace
}  // namespace kiln
