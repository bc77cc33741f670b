// RFC 3339 timestamps, formatted by hand from the C++ calendar: glibc's gmtime_r and strftime
// read /etc/localtime the first time, even for a UTC time.
#include "core/sys/clock.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace kiln {

std::string rfc3339_now() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return rfc3339(ts);
}

std::string rfc3339(const struct timespec& ts) {
    using namespace std::chrono;
    sys_seconds t{seconds{ts.tv_sec}};
    sys_days day = floor<days>(t);
    year_month_day ymd{day};
    hh_mm_ss<seconds> time{t - day};
    char buf[48];
    snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%09ldZ", static_cast<int>(ymd.year()),
             static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
             static_cast<long>(time.hours().count()), static_cast<long>(time.minutes().count()),
             static_cast<long>(time.seconds().count()), ts.tv_nsec);
    return buf;
}

}  // namespace kiln
