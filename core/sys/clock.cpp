// RFC 3339 timestamps, formatted by hand: strftime would read /etc/localtime for a UTC time.
#include "core/sys/clock.hpp"

#include <cstdio>
#include <ctime>

namespace kiln {

std::string rfc3339_now() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[48];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
    return buf;
}

}  // namespace kiln
