// Wall-clock time as RFC 3339 text (UTC, nanoseconds), for records and log lines.
#pragma once

#include <ctime>
#include <string>

namespace kiln {

std::string rfc3339_now();
std::string rfc3339(const struct timespec& ts);

}  // namespace kiln
